#!/bin/sh
# make install, checked: cmake --install of the build into a DESTDIR; the
# files are there; a firmware-style project finds libdfota with
# find_package(dfota) and with pkg-config, builds and runs; the device
# library builds alone with -DDFOTA_HOST=OFF (no libsodium, libdivsufsort,
# libcurl, libcrypto).
#
#   sh tests/cli/test_install.sh BUILD_DIR SOURCE_DIR
set -u
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2; exit 2; }
B=$(cd "$1" && pwd) S=$(cd "$2" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/dfota-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

D=$T/stage
if DESTDIR=$D cmake --install "$B" --prefix /usr >"$T/install.log" 2>&1; then ok; else
    bad "cmake --install failed"; sed 's/^/    | /' "$T/install.log" | tail -5; fi
for f in bin/dfota share/man/man1/dfota.1 share/bash-completion/completions/dfota \
         include/dfota/engine.h include/dfota/package.h include/dfota/dfota_ed25519.h \
         lib/libdfota.a lib/libdfota_ed25519.a lib/pkgconfig/dfota.pc \
         lib/cmake/dfota/dfotaConfig.cmake lib/cmake/dfota/dfotaConfigVersion.cmake \
         lib/cmake/dfota/dfotaTargets.cmake; do
    [ -e "$D/usr/$f" ] && ok || bad "not installed: /usr/$f"
done
"$D/usr/bin/dfota" --version | grep -q "^dfota " && ok || bad "installed dfota does not run"
if [ -x "$B/dfota-modem" ]; then
    [ -x "$D/usr/bin/dfota-modem" ] && ok || bad "dfota-modem is built but not installed"
fi
bash -n "$D/usr/share/bash-completion/completions/dfota" && ok || bad "completion is not valid bash"
if command -v man >/dev/null 2>&1; then
    man -l "$D/usr/share/man/man1/dfota.1" 2>/dev/null | grep -q "EXIT STATUS" && ok || bad "man page does not render"
fi
(bash -c ". '$D/usr/share/bash-completion/completions/dfota' && COMP_WORDS=(dfota di) COMP_CWORD=1 && _dfota && echo \${COMPREPLY[*]}") 2>/dev/null | grep -q "diff" && ok || bad "completion does not offer 'diff'"

mkdir -p "$T/fw"
cat >"$T/fw/main.c" <<'C'
#include <stdio.h>
#include "dfota/engine.h"
#include "dfota/error.h"
int main(void)
{
    printf("%s %u\n", dfota_strerror(DFOTA_ERR_SOURCE), (unsigned)sizeof(struct dfota_engine) > 0);
    return 0;
}
C
cat >"$T/fw/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.20)
project(fw C)
find_package(dfota 0.1 REQUIRED)
add_executable(fw main.c)
target_link_libraries(fw PRIVATE dfota::dfota)
C
if cmake -S "$T/fw" -B "$T/fw/build" -DCMAKE_PREFIX_PATH="$D/usr" >"$T/fw.log" 2>&1 &&
    cmake --build "$T/fw/build" >>"$T/fw.log" 2>&1; then ok; else
    bad "find_package(dfota) project does not build"; sed 's/^/    | /' "$T/fw.log" | tail -8; fi
"$T/fw/build/fw" 2>/dev/null | grep -q "source digest" && ok || bad "find_package(dfota) program does not run"
if PKG_CONFIG_PATH=$D/usr/lib/pkgconfig cc -o "$T/fw/pc" "$T/fw/main.c" \
    $(PKG_CONFIG_PATH=$D/usr/lib/pkgconfig pkg-config --define-variable=prefix="$D/usr" --cflags --libs dfota) \
    2>"$T/pc.log"; then ok; else bad "pkg-config build fails"; sed 's/^/    | /' "$T/pc.log" | tail -5; fi
"$T/fw/pc" | grep -q "source digest" && ok || bad "pkg-config program does not run"

# the device library alone, as a firmware project's toolchain would build it
if cmake -S "$S" -B "$T/lib" -DDFOTA_HOST=OFF -DDFOTA_ARM=OFF >"$T/lib.log" 2>&1 &&
    cmake --build "$T/lib" -j2 >>"$T/lib.log" 2>&1; then ok; else
    bad "-DDFOTA_HOST=OFF does not build"; sed 's/^/    | /' "$T/lib.log" | tail -8; fi
grep -v "^//" "$T/lib/CMakeCache.txt" | grep -qi "sodium\|divsufsort\|libcrypto\|curl" && bad "-DDFOTA_HOST=OFF still looks for host libraries" || ok
[ -f "$T/lib/lib/libdfota.a" ] && ok || bad "-DDFOTA_HOST=OFF: no libdfota.a"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
