"""Drive dfota-modem over its pty with pyserial, as a host MCU would.

Modem(...) starts the simulator, reads the pty path it prints and opens the
pty with pyserial (an independent client: the same calls a host script
makes). Every wait has a deadline; close() (and leaving a with-block, and
interpreter exit) stops the process. Images and packages are made here with
the dfota CLI.

Run by /usr/bin/python3 (Debian's, with python3-serial).
"""

import atexit
import os
import random
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

import serial

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = os.path.join(os.path.dirname(HERE), "system")
if SYSTEM not in sys.path:
    sys.path.insert(0, SYSTEM)

MODEM = os.environ.get("DFOTA_MODEM", "dfota-modem")
DFOTA = os.environ.get("DFOTA_CLI", "dfota")
CUT_EXIT = 137          # dfota-modem's status after --cut-after-flash-ops

_live = []


def _stop_all():
    for m in list(_live):
        m.close()


atexit.register(_stop_all)


class NoFlushSerial(serial.Serial):
    """pyserial discards pending input when it opens a port; a host that
    powers the module after attaching sees the boot output, so keep it."""

    def _reset_input_buffer(self):
        pass


class ModemError(AssertionError):
    pass


class Modem:
    """dfota-modem on a pty. args: extra command-line options."""

    def __init__(self, flash, args=(), firmware=None, revision=None, log=None, start_timeout=10):
        self.flash = flash
        argv = [MODEM, "--flash", flash, "-v"]
        if firmware:
            argv += ["--firmware", firmware, "--revision", revision]
        argv += list(args)
        self.argv = argv
        self.log_path = log or (flash + ".log")
        self.logf = open(self.log_path, "ab")
        self.logf.write(("\n==== %s\n" % " ".join(argv)).encode())
        self.logf.flush()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        self.ser = None
        self.buf = b""
        self.pos = 0
        _live.append(self)
        try:
            self.path = self._read_stdout_line(start_timeout)
            self.ser = NoFlushSerial(self.path, 115200, timeout=0)
        except BaseException:
            self.close()
            raise

    def _read_stdout_line(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModemError("dfota-modem printed no pty path in %ss (log %s)" %
                                 (timeout, self.log_path))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                ch = os.read(fd, 1)
                if not ch:
                    raise ModemError("dfota-modem exited at start: %s" % self.log_text()[-2000:])
                line += ch
        return line.decode().strip()

    # -- the line
    def _fill(self, timeout):
        """Read what comes within timeout; True when something came."""
        if self.ser is None:
            return False
        r, _, _ = select.select([self.ser.fileno()], [], [], max(0, timeout))
        if not r:
            return False
        try:
            data = os.read(self.ser.fileno(), 65536)
        except OSError:
            return False
        self.buf += data
        return bool(data)

    def expect(self, pattern, timeout=10):
        """Wait for a regex (bytes) in the output after the last match;
        returns the match and moves past it."""
        rx = re.compile(pattern if isinstance(pattern, bytes) else pattern.encode(), re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModemError("no %r within %ss; got after the last match: %r\n(log %s)" %
                                 (rx.pattern, timeout, self.buf[self.pos:][-1500:], self.log_path))
            if not self._fill(min(left, 0.5)) and self.proc.poll() is not None:
                if not self._fill(0.05):
                    m = rx.search(self.buf, self.pos)
                    if m:
                        self.pos = m.end()
                        return m
                    raise ModemError("dfota-modem exited (%s) waiting for %r; got %r" %
                                     (self.proc.returncode, rx.pattern, self.buf[self.pos:][-1500:]))

    def since(self, mark):
        return self.buf[mark:self.pos]

    def quiet(self, seconds):
        """Collect output for a bounded time (used only where nothing is
        awaited, e.g. to prove no URC comes)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._fill(deadline - time.monotonic())
        return self.buf[self.pos:]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.ser.write(data)
        self.ser.flush()

    def cmd(self, line, timeout=5):
        """Send an AT command line; return the bytes from the echo to the
        final result code, inclusive."""
        start = self.pos
        self.send(line + "\r")
        self.expect(rb"\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n", timeout)
        return self.buf[start:self.pos]

    def boot(self, timeout=20):
        """Wait for the end of a power-up: +CPIN: READY (after any forced
        upgrade), then the line answers AT."""
        self.expect(rb"\+CPIN: READY\r\n", timeout)
        return self.cmd("AT")

    def revision(self):
        out = self.cmd("AT+CGMR")
        m = re.search(rb"Revision: ([^\r]*)\r\n", out)
        if not m:
            raise ModemError("AT+CGMR gave %r" % out)
        return m.group(1).decode()

    # -- the process
    def wait_exit(self, timeout=30):
        """Read the line until the process ends (a pty's buffer dies with
        the process: what a host does not read in time is lost)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise ModemError("dfota-modem still running after %ss" % timeout)
            self._fill(0.05)
        while self._fill(0.05):
            pass
        return self.proc.returncode

    def log_text(self):
        self.logf.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.ser is not None:
            try:
                self.ser.close()
            except OSError:
                pass
            self.ser = None
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if not self.logf.closed:
            self.logf.close()
        if self in _live:
            _live.remove(self)

    def kill9(self):
        """A power cut from outside."""
        self.proc.kill()
        self.proc.wait(10)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- firmware and packages ------------------------------------------------------

def firmware_pair(size=24000, seed=1, grow=1500):
    """Two firmware-like images: the second has scattered edits, a moved
    block and a tail, as a real new release would."""
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


def run_cli(*args):
    p = subprocess.run([DFOTA] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    if p.returncode:
        raise ModemError("dfota %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_package(d, old, new, src_rev, dst_rev, name="pkg.bin", key=None, product=None,
                 layout=None):
    """Diff two images (bytes) with the dfota CLI; returns the package bytes."""
    a = write(os.path.join(d, name + ".old"), old)
    b = write(os.path.join(d, name + ".new"), new)
    out = os.path.join(d, name)
    if os.path.exists(out):
        os.unlink(out)
    args = ["diff", "--from-version", src_rev, "--to-version", dst_rev]
    if key:
        args += ["--key", key]
    if product:
        args += ["--product", product]
    if layout:
        args += list(layout)
    run_cli(*(args + [a, b, "-o", out]))
    with open(out, "rb") as f:
        return f.read()


def keygen(d, name="k.key"):
    path = os.path.join(d, name)
    for p in (path, path + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    run_cli("keygen", "-o", path)
    return path, path + ".pub"


def flash_bank(flash, bank):
    """The bytes of firmware bank `bank` of a dfota-modem flash file (the
    header layout of host/modem/flashfile.c)."""
    with open(flash, "rb") as f:
        hdr = f.read(4096)
        if hdr[:8] != b"DFOTAMF1":
            raise ModemError("%s is not a dfota-modem flash" % flash)
        w = [int.from_bytes(hdr[8 + 4 * i:12 + 4 * i], "little") for i in range(18)]
        slot = (w[7], w[8])[bank]
        f.seek(4096 + slot)
        return f.read(w[9])


def boot_banks(log_text):
    """Banks that booted at each power-up, from the simulator's log."""
    return [int(b) for b in re.findall(r"power-up: bank (\d) boots", log_text)]


def tmpdir(prefix="dfota-modem-test."):
    return tempfile.mkdtemp(prefix=prefix)
