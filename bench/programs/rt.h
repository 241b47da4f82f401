/*
 * rt.h - what the benchmark programs share beyond the C library.
 *
 * The same program sources build two ways (see bench/run.sh): for
 * wasm32-wasi with clang-14 and Debian's wasi-libc, and natively with gcc
 * and glibc. Each program is an ordinary command: `main` does the work and
 * prints its result lines ("label: number") with printf, so the three
 * runners (native, wasp, node) can be compared byte for byte. Nothing may
 * depend on the host: no clocks, no randomness, no arguments or
 * environment, no floating-point printing.
 *
 * Memory comes from rt_alloc, a bump allocator over a static arena, rather
 * than from malloc, so that both builds run the same allocation code
 * (glibc's and wasi-libc's mallocs differ) and it costs next to nothing.
 */
#ifndef BENCH_RT_H
#define BENCH_RT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A bump allocator over a static arena of RT_ARENA_BYTES: rt_alloc never
 * fails quietly (it calls rt_fail), and rt_reset frees everything at once.
 * Blocks are 16-byte aligned. */
#define RT_ARENA_BYTES (40u << 20)
void *rt_alloc(size_t n);
void rt_reset(void);

/* Prints `why` to stderr and aborts (a trap under wasm). */
_Noreturn void rt_fail(const char *why);

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
