/*
 * trace.c - request timelines: what each request did and when (queued,
 * instance ready, handler, every host call with its duration and result),
 * the latest and the slowest kept per app and worker, and the admin
 * listener's GET /debug/requests that shows them as JSON or as a Chrome
 * trace; and W3C trace context (traceparent) parsing and passing on.
 *
 * A request's timeline lives in its call (http.c). Host calls come from
 * the engine's observer (wasm_observe_host_calls), which the handler's
 * fiber carries: a wait inside a host call runs other requests with their
 * own. When the request ends its timeline is copied into the worker's
 * store for the app: a ring of the latest, and the slowest so far. Only
 * that copy takes a lock, the worker's own, which the admin thread takes
 * to read.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/internal.h"

#define LATEST 16
#define SLOWEST 8

struct srv_app_traces {
    pthread_mutex_t lock;
    srv_timeline latest[LATEST];
    uint32_t next, nlatest;     /* ring: the next slot to write, how many are filled */
    srv_timeline slow[SLOWEST]; /* the slowest, slowest first */
    uint32_t nslow;
};

/* ---- recording ------------------------------------------------------------- */

static void copy_name(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = 0;
}

void srv_timeline_span(srv_timeline *t, const char *cat, const char *name, size_t name_len,
                       uint64_t start_ns, uint64_t ns, int64_t result, int trap) {
    if (t->nspans == SRV_SPANS_MAX) {
        t->dropped++;
        return;
    }
    srv_span *s = &t->spans[t->nspans++];
    copy_name(s->cat, sizeof s->cat, cat, strlen(cat));
    copy_name(s->name, sizeof s->name, name, name_len);
    s->start_ns = start_ns;
    s->ns = ns;
    s->result = result;
    s->trap = trap;
}

void srv_timeline_observe(void *arg, const wasm_host_call *c) {
    srv_timeline *t = arg;
    /* "wasi_snapshot_preview1" is long for a category: WASI's calls are "wasi" */
    const char *cat = c->module->len == 4 && !memcmp(c->module->str, "wasp", 4) ? "wasp" : "wasi";
    srv_timeline_span(t, cat, c->name->str, c->name->len, c->start_ns, c->ns, c->result,
                      (int)c->trap);
}

/* ---- the store --------------------------------------------------------------- */

/* Copies the part of a timeline in use: a request has a few spans, and
 * this copy is made for every request. */
static void tl_copy(srv_timeline *dst, const srv_timeline *src) {
    memcpy(dst, src, offsetof(srv_timeline, spans) + src->nspans * sizeof(srv_span));
}

void srv_traces_add(srv_app_stats *as, const srv_timeline *t) {
    struct srv_app_traces *tr = __atomic_load_n(&as->traces, __ATOMIC_ACQUIRE);
    if (!tr) {
        tr = calloc(1, sizeof *tr);
        if (!tr) return; /* no timelines kept, nothing else lost */
        pthread_mutex_init(&tr->lock, NULL);
        __atomic_store_n(&as->traces, tr, __ATOMIC_RELEASE);
    }
    pthread_mutex_lock(&tr->lock);
    tl_copy(&tr->latest[tr->next], t);
    tr->next = (tr->next + 1) % LATEST;
    if (tr->nlatest < LATEST) tr->nlatest++;
    if (tr->nslow < SLOWEST || t->total_ns > tr->slow[tr->nslow - 1].total_ns) {
        uint32_t i = tr->nslow < SLOWEST ? tr->nslow++ : SLOWEST - 1;
        while (i > 0 && tr->slow[i - 1].total_ns < t->total_ns) {
            tl_copy(&tr->slow[i], &tr->slow[i - 1]);
            i--;
        }
        tl_copy(&tr->slow[i], t);
    }
    pthread_mutex_unlock(&tr->lock);
}

void srv_traces_free(srv_app_stats *as) {
    struct srv_app_traces *tr = as->traces;
    if (!tr) return;
    pthread_mutex_destroy(&tr->lock);
    free(tr);
    as->traces = NULL;
}

/* ---- W3C trace context --------------------------------------------------------- */

static bool hex_run(const char *s, size_t n, bool *all_zero) {
    *all_zero = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        if (c != '0') *all_zero = false;
    }
    return true;
}

bool srv_traceparent_parse(const char *v, size_t n, char out[SRV_TRACEPARENT_LEN + 1]) {
    /* version-traceid-parentid-flags: 2-32-16-2 lower-case hex digits;
     * version ff is invalid, and a later version may add fields after a
     * '-' (traceparent section 3.2: read the first four) */
    bool zero;
    if (n < SRV_TRACEPARENT_LEN || v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
    if (!hex_run(v, 2, &zero) || !memcmp(v, "ff", 2)) return false;
    if (!memcmp(v, "00", 2) && n != SRV_TRACEPARENT_LEN) return false;
    if (n > SRV_TRACEPARENT_LEN && v[SRV_TRACEPARENT_LEN] != '-') return false;
    if (!hex_run(v + 3, 32, &zero) || zero) return false;
    if (!hex_run(v + 36, 16, &zero) || zero) return false;
    if (!hex_run(v + 53, 2, &zero)) return false;
    memcpy(out, v, SRV_TRACEPARENT_LEN);
    out[SRV_TRACEPARENT_LEN] = 0;
    return true;
}

/* A span id for an outbound request: random enough to tell spans apart
 * (not a secret), from a per-thread xorshift seeded by the clock. */
static uint64_t span_id(void) {
    static _Thread_local uint64_t x;
    if (!x) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        x = ((uint64_t)t.tv_nsec << 20) ^ (uint64_t)t.tv_sec ^ (uintptr_t)&x;
        if (!x) x = 0x9E3779B97F4A7C15ull;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x ? x : 1;
}

void srv_traceparent_child(const char *parent, char out[SRV_TRACEPARENT_LEN + 1]) {
    /* the same trace and flags; this server's call as the parent span */
    snprintf(out, SRV_TRACEPARENT_LEN + 1, "00-%.32s-%016llx-%.2s", parent + 3,
             (unsigned long long)span_id(), parent + 53);
}

/* ---- rendering ----------------------------------------------------------------- */

static int by_total_desc(const void *a, const void *b) {
    uint64_t x = ((const srv_timeline *)a)->total_ns, y = ((const srv_timeline *)b)->total_ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int by_start_desc(const void *a, const void *b) {
    uint64_t x = ((const srv_timeline *)a)->t0_ns, y = ((const srv_timeline *)b)->t0_ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The request as JSON: times in microseconds from its start. */
static void put_json(srv_text *o, const srv_timeline *t) {
    srv_text_put(o, "{\"id\":");
    srv_text_json(o, t->id);
    srv_text_put(o, ",\"method\":");
    srv_text_json(o, t->method);
    srv_text_put(o, ",\"path\":");
    srv_text_json(o, t->path);
    srv_text_put(o, ",\"status\":%d,\"duration_us\":%.1f", t->status, (double)t->total_ns / 1e3);
    if (t->trace_id[0]) {
        srv_text_put(o, ",\"trace_id\":");
        srv_text_json(o, t->trace_id);
    }
    srv_text_put(o, ",\"spans_dropped\":%u,\"spans\":[", t->dropped);
    for (uint32_t i = 0; i < t->nspans; i++) {
        const srv_span *s = &t->spans[i];
        srv_text_put(o, "%s{\"name\":", i ? "," : "");
        srv_text_json(o, s->name);
        srv_text_put(o, ",\"cat\":");
        srv_text_json(o, s->cat);
        srv_text_put(o, ",\"start_us\":%.1f,\"duration_us\":%.1f,\"result\":%lld",
                     (double)(s->start_ns - t->t0_ns) / 1e3, (double)s->ns / 1e3,
                     (long long)s->result);
        if (s->trap) {
            srv_text_put(o, ",\"trap\":");
            srv_text_json(o, wasm_trap_message((wasm_trap_code)s->trap));
        }
        srv_text_put(o, "}");
    }
    srv_text_put(o, "]}");
}

/* The request as Chrome trace events: one track (tid) per request, its
 * spans as complete events ("X") at their offsets from the first
 * request's start, in microseconds. */
static void put_chrome(srv_text *o, const srv_timeline *t, int tid, uint64_t base, bool first) {
    srv_text_put(o,
                 "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":"
                 "{\"name\":",
                 first ? "" : ",", tid);
    char label[200];
    snprintf(label, sizeof label, "%s %s %s (%d)", t->id, t->method, t->path, t->status);
    srv_text_json(o, label);
    srv_text_put(o, "}}");
    for (uint32_t i = 0; i < t->nspans; i++) {
        const srv_span *s = &t->spans[i];
        srv_text_put(o, ",\n{\"name\":");
        srv_text_json(o, s->name);
        srv_text_put(o, ",\"cat\":");
        srv_text_json(o, s->cat);
        srv_text_put(o,
                     ",\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"args\":"
                     "{\"result\":%lld}}",
                     tid, (double)(s->start_ns - base) / 1e3, (double)s->ns / 1e3,
                     (long long)s->result);
    }
}

char *srv_traces_render(srv_stats *const *ws, int nw, const char *app, bool slowest, unsigned count,
                        bool chrome, size_t *len) {
    srv_timeline *all = malloc((size_t)(nw > 0 ? nw : 1) * (LATEST + SLOWEST) * sizeof *all);
    if (!all) return NULL;
    size_t n = 0;
    for (int w = 0; w < nw; w++) {
        struct srv_app_traces *tr =
            __atomic_load_n(&srv_stats_app(ws[w], app)->traces, __ATOMIC_ACQUIRE);
        if (!tr) continue;
        pthread_mutex_lock(&tr->lock);
        if (slowest) {
            memcpy(all + n, tr->slow, tr->nslow * sizeof *all);
            n += tr->nslow;
        } else {
            memcpy(all + n, tr->latest, tr->nlatest * sizeof *all);
            n += tr->nlatest;
        }
        pthread_mutex_unlock(&tr->lock);
    }
    qsort(all, n, sizeof *all, slowest ? by_total_desc : by_start_desc);
    if (n > count) n = count;
    srv_text o = {0};
    if (chrome) {
        uint64_t base = UINT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (all[i].t0_ns < base) base = all[i].t0_ns;
        srv_text_put(&o, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
        for (size_t i = 0; i < n; i++)
            put_chrome(&o, &all[i], (int)i + 1, base, i == 0);
        srv_text_put(&o, "\n]}\n");
    } else {
        srv_text_put(&o, "{\"app\":");
        srv_text_json(&o, app);
        srv_text_put(&o, ",\"which\":\"%s\",\"requests\":[", slowest ? "slowest" : "latest");
        for (size_t i = 0; i < n; i++) {
            srv_text_put(&o, "%s\n", i ? "," : "");
            put_json(&o, &all[i]);
        }
        srv_text_put(&o, "\n]}\n");
    }
    free(all);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
