/*
 * internal.h - what the files of src/host/ share with each other only: the
 * key-value backends' vtable and the helpers kv.c offers them.
 *
 * kv.c checks every argument of the public host_kv_* calls (key and value
 * sizes, list limit, TTL) before dispatching, so a backend may rely on:
 * 1 <= klen <= HOST_KV_MAX_KEY, vlen <= HOST_KV_MAX_VALUE, plen <=
 * HOST_KV_MAX_KEY, 1 <= limit <= HOST_KV_MAX_LIST, ttl_ms <=
 * HOST_KV_MAX_TTL_MS, non-NULL out-pointers, and output buffers already
 * emptied (len 0). A backend's messages go through host_kv_fail(), which
 * puts the "store NAME: " prefix that every kv message starts with.
 */
#ifndef WASP_HOST_INTERNAL_H
#define WASP_HOST_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"

/* A TTL longer than this (100 years) is refused rather than risking an
 * overflow of "now + ttl" in a backend; nobody means it. */
#define HOST_KV_MAX_TTL_MS (100ull * 365 * 24 * 3600 * 1000)

/* One backend. Each function has the contract of the public call of the
 * same name, with the arguments already checked (see above). */
typedef struct host_kv_ops {
    int (*get)(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
               size_t errlen);
    int (*set)(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t ttl_ms, char *err, size_t errlen);
    int (*del)(host_kv *kv, const void *key, size_t klen, bool *existed, char *err, size_t errlen);
    int (*exists)(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                  size_t errlen);
    int (*incr)(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                char *err, size_t errlen);
    int (*list)(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                char *err, size_t errlen);
    /* Frees everything the backend allocated, the host_kv included. */
    void (*close)(host_kv *kv);
} host_kv_ops;

/* The part of a handle kv.c sees. A backend allocates its own struct with
 * this as its first member, so a host_kv * converts to it. */
struct host_kv {
    const host_kv_ops *ops;
    char *name; /* cfg->name copied (owned, freed by host_kv_free_base) */
};

/* The backends' constructors: NULL with "store NAME: reason" in err. */
host_kv *host_kv_sqlite_open(const host_kv_config *cfg, char *err, size_t errlen);
host_kv *host_kv_redis_open(const host_kv_config *cfg, char *err, size_t errlen);

/* Fills the common part of a new handle (copies the name). False when out
 * of memory. */
bool host_kv_init_base(host_kv *kv, const host_kv_ops *ops, const char *name);
/* Frees what host_kv_init_base allocated (not kv itself). */
void host_kv_free_base(host_kv *kv);

/* How long a host call may wait: timeout_ms, or less when the guest call
 * it is made from has a deadline nearer than that; 0 when that deadline
 * has passed (the caller then fails without waiting). Outside a guest
 * call, timeout_ms. */
uint32_t host_wait_ms(uint32_t timeout_ms);

/* The name messages use for a store or database whose config gives none. */
const char *host_kv_display_name(const char *name);

/* Writes "KIND NAME: " (kind: "store", "database") and the message
 * formatted from fmt and ap into err (NULL when errlen is 0); returns
 * HOST_ERROR. host_kv_fail and host_sql_fail are its two faces. */
int host_failv(const char *kind, const char *name, char *err, size_t errlen, const char *fmt,
               va_list ap) __attribute__((format(printf, 5, 0)));

/* Writes "store NAME: " and the printf-formatted message into err (which
 * may be NULL when errlen is 0); returns HOST_ERROR, so that a failing
 * path can `return host_kv_fail(...)`. */
int host_kv_fail(const char *name, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Quotes a key for a message: "..." with printable ASCII as is, `"` and
 * `\` escaped, any other byte as \xHH, and keys longer than 64 bytes cut
 * with "..." after the closing quote. Returns out (always NUL-terminated;
 * 300 bytes are always enough). */
#define HOST_KV_QUOTE_MAX 300
const char *host_kv_quote(const void *key, size_t klen, char out[HOST_KV_QUOTE_MAX]);

/* Appends n bytes to b, growing it (doubling). False when out of memory;
 * b is then unchanged. */
bool host_kv_buf_append(host_buf *b, const void *data, size_t n);
/* Appends one list entry: klen as 4 bytes little endian, then the key. */
bool host_kv_list_append(host_buf *b, const void *key, size_t klen);

/* Parses s[0..len) as Redis does for INCRBY: an optional '-' then decimal
 * digits, no leading zeros (except "0" itself), no "-0", no spaces, no
 * '+', within int64. False when it is not one. */
bool host_kv_parse_i64(const void *s, size_t len, int64_t *out);

/* ---- SQL databases -----------------------------------------------------------
 *
 * sql.c owns the pool and checks every argument of the public calls; a
 * backend (sql_sqlite.c, sql_pg.c) opens, uses, cleans and closes single
 * connections through host_sql_ops. A backend may rely on: a non-NULL
 * connection that one thread uses at a time, SQL text of 1..HOST_SQL_MAX_SQL
 * bytes without NUL bytes, at most HOST_SQL_MAX_PARAMS parameters of known
 * types whose TEXT and BLOB values have data (p != NULL) and at most
 * HOST_SQL_MAX_VALUE bytes, and an emptied result buffer. Its messages go
 * through host_sql_fail(), which puts the "database NAME: " prefix.
 */

/* SQLite's busy handler for every connection wasp opens (kv and sql):
 * waits for another connection's lock in short sleeps, up to 5 s in all
 * and never past the running guest call's deadline (sql_sqlite.c). */
int host_sqlite_busy(void *ctx, int count);
struct sqlite3;
/* sqlite3_exec for a connection's setup, run again while SQLite refuses
 * it as busy without waiting (a deadlock it avoided), as long as
 * host_sqlite_busy would wait. */
int host_sqlite_exec_retry(struct sqlite3 *db, const char *sql,
                           int (*cb)(void *, int, char **, char **), void *arg, char **msg);

#define HOST_SQL_MAX_PARAMS 1000
#define HOST_SQL_MAX_SQL (1u << 20)
#define HOST_SQL_MAX_VALUE 0x7fffffffu /* libpq takes lengths as int */
/* What host_sql_exec's max_result of 0 means. */
#define HOST_SQL_DEFAULT_MAX_RESULT (16u << 20)

typedef struct host_sql_ops {
    /* Open one connection at host_sql_open (SQLite: so that a bad path is
     * reported then, not at the first request). */
    bool connect_at_open;
    /* A new connection for the pool whose configuration (defaults filled
     * in, name never NULL) cfg is: NULL with "database NAME: reason". The
     * backend allocates its own struct with host_sql_conn first. */
    host_sql_conn *(*connect)(const host_sql_config *cfg, char *err, size_t errlen);
    /* Whether an idle connection is still usable before it is handed out;
     * idle_ms says how long it has been idle. False: sql.c closes it. */
    bool (*check)(host_sql_conn *c, uint64_t idle_ms);
    /* host_sql_exec with the arguments checked; max_result is never 0. */
    int (*exec)(host_sql_conn *c, const char *sql, size_t sql_len, const host_sql_value *params,
                size_t nparams, size_t max_result, host_buf *out, char *err, size_t errlen);
    /* Makes the connection fit for the next request; false when it cannot
     * be (sql.c then closes it). */
    bool (*clean)(host_sql_conn *c);
    /* Closes the connection and frees it. */
    void (*disconnect)(host_sql_conn *c);
} host_sql_ops;

/* The part of a connection sql.c sees. */
struct host_sql_conn {
    host_sql_db *db;            /* set by sql.c */
    const host_sql_config *cfg; /* the pool's, set by sql.c after connect */
    host_sql_conn *next_idle;   /* sql.c's idle list */
    uint64_t idle_since_ms;     /* CLOCK_MONOTONIC, when it was released */
    /* Set by a backend when the connection cannot be trusted any more
     * (the server went away, a protocol state it cannot recover from):
     * release then closes it instead of cleaning it. */
    bool broken;
    /* Set by a backend whose role may do anything on the server
     * (PostgreSQL SUPERUSER); sql.c warns once per pool. */
    bool superuser;
};

extern const host_sql_ops host_sql_sqlite_ops;
extern const host_sql_ops host_sql_pg_ops;

/* Writes "database NAME: " and the message into err (which may be NULL
 * when errlen is 0); returns HOST_ERROR. */
int host_sql_fail(const char *name, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes a result in host.h's encoding, refusing to grow past max bytes.
 * Each call returns HOST_OK, or HOST_ERROR with the message written
 * ("database NAME: the result is larger than ..."), after which the
 * writer must not be used again. Call order: begin, column x ncols, then
 * per row: row, value x ncols; then end. */
typedef struct host_sql_writer {
    host_buf *out;
    size_t max;
    size_t nrows_at; /* where the row count goes (0: not yet written) */
    uint32_t nrows;
    const char *name;
    char *err;
    size_t errlen;
} host_sql_writer;

void host_sql_writer_init(host_sql_writer *w, host_buf *out, size_t max, const char *name,
                          char *err, size_t errlen);
int host_sql_write_begin(host_sql_writer *w, uint32_t ncols);
int host_sql_write_column(host_sql_writer *w, const char *name, size_t len);
int host_sql_write_row(host_sql_writer *w);
int host_sql_write_value(host_sql_writer *w, const host_sql_value *v);
/* Writes the row count into its place (a result without columns gets
 * its header here) and appends `changes`. */
int host_sql_write_end(host_sql_writer *w, int64_t changes);

/* A per-connection cache of prepared statements keyed by bytes (the SQL
 * text, plus whatever else must match), least recently used first out. */
typedef struct host_sql_cached {
    char *key;
    size_t klen;
    uint64_t hash, used;
    void *stmt; /* the backend's */
} host_sql_cached;

typedef struct host_sql_cache {
    host_sql_cached *e;
    size_t n, cap; /* cap: the configured statement_cache */
    uint64_t clock;
} host_sql_cache;

/* False when out of memory. */
bool host_sql_cache_init(host_sql_cache *c, size_t cap);
/* The statement cached under key (marked as just used), or NULL. */
void *host_sql_cache_get(host_sql_cache *c, const void *key, size_t klen);
/* The least recently used statement when the cache is full (the caller
 * finalizes it and calls host_sql_cache_drop), else NULL. */
void *host_sql_cache_victim(host_sql_cache *c);
void host_sql_cache_drop(host_sql_cache *c, void *stmt);
/* Adds a statement that is not cached yet (the cache must not be full).
 * False when out of memory: the caller still owns stmt. */
bool host_sql_cache_put(host_sql_cache *c, const void *key, size_t klen, void *stmt);
/* Calls fin on every statement (may be NULL) and empties the cache. */
void host_sql_cache_clear(host_sql_cache *c, void (*fin)(void *ctx, void *stmt), void *ctx);
/* Frees the cache itself (after host_sql_cache_clear). */
void host_sql_cache_free(host_sql_cache *c);

#endif
