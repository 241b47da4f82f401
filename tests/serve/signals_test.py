"""signals_test.py - what SIGTERM does when guests will not finish (issue 10):

  drain-limit   F02/F03's "SIGTERM does not end the process": a request that
                would run for a minute is ended (504) once --drain-timeout-ms
                has passed after SIGTERM, and the process exits 0;
  reload-term   F14: SIGTERM while a SIGHUP reload runs an app's init is
                acted on at once: listeners close and the process exits,
                without waiting for the init's deadline.

serve_test.py imports this module and runs the tests register() returns
with its own helpers; run them through tests/serve/run.sh:

    bash tests/serve/run.sh build/wasp drain-limit
"""

import os
import signal
import subprocess
import threading
import time

S = None  # the serve_test module, set by register()


def register(serve_test):
    global S
    S = serve_test
    return [
        ("drain-limit", test_drain_limit),
        ("reload-term", test_reload_term),
    ]


def wait_exit(s, within):
    """The exit status and the seconds it took, or (None, within)."""
    t0 = time.monotonic()
    try:
        rc = s.proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return None, within
    s.stopped = True
    return rc, time.monotonic() - t0


def test_drain_limit():
    d = S.scratch_dir("drain-limit")
    R = S.R
    m = S.manifest(d, [S.app("loop", "/loop", S.guest("loop.wasm"), "    limits:\n      deadline_ms: 60000\n"),
                       S.app("echo", "/echo/...", S.guest("echo.wasm"))])
    with S.Server(m, d, extra=["--drain-timeout-ms", "1000"]) as s:
        R.eq("a request before the shutdown", 200, S.try_get(s.port, "/echo/x")[0])
        result = []

        def spin():
            result.append(S.try_get(s.port, "/loop")[0])

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.5 * S.SLOW)
        s.proc.send_signal(signal.SIGTERM)
        rc, took = wait_exit(s, 15 * S.SLOW)
        t.join(10)
        R.check(rc is not None, "exit after SIGTERM with a 60 s request in flight and --drain-timeout-ms 1000",
                f"an exit within {15 * S.SLOW} s", f"still running after {took:.1f} s", s.tail(4))
        if rc is None:
            return
        if not s.check_sanitizer():
            R.eq("exit status (the drain ended the request, then finished)", 0, rc, s.tail(4))
        R.check(took < 6 * S.SLOW, "... soon after the drain timeout", f"< {6 * S.SLOW} s", f"{took:.1f} s")
        R.eq("the request in flight was answered 504", [504], result)
        R.check("ending them" in s.text(), "the log says the drain timed out", "'drain: ... ending them'",
                s.tail(4))


def test_reload_term():
    d = S.scratch_dir("reload-term")
    R = S.R
    echo = S.app("echo", "/echo/...", S.guest("echo.wasm"))
    path = S.manifest(d, [echo])
    with S.Server(path, d) as s:
        R.eq("before the reload", 200, S.try_get(s.port, "/echo/x")[0])
        # the new version has an app whose init runs until its 60 s deadline
        S.manifest(d, [echo, S.app("stuck", "/stuck", S.guest("loop.wasm"),
                                   "    init: wasp_handle\n    limits:\n      deadline_ms: 60000\n")])
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5 * S.SLOW)
        R.eq("while the reload runs the init, the old version serves", 200, S.try_get(s.port, "/echo/y")[0])
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5 * S.SLOW)
        R.check(not S.port_open(s.port), "F14: SIGTERM during the reload: new connections refused at once",
                "refused", "accepted")
        rc, took = wait_exit(s, 15 * S.SLOW)
        R.check(rc is not None, "F14: the process exits without waiting for the init's deadline",
                f"an exit within {15 * S.SLOW} s", f"still running after {took:.1f} s", s.tail(4))
        if rc is None:
            return
        if not s.check_sanitizer():
            R.eq("F14: exit status", 0, rc, s.tail(4))
        R.check("reload abandoned" in s.text(), "the log says the reload was abandoned",
                "'reload abandoned: shutting down'", s.tail(4))
