/*
 * service.c - the manifest's `pipelines:` under `wasp serve`, beside its
 * apps (docs/design/pipe.md, section 8). The server drives this through
 * srv_companion (server.h): started with the first generation before
 * anything listens, told of each reload, asked for metrics, handed the
 * requests of ingest routes, stopped after the requests have drained.
 *
 * Each pipeline is an entry, found by name, that lives as long as the
 * service, so its counters go on across restarts and reloads. A reload
 * that leaves a pipeline's source, sinks and settings as they were swaps
 * its filters in place (workers move over between batches, nothing is
 * read twice); one that changes them stops the pipeline (what was read is
 * written and acknowledged) and starts it anew. A pipeline that fails (a
 * sink or the source gone) is started again by the supervisor thread,
 * after 1 s, then 2, 4 ... up to 30 s; one whose input ends (a file read
 * through) stays ended.
 *
 * Two locks: `control` serialises what starts and stops pipelines (start,
 * reload, the supervisor, stop), which may wait for batches in flight;
 * `lock` guards the entries' running pipelines for a moment at a time, so
 * an ingest request or /metrics never waits behind a restart.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipe/internal.h"
#include "util/util.h"

#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 30000
/* batches in flight for a pipeline fed over HTTP: each is one request's
 * body, already held by the server (--max-buffered-bodies bounds them) */
#define INGEST_WINDOW 256

typedef struct entry {
    char name[128];
    pipe_counters c;
    pipeline *p;  /* running, or NULL */
    srv_gen *gen; /* whose manifest holds its configuration (a reference) */
    int pi;       /* its index in gen->manifest->pipelines */
    bool present; /* in the current manifest */
    bool ended;   /* its input was read to the end: not started again */
    _Atomic uint64_t restarts;
    uint32_t retry_ms;
    int64_t retry_at; /* ms (monotonic) */
    struct entry *next;
} entry;

struct pipe_service {
    srv_companion co;
    pthread_mutex_t control; /* start, reload, supervise, stop: one at a time */
    pthread_mutex_t lock;    /* entries' `p`, the list */
    pthread_cond_t wake;     /* the supervisor's sleep, cut short by stop */
    entry *entries;
    bool stopping;
    bool sup_started;
    pthread_t sup;
};

static int64_t mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const srv_pipeline_cfg *cfg_of(const entry *e) {
    return &e->gen->manifest->pipelines[e->pi];
}

static bool same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether a reload may keep the running pipeline, swapping its filters:
 * the same source, sinks and settings. */
static bool same_plumbing(const srv_pipeline_cfg *a, const srv_pipeline_cfg *b) {
    return same_str(a->from, b->from) && a->follow == b->follow && same_str(a->to, b->to) &&
           same_str(a->dead_letter, b->dead_letter) && same_str(a->format, b->format) &&
           a->workers == b->workers && a->batch_records == b->batch_records &&
           a->flush_ms == b->flush_ms;
}

/* The filters' indices in g's apps, in chain order (n of them). */
static int *filter_indices(const srv_gen *g, const srv_pipeline_cfg *pl) {
    int *idx = calloc((size_t)pl->nfilters + 1, sizeof *idx);
    for (int k = 0; idx && k < pl->nfilters; k++) {
        int a = 0;
        while (a < g->napps && strcmp(g->apps[a].cfg->name, pl->filters[k]))
            a++;
        if (a == g->napps) { /* the manifest loader checks this */
            free(idx);
            return NULL;
        }
        idx[k] = a;
    }
    return idx;
}

/* Starts entry e's pipeline from its configuration. Under `control`. */
static pipeline *start_one(entry *e, char *err, size_t errlen) {
    const srv_pipeline_cfg *pl = cfg_of(e);
    srv_gen *g = e->gen;
    bool http = !strcmp(pl->from, "http"), stream = pipe_is_redis(pl->from);
    bool ndjson = !strcmp(pl->format, "ndjson");
    uint32_t batch_bytes = 1u << 20;
    int *apps = filter_indices(g, pl);
    if (!apps) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pipe_source *src = NULL;
    if (!http) {
        src = stream ? pipe_redis_source(pl->from, err, errlen)
                     : pipe_file_source(pl->from, ndjson ? PIPE_NDJSON : PIPE_LINES,
                                        batch_bytes + (1u << 16), pl->follow, err, errlen);
        if (!src) {
            free(apps);
            return NULL;
        }
    }
    pipe_spec s = {
        .name = pl->name,
        .to = pl->to,
        .dead_letter = pl->dead_letter,
        .stores = g->manifest->stores,
        .nstores = g->manifest->nstores,
        .workers = pl->workers,
        .batch_records = pl->batch_records,
        .batch_bytes = batch_bytes,
        .flush_ms = pl->flush_ms >= 0 ? pl->flush_ms
                    : http || stream  ? 5000
                                      : 0,
        .window = http ? INGEST_WINDOW : 0,
        /* a stream's entries and an HTTP client's batch are acknowledged
         * once written: on disk first */
        .sync = http || stream,
    };
    pipeline *p = pipe_start(&s, g, apps, pl->nfilters, src, &e->c, err, errlen);
    free(apps);
    return p;
}

static const char *where(const srv_pipeline_cfg *pl, char *buf, size_t n) {
    if (pl->route)
        snprintf(buf, n, "POST %s", pl->route);
    else
        snprintf(buf, n, "%s%s", pl->from, pl->follow ? " (followed)" : "");
    return buf;
}

static void announce(const entry *e) {
    const srv_pipeline_cfg *pl = cfg_of(e);
    char from[600], chain[600] = "";
    size_t used = 0;
    for (int k = 0; k < pl->nfilters && used < sizeof chain - 1; k++)
        used += (size_t)snprintf(chain + used, sizeof chain - used, "%s%s", k ? " | " : "",
                                 pl->filters[k]);
    srv_event("pipeline %s: %s -> %s -> %s (dead letters: %s)", e->name,
              where(pl, from, sizeof from), chain, pl->to,
              strcmp(pl->dead_letter, "-") ? pl->dead_letter : "stderr");
}

/* Puts p as e's running pipeline (NULL: none) and gives the old one back. */
static pipeline *set_running(pipe_service *sv, entry *e, pipeline *p) {
    pthread_mutex_lock(&sv->lock);
    pipeline *old = e->p;
    e->p = p;
    pthread_mutex_unlock(&sv->lock);
    return old;
}

/* Under `control`; the swap under `lock`, for svc_ingest reads the
 * configuration. */
static void set_gen(pipe_service *sv, entry *e, srv_gen *g, int pi) {
    srv_gen_ref(g);
    pthread_mutex_lock(&sv->lock);
    srv_gen *old = e->gen;
    e->gen = g;
    e->pi = pi;
    pthread_mutex_unlock(&sv->lock);
    srv_gen_unref(old);
}

static entry *find(pipe_service *sv, const char *name) {
    for (entry *e = sv->entries; e; e = e->next)
        if (!strcmp(e->name, name)) return e;
    return NULL;
}

/* A new entry for pipeline pi of g, listed. Under `control`. */
static entry *add_entry(pipe_service *sv, srv_gen *g, int pi) {
    entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->name, sizeof e->name, "%s", g->manifest->pipelines[pi].name);
    pipe_counters_init(&e->c);
    srv_gen_ref(g);
    e->gen = g;
    e->pi = pi;
    pthread_mutex_lock(&sv->lock);
    e->next = sv->entries;
    sv->entries = e;
    pthread_mutex_unlock(&sv->lock);
    return e;
}

/* Stops p and waits for it (what was read is written), here rather than
 * in the last pipe_unref, which may be an ingest request's on a serve
 * worker. Not under `lock`. */
static void stop_and_free(pipeline *p) {
    if (!p) return;
    pipe_stop(p);
    pipe_wait(p, -1);
    pipe_unref(p);
}

/* ---- the companion's functions -------------------------------------------- */

static void *supervisor_main(void *arg);

static bool svc_start(void *arg, srv_gen *g, char *err, size_t errlen) {
    pipe_service *sv = arg;
    bool ok = true;
    /* started here, not in pipe_service_new: srv_serve has blocked the
     * signals it waits for by now, and this thread inherits the mask */
    if (!sv->sup_started) {
        if (pthread_create(&sv->sup, NULL, supervisor_main, sv)) {
            snprintf(err, errlen, "cannot start the pipelines' supervisor thread");
            return false;
        }
        sv->sup_started = true;
    }
    pthread_mutex_lock(&sv->control);
    for (int i = 0; ok && i < g->manifest->npipelines; i++) {
        entry *e = add_entry(sv, g, i);
        char why[500];
        pipeline *p = e ? start_one(e, why, sizeof why) : NULL;
        if (!p) {
            snprintf(err, errlen, "pipeline %s (%s:%d): %s", g->manifest->pipelines[i].name,
                     g->manifest->path ? g->manifest->path : "manifest",
                     g->manifest->pipelines[i].line, e ? why : "out of memory");
            ok = false;
            break;
        }
        e->present = true;
        set_running(sv, e, p);
        announce(e);
    }
    pthread_mutex_unlock(&sv->control);
    return ok;
}

static void svc_reload(void *arg, srv_gen *g) {
    pipe_service *sv = arg;
    pthread_mutex_lock(&sv->control);
    for (entry *e = sv->entries; e; e = e->next)
        e->present = false;
    for (int i = 0; i < g->manifest->npipelines; i++) {
        const srv_pipeline_cfg *pl = &g->manifest->pipelines[i];
        entry *e = find(sv, pl->name);
        if (e && !e->p && e->ended && same_plumbing(cfg_of(e), pl)) {
            set_gen(sv, e, g, i); /* its input was read through: not read again */
            e->present = true;
            continue;
        }
        if (e && e->p && same_plumbing(cfg_of(e), pl)) {
            int *apps = filter_indices(g, pl);
            if (apps && pipe_swap(e->p, g, apps, pl->nfilters)) {
                set_gen(sv, e, g, i);
                e->present = true;
                free(apps);
                srv_event("pipeline %s: its filters are the reloaded ones from the next batch",
                          e->name);
                continue;
            }
            free(apps);
        }
        if (!e && !(e = add_entry(sv, g, i))) {
            srv_event("pipeline %s: out of memory; not started", pl->name);
            continue;
        }
        /* changed plumbing (or not running): stopped, then started anew */
        stop_and_free(set_running(sv, e, NULL));
        set_gen(sv, e, g, i);
        e->present = true;
        e->ended = false;
        char why[500];
        pipeline *p = start_one(e, why, sizeof why);
        if (p) {
            set_running(sv, e, p);
            announce(e);
            e->retry_ms = 0;
        } else {
            e->retry_ms = RETRY_FIRST_MS;
            e->retry_at = mono_ms() + e->retry_ms;
            srv_event("pipeline %s: cannot start: %s; trying again in %u ms", e->name, why,
                      e->retry_ms);
        }
    }
    for (entry *e = sv->entries; e; e = e->next) {
        if (e->present || !e->p) continue;
        srv_event("pipeline %s: no longer in the manifest; stopping it", e->name);
        stop_and_free(set_running(sv, e, NULL));
    }
    pthread_mutex_unlock(&sv->control);
}

/* Once every 500 ms: a pipeline that finished is reported; one that
 * failed is started again after its back-off. */
static void supervise(pipe_service *sv) {
    int64_t now = mono_ms();
    for (entry *e = sv->entries; e; e = e->next) {
        char why[600];
        if (e->p && pipe_wait(e->p, 0)) {
            pipeline *p = set_running(sv, e, NULL);
            bool failed = pipe_failed(p, why, sizeof why);
            pipe_unref(p);
            if (!failed) {
                e->ended = true;
                srv_event("pipeline %s: its input is read to the end (%llu records in, %llu "
                          "out, %llu dead letters)",
                          e->name, (unsigned long long)atomic_load(&e->c.in),
                          (unsigned long long)atomic_load(&e->c.out),
                          (unsigned long long)atomic_load(&e->c.dead));
                continue;
            }
            e->retry_ms = e->retry_ms ? e->retry_ms * 2 : RETRY_FIRST_MS;
            if (e->retry_ms > RETRY_MAX_MS) e->retry_ms = RETRY_MAX_MS;
            e->retry_at = now + e->retry_ms;
            srv_event("pipeline %s stopped: %s; starting it again in %u ms", e->name, why,
                      e->retry_ms);
            continue;
        }
        if (e->p || !e->present || e->ended || now < e->retry_at) continue;
        pipeline *p = start_one(e, why, sizeof why);
        if (!p) {
            e->retry_ms = e->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : e->retry_ms * 2;
            if (!e->retry_ms) e->retry_ms = RETRY_FIRST_MS;
            e->retry_at = now + e->retry_ms;
            srv_event("pipeline %s: cannot start: %s; trying again in %u ms", e->name, why,
                      e->retry_ms);
            continue;
        }
        atomic_fetch_add(&e->restarts, 1);
        set_running(sv, e, p);
        srv_event("pipeline %s: started again", e->name);
        /* the back-off is kept until it has run a while: see below */
    }
    /* a pipeline that ran a minute since its restart starts its back-off
     * from the beginning next time */
    for (entry *e = sv->entries; e; e = e->next)
        if (e->p && e->retry_ms && now - e->retry_at > 60000) e->retry_ms = 0;
}

static void *supervisor_main(void *arg) {
    pipe_service *sv = arg;
    pthread_mutex_lock(&sv->lock);
    while (!sv->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sv->wake, &sv->lock, &until);
        if (sv->stopping) break;
        pthread_mutex_unlock(&sv->lock);
        pthread_mutex_lock(&sv->control);
        supervise(sv);
        pthread_mutex_unlock(&sv->control);
        pthread_mutex_lock(&sv->lock);
    }
    pthread_mutex_unlock(&sv->lock);
    return NULL;
}

static void svc_stop(void *arg) {
    pipe_service *sv = arg;
    pthread_mutex_lock(&sv->lock);
    sv->stopping = true;
    pthread_cond_broadcast(&sv->wake);
    pthread_mutex_unlock(&sv->lock);
    if (sv->sup_started) pthread_join(sv->sup, NULL);
    sv->sup_started = false;
    pthread_mutex_lock(&sv->control);
    /* all asked at once, so that they finish side by side */
    for (entry *e = sv->entries; e; e = e->next)
        if (e->p) pipe_stop(e->p);
    for (entry *e = sv->entries; e; e = e->next) {
        pipeline *p = set_running(sv, e, NULL);
        if (!p) continue;
        char why[600];
        pipe_wait(p, -1);
        if (pipe_failed(p, why, sizeof why))
            srv_event("pipeline %s stopped: %s", e->name, why);
        else
            srv_event("pipeline %s stopped: %llu records in, %llu out, %llu dead letters", e->name,
                      (unsigned long long)atomic_load(&e->c.in),
                      (unsigned long long)atomic_load(&e->c.out),
                      (unsigned long long)atomic_load(&e->c.dead));
        pipe_unref(p);
    }
    pthread_mutex_unlock(&sv->control);
}

/* Sets resp's body to s (a JSON object) and its type. */
static void json_body(srv_response *resp, int status, const char *s) {
    size_t n = strlen(s);
    resp->status = status;
    if (n + 1 > resp->own_cap) {
        uint8_t *b = realloc(resp->own, n + 1);
        if (!b) return;
        resp->own = b;
        resp->own_cap = n + 1;
    }
    memcpy(resp->own, s, n);
    resp->own_len = n;
    resp->body = resp->own;
    resp->body_len = n;
    srv_response_add_header(resp, "content-type", 12, "application/json", 16);
}

/* Escapes what a JSON string cannot hold as it is (the reasons are ours,
 * but they quote paths and servers' words). */
static void json_text(char *out, size_t n, const char *s) {
    size_t o = 0;
    for (; *s && o + 7 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

static void svc_ingest(void *arg, const char *name, const srv_request *q, srv_response *resp,
                       srv_result *res) {
    pipe_service *sv = arg;
    char body[800], text[640];
    res->outcome = SRV_OK;
    if (q->method_len != 4 || memcmp(q->method, "POST", 4)) {
        json_body(resp, 405, "{\"error\":\"POST a batch of records, one per line\"}\n");
        srv_response_add_header(resp, "allow", 5, "POST", 4);
        return;
    }
    if (!q->body_len) {
        json_body(resp, 400, "{\"error\":\"the batch is empty: POST records, one per line\"}\n");
        return;
    }
    pthread_mutex_lock(&sv->lock);
    entry *e = find(sv, name);
    pipeline *p = e ? e->p : NULL;
    bool ndjson = p && !strcmp(cfg_of(e)->format, "ndjson");
    if (p) pipe_ref(p);
    pthread_mutex_unlock(&sv->lock);
    if (!p) {
        snprintf(body, sizeof body,
                 "{\"error\":\"pipeline %s is not running; it is started again shortly\"}\n", name);
        json_body(resp, 503, body);
        return;
    }
    pipe_ingest_result r;
    pipe_ingest(p, q->body, q->body_len, ndjson, q->deadline_ms ? (int)q->deadline_ms : 30000, &r);
    pipe_unref(p);
    if (r.status == 202) {
        snprintf(body, sizeof body, "{\"records\":%llu,\"outputs\":%llu,\"dead_letters\":%llu}\n",
                 (unsigned long long)r.records, (unsigned long long)r.outputs,
                 (unsigned long long)r.dead_letters);
    } else {
        json_text(text, sizeof text, r.why);
        snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", text);
    }
    json_body(resp, r.status, body);
}

/* ---- metrics ----------------------------------------------------------------- */

typedef struct counter {
    const char *metric, *type, *help;
    size_t field; /* offset in pipe_counters */
    bool is_signed;
} counter;

static const counter COUNTERS[] = {
    {"wasp_pipeline_records_in_total", "counter",
     "Records read by the pipeline, counted once their batch is written.",
     offsetof(pipe_counters, in), false},
    {"wasp_pipeline_records_out_total", "counter", "Records the last filter emitted, written.",
     offsetof(pipe_counters, out), false},
    {"wasp_pipeline_records_filtered_total", "counter",
     "Records a filter emitted nothing for (a stage's inputs less its outputs and dead\n"
     "# letters, where it emitted fewer than it took).",
     offsetof(pipe_counters, filtered), false},
    {"wasp_pipeline_dead_letters_total", "counter",
     "Records a filter failed on (a trap, the deadline, a non-zero return), written to\n"
     "# the dead-letter sink with the error.",
     offsetof(pipe_counters, dead), false},
    {"wasp_pipeline_batches_total", "counter", "Batches written (flushes included).",
     offsetof(pipe_counters, batches), false},
    {"wasp_pipeline_batches_in_flight", "gauge", "Batches read and not yet written.",
     offsetof(pipe_counters, in_flight), true},
    {"wasp_pipeline_consumer_lag", "gauge",
     "Entries of the source stream not yet delivered to the consumer group (Redis 7).",
     offsetof(pipe_counters, lag), true},
    {"wasp_pipeline_consumer_pending", "gauge",
     "Entries delivered to the consumer group and not yet acknowledged, all consumers.",
     offsetof(pipe_counters, pending), true},
};

static char *svc_metrics(void *arg, size_t *len) {
    pipe_service *sv = arg;
    srv_text t = {0};
    pthread_mutex_lock(&sv->lock);
    for (size_t k = 0; k < sizeof COUNTERS / sizeof *COUNTERS; k++) {
        const counter *c = &COUNTERS[k];
        srv_text_put(&t, "# HELP %s %s\n# TYPE %s %s\n", c->metric, c->help, c->metric, c->type);
        for (entry *e = sv->entries; e; e = e->next) {
            const char *at = (const char *)&e->c + c->field;
            if (c->is_signed) {
                int64_t v = atomic_load_explicit((_Atomic int64_t *)at, memory_order_relaxed);
                if (v >= 0)
                    srv_text_put(&t, "%s{pipeline=\"%s\"} %lld\n", c->metric, e->name,
                                 (long long)v);
            } else {
                uint64_t v = atomic_load_explicit((_Atomic uint64_t *)at, memory_order_relaxed);
                srv_text_put(&t, "%s{pipeline=\"%s\"} %llu\n", c->metric, e->name,
                             (unsigned long long)v);
            }
        }
    }
    srv_text_put(&t,
                 "# HELP wasp_pipeline_up 1 while the pipeline runs; 0 once its input ended, or\n"
                 "# while it waits to be started again after a failure.\n"
                 "# TYPE wasp_pipeline_up gauge\n");
    for (entry *e = sv->entries; e; e = e->next)
        srv_text_put(&t, "wasp_pipeline_up{pipeline=\"%s\"} %d\n", e->name, e->p != NULL);
    srv_text_put(
        &t, "# HELP wasp_pipeline_restarts_total Times the pipeline was started again after it "
            "failed.\n# TYPE wasp_pipeline_restarts_total counter\n");
    for (entry *e = sv->entries; e; e = e->next)
        srv_text_put(&t, "wasp_pipeline_restarts_total{pipeline=\"%s\"} %llu\n", e->name,
                     (unsigned long long)atomic_load(&e->restarts));
    srv_text_put(&t, "# HELP wasp_pipeline_batch_seconds Time from a batch's read to its outputs\n"
                     "# written and its input acknowledged.\n"
                     "# TYPE wasp_pipeline_batch_seconds histogram\n");
    for (entry *e = sv->entries; e && !t.failed; e = e->next) {
        char labels[160];
        snprintf(labels, sizeof labels, "pipeline=\"%s\"", e->name);
        srv_hist_format(&t, "wasp_pipeline_batch_seconds", labels, &e->c.batch);
    }
    pthread_mutex_unlock(&sv->lock);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}

/* ---- the service -------------------------------------------------------------- */

pipe_service *pipe_service_new(void) {
    pipe_service *sv = calloc(1, sizeof *sv);
    if (!sv) return NULL;
    pthread_mutex_init(&sv->control, NULL);
    pthread_mutex_init(&sv->lock, NULL);
    pthread_cond_init(&sv->wake, NULL);
    sv->co = (srv_companion){.arg = sv,
                             .start = svc_start,
                             .reload = svc_reload,
                             .stop = svc_stop,
                             .metrics = svc_metrics,
                             .ingest = svc_ingest};
    return sv;
}

const srv_companion *pipe_service_companion(pipe_service *sv) {
    return &sv->co;
}

void pipe_service_free(pipe_service *sv) {
    if (!sv) return;
    svc_stop(sv);
    for (entry *e = sv->entries, *n; e; e = n) {
        n = e->next;
        srv_gen_unref(e->gen);
        free(e);
    }
    pthread_cond_destroy(&sv->wake);
    pthread_mutex_destroy(&sv->lock);
    pthread_mutex_destroy(&sv->control);
    free(sv);
}
