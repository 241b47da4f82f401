"""observe_test.py - seeing inside a running `wasp serve` (issue 14), with
the guest tests/serve/guests/observe.c:

  observe-backtrace  a trapping handler's Wasm backtrace, innermost first,
                     in the access log line and the event line; with --dev
                     also in the 500's body, without it not
  observe-profile    GET /debug/profile on the admin listener while a
                     recursive handler runs: hot_fib on top by sample share
                     in folded stacks; .cpuprofile and trace JSON parse;
                     the refusals (400, 404, 409); a client that leaves
  observe-memory     a handler that grows memory by a known number of pages:
                     the peak, the per-request high-water and the pages reset
                     in /metrics and GET /debug/memory move by that much
  observe-timeline   a request with a traceparent that calls kv, sql, http and
                     log: GET /debug/requests shows those spans in order with
                     durations (JSON and Chrome trace), the slowest request
                     first; the upstream (a local server) gets the same trace
                     id under a new span id; the log lines carry it
  observe-top        `wasp top` in a tmux session against a loaded server:
                     the app's row with its rate and errors; q quits

serve_test.py imports this module and runs the tests register() returns
with its own helpers (both tiers, as every serve test):

    bash tests/serve/run.sh build/wasp observe
"""

import http.server
import json
import os
import re
import subprocess
import threading
import time

S = None  # the serve_test module, set by register()


def register(serve_test):
    global S
    S = serve_test
    return [
        ("observe-backtrace", test_backtrace),
        ("observe-profile", test_profile),
        ("observe-memory", test_memory),
        ("observe-timeline", test_timeline),
        ("observe-top", test_top),
    ]


def setup(name):
    d = S.scratch_dir(name)
    top = ("stores:\n  kv:\n    backend: sqlite\n    path: kv.db\n"
           "databases:\n  db:\n    backend: sqlite\n    path: obs.db\n")
    m = S.manifest(d, [S.app("obs", "/obs/...", S.guest("observe.wasm"),
                             "    kv: [kv]\n    sql: [db]\n")], top=top)
    return d, m


FRAMES = ["trap_inner", "trap_middle", "trap_outer", "wasp_handle"]


def names(backtrace):
    """The function names of a backtrace 'f at offset 0x1 <- g <- ...'."""
    return [re.sub(r"^\$| at offset 0x[0-9a-f]+$", "", f) for f in backtrace.split(" <- ")]


def test_backtrace():
    d, m = setup("observe-backtrace")
    with S.Server(m, d, extra=["--dev"]) as s:
        st, _, body = S.get(s.port, "/obs/trap")
        S.R.eq("GET /obs/trap (--dev): status", 500, st)
        text = body.decode("utf-8", "replace")
        S.R.check(text.startswith("the handler failed: unreachable in $trap_inner"),
                  "--dev: the body says the trap", "'the handler failed: unreachable in $trap_inner...'",
                  S.short(text))
        bt = re.search(r"^wasm backtrace: (.*)$", text, re.M)
        S.R.eq("--dev: the body's backtrace names the frames innermost first", FRAMES,
               names(bt.group(1)) if bt else None)
        lines = s.wait_access(lambda e: e.get("path") == "/obs/trap")
        line = lines[-1] if lines else {}
        S.R.eq("the access log line's backtrace= names the frames innermost first", FRAMES,
               names(line.get("backtrace", "")))
        if S.TIER_WORD == "native":
            S.R.check(re.match(r"\$trap_inner at offset 0x[0-9a-f]+ <- \$trap_middle at offset 0x[0-9a-f]+ <- ",
                               line.get("backtrace", "")) is not None,
                      "native: the trap's frame and its caller's have their offsets",
                      "'$trap_inner at offset 0x.. <- $trap_middle at offset 0x.. <- ...'",
                      line.get("backtrace"))
        ev = [ln for ln in s.text().splitlines() if ln.startswith("wasp: app obs: GET /obs/trap:")]
        S.R.check(ev and "; backtrace: $trap_inner" in ev[0], "the event line has the backtrace",
                  "'wasp: app obs: GET /obs/trap: ...; backtrace: $trap_inner ...'", ev[:1])
        st, _, body = S.get(s.port, "/obs/hot?n=10")
        S.R.eq("a request after the trap: status, body", (200, b"55\n"), (st, body))
        s.stop()
    with S.Server(m, d, name="nodev") as s:
        st, _, body = S.get(s.port, "/obs/trap")
        S.R.eq("without --dev: 500 and a body that says nothing of the module", (500, b"the handler failed\n"),
               (st, body))
        lines = s.wait_access(lambda e: e.get("path") == "/obs/trap")
        S.R.check(lines and names(lines[-1].get("backtrace", "")) == FRAMES,
                  "without --dev the log line still has the backtrace", FRAMES,
                  lines[-1].get("backtrace") if lines else None)
        s.stop()


def load(port, stop, path="/obs/hot?n=25"):
    """Requests `path` until `stop` is set."""
    while not stop.is_set():
        try:
            S.get(port, path, timeout=10 * S.SLOW)
        except OSError:
            time.sleep(0.05)


def profile(s, query):
    return S.get(s.admin, "/debug/profile?" + query, timeout=60 * S.SLOW)


def folded_top(text):
    share = {}
    for ln in text.splitlines():
        stack, _, n = ln.rpartition(" ")
        leaf = stack.split(";")[-1]
        share[leaf] = share.get(leaf, 0) + int(n)
    total = sum(share.values())
    top = max(share, key=share.get) if share else None
    return top, (share.get(top, 0) / total if total else 0), total


def test_profile():
    d, m = setup("observe-profile")
    with S.Server(m, d) as s:
        stop = threading.Event()
        clients = [threading.Thread(target=load, args=(s.port, stop)) for _ in range(2)]
        for t in clients:
            t.start()
        try:
            st, h, body = profile(s, "app=obs&seconds=3&format=folded")
            S.R.eq("folded: status", 200, st)
            text = body.decode("utf-8", "replace")
            bad = [ln for ln in text.splitlines() if not re.match(r"^[^ ;]+(;[^ ;]+)* \d+$", ln)]
            S.R.check(text and not bad, "folded: every line is 'frame;frame;... count'", "such lines",
                      S.short(bad[:3] or text))
            top, share, total = folded_top(text)
            S.R.check(top == "hot_fib" and share > 0.5, "folded: hot_fib on top, with most samples",
                      "hot_fib > 50%", f"{top} {share:.0%} of {total}")
            S.R.check(all(re.match(r"wasp_handle[; ]", ln) for ln in text.splitlines()),
                      "folded: every stack starts at wasp_handle", "wasp_handle;...", S.short(text))

            st, h, body = profile(s, "app=obs&seconds=1&format=cpuprofile&hz=500")
            S.R.eq("cpuprofile: status, content type", (200, "application/json"),
                   (st, h.get("Content-Type")))
            try:
                doc = json.loads(body)
                hits = {}
                for n in doc["nodes"]:
                    f = n["callFrame"]["functionName"]
                    hits[f] = hits.get(f, 0) + n["hitCount"]
                ok = (len(doc["samples"]) == len(doc["timeDeltas"]) > 0
                      and max(hits, key=hits.get) == "hot_fib")
                got = f"{len(doc['samples'])} samples, hits {hits}"
            except (ValueError, KeyError, TypeError) as e:
                ok, got = False, f"{e}: {S.short(body)}"
            S.R.check(ok, "cpuprofile: parses; samples and deltas match; hot_fib has the most hits",
                      "a .cpuprofile with hot_fib on top", got)

            st, h, body = profile(s, "seconds=1")  # every app, the default format: a trace
            try:
                ev = json.loads(body)["traceEvents"]
                b = [e for e in ev if e.get("ph") == "B"]
                e_ = [e for e in ev if e.get("ph") == "E"]
                ok = st == 200 and b and len(b) == len(e_) and any(e["name"] == "hot_fib" for e in b)
                got = f"status {st}, {len(b)} begins, {len(e_)} ends"
            except (ValueError, KeyError, TypeError) as e:
                ok, got = False, f"{e}: {S.short(body)}"
            S.R.check(ok, "trace: parses; begins and ends pair up; hot_fib has spans",
                      "Chrome trace events", got)

            # refusals
            S.R.eq("seconds=0: 400", 400, profile(s, "seconds=0")[0])
            S.R.eq("format=svg: 400", 400, profile(s, "format=svg")[0])
            S.R.eq("hz=5000: 400", 400, profile(s, "hz=5000")[0])
            S.R.eq("app=nope: 404", 404, profile(s, "app=nope")[0])
            res = {}

            def first():
                res["first"] = profile(s, "seconds=2")[0]

            t = threading.Thread(target=first)
            t.start()
            time.sleep(0.5 * S.SLOW)
            st2, _, body2 = profile(s, "seconds=1")
            t.join()
            S.R.eq("a second profile while one runs: 409, the first 200", (409, 200),
                   (st2, res.get("first")))
            st, _, _ = S.get(s.admin, "/metrics")
            S.R.eq("/metrics answers while nothing is profiled", 200, st)
        finally:
            stop.set()
            for t in clients:
                t.join()
        # a client that leaves before its profile is done: the profile ends
        # at its time all the same (the server hears of it when it answers),
        # and the next one runs
        try:
            S.get(s.admin, "/debug/profile?seconds=2", timeout=0.5)
        except OSError:
            pass
        time.sleep(2.5)
        st, _, _ = profile(s, "seconds=1")
        S.R.eq("after a client left mid-profile, a new profile once its time is over: 200", 200, st)
        s.stop()


def memory_json(s):
    st, _, body = S.get(s.admin, "/debug/memory")
    try:
        doc = json.loads(body)
        app = [a for a in doc["apps"] if a["app"] == "obs"]
        return st, doc, (app[0] if app else {})
    except (ValueError, KeyError, TypeError):
        return st, {"unparsed": S.short(body)}, {}


def test_memory():
    d, m = setup("observe-memory")
    page = 65536

    def settled(s, requests):
        """/debug/memory once `requests` have been counted: a request's
        memory is counted when its instance is reset, after the answer."""
        got = {}

        def counted():
            got["v"] = memory_json(s)
            return got["v"][2].get("requests", 0) >= requests

        S.wait_until(counted, 5 * S.SLOW)
        return got["v"]

    with S.Server(m, d, workers=1) as s:
        st, _, body = S.get(s.port, "/obs/hot?n=3")  # touches almost nothing
        S.R.eq("a small request", (200, b"2\n"), (st, body))
        st, doc, app = settled(s, 1)
        S.R.eq("/debug/memory: status", 200, st)
        S.R.check(doc.get("process", {}).get("rss_bytes", 0) > 1 << 20, "/debug/memory: the process's RSS",
                  "over 1 MiB", doc.get("process"))
        rest = app.get("memory_bytes", 0) // max(app.get("instances", 1), 1)
        S.R.check(rest >= page and rest % page == 0, "an instance's memory at rest is whole pages",
                  "a multiple of 64 KiB", app)
        before = app.get("pages_reset", 0)
        st, _, body = S.get(s.port, "/obs/grow?p=16")
        S.R.eq("grow by 16 pages: the new size", (200, f"{rest // page + 16}\n".encode()), (st, body))
        st, doc, app = settled(s, 2)
        S.R.eq("/debug/memory: the peak is the snapshot's size + 16 pages", rest + 16 * page,
               app.get("peak_bytes"))
        # the handler wrote one byte in each 4 KiB page of the 16 new ones
        reset = app.get("pages_reset", 0) - before
        S.R.check(256 <= reset <= 256 + 16, "/debug/memory: the reset restored the pages written",
                  "256 (+ a few of the stack and data)", reset)
        S.R.eq("/debug/memory: at rest again after the reset", rest, app.get("memory_bytes", 0) //
               max(app.get("instances", 1), 1))
        st, _, body = S.get(s.port, "/obs/grow?p=32")
        S.R.eq("grow by 32 pages (a fresh instance: from the snapshot's size)",
               (200, f"{rest // page + 32}\n".encode()), (st, body))
        settled(s, 3)
        _, ms = s.metrics()
        S.R.eq("/metrics: wasp_app_memory_peak_bytes", rest + 32 * page,
               S.metric_sum(ms, "wasp_app_memory_peak_bytes", app="obs"))
        S.R.eq("/metrics: wasp_app_request_memory_bytes_count", 3,
               S.metric_sum(ms, "wasp_app_request_memory_bytes_count", app="obs"))
        S.R.eq("/metrics: wasp_app_request_memory_bytes_sum (the three high-waters)",
               3 * rest + 48 * page, S.metric_sum(ms, "wasp_app_request_memory_bytes_sum", app="obs"))
        S.R.check(S.metric_sum(ms, "wasp_app_host_buffer_peak_bytes", app="obs") >= 3,
                  "/metrics: wasp_app_host_buffer_peak_bytes holds at least a response body",
                  ">= 3 bytes", S.metric_sum(ms, "wasp_app_host_buffer_peak_bytes", app="obs"))
        S.R.check(S.metric_sum(ms, "wasp_app_memory_pages_reset_total", app="obs") >= 256 + 512,
                  "/metrics: wasp_app_memory_pages_reset_total counts both grows' pages", ">= 768",
                  S.metric_sum(ms, "wasp_app_memory_pages_reset_total", app="obs"))
        s.stop()


class Upstream(http.server.BaseHTTPRequestHandler):
    """Records each request's headers; answers 200 "up"."""
    seen = []

    def do_GET(self):
        Upstream.seen.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"up")

    def log_message(self, *args):
        pass


def test_timeline():
    up = http.server.ThreadingHTTPServer((S.HOST, 0), Upstream)
    uport = up.server_address[1]
    threading.Thread(target=up.serve_forever, daemon=True).start()
    Upstream.seen = []
    d = S.scratch_dir("observe-timeline")
    top = ("stores:\n  kv:\n    backend: sqlite\n    path: kv.db\n"
           "databases:\n  db:\n    backend: sqlite\n    path: obs.db\n")
    m = S.manifest(d, [S.app("obs", "/obs/...", S.guest("observe.wasm"),
                             "    kv: [kv]\n    sql: [db]\n"
                             f"    http:\n      allow: [\"http://{S.HOST}:{uport}\"]\n")], top=top)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = "00f067aa0ba902b7"
    try:
        with S.Server(m, d, workers=1) as s:
            st, _, body = S.get(s.port, f"/obs/calls?u=http://{S.HOST}:{uport}/up",
                                headers={"traceparent": f"00-{trace}-{parent}-01"})
            S.R.eq("GET /obs/calls with a traceparent: status, the upstream's status", (200, b"200\n"),
                   (st, body))
            tp = Upstream.seen[-1].get("traceparent", "") if Upstream.seen else ""
            mt = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", tp)
            S.R.check(mt and mt.group(1) == trace and mt.group(2) != parent,
                      "the upstream got the trace id under a span id of wasp's",
                      f"00-{trace}-<new span id>-01", tp)
            st, _, body = S.get(s.admin, "/debug/requests?app=obs&n=1")
            try:
                r = json.loads(body)["requests"][0]
            except (ValueError, KeyError, IndexError, TypeError):
                r = {}
            S.R.eq("/debug/requests: the request, its status and trace id", ("GET", 200, trace),
                   (r.get("method"), r.get("status"), r.get("trace_id")))
            spans = r.get("spans", [])
            names = [x["name"] for x in spans]
            S.R.eq("/debug/requests: the phases first", ["request", "queued", "instance", "handler"],
                   names[:4])
            calls = [x for x in spans if x["name"] in ("kv_set", "kv_get", "sql_exec", "http_send", "log")]
            S.R.eq("/debug/requests: the host calls, in order", ["kv_set", "kv_get", "sql_exec", "http_send", "log"],
                   [x["name"] for x in calls])
            starts = [x["start_us"] for x in calls]
            S.R.check(starts == sorted(starts) and all(x["duration_us"] > 0 for x in calls),
                      "... each later than the one before, each with a duration", "increasing, > 0",
                      [(x["name"], x["start_us"], x["duration_us"]) for x in calls])
            hs = [x for x in calls if x["name"] == "http_send"]
            S.R.check(hs and hs[0]["result"] == 200 and hs[0]["cat"] == "wasp",
                      "... http_send's result is the upstream's status", 200, hs)
            total = spans[0]["duration_us"] if spans else 0
            S.R.check(all(x["start_us"] + x["duration_us"] <= total + 1 for x in spans),
                      "... every span inside the request", f"<= {total} us", spans[-1:] )
            lines = s.wait_access(lambda e: e.get("path", "").startswith("/obs/calls"))
            S.R.eq("the access line carries the trace id", trace, lines[-1].get("trace") if lines else None)
            glog = [ln for ln in s.text().splitlines() if "level=info app=obs" in ln]
            S.R.check(glog and f"trace={trace}" in glog[-1], "the guest's log line carries the trace id",
                      f"trace={trace}", glog[-1:])

            st, _, body = S.get(s.admin, "/debug/requests?app=obs&format=trace")
            try:
                ev = json.loads(body)["traceEvents"]
                xs = [e["name"] for e in ev if e.get("ph") == "X"]
                ok = st == 200 and "http_send" in xs and "kv_get" in xs and all(
                    e.get("dur", -1) >= 0 for e in ev if e.get("ph") == "X")
            except (ValueError, KeyError, TypeError):
                ok, xs = False, S.short(body)
            S.R.check(ok, "format=trace: Chrome trace events with the spans", "X events", xs)

            # a malformed traceparent is ignored: nothing passed on, nothing logged
            n0 = len(Upstream.seen)
            st, _, _ = S.get(s.port, f"/obs/calls?u=http://{S.HOST}:{uport}/up",
                             headers={"traceparent": f"00-{trace.upper()}-{parent}-01"})
            S.R.check(st == 200 and len(Upstream.seen) > n0 and "traceparent" not in Upstream.seen[-1],
                      "a malformed traceparent (upper case) is not passed on", "no traceparent",
                      Upstream.seen[-1:] if Upstream.seen else None)
            # the slowest first
            S.get(s.port, "/obs/hot?n=32")
            for _ in range(3):
                S.get(s.port, "/obs/hot?n=3")
            st, _, body = S.get(s.admin, "/debug/requests?app=obs&which=slowest&n=2")
            try:
                rs = json.loads(body)["requests"]
            except (ValueError, KeyError, TypeError):
                rs = []
            durs = [x["duration_us"] for x in rs]
            every = sorted((x["duration_us"] for x in
                            json.loads(S.get(s.admin, "/debug/requests?app=obs&n=10")[2])["requests"]),
                           reverse=True)
            S.R.check(len(rs) == 2 and durs == every[:2] and rs[0]["path"] == "/obs/hot?n=32",
                      "which=slowest: the two slowest, slowest first (hot?n=32)", every[:2],
                      [(x["path"], x["duration_us"]) for x in rs])
            S.R.eq("/debug/requests without app=: 400", 400, S.get(s.admin, "/debug/requests")[0])
            S.R.eq("/debug/requests?app=nope: 404", 404, S.get(s.admin, "/debug/requests?app=nope")[0])
            s.stop()
    finally:
        up.shutdown()
        up.server_close()


def tmux(*args, **kw):
    """tmux on a socket of the test's own, so no user session is touched."""
    return subprocess.run(["tmux", "-L", f"wasp-test-{os.getpid()}", *args], capture_output=True,
                          text=True, timeout=10, **kw)


def test_top():
    d, m = setup("observe-top")
    with S.Server(m, d) as s:
        stop = threading.Event()

        def load_mix():
            while not stop.is_set():
                try:
                    S.get(s.port, "/obs/hot?n=12", timeout=10 * S.SLOW)
                    S.get(s.port, "/obs/trap", timeout=10 * S.SLOW)
                except OSError:
                    time.sleep(0.05)

        t = threading.Thread(target=load_mix)
        t.start()
        try:
            r = tmux("new-session", "-d", "-s", "top", "-x", "120", "-y", "30",
                     f"{S.WASP} top --admin {S.HOST}:{s.admin}")
            S.R.eq("tmux starts wasp top", 0, r.returncode, [r.stderr])
            screen = {}

            def row_shows():
                screen["text"] = tmux("capture-pane", "-p", "-t", "top").stdout
                m_ = re.search(r"^obs\s+([\d.]+)\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+(\d+)\s+(.+?)\s+(\d+)\s*$",
                               screen["text"], re.M)
                return m_ if m_ and float(m_.group(1)) > 0 else None

            m_ = S.wait_until(row_shows, 8 * S.SLOW, 0.3)
            text = screen.get("text", "")
            S.R.check("APP" in text and "REQ/S" in text and "P99 ms" in text and "q quits" in text,
                      "wasp top: the header", "APP REQ/S ERR% P50 ms P99 ms ... q quits", S.short(text))
            S.R.check(m_ is not None, "wasp top: the app's row with requests per second", "obs  N.N ...",
                      S.short(text))
            if m_:
                err = float(m_.group(2))
                S.R.check(30 <= err <= 70, "wasp top: the error rate (every other request traps)",
                          "about 50%", err)
                S.R.check(m_.group(3) != "-" and m_.group(4) != "-", "wasp top: p50 and p99", "numbers",
                          m_.groups())
            tmux("send-keys", "-t", "top", "q")
            gone = S.wait_until(lambda: tmux("has-session", "-t", "top").returncode != 0, 5 * S.SLOW, 0.2)
            S.R.check(gone, "wasp top: q quits", "the session ends", tmux("capture-pane", "-p", "-t", "top").stdout)
        finally:
            stop.set()
            t.join()
            tmux("kill-server")
        s.stop()
