#!/bin/bash
# Build Debian's libpcap 1.10.3 source package with netmap support against
# unetmap's headers (include/), for testing unmodified libpcap clients (tcpdump).
#
#   scripts/libpcap.sh            build once; later runs only print where it is
#   scripts/libpcap.sh --force    rebuild from a fresh source tree
#
# Everything lands in build/third_party/ (git-ignored):
#   build/third_party/src/libpcap-1.10.3/   unpacked Debian source (patches applied)
#   build/third_party/pcap-prefix/           make install (lib/libpcap.so.0.8, ...)
# As root it also adds deb-src entries mirroring the configured Debian bookworm
# sources (/etc/apt/sources.list.d/unetmap-deb-src.{sources,list}), runs
# apt-get update and installs flex, bison and Debian's tcpdump binary.
# Exit status: 0 built (or already built), 77 cannot build without root, 1 error.
# The last line on stdout is the path of the built libpcap.so.
set -eu -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
tp=$top/build/third_party
prefix=$tp/pcap-prefix
srcdir=$tp/src
stamp=$prefix/.unetmap-stamp
want_upstream=1.10.3
force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "libpcap.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The inline netmap code (nm_open, nm_dispatch, ...) is compiled into libpcap
# from our headers, so a header change means a rebuild.
header_sum() {
	cat "$top"/include/net/netmap.h "$top"/include/net/netmap_user.h \
	    "$top"/include/net/netmap_legacy.h 2>/dev/null | sha256sum | cut -d' ' -f1
}
stamp_text="libpcap $want_upstream headers $(header_sum)"

is_root() { [ "$(id -u)" = 0 ]; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep 'install ok installed' >/dev/null; }

# --- deb-src -----------------------------------------------------------------
have_deb_src() {
	grep -hsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		| grep . >/dev/null && return 0
	grep -hsiE '^Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources | grep . >/dev/null
}

# deb822 stanzas with "Types: deb" for bookworm suites -> same stanzas as deb-src
deb822_to_src() {
	awk '
	function flush() {
		if (types ~ /(^|[ \t])deb([ \t]|$)/ && suites ~ /bookworm/ && uris != "") {
			print "Types: deb-src"
			print "URIs: " uris
			print "Suites: " suites
			if (comps != "") print "Components: " comps
			if (signed != "") print "Signed-By: " signed
			print ""
		}
		types = uris = suites = comps = signed = ""
	}
	/^[ \t]*#/ { next }
	/^[ \t]*$/ { flush(); next }
	{
		key = tolower($1); sub(/:$/, "", key)
		val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (key == "types") types = val
		else if (key == "uris") uris = val
		else if (key == "suites") suites = val
		else if (key == "components") comps = val
		else if (key == "signed-by") signed = val
		else if (key == "enabled" && tolower(val) == "no") types = ""
	}
	END { flush() }' "$@"
}

ensure_deb_src() {
	have_deb_src && return 0
	is_root || return 1
	local s822=/etc/apt/sources.list.d/unetmap-deb-src.sources
	local s1=/etc/apt/sources.list.d/unetmap-deb-src.list
	local srcs=() f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$s822" ] && srcs+=("$f")
	done
	if [ ${#srcs[@]} -gt 0 ]; then
		deb822_to_src "${srcs[@]}" >"$s822.tmp"
		if [ -s "$s822.tmp" ]; then
			{ echo "# added by unetmap scripts/libpcap.sh (mirrors the deb entries)"; cat "$s822.tmp"; } >"$s822"
		fi
		rm -f "$s822.tmp"
	fi
	# one-line format: "deb [opts] URI SUITE COMPONENTS..."
	grep -hsE '^[[:space:]]*deb[[:space:]].*bookworm' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		| grep -v "^#" | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' >"$s1.tmp" || true
	if [ -s "$s1.tmp" ]; then
		{ echo "# added by unetmap scripts/libpcap.sh (mirrors the deb lines)"; cat "$s1.tmp"; } >"$s1"
	fi
	rm -f "$s1.tmp"
	have_deb_src || die "found no Debian bookworm 'deb' entry to mirror as deb-src"
	log "added deb-src entries: $(ls "$s822" "$s1" 2>/dev/null | tr '\n' ' ')"
	need_update=1
}

# --- one run at a time (make check, a developer, another session) ---------------
mkdir -p "$tp" 2>/dev/null || true
if { : >>"$tp/.lock"; } 2>/dev/null; then
	exec 9>>"$tp/.lock"
	flock -w 900 9 || die "another scripts/libpcap.sh holds $tp/.lock for 15 min"
fi

# --- already built? -------------------------------------------------------------
libpath() { ls "$prefix"/lib/libpcap.so.*.*.* 2>/dev/null | head -n1; }

need_update=0
missing=()
for p in flex bison tcpdump; do have_pkg "$p" || missing+=("$p"); done

if [ $force = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] && [ -n "$(libpath)" ] \
   && ! printf '%s\n' "${missing[@]}" | grep -x tcpdump >/dev/null; then
	log "already built ($(cat "$stamp" | cut -c1-40)...)"
	echo "$(libpath)"
	exit 0
fi

if ! is_root; then
	if [ ${#missing[@]} -gt 0 ] || ! have_deb_src; then
		log "not root: cannot install ${missing[*]:-} / add deb-src; run as root once"
		exit 77
	fi
	w=$tp; [ -e "$w" ] || w=$top/build
	if [ ! -w "$w" ] || { [ -e "$srcdir" ] && [ ! -w "$srcdir" ]; } \
	   || { [ -e "$prefix" ] && [ ! -w "$prefix" ]; }; then
		log "not root and $tp is not writable: cannot (re)build; run as root"
		exit 77
	fi
fi

export DEBIAN_FRONTEND=noninteractive
if is_root; then
	ensure_deb_src
	# need the source index (Sources) for libpcap as well as the missing packages
	if [ $need_update = 1 ] || ! apt-cache showsrc libpcap 2>/dev/null | grep '^Version:' >/dev/null \
	   || [ ${#missing[@]} -gt 0 ]; then
		log "apt-get update"
		apt-get update -q >&2 || die "apt-get update failed"
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || die "apt-get install failed"
	fi
fi

# --- source ---------------------------------------------------------------------
ver=$(apt-cache showsrc libpcap 2>/dev/null | awk '/^Version:/ {print $2}' \
	| grep -E "^([0-9]+:)?$want_upstream-" | sort -V | tail -n1 || true)
[ -n "$ver" ] || die "no libpcap $want_upstream source version known to apt (deb-src missing?)"
t0=$EPOCHREALTIME
mkdir -p "$srcdir"
tree=$srcdir/libpcap-$want_upstream
rm -rf "$tree"
dsc=$(ls "$srcdir"/libpcap_"${ver#*:}".dsc 2>/dev/null || true)
if [ -z "$dsc" ]; then
	log "apt-get source libpcap=$ver"
	(cd "$srcdir" && apt-get source -q --download-only "libpcap=$ver" >&2) || die "apt-get source failed"
	dsc=$srcdir/libpcap_${ver#*:}.dsc
fi
(cd "$srcdir" && dpkg-source -q -x "$dsc" "$tree" >&2) || die "dpkg-source -x $dsc failed"
t1=$EPOCHREALTIME

# --- configure, check, build, install ---------------------------------------------
cd "$tree"
log "configure (netmap against $top/include)"
./configure -q --prefix="$prefix" --enable-netmap \
	--without-dpdk --disable-dbus --disable-rdma --disable-bluetooth --disable-usb \
	CFLAGS="-g -O2 -I$top/include" >"$tree/unetmap-configure.log" 2>&1 \
	|| { tail -n 30 "$tree/unetmap-configure.log" >&2; die "configure failed"; }
if ! grep -q '^#define PCAP_SUPPORT_NETMAP 1' config.h; then
	grep -i netmap "$tree/unetmap-configure.log" config.log | tail -n 20 >&2 || true
	die "configure did not enable netmap (PCAP_SUPPORT_NETMAP missing in $tree/config.h)"
fi
t2=$EPOCHREALTIME
log "make"
make -j"$(nproc)" >"$tree/unetmap-make.log" 2>&1 || { tail -n 30 "$tree/unetmap-make.log" >&2; die "make failed"; }
rm -rf "$prefix"
make install >"$tree/unetmap-install.log" 2>&1 || { tail -n 30 "$tree/unetmap-install.log" >&2; die "make install failed"; }
t3=$EPOCHREALTIME
lib=$(libpath)
[ -n "$lib" ] || die "no libpcap.so.* under $prefix/lib after make install"
strings "$lib" | grep 'netmap:' >/dev/null || die "$lib has no netmap code"
echo "$stamp_text" >"$stamp"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
	'BEGIN { printf "libpcap.sh: timings: source %.1fs, configure %.1fs, make+install %.1fs\n", b-a, c-b, d-c }' >&2
log "built libpcap $ver with netmap: $lib"
echo "$lib"
