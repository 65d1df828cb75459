#!/bin/bash
# Description: an unmodified netmap client (not linked with libunetmap, it
# only calls libc) runs under unetmap-run: legacy nm_open sender and
# receiver on a pipe; a statically linked program is refused clearly.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
run=$B/bin/unetmap-run
cli=$B/clients/legacy_client
tmp=$(mktemp -d /tmp/unetmap-run.XXXXXX)
export UNETMAP_DIR=$tmp/dir
trap 'kill $rxp 2>/dev/null; rm -rf "$tmp"' EXIT
rxp=
[ -x "$run" ] && [ -x "$cli" ] || { echo "not built: $run $cli"; exit 1; }
if ldd "$cli" | grep -q unetmap; then echo "client must not link libunetmap"; exit 1; fi

# without unetmap there is no /dev/netmap: the client must fail
if [ ! -e /dev/netmap ] && "$cli" tx 'netmap:rr{1' 10 >/dev/null 2>&1; then
	echo "client worked without unetmap?"; exit 1
fi
timeout 30 "$run" "$cli" rx 'netmap:rr}1' 20000 >"$tmp/rx.out" 2>&1 &
rxp=$!
sleep 0.2
timeout 30 "$run" "$cli" tx 'netmap:rr{1' 20000 >"$tmp/tx.out" 2>&1 || { cat "$tmp/tx.out"; exit 1; }
wait $rxp; rc=$?; rxp=
[ $rc -eq 0 ] || { echo "rx rc=$rc"; cat "$tmp/rx.out"; exit 1; }
grep -q "rx 20000 frames, 0 errors" "$tmp/rx.out" || { cat "$tmp/rx.out"; exit 1; }

# programs that never touch netmap behave identically under unetmap-run
same() {
	local a b ra rb
	a=$("$@" 2>&1); ra=$?
	b=$("$run" "$@" 2>&1); rb=$?
	[ "$a" = "$b" ] && [ $ra -eq $rb ] || { echo "differs under unetmap-run: $*"; diff <(echo "$a") <(echo "$b") | head; exit 1; }
}
same ls -la /
same ls /nonexistent-dir
same sh -c 'echo hi; exec 3>/dev/null; cat /etc/hostname >&3; exit 3'
same python3 -c 'import os, select; r, w = os.pipe(); os.write(w, b"x"); print(select.select([r], [], [], 1)[0] == [r], os.read(r, 1))'
command -v tcpdump >/dev/null && same tcpdump --version

# a static binary: a clear refusal, exit 126
if printf 'int main(void){return 0;}\n' | cc -static -x c - -o "$tmp/static" 2>/dev/null; then
	out=$("$run" "$tmp/static" 2>&1); rc=$?
	[ $rc -eq 126 ] && echo "$out" | grep -q "statically linked" || { echo "static: rc=$rc $out"; exit 1; }
fi
exit 0
