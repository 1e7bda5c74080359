#!/bin/sh
# make demo: the main job end to end on one machine. The sample thermostat
# firmware 1.0.0 -> 1.1.0 as a signed delta, served by nginx on a free
# loopback port, downloaded and applied by dfota-modem (a simulated BC20
# with libdfota inside, on the simulator's NB-IoT link preset), driven by
# `dfota update` over the module's serial port. Every process and temp file
# is cleaned up at the end, also on Ctrl-C.
set -eu
BUILD=${1:-build}
DFOTA=$BUILD/dfota
MODEM=$BUILD/dfota-modem
FW=$BUILD/firmware
PY=/usr/bin/python3
NGINX=/usr/sbin/nginx
for f in "$DFOTA" "$MODEM"; do
  [ -x "$f" ] || { echo "demo: $f not built (run make build)" >&2; exit 1; }
done
[ -f "$FW/sample_v1.bin" ] || { echo "demo: sample firmware not built (DFOTA_ARM=ON)" >&2; exit 1; }
for f in "$NGINX" /usr/bin/socat "$PY" /usr/bin/curl /usr/bin/xz; do
  [ -x "$f" ] || { echo "demo: $f is missing (sh scripts/install-deps.sh test)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfota-demo.XXXXXX")
chmod 755 "$WORK"     # nginx's workers may run as nobody
PIDS=""
cleanup() {
  trap - EXIT INT TERM
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up" >&2; exit 130' INT TERM

now_ms() { date +%s%3N; }
size() { wc -c < "$1" | tr -d ' '; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
# NB-IoT preset of dfota-modem: 26 kbit/s down, 800 ms round trip, a GET
# waits two round trips before its first byte (docs/modem.md).
nbiot_s() { awk -v n="$1" 'BEGIN { printf "%.1f", 2 * 0.8 + n * 8 / 26000 }'; }
wait_for() {  # wait_for WHAT CMD...: up to 10 s for CMD to succeed
  what=$1; shift; i=0
  until "$@" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "demo: $what did not come up" >&2; exit 1; }
    sleep 0.05
  done
}
step() {  # step LABEL CMD...: run quietly, print the time, show errors
  label=$1; shift
  t0=$(now_ms)
  if ! "$@" > "$WORK/out" 2> "$WORK/err"; then
    cat "$WORK/err" >&2; echo "demo: $label failed" >&2; exit 1
  fi
  printf '  %-40s %6d ms\n' "$label" $(($(now_ms) - t0))
}

OLD=$FW/sample_v1.bin
NEW=$FW/sample_v2.bin
echo "dfota demo: a BC20-style module updates the sample thermostat firmware 1.0.0 -> 1.1.0"
echo "(firmware/sample: a bug fixed, a constant changed, functions added mid-image)"
echo
echo "1. The release side: a key pair and a signed delta package"
step "keygen (Ed25519)" "$DFOTA" keygen -o "$WORK/release.key"
step "diff 1.0.0 -> 1.1.0, A/B layout, signed" "$DFOTA" diff --product dfota-sample \
  --from-version 1.0.0 --to-version 1.1.0 --key "$WORK/release.key" "$OLD" "$NEW" -o "$WORK/ab.pkg"
step "diff, in place (4 KiB sectors), signed" "$DFOTA" diff --product dfota-sample --layout inplace \
  --sector-size 4096 --from-version 1.0.0 --to-version 1.1.0 --key "$WORK/release.key" \
  "$OLD" "$NEW" -o "$WORK/ip.pkg"
step "verify (signature, source)" "$DFOTA" verify --pub "$WORK/release.key.pub" --source "$OLD" "$WORK/ab.pkg"
"$DFOTA" inspect --pub "$WORK/release.key.pub" "$WORK/ab.pkg" | sed 's/^/    /'

echo
echo "2. The server: nginx on a free loopback port, its own config in a temp dir"
mkdir -p "$WORK/www/fw" "$WORK/nginx/tmp"
cp "$WORK/ab.pkg" "$WORK/www/fw/thermostat-1.0.0_to_1.1.0.dfota"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  access_log $WORK/nginx/access.log;
  server {
    listen 127.0.0.1:$PORT;
    root $WORK/www;
    location /fw/ {
      types { }
      default_type application/octet-stream;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }
  }
}
EOF
"$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
PIDS="$PIDS $!"
URL=http://127.0.0.1:$PORT/fw/thermostat-1.0.0_to_1.1.0.dfota
wait_for nginx curl -sf -o /dev/null "$URL"
echo "  serving $URL"
curl -sI "$URL" | grep -Ei '^(content-length|content-type|etag|accept-ranges|cache-control)' | \
  tr -d '\r' | sed 's/^/    /'

echo
echo "3. The module: dfota-modem with firmware 1.0.0, on the NB-IoT link preset"
"$MODEM" --flash "$WORK/module.flash" --firmware "$OLD" --revision 1.0.0 \
  --pubkey "$WORK/release.key.pub" --product dfota-sample --link nbiot \
  --pty-link "$WORK/bc20" -v > "$WORK/modem.out" 2> "$WORK/modem.log" &
PIDS="$PIDS $!"
wait_for "dfota-modem's pty" test -e "$WORK/bc20"
# socat between the module and the driver records the serial line, so the
# URCs can be shown after the progress bars (socat -v: > to the module, < from it)
socat -v PTY,link="$WORK/host",raw,echo=0 "$WORK/bc20",raw,echo=0 2> "$WORK/serial.log" &
PIDS="$PIDS $!"
wait_for "socat" test -e "$WORK/host"
echo "  $(head -1 "$WORK/modem.out") (the module's serial port), linked as $WORK/bc20"

echo
echo "4. dfota update: AT sync, network checks, AT+QFOTADL, the URCs, the reboot"
echo "   \$ dfota update --port <pty> --expect-revision 1.1.0 $URL"
t0=$(now_ms)
rc=0
"$DFOTA" update --port "$WORK/host" --timeout 300 --expect-revision 1.1.0 "$URL" || rc=$?
t1=$(now_ms)
[ "$rc" = 0 ] || { echo "demo: dfota update failed ($rc)" >&2; exit 1; }

echo
echo "5. What went over the serial line (recorded by socat; long runs of progress cut)"
"$PY" - "$WORK/serial.log" > "$WORK/transcript" <<'EOF'
import re, sys
from datetime import datetime
data = open(sys.argv[1], "rb").read().decode("latin-1")
hdr = re.compile(r"([<>]) (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\.(\d+)  length=\d+ from=\d+ to=\d+\n")
parts = hdr.split(data)
lines, buf = [], {"<": "", ">": ""}
for i in range(1, len(parts) - 3, 4):
    d, day, frac, body = parts[i], parts[i + 1], parts[i + 2], parts[i + 3]
    t = datetime.strptime(day, "%Y/%m/%d %H:%M:%S").timestamp() + int(frac[-6:]) / 1e6
    buf[d] += body.replace("\\r", "\r").replace("\\n", "\n")  # socat -v writes CR as \r
    *done, buf[d] = re.split(r"[\r\n]+", buf[d])
    lines += [(t, d, x) for x in done if x.strip()]
start = end = None
shown, run = [], []
def flush():
    if len(run) > 4:
        shown.extend(run[:2] + [("", "", "           ... (%d more)" % (len(run) - 3))] + run[-1:])
    else:
        shown.extend(run)
    run.clear()
for t, d, x in lines:
    if "HTTPSTART" in x and start is None:
        start = t
    if "HTTPEND" in x and end is None:
        end = t
    e = (t, d, x)
    if '"DOWNLOADING"' in x or '"UPDATING"' in x:
        run.append(e)
        continue
    flush()
    shown.append(e)
flush()
for t, d, x in shown:
    print(("   %s %s" % ({">": "host:  ", "<": "module:"}.get(d, "       "), x)) if d else x)
print("download_s %.2f" % (end - start) if start and end else "download_s -")
EOF
grep -v '^download_s' "$WORK/transcript"
DL_S=$(sed -n 's/^download_s //p' "$WORK/transcript")

xz -9e -k -c "$NEW" > "$WORK/new.xz"
N=$(size "$NEW"); A=$(size "$WORK/ab.pkg"); I=$(size "$WORK/ip.pkg"); X=$(size "$WORK/new.xz")
echo
echo "6. Summary"
printf '  %-34s %8d bytes\n' "target image 1.1.0" "$N"
printf '  %-34s %8d bytes  (%s of the image)\n' "target image, xz -9e" "$X" "$(pct "$X" "$N")"
printf '  %-34s %8d bytes  (%s of the image, %s of the xz image)\n' "signed delta, A/B (sent)" "$A" \
  "$(pct "$A" "$N")" "$(pct "$A" "$X")"
printf '  %-34s %8d bytes  (%s of the image, %s of the xz image)\n' "signed delta, in place" "$I" \
  "$(pct "$I" "$N")" "$(pct "$I" "$X")"
echo "  on the NB-IoT preset (26 kbit/s, 800 ms round trip, 2 round trips per GET):"
printf '  %-34s %8s s  (measured here: %s s, HTTPSTART to HTTPEND)\n' "download of the delta" "$(nbiot_s "$A")" "$DL_S"
printf '  %-34s %8s s\n' "download of the xz image" "$(nbiot_s "$X")"
printf '  %-34s %8s s\n' "download of the full image" "$(nbiot_s "$N")"
printf '  %-34s %8d ms\n' "dfota update, start to new revision" $((t1 - t0))
echo
echo "The module rebooted into 1.1.0; everything the demo started is stopped now."
