/*
 * sql.c - the SQL API of host.h: the connection pool, the checks every
 * public call makes before a backend (sql_sqlite.c, sql_pg.c) sees it,
 * and what the backends share - the "database NAME: " message prefix, the
 * result encoding and the prepared-statement cache.
 *
 * The pool. One mutex guards the list of idle connections, the count of
 * open ones (idle, handed out, or being opened right now) and a queue of
 * acquires waiting for one. A waiter waits on a util_waiter - so in
 * `wasp serve` its request is suspended and the worker runs others,
 * among them perhaps the very request whose release it waits for, with no
 * system call when both are on the same worker - and a release hands the
 * connection (or the freed slot) straight to the first waiter, first come
 * first served. Slow work - connecting, checking an idle
 * connection, cleaning one on release - runs outside the lock: a slot is
 * reserved first (open++), so pool_size is never exceeded. Idle
 * connections are reused most recently released first, which keeps the
 * warm ones warm. Before an idle connection is handed out the backend
 * checks it (ops->check, given how long it idled); one that fails is
 * closed and a new one opened in its slot, so a database server that
 * restarted costs one reconnect per connection, not a wasp restart.
 *
 * Release asks the backend to clean the connection (roll back an open
 * transaction, discard session state). A connection that cannot be
 * cleaned, or that the backend marked broken, is closed and its slot
 * freed instead of going back to the idle list.
 *
 * host_sql_close waits for nothing: every acquired connection must have
 * been released before it is called (a server closes its databases after
 * its workers have stopped).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/internal.h"
#include "util/util.h"
#include "wasm/wasm.h"

#define DEFAULT_POOL_SIZE 8
#define DEFAULT_ACQUIRE_TIMEOUT_MS 2000
#define DEFAULT_STATEMENT_CACHE 64

struct host_sql_db {
    host_sql_config cfg; /* defaults filled in; name, path and url owned */
    const host_sql_ops *ops;
    pthread_mutex_t lock;
    struct pool_waiter *waiters, **waiters_tail; /* acquires waiting, oldest first */
    host_sql_conn *idle;                         /* most recently released first */
    uint32_t open;                               /* connections counted against pool_size */
    atomic_bool warned;                          /* the superuser warning was given */
};

int host_sql_fail(const char *name, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    host_failv("database", name, err, errlen, fmt, ap);
    va_end(ap);
    return HOST_ERROR;
}

/* ---- the result encoding --------------------------------------------------- */

void host_sql_writer_init(host_sql_writer *w, host_buf *out, size_t max, const char *name,
                          char *err, size_t errlen) {
    *w = (host_sql_writer){.out = out, .max = max, .name = name, .err = err, .errlen = errlen};
}

static int put(host_sql_writer *w, const void *data, size_t n) {
    if (n > w->max || w->out->len > w->max - n)
        return host_sql_fail(w->name, w->err, w->errlen,
                             "the result is larger than the limit of %zu bytes (select fewer rows "
                             "or columns)",
                             w->max);
    if (!host_kv_buf_append(w->out, data, n))
        return host_sql_fail(w->name, w->err, w->errlen, "out of memory for a %zu-byte result",
                             w->out->len + n);
    return HOST_OK;
}

static void le32(uint8_t b[4], uint32_t v) {
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static int put_u32(host_sql_writer *w, uint32_t v) {
    uint8_t b[4];
    le32(b, v);
    return put(w, b, 4);
}

static int put_u64(host_sql_writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return put(w, b, 8);
}

int host_sql_write_begin(host_sql_writer *w, uint32_t ncols) {
    return put_u32(w, ncols);
}

int host_sql_write_column(host_sql_writer *w, const char *name, size_t len) {
    if (len > UINT32_MAX) len = UINT32_MAX;
    if (put_u32(w, (uint32_t)len) != HOST_OK) return HOST_ERROR;
    return put(w, name, len);
}

static int rows_header(host_sql_writer *w) {
    if (w->nrows_at) return HOST_OK;
    w->nrows_at = w->out->len;
    return put_u32(w, 0);
}

int host_sql_write_row(host_sql_writer *w) {
    if (rows_header(w) != HOST_OK) return HOST_ERROR;
    if (w->nrows == UINT32_MAX)
        return host_sql_fail(w->name, w->err, w->errlen, "the result has more than %u rows",
                             UINT32_MAX);
    w->nrows++;
    return HOST_OK;
}

int host_sql_write_value(host_sql_writer *w, const host_sql_value *v) {
    uint8_t t = (uint8_t)v->type;
    if (put(w, &t, 1) != HOST_OK) return HOST_ERROR;
    switch (v->type) {
    case HOST_SQL_NULL: return HOST_OK;
    case HOST_SQL_INT: return put_u64(w, (uint64_t)v->i);
    case HOST_SQL_FLOAT: {
        uint64_t bits;
        memcpy(&bits, &v->f, 8);
        return put_u64(w, bits);
    }
    case HOST_SQL_TEXT:
    case HOST_SQL_BLOB:
        if (v->len > UINT32_MAX)
            return host_sql_fail(w->name, w->err, w->errlen,
                                 "a value of %zu bytes does not fit the result encoding", v->len);
        if (put_u32(w, (uint32_t)v->len) != HOST_OK) return HOST_ERROR;
        return put(w, v->p, v->len);
    }
    return host_sql_fail(w->name, w->err, w->errlen, "unknown value type %d", (int)v->type);
}

int host_sql_write_end(host_sql_writer *w, int64_t changes) {
    if (w->out->len == 0 && host_sql_write_begin(w, 0) != HOST_OK) return HOST_ERROR;
    if (rows_header(w) != HOST_OK) return HOST_ERROR;
    le32(w->out->data + w->nrows_at, w->nrows);
    return put_u64(w, (uint64_t)changes);
}

/* ---- the statement cache --------------------------------------------------- */

/* FNV-1a: compared before the key bytes, so a lookup mostly costs one
 * integer comparison per entry. */
static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

bool host_sql_cache_init(host_sql_cache *c, size_t cap) {
    *c = (host_sql_cache){.cap = cap};
    c->e = calloc(cap, sizeof *c->e);
    return c->e != NULL;
}

void *host_sql_cache_get(host_sql_cache *c, const void *key, size_t klen) {
    uint64_t h = hash_bytes(key, klen);
    for (size_t i = 0; i < c->n; i++) {
        host_sql_cached *e = &c->e[i];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            e->used = ++c->clock;
            return e->stmt;
        }
    }
    return NULL;
}

void *host_sql_cache_victim(host_sql_cache *c) {
    if (c->n < c->cap) return NULL;
    size_t lru = 0;
    for (size_t i = 1; i < c->n; i++)
        if (c->e[i].used < c->e[lru].used) lru = i;
    return c->e[lru].stmt;
}

void host_sql_cache_drop(host_sql_cache *c, void *stmt) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->e[i].stmt != stmt) continue;
        free(c->e[i].key);
        c->e[i] = c->e[--c->n];
        return;
    }
}

bool host_sql_cache_put(host_sql_cache *c, const void *key, size_t klen, void *stmt) {
    if (c->n == c->cap) return false;
    char *k = malloc(klen ? klen : 1);
    if (!k) return false;
    memcpy(k, key, klen);
    c->e[c->n++] = (host_sql_cached){
        .key = k, .klen = klen, .hash = hash_bytes(key, klen), .used = ++c->clock, .stmt = stmt};
    return true;
}

void host_sql_cache_clear(host_sql_cache *c, void (*fin)(void *ctx, void *stmt), void *ctx) {
    for (size_t i = 0; i < c->n; i++) {
        if (fin) fin(ctx, c->e[i].stmt);
        free(c->e[i].key);
    }
    c->n = 0;
}

void host_sql_cache_free(host_sql_cache *c) {
    host_sql_cache_clear(c, NULL, NULL);
    free(c->e);
    c->e = NULL;
}

/* ---- the pool -------------------------------------------------------------- */

static void free_db(host_sql_db *db) {
    free((char *)db->cfg.name);
    free((char *)db->cfg.path);
    free((char *)db->cfg.url);
    free(db);
}

static char *dup_or_null(const char *s, bool *oom) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = true;
    return d;
}

static host_sql_conn *connect_one(host_sql_db *db, char *err, size_t errlen) {
    host_sql_conn *c = db->ops->connect(&db->cfg, err, errlen);
    if (!c) return NULL;
    c->db = db;
    c->cfg = &db->cfg;
    c->next_idle = NULL;
    c->broken = false;
    if (c->superuser && db->cfg.warn && !atomic_exchange(&db->warned, true)) {
        char msg[512];
        host_sql_fail(db->cfg.name, msg, sizeof msg,
                      "the role wasp connects as is a superuser: a guest's SQL can then read "
                      "and write any file of the database server (pg_read_file, COPY ... "
                      "PROGRAM); connect as a role without SUPERUSER");
        db->cfg.warn(msg);
    }
    return c;
}

host_sql_db *host_sql_open(const host_sql_config *cfg, char *err, size_t errlen) {
    if (!cfg) {
        host_sql_fail(NULL, err, errlen, "no configuration given");
        return NULL;
    }
    const host_sql_ops *ops;
    switch (cfg->backend) {
    case HOST_SQL_SQLITE:
        if (!cfg->path || !*cfg->path) {
            host_sql_fail(cfg->name, err, errlen, "no database file given (the database's `path`)");
            return NULL;
        }
        ops = &host_sql_sqlite_ops;
        break;
    case HOST_SQL_POSTGRES:
        if (!cfg->url || !*cfg->url) {
            host_sql_fail(cfg->name, err, errlen,
                          "no connection url given (the database's `url`, "
                          "postgresql://user:password@host:port/dbname)");
            return NULL;
        }
        ops = &host_sql_pg_ops;
        break;
    default:
        host_sql_fail(cfg->name, err, errlen, "unknown backend %d (expected sqlite or postgres)",
                      (int)cfg->backend);
        return NULL;
    }
    host_sql_db *db = calloc(1, sizeof *db);
    if (!db) {
        host_sql_fail(cfg->name, err, errlen, "out of memory");
        return NULL;
    }
    bool oom = false;
    db->cfg = *cfg;
    db->cfg.name = dup_or_null(host_kv_display_name(cfg->name), &oom);
    db->cfg.path = dup_or_null(cfg->path, &oom);
    db->cfg.url = dup_or_null(cfg->url, &oom);
    if (!db->cfg.pool_size) db->cfg.pool_size = DEFAULT_POOL_SIZE;
    if (!db->cfg.acquire_timeout_ms) db->cfg.acquire_timeout_ms = DEFAULT_ACQUIRE_TIMEOUT_MS;
    if (!db->cfg.statement_cache) db->cfg.statement_cache = DEFAULT_STATEMENT_CACHE;
    db->ops = ops;
    if (oom) {
        host_sql_fail(cfg->name, err, errlen, "out of memory");
        free_db(db);
        return NULL;
    }
    db->waiters_tail = &db->waiters;
    if (pthread_mutex_init(&db->lock, NULL) != 0) {
        host_sql_fail(cfg->name, err, errlen, "cannot create the pool's mutex");
        free_db(db);
        return NULL;
    }
    if (ops->connect_at_open) {
        host_sql_conn *c = connect_one(db, err, errlen);
        if (!c) {
            host_sql_close(db);
            return NULL;
        }
        c->idle_since_ms = util_mono_ms();
        db->idle = c;
        db->open = 1;
    } else {
        char why[512];
        host_sql_conn *c = connect_one(db, why, sizeof why);
        if (c) {
            c->idle_since_ms = util_mono_ms();
            db->idle = c;
            db->open = 1;
        } else if (db->cfg.warn) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s (requests that use it fail until it can be reached)",
                     why);
            db->cfg.warn(msg);
        }
    }
    return db;
}

void host_sql_close(host_sql_db *db) {
    if (!db) return;
    while (db->idle) {
        host_sql_conn *c = db->idle;
        db->idle = c->next_idle;
        db->ops->disconnect(c);
    }
    pthread_mutex_destroy(&db->lock);
    free_db(db);
}

/* An acquire waiting for a connection: on its own stack (or fiber). A
 * release sets `conn`, or `slot` (a slot to open a connection in), and
 * wakes it. */
typedef struct pool_waiter {
    util_waiter wait;
    host_sql_conn *conn;
    bool slot;
    struct pool_waiter *next;
} pool_waiter;

/* The first waiter, taken off the queue; NULL when none. Under the lock. */
static pool_waiter *waiter_pop(host_sql_db *db) {
    pool_waiter *w = db->waiters;
    if (!w) return NULL;
    db->waiters = w->next;
    if (!db->waiters) db->waiters_tail = &db->waiters;
    return w;
}

/* Queues w last. Under the lock. */
static void waiter_push(host_sql_db *db, pool_waiter *w) {
    w->next = NULL;
    *db->waiters_tail = w;
    db->waiters_tail = &w->next;
}

/* Takes w off the queue, if it is still on it. Under the lock. */
static void waiter_remove(host_sql_db *db, pool_waiter *w) {
    for (pool_waiter **p = &db->waiters; *p; p = &(*p)->next) {
        if (*p != w) continue;
        *p = w->next;
        if (!*p) db->waiters_tail = p;
        return;
    }
}

/* Gives up a slot whose connection is gone (closed, or never opened): to
 * the first waiter, who opens a connection in it, or back to the pool. */
static void free_slot(host_sql_db *db) {
    pthread_mutex_lock(&db->lock);
    pool_waiter *w = waiter_pop(db);
    if (w) {
        w->slot = true;
        util_waiter_wake(&w->wait);
    } else {
        db->open--;
    }
    pthread_mutex_unlock(&db->lock);
}

/* Waits in the queue until a release hands over a connection or a slot,
 * for at most wait_ms. Called with the lock held; returns with it held.
 * False when the time ran out or the request is being stopped. A release
 * wakes the waiter under the lock, so once this has the lock back no
 * wake is still running on w. */
static bool wait_turn(host_sql_db *db, uint32_t wait_ms, host_sql_conn **c) {
    pool_waiter w = {0};
    util_waiter_init(&w.wait);
    /* w lives on this stack while queued: every way out of the loop below
     * leaves it off the queue (popped by a release, or removed) */
    waiter_push(db, &w);
    uint64_t until = util_mono_ms() + wait_ms;
    for (;;) {
        pthread_mutex_unlock(&db->lock);
        uint64_t now = util_mono_ms();
        if (now < until && !wasm_call_should_stop(NULL))
            util_waiter_wait(&w.wait, (int)(until - now));
        pthread_mutex_lock(&db->lock);
        /* handed over meanwhile, even if the time is up: it is ours now */
        if (w.conn || w.slot) break;
        if (util_mono_ms() >= until || wasm_call_should_stop(NULL)) {
            waiter_remove(db, &w);
            break;
        }
    }
    util_waiter_done(&w.wait);
    *c = w.conn;
    return w.conn || w.slot;
}

host_sql_conn *host_sql_acquire(host_sql_db *db, char *err, size_t errlen) {
    if (!db) {
        host_sql_fail(NULL, err, errlen, "no database handle (host_sql_db is NULL)");
        return NULL;
    }
    /* the acquire timeout, or the request's deadline when that is nearer */
    uint32_t wait = host_wait_ms(db->cfg.acquire_timeout_ms);
    host_sql_conn *c = NULL;
    pthread_mutex_lock(&db->lock);
    if (db->idle) {
        c = db->idle;
        db->idle = c->next_idle;
    } else if (db->open < db->cfg.pool_size) {
        db->open++; /* reserve the slot, connect outside the lock */
    } else if (!wait_turn(db, wait, &c)) {
        pthread_mutex_unlock(&db->lock);
        host_sql_fail(db->cfg.name, err, errlen,
                      "no connection free within %u ms%s (all %u of the pool are in use; raise "
                      "pool_size or hold connections for less time)",
                      wait,
                      wait < db->cfg.acquire_timeout_ms ? ", the time left before the "
                                                          "request's deadline"
                                                        : "",
                      db->cfg.pool_size);
        return NULL;
    }
    pthread_mutex_unlock(&db->lock);

    if (c) {
        uint64_t now = util_mono_ms();
        if (db->ops->check(c, now > c->idle_since_ms ? now - c->idle_since_ms : 0)) {
            c->next_idle = NULL;
            return c;
        }
        /* gone stale (the server restarted, say): replace it in its slot */
        db->ops->disconnect(c);
    }
    c = connect_one(db, err, errlen);
    if (!c) free_slot(db);
    return c;
}

void host_sql_release(host_sql_conn *c) {
    if (!c) return;
    host_sql_db *db = c->db;
    if (c->broken || !db->ops->clean(c)) {
        db->ops->disconnect(c);
        free_slot(db);
        return;
    }
    c->idle_since_ms = util_mono_ms();
    pthread_mutex_lock(&db->lock);
    pool_waiter *w = waiter_pop(db);
    if (w) {
        c->next_idle = NULL;
        w->conn = c;
        util_waiter_wake(&w->wait);
    } else {
        c->next_idle = db->idle;
        db->idle = c;
    }
    pthread_mutex_unlock(&db->lock);
}

/* ---- statements ------------------------------------------------------------ */

static const char *type_name(host_sql_type t) {
    switch (t) {
    case HOST_SQL_NULL: return "NULL";
    case HOST_SQL_INT: return "INT";
    case HOST_SQL_FLOAT: return "FLOAT";
    case HOST_SQL_TEXT: return "TEXT";
    case HOST_SQL_BLOB: return "BLOB";
    }
    return "?";
}

int host_sql_exec(host_sql_conn *c, const char *sql, size_t sql_len, const host_sql_value *params,
                  size_t nparams, size_t max_result, host_buf *out, char *err, size_t errlen) {
    if (!c) return host_sql_fail(NULL, err, errlen, "no connection (host_sql_conn is NULL)");
    const char *name = c->cfg->name;
    if (!out) return host_sql_fail(name, err, errlen, "no result buffer given");
    out->len = 0;
    if (sql_len == 0) return host_sql_fail(name, err, errlen, "empty SQL statement");
    if (!sql) return host_sql_fail(name, err, errlen, "SQL of %zu bytes has no data", sql_len);
    if (sql_len > HOST_SQL_MAX_SQL)
        return host_sql_fail(name, err, errlen, "SQL of %zu bytes is too long (at most %u bytes)",
                             sql_len, HOST_SQL_MAX_SQL);
    const char *nul = memchr(sql, '\0', sql_len);
    if (nul)
        return host_sql_fail(name, err, errlen, "the SQL text holds a NUL byte at offset %zu",
                             (size_t)(nul - sql));
    if (nparams > HOST_SQL_MAX_PARAMS)
        return host_sql_fail(name, err, errlen, "%zu parameters are too many (at most %d)", nparams,
                             HOST_SQL_MAX_PARAMS);
    if (nparams && !params)
        return host_sql_fail(name, err, errlen, "%zu parameters announced but none given", nparams);
    for (size_t i = 0; i < nparams; i++) {
        const host_sql_value *v = &params[i];
        if ((unsigned)v->type > HOST_SQL_BLOB)
            return host_sql_fail(name, err, errlen,
                                 "parameter %zu has unknown type %d (expected NULL, INT, FLOAT, "
                                 "TEXT or BLOB)",
                                 i + 1, (int)v->type);
        if (v->type != HOST_SQL_TEXT && v->type != HOST_SQL_BLOB) continue;
        if (v->len > HOST_SQL_MAX_VALUE)
            return host_sql_fail(name, err, errlen,
                                 "parameter %zu: %s of %zu bytes is too large (at most %u bytes)",
                                 i + 1, type_name(v->type), v->len, HOST_SQL_MAX_VALUE);
        if (v->len && !v->p)
            return host_sql_fail(name, err, errlen, "parameter %zu: %s of %zu bytes has no data",
                                 i + 1, type_name(v->type), v->len);
    }
    if (max_result == 0) max_result = HOST_SQL_DEFAULT_MAX_RESULT;
    /* backends bind the value's address even when it is empty */
    host_sql_value *fixed = NULL;
    for (size_t i = 0; i < nparams; i++) {
        if ((params[i].type != HOST_SQL_TEXT && params[i].type != HOST_SQL_BLOB) || params[i].p)
            continue;
        if (!fixed) {
            fixed = malloc(nparams * sizeof *fixed);
            if (!fixed) return host_sql_fail(name, err, errlen, "out of memory");
            memcpy(fixed, params, nparams * sizeof *fixed);
        }
        fixed[i].p = "";
    }
    int rc = c->db->ops->exec(c, sql, sql_len, fixed ? fixed : params, nparams, max_result, out,
                              err, errlen);
    free(fixed);
    if (rc != HOST_OK) out->len = 0;
    return rc;
}
