#!/bin/sh
# run_fuzzer.sh FUZZER SEEDS WORK ARTIFACTS [libFuzzer options...]
# One bounded libFuzzer run for CTest: new inputs go to WORK (emptied first),
# the seeds in SEEDS are read only, crash reproducers land in ARTIFACTS.
set -e
fuzzer=$1 seeds=$2 work=$3 artifacts=$4
shift 4
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "no seed corpus in $seeds (build target fuzz_corpus)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work" "$artifacts"
exec "$fuzzer" -artifact_prefix="$artifacts/$(basename "$fuzzer")-" "$@" "$work" "$seeds"
