/*
 * kv_sqlite.c - the SQLite backend of the key-value stores: one database
 * file, one table, one connection per handle.
 *
 * Many handles share a file: each worker thread of a server opens its own,
 * and several wasp processes may too. A handle is only ever used by one
 * thread at a time, so the connection is opened with SQLITE_OPEN_NOMUTEX
 * (SQLite's own locking would be pure cost). WAL lets readers run beside
 * the one writer, and busy_timeout makes a writer that finds the file
 * locked wait (up to BUSY_TIMEOUT_MS) instead of failing. A call that
 * returned HOST_OK has committed to the WAL: synchronous=NORMAL survives
 * the process dying, FULL (`durable: full`) also a power cut.
 *
 * Schema: kv(k BLOB PRIMARY KEY, expires_ms INTEGER, v BLOB NOT NULL), a
 * rowid table on purpose: in a WITHOUT ROWID table the whole row is the
 * b-tree key, and SQLite reads all of a row that spills onto overflow
 * pages each time a search compares against it, so one 8 MiB value made
 * every write landing on its page read 8 MiB (measured: 0.2 ms -> 6 ms
 * per set). Here searches compare only keys in the primary-key index, and
 * expires_ms comes before v so that exists and list never walk a big
 * value's overflow chain. Keys are always bound as blobs, so the index
 * sorts in memcmp order and a prefix is a key range.
 *
 * expires_ms is CLOCK_REALTIME in milliseconds (the one clock every
 * process agrees on) or NULL. An expired row reads as absent everywhere;
 * it goes away when overwritten or deleted, and every SWEEP_EVERY writes
 * a handle deletes a batch of expired rows found through a partial index,
 * so keys nobody touches again do not pile up. Reads never write.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/internal.h"

#define BUSY_TIMEOUT_MS 5000
/* A sweep of at most SWEEP_BATCH rows every SWEEP_EVERY writes removes
 * expired rows faster than writes with a TTL can leave them behind. */
#define SWEEP_EVERY 64
#define SWEEP_BATCH "256"

enum {
    ST_GET,
    ST_SET,
    ST_DEL,
    ST_EXISTS,
    ST_LIST_RANGE, /* prefix with a successor: k in [prefix, successor) */
    ST_LIST_FROM,  /* prefix of 0xff bytes only, or empty: k >= prefix */
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SWEEP,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_GET] = "SELECT v, expires_ms FROM kv WHERE k = ?1",
    [ST_SET] = "INSERT INTO kv(k, expires_ms, v) VALUES (?1, ?3, ?2)"
               " ON CONFLICT(k) DO UPDATE SET expires_ms = excluded.expires_ms, v = excluded.v",
    [ST_DEL] = "DELETE FROM kv WHERE k = ?1 RETURNING expires_ms",
    [ST_EXISTS] = "SELECT expires_ms FROM kv WHERE k = ?1",
    [ST_LIST_RANGE] = "SELECT k FROM kv WHERE k >= ?1 AND k < ?2"
                      " AND (expires_ms IS NULL OR expires_ms > ?3) ORDER BY k LIMIT ?4",
    [ST_LIST_FROM] = "SELECT k FROM kv WHERE k >= ?1"
                     " AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY k LIMIT ?3",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SWEEP] = "DELETE FROM kv WHERE rowid IN"
                 " (SELECT rowid FROM kv WHERE expires_ms <= ?1 LIMIT " SWEEP_BATCH ")",
};

/* The partial index only holds rows with a TTL: the sweep finds expired
 * rows without a table scan, and rows without a TTL cost nothing. */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, expires_ms INTEGER, v BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS kv_expires ON kv(expires_ms) WHERE expires_ms IS NOT NULL;";

typedef struct kv_sqlite {
    host_kv base;
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    unsigned writes; /* since the last sweep */
} kv_sqlite;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "WHAT: SQLite's message (PATH)", with a hint when a lock was held for
 * longer than the busy timeout. */
static int db_fail(kv_sqlite *s, int rc, const char *what, char *err, size_t errlen) {
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
        return host_kv_fail(s->base.name, err, errlen,
                            "%s: %s (%s; another connection held it locked for more than %d ms, "
                            "or longer than the request's deadline)",
                            what, msg, s->path, BUSY_TIMEOUT_MS);
    return host_kv_fail(s->base.name, err, errlen, "%s: %s (%s)", what, msg, s->path);
}

/* Steps a statement that returns no rows and resets it; SQLite's code. */
static int run(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

static void bind_key(sqlite3_stmt *st, int i, const void *key, size_t klen) {
    /* the caller's bytes are only read during this call: no copy */
    sqlite3_bind_blob64(st, i, key, klen, SQLITE_STATIC);
}

/* True when a row's expires_ms column (NULL: never) is still in the future. */
static bool alive(sqlite3_stmt *st, int col, int64_t now) {
    return sqlite3_column_type(st, col) == SQLITE_NULL || sqlite3_column_int64(st, col) > now;
}

/* Housekeeping after a write: a failure here (say, the file is locked for
 * too long) only delays the cleanup, so it is not reported. */
static void after_write(kv_sqlite *s) {
    if (++s->writes < SWEEP_EVERY) return;
    s->writes = 0;
    sqlite3_bind_int64(s->st[ST_SWEEP], 1, now_ms());
    run(s->st[ST_SWEEP]);
}

static int sq_get(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
                  size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    sqlite3_stmt *st = s->st[ST_GET];
    bind_key(st, 1, key, klen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || (rc == SQLITE_ROW && !alive(st, 1, now_ms()))) {
        sqlite3_reset(st);
        return HOST_NOT_FOUND;
    }
    if (rc != SQLITE_ROW) {
        char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 32];
        snprintf(what, sizeof what, "reading key %s", host_kv_quote(key, klen, q));
        int ret = db_fail(s, rc, what, err, errlen);
        sqlite3_reset(st);
        return ret;
    }
    const void *v = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    int ret = HOST_OK;
    if ((n > 0 && !v) || !host_kv_buf_append(value, v, n)) {
        char q[HOST_KV_QUOTE_MAX];
        ret = host_kv_fail(kv->name, err, errlen, "reading key %s: out of memory for %zu bytes",
                           host_kv_quote(key, klen, q), n);
    }
    sqlite3_reset(st);
    return ret;
}

static void bind_expiry(sqlite3_stmt *st, int i, int64_t expires_ms) {
    if (expires_ms)
        sqlite3_bind_int64(st, i, expires_ms);
    else
        sqlite3_bind_null(st, i);
}

static int sq_set(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                  uint64_t ttl_ms, char *err, size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    sqlite3_stmt *st = s->st[ST_SET];
    bind_key(st, 1, key, klen);
    sqlite3_bind_blob64(st, 2, val, vlen, SQLITE_STATIC);
    bind_expiry(st, 3, ttl_ms ? now_ms() + (int64_t)ttl_ms : 0);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 32];
        snprintf(what, sizeof what, "writing key %s", host_kv_quote(key, klen, q));
        int ret = db_fail(s, rc, what, err, errlen);
        sqlite3_reset(st);
        return ret;
    }
    sqlite3_reset(st);
    after_write(s);
    return HOST_OK;
}

static int sq_del(host_kv *kv, const void *key, size_t klen, bool *existed, char *err,
                  size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    sqlite3_stmt *st = s->st[ST_DEL];
    bind_key(st, 1, key, klen);
    int64_t now = now_ms();
    int rc;
    /* the row is deleted either way; an expired one did not exist */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (alive(st, 0, now)) *existed = true;
    if (rc != SQLITE_DONE) {
        char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 32];
        snprintf(what, sizeof what, "deleting key %s", host_kv_quote(key, klen, q));
        int ret = db_fail(s, rc, what, err, errlen);
        sqlite3_reset(st);
        *existed = false;
        return ret;
    }
    sqlite3_reset(st);
    after_write(s);
    return HOST_OK;
}

static int sq_exists(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                     size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    sqlite3_stmt *st = s->st[ST_EXISTS];
    bind_key(st, 1, key, klen);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *exists = alive(st, 0, now_ms());
    } else if (rc != SQLITE_DONE) {
        char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 32];
        snprintf(what, sizeof what, "reading key %s", host_kv_quote(key, klen, q));
        int ret = db_fail(s, rc, what, err, errlen);
        sqlite3_reset(st);
        return ret;
    }
    sqlite3_reset(st);
    return HOST_OK;
}

/* Ends incr's transaction after a failure; SQLite may already have rolled
 * it back by itself (after I/O errors, a full disk). */
static void rollback(kv_sqlite *s) {
    if (!sqlite3_get_autocommit(s->db)) run(s->st[ST_ROLLBACK]);
}

/* Read, add and write back inside one BEGIN IMMEDIATE transaction: the
 * write lock is taken before the read, so two handles incrementing the
 * same key never both read the old value. The key keeps its TTL, as with
 * Redis's INCRBY. */
static int sq_incr(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                   char *err, size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 32];
    host_kv_quote(key, klen, q);
    snprintf(what, sizeof what, "incrementing key %s", q);

    int rc = run(s->st[ST_BEGIN]);
    if (rc != SQLITE_DONE) return db_fail(s, rc, what, err, errlen);

    sqlite3_stmt *get = s->st[ST_GET];
    bind_key(get, 1, key, klen);
    int64_t cur = 0, expires = 0;
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW && alive(get, 1, now_ms())) {
        if (sqlite3_column_type(get, 1) != SQLITE_NULL) expires = sqlite3_column_int64(get, 1);
        const void *v = sqlite3_column_blob(get, 0);
        if (!host_kv_parse_i64(v, (size_t)sqlite3_column_bytes(get, 0), &cur)) {
            sqlite3_reset(get);
            rollback(s);
            return host_kv_fail(kv->name, err, errlen, "value of key %s is not an integer", q);
        }
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        int ret = db_fail(s, rc, what, err, errlen);
        sqlite3_reset(get);
        rollback(s);
        return ret;
    }
    sqlite3_reset(get);

    int64_t sum;
    if (__builtin_add_overflow(cur, delta, &sum)) {
        rollback(s);
        return host_kv_fail(kv->name, err, errlen,
                            "incrementing key %s by %lld would overflow a 64-bit integer", q,
                            (long long)delta);
    }
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)sum);
    sqlite3_stmt *set = s->st[ST_SET];
    bind_key(set, 1, key, klen);
    sqlite3_bind_blob(set, 2, text, n, SQLITE_STATIC);
    bind_expiry(set, 3, expires);
    rc = run(set);
    if (rc == SQLITE_DONE) rc = run(s->st[ST_COMMIT]);
    if (rc != SQLITE_DONE) {
        int ret = db_fail(s, rc, what, err, errlen);
        rollback(s);
        return ret;
    }
    *result = sum;
    after_write(s);
    return HOST_OK;
}

/* The smallest byte string greater than every string starting with
 * prefix: drop trailing 0xff bytes and add one to the last byte left.
 * Returns its length; 0 when there is none (the prefix is empty or all
 * 0xff), and then the range has no upper end. */
static size_t prefix_successor(const uint8_t *prefix, size_t plen, uint8_t *out) {
    while (plen > 0 && prefix[plen - 1] == 0xff)
        plen--;
    if (plen == 0) return 0;
    memcpy(out, prefix, plen);
    out[plen - 1]++;
    return plen;
}

static int sq_list(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                   char *err, size_t errlen) {
    kv_sqlite *s = (kv_sqlite *)kv;
    uint8_t succ[HOST_KV_MAX_KEY];
    size_t slen = prefix_successor(prefix, plen, succ);
    sqlite3_stmt *st;
    int i = 1;
    if (slen) {
        st = s->st[ST_LIST_RANGE];
        bind_key(st, i++, prefix, plen);
        bind_key(st, i++, succ, slen);
    } else {
        st = s->st[ST_LIST_FROM];
        bind_key(st, i++, prefix, plen);
    }
    sqlite3_bind_int64(st, i++, now_ms());
    sqlite3_bind_int64(st, i, limit);
    int rc, ret = HOST_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *k = sqlite3_column_blob(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if ((n > 0 && !k) || !host_kv_list_append(keys, k, n)) {
            ret = host_kv_fail(kv->name, err, errlen, "listing keys: out of memory");
            break;
        }
    }
    if (ret == HOST_OK && rc != SQLITE_DONE) {
        char q[HOST_KV_QUOTE_MAX], what[HOST_KV_QUOTE_MAX + 48];
        snprintf(what, sizeof what, "listing keys starting with %s",
                 host_kv_quote(prefix, plen, q));
        ret = db_fail(s, rc, what, err, errlen);
    }
    sqlite3_reset(st);
    if (ret != HOST_OK) keys->len = 0;
    return ret;
}

static void sq_close(host_kv *kv) {
    kv_sqlite *s = (kv_sqlite *)kv;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    /* the last connection to close checkpoints the WAL into the file */
    sqlite3_close(s->db);
    free(s->path);
    host_kv_free_base(kv);
    free(s);
}

static const host_kv_ops sqlite_ops = {
    .get = sq_get,
    .set = sq_set,
    .del = sq_del,
    .exists = sq_exists,
    .incr = sq_incr,
    .list = sq_list,
    .close = sq_close,
};

/* sqlite3_exec callback for "PRAGMA journal_mode=WAL": keeps the mode the
 * database ended up in. */
static int read_mode(void *out, int ncol, char **vals, char **names) {
    if (ncol > 0 && vals[0]) snprintf(out, 16, "%s", vals[0]);
    return 0;
}

/* Runs `sql` during setup; on failure fills err with "WHAT PATH: msg". */
static bool setup_exec(kv_sqlite *s, const char *sql, int (*cb)(void *, int, char **, char **),
                       void *arg, const char *what, char *err, size_t errlen) {
    char *msg = NULL;
    int rc = host_sqlite_exec_retry(s->db, sql, cb, arg, &msg);
    if (rc == SQLITE_OK) return true;
    host_kv_fail(s->base.name, err, errlen, "%s %s: %s", what, s->path,
                 msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return false;
}

host_kv *host_kv_sqlite_open(const host_kv_config *cfg, char *err, size_t errlen) {
    if (!cfg->path || !*cfg->path) {
        host_kv_fail(cfg->name, err, errlen, "no database file given (the store's `path`)");
        return NULL;
    }
    /* NOMUTEX leaves thread safety to us, which needs a library built
     * with it (Debian's is) */
    if (!sqlite3_threadsafe()) {
        host_kv_fail(cfg->name, err, errlen,
                     "the SQLite library was built without thread support (SQLITE_THREADSAFE=0)");
        return NULL;
    }
    kv_sqlite *s = calloc(1, sizeof *s);
    if (!s || !host_kv_init_base(&s->base, &sqlite_ops, cfg->name) ||
        !(s->path = strdup(cfg->path))) {
        host_kv_fail(cfg->name, err, errlen, "out of memory");
        if (s) host_kv_free_base(&s->base);
        free(s);
        return NULL;
    }
    int rc = sqlite3_open_v2(
        cfg->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        host_kv_fail(cfg->name, err, errlen, "cannot open %s: %s", cfg->path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        sq_close(&s->base);
        return NULL;
    }
    /* like busy_timeout, but never past the guest call's deadline */
    sqlite3_busy_handler(s->db, host_sqlite_busy, NULL);
    char mode[16] = "";
    if (!setup_exec(s, "PRAGMA journal_mode=WAL", read_mode, mode, "cannot set up", err, errlen))
        goto fail;
    if (strcmp(mode, "wal") != 0) {
        host_kv_fail(cfg->name, err, errlen,
                     "cannot switch %s to write-ahead logging (journal_mode stays \"%s\")",
                     cfg->path, mode);
        goto fail;
    }
    if (!setup_exec(s, cfg->durable_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                    NULL, NULL, "cannot set up", err, errlen) ||
        !setup_exec(s, schema_sql, NULL, NULL, "cannot create the kv table in", err, errlen))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK) {
            host_kv_fail(cfg->name, err, errlen,
                         "%s has a kv table wasp cannot use: %s (was it made by something "
                         "else?)",
                         cfg->path, sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    return &s->base;
fail:
    sq_close(&s->base);
    return NULL;
}
