/*
 * top.c - what `wasp top` shows: a running server's apps, read from its
 * admin listener's /metrics, one sample a second.
 *
 * A sample is the per-app counters and gauges of one /metrics text
 * (requests by status, the duration histogram, busy instances, memory);
 * two samples make the rows: rates and percentiles over the interval
 * between them, so that the view shows now, not the server's lifetime.
 * The fetch is a plain HTTP/1.0 GET over a socket: the admin listener
 * speaks it, and `wasp top` needs no HTTP library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

#define TOP_BUCKETS 32

typedef struct top_app {
    char name[64];
    double total, errors; /* requests answered; of those 5xx */
    double le[TOP_BUCKETS], cum[TOP_BUCKETS];
    int nb;
    double busy, memory;
} top_app;

struct srv_top_sample {
    top_app apps[SRV_TOP_MAX_APPS];
    int napps;
    double in_flight;
    uint64_t at_ns;
};

/* ---- fetching ------------------------------------------------------------------ */

char *srv_top_fetch(const char *host, int port, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl = srv_sockaddr(host, port, &ss, err, errlen);
    if (!sl) return NULL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "cannot connect to the admin listener at %s:%d: %s", host, port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    static const char get[] = "GET /metrics HTTP/1.0\r\nHost: wasp\r\n\r\n";
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    bool ok = buf && write(fd, get, sizeof get - 1) == (ssize_t)(sizeof get - 1);
    while (ok) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) != 1) {
            ok = false;
            break;
        }
        if (len + 1 == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                ok = false;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (!ok) {
        snprintf(err, errlen, "no answer from the admin listener at %s:%d", host, port);
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) || !body || atoi(buf + 9) != 200) {
        snprintf(err, errlen, "the admin listener at %s:%d did not answer /metrics with 200", host,
                 port);
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, len - (size_t)(body + 4 - buf) + 1);
    return buf;
}

/* ---- parsing ------------------------------------------------------------------- */

static top_app *app_row(srv_top_sample *s, const char *name, size_t n) {
    if (n >= sizeof s->apps[0].name) n = sizeof s->apps[0].name - 1;
    for (int i = 0; i < s->napps; i++)
        if (strlen(s->apps[i].name) == n && !memcmp(s->apps[i].name, name, n)) return &s->apps[i];
    if (s->napps == SRV_TOP_MAX_APPS) return NULL;
    top_app *a = &s->apps[s->napps++];
    memcpy(a->name, name, n);
    a->name[n] = 0;
    return a;
}

/* The value of label `key` in the {...} of line (from `open`), or NULL;
 * its length in *n. Values here never hold quotes. */
static const char *label(const char *open, const char *close, const char *key, size_t *n) {
    size_t k = strlen(key);
    for (const char *p = open + 1; p && p < close;) {
        if (!strncmp(p, key, k) && p[k] == '=' && p[k + 1] == '"') {
            const char *v = p + k + 2, *e = memchr(v, '"', (size_t)(close - v));
            if (!e) return NULL;
            *n = (size_t)(e - v);
            return v;
        }
        p = memchr(p, ',', (size_t)(close - p));
        if (p) p++;
    }
    return NULL;
}

srv_top_sample *srv_top_parse(const char *text) {
    srv_top_sample *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->at_ns = srv_now_ns();
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        const char *open = memchr(line, '{', (size_t)(end - line));
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        const char *val = close ? close + 1 : memchr(line, ' ', (size_t)(end - line));
        double v = val ? strtod(val, NULL) : 0;
        size_t mlen = (size_t)((open ? open : val ? val : end) - line);
        size_t n;
        const char *app = open && close ? label(open, close, "app", &n) : NULL;
        top_app *a = app ? app_row(s, app, n) : NULL;
#define IS(name) (mlen == sizeof(name) - 1 && !memcmp(line, name, mlen))
        if (line[0] == '#') {
            /* a comment */
        } else if (IS("wasp_requests_in_flight")) {
            s->in_flight = v;
        } else if (a && IS("wasp_requests_total")) {
            size_t sn;
            const char *st = label(open, close, "status", &sn);
            a->total += v;
            if (st && st[0] == '5') a->errors += v;
        } else if (a && IS("wasp_request_duration_seconds_bucket") && a->nb < TOP_BUCKETS) {
            size_t ln;
            const char *le = label(open, close, "le", &ln);
            a->le[a->nb] = le && strncmp(le, "+Inf", 4) ? strtod(le, NULL) : 1e300;
            a->cum[a->nb++] = v;
        } else if (a && IS("wasp_pool_instances")) {
            size_t sn;
            const char *st = label(open, close, "state", &sn);
            if (st && sn == 4 && !memcmp(st, "busy", 4)) a->busy += v;
        } else if (a && IS("wasp_app_memory_bytes")) {
            a->memory = v;
        }
#undef IS
        line = *end ? end + 1 : NULL;
    }
    return s;
}

void srv_top_free(srv_top_sample *s) {
    free(s);
}

/* ---- rows ------------------------------------------------------------------------ */

/* The q-quantile in ms of the requests counted between two cumulative
 * histograms (upper bounds le), by the bucket it falls in; -1: none. */
static double quantile(const top_app *now, const top_app *before, double q) {
    double total = now->nb ? now->cum[now->nb - 1] - (before ? before->cum[now->nb - 1] : 0) : 0;
    if (total <= 0) return -1;
    for (int b = 0; b < now->nb; b++) {
        double c = now->cum[b] - (before && b < before->nb ? before->cum[b] : 0);
        if (c >= q * total)
            return now->le[b] >= 1e300 ? now->le[b - (b > 0)] * 1e3 : now->le[b] * 1e3;
    }
    return -1;
}

/* A metric's value as a count: the text may hold anything (NaN, -1, 1e300). */
static double count_of(double v) {
    return v >= 0 && v < 9e18 ? v : 0;
}

int srv_top_rows(const srv_top_sample *before, const srv_top_sample *now, srv_top_row *rows,
                 int max) {
    double dt =
        before && now->at_ns > before->at_ns ? (double)(now->at_ns - before->at_ns) / 1e9 : 0;
    int n = 0;
    for (int i = 0; i < now->napps && n < max; i++) {
        const top_app *a = &now->apps[i];
        /* an ingest or filter app has no requests of its own to show */
        if (!a->nb && !a->total) continue;
        const top_app *b = NULL;
        for (int k = 0; before && k < before->napps; k++)
            if (!strcmp(before->apps[k].name, a->name)) b = &before->apps[k];
        srv_top_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        snprintf(r->app, sizeof r->app, "%s", a->name);
        double dreq = a->total - (b ? b->total : 0), derr = a->errors - (b ? b->errors : 0);
        r->requests = (uint64_t)count_of(a->total);
        r->rps = dt > 0 ? dreq / dt : 0;
        r->error_rate = dreq > 0 && derr >= 0 && derr <= dreq ? derr / dreq : 0;
        /* over the interval; before a second sample, over the lifetime */
        r->p50_ms = quantile(a, b, 0.50);
        r->p99_ms = quantile(a, b, 0.99);
        r->in_flight = (int64_t)count_of(a->busy);
        r->memory_bytes = (uint64_t)count_of(a->memory);
    }
    return n;
}
