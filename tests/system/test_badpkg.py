#!/usr/bin/python3
"""Bad packages and lying servers, all from a real nginx: each gets its
code, and the module still boots its old firmware with its old revision
(checked on the flash file, byte for byte, after every case).

    test_badpkg.py Packages   (ctest: system_badpkg)
    test_badpkg.py Lying      (ctest: system_lying_server)
"""

import json
import time

import systest
from modem import drive, firmware_pair, fota
from servers import Nginx

OLD_REV, NEW_REV = "BC20JAR01A01", "BC20JAR01A02"
STALL_S = 2
RETRIES = 1


class Base(systest.SysCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ng = cls.keep(Nginx())
        cls.old, cls.new = firmware_pair(64 * 1024, seed=51, edits=400)
        cls.pkg = cls.tools.diff(cls.old, cls.new, OLD_REV, NEW_REV, key=cls.key)
        with open(cls.pkg, "rb") as f:
            cls.good = f.read()
        cls.ng.put("good.pkg", cls.good)
        # the header's size (format 2: about 200 bytes; format 1: 312)
        cls.hs = json.loads(cls.tools.run("inspect", "--json", cls.pkg))["header_size"]

    def setUp(self):
        super().setUp()
        self.m = self.modem("m", self.old, OLD_REV,
                            ["--pubkey", self.key[1], "--product", "dfota-test",
                             "--stall-timeout", str(STALL_S), "--retries", str(RETRIES)])
        self.m.start()
        self.m.at.sync()

    def expect(self, url, httpend, end, why, timeout=60):
        """One AT+QFOTADL; the codes; the old firmware still boots."""
        t0 = time.monotonic()
        r = fota(self.m.at, url, timeout=timeout)
        took = time.monotonic() - t0
        self.assertEqual((r.accepted, r.httpend, r.end), ("OK", httpend, end),
                         "%s: %r\n%s" % (why, r, self.m.log_tail()))
        self.assertEqual(r.revision, OLD_REV, why)
        self.assertEqual(self.m.image(len(self.old)), self.old, why + ": the old firmware changed")
        return took


class Packages(Base):
    def serve(self, name, data):
        self.ng.put(name, data)
        return self.ng.url(name)

    def test_truncated_at_many_offsets(self):
        n, hs = len(self.good), self.hs
        for cut in sorted({1, 8, 9, 100, hs - 73, hs - 64, hs - 1, hs, hs + 1, 311, 312, 313,
                           n // 3, n // 2, n - 64, n - 1}):
            self.expect(self.serve("trunc%d.pkg" % cut, self.good[:cut]), 0, 255, "truncated at %d" % cut)

    def test_byte_flips(self):
        n, hs = len(self.good), self.hs
        # magic, format, flags, a version text byte, the counter, key id, signature,
        # payload start/middle/end
        for at in (0, 8, 9, 20, hs - 73, hs - 72, hs - 64, hs - 1, hs, hs + (n - hs) // 2, n - 1):
            bad = bytearray(self.good)
            bad[at] ^= 0x5A
            self.expect(self.serve("flip%d.pkg" % at, bytes(bad)), 0, 255, "byte %d flipped" % at)

    def test_wrong_source_is_254(self):
        other = firmware_pair(64 * 1024, seed=52, edits=400)[0]
        p = self.tools.diff(other, self.new, OLD_REV, NEW_REV, key=self.key, out=self.tmp + "/src.pkg")
        self.expect(self.serve("src.pkg", p), 0, 254, "built from other firmware")

    def test_wrong_source_with_dfota_update(self):
        other = firmware_pair(64 * 1024, seed=53, edits=400)[0]
        p = self.tools.diff(other, self.new, "BC20JAR01A00", NEW_REV, key=self.key, out=self.tmp + "/src2.pkg")
        url = self.serve("src2.pkg", p)
        self.m.stop()
        m = self.modem("d", self.old, OLD_REV, ["--pubkey", self.key[1], "--product", "dfota-test"])
        m.start(open_serial=False, wait_connect=False)
        # --check-url: caught from the header alone (a Range request), before AT+QFOTADL
        mark = self.ng.mark()
        rc, events, err = drive(self.tools, m, url, "--check-url")
        self.assertEqual(rc, 5, err)   # package for another revision
        self.assertIn("BC20JAR01A00", err)
        self.assertFalse([e for e in events if e["event"] == "request"], events)
        self.assertTrue(all(e["status"] == 206 for e in self.ng.requests("/src2.pkg", since=mark)))
        # without it the module downloads it and refuses it: END,254
        rc, events, err = drive(self.tools, m, url)
        self.assertEqual(rc, 13, err)  # update failed
        self.assertEqual([e.get("err") for e in events if e["event"] == "error"][-1:], [254], events)
        m.stop()
        self.assertEqual(m.image(len(self.old)), self.old)

    def test_wrong_product_unsigned_other_key_are_255(self):
        p = self.tools.diff(self.old, self.new, OLD_REV, NEW_REV, key=self.key, product="other-product",
                            out=self.tmp + "/prod.pkg")
        self.expect(self.serve("prod.pkg", p), 0, 255, "for another product")
        p = self.tools.diff(self.old, self.new, OLD_REV, NEW_REV, key=None, out=self.tmp + "/unsigned.pkg")
        self.expect(self.serve("unsigned.pkg", p), 0, 255, "unsigned, the module has a key")
        other_key = self.tools.keygen("other")
        p = self.tools.diff(self.old, self.new, OLD_REV, NEW_REV, key=other_key, out=self.tmp + "/otherkey.pkg")
        self.expect(self.serve("otherkey.pkg", p), 0, 255, "signed by another key")

    def test_not_a_package(self):
        self.expect(self.serve("zeros.pkg", bytes(4096)), 0, 255, "4 KiB of zeros")
        self.expect(self.serve("firmware.bin", self.new), 0, 255, "the firmware image itself")

    def test_good_package_still_works(self):
        r = fota(self.m.at, self.ng.url("good.pkg"))
        self.assertEqual((r.httpend, r.end, r.revision), (0, 0, NEW_REV), repr(r))
        self.assertEqual(self.m.image(len(self.new)), self.new)


class Lying(Base):
    def test_404_is_12(self):
        self.expect(self.ng.url("no/such.pkg"), 12, None, "404")

    def test_html_error_page_with_200(self):
        # the page is downloaded as if it were the package; the checks reject it
        self.expect(self.ng.url("html200/good.pkg"), 0, 255, "an HTML page served with 200")

    def test_content_length_too_small(self):
        n = len(self.good)
        self.expect(self.ng.url("cl/%d/good.pkg" % (n // 2)), 0, 255, "Content-Length half the size")

    def test_content_length_too_large(self):
        n = len(self.good)
        self.expect(self.ng.url("cl/%d/good.pkg" % (2 * n)), 12, None, "Content-Length twice the size")

    def test_redirect_loop_is_12(self):
        self.expect(self.ng.url("loop/good.pkg"), 12, None, "a redirect loop")

    def test_one_redirect_is_followed(self):
        r = fota(self.m.at, self.ng.url("redirect/good.pkg"))
        self.assertEqual((r.httpend, r.end, r.revision), (0, 0, NEW_REV), repr(r))

    def test_stall_before_the_headers(self):
        took = self.expect(self.ng.url("stall/good.pkg"), 12, None, "no answer at all")
        self.assertLess(took, (RETRIES + 1) * (STALL_S + 1) + 10, "gave up too late")
        systest.figure("stall before headers: HTTPEND,12 after, s (stall %d s, %d retries)" % (STALL_S, RETRIES),
                       round(took, 1))

    def test_chunked_without_length_then_silence(self):
        # echo module: 200, chunked, 16 bytes, then nothing: no length to
        # check the package against, and a stall
        took = self.expect(self.ng.url("stallbody/good.pkg"), 12, None, "chunked, 16 bytes, then silence")
        self.assertLess(took, (RETRIES + 1) * (STALL_S + 1) + 10, "gave up too late")

    def test_frozen_server_mid_download(self):
        # a real file, the nginx worker SIGSTOPped in the middle
        frozen = []

        def on_urc(st, v):
            if st == "DOWNLOADING" and v is not None and v >= 10 and not frozen:
                self.ng.freeze()
                frozen.append(time.monotonic())
        try:
            r = fota(self.m.at, self.ng.url("rate/4k/good.pkg"), on_urc=on_urc, timeout=60)
        finally:
            self.ng.thaw()
        self.assertTrue(frozen, repr(r))
        self.assertEqual((r.httpend, r.end, r.revision), (12, None, OLD_REV), repr(r))
        self.assertEqual(self.m.image(len(self.old)), self.old)
        took = time.monotonic() - frozen[0]
        self.assertLess(took, (RETRIES + 1) * (STALL_S + 1) + 10, "gave up too late")
        systest.figure("server frozen mid-body: HTTPEND,12 after, s (stall %d s, %d retries)" % (STALL_S, RETRIES),
                       round(took, 1))


if __name__ == "__main__":
    systest.main(timeout=280)
