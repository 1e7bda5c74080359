#!/bin/sh
# Black-box tests of what a mature CLI owes its users (issue 12): it never
# destroys a file (inputs, existing files, symlinks, FIFOs, device nodes,
# stdout), reads with bounds, writes key pairs atomically, explains itself
# (help, messages with numbers, summaries, JSON), shows truthful progress,
# takes the device policy, reads HEX/ELF and every key form, and signs
# detached. Destructive cases run in a temporary directory; the device node
# case only as root.
#
#   sh tests/cli/test_cli_features.sh /path/to/dfota
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 /path/to/dfota" >&2
    exit 2
fi
DFOTA=$1
case $DFOTA in /*) ;; *) DFOTA=$(pwd)/$DFOTA ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

T=$(mktemp -d "${TMPDIR:-/tmp}/dfota-clif.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
cd "$T" || exit 1
mkdir io w
W=$T/w
umask 022

. "$HERE/lib.sh"

[ -x "$DFOTA" ] || { bad "no executable at $DFOTA"; finish; }

# same NAME A B: files A and B are byte-identical.
same() { if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi; }
# has NAME FILE PATTERN: FILE contains the fixed string PATTERN.
has() { if grep -qF -- "$3" "$2"; then ok; else bad "$1: $(basename "$2") lacks '$3'"; sed 's/^/    | /' "$2" | head -5; fi; }
# mode_is NAME FILE MODE: ls -l mode string
mode_is() {
    _m=$(ls -ld "$2" | cut -c1-10)
    if [ "$_m" = "$3" ]; then ok; else bad "$1: $2 is $_m, expected $3"; fi
}
V="--from-version 1.0 --to-version 2.0"

# ---- data ------------------------------------------------------------------
$PY - "$W" <<'EOF' || { bad "cannot generate test data"; finish; }
import os, random, struct, sys
w = sys.argv[1]
def put(name, data):
    with open(os.path.join(w, name), "wb") as f:
        f.write(data)
r = random.Random(12)
def rnd(n):
    return r.getrandbits(8 * n).to_bytes(n, "little") if n else b""
def fw(n):
    voc = [rnd(4) for _ in range(200)]
    out = bytearray(b"".join(r.choices(voc, k=n // 4 + 1))[:n])
    for i in range(0, n, 701):
        out[i:i + 8] = rnd(8)
    return bytes(out)
a = fw(40000)
b = a[:15000] + rnd(900) + a[15000:30000] + a[30100:]
put("a.bin", a)
put("b.bin", b)
put("c.bin", fw(30000))
big = fw(1024 * 1024 + 4321)
bb = bytearray(big)
for i in range(0, len(bb), 30011):
    bb[i] ^= 0x11
put("big_a", big)
put("big_b", bytes(bb[:300000]) + rnd(20000) + bytes(bb[300000:]))
# Intel HEX of b.bin at 0x08000000 in 32-byte records, split by an ELA record
def ihex(data, base, step=32):
    out, upper = [], None
    def rec(t, addr, payload):
        body = bytes([len(payload), (addr >> 8) & 255, addr & 255, t]) + payload
        return ":" + body.hex().upper() + "%02X" % ((-sum(body)) & 255)
    for off in range(0, len(data), step):
        a_ = base + off
        if a_ >> 16 != upper:
            upper = a_ >> 16
            out.append(rec(4, 0, struct.pack(">H", upper)))
        out.append(rec(0, a_ & 0xFFFF, data[off:off + step]))
    out.append(rec(1, 0, b""))
    return "\n".join(out) + "\n"
put("a.hex", ihex(a, 0x08000000).encode())
put("b.hex", ihex(b, 0x08000000).encode())
# b.hex with a gap: the first 256 bytes missing (0xFF in the image with --base)
put("gap.hex", ihex(b[256:], 0x08000100).encode())
put("gap.bin", b"\xff" * 256 + b[256:])
bad_ = ihex(b, 0x08000000).splitlines()
bad_[3] = bad_[3][:-2] + ("00" if bad_[3][-2:] != "00" else "01")
put("badsum.hex", ("\n".join(bad_) + "\n").encode())
# ELF32 little-endian with two PT_LOAD segments (text at 0x08000000 and data
# loaded at 0x08000000+len(text)+pad), as a linker lays out flash
def elf(segs):
    phoff, n = 52, len(segs)
    data_off = phoff + 32 * n
    hdr = b"\x7fELF" + bytes([1, 1, 1, 0]) + b"\0" * 8
    hdr += struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, segs[0][0], phoff, 0, 0x5000200, 52, 32, n, 40, 0, 0)
    ph, body, off = b"", b"", data_off
    for paddr, payload in segs:
        ph += struct.pack("<IIIIIIII", 1, off, paddr + 0x10000000, paddr, len(payload), len(payload) + 64, 5, 4)
        body += payload
        off += len(payload)
    return hdr + ph + body
put("b.elf", elf([(0x08000000, b[:20000]), (0x08000000 + 20000 + 48, b[20048:])]))
put("b_elf.bin", b[:20000] + b"\xff" * 48 + b[20048:])
EOF
cd "$W" || exit 1

expect "keygen" 0 "" keygen -o k
expect "keygen other" 0 "" keygen -o k2

# ---- never destroy a user's file -------------------------------------------
cp k k.save
cp a.bin a.save
expect "-o is the signing key" 2 "it is the input 'k'" diff $V --key k a.bin b.bin -o k
same "-o is the signing key: key unchanged" k k.save
expect "-o is OLD" 2 "it is the input" diff $V --key k a.bin b.bin -o a.bin
same "-o is OLD: OLD unchanged" a.bin a.save
ln a.bin a.link
expect "-o is a hard link to OLD" 2 "it is the input" diff $V a.bin b.bin -o a.link
expect "-o is OLD, even with -f" 2 "it is the input" diff $V -f a.bin b.bin -o a.bin
same "-o is OLD with -f: unchanged" a.bin a.save
expect "apply -o is the package" 2 "it is the input" apply a.bin k -o k
rm -f p.pkg
expect "diff" 0 "" diff $V --key k a.bin b.bin -o p.pkg
cp p.pkg p.save
expect "existing output without -f" 2 "use -f/--force" diff $V --key k a.bin c.bin -o p.pkg
same "existing output kept" p.pkg p.save
expect "existing output with -f" 0 "" diff $V --key k -f a.bin c.bin -o p.pkg
cmp -s p.pkg p.save && bad "-f did not replace the output" || ok
expect "existing output with --force" 0 "" diff $V --key k --force a.bin b.bin -o p.pkg
same "--force output is the same package again" p.pkg p.save
echo precious >target.txt
ln -s target.txt sym.pkg
expect "symlink output" 2 "symbolic link" diff $V -f a.bin b.bin -o sym.pkg
[ -L sym.pkg ] && ok || bad "symlink output: the link was replaced"
has "symlink output: its target is untouched" target.txt precious
ln -s no-such-target dangling.pkg
expect "dangling symlink output" 2 "symbolic link" diff $V a.bin b.bin -o dangling.pkg
[ -L dangling.pkg ] && [ ! -e no-such-target ] && ok || bad "dangling symlink: replaced or followed"
mkdir outdir
expect "directory output" 3 "directory" diff $V a.bin b.bin -o outdir
# FIFO: written into, stays a FIFO
mkfifo fifo
cat fifo >fifo.got &
catpid=$!
expect "FIFO output" 0 "" diff $V --key k a.bin b.bin -o fifo
wait $catpid
same "FIFO output: the reader got the package" fifo.got p.save
[ -p fifo ] && ok || bad "FIFO output: fifo is no longer a FIFO"
# -o - and /dev/stdout, /dev/fd/N: into the descriptor
"$DFOTA" diff $V --key k a.bin b.bin -o - >stdout.pkg 2>"$T/io/err" && ok || bad "-o -: exit $?"
same "-o -: stdout is the package" stdout.pkg p.save
"$DFOTA" diff $V --key k a.bin b.bin -o /dev/stdout >devstdout.pkg 2>"$T/io/err" && ok || bad "-o /dev/stdout: exit $?"
same "-o /dev/stdout with stdout a file: the file is the package" devstdout.pkg p.save
[ -c /dev/stdout ] || [ -L /dev/stdout ] && ok || bad "/dev/stdout was replaced"
"$DFOTA" diff $V --key k a.bin b.bin -o /dev/fd/3 3>fd3.pkg 2>"$T/io/err" && ok || bad "-o /dev/fd/3: exit $?"
same "-o /dev/fd/3 (as -o >(cmd) gives)" fd3.pkg p.save
"$DFOTA" apply a.bin p.pkg -o - >stdout.bin 2>"$T/io/err" && ok || bad "apply -o -: exit $?"
same "apply -o -: stdout is the target" stdout.bin b.bin
expect "--json with -o -" 2 "stdout" diff $V --json a.bin b.bin -o -
if [ "$(id -u)" = 0 ]; then
    mknod null c 1 3 && {
        expect "device node output" 0 "" diff $V a.bin b.bin -o null
        [ -c null ] && ok || bad "device node output: no longer a character device"
        expect "apply into a device node" 0 "" apply a.bin p.pkg -o null
        [ -c null ] && ok || bad "apply: device node replaced"
        [ -c /dev/null ] && ok || bad "/dev/null is not a character device"
    }
else
    echo "skip: not root, no device node test"
fi
# stdin
"$DFOTA" inspect - <p.pkg >"$T/io/out" 2>"$T/io/err" && ok || bad "inspect -: exit $?"
has "inspect - reads stdin" "$T/io/out" "(stdin)"
cat p.pkg | "$DFOTA" verify --pub k.pub --source a.bin - >"$T/io/out" 2>"$T/io/err" && ok || bad "verify - from a pipe: exit $?"
"$DFOTA" apply a.bin - -o stdin.bin <p.pkg 2>"$T/io/err" && ok || bad "apply OLD - : exit $?"
same "apply with the package on stdin" stdin.bin b.bin
head -c 500 p.pkg | "$DFOTA" verify - >/dev/null 2>"$T/io/err"
[ $? -eq 4 ] && ok || bad "truncated package on stdin: not exit 4"
has "truncated package on stdin: numbers" "$T/io/err" "its header says"
expect "OLD and PKG both stdin" 2 "stdin" apply - - -o x.bin

# ---- bounded readers -------------------------------------------------------
timeout 20 "$DFOTA" inspect /dev/zero >/dev/null 2>"$T/io/err"
[ $? -eq 4 ] && ok || bad "inspect /dev/zero: not exit 4 within 20 s"
has "inspect /dev/zero: bad magic" "$T/io/err" "not a dfota package"
timeout 20 "$DFOTA" verify /dev/zero >/dev/null 2>&1
[ $? -eq 4 ] && ok || bad "verify /dev/zero: not exit 4"
truncate -s 2200M sparse.bin
timeout 20 "$DFOTA" diff $V sparse.bin b.bin -o x.pkg >/dev/null 2>"$T/io/err"
[ $? -eq 2 ] && ok || bad "2.2 GB sparse image: not refused (exit 2) within 20 s"
has "2.2 GB sparse image: sizes named" "$T/io/err" "2306867200 bytes"
no_file "2.2 GB sparse image: no output" x.pkg
timeout 20 "$DFOTA" apply --slot-size 64k sparse.bin p.pkg -o x.bin >/dev/null 2>"$T/io/err"
[ $? -eq 7 ] && ok || bad "image larger than --slot-size: not refused (exit 7)"
has "image larger than --slot-size: sizes" "$T/io/err" "may be at most 65536 bytes"
head -c 100000 /dev/zero >zero100k
cat zero100k | timeout 20 "$DFOTA" apply --slot-size 64k - p.pkg -o x.bin >/dev/null 2>"$T/io/err"
[ $? -eq 7 ] && ok || bad "stdin image past --slot-size: not refused"
has "stdin image past --slot-size: just past the bound" "$T/io/err" "more than 65536 bytes"
rm -f sparse.bin

# ---- keygen ------------------------------------------------------------------
expect "keygen kf" 0 "" keygen -o kf
cp kf kf.save; cp kf.pub kfpub.save
expect "keygen over an existing pair" 2 "use -f/--force" keygen -o kf
same "keygen refused: secret kept" kf kf.save
same "keygen refused: public kept" kf.pub kfpub.save
expect "keygen --force" 0 "" keygen --force -o kf
cmp -s kf kf.save && bad "keygen --force did not replace the key" || ok
cmp -s kf.pub kfpub.save && bad "keygen --force did not replace the public key" || ok
mkdir kd.pub
expect "keygen: KEY.pub cannot be written" 3 "kd.pub" keygen -o kd
[ ! -e kd ] && ok || bad "keygen failed but left the secret kd behind"
rmdir kd.pub
mkdir ro && chmod 500 ro
if [ "$(id -u)" != 0 ]; then
    expect "keygen in a read-only directory" 3 "" keygen -o ro/k
    no_file "keygen read-only: nothing" ro/k
fi
chmod 700 ro
(umask 077 && "$DFOTA" keygen -o ku >"$T/io/out" 2>"$T/io/err") && ok || bad "keygen under umask 077"
mode_is "umask 077: secret" ku "-rw-------"
mode_is "umask 077: public" ku.pub "-rw-------"
(umask 027 && "$DFOTA" keygen -o kv >/dev/null 2>&1)
mode_is "umask 027: secret 0600" kv "-rw-------"
mode_is "umask 027: public 0640" kv.pub "-rw-r-----"
expect "keygen prints the key id" 0 "" keygen -o kw
kid_printed=$(sed -n 's/.*key id \([0-9a-f]\{16\}\).*/\1/p' "$T/io/out")
expect "keyid KEY.pub" 0 "" keyid kw.pub
kid_pub=$(cat "$T/io/out")
expect "keyid KEY" 0 "" keyid kw
kid_sec=$(cat "$T/io/out")
[ -n "$kid_printed" ] && [ "$kid_printed" = "$kid_pub" ] && [ "$kid_pub" = "$kid_sec" ] && ok ||
    bad "key ids differ: keygen '$kid_printed', keyid pub '$kid_pub', keyid secret '$kid_sec'"
openssl pkey -pubin -in kw.pub -outform DER 2>/dev/null | tail -c 32 >kw.raw
openssl pkey -pubin -in kw.pub -outform DER -out kw.pub.der 2>/dev/null
openssl pkey -in kw -outform DER -out kw.der 2>/dev/null
for f in kw.raw kw.pub.der kw.der; do
    expect "keyid $f" 0 "" keyid "$f" && { [ "$(cat "$T/io/out")" = "$kid_pub" ] && ok || bad "keyid $f differs"; }
done
expect "keyid --json" 0 "" keyid --json kw.pub
has "keyid --json" "$T/io/out" "\"key_id\":\"$kid_pub\""
expect "keyid of a non-key" 3 "not an Ed25519" keyid a.bin
expect "a raw public key as --key" 3 "32 raw bytes" diff $V --key kw.raw a.bin b.bin -o x.pkg
no_file "a raw public key as --key: nothing written" x.pkg

# ---- help and messages ---------------------------------------------------------
for c in keygen keyid diff inspect verify apply digest sign; do
    for h in --help -h; do
        expect "$c $h" 0 "" $c $h && {
            has "$c $h: usage" "$T/io/out" "usage: dfota $c"
            has "$c $h: example" "$T/io/out" "example:"
        }
    done
    "$DFOTA" help $c >"$T/io/help.$c" 2>&1
    "$DFOTA" $c --help >"$T/io/help2.$c" 2>&1
    same "dfota help $c = dfota $c --help" "$T/io/help.$c" "$T/io/help2.$c"
done
has "diff --help names defaults" "$T/io/help.diff" "default 4096"
has "diff --help lists --key" "$T/io/help.diff" "--key KEY"
expect "help of no command" 2 "no such command" help frobnicate
expect "--version" 0 "" --version
has "--version" "$T/io/out" "dfota 0."
expect "unknown option points to help" 2 "see 'dfota diff --help'" diff --bogus
one_line "unknown option: one line"
expect "missing value points to help" 2 "see 'dfota verify --help'" verify --pub
expect "unknown short option" 2 "unknown option '-z'" apply -z
# numbers in the messages
head -c 400 p.save >trunc.pkg
expect "truncated: sizes" 4 "package is 400 bytes, its header says $(wc -c <p.save | tr -d ' ') (truncated?)" verify trunc.pkg
$PY -c "
d = bytearray(open('p.pkg','rb').read()); d[8] = 3; open('v3.pkg','wb').write(d)"
expect "format version" 4 "format version 3, this dfota reads 1 and 2" inspect v3.pkg
# format 2 is the default; --package-format 1 writes the 312-byte header
expect "inspect v2" 0 "" inspect p.pkg
has "inspect v2: format and header size" "$T/io/out" "format 2, header "
rm -f p1.pkg
expect "diff --package-format 1" 0 "" diff $V --package-format 1 --key k a.bin b.bin -o p1.pkg
expect "inspect v1" 0 "" inspect p1.pkg
has "inspect v1: format and header size" "$T/io/out" "format 1, header 312 bytes"
expect "inspect v1: JSON" 0 "" inspect --json p1.pkg
has "inspect v1: JSON version" "$T/io/out" '"format_version":1,'
has "inspect v1: JSON header size" "$T/io/out" '"header_size":312,'
expect "verify v1" 0 "" verify --pub k.pub --source a.bin p1.pkg
[ $(($(wc -c <p1.pkg) - $(wc -c <p.pkg))) -ge 90 ] && ok || bad "format 2 header not at least 90 bytes smaller"
expect "--package-format 3" 2 "--package-format '3'" diff $V --package-format 3 a.bin b.bin -o x.pkg
no_file "--package-format 3: no output" x.pkg
# decoder RAM profiles: 4k writes the small model and says so in the header;
# a default dfota applies it (A/B and in place); a bad value makes no file
rm -f r4.pkg r4i.pkg
expect "diff --decoder-ram 4k" 0 "" diff $V --decoder-ram 4k --key k a.bin b.bin -o r4.pkg
expect "inspect 4k: JSON" 0 "" inspect --json r4.pkg
has "inspect 4k: decoder_ram 4096" "$T/io/out" '"decoder_ram":4096,'
expect "inspect 16k: JSON" 0 "" inspect --json p.pkg
if grep -q '"decoder_ram":4096,' "$T/io/out"; then bad "16k package claims 4096"; else ok; fi
expect "apply 4k" 0 "" apply --pub k.pub a.bin r4.pkg -o r4.bin -f
cmp -s r4.bin b.bin && ok || bad "apply 4k: not the target"
expect "diff --decoder-ram 4k in place" 0 "" diff $V --decoder-ram 4k --layout inplace --key k a.bin b.bin -o r4i.pkg
expect "apply 4k in place" 0 "" apply --pub k.pub a.bin r4i.pkg -o r4i.bin -f
cmp -s r4i.bin b.bin && ok || bad "apply 4k in place: not the target"
rm -f x.pkg
expect "--decoder-ram 8k" 2 "--decoder-ram '8k'" diff $V --decoder-ram 8k --key k a.bin b.bin -o x.pkg
no_file "--decoder-ram 8k: no output" x.pkg
expect "--decoder-ram 16k" 0 "" diff $V --decoder-ram 16k --key k a.bin b.bin -o x.pkg
rm -f x.pkg
# --codec: one codec for devices built with one (DFOTA_CFG_DZ1/DZ2); auto is
# the smaller, as without the option
rm -f c1.pkg c2.pkg ca.pkg ci1.pkg
expect "diff --codec dz1" 0 "" diff $V --codec dz1 --key k a.bin b.bin -o c1.pkg
expect "inspect --codec dz1" 0 "" inspect c1.pkg
has "--codec dz1: a DZ1 package" "$T/io/out" "DZ1 (algorithm 1)"
expect "inspect --codec dz1: JSON" 0 "" inspect --json c1.pkg
has "--codec dz1: JSON algorithm" "$T/io/out" '"algorithm":1,'
expect "verify --codec dz1" 0 "" verify --pub k.pub --source a.bin c1.pkg
expect "diff --codec dz2" 0 "" diff $V --codec dz2 --key k a.bin b.bin -o c2.pkg
expect "inspect --codec dz2" 0 "" inspect c2.pkg
has "--codec dz2: a DZ2 package" "$T/io/out" "DZ2 (algorithm 2)"
rm -f c2.out
expect "apply --codec dz2" 0 "" apply --pub k.pub a.bin c2.pkg -o c2.out
same "apply --codec dz2: the target" b.bin c2.out
expect "diff --codec dz1, in place" 0 "" diff $V --codec dz1 --layout inplace --key k a.bin b.bin -o ci1.pkg
expect "inspect --codec dz1, in place" 0 "" inspect ci1.pkg
has "--codec dz1, in place: DZ1" "$T/io/out" "DZ1 (algorithm 1)"
expect "diff --codec auto" 0 "" diff $V --codec auto --key k a.bin b.bin -o ca.pkg
[ "$(wc -c <ca.pkg)" -le "$(wc -c <c1.pkg)" ] && [ "$(wc -c <ca.pkg)" -le "$(wc -c <c2.pkg)" ] && ok ||
    bad "--codec auto is not the smaller of dz1 and dz2"
expect "--codec dz3" 2 "--codec 'dz3': it is auto" diff $V --codec dz3 --key k a.bin b.bin -o x.pkg
one_line "--codec dz3: one line"
no_file "--codec dz3: no output" x.pkg
# --block-digest: in place, the device's digest table by default (no chain
# in the package); a chain of 4-byte entries (engines before
# DFOTA_PKG_F_DEVTABLE) or 16-byte ones (before DFOTA_PKG_F_BLOCKHASH4) on
# request; all apply
rm -f bd.pkg b4.pkg b16.pkg bd.bin b4.bin b16.bin
expect "diff in place, default: device digests" 0 "" diff $V --layout inplace --key k a.bin b.bin -o bd.pkg
expect "inspect default" 0 "" inspect bd.pkg
has "inspect: the device's digest table" "$T/io/out" "block check  the device's digest table"
expect "inspect default: JSON" 0 "" inspect --json bd.pkg
has "inspect JSON: block_check device" "$T/io/out" '"block_digest":0,"block_check":"device","staging_need":'
expect "diff --block-digest device" 0 "" diff $V --layout inplace --block-digest device --key k a.bin b.bin -o bd2.pkg
same "--block-digest device is the default" bd.pkg bd2.pkg
expect "diff --block-digest 4" 0 "" diff $V --layout inplace --block-digest 4 --key k a.bin b.bin -o b4.pkg
expect "inspect --block-digest 4" 0 "" inspect b4.pkg
has "inspect: 4-byte chain entries" "$T/io/out" "block chain  4-byte entries"
expect "inspect --block-digest 4: JSON" 0 "" inspect --json b4.pkg
has "inspect JSON: block_digest 4" "$T/io/out" '"block_digest":4,"block_check":"chain",'
[ "$(wc -c <bd.pkg)" -lt "$(wc -c <b4.pkg)" ] && ok || bad "device digests not smaller than a 4-byte chain"
expect "apply device digests" 0 "" apply --pub k.pub a.bin bd.pkg -o bd.bin
same "apply device digests: the target" b.bin bd.bin
expect "diff --block-digest 16" 0 "" diff $V --layout inplace --block-digest 16 --key k a.bin b.bin -o b16.pkg
expect "inspect --block-digest 16" 0 "" inspect --json b16.pkg
has "inspect JSON: block_digest 16" "$T/io/out" '"block_digest":16,'
[ "$(wc -c <b4.pkg)" -lt "$(wc -c <b16.pkg)" ] && ok || bad "4-byte chain not smaller than 16-byte"
expect "apply 4-byte chain" 0 "" apply --pub k.pub a.bin b4.pkg -o b4.bin
same "apply 4-byte chain: the target" b.bin b4.bin
expect "apply 16-byte chain" 0 "" apply --pub k.pub a.bin b16.pkg -o b16.bin
same "apply 16-byte chain: the target" b.bin b16.bin
expect "inspect A/B: no chain" 0 "" inspect --json p.pkg
has "inspect JSON A/B: block_digest 0" "$T/io/out" '"block_digest":0,'
rm -f x.pkg
expect "--block-digest 8" 2 "--block-digest '8': it is device" diff $V --layout inplace --block-digest 8 --key k a.bin b.bin -o x.pkg
no_file "--block-digest 8: no output" x.pkg
expect "--codec DZ1 (case)" 2 "--codec 'DZ1'" diff $V --codec DZ1 --key k a.bin b.bin -o x.pkg
no_file "--codec DZ1: no output" x.pkg
expect "--decoder-ram 4k --codec dz1" 2 "not with --codec dz1" diff $V --decoder-ram 4k --codec dz1 --key k a.bin b.bin -o x.pkg
no_file "--decoder-ram 4k --codec dz1: no output" x.pkg
# --target-window: in place, DZ2, how far back target copies reach. wa/wb:
# the target repeats new bytes within a 4 KiB sector more than 256 bytes on
# (in no earlier image), so block (and auto, for format 2 with the device's
# digest table) sets DFOTA_PKG_F_BLOCKWIN, ring does not; all apply
$PY - "$W" <<'EOF' || bad "cannot generate the target-window pair"
import os, random, sys
r = random.Random(77)
def rnd(n):
    return r.getrandbits(8 * n).to_bytes(n, "little")
voc = [rnd(4) for _ in range(300)]
a = bytearray(b"".join(r.choices(voc, k=6000))[:24000])
b = bytearray(a)
for s in range(0, len(b) - 4096 + 1, 4096):
    run = rnd(300)
    b[s + 100:s + 400] = run
    b[s + 1500:s + 1800] = run
for name, data in (("wa.bin", a), ("wb.bin", b)):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(bytes(data))
EOF
WIN="--layout inplace --sector-size 4096 --codec dz2"
rm -f tw_a.pkg tw_b.pkg tw_r.pkg tw_a.bin tw_b.bin tw_r.bin tw_4.pkg tw_ab.pkg x.pkg
expect "--target-window auto" 0 "" diff $V $WIN --json --key k wa.bin wb.bin -o tw_a.pkg
has "--target-window auto: diff JSON" "$T/io/out" '"target_window":"block",'
expect "--target-window auto: inspect" 0 "" inspect tw_a.pkg
has "--target-window auto: copy window line" "$T/io/out" "copy window  target copies reach the whole current block"
expect "--target-window auto: inspect JSON" 0 "" inspect --json tw_a.pkg
has "--target-window auto: inspect JSON block" "$T/io/out" '"target_window":"block",'
expect "--target-window auto: apply" 0 "" apply --pub k.pub wa.bin tw_a.pkg -o tw_a.bin
same "--target-window auto: the target" wb.bin tw_a.bin
expect "--target-window block" 0 "" diff $V $WIN --target-window block --json --key k wa.bin wb.bin -o tw_b.pkg
has "--target-window block: diff JSON" "$T/io/out" '"target_window":"block",'
same "--target-window block is what auto chose" tw_a.pkg tw_b.pkg
expect "--target-window block: verify" 0 "" verify --pub k.pub --source wa.bin tw_b.pkg
expect "--target-window block: apply" 0 "" apply --pub k.pub wa.bin tw_b.pkg -o tw_b.bin
same "--target-window block: the target" wb.bin tw_b.bin
expect "--target-window ring" 0 "" diff $V $WIN --target-window ring --json --key k wa.bin wb.bin -o tw_r.pkg
has "--target-window ring: diff JSON" "$T/io/out" '"target_window":"ring",'
expect "--target-window ring: inspect" 0 "" inspect tw_r.pkg
if grep -qF "copy window" "$T/io/out"; then bad "--target-window ring: inspect shows a copy window line"; else ok; fi
expect "--target-window ring: inspect JSON" 0 "" inspect --json tw_r.pkg
has "--target-window ring: inspect JSON ring" "$T/io/out" '"target_window":"ring",'
flags_r=$(sed -n 's/.*"flags":\([0-9]*\).*/\1/p' "$T/io/out")
[ $((flags_r & 128)) -eq 0 ] && ok || bad "--target-window ring: flags $flags_r have 0x80"
expect "--target-window block: inspect JSON flags" 0 "" inspect --json tw_b.pkg
flags_b=$(sed -n 's/.*"flags":\([0-9]*\).*/\1/p' "$T/io/out")
[ $((flags_b & 128)) -ne 0 ] && [ $((flags_b & ~128)) -eq "$flags_r" ] && ok ||
    bad "--target-window block: flags $flags_b are not ring's $flags_r with 0x80"
expect "--target-window ring: apply" 0 "" apply --pub k.pub wa.bin tw_r.pkg -o tw_r.bin
same "--target-window ring: the target" wb.bin tw_r.bin
[ "$(size_of tw_b.pkg)" -lt "$(size_of tw_r.pkg)" ] && ok ||
    bad "--target-window block ($(size_of tw_b.pkg) B) not smaller than ring ($(size_of tw_r.pkg) B)"
expect "-v: the copy window" 0 "target copies over the whole block" diff -v $V $WIN --key k wa.bin wb.bin -o x.pkg -f
rm -f x.pkg
# auto is ring with a block digest chain (engines before the digest table)
expect "--target-window auto, --block-digest 4" 0 "" diff $V $WIN --block-digest 4 --json --key k wa.bin wb.bin -o tw_4.pkg
has "--target-window auto, --block-digest 4: ring" "$T/io/out" '"target_window":"ring",'
expect "--target-window auto, --block-digest 4: inspect" 0 "" inspect tw_4.pkg
if grep -qF "copy window" "$T/io/out"; then bad "--block-digest 4: inspect shows a copy window line"; else ok; fi
# A/B: every earlier target byte, always
expect "--target-window, A/B" 0 "" diff $V --layout ab --codec dz2 --json --key k wa.bin wb.bin -o tw_ab.pkg
has "--target-window, A/B: diff JSON all" "$T/io/out" '"target_window":"all",'
expect "--target-window, A/B: inspect JSON" 0 "" inspect --json tw_ab.pkg
has "--target-window, A/B: inspect JSON all" "$T/io/out" '"target_window":"all",'
expect "--target-window, A/B: inspect" 0 "" inspect tw_ab.pkg
if grep -qF "copy window" "$T/io/out"; then bad "A/B: inspect shows a copy window line"; else ok; fi
# a bad value is a usage error; block needs format 2: no output either way
expect "--target-window wide" 2 "--target-window 'wide': it is auto, ring or block" diff $V $WIN --target-window wide --key k wa.bin wb.bin -o x.pkg
one_line "--target-window wide: one line"
no_file "--target-window wide: no output" x.pkg
expect "--target-window BLOCK (case)" 2 "--target-window 'BLOCK'" diff $V $WIN --target-window BLOCK --key k wa.bin wb.bin -o x.pkg
no_file "--target-window BLOCK: no output" x.pkg
expect "--target-window block --package-format 1" 2 "" diff $V $WIN --target-window block --package-format 1 --key k wa.bin wb.bin -o x.pkg
one_line "--target-window block --package-format 1: one line"
no_file "--target-window block --package-format 1: no output" x.pkg
expect "--target-window auto --package-format 1" 0 "" diff $V $WIN --package-format 1 --json --key k wa.bin wb.bin -o x.pkg
has "--target-window auto --package-format 1: ring" "$T/io/out" '"target_window":"ring",'
expect "--package-format 1: apply" 0 "" apply --pub k.pub wa.bin x.pkg -o tw_1.bin
same "--package-format 1: the target" wb.bin tw_1.bin
rm -f x.pkg tw_1.bin
# --saved-sectors: in place, direction auto, the source sectors the device
# copies into staging before the update (DFOTA_PKG_F_SAVED, 0x100). sa/sb:
# two pairs of 1 KiB sectors swap places (2 <-> 8, 4 <-> 10), each the
# other's source byte for byte; at lag 0 no order keeps both of a pair
# readable, so each save keeps a sector's bytes: N saves with N = 0, 1, 2
$PY - "$W" <<'EOF' || bad "cannot generate the saved-sectors pair"
import os, random, sys
r = random.Random(91)
def rnd(n):
    return r.getrandbits(8 * n).to_bytes(n, "little")
S = 1024
a = bytearray(rnd(12 * S + 500))
b = bytearray(a)
for x, y in ((2, 8), (4, 10)):
    b[x * S:(x + 1) * S], b[y * S:(y + 1) * S] = a[y * S:(y + 1) * S], a[x * S:(x + 1) * S]
for i in range(0, len(b), 997):
    b[i] ^= 0x5A
for name, data in (("sa.bin", a), ("sb.bin", b)):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(bytes(data))
EOF
SAV="--layout inplace --sector-size 1024 --scratch-sectors 2"
for _ns in 0 1 2; do
    rm -f sv$_ns.pkg sv$_ns.bin
    expect "--saved-sectors $_ns" 0 "" diff $V $SAV --saved-sectors $_ns --key k sa.bin sb.bin -o sv$_ns.pkg
    expect "--saved-sectors $_ns: inspect" 0 "" inspect sv$_ns.pkg
    case $_ns in
    0) if grep -q "^saved " "$T/io/out"; then bad "--saved-sectors 0: inspect shows a saved line"; else ok; fi ;;
    1) has "--saved-sectors 1: inspect line" "$T/io/out" "saved        source sector 2: copied into staging before the update, read there once overwritten (1024 bytes of staging)" ;;
    2) has "--saved-sectors 2: inspect line" "$T/io/out" "saved        source sectors 2,4: copied into staging before the update, read there once overwritten (2048 bytes of staging)" ;;
    esac
    expect "--saved-sectors $_ns: inspect JSON" 0 "" inspect --json sv$_ns.pkg
    case $_ns in 0) _sl= ;; 1) _sl=2 ;; 2) _sl=2,4 ;; esac
    has "--saved-sectors $_ns: inspect JSON saved" "$T/io/out" "\"saved\":\"$_sl\","
    _fl=$(sed -n 's/.*"flags":\([0-9]*\).*/\1/p' "$T/io/out")
    _need=$(sed -n 's/.*"staging_need":\([0-9]*\).*/\1/p' "$T/io/out")
    if [ $_ns -eq 0 ]; then
        [ $((_fl & 256)) -eq 0 ] && ok || bad "--saved-sectors 0: flags $_fl have 0x100"
    else
        [ $((_fl & 256)) -ne 0 ] && ok || bad "--saved-sectors $_ns: flags $_fl lack 0x100"
    fi
    # staging: the package in whole sectors, the copies, then the digest table (1 KiB)
    _sz=$(size_of sv$_ns.pkg)
    [ "$_need" = $(((_sz + 1023) / 1024 * 1024 + _ns * 1024 + 1024)) ] && ok ||
        bad "--saved-sectors $_ns: staging_need $_need for a $_sz-byte package"
    expect "--saved-sectors $_ns: verify" 0 "" verify --pub k.pub --source sa.bin sv$_ns.pkg
    expect "--saved-sectors $_ns: apply" 0 "" apply --pub k.pub sa.bin sv$_ns.pkg -o sv$_ns.bin
    same "--saved-sectors $_ns: the target" sb.bin sv$_ns.bin
done
rm -f svd.pkg
expect "--saved-sectors default" 0 "" diff $V $SAV --key k sa.bin sb.bin -o svd.pkg
same "--saved-sectors default is 2" sv2.pkg svd.pkg
[ "$(size_of sv2.pkg)" -lt "$(size_of sv1.pkg)" ] && [ "$(size_of sv1.pkg)" -lt "$(size_of sv0.pkg)" ] && ok ||
    bad "--saved-sectors: 2 ($(size_of sv2.pkg) B), 1 ($(size_of sv1.pkg) B), 0 ($(size_of sv0.pkg) B) not each smaller"
expect "-v: saved source sectors" 0 "saved source sectors" diff -v $V $SAV --key k sa.bin sb.bin -o x.pkg -f
rm -f x.pkg
expect "--saved-sectors 3" 2 "--saved-sectors '3': 0 to 2" diff $V $SAV --saved-sectors 3 --key k sa.bin sb.bin -o x.pkg
one_line "--saved-sectors 3: one line"
no_file "--saved-sectors 3: no output" x.pkg
expect "--saved-sectors two" 2 "--saved-sectors 'two'" diff $V $SAV --saved-sectors two --key k sa.bin sb.bin -o x.pkg
no_file "--saved-sectors two: no output" x.pkg
# only the searched order saves: --direction plain (engines before runs),
# a block digest chain and format 1 code without, and apply
for _o in "--direction plain" "--block-digest 4" "--package-format 1"; do
    rm -f x.pkg x.bin
    expect "--saved-sectors 2 $_o" 0 "" diff $V $SAV $_o --saved-sectors 2 --key k sa.bin sb.bin -o x.pkg
    expect "--saved-sectors 2 $_o: inspect" 0 "" inspect x.pkg
    if grep -q "^saved " "$T/io/out"; then bad "--saved-sectors 2 $_o: inspect shows a saved line"; else ok; fi
    expect "--saved-sectors 2 $_o: inspect JSON" 0 "" inspect --json x.pkg
    has "--saved-sectors 2 $_o: no saved sectors" "$T/io/out" '"saved":"",'
    _fl=$(sed -n 's/.*"flags":\([0-9]*\).*/\1/p' "$T/io/out")
    [ $((_fl & 256)) -eq 0 ] && ok || bad "--saved-sectors 2 $_o: flags $_fl have 0x100"
    expect "--saved-sectors 2 $_o: apply" 0 "" apply --pub k.pub sa.bin x.pkg -o x.bin
    same "--saved-sectors 2 $_o: the target" sb.bin x.bin
done
rm -f x.pkg x.bin
# threads (DFOTA_THREADS): the same package whatever their number, one
# (none besides the caller) to several, A/B, in place (the small pair's two
# orders coded side by side, the big pair's one after the other), 4k
for _l in "" "--layout inplace" "--decoder-ram 4k" "--decoder-ram 4k --layout inplace"; do
    for _p in "a.bin b.bin" "big_a big_b"; do
        rm -f th1.pkg th2.pkg th3.pkg
        DFOTA_THREADS=1 "$DFOTA" diff $V -q $_l --key k $_p -o th1.pkg && ok || bad "DFOTA_THREADS=1 diff $_l $_p: exit $?"
        DFOTA_THREADS=2 "$DFOTA" diff $V -q $_l --key k $_p -o th2.pkg && ok || bad "DFOTA_THREADS=2 diff $_l $_p: exit $?"
        DFOTA_THREADS=5 "$DFOTA" diff $V -q $_l --key k $_p -o th3.pkg && ok || bad "DFOTA_THREADS=5 diff $_l $_p: exit $?"
        same "threads 2 = threads 1 ($_l $_p)" th1.pkg th2.pkg
        same "threads 5 = threads 1 ($_l $_p)" th1.pkg th3.pkg
    done
done
rm -f th1.pkg th2.pkg th3.pkg
rm -f prod.pkg
expect "diff with a product" 0 "" diff $V --product acme-x1 --key k a.bin b.bin -o prod.pkg
expect "wrong product named" 7 "product 'acme-x1' in the header is not 'acme-x2'" verify --product acme-x2 prod.pkg
expect "wrong source: sizes and digests" 5 "40000 bytes, sha256 " verify --source c.bin p.pkg
has "wrong source: the given size" "$T/io/err" "given: 30000 bytes"
expect "source already is the target" 5 "already is the target" verify --source b.bin p.pkg
expect "apply to the target" 5 "already is the target" apply b.bin p.pkg -o x.bin
kid_k=$("$DFOTA" keyid k.pub) kid_k2=$("$DFOTA" keyid k2.pub)
expect "bad signature names both key ids" 6 "signed by key $kid_k, not by the given key $kid_k2" verify --pub k2.pub p.pkg
# arguments checked before the work
expect "non-ASCII version, before the work" 2 "byte 5 is 0xc3" diff --from-version "1.0-ä" --to-version 2 big_a big_b -o x.pkg
expect "version of 32 bytes" 2 "is 32 bytes long" diff --from-version "0123456789abcdef0123456789abcdef" --to-version 2 a.bin b.bin -o x.pkg
expect "a 31-byte version is fine" 0 "" diff --from-version "0123456789abcdef0123456789abcde" --to-version 2 a.bin b.bin -o v31.pkg
expect "sector size 2 GiB refused" 2 "--sector-size" diff $V --layout inplace --sector-size 2G a.bin b.bin -o x.pkg
expect "sector size 2147483648 refused" 2 "--sector-size" diff $V --layout inplace --sector-size 2147483648 a.bin b.bin -o x.pkg
no_file "bad arguments write nothing" x.pkg
rm -f s4k.pkg s64.pkg
expect "--sector-size 4k" 0 "" diff $V --layout inplace --sector-size 4k a.bin b.bin -o s4k.pkg
expect "--sector-size 4k is 4096" 0 "" inspect --json s4k.pkg && has "4k = 4096" "$T/io/out" '"sector_size":4096'
expect "--sector-size 64KiB" 0 "" diff $V --layout inplace --sector-size 64KiB a.bin b.bin -o s64.pkg
expect "--sector-size 64KiB is 65536" 0 "" inspect --json s64.pkg && has "64KiB = 65536" "$T/io/out" '"sector_size":65536'
expect "bad suffix" 2 "--sector-size" diff $V --layout inplace --sector-size 4q a.bin b.bin -o x.pkg
# out of memory: its own message and the internal-error code (not under ASan)
truncate -s 100M zeros100m
if (ulimit -v 250000 && "$DFOTA" --version >/dev/null 2>&1) 2>/dev/null; then
    (ulimit -v 250000 && exec "$DFOTA" diff $V zeros100m b.bin -o oom.pkg) >/dev/null 2>"$T/io/err"
    orc=$?
    if [ $orc -eq 0 ]; then
        echo "skip: 250 MB were enough for a 100 MB source; no OOM case"
        rm -f oom.pkg
    else
        [ $orc -eq 1 ] && ok || bad "out of memory: exit $orc, expected 1"
        has "out of memory: message" "$T/io/err" "out of memory"
    fi
else
    echo "skip: dfota does not start under ulimit -v (sanitizer build); no OOM case"
fi
rm -f zeros100m

# ---- summaries, -q, -v, --json -------------------------------------------------
rm -f s.pkg
expect "diff summary" 0 "" diff $V --key k a.bin b.bin -o s.pkg && one_line "diff summary: one line"
has "diff summary: sizes and ratio" "$T/io/err" "% of the $(wc -c <b.bin | tr -d ' ')-byte target"
has "diff summary: time" "$T/io/err" " s"
expect "diff -q" 0 "" diff $V -q -f --key k a.bin b.bin -o s.pkg
[ -s "$T/io/err" ] && bad "diff -q printed: $(cat "$T/io/err")" || ok
expect "diff -q unsigned: silent" 0 "" diff $V -q -f a.bin b.bin -o s.pkg
[ -s "$T/io/err" ] && bad "diff -q (unsigned) printed something" || ok
expect "diff --unsigned: no warning" 0 "" diff $V --unsigned -f a.bin b.bin -o s.pkg
grep -q warning "$T/io/err" && bad "--unsigned still warns" || ok
expect "diff --key and --unsigned" 2 "exclude" diff $V --unsigned --key k a.bin b.bin -o s.pkg
expect "diff -v" 0 "" diff $V -v -f --key k a.bin b.bin -o s.pkg
has "diff -v: phases timed" "$T/io/err" "dfota: sort"
has "diff -v: details" "$T/io/err" "operations"
expect "diff --json" 0 "" diff $V --json -f --key k a.bin b.bin -o s.pkg && cp "$T/io/out" "$T/io/diff.json"
expect "apply summary" 0 "" apply a.bin s.pkg -o s.bin && one_line "apply summary: one line"
has "apply summary: erases, bytes programmed" "$T/io/err" "bytes programmed"
expect "apply -q" 0 "" apply -q -f a.bin s.pkg -o s.bin
[ -s "$T/io/err" ] && bad "apply -q printed something" || ok
expect "apply -v" 0 "" apply -v -f a.bin s.pkg -o s.bin
has "apply -v: counters" "$T/io/err" "program operations"
expect "apply --json" 0 "" apply --json -f a.bin s.pkg -o s.bin && cp "$T/io/out" "$T/io/apply.json"
expect "verify --json" 0 "" verify --json --pub k.pub --source a.bin s.pkg && cp "$T/io/out" "$T/io/verify.json"
expect "verify -q" 0 "" verify -q s.pkg
[ -s "$T/io/out" ] && bad "verify -q printed something" || ok
expect "keygen --json" 0 "" keygen --json -o kj && cp "$T/io/out" "$T/io/keygen.json"
expect "inspect --json --pub" 0 "" inspect --json --pub k.pub s.pkg && cp "$T/io/out" "$T/io/inspect.json"
expect "digest --json" 0 "" digest --json --pub k.pub s.pkg && cp "$T/io/out" "$T/io/digest.json"
$PY - "$T/io" >"$T/io/jsonres" 2>&1 <<'EOF'
import json, os, sys
io = sys.argv[1]
want = {
    "diff": ["package_size", "payload_size", "source_size", "target_size", "ratio", "seconds", "key_id", "signed"],
    "apply": ["target_size", "erases", "bytes_programmed", "seconds"],
    "verify": ["ok", "signed", "signature_checked", "source_checked", "key_id"],
    "keygen": ["secret", "public", "key_id"],
    "inspect": ["lag", "scratch_sectors", "stream_crc32", "key_id", "signature_ok", "payload_ok"],
    "digest": ["key_id", "message", "message_size", "sha256"],
}
for name, keys in want.items():
    try:
        j = json.load(open(os.path.join(io, name + ".json")))
        miss = [k for k in keys if k not in j]
        print(("FAIL %s --json lacks %s" % (name, miss)) if miss else "ok %s --json" % name)
    except Exception as e:
        print("FAIL %s --json: %s" % (name, e))
j = json.load(open(os.path.join(io, "inspect.json")))
print("ok inspect signature_ok" if j.get("signature_ok") is True else "FAIL inspect signature_ok not true")
EOF
while IFS= read -r line; do
    case $line in "ok "*) ok ;; "FAIL "*) bad "${line#FAIL }" ;; *) bad "json: $line" ;; esac
done <"$T/io/jsonres"

# ---- progress over the whole job -----------------------------------------------
# check_bar NAME PHASES...: io/err holds the frames; each fits 39 columns,
# the percentages never go back and end at 100, every phase appears.
check_bar() {
    _n=$1
    shift
    $PY - "$T/io/err" "$@" >"$T/io/barres" <<'EOF'
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
frames = [f for f in re.split(r"[\r\n]", raw) if "%]" in f or re.search(r"\] +\d+%$", f)]
pcts = [int(re.search(r"(\d+)%$", f).group(1)) for f in frames if re.search(r"(\d+)%$", f)]
errs = []
if not frames:
    errs.append("no frames")
if any(len(f) > 39 for f in frames):
    errs.append("a frame is wider than 39 columns: %r" % max(frames, key=len))
if any(b < a for a, b in zip(pcts, pcts[1:])):
    i = next(i for i, (a, b) in enumerate(zip(pcts, pcts[1:])) if b < a)
    errs.append("goes back: %r then %r" % (frames[i], frames[i + 1]))
if pcts and pcts[-1] != 100:
    errs.append("ends at %d%%" % pcts[-1])
for ph in sys.argv[2:]:
    if not any(f.startswith(ph) for f in frames):
        errs.append("phase %r never shown" % ph)
print("FAIL " + "; ".join(errs) if errs else "ok %d frames" % len(frames))
EOF
    IFS= read -r _l <"$T/io/barres"
    case $_l in "ok "*) ok ;; *) bad "$_n: ${_l#FAIL }" ;; esac
}
DFOTA_PROGRESS=1 "$DFOTA" diff $V -f --layout inplace big_a big_b -o bar.pkg >/dev/null 2>"$T/io/err" && ok || bad "diff with progress: exit $?"
# (the forward order, far behind here, is told apart by the order search
# before any matching: only the backward one, 2/2, is matched and coded)
check_bar "diff in place progress" read hash sort "match 2/2" refine "enc 2/2" write
DFOTA_PROGRESS=1 "$DFOTA" apply -f big_a bar.pkg -o bar.bin >/dev/null 2>"$T/io/err" && ok || bad "apply in place with progress: exit $?"
check_bar "apply in place progress" read check apply verify write
same "apply in place with progress: output" bar.bin big_b
DFOTA_PROGRESS=1 "$DFOTA" diff $V -f big_a big_b -o bar.pkg >/dev/null 2>"$T/io/err" && ok || bad "diff A/B with progress: exit $?"
check_bar "diff A/B progress" read sort match refine encode write
DFOTA_PROGRESS=1 "$DFOTA" apply -f big_a bar.pkg -o bar.bin >/dev/null 2>"$T/io/err" && ok || bad "apply with progress: exit $?"
check_bar "apply progress" read check apply verify write
same "apply with progress: output" bar.bin big_b
DFOTA_PROGRESS=1 "$DFOTA" diff $V -q -f a.bin b.bin -o bar.pkg >/dev/null 2>"$T/io/err"
[ -s "$T/io/err" ] && bad "-q still draws the bar" || ok

# ---- the device policy: every engine rejection -----------------------------------
rm -f pol.pkg ip.pkg
expect "policy: diff" 0 "" diff $V --product acme --security-counter 5 --key k a.bin b.bin -o pol.pkg
expect "policy: in-place diff" 0 "" diff $V --layout inplace --sector-size 1k --scratch-sectors 4 --key k a.bin b.bin -o ip.pkg
# policy NAME CODE PATTERN PKG OPTIONS...: verify and apply both refuse (or accept)
policy() {
    _pn=$1 _pc=$2 _pp=$3 _pk=$4
    shift 4
    expect "verify $_pn" "$_pc" "$_pp" verify "$@" "$_pk"
    rm -f pol.out
    expect "apply $_pn" "$_pc" "$_pp" apply "$@" a.bin "$_pk" -o pol.out
    if [ "$_pc" -eq 0 ]; then same "apply $_pn: output" pol.out b.bin; else no_file "apply $_pn: nothing written" pol.out; fi
}
policy "product matches" 0 "" pol.pkg --product acme
policy "product differs" 7 "product 'acme' in the header is not 'other'" pol.pkg --product other
policy "counter equal" 0 "" pol.pkg --security-counter 5
policy "downgrade" 7 "security counter 5 in the header is lower than the device's 6" pol.pkg --security-counter 6
policy "slot fits" 0 "" pol.pkg --slot-size 40k
policy "no space" 7 "36864 bytes" pol.pkg --slot-size 36k
# the target alone too large: the engine's own refusal (OLD fits)
rm -f grow.pkg
expect "policy: growing diff" 0 "" diff $V c.bin a.bin -o grow.pkg
expect "verify: target larger than the slot" 7 "target 40000 bytes; the slot holds 36864 bytes" verify --slot-size 36k grow.pkg
expect "apply: target larger than the slot (engine)" 7 "target 40000 bytes; the slot holds 36864 bytes" apply --slot-size 36k c.bin grow.pkg -o pol.out
no_file "apply: target too large: nothing written" pol.out
policy "A/B package on an in-place device" 7 "for an A/B device" pol.pkg --layout inplace
policy "in-place package on an A/B device" 7 "for an in-place device" ip.pkg --layout ab
policy "in-place, other sector size" 7 "1024-byte sectors" ip.pkg --layout inplace --sector-size 4k
policy "in-place, too few scratch sectors" 7 "at least 4 scratch sectors" ip.pkg --layout inplace --scratch-sectors 3
policy "in-place, more scratch sectors" 0 "" ip.pkg --layout inplace --sector-size 1024 --scratch-sectors 6
rm -f uns.pkg
expect "unsigned diff" 0 "" diff $V --unsigned a.bin b.bin -o uns.pkg
policy "require-signed, unsigned" 6 "unsigned" uns.pkg --require-signed
policy "require-signed, signed" 0 "" pol.pkg --require-signed
expect "verify unsigned without policy" 0 "" verify uns.pkg
expect "slot-size not whole sectors" 2 "whole number" verify --slot-size 5000 --sector-size 4096 pol.pkg
expect "scratch sectors for A/B" 2 "inplace" verify --layout ab --scratch-sectors 4 pol.pkg

# ---- inspect shows everything ------------------------------------------------------
expect "inspect in place" 0 "" inspect ip.pkg
has "inspect: lag" "$T/io/out" "lag 2"
has "inspect: scratch sectors" "$T/io/out" "needs 4 scratch sectors"
has "inspect: stream CRC" "$T/io/out" "stream CRC"
has "inspect: key id" "$T/io/out" "key id       $kid_k"
expect "inspect --pub good" 0 "" inspect --pub k.pub ip.pkg
has "inspect --pub good" "$T/io/out" "good"
expect "inspect --pub other key" 0 "" inspect --pub k2.pub ip.pkg
has "inspect --pub other key" "$T/io/out" "BAD"
expect "inspect --json in place" 0 "" inspect --json ip.pkg
has "inspect --json: lag" "$T/io/out" '"lag":2'
has "inspect --json: scratch" "$T/io/out" '"scratch_sectors":4'

# ---- Intel HEX and ELF -----------------------------------------------------------------
rm -f hex.pkg
expect "diff from Intel HEX" 0 "" diff $V --key k a.hex b.hex -o hex.pkg
expect "HEX package applies to the binary" 0 "" apply a.bin hex.pkg -o hex.bin
same "HEX image = the binary" hex.bin b.bin
expect "verify --source HEX" 0 "" verify --source a.hex hex.pkg
rm -f gap.pkg
expect "HEX with a gap and --base" 0 "" diff $V --base 0x08000000 a.hex gap.hex -o gap.pkg
expect "HEX gap: apply" 0 "" apply a.bin gap.pkg -o gap.out
same "HEX gap filled with 0xFF from --base" gap.out gap.bin
expect "HEX data below --base" 2 "below --base" diff $V --base 0x08001000 a.hex b.hex -o x.pkg
expect "HEX bad checksum" 2 "checksum" diff $V a.hex badsum.hex -o x.pkg
expect "--input-format bin keeps HEX text" 0 "" diff $V --input-format bin -f a.hex b.hex -o x.pkg
rm -f x.pkg elf.pkg
expect "diff from ELF" 0 "" diff $V a.bin b.elf -o elf.pkg
expect "ELF package applies" 0 "" apply a.bin elf.pkg -o elf.out
same "ELF image: PT_LOAD at load addresses, gap 0xFF" elf.out b_elf.bin
expect "--input-format elf on a binary" 2 "not an ELF" diff $V --input-format elf a.bin b.bin -o x.pkg
expect "bad --input-format" 2 "--input-format" diff $V --input-format srec a.bin b.bin -o x.pkg

# ---- keys: encrypted PKCS#8, DER -------------------------------------------------------
if openssl genpkey -algorithm ed25519 -out plain.pem 2>/dev/null &&
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in plain.pem -out enc.pem -passout pass:s3cret 2>/dev/null &&
    openssl pkey -in plain.pem -pubout -out enc.pub 2>/dev/null &&
    openssl pkey -in plain.pem -outform DER -out plain.der 2>/dev/null &&
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in plain.pem -outform DER -out enc.der -passout pass:s3cret 2>/dev/null; then
    printf 's3cret\n' >pass.txt
    rm -f e1.pkg e2.pkg e3.pkg e4.pkg
    DFOTA_PW=s3cret expect "encrypted PEM, --pass-env" 0 "" diff $V --key enc.pem --pass-env DFOTA_PW a.bin b.bin -o e1.pkg
    expect "encrypted PEM: verifies" 0 "" verify --pub enc.pub e1.pkg
    expect "encrypted PEM, --pass-file" 0 "" diff $V --key enc.pem --pass-file pass.txt a.bin b.bin -o e2.pkg
    expect "encrypted DER, --pass-file" 0 "" diff $V --key enc.der --pass-file pass.txt a.bin b.bin -o e3.pkg
    expect "encrypted DER: verifies" 0 "" verify --pub enc.pub e3.pkg
    expect "plain DER key" 0 "" diff $V --key plain.der a.bin b.bin -o e4.pkg
    expect "plain DER: verifies" 0 "" verify --pub enc.pub e4.pkg
    printf 'wrong\n' >wrong.txt
    expect "wrong passphrase" 3 "wrong passphrase" diff $V --key enc.pem --pass-file wrong.txt a.bin b.bin -o x.pkg
    no_file "wrong passphrase: nothing written" x.pkg
    expect "unset passphrase variable" 3 "NO_SUCH_VAR" diff $V --key enc.pem --pass-env NO_SUCH_VAR a.bin b.bin -o x.pkg
    setsid -w "$DFOTA" diff $V --key enc.pem a.bin b.bin -o x.pkg </dev/null >/dev/null 2>"$T/io/err"
    [ $? -eq 3 ] && ok || bad "encrypted key without a terminal: not exit 3"
    has "encrypted key without a terminal: what to give" "$T/io/err" "--pass-file"
    expect "keyid of an encrypted key" 0 "" keyid --pass-file pass.txt enc.pem
    [ "$(cat "$T/io/out")" = "$("$DFOTA" keyid enc.pub)" ] && ok || bad "keyid of the encrypted key differs"
    expect "public key as --key" 3 "public key" diff $V --key enc.pub a.bin b.bin -o x.pkg
else
    bad "openssl could not make the test keys"
fi

# ---- detached signing ------------------------------------------------------------------
rm -f un.pkg msg.bin sig.bin signed.pkg signed2.pkg
expect "detached: unsigned package" 0 "" diff $V --unsigned a.bin b.bin -o un.pkg
expect "detached: digest to a file" 0 "" digest --pub enc.pub -o msg.bin un.pkg
"$DFOTA" inspect --json un.pkg >"$T/io/js" 2>/dev/null
hs=$(sed -n 's/.*"header_size":\([0-9]*\).*/\1/p' "$T/io/js")
[ "$(wc -c <msg.bin | tr -d ' ')" = "$((hs - 64))" ] && ok || bad "digest: not the $((hs - 64)) bytes before the signature"
expect "detached: digest JSON" 0 "" digest --json --pub enc.pub un.pkg
has "detached: digest JSON size" "$T/io/out" "\"message_size\":$((hs - 64)),"
expect "detached: digest hex" 0 "" digest --pub enc.pub un.pkg
[ "$(tr -d '\n' <"$T/io/out")" = "$(od -An -v -tx1 msg.bin | tr -d ' \n')" ] && ok || bad "digest hex differs from the raw bytes"
openssl pkeyutl -sign -rawin -inkey plain.pem -in msg.bin -out sig.bin 2>/dev/null && ok || bad "openssl cannot sign the digest"
expect "detached: sign --signature" 0 "" sign --pub enc.pub --signature sig.bin un.pkg -o signed.pkg
expect "detached: verifies" 0 "" verify --pub enc.pub --source a.bin signed.pkg
expect "detached: applies with the key" 0 "" apply --pub enc.pub a.bin signed.pkg -o sg.bin
same "detached: output" sg.bin b.bin
# the same with a format 1 package: the 248 bytes before its signature
rm -f un1.pkg msg1.bin sig1.bin signed1.pkg
expect "detached v1: unsigned package" 0 "" diff $V --package-format 1 --unsigned a.bin b.bin -o un1.pkg
expect "detached v1: digest" 0 "" digest --pub enc.pub -o msg1.bin un1.pkg
[ "$(wc -c <msg1.bin | tr -d ' ')" = 248 ] && ok || bad "digest v1: not 248 bytes"
openssl pkeyutl -sign -rawin -inkey plain.pem -in msg1.bin -out sig1.bin 2>/dev/null && ok || bad "openssl cannot sign the v1 digest"
expect "detached v1: sign --signature" 0 "" sign --pub enc.pub --signature sig1.bin un1.pkg -o signed1.pkg
expect "detached v1: verifies" 0 "" verify --pub enc.pub --source a.bin signed1.pkg
od -An -v -tx1 sig.bin | tr -d ' \n' >sig.hex
rm -f signed2.pkg
expect "detached: hex signature" 0 "" sign --pub enc.pub --signature sig.hex un.pkg -o signed2.pkg
same "detached: hex and raw give the same package" signed.pkg signed2.pkg
expect "detached: signature by another key" 6 "" sign --pub k.pub --signature sig.bin un.pkg -o bad.pkg
no_file "detached: bad signature writes nothing" bad.pkg
expect "detached: not a signature" 3 "not an Ed25519 signature" sign --pub enc.pub --signature pass.txt un.pkg -o bad.pkg
rm -f signed3.pkg
expect "sign --key" 0 "" sign --key k un.pkg -o signed3.pkg
expect "sign --key: verifies" 0 "" verify --pub k.pub signed3.pkg
rm -f signed4.pkg
expect "sign --json" 0 "" sign --json --key k un.pkg -o signed4.pkg
has "sign --json: key id" "$T/io/out" "\"key_id\":\"$kid_k\""
expect "inspect shows the signature bytes" 0 "" inspect signed4.pkg
has "inspect: payload digest" "$T/io/out" "payload      sha256"
has "inspect: signature bytes" "$T/io/out" "sig bytes"
expect "sign: both ways" 2 "" sign --key k --signature sig.bin --pub enc.pub un.pkg -o x.pkg
expect "sign: -o is the input" 2 "it is the input" sign --key k un.pkg -o un.pkg

finish
