#!/usr/bin/python3
"""Power cuts: SIGKILL of dfota-modem at seeded random moments during
DOWNLOADING and UPDATING, then the next power-up. The module must end on the
target, byte for byte, or on its old firmware with a clear result; never
neither. Each cycle updates A -> B, then B -> A, and so on, from nginx.

    test_powercut.py AB        (ctest: system_powercut_ab)
    test_powercut.py InPlace   (ctest: system_powercut_inplace)

$DFOTA_POWERCUTS cuts per layout (default 12), $DFOTA_SEED the seed
(default: fixed, printed). The image checks read the flash file directly
(modem.FlashFile), not through the simulator.
"""

import os
import random
import time

import systest
from modem import FlashFile, after_power_up, cut_during, cutter, firmware_pair, fota, start_and_settle
from servers import Nginx

REVS = ("BC20JAR01A01", "BC20JAR01A02")


class Cuts(systest.SysCase):
    layout = "ab"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ng = cls.keep(Nginx())
        cls.images = firmware_pair(128 * 1024, seed=31, edits=3000)
        cls.pkgs = []
        for a, b in ((0, 1), (1, 0)):
            p = cls.tools.diff(cls.images[a], cls.images[b], REVS[a], REVS[b], key=cls.key,
                               layout=cls.layout, out="%s/%s-%d%d.pkg" % (cls.tmp, cls.layout, a, b))
            cls.ng.put("%s/%d%d.pkg" % (cls.layout, a, b), p)
            cls.pkgs.append(os.path.getsize(p))

    def check_on(self, m, k, why):
        """The module runs image k: revision and the booting bank."""
        self.assertEqual(m.at.revision(), REVS[k], why)
        f = FlashFile(m.flash)
        self.assertFalse(f.pending(), "%s: an update is still pending" % why)
        self.assertEqual(m.image(len(self.images[k])), self.images[k],
                         "%s: the booting firmware is not %s byte for byte" % (why, REVS[k]))

    def test_random_cuts(self):
        n = int(os.environ.get("DFOTA_POWERCUTS", "12"))
        seed = int(os.environ.get("DFOTA_SEED", "20261202"))
        rnd = random.Random(seed ^ (0 if self.layout == "ab" else 1))
        print("powercut %s: %d cuts, seed %d, packages %s bytes" % (self.layout, n, seed, self.pkgs))
        # A slow link for the download, so that a cut lands inside it.
        m = self.modem("m", self.images[0], REVS[0],
                       ["--layout", self.layout, "--pubkey", self.key[1], "--product", "dfota-test",
                        "--link-kbps", "200", "--progress-ms", "100"])
        m.start()
        m.at.sync()
        cur = 0
        # where the cuts were aimed, and where they landed (seen after the power-up)
        aimed = {"DOWNLOADING": 0, "UPDATING": 0}
        landed = {"download": 0, "update": 0, "after END": 0}
        resumed = double = 0
        t0 = time.monotonic()
        for i in range(n):
            phase = ("DOWNLOADING", "UPDATING")[i % 2]
            at_pct = rnd.randint(1, 99)
            tgt = 1 - cur
            url = self.ng.url("%s/%d%d.pkg" % (self.layout, cur, tgt))
            why = "cycle %d (%s -> %s), cut at the first %s >= %d%%, seed %d" % (
                i, REVS[cur], REVS[tgt], phase, at_pct, seed)
            fired = cut_during(m, url, lambda st, v: st == phase and v is not None and v >= at_pct)
            aimed[phase] += 1
            m.start()
            code = after_power_up(m.at)
            rev = m.at.revision()
            if code is not None:
                # cut while UPDATING: the forced upgrade finished the job
                self.assertEqual(code, 0, "%s: the forced upgrade ended with %s\n%s" % (why, code, m.log_tail()))
                landed["update"] += 1
                self.check_on(m, tgt, why + ", after the forced upgrade")
            elif rev == REVS[tgt]:
                landed["after END"] += 1
                self.check_on(m, tgt, why + ", cut after END (%s)" % (fired,))
            else:
                # cut while downloading (or before the update wrote its
                # record): old firmware, intact; the same URL again resumes
                landed["download"] += 1
                self.check_on(m, cur, why + ", after the power-up")
                mark = self.ng.mark()
                r = fota(m.at, url)
                self.assertEqual((r.httpend, r.end), (0, 0), "%s, the retry: %r %s" % (why, r, m.log_tail()))
                resumed += any(e["status"] == 206 for e in self.ng.requests(since=mark))
                self.check_on(m, tgt, why + ", after the retry")
            cur = tgt
        # Two cuts in a row: one while UPDATING, one during the forced upgrade.
        for j in range(2):
            tgt = 1 - cur
            url = self.ng.url("%s/%d%d.pkg" % (self.layout, cur, tgt))
            p1, p2 = rnd.randint(1, 60), rnd.randint(1, 99)
            why = "double cut %d: UPDATING >= %d%%, then the forced upgrade's UPDATING >= %d%%" % (j, p1, p2)
            fired = cut_during(m, url, lambda st, v: st == "UPDATING" and v is not None and v >= p1)
            hook = cutter(m, lambda st, v: st == "UPDATING" and v is not None and v >= p2)
            if fired[0] == "END" or start_and_settle(m, hook):
                double += fired[0] != "END" and hook.fired is not None and hook.fired[0] != "END"
                m.start()
            code = after_power_up(m.at)
            self.assertIn(code, (0, None), why + m.log_tail())
            self.check_on(m, tgt, why)
            cur = tgt
        wall = time.monotonic() - t0
        print("powercut %s: aimed %s, landed %s, downloads resumed with Range %d, double cuts %d, %.1f s"
              % (self.layout, aimed, landed, resumed, double, wall))
        self.assertGreater(landed["download"], 0, "no cut landed in a download")
        self.assertGreater(landed["update"], 0, "no cut landed in an update")
        systest.figure("powercut %s: cuts survived" % self.layout, n + double)
        systest.figure("powercut %s: cuts in DOWNLOADING / UPDATING / after END" % self.layout,
                       "%d / %d / %d" % (landed["download"], landed["update"], landed["after END"]))
        systest.figure("powercut %s: forced upgrades" % self.layout, landed["update"] + double)
        systest.figure("powercut %s: downloads resumed with Range" % self.layout, resumed)


class AB(Cuts):
    layout = "ab"


class InPlace(Cuts):
    layout = "inplace"


del Cuts

if __name__ == "__main__":
    systest.main(timeout=280)
