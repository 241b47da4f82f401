/*
 * keep5xx.c - a `wasp pipe` filter: keeps the NDJSON records whose "status"
 * is 500 or more (server errors), without parsing the rest of the record.
 */
#include "wasp_filter.h"

static int server_error(const wasp_record *r) {
    return wasp_json_int(wasp_record_data(r), wasp_record_len(r), "status", 0) >= 500;
}

WASP_FILTER(server_error)
