#!/usr/bin/env bash
# bench/run.sh - the `make bench` harness (see bench/README.md).
#
# Each round runs, one after the other:
#   (a) unetmap pipe: pkt-gen tx (CPU0) -> netmap pipe -> pkt-gen rx (CPU1), 60-B frames
#   (b) spsc_ring: minimal shared-memory SPSC ring of 16-B descriptors (CPU0 -> CPU1)
#   (c) rte_ring_bench: DPDK rte_ring SP/SC, 16-B elements (CPU0 -> CPU1)
#   (d) txsync_cost: one NIOCTXSYNC / NIOCRXSYNC with nothing to do, and getppid()
# then prints min / median / max per row, the ratios of the medians, and writes
# bench/out/results.csv (raw, one line per measurement) and bench/out/bench.png.
#
# Environment:
#   BENCH_RUNS   rounds (default 5)          BENCH_SECS   measured window, s (default 3)
#   BENCH_BATCH  spsc batch / rte_ring bulk (default 32)
#   BENCH_SLOTS  ring slots for (b) and (c) (default 1024, netmap's ring size)
#   BENCH_SYNC_N iterations per sync loop (default 10000000)
#   BENCH_SYNC_SECS  time cap per sync loop, s (default 2)
#   BENCH_DEADLINE  no new round starts after this many seconds (default 270)
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
DEADLINE=${BENCH_DEADLINE:-270}
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

mkdir -p "$OUT" "$OUT/logs" "$BB" || exit 1
TMPD=$(mktemp -d /tmp/unetmap-bench.XXXXXX) || exit 1
CSV=$OUT/results.csv
ROUND_DIR=
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	sleep 0.2
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$ROUND_DIR" ] && rm -rf "$ROUND_DIR"
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

log() { printf '%s\n' "$*" >&2; }

# apt_install PKG...: only as root, only with apt-get; waits for a held dpkg lock
# (bounded) instead of competing with it.
APT_UPDATED=0
apt_install() {
	[ "$(id -u)" = 0 ] || return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	if [ "$APT_UPDATED" = 0 ]; then
		log "bench: apt-get update"
		timeout 300 apt-get -o DPkg::Lock::Timeout=120 -qq update >"$TMPD/apt.log" 2>&1 || true
		APT_UPDATED=1
	fi
	log "bench: apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=120 \
		-qq install -y "$@" >>"$TMPD/apt.log" 2>&1
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

if ! pkg-config --exists libdpdk 2>/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		apt_install libdpdk-dev || log "bench: apt-get install libdpdk-dev failed (see below)"
		pkg-config --exists libdpdk 2>/dev/null || tail -5 "$TMPD/apt.log" >&2
	fi
fi
# shellcheck disable=SC2046 # pkg-config output is a list of words on purpose
if ! pkg-config --exists libdpdk 2>/dev/null; then
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

echo "round,system,value,unit,note" >"$CSV"
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

rm -f "$OUT"/logs/*.log
log "bench: $RUNS rounds, ${SECS}-s windows; slots $SLOTS, batch/bulk $BATCH"
for r in $(seq 1 "$RUNS"); do
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
	rm -rf "$ROUND_DIR"
	ROUND_DIR=
done

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
		printf '%-44s %10.2f %10.2f %10.2f  %-4s (n=%d)\n' "$1" "$4" "$5" "$6" "$3" "$7"
	elif [ -n "${4:-}" ]; then
		printf '%-44s %s\n' "$1" "$4"
	else
		printf '%-44s %s\n' "$1" "no result (see $OUT/logs/)"
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
	printf '%-44s %10s %10s %10s\n' "packet rate" min median max
	row "unetmap pipe, pkt-gen tx->rx, 60-B frames" unetmap_pipe Mpps "$SKIP_PIPE"
	row "same, libc-only pkt-gen under unetmap-run" unetmap_pipe_preload Mpps "$SKIP_PIPE"
	row "SPSC shm ring, 16-B desc, batch $BATCH" spsc_ring Mpps "$SKIP_SPSC"
	row "SPSC shm ring, 16-B desc, batch 512" spsc_ring_b512 Mpps "$SKIP_SPSC"
	row "DPDK rte_ring SP/SC, 16-B elem, bulk $BATCH" rte_ring Mpps "$SKIP_RTE"
	echo "ratio of medians  pipe / spsc_ring: $(ratio unetmap_pipe spsc_ring)"
	echo "ratio of medians  pipe / spsc_ring batch 512 (pkt-gen's batch): $(ratio unetmap_pipe spsc_ring_b512)"
	echo "ratio of medians  pipe / rte_ring:  $(ratio unetmap_pipe rte_ring)"
	echo "ratio of medians  pipe under unetmap-run / linked: $(ratio unetmap_pipe_preload unetmap_pipe)"
	echo "ratio of medians  rte_ring / spsc:  $(ratio rte_ring spsc_ring)"
	printf '%-44s %10s %10s %10s\n' "cost of one call" min median max
	row "NIOCTXSYNC, nothing to send" NIOCTXSYNC ns "$SKIP_SYNC"
	row "NIOCRXSYNC, nothing to receive" NIOCRXSYNC ns "$SKIP_SYNC"
	row "getppid() system call" getppid ns "$SKIP_SYNC"
	echo "ratio of medians  NIOCTXSYNC / getppid: $(ratio NIOCTXSYNC getppid)"
	echo "two-core memory figures are bimodal on this machine: read min and median (bench/README.md)"
	echo "raw results: $CSV"
} | tee "$OUT/summary.txt"

# ---------------------------------------------------------------- plot
if ! command -v gnuplot >/dev/null 2>&1; then
	apt_install gnuplot-nox || true
fi
if command -v gnuplot >/dev/null 2>&1; then
	: >"$TMPD/rate.dat"
	: >"$TMPD/cost.dat"
	for s in unetmap_pipe unetmap_pipe_preload spsc_ring spsc_ring_b512 rte_ring; do
		st=$(stats "$s")
		case $s in
		unetmap_pipe) lbl="unetmap pipe" ;;
		unetmap_pipe_preload) lbl="pipe, unetmap-run" ;;
		spsc_ring) lbl="SPSC ring b32" ;;
		spsc_ring_b512) lbl="SPSC ring b512" ;;
		*) lbl="rte_ring" ;;
		esac
		[ -n "$st" ] && echo "\"$lbl\" $st" >>"$TMPD/rate.dat"
	done
	for s in NIOCTXSYNC NIOCRXSYNC getppid; do
		st=$(stats "$s")
		[ -n "$st" ] && echo "\"$s\" $st" >>"$TMPD/cost.dat"
	done
	term=png
	gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo && term=pngcairo
	{
		echo "set terminal $term noenhanced size 1100,500"
		echo "set output '$OUT/bench.png'"
		echo "set style fill solid 0.6 border -1"
		echo "set boxwidth 0.6"
		echo "set grid ytics"
		echo "set xtics nomirror"
		echo "set key off"
		echo "set multiplot layout 1,2 title 'unetmap bench: median, error bars = min..max over $RUNS rounds (${SECS}-s windows)'"
		if [ -s "$TMPD/rate.dat" ]; then
			echo "set title 'packet rate, two cores (log scale)'"
			echo "set ylabel 'Mpps'"
			echo "set logscale y"
			echo "set xrange [-0.6:*]"
			echo "plot '$TMPD/rate.dat' using 0:3:xtic(1) with boxes lc rgb '#4477aa', \
'' using 0:3:2:4 with yerrorbars lc rgb 'black' pt 7 ps 0.6 lw 2, \
'' using 0:4:(sprintf('%.1f', \$3)) with labels offset 0,1"
			echo "unset logscale y"
		else
			echo "set title 'packet rate: no data'"
			echo "unset tics; set border 0; plot [0:1][0:1] 2 notitle; set tics; set border"
		fi
		if [ -s "$TMPD/cost.dat" ]; then
			echo "set title 'cost of one call with nothing to do'"
			echo "set ylabel 'ns'"
			echo "set yrange [0:*]"
			echo "set xrange [-0.6:*]"
			echo "plot '$TMPD/cost.dat' using 0:3:xtic(1) with boxes lc rgb '#cc6677', \
'' using 0:3:2:4 with yerrorbars lc rgb 'black' pt 7 ps 0.6 lw 2, \
'' using 0:4:(sprintf('%.0f', \$3)) with labels offset 0,1"
		else
			echo "set title 'cost of one call: no data ($SKIP_SYNC)'"
			echo "unset tics; set border 0; plot [0:1][0:1] 2 notitle"
		fi
		echo "unset multiplot"
	} >"$TMPD/plot.gp"
	if gnuplot "$TMPD/plot.gp" 2>"$TMPD/gnuplot.log"; then
		echo "plot: $OUT/bench.png"
	else
		log "bench: gnuplot failed:"
		cat "$TMPD/gnuplot.log" >&2
	fi
else
	log "bench: gnuplot not available, no plot"
fi
exit 0
