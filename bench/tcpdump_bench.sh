#!/bin/bash
# tcpdump capture rate: Debian's tcpdump on a libpcap built with netmap
# support against unetmap (scripts/libpcap.sh), reading a netmap pipe fed by
# pkt-gen, against the same tcpdump on AF_PACKET reading a veth pair fed by
# an AF_PACKET sender.  60-byte frames, -w /dev/null.
#   bench/tcpdump_bench.sh [RUNS] [SECS]      (as root; appends to CSV if given in $CSV)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
RUNS=${1:-3}
SECS=${2:-3}
BUILD=${BUILD:-build}
PREFIX=$top/build/third_party/pcap-prefix
OUT=${OUT:-bench/out}
mkdir -p "$OUT/logs"
[ "$(id -u)" = 0 ] || { echo "tcpdump bench: needs root (netns, tcpdump)"; exit 77; }
scripts/libpcap.sh >/dev/null 2>&1 || { echo "tcpdump bench: libpcap build failed"; exit 1; }
command -v tcpdump >/dev/null || { echo "tcpdump bench: tcpdump missing"; exit 1; }
mkdir -p "$BUILD/bench"; cc -O2 -std=gnu11 -Wall -Wextra -Werror -o "$BUILD/bench/afp_send" bench/afp_send.c || exit 1
results=()
afp=()
cleanup() {
	pkill -f "tcpdump -i netmap:tdb" 2>/dev/null
	ip netns del unm_tda 2>/dev/null
	ip netns del unm_tdb 2>/dev/null
	[ -n "${UNETMAP_DIR:-}" ] && rm -rf "$UNETMAP_DIR"
}
trap cleanup EXIT

median() { sort -g | awk '{v[n++]=$1} END {if (n) printf "%.3f %.3f %.3f %d\n", v[0], (n%2)?v[(n-1)/2]:(v[n/2-1]+v[n/2])/2, v[n-1], n}'; }

for r in $(seq 1 "$RUNS"); do
	# --- netmap pipe: pkt-gen tx -> tcpdump; the pipe never drops, so the
	# sender's rate is the capture rate
	export UNETMAP_DIR=$(mktemp -d /dev/shm/unetmap-tdb.XXXXXX)
	LD_LIBRARY_PATH=$PREFIX/lib "$BUILD/bin/unetmap-run" tcpdump -Z root -i 'netmap:tdb}1' \
		-w /dev/null -n -q >"$OUT/logs/tcpdump-netmap.$r.log" 2>&1 &
	td=$!
	sleep 1
	timeout -s INT $((SECS + 1)) "$BUILD/bin/pkt-gen" -i 'netmap:tdb{1' -f tx -w 0 -a 0 \
		>"$OUT/logs/tcpdump-pktgen.$r.log" 2>&1
	kill -INT $td 2>/dev/null
	wait $td 2>/dev/null
	# pkt-gen's summary: frames sent / time sending (every frame was captured)
	rate=$(awk '/^Speed:/ { v = $2; u = $3; if (u == "Kpps") v /= 1000; if (u == "pps") v /= 1e6; printf "%.3f", v }' \
	       "$OUT/logs/tcpdump-pktgen.$r.log")
	[ -n "$rate" ] && results+=("$rate")
	echo "tcpdump bench: round $r: tcpdump on netmap pipe ${rate:-NA} Mpps"
	rm -rf "$UNETMAP_DIR"; UNETMAP_DIR=

	# --- AF_PACKET on veth (namespaces unm_tda -> unm_tdb)
	ip netns add unm_tda && ip netns add unm_tdb &&
	ip link add tda0 netns unm_tda type veth peer name tdb0 netns unm_tdb &&
	ip -n unm_tda link set tda0 up && ip -n unm_tdb link set tdb0 up || { echo "netns setup failed"; exit 1; }
	ip netns exec unm_tdb tcpdump -Z root -i tdb0 -w /dev/null -n -q >"$OUT/logs/tcpdump-afp.$r.log" 2>&1 &
	td=$!
	sleep 1
	ip netns exec unm_tda taskset -c 0 "$BUILD/bench/afp_send" tda0 "$SECS" 64 >/dev/null
	kill -INT $td 2>/dev/null
	wait $td 2>/dev/null
	n=$(awk '/packets captured/ { print $1 }' "$OUT/logs/tcpdump-afp.$r.log")
	ip netns del unm_tda; ip netns del unm_tdb
	if [ -n "$n" ]; then
		rate=$(awk -v n="$n" -v s="$SECS" 'BEGIN { printf "%.3f", n / s / 1e6 }')
		afp+=("$rate")
	fi
	echo "tcpdump bench: round $r: tcpdump on AF_PACKET/veth ${rate:-NA} Mpps"
done
{
	echo
	printf '%-52s %10s %10s %10s\n' "tcpdump -w /dev/null, 60-B frames" min median max
	printf '%-52s %10s %10s %10s  Mpps (n=%s)\n' "tcpdump on unetmap netmap pipe (pkt-gen tx)" $(printf '%s\n' "${results[@]}" | median)
	printf '%-52s %10s %10s %10s  Mpps (n=%s)\n' "tcpdump on AF_PACKET, veth (sendmmsg sender)" $(printf '%s\n' "${afp[@]}" | median)
} | tee "$OUT/tcpdump-summary.txt"
