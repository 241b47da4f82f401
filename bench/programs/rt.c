/*
 * rt.c - the runtime behind rt.h, for both builds of every program.
 *
 * For wasm32 it is compiled with -fno-builtin so that the compiler cannot
 * turn the loops of memcpy and friends back into calls to themselves.
 * Natively, libc provides the mem* functions and this file only adds the
 * print functions and main().
 */
#include "rt.h"

static unsigned char arena[RT_ARENA_BYTES] __attribute__((aligned(16)));
static size_t arena_used;

void *rt_alloc(size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > RT_ARENA_BYTES - arena_used)
        rt_fail("rt_alloc: arena exhausted (raise RT_ARENA_BYTES)");
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}

void rt_reset(void) {
    arena_used = 0;
}

#ifdef __wasm__

void rt_fail(const char *why) {
    print_str(why, (int32_t)rt_strlen(why));
    print_str("\n", 1);
    __builtin_trap();
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n >= 8) {
        uint64_t w;
        __builtin_memcpy(&w, s, 8); /* one unaligned i64 load, inlined */
        __builtin_memcpy(d, &w, 8);
        d += 8, s += 8, n -= 8;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0) return dst;
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    uint64_t w = (unsigned char)c * 0x0101010101010101ULL;
    while (n >= 8) {
        __builtin_memcpy(d, &w, 8);
        d += 8, n -= 8;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

#else

#include <stdio.h>
#include <stdlib.h>

void print_i64(int64_t v) {
    printf("%lld\n", (long long)v);
}

void print_str(const char *s, int32_t len) {
    fwrite(s, 1, (size_t)len, stdout);
}

void rt_fail(const char *why) {
    fprintf(stderr, "%s\n", why);
    abort();
}

int main(void) {
    run();
    return fflush(stdout) == 0 ? 0 : 1;
}

#endif
