/*
 * caps.c - the capabilities a guest reaches through the "wasp" imports:
 * key-value stores, variables and logging (docs/capabilities.md).
 *
 * Deny by default: every import is linked for every app, so a module
 * always loads, but a call on something the manifest did not grant fails
 * with an error value and a message naming the grant that is missing -
 * never a trap, never a crash. Calls return:
 *
 *   >= 0  success (a length, a handle, 0/1)
 *   -1    kv_get: no such key; kv_open, var_get: not granted or unknown
 *   -2    the backend failed (err_message says how)
 *
 * and the message of the last failure in this request is read with
 * err_message(buf, cap). Store connections are opened on first use, one
 * per worker and store, and kept for the next requests; a request's
 * handles are just indices into them and end with the request.
 *
 * A host call blocks the worker (SQLite: microseconds; Redis: a loopback
 * round trip, at most the store's timeout): handlers run to completion on
 * their worker (docs/design/serve.md, section 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host/host.h"
#include "server/internal.h"

struct srv_caps {
    const srv_app *app;
    host_kv **kv;        /* one per granted store, opened on first kv_open */
    host_sql_conn **sql; /* per granted database: the request's connection, or NULL */
    const srv_request *req;
    host_buf buf;            /* results on their way to the guest */
    host_buf sql_result;     /* the last sql_exec's result, for sql_result */
    host_http_response http; /* the last http_send's response */
    char err[512];
    /* sql_exec's decoded parameters (made on first use): per slot, not
     * per thread, since another request of the worker runs while this one
     * waits for its database */
    host_sql_value *values;
};

srv_caps *srv_caps_new(const srv_app *app) {
    srv_caps *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->app = app;
    c->kv = calloc((size_t)app->nstores + 1, sizeof *c->kv);
    c->sql = calloc((size_t)app->ndbs + 1, sizeof *c->sql);
    if (!c->kv || !c->sql) {
        free(c->kv);
        free(c->sql);
        free(c);
        return NULL;
    }
    return c;
}

void srv_caps_free(srv_caps *c) {
    if (!c) return;
    free(c->values);
    for (int i = 0; i < c->app->nstores; i++)
        host_kv_close(c->kv[i]);
    for (int i = 0; i < c->app->ndbs; i++)
        if (c->sql[i]) host_sql_release(c->sql[i]);
    free(c->kv);
    free(c->sql);
    free(c->buf.data);
    free(c->sql_result.data);
    free(c->http.headers.data);
    free(c->http.body.data);
    free(c);
}

void srv_caps_begin(srv_caps *c, const srv_request *req) {
    c->req = req;
    c->err[0] = 0;
}

/* Drops a buffer's memory when a request left it large. */
static void trim(host_buf *b) {
    if (b->cap > (1u << 20)) {
        free(b->data);
        *b = (host_buf){0};
    }
    b->len = 0;
}

void srv_caps_end(srv_caps *c) {
    c->req = NULL;
    /* The request's connections go back to their pools, cleaned: an open
     * transaction rolled back, session state discarded (host.h). */
    for (int i = 0; i < c->app->ndbs; i++) {
        if (c->sql[i]) host_sql_release(c->sql[i]);
        c->sql[i] = NULL;
    }
    trim(&c->sql_result);
    trim(&c->http.headers);
    trim(&c->http.body);
    c->http.status = 0;
    if (c->buf.cap > (1u << 20)) { /* do not keep a huge list or value around */
        free(c->buf.data);
        c->buf = (host_buf){0};
    }
    c->buf.len = 0;
}

/* ---- helpers ------------------------------------------------------------- */

static wasm_trap_code ret_i32(wasm_value *r, int32_t v) {
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = (uint32_t)v};
    return WASM_TRAP_NONE;
}

/* A capability call that failed -2 may have failed because the request's
 * deadline passed while it waited (host calls never wait past it): the
 * guest's call then ends as the deadline ends it, WASM_TRAP_INTERRUPTED
 * and a 504, instead of handing the guest an error it could ignore. */
static wasm_trap_code ret_err(wasm_value *r, int32_t v) {
    if (wasm_call_should_stop(NULL)) return WASM_TRAP_INTERRUPTED;
    return ret_i32(r, v);
}

/* A name the guest passed, fit for a message: at most 64 bytes, control
 * characters and quotes replaced. */
static void show_name(const char *name, size_t n, char *out, size_t cap) {
    snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), name);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '"') *p = '?';
}

static int32_t fail(srv_caps *c, int32_t code, const char *fmt, const char *a, const char *b) {
    snprintf(c->err, sizeof c->err, fmt, a, b);
    return code;
}

/* The store behind guest handle h (an index into the app's grants),
 * opened now if this worker has not yet; NULL with c->err set. */
static host_kv *store(srv_caps *c, int32_t h) {
    if (h < 0 || h >= c->app->nstores) {
        snprintf(c->err, sizeof c->err, "%d is not a store handle (kv_open gives one)", h);
        return NULL;
    }
    if (!c->kv[h]) {
        const srv_store_cfg *s = c->app->stores[h];
        host_kv_config kc = {.name = s->name,
                             .backend =
                                 s->backend == SRV_STORE_REDIS ? HOST_KV_REDIS : HOST_KV_SQLITE,
                             .path = s->path,
                             .durable_full = s->durable_full,
                             .url = s->url,
                             .prefix = s->prefix};
        c->kv[h] = host_kv_open(&kc, c->err, sizeof c->err);
    }
    return c->kv[h];
}

/* Copies min(len, cap) bytes to guest [ptr, ptr+cap); false if out of bounds. */
static bool copy_out(wasm_instance *caller, uint32_t ptr, uint32_t cap, const void *src,
                     size_t len) {
    uint32_t n = len < cap ? (uint32_t)len : cap;
    uint8_t *dst = wasm_guest_bytes(caller, ptr, n);
    if (!dst) return false;
    if (n) memcpy(dst, src, n);
    return true;
}

static int32_t clamp_len(size_t n) {
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

/* ---- imports --------------------------------------------------------------- */

static wasm_trap_code cap_err_message(void *env, wasm_instance *caller, const wasm_value *a,
                                      wasm_value *r) {
    srv_caps *c = env;
    size_t n = strlen(c->err);
    if (!copy_out(caller, a[0].of.i32, a[1].of.i32, c->err, n)) return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, (int32_t)n);
}

static wasm_trap_code cap_kv_open(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const char *name = (const char *)wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    if (!name) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[1].of.i32;
    for (int i = 0; i < c->app->nstores; i++) {
        const char *s = c->app->stores[i]->name;
        if (strlen(s) == n && !memcmp(s, name, n)) {
            if (!store(c, i)) return ret_err(r, -2);
            return ret_i32(r, i);
        }
    }
    char shown[80];
    show_name(name, n, shown, sizeof shown);
    return ret_i32(r, fail(c, -1,
                           "store \"%s\" is not granted to app \"%s\" (grant it in the manifest: "
                           "kv: [name])",
                           shown, c->app->name));
}

static wasm_trap_code cap_kv_get(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    if (!key || !wasm_guest_bytes(caller, a[3].of.i32, 0)) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_err(r, -2);
    c->buf.len = 0;
    int rc = host_kv_get(kv, key, a[2].of.i32, &c->buf, c->err, sizeof c->err);
    if (rc == HOST_NOT_FOUND) return ret_i32(r, -1);
    if (rc != HOST_OK) return ret_err(r, -2);
    if (!copy_out(caller, a[3].of.i32, a[4].of.i32, c->buf.data, c->buf.len))
        return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, clamp_len(c->buf.len));
}

static wasm_trap_code cap_kv_set(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    const uint8_t *val = wasm_guest_bytes(caller, a[3].of.i32, a[4].of.i32);
    if (!key || !val) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_err(r, -2);
    int64_t ttl = (int64_t)a[5].of.i64;
    if (ttl < 0) return ret_i32(r, fail(c, -2, "kv_set: negative ttl%s%s", "", ""));
    int rc =
        host_kv_set(kv, key, a[2].of.i32, val, a[4].of.i32, (uint64_t)ttl, c->err, sizeof c->err);
    return ret_err(r, rc == HOST_OK ? 0 : -2);
}

/* kv_delete and kv_exists: a key in, a yes/no out. */
typedef int (*kv_bool_fn)(host_kv *, const void *, size_t, bool *, char *, size_t);

static wasm_trap_code kv_bool(srv_caps *c, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r, kv_bool_fn fn) {
    const uint8_t *key = wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    if (!key) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_err(r, -2);
    bool yes = false;
    int rc = fn(kv, key, a[2].of.i32, &yes, c->err, sizeof c->err);
    return ret_err(r, rc == HOST_OK ? yes : -2);
}

static wasm_trap_code cap_kv_delete(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    return kv_bool(env, caller, a, r, host_kv_delete);
}

static wasm_trap_code cap_kv_exists(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    return kv_bool(env, caller, a, r, host_kv_exists);
}

static wasm_trap_code cap_kv_incr(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    uint8_t *out = wasm_guest_bytes(caller, a[4].of.i32, 8);
    if (!key || !out) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_err(r, -2);
    int64_t v = 0;
    int rc = host_kv_incr(kv, key, a[2].of.i32, (int64_t)a[3].of.i64, &v, c->err, sizeof c->err);
    if (rc != HOST_OK) return ret_err(r, -2);
    for (int i = 0; i < 8; i++) /* little-endian, as the guest reads it */
        out[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return ret_i32(r, 0);
}

static wasm_trap_code cap_kv_list(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *prefix = wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    uint32_t cap = a[4].of.i32;
    uint8_t *dst = wasm_guest_bytes(caller, a[3].of.i32, cap);
    if (!prefix || !dst) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_err(r, -2);
    c->buf.len = 0;
    if (host_kv_list(kv, prefix, a[2].of.i32, 0, &c->buf, c->err, sizeof c->err) != HOST_OK)
        return ret_err(r, -2);
    /* whole entries only: a guest never sees half a key */
    size_t fit = 0;
    while (fit + 4 <= c->buf.len) {
        const uint8_t *e = c->buf.data + fit;
        size_t n = 4 + ((size_t)e[0] | (size_t)e[1] << 8 | (size_t)e[2] << 16 | (size_t)e[3] << 24);
        if (fit + n > cap) break;
        fit += n;
    }
    if (fit) memcpy(dst, c->buf.data, fit);
    return ret_i32(r, clamp_len(c->buf.len));
}

static wasm_trap_code cap_var_get(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const char *name = (const char *)wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    if (!name || !wasm_guest_bytes(caller, a[2].of.i32, 0)) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[1].of.i32;
    const srv_app_cfg *cfg = c->app->cfg;
    for (int i = 0; i < cfg->nvars; i++) {
        if (strlen(cfg->vars[i].name) != n || memcmp(cfg->vars[i].name, name, n)) continue;
        const char *v = c->app->var_values[i];
        if (!copy_out(caller, a[2].of.i32, a[3].of.i32, v, strlen(v))) return WASM_TRAP_OOB_MEMORY;
        return ret_i32(r, clamp_len(strlen(v)));
    }
    char shown[80];
    show_name(name, n, shown, sizeof shown);
    return ret_i32(r, fail(c, -1,
                           "variable \"%s\" is not granted to app \"%s\" (declare it under "
                           "vars: in the manifest)",
                           shown, c->app->name));
}

static wasm_trap_code cap_log(void *env, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r) {
    srv_caps *c = env;
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    uint32_t lv = a[0].of.i32;
    const char *msg = (const char *)wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    if (!msg) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[2].of.i32 < 4096 ? a[2].of.i32 : 4096;
    const srv_request *q = c->req;
    srv_log *l = q ? q->log : NULL;
    if (l && l->fd >= 0) {
        const char *level = levels[lv < 4 ? lv : 1];
        srv_log_begin(l);
        srv_log_str(l, "level", level, strlen(level));
        srv_log_str(l, "app", c->app->name, strlen(c->app->name));
        srv_log_str(l, "req", q->id, strlen(q->id));
        /* the trace id: the same as the request's access line */
        if (q->traceparent) srv_log_str(l, "trace", q->traceparent + 3, 32);
        srv_log_str(l, "msg", msg, n);
        srv_log_end(l);
    } else {
        srv_event("app %s: %s: %.*s", c->app->name, levels[lv < 4 ? lv : 1], (int)n, msg);
    }
    return ret_i32(r, 0);
}

/* ---- SQL ------------------------------------------------------------------ */

static wasm_trap_code cap_sql_open(void *env, wasm_instance *caller, const wasm_value *a,
                                   wasm_value *r) {
    srv_caps *c = env;
    const char *name = (const char *)wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    if (!name) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[1].of.i32;
    const srv_app_cfg *cfg = c->app->cfg;
    for (int i = 0; i < c->app->ndbs; i++) {
        if (strlen(cfg->sql[i]) != n || memcmp(cfg->sql[i], name, n)) continue;
        if (!c->sql[i]) c->sql[i] = host_sql_acquire(c->app->dbs[i], c->err, sizeof c->err);
        return ret_err(r, c->sql[i] ? i : -2);
    }
    char shown[80];
    show_name(name, n, shown, sizeof shown);
    return ret_i32(r, fail(c, -1,
                           "database \"%s\" is not granted to app \"%s\" (grant it in the "
                           "manifest: sql: [name])",
                           shown, c->app->name));
}

bool srv_sql_params_decode(const uint8_t *p, size_t len, host_sql_value *out, size_t max,
                           size_t *count) {
    if (len == 0) {
        *count = 0;
        return true;
    }
    if (len < 4) return false;
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (n > max) return false;
    size_t at = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (at >= len) return false;
        host_sql_value v = {.type = (host_sql_type)p[at++]};
        if (v.type == HOST_SQL_INT || v.type == HOST_SQL_FLOAT) {
            if (len - at < 8) return false;
            uint64_t bits = 0;
            for (int k = 7; k >= 0; k--)
                bits = bits << 8 | p[at + (size_t)k];
            at += 8;
            if (v.type == HOST_SQL_INT)
                v.i = (int64_t)bits;
            else
                memcpy(&v.f, &bits, 8);
        } else if (v.type == HOST_SQL_TEXT || v.type == HOST_SQL_BLOB) {
            if (len - at < 4) return false;
            uint32_t l = (uint32_t)p[at] | (uint32_t)p[at + 1] << 8 | (uint32_t)p[at + 2] << 16 |
                         (uint32_t)p[at + 3] << 24;
            at += 4;
            if (len - at < l) return false;
            v.p = p + at;
            v.len = l;
            at += l;
        } else if (v.type != HOST_SQL_NULL) {
            return false;
        }
        out[i] = v;
    }
    *count = n;
    return at == len;
}

#define SQL_MAX_PARAMS 1000
#define SQL_MAX_RESULT (16u << 20)

static wasm_trap_code cap_sql_exec(void *env, wasm_instance *caller, const wasm_value *a,
                                   wasm_value *r) {
    srv_caps *c = env;
    int32_t h = (int32_t)a[0].of.i32;
    const char *sql = (const char *)wasm_guest_bytes(caller, a[1].of.i32, a[2].of.i32);
    const uint8_t *params = wasm_guest_bytes(caller, a[3].of.i32, a[4].of.i32);
    if (!sql || !params) return WASM_TRAP_OOB_MEMORY;
    c->sql_result.len = 0;
    if (h < 0 || h >= c->app->ndbs || !c->sql[h]) {
        snprintf(c->err, sizeof c->err, "%d is not a database handle (sql_open gives one)", h);
        return ret_err(r, -2);
    }
    if (!c->values && !(c->values = malloc(SQL_MAX_PARAMS * sizeof *c->values))) {
        snprintf(c->err, sizeof c->err, "sql_exec: out of memory");
        return ret_err(r, -2);
    }
    host_sql_value *values = c->values;
    size_t n;
    if (!srv_sql_params_decode(params, a[4].of.i32, values, SQL_MAX_PARAMS, &n)) {
        snprintf(
            c->err, sizeof c->err,
            "sql_exec: malformed parameters (at most %d values, encoded as sdk/c/wasp.h describes)",
            SQL_MAX_PARAMS);
        return ret_err(r, -2);
    }
    if (host_sql_exec(c->sql[h], sql, a[2].of.i32, values, n, SQL_MAX_RESULT, &c->sql_result,
                      c->err, sizeof c->err) != HOST_OK)
        return ret_err(r, -2);
    return ret_i32(r, clamp_len(c->sql_result.len));
}

static wasm_trap_code cap_sql_result(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    srv_caps *c = env;
    if (!copy_out(caller, a[0].of.i32, a[1].of.i32, c->sql_result.data, c->sql_result.len))
        return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, clamp_len(c->sql_result.len));
}

/* ---- outbound HTTP ---------------------------------------------------------- */

/* Whether "Name: value\n" lines hdrs[0, n) have a header `name` (any case). */
static bool has_header(const char *hdrs, size_t n, const char *name) {
    size_t k = strlen(name);
    for (size_t i = 0; i < n;) {
        if (n - i > k && hdrs[i + k] == ':' && !strncasecmp(hdrs + i, name, k)) return true;
        const char *nl = memchr(hdrs + i, '\n', n - i);
        if (!nl) break;
        i = (size_t)(nl - hdrs) + 1;
    }
    return false;
}

static wasm_trap_code cap_http_send(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    srv_caps *c = env;
    const char *method = (const char *)wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    const char *url = (const char *)wasm_guest_bytes(caller, a[2].of.i32, a[3].of.i32);
    const char *hdrs = (const char *)wasm_guest_bytes(caller, a[4].of.i32, a[5].of.i32);
    const uint8_t *body = wasm_guest_bytes(caller, a[6].of.i32, a[7].of.i32);
    if (!method || !url || !hdrs || !body) return WASM_TRAP_OOB_MEMORY;
    c->http.status = 0;
    c->http.headers.len = c->http.body.len = 0;
    /* NUL-terminated copies: the host API takes C strings */
    char m[16], u[8192];
    char *h = NULL;
    if (a[1].of.i32 == 0 || a[1].of.i32 >= sizeof m || a[3].of.i32 >= sizeof u) {
        snprintf(c->err, sizeof c->err, "http_send: method or URL too long or empty");
        return ret_err(r, -2);
    }
    memcpy(m, method, a[1].of.i32);
    m[a[1].of.i32] = 0;
    memcpy(u, url, a[3].of.i32);
    u[a[3].of.i32] = 0;
    if (memchr(m, 0, a[1].of.i32) || memchr(u, 0, a[3].of.i32)) {
        snprintf(c->err, sizeof c->err, "http_send: NUL byte in the method or URL");
        return ret_err(r, -2);
    }
    const srv_app_cfg *cfg = c->app->cfg;
    if (!host_http_allowed(u, (const char *const *)cfg->http_allow, (size_t)cfg->nhttp_allow)) {
        /* the host says why, naming the rule; -1 marks a denial */
        host_http_request probe = {.method = m,
                                   .url = u,
                                   .allow = (const char *const *)cfg->http_allow,
                                   .nallow = (size_t)cfg->nhttp_allow};
        char why[400];
        host_http_fetch(&probe, &c->http, why, sizeof why);
        snprintf(c->err, sizeof c->err, "app %s: %s", c->app->name, why);
        return ret_i32(r, -1);
    }
    /* the request's trace goes on (W3C Trace Context): a traceparent of
     * its own unless the guest set one */
    const srv_request *q = c->req;
    char tp[SRV_TRACEPARENT_LEN + 1];
    bool pass_trace = q && q->traceparent && !has_header(hdrs, a[5].of.i32, "traceparent");
    if (pass_trace) srv_traceparent_child(q->traceparent, tp);
    size_t hl = (size_t)a[5].of.i32, extra = pass_trace ? sizeof "traceparent: \n" + sizeof tp : 0;
    if (hl || extra) {
        h = malloc(hl + extra + 2);
        if (!h) {
            snprintf(c->err, sizeof c->err, "http_send: out of memory");
            return ret_err(r, -2);
        }
        memcpy(h, hdrs, hl);
        if (pass_trace) {
            if (hl && h[hl - 1] != '\n') h[hl++] = '\n';
            hl += (size_t)sprintf(h + hl, "traceparent: %s\n", tp);
        }
        h[hl] = 0;
    }
    host_http_request req = {.method = m,
                             .url = u,
                             .headers = h,
                             .body = body,
                             .body_len = a[7].of.i32,
                             .timeout_ms = cfg->http_timeout_ms,
                             .max_response = (size_t)cfg->http_max_response,
                             .allow = (const char *const *)cfg->http_allow,
                             .nallow = (size_t)cfg->nhttp_allow};
    int rc = host_http_fetch(&req, &c->http, c->err, sizeof c->err);
    free(h);
    return ret_err(r, rc == HOST_OK ? c->http.status : -2);
}

static wasm_trap_code cap_http_body(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    srv_caps *c = env;
    if (!copy_out(caller, a[0].of.i32, a[1].of.i32, c->http.body.data, c->http.body.len))
        return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, clamp_len(c->http.body.len));
}

static wasm_trap_code cap_http_headers(void *env, wasm_instance *caller, const wasm_value *a,
                                       wasm_value *r) {
    srv_caps *c = env;
    if (!copy_out(caller, a[0].of.i32, a[1].of.i32, c->http.headers.data, c->http.headers.len))
        return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, clamp_len(c->http.headers.len));
}

/* ---- linking --------------------------------------------------------------- */

static const wasm_host_func cap_funcs[] = {
    {"err_message", "ii>i", cap_err_message}, {"kv_open", "ii>i", cap_kv_open},
    {"kv_get", "iiiii>i", cap_kv_get},        {"kv_set", "iiiiiI>i", cap_kv_set},
    {"kv_delete", "iii>i", cap_kv_delete},    {"kv_exists", "iii>i", cap_kv_exists},
    {"kv_incr", "iiiIi>i", cap_kv_incr},      {"kv_list", "iiiii>i", cap_kv_list},
    {"var_get", "iiii>i", cap_var_get},       {"log", "iii>i", cap_log},
    {"sql_open", "ii>i", cap_sql_open},       {"sql_exec", "iiiii>i", cap_sql_exec},
    {"sql_result", "ii>i", cap_sql_result},   {"http_send", "iiiiiiii>i", cap_http_send},
    {"http_body", "ii>i", cap_http_body},     {"http_headers", "ii>i", cap_http_headers},
};

bool srv_caps_link(srv_caps *c, wasm_linker *l, wasm_error *err) {
    return wasm_linker_funcs(l, "wasp", cap_funcs, sizeof cap_funcs / sizeof cap_funcs[0], c, err);
}
