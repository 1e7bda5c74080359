#!/usr/bin/python3
"""The network under a download: an outage (the module resumes, or reports
12 and resumes when asked again), AT+CFUN=0 (13), not registered (20 from
the module; `dfota update` says so before it sends AT+QFOTADL), and the
server itself going down and up again.

    test_network.py        (ctest: system_network)
"""

import json
import os
import subprocess

import systest
from modem import firmware_pair, fota
from servers import Nginx

OLD_REV, NEW_REV = "BC20JAR01A01", "BC20JAR01A02"


class Network(systest.SysCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ng = cls.keep(Nginx())
        cls.old, cls.new = firmware_pair(128 * 1024, seed=41, edits=3000)
        cls.pkg = cls.tools.diff(cls.old, cls.new, OLD_REV, NEW_REV, key=cls.key)
        cls.size = os.path.getsize(cls.pkg)
        cls.ng.put("fw/n.pkg", cls.pkg)
        cls.url = cls.ng.url("fw/n.pkg")

    def module(self, extra=(), name="m"):
        m = self.modem(name, self.old, OLD_REV, ["--pubkey", self.key[1], "--link-kbps", "200",
                                                 "--progress-ms", "100"] + list(extra))
        m.start()
        m.at.sync()
        return m

    def assert_target(self, m, r):
        self.assertEqual((r.httpend, r.end, r.revision), (0, 0, NEW_REV), "%r\n%s" % (r, m.log_tail()))
        self.assertEqual(m.image(len(self.new)), self.new)

    def assert_old(self, m):
        self.assertEqual(m.at.revision(), OLD_REV)
        self.assertEqual(m.image(len(self.old)), self.old)

    def test_short_outage_resumes(self):
        m = self.module(["--outage-after-bytes", str(self.size // 3), "--outage-for", "1"])
        mark = self.ng.mark()
        r = fota(m.at, self.url)
        if r.httpend in (12, 13):
            # the module gave up while the network was away: the same URL,
            # once it is back, resumes from the staged bytes
            self.assert_old(m)
            m.at.expect(r"^\+IP:", 20)
            r = fota(m.at, self.url)
        self.assert_target(m, r)
        reqs = self.ng.requests("/fw/n.pkg", since=mark)
        self.assertTrue(any(e["status"] == 206 for e in reqs), "no Range request after the outage: %r" % reqs)
        self.assertLess(self.ng.bytes_served("/fw/n.pkg", since=mark), 2 * self.size)

    def test_long_outage_ends_in_a_code(self):
        m = self.module(["--outage-after-bytes", str(self.size // 3), "--outage-for", "600",
                         "--stall-timeout", "2", "--retries", "1"])
        r = fota(m.at, self.url, timeout=60)
        self.assertIn(r.httpend, (12, 13), repr(r))
        self.assertIsNone(r.end)
        self.assert_old(m)

    def test_cfun0_during_the_download_is_13(self):
        m = self.module()
        seen = []

        def on_urc(st, v):
            if st == "DOWNLOADING" and v is not None and v >= 20 and not seen:
                seen.append(v)
                m.at.write("AT+CFUN=0\r")
        r = fota(m.at, self.url, on_urc=on_urc)
        self.assertTrue(seen, repr(r))
        self.assertEqual((r.httpend, r.end), (13, None), repr(r))
        self.assert_old(m)
        # radio on again: registration, address, and the same URL resumes
        m.at.ok("AT+CFUN=1")
        m.at.expect(r"^\+IP:", 20)
        mark = self.ng.mark()
        r = fota(m.at, self.url)
        self.assert_target(m, r)
        self.assertTrue(any(e["status"] == 206 for e in self.ng.requests("/fw/n.pkg", since=mark)))

    def test_not_registered_is_20(self):
        m = self.module(["--registration", "searching"])
        mark = self.ng.mark()
        r = fota(m.at, self.url, timeout=60)
        self.assertEqual((r.accepted, r.httpend, r.end), ("OK", 20, None), repr(r))
        self.assert_old(m)
        self.assertEqual(self.ng.requests(since=mark), [])

    def test_driver_says_not_registered_before_qfotadl(self):
        if not self.tools.have_update():
            self.skipTest("no dfota update in this build")
        m = self.modem("d", self.old, OLD_REV, ["--pubkey", self.key[1], "--registration", "searching"])
        m.start(open_serial=False, wait_connect=False)
        mark = self.ng.mark()
        p = subprocess.run([self.tools.dfota, "update", "--port", m.link, "--json", "--net-timeout", "3",
                            "--timeout", "60", self.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=90)
        events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(p.returncode, 11, p.stdout + p.stderr)  # no network
        self.assertIn("regist", p.stderr.lower())
        self.assertFalse([e for e in events if e.get("event") == "request"], "AT+QFOTADL was sent: %r" % events)
        self.assertEqual(self.ng.requests(since=mark), [])
        m.stop()
        m.start()
        m.at.sync()
        self.assert_old(m)

    def test_server_down_and_up_during_the_download(self):
        # nginx's limit_rate makes the server the bottleneck (the module's
        # link buffer would otherwise hold the whole package already)
        url = self.ng.url("rate/16k/fw/n.pkg")
        m = self.module(["--stall-timeout", "3", "--retries", "5", "--link-kbps", "0"])
        mark = self.ng.mark()
        state = []

        def on_urc(st, v):
            if st == "DOWNLOADING" and v is not None and v >= 30 and not state:
                state.append(v)
                with self.ng.down():
                    pass  # stopped (connections cut, new ones refused), started again
        r = fota(m.at, url, on_urc=on_urc)
        self.assertTrue(state, repr(r))
        if r.httpend == 12:
            self.assert_old(m)
            r = fota(m.at, url)
        self.assert_target(m, r)
        self.assertTrue(any(e["status"] == 206 for e in self.ng.requests("/rate/16k/fw/n.pkg", since=mark)),
                        self.ng.requests(since=mark))


if __name__ == "__main__":
    systest.main(timeout=280)
