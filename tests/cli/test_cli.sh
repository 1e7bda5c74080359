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

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -x "$DFOTA" ]; then
    bad "no executable at $DFOTA"
    finish
fi
if ! command -v python3 >/dev/null 2>&1; then
    bad "python3 is needed to generate the test data"
    finish
fi

# run ARGS...: run dfota; sets $rc, stdout in io/out, stderr in io/err.
run() {
    "$DFOTA" "$@" >"$T/io/out" 2>"$T/io/err"
    rc=$?
}
show_err() { sed 's/^/    | /' "$T/io/err" | head -5; }

# expect NAME CODE PATTERN ARGS...: dfota ARGS exits CODE and its stderr
# contains PATTERN (fixed string, any case; empty: not checked).
expect() {
    _n=$1 _c=$2 _p=$3
    shift 3
    run "$@"
    if [ "$rc" -ne "$_c" ]; then
        bad "$_n: exit $rc, expected $_c (dfota $*)"
        show_err
        return 1
    fi
    if [ -n "$_p" ] && ! grep -qiF -- "$_p" "$T/io/err"; then
        bad "$_n: stderr lacks '$_p' (dfota $*)"
        show_err
        return 1
    fi
    ok
    return 0
}

# no_file NAME PATH: PATH does not exist, nor any temporary beside it.
no_file() {
    _left=$(ls -d "$2" "$2".tmp* 2>/dev/null)
    if [ -n "$_left" ]; then
        bad "$1: left behind: $_left"
        rm -rf "$2" "$2".tmp*
        return 1
    fi
    ok
    return 0
}

# one_line NAME: stderr of the last run is exactly one line.
one_line() {
    _l=$(wc -l <"$T/io/err")
    if [ "$_l" -ne 1 ]; then
        bad "$1: stderr has $_l lines, expected 1"
        show_err
        return 1
    fi
    ok
}

size_of() { wc -c <"$1" | tr -d ' '; }

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
base = firmware(r, 98304 + 123)          # not a whole number of sectors
put("base", base)
put("ins", base[:40000] + rnd(r, 3000) + base[40000:70000] + b"\x00" * 17 + base[70000:])
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
# json_field PKG EXPR: print EXPR evaluated on inspect --json output (j).
json_field() {
    "$DFOTA" inspect --json "$1" | python3 -c 'import json,sys; j = json.load(sys.stdin); print('"$2"')'
}
# expect_json NAME PKG EXPR VALUE
expect_json() {
    _v=$(json_field "$2" "$3" 2>&1)
    if [ "$_v" = "$4" ]; then ok; else bad "$1: $3 is '$_v', expected '$4'"; fi
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
roundtrip "random in place" rnd_a rnd_b --layout inplace --sector-size 4096
roundtrip "insert in place" base ins --layout inplace --sector-size 4096 &&
    expect_json "insert in place: json" rt.pkg 'j["layout"], j["sector_size"]' "inplace 4096"
roundtrip "delete in place" base del --layout inplace --sector-size 4096
roundtrip "edits in place" base mix --layout inplace --sector-size 4096
roundtrip "grow in place" base grow --layout inplace --sector-size 4096
roundtrip "shrink in place" grow shrink --layout inplace --sector-size 4096
roundtrip "in place, 2 scratch sectors" base ins --layout inplace --sector-size 4096 --scratch-sectors 2
roundtrip "in place, 2 scratch sectors, delete" base del --layout inplace --sector-size 4096 --scratch-sectors 2
roundtrip "in place, 9 scratch sectors" base mix --layout inplace --sector-size 4096 --scratch-sectors 9
roundtrip "in place backward" base ins --layout inplace --sector-size 4096 --direction backward &&
    expect_json "in place backward: json" rt.pkg 'j["layout"], j["direction"]' "inplace backward"
roundtrip "in place backward, grow" base grow --layout inplace --sector-size 4096 --direction backward
roundtrip "in place forward" base del --layout inplace --sector-size 4096 --direction forward &&
    expect_json "in place forward: json" rt.pkg 'j["direction"]' "forward"
roundtrip "in place, 256-byte sectors" base mix --layout inplace --sector-size 256
roundtrip "product and counter" base ins --product acme-x1 --security-counter 7 &&
    expect_json "product and counter: json" rt.pkg 'j["product"], j["security_counter"]' "acme-x1 7"

# inspect --json: parses, has the documented fields
rm -f a.pkg
if expect "json: diff" 0 "" diff --from-version 1.0 --to-version 2.0 --key key base ins -o a.pkg; then
    if "$DFOTA" inspect --json a.pkg >"$T/io/json" 2>"$T/io/err" &&
        python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/io/json" 2>/dev/null; then
        ok
    else
        bad "inspect --json does not print valid JSON"
    fi
    expect_json "json: layout" a.pkg 'j["layout"]' "ab"
    expect_json "json: source.size" a.pkg 'j["source"]["size"]' "$(size_of base)"
    expect_json "json: target.sha256" a.pkg 'j["target"]["sha256"]' \
        "$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' ins)"
    expect_json "json: decoder_ram" a.pkg 'type(j["decoder_ram"]).__name__, j["decoder_ram"] > 0' "int True"
    expect_json "json: versions, signed" a.pkg 'j["source"]["version"], j["target"]["version"], j["signed"]' \
        "1.0 2.0 True"
fi

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
    expect_json "unsigned: json signed" u.pkg 'j["signed"]' "False"
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

# ---- tampering -------------------------------------------------------------
# A small signed package; every header byte flipped, then sampled payload
# bytes; each must make verify and apply fail with 4 or 6, writing nothing.
rm -f s.pkg
if expect "tamper: diff" 0 "" diff --from-version 1.0 --to-version 2.0 --key key sm_a sm_b -o s.pkg &&
    expect "tamper: apply intact" 0 "" apply --pub key.pub sm_a s.pkg -o s.out &&
    cmp -s s.out sm_b; then
    ok
    rm -f s.out
    plen=$(size_of s.pkg)
    hoffs=$(awk 'BEGIN { for (i = 0; i < 312; i++) print i }')
    # ~64 payload offsets: first, last, evenly spaced between
    poffs=$(awk -v n="$plen" 'BEGIN { for (i = 0; i < 63; i++) print 312 + int(i * (n - 313) / 63); print n - 1 }' | sort -un)
    for x in 0xff 0x01; do
        flip s.pkg "$T/f$x" "$x" $hoffs $poffs || bad "cannot write flipped packages"
        for cmd in verify apply; do
            nfail=0 bads="" codes=""
            for o in $hoffs; do
                if [ "$cmd" = verify ]; then
                    "$DFOTA" verify --pub key.pub "$T/f$x/$o" >/dev/null 2>"$T/io/err"
                    rc=$?
                else
                    "$DFOTA" apply --pub key.pub sm_a "$T/f$x/$o" -o t.out >/dev/null 2>"$T/io/err"
                    rc=$?
                fi
                case $rc in
                4 | 6) codes="$codes $rc" ;;
                *) nfail=$((nfail + 1)) bads="$bads $o:$rc" ;;
                esac
                if [ -e t.out ] || ls t.out.tmp* >/dev/null 2>&1; then
                    nfail=$((nfail + 1)) bads="$bads $o:wrote"
                    rm -f t.out t.out.tmp*
                fi
                if ! grep -q "^dfota: " "$T/io/err"; then
                    nfail=$((nfail + 1)) bads="$bads $o:nomessage"
                fi
            done
            if [ $nfail -eq 0 ]; then ok; else bad "header byte ^$x, $cmd: $nfail bad (offset:exit)$(echo "$bads" | cut -c1-300)"; fi
            npay=0 nfail=0 bads=""
            for o in $poffs; do
                npay=$((npay + 1))
                if [ "$cmd" = verify ]; then
                    "$DFOTA" verify --pub key.pub "$T/f$x/$o" >/dev/null 2>"$T/io/err"
                    rc=$?
                else
                    "$DFOTA" apply --pub key.pub sm_a "$T/f$x/$o" -o t.out >/dev/null 2>"$T/io/err"
                    rc=$?
                fi
                [ $rc -eq 4 ] && grep -qi "corrupt" "$T/io/err" || { nfail=$((nfail + 1)) bads="$bads $o:$rc"; }
                if [ -e t.out ] || ls t.out.tmp* >/dev/null 2>&1; then
                    nfail=$((nfail + 1)) bads="$bads $o:wrote"
                    rm -f t.out t.out.tmp*
                fi
            done
            if [ $nfail -eq 0 ]; then ok; else bad "payload byte ^$x ($npay offsets), $cmd: $nfail bad$(echo "$bads" | cut -c1-300)"; fi
        done
        rm -rf "$T/f$x.keep"
        [ "$x" = 0xff ] && mv "$T/f$x" "$T/f$x.keep" || rm -rf "$T/f$x"
    done
    F=$T/f0xff.keep
    expect "truncated by 1: verify" 4 "truncated" verify --pub key.pub "$F/trunc"
    expect "truncated by 1: apply" 4 "truncated" apply --pub key.pub sm_a "$F/trunc" -o x.out
    no_file "truncated by 1: apply" x.out
    expect "truncated by 1: inspect" 4 "truncated" inspect "$F/trunc"
    expect "appended 1 byte: verify" 4 "truncated or padded" verify --pub key.pub "$F/append"
    expect "appended 1 byte: apply" 4 "truncated or padded" apply --pub key.pub sm_a "$F/append" -o x.out
    no_file "appended 1 byte: apply" x.out
    expect "appended 1 byte: verify, no key" 4 "truncated or padded" verify "$F/append"
    head -c 312 s.pkg >hdr.pkg
    expect "header only: verify" 4 "" verify hdr.pkg
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
# golden/: a source, a target, the public key and two packages made by an
# earlier dfota (README there says how). Format version 1 must keep applying.
for g in ab inplace; do
    if [ ! -f "$GOLDEN/$g.pkg" ]; then
        bad "golden: $GOLDEN/$g.pkg missing"
        continue
    fi
    expect "golden $g: verify" 0 "" verify --pub "$GOLDEN/golden.pub" --source "$GOLDEN/src.bin" "$GOLDEN/$g.pkg"
    rm -f g.out
    expect "golden $g: apply" 0 "" apply --pub "$GOLDEN/golden.pub" "$GOLDEN/src.bin" "$GOLDEN/$g.pkg" -o g.out &&
        { cmp -s g.out "$GOLDEN/dst.bin" && ok || bad "golden $g: apply output differs from dst.bin"; }
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
