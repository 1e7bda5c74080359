#!/bin/sh
# coverage.sh BUILD CORPUS...: line coverage of libdfota (lib/*.c) reached by
# each fuzz target's corpus, measured with clang source-based coverage.
#   BUILD   a build tree to configure (e.g. build-cov); the fuzz targets are
#           built there with -fprofile-instr-generate -fcoverage-mapping
#   CORPUS  directories holding one subdirectory per target (e.g.
#           build-fuzz/fuzz/corpus and a long run's work directories); every
#           input found for a target is run once (-runs=0)
# Prints, per target, the llvm-cov line coverage of each lib/ file and the
# total. Needs clang and llvm-profdata/llvm-cov (llvm-14 on Debian 12:
# LLVM_BIN=/usr/lib/llvm-14/bin by default).
set -e
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
shift
LLVM_BIN=${LLVM_BIN:-/usr/lib/llvm-14/bin}
targets="fuzz_pkg_parse fuzz_patch_decode fuzz_engine fuzz_journal fuzz_snapshot"
cov="-fprofile-instr-generate -fcoverage-mapping"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDFOTA_FUZZ=ON -DDFOTA_ARM=OFF -DDFOTA_FUZZ_SANITIZERS=address \
  -DCMAKE_C_FLAGS="$cov" -DCMAKE_EXE_LINKER_FLAGS="$cov" >/dev/null
cmake --build "$build" -j2 --target $targets >/dev/null
out=$build/fuzz/cov
rm -rf "$out"
mkdir -p "$out"
for t in $targets; do
  dirs=
  for c in "$@"; do
    [ -d "$c/$t" ] && dirs="$dirs $c/$t"
  done
  [ -n "$dirs" ] || { echo "$t: no corpus"; continue; }
  LLVM_PROFILE_FILE="$out/$t.profraw" ASAN_OPTIONS=detect_leaks=0 DFOTA_FUZZ_KNOWN=violation \
    "$build/fuzz/$t" -runs=0 $dirs >"$out/$t.log" 2>&1 || true
  "$LLVM_BIN/llvm-profdata" merge -sparse "$out/$t.profraw" -o "$out/$t.profdata"
  echo "== $t ($(ls $dirs | wc -l) inputs)"
  "$LLVM_BIN/llvm-cov" report "$build/fuzz/$t" -instr-profile="$out/$t.profdata" \
    "$src/lib" | awk '/^TOTAL|\.c / { printf "%-12s lines %5s  missed %5s  line coverage %s\n", $1, $8, $9, $10 }'
done
