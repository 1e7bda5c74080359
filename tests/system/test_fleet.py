#!/usr/bin/python3
"""A fleet: $DFOTA_FLEET (default 50) dfota-modem processes updating at once,
each driven by its own `dfota update`, every module on the simulator's
NB-IoT link preset (26 kbit/s, 800 ms round trip). Once from one nginx,
once through the varnish cache. Figures: wall time, and the bytes the
origin served (nginx's access log).

    test_fleet.py Origin   (ctest: system_fleet_nginx)
    test_fleet.py Cdn      (ctest: system_fleet_cache)
"""

import json
import os
import subprocess
import time

import systest
from modem import FlashFile, firmware_pair
from servers import Nginx, Varnish

OLD_REV, NEW_REV = "BC20JAR01A01", "BC20JAR01A02"


class Fleet(systest.SysCase):
    cache = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.tools.have_update():
            raise AssertionError("no `dfota update` in this build: the fleet is driven by it")
        cls.ng = cls.keep(Nginx())
        cls.cdn = cls.keep(Varnish(cls.ng)) if cls.cache else None
        cls.old, cls.new = firmware_pair(128 * 1024, seed=71, edits=600)
        cls.pkg = cls.tools.diff(cls.old, cls.new, OLD_REV, NEW_REV, key=cls.key)
        cls.size = os.path.getsize(cls.pkg)
        cls.ng.put("fw/fleet.pkg", cls.pkg)

    def test_fleet_updates_at_once(self):
        n = int(os.environ.get("DFOTA_FLEET", "50"))
        where = "through varnish" if self.cache else "from nginx"
        url = self.cdn.url("fw/fleet.pkg") if self.cache else self.ng.url("fw/fleet.pkg")
        mods = [self.modem("m%02d" % i, self.old, OLD_REV, ["--pubkey", self.key[1], "--link", "nbiot"])
                for i in range(n)]
        for m in mods:
            m.start(open_serial=False, wait_connect=False)
        mark = self.ng.mark()
        t0 = time.monotonic()
        drivers = []
        for m in mods:
            out = open(m.log + ".update.json", "w")
            err = open(m.log + ".update.err", "w")
            drivers.append((subprocess.Popen(
                [self.tools.dfota, "update", "--port", m.link, "--json", "--timeout", "240",
                 "--expect-revision", NEW_REV, url], stdout=out, stderr=err, stdin=subprocess.DEVNULL), out, err))
        times = []
        try:
            for p, out, err in drivers:
                p.wait(timeout=max(1, 280 - (time.monotonic() - t0)))
                times.append(time.monotonic() - t0)
        finally:
            for p, out, err in drivers:
                if p.poll() is None:
                    p.kill()
                    p.wait(10)
                out.close()
                err.close()
        wall = time.monotonic() - t0
        failed = []
        for m, (p, _, _) in zip(mods, drivers):
            with open(m.log + ".update.json") as f:
                events = [json.loads(line) for line in f if line.startswith("{")]
            done = [e for e in events if e.get("event") == "done"]
            if p.returncode != 0 or not done or done[-1].get("new_revision") != NEW_REV:
                with open(m.log + ".update.err") as f:
                    failed.append((m.name, p.returncode, f.read()[-300:]))
        self.assertEqual(failed, [], "modules that did not end on %s" % NEW_REV)
        for m in mods:
            m.stop()
            f = FlashFile(m.flash)
            self.assertFalse(f.pending())
            self.assertEqual(m.image(len(self.new)), self.new, m.name)
        origin = self.ng.bytes_served("/fw/fleet.pkg", since=mark)
        print("fleet %s: %d modules, package %d bytes, wall %.1f s (first done %.1f s), origin served %d bytes"
              % (where, n, self.size, wall, min(times), origin))
        systest.figure("fleet %s: modules" % where, n)
        systest.figure("fleet %s: package bytes" % where, self.size)
        systest.figure("fleet %s: wall time, s" % where, round(wall, 1))
        systest.figure("fleet %s: origin served, bytes" % where, origin)
        if self.cache:
            self.assertEqual(origin, self.size, "the cache fetched the package more than once")
        else:
            self.assertEqual(origin, n * self.size)


class Origin(Fleet):
    cache = False


class Cdn(Fleet):
    cache = True


del Fleet

if __name__ == "__main__":
    systest.main(timeout=290)
