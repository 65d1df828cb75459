#!/bin/bash
# Description: kernel-netmap style clients (libc only, under unetmap-run):
# an fd server passes a registered port to a client that sends through it
# after the server exited; a program dups its fd, forks, closes the
# original and keeps sending through the duplicate; an epoll loop receives.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
run=$B/bin/unetmap-run
tmp=$(mktemp -d /tmp/unetmap-compat.XXXXXX)
export UNETMAP_DIR=$tmp/dir
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
check_rx() {
	wait "${pids[-1]}"; local rc=$?
	[ $rc -eq 0 ] && grep -q "rx $1 frames, 0 errors" "$tmp/rx.out" || { echo "$2: rx rc=$rc"; cat "$tmp/rx.out"; exit 1; }
}
# receive exactly N 60-byte frames (fdtool's frames carry no sequence number)
rx_count() {
	timeout 30 "$run" "$B/clients/legacy_client" rxany "$1" "$2" >"$tmp/rx.out" 2>&1 & pids+=($!)
}

# 1: fd server -> client
rx_count 'netmap:fq}1' 5000
timeout 30 "$run" "$B/clients/fdtool" serve "$tmp/sock" 'netmap:fq{1' & srv=$!
timeout 30 "$run" "$B/clients/fdtool" client "$tmp/sock" 5000 || { echo "fd client failed"; exit 1; }
wait $srv || { echo "fd server failed"; exit 1; }
check_rx 5000 "fd passing"

# 2: dup + fork + close of the original
rx_count 'netmap:fk}1' 3000
timeout 30 "$run" "$B/clients/fdtool" forkdup 'netmap:fk{1' 3000 || { echo "forkdup failed"; exit 1; }
check_rx 3000 "fork/dup"
# 3: an epoll loop (netmap fd + a plain pipe) receives what nm_inject sends
timeout 30 "$run" "$B/clients/fdtool" epollrx 'netmap:fe}1' 4000 >"$tmp/ep.out" 2>&1 & pids+=($!)
sleep 0.2
timeout 30 "$run" "$B/clients/legacy_client" tx 'netmap:fe{1' 4000 >/dev/null 2>&1 || { echo "tx failed"; exit 1; }
wait "${pids[-1]}" && grep -q "epollrx 4000 frames, 1 plain" "$tmp/ep.out" || { echo "epoll loop:"; cat "$tmp/ep.out"; exit 1; }

# ==== VALE ports ============================================================
# The same libc-only clients on VALE switch ports, plus legacy_vale. A VALE
# sender never waits for its receivers (a full destination ring drops the
# excess, as on netmap), so: every receiver has bound its RX ring before its
# sender starts (vale-ctl -s shows it open); the single-burst cases send
# fewer frames than a receiver's 1023 free slots in total; the long streams
# use legacy_vale, whose receiver acknowledges every batch and whose sender
# keeps at most WIN frames unacknowledged. No drop is legitimate anywhere in
# this section: every count is exact.
vc=$B/bin/vale-ctl
pgl=$B/clients/pkt-gen-libc
lv=$B/clients/legacy_vale
for f in "$vc" "$pgl" "$lv"; do [ -x "$f" ] || { echo "not built: $f"; exit 1; }; done
ldd "$lv" | grep -q unetmap && { echo "legacy_vale must not link libunetmap"; exit 1; }
# vale_bound SWITCH PORT: wait until PORT has an open RX ring
vale_bound() {
	local i o
	for i in $(seq 200); do
		o=$(timeout 10 "$vc" -s "$1" 2>/dev/null | awk -v p="$2" '$1 == p { print $3 }')
		[ -n "$o" ] && [ "$o" -ge 1 ] && return 0
		sleep 0.05
	done
	echo "VALE: $2 never bound its RX ring"; tail -n 5 "$tmp"/*.out 2>/dev/null; exit 1
}
# vale_learned SWITCH MAC: wait until the switch has learned MAC
vale_learned() {
	local i
	for i in $(seq 200); do
		timeout 10 "$vc" -t "$1" 2>/dev/null | grep -q "^$2 " && return 0
		sleep 0.05
	done
	echo "VALE: $1 never learned $2"; timeout 10 "$vc" -t "$1"; exit 1
}
# lv_check FILE LINE WHAT: legacy_vale's result line
lv_check() {
	grep -qx "$2" "$1" || { echo "$3: want '$2'"; cat "$1"; exit 1; }
}

# V1: legacy nm_open sender -> receiver (in order), one burst of 1000
timeout 30 "$run" "$B/clients/legacy_client" rx 'vale6:rx' 1000 >"$tmp/rx.out" 2>&1 & pids+=($!)
vale_bound vale6 vale6:rx
timeout 30 "$run" "$B/clients/legacy_client" tx 'vale6:tx' 1000 >"$tmp/tx.out" 2>&1 || { echo "VALE tx failed"; cat "$tmp/tx.out"; exit 1; }
check_rx 1000 "VALE legacy tx -> rx"

# V2: the fd server registers vale6:fq, its client sends 900 through it
rx_count 'vale6:fr' 900
vale_bound vale6 vale6:fr
timeout 30 "$run" "$B/clients/fdtool" serve "$tmp/vsock" 'vale6:fq' & srv=$!
timeout 30 "$run" "$B/clients/fdtool" client "$tmp/vsock" 900 || { echo "VALE fd client failed"; exit 1; }
wait $srv || { echo "VALE fd server failed"; exit 1; }
check_rx 900 "VALE fd passing"

# V3: dup + fork + close of the original (500 + 500 frames)
rx_count 'vale6:kr' 1000
vale_bound vale6 vale6:kr
timeout 30 "$run" "$B/clients/fdtool" forkdup 'vale6:fk' 1000 || { echo "VALE forkdup failed"; exit 1; }
check_rx 1000 "VALE fork/dup"

# V4: an epoll loop receives what nm_inject sends
timeout 30 "$run" "$B/clients/fdtool" epollrx 'vale6:ep' 800 >"$tmp/ep.out" 2>&1 & pids+=($!)
vale_bound vale6 vale6:ep
timeout 30 "$run" "$B/clients/legacy_client" tx 'vale6:et' 800 >/dev/null 2>&1 || { echo "VALE tx (epoll) failed"; exit 1; }
wait "${pids[-1]}" && grep -q "epollrx 800 frames, 1 plain" "$tmp/ep.out" || { echo "VALE epoll loop:"; cat "$tmp/ep.out"; exit 1; }

# V5: pkt-gen as upstream builds it (libnetmap inside, libc only), 2 bursts
timeout 30 "$run" "$pgl" -i vale6:pr -f rx -n 1000 -w 0 >"$tmp/pgrx.out" 2>&1 & pids+=($!)
vale_bound vale6 vale6:pr
timeout 30 "$run" "$pgl" -i vale6:pt -f tx -n 1000 -w 0 >"$tmp/pgtx.out" 2>&1 || { echo "VALE pkt-gen tx failed"; cat "$tmp/pgtx.out"; exit 1; }
wait "${pids[-1]}" && grep -q "^Received 1000 packets 60000 bytes" "$tmp/pgrx.out" || { echo "VALE pkt-gen rx:"; cat "$tmp/pgrx.out"; exit 1; }

# V6: two acknowledged streams at once on vale7 (r1 <- t1, r2 <- t2), 20000
# frames each; the switch has learned r1 and r2 (their hellos) before the
# senders start, so no unicast frame may reach the other pair ("foreign")
timeout 60 "$run" "$lv" rx 'vale7:r1' 20000 1 >"$tmp/r1.out" 2>&1 & r1=$!; pids+=($r1)
timeout 60 "$run" "$lv" rx 'vale7:r2' 20000 2 >"$tmp/r2.out" 2>&1 & r2=$!; pids+=($r2)
vale_learned vale7 02:00:00:00:00:01
vale_learned vale7 02:00:00:00:00:02
timeout 60 "$run" "$lv" tx 'vale7:t1' 20000 11 1 256 >"$tmp/t1.out" 2>&1 & t1=$!; pids+=($t1)
timeout 60 "$run" "$lv" tx 'vale7:t2' 20000 12 2 256 >"$tmp/t2.out" 2>&1 & t2=$!; pids+=($t2)
wait $t1; wait $t2; wait $r1; wait $r2
for x in r1 r2; do lv_check "$tmp/$x.out" "rx 20000 frames, 0 errors, 0 foreign" "VALE stream $x"; done
for x in t1 t2; do lv_check "$tmp/$x.out" "tx 20000 frames, 0 errors, 0 foreign" "VALE stream $x"; done

# V7: two senders into one receiver (windows 400 + 400 < 1023 free slots)
timeout 60 "$run" "$lv" rx 'vale7:fan' 30000 3 >"$tmp/fan.out" 2>&1 & r1=$!; pids+=($r1)
vale_learned vale7 02:00:00:00:00:03
timeout 60 "$run" "$lv" tx 'vale7:t3' 15000 21 3 400 >"$tmp/t3.out" 2>&1 & t1=$!; pids+=($t1)
timeout 60 "$run" "$lv" tx 'vale7:t4' 15000 22 3 400 >"$tmp/t4.out" 2>&1 & t2=$!; pids+=($t2)
wait $t1; wait $t2; wait $r1
lv_check "$tmp/fan.out" "rx 30000 frames, 0 errors, 0 foreign" "VALE fan-in"
for x in t3 t4; do lv_check "$tmp/$x.out" "tx 15000 frames, 0 errors, 0 foreign" "VALE fan-in $x"; done

# every port went away with its process: no switch is left
out=$(timeout 10 "$vc" 2>&1)
[ -z "$out" ] || { echo "VALE ports left behind:"; echo "$out"; exit 1; }
# ==== end of VALE ports =====================================================
exit 0
