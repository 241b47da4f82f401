/*
 * test_arena.c - util_arena: 16-byte alignment, zero-filled blocks that do
 * not overlap, strndup, calloc overflow, allocations bigger than a chunk,
 * and free-then-reuse. Run under ASan (build/asan/unit_tests) these also
 * show that every block is really as large as asked and that
 * util_arena_free releases everything.
 */
#include <string.h>

#include "unit.h"
#include "util/util.h"

static bool aligned16(const void *p) {
    return ((uintptr_t)p & 15) == 0;
}

static bool all_bytes(const void *p, uint8_t v, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != v) return false;
    return true;
}

TEST(arena_blocks_are_aligned_zeroed_and_disjoint) {
    util_arena a = {0};
    enum { N = 300 };
    uint8_t *blocks[N];
    size_t sizes[N];
    for (size_t i = 0; i < N; i++) {
        sizes[i] = (i * 37) % 200 + 1;
        blocks[i] = util_arena_alloc(&a, sizes[i]);
        REQUIRE(blocks[i] != NULL);
        CHECK(aligned16(blocks[i]));
        if (!CHECK(all_bytes(blocks[i], 0, sizes[i]))) break;
        memset(blocks[i], (int)(i & 0xff), sizes[i]);
    }
    /* every block still holds its own pattern: none overlapped another */
    for (size_t i = 0; i < N; i++)
        if (!CHECK(all_bytes(blocks[i], (uint8_t)(i & 0xff), sizes[i]))) break;
    size_t sum = 0;
    for (size_t i = 0; i < N; i++)
        sum += sizes[i];
    CHECK(a.total >= sum);
    util_arena_free(&a);
}

TEST(arena_zero_size_gives_a_distinct_block) {
    util_arena a = {0};
    void *p = util_arena_alloc(&a, 0);
    void *q = util_arena_alloc(&a, 0);
    CHECK(p != NULL);
    CHECK(q != NULL);
    CHECK(p != q);
    util_arena_free(&a);
}

TEST(arena_reused_after_free_is_zeroed) {
    util_arena a = {0};
    for (int round = 0; round < 3; round++) {
        /* dirty a chunk, free it, and allocate again: malloc tends to hand
         * the same memory back, which the arena must clear */
        uint8_t *p = util_arena_alloc(&a, 1000);
        REQUIRE(p != NULL);
        CHECK(all_bytes(p, 0, 1000));
        memset(p, 0xa5, 1000);
        util_arena_free(&a);
        CHECK_EQ_PTR(a.head, NULL);
        CHECK_EQ_U64(a.total, 0);
    }
}

TEST(arena_large_allocation) {
    util_arena a = {0};
    uint8_t *small = util_arena_alloc(&a, 24);
    REQUIRE(small != NULL);
    memset(small, 0x11, 24);
    size_t big_size = (size_t)16 << 20; /* far above any chunk size */
    uint8_t *big = util_arena_alloc(&a, big_size);
    REQUIRE(big != NULL);
    CHECK(aligned16(big));
    CHECK(big[0] == 0 && big[big_size / 2] == 0 && big[big_size - 1] == 0);
    memset(big, 0x22, big_size);
    /* small allocations keep working after it, and nothing was clobbered */
    uint8_t *after = util_arena_alloc(&a, 40);
    REQUIRE(after != NULL);
    CHECK(all_bytes(after, 0, 40));
    CHECK(all_bytes(small, 0x11, 24));
    CHECK(big[big_size - 1] == 0x22);
    CHECK(a.total >= big_size + 64);
    util_arena_free(&a);
}

TEST(arena_many_chunks) {
    util_arena a = {0};
    /* about 8 MB in 4 KB pieces: forces many chunk allocations */
    for (int i = 0; i < 2000; i++) {
        uint8_t *p = util_arena_alloc(&a, 4000);
        REQUIRE(p != NULL);
        p[0] = p[3999] = 1;
    }
    util_arena_free(&a);
}

TEST(arena_calloc) {
    util_arena a = {0};
    uint32_t *v = util_arena_calloc(&a, 1000, sizeof *v);
    REQUIRE(v != NULL);
    CHECK(aligned16(v));
    CHECK(all_bytes(v, 0, 1000 * sizeof *v));
    v[999] = 7;
    CHECK(util_arena_calloc(&a, 0, 8) != NULL);
    util_arena_free(&a);
}

TEST(arena_calloc_overflow_is_null) {
    util_arena a = {0};
    CHECK_EQ_PTR(util_arena_calloc(&a, SIZE_MAX / 2, 4), NULL);
    CHECK_EQ_PTR(util_arena_calloc(&a, SIZE_MAX, SIZE_MAX), NULL);
    CHECK_EQ_PTR(util_arena_calloc(&a, (SIZE_MAX >> 4) + 1, 16), NULL);
    util_arena_free(&a);
}

TEST(arena_alloc_overflow_is_null) {
    /* util.h: NULL "when size overflows" - rounding SIZE_MAX up to 16 must
     * not wrap around to a small block (and these sizes must fail before
     * reaching malloc, so they also pass under ASan) */
    util_arena a = {0};
    CHECK_EQ_PTR(util_arena_alloc(&a, SIZE_MAX), NULL);
    CHECK_EQ_PTR(util_arena_alloc(&a, SIZE_MAX - 3), NULL);
    CHECK_EQ_PTR(util_arena_alloc(&a, SIZE_MAX - 15), NULL);
    util_arena_free(&a);
}

TEST(arena_strndup) {
    util_arena a = {0};
    char *s = util_arena_strndup(&a, "hello, world", 5);
    REQUIRE(s != NULL);
    CHECK_STR(s, "hello");
    /* embedded NULs are copied; the length is the caller's to keep */
    char *z = util_arena_strndup(&a, "a\0b", 3);
    REQUIRE(z != NULL);
    CHECK_MEM(z, "a\0b\0", 4);
    char *e = util_arena_strndup(&a, NULL, 0);
    REQUIRE(e != NULL);
    CHECK_STR(e, "");
    util_arena_free(&a);
}

TEST(arena_free_twice_and_free_empty) {
    util_arena a = {0};
    util_arena_free(&a);
    CHECK(util_arena_alloc(&a, 8) != NULL);
    util_arena_free(&a);
    util_arena_free(&a);
    CHECK_EQ_PTR(a.head, NULL);
}
