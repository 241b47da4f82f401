/*
 * rt.c - the allocator and failure path behind rt.h, the same source for
 * the wasm32-wasi build and the native one.
 */
#include "rt.h"

#include <stdlib.h>

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

void rt_fail(const char *why) {
    fflush(stdout);
    fprintf(stderr, "%s\n", why);
    abort();
}
