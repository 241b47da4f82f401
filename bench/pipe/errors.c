/*
 * errors.c - `make bench-pipe`'s logic (logic.h) as a wasp pipe filter.
 */
#include "logic.h"
#include "wasp_filter.h"

static int map(const wasp_record *r) {
    static char out[65536 + 64];
    if (wasp_record_len(r) > 65536) return 1;
    size_t n = errors_map(wasp_record_data(r), wasp_record_len(r), out);
    return n && wasp_emit(out, n) < 0;
}

WASP_FLAT_MAP(map)
