#!/usr/bin/python3
"""make soak: the loop a module vendor runs with a programmable power supply.

A dfota-modem updates A -> B, B -> A, again and again, from a real nginx,
with power cuts (SIGKILL) at random moments: none, while DOWNLOADING, while
UPDATING, or twice (UPDATING, then during the forced upgrade). After each
update it checks the revision (AT+CGMR) and the booting firmware byte for
byte (read from the flash file), and counts cuts survived, forced upgrades,
resumed downloads, and the flash work per update.

    soak.py [--build DIR] [--count N | --seconds S] [--layouts ab,inplace]
            [--seed N] [--size BYTES] [--firmware synthetic|sample]

Flash work: if dfota-modem -v logs "E erases, P programs, B bytes
programmed" at each reboot, those figures (exact) are used for updates
without a cut; otherwise the soak reports lower bounds from the flash file
before and after each update: sectors that must have been erased (a bit
went from 0 to 1) and bytes that changed. Stops at the first failed check
(exit 1) and prints the seed and cycle to replay it.
"""

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from modem import (FlashFile, Modem, ModemError, Tools, after_power_up, cut_during,  # noqa: E402
                   cutter, firmware_pair, fota, start_and_settle)
from servers import Nginx  # noqa: E402

REVS = ("SOAKR01A01", "SOAKR01A02")
WORK_RE = re.compile(r"(\d+) erases, (\d+) programs, (\d+) bytes programmed")


class Failed(Exception):
    pass


def flash_delta(before, after, f):
    """(sectors that were erased at least once, bytes changed) between two
    snapshots of the flash area."""
    ss = f.sector_size
    erased = changed = 0
    for s in range(0, len(after), ss):
        a, b = before[s:s + ss], after[s:s + ss]
        if a == b:
            continue
        ai, bi = int.from_bytes(a, "little"), int.from_bytes(b, "little")
        if bi & ~ai:  # a bit went 0 -> 1: only an erase does that
            erased += 1
        changed += sum(x != y for x, y in zip(a, b))
    return erased, changed


class Soak:
    def __init__(self, args, tools, ng, tmp, layout, images, pkgs):
        self.a, self.tools, self.ng, self.tmp, self.layout = args, tools, ng, tmp, layout
        self.images, self.pkgs = images, pkgs
        self.rnd = random.Random(args.seed ^ (zlib.crc32(layout.encode()) & 0xFFFF))
        self.st = dict(updates=0, cycles=0, cuts=0, cut_download=0, cut_update=0, cut_after_end=0,
                       forced=0, double=0, resumed=0, exact_updates=0, erases=0, programs=0, ops=0, ops_updates=0,
                       bytes=0, lb_updates=0, lb_erased=0, lb_changed=0, seconds=0.0)

    def check_on(self, m, k, why):
        rev = m.at.revision()
        if rev != REVS[k]:
            raise Failed("%s: the module reports %s, expected %s" % (why, rev, REVS[k]))
        f = FlashFile(m.flash)
        if f.pending():
            raise Failed("%s: an update is still pending" % why)
        if m.image(len(self.images[k])) != self.images[k]:
            raise Failed("%s: the booting firmware is not %s byte for byte" % (why, REVS[k]))

    def flash_area(self, m):
        return FlashFile(m.flash).mem.tobytes()

    def run(self, deadline, count):
        m = Modem(self.tools, self.tmp, "soak-" + self.layout, firmware=self.images[0], revision=REVS[0],
                  args=["--layout", self.layout, "--pubkey", self.key_pub, "--product", "dfota-soak",
                        "--link-kbps", "400", "--progress-ms", "100"], verbose=True)
        try:
            m.start()
            m.at.sync()
            cur = 0
            t0 = time.monotonic()
            while self.st["cycles"] < count and time.monotonic() < deadline:
                try:
                    self.cycle(m, cur)
                except (Failed, ModemError):
                    print("---- the module's log (last lines):\n" + "\n".join(m.log_text().splitlines()[-40:]),
                          file=sys.stderr)
                    raise
                cur = 1 - cur
            self.st["seconds"] = time.monotonic() - t0
        finally:
            m.close()

    def cycle(self, m, cur):
        st, rnd = self.st, self.rnd
        i = st["cycles"]
        tgt = 1 - cur
        url = self.ng.url("%s/%d%d.pkg" % (self.layout, cur, tgt))
        # the first two (A -> B, B -> A) without a cut: their flash work is measured exactly
        mode = "none" if i < 2 else rnd.choices(("none", "download", "update", "double"), (2, 3, 4, 2))[0]
        p1, p2 = rnd.randint(1, 99), rnd.randint(1, 99)
        why = "%s cycle %d (%s -> %s, %s, %d%%/%d%%, seed %d)" % (
            self.layout, i, REVS[cur], REVS[tgt], mode, p1, p2, self.a.seed)
        before = self.flash_area(m)
        log0 = len(m.log_text())
        if mode == "none":
            # a power-up of its own, so the run's flash counters hold this
            # update and nothing before it
            m.stop()
            log0 = len(m.log_text())
            m.start()
            m.at.sync()
            r = fota(m.at, url)
            if (r.httpend, r.end) != (0, 0):
                raise Failed("%s: %r" % (why, r))
            # a clean stop and start: -v logs the flash operations of the run
            # (this update and the boots around it)
            m.stop()
            text = m.log_text()[log0:]
            got = WORK_RE.findall(text)
            if got:
                e, p, b = (int(x) for x in got[-1])
                st["exact_updates"] += 1
                st["erases"] += e
                st["programs"] += p
                st["bytes"] += b
            ops = re.findall(r"stopping after (\d+) flash operations", text)
            if ops:
                st["ops_updates"] += 1
                st["ops"] += int(ops[-1])
            m.start()
            m.at.sync()
        else:
            phase = "DOWNLOADING" if mode == "download" else "UPDATING"
            fired = cut_during(m, url, lambda s, v: s == phase and v is not None and v >= p1)
            st["cuts"] += 1
            cut_again = False
            if mode == "double" and fired[0] != "END":
                hook = cutter(m, lambda s, v: s == "UPDATING" and v is not None and v >= p2)
                cut_again = start_and_settle(m, hook)
                if cut_again and hook.fired is not None and hook.fired[0] != "END":
                    st["double"] += 1
                    st["cuts"] += 1
            if mode != "double" or fired[0] == "END" or cut_again:
                m.start()
            code = after_power_up(m.at)
            rev = m.at.revision()
            if code is not None:
                if code != 0:
                    raise Failed("%s: the forced upgrade ended with END,%s" % (why, code))
                st["forced"] += 1
                st["cut_update"] += 1
            elif rev == REVS[tgt]:
                st["cut_after_end"] += 1
            elif rev == REVS[cur]:
                st["cut_download"] += 1
                self.check_on(m, cur, why + ", after the cut")
                mark = self.ng.mark()
                r = fota(m.at, url)
                if (r.httpend, r.end) != (0, 0):
                    raise Failed("%s, the retry: %r" % (why, r))
                st["resumed"] += any(e["status"] == 206 for e in self.ng.requests(since=mark))
            else:
                raise Failed("%s: the module reports %r" % (why, rev))
        self.check_on(m, tgt, why)
        erased, changed = flash_delta(before, self.flash_area(m), FlashFile(m.flash))
        st["lb_updates"] += 1
        st["lb_erased"] += erased
        st["lb_changed"] += changed
        st["updates"] += 1
        st["cycles"] += 1


def table(rows, a):
    print()
    print("soak summary (seed %d%s)" % (a.seed, ", %s firmware" % a.firmware))
    head = ("layout", "updates", "cuts", "in DL", "in UPD", "after END", "double", "forced",
            "resumed", "ops/upd", "erases/upd", "bytes/upd", "s/upd")
    print("  " + " ".join("%10s" % h for h in head))
    for layout, s, pkgs in rows:
        if s["exact_updates"]:
            er = "%.0f" % (s["erases"] / s["exact_updates"])
            by = "%.0f" % (s["bytes"] / s["exact_updates"])
        elif s["lb_updates"]:
            er = ">=%.0f" % (s["lb_erased"] / s["lb_updates"])
            by = ">=%.0f" % (s["lb_changed"] / s["lb_updates"])
        else:
            er = by = "-"
        spu = s["seconds"] / s["updates"] if s["updates"] else 0
        ops = "%.0f" % (s["ops"] / s["ops_updates"]) if s["ops_updates"] else "-"
        vals = (layout, s["updates"], s["cuts"], s["cut_download"], s["cut_update"], s["cut_after_end"],
                s["double"], s["forced"], s["resumed"], ops, er, by, "%.2f" % spu)
        print("  " + " ".join("%10s" % v for v in vals))
    print("  packages: " + "; ".join("%s %s bytes" % (l, "/".join(str(x) for x in p)) for l, _, p in rows))
    exact = any(s["exact_updates"] for _, s, _ in rows)
    print("  ops/upd: flash operations (erase + program) of a run with one update and no cut,"
          " from dfota-modem -v")
    print("  erases/upd, bytes/upd: %s" % (
        "from dfota-modem's flash counters, updates without a cut" if exact else
        ">= lower bounds from the flash file: sectors where a bit went 0 -> 1, bytes changed"))
    print("  cuts: SIGKILL of dfota-modem; every update ended on its target, byte for byte")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("DFOTA_BUILD", "build"))
    ap.add_argument("--count", type=int, default=None, help="updates per layout (default 40)")
    ap.add_argument("--seconds", type=float, default=None, help="run time per layout")
    ap.add_argument("--layouts", default="ab,inplace")
    ap.add_argument("--seed", type=int, default=int(time.time()) & 0xFFFFFF)
    ap.add_argument("--size", type=int, default=256 * 1024, help="synthetic image size")
    ap.add_argument("--firmware", choices=("synthetic", "sample"), default="synthetic")
    a = ap.parse_args()
    if a.count is None and a.seconds is None:
        a.count = 40
    count = a.count if a.count is not None else 1 << 30
    tools_tmp = tempfile.mkdtemp(prefix="dfota-soak.")
    rows = []
    failed = None
    try:
        tools = Tools(a.build, tools_tmp)
        if not tools.have_modem():
            print("soak: %s is not built" % tools.modem, file=sys.stderr)
            return 2
        key = tools.keygen("soak")
        if a.firmware == "sample":
            fw = tools.firmware_dir
            images = tuple(open(os.path.join(fw, n), "rb").read() for n in ("sample_v1.bin", "sample_v2.bin"))
        else:
            images = firmware_pair(a.size, a.seed, edits=a.size // 40)
        with Nginx() as ng:
            for layout in a.layouts.split(","):
                pkgs = []
                for x, y in ((0, 1), (1, 0)):
                    p = tools.diff(images[x], images[y], REVS[x], REVS[y], key=key, layout=layout,
                                   product="dfota-soak", out="%s/%s-%d%d.pkg" % (tools_tmp, layout, x, y))
                    ng.put("%s/%d%d.pkg" % (layout, x, y), p)
                    pkgs.append(os.path.getsize(p))
                s = Soak(a, tools, ng, tools_tmp, layout, images, pkgs)
                s.key_pub = key[1]
                deadline = time.monotonic() + (a.seconds if a.seconds is not None else 1e9)
                print("soak %s: %s updates, seed %d" % (
                    layout, a.count if a.count is not None else "%.0f s of" % a.seconds, a.seed), flush=True)
                try:
                    s.run(deadline, count)
                except (Failed, ModemError) as e:
                    failed = "%s\n  (replay: soak.py --seed %d --layouts %s --count %d)" % (
                        e, a.seed, layout, s.st["cycles"] + 1)
                rows.append((layout, s.st, pkgs))
                if failed:
                    break
        table(rows, a)
    finally:
        shutil.rmtree(tools_tmp, ignore_errors=True)
    if failed:
        print("\nsoak FAILED: %s" % failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
