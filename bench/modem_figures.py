"""dfota-modem figures (a measurement, not a test): AT+QFOTADL OK latency,
DOWNLOADING URC count and spacing, download time on a simulated link
against package bytes x 8 / rate, CPU of idle and updating modules.

    make modem-figures          (or:)
    DFOTA_MODEM=build/dfota-modem DFOTA_CLI=build/dfota \
        /usr/bin/python3 bench/modem_figures.py [--fleet 50] [--quick]

Loopback only: nginx from tests/system/servers.py, the simulators on ptys.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "modem"))
from modemlib import Modem, firmware_pair, make_package, tmpdir, write  # noqa: E402
from servers import Nginx  # noqa: E402

Q = rb'\r\n\+QIND: "FOTA",'
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime + stime


def ok_latency(d, ng, fw, url, reps):
    out = []
    base = os.path.join(d, "lat-base.flash")
    with Modem(base, [], firmware=fw, revision="R1") as m:
        m.boot()
    for i in range(reps):
        flash = os.path.join(d, "lat.flash")
        shutil.copyfile(base, flash)
        with Modem(flash, []) as m:
            m.boot()
            line = ('AT+QFOTADL="%s"\r' % url).encode()
            m.ser.write(line)
            t = time.monotonic()
            m.expect(rb'\r\nOK\r\n', 5)
            out.append((time.monotonic() - t) * 1000)
            m.expect(Q + rb'"END",0\r\n', 60)
    return out


def link_run(d, fw, url, pkg_len, kbps, latency):
    flash = os.path.join(d, "link.flash")
    if os.path.exists(flash):
        os.unlink(flash)
    args = ["--link-kbps", str(kbps), "--latency-ms", str(latency)]
    with Modem(flash, args, firmware=fw, revision="R1") as m:
        m.boot()
        c0 = cpu_s(m.proc.pid)
        m.send('AT+QFOTADL="%s"\r' % url)
        m.expect(rb'\r\nOK\r\n', 5)
        t0 = time.monotonic()
        stamps = []
        while True:
            mm = m.expect(Q + rb'"(DOWNLOADING|HTTPEND)",[^\r]*\r\n', 3600)
            if mm.group(1) == b"HTTPEND":
                t_end = time.monotonic()
                break
            stamps.append(time.monotonic())
        m.expect(Q + rb'"END",0\r\n', 120)
        m.boot()
        cpu = cpu_s(m.proc.pid) - c0
        wall = time.monotonic() - t0
    ideal = pkg_len * 8 / (kbps * 1000.0)
    gaps = [b - a for a, b in zip([t0] + stamps, stamps)]
    return {
        "kbps": kbps, "latency_ms": latency, "bytes": pkg_len,
        "download_s": t_end - t0, "ideal_s": ideal,
        "ratio": (t_end - t0) / ideal,
        "ratio_minus_latency": (t_end - t0 - 2 * latency / 1000.0) / ideal,
        "urcs": len(stamps), "gap_max_s": max(gaps) if gaps else 0,
        "gap_median_s": statistics.median(gaps) if gaps else 0,
        "cpu_s": cpu, "wall_s": wall,
    }


def idle_fleet(d, fw, n, seconds):
    base = os.path.join(d, "fleet-base.flash")
    with Modem(base, [], firmware=fw, revision="R1") as m:
        m.boot()
    fleet = []
    try:
        for i in range(n):
            flash = os.path.join(d, "fleet%d.flash" % i)
            shutil.copyfile(base, flash)
            m = Modem(flash, [])
            fleet.append(m)
        for m in fleet:
            m.boot()
        c0 = [cpu_s(m.proc.pid) for m in fleet]
        time.sleep(seconds)   # the measurement window itself, not a synchronisation
        c1 = [cpu_s(m.proc.pid) for m in fleet]
    finally:
        for m in fleet:
            m.close()
    return sum(b - a for a, b in zip(c0, c1)), n, seconds


def updating_fleet(d, fw, url, n, kbps):
    """n modules download and apply the package at the same time."""
    base = os.path.join(d, "upd-base.flash")
    if not os.path.exists(base):
        with Modem(base, [], firmware=fw, revision="R1") as m:
            m.boot()
    fleet = []
    try:
        for i in range(n):
            flash = os.path.join(d, "upd%d.flash" % i)
            shutil.copyfile(base, flash)
            fleet.append(Modem(flash, ["--link-kbps", str(kbps)]))
        for m in fleet:
            m.boot()
        c0 = [cpu_s(m.proc.pid) for m in fleet]
        t0 = time.monotonic()
        for m in fleet:
            m.send('AT+QFOTADL="%s"\r' % url)
        for m in fleet:
            m.expect(Q + rb'"END",0\r\n', 600)
            m.boot()
        wall = time.monotonic() - t0
        c1 = [cpu_s(m.proc.pid) for m in fleet]
    finally:
        for m in fleet:
            m.close()
    return sum(b - a for a, b in zip(c0, c1)), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fleet", type=int, default=50)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="fewer and shorter runs")
    a = ap.parse_args()
    d = tmpdir("dfota-modem-figures.")
    try:
        with Nginx() as ng:
            old, new = firmware_pair(size=400000, seed=11, grow=30000)
            fw = write(os.path.join(d, "R1.bin"), old)
            pkg = make_package(d, old, new, "R1", "R2")
            url = ng.put("pkg.bin", pkg)
            print("package: %d bytes (firmware %d -> %d bytes)" % (len(pkg), len(old), len(new)))

            lat = ok_latency(d, ng, fw, url, 3 if a.quick else a.reps)
            print("AT+QFOTADL OK latency: median %.2f ms, max %.2f ms over %d" %
                  (statistics.median(lat), max(lat), len(lat)))

            runs = [(256, 0), (1000, 50)] if a.quick else [(26, 800), (26, 0), (256, 100), (2000, 20)]
            for kbps, latency in runs:
                r = link_run(d, fw, url, len(pkg), kbps, latency)
                print("link %(kbps)d kbit/s, RTT %(latency_ms)d ms: download %(download_s).2f s, "
                      "bytes*8/rate %(ideal_s).2f s, ratio %(ratio).3f (%(ratio_minus_latency).3f "
                      "without 2 RTT); %(urcs)d DOWNLOADING URCs, gaps median %(gap_median_s).2f s "
                      "max %(gap_max_s).2f s; CPU %(cpu_s).2f s over %(wall_s).1f s (download + "
                      "update + reboot)" % r)

            n = 5 if a.quick else a.fleet
            cpu, wall = updating_fleet(d, fw, url, n, 26)
            print("updating: %d modules at 26 kbit/s at once, download + update + reboot in %.1f s: "
                  "%.2f CPU s in all, %.3f%% of a core per updating module" %
                  (n, wall, cpu, 100.0 * cpu / n / wall))
            cpu, n, secs = idle_fleet(d, fw, n, 5 if a.quick else a.idle_seconds)
            print("idle: %d modules used %.3f CPU s in %.0f s: %.4f%% of a core per module" %
                  (n, cpu, secs, 100.0 * cpu / n / secs))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
