#!/bin/bash
# Description: unmodified libpcap (Debian's 1.10.3 source built with netmap
# against include/, scripts/libpcap.sh) and Debian's tcpdump binary on unetmap
# pipes, through LD_PRELOAD=libunetmap.so:
#  (a) tcpdump -i 'netmap:cap}1' -c N -w FILE captures N frames sent by
#      pkt-gen -f tx into 'netmap:cap{1' (more than a ring, so tcpdump's rxsync
#      must wake the blocked sender); tcpdump exits 0, does not spin while idle;
#      lengths, timestamps and bytes checked with libpcap's offline reader
#  (b) tcpdump -r shows the frames as pkt-gen's UDP 10.0.0.1.1234 > 10.1.0.1.1234
#  (c) pcap_inject() into 'netmap:inj{1' (tests/compat/pcap_inject.c), pushed by
#      pcap_dispatch()'s poll, received by pkt-gen -f rx on 'netmap:inj}1';
#      again with poll(POLLOUT) on pcap_get_selectable_fd()
#  (d) pcap_inject() -> tcpdump -w: sequence-numbered frames arrive in order
# Exit 0 pass, 1 fail, 77 skip (not root and libpcap/tcpdump not built yet).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
case ${BUILD:-build} in /*) bld=${BUILD};; *) bld=$top/${BUILD:-build};; esac
lib=$bld/lib/libunetmap.so
pktgen=$bld/bin/pkt-gen
prefix=$top/build/third_party/pcap-prefix
N=${LIBPCAP_TEST_N:-2500}
NI=${LIBPCAP_TEST_NI:-1500}

fail() { echo "FAIL: $*"; exit 1; }
[ -x "$pktgen" ] && [ -f "$lib" ] || fail "build $lib and $pktgen first (make)"

# ---- libpcap with netmap, tcpdump ------------------------------------------------
t0=$EPOCHREALTIME
"$top/scripts/libpcap.sh" >/tmp/libpcap-sh.$$ 2>&1; rc=$?
out=$(cat /tmp/libpcap-sh.$$); rm -f /tmp/libpcap-sh.$$
case $rc in
0) ;;
77) echo "$out" | tail -n 3; echo "libpcap/tcpdump not built and not root"; exit 77;;
*) echo "$out" | tail -n 30; fail "scripts/libpcap.sh exited $rc";;
esac
echo "libpcap: $(echo "$out" | tail -n1) ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s)"
tcpdump=$(command -v tcpdump) || fail "no tcpdump binary"

tmp=$(mktemp -d /tmp/unetmap-libpcap.XXXXXX)
# Debian's tcpdump drops root for user "tcpdump" before it writes -w files
chmod 755 "$tmp"
mkdir -m 1777 "$tmp/cap" "$tmp/run"
export UNETMAP_DIR=$tmp/run
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP

cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$prefix/include" -o "$tmp/pcap_inject" \
	"$top/tests/compat/pcap_inject.c" -L"$prefix/lib" -lpcap -Wl,-rpath,"$prefix/lib" || fail "cc pcap_inject"
cc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$prefix/include" -o "$tmp/pcap_verify" \
	"$top/tests/compat/pcap_verify.c" -L"$prefix/lib" -lpcap -Wl,-rpath,"$prefix/lib" || fail "cc pcap_verify"

# run with our libpcap and the interposing library (env execs: $! is the program)
pre=(env LD_LIBRARY_PATH="$prefix/lib" LD_PRELOAD="$lib")
"${pre[@]}" ldd "$tcpdump" | grep -q "libpcap.so.* => $prefix/lib/" || fail "tcpdump does not load $prefix/lib/libpcap"

# wait_text FILE REGEX SECS PID: until FILE matches (0) or PID died / time is up (1)
wait_text() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -le $end ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || { grep -qE "$2" "$1" 2>/dev/null; return; }
		sleep 0.05
	done
	return 1
}
# wait_exit PID SECS: exit status of PID, killing it (status 124) when time is up
wait_exit() {
	local end=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null && [ $SECONDS -le $end ]; do sleep 0.05; done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1"; sleep 0.2; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124
	fi
	wait "$1"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# start_tcpdump NAME PORT COUNT: background capture into $tmp/cap/NAME.pcap
start_tcpdump() {
	"${pre[@]}" "$tcpdump" -i "$2" -c "$3" -w "$tmp/cap/$1.pcap" -n >"$tmp/$1.out" 2>"$tmp/$1.err" &
	td=$!; pids+=("$td")
	wait_text "$tmp/$1.err" 'listening on ' 10 "$td" \
		|| { cat "$tmp/$1.err"; fail "$1: tcpdump on $2 did not start"; }
}
# finish_tcpdump NAME COUNT: tcpdump exits 0 having captured COUNT packets
finish_tcpdump() {
	wait_exit "$td" 15; local rc=$?
	[ $rc = 0 ] || { cat "$tmp/$1.err"; fail "$1: tcpdump exit status $rc (124: still running after 15 s)"; }
	grep -q "^$2 packets captured" "$tmp/$1.err" || { cat "$tmp/$1.err"; fail "$1: tcpdump did not capture $2"; }
	local got
	got=$("$tcpdump" -r "$tmp/cap/$1.pcap" -n 2>/dev/null | grep -vc '^[[:space:]]')   # not hex lines
	[ "$got" = "$2" ] || fail "$1: tcpdump -r shows $got packets, expected $2"
}

# ---- (a) capture pkt-gen frames ---------------------------------------------------
start_tcpdump a 'netmap:cap}1' "$N"
hz=$(getconf CLK_TCK)
[ "$(cat /proc/$td/comm 2>/dev/null)" = tcpdump ] || fail "(a) pid $td is not tcpdump"
c0=$(cpu_ticks "$td"); sleep 1; c1=$(cpu_ticks "$td")
idle=$(( (c1 - c0) * 100 / hz ))
echo "(a) idle tcpdump used ${idle}% CPU over 1 s"
[ $idle -le 30 ] || fail "(a) tcpdump spins while idle (${idle}% CPU): poll() on the netmap fd does not block"
timeout -k 2 20 "$pktgen" -i 'netmap:cap{1' -f tx -n "$N" -w 0 -l 60 >"$tmp/a.pg" 2>&1 \
	|| { tail -n 5 "$tmp/a.pg"; fail "(a) pkt-gen tx failed"; }
grep -q "^Sent $N packets" "$tmp/a.pg" || { tail -n 5 "$tmp/a.pg"; fail "(a) pkt-gen did not send $N"; }
finish_tcpdump a "$N"
echo "(a) tcpdump: $(grep 'packets captured' "$tmp/a.err")"
"$tmp/pcap_verify" "$tmp/cap/a.pcap" "$N" 60 pktgen || fail "(a) capture content"
size=$(stat -c %s "$tmp/cap/a.pcap")
[ "$size" = $((24 + N * (16 + 60))) ] || fail "(a) pcap file has $size bytes, expected $((24 + N * 76))"

# ---- (b) tcpdump -r decodes them ------------------------------------------------
good=$("$tcpdump" -r "$tmp/cap/a.pcap" -n 2>/dev/null \
	| grep -cE '^[0-9:.]+ IP 10\.0\.0\.1\.1234 > 10\.1\.0\.1\.1234: UDP, length 18$')
[ "$good" = "$N" ] || { "$tcpdump" -r "$tmp/cap/a.pcap" -n -c 3; fail "(b) $good of $N lines are pkt-gen's UDP frames"; }
"$tcpdump" -r "$tmp/cap/a.pcap" -n -X -c 1 2>/dev/null | grep -q 'pkt-gen' \
	|| { "$tcpdump" -r "$tmp/cap/a.pcap" -n -X -c 1; fail "(b) payload pattern not in tcpdump -X"; }
"$tcpdump" -r "$tmp/cap/a.pcap" -n -c 1 -e 2>/dev/null | grep -q '00:00:00:00:00:00 > ff:ff:ff:ff:ff:ff, ethertype IPv4' \
	|| fail "(b) link header not as sent"
echo "(b) tcpdump -r: $N x 'IP 10.0.0.1.1234 > 10.1.0.1.1234: UDP, length 18', payload shown by -X"

# ---- (c) pcap_inject -> pkt-gen rx ------------------------------------------------
for mode in dispatch poll; do
	port=inj$mode
	"$pktgen" -i "netmap:$port}1" -f rx -n "$NI" -w 0 >"$tmp/c.pg" 2>&1 &
	rx=$!; pids+=("$rx")
	wait_text "$tmp/c.pg" 'reading from' 10 "$rx" || { cat "$tmp/c.pg"; fail "(c) pkt-gen rx did not start"; }
	timeout -k 2 20 "${pre[@]}" "$tmp/pcap_inject" "netmap:$port{1" "$NI" 60 "$mode" >"$tmp/c.out" 2>&1 \
		|| { cat "$tmp/c.out"; fail "(c) pcap_inject ($mode) failed"; }
	wait_exit "$rx" 10; rc=$?
	[ $rc = 0 ] || { tail -n 5 "$tmp/c.pg"; fail "(c) pkt-gen rx exit $rc after $mode inject"; }
	grep -q "^Received $NI packets" "$tmp/c.pg" || { tail -n 5 "$tmp/c.pg"; fail "(c) pkt-gen rx did not receive $NI"; }
	echo "(c) $(head -n1 "$tmp/c.out"); pkt-gen: $(grep '^Received' "$tmp/c.pg")"
done

# ---- (d) pcap_inject -> tcpdump -w ----------------------------------------------------
start_tcpdump d 'netmap:lp}1' "$NI"
timeout -k 2 20 "${pre[@]}" "$tmp/pcap_inject" 'netmap:lp{1' "$NI" 100 poll >"$tmp/d.out" 2>&1 \
	|| { cat "$tmp/d.out"; fail "(d) pcap_inject failed"; }
finish_tcpdump d "$NI"
"$tmp/pcap_verify" "$tmp/cap/d.pcap" "$NI" 100 seq || fail "(d) injected frames not captured in order"
good=$("$tcpdump" -r "$tmp/cap/d.pcap" -n -e 2>/dev/null \
	| grep -c '^[0-9:.]* 02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype Unknown (0x88b5), length 100: $')
[ "$good" = "$NI" ] || fail "(d) tcpdump -r -e shows $good of $NI frames as sent"
"$tcpdump" -r "$tmp/cap/d.pcap" -n -XX -c 1 2>/dev/null | grep -q '0x0000:  0200 0000 0002 0200 0000 0001 88b5 554e' \
	|| fail "(d) first bytes not as sent in tcpdump -XX"
echo "(d) pcap_inject -> tcpdump: $NI frames in order"

# ---- (e) capture from a VALE port ------------------------------------------------------
# pkt-gen's broadcast frames from vale7:src reach every other port of the
# switch.  A VALE sender never waits for a slow receiver (frames that find
# the ring full are dropped, as on netmap), so pkt-gen sends more than
# tcpdump's -c in small paced bursts and tcpdump stops at its count
start_tcpdump e 'vale7:cap' "$N"
timeout -k 2 30 "$pktgen" -i 'vale7:src' -f tx -n $((N * 8)) -l 60 -b 32 -R 20000 >"$tmp/e.pg" 2>&1 &
tx=$!; pids+=("$tx")
finish_tcpdump e "$N"
kill "$tx" 2>/dev/null; wait "$tx" 2>/dev/null
"$tmp/pcap_verify" "$tmp/cap/e.pcap" "$N" 60 pktgen || fail "(e) VALE capture content"
echo "(e) tcpdump -i vale7:cap: $(grep 'packets captured' "$tmp/e.err")"

# ---- (f) pcap_inject into a VALE port -> pkt-gen rx on another ----------------------------
# fewer frames than the receiver's ring holds: none can find it full
NV=500
"$pktgen" -i 'vale8:rx' -f rx -n "$NV" >"$tmp/f.pg" 2>&1 &
rx=$!; pids+=("$rx")
wait_text "$tmp/f.pg" 'reading from' 10 "$rx" || { cat "$tmp/f.pg"; fail "(f) pkt-gen rx did not start"; }
timeout -k 2 20 "${pre[@]}" "$tmp/pcap_inject" 'vale8:inj' "$NV" 60 poll >"$tmp/f.out" 2>&1 \
	|| { cat "$tmp/f.out"; fail "(f) pcap_inject into vale8:inj failed"; }
wait_exit "$rx" 10; rc=$?
[ $rc = 0 ] || { tail -n 5 "$tmp/f.pg"; fail "(f) pkt-gen rx exit $rc"; }
grep -q "^Received $NV packets" "$tmp/f.pg" || { tail -n 5 "$tmp/f.pg"; fail "(f) pkt-gen rx on vale8:rx did not receive $NV"; }
echo "(f) pcap_inject -> vale8 -> pkt-gen: $(grep '^Received' "$tmp/f.pg")"
exit 0
