#!/bin/bash
# Install the Debian packages unetmap needs, only those missing.
#   scripts/deps.sh          build, tests, demo and benchmarks
#   scripts/deps.sh --test   build and tests only (what CI needs)
# Needs root for apt-get; otherwise it only reports what is missing.
pkgs=(build-essential make pkg-config procps clang tcpdump iproute2 libbpf-dev libxdp-dev libelf-dev zlib1g-dev)
[ "${1:-}" = "--test" ] || pkgs+=(libdpdk-dev dpdk-dev gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q "${missing[@]}"
