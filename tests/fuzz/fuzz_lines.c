/*
 * fuzz_lines.c - libFuzzer target for pipe_split_lines, which cuts an
 * HTTP client's batch (a pipeline's ingest route: any bytes) into records.
 * What it makes must be the input again: the records joined by newlines
 * give back every line (NDJSON: every line that is not blank), in order,
 * each lying inside the batch's own bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "pipe/internal.h"

static bool blank(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int ndjson = 0; ndjson < 2; ndjson++) {
        srv_batch b = {0};
        if (!pipe_split_lines(data, size, ndjson, &b)) abort(); /* only when out of memory */
        size_t r = 0, start = 0;
        while (start < size) {
            const uint8_t *nl = memchr(data + start, '\n', size - start);
            size_t n = nl ? (size_t)(nl - (data + start)) : size - start;
            if (!(ndjson && blank(data + start, n))) {
                if (r >= b.n) abort();
                const srv_rec *rec = &b.recs[r++];
                if (rec->value_len != n || (uint64_t)rec->value + n > b.len ||
                    memcmp(b.bytes + rec->value, data + start, n) || rec->key_len != SRV_NO_KEY)
                    abort();
            }
            start += n + 1;
        }
        if (r != b.n) abort();
        srv_batch_free(&b);
    }
    return 0;
}
