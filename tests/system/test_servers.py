#!/usr/bin/python3
"""The server fixtures themselves (no simulator): nginx and varnish start,
serve what the system tests rely on, misbehave on request, and stop
everything they started. Clients: http.client/ssl from Python and curl(1),
which uses libcurl as dfota-modem does.

    test_servers.py NginxFixture Lifecycle   (ctest: system_fixtures_nginx)
    test_servers.py CacheFixture             (ctest: system_fixtures_cache)
"""

import http.client
import os
import socket
import ssl
import subprocess
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

import systest
from servers import Nginx, Pki, ServerError, Varnish, _alive, descendants

CURL = "/usr/bin/curl"


def blob(n, seed):
    """n deterministic, incompressible-looking bytes."""
    import hashlib
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d:%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def get(url, headers=None, timeout=10, context=None):
    """(status, headers, body) without following redirects."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=context)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


def curl(*args, timeout=30):
    return subprocess.run([CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)


class NginxFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ng = Nginx(https=True)
        cls.data = blob(300000, 1)
        cls.ng.put("a.bin", cls.data)
        cls.big = blob(2 << 20, 2)
        cls.ng.put("big.bin", cls.big)

    @classmethod
    def tearDownClass(cls):
        cls.ng.close()

    def test_static_headers(self):
        st, h, body = get(self.ng.url("a.bin"))
        self.assertEqual(st, 200)
        self.assertEqual(body, self.data)
        self.assertEqual(h["ETag"], self.ng.etag("a.bin"))
        self.assertEqual(h["Accept-Ranges"], "bytes")
        self.assertEqual(h["Content-Type"], "application/octet-stream")
        self.assertEqual(h["Content-Length"], str(len(self.data)))
        self.assertEqual(h["Cache-Control"], "max-age=3600")

    def test_range_and_if_range(self):
        st, h, body = get(self.ng.url("a.bin"), {"Range": "bytes=1000-"})
        self.assertEqual(st, 206)
        self.assertEqual(h["Content-Range"], "bytes 1000-%d/%d" % (len(self.data) - 1, len(self.data)))
        self.assertEqual(body, self.data[1000:])
        st, _, body = get(self.ng.url("a.bin"), {"Range": "bytes=1000-", "If-Range": self.ng.etag("a.bin")})
        self.assertEqual((st, body), (206, self.data[1000:]))
        st, _, body = get(self.ng.url("a.bin"), {"Range": "bytes=1000-", "If-Range": '"0-0"'})
        self.assertEqual((st, body), (200, self.data))

    def test_https_right_and_wrong_ca(self):
        ctx = ssl.create_default_context(cafile=self.ng.pki.ca_cert)
        st, _, body = get(self.ng.url("a.bin", https=True), context=ctx)
        self.assertEqual((st, body), (200, self.data))
        bad = ssl.create_default_context(cafile=self.ng.pki.wrong_ca_cert)
        with self.assertRaises(ssl.SSLCertVerificationError):
            get(self.ng.url("a.bin", https=True), context=bad)
        # libcurl, as the simulator uses it
        r = curl("--cacert", self.ng.pki.ca_cert, self.ng.url("a.bin", https=True))
        self.assertEqual((r.returncode, r.stdout), (0, "200 %d" % len(self.data)), r.stderr)
        r = curl("--cacert", self.ng.pki.wrong_ca_cert, self.ng.url("a.bin", https=True))
        self.assertEqual(r.returncode, 60, r.stderr)  # CURLE_PEER_FAILED_VERIFICATION
        r = curl("--cacert", self.ng.pki.ca_cert, self.ng.url("a.bin", https=True, host="localhost"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_rate_paths_serve_the_same_file(self):
        for p in ("rate/4m/a.bin", "after/100k/4m/a.bin", "redirect/a.bin"):
            r = curl("-L", self.ng.url(p))
            self.assertEqual((r.returncode, r.stdout), (0, "200 %d" % len(self.data)), p)
        st, h, body = get(self.ng.url("rate/4m/a.bin"), {"Range": "bytes=5-"})
        self.assertEqual((st, body, h["ETag"]), (206, self.data[5:], self.ng.etag("a.bin")))

    def _partial(self, url, first, timeout=10):
        """Open a GET, read `first` bytes, return (conn, response, bytes)."""
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        c.request("GET", u.path)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        got = r.read(first)
        return c, r, got

    def _read_rest(self, r):
        got = b""
        try:
            while True:
                b = r.read(65536)
                if not b:
                    break
                got += b
        except (http.client.IncompleteRead, ConnectionError) as e:
            got += getattr(e, "partial", b"")
        return got

    def test_drop_connections_then_range_resume(self):
        c, r, got = self._partial(self.ng.url("rate/512k/big.bin"), 65536)
        etag = r.headers["ETag"]
        self.ng.drop_connections()
        got += self._read_rest(r)
        c.close()
        self.assertLess(len(got), len(self.big), "the drop did not cut the download")
        st, h, rest = get(self.ng.url("big.bin"), {"Range": "bytes=%d-" % len(got), "If-Range": etag})
        self.assertEqual(st, 206)
        self.assertEqual(got + rest, self.big)
        self.assertIn("exited on signal 9", self.ng.error_log())

    def test_freeze_stalls_open_connections(self):
        c, r, got = self._partial(self.ng.url("rate/256k/big.bin"), 32768, timeout=0.5)
        self.ng.freeze()
        try:
            with self.assertRaises(socket.timeout):
                for _ in range(200):  # drain what the kernel buffered, then stall
                    got += r.read(4096)
        finally:
            self.ng.thaw()
        c.close()

    def test_replace_during_download(self):
        v1, v2 = blob(1 << 20, 3), blob(1 << 20, 4)
        self.ng.put("r.bin", v1)
        e1 = self.ng.etag("r.bin")
        c, r, got = self._partial(self.ng.url("rate/1m/r.bin"), 65536)
        self.ng.replace("r.bin", v2)
        e2 = self.ng.etag("r.bin")
        self.assertNotEqual(e1, e2)
        got += self._read_rest(r)
        c.close()
        self.assertEqual(got, v1, "an open download keeps the file it opened")
        st, h, body = get(self.ng.url("r.bin"), {"Range": "bytes=65536-", "If-Range": e1})
        self.assertEqual((st, h["ETag"], body), (200, e2, v2), "If-Range with the old ETag gets the new file")

    def test_errors(self):
        st, _, _ = get(self.ng.url("missing.bin"))
        self.assertEqual(st, 404)
        st, h, body = get(self.ng.url("html200/a.bin"))
        self.assertEqual(st, 200)
        self.assertTrue(h["Content-Type"].startswith("text/html"))
        self.assertTrue(body.startswith(b"<!DOCTYPE html>"))
        st, h, _ = get(self.ng.url("loop/a.bin"))
        self.assertEqual(st, 302)
        self.assertTrue(h["Location"].endswith("/loop/a.bin"))
        r = curl("-L", "--max-redirs", "20", self.ng.url("loop/a.bin"))
        self.assertEqual(r.returncode, 47, r.stderr)  # CURLE_TOO_MANY_REDIRECTS

    @unittest.skipUnless(os.path.exists("/usr/lib/nginx/modules/ngx_http_echo_module.so"), "no echo module")
    def test_stalls(self):
        with self.assertRaises(socket.timeout):
            get(self.ng.url("stall/a.bin"), timeout=0.5)
        u = urllib.parse.urlsplit(self.ng.url("stallbody/a.bin"))
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=0.5)
        c.request("GET", u.path)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read(16), b"dfota-stall-0123")
        with self.assertRaises(socket.timeout):
            r.read(1)
        c.close()

    def test_lying_content_length(self):
        n = len(self.data)
        st, h, body = get(self.ng.url("cl/%d/a.bin" % (n // 2)))
        self.assertEqual((st, h["Content-Length"], body), (200, str(n // 2), self.data[:n // 2]))
        self.assertIsNone(h["Accept-Ranges"])
        self.assertEqual(h.get_all("Content-Length"), [str(n // 2)])
        with self.assertRaises(http.client.IncompleteRead) as cm:
            get(self.ng.url("cl/%d/a.bin" % (2 * n)))
        self.assertEqual(cm.exception.partial, self.data)
        r = curl(self.ng.url("cl/%d/a.bin" % (2 * n)))
        self.assertEqual(r.returncode, 18, r.stderr)  # CURLE_PARTIAL_FILE

    def test_down_and_up_on_the_same_port(self):
        port = self.ng.http_port
        with self.ng.down():
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        self.assertEqual(self.ng.http_port, port)
        st, _, body = get(self.ng.url("a.bin"))
        self.assertEqual((st, body), (200, self.data))

    def test_access_log_counts_bytes(self):
        m = self.ng.mark()
        get(self.ng.url("a.bin"))
        get(self.ng.url("a.bin"), {"Range": "bytes=100000-"})
        self.assertEqual(self.ng.bytes_served("/a.bin", since=m), len(self.data) + len(self.data) - 100000)
        reqs = self.ng.requests("/a.bin", since=m)
        self.assertEqual([(e["status"], e["range"]) for e in reqs], [(200, ""), (206, "bytes=100000-")])


class Lifecycle(unittest.TestCase):
    def test_close_stops_everything(self):
        ng = Nginx()
        v = Varnish(ng)
        pids = [ng.proc.pid, v.proc.pid] + descendants(ng.proc.pid) + descendants(v.proc.pid)
        dirs = [ng.dir, v.dir]
        ports = [ng.http_port, v.port]
        self.assertGreaterEqual(len(pids), 4)  # nginx master + worker, varnish manager + child
        v.close()
        ng.close()
        v.close()  # twice is fine
        self.assertEqual([p for p in pids if _alive(p)], [])
        self.assertEqual([d for d in dirs if os.path.exists(d)], [])
        for p in ports:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", p), timeout=2).close()

    def test_failed_start_cleans_up(self):
        class BadPki:
            server_cert = "/nonexistent/server.pem"
            server_key = "/nonexistent/server.key"
        with self.assertRaises(ServerError) as cm:
            Nginx(pki=BadPki())
        self.assertIn("server.pem", str(cm.exception))

    def test_pki_verifies(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            p = Pki(d)
            ok = subprocess.run(["/usr/bin/openssl", "verify", "-CAfile", p.ca_cert, p.server_cert],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            self.assertEqual(ok.returncode, 0, ok.stdout)
            bad = subprocess.run(["/usr/bin/openssl", "verify", "-CAfile", p.wrong_ca_cert, p.server_cert],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            self.assertNotEqual(bad.returncode, 0)


class CacheFixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ng = Nginx()
        cls.v = Varnish(cls.ng)

    @classmethod
    def tearDownClass(cls):
        cls.v.close()
        cls.ng.close()

    def test_miss_then_hit(self):
        data = blob(200000, 5)
        self.ng.put("c.bin", data)
        m = self.ng.mark()
        st, h, body = get(self.v.url("c.bin"))
        self.assertEqual((st, h["X-Cache"], body), (200, "MISS", data))
        st, h, body = get(self.v.url("c.bin"))
        self.assertEqual((st, h["X-Cache"], body), (200, "HIT", data))
        self.assertEqual(h["ETag"], self.ng.etag("c.bin"))
        self.assertEqual(self.ng.bytes_served("/c.bin", since=m), len(data))

    def test_range_on_a_cold_cache(self):
        data = blob(500000, 6)
        self.ng.put("d.bin", data)
        m = self.ng.mark()
        st, h, body = get(self.v.url("d.bin"), {"Range": "bytes=123456-"})
        self.assertEqual((st, body), (206, data[123456:]))
        self.assertEqual(h["Content-Range"], "bytes 123456-499999/500000")
        st, h, body = get(self.v.url("d.bin"), {"Range": "bytes=400000-", "If-Range": self.ng.etag("d.bin")})
        self.assertEqual((st, h["X-Cache"], body), (206, "HIT", data[400000:]))
        # varnish fetched the object whole, once, without a Range
        self.assertEqual([(e["status"], e["range"]) for e in self.ng.requests("/d.bin", since=m)], [(200, "")])

    def test_many_clients_one_origin_fetch(self):
        data = blob(1 << 20, 7)
        self.ng.put("e.bin", data)
        m = self.ng.mark()
        before = self.v.origin_bytes()
        results = []

        def client():
            try:
                results.append(get(self.v.url("rate/2m/e.bin"), timeout=30)[2] == data)
            except Exception as e:  # recorded, asserted below
                results.append(e)
        ts = [threading.Thread(target=client) for _ in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(results, [True] * 20)
        self.assertEqual(self.ng.bytes_served("/rate/2m/e.bin", since=m), len(data))
        self.assertEqual(self.v.origin_bytes() - before, len(data))

    def test_ban(self):
        self.ng.put("f.bin", b"one")
        self.assertEqual(get(self.v.url("f.bin"))[2], b"one")
        self.ng.replace("f.bin", b"two")
        self.assertEqual(get(self.v.url("f.bin"))[2], b"one")  # cached for max-age
        self.v.ban("^/f\\.bin$")
        self.assertEqual(get(self.v.url("f.bin"))[2], b"two")


if __name__ == "__main__":
    systest.main(timeout=200)
