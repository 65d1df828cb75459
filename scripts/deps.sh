#!/bin/bash
# Install the Debian packages the build, tests and benchmarks need (only
# what is missing; needs root for apt-get, otherwise just reports).
pkgs=(build-essential clang make pkg-config libdpdk-dev gnuplot-nox iproute2 procps)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages: ${missing[*]} (run as root to install)" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q && apt-get install -y -q "${missing[@]}"
