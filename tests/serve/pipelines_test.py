"""pipelines_test.py - a manifest's `pipelines:` run by `wasp serve` beside
its apps (issue 13, docs/design/pipe.md section 8), with the example filters
of examples/pipe/ (`make examples` builds them):

  pipelines-file      a file through three filters to a file, dead letters
                      to another; the pipeline ends with its input and says so
  pipelines-ingest    batches POSTed to an ingest route: 202 with the counts
                      once the outputs are in the sink file (read right after
                      the answer); 405, 400; twenty clients at once; the
                      pipeline metrics on the admin listener
  pipelines-redis     a Redis stream read by a consumer group to another
                      stream; consumer lag and pending on /metrics
  pipelines-reload    SIGHUP with other filters swaps them in place; with
                      another sink the pipeline is stopped and started anew
  pipelines-restart   a sink that fails (an HTTP endpoint answering 500):
                      the client gets 503 saying why, the pipeline is started
                      again and counted
  pipelines-errors    manifest mistakes stop `wasp serve` before it listens

serve_test.py imports this module and runs the tests register() returns
with its own helpers:

    bash tests/serve/run.sh build/wasp pipelines
"""

import http.server
import json
import os
import shutil
import signal
import threading

S = None  # the serve_test module, set by register()
EX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pipe")

ACCESS = (
    '10.1.2.3 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512\n'
    '192.168.7.9 - alice [07/Dec/2026:10:00:01 +0000] "POST /api/orders HTTP/1.1" 503 19\n'
    'this line is not a log line\n'
    '172.16.0.4 - - [07/Dec/2026:10:00:02 +0000] "GET /api/items?id=1 HTTP/1.1" 500 -\n'
    '10.9.8.7 - - [07/Dec/2026:10:00:03 +0000] "GET /health HTTP/1.1" 204 0\n'
)
WANT = (
    '{"ip":"192.168.x.x","time":"07/Dec/2026:10:00:01 +0000","method":"POST","path":"/api/orders",'
    '"status":503,"bytes":19}\n'
    '{"ip":"172.16.x.x","time":"07/Dec/2026:10:00:02 +0000","method":"GET","path":"/api/items?id=1",'
    '"status":500,"bytes":0}\n'
)

FILTERS = (
    "  - name: access2json\n    module: access2json.wasm\n"
    "  - name: keep5xx\n    module: keep5xx.wasm\n    interface: filter\n"
    "  - name: redact\n    module: redact.wasm\n"
)


def register(serve_test):
    global S
    S = serve_test
    return [
        ("pipelines-file", test_file),
        ("pipelines-ingest", test_ingest),
        ("pipelines-redis", test_redis),
        ("pipelines-reload", test_reload),
        ("pipelines-restart", test_restart),
        ("pipelines-errors", test_errors),
    ]


def setup(name):
    d = S.scratch_dir(name)
    for f in ("access2json", "keep5xx", "redact"):
        src = os.path.join(EX, f + ".wasm")
        if not os.path.exists(src):
            S.R.fail(f"{src} exists", "built", "missing: run make examples first")
            raise S.Abort()
        shutil.copy(src, d)
    S.write(os.path.join(d, "access.log"), ACCESS)
    return d


def write_manifest(d, pipelines, apps=""):
    path = os.path.join(d, "wasp.yaml")
    tmp = path + ".tmp"
    S.write(tmp, "apps:\n" + FILTERS + apps + "pipelines:\n" + pipelines)
    os.replace(tmp, path)
    return path


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def post(port, path, body, timeout=None):
    st, hdrs, data = S.get(port, path, method="POST", body=body.encode(), timeout=timeout)
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {"unparsed": data[:200]}
    return st, doc


def pmetric(s, name, pipeline):
    _, ms = s.metrics()
    return S.metric_sum(ms, name, pipeline=pipeline)


def test_file():
    d = setup("pipelines-file")
    m = write_manifest(d, "  - name: logs\n    from: access.log\n    to: out.ndjson\n"
                          "    dead_letter: dead.ndjson\n    filters: [access2json, keep5xx, redact]\n",
                       apps=S.app("hello", "/hello", S.guest("v1.wasm")))
    with S.Server(m, d) as s:
        ended = S.wait_until(lambda: "its input is read to the end" in s.text(), 10 * S.SLOW)
        S.R.check(ended is not None, "the pipeline says its input is read", "a log line", s.tail())
        S.R.eq("the 5xx lines as JSON, IPs redacted", WANT, read(os.path.join(d, "out.ndjson")))
        dead = [json.loads(x) for x in read(os.path.join(d, "dead.ndjson")).splitlines()]
        S.R.check(len(dead) == 1 and dead[0].get("filter") == "access2json"
                  and dead[0].get("record") == "this line is not a log line",
                  "the bad line is a dead letter naming its filter", "one", S.short(dead))
        S.R.eq("records in", 5.0, pmetric(s, "wasp_pipeline_records_in_total", "logs"))
        S.R.eq("records out", 2.0, pmetric(s, "wasp_pipeline_records_out_total", "logs"))
        S.R.eq("dead letters", 1.0, pmetric(s, "wasp_pipeline_dead_letters_total", "logs"))
        S.R.eq("filtered (keep5xx dropped two)", 2.0,
               pmetric(s, "wasp_pipeline_records_filtered_total", "logs"))
        S.R.eq("up is 0 once the input ended", 0.0, pmetric(s, "wasp_pipeline_up", "logs"))
        S.R.eq("the apps are served beside it", 200, S.try_get(s.port, "/hello")[0])
        S.R.check("filter access2json -> " in s.text(), "the filters are listed at start",
                  "'filter access2json -> ...'", s.tail())
        s.proc.send_signal(signal.SIGHUP)
        S.wait_until(lambda: "reloaded" in s.text(), 10 * S.SLOW)
        S.R.eq("a reload does not read an ended file again", WANT, read(os.path.join(d, "out.ndjson")))
        s.stop()


def test_ingest():
    d = setup("pipelines-ingest")
    m = write_manifest(d, "  - name: web\n    from: http\n    to: in.ndjson\n"
                          "    dead_letter: dead.ndjson\n    filters: [access2json, keep5xx, redact]\n"
                          "  - name: raw\n    from: http\n    route: /ingest/raw\n    format: ndjson\n"
                          "    to: raw.ndjson\n    filters: [redact]\n")
    with S.Server(m, d) as s:
        st, doc = post(s.port, "/pipelines/web", ACCESS)
        # read at once: 202 comes only once the batch is written
        got = read(os.path.join(d, "in.ndjson"))
        S.R.eq("POST: 202", 202, st)
        S.R.eq("POST: the counts", {"records": 5, "outputs": 2, "dead_letters": 1}, doc)
        S.R.eq("the outputs are in the sink when 202 comes", WANT, got)
        S.R.check("this line is not a log line" in read(os.path.join(d, "dead.ndjson")),
                  "the dead letter is in its sink too", "the bad line", "missing")
        st, _, body = S.get(s.port, "/pipelines/web")
        S.R.eq("GET: 405", 405, st)
        st, doc = post(s.port, "/pipelines/web", "")
        S.R.eq("an empty batch: 400", 400, st)
        # ndjson: blank lines are not records; a route of its own
        st, doc = post(s.port, "/ingest/raw", '{"ip":"10.0.0.1"}\n\n{"ip":"10.0.0.2"}')
        S.R.eq("ndjson at its route: 202 and two records", (202, 2), (st, doc.get("records")))
        S.R.eq("ndjson: redacted", '{"ip":"10.0.x.x"}\n{"ip":"10.0.x.x"}\n',
               read(os.path.join(d, "raw.ndjson")))

        results = []
        lock = threading.Lock()

        def client():
            r = post(s.port, "/pipelines/web", ACCESS * 10)
            with lock:
                results.append(r)

        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(S.HTTP_TIMEOUT + 5)
        S.R.eq("twenty clients at once: all 202 with 20 outputs each",
               [(202, 20)] * 20, sorted((st, doc.get("outputs")) for st, doc in results))
        S.R.eq("the sink holds every output", 2 + 20 * 20,
               len(read(os.path.join(d, "in.ndjson")).splitlines()))
        S.R.eq("records in", 5 + 20 * 50.0, pmetric(s, "wasp_pipeline_records_in_total", "web"))
        S.R.eq("batches", 21.0, pmetric(s, "wasp_pipeline_batches_total", "web"))
        S.R.eq("batch latency counted per batch", 21.0,
               pmetric(s, "wasp_pipeline_batch_seconds_count", "web"))
        S.R.eq("up", 1.0, pmetric(s, "wasp_pipeline_up", "web"))
        _, ms = s.metrics()
        S.R.eq("the route's requests are counted as app pipeline:web", 21.0,
               S.metric_sum(ms, "wasp_requests_total", app="pipeline:web", status="202"))
        s.stop()
        S.R.check("pipeline web stopped: 1005 records in" in s.text(), "SIGTERM stops the pipelines",
                  "'pipeline web stopped: 1005 records in ...'", s.tail())


def test_redis():
    import caps_test
    d = setup("pipelines-redis")
    with caps_test.Redis(d) as r:
        src = f"redis://127.0.0.1:{r.port}/in?group=g&consumer=serve"
        m = write_manifest(d, f"  - name: stream\n    from: \"{src}\"\n"
                              f"    to: \"redis://127.0.0.1:{r.port}/out\"\n"
                              "    filters: [access2json, redact]\n")
        for line in ACCESS.splitlines() * 40:
            caps_test.redis_cmd(r.port, "XADD", "in", "*", "value", line)
        with S.Server(m, d) as s:
            done = S.wait_until(lambda: caps_test.redis_cmd(r.port, "XLEN", "out") == 160, 10 * S.SLOW)
            S.R.check(done is not None, "the outputs are in the stream", 160,
                      caps_test.redis_cmd(r.port, "XLEN", "out"), s.tail())
            settled = S.wait_until(lambda: pmetric(s, "wasp_pipeline_consumer_pending", "stream") == 0
                                   and pmetric(s, "wasp_pipeline_consumer_lag", "stream") == 0,
                                   10 * S.SLOW)
            S.R.check(settled is not None, "consumer lag and pending reach 0 on /metrics", "0 and 0",
                      (pmetric(s, "wasp_pipeline_consumer_lag", "stream"),
                       pmetric(s, "wasp_pipeline_consumer_pending", "stream")))
            caps_test.redis_cmd(r.port, "XADD", "in", "*", "value", ACCESS.splitlines()[0])
            more = S.wait_until(lambda: caps_test.redis_cmd(r.port, "XLEN", "out") == 161, 10 * S.SLOW)
            S.R.check(more is not None, "an entry added later is read too", 161,
                      caps_test.redis_cmd(r.port, "XLEN", "out"))
            S.R.eq("40 dead letters (on stderr)", 40.0,
                   pmetric(s, "wasp_pipeline_dead_letters_total", "stream"))
            s.stop()


def test_reload():
    d = setup("pipelines-reload")
    base = "  - name: web\n    from: http\n    to: {to}\n    dead_letter: /dev/null\n    filters: [{f}]\n"
    m = write_manifest(d, base.format(to="a.ndjson", f="access2json, keep5xx, redact"))
    with S.Server(m, d) as s:
        S.R.eq("before: two outputs", 2, post(s.port, "/pipelines/web", ACCESS)[1].get("outputs"))
        write_manifest(d, base.format(to="a.ndjson", f="access2json, redact"))
        s.proc.send_signal(signal.SIGHUP)
        swapped = S.wait_until(lambda: "filters are the reloaded ones" in s.text(), 10 * S.SLOW)
        S.R.check(swapped is not None, "same plumbing: the filters are swapped in place",
                  "'pipeline web: its filters are the reloaded ones ...'", s.tail())
        S.R.eq("after: four outputs (keep5xx gone)", 4,
               post(s.port, "/pipelines/web", ACCESS)[1].get("outputs"))
        S.R.eq("the same sink file", 6, len(read(os.path.join(d, "a.ndjson")).splitlines()))
        write_manifest(d, base.format(to="b.ndjson", f="access2json, redact"))
        s.proc.send_signal(signal.SIGHUP)
        moved = S.wait_until(lambda: "-> b.ndjson" in s.text(), 10 * S.SLOW)
        S.R.check(moved is not None, "another sink: the pipeline is started anew", "'... -> b.ndjson'",
                  s.tail())
        st, doc = post(s.port, "/pipelines/web", ACCESS)
        S.R.eq("the new sink gets the batch", (202, 4), (st, len(read(os.path.join(d, "b.ndjson")).splitlines())))
        S.R.eq("the counters go on across reloads", 15.0, pmetric(s, "wasp_pipeline_records_in_total", "web"))
        s.stop()


class Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_restart():
    d = setup("pipelines-restart")
    sink = http.server.HTTPServer((S.HOST, 0), Failing)
    t = threading.Thread(target=sink.serve_forever, daemon=True)
    t.start()
    try:
        m = write_manifest(d, f"  - name: web\n    from: http\n"
                              f"    to: http://127.0.0.1:{sink.server_port}/sink\n"
                              "    filters: [access2json, keep5xx, redact]\n")
        with S.Server(m, d) as s:
            st, doc = post(s.port, "/pipelines/web", ACCESS)
            S.R.check(st == 503 and "500" in doc.get("error", ""), "a sink that fails: 503 saying why",
                      "503 naming the 500", (st, doc))
            again = S.wait_until(lambda: "pipeline web: started again" in s.text(), 10 * S.SLOW)
            S.R.check(again is not None, "the pipeline is started again", "'pipeline web: started again'",
                      s.tail())
            S.R.check(pmetric(s, "wasp_pipeline_restarts_total", "web") >= 1, "restarts are counted",
                      ">= 1", pmetric(s, "wasp_pipeline_restarts_total", "web"))
            S.R.check("pipeline web stopped: " in s.text() and "starting it again in 1000 ms" in s.text(),
                      "the failure is logged with the back-off", "'... starting it again in 1000 ms'",
                      s.tail())
            S.R.eq("the apps' side goes on: the route still answers", 405,
                   S.get(s.port, "/pipelines/web")[0])
            s.stop()
    finally:
        sink.shutdown()


def test_errors():
    d = setup("pipelines-errors")

    def bad(name, pipelines, patterns, apps=""):
        m = write_manifest(d, pipelines, apps=apps)
        S.expect_startup_error(name, d, m, patterns)

    bad("a filter with a route", "  - name: p\n    from: http\n    filters: [access2json]\n",
        [r"a filter has no route"],
        apps="  - name: f2\n    route: /f\n    module: redact.wasm\n    interface: filter\n")
    bad("not a filter", "  - name: p\n    from: http\n    filters: [hello]\n",
        [r"pipelines\[0\]\.filters\[0\]: app \"hello\" \(line \d+\) is not a filter"],
        apps=S.app("hello", "/hello", S.guest("v1.wasm")))
    bad("no such app", "  - name: p\n    from: http\n    filters: [nosuch]\n", [r"no app \"nosuch\""])
    bad("csv", "  - name: p\n    from: access.log\n    format: csv\n    filters: [redact]\n",
        [r"csv is read by wasp pipe only"])
    bad("stdin", "  - name: p\n    from: \"-\"\n    filters: [redact]\n", [r"stdin is not a source"])
    bad("kv sink not declared", "  - name: p\n    from: http\n    to: kv:nosuch\n    filters: [redact]\n",
        [r"no store \"nosuch\""])
    bad("a missing source file", "  - name: p\n    from: nosuch.log\n    filters: [redact]\n",
        [r"pipeline p \(.*wasp\.yaml:\d+\): cannot open .*nosuch\.log"])
    bad("Redis not there",
        "  - name: p\n    from: \"redis://127.0.0.1:1/in?group=g\"\n    filters: [redact]\n",
        [r"pipeline p .*cannot connect to Redis at 127\.0\.0\.1:1"])
    bad("a route taken", "  - name: p\n    from: http\n    route: /hello\n    filters: [redact]\n",
        [r"route /hello is already served by hello"], apps=S.app("hello", "/hello", S.guest("v1.wasm")))
    # an app with no route that is not a filter
    m = os.path.join(d, "wasp.yaml")
    S.write(m, "apps:\n  - name: h\n    module: " + S.guest("v1.wasm") + "\n")
    S.expect_startup_error("no route, not a filter", d, m, [r"app h .*an app without a route must be a filter"])
