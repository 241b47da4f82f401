/*
 * serve.c - `wasp serve` from start to exit: load, listen, wait for
 * signals, reload, drain.
 *
 * The main thread owns configuration: it loads the first generation
 * before anything listens (so a broken manifest never half-starts), then
 * sleeps in sigwait. SIGHUP starts a reload thread, which loads a new
 * generation beside the running one and publishes it; workers move over
 * between requests and the old one is freed when the last worker lets go.
 * The reload runs apart because loading runs guest code (an app's init,
 * up to its deadline), and the main thread must stay free to act on
 * SIGTERM meanwhile. SIGTERM and SIGINT drain: listeners close, in-flight
 * requests finish and their responses go out, then the process exits 0.
 * A watchdog bounds the drain: after drain_timeout_ms it ends every guest
 * call still running (wasm_interrupt_all: each request answers 504, host
 * calls stop waiting), and if the process is still not out a few seconds
 * later it exits at once, status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"
#include "util/util.h"

/* Splits "ADDR:PORT" (IPv6 as "[::1]:8080"). */
static bool split_addr(const char *s, char *host, size_t hostlen, int *port, char *err,
                       size_t errlen) {
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (colon && hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hl == 0 || hl >= hostlen || !colon[1] || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "\"%s\" is not ADDR:PORT (e.g. 127.0.0.1:8080)", s);
        return false;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    if (!strcmp(host, "localhost")) snprintf(host, hostlen, "127.0.0.1"); /* the one name taken */
    *port = (int)p;
    return true;
}

static srv_manifest *load_manifest_file(const srv_options *o, char *err, size_t errlen);

static srv_manifest *load_manifest(const srv_options *o, char *err, size_t errlen) {
    srv_manifest *m = load_manifest_file(o, err, errlen);
    if (m) {
        m->tier = o->tier;
        m->cache_dir = o->cache_dir;
        m->companion = o->companion;
    }
    if (m && m->npipelines && !o->companion) {
        snprintf(err, errlen, "%s: pipelines: cannot run here", m->path ? m->path : "the manifest");
        srv_manifest_free(m);
        return NULL;
    }
    return m;
}

static srv_manifest *load_manifest_file(const srv_options *o, char *err, size_t errlen) {
    if (o->manifest_path) return srv_manifest_load(o->manifest_path, err, errlen);
    /* one-module mode: rebuild from the module path each time, keeping the
     * command line's settings of the single app */
    srv_manifest *m = srv_manifest_single(o->single->apps[0].module, err, errlen);
    if (!m) return NULL;
    srv_app_cfg *a = &m->apps[0], *src = &o->single->apps[0];
    srv_app_cfg keep = *a;
    *a = *src;
    /* deep-copy the strings so both manifests can be freed */
    a->name = strdup(src->name);
    a->route = strdup(src->route);
    a->route_base = strdup(src->route_base);
    a->module = strdup(src->module);
    a->init = src->init ? strdup(src->init) : NULL;
    a->env = calloc((size_t)src->nenv + 1, sizeof *a->env);
    a->dirs = calloc((size_t)src->ndirs + 1, sizeof *a->dirs);
    bool ok = a->name && a->route && a->route_base && a->module && (!src->init || a->init) &&
              a->env && a->dirs;
    for (int i = 0; ok && i < src->nenv; i++)
        ok = (a->env[i] = strdup(src->env[i])) != NULL;
    for (int i = 0; ok && i < src->ndirs; i++) {
        a->dirs[i].host = strdup(src->dirs[i].host);
        a->dirs[i].guest = strdup(src->dirs[i].guest);
        a->dirs[i].readonly = src->dirs[i].readonly;
        ok = a->dirs[i].host && a->dirs[i].guest;
    }
    /* free what srv_manifest_single had made */
    free(keep.name);
    free(keep.route);
    free(keep.route_base);
    free(keep.module);
    free(keep.init);
    for (int i = 0; i < keep.nenv; i++)
        free(keep.env[i]);
    free(keep.env);
    for (int i = 0; i < keep.ndirs; i++) {
        free(keep.dirs[i].host);
        free(keep.dirs[i].guest);
    }
    free(keep.dirs);
    if (!ok) {
        srv_manifest_free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return m;
}

static const char *iface_name(srv_iface i) {
    return i == SRV_IFACE_WAGI ? "wagi" : "wasp";
}

static void print_apps(const srv_gen *g) {
    for (int i = 0; i < g->napps; i++) {
        const srv_app *a = &g->apps[i];
        if (a->iface == SRV_IFACE_FILTER)
            srv_event("filter %s -> %s (%s)", a->name, a->cfg->module, a->tier);
        else if (a->iface != SRV_IFACE_INGEST) /* the pipelines say where they listen */
            srv_event("app %s at %s -> %s (%s, %s)", a->name, a->cfg->route, a->cfg->module,
                      iface_name(a->iface), a->tier);
    }
}

/* Raises the soft limit on open descriptors to the hard one, as most
 * servers do: each connection, each outbound connection and each file a
 * running request holds (at most WASI_DEFAULT_MAX_FDS per request) takes
 * one, and the usual soft default of 1024 is soon reached. */
static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- reload, on its own thread -------------------------------------------- */

typedef struct reloader {
    const srv_options *o;
    srv_http *h;
    pthread_mutex_t lock; /* guards the fields below */
    bool running;         /* a reload thread exists (joined by the next start or at exit) */
    bool stopping;        /* SIGTERM came: a reload that finishes now is dropped */
    uint64_t next_id;
    pthread_t thread;
} reloader;

static void *reload_main(void *arg) {
    reloader *r = arg;
    char rerr[1024];
    pthread_mutex_lock(&r->lock);
    uint64_t id = r->next_id;
    pthread_mutex_unlock(&r->lock);
    const srv_companion *co = r->o->companion;
    srv_gen *tell = NULL;
    srv_manifest *nm = load_manifest(r->o, rerr, sizeof rerr);
    srv_gen *ng = nm ? srv_gen_load(nm, id, rerr, sizeof rerr) : NULL;
    pthread_mutex_lock(&r->lock);
    if (r->stopping) {
        srv_gen_unref(ng);
        srv_event("reload abandoned: shutting down");
    } else if (!ng) {
        srv_event("reload failed, still serving the previous version: %s", rerr);
    } else {
        r->next_id++;
        if (co && co->reload) {
            srv_gen_ref(ng); /* for the pipelines, below */
            tell = ng;
        }
        srv_http_publish(r->h, ng);
        srv_event("reloaded %s", r->o->manifest_path ? r->o->manifest_path : "the module");
        print_apps(ng);
    }
    pthread_mutex_unlock(&r->lock);
    /* outside the lock: moving the pipelines over may wait for batches in
     * flight, and SIGTERM must not wait for that (srv_serve joins this
     * thread before it stops the pipelines) */
    if (tell) {
        co->reload(co->arg, tell);
        srv_gen_unref(tell);
    }
    return NULL;
}

/* SIGHUP: starts a reload unless one is running (then this one is
 * dropped, with a word: the running one reads the files anew anyway). */
static void reload_start(reloader *r) {
    pthread_mutex_lock(&r->lock);
    if (r->running && pthread_tryjoin_np(r->thread, NULL) == 0) r->running = false;
    if (r->running) {
        pthread_mutex_unlock(&r->lock);
        srv_event("SIGHUP: a reload is already running; this one is ignored");
        return;
    }
    r->running = pthread_create(&r->thread, NULL, reload_main, r) == 0;
    pthread_mutex_unlock(&r->lock);
    if (!r->running) srv_event("SIGHUP: cannot start a reload thread: %s", strerror(errno));
}

/* ---- the drain's hard limit ------------------------------------------------- */

#define DRAIN_GRACE_MS 3000

static void sleep_ms(uint64_t ms) {
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) && errno == EINTR) {
    }
}

static void *drain_watchdog(void *arg) {
    uint64_t ms = *(const uint64_t *)arg;
    sleep_ms(ms);
    srv_event("drain: in-flight requests still running after %llu ms; ending them",
              (unsigned long long)ms);
    wasm_interrupt_all();
    sleep_ms(DRAIN_GRACE_MS);
    srv_event("drain: still not stopped %d ms later; exiting now", DRAIN_GRACE_MS);
    _exit(1);
    return NULL;
}

int srv_serve(const srv_options *o, char *err, size_t errlen) {
    /* Every library a manifest may call for, opened now rather than linked
     * (util.h says why): one missing is found here, before anything
     * listens, not by the first request that needs it. */
    unsigned libs = UTIL_LIB_H2O | UTIL_LIB_CURL | UTIL_LIB_PQ | UTIL_LIB_SQLITE | UTIL_LIB_YAML |
                    UTIL_LIB_HIREDIS;
    if (!util_dynlib_load(libs, err, errlen)) return -1;
    srv_log_set_json(o->log_json); /* before any line */
    raise_nofile();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started below inherits this */

    srv_manifest *m = load_manifest(o, err, errlen);
    if (!m) return -1;
    char listen[300], admin[300];
    snprintf(listen, sizeof listen, "%s",
             o->listen   ? o->listen
             : m->listen ? m->listen
                         : "127.0.0.1:8080");
    snprintf(admin, sizeof admin, "%s",
             o->admin   ? o->admin
             : m->admin ? m->admin
                        : "127.0.0.1:9090");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = o->workers ? o->workers : m->workers ? m->workers : ncpu > 0 ? (int)ncpu : 1;

    srv_http_config hc = {
        .workers = workers,
        .max_connections = o->max_connections ? o->max_connections : 10000,
        .max_body = o->max_body ? (size_t)o->max_body : 16u << 20,
        .max_buffered = o->max_buffered,
        .idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 10000,
        .header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000,
        .body_timeout_ms = o->body_timeout_ms ? o->body_timeout_ms : 30000,
        .time_slice_ms = o->time_slice_ms ? o->time_slice_ms : 10,
        .log_fd = 2,
        .companion = o->companion,
        .dev = o->dev,
    };
    char lhost[256], ahost[256];
    if (!split_addr(listen, lhost, sizeof lhost, &hc.listen_port, err, errlen)) {
        srv_manifest_free(m);
        return -1;
    }
    hc.listen_host = lhost;
    if (strcmp(admin, "off")) {
        if (!split_addr(admin, ahost, sizeof ahost, &hc.admin_port, err, errlen)) {
            srv_manifest_free(m);
            return -1;
        }
        hc.admin_host = ahost;
    }
    int log_fd = -1;
    if (o->access_log && !strcmp(o->access_log, "off")) {
        hc.log_fd = -1;
    } else if (o->access_log && !strcmp(o->access_log, "stdout")) {
        /* a container's log: every line on standard output, events too */
        hc.log_fd = 1;
        srv_log_set_event_fd(1);
    } else if (o->access_log && strcmp(o->access_log, "-")) {
        log_fd = open(o->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            snprintf(err, errlen, "--access-log %s: %s", o->access_log, strerror(errno));
            srv_manifest_free(m);
            return -1;
        }
        hc.log_fd = log_fd;
    }

    uint64_t next_id = 1;
    srv_gen *g = srv_gen_load(m, next_id++, err, errlen);
    if (!g) goto fail;
    /* before anything listens: once /healthz answers, the app lines are out */
    print_apps(g);
    const srv_companion *co = o->companion;
    if (co && co->start && !co->start(co->arg, g, err, errlen)) {
        srv_gen_unref(g);
        goto fail;
    }
    srv_http *h = srv_http_start(&hc, g, err, errlen);
    if (!h) {
        if (co && co->stop) co->stop(co->arg);
        srv_gen_unref(g);
        goto fail;
    }
    if (hc.admin_host)
        srv_event("listening on http://%s:%d (%d workers), admin on http://%s:%d", lhost,
                  srv_http_port(h, false), workers, ahost, srv_http_port(h, true));
    else
        srv_event("listening on http://%s:%d (%d workers), admin off", lhost,
                  srv_http_port(h, false), workers);

    reloader r = {.o = o, .h = h, .next_id = next_id};
    pthread_mutex_init(&r.lock, NULL);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig)) continue;
        if (sig == SIGPIPE) continue;
        if (sig == SIGHUP) {
            reload_start(&r);
            continue;
        }
        srv_event("%s: draining in-flight requests, then exiting",
                  sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    pthread_mutex_lock(&r.lock);
    r.stopping = true;
    pthread_mutex_unlock(&r.lock);
    if (o->drain_delay_ms) {
        /* /readyz fails at once; requests are still taken meanwhile, so a
         * balancer that checks it stops sending before the listener goes */
        srv_http_unready(h);
        srv_event("drain: /readyz fails; still serving for %llu ms before the listener closes",
                  (unsigned long long)o->drain_delay_ms);
        struct timespec d = {(time_t)(o->drain_delay_ms / 1000),
                             (long)(o->drain_delay_ms % 1000) * 1000000};
        while (nanosleep(&d, &d) && errno == EINTR) {
        }
    }
    uint64_t drain_ms = o->drain_timeout_ms ? o->drain_timeout_ms : 30000;
    pthread_t watchdog;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&watchdog, &attr, drain_watchdog, &drain_ms))
        srv_event("drain: cannot start its watchdog (%s); waiting without a limit",
                  strerror(errno));
    pthread_attr_destroy(&attr);
    srv_http_stop(h);
    if (r.running) {
        /* an app's init in a reload that is still running: nothing is
         * served any more, so end it rather than wait for its deadline */
        wasm_interrupt_all();
        pthread_join(r.thread, NULL);
    }
    /* after the requests: an ingest request in flight waits on its
     * pipeline, which writes it before it stops */
    if (co && co->stop) {
        srv_event("stopping the pipelines: what was read is written and acknowledged");
        co->stop(co->arg);
    }
    pthread_mutex_destroy(&r.lock);
    srv_event("stopped");
    if (log_fd >= 0) close(log_fd);
    return 0;
fail:
    if (log_fd >= 0) close(log_fd);
    return -1;
}
