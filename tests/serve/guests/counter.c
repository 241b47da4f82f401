/*
 * counter.c - a wasp-ABI reactor that keeps a counter in state shared by
 * every replica of a service, for tests/serve/scaleout_test.py:
 *
 *   POST /count   one increment; the request's Idempotency-Key header names it
 *   GET  /count   the counts
 *
 * An increment is applied at most once per key, however often it is sent,
 * so a client whose request failed in flight (the replica died before it
 * answered) can send it again without counting it twice:
 *
 *   - PostgreSQL (database `shared`): one statement, so one transaction,
 *     records the key in `applied` and adds the number of rows it inserted
 *     (1, or 0 for a key seen before) to `counter`;
 *   - Redis (store `shared`): the key `seen:KEY` is set (setting it again
 *     changes nothing), and `hits` counts requests with kv_incr, which is
 *     atomic across replicas but not idempotent.
 *
 * The answer is "n=N new=0|1 hits=H replica=R": N the counter after this
 * increment, R the `replica` variable (each replica's name). A failing call
 * answers 503 with the call and err_message.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../../sdk/c/wasp.h"

static const char INCR[] =
    "WITH ins AS (INSERT INTO applied (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1) "
    "UPDATE counter SET n = n + (SELECT count(*) FROM ins) WHERE name = 'c' "
    "RETURNING n, (SELECT count(*) FROM ins)";

static int fail(const char *call) {
    char msg[512];
    int32_t n = wasp_err_message(msg, sizeof msg);
    if (n < 0) n = 0;
    if (n > (int32_t)sizeof msg) n = sizeof msg;
    wasp_status(503);
    wasp_write_str(call);
    wasp_write_str(": ");
    wasp_write(msg, (size_t)n);
    return 0;
}

/* The first row's INT columns of the last result into v[0..nv): 0, or -1. */
static int first_ints(int64_t *v, int nv) {
    static unsigned char res[4096];
    int32_t len = wasp_sql_result(res, sizeof res);
    wasp_sql_rows rows;
    if (len < 0 || len > (int32_t)sizeof res || wasp_sql_rows_init(&rows, res, (size_t)len) ||
        rows.nrows < 1)
        return -1;
    for (int i = 0; i < nv; i++) {
        wasp_sql_value x;
        if (!wasp_sql_next_value(&rows, &x) || x.type != WASP_SQL_INT) return -1;
        v[i] = x.i;
    }
    return 0;
}

WASP_HANDLER int wasp_handle(void) {
    char replica[64], key[128], kvkey[160], out[256];
    int32_t rl = wasp_var("replica", replica, sizeof replica - 1);
    replica[rl < 0 ? 0 : rl < (int32_t)sizeof replica ? rl : (int32_t)sizeof replica - 1] = 0;
    int32_t kv = wasp_kv_open("shared", 6);
    if (kv < 0) return fail("kv_open");
    int32_t db = wasp_sql_open("shared", 6);
    if (db < 0) return fail("sql_open");

    if (wasp_method_is("GET")) {
        int64_t n = 0, hits = 0;
        if (wasp_sql_query(db, "SELECT n FROM counter WHERE name = 'c'", 0) < 0)
            return fail("sql_exec");
        if (first_ints(&n, 1)) return fail("sql_result");
        char h[32];
        int32_t hl = wasp_kv_get(kv, "hits", 4, h, sizeof h - 1);
        if (hl == -2) return fail("kv_get");
        h[hl < 0 ? 0 : hl] = 0;
        sscanf(h, "%lld", (long long *)&hits);
        snprintf(out, sizeof out, "n=%lld hits=%lld replica=%s\n", (long long)n, (long long)hits,
                 replica);
        wasp_write_str(out);
        return 0;
    }

    int32_t kl = wasp_header("Idempotency-Key", key, sizeof key);
    if (kl <= 0 || kl >= (int32_t)sizeof key) {
        wasp_status(400);
        wasp_write_str("an Idempotency-Key header (1 to 127 bytes) names the increment\n");
        return 0;
    }
    unsigned char pbuf[256];
    wasp_sql_params p;
    wasp_sql_params_init(&p, pbuf, sizeof pbuf);
    wasp_sql_param_text(&p, key, (size_t)kl);
    if (wasp_sql_query(db, INCR, &p) < 0) return fail("sql_exec");
    int64_t v[2];
    if (first_ints(v, 2)) return fail("sql_result");

    int kn = snprintf(kvkey, sizeof kvkey, "seen:%.*s", (int)kl, key);
    if (wasp_kv_set(kv, kvkey, (size_t)kn, "1", 1, 0) < 0) return fail("kv_set");
    int64_t hits;
    if (wasp_kv_incr(kv, "hits", 4, 1, &hits) < 0) return fail("kv_incr");

    snprintf(out, sizeof out, "n=%lld new=%lld hits=%lld replica=%s\n", (long long)v[0],
             (long long)v[1], (long long)hits, replica);
    wasp_set_header("X-Replica", replica);
    wasp_write_str(out);
    return 0;
}
