"""Real HTTP servers for dfota's system tests: nginx (origin) and varnish (CDN).

Every server here is an unmodified Debian package (nginx-light, varnish)
started with its own configuration, prefix, temp dirs, pid file and logs in
a private temp dir, listening on free 127.0.0.1 ports. Nothing on the server
side is home-made: the "bad server" behaviours are nginx configuration
(limit_rate, the echo module's sleep, a lying Content-Length made with the
addition filter, error_page, return 302) or signals to nginx's own processes
(SIGKILL of a worker drops every connection; SIGSTOP freezes it).

Usage (python3 = /usr/bin/python3, Debian's):

    from servers import Nginx, Varnish, Pki

    with Nginx(https=True) as ng:           # HTTP + HTTPS, a CA made now
        ng.put("pkg.bin", data)             # atomic; a new ETag each time
        url = ng.url("pkg.bin")             # http://127.0.0.1:PORT/pkg.bin
        surl = ng.url("pkg.bin", https=True)
        slow = ng.url("rate/20k/pkg.bin")   # limit_rate 20 KiB/s
        ng.pki.ca_cert, ng.pki.wrong_ca_cert  # CA files for the client side
        with Varnish(ng) as cdn:
            cdn.url("pkg.bin")              # through the cache
        ng.bytes_served("/pkg.bin")         # from nginx's access log

URL paths nginx serves (all from the fixture's www dir, ETag and
Accept-Ranges as nginx does for static files, Cache-Control max-age=3600):

    /<file>                          the file
    /rate/<r>/<file>                 limit_rate <r> (e.g. 20k, 1m, 512)
    /after/<n>/<r>/<file>            full speed for <n> bytes, then <r>
    /cl/<n>/<file>                   the whole file with "Content-Length: <n>"
                                     (a lie unless n is the size), no ranges,
                                     the connection closed after the body
    /redirect/<file>                 302 to /<file>
    /loop/<anything>                 302 to itself, forever
    /html200/<anything>              an HTML error page with status 200
    /stall/<anything>                accepts, never answers (echo_sleep)
    /stallbody/<anything>            headers and 16 bytes, then silence
    anything missing                 404

Knobs on a running server: drop_connections() (SIGKILL of the workers: every
connection is cut, the master starts a new worker on the same sockets),
freeze()/thaw() (SIGSTOP/SIGCONT of the workers: open connections stall
mid-body), down() (a context manager: nginx stopped, then started again on
the same ports), replace() (a new file under the same name, new ETag).

Every start waits a bounded time (START_TIMEOUT) for the server to answer a
request that only this instance can answer; every object stops what it
started on close(), on leaving its with-block, at interpreter exit (atexit)
and when the test process dies (PR_SET_PDEATHSIG through setpriv(1)).
"""

import atexit
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NGINX = os.environ.get("DFOTA_NGINX", "/usr/sbin/nginx")
VARNISHD = os.environ.get("DFOTA_VARNISHD", "/usr/sbin/varnishd")
VARNISHADM = "/usr/bin/varnishadm"
VARNISHSTAT = "/usr/bin/varnishstat"
OPENSSL = "/usr/bin/openssl"
SETPRIV = "/usr/bin/setpriv"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

START_TIMEOUT = 15.0   # seconds for a server to come up
STOP_TIMEOUT = 10.0    # seconds for a server to go down before SIGKILL


class ServerError(RuntimeError):
    """A server did not start, stop or answer as expected."""


# ---------------------------------------------------------------- cleanup

_live = []  # every started object with a close() method


def _close_all():
    for obj in list(reversed(_live)):
        try:
            obj.close()
        except Exception:  # pragma: no cover - best effort at exit
            pass


atexit.register(_close_all)


def _on_term(signum, frame):
    raise SystemExit(128 + signum)


# A test killed with SIGTERM or SIGHUP (ctest, a terminal closing) unwinds
# its with-blocks and runs atexit, so the servers stop too.
for _sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) == signal.SIG_DFL:
        signal.signal(_sig, _on_term)


def wait_until(pred, timeout, what, interval=0.01):
    """Poll pred() until it returns a true value or timeout seconds pass.

    Returns that value; raises ServerError naming `what` on timeout. The poll
    interval grows from 10 ms to 100 ms. This is a bounded wait for a
    condition, not a sleep standing in for one."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise ServerError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.1)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv, log_path, env=None, cwd=None):
    """Start argv in its own session, stdout+stderr to log_path; the child
    gets SIGTERM if this process dies (setpriv --pdeathsig)."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen([SETPRIV, "--pdeathsig", "TERM", "--"] + list(argv),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=cwd)
    finally:
        log.close()


def children(pid):
    """PIDs of the direct children of pid (from /proc)."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(x) for x in f.read().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][:1] not in ("Z", "X")
    except FileNotFoundError:
        return False


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Stop a Popen child and everything it started: sig, a bounded wait,
    then SIGKILL of the whole tree. Safe to call twice."""
    if proc is None:
        return
    tree = descendants(proc.pid)
    for p in tree:  # a frozen (SIGSTOPped) process cannot act on SIGTERM
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGCONT)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    tree += descendants(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)
    for p in tree:
        if _alive(p):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
    wait_until(lambda: not any(_alive(p) for p in tree), timeout, "the processes of pid %d to exit" % proc.pid)


def _run(argv, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=kw.pop("timeout", 60), **kw)
    if r.returncode != 0:
        raise ServerError("%s failed (%d): %s" % (argv[0], r.returncode, r.stdout.decode(errors="replace")))
    return r.stdout


def _http_get(port, path, timeout=2.0):
    """(status, body) of a plain GET on 127.0.0.1:port, or None if no answer."""
    import http.client
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()
    except (OSError, http.client.HTTPException):
        return None


# ---------------------------------------------------------------- PKI

class Pki:
    """A test CA, a server certificate it signs (CN and SAN 127.0.0.1,
    localhost), and a second, unrelated CA for negative tests. EC P-256,
    made with openssl(1) in dir; valid from one hour ago for two days."""

    def __init__(self, directory):
        self.dir = os.path.abspath(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.ca_key, self.ca_cert = self._ca("ca", "dfota test CA")
        self.wrong_ca_key, self.wrong_ca_cert = self._ca("wrong-ca", "dfota wrong CA")
        self.server_key, self.server_cert = self.issue("server", self.ca_key, self.ca_cert)

    def _p(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        key, cert = self._p(name + ".key"), self._p(name + ".pem")
        _run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/O=dfota tests/CN=" + cn,
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return key, cert

    def issue(self, name, ca_key, ca_cert, hosts=("127.0.0.1", "localhost")):
        """A server certificate signed by (ca_key, ca_cert); returns (key, cert)."""
        key, csr, cert, ext = (self._p(name + s) for s in (".key", ".csr", ".pem", ".ext"))
        san = ",".join(("IP:" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", h) else "DNS:") + h
                       for h in hosts)
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        _run([OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", csr, "-subj", "/O=dfota tests/CN=" + hosts[0]])
        _run([OPENSSL, "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
              "-set_serial", str(secrets.randbits(62)), "-days", "2", "-extfile", ext, "-out", cert])
        return key, cert


# ---------------------------------------------------------------- nginx

_NGINX_CONF = r"""
# dfota system-test nginx: everything under {dir}
{load_echo}
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 4096;
pid {dir}/nginx.pid;
lock_file {dir}/nginx.lock;
error_log {dir}/error.log info;
events {{ worker_connections 2048; }}
http {{
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  types {{
    application/octet-stream bin pkg dfota;
    text/html html;
    text/plain txt;
  }}
  default_type application/octet-stream;
  log_format dfota escape=json '{{"msec":"$msec","remote":"$remote_addr","server_port":"$server_port",'
    '"scheme":"$scheme","method":"$request_method","uri":"$uri","request_uri":"$request_uri",'
    '"status":$status,"bytes":$bytes_sent,"body":$body_bytes_sent,"range":"$http_range",'
    '"if_range":"$http_if_range","ua":"$http_user_agent","x_varnish":"$http_x_varnish",'
    '"connection":"$connection","completion":"$request_completion","request_time":"$request_time"}}';
  access_log {dir}/access.log dfota;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 15s;
  server_tokens on;
  etag on;
  open_file_cache off;

  server {{
    listen 127.0.0.1:{http_port} backlog=1024;
    {https_listen}
    server_name localhost 127.0.0.1;
    root {dir}/www;
    {ssl}
    location / {{ expires 1h; }}
    location = /_ready {{ access_log off; default_type text/plain; return 200 "{token}"; }}
    location = /_status {{ access_log off; stub_status; }}
    location = /_error.html {{ internal; root {dir}/pages; expires off; }}
    location = /_empty {{ internal; root {dir}/pages; }}
    location ~ ^/rate/(?<rate>[0-9]+[kKmM]?)/(?<rest>.*)$ {{
      alias {dir}/www/$rest; expires 1h; limit_rate $rate;
    }}
    location ~ ^/after/(?<after>[0-9]+[kKmM]?)/(?<rate>[0-9]+[kKmM]?)/(?<rest>.*)$ {{
      alias {dir}/www/$rest; expires 1h; limit_rate_after $after; limit_rate $rate;
    }}
    location ~ ^/cl/(?<cl>[0-9]+)/(?<rest>.*)$ {{
      # The addition filter drops nginx's own Content-Length (and ranges);
      # without chunked encoding the body is delimited by the close, and
      # add_header puts in the one Content-Length the client sees.
      alias {dir}/www/$rest;
      addition_types *;
      add_after_body /_empty;
      chunked_transfer_encoding off;
      add_header Content-Length $cl;
    }}
    location ~ ^/redirect/(?<rest>.*)$ {{ return 302 /$rest; }}
    location ~ ^/loop/(?<rest>.*)$ {{ return 302 /loop/$rest; }}
    location /html200/ {{ default_type text/html; error_page 404 =200 /_error.html; }}
    {stall}
  }}
}}
"""

_STALL = r"""
    location /stall/ { echo_sleep 86400; echo "late"; }
    location /stallbody/ { echo -n "dfota-stall-0123"; echo_flush; echo_sleep 86400; echo "late"; }
"""

_ERROR_HTML = b"""<!DOCTYPE html>
<html><head><title>Service unavailable</title></head>
<body><h1>Sorry</h1><p>The page you asked for is not here. (An error page
served with status 200, as misconfigured servers and captive portals do.)</p>
</body></html>
"""


class Nginx:
    """nginx on free 127.0.0.1 ports with its own prefix in a temp dir.

    Nginx(https=False, pki=None, base=None): HTTPS is on when https=True or a
    Pki is given (one is made in the fixture dir when https=True and pki is
    None). base: a parent dir for the fixture dir (default: $TMPDIR)."""

    def __init__(self, https=False, pki=None, base=None, start=True):
        self.dir = tempfile.mkdtemp(prefix="dfota-nginx.", dir=base)
        os.chmod(self.dir, 0o755)  # workers may run as nobody
        self.www = os.path.join(self.dir, "www")
        self.pages = os.path.join(self.dir, "pages")
        for d in (self.www, self.pages, os.path.join(self.dir, "tmp")):
            os.makedirs(d)
        with open(os.path.join(self.pages, "_error.html"), "wb") as f:
            f.write(_ERROR_HTML)
        open(os.path.join(self.pages, "_empty"), "wb").close()
        self.pki = pki if pki is not None else (Pki(os.path.join(self.dir, "pki")) if https else None)
        self.https = self.pki is not None
        self.http_port = None
        self.https_port = None
        self.proc = None
        self.token = secrets.token_hex(8)
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.access_log_path = os.path.join(self.dir, "access.log")
        self.error_log_path = os.path.join(self.dir, "error.log")
        self.has_stall = os.path.exists(ECHO_MODULE)
        self._closed = False
        _live.append(self)
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    # -- lifecycle
    def _write_conf(self):
        ssl = https_listen = ""
        if self.https:
            https_listen = "listen 127.0.0.1:%d ssl backlog=1024;" % self.https_port
            ssl = ("ssl_certificate %s; ssl_certificate_key %s; ssl_protocols TLSv1.2 TLSv1.3;"
                   % (self.pki.server_cert, self.pki.server_key))
        with open(self.conf, "w") as f:
            f.write(_NGINX_CONF.format(
                dir=self.dir, http_port=self.http_port, https_listen=https_listen, ssl=ssl,
                token=self.token,
                load_echo=("load_module %s;" % ECHO_MODULE) if self.has_stall else "",
                stall=_STALL if self.has_stall else ""))

    def start(self, timeout=START_TIMEOUT):
        """Start nginx (on new free ports the first time, the same ports after
        a stop). Retries a few times if a port was taken meanwhile."""
        if self.proc is not None:
            raise ServerError("nginx already running")
        keep_ports = self.http_port is not None
        for attempt in range(5):
            if not keep_ports:
                self.http_port = free_port()
                self.https_port = free_port() if self.https else None
            self._write_conf()
            log = os.path.join(self.dir, "nginx.out")
            self.proc = spawn([NGINX, "-p", self.dir + "/", "-c", self.conf, "-e", self.error_log_path], log)
            try:
                wait_until(lambda: self.proc.poll() is not None or self._answers(), timeout,
                           "nginx to answer on port %d" % self.http_port)
            except ServerError:
                self._kill()
                raise ServerError("nginx did not start in %.0f s; %s" % (timeout, self._log_tail()))
            if self.proc.poll() is None:
                return self
            rc = self.proc.returncode
            self.proc = None
            tail = self._log_tail()
            if "Address already in use" in tail and not keep_ports and attempt < 4:
                continue
            raise ServerError("nginx exited with %d at start; %s" % (rc, tail))
        raise ServerError("nginx: no free port after 5 attempts")

    def _answers(self):
        r = _http_get(self.http_port, "/_ready", timeout=1.0)
        return r is not None and r[0] == 200 and r[1] == self.token.encode()

    def _log_tail(self):
        out = []
        for p in (os.path.join(self.dir, "nginx.out"), self.error_log_path):
            with contextlib.suppress(FileNotFoundError):
                with open(p, errors="replace") as f:
                    out.append("%s: %s" % (os.path.basename(p), " | ".join(f.read().splitlines()[-8:])))
        return "; ".join(out)

    def _kill(self):
        p, self.proc = self.proc, None
        stop_process(p)  # SIGTERM to the master is nginx's fast shutdown

    def stop(self):
        """Stop nginx (fast shutdown: open connections are closed)."""
        self._kill()

    @contextlib.contextmanager
    def down(self):
        """A server outage: nginx stopped inside the block (connections refused),
        started again on the same ports after it."""
        self.stop()
        try:
            yield self
        finally:
            if not self._closed:
                self.start()

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        """Stop nginx and remove its temp dir."""
        if self._closed:
            return
        self._closed = True
        try:
            self._kill()
        finally:
            if self in _live:
                _live.remove(self)
            if os.environ.get("DFOTA_KEEP_TMP"):
                print("servers: kept", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- URLs and files
    @property
    def port(self):
        return self.http_port

    def url(self, path, https=False, host="127.0.0.1"):
        if https and not self.https:
            raise ServerError("this nginx has no HTTPS (Nginx(https=True))")
        path = path.lstrip("/")
        if https:
            return "https://%s:%d/%s" % (host, self.https_port, path)
        return "http://%s:%d/%s" % (host, self.http_port, path)

    def path(self, name):
        return os.path.join(self.www, name.lstrip("/"))

    def put(self, name, data):
        """Publish a file atomically (write a temp file, rename over): a client
        that has the old file open keeps reading the old one, and the new
        one always gets a new ETag (nginx's ETag is mtime-size, so the mtime
        is moved on by a second or more if needed). data: bytes or a path."""
        if not isinstance(data, (bytes, bytearray)):
            with open(data, "rb") as f:
                data = f.read()
        dst = self.path(name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        old = None
        with contextlib.suppress(FileNotFoundError):
            old = os.stat(dst)
        tmp = dst + ".%s.tmp" % secrets.token_hex(4)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        if old is not None:
            mtime = max(int(time.time()), int(old.st_mtime) + 1)
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dst)
        return self.url(name)

    replace = put

    def etag(self, name):
        """The ETag nginx sends for a file now: "<mtime hex>-<size hex>"."""
        st = os.stat(self.path(name))
        return '"%x-%x"' % (int(st.st_mtime), st.st_size)

    # -- knobs
    def workers(self):
        return children(self.proc.pid) if self.proc else []

    def drop_connections(self, timeout=START_TIMEOUT):
        """Cut every open connection now: SIGKILL of the worker processes
        (the master keeps the listening sockets and starts new workers).
        Returns once a new worker answers. In-flight requests of the killed
        workers do not reach the access log."""
        old = set(self.workers())
        if not old:
            raise ServerError("nginx has no worker to kill")
        for p in old:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        wait_until(lambda: (set(self.workers()) - old) and self._answers(), timeout,
                   "nginx to start a new worker")

    def freeze(self):
        """SIGSTOP the workers: open connections stall (no bytes, no close),
        new connections wait in the backlog."""
        for p in self.workers():
            os.kill(p, signal.SIGSTOP)

    def thaw(self):
        for p in self.workers():
            os.kill(p, signal.SIGCONT)

    # -- logs
    def access_log(self):
        """The access log as a list of dicts (one per finished request)."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            with open(self.access_log_path, "rb") as f:
                for line in f:
                    if line.strip():
                        out.append(json.loads(line))
        return out

    def mark(self):
        """A position in the access log, for bytes_served(since=...)."""
        return len(self.access_log())

    def bytes_served(self, uri_prefix=None, since=0):
        """Body bytes nginx sent (sum of $body_bytes_sent), optionally only
        for URIs starting with uri_prefix and requests after mark `since`."""
        if uri_prefix is not None and not uri_prefix.startswith("/"):
            uri_prefix = "/" + uri_prefix
        return sum(e["body"] for e in self.access_log()[since:]
                   if uri_prefix is None or e["uri"].startswith(uri_prefix))

    def requests(self, uri_prefix=None, since=0):
        if uri_prefix is not None and not uri_prefix.startswith("/"):
            uri_prefix = "/" + uri_prefix
        return [e for e in self.access_log()[since:]
                if uri_prefix is None or e["uri"].startswith(uri_prefix)]

    def error_log(self):
        with contextlib.suppress(FileNotFoundError):
            with open(self.error_log_path, errors="replace") as f:
                return f.read()
        return ""

    def status(self):
        """nginx stub_status as a dict (active, accepts, handled, requests, ...)."""
        r = _http_get(self.http_port, "/_status")
        if r is None or r[0] != 200:
            raise ServerError("nginx stub_status did not answer")
        t = r[1].decode()
        nums = [int(x) for x in re.findall(r"\d+", t)]
        return dict(zip(("active", "accepts", "handled", "requests", "reading", "writing", "waiting"), nums))


# ---------------------------------------------------------------- varnish

_VCL = r"""vcl 4.1;
# dfota system-test varnish: a caching edge in front of the nginx origin.
backend origin {{
  .host = "127.0.0.1";
  .port = "{port}";
  .connect_timeout = 3s;
  .first_byte_timeout = 60s;
  .between_bytes_timeout = 60s;
}}

sub vcl_recv {{
  if (req.url == "/_varnish_ready") {{ return (synth(200, "{token}")); }}
  if (req.method != "GET" && req.method != "HEAD") {{ return (pass); }}
  unset req.http.Cookie;
  unset req.http.Authorization;
  # Range stays on the client request: varnish fetches the whole object
  # once and serves the range from the cache (also while it streams in).
  return (hash);
}}

sub vcl_backend_response {{
  set beresp.do_stream = true;
  if (beresp.status >= 500) {{
    set beresp.ttl = 1s;
    set beresp.uncacheable = true;
    return (deliver);
  }}
}}

sub vcl_deliver {{
  if (obj.hits > 0) {{ set resp.http.X-Cache = "HIT"; }} else {{ set resp.http.X-Cache = "MISS"; }}
}}

sub vcl_synth {{
  set resp.http.Content-Type = "text/plain";
  set resp.body = resp.reason;
  return (deliver);
}}
"""


class Varnish:
    """varnishd in the foreground with its own -n work dir, on a free
    127.0.0.1 port, caching an Nginx origin (TTL from nginx's Cache-Control:
    one hour). Range requests are served from the cache."""

    def __init__(self, origin, base=None, storage="malloc,256m", start=True):
        self.origin = origin
        self.dir = tempfile.mkdtemp(prefix="dfota-varnish.", dir=base)
        os.chmod(self.dir, 0o755)  # varnish's jail users read the VCL
        self.workdir = os.path.join(self.dir, "n")
        self.vcl = os.path.join(self.dir, "default.vcl")
        self.log = os.path.join(self.dir, "varnishd.log")
        self.storage = storage
        self.port = None
        self.proc = None
        self.token = secrets.token_hex(8)
        self._closed = False
        _live.append(self)
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    def start(self, timeout=START_TIMEOUT * 2):
        if self.proc is not None:
            raise ServerError("varnish already running")
        with open(self.vcl, "w") as f:
            f.write(_VCL.format(port=self.origin.http_port, token=self.token))
        os.chmod(self.vcl, 0o644)
        keep = self.port is not None
        for attempt in range(5):
            if not keep:
                self.port = free_port()
            self.proc = spawn([VARNISHD, "-F", "-n", self.workdir, "-a", "127.0.0.1:%d" % self.port,
                               "-T", "127.0.0.1:0", "-f", self.vcl, "-s", self.storage,
                               "-p", "thread_pool_min=20", "-p", "thread_pools=1",
                               "-p", "default_grace=0s"], self.log)
            try:
                wait_until(lambda: self.proc.poll() is not None or self._answers(), timeout,
                           "varnish to answer on port %d" % self.port)
            except ServerError:
                self._kill()
                raise ServerError("varnish did not start in %.0f s; %s" % (timeout, self._log_tail()))
            if self.proc.poll() is None:
                return self
            self.proc = None
            tail = self._log_tail()
            if ("Address already in use" in tail or "Could not get socket" in tail) and not keep and attempt < 4:
                continue
            raise ServerError("varnishd exited at start; %s" % tail)
        raise ServerError("varnish: no free port after 5 attempts")

    def _answers(self):
        r = _http_get(self.port, "/_varnish_ready", timeout=1.0)
        return r is not None and r[0] == 200 and r[1] == self.token.encode()

    def _log_tail(self):
        with contextlib.suppress(FileNotFoundError):
            with open(self.log, errors="replace") as f:
                return "varnishd: " + " | ".join(f.read().splitlines()[-10:])
        return ""

    def _kill(self):
        p, self.proc = self.proc, None
        stop_process(p)

    def stop(self):
        self._kill()

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self._kill()
        finally:
            if self in _live:
                _live.remove(self)
            if os.environ.get("DFOTA_KEEP_TMP"):
                print("servers: kept", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, path):
        return "http://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def stats(self):
        """varnishstat counters as {name: value}, e.g. MAIN.cache_hit,
        MAIN.cache_miss, MAIN.s_resp_bodybytes (bytes to clients),
        MAIN.beresp_bodybytes (bytes from the origin)."""
        out = json.loads(_run([VARNISHSTAT, "-n", self.workdir, "-1", "-j"], timeout=20))
        counters = out.get("counters", out)
        return {k: v.get("value") for k, v in counters.items() if isinstance(v, dict)}

    def origin_bytes(self):
        """Body bytes varnish fetched from its backends (VBE.*.beresp_bodybytes)."""
        return sum(v for k, v in self.stats().items()
                   if k.startswith("VBE.") and k.endswith(".beresp_bodybytes"))

    def log_query(self, query, grouping="request"):
        """varnishlog -d (what is in the shared log now) for records matching
        a VSL query, e.g. 'RespStatus == 206'; returns the text."""
        return _run(["/usr/bin/varnishlog", "-n", self.workdir, "-d", "-g", grouping, "-q", query],
                    timeout=30).decode(errors="replace")

    def ban(self, url_regex):
        """Invalidate cached objects whose URL matches url_regex."""
        # varnish's CLI unescapes backslashes once
        _run([VARNISHADM, "-n", self.workdir, "ban", "req.url", "~", url_regex.replace("\\", "\\\\")],
             timeout=20)
