#!/usr/bin/env bash
# Installs what qlaster needs to build and test on Debian 12. Idempotent: quiet and quick
# when everything is already installed. Runs apt-get as root, or through sudo.
set -euo pipefail

PACKAGES=(
  cmake ninja-build pkg-config g++ clang libclang-rt-14-dev
  libabsl-dev libflatbuffers-dev flatbuffers-compiler liblz4-dev
  libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev gnutls-bin python3 gnuplot-nox
  systemd dpkg-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  python3-grpcio python3-protobuf nettle-dev
  python3-pytest python3-pip python3-setuptools python3-wheel cargo
  python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
