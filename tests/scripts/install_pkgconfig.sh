#!/bin/bash
# Description: `make install PREFIX=...` installs library, headers, tools and
# libunetmap.pc; the example program builds with pkg-config alone and runs.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/unetmap-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export UNETMAP_DIR=$tmp/run
make -s -C "$top" install PREFIX="$tmp/prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
for f in lib/libunetmap.so include/net/netmap.h include/net/netmap_user.h \
	 include/net/netmap_legacy.h include/libnetmap.h include/unetmap.h bin/pkt-gen \
	 lib/pkgconfig/libunetmap.pc; do
	[ -e "$tmp/prefix/$f" ] || { echo "missing $f"; exit 1; }
done
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
cc -std=gnu11 -Wall -Wextra -Werror "$top/examples/pipe_hello.c" -o "$tmp/hello" \
	$(pkg-config --cflags --libs libunetmap) -Wl,-rpath,"$tmp/prefix/lib" || exit 1
timeout 30 "$tmp/hello" || { echo "example failed"; exit 1; }
exit 0
