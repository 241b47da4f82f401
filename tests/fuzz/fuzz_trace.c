/*
 * fuzz_trace.c - libFuzzer target for what wasp reads from outside in the
 * observability work: a request's traceparent header (any bytes a client
 * sends; srv_traceparent_parse) and a /metrics text (`wasp top` reads
 * whatever answers at the admin address; srv_top_parse, srv_top_rows).
 * An accepted traceparent must be 55 bytes that parse again to themselves,
 * and its child must parse too; the metrics reader must not crash and must
 * make rows with sane numbers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char out[SRV_TRACEPARENT_LEN + 1], again[SRV_TRACEPARENT_LEN + 1];
    if (srv_traceparent_parse((const char *)data, size, out)) {
        if (strlen(out) != SRV_TRACEPARENT_LEN) abort();
        if (!srv_traceparent_parse(out, SRV_TRACEPARENT_LEN, again) || strcmp(out, again)) abort();
        srv_traceparent_child(out, again);
        if (!srv_traceparent_parse(again, strlen(again), out)) abort();
    }
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0; /* the fetch hands over a NUL-terminated body */
    srv_top_sample *a = srv_top_parse(text), *b = srv_top_parse(text);
    if (a && b) {
        srv_top_row rows[SRV_TOP_MAX_APPS];
        int n = srv_top_rows(a, b, rows, SRV_TOP_MAX_APPS);
        if (n < 0 || n > SRV_TOP_MAX_APPS) abort();
        for (int i = 0; i < n; i++)
            if (rows[i].app[sizeof rows[i].app - 1] != 0 || isnan(rows[i].error_rate)) abort();
    }
    srv_top_free(a);
    srv_top_free(b);
    free(text);
    return 0;
}
