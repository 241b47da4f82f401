"""caps_test.py - end-to-end tests of the capabilities a `wasp serve` app is
granted in its manifest (docs/capabilities.md): key-value stores on SQLite
and on a real Redis, variables (literal, environment, encrypted secrets),
the guest's log, and what happens when wasp is killed with SIGKILL or Redis
goes away.

serve_test.py imports this module and runs the tests register() returns
with its own helpers (Server, get, R, ...); run it through tests/serve/run.sh:

    bash tests/serve/run.sh build/wasp caps       only these tests

Every test drives guests/caps.c, which puts each capability import behind a
URL (`/.../get?s=STORE&k=KEY`, `set`, `del`, `exists`, `incr`, `list`,
`var`, `log`) and answers with X-Step (the call that answered) and X-Rc
(what it returned): 200 success, 404 an absent key, 403 a -1 from kv_open
or var_get, 503 a -2; for 403 and 503 the body is err_message.

Tests that need Redis start `redis-server` on a free loopback port, without
persistence, as a child process, and stop it afterwards. A missing
redis-server is a failure, never a skip.
"""

import collections
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

S = None  # the serve_test module, set by register()


def register(serve_test):
    """The capability tests as (name, function) pairs for serve_test's
    list; serve_test is the module whose helpers they use."""
    global S
    S = serve_test
    return [
        ("caps-kv", test_kv),
        ("caps-deny", test_deny),
        ("caps-vars", test_vars),
        ("caps-log", test_log),
        ("caps-kill9", test_kill9),
        ("caps-redis-down", test_redis_down),
        ("caps-deadline", test_deadline),
    ]


# --- helpers ------------------------------------------------------------------

Answer = collections.namedtuple("Answer", "status rc step body")


def path_of(route, cmd, **params):
    q = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return f"{route}/{cmd}" + (f"?{q}" if q else "")


def call(port, route, cmd, body=None, conn=None, **params):
    """One command to guests/caps.c under route: an Answer, with status None
    and the exception as body when the request itself failed."""
    st, h, data = S.try_get(port, path_of(route, cmd, **params), conn=conn,
                            method="GET" if body is None else "POST", body=body)
    if st is None:
        return Answer(None, None, None, data)
    return Answer(st, h.get("X-Rc"), h.get("X-Step"), data)


def text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


class environ:
    """`with environ(NAME=value, ...):` - the variables are in os.environ
    (and so in a server started inside) until the block ends."""

    def __init__(self, **kv):
        self.kv = kv

    def __enter__(self):
        self.old = {k: os.environ.get(k) for k in self.kv}
        os.environ.update(self.kv)

    def __exit__(self, *exc):
        for k, v in self.old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


def startup_error(name, d, target, patterns, forbidden=()):
    """wasp serve on target must exit 1 with a `wasp serve: ` message
    matching every pattern and containing none of the forbidden strings."""
    port, admin = S.free_ports(2)
    cmd = [S.WASP, "serve", *S.TIER, "--listen", f"{S.HOST}:{port}", "--admin", f"{S.HOST}:{admin}", target]
    try:
        p = subprocess.run(cmd, cwd=d, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=S.START_TIMEOUT)
    except subprocess.TimeoutExpired:
        S.R.fail(f"{name}: wasp serve exits", "exit status 1", f"still running after {S.START_TIMEOUT} s")
        return
    err = text(p.stdout + p.stderr)
    R = S.R
    R.eq(f"{name}: exit status", 1, p.returncode, [f"output: {line}" for line in err.splitlines()[:5]])
    R.check(re.search(r"^wasp serve: ", err, re.M) is not None, f"{name}: message starts 'wasp serve: '",
            "'wasp serve: <reason>'", S.short(err))
    for pat in patterns:
        R.check(re.search(pat, err) is not None, f"{name}: the message", f"/{pat}/", S.short(err))
    for f in forbidden:
        R.check(f not in err, f"{name}: the message does not show a secret's value", "not there",
                "it is there: " + S.short(err))


def wasp_secrets(d, *args, stdin=None):
    """Runs `wasp secrets ARGS` in d; a failure is reported and ends the test."""
    p = subprocess.run([S.WASP, "secrets", *args], cwd=d, input=stdin, capture_output=True,
                       timeout=S.START_TIMEOUT)
    if p.returncode != 0:
        S.R.fail(f"wasp secrets {' '.join(args[:-1] if stdin is None else args)}: exit status", 0,
                 p.returncode, [text(p.stderr).strip()])
        raise S.Abort()
    return p


# --- a real Redis -------------------------------------------------------------


def redis_reply(buf, pos=0):
    """(value, next position) of the RESP reply at buf[pos:], or None when
    it is not all there. Errors come back as ('ERR', message)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return None
    kind, line, nxt = buf[pos:pos + 1], buf[pos + 1:end], end + 2
    if kind == b"+":
        return line.decode(), nxt
    if kind == b"-":
        return ("ERR", line.decode()), nxt
    if kind == b":":
        return int(line), nxt
    if kind == b"$":
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            return None
        return buf[nxt:nxt + n], nxt + n + 2
    if kind == b"*":
        n, items = int(line), []
        for _ in range(max(n, 0)):
            r = redis_reply(buf, nxt)
            if r is None:
                return None
            items.append(r[0])
            nxt = r[1]
        return items, nxt
    raise ValueError(f"not a RESP reply: {buf[pos:pos + 40]!r}")


def redis_cmd(port, *args, timeout=2):
    """One command to the Redis on port; its reply (raises OSError when
    Redis is not there)."""
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else str(x).encode() for x in args))
    with socket.create_connection((S.HOST, port), timeout=timeout) as c:
        c.sendall(req)
        buf = b""
        while True:
            r = redis_reply(buf)
            if r is not None:
                return r[0]
            chunk = c.recv(65536)
            if not chunk:
                raise OSError("Redis closed the connection")
            buf += chunk


class Redis:
    """`with Redis(dir) as r:` - a redis-server on a free loopback port (r.port),
    no persistence, its output in dir; stop() and start() again on the same
    port; killed at the end of the block."""

    def __init__(self, d):
        self.d = d
        self.port = S.free_ports(1)[0]
        self.proc = None
        self.logf = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def start(self):
        exe = shutil.which("redis-server")
        if not exe:
            S.R.fail("redis-server is installed", "redis-server on PATH (bash scripts/setup.sh installs it)",
                     "not found")
            raise S.Abort()
        self.logf = open(os.path.join(self.d, f"redis-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", S.HOST, "--save", "",
                                      "--appendonly", "no", "--dir", self.d],
                                     cwd=self.d, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                return "exited"
            try:
                return "up" if redis_cmd(self.port, "PING") == "PONG" else None
            except OSError:
                return None

        state = S.wait_until(up, S.START_TIMEOUT, 0.05)
        if state != "up":
            S.R.fail(f"redis-server starts on port {self.port}", "PONG",
                     f"exit status {self.proc.returncode}" if state == "exited" else "no answer",
                     [f"redis: {line}" for line in self.log_text().splitlines()[-5:]])
            raise S.Abort()

    def log_text(self):
        with open(os.path.join(self.d, f"redis-{self.port}.log"), "rb") as f:
            return text(f.read())

    def stop(self):
        S.end_process(self.proc)
        if self.logf:
            self.logf.close()
            self.logf = None

    def kill(self):
        S.end_process(self.proc, signal.SIGKILL)
        self.stop()


def redis_store(name, port, prefix=None):
    return (f"  {name}:\n    backend: redis\n    url: redis://{S.HOST}:{port}/0\n"
            + (f'    prefix: "{prefix}"\n' if prefix else ""))


def caps_app(name, route, extra=""):
    return S.app(name, route, S.guest("caps.wasm"), extra)


# --- 1. key-value stores, on both backends --------------------------------------


def test_kv():
    d = S.scratch_dir("caps-kv")
    with Redis(d) as rd:
        top = ("stores:\n  sq:\n    backend: sqlite\n    path: data/kv.db\n"
               + redis_store("rd", rd.port, "wt:"))
        os.makedirs(os.path.join(d, "data"))
        m = S.manifest(d, [caps_app("kv", "/kv/...", "    kv: [sq, rd]\n")], top=top)
        with S.Server(m, d) as s:
            for store, label in (("sq", "sqlite"), ("rd", "redis")):
                kv_checks(s, store, label)
            R = S.R
            R.check(os.path.exists(os.path.join(d, "data", "kv.db")), "sqlite: the store's file",
                    "data/kv.db next to the manifest", sorted(os.listdir(d)))
            try:
                raw = redis_cmd(rd.port, "GET", "wt:k2")
                bare = redis_cmd(rd.port, "EXISTS", "k2")
            except OSError as e:
                raw, bare = f"{type(e).__name__}: {e}", None
            R.eq("redis: key k2 is stored as prefix + key (GET wt:k2 on the Redis)", b"2", raw)
            R.eq("redis: ... and not without the prefix (EXISTS k2)", 0, bare)
            s.stop()


def kv_checks(s, store, label):
    R = S.R
    p = s.port
    conn = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)

    def c(cmd, body=None, **params):
        return call(p, "/kv", cmd, body=body, conn=conn, s=store, **params)

    def same(what, want_status, want_body, a, want_rc=None):
        got = (a.status, a.body) if want_rc is None else (a.status, a.rc, a.body)
        want = (want_status, want_body) if want_rc is None else (want_status, want_rc, want_body)
        return R.eq(f"{label}: {what}", want, got)

    same("set k1 = v1", 200, b"ok", c("set", b"v1", k="k1"), "0")
    same("get k1", 200, b"v1", c("get", k="k1"), "2")
    same("set k1 again (overwrite)", 200, b"ok", c("set", b"second value", k="k1"))
    same("get k1 after the overwrite", 200, b"second value", c("get", k="k1"), "12")
    same("set k2 = 2", 200, b"ok", c("set", b"2", k="k2"))

    big = bytes(range(256)) * 800
    same("set a 204800-byte binary value (every byte value, NULs included)", 200, b"ok",
         c("set", big, k="big"))
    a = c("get", k="big")
    R.check(a.status == 200 and a.body == big and a.rc == "204800", f"{label}: get the binary value back",
            "200, X-Rc 204800 and the same bytes",
            f"{a.status}, X-Rc {a.rc}, {len(a.body)} bytes" + ("" if a.body == big else " (different)"))
    same("set a key with a NUL and a 0xff in it", 200, b"ok", c("set", b"nul-key value", k=b"bin\x00key\xff"))
    same("get that key", 200, b"nul-key value", c("get", k=b"bin\x00key\xff"))
    same("get 'bin', that key cut at its NUL: absent", 404, b"absent", c("get", k="bin"), "-1")
    same("set an empty value", 200, b"ok", c("set", b"", k="empty"))
    same("get the empty value: present, 0 bytes", 200, b"", c("get", k="empty"), "0")

    same("get a key never set: absent (-1)", 404, b"absent", c("get", k="never"), "-1")
    same("exists k2", 200, b"1", c("exists", k="k2"), "1")
    same("exists a key never set", 200, b"0", c("exists", k="never"), "0")
    same("del k1 (it existed)", 200, b"1", c("del", k="k1"), "1")
    same("get k1 after del", 404, b"absent", c("get", k="k1"), "-1")
    same("exists k1 after del", 200, b"0", c("exists", k="k1"))
    same("del k1 again (absent)", 200, b"0", c("del", k="k1"), "0")

    ttl = 200 * S.SLOW
    same(f"set t1 with ttl={ttl} ms", 200, b"ok", c("set", b"short-lived", k="t1", ttl=ttl))
    same(f"set t2 with ttl={ttl} ms", 200, b"ok", c("set", b"first", k="t2", ttl=ttl))
    same("set t2 again without a ttl", 200, b"ok", c("set", b"kept", k="t2"))
    same("set lp:t3 with a ttl (for list)", 200, b"ok", c("set", b"x", k="lp:t3", ttl=ttl))
    same("get t1 at once", 200, b"short-lived", c("get", k="t1"))
    time.sleep(0.5 * S.SLOW)
    same(f"get t1 {500 * S.SLOW} ms later: expired", 404, b"absent", c("get", k="t1"), "-1")
    same("exists t1 after its ttl", 200, b"0", c("exists", k="t1"))
    same("get t2 (set again without a ttl, so no expiry)", 200, b"kept", c("get", k="t2"))

    same("incr c1 by 5 (absent counts as 0)", 200, b"5", c("incr", k="c1", by=5), "0")
    same("incr c1 by -2", 200, b"3", c("incr", k="c1", by=-2))
    same("incr c1 (by 1)", 200, b"4", c("incr", k="c1"))
    same("get c1 after the increments: the decimal value", 200, b"4", c("get", k="c1"))
    same("set c2 = 41", 200, b"ok", c("set", b"41", k="c2"))
    same("incr c2: a value set as text counts", 200, b"42", c("incr", k="c2"))
    same("set c3 = abc", 200, b"ok", c("set", b"abc", k="c3"))
    a = c("incr", k="c3")
    R.check(a.status == 503 and a.rc == "-2" and re.search(r"(?i)integer", text(a.body)),
            f"{label}: incr on 'abc': -2 and err_message says integer", "503, X-Rc -2, '...integer...'",
            f"{a.status}, X-Rc {a.rc}, {S.short(a.body)}")
    same("get c3 after the failed incr: unchanged", 200, b"abc", c("get", k="c3"))
    same("set c4 = 9223372036854775807", 200, b"ok", c("set", b"9223372036854775807", k="c4"))
    a = c("incr", k="c4")
    R.check(a.status == 503 and a.rc == "-2", f"{label}: incr past INT64_MAX: -2 (overflow)",
            "503, X-Rc -2", f"{a.status}, X-Rc {a.rc}, {S.short(a.body)}")
    same("get c4 after the overflow: unchanged", 200, b"9223372036854775807", c("get", k="c4"))

    for k in ("lp:b", "lp:a", "lp:c", "lq:x", "lp", "l", "a_b", "axb", "a%b", "g*1", "gx1", "[g]", "gg"):
        c("set", b"v", k=k)
    same("list prefix lp: (sorted, no other keys, not the expired lp:t3)", 200, b"lp:a\nlp:b\nlp:c\n",
         c("list", p="lp:"))
    same("list prefix l", 200, b"l\nlp\nlp:a\nlp:b\nlp:c\nlq:x\n", c("list", p="l"))
    same("list prefix a_ ('_' is not a wildcard)", 200, b"a_b\n", c("list", p="a_"))
    same("list prefix a% ('%' is not a wildcard)", 200, b"a%b\n", c("list", p="a%"))
    same("list prefix g* ('*' is not a wildcard)", 200, b"g*1\n", c("list", p="g*"))
    same("list prefix [g ('[' is not a pattern)", 200, b"[g]\n", c("list", p="[g"))
    same("list a prefix nothing has", 200, b"", c("list", p="zzz"), "0")
    many = [f"m:{i:04d}" for i in range(300)]
    for k in reversed(many):
        c("set", b"", k=k)
    a = c("list", p="m:")
    R.check(a.status == 200 and a.body == "".join(k + "\n" for k in many).encode(),
            f"{label}: list of 300 keys (the guest asks again with a larger buffer)", "m:0000 ... m:0299 in order",
            f"{a.status}, {len(a.body.splitlines())} lines, first {S.short(a.body[:40])}")

    a = c("get", k="k2", h=99)
    R.check(a.status == 503 and a.rc == "-2", f"{label}: kv_get with handle 99 (never opened): -2, not a trap",
            "503, X-Rc -2", f"{a.status}, X-Rc {a.rc}, {S.short(a.body)}")
    conn.close()

    # Four clients, 50 increments each, on the same key: kv_incr is atomic.
    fails = []

    def bump():
        cc = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)
        for _ in range(50):
            a = call(p, "/kv", "incr", conn=cc, s=store, k="shared-counter")
            if a.status != 200:
                fails.append((a.status, S.short(a.body, 100)))
                cc.close()
                cc = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)
        cc.close()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    R.eq(f"{label}: 200 concurrent increments: failures", [], fails[:3])
    same("the counter after 4 x 50 concurrent increments", 200, b"200",
         call(p, "/kv", "get", s=store, k="shared-counter"))


# --- 2. deny by default -------------------------------------------------------


def test_deny():
    d = S.scratch_dir("caps-deny")
    top = "stores:\n  a:\n    path: a.db\n  b:\n    path: b.db\n"
    m = S.manifest(d, [caps_app("nokv", "/nokv/..."),
                       caps_app("onlya", "/onlya/...", "    kv: [a]\n    vars:\n      x: one\n")], top=top)
    R = S.R
    with S.Server(m, d) as s:
        p = s.port
        a = call(p, "/nokv", "get", s="a", k="x")
        R.check(a.status == 403 and a.rc == "-1" and a.step == "open", "an app without kv: calls kv_open('a')",
                "403, open returned -1", f"{a.status}, {a.step} returned {a.rc}")
        R.check('"a"' in text(a.body) and "nokv" in text(a.body), "... err_message names the store and the app",
                "'store \"a\" ... app \"nokv\"'", S.short(a.body))
        a = call(p, "/nokv", "set", b"sneaked in", s="a", k="x")
        R.eq("an app without kv: calls kv_set through kv_open('a')", (403, "-1"), (a.status, a.rc))
        a = call(p, "/nokv", "set", b"forged", h=0, k="forged")
        R.check(a.status == 503 and a.rc == "-2", "an app without kv: calls kv_set on handle 0 without kv_open",
                "503, -2 (no such handle)", f"{a.status}, {a.step} returned {a.rc}, {S.short(a.body)}")
        a = call(p, "/onlya", "get", s="b", k="x")
        R.check(a.status == 403 and a.rc == "-1" and a.step == "open", "an app granted a asks for store b",
                "403, open returned -1", f"{a.status}, {a.step} returned {a.rc}")
        R.check('"b"' in text(a.body) and "onlya" in text(a.body), "... err_message names store b and the app",
                "'store \"b\" ... app \"onlya\"'", S.short(a.body))
        a = call(p, "/onlya", "get", s="nosuch", k="x")
        R.eq("an app asks for a store no manifest declares", (403, "-1"), (a.status, a.rc))
        a = call(p, "/onlya", "get", s="a", k="x")
        R.eq("the granted store a: x is absent (nothing sneaked in)", (404, "-1"), (a.status, a.rc))
        a = call(p, "/onlya", "get", s="a", k="forged")
        R.eq("the granted store a: the forged handle wrote nothing", (404, "-1"), (a.status, a.rc))
        a = call(p, "/onlya", "get", h=1, k="x")
        R.eq("an app granted only a uses handle 1 (store b's place) without kv_open", (503, "-2"),
             (a.status, a.rc))

        a = call(p, "/nokv", "var", n="x")
        R.check(a.status == 403 and a.rc == "-1" and a.step == "var", "var_get('x') in an app without vars:",
                "403, var returned -1", f"{a.status}, {a.step} returned {a.rc}")
        R.check('"x"' in text(a.body) and "nokv" in text(a.body), "... err_message names the variable and the app",
                "'variable \"x\" ... app \"nokv\"'", S.short(a.body))
        a = call(p, "/onlya", "var", n="y")
        R.check(a.status == 403 and a.rc == "-1" and '"y"' in text(a.body), "var_get('y'), not declared",
                "403, -1, a message naming y", f"{a.status}, {a.rc}, {S.short(a.body)}")
        R.eq("var_get('x'), declared", (200, b"one"), call(p, "/onlya", "var", n="x")[::3])
        s.stop()


# --- 3. variables and secrets -------------------------------------------------


def test_vars():
    d = S.scratch_dir("caps-vars")
    R = S.R
    rnd = random.Random()
    secret = f"s3cr3t-{rnd.getrandbits(64):016x}"
    secret2 = f"rotated-{rnd.getrandbits(64):016x}"
    other = f"other-{rnd.getrandbits(64):016x}"
    env_value = f"from the environment {rnd.getrandbits(32):08x}"
    wasp_secrets(d, "keygen", "secrets.key")
    wasp_secrets(d, "--key-file", "secrets.key", "set", "secrets.enc", "api_token", stdin=(secret + "\n").encode())
    wasp_secrets(d, "--key-file", "secrets.key", "set", "secrets.enc", "other", other)
    with open(os.path.join(d, "secrets.enc"), "rb") as f:
        enc = f.read()
    R.check(secret.encode() not in enc and other.encode() not in enc, "the secrets file holds no value in clear",
            "neither value in secrets.enc", "a value is there")

    top = "secrets:\n  file: secrets.enc\n  key_file: secrets.key\n"
    varblock = ("    vars:\n      greeting: hello world\n      port: 8080\n      flag: true\n"
                "      home: {env: CAPS_TEST_VAR}\n      token: {secret: api_token}\n")
    m = S.manifest(d, [caps_app("vars", "/v/...", varblock)], top=top)
    with environ(CAPS_TEST_VAR=env_value), S.Server(m, d) as s:
        p = s.port
        for name, want in (("greeting", "hello world"), ("port", "8080"), ("flag", "true"),
                           ("home", env_value), ("token", secret)):
            a = call(p, "/v", "var", n=name)
            R.eq(f"var {name}", (200, want), (a.status, text(a.body)))
        a = call(p, "/v", "var", n="other")
        R.eq("var other (a secret in the file, but not declared for the app)", (403, "-1"), (a.status, a.rc))

        wasp_secrets(d, "--key-file", "secrets.key", "set", "secrets.enc", "api_token", secret2)
        s.proc.send_signal(signal.SIGHUP)
        got = S.wait_until(lambda: call(p, "/v", "var", n="token").body == secret2.encode(), 10 * S.SLOW, 0.1)
        R.check(got, "after SIGHUP the rotated secret is served", secret2,
                S.short(call(p, "/v", "var", n="token").body))
        s.stop()
        out = s.text()
        for v, what in ((secret, "the secret"), (secret2, "the rotated secret"), (other, "the other secret")):
            R.check(v not in out, f"{what}'s value is nowhere in wasp's output", "not there",
                    [line for line in out.splitlines() if v in line][:2])

    # The key from the environment (key_env) instead of a file.
    with open(os.path.join(d, "secrets.key")) as f:
        hexkey = f.read().strip()
    m2 = S.manifest(d, [caps_app("vars", "/v/...", "    vars:\n      token: {secret: api_token}\n")],
                    name="key-env.yaml", top="secrets:\n  file: secrets.enc\n  key_env: CAPS_TEST_KEY\n")
    with environ(CAPS_TEST_KEY=hexkey), S.Server(m2, d, name="key-env") as s:
        a = call(s.port, "/v", "var", n="token")
        R.eq("key_env: var token", (200, secret2), (a.status, text(a.body)))
        s.stop()
        R.check(hexkey not in s.text(), "key_env: the key is nowhere in wasp's output", "not there", "it is")

    bad = [secret, secret2, other, hexkey]
    S.manifest(d, [caps_app("vars", "/v/...", "    vars:\n      token: {secret: api_token}\n"
                            "      missing_one: {secret: nothere}\n")], name="no-secret.yaml", top=top)
    startup_error("a var naming a secret the file lacks", d, "no-secret.yaml", [r"missing_one", r"nothere"], bad)
    S.manifest(d, [caps_app("vars", "/v/...", "    vars:\n      home_dir: {env: CAPS_TEST_UNSET_VAR}\n")],
               name="no-env.yaml")
    os.environ.pop("CAPS_TEST_UNSET_VAR", None)
    startup_error("a var naming an unset environment variable", d, "no-env.yaml",
                  [r"home_dir", r"CAPS_TEST_UNSET_VAR"], bad)
    wasp_secrets(d, "keygen", "wrong.key")
    S.manifest(d, [caps_app("vars", "/v/...", "    vars:\n      token: {secret: api_token}\n")],
               name="wrong-key.yaml", top="secrets:\n  file: secrets.enc\n  key_file: wrong.key\n")
    startup_error("the secrets file under another key", d, "wrong-key.yaml", [r"secrets\.enc"], bad)
    S.manifest(d, [caps_app("vars", "/v/...", "    vars:\n      token: {secret: api_token}\n")],
               name="no-section.yaml")
    startup_error("{secret: ...} without a secrets: section", d, "no-section.yaml",
                  [r"no-section\.yaml:6: ", r"secrets"], bad)


# --- 4. the guest's log -------------------------------------------------------


def test_log():
    d = S.scratch_dir("caps-log")
    R = S.R
    m = S.manifest(d, [caps_app("logger", "/lg/...")])
    with S.Server(m, d) as s:
        a = call(s.port, "/lg", "log", m="hello from guest")
        R.eq("log(1, 'hello from guest'): answer", (200, "0", b"logged"), (a.status, a.rc, a.body))
        pat = re.compile(r'^(?:ts=\S+ )?level=info app=logger req=(\d+-\d+) msg="hello from guest"$', re.M)
        found = S.wait_until(lambda: pat.search(s.text()), 5 * S.SLOW)
        R.check(found is not None, "the guest's line in the log",
                "'level=info app=logger req=W-N msg=\"hello from guest\"'", s.tail(4))
        if found:
            req = found.group(1)
            lines = s.wait_access(lambda x: x.get("req") == req, 1)
            R.check(len(lines) == 1 and lines[0].get("app") == "logger" and "/lg/log" in lines[0].get("path", ""),
                    f"an access log line with the same req={req}", f"one line: req={req} app=logger path=/lg/log...",
                    lines or s.tail(4))
        for level, name in ((2, "warn"), (3, "error")):
            call(s.port, "/lg", "log", l=level, m=f"at level {level}")
            line = re.compile(rf'^(?:ts=\S+ )?level={name} app=logger req=\d+-\d+ msg="at level {level}"$', re.M)
            ok = S.wait_until(lambda: line.search(s.text()), 5 * S.SLOW)
            R.check(ok is not None, f"log({level}, ...) is level={name}", f'level={name} ... msg="at level {level}"',
                    s.tail(3))
        forged = 'two\nts=2026-01-01T00:00:00Z worker=0 app=x method=GET path=/ "q"'
        call(s.port, "/lg", "log", m=forged)
        line = re.compile(r'^(?:ts=\S+ )?level=info app=logger req=\S+ '
                          r'msg="two\\(n|x0a)ts=\S+ worker=0 app=x method=GET path=/ \\"q\\""$', re.M)
        ok = S.wait_until(lambda: line.search(s.text()), 5 * S.SLOW)
        R.check(ok is not None, "a message with a newline and quotes stays one escaped line",
                r'msg="two\x0ats=... path=/ \"q\""', s.tail(3))
        R.check(not re.search(r"^ts=2026-01-01T00:00:00Z", s.text(), re.M),
                "a guest cannot forge an access log line", "no line starting ts=2026-01-01T00:00:00Z", "there is one")
        s.stop()


# --- 5. kill -9 while writes are in flight ------------------------------------


def test_kill9():
    d = S.scratch_dir("caps-kill9")
    kill9_run(d, "sqlite", "stores:\n  st:\n    path: kill9.db\n")
    with Redis(d) as rd:
        kill9_run(d, "redis", "stores:\n" + redis_store("st", rd.port))
        rd.stop()


def kill9_run(d, label, top):
    """Writers stream kv_set (distinct keys) and kv_incr, pipelined in
    batches so that wasp always has requests queued; wasp gets SIGKILL
    ~0.5 s in; after a restart every acknowledged write must be there."""
    R = S.R
    m = S.manifest(d, [caps_app("kv", "/kv/...", "    kv: [st]\n")], name=f"{label}.yaml", top=top)
    acked, lock = {}, threading.Lock()
    incr = {"acked": 0}
    refused, in_flight = [], []
    killed_at = [float("inf")]
    stop = threading.Event()
    batch_size = 32

    def request(t, i):
        if t == "incr":
            return None, None, f"GET {path_of('/kv', 'incr', s='st', k=f'{label}-counter')} HTTP/1.1\r\n" \
                "Host: x\r\n\r\n".encode()
        key, val = f"{label}-{t}-{i}", f"value {t}/{i} " + "x" * (i % 64)
        return key, val, (f"POST {path_of('/kv', 'set', s='st', k=key)} HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Length: {len(val)}\r\n\r\n{val}").encode()

    def writer(t):
        sock = socket.create_connection((S.HOST, s.port), timeout=S.HTTP_TIMEOUT)
        i = 0
        while not stop.is_set():
            batch = [request(t, i + j) for j in range(batch_size)]
            i += batch_size
            t0 = time.monotonic()
            buf, answered = b"", 0
            try:
                sock.sendall(b"".join(r[2] for r in batch))
                while answered < len(batch):
                    r = S.split_response(buf)
                    if r is None:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                        continue
                    status, buf = r[0], r[3]
                    key, val, _ = batch[answered]
                    answered += 1
                    if status != 200:
                        refused.append(status)
                        continue
                    with lock:
                        if t == "incr":
                            incr["acked"] += 1
                        else:
                            acked[key] = val
            except OSError:
                pass
            if answered < len(batch):
                if t0 < killed_at[0]:
                    in_flight.append(len(batch) - answered)
                break
        sock.close()

    with S.Server(m, d, name=f"{label}-killed") as s:
        threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b", "c", "d", "incr")]
        for t in threads:
            t.start()
        time.sleep(0.5)
        killed_at[0] = time.monotonic()
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        for t in threads:
            t.join(S.HTTP_TIMEOUT + 5)
    R.eq(f"{label}: answers other than 200 before the kill", [], refused[:3])
    R.check(len(acked) >= 20, f"{label}: writes acknowledged in the 0.5 s before kill -9", ">= 20", len(acked))
    R.check(sum(in_flight) >= 1, f"{label}: requests in flight when wasp was killed (sent, never answered)",
            ">= 1", f"{sum(in_flight)} (per client: {in_flight})")

    with S.Server(m, d, name=f"{label}-restarted") as s:
        conn = http.client.HTTPConnection(S.HOST, s.port, timeout=S.HTTP_TIMEOUT)
        missing, wrong = [], []
        for key, val in acked.items():
            a = call(s.port, "/kv", "get", conn=conn, s="st", k=key)
            if a.status == 404:
                missing.append(key)
            elif a.status != 200 or a.body != val.encode():
                wrong.append((key, a.status, S.short(a.body, 60)))
                if a.status is None:
                    conn.close()
                    conn = http.client.HTTPConnection(S.HOST, s.port, timeout=S.HTTP_TIMEOUT)
        conn.close()
        R.eq(f"{label}: acknowledged keys missing after kill -9 and a restart ({len(acked)} acknowledged)", [],
             missing[:5], [f"{len(missing)} missing in all"] if missing else None)
        R.eq(f"{label}: acknowledged keys with another value or answer", [], wrong[:3])
        a = call(s.port, "/kv", "get", s="st", k=f"{label}-counter")
        n = int(a.body) if a.status == 200 and a.body.isdigit() else a
        R.check(isinstance(n, int) and n >= incr["acked"], f"{label}: the counter after kill -9 and a restart",
                f">= {incr['acked']} (the acknowledged increments)", n)
        s.stop()


# --- 6. Redis goes away and comes back -----------------------------------------


def test_redis_down():
    d = S.scratch_dir("caps-redis-down")
    R = S.R
    with Redis(d) as rd:
        m = S.manifest(d, [caps_app("kv", "/kv/...", "    kv: [rd]\n")], top="stores:\n" + redis_store("rd", rd.port))
        with S.Server(m, d) as s:
            p = s.port
            for i in range(4):  # on fresh connections: both workers get to connect
                R.eq(f"with Redis up: set before{i}", (200, b"ok"), call(p, "/kv", "set", b"1", s="rd",
                                                                          k=f"before{i}")[::3])
            rd.stop()
            answers = [call(p, "/kv", cmd, b"2" if cmd == "set" else None, s="rd", k="down")
                       for cmd in ("get", "set", "incr", "exists", "list", "get")]
            for a in answers:
                R.check(a.status == 503 and a.rc == "-2" and re.search(r"(?i)connect", text(a.body)),
                        f"with Redis stopped: {a.step or '?'}: -2 and err_message about the connection",
                        "503, X-Rc -2, '...connect...'", f"{a.status}, X-Rc {a.rc}, {S.short(a.body)}")
            R.eq("with Redis stopped: /healthz", 200, S.try_get(s.admin, "/healthz")[0])

            rd.start()
            back = S.wait_until(lambda: call(p, "/kv", "set", b"3", s="rd", k="after").status == 200,
                                10 * S.SLOW, 0.1)
            R.check(back, "Redis restarted on the same port: set succeeds again (no wasp restart)", 200,
                    call(p, "/kv", "set", b"3", s="rd", k="after")[::3])
            bad = []
            for i in range(20):
                a = call(p, "/kv", "set", str(i).encode(), s="rd", k=f"again{i}")
                b = call(p, "/kv", "get", s="rd", k=f"again{i}")
                if (a.status, b.status, b.body) != (200, 200, str(i).encode()):
                    bad.append((i, a.status, b.status, S.short(b.body, 80)))
            R.eq("Redis back: 20 set + get pairs on fresh connections: failures", [], bad[:3])
            s.stop()
        rd.stop()


# --- 7. the request's deadline bounds every wait (issue 10, F08) ------------------


def test_deadline():
    """F08: a Redis that stops answering (SIGSTOP) and an SQLite store whose
    file another process holds locked made kv calls wait their own timeouts
    (2 s, 5 s) past the app's deadline of 300 ms; now each answers 504 soon
    after the deadline, and the store works again afterwards."""
    d = S.scratch_dir("caps-deadline")
    R = S.R
    import sqlite3
    with Redis(d) as rd:
        top = "stores:\n  sq:\n    backend: sqlite\n    path: kv.db\n" + redis_store("rd", rd.port)
        m = S.manifest(d, [caps_app("kv", "/kv/...", "    kv: [sq, rd]\n    limits:\n      deadline_ms: 300\n"),
                           S.app("echo", "/echo/...", S.guest("echo.wasm"))], top=top)
        with S.Server(m, d) as s:
            p = s.port
            for store in ("sq", "rd"):
                R.eq(f"{store}: set before", (200, b"ok"), call(p, "/kv", "set", b"1", s=store, k="x")[::3])
            # Redis frozen: connected, but no reply comes
            os.kill(rd.proc.pid, signal.SIGSTOP)
            try:
                for cmd in ("get", "set"):
                    t0 = time.monotonic()
                    a = call(p, "/kv", cmd, b"2" if cmd == "set" else None, s="rd", k="x")
                    took = time.monotonic() - t0
                    R.eq(f"F08: redis frozen: {cmd} under deadline_ms 300: status", 504, a.status,
                         [S.short(a.body)])
                    R.check(took < 1.5 * S.SLOW, f"F08: redis frozen: {cmd} answers soon after the deadline",
                            f"< {1.5 * S.SLOW} s (the Redis timeout is 2 s)", f"{took:.2f} s")
            finally:
                os.kill(rd.proc.pid, signal.SIGCONT)
            back = S.wait_until(lambda: call(p, "/kv", "get", s="rd", k="x").status == 200, 10 * S.SLOW, 0.1)
            R.check(back, "redis thawed: get succeeds again", 200, call(p, "/kv", "get", s="rd", k="x")[::3])
            # the SQLite store's file locked by another process
            db = sqlite3.connect(os.path.join(d, "kv.db"), timeout=5, isolation_level=None)
            try:
                db.execute("BEGIN EXCLUSIVE")
                t0 = time.monotonic()
                a = call(p, "/kv", "set", b"3", s="sq", k="y")
                took = time.monotonic() - t0
                R.eq("F08: sqlite store locked: set under deadline_ms 300: status", 504, a.status,
                     [S.short(a.body)])
                R.check(took < 1.5 * S.SLOW, "F08: sqlite store locked: set answers soon after the deadline",
                        f"< {1.5 * S.SLOW} s (the busy timeout is 5 s)", f"{took:.2f} s")
            finally:
                db.execute("ROLLBACK")
                db.close()
            R.eq("sqlite store unlocked: set succeeds", (200, b"ok"), call(p, "/kv", "set", b"4", s="sq", k="y")[::3])
            R.eq("another app answers", 200, S.try_get(p, "/echo/ping")[0])
            s.stop()
