/*
 * app.c - a manifest becomes a generation: loaded modules, their snapshots,
 * and the router that picks an app for a path.
 *
 * Loading happens once per (re)load on the main thread, never on a
 * worker: reading the file, decoding, validating and compiling, running
 * the app's initialisers and snapshotting. Workers only ever see finished
 * generations. The one exception is native code in tier auto: a thread of
 * the generation's own compiles what the cache did not hold while the
 * apps are served interpreted, and workers switch each instance to it
 * between requests (wasm_instance_adopt_native). Routes are tried longest
 * first, so "/api/users" wins over "/api/..." and anything wins over
 * "/...".
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "host/host.h"
#include "server/internal.h"

/* ---- interned names ------------------------------------------------------- */

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *interned[SRV_MAX_INTERNED];
static int ninterned;

const char *srv_intern(const char *s) {
    pthread_mutex_lock(&intern_lock);
    const char *hit = NULL;
    for (int i = 0; i < ninterned && !hit; i++)
        if (!strcmp(interned[i], s)) hit = interned[i];
    if (!hit && ninterned < (int)(sizeof interned / sizeof interned[0])) {
        hit = strdup(s);
        if (hit) interned[ninterned++] = hit;
    }
    pthread_mutex_unlock(&intern_lock);
    return hit ? hit : "(too many apps)";
}

int srv_intern_list(const char **out, int max) {
    pthread_mutex_lock(&intern_lock);
    int n = ninterned < max ? ninterned : max;
    memcpy(out, interned, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&intern_lock);
    return n;
}

/* ---- loading --------------------------------------------------------------- */

static int read_file(const char *path, uint8_t **bytes, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return errno;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (!buf)
        rc = ENOMEM;
    else if (ferror(f))
        rc = EIO;
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *bytes = buf;
    *len = n;
    return 0;
}

static bool has_func_export(const wasm_module *m, const char *name) {
    const wasm_export *e = wasm_module_find_export(m, name);
    return e && e->kind == WASM_EXTERN_FUNC;
}

/* The stores an app is granted and the values of its variables. Secrets
 * come from `secrets` (NULL when the manifest has no secrets file). */
static bool resolve_caps(srv_app *a, const srv_manifest *m, host_sql_db *const *pools,
                         const host_secrets *secrets, char *why, size_t whylen) {
    const srv_app_cfg *cfg = a->cfg;
    a->stores = calloc((size_t)cfg->nkv + 1, sizeof *a->stores);
    a->var_values = calloc((size_t)cfg->nvars + 1, sizeof *a->var_values);
    if (!a->stores || !a->var_values) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    for (int i = 0; i < cfg->nkv; i++) {
        for (int k = 0; k < m->nstores && !a->stores[i]; k++)
            if (!strcmp(m->stores[k].name, cfg->kv[i])) a->stores[i] = &m->stores[k];
        if (!a->stores[i]) { /* the manifest loader checks this; a hand-made manifest may not */
            snprintf(why, whylen, "kv: no store \"%s\" is declared", cfg->kv[i]);
            return false;
        }
        a->nstores = i + 1;
    }
    a->dbs = calloc((size_t)cfg->nsql + 1, sizeof *a->dbs);
    if (!a->dbs) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    for (int i = 0; i < cfg->nsql; i++) {
        for (int k = 0; k < m->ndatabases && !a->dbs[i]; k++)
            if (!strcmp(m->databases[k].name, cfg->sql[i])) a->dbs[i] = pools[k];
        if (!a->dbs[i]) {
            snprintf(why, whylen, "sql: no database \"%s\" is declared", cfg->sql[i]);
            return false;
        }
        a->ndbs = i + 1;
    }
    for (int i = 0; i < cfg->nvars; i++) {
        const srv_var_cfg *v = &cfg->vars[i];
        const char *val = v->value;
        if (v->kind == SRV_VAR_ENV) {
            val = getenv(v->value);
            if (!val) {
                snprintf(why, whylen, "vars.%s: the environment variable %s is not set", v->name,
                         v->value);
                return false;
            }
        } else if (v->kind == SRV_VAR_SECRET) {
            val = secrets ? host_secrets_get(secrets, v->value) : NULL;
            if (!val) { /* never the value: only names reach messages */
                snprintf(why, whylen, "vars.%s: no secret \"%s\" in %s", v->name, v->value,
                         m->secrets_file ? m->secrets_file : "(no secrets file)");
                return false;
            }
        }
        a->var_values[i] = strdup(val);
        if (!a->var_values[i]) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
    }
    return true;
}

/* Native code for an app, before its snapshot is taken (instances made
 * after this run it). Tier native compiles at load: the server says ready
 * only once every app runs in the tier it asked for. Tier auto loads what
 * the cache holds and leaves the rest to compile_in_background. A module
 * the tier does not compile yet is served by the interpreter, and the log
 * says why; that is not a load failure. */
static void prepare_tier(srv_app *a, const srv_app_cfg *cfg, const srv_manifest *m) {
    srv_tier tier = cfg->tier_set ? cfg->tier : m->tier;
    a->tier = "interp";
    if (tier == SRV_TIER_INTERP) return;
    srv_native_info info;
    char reason[512];
    /* fuel counting only where a limit needs it: it costs every call */
    uint32_t flags = cfg->fuel ? WASM_NATIVE_FUEL : 0;
    bool wait = tier == SRV_TIER_NATIVE;
    if (!srv_native_prepare(a->module, m->cache_dir, flags, wait, &info, reason, sizeof reason)) {
        if (!wait) {
            if (info.note[0]) srv_event("app %s: %s", a->name, info.note);
            a->compile_later = true;
            a->native_flags = flags;
            a->tier = "interp until its native code is compiled";
            return;
        }
        srv_event("app %s runs in the interpreter: %s", a->name, reason);
        a->tier = "interp: the native tier does not take it";
        return;
    }
    if (info.note[0]) srv_event("app %s: %s", a->name, info.note);
    a->tier = info.from_cache ? "native, from the cache" : "native, compiled";
    srv_event("app %s: native code %s in %.1f ms", a->name,
              info.from_cache ? "loaded from the cache" : "compiled", info.ms);
}

/* Compiles, one after the other, the apps of generation `arg` that tier
 * auto found no cached code for, and writes it to the cache; each
 * instance switches to it before its next request. Runs at a lower
 * priority than the workers, so that requests keep the cores while LLVM
 * works, and holds a reference to the generation (a reload may drop it
 * meanwhile). */
static atomic_int compiles_running;

static void *compile_in_background(void *arg) {
    srv_gen *g = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10); /* Linux: per thread; best effort */
    for (int i = 0; i < g->napps; i++) {
        srv_app *a = &g->apps[i];
        if (!a->compile_later) continue;
        srv_native_info info;
        char reason[512];
        if (!srv_native_prepare(a->module, g->manifest->cache_dir, a->native_flags, true, &info,
                                reason, sizeof reason)) {
            srv_event("app %s stays in the interpreter: %s", a->name, reason);
            continue;
        }
        srv_event("app %s: native code compiled in the background in %.1f ms; requests run it "
                  "from now on",
                  a->name, info.ms);
        if (info.note[0]) srv_event("app %s: %s", a->name, info.note);
    }
    srv_gen_unref(g);
    atomic_fetch_sub(&compiles_running, 1);
    return NULL;
}

static void start_background_compile(srv_gen *g) {
    bool any = false;
    for (int i = 0; i < g->napps; i++)
        any = any || g->apps[i].compile_later;
    if (!any) return;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    srv_gen_ref(g);
    atomic_fetch_add(&compiles_running, 1);
    if (pthread_create(&t, &attr, compile_in_background, g) != 0) {
        atomic_fetch_sub(&compiles_running, 1);
        srv_gen_unref(g);
        srv_event("warning: no thread to compile native code in; the apps stay interpreted");
    }
    pthread_attr_destroy(&attr);
}

bool srv_compiling(void) {
    return atomic_load(&compiles_running) > 0;
}

static bool load_app(srv_app *a, const srv_app_cfg *cfg, const srv_manifest *m,
                     host_sql_db *const *pools, const host_secrets *secrets, char *err,
                     size_t errlen) {
    char why[300];
    const char *mpath = m->path;
    a->cfg = cfg;
    a->name = srv_intern(cfg->name);
    if (cfg->iface == SRV_IFACE_INGEST) {
        /* no module: the companion (a pipeline) answers its requests */
        a->iface = SRV_IFACE_INGEST;
        a->companion = m->companion;
        a->tier = "pipeline ingest";
        return true;
    }
    if (!resolve_caps(a, m, pools, secrets, why, sizeof why)) goto fail;
    size_t len = 0;
    int rc = read_file(cfg->module, &a->bytes, &len);
    if (rc) {
        snprintf(why, sizeof why, "%s: %s", cfg->module, strerror(rc));
        goto fail;
    }
    wasm_error werr;
    a->module = wasm_module_load(a->bytes, len, &werr);
    if (!a->module) {
        snprintf(why, sizeof why, "%s: %s module at byte offset %zu: %s", cfg->module,
                 wasm_errkind_name(werr.kind), werr.offset, werr.msg);
        goto fail;
    }
    bool has_handle = has_func_export(a->module, "wasp_handle");
    bool has_start = has_func_export(a->module, "_start");
    a->iface = cfg->iface;
    if (a->iface == SRV_IFACE_AUTO) {
        if (has_handle) {
            a->iface = SRV_IFACE_WASP;
        } else if (has_start) {
            a->iface = SRV_IFACE_WAGI;
        } else if (has_func_export(a->module, "wasp_filter")) {
            snprintf(why, sizeof why,
                     "%s is a filter (it exports wasp_filter), not an HTTP handler: run it with "
                     "wasp pipe, or in a manifest's pipelines: as an app without a route; see "
                     "docs/design/pipe.md",
                     cfg->module);
            goto fail;
        } else {
            snprintf(why, sizeof why,
                     "%s exports neither wasp_handle (wasp handler ABI) nor _start (WAGI); "
                     "see docs/abi.md",
                     cfg->module);
            goto fail;
        }
    } else if (a->iface == SRV_IFACE_WASP && !has_handle) {
        snprintf(why, sizeof why, "%s: interface wasp needs an exported function wasp_handle",
                 cfg->module);
        goto fail;
    } else if (a->iface == SRV_IFACE_WAGI && !has_start) {
        snprintf(why, sizeof why, "%s: interface wagi needs an exported function _start",
                 cfg->module);
        goto fail;
    } else if (a->iface == SRV_IFACE_FILTER &&
               (!has_func_export(a->module, "wasp_filter") ||
                !has_func_export(a->module, "wasp_filter_buffer"))) {
        snprintf(why, sizeof why,
                 "%s is not a filter: it must export the functions wasp_filter and "
                 "wasp_filter_buffer (sdk/c/wasp_filter.h, docs/design/pipe.md)%s",
                 cfg->module,
                 m->path ? "; an app without a route must be a filter: to serve HTTP, give it "
                           "route:"
                         : "");
        goto fail;
    }
    a->flushes = a->iface == SRV_IFACE_FILTER && has_func_export(a->module, "wasp_filter_flush");
    if (cfg->init && !has_func_export(a->module, cfg->init)) {
        snprintf(why, sizeof why, "%s has no exported function \"%s\" to run as init", cfg->module,
                 cfg->init);
        goto fail;
    }
    prepare_tier(a, cfg, m);
    a->snap = srv_app_snapshot(a, why, sizeof why);
    if (!a->snap) goto fail;
    return true;
fail:
    if (mpath && cfg->line)
        snprintf(err, errlen, "app %s (%s:%d): %s", cfg->name, mpath, cfg->line, why);
    else
        snprintf(err, errlen, "app %s: %s", cfg->name, why);
    return false;
}

static const srv_gen *sort_gen; /* for the qsort comparator; loading is single-threaded */

static int route_cmp(const void *x, const void *y) {
    const srv_app_cfg *a = sort_gen->apps[*(const int *)x].cfg;
    const srv_app_cfg *b = sort_gen->apps[*(const int *)y].cfg;
    size_t la = strlen(a->route_base), lb = strlen(b->route_base);
    if (la != lb) return la > lb ? -1 : 1;
    return a->route_prefix - b->route_prefix; /* exact before prefix of the same base */
}

static void warn_db(const char *msg) {
    srv_event("warning: %s", msg);
}

/* PostgreSQL's statement_timeout for a database: the longest deadline of
 * the apps granted it, a backstop behind the cancellation at each
 * request's own deadline; 0 (none) when one of them has no deadline. */
static uint32_t statement_timeout(const srv_manifest *m, const char *db) {
    uint32_t longest = 0;
    for (int i = 0; i < m->napps; i++) {
        const srv_app_cfg *a = &m->apps[i];
        for (int k = 0; k < a->nsql; k++) {
            if (strcmp(a->sql[k], db)) continue;
            if (!a->deadline_ms) return 0;
            if (a->deadline_ms > longest) longest = a->deadline_ms;
        }
    }
    return longest;
}

srv_gen *srv_gen_load(srv_manifest *m, uint64_t id, char *err, size_t errlen) {
    srv_gen *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        srv_manifest_free(m);
        return NULL;
    }
    g->manifest = m;
    g->id = id;
    atomic_init(&g->refs, 1);
    g->apps = calloc((size_t)m->napps + 1, sizeof *g->apps);
    g->by_route = calloc((size_t)m->napps + 1, sizeof *g->by_route);
    if (!g->apps || !g->by_route) {
        snprintf(err, errlen, "out of memory");
        srv_gen_unref(g);
        return NULL;
    }
    if (m->napps > SRV_MAX_APPS) {
        snprintf(err, errlen, "%d apps: at most %d are supported", m->napps, SRV_MAX_APPS);
        srv_gen_unref(g);
        return NULL;
    }
    g->pools = calloc((size_t)m->ndatabases + 1, sizeof *g->pools);
    if (!g->pools) {
        snprintf(err, errlen, "out of memory");
        srv_gen_unref(g);
        return NULL;
    }
    for (int i = 0; i < m->ndatabases; i++) {
        const srv_db_cfg *d = &m->databases[i];
        host_sql_config sc = {.name = d->name,
                              .statement_timeout_ms = statement_timeout(m, d->name),
                              .warn = warn_db,
                              .backend = d->backend == SRV_DB_POSTGRES ? HOST_SQL_POSTGRES
                                                                       : HOST_SQL_SQLITE,
                              .path = d->path,
                              .url = d->url,
                              .pool_size = d->pool_size,
                              .acquire_timeout_ms = d->acquire_timeout_ms};
        g->pools[i] = host_sql_open(&sc, err, errlen);
        if (!g->pools[i]) {
            srv_gen_unref(g);
            return NULL;
        }
    }
    host_secrets *secrets = NULL;
    if (m->secrets_file) {
        uint8_t key[32];
        char why[300];
        bool ok = host_secrets_key(m->secrets_key_file, m->secrets_key_env, key, why, sizeof why);
        if (ok) secrets = host_secrets_open(m->secrets_file, key, false, why, sizeof why);
        explicit_bzero(key, sizeof key);
        if (!secrets) {
            snprintf(err, errlen, "secrets: %s", why);
            srv_gen_unref(g);
            return NULL;
        }
    }
    for (int i = 0; i < m->napps; i++) {
        g->napps = i + 1;
        if (!load_app(&g->apps[i], &m->apps[i], m, g->pools, secrets, err, errlen)) {
            host_secrets_free(secrets);
            srv_gen_unref(g);
            return NULL;
        }
        g->by_route[i] = i;
    }
    host_secrets_free(secrets); /* the values the apps use were copied */
    sort_gen = g;
    qsort(g->by_route, (size_t)g->napps, sizeof *g->by_route, route_cmp);
    start_background_compile(g);
    return g;
}

void srv_gen_ref(srv_gen *g) {
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void srv_gen_unref(srv_gen *g) {
    if (!g || atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < g->napps; i++) {
        srv_app *a = &g->apps[i];
        for (int k = 0; a->var_values && k < a->cfg->nvars; k++) {
            if (!a->var_values[k]) continue;
            explicit_bzero(a->var_values[k], strlen(a->var_values[k]));
            free(a->var_values[k]);
        }
        free(a->var_values);
        free(a->stores);
        free(a->dbs);
        wasm_snapshot_free(g->apps[i].snap);
        wasm_module_free(g->apps[i].module);
        free(g->apps[i].bytes);
    }
    for (int i = 0; g->pools && i < g->manifest->ndatabases; i++)
        if (g->pools[i]) host_sql_close(g->pools[i]); /* every worker has released its own */
    free(g->pools);
    free(g->apps);
    free(g->by_route);
    srv_manifest_free(g->manifest);
    free(g);
}

int srv_route(const srv_gen *g, const char *path, size_t len) {
    for (int k = 0; k < g->napps; k++) {
        int i = g->by_route[k];
        const srv_app_cfg *c = g->apps[i].cfg;
        if (g->apps[i].iface == SRV_IFACE_FILTER) continue; /* no route: pipelines run it */
        size_t bl = strlen(c->route_base);
        if (len < bl || memcmp(path, c->route_base, bl)) continue;
        if (len == bl) return i;
        /* a prefix route "/api/..." matches "/api" and "/api/anything" */
        if (c->route_prefix && (bl == 0 || path[bl] == '/' || c->route_base[bl - 1] == '/'))
            return i;
    }
    return -1;
}
