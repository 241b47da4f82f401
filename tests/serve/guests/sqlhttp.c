/*
 * sqlhttp.c - a wasp-ABI reactor in C (wasi-libc) that puts the SQL and
 * outbound HTTP imports behind a small command interface, for
 * tests/serve/sql_http_test.py. The command is the last path segment; its
 * arguments are query parameters, percent-decoded:
 *
 *   exec?db=NAME&p1=..&s2.p1=..   POST: the body is one or more statements
 *                                 separated by a line holding only ";;"
 *   fetch?u=URL&m=METHOD&hd=HEADERS&show=headers
 *                                 http_send of the request body to URL
 *
 * exec: sql_open(NAME) once, then sql_exec of each statement in order, in
 * the same request. Parameters of statement K (1-based) are s<K>.p1,
 * s<K>.p2, ... (for the first statement p1, p2, ... too), each TYPE:VALUE:
 * i:42 (INT), f:1.5 (FLOAT), t:text (TEXT), b:0aff (BLOB, hex), n (NULL).
 * h=N uses N as the handle instead of calling sql_open. The answer is JSON,
 * one object per statement:
 *
 *   [{"columns": ["a", ...], "rows": [[V, ...], ...], "changes": N}, ...]
 *
 * with each value V typed: ["i", 42], ["f", "1.5"] (%.17g), ["t", "text"],
 * ["b", "0aff"], ["n"]. X-Count is the number of statements run.
 *
 * fetch: answers the upstream body (or with show=headers its headers, as
 * http_headers gives them); X-Rc is http_send's return (the upstream
 * status). HEADERS are "Name: value" lines joined by "\n".
 *
 * Every answer carries X-Step (the call that answered: open, exec, result,
 * send) and X-Rc (what it returned). Status: 200 success; 403 a -1; 503 a
 * -2 (or any other negative); for 403 and 503 the body is err_message and
 * X-Index is the 0-based statement that failed.
 *
 * The wasp imports are declared here, not taken from sdk/c/wasp.h.
 */
#include <stdint.h>
#include <stdio.h>
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
WASP_IMPORT("sql_open") int32_t sql_open(const char *name, int32_t len);
WASP_IMPORT("sql_exec")
int32_t sql_exec(int32_t h, const char *sql, int32_t len, const void *params, int32_t plen);
WASP_IMPORT("sql_result") int32_t sql_result(void *buf, int32_t cap);
WASP_IMPORT("http_send")
int32_t http_send(const char *m, int32_t ml, const char *u, int32_t ul, const char *h, int32_t hl,
                  const void *b, int32_t bl);
WASP_IMPORT("http_body") int32_t http_body(void *buf, int32_t cap);
WASP_IMPORT("http_headers") int32_t http_headers(void *buf, int32_t cap);

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
        if ((size_t)(amp - p) >= nl + 1 && !memcmp(p, name, nl) && p[nl] == '=') {
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

/* ---- a growing byte buffer ------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void add(buf *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void adds(buf *b, const char *s) {
    add(b, s, strlen(s));
}

static void add_u32(buf *b, uint32_t v) {
    unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    add(b, t, 4);
}

static void add_u64(buf *b, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        add(b, &c, 1);
    }
}

static void add_json_str(buf *b, const char *s, size_t n) {
    adds(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            add(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            adds(b, e);
        } else {
            add(b, &c, 1);
        }
    }
    adds(b, "\"");
}

static void add_hex(buf *b, const unsigned char *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char h[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        add(b, h, 2);
    }
}

/* ---- answers ---------------------------------------------------------------- */

static void header_num(const char *name, int64_t v) {
    char d[24];
    snprintf(d, sizeof d, "%lld", (long long)v);
    resp_header(name, (int32_t)strlen(name), d, (int32_t)strlen(d));
}

/* X-Step, X-Rc and the status for `step`, which returned rc; for 403 and
 * 503 the body is err_message. */
static void answer(const char *step, int64_t rc, int status) {
    resp_header("X-Step", 6, step, (int32_t)strlen(step));
    header_num("X-Rc", rc);
    resp_status(status);
    if (status == 403 || status == 503) {
        char msg[2048];
        int32_t n = err_message(msg, (int32_t)sizeof msg);
        resp_body(msg, n < (int32_t)sizeof msg ? n : (int32_t)sizeof msg);
    }
}

/* rc < 0 ends the command with 403 (-1) or 503 (anything else). */
static int failed(const char *step, int32_t rc) {
    if (rc >= 0) return 0;
    answer(step, rc, rc == -1 ? 403 : 503);
    return 1;
}

static char *read_body(int32_t *len) {
    int32_t n = req_body_len();
    char *p = malloc(n > 0 ? (size_t)n + 1 : 1);
    int32_t got = 0;
    while (got < n) {
        int32_t r = req_body(p + got, n - got, got);
        if (r <= 0) break;
        got += r;
    }
    p[got] = 0;
    *len = got;
    return p;
}

/* ---- SQL -------------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
}

/* The encoded parameters of statement k (1-based) into b. */
static void build_params(int k, buf *b) {
    static char v[8192];
    char name[32];
    uint32_t count = 0;
    buf vals = {0};
    for (int j = 1;; j++) {
        snprintf(name, sizeof name, "s%d.p%d", k, j);
        int32_t n = param(name, v, (int32_t)sizeof v - 1);
        if (n < 0 && k == 1) {
            snprintf(name, sizeof name, "p%d", j);
            n = param(name, v, (int32_t)sizeof v - 1);
        }
        if (n < 0) break;
        if (n < 2) { /* "n", or a type with nothing after it */
            v[1] = v[2] = 0;
            n = 2;
        }
        v[n] = 0;
        count++;
        unsigned char type;
        if (v[0] == 'i') {
            type = 1;
            add(&vals, &type, 1);
            add_u64(&vals, (uint64_t)strtoll(v + 2, NULL, 10));
        } else if (v[0] == 'f') {
            type = 2;
            double d = strtod(v + 2, NULL);
            uint64_t bits;
            memcpy(&bits, &d, 8);
            add(&vals, &type, 1);
            add_u64(&vals, bits);
        } else if (v[0] == 't') {
            type = 3;
            add(&vals, &type, 1);
            add_u32(&vals, (uint32_t)(n - 2));
            add(&vals, v + 2, (size_t)(n - 2));
        } else if (v[0] == 'b') {
            type = 4;
            add(&vals, &type, 1);
            add_u32(&vals, (uint32_t)((n - 2) / 2));
            for (int32_t i = 2; i + 1 < n; i += 2) {
                unsigned char c = (unsigned char)(hexval(v[i]) << 4 | hexval(v[i + 1]));
                add(&vals, &c, 1);
            }
        } else {
            type = 0;
            add(&vals, &type, 1);
        }
    }
    b->len = 0;
    if (count == 0) return;
    add_u32(b, count);
    if (vals.len) add(b, vals.p, vals.len);
    free(vals.p);
}

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Appends the JSON of an encoded result (r, n bytes) to out; false when
 * the encoding is malformed. */
static int result_json(const unsigned char *r, size_t n, buf *out) {
    size_t at = 0;
#define NEED(k)                                                                                    \
    do {                                                                                           \
        if (n - at < (size_t)(k)) return 0;                                                        \
    } while (0)
    NEED(4);
    uint32_t ncols = rd_u32(r);
    at = 4;
    adds(out, "{\"columns\": [");
    for (uint32_t i = 0; i < ncols; i++) {
        NEED(4);
        uint32_t l = rd_u32(r + at);
        at += 4;
        NEED(l);
        if (i) adds(out, ", ");
        add_json_str(out, (const char *)r + at, l);
        at += l;
    }
    adds(out, "], \"rows\": [");
    NEED(4);
    uint32_t nrows = rd_u32(r + at);
    at += 4;
    for (uint32_t row = 0; row < nrows; row++) {
        adds(out, row ? ", [" : "[");
        for (uint32_t col = 0; col < ncols; col++) {
            if (col) adds(out, ", ");
            NEED(1);
            unsigned char type = r[at++];
            char num[40];
            if (type == 0) {
                adds(out, "[\"n\"]");
            } else if (type == 1 || type == 2) {
                NEED(8);
                uint64_t bits = rd_u64(r + at);
                at += 8;
                if (type == 1) {
                    snprintf(num, sizeof num, "[\"i\", %lld]", (long long)(int64_t)bits);
                } else {
                    double d;
                    memcpy(&d, &bits, 8);
                    snprintf(num, sizeof num, "[\"f\", \"%.17g\"]", d);
                }
                adds(out, num);
            } else if (type == 3 || type == 4) {
                NEED(4);
                uint32_t l = rd_u32(r + at);
                at += 4;
                NEED(l);
                if (type == 3) {
                    adds(out, "[\"t\", ");
                    add_json_str(out, (const char *)r + at, l);
                } else {
                    adds(out, "[\"b\", \"");
                    add_hex(out, r + at, l);
                    adds(out, "\"");
                }
                adds(out, "]");
                at += l;
            } else {
                return 0;
            }
        }
        adds(out, "]");
    }
    NEED(8);
    char num[32];
    snprintf(num, sizeof num, "], \"changes\": %lld}", (long long)(int64_t)rd_u64(r + at));
    adds(out, num);
    return at + 8 == n;
#undef NEED
}

static void sql_command(void) {
    static char db[256], hbuf[16];
    int32_t dl = param("db", db, (int32_t)sizeof db);
    int32_t h;
    int32_t hl = param("h", hbuf, (int32_t)sizeof hbuf - 1);
    if (hl >= 0) {
        hbuf[hl] = 0;
        h = (int32_t)strtol(hbuf, NULL, 10);
    } else {
        h = sql_open(db, dl < 0 ? 0 : dl);
        if (failed("open", h)) return;
    }
    int32_t len;
    char *body = read_body(&len);
    buf out = {0}, params = {0};
    adds(&out, "[");
    int count = 0;
    for (char *s = body; s;) {
        char *sep = strstr(s, "\n;;\n");
        size_t sl = sep ? (size_t)(sep - s) : strlen(s);
        build_params(count + 1, &params);
        int32_t n = sql_exec(h, s, (int32_t)sl, params.len ? params.p : "", (int32_t)params.len);
        if (n < 0) {
            header_num("X-Index", count);
            failed("exec", n);
            goto done;
        }
        unsigned char *r = malloc(n > 0 ? (size_t)n : 1);
        int32_t again = sql_result(r, n);
        if (count) adds(&out, ", ");
        if (again != n || !result_json(r, (size_t)n, &out)) {
            free(r);
            header_num("X-Index", count);
            answer("result", again, 500);
            resp_body("malformed result", 16);
            goto done;
        }
        free(r);
        count++;
        s = sep ? sep + 4 : NULL;
    }
    adds(&out, "]");
    header_num("X-Count", count);
    answer("exec", count, 200);
    resp_body(out.p, (int32_t)out.len);
done:
    free(out.p);
    free(params.p);
    free(body);
}

/* ---- outbound HTTP ------------------------------------------------------------ */

static void fetch_command(void) {
    static char url[4096], method[32], hd[4096], show[16];
    int32_t ul = param("u", url, (int32_t)sizeof url);
    int32_t ml = param("m", method, (int32_t)sizeof method);
    int32_t hl = param("hd", hd, (int32_t)sizeof hd);
    int32_t sl = param("show", show, (int32_t)sizeof show);
    if (ml < 0) {
        memcpy(method, "GET", 3);
        ml = 3;
    }
    int32_t blen;
    char *body = read_body(&blen);
    int32_t st = http_send(method, ml, url, ul < 0 ? 0 : ul, hd, hl < 0 ? 0 : hl, body, blen);
    free(body);
    if (failed("send", st)) return;
    int headers = sl == 7 && !memcmp(show, "headers", 7);
    int32_t n = headers ? http_headers(NULL, 0) : http_body(NULL, 0);
    char *p = malloc(n > 0 ? (size_t)n : 1);
    int32_t again = headers ? http_headers(p, n) : http_body(p, n);
    answer("send", st, again == n ? 200 : 500);
    resp_body(p, n);
    free(p);
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
    if (!strcmp(cmd, "exec")) {
        sql_command();
    } else if (!strcmp(cmd, "fetch")) {
        fetch_command();
    } else {
        answer(cmd, 0, 400);
        resp_body("unknown command", 15);
    }
}
