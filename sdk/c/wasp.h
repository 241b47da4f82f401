/*
 * wasp.h - the guest side of the wasp handler ABI, for C (header only).
 *
 * A wasp handler is a WebAssembly reactor that exports `memory` and a
 * function `wasp_handle`; `wasp serve` calls it once per HTTP request. This
 * header declares every function the server provides (import module "wasp")
 * and a few inline helpers on top of them. docs/abi.md is the user guide.
 *
 *   #include "wasp.h"
 *
 *   WASP_HANDLER int wasp_handle(void) {
 *       wasp_set_header("Content-Type", "text/plain");
 *       wasp_write_str("hello, world\n");
 *       return 0;
 *   }
 *
 * Build it as a reactor (compile at -O2, link at -O0 so that clang does not
 * run wasm-opt and the output does not depend on whether binaryen is there):
 *
 *   clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Isdk/c -c -o h.o h.c
 *   clang-14 --target=wasm32-wasi --sysroot=/usr -O0 -mexec-model=reactor \
 *            -Wl,--strip-debug -o h.wasm h.o
 *
 * Lifecycle: at load the server calls `_initialize` (C constructors), then
 * the manifest's `init` export if any, then snapshots memory and globals.
 * Every request runs `wasp_handle` in a fresh instance made from that
 * snapshot: what one request writes to memory is never seen by the next, so
 * static buffers need no clearing and there is no state to leak.
 *
 * Conventions shared by every import:
 * - Pointers and lengths are offsets into the module's own memory. A range
 *   that is not entirely inside memory traps the request (the client gets a
 *   500); a NULL pointer with a length of 0 is always in range.
 * - Getters copy min(length, cap) bytes and return the FULL length, like
 *   snprintf: a result greater than cap means the copy was truncated. Pass
 *   (NULL, 0) to ask for the length alone. Nothing is NUL-terminated.
 * - Setters return 0 on success and -1 when the value was refused; a refused
 *   call has no effect and the handler may go on.
 *
 * This header only declares; it never allocates and needs no libc beyond
 * strlen (which clang folds away for string literals).
 */
#ifndef WASP_H
#define WASP_H

#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm__)
#error "wasp.h is for WebAssembly guests: compile with --target=wasm32-wasi"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Declares a function the server provides under import module "wasp". */
#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))

/*
 * Marks the request handler for export as "wasp_handle":
 *
 *   WASP_HANDLER int wasp_handle(void) { ... return 0; }
 *
 * The declaration below carries the mark too, so a definition of
 * wasp_handle without it is exported all the same. The handler takes no
 * argument and returns 0. A non-zero return with no status set gives the
 * client 500; with a status set (see wasp_status) the response is sent as
 * built. (The ABI also accepts a handler that returns nothing; with this
 * header, return int.)
 */
#define WASP_HANDLER __attribute__((export_name("wasp_handle")))

/* The request handler: defined by the module, called by the server. */
WASP_HANDLER int wasp_handle(void);

/*
 * Exports a function under its own name, e.g. for the manifest's `init:`
 * (run once at load, after _initialize and before the snapshot):
 *
 *   WASP_EXPORT(setup) void setup(void) { build_tables(); }
 */
#define WASP_EXPORT(name) __attribute__((export_name(#name)))

/* ---- The imports, one to one with the ABI (docs/abi.md) ---------------- */

/* The request method, e.g. "GET", into buf. Returns its full length. */
WASP_IMPORT("req_method") int32_t wasp_req_method(char *buf, size_t cap);

/*
 * The request target as the client sent it: path and query, e.g.
 * "/hello?x=1" (not decoded). Returns its full length.
 */
WASP_IMPORT("req_uri") int32_t wasp_req_uri(char *buf, size_t cap);

/*
 * The value of the request header `name` (name_len bytes, compared without
 * regard to case). Repeated headers come joined with ", ". Returns the full
 * length of the value, or -1 when the request has no such header.
 */
WASP_IMPORT("req_header")
int32_t wasp_req_header(const char *name, size_t name_len, char *buf, size_t cap);

/*
 * Every request header as lines "name: value\n", names in lower case, in
 * the order received. Returns the full length.
 */
WASP_IMPORT("req_headers") int32_t wasp_req_headers(char *buf, size_t cap);

/* The length of the request body in bytes (0 when there is none). */
WASP_IMPORT("req_body_len") int32_t wasp_req_body_len(void);

/*
 * Copies up to cap bytes of the request body, starting at byte `offset` of
 * the body, into buf. Returns the number of bytes copied: 0 once offset is
 * at or past the end. Any offset may be read any number of times.
 */
WASP_IMPORT("req_body") int32_t wasp_req_body(void *buf, size_t cap, uint32_t offset);

/*
 * Sets the response status (100..599; the default is 200). Returns 0, or -1
 * when the code is out of range (the status is then left as it was).
 */
WASP_IMPORT("resp_status") int32_t wasp_resp_status(int32_t code);

/*
 * Adds the response header name: value. Returns 0, or -1 when the name is
 * not an HTTP token or the value holds CR, LF or NUL (nothing is added).
 * No header is added for you, not even Content-Type.
 */
WASP_IMPORT("resp_header")
int32_t wasp_resp_header(const char *name, size_t name_len, const char *value, size_t value_len);

/*
 * Appends len bytes to the response body. Returns 0, or -1 when the body
 * would exceed the server's cap (16 MiB); then nothing of this call is
 * appended, and what was appended before stays.
 */
WASP_IMPORT("resp_body") int32_t wasp_resp_body(const void *buf, size_t len);

/* ---- Helpers --------------------------------------------------------- */

/* The method into buf (see wasp_req_method): its full length. */
static inline int32_t wasp_method(char *buf, size_t cap) {
    return wasp_req_method(buf, cap);
}

/* The request target into buf (see wasp_req_uri): its full length. */
static inline int32_t wasp_uri(char *buf, size_t cap) {
    return wasp_req_uri(buf, cap);
}

/* 1 when the request method is exactly `method` (e.g. "POST"), else 0. */
static inline int wasp_method_is(const char *method) {
    char buf[16];
    size_t n = __builtin_strlen(method);
    int32_t len = wasp_req_method(buf, sizeof buf);
    if (len < 0 || (size_t)len != n || n > sizeof buf) return 0;
    return __builtin_memcmp(buf, method, n) == 0;
}

/*
 * The request header `name` (a NUL-terminated string) as a NUL-terminated
 * string in buf. Returns the value's full length (it was cut to fit when
 * that is >= cap), or -1 when the header is absent or cap is 0; on -1,
 * buf holds "" if cap > 0.
 */
static inline int32_t wasp_header(const char *name, char *buf, size_t cap) {
    if (cap == 0) return -1;
    int32_t len = wasp_req_header(name, __builtin_strlen(name), buf, cap - 1);
    if (len < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[(size_t)len < cap - 1 ? (size_t)len : cap - 1] = '\0';
    return len;
}

/* The request body's length in bytes. */
static inline size_t wasp_body_len(void) {
    int32_t len = wasp_req_body_len();
    return len > 0 ? (size_t)len : 0;
}

/*
 * Reads the whole request body into buf, at most cap bytes. Returns the
 * body's full length: when that is more than cap, buf holds only the first
 * cap bytes (compare the result with cap before trusting buf). Nothing is
 * NUL-terminated.
 */
static inline size_t wasp_body_read_all(void *buf, size_t cap) {
    size_t len = wasp_body_len();
    size_t want = len < cap ? len : cap;
    size_t got = 0;
    while (got < want) {
        int32_t n = wasp_req_body((char *)buf + got, want - got, (uint32_t)got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    return len;
}

/* Sets the response status: 0, or -1 when code is not in 100..599. */
static inline int wasp_status(int code) {
    return wasp_resp_status(code);
}

/* Adds a response header from two NUL-terminated strings: 0, or -1. */
static inline int wasp_set_header(const char *name, const char *value) {
    return wasp_resp_header(name, __builtin_strlen(name), value, __builtin_strlen(value));
}

/* Appends len bytes to the response body: 0, or -1 past the cap. */
static inline int wasp_write(const void *data, size_t len) {
    return wasp_resp_body(data, len);
}

/* Appends a NUL-terminated string to the response body: 0, or -1. */
static inline int wasp_write_str(const char *s) {
    return wasp_resp_body(s, __builtin_strlen(s));
}

/* ---- Capabilities: key-value stores, variables, logging ----------------
 *
 * docs/capabilities.md. The manifest grants them per app; everything else
 * is denied, and a denied call returns an error value (never a trap):
 *   -1  kv_get: no such key; kv_open, var_get: not granted or unknown
 *   -2  the store failed (connection lost, not an integer, ...)
 * wasp_err_message gives the message of the last failure in this request.
 */

/* The message of the last failed call of this request: its full length. */
WASP_IMPORT("err_message") int32_t wasp_err_message(char *buf, size_t cap);

/*
 * A handle on the store `name` (granted with `kv: [name]`), >= 0; -1 when
 * the app is not granted it; -2 when it cannot be opened. A handle is
 * valid for the rest of the request.
 */
WASP_IMPORT("kv_open") int32_t wasp_kv_open(const char *name, size_t name_len);

/*
 * Copies the value of `key` into buf (min(length, cap) bytes). Returns the
 * value's full length, -1 when the key is absent (or expired), -2 on error.
 */
WASP_IMPORT("kv_get")
int32_t wasp_kv_get(int32_t store, const void *key, size_t key_len, void *buf, size_t cap);

/* Sets key to value; ttl_ms > 0 makes it expire. 0, or -2 on error. When
 * 0 comes back the write is durable (docs/capabilities.md). */
WASP_IMPORT("kv_set")
int32_t wasp_kv_set(int32_t store, const void *key, size_t key_len, const void *value,
                    size_t value_len, int64_t ttl_ms);

/* Deletes key: 1 if it existed, 0 if not, -2 on error. */
WASP_IMPORT("kv_delete") int32_t wasp_kv_delete(int32_t store, const void *key, size_t key_len);

/* 1 if key exists, 0 if not, -2 on error. */
WASP_IMPORT("kv_exists") int32_t wasp_kv_exists(int32_t store, const void *key, size_t key_len);

/*
 * Atomically adds delta to the decimal integer stored at key (absent: 0)
 * and writes the new value to *result. 0, or -2 (not an integer, overflow,
 * store error).
 */
WASP_IMPORT("kv_incr")
int32_t wasp_kv_incr(int32_t store, const void *key, size_t key_len, int64_t delta,
                     int64_t *result);

/*
 * The keys starting with prefix, sorted, at most 10000: each as a 4-byte
 * little-endian length then the key's bytes. Only whole entries are copied
 * into buf. Returns the full length of the list (call again with a larger
 * buffer when it is more than cap), or -2 on error. wasp_kv_next walks it.
 */
WASP_IMPORT("kv_list")
int32_t wasp_kv_list(int32_t store, const void *prefix, size_t prefix_len, void *buf, size_t cap);

/*
 * Steps through a kv_list result of `len` bytes (the smaller of its return
 * value and cap): sets *key and *key_len to the entry at *pos and advances
 * *pos. Returns 0 at the end.
 */
static inline int wasp_kv_next(const void *list, size_t len, size_t *pos, const char **key,
                               size_t *key_len) {
    const unsigned char *p = (const unsigned char *)list + *pos;
    if (*pos + 4 > len) return 0;
    size_t n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (*pos + 4 + n > len) return 0;
    *key = (const char *)p + 4;
    *key_len = n;
    *pos += 4 + n;
    return 1;
}

/*
 * The variable `name` (declared under the app's `vars:`: a literal, an
 * environment variable or a secret) into buf. Returns its full length, or
 * -1 when the app has no such variable.
 */
WASP_IMPORT("var_get")
int32_t wasp_var_get(const char *name, size_t name_len, char *buf, size_t cap);

/* The variable as a NUL-terminated string in buf; -1 if absent or cap is
 * 0 (buf then holds "" if cap > 0), else its full length. */
static inline int32_t wasp_var(const char *name, char *buf, size_t cap) {
    if (cap == 0) return -1;
    int32_t len = wasp_var_get(name, __builtin_strlen(name), buf, cap - 1);
    if (len < 0) {
        buf[0] = '\0';
        return -1;
    }
    buf[(size_t)len < cap - 1 ? (size_t)len : cap - 1] = '\0';
    return len;
}

/* Log levels for wasp_log. */
enum { WASP_LOG_DEBUG = 0, WASP_LOG_INFO = 1, WASP_LOG_WARN = 2, WASP_LOG_ERROR = 3 };

/*
 * Writes one line to wasp's structured log, tagged with the app and the
 * request id: `ts=... level=info app=NAME req=W-N msg="..."` (at most 4096 bytes
 * of the message). Returns 0.
 */
WASP_IMPORT("log") int32_t wasp_log(int32_t level, const char *msg, size_t len);

/* wasp_log for a NUL-terminated message. */
static inline int32_t wasp_log_str(int32_t level, const char *msg) {
    return wasp_log(level, msg, __builtin_strlen(msg));
}

/* ---- Capabilities: SQL --------------------------------------------------
 *
 * A handle on a database granted with `sql: [name]`; the request holds one
 * pooled connection from its first sql_open to its end, so BEGIN ...
 * COMMIT spans calls, and whatever the request leaves open is rolled back.
 * Parameters are bound ($1, $2 for PostgreSQL; ?1 or ? for SQLite), never
 * pasted into the SQL. Values, for parameters and results, are encoded as
 * u8 type (WASP_SQL_*) then INT: i64, FLOAT: f64, TEXT/BLOB: u32 length +
 * bytes, NULL: nothing, little-endian; the helpers below build and read
 * them.
 */
enum {
    WASP_SQL_NULL = 0,
    WASP_SQL_INT = 1,
    WASP_SQL_FLOAT = 2,
    WASP_SQL_TEXT = 3,
    WASP_SQL_BLOB = 4
};

/* >= 0 handle; -1 not granted; -2 no connection (pool timeout, server down). */
WASP_IMPORT("sql_open") int32_t wasp_sql_open(const char *name, size_t name_len);

/*
 * Runs one statement; params is u32 count then the values (or length 0 for
 * none). Returns the length of the encoded result (read it with
 * wasp_sql_result), or -2 with the database's message in wasp_err_message.
 */
WASP_IMPORT("sql_exec")
int32_t wasp_sql_exec(int32_t db, const char *sql, size_t sql_len, const void *params,
                      size_t params_len);

/* Copies the last result: u32 ncols, names (u32 length + bytes each), u32
 * nrows, the values row by row, i64 rows changed. Returns its full length. */
WASP_IMPORT("sql_result") int32_t wasp_sql_result(void *buf, size_t cap);

/* A parameter list being built in a caller's buffer. */
typedef struct wasp_sql_params {
    unsigned char *buf;
    size_t cap, len;
    uint32_t count;
    int overflow; /* set when buf was too small: do not send it */
} wasp_sql_params;

static inline void wasp_sql_params_init(wasp_sql_params *p, void *buf, size_t cap) {
    p->buf = (unsigned char *)buf;
    p->cap = cap;
    p->len = 4;
    p->count = 0;
    p->overflow = cap < 4;
}

static inline void wasp__put(wasp_sql_params *p, const void *src, size_t n) {
    if (p->overflow || p->cap - p->len < n) {
        p->overflow = 1;
        return;
    }
    __builtin_memcpy(p->buf + p->len, src, n);
    p->len += n;
}

static inline void wasp__param(wasp_sql_params *p, unsigned char type, const void *v, size_t n,
                               int with_len) {
    unsigned char le[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 24)};
    wasp__put(p, &type, 1);
    if (with_len) wasp__put(p, le, 4);
    wasp__put(p, v, n);
    p->count++;
}

static inline void wasp_sql_param_null(wasp_sql_params *p) {
    wasp__param(p, WASP_SQL_NULL, "", 0, 0);
}
static inline void wasp_sql_param_int(wasp_sql_params *p, int64_t v) {
    wasp__param(p, WASP_SQL_INT, &v, 8, 0); /* wasm is little-endian */
}
static inline void wasp_sql_param_float(wasp_sql_params *p, double v) {
    wasp__param(p, WASP_SQL_FLOAT, &v, 8, 0);
}
static inline void wasp_sql_param_text(wasp_sql_params *p, const char *s, size_t len) {
    wasp__param(p, WASP_SQL_TEXT, s, len, 1);
}
static inline void wasp_sql_param_blob(wasp_sql_params *p, const void *b, size_t len) {
    wasp__param(p, WASP_SQL_BLOB, b, len, 1);
}

/* Runs sql with the parameters built in p (p may be NULL for none): the
 * result's length, or -2 (also when p overflowed its buffer). */
static inline int32_t wasp_sql_query(int32_t db, const char *sql, wasp_sql_params *p) {
    if (!p) return wasp_sql_exec(db, sql, __builtin_strlen(sql), "", 0);
    if (p->overflow) return -2;
    __builtin_memcpy(p->buf, &p->count, 4);
    return wasp_sql_exec(db, sql, __builtin_strlen(sql), p->buf, p->len);
}

/* A reader over an encoded result. */
typedef struct wasp_sql_rows {
    const unsigned char *p, *end, *names;
    uint32_t ncols, nrows, row, col;
    int bad; /* the result was malformed or cut short */
} wasp_sql_rows;

typedef struct wasp_sql_value {
    int type; /* WASP_SQL_* */
    int64_t i;
    double f;
    const char *p; /* TEXT, BLOB: not NUL-terminated */
    size_t len;
} wasp_sql_value;

static inline uint32_t wasp__u32(wasp_sql_rows *r) {
    if (r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
                 (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

/* Starts reading a result of len bytes: 0, or -1 when it is malformed. */
static inline int wasp_sql_rows_init(wasp_sql_rows *r, const void *buf, size_t len) {
    r->p = (const unsigned char *)buf;
    r->end = r->p + len;
    r->bad = 0;
    r->row = r->col = 0;
    r->ncols = wasp__u32(r);
    r->names = r->p;
    for (uint32_t i = 0; i < r->ncols && !r->bad; i++) {
        uint32_t n = wasp__u32(r);
        if ((size_t)(r->end - r->p) < n)
            r->bad = 1;
        else
            r->p += n;
    }
    r->nrows = wasp__u32(r);
    return r->bad ? -1 : 0;
}

/* The next value of the current row (rows follow each other): 1, or 0
 * after the last value of the last row or when the result is malformed. */
static inline int wasp_sql_next_value(wasp_sql_rows *r, wasp_sql_value *v) {
    if (r->bad || r->row >= r->nrows || r->p >= r->end) return 0;
    v->type = *r->p++;
    v->p = 0;
    v->len = 0;
    if (v->type == WASP_SQL_INT || v->type == WASP_SQL_FLOAT) {
        if (r->end - r->p < 8) return (r->bad = 1, 0);
        if (v->type == WASP_SQL_INT)
            __builtin_memcpy(&v->i, r->p, 8);
        else
            __builtin_memcpy(&v->f, r->p, 8);
        r->p += 8;
    } else if (v->type == WASP_SQL_TEXT || v->type == WASP_SQL_BLOB) {
        uint32_t n = wasp__u32(r);
        if (r->bad || (size_t)(r->end - r->p) < n) return (r->bad = 1, 0);
        v->p = (const char *)r->p;
        v->len = n;
        r->p += n;
    } else if (v->type != WASP_SQL_NULL) {
        return (r->bad = 1, 0);
    }
    if (++r->col == r->ncols) {
        r->col = 0;
        r->row++;
    }
    return 1;
}

/* ---- Capabilities: outbound HTTP -------------------------------------------
 *
 * Only to origins on the app's allow-list (`http: {allow: [...]}`);
 * redirects come back as 3xx and are not followed.
 */

/*
 * Sends a request; headers are "Name: value\n" lines (may be empty).
 * Returns the response status, -1 when the origin is not allowed (the
 * message names the rule), -2 on failure (timeout, too large, refused).
 */
WASP_IMPORT("http_send")
int32_t wasp_http_send(const char *method, size_t method_len, const char *url, size_t url_len,
                       const char *headers, size_t headers_len, const void *body, size_t body_len);
/* The last response's body / headers ("name: value\n", names lower-case):
 * full length, min(length, cap) bytes copied. */
WASP_IMPORT("http_body") int32_t wasp_http_body(void *buf, size_t cap);
WASP_IMPORT("http_headers") int32_t wasp_http_headers(char *buf, size_t cap);

/* GET url (NUL-terminated): the status, -1 or -2. */
static inline int32_t wasp_http_get(const char *url) {
    return wasp_http_send("GET", 3, url, __builtin_strlen(url), "", 0, "", 0);
}

#ifdef __cplusplus
}
#endif

#endif /* WASP_H */
