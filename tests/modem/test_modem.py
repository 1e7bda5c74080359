"""dfota-modem over a real pty, with pyserial as the host and nginx (Debian's
nginx-light, tests/system/servers.py) as the package server.

    /usr/bin/python3 tests/modem/test_modem.py [Class ...]

Environment: DFOTA_MODEM and DFOTA_CLI name the two programs (ctest sets
them). Every wait has a deadline; a whole run has one too (SIGALRM).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modemlib import (CUT_EXIT, Modem, ModemError, boot_banks, firmware_pair, flash_bank,  # noqa: E402
                      keygen, make_package, tmpdir, write)
from servers import Nginx  # noqa: E402  (tests/system)

Q = rb'\r\n\+QIND: "FOTA",'
FAST = ["--retries", "1", "--stall-timeout", "3", "--progress-ms", "500"]


class Base(unittest.TestCase):
    nginx = None

    @classmethod
    def setUpClass(cls):
        cls.dir = tmpdir()
        cls.old, cls.new = firmware_pair()
        cls.fw = write(os.path.join(cls.dir, "R1.bin"), cls.old)
        cls.pkg = make_package(cls.dir, cls.old, cls.new, "R1", "R2")
        if cls.nginx is None:
            Base.nginx = Nginx(https=True)
        cls.nginx.put("update.zip", cls.pkg)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def flash(self, name=None):
        return os.path.join(self.dir, (name or self.id().rsplit(".", 1)[-1]) + ".flash")

    def start(self, args=(), flash=None, fresh=True, **kw):
        flash = flash or self.flash()
        if fresh and os.path.exists(flash):
            os.unlink(flash)
        m = Modem(flash, args, firmware=self.fw, revision="R1", **kw)
        self.addCleanup(m.close)
        return m

    def full_update(self, m, url, target="R2", timeout=60):
        """AT+QFOTADL, then every URC to END,0 and the reboot; returns the
        URC transcript."""
        self.assertEqual(m.cmd('AT+QFOTADL="%s"' % url, timeout=1),
                         ('AT+QFOTADL="%s"\r\r\nOK\r\n' % url).encode())
        mark = m.pos
        m.expect(Q + rb'"END",0\r\n', timeout)
        urcs = m.since(mark)
        m.boot()
        self.assertEqual(m.revision(), target)
        return urcs


def check_urc_order(test, urcs):
    """The spec's sequence: HTTPSTART, DOWNLOADING rising to 100, HTTPEND,0,
    START, UPDATING rising to 100, END,0 and nothing else between."""
    lines = re.findall(rb'\r\n([^\r\n]*)\r\n', urcs)
    joined = b"".join(b"\r\n" + l + b"\r\n" for l in lines)
    test.assertEqual(joined, urcs, "stray bytes between the URCs")
    stages = []
    pct = {b"DOWNLOADING": [], b"UPDATING": []}
    for l in lines:
        m = re.fullmatch(rb'\+QIND: "FOTA","([A-Z]+)"(?:,(?: (\d+)%|(\d+)))?', l)
        test.assertIsNotNone(m, "not a FOTA URC of the default form: %r" % l)
        st = m.group(1)
        if st in pct:
            test.assertIsNotNone(m.group(2), "%r lacks its ' N%%'" % l)
            pct[st].append(int(m.group(2)))
        if not stages or stages[-1] != st:
            stages.append(st)
    test.assertEqual(stages, [b"HTTPSTART", b"DOWNLOADING", b"HTTPEND", b"START", b"UPDATING", b"END"])
    test.assertIn(b'"HTTPEND",0', urcs)
    for st, v in pct.items():
        test.assertTrue(v, st)
        test.assertEqual(v, sorted(set(v)), "%s percentages not rising: %r" % (st, v))
        test.assertEqual(v[-1], 100, st)
        test.assertTrue(all(1 <= p <= 100 for p in v))
    return pct


class Session(Base):
    """The guide's example session, byte for byte."""

    def test_example_session(self):
        m = self.start(["--link-kbps", "64"] + FAST)
        boot = m.expect(rb"\+CPIN: READY\r\n", 10)
        self.assertIn(b"Leaving the BROM\n\r", m.buf[:boot.end()])
        m.expect(rb"\+IP: 10\.0\.0\.5\r\n", 10)
        self.assertEqual(m.cmd("AT+CESQ;+CEREG?;+CPIN?;+COPS?"),
                         b"AT+CESQ;+CEREG?;+CPIN?;+COPS?\r"
                         b"\r\n+CESQ: 47,6,255,255,0,54\r\n"
                         b"\r\n+CEREG: 0,1\r\n"
                         b"\r\n+CPIN: READY\r\n"
                         b'\r\n+COPS: 0,2,"46011",9\r\n'
                         b"\r\nOK\r\n")
        self.assertEqual(m.cmd("AT+CGPADDR=1"), b"AT+CGPADDR=1\r\r\n+CGPADDR: 1,10.0.0.5\r\n\r\nOK\r\n")
        self.assertEqual(m.cmd("ATI"), b"ATI\r\r\nQuectel_Ltd\r\n\r\nQuectel_BC20\r\n\r\nRevision: R1\r\n\r\nOK\r\n")
        self.assertEqual(m.cmd("AT+QFOTADL=?"), b"AT+QFOTADL=?\r\r\nOK\r\n")
        urcs = self.full_update(m, self.nginx.url("update.zip"))
        check_urc_order(self, urcs)
        self.assertEqual(m.cmd("ATI"), b"ATI\r\r\nQuectel_Ltd\r\n\r\nQuectel_BC20\r\n\r\nRevision: R2\r\n\r\nOK\r\n")


class Update(Base):
    """Full updates: the URC order, HTTPS, signatures, in place, percent forms."""

    def test_urc_order_and_target(self):
        # 1.4 s of download at 20 kbit/s: a DOWNLOADING URC every 200 ms
        m = self.start(["--link-kbps", "20"] + FAST + ["--progress-ms", "200"])
        m.boot()
        self.assertEqual(m.revision(), "R1")
        urcs = self.full_update(m, self.nginx.url("update.zip"))
        pct = check_urc_order(self, urcs)
        self.assertGreaterEqual(len(pct[b"DOWNLOADING"]), 4, pct)
        self.assertEqual(flash_bank(m.flash, boot_banks(m.log_text())[-1])[:len(self.new)], self.new)

    def test_redirect_followed(self):
        m = self.start(FAST)
        m.boot()
        check_urc_order(self, self.full_update(m, self.nginx.url("redirect/update.zip")))
        self.assertRegex(m.log_text(), r"HTTP 200, first byte 0, total %d" % len(self.pkg))

    def test_https_with_ca(self):
        m = self.start(["--ca", self.nginx.pki.ca_cert] + FAST)
        m.boot()
        check_urc_order(self, self.full_update(m, self.nginx.url("update.zip", https=True)))

    def test_https_wrong_ca_fails(self):
        m = self.start(["--ca", self.nginx.pki.wrong_ca_cert] + FAST)
        m.boot()
        m.cmd('AT+QFOTADL="%s"' % self.nginx.url("update.zip", https=True))
        m.expect(Q + rb'"HTTPEND",12\r\n', 30)
        self.assertEqual(m.revision(), "R1")

    def test_signed(self):
        key, pub = keygen(self.dir)
        pkg = make_package(self.dir, self.old, self.new, "R1", "R2s", name="signed.bin", key=key,
                           product="BC20X")
        self.nginx.put("signed.bin", pkg)
        m = self.start(["--pubkey", pub, "--product", "BC20X"] + FAST)
        m.boot()
        check_urc_order(self, self.full_update(m, self.nginx.url("signed.bin"), target="R2s"))

    def test_inplace(self):
        args = ["--layout", "inplace", "--sector-size", "1024", "--scratch-sectors", "6"]
        pkg = make_package(self.dir, self.old, self.new, "R1", "R2i", name="inplace.bin",
                           layout=args)
        self.nginx.put("inplace.bin", pkg)
        m = self.start(args + FAST)
        m.boot()
        check_urc_order(self, self.full_update(m, self.nginx.url("inplace.bin"), target="R2i"))
        self.assertEqual(flash_bank(m.flash, 0)[:len(self.new)], self.new)

    def test_percent_forms(self):
        for form, rx in (("plain", rb'"DOWNLOADING",(\d+)\r\n'), ("percent", rb'"DOWNLOADING",(\d+)%\r\n')):
            m = self.start(["--percent-form", form] + FAST, flash=self.flash("pct-" + form))
            m.boot()
            m.cmd('AT+QFOTADL="%s"' % self.nginx.url("update.zip"))
            m.expect(Q + rx, 20)
            m.expect(Q + rb'"END",0\r\n', 60)
            m.close()

    def test_restart_keeps_the_target(self):
        flash = self.flash()
        m = self.start(FAST, flash=flash)
        m.boot()
        self.full_update(m, self.nginx.url("update.zip"))
        m.close()
        m2 = Modem(flash, FAST)
        self.addCleanup(m2.close)
        m2.boot()
        self.assertEqual(m2.revision(), "R2")


class Failures(Base):
    """Each failure path with its code; the old firmware keeps running."""

    def expect_fail(self, url, stage, code, args=(), before=None, timeout=40):
        m = self.start(list(args) + FAST)
        m.boot()
        if before:
            before(m)
        self.assertEqual(m.cmd('AT+QFOTADL="%s"' % url), ('AT+QFOTADL="%s"\r\r\nOK\r\n' % url).encode())
        m.expect(Q + ('"%s",%d\\r\\n' % (stage, code)).encode(), timeout)
        self.assertEqual(m.revision(), "R1")
        self.assertEqual(flash_bank(m.flash, 0)[:len(self.old)], self.old)
        return m

    def test_404_is_12(self):
        self.expect_fail(self.nginx.url("missing.zip"), "HTTPEND", 12)

    def test_refused_is_12(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.expect_fail("http://127.0.0.1:%d/x.zip" % port, "HTTPEND", 12)

    def test_stall_is_12_in_bounded_time(self):
        t = time.monotonic()
        self.expect_fail(self.nginx.url("stallbody/update.zip"), "HTTPEND", 12,
                         args=["--stall-timeout", "1", "--retries", "1"], timeout=20)
        self.assertLess(time.monotonic() - t, 20)

    def test_cfun0_during_download_is_13(self):
        m = self.start(["--link-kbps", "8"] + FAST)
        m.boot()
        m.cmd('AT+QFOTADL="%s"' % self.nginx.url("update.zip"))
        m.expect(Q + rb'"DOWNLOADING", \d+%\r\n', 20)
        m.cmd("AT+CFUN=0")
        m.expect(Q + rb'"HTTPEND",13\r\n', 20)
        self.assertEqual(m.revision(), "R1")

    def test_outage_at_time_is_13(self):
        m = self.start(["--link-kbps", "8", "--outage-at", "1.5", "--outage-for", "3"] + FAST)
        m.boot()
        m.cmd('AT+QFOTADL="%s"' % self.nginx.url("update.zip"))
        m.expect(Q + rb'"HTTPEND",13\r\n', 20)
        self.assertEqual(m.cmd("AT+CEREG?"), b"AT+CEREG?\r\r\n+CEREG: 0,2\r\n\r\nOK\r\n")
        m.expect(rb"\+IP: 10\.0\.0\.5\r\n", 10)     # back after the outage
        self.assertEqual(m.revision(), "R1")

    def test_registration_delay(self):
        m = self.start(["--registration-delay-ms", "1500"] + FAST)
        m.expect(rb"\+CPIN: READY\r\n", 10)
        self.assertEqual(m.cmd("AT+CEREG?"), b"AT+CEREG?\r\r\n+CEREG: 0,2\r\n\r\nOK\r\n")
        m.expect(rb"\+IP: 10\.0\.0\.5\r\n", 10)
        self.assertEqual(m.cmd("AT+CEREG?"), b"AT+CEREG?\r\r\n+CEREG: 0,1\r\n\r\nOK\r\n")

    def test_not_registered_is_20(self):
        self.expect_fail(self.nginx.url("update.zip"), "HTTPEND", 20,
                         args=["--registration", "searching"])

    def test_other_source_is_254(self):
        other, _ = firmware_pair(seed=7)
        pkg = make_package(self.dir, other, self.new, "R1", "R2", name="other.bin")
        self.nginx.put("other.bin", pkg)
        self.expect_fail(self.nginx.url("other.bin"), "END", 254)

    def test_corrupt_is_255(self):
        bad = bytearray(self.pkg)
        bad[len(bad) // 2 + 200] ^= 0x40
        self.nginx.put("corrupt.bin", bytes(bad))
        self.expect_fail(self.nginx.url("corrupt.bin"), "END", 255)

    def test_truncated_is_255(self):
        self.nginx.put("short.bin", self.pkg[:len(self.pkg) - 100])
        self.expect_fail(self.nginx.url("short.bin"), "END", 255)

    def test_other_product_is_255(self):
        pkg = make_package(self.dir, self.old, self.new, "R1", "R2", name="prod.bin", product="OTHER")
        self.nginx.put("prod.bin", pkg)
        self.expect_fail(self.nginx.url("prod.bin"), "END", 255, args=["--product", "BC20X"])

    def test_unsigned_with_key_is_255(self):
        _, pub = keygen(self.dir, "u.key")
        self.expect_fail(self.nginx.url("update.zip"), "END", 255, args=["--pubkey", pub])

    def test_other_key_is_255(self):
        key, _ = keygen(self.dir, "a.key")
        _, pub = keygen(self.dir, "b.key")
        pkg = make_package(self.dir, self.old, self.new, "R1", "R2", name="otherkey.bin", key=key)
        self.nginx.put("otherkey.bin", pkg)
        self.expect_fail(self.nginx.url("otherkey.bin"), "END", 255, args=["--pubkey", pub])

    def test_busy_is_2(self):
        m = self.start(["--link-kbps", "8"] + FAST)
        m.boot()
        url = self.nginx.url("update.zip")
        m.cmd('AT+QFOTADL="%s"' % url)
        m.expect(Q + rb'"HTTPSTART"\r\n', 10)
        m.cmd('AT+QFOTADL="%s"' % url)
        m.expect(Q + rb'"END",2\r\n', 10)
        m.expect(Q + rb'"END",0\r\n', 60)   # the first one carries on
        m.boot()
        self.assertEqual(m.revision(), "R2")

    def test_bad_url_is_error(self):
        m = self.start(FAST)
        m.boot()
        for url in ("ftp://127.0.0.1/x", "http://127.0.0.1:65536/x", "http://:80/x"):
            out = m.cmd('AT+QFOTADL="%s"' % url)
            self.assertRegex(out, rb'^AT\+QFOTADL="[^"]*"\r\r\n(ERROR|\+CME ERROR: \d+)\r\n$')
        self.assertEqual(m.quiet(0.3), b"")   # no download starts


class Resume(Base):
    """Interrupted downloads resume with Range + If-Range."""

    def test_outage_then_same_url_resumes(self):
        """The network goes mid-download: HTTPEND,13; once it is back the
        same URL resumes from the staged bytes with Range + If-Range."""
        big_old, big_new = firmware_pair(size=120000, seed=5, grow=20000)
        fw = write(os.path.join(self.dir, "out.bin"), big_old)
        pkg = make_package(self.dir, big_old, big_new, "R1", "R2o", name="out.pkg")
        url = self.nginx.put("out.pkg", pkg)
        flash = self.flash()
        if os.path.exists(flash):
            os.unlink(flash)
        m = Modem(flash, ["--link-kbps", "400", "--outage-after-bytes", str(len(pkg) * 3 // 4),
                          "--outage-for", "0.5"] + FAST, firmware=fw, revision="R1")
        self.addCleanup(m.close)
        m.boot()
        m.cmd('AT+QFOTADL="%s"' % url)
        m.expect(Q + rb'"HTTPEND",13\r\n', 30)
        m.expect(rb"\+IP: 10\.0\.0\.5\r\n", 10)
        mark = self.nginx.mark()
        self.full_update(m, url, target="R2o")
        self.assertLess(self.nginx.bytes_served("/out.pkg", since=mark), len(pkg) // 2)
        self.assertRegex(m.log_text(), r"GET \S+ from byte [1-9]\d*, If-Range: ")

    def test_dropped_connection_resumes_with_range(self):
        """The server cuts the connection mid-body: the core retries with
        Range + If-Range inside one AT+QFOTADL."""
        big_old, big_new = firmware_pair(size=120000, seed=6, grow=20000)
        fw = write(os.path.join(self.dir, "drop.bin"), big_old)
        pkg = make_package(self.dir, big_old, big_new, "R1", "R2d", name="drop.pkg")
        self.nginx.put("drop.pkg", pkg)
        # nginx sends at about 3 s for the package, so the cut comes mid-body
        url = self.nginx.url("rate/%d/drop.pkg" % max(2048, len(pkg) // 3))
        flash = self.flash()
        if os.path.exists(flash):
            os.unlink(flash)
        m = Modem(flash, ["--retries", "3"], firmware=fw, revision="R1")
        self.addCleanup(m.close)
        m.boot()
        mark = self.nginx.mark()
        m.cmd('AT+QFOTADL="%s"' % url)
        m.expect(Q + rb'"DOWNLOADING", (?:[2-9]\d)%\r\n', 30)
        self.nginx.drop_connections()
        m.expect(Q + rb'"HTTPEND",0\r\n', 60)
        m.expect(Q + rb'"END",0\r\n', 60)
        m.boot()
        self.assertEqual(m.revision(), "R2d")
        self.assertRegex(m.log_text(), r"GET \S+ from byte [1-9]\d*, If-Range: ")
        self.assertLess(self.nginx.bytes_served("/drop.pkg", since=mark), 2 * len(pkg))

    def test_power_cut_during_download_resumes(self):
        big_old, big_new = firmware_pair(size=120000, seed=3, grow=20000)
        fw = write(os.path.join(self.dir, "big.bin"), big_old)
        pkg = make_package(self.dir, big_old, big_new, "R1", "R2b", name="big.pkg")
        self.nginx.put("big.pkg", pkg)
        flash = self.flash()
        if os.path.exists(flash):
            os.unlink(flash)
        url = self.nginx.url("big.pkg")
        m = Modem(flash, ["--link-kbps", "%d" % max(8, len(pkg) * 8 // 1000 // 2)] + FAST,
                  firmware=fw, revision="R1")
        self.addCleanup(m.close)
        m.boot()
        m.cmd('AT+QFOTADL="%s"' % url)
        m.expect(Q + rb'"DOWNLOADING", (?:[6-9]\d)%\r\n', 30)
        m.kill9()
        mark = self.nginx.mark()
        m2 = Modem(flash, FAST)
        self.addCleanup(m2.close)
        m2.boot()
        m2.cmd('AT+QFOTADL="%s"' % url)
        m2.expect(Q + rb'"END",0\r\n', 60)
        m2.boot()
        self.assertEqual(m2.revision(), "R2b")
        self.assertLess(self.nginx.bytes_served("/big.pkg", since=mark), len(pkg) * 0.6)


class Cuts(Base):
    """A power cut at every flash operation of one small update (A/B): every
    power-up boots a complete image, every restart ends on the target."""

    torn = False
    layout = ()
    step = 1        # every cut point; DFOTA_CUT_STEP overrides

    def test_cut_at_every_flash_op(self):
        fw, old, new, pkg_url = self.fw, self.old, self.new, self.nginx.url("update.zip")
        args = list(self.layout)
        if self.layout:
            pkg = make_package(self.dir, old, new, "R1", "R2", name="cut.bin", layout=self.layout)
            self.nginx.put("cut.bin", pkg)
            pkg_url = self.nginx.url("cut.bin")
        base = os.path.join(self.dir, "cut-base.flash")
        # a fresh flash made once, copied for every cut
        with Modem(base, args, firmware=fw, revision="R1") as m:
            m.boot()
        n, cuts = 0, 0
        how = {"forced upgrade at boot": 0, "AT+QFOTADL again": 0, "already on the target": 0}
        step = int(os.environ.get("DFOTA_CUT_STEP", self.step))
        while True:
            n += step
            flash = os.path.join(self.dir, "cut.flash")
            shutil.copyfile(base, flash)
            cut = ["--cut-after-flash-ops", str(n)] + (["--cut-torn"] if self.torn else [])
            m = Modem(flash, args + cut + FAST)
            done = False
            try:
                m.expect(rb"\+CPIN: READY\r\n", 10)
                m.send('AT+QFOTADL="%s"\r' % pkg_url)
                try:
                    # the whole update, the reboot and a command after it
                    m.expect(Q + rb'"END",0\r\n', 60)
                    m.boot()
                    done = m.revision() == "R2"
                except ModemError:
                    if m.proc.poll() is None:
                        raise
                if done:
                    break
                rc = m.wait_exit(10)
                self.assertEqual(rc, CUT_EXIT, m.log_text()[-2000:])
                cut_run = m.buf
            finally:
                m.close()
            cuts += 1
            # the next power-up: a forced upgrade, or the download again
            m = Modem(flash, args + FAST)
            try:
                m.boot(30)
                banks = boot_banks(m.log_text())
                image = flash_bank(flash, banks[-1])
                self.assertTrue(image[:len(old)] == old or image[:len(new)] == new,
                                "cut %d: bank %d boots neither image" % (n, banks[-1]))
                forced = re.search(Q + rb'"START"\r\n.*' + Q + rb'"END",0\r\n', m.buf, re.S)
                if m.revision() != "R2":
                    self.assertIsNone(forced)
                    how["AT+QFOTADL again"] += 1
                    m.send('AT+QFOTADL="%s"\r' % pkg_url)
                    m.expect(Q + rb'"END",0\r\n', 30)
                    m.boot()
                elif forced:
                    how["forced upgrade at boot"] += 1
                else:
                    # cut after the update ended: END,0 came before the cut
                    self.assertRegex(cut_run, Q + rb'"END",0\r\n', "cut %d" % n)
                    how["already on the target"] += 1
                self.assertEqual(m.revision(), "R2", "cut %d" % n)
                banks = boot_banks(m.log_text())
                self.assertEqual(flash_bank(flash, banks[-1])[:len(new)], new)
            finally:
                m.close()
        print("%s: %d cut points, update done at flash operation %d; restarts: %s" %
              (type(self).__name__, cuts, n, how), flush=True)
        self.assertGreater(cuts, 10)


class CutsTorn(Cuts):
    torn = True


class CutsInplace(Cuts):
    """In place has ~2400 cut points for this update (a checkpoint per
    block with the minimum scratch): make check takes every 23rd, torn;
    DFOTA_CUT_STEP=1 runs them all (about 7 minutes)."""
    torn = True
    step = 23
    layout = ("--layout", "inplace", "--sector-size", "1024", "--scratch-sectors", "4")


class Tools(Base):
    """chat(8), picocom and tio on the pty."""

    def test_chat(self):
        m = self.start(FAST)
        m.boot()
        with open(m.path, "r+b", buffering=0) as tty:
            p = subprocess.run(["/usr/sbin/chat", "-t", "5", "-e", "", "AT", "OK", "ATI",
                                "Revision: R1", "AT+CGPADDR=1", "+CGPADDR: 1,10.0.0.5"],
                               stdin=tty, stdout=tty, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_picocom(self):
        if not shutil.which("picocom"):
            self.skipTest("picocom is not installed")
        m = self.start(FAST)
        m.boot()
        p = subprocess.run(["picocom", "-q", "-b", "115200", "--initstring", "ATI\r", "-x", "1500",
                            m.path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertIn(b"Revision: R1", p.stdout, p.stderr)


class Transports(Base):
    """--tcp, --stdio, --pty-link and --wait-connect."""

    def first_line(self, proc, timeout=10):
        import select
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no line on stdout")
            r, _, _ = select.select([proc.stdout], [], [], left)
            if r:
                ch = os.read(proc.stdout.fileno(), 1)
                self.assertTrue(ch, "dfota-modem exited")
                line += ch
        return line.decode().strip()

    def test_tcp(self):
        import socket
        from modemlib import MODEM
        flash = self.flash()
        p = subprocess.Popen([MODEM, "--flash", flash, "--firmware", self.fw, "--revision", "R1",
                              "--tcp", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (p.poll() is None and p.terminate(), p.wait(10), p.stdout.close()))
        host, port = self.first_line(p).split(":")
        self.assertEqual(host, "127.0.0.1")
        c = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        self.addCleanup(c.close)
        c.sendall(b"AT+CGMR\r")
        got, deadline = b"", time.monotonic() + 10
        while b"Revision: R1\r\n\r\nOK\r\n" not in got and time.monotonic() < deadline:
            got += c.recv(4096)
        self.assertIn(b"AT+CGMR\r\r\nRevision: R1\r\n\r\nOK\r\n", got)
        # one host at a time: a second connection is told and closed
        c2 = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        self.addCleanup(c2.close)
        busy = b""
        while True:
            d = c2.recv(4096)
            if not d:
                break
            busy += d
        self.assertIn(b"in use", busy)

    def test_stdio(self):
        from modemlib import MODEM
        flash = self.flash()
        p = subprocess.run([MODEM, "--flash", flash, "--firmware", self.fw, "--revision", "R1",
                            "--stdio"], input=b"ATE0\rAT+CGMR\r", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"\r\nRevision: R1\r\n\r\nOK\r\n", p.stdout)
        self.assertIn(b"unsigned development packages are accepted", p.stderr)

    def test_pty_link_and_wait_connect(self):
        link = os.path.join(self.dir, "ttyBC20")
        m = self.start(["--pty-link", link, "--wait-connect"])
        self.assertEqual(os.readlink(link), m.path)
        # powered up only once we opened the pty: the banner is the first byte
        m.expect(rb"\+CPIN: READY\r\n", 10)
        self.assertTrue(m.buf.startswith(b"F1: 0000 0000\n\r"), m.buf[:40])
        m.cmd("AT")
        m.close()
        self.assertFalse(os.path.lexists(link))


def main():
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("test deadline")))
    signal.alarm(int(os.environ.get("DFOTA_MODEM_TEST_TIMEOUT", "600")))
    try:
        prog = unittest.main(exit=False, verbosity=2)
    finally:
        if Base.nginx is not None:
            Base.nginx.close()
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
