"""scaleout_test.py - three `wasp serve` replicas on loopback behind HAProxy
(Debian's), sharing a Redis kv store and a PostgreSQL database (issue 15):

  scaleout-count     10,000 increments through the balancer give exactly
                     10,000, in PostgreSQL and in Redis, and every replica
                     served some
  scaleout-kill9     one replica killed with SIGKILL mid-run: only requests in
                     flight on it fail, every answered increment is counted
                     once, and the failed ones, sent again with their keys,
                     are counted once too
  scaleout-rolling   SIGTERM one replica at a time and start it again, under
                     load: no request fails, and the counts equal the answers

The app is guests/counter.c: an increment is named by its Idempotency-Key
and applied at most once per key (one PostgreSQL statement records the key
and adds to the counter); it also sets `seen:KEY` and increments `hits` in
Redis. HAProxy balances round robin, checks each replica's /readyz on its
admin port every 100 ms, opens one server connection per request, and
retries (elsewhere) a request whose connection was refused: it never reached
wasp, so retrying it is safe. A request already sent is never retried by the
balancer: whether it was applied is what the idempotency key settles.

HAProxy's own log (one line per request: server, status, termination state,
key) says where each failed request was. Redis, PostgreSQL and HAProxy are
real servers started here on loopback and stopped afterwards; a missing one
is a failure, never a skip.

    bash tests/serve/run.sh build/wasp scaleout
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import caps_test
import sql_http_test

S = None  # the serve_test module, set by register()

CLIENTS = 8  # concurrent client connections to the balancer
CHECK_MS = 100  # HAProxy's health check interval
DRAIN_DELAY_MS = 1000  # far more than a check interval: the balancer stops sending first


def register(serve_test):
    global S
    S = serve_test
    return [
        ("scaleout-count", test_count),
        ("scaleout-kill9", test_kill9),
        ("scaleout-rolling", test_rolling),
    ]


# --- the balancer -------------------------------------------------------------


class HAProxy:
    """`with HAProxy(dir, servers) as hp:` - haproxy in the foreground on a
    free loopback port (hp.port) in front of servers, a list of (name,
    port, admin port); its log on stdout into dir/haproxy.log; its stats
    socket answers state()."""

    LOG = "%s %ST %ts %rc %[capture.req.hdr(0)]"

    def __init__(self, d, servers):
        self.d = d
        self.port = S.free_ports(1)[0]
        self.sock = os.path.join(d, "haproxy.sock")
        self.log = os.path.join(d, "haproxy.log")
        self.cfg = os.path.join(d, "haproxy.cfg")
        lines = [
            "global",
            "    log stdout format raw local0",
            f"    stats socket {self.sock} level admin",
            "    maxconn 512",
            "defaults",
            "    mode http",
            "    log global",
            f'    log-format "{self.LOG}"',
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout check 1s",
            # a refused connection never reached wasp: retry it, on another server
            "    retries 3",
            "    retry-on conn-failure",
            "    option redispatch 1",
            # a server connection per request: none is reused after its server went away
            "    option http-server-close",
            "frontend fe",
            f"    bind {S.HOST}:{self.port}",
            "    http-request capture req.hdr(Idempotency-Key) len 64",
            "    default_backend be",
            "backend be",
            "    balance roundrobin",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            f"    default-server inter {CHECK_MS}ms fastinter {CHECK_MS}ms downinter {CHECK_MS}ms fall 1 rise 2",
        ]
        lines += [f"    server {n} {S.HOST}:{p} check port {a}" for n, p, a in servers]
        S.write(self.cfg, "\n".join(lines) + "\n")
        self.proc = None

    def __enter__(self):
        exe = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
        if not exe:
            S.R.fail("haproxy is installed", "haproxy on PATH or in /usr/sbin (bash scripts/setup.sh installs it)",
                     "not found")
            raise S.Abort()
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([exe, "-db", "-f", self.cfg], cwd=self.d, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        up = S.wait_until(lambda: self.proc.poll() is not None or self.state() is not None, S.START_TIMEOUT, 0.05)
        if not up or self.proc.poll() is not None:
            S.R.fail("haproxy starts", "its stats socket answering",
                     f"exit status {self.proc.poll()}" if self.proc.poll() is not None else "no answer",
                     self.tail())
            self.__exit__()
            raise S.Abort()
        return self

    def __exit__(self, *exc):
        S.end_process(self.proc)
        self.logf.close()
        return False

    def tail(self, n=8):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return ["haproxy: " + line for line in f.read().splitlines()[-n:]]
        except OSError:
            return []

    def state(self):
        """{server name: status} from `show stat` (UP, DOWN, UP 1/2, ...),
        or None when the stats socket does not answer."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.settimeout(2)
                c.connect(self.sock)
                c.sendall(b"show stat\n")
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
        except OSError:
            return None
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines or not lines[0].startswith("# "):
            return None
        cols = lines[0][2:].split(",")
        pxname, svname, status = cols.index("pxname"), cols.index("svname"), cols.index("status")
        out = {}
        for line in lines[1:]:
            f = line.split(",")
            if len(f) > status and f[pxname] == "be" and f[svname] not in ("BACKEND", "FRONTEND"):
                out[f[svname]] = f[status]
        return out

    def wait_state(self, name, status, timeout):
        return S.wait_until(lambda: (self.state() or {}).get(name) == status, timeout, 0.02)

    def requests(self):
        """The request log: a list of (server, status, termination state,
        retries, key)."""
        out = []
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                for line in f:
                    p = line.split()
                    if len(p) == 5 and p[1].lstrip("-").isdigit():
                        out.append((p[0], int(p[1]), p[2], p[3], p[4].strip("{}")))
        except OSError:
            pass
        return out


# --- the client ---------------------------------------------------------------


class Load:
    """CLIENTS threads sending increments through the balancer, one
    connection per request, with keys taken from keys (an iterator)
    until it runs out or stop() is called. For each key: (ok, start, end,
    what) in self.done, ok when the answer was 200 "n=...", what the
    replica that answered or the failure."""

    def __init__(self, port, keys):
        self.port = port
        self.keys = iter(keys)
        self.lock = threading.Lock()
        self.done = {}
        self.stopping = False
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(CLIENTS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def next_key(self):
        with self.lock:
            if self.stopping:
                return None
            return next(self.keys, None)

    def run(self):
        conn = None
        while (key := self.next_key()) is not None:
            if conn is None:
                conn = http.client.HTTPConnection(S.HOST, self.port, timeout=S.HTTP_TIMEOUT)
            t0 = time.monotonic()
            try:
                conn.request("POST", "/count", headers={"Idempotency-Key": key})
                r = conn.getresponse()
                body = r.read().decode("utf-8", "replace")
                ok = r.status == 200 and body.startswith("n=")
                what = r.headers.get("X-Replica") if ok else f"{r.status} {r.reason}: {body.strip()[:120]!r}"
                # A connection per request: on a client's later request
                # HAProxy answers a server's death by closing the connection
                # silently (so that a browser retries it) and logs nothing;
                # on a first request it answers 502 and logs where it was.
                conn.close()
                conn = None
            except (OSError, http.client.HTTPException) as e:
                ok, what = False, f"{type(e).__name__}: {e}"
                conn.close()
                conn = None
            with self.lock:
                self.done[key] = (ok, t0, time.monotonic(), what)
        if conn:
            conn.close()

    def stop(self):
        with self.lock:
            self.stopping = True

    def join(self, timeout):
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def count(self):
        with self.lock:
            return len(self.done)

    def failed(self):
        with self.lock:
            return {k: v for k, v in self.done.items() if not v[0]}


# --- the service --------------------------------------------------------------


SCHEMA = ("CREATE TABLE applied (id text PRIMARY KEY); "
          "CREATE TABLE counter (name text PRIMARY KEY, n bigint NOT NULL); "
          "INSERT INTO counter VALUES ('c', 0)")


class Service:
    """The whole thing, for one test: Redis, PostgreSQL with the schema,
    three replicas (r1, r2, r3) of the counter app, and HAProxy in front."""

    def __init__(self, name):
        self.d = S.scratch_dir(name)
        self.stack = []

    def __enter__(self):
        try:
            self.redis = self.enter(caps_test.Redis(self.d))
            self.pg = self.enter(sql_http_test.Postgres(self.d))
            self.pg.query(SCHEMA)
            top = (f"stores:\n  shared:\n    backend: redis\n    url: redis://{S.HOST}:{self.redis.port}/0\n"
                   f"databases:\n  shared:\n    backend: postgres\n    url: \"{self.pg.url()}\"\n"
                   "    pool_size: 4\n")
            m = S.manifest(self.d, [S.app("counter", "/count", S.guest("counter.wasm"),
                                          "    kv: [shared]\n    sql: [shared]\n"
                                          "    vars:\n      replica: {env: WASP_REPLICA}\n")], top=top)
            self.replicas = {}
            for n in ("r1", "r2", "r3"):
                self.replicas[n] = self.enter(S.Server(
                    m, self.d, extra=["--drain-delay-ms", str(DRAIN_DELAY_MS)], workers=1, name=n,
                    env=dict(os.environ, WASP_REPLICA=n)))
            self.hp = self.enter(HAProxy(self.d, [(n, s.port, s.admin) for n, s in self.replicas.items()]))
            up = S.wait_until(lambda: set((self.hp.state() or {}).values()) == {"UP"}, S.START_TIMEOUT, 0.05)
            S.R.check(up, "HAProxy's health checks on /readyz find the three replicas UP", "UP x3",
                      self.hp.state(), self.hp.tail())
            if not up:
                raise S.Abort()
        except BaseException:
            self.__exit__()
            raise
        return self

    def enter(self, cm):
        v = cm.__enter__()
        self.stack.append(cm)
        return v

    def __exit__(self, *exc):
        while self.stack:
            self.stack.pop().__exit__(None, None, None)
        return False

    def counts(self):
        """(counter n, rows in applied, Redis hits, Redis seen: keys)."""
        n, rows = self.pg.query("SELECT n, (SELECT count(*) FROM applied) FROM counter WHERE name = 'c'").split("|")
        hits = caps_test.redis_cmd(self.redis.port, "GET", "hits")
        seen, cursor = 0, "0"
        while True:
            cursor, keys = caps_test.redis_cmd(self.redis.port, "SCAN", cursor, "MATCH", "seen:*", "COUNT", 1000)
            cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
            seen += len(keys)
            if cursor == "0":
                break
        return int(n), int(rows), int(hits or 0), seen

    def applied(self, keys):
        """Which of keys PostgreSQL has recorded."""
        if not keys:
            return set()
        lst = ",".join("'" + k + "'" for k in keys)
        out = self.pg.query(f"SELECT id FROM applied WHERE id IN ({lst})")
        return set(out.split()) if out else set()

    def stop_all(self):
        for s in self.replicas.values():
            if s.proc.poll() is None:
                s.stop()


def run_load(port, keys, timeout):
    load = Load(port, keys).start()
    finished = load.join(timeout)
    S.R.check(finished, f"the client sends its {len(keys)} increments within {timeout} s", "done",
              f"{load.count()} sent")
    load.stop()
    load.join(S.HTTP_TIMEOUT)
    return load


def served_by(load):
    by = {}
    for ok, _, _, what in load.done.values():
        if ok:
            by[what] = by.get(what, 0) + 1
    return by


# --- the tests ----------------------------------------------------------------


def test_count():
    with Service("scaleout-count") as svc:
        keys = [f"a{i}" for i in range(10000)]
        load = run_load(svc.hp.port, keys, 120 * S.SLOW)
        failed = load.failed()
        S.R.check(not failed, "10,000 increments through the balancer: every one answered 200", 0,
                  len(failed), [f"{k}: {v[3]}" for k, v in list(failed.items())[:3]] + svc.hp.tail(3))
        S.R.eq("... the counter (PostgreSQL) is exactly 10,000, one applied key each, and Redis "
               "counted 10,000 hits and 10,000 keys: (n, applied, hits, seen)", (10000,) * 4, svc.counts())
        by = served_by(load)
        S.R.check(set(by) == {"r1", "r2", "r3"} and min(by.values()) > 1000,
                  "... the balancer spread them over the three replicas", "r1, r2, r3 over 1000 each", by)
        svc.stop_all()


def test_kill9():
    with Service("scaleout-kill9") as svc:
        keys = [f"k{i}" for i in range(10000)]
        load = Load(svc.hp.port, keys).start()
        S.wait_until(lambda: load.count() >= 3000, 60 * S.SLOW, 0.005)
        victim = svc.replicas["r2"]
        victim.proc.kill()
        victim.proc.wait()
        t_dead = time.monotonic()  # reaped: its sockets are closed
        down = svc.hp.wait_state("r2", "DOWN", 5 * S.SLOW)
        S.R.check(down, "HAProxy marks the killed replica DOWN", "DOWN", (svc.hp.state() or {}).get("r2"))
        finished = load.join(120 * S.SLOW)
        S.R.check(finished, "the client sends its 10,000 increments", "done", f"{load.count()} sent")
        failed = load.failed()
        ok = {k for k, v in load.done.items() if v[0]}
        print(f"scaleout-kill9: r2 killed after {sum(1 for v in load.done.values() if v[1] < t_dead)} "
              f"requests; {len(failed)} failed: {sorted(set(v[3].split(':')[0] for v in failed.values()))}", flush=True)

        # only requests in flight on r2 when it died failed
        late = [k for k, v in failed.items() if v[1] > t_dead]
        S.R.check(not late, "no request started after the replica died fails", 0, len(late),
                  [f"{k}: {failed[k][3]}" for k in late[:3]])
        S.R.check(len(failed) <= CLIENTS, f"at most {CLIENTS} requests fail (one in flight per client)",
                  f"<= {CLIENTS}", len(failed))
        log = {key: (srv, st, ts) for srv, st, ts, _, key in svc.hp.requests()}
        elsewhere = {k: log.get(k) for k in failed if not log.get(k) or log[k][0] != "r2"}
        S.R.check(not elsewhere, "every failed request was on the killed replica (HAProxy's log)", "r2",
                  elsewhere)
        S.R.eq("every other request was answered 200", 10000 - len(failed), len(ok))

        # every answered increment counted once; a failed one at most once
        n, rows, _, _ = svc.counts()
        lost = ok - svc.applied(sorted(ok))
        S.R.check(not lost, "every increment answered 200 is in PostgreSQL", 0, len(lost), sorted(lost)[:5])
        landed = svc.applied(sorted(failed))
        S.R.eq("the count equals the successful answers, plus the failed requests r2 applied before "
               "it died (n, applied)", (len(ok) + len(landed),) * 2, (n, rows))
        print(f"scaleout-kill9: of the {len(failed)} failed, {len(landed)} had been applied", flush=True)

        # the client sends the failed ones again, with their keys: each counted once
        again = run_load(svc.hp.port, sorted(failed), 30 * S.SLOW)
        S.R.check(all(v[0] for v in again.done.values()), "the failed increments, sent again, are answered 200",
                  "all", {k: v[3] for k, v in again.done.items() if not v[0]})
        n, rows, _, seen = svc.counts()
        S.R.eq("then the count equals the 10,000 answered increments (n, applied, seen)", (10000,) * 3,
               (n, rows, seen))
        svc.stop_all()


def test_rolling():
    with Service("scaleout-rolling") as svc:
        load = Load(svc.hp.port, (f"r{i}" for i in range(10**9))).start()
        S.wait_until(lambda: load.count() >= 500, 30 * S.SLOW, 0.01)
        for name, s in svc.replicas.items():
            before = load.count()
            s.proc.send_signal(signal.SIGTERM)
            down = svc.hp.wait_state(name, "DOWN", 5 * S.SLOW)
            S.R.check(down and s.proc.poll() is None, f"{name}: after SIGTERM, HAProxy marks it DOWN (its /readyz "
                      "fails) while it still runs", "DOWN, running", ((svc.hp.state() or {}).get(name), s.proc.poll()))
            try:
                rc = s.proc.wait(timeout=S.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                rc = "still running"
            S.R.eq(f"{name}: it drains and exits with 0", 0, rc, s.tail())
            s.check_sanitizer()
            s.log = os.path.join(svc.d, f"{name}.restarted.stderr")
            s.start()
            up = svc.hp.wait_state(name, "UP", 10 * S.SLOW)
            S.R.check(up, f"{name}: started again, HAProxy marks it UP", "UP", (svc.hp.state() or {}).get(name))
            S.R.check(load.count() > before, f"{name}: requests were answered meanwhile", f"> {before}",
                      load.count())
        time.sleep(0.5)  # the restarted replicas serve some too
        load.stop()
        S.R.check(load.join(S.HTTP_TIMEOUT), "the client stops", "stopped", "still sending")
        failed = load.failed()
        total = load.count()
        print(f"scaleout-rolling: {total} requests during the rolling restart, {len(failed)} failed", flush=True)
        S.R.check(not failed, "a rolling restart under load: no request fails", 0, len(failed),
                  [f"{k}: {v[3]}" for k, v in list(failed.items())[:3]] + svc.hp.tail(3))
        S.R.eq("the counts equal the answered increments (n, applied, hits, seen)", (total,) * 4, svc.counts())
        svc.stop_all()
