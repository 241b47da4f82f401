/*
 * test_sql.c - the SQL databases of host.h, one suite of behaviour checks
 * (sql_suite) run against both backends so that they cannot drift apart:
 * every parameter type in and every value type out (results decoded here
 * from host.h's encoding, independently of sql.c), column names, rows
 * changed, the database's own error messages, SQL injection through a
 * parameter staying data, one statement per call, max_result, a
 * transaction left open being rolled back on release and a committed one
 * staying, session state not surviving a release, the pool (a full pool
 * times out with a message, a waiter is woken by a release) and threads
 * sharing one pool.
 *
 * SQLite runs in a mkdtemp directory, plus its own checks (ATTACH is
 * refused, a file that cannot be opened). PostgreSQL runs against a real
 * server this file starts (initdb and postgres as the `postgres` user
 * when running as root, which postgres refuses) on a free loopback port;
 * after the suite it stops the server with the pool open, checks that
 * acquire and exec fail with a message, starts it again on the same port
 * and data directory, and checks that the same pool works again. When the
 * PostgreSQL binaries are missing that test fails, saying so: it never
 * skips. The server is stopped and its directory removed however the
 * test ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "unit.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

static char err[1024];

/* The backend under test: SQL is written with $N placeholders, which
 * become ?N for SQLite; messages start with "database NAME: ". */
static bool on_pg;
static const char *db_name;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- decoding results ------------------------------------------------------ */

#define MAX_COLS 16
#define MAX_VALUES 512

typedef struct dval {
    int type;
    int64_t i;
    double f;
    const uint8_t *p;
    uint32_t len;
} dval;

typedef struct dres {
    uint32_t ncols, nrows;
    char cols[MAX_COLS][64];
    dval v[MAX_VALUES];
    int64_t changes;
} dres;

typedef struct reader {
    const uint8_t *p;
    size_t len, at;
} reader;

static bool rd(reader *r, void *out, size_t n) {
    if (r->len - r->at < n) return false;
    memcpy(out, r->p + r->at, n);
    r->at += n;
    return true;
}

static bool rd_u64(reader *r, uint64_t *v) {
    uint8_t b[8];
    if (!rd(r, b, 8)) return false;
    *v = 0;
    for (int i = 7; i >= 0; i--)
        *v = *v << 8 | b[i];
    return true;
}

static bool rd_u32(reader *r, uint32_t *v) {
    uint8_t b[4];
    if (!rd(r, b, 4)) return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

/* Decodes host.h's encoding; a description of what is wrong, or NULL. */
static const char *decode(const host_buf *b, dres *r) {
    reader in = {b->data, b->len, 0};
    memset(r, 0, sizeof *r);
    if (!rd_u32(&in, &r->ncols)) return "no column count";
    if (r->ncols > MAX_COLS) return "more columns than the test decodes";
    for (uint32_t c = 0; c < r->ncols; c++) {
        uint32_t n;
        if (!rd_u32(&in, &n) || n >= sizeof r->cols[c] || !rd(&in, r->cols[c], n))
            return "a column name is cut or too long";
    }
    if (!rd_u32(&in, &r->nrows)) return "no row count";
    if ((uint64_t)r->nrows * r->ncols > MAX_VALUES) return "more values than the test decodes";
    for (uint32_t i = 0; i < r->nrows * r->ncols; i++) {
        dval *v = &r->v[i];
        uint8_t t;
        uint64_t u;
        if (!rd(&in, &t, 1)) return "a value's type is cut";
        v->type = t;
        switch (t) {
        case HOST_SQL_NULL: break;
        case HOST_SQL_INT:
            if (!rd_u64(&in, &u)) return "an INT is cut";
            v->i = (int64_t)u;
            break;
        case HOST_SQL_FLOAT:
            if (!rd_u64(&in, &u)) return "a FLOAT is cut";
            memcpy(&v->f, &u, 8);
            break;
        case HOST_SQL_TEXT:
        case HOST_SQL_BLOB:
            if (!rd_u32(&in, &v->len) || in.len - in.at < v->len) return "a TEXT or BLOB is cut";
            v->p = in.p + in.at;
            in.at += v->len;
            break;
        default: return "unknown value type";
        }
    }
    uint64_t ch;
    if (!rd_u64(&in, &ch)) return "no rows-changed count";
    r->changes = (int64_t)ch;
    if (in.at != in.len) return "bytes left over after the rows-changed count";
    return NULL;
}

static const dval *val(const dres *r, uint32_t row, uint32_t col) {
    static const dval none = {.type = -1};
    return row < r->nrows && col < r->ncols ? &r->v[row * r->ncols + col] : &none;
}

/* ---- running statements ---------------------------------------------------- */

/* sql with $N turned into ?N for SQLite. */
static const char *dialect(const char *sql, char *out, size_t n) {
    snprintf(out, n, "%s", sql);
    if (!on_pg)
        for (char *p = out; *p; p++)
            if (*p == '$' && p[1] >= '0' && p[1] <= '9') *p = '?';
    return out;
}

static host_buf result_buf;

#define RUN(c, sql, params, n, res) run(__FILE__, __LINE__, c, sql, params, n, 0, res)
#define RUN0(c, sql, res) run(__FILE__, __LINE__, c, sql, NULL, 0, 0, res)
/* Runs a statement that must succeed and decodes its result into res. */
static bool run(const char *file, int line, host_sql_conn *c, const char *sql,
                const host_sql_value *params, size_t n, size_t max, dres *res) {
    char q[4096];
    dialect(sql, q, sizeof q);
    int rc = host_sql_exec(c, q, strlen(q), params, n, max, &result_buf, err, sizeof err);
    if (rc != HOST_OK) return unit_fail(file, line, "%s: expected HOST_OK, got %d: %s", q, rc, err);
    const char *bad = decode(&result_buf, res);
    if (bad) return unit_fail(file, line, "%s: malformed result: %s", q, bad);
    return true;
}

#define RUN_ERR(c, sql, params, n, phrase) run_err(__FILE__, __LINE__, c, sql, params, n, 0, phrase)
/* Runs a statement that must fail with a message that starts "database
 * NAME: " and holds phrase; the result buffer must then be empty. */
static bool run_err(const char *file, int line, host_sql_conn *c, const char *sql,
                    const host_sql_value *params, size_t n, size_t max, const char *phrase) {
    char q[4096];
    dialect(sql, q, sizeof q);
    err[0] = '\0';
    int rc = host_sql_exec(c, q, strlen(q), params, n, max, &result_buf, err, sizeof err);
    if (rc != HOST_ERROR)
        return unit_fail(file, line, "%s: expected an error saying \"%s\", got %d", q, phrase, rc);
    char start[128];
    snprintf(start, sizeof start, "database %s: ", db_name);
    if (strncmp(err, start, strlen(start)) != 0)
        return unit_fail(file, line, "%s: expected the message to start with \"%s\", got \"%s\"", q,
                         start, err);
    if (!strstr(err, phrase))
        return unit_fail(file, line, "%s: expected a message saying \"%s\", got \"%s\"", q, phrase,
                         err);
    if (result_buf.len != 0)
        return unit_fail(file, line, "%s: a failed call left %zu bytes of result", q,
                         result_buf.len);
    return true;
}

/* The single INT a query returns, or INT64_MIN after a failure. */
#define SCALAR(c, sql) scalar(__FILE__, __LINE__, c, sql)
static int64_t scalar(const char *file, int line, host_sql_conn *c, const char *sql) {
    dres *r = malloc(sizeof *r);
    int64_t v = INT64_MIN;
    if (run(file, line, c, sql, NULL, 0, 0, r)) {
        if (r->nrows == 1 && r->ncols == 1 && r->v[0].type == HOST_SQL_INT)
            v = r->v[0].i;
        else
            unit_fail(file, line, "%s: expected one INT, got %u rows of %u columns (type %d)", sql,
                      r->nrows, r->ncols, r->nrows ? r->v[0].type : -1);
    }
    free(r);
    return v;
}

static host_sql_value v_null(void) {
    return (host_sql_value){.type = HOST_SQL_NULL};
}
static host_sql_value v_int(int64_t i) {
    return (host_sql_value){.type = HOST_SQL_INT, .i = i};
}
static host_sql_value v_float(double f) {
    return (host_sql_value){.type = HOST_SQL_FLOAT, .f = f};
}
static host_sql_value v_text(const char *s) {
    return (host_sql_value){.type = HOST_SQL_TEXT, .p = s, .len = strlen(s)};
}
static host_sql_value v_blob(const void *p, size_t n) {
    return (host_sql_value){.type = HOST_SQL_BLOB, .p = p, .len = n};
}

#define CHECK_TEXT(v, want, type_) check_bytes(__FILE__, __LINE__, v, want, strlen(want), type_)
#define CHECK_BLOB(v, want, n) check_bytes(__FILE__, __LINE__, v, want, n, HOST_SQL_BLOB)
static void check_bytes(const char *file, int line, const dval *v, const void *want, size_t n,
                        int type) {
    if (v->type != type) {
        unit_fail(file, line, "expected a value of type %d, got type %d", type, v->type);
        return;
    }
    if (v->len != n) {
        unit_fail(file, line, "expected %zu bytes, got %u (\"%.*s\")", n, v->len, (int)v->len,
                  (const char *)v->p);
        return;
    }
    if (n) unit_check_mem(file, line, "value", v->p, want, n);
}

/* ---- the suite ------------------------------------------------------------- */

static const char quoted[] = "it's \"quoted\" -- 'x'; \\ ünïcødé ✓ 🚀";
static const uint8_t blob[] = {0, 1, 2, 0xff, 0, 'a', 0};

static void suite_types(host_sql_conn *c, const char *blob_type) {
    dres *r = calloc(1, sizeof *r);
    char ddl[256];
    RUN0(c, "DROP TABLE IF EXISTS t", r);
    snprintf(ddl, sizeof ddl,
             "CREATE TABLE t(id BIGINT PRIMARY KEY, n BIGINT, f DOUBLE PRECISION, s TEXT, b %s, "
             "z TEXT)",
             blob_type);
    if (RUN0(c, ddl, r)) {
        CHECK_EQ_U64(r->ncols, 0);
        CHECK_EQ_U64(r->nrows, 0);
        CHECK_EQ_S64(r->changes, 0);
    }
    const char *ins = "INSERT INTO t(id, n, f, s, b, z) VALUES ($1, $2, $3, $4, $5, $6)";
    host_sql_value p1[] = {v_int(1),       v_int(INT64_MIN),          v_float(0.1),
                           v_text(quoted), v_blob(blob, sizeof blob), v_null()};
    if (RUN(c, ins, p1, 6, r)) {
        CHECK_EQ_U64(r->ncols, 0);
        CHECK_EQ_S64(r->changes, 1);
    }
    /* empty TEXT and BLOB, with no data pointer at all */
    host_sql_value p2[] = {v_int(2),   v_int(INT64_MAX), v_float(-1.5e300),
                           v_text(""), v_blob(NULL, 0),  v_text("z")};
    if (RUN(c, ins, p2, 6, r)) CHECK_EQ_S64(r->changes, 1);

    if (RUN0(c, "SELECT id, n, f, s, b, z FROM t ORDER BY id", r)) {
        CHECK_EQ_U64(r->ncols, 6);
        CHECK_EQ_U64(r->nrows, 2);
        CHECK_EQ_S64(r->changes, 0);
        static const char *const names[] = {"id", "n", "f", "s", "b", "z"};
        for (int i = 0; i < 6; i++)
            CHECK_STR(r->cols[i], names[i]);
        CHECK_EQ_U64(val(r, 0, 0)->type, HOST_SQL_INT);
        CHECK_EQ_S64(val(r, 0, 0)->i, 1);
        CHECK_EQ_U64(val(r, 0, 1)->type, HOST_SQL_INT);
        CHECK_EQ_S64(val(r, 0, 1)->i, INT64_MIN);
        CHECK_EQ_U64(val(r, 0, 2)->type, HOST_SQL_FLOAT);
        CHECK(val(r, 0, 2)->f == 0.1); /* bit for bit, through PostgreSQL's text form too */
        CHECK_TEXT(val(r, 0, 3), quoted, HOST_SQL_TEXT);
        CHECK_BLOB(val(r, 0, 4), blob, sizeof blob);
        CHECK_EQ_U64(val(r, 0, 5)->type, HOST_SQL_NULL);
        CHECK_EQ_S64(val(r, 1, 1)->i, INT64_MAX);
        CHECK(val(r, 1, 2)->f == -1.5e300);
        CHECK_TEXT(val(r, 1, 3), "", HOST_SQL_TEXT);
        CHECK_BLOB(val(r, 1, 4), "", 0);
        CHECK_TEXT(val(r, 1, 5), "z", HOST_SQL_TEXT);
    }
    /* parameters round-trip without a table: infinities and an alias */
    host_sql_value inf[] = {v_float(INFINITY), v_float(-INFINITY), v_int(-7)};
    if (RUN(c,
            "SELECT CAST($1 AS DOUBLE PRECISION) AS pos, CAST($2 AS DOUBLE PRECISION) AS neg, "
            "CAST($3 AS BIGINT) * 2 AS twice",
            inf, 3, r)) {
        CHECK_STR(r->cols[0], "pos");
        CHECK_STR(r->cols[2], "twice");
        CHECK(val(r, 0, 0)->type == HOST_SQL_FLOAT && isinf(val(r, 0, 0)->f) &&
              val(r, 0, 0)->f > 0);
        CHECK(val(r, 0, 1)->type == HOST_SQL_FLOAT && isinf(val(r, 0, 1)->f) &&
              val(r, 0, 1)->f < 0);
        CHECK_EQ_S64(val(r, 0, 2)->i, -14);
    }
    /* rows changed: only by INSERT, UPDATE and DELETE */
    if (RUN0(c, "UPDATE t SET z = 'u'", r)) CHECK_EQ_S64(r->changes, 2);
    if (RUN0(c, "SELECT z FROM t", r)) CHECK_EQ_S64(r->changes, 0);
    if (RUN0(c, "DELETE FROM t WHERE id = 999", r)) CHECK_EQ_S64(r->changes, 0);
    if (RUN0(c, "SELECT id FROM t WHERE id < 0", r)) {
        CHECK_EQ_U64(r->ncols, 1); /* an empty result still names its columns */
        CHECK_STR(r->cols[0], "id");
        CHECK_EQ_U64(r->nrows, 0);
    }
    free(r);
}

static void suite_errors(host_sql_conn *c) {
    RUN_ERR(c, "SELEC 1", NULL, 0, "syntax error");
    if (on_pg) RUN_ERR(c, "SELEC 1", NULL, 0, "ERROR: syntax error at or near \"SELEC\"");
    RUN_ERR(c, "SELECT * FROM nope", NULL, 0,
            on_pg ? "ERROR: relation \"nope\" does not exist" : "no such table: nope");
    RUN_ERR(c, "INSERT INTO t(id) VALUES (1)", NULL, 0, on_pg ? "duplicate key" : "UNIQUE");
    /* one statement per call: the second is not silently dropped */
    RUN_ERR(c, "SELECT 1; SELECT 2", NULL, 0, on_pg ? "multiple commands" : "more than one");
    host_sql_value one = v_int(1);
    RUN_ERR(c, "SELECT $1, $2", &one, 1, on_pg ? "requires 2" : "takes 2 parameters");
    /* the connection still works after all that */
    CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t"), 2);
}

static void suite_injection(host_sql_conn *c) {
    const char *evil = "x'); DROP TABLE t; --";
    host_sql_value p[] = {v_int(3), v_text(evil)};
    dres *r = calloc(1, sizeof *r);
    RUN(c, "INSERT INTO t(id, s) VALUES ($1, $2)", p, 2, r);
    if (RUN(c, "SELECT s FROM t WHERE s = $1", &p[1], 1, r)) {
        CHECK_EQ_U64(r->nrows, 1);
        CHECK_TEXT(val(r, 0, 0), evil, HOST_SQL_TEXT);
    }
    CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t"), 3);
    RUN0(c, "DELETE FROM t WHERE id = 3", r);
    free(r);
}

static void suite_max_result(host_sql_conn *c) {
    const char *many = on_pg ? "SELECT g FROM generate_series(1, 200000) g"
                             : "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g "
                               "LIMIT 200000) SELECT x FROM g";
    run_err(__FILE__, __LINE__, c, many, NULL, 0, 1000, "larger than the limit of 1000 bytes");
    /* the rest of the result was stopped and the connection goes on */
    CHECK_EQ_S64(SCALAR(c, "SELECT 41 + 1"), 42);
    dres *r = calloc(1, sizeof *r);
    /* exactly at the limit passes: 4 + 4+1 (name) + 4 + 9 (one INT) + 8 */
    if (run(__FILE__, __LINE__, c, "SELECT 1 AS x", NULL, 0, 30, r)) CHECK_EQ_U64(r->nrows, 1);
    run_err(__FILE__, __LINE__, c, "SELECT 1 AS x", NULL, 0, 29, "larger than the limit");
    free(r);
}

/* A transaction left open is rolled back on release; a committed one
 * stays. The pool has one connection, so the next acquire gets the same
 * one, which would see its own uncommitted row. */
static void suite_transactions(host_sql_db *db) {
    dres *r = calloc(1, sizeof *r);
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    if (!c) unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    if (c) {
        RUN0(c, "BEGIN", r);
        RUN0(c, "INSERT INTO t(id) VALUES (100)", r);
        CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t WHERE id = 100"), 1);
        host_sql_release(c);
    }
    host_sql_conn *c2 = host_sql_acquire(db, err, sizeof err);
    if (!c2) unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    if (c2) {
        CHECK_EQ_PTR(c2, c); /* the same connection came back */
        CHECK_EQ_S64(SCALAR(c2, "SELECT COUNT(*) FROM t WHERE id = 100"), 0);
        RUN0(c2, "BEGIN", r);
        RUN0(c2, "INSERT INTO t(id) VALUES (101)", r);
        RUN0(c2, "COMMIT", r);
        host_sql_release(c2);
    }
    /* a failed statement inside a transaction: released all the same */
    c = host_sql_acquire(db, err, sizeof err);
    if (c) {
        RUN0(c, "BEGIN", r);
        RUN_ERR(c, "SELECT * FROM nope", NULL, 0, "nope");
        host_sql_release(c);
    }
    c = host_sql_acquire(db, err, sizeof err);
    if (!c) unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    if (c) {
        CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t WHERE id = 101"), 1);
        RUN0(c, "DELETE FROM t WHERE id = 101", r);
        host_sql_release(c);
    }
    free(r);
}

/* What one request sets on its session is gone for the next. */
static void suite_session(host_sql_db *db) {
    dres *r = calloc(1, sizeof *r);
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    if (!c) unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    if (c) {
        RUN0(c, "CREATE TEMP TABLE scratch(x INTEGER)", r);
        RUN0(c, "INSERT INTO scratch VALUES (1)", r);
        if (on_pg) {
            RUN0(c, "SET application_name = 'leaked'", r);
            RUN0(c, "PREPARE mine AS SELECT 1", r);
            RUN0(c, "LISTEN chan", r);
        } else {
            RUN0(c, "PRAGMA foreign_keys = ON", r);
        }
        host_sql_release(c);
    }
    c = host_sql_acquire(db, err, sizeof err);
    if (!c) unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    if (c) {
        RUN_ERR(c, "SELECT x FROM scratch", NULL, 0, "scratch");
        if (on_pg) {
            if (RUN0(c, "SHOW application_name", r))
                CHECK_TEXT(val(r, 0, 0), "wasp", HOST_SQL_TEXT);
            /* PREPAREd in SQL by the last request: gone, so this works */
            RUN0(c, "PREPARE mine AS SELECT 2", r);
            CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM pg_listening_channels()"), 0);
        } else {
            CHECK_EQ_S64(SCALAR(c, "PRAGMA foreign_keys"), 0);
        }
        host_sql_release(c);
    }
    /* the statement cache still serves after all that cleaning */
    c = host_sql_acquire(db, err, sizeof err);
    if (c) {
        CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t"), 2);
        host_sql_release(c);
    }
    if (on_pg) {
        /* a statement PREPAREd by a function (dynamic SQL) is found too */
        c = host_sql_acquire(db, err, sizeof err);
        if (c) {
            RUN0(c,
                 "CREATE OR REPLACE FUNCTION pg_temp.sneaky() RETURNS int LANGUAGE plpgsql AS "
                 "$$ BEGIN EXECUTE 'PREPARE hidden AS SELECT 1'; RETURN 1; END $$",
                 r);
            CHECK_EQ_S64(SCALAR(c, "SELECT pg_temp.sneaky()"), 1);
            host_sql_release(c);
        }
        c = host_sql_acquire(db, err, sizeof err);
        if (c) {
            CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM pg_prepared_statements WHERE from_sql"),
                         0);
            host_sql_release(c);
        }
        /* a request that drops the reset's own statements: the reset fails,
         * and the next request gets a clean connection all the same */
        c = host_sql_acquire(db, err, sizeof err);
        if (c) {
            RUN0(c, "SET application_name = 'leaked again'", r);
            RUN0(c, "DEALLOCATE wasp_reset_3", r);
            host_sql_release(c);
        }
        c = host_sql_acquire(db, err, sizeof err);
        if (!c) unit_fail(__FILE__, __LINE__, "acquire after a dropped reset statement: %s", err);
        if (c) {
            if (RUN0(c, "SHOW application_name", r))
                CHECK_TEXT(val(r, 0, 0), "wasp", HOST_SQL_TEXT);
            CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM t"), 2);
            host_sql_release(c);
        }
    }
    free(r);
}

/* A statement cache of 2 evicting the least recently used statement. */
static void suite_cache(host_sql_config cfg) {
    cfg.statement_cache = 2;
    cfg.pool_size = 1;
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    if (c) {
        for (int round = 0; round < 3; round++) {
            CHECK_EQ_S64(SCALAR(c, "SELECT 1"), 1);
            CHECK_EQ_S64(SCALAR(c, "SELECT 2"), 2);
            CHECK_EQ_S64(SCALAR(c, "SELECT 3"), 3);
            CHECK_EQ_S64(SCALAR(c, "SELECT 3"), 3);
        }
        if (on_pg) CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM pg_prepared_statements"), 2);
        host_sql_release(c);
    } else {
        unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    }
    host_sql_close(db);
}

typedef struct waiter {
    host_sql_db *db;
    host_sql_conn *got;
    int64_t waited_ms;
    char err[512];
} waiter;

static void *wait_for_conn(void *arg) {
    waiter *w = arg;
    int64_t t0 = mono_ms();
    w->got = host_sql_acquire(w->db, w->err, sizeof w->err);
    w->waited_ms = mono_ms() - t0;
    return NULL;
}

/* pool_size 2: a third acquire times out with a message, about on time;
 * a waiting acquire gets the connection another releases. */
static void suite_pool(host_sql_config cfg) {
    cfg.pool_size = 2;
    cfg.acquire_timeout_ms = 300;
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    host_sql_conn *a = host_sql_acquire(db, err, sizeof err);
    host_sql_conn *b = a ? host_sql_acquire(db, err, sizeof err) : NULL;
    if (!a || !b) {
        unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    } else {
        CHECK(a != b);
        int64_t t0 = mono_ms();
        host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
        int64_t took = mono_ms() - t0;
        CHECK(c == NULL);
        if (c) host_sql_release(c);
        char want[128];
        snprintf(want, sizeof want, "database %s: no connection free within 300 ms", db_name);
        if (strncmp(err, want, strlen(want)) != 0)
            unit_fail(__FILE__, __LINE__, "expected a message starting \"%s\", got \"%s\"", want,
                      err);
        if (took < 280 || took > 1500)
            unit_fail(__FILE__, __LINE__, "the third acquire gave up after %lld ms, not ~300",
                      (long long)took);
        /* a waiter is woken by a release well before its timeout */
        waiter w = {.db = db};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, wait_for_conn, &w) == 0);
        sleep_ms(100);
        host_sql_release(a);
        pthread_join(th, NULL);
        if (!w.got) unit_fail(__FILE__, __LINE__, "the waiting acquire failed: %s", w.err);
        CHECK_EQ_PTR(w.got, a);
        CHECK(w.waited_ms < 280);
        if (w.got) host_sql_release(w.got);
        host_sql_release(b);
    }
    host_sql_close(db);
}

#define THREADS 4
#define PER_THREAD 50

typedef struct worker {
    host_sql_db *db;
    int id, failures;
    char first[512];
} worker;

static void *insert_worker(void *arg) {
    worker *w = arg;
    char sql[128], e[512];
    dialect("INSERT INTO hits(th, i) VALUES ($1, $2)", sql, sizeof sql);
    host_buf out = {0};
    for (int i = 0; i < PER_THREAD; i++) {
        host_sql_conn *c = host_sql_acquire(w->db, e, sizeof e);
        int rc = HOST_ERROR;
        if (c) {
            host_sql_value p[] = {v_int(w->id), v_int(i)};
            rc = host_sql_exec(c, sql, strlen(sql), p, 2, 0, &out, e, sizeof e);
            host_sql_release(c);
        }
        if (rc != HOST_OK && w->failures++ == 0) snprintf(w->first, sizeof w->first, "%s", e);
    }
    free(out.data);
    return NULL;
}

static void suite_threads(host_sql_config cfg) {
    cfg.pool_size = 2;
    cfg.acquire_timeout_ms = 10000;
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    dres *r = calloc(1, sizeof *r);
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    if (c) {
        RUN0(c, "DROP TABLE IF EXISTS hits", r);
        RUN0(c, "CREATE TABLE hits(th INTEGER, i INTEGER, PRIMARY KEY (th, i))", r);
        host_sql_release(c);
    }
    worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.db = db, .id = i};
        REQUIRE(pthread_create(&th[i], NULL, insert_worker, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            unit_fail(__FILE__, __LINE__, "thread %d: %d of %d inserts failed, the first: %s", i,
                      w[i].failures, PER_THREAD, w[i].first);
    }
    c = host_sql_acquire(db, err, sizeof err);
    if (c) {
        CHECK_EQ_S64(SCALAR(c, "SELECT COUNT(*) FROM hits"), THREADS * PER_THREAD);
        host_sql_release(c);
    } else {
        unit_fail(__FILE__, __LINE__, "acquire: %s", err);
    }
    free(r);
    host_sql_close(db);
}

/* Checks of the arguments sql.c makes for every backend. */
static void suite_args(host_sql_conn *c) {
    char nul_sql[] = "SELECT 1\0 -- hidden";
    int rc =
        host_sql_exec(c, nul_sql, sizeof nul_sql - 1, NULL, 0, 0, &result_buf, err, sizeof err);
    CHECK_EQ_S64(rc, HOST_ERROR);
    CHECK(strstr(err, "NUL byte at offset 8") != NULL);
    RUN_ERR(c, "", NULL, 0, "empty SQL statement");
    host_sql_value bad = {.type = (host_sql_type)9};
    RUN_ERR(c, "SELECT $1", &bad, 1, "parameter 1 has unknown type 9");
    host_sql_value nodata = {.type = HOST_SQL_BLOB, .len = 3};
    RUN_ERR(c, "SELECT $1", &nodata, 1, "parameter 1: BLOB of 3 bytes has no data");
    static host_sql_value many[1001];
    RUN_ERR(c, "SELECT 1", many, 1001, "1001 parameters are too many (at most 1000)");
    if (on_pg) {
        host_sql_value t = {.type = HOST_SQL_TEXT, .p = "a\0b", .len = 3};
        RUN_ERR(c, "SELECT $1", &t, 1, "TEXT holds a NUL byte");
    }
    CHECK_EQ_S64(host_sql_exec(NULL, "SELECT 1", 8, NULL, 0, 0, &result_buf, err, sizeof err),
                 HOST_ERROR);
    CHECK_STR(err, "database (unnamed): no connection (host_sql_conn is NULL)");
}

static void sql_suite(const host_sql_config *base, const char *blob_type) {
    host_sql_config cfg = *base;
    cfg.pool_size = 1;
    db_name = cfg.name;
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    if (!c) {
        unit_fail(__FILE__, __LINE__, "acquire: %s", err);
        host_sql_close(db);
        return;
    }
    suite_types(c, blob_type);
    suite_errors(c);
    suite_injection(c);
    suite_max_result(c);
    suite_args(c);
    host_sql_release(c);
    suite_transactions(db);
    suite_session(db);
    host_sql_close(db);
    suite_cache(*base);
    suite_pool(*base);
    suite_threads(*base);
    free(result_buf.data);
    result_buf = (host_buf){0};
}

/* ---- SQLite ---------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

static void remove_tree(const char *dir) {
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        unit_fail(__FILE__, __LINE__, "removing %s: %s", dir, strerror(errno));
}

TEST(sql_sqlite_suite) {
    char dir[] = "/tmp/wasp_sql_XXXXXX";
    if (!mkdtemp(dir)) {
        unit_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/app.db", dir);
    host_sql_config cfg = {.name = "app", .backend = HOST_SQL_SQLITE, .path = path};
    on_pg = false;
    sql_suite(&cfg, "BLOB");

    /* ATTACH would reach any file the process can */
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    host_sql_conn *c = db ? host_sql_acquire(db, err, sizeof err) : NULL;
    if (c) {
        char q[128];
        snprintf(q, sizeof q, "ATTACH DATABASE '%s/other.db' AS other", dir);
        RUN_ERR(c, q, NULL, 0, "not authorized");
        host_sql_release(c);
    } else {
        unit_fail(__FILE__, __LINE__, "open or acquire: %s", err);
    }
    host_sql_close(db);
    free(result_buf.data);
    result_buf = (host_buf){0};

    /* a file that cannot be opened is reported by open */
    host_sql_config bad = {.name = "bad", .backend = HOST_SQL_SQLITE, .path = "/nonexistent/x.db"};
    CHECK(host_sql_open(&bad, err, sizeof err) == NULL);
    CHECK(strncmp(err, "database bad: cannot open /nonexistent/x.db: ", 45) == 0);
    host_sql_config none = {.name = "none", .backend = HOST_SQL_SQLITE};
    CHECK(host_sql_open(&none, err, sizeof err) == NULL);
    CHECK(strstr(err, "database none: no database file given") != NULL);
    remove_tree(dir);
}

/* Two databases opened on a new file at the same moment (two servers'
 * first requests): SQLite refuses one of the two switches to WAL as a
 * possible deadlock, without waiting, and the connection must try again
 * rather than fail. */
typedef struct first_conn {
    const host_sql_config *cfg;
    bool ok;
    char err[512];
} first_conn;

static void *connect_at_once(void *arg) {
    first_conn *f = arg;
    host_sql_db *db = host_sql_open(f->cfg, f->err, sizeof f->err);
    host_sql_conn *c = db ? host_sql_acquire(db, f->err, sizeof f->err) : NULL;
    f->ok = c != NULL;
    if (c) host_sql_release(c);
    if (db) host_sql_close(db);
    return NULL;
}

TEST(sql_sqlite_first_opens_at_once) {
    char dir[] = "/tmp/wasp_sql_XXXXXX";
    if (!mkdtemp(dir)) {
        unit_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
        return;
    }
    char path[64];
    host_sql_config cfg = {.name = "app", .backend = HOST_SQL_SQLITE, .path = path};
    int failed = 0;
    for (int trial = 0; trial < 30; trial++) {
        snprintf(path, sizeof path, "%s/t%d.db", dir, trial);
        first_conn f[2] = {{.cfg = &cfg}, {.cfg = &cfg}};
        REQUIRE(unit_at_once(connect_at_once, &f[0], &f[1]));
        for (int i = 0; i < 2; i++)
            if (!f[i].ok && failed++ == 0)
                unit_fail(__FILE__, __LINE__, "trial %d: %s", trial, f[i].err);
    }
    CHECK_EQ_S64(failed, 0);
    remove_tree(dir);
}

/* ---- PostgreSQL ------------------------------------------------------------ */

typedef struct pg_server {
    char dir[64]; /* mkdtemp; the data directory is DIR/data */
    pid_t pid;    /* 0 when not running */
    int port;
    uid_t uid; /* who runs initdb and postgres */
    gid_t gid;
} pg_server;

/* A loopback port nobody listens on right now. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Forks a child that runs argv as s->uid with its output appended to
 * DIR/log; its pid, or -1. */
static pid_t spawn(pg_server *s, char *const argv[]) {
    char log[128];
    snprintf(log, sizeof log, "%s/log", s->dir);
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (getuid() != s->uid &&
        (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0))
        _exit(126);
    /* after setuid, which clears it: the server dies with the test */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
}

/* The last lines of the server's log, for a failure message. */
static const char *log_tail(pg_server *s, char *out, size_t n) {
    char log[128];
    snprintf(log, sizeof log, "%s/log", s->dir);
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f) return out;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)n - 1 ? size - ((long)n - 1) : 0, SEEK_SET);
    size_t got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
    return out;
}

static bool pg_initdb(pg_server *s) {
    char data[96];
    snprintf(data, sizeof data, "%s/data", s->dir);
    char *argv[] = {PG_BIN "/initdb", "-D", data,   "-A",         "trust",     "-U",
                    "wasp",           "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    pid_t pid = spawn(s, argv);
    if (pid < 0) return unit_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[1500];
        return unit_fail(__FILE__, __LINE__, "initdb failed (status %d): %s",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                         log_tail(s, tail, sizeof tail));
    }
    return true;
}

static void conninfo(const pg_server *s, const char *db, char *out, size_t n) {
    snprintf(out, n, "host=127.0.0.1 port=%d user=wasp dbname=%s connect_timeout=2", s->port, db);
}

/* Starts postgres on s->port and waits until it accepts connections. */
static bool pg_start(pg_server *s) {
    char data[96], port[16];
    snprintf(data, sizeof data, "%s/data", s->dir);
    snprintf(port, sizeof port, "%d", s->port);
    char *argv[] = {PG_BIN "/postgres",
                    "-D",
                    data,
                    "-k",
                    s->dir,
                    "-p",
                    port,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=40",
                    NULL};
    pid_t pid = spawn(s, argv);
    if (pid < 0) return unit_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    s->pid = pid;
    char ci[160];
    conninfo(s, "postgres", ci, sizeof ci);
    for (int i = 0; i < 300; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            char tail[1500];
            return unit_fail(__FILE__, __LINE__, "postgres on port %d exited at once: %s", s->port,
                             log_tail(s, tail, sizeof tail));
        }
        if (PQping(ci) == PQPING_OK) return true;
        sleep_ms(50);
    }
    char tail[1500];
    return unit_fail(__FILE__, __LINE__,
                     "postgres did not accept connections on port %d in 15 s: %s", s->port,
                     log_tail(s, tail, sizeof tail));
}

/* Fast shutdown (SIGINT: sessions are ended, then the server), SIGKILL
 * if that takes more than 10 s. */
static void pg_stop(pg_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGINT);
    for (int i = 0; i < 200; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(50);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static bool pg_create_db(pg_server *s, const char *name) {
    char ci[160], sql[64];
    conninfo(s, "postgres", ci, sizeof ci);
    PGconn *pg = PQconnectdb(ci);
    if (PQstatus(pg) != CONNECTION_OK) {
        bool r = unit_fail(__FILE__, __LINE__, "connecting to create a database: %s",
                           PQerrorMessage(pg));
        PQfinish(pg);
        return r;
    }
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) unit_fail(__FILE__, __LINE__, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(pg);
    return ok;
}

/* The server stops with the pool open: acquire and exec fail with a
 * message; it starts again on the same port and data: the same pool
 * works again. */
static void pg_check_restart(pg_server *s, const host_sql_config *base) {
    host_sql_config cfg = *base;
    cfg.pool_size = 2;
    cfg.acquire_timeout_ms = 2000;
    db_name = cfg.name;
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    host_sql_conn *idle = host_sql_acquire(db, err, sizeof err);
    host_sql_conn *held = idle ? host_sql_acquire(db, err, sizeof err) : NULL;
    if (!idle || !held) {
        unit_fail(__FILE__, __LINE__, "acquire: %s", err);
        if (idle) host_sql_release(idle);
        host_sql_close(db);
        return;
    }
    CHECK_EQ_S64(SCALAR(idle, "SELECT COUNT(*) FROM t"), 2);
    CHECK_EQ_S64(SCALAR(held, "SELECT COUNT(*) FROM t"), 2);
    host_sql_release(idle);

    pg_stop(s);
    /* the held connection: its next statement fails, release drops it */
    RUN_ERR(held, "SELECT COUNT(*) FROM t", NULL, 0, "");
    host_sql_release(held);
    /* the idle one is found dead; no new one can be opened */
    int64_t t0 = mono_ms();
    host_sql_conn *c = host_sql_acquire(db, err, sizeof err);
    CHECK(c == NULL);
    if (c) host_sql_release(c);
    char want[64];
    snprintf(want, sizeof want, "database %s: cannot connect: ", db_name);
    if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "refused"))
        unit_fail(__FILE__, __LINE__, "expected \"%s... refused ...\", got \"%s\"", want, err);
    CHECK(mono_ms() - t0 < 2000);

    if (!pg_start(s)) {
        host_sql_close(db);
        return;
    }
    host_sql_conn *a = host_sql_acquire(db, err, sizeof err);
    host_sql_conn *b = a ? host_sql_acquire(db, err, sizeof err) : NULL;
    if (!a || !b) unit_fail(__FILE__, __LINE__, "acquire after the restart: %s", err);
    if (a) CHECK_EQ_S64(SCALAR(a, "SELECT COUNT(*) FROM t"), 2);
    if (b) CHECK_EQ_S64(SCALAR(b, "SELECT 7"), 7);
    if (a) host_sql_release(a);
    if (b) host_sql_release(b);
    host_sql_close(db);
}

/* Bad urls: open succeeds (it connects lazily), acquire says why. */
static void pg_check_connect_errors(pg_server *s) {
    char url[128];
    snprintf(url, sizeof url, "postgresql://wasp@127.0.0.1:%d/no_such_db", s->port);
    host_sql_config cfg = {.name = "other", .backend = HOST_SQL_POSTGRES, .url = url};
    host_sql_db *db = host_sql_open(&cfg, err, sizeof err);
    if (!db) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    CHECK(host_sql_acquire(db, err, sizeof err) == NULL);
    if (!strstr(err, "database other: cannot connect: ") ||
        !strstr(err, "database \"no_such_db\" does not exist"))
        unit_fail(__FILE__, __LINE__, "unexpected message: %s", err);
    host_sql_close(db);
    host_sql_config nourl = {.name = "nourl", .backend = HOST_SQL_POSTGRES};
    CHECK(host_sql_open(&nourl, err, sizeof err) == NULL);
    CHECK(strstr(err, "database nourl: no connection url given") != NULL);
}

/* PostgreSQL-only types: bool, int2, float4, numeric, bytea literals. */
static void pg_check_types(const host_sql_config *cfg) {
    host_sql_db *db = host_sql_open(cfg, err, sizeof err);
    host_sql_conn *c = db ? host_sql_acquire(db, err, sizeof err) : NULL;
    if (!c) {
        unit_fail(__FILE__, __LINE__, "open or acquire: %s", err);
        host_sql_close(db);
        return;
    }
    dres *r = calloc(1, sizeof *r);
    if (RUN0(c,
             "SELECT true AS yes, false AS no, 7::int2 AS small, 1.5::float4 AS f4, "
             "12.50::numeric AS num, '\\x00ff'::bytea AS raw, NULL::int AS nothing, "
             "'NaN'::float8 AS nan",
             r)) {
        CHECK_EQ_U64(r->ncols, 8);
        CHECK_EQ_S64(val(r, 0, 0)->i, 1);
        CHECK_EQ_U64(val(r, 0, 0)->type, HOST_SQL_INT);
        CHECK_EQ_S64(val(r, 0, 1)->i, 0);
        CHECK_EQ_S64(val(r, 0, 2)->i, 7);
        CHECK(val(r, 0, 3)->type == HOST_SQL_FLOAT && val(r, 0, 3)->f == 1.5);
        CHECK_TEXT(val(r, 0, 4), "12.50", HOST_SQL_TEXT);
        CHECK_BLOB(val(r, 0, 5), "\x00\xff", 2);
        CHECK_EQ_U64(val(r, 0, 6)->type, HOST_SQL_NULL);
        CHECK(val(r, 0, 7)->type == HOST_SQL_FLOAT && isnan(val(r, 0, 7)->f));
    }
    /* a BLOB parameter where the server would infer text */
    host_sql_value b = v_blob(blob, sizeof blob);
    if (RUN(c, "SELECT $1 AS b, length($1) AS n", &b, 1, r)) {
        CHECK_BLOB(val(r, 0, 0), blob, sizeof blob);
        CHECK_EQ_S64(val(r, 0, 1)->i, (int64_t)sizeof blob);
    }
    /* NaN and the infinities in PostgreSQL's spelling */
    host_sql_value f[] = {v_float(NAN), v_float(-INFINITY)};
    if (RUN(c, "SELECT CAST($1 AS float8) AS a, CAST($2 AS float4) AS b", f, 2, r)) {
        CHECK(val(r, 0, 0)->type == HOST_SQL_FLOAT && isnan(val(r, 0, 0)->f));
        CHECK(val(r, 0, 1)->type == HOST_SQL_FLOAT && isinf(val(r, 0, 1)->f) &&
              val(r, 0, 1)->f < 0);
    }
    /* COPY would leave the connection in COPY mode: refused, then dropped */
    RUN_ERR(c, "COPY t TO STDOUT", NULL, 0, "COPY FROM STDIN and COPY TO STDOUT are not supported");
    free(r);
    host_sql_release(c);
    host_sql_close(db);
}

TEST(sql_pg_suite_and_restart) {
    char *const bins[] = {PG_BIN "/initdb", PG_BIN "/postgres"};
    for (int i = 0; i < 2; i++)
        if (access(bins[i], X_OK) != 0) {
            unit_fail(__FILE__, __LINE__,
                      "%s is missing, so the PostgreSQL backend cannot be tested: apt-get "
                      "install postgresql-15",
                      bins[i]);
            return;
        }
    pg_server s = {.uid = getuid(), .gid = getgid()};
    if (getuid() == 0) {
        /* postgres refuses to run as root */
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            unit_fail(__FILE__, __LINE__,
                      "running as root, and there is no `postgres` user to "
                      "run the server as");
            return;
        }
        s.uid = pw->pw_uid;
        s.gid = pw->pw_gid;
    }
    snprintf(s.dir, sizeof s.dir, "/tmp/wasp_pg_XXXXXX");
    if (!mkdtemp(s.dir)) {
        unit_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
        return;
    }
    /* a write to a server that went away must give EPIPE, not end the run */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    s.port = free_port();
    if (s.port == 0) {
        unit_fail(__FILE__, __LINE__, "no free loopback port: %s", strerror(errno));
    } else if (chown(s.dir, s.uid, s.gid) != 0) {
        unit_fail(__FILE__, __LINE__, "chown %s: %s", s.dir, strerror(errno));
    } else if (pg_initdb(&s) && pg_start(&s) && pg_create_db(&s, "app")) {
        char url[128];
        snprintf(url, sizeof url, "postgresql://wasp@127.0.0.1:%d/app", s.port);
        host_sql_config cfg = {.name = "app", .backend = HOST_SQL_POSTGRES, .url = url};
        on_pg = true;
        sql_suite(&cfg, "BYTEA");
        pg_check_types(&cfg);
        pg_check_connect_errors(&s);
        pg_check_restart(&s, &cfg);
        free(result_buf.data);
        result_buf = (host_buf){0};
    }
    pg_stop(&s);
    remove_tree(s.dir);
    sigaction(SIGPIPE, &old, NULL);
}
