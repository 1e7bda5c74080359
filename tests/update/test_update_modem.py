#!/usr/bin/python3
"""dfota update against dfota-modem (the BC20 simulator) over a real pty,
with nginx (tests/system/servers.py: Debian's nginx-light, own prefix, free
loopback port) serving the packages.

    /usr/bin/python3 tests/update/test_update_modem.py [Class ...]

Environment: DFOTA_MODEM and DFOTA_CLI name the two programs (ctest sets
them). Every wait has a deadline (systest.main's alarm for the whole run);
every simulator and server is stopped on the way out, also on failure.
"""
import json
import os
import re
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "system"))
import systest  # noqa: E402,F401  (puts tests/system on the path)
from servers import Nginx  # noqa: E402

MODEM = os.environ.get("DFOTA_MODEM", "dfota-modem")
DFOTA = os.environ.get("DFOTA_CLI", "dfota")
CUT_EXIT = 137
# Fast failure paths in the simulator: a stalled GET gives up after 3 s.
FAST = ["--retries", "2", "--stall-timeout", "3", "--progress-ms", "300"]

_live = []


class Sim:
    """dfota-modem on a pty with --pty-link; the pty is left to the driver."""

    def __init__(self, flash, link, args=(), firmware=None, revision=None, timeout=15):
        # link None: over TCP on a free loopback port instead of a pty
        argv = [MODEM, "--flash", flash, "-v"] + (["--pty-link", link] if link else ["--tcp", "0"])
        if firmware:
            argv += ["--firmware", firmware, "--revision", revision]
        argv += list(args)
        self.log_path = flash + ".log"
        self.logf = open(self.log_path, "ab")
        self.logf.write(("\n==== %s\n" % " ".join(argv)).encode())
        self.logf.flush()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        _live.append(self)
        fd = self.proc.stdout.fileno()
        line, end = b"", time.monotonic() + timeout
        while not line.endswith(b"\n"):
            r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
            if not r:
                self.close()
                raise AssertionError("dfota-modem printed no pty in %ss: %s" % (timeout, self.log()))
            ch = os.read(fd, 1)
            if not ch:
                self.close()
                raise AssertionError("dfota-modem exited at start: %s" % self.log())
            line += ch
        self.pty = line.decode().strip()

    def log(self):
        if not self.logf.closed:
            self.logf.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            if self.wait(10) is None:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        if not self.logf.closed:
            self.logf.close()
        if self in _live:
            _live.remove(self)


def firmware_pair(size=24000, seed=1, grow=1500):
    r = random.Random(seed)
    words = [r.getrandbits(32).to_bytes(4, "little") for _ in range(64)]
    a = bytearray()
    while len(a) < size:
        a += words[r.randrange(len(words))] if r.random() < 0.7 else r.getrandbits(32).to_bytes(4, "little")
    a = bytes(a[:size])
    b = bytearray(a)
    for i in range(0, len(b) - 8, 613):
        b[i] ^= 0x5A
    b[4000:4400] = a[9000:9400]
    b += bytes(r.getrandbits(8) for _ in range(grow))
    return a, bytes(b)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def diff(d, old, new, src, dst, name, layout=()):
    a = write(os.path.join(d, name + ".old"), old)
    b = write(os.path.join(d, name + ".new"), new)
    out = os.path.join(d, name)
    subprocess.run([DFOTA, "diff", "--force", "--from-version", src, "--to-version", dst] + list(layout) +
                   [a, b, "-o", out], check=True, capture_output=True, timeout=120)
    with open(out, "rb") as f:
        return f.read()


def events(stdout):
    return [json.loads(l) for l in stdout.splitlines() if l.startswith("{")]


class Driver:
    """dfota update --json in the background; its events as they come."""

    def __init__(self, port, url, args=()):
        self.proc = subprocess.Popen([DFOTA, "update", "--port", port, "--json"] + list(args) + [url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.evs = []
        self.err = ""
        self.cond = threading.Condition()
        self.t_out = threading.Thread(target=self._read, daemon=True)
        self.t_err = threading.Thread(target=self._read_err, daemon=True)
        self.t_out.start()
        self.t_err.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.evs.append(json.loads(line))
                self.cond.notify_all()

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def wait_event(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.evs:
                    if pred(e):
                        return e
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.t_out.is_alive():
                    return None
                self.cond.wait(min(left, 0.5))

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            rc = None
        self.t_out.join(5)
        self.t_err.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc

    def transcript(self):
        return "\n".join(json.dumps(e) for e in self.evs) + "\n--- stderr\n" + self.err


class Base(unittest.TestCase):
    nginx = None

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dfota-update-modem.")
        cls.old, cls.new = firmware_pair()
        cls.fw = write(os.path.join(cls.dir, "R1.bin"), cls.old)
        cls.pkg = diff(cls.dir, cls.old, cls.new, "R1", "R2", "ab.pkg")
        if Base.nginx is None:
            Base.nginx = Nginx()
        cls.nginx.put("ab.pkg", cls.pkg)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sim(self, args=(), name=None, fresh=True, cut=None):
        name = name or self.id().rsplit(".", 1)[-1]
        flash = os.path.join(self.dir, name + ".flash")
        link = os.path.join(self.dir, name + ".tty")
        if fresh and os.path.exists(flash):
            os.unlink(flash)
        extra = list(args) + FAST + (["--cut-after-flash-ops", str(cut)] if cut else [])
        s = Sim(flash, link, extra, firmware=self.fw, revision="R1")
        s.flash, s.link = flash, link
        self.addCleanup(s.close)
        return s

    def update(self, s, url, args=(), timeout=120, tcp=False):
        port = ["--tcp", s.pty] if tcp else ["--port", s.link]
        p = subprocess.run([DFOTA, "update"] + port + ["--json"] + list(args) + [url],
                           capture_output=True, text=True, timeout=timeout)
        p.evs = events(p.stdout)
        p.why = "exit %d\n%s\n--- stderr\n%s\n--- simulator log\n%s" % (p.returncode, p.stdout,
                                                                         p.stderr, s.log())
        return p

    def assertDone(self, p, new="R2"):
        self.assertEqual(p.returncode, 0, p.why)
        done = p.evs[-1]
        self.assertEqual(done["event"], "done", p.why)
        self.assertEqual((done["old_revision"], done["new_revision"], done["http_err"], done["err"]),
                         ("R1", new, 0, 0), p.why)

    def assertFailed(self, p, code, text, **fields):
        self.assertEqual(p.returncode, code, p.why)
        self.assertIn(text, p.stderr, p.why)
        last = p.evs[-1]
        self.assertEqual((last["event"], last["exit"]), ("error", code), p.why)
        for k, v in fields.items():
            self.assertEqual(last[k], v, p.why)


class Layouts(Base):
    """A full update in each layout and each percent form, from the driver's
    point of view: every stage in order, percentages parsed, the target."""

    def test_every_layout_and_percent_form(self):
        ip = diff(self.dir, self.old, self.new, "R1", "R2", "ip.pkg",
                  ["--layout", "inplace", "--sector-size", "4096", "--scratch-sectors", "4"])
        self.nginx.put("ip.pkg", ip)
        for layout, pkg in (("ab", "ab.pkg"), ("inplace", "ip.pkg")):
            for form in ("bc20", "plain", "percent"):
                with self.subTest(layout=layout, form=form):
                    s = self.sim(["--layout", layout, "--percent-form", form],
                                 name="%s-%s" % (layout, form))
                    p = self.update(s, self.nginx.url(pkg))
                    self.assertDone(p)
                    f = [e for e in p.evs if e["event"] == "fota"]
                    stages = [e["stage"] for e in f]
                    self.assertEqual(stages[0], "HTTPSTART", p.why)
                    order = [st for i, st in enumerate(stages) if i == 0 or stages[i - 1] != st]
                    self.assertEqual(order, ["HTTPSTART", "DOWNLOADING", "HTTPEND", "START",
                                             "UPDATING", "END"], p.why)
                    for st in ("DOWNLOADING", "UPDATING"):
                        vals = [e["value"] for e in f if e["stage"] == st]
                        self.assertEqual(vals, sorted(vals), p.why)
                        self.assertEqual(vals[-1], 100, p.why)
                    self.assertTrue(all(e["known"] for e in f), p.why)
                    self.assertFalse([e for e in p.evs if e["event"] == "garbled"], p.why)
                    s.close()

    def test_tcp(self):
        flash = os.path.join(self.dir, "tcp.flash")
        s = Sim(flash, None, FAST, firmware=self.fw, revision="R1")
        self.addCleanup(s.close)
        self.assertRegex(s.pty, r"^127\.0\.0\.1:\d+$")
        self.assertDone(self.update(s, self.nginx.url("ab.pkg"), tcp=True))

    def test_check_url_and_plain_output(self):
        s = self.sim()
        p = subprocess.run([DFOTA, "update", "--port", s.link, "--check-url",
                            self.nginx.url("ab.pkg")], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + s.log())
        for line in ("module: Quectel_BC20, revision R1", "package: R1 -> R2",
                     "download 100%", "update 100%", "done: the module runs R2 (was R1)"):
            self.assertIn(line, p.stdout)


class Failures(Base):
    def test_no_network(self):
        s = self.sim(["--registration", "searching"])
        self.assertFailed(self.update(s, self.nginx.url("ab.pkg"), ["--net-timeout", "2"]), 11,
                          "not registered on the network")
        s = self.sim(["--registration", "denied"], name="denied")
        self.assertFailed(self.update(s, self.nginx.url("ab.pkg")), 11, "registration denied")

    def test_404(self):
        s = self.sim()
        self.assertFailed(self.update(s, self.nginx.url("missing.pkg")), 12, "HTTPEND 12",
                          http_err=12)
        p = self.update(s, self.nginx.url("missing.pkg"), ["--check-url"])
        self.assertFailed(p, 12, "HTTP 404")

    def test_wrong_source(self):
        other, _ = firmware_pair(seed=7)
        pkg = diff(self.dir, other, self.new, "R0", "R2", "r0.pkg")
        self.nginx.put("r0.pkg", pkg)
        s = self.sim()
        p = self.update(s, self.nginx.url("r0.pkg"))
        self.assertFailed(p, 13, "END 254", err=254)
        self.assertIn("the package was built for R0, the module runs R1", p.stderr, p.why)
        # the module still runs R1: a right package still applies
        self.assertDone(self.update(s, self.nginx.url("ab.pkg")))

    def test_corrupt(self):
        bad = bytearray(self.pkg)
        bad[len(bad) // 2] ^= 0xFF
        self.nginx.put("bad.pkg", bytes(bad))
        s = self.sim()
        self.assertFailed(self.update(s, self.nginx.url("bad.pkg")), 13, "END 255", err=255)
        self.assertDone(self.update(s, self.nginx.url("ab.pkg")))

    def test_busy(self):
        s = self.sim()
        slow = self.nginx.url("rate/2k/ab.pkg")
        # Another host starts an update, then lets go of the port.
        fd = os.open(s.link, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, ('AT+QFOTADL="%s"\r' % slow).encode())
            got, end = b"", time.monotonic() + 10
            while b"\r\nOK\r\n" not in got and time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    got += os.read(fd, 4096)
            self.assertIn(b"\r\nOK\r\n", got)
        finally:
            os.close(fd)
        self.assertFailed(self.update(s, self.nginx.url("ab.pkg")), 13, "END 2", err=2)

    def test_never_answers(self):
        s = self.sim()
        s.proc.send_signal(signal.SIGSTOP)     # a hung module: the port is there, nobody answers
        try:
            p = self.update(s, self.nginx.url("ab.pkg"), timeout=60)
        finally:
            s.proc.send_signal(signal.SIGCONT)
        self.assertFailed(p, 10, "no answer from the module")


class Drop(Base):
    def test_server_drops_the_connection(self):
        """nginx drops every connection mid-body: the module resumes with
        Range (success), or gives up with HTTPEND,12; never anything else."""
        rate = max(512, len(self.pkg) // 4)
        s = self.sim()
        d = Driver(s.link, self.nginx.url("rate/%d/ab.pkg" % rate))
        try:
            e = d.wait_event(lambda e: e.get("stage") == "DOWNLOADING" and 0 < e["value"] < 90, 60)
            self.assertIsNotNone(e, d.transcript() + s.log())
            self.nginx.drop_connections()
            rc = d.finish(120)
        finally:
            if d.proc.poll() is None:
                d.proc.kill()
                d.finish(10)
        self.assertIn(rc, (0, 12), d.transcript() + s.log())
        if rc == 0:
            self.assertEqual(d.evs[-1]["new_revision"], "R2")
        else:
            self.assertEqual(d.evs[-1]["http_err"], 12)


    def test_network_outage_mid_download(self):
        """The network goes for 2 s mid-download: the module ends with
        HTTPEND 13 (or resumes); no restart is seen, no second request."""
        kbps = max(8, len(self.pkg) * 8 // 2000)          # about two seconds of download
        s = self.sim(["--link-kbps", str(kbps), "--outage-after-bytes", str(len(self.pkg) // 2),
                      "--outage-for", "2"])
        p = self.update(s, self.nginx.url("ab.pkg"))
        self.assertIn(p.returncode, (0, 12), p.why)
        if p.returncode == 0:
            self.assertDone(p)
        else:
            self.assertEqual(p.evs[-1]["http_err"], 13, p.why)
        kinds = [e["event"] + ":" + e.get("stage", "") for e in p.evs]
        self.assertEqual(kinds.count("request:"), 1, p.why)
        before_end = kinds[:kinds.index("fota:END")] if "fota:END" in kinds else kinds
        self.assertNotIn("reboot:", before_end, p.why)


class PowerCut(Base):
    def test_cut_while_updating(self):
        """The simulator loses power while UPDATING; the driver reopens the
        port when it is back, follows the forced upgrade, reports success."""
        base = os.path.join(self.dir, "base.flash")
        s = Sim(base, os.path.join(self.dir, "base.tty"), FAST, firmware=self.fw, revision="R1")
        s.close()
        # The reference: how many flash operations one whole update takes.
        ref = os.path.join(self.dir, "ref.flash")
        shutil.copyfile(base, ref)
        s = Sim(ref, os.path.join(self.dir, "ref.tty"), FAST)
        s.link = os.path.join(self.dir, "ref.tty")
        self.addCleanup(s.close)
        self.assertDone(self.update(s, self.nginx.url("ab.pkg")))
        s.close()
        total = int(re.findall(r"stopping after (\d+) flash operations", s.log())[-1])
        seen = []
        for frac in (0.6, 0.5, 0.7, 0.4, 0.8, 0.3, 0.9):
            n = max(1, int(total * frac))
            flash = os.path.join(self.dir, "cut.flash")
            link = os.path.join(self.dir, "cut.tty")
            shutil.copyfile(base, flash)
            s = Sim(flash, link, FAST + ["--cut-after-flash-ops", str(n)])
            self.addCleanup(s.close)
            d = Driver(link, self.nginx.url("ab.pkg"))
            try:
                rc = s.wait(60)
                if rc is None:                       # the update ended before op n
                    d.finish(60)
                    s.close()
                    continue
                self.assertEqual(rc, CUT_EXIT, s.log())
                s.close()
                s = Sim(flash, link, FAST)           # the next power-up
                self.addCleanup(s.close)
                rc = d.finish(120)
            finally:
                if d.proc.poll() is None:
                    d.proc.kill()
                    d.finish(10)
            self.assertEqual(rc, 0, "cut at %d of %d:\n%s\n%s" % (n, total, d.transcript(), s.log()))
            self.assertEqual(d.evs[-1]["new_revision"], "R2", d.transcript())
            kinds = [e["event"] + ":" + e.get("stage", "") for e in d.evs]
            lost = kinds.index("port_lost:") if "port_lost:" in kinds else -1
            self.assertGreaterEqual(lost, 0, d.transcript())
            after = kinds[lost:]
            during_update = "fota:START" in after and "request:" not in after
            seen.append((n, "update" if during_update else "download"))
            s.close()
            if during_update:
                break
        self.assertTrue(any(w == "update" for _, w in seen),
                        "no cut landed while UPDATING (of %d ops): %s" % (total, seen))
        print("power cut at flash operation %s of %d" % (seen, total), flush=True)


def _stop_all():
    for s in list(_live):
        s.close()
    if Base.nginx is not None:
        Base.nginx.close()


if __name__ == "__main__":
    import atexit
    atexit.register(_stop_all)
    systest.main(timeout=600)
