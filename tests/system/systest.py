"""Small harness shared by dfota's system tests (run by /usr/bin/python3).

main(timeout): runs the unittest cases of the calling script with a hard
deadline (SIGALRM raises TimeoutError in the main thread, so with-blocks and
atexit stop every server and simulator the test started), and prints the
figures tests record with figure().
"""

import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

_figures = []


def figure(name, value, unit=""):
    """Record a measured figure; printed at the end (and to $DFOTA_FIGURES)."""
    _figures.append((name, value, unit))
    print("figure: %s = %s %s" % (name, value, unit), flush=True)


def _alarm(signum, frame):
    raise TimeoutError("system test deadline reached")


def main(timeout=240):
    """unittest.main() with a deadline of `timeout` seconds (override with
    $DFOTA_SYSTEST_TIMEOUT)."""
    timeout = int(os.environ.get("DFOTA_SYSTEST_TIMEOUT", timeout))
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    prog = unittest.main(exit=False, verbosity=2)
    signal.alarm(0)
    if _figures and os.environ.get("DFOTA_FIGURES"):
        with open(os.environ["DFOTA_FIGURES"], "a") as f:
            for n, v, u in _figures:
                f.write("%s\t%s\t%s\n" % (n, v, u))
    ok = prog.result.wasSuccessful() and prog.result.testsRun > 0
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------- a base case

import shutil  # noqa: E402
import tempfile  # noqa: E402


class SysCase(unittest.TestCase):
    """A test case with a temp dir, the build's tools and a release key.
    Modems made with self.modem() stop after each test."""

    @classmethod
    def setUpClass(cls):
        from modem import Tools
        cls.tmp = tempfile.mkdtemp(prefix="dfota-sys.")
        cls._class_objs = []
        # runs even when a setUpClass (of this class or a subclass) fails
        cls.addClassCleanup(cls._cleanup)
        cls.tools = Tools(workdir=cls.tmp)
        if not cls.tools.have_modem():
            raise unittest.SkipTest("no dfota-modem in this build: " + cls.tools.modem)
        cls.key = cls.tools.keygen("release")

    @classmethod
    def _cleanup(cls):
        for o in reversed(cls._class_objs):
            o.close()
        if os.environ.get("DFOTA_KEEP_TMP"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self._objs = []

    def tearDown(self):
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self) if hasattr(self, "_outcome") else False
        for o in reversed(self._objs):
            if failed and hasattr(o, "log_tail"):
                print("---- %s log:\n%s" % (o.name, o.log_text()[-6000:]))
            o.close()

    def modem(self, name, firmware, revision, args=()):
        from modem import Modem
        m = Modem(self.tools, self.tmp, "%s-%s" % (self._testMethodName, name), firmware=firmware,
                  revision=revision, args=args)
        self._objs.append(m)
        return m

    @classmethod
    def keep(cls, obj):
        """Close obj with the class (servers shared by the tests)."""
        cls._class_objs.append(obj)
        return obj
