/*
 * fuzz_sqlparams.c - libFuzzer target for srv_sql_params_decode, which
 * reads the parameter list a guest hands to sql_exec: bytes the guest
 * wrote, so anything may come. Whatever it accepts must be consistent: at
 * most `max` values of known types, each TEXT or BLOB lying inside the
 * input.
 */
#include <stdlib.h>

#include "host/host.h"
#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    host_sql_value v[16];
    size_t n = 99;
    if (!srv_sql_params_decode(data, size, v, 16, &n)) return 0;
    if (n > 16) abort();
    for (size_t i = 0; i < n; i++) {
        if (v[i].type > HOST_SQL_BLOB) abort();
        if (v[i].type == HOST_SQL_TEXT || v[i].type == HOST_SQL_BLOB) {
            const uint8_t *p = v[i].p;
            if (p < data || p + v[i].len > data + size) abort();
        }
    }
    return 0;
}
