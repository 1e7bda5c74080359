#!/bin/sh
# Install the Debian packages dfota needs; does nothing when they are present.
# Usage: scripts/install-deps.sh [build|test|bench|all]   (default: all)
set -eu

BUILD="cmake make gcc pkg-config libsodium-dev libdivsufsort-dev libcurl4-openssl-dev libssl-dev"
TEST="libcmocka-dev clang libclang-rt-14-dev gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm nginx-light varnish openssl curl xz-utils python3 python3-serial socat ppp"
BENCH="bsdiff xdelta3 zstd xz-utils gnuplot-nox time valgrind python3"

case "${1:-all}" in
  build) want="$BUILD" ;;
  test)  want="$BUILD $TEST" ;;
  bench) want="$BUILD $BENCH" ;;
  all)   want="$BUILD $TEST $BENCH" ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
# The corpus script needs npm; a machine may already have it from Node.js.
case "${1:-all}" in bench|all) command -v npm >/dev/null 2>&1 || missing="$missing npm" ;; esac
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages:$missing; run this script as root" >&2; exit 1
  fi
else SUDO=""; fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps qemu and gnuplot from pulling in a desktop.
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
