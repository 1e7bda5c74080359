#!/usr/bin/python3
"""dfota update against the scripted fake module (fakemodem.py): the byte
sequences the simulator never produces, and every failure path's exit code
and message.

    test_update_fake.py DFOTA [CASE...]     (no CASE: all of them)

Every wait has a timeout; the fake module and any HTTP server run in this
process and are stopped on the way out, also on failure."""
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakemodem import FakeModem, full_update, urc  # noqa: E402

DFOTA = None
# Loopback, a port nothing listens on: the fake module never fetches it, and
# the driver's own header fetch after END 254 is refused at once.
URL = "http://127.0.0.1:1/a00-a01.pkg"


class Fail(Exception):
    pass


def check(cond, what, res=None):
    if not cond:
        extra = ""
        if res is not None:
            extra = "\n--- exit %s\n--- stdout\n%s--- stderr\n%s" % (res.returncode, res.stdout, res.stderr)
        raise Fail(what + extra)


def run(fm, *args, timeout=60, url=URL):
    cmd = [DFOTA, "update", "--port", fm.path] + list(args) + ([url] if url else [])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def expect(res, code, *texts, out=None):
    check(res.returncode == code, "exit %d expected" % code, res)
    for t in texts:
        check(t in res.stderr or t in res.stdout, "%r not in the output" % t, res)
    for t in out or ():
        check(t in res.stdout, "%r not on stdout" % t, res)


# ---- success paths --------------------------------------------------------------

def case_guide_forms():
    """Echo on, a boot banner and stray URCs before sync, the ', N%' form."""
    sc = {"banner": "\r\n+CEREG: 1\r\nF1: 0000 0000\n\r\xff\x00\r\n", "answer_after": 2,
          "qfotadl": full_update("bc20", misspelt=True)}
    with FakeModem(sc) as fm:
        res = run(fm)
        expect(res, 0, out=["module: Quectel_BC20, revision A00", "download 100%",
                            "update 100%", "done: the module runs A01 (was A00)"])
        check("ATE0" in fm.received and "AT+CGPADDR=1" in fm.received, "setup commands", res)
        check(fm.received.count('AT+QFOTADL="%s"' % URL) == 1, "one request", res)


def case_plain_and_percent_forms():
    for form in ("plain", "percent"):
        with FakeModem({"qfotadl": full_update(form)}) as fm:
            expect(run(fm), 0, out=["download 50%", "done: the module runs A01"])
    # ",1%,1,1": extra trailing fields
    steps = [urc("HTTPSTART"), '\r\n+QIND: "FOTA","DOWNLOADING",40%,1,1\r\n', urc("HTTPEND", 0, "code"),
             urc("START"), '\r\n+QIND: "FOTA","UPDATING",60%,1,1\r\n', urc("END", 0, "code"),
             {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 0, out=["download 40%", "update 60%", "done"])


def case_garbled_and_repeated():
    """Garbled, repeated and unknown-stage URCs are logged and survived; only
    a well-formed END with its code decides."""
    steps = [urc("HTTPSTART"), urc("HTTPSTART"), urc("DOWNLOADING", 10), urc("DOWNLOADING", 10),
             '\r\n+QIND: "FOTA","DOWNLO\x01\r\n', '\r\n+QIND: "FOTA","DOWNLOADING", 250%\r\n',
             urc("DOWNLOADING", 5),              # backwards: ignored
             urc("DOWNLOADING", 100), urc("HTTPEND", 0, "code"), urc("HTTPEND", 0, "code"),
             urc("START"), '\r\n+QIND: "FOTA","CHECKING"\r\n',
             '\r\n+QIND: "FOTA","END"\r\n',        # END without its code: not success
             '\r\n+QIND: "FOTA","ENDX",0\r\n',     # not END
             urc("UPDATING", 100), urc("END", 0, "code"), urc("END", 0, "code"),
             {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        res = run(fm)
        expect(res, 0, "ignored a garbled FOTA URC", "unknown FOTA stage \"CHECKING\"",
               "unknown FOTA stage \"ENDX\"", out=["done: the module runs A01"])
        check("download 5%" not in res.stdout, "progress never goes back", res)


def case_ip_urc_is_not_a_reboot():
    """+IP: (the network back after an outage) and +CEREG: URCs mid-download
    are no restart: the driver does not ask again."""
    steps = [urc("HTTPSTART"), urc("DOWNLOADING", 10), "\r\n+CEREG: 2\r\n", "\r\n+CEREG: 1\r\n",
             "\r\n+IP: 10.0.0.5\r\n", urc("DOWNLOADING", 100)] + full_update()[-7:]
    with FakeModem({"qfotadl": steps}) as fm:
        res = run(fm)
        expect(res, 0, out=["done: the module runs A01"])
        check(fm.requests == 1 and "the module restarted\n" not in res.stdout.split("END 0")[0],
              "no restart seen before END", res)


def case_missing_downloading():
    steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("END", 0, "code"),
             {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 0, out=["download complete", "done: the module runs A01"])


def case_missing_httpstart_and_start():
    steps = [urc("DOWNLOADING", 30), urc("HTTPEND", 0, "code"), urc("UPDATING", 30),
             urc("END", 0, "code"), {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 0, out=["done: the module runs A01"])


def case_reboot_without_end():
    steps = [urc("HTTPSTART"), urc("DOWNLOADING", 100), urc("HTTPEND", 0, "code"), urc("START"),
             urc("UPDATING", 40), {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 0, "the module restarted", out=["done: the module runs A01"])


def case_reboot_without_end_unchanged():
    steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("UPDATING", 40),
             {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 15, "still runs A00", "no END code was seen")


def case_reboot_then_forced_upgrade():
    """A cut while UPDATING: the module restarts, carries on by itself."""
    steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("UPDATING", 40),
             {"reboot": True}, urc("START"), urc("UPDATING", 60), urc("UPDATING", 100),
             urc("END", 0, "code"), {"revision": "A01"}, {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 0, "forced upgrade", out=["done: the module runs A01"])


def case_reboot_during_download_asks_again():
    first = [urc("HTTPSTART"), urc("DOWNLOADING", 20), {"reboot": True}]
    sc = {"qfotadl": first, "qfotadl_2": full_update()}
    with FakeModem(sc) as fm:
        res = run(fm)
        expect(res, 0, "asking again", out=["done: the module runs A01"])
        check(fm.requests == 2, "AT+QFOTADL sent twice", res)


def case_tty_progress():
    """On a terminal: two progress bars redrawn in place with CR."""
    import pty as ptymod
    import select as sel
    with FakeModem({"qfotadl": full_update(steps=(10, 50, 100))}) as fm:
        master, slave = ptymod.openpty()
        try:
            p = subprocess.Popen([DFOTA, "update", "--port", fm.path, URL], stdout=slave,
                                 stderr=subprocess.PIPE, text=True)
            os.close(slave)
            slave = -1
            out, end = b"", time.monotonic() + 60
            while time.monotonic() < end:
                r, _, _ = sel.select([master], [], [], 0.5)
                if r:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
            rc = p.wait(10)
            text = out.decode(errors="replace")
            check(rc == 0, "exit 0 on a tty:\n" + text + p.stderr.read())
            for t in ("\rdownload [####", "\rupdate   [####", "] 100%", "done: the module runs A01"):
                check(t in text, "%r on the terminal:\n%r" % (t, text))
            check("download 10%\n" not in text.replace("\r\n", "\n"), "no plain lines on a tty")
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)


def case_reboot_between_httpend_and_start():
    """Downloaded, then a restart and no forced upgrade: asked again."""
    first = [urc("HTTPSTART"), urc("DOWNLOADING", 100), urc("HTTPEND", 0, "code"), {"reboot": True}]
    with FakeModem({"qfotadl": first, "qfotadl_2": full_update()}) as fm:
        res = run(fm)
        expect(res, 0, "asking again", out=["done: the module runs A01"])
        check(fm.requests == 2, "AT+QFOTADL sent twice", res)


def case_json():
    with FakeModem({"qfotadl": full_update("plain")}) as fm:
        res = run(fm, "--json")
        check(res.returncode == 0, "exit 0", res)
        evs = [json.loads(l) for l in res.stdout.splitlines()]
        kinds = [e["event"] for e in evs]
        for k in ("port", "module", "network", "request", "fota", "reboot", "done"):
            check(k in kinds, "json event %s" % k, res)
        stages = [e["stage"] for e in evs if e["event"] == "fota"]
        check(stages[0] == "HTTPSTART" and stages[-1] == "END", "stages in order", res)
        done = evs[-1]
        check(done["event"] == "done" and done["old_revision"] == "A00" and
              done["new_revision"] == "A01" and done["err"] == 0 and done["http_err"] == 0,
              "done object", res)
    with FakeModem({"qfotadl": [urc("HTTPSTART"), urc("HTTPEND", 12, "code")]}) as fm:
        res = run(fm, "--json")
        last = json.loads(res.stdout.splitlines()[-1])
        check(res.returncode == 12 and last["event"] == "error" and last["exit"] == 12 and
              last["http_err"] == 12, "json error object", res)


def case_expect_revision():
    with FakeModem({"qfotadl": full_update()}) as fm:
        expect(run(fm, "--expect-revision", "A01"), 0)
    with FakeModem({"qfotadl": full_update()}) as fm:
        expect(run(fm, "--expect-revision", "A02"), 15, "now runs A01, not the expected A02")


# ---- failure paths ----------------------------------------------------------------

def case_never_answers():
    with FakeModem({"mute": True}) as fm:
        res = run(fm, timeout=60)
        expect(res, 10, "no answer from the module", "--baud")
        check(fm.received.count("AT") == 10, "ten tries of AT", res)


def case_no_sim():
    with FakeModem({"cpin": "SIM PIN"}) as fm:
        expect(run(fm), 11, "SIM is not ready", "SIM PIN")
    with FakeModem({"cpin": None}) as fm:
        expect(run(fm), 11, "SIM is not ready")


def case_not_registered():
    with FakeModem({"cereg": [2]}) as fm:
        expect(run(fm, "--net-timeout", "2"), 11, "not registered on the network", "searching")
    with FakeModem({"cereg": [3]}) as fm:
        expect(run(fm), 11, "registration denied")
    # registers on the third poll: waits, then goes on
    with FakeModem({"cereg": [2, 2, 5], "qfotadl": full_update()}) as fm:
        expect(run(fm), 0, out=["registered (roaming)"])


def case_no_address():
    with FakeModem({"address": None}) as fm:
        expect(run(fm, "--net-timeout", "2"), 11, "no IP address", "APN")


def case_download_failed():
    for code, text in ((12, "HTTP(S) download failed"), (13, "network deactivated"),
                       (20, "network activating"), (701, "unknown download error")):
        with FakeModem({"qfotadl": [urc("HTTPSTART"), urc("DOWNLOADING", 3),
                                    urc("HTTPEND", code, "code")]}) as fm:
            expect(run(fm), 12, "HTTPEND %d" % code, text)


def case_substring_trap():
    """HTTPSTART is not START and HTTPEND,12 is not END: a download failure
    never passes for success."""
    with FakeModem({"qfotadl": [urc("HTTPSTART"), urc("HTTPEND", 12, "code"),
                                {"revision": "A01"}]}) as fm:
        expect(run(fm), 12, "download failed")


def case_update_failed():
    for code, exit_text in ((254, "rebuild the package with `dfota diff --from-version A00`"),
                            (255, "dfota verify"), (2, "another update runs"),
                            (1, "unknown error")):
        steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("END", code, "code")]
        with FakeModem({"qfotadl": steps}) as fm:
            expect(run(fm), 13, "END %d" % code, exit_text)


def case_busy_right_away():
    with FakeModem({"qfotadl": [urc("END", 2, "code")]}) as fm:
        expect(run(fm), 13, "END 2", "FOTA is busy")
    # the URC queued before the command's OK
    with FakeModem({"qfotadl_reply": urc("END", 2, "code") + "\r\nOK\r\n"}) as fm:
        expect(run(fm), 13, "END 2", "FOTA is busy")


def case_refused():
    with FakeModem({"qfotadl_reply": "\r\n+CME ERROR: 3\r\n"}) as fm:
        expect(run(fm), 12, "refused AT+QFOTADL (+CME ERROR: 3)")
    with FakeModem({"qfotadl_reply": "\r\nERROR\r\n"}) as fm:
        expect(run(fm), 12, "refused AT+QFOTADL (ERROR)")


def case_unchanged():
    steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("END", 0, "code"),
             {"reboot": True}]
    with FakeModem({"qfotadl": steps}) as fm:
        expect(run(fm), 15, "still runs A00")


def case_timeout():
    with FakeModem({"qfotadl": [urc("HTTPSTART"), urc("DOWNLOADING", 7)]}) as fm:
        expect(run(fm, "--timeout", "3"), 14, "timed out", "downloading", "download 7%")


def case_usage_and_port():
    res = subprocess.run([DFOTA, "update", URL], capture_output=True, text=True, timeout=10)
    expect(res, 2, "--port DEVICE or --tcp")
    res = subprocess.run([DFOTA, "update", "--port", "/dev/null", "ftp://x/y"], capture_output=True,
                         text=True, timeout=10)
    expect(res, 2, "not a URL the module takes")
    res = subprocess.run([DFOTA, "update", "--port", "/dev/null", "http://" + "a" * 250],
                         capture_output=True, text=True, timeout=10)
    expect(res, 2, "at most 255 bytes")
    res = subprocess.run([DFOTA, "update", "--port", "/nonexistent/tty", URL],
                         capture_output=True, text=True, timeout=10)
    expect(res, 3, "cannot open /nonexistent/tty")
    res = subprocess.run([DFOTA, "update", "--port", "/dev/null", URL], capture_output=True,
                         text=True, timeout=10)
    expect(res, 3, "not a serial port")
    res = subprocess.run([DFOTA, "update", "--port", "/dev/null", "--baud", "1234", URL],
                         capture_output=True, text=True, timeout=10)
    expect(res, 2, "--baud")
    res = subprocess.run([DFOTA, "update", "--help"], capture_output=True, text=True, timeout=10)
    expect(res, 0, "exit codes:")


def read_until(stream, text, timeout):
    """Read lines from a pipe until one holds text; bounded."""
    got = []
    end = time.monotonic() + timeout

    def reader():
        for line in stream:
            got.append(line)
            if text in line:
                return
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(max(0.0, end - time.monotonic()))
    return any(text in l for l in got), "".join(got)


def case_ctrl_c():
    """First Ctrl-C: the module goes on by itself; the second exits (130)."""
    with FakeModem({"qfotadl": [urc("HTTPSTART"), urc("DOWNLOADING", 3)]}) as fm:
        p = subprocess.Popen([DFOTA, "update", "--port", fm.path, URL], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            ok, out = read_until(p.stdout, "download started", 30)
            check(ok, "download started before Ctrl-C:\n" + out)
            p.send_signal(signal.SIGINT)
            ok, err = read_until(p.stderr, "Press Ctrl-C again", 10)
            check(ok, "first Ctrl-C explains:\n" + err)
            check("goes on with the update by itself" in err, "first Ctrl-C message:\n" + err)
            check(p.poll() is None, "still running after the first Ctrl-C")
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
            check(rc == 130, "exit 130 after the second Ctrl-C, got %s" % rc)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
    # Before the request, one Ctrl-C is enough: nothing was started.
    with FakeModem({"mute": True}) as fm:
        p = subprocess.Popen([DFOTA, "update", "--port", fm.path, URL], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            check(fm.got_command.wait(10), "the driver sent AT")
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
            check(rc == 130 and "nothing was asked" in p.stderr.read(), "one Ctrl-C in setup")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)


# ---- --check-url against a local HTTP server (python's http.server) ---------------

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def serve(directory):
    h = lambda *a, **k: Quiet(*a, directory=directory, **k)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def make_package(d, src_ver, dst_ver, tiny=False):
    a, b = os.path.join(d, "a.bin"), os.path.join(d, "b.bin")
    data = bytes((i * 7919) >> 3 & 0xff for i in range(20000))
    with open(a, "wb") as f:
        f.write(data)
    with open(b, "wb") as f:
        # tiny: 4 bytes changed, a package shorter than the 312 bytes --check-url asks for
        f.write(data[:5000] + (b"tiny" if tiny else b"new code" * 100) + data[5004 if tiny else 5800:])
    out = os.path.join(d, "%s%s-%s.pkg" % ("tiny-" if tiny else "", src_ver, dst_ver))
    subprocess.run([DFOTA, "diff", "--force", "--from-version", src_ver, "--to-version", dst_ver, a, b, "-o", out],
                   check=True, capture_output=True, timeout=120)
    return out


def case_check_url():
    with tempfile.TemporaryDirectory() as d:
        make_package(d, "A00", "A01")
        make_package(d, "A07", "A08")
        tiny = make_package(d, "A00", "A01", tiny=True)
        check(os.path.getsize(tiny) < 312, "a package shorter than the Range asked", None)
        with open(os.path.join(d, "junk.pkg"), "wb") as f:
            f.write(b"<html>not a package</html>" * 20)
        with open(os.path.join(d, "A00-A01.pkg"), "rb") as f:
            whole = f.read()
        with open(os.path.join(d, "short.pkg"), "wb") as f:
            f.write(whole[:len(whole) - 10])
        srv = serve(d)
        base = "http://127.0.0.1:%d/" % srv.server_address[1]
        try:
            with FakeModem({"qfotadl": full_update()}) as fm:
                res = run(fm, "--check-url", url=base + "A00-A01.pkg")
                expect(res, 0, out=["package: A00 -> A01", "done: the module runs A01"])
            with FakeModem({"qfotadl": full_update()}) as fm:
                res = run(fm, "--check-url", url=base + "tiny-A00-A01.pkg")
                expect(res, 0, out=["package: A00 -> A01", "done: the module runs A01"])
            with FakeModem({"qfotadl": full_update()}) as fm:
                res = run(fm, "--check-url", url=base + "A07-A08.pkg")
                expect(res, 5, "the package was built for A07, the module runs A00: rebuild it "
                               "with `dfota diff")
                check(fm.requests == 0, "no request for a wrong package", res)
            with FakeModem({"revision": "A08"}) as fm:
                res = run(fm, "--check-url", url=base + "A07-A08.pkg")
                expect(res, 0, out=["already runs A08, the package's target; nothing to do"])
                check(fm.requests == 0, "no request when already on the target", res)
            with FakeModem({}) as fm:
                expect(run(fm, "--check-url", url=base + "missing.pkg"), 12, "HTTP 404")
            with FakeModem({}) as fm:
                expect(run(fm, "--check-url", url=base + "junk.pkg"), 4, "does not serve a dfota package")
            with FakeModem({}) as fm:
                expect(run(fm, "--check-url", url=base + "short.pkg"), 4, "upload it again")
            # without --check-url, END 254 still names both versions when the URL is reachable
            steps = [urc("HTTPSTART"), urc("HTTPEND", 0, "code"), urc("START"), urc("END", 254, "code")]
            with FakeModem({"qfotadl": steps}) as fm:
                expect(run(fm, url=base + "A07-A08.pkg"), 13,
                       "the package was built for A07, the module runs A00: rebuild it with `dfota diff` from A00")
        finally:
            srv.shutdown()
            srv.server_close()


CASES = {k[5:]: v for k, v in sorted(globals().items()) if k.startswith("case_")}


def main():
    global DFOTA
    if len(sys.argv) < 2:
        sys.stderr.write("usage: test_update_fake.py DFOTA [CASE...]\ncases: %s\n" % " ".join(CASES))
        return 2
    DFOTA = os.path.abspath(sys.argv[1])
    names = sys.argv[2:] or list(CASES)
    failed = 0
    for n in names:
        t0 = time.monotonic()
        try:
            CASES[n]()
            print("ok   %-36s %.1fs" % (n, time.monotonic() - t0), flush=True)
        except (Fail, subprocess.TimeoutExpired) as e:
            failed += 1
            print("FAIL %s: %s" % (n, e), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
