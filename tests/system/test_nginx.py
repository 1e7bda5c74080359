#!/usr/bin/python3
"""dfota-modem updating from a real nginx: HTTP, HTTPS (right and wrong CA),
Range resume after the server cuts the connection, a package replaced on the
server during the download. The AT side is pyserial on the simulator's pty.

    test_nginx.py Plain      (ctest: system_nginx_http)
    test_nginx.py Tls        (ctest: system_nginx_https)
    test_nginx.py Resume     (ctest: system_nginx_resume)
"""

import os
import re

import systest
from modem import check_order, drive, firmware_pair, fota, random_image
from servers import Nginx

OLD_REV, NEW_REV, OTHER_REV = "BC20JAR01A01", "BC20JAR01A02", "BC20JAR01A03"


class Base(systest.SysCase):
    https = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ng = cls.keep(Nginx(https=cls.https))
        cls.old, cls.new = firmware_pair(96 * 1024, seed=10)
        cls.pkg = cls.tools.diff(cls.old, cls.new, OLD_REV, NEW_REV, key=cls.key)
        cls.ng.put("fw/ab.pkg", cls.pkg)

    def module(self, name="m", extra=(), firmware=None):
        m = self.modem(name, firmware or self.old, OLD_REV,
                       ["--pubkey", self.key[1], "--product", "dfota-test"] + list(extra))
        m.start()
        m.at.sync()
        self.assertEqual(m.at.revision(), OLD_REV)
        return m

    def assert_updated(self, m, r, image):
        self.assertEqual((r.accepted, r.httpend, r.end), ("OK", 0, 0), "%r\n%s" % (r, m.log_tail()))
        self.assertEqual(r.revision, NEW_REV if image is self.new else r.revision)
        self.assertEqual(m.image(len(image)), image, "the booting bank is not the target, byte for byte")

    def assert_old(self, m, r):
        self.assertEqual(r.revision, OLD_REV)
        self.assertEqual(m.at.revision(), OLD_REV)
        self.assertEqual(m.image(len(self.old)), self.old, "the old firmware changed")


class Plain(Base):
    def test_http_update(self):
        m = self.module()
        mark = self.ng.mark()
        r = fota(m.at, self.ng.url("fw/ab.pkg"))
        self.assert_updated(m, r, self.new)
        self.assertEqual(check_order(r.urcs), [])
        self.assertEqual(m.at.command("ATI")[1][-1], "Revision: " + NEW_REV)
        reqs = self.ng.requests("/fw/ab.pkg", since=mark)
        self.assertEqual([(e["status"], e["body"]) for e in reqs], [(200, os.path.getsize(self.pkg))])


    def test_http_update_with_dfota_update(self):
        m = self.modem("d", self.old, OLD_REV, ["--pubkey", self.key[1], "--product", "dfota-test"])
        m.start(open_serial=False, wait_connect=False)
        rc, events, err = drive(self.tools, m, self.ng.url("fw/ab.pkg"), "--expect-revision", NEW_REV)
        self.assertEqual(rc, 0, err)
        done = [e for e in events if e["event"] == "done"]
        self.assertEqual((done[-1]["old_revision"], done[-1]["new_revision"]), (OLD_REV, NEW_REV))
        stages = [e["stage"] for e in events if e["event"] == "fota"]
        self.assertEqual([s for s in stages if s in ("HTTPSTART", "HTTPEND", "START", "END")],
                         ["HTTPSTART", "HTTPEND", "START", "END"])
        m.stop()
        self.assertEqual(m.image(len(self.new)), self.new)


class Tls(Base):
    https = True

    def test_wrong_ca_with_dfota_update(self):
        m = self.modem("d", self.old, OLD_REV, ["--pubkey", self.key[1], "--ca", self.ng.pki.wrong_ca_cert])
        m.start(open_serial=False, wait_connect=False)
        rc, events, err = drive(self.tools, m, self.ng.url("fw/ab.pkg", https=True))
        self.assertEqual(rc, 12, err)  # download failed
        self.assertEqual([e.get("http_err") for e in events if e["event"] == "error"][-1:], [12], events)
        self.assertIn("12", err)
        m.stop()
        self.assertEqual(m.image(len(self.old)), self.old)

    def test_https_update(self):
        m = self.module(extra=["--ca", self.ng.pki.ca_cert])
        r = fota(m.at, self.ng.url("fw/ab.pkg", https=True))
        self.assert_updated(m, r, self.new)
        self.assertEqual(check_order(r.urcs), [])

    def test_https_wrong_ca_fails_with_12(self):
        m = self.module(extra=["--ca", self.ng.pki.wrong_ca_cert])
        mark = self.ng.mark()
        r = fota(m.at, self.ng.url("fw/ab.pkg", https=True))
        self.assertEqual((r.accepted, r.httpend, r.end), ("OK", 12, None), repr(r))
        self.assert_old(m, r)
        self.assertTrue(re.search(r"certificate|SSL|TLS", m.log_text(), re.I),
                        "no clear log line about the certificate: " + m.log_tail())
        self.assertEqual(self.ng.bytes_served("/fw/", since=mark), 0)


class Resume(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Unrelated images: the package is about as large as the image, so
        # the download lasts long enough to be cut in the middle.
        cls.big_old = random_image(160 * 1024, 21)
        cls.big_new = random_image(160 * 1024, 22)
        cls.big_pkg = cls.tools.diff(cls.big_old, cls.big_new, OLD_REV, NEW_REV, key=cls.key)
        cls.ng.put("fw/big.pkg", cls.big_pkg)
        cls.big_size = os.path.getsize(cls.big_pkg)

    def big_module(self):
        return self.module(firmware=self.big_old)

    def test_range_resume_after_the_server_drops(self):
        m = self.big_module()
        mark = self.ng.mark()
        cut = []

        def on_urc(st, v):
            if st == "DOWNLOADING" and v is not None and v >= 30 and not cut:
                self.ng.drop_connections()
                cut.append(v)
        r = fota(m.at, self.ng.url("rate/96k/fw/big.pkg"), on_urc=on_urc)
        self.assertTrue(cut, "the download ended before the drop: %r" % r)
        self.assertEqual((r.httpend, r.end, r.revision), (0, 0, NEW_REV), "%r %s" % (r, m.log_tail()))
        self.assertEqual(m.image(len(self.big_new)), self.big_new)
        reqs = self.ng.requests("/rate/96k/fw/big.pkg", since=mark)
        ranged = [e for e in reqs if e["status"] == 206]
        self.assertTrue(ranged, "no Range request after the drop: %r" % reqs)
        self.assertTrue(ranged[0]["range"].startswith("bytes="), ranged[0])
        self.assertEqual(ranged[0]["if_range"], self.ng.etag("fw/big.pkg"))
        # the killed worker's request is not logged: what is logged is the rest
        first = int(re.match(r"bytes=(\d+)-", ranged[0]["range"]).group(1))
        self.assertEqual(sum(e["body"] for e in ranged), self.big_size - first)
        self.assertGreater(first, 0)
        self.assertEqual([v for s, v in r.urcs if s == "DOWNLOADING"],
                         sorted(v for s, v in r.urcs if s == "DOWNLOADING"), "progress went backwards")

    def test_replaced_during_the_download_never_spliced(self):
        # Package P1 (to NEW_REV) is replaced by P2 (to OTHER_REV) while the
        # module downloads P1, and the connection is cut: the resume's
        # If-Range no longer matches, nginx sends the whole P2, and the module
        # must start over on P2 (or fail with a code), never join the two.
        other = random_image(150 * 1024, 23)
        p2 = self.tools.diff(self.big_old, other, OLD_REV, OTHER_REV, key=self.key,
                             out=self.tmp + "/p2.pkg")
        self.ng.put("fw/swap.pkg", self.big_pkg)
        e1 = self.ng.etag("fw/swap.pkg")
        m = self.big_module()
        mark = self.ng.mark()
        done = []

        def on_urc(st, v):
            if st == "DOWNLOADING" and v is not None and v >= 30 and not done:
                self.ng.replace("fw/swap.pkg", p2)
                self.ng.drop_connections()
                done.append(v)
        r = fota(m.at, self.ng.url("rate/96k/fw/swap.pkg"), on_urc=on_urc)
        self.assertTrue(done, repr(r))
        e2 = self.ng.etag("fw/swap.pkg")
        self.assertNotEqual(e1, e2)
        reqs = self.ng.requests("/rate/96k/fw/swap.pkg", since=mark)
        after = [e for e in reqs if e["if_range"]]
        self.assertTrue(after, "no resume request: %r" % reqs)
        self.assertEqual(after[0]["if_range"], e1, "the resume must name the ETag of P1")
        self.assertEqual(after[0]["status"], 200, "nginx sends the whole new file")
        print("replaced mid-download: %r" % r)
        if r.end == 0:
            self.assertEqual(r.revision, OTHER_REV, "%r" % r)
            self.assertEqual(m.image(len(other)), other)
        else:
            # a clear failure and the old firmware; never a spliced image
            self.assertIn((r.httpend, r.end), ((12, None), (0, 255)), repr(r))
            self.assert_old(m, r)


if __name__ == "__main__":
    systest.main(timeout=280)
