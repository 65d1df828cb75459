#!/usr/bin/env bash
# bench/run.sh - the `make bench` harness (see bench/README.md).
#
# Each round runs, one after the other:
#   (a) unetmap pipe: pkt-gen tx (CPU0) -> netmap pipe -> pkt-gen rx (CPU1), 60-B frames,
#       linked with -lunetmap and as libc-only pkt-gen under unetmap-run
#   (b) spsc_ring: minimal shared-memory SPSC ring of 16-B descriptors (CPU0 -> CPU1)
#   (c) rte_ring_bench: DPDK rte_ring SP/SC, 16-B elements (CPU0 -> CPU1)
#   (d) txsync_cost: one NIOCTXSYNC / NIOCRXSYNC with nothing to do, and getppid()
#   (e) VALE: unicast 2 ports (linked, and under unetmap-run), broadcast 1 -> 3 ports,
#       unicast between 2 of N ports with N-2 idle ports open (N from BENCH_VALE_N)
#   (f) DPDK memif: dpdk-testpmd server txonly -> client rxonly (root, hugepages)
#   (g) Linux bridge: AF_PACKET sender -> veth -> br0 -> veth -> TPACKET_V3 receiver,
#       in network namespaces this script creates and deletes (root)
#   (h) VALE TSO: vale_tso sends 64-KB TCPv4 GSO frames from a port with a 10-byte
#       virtio-net header to a port without one (the switch segments them); Gbit/s of
#       TCP payload delivered
#   (i) NIC ports on veth pairs fed by an XDP live-frames generator (xdp_gen), in network
#       namespaces this script creates and deletes (root): pkt-gen rx on netmap:IF (AF_XDP
#       copy mode, and the TPACKET backend) vs a raw libxdp receiver (xsk_rx) and a raw
#       TPACKET_V3 receiver (tpk_rx); a VALE switch with two veths attached (vale-ctl -a)
#       vs a Linux bridge on the same topology
# then prints min / median / max per row, the ratios of the medians, and writes
# bench/out/results.csv (raw, one line per measurement) and bench/out/bench.png.
#
# Environment:
#   BENCH_RUNS   rounds (default 5)          BENCH_SECS   measured window, s (default 3)
#   BENCH_ROWS   groups to run, comma-separated, from pipe,spsc,rte,sync,vale,memif,bridge,
#                tso,nic
#                (default: all of them)
#   BENCH_VALE_N port counts for the VALE N-port rows (default "8 64 254"; N=2 is the
#                unicast row)
#   BENCH_BATCH  spsc batch / rte_ring bulk (default 32)
#   BENCH_SLOTS  ring slots for (b) and (c) (default 1024, netmap's ring size)
#   BENCH_SYNC_N iterations per sync loop (default 10000000)
#   BENCH_SYNC_SECS  time cap per sync loop, s (default 2)
#   BENCH_DEADLINE  no new round starts after this many seconds (default 600)
#   BENCH_REPORT_ONLY=1  run nothing: table and plot again from bench/out/results.csv
#   BUILD        build directory (default build)   CC  compiler (default gcc)
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-3}
BATCH=${BENCH_BATCH:-32}
SLOTS=${BENCH_SLOTS:-1024}
SYNC_N=${BENCH_SYNC_N:-10000000}
SYNC_SECS=${BENCH_SYNC_SECS:-2}
DEADLINE=${BENCH_DEADLINE:-600}
ROWS=${BENCH_ROWS:-pipe,spsc,rte,sync,vale,memif,bridge,tso,nic}
REPORT_ONLY=${BENCH_REPORT_ONLY:-0}
VALE_N=${BENCH_VALE_N:-8 64 254}
CC=${CC:-gcc}
CFLAGS="-O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE"
OUT=bench/out
BB=$BUILD/bench
PKTGEN=$BUILD/bin/pkt-gen
PKTGEN_LIBC=$BUILD/clients/pkt-gen-libc
LIBUNM=$BUILD/lib/libunetmap.so

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
for v in RUNS SECS BATCH SLOTS SYNC_N SYNC_SECS DEADLINE; do
	if ! is_uint "${!v}" || [ "${!v}" -lt 1 ]; then
		echo "bench: $v must be a positive integer (got '${!v}')" >&2
		exit 2
	fi
done
if [ "$RUNS" -gt 50 ] || [ "$SECS" -gt 60 ]; then
	echo "bench: BENCH_RUNS <= 50 and BENCH_SECS <= 60, please" >&2
	exit 2
fi
for g in ${ROWS//,/ }; do
	case $g in
	pipe | spsc | rte | sync | vale | memif | bridge | tso | nic) ;;
	*)
		echo "bench: unknown group '$g' in BENCH_ROWS (pipe,spsc,rte,sync,vale,memif,bridge,tso,nic)" >&2
		exit 2
		;;
	esac
done
for n in $VALE_N; do
	if ! is_uint "$n" || [ "$n" -lt 3 ] || [ "$n" -gt 254 ]; then
		echo "bench: BENCH_VALE_N takes port counts in 3..254 (got '$n')" >&2
		exit 2
	fi
done
want() { case ",$ROWS," in *",$1,"*) return 0 ;; esac; return 1; }
if [ "$REPORT_ONLY" = 1 ]; then
	# table and plot again from the existing bench/out/results.csv, nothing is run
	if [ ! -s bench/out/results.csv ]; then
		echo "bench: BENCH_REPORT_ONLY=1 needs bench/out/results.csv" >&2
		exit 2
	fi
	ROWS=
	RUNS=$(awk -F, 'NR > 1 && $1 > n { n = $1 } END { print n + 0 }' bench/out/results.csv)
fi
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

mkdir -p "$OUT" "$OUT/logs" "$BB" || exit 1
TMPD=$(mktemp -d /tmp/unetmap-bench.XXXXXX) || exit 1
CSV=$OUT/results.csv
ROUND_DIR=
PIDS=()

# state of what (f), (g) and (i) set up, for cleanup
NETNS=()           # network namespaces created by this script
HP_SET=0 HP_OLD=0  # nr_hugepages was changed (and its old value)
HP_MOUNTED=0 HP_MKDIR=0 HP_MNT=
DPDK_PREFIXES=()   # --file-prefix values used by dpdk-testpmd
DPDK_RUNDIR_NEW=0  # /var/run/dpdk did not exist before
[ -d /var/run/dpdk ] || DPDK_RUNDIR_NEW=1

netns_teardown() {
	local ns p
	for ns in "${NETNS[@]}"; do
		# our own processes only: those still running in our namespaces
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	NETNS=()
}

dpdk_files_cleanup() {
	local pf
	for pf in "${DPDK_PREFIXES[@]}"; do
		rm -rf "/var/run/dpdk/$pf"
		[ -n "$HP_MNT" ] && [ "$HP_MOUNTED" = 0 ] && rm -f "$HP_MNT/${pf}map_"*
	done
	DPDK_PREFIXES=()
	[ "$DPDK_RUNDIR_NEW" = 1 ] && rmdir /var/run/dpdk 2>/dev/null
	return 0
}

hugepages_teardown() {
	dpdk_files_cleanup
	if [ "$HP_MOUNTED" = 1 ]; then
		umount "$HP_MNT" 2>/dev/null || log "bench: could not unmount $HP_MNT"
		HP_MOUNTED=0
	fi
	if [ "$HP_MKDIR" = 1 ]; then
		rmdir "$HP_MNT" 2>/dev/null
		HP_MKDIR=0
	fi
	if [ "$HP_SET" = 1 ]; then
		echo "$HP_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null ||
			log "bench: could not restore nr_hugepages to $HP_OLD"
		HP_SET=0
	fi
}

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait_gone "$p" 20 # hugepage files can be unmounted only once their users are gone
	done
	netns_teardown
	hugepages_teardown
	[ -n "$ROUND_DIR" ] && rm -rf "$ROUND_DIR"
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

log() { printf '%s\n' "$*" >&2; }

# run_deps: install what is missing with the project's scripts/deps.sh (full mode), once,
# only as root
DEPS_RAN=0
run_deps() {
	[ "$IS_ROOT" = 1 ] || return 1
	[ "$DEPS_RAN" = 1 ] && return 0
	DEPS_RAN=1
	log "bench: running scripts/deps.sh (missing dependencies)"
	if ! timeout 900 scripts/deps.sh >"$TMPD/deps.log" 2>&1; then
		tail -5 "$TMPD/deps.log" >&2
		return 1
	fi
}

# wait_gone PID TENTHS: wait until PID has exited, at most TENTHS/10 s; 0 if gone
wait_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$i" -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	wait "$1" 2>/dev/null
	return 0
}

# stop PID: SIGINT, up to 3 s to finish (pkt-gen prints its summary), then SIGKILL
stop() {
	kill -INT "$1" 2>/dev/null
	if ! wait_gone "$1" 30; then
		log "bench: pid $1 ignored SIGINT for 3 s, killing it"
		kill -KILL "$1" 2>/dev/null
		wait_gone "$1" 20
	fi
}

# ---------------------------------------------------------------- build
SKIP_PIPE='' SKIP_SPSC='' SKIP_RTE='' SKIP_SYNC=''

log "bench: building into $BB/"
if ! $CC $CFLAGS bench/spsc_ring.c -o "$BB/spsc_ring" 2>"$TMPD/cc_spsc.log"; then
	cat "$TMPD/cc_spsc.log" >&2
	SKIP_SPSC="skipped (build failed)"
fi

if want rte && ! pkg-config --exists libdpdk 2>/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		run_deps || log "bench: scripts/deps.sh failed"
	fi
fi
# shellcheck disable=SC2046 # pkg-config output is a list of words on purpose
if ! want rte; then
	:
elif ! pkg-config --exists libdpdk 2>/dev/null; then
	SKIP_RTE="skipped (libdpdk-dev missing)"
elif ! $CC $CFLAGS $(pkg-config --cflags libdpdk) bench/rte_ring_bench.c -o "$BB/rte_ring_bench" \
	$(pkg-config --libs libdpdk) 2>"$TMPD/cc_rte.log"; then
	cat "$TMPD/cc_rte.log" >&2
	SKIP_RTE="skipped (build failed)"
fi

if [ ! -f "$LIBUNM" ] || [ ! -f include/libnetmap.h ]; then
	SKIP_SYNC="skipped ($LIBUNM missing)"
elif ! $CC $CFLAGS -Iinclude -pthread bench/txsync_cost.c -o "$BB/txsync_cost" \
	-L"$BUILD/lib" -lunetmap -Wl,-rpath,'$ORIGIN/../lib' -pthread -ldl 2>"$TMPD/cc_sync.log"; then
	cat "$TMPD/cc_sync.log" >&2
	SKIP_SYNC="skipped (build failed)"
fi

[ -x "$PKTGEN" ] || SKIP_PIPE="skipped ($PKTGEN missing)"

# (e) VALE: needs pkt-gen and vale_idle (linked with -lunetmap), and a library that
# opens VALE ports (checked by opening one)
SKIP_VALE='' SKIP_VALE_PRELOAD='' SKIP_MEMIF='' SKIP_BRIDGE=''
if want vale; then
	if [ ! -x "$PKTGEN" ]; then
		SKIP_VALE="skipped ($PKTGEN missing)"
	elif [ ! -f "$LIBUNM" ]; then
		SKIP_VALE="skipped ($LIBUNM missing)"
	elif ! $CC $CFLAGS -Iinclude bench/vale_idle.c -o "$BB/vale_idle" \
		-L"$BUILD/lib" -lunetmap -Wl,-rpath,'$ORIGIN/../lib' 2>"$TMPD/cc_vale.log"; then
		cat "$TMPD/cc_vale.log" >&2
		SKIP_VALE="skipped (vale_idle build failed)"
	else
		probe=$(mktemp -d /dev/shm/unetmap-bench.XXXXXX) || exit 1
		UNETMAP_DIR=$probe timeout -k 2 10 "$BB/vale_idle" vale0:probe 1 \
			</dev/null >"$TMPD/vale_probe.log" 2>&1 &
		pp=$!
		PIDS+=("$pp")
		i=0
		while [ "$i" -lt 50 ] && ! grep -q '^ready' "$TMPD/vale_probe.log" && kill -0 "$pp" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		if ! grep -q '^ready' "$TMPD/vale_probe.log"; then
			SKIP_VALE="skipped (cannot open a VALE port: $(head -c 200 "$TMPD/vale_probe.log" | tr '\n' ' '))"
		fi
		stop "$pp"
		PIDS=()
		rm -rf "$probe"
	fi
	[ -x "$PKTGEN_LIBC" ] || SKIP_VALE_PRELOAD="skipped ($PKTGEN_LIBC missing)"
	[ -n "$SKIP_VALE" ] && log "bench: VALE rows $SKIP_VALE"
else
	SKIP_VALE="not run (BENCH_ROWS)"
fi
[ -z "$SKIP_VALE_PRELOAD" ] && SKIP_VALE_PRELOAD=$SKIP_VALE

# (f) DPDK memif: dpdk-testpmd (package dpdk-dev), root for hugepages
if ! want memif; then
	SKIP_MEMIF="not run (BENCH_ROWS)"
elif [ "$IS_ROOT" != 1 ]; then
	SKIP_MEMIF="skipped (needs root: hugepages)"
else
	if ! command -v dpdk-testpmd >/dev/null 2>&1; then
		run_deps || log "bench: scripts/deps.sh failed"
	fi
	if ! command -v dpdk-testpmd >/dev/null 2>&1; then
		SKIP_MEMIF="skipped (dpdk-testpmd missing: Debian package dpdk-dev)"
	elif ! command -v stdbuf >/dev/null 2>&1; then
		SKIP_MEMIF="skipped (stdbuf missing)"
	fi
fi

# (g) Linux bridge: root, iproute2, afp_send + afp_rx
if ! want bridge; then
	SKIP_BRIDGE="not run (BENCH_ROWS)"
elif [ "$IS_ROOT" != 1 ]; then
	SKIP_BRIDGE="skipped (needs root: network namespaces)"
elif ! command -v ip >/dev/null 2>&1 || ! command -v bridge >/dev/null 2>&1; then
	SKIP_BRIDGE="skipped (iproute2 missing)"
elif ! $CC $CFLAGS bench/afp_send.c -o "$BB/afp_send" 2>"$TMPD/cc_afp.log" ||
	! $CC $CFLAGS bench/afp_rx.c -o "$BB/afp_rx" 2>>"$TMPD/cc_afp.log"; then
	cat "$TMPD/cc_afp.log" >&2
	SKIP_BRIDGE="skipped (afp_send/afp_rx build failed)"
fi
# (h) VALE TSO: vale_tso, linked with -lunetmap
SKIP_TSO=''
if ! want tso; then
	SKIP_TSO="not run (BENCH_ROWS)"
elif [ ! -f "$LIBUNM" ]; then
	SKIP_TSO="skipped ($LIBUNM missing)"
elif ! $CC $CFLAGS -Iinclude -pthread bench/vale_tso.c -o "$BB/vale_tso" \
	-L"$BUILD/lib" -lunetmap -Wl,-rpath,'$ORIGIN/../lib' -pthread 2>"$TMPD/cc_tso.log"; then
	cat "$TMPD/cc_tso.log" >&2
	SKIP_TSO="skipped (vale_tso build failed)"
fi
# (i) NIC ports: root, iproute2, ethtool, xdp_gen (-lbpf); each row also needs its own
# receiver (pkt-gen, xsk_rx with -lxdp -lbpf, tpk_rx) and the VALE row vale-ctl
SKIP_NIC='' SKIP_NIC_PKTGEN='' SKIP_NIC_XSK='' SKIP_NIC_TPK='' SKIP_NIC_VALE='' NIC_ANNOUNCE=1
SKIP_NIC_FAR_XDP=
VALECTL=$BUILD/bin/vale-ctl
if ! want nic; then
	SKIP_NIC="not run (BENCH_ROWS)"
elif [ "$IS_ROOT" != 1 ]; then
	SKIP_NIC="skipped (need root)"
elif ! command -v ip >/dev/null 2>&1 || ! command -v bridge >/dev/null 2>&1; then
	SKIP_NIC="skipped (iproute2 missing)"
elif ! command -v ethtool >/dev/null 2>&1; then
	SKIP_NIC="skipped (ethtool missing: veth GRO must be switched on)"
else
	pkg-config --exists libbpf libxdp 2>/dev/null || run_deps || log "bench: scripts/deps.sh failed"
	if ! $CC $CFLAGS bench/xdp_gen.c -o "$BB/xdp_gen" -lbpf 2>"$TMPD/cc_xdpgen.log"; then
		cat "$TMPD/cc_xdpgen.log" >&2
		SKIP_NIC="skipped (xdp_gen build failed: libbpf-dev?)"
	fi
	if ! $CC $CFLAGS bench/xdp_drop.c -o "$BB/xdp_drop" -lbpf 2>"$TMPD/cc_xdpdrop.log"; then
		cat "$TMPD/cc_xdpdrop.log" >&2
		SKIP_NIC_FAR_XDP="skipped (xdp_drop build failed: libbpf-dev?)"
	fi
	if ! $CC $CFLAGS bench/xsk_rx.c -o "$BB/xsk_rx" -lxdp -lbpf 2>"$TMPD/cc_xskrx.log"; then
		cat "$TMPD/cc_xskrx.log" >&2
		SKIP_NIC_XSK="skipped (xsk_rx build failed: libxdp-dev?)"
	fi
	if ! $CC $CFLAGS bench/tpk_rx.c -o "$BB/tpk_rx" 2>"$TMPD/cc_tpkrx.log"; then
		cat "$TMPD/cc_tpkrx.log" >&2
		SKIP_NIC_TPK="skipped (tpk_rx build failed)"
	fi
	# afp_send announces the far peer's MAC to the VALE switch (learning); without it the
	# switch floods, which with two ports reaches the same single port
	if ! $CC $CFLAGS bench/afp_send.c -o "$BB/afp_send" 2>"$TMPD/cc_afp2.log"; then
		cat "$TMPD/cc_afp2.log" >&2
		NIC_ANNOUNCE=0
	fi
	[ -x "$PKTGEN" ] || SKIP_NIC_PKTGEN="skipped ($PKTGEN missing)"
	[ -x "$VALECTL" ] || SKIP_NIC_VALE="skipped ($VALECTL missing)"
fi
want pipe || SKIP_PIPE="not run (BENCH_ROWS)"
want spsc || SKIP_SPSC="not run (BENCH_ROWS)"
want rte || SKIP_RTE="not run (BENCH_ROWS)"
want sync || SKIP_SYNC="not run (BENCH_ROWS)"

[ "$REPORT_ONLY" = 1 ] || echo "round,system,value,unit,note" >"$CSV"
record() { echo "$1,$2,$3,$4,$5" >>"$CSV"; }

# ---------------------------------------------------------------- (a) pipe
# Rate parser for pkt-gen rx output.  Every line that contains "<number> pps",
# "<number> Kpps", "<number> Mpps" (or G/T) and is not the final "Speed:" line
# is a per-interval report; its first such number is the interval's rate.
# Only lines before pkt-gen's "received control-C" line count (after it come
# the partial interval that ends at SIGINT and a last drain interval).
# Leading zero-rate intervals (tx not started yet) are dropped, then the first
# non-zero interval (start-up, partial) is dropped, and so are trailing
# zero-rate intervals; the rate is the mean of the remaining intervals
# (method "intervals").  If none remain, the number after
# "Speed:" in the final summary is used (method "speed").  Prints
# "<Mpps> <method> <intervals used>" or "NA none 0".
parse_pktgen() {
	awk '
	function mpps(s,   m, u, v) {
		if (!match(s, /[0-9]+(\.[0-9]+)?[ ]*[KMGT]?pps/))
			return -1
		m = substr(s, RSTART, RLENGTH)
		sub(/pps$/, "", m)
		u = substr(m, length(m), 1)
		if (u ~ /[KMGT]/)
			m = substr(m, 1, length(m) - 1)
		else
			u = ""
		v = m + 0
		if (u == "")  return v / 1e6
		if (u == "K") return v / 1e3
		if (u == "M") return v
		if (u == "G") return v * 1e3
		return v * 1e6
	}
	/Speed:/ { i = index($0, "Speed:"); v = mpps(substr($0, i + 6)); if (v >= 0) speed = v; next }
	/control-C/ { stopped = 1; next }
	!stopped { v = mpps($0); if (v >= 0) r[n++] = v }
	END {
		k = 0
		while (k < n && r[k] == 0) k++
		k++                         # the first non-zero interval is warm-up
		while (n > k && r[n - 1] == 0) n--   # after the stop
		s = 0; c = 0
		for (; k < n; k++) { s += r[k]; c++ }
		if (c > 0)              printf "%.3f intervals %d\n", s / c, c
		else if (speed != "")   printf "%.3f speed 0\n", speed
		else                    print "NA none 0"
	}' "$1"
}

run_pipe() { # round series command...
	local r=$1 series=$2 rx tx rxlog=$OUT/logs/$2-rx.$1.log txlog=$OUT/logs/$2-tx.$1.log res
	shift 2
	local cmd=("$@")
	UNETMAP_DIR=$ROUND_DIR "${cmd[@]}" -i 'netmap:bpipe}1' -f rx -w 0 -a 1 >"$rxlog" 2>&1 &
	rx=$!
	PIDS+=("$rx")
	sleep 0.3
	UNETMAP_DIR=$ROUND_DIR "${cmd[@]}" -i 'netmap:bpipe{1' -f tx -l 60 -w 0 -a 0 >"$txlog" 2>&1 &
	tx=$!
	PIDS+=("$tx")
	local note=
	# run about SECS+1.5 s more (the first interval is dropped); end early if rx dies
	sleep "$((SECS + 1)).5" &
	local sl=$!
	PIDS+=("$sl")
	wait -n "$sl" "$rx"
	if kill -0 "$sl" 2>/dev/null; then
		kill "$sl" 2>/dev/null
		log "bench: round $r: pipe rx exited early (see $rxlog)"
	fi
	wait "$sl" 2>/dev/null
	if ! kill -0 "$tx" 2>/dev/null; then
		log "bench: round $r: pipe tx exited early (see $txlog)"
		note="; tx exited early"
	fi
	stop "$rx" # receiver first, so its last interval still has traffic
	stop "$tx"
	PIDS=()
	res=$(parse_pktgen "$rxlog")
	set -- $res
	if [ "$1" = NA ]; then
		log "bench: round $r: no rate in pkt-gen rx output; last lines of rx and tx logs:"
		tail -3 "$rxlog" >&2
		tail -3 "$txlog" >&2
		return 1
	fi
	record "$r" "$series" "$1" Mpps "pkt-gen rx $2 ($3)$note"
	log "bench: round $r: $series $1 Mpps ($2, $3 intervals)"
}

run_simple() { # round system label cmd...: the command prints "Mpps <value>"
	local r=$1 sys=$2 label=$3 v
	shift 3
	v=$(timeout -k 2 $((SECS + 8)) "$@" 2>"$OUT/logs/$sys.$r.log" | awk '$1 == "Mpps" { print $2 }')
	if [ -z "$v" ]; then
		log "bench: round $r: $sys failed:"
		tail -3 "$OUT/logs/$sys.$r.log" >&2
		return 1
	fi
	record "$r" "$sys" "$v" Mpps "$label"
	log "bench: round $r: $(printf '%-16s' "$sys") $v Mpps"
}

run_sync() { # round
	local r=$1 out name v
	out=$(UNETMAP_DIR=$ROUND_DIR timeout -k 2 $((3 * SYNC_SECS + 8)) \
		"$BB/txsync_cost" -n "$SYNC_N" -t "$SYNC_SECS" 2>"$OUT/logs/txsync.$r.log")
	for name in NIOCTXSYNC NIOCRXSYNC getppid; do
		v=$(printf '%s\n' "$out" | awk -v n="$name" '$1 == n && $2 == "ns" { print $3 }')
		if [ -n "$v" ]; then
			record "$r" "$name" "$v" ns "nothing to do"
		else
			log "bench: round $r: no $name figure"
		fi
	done
	[ -n "$out" ] || tail -3 "$OUT/logs/txsync.$r.log" >&2
	log "bench: round $r: sync costs     $(printf '%s' "$out" | tr '\n' ' ')"
}

# wait_line FILE REGEX TENTHS [PID]: wait until FILE has a line matching REGEX (grep -E),
# at most TENTHS/10 s, or until PID (if given) has exited; 0 if the line is there
wait_line() {
	local i=0
	while ! grep -qE -- "$2" "$1" 2>/dev/null; do
		[ "$i" -ge "$3" ] && return 1
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -qE -- "$2" "$1" 2>/dev/null
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# window RXPID...: let traffic run about SECS+1.5 s (pkt-gen's first interval is
# dropped); ends early if a receiver dies.  0 if all receivers lived.
window() {
	local sl rc=0 p
	sleep "$((SECS + 1)).5" &
	sl=$!
	PIDS+=("$sl")
	wait -n "$sl" "$@"
	if kill -0 "$sl" 2>/dev/null; then
		kill "$sl" 2>/dev/null
		rc=1
	fi
	wait "$sl" 2>/dev/null
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || rc=1
	done
	return $rc
}

# rx_result ROUND SERIES RXLOG TXLOG NOTE: parse a pkt-gen rx log, record the rate;
# prints the rate on stdout (nothing on failure)
rx_result() {
	local res
	res=$(parse_pktgen "$3")
	set -- "$1" "$2" "$3" "$4" "$5" $res
	if [ "$6" = NA ]; then
		log "bench: round $1: $2: no rate in pkt-gen rx output; last lines of rx and tx logs:"
		tail -3 "$3" >&2
		tail -3 "$4" >&2
		return 1
	fi
	record "$1" "$2" "$6" Mpps "pkt-gen rx $7 ($8)$5"
	echo "$6"
}

# ---------------------------------------------------------------- (e) VALE
# Frames go from port a (source MAC TX_MAC) to port b (RX_MAC).  Before the sender
# starts, `vale_idle -1` sends one frame from RX_MAC on port b (through its TX rings,
# while pkt-gen rx holds the port), so the switch has learned where RX_MAC is and the
# unicast traffic is forwarded to b alone, not flooded.
TX_MAC=02:00:00:00:00:0a
RX_MAC=02:00:00:00:00:0b

# vale_counters SWITCH LOG: the switch's port counters (vale_idle -s, taken while the
# traffic runs) into LOG; prints a CSV note fragment: the share of the frames port a
# sent that the switch dropped because the destination ring was full (summed over
# the destinations: up to 300 % for broadcast to 3), and how many frames the idle
# ports received (the announcement only, one each, when learning works)
vale_counters() {
	UNETMAP_DIR=$ROUND_DIR timeout -k 1 5 "$BB/vale_idle" -s "$1" >"$2" 2>&1 || return 0
	awk -v a="$1:a" '
		$1 == "port" && $2 == a && $6 > 0 { printf " / sender drop_full %.1f %% of frames sent", 100 * $8 / $6 }
		$1 == "idle_ports" && $2 > 0 { printf " / %d idle ports received %d frames", $2, $4 }' "$2"
}

# stop_all PID...: SIGINT to all, then wait for each (bounded, SIGKILL after 3 s)
stop_all() {
	local p
	for p in "$@"; do
		kill -INT "$p" 2>/dev/null
	done
	for p in "$@"; do
		stop "$p"
	done
}

# run_vale_uni ROUND SERIES SWITCH NIDLE COMMAND...: unicast a -> b on SWITCH with
# NIDLE more ports open and idle (vale_idle); COMMAND is the pkt-gen to run
run_vale_uni() {
	local r=$1 series=$2 sw=$3 nidle=$4
	shift 4
	local cmd=("$@") rx tx ip='' note="; $((nidle + 2)) ports"
	local rxlog=$OUT/logs/$series-rx.$r.log txlog=$OUT/logs/$series-tx.$r.log
	local idlelog=$OUT/logs/$series-idle.$r.log
	if [ "$nidle" -gt 0 ]; then
		UNETMAP_DIR=$ROUND_DIR "$BB/vale_idle" "$sw:i" "$nidle" </dev/null >"$idlelog" 2>&1 &
		ip=$!
		PIDS+=("$ip")
		if ! wait_line "$idlelog" '^ready' 600 "$ip"; then
			log "bench: round $r: $series: $nidle idle ports not open after 60 s:"
			tail -3 "$idlelog" >&2
			stop "$ip"
			PIDS=()
			return 1
		fi
	fi
	UNETMAP_DIR=$ROUND_DIR "${cmd[@]}" -i "$sw:b" -f rx -a 1 >"$rxlog" 2>&1 &
	rx=$!
	PIDS+=("$rx")
	wait_line "$rxlog" 'Ready' 50 "$rx" || log "bench: round $r: $series: rx not ready after 5 s"
	# MON=r|z: a monitor of b's RX ring (copy or zero-copy), read by a third pkt-gen;
	# MONNICE: its nice value (a capture tool running beside the pair on 2 cores)
	local mon='' monlog=$OUT/logs/$series-mon.$r.log
	if [ -n "${MON:-}" ]; then
		UNETMAP_DIR=$ROUND_DIR nice -n "${MONNICE:-0}" "${cmd[@]}" -i "$sw:b/$MON" -f rx \
			>"$monlog" 2>&1 &
		mon=$!
		PIDS+=("$mon")
		wait_line "$monlog" 'Ready' 50 "$mon" ||
			log "bench: round $r: $series: monitor reader not ready after 5 s"
	fi
	local anlog=$OUT/logs/$series-announce.$r.log
	if ! UNETMAP_DIR=$ROUND_DIR timeout -k 1 5 "$BB/vale_idle" -1 "$sw:b" "$RX_MAC" >"$anlog" 2>&1; then
		note="$note; rx MAC not announced (traffic flooded)"
		log "bench: round $r: $series: could not announce $RX_MAC on $sw:b: $(tail -1 "$anlog")"
	fi
	UNETMAP_DIR=$ROUND_DIR "${cmd[@]}" -i "$sw:a" -f tx -l 60 -a 0 -S "$TX_MAC" -D "$RX_MAC" \
		>"$txlog" 2>&1 &
	tx=$!
	PIDS+=("$tx")
	window "$rx" || log "bench: round $r: $series: rx exited early (see $rxlog)"
	if ! kill -0 "$tx" 2>/dev/null; then
		log "bench: round $r: $series: tx exited early (see $txlog)"
		note="$note; tx exited early"
	fi
	note="$note$(vale_counters "$sw" "$OUT/logs/$series-stats.$r.log")"
	if [ -n "$mon" ]; then
		# first: a monitor whose parent left answers EIO
		stop "$mon"
		note="$note; monitor $sw:b/$MON read $(awk '/^Speed:/ { print $2, $3 }' "$monlog")"
	fi
	stop "$rx"
	stop "$tx"
	[ -n "$ip" ] && stop "$ip"
	PIDS=()
	local v
	v=$(rx_result "$r" "$series" "$rxlog" "$txlog" "$note") || return 1
	log "bench: round $r: $(printf '%-20s' "$series") $v Mpps"
}

# run_vale_bcast ROUND: one pkt-gen tx on vale2:a to ff:ff:ff:ff:ff:ff, three pkt-gen rx
# on vale2:b, vale2:c, vale2:d (all three on CPU1); records each receiver and the sum
run_vale_bcast() {
	local r=$1 sw=vale2 p rxs=() tx txlog=$OUT/logs/vale_bcast-tx.$1.log v sum=0 n=0 vals=''
	for p in b c d; do
		UNETMAP_DIR=$ROUND_DIR "$PKTGEN" -i "$sw:$p" -f rx -a 1 >"$OUT/logs/vale_bcast-rx$p.$r.log" 2>&1 &
		rxs+=("$!")
		PIDS+=("$!")
	done
	for p in b c d; do
		wait_line "$OUT/logs/vale_bcast-rx$p.$r.log" 'Ready' 50 ||
			log "bench: round $r: vale_bcast: rx $p not ready after 5 s"
	done
	UNETMAP_DIR=$ROUND_DIR "$PKTGEN" -i "$sw:a" -f tx -l 60 -a 0 -S "$TX_MAC" \
		-D ff:ff:ff:ff:ff:ff >"$txlog" 2>&1 &
	tx=$!
	PIDS+=("$tx")
	window "${rxs[@]}" || log "bench: round $r: vale_bcast: a receiver exited early"
	kill -0 "$tx" 2>/dev/null || log "bench: round $r: vale_bcast: tx exited early (see $txlog)"
	local note
	note=$(vale_counters "$sw" "$OUT/logs/vale_bcast-stats.$r.log")
	stop_all "${rxs[@]}"
	stop "$tx"
	PIDS=()
	for p in b c d; do
		v=$(rx_result "$r" vale_bcast_rx "$OUT/logs/vale_bcast-rx$p.$r.log" "$txlog" "; receiver $p of 3$note") ||
			continue
		sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { printf "%.3f", a + b }')
		n=$((n + 1))
		vals="$vals $v"
	done
	if [ "$n" = 3 ]; then
		record "$r" vale_bcast_agg "$sum" Mpps "sum of the 3 receivers$note"
		log "bench: round $r: vale_bcast           per receiver$vals Mpps, aggregate $sum Mpps"
	else
		log "bench: round $r: vale_bcast: only $n of 3 receivers gave a rate, no aggregate"
	fi
}

# ---------------------------------------------------------------- (f) DPDK memif
MEMIF_PAGES=512 # 2-MiB pages: two testpmd processes with -m 512 each

hugepages_setup() { # 0 if MEMIF_PAGES free 2-MiB pages are mounted; records what it changed
	local total free sz
	sz=$(awk '/^Hugepagesize:/ { print $2 }' /proc/meminfo)
	if [ "$sz" != 2048 ]; then
		SKIP_MEMIF="skipped (default hugepage size is ${sz:-?} kB, not 2048)"
		return 1
	fi
	total=$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	if [ "$free" -lt "$MEMIF_PAGES" ]; then
		HP_OLD=$total
		HP_SET=1
		echo $((total + MEMIF_PAGES - free)) >/proc/sys/vm/nr_hugepages 2>/dev/null
		free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
		if [ "$free" -lt "$MEMIF_PAGES" ]; then
			SKIP_MEMIF="skipped (could reserve only $free of $MEMIF_PAGES hugepages)"
			hugepages_teardown
			return 1
		fi
	fi
	HP_MNT=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts)
	if [ -z "$HP_MNT" ]; then
		HP_MNT=/dev/hugepages
		if [ ! -d "$HP_MNT" ]; then
			mkdir -p "$HP_MNT" && HP_MKDIR=1
		fi
		if ! mount -t hugetlbfs nodev "$HP_MNT"; then
			SKIP_MEMIF="skipped (cannot mount hugetlbfs on $HP_MNT)"
			hugepages_teardown
			return 1
		fi
		HP_MOUNTED=1
	fi
	log "bench: memif: $MEMIF_PAGES hugepages on $HP_MNT (nr_hugepages was $total$([ "$HP_SET" = 1 ] && echo ", raised"))"
}

# testpmd COMMAND-FD LOG ARGS...: starts dpdk-testpmd reading commands from the FIFO
# behind COMMAND-FD; sets TP_PID
testpmd() {
	local fifo=$1 tlog=$2
	shift 2
	stdbuf -oL dpdk-testpmd "$@" <"$fifo" >"$tlog" 2>&1 &
	TP_PID=$!
	PIDS+=("$TP_PID")
}

# run_memif ROUND: §1b of shared/reference/peer-baselines.md: server txonly (forwarding
# lcore on CPU1), client rxonly (forwarding lcore on CPU0); figure = client Rx-pps over
# SECS seconds between two "show port stats all", after 1 s of traffic
run_memif() {
	local r=$1 d=$TMPD/memif.$1 sfd cfd spid cpid v
	local slog=$OUT/logs/memif-server.$r.log clog=$OUT/logs/memif-client.$r.log
	local ps=unm-ms-$$-$r pc=unm-mc-$$-$r
	local common=(--no-pci -m 512 --log-level=lib.eal:error)
	local tpargs=(-- -i --nb-cores=1 --txpkts=60 --burst=32 --rxd=1024 --txd=1024)
	mkdir -p "$d" && mkfifo "$d/s.in" "$d/c.in" || return 1
	exec {sfd}<>"$d/s.in" {cfd}<>"$d/c.in"
	DPDK_PREFIXES+=("$ps" "$pc")
	testpmd "$d/s.in" "$slog" --lcores '0@0,1@1' --file-prefix "$ps" "${common[@]}" \
		"--vdev=net_memif0,role=server,socket=$d/memif.sock,id=0" "${tpargs[@]}" --forward-mode=txonly
	spid=$TP_PID
	if wait_line "$slog" 'testpmd> ' 300 "$spid"; then
		testpmd "$d/c.in" "$clog" --lcores '0@1,1@0' --file-prefix "$pc" "${common[@]}" \
			"--vdev=net_memif0,role=client,socket=$d/memif.sock,id=0" "${tpargs[@]}" --forward-mode=rxonly
		cpid=$TP_PID
		if wait_line "$clog" 'testpmd> ' 300 "$cpid"; then
			echo start >&"$sfd"
			echo start >&"$cfd"
			sleep 1
			echo "show port stats all" >&"$cfd"
			sleep "$SECS"
			echo "show port stats all" >&"$cfd"
			local i=0
			while [ "$(grep -c 'Rx-pps:' "$clog")" -lt 2 ] && [ "$i" -lt 50 ]; do
				sleep 0.1
				i=$((i + 1))
			done
		else
			log "bench: round $r: memif client did not start (see $clog)"
		fi
		# the client leaves first: the memif PMD can crash when its peer goes away
		printf 'stop\nquit\n' >&"$cfd"
		stop_after "$cpid" 100
	else
		log "bench: round $r: memif server did not start (see $slog)"
	fi
	printf 'stop\nquit\n' >&"$sfd"
	stop_after "$spid" 100
	grep -q 'Bye' "$slog" ||
		log "bench: round $r: memif server did not exit cleanly (known memif PMD crash at teardown, peer-baselines 1b; the figure was taken before)"
	exec {sfd}>&- {cfd}>&-
	PIDS=()
	dpdk_files_cleanup
	v=$(awk '/Rx-pps:/ { n++; v = $2 } END { if (n >= 2) printf "%.3f", v / 1e6 }' "$clog" 2>/dev/null)
	if [ -z "$v" ]; then
		log "bench: round $r: memif: no Rx-pps figure; last lines of the client log:"
		tail -5 "$clog" >&2
		return 1
	fi
	record "$r" memif "$v" Mpps "testpmd client Rx-pps over ${SECS} s"
	log "bench: round $r: memif                $v Mpps"
}

# stop_after PID TENTHS: wait for PID to exit by itself, then SIGINT, then SIGKILL
stop_after() {
	[ -n "${1:-}" ] || return 0
	wait_gone "$1" "$2" && return 0
	log "bench: pid $1 still running after $(($2 / 10)) s, stopping it"
	stop "$1"
}

# ---------------------------------------------------------------- (h) VALE TSO
# run_tso ROUND: vale_tso (sender thread on CPU0, receiver on CPU1), SECS s measured
run_tso() {
	local r=$1 out v mpps drop
	out=$(UNETMAP_DIR=$ROUND_DIR timeout -k 2 $((SECS + 25)) "$BB/vale_tso" -t "$SECS" -p 0 -c 1 \
		2>"$OUT/logs/vale_tso.$r.log")
	v=$(printf '%s\n' "$out" | awk '$1 == "Gbps" { print $2 }')
	mpps=$(printf '%s\n' "$out" | awk '$1 == "Mpps" { print $2 }')
	drop=$(printf '%s\n' "$out" | awk '$1 == "drop_full" { print $2 }')
	if [ -z "$v" ]; then
		log "bench: round $r: vale_tso failed:"
		tail -3 "$OUT/logs/vale_tso.$r.log" >&2
		return 1
	fi
	record "$r" vale_tso "$v" Gbps "64-KB TCPv4 GSO hdr 10 -> plain port; $mpps Mpps segments; drop_full $drop %"
	log "bench: round $r: vale_tso             $v Gbit/s TCP payload ($mpps Mpps segments)"
}

# ---------------------------------------------------------------- (g) Linux bridge
# namespaces: T (sender, a0) -- a1 [br0 in B] b1 -- b0 (receiver, R); no IP addresses,
# IPv6 off, static fdb entry for b0's MAC on b1 (peer-baselines §3)
NS_T=unm-bt-$$ NS_B=unm-bb-$$ NS_R=unm-br-$$ B0_MAC=

bridge_setup() {
	local ns
	for ns in "$NS_T" "$NS_B" "$NS_R"; do
		ip netns add "$ns" || return 1
		NETNS+=("$ns")
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1
	done
	ip link add a0 netns "$NS_T" type veth peer name a1 netns "$NS_B" || return 1
	ip link add b0 netns "$NS_R" type veth peer name b1 netns "$NS_B" || return 1
	ip -n "$NS_B" link add br0 type bridge stp_state 0 forward_delay 0 || return 1
	ip -n "$NS_B" link set a1 master br0 && ip -n "$NS_B" link set b1 master br0 || return 1
	ip -n "$NS_B" link set a1 up && ip -n "$NS_B" link set b1 up && ip -n "$NS_B" link set br0 up || return 1
	ip -n "$NS_T" link set a0 up && ip -n "$NS_R" link set b0 up || return 1
	B0_MAC=$(ip netns exec "$NS_R" cat /sys/class/net/b0/address) || return 1
	bridge -n "$NS_B" fdb add "$B0_MAC" dev b1 master static || return 1
}

# run_bridge ROUND: afp_send (CPU0, batches of 64, to b0's MAC) -> a0 -> br0 -> b0 ->
# afp_rx (CPU1, TPACKET_V3), figure = frames received in SECS s after 1 s
run_bridge() {
	local r=$1 rxlog=$OUT/logs/bridge-rx.$1.log txlog=$OUT/logs/bridge-tx.$1.log rxp v drops
	ip netns exec "$NS_R" taskset -c 1 timeout -k 1 $((SECS + 8)) "$BB/afp_rx" b0 1 "$SECS" \
		>"$rxlog" 2>&1 &
	rxp=$!
	PIDS+=("$rxp")
	sleep 0.3
	ip netns exec "$NS_T" taskset -c 0 timeout -k 1 $((SECS + 8)) "$BB/afp_send" a0 "$((SECS + 2))" 64 \
		"$B0_MAC" >"$txlog" 2>&1
	stop_after "$rxp" 50
	PIDS=()
	v=$(awk '$1 == "Mpps" { print $2 }' "$rxlog")
	drops=$(awk '$1 == "packets" { print $6 }' "$rxlog")
	if [ -z "$v" ]; then
		log "bench: round $r: bridge: no figure; last lines of rx and tx logs:"
		tail -3 "$rxlog" >&2
		tail -3 "$txlog" >&2
		return 1
	fi
	record "$r" bridge "$v" Mpps "TPACKET_V3 rx over ${SECS} s; kernel drops ${drops:-?}"
	log "bench: round $r: bridge               $v Mpps (kernel drops ${drops:-?}; $(cat "$txlog"))"
}

# ---------------------------------------------------------------- (i) NIC ports
# Four namespaces, IPv6 off, no IP addresses, every veth with one RX and one TX queue:
#   unm-nx: va -- vb          xdp_gen on va (CPU0); netmap:vb, xsk_rx, tpk_rx on CPU1
#   unm-na: pa, qa            xdp_gen on pa (VALE row) or qa (bridge row), CPU0
#   unm-ns: sa, sb            attached to switch valex with vale-ctl -a (VALE row)
#           ta, tb            enslaved to br0 (bridge row)
#   unm-nb: pb, qb            the frames that leave the switch/bridge, counted by the
#                             kernel's rx_packets counter of pb / qb
# pa--sa, sb--pb, qa--ta and tb--qb are veth pairs.  vb and ta get `gro on`: a veth
# without an XDP program has no NAPI and drops what xdp_gen sends it.  The peers of the
# switch's and the bridge's ports get `tx off` (issue 7, offload hygiene).
NS_NX=unm-nx-$$ NS_NA=unm-na-$$ NS_NS=unm-ns-$$ NS_NB=unm-nb-$$
NIC_SW=valex
PB_MAC=02:02:02:02:02:02 # afp_send's source MAC: pb announces itself with afp_send
VB_MAC='' QB_MAC=''

# netns_del NS...: kill what runs in these namespaces (only our programs do), delete
# them and forget them (the other namespaces of NETNS are kept)
netns_del() {
	local ns p k keep=()
	for ns in "$@"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for k in "${NETNS[@]}"; do
		case " $* " in
		*" $k "*) ;;
		*) keep+=("$k") ;;
		esac
	done
	NETNS=("${keep[@]}")
}

# veth_pair A NS_A B NS_B: veth pair A (in NS_A) -- B (in NS_B), one queue each way, up
veth_pair() {
	ip link add "$1" netns "$2" numrxqueues 1 numtxqueues 1 type veth \
		peer name "$3" netns "$4" numrxqueues 1 numtxqueues 1 || return 1
	ip -n "$2" link set "$1" up && ip -n "$4" link set "$3" up
}

nic_setup() {
	local ns i
	for ns in "$NS_NX" "$NS_NA" "$NS_NS" "$NS_NB"; do
		ip netns add "$ns" || return 1
		NETNS+=("$ns")
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1
	done
	veth_pair va "$NS_NX" vb "$NS_NX" || return 1
	veth_pair pa "$NS_NA" sa "$NS_NS" && veth_pair sb "$NS_NS" pb "$NS_NB" || return 1
	veth_pair qa "$NS_NA" ta "$NS_NS" && veth_pair tb "$NS_NS" qb "$NS_NB" || return 1
	ip netns exec "$NS_NX" ethtool -K vb gro on >/dev/null || return 1
	ip netns exec "$NS_NS" ethtool -K ta gro on >/dev/null || return 1
	for i in pa qa; do
		ip netns exec "$NS_NA" ethtool -K "$i" tx off >/dev/null || return 1
	done
	for i in pb qb; do
		ip netns exec "$NS_NB" ethtool -K "$i" tx off >/dev/null || return 1
	done
	ip -n "$NS_NB" link set pb address "$PB_MAC" || return 1
	ip -n "$NS_NS" link add br0 type bridge stp_state 0 forward_delay 0 || return 1
	ip -n "$NS_NS" link set ta master br0 && ip -n "$NS_NS" link set tb master br0 &&
		ip -n "$NS_NS" link set br0 up || return 1
	VB_MAC=$(ip netns exec "$NS_NX" cat /sys/class/net/vb/address) || return 1
	QB_MAC=$(ip netns exec "$NS_NB" cat /sys/class/net/qb/address) || return 1
	bridge -n "$NS_NS" fdb add "$QB_MAC" dev tb master static || return 1
	# the generator works on this kernel (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18+)
	ip netns exec "$NS_NX" timeout -k 1 5 "$BB/xdp_gen" va 0.1 >&2 || return 1
}

# nic_quiet NS TENTHS: wait until no process is left in NS (the helper process of a NIC
# session leaves with its last user), at most TENTHS/10 s, then SIGKILL what is left;
# 0 if nothing had to be killed
nic_quiet() {
	local i=0 p left
	while left=$(ip netns pids "$1" 2>/dev/null) && [ -n "$left" ]; do
		if [ "$i" -ge "$2" ]; then
			# shellcheck disable=SC2086 # a list of pids
			log "bench: still running in $1 after $(($2 / 10)) s, killed:" \
				"$(ps -o pid=,comm= -p "$(echo $left | tr ' ' ',')" | tr '\n' ' ')"
			for p in $left; do
				kill -KILL "$p" 2>/dev/null
			done
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# nic_gen NS IF DST_MAC SECONDS LOG: xdp_gen, 60-byte frames to DST_MAC, on CPU0
nic_gen() {
	ip netns exec "$1" taskset -c 0 timeout -k 1 $((SECS + 8)) "$BB/xdp_gen" -d "$3" "$2" "$4" \
		</dev/null >"$5" 2>&1
}

gen_rate() { awk '$1 == "Mpps" { v = $2 } END { print (v == "" ? "?" : v) }' "$1" 2>/dev/null; }

# nic_count NS IF WARMUP SECS: the frames IF received (its rx_packets counter) in SECS s
# after WARMUP s; prints "Mpps <rate>" and "packets <n> seconds <t>"
nic_count() {
	# shellcheck disable=SC2016 # the script is expanded by the inner bash
	ip netns exec "$1" timeout -k 1 $(($4 + 10)) bash -c '
		f=/sys/class/net/$1/statistics/rx_packets
		sleep "$2"
		read -r a <"$f" && t1=$(date +%s%N) || exit 1
		sleep "$3"
		read -r b <"$f" && t2=$(date +%s%N) || exit 1
		awk -v n=$((b - a)) -v ns=$((t2 - t1)) "BEGIN {
			printf \"Mpps %.4f\\npackets %d seconds %.3f\\n\", n / ns * 1e3, n, ns / 1e9 }"' \
		nic_count "$2" "$3" "$4"
}

# run_nic_pktgen ROUND SERIES MODE: pkt-gen -f rx on netmap:vb (rx thread on CPU1) with
# UNETMAP_NIC_MODE=MODE, fed by xdp_gen on va (CPU0); parsed as in the pipe row
run_nic_pktgen() {
	local r=$1 series=$2 mode=$3 rx gen note='' path v
	local rxlog=$OUT/logs/$series-rx.$r.log glog=$OUT/logs/$series-gen.$r.log
	UNETMAP_DIR=$ROUND_DIR UNETMAP_NIC_MODE=$mode ip netns exec "$NS_NX" \
		timeout -k 1 $((SECS + 12)) "$PKTGEN" -i netmap:vb -f rx -w 0 -a 1 </dev/null >"$rxlog" 2>&1 &
	rx=$!
	PIDS+=("$rx")
	if ! wait_line "$rxlog" 'Ready' 50 "$rx"; then
		log "bench: round $r: $series: pkt-gen rx on netmap:vb not ready after 5 s:"
		tail -3 "$rxlog" >&2
		stop "$rx"
		PIDS=()
		nic_quiet "$NS_NX" 30
		return 1
	fi
	nic_gen "$NS_NX" va "$VB_MAC" "$((SECS + 2))" "$glog" &
	gen=$!
	PIDS+=("$gen")
	window "$rx" || log "bench: round $r: $series: rx exited early (see $rxlog)"
	stop "$rx" # before the generator ends, so that its last interval still has traffic
	stop_after "$gen" 30
	PIDS=()
	nic_quiet "$NS_NX" 30 || note="; processes left in the namespace were killed"
	path=$(grep -m1 'NIC data path' "$rxlog" | sed 's/^[^:]*: NIC data path //' | tr ',' ';')
	note="; data path ${path:-not reported}; xdp_gen offered $(gen_rate "$glog") Mpps$note"
	v=$(rx_result "$r" "$series" "$rxlog" "$glog" "$note") || return 1
	log "bench: round $r: $(printf '%-20s' "$series") $v Mpps (data path ${path:-not reported})"
}

# run_nic_raw ROUND SERIES LABEL COMMAND...: a raw receiver on vb (CPU1) that counts for
# SECS s after 1 s and prints "Mpps <rate>" and "packets <n> seconds <t> drops <d>",
# fed by xdp_gen on va (CPU0), which outlasts the receiver's window
run_nic_raw() {
	local r=$1 series=$2 label=$3 rxp v d
	shift 3
	local rxlog=$OUT/logs/$series.$r.log glog=$OUT/logs/$series-gen.$r.log
	ip netns exec "$NS_NX" taskset -c 1 timeout -k 1 $((SECS + 8)) "$@" </dev/null >"$rxlog" 2>&1 &
	rxp=$!
	PIDS+=("$rxp")
	sleep 0.3
	nic_gen "$NS_NX" va "$VB_MAC" "$((SECS + 1)).6" "$glog"
	stop_after "$rxp" 30
	PIDS=()
	nic_quiet "$NS_NX" 20
	v=$(awk '$1 == "Mpps" { print $2 }' "$rxlog")
	d=$(awk '$1 == "packets" { print $6 }' "$rxlog")
	if [ -z "$v" ]; then
		log "bench: round $r: $series: no figure; last lines of the receiver and generator logs:"
		tail -3 "$rxlog" >&2
		tail -3 "$glog" >&2
		return 1
	fi
	record "$r" "$series" "$v" Mpps \
		"$label over ${SECS} s after 1 s; drops ${d:-?}; xdp_gen offered $(gen_rate "$glog") Mpps"
	log "bench: round $r: $(printf '%-20s' "$series") $v Mpps (drops ${d:-?}; xdp_gen $(gen_rate "$glog") Mpps)"
}

# nic_count_result ROUND SERIES COUNTLOG GENLOG NOTE: record what nic_count measured
nic_count_result() {
	local v n
	v=$(awk '$1 == "Mpps" { print $2 }' "$3")
	if [ -z "$v" ]; then
		log "bench: round $1: $2: no figure; last lines of the counter and generator logs:"
		tail -3 "$3" >&2
		tail -3 "$4" >&2
		return 1
	fi
	n=$(awk '$1 == "packets" { print $2 }' "$3")
	record "$1" "$2" "$v" Mpps "far peer rx_packets: $n in ${SECS} s after 1 s; xdp_gen offered $(gen_rate "$4") Mpps$5"
	log "bench: round $1: $(printf '%-20s' "$2") $v Mpps (xdp_gen $(gen_rate "$4") Mpps$5)"
}

# far_prep NS IF FAR / far_done NS IF FAR: the far veth of the VALE and bridge rows.
# FAR=plain: as created (no NAPI: what veth_xmit hands it goes through the backlog);
# gro: `ethtool -K IF gro on` (NAPI, the kernel stack receives); xdp: an XDP program
# dropping every frame (an XDP consumer; NAPI too).  A veth whose peer has no NAPI cannot
# take redirected XDP frames: with plain, the switch's fast path redirects skbs instead.
FAR_PID=''
far_prep() {
	case $3 in
	gro) ip netns exec "$1" ethtool -K "$2" gro on >/dev/null ;;
	xdp)
		ip netns exec "$1" timeout -k 1 $((SECS + 30)) "$BB/xdp_drop" "$2" $((SECS + 25)) \
			</dev/null >"$OUT/logs/xdp_drop.$2.log" 2>&1 &
		FAR_PID=$!
		sleep 0.3
		;;
	esac
}
far_done() {
	case $3 in
	gro) ip netns exec "$1" ethtool -K "$2" gro off >/dev/null ;;
	xdp)
		[ -n "$FAR_PID" ] && kill -TERM "$FAR_PID" 2>/dev/null && wait "$FAR_PID" 2>/dev/null
		FAR_PID=''
		;;
	esac
}
# far_series BASE FAR: the series name of a row (plain: BASE)
far_series() { [ "$2" = plain ] && echo "$1" || echo "${1}_$2"; }

# run_nic_vale ROUND [FAR]: vale-ctl -a valex:sa and valex:sb (run on CPU1, so the helper
# process it starts is there too); pb announces its MAC; xdp_gen on pa (CPU0) ->
# sa -> switch -> sb -> pb, counted by pb's rx_packets; then vale-ctl -d of both.
# When an attach fails the row is skipped for the rest of the run.
run_nic_vale() {
	local r=$1 far=${2:-plain} i gen att=() note='' msg series
	series=$(far_series nic_vale "$far")
	local alog=$OUT/logs/$series-ctl.$r.log clog=$OUT/logs/$series.$r.log
	local glog=$OUT/logs/$series-gen.$r.log
	far_prep "$NS_NB" pb "$far"
	: >"$alog"
	for i in sa sb; do
		echo "# vale-ctl -a $NIC_SW:$i" >>"$alog"
		if ! UNETMAP_DIR=$ROUND_DIR ip netns exec "$NS_NS" taskset -c 1 timeout -k 1 10 \
			"$VALECTL" -a "$NIC_SW:$i" </dev/null >>"$alog" 2>&1; then
			msg=$(grep -v '^#' "$alog" | sed 's/^vale-ctl: //' | grep -v '^$' | tr '\n' ';' |
				sed 's/;$//; s/;/; /g' | head -c 240)
			SKIP_NIC_VALE="skipped (vale-ctl -a of an interface failed: ${msg:-no message})"
			log "bench: round $r: nic_vale: $SKIP_NIC_VALE"
			break
		fi
		att+=("$i")
	done
	if [ -z "$SKIP_NIC_VALE" ]; then
		note="; flooded (the far MAC was not announced)"
		if [ "$NIC_ANNOUNCE" = 1 ]; then
			# a few broadcast frames from pb's MAC: the switch learns it on port sb
			ip netns exec "$NS_NB" timeout -k 1 5 "$BB/afp_send" pb 0.001 1 >/dev/null 2>&1
			sleep 0.2
			if UNETMAP_DIR=$ROUND_DIR timeout -k 1 5 "$VALECTL" -t "$NIC_SW" 2>&1 | grep -qi "$PB_MAC"; then
				note="; unicast (the switch learned $PB_MAC)"
			else
				note="; flooded ($PB_MAC not learned)"
			fi
		fi
		nic_gen "$NS_NA" pa "$PB_MAC" "$((SECS + 1)).6" "$glog" &
		gen=$!
		PIDS+=("$gen")
		nic_count "$NS_NB" pb 1 "$SECS" >"$clog" 2>&1
		UNETMAP_DIR=$ROUND_DIR timeout -k 1 5 "$VALECTL" -s "$NIC_SW" \
			>"$OUT/logs/$series-stats.$r.log" 2>&1
		stop_after "$gen" 30
		PIDS=()
	fi
	for i in "${att[@]}"; do
		echo "# vale-ctl -d $NIC_SW:$i" >>"$alog"
		UNETMAP_DIR=$ROUND_DIR ip netns exec "$NS_NS" timeout -k 1 10 \
			"$VALECTL" -d "$NIC_SW:$i" </dev/null >>"$alog" 2>&1 ||
			log "bench: round $r: nic_vale: vale-ctl -d $NIC_SW:$i failed (see $alog)"
	done
	nic_quiet "$NS_NS" 30 || note="$note; processes left after the detach were killed"
	far_done "$NS_NB" pb "$far"
	[ -z "$SKIP_NIC_VALE" ] || return 1
	nic_count_result "$r" "$series" "$clog" "$glog" "$note; far end $far"
}

# run_nic_bridge ROUND: xdp_gen on qa (CPU0) -> ta -> br0 -> tb -> qb, counted by qb's
# rx_packets (the kernel does all of it in softirq on CPU0)
run_nic_bridge() {
	local r=$1 far=${2:-plain} gen series
	series=$(far_series nic_bridge "$far")
	local clog=$OUT/logs/$series.$1.log glog=$OUT/logs/$series-gen.$1.log
	far_prep "$NS_NB" qb "$far"
	nic_gen "$NS_NA" qa "$QB_MAC" "$((SECS + 1)).6" "$glog" &
	gen=$!
	PIDS+=("$gen")
	nic_count "$NS_NB" qb 1 "$SECS" >"$clog" 2>&1
	stop_after "$gen" 30
	PIDS=()
	far_done "$NS_NB" qb "$far"
	nic_count_result "$r" "$series" "$clog" "$glog" "; far end $far"
}

[ "$REPORT_ONLY" = 1 ] || rm -f "$OUT"/logs/*.log
log "bench: $RUNS rounds, ${SECS}-s windows; slots $SLOTS, batch/bulk $BATCH; rows $ROWS"
if [ -z "$SKIP_MEMIF" ]; then
	hugepages_setup || log "bench: memif row $SKIP_MEMIF"
fi
if [ -z "$SKIP_BRIDGE" ] && ! bridge_setup; then
	SKIP_BRIDGE="skipped (network namespace / bridge setup failed)"
	log "bench: bridge row $SKIP_BRIDGE"
	netns_teardown
fi
if [ -z "$SKIP_NIC" ] && ! nic_setup 2>"$TMPD/nic_setup.log"; then
	SKIP_NIC="skipped (network namespace / veth setup failed: $(tail -1 "$TMPD/nic_setup.log" | head -c 200))"
	log "bench: NIC rows $SKIP_NIC"
	netns_del "$NS_NX" "$NS_NA" "$NS_NS" "$NS_NB"
fi
[ "$REPORT_ONLY" = 1 ] && RUNS_TO_DO=0 || RUNS_TO_DO=$RUNS
for r in $(seq 1 "$RUNS_TO_DO"); do
	if [ "$SECONDS" -ge "$DEADLINE" ]; then
		log "bench: ${SECONDS} s elapsed (BENCH_DEADLINE=$DEADLINE): stopping after $((r - 1)) rounds"
		break
	fi
	ROUND_DIR=$(mktemp -d /dev/shm/unetmap-bench.XXXXXX) || exit 1
	[ -z "$SKIP_PIPE" ] && run_pipe "$r" unetmap_pipe "$PKTGEN"
	# the same, as an unmodified program: libc-only pkt-gen under unetmap-run
	[ -z "$SKIP_PIPE" ] && [ -x "$PKTGEN_LIBC" ] &&
		run_pipe "$r" unetmap_pipe_preload "$BUILD/bin/unetmap-run" "$PKTGEN_LIBC"
	[ -z "$SKIP_SPSC" ] && run_simple "$r" spsc_ring "16-B desc slots $SLOTS batch $BATCH" \
		"$BB/spsc_ring" -n "$SLOTS" -b "$BATCH" -t "$SECS" -p 0 -c 1
	# the same ring with pkt-gen's batch (512): the like-for-like reference
	[ -z "$SKIP_SPSC" ] && run_simple "$r" spsc_ring_b512 "16-B desc slots $SLOTS batch 512" \
		"$BB/spsc_ring" -n "$SLOTS" -b 512 -t "$SECS" -p 0 -c 1
	[ -z "$SKIP_RTE" ] && run_simple "$r" rte_ring "16-B elem slots $SLOTS bulk $BATCH" \
		"$BB/rte_ring_bench" -n "$SLOTS" -b "$BATCH" -t "$SECS" -p 0 -c 1 \
		-f "unetmap-bench-$$-$r"
	[ -z "$SKIP_SYNC" ] && run_sync "$r"
	if [ -z "$SKIP_VALE" ]; then
		run_vale_uni "$r" vale_uni vale0 0 "$PKTGEN"
		# the same, as an unmodified program: libc-only pkt-gen under unetmap-run
		[ -z "$SKIP_VALE_PRELOAD" ] &&
			run_vale_uni "$r" vale_uni_preload vale1 0 "$BUILD/bin/unetmap-run" "$PKTGEN_LIBC"
		# the unicast row with a monitor of b's RX ring, read by a third process
		MON=r run_vale_uni "$r" vale_uni_copymon vale5 0 "$PKTGEN"
		MON=z run_vale_uni "$r" vale_uni_zmon vale6 0 "$PKTGEN"
		# the same with the monitor's reader at nice 19: what the monitored
		# path costs the pair when the reader does not take their CPU time
		MONNICE=19 MON=r run_vale_uni "$r" vale_uni_copymon_n19 vale5 0 "$PKTGEN"
		MONNICE=19 MON=z run_vale_uni "$r" vale_uni_zmon_n19 vale6 0 "$PKTGEN"
		run_vale_bcast "$r"
		for n in $VALE_N; do
			run_vale_uni "$r" "vale_n$n" "vale$n" $((n - 2)) "$PKTGEN"
		done
	fi
	[ -z "$SKIP_MEMIF" ] && run_memif "$r"
	[ -z "$SKIP_BRIDGE" ] && run_bridge "$r"
	[ -z "$SKIP_TSO" ] && run_tso "$r"
	if [ -z "$SKIP_NIC" ]; then
		[ -z "$SKIP_NIC_PKTGEN" ] && run_nic_pktgen "$r" nic_xdp_copy copy
		[ -z "$SKIP_NIC_XSK" ] &&
			run_nic_raw "$r" nic_xsk_rx "xsk_rx (libxdp; copy)" "$BB/xsk_rx" vb 1 "$SECS" 0 copy
		[ -z "$SKIP_NIC_TPK" ] && run_nic_raw "$r" nic_tpk_rx "tpk_rx (TPACKET_V3)" "$BB/tpk_rx" vb 1 "$SECS"
		[ -z "$SKIP_NIC_PKTGEN" ] && run_nic_pktgen "$r" nic_packet packet
		for far in plain gro xdp; do
			[ "$far" = xdp ] && [ -n "$SKIP_NIC_FAR_XDP" ] && continue
			[ -z "$SKIP_NIC_VALE" ] && run_nic_vale "$r" "$far"
			run_nic_bridge "$r" "$far"
		done
	fi
	rm -rf "$ROUND_DIR"
	ROUND_DIR=
done
netns_teardown
hugepages_teardown

# ---------------------------------------------------------------- report
# stats SYSTEM -> "min median max n" (or nothing)
stats() {
	awk -F, -v s="$1" 'NR > 1 && $2 == s { print $3 }' "$CSV" | sort -g | awk '
		{ v[n++] = $1 }
		END {
			if (n == 0) exit
			med = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
			printf "%g %g %g %d\n", v[0], med, v[n - 1], n
		}'
}

row() { # label system unit skipreason
	local st
	st=$(stats "$2")
	if [ -n "$st" ]; then
		set -- "$1" "$2" "$3" $st
		printf '%-52s %10.2f %10.2f %10.2f  %-4s (n=%d)\n' "$1" "$4" "$5" "$6" "$3" "$7"
	elif [ -n "${4:-}" ]; then
		printf '%-52s %s\n' "$1" "$4"
	else
		printf '%-52s %s\n' "$1" "no result (see $OUT/logs/)"
	fi
}

median() { stats "$1" | awk '{ print $2 }'; }
ratio() { # a b
	local a b
	a=$(median "$1")
	b=$(median "$2")
	if [ -n "$a" ] && [ -n "$b" ]; then
		awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.4f (%.2f %%)", a / b, 100 * a / b; else print "n/a" }'
	else
		echo "n/a"
	fi
}

{
	echo
	echo "unetmap bench: $RUNS rounds, ${SECS}-s windows, producer/tx on CPU0, consumer/rx on CPU1"
	printf '%-52s %10s %10s %10s\n' "packet rate" min median max
	row "unetmap pipe, pkt-gen tx->rx, 60-B frames" unetmap_pipe Mpps "$SKIP_PIPE"
	row "same, libc-only pkt-gen under unetmap-run" unetmap_pipe_preload Mpps "$SKIP_PIPE"
	row "SPSC shm ring, 16-B desc, batch $BATCH" spsc_ring Mpps "$SKIP_SPSC"
	row "SPSC shm ring, 16-B desc, batch 512" spsc_ring_b512 Mpps "$SKIP_SPSC"
	row "DPDK rte_ring SP/SC, 16-B elem, bulk $BATCH" rte_ring Mpps "$SKIP_RTE"
	echo "ratio of medians  pipe / spsc_ring: $(ratio unetmap_pipe spsc_ring)"
	echo "ratio of medians  pipe / spsc_ring batch 512 (pkt-gen's batch): $(ratio unetmap_pipe spsc_ring_b512)"
	echo "ratio of medians  pipe / rte_ring:  $(ratio unetmap_pipe rte_ring)"
	echo "ratio of medians  rte_ring / spsc:  $(ratio rte_ring spsc_ring)"
	printf '%-52s %10s %10s %10s\n' "VALE and peers, 60-B frames" min median max
	row "VALE unicast, 2 ports, pkt-gen tx->rx" vale_uni Mpps "$SKIP_VALE"
	row "same, libc-only pkt-gen under unetmap-run" vale_uni_preload Mpps "$SKIP_VALE_PRELOAD"
	row "VALE unicast + copy monitor b/r (3rd process reads)" vale_uni_copymon Mpps "$SKIP_VALE"
	row "VALE unicast + zero-copy monitor b/z (3rd reads)" vale_uni_zmon Mpps "$SKIP_VALE"
	row "same, copy monitor read at nice 19" vale_uni_copymon_n19 Mpps "$SKIP_VALE"
	row "same, zero-copy monitor read at nice 19" vale_uni_zmon_n19 Mpps "$SKIP_VALE"
	row "VALE broadcast 1->3 ports, per receiver" vale_bcast_rx Mpps "$SKIP_VALE"
	row "VALE broadcast 1->3 ports, sum of 3 receivers" vale_bcast_agg Mpps "$SKIP_VALE"
	row "DPDK memif, testpmd txonly->rxonly (2 procs)" memif Mpps "$SKIP_MEMIF"
	row "Linux bridge, veth->br0->veth, AF_PACKET" bridge Mpps "$SKIP_BRIDGE"
	echo "(VALE: tx on CPU0, rx on CPU1, the 3 broadcast receivers share CPU1; memif: server"
	echo " forwarding lcore on CPU1, client's on CPU0 as in peer-baselines 1b; bridge: sender"
	echo " on CPU0, but the kernel forwards and delivers on the sender's CPU)"
	m=$(median vale_uni)
	echo "VALE unicast median: ${m:-n/a} Mpps (target >= 20)"
	echo "ratio of medians  VALE / memif:  $(ratio vale_uni memif) (target >= 2)"
	echo "ratio of medians  VALE / bridge: $(ratio vale_uni bridge) (target >= 30)"
	echo "ratio of medians  VALE under unetmap-run / linked: $(ratio vale_uni_preload vale_uni) (target >= 0.9)"
	echo "ratio of medians  VALE with copy monitor / without: $(ratio vale_uni_copymon vale_uni) (target >= 0.7)"
	echo "ratio of medians  VALE with zero-copy monitor / without: $(ratio vale_uni_zmon vale_uni) (target >= 0.7)"
	echo "ratio of medians  VALE with copy monitor (reader at nice 19) / without: $(ratio vale_uni_copymon_n19 vale_uni)"
	echo "ratio of medians  VALE with zero-copy monitor (reader at nice 19) / without: $(ratio vale_uni_zmon_n19 vale_uni)"
	echo "ratio of medians  pipe under unetmap-run / linked: $(ratio unetmap_pipe_preload unetmap_pipe) (target >= 0.9)"
	printf '%-52s %10s %10s %10s\n' "VALE unicast a->b, N ports on the switch, N-2 idle" min median max
	row "N=2 (the unicast row)" vale_uni Mpps "$SKIP_VALE"
	for n in $VALE_N; do
		row "N=$n ($((n - 2)) idle ports open)" "vale_n$n" Mpps "$SKIP_VALE"
	done
	for n in $VALE_N; do
		echo "ratio of medians  VALE N=$n / N=2: $(ratio "vale_n$n" vale_uni) (idle ports should cost nothing: ~1)"
	done
	printf '%-52s %10s %10s %10s\n' "VALE offloads (virtio-net header mismatch)" min median max
	row "TSO: 64-KB TCPv4 GSO, hdr 10 -> plain, payload" vale_tso Gbps "$SKIP_TSO"
	printf '%-52s %10s %10s %10s\n' "NIC ports, veth pair, XDP live-frames source" min median max
	row "netmap:IF AF_XDP copy, pkt-gen rx" nic_xdp_copy Mpps "${SKIP_NIC:-$SKIP_NIC_PKTGEN}"
	row "raw libxdp receiver (xsk_rx, copy mode)" nic_xsk_rx Mpps "${SKIP_NIC:-$SKIP_NIC_XSK}"
	row "raw TPACKET_V3 receiver (tpk_rx)" nic_tpk_rx Mpps "${SKIP_NIC:-$SKIP_NIC_TPK}"
	row "netmap:IF TPACKET backend, pkt-gen rx" nic_packet Mpps "${SKIP_NIC:-$SKIP_NIC_PKTGEN}"
	row "VALE, two veths attached; far veth plain" nic_vale Mpps "${SKIP_NIC:-$SKIP_NIC_VALE}"
	row "Linux bridge, same topology; far veth plain" nic_bridge Mpps "$SKIP_NIC"
	row "VALE, two veths; far veth GRO on (NAPI)" nic_vale_gro Mpps "${SKIP_NIC:-$SKIP_NIC_VALE}"
	row "Linux bridge; far veth GRO on (NAPI)" nic_bridge_gro Mpps "$SKIP_NIC"
	row "VALE, two veths; far veth runs XDP (drop)" nic_vale_xdp Mpps \
		"${SKIP_NIC:-${SKIP_NIC_VALE:-$SKIP_NIC_FAR_XDP}}"
	row "Linux bridge; far veth runs XDP (drop)" nic_bridge_xdp Mpps "${SKIP_NIC:-$SKIP_NIC_FAR_XDP}"
	echo "(source: xdp_gen on CPU0, one queue; receivers on CPU1; VALE/bridge rows: frames counted"
	echo " by the far veth's rx_packets, vale-ctl's helper on CPU1, the bridge in softirq on CPU0;"
	echo " the switch's fast path between NIC ports forwards in the kernel: an skb redirect to a"
	echo " plain far veth (no NAPI), XDP_REDIRECT to one with NAPI (GRO on or XDP))"
	echo "ratio of medians  netmap:IF (AF_XDP copy) / raw libxdp receiver (target >= 0.9): $(ratio nic_xdp_copy nic_xsk_rx)"
	echo "ratio of medians  netmap:IF (AF_XDP copy) / raw TPACKET_V3 receiver (target >= 2): $(ratio nic_xdp_copy nic_tpk_rx)"
	echo "ratio of medians  netmap:IF (TPACKET) / raw TPACKET_V3 receiver: $(ratio nic_packet nic_tpk_rx)"
	echo "ratio of medians  VALE switch with two veths attached vs Linux bridge (target >= 3x):"
	echo "                  far veth plain $(ratio nic_vale nic_bridge), GRO on $(ratio nic_vale_gro nic_bridge_gro), XDP $(ratio nic_vale_xdp nic_bridge_xdp)"
	printf '%-52s %10s %10s %10s\n' "cost of one call" min median max
	row "NIOCTXSYNC, nothing to send" NIOCTXSYNC ns "$SKIP_SYNC"
	row "NIOCRXSYNC, nothing to receive" NIOCRXSYNC ns "$SKIP_SYNC"
	row "getppid() system call" getppid ns "$SKIP_SYNC"
	echo "ratio of medians  NIOCTXSYNC / getppid: $(ratio NIOCTXSYNC getppid)"
	echo "two-core memory figures are bimodal on this machine: read min and median (bench/README.md)"
	echo "raw results: $CSV"
} | tee "$OUT/summary.txt"

# ---------------------------------------------------------------- plot
command -v gnuplot >/dev/null 2>&1 || run_deps || true
# bars NAME SERIES:LABEL...: one data file of "label min median max n" lines
bars() {
	local f=$TMPD/$1.dat sl st
	shift
	: >"$f"
	for sl in "$@"; do
		st=$(stats "${sl%%:*}")
		[ -n "$st" ] && echo "\"${sl#*:}\" $st" >>"$f"
	done
}
# panel NAME TITLE YLABEL LOG COLOUR FORMAT: gnuplot commands for one panel
panel() {
	local f=$TMPD/$1.dat
	if [ ! -s "$f" ]; then
		echo "set title '$2: no data'"
		echo "unset logscale y; unset ylabel"
		echo "unset tics; set border 0; plot [0:1][0:1] 2 notitle; set tics; set border"
		return
	fi
	echo "set title '$2'"
	echo "set ylabel '$3'"
	echo "set xtics nomirror rotate by 30 right" # again: a panel without data unset them
	if [ "$4" = log ]; then
		echo "set logscale y; set yrange [*:*]; set offsets 0, 0, 0, 0"
	else
		# room above the highest error bar for its label
		echo "unset logscale y; set yrange [0:*]; set offsets 0, 0, graph 0.12, 0"
	fi
	echo "set xrange [-0.6:*]"
	echo "plot '$f' using 0:3:xtic(1) with boxes lc rgb '$5', \
'' using 0:3:2:4 with yerrorbars lc rgb 'black' pt 7 ps 0.6 lw 2, \
'' using 0:4:(sprintf('$6', \$3)) with labels offset 0,1"
}
if command -v gnuplot >/dev/null 2>&1; then
	bars rate unetmap_pipe:"unetmap pipe" unetmap_pipe_preload:"pipe, unetmap-run" \
		spsc_ring:"SPSC ring b32" spsc_ring_b512:"SPSC ring b512" rte_ring:"rte_ring"
	vale=(vale_uni:"VALE 2 ports" vale_uni_preload:"VALE, unetmap-run"
		vale_bcast_rx:"bcast 1->3, per rx" vale_bcast_agg:"bcast 1->3, sum")
	for n in $VALE_N; do
		vale+=("vale_n$n:VALE N=$n")
	done
	bars vale "${vale[@]}" memif:"DPDK memif" bridge:"Linux bridge"
	bars cost NIOCTXSYNC:NIOCTXSYNC NIOCRXSYNC:NIOCRXSYNC getppid:getppid
	bars nic nic_xdp_copy:"netmap:IF AF_XDP copy" nic_xsk_rx:"raw libxdp (xsk_rx)" \
		nic_tpk_rx:"raw TPACKET_V3" nic_packet:"netmap:IF TPACKET" \
		nic_vale:"VALE, 2 veths" nic_bridge:"Linux bridge, 2 veths" \
		nic_vale_gro:"VALE, far GRO" nic_bridge_gro:"bridge, far GRO" \
		nic_vale_xdp:"VALE, far XDP" nic_bridge_xdp:"bridge, far XDP"
	term=png
	gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo && term=pngcairo
	{
		echo "set terminal $term noenhanced size 2400,560"
		echo "set output '$OUT/bench.png'"
		echo "set style fill solid 0.6 border -1"
		echo "set boxwidth 0.6"
		echo "set grid ytics"
		echo "set xtics nomirror rotate by 30 right"
		echo "set key off"
		echo "set bmargin 7"
		echo "set multiplot layout 1,4 title 'unetmap bench: median, error bars = min..max over $RUNS rounds (${SECS}-s windows)'"
		panel rate "pipe and rings, two cores (log scale)" Mpps log '#4477aa' '%.1f'
		panel vale "VALE and peers, 60-B frames (log scale)" Mpps log '#228833' '%.2f'
		panel nic "NIC ports on veth, 60-B frames" Mpps lin '#ddaa33' '%.2f'
		panel cost "cost of one call with nothing to do" ns lin '#cc6677' '%.0f'
		echo "unset multiplot"
	} >"$TMPD/plot.gp"
	if gnuplot "$TMPD/plot.gp" 2>"$TMPD/gnuplot.log"; then
		echo "plot: $OUT/bench.png"
	else
		cp "$TMPD/plot.gp" "$OUT/logs/plot.gp"
		log "bench: gnuplot failed (script kept in $OUT/logs/plot.gp):"
		cat "$TMPD/gnuplot.log" >&2
	fi
else
	log "bench: gnuplot not available, no plot"
fi
exit 0
