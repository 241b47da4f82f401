/*
 * sql_pg.c - the PostgreSQL backend of the SQL databases, through libpq:
 * each pooled connection is one PGconn.
 *
 * Connecting. The configured url (a URI or a keyword string) is given to
 * PQconnectStartParams after fallback_application_name=wasp, so the url
 * can override it, and the connection is completed with PQconnectPoll,
 * waiting at most the acquire timeout (2 s at least). Notices (NOTICE:
 * ... skipping) are dropped instead of going to stderr.
 *
 * Nothing here blocks the thread on the server: every wait for the
 * socket goes through util_poll, so in `wasp serve` a request waiting for
 * PostgreSQL (connecting, its query, a reset, a ROLLBACK) is suspended
 * while its worker serves others.
 *
 * Statements. Each connection prepares a statement the first time it sees
 * its SQL text (as "w1", "w2", ...) and keeps it in a cache of at most
 * statement_cache entries; past that the least recently used one is
 * DEALLOCATEd. Parameters go in text form (INT as decimal, FLOAT as %.17g,
 * so that it reads back bit for bit), except BLOBs, which go in binary
 * form with their type declared as bytea; which parameters are BLOBs is
 * part of the cache key, since the declared types are fixed at prepare
 * time. The other parameters are left for the server to infer from the
 * SQL, as in psql. Results come in text form, one row at a time (single
 * row mode), so a result over max_result is stopped - the query is
 * cancelled - without the whole of it ever being held in memory; each
 * value is converted by its column's type (host.h lists the mapping).
 *
 * Errors carry the server's own words: "ERROR: <primary message>", then
 * its DETAIL and HINT when there are any. When libpq reports the
 * connection as bad after a call, the connection is marked broken, so
 * release closes it and the pool opens a new one for the next request.
 *
 * Cleaning on release. DISCARD ALL would also drop the prepared
 * statements and make every request prepare its statements again (one
 * more round trip per statement), so release runs DISCARD ALL's parts
 * except DEALLOCATE ALL and DISCARD PLANS: a ROLLBACK first when a
 * transaction is open, then SET SESSION AUTHORIZATION DEFAULT, RESET
 * ROLE, RESET ALL, CLOSE ALL, UNLISTEN *, pg_advisory_unlock_all(),
 * DISCARD TEMP and DISCARD SEQUENCES, and a count of the statements a
 * request PREPAREd itself in SQL (a function can, too); when there are
 * any, DEALLOCATE ALL runs too (and the cache is emptied), so those do
 * not leak either. These are prepared once per connection and sent in one
 * pipeline (libpq's pipeline mode, one round trip): the server then skips
 * parsing and planning them, which made the reset cost it half as much
 * (bench/pg/roundtrips.sh; the count's planning was most of it). A guest
 * that DEALLOCATEs them makes the reset fail. The reset is sent at
 * release and its results read at the next acquire, so the request that
 * released does not wait for it; a connection whose reset failed is
 * replaced, never handed out.
 *
 * Health. Before an idle connection is handed out, a poll(2) with no wait
 * tells whether the server sent something while it idled - a server that
 * shut down or crashed closes the socket, which reads as input; then, or
 * when the connection idled for PING_IDLE_MS or more, an empty query must
 * come back within the acquire timeout.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "host/internal.h"
#include "wasm/wasm.h"

/* Type OIDs (the server's pg_type.dat; they never change). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701

#define PING_IDLE_MS 5000
#define NUMBER_MAX 32 /* an INT or FLOAT parameter in text form, with its NUL */

/* The reset, one statement each, prepared on each connection as
 * wasp_reset_0, wasp_reset_1, ... ("Cleaning on release"). Names are
 * schema-qualified: RESET ALL restores the role's search_path, which a
 * guest with the rights may have set (ALTER ROLE) to shadow them. The
 * count must come last (finish_reset). */
static const char *const reset_stmts[] = {
    "SET SESSION AUTHORIZATION DEFAULT",
    "RESET ROLE",
    "RESET ALL",
    "CLOSE ALL",
    "UNLISTEN *",
    "SELECT pg_catalog.pg_advisory_unlock_all()",
    "DISCARD TEMP",
    "DISCARD SEQUENCES",
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_prepared_statements WHERE from_sql",
};
#define RESET_STMTS (sizeof reset_stmts / sizeof reset_stmts[0])

typedef struct sql_pg {
    host_sql_conn base;
    PGconn *pg;
    host_sql_cache cache; /* statements are their numbers: (void *)(uintptr_t)n */
    uintptr_t next_stmt;
    bool deallocate_all; /* a DEALLOCATE failed: a statement may be left over */
    bool resetting;      /* the reset was sent at release; its results are unread */
    bool reset_prepared; /* reset_stmts are prepared on the connection */
    bool sent;           /* a query was just sent: await_result waits before reading */
    /* the statement in flight was cancelled: when its answer stops being
     * awaited, and when the cancel is sent again (await_result) */
    int64_t grace_end, recancel;
} sql_pg;

static void ignore_notice(void *arg, const char *message) {}

/* Copies libpq's message, which may span lines ("...failed: Connection
 * refused\n\tIs the server running...\n"), as one line. */
static const char *one_line(const char *in, char *out, size_t n) {
    size_t o = 0;
    bool space = false;
    for (const char *p = in ? in : ""; *p && o + 1 < n; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < n) out[o++] = ' ';
        space = false;
        out[o++] = *p;
    }
    out[o] = '\0';
    if (o == 0) snprintf(out, n, "unknown error (libpq gave no message)");
    return out;
}

static void check_connection(sql_pg *s) {
    if (PQstatus(s->pg) != CONNECTION_OK) s->base.broken = true;
}

/* A failed call without a result: libpq's message for the connection. */
static int conn_fail(sql_pg *s, const char *what, char *err, size_t errlen) {
    char msg[1024];
    one_line(PQerrorMessage(s->pg), msg, sizeof msg);
    check_connection(s);
    return host_sql_fail(s->base.cfg->name, err, errlen, "%s%s", what, msg);
}

/* A result that is an error: the server's severity, message, detail and
 * hint; or libpq's message when it made the error itself. */
static int result_fail(sql_pg *s, const PGresult *r, char *err, size_t errlen) {
    const char *name = s->base.cfg->name;
    check_connection(s);
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (sev && msg) {
        const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
        const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
        return host_sql_fail(name, err, errlen, "%s: %s%s%s%s%s", sev, msg,
                             detail ? " DETAIL: " : "", detail ? detail : "", hint ? " HINT: " : "",
                             hint ? hint : "");
    }
    char line[1024];
    const char *text = PQresultErrorMessage(r);
    one_line(text && *text ? text : PQerrorMessage(s->pg), line, sizeof line);
    return host_sql_fail(name, err, errlen, "%s", line);
}

/* ---- connections ----------------------------------------------------------- */

static void forget_stmt(void *ctx, void *stmt) {}

static void pg_disconnect(host_sql_conn *c) {
    sql_pg *s = (sql_pg *)c;
    host_sql_cache_free(&s->cache);
    PQfinish(s->pg);
    free(s);
}

static host_sql_conn *pg_connect(const host_sql_config *cfg, char *err, size_t errlen) {
    sql_pg *s = calloc(1, sizeof *s);
    if (!s || !host_sql_cache_init(&s->cache, cfg->statement_cache)) {
        free(s);
        host_sql_fail(cfg->name, err, errlen, "out of memory");
        return NULL;
    }
    s->next_stmt = 1;
    /* libpq counts in whole seconds and takes less than 2 as 2 */
    char timeout[16];
    uint32_t secs = (cfg->acquire_timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof timeout, "%u", secs < 2 ? 2 : secs);
    /* later keywords win: the url, last, may override the others */
    char options[64] = "";
    if (cfg->statement_timeout_ms)
        snprintf(options, sizeof options, "-c statement_timeout=%u", cfg->statement_timeout_ms);
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "options", "dbname",
                                NULL};
    const char *const vals[] = {timeout, "wasp", options, cfg->url, NULL};
    /* Connected without blocking the thread (PQconnectPoll, waiting with
     * util_poll): in serve, a request that opens a connection is suspended
     * meanwhile. libpq leaves connect_timeout to us here. */
    s->pg = PQconnectStartParams(keys, vals, 1);
    if (!s->pg) {
        host_sql_fail(cfg->name, err, errlen, "out of memory");
        pg_disconnect(&s->base);
        return NULL;
    }
    uint32_t wait = host_wait_ms((secs < 2 ? 2 : secs) * 1000u);
    int64_t until = (int64_t)util_mono_ms() + (wait ? wait : 1);
    PostgresPollingStatusType st =
        PQstatus(s->pg) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    bool timed_out = false;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int64_t left = until - (int64_t)util_mono_ms();
        struct pollfd p = {.fd = PQsocket(s->pg),
                           .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        if (left <= 0 || wasm_call_should_stop(NULL) || util_poll(&p, 1, (int)left) == 0) {
            timed_out = true;
            break;
        }
        st = PQconnectPoll(s->pg);
    }
    if (timed_out || PQstatus(s->pg) != CONNECTION_OK) {
        char msg[1024];
        host_sql_fail(cfg->name, err, errlen, "cannot connect: %s",
                      timed_out ? "no connection within the timeout"
                                : one_line(PQerrorMessage(s->pg), msg, sizeof msg));
        pg_disconnect(&s->base);
        return NULL;
    }
    PQsetNoticeProcessor(s->pg, ignore_notice, NULL);
    const char *su = PQparameterStatus(s->pg, "is_superuser");
    s->base.superuser = su && !strcmp(su, "on");
    return &s->base;
}

static void drop_notifies(PGconn *pg) {
    PGnotify *n;
    while ((n = PQnotifies(pg)))
        PQfreemem(n);
}

/* Waits (util_poll) until the query sent last has all its results in,
 * for at most timeout_ms; false when it has not, or the connection broke. */
static bool await_results(sql_pg *s, uint32_t timeout_ms) {
    int64_t deadline = (int64_t)util_mono_ms() + timeout_ms;
    for (;;) {
        if (!PQisBusy(s->pg)) return true;
        if (!PQconsumeInput(s->pg)) return false;
        if (!PQisBusy(s->pg)) return true;
        int64_t left = deadline - (int64_t)util_mono_ms();
        struct pollfd p = {.fd = PQsocket(s->pg), .events = POLLIN};
        if (left <= 0 || util_poll(&p, 1, (int)left) <= 0) return false;
    }
}

/* A statement without results worth keeping, run without blocking the
 * thread; true when it completed (PGRES_COMMAND_OK) within timeout_ms. */
static bool exec_command(sql_pg *s, const char *sql, uint32_t timeout_ms) {
    if (!PQsendQuery(s->pg, sql) || !await_results(s, timeout_ms)) return false;
    bool ok = true;
    PGresult *r;
    while ((r = PQgetResult(s->pg))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) ok = false;
        PQclear(r);
    }
    return ok;
}

/* An empty query that must come back within timeout_ms. */
static bool ping(sql_pg *s, uint32_t timeout_ms) {
    if (!PQsendQuery(s->pg, "") || !await_results(s, timeout_ms)) return false;
    bool ok = true;
    PGresult *r;
    while ((r = PQgetResult(s->pg))) {
        if (PQresultStatus(r) != PGRES_EMPTY_QUERY) ok = false;
        PQclear(r);
    }
    drop_notifies(s->pg);
    return ok && PQstatus(s->pg) == CONNECTION_OK;
}

static bool finish_reset(sql_pg *s, uint32_t timeout_ms);

static bool pg_check(host_sql_conn *c, uint64_t idle_ms) {
    sql_pg *s = (sql_pg *)c;
    /* The reset's results first; then the usual look for anything that
     * came after them - a server that went away sends its FATAL message
     * and closes the socket, possibly right after the reset's answer. */
    if (s->resetting && !finish_reset(s, c->cfg->acquire_timeout_ms)) return false;
    if (PQstatus(s->pg) != CONNECTION_OK || PQtransactionStatus(s->pg) != PQTRANS_IDLE)
        return false;
    struct pollfd p = {.fd = PQsocket(s->pg), .events = POLLIN};
    bool input = poll(&p, 1, 0) != 0;
    if (input && !PQconsumeInput(s->pg)) return false;
    if (input || idle_ms >= PING_IDLE_MS) return ping(s, c->cfg->acquire_timeout_ms);
    return true;
}

static bool pg_clean(host_sql_conn *c) {
    sql_pg *s = (sql_pg *)c;
    if (PQstatus(s->pg) != CONNECTION_OK) return false;
    PGTransactionStatusType ts = PQtransactionStatus(s->pg);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
        if (!exec_command(s, "ROLLBACK", c->cfg->acquire_timeout_ms)) return false;
    } else if (ts != PQTRANS_IDLE) {
        return false; /* a query still running (ACTIVE) or the state is unknown */
    }
    /* The reset is sent, not waited for: its results are read when the
     * connection is next acquired (pg_check, finish_reset), usually long
     * arrived by then. That takes a round trip off every request's path;
     * no request can run on the connection before the reset has finished
     * and succeeded, so nothing leaks. Its statements are prepared in the
     * same pipeline the first time (and after a DEALLOCATE ALL). */
    if (!PQenterPipelineMode(s->pg)) return false;
    s->resetting = true; /* from here finish_reset must leave pipeline mode */
    char name[32];
    bool ok = true;
    for (size_t i = 0; i < RESET_STMTS && ok && !s->reset_prepared; i++) {
        snprintf(name, sizeof name, "wasp_reset_%zu", i);
        ok = PQsendPrepare(s->pg, name, reset_stmts[i], 0, NULL);
    }
    for (size_t i = 0; i < RESET_STMTS && ok; i++) {
        snprintf(name, sizeof name, "wasp_reset_%zu", i);
        ok = PQsendQueryPrepared(s->pg, name, 0, NULL, NULL, NULL, 0);
    }
    s->reset_prepared = true;
    return ok && PQpipelineSync(s->pg);
}

/* Reads the results of the reset's pipeline up to its end (the sync):
 * false when any statement failed or they did not all arrive within
 * timeout_ms. *prepared_in_sql: the last statement's count was not 0. */
static bool read_reset(sql_pg *s, uint32_t timeout_ms, bool *prepared_in_sql) {
    int64_t deadline = (int64_t)util_mono_ms() + timeout_ms;
    bool ok = true;
    size_t counted = 0;
    for (;;) {
        int64_t left = deadline - (int64_t)util_mono_ms();
        if (PQstatus(s->pg) != CONNECTION_OK || !await_results(s, left > 0 ? (uint32_t)left : 0))
            return false;
        PGresult *r = PQgetResult(s->pg);
        if (!r) continue; /* the end of one statement's results */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_TUPLES_OK && PQntuples(r) == 1 && ++counted == 2)
            *prepared_in_sql = strcmp(PQgetvalue(r, 0, 0), "0") != 0;
        else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            ok = false;
        PQclear(r);
    }
    /* two one-row results: pg_advisory_unlock_all()'s, then the count */
    return PQexitPipelineMode(s->pg) && ok && counted == 2;
}

/* Reads the results of the reset pg_clean sent, then drops the prepared
 * statements when the request made its own. False when any part failed
 * or did not arrive within timeout_ms: the pool then replaces the
 * connection. */
static bool finish_reset(sql_pg *s, uint32_t timeout_ms) {
    s->resetting = false;
    bool prepared_in_sql = false;
    if (!read_reset(s, timeout_ms, &prepared_in_sql)) return false;
    if (prepared_in_sql || s->deallocate_all) {
        if (!exec_command(s, "DEALLOCATE ALL", timeout_ms)) return false;
        host_sql_cache_clear(&s->cache, forget_stmt, NULL);
        s->deallocate_all = false;
        s->reset_prepared = false; /* gone with the rest: prepared again next time */
    }
    drop_notifies(s->pg);
    return true;
}

/* Stops the running query; its remaining results are then drained. */
static void cancel(sql_pg *s) {
    PGcancel *cn = PQgetCancel(s->pg);
    char why[256];
    if (cn) PQcancel(cn, why, sizeof why);
    PQfreeCancel(cn);
}

/* How long a cancelled query may take to answer before the connection is
 * given up (the server may be hung, or the network gone). */
#define CANCEL_GRACE_MS 2000
/* A cancel can be lost: the server ignores one that arrives while the
 * backend is between protocol messages (reading the next one), and
 * PQcancel itself can fail. A connection given up at the end of the grace
 * leaves its backend running the statement (the server does not notice a
 * closed client until it next talks to it), so the cancel is sent again at
 * this interval until the answer comes; once the statement has ended, a
 * cancel is ignored. */
#define CANCEL_REPEAT_MS 200
/* The longest single wait, so that wasm_interrupt() is noticed too. */
#define WAIT_SLICE_MS 50

/* Waits until the next result of the query in flight can be read without
 * blocking, but never past the guest call's deadline: then the query is
 * cancelled (*cancelled tells; the caller's flag starts false for each
 * statement) and its answer awaited for at most CANCEL_GRACE_MS. False
 * when the connection failed or the cancelled query never answered: the
 * connection is then marked broken. */
static bool await_result(sql_pg *s, bool *cancelled) {
    /* Just after a send the answer cannot be in yet: a read would only say
     * EAGAIN, a system call for nothing, so the wait comes first. */
    bool wait_first = s->sent;
    s->sent = false;
    for (;;) {
        /* what was read already may hold the next result: a read of the
         * socket only when it does not */
        if (!wait_first && !PQisBusy(s->pg)) return true;
        if (!wait_first) {
            if (!PQconsumeInput(s->pg)) {
                s->base.broken = true;
                return false;
            }
            if (!PQisBusy(s->pg)) return true;
        }
        wait_first = false;
        int wait = WAIT_SLICE_MS;
        if (!*cancelled && wasm_call_should_stop(NULL)) {
            *cancelled = true;
            s->grace_end = (int64_t)util_mono_ms() + CANCEL_GRACE_MS;
            s->recancel = 0;
        }
        if (*cancelled) {
            /* the grace runs across calls: a statement's later results
             * are awaited within the same one */
            int64_t now = (int64_t)util_mono_ms();
            if (now >= s->grace_end) {
                s->base.broken = true;
                return false;
            }
            if (now >= s->recancel) {
                cancel(s);
                s->recancel = now + CANCEL_REPEAT_MS;
            }
            int64_t until = s->recancel < s->grace_end ? s->recancel : s->grace_end;
            if (until - now < wait) wait = (int)(until - now);
        } else {
            int64_t left = wasm_call_time_left_ms();
            if (left >= 0 && left < wait) wait = (int)left;
        }
        struct pollfd p = {.fd = PQsocket(s->pg), .events = POLLIN};
        if (util_poll(&p, 1, wait) < 0 && errno != EINTR) {
            s->base.broken = true;
            return false;
        }
    }
}

static int deadline_fail(sql_pg *s, char *err, size_t errlen) {
    return host_sql_fail(s->base.cfg->name, err, errlen,
                         "the statement was cancelled: the request's deadline has passed");
}

/* ---- statements ------------------------------------------------------------ */

static void stmt_name(uintptr_t n, char out[24]) {
    snprintf(out, 24, "w%lu", (unsigned long)n);
}

static void evict(sql_pg *s, uintptr_t n) {
    char name[24], sql[40];
    stmt_name(n, name);
    snprintf(sql, sizeof sql, "DEALLOCATE %s", name);
    /* in a failed transaction, say: the name is never reused, and release
     * deallocates everything */
    if (!exec_command(s, sql, s->base.cfg->acquire_timeout_ms)) s->deallocate_all = true;
    check_connection(s);
}

/* The number of the prepared statement for key (the SQL text, a NUL, one
 * byte per parameter: 'b' for a BLOB, '.' for the others); 0 with a
 * message. */
static uintptr_t statement(sql_pg *s, const char *key, size_t klen, const host_sql_value *params,
                           size_t nparams, char *err, size_t errlen) {
    uintptr_t n = (uintptr_t)host_sql_cache_get(&s->cache, key, klen);
    if (n) return n;
    void *victim = host_sql_cache_victim(&s->cache);
    if (victim) {
        evict(s, (uintptr_t)victim);
        host_sql_cache_drop(&s->cache, victim);
        if (s->base.broken) {
            conn_fail(s, "", err, errlen);
            return 0;
        }
    }
    Oid types[HOST_SQL_MAX_PARAMS];
    for (size_t i = 0; i < nparams; i++)
        types[i] = params[i].type == HOST_SQL_BLOB ? OID_BYTEA : 0;
    n = s->next_stmt++;
    char name[24];
    stmt_name(n, name);
    if (!PQsendPrepare(s->pg, name, key, (int)nparams, types)) {
        conn_fail(s, "", err, errlen);
        return 0;
    }
    s->sent = true;
    /* planning can wait for locks: the deadline holds here too */
    bool cancelled = false, failed = false;
    PGresult *r;
    for (;;) {
        if (!await_result(s, &cancelled)) {
            if (cancelled)
                deadline_fail(s, err, errlen);
            else
                conn_fail(s, "the connection broke: ", err, errlen);
            return 0;
        }
        if (!(r = PQgetResult(s->pg))) break;
        if (!failed && (cancelled || PQresultStatus(r) != PGRES_COMMAND_OK)) {
            if (cancelled)
                deadline_fail(s, err, errlen);
            else
                result_fail(s, r, err, errlen);
            failed = true;
        }
        PQclear(r);
    }
    if (failed) return 0;
    if (!host_sql_cache_put(&s->cache, key, klen, (void *)n)) {
        /* prepared but not remembered: deallocate it with the rest */
        s->deallocate_all = true;
        host_sql_fail(s->base.cfg->name, err, errlen, "out of memory");
        return 0;
    }
    return n;
}

/* The arrays PQsendQueryPrepared takes, in one allocation with the text
 * forms they point to. */
typedef struct pg_params {
    const char **values;
    int *lengths, *formats;
    void *block;
} pg_params;

static int make_params(sql_pg *s, const host_sql_value *params, size_t n, pg_params *out, char *err,
                       size_t errlen) {
    const char *name = s->base.cfg->name;
    size_t text = 0;
    for (size_t i = 0; i < n; i++) {
        const host_sql_value *v = &params[i];
        if (v->type == HOST_SQL_TEXT) {
            if (memchr(v->p, '\0', v->len))
                return host_sql_fail(name, err, errlen,
                                     "parameter %zu: TEXT holds a NUL byte, which PostgreSQL text "
                                     "cannot store (pass it as a BLOB for a bytea column)",
                                     i + 1);
            text += v->len + 1;
        } else if (v->type == HOST_SQL_INT || v->type == HOST_SQL_FLOAT) {
            text += NUMBER_MAX;
        }
    }
    size_t arrays = n * (sizeof(char *) + 2 * sizeof(int));
    uint8_t *block = malloc(arrays + text + 1);
    if (!block) return host_sql_fail(name, err, errlen, "out of memory for the parameters");
    out->block = block;
    out->values = (const char **)(void *)block;
    out->lengths = (int *)(void *)(block + n * sizeof(char *));
    out->formats = out->lengths + n;
    char *t = (char *)block + arrays;
    for (size_t i = 0; i < n; i++) {
        const host_sql_value *v = &params[i];
        out->lengths[i] = 0;
        out->formats[i] = 0;
        out->values[i] = t;
        switch (v->type) {
        case HOST_SQL_NULL: out->values[i] = NULL; break;
        case HOST_SQL_INT: t += snprintf(t, NUMBER_MAX, "%lld", (long long)v->i) + 1; break;
        case HOST_SQL_FLOAT:
            /* the spellings float8in reads; %.17g round-trips the rest */
            if (isnan(v->f))
                t += snprintf(t, NUMBER_MAX, "NaN") + 1;
            else if (isinf(v->f))
                t += snprintf(t, NUMBER_MAX, "%sInfinity", v->f < 0 ? "-" : "") + 1;
            else
                t += snprintf(t, NUMBER_MAX, "%.17g", v->f) + 1;
            break;
        case HOST_SQL_TEXT:
            memcpy(t, v->p, v->len);
            t[v->len] = '\0';
            t += v->len + 1;
            break;
        case HOST_SQL_BLOB:
            out->values[i] = v->p;
            out->lengths[i] = (int)v->len;
            out->formats[i] = 1;
            break;
        }
    }
    return HOST_OK;
}

/* Rows changed: only INSERT, UPDATE, DELETE and MERGE change rows
 * (PQcmdTuples also counts what a SELECT returned). */
static int64_t changes(PGresult *r) {
    const char *tag = PQcmdStatus(r);
    static const char *const verbs[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (strncmp(tag, verbs[i], strlen(verbs[i])) == 0) return strtoll(PQcmdTuples(r), NULL, 10);
    return 0;
}

static int write_header(const PGresult *r, host_sql_writer *w) {
    int ncols = PQnfields(r);
    if (host_sql_write_begin(w, (uint32_t)ncols) != HOST_OK) return HOST_ERROR;
    for (int i = 0; i < ncols; i++) {
        const char *col = PQfname(r, i);
        if (host_sql_write_column(w, col, strlen(col)) != HOST_OK) return HOST_ERROR;
    }
    return HOST_OK;
}

static int write_value(const PGresult *r, int row, int col, host_sql_writer *w) {
    host_sql_value v = {.type = HOST_SQL_NULL};
    if (PQgetisnull(r, row, col)) return host_sql_write_value(w, &v);
    const char *text = PQgetvalue(r, row, col);
    switch (PQftype(r, col)) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        v.type = HOST_SQL_INT;
        v.i = strtoll(text, NULL, 10);
        return host_sql_write_value(w, &v);
    case OID_BOOL:
        v.type = HOST_SQL_INT;
        v.i = text[0] == 't';
        return host_sql_write_value(w, &v);
    case OID_FLOAT4:
    case OID_FLOAT8:
        /* strtod reads PostgreSQL's NaN, Infinity and -Infinity too */
        v.type = HOST_SQL_FLOAT;
        v.f = strtod(text, NULL);
        return host_sql_write_value(w, &v);
    case OID_BYTEA: {
        size_t len = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)text, &len);
        if (!bytes) return host_sql_fail(w->name, w->err, w->errlen, "out of memory for a bytea");
        v.type = HOST_SQL_BLOB;
        v.p = bytes;
        v.len = len;
        int ret = host_sql_write_value(w, &v);
        PQfreemem(bytes);
        return ret;
    }
    default:
        v.type = HOST_SQL_TEXT;
        v.p = text;
        v.len = (size_t)PQgetlength(r, row, col);
        return host_sql_write_value(w, &v);
    }
}

/* Reads every result of the query just sent into w. */
static int read_results(sql_pg *s, host_sql_writer *w, char *err, size_t errlen) {
    int ret = HOST_OK;
    bool header = false, stopped = false, cancelled = false;
    int64_t changed = 0;
    PGresult *r;
    for (;;) {
        if (!await_result(s, &cancelled)) {
            if (cancelled) return deadline_fail(s, err, errlen);
            return conn_fail(s, "the connection broke: ", err, errlen);
        }
        if (!(r = PQgetResult(s->pg))) break;
        if (cancelled && ret == HOST_OK) {
            /* whatever came, the query did not finish in time */
            ret = deadline_fail(s, err, errlen);
            stopped = true;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            /* the connection stays in COPY mode: it cannot serve again */
            PQclear(r);
            s->base.broken = true;
            return host_sql_fail(s->base.cfg->name, err, errlen,
                                 "COPY FROM STDIN and COPY TO STDOUT are not supported (use "
                                 "INSERT and SELECT)");
        }
        if (ret == HOST_OK) {
            switch (st) {
            case PGRES_SINGLE_TUPLE:
            case PGRES_TUPLES_OK:
                if (!header) {
                    ret = write_header(r, w);
                    header = true;
                }
                for (int row = 0; ret == HOST_OK && row < PQntuples(r); row++) {
                    ret = host_sql_write_row(w);
                    for (int col = 0; ret == HOST_OK && col < PQnfields(r); col++)
                        ret = write_value(r, row, col, w);
                }
                if (st == PGRES_TUPLES_OK) changed = changes(r);
                break;
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY: changed = changes(r); break;
            default: ret = result_fail(s, r, err, errlen); break;
            }
            /* a result too large: stop the server sending the rest */
            if (ret != HOST_OK && st == PGRES_SINGLE_TUPLE && !stopped) {
                cancel(s);
                stopped = true;
            }
        }
        PQclear(r);
    }
    check_connection(s);
    if (ret == HOST_OK && cancelled) ret = deadline_fail(s, err, errlen);
    if (ret == HOST_OK && s->base.broken)
        return conn_fail(s, "the connection broke: ", err, errlen);
    if (ret == HOST_OK) ret = host_sql_write_end(w, changed);
    return ret;
}

static int pg_exec(host_sql_conn *c, const char *sql, size_t sql_len, const host_sql_value *params,
                   size_t nparams, size_t max_result, host_buf *out, char *err, size_t errlen) {
    sql_pg *s = (sql_pg *)c;
    if (PQstatus(s->pg) != CONNECTION_OK) {
        s->base.broken = true;
        return conn_fail(s, "the connection broke earlier in this request: ", err, errlen);
    }
    size_t klen = sql_len + 1 + nparams;
    char *key = malloc(klen);
    if (!key) return host_sql_fail(c->cfg->name, err, errlen, "out of memory");
    memcpy(key, sql, sql_len);
    key[sql_len] = '\0';
    for (size_t i = 0; i < nparams; i++)
        key[sql_len + 1 + i] = params[i].type == HOST_SQL_BLOB ? 'b' : '.';
    uintptr_t n = statement(s, key, klen, params, nparams, err, errlen);
    free(key);
    if (!n) return HOST_ERROR;

    pg_params pp = {0};
    if (make_params(s, params, nparams, &pp, err, errlen) != HOST_OK) return HOST_ERROR;
    char name[24];
    stmt_name(n, name);
    int sent = PQsendQueryPrepared(s->pg, name, (int)nparams, pp.values, pp.lengths, pp.formats, 0);
    free(pp.block);
    if (!sent) return conn_fail(s, "", err, errlen);
    s->sent = true;
    PQsetSingleRowMode(s->pg);
    host_sql_writer w;
    host_sql_writer_init(&w, out, max_result, c->cfg->name, err, errlen);
    return read_results(s, &w, err, errlen);
}

const host_sql_ops host_sql_pg_ops = {
    .connect_at_open = false,
    .connect = pg_connect,
    .check = pg_check,
    .exec = pg_exec,
    .clean = pg_clean,
    .disconnect = pg_disconnect,
};
