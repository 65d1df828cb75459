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
exit 0
