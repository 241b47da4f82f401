/*
 * kv.c - the key-value store API of host.h. Every argument of a public call
 * is checked here, once, so that a backend (kv_sqlite.c, kv_redis.c) only
 * ever sees keys, values, TTLs and limits within the documented bounds
 * (internal.h lists them); then the call goes through the backend's
 * host_kv_ops. Also here: what the backends share - the "store NAME: "
 * message prefix, quoting keys for messages, growing result buffers, and
 * the strict integer parser that makes incr behave alike on both.
 *
 * Result buffers are emptied (len = 0, the allocation kept for reuse)
 * before the backend writes into them, so a failed or not-found call
 * leaves an empty result rather than a stale one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "wasm/wasm.h"

/* Keys longer than this are cut in messages: enough to recognise one. */
#define QUOTE_KEY_BYTES 64

const char *host_kv_display_name(const char *name) {
    return name && *name ? name : "(unnamed)";
}

uint32_t host_wait_ms(uint32_t timeout_ms) {
    int64_t left = wasm_call_time_left_ms();
    if (left >= 0 && left < (int64_t)timeout_ms) return (uint32_t)left;
    return timeout_ms;
}

int host_failv(const char *kind, const char *name, char *err, size_t errlen, const char *fmt,
               va_list ap) {
    if (!err || errlen == 0) return HOST_ERROR;
    int n = snprintf(err, errlen, "%s %s: ", kind, host_kv_display_name(name));
    if (n < 0 || (size_t)n >= errlen) return HOST_ERROR;
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    return HOST_ERROR;
}

int host_kv_fail(const char *name, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    host_failv("store", name, err, errlen, fmt, ap);
    va_end(ap);
    return HOST_ERROR;
}

const char *host_kv_quote(const void *key, size_t klen, char out[HOST_KV_QUOTE_MAX]) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *k = key;
    size_t n = klen > QUOTE_KEY_BYTES ? QUOTE_KEY_BYTES : klen, o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = k[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o++] = '"';
    if (klen > n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

bool host_kv_buf_append(host_buf *b, const void *data, size_t n) {
    if (n == 0) return true;
    if (n > SIZE_MAX - b->len) return false;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2) {
                cap = b->len + n;
                break;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->data, cap);
        if (!p) return false;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return true;
}

bool host_kv_list_append(host_buf *b, const void *key, size_t klen) {
    uint8_t len[4] = {(uint8_t)klen, (uint8_t)(klen >> 8), (uint8_t)(klen >> 16),
                      (uint8_t)(klen >> 24)};
    size_t before = b->len;
    if (!host_kv_buf_append(b, len, 4)) return false;
    if (!host_kv_buf_append(b, key, klen)) {
        b->len = before;
        return false;
    }
    return true;
}

bool host_kv_parse_i64(const void *s, size_t len, int64_t *out) {
    const uint8_t *p = s;
    size_t i = 0;
    bool neg = len > 0 && p[0] == '-';
    if (neg) i = 1;
    if (i == len) return false;
    /* "0" is the only number that starts with 0 ("-0" and "007" are not) */
    if (p[i] == '0') {
        if (len != 1) return false;
        *out = 0;
        return true;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    /* -(INT64_MIN) does not fit: negate in unsigned arithmetic */
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool host_kv_init_base(host_kv *kv, const host_kv_ops *ops, const char *name) {
    kv->ops = ops;
    kv->name = strdup(host_kv_display_name(name));
    return kv->name != NULL;
}

void host_kv_free_base(host_kv *kv) {
    free(kv->name);
    kv->name = NULL;
}

host_kv *host_kv_open(const host_kv_config *cfg, char *err, size_t errlen) {
    if (!cfg) {
        host_kv_fail(NULL, err, errlen, "no configuration given");
        return NULL;
    }
    switch (cfg->backend) {
    case HOST_KV_SQLITE: return host_kv_sqlite_open(cfg, err, errlen);
    case HOST_KV_REDIS: return host_kv_redis_open(cfg, err, errlen);
    }
    host_kv_fail(cfg->name, err, errlen, "unknown backend %d (expected sqlite or redis)",
                 (int)cfg->backend);
    return NULL;
}

void host_kv_close(host_kv *kv) {
    if (kv) kv->ops->close(kv);
}

/* The checks every call that takes a key makes. */
static int check_key(const host_kv *kv, const void *key, size_t klen, char *err, size_t errlen) {
    if (!kv) return host_kv_fail(NULL, err, errlen, "no store handle (host_kv is NULL)");
    if (klen == 0)
        return host_kv_fail(kv->name, err, errlen, "empty key (a key is 1 to %d bytes)",
                            HOST_KV_MAX_KEY);
    if (!key) return host_kv_fail(kv->name, err, errlen, "key of %zu bytes has no data", klen);
    if (klen > HOST_KV_MAX_KEY) {
        char q[HOST_KV_QUOTE_MAX];
        return host_kv_fail(kv->name, err, errlen,
                            "key %s of %zu bytes is too long (a key is 1 to %d bytes)",
                            host_kv_quote(key, klen, q), klen, HOST_KV_MAX_KEY);
    }
    return HOST_OK;
}

/* A result buffer must be given; it is emptied before use. */
static int check_buf(const host_kv *kv, host_buf *b, char *err, size_t errlen) {
    if (!b) return host_kv_fail(kv->name, err, errlen, "no result buffer given");
    b->len = 0;
    return HOST_OK;
}

int host_kv_get(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
                size_t errlen) {
    if (check_key(kv, key, klen, err, errlen) != HOST_OK) return HOST_ERROR;
    if (check_buf(kv, value, err, errlen) != HOST_OK) return HOST_ERROR;
    return kv->ops->get(kv, key, klen, value, err, errlen);
}

int host_kv_set(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                uint64_t ttl_ms, char *err, size_t errlen) {
    if (check_key(kv, key, klen, err, errlen) != HOST_OK) return HOST_ERROR;
    char q[HOST_KV_QUOTE_MAX];
    if (vlen > HOST_KV_MAX_VALUE)
        return host_kv_fail(kv->name, err, errlen,
                            "value of %zu bytes for key %s is too large (at most %u bytes, "
                            "%u MiB)",
                            vlen, host_kv_quote(key, klen, q), HOST_KV_MAX_VALUE,
                            HOST_KV_MAX_VALUE >> 20);
    if (vlen > 0 && !val)
        return host_kv_fail(kv->name, err, errlen, "value of %zu bytes for key %s has no data",
                            vlen, host_kv_quote(key, klen, q));
    if (ttl_ms > HOST_KV_MAX_TTL_MS)
        return host_kv_fail(kv->name, err, errlen,
                            "TTL of %llu ms for key %s is too long (at most 100 years; 0 means "
                            "no expiry)",
                            (unsigned long long)ttl_ms, host_kv_quote(key, klen, q));
    /* backends bind the value's address even when it is empty */
    return kv->ops->set(kv, key, klen, vlen ? val : "", vlen, ttl_ms, err, errlen);
}

int host_kv_delete(host_kv *kv, const void *key, size_t klen, bool *existed, char *err,
                   size_t errlen) {
    if (check_key(kv, key, klen, err, errlen) != HOST_OK) return HOST_ERROR;
    bool ignored;
    if (!existed) existed = &ignored;
    *existed = false;
    return kv->ops->del(kv, key, klen, existed, err, errlen);
}

int host_kv_exists(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                   size_t errlen) {
    if (check_key(kv, key, klen, err, errlen) != HOST_OK) return HOST_ERROR;
    if (!exists) return host_kv_fail(kv->name, err, errlen, "no result pointer given to exists");
    *exists = false;
    return kv->ops->exists(kv, key, klen, exists, err, errlen);
}

int host_kv_incr(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                 char *err, size_t errlen) {
    if (check_key(kv, key, klen, err, errlen) != HOST_OK) return HOST_ERROR;
    int64_t ignored;
    if (!result) result = &ignored;
    *result = 0;
    return kv->ops->incr(kv, key, klen, delta, result, err, errlen);
}

int host_kv_list(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                 char *err, size_t errlen) {
    if (!kv) return host_kv_fail(NULL, err, errlen, "no store handle (host_kv is NULL)");
    if (check_buf(kv, keys, err, errlen) != HOST_OK) return HOST_ERROR;
    if (plen > 0 && !prefix)
        return host_kv_fail(kv->name, err, errlen, "prefix of %zu bytes has no data", plen);
    if (plen > HOST_KV_MAX_KEY)
        return host_kv_fail(kv->name, err, errlen,
                            "prefix of %zu bytes is longer than any key can be (at most %d "
                            "bytes)",
                            plen, HOST_KV_MAX_KEY);
    if (limit > HOST_KV_MAX_LIST)
        return host_kv_fail(kv->name, err, errlen,
                            "list limit %u is too large (at most %d; 0 means %d)", limit,
                            HOST_KV_MAX_LIST, HOST_KV_MAX_LIST);
    if (limit == 0) limit = HOST_KV_MAX_LIST;
    return kv->ops->list(kv, plen ? prefix : "", plen, limit, keys, err, errlen);
}
