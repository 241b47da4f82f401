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

#include "host/host.h"
#include "server/internal.h"

struct srv_caps {
    const srv_app *app;
    host_kv **kv; /* one per granted store, opened on first kv_open */
    const srv_request *req;
    host_buf buf; /* results on their way to the guest */
    char err[512];
};

srv_caps *srv_caps_new(const srv_app *app) {
    srv_caps *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->app = app;
    c->kv = calloc((size_t)app->nstores + 1, sizeof *c->kv);
    if (!c->kv) {
        free(c);
        return NULL;
    }
    return c;
}

void srv_caps_free(srv_caps *c) {
    if (!c) return;
    for (int i = 0; i < c->app->nstores; i++)
        host_kv_close(c->kv[i]);
    free(c->kv);
    free(c->buf.data);
    free(c);
}

void srv_caps_begin(srv_caps *c, const srv_request *req) {
    c->req = req;
    c->err[0] = 0;
}

void srv_caps_end(srv_caps *c) {
    c->req = NULL;
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

static uint8_t *guest(wasm_instance *caller, uint32_t ptr, uint32_t len) {
    uint64_t size;
    uint8_t *mem = caller ? wasm_instance_memory(caller, &size) : NULL;
    if (!mem || (uint64_t)ptr + len > size) return NULL;
    return mem + ptr;
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
    uint8_t *dst = guest(caller, ptr, n);
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
    const char *name = (const char *)guest(caller, a[0].of.i32, a[1].of.i32);
    if (!name) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[1].of.i32;
    for (int i = 0; i < c->app->nstores; i++) {
        const char *s = c->app->stores[i]->name;
        if (strlen(s) == n && !memcmp(s, name, n)) {
            if (!store(c, i)) return ret_i32(r, -2);
            return ret_i32(r, i);
        }
    }
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 64 ? n : 64), name);
    for (char *p = shown; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '"') *p = '?';
    return ret_i32(r, fail(c, -1,
                           "store \"%s\" is not granted to app \"%s\" (grant it in the manifest: "
                           "kv: [name])",
                           shown, c->app->name));
}

static wasm_trap_code cap_kv_get(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = guest(caller, a[1].of.i32, a[2].of.i32);
    if (!key || !guest(caller, a[3].of.i32, 0)) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    c->buf.len = 0;
    int rc = host_kv_get(kv, key, a[2].of.i32, &c->buf, c->err, sizeof c->err);
    if (rc == HOST_NOT_FOUND) return ret_i32(r, -1);
    if (rc != HOST_OK) return ret_i32(r, -2);
    if (!copy_out(caller, a[3].of.i32, a[4].of.i32, c->buf.data, c->buf.len))
        return WASM_TRAP_OOB_MEMORY;
    return ret_i32(r, clamp_len(c->buf.len));
}

static wasm_trap_code cap_kv_set(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = guest(caller, a[1].of.i32, a[2].of.i32);
    const uint8_t *val = guest(caller, a[3].of.i32, a[4].of.i32);
    if (!key || !val) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    int64_t ttl = (int64_t)a[5].of.i64;
    if (ttl < 0) return ret_i32(r, fail(c, -2, "kv_set: negative ttl%s%s", "", ""));
    int rc =
        host_kv_set(kv, key, a[2].of.i32, val, a[4].of.i32, (uint64_t)ttl, c->err, sizeof c->err);
    return ret_i32(r, rc == HOST_OK ? 0 : -2);
}

static wasm_trap_code cap_kv_delete(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = guest(caller, a[1].of.i32, a[2].of.i32);
    if (!key) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    bool existed = false;
    int rc = host_kv_delete(kv, key, a[2].of.i32, &existed, c->err, sizeof c->err);
    return ret_i32(r, rc == HOST_OK ? existed : -2);
}

static wasm_trap_code cap_kv_exists(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = guest(caller, a[1].of.i32, a[2].of.i32);
    if (!key) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    bool exists = false;
    int rc = host_kv_exists(kv, key, a[2].of.i32, &exists, c->err, sizeof c->err);
    return ret_i32(r, rc == HOST_OK ? exists : -2);
}

static wasm_trap_code cap_kv_incr(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *key = guest(caller, a[1].of.i32, a[2].of.i32);
    uint8_t *out = guest(caller, a[4].of.i32, 8);
    if (!key || !out) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    int64_t v = 0;
    int rc = host_kv_incr(kv, key, a[2].of.i32, (int64_t)a[3].of.i64, &v, c->err, sizeof c->err);
    if (rc != HOST_OK) return ret_i32(r, -2);
    for (int i = 0; i < 8; i++) /* little-endian, as the guest reads it */
        out[i] = (uint8_t)((uint64_t)v >> (8 * i));
    return ret_i32(r, 0);
}

static wasm_trap_code cap_kv_list(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_caps *c = env;
    const uint8_t *prefix = guest(caller, a[1].of.i32, a[2].of.i32);
    uint32_t cap = a[4].of.i32;
    uint8_t *dst = guest(caller, a[3].of.i32, cap);
    if (!prefix || !dst) return WASM_TRAP_OOB_MEMORY;
    host_kv *kv = store(c, (int32_t)a[0].of.i32);
    if (!kv) return ret_i32(r, -2);
    c->buf.len = 0;
    if (host_kv_list(kv, prefix, a[2].of.i32, 0, &c->buf, c->err, sizeof c->err) != HOST_OK)
        return ret_i32(r, -2);
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
    const char *name = (const char *)guest(caller, a[0].of.i32, a[1].of.i32);
    if (!name || !guest(caller, a[2].of.i32, 0)) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[1].of.i32;
    const srv_app_cfg *cfg = c->app->cfg;
    for (int i = 0; i < cfg->nvars; i++) {
        if (strlen(cfg->vars[i].name) != n || memcmp(cfg->vars[i].name, name, n)) continue;
        const char *v = c->app->var_values[i];
        if (!copy_out(caller, a[2].of.i32, a[3].of.i32, v, strlen(v))) return WASM_TRAP_OOB_MEMORY;
        return ret_i32(r, clamp_len(strlen(v)));
    }
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 64 ? n : 64), name);
    for (char *p = shown; *p; p++)
        if ((unsigned char)*p < ' ' || *p == '"') *p = '?';
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
    const char *msg = (const char *)guest(caller, a[1].of.i32, a[2].of.i32);
    if (!msg) return WASM_TRAP_OOB_MEMORY;
    size_t n = a[2].of.i32 < 4096 ? a[2].of.i32 : 4096;
    const srv_request *q = c->req;
    srv_log *l = q ? q->log : NULL;
    if (l && l->fd >= 0) {
        srv_log_ts(l);
        srv_log_append(l, " level=%s app=%s req=%s msg=", levels[lv < 4 ? lv : 1], c->app->name,
                       q->id);
        srv_log_value(l, msg, n);
        srv_log_end(l);
    } else {
        srv_event("app %s: %s: %.*s", c->app->name, levels[lv < 4 ? lv : 1], (int)n, msg);
    }
    return ret_i32(r, 0);
}

/* ---- linking --------------------------------------------------------------- */

typedef struct cap_func {
    const char *name;
    const char *sig; /* i: i32, I: i64; '>' separates the results */
    wasm_host_fn fn;
} cap_func;

static const cap_func cap_funcs[] = {
    {"err_message", "ii>i", cap_err_message}, {"kv_open", "ii>i", cap_kv_open},
    {"kv_get", "iiiii>i", cap_kv_get},        {"kv_set", "iiiiiI>i", cap_kv_set},
    {"kv_delete", "iii>i", cap_kv_delete},    {"kv_exists", "iii>i", cap_kv_exists},
    {"kv_incr", "iiiIi>i", cap_kv_incr},      {"kv_list", "iiiii>i", cap_kv_list},
    {"var_get", "iiii>i", cap_var_get},       {"log", "iii>i", cap_log},
};

bool srv_caps_link(srv_caps *c, wasm_linker *l, wasm_error *err) {
    for (size_t i = 0; i < sizeof cap_funcs / sizeof cap_funcs[0]; i++) {
        wasm_valtype types[2][8];
        uint32_t count[2] = {0, 0};
        int side = 0;
        for (const char *p = cap_funcs[i].sig; *p; p++) {
            if (*p == '>')
                side = 1;
            else
                types[side][count[side]++] = *p == 'I' ? WASM_I64 : WASM_I32;
        }
        if (!wasm_linker_func(l, "wasp", cap_funcs[i].name, count[0], types[0], count[1], types[1],
                              cap_funcs[i].fn, c, err))
            return false;
    }
    return true;
}
