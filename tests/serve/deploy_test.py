"""deploy_test.py - what `wasp serve` does for containers and balancers
(issue 15, part 3):

  deploy-env         settings from WASP_LISTEN, WASP_ADMIN, WASP_WORKERS,
                     WASP_LOG_FORMAT; a flag on the command line wins
  deploy-json-log    --log-format json: access lines, the guest's log lines
                     and server events are one JSON object a line
  deploy-readyz      /readyz: 200 once serving; with --drain-delay-ms, SIGTERM
                     makes it 503 at once while requests are still served for
                     the delay, then the drain and exit 0

serve_test.py imports this module and runs the tests register() returns:

    bash tests/serve/run.sh build/wasp deploy
"""

import json
import os
import re
import signal
import subprocess
import time

S = None  # the serve_test module, set by register()


def register(serve_test):
    global S
    S = serve_test
    return [
        ("deploy-env", test_env),
        ("deploy-json-log", test_json_log),
        ("deploy-readyz", test_readyz),
    ]


def test_env():
    d = S.scratch_dir("deploy-env")
    m = S.manifest(d, [S.app("echo", "/echo/...", S.guest("echo.wasm"))])
    port, admin, other = S.free_ports(3)
    env = dict(os.environ, WASP_LISTEN=f"{S.HOST}:{port}", WASP_ADMIN=f"{S.HOST}:{admin}",
               WASP_WORKERS="3", WASP_LOG_FORMAT="json")
    log = os.path.join(d, "env.stderr")
    with open(log, "wb") as f:
        p = subprocess.Popen([S.WASP, "serve", *S.TIER, m], cwd=d, env=env, stdout=f,
                             stderr=subprocess.STDOUT)
    try:
        up = S.wait_until(lambda: S.try_get(admin, "/readyz")[0] == 200, S.START_TIMEOUT, 0.1)
        S.R.check(up, "WASP_ADMIN: the admin listener there answers /readyz 200", 200,
                  S.try_get(admin, "/readyz")[0])
        st, _, _ = S.try_get(port, "/echo/x")
        S.R.eq("WASP_LISTEN: requests served there", 200, st)
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        ev = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{") and '"event"' in ln]
        start = [e["event"] for e in ev if e["event"].startswith("listening on")]
        S.R.check(start and "(3 workers)" in start[0], "WASP_WORKERS and WASP_LOG_FORMAT: "
                  "the start event, as JSON, says 3 workers", "listening on ... (3 workers)", start)
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=S.STOP_TIMEOUT)
    S.R.eq("... and it stops with 0", 0, rc)
    # a flag wins over the environment (Server passes --listen)
    os.environ["WASP_LISTEN"] = f"{S.HOST}:{other}"
    try:
        with S.Server(m, d, name="flagwins") as s:
            st, _, _ = S.try_get(s.port, "/echo/x")
            S.R.eq("--listen wins over WASP_LISTEN", 200, st)
            S.R.check(S.try_get(other, "/echo/x")[0] is None, "... nothing listens at WASP_LISTEN's",
                      "no answer", S.try_get(other, "/echo/x")[0])
            s.stop()
    finally:
        del os.environ["WASP_LISTEN"]


def test_json_log():
    d = S.scratch_dir("deploy-json-log")
    m = S.manifest(d, [S.app("echo", "/echo/...", S.guest("echo.wasm")),
                       S.app("trap", "/trap", S.guest("trap.wasm"))])
    with S.Server(m, d, extra=["--log-format", "json"]) as s:
        S.get(s.port, '/echo/a?q="quoted"', headers={"traceparent":
              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        S.get(s.port, "/trap")
        S.wait_until(lambda: s.text().count('"status":') >= 2, 5 * S.SLOW)
        s.stop()
        lines = [ln for ln in s.text().splitlines() if ln.strip()]
        # under ASan, LeakSanitizer's report of its suppressions ends the
        # output: its lines are not the server's
        for i, ln in enumerate(lines):
            if ln == "Suppressions used:" or (re.fullmatch(r"-{20,}", ln) and
                                              lines[i + 1:i + 2] == ["Suppressions used:"]):
                lines = lines[:i]
                break
        bad = []
        objs = []
        for ln in lines:
            try:
                objs.append(json.loads(ln))
            except ValueError:
                bad.append(ln)
        S.R.check(not bad, "every line is one JSON object", "JSON lines", bad[:3])
        acc = [o for o in objs if "status" in o]
        echo = [o for o in acc if o.get("app") == "echo"]
        S.R.check(echo and echo[0]["path"] == '/echo/a?q="quoted"' and echo[0]["status"] == 200 and
                  isinstance(echo[0]["dur_us"], int) and echo[0]["trace"] ==
                  "4bf92f3577b34da6a3ce929d0e0e4736" and echo[0]["method"] == "GET",
                  "the access line's fields, typed", "path, status, dur_us, trace", echo[:1])
        trap = [o for o in acc if o.get("app") == "trap"]
        S.R.check(trap and trap[0]["status"] == 500 and trap[0].get("trap", "").startswith("unreachable"),
                  "a trap's line has trap=", "status 500, trap", trap[:1])
        ev = [o["event"] for o in objs if "event" in o]
        S.R.check(any(e.startswith("listening on") for e in ev) and "stopped" in ev,
                  "server events are JSON too", "listening on ..., stopped", ev)


def test_readyz():
    d = S.scratch_dir("deploy-readyz")
    m = S.manifest(d, [S.app("echo", "/echo/...", S.guest("echo.wasm"))])
    with S.Server(m, d, extra=["--drain-delay-ms", "1500"]) as s:
        S.R.eq("/readyz once serving", 200, S.get(s.admin, "/readyz")[0])
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        unready = S.wait_until(lambda: S.try_get(s.admin, "/readyz")[0] == 503, 1.0, 0.02)
        S.R.check(unready and time.monotonic() - t0 < 1.0, "SIGTERM: /readyz 503 at once", 503,
                  S.try_get(s.admin, "/readyz")[0])
        st, _, _ = S.try_get(s.port, "/echo/during-delay")
        S.R.eq("... requests still served during the delay", 200, st)
        rc = s.proc.wait(timeout=S.STOP_TIMEOUT)
        took = time.monotonic() - t0
        s.stopped = True
        S.R.check(rc == 0 and took >= 1.4, "... then the drain, and exit 0 after the delay",
                  "0 after >= 1.5 s", (rc, round(took, 2)))
        S.R.check("drain: /readyz fails; still serving for 1500 ms" in s.text(),
                  "the delay is logged", "drain: /readyz fails; still serving for 1500 ms",
                  s.tail())
