#!/bin/sh
# Black-box tests of the dfota CLI: usage, keys, round trips in every layout,
# exit codes, tampering (every header byte, sampled payload bytes), I/O errors.
#
#   sh tests/cli/test_cli.sh /path/to/dfota
#
# Needs python3 (seeded test data, byte flips, JSON check); openssl optional.
# Last line: "N passed, M failed"; exit status 1 if anything failed.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 /path/to/dfota" >&2
    exit 2
fi
DFOTA=$1
case $DFOTA in /*) ;; *) DFOTA=$(pwd)/$DFOTA ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/golden

T=$(mktemp -d "${TMPDIR:-/tmp}/dfota-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
cd "$T" || exit 1
mkdir io w
W=$T/w

. "$HERE/lib.sh"

if [ ! -x "$DFOTA" ]; then
    bad "no executable at $DFOTA"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    bad "python3 is needed to generate the test data"
    finish
fi


# ---- test data, reproducible: seeded generator ----------------------------
python3 - "$W" <<'EOF' || { bad "cannot generate test data"; finish; }
import os, random, sys
w = sys.argv[1]
def put(name, data):
    with open(os.path.join(w, name), "wb") as f:
        f.write(data)
def rnd(r, n):
    return r.getrandbits(8 * n).to_bytes(n, "little") if n else b""
def firmware(r, n):
    # code-like: a small vocabulary of 4-byte words, and some literal noise
    voc = [rnd(r, 4) for _ in range(300)]
    out = bytearray(b"".join(r.choices(voc, k=n // 4 + 1))[:n])
    for i in range(0, n, 1009):
        out[i:i + 16] = rnd(r, 16)
    return bytes(out[:n])
r = random.Random(20240601)
put("empty", b"")
put("one_a", b"A")
put("one_b", b"\xff")
put("rnd_a", rnd(r, 65536))
put("rnd_b", rnd(r, 65536 + 333))
put("rnd_c", rnd(r, 16384))
put("rnd_d", rnd(r, 16384 + 77))
base = firmware(r, 65536 + 123)          # not a whole number of sectors
put("base", base)
put("ins", base[:30000] + rnd(r, 3000) + base[30000:50000] + b"\x00" * 17 + base[50000:])
put("del", base[:20000] + base[25000:60000] + base[60001:])
mix = bytearray(base)
for i in range(500, len(mix), 997):
    mix[i] ^= 0x5A
mix = bytes(mix[:10000]) + bytes(mix[50000:58000]) + bytes(mix[10000:50000]) + bytes(mix[58000:])
put("mix", mix)
put("grow", base + firmware(r, 40000))
put("shrink", base[:51234])
sm = firmware(r, 6000)
put("sm_a", sm)
put("sm_b", sm[:3000] + rnd(r, 500) + sm[3000:])
big = firmware(r, 5 * 1024 * 1024)
bigb = bytearray(big)
for i in range(0, len(bigb), 40961):
    bigb[i] ^= 0x33
put("big_a", big)
put("big_b", bytes(bigb[:1000000]) + rnd(r, 20000) + bytes(bigb[1000000:3000000]) + bytes(bigb[3006000:]))
EOF

# flip PKG DIR XOR OFFSET...: write DIR/OFFSET, a copy of PKG with that byte
# XOR-ed; DIR/trunc and DIR/append too.
flip() {
    python3 - "$@" <<'EOF'
import os, sys
pkg, d, x = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
data = open(pkg, "rb").read()
os.makedirs(d, exist_ok=True)
for o in sys.argv[4:]:
    b = bytearray(data)
    b[int(o)] ^= x
    open(os.path.join(d, o), "wb").write(b)
open(os.path.join(d, "trunc"), "wb").write(data[:-1])
open(os.path.join(d, "append"), "wb").write(data + b"\x00")
EOF
}

cd "$W" || exit 1

# ---- usage -----------------------------------------------------------------
expect "--help" 0 "" --help
grep -q "usage: dfota" "$T/io/out" && ok || bad "--help: no usage on stdout"
expect "no arguments" 2 "usage: dfota"
expect "unknown command" 2 "unknown command 'frobnicate'" frobnicate
expect "unknown option" 2 "bogus" verify --bogus x.pkg
expect "keygen without -o" 2 "keygen needs -o" keygen && one_line "keygen without -o"
expect "diff without versions" 2 "--from-version" diff base ins -o x.pkg && one_line "diff without versions"
expect "diff without -o" 2 "diff needs OLD NEW -o PKG" diff --from-version 1 --to-version 2 base ins &&
    one_line "diff without -o"
expect "diff bad --layout" 2 "--layout" diff --from-version 1 --to-version 2 --layout xy base ins -o x.pkg
expect "diff bad --sector-size" 2 "--sector-size" diff --from-version 1 --to-version 2 --sector-size 1000 base ins -o x.pkg
expect "diff bad --scratch-sectors" 2 "--scratch-sectors" diff --from-version 1 --to-version 2 --scratch-sectors 1 base ins -o x.pkg
expect "diff bad --direction" 2 "--direction" diff --from-version 1 --to-version 2 --direction up base ins -o x.pkg
expect "diff bad --direction runs" 2 "--direction" diff --from-version 1 --to-version 2 --direction 0-3,x base ins -o x.pkg
expect "diff --direction runs that miss a sector" 2 "must name each of NEW's" \
    diff --from-version 1 --to-version 2 --layout inplace --direction 0-3 base ins -o x.pkg
expect "diff version too long" 2 "31 characters" diff --from-version 0123456789012345678901234567890123 --to-version 2 base ins -o x.pkg
no_file "diff usage errors write nothing" x.pkg
expect "inspect without PKG" 2 "inspect needs one PKG" inspect && one_line "inspect without PKG"
expect "verify without PKG" 2 "verify needs one PKG" verify && one_line "verify without PKG"
expect "apply without -o" 2 "apply needs OLD PKG -o NEW" apply base x.pkg && one_line "apply without -o"

# ---- keygen ----------------------------------------------------------------
if expect "keygen" 0 "" keygen -o key; then
    case $(ls -ld key | cut -c1-10) in
    -rw-------) ok ;;
    *) bad "keygen: key mode is $(ls -ld key | cut -c1-10), expected -rw-------" ;;
    esac
    grep -q -- "-----BEGIN PRIVATE KEY-----" key && ok || bad "keygen: key is not a PEM private key"
    grep -q -- "-----BEGIN PUBLIC KEY-----" key.pub && ok || bad "keygen: key.pub is not a PEM public key"
    if command -v openssl >/dev/null 2>&1; then
        openssl pkey -in key -noout >/dev/null 2>&1 && ok || bad "openssl pkey rejects the secret key"
        openssl pkey -pubin -in key.pub -noout >/dev/null 2>&1 && ok || bad "openssl pkey rejects the public key"
    else
        echo "skip: openssl not found, key files not checked with it"
    fi
fi
expect "keygen second key" 0 "" keygen -o key2
cmp -s key.pub key2.pub && bad "keygen: two keygens gave the same key" || ok

# ---- round trips -----------------------------------------------------------
# roundtrip NAME OLD NEW [DIFF OPTIONS...]: signed diff, inspect, verify with
# key and source, apply, byte-exact output. Leaves the package in rt.pkg.
roundtrip() {
    _n=$1 _o=$2 _t=$3
    shift 3
    rm -f rt.pkg rt.out
    expect "$_n: diff" 0 "" diff --from-version 1.0 --to-version 2.0 --key key "$@" "$_o" "$_t" -o rt.pkg || return 1
    expect "$_n: inspect" 0 "" inspect rt.pkg || return 1
    expect "$_n: verify" 0 "" verify --pub key.pub --source "$_o" rt.pkg || return 1
    expect "$_n: apply" 0 "" apply --pub key.pub "$_o" rt.pkg -o rt.out || return 1
    if cmp -s rt.out "$_t"; then ok; else bad "$_n: apply output differs from $_t"; return 1; fi
}
# save_json LABEL PKG: keep `inspect --json PKG` as io/LABEL.json; the
# checks on them run in one python3 process further down.
save_json() {
    expect "inspect --json ($1)" 0 "" inspect --json "$2" && cp "$T/io/out" "$T/io/$1.json"
}

roundtrip "empty -> empty" empty empty
roundtrip "empty -> 1 byte" empty one_a
roundtrip "1 byte -> empty" one_a empty
roundtrip "1 byte -> other byte" one_a one_b
roundtrip "identical" base base
roundtrip "random -> other random" rnd_a rnd_b
roundtrip "inserted regions" base ins
roundtrip "deleted regions" ins base
roundtrip "deleted regions 2" base del
roundtrip "scattered edits + moved block" base mix
roundtrip "grow" base grow
roundtrip "shrink" grow shrink
roundtrip "explicit ab layout" base mix --layout ab
roundtrip "empty -> 1 byte in place" empty one_a --layout inplace --sector-size 4096
roundtrip "1 byte -> empty in place" one_a empty --layout inplace --sector-size 4096
roundtrip "identical in place" base base --layout inplace --sector-size 4096
roundtrip "random in place" rnd_c rnd_d --layout inplace --sector-size 4096
roundtrip "insert in place" base ins --layout inplace --sector-size 4096 &&
    save_json inplace rt.pkg
roundtrip "delete in place" base del --layout inplace --sector-size 4096
roundtrip "edits in place" base mix --layout inplace --sector-size 4096
roundtrip "grow in place" base grow --layout inplace --sector-size 4096
roundtrip "shrink in place" grow shrink --layout inplace --sector-size 4096
roundtrip "in place, 2 scratch sectors" base ins --layout inplace --sector-size 4096 --scratch-sectors 2
roundtrip "in place, 2 scratch sectors, delete" base del --layout inplace --sector-size 4096 --scratch-sectors 2
roundtrip "in place, 9 scratch sectors" base mix --layout inplace --sector-size 4096 --scratch-sectors 9
roundtrip "in place backward" base ins --layout inplace --sector-size 4096 --direction backward &&
    save_json backward rt.pkg
roundtrip "in place backward, grow" base grow --layout inplace --sector-size 4096 --direction backward
roundtrip "in place forward" base del --layout inplace --sector-size 4096 --direction forward &&
    save_json forward rt.pkg
# a write order in runs: the first sectors forward, the last ones backward,
# then the middle (NEW has ins_n sectors of 4 KiB)
ins_n=$(( ($(wc -c < ins) + 4095) / 4096 ))
ins_runs="0-2,$((ins_n - 1))-$((ins_n / 2)),3-$((ins_n / 2 - 1))"
roundtrip "in place in runs" base ins --layout inplace --sector-size 4096 --direction "$ins_runs" &&
    save_json runs rt.pkg
roundtrip "in place, 256-byte sectors" sm_a sm_b --layout inplace --sector-size 256
roundtrip "product and counter" base ins --product acme-x1 --security-counter 7 &&
    save_json product rt.pkg

# inspect --json of a signed A/B package
rm -f a.pkg
expect "json: diff" 0 "" diff --from-version 1.0 --to-version 2.0 --key key base ins -o a.pkg &&
    save_json ab a.pkg

# ---- verify: keys and sources ----------------------------------------------
expect "verify: right key and source" 0 "" verify --pub key.pub --source base a.pkg
expect "verify: no options" 0 "" verify a.pkg
expect "verify: wrong key" 6 "signature" verify --pub key2.pub a.pkg
expect "verify: wrong key and source" 6 "signature" verify --pub key2.pub --source base a.pkg
expect "verify: wrong source" 5 "not built from" verify --pub key.pub --source ins a.pkg
expect "verify: wrong source, no key" 5 "not built from" verify --source mix a.pkg
expect "verify: missing public key" 3 "nokey.pub" verify --pub nokey.pub a.pkg
expect "verify: public key is not a key" 3 "public key" verify --pub a.pkg a.pkg
expect "verify: secret key given as public" 3 "public key" verify --pub key a.pkg
rm -f u.pkg
if expect "unsigned: diff warns" 0 "unsigned" diff --from-version 1.0 --to-version 2.0 base ins -o u.pkg; then
    expect "unsigned: verify --pub" 6 "unsigned" verify --pub key.pub u.pkg
    expect "unsigned: verify" 0 "" verify u.pkg
    grep -q "unsigned" "$T/io/out" && ok || bad "unsigned: verify does not say 'unsigned'"
    expect "unsigned: verify --source" 0 "" verify --source base u.pkg
    save_json unsigned u.pkg
    expect "unsigned: apply --pub" 6 "unsigned" apply --pub key.pub base u.pkg -o u.out
    no_file "unsigned: apply --pub" u.out
    expect "unsigned: apply" 0 "" apply base u.pkg -o u.out
    cmp -s u.out ins && ok || bad "unsigned: apply output differs"
fi
expect "apply: wrong key" 6 "signature" apply --pub key2.pub base a.pkg -o x.out
no_file "apply: wrong key" x.out
expect "apply: package from another source" 5 "not built from" apply --pub key.pub mix a.pkg -o x.out
no_file "apply: package from another source" x.out
expect "apply: another source, no key" 5 "not built from" apply ins a.pkg -o x.out
no_file "apply: another source, no key" x.out
expect "apply: empty source" 5 "not built from" apply empty a.pkg -o x.out
no_file "apply: empty source" x.out

# ---- inspect --json: parses, has the fields tools rely on --------------------
INS_RUNS="$ins_runs" python3 - "$T/io" "$W" >"$T/io/jsoncheck" 2>&1 <<'EOF'
import hashlib, json, os, sys
io, w = sys.argv[1], sys.argv[2]
def sha(name):
    return hashlib.sha256(open(os.path.join(w, name), "rb").read()).hexdigest()
checks = [
    ("ab", "layout is ab", lambda j: j["layout"] == "ab"),
    ("ab", "source.size", lambda j: j["source"]["size"] == os.path.getsize(os.path.join(w, "base"))),
    ("ab", "target.size", lambda j: j["target"]["size"] == os.path.getsize(os.path.join(w, "ins"))),
    ("ab", "source.sha256", lambda j: j["source"]["sha256"] == sha("base")),
    ("ab", "target.sha256", lambda j: j["target"]["sha256"] == sha("ins")),
    ("ab", "decoder_ram", lambda j: type(j["decoder_ram"]) is int and j["decoder_ram"] > 0),
    ("ab", "versions", lambda j: (j["source"]["version"], j["target"]["version"]) == ("1.0", "2.0")),
    ("ab", "signed", lambda j: j["signed"] is True and len(j["key_id"]) == 16),
    ("ab", "payload_ok", lambda j: j["payload_ok"] is True),
    ("ab", "package_size", lambda j: j["package_size"] == os.path.getsize(os.path.join(w, "a.pkg"))),
    ("inplace", "layout, sector_size", lambda j: (j["layout"], j["sector_size"]) == ("inplace", 4096)),
    ("backward", "direction backward", lambda j: (j["layout"], j["direction"]) == ("inplace", "backward")),
    ("forward", "direction forward", lambda j: (j["layout"], j["direction"]) == ("inplace", "forward")),
    ("runs", "direction runs", lambda j: (j["layout"], j["direction"]) == ("inplace", "runs") and
     j["runs"] == os.environ["INS_RUNS"]),
    ("product", "product, security_counter",
     lambda j: (j["product"], j["security_counter"]) == ("acme-x1", 7)),
    ("unsigned", "unsigned", lambda j: j["signed"] is False),
]
for label, what, pred in checks:
    try:
        with open(os.path.join(io, label + ".json")) as f:
            j = json.load(f)
        good = pred(j)
        why = "" if good else "value is wrong"
    except Exception as e:
        good, why = False, "%s: %s" % (type(e).__name__, e)
    print("ok" if good else "FAIL", "inspect --json (%s): %s %s" % (label, what, why))
EOF
while IFS= read -r line; do
    case $line in
    "ok "*) ok ;;
    "FAIL "*) bad "${line#FAIL }" ;;
    *) bad "json check: $line" ;;
    esac
done <"$T/io/jsoncheck"
[ -s "$T/io/jsoncheck" ] || bad "json check printed nothing"

# ---- tampering -------------------------------------------------------------
# A small signed package (format 2, the default, and format 1); every header
# byte flipped, then sampled payload bytes; each must make verify and apply
# fail with 4 or 6, writing nothing.
rm -f s.pkg s1.pkg
if expect "tamper: diff" 0 "" diff --from-version 1.0 --to-version 2.0 --key key sm_a sm_b -o s.pkg &&
    expect "tamper: diff v1" 0 "" diff --package-format 1 --from-version 1.0 --to-version 2.0 --key key sm_a sm_b -o s1.pkg &&
    expect "tamper: apply intact" 0 "" apply --pub key.pub sm_a s.pkg -o s.out &&
    cmp -s s.out sm_b; then
    ok
    rm -f s.out
    plen=$(size_of s.pkg)
    "$DFOTA" inspect --json s.pkg >"$T/io/js"
    hs=$(sed -n 's/.*"header_size":\([0-9]*\).*/\1/p' "$T/io/js")
    [ "$hs" -ge 188 ] && [ "$hs" -lt 312 ] && ok || bad "tamper: format 2 header size '$hs'"
    hoffs=$(awk -v h="$hs" 'BEGIN { for (i = 0; i < h; i++) print i }')
    h1offs=$(awk 'BEGIN { for (i = 0; i < 312; i++) print i }')
    # ~64 payload offsets: first, last, evenly spaced between
    poffs=$(awk -v n="$plen" -v h="$hs" 'BEGIN { for (i = 0; i < 63; i++) print h + int(i * (n - h - 1) / 63); print n - 1 }' | sort -un)
    plen_last=$((plen - 1))
    # sweep NAME CMD DIR CODES ID OFFSETS...: run `verify` or `apply` on
    # DIR/OFFSET for each offset; the exit code must be one of CODES, the
    # message must start with "dfota: ", apply must write nothing. Only shell
    # builtins besides dfota itself: this loop runs ~1000 times.
    sweep() {
        _n=$1 _cmd=$2 _d=$3 _codes=$4 _id=$5
        shift 5
        _nb=0 _bads="" _seen="" _err=$T/io/err.$_id _out=t$_id.out
        for _o in "$@"; do
            if [ "$_cmd" = verify ]; then
                "$DFOTA" verify --pub key.pub "$_d/$_o" >/dev/null 2>"$_err"
            else
                "$DFOTA" apply --pub key.pub sm_a "$_d/$_o" -o "$_out" >/dev/null 2>"$_err"
            fi
            rc=$?
            case " $_codes " in
            *" $rc "*) case " $_seen " in *" $rc "*) ;; *) _seen="$_seen $rc" ;; esac ;;
            *) _nb=$((_nb + 1)) _bads="$_bads $_o:exit$rc" ;;
            esac
            _line=
            IFS= read -r _line <"$_err"
            case $_line in "dfota: "?*) ;; *) _nb=$((_nb + 1)) _bads="$_bads $_o:nomessage" ;; esac
            for _f in "$_out" "$_out".tmp*; do
                if [ -e "$_f" ]; then
                    _nb=$((_nb + 1)) _bads="$_bads $_o:wrote"
                    rm -f "$_f"
                fi
            done
        done
        if [ $_nb -eq 0 ]; then
            echo "ok $_n: $# cases, exit codes seen:$_seen"
        else
            echo "FAIL $_n: $_nb of $# wrong:$(echo "$_bads" | cut -c1-400)"
        fi >"$T/io/sweep.$_id"
    }
    flip s.pkg "$T/fff" 0xff $hoffs $poffs || bad "cannot write flipped packages"
    # lowest bit of every integer field: version, header size, flags, sizes,
    # algorithm, coder, lag, reserved, sector size, RAM, counter, CRC
    noffs=$(awk 'BEGIN { for (i = 8; i < 16; i++) print i; for (i = 80; i < 84; i++) print i;
        for (i = 148; i < 152; i++) print i; for (i = 184; i < 200; i++) print i;
        for (i = 232; i < 240; i++) print i }')
    flip s1.pkg "$T/f01" 0x01 $noffs || bad "cannot write flipped packages"
    # format 2: the lowest bit of every header byte (numbers are varints)
    flip s.pkg "$T/f201" 0x01 $hoffs || bad "cannot write flipped packages"
    flip s1.pkg "$T/f1ff" 0xff $h1offs || bad "cannot write flipped packages"
    # the sweeps run side by side; each writes its verdict to io/sweep.ID
    sweep "header bytes ^0xff, verify" verify "$T/fff" "4 6" 1 $hoffs &
    sweep "header bytes ^0xff, apply" apply "$T/fff" "4 6" 2 $hoffs &
    sweep "v1 header integer fields ^0x01, apply" apply "$T/f01" "4 6" 3 $noffs &
    sweep "payload bytes ^0xff, verify" verify "$T/fff" "4" 4 $poffs &
    sweep "payload bytes ^0xff, apply" apply "$T/fff" "4" 5 $poffs &
    wait
    sweep "header bytes ^0x01, apply" apply "$T/f201" "4 6" 6 $hoffs &
    sweep "v1 header bytes ^0xff, verify" verify "$T/f1ff" "4 6" 7 $h1offs &
    wait
    for id in 1 2 3 4 5 6 7; do
        _v=
        [ -f "$T/io/sweep.$id" ] && IFS= read -r _v <"$T/io/sweep.$id"
        case $_v in
        "ok "*) ok; echo "$_v" ;;
        "FAIL "*) bad "${_v#FAIL }" ;;
        *) bad "tamper sweep $id gave no verdict" ;;
        esac
    done
    expect "payload byte flipped: message" 4 "corrupt" verify --pub key.pub "$T/fff/$plen_last"
    rm -rf "$T/f01" "$T/f201" "$T/f1ff"
    mv "$T/fff" "$T/f0xff.keep"
    F=$T/f0xff.keep
    expect "truncated by 1: verify" 4 "truncated" verify --pub key.pub "$F/trunc"
    expect "truncated by 1: apply" 4 "truncated" apply --pub key.pub sm_a "$F/trunc" -o x.out
    no_file "truncated by 1: apply" x.out
    expect "truncated by 1: inspect" 4 "truncated" inspect "$F/trunc"
    expect "appended 1 byte: verify" 4 "its header says" verify --pub key.pub "$F/append"
    expect "appended 1 byte: apply" 4 "its header says" apply --pub key.pub sm_a "$F/append" -o x.out
    no_file "appended 1 byte: apply" x.out
    expect "appended 1 byte: verify, no key" 4 "(padded?)" verify "$F/append"
    head -c "$hs" s.pkg >hdr.pkg
    expect "header only: verify" 4 "" verify hdr.pkg
    head -c $((hs - 1)) s.pkg >hdr.pkg
    expect "header cut by 1: verify" 4 "ends inside its header" verify hdr.pkg
    head -c 312 s1.pkg >hdr.pkg
    expect "v1 header only: verify" 4 "" verify hdr.pkg
    head -c 311 s1.pkg >hdr.pkg
    expect "v1 header cut by 1: verify" 4 "shorter than its 312-byte header" verify hdr.pkg
    head -c 100 s.pkg >short.pkg
    expect "100 bytes of header: verify" 4 "" verify short.pkg
    rm -rf "$F"
fi
expect "not a package (key): verify" 4 "not a dfota package" verify key
expect "not a package (key): apply" 4 "not a dfota package" apply base key -o x.out
no_file "not a package: apply" x.out
expect "not a package (key): inspect" 4 "not a dfota package" inspect key
expect "not a package (empty): verify" 4 "" verify empty
expect "not a package (empty): inspect" 4 "" inspect empty
expect "not a package (empty): apply" 4 "" apply base empty -o x.out
no_file "not a package (empty): apply" x.out
expect "not a package (random): verify" 4 "not a dfota package" verify rnd_a

# ---- I/O errors --------------------------------------------------------------
expect "diff: missing OLD" 3 "no-such-old.bin" diff --from-version 1 --to-version 2 no-such-old.bin ins -o x.pkg
no_file "diff: missing OLD" x.pkg
expect "diff: missing NEW" 3 "no-such-new.bin" diff --from-version 1 --to-version 2 base no-such-new.bin -o x.pkg
no_file "diff: missing NEW" x.pkg
expect "diff: missing key" 3 "no-such.key" diff --from-version 1 --to-version 2 --key no-such.key base ins -o x.pkg
no_file "diff: missing key" x.pkg
expect "diff: key not a key" 3 "private key" diff --from-version 1 --to-version 2 --key key.pub base ins -o x.pkg
no_file "diff: key not a key" x.pkg
expect "diff: output dir missing" 3 "no-such-dir/x.pkg" diff --from-version 1 --to-version 2 base ins -o no-such-dir/x.pkg
expect "inspect: missing PKG" 3 "no-such.pkg" inspect no-such.pkg
expect "verify: missing PKG" 3 "no-such.pkg" verify no-such.pkg
expect "verify: missing source" 3 "no-such-src.bin" verify --source no-such-src.bin a.pkg
expect "apply: missing OLD" 3 "no-such-old.bin" apply no-such-old.bin a.pkg -o x.out
no_file "apply: missing OLD" x.out
expect "apply: missing PKG" 3 "no-such.pkg" apply base no-such.pkg -o x.out
no_file "apply: missing PKG" x.out
expect "apply: output dir missing" 3 "no-such-dir/x.out" apply base a.pkg -o no-such-dir/x.out
mkdir adir
expect "apply: OLD is a directory" 3 "adir" apply adir a.pkg -o x.out
no_file "apply: OLD is a directory" x.out
expect "keygen: output dir missing" 3 "no-such-dir/k" keygen -o no-such-dir/k
[ -d no-such-dir ] && bad "a missing output directory was created" || ok

# ---- packages from an earlier build still apply ------------------------------
# golden/: sources, targets, the public keys and packages made by an
# earlier dfota (README there says how). Format versions 1 and 2, and DZ1,
# DZ2 and DZ2's 4k model, must keep applying. package:format:key:pair
for gv in ab:1:golden: inplace:1:golden: v2-ab:2:golden-v2: v2-inplace:2:golden-v2: \
          dz2-ab:2:golden-dz2:2 dz2-inplace:2:golden-dz2:2 dz2s-ab:2:golden-dz2:2 \
          dz2s-inplace:2:golden-dz2:2; do
    IFS=: read -r g gf gk gp <<EOF_G
$gv
EOF_G
    gs=$GOLDEN/src$gp.bin gd=$GOLDEN/dst$gp.bin
    if [ ! -f "$GOLDEN/$g.pkg" ]; then
        bad "golden: $GOLDEN/$g.pkg missing"
        continue
    fi
    "$DFOTA" inspect --json "$GOLDEN/$g.pkg" >"$T/io/js" 2>/dev/null
    grep -qF "\"format_version\":$gf," "$T/io/js" && ok || bad "golden $g: not format $gf"
    case $g in
    dz2*) grep -qF '"algorithm":2,' "$T/io/js" && ok || bad "golden $g: not DZ2" ;;
    esac
    case $g in
    dz2s*) grep -qF '"decoder_ram":4096,' "$T/io/js" && ok || bad "golden $g: not a 4k package" ;;
    esac
    expect "golden $g: verify" 0 "" verify --pub "$GOLDEN/$gk.pub" --source "$gs" "$GOLDEN/$g.pkg"
    rm -f g.out
    expect "golden $g: apply" 0 "" apply --pub "$GOLDEN/$gk.pub" "$gs" "$GOLDEN/$g.pkg" -o g.out &&
        { cmp -s g.out "$gd" && ok || bad "golden $g: apply output differs from $gd"; }
    expect "golden $g: other key" 6 "signature" verify --pub key.pub "$GOLDEN/$g.pkg"
done

# ---- a large pair --------------------------------------------------------------
rm -f big.pkg big.out
if expect "5 MB: diff" 0 "" diff --from-version 1 --to-version 2 --key key big_a big_b -o big.pkg; then
    bsz=$(size_of big.pkg)
    if [ "$bsz" -lt 1048576 ]; then ok; else bad "5 MB: package is $bsz bytes for a small change"; fi
    expect "5 MB: apply" 0 "" apply --pub key.pub big_a big.pkg -o big.out &&
        { cmp -s big.out big_b && ok || bad "5 MB: apply output differs"; }
fi

leftover=$(ls -a "$W" | grep '\.tmp' | head -3)
[ -z "$leftover" ] && ok || bad "temporary files left behind: $leftover"

finish
