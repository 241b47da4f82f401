/*
 * pipe.c - a pipeline (docs/design/pipe.md, section 3), for `wasp pipe`
 * (run.c) and `wasp serve` (service.c).
 *
 *   source thread    reads the source (file.c, redis.c) into jobs (a batch
 *                    of records and its sequence number); waits while as
 *                    many jobs as the window allows are in flight, so a
 *                    slow sink slows the source and memory stays bounded.
 *                    Without a source (HTTP ingest), it only flushes.
 *   pipe_ingest      an HTTP request's batch, made a job on the caller's
 *                    thread; the caller waits for it to be written
 *   worker x N       takes a job, runs it through each filter in a clean
 *                    instance (its own slot per filter); a failed batch is
 *                    run again record by record, and each record that
 *                    fails again becomes a dead letter
 *   sink thread      writes the jobs' outputs in sequence order and the dead
 *                    letters, then acknowledges the job's input to the
 *                    source (a stream's XACK) or to its HTTP client, and
 *                    frees the job
 *
 * Jobs move through two lists under one mutex: `todo` (FIFO) and `done`
 * (any order; the sink looks for the next sequence number). Batches are
 * large (1,000 records by default), so the lock is taken a few times per
 * thousand records. The filters are a `chain` of a generation's apps; a
 * reload swaps it, and each worker moves over between jobs.
 */
#include <pthread.h>
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
    uint64_t t0;       /* when it was read (srv_now_ns) */
    uint64_t filtered; /* records a stage emitted nothing for */
    srv_batch in;      /* the records read */
    srv_batch out;     /* what the last filter emitted */
    srv_batch dead;    /* dead letters: one JSON line each */
    struct job *next;
} job;

/* The filters a pipeline runs: apps of one generation, in chain order. */
typedef struct chain {
    srv_gen *gen; /* a reference */
    int *apps;
    int n;
    atomic_int refs;
} chain;

/* An HTTP client waiting for its batch (pipe_ingest): on its stack, in
 * the pipeline's list while it waits. */
typedef struct ticket {
    uint64_t seq;
    util_waiter w;
    bool done, ok;
    uint64_t outputs, dead;
    char why[300];
    struct ticket *next;
} ticket;

typedef struct worker worker;

struct pipeline {
    char name[128];
    uint32_t max_recs;
    size_t max_bytes;
    int flush_ms;
    bool flushes; /* a filter of the first chain exports wasp_filter_flush */
    pthread_mutex_t lock;
    pthread_cond_t changed; /* any change to the lists or the flags below */
    job *todo, *todo_tail, *done;
    uint64_t made, written; /* jobs made (source, ingest), written by the sink */
    uint64_t window;        /* jobs in flight at most */
    bool source_ended;      /* no more jobs will come */
    bool stopping;          /* pipe_stop: read no more, finish what was read */
    bool failed;            /* stop: `error` says why */
    int alive;              /* threads not yet ended */
    char error[512];
    chain *chain; /* what workers take jobs through */
    ticket *tickets;
    pipe_source *src;
    pipe_sink *out, *dead;
    pipe_counters *c;
    worker *ws;
    int nworkers, started;
    pthread_t source_thread, sink_thread;
    bool source_started, sink_started;
    atomic_int refs;
};

static void chain_unref(chain *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    srv_gen_unref(c->gen);
    free(c->apps);
    free(c);
}

static chain *chain_new(srv_gen *g, const int *apps, int n) {
    chain *c = calloc(1, sizeof *c);
    if (!c || !(c->apps = malloc((size_t)(n > 0 ? n : 1) * sizeof *c->apps))) {
        free(c);
        return NULL;
    }
    memcpy(c->apps, apps, (size_t)n * sizeof *apps);
    c->n = n;
    srv_gen_ref(g);
    c->gen = g;
    atomic_init(&c->refs, 1);
    return c;
}

/* Wakes every waiting HTTP client with the pipeline's failure. Under the
 * lock. */
static void fail_tickets(pipeline *p) {
    for (ticket *t = p->tickets, *n; t; t = n) {
        n = t->next;
        t->done = true;
        t->ok = false;
        snprintf(t->why, sizeof t->why, "%.299s", p->error);
        util_waiter_wake(&t->w);
    }
    p->tickets = NULL;
}

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
    fail_tickets(p);
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* A thread of the pipeline ends. */
static void thread_end(pipeline *p) {
    pthread_mutex_lock(&p->lock);
    p->alive--;
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

struct worker {
    pipeline *p;
    chain *chain;     /* the chain its slots are for */
    srv_slot **slots; /* one per filter of it */
    srv_batch stage[2], one;
    pthread_t thread;
};

static uint64_t out_cap(const srv_batch *in) {
    uint64_t cap = (uint64_t)in->len * OUT_FACTOR + 65536;
    return cap < MAX_OUT_CAP ? cap : MAX_OUT_CAP;
}

static const srv_app *filter_app(const worker *w, int f) {
    return &w->chain->gen->apps[w->chain->apps[f]];
}

static void free_slots(worker *w) {
    for (int f = 0; w->chain && w->slots && f < w->chain->n; f++)
        srv_slot_free(w->slots[f]);
    free(w->slots);
    w->slots = NULL;
    chain_unref(w->chain);
    w->chain = NULL;
}

/* Moves the worker onto chain c (a reference taken): a slot per filter. */
static bool take_chain(worker *w, chain *c) {
    free_slots(w);
    atomic_fetch_add(&c->refs, 1);
    w->chain = c;
    w->slots = calloc((size_t)c->n + 1, sizeof *w->slots);
    if (!w->slots) {
        fail(w->p, "out of memory");
        return false;
    }
    for (int f = 0; f < c->n; f++) {
        char why[300];
        w->slots[f] = srv_slot_new(filter_app(w, f), why, sizeof why);
        if (!w->slots[f]) {
            fail(w->p, "filter %s: %s", filter_app(w, f)->name, why);
            return false;
        }
    }
    return true;
}

/* Runs `in` through filter f into `out`; a batch that fails runs again
 * record by record, and what fails again is a dead letter. False when the
 * pipeline must stop (no instance, out of memory). */
static bool run_stage(worker *w, int f, job *j, const srv_batch *in, srv_batch *out) {
    srv_slot *s = w->slots[f];
    const char *name = filter_app(w, f)->name;
    srv_result res;
    srv_batch_clear(out);
    size_t dead_before = j->dead.n;
    srv_slot_filter(s, in, out, out_cap(in), &res);
    srv_slot_recycle(s);
    if (res.outcome == SRV_INTERNAL) {
        fail(w->p, "filter %s: %s", name, res.msg);
        return false;
    }
    if (res.outcome != SRV_OK) {
        srv_batch_clear(out);
        if (in->n == 1) {
            if (!dead_letter(j, name, res.msg, in, &in->recs[0])) goto nomem;
        } else {
            for (size_t i = 0; i < in->n; i++) {
                const srv_rec *r = &in->recs[i];
                srv_batch_clear(&w->one);
                if (!srv_batch_add(&w->one, in->bytes + r->value, r->value_len,
                                   r->key_len == SRV_NO_KEY ? NULL : in->bytes + r->key,
                                   r->key_len == SRV_NO_KEY ? 0 : r->key_len, r->ts_ms))
                    goto nomem;
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
                if (!dead_letter(j, name, res.msg, in, r)) goto nomem;
            }
        }
    }
    /* filtered: what a stage took and gave nothing back for, where it
     * gave back fewer than it took (exact for filters and maps; a
     * flat-map that multiplies some records and drops others is not) */
    size_t dead = j->dead.n - dead_before;
    if (in->n > out->n + dead) j->filtered += in->n - out->n - dead;
    return true;
nomem:
    fail(w->p, "out of memory");
    return false;
}

static void run_job(worker *w, job *j) {
    const srv_batch *in = &j->in;
    int nf = w->chain->n;
    for (int f = 0; f < nf; f++) {
        srv_batch *out = &w->stage[f % 2];
        if (!run_stage(w, f, j, in, out)) return;
        in = out;
    }
    if (nf == 0) return;
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
    srv_batch *carry = &j->in; /* empty */
    for (int f = 0; f < w->chain->n; f++) {
        const srv_app *app = filter_app(w, f);
        srv_batch *out = &w->stage[f % 2];
        if (carry->n) {
            if (!run_stage(w, f, j, carry, out)) return;
        } else {
            srv_batch_clear(out);
        }
        if (app->flushes) {
            srv_result res;
            srv_slot_flush(w->slots[f], j->now_ms, out, MAX_OUT_CAP, &res);
            srv_slot_recycle(w->slots[f]);
            if (res.outcome == SRV_INTERNAL) {
                fail(w->p, "filter %s: %s", app->name, res.msg);
                return;
            }
            if (res.outcome != SRV_OK && !flush_failed(j, app->name, res.msg)) {
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
        chain *c = j ? p->chain : w->chain;
        if (c != w->chain) atomic_fetch_add(&c->refs, 1); /* held across the unlock */
        pthread_mutex_unlock(&p->lock);
        if (c != w->chain) {
            bool ok = take_chain(w, c); /* a reload: this job runs on the new filters */
            chain_unref(c);
            if (!ok) {
                job_free(j);
                break;
            }
        }
        if (!j) break;
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
    free_slots(w);
    thread_end(p);
    return NULL;
}

/* ---- the sink ------------------------------------------------------------ */

/* Tells the HTTP client waiting for job j (if any) how it went. Under the
 * lock. */
static void answer_ticket(pipeline *p, const job *j, bool ok, const char *why) {
    for (ticket **tp = &p->tickets; *tp; tp = &(*tp)->next) {
        ticket *t = *tp;
        if (t->seq != j->seq) continue;
        *tp = t->next;
        t->done = true;
        t->ok = ok;
        t->outputs = j->out.n;
        t->dead = j->dead.n;
        snprintf(t->why, sizeof t->why, "%.299s", ok ? "" : why);
        util_waiter_wake(&t->w);
        return;
    }
}

static void *sink_main(void *arg) {
    pipeline *p = arg;
    pipe_counters *c = p->c;
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
                  (!p->src || !p->src->ack || p->src->ack(p->src, &j->in, why, sizeof why));
        if (ok) {
            /* the sink thread is these counters' only writer */
            srv_count(&c->in, j->in.n);
            srv_count(&c->out, j->out.n);
            srv_count(&c->dead, j->dead.n);
            srv_count(&c->filtered, j->filtered);
            srv_count(&c->batches, 1);
            if (!j->flush) srv_hist_add(&c->batch, srv_now_ns() - j->t0);
        }
        atomic_fetch_sub_explicit(&c->in_flight, 1, memory_order_relaxed);
        pthread_mutex_lock(&p->lock);
        p->written++;
        answer_ticket(p, j, ok, why);
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        job_free(j);
        if (!ok) {
            fail(p, "%s", why);
            break;
        }
    }
    thread_end(p);
    return NULL;
}

/* ---- the source ----------------------------------------------------------- */

/* Queues job j for the workers. Under the lock, with room in the window. */
static void enqueue(pipeline *p, job *j) {
    j->seq = p->made++;
    j->t0 = srv_now_ns();
    if (p->todo_tail)
        p->todo_tail->next = j;
    else
        p->todo = j;
    p->todo_tail = j;
    atomic_fetch_add_explicit(&p->c->in_flight, 1, memory_order_relaxed);
    pthread_cond_broadcast(&p->changed);
}

/* Hands job j to the workers, first waiting while the window is full;
 * false when the pipeline failed meanwhile (j is freed). */
static bool submit(pipeline *p, job *j) {
    pthread_mutex_lock(&p->lock);
    while (!p->failed && p->made - p->written >= p->window)
        pthread_cond_wait(&p->changed, &p->lock);
    bool ok = !p->failed;
    if (ok) enqueue(p, j);
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

/* How often a stream's lag is asked for. */
#define LAG_EVERY_MS 2000

/* Reads the source into jobs until it ends, the pipeline stops or fails.
 * Without a source (ingest), only flushes every flush_ms. */
static void read_source(pipeline *p) {
    bool flushes = p->flushes;
    int64_t last_flush = wall_ms(), last_lag = 0;
    char why[400];
    job *j = calloc(1, sizeof *j);
    for (;;) {
        if (!j) {
            fail(p, "out of memory");
            break;
        }
        pthread_mutex_lock(&p->lock);
        bool stop = p->failed || p->stopping;
        if (!stop && !p->src) {
            /* ingest: the HTTP clients bring the batches */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&p->changed, &p->lock, &until);
            stop = p->failed || p->stopping;
        }
        pthread_mutex_unlock(&p->lock);
        if (stop) {
            /* what was read goes on to the sink (and is acknowledged) */
            if (j->in.n) {
                submit(p, j); /* takes j, also when it fails */
                j = NULL;
            }
            break;
        }
        int n = 0;
        if (p->src) {
            /* a partial batch goes when the input pauses; an empty one
             * waits a while at a time, so that a stop or failure is seen */
            n = p->src->read(p->src, &j->in, p->max_recs - (uint32_t)j->in.n, p->max_bytes,
                             j->in.n ? FLUSH_MS : 250, why, sizeof why);
            if (n == PIPE_ERR) {
                fail(p, "%s", why);
                break;
            }
        }
        int64_t now = wall_ms();
        if (p->src && p->src->lag && now - last_lag >= LAG_EVERY_MS) {
            int64_t lag = -1, pending = -1;
            last_lag = now;
            if (!p->src->lag(p->src, &lag, &pending)) lag = pending = -1;
            atomic_store_explicit(&p->c->lag, lag, memory_order_relaxed);
            atomic_store_explicit(&p->c->pending, pending, memory_order_relaxed);
        }
        bool flush_now = flushes && p->flush_ms > 0 && now - last_flush >= p->flush_ms;
        if (j->in.n && (n == PIPE_END || n == 0 || flush_now || j->in.n >= p->max_recs ||
                        j->in.len >= p->max_bytes)) {
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

static void *source_main(void *arg) {
    pipeline *p = arg;
    read_source(p);
    thread_end(p);
    return NULL;
}

/* ---- HTTP ingest ------------------------------------------------------------ */

void pipe_ingest(pipeline *p, const uint8_t *body, size_t len, bool ndjson, int timeout_ms,
                 pipe_ingest_result *r) {
    memset(r, 0, sizeof *r);
    job *j = calloc(1, sizeof *j);
    if (!j || !pipe_split_lines(body, len, ndjson, &j->in)) {
        job_free(j);
        r->status = 503;
        snprintf(r->why, sizeof r->why, "out of memory");
        return;
    }
    r->records = j->in.n;
    ticket t = {0};
    util_waiter_init(&t.w);
    pthread_mutex_lock(&p->lock);
    if (p->failed || p->stopping || p->source_ended) {
        snprintf(r->why, sizeof r->why, "pipeline %s is %s", p->name,
                 p->failed ? "down (its sink failed); it restarts shortly" : "stopping");
    } else if (p->made - p->written >= p->window) {
        snprintf(r->why, sizeof r->why, "pipeline %s has %llu batches in flight, its most", p->name,
                 (unsigned long long)p->window);
    } else {
        enqueue(p, j);
        t.seq = j->seq;
        t.next = p->tickets;
        /* on this stack only while listed: unlisted below, under the
         * lock, before this function returns */
        /* cppcheck-suppress autoVariables */
        p->tickets = &t;
        j = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    if (j) {
        job_free(j);
        util_waiter_done(&t.w);
        r->status = 503;
        return;
    }
    util_waiter_wait(&t.w, timeout_ms);
    pthread_mutex_lock(&p->lock);
    if (!t.done) /* not in time, or the request is cancelled: no more waiting */
        for (ticket **tp = &p->tickets; *tp; tp = &(*tp)->next)
            if (*tp == &t) {
                *tp = t.next;
                break;
            }
    pthread_mutex_unlock(&p->lock);
    util_waiter_done(&t.w);
    if (!t.done) {
        r->status = 504;
        snprintf(r->why, sizeof r->why,
                 "the batch was not written within %d ms; it may still be (sending it again "
                 "may write it twice)",
                 timeout_ms);
    } else if (!t.ok) {
        r->status = 503;
        snprintf(r->why, sizeof r->why, "the batch was not written: %.260s", t.why);
    } else {
        r->status = 202;
        r->outputs = t.outputs;
        r->dead_letters = t.dead;
    }
}

/* ---- the whole ------------------------------------------------------------ */

void pipe_counters_init(pipe_counters *c) {
    memset(c, 0, sizeof *c);
    atomic_store(&c->lag, -1);
    atomic_store(&c->pending, -1);
}

/* The sink `spec` names: a stream, a store, an HTTP endpoint, a file or
 * "-" (std_fd). */
static pipe_sink *open_sink(const pipe_spec *s, const char *spec, int std_fd, char *err,
                            size_t errlen) {
    return pipe_is_redis(spec)  ? pipe_redis_sink(spec, err, errlen)
           : pipe_is_kv(spec)   ? pipe_kv_sink(spec, s->stores, s->nstores, err, errlen)
           : pipe_is_http(spec) ? pipe_http_sink(spec, err, errlen)
                                : pipe_file_sink(spec, std_fd, s->sync, err, errlen);
}

static void pipe_free(pipeline *p) {
    pipe_stop(p);
    pipe_wait(p, -1);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->ws[i].thread, NULL);
    if (p->sink_started) pthread_join(p->sink_thread, NULL);
    if (p->source_started) pthread_join(p->source_thread, NULL);
    if (p->src) p->src->close(p->src);
    if (p->out) p->out->close(p->out);
    if (p->dead) p->dead->close(p->dead);
    for (int i = 0; p->ws && i < p->nworkers; i++) {
        free_slots(&p->ws[i]);
        srv_batch_free(&p->ws[i].stage[0]);
        srv_batch_free(&p->ws[i].stage[1]);
        srv_batch_free(&p->ws[i].one);
    }
    free(p->ws);
    for (job *j = p->todo, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    for (job *j = p->done, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    chain_unref(p->chain);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

pipeline *pipe_start(const pipe_spec *s, srv_gen *g, const int *apps, int napps, pipe_source *src,
                     pipe_counters *c, char *err, size_t errlen) {
    pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        if (src) src->close(src);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(p->name, sizeof p->name, "%s", s->name ? s->name : "pipe");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    atomic_init(&p->refs, 1);
    p->src = src;
    p->c = c;
    p->max_recs = s->batch_records ? s->batch_records : 1000;
    p->max_bytes = s->batch_bytes ? s->batch_bytes : (1u << 20);
    p->flush_ms = s->flush_ms;
    for (int f = 0; f < napps; f++)
        p->flushes = p->flushes || g->apps[apps[f]].flushes;
    int nworkers = s->workers > 0 ? s->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1) nworkers = 1;
    p->nworkers = nworkers;
    p->window = s->window ? s->window : 2 * (uint64_t)nworkers + 2;
    p->chain = chain_new(g, apps, napps);
    p->ws = calloc((size_t)nworkers, sizeof *p->ws);
    if (!p->chain || !p->ws) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* every worker's instances are made now: a filter that cannot be
     * instantiated stops the pipeline before anything is read */
    for (int i = 0; i < nworkers; i++) {
        p->ws[i].p = p;
        if (!take_chain(&p->ws[i], p->chain)) {
            snprintf(err, errlen, "%s", p->error);
            goto fail;
        }
    }
    if (!(p->out = open_sink(s, s->to ? s->to : "-", STDOUT_FILENO, err, errlen))) goto fail;
    if (!(p->dead =
              open_sink(s, s->dead_letter ? s->dead_letter : "-", STDERR_FILENO, err, errlen)))
        goto fail;
    pthread_mutex_lock(&p->lock);
    for (; p->started < nworkers; p->started++) {
        if (pthread_create(&p->ws[p->started].thread, NULL, worker_main, &p->ws[p->started])) break;
        p->alive++;
    }
    p->sink_started = p->started > 0 && pthread_create(&p->sink_thread, NULL, sink_main, p) == 0;
    p->alive += p->sink_started;
    p->source_started =
        p->sink_started && pthread_create(&p->source_thread, NULL, source_main, p) == 0;
    p->alive += p->source_started;
    pthread_mutex_unlock(&p->lock);
    if (!p->source_started) {
        snprintf(err, errlen, "cannot start the pipeline's threads");
        goto fail;
    }
    return p;
fail:
    if (!p->failed) fail(p, "%s", err);
    pthread_mutex_lock(&p->lock);
    p->source_ended = true; /* the threads started end */
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    pipe_free(p);
    return NULL;
}

void pipe_stop(pipeline *p) {
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

bool pipe_wait(pipeline *p, int timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    if (timeout_ms > 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&p->lock);
    while (p->alive > 0 && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&p->changed, &p->lock);
        else if (pthread_cond_timedwait(&p->changed, &p->lock, &until))
            break;
    }
    bool done = p->alive == 0;
    pthread_mutex_unlock(&p->lock);
    return done;
}

bool pipe_failed(pipeline *p, char *err, size_t errlen) {
    pthread_mutex_lock(&p->lock);
    bool failed = p->failed;
    if (failed) snprintf(err, errlen, "%s", p->error);
    pthread_mutex_unlock(&p->lock);
    return failed;
}

bool pipe_was_stopped(pipeline *p) {
    pthread_mutex_lock(&p->lock);
    bool stopped = p->stopping;
    pthread_mutex_unlock(&p->lock);
    return stopped;
}

bool pipe_swap(pipeline *p, srv_gen *g, const int *apps, int napps) {
    chain *c = chain_new(g, apps, napps);
    if (!c) return false;
    pthread_mutex_lock(&p->lock);
    chain *old = p->chain;
    p->chain = c;
    pthread_mutex_unlock(&p->lock);
    chain_unref(old);
    return true;
}

void pipe_ref(pipeline *p) {
    atomic_fetch_add(&p->refs, 1);
}

void pipe_unref(pipeline *p) {
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) pipe_free(p);
}
