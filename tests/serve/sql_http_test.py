"""sql_http_test.py - end-to-end tests of the SQL and outbound HTTP
capabilities of a `wasp serve` app (docs/capabilities.md): SQL on a SQLite
file and on a real PostgreSQL, a PostgreSQL restart under a serving wasp,
kill -9 durability of SQL writes, and HTTP requests to a local server
through the app's allow-list.

serve_test.py imports this module and runs the tests register() returns
with its own helpers (Server, get, R, ...); run it through tests/serve/run.sh:

    bash tests/serve/run.sh build/wasp sql        the SQL tests
    bash tests/serve/run.sh build/wasp http-out   the outbound HTTP test

Every test drives guests/sqlhttp.c: `POST .../exec?db=NAME&p1=i:42&...`
runs the statements of the body (separated by a line holding ";;") in one
request and answers their results as JSON, typed value by value;
`.../fetch?u=URL` answers what http_send got. X-Step names the call that
answered, X-Rc what it returned: 200 success, 403 a -1, 503 a -2 (the body
then is err_message).

PostgreSQL is a real server: initdb into a temporary directory owned by the
`postgres` user, `postgres` on a free loopback port run as that user, a
database created with psql. It is stopped (fast shutdown) and its directory
removed afterwards, whatever happened. Missing PostgreSQL binaries are a
failure, never a skip.
"""

import collections
import glob
import http.client
import http.server
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

S = None  # the serve_test module, set by register()


def register(serve_test):
    """The SQL and HTTP tests as (name, function) pairs for serve_test's
    list; serve_test is the module whose helpers they use."""
    global S
    S = serve_test
    return [
        ("sql-exec", test_sql_exec),
        ("sql-deny", test_sql_deny),
        ("sql-hostile-f01", test_sql_f01),
        ("sql-hostile-f16", test_sql_f16),
        ("sql-hostile-f02", test_sql_f02),
        ("sql-pg-deadline", test_pg_deadline),
        ("sql-pg-restart", test_pg_restart),
        ("sql-kill9", test_sql_kill9),
        ("http-out", test_http_out),
    ]


# --- helpers ------------------------------------------------------------------

Answer = collections.namedtuple("Answer", "status rc step index body results")

SEP = "\n;;\n"


def text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def sql_path(route, db, **params):
    q = urllib.parse.urlencode({k.replace("_", "."): v for k, v in params.items()})
    return f"{route}/exec?db={urllib.parse.quote(db)}" + (f"&{q}" if q else "")


def sql(port, route, db, *stmts, conn=None, **params):
    """Runs the statements in one request to guests/sqlhttp.c under route.
    Parameters: p1=..., or s2_p1=... for the second statement's. An
    Answer: results is the parsed JSON list on 200; status None and the
    exception as body when the request itself failed."""
    st, h, data = S.try_get(port, sql_path(route, db, **params), conn=conn, method="POST",
                            body=SEP.join(stmts).encode())
    if st is None:
        return Answer(None, None, None, None, data, None)
    results = None
    if st == 200:
        try:
            results = json.loads(data)
        except ValueError:
            results = f"not JSON: {S.short(data)}"
    return Answer(st, h.get("X-Rc"), h.get("X-Step"), h.get("X-Index"), data, results)


def rows(a):
    """The last statement's rows, or the whole answer when it failed."""
    if a.status == 200 and isinstance(a.results, list) and a.results:
        return a.results[-1]["rows"]
    return (a.status, a.step, a.rc, S.short(a.body, 200))


def fetch(port, route, url, method=None, headers=None, body=None, show=None):
    q = {"u": url}
    if method:
        q["m"] = method
    if headers:
        q["hd"] = headers
    if show:
        q["show"] = show
    st, h, data = S.try_get(port, f"{route}/fetch?{urllib.parse.urlencode(q)}",
                            method="GET" if body is None else "POST", body=body)
    if st is None:
        return Answer(None, None, None, None, data, None)
    return Answer(st, h.get("X-Rc"), h.get("X-Step"), None, data, None)


def sqlhttp_app(name, route, extra=""):
    return S.app(name, route, S.guest("sqlhttp.wasm"), extra)


# --- a real PostgreSQL ------------------------------------------------------------


def pg_bin(name):
    """The path of a PostgreSQL program (the newest installed version's),
    or None."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


class Postgres:
    """`with Postgres(dir) as pg:` - a PostgreSQL cluster in a fresh
    directory owned by the postgres user, its server on a free loopback
    port (pg.port) with trust authentication for user wasp, and database
    `app`; stop() (fast shutdown) and start() again on the same port and
    directory; stopped and its directory removed at the end of the block.
    Its output goes to dir."""

    def __init__(self, d):
        self.d = d
        self.port = S.free_ports(1)[0]
        self.proc = None
        self.logf = None
        self.data = None

    def url(self, db="app"):
        return f"postgresql://wasp@{S.HOST}:{self.port}/{db}"

    def __enter__(self):
        R = S.R
        self.exe = {n: pg_bin(n) for n in ("initdb", "postgres", "psql")}
        missing = [n for n, p in self.exe.items() if not p]
        if missing:
            R.fail("PostgreSQL is installed", "initdb, postgres and psql (bash scripts/setup.sh installs them)",
                   f"missing: {', '.join(missing)}")
            raise S.Abort()
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            R.fail("the postgres system user exists", "a user postgres (the postgresql package makes it)",
                   "no such user")
            raise S.Abort()
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        # outside the scratch directory: the postgres user cannot enter that
        self.data = tempfile.mkdtemp(prefix="wasp-serve-pg.")
        os.chown(self.data, self.uid, self.gid)
        try:
            p = subprocess.run([self.exe["initdb"], "-D", self.data, "-A", "trust", "-U", "wasp", "-E", "UTF8",
                                "--locale=C", "--no-sync"], cwd=self.data, user=self.uid, group=self.gid,
                               extra_groups=[], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=60 * S.SLOW)
        except subprocess.TimeoutExpired:
            p = None
        if p is None or p.returncode != 0:
            R.fail("initdb", "exit status 0", "a timeout" if p is None else p.returncode,
                   [] if p is None else text(p.stdout + p.stderr).splitlines()[-5:])
            self.remove()
            raise S.Abort()
        try:
            self.start()
            self.psql("CREATE DATABASE app", db="postgres")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.kill()
        self.remove()
        return False

    def remove(self):
        if self.data:
            shutil.rmtree(self.data, ignore_errors=True)
            self.data = None

    def log_path(self):
        return os.path.join(self.d, f"postgres-{self.port}.log")

    def log_tail(self, n=5):
        try:
            with open(self.log_path(), "rb") as f:
                return ["postgres: " + line for line in text(f.read()).splitlines()[-n:]]
        except OSError:
            return []

    def start(self):
        self.logf = open(self.log_path(), "ab")
        self.proc = subprocess.Popen([self.exe["postgres"], "-D", self.data, "-k", self.data, "-p", str(self.port),
                                      "-c", f"listen_addresses={S.HOST}", "-c", "max_connections=50"],
                                     cwd=self.data, user=self.uid, group=self.gid, extra_groups=[],
                                     stdin=subprocess.DEVNULL, stdout=self.logf, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                return "exited"
            return "up" if self.query("SELECT 1", db="postgres", check=False) == "1" else None

        state = S.wait_until(up, S.START_TIMEOUT, 0.1)
        if state != "up":
            S.R.fail(f"postgres starts on port {self.port}", "an answer to SELECT 1",
                     f"exit status {self.proc.returncode}" if state == "exited" else "no answer", self.log_tail())
            raise S.Abort()

    def query(self, q, db="app", check=True):
        """psql -tAc q as user wasp: its output, stripped; a failure is
        reported (and ends the test) when check is true, else None."""
        try:
            p = subprocess.run([self.exe["psql"], "-X", "-h", S.HOST, "-p", str(self.port), "-U", "wasp", "-d", db,
                                "-v", "ON_ERROR_STOP=1", "-tAc", q], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=10 * S.SLOW, env=dict(os.environ, PGCONNECT_TIMEOUT="2"))
        except subprocess.TimeoutExpired:
            p = None
        if p is not None and p.returncode == 0:
            return text(p.stdout).strip()
        if check:
            S.R.fail(f"psql: {q}", "exit status 0", "a timeout" if p is None else p.returncode,
                     [] if p is None else text(p.stderr).splitlines()[:3])
            raise S.Abort()
        return None

    psql = query

    def stop(self):
        """Fast shutdown (SIGINT to the postmaster): clients are
        disconnected, open transactions rolled back."""
        S.end_process(self.proc, signal.SIGINT)
        if self.logf:
            self.logf.close()
            self.logf = None

    def kill(self):
        self.stop()


def pg_database(name, pg, extra=""):
    return f"  {name}:\n    backend: postgres\n    url: \"{pg.url()}\"\n{extra}"


# --- 1. SQL on both backends ------------------------------------------------------


def test_sql_exec():
    d = S.scratch_dir("sql-exec")
    os.makedirs(os.path.join(d, "data"))
    with Postgres(d) as pg:
        top = ("databases:\n  sq:\n    backend: sqlite\n    path: data/app.db\n"
               + pg_database("pg", pg, "    pool_size: 1\n"))
        m = S.manifest(d, [sqlhttp_app("db", "/db/...", "    sql: [sq, pg]\n")], top=top)
        with S.Server(m, d, workers=1) as s:
            sql_checks(s, "sq", "sqlite", "BLOB")
            sql_checks(s, "pg", "postgres", "BYTEA")
            pg_session_checks(s, pg)
            S.R.check(os.path.exists(os.path.join(d, "data", "app.db")), "sqlite: the database file",
                      "data/app.db next to the manifest", sorted(os.listdir(d)))
            s.stop()


def typed(v):
    """A JSON value of guests/sqlhttp.c as a Python value: floats parsed,
    blobs as bytes, NULL as None; ('?', v) for anything else."""
    if v == ["n"]:
        return None
    if isinstance(v, list) and len(v) == 2:
        kind, x = v
        if kind == "i" and isinstance(x, int):
            return x
        if kind == "f":
            return float(x)
        if kind == "t":
            return x
        if kind == "b":
            return bytes.fromhex(x)
    return ("?", v)


def sql_checks(s, db, label, blob):
    R = S.R
    p = s.port
    conn = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)

    def q(*stmts, **params):
        return sql(p, "/db", db, *stmts, conn=conn, **params)

    def ok(what, a, count=1):
        return R.check(a.status == 200 and isinstance(a.results, list) and len(a.results) == count,
                       f"{label}: {what}", f"200 with {count} result(s)",
                       f"{a.status}, {a.step} returned {a.rc}, {S.short(a.body, 300)}")

    a = q(f"CREATE TABLE t (id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, s TEXT, n TEXT, b {blob})")
    if not ok("CREATE TABLE t", a):
        conn.close()
        return
    R.eq(f"{label}: CREATE TABLE: no columns, no rows, 0 changes", {"columns": [], "rows": [], "changes": 0},
         a.results[0])

    ins = "INSERT INTO t (id, i, f, s, n, b) VALUES ($1, $2, $3, $4, $5, $6)"
    text1 = "h\u00e9llo \u2713 \"quoted\" back\\slash"
    a = q(ins, p1="i:1", p2="i:42", p3="f:1.5", p4="t:" + text1, p5="n", p6="b:00ff10")
    if ok("INSERT with an INT, a FLOAT, a TEXT, a NULL and a BLOB parameter", a):
        R.eq(f"{label}: the INSERT's changes", 1, a.results[0]["changes"])
    a = q(ins, p1="i:2", p2="i:-9007199254740993", p3="f:-0.1", p4="t:", p5="t:x", p6="b:")
    if ok("INSERT of -2^53-1, -0.1, an empty TEXT and an empty BLOB", a):
        R.eq(f"{label}: the second INSERT's changes", 1, a.results[0]["changes"])

    a = q("SELECT id, i, f, s, n, b FROM t ORDER BY id")
    if ok("SELECT the two rows", a):
        res = a.results[0]
        R.eq(f"{label}: SELECT: the column names", ["id", "i", "f", "s", "n", "b"], res["columns"])
        got = [[typed(v) for v in row] for row in res["rows"]]
        want = [[1, 42, 1.5, text1, None, b"\x00\xff\x10"], [2, -9007199254740993, -0.1, "", "x", b""]]
        R.eq(f"{label}: SELECT: the values", want, got)
        kinds = [[v[0] for v in row] for row in res["rows"]]
        R.eq(f"{label}: SELECT: the value types (INT, INT, FLOAT, TEXT, NULL/TEXT, BLOB)",
             [["i", "i", "f", "t", "n", "b"], ["i", "i", "f", "t", "t", "b"]], kinds)
        R.eq(f"{label}: SELECT: changes", 0, res["changes"])

    a = q("UPDATE t SET n = $1 WHERE id > $2", p1="t:upd", p2="i:0")
    if ok("UPDATE of two rows", a):
        R.eq(f"{label}: the UPDATE's changes", 2, a.results[0]["changes"])
    a = q("SELECT n FROM t WHERE id = $1", p1="i:1")
    R.eq(f"{label}: the updated value", [[["t", "upd"]]], rows(a))
    R.eq(f"{label}: a SELECT matching nothing", [], rows(q("SELECT id FROM t WHERE id = $1", p1="i:999")))

    # The database's own message for a syntax error.
    a = q("SELEC id FROM t")
    R.check(a.status == 503 and a.rc == "-2" and a.step == "exec" and re.search(r"(?i)syntax error", text(a.body))
            and db in text(a.body), f"{label}: a syntax error: -2 from sql_exec with the database's message",
            f"503, exec returned -2, 'database {db}: ...syntax error...'",
            f"{a.status}, {a.step} returned {a.rc}, {S.short(a.body)}")
    a = q("SELECT nosuchcolumn FROM t")
    R.check(a.status == 503 and a.rc == "-2" and "nosuchcolumn" in text(a.body),
            f"{label}: an unknown column: -2, the message names it", "503, -2, '...nosuchcolumn...'",
            f"{a.status}, {a.rc}, {S.short(a.body)}")
    a = q("SELECT id FROM t WHERE id = $1")
    R.check(a.status == 503 and a.rc == "-2", f"{label}: a placeholder without a parameter: -2",
            "503, -2", f"{a.status}, {a.rc}, {S.short(a.body)}")
    R.eq(f"{label}: the connection works after the errors", [[["i", 2]]],
         rows(q("SELECT count(*) FROM t")))

    # Parameters are bound, never spliced into the SQL.
    evil = "x'); DROP TABLE t; --"
    a = q("INSERT INTO t (id, s) VALUES ($1, $2)", p1="i:3", p2="t:" + evil)
    ok("INSERT of an injection string as a parameter", a)
    R.eq(f"{label}: the injection string is stored literally", [[["t", evil]]],
         rows(q("SELECT s FROM t WHERE id = $1", p1="i:3")))
    a = q("SELECT s FROM t WHERE s = $1", p1="t:' OR '1'='1")
    R.eq(f"{label}: a WHERE with an injection string as a parameter matches nothing", [], rows(a))
    a = q("SELECT 1; DROP TABLE t")
    R.eq(f"{label}: two statements in one sql_exec, then: table t is still there", [[["i", 3]]],
         rows(q("SELECT count(*) FROM t")), [f"the two statements answered {a.status}: {S.short(a.body, 200)}"])

    # A transaction left open is rolled back when the request ends.
    a = q("BEGIN", "INSERT INTO t (id, s) VALUES ($1, $2)", "SELECT count(*) FROM t WHERE id = 10",
          s2_p1="i:10", s2_p2="t:uncommitted")
    if ok("BEGIN; INSERT; SELECT in one request, no COMMIT", a, 3):
        R.eq(f"{label}: inside the open transaction the row is there", [[["i", 1]]], a.results[2]["rows"])
    R.eq(f"{label}: the next request does not see the uncommitted row (rolled back at the request's end)",
         [[["i", 0]]], rows(q("SELECT count(*) FROM t WHERE id = 10")))
    a = q("INSERT INTO t (id, s) VALUES ($1, $2)", p1="i:10", p2="t:later")
    ok("the next request inserts the same id (no lock, no row left over)", a)

    # BEGIN, INSERT, COMMIT over three sql_exec calls of one request.
    a = q("BEGIN", "INSERT INTO t (id, s) VALUES ($1, $2)", "COMMIT", s2_p1="i:11", s2_p2="t:committed")
    ok("BEGIN; INSERT; COMMIT in one request", a, 3)
    R.eq(f"{label}: the committed row in the next request", [[["t", "committed"]]],
         rows(q("SELECT s FROM t WHERE id = $1", p1="i:11")))

    # A statement failing inside a transaction: the request ends there.
    a = q("BEGIN", "INSERT INTO t (id, s) VALUES ($1, $2)", "SELEC 1", s2_p1="i:12", s2_p2="t:doomed")
    R.check(a.status == 503 and a.index == "2" and a.rc == "-2",
            f"{label}: BEGIN; INSERT; a syntax error: the third statement fails", "503, X-Index 2, -2",
            f"{a.status}, X-Index {a.index}, {a.rc}, {S.short(a.body)}")
    R.eq(f"{label}: ... and the next request neither sees the row nor inherits an aborted transaction",
         [[["i", 0]]], rows(q("SELECT count(*) FROM t WHERE id = 12")))

    a = q("SELECT s FROM t WHERE id = $1", h=77, p1="i:1")
    R.check(a.status == 503 and a.rc == "-2", f"{label}: sql_exec on handle 77 (never opened): -2, not a trap",
            "503, -2", f"{a.status}, {a.rc}, {S.short(a.body)}")
    conn.close()


def pg_session_checks(s, pg):
    """Session state one request sets on a PostgreSQL connection is gone for
    the next request on the same connection (one worker, pool_size 1)."""
    R = S.R
    p = s.port
    a = sql(p, "/db", "pg", "SET application_name = 'leak'", "CREATE TEMP TABLE leaktmp (x int)",
            "PREPARE leakstmt AS SELECT 1", "LISTEN leakchan", "SELECT pg_advisory_lock(4242)",
            "SELECT pg_backend_pid(), current_setting('application_name')")
    if not R.check(a.status == 200 and isinstance(a.results, list) and len(a.results) == 6,
                   "postgres: request 1 sets application_name, a temp table, a prepared statement, LISTEN, "
                   "an advisory lock", "200 with 6 results", f"{a.status}, {a.step} returned {a.rc}, "
                   f"{S.short(a.body)}"):
        return
    pid1, name1 = [typed(v) for v in a.results[5]["rows"][0]]
    R.eq("postgres: request 1 sees its own application_name", "leak", name1)
    locks = pg.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    R.eq("postgres: advisory locks held after request 1 ended (psql, pg_locks)", "0", locks)
    a = sql(p, "/db", "pg",
            "SELECT pg_backend_pid(), current_setting('application_name'), to_regclass('leaktmp') IS NULL, "
            "(SELECT count(*) FROM pg_prepared_statements WHERE name = 'leakstmt'), "
            "(SELECT count(*) FROM pg_listening_channels())")
    r = rows(a)
    if not R.check(isinstance(r, list) and len(r) == 1, "postgres: request 2 reads the session state", "one row",
                   r):
        return
    pid2, name2, no_tmp, prepared, listening = [typed(v) for v in r[0]]
    R.eq("postgres: request 2 runs on request 1's connection (pg_backend_pid, pool_size 1)", pid1, pid2)
    R.check(name2 != "leak", "postgres: request 2's application_name", "not 'leak'", name2)
    R.eq("postgres: request 2 does not see request 1's temp table", 1, no_tmp)
    R.eq("postgres: request 2 does not see request 1's prepared statement", 0, prepared)
    R.eq("postgres: request 2 does not listen on request 1's channel", 0, listening)
    a = sql(p, "/db", "pg", "CREATE TEMP TABLE leaktmp (x int)")
    R.eq("postgres: request 3 creates the same temp table again", 200, a.status, [S.short(a.body)])


# --- 2. deny by default -------------------------------------------------------------


def test_sql_deny():
    d = S.scratch_dir("sql-deny")
    R = S.R
    top = "databases:\n  a:\n    path: a.db\n  b:\n    path: b.db\n"
    m = S.manifest(d, [sqlhttp_app("nosql", "/nosql/..."), sqlhttp_app("onlya", "/onlya/...", "    sql: [a]\n")],
                   top=top)
    with S.Server(m, d) as s:
        p = s.port
        a = sql(p, "/nosql", "a", "SELECT 1")
        R.check(a.status == 403 and a.rc == "-1" and a.step == "open", "an app without sql: calls sql_open('a')",
                "403, open returned -1", f"{a.status}, {a.step} returned {a.rc}")
        R.check('"a"' in text(a.body) and "nosql" in text(a.body), "... err_message names the database and the app",
                "'database \"a\" ... app \"nosql\"'", S.short(a.body))
        a = sql(p, "/nosql", "a", "CREATE TABLE forged (x)", h=0)
        R.check(a.status == 503 and a.rc == "-2" and a.step == "exec",
                "an app without sql: calls sql_exec on handle 0 without sql_open", "503, exec returned -2",
                f"{a.status}, {a.step} returned {a.rc}, {S.short(a.body)}")
        a = sql(p, "/onlya", "b", "SELECT 1")
        R.check(a.status == 403 and a.rc == "-1" and a.step == "open", "an app granted a asks for database b",
                "403, open returned -1", f"{a.status}, {a.step} returned {a.rc}")
        R.check('"b"' in text(a.body) and "onlya" in text(a.body), "... err_message names database b and the app",
                "'database \"b\" ... app \"onlya\"'", S.short(a.body))
        a = sql(p, "/onlya", "nosuch", "SELECT 1")
        R.eq("an app asks for a database no manifest declares", (403, "-1"), (a.status, a.rc))
        a = sql(p, "/onlya", "", "SELECT 1", h=1)
        R.eq("an app granted only a uses handle 1 without sql_open", (503, "-2"), (a.status, a.rc))
        R.eq("the granted database a: no table 'forged' (nothing sneaked in)", [[["i", 0]]],
             rows(sql(p, "/onlya", "a", "SELECT count(*) FROM sqlite_master WHERE name = 'forged'")))
        s.stop()


# --- 2b. hostile SQL (issue 10: F01, F02, F16) ---------------------------------------


def peak_rss_mib(pid):
    """The process's peak resident set (VmHWM) in MiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def alive(s, what):
    """The other app of the server still answers, and the process lives."""
    st, _, body = S.try_get(s.port, "/echo/ping")
    S.R.check(st == 200 and s.proc.poll() is None, f"{what}: the server lives and another app answers",
              "200 from /echo/ping", f"{st}, process {'running' if s.proc.poll() is None else 'exited'}",
              s.tail(6))


def hostile_server(name):
    """A server with the sqlhttp guest on SQLite under deadline_ms 500
    (/db) beside the echo guest (/echo)."""
    d = S.scratch_dir(name)
    top = "databases:\n  sq:\n    path: app.db\n"
    m = S.manifest(d, [sqlhttp_app("db", "/db/...", "    sql: [sq]\n    limits:\n      deadline_ms: 500\n"),
                       S.app("echo", "/echo/...", S.guest("echo.wasm"))], top=top)
    return S.Server(m, d)


def test_sql_f01():
    """F01: SQLite's fts3_tokenizer() and the rest of what untrusted SQL
    must not reach."""
    R = S.R
    with hostile_server("sql-hostile-f01") as s:
        p = s.port
        a = sql(p, "/db", "sq", "SELECT fts3_tokenizer('simple')")
        R.check(a.status == 503 and a.rc == "-2", "F01: SELECT fts3_tokenizer('simple') is refused",
                "503, -2 (no host pointer for the guest)", f"{a.status}, {a.rc}, {S.short(a.body)}")
        a = sql(p, "/db", "sq", "SELECT fts3_tokenizer('evil', x'4141414141414141')")
        R.check(a.status == 503 and a.rc == "-2", "F01: registering a tokenizer at a forged address is refused",
                "503, -2", f"{a.status}, {a.rc}, {S.short(a.body)}")
        a = sql(p, "/db", "sq", "CREATE VIRTUAL TABLE temp.v USING fts3(tokenize=evil)")
        R.check(a.status == 503 and a.rc == "-2", "F01: a table using the forged tokenizer is not made",
                "503, -2", f"{a.status}, {a.rc}, {S.short(a.body)}")
        alive(s, "F01")
        if s.proc.poll() is not None:
            raise S.Abort()
        for q, what in (("SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", "load_extension()"),
                        ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
                        ("PRAGMA journal_mode = OFF", "PRAGMA journal_mode"),
                        ("ATTACH DATABASE '/etc/passwd' AS x", "ATTACH")):
            a = sql(p, "/db", "sq", q)
            R.check(a.status == 503 and a.rc == "-2", f"F01: {what} is refused", "503, -2",
                    f"{a.status}, {a.rc}, {S.short(a.body)}")
        # ordinary SQL still works, full-text search with its own tokenizers too
        a = sql(p, "/db", "sq", "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts4(body)",
                "INSERT INTO docs(body) VALUES ('the quick brown fox')",
                "SELECT count(*) FROM docs WHERE docs MATCH 'quick'")
        R.eq("full-text search with the built-in tokenizer still works", [[["i", 1]]], rows(a))
        s.stop()


def test_sql_f16():
    """F16: one statement must not make the host allocate without bound."""
    R = S.R
    with hostile_server("sql-hostile-f16") as s:
        p = s.port
        for q in ("SELECT length(randomblob(900000000))", "SELECT length(hex(zeroblob(400000000)))",
                  "SELECT length(replace(hex(zeroblob(1000)), '0', hex(zeroblob(1000000))))"):
            a = sql(p, "/db", "sq", q)
            R.check(a.status == 503 and a.rc == "-2" and ("too big" in text(a.body) or "out of memory" in text(a.body)),
                    f"F16: {S.short(q, 80)}: refused by the length or heap limit", "503, -2, '...too big...'",
                    f"{a.status}, {a.rc}, {S.short(a.body)}")
        # 40 values of 15 MB in one row: the heap limit, or the deadline
        # while making them; never 600 MB held
        a = sql(p, "/db", "sq", "SELECT " + ", ".join(["randomblob(15000000)"] * 40))
        R.check(a.status in (503, 504), "F16: a row of 40 blobs of 15 MB each is refused", "503 or 504",
                f"{a.status}, {a.rc}, {S.short(a.body)}")
        rss = peak_rss_mib(s.proc.pid)
        limit = 400 if not S.ASAN else 1200
        R.check(rss is not None and rss < limit, "F16: the server's peak RSS after those statements",
                f"< {limit} MiB", f"{rss} MiB")
        alive(s, "F16")
        s.stop()


def test_sql_f02():
    """F02 on SQLite: a statement that would run for a minute ends at the
    app's deadline, and six at once do not park the workers."""
    R = S.R
    endless = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) "
               "SELECT count(*) FROM c")
    with hostile_server("sql-hostile-f02") as s:
        p = s.port
        t0 = time.monotonic()
        a = sql(p, "/db", "sq", endless)
        took = time.monotonic() - t0
        R.eq("F02: a 300M-row recursive CTE under deadline_ms 500: status", 504, a.status, [S.short(a.body)])
        R.check(took < 3 * S.SLOW, "F02: ... answered soon after the deadline", f"< {3 * S.SLOW} s", f"{took:.2f} s")
        results = []

        def long_query():
            results.append(sql(p, "/db", "sq", endless).status)

        t0 = time.monotonic()
        threads = [threading.Thread(target=long_query) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30 * S.SLOW)
        took = time.monotonic() - t0
        R.eq("F02: six such statements at once: all 504", [504] * 6, sorted(str(x) for x in results) and
             [x for x in results])
        R.check(took < 8 * S.SLOW, "F02: ... all answered within a few deadlines", f"< {8 * S.SLOW} s",
                f"{took:.2f} s")
        alive(s, "F02")
        a = sql(p, "/db", "sq", "SELECT 41 + 1")
        R.eq("F02: the database serves the next request", [[["i", 42]]], rows(a))
        s.stop()


def test_pg_deadline():
    """F02 on PostgreSQL: pg_sleep is cancelled at the deadline; the role is
    a superuser here, which wasp warns about at start-up."""
    d = S.scratch_dir("sql-pg-deadline")
    R = S.R
    with Postgres(d) as pg:
        top = "databases:\n" + pg_database("pg", pg, "    pool_size: 2\n")
        m = S.manifest(d, [sqlhttp_app("db", "/db/...", "    sql: [pg]\n    limits:\n      deadline_ms: 500\n"),
                           S.app("echo", "/echo/...", S.guest("echo.wasm"))], top=top)
        with S.Server(m, d) as s:
            p = s.port
            R.check("superuser" in s.text(), "a superuser role is warned about at start-up",
                    "'warning: database pg: the role wasp connects as is a superuser...'", s.tail(4))

            def past_deadline(stmt, what, cancelled):
                """Runs stmt (past the deadline) and checks its 504, when it
                came, and that its statement ended on the server."""
                t0 = time.monotonic()
                a = sql(p, "/db", "pg", stmt)
                took = time.monotonic() - t0
                R.eq(f"{what}: {stmt} under deadline_ms 500: status", 504, a.status, [S.short(a.body)])
                R.check(took < 3 * S.SLOW, f"{what}: ... answered within the cancel's grace",
                        f"< {3 * S.SLOW} s", f"{took:.2f} s")
                like = stmt.replace("SELECT ", "%") + "%"
                active = wait_until_value(lambda: pg.query(
                    f"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '{like}' AND state = 'active' "
                    "AND pid <> pg_backend_pid()", check=False), "0", 5 * S.SLOW)
                R.eq(f"{what}: {cancelled}", "0", active)

            past_deadline("SELECT pg_sleep(5)", "F02", "the statement was cancelled on the server too")
            # A cancel can be lost (the server ignores one that arrives
            # between protocol messages); this function stands for that: it
            # shrugs off the first interrupts (the statement_timeout
            # backstop and wasp's cancel). Sent again, the cancel stops it
            # within the grace, instead of the connection being dropped with
            # its backend still sleeping. (Five sleeps: the first two
            # interrupts can land as one.)
            a = sql(p, "/db", "pg", "CREATE FUNCTION stubborn() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
                    "FOR i IN 1..5 LOOP BEGIN PERFORM pg_sleep(30); EXCEPTION WHEN query_canceled THEN "
                    "NULL; END; END LOOP; RETURN 0; END $$")
            R.eq("a function that ignores cancels is created", 200, a.status, [S.short(a.body)])
            past_deadline("SELECT stubborn()", "lost cancels",
                          "the cancel, sent again, stopped it on the server (not left running)")
            a = sql(p, "/db", "pg", "SHOW statement_timeout")
            R.eq("the server-side statement_timeout is the app's deadline (a backstop)", [[["t", "500ms"]]],
                 rows(a))
            for _ in range(3):
                a = sql(p, "/db", "pg", "SELECT 41 + 1")
                R.eq("F02: the pool serves the next requests", [[["i", 42]]], rows(a))
            alive(s, "F02 (PostgreSQL)")
            s.stop()


def wait_until_value(fn, want, timeout):
    """Calls fn until it returns want (stripped) or the timeout passes; the
    last value."""
    end = time.monotonic() + timeout
    while True:
        v = (fn() or "").strip()
        if v == want or time.monotonic() > end:
            return v
        time.sleep(0.1)


# --- 3. PostgreSQL restarts under a serving wasp ------------------------------------


def test_pg_restart():
    d = S.scratch_dir("sql-pg-restart")
    R = S.R
    with Postgres(d) as pg:
        top = "databases:\n" + pg_database("pg", pg, "    pool_size: 2\n    acquire_timeout_ms: 1000\n")
        m = S.manifest(d, [sqlhttp_app("db", "/db/...", "    sql: [pg]\n")], top=top)
        with S.Server(m, d) as s:
            p = s.port
            a = sql(p, "/db", "pg", "CREATE TABLE r (n BIGINT, at TEXT)")
            R.eq("CREATE TABLE r", 200, a.status, [S.short(a.body)])
            log, stop = [], threading.Event()
            phase = ["up"]

            def client():
                cc = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)
                n = 0
                while not stop.is_set():
                    n += 1
                    ph = phase[0]
                    a = sql(p, "/db", "pg", "INSERT INTO r (n, at) VALUES ($1, $2)", conn=cc, p1=f"i:{n}",
                            p2=f"t:{ph}")
                    log.append((time.monotonic(), ph, n, a))
                    if a.status is None:
                        cc.close()
                        cc = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)
                    time.sleep(0.01)
                cc.close()

            t = threading.Thread(target=client)
            t.start()
            try:
                time.sleep(0.5)
                phase[0] = "stopping"
                pg.stop()
                phase[0] = "down"
                time.sleep(1.0)
                R.check(s.proc.poll() is None, "wasp is running while PostgreSQL is down", "running",
                        f"exit status {s.proc.returncode}", s.tail())
                R.eq("/healthz while PostgreSQL is down", 200, S.try_get(s.admin, "/healthz")[0])
                phase[0] = "starting"
                pg.start()
                restarted = time.monotonic()
                phase[0] = "back"
                back = S.wait_until(lambda: any(ph == "back" and a.status == 200 for _, ph, _, a in log),
                                    10 * S.SLOW, 0.05)
                took = time.monotonic() - restarted
                R.check(back and took <= 5 * S.SLOW, "PostgreSQL restarted on the same port: a request succeeds "
                        "again without restarting wasp", f"within {5 * S.SLOW} s",
                        f"after {took:.1f} s" if back else "not within 10 s")
                time.sleep(1.0)
            finally:
                stop.set()
                t.join(S.HTTP_TIMEOUT + 5)

            by = collections.defaultdict(collections.Counter)
            for _, ph, _, a in log:
                by[ph][a.status] += 1
            summary = {ph: dict(c) for ph, c in by.items()}
            bad = [(ph, n, a.status, a.step, S.short(a.body, 160)) for _, ph, n, a in log
                   if a.status not in (200, 503)]
            R.eq("answers other than 200 and 503 (no 500, no reset) across the restart", [], bad[:3],
                 [f"answers by phase: {summary}"])
            R.check(by["up"][200] >= 5 and set(by["up"]) == {200}, "before the stop: every request 200",
                    ">= 5, all 200", dict(by["up"]))
            down = [a for _, ph, _, a in log if ph == "down"]
            R.check(len(down) >= 3 and all(a.status == 503 for a in down),
                    "while PostgreSQL is down: every request 503 (the guest's -2)", ">= 3, all 503",
                    dict(by["down"]))
            odd = [(a.step, a.rc, S.short(a.body, 160)) for a in down
                   if a.status == 503 and (a.rc != "-2" or not text(a.body).startswith("database pg"))]
            R.eq("while PostgreSQL is down: -2 from sql_open or sql_exec with a 'database pg: ...' message",
                 [], odd[:3])
            back_log = [a for _, ph, _, a in log if ph == "back"]
            tail = [a.status for a in back_log[-20:]]
            R.check(len(tail) >= 10 and set(tail) == {200}, "after the restart: the last 20 requests 200",
                    "all 200", f"{len(back_log)} requests, last statuses {tail}")
            ok_rows = sum(1 for _, ph, _, a in log if a.status == 200)
            R.eq("rows in r (psql) = requests answered 200", str(ok_rows), pg.query("SELECT count(*) FROM r"))
            s.stop()


# --- 4. kill -9 while SQL writes are in flight ---------------------------------------


def test_sql_kill9():
    d = S.scratch_dir("sql-kill9")
    kill9_run(d, "sqlite", "databases:\n  st:\n    path: kill9.db\n")
    with Postgres(d) as pg:
        kill9_run(d, "postgres", "databases:\n" + pg_database("st", pg))


def kill9_run(d, label, top):
    """Writers stream INSERTs of distinct values, pipelined in batches so
    wasp always has requests queued; wasp gets SIGKILL ~0.5 s in; after a
    restart every row whose INSERT was answered 200 must be there."""
    R = S.R
    m = S.manifest(d, [sqlhttp_app("db", "/db/...", "    sql: [st]\n")], name=f"{label}.yaml", top=top)
    acked, lock = set(), threading.Lock()
    refused, in_flight = [], []
    killed_at = [float("inf")]
    stop = threading.Event()
    batch_size = 16
    stmt = b"INSERT INTO k9 (v) VALUES ($1)"

    def request(t, i):
        v = f"{label}-{t}-{i}"
        return v, (f"POST {sql_path('/db', 'st', p1='t:' + v)} HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Length: {len(stmt)}\r\n\r\n").encode() + stmt

    def writer(t):
        sock = socket.create_connection((S.HOST, s.port), timeout=S.HTTP_TIMEOUT)
        i = 0
        while not stop.is_set():
            batch = [request(t, i + j) for j in range(batch_size)]
            i += batch_size
            t0 = time.monotonic()
            buf, answered = b"", 0
            try:
                sock.sendall(b"".join(r[1] for r in batch))
                while answered < len(batch):
                    r = S.split_response(buf)
                    if r is None:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                        continue
                    status, buf = r[0], r[3]
                    v = batch[answered][0]
                    answered += 1
                    if status != 200:
                        refused.append((status, S.short(r[2], 160)))
                        continue
                    with lock:
                        acked.add(v)
            except OSError:
                pass
            if answered < len(batch):
                if t0 < killed_at[0]:
                    in_flight.append(len(batch) - answered)
                break
        sock.close()

    with S.Server(m, d, name=f"{label}-killed") as s:
        a = sql(s.port, "/db", "st", "CREATE TABLE k9 (v TEXT NOT NULL)")
        if not R.eq(f"{label}: CREATE TABLE k9", 200, a.status, [S.short(a.body)]):
            return
        threads = [threading.Thread(target=writer, args=(t,)) for t in ("a", "b", "c", "d")]
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
    R.check(len(acked) >= 20, f"{label}: INSERTs acknowledged in the 0.5 s before kill -9", ">= 20", len(acked))
    R.check(sum(in_flight) >= 1, f"{label}: requests in flight when wasp was killed (sent, never answered)",
            ">= 1", f"{sum(in_flight)} (per client: {in_flight})")

    with S.Server(m, d, name=f"{label}-restarted") as s:
        a = sql(s.port, "/db", "st", "SELECT v FROM k9")
        r = rows(a)
        if R.check(isinstance(r, list), f"{label}: SELECT v FROM k9 after the restart", "200", r):
            present = {typed(row[0]) for row in r}
            missing = sorted(acked - present)
            R.eq(f"{label}: acknowledged rows missing after kill -9 and a restart ({len(acked)} acknowledged, "
                 f"{len(present)} present)", [], missing[:5], [f"{len(missing)} missing in all"] if missing else None)
            dup = len(r) - len(present)
            R.eq(f"{label}: rows stored twice", 0, dup)
        s.stop()


# --- 5. outbound HTTP ------------------------------------------------------------------


class Upstream(http.server.ThreadingHTTPServer):
    """A local HTTP server on a free loopback port (.port) counting the
    requests it got (.hits): GET /hi answers "hi"; /redirect answers 302 to
    .redirect_to; /echo answers JSON {method, x_test, body}; /slow answers
    after 1.5 s, /slower after 5 s; /big answers 4096 bytes; anything else
    404 "no such path"."""

    daemon_threads = True

    def __init__(self):
        super().__init__((S.HOST, 0), UpstreamHandler)
        self.port = self.server_address[1]
        self.hits = 0
        self.redirect_to = ""
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def handle_error(self, request, client_address):
        pass  # a client gone mid-request (a timeout, a closed keep-alive connection) is no news

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
        return False


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_one(self):
        self.server.hits += 1
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/hi":
            self.reply(200, b"hi", [("X-Upstream", "Yes")])
        elif self.path == "/redirect":
            self.reply(302, b"moved", [("Location", self.server.redirect_to)])
        elif self.path == "/slow":
            time.sleep(1.5)
            self.reply(200, b"slow")
        elif self.path == "/slower":
            time.sleep(5)
            self.reply(200, b"slower")
        elif self.path == "/big":
            self.reply(200, b"x" * 4096)
        elif self.path == "/echo":
            self.reply(200, json.dumps({"method": self.command, "x_test": self.headers.get("X-Test"),
                                        "body": body.decode("latin-1")}).encode())
        else:
            self.reply(404, b"no such path")

    do_GET = do_POST = do_PUT = do_DELETE = handle_one


def test_http_out():
    d = S.scratch_dir("http-out")
    R = S.R
    with Upstream() as up, Upstream() as other:
        up.redirect_to = f"http://{S.HOST}:{other.port}/hi"
        refused = S.free_ports(1)[0]
        allowed = f"http://{S.HOST}:{up.port}"
        fetcher = f'    http: {{allow: ["{allowed}", "http://{S.HOST}:{refused}"], timeout_ms: 3000}}\n'
        tight = f'    http: {{allow: ["{allowed}"], timeout_ms: 300, max_response: 1KiB}}\n'
        m = S.manifest(d, [sqlhttp_app("fetcher", "/f/...", fetcher), sqlhttp_app("nohttp", "/n/..."),
                           sqlhttp_app("tight", "/t/...", tight),
                           sqlhttp_app("hurried", "/d/...", fetcher + "    limits:\n      deadline_ms: 300\n")])
        with S.Server(m, d) as s:
            p = s.port
            a = fetch(p, "/f", f"{allowed}/hi")
            R.eq("GET an allowed origin's /hi: status and body", (200, "200", b"hi"), (a.status, a.rc, a.body))
            a = fetch(p, "/f", f"{allowed}/hi", show="headers")
            R.check(a.status == 200 and "content-length: 2\n" in text(a.body) and "x-upstream: Yes\n" in text(a.body),
                    "http_headers: 'name: value' lines, names lower-case", "'content-length: 2', 'x-upstream: Yes'",
                    S.short(a.body))
            a = fetch(p, "/f", f"{allowed}/echo", method="POST", headers="X-Test: from the guest",
                      body=b"payload \x00\xff")
            try:
                echo = json.loads(a.body) if a.status == 200 else a
            except ValueError:
                echo = a
            R.eq("POST with a header and a body: what the server got",
                 {"method": "POST", "x_test": "from the guest", "body": "payload \x00\xff"}, echo)
            a = fetch(p, "/f", f"{allowed}/missing")
            R.eq("an upstream 404 is a status, not an error", (200, "404", b"no such path"),
                 (a.status, a.rc, a.body))

            a = fetch(p, "/f", f"{allowed}/redirect")
            R.eq("a 302 to another origin comes back as 302 (not followed)", (200, "302", b"moved"),
                 (a.status, a.rc, a.body))
            a = fetch(p, "/f", f"{allowed}/redirect", show="headers")
            R.check(f"location: {up.redirect_to}\n" in text(a.body), "... with its location header",
                    f"'location: {up.redirect_to}'", S.short(a.body))

            for url, origin in ((f"http://{S.HOST}:{other.port}/hi", f"http://{S.HOST}:{other.port}"),
                                (f"http://localhost:{up.port}/hi", f"http://localhost:{up.port}"),
                                (f"https://{S.HOST}:{up.port}/hi", f"https://{S.HOST}:{up.port}")):
                a = fetch(p, "/f", url)
                msg = text(a.body)
                R.check(a.status == 403 and a.rc == "-1" and a.step == "send", f"{url}: not on the allow-list",
                        "403, send returned -1", f"{a.status}, {a.step} returned {a.rc}, {S.short(a.body)}")
                R.check(origin in msg and allowed in msg and "fetcher" in msg,
                        f"{url}: the message names the origin, the allow-list and the app",
                        f"'app fetcher: {origin} is not on the allow-list (allowed: {allowed}, ...)'", S.short(msg))
            a = fetch(p, "/f", f"http://{S.HOST}:{up.port}@{S.HOST}:{other.port}/hi")
            R.eq("a URL with the allowed origin as its user info, naming another host: -1", (403, "-1"),
                 (a.status, a.rc), [S.short(a.body)])
            a = fetch(p, "/f", f"http://{S.HOST}:{refused}/hi")
            R.check(a.status == 503 and a.rc == "-2", "an allowed origin where nothing listens: -2",
                    "503, -2", f"{a.status}, {a.rc}, {S.short(a.body)}")

            t0 = time.monotonic()
            a = fetch(p, "/t", f"{allowed}/slow")
            took = time.monotonic() - t0
            R.check(a.status == 503 and a.rc == "-2" and "300 ms" in text(a.body),
                    "timeout_ms: 300, an upstream answering after 1.5 s: -2, the message names the timeout",
                    "503, -2, '...300 ms...'", f"{a.status}, {a.rc}, {S.short(a.body)}")
            R.check(took < 1.2 * S.SLOW, "... and the request ends at the timeout", f"< {1.2 * S.SLOW} s",
                    f"{took:.2f} s")
            a = fetch(p, "/t", f"{allowed}/big")
            R.check(a.status == 503 and a.rc == "-2" and "1024" in text(a.body),
                    "max_response: 1KiB, a 4096-byte answer: -2, the message names the limit", "503, -2, '...1024...'",
                    f"{a.status}, {a.rc}, {S.short(a.body)}")
            a = fetch(p, "/t", f"{allowed}/hi")
            R.eq("max_response: 1KiB, a 2-byte answer", (200, "200", b"hi"), (a.status, a.rc, a.body))

            # F08: the app's deadline bounds the transfer, not only timeout_ms
            t0 = time.monotonic()
            a = fetch(p, "/d", f"{allowed}/slower")
            took = time.monotonic() - t0
            R.eq("F08: deadline_ms 300, timeout_ms 3000, an upstream answering after 5 s: status", 504,
                 a.status, [S.short(a.body)])
            R.check(took < 2 * S.SLOW, "F08: ... the request ends soon after the deadline", f"< {2 * S.SLOW} s",
                    f"{took:.2f} s")

            a = fetch(p, "/n", f"{allowed}/hi")
            R.check(a.status == 403 and a.rc == "-1" and "nohttp" in text(a.body),
                    "an app without http: -1, the message names the app", "403, -1, '...nohttp...'",
                    f"{a.status}, {a.rc}, {S.short(a.body)}")
            R.eq("requests the other origin got (denied, or a redirect not followed)", 0, other.hits)
            s.stop()
