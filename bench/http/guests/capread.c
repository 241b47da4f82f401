/*
 * capread.c - the read handlers of `make bench-http`'s capability section
 * (bench/http/caps.sh): GET /kv reads one key from the store "bench"; GET
 * /sql runs one indexed SELECT with a bound parameter on the database
 * "bench". Both answer the value as text/plain; a store or database error
 * answers 503 with its message.
 */
#include "wasp.h"

#include <string.h>

static char value[4096];
static unsigned char result[4096];

static int failed(void) {
    char msg[300];
    int32_t n = wasp_err_message(msg, sizeof msg);
    wasp_status(503);
    wasp_write(msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg);
    return 0;
}

WASP_HANDLER int wasp_handle(void) {
    char uri[64];
    int32_t n = wasp_uri(uri, sizeof uri - 1);
    uri[n < 0 ? 0 : (size_t)n < sizeof uri - 1 ? (size_t)n : sizeof uri - 1] = '\0';
    wasp_set_header("Content-Type", "text/plain");
    if (!strcmp(uri, "/kv") && wasp_method_is("POST")) {
        int32_t kv = wasp_kv_open("bench", 5);
        if (kv < 0 || wasp_kv_set(kv, "greeting", 8, "hello from the store", 20, 0) < 0)
            return failed();
        return 0;
    }
    if (!strcmp(uri, "/sql") && wasp_method_is("POST")) {
        int32_t db = wasp_sql_open("bench", 5);
        if (db < 0) return failed();
        if (wasp_sql_query(db, "DROP TABLE IF EXISTS bench", 0) < 0 ||
            wasp_sql_query(db, "CREATE TABLE bench (id INTEGER PRIMARY KEY, v TEXT NOT NULL)", 0) <
                0)
            return failed();
        for (int i = 1; i <= 1000; i++) {
            unsigned char pbuf[64];
            wasp_sql_params p;
            wasp_sql_params_init(&p, pbuf, sizeof pbuf);
            wasp_sql_param_int(&p, i);
            wasp_sql_param_text(&p, i == 42 ? "hello from row 42" : "another row",
                                i == 42 ? 17 : 11);
            if (wasp_sql_query(db, "INSERT INTO bench (id, v) VALUES ($1, $2)", &p) < 0)
                return failed();
        }
        return 0;
    }
    if (!strcmp(uri, "/kv")) {
        int32_t kv = wasp_kv_open("bench", 5);
        if (kv < 0) return failed();
        int32_t len = wasp_kv_get(kv, "greeting", 8, value, sizeof value);
        if (len < 0) return failed();
        wasp_write(value, (size_t)len < sizeof value ? (size_t)len : sizeof value);
        return 0;
    }
    if (!strcmp(uri, "/sql")) {
        int32_t db = wasp_sql_open("bench", 5);
        if (db < 0) return failed();
        unsigned char pbuf[32];
        wasp_sql_params p;
        wasp_sql_params_init(&p, pbuf, sizeof pbuf);
        wasp_sql_param_int(&p, 42);
        int32_t len = wasp_sql_query(db, "SELECT v FROM bench WHERE id = $1", &p);
        if (len < 0) return failed();
        wasp_sql_result(result, sizeof result);
        wasp_sql_rows rows;
        wasp_sql_value v;
        if (wasp_sql_rows_init(&rows, result, (size_t)len) < 0 || !wasp_sql_next_value(&rows, &v))
            return failed();
        wasp_write(v.p, v.len);
        return 0;
    }
    wasp_status(404);
    return 0;
}
