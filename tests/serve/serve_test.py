#!/usr/bin/python3
"""serve_test.py - end-to-end tests of `wasp serve` over real HTTP on loopback.

    /usr/bin/python3 tests/serve/serve_test.py --wasp build/wasp \
        --guests build/serve-test [--build-failures N] [--tier interp|native] [NAME_FILTER]

tests/serve/run.sh builds the guests (tests/serve/guests/) and runs this.
Each test writes a manifest into a scratch directory, starts `wasp serve` on
free loopback ports (--listen and --admin), waits for the admin /healthz,
makes real requests with http.client or raw sockets, reads the access log
(the server's stderr, captured to a file) and stops the server with SIGTERM,
expecting exit status 0. A server still running when a test ends is killed.

Every check that fails prints `FAIL: <test>: <what>: expected X, got Y` on
stderr and the run goes on; the last line is `serve: N passed, N failed` and
the exit status is 1 when anything failed. With WASP_ASAN=1 in the
environment (run.sh sets it for a binary under /asan/) timeouts are longer
and the deadline check allows 1000 ms instead of 50 ms.

With --tier native every server is started with `--tier native` and a
native-code cache in the scratch directory, so the same checks hold for
compiled code. Only the standard library is used.
"""

import argparse
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ASAN = os.environ.get("WASP_ASAN") == "1"
SLOW = 3 if ASAN else 1  # every timeout is multiplied by this
HTTP_TIMEOUT = 30 * SLOW
START_TIMEOUT = 20 * SLOW
STOP_TIMEOUT = 20 * SLOW
HOST = "127.0.0.1"

WASP = ""
GUESTS = ""
SCRATCH = ""
# --tier native: every server runs its apps in the native tier, with a
# cache in the scratch directory; else in the interpreter, named: the
# default tier, auto, would switch to native code whenever a background
# compile finished (test_tier_auto tests that). TIER holds the flags,
# after "serve".
TIER = ["--tier", "interp"]
TIER_WORD = "interp"

# --- results ------------------------------------------------------------------


class Abort(Exception):
    """Ends the current test early (what failed has been reported)."""


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.test = "?"

    def ok(self):
        self.passed += 1

    def fail(self, what, expected=None, got=None, extra=None):
        self.failed += 1
        msg = f"FAIL: {self.test}: {what}"
        if expected is not None or got is not None:
            msg += f": expected {expected}, got {got}"
        print(msg, file=sys.stderr)
        for line in extra or []:
            print(f"      {line}", file=sys.stderr)
        sys.stderr.flush()

    def check(self, cond, what, expected, got, extra=None):
        if cond:
            self.ok()
        else:
            self.fail(what, expected, got, extra)
        return cond

    def eq(self, what, expected, got, extra=None):
        return self.check(expected == got, what, short(expected), short(got), extra)


R = Results()


def short(v, limit=300):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} chars)"


# --- helpers ------------------------------------------------------------------


def free_ports(n):
    """n distinct loopback ports that were free a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((HOST, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def guest(name):
    return os.path.join(GUESTS, name)


def scratch_dir(name):
    d = os.path.join(SCRATCH, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def get(port, path, headers=None, conn=None, method="GET", body=None, timeout=None):
    """One request; returns (status, HTTPMessage headers, body bytes). With
    conn, the request goes over that (keep-alive) connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout or HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.headers, data
    finally:
        if own:
            conn.close()


def try_get(port, path, **kw):
    """get(), but a failure is returned as (None, None, 'the exception')."""
    try:
        return get(port, path, **kw)
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return None, None, f"{type(e).__name__}: {e}"


def split_response(buf):
    """(status, headers dict, body, rest) for the first complete HTTP
    response in buf, or None if buf does not hold one yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
    if not m:
        return None
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    rest = buf[end + 4:]
    status = int(m.group(1))
    if "content-length" in headers:
        n = int(headers["content-length"])
        if len(rest) < n:
            return None
        return status, headers, rest[:n], rest[n:]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, pos = b"", 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(rest[pos:eol].split(b";")[0], 16)
            if len(rest) < eol + 2 + size + 2:
                return None
            body += rest[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
            if size == 0:
                return status, headers, body, rest[pos:]
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", rest
    return None  # body until close


def raw_exchange(port, data, timeout=None, responses=1):
    """Sends raw bytes on a new connection, reads until `responses` complete
    responses came, the server closed, or the timeout. Returns (bytes read,
    what went wrong sending or reading, or None)."""
    timeout = timeout or 10 * SLOW
    s = socket.create_connection((HOST, port), timeout=timeout)
    err = None
    buf = b""
    try:
        try:
            s.sendall(data)
        except OSError as e:
            err = f"send: {type(e).__name__}: {e}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rest, got = buf, 0
            while got < responses:
                r = split_response(rest)
                if r is None:
                    break
                got += 1
                rest = r[3]
            if got >= responses:
                break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                err = (err or "") + " recv: timed out"
                break
            except OSError as e:
                err = (err or "") + f" recv: {type(e).__name__}: {e}"
                break
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return buf, err


def status_of(buf):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return int(m.group(1)) if m else None


LOGFMT = re.compile(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    out = {}
    for k, v in LOGFMT.findall(line):
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[k] = v
    return out


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float value)] from Prometheus text."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC.match(line)
        if not m:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), value))
    return out


def metric_sum(metrics, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`, or None
    when there is none."""
    vals = [v for n, ls, v in metrics if n == name and all(ls.get(k) == x for k, x in labels.items())]
    return sum(vals) if vals else None


def end_process(proc, sig=signal.SIGTERM):
    """Sends sig to a helper process (a Redis, a PostgreSQL, a balancer)
    still running and reaps it, killing it after STOP_TIMEOUT."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# --- the server under test ----------------------------------------------------


class Server:
    """One `wasp serve` process: `with Server(...) as s:` starts it and
    kills it on the way out if the test did not stop it."""

    def __init__(self, target, cwd, extra=(), workers=2, name="server", env=None):
        self.port, self.admin = free_ports(2)
        self.env = env  # the whole environment, or None for this process's
        self.target = target
        self.cwd = cwd
        self.log = os.path.join(cwd, f"{name}.stderr")
        self.cmd = [WASP, "serve", *TIER, "--listen", f"{HOST}:{self.port}", "--admin", f"{HOST}:{self.admin}"]
        if workers:
            self.cmd += ["--workers", str(workers)]
        self.cmd += list(extra) + [target]
        self.proc = None
        self.stopped = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def start(self):
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)

        def healthy():
            if self.proc.poll() is not None:
                return "exited"
            try:
                st, _, _ = get(self.admin, "/healthz", timeout=2 * SLOW)
                return "up" if st == 200 else None
            except OSError:
                return None

        state = wait_until(healthy, START_TIMEOUT, 0.1)
        if state != "up":
            how = (f"it exited with status {self.proc.returncode}" if state == "exited"
                   else f"no 200 from http://{HOST}:{self.admin}/healthz after {START_TIMEOUT} s")
            R.fail("wasp serve starts", "a server answering /healthz", how,
                   [f"command: {' '.join(self.cmd)}"] + self.tail())
            raise Abort()

    def text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=12):
        return ["server output: " + line for line in self.text().splitlines()[-n:]]

    def access(self):
        """The access log lines so far, parsed."""
        out = []
        for line in self.text().splitlines():
            if " status=" in line and " method=" in line:
                out.append(parse_logfmt(line))
        return out

    def wait_access(self, pred, count=1, timeout=None):
        """Access lines matching pred, once at least `count` are there (or
        the timeout passed: then whatever there is)."""
        found = []

        def enough():
            found[:] = [a for a in self.access() if pred(a)]
            return len(found) >= count

        wait_until(enough, timeout or 5 * SLOW)
        return found

    def metrics(self):
        st, _, body = get(self.admin, "/metrics")
        return st, parse_metrics(body.decode("utf-8", "replace"))

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and expects exit status 0 (and no sanitizer
        report) within STOP_TIMEOUT."""
        self.stopped = True
        if self.proc.poll() is not None:
            R.fail("the server is still running before SIGTERM", "running",
                   f"exited with status {self.proc.returncode}", self.tail())
            return
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            R.fail(f"exit after {signal.Signals(sig).name}", f"an exit within {STOP_TIMEOUT} s",
                   "still running (killed)", self.tail())
            self.kill()
            return
        if not self.check_sanitizer():
            R.check(rc == 0, f"exit status after {signal.Signals(sig).name}", 0, rc, self.tail())
        self.check_log_lines()

    ACCESS_LINE = re.compile(r'^ts=\S+ worker=\d+ req=\d+-\d+ app=\S+ method=\S+ '
                             r'path=("(?:[^"\\]|\\.)*"|\S+) status=\d{3} bytes=\d+ dur_us=\d+( trace=[0-9a-f]{32})?'
                             r'( trap=("(?:[^"\\]|\\.)*"|\S+)( backtrace=("(?:[^"\\]|\\.)*"|\S+))?)?'
                             r'( stderr=("(?:[^"\\]|\\.)*"|\S+))?$')

    def check_log_lines(self):
        """Every access log line is one whole line of the documented shape."""
        bad = [line for line in self.text().splitlines()
               if " status=" in line and not self.ACCESS_LINE.match(line)]
        R.check(not bad, "every access log line is one line 'ts=.. worker=.. req=.. app=.. method=.. "
                "path=.. status=.. bytes=.. dur_us=..[ trace=..][ trap=..[ backtrace=..]][ stderr=..]'", "no other shape",
                short(bad[:2], 600))

    def check_sanitizer(self):
        """Checks the output for a sanitizer report; True if there was one
        (reported here: its first lines and its summary)."""
        lines = self.text().splitlines()
        at = [i for i, line in enumerate(lines) if re.search(r"ERROR: \w+Sanitizer|runtime error:", line)]
        if not at:
            R.ok()
            return False
        summary = [line for line in lines if line.startswith("SUMMARY:")]
        R.fail("no sanitizer report in the server's output", "none", lines[at[0]].strip(),
               [line for line in lines[at[0] + 1:at[0] + 9] if line.strip()] + summary[:1])
        return True

    def kill(self):
        end_process(self.proc, signal.SIGKILL)
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None


def manifest(d, apps, name="wasp.yaml", top=""):
    """Writes a manifest into d from a list of app YAML blocks."""
    text = top + "apps:\n" + "".join(apps)
    path = os.path.join(d, name)
    write(path, text)
    return path


def app(name, route, module, extra=""):
    return (f"  - name: {name}\n    route: {route}\n    module: {module}\n" + extra)


# --- 1. the wasp ABI ----------------------------------------------------------


def test_wasp_abi():
    d = scratch_dir("wasp-abi")
    m = manifest(d, [app("echo", "/echo/...", guest("echo.wasm"))])
    with Server(m, d) as s:
        out = s.text()
        R.check(f"wasp: listening on http://{HOST}:{s.port} (2 workers), admin on http://{HOST}:{s.admin}" in out,
                "the startup line", f"'wasp: listening on http://{HOST}:{s.port} (2 workers), admin on ...'",
                out.splitlines()[:3])
        R.check(re.search(r"wasp: app echo at /echo/\.\.\. -> \S*echo\.wasm \(wasp, " + TIER_WORD + r"\b", out)
                is not None, "the app line", f"'wasp: app echo at /echo/... -> .../echo.wasm (wasp, {TIER_WORD}...)'",
                out.splitlines()[:12])

        st, h, body = get(s.port, "/echo/a/b?x=1&y=2", headers={"X-Test": "hello"})
        R.eq("GET /echo/a/b?x=1&y=2: status", 200, st)
        text = body.decode("latin-1")
        head, _, hdrs = text.partition("\nheaders:\n")
        R.eq("GET /echo/a/b?x=1&y=2: method, uri, header, empty body",
             "method=GET\nuri=/echo/a/b?x=1&y=2\nx-test=hello\nbody-len=0\nbody=", head)
        R.check("x-test: hello\n" in hdrs, "req_headers lists 'x-test: hello' (lower-case name)",
                "a line 'x-test: hello'", short(hdrs))
        R.check(re.search(r"^host: ", hdrs, re.M) is not None, "req_headers lists host",
                "a line 'host: ...'", short(hdrs))
        R.eq("response Content-Type set by the handler", "text/plain", h.get("Content-Type"))
        R.eq("response header X-Echo-Method (once: the CR LF value was refused)",
             ["GET"], h.get_all("X-Echo-Method"))
        R.eq("resp_header with the name 'bad name' returns", "-1", h.get("X-Bad-Header-Rc"))
        R.eq("resp_header with CR LF in the value returns", "-1", h.get("X-Bad-Value-Rc"))
        R.eq("resp_status(1000) returns", "-1", h.get("X-Bad-Status-Rc"))
        R.check(h.get("bad name") is None, "no response header 'bad name'", "none", h.get("bad name"))

        payload = bytes((i * 7 + 3) % 251 for i in range(5000))
        st, h, body = get(s.port, "/echo", method="POST", body=payload,
                          headers={"X-Status": "201", "Content-Type": "application/octet-stream"})
        R.eq("POST /echo with a 5000-byte body and X-Status: 201: status", 201, st)
        exp = b"method=POST\nuri=/echo\nx-test=(none)\nbody-len=5000\nbody=" + payload + b"\nheaders:\n"
        R.check(body.startswith(exp), "POST /echo: the body read back through req_body in 1000-byte steps",
                short(exp[:80]) + "... + the 5000 bytes", short(body[:120]))

        st, _, body = get(s.port, "/echo/s", headers={"X-Status": "404"})
        R.eq("a handler's own 404 passes through", 404, st)

        conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
        conn.putrequest("GET", "/echo/rep")
        conn.putheader("X-TEST", "a")
        conn.putheader("x-test", "b")
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode("latin-1")
        conn.close()
        R.check("\nx-test=a, b\n" in body, "repeated headers joined with ', ' (names case-insensitive)",
                "'x-test=a, b'", short(body.split("\nbody-len")[0]))

        for path in ["/nope", "/ech", "/echoes", "/"]:
            st, _, _ = get(s.port, path)
            R.eq(f"GET {path} (no route matches): status", 404, st)

        lines = s.wait_access(lambda a: a.get("app") == "echo" and a.get("method") == "POST", 1)
        R.check(bool(lines), "an access log line for the POST", "app=echo method=POST ...",
                "none", s.tail(5))
        if lines:
            a = lines[0]
            R.eq("access log: path of the POST", "/echo", a.get("path"))
            R.eq("access log: status of the POST", "201", a.get("status"))
            for k in ("ts", "worker", "bytes", "dur_us"):
                R.check(k in a, f"access log line has {k}=", k, sorted(a))
            R.check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", a.get("ts", "")) is not None,
                    "access log ts= is an ISO 8601 UTC time", "e.g. 2026-11-25T23:59:59.123Z", a.get("ts"))
        s.stop()

    # Single-module mode: one module at every path, no manifest.
    d = scratch_dir("wasp-abi-single")
    with Server(guest("echo.wasm"), d, name="single") as s:
        st, _, body = get(s.port, "/any/path?q", headers={"X-Test": "one"})
        R.eq("single-module mode: GET /any/path?q status", 200, st)
        R.check(body.startswith(b"method=GET\nuri=/any/path?q\nx-test=one\n"),
                "single-module mode serves every path", "method=GET uri=/any/path?q x-test=one",
                short(body[:80]))
        s.stop()


# --- 2. WAGI ------------------------------------------------------------------


def cgi_vars(body):
    out = {}
    text = body.decode("latin-1")
    head, _, stdin = text.partition("\nstdin=")
    for line in head.splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    out["stdin"] = stdin
    return out


def test_wagi():
    d = scratch_dir("wagi")
    m = manifest(d, [app("cgi", "/cgi/...", guest("cgi.wasm"), "    env:\n      GREETING: hi there\n")])
    with Server(m, d) as s:
        R.check(re.search(r"wasp: app cgi at /cgi/\.\.\. -> \S*cgi\.wasm \(wagi, " + TIER_WORD + r"\b", s.text())
                is not None, "the app line says wagi", f"'wasp: app cgi at /cgi/... -> .../cgi.wasm (wagi, {TIER_WORD}...)'",
                s.text().splitlines()[:4])
        st, h, body = get(s.port, "/cgi/some/path?a=1&b=2", method="POST", body=b"hello wagi",
                          headers={"X-Test": "t1", "Content-Type": "text/x-test"})
        R.eq("POST /cgi/some/path?a=1&b=2: status", 200, st)
        R.eq("CGI header Content-Type", "text/plain", h.get("Content-Type"))
        R.eq("CGI header X-Cgi", "yes", h.get("X-Cgi"))
        v = cgi_vars(body)
        for k, want in [("REQUEST_METHOD", "POST"), ("PATH_INFO", "/some/path"), ("SCRIPT_NAME", "/cgi"),
                        ("QUERY_STRING", "a=1&b=2"), ("SERVER_PROTOCOL", "HTTP/1.1"),
                        ("GATEWAY_INTERFACE", "CGI/1.1"), ("CONTENT_LENGTH", "10"),
                        ("CONTENT_TYPE", "text/x-test"), ("X_MATCHED_ROUTE", "/cgi/..."),
                        ("HTTP_X_TEST", "t1"), ("GREETING", "hi there"), ("REMOTE_ADDR", HOST),
                        ("SERVER_PORT", str(s.port)), ("HTTP_HOST", f"{HOST}:{s.port}"),
                        ("argc", "1"), ("stdin", "hello wagi")]:
            R.eq(f"WAGI variable {k}", want, v.get(k))
        R.check(v.get("SERVER_SOFTWARE", "").startswith("wasp"), "SERVER_SOFTWARE", "wasp...",
                v.get("SERVER_SOFTWARE"))
        R.check(v.get("REMOTE_PORT", "").isdigit(), "REMOTE_PORT is a port number", "digits",
                v.get("REMOTE_PORT"))
        R.check(v.get("argv0", "").startswith("/cgi"), "argv[0] is the request path (or route)",
                "/cgi/some/path", v.get("argv0"))
        R.check("/cgi/some/path?a=1&b=2" in v.get("X_FULL_URL", ""), "X_FULL_URL holds the path and query",
                "...'/cgi/some/path?a=1&b=2'", v.get("X_FULL_URL"))

        big = bytes(random.Random(5).choice(b"abcdefghij\n") for _ in range(100000))
        st, _, body = get(s.port, "/cgi/big", method="POST", body=big)
        R.eq("a 100 000-byte POST body: status", 200, st)
        R.check(cgi_vars(body)["stdin"].encode("latin-1") == big, "a 100 000-byte body arrives whole on stdin",
                "the same 100000 bytes", f"{len(cgi_vars(body)['stdin'])} bytes")

        st, h, body = get(s.port, "/cgi/x?mode=status")
        R.eq("'Status: 404 Not Found' from the guest: status", 404, st)
        R.eq("... and the body after the blank line", b"not here\n", body)
        R.check(h.get("Status") is None, "the CGI Status header is not passed on", "no Status header",
                h.get("Status"))
        st, h, _ = get(s.port, "/cgi/x?mode=location")
        R.eq("'Location:' with no Status: status", 302, st)
        R.eq("... Location header", "/elsewhere", h.get("Location"))
        st, h, body = get(s.port, "/cgi/x?mode=crlf")
        R.eq("CR LF line ends: status", 200, st)
        R.eq("CR LF line ends: header", "yes", h.get("X-Crlf"))
        R.eq("CR LF line ends: body", b"crlf body\n", body)
        for mode, want in [("noblank", 502), ("badheader", 502), ("exit3", 500), ("trap", 500)]:
            st, _, body = get(s.port, f"/cgi/x?mode={mode}")
            R.eq(f"mode={mode}: status", want, st)
            if mode == "exit3":
                R.check(b"about to fail" not in body, "a failed command's output is not sent",
                        "no 'about to fail'", short(body))
        st, _, body = get(s.port, "/cgi/after")
        R.eq("a normal request after the failures: status", 200, st)
        R.eq("GET has an empty stdin", "", cgi_vars(body)["stdin"])

        lines = s.wait_access(lambda a: a.get("app") == "cgi" and a.get("status") in ("502", "500"), 4)
        R.eq("access log lines with status 502/500 for app=cgi", 4, len(lines))
        s.stop()


# --- 3. routing ---------------------------------------------------------------


def test_routing():
    d = scratch_dir("routing")
    cgi = guest("cgi.wasm")
    # The order is the worst for a first-match router: the catch-all first.
    m = manifest(d, [app("all", "/...", cgi), app("api", "/api/...", cgi), app("exact", "/api/exact", cgi),
                     app("v2", "/api/v2/...", cgi), app("hello", "/hello", guest("echo.wasm"))])
    cases = [
        # path, route, SCRIPT_NAME, PATH_INFO
        ("/api/exact", "/api/exact", "/api/exact", ""),
        ("/api/exact/more", "/api/...", "/api", "/exact/more"),
        ("/api", "/api/...", "/api", ""),
        ("/api/", "/api/...", "/api", "/"),
        ("/api/x/y?q=1", "/api/...", "/api", "/x/y"),
        ("/api/v2", "/api/v2/...", "/api/v2", ""),
        ("/api/v2/deep/er", "/api/v2/...", "/api/v2", "/deep/er"),
        ("/api/v20", "/api/...", "/api", "/v20"),
        ("/apix", "/...", "", "/apix"),
        ("/hello/x", "/...", "", "/hello/x"),
        ("/other/thing", "/...", "", "/other/thing"),
        ("/", "/...", "", "/"),
    ]
    with Server(m, d) as s:
        for path, route, script, info in cases:
            st, _, body = get(s.port, path)
            if not R.eq(f"GET {path}: status", 200, st):
                continue
            v = cgi_vars(body)
            R.eq(f"GET {path}: matched route", route, v.get("X_MATCHED_ROUTE"))
            R.eq(f"GET {path}: SCRIPT_NAME", script, v.get("SCRIPT_NAME"))
            R.eq(f"GET {path}: PATH_INFO", info, v.get("PATH_INFO"))
        R.eq("GET /api/x/y?q=1: QUERY_STRING", "q=1", cgi_vars(get(s.port, "/api/x/y?q=1")[2]).get("QUERY_STRING"))
        st, _, body = get(s.port, "/hello?z")
        R.eq("GET /hello (exact route, wasp ABI): status", 200, st)
        R.check(body.startswith(b"method=GET\nuri=/hello?z\n"), "GET /hello is served by the echo app",
                "method=GET uri=/hello?z", short(body[:60]))
        lines = s.wait_access(lambda a: a.get("path", "").startswith("/api/v2/deep"), 1)
        R.eq("access log: app of /api/v2/deep/er", "v2", lines[0].get("app") if lines else None)
        s.stop()


# --- 4. manifest errors -------------------------------------------------------


def expect_startup_error(name, d, target, patterns, extra=()):
    port, admin = free_ports(2)
    cmd = [WASP, "serve", *TIER, "--listen", f"{HOST}:{port}", "--admin", f"{HOST}:{admin}", "--workers", "2",
           *extra, target]
    try:
        p = subprocess.run(cmd, cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        R.fail(f"{name}: wasp serve exits", "exit status 1", f"still running after {START_TIMEOUT} s")
        return
    err = p.stderr.decode("utf-8", "replace")
    R.eq(f"{name}: exit status", 1, p.returncode, [f"stderr: {line}" for line in err.splitlines()[:5]])
    R.check(re.search(r"^wasp serve: ", err, re.M) is not None, f"{name}: message starts 'wasp serve: '",
            "'wasp serve: <reason>'", short(err))
    for pat in patterns:
        R.check(re.search(pat, err) is not None, f"{name}: the message", f"/{pat}/", short(err))
    R.check("listening on" not in err, f"{name}: no 'listening on' line", "none", short(err))


def test_manifest_errors():
    d = scratch_dir("manifest-errors")
    echo = guest("echo.wasm")
    write(os.path.join(d, "unknown-key.yaml"),
          f"workers: 2\napps:\n  - name: x\n    route: /x\n    rout: /y\n    module: {echo}\n")
    expect_startup_error("unknown key", d, "unknown-key.yaml",
                         [r"unknown-key\.yaml:5: ", r"rout"])
    write(os.path.join(d, "bad-size.yaml"),
          f"apps:\n  - name: x\n    route: /x\n    module: {echo}\n    limits:\n      memory: 12XB\n")
    expect_startup_error("bad size", d, "bad-size.yaml",
                         [r"bad-size\.yaml:6: ", r"apps\[0\]\.limits\.memory", r"12XB"])
    write(os.path.join(d, "dup-route.yaml"),
          f"apps:\n  - name: a\n    route: /x\n    module: {echo}\n"
          f"  - name: b\n    route: /x\n    module: {echo}\n")
    expect_startup_error("duplicate route", d, "dup-route.yaml", [r"dup-route\.yaml:[56]: ", r"/x"])
    write(os.path.join(d, "syntax.yaml"), "apps: [\n  {name: x, route: /x\n")
    expect_startup_error("YAML syntax error", d, "syntax.yaml", [r"syntax\.yaml:\d+: "])
    write(os.path.join(d, "no-apps.yaml"), "workers: 2\n")
    expect_startup_error("no apps", d, "no-apps.yaml", [r"no-apps\.yaml:\d+: ", r"apps"])
    write(os.path.join(d, "missing-module.yaml"), "apps:\n  - name: x\n    route: /x\n    module: nothere.wasm\n")
    expect_startup_error("missing module", d, "missing-module.yaml", [r"nothere\.wasm"])
    write(os.path.join(d, "garbage.wasm"), "this is not a wasm module\n")
    write(os.path.join(d, "invalid-module.yaml"), "apps:\n  - name: x\n    route: /x\n    module: garbage.wasm\n")
    expect_startup_error("invalid module", d, "invalid-module.yaml", [r"garbage\.wasm"])
    expect_startup_error("missing module file (single-module mode)", d, "absent.wasm", [r"absent\.wasm"])

    busy = socket.socket()
    busy.bind((HOST, 0))
    busy.listen(1)
    bport = busy.getsockname()[1]
    try:
        port, admin = free_ports(2)
        cmd = [WASP, "serve", *TIER, "--listen", f"{HOST}:{bport}", "--admin", f"{HOST}:{admin}", echo]
        try:
            p = subprocess.run(cmd, cwd=d, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT)
            err = p.stderr.decode("utf-8", "replace")
            R.eq("port busy: exit status", 1, p.returncode, [f"stderr: {err[:300]}"])
            R.check(err.startswith("wasp serve: ") or "\nwasp serve: " in err, "port busy: message",
                    "'wasp serve: <reason>'", short(err))
        except subprocess.TimeoutExpired:
            R.fail("port busy: wasp serve exits", "exit status 1", f"still running after {START_TIMEOUT} s")
    finally:
        busy.close()


def test_tier_manifest():
    """Issue 12: `tier:` per app wins over the server's --tier; a bad one
    stops the start with the line and the key."""
    d = scratch_dir("tier-manifest")
    echo = guest("echo.wasm")
    m = manifest(d, [
        app("fast", "/fast/...", echo, "    tier: native\n"),
        app("slow", "/slow/...", echo, "    tier: interp\n"),
        app("plain", "/plain/...", echo),
    ])
    with Server(m, d, extra=["--cache", os.path.join(d, "cache")]) as s:
        out = s.text()
        for name, word in (("fast", "native, (compiled|from the cache)"), ("slow", "interp"),
                           ("plain", TIER_WORD)):
            R.check(re.search(rf"wasp: app {name} at /{name}/\.\.\. -> \S*echo\.wasm \(wasp, {word}\b", out)
                    is not None, f"{name}: the app line names its tier", f"'(wasp, {word}'",
                    [l for l in out.splitlines() if f"app {name} " in l])
            st, _, body = get(s.port, f"/{name}/x")
            R.eq(f"GET /{name}/x: status", 200, st)
            R.check(b"/x" in body, f"GET /{name}/x: the echo", "a body naming /x", short(body))
    write(os.path.join(d, "bad-tier.yaml"), f"apps:\n  - name: x\n    route: /x\n    module: {echo}\n    tier: jit\n")
    # not a tier: the message lists the three
    expect_startup_error("bad tier", d, "bad-tier.yaml",
                         [r"bad-tier\.yaml:5: ", r"apps\[0\]\.tier", r"\"jit\" is not a tier \(use auto, interp or native"])


def test_tier_auto():
    """Issue 12: tier auto, the default, serves at once with the
    interpreter while a thread compiles, then every instance switches to
    the native code (a trap then names its offset, which only compiled code
    knows); the code is cached, so the next start loads it at once."""
    d = scratch_dir("tier-auto")
    cache = os.path.join(d, "cache")
    m = manifest(d, [app("trap", "/trap", guest("trap.wasm")), app("echo", "/echo/...", guest("echo.wasm"))])
    with Server(m, d, extra=["--tier", "auto", "--cache", cache]) as s:
        out = s.text()
        R.check(re.search(r"wasp: app trap at /trap -> \S*trap\.wasm \(wasp, interp until its native code is compiled\)", out)
                is not None, "auto, nothing cached: the app line says it is interpreted until compiled",
                "'(wasp, interp until its native code is compiled)'", [l for l in out.splitlines() if "app trap" in l])
        st, _, _ = get(s.port, "/trap")
        R.eq("a request while the code compiles (or just after): status", 500, st)
        done = wait_until(lambda: re.search(r"app trap: native code compiled in the background in [0-9.]+ ms; "
                                            r"requests run it from now on", s.text()), 120 * SLOW, 0.1)
        R.check(done is not None, "the background compile says when it is done", "'app trap: native code compiled "
                "in the background in N ms; ...'", s.tail())
        done = wait_until(lambda: re.search(r"app echo: native code compiled in the background", s.text()),
                          120 * SLOW, 0.1)
        R.check(done is not None, "... for every app, one after the other",
                "'app echo: native code compiled in the background'", s.tail())
        # on four connections, so that the instances of both workers are asked
        for i in range(4):
            conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            try:
                st, _, _ = get(s.port, "/trap", conn=conn)
                R.eq(f"after the switch, trap #{i}: status", 500, st)
                st, _, body = get(s.port, "/echo/x", conn=conn)
                R.eq(f"after the switch, echo #{i}: status", 200, st)
            finally:
                conn.close()
        lines = s.wait_access(lambda a: a.get("app") == "trap", 5)
        after = lines[1:]
        R.check(len(after) == 4 and all(re.search(r"unreachable in func\[1\] at offset 0x[0-9a-f]+$", a.get("trap", ""))
                                        for a in after),
                "after the switch every trap names its offset: the instances run native code",
                "4 lines with trap=\"unreachable in func[1] at offset 0x...\"", [a.get("trap") for a in lines])
        entries = [f for f in os.listdir(cache) if f.endswith(".wasp-native")] if os.path.isdir(cache) else []
        R.eq("the compiled code is in the cache, an entry per module", 2, len(entries))
    with Server(m, d, extra=["--tier", "auto", "--cache", cache]) as s:
        out = s.text()
        R.check(re.search(r"wasp: app trap at /trap -> \S*trap\.wasm \(wasp, native, from the cache\)", out)
                is not None, "auto, cached: the next start runs the cached code at once",
                "'(wasp, native, from the cache)'", [l for l in out.splitlines() if "app trap" in l])
        R.check("compiled in the background" not in out, "... and compiles nothing", "no background compile", s.tail())


# --- 5. limits ----------------------------------------------------------------


def test_limits():
    d = scratch_dir("limits")
    m = manifest(d, [
        app("trap", "/trap", guest("trap.wasm")),
        app("loop", "/loop", guest("loop.wasm"), "    limits:\n      deadline_ms: 200\n"),
        app("grow", "/grow", guest("grow.wasm"), "    limits:\n      memory: 1MiB\n"),
        app("growfree", "/growfree", guest("grow.wasm")),
        app("oob", "/oob", guest("oob.wasm")),
        app("echo", "/echo/...", guest("echo.wasm")),
    ])
    allowed_ms = 200 + (1000 if ASAN else 50)
    with Server(m, d) as s:
        for i in range(4):  # on four connections, so that both workers trap
            conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            try:
                st, _, body = get(s.port, "/trap", conn=conn)
                R.eq(f"trap #{i}: status", 500, st)
                R.check(b"partial" not in body, f"trap #{i}: the body written before the trap is not sent",
                        "no 'partial'", short(body))
                st, _, _ = get(s.port, "/echo/after-trap", conn=conn)
                R.eq(f"trap #{i}: the next request on the same connection", 200, st)
            except OSError as e:
                R.fail(f"trap #{i}: requests on one connection", "two answers", f"{type(e).__name__}: {e}")
            finally:
                conn.close()
        lines = s.wait_access(lambda a: a.get("app") == "trap", 4)
        R.check(len(lines) == 4 and all(a.get("status") == "500" and a.get("trap") for a in lines),
                "access log: every trap line has status=500 and trap=\"...\"", "4 such lines",
                [(a.get("status"), a.get("trap")) for a in lines])
        # the place: wasp_handle is function 1 (after the import); compiled
        # code knows the instruction too
        R.check(all("unreachable in func[1]" in a.get("trap", "") for a in lines),
                "access log: the trap names its function", "unreachable in func[1]...",
                [a.get("trap") for a in lines])

        for i in range(3):
            conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            try:
                get(s.port, "/echo/warm", conn=conn)
                if i == 2:
                    # the engine's ticker sleeps after 100 ms without a
                    # timed call: this deadline must wake it
                    time.sleep(0.5)
                t0 = time.monotonic()
                st, _, _ = get(s.port, "/loop", conn=conn)
                ms = (time.monotonic() - t0) * 1000
                R.eq(f"infinite loop with deadline_ms 200 (#{i}): status", 504, st)
                R.check(190 <= ms <= allowed_ms, f"infinite loop (#{i}): the 504 arrives after the deadline",
                        f"190..{allowed_ms} ms after the request", f"{ms:.0f} ms")
                st, _, _ = get(s.port, "/echo/after-loop", conn=conn)
                R.eq(f"infinite loop (#{i}): the next request on the same connection", 200, st)
            except OSError as e:
                R.fail(f"infinite loop (#{i}): requests on one connection", "answers", f"{type(e).__name__}: {e}")
            finally:
                conn.close()
        lines = s.wait_access(lambda a: a.get("app") == "loop", 3)
        R.check(len(lines) == 3 and all(a.get("status") == "504" and a.get("trap") for a in lines),
                "access log: every deadline line has status=504 and trap=\"...\"", "3 such lines",
                [(a.get("status"), a.get("trap")) for a in lines])

        conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
        st, _, body = get(s.port, "/grow", conn=conn)
        R.eq("memory.grow past limits.memory 1MiB: status", 200, st)
        R.eq("memory.grow past the limit gives -1, within it succeeds", b"big=-1 small=1 pages=2", body)
        st, _, _ = get(s.port, "/echo/after-grow", conn=conn)
        R.eq("after the refused memory.grow, the next request", 200, st)
        conn.close()
        st, _, body = get(s.port, "/growfree")
        R.eq("memory.grow by 2 MiB with the default limit", b"big=1 small=33 pages=34", body)

        conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
        st, _, _ = get(s.port, "/oob", conn=conn)
        R.eq("resp_body with an out-of-bounds pointer: status", 500, st)
        st, _, _ = get(s.port, "/echo/after-oob", conn=conn)
        R.eq("after the out-of-bounds pointer, the next request", 200, st)
        conn.close()
        s.stop()


# --- 6. isolation -------------------------------------------------------------


def workers_seen(s, app_name):
    return {a.get("worker") for a in s.access() if a.get("app") == app_name}


def test_isolation():
    d = scratch_dir("isolation")
    m = manifest(d, [app("iso", "/iso", guest("isolation.wasm")), app("isoc", "/isoc", guest("isolation_c.wasm"))])
    expect_wat = b"initial-content-0123456789abcdef g=7 pages=1"
    with Server(m, d) as s:
        bad, errors, count = [], [], [0]
        first_c = []
        lock = threading.Lock()

        def client(t):
            conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            try:
                for i in range(8):
                    secret = f"SECRET-{t}-{i}-{random.randrange(10**8)}".encode()
                    for path in ("/iso", "/isoc"):
                        st, _, body = get(s.port, path, conn=conn, method="POST", body=secret)
                        with lock:
                            count[0] += 1
                            if path == "/iso" and (st != 200 or body != expect_wat):
                                bad.append((path, st, body))
                            if path == "/isoc":
                                if not first_c:
                                    first_c.append(body)
                                if st != 200 or body != first_c[0] or b"SECRET" in body:
                                    bad.append((path, st, body))
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
            finally:
                conn.close()

        rounds = 0
        while True:
            threads = [threading.Thread(target=client, args=(rounds * 8 + t,)) for t in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rounds += 1
            s.wait_access(lambda a: a.get("app") == "isoc", count[0] // 2, 2 * SLOW)
            if len(workers_seen(s, "iso")) >= 2 or rounds >= 5 or errors:
                break
        R.check(count[0] >= 100, "requests answered", ">= 100", count[0])
        R.eq("request failures", [], errors[:3])
        R.check(not bad, "every answer shows the initial state, never an earlier request's",
                f"/iso: {expect_wat!r}; /isoc: the same every time", bad[:3])
        if first_c:
            R.check(re.match(rb"^buf=c-initial counter=0 heap=\d+$", first_c[0]) is not None,
                    "/isoc (C reactor): the static buffer, the counter set by the constructor",
                    "buf=c-initial counter=0 heap=<address>", short(first_c[0]))
        R.check(len(workers_seen(s, "iso")) >= 2, "requests on 8 connections per round reached both workers",
                "workers 0 and 1 in the access log", sorted(workers_seen(s, "iso")))
        s.stop()


# --- 7. pre-initialisation ----------------------------------------------------


def test_preinit():
    d = scratch_dir("preinit")
    os.makedirs(os.path.join(d, "state"))
    m = manifest(d, [
        app("init", "/init", guest("initapp.wasm"),
            "    init: init\n    dirs:\n      - {host: state, guest: /state, readonly: false}\n"),
        app("noinit", "/noinit", guest("initapp.wasm")),
    ])
    log = os.path.join(d, "state", "init.log")
    with Server(m, d) as s:
        results, errors = [], []
        lock = threading.Lock()

        def client():
            conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            try:
                for _ in range(3):
                    r = get(s.port, "/init", conn=conn)
                    with lock:
                        results.append(r[:1] + r[2:])
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
            finally:
                conn.close()

        for _ in range(4):
            threads = [threading.Thread(target=client) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            s.wait_access(lambda a: a.get("app") == "init", len(results), 2 * SLOW)
            if len(workers_seen(s, "init")) >= 2 and len(results) >= 20:
                break
        R.eq("request failures", [], errors[:3])
        wrong = [r for r in results if r != (200, b"mem=from-init g=42")]
        R.check(len(results) >= 20 and not wrong, "every request sees what init wrote (memory and global)",
                ">= 20 x (200, b'mem=from-init g=42')", wrong[:3] or len(results))
        R.check(len(workers_seen(s, "init")) >= 2, "the requests reached both workers",
                "workers 0 and 1 in the access log", sorted(workers_seen(s, "init")))
        st, _, body = get(s.port, "/noinit")
        R.eq("the same module without init: the data segment and global as declared", b"mem=unset g=0", body)
        try:
            with open(log) as f:
                content = f.read()
        except OSError as e:
            content = f"({e})"
        R.eq("init ran once: init.log in the granted directory", "init ran\n", content)
        s.stop()


# --- 8. graceful shutdown -----------------------------------------------------

SLOW_BODY = bytes(97 + i % 26 for i in range(65536))


def conn_per_worker(s, tries=24):
    """One open keep-alive connection on each of the two workers: the
    access log says which worker served a probe on each new connection (a
    connection stays with the worker that accepted it). Returns the two
    connections; the others are closed."""
    tag = random.randrange(10**9)
    conns, pick, by_worker = [], [], {}
    try:
        for i in range(tries):
            c = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
            conns.append(c)
            get(s.port, f"/echo/probe-{tag}-{i}", conn=c)
            if i % 4 != 3:
                continue
            lines = s.wait_access(lambda a: a.get("path", "").startswith(f"/echo/probe-{tag}-"), i + 1)
            for a in lines:
                by_worker.setdefault(a.get("worker"), conns[int(a["path"].rsplit("-", 1)[1])])
            if len(by_worker) >= 2:
                pick = list(by_worker.values())[:2]
                return pick
        R.fail("a connection on each worker", "probes served by 2 workers",
               f"{tries} connections all served by worker(s) {sorted(by_worker)}")
        raise Abort()
    finally:
        for c in conns:
            if c not in pick:
                c.close()


def test_shutdown():
    d = scratch_dir("shutdown")
    m = manifest(d, [app("slow", "/slow", guest("slow.wasm")), app("echo", "/echo/...", guest("echo.wasm"))])
    with Server(m, d) as s:
        idle = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
        st, _, _ = get(s.port, "/echo/idle", conn=idle)  # an idle keep-alive connection
        R.eq("a request before the shutdown", 200, st)
        # One slow request on each worker, so that both run at once (a
        # worker runs one handler at a time: two on one worker would queue).
        pair = conn_per_worker(s)
        results = [None, None]

        def slow(i):
            try:
                results[i] = get(s.port, "/slow", conn=pair[i]) + (time.monotonic(),)
            except Exception as e:  # noqa: BLE001
                results[i] = (None, None, f"{type(e).__name__}: {e}", time.monotonic())

        threads = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.25)  # the handlers spin 700 ms of wall-clock time, ASan or not
        t_term = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        # Stopped accepting: a new connection now is refused or never answered.
        try:
            buf, _ = raw_exchange(s.port, b"GET /echo/late HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3 * SLOW)
        except OSError:
            buf = b""  # refused: what stopping accepting looks like
        R.check(status_of(buf) is None, "a connection made during the drain is not served",
                "refused or closed without a response", short(buf[:60]))
        st, _, body = try_get(s.admin, "/readyz", timeout=3 * SLOW)
        R.check(st in (None, 503), "/readyz while draining", "503 (or the admin listener closed)", st)
        for t in threads:
            t.join(HTTP_TIMEOUT + 5)
        for c in pair:
            c.close()
        for i, r in enumerate(results):
            if r is None:
                R.fail(f"in-flight request #{i}", "an answer", "none")
                continue
            st, _, body, t_done = r
            R.eq(f"in-flight request #{i}: status", 200, st)
            R.check(body == SLOW_BODY, f"in-flight request #{i}: the full 65536-byte body",
                    "65536 bytes a..z", short(body) if not isinstance(body, bytes) else f"{len(body)} bytes")
            R.check(t_done > t_term, f"in-flight request #{i} was still running at SIGTERM (test setup)",
                    "an answer after SIGTERM", f"answered {(t_term - t_done) * 1000:.0f} ms before")
        try:
            rc = s.proc.wait(timeout=STOP_TIMEOUT)
            s.stopped = True
            if not s.check_sanitizer():
                R.eq("exit status after SIGTERM with requests in flight and an idle connection", 0, rc, s.tail())
            s.check_log_lines()
        except subprocess.TimeoutExpired:
            R.fail("exit after SIGTERM", f"an exit within {STOP_TIMEOUT} s", "still running", s.tail())
        idle.close()
        R.check(not port_open(s.port), "new connections are refused after the exit", "refused", "accepted")
        lines = s.wait_access(lambda a: a.get("app") == "slow", 2, 1)
        R.eq("access log lines for the two slow requests (status 200)", ["200", "200"],
             [a.get("status") for a in lines])


def port_open(port):
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return True
    except OSError:
        return False


# --- 9. SIGHUP reload ---------------------------------------------------------


def test_reload():
    d = scratch_dir("reload")
    shutil.copy(guest("v1.wasm"), os.path.join(d, "a.wasm"))
    shutil.copy(guest("v2.wasm"), os.path.join(d, "b.wasm"))
    path = manifest(d, [app("v", "/v", "a.wasm")])

    def rewrite(text):
        tmp = path + ".tmp"
        write(tmp, text)
        os.replace(tmp, path)

    with Server(path, d) as s:
        stop = threading.Event()
        seqs = {"keep-alive": [], "new-connection": []}
        failures = []
        lock = threading.Lock()

        def client(kind):
            conn = None
            while not stop.is_set():
                try:
                    if kind == "keep-alive" and conn is None:
                        conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
                    st, _, body = get(s.port, "/v", conn=conn)
                    with lock:
                        if st != 200:
                            failures.append((kind, st, body))
                        seqs[kind].append(body.decode("latin-1"))
                except Exception as e:  # noqa: BLE001
                    with lock:
                        failures.append((kind, f"{type(e).__name__}: {e}"))
                    if conn:
                        conn.close()
                        conn = None
            if conn:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in seqs]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: all(len(v) >= 10 for v in seqs.values()), 10 * SLOW)
            rewrite("apps:\n  - name: v\n    route: /v\n    module: b.wasm\n")
            s.proc.send_signal(signal.SIGHUP)

            def switched():
                with lock:
                    return all("v2" in v and len(v) - v.index("v2") >= 20 for v in seqs.values())

            wait_until(switched, 20 * SLOW)
        finally:
            stop.set()
            for t in threads:
                t.join(HTTP_TIMEOUT + 5)
        R.eq("requests that failed during the reload", [], failures[:3])
        for kind, seq in seqs.items():
            R.check(seq[:1] == ["v1"], f"{kind}: answers before the reload", "v1", seq[:1])
            R.check("v2" in seq, f"{kind}: answers switch to v2 after SIGHUP", "v2 among the answers",
                    f"{len(seq)} answers, last {seq[-3:]}")
            if "v2" in seq:
                i = seq.index("v2")
                back = [x for x in seq[i:] if x != "v2"]
                R.check(not back, f"{kind}: after the first v2, only v2", "only v2", back[:3])
            other = [x for x in seq if x not in ("v1", "v2")]
            R.check(not other, f"{kind}: every answer is v1 or v2", "v1 or v2", other[:3])
        st, ms = s.metrics()
        R.eq("/metrics wasp_reloads_total after one reload", 1.0, metric_sum(ms, "wasp_reloads_total"))

        before = len(s.text())
        rewrite("apps:\n  - name: v\n    route: /v\n    modul: a.wasm\n")
        s.proc.send_signal(signal.SIGHUP)
        logged = wait_until(lambda: re.search(r"wasp\.yaml:\d+:", s.text()[before:]), 10 * SLOW)
        R.check(logged is not None, "a failed reload logs the manifest error", "'wasp.yaml:LINE: ...'",
                short(s.text()[before:]))
        answers = [try_get(s.port, "/v")[::2] for _ in range(10)]
        R.eq("after a failed reload the old config (v2) goes on", [(200, b"v2")] * 10, answers)
        s.stop()


# --- 10. hostile HTTP ---------------------------------------------------------


def test_hostile():
    d = scratch_dir("hostile")
    m = manifest(d, [app("echo", "/echo/...", guest("echo.wasm"))])
    with Server(m, d, extra=["--max-body", "1024"]) as s:
        stop = threading.Event()
        bg = {"ok": 0, "bad": []}

        def background():
            conn = None
            while not stop.is_set():
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(HOST, s.port, timeout=HTTP_TIMEOUT)
                    st, _, _ = get(s.port, "/echo/bg", conn=conn)
                    if st == 200:
                        bg["ok"] += 1
                    else:
                        bg["bad"].append(st)
                except Exception as e:  # noqa: BLE001
                    bg["bad"].append(f"{type(e).__name__}: {e}")
                    if conn:
                        conn.close()
                    conn = None
                time.sleep(0.02)
            if conn:
                conn.close()

        bgt = threading.Thread(target=background)
        bgt.start()
        try:
            hostile_requests(s)
        finally:
            stop.set()
            bgt.join(HTTP_TIMEOUT + 5)
        R.eq("the client on its own connection during all of it: failures", [], bg["bad"][:3])
        R.check(bg["ok"] >= 10, "the client on its own connection kept getting 200s", ">= 10", bg["ok"])
        st, _, _ = try_get(s.admin, "/healthz")
        R.eq("/healthz afterwards", 200, st)
        st, _, _ = try_get(s.port, "/echo/final")
        R.eq("a normal request afterwards", 200, st)
        s.stop()


def hostile_requests(s):
    p = s.port
    for name, data in [
        ("a request line that is not HTTP", b"THIS IS NOT HTTP\r\n\r\n"),
        ("a request line with no version", b"GET\r\n\r\n"),
        ("a header line without a colon", b"GET /echo/x HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
        ("a Content-Length that is not a number", b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ]:
        buf, err = raw_exchange(p, data)
        R.eq(f"{name}: status", 400, status_of(buf), [f"read: {short(buf[:80])} {err or ''}"])

    big = b"GET /echo/x HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70)) + b"\r\n"
    buf, err = raw_exchange(p, big)
    st = status_of(buf)
    R.check(st in (400, 413, 431), "a 70 KB header section: status", "431, 400 or 413", st,
            [f"read: {short(buf[:80])} {err or ''}"])
    one = b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-One: " + b"b" * 70000 + b"\r\n\r\n"
    buf, err = raw_exchange(p, one)
    st = status_of(buf)
    R.check(st in (400, 413, 431), "one 70 KB header line: status", "431, 400 or 413", st,
            [f"read: {short(buf[:80])} {err or ''}"])

    # After refusing an oversized header section the connection is either
    # closed or still in step: a request pipelined behind it is answered as
    # itself, never parsed from the middle of the refused headers.
    second = b"GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n"
    buf, err = raw_exchange(p, big + second, responses=2)
    r1 = split_response(buf)
    r2 = split_response(r1[3]) if r1 else None
    R.check(r1 is not None and 400 <= r1[0] < 500 and (r2 is None or (r2[0] == 200 and b"uri=/echo/second" in r2[2])),
            "a request pipelined after a 70 KB header section", "a 4xx, then its own 200 or the end",
            short(re.findall(rb"HTTP/1\.1 \d+|uri=\S+", buf)) + (f" {err}" if err else ""))

    st, _, body = try_get(p, "/echo/x", method="POST", body=b"z" * 2000)
    R.eq("a 2000-byte body with --max-body 1024: status", 413, st)
    st, _, body = try_get(p, "/echo/x", method="POST", body=b"z" * 1024)
    R.eq("a 1024-byte body with --max-body 1024: status", 200, st)
    R.check(isinstance(body, bytes) and b"\nbody-len=1024\n" in body, "... the body arrives",
            "body-len=1024", short(body)[:100])
    chunked = b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + \
        b"".join(b"200\r\n" + b"c" * 512 + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    buf, err = raw_exchange(p, chunked)
    R.eq("a 2048-byte chunked body with --max-body 1024: status", 413, status_of(buf),
         [f"read: {short(buf[:80])} {err or ''}"])
    chunked_ok = b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + \
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    buf, err = raw_exchange(p, chunked_ok)
    r = split_response(buf)
    R.eq("a small chunked body: status", 200, r[0] if r else None, [f"read: {short(buf[:80])} {err or ''}"])
    R.check(r is not None and b"\nbody-len=11\nbody=hello world\n" in r[2], "a small chunked body arrives whole",
            "body-len=11 body=hello world", short(r[2][:120]) if r else None)

    two = b"GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/two HTTP/1.1\r\nHost: x\r\n\r\n"
    buf, err = raw_exchange(p, two, responses=2)
    r1 = split_response(buf)
    r2 = split_response(r1[3]) if r1 else None
    R.check(r1 is not None and r2 is not None and b"uri=/echo/one" in r1[2] and b"uri=/echo/two" in r2[2],
            "two pipelined requests: two answers in order", "uri=/echo/one then uri=/echo/two",
            short(buf[:200]) + (f" {err}" if err else ""))

    # Slowloris: connections that send part of a request and stall (in the
    # header, and in the body), while fresh clients must still be served.
    stalled = []
    try:
        for i in range(16):
            c = socket.create_connection((HOST, p), timeout=10)
            if i % 4 == 3:
                c.sendall(b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
            else:
                c.sendall(b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Partial: abc")
            stalled.append(c)
        time.sleep(0.2)
        slow_ok, slow_bad = 0, []
        for i in range(20):
            t0 = time.monotonic()
            st, _, _ = try_get(p, f"/echo/during-slowloris/{i}", timeout=5 * SLOW)
            if st == 200:
                slow_ok += 1
            else:
                slow_bad.append((st, f"{time.monotonic() - t0:.1f} s"))
        R.check(slow_ok == 20, "20 fresh clients served while 16 connections stall mid-request",
                "20 x 200 within 5 s each", f"{slow_ok}; failures: {slow_bad[:3]}")
        # A client trickling its header one byte every 50 ms does not hold others up either.
        trickle = socket.create_connection((HOST, p), timeout=10)
        stalled.append(trickle)
        req = b"GET /echo/trickle HTTP/1.1\r\nHost: x\r\n\r\n"
        t_other = []
        for i, byte in enumerate(req):
            trickle.sendall(bytes([byte]))
            if i % 10 == 0:
                st, _, _ = try_get(p, "/echo/beside-trickle", timeout=5 * SLOW)
                t_other.append(st)
            time.sleep(0.05)
        R.eq("clients served while another trickles its request", [200] * len(t_other), t_other)
        trickle.settimeout(10 * SLOW)
        buf = b""
        while split_response(buf) is None:
            try:
                chunk = trickle.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
        R.eq("the trickled request is answered in the end", 200, status_of(buf))
    finally:
        for c in stalled:
            c.close()


# --- 11. admin ----------------------------------------------------------------


def test_admin():
    d = scratch_dir("admin")
    m = manifest(d, [app("echo", "/echo/...", guest("echo.wasm")), app("trap", "/trap", guest("trap.wasm"))])
    with Server(m, d) as s:
        st, _, body = get(s.admin, "/healthz")
        R.eq("/healthz status", 200, st)
        R.eq("/healthz body", "ok", body.decode("latin-1").strip())
        ok = wait_until(lambda: get(s.admin, "/readyz")[0] == 200, 10 * SLOW)
        st, _, body = get(s.admin, "/readyz")
        R.check(ok, "/readyz status once the workers serve", 200, st)
        R.eq("/readyz body", "ready", body.decode("latin-1").strip())
        st, _, _ = get(s.admin, "/nothing-here")
        R.eq("an unknown admin path", 404, st)

        for _ in range(3):
            get(s.port, "/echo/x")
        for _ in range(2):
            get(s.port, "/trap")
        get(s.port, "/echo/x", headers={"X-Status": "418"})

        def counted():
            st, ms = s.metrics()
            ok = (st == 200 and (metric_sum(ms, "wasp_requests_total", app="echo", status="200") or 0) >= 3
                  and (metric_sum(ms, "wasp_requests_total", app="trap", status="500") or 0) >= 2
                  and (metric_sum(ms, "wasp_traps_total", app="trap") or 0) >= 2)
            return ms if ok else None

        ms = wait_until(counted, 5 * SLOW, 0.2)
        st, h, body = get(s.admin, "/metrics")
        R.eq("/metrics status", 200, st)
        R.check((h.get("Content-Type") or "").startswith("text/plain"), "/metrics Content-Type",
                "text/plain; version=0.0.4", h.get("Content-Type"))
        ms = parse_metrics(body.decode("utf-8", "replace"))
        R.eq('wasp_requests_total{app="echo",status="200"}', 3.0,
             metric_sum(ms, "wasp_requests_total", app="echo", status="200"))
        R.eq('wasp_requests_total{app="echo",status="418"}', 1.0,
             metric_sum(ms, "wasp_requests_total", app="echo", status="418"))
        R.eq('wasp_requests_total{app="trap",status="500"}', 2.0,
             metric_sum(ms, "wasp_requests_total", app="trap", status="500"))
        traps = [(ls, v) for n, ls, v in ms if n == "wasp_traps_total" and ls.get("app") == "trap"]
        R.check(sum(v for _, v in traps) == 2 and all(ls.get("kind") for ls, _ in traps),
                'wasp_traps_total{app="trap",kind="..."}', "2 in all, each with a kind", traps)
        R.eq("wasp_request_duration_seconds_count{app=\"echo\"}", 4.0,
             metric_sum(ms, "wasp_request_duration_seconds_count", app="echo"))
        R.check(metric_sum(ms, "wasp_request_duration_seconds_bucket", app="echo", le="+Inf") == 4.0,
                'wasp_request_duration_seconds_bucket{app="echo",le="+Inf"}', 4.0,
                metric_sum(ms, "wasp_request_duration_seconds_bucket", app="echo", le="+Inf"))
        for name in ("wasp_instantiate_seconds_count", "wasp_pool_instances", "wasp_connections",
                     "wasp_reloads_total"):
            R.check(any(n == name for n, _, _ in ms), f"/metrics has {name}", name, "missing")
        R.eq("wasp_reloads_total before any reload", 0.0, metric_sum(ms, "wasp_reloads_total"))
        states = {ls.get("state") for n, ls, _ in ms if n == "wasp_pool_instances"}
        R.check(states <= {"idle", "busy"} and states, 'wasp_pool_instances{state="idle|busy"}',
                "idle and/or busy", states)
        s.stop()


# --- main ---------------------------------------------------------------------

TESTS = [
    ("wasp-abi", test_wasp_abi),
    ("wagi", test_wagi),
    ("routing", test_routing),
    ("manifest-errors", test_manifest_errors),
    ("tier-manifest", test_tier_manifest),
    ("tier-auto", test_tier_auto),
    ("limits", test_limits),
    ("isolation", test_isolation),
    ("preinit", test_preinit),
    ("shutdown", test_shutdown),
    ("reload", test_reload),
    ("hostile", test_hostile),
    ("admin", test_admin),
]

import caps_test  # noqa: E402 - the capability tests (caps_test.py), run with this module's helpers

TESTS += caps_test.register(sys.modules[__name__])

import sql_http_test  # noqa: E402 - SQL and outbound HTTP (sql_http_test.py), run with this module's helpers

TESTS += sql_http_test.register(sys.modules[__name__])

import signals_test  # noqa: E402 - SIGTERM against guests that will not finish (signals_test.py)

TESTS += signals_test.register(sys.modules[__name__])

import limits_test  # noqa: E402 - limits a module cannot get past (limits_test.py)

TESTS += limits_test.register(sys.modules[__name__])

import wasi_test  # noqa: E402 - what an app does through WASI alone (wasi_test.py), with these helpers

TESTS += wasi_test.register(sys.modules[__name__])

import http_audit_test  # noqa: E402 - issue 10's HTTP and WAGI findings (http_audit_test.py)

TESTS += http_audit_test.register(sys.modules[__name__])

import concurrency_test  # noqa: E402 - requests that wait do not hold their worker (concurrency_test.py)

TESTS += concurrency_test.register(sys.modules[__name__])

import pipelines_test  # noqa: E402 - a manifest's pipelines beside its apps (pipelines_test.py)

TESTS += pipelines_test.register(sys.modules[__name__])

import observe_test  # noqa: E402 - backtraces, profiles (observe_test.py)

TESTS += observe_test.register(sys.modules[__name__])

import deploy_test  # noqa: E402 - settings from the environment, JSON logs, /readyz (deploy_test.py)

TESTS += deploy_test.register(sys.modules[__name__])

import scaleout_test  # noqa: E402 - three replicas behind HAProxy sharing Redis and PostgreSQL (scaleout_test.py)

TESTS += scaleout_test.register(sys.modules[__name__])


def main():
    global WASP, GUESTS, SCRATCH, TIER, TIER_WORD
    ap = argparse.ArgumentParser(description="end-to-end tests of wasp serve")
    ap.add_argument("--wasp", required=True)
    ap.add_argument("--guests", required=True)
    ap.add_argument("--build-failures", type=int, default=0)
    ap.add_argument("--tier", choices=["interp", "native"], default="interp")
    ap.add_argument("filter", nargs="?", default="")
    args = ap.parse_args()
    WASP = os.path.abspath(args.wasp)
    GUESTS = os.path.abspath(args.guests)
    R.failed += args.build_failures
    SCRATCH = tempfile.mkdtemp(prefix="wasp-serve-test.")
    if args.tier == "native":
        TIER = ["--tier", "native", "--cache", os.path.join(SCRATCH, "cache")]
        TIER_WORD = "native"
    failed_before = R.failed
    try:
        for name, fn in TESTS:
            if args.filter and args.filter not in name:
                continue
            R.test = name
            try:
                fn()
            except Abort:
                pass
            except Exception as e:  # noqa: BLE001 - report and go on
                R.fail("the test itself stopped", "no exception", f"{type(e).__name__}: {e}",
                       traceback.format_exc().splitlines()[-6:])
    finally:
        if R.failed > failed_before:
            print(f"      (server logs kept in {SCRATCH})", file=sys.stderr)
        else:
            shutil.rmtree(SCRATCH, ignore_errors=True)
    print(f"serve: {'native tier: ' if TIER_WORD == 'native' else ''}{R.passed} passed, {R.failed} failed")
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
