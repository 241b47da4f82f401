/*
 * sort.c - merge sort of records through a comparator function pointer.
 *
 * Every comparison is an indirect call (call_indirect in Wasm), the way
 * qsort-style library code runs. The comparator is picked at run time from
 * a table the compilers cannot see through, so neither can specialise the
 * sort for one comparator and inline it.
 */
#include "rt.h"

#define COUNT 1000000
#define ROUNDS 3

typedef struct rec {
    uint32_t key;
    uint32_t id;
} rec;

typedef int (*cmp_fn)(const rec *, const rec *);

static int by_key(const rec *a, const rec *b) {
    return a->key < b->key ? -1 : a->key > b->key;
}

static int by_key_desc(const rec *a, const rec *b) {
    return a->key > b->key ? -1 : a->key < b->key;
}

/* low 10 bits of the key, then the id: many ties on the first field */
static int by_bucket_then_id(const rec *a, const rec *b) {
    uint32_t x = a->key & 1023, y = b->key & 1023;
    if (x != y) return x < y ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

cmp_fn cmp_table[3] = {by_key, by_key_desc, by_bucket_then_id};
volatile uint32_t cmp_pick; /* the run-time index into cmp_table */

static void insertion_sort(rec *v, size_t n, cmp_fn cmp) {
    for (size_t i = 1; i < n; i++) {
        rec x = v[i];
        size_t j = i;
        while (j > 0 && cmp(&x, &v[j - 1]) < 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Stable top-down merge sort of v[0..n) using tmp[0..n) as scratch. */
static void merge_sort(rec *v, rec *tmp, size_t n, cmp_fn cmp) {
    if (n <= 12) {
        insertion_sort(v, n, cmp);
        return;
    }
    size_t mid = n / 2;
    merge_sort(v, tmp, mid, cmp);
    merge_sort(v + mid, tmp, n - mid, cmp);
    if (cmp(&v[mid - 1], &v[mid]) <= 0) return;
    memcpy(tmp, v, mid * sizeof(rec));
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n)
        v[k++] = cmp(&v[j], &tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < mid)
        v[k++] = tmp[i++];
}

int main(void) {
    rec *v = rt_alloc(sizeof(rec) * COUNT);
    rec *tmp = rt_alloc(sizeof(rec) * COUNT);
    rt_rng rng = {12345};
    uint64_t check = 0;
    int64_t inversions = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (uint32_t i = 0; i < COUNT; i++) {
            v[i].key = (uint32_t)(rt_next(&rng) >> 40);
            v[i].id = i;
        }
        cmp_pick = (uint32_t)r % 3;
        cmp_fn cmp = cmp_table[cmp_pick];
        merge_sort(v, tmp, COUNT, cmp);
        for (uint32_t i = 1; i < COUNT; i++)
            inversions += cmp(&v[i - 1], &v[i]) > 0;
        for (uint32_t i = 0; i < COUNT; i += 97)
            check = check * 31 + v[i].id;
    }
    printf("out of order pairs: %" PRId64 "\n", inversions);
    printf("checksum: %" PRId64 "\n", (int64_t)check);
    return 0;
}
