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
