#!/bin/sh
# make demo: one delta update of the sample Cortex-M firmware, end to end on
# the host: key pair, signed package, inspect, verify, apply with the device
# engine, and how the package compares with sending the image.
set -eu
BUILD=${1:-build}
DFOTA=$BUILD/dfota
FW=$BUILD/firmware
[ -x "$DFOTA" ] || { echo "demo: $DFOTA not built (run make build)" >&2; exit 1; }
[ -f "$FW/sample_v1.bin" ] || { echo "demo: sample firmware not built" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfota-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

now_ms() { date +%s%3N; }
step() {  # step LABEL CMD...: run, time, stay quiet unless it fails
  label=$1; shift
  t0=$(now_ms)
  if ! "$@" > "$WORK/out" 2> "$WORK/err"; then
    cat "$WORK/err" >&2; echo "demo: $label failed" >&2; exit 1
  fi
  t1=$(now_ms)
  printf '  %-34s %6d ms\n' "$label" $((t1 - t0))
}
size() { wc -c < "$1" | tr -d ' '; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f%%", 100 * a / b }'; }

OLD=$FW/sample_v1.bin
NEW=$FW/sample_v2.bin
echo "dfota demo: update the sample thermostat firmware 1.0.0 -> 1.1.0"
echo "(firmware/sample: a bug fixed, a constant changed, functions added mid-image)"
echo
step "keygen (Ed25519)" "$DFOTA" keygen -o "$WORK/key"
step "diff, A/B layout" "$DFOTA" diff --product dfota-sample --from-version 1.0.0 \
  --to-version 1.1.0 --key "$WORK/key" "$OLD" "$NEW" -o "$WORK/ab.pkg"
step "diff, in place (4 KiB sectors)" "$DFOTA" diff --product dfota-sample --layout inplace \
  --sector-size 4096 --from-version 1.0.0 --to-version 1.1.0 --key "$WORK/key" \
  "$OLD" "$NEW" -o "$WORK/ip.pkg"
step "inspect" "$DFOTA" inspect "$WORK/ab.pkg"
cp "$WORK/out" "$WORK/inspect.txt"
step "verify (signature, source)" "$DFOTA" verify --pub "$WORK/key.pub" --source "$OLD" "$WORK/ab.pkg"
step "apply A/B with the device engine" "$DFOTA" apply --pub "$WORK/key.pub" "$OLD" "$WORK/ab.pkg" -o "$WORK/new-ab.bin"
step "apply in place" "$DFOTA" apply --pub "$WORK/key.pub" "$OLD" "$WORK/ip.pkg" -o "$WORK/new-ip.bin"
cmp -s "$WORK/new-ab.bin" "$NEW" || { echo "demo: A/B result differs from the target" >&2; exit 1; }
cmp -s "$WORK/new-ip.bin" "$NEW" || { echo "demo: in-place result differs from the target" >&2; exit 1; }
xz -9e -k -c "$NEW" > "$WORK/new.xz"

N=$(size "$NEW"); A=$(size "$WORK/ab.pkg"); I=$(size "$WORK/ip.pkg"); X=$(size "$WORK/new.xz")
echo
echo "package, as inspect shows it:"
sed 's/^/  /' "$WORK/inspect.txt"
echo
printf '  %-34s %8d bytes\n' "target image (1.1.0)" "$N"
printf '  %-34s %8d bytes\n' "target image, xz -9e" "$X"
printf '  %-34s %8d bytes  = %s of the image, %s of the xz image\n' "signed A/B package" "$A" "$(pct "$A" "$N")" "$(pct "$A" "$X")"
printf '  %-34s %8d bytes  = %s of the image, %s of the xz image\n' "signed in-place package" "$I" "$(pct "$I" "$N")" "$(pct "$I" "$X")"
echo
echo "Both packages applied with libdfota's engine give the exact 1.1.0 image."
