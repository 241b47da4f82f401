"""wasi_test.py - end-to-end tests of what a `wasp serve` app can do to the
server through WASI alone, with no capability granted (issue 10): sleep
past its deadline (F03), hold the server's descriptors (F13), or be granted
a read-only directory that another of its grants makes writable (F15).

serve_test.py imports this module and runs the tests register() returns
with its own helpers (Server, get, R, ...); run it through tests/serve/run.sh:

    bash tests/serve/run.sh build/wasp wasi-     only these tests

The guest is guests/wasilimits.c: `.../sleep?N` calls wasi-libc's sleep(N),
`.../fds` opens /data/f.txt until open fails and answers how many it got
and the errno.
"""

import os
import re
import threading
import time

S = None  # the serve_test module, set by register()


def register(serve_test):
    """The WASI tests as (name, function) pairs for serve_test's list."""
    global S
    S = serve_test
    return [
        ("wasi-deadline", test_deadline),
        ("wasi-fds", test_fds),
        ("wasi-grants", test_grants),
    ]


def data_dir(d):
    os.makedirs(os.path.join(d, "data", "ro"))
    S.write(os.path.join(d, "data", "f.txt"), "f\n")


def timed_get(port, path):
    t0 = time.monotonic()
    st, _, body = S.try_get(port, path)
    return st, body, time.monotonic() - t0


def test_deadline():
    """F03: sleep() in a handler must end at its deadline (504) and never
    park the worker: another app on the same, only, worker answers."""
    R = S.R
    d = S.scratch_dir("wasi-deadline")
    data_dir(d)
    m = S.manifest(d, [
        S.app("sleeper", "/sleeper/...", S.guest("wasilimits.wasm"),
              "    limits:\n      deadline_ms: 200\n"),
        S.app("echo", "/echo/...", S.guest("echo.wasm")),
    ])
    bound = 3.0 * S.SLOW  # a 200 ms deadline must answer in well under the 10 s sleep
    with S.Server(m, d, workers=1) as s:
        got = {}

        def sleeper():
            got["sleep"] = timed_get(s.port, "/sleeper/sleep?10")

        t = threading.Thread(target=sleeper)
        t.start()
        time.sleep(0.05)
        st, _, secs = timed_get(s.port, "/echo/meanwhile")
        t.join()
        sst, sbody, ssecs = got["sleep"]
        R.eq("F03: sleep(10) under deadline_ms 200: status", 504, sst, [f"body: {S.short(sbody)}"])
        R.check(ssecs < bound, "F03: the 504 comes at the deadline, not after the sleep",
                f"< {bound:.0f} s", f"{ssecs:.2f} s")
        R.eq("F03: another app on the only worker, meanwhile: status", 200, st)
        R.check(secs < bound, "F03: the other app is not held up by the sleep", f"< {bound:.0f} s",
                f"{secs:.2f} s")
        for i in range(3):
            sst, _, ssecs = timed_get(s.port, f"/sleeper/sleep?{100000 + i}")
            R.check(sst == 504 and ssecs < bound, f"F03: sleep(100000) #{i} ends as a deadline",
                    f"504 within {bound:.0f} s", f"{sst} after {ssecs:.2f} s")
        st, _, body = S.get(s.admin, "/readyz")
        R.eq("F03: /readyz afterwards", 200, st)
        lines = s.wait_access(lambda a: a.get("app") == "sleeper", 4)
        R.check(len(lines) == 4 and all(a.get("status") == "504" and a.get("trap") for a in lines),
                "F03: access log: each sleep has status=504 and trap=\"...\"", "4 such lines",
                [(a.get("status"), a.get("trap")) for a in lines])
        t0 = time.monotonic()
        s.stop()
        R.check(time.monotonic() - t0 < bound, "F03: SIGTERM ends the server promptly",
                f"< {bound:.0f} s", f"{time.monotonic() - t0:.2f} s")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def test_fds():
    """F13: a handler with a read-only grant that opens files until it
    cannot gets EMFILE from its own cap, the server's descriptors come back
    when the request ends, and the other app still answers."""
    R = S.R
    d = S.scratch_dir("wasi-fds")
    data_dir(d)
    m = S.manifest(d, [
        S.app("hog", "/hog/...", S.guest("wasilimits.wasm"),
              "    dirs:\n      - {host: data, guest: /data, readonly: true}\n"),
        S.app("echo", "/echo/...", S.guest("echo.wasm")),
    ])
    with S.Server(m, d, workers=1) as s:
        pid = s.proc.pid
        for path in ("/hog/idle", "/echo/warm"):
            st, _, _ = S.get(s.port, path)
            R.eq(f"F13: warm-up {path}", 200, st)
        time.sleep(0.2 * S.SLOW)
        base = fd_count(pid)
        for i in range(2):
            st, _, body = S.get(s.port, "/hog/fds")
            m_ = re.fullmatch(rb"opened (\d+) errno=(\d+)", body)
            R.check(st == 200 and m_ is not None, f"F13: opening files in a loop (#{i}) answers",
                    "200 'opened N errno=E'", f"{st} {S.short(body)}")
            if m_:
                n, e = int(m_.group(1)), int(m_.group(2))
                R.eq(f"F13: the guest's open fails with EMFILE (#{i})", 33, e)
                R.check(0 < n <= 252, f"F13: the guest holds at most its cap (#{i})",
                        "1..252 files (256 descriptors, 4 of them stdio and /data)", n)
            after = S.wait_until(lambda: fd_count(pid) <= base + 2, 5 * S.SLOW)
            R.check(after, f"F13: the server's descriptors are back once the request ended (#{i})",
                    f"<= {base + 2} (before: {base})", fd_count(pid))
            st, _, _ = S.get(s.port, "/echo/after")
            R.eq(f"F13: the other app answers afterwards (#{i})", 200, st)
        s.stop()


def test_grants():
    """F15: a read-only grant inside (or equal to) a writable grant of the
    same app is refused at start-up, naming both, in a manifest and in
    one-module mode; the other way round is fine."""
    d = S.scratch_dir("wasi-grants")
    data_dir(d)
    echo = S.guest("echo.wasm")
    patterns = [r"read-only directory \S*data/ro \(guest /data/ro\)",
                r"writable directory \S*data \(guest /data\)"]
    S.write(os.path.join(d, "overlap.yaml"),
            f"apps:\n  - name: ov\n    route: /x\n    module: {echo}\n"
            "    dirs:\n      - data::/data\n      - data/ro::/data/ro:ro\n")
    S.expect_startup_error("F15: manifest with data/ro:ro inside data", d, "overlap.yaml",
                           [r"app ov \(\S*overlap\.yaml:2\)"] + patterns)
    S.expect_startup_error("F15: --dir data/ro:ro inside --dir data", d, echo, patterns,
                           ["--dir", "data::/data", "--dir", "data/ro::/data/ro:ro"])
    S.write(os.path.join(d, "nested-ok.yaml"),
            f"apps:\n  - name: ok\n    route: /x\n    module: {echo}\n"
            "    dirs:\n      - data::/data:ro\n      - data/ro::/data/ro\n")
    with S.Server(os.path.join(d, "nested-ok.yaml"), d) as s:
        st, _, _ = S.get(s.port, "/x")
        S.R.eq("F15: a writable grant inside a read-only one still serves", 200, st)
        s.stop()
