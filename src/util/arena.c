/*
 * arena.c - a bump allocator for data that lives exactly as long as its
 * owner (a decoded module, a request). Blocks are carved from chunks that
 * grow geometrically; util_arena_free() releases them all at once.
 */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct util_arena_chunk {
    util_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_CHUNK 4096

void *util_arena_alloc(util_arena *a, size_t size) {
    if (size > SIZE_MAX - 15) return NULL;
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    util_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = c ? c->cap * 2 : ARENA_MIN_CHUNK;
        if (cap < size) cap = size;
        if (cap > SIZE_MAX - sizeof *c) return NULL;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

void *util_arena_calloc(util_arena *a, size_t n, size_t size) {
    if (size && n > (SIZE_MAX - 16) / size) return NULL;
    return util_arena_alloc(a, n * size);
}

char *util_arena_strndup(util_arena *a, const void *s, size_t len) {
    if (len == SIZE_MAX) return NULL;
    char *p = util_arena_alloc(a, len + 1);
    if (p && len) memcpy(p, s, len);
    return p;
}

void util_arena_free(util_arena *a) {
    util_arena_chunk *c = a->head;
    while (c) {
        util_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}
