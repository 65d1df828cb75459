#!/bin/bash
# Demo: pkt-gen sends on one end of a netmap pipe, a second pkt-gen process
# receives on the other end; then the same through a VALE switch
# (vale0:a -> vale0:b, one copy per frame), with vale-ctl's port counters.
# Both print live rates and a final summary.  DEMO_SECS (default 5) bounds
# each part.
set -u
cd "$(dirname "$0")/.."
BIN=build/bin/pkt-gen
SECS=${DEMO_SECS:-5}
export UNETMAP_DIR=${UNETMAP_DIR:-$(mktemp -d /dev/shm/unetmap-demo.XXXXXX)}
trap 'kill $rx 2>/dev/null; rm -rf "$UNETMAP_DIR"' EXIT
ncpu=$(nproc)
rx_cpu=$(( ncpu > 1 ? 1 : 0 ))
echo "== unetmap demo: pkt-gen -f tx -> netmap:demo{1 ... netmap:demo}1 -> pkt-gen -f rx (${SECS}s)"
echo "== runtime directory: $UNETMAP_DIR"
$BIN -i 'netmap:demo}1' -f rx -W -w 0 -a $rx_cpu 2>&1 | sed -u 's/^/[rx] /' &
rx=$!
sleep 0.3
timeout -s INT "$SECS" $BIN -i 'netmap:demo{1' -f tx -w 0 -a 0 2>&1 | sed -u 's/^/[tx] /'
sleep 1.2
pkill -INT -f "pkt-gen -i netmap:demo}1" 2>/dev/null
wait $rx 2>/dev/null

echo
echo "== VALE: pkt-gen -f tx on vale0:a -> learning switch vale0 -> pkt-gen -f rx on vale0:b (${SECS}s)"
$BIN -i vale0:b -f rx -W -a $rx_cpu 2>&1 | sed -u 's/^/[rx] /' &
rx=$!
sleep 0.3
timeout -s INT "$SECS" $BIN -i vale0:a -f tx -a 0 -S 02:00:00:00:00:0a -D 02:00:00:00:00:0b \
	2>&1 | sed -u 's/^/[tx] /' &
tx=$!
sleep $((SECS > 2 ? SECS - 1 : 1))
echo "== vale-ctl -s vale0 (per-port counters, while traffic runs)"
build/bin/vale-ctl -s vale0
wait $tx 2>/dev/null
sleep 1.2
pkill -INT -f "pkt-gen -i vale0:b" 2>/dev/null
wait $rx 2>/dev/null
exit 0
