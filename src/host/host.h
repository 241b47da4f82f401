/*
 * host.h - capabilities a manifest can grant to an app: key-value stores,
 * variables and secrets (and, later, SQL and outbound HTTP).
 *
 * This layer knows nothing of HTTP or of the guest ABI: it offers plain C
 * calls over each backend, with errors as values and messages a user can
 * act on. src/server/ binds them to guest imports and decides who may call
 * what (deny by default). Every handle here is used by one thread at a
 * time; a server opens one per worker.
 *
 *   kv.c         the store API, dispatching to a backend
 *   kv_sqlite.c  SQLite file (WAL): the default, needs no setup
 *   kv_redis.c   Redis through hiredis: shared by many wasp replicas
 *   sql.c        the SQL API and the connection pool
 *   sql_sqlite.c, sql_pg.c   its backends (SQLite, PostgreSQL through libpq)
 *   http_out.c   outbound HTTP through libcurl, with an allow-list
 *   secrets.c    an encrypted secrets file (XChaCha20-Poly1305, libsodium)
 */
#ifndef WASP_HOST_H
#define WASP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of host calls. */
enum {
    HOST_OK = 0,
    HOST_NOT_FOUND = 1, /* kv: no such key (or it expired) */
    HOST_ERROR = -1,    /* the message says what went wrong */
};

/* A growable byte buffer that results are written into. The caller owns
 * it and frees `data` with free(). */
typedef struct host_buf {
    uint8_t *data;
    size_t len, cap;
} host_buf;

/* ---- key-value stores ------------------------------------------------------
 *
 * Keys are 1..HOST_KV_MAX_KEY bytes, values 0..HOST_KV_MAX_VALUE bytes,
 * both arbitrary bytes. A TTL of 0 means no expiry; an expired key reads as
 * absent. incr treats the value as a decimal 64-bit integer (absent = 0),
 * as Redis's INCRBY does, and fails on a value that is not one or on
 * overflow. list returns the keys that start with a prefix, sorted, each
 * as a 4-byte little-endian length followed by the key's bytes, at most
 * `limit` of them (0: HOST_KV_MAX_LIST).
 *
 * Durability: a set, delete or incr that returned HOST_OK is in the
 * backend when it returns - for SQLite, committed to the write-ahead log
 * (it survives the process being killed; `durable: full` in the manifest
 * also survives power loss at the cost of an fsync per write); for Redis,
 * acknowledged by the server (its own persistence settings apply).
 */

#define HOST_KV_MAX_KEY 4096
#define HOST_KV_MAX_VALUE (8u << 20)
#define HOST_KV_MAX_LIST 10000

typedef enum { HOST_KV_SQLITE, HOST_KV_REDIS } host_kv_backend;

typedef struct host_kv_config {
    const char *name; /* the store's name in the manifest, for messages */
    host_kv_backend backend;
    const char *path;    /* SQLite: the database file (created if absent) */
    bool durable_full;   /* SQLite: synchronous=FULL (fsync per write) */
    const char *url;     /* Redis: redis://[:password@]host[:port][/db] */
    const char *prefix;  /* Redis: prepended to every key (namespaces a shared server) */
    uint32_t timeout_ms; /* Redis: connect and command timeout (0: 2000) */
} host_kv_config;

typedef struct host_kv host_kv;

/* Opens a connection to a store (for SQLite, creates the file and table
 * when needed). NULL with "store NAME: reason" in err. */
host_kv *host_kv_open(const host_kv_config *cfg, char *err, size_t errlen);
void host_kv_close(host_kv *kv);

/* Each returns HOST_OK, HOST_NOT_FOUND (get only) or HOST_ERROR with a
 * message in err. A Redis connection that broke is re-established on the
 * next call. */
int host_kv_get(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
                size_t errlen);
int host_kv_set(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                uint64_t ttl_ms, char *err, size_t errlen);
int host_kv_delete(host_kv *kv, const void *key, size_t klen, bool *existed, char *err,
                   size_t errlen);
int host_kv_exists(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                   size_t errlen);
int host_kv_incr(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                 char *err, size_t errlen);
int host_kv_list(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                 char *err, size_t errlen);

/* ---- SQL databases -----------------------------------------------------------
 *
 * A database is a pool of connections shared by every worker (thread-safe);
 * a request acquires one connection when it first needs it and releases it
 * when it ends. Release cleans the connection before another request gets
 * it: an open transaction is rolled back and, for PostgreSQL, session state
 * is discarded (DISCARD ALL), so no request can leak state into the next.
 * Parameters are always bound, never interpolated into the SQL text.
 *
 * PostgreSQL (libpq): up to pool_size connections, opened on demand;
 * acquire waits up to acquire_timeout_ms for a free one; a connection that
 * failed (server restarted, network) is dropped and replaced on the next
 * acquire (PQstatus / a failed health check), so the pool recovers without
 * restarting wasp. Each connection caches prepared statements by SQL text
 * (up to statement_cache of them).
 * SQLite: the same API over a WAL database file, one connection per
 * acquirer (pool_size bounds them), busy timeout 5 s.
 */

typedef enum { HOST_SQL_SQLITE, HOST_SQL_POSTGRES } host_sql_backend;

typedef struct host_sql_config {
    const char *name; /* for messages */
    host_sql_backend backend;
    const char *path;            /* SQLite: the database file */
    const char *url;             /* PostgreSQL: a libpq connection URI or keyword string */
    uint32_t pool_size;          /* 0: 8 */
    uint32_t acquire_timeout_ms; /* 0: 2000 */
    uint32_t statement_cache;    /* 0: 64 prepared statements per connection */
    /* PostgreSQL: the server-side statement_timeout of every connection,
     * a backstop behind the cancellation at the guest call's deadline
     * (it also stops a statement whose client went away); 0: none. */
    uint32_t statement_timeout_ms;
    /* Called with a warning about the database, from the thread that
     * opened the pool or made a connection: a PostgreSQL role that is a
     * superuser, a server not reachable when the pool opened. May be NULL. */
    void (*warn)(const char *msg);
} host_sql_config;

/* Values crossing to and from SQL. Text and blobs point into memory the
 * caller owns (parameters) or into the result buffer (results). */
typedef enum {
    HOST_SQL_NULL = 0,
    HOST_SQL_INT = 1,
    HOST_SQL_FLOAT = 2,
    HOST_SQL_TEXT = 3,
    HOST_SQL_BLOB = 4,
} host_sql_type;

typedef struct host_sql_value {
    host_sql_type type;
    int64_t i;
    double f;
    const void *p; /* TEXT, BLOB */
    size_t len;
} host_sql_value;

typedef struct host_sql_db host_sql_db;
typedef struct host_sql_conn host_sql_conn;

/* Creates the pool (SQLite: opens and checks the file; PostgreSQL: tries
 * one connection, so that a superuser role or an unreachable server is
 * warned about at once, but a server that is down is not an error: the
 * pool connects when a request needs it). NULL with "database NAME:
 * reason". */
host_sql_db *host_sql_open(const host_sql_config *cfg, char *err, size_t errlen);
/* Closes every connection; no connection may be acquired any more. */
void host_sql_close(host_sql_db *db);
/* A connection for this thread, NULL with a message after the acquire
 * timeout or when the server cannot be reached. */
host_sql_conn *host_sql_acquire(host_sql_db *db, char *err, size_t errlen);
/* Cleans the connection (rollback, DISCARD ALL) and returns it to the
 * pool; a connection that cannot be cleaned is closed instead. */
void host_sql_release(host_sql_conn *c);

/*
 * Runs one statement with bound parameters. It never runs past the
 * deadline of the guest call it is made from (wasm_call_time_left_ms):
 * SQLite stops the statement, PostgreSQL's is cancelled, and the call
 * fails with a message saying so. The result is encoded into
 * `out` (replacing its contents), all integers little-endian:
 *
 *   u32 ncols, then per column: u32 name length, name bytes
 *   u32 nrows, then per row, per column: u8 type (host_sql_type), then
 *     INT: i64; FLOAT: f64 (IEEE bits); TEXT, BLOB: u32 length, bytes; NULL: nothing
 *   i64 rows changed (INSERT/UPDATE/DELETE), else 0
 *
 * PostgreSQL types map to INT (int2, int4, int8; bool as 0/1), FLOAT
 * (float4, float8), BLOB (bytea) and TEXT (everything else, numeric
 * included, in PostgreSQL's text form). HOST_ERROR with the
 * database's own message (e.g. `database app: ERROR: relation "x" does
 * not exist`). A result larger than max_result bytes is an error.
 * BEGIN/COMMIT/ROLLBACK are ordinary statements: a transaction spans the
 * calls of one request.
 */
int host_sql_exec(host_sql_conn *c, const char *sql, size_t sql_len, const host_sql_value *params,
                  size_t nparams, size_t max_result, host_buf *out, char *err, size_t errlen);

/* ---- outbound HTTP ------------------------------------------------------------
 *
 * Requests go only to origins on the allow-list: "scheme://host[:port]"
 * strings (the default port of the scheme when absent), compared after
 * normalising (lower-case scheme and host). Redirects are not followed:
 * a 3xx comes back to the caller, whose next request is checked again, so
 * no redirect can leave the list. Only http and https. */

typedef struct host_http_request {
    const char *method; /* GET, POST, ... */
    const char *url;
    const char *headers; /* "Name: value\n" lines, or NULL */
    const void *body;
    size_t body_len;
    uint32_t timeout_ms;      /* whole request; 0: 10000 */
    size_t max_response;      /* body bytes; 0: 16 MiB; more is an error */
    const char *const *allow; /* the allow-list */
    size_t nallow;
} host_http_request;

typedef struct host_http_response {
    int status;
    host_buf headers; /* "name: value\n" lines, names lower-case */
    host_buf body;
} host_http_response;

/* HOST_OK with the response filled, or HOST_ERROR with a message: a
 * denied origin names the rule (`http://x:81 is not on the allow-list
 * (allowed: ...)`; the caller adds the app), a timeout, a response over
 * the cap, a connection failure. Messages never show a URL's path, query
 * or password. Thread-safe (one easy handle per
 * call or per thread). */
int host_http_fetch(const host_http_request *req, host_http_response *resp, char *err,
                    size_t errlen);
/* Whether url's origin is on the list (the check host_http_fetch makes). */
bool host_http_allowed(const char *url, const char *const *allow, size_t nallow);

/* ---- secrets ---------------------------------------------------------------
 *
 * A secrets file holds name -> value pairs, encrypted as a whole with
 * XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf, a
 * fresh random nonce per write) under a 32-byte key.
 * The key comes from a file (32 raw bytes or 64 hex digits) or from an
 * environment variable (64 hex digits). Writing goes through a temporary
 * file and rename, so a crash never leaves a half-written file. Values are
 * wiped from memory when the set is freed. */

typedef struct host_secrets host_secrets;

/* Reads the key: from `key_file` if not NULL, else from the environment
 * variable `key_env`. False with a message when neither gives a key. */
bool host_secrets_key(const char *key_file, const char *key_env, uint8_t key[32], char *err,
                      size_t errlen);
/* Opens and decrypts `path` (a missing file is an empty set when
 * `create` is true). NULL with a message (wrong key, corrupt file, ...). */
host_secrets *host_secrets_open(const char *path, const uint8_t key[32], bool create, char *err,
                                size_t errlen);
/* The value of `name` (NUL-terminated, owned by the set), or NULL. */
const char *host_secrets_get(const host_secrets *s, const char *name);
/* Names in sorted order: out[0..n) point into the set. */
size_t host_secrets_names(const host_secrets *s, const char **out, size_t max);
bool host_secrets_set(host_secrets *s, const char *name, const char *value, char *err,
                      size_t errlen);
bool host_secrets_remove(host_secrets *s, const char *name);
/* Encrypts and writes the set back to its file (atomically). */
bool host_secrets_save(host_secrets *s, char *err, size_t errlen);
void host_secrets_free(host_secrets *s);

#endif
