"""limits_test.py - resource limits a module cannot get past (issue 10):

  table-limit   F04: a module declaring a table of 50 million entries
                (400 MB of host memory) under --memory-limit 64KiB is
                refused with a message naming the limit, instead of making
                wasp hold 1.1 GiB; in a manifest beside another app, a
                reload that brings it in fails and the old version serves on.

serve_test.py imports this module and runs the tests register() returns
with its own helpers; run them through tests/serve/run.sh:

    bash tests/serve/run.sh build/wasp table-limit
"""

import signal
import time

S = None  # the serve_test module, set by register()


def register(serve_test):
    global S
    S = serve_test
    return [("table-limit", test_table_limit)]


def test_table_limit():
    d = S.scratch_dir("table-limit")
    R = S.R
    big = S.guest("bigtable.wasm")
    S.expect_startup_error("F04: one module, --memory-limit 64KiB", d, big,
                           [r"table", r"limit"], extra=["--memory-limit", "64KiB"])
    S.expect_startup_error("F04: one module, no --memory-limit (the host's table limit)", d, big,
                           [r"table 0 of 50000000 entries is over this host's limit"])
    echo = S.app("echo", "/echo/...", S.guest("echo.wasm"))
    path = S.manifest(d, [echo])
    with S.Server(path, d) as s:
        S.manifest(d, [echo, S.app("big", "/big", big, "    limits:\n      memory: 64KiB\n")])
        s.proc.send_signal(signal.SIGHUP)
        failed = S.wait_until(lambda: "reload failed" in s.text(), 10 * S.SLOW)
        R.check(failed and "limit" in s.text(), "F04: a reload bringing in the big table fails, naming the limit",
                "'reload failed, still serving the previous version: ...limit...'", s.tail(3))
        R.eq("F04: the other app still answers", 200, S.try_get(s.port, "/echo/x")[0])
        rss = None
        with open(f"/proc/{s.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    rss = int(line.split()[1]) / 1024
        limit = 200 if not S.ASAN else 600
        R.check(rss is not None and rss < limit, "F04: the server's peak RSS", f"< {limit} MiB", f"{rss} MiB")
        s.stop()
