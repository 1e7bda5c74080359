#!/usr/bin/env python3
"""fetch-extra.py - dfota's own bench pairs, of kinds the shared corpus lacks.

Usage:  python3 bench/fetch-extra.py TARGET_DIR

The shared corpus (../shared/corpus/fetch-corpus.sh) is what every peer is
compared on; these pairs widen it so that the codec is not tuned to it alone:
other Cortex-M parts and step sizes, an ARM9 image, RISC-V stubs, a RISC-V 64 library and
a WebAssembly module. Like the shared script, it writes TARGET_DIR/NAME/old.bin,
new.bin and SOURCE, takes images only from the npm registry (`npm pack`),
pins every output by SHA-256 and skips a pair that is already up to date.
Nothing it fetches belongs in the repository.
Needs: npm, python3.
"""
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

PROG = "fetch-extra.py"
PB = "@pybricks/firmware"
ESP = "esptool-js"
STUB = "package/lib/targets/stub_flasher/stub_flasher_%s.json"

# name, package, old version, new version, file in the package, conversion,
# sha256 of old.bin, sha256 of new.bin, what it is
PAIRS = [
    ("x-pybricks-technichub", PB, "7.27.0", "7.28.0", "package/build/technichub.zip",
     "zip:firmware-base.bin",
     "8f6e07126ebb08a0f0dc5383254ef595bf382008e28c13a1c29ab0cfab00502a",
     "b3b411cb46aceedf03677fe7117e920c224f54652d2da80799d3d12222c99a54",
     "LEGO Technic Hub, STM32L431 Cortex-M4, one minor release"),
    ("x-pybricks-technichub-b", PB, "7.22.0", "7.28.0", "package/build/technichub.zip",
     "zip:firmware-base.bin",
     "d999a159d46c010ce0b58cc454ff453c8623be463d2b49ef7e1f7e14f53104b2",
     "b3b411cb46aceedf03677fe7117e920c224f54652d2da80799d3d12222c99a54",
     "LEGO Technic Hub, STM32L431 Cortex-M4, six minor releases"),
    ("x-pybricks-essentialhub-b", PB, "7.22.0", "7.28.0", "package/build/essentialhub.zip",
     "zip:firmware-base.bin",
     "1fa70ea316548e3e13341d78cafe90b079b210ab252f263b9cc38edcbbad63ba",
     "fd3bf86d1dbad6e561232016e0238b69383f22a2e955cf5dcbf6f1cf17ab562f",
     "LEGO SPIKE Essential Hub, STM32F413 Cortex-M4, six minor releases (image grows 6%)"),
    ("x-pybricks-movehub", PB, "7.27.0", "7.28.0", "package/build/movehub.zip",
     "zip:firmware-base.bin",
     "849ecc23b5ab8ed532cf3d442b6825b84c6248bc8ea496f375f8818be59be040",
     "a7a4c4f78c369a66a20e150e44bfd7c96d7ba7ed60f2ecce4d27001a9bddd7fb",
     "LEGO BOOST Move Hub, STM32F070 Cortex-M0, one minor release"),
    ("x-pybricks-ev3", PB, "7.27.0", "7.28.0", "package/build/ev3.zip",
     "zip:firmware-base.bin",
     "cf4f6aa28a994b2f61021925016f1bb46e535f479418085bac67ba938bbcbfbe",
     "490e8556f1bf11bc12de7ffa1aee15b85921c215988cd3a3071fb92707eb97be",
     "LEGO MINDSTORMS EV3, TI AM1808 ARM926EJ-S, 768 KiB image"),
    ("x-esptool-stub-esp32c5", ESP, "0.5.7", "0.6.0", STUB % "32c5", "espstub",
     "1cee09e8a91d99b5148121f513e5339942de616d407df8656f72904f8cd8ebf6",
     "113fd3149a378c3b9cb9764f827123f887fd52f9872fee112813633eac046270",
     "esptool flasher stub for ESP32-C5, RISC-V, small and much changed"),
    ("x-esptool-stub-esp32p4", ESP, "0.5.7", "0.6.0", STUB % "32p4", "espstub",
     "baf834fd0a722ba59268bb209fcc67b7fb3a0759b80548e72a608cb1152f98f8",
     "2d124247ba59f2395818fbdc485d69a801386d912829b058099d853a16715ced",
     "esptool flasher stub for ESP32-P4, RISC-V, grows 45%"),
    ("x-rollup-riscv64", "@rollup/rollup-linux-riscv64-gnu", "4.68.7", "4.68.8",
     "package/rollup.linux-riscv64-gnu.node", "raw",
     "3ed52b9c95bbb9e24320cb7eefbff73f6a236886f03487555aa89ca2112148b8",
     "942ca14cff561e44d9f3b7167f96a88c0853cf15b172554316f2ec365bb8554b",
     "Rust shared library for RISC-V 64 Linux (RV64GC), the shared corpus's rollup-armhf "
     "release for another architecture; multi-MB RISC-V code, not MCU firmware"),
    ("x-sqljs-wasm", "sql.js", "1.16.0", "1.17.0", "package/dist/sql-wasm.wasm", "raw",
     "43bbcdd44287e5a2db3b6b5af34b1a3485a7a441285d247976c1ebe3c61f8dbf",
     "6918fd54c1192011b85af0365a819411285bb5579b9ae6a7308778a1750a2765",
     "sql.js SQLite WebAssembly module, one minor release"),
]


def note(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


def die(msg):
    note("ERROR: " + msg)
    sys.exit(1)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def convert(conv, raw):
    if conv == "raw":
        return raw
    if conv.startswith("zip:"):
        return zipfile.ZipFile(io.BytesIO(raw)).read(conv[4:])
    if conv == "espstub":
        j = json.loads(raw)
        return base64.b64decode(j["text"]) + base64.b64decode(j.get("data", ""))
    die("unknown conversion " + conv)


def npm_member(work, spec, path):
    d = os.path.join(work, spec.replace("/", "_").replace("@", "_"))
    if not os.path.isdir(d):
        os.makedirs(d)
        note("npm pack " + spec)
        p = subprocess.run(["npm", "pack", "--silent", spec], cwd=d, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        if p.returncode != 0:
            shutil.rmtree(d, ignore_errors=True)
            die("npm pack %s failed: %s" % (spec, p.stderr.decode(errors="replace")[-300:]))
    tgz = [f for f in os.listdir(d) if f.endswith(".tgz")]
    if len(tgz) != 1:
        die("npm pack %s left %d tarballs" % (spec, len(tgz)))
    with tarfile.open(os.path.join(d, tgz[0])) as t:
        try:
            return t.extractfile(path).read()
        except KeyError:
            die("%s not found in %s" % (path, spec))


def main():
    if len(sys.argv) != 2:
        die("usage: fetch-extra.py TARGET_DIR")
    target = os.path.abspath(sys.argv[1])
    os.makedirs(target, exist_ok=True)
    if not shutil.which("npm"):
        die("npm not found (apt-get install -y npm)")
    with tempfile.TemporaryDirectory(prefix="dfota-extra.") as work:
        for name, pkg, ov, nv, path, conv, osha, nsha, what in PAIRS:
            src = "npm:%s %s -> %s; file=%s; conv=%s; %s" % (pkg, ov, nv, path, conv, what)
            d = os.path.join(target, name)
            files = [os.path.join(d, f) for f in ("old.bin", "new.bin", "SOURCE")]
            if all(os.path.isfile(f) for f in files):
                with open(files[2]) as f:
                    same = f.read().strip() == src
                if same and osha and nsha:
                    with open(files[0], "rb") as f0, open(files[1], "rb") as f1:
                        if sha(f0.read()) == osha and sha(f1.read()) == nsha:
                            note("%s: up to date" % name)
                            continue
            old = convert(conv, npm_member(work, "%s@%s" % (pkg, ov), path))
            new = convert(conv, npm_member(work, "%s@%s" % (pkg, nv), path))
            for label, b, want in (("old", old, osha), ("new", new, nsha)):
                if want and sha(b) != want:
                    die("%s: %s.bin sha256 %s != pinned %s (upstream changed?)"
                        % (name, label, sha(b), want))
            os.makedirs(d, exist_ok=True)
            for f, b in ((files[0], old), (files[1], new), (files[2], (src + "\n").encode())):
                with open(f + ".tmp", "wb") as out:
                    out.write(b)
                os.replace(f + ".tmp", f)
            note("%s: ok old=%s new=%s (%d -> %d bytes)" % (name, sha(old), sha(new), len(old), len(new)))
    note("done: %d pairs in %s" % (len(PAIRS), target))


if __name__ == "__main__":
    main()
