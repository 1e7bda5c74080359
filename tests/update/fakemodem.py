#!/usr/bin/python3
"""A scripted fake BC20 on a pty: replays byte sequences that the simulator
(dfota-modem) never produces, to test a host driver against them: garbled
and repeated URCs, missing DOWNLOADING, a reboot with no END, a module that
never answers, odd answers to the network checks.

It answers the usual setup commands itself (AT, ATE0/1, ATI, AT+CGMR,
AT+CMEE, AT+CPIN?, AT+CESQ, AT+CEREG?, AT+CGPADDR=1, AT+QFOTADL?) from its
scenario, with echo on until ATE0 as a real module does. After
AT+QFOTADL="..." it sends OK (or the scenario's reply) and then replays the
scenario's steps for that request, byte for byte:

    bytes / str            sent as they are
    {"revision": "A01"}    the revision AT+CGMR / ATI report from now on
    {"reboot": True}       the MT2625 boot banner (lines ending in \\n\\r),
                           +CPIN: READY, +IP: <addr>; echo back on
    {"mute": True}         from now on, answer nothing

Use as a library (tests/update/test_update_fake.py) or on its own:
    fakemodem.py SCENARIO.json [--link PATH]   (prints the pty path)
"""
import json
import os
import pty
import select
import sys
import threading
import tty

BANNER = (b"F1: 0000 0000\n\rV0: 0000 0000 [0001]\n\r00: 0006 000C\n\r"
          b"01: 0000 0000\n\rU0: 0000 0001 [0000]\n\rT0: 0000 00B4\n\rLeaving the BROM\n\r")


def urc(stage, value=None, form="bc20"):
    """One +QIND FOTA URC in the given percent form (bc20 ', N%', plain ',N',
    percent ',N%', or code ',N')."""
    if value is None:
        return '\r\n+QIND: "FOTA","%s"\r\n' % stage
    if form == "bc20":
        v = ", %d%%" % value
    elif form == "percent":
        v = ",%d%%" % value
    else:
        v = ",%d" % value
    return '\r\n+QIND: "FOTA","%s"%s\r\n' % (stage, v)


def full_update(form="bc20", steps=(1, 50, 100), misspelt=False):
    """The URCs of a successful update, then the reboot into A01."""
    out = [urc("HTTPTART" if misspelt else "HTTPSTART")]
    out += [urc("DOWNLOADING", p, form) for p in steps]
    out += [urc("HTTPEND", 0, "code"), urc("START")]
    out += [urc("UPDATING", p, form) for p in steps]
    out += [urc("END", 0, "code"), {"revision": "A01"}, {"reboot": True}]
    return out


class FakeModem:
    def __init__(self, scenario=None, link=None):
        self.sc = dict(scenario or {})
        self.revision = self.sc.get("revision", "A00")
        self.echo = True
        self.mute = bool(self.sc.get("mute", False))
        self.at_count = 0
        self.cereg_n = 0
        self.requests = 0
        self.received = []          # every command line, in order
        self.got_command = threading.Event()   # set at each command line
        self.master, self.slave = pty.openpty()
        # Raw, and one slave fd kept open: the master never sees a hang-up
        # between two clients, and nothing is echoed by the line discipline.
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.link = link
        if link:
            try:
                os.unlink(link)
            except FileNotFoundError:
                pass
            os.symlink(self.path, link)
        self._stop = threading.Event()
        self._buf = b""
        self._thread = threading.Thread(target=self._run, daemon=True)
        if self.sc.get("banner"):
            self._send(self.sc["banner"])

    # -- life --------------------------------------------------------------
    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.link:
            try:
                os.unlink(self.link)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- bytes -------------------------------------------------------------
    def _send(self, data):
        if self.mute:
            return
        if isinstance(data, str):
            data = data.encode("latin-1")
        os.write(self.master, data)

    def _run(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            self._buf += data
            while b"\r" in self._buf:
                line, self._buf = self._buf.split(b"\r", 1)
                line = line.lstrip(b"\n").decode("latin-1")
                if line:
                    self._command(line)

    def _reply(self, text):
        self._send(text)

    def _info(self, *lines):
        self._send("".join("\r\n%s\r\n" % l for l in lines) + "\r\nOK\r\n")

    # -- the module --------------------------------------------------------
    def _command(self, line):
        self.received.append(line)
        self.got_command.set()
        if self.mute:
            return
        if self.echo:
            self._send(line + "\r")
        u = line.upper()
        over = self.sc.get("commands", {})
        if line in over:
            self._send(over[line])
            return
        if u == "AT":
            self.at_count += 1
            if self.at_count > self.sc.get("answer_after", 0):
                self._send("\r\nOK\r\n")
        elif u in ("ATE0", "ATE1"):
            self.echo = u == "ATE1"
            self._send("\r\nOK\r\n")
        elif u.startswith("AT+CMEE="):
            self._send("\r\nOK\r\n")
        elif u == "ATI":
            self._info("Quectel_Ltd", self.sc.get("model", "Quectel_BC20"),
                       "Revision: " + self.revision)
        elif u == "AT+CGMR":
            self._info("Revision: " + self.revision)
        elif u == "AT+CPIN?":
            cpin = self.sc.get("cpin", "READY")
            if cpin is None:
                self._send("\r\n+CME ERROR: 10\r\n")
            else:
                self._info("+CPIN: " + cpin)
        elif u == "AT+CESQ":
            self._info("+CESQ: 99,99,255,255,12,54")
        elif u == "AT+CEREG?":
            seq = self.sc.get("cereg", [1])
            stat = seq[min(self.cereg_n, len(seq) - 1)]
            self.cereg_n += 1
            self._info("+CEREG: 0,%d" % stat)
        elif u == "AT+CGPADDR=1":
            addr = self.sc.get("address", "10.0.0.5")
            self._info("+CGPADDR: 1,%s" % addr if addr else "+CGPADDR: 1")
        elif u == "AT+QFOTADL?":
            self._info(self.sc.get("qfotadl_read", '+QFOTADL: "NONE",0'))
        elif u.startswith("AT+QFOTADL="):
            self.requests += 1
            key = "qfotadl" if self.requests == 1 else "qfotadl_%d" % self.requests
            steps = self.sc.get(key, self.sc.get("qfotadl", []))
            self._send(self.sc.get("qfotadl_reply", "\r\nOK\r\n"))
            self._play(steps)
        else:
            self._send("\r\nERROR\r\n")

    def _play(self, steps):
        for s in steps:
            if isinstance(s, (bytes, str)):
                self._send(s)
            elif s.get("revision"):
                self.revision = s["revision"]
            elif s.get("reboot"):
                self.echo = True
                self._send(BANNER)
                self._send("\r\n+CPIN: READY\r\n\r\n+IP: %s\r\n" % self.sc.get("address", "10.0.0.5"))
            elif s.get("mute"):
                self.mute = True


def main():
    args = sys.argv[1:]
    link = None
    if "--link" in args:
        i = args.index("--link")
        link = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.stderr.write("usage: fakemodem.py SCENARIO.json [--link PATH]\n")
        return 2
    with open(args[0]) as f:
        sc = json.load(f)
    fm = FakeModem(sc, link).start()
    print(fm.path, flush=True)
    try:
        fm._thread.join()
    except KeyboardInterrupt:
        pass
    fm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
