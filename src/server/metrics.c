/*
 * metrics.c - per-worker counters and their Prometheus text form.
 *
 * Each worker owns a srv_stats and is its only writer, so counting is a
 * relaxed atomic add on a cache line no other thread writes. The admin
 * thread sums the workers' values when /metrics is asked for. App
 * statistics are keyed by interned app name, so they survive reloads
 * (a reloaded app keeps counting where it was, as Prometheus expects).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

/* Upper bounds of the histogram buckets, in seconds; the last is +Inf. */
static const double bucket_le[SRV_HIST_BUCKETS] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                                   0.0005,  0.001,    0.0025,  0.005,  0.01,
                                                   0.05,    0.25,     1.0,     0};

uint64_t srv_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

void srv_hist_add(srv_hist *h, uint64_t ns) {
    double s = (double)ns / 1e9;
    int b = 0;
    while (b < SRV_HIST_BUCKETS - 1 && s > bucket_le[b])
        b++;
    srv_count(&h->buckets[b], 1);
    srv_count(&h->count, 1);
    srv_count(&h->sum_ns, ns);
}

srv_app_stats *srv_stats_app(srv_stats *st, const char *name) {
    /* Interned names are unique pointers: open addressing on the address. */
    size_t h = ((uintptr_t)name >> 4) % SRV_MAX_APPS;
    for (size_t k = 0; k < SRV_MAX_APPS; k++) {
        srv_app_stats *a = &st->apps[(h + k) % SRV_MAX_APPS];
        const char *cur = __atomic_load_n(&a->name, __ATOMIC_ACQUIRE);
        if (cur == name) return a;
        if (!cur) {
            __atomic_store_n(&a->name, name, __ATOMIC_RELEASE);
            return a;
        }
    }
    return &st->apps[h]; /* full: share a row rather than lose the count */
}

void srv_stats_free(srv_stats *st) {
    if (!st) return;
    for (size_t i = 0; i < SRV_MAX_APPS; i++)
        srv_traces_free(&st->apps[i]);
    free(st);
}

/* ---- rendering ------------------------------------------------------------ */

void srv_text_put(srv_text *o, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = o->cap - o->len;
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        size_t ncap = o->cap ? o->cap * 2 : 8192;
        while (ncap - o->len <= (size_t)n)
            ncap *= 2;
        char *nb = realloc(o->buf, ncap);
        if (!nb) {
            o->failed = true;
            return;
        }
        o->buf = nb;
        o->cap = ncap;
    }
}

static void put_hist(srv_text *o, const char *metric, const char *labels, const srv_hist *const *hs,
                     int n) {
    uint64_t cum = 0, count = 0, sum = 0;
    const char *sep = *labels ? "," : "";
    for (int b = 0; b < SRV_HIST_BUCKETS; b++) {
        for (int w = 0; w < n; w++)
            cum += GET(((srv_hist *)hs[w])->buckets[b]);
        if (b < SRV_HIST_BUCKETS - 1)
            srv_text_put(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", metric, labels, sep, bucket_le[b],
                         (unsigned long long)cum);
        else
            srv_text_put(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", metric, labels, sep,
                         (unsigned long long)cum);
    }
    for (int w = 0; w < n; w++) {
        count += GET(((srv_hist *)hs[w])->count);
        sum += GET(((srv_hist *)hs[w])->sum_ns);
    }
    srv_text_put(o, "%s_sum{%s} %.9f\n", metric, labels, (double)sum / 1e9);
    srv_text_put(o, "%s_count{%s} %llu\n", metric, labels, (unsigned long long)count);
}

/* A counter per app: the field at `field` of each worker's srv_app_stats,
 * summed; apps at 0 are left out. */
static void put_app_counter(srv_text *o, srv_stats *const *ws, int n, const char **names,
                            int nnames, const char *metric, const char *help, size_t field) {
    srv_text_put(o, "# HELP %s %s\n# TYPE %s counter\n", metric, help, metric);
    for (int a = 0; a < nnames; a++) {
        uint64_t c = 0;
        for (int w = 0; w < n; w++)
            c += GET(*(_Atomic uint64_t *)((char *)srv_stats_app(ws[w], names[a]) + field));
        if (c) srv_text_put(o, "%s{app=\"%s\"} %llu\n", metric, names[a], (unsigned long long)c);
    }
}

void srv_text_json(srv_text *t, const char *s) {
    srv_text_put(t, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            srv_text_put(t, "\\%c", *c);
        else if (*c < 0x20 || *c >= 0x7f)
            srv_text_put(t, "\\u%04x", *c);
        else
            srv_text_put(t, "%c", *c);
    }
    srv_text_put(t, "\"");
}

void srv_hist_format(srv_text *t, const char *metric, const char *labels, const srv_hist *h) {
    const srv_hist *hs[1] = {h};
    put_hist(t, metric, labels, hs, 1);
}

/* An app's memory, summed over the workers. */
typedef struct app_memory {
    uint64_t rest, instances, peak, req_sum, req_count, pages_reset, host_peak;
} app_memory;

static app_memory memory_of(srv_stats *const *ws, int n, const char *name) {
    app_memory m = {0};
    uint64_t rest = 0; /* the snapshot's size: the same in every worker */
    for (int w = 0; w < n; w++) {
        srv_app_stats *as = srv_stats_app(ws[w], name);
        int64_t inst = GET(as->pool_idle) + GET(as->pool_busy);
        uint64_t r = GET(as->mem_rest), peak = GET(as->mem_peak);
        m.instances += inst > 0 ? (uint64_t)inst : 0;
        if (r > rest) rest = r;
        if (peak > m.peak) m.peak = peak;
        m.req_sum += GET(as->mem_req_sum);
        m.req_count += GET(as->mem_req_count);
        m.pages_reset += GET(as->pages_reset);
        if (GET(as->host_peak) > m.host_peak) m.host_peak = GET(as->host_peak);
    }
    m.rest = m.instances * rest;
    return m;
}

/* The per-app memory families of /metrics: HELP and TYPE, then for each app
 * that has served a request one sample per (suffix, field) pair; only the
 * summary has two. */
static const struct memory_family {
    const char *name, *head;
    const char *suffix[2];
    size_t field[2]; /* offsetof(app_memory, ...) */
} memory_families[] = {
    {"wasp_app_memory_bytes",
     "# HELP wasp_app_memory_bytes Linear memory of the app's instances at rest (each\n"
     "# the snapshot's size), as of their last request.\n"
     "# TYPE wasp_app_memory_bytes gauge\n",
     {""},
     {offsetof(app_memory, rest)}},
    {"wasp_app_memory_peak_bytes",
     "# HELP wasp_app_memory_peak_bytes The most linear memory a request of the app\n"
     "# ended with (memory only grows during a request).\n"
     "# TYPE wasp_app_memory_peak_bytes gauge\n",
     {""},
     {offsetof(app_memory, peak)}},
    {"wasp_app_request_memory_bytes",
     "# HELP wasp_app_request_memory_bytes Each request's linear memory high-water.\n"
     "# TYPE wasp_app_request_memory_bytes summary\n",
     {"_sum", "_count"},
     {offsetof(app_memory, req_sum), offsetof(app_memory, req_count)}},
    {"wasp_app_memory_pages_reset_total",
     "# HELP wasp_app_memory_pages_reset_total 4 KiB pages of linear memory that\n"
     "# requests wrote and the reset after each restored from the snapshot.\n"
     "# TYPE wasp_app_memory_pages_reset_total counter\n",
     {""},
     {offsetof(app_memory, pages_reset)}},
    {"wasp_app_host_buffer_peak_bytes",
     "# HELP wasp_app_host_buffer_peak_bytes The most host-side buffer bytes a slot\n"
     "# of the app held for its requests (response body and headers, WAGI's\n"
     "# environment), kept between requests for reuse.\n"
     "# TYPE wasp_app_host_buffer_peak_bytes gauge\n",
     {""},
     {offsetof(app_memory, host_peak)}},
};

static void put_memory(srv_text *o, srv_stats *const *ws, int n, const char **names, int nnames) {
    app_memory mem[SRV_MAX_INTERNED];
    for (int a = 0; a < nnames; a++)
        mem[a] = memory_of(ws, n, names[a]);
    for (size_t f = 0; f < sizeof memory_families / sizeof *memory_families; f++) {
        const struct memory_family *fam = &memory_families[f];
        srv_text_put(o, "%s", fam->head);
        for (int a = 0; a < nnames; a++) {
            if (!mem[a].req_count) continue;
            for (int k = 0; k < 2 && fam->suffix[k]; k++) {
                uint64_t v;
                memcpy(&v, (const char *)&mem[a] + fam->field[k], sizeof v);
                srv_text_put(o, "%s%s{app=\"%s\"} %llu\n", fam->name, fam->suffix[k], names[a],
                             (unsigned long long)v);
            }
        }
    }
}

/* The process's resident memory in bytes (/proc/self/statm), 0 when it
 * cannot be read. */
static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size, rss = 0;
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

char *srv_memory_render(srv_stats *const *ws, int n, size_t *len) {
    srv_text o = {0};
    const char *names[SRV_MAX_INTERNED];
    int nnames = srv_intern_list(names, SRV_MAX_INTERNED);
    if (n > 64) n = 64;
    srv_text_put(&o, "{\"process\":{\"rss_bytes\":%llu},\"apps\":[",
                 (unsigned long long)rss_bytes());
    bool first = true;
    for (int a = 0; a < nnames; a++) {
        app_memory m = memory_of(ws, n, names[a]);
        if (!m.req_count && !m.instances) continue;
        srv_text_put(&o,
                     "%s\n{\"app\":\"%s\",\"instances\":%llu,\"memory_bytes\":%llu,"
                     "\"peak_bytes\":%llu,\"requests\":%llu,\"request_high_water_avg_bytes\":%llu,"
                     "\"pages_reset\":%llu,\"pages_reset_per_request\":%.1f,"
                     "\"host_buffer_peak_bytes\":%llu}",
                     first ? "" : ",", names[a], (unsigned long long)m.instances,
                     (unsigned long long)m.rest, (unsigned long long)m.peak,
                     (unsigned long long)m.req_count,
                     (unsigned long long)(m.req_count ? m.req_sum / m.req_count : 0),
                     (unsigned long long)m.pages_reset,
                     m.req_count ? (double)m.pages_reset / (double)m.req_count : 0.0,
                     (unsigned long long)m.host_peak);
        first = false;
    }
    srv_text_put(&o, "\n]}\n");
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

char *srv_metrics_render(srv_stats *const *ws, int n, uint64_t reloads, int64_t bodies_held,
                         size_t *len) {
    srv_text o = {0};
    const char *names[SRV_MAX_INTERNED];
    int nnames = srv_intern_list(names, SRV_MAX_INTERNED);
    srv_app_stats *rows[64];
    if (n > 64) n = 64;

    srv_text_put(&o, "# HELP wasp_requests_total Requests answered, by app and status.\n"
                     "# TYPE wasp_requests_total counter\n");
    for (int a = 0; a < nnames; a++) {
        for (int w = 0; w < n; w++)
            rows[w] = srv_stats_app(ws[w], names[a]);
        for (int s = 100; s < 600; s++) {
            uint64_t c = 0;
            for (int w = 0; w < n; w++)
                c += GET(rows[w]->by_status[s]);
            if (c)
                srv_text_put(&o, "wasp_requests_total{app=\"%s\",status=\"%d\"} %llu\n", names[a],
                             s, (unsigned long long)c);
        }
    }
    srv_text_put(&o, "# HELP wasp_traps_total Requests whose handler trapped, by app and trap.\n"
                     "# TYPE wasp_traps_total counter\n");
    for (int a = 0; a < nnames; a++) {
        for (int w = 0; w < n; w++)
            rows[w] = srv_stats_app(ws[w], names[a]);
        for (int t = 1; t < SRV_NTRAPS; t++) {
            uint64_t c = 0;
            for (int w = 0; w < n; w++)
                c += GET(rows[w]->traps[t]);
            if (c) {
                char kind[64];
                snprintf(kind, sizeof kind, "%s", wasm_trap_message((wasm_trap_code)t));
                for (char *p = kind; *p; p++)
                    if (*p == '"' || *p == '\\') *p = '_';
                srv_text_put(&o, "wasp_traps_total{app=\"%s\",kind=\"%s\"} %llu\n", names[a], kind,
                             (unsigned long long)c);
            }
        }
    }
    put_app_counter(&o, ws, n, names, nnames, "wasp_requests_cancelled_total",
                    "Requests whose client went away before the\n"
                    "# answer; their handler was stopped.",
                    offsetof(srv_app_stats, cancelled));
    put_app_counter(&o, ws, n, names, nnames, "wasp_requests_overloaded_total",
                    "Requests refused with 503 because the app had\n"
                    "# max_concurrency requests in flight and a full queue on their worker.",
                    offsetof(srv_app_stats, overloaded));
    srv_text_put(&o,
                 "# HELP wasp_requests_queued Requests waiting for a free instance of their app.\n"
                 "# TYPE wasp_requests_queued gauge\n");
    for (int a = 0; a < nnames; a++) {
        int64_t q = 0;
        for (int w = 0; w < n; w++)
            q += GET(srv_stats_app(ws[w], names[a])->queued);
        srv_text_put(&o, "wasp_requests_queued{app=\"%s\"} %lld\n", names[a], (long long)q);
    }
    srv_text_put(&o,
                 "# HELP wasp_request_duration_seconds Time from routing to a response, by app.\n"
                 "# TYPE wasp_request_duration_seconds histogram\n");
    for (int a = 0; a < nnames; a++) {
        const srv_hist *hs[64] = {0};
        for (int w = 0; w < n; w++)
            hs[w] = &srv_stats_app(ws[w], names[a])->duration;
        char labels[160];
        snprintf(labels, sizeof labels, "app=\"%s\"", names[a]);
        put_hist(&o, "wasp_request_duration_seconds", labels, hs, n);
    }
    srv_text_put(&o,
                 "# HELP wasp_instantiate_seconds Time to get a clean instance: a reset to the\n"
                 "# snapshot, or a new instance from it.\n"
                 "# TYPE wasp_instantiate_seconds histogram\n");
    {
        const srv_hist *hs[64] = {0};
        for (int w = 0; w < n; w++)
            hs[w] = &ws[w]->instantiate;
        put_hist(&o, "wasp_instantiate_seconds", "", hs, n);
    }
    srv_text_put(&o,
                 "# HELP wasp_pool_instances Instances in the workers' pools, by app and state.\n"
                 "# TYPE wasp_pool_instances gauge\n");
    for (int a = 0; a < nnames; a++) {
        int64_t idle = 0, busy = 0;
        for (int w = 0; w < n; w++) {
            idle += GET(srv_stats_app(ws[w], names[a])->pool_idle);
            busy += GET(srv_stats_app(ws[w], names[a])->pool_busy);
        }
        srv_text_put(&o, "wasp_pool_instances{app=\"%s\",state=\"idle\"} %lld\n", names[a],
                     (long long)idle);
        srv_text_put(&o, "wasp_pool_instances{app=\"%s\",state=\"busy\"} %lld\n", names[a],
                     (long long)busy);
    }
    put_memory(&o, ws, n, names, nnames);
    int64_t conns = 0, in_flight = 0, waiting = 0;
    for (int w = 0; w < n; w++) {
        conns += GET(ws[w]->connections);
        in_flight += GET(ws[w]->in_flight);
        waiting += GET(ws[w]->waiting);
    }
    srv_text_put(
        &o,
        "# HELP wasp_requests_in_flight Requests whose handler is running or waiting.\n"
        "# TYPE wasp_requests_in_flight gauge\n"
        "wasp_requests_in_flight %lld\n"
        "# HELP wasp_requests_waiting Requests in flight whose handler is suspended in a wait\n"
        "# (an upstream, a database, a timer) while its worker serves others.\n"
        "# TYPE wasp_requests_waiting gauge\n"
        "wasp_requests_waiting %lld\n",
        (long long)in_flight, (long long)waiting);
    uint64_t timeouts[3] = {0};
    for (int w = 0; w < n; w++)
        for (int ph = 0; ph < 3; ph++)
            timeouts[ph] += GET(ws[w]->timeouts[ph]);
    srv_text_put(
        &o,
        "# HELP wasp_connection_timeouts_total Connections closed because a request's phase\n"
        "# outlasted its limit: idle keep-alive, head or body (--idle-timeout-ms, ...).\n"
        "# TYPE wasp_connection_timeouts_total counter\n"
        "wasp_connection_timeouts_total{phase=\"idle\"} %llu\n"
        "wasp_connection_timeouts_total{phase=\"head\"} %llu\n"
        "wasp_connection_timeouts_total{phase=\"body\"} %llu\n",
        (unsigned long long)timeouts[0], (unsigned long long)timeouts[1],
        (unsigned long long)timeouts[2]);
    srv_text_put(&o,
                 "# HELP wasp_connections Open HTTP connections.\n"
                 "# TYPE wasp_connections gauge\n"
                 "wasp_connections %lld\n"
                 "# HELP wasp_reloads_total Successful manifest reloads (SIGHUP).\n"
                 "# TYPE wasp_reloads_total counter\n"
                 "wasp_reloads_total %llu\n"
                 "# HELP wasp_request_body_bytes_held Request body bytes held at once, against "
                 "--max-buffered-bodies.\n"
                 "# TYPE wasp_request_body_bytes_held gauge\n"
                 "wasp_request_body_bytes_held %lld\n",
                 (long long)conns, (unsigned long long)reloads, (long long)bodies_held);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
