/*
 * rt.h - the tiny runtime every benchmark program is written against.
 *
 * The same program sources build two ways (see bench/run.sh):
 *   - for wasm32, freestanding (no libc, no WASI): print_i64 and print_str
 *     are imported from the host module "env", and rt.c supplies memcpy,
 *     memset, memmove, memcmp and the allocator;
 *   - natively with gcc, where rt.c's native half prints with stdio and
 *     main() calls run().
 * A program defines `void run(void)` and reports its result through the
 * print functions only, so the three runners (native, wasp, node) can be
 * compared byte for byte. Nothing here may depend on the host: no clocks,
 * no randomness, no floating-point printing.
 */
#ifndef BENCH_RT_H
#define BENCH_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __wasm__
#define RT_IMPORT(name) __attribute__((import_module("env"), import_name(name)))
#else
#define RT_IMPORT(name)
#endif

/* Host output: print_i64 writes the number in decimal and a newline;
 * print_str writes exactly `len` bytes. */
RT_IMPORT("print_i64") void print_i64(int64_t v);
RT_IMPORT("print_str") void print_str(const char *s, int32_t len);

/* The program's entry point (the wasm export `run`). */
void run(void);

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* A bump allocator over a static arena of RT_ARENA_BYTES: rt_alloc never
 * fails quietly (it calls rt_fail, which prints and traps/aborts), and
 * rt_reset frees everything at once. Blocks are 16-byte aligned. */
#define RT_ARENA_BYTES (40u << 20)
void *rt_alloc(size_t n);
void rt_reset(void);
void rt_fail(const char *why);

static inline size_t rt_strlen(const char *s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* "label: value\n", the shape of every result line. */
static inline void rt_result(const char *label, int64_t v) {
    print_str(label, (int32_t)rt_strlen(label));
    print_str(": ", 2);
    print_i64(v);
}

/* Deterministic pseudo-random numbers (xorshift64*), the same everywhere. */
typedef struct rt_rng {
    uint64_t s;
} rt_rng;

static inline uint64_t rt_next(rt_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

#endif
