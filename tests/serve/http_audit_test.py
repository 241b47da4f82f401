"""http_audit_test.py - the HTTP and WAGI findings of issue 10 (F05, F06, F07,
F10, F11, F12), end to end over real sockets: each test makes the request the
audit made, expects the answer the fix gives, and then checks that the
server is alive and another app on it still answers.

Run by serve_test.py (which lends its helpers: Server, R, raw_exchange...);
`bash tests/serve/run.sh build/wasp http-audit` runs only these.
"""

import http.client
import re
import socket
import time

S = None  # the serve_test module


def register(serve_test):
    global S
    S = serve_test
    return [
        ("http-audit-f05-status", test_f05_status),
        ("http-audit-f06-framing", test_f06_framing),
        ("http-audit-f07-bodies", test_f07_bodies),
        ("http-audit-f10-headers", test_f10_headers),
        ("http-audit-f11-wagi-output", test_f11_wagi_output),
        ("http-audit-f12-cgi-paths", test_f12_cgi_paths),
    ]


# --- helpers ------------------------------------------------------------------


def apps():
    """echo (wasp ABI) at /echo/... and /hello, the WAGI guest at /cgi/...,
    the header prober at /resp."""
    return [S.app("echo", "/echo/...", S.guest("echo.wasm")), S.app("hello", "/hello", S.guest("echo.wasm")),
            S.app("cgi", "/cgi/...", S.guest("cgi.wasm")), S.app("resp", "/resp", S.guest("resp.wasm"))]


def responses(buf):
    """Every complete response in buf, as (status, headers, body); a rest
    that is not a response ends the list."""
    out = []
    while buf:
        r = S.split_response(buf)
        if r is None:
            break
        out.append(r[:3])
        buf = r[3]
    return out, buf


def head_lines(buf):
    """The header lines (lower-case names) of the first response in buf."""
    end = buf.find(b"\r\n\r\n")
    return [line.split(b":", 1)[0].strip().lower() for line in buf[:end].split(b"\r\n")[1:]]


def still_serving(s, what):
    """Another app on the server answers, and the admin says healthy."""
    st, _, body = S.try_get(s.port, "/hello")
    S.R.check(st == 200 and isinstance(body, bytes) and body.startswith(b"method=GET\nuri=/hello\n"),
              f"{what}: another app (/hello) still answers", "200 from the echo app at /hello",
              f"{st} {S.short(body)[:80]}")
    st, _, _ = S.try_get(s.admin, "/healthz")
    S.R.eq(f"{what}: /healthz", 200, st)


def closed_after(port, data, what, status, timeout=None):
    """Sends data on a new connection; expects exactly one response with
    `status`, then the server closing the connection (no second answer to
    what was smuggled behind it)."""
    buf, err = S.raw_exchange(port, data, timeout=timeout or 5 * S.SLOW, responses=2)
    got, rest = responses(buf)
    statuses = [r[0] for r in got]
    S.R.check(statuses == [status] and not rest and err is None,
              f"{what}", f"one {status} and the connection closed",
              f"responses {statuses}, then {S.short(rest[:60])} {err or '(closed)'}")
    return got


# --- F05: response splitting by status ----------------------------------------


def test_f05_status():
    d = S.scratch_dir("http-audit-f05")
    m = S.manifest(d, apps())
    with S.Server(m, d) as s:
        p = s.port
        # A handler's 204 or 304 goes out without a body or Content-Length, so a
        # pipelining client reads the next response as the next response.
        for code in (204, 304):
            data = (b"GET /echo/a HTTP/1.1\r\nHost: x\r\nX-Status: %d\r\n\r\n" % code +
                    b"GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n")
            buf, err = S.raw_exchange(p, data, responses=2)
            got, rest = responses(buf)
            S.R.check(len(got) == 2 and got[0][0] == code and b"content-length" not in head_lines(buf)
                      and got[1][0] == 200 and b"uri=/echo/second" in got[1][2] and not rest,
                      f"F05: a handler's {code} then a pipelined GET",
                      f"{code} without Content-Length or body, then 200 for /echo/second",
                      S.short(buf[:400]) + (f" {err}" if err else ""))
        # 1xx cannot be set: resp_status refuses it and the default 200 stays.
        st, h, body = S.get(p, "/echo/x", headers={"X-Status": "101"})
        S.R.eq("F05: X-Status 101 to the echo handler (resp_status(101) refused): status", 200, st)
        st, _, body = S.get(p, "/resp")
        for what in ("status-100", "status-101", "status-199"):
            S.R.check(f"\n{what}=-1\n" in "\n" + body.decode("latin-1"), f"F05: resp_status of a 1xx ({what})",
                      "-1", S.short(body)[:200])
        # WAGI: a 1xx Status is 502; a 204's body is not sent.
        st, _, _ = S.get(p, "/cgi/x?mode=status101")
        S.R.eq("F05: WAGI 'Status: 101 Switching Protocols': status", 502, st)
        data = (b"GET /cgi/x?mode=status204 HTTP/1.1\r\nHost: x\r\n\r\n" +
                b"GET /echo/second HTTP/1.1\r\nHost: x\r\n\r\n")
        buf, err = S.raw_exchange(p, data, responses=2)
        got, rest = responses(buf)
        S.R.check(len(got) == 2 and got[0][0] == 204 and got[1][0] == 200 and b"uri=/echo/second" in got[1][2]
                  and b"forged" not in buf and not rest,
                  "F05: WAGI 'Status: 204' with a body that forges a response, then a pipelined GET",
                  "204 without body, then 200 for /echo/second (no Set-Cookie: forged)",
                  S.short(buf[:400]) + (f" {err}" if err else ""))
        # HEAD: the body's Content-Length, no body, the connection in step.
        data = b"HEAD /echo/h HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/after-head HTTP/1.1\r\nHost: x\r\n\r\n"
        buf, err = S.raw_exchange(p, data, responses=2)
        end = buf.find(b"\r\n\r\n")
        m_cl = re.search(rb"(?im)^content-length: *(\d+)", buf[:end])
        second = S.split_response(buf[end + 4:])
        S.R.check(m_cl is not None and int(m_cl.group(1)) > 0 and second is not None
                  and second[0] == 200 and b"uri=/echo/after-head" in second[2],
                  "F05: HEAD then a pipelined GET", "HEAD with the Content-Length of its body but no body, "
                  "then the GET's 200", S.short(buf[:300]) + (f" {err}" if err else ""))
        still_serving(s, "F05")
        s.stop()


# --- F06: ambiguous request framing --------------------------------------------


SMUGGLED = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"


def test_f06_framing():
    d = S.scratch_dir("http-audit-f06")
    m = S.manifest(d, apps())
    with S.Server(m, d) as s:
        p = s.port
        cases = [
            ("Content-Length and Transfer-Encoding (TE won)",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n" + SMUGGLED),
            ("Transfer-Encoding then Content-Length",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n"
             b"0\r\n\r\n" + SMUGGLED),
            ("two different Content-Length values (the first won)",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n"
             % len(SMUGGLED) + SMUGGLED),
            ("a chunk size 0x5 (read as 0)",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED),
            ("a chunk size line ended by LF alone",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\nhello\r\n0\r\n\r\n" + SMUGGLED),
            ("chunk data not followed by CR LF",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5\r\nhelloXX0\r\n\r\n" + SMUGGLED),
            ("Transfer-Encoding in an HTTP/1.0 request",
             b"POST /echo/a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n" + SMUGGLED),
            ("two Transfer-Encoding lines",
             b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n" + SMUGGLED),
            ("a header line ended by LF alone",
             b"POST /echo/a HTTP/1.1\r\nHost: x\nContent-Length: 0\r\n\r\n" + SMUGGLED),
        ]
        for what, data in cases:
            closed_after(p, data, f"F06: {what}: answered, closed, nothing smuggled", 400)
        # The same, pipelined behind a good request: the good one is answered,
        # the bad one refused, the smuggled one never.
        data = (b"GET /echo/first HTTP/1.1\r\nHost: x\r\n\r\n" + cases[0][1])
        buf, err = S.raw_exchange(p, data, timeout=5 * S.SLOW, responses=3)
        got, rest = responses(buf)
        S.R.check([r[0] for r in got] == [200, 400] and b"uri=/echo/first" in got[0][2] and not rest and err is None,
                  "F06: a good request, then CL+TE pipelined behind it", "200, 400, then the close",
                  f"{[r[0] for r in got]} {S.short(rest[:60])} {err or '(closed)'}")
        lines = s.wait_access(lambda a: a.get("status") == "400" and "Content-Length" in a.get("trap", ""), 2)
        S.R.check(len(lines) >= 2, "F06: the access log names the refused framing",
                  "trap=\"both Transfer-Encoding and Content-Length\"...", [a.get("trap") for a in lines][:3])
        # What is still accepted: chunk extensions, trailers, a CRLF before a request.
        ok = (b"POST /echo/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
              b"\r\nGET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n")
        buf, err = S.raw_exchange(p, ok, responses=2)
        got, _ = responses(buf)
        S.R.check(len(got) == 2 and got[0][0] == 200 and b"body=hello world\n" in got[0][2]
                  and got[1][0] == 200 and b"uri=/echo/after" in got[1][2],
                  "F06: chunk extensions, a trailer and a CRLF before the next request are accepted",
                  "200 'hello world', then 200 /echo/after", S.short(buf[:300]) + (f" {err}" if err else ""))
        still_serving(s, "F06")
        s.stop()


# --- F07: a server-wide budget for buffered bodies ------------------------------


def start_upload(port, length, sent=1024):
    """A connection that sent a head announcing `length` body bytes and the
    first `sent` of them."""
    c = socket.create_connection((S.HOST, port), timeout=10 * S.SLOW)
    c.sendall(b"POST /echo/up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length + b"u" * sent)
    return c


def read_answer(c):
    """The first response on c, then whether the server closed (True) or the
    read timed out (False)."""
    buf = b""
    while S.split_response(buf) is None:
        try:
            chunk = c.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    r = S.split_response(buf)
    return (r[0] if r else None), r


def held_now(s):
    st, ms = s.metrics()
    return S.metric_sum(ms, "wasp_request_body_bytes_held") if st == 200 else None


def wait_held(s, n):
    """Waits until the server holds n body bytes (its heads were read)."""
    return S.wait_until(lambda: held_now(s) == n, 5 * S.SLOW, 0.05)


def test_f07_bodies():
    d = S.scratch_dir("http-audit-f07")
    m = S.manifest(d, apps())
    mib = 1 << 20
    # two 2 MiB bodies fill 4 of the 5 MiB; the third does not fit
    with S.Server(m, d, extra=["--max-body", "2MiB", "--max-buffered-bodies", "5MiB"]) as s:
        p = s.port
        held = [start_upload(p, 2 * mib), start_upload(p, 2 * mib)]
        try:
            S.R.check(wait_held(s, 4 * mib), "F07: two 2 MiB uploads under way hold 4 MiB of the budget",
                      "wasp_request_body_bytes_held 4194304", held_now(s))
            t0 = time.monotonic()
            third = start_upload(p, 2 * mib, sent=0)
            st, r = read_answer(third)
            third.close()
            S.R.eq("F07: a third 2 MiB body while two are held (budget 5 MiB): status", 503, st)
            S.R.check(time.monotonic() - t0 < 5 * S.SLOW, "F07: ... answered at once, not after the body",
                      "within 5 s", f"{time.monotonic() - t0:.1f} s")
            S.R.check(r is not None and r[1].get("connection") == "close", "F07: ... with Connection: close",
                      "close", r[1].get("connection") if r else None)
            st, _, body = S.try_get(p, "/echo/small", method="POST", body=b"s" * 1000)
            S.R.eq("F07: a 1000-byte body still fits in the budget: status", 200, st)
            still_serving(s, "F07")
            # finishing one upload gives its 2 MiB back
            held[0].sendall(b"u" * (2 * mib - 1024))
            held[0].settimeout(10 * S.SLOW)
            st, r = read_answer(held[0])
            S.R.eq("F07: the first held upload, completed: status", 200, st)
            S.R.check(r is not None and b"\nbody-len=2097152\n" in r[2], "F07: ... its whole body arrived",
                      "body-len=2097152", S.short(r[2][:80]) if r else None)
            ok = S.wait_until(lambda: S.try_get(p, "/echo/again", method="POST", body=b"a" * (2 * mib))[0] == 200,
                              5 * S.SLOW, 0.2)
            S.R.check(ok, "F07: a 2 MiB body once the first upload is done", "200", "503 or failure")
        finally:
            for c in held:
                c.close()
        # A chunked body is counted as it comes: past the budget it is refused mid-way.
        S.R.check(wait_held(s, 0), "F07: closed uploads give their bytes back", "wasp_request_body_bytes_held 0",
                  held_now(s))
        held = [start_upload(p, 2 * mib), start_upload(p, 2 * mib)]
        try:
            S.R.check(wait_held(s, 4 * mib), "F07: two new uploads hold 4 MiB", "4194304", held_now(s))
            c = socket.create_connection((S.HOST, p), timeout=10 * S.SLOW)
            c.sendall(b"POST /echo/chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            st = None
            try:
                for _ in range(24):  # 1.5 MiB in 64 KiB chunks: past the 1 MiB left
                    c.sendall(b"10000\r\n" + b"c" * 65536 + b"\r\n")
                c.sendall(b"0\r\n\r\n")  # so that a body let through is answered, not waited for
            except OSError:
                pass
            st, _ = read_answer(c)
            c.close()
            S.R.eq("F07: a chunked body that grows past the budget: status", 503, st)
        finally:
            for c in held:
                c.close()
        lines = s.wait_access(lambda a: a.get("status") == "503", 2)
        S.R.check(len(lines) >= 2 and all("max-buffered-bodies" in a.get("trap", "") for a in lines),
                  "F07: the refusals are logged with the reason", "trap=\"--max-buffered-bodies reached\"",
                  [a.get("trap") for a in lines][:3])
        still_serving(s, "F07")
        s.stop()


# --- F10: header values and the server's own headers ----------------------------


def test_f10_headers():
    d = S.scratch_dir("http-audit-f10")
    m = S.manifest(d, apps())
    with S.Server(m, d) as s:
        p = s.port
        st, h, body = S.get(p, "/resp")
        S.R.eq("F10: /resp status", 200, st)
        text = "\n" + body.decode("latin-1")
        for what, want in [("ctl-01", -1), ("ctl-7f", -1), ("ctl-1f", -1), ("nul", -1), ("cr", -1), ("lf", -1),
                           ("tab", 0), ("obs-text", 0), ("space", 0), ("date", -1), ("server", -1),
                           ("date-lower", -1), ("bad-name", -1)]:
            S.R.check(f"\n{what}={want}\n" in text, f"F10: resp_header {what}", want, S.short(body)[:300])
        S.R.eq("F10: one Date header", 1, len(h.get_all("Date") or []))
        S.R.eq("F10: one Server header, the server's", ["wasp"], h.get_all("Server"))
        S.R.eq("F10: an accepted value with HTAB", "a\tb", h.get("X-Tab"))
        S.R.check(h.get("X-Ctl") is None and h.get("X-Del") is None, "F10: refused headers are not sent",
                  "no X-Ctl, X-Del", (h.get("X-Ctl"), h.get("X-Del")))
        for mode in ("ctl", "del"):
            st, _, _ = S.get(p, f"/cgi/x?mode={mode}")
            S.R.eq(f"F10: WAGI header value with a control character (mode={mode}): status", 502, st)
        st, h, _ = S.get(p, "/cgi/x?mode=date")
        S.R.eq("F10: WAGI Date and Server lines: status", 200, st)
        S.R.eq("F10: ... one Date header", 1, len(h.get_all("Date") or []))
        S.R.eq("F10: ... the server's Server header only", ["wasp"], h.get_all("Server"))
        S.R.check(h.get("Date") != "Mon, 01 Jan 2001 00:00:00 GMT", "F10: ... the Date is the server's",
                  "not the handler's", h.get("Date"))
        S.R.eq("F10: ... other headers go on", "yes", h.get("X-Ok"))
        still_serving(s, "F10")
        s.stop()


# --- F11: WAGI output cap and Status ----------------------------------------------


def test_f11_wagi_output():
    d = S.scratch_dir("http-audit-f11")
    m = S.manifest(d, apps())
    with S.Server(m, d) as s:
        p = s.port
        st, _, body = S.get(p, "/cgi/x?mode=status2000")
        S.R.eq("F11: WAGI 'Status: 2000': status", 502, st)
        st, _, body = S.get(p, "/cgi/x?mode=big")
        S.R.eq("F11: WAGI output of 17 MiB (past the cap): status", 502, st)
        S.R.check(len(body) < 4096, "F11: ... the cut body is not sent", "a short error", f"{len(body)} bytes")
        lines = s.wait_access(lambda a: a.get("app") == "cgi" and a.get("status") == "502"
                              and "cap" in a.get("trap", ""), 1)
        S.R.check(len(lines) == 1, "F11: ... logged with the reason", "trap=\"WAGI output reached the cap...\"",
                  [a.get("trap") for a in s.access() if a.get("app") == "cgi"][-3:])
        st, _, body = S.get(p, "/cgi/x?mode=fit")
        S.R.eq("F11: WAGI output of exactly 16 MiB (inside the cap): status", 200, st)
        S.R.eq("F11: ... and its whole body", 16 << 20, len(body))
        st, _, body = S.get(p, "/cgi/x?mode=status")
        S.R.eq("F11: 'Status: 404 Not Found' (digits and a reason phrase) still works", 404, st)
        still_serving(s, "F11")
        s.stop()


# --- F12: CGI header aliasing, obs-fold, paths across routes ------------------------


def test_f12_cgi_paths():
    d = S.scratch_dir("http-audit-f12")
    m = S.manifest(d, apps())
    with S.Server(m, d) as s:
        p = s.port
        # http.client sends these names as given; the client's X_Forwarded_For
        # comes before the X-Forwarded-For a proxy appends
        conn = http.client.HTTPConnection(S.HOST, p, timeout=S.HTTP_TIMEOUT)
        conn.putrequest("GET", "/cgi/env")
        conn.putheader("X_Forwarded_For", "6.6.6.6")
        conn.putheader("X-Forwarded-For", "10.0.0.1")
        conn.putheader("Content_Type", "forged/type")
        conn.putheader("Proxy", "http://evil:3128")
        conn.putheader("X-Dup", "one")
        conn.putheader("X-Dup", "two")
        conn.endheaders()
        r = conn.getresponse()
        v = S.cgi_vars(r.read())
        conn.close()
        S.R.eq("F12: HTTP_X_FORWARDED_FOR is the real header's, not X_Forwarded_For's", "10.0.0.1",
               v.get("HTTP_X_FORWARDED_FOR"))
        S.R.eq("F12: a Content_Type header does not become CONTENT_TYPE", "", v.get("CONTENT_TYPE"))
        S.R.eq("F12: a Proxy header does not become HTTP_PROXY", "(unset)", v.get("HTTP_PROXY"))
        S.R.eq("F12: a repeated header is one variable, values joined", "one, two", v.get("HTTP_X_DUP"))
        closed_after(p, b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n" + SMUGGLED,
                     "F12: an obs-fold header line: 400 and closed", 400)
        for path in ("/cgi/..%2F..%2Fhello", "/cgi/..%2fhello", "/cgi/%2e%2e/hello", "/cgi/../hello",
                     "/cgi/./x", "/cgi/a%00b"):
            st, _, body = S.try_get(p, path)
            S.R.eq(f"F12: GET {path}: status", 400, st)
        st, _, body = S.get(p, "/cgi/a%20b/c%2Ed")
        v = S.cgi_vars(body)
        S.R.eq("F12: a path with other encoded characters is routed on its decoded form: status", 200, st)
        S.R.eq("F12: ... PATH_INFO decoded", "/a b/c.d", v.get("PATH_INFO"))
        lines = s.wait_access(lambda a: a.get("status") == "400" and "%2F" in a.get("trap", ""), 1)
        S.R.check(lines, "F12: the refused path is logged with the reason", "trap=\"an encoded '/' (%2F)...\"",
                  [a.get("trap") for a in s.access() if a.get("status") == "400"][:3])
        still_serving(s, "F12")
        s.stop()
