/*
 * run.c - `wasp pipe`: the filters named on the command line made a
 * generation of their own, one pipeline from its source to its end, and
 * the calling thread watching it: SIGTERM and SIGINT stop the reading,
 * and on a terminal a progress line goes to stderr once a second.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipe/internal.h"
#include "util/util.h"

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

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Until the pipeline finishes: SIGTERM and SIGINT (blocked in every
 * thread) stop it; with o->progress, a line on stderr says how far it
 * got, once a second. */
static void watch(const pipe_options *o, pipeline *p, const pipe_counters *c) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 200 * 1000000};
    uint64_t t0 = (uint64_t)wall_ms(), last_in = 0, last_t = t0;
    for (int n = 1; !pipe_wait(p, 0); n++) {
        if (sigtimedwait(&set, NULL, &tick) > 0) pipe_stop(p);
        if (!o->progress || n % 5) continue;
        uint64_t now = (uint64_t)wall_ms(), in = atomic_load(&c->in);
        double rate = now > last_t ? (double)(in - last_in) * 1000.0 / (double)(now - last_t) : 0;
        fprintf(stderr,
                "\rwasp pipe: %llu records in, %llu out, %llu dead letters, %.0f records/s, "
                "%llu s \033[K",
                (unsigned long long)in, (unsigned long long)atomic_load(&c->out),
                (unsigned long long)atomic_load(&c->dead), rate,
                (unsigned long long)((now - t0) / 1000));
        last_in = in;
        last_t = now;
    }
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
    size_t max_line = (o->batch_bytes ? o->batch_bytes : (1u << 20)) + (1u << 16);
    /* CSV: the header is read first, for the filters' init to see it */
    pipe_source *src = NULL;
    char *header = NULL;
    if (o->format == PIPE_CSV) {
        src = pipe_is_redis(o->from)
                  ? NULL
                  : pipe_file_source(o->from, PIPE_LINES, max_line, o->follow, err, errlen);
        srv_batch h = {0};
        int got = src ? src->read(src, &h, 1, max_line, -1, err, errlen) : PIPE_ERR;
        if (!src && pipe_is_redis(o->from))
            snprintf(err, errlen, "--format csv reads files and stdin, not streams");
        else if (got == PIPE_END)
            snprintf(err, errlen, "%s: no CSV header: the input is empty", o->from);
        if (got > 0) header = strndup((const char *)h.bytes, h.recs[0].value_len);
        srv_batch_free(&h);
        if (!header) {
            if (got > 0) snprintf(err, errlen, "out of memory");
            if (src) src->close(src);
            return -1;
        }
    }
    srv_manifest *m = srv_manifest_filters(o->filters, o->nfilters, err, errlen);
    if (!m || !grant_stores(o, m, err, errlen) || !grant_vars(o, header, m, err, errlen)) {
        srv_manifest_free(m);
        free(header);
        if (src) src->close(src);
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
        if (src) src->close(src);
        return -1;
    }
    if (!src)
        src = pipe_is_redis(o->from)
                  ? pipe_redis_source(o->from, err, errlen)
                  : pipe_file_source(o->from, o->format, max_line, o->follow, err, errlen);
    int *apps = calloc((size_t)gen->napps, sizeof *apps);
    if (!src || !apps) {
        if (src) src->close(src);
        if (!apps) snprintf(err, errlen, "out of memory");
        free(apps);
        srv_gen_unref(gen);
        return -1;
    }
    for (int i = 0; i < gen->napps; i++)
        apps[i] = i;
    pipe_spec s = {
        .name = "pipe",
        .to = o->to,
        .dead_letter = o->dead_letter,
        .stores = gen->manifest->stores,
        .nstores = gen->manifest->nstores,
        .workers = o->workers,
        .batch_records = o->batch_records,
        .batch_bytes = o->batch_bytes,
        .flush_ms = o->flush_ms >= 0         ? o->flush_ms
                    : pipe_is_redis(o->from) ? 5000
                                             : 0,
        /* a stream's entries are acknowledged once written: on disk first */
        .sync = pipe_is_redis(o->from),
    };
    pipe_counters c;
    pipe_counters_init(&c);
    pipeline *p = pipe_start(&s, gen, apps, gen->napps, src, &c, err, errlen);
    free(apps);
    int rc = -1;
    if (p) {
        watch(o, p, &c);
        rc = pipe_failed(p, err, errlen) ? -1 : 0;
        st->stopped = pipe_was_stopped(p);
        pipe_unref(p);
    }
    st->records_in = atomic_load(&c.in);
    st->records_out = atomic_load(&c.out);
    st->dead_letters = atomic_load(&c.dead);
    st->batches = atomic_load(&c.batches);
    srv_gen_unref(gen);
    return rc;
}

int pipe_run(const pipe_options *o, pipe_stats *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    /* blocked before any thread exists (the engine's ticker, a background
     * compile, the pipeline's own): they inherit the mask, and only the
     * watching thread takes the signals */
    sigset_t stops, old_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, &old_mask);
    int rc = run(o, st, err, errlen);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    return rc;
}
