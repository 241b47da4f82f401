/*
 * top.c - `wasp top`: a running server's apps in the terminal, from its
 * admin listener, refreshed each second: requests per second, error
 * rate, p50 and p99, requests in flight, memory. `q` quits.
 *
 * The numbers come from server/top.c; this file draws them, with ANSI
 * escapes, and reads the keyboard in raw mode (put back on the way out).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/server.h"

static const char top_usage[] =
    "usage: wasp top [--admin ADDR:PORT] [--once]\n"
    "\n"
    "A running `wasp serve`'s apps, from its admin listener's /metrics, each\n"
    "second: requests per second, the share of 5xx answers, p50 and p99\n"
    "latency over the last second, requests in flight and the linear memory\n"
    "of the app's instances. q (or Ctrl-C) quits.\n"
    "\n"
    "options:\n"
    "  --admin ADDR:PORT  the server's admin listener (default 127.0.0.1:9090)\n"
    "  --once             print the table once, a second's worth, and exit\n"
    "                     (for scripts; no screen drawing)\n";

static struct termios saved;
static bool raw;

static void restore_terminal(void) {
    if (raw) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    raw = false;
    if (isatty(STDOUT_FILENO)) fputs("\x1b[?25h", stdout); /* the cursor back */
    fflush(stdout);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void human_bytes(uint64_t b, char *buf, size_t len) {
    if (b >= (1ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)b / (double)(1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, len, "%.1f MiB", (double)b / (double)(1ull << 20));
    else if (b >= 1024)
        snprintf(buf, len, "%.0f KiB", (double)b / 1024.0);
    else
        snprintf(buf, len, "%llu B", (unsigned long long)b);
}

static void ms_text(double ms, char *buf, size_t len) {
    if (ms < 0)
        snprintf(buf, len, "-");
    else if (ms < 10)
        snprintf(buf, len, "%.2f", ms);
    else
        snprintf(buf, len, "%.0f", ms);
}

static void draw(FILE *out, const char *admin, const srv_top_row *rows, int n, const char *err,
                 bool screen) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char when[16];
    strftime(when, sizeof when, "%H:%M:%S", &tm);
    if (screen) fputs("\x1b[H\x1b[2J", out);
    fprintf(out, "wasp top - %s - %s%s\n\n", admin, when, screen ? " - q quits" : "");
    if (err) {
        fprintf(out, "%s\n", err);
        return;
    }
    fprintf(out, "%-24s %9s %7s %9s %9s %9s %10s %10s\n", "APP", "REQ/S", "ERR%", "P50 ms",
            "P99 ms", "IN FLIGHT", "MEMORY", "REQUESTS");
    for (int i = 0; i < n; i++) {
        char p50[16], p99[16], mem[16];
        ms_text(rows[i].p50_ms, p50, sizeof p50);
        ms_text(rows[i].p99_ms, p99, sizeof p99);
        human_bytes(rows[i].memory_bytes, mem, sizeof mem);
        fprintf(out, "%-24.24s %9.1f %6.1f%% %9s %9s %9lld %10s %10llu\n", rows[i].app, rows[i].rps,
                rows[i].error_rate * 100, p50, p99, (long long)rows[i].in_flight, mem,
                (unsigned long long)rows[i].requests);
    }
    if (n == 0) fprintf(out, "(no app has answered a request yet)\n");
}

/* ADDR:PORT (an IPv6 address in brackets) into host and port. */
static bool split_admin(const char *s, char *host, size_t hlen, int *port) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return false;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') h++, n -= 2;
    if (n >= hlen) return false;
    memcpy(host, h, n);
    host[n] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535) return false;
    *port = (int)p;
    return true;
}

int cli_top(int argc, char **argv) {
    const char *admin = "127.0.0.1:9090";
    bool once = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(top_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--once")) {
            once = true;
        } else if (!strcmp(argv[i], "--admin") && i + 1 < argc) {
            admin = argv[++i];
        } else {
            fprintf(stderr, "wasp top: unexpected argument '%s'\n\n%s", argv[i], top_usage);
            return 2;
        }
    }
    char host[256];
    int port;
    if (!split_admin(admin, host, sizeof host, &port)) {
        fprintf(stderr, "wasp top: bad --admin '%s' (want ADDR:PORT, e.g. 127.0.0.1:9090)\n",
                admin);
        return 2;
    }
    bool screen = !once && isatty(STDOUT_FILENO);
    if (!once && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
        struct termios t = saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) raw = true;
    }
    atexit(restore_terminal);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (screen) fputs("\x1b[?25l", stdout); /* no cursor over the table */

    bool keys = !once; /* stdin is read for q until it ends */
    srv_top_sample *before = NULL;
    srv_top_row rows[SRV_TOP_MAX_APPS];
    int status = 0, rounds = 0;
    while (!stop) {
        char err[300];
        char *text = srv_top_fetch(host, port, err, sizeof err);
        srv_top_sample *now = text ? srv_top_parse(text) : NULL;
        free(text);
        if (text && !now) snprintf(err, sizeof err, "out of memory");
        if (now) {
            int n = srv_top_rows(before, now, rows, SRV_TOP_MAX_APPS);
            srv_top_free(before);
            before = now;
            rounds++;
            if (!once || rounds == 2) draw(stdout, admin, rows, n, NULL, screen);
        } else {
            if (once) {
                fprintf(stderr, "wasp top: %s\n", err);
                status = 1;
                break;
            }
            draw(stdout, admin, NULL, 0, err, screen);
        }
        fflush(stdout);
        if (once && rounds == 2) break;
        /* a second, or a key */
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int left = 1000; left > 0 && !stop;) {
            struct pollfd p = {STDIN_FILENO, POLLIN, 0};
            int r = poll(&p, keys ? 1 : 0, left);
            if (r > 0) {
                char c;
                ssize_t k = read(STDIN_FILENO, &c, 1);
                if (k == 1 && (c == 'q' || c == 'Q')) stop = 1;
                if (k == 0) keys = false; /* end of input: only the clock from now on */
            }
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            left =
                1000 - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
            if (r < 0 && errno != EINTR) break;
        }
    }
    srv_top_free(before);
    restore_terminal();
    if (screen) fputs("\n", stdout);
    return status;
}
