#!/usr/bin/env python3
"""dfota benchmark: package size, speed and RAM against bsdiff, xdelta3, zstd and xz.

Python 3 standard library only.  See bench/README.md for the columns.

Typical use (from CMake: `make bench`):

    python3 bench/bench.py --dfota build/host/dfota --out build/bench

Exit status: 0 = all dfota packages were produced and round-tripped byte-exact,
1 = some dfota step failed or an applied image differed from new.bin,
2 = usage / setup error (no corpus, no dfota, ...).
Peer failures (bsdiff, xdelta3, zstd, xz) only show up as ERR cells.
"""

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# dfota-4k: A/B with the 4k decoder RAM profile (dfota diff --decoder-ram 4k)
DFOTA_TOOLS = ["dfota-ab", "dfota-ip", "dfota-4k"]
PEERS = ["bsdiff", "xdelta3", "zstd", "xz"]
TOOLS = DFOTA_TOOLS + PEERS
# strong-peers.tsv columns, shown as pseudo tools
SP_BEST3 = "sp-best3"
SP_BEST_ALL = "sp-best-all"

ERR = "ERR"
NA = "-"


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def die(msg):
    """Setup / usage error: exit status 2."""
    log("error: " + msg)
    sys.exit(2)


# --------------------------------------------------------------------------
# running commands


class Run:
    """Outcome of one command: rc (None = could not start / timeout), wall s, max RSS KiB."""

    def __init__(self, rc, wall, rss_kib, out, err):
        self.rc, self.wall, self.rss_kib, self.out, self.err = rc, wall, rss_kib, out, err

    @property
    def ok(self):
        return self.rc == 0

    def why(self):
        if self.rc is None:
            return self.err.strip() or "could not run"
        tail = " ".join(self.err.strip().splitlines()[-3:])
        return "exit %d%s" % (self.rc, (": " + tail) if tail else "")


class Runner:
    def __init__(self, work, timeout):
        self.work = work
        self.timeout = timeout
        self.gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
        if not self.gnu_time:
            log("warning: /usr/bin/time not found, peak RSS will be '-'")
        self._n = 0

    def run(self, cmd, stdout_file=None, measure=True):
        """Run cmd (list).  stdout goes to stdout_file if given, else is captured."""
        cmd = [str(c) for c in cmd]
        self._n += 1
        tfile = os.path.join(self.work, "time.%d" % self._n)
        full = cmd
        if measure and self.gnu_time:
            full = [self.gnu_time, "-o", tfile, "-f", "%e %M"] + cmd
        fout = open(stdout_file, "wb") if stdout_file else subprocess.PIPE
        t0 = time.perf_counter()
        try:
            p = subprocess.run(full, stdout=fout, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return Run(None, None, None, b"", "timeout after %ss" % self.timeout)
        except OSError as e:
            return Run(None, None, None, b"", "cannot run %s: %s" % (cmd[0], e))
        finally:
            if stdout_file:
                fout.close()
        wall = time.perf_counter() - t0
        err = p.stderr.decode("utf-8", "replace")
        rss = None
        if measure and self.gnu_time:
            try:
                with open(tfile) as f:
                    lines = [ln for ln in f.read().splitlines() if ln.strip()]
                os.unlink(tfile)
                # last line is "%e %M"; GNU time prepends "Command exited with non-zero status N"
                rss = int(lines[-1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
        return Run(p.returncode, wall, rss, p.stdout if not stdout_file else b"", err)


def same_file(a, b):
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# results

class Cell:
    """Result of one tool on one pair."""

    def __init__(self):
        self.size = None          # bytes, None = not available
        self.status = NA          # "ok", ERR, NA (not run)
        self.note = ""
        self.diff_s = None
        self.diff_rss = None      # KiB
        self.roundtrip = NA       # "ok", "MISMATCH", ERR, NA
        self.apply_s = None
        self.decoder_ram = None
        self.sector_buffer = None
        self.inspect = None       # raw JSON from dfota inspect
        self.ir = None            # callgrind instruction count of apply

    def fail(self, note):
        self.status = ERR
        self.size = None
        self.note = (self.note + "; " if self.note else "") + note


class Pair:
    def __init__(self, name, old, new, extra=False, synthetic=False):
        self.name, self.old, self.new, self.extra = name, old, new, extra
        self.synthetic = synthetic      # bench/synthetic.py (worst case, big image)
        self.new_size = os.path.getsize(new)
        self.old_size = os.path.getsize(old)
        self.cells = {t: Cell() for t in TOOLS}
        self.sp = None            # (best3, tool3, best_all, tool_all) from strong-peers.tsv


# --------------------------------------------------------------------------
# corpus


def default_corpus():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dfota", "corpus")


def default_corpus_script():
    shared = os.environ.get("DFOTA_SHARED")
    if not shared:
        # <repo>/../shared; from a git worktree, next to the main checkout
        shared = os.path.join(os.path.dirname(REPO), "shared")
        if not os.path.isdir(shared):
            try:
                common = subprocess.run(["git", "-C", REPO, "rev-parse", "--path-format=absolute",
                                         "--git-common-dir"], capture_output=True, text=True,
                                        timeout=30).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                common = ""
            if common:
                shared = os.path.join(os.path.dirname(os.path.dirname(common)), "shared")
    return os.path.join(shared, "corpus", "fetch-corpus.sh")


def default_extra_corpus():
    return os.path.join(os.path.dirname(default_corpus()), "extra")


def load_pairs(corpus, extra):
    out = []
    if os.path.isdir(corpus):
        for n in sorted(os.listdir(corpus)):
            d = os.path.join(corpus, n)
            if os.path.isfile(os.path.join(d, "old.bin")) and os.path.isfile(os.path.join(d, "new.bin")):
                out.append(Pair(n, os.path.join(d, "old.bin"), os.path.join(d, "new.bin"), extra=extra))
    return out


def inside_repo(path):
    p = os.path.realpath(path)
    r = os.path.realpath(REPO)
    return p == r or p.startswith(r + os.sep)


def load_strong_peers(path):
    sp = {}
    if not path or not os.path.isfile(path):
        log("note: strong-peers table %s not found, sp-* columns blank" % path)
        return sp
    with open(path) as f:
        header = f.readline()
        if not header.startswith("pair"):
            log("warning: unexpected header in %s" % path)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 6 or not cols[0]:
                continue
            try:
                sp[cols[0]] = (int(cols[2]), cols[3], int(cols[4]), cols[5])
            except ValueError:
                log("warning: bad line in %s: %r" % (path, line))
    return sp


def parse_extra(spec, optional):
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        die("--extra-pair wants NAME:OLD:NEW, got %r" % spec)
    name, old, new = parts
    missing = [p for p in (old, new) if not os.path.isfile(p)]
    if missing:
        if optional:
            log("note: extra pair %s skipped (%s not built)" % (name, ", ".join(missing)))
            return None
        die("extra pair %s: missing %s" % (name, ", ".join(missing)))
    return Pair(name, os.path.abspath(old), os.path.abspath(new), extra=True)


# --------------------------------------------------------------------------
# peers


def peer_specs(old, new, d):
    """name -> (encode cmd, encode stdout file, patch, decode cmd, decode stdout file, output)"""
    p = lambda n: os.path.join(d, n)
    return {
        "bsdiff": (["bsdiff", old, new, p("bsdiff.patch")], None, p("bsdiff.patch"),
                   ["bspatch", old, p("bsdiff.out"), p("bsdiff.patch")], None, p("bsdiff.out")),
        "xdelta3": (["xdelta3", "-9", "-S", "djw", "-e", "-f", "-s", old, new, p("xdelta3.patch")],
                    None, p("xdelta3.patch"),
                    ["xdelta3", "-d", "-f", "-s", old, p("xdelta3.patch"), p("xdelta3.out")],
                    None, p("xdelta3.out")),
        "zstd": (["zstd", "-q", "-19", "--long=27", "--patch-from=" + old, new,
                  "-o", p("zstd.patch"), "-f"], None, p("zstd.patch"),
                 ["zstd", "-q", "-d", "--long=27", "--memory=2048MB", "--patch-from=" + old,
                  p("zstd.patch"), "-o", p("zstd.out"), "-f"], None, p("zstd.out")),
        "xz": (["xz", "-9e", "-k", "-c", new], p("xz.patch"), p("xz.patch"),
               ["xz", "-d", "-c", p("xz.patch")], p("xz.out"), p("xz.out")),
    }


PEER_BINARIES = {"bsdiff": ["bsdiff", "bspatch"], "xdelta3": ["xdelta3"], "zstd": ["zstd"], "xz": ["xz"]}


def run_peer(runner, name, pair, d):
    c = pair.cells[name]
    missing = [b for b in PEER_BINARIES[name] if not shutil.which(b)]
    if missing:
        c.fail("not installed: " + " ".join(missing))
        return
    enc, enc_out, patch, dec, dec_out, out = peer_specs(pair.old, pair.new, d)[name]
    r = runner.run(enc, stdout_file=enc_out)
    c.diff_s, c.diff_rss = r.wall, r.rss_kib
    if not r.ok or not os.path.isfile(patch):
        c.fail("encode: " + r.why())
        return
    size = os.path.getsize(patch)
    r = runner.run(dec, stdout_file=dec_out, measure=False)
    if not r.ok:
        c.roundtrip = ERR
        c.fail("decode: " + r.why())
        return
    if not same_file(out, pair.new):
        c.roundtrip = "MISMATCH"
        c.fail("round trip differs from new.bin")
        return
    c.roundtrip = "ok"
    c.status = "ok"
    c.size = size
    for f in (patch, out):
        try:
            os.unlink(f)
        except OSError:
            pass


# --------------------------------------------------------------------------
# dfota


class Dfota:
    def __init__(self, args, runner, out):
        self.exe = args.dfota
        self.runner = runner
        self.args = args
        self.key = os.path.join(out, "bench.key")
        self.pub = self.key + ".pub"
        self.failures = []        # messages that make the exit status non-zero
        self.ready = False

    def keygen(self):
        for f in (self.key, self.pub):
            if os.path.exists(f):
                os.unlink(f)
        r = self.runner.run([self.exe, "keygen", "-o", self.key], measure=False)
        if not r.ok:
            self.failures.append("dfota keygen failed: " + r.why())
        elif not (os.path.isfile(self.key) and os.path.isfile(self.pub)):
            self.failures.append("dfota keygen did not write %s and %s" % (self.key, self.pub))
        else:
            self.ready = True
        return self.ready

    def diff_cmd(self, pair, layout, pkg, ram=None):
        cmd = [self.exe, "diff"]
        if ram:
            cmd += ["--decoder-ram", ram]
        if layout == "inplace":
            cmd += ["--layout", "inplace", "--sector-size", str(self.args.sector_size)]
        cmd += ["--from-version", self.args.from_version, "--to-version", self.args.to_version,
                "--key", self.key, "--force", "--input-format", "bin", pair.old, pair.new, "-o", pkg]
        return cmd

    def apply_cmd(self, pair, pkg, out):
        # the pairs are flash images, whatever their bytes look like (rollup-armhf is an ELF file)
        return [self.exe, "apply", "--pub", self.pub, "--input-format", "bin", pair.old, pkg, "-o", out]

    def measure(self, pair, tool, d):
        c = pair.cells[tool]
        layout = "inplace" if tool == "dfota-ip" else "ab"
        if not self.ready:
            c.fail("no key (keygen failed)")
            return
        pkg = os.path.join(d, tool + ".pkg")
        out = os.path.join(d, tool + ".out")
        r = self.runner.run(self.diff_cmd(pair, layout, pkg, "4k" if tool == "dfota-4k" else None))
        c.diff_s, c.diff_rss = r.wall, r.rss_kib
        if not r.ok or not os.path.isfile(pkg):
            c.fail("diff: " + r.why())
            self.failures.append("%s %s: dfota diff failed: %s" % (pair.name, tool, r.why()))
            return
        size = os.path.getsize(pkg)
        # decoder RAM from inspect (failure here is reported, not fatal)
        r = self.runner.run([self.exe, "inspect", "--json", pkg], measure=False)
        if r.ok:
            try:
                j = json.loads(r.out.decode("utf-8", "replace"))
                c.inspect = j
                if isinstance(j, dict):
                    v = j.get("decoder_ram")
                    c.decoder_ram = v if isinstance(v, int) else None
                    v = j.get("sector_buffer")
                    c.sector_buffer = v if isinstance(v, int) else None
            except ValueError as e:
                c.note = "inspect: bad JSON (%s)" % e
        else:
            c.note = "inspect: " + r.why()
        # apply: best of N, every run checked byte-exact
        best = None
        for _ in range(1 if pair.synthetic else max(1, self.args.reps)):
            if os.path.exists(out):
                os.unlink(out)
            r = self.runner.run(self.apply_cmd(pair, pkg, out), measure=False)
            if not r.ok:
                c.roundtrip = ERR
                c.fail("apply: " + r.why())
                self.failures.append("%s %s: dfota apply failed: %s" % (pair.name, tool, r.why()))
                return
            if not same_file(out, pair.new):
                c.roundtrip = "MISMATCH"
                c.fail("apply output differs from new.bin")
                self.failures.append("%s %s: ROUND TRIP MISMATCH (apply output != new.bin)"
                                     % (pair.name, tool))
                return
            best = r.wall if best is None else min(best, r.wall)
        c.roundtrip = "ok"
        c.status = "ok"
        c.size = size
        c.apply_s = best
        if os.path.exists(out):
            os.unlink(out)

    def callgrind(self, pair, d):
        """Instruction count (Ir) of `dfota apply` under callgrind, for both layouts."""
        if not shutil.which("valgrind"):
            return "valgrind not installed"
        lines = []
        for tool in DFOTA_TOOLS[:2]:
            c = pair.cells[tool]
            if c.status != "ok":
                lines.append("%s: skipped (%s)" % (tool, c.note or "no package"))
                continue
            pkg = os.path.join(d, tool + ".pkg")     # the package measured above
            out = os.path.join(d, tool + ".cg.out")
            cgout = os.path.join(d, tool + ".callgrind.%p")
            # --trace-children: a wrapper script around the real binary is counted too
            r = self.runner.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                                 "--callgrind-out-file=" + cgout]
                                + self.apply_cmd(pair, pkg, out), measure=False)
            ir = None
            for ln in r.err.splitlines():
                if "Collected :" in ln:
                    try:
                        ir = (ir or 0) + int(ln.split("Collected :")[1].split()[0])
                    except (ValueError, IndexError):
                        pass
            if not r.ok or ir is None:
                lines.append("%s: callgrind failed: %s" % (tool, r.why()))
                continue
            if not same_file(out, pair.new):
                self.failures.append("%s %s: ROUND TRIP MISMATCH under valgrind" % (pair.name, tool))
                lines.append("%s: MISMATCH" % tool)
                continue
            c.ir = ir
            lines.append("%s: Ir = %d (%.1f instr/byte of new)" % (tool, ir, ir / pair.new_size))
        return "; ".join(lines)


# --------------------------------------------------------------------------
# formatting


def fmt_int(v):
    return NA if v is None else str(v)


def fmt_ratio(v, digits=4):
    return NA if v is None else ("%." + str(digits) + "f") % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def err_cell(c):
    return "MISMATCH" if c.roundtrip == "MISMATCH" else ERR


def size_cell(c):
    if c.status == ERR:
        return err_cell(c)
    return fmt_int(c.size)


def max_ok(pairs, tool, attr):
    xs = [getattr(p.cells[tool], attr) for p in pairs if p.cells[tool].status == "ok"]
    return max([x for x in xs if x is not None], default=None)


def table(headers, rows, left=1):
    """Aligned plain-text table; the first `left` columns are left-aligned."""
    w = [len(h) for h in headers]
    for r in rows:
        for i, v in enumerate(r or ()):
            w[i] = max(w[i], len(v))

    def line(r):
        return "  ".join(v.ljust(w[i]) if i < left else v.rjust(w[i]) for i, v in enumerate(r)).rstrip()

    sep = "  ".join("-" * x for x in w)
    out = [line(headers), sep] + [sep if r is None else line(r) for r in rows]
    return "\n".join(out)


def table_rows_with_summary(rows, summary):
    return rows + [None] + summary if summary else rows


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def best_peer(pair):
    best = None
    for t in PEERS:
        c = pair.cells[t]
        if c.status == "ok" and c.size is not None and (best is None or c.size < best[0]):
            best = (c.size, t)
    return best


def codec_name(c):
    """The codec a dfota package uses (header algorithm id, from inspect)."""
    a = c.inspect.get("algorithm") if isinstance(getattr(c, "inspect", None), dict) else None
    return {1: "DZ1", 2: "DZ2"}.get(a, NA)


def report(pairs, args, env_lines, callgrind_line, failures):
    out = []
    out.append("dfota benchmark  (%s)" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    out.extend("  " + ln for ln in env_lines)
    out.append("")

    # ---- table 1: sizes
    heads = ["pair", "new"] + DFOTA_TOOLS + PEERS + [SP_BEST3, SP_BEST_ALL]
    rows = []
    for p in pairs:
        r = [p.name, str(p.new_size)] + [size_cell(p.cells[t]) for t in TOOLS]
        r += ["%d %s" % (p.sp[0], p.sp[1]) if p.sp else "", "%d %s" % (p.sp[2], p.sp[3]) if p.sp else ""]
        rows.append(r)
    out.append("1. Patch / package size in bytes (dfota sizes include header and signature)")
    out.append(table(heads, rows))
    out.append("")

    # ---- table 2: ratio size/new
    heads = ["pair"] + DFOTA_TOOLS + PEERS + [SP_BEST3, SP_BEST_ALL]
    rows = []
    for p in pairs:
        r = [p.name]
        for t in TOOLS:
            c = p.cells[t]
            r.append(err_cell(c) if c.status == ERR else fmt_ratio(ratio(c.size, p.new_size)))
        r += [fmt_ratio(ratio(p.sp[0], p.new_size)) if p.sp else "",
              fmt_ratio(ratio(p.sp[2], p.new_size)) if p.sp else ""]
        rows.append(r)
    med = ["median"] + [fmt_ratio(median([ratio(p.cells[t].size, p.new_size) for p in pairs]))
                        for t in TOOLS]
    med += [fmt_ratio(median([ratio(p.sp[0], p.new_size) for p in pairs if p.sp])),
            fmt_ratio(median([ratio(p.sp[2], p.new_size) for p in pairs if p.sp]))]
    out.append("2. Ratio = size / size(new.bin)   (smaller is better)")
    out.append(table(heads, table_rows_with_summary(rows, [med])))
    out.append("")

    # ---- table 3: dfota relative to peers, speed, RAM (not with --no-dfota)
    if not args.no_dfota:
        heads = ["pair", "best-run", "ab/run", "ab/sp3", "ab/spall", "ip/ab", "4k/ab",
                 "diff-s", "t/zstd", "RSS-MiB", "rss/zstd", "apply-MB/s", "dec-RAM", "ip-RAM", "4k-RAM", "sect-buf",
                 "codec"]
        rows = []
        cols = {k: [] for k in ("run", "sp3", "spall", "ipab", "k4ab", "t", "rss", "mbps")}
        for p in pairs:
            ab, ip, zs = p.cells["dfota-ab"], p.cells["dfota-ip"], p.cells["zstd"]
            k4 = p.cells["dfota-4k"]
            bp = best_peer(p)
            v = {
                "run": ratio(ab.size, bp[0]) if bp else None,
                "sp3": ratio(ab.size, p.sp[0]) if p.sp else None,
                "spall": ratio(ab.size, p.sp[2]) if p.sp else None,
                "ipab": ratio(ip.size, ab.size),
                "k4ab": ratio(k4.size, ab.size) if k4.status == "ok" else None,
                "t": ratio(ab.diff_s, zs.diff_s) if ab.status == "ok" and zs.status == "ok" else None,
                "rss": ratio(ab.diff_rss, zs.diff_rss) if ab.status == "ok" and zs.status == "ok" else None,
                "mbps": (p.new_size / ab.apply_s / 1e6) if ab.apply_s else None,
            }
            for k in cols:
                cols[k].append(v[k])
            sb = ip.sector_buffer if ip.sector_buffer is not None else ab.sector_buffer
            if ab.status == ERR:
                bad = "MISMATCH" if ab.roundtrip == "MISMATCH" else ERR
                rows.append([p.name, ("%d %s" % bp) if bp else NA, bad] + [NA] * 14)
                continue
            rows.append([
                p.name,
                ("%d %s" % bp) if bp else NA,
                fmt_ratio(v["run"], 3), fmt_ratio(v["sp3"], 3) if p.sp else "",
                fmt_ratio(v["spall"], 3) if p.sp else "", fmt_ratio(v["ipab"], 3),
                fmt_ratio(v["k4ab"], 3),
                fmt_ratio(ab.diff_s, 2), fmt_ratio(v["t"], 2),
                fmt_ratio(ab.diff_rss / 1024, 1) if ab.diff_rss else NA, fmt_ratio(v["rss"], 2),
                fmt_ratio(v["mbps"], 1),
                fmt_int(ab.decoder_ram), fmt_int(ip.decoder_ram if ip.status == "ok" else None),
                fmt_int(k4.decoder_ram if k4.status == "ok" else None), fmt_int(sb),
                "%s/%s" % (codec_name(ab), codec_name(ip)),
            ])
        med = ["median", "", fmt_ratio(median(cols["run"]), 3), fmt_ratio(median(cols["sp3"]), 3),
               fmt_ratio(median(cols["spall"]), 3), fmt_ratio(median(cols["ipab"]), 3),
               fmt_ratio(median(cols["k4ab"]), 3),
               fmt_ratio(median([p.cells["dfota-ab"].diff_s for p in pairs
                                   if p.cells["dfota-ab"].status == "ok"]), 2), fmt_ratio(median(cols["t"]), 2),
               "", fmt_ratio(median(cols["rss"]), 2), fmt_ratio(median(cols["mbps"]), 1), "", "", "", "", ""]
        mx = ["max", "", fmt_ratio(max([x for x in cols["run"] if x is not None], default=None), 3),
              fmt_ratio(max([x for x in cols["sp3"] if x is not None], default=None), 3),
              fmt_ratio(max([x for x in cols["spall"] if x is not None], default=None), 3),
              fmt_ratio(max([x for x in cols["ipab"] if x is not None], default=None), 3),
              fmt_ratio(max([x for x in cols["k4ab"] if x is not None], default=None), 3),
              "", fmt_ratio(max([x for x in cols["t"] if x is not None], default=None), 2),
              "", fmt_ratio(max([x for x in cols["rss"] if x is not None], default=None), 2), "",
              fmt_int(max_ok(pairs, "dfota-ab", "decoder_ram")),
              fmt_int(max_ok(pairs, "dfota-ip", "decoder_ram")),
              fmt_int(max_ok(pairs, "dfota-4k", "decoder_ram")),
              fmt_int(max([x for x in (max_ok(pairs, "dfota-ab", "sector_buffer"),
                                       max_ok(pairs, "dfota-ip", "sector_buffer")) if x is not None],
                          default=None)), ""]
        out.append("3. dfota vs peers (ratios < 1 mean dfota is smaller/faster/leaner)")
        out.append(table(heads, table_rows_with_summary(rows, [med, mx])))
        spall = [x for x in cols["spall"] if x is not None]
        run = [x for x in cols["run"] if x is not None]
        out.append("")
        out.append("   dfota-ab / strong best-of-all: median %s, max %s, pairs where dfota is larger: %d of %d"
                   % (fmt_ratio(median(spall), 3), fmt_ratio(max(spall, default=None), 3),
                      sum(1 for x in spall if x > 1), len(spall)))
        k4 = [x for x in cols["k4ab"] if x is not None]
        out.append("   dfota-4k / dfota-ab (the 4k decoder RAM profile's cost): median %s, max %s over %d pairs"
                   % (fmt_ratio(median(k4), 3), fmt_ratio(max(k4, default=None), 3), len(k4)))
        out.append("   dfota-ab / best peer this run: median %s, max %s, pairs where dfota is larger: %d of %d"
                   % (fmt_ratio(median(run), 3), fmt_ratio(max(run, default=None), 3),
                      sum(1 for x in run if x > 1), len(run)))
        for label, want in (("shared corpus", (False, False)), ("own pairs", (True, False)),
                            ("synthetic", (True, True))):
            sub = [x for p, x in zip(pairs, cols["run"])
                   if x is not None and (p.extra, p.synthetic) == want]
            if sub and len(sub) < len(run):
                out.append("     %-13s: median %s, max %s, larger than the best peer: %d of %d"
                           % (label, fmt_ratio(median(sub), 3), fmt_ratio(max(sub), 3),
                              sum(1 for x in sub if x > 1), len(sub)))
        out.append("")

    # ---- table 4: diff time and RSS per tool
    heads = ["pair"] + TOOLS
    rows = []
    for p in pairs:
        r = [p.name]
        for t in TOOLS:
            c = p.cells[t]
            if c.status == ERR:
                r.append(err_cell(c))
            elif c.diff_s is None:
                r.append(NA)
            else:
                r.append("%.2fs %sM" % (c.diff_s, "%.1f" % (c.diff_rss / 1024) if c.diff_rss else "?"))
        rows.append(r)
    out.append("4. Encode (diff) wall time in seconds and peak RSS in MiB")
    out.append(table(heads, rows))
    out.append("")

    # ---- table 5: the time and memory goals, per tool
    heads = ["pair", "old+new MiB"] + ["%s %s" % (t, k) for t in TOOLS for k in ("t/zstd", "rss/in")]
    rows = []
    worst = {t: [None, None] for t in TOOLS}
    for p in pairs:
        zs = p.cells["zstd"]
        inp = p.old_size + p.new_size
        r = [p.name, "%.1f" % (inp / 1048576.0)]
        for t in TOOLS:
            c = p.cells[t]
            tz = ratio(c.diff_s, zs.diff_s) if c.status == "ok" and zs.status == "ok" else None
            ri = ratio(c.diff_rss * 1024.0, inp) if c.status == "ok" and c.diff_rss else None
            for i, v in enumerate((tz, ri)):
                if v is not None and (worst[t][i] is None or v > worst[t][i]):
                    worst[t][i] = v
            r += [fmt_ratio(tz, 2), fmt_ratio(ri, 1)]
        rows.append(r)
    mx = ["max", ""]
    for t in TOOLS:
        mx += [fmt_ratio(worst[t][0], 2), fmt_ratio(worst[t][1], 1)]
    out.append("5. Goals: encode time / zstd's (t/zstd, goal <= 2) and peak RSS / (old+new) "
               "(rss/in, goal <= 10)")
    out.append(table(heads, table_rows_with_summary(rows, [mx])))
    out.append("")

    if callgrind_line:
        out.append("callgrind: " + callgrind_line)
        out.append("")

    notes = []
    for p in pairs:
        for t in TOOLS:
            c = p.cells[t]
            if c.note:
                notes.append("  %s %s: %s" % (p.name, t, c.note))
    if notes:
        out.append("Notes / errors:")
        out.extend(notes)
        out.append("")
    if failures:
        out.append("FAILED (dfota):")
        out.extend("  " + f for f in failures)
    else:
        out.append("dfota round trips: all byte-exact" if any(
            p.cells["dfota-ab"].status == "ok" for p in pairs) else "dfota: not run")
    return "\n".join(out) + "\n"


def write_tsv(path, pairs):
    heads = ["pair", "tool", "new_bytes", "size_bytes", "ratio", "status", "diff_s", "diff_rss_kib",
             "roundtrip", "apply_s", "apply_mbps", "decoder_ram", "sector_buffer", "apply_ir", "note"]
    with open(path, "w") as f:
        f.write("\t".join(heads) + "\n")
        for p in pairs:
            for t in TOOLS:
                c = p.cells[t]
                row = [p.name, t, p.new_size, fmt_int(c.size), fmt_ratio(ratio(c.size, p.new_size), 6),
                       c.status, fmt_ratio(c.diff_s, 4), fmt_int(c.diff_rss), c.roundtrip,
                       fmt_ratio(c.apply_s, 5),
                       fmt_ratio(p.new_size / c.apply_s / 1e6, 2) if c.apply_s else NA,
                       fmt_int(c.decoder_ram), fmt_int(c.sector_buffer), fmt_int(c.ir),
                       c.note.replace("\t", " ").replace("\n", " ")]
                f.write("\t".join(str(x) for x in row) + "\n")
            if p.sp:
                for t, size, tool in ((SP_BEST3, p.sp[0], p.sp[1]), (SP_BEST_ALL, p.sp[2], p.sp[3])):
                    row = [p.name, t, p.new_size, size, fmt_ratio(size / p.new_size, 6), "ok"] + \
                          [NA] * 8 + ["strong-peers.tsv: " + tool]
                    f.write("\t".join(str(x) for x in row) + "\n")


def gnuplot_terminal():
    try:
        p = subprocess.run(["gnuplot", "-e", "set terminal"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = {ln.split()[0] for ln in p.stdout.decode("utf-8", "replace").splitlines() if ln.strip()}
    for term, ext, opts in (("pngcairo", "png", "size 1400,700 noenhanced"),
                            ("png", "png", "size 1400,700 noenhanced"),
                            ("svg", "svg", "size 1400,700 noenhanced")):
        if term in names:
            return term, ext, opts
    return None


def chart(outdir, pairs):
    term = gnuplot_terminal()
    if not term:
        log("warning: gnuplot not usable, no chart")
        return None
    name, ext, opts = term
    series = TOOLS + [SP_BEST_ALL]
    dat = os.path.join(outdir, "ratios.dat")
    lo = 1.0
    with open(dat, "w") as f:
        f.write("pair\t" + "\t".join(series) + "\n")
        for p in pairs:
            vals = []
            for t in TOOLS:
                r = ratio(p.cells[t].size, p.new_size)
                vals.append("?" if r is None else "%.6f" % r)
                if r:
                    lo = min(lo, r)
            r = ratio(p.sp[2], p.new_size) if p.sp else None
            vals.append("?" if r is None else "%.6f" % r)
            if r:
                lo = min(lo, r)
            f.write(p.name + "\t" + "\t".join(vals) + "\n")
    png = os.path.join(outdir, "ratios." + ext)
    gp = os.path.join(outdir, "ratios.gp")
    ymin = 10 ** math.floor(math.log10(lo))
    with open(gp, "w") as f:
        f.write("""set terminal %s %s
set output '%s'
set title 'dfota benchmark: patch size / new image size (log scale, lower is better)'
set datafile separator '\\t'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [%g:1.5]
set ylabel 'size / new'
set grid ytics
set key outside right top
set xtics rotate by -30 nomirror
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (name, opts, png, ymin, len(series) + 1, dat))
    p = subprocess.run(["gnuplot", gp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        log("warning: gnuplot failed: " + p.stdout.decode("utf-8", "replace").strip())
        return None
    return png


def tool_versions(args):
    def first(cmd):
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=20)
            s = p.stdout.decode("utf-8", "replace").strip().splitlines()
            return s[0].strip(" *").split(", ")[0] if s else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "not found"

    lines = []
    if not args.no_dfota:
        lines.append("dfota: %s" % args.dfota)
    if not args.no_peers:
        v = first(["dpkg-query", "-W", "-f", "${Version}", "bsdiff"])
        lines.append("peers: bsdiff %s | %s | %s | %s" % (
            v, first(["xdelta3", "-V"]), first(["zstd", "-V"]), first(["xz", "-V"])))
    u = os.uname()
    lines.append("host: %s %s %s, %d CPUs" % (u.sysname, u.release, u.machine, os.cpu_count() or 0))
    return lines


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="dfota benchmark against bsdiff/xdelta3/zstd/xz.")
    ap.add_argument("--dfota", help="path to the dfota CLI executable")
    ap.add_argument("--no-dfota", action="store_true", help="skip dfota (peers only)")
    ap.add_argument("--out", help="output directory for bench.txt/.tsv/ratios.png "
                    "(default: $XDG_CACHE_HOME/dfota/bench)")
    ap.add_argument("--corpus", help="corpus cache dir (default: ${XDG_CACHE_HOME:-~/.cache}/dfota/corpus)")
    ap.add_argument("--corpus-script", help="fetch-corpus.sh (default: $DFOTA_SHARED/corpus/"
                    "fetch-corpus.sh, DFOTA_SHARED defaults to <repo>/../shared)")
    ap.add_argument("--strong-peers", help="strong-peers.tsv (default: next to the corpus script)")
    ap.add_argument("--skip-fetch", action="store_true", help="do not run fetch-corpus.sh")
    ap.add_argument("--pairs", help="comma-separated pair names to run (default: all)")
    ap.add_argument("--extra-corpus", help="the own pairs of bench/fetch-extra.py (default: "
                    "${XDG_CACHE_HOME:-~/.cache}/dfota/extra)")
    ap.add_argument("--no-extra-corpus", action="store_true", help="only the shared corpus")
    ap.add_argument("--extra-pair", action="append", default=[], metavar="NAME:OLD:NEW",
                    help="add a pair of image files (repeatable)")
    ap.add_argument("--extra-pair-optional", action="append", default=[], metavar="NAME:OLD:NEW",
                    help="like --extra-pair, silently skipped if a file does not exist")
    ap.add_argument("--synthetic", action="store_true",
                    help="add the synthetic pairs of bench/synthetic.py (50 MB random, 64 MB "
                    "firmware-like; generated into ${XDG_CACHE_HOME:-~/.cache}/dfota/synthetic)")
    ap.add_argument("--synthetic-dir", help="cache for --synthetic (default: "
                    "${XDG_CACHE_HOME:-~/.cache}/dfota/synthetic)")
    ap.add_argument("--synthetic-peers", default="zstd,xdelta3",
                    help="peers run on the synthetic pairs (default zstd,xdelta3: bsdiff and "
                    "xz -9e take minutes there; 'all' for every peer)")
    ap.add_argument("--no-peers", action="store_true", help="do not run bsdiff/xdelta3/zstd/xz")
    ap.add_argument("--callgrind", action="store_true",
                    help="count instructions (Ir) of `dfota apply` under valgrind for one pair")
    ap.add_argument("--callgrind-pair", help="pair for --callgrind (default: first selected pair)")
    ap.add_argument("--reps", type=int, default=3, help="dfota apply repetitions, fastest counts (default 3)")
    ap.add_argument("--sector-size", type=int, default=4096, help="in-place sector size (default 4096)")
    ap.add_argument("--from-version", default="1", help="value for dfota diff --from-version (default 1)")
    ap.add_argument("--to-version", default="2", help="value for dfota diff --to-version (default 2)")
    ap.add_argument("--timeout", type=float, default=1800, help="per-command timeout, s (default 1800)")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary work directory")
    # extra options from the environment, e.g. `DFOTA_BENCH_ARGS="--pairs x --skip-fetch" make bench`
    argv = sys.argv[1:] + shlex.split(os.environ.get("DFOTA_BENCH_ARGS", ""))
    args = ap.parse_args(argv)

    if not args.no_dfota:
        if not args.dfota:
            ap.error("--dfota PATH is required (or --no-dfota)")
        args.dfota = os.path.abspath(args.dfota)
        if not os.access(args.dfota, os.X_OK):
            die("dfota executable %s not found" % args.dfota)
    if args.callgrind and args.no_dfota:
        ap.error("--callgrind needs dfota")

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    outdir = os.path.abspath(args.out or os.path.join(cache, "dfota", "bench"))
    corpus = os.path.abspath(args.corpus or default_corpus())
    script = os.path.abspath(args.corpus_script or default_corpus_script())
    spfile = args.strong_peers or os.path.join(os.path.dirname(script), "strong-peers.tsv")
    extra_corpus = None if args.no_extra_corpus else \
        os.path.abspath(args.extra_corpus or default_extra_corpus())
    if extra_corpus and inside_repo(extra_corpus):
        die("refusing to keep firmware inside the repository (%s)" % extra_corpus)
    if inside_repo(corpus):
        die("refusing to keep the firmware corpus inside the repository (%s); "
                 "use --corpus DIR outside %s" % (corpus, REPO))
    os.makedirs(outdir, exist_ok=True)

    # 1. corpus
    if not args.skip_fetch:
        if not os.path.isfile(script):
            log("warning: corpus script %s not found (set --corpus-script or DFOTA_SHARED); "
                "using what is in %s" % (script, corpus))
        else:
            log("fetching corpus into %s" % corpus)
            p = subprocess.run(["sh", script, corpus], stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                log("warning: fetch-corpus.sh failed (exit %d); using what is in %s"
                    % (p.returncode, corpus))
    if extra_corpus and not args.skip_fetch:
        log("fetching the own pairs into %s" % extra_corpus)
        p = subprocess.run([sys.executable, os.path.join(HERE, "fetch-extra.py"), extra_corpus],
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            log("warning: fetch-extra.py failed (exit %d); using what is in %s"
                % (p.returncode, extra_corpus))
    pairs = load_pairs(corpus, False)
    if extra_corpus:
        pairs += load_pairs(extra_corpus, True)
    if args.synthetic:
        sdir = os.path.abspath(args.synthetic_dir or os.path.join(os.path.dirname(default_corpus()),
                                                                  "synthetic"))
        if inside_repo(sdir):
            die("refusing to keep the synthetic pairs inside the repository (%s)" % sdir)
        p = subprocess.run([sys.executable, os.path.join(HERE, "synthetic.py"), sdir,
                            "--corpus", corpus], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        if p.returncode != 0:
            die("bench/synthetic.py failed (exit %d)" % p.returncode)
        for d in p.stdout.decode().split():
            pairs.append(Pair(os.path.basename(d), os.path.join(d, "old.bin"),
                              os.path.join(d, "new.bin"), extra=True, synthetic=True))
    for spec in args.extra_pair:
        pairs.append(parse_extra(spec, False))
    for spec in args.extra_pair_optional:
        e = parse_extra(spec, True)
        if e:
            pairs.append(e)
    names = [p.name for p in pairs]
    if len(set(names)) != len(names):
        die("duplicate pair names: %s" % names)
    if args.pairs:
        want = [w.strip() for w in args.pairs.split(",") if w.strip()]
        unknown = [w for w in want if w not in names]
        if unknown:
            die("unknown pair(s) %s; available: %s" % (", ".join(unknown), ", ".join(names)))
        pairs = [p for p in pairs if p.name in want]
    if not pairs:
        die("no pairs (corpus %s is empty; run without --skip-fetch?)" % corpus)
    sp = load_strong_peers(spfile)
    for p in pairs:
        if not p.extra:
            p.sp = sp.get(p.name)

    work = tempfile.mkdtemp(prefix="dfota-bench.")
    runner = Runner(work, args.timeout)
    dfota = None
    failures = []
    callgrind_line = None
    t_start = time.perf_counter()
    try:
        if not args.no_dfota:
            dfota = Dfota(args, runner, outdir)
            dfota.keygen()
        for i, p in enumerate(pairs, 1):
            log("[%d/%d] %s (%d -> %d bytes)" % (i, len(pairs), p.name, p.old_size, p.new_size))
            d = os.path.join(work, p.name)
            os.makedirs(d, exist_ok=True)
            if dfota:
                for t in DFOTA_TOOLS:
                    dfota.measure(p, t, d)
                    c = p.cells[t]
                    log("    %-9s %s" % (t, c.size if c.status == "ok" else "ERR " + c.note))
            if not args.no_peers:
                for t in PEERS:
                    if p.synthetic and args.synthetic_peers != "all" and \
                            t not in args.synthetic_peers.split(","):
                        p.cells[t].note = "not run on synthetic pairs (--synthetic-peers)"
                        continue
                    run_peer(runner, t, p, d)
                    c = p.cells[t]
                    log("    %-9s %s" % (t, c.size if c.status == "ok" else "ERR " + c.note))
        if args.callgrind:
            cp = pairs[0]
            if args.callgrind_pair:
                m = [p for p in pairs if p.name == args.callgrind_pair]
                if not m:
                    die("--callgrind-pair %s is not among the selected pairs" % args.callgrind_pair)
                cp = m[0]
            log("callgrind: dfota apply on %s" % cp.name)
            callgrind_line = "dfota apply on %s: %s" % (cp.name, dfota.callgrind(cp, os.path.join(work, cp.name)))
        if dfota:
            failures = dfota.failures
    finally:
        if args.keep_work:
            log("work files kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t_start

    env_lines = tool_versions(args) + ["corpus: %s  (%d pairs)" % (corpus, len(pairs)),
                                       "run time: %.1f s" % elapsed]
    text = report(pairs, args, env_lines, callgrind_line, failures)
    with open(os.path.join(outdir, "bench.txt"), "w") as f:
        f.write(text)
    write_tsv(os.path.join(outdir, "bench.tsv"), pairs)
    png = chart(outdir, pairs)
    sys.stdout.write(text)
    log("wrote %s, %s%s" % (os.path.join(outdir, "bench.txt"), os.path.join(outdir, "bench.tsv"),
                            ", " + png if png else ""))
    if failures:
        log("FAILED: %d dfota failure(s), see above" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
