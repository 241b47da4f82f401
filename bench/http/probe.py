#!/usr/bin/env python3
"""probe.py - correctness and hostility probes for the HTTP library comparison.

Usage: bench/http/build.sh && python3 bench/http/probe.py [--timeout SECONDS] [--port PORT]

Starts each hello server of bench/http/ (h2o, evhttp, mhd) on 127.0.0.1, sends it raw
requests over plain sockets (what `printf ... | nc` would send, with exact timing), and
prints one Markdown table: a row per probe, a column per library, each cell the status
codes that came back and whether the server then closed the connection. Then the timed
probes (idle, slowloris, slow body; capped at --cap seconds) and a check that a GET still
gets through 1000 and 3000 idle connections. With --timeout N the servers start with HELLO_TIMEOUT=N
(each library's own timeout knob; see the servers' headers); without it, library defaults.
Loopback only; every server is killed at the end. Standard library only.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bench", "http")
SERVERS = ["h2o", "evhttp", "mhd"]
CROWDS = [1000, 3000]

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def post(body, extra=b""):
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def exchange(port, data, wait=1.0, pause=0.0):
    """Send data (bytes, or a list of pieces sent `pause` seconds apart), then read until the
    server closes or stays silent for `wait` seconds. Returns (reply, closed)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reply, closed = b"", False
    try:
        for i, piece in enumerate(data if isinstance(data, list) else [data]):
            if i and pause:
                time.sleep(pause)
            s.sendall(piece)
        s.settimeout(wait)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            reply += chunk
    except socket.timeout:
        pass
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    finally:
        s.close()
    return reply, closed


def summary(reply, closed):
    codes = re.findall(rb"HTTP/1\.[01] (\d{3})", reply)
    bodies = re.findall(rb"got \d+ bytes", reply)
    text = " ".join(c.decode() for c in codes) if codes else "no response"
    if bodies:
        text += " (" + ", ".join(b.decode() for b in bodies) + ")"
    return text + (", closed" if closed else ", kept open")


def hdr(name, size):
    return b"GET / HTTP/1.1\r\nHost: x\r\n" + name + b": " + b"a" * size + b"\r\n\r\n"


PROBES = [
    ("valid GET", lambda p: exchange(p, GET)),
    ("malformed request line `GARBAGE`", lambda p: exchange(p, b"GARBAGE\r\n\r\n")),
    ("request line without version `GET /`", lambda p: exchange(p, b"GET /\r\n\r\n")),
    ("unknown version `HTTP/7.3`", lambda p: exchange(p, b"GET / HTTP/7.3\r\nHost: x\r\n\r\n")),
    ("control byte in path `/\\x01`", lambda p: exchange(p, b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n")),
    ("header line without colon", lambda p: exchange(p, b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n")),
    ("HTTP/1.1 without Host", lambda p: exchange(p, b"GET / HTTP/1.1\r\n\r\n")),
    ("one 8 KiB header", lambda p: exchange(p, hdr(b"X-Big", 8 << 10))),
    ("one 64 KiB header", lambda p: exchange(p, hdr(b"X-Big", 64 << 10))),
    ("one 1 MiB header", lambda p: exchange(p, hdr(b"X-Big", 1 << 20), wait=3)),
    ("64 KiB URI", lambda p: exchange(p, b"GET /" + b"a" * (64 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n")),
    ("200 small headers", lambda p: exchange(
        p, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n")),
    ("3 GETs pipelined in one write", lambda p: exchange(p, GET * 3)),
    ("GET, POST(5 bytes), GET pipelined", lambda p: exchange(p, GET + post(b"hello") + GET)),
    ("chunked POST (5+6 bytes, a chunk extension)", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")),
    ("chunked POST sent in 3 pieces 0.3 s apart", lambda p: exchange(
        p, [b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n6\r\n world\r\n", b"0\r\n\r\n"], pause=0.3)),
    ("chunked POST with bad chunk size `zz`", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")),
    ("Content-Length and chunked both (smuggling)", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\n" + GET)),
    ("two different Content-Length", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello")),
    ("Content-Length: -1", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")),
    ("unknown Transfer-Encoding `gzip`", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello")),
    ("Expect: 100-continue, body after 1 s", lambda p: exchange(
        p, [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            b"hello"], pause=1.0)),
    ("declared 10 GiB body, headers only", lambda p: exchange(
        p, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n\r\n", wait=2)),
]


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return -1


def big_body(port, pid, size=32 << 20):
    """POST a 32 MiB body; report the answer and how much the server's resident memory grew
    while it was in flight (a library that buffers the whole body grows by about its size)."""
    before = rss_kb(pid, "VmRSS")
    peak = [before]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid, "VmRSS"))
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    body = b"x" * size
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    reply, closed = exchange(port, [head] + [body[i:i + (1 << 20)] for i in range(0, size, 1 << 20)],
                             wait=3, pause=0.01)
    done.set()
    t.join()
    return "%s; RSS +%d MiB" % (summary(reply, closed), (peak[0] - before) // 1024)


def timed(port, pieces, pause, cap):
    """Send pieces `pause` s apart (repeating the last piece until `cap` s) and report when
    the server closed the connection, and what it answered."""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.monotonic()
    reply, closed_at = b"", None
    s.setblocking(False)
    i = 0
    next_send = t0
    while time.monotonic() - t0 < cap:
        now = time.monotonic()
        if pieces and now >= next_send:
            try:
                s.send(pieces[min(i, len(pieces) - 1)])
            except (BrokenPipeError, ConnectionResetError):
                closed_at = now - t0
                break
            i += 1
            next_send = now + pause
        try:
            chunk = s.recv(65536)
            if not chunk:
                closed_at = time.monotonic() - t0
                break
            reply += chunk
        except BlockingIOError:
            time.sleep(0.05)
        except ConnectionResetError:
            closed_at = time.monotonic() - t0
            break
    s.close()
    codes = " ".join(c.decode() for c in re.findall(rb"HTTP/1\.[01] (\d{3})", reply))
    when = "closed at %.1f s" % closed_at if closed_at is not None else "open after %d s" % cap
    return when + (" (answered %s)" % codes if codes else "")


def timed_probes(cap):
    slowloris = [b"GET / HTTP/1.1\r\nHost: x\r\n", b"X-a: b\r\n"]
    return [
        ("connect, send nothing", lambda p: timed(p, [], 0, cap)),
        ("one GET, then idle (keep-alive)", lambda p: timed(p, [GET], 3600, cap)),
        ("slowloris: a header line every 2 s", lambda p: timed(p, slowloris, 2, cap)),
        ("slow body: 1 byte every 2 s of 100", lambda p: timed(
            p, [b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"x"], 2, cap)),
    ]


def crowd(port, n):
    """Open n idle connections, then time one normal GET on a new connection."""
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", port)))
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port))
        socks.append(s)
        s.settimeout(5)
        s.sendall(GET)
        reply = b""
        try:
            while not reply.endswith(b"hello, world\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        ms = (time.monotonic() - t0) * 1000
        codes = re.findall(rb"HTTP/1\.[01] (\d{3})", reply)
        return "GET %s after %.0f ms" % (codes[0].decode() if codes else "unanswered", ms)
    except OSError as e:
        return "error: %s" % e
    finally:
        for s in socks:
            s.close()


def port_busy(port):
    """True if something already listens there: with SO_REUSEPORT a leftover server would
    silently share the port and take some of the probes."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start(name, port, timeout):
    if port_busy(port):
        sys.exit("probe: something already listens on port %d; use --port" % port)
    env = dict(os.environ)
    if timeout is not None:
        env["HELLO_TIMEOUT"] = str(timeout)
    proc = subprocess.Popen([os.path.join(BIN, "hello_" + name), str(port), "2"], env=env)
    for _ in range(100):
        try:
            if exchange(port, GET, wait=0.5)[0].endswith(b"hello, world\n"):
                return proc
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("probe: hello_%s did not answer on port %d" % (name, port))


def table(title, rows, results):
    print("\n| %s | %s |" % (title, " | ".join(SERVERS)))
    print("|---|" + "---|" * len(SERVERS))
    for label in rows:
        print("| %s | %s |" % (label, " | ".join(results[s].get(label, "") for s in SERVERS)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=int, default=None, help="HELLO_TIMEOUT for the servers")
    ap.add_argument("--port", type=int, default=18180, help="first of 3 ports")
    ap.add_argument("--cap", type=int, default=65, help="longest a timed probe waits, s")
    args = ap.parse_args()

    ports = {s: args.port + i for i, s in enumerate(SERVERS)}
    procs = {s: start(s, ports[s], args.timeout) for s in SERVERS}
    results = {s: {} for s in SERVERS}
    try:
        for s in SERVERS:
            for label, fn in PROBES:
                results[s][label] = summary(*fn(ports[s]))
            results[s]["32 MiB body (Content-Length)"] = big_body(ports[s], procs[s].pid)
        threads = []
        for s in SERVERS:
            for label, fn in timed_probes(args.cap):
                def run(s=s, label=label, fn=fn):
                    results[s][label] = fn(ports[s])
                threads.append(threading.Thread(target=run))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in SERVERS:
            for n in CROWDS:
                results[s]["%d idle connections, then a GET" % n] = crowd(ports[s], n)
            alive = procs[s].poll() is None and exchange(ports[s], GET)[0].endswith(b"hello, world\n")
            results[s]["still serving after all probes"] = "yes" if alive else "NO"
    finally:
        for p in procs.values():
            p.kill()
            p.wait()

    knob = "HELLO_TIMEOUT=%d" % args.timeout if args.timeout is not None else "library defaults"
    print("\nprobe (%s)" % knob)
    table("probe", [label for label, _ in PROBES] + ["32 MiB body (Content-Length)"], results)
    table("timed probe (cap %d s)" % args.cap,
          [label for label, _ in timed_probes(args.cap)] +
          ["%d idle connections, then a GET" % n for n in CROWDS] +
          ["still serving after all probes"], results)


if __name__ == "__main__":
    main()
