/*
 * pipe.c - the pipeline of `wasp pipe` (docs/design/pipe.md, section 3).
 *
 *   calling thread   reads the source and cuts it into jobs (a batch of
 *                    records and its sequence number); waits while as many
 *                    jobs as the window allows are in flight, so a slow
 *                    sink slows the source and memory stays bounded
 *   worker x N       takes a job, runs it through each filter in a clean
 *                    instance (its own slot per filter); a failed batch is
 *                    run again record by record, and each record that
 *                    fails again becomes a dead letter
 *   sink thread      writes the jobs' outputs in sequence order, the dead
 *                    letters beside them, then frees the job
 *
 * Jobs move through two lists under one mutex: `todo` (FIFO) and `done`
 * (any order; the sink looks for the next sequence number). Batches are
 * large (1,000 records by default), so the lock is taken a few times per
 * thousand records.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipe/pipe.h"
#include "server/internal.h"

/* How long a partial batch waits for more input before it goes. */
#define FLUSH_MS 50
/* A filter's output per batch: at most this many times its input, and
 * never more than MAX_OUT_CAP bytes (emit returns -1 to the guest past
 * it). */
#define OUT_FACTOR 16
#define MAX_OUT_CAP (64u << 20)

typedef struct job {
    uint64_t seq;
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
    bool failed;            /* stop: `error` says why */
    char error[512];
    int out_fd, dead_fd;
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

/* The dead letter of a record that filter `name` failed on:
 * {"filter":..., "error":..., "record":...} (the record as a JSON string;
 * bytes that are not UTF-8 go through as they are). */
static bool dead_letter(job *j, const char *name, const char *why, const uint8_t *rec, size_t len) {
    char *b = NULL;
    size_t n = 0, cap = 0;
    const char *parts[3] = {"{\"filter\":\"", "\",\"error\":\"", "\",\"record\":\""};
    const char *vals[3] = {name, why, (const char *)rec};
    size_t lens[3] = {strlen(name), strlen(why), len};
    for (int i = 0; i < 3; i++) {
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
        const srv_rec *r = &in->recs[0];
        return dead_letter(j, name, res.msg, in->bytes + r->value, r->value_len);
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
        if (!dead_letter(j, name, res.msg, in->bytes + r->value, r->value_len)) {
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
        pthread_mutex_unlock(&p->lock);
        if (!j) return NULL;
        run_job(w, j);
        pthread_mutex_lock(&p->lock);
        j->next = p->done;
        p->done = j;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
    }
}

/* ---- the sink ------------------------------------------------------------ */

static bool write_all(int fd, const uint8_t *b, size_t n) {
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

/* Writes each record of b followed by a newline, through buf. */
static bool write_records(int fd, const srv_batch *b, uint8_t **buf, size_t *cap) {
    size_t need = b->len + b->n;
    if (need > *cap) {
        uint8_t *q = realloc(*buf, need);
        if (!q) return false;
        *buf = q;
        *cap = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        memcpy(*buf + n, b->bytes + b->recs[i].value, b->recs[i].value_len);
        n += b->recs[i].value_len;
        (*buf)[n++] = '\n';
    }
    return write_all(fd, *buf, n);
}

static void *sink_main(void *arg) {
    pipeline *p = arg;
    uint8_t *buf = NULL;
    size_t cap = 0;
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
        bool ok = write_records(p->out_fd, &j->out, &buf, &cap) &&
                  write_records(p->dead_fd, &j->dead, &buf, &cap);
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
            fail(p, "cannot write to the sink: %s", strerror(errno));
            break;
        }
    }
    free(buf);
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

static bool blank(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* Reads fd to its end, cutting lines into jobs. */
static void read_source(pipeline *p, int fd) {
    const pipe_options *o = p->o;
    uint32_t max_recs = o->batch_records ? o->batch_records : 1000;
    uint32_t max_bytes = o->batch_bytes ? o->batch_bytes : (1u << 20);
    size_t cap = 1u << 16, have = 0;
    uint8_t *buf = malloc(cap);
    job *j = calloc(1, sizeof *j);
    bool eof = false;
    if (!buf || !j) {
        fail(p, "out of memory");
        goto done;
    }
    while (!eof) {
        /* a partial batch goes when the input pauses */
        if (j->in.n) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (poll(&pf, 1, FLUSH_MS) == 0) {
                if (!submit(p, j)) goto done_nojob;
                j = calloc(1, sizeof *j);
                if (!j) {
                    fail(p, "out of memory");
                    goto done;
                }
                continue;
            }
        }
        if (have == cap) {
            /* a line longer than the buffer: the buffer grows, up to a batch */
            if (cap >= max_bytes + (size_t)(1u << 16)) {
                fail(p, "a line of the input is longer than the batch size (%u bytes)", max_bytes);
                goto done;
            }
            uint8_t *q = realloc(buf, cap * 2);
            if (!q) {
                fail(p, "out of memory");
                goto done;
            }
            buf = q;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + have, cap - have);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            fail(p, "cannot read the source: %s", strerror(errno));
            goto done;
        }
        if (k == 0) {
            eof = true;
            if (have) buf[have++] = '\n'; /* a last line without its newline */
        }
        have += (size_t)(k > 0 ? k : 0);
        size_t start = 0;
        for (;;) {
            uint8_t *nl = memchr(buf + start, '\n', have - start);
            if (!nl) break;
            size_t len = (size_t)(nl - (buf + start));
            if (!(o->format == PIPE_NDJSON && blank(buf + start, len)) &&
                !srv_batch_add(&j->in, buf + start, len, NULL, 0, SRV_NO_TS)) {
                fail(p, "out of memory");
                goto done;
            }
            start += len + 1;
            if (j->in.n >= max_recs || j->in.len >= max_bytes) {
                if (!submit(p, j)) goto done_nojob;
                j = calloc(1, sizeof *j);
                if (!j) {
                    fail(p, "out of memory");
                    goto done;
                }
            }
        }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    if (j->in.n) {
        submit(p, j);
        j = NULL;
    }
done:
    job_free(j);
done_nojob:
    free(buf);
    pthread_mutex_lock(&p->lock);
    p->source_ended = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the whole ------------------------------------------------------------ */

static int open_sink(const char *path, int std_fd, char *err, size_t errlen) {
    if (!path || !strcmp(path, "-")) return std_fd;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return fd;
}

int pipe_run(const pipe_options *o, pipe_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    srv_manifest *m = srv_manifest_filters(o->filters, o->nfilters, err, errlen);
    if (!m) return -1;
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
    if (!gen) return -1;
    pipeline p = {.o = o, .gen = gen, .out_fd = -1, .dead_fd = -1};
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    int nworkers = o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nworkers < 1) nworkers = 1;
    p.window = 2 * (uint64_t)nworkers + 2;
    worker *ws = calloc((size_t)nworkers, sizeof *ws);
    int in_fd = -1, started = 0, rc = -1;
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
    p.out_fd = open_sink(o->to, STDOUT_FILENO, err, errlen);
    if (p.out_fd < 0) goto out;
    p.dead_fd = open_sink(o->dead_letter, STDERR_FILENO, err, errlen);
    if (p.dead_fd < 0) goto out;
    in_fd = !strcmp(o->from, "-") ? STDIN_FILENO : open(o->from, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", o->from, strerror(errno));
        goto out;
    }
    for (; started < nworkers; started++)
        if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0) break;
    sink_started = started > 0 && pthread_create(&sink, NULL, sink_main, &p) == 0;
    if (!sink_started) {
        fail(&p, "cannot start the pipeline's threads");
    } else {
        read_source(&p, in_fd);
    }
    pthread_mutex_lock(&p.lock);
    p.source_ended = true;
    pthread_cond_broadcast(&p.changed);
    pthread_mutex_unlock(&p.lock);
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    if (sink_started) pthread_join(sink, NULL);
    *st = p.stats;
    if (p.failed) {
        snprintf(err, errlen, "%s", p.error);
    } else {
        rc = 0;
    }
out:
    if (in_fd > STDERR_FILENO) close(in_fd);
    if (p.out_fd > STDERR_FILENO) close(p.out_fd);
    if (p.dead_fd > STDERR_FILENO) close(p.dead_fd);
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
