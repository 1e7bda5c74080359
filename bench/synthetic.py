#!/usr/bin/env python3
"""Synthetic worst-case and big pairs for the dfota bench (bench.py --synthetic).

Writes, into a cache directory outside the tree (default
${XDG_CACHE_HOME:-~/.cache}/dfota/synthetic), one directory per pair with
old.bin, new.bin and SOURCE (generator version, seed, sizes):

  syn-random-50m   50 MB of random bytes -> 50 MB of other random bytes:
                   nothing to copy, nothing to compress (the worst case).
  syn-fw-64m       a 64 MB firmware-like image and a new release of it:
                   modules built from short and long pieces of the real
                   firmware in the corpus (or of a Thumb-like generator when
                   there is no corpus), padding and pointer tables; the new
                   image moves, edits, inserts and drops modules and bumps
                   pointers and Thumb BL offsets, as a release does.

Deterministic: the same seed and the same corpus give the same bytes. A pair
is rebuilt only when its SOURCE does not match. Python 3 standard library only.

    python3 bench/synthetic.py [DIR] [--corpus DIR] [--seed N] [--pairs a,b]
"""

import argparse
import hashlib
import os
import random
import struct
import sys

VERSION = 1
MB = 1000 * 1000


def log(msg):
    print("synthetic: " + msg, file=sys.stderr, flush=True)


def default_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dfota", "synthetic")


def default_corpus():
    return os.path.join(os.path.dirname(default_dir()), "corpus")


def material(corpus):
    """The corpus images (old.bin of every pair, sorted by name), joined."""
    parts = []
    if corpus and os.path.isdir(corpus):
        for n in sorted(os.listdir(corpus)):
            f = os.path.join(corpus, n, "old.bin")
            if os.path.isfile(f):
                with open(f, "rb") as fh:
                    parts.append(fh.read())
    return b"".join(parts)


def thumb_like(rng, n):
    """n bytes of Thumb-2-looking code: common 16-bit opcodes, BL pairs, literals."""
    common = [0xb500, 0xbd00, 0x4770, 0x2000, 0x2100, 0x6800, 0x6000, 0x4618, 0x4601, 0x3001,
              0xe7fe, 0xd100, 0xd000, 0x4b00, 0x4a00, 0x9000, 0x9800, 0x1c40, 0x4288, 0xbf00]
    out = bytearray()
    while len(out) < n:
        r = rng.random()
        if r < 0.12:                       # BL: two halfwords
            off = rng.randrange(-(1 << 20), 1 << 20)
            out += struct.pack("<HH", 0xf000 | ((off >> 11) & 0x7ff), 0xf800 | (off & 0x7ff))
        elif r < 0.2:                      # a literal pool word (a flash or RAM address)
            out += struct.pack("<I", rng.choice((0x08000000, 0x20000000)) + rng.randrange(1 << 18) * 4)
        else:
            h = rng.choice(common) | rng.randrange(256) if rng.random() < 0.6 else rng.randrange(1 << 16)
            out += struct.pack("<H", h & 0xffff)
    return bytes(out[:n])


class Source:
    """Pieces of real firmware (or of the generator) to build modules from."""

    def __init__(self, rng, mat):
        self.rng = rng
        self.mat = mat if len(mat) >= 1 << 16 else thumb_like(rng, 4 << 20)

    def piece(self, n):
        p = self.rng.randrange(len(self.mat) - n) if len(self.mat) > n else 0
        return self.mat[p:p + n]

    def code(self, n):
        """A module of code: short fragments (8-96 bytes) from all over the material,
        so that it looks like firmware locally but does not repeat a whole image."""
        out = bytearray()
        while len(out) < n:
            out += self.piece(self.rng.randrange(8, 97))
        return bytes(out[:n])


def module(src, rng):
    n = rng.randrange(16 << 10, 256 << 10) & ~3
    r = rng.random()
    if r < 0.55:
        return src.code(n)
    if r < 0.8:                            # a long stretch of one image, lightly edited
        m = bytearray(src.piece(n))
        for _ in range(n // 512):
            m[rng.randrange(n)] = rng.randrange(256)
        return bytes(m)
    if r < 0.9:                            # a pointer table
        base = rng.choice((0x08000000, 0x00100000, 0x20000000)) + rng.randrange(1 << 20) * 4
        return b"".join(struct.pack("<I", base + 4 * k + rng.randrange(0, 64, 4)) for k in range(n // 4))
    return bytes([rng.choice((0xff, 0x00))]) * n   # padding


def release(mods, src, rng):
    """The new image: most modules kept, some edited, some replaced, moved, inserted, dropped."""
    out = []
    for m in mods:
        r = rng.random()
        if r < 0.03:
            continue                       # dropped
        if r < 0.08:
            out.append(module(src, rng))   # rewritten
            continue
        if r < 0.30:                       # edited: bytes, pointer bumps, BL offsets
            b = bytearray(m)
            shift = rng.randrange(-4096, 4096, 4)
            for _ in range(len(b) // 256):
                k = rng.randrange(len(b) - 4) & ~3
                kind = rng.random()
                if kind < 0.4:
                    b[k] = rng.randrange(256)
                elif kind < 0.7:
                    w = struct.unpack_from("<I", b, k)[0]
                    struct.pack_into("<I", b, k, (w + shift) & 0xffffffff)
                else:
                    hi, lo = struct.unpack_from("<HH", b, k)
                    lo = (lo & 0xf800) | ((lo + shift // 2) & 0x7ff)
                    struct.pack_into("<HH", b, k, hi, lo)
            if rng.random() < 0.3:         # a few new functions in the middle
                k = rng.randrange(len(b)) & ~3
                b[k:k] = src.code(rng.randrange(256, 8192) & ~3)
            out.append(bytes(b))
            continue
        out.append(m)
        if r > 0.97:
            out.append(module(src, rng))   # inserted after
    if len(out) > 4:                       # two modules swap places (link order change)
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def fit(mods, size, src, rng):
    img = b"".join(mods)
    if len(img) < size:
        img += src.code(size - len(img))
    return img[:size]


def gen_random(seed):
    rng = random.Random("random-%d" % seed)
    return rng.randbytes(50 * MB), rng.randbytes(50 * MB)


def gen_fw(seed, mat):
    rng = random.Random("fw-%d" % seed)
    src = Source(rng, mat)
    size = 64 * MB
    mods, total = [], 0
    while total < size:
        m = module(src, rng)
        mods.append(m)
        total += len(m)
    old = fit(mods, size, src, rng)
    new = fit(release(mods, src, rng), size, src, rng)
    return old, new


PAIRS = {
    "syn-random-50m": lambda seed, mat: gen_random(seed),
    "syn-fw-64m": gen_fw,
}


def ensure(outdir, name, seed, corpus):
    d = os.path.join(outdir, name)
    mat = material(corpus) if name == "syn-fw-64m" else b""
    tag = "synthetic.py v%d seed=%d material=%s\n" % (
        VERSION, seed, hashlib.sha256(mat).hexdigest()[:16] if mat else "none")
    srcf = os.path.join(d, "SOURCE")
    if os.path.isfile(srcf) and os.path.isfile(os.path.join(d, "old.bin")) and \
            os.path.isfile(os.path.join(d, "new.bin")):
        with open(srcf) as f:
            if f.readline() == tag:
                return d
    log("generating %s into %s" % (name, d))
    old, new = PAIRS[name](seed, mat)
    os.makedirs(d, exist_ok=True)
    for fn, data in (("old.bin", old), ("new.bin", new)):
        with open(os.path.join(d, fn + ".tmp"), "wb") as f:
            f.write(data)
        os.replace(os.path.join(d, fn + ".tmp"), os.path.join(d, fn))
    with open(srcf, "w") as f:
        f.write(tag)
        f.write("old %d bytes, new %d bytes\n" % (len(old), len(new)))
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", default=default_dir())
    ap.add_argument("--corpus", default=default_corpus(), help="firmware to build syn-fw-64m from")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pairs", help="comma-separated (default: all): " + ", ".join(PAIRS))
    a = ap.parse_args()
    names = [n.strip() for n in a.pairs.split(",")] if a.pairs else list(PAIRS)
    for n in names:
        if n not in PAIRS:
            ap.error("unknown pair %s" % n)
        print(ensure(a.dir, n, a.seed, a.corpus))
    return 0


if __name__ == "__main__":
    sys.exit(main())
