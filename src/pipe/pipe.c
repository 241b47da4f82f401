/*
 * pipe.c - the pipeline of `wasp pipe` (docs/design/pipe.md, section 3).
 *
 *   calling thread   reads the source (file.c, redis.c) into jobs (a batch
 *                    of records and its sequence number); waits while as
 *                    many jobs as the window allows are in flight, so a
 *                    slow sink slows the source and memory stays bounded
 *   worker x N       takes a job, runs it through each filter in a clean
 *                    instance (its own slot per filter); a failed batch is
 *                    run again record by record, and each record that
 *                    fails again becomes a dead letter
 *   sink thread      writes the jobs' outputs in sequence order and the dead
 *                    letters, then acknowledges the job's input to the
 *                    source (a stream's XACK) and frees the job
 *
 * Jobs move through two lists under one mutex: `todo` (FIFO) and `done`
 * (any order; the sink looks for the next sequence number). Batches are
 * large (1,000 records by default), so the lock is taken a few times per
 * thousand records.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipe/internal.h"
#include "util/util.h"

/* How long a partial batch waits for more input before it goes. */
#define FLUSH_MS 50
/* A filter's output per batch: at most this many times its input, and
 * never more than MAX_OUT_CAP bytes (emit returns -1 to the guest past
 * it). */
#define OUT_FACTOR 16
#define MAX_OUT_CAP (64u << 20)

typedef struct job {
    uint64_t seq;
    bool flush; /* not records: each filter's wasp_filter_flush(now_ms) */
    int64_t now_ms;
    srv_batch in;   /* the records read */
    srv_batch out;  /* what the last filter emitted */
    srv_batch dead; /* dead letters: one JSON line each */
    struct job *next;
} job;

typedef struct pipeline {
    const pipe_options *o;
    srv_gen *gen;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* any change to the lists or the flags below */
    job *todo, *todo_tail, *done;
    uint64_t made, written; /* jobs made by the source, written by the sink */
    uint64_t window;        /* jobs in flight at most */
    bool source_ended;      /* no more jobs will come */
    bool stopping;          /* SIGTERM or SIGINT: read no more, finish what was read */
    bool finished;          /* pipe_run is done: the signal thread ends */
    bool failed;            /* stop: `error` says why */
    char error[512];
    pipe_source *src;
    pipe_sink *out, *dead;
    pipe_stats stats;
} pipeline;

/* Records the first fatal error and wakes everyone. */
__attribute__((format(printf, 2, 3))) static void fail(pipeline *p, const char *fmt, ...) {
    pthread_mutex_lock(&p->lock);
    if (!p->failed) {
        p->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void job_free(job *j) {
    if (!j) return;
    srv_batch_free(&j->in);
    srv_batch_free(&j->out);
    srv_batch_free(&j->dead);
    free(j);
}

/* ---- dead letters ---------------------------------------------------------- */

/* Appends s (n bytes) to b as the inside of a JSON string. */
static void json_str(char **b, size_t *len, size_t *cap, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (*len + 8 > *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            char *q = realloc(*b, nc);
            if (!q) return;
            *b = q;
            *cap = nc;
        }
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            (*b)[(*len)++] = '\\';
            (*b)[(*len)++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            *len += (size_t)snprintf(*b + *len, 8, "\\u%04x", c);
        } else {
            (*b)[(*len)++] = (char)c;
        }
    }
}

/* The dead letter of record r of `in`, which filter `name` failed on:
 * {"filter":..., "error":..., "record":..., "key":...} (strings; the key
 * when the record has one, a stream entry's id; bytes that are not UTF-8
 * go through as they are). */
static bool dead_letter(job *j, const char *name, const char *why, const srv_batch *in,
                        const srv_rec *r) {
    bool keyed = r->key_len != SRV_NO_KEY;
    const char *parts[4] = {"{\"filter\":\"", "\",\"error\":\"", "\",\"record\":\"",
                            "\",\"key\":\""};
    const char *vals[4] = {name, why, (const char *)in->bytes + r->value,
                           (const char *)in->bytes + r->key};
    size_t lens[4] = {strlen(name), strlen(why), r->value_len, keyed ? r->key_len : 0};
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < (keyed ? 4 : 3); i++) {
        size_t pl = strlen(parts[i]);
        char *q = realloc(b, n + pl + 1 > cap ? (cap = n + pl + 256) : cap);
        if (!q) break;
        b = q;
        memcpy(b + n, parts[i], pl);
        n += pl;
        json_str(&b, &n, &cap, vals[i], lens[i]);
    }
    bool ok = b && n + 2 <= cap;
    if (ok) {
        memcpy(b + n, "\"}", 2);
        n += 2;
        ok = srv_batch_add(&j->dead, b, n, NULL, 0, SRV_NO_TS);
    }
    free(b);
    return ok;
}

/* ---- workers ------------------------------------------------------------- */

typedef struct worker {
    pipeline *p;
    srv_slot **slots; /* one per filter */
    srv_batch stage[2], one;
    pthread_t thread;
} worker;

static uint64_t out_cap(const srv_batch *in) {
    uint64_t cap = (uint64_t)in->len * OUT_FACTOR + 65536;
    return cap < MAX_OUT_CAP ? cap : MAX_OUT_CAP;
}

/* Runs `in` through filter f into `out`; a batch that fails runs again
 * record by record, and what fails again is a dead letter. False when the
 * pipeline must stop (no instance, out of memory). */
static bool run_stage(worker *w, int f, job *j, const srv_batch *in, srv_batch *out) {
    srv_slot *s = w->slots[f];
    const char *name = w->p->gen->apps[f].name;
    srv_result res;
    srv_batch_clear(out);
    srv_slot_filter(s, in, out, out_cap(in), &res);
    srv_slot_recycle(s);
    if (res.outcome == SRV_OK) return true;
    if (res.outcome == SRV_INTERNAL) {
        fail(w->p, "filter %s: %s", name, res.msg);
        return false;
    }
    srv_batch_clear(out);
    if (in->n == 1) {
        return dead_letter(j, name, res.msg, in, &in->recs[0]);
    }
    for (size_t i = 0; i < in->n; i++) {
        const srv_rec *r = &in->recs[i];
        srv_batch_clear(&w->one);
        if (!srv_batch_add(&w->one, in->bytes + r->value, r->value_len,
                           r->key_len == SRV_NO_KEY ? NULL : in->bytes + r->key,
                           r->key_len == SRV_NO_KEY ? 0 : r->key_len, r->ts_ms)) {
            fail(w->p, "out of memory");
            return false;
        }
        size_t before_n = out->n, before_len = out->len;
        srv_slot_filter(s, &w->one, out, out_cap(&w->one), &res);
        srv_slot_recycle(s);
        if (res.outcome == SRV_OK) continue;
        if (res.outcome == SRV_INTERNAL) {
            fail(w->p, "filter %s: %s", name, res.msg);
            return false;
        }
        /* what it emitted before it failed does not count */
        out->n = before_n;
        out->len = before_len;
        if (!dead_letter(j, name, res.msg, in, r)) {
            fail(w->p, "out of memory");
            return false;
        }
    }
    return true;
}

static void run_job(worker *w, job *j) {
    const srv_batch *in = &j->in;
    int nf = w->p->gen->napps;
    for (int f = 0; f < nf; f++) {
        srv_batch *out = &w->stage[f % 2];
        if (!run_stage(w, f, j, in, out)) return;
        in = out;
    }
    /* the last stage's output becomes the job's; its buffers the worker's */
    srv_batch t = j->out;
    j->out = w->stage[(nf - 1) % 2];
    w->stage[(nf - 1) % 2] = t;
}

/* A note in the dead letters for a flush that failed (no record). */
static bool flush_failed(job *j, const char *name, const char *why) {
    srv_batch one = {0};
    char msg[300];
    snprintf(msg, sizeof msg, "flush: %s", why);
    bool ok = srv_batch_add(&one, "", 0, NULL, 0, SRV_NO_TS) &&
              dead_letter(j, name, msg, &one, &one.recs[0]);
    srv_batch_free(&one);
    return ok;
}

/* A flush job: each filter's wasp_filter_flush in chain order; what one
 * emits goes through the filters after it, as records do. */
static void run_flush(worker *w, job *j) {
    const srv_gen *g = w->p->gen;
    srv_batch *carry = &j->in; /* empty */
    for (int f = 0; f < g->napps; f++) {
        srv_batch *out = &w->stage[f % 2];
        if (carry->n) {
            if (!run_stage(w, f, j, carry, out)) return;
        } else {
            srv_batch_clear(out);
        }
        if (g->apps[f].flushes) {
            srv_result res;
            srv_slot_flush(w->slots[f], j->now_ms, out, MAX_OUT_CAP, &res);
            srv_slot_recycle(w->slots[f]);
            if (res.outcome == SRV_INTERNAL) {
                fail(w->p, "filter %s: %s", g->apps[f].name, res.msg);
                return;
            }
            if (res.outcome != SRV_OK && !flush_failed(j, g->apps[f].name, res.msg)) {
                fail(w->p, "out of memory");
                return;
            }
        }
        carry = out;
    }
    srv_batch t = j->out;
    j->out = *carry;
    *carry = t;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    pipeline *p = w->p;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->todo && !p->source_ended && !p->failed)
            pthread_cond_wait(&p->changed, &p->lock);
        job *j = p->failed ? NULL : p->todo;
        if (j) {
            p->todo = j->next;
            if (!p->todo) p->todo_tail = NULL;
        }
        /* a flush waits for the batches before it: what they stored is in */
        while (j && j->flush && p->written < j->seq && !p->failed)
            pthread_cond_wait(&p->changed, &p->lock);
        pthread_mutex_unlock(&p->lock);
        if (!j) return NULL;
        if (j->flush)
            run_flush(w, j);
        else
            run_job(w, j);
        pthread_mutex_lock(&p->lock);
        j->next = p->done;
        p->done = j;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
}

/* ---- the sink ------------------------------------------------------------ */

static void *sink_main(void *arg) {
    pipeline *p = arg;
    char why[400];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        job *j = NULL;
        for (;;) {
            job **pp = &p->done;
            while (*pp && (*pp)->seq != p->written)
                pp = &(*pp)->next;
            if (*pp) {
                j = *pp;
                *pp = j->next;
                break;
            }
            if (p->failed || (p->source_ended && p->written == p->made)) break;
            pthread_cond_wait(&p->changed, &p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        if (!j) break;
        /* outputs and dead letters durable first: only then is the input
         * done with (at least once) */
        bool ok = p->out->write(p->out, &j->out, why, sizeof why) &&
                  p->dead->write(p->dead, &j->dead, why, sizeof why) &&
                  (!p->src->ack || p->src->ack(p->src, &j->in, why, sizeof why));
        pthread_mutex_lock(&p->lock);
        if (ok) {
            p->stats.records_in += j->in.n;
            p->stats.records_out += j->out.n;
            p->stats.dead_letters += j->dead.n;
            p->stats.batches++;
        }
        p->written++;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        job_free(j);
        if (!ok) {
            fail(p, "%s", why);
            break;
        }
    }
    return NULL;
}

/* ---- the source ----------------------------------------------------------- */

/* Hands job j to the workers, first waiting while the window is full;
 * false when the pipeline failed meanwhile (j is freed). */
static bool submit(pipeline *p, job *j) {
    pthread_mutex_lock(&p->lock);
    while (!p->failed && p->made - p->written >= p->window)
        pthread_cond_wait(&p->changed, &p->lock);
    bool ok = !p->failed;
    if (ok) {
        j->seq = p->made++;
        if (p->todo_tail)
            p->todo_tail->next = j;
        else
            p->todo = j;
        p->todo_tail = j;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    if (!ok) job_free(j);
    return ok;
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Submits a flush job for `now_ms`: false when the pipeline failed. */
static bool submit_flush(pipeline *p, int64_t now_ms) {
    job *f = calloc(1, sizeof *f);
    if (!f) {
        fail(p, "out of memory");
        return false;
    }
    f->flush = true;
    f->now_ms = now_ms;
    return submit(p, f);
}

/* Reads the source into jobs until it ends or the pipeline fails. */
static void read_source(pipeline *p) {
    const pipe_options *o = p->o;
    uint32_t max_recs = o->batch_records ? o->batch_records : 1000;
    size_t max_bytes = o->batch_bytes ? o->batch_bytes : (1u << 20);
    bool flushes = false;
    for (int f = 0; f < p->gen->napps; f++)
        flushes = flushes || p->gen->apps[f].flushes;
    int flush_ms = o->flush_ms >= 0 ? o->flush_ms : pipe_is_redis(o->from) ? 5000 : 0;
    int64_t last_flush = wall_ms();
    char why[400];
    job *j = calloc(1, sizeof *j);
    for (;;) {
        if (!j) {
            fail(p, "out of memory");
            break;
        }
        pthread_mutex_lock(&p->lock);
        bool stop = p->failed || p->stopping;
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            /* what was read goes on to the sink (and is acknowledged) */
            if (j->in.n) {
                submit(p, j); /* takes j, also when it fails */
                j = NULL;
            }
            break;
        }
        /* a partial batch goes when the input pauses; an empty one waits
         * a while at a time, so that a failure elsewhere is seen */
        int n = p->src->read(p->src, &j->in, max_recs - (uint32_t)j->in.n, max_bytes,
                             j->in.n ? FLUSH_MS : 250, why, sizeof why);
        if (n == PIPE_ERR) {
            fail(p, "%s", why);
            break;
        }
        int64_t now = wall_ms();
        bool flush_now = flushes && flush_ms > 0 && now - last_flush >= flush_ms;
        if (j->in.n && (n == PIPE_END || n == 0 || flush_now || j->in.n >= max_recs ||
                        j->in.len >= max_bytes)) {
            if (!submit(p, j)) {
                j = NULL;
                break;
            }
            j = calloc(1, sizeof *j);
        }
        if (flush_now) {
            last_flush = now;
            if (!submit_flush(p, now)) break;
        }
        /* at the end of the input every window closes */
        if (n == PIPE_END) {
            if (flushes) submit_flush(p, INT64_MAX);
            break;
        }
    }
    job_free(j);
    pthread_mutex_lock(&p->lock);
    p->source_ended = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* ---- signals ---------------------------------------------------------------- */

/* SIGTERM and SIGINT are blocked in every thread of the pipeline and
 * taken here: the source stops reading, the batches already read go
 * through and are acknowledged, then pipe_run returns 0. With
 * o->progress, a line on stderr says how far it got, once a second. */
static void *signal_main(void *arg) {
    pipeline *p = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 200 * 1000000};
    uint64_t t0 = (uint64_t)wall_ms(), last_in = 0, last_t = t0;
    for (int n = 1;; n++) {
        int sig = sigtimedwait(&set, NULL, &tick);
        pthread_mutex_lock(&p->lock);
        bool done = p->finished;
        if (sig > 0) {
            p->stopping = true;
            pthread_cond_broadcast(&p->changed);
        }
        pipe_stats s = p->stats;
        pthread_mutex_unlock(&p->lock);
        if (done) return NULL;
        if (p->o->progress && n % 5 == 0) {
            uint64_t now = (uint64_t)wall_ms();
            double rate = now > last_t
                              ? (double)(s.records_in - last_in) * 1000.0 / (double)(now - last_t)
                              : 0;
            fprintf(stderr,
                    "\rwasp pipe: %llu records in, %llu out, %llu dead letters, %.0f records/s, "
                    "%llu s \033[K",
                    (unsigned long long)s.records_in, (unsigned long long)s.records_out,
                    (unsigned long long)s.dead_letters, rate,
                    (unsigned long long)((now - t0) / 1000));
            last_in = s.records_in;
            last_t = now;
        }
    }
}

/* ---- the whole ------------------------------------------------------------ */

/* The sink `spec` names: a stream, a store, an HTTP endpoint, a file or
 * "-" (std_fd). */
static pipe_sink *open_sink(const pipe_options *o, const char *spec, int std_fd, char *err,
                            size_t errlen) {
    return pipe_is_redis(spec)  ? pipe_redis_sink(spec, err, errlen)
           : pipe_is_kv(spec)   ? pipe_kv_sink(spec, o, err, errlen)
           : pipe_is_http(spec) ? pipe_http_sink(spec, err, errlen)
                                : pipe_file_sink(spec, std_fd, err, errlen);
}

/* The stores of o->kv ("NAME=FILE.db" or "NAME=redis://..."), declared
 * in m and granted to each of its filters. */
static bool grant_stores(const pipe_options *o, srv_manifest *m, char *err, size_t errlen) {
    if (!o->nkv) return true;
    m->stores = calloc((size_t)o->nkv, sizeof *m->stores);
    if (!m->stores) goto nomem;
    for (int i = 0; i < o->nkv; i++) {
        const char *eq = strchr(o->kv[i], '=');
        if (!eq || eq == o->kv[i] || !eq[1]) {
            snprintf(err, errlen, "bad --kv \"%s\": want NAME=FILE.db or NAME=redis://HOST[:PORT]",
                     o->kv[i]);
            return false;
        }
        srv_store_cfg *c = &m->stores[m->nstores++];
        c->name = strndup(o->kv[i], (size_t)(eq - o->kv[i]));
        c->backend = pipe_is_redis(eq + 1) ? SRV_STORE_REDIS : SRV_STORE_SQLITE;
        if (c->backend == SRV_STORE_REDIS)
            c->url = strdup(eq + 1);
        else
            c->path = strdup(eq + 1);
        if (!c->name || (!c->url && !c->path)) goto nomem;
    }
    for (int a = 0; a < m->napps; a++) {
        srv_app_cfg *app = &m->apps[a];
        app->kv = calloc((size_t)o->nkv, sizeof *app->kv);
        if (!app->kv) goto nomem;
        for (int i = 0; i < o->nkv; i++) {
            app->kv[i] = strdup(m->stores[i].name);
            if (!app->kv[i]) goto nomem;
            app->nkv = i + 1;
        }
    }
    return true;
nomem:
    snprintf(err, errlen, "out of memory");
    return false;
}

/* o->vars ("NAME=VALUE") and, when given, the CSV header as csv_header,
 * granted to every filter of m. */
static bool grant_vars(const pipe_options *o, const char *csv_header, srv_manifest *m, char *err,
                       size_t errlen) {
    int n = o->nvars + (csv_header != NULL);
    for (int a = 0; n && a < m->napps; a++) {
        srv_app_cfg *app = &m->apps[a];
        app->vars = calloc((size_t)n, sizeof *app->vars);
        if (!app->vars) goto nomem;
        for (int i = 0; i < n; i++) {
            const char *spec = i < o->nvars ? o->vars[i] : NULL;
            const char *eq = spec ? strchr(spec, '=') : NULL;
            if (spec && (!eq || eq == spec)) {
                snprintf(err, errlen, "bad --var \"%s\": want NAME=VALUE", spec);
                return false;
            }
            srv_var_cfg *v = &app->vars[app->nvars++];
            v->kind = SRV_VAR_LITERAL;
            v->name = spec ? strndup(spec, (size_t)(eq - spec)) : strdup("csv_header");
            v->value = strdup(spec ? eq + 1 : csv_header);
            if (!v->name || !v->value) goto nomem;
        }
    }
    return true;
nomem:
    snprintf(err, errlen, "out of memory");
    return false;
}

static int run(const pipe_options *o, pipe_stats *st, char *err, size_t errlen) {
    unsigned libs = o->nkv ? UTIL_LIB_SQLITE | UTIL_LIB_HIREDIS : 0;
    if (pipe_is_redis(o->from) || pipe_is_redis(o->to) || pipe_is_redis(o->dead_letter))
        libs |= UTIL_LIB_HIREDIS;
    if (pipe_is_http(o->to) || pipe_is_http(o->dead_letter)) libs |= UTIL_LIB_CURL;
    if (libs) {
        if (!util_dynlib_load(libs, err, errlen)) return -1;
        /* hiredis writes with write(2): a server gone must not kill us */
        signal(SIGPIPE, SIG_IGN);
    }
    /* CSV: the header is read first, for the filters' init to see it */
    pipe_source *csv = NULL;
    char *header = NULL;
    if (o->format == PIPE_CSV) {
        size_t max_line = (o->batch_bytes ? o->batch_bytes : (1u << 20)) + (1u << 16);
        csv = pipe_is_redis(o->from)
                  ? NULL
                  : pipe_file_source(o->from, PIPE_LINES, max_line, o->follow, err, errlen);
        srv_batch h = {0};
        int got = csv ? csv->read(csv, &h, 1, max_line, -1, err, errlen) : PIPE_ERR;
        if (!csv && pipe_is_redis(o->from))
            snprintf(err, errlen, "--format csv reads files and stdin, not streams");
        else if (got == PIPE_END)
            snprintf(err, errlen, "%s: no CSV header: the input is empty", o->from);
        if (got > 0) header = strndup((const char *)h.bytes, h.recs[0].value_len);
        srv_batch_free(&h);
        if (!header) {
            if (got > 0) snprintf(err, errlen, "out of memory");
            if (csv) csv->close(csv);
            return -1;
        }
    }
    srv_manifest *m = srv_manifest_filters(o->filters, o->nfilters, err, errlen);
    if (!m || !grant_stores(o, m, err, errlen) || !grant_vars(o, header, m, err, errlen)) {
        srv_manifest_free(m);
        free(header);
        if (csv) csv->close(csv);
        return -1;
    }
    free(header);
    for (int i = 0; i < m->napps; i++) {
        srv_app_cfg *a = &m->apps[i];
        if (o->deadline_ms) a->deadline_ms = o->deadline_ms;
        if (o->max_memory_pages) a->max_memory_pages = o->max_memory_pages;
        a->fuel = o->fuel;
    }
    m->tier = o->tier;
    m->cache_dir = o->cache_dir;
    /* every filter loads, and its init runs, before the source is opened */
    srv_gen *gen = srv_gen_load(m, 1, err, errlen);
    if (!gen) {
        if (csv) csv->close(csv);
        return -1;
    }
    pipeline p = {.o = o, .gen = gen};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    int nworkers = o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1) nworkers = 1;
    p.window = 2 * (uint64_t)nworkers + 2;
    worker *ws = calloc((size_t)nworkers, sizeof *ws);
    int started = 0, rc = -1;
    bool sink_started = false;
    pthread_t sink;
    if (!ws) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < nworkers; i++) {
        ws[i].p = &p;
        ws[i].slots = calloc((size_t)gen->napps, sizeof *ws[i].slots);
        if (!ws[i].slots) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        for (int f = 0; f < gen->napps; f++) {
            char why[300];
            ws[i].slots[f] = srv_slot_new(&gen->apps[f], why, sizeof why);
            if (!ws[i].slots[f]) {
                snprintf(err, errlen, "filter %s: %s", gen->apps[f].name, why);
                goto out;
            }
        }
    }
    p.out = open_sink(o, o->to, STDOUT_FILENO, err, errlen);
    if (!p.out) goto out;
    p.dead = open_sink(o, o->dead_letter, STDERR_FILENO, err, errlen);
    if (!p.dead) goto out;
    size_t max_line = (o->batch_bytes ? o->batch_bytes : (1u << 20)) + (1u << 16);
    p.src = csv ? csv
            : pipe_is_redis(o->from)
                ? pipe_redis_source(o->from, err, errlen)
                : pipe_file_source(o->from, o->format, max_line, o->follow, err, errlen);
    csv = NULL; /* the pipeline's now */
    if (!p.src) goto out;
    pthread_t sigt;
    bool sig_started = pthread_create(&sigt, NULL, signal_main, &p) == 0;
    for (; started < nworkers; started++)
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0) break;
    sink_started = started > 0 && pthread_create(&sink, NULL, sink_main, &p) == 0;
    if (!sink_started)
        fail(&p, "cannot start the pipeline's threads");
    else
        read_source(&p);
    pthread_mutex_lock(&p.lock);
    p.source_ended = true;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    if (sink_started) pthread_join(sink, NULL);
    pthread_mutex_lock(&p.lock);
    p.finished = true;
    pthread_mutex_unlock(&p.lock);
    if (sig_started) pthread_join(sigt, NULL);
    *st = p.stats;
    st->stopped = p.stopping;
    if (p.failed)
        snprintf(err, errlen, "%s", p.error);
    else
        rc = 0;
out:
    if (csv) csv->close(csv);
    if (p.src) p.src->close(p.src);
    if (p.out) p.out->close(p.out);
    if (p.dead) p.dead->close(p.dead);
    for (int i = 0; ws && i < nworkers; i++) {
        for (int f = 0; ws[i].slots && f < gen->napps; f++)
            srv_slot_free(ws[i].slots[f]);
        free(ws[i].slots);
        srv_batch_free(&ws[i].stage[0]);
        srv_batch_free(&ws[i].stage[1]);
        srv_batch_free(&ws[i].one);
    }
    free(ws);
    for (job *j = p.todo, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    for (job *j = p.done, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    srv_gen_unref(gen);
    return rc;
}

int pipe_run(const pipe_options *o, pipe_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    /* blocked before any thread exists (the engine's ticker, a background
     * compile, the pipeline's own): they inherit the mask, and only the
     * signal thread takes the signals */
    sigset_t stops, old_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
    int rc = run(o, st, err, errlen);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}
