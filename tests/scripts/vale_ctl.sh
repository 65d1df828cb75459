#!/bin/bash
# Description: vale-ctl drives the VALE switch like netmap's tool: every
# option (-n -r -a -h -d -l -g -p -P -C -m -v and the plain listing) with
# its output and exit status (create twice EEXIST, attach twice EBUSY,
# detach order, destroy while attached EBUSY, listing exits 1); as root, a
# veth attached with -h (listing with the host port, -p/-P, -d); the unetmap
# options -s (counters after pkt-gen traffic), -t (the sender's MAC was
# learned), -L (lookup object load/reset); unetmap-stat prints the ports'
# rates.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
vc=$B/bin/vale-ctl
pg=$B/bin/pkt-gen
us=$B/bin/unetmap-stat
plugin=$B/lib/unetmap-vale-vlan.so
for f in "$vc" "$pg" "$us" "$plugin"; do
	[ -e "$f" ] || { echo "not built: $f"; exit 1; }
done
tmp=$(mktemp -d /tmp/vale-ctl-test.XXXXXX)
export UNETMAP_DIR=$tmp/dir
bg=()
cleanup() {
	local p
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${bg[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }

# vc WANT_RC ARGS...: run vale-ctl, check its exit status; leaves the
# output in $out and the error output in $err
vc() {
	local want=$1; shift
	out=$(timeout 20 "$vc" "$@" 2>"$tmp/err"); rc=$?
	err=$(cat "$tmp/err")
	[ "$rc" -eq "$want" ] || fail "vale-ctl $*: exit $rc, want $want
  stdout: $out
  stderr: $err"
}
# err_has TEXT: the last command's error output mentions TEXT
err_has() { grep -qi -- "$1" <<<"$err" || fail "error output lacks '$1': $err"; }
out_has() { grep -qE -- "$1" <<<"$out" || fail "output lacks /$1/: $out"; }
out_lacks() { ! grep -qE -- "$1" <<<"$out" || fail "output has /$1/: $out"; }

# value of column COL of the -s row of PORT (switch SW)
stat_col() {
	timeout 20 "$vc" -s "$1" | awk -v p="$2" -v c="$3" '$1 == p { print $c }'
}

# ---- nothing exists yet: the listing prints nothing and exits 1
vc 1
[ -z "$out" ] || fail "listing of nothing printed: $out"

# ---- -n / -r: persistent ports
vc 0 -n a
vc 1 -n a
err_has "File exists"
vc 0 -v -n c -C 512,256,2,3
out_has "tx_slots 512 rx_slots 256 tx_rings 2 rx_rings 3"
vc 0 -g c
out_has "^c: memsize [0-9]+ tx_slots 512 rx_slots 256 tx_rings 2 rx_rings 3 mem_id [0-9]+$"
memc=$(sed -n 's/.* mem_id \([0-9]*\)$/\1/p' <<<"$out")
# -C with one number sets both slot counts; a ring count of both directions
vc 0 -v -n f -C 128,128,2
out_has "tx_slots 128 rx_slots 128 tx_rings 2 rx_rings 2"
vc 0 -v -n g -C 64
out_has "tx_slots 64 rx_slots 64"
# -m: a number, or a port whose mem_id is looked up
vc 0 -n d -m "$memc"
vc 0 -g d
out_has "mem_id $memc\$"
vc 0 -n e -m netmap:c
vc 0 -g netmap:e
out_has "mem_id $memc\$"
vc 1 -n h -m netmap:nosuchport0
vc 1 -n h -m 65535
# netmap's name rules: vale prefix / too long
vc 1 -n vale0x
err_has "Invalid argument"
vc 1 -n abcdefghijklmnopqrstuvwxyz
vc 1 -r nosuchport0
vc 0 -r f
vc 0 -r g

# ---- -a / -d / -r ordering rules
vc 0 -a vale0:a
vc 1 -a vale0:a
err_has "busy"
vc 0 -v -a vale1:a
out_has "port_idx [0-9]+"
vc 1 -d vale0:a			# first attachment while the second exists
err_has "busy"
vc 1 -r a			# attached
err_has "busy"
vc 0 -h vale2:c			# -h on a persistent port: mode ignored

# ---- -l and the listing
vc 0 -l vale0:a
out_has "^vale0:a bridge_idx [0-9]+ port_idx [0-9]+$"
vc 0 -l vale1:a
out_has "^vale1:a bridge_idx [0-9]+ port_idx [0-9]+$"
vc 0 -l vale0:nosuchport
out_has "port_idx 255"
vc 1 -l vale7:a			# no such switch
vc 1 -l foo:a			# not a VALE name
err_has "Invalid argument"
vc 1
n=$(grep -cE '^vale[0-9]+:[a-z^]+ bridge_idx [0-9]+ port_idx [0-9]+$' <<<"$out")
[ "$n" -eq 3 ] || fail "listing: $n port lines, want 3: $out"
out_has "^vale0:a "; out_has "^vale1:a "; out_has "^vale2:c "
[ "$(wc -l <<<"$out")" -eq 3 ] || fail "listing has extra lines: $out"

# ---- -g of an ephemeral port (created and destroyed within the request)
vc 0 -g vale3:x
out_has "^vale3:x: memsize [0-9]+ tx_slots [0-9]+ rx_slots [0-9]+ tx_rings 1 rx_rings 1 mem_id [0-9]+$"
vc 1 -l vale3:x			# gone again with its switch

# ---- what is not a port: unknown interfaces, bad names (attaching a real
# interface is done below, in a network namespace of its own)
vc 1 -a vale0:nosuchif0
vc 1 -a notvale:a
vc 1 -d vale0:nosuchport
vc 1 -d vale9:a
# polling is for attached NICs only
vc 1 -p vale0:a
vc 1 -P vale0:a -C 1,0,1
vc 1 -p vale0:nosuchport
# usage errors
vc 1 -n x -C 1,2,3,4,5
vc 1 -n x -C abc
vc 1 -a
vc 1 -Z
vc 1 -a vale0:a -d vale0:a
vc 1 -l vale0:a -C 1
vc 1 -l vale0:a extra

# detach order: the second attachment first, then the first
vc 0 -v -d vale1:a
out_has "port_idx [0-9]+"
vc 1 -d vale1:a

# ---- traffic: a (persistent, on vale0) sends 1000 frames to b (ephemeral)
timeout 60 "$pg" -i vale0:b -f rx >"$tmp/rx.out" 2>&1 &
bg+=($!)
ok=
for _ in $(seq 100); do		# until b's RX ring is bound
	o=$(stat_col vale0 vale0:b 3)
	[ -n "$o" ] && [ "$o" -ge 1 ] && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || fail "pkt-gen rx never bound vale0:b: $(cat "$tmp/rx.out")"
timeout 30 "$pg" -i vale0:a -f tx -n 1000 -S 02:11:22:33:44:55 >"$tmp/tx.out" 2>&1 \
	|| fail "pkt-gen tx: $(cat "$tmp/tx.out")"
for _ in $(seq 100); do
	[ "$(stat_col vale0 vale0:b 4)" = 1000 ] && break
	sleep 0.1
done
vc 0 -s vale0
out_has "^switch vale0: 2 ports, lookup learning bridge$"
out_has "^PORT +IDX +RXOPN +RX_FRAMES +RX_BYTES +TX_FRAMES +TX_BYTES +DROP_FULL +DROP_CLOSD +DROP_MALF +DROP_DEAD$"
# vale0:a sent 1000 frames of 60 bytes, vale0:b received them all
out_has "^vale0:a +[0-9]+ +[0-9]+ +0 +0 +1000 +60000 +0 +0 +0 +0$"
out_has "^vale0:b +[0-9]+ +1 +1000 +60000 +0 +0 +0 +0 +0 +0$"
idx_a=$(awk '$1 == "vale0:a" { print $2 }' <<<"$out")
vc 0 -t vale0
out_has "^switch vale0: [0-9]+ learned address"
out_has "^02:11:22:33:44:55 port_idx $idx_a vale0:a$"
vc 1 -s vale9
err_has "no such switch"
vc 1 -t vale9
err_has "no such switch"
vc 1 -s foo

# ---- unetmap-stat: rows of every port, idle rates are 0
out=$(timeout 20 "$us" -b -n 2 -i 0.2 2>&1) || fail "unetmap-stat: $out"
for p in vale0:a vale0:b vale2:c; do
	n=$(grep -cE "^$p +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$" <<<"$out")
	[ "$n" -eq 2 ] || fail "unetmap-stat: $n rows for $p, want 2: $out"
done
out_has "^vale0:a +[0-9]+ +0 +0 +0 +0 +0 +0 +0 +0$"
grep -q $'\033' <<<"$out" && fail "batch mode printed escape sequences"
# on a terminal (and without -b) each refresh clears the screen first
if command -v script >/dev/null; then
	out=$(timeout 20 script -qc "'$us' -n 1 -i 0.1 vale2" /dev/null 2>&1)
	grep -q $'\033\[H\033\[2J' <<<"$out" || fail "no screen clearing on a tty: $out"
	grep -q "^vale2:c " <<<"$out" || fail "unetmap-stat on a tty: $out"
fi
out=$(timeout 20 "$us" -n 1 -i 0.1 vale2 2>&1) || fail "unetmap-stat to a pipe: $out"
grep -q $'\033' <<<"$out" && fail "escape sequences written to a pipe: $out"
out=$(timeout 20 "$us" -b -n 1 -i 0.1 vale2 2>&1) || fail "unetmap-stat vale2: $out"
out_has "^vale2:c "; out_lacks "^vale0:"
out=$(timeout 20 "$us" -b -n 1 -i 0.1 vale9 2>&1) && fail "unetmap-stat on a missing switch succeeded"
grep -q "no such switch" <<<"$out" || fail "unetmap-stat vale9: $out"
timeout 20 "$us" -i 0 -n 1 >/dev/null 2>&1 && fail "unetmap-stat -i 0 accepted"
timeout 20 "$us" -n x >/dev/null 2>&1 && fail "unetmap-stat -n x accepted"
# with traffic flowing, some interval shows b receiving
timeout 60 "$pg" -i vale0:a -f tx -n 0 -R 20000 -S 02:11:22:33:44:55 >"$tmp/tx2.out" 2>&1 &
bg+=($!)
for _ in $(seq 100); do		# until the sender is under way
	o=$(stat_col vale0 vale0:a 6)
	[ -n "$o" ] && [ "$o" -ge 2000 ] && break
	sleep 0.1
done
out=$(timeout 30 "$us" -b -n 6 -i 0.5 vale0 2>&1) || fail "unetmap-stat: $out"
awk '$1 == "vale0:b" && $3 > 0 { f = 1 } END { exit !f }' <<<"$out" \
	|| fail "unetmap-stat never saw vale0:b receive: $out $(cat "$tmp/tx2.out")"
awk '$1 == "vale0:a" && $5 > 0 { f = 1 } END { exit !f }' <<<"$out" \
	|| fail "unetmap-stat never saw vale0:a send: $out"
kill "${bg[1]}" 2>/dev/null; wait "${bg[1]}" 2>/dev/null

# ---- -L: lookup object
vc 0 -L "vale0:$plugin"
vc 0 -s vale0
out_has "^switch vale0: 2 ports, lookup $plugin\$"
vc 0 -L vale0
vc 0 -s vale0
out_has "lookup learning bridge$"
(cd "$B/lib" && timeout 20 "$vc" -L vale0:unetmap-vale-vlan.so) || fail "-L with a relative path"
vc 0 -s vale0
out_has "lookup $(cd "$B/lib" && pwd -P)/unetmap-vale-vlan.so\$"
vc 0 -L vale0:
vc 0 -s vale0
out_has "lookup learning bridge$"
vc 1 -L "vale9:$plugin"
err_has "no such switch"
vc 1 -L vale0:/etc/hostname
err_has "cannot be loaded"
vc 1 -L vale0:/nonexistent/x.so
vc 1 -L :/x.so

# ---- a network interface (root: a veth pair in a private network namespace;
# the helper of the attachment lives until -d, and is killed on failure)
# (the runtime directory on tmpfs: AF_XDP cannot pin pages of files elsewhere)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
	nicdir=$(mktemp -d /dev/shm/vale-ctl-nic.XXXXXX)
	UNETMAP_DIR=$nicdir timeout 60 unshare -n bash -c '
		vc=$1
		fail() { echo "FAIL: $*"; exit 1; }
		# (a helper left by a failure leaves by itself once its
		# runtime directory is removed)
		cleanup() { "$vc" -P vale5:vt0 2>/dev/null; "$vc" -d vale5:vt0 2>/dev/null; true; }
		trap cleanup EXIT
		ip link add vt0 type veth peer name vt1 && ip link set vt0 up &&
			ip link set vt1 up || fail "veth"
		"$vc" -h vale5:vt0 || fail "-h vale5:vt0"
		out=$("$vc")
		grep -q "^vale5:vt0 bridge_idx [0-9]* port_idx [0-9]*$" <<<"$out" || fail "listing: $out"
		grep -q "^vale5:vt0^ bridge_idx" <<<"$out" || fail "no host port: $out"
		"$vc" -a vale5:vt0 2>/dev/null && fail "attached twice"
		"$vc" -a vale6:vt0 2>/dev/null && fail "attached to a second switch"
		"$vc" -s vale5 | grep -q "^vale5:vt0 " || fail "-s lacks vale5:vt0"
		"$vc" -p vale5:vt0 -C 0,0,1 || fail "-p"
		"$vc" -p vale5:vt0 -C 0,0,1 2>/dev/null && fail "-p twice"
		"$vc" -d vale5:vt0 2>/dev/null && fail "-d while polling"
		"$vc" -P vale5:vt0 || fail "-P"
		"$vc" -P vale5:vt0 2>/dev/null && fail "-P twice"
		"$vc" -d vale5:vt0 || fail "-d"
		"$vc" -d vale5:vt0 2>/dev/null && fail "-d twice"
		out=$("$vc")
		[ -z "$out" ] || fail "listing after -d: $out"
		exit 0' vale-ctl-nic "$vc" >"$tmp/nic.out" 2>&1
	rc=$?
	rm -rf "$nicdir"
	[ $rc -eq 0 ] || fail "NIC attach: $(cat "$tmp/nic.out")"
fi

# ---- tear down: b's reader exits, then everything is destroyed
kill "${bg[0]}" 2>/dev/null; wait "${bg[0]}" 2>/dev/null
vc 0 -d vale0:a
vc 1 -d vale0:a
vc 0 -r a
vc 1 -r a
vc 1 -r c			# still attached to vale2
err_has "busy"
vc 0 -d vale2:c
vc 0 -v -r c
for p in d e; do vc 0 -r $p; done
vc 1
[ -z "$out" ] || fail "listing after teardown: $out"
exit 0
