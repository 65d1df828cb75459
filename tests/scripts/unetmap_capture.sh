#!/bin/bash
# Description: unetmap-capture writes what arrives on a netmap port as pcap
# or pcapng.  Every file is parsed here (od + awk: headers, block lengths,
# caplen/origlen, nanosecond fields, pkt-gen's payload pattern) and, when
# Debian's tcpdump is installed, decoded by tcpdump -r:
#  (a) 2000 frames from pkt-gen -f tx on 'netmap:cap{1' captured on
#      'netmap:cap}1' into pcap: exact file size, 2000 x pkt-gen's UDP line
#  (b) the same as pcapng: exact size, one IDB with if_tsresol 9, tcpdump
#      --nano shows nanosecond timestamps (not microseconds times 1000)
#  (c) VALE: -c 500 on vale3:cap while pkt-gen floods from vale3:src
#  (d) 5000-byte frames sent as NS_MOREFRAG chains (pkt-gen's own split by
#      buffer size, and -F 7: 7 odd-sized fragments) written as one record
#      each, payload intact (pattern, UDP checksum); -s 100 (pcap) and
#      -s 101 (pcapng, padding) keep origlen 5000
#  (e) BPF filters through libpcap.so.0.8: 'udp port 1234' keeps all,
#      'udp port 9' keeps none of them but keeps frames sent to port 9; a
#      bad expression and a missing libpcap are errors (exit 1)
#  (f) -d 1 on an idle port ends after about 1 s, 0 packets, no spinning
#  (g) bad port names, bad options: exit 1 with a message
#  (h) SIGTERM/SIGINT end a capture cleanly (file complete, exit 0); the
#      live counter; standard output piped into tcpdump -r -
# Exit 0 pass, 1 fail, 77 skip (tcpdump not installed: everything but the
# tcpdump decoding has then been checked).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
cap=$B/bin/unetmap-capture
pg=$B/bin/pkt-gen
for f in "$cap" "$pg"; do
	[ -x "$f" ] || { echo "FAIL: not built: $f (make)"; exit 1; }
done
tcpdump=
for t in /usr/sbin/tcpdump /usr/bin/tcpdump; do
	[ -x "$t" ] && { tcpdump=$t; break; }
done
libpcap=
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu; do
	[ -e "$d/libpcap.so.0.8" ] && { libpcap=$d/libpcap.so.0.8; break; }
done
[ "$(printf '\001\000' | od -An -tu2 | tr -d ' ')" = 1 ] \
	|| { echo "big-endian host: the file parser here reads little-endian files"; exit 77; }

tmp=$(mktemp -d /tmp/unetmap-capture-test.XXXXXX)
chmod 755 "$tmp"		# tcpdump may read as its own user
export UNETMAP_DIR=$tmp/run
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null && { sleep 0.2; kill -9 "$p" 2>/dev/null; }
		wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() { echo "FAIL: $*"; exit 1; }

# wait_text FILE REGEX SECS PID: until FILE matches (0), PID died or time is up (1)
wait_text() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -le "$end" ]; do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || { grep -qE -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.05
	done
	return 1
}
# wait_exit PID SECS: exit status of PID; killed (status 124) when time is up
wait_exit() {
	local end=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null && [ $SECONDS -le "$end" ]; do sleep 0.05; done
	if kill -0 "$1" 2>/dev/null; then
		kill "$1"; sleep 0.2; kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124
	fi
	wait "$1"
}

# start NAME ARGS...: unetmap-capture ARGS in the background (stderr in
# $tmp/NAME.err), returns once its port is open; $cpid is its pid
start() {
	local name=$1; shift
	"$cap" "$@" 2>"$tmp/$name.err" &
	cpid=$!; pids+=("$cpid")
	wait_text "$tmp/$name.err" 'capturing on ' 10 "$cpid" \
		|| { cat "$tmp/$name.err"; fail "$name: unetmap-capture $* did not start"; }
}
# finish NAME COUNT: the capture exits 0 by itself, reporting COUNT packets
finish() {
	wait_exit "$cpid" 20; local rc=$?
	[ $rc = 0 ] || { cat "$tmp/$1.err"; fail "$1: unetmap-capture exit status $rc (124: still running after 20 s)"; }
	grep -q "^$2 packets captured$" "$tmp/$1.err" || { cat "$tmp/$1.err"; fail "$1: did not report '$2 packets captured'"; }
}
# send NAME ARGS...: pkt-gen -f tx ARGS, which must succeed
send() {
	local name=$1; shift
	timeout -k 2 30 "$pg" -f tx -w 0 "$@" >"$tmp/$name.pg" 2>&1 \
		|| { tail -n 5 "$tmp/$name.pg"; fail "$name: pkt-gen -f tx $* failed"; }
}

# parse FILE: our own reading of a pcap/pcapng file (little-endian).  Prints
#   pcap snaplen=S linktype=L         or
#   pcapng snaplen=S linktype=L tsresol=R ifname=NAME ifaces=N
# then per record "pkt CAPLEN ORIGLEN NSEC BADPAT" (NSEC: the fraction of
# the second in ns; BADPAT: payload bytes, from offset 42, that differ from
# pkt-gen's pattern), or "ERROR why" and exit 1 at the first inconsistency
# (truncation, block lengths, nsec >= 10^9, timestamps going backwards).
parse() {
	od -An -v -tu1 "$1" | awk '
	{ for (i = 1; i <= NF; i++) b[n++] = $i + 0 }
	function u16(o) { return b[o] + 256 * b[o + 1] }
	function u32(o) { return b[o] + 256 * b[o + 1] + 65536 * b[o + 2] + 16777216 * b[o + 3] }
	function pad4(x) { return int((x + 3) / 4) * 4 }
	function fail(m) { print "ERROR " m; bad = 1; exit 1 }
	function badpat(o, len,   i, c) {
		c = 0
		for (i = 42; i < len; i++)
			if (b[o + i] != pb[(i - 42) % plen]) c++
		return c
	}
	function record(o, caplen, origlen, key, nsec) {
		if (key < prev) fail("timestamps go backwards at record " nrec)
		prev = key; nrec++
		print "pkt", caplen, origlen, nsec, badpat(o, caplen)
	}
	END {
		if (bad) exit 1
		P = "unetmap pkt-gen payload 0123456789 "; plen = length(P)
		for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i
		for (i = 0; i < plen; i++) pb[i] = ord[substr(P, i + 1, 1)]
		if (n < 24) fail("file too short: " n " bytes")
		prev = -1
		if (u32(0) == 2712812621) {		# 0xa1b23c4d, pcap with ns
			if (u16(4) != 2 || u16(6) != 4) fail("pcap version " u16(4) "." u16(6))
			print "pcap snaplen=" u32(16) " linktype=" u32(20)
			for (o = 24; o < n; o += 16 + cl) {
				if (o + 16 > n) fail("truncated record header at " o)
				cl = u32(o + 8); ol = u32(o + 12); ns = u32(o + 4)
				if (o + 16 + cl > n) fail("truncated record at " o)
				if (ns >= 1e9) fail("nanoseconds " ns " at " o)
				if (cl > ol || cl > u32(16)) fail("caplen " cl " origlen " ol " at " o)
				record(o + 16, cl, ol, u32(o) * 1e9 + ns, ns)
			}
			exit 0
		}
		if (u32(0) != 168627466) fail("unknown magic " u32(0))	# 0x0a0d0d0a SHB
		ifaces = 0
		for (o = 0; o < n; o += bl) {
			if (o + 12 > n) fail("truncated block at " o)
			bt = u32(o); bl = u32(o + 4)
			if (bl < 12 || bl % 4 || o + bl > n) fail("block length " bl " at " o)
			if (u32(o + bl - 4) != bl) fail("trailing block length at " o)
			if (bt == 168627466) {
				if (u32(o + 8) != 439041101) fail("byte-order magic at " o)
				if (u16(o + 12) != 1 || u16(o + 14) != 0) fail("SHB version at " o)
			} else if (bt == 1) {		# IDB
				ifaces++; res = 6; name = ""
				for (q = o + 16; q + 4 <= o + bl - 4; q += 4 + pad4(ol)) {
					oc = u16(q); ol = u16(q + 2)
					if (oc == 0) break
					if (oc == 9) res = b[q + 4]
					if (oc == 2) for (i = 0; i < ol; i++) name = name sprintf("%c", b[q + 4 + i])
				}
				hdr = "pcapng snaplen=" u32(o + 12) " linktype=" u16(o + 8) " tsresol=" res " ifname=" name
				snap = u32(o + 12)
			} else if (bt == 6) {		# EPB
				if (!ifaces) fail("EPB before any IDB at " o)
				if (u32(o + 8) != 0) fail("interface " u32(o + 8) " at " o)
				hi = u32(o + 12); lo = u32(o + 16); cl = u32(o + 20); ol = u32(o + 24)
				if (28 + pad4(cl) + 4 > bl) fail("EPB data beyond its block at " o)
				if (cl > ol || cl > snap) fail("caplen " cl " origlen " ol " at " o)
				for (i = cl; i < pad4(cl); i++) if (b[o + 28 + i]) fail("padding not zero at " o)
				# (hi * 2^32 + lo) mod 10^9, exactly, in doubles
				M = 294967296; h1 = int(hi / 65536); h0 = hi % 65536
				ns = ((h1 * M) % 1e9) * 65536 % 1e9
				ns = (ns + (h0 * M) % 1e9 + lo) % 1e9
				if (!printed) { print hdr " ifaces=" ifaces; printed = 1 }
				record(o + 28, cl, ol, hi * 4294967296 + lo, ns)
			}
		}
		if (!printed) print hdr " ifaces=" ifaces
	}' >"$1.parsed" || fail "parse $1: $(grep ERROR "$1.parsed")"
}
# check_file FILE HEADER COUNT CAPLEN ORIGLEN: parsed header and records
check_file() {
	parse "$1"
	head -n1 "$1.parsed" | grep -qx -- "$2" || fail "$1: header '$(head -n1 "$1.parsed")', want '$2'"
	local got
	got=$(awk -v c="$4" -v o="$5" '$1 == "pkt" && $2 == c && $3 == o { n++ } END { print n + 0 }' "$1.parsed")
	[ "$got" = "$3" ] || fail "$1: $got records of $4/$5 bytes, want $3: $(sed -n 2,4p "$1.parsed")"
	[ "$(grep -c '^pkt' "$1.parsed")" = "$3" ] || fail "$1: records other than $4/$5 bytes"
}
# pattern_ok FILE: pkt-gen's payload is intact in every record
pattern_ok() {
	awk '$1 == "pkt" && $5 != 0 { print; exit 1 }' "$1.parsed" \
		|| fail "$1: payload differs from pkt-gen's pattern: $(awk '$1 == "pkt" && $5 != 0' "$1.parsed" | head -n 3)"
}
# ns_resolution FILE: some timestamp is not a whole microsecond
ns_resolution() {
	awk '$1 == "pkt" && $4 % 1000 != 0 { f = 1 } END { exit !f }' "$1.parsed" \
		|| fail "$1: every timestamp is a whole microsecond: $(sed -n 2,4p "$1.parsed")"
}
size_is() {
	local s
	s=$(stat -c %s "$1")
	[ "$s" = "$2" ] || fail "$1: $s bytes, want $2"
}
# td_count FILE REGEX [tcpdump options]: lines of tcpdump -r matching REGEX
td_count() {
	local f=$1 re=$2; shift 2
	timeout 30 "$tcpdump" -n "$@" -r "$f" 2>/dev/null | grep -cE -- "$re"
}
UDPLINE='IP 10\.0\.0\.1\.1234 > 10\.1\.0\.1\.1234: UDP, length 18$'
# pcapng header bytes: SHB with shb_userappl "unetmap-capture (unetmap)"
# (64 bytes) + IDB with if_name PORT and if_tsresol (36 + PORT padded)
ng_head() { echo $((64 + 36 + (${#1} + 3) / 4 * 4)); }

N=2000
# ---- (a) pipe -> pcap ----------------------------------------------------------
start a -i 'netmap:cap}1' -c $N -w "$tmp/a.pcap"
send a -i 'netmap:cap{1' -n $N -l 60
grep -q "^Sent $N packets" "$tmp/a.pg" || fail "(a) pkt-gen did not send $N: $(tail -n 3 "$tmp/a.pg")"
finish a $N
size_is "$tmp/a.pcap" $((24 + N * (16 + 60)))
check_file "$tmp/a.pcap" "pcap snaplen=262144 linktype=1" $N 60 60
pattern_ok "$tmp/a.pcap"
ns_resolution "$tmp/a.pcap"
if [ -n "$tcpdump" ]; then
	got=$(td_count "$tmp/a.pcap" "^[0-9:.]+ $UDPLINE")
	[ "$got" = $N ] || { "$tcpdump" -n -r "$tmp/a.pcap" -c 3; fail "(a) tcpdump -r: $got of $N lines are pkt-gen's UDP frames"; }
	got=$(td_count "$tmp/a.pcap" "^[0-9:]+\.[0-9]{9} $UDPLINE" --nano)
	[ "$got" = $N ] || fail "(a) tcpdump --nano -r: $got of $N lines with 9 decimals"
	td_count "$tmp/a.pcap" '^[0-9:]+\.[0-9]{6}([1-9]..|.[1-9].|..[1-9]) IP ' --nano >/dev/null \
		|| fail "(a) tcpdump --nano shows no sub-microsecond digits"
fi
echo "(a) pipe -> pcap: $N frames, $(stat -c %s "$tmp/a.pcap") bytes"

# ---- (b) pipe -> pcapng --------------------------------------------------------
start b -i 'netmap:ng}1' -c $N -F pcapng -w "$tmp/b.cap"
send b -i 'netmap:ng{1' -n $N -l 60
finish b $N
size_is "$tmp/b.cap" $(($(ng_head 'netmap:ng}1') + N * (32 + 60)))
check_file "$tmp/b.cap" "pcapng snaplen=262144 linktype=1 tsresol=9 ifname=netmap:ng}1 ifaces=1" $N 60 60
pattern_ok "$tmp/b.cap"
ns_resolution "$tmp/b.cap"
if [ -n "$tcpdump" ]; then
	got=$(td_count "$tmp/b.cap" "^[0-9:]+\.[0-9]{9} $UDPLINE" --nano)
	[ "$got" = $N ] || { "$tcpdump" --nano -n -r "$tmp/b.cap" -c 3; fail "(b) tcpdump --nano -r: $got of $N pkt-gen lines"; }
	td_count "$tmp/b.cap" '^[0-9:]+\.[0-9]{6}([1-9]..|.[1-9].|..[1-9]) IP ' --nano >/dev/null \
		|| fail "(b) tcpdump --nano shows no sub-microsecond digits"
fi
# the file name chooses the format when -F is not given
start b2 -i 'netmap:ng2}1' -c 10 -q -w "$tmp/b2.pcapng"
send b2 -i 'netmap:ng2{1' -n 10 -l 60
finish b2 10
check_file "$tmp/b2.pcapng" "pcapng snaplen=262144 linktype=1 tsresol=9 ifname=netmap:ng2}1 ifaces=1" 10 60 60
echo "(b) pipe -> pcapng: $N frames, nanosecond timestamps (if_tsresol 9)"

# ---- (c) VALE ------------------------------------------------------------------------
NV=500
start c -i vale3:cap -c $NV -w "$tmp/c.pcap"
# a VALE sender never waits for a slow receiver: send more, paced, in bursts
send c -i vale3:src -n $((NV * 8)) -b 32 -R 20000 -l 60
finish c $NV
size_is "$tmp/c.pcap" $((24 + NV * 76))
check_file "$tmp/c.pcap" "pcap snaplen=262144 linktype=1" $NV 60 60
pattern_ok "$tmp/c.pcap"
if [ -n "$tcpdump" ]; then
	got=$(td_count "$tmp/c.pcap" "^[0-9:.]+ $UDPLINE")
	[ "$got" = $NV ] || fail "(c) tcpdump -r: $got of $NV pkt-gen lines"
fi
echo "(c) vale3:src -> vale3:cap: $NV frames"

# ---- (d) NS_MOREFRAG chains -------------------------------------------------------
ND=200
# d1: pkt-gen splits by buffer size; d2: -F 7 gives 7 fragments of 715
# bytes (odd sizes); d3 -s 100 pcap, d4 -s 101 pcapng (padding)
i=0
for args in "-c $ND" "-c $ND -F pcapng" "-c $ND -s 100" "-c $ND -s 101 -F pcapng"; do
	i=$((i + 1))
	start d$i -i "netmap:big$i}1" $args -w "$tmp/d$i.cap"
	extra=
	[ $i = 2 ] && extra="-F 7"
	# shellcheck disable=SC2086
	send d$i -i "netmap:big$i{1" -n $ND -l 5000 $extra
	nf=$(sed -n 's/.*frags \([0-9]*\) frag_size.*/\1/p' "$tmp/d$i.pg")
	[ -n "$nf" ] && [ "$nf" -ge 2 ] || fail "(d$i) pkt-gen sent 5000 bytes in '${nf:-?}' slots, not as a chain: $(cat "$tmp/d$i.pg")"
	[ $i = 2 ] && [ "$nf" != 7 ] && fail "(d2) pkt-gen -F 7 made $nf fragments"
	finish d$i $ND
done
size_is "$tmp/d1.cap" $((24 + ND * (16 + 5000)))
check_file "$tmp/d1.cap" "pcap snaplen=262144 linktype=1" $ND 5000 5000
pattern_ok "$tmp/d1.cap"
size_is "$tmp/d2.cap" $(($(ng_head 'netmap:big2}1') + ND * (32 + 5000)))
check_file "$tmp/d2.cap" "pcapng snaplen=262144 linktype=1 tsresol=9 ifname=netmap:big2}1 ifaces=1" $ND 5000 5000
pattern_ok "$tmp/d2.cap"
size_is "$tmp/d3.cap" $((24 + ND * (16 + 100)))
check_file "$tmp/d3.cap" "pcap snaplen=100 linktype=1" $ND 100 5000
pattern_ok "$tmp/d3.cap"
size_is "$tmp/d4.cap" $(($(ng_head 'netmap:big4}1') + ND * (32 + 104)))
check_file "$tmp/d4.cap" "pcapng snaplen=101 linktype=1 tsresol=9 ifname=netmap:big4}1 ifaces=1" $ND 101 5000
pattern_ok "$tmp/d4.cap"
if [ -n "$tcpdump" ]; then
	for f in d1 d2; do
		got=$(td_count "$tmp/$f.cap" '^ +10\.0\.0\.1\.1234 > 10\.1\.0\.1\.1234: \[udp sum ok\] UDP, length 4958$' -vv)
		[ "$got" = $ND ] || { "$tcpdump" -n -vv -r "$tmp/$f.cap" -c 2; fail "($f) tcpdump -vv: $got of $ND frames with a good UDP checksum"; }
	done
	for f in d3 d4; do
		got=$(td_count "$tmp/$f.cap" 'ethertype IPv4 \(0x0800\), length 5000: ' -e)
		[ "$got" = $ND ] || { "$tcpdump" -n -e -r "$tmp/$f.cap" -c 2; fail "($f) tcpdump -e: $got of $ND frames of length 5000"; }
	done
fi
echo "(d) 5000-byte NS_MOREFRAG chains: one record each, payload intact; snaplen 100/101 keep origlen"

# ---- (e) filters ----------------------------------------------------------------------
if [ -n "$libpcap" ]; then
	start e1 -i 'netmap:flt}1' -c 1000 -w "$tmp/e1.pcap" udp port 1234
	send e1 -i 'netmap:flt{1' -n 1000 -l 60
	finish e1 1000
	check_file "$tmp/e1.pcap" "pcap snaplen=262144 linktype=1" 1000 60 60
	grep -q '^1000 packets received by filter$' "$tmp/e1.err" || fail "(e) 'udp port 1234': $(cat "$tmp/e1.err")"
	# 1000 frames to port 1234 then 100 to port 9: only the last 100 pass
	start e2 -i 'netmap:flt2}1' -c 100 -w "$tmp/e2.pcap" udp port 9
	send e2a -i 'netmap:flt2{1' -n 1000 -l 60
	send e2b -i 'netmap:flt2{1' -n 100 -l 60 -d 10.1.0.1:9
	finish e2 100
	grep -q '^1100 packets received by filter$' "$tmp/e2.err" || fail "(e) 'udp port 9': $(cat "$tmp/e2.err")"
	check_file "$tmp/e2.pcap" "pcap snaplen=262144 linktype=1" 100 60 60
	if [ -n "$tcpdump" ]; then
		got=$(td_count "$tmp/e2.pcap" '^[0-9:.]+ IP 10\.0\.0\.1\.1234 > 10\.1\.0\.1\.9: UDP, length 18$')
		[ "$got" = 100 ] || fail "(e) 'udp port 9' kept $got frames to port 9 of 100: $("$tcpdump" -n -r "$tmp/e2.pcap" -c 3 2>&1)"
	fi
	# a filter that keeps nothing: the file is a bare header
	start e3 -i 'netmap:flt3}1' -d 30 -w "$tmp/e3.pcap" udp port 9
	send e3 -i 'netmap:flt3{1' -n 500 -l 60
	wait_text "$tmp/e3.err" '^netmap:flt3\}1: 0 packets' 10 "$cpid" || fail "(e) no live counter line: $(cat "$tmp/e3.err")"
	kill -INT "$cpid"
	finish e3 0
	grep -q '^500 packets received by filter$' "$tmp/e3.err" || fail "(e) 'udp port 9' on port-1234 frames: $(cat "$tmp/e3.err")"
	size_is "$tmp/e3.pcap" 24
	# errors: a bad expression
	out=$(timeout 10 "$cap" -i 'netmap:flt4}1' -w "$tmp/e4.pcap" udp port 2>&1); rc=$?
	[ $rc = 1 ] || fail "(e) bad filter: exit $rc: $out"
	grep -q 'bad filter expression' <<<"$out" || fail "(e) bad filter message: $out"
	# libpcap missing (only where a private mount namespace can hide it)
	real=$(readlink -f "$libpcap")
	ns=
	for u in "unshare -m" "unshare -rm"; do	# -r: as non-root, in a user namespace
		timeout 10 $u sh -c "mount --bind /dev/null '$real'" 2>/dev/null && { ns=$u; break; }
	done
	if [ -n "$ns" ]; then
		out=$(timeout 10 $ns sh -c "mount --bind /dev/null '$real' && exec '$cap' -i 'netmap:flt5}1' -d 0.1 -w '$tmp/e5.pcap' udp" 2>&1); rc=$?
		[ $rc = 1 ] || fail "(e) filter without libpcap: exit $rc: $out"
		grep -q 'needs libpcap' <<<"$out" || fail "(e) filter without libpcap: $out"
		out=$(timeout 10 $ns sh -c "mount --bind /dev/null '$real' && exec '$cap' -i 'netmap:flt5}1' -d 0.1 -w '$tmp/e5.pcap'" 2>&1) \
			|| fail "(e) no filter, no libpcap: $out"
		echo "(e) without libpcap: a filter is refused (exit 1), no filter works"
	else
		echo "(e) cannot hide libpcap here (unshare -m / -rm): missing-libpcap case not run"
	fi
	echo "(e) filters: 'udp port 1234' kept 1000/1000, 'udp port 9' kept 100/1100 and 0/500"
else
	echo "(e) skipped: no libpcap.so.0.8 (Debian's libpcap0.8)"
fi

# ---- (f) -d on an idle port --------------------------------------------------------
t0=$EPOCHREALTIME
TIMEFORMAT='%U %S'
cpu=$( { time timeout 10 "$cap" -i 'netmap:idle}1' -d 1 -w "$tmp/f.pcap" 2>"$tmp/f.err"; } 2>&1 ) \
	|| fail "(f) -d 1: exit status $?: $(cat "$tmp/f.err")"
el=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
awk -v e="$el" 'BEGIN { exit !(e >= 0.95 && e < 3) }' || fail "(f) -d 1 took ${el} s"
grep -q '^0 packets captured$' "$tmp/f.err" || fail "(f) $(cat "$tmp/f.err")"
size_is "$tmp/f.pcap" 24
awk -v u="$cpu" 'BEGIN { split(u, t, " "); exit !(t[1] + t[2] < 0.5) }' || fail "(f) idle capture used $cpu s of CPU (user sys) in 1 s"
echo "(f) -d 1 on an idle port: ${el} s, 0 packets, CPU $cpu s"

# ---- (g) errors -------------------------------------------------------------------------
err_case() {	# err_case WHAT REGEX ARGS...: exit 1, message matching REGEX
	local what=$1 re=$2 out rc; shift 2
	out=$(timeout 10 "$cap" "$@" 2>&1 </dev/null); rc=$?
	[ $rc = 1 ] || fail "(g) $what: exit $rc, want 1: $out"
	grep -qE -- "$re" <<<"$out" || fail "(g) $what: message lacks /$re/: $out"
}
err_case "missing pipe/port" 'cannot open port netmap:nosuchport0: No such device or address' -i netmap:nosuchport0 -w "$tmp/g.pcap"
err_case "malformed spec" 'cannot open port foo:bar: Invalid argument' -i foo:bar -w "$tmp/g.pcap"
err_case "port without RX rings" 'no RX ring' -i 'vale4:t/T' -w "$tmp/g.pcap"
err_case "no -i" 'no port given' -w "$tmp/g.pcap"
err_case "bad -c" 'bad count' -i 'netmap:g}1' -c 0 -w "$tmp/g.pcap"
err_case "bad -d" 'bad duration' -i 'netmap:g}1' -d x -w "$tmp/g.pcap"
err_case "bad -s" 'bad snaplen' -i 'netmap:g}1' -s 300000 -w "$tmp/g.pcap"
err_case "bad -F" 'unknown format' -i 'netmap:g}1' -F pcapx -w "$tmp/g.pcap"
err_case "unwritable file" 'cannot create' -i 'netmap:g}1' -w "$tmp/nodir/g.pcap"
if command -v script >/dev/null; then
	out=$(timeout 10 script -qec "'$cap' -i 'netmap:g}1' -d 0.1" /dev/null 2>&1); rc=$?
	[ $rc = 1 ] || fail "(g) stdout a terminal: exit $rc: $out"
	grep -q 'terminal' <<<"$out" || fail "(g) stdout a terminal: $out"
fi
echo "(g) errors: bad port names and options exit 1 with a message"

# ---- (h) signals, live counter, standard output ----------------------------------------
for sig in TERM INT; do
	start h$sig -i "netmap:sig$sig}1" -w "$tmp/h$sig.pcap"
	send h$sig -i "netmap:sig$sig{1" -n 300 -l 60
	# the live counter (about once a second) shows all 300
	wait_text "$tmp/h$sig.err" "^netmap:sig$sig\\}1: 300 packets, 18\\.0kB, " 10 "$cpid" \
		|| fail "(h) live counter never showed 300 packets: $(cat "$tmp/h$sig.err")"
	kill -$sig "$cpid"
	finish h$sig 300
	size_is "$tmp/h$sig.pcap" $((24 + 300 * 76))
done
# -q: no counter lines
start hq -i 'netmap:q}1' -q -d 1.3 -w "$tmp/hq.pcap"
finish hq 0
[ "$(grep -vc -e '^unetmap-capture: capturing on' -e '^0 packets captured$' "$tmp/hq.err")" = 0 ] \
	|| fail "(h) -q printed more: $(cat "$tmp/hq.err")"
# standard output into a pipe, read as it comes
"$cap" -i 'netmap:out}1' -c 100 -q 2>"$tmp/hout.err" >"$tmp/hout.pcap" &
cpid=$!; pids+=("$cpid")
wait_text "$tmp/hout.err" 'capturing on .*standard output' 10 "$cpid" || fail "(h) stdout capture did not start: $(cat "$tmp/hout.err")"
send hout -i 'netmap:out{1' -n 100 -l 60
finish hout 100
size_is "$tmp/hout.pcap" $((24 + 100 * 76))
if [ -n "$tcpdump" ]; then
	mkfifo "$tmp/live.fifo"
	timeout 20 "$tcpdump" -n -r - <"$tmp/live.fifo" >"$tmp/hlive.txt" 2>/dev/null &
	lp=$!; pids+=("$lp")
	"$cap" -i 'netmap:live}1' -c 50 -q 2>"$tmp/hlive.err" >"$tmp/live.fifo" &
	cpid=$!; pids+=("$cpid")
	wait_text "$tmp/hlive.err" 'capturing on' 10 "$cpid" || fail "(h) capture into tcpdump did not start: $(cat "$tmp/hlive.err")"
	send hlive -i 'netmap:live{1' -n 50 -l 60
	finish hlive 50
	wait_exit "$lp" 20 || fail "(h) unetmap-capture | tcpdump -r -: tcpdump exit status $?"
	got=$(grep -cE "^[0-9:.]+ $UDPLINE" "$tmp/hlive.txt")
	[ "$got" = 50 ] || fail "(h) tcpdump -r - read $got of 50: $(head -n 3 "$tmp/hlive.txt")"
fi
echo "(h) SIGTERM/SIGINT: files complete, exit 0; live counter; -q; standard output"

if [ -z "$tcpdump" ]; then
	echo "tcpdump not installed (Debian package tcpdump): all checks passed except tcpdump's decoding"
	exit 77
fi
exit 0
