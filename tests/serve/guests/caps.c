/*
 * caps.c - a wasp-ABI reactor in C (wasi-libc) that puts the capability
 * imports (key-value stores, variables, the log) behind a small command
 * interface, for tests/serve/caps_test.py. The command is the last path
 * segment; its arguments are query parameters, percent-decoded:
 *
 *   get?s=STORE&k=KEY             the value as the body
 *   set?s=STORE&k=KEY&ttl=MS      the request body becomes the value
 *   del?s=STORE&k=KEY             "1" or "0"
 *   exists?s=STORE&k=KEY          "1" or "0"
 *   incr?s=STORE&k=KEY&by=N       the new value, in decimal
 *   list?s=STORE&p=PREFIX         the keys, one per line (each followed by "\n")
 *   var?n=NAME                    the variable's value
 *   log?l=LEVEL&m=MESSAGE         logs MESSAGE at LEVEL (default 1), answers "logged"
 *
 * A kv command with h=N uses N as the store handle instead of calling
 * kv_open. Every answer carries X-Step (the call that answered: open, get,
 * set, ..., var, log) and X-Rc (what that call returned). Status: 200
 * success; 404 kv_get found no key (body "absent"); 403 a -1 from kv_open or
 * var_get; 503 a -2 from anything. For 403 and 503 the body is what
 * err_message says.
 *
 * The wasp imports are declared here, not taken from sdk/c/wasp.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))
WASP_IMPORT("req_uri") int32_t req_uri(char *buf, int32_t cap);
WASP_IMPORT("req_body_len") int32_t req_body_len(void);
WASP_IMPORT("req_body") int32_t req_body(void *buf, int32_t cap, int32_t offset);
WASP_IMPORT("resp_status") int32_t resp_status(int32_t code);
WASP_IMPORT("resp_header")
int32_t resp_header(const char *n, int32_t nl, const char *v, int32_t vl);
WASP_IMPORT("resp_body") int32_t resp_body(const void *buf, int32_t len);
WASP_IMPORT("err_message") int32_t err_message(char *buf, int32_t cap);
WASP_IMPORT("kv_open") int32_t kv_open(const char *name, int32_t len);
WASP_IMPORT("kv_get") int32_t kv_get(int32_t h, const void *k, int32_t kl, void *buf, int32_t cap);
WASP_IMPORT("kv_set")
int32_t kv_set(int32_t h, const void *k, int32_t kl, const void *v, int32_t vl, int64_t ttl_ms);
WASP_IMPORT("kv_delete") int32_t kv_delete(int32_t h, const void *k, int32_t kl);
WASP_IMPORT("kv_exists") int32_t kv_exists(int32_t h, const void *k, int32_t kl);
WASP_IMPORT("kv_incr")
int32_t kv_incr(int32_t h, const void *k, int32_t kl, int64_t by, int64_t *out);
WASP_IMPORT("kv_list")
int32_t kv_list(int32_t h, const void *p, int32_t pl, void *buf, int32_t cap);
WASP_IMPORT("var_get") int32_t var_get(const char *n, int32_t nl, char *buf, int32_t cap);
WASP_IMPORT("log") int32_t wasp_log(int32_t level, const char *msg, int32_t len);

static char uri[8192];
static int32_t uri_len;

/* A query parameter, percent-decoded into out (cap bytes): its length, or
 * -1 when the query has no such parameter. */
static int32_t param(const char *name, char *out, int32_t cap) {
    const char *q = memchr(uri, '?', (size_t)uri_len);
    if (!q) return -1;
    const char *end = uri + uri_len;
    size_t nl = strlen(name);
    for (const char *p = q + 1; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        if (!amp) amp = end;
        if ((size_t)(amp - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            int32_t n = 0;
            for (const char *s = p + nl + 1; s < amp && n < cap; s++) {
                if (*s == '%' && amp - s >= 3) {
                    char hex[3] = {s[1], s[2], 0};
                    out[n++] = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else {
                    out[n++] = *s == '+' ? ' ' : *s;
                }
            }
            return n;
        }
        p = amp + 1;
    }
    return -1;
}

static int64_t num_param(const char *name, int64_t dflt) {
    char buf[32];
    int32_t n = param(name, buf, (int32_t)sizeof buf - 1);
    if (n <= 0) return dflt;
    buf[n] = 0;
    return strtoll(buf, NULL, 10);
}

static void put(const char *s) {
    resp_body(s, (int32_t)strlen(s));
}

static void fmt_num(char *d, int64_t n) {
    char t[24];
    int i = sizeof t;
    uint64_t u = n < 0 ? -(uint64_t)n : (uint64_t)n;
    t[--i] = 0;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0) t[--i] = '-';
    memcpy(d, t + i, sizeof t - i);
}

static void put_num(int64_t n) {
    char d[24];
    fmt_num(d, n);
    put(d);
}

/* Sets X-Step and X-Rc and the status for the answer of `step`, which
 * returned rc; for 403 and 503 the body is err_message. */
static int answer(const char *step, int64_t rc, int status) {
    char d[24];
    fmt_num(d, rc);
    resp_header("X-Step", 6, step, (int32_t)strlen(step));
    resp_header("X-Rc", 4, d, (int32_t)strlen(d));
    resp_status(status);
    if (status == 403 || status == 503) {
        char msg[1024];
        int32_t n = err_message(msg, (int32_t)sizeof msg);
        resp_body(msg, n < (int32_t)sizeof msg ? n : (int32_t)sizeof msg);
    }
    return status;
}

/* rc < 0 ends the command with 403 (-1) or 503 (-2 and anything else). */
static int failed(const char *step, int32_t rc) {
    if (rc >= 0) return 0;
    answer(step, rc, rc == -1 ? 403 : 503);
    return 1;
}

static void kv_command(const char *cmd) {
    static char store[256], key[4096], prefix[4096];
    int32_t sl = param("s", store, (int32_t)sizeof store);
    int32_t kl = param("k", key, (int32_t)sizeof key);
    if (kl < 0) kl = 0;
    int32_t h;
    char probe[1];
    if (param("h", probe, 1) >= 0) {
        h = (int32_t)num_param("h", 0);
    } else {
        h = kv_open(store, sl < 0 ? 0 : sl);
        if (failed("open", h)) return;
    }

    if (!strcmp(cmd, "get")) {
        char small[4096], *buf = small;
        int32_t n = kv_get(h, key, kl, buf, (int32_t)sizeof small);
        if (n == -1) {
            answer("get", n, 404);
            put("absent");
            return;
        }
        if (failed("get", n)) return;
        if (n > (int32_t)sizeof small) {
            buf = malloc((size_t)n);
            int32_t again = kv_get(h, key, kl, buf, n);
            if (again != n) {
                answer("get", again, 500);
                put("the value changed length between two kv_get calls");
                free(buf);
                return;
            }
        }
        answer("get", n, 200);
        resp_body(buf, n);
        if (buf != small) free(buf);
    } else if (!strcmp(cmd, "set")) {
        int32_t len = req_body_len();
        char *val = malloc(len > 0 ? (size_t)len : 1);
        int32_t got = 0;
        while (got < len) {
            int32_t n = req_body(val + got, len - got, got);
            if (n <= 0) break;
            got += n;
        }
        int32_t rc = kv_set(h, key, kl, val, got, num_param("ttl", 0));
        free(val);
        if (failed("set", rc)) return;
        answer("set", rc, 200);
        put("ok");
    } else if (!strcmp(cmd, "del") || !strcmp(cmd, "exists")) {
        int del = !strcmp(cmd, "del");
        int32_t rc = del ? kv_delete(h, key, kl) : kv_exists(h, key, kl);
        if (failed(cmd, rc)) return;
        answer(cmd, rc, 200);
        put_num(rc);
    } else if (!strcmp(cmd, "incr")) {
        int64_t out = 0;
        int32_t rc = kv_incr(h, key, kl, num_param("by", 1), &out);
        if (failed("incr", rc)) return;
        answer("incr", rc, 200);
        put_num(out);
    } else if (!strcmp(cmd, "list")) {
        int32_t pl = param("p", prefix, (int32_t)sizeof prefix);
        if (pl < 0) pl = 0;
        int32_t cap = 256;
        char *buf = malloc((size_t)cap);
        int32_t n = kv_list(h, prefix, pl, buf, cap);
        if (n > cap) {
            free(buf);
            cap = n;
            buf = malloc((size_t)cap);
            n = kv_list(h, prefix, pl, buf, cap);
        }
        if (failed("list", n)) {
            free(buf);
            return;
        }
        answer("list", n, 200);
        int32_t have = n < cap ? n : cap; /* only whole entries were copied */
        for (int32_t pos = 0; pos + 4 <= have;) {
            const unsigned char *e = (const unsigned char *)buf + pos;
            int32_t len = (int32_t)(e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24);
            if (len < 0 || len > have - pos - 4) break;
            resp_body(e + 4, len);
            put("\n");
            pos += 4 + len;
        }
        free(buf);
    } else {
        answer(cmd, 0, 400);
        put("unknown command");
    }
}

__attribute__((export_name("wasp_handle"))) void wasp_handle(void) {
    uri_len = req_uri(uri, (int32_t)sizeof uri);
    if (uri_len > (int32_t)sizeof uri) uri_len = sizeof uri;
    const char *q = memchr(uri, '?', (size_t)uri_len);
    const char *end = q ? q : uri + uri_len;
    const char *slash = end;
    while (slash > uri && slash[-1] != '/')
        slash--;
    char cmd[32] = "";
    if (end - slash < (long)sizeof cmd) memcpy(cmd, slash, (size_t)(end - slash));
    resp_header("Content-Type", 12, "application/octet-stream", 24);

    if (!strcmp(cmd, "var")) {
        static char name[256], small[4096];
        int32_t nl = param("n", name, (int32_t)sizeof name);
        char *buf = small;
        int32_t n = var_get(name, nl < 0 ? 0 : nl, buf, (int32_t)sizeof small);
        if (failed("var", n)) return;
        if (n > (int32_t)sizeof small) {
            buf = malloc((size_t)n);
            n = var_get(name, nl, buf, n);
        }
        answer("var", n, 200);
        resp_body(buf, n);
    } else if (!strcmp(cmd, "log")) {
        static char msg[4096];
        int32_t n = param("m", msg, (int32_t)sizeof msg);
        int32_t rc = wasp_log((int32_t)num_param("l", 1), msg, n < 0 ? 0 : n);
        answer("log", rc, 200);
        put("logged");
    } else {
        kv_command(cmd);
    }
}
