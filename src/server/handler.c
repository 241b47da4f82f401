/*
 * handler.c - one HTTP request in one clean instance, through either
 * interface (docs/abi.md):
 *
 *   WAGI      the request goes in as CGI variables and stdin; `_start`
 *             runs; stdout must be CGI headers, a blank line and the body.
 *   wasp ABI  `wasp_handle` runs and pulls what it needs through the "wasp"
 *             imports below, which copy straight between the request or
 *             response and guest memory.
 *
 * A slot is an app's state in one worker: a linker whose host functions
 * are bound to the slot, one WASI context reset per request, and one idle
 * instance made from the app's snapshot and reset to it after every
 * request. Handlers run to completion on the worker's thread, limited by
 * the app's deadline, fuel and memory cap; every outcome, trap included,
 * becomes a response, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/internal.h"

struct srv_slot {
    const srv_app *app;
    wasm_linker *linker;
    wasi_ctx *wasi;
    srv_caps *caps;        /* kv, vars, log (caps.c) */
    wasm_instance *inst;   /* idle or running; NULL until first needed */
    wasm_extern entry;     /* inst's wasp_handle, _start or wasp_filter */
    wasm_extern buffer;    /* a filter's wasp_filter_buffer */
    wasm_extern flush;     /* and its wasp_filter_flush (obj NULL: none) */
    bool dirty;            /* inst has run since its last reset */
    srv_response own_resp; /* what srv_slot_response hands out */
    /* during a call */
    srv_batch *out; /* a filter's: what emit appends to */
    uint64_t max_out;
    bool out_full;
    const srv_request *req;
    srv_response *resp;
    bool status_set;
    bool streamed; /* part of the body went out: status and headers are sent */
    /* per-request scratch for WAGI's environment */
    char *envbuf;
    size_t envcap;
    const char **envp;
    size_t envpcap;
};

/* ---- responses ------------------------------------------------------------ */

void srv_response_init(srv_response *r) {
    memset(r, 0, sizeof *r);
    r->status = 200;
}

void srv_response_clear(srv_response *r) {
    r->status = 200;
    r->hlen = r->nhdrs = 0;
    r->body = NULL;
    r->body_len = r->own_len = 0;
}

void srv_response_free(srv_response *r) {
    free(r->hbuf);
    free(r->hoff);
    free(r->own);
    memset(r, 0, sizeof *r);
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*buf, n * elem);
    if (!p) return false;
    *buf = p;
    *cap = n;
    return true;
}

bool srv_response_add_header(srv_response *r, const char *name, size_t nlen, const char *value,
                             size_t vlen) {
    if (nlen > 8192 || vlen > 65536 || r->nhdrs >= 100) return false;
    if (!grow((void **)&r->hbuf, &r->hcap, r->hlen + nlen + vlen, 1) ||
        !grow((void **)&r->hoff, &r->hoffcap, r->nhdrs + 1, sizeof *r->hoff))
        return false;
    memcpy(r->hbuf + r->hlen, name, nlen);
    memcpy(r->hbuf + r->hlen + nlen, value, vlen);
    r->hoff[r->nhdrs][0] = (uint32_t)r->hlen;
    r->hoff[r->nhdrs][1] = (uint32_t)nlen;
    r->hoff[r->nhdrs][2] = (uint32_t)(r->hlen + nlen);
    r->hoff[r->nhdrs][3] = (uint32_t)vlen;
    r->hlen += nlen + vlen;
    r->nhdrs++;
    return true;
}

/* RFC 9110 token characters, for header names. */
static bool is_token(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 32 || c >= 127 || strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
    }
    return true;
}

/* RFC 9110 5.5 field-value characters: VCHAR, obs-text, SP and HTAB; no
 * other control character (CR, LF, NUL, 0x01, DEL...). */
static bool is_field_value(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 32 && c != '\t') || c == 127) return false;
    }
    return true;
}

/* Response headers the server owns: a handler may not set them (the wasp
 * ABI refuses them, WAGI output's are dropped). Date and Server are sent
 * by the server on every response; a handler's would make them twice. */
static bool is_hop_header(const char *s, size_t n) {
    static const char *const owned[] = {"content-length", "transfer-encoding", "connection",
                                        "keep-alive",     "upgrade",           "date",
                                        "server"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (n == strlen(owned[i]) && !strncasecmp(s, owned[i], n)) return true;
    return false;
}

/* ---- the wasp ABI's imports ----------------------------------------------- */

/* Copies min(len, cap) bytes of src to guest buf; the full length goes
 * back to the guest, which can then call again with a larger buffer. */
static wasm_trap_code copy_out(wasm_instance *caller, const wasm_value *a, wasm_value *r,
                               const void *src, size_t len) {
    uint32_t cap = a[1].of.i32;
    uint32_t n = len < cap ? (uint32_t)len : cap;
    uint8_t *dst = wasm_guest_bytes(caller, a[0].of.i32, n);
    if (!dst) return WASM_TRAP_OOB_MEMORY;
    if (n) memcpy(dst, src, n);
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = len > INT32_MAX ? INT32_MAX : (uint32_t)len};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_req_method(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    srv_slot *s = env;
    return s->req ? copy_out(caller, a, r, s->req->method, s->req->method_len)
                  : copy_out(caller, a, r, "", 0);
}

static wasm_trap_code abi_req_uri(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    srv_slot *s = env;
    return s->req ? copy_out(caller, a, r, s->req->uri, s->req->uri_len)
                  : copy_out(caller, a, r, "", 0);
}

static wasm_trap_code abi_req_header(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    srv_slot *s = env;
    const uint8_t *name = wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    if (!name || !wasm_guest_bytes(caller, a[2].of.i32, 0)) return WASM_TRAP_OOB_MEMORY;
    size_t nlen = a[1].of.i32;
    /* Repeated headers are joined with ", " as RFC 9110 allows; written
     * straight into the guest buffer, counting what does not fit. */
    uint32_t cap = a[3].of.i32;
    uint8_t *dst = wasm_guest_bytes(caller, a[2].of.i32, cap);
    if (!dst) return WASM_TRAP_OOB_MEMORY;
    size_t total = 0;
    bool found = false;
    for (size_t i = 0; s->req && i < s->req->nheaders; i++) {
        const srv_header *h = &s->req->headers[i];
        if (h->name_len != nlen || strncasecmp(h->name, (const char *)name, nlen)) continue;
        const char *parts[2] = {", ", h->value};
        size_t lens[2] = {found ? 2 : 0, h->value_len};
        for (int k = 0; k < 2; k++) {
            if (total < cap) {
                size_t n = cap - total < lens[k] ? cap - total : lens[k];
                memcpy(dst + total, parts[k], n);
            }
            total += lens[k];
        }
        found = true;
    }
    int32_t ret = !found ? -1 : total > INT32_MAX ? INT32_MAX : (int32_t)total;
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = (uint32_t)ret};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_req_headers(void *env, wasm_instance *caller, const wasm_value *a,
                                      wasm_value *r) {
    srv_slot *s = env;
    uint32_t cap = a[1].of.i32;
    uint8_t *dst = wasm_guest_bytes(caller, a[0].of.i32, cap);
    if (!dst) return WASM_TRAP_OOB_MEMORY;
    size_t total = 0;
    for (size_t i = 0; s->req && i < s->req->nheaders; i++) {
        const srv_header *h = &s->req->headers[i];
        const char *parts[4] = {h->name, ": ", h->value, "\n"};
        size_t lens[4] = {h->name_len, 2, h->value_len, 1};
        for (int k = 0; k < 4; k++) {
            if (total < cap) {
                size_t n = cap - total < lens[k] ? cap - total : lens[k];
                memcpy(dst + total, parts[k], n);
                if (k == 0) /* names go to the guest in lower case */
                    for (size_t j = 0; j < n; j++)
                        if (dst[total + j] >= 'A' && dst[total + j] <= 'Z') dst[total + j] += 32;
            }
            total += lens[k];
        }
    }
    r[0] =
        (wasm_value){.type = WASM_I32, .of.i32 = total > INT32_MAX ? INT32_MAX : (uint32_t)total};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_req_body_len(void *env, wasm_instance *caller, const wasm_value *a,
                                       wasm_value *r) {
    srv_slot *s = env;
    size_t n = s->req ? s->req->body_len : 0;
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = n > INT32_MAX ? INT32_MAX : (uint32_t)n};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_req_body(void *env, wasm_instance *caller, const wasm_value *a,
                                   wasm_value *r) {
    srv_slot *s = env;
    size_t len = s->req ? s->req->body_len : 0;
    uint32_t cap = a[1].of.i32, off = a[2].of.i32;
    size_t left = off < len ? len - off : 0;
    uint32_t n = left < cap ? (uint32_t)left : cap;
    uint8_t *dst = wasm_guest_bytes(caller, a[0].of.i32, n);
    if (!dst) return WASM_TRAP_OOB_MEMORY;
    if (n) memcpy(dst, s->req->body + off, n);
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = n};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_resp_status(void *env, wasm_instance *caller, const wasm_value *a,
                                      wasm_value *r) {
    srv_slot *s = env;
    int32_t code = (int32_t)a[0].of.i32;
    int32_t rc = -1;
    /* 1xx are interim responses, which the server does not send for a
     * handler: a final 1xx would leave its body to be read as the next
     * response on the connection. */
    if (code >= 200 && code <= 599 && s->resp && !s->streamed) {
        s->resp->status = code;
        s->status_set = true;
        rc = 0;
    }
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = (uint32_t)rc};
    return WASM_TRAP_NONE;
}

static wasm_trap_code abi_resp_header(void *env, wasm_instance *caller, const wasm_value *a,
                                      wasm_value *r) {
    srv_slot *s = env;
    const char *name = (const char *)wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    const char *val = (const char *)wasm_guest_bytes(caller, a[2].of.i32, a[3].of.i32);
    if (!name || !val) return WASM_TRAP_OOB_MEMORY;
    size_t nlen = a[1].of.i32, vlen = a[3].of.i32;
    bool ok = s->resp && !s->streamed && is_token(name, nlen) && is_field_value(val, vlen) &&
              !is_hop_header(name, nlen) && srv_response_add_header(s->resp, name, nlen, val, vlen);
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = ok ? 0 : (uint32_t)-1};
    return WASM_TRAP_NONE;
}

/* Whether the response may be streamed: a serve request (not HEAD, whose
 * body h2o would not send) with a status that has a body. */
static bool can_stream(const srv_slot *s) {
    const srv_request *q = s->req;
    int st = s->resp->status;
    return q && q->stream && !(q->method_len == 4 && !memcmp(q->method, "HEAD", 4)) && st != 204 &&
           st != 205 && st != 304;
}

static wasm_trap_code abi_resp_body(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    srv_slot *s = env;
    uint32_t len = a[1].of.i32;
    const uint8_t *src = wasm_guest_bytes(caller, a[0].of.i32, len);
    if (!src) return WASM_TRAP_OOB_MEMORY;
    srv_response *resp = s->resp;
    bool ok;
    if (resp && resp->own_len + len > SRV_STREAM_CHUNK && can_stream(s)) {
        /* What was held goes out first, then these bytes straight from the
         * guest's memory (the guest waits meanwhile), or they are held if
         * few. */
        const srv_request *q = s->req;
        ok = resp->own_len == 0 || q->stream(q->stream_arg, resp, resp->own, resp->own_len);
        s->streamed = true;
        resp->own_len = 0;
        if (ok && len > SRV_STREAM_CHUNK) {
            ok = q->stream(q->stream_arg, resp, src, len);
            len = 0;
        }
    } else {
        ok = resp && (uint64_t)resp->own_len + len <= SRV_MAX_RESPONSE;
    }
    ok = ok && grow((void **)&resp->own, &resp->own_cap, resp->own_len + len + 1, 1);
    if (ok) {
        memcpy(resp->own + resp->own_len, src, len);
        resp->own_len += len;
    }
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = ok ? 0 : (uint32_t)-1};
    return WASM_TRAP_NONE;
}

/* emit(value, value_len, key, key_len, ts_ms) -> 0, or -1 past the
 * batch's output limit (or outside a filter call). key_len 0xffffffff: no
 * key. */
static wasm_trap_code abi_emit(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    srv_slot *s = env;
    uint32_t vlen = a[1].of.i32, klen = a[3].of.i32;
    bool keyed = klen != SRV_NO_KEY;
    const uint8_t *v = wasm_guest_bytes(caller, a[0].of.i32, vlen);
    const uint8_t *k = wasm_guest_bytes(caller, a[2].of.i32, keyed ? klen : 0);
    if (!v || !k) return WASM_TRAP_OOB_MEMORY;
    bool ok =
        s->out && !s->out_full && s->out->len + (uint64_t)vlen + (keyed ? klen : 0) <= s->max_out &&
        srv_batch_add(s->out, v, vlen, keyed ? k : NULL, keyed ? klen : 0, (int64_t)a[4].of.i64);
    if (!ok && s->out) s->out_full = true;
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = ok ? 0 : (uint32_t)-1};
    return WASM_TRAP_NONE;
}

static const wasm_host_func abi_funcs[] = {
    {"emit", "iiiiI>i", abi_emit},
    {"req_method", "ii>i", abi_req_method},
    {"req_uri", "ii>i", abi_req_uri},
    {"req_header", "iiii>i", abi_req_header},
    {"req_headers", "ii>i", abi_req_headers},
    {"req_body_len", ">i", abi_req_body_len},
    {"req_body", "iii>i", abi_req_body},
    {"resp_status", "i>i", abi_resp_status},
    {"resp_header", "iiii>i", abi_resp_header},
    {"resp_body", "ii>i", abi_resp_body},
};

static bool link_abi(srv_slot *s, wasm_error *err) {
    return wasm_linker_funcs(s->linker, "wasp", abi_funcs, sizeof abi_funcs / sizeof abi_funcs[0],
                             s, err);
}

/* ---- slots ---------------------------------------------------------------- */

/* A slot without an instance: linker, WASI context, host functions. The
 * app's granted directories are opened here, once per worker. */
static srv_slot *slot_prepare(const srv_app *app, char *err, size_t errlen) {
    srv_slot *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = app;
    srv_response_init(&s->own_resp);
    if (app->iface == SRV_IFACE_INGEST) return s; /* no instance: the companion answers */
    const srv_app_cfg *c = app->cfg;
    wasi_preopen *pre = calloc((size_t)c->ndirs + 1, sizeof *pre);
    if (!pre) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    for (int i = 0; i < c->ndirs; i++)
        pre[i] = (wasi_preopen){c->dirs[i].host, c->dirs[i].guest, c->dirs[i].readonly};
    const char *argv0[1] = {app->name};
    wasi_config wc = {.argc = 1,
                      .argv = argv0,
                      .envc = c->nenv,
                      .envp = (const char *const *)c->env,
                      .npreopens = c->ndirs,
                      .preopens = pre};
    wc.stdio[0] = (wasi_stdio){.kind = WASI_STDIO_BUFFER};
    wc.stdio[1] = (wasi_stdio){.kind = WASI_STDIO_BUFFER, .cap = SRV_MAX_WAGI_OUTPUT};
    wc.stdio[2] = (wasi_stdio){.kind = WASI_STDIO_BUFFER, .cap = 65536};
    s->wasi = wasi_ctx_new(&wc, err, errlen);
    free(pre);
    wasm_error werr;
    if (!s->wasi) goto fail;
    s->linker = wasm_linker_new();
    s->caps = srv_caps_new(app);
    if (!s->linker || !s->caps || !wasi_link(s->wasi, s->linker, &werr) || !link_abi(s, &werr) ||
        !srv_caps_link(s->caps, s->linker, &werr)) {
        snprintf(err, errlen, "cannot set up the host functions: %s",
                 s->linker && s->caps ? werr.msg : "out of memory");
        goto fail;
    }
    wasm_linker_limit_memory(s->linker, c->max_memory_pages);
    return s;
fail:
    srv_slot_free(s);
    return NULL;
}

srv_slot *srv_slot_new(const srv_app *app, char *err, size_t errlen) {
    return slot_prepare(app, err, errlen);
}

void srv_slot_free(srv_slot *s) {
    if (!s) return;
    wasm_instance_free(s->inst);
    wasm_linker_free(s->linker);
    wasi_ctx_free(s->wasi);
    srv_caps_free(s->caps);
    srv_response_free(&s->own_resp);
    free(s->envbuf);
    free(s->envp);
    free(s);
}

const wasm_linker *srv_slot_linker(const srv_slot *s) {
    return s->linker;
}

srv_response *srv_slot_response(srv_slot *s) {
    return &s->own_resp;
}

void srv_slot_interrupt(srv_slot *s) {
    if (s->inst) wasm_interrupt(s->inst);
}

int srv_slot_idle(const srv_slot *s) {
    return (s->inst && !s->dirty) || s->app->iface == SRV_IFACE_INGEST;
}

static const char *trap_text(wasm_trap_code t) {
    return wasm_trap_message(t);
}

wasm_snapshot *srv_app_snapshot(const srv_app *app, char *err, size_t errlen) {
    srv_slot *s = slot_prepare(app, err, errlen);
    if (!s) return NULL;
    wasm_error werr;
    wasm_snapshot *snap = NULL;
    wasm_instance *inst = wasm_instance_new(app->module, s->linker, &werr);
    if (!inst) {
        snprintf(err, errlen, "cannot instantiate: %s", werr.msg);
        goto done;
    }
    /* A reactor's _initialize (wasi-libc's constructors), then the app's
     * own initialiser: both once, here, never per request. */
    bool filter = app->iface == SRV_IFACE_FILTER;
    const char *inits[2] = {app->iface != SRV_IFACE_WAGI ? "_initialize" : NULL,
                            app->cfg->init ? app->cfg->init
                            : filter       ? "wasp_filter_init"
                                           : NULL};
    for (int i = 0; i < 2; i++) {
        wasm_extern f;
        if (!inits[i] || !wasm_instance_export(inst, inits[i], &f) || f.kind != WASM_EXTERN_FUNC)
            continue;
        const wasm_functype *ft = wasm_func_type(f);
        if (ft->nparams || ft->nresults > 1) {
            snprintf(err, errlen, "init export \"%s\" must take no parameters", inits[i]);
            goto done;
        }
        wasm_value res[1];
        wasm_call_opts opts = {.deadline_ms = app->cfg->deadline_ms, .fuel = app->cfg->fuel};
        wasm_trap_code t = wasm_call_ex(f, NULL, res, &opts);
        int code = 0;
        if (t == WASM_TRAP_EXIT && wasi_exit_code(s->wasi, &code) && code == 0) t = WASM_TRAP_NONE;
        size_t elen;
        const uint8_t *eout = wasi_captured(s->wasi, 2, &elen);
        if (elen)
            srv_event("app %s: %s wrote to stderr: %.*s", app->name, inits[i], (int)elen,
                      (const char *)eout);
        if (t != WASM_TRAP_NONE) {
            snprintf(err, errlen, "%s trapped: %s", inits[i], trap_text(t));
            goto done;
        }
        if (filter && i == 1 && ft->nresults == 1 && res[0].of.i32 != 0) {
            snprintf(err, errlen, "%s returned %d: the filter refused its configuration", inits[i],
                     (int32_t)res[0].of.i32);
            goto done;
        }
    }
    snap = wasm_snapshot_take(inst, &werr);
    if (!snap) snprintf(err, errlen, "cannot snapshot: %s", werr.msg);
done:
    wasm_instance_free(inst);
    srv_slot_free(s);
    return snap;
}

/* ---- WAGI ----------------------------------------------------------------- */

/* Appends "KEY=VALUE" (value of length vlen) to the slot's env scratch;
 * pointers are fixed up after the last one, since the buffer may move. */
static bool env_add(srv_slot *s, size_t *used, size_t *n, const char *key, const char *val,
                    size_t vlen) {
    size_t klen = strlen(key);
    if (!grow((void **)&s->envbuf, &s->envcap, *used + klen + vlen + 2, 1) ||
        !grow((void **)&s->envp, &s->envpcap, *n + 1, sizeof *s->envp))
        return false;
    char *p = s->envbuf + *used;
    memcpy(p, key, klen);
    p[klen] = '=';
    memcpy(p + klen + 1, val, vlen);
    p[klen + 1 + vlen] = 0;
    s->envp[(*n)++] = (const char *)(uintptr_t)*used; /* an offset until fixed up */
    *used += klen + vlen + 2;
    return true;
}

/* Header names that become CGI variables: letters, digits and '-' only.
 * '-' and '_' both become '_', so a client's "X_Forwarded_For" would sit
 * beside (and, first, shadow) what a proxy sent as X-Forwarded-For, and
 * "Content_Type" would pose as CONTENT_TYPE: such names are left out, as
 * Apache and nginx do. */
static bool is_cgi_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* The value of header i joined with the later ones of the same name by
 * ", " (RFC 3875 4.1.18), built in *buf when there are any; false when out
 * of memory. */
static bool join_repeated(const srv_request *q, size_t i, char **buf, const char **val,
                          size_t *vlen) {
    const srv_header *h = &q->headers[i];
    size_t total = h->value_len, more = 0;
    for (size_t j = i + 1; j < q->nheaders; j++)
        if (q->headers[j].name_len == h->name_len &&
            !strncasecmp(q->headers[j].name, h->name, h->name_len)) {
            total += 2 + q->headers[j].value_len;
            more++;
        }
    if (!more) return true;
    char *p = realloc(*buf, total + 1);
    if (!p) return false;
    *buf = p;
    memcpy(p, h->value, h->value_len);
    size_t n = h->value_len;
    for (size_t j = i + 1; j < q->nheaders; j++)
        if (q->headers[j].name_len == h->name_len &&
            !strncasecmp(q->headers[j].name, h->name, h->name_len)) {
            memcpy(p + n, ", ", 2);
            memcpy(p + n + 2, q->headers[j].value, q->headers[j].value_len);
            n += 2 + q->headers[j].value_len;
        }
    *val = p;
    *vlen = n;
    return true;
}

static bool build_cgi_env(srv_slot *s, const srv_request *q, size_t *count) {
    const srv_app_cfg *c = s->app->cfg;
    size_t used = 0, n = 0;
    char num[32];
    bool ok = true;
    for (int i = 0; i < c->nenv && ok; i++) {
        const char *eq = strchr(c->env[i], '=');
        char key[256];
        size_t kl = eq ? (size_t)(eq - c->env[i]) : strlen(c->env[i]);
        if (kl >= sizeof key) continue;
        memcpy(key, c->env[i], kl);
        key[kl] = 0;
        ok = env_add(s, &used, &n, key, eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
    }
    size_t base = strlen(c->route_base);
    if (base && c->route_base[base - 1] == '/') base--;
    size_t script = q->path_len < base ? q->path_len : base;
#define ADD(k, v, l) ok = ok && env_add(s, &used, &n, k, v, l)
#define ADDS(k, v) ADD(k, v, strlen(v))
    ADD("REQUEST_METHOD", q->method, q->method_len);
    ADD("SCRIPT_NAME", q->path, script);
    ADD("PATH_INFO", q->path + script, q->path_len - script);
    ADD("X_RAW_PATH_INFO", q->path + script, q->path_len - script);
    ADD("QUERY_STRING", q->query, q->query_len);
    ADDS("SERVER_NAME", q->server_addr);
    snprintf(num, sizeof num, "%d", q->server_port);
    ADDS("SERVER_PORT", num);
    ADDS("SERVER_PROTOCOL", "HTTP/1.1");
    ADDS("SERVER_SOFTWARE", "wasp");
    ADDS("GATEWAY_INTERFACE", "CGI/1.1");
    ADDS("REMOTE_ADDR", q->remote_addr);
    ADDS("REMOTE_HOST", q->remote_addr);
    snprintf(num, sizeof num, "%d", q->remote_port);
    ADDS("REMOTE_PORT", num);
    snprintf(num, sizeof num, "%zu", q->body_len);
    ADDS("CONTENT_LENGTH", num);
    ADDS("X_MATCHED_ROUTE", c->route);
    const char *ctype = "";
    size_t ctlen = 0;
    const char *host = q->server_addr;
    size_t hostlen = strlen(host);
    char *joined = NULL;
    for (size_t i = 0; i < q->nheaders && ok; i++) {
        const srv_header *h = &q->headers[i];
        char key[128] = "HTTP_";
        if (h->name_len > sizeof key - 6 || !is_cgi_name(h->name, h->name_len) ||
            (h->name_len == 5 && !strncasecmp(h->name, "proxy", 5)))
            continue;
        bool seen = false; /* a repeated header went out with its first */
        for (size_t j = 0; j < i && !seen; j++)
            seen = q->headers[j].name_len == h->name_len &&
                   !strncasecmp(q->headers[j].name, h->name, h->name_len);
        if (seen) continue;
        for (size_t k = 0; k < h->name_len; k++) {
            char ch = h->name[k];
            key[5 + k] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
        }
        key[5 + h->name_len] = 0;
        const char *val = h->value;
        size_t vlen = h->value_len;
        if (!join_repeated(q, i, &joined, &val, &vlen)) {
            ok = false;
            break;
        }
        if (!strcmp(key, "HTTP_CONTENT_TYPE")) {
            ctype = h->value;
            ctlen = h->value_len;
        }
        if (!strcmp(key, "HTTP_HOST")) {
            host = h->value;
            hostlen = h->value_len;
        }
        /* RFC 3875 4.1.18: Content-Type and -Length have their own variables */
        if (!strcmp(key, "HTTP_CONTENT_TYPE") || !strcmp(key, "HTTP_CONTENT_LENGTH")) continue;
        ADD(key, val, vlen);
    }
    free(joined);
    ADD("CONTENT_TYPE", ctype, ctlen);
    char *full = malloc(hostlen + q->uri_len + 16);
    if (full) {
        int fl = snprintf(full, hostlen + q->uri_len + 16, "http://%.*s%.*s", (int)hostlen, host,
                          (int)q->uri_len, q->uri);
        ADD("X_FULL_URL", full, (size_t)fl);
        free(full);
    } else {
        ok = false;
    }
#undef ADD
#undef ADDS
    if (!ok) return false;
    for (size_t i = 0; i < n; i++)
        s->envp[i] = s->envbuf + (uintptr_t)s->envp[i];
    *count = n;
    return true;
}

bool srv_cgi_parse(const uint8_t *out, size_t len, srv_response *resp, char *why, size_t whylen) {
    size_t i = 0;
    bool have_status = false, have_location = false;
    for (;;) {
        size_t e = i;
        while (e < len && out[e] != '\n')
            e++;
        if (e == len) {
            snprintf(why, whylen, "WAGI output has no blank line after its headers");
            return false;
        }
        size_t le = e > i && out[e - 1] == '\r' ? e - 1 : e;
        if (le == i) { /* the blank line */
            resp->body = out + e + 1;
            resp->body_len = len - (e + 1);
            break;
        }
        const char *line = (const char *)out + i;
        const char *colon = memchr(line, ':', le - i);
        if (!colon || !is_token(line, (size_t)(colon - line))) {
            snprintf(why, whylen, "WAGI output has a malformed header line: \"%.*s\"",
                     (int)(le - i < 60 ? le - i : 60), line);
            return false;
        }
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1;
        const char *vend = (const char *)out + le;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(vend - v);
        if (nlen == 6 && !strncasecmp(line, "status", 6)) {
            /* exactly three digits, then the end or a reason phrase */
            int code = 0;
            size_t k = 0;
            while (k < vlen && k < 3 && v[k] >= '0' && v[k] <= '9')
                code = code * 10 + (v[k++] - '0');
            if (k != 3 || (vlen > 3 && v[3] != ' ' && v[3] != '\t') || code < 100 || code > 599) {
                snprintf(why, whylen, "WAGI output has a bad Status: \"%.*s\"",
                         (int)(vlen < 60 ? vlen : 60), v);
                return false;
            }
            if (code < 200) {
                snprintf(why, whylen,
                         "WAGI output has a 1xx Status (%d), which is not a final response", code);
                return false;
            }
            resp->status = code;
            have_status = true;
        } else if (!is_hop_header(line, nlen)) {
            if (nlen == 8 && !strncasecmp(line, "location", 8)) have_location = true;
            if (!is_field_value(v, vlen) || !srv_response_add_header(resp, line, nlen, v, vlen)) {
                snprintf(why, whylen, "WAGI output has a header the server cannot send");
                return false;
            }
        }
        i = e + 1;
    }
    if (!have_status && have_location) resp->status = 302;
    return true;
}

/* ---- running -------------------------------------------------------------- */

bool srv_slot_warm(srv_slot *s, char *err, size_t errlen) {
    if (s->app->iface == SRV_IFACE_INGEST) return true;
    if (s->inst) {
        /* native code compiled in the background since the instance was made */
        wasm_instance_adopt_native(s->inst);
        return true;
    }
    wasm_error werr;
    s->inst = wasm_snapshot_instantiate(s->app->snap, s->linker, &werr);
    if (!s->inst) {
        snprintf(err, errlen, "cannot make an instance: %.160s", werr.msg);
        return false;
    }
    srv_iface iface = s->app->iface;
    const char *name = iface == SRV_IFACE_WAGI     ? "_start"
                       : iface == SRV_IFACE_FILTER ? "wasp_filter"
                                                   : "wasp_handle";
    bool ok = wasm_instance_export(s->inst, name, &s->entry) && s->entry.kind == WASM_EXTERN_FUNC;
    if (ok && iface == SRV_IFACE_FILTER) {
        name = "wasp_filter_buffer";
        ok = wasm_instance_export(s->inst, name, &s->buffer) && s->buffer.kind == WASM_EXTERN_FUNC;
        if (!wasm_instance_export(s->inst, "wasp_filter_flush", &s->flush) ||
            s->flush.kind != WASM_EXTERN_FUNC)
            s->flush.obj = NULL;
    }
    if (!ok) {
        snprintf(err, errlen, "the module has no function export %s", name);
        wasm_instance_free(s->inst);
        s->inst = NULL;
        return false;
    }
    return true;
}

/* The Wasm stack of the trap that just ended the guest's call, for the
 * log line (and the 500's body in --dev). */
static void keep_backtrace(srv_result *res) {
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    size_t n = wasm_last_trap_backtrace(frames, WASM_BACKTRACE_MAX);
    wasm_backtrace_text(frames, n, " <- ", res->backtrace, sizeof res->backtrace);
}

/* What the guest's call ending in `t` means for the request: false with
 * res filled when it failed (a trap, an exit with a non-zero code, the
 * deadline). */
static bool call_outcome(srv_slot *s, wasm_trap_code t, srv_result *res) {
    int code = 0;
    if (t == WASM_TRAP_EXIT && wasi_exit_code(s->wasi, &code)) {
        if (code == 0) return true;
        res->outcome = SRV_TRAP;
        res->trap = WASM_TRAP_EXIT;
        snprintf(res->msg, sizeof res->msg, "exited with code %d", code);
        return false;
    }
    if (t == WASM_TRAP_INTERRUPTED) {
        res->outcome = SRV_DEADLINE;
        res->trap = t;
        snprintf(res->msg, sizeof res->msg, "deadline of %u ms exceeded", s->app->cfg->deadline_ms);
        keep_backtrace(res); /* where the handler was when its time ran out */
        return false;
    }
    if (t != WASM_TRAP_NONE) {
        res->outcome = SRV_TRAP;
        res->trap = t;
        wasm_trap_site site;
        char place[300];
        if (wasm_last_trap_site(&site))
            snprintf(res->msg, sizeof res->msg, "%s in %s", trap_text(t),
                     wasm_trap_site_text(&site, place, sizeof place));
        else
            snprintf(res->msg, sizeof res->msg, "%s", trap_text(t));
        keep_backtrace(res);
        return false;
    }
    return true;
}

/* A pipeline's ingest route: the companion takes the batch and answers
 * once it is written (it may wait: this runs on the request's fiber). */
static void run_ingest(srv_slot *s, const srv_request *q, srv_response *resp, srv_result *res) {
    const srv_app *app = s->app;
    const char *name = app->name + strlen("pipeline:");
    if (!app->companion || !app->companion->ingest) {
        res->outcome = SRV_INTERNAL;
        snprintf(res->msg, sizeof res->msg, "no pipeline %s runs here", name);
        return;
    }
    app->companion->ingest(app->companion->arg, name, q, resp, res);
}

void srv_slot_run(srv_slot *s, const srv_request *q, srv_response *resp, srv_result *res) {
    memset(res, 0, sizeof *res);
    srv_response_clear(resp);
    const srv_app *app = s->app;
    if (app->iface == SRV_IFACE_INGEST) {
        run_ingest(s, q, resp, res);
        return;
    }
    uint64_t t0 = srv_now_ns();
    if (!srv_slot_warm(s, res->msg, sizeof res->msg)) {
        res->outcome = SRV_INTERNAL;
        return;
    }
    res->ready_ns = srv_now_ns() - t0;
    bool wagi = app->iface == SRV_IFACE_WAGI;
    size_t nenv = 0;
    const char *argv[1] = {app->name};
    wasi_request wr = {.argc = 1, .argv = argv};
    if (wagi) {
        if (!build_cgi_env(s, q, &nenv)) {
            res->outcome = SRV_INTERNAL;
            snprintf(res->msg, sizeof res->msg, "out of memory building the CGI environment");
            return;
        }
        argv[0] = ""; /* set below, NUL-terminated */
        wr.envc = (int)nenv;
        wr.envp = s->envp;
        wr.stdin_data = q->body;
        wr.stdin_len = q->body_len;
    } else {
        wr.envc = app->cfg->nenv;
        wr.envp = (const char *const *)app->cfg->env;
    }
    char path0[512];
    if (wagi) {
        snprintf(path0, sizeof path0, "%.*s", (int)q->path_len, q->path);
        argv[0] = path0;
    }
    char werr_msg[160];
    if (!wasi_ctx_reset(s->wasi, &wr, werr_msg, sizeof werr_msg)) {
        res->outcome = SRV_INTERNAL;
        snprintf(res->msg, sizeof res->msg, "%s", werr_msg);
        return;
    }
    wasm_extern entry = s->entry;
    s->req = q;
    s->resp = resp;
    srv_caps_begin(s->caps, q);
    s->status_set = false;
    s->streamed = false;
    s->dirty = true;
    wasm_value result[1] = {{.type = WASM_I32}};
    uint32_t deadline_ms = q->deadline_ms ? q->deadline_ms : app->cfg->deadline_ms;
    wasm_call_opts opts = {.deadline_ms = deadline_ms, .fuel = app->cfg->fuel};
    const wasm_functype *ft = wasm_func_type(entry);
    wasm_trap_code t = (ft->nparams == 0 && ft->nresults <= 1)
                           ? wasm_call_ex(entry, NULL, result, &opts)
                           : WASM_TRAP_UNREACHABLE;
    s->req = NULL;
    s->resp = NULL;
    srv_caps_end(s->caps);
    res->errout = wasi_captured(s->wasi, 2, &res->errout_len);
    if (!call_outcome(s, t, res)) return;
    if (wagi) {
        size_t olen;
        const uint8_t *out = wasi_captured(s->wasi, 1, &olen);
        if (olen >= SRV_MAX_WAGI_OUTPUT) {
            /* writes past the cap failed (ENOSPC), so the output is cut:
             * never send a cut body as if it were whole */
            res->outcome = SRV_BADGATEWAY;
            snprintf(res->msg, sizeof res->msg,
                     "WAGI output reached the cap of %u bytes (16 MiB body + 64 KiB headers)",
                     (unsigned)SRV_MAX_WAGI_OUTPUT);
            return;
        }
        if (!srv_cgi_parse(out, olen, resp, res->msg, sizeof res->msg)) {
            srv_response_clear(resp);
            res->outcome = SRV_BADGATEWAY;
        }
        return;
    }
    if (ft->nresults == 1 && result[0].of.i32 != 0 && !s->status_set) {
        res->outcome = SRV_TRAP;
        snprintf(res->msg, sizeof res->msg, "wasp_handle returned %d", (int32_t)result[0].of.i32);
        return;
    }
    resp->body = resp->own;
    resp->body_len = resp->own_len;
}

uint64_t srv_slot_recycle(srv_slot *s) {
    return srv_slot_recycle_counted(s, NULL);
}

uint64_t srv_slot_recycle_counted(srv_slot *s, srv_slot_mem *mem) {
    srv_slot_mem unused;
    if (!mem) mem = &unused;
    memset(mem, 0, sizeof *mem);
    /* Whatever the request opened (files, directories) is closed now, not
     * when the next request comes to this slot, which may be never. A
     * failure to restore the preopens is retried, and reported, by the
     * next request's wasi_ctx_reset. */
    char err[160];
    if (!s->wasi) return 0; /* an ingest route's: nothing to reset */
    wasi_ctx_release(s->wasi, err, sizeof err);
    if (!s->inst || !s->dirty) return 0;
    uint64_t t0 = srv_now_ns();
    /* memory never shrinks: its size now is the request's high-water */
    wasm_instance_memory(s->inst, &mem->bytes);
    const srv_response *r = &s->own_resp;
    mem->host_bytes = r->hcap + r->hoffcap * sizeof *r->hoff + r->own_cap + s->envcap +
                      s->envpcap * sizeof *s->envp;
    mem->rest_bytes = wasm_snapshot_memory_size(s->app->snap);
    if (!wasm_snapshot_reset_counted(s->app->snap, s->inst, &mem->pages_reset)) {
        /* the kernel refused to drop pages: never reuse a dirty instance */
        wasm_instance_free(s->inst);
        s->inst = NULL;
    }
    s->dirty = false;
    return srv_now_ns() - t0;
}

/* ---- filters (`wasp pipe`) -------------------------------------------------- */

bool srv_batch_add(srv_batch *b, const void *value, size_t value_len, const void *key,
                   size_t key_len, int64_t ts_ms) {
    size_t klen = key ? key_len : 0;
    if (b->len + value_len + klen > UINT32_MAX - 1) return false;
    /* one byte more than needed: a batch that has records has bytes, even
     * when they are all empty (b->bytes + offset is then never NULL + 0) */
    if (!grow((void **)&b->bytes, &b->bcap, b->len + value_len + klen + 1, 1) ||
        !grow((void **)&b->recs, &b->cap, b->n + 1, sizeof *b->recs))
        return false;
    srv_rec *r = &b->recs[b->n++];
    r->value = (uint32_t)b->len;
    r->value_len = (uint32_t)value_len;
    if (value_len) memcpy(b->bytes + b->len, value, value_len);
    b->len += value_len;
    r->key = (uint32_t)b->len;
    r->key_len = key ? (uint32_t)klen : SRV_NO_KEY;
    if (klen) memcpy(b->bytes + b->len, key, klen);
    b->len += klen;
    r->ts_ms = ts_ms;
    return true;
}

void srv_batch_clear(srv_batch *b) {
    b->n = b->len = 0;
}

void srv_batch_free(srv_batch *b) {
    free(b->recs);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

/* The guest's view of a record (docs/design/pipe.md, sdk/c/wasp_filter.h):
 * guest addresses, little-endian, 24 bytes. */
typedef struct guest_rec {
    uint32_t value, value_len, key, key_len;
    int64_t ts_ms;
} guest_rec;

/* A filter call's start: a warm instance and the WASI context reset with
 * the app's environment; false with res filled. */
static bool filter_begin(srv_slot *s, srv_result *res) {
    memset(res, 0, sizeof *res);
    const srv_app *app = s->app;
    uint64_t t0 = srv_now_ns();
    if (!srv_slot_warm(s, res->msg, sizeof res->msg)) {
        res->outcome = SRV_INTERNAL;
        return false;
    }
    res->ready_ns = srv_now_ns() - t0;
    const char *argv[1] = {app->name};
    wasi_request wr = {.argc = 1,
                       .argv = argv,
                       .envc = app->cfg->nenv,
                       .envp = (const char *const *)app->cfg->env};
    if (!wasi_ctx_reset(s->wasi, &wr, res->msg, sizeof res->msg)) {
        res->outcome = SRV_INTERNAL;
        return false;
    }
    s->dirty = true;
    return true;
}

/* Calls `fn` (named `name`, for messages) with its emits going to `out`,
 * under the app's limits, and says how it went in res: a trap, the
 * deadline, a non-zero return. */
static void filter_call(srv_slot *s, wasm_extern fn, const char *name, const wasm_value *args,
                        srv_batch *out, uint64_t max_out, srv_result *res) {
    const srv_app *app = s->app;
    wasm_call_opts opts = {.deadline_ms = app->cfg->deadline_ms, .fuel = app->cfg->fuel};
    wasm_value ret[1] = {{.type = WASM_I32}};
    s->out = out;
    s->max_out = max_out;
    s->out_full = false;
    wasm_trap_code t = wasm_call_ex(fn, args, ret, &opts);
    s->out = NULL;
    srv_caps_end(s->caps);
    res->errout = wasi_captured(s->wasi, 2, &res->errout_len);
    if (!call_outcome(s, t, res)) return;
    if (wasm_func_type(fn)->nresults == 1 && ret[0].of.i32 != 0) {
        res->outcome = SRV_TRAP;
        snprintf(res->msg, sizeof res->msg, "%s returned %d", name, (int32_t)ret[0].of.i32);
    }
}

void srv_slot_filter(srv_slot *s, const srv_batch *in, srv_batch *out, uint64_t max_out,
                     srv_result *res) {
    if (!filter_begin(s, res)) return;
    uint64_t need = (uint64_t)in->n * sizeof(guest_rec) + in->len;
    if (need > INT32_MAX) {
        res->outcome = SRV_INTERNAL;
        snprintf(res->msg, sizeof res->msg, "a batch of %llu bytes is too large for a filter",
                 (unsigned long long)need);
        return;
    }
    const wasm_functype *bt = wasm_func_type(s->buffer), *ft = wasm_func_type(s->entry);
    if (bt->nparams != 1 || bt->params[0] != WASM_I32 || bt->nresults != 1 ||
        bt->results[0] != WASM_I32 || ft->nparams != 2 || ft->params[0] != WASM_I32 ||
        ft->params[1] != WASM_I32 || ft->nresults > 1) {
        res->outcome = SRV_TRAP;
        snprintf(res->msg, sizeof res->msg,
                 "wasp_filter_buffer must be (i32) -> i32 and wasp_filter (i32, i32) -> i32");
        return;
    }
    /* room for the batch in the guest's memory, from the guest */
    wasm_call_opts opts = {.deadline_ms = s->app->cfg->deadline_ms, .fuel = s->app->cfg->fuel};
    wasm_value arg = {.type = WASM_I32, .of.i32 = (uint32_t)need}, ret[1] = {{.type = WASM_I32}};
    srv_caps_begin(s->caps, NULL);
    wasm_trap_code t = wasm_call_ex(s->buffer, &arg, ret, &opts);
    uint32_t base = ret[0].of.i32;
    uint8_t *dst = t == WASM_TRAP_NONE ? wasm_guest_bytes(s->inst, base, (uint32_t)need) : NULL;
    if (t != WASM_TRAP_NONE || !base || !dst) {
        srv_caps_end(s->caps);
        res->errout = wasi_captured(s->wasi, 2, &res->errout_len);
        if (!call_outcome(s, t, res)) return;
        res->outcome = SRV_TRAP;
        snprintf(res->msg, sizeof res->msg,
                 "wasp_filter_buffer(%llu) gave no room for the batch (returned %u)",
                 (unsigned long long)need, base);
        return;
    }
    /* the batch: descriptors with guest addresses, then the bytes */
    uint32_t data = base + (uint32_t)(in->n * sizeof(guest_rec));
    for (size_t i = 0; i < in->n; i++) {
        const srv_rec *r = &in->recs[i];
        guest_rec g = {data + r->value, r->value_len, r->key_len == SRV_NO_KEY ? 0 : data + r->key,
                       r->key_len, r->ts_ms};
        memcpy(dst + i * sizeof g, &g, sizeof g);
    }
    if (in->len) memcpy(dst + in->n * sizeof(guest_rec), in->bytes, in->len);
    wasm_value args[2] = {{.type = WASM_I32, .of.i32 = base},
                          {.type = WASM_I32, .of.i32 = (uint32_t)in->n}};
    filter_call(s, s->entry, "wasp_filter", args, out, max_out, res);
}

void srv_slot_flush(srv_slot *s, int64_t now_ms, srv_batch *out, uint64_t max_out,
                    srv_result *res) {
    if (!filter_begin(s, res) || !s->flush.obj) return; /* nothing to flush: SRV_OK */
    const wasm_functype *ft = wasm_func_type(s->flush);
    if (ft->nparams != 1 || ft->params[0] != WASM_I64 || ft->nresults > 1) {
        res->outcome = SRV_TRAP;
        snprintf(res->msg, sizeof res->msg, "wasp_filter_flush must be (i64) -> i32");
        return;
    }
    wasm_value arg = {.type = WASM_I64, .of.i64 = (uint64_t)now_ms};
    srv_caps_begin(s->caps, NULL);
    filter_call(s, s->flush, "wasp_filter_flush", &arg, out, max_out, res);
}
