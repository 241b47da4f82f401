#!/usr/bin/python3
"""http_echo.py - the HTTP server tests/unit/test_http_out.c fetches from.

    http_echo.py PORT    serve on 127.0.0.1:PORT until killed

Python 3 standard library only. HTTP/1.1 with keep-alive, one thread per
connection, nothing logged. Endpoints (any method):

    /echo             200, JSON {"method", "path", "headers": {name: value},
                      "body"} (body bytes as Latin-1 characters), with
                      response header "X-Echo-Mixed-Case: Yes"
    /redirect?port=P  302 to http://127.0.0.1:P/
    /big?n=N          N bytes of 'x'; &chunked=1 sends them chunked, with
                      no Content-Length
    /slow?ms=N        waits N ms, then 200 "slow"; &stage=body sends the
                      headers first and waits before the body
    /status?code=N    status N with body "status N" (none for 1xx, 204, 304)
    /interim          103 Early Hints (X-Interim: yes), then 200 with
                      X-Final: yes and a folded header X-Folded
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def param(self, name, default):
        values = parse_qs(urlsplit(self.path).query).get(name)
        return values[0] if values else default

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        if code >= 200 and code not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        body = self.read_body()
        route = urlsplit(self.path).path
        if route == "/echo":
            doc = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
            }
            out = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
            self.reply(200, out, [("Content-Type", "application/json"),
                                  ("X-Echo-Mixed-Case", "Yes")])
        elif route == "/redirect":
            port = self.param("port", "1")
            self.reply(302, b"moved", [("Location", "http://127.0.0.1:%s/" % port)])
        elif route == "/big":
            n = int(self.param("n", "0"))
            if self.param("chunked", "0") == "1":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                left = n
                while left > 0:
                    k = min(left, 65536)
                    self.wfile.write(b"%x\r\n" % k + b"x" * k + b"\r\n")
                    left -= k
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.reply(200, b"x" * n)
        elif route == "/slow":
            ms = int(self.param("ms", "1000"))
            if self.param("stage", "") == "body":
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.flush()
                time.sleep(ms / 1000)
                self.wfile.write(b"slow")
            else:
                time.sleep(ms / 1000)
                self.reply(200, b"slow")
        elif route == "/status":
            code = int(self.param("code", "200"))
            self.reply(code, b"status %d" % code)
        elif route == "/interim":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nX-Interim: yes\r\n\r\n")
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Final: yes\r\nX-Folded: a\r\n  b\r\n"
                             b"Content-Length: 2\r\n\r\nok")
        else:
            self.reply(404, b"no such endpoint")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (size caps, timeouts) are expected


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: http_echo.py PORT")
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
