/*
 * sql_sqlite.c - the SQLite backend of the SQL databases: each pooled
 * connection is its own sqlite3 handle on the database file.
 *
 * A connection is used by one thread at a time (the pool hands it out),
 * so it is opened with SQLITE_OPEN_NOMUTEX. WAL lets readers run beside
 * the one writer; busy_timeout makes a writer that finds the file locked
 * wait up to BUSY_TIMEOUT_MS instead of failing; synchronous=NORMAL keeps
 * a committed transaction through a crash of the process.
 *
 * Statements are compiled once per connection and kept in a cache keyed
 * by their SQL text (sql.c's host_sql_cache, least recently used out).
 * One call runs one statement: text after the first statement that is
 * more than spaces and comments is refused rather than silently ignored.
 *
 * What a request must not do to the next one: leave a transaction open
 * (release rolls it back), or leave session state behind. The authorizer
 * notes statements that create TEMP objects or run a PRAGMA with a value
 * or argument (which may change a setting); a connection that compiled
 * one is closed on release instead of reused: rare, and always right.
 * ATTACH and DETACH (VACUUM INTO too, which SQLite checks as an ATTACH)
 * are refused: they would let SQL open any file the process can reach.
 *
 * The SQL is the guest's, so each connection is hardened as SQLite's
 * "Defense Against the Dark Arts" says (docs/security.md lists it):
 * - defensive mode (no writes to sqlite_schema or shadow tables, no
 *   PRAGMA writable_schema), trusted_schema off, no extension loading,
 *   and no fts3_tokenizer() with pointer arguments: Debian's build has
 *   SQLITE_ENABLE_FTS3_TOKENIZER, which hands a host pointer to SQL and
 *   takes one back;
 * - the authorizer also refuses fts3_tokenizer() itself and
 *   load_extension(), and PRAGMAs that change how the file is written or
 *   read (journal_mode, synchronous, writable_schema, mmap_size, ...);
 * - sqlite3_limit()s: a string or blob of at most MAX_LENGTH bytes (a
 *   larger value could never be read back through the result cap), SQL
 *   of HOST_SQL_MAX_SQL bytes, shallow expressions and triggers;
 * - memory: a small page cache, temporary tables and sorts spilled to
 *   files, and a hard heap limit for all of SQLite in the process, which
 *   grows by HEAP_PER_CONNECTION for each connection a pool may open;
 * - time: a progress handler stops a statement once the guest call's
 *   deadline has passed (or the call was interrupted), and the busy
 *   handler never waits past that deadline.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "host/internal.h"
#include "wasm/wasm.h"

#define BUSY_TIMEOUT_MS 5000
#define MAX_LENGTH (16 << 20)
#define HEAP_PER_CONNECTION (32ll << 20)
/* VM steps between two checks of the deadline: about 10 us of work */
#define PROGRESS_STEPS 1000

typedef struct sql_sqlite {
    host_sql_conn base;
    sqlite3 *db;
    host_sql_cache cache;
    bool dirty; /* ran a statement that leaves session state (see above) */
} sql_sqlite;

/* PRAGMAs a guest may not run with a value: they change how the file is
 * written or read for every later request, or reach outside SQL. */
static const char *const DENIED_PRAGMAS[] = {"journal_mode",
                                             "synchronous",
                                             "writable_schema",
                                             "mmap_size",
                                             "temp_store_directory",
                                             "data_store_directory",
                                             "trusted_schema",
                                             "cell_size_check",
                                             "locking_mode",
                                             "page_size",
                                             "auto_vacuum",
                                             "soft_heap_limit",
                                             "hard_heap_limit",
                                             "threads",
                                             "cache_size",
                                             "temp_store",
                                             "legacy_alter_table",
                                             "schema_version",
                                             NULL};

static bool denied_pragma(const char *name) {
    for (int i = 0; DENIED_PRAGMAS[i]; i++)
        if (!sqlite3_stricmp(name, DENIED_PRAGMAS[i])) return true;
    return false;
}

static int authorize(void *ctx, int action, const char *a, const char *b, const char *db,
                     const char *trigger) {
    sql_sqlite *s = ctx;
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH: return SQLITE_DENY;
    case SQLITE_FUNCTION:
        /* b is the function's name */
        if (b && (!sqlite3_stricmp(b, "fts3_tokenizer") || !sqlite3_stricmp(b, "load_extension")))
            return SQLITE_DENY;
        break;
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW: s->dirty = true; break;
    case SQLITE_PRAGMA:
        /* a is the pragma, b the value or argument: `PRAGMA x = v`,
         * `PRAGMA x(v)` */
        if (b && a && denied_pragma(a)) return SQLITE_DENY;
        if (b) s->dirty = true;
        break;
    default: break;
    }
    return SQLITE_OK;
}

static void finalize_stmt(void *ctx, void *stmt) {
    sqlite3_finalize(stmt);
}

static void sq_disconnect(host_sql_conn *c) {
    sql_sqlite *s = (sql_sqlite *)c;
    host_sql_cache_clear(&s->cache, finalize_stmt, NULL);
    host_sql_cache_free(&s->cache);
    sqlite3_close_v2(s->db);
    free(s);
}

/* Stops the running statement once the guest call's deadline has passed
 * (SQLITE_INTERRUPT); outside a guest call there is nothing to stop. */
static int progress(void *ctx) {
    return wasm_call_should_stop(NULL);
}

/* Waits for a lock held by another connection: short sleeps up to
 * BUSY_TIMEOUT_MS in all, never past the guest call's deadline. */
int host_sqlite_busy(void *ctx, int count) {
    static const int sleeps_ms[] = {1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100};
    const int n = sizeof sleeps_ms / sizeof sleeps_ms[0];
    int waited = 0;
    for (int i = 0; i < count; i++)
        waited += sleeps_ms[i < n ? i : n - 1];
    if (waited >= BUSY_TIMEOUT_MS || wasm_call_should_stop(NULL)) return 0;
    int ms = sleeps_ms[count < n ? count : n - 1];
    int64_t left = wasm_call_time_left_ms();
    if (left >= 0 && ms > left) ms = (int)left;
    if (ms > BUSY_TIMEOUT_MS - waited) ms = BUSY_TIMEOUT_MS - waited;
    util_poll(NULL, 0, ms); /* on a fiber, other requests run meanwhile */
    return 1;
}

/* SQLite answers SQLITE_BUSY at once, without calling the busy handler,
 * where waiting could deadlock: two connections that have both read a
 * file and then both want to write it. Two workers opening a new database
 * at the same moment do exactly that when each switches it to WAL (a
 * third of the time, measured with two threads). The one refused backs
 * off and runs its setup again; setup statements are idempotent. */
int host_sqlite_exec_retry(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
                           void *arg, char **msg) {
    for (int count = 0;; count++) {
        int rc = sqlite3_exec(db, sql, cb, arg, msg);
        if ((rc & 0xff) != SQLITE_BUSY || !host_sqlite_busy(NULL, count)) return rc;
        if (msg) {
            sqlite3_free(*msg);
            *msg = NULL;
        }
    }
}

/* One hardening step, its name for a message. */
static bool harden(sqlite3 *db, char *what, size_t whatlen) {
    static const struct {
        int op;
        const char *name;
        int on;
    } flags[] = {
        {SQLITE_DBCONFIG_DEFENSIVE, "defensive", 1},
        {SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, "fts3_tokenizer", 0},
        {SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, "load_extension", 0},
        {SQLITE_DBCONFIG_TRUSTED_SCHEMA, "trusted_schema", 0},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int now = -1;
        if (sqlite3_db_config(db, flags[i].op, flags[i].on, &now) != SQLITE_OK ||
            now != flags[i].on) {
            snprintf(what, whatlen, "cannot set %s to %d", flags[i].name, flags[i].on);
            return false;
        }
    }
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, MAX_LENGTH);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, HOST_SQL_MAX_SQL);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 500);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 100);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 50);
    sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 100000);
    sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 32);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, HOST_SQL_MAX_PARAMS);
    sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
    sqlite3_progress_handler(db, PROGRESS_STEPS, progress, NULL);
    sqlite3_busy_handler(db, host_sqlite_busy, NULL);
    return true;
}

/* The process-wide heap limit of SQLite grows with every connection a pool
 * may open (SQLite has no per-connection bound). Never lowered: a pool
 * that closes leaves it as it was, which only errs on the generous side. */
static void grow_heap_limit(void) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static sqlite3_int64 total;
    pthread_mutex_lock(&lock);
    total += HEAP_PER_CONNECTION;
    if (sqlite3_hard_heap_limit64(-1) < total) sqlite3_hard_heap_limit64(total);
    pthread_mutex_unlock(&lock);
}

static host_sql_conn *sq_connect(const host_sql_config *cfg, char *err, size_t errlen) {
    sql_sqlite *s = calloc(1, sizeof *s);
    if (!s || !host_sql_cache_init(&s->cache, cfg->statement_cache)) {
        free(s);
        host_sql_fail(cfg->name, err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        cfg->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    char what[64] = "";
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(s->db, 1);
        rc = host_sqlite_exec_retry(s->db,
                                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                    "PRAGMA temp_store=FILE; PRAGMA cache_size=-2000;",
                                    NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && !harden(s->db, what, sizeof what)) rc = SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        host_sql_fail(cfg->name, err, errlen, "cannot open %s: %s", cfg->path,
                      what[0] ? what
                      : s->db ? sqlite3_errmsg(s->db)
                              : sqlite3_errstr(rc));
        host_sql_cache_free(&s->cache);
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
    }
    /* after the PRAGMAs above, which must not count as the guest's */
    sqlite3_set_authorizer(s->db, authorize, s);
    grow_heap_limit();
    return &s->base;
}

static bool sq_check(host_sql_conn *c, uint64_t idle_ms) {
    return true; /* a file does not go away the way a server does */
}

static int fail(sql_sqlite *s, char *err, size_t errlen) {
    return host_sql_fail(s->base.cfg->name, err, errlen, "%s", sqlite3_errmsg(s->db));
}

/* The compiled statement for sql, from the cache or compiled now; NULL
 * with a message. */
static sqlite3_stmt *statement(sql_sqlite *s, const char *sql, size_t len, char *err,
                               size_t errlen) {
    const char *name = s->base.cfg->name;
    sqlite3_stmt *st = host_sql_cache_get(&s->cache, sql, len);
    if (st) return st;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(s->db, sql, (int)len, &st, &tail) != SQLITE_OK) {
        fail(s, err, errlen);
        return NULL;
    }
    if (!st) {
        host_sql_fail(name, err, errlen,
                      "the SQL text holds no statement (only spaces or comments)");
        return NULL;
    }
    /* whatever follows must compile to nothing: spaces and comments */
    size_t rest = len - (size_t)(tail - sql);
    sqlite3_stmt *more = NULL;
    if (rest && (sqlite3_prepare_v2(s->db, tail, (int)rest, &more, NULL) != SQLITE_OK || more)) {
        sqlite3_finalize(more);
        sqlite3_finalize(st);
        host_sql_fail(name, err, errlen,
                      "more than one statement in one call (the second starts at byte %zu); run "
                      "them one by one",
                      (size_t)(tail - sql));
        return NULL;
    }
    void *victim = host_sql_cache_victim(&s->cache);
    if (victim) {
        sqlite3_finalize(victim);
        host_sql_cache_drop(&s->cache, victim);
    }
    if (!host_sql_cache_put(&s->cache, sql, len, st)) {
        sqlite3_finalize(st);
        host_sql_fail(name, err, errlen, "out of memory");
        return NULL;
    }
    return st;
}

static void bind(sqlite3_stmt *st, int i, const host_sql_value *v) {
    /* the caller's bytes are only read during this call: no copy */
    switch (v->type) {
    case HOST_SQL_NULL: sqlite3_bind_null(st, i); break;
    case HOST_SQL_INT: sqlite3_bind_int64(st, i, v->i); break;
    case HOST_SQL_FLOAT: sqlite3_bind_double(st, i, v->f); break;
    case HOST_SQL_TEXT: sqlite3_bind_text64(st, i, v->p, v->len, SQLITE_STATIC, SQLITE_UTF8); break;
    case HOST_SQL_BLOB: sqlite3_bind_blob64(st, i, v->p, v->len, SQLITE_STATIC); break;
    }
}

static int write_row(sqlite3_stmt *st, int ncols, host_sql_writer *w) {
    if (host_sql_write_row(w) != HOST_OK) return HOST_ERROR;
    for (int i = 0; i < ncols; i++) {
        host_sql_value v = {.type = HOST_SQL_NULL};
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            v.type = HOST_SQL_INT;
            v.i = sqlite3_column_int64(st, i);
            break;
        case SQLITE_FLOAT:
            v.type = HOST_SQL_FLOAT;
            v.f = sqlite3_column_double(st, i);
            break;
        case SQLITE_TEXT:
            v.type = HOST_SQL_TEXT;
            v.p = sqlite3_column_text(st, i);
            v.len = (size_t)sqlite3_column_bytes(st, i);
            break;
        case SQLITE_BLOB:
            v.type = HOST_SQL_BLOB;
            v.p = sqlite3_column_blob(st, i);
            v.len = (size_t)sqlite3_column_bytes(st, i);
            break;
        default: break;
        }
        if (host_sql_write_value(w, &v) != HOST_OK) return HOST_ERROR;
    }
    return HOST_OK;
}

static int sq_exec(host_sql_conn *c, const char *sql, size_t sql_len, const host_sql_value *params,
                   size_t nparams, size_t max_result, host_buf *out, char *err, size_t errlen) {
    sql_sqlite *s = (sql_sqlite *)c;
    const char *name = c->cfg->name;
    sqlite3_stmt *st = statement(s, sql, sql_len, err, errlen);
    if (!st) return HOST_ERROR;
    int want = sqlite3_bind_parameter_count(st);
    if ((size_t)want != nparams)
        return host_sql_fail(name, err, errlen,
                             "the statement takes %d parameter%s, but %zu %s given", want,
                             want == 1 ? "" : "s", nparams, nparams == 1 ? "was" : "were");
    for (size_t i = 0; i < nparams; i++)
        bind(st, (int)i + 1, &params[i]);

    host_sql_writer w;
    host_sql_writer_init(&w, out, max_result, name, err, errlen);
    int ncols = sqlite3_column_count(st);
    int ret = host_sql_write_begin(&w, (uint32_t)ncols);
    for (int i = 0; i < ncols && ret == HOST_OK; i++) {
        const char *col = sqlite3_column_name(st, i);
        ret = col ? host_sql_write_column(&w, col, strlen(col))
                  : host_sql_fail(name, err, errlen, "out of memory");
    }
    int64_t before = sqlite3_total_changes64(s->db);
    int rc = SQLITE_ROW;
    while (ret == HOST_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        ret = write_row(st, ncols, &w);
    if (ret == HOST_OK && rc == SQLITE_INTERRUPT)
        ret = host_sql_fail(name, err, errlen,
                            "the statement was stopped: the request's deadline has passed");
    else if (ret == HOST_OK && rc != SQLITE_DONE)
        ret = fail(s, err, errlen);
    if (ret == HOST_OK) {
        /* sqlite3_changes64 keeps the count of the last INSERT, UPDATE or
         * DELETE: it is this statement's only when this one changed rows */
        int64_t changes = sqlite3_total_changes64(s->db) != before ? sqlite3_changes64(s->db) : 0;
        ret = host_sql_write_end(&w, changes);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

static bool sq_clean(host_sql_conn *c) {
    sql_sqlite *s = (sql_sqlite *)c;
    if (s->dirty) return false;
    if (!sqlite3_get_autocommit(s->db) &&
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        return false;
    return true;
}

const host_sql_ops host_sql_sqlite_ops = {
    .connect_at_open = true,
    .connect = sq_connect,
    .check = sq_check,
    .exec = sq_exec,
    .clean = sq_clean,
    .disconnect = sq_disconnect,
};
