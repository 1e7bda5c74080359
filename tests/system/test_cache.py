#!/usr/bin/python3
"""dfota-modem downloading through a caching edge (varnish from Debian, a
CDN stand-in) in front of the nginx origin: the update works, a resume's
Range request is answered by the cache (206), and the origin serves each
package once however many modules fetch it. The fleet through the cache is
in test_fleet.py (system_fleet_cache).

    test_cache.py          (ctest: system_cache)
"""

import os

import systest
from modem import firmware_pair, fota
from servers import Nginx, Varnish

OLD_REV, NEW_REV = "BC20JAR01A01", "BC20JAR01A02"


class Cache(systest.SysCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ng = cls.keep(Nginx())
        cls.cdn = cls.keep(Varnish(cls.ng))
        cls.old, cls.new = firmware_pair(128 * 1024, seed=61, edits=3000)
        cls.pkg = cls.tools.diff(cls.old, cls.new, OLD_REV, NEW_REV, key=cls.key)
        cls.size = os.path.getsize(cls.pkg)

    def module(self, name, extra=()):
        m = self.modem(name, self.old, OLD_REV, ["--pubkey", self.key[1]] + list(extra))
        m.start()
        m.at.sync()
        return m

    def assert_target(self, m, r):
        self.assertEqual((r.httpend, r.end, r.revision), (0, 0, NEW_REV), "%r\n%s" % (r, m.log_tail()))
        self.assertEqual(m.image(len(self.new)), self.new)

    def test_updates_through_the_cache_origin_serves_once(self):
        self.ng.put("fw/c1.pkg", self.pkg)
        mark = self.ng.mark()
        for i in range(3):
            m = self.module("m%d" % i)
            self.assert_target(m, fota(m.at, self.cdn.url("fw/c1.pkg")))
            m.close()
        reqs = self.ng.requests("/fw/c1.pkg", since=mark)
        self.assertEqual([(e["status"], e["body"]) for e in reqs], [(200, self.size)],
                         "the origin served the package more than once")

    def test_resume_gets_a_range_from_the_cache(self):
        self.ng.put("fw/c2.pkg", self.pkg)
        mark = self.ng.mark()
        # the network drops after a third of the package and comes back
        m = self.module("r", ["--link-kbps", "400", "--outage-after-bytes", str(self.size // 3),
                              "--outage-for", "1"])
        r = fota(m.at, self.cdn.url("fw/c2.pkg"))
        if r.httpend in (12, 13):
            m.at.expect(r"^\+IP:", 20)
            r = fota(m.at, self.cdn.url("fw/c2.pkg"))
        self.assert_target(m, r)
        hits = self.cdn.log_query('RespStatus == 206 and ReqURL eq "/fw/c2.pkg"')
        self.assertIn("ReqHeader      Range: bytes=", hits)
        self.assertIn("RespHeader     Content-Range: bytes ", hits)
        self.assertIn("ReqHeader      If-Range:", hits)
        # the origin: one whole fetch by the cache, no Range
        reqs = self.ng.requests("/fw/c2.pkg", since=mark)
        self.assertEqual([(e["status"], e["range"]) for e in reqs], [(200, "")])


if __name__ == "__main__":
    systest.main(timeout=200)
