"""dfota-modem, an independent AT client for it, and helpers for packages.

    from modem import Tools, Modem, FlashFile

    tools = Tools(build_dir, workdir)          # dfota, dfota-modem, keys, packages
    key = tools.keygen("release")              # (secret path, public path)
    pkg = tools.diff(old, new, "A01", "A02", key=key)
    with Modem(tools, workdir, "m0", firmware=old, revision="A01",
               args=["--pubkey", key[1]]) as m:
        m.start()                              # power-up; m.at is an AtClient on its pty
        m.at.command('AT+QFOTADL="%s"' % url)
        m.at.wait_fota("END", timeout=60)      # -> the END code
        m.kill()                               # SIGKILL: a power cut
        m.start()                              # the next power-up
        FlashFile(m.flash).booting_image(len(new)) == new

The AT client is pyserial (Debian's python3-serial) on the simulator's pty,
independent of dfota's own parser. Every wait has a timeout; every Modem
stops its process on close(), at exit and when the test process dies.
"""

import contextlib
import os
import re
import signal
import struct
import subprocess
import threading
import time
import zlib

from servers import ServerError, _live, spawn, stop_process, wait_until

try:
    import serial  # python3-serial
except ImportError:  # pragma: no cover - reported by the tests that need it
    serial = None

CUT_EXIT = 137  # dfota-modem's status after --cut-after-flash-ops, as after kill -9


class ModemError(AssertionError):
    """The module did not do what a test waited for."""


# ---------------------------------------------------------------- tools

class Tools:
    """The dfota and dfota-modem binaries of a build, and package making."""

    def __init__(self, build=None, workdir=None):
        build = build or os.environ.get("DFOTA_BUILD") or "build"
        self.dfota = os.environ.get("DFOTA_BIN") or os.path.join(build, "dfota")
        self.modem = os.environ.get("DFOTA_MODEM_BIN") or os.path.join(build, "dfota-modem")
        self.firmware_dir = os.environ.get("DFOTA_FIRMWARE_DIR") or os.path.join(build, "firmware")
        self.workdir = workdir

    def have_modem(self):
        return os.access(self.modem, os.X_OK)

    def have_update(self):
        """True when `dfota update` exists in this build."""
        r = subprocess.run([self.dfota, "update", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=20)
        return r.returncode == 0 and b"--port" in r.stdout

    def run(self, *args, timeout=120):
        r = subprocess.run([self.dfota] + [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode != 0:
            raise ServerError("dfota %s failed (%d): %s" % (args[0], r.returncode,
                                                            r.stderr.decode(errors="replace")))
        return r.stdout.decode()

    def keygen(self, name):
        path = os.path.join(self.workdir, name + ".key")
        if not os.path.exists(path):
            self.run("keygen", "-o", path)
        return path, path + ".pub"

    def diff(self, old, new, from_v, to_v, out=None, key=None, product="dfota-test",
             layout="ab", sector_size=4096, security_counter=None):
        """A package from image old to image new (paths or bytes)."""
        old, new = self.file(old), self.file(new)
        if out is None:
            Tools._n += 1
            out = os.path.join(self.workdir, "%s-%s-%s.%d.pkg" % (from_v, to_v, layout, Tools._n))
        args = ["diff", "--force", "--from-version", from_v, "--to-version", to_v, "--layout", layout]
        if product:
            args += ["--product", product]
        if layout == "inplace":
            args += ["--sector-size", str(sector_size)]
        if key:
            args += ["--key", key[0] if isinstance(key, tuple) else key]
        if security_counter is not None:
            args += ["--security-counter", str(security_counter)]
        self.run(*(args + [old, new, "-o", out]))
        return out

    _n = 0

    def file(self, data):
        """A path for data (bytes are written to a new file in workdir)."""
        if isinstance(data, (bytes, bytearray)):
            Tools._n += 1
            p = os.path.join(self.workdir, "blob%d.bin" % Tools._n)
            with open(p, "wb") as f:
                f.write(data)
            return p
        return data


def firmware_pair(size, seed, edits=24):
    """Two firmware-like images (old, new) of about `size` bytes: Thumb-ish
    code words with a literal pool, and a new version with `edits` local
    changes and a few inserted functions, so the delta is small but real."""
    import random
    rnd = random.Random(seed)
    words = []
    for i in range(size // 4):
        if i % 64 < 48:  # "code": few distinct opcodes, small immediates
            words.append(rnd.choice((0x4770, 0xB580, 0x2000, 0x6800, 0x4618, 0xF000)) | rnd.randrange(256) << 16)
        else:            # "literals": addresses into the image
            words.append(0x08000000 + 4 * rnd.randrange(size // 4))
    old = struct.pack("<%dI" % len(words), *words)
    new = bytearray(old)
    for _ in range(edits):
        at = rnd.randrange(len(new) - 64) & ~3
        new[at:at + 8] = rnd.randbytes(8)
    for _ in range(3):
        at = rnd.randrange(len(new)) & ~3
        new[at:at] = rnd.randbytes(256)
    return bytes(old), bytes(new)


def random_image(size, seed):
    import random
    return random.Random(seed).randbytes(size)


# ---------------------------------------------------------------- flash file

class FlashFile:
    """An independent reader of dfota-modem's flash file: the geometry
    header (tools' host/modem/flashfile.c) and libdfota's journal
    (docs/engine.md, "The journal record"), to say which bank boots and
    whether an update is pending, without asking the simulator."""

    HDR = 4096
    AB, INPLACE = 1, 2
    MAGICS = (0x314A4644, 0x324A4644)  # "DFJ1", "DFJ2" (lib/engine_priv.h JR_MAGIC)

    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        if self.raw[:8] != b"DFOTAMF1":
            raise ModemError("%s is not a dfota-modem flash file" % path)
        words = struct.unpack_from("<18I", self.raw, 8)
        crc = struct.unpack_from("<I", self.raw, 8 + 72)[0]
        if zlib.crc32(self.raw[:8 + 72]) != crc:
            raise ModemError("%s: the flash header's CRC is wrong" % path)
        (_, _, self.flash_size, self.sector_size, self.prog_size, self.erased, self.kind,
         s0, s1, self.slot_size, self.scratch, self.scratch_size, self.journal,
         self.journal_size, self.staging, self.staging_size, self.state, self.state_size) = words
        self.slots = (s0, s1)
        self.mem = memoryview(self.raw)[self.HDR:self.HDR + self.flash_size]

    def _records(self):
        half = self.journal_size // 2
        out = []
        for h in (0, 1):
            base = self.journal + h * half
            magic, seq, ln, kind, active = struct.unpack_from("<5I", self.mem, base)
            if magic not in self.MAGICS or not (140 <= ln <= half):
                continue
            body = bytes(self.mem[base:base + ln])
            if zlib.crc32(body[:-4]) != struct.unpack_from("<I", body, ln - 4)[0]:
                continue
            out.append((seq, kind, active))
        return out

    def newest(self):
        """(seq, kind, active) of the newest valid journal record, or None."""
        recs = self._records()
        if not recs:
            return None
        if len(recs) == 2:
            a, b = recs
            return b if ((b[0] - a[0]) & 0xFFFFFFFF) < 0x80000000 and b[0] != a[0] else a
        return recs[0]

    def active_slot(self):
        r = self.newest()
        if self.kind != self.AB or r is None:
            return 0
        return r[2]

    def pending(self):
        """True when the journal holds an unfinished update (kind APPLY)."""
        r = self.newest()
        return r is not None and r[1] == 2

    def booting_image(self, length):
        """The first `length` bytes of the firmware that boots."""
        a = self.slots[self.active_slot()]
        return bytes(self.mem[a:a + length])


# ---------------------------------------------------------------- AT client

FOTA_RE = re.compile(r'^\+QIND:\s*"FOTA"\s*,\s*"([A-Z]+)"\s*(?:,\s*(\d+)\s*%?)?')
FINAL_RE = re.compile(r"^(OK|ERROR|\+CME ERROR:.*)$")


class AtClient:
    """A serial client on a pty (pyserial): a reader thread splits what
    arrives into lines (CR, LF or both end a line; the MT2625 banner's
    LF CR too), tests wait for lines with timeouts."""

    def __init__(self, path, on_line=None):
        if serial is None:
            raise ModemError("pyserial is missing: apt-get install python3-serial")
        self.path = path
        # pyserial's open() flushes the input queue (tcflush): the module
        # answers the open at once (--wait-connect), so its boot output could
        # be thrown away. Open without that flush.
        self.ser = serial.Serial(None, 115200, timeout=0.05)
        self.ser.port = path
        self.ser._reset_input_buffer = lambda: None  # what open() calls (pyserial 3.5)
        self.ser.open()
        del self.ser._reset_input_buffer
        self.lines = []      # (monotonic time, text)
        self.raw = bytearray()
        self.closed = False
        self.close_reason = None
        self.status = None   # a callable giving the module's process state, for messages
        self._part = bytearray()
        self._cond = threading.Condition()
        self._stop = False
        self.pos = 0         # where expect() searches from
        self.on_line = on_line  # called in the reader thread with each new line
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()

    def _reader(self):
        while not self._stop:
            try:
                b = self.ser.read(1)          # returns at the first byte (or 50 ms)
                if b and self.ser.in_waiting:
                    b += self.ser.read(self.ser.in_waiting)
            except (serial.SerialException, OSError, TypeError) as e:
                self.close_reason = "%s: %s" % (type(e).__name__, e)
                break
            if not b:
                continue
            with self._cond:
                self.raw += b
                for c in b:
                    if c in (10, 13):
                        if self._part:
                            text = self._part.decode("latin-1")
                            self.lines.append((time.monotonic(), text))
                            self._part = bytearray()
                            if self.on_line is not None:
                                self.on_line(text)
                    else:
                        self._part.append(c)
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def close(self):
        self._stop = True
        self._t.join(5)
        with contextlib.suppress(Exception):
            self.ser.close()

    def write(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.ser.write(data)
        self.ser.flush()

    def text(self, since=0):
        with self._cond:
            return [t for _, t in self.lines[since:]]

    def wait(self, pred, timeout, what, since=None):
        """Wait for a line (from index `since`, default self.pos) for which
        pred(text) is true; returns (index, pred's value)."""
        start = self.pos if since is None else since
        end = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    v = pred(self.lines[i][1])
                    if v:
                        return i, v
                    i += 1
                left = end - time.monotonic()
                if left <= 0 or self.closed:
                    raise ModemError("%s: no line for %s within %.0f s (closed: %s%s); last lines: %r"
                                     % (self.path, what, timeout, self.closed and (self.close_reason or "yes"),
                                        ", module: %s" % self.status() if self.status else "",
                                        [t for _, t in self.lines[-12:]]))
                self._cond.wait(min(left, 0.5))

    def expect(self, regex, timeout=10):
        """Wait for a line matching regex after self.pos; move pos past it."""
        r = re.compile(regex)
        i, m = self.wait(r.search, timeout, "/%s/" % regex)
        self.pos = i + 1
        return m

    def command(self, cmd, timeout=5):
        """Send cmd (CR added), wait for its final result code; returns
        (final, info lines) with the echo and URCs left out."""
        with self._cond:
            start = len(self.lines)
        self.write(cmd + "\r")
        i, _ = self.wait(FINAL_RE.match, timeout, "the final result of %s" % cmd, since=start)
        body = [t for t in self.text(start)[:i - start]
                if t != cmd and not t.startswith("+QIND:")]
        self.pos = max(self.pos, i + 1)
        return self.lines[i][1], body

    def ok(self, cmd, timeout=5):
        final, body = self.command(cmd, timeout)
        if final != "OK":
            raise ModemError("%s answered %s" % (cmd, final))
        return body

    def sync(self, timeout=10):
        """AT until OK (the module may still be booting), then echo off."""
        end = time.monotonic() + timeout
        while True:
            try:
                if self.command("AT", timeout=1)[0] == "OK":
                    break
            except ModemError:
                if time.monotonic() > end or self.closed:
                    raise
        self.ok("ATE0")

    def revision(self):
        for line in self.ok("AT+CGMR"):
            m = re.match(r"^(?:Revision:\s*)?(\S.*)$", line)
            if m:
                return m.group(1).strip()
        raise ModemError("AT+CGMR gave no revision")

    def fota(self, since=0):
        """The +QIND FOTA URCs so far: [(stage, value or None), ...]."""
        out = []
        for t in self.text(since):
            m = FOTA_RE.match(t)
            if m:
                out.append((m.group(1), int(m.group(2)) if m.group(2) is not None else None))
        return out

    def wait_fota(self, stages, timeout, since=None):
        """Wait for a FOTA URC whose stage is in stages (a name or a tuple);
        returns (stage, value) and moves pos past it."""
        if isinstance(stages, str):
            stages = (stages,)

        def pred(t):
            m = FOTA_RE.match(t)
            if m and m.group(1) in stages:
                return m.group(1), int(m.group(2)) if m.group(2) is not None else None
            return None
        i, v = self.wait(pred, timeout, "+QIND FOTA %s" % "/".join(stages), since=since)
        self.pos = i + 1
        return v


# ---------------------------------------------------------------- the module

class Modem:
    """One dfota-modem process on a pty, with its flash file in workdir.

    args: options for every start (layout, key, link...). start() powers
    it up; kill() is a power cut (SIGKILL); start() again is the next
    power-up with the same flash."""

    def __init__(self, tools, workdir, name, firmware=None, revision=None, args=(), verbose=True):
        self.tools = tools
        self.name = name
        self.flash = os.path.join(workdir, name + ".flash")
        self.link = os.path.join(workdir, name + ".tty")
        self.log = os.path.join(workdir, name + ".log")
        self.firmware = tools.file(firmware) if firmware is not None else None
        self.revision = revision
        self.args = [str(a) for a in args]
        self.verbose = verbose
        self.proc = None
        self.at = None
        self.starts = 0
        self._closed = False
        _live.append(self)

    def argv(self, extra=(), wait_connect=True):
        a = [self.tools.modem, "--flash", self.flash, "--pty-link", self.link]
        if not os.path.exists(self.flash):
            if self.firmware is None:
                raise ModemError("%s: no flash file and no firmware to make one" % self.name)
            a += ["--firmware", self.firmware, "--revision", self.revision]
        if self.verbose:
            a.append("-v")
        if wait_connect:
            a.append("--wait-connect")
        return a + self.args + [str(x) for x in extra]

    def start(self, extra=(), open_serial=True, wait_connect=True, timeout=15, on_line=None):
        """Power up. With open_serial, connect an AtClient (self.at) first
        thing, so the boot output is seen (--wait-connect)."""
        if self.proc is not None:
            raise ModemError("%s is running" % self.name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link)
        self.starts += 1
        with open(self.log, "a") as f:
            f.write("---- start %d: %s\n" % (self.starts, " ".join(self.argv(extra, wait_connect))))
        self.proc = spawn(self.argv(extra, wait_connect), self.log)
        try:
            wait_until(lambda: self.proc.poll() is not None or
                       (os.path.islink(self.link) and os.path.exists(self.link)), timeout,
                       "%s to make its pty" % self.name)
            if self.proc.poll() is not None:
                raise ModemError("%s exited with %s at start: %s"
                                 % (self.name, self.proc.returncode, self.log_tail()))
            if open_serial:
                self.at = self._connect(wait_connect, timeout, on_line)
        except BaseException:
            self.kill()
            raise
        return self

    def _connect(self, wait_connect, timeout, on_line=None):
        """An AtClient on the pty. With --wait-connect the module powers up
        when it sees the pty opened (inotify); an open that comes before
        its watch is in place goes unseen, so open again until the boot
        output arrives."""
        end = time.monotonic() + timeout
        while True:
            at = AtClient(self.link, on_line)
            at.status = self.status
            if not wait_connect:
                return at
            try:
                at.wait(lambda t: True, min(1.0, max(0.1, end - time.monotonic())), "the boot output", since=0)
                return at
            except ModemError:
                at.close()
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise ModemError("%s did not power up when its pty was opened: %s"
                                     % (self.name, self.log_tail()))

    def status(self):
        if self.proc is None:
            return "not running"
        rc = self.proc.poll()
        return "running (pid %d)" % self.proc.pid if rc is None else "exited with %s" % rc

    def log_text(self):
        with contextlib.suppress(FileNotFoundError):
            with open(self.log, errors="replace") as f:
                return f.read()
        return ""

    def log_tail(self, n=15):
        return " | ".join(self.log_text().splitlines()[-n:])

    def _close_at(self):
        if self.at is not None:
            self.at.close()
            self.at = None

    def kill(self):
        """A power cut: SIGKILL, then the process is gone."""
        p, self.proc = self.proc, None
        if p is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
        self._close_at()

    def wait_exit(self, timeout):
        """Wait for the process to end by itself (--cut-after-flash-ops);
        returns its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ModemError("%s did not exit within %.0f s" % (self.name, timeout))
        self.proc = None
        self._close_at()
        return rc

    def stop(self):
        p, self.proc = self.proc, None
        self._close_at()
        stop_process(p)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self in _live:
            _live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def image(self, length):
        """The first length bytes of the booting firmware, from the flash
        file; the bank is cross-checked with the simulator's own log (the
        last "power-up: bank N boots"), so a change of the journal format
        shows up here instead of as a wrong bank."""
        f = FlashFile(self.flash)
        banks = re.findall(r"power-up: bank (\d+) boots", self.log_text())
        if banks and f.kind == FlashFile.AB and int(banks[-1]) != f.active_slot():
            raise ModemError("%s: the journal says bank %d boots, the simulator said bank %s"
                             % (self.name, f.active_slot(), banks[-1]))
        return f.booting_image(length)


# ---------------------------------------------------------------- one update

class Fota:
    """What one AT+QFOTADL did, as the AT client saw it."""

    def __init__(self):
        self.accepted = None   # OK / ERROR / +CME ERROR to AT+QFOTADL
        self.httpend = None    # HTTPEND code
        self.end = None        # END code
        self.urcs = []         # [(stage, value)]
        self.revision = None   # after the reboot (or unchanged)
        self.seconds = None

    def __repr__(self):
        return "Fota(accepted=%r, httpend=%r, end=%r, revision=%r, stages=%s)" % (
            self.accepted, self.httpend, self.end, self.revision,
            [s if v is None else "%s,%s" % (s, v) for s, v in self.urcs][:12])


def check_order(urcs):
    """The URC order of a complete update (spec): HTTPSTART, DOWNLOADING*,
    HTTPEND,0, START, UPDATING*, END,0, percentages never backwards.
    Returns a list of problems (empty when fine)."""
    bad = []
    stages = [s for s, _ in urcs]
    want = ["HTTPSTART", "HTTPEND", "START", "END"]
    if [s for s in stages if s in want] != want:
        bad.append("stages %s" % stages)
    for stage in ("DOWNLOADING", "UPDATING"):
        v = [x for s, x in urcs if s == stage]
        if v != sorted(v):
            bad.append("%s went backwards: %s" % (stage, v))
        if v and (v[-1] != 100 or min(v) < 0):
            bad.append("%s ends at %s" % (stage, v[-1]))
    for s, x in urcs:
        if s == "DOWNLOADING" and not (stages.index("HTTPSTART") < stages.index("HTTPEND")):
            bad.append("DOWNLOADING outside the download")
            break
    return bad


def fota(at, url, timeout=120, on_urc=None, reboot_timeout=30):
    """AT+QFOTADL=url on an AtClient, followed to its end: HTTPEND != 0, or
    END, and after END,0 the reboot and the new revision. on_urc(stage,
    value) is called for each URC; if it returns True the function returns
    at once (a test that cuts the power there)."""
    r = Fota()
    t0 = time.monotonic()
    final, _ = at.command('AT+QFOTADL="%s"' % url, timeout=5)
    r.accepted = final
    if final != "OK":
        r.revision = at.revision()
        return r
    end = t0 + timeout
    while True:
        st, v = at.wait_fota(("HTTPSTART", "DOWNLOADING", "HTTPEND", "START", "UPDATING", "END"),
                             max(0.1, end - time.monotonic()))
        r.urcs.append((st, v))
        if on_urc is not None and on_urc(st, v):
            r.seconds = time.monotonic() - t0
            return r
        if st == "HTTPEND":
            r.httpend = v
            if v != 0:
                break
        elif st == "END":
            r.end = v
            break
    r.seconds = time.monotonic() - t0
    if r.end == 0:
        at.expect(r"^\+CPIN: READY", reboot_timeout)  # the new firmware's boot
    at.sync()
    r.revision = at.revision()
    return r


def after_power_up(at, timeout=120):
    """After a start: wait for the boot to complete (+CPIN: READY; after a
    forced upgrade that comes once its END is out and the new firmware
    boots), sync, and return the forced upgrade's END code, or None when
    there was none."""
    at.wait(lambda t: t.startswith("+CPIN: READY"), timeout, "the boot to complete", since=0)
    ends = [v for s, v in at.fota(0) if s == "END"]
    at.sync()
    return ends[0] if ends else None


def fota_stage(text):
    """(stage, value) of a +QIND FOTA line, or None."""
    m = FOTA_RE.match(text)
    if not m:
        return None
    return m.group(1), int(m.group(2)) if m.group(2) is not None else None


def cutter(m, pred):
    """An on_line hook that SIGKILLs module m (a power cut) at the first FOTA
    URC for which pred(stage, value) is true, or at END. It runs in the AT
    reader thread, so the cut comes within a fraction of a millisecond of the
    URC. The hook's .fired holds (stage, value) of that URC."""
    def hook(text):
        st = fota_stage(text)
        if st is None or hook.fired is not None or m.proc is None:
            return
        if pred(*st) or st[0] == "END":
            hook.fired = st
            pid = m.proc.pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with open(m.log, "a") as f:
                f.write("---- power cut: SIGKILL of pid %d after %s\n" % (pid, text))
    hook.fired = None
    return hook


def cut_during(m, url, pred, timeout=120):
    """AT+QFOTADL=url, and a power cut at the first URC where pred(stage,
    value) holds (see cutter). Returns the URC the cut followed."""
    hook = cutter(m, pred)
    m.at.on_line = hook
    final, _ = m.at.command('AT+QFOTADL="%s"' % url, timeout=5)
    if final != "OK":
        raise ModemError("AT+QFOTADL answered %s" % final)
    m.wait_exit(timeout)
    return hook.fired


def start_and_settle(m, on_line=None, timeout=120):
    """Power up with an on_line hook (e.g. a cutter for the forced upgrade)
    and wait until either the process is gone (the hook cut the power) or
    the boot completed (+CPIN: READY). Returns True if the process ended."""
    m.start(on_line=on_line)
    fired = lambda: getattr(on_line, "fired", None) is not None  # noqa: E731
    wait_until(lambda: m.proc.poll() is not None or fired() or
               any(t.startswith("+CPIN: READY") for t in m.at.text()), timeout,
               "%s to boot or be cut" % m.name)
    if m.proc.poll() is not None or fired():
        # the hook's SIGKILL may trail the output it reacted to
        m.wait_exit(10)
        return True
    m.at.on_line = None  # booted without a cut: the hook must not fire later
    return False


def drive(tools, m, url, *args, timeout=240):
    """`dfota update --json` on module m's pty; returns (exit code, events,
    stderr). The module must run without --wait-connect or be powered up."""
    import json
    p = subprocess.run([tools.dfota, "update", "--port", m.link, "--json", "--timeout", str(timeout)]
                       + [str(a) for a in args] + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout + 30)
    events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return p.returncode, events, p.stderr
