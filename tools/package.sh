#!/usr/bin/env bash
# Builds the Debian package: a release build configured for prefix /usr (libraries in
# the multiarch directory, configuration in /etc), then `cpack -G DEB`.
#
#   tools/package.sh                  -> build/package/qlaster_VERSION_ARCH.deb
#   tools/package.sh --clean-check    the same, then installs it with apt-get into a
#                                     minimal Debian 12 made by mmdebstrap (nothing but
#                                     the required packages), which must fetch every
#                                     Depends itself, and runs tests/package_overlay_test.sh
#                                     there: user, files, the packaged service with its
#                                     flag file, access by group, SIGTERM, purge.
#
# The ctest suite (tests/package_test.py) checks the package built from the tree under
# test, in an overlay of this machine's root; --clean-check is the on-demand proof that
# the Depends are complete on a machine that has none of them. It needs root and the
# network to the Debian archive (apt's own sources of this machine are used). Build
# directory: $BUILD_ROOT/package (BUILD_ROOT defaults to build/). JOBS: parallel jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_ROOT=${BUILD_ROOT:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
DIR=$BUILD_ROOT/package

clean_check=0
case "${1:-}" in
  "") ;;
  --clean-check) clean_check=1 ;;
  *) echo "usage: tools/package.sh [--clean-check]" >&2; exit 64 ;;
esac

mkdir -p "$BUILD_ROOT"
cmake -S "$ROOT" -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DQLASTER_BUILD_TESTS=OFF >"$DIR.configure.log" 2>&1 || { cat "$DIR.configure.log"; exit 1; }
cmake --build "$DIR" -j "$JOBS"
rm -f "$DIR"/qlaster_*.deb
(cd "$DIR" && cpack -G DEB --config CPackConfig.cmake -B "$DIR" >"$DIR/cpack.log" 2>&1) ||
  { cat "$DIR/cpack.log"; exit 1; }
deb=$(ls "$DIR"/qlaster_*.deb)
echo "package.sh: $deb"
dpkg-deb -f "$deb" Package Version Architecture Depends

[ "$clean_check" = 1 ] || exit 0

[ "$(id -u)" = 0 ] || { echo "package.sh: --clean-check needs root" >&2; exit 1; }
if ! command -v mmdebstrap >/dev/null; then
  apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/qlaster-clean-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
sources=""
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
  if [ -s "$f" ]; then sources=$f; break; fi
done
[ -n "$sources" ] || { echo "package.sh: no apt sources to build a Debian root from" >&2; exit 1; }
echo "package.sh: a minimal Debian 12 (mmdebstrap --variant=required, sources from $sources)"
mmdebstrap --quiet --variant=required bookworm "$work/base" "$sources"
mkdir "$work/overlay"
unshare --mount --propagation private \
  bash "$ROOT/tests/package_overlay_test.sh" "$deb" "$ROOT" "$work/overlay" "$work/base"
echo "package.sh: clean check passed"
