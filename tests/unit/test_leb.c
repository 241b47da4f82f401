/*
 * test_leb.c - the LEB128 readers of util.h against the bounds of the
 * WebAssembly binary format: an N-bit number takes at most ceil(N/7) bytes;
 * padding with 0x80 (or 0xff for negative signed numbers) up to that length
 * is legal; in a maximal-length encoding the last byte's bits beyond N must
 * be zero (unsigned) or all copies of bit N-1 (signed). Also: EOF inside a
 * number, where *p ends up, and round trips through the encoders.
 *
 * The cases mirror the spec testsuite's binary-leb128.wast where it has
 * them. Inputs are copied into exact-size heap buffers so that ASan catches
 * any read past `end`.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/util.h"

/* One read: the status, the value, and how many bytes *p advanced. */
typedef struct leb_result {
    util_leb_status st;
    uint64_t u;
    int64_t s;
    size_t used;
} leb_result;

typedef enum { U32, U64, S32, S33, S64 } leb_kind;

static leb_result read_as(leb_kind k, const uint8_t *bytes, size_t n) {
    /* an exact copy, so a read past the end is a heap overflow */
    uint8_t *copy = malloc(n ? n : 1);
    if (n) memcpy(copy, bytes, n);
    const uint8_t *p = copy, *end = copy + n;
    leb_result r = {0};
    uint32_t u32 = 0;
    int32_t s32 = 0;
    switch (k) {
    case U32:
        r.st = util_leb_u32(&p, end, &u32);
        r.u = u32;
        break;
    case U64: r.st = util_leb_u64(&p, end, &r.u); break;
    case S32:
        r.st = util_leb_s32(&p, end, &s32);
        r.s = s32;
        break;
    case S33: r.st = util_leb_s33(&p, end, &r.s); break;
    case S64: r.st = util_leb_s64(&p, end, &r.s); break;
    }
    r.used = (size_t)(p - copy);
    free(copy);
    return r;
}

/* Checks an unsigned read that must succeed with `want` using all n bytes. */
#define CHECK_U(kind, want, ...)                                                                   \
    do {                                                                                           \
        leb_result r_ = read_as(kind, BYTES(__VA_ARGS__));                                         \
        CHECK_EQ_U64(r_.st, UTIL_LEB_OK);                                                          \
        CHECK_EQ_U64(r_.u, (want));                                                                \
        CHECK_EQ_U64(r_.used, sizeof((const uint8_t[]){__VA_ARGS__}));                             \
    } while (0)

#define CHECK_S(kind, want, ...)                                                                   \
    do {                                                                                           \
        leb_result r_ = read_as(kind, BYTES(__VA_ARGS__));                                         \
        CHECK_EQ_U64(r_.st, UTIL_LEB_OK);                                                          \
        CHECK_EQ_S64(r_.s, (want));                                                                \
        CHECK_EQ_U64(r_.used, sizeof((const uint8_t[]){__VA_ARGS__}));                             \
    } while (0)

/* Checks a read that must fail with `status`, leaving *p at byte `at`. */
#define CHECK_FAIL(kind, status, at, ...)                                                          \
    do {                                                                                           \
        leb_result r_ = read_as(kind, BYTES(__VA_ARGS__));                                         \
        CHECK_EQ_U64(r_.st, (status));                                                             \
        CHECK_EQ_U64(r_.used, (at));                                                               \
    } while (0)

TEST(leb_u32_minimal_encodings) {
    CHECK_U(U32, 0, 0x00);
    CHECK_U(U32, 1, 0x01);
    CHECK_U(U32, 127, 0x7f);
    CHECK_U(U32, 128, 0x80, 0x01);
    CHECK_U(U32, 624485, 0xe5, 0x8e, 0x26);
    CHECK_U(U32, 0x0fffffff, 0xff, 0xff, 0xff, 0x7f);
    CHECK_U(U32, 0x10000000, 0x80, 0x80, 0x80, 0x80, 0x01);
    CHECK_U(U32, UINT32_MAX, 0xff, 0xff, 0xff, 0xff, 0x0f);
}

TEST(leb_u32_padded_encodings_are_legal) {
    CHECK_U(U32, 0, 0x80, 0x00);
    CHECK_U(U32, 0, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_U(U32, 3, 0x83, 0x80, 0x80, 0x80, 0x00);
    CHECK_U(U32, 0x7f, 0xff, 0x80, 0x80, 0x80, 0x00);
}

TEST(leb_u32_too_long) {
    /* a continuation bit on the fifth byte: a sixth byte is one too many */
    CHECK_FAIL(U32, UTIL_LEB_TOO_LONG, 4, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_FAIL(U32, UTIL_LEB_TOO_LONG, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f);
}

TEST(leb_u32_unused_bits_in_last_byte) {
    /* 2^32 and beyond: bits 4..6 of the fifth byte must be zero */
    CHECK_FAIL(U32, UTIL_LEB_UNUSED, 4, 0xff, 0xff, 0xff, 0xff, 0x1f);
    CHECK_FAIL(U32, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x10);
    CHECK_FAIL(U32, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x40);
    CHECK_FAIL(U32, UTIL_LEB_UNUSED, 4, 0x82, 0x80, 0x80, 0x80, 0x70);
}

TEST(leb_u32_eof) {
    CHECK_FAIL(U32, UTIL_LEB_EOF, 0);
    CHECK_FAIL(U32, UTIL_LEB_EOF, 1, 0x80);
    CHECK_FAIL(U32, UTIL_LEB_EOF, 4, 0xff, 0xff, 0xff, 0xff);
}

TEST(leb_reads_only_its_own_bytes) {
    /* the reader stops after the first byte without a continuation bit */
    const uint8_t buf[] = {0xe5, 0x8e, 0x26, 0x7f, 0x80};
    const uint8_t *p = buf;
    uint32_t v = 0;
    CHECK_EQ_U64(util_leb_u32(&p, buf + sizeof buf, &v), UTIL_LEB_OK);
    CHECK_EQ_U64(v, 624485);
    CHECK_EQ_PTR(p, buf + 3);
    CHECK_EQ_U64(util_leb_u32(&p, buf + sizeof buf, &v), UTIL_LEB_OK);
    CHECK_EQ_U64(v, 0x7f);
    CHECK_EQ_PTR(p, buf + 4);
    CHECK_EQ_U64(util_leb_u32(&p, buf + sizeof buf, &v), UTIL_LEB_EOF);
    /* `end` bounds the read even when more bytes follow in memory */
    p = buf;
    CHECK_EQ_U64(util_leb_u32(&p, buf + 2, &v), UTIL_LEB_EOF);
    CHECK_EQ_PTR(p, buf + 2);
}

TEST(leb_failure_leaves_output_alone) {
    const uint8_t buf[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    const uint8_t *p = buf;
    uint32_t v = 12345;
    CHECK_EQ_U64(util_leb_u32(&p, buf + sizeof buf, &v), UTIL_LEB_UNUSED);
    CHECK_EQ_U64(v, 12345);
}

TEST(leb_u64_bounds) {
    CHECK_U(U64, 0, 0x00);
    CHECK_U(U64, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_U(U64, UINT32_MAX + UINT64_C(1), 0x80, 0x80, 0x80, 0x80, 0x10);
    CHECK_U(U64, UINT64_MAX, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    CHECK_U(U64, UINT64_C(1) << 63, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01);
    /* the tenth byte carries one bit (bit 63) */
    CHECK_FAIL(U64, UTIL_LEB_UNUSED, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
    CHECK_FAIL(U64, UTIL_LEB_UNUSED, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e);
    CHECK_FAIL(U64, UTIL_LEB_TOO_LONG, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
               0x80, 0x00);
    CHECK_FAIL(U64, UTIL_LEB_EOF, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80);
}

TEST(leb_s32_minimal_encodings) {
    CHECK_S(S32, 0, 0x00);
    CHECK_S(S32, 1, 0x01);
    CHECK_S(S32, -1, 0x7f);
    CHECK_S(S32, 63, 0x3f);
    CHECK_S(S32, -64, 0x40);
    CHECK_S(S32, 64, 0xc0, 0x00);
    CHECK_S(S32, -65, 0xbf, 0x7f);
    CHECK_S(S32, -123456, 0xc0, 0xbb, 0x78);
    CHECK_S(S32, INT32_MAX, 0xff, 0xff, 0xff, 0xff, 0x07);
    CHECK_S(S32, INT32_MIN, 0x80, 0x80, 0x80, 0x80, 0x78);
}

TEST(leb_s32_padded_encodings_are_legal) {
    CHECK_S(S32, 0, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_S(S32, -1, 0xff, 0xff, 0xff, 0xff, 0x7f);
    CHECK_S(S32, -1, 0xff, 0x7f);
    CHECK_S(S32, 5, 0x85, 0x80, 0x00);
    CHECK_S(S32, -64, 0xc0, 0xff, 0xff, 0xff, 0x7f);
}

TEST(leb_s32_last_byte_must_sign_extend) {
    /* In a five-byte s32 the last byte holds bits 28..31 in its bits 0..3;
     * its bits 3..6 must all equal bit 3 (the sign), so the only legal
     * high nibbles (bits 4..6) are 000 with bit 3 clear and 111 with bit 3
     * set. */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0xff, 0xff, 0xff, 0xff, 0x4f); /* 100 1111 */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0xff, 0xff, 0xff, 0xff, 0x0f); /* 2^32-1, too big */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x70); /* 111 0000 */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x10); /* 001 0000 */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0xff, 0xff, 0xff, 0xff, 0x77); /* 111 0111 */
    CHECK_FAIL(S32, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x08); /* 2^31, too big */
}

TEST(leb_s32_too_long_and_eof) {
    CHECK_FAIL(S32, UTIL_LEB_TOO_LONG, 4, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_FAIL(S32, UTIL_LEB_TOO_LONG, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
    CHECK_FAIL(S32, UTIL_LEB_EOF, 0);
    CHECK_FAIL(S32, UTIL_LEB_EOF, 2, 0xff, 0xff);
}

TEST(leb_s33_bounds) {
    /* five bytes, the last carries bits 28..32: bits 4..6 copy bit 4 */
    CHECK_S(S33, 0, 0x00);
    CHECK_S(S33, -1, 0x7f);
    CHECK_S(S33, INT64_C(4294967295), 0xff, 0xff, 0xff, 0xff, 0x0f);
    CHECK_S(S33, -INT64_C(4294967296), 0x80, 0x80, 0x80, 0x80, 0x70);
    CHECK_S(S33, INT64_C(2147483648), 0x80, 0x80, 0x80, 0x80, 0x08);
    CHECK_FAIL(S33, UTIL_LEB_UNUSED, 4, 0x80, 0x80, 0x80, 0x80, 0x10);
    CHECK_FAIL(S33, UTIL_LEB_UNUSED, 4, 0xff, 0xff, 0xff, 0xff, 0x6f);
    CHECK_FAIL(S33, UTIL_LEB_TOO_LONG, 4, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_FAIL(S33, UTIL_LEB_EOF, 1, 0x80);
}

TEST(leb_s64_bounds) {
    CHECK_S(S64, 0, 0x00);
    CHECK_S(S64, -1, 0x7f);
    CHECK_S(S64, INT64_MAX, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00);
    CHECK_S(S64, INT64_MIN, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f);
    CHECK_S(S64, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    CHECK_S(S64, -1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
    /* the tenth byte carries bit 63 only: it is 0x00 or 0x7f */
    CHECK_FAIL(S64, UTIL_LEB_UNUSED, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    CHECK_FAIL(S64, UTIL_LEB_UNUSED, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e);
    CHECK_FAIL(S64, UTIL_LEB_UNUSED, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40);
    CHECK_FAIL(S64, UTIL_LEB_TOO_LONG, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
               0x80, 0x00);
    CHECK_FAIL(S64, UTIL_LEB_EOF, 5, 0x80, 0x80, 0x80, 0x80, 0x80);
}

TEST(leb_strerror_names_every_status) {
    CHECK_STR(util_leb_strerror(UTIL_LEB_TOO_LONG), "integer representation too long");
    CHECK(util_leb_strerror(UTIL_LEB_OK) != NULL);
    CHECK(util_leb_strerror(UTIL_LEB_EOF) != NULL);
    CHECK(util_leb_strerror(UTIL_LEB_UNUSED) != NULL);
    CHECK(util_leb_strerror((util_leb_status)99) != NULL);
}

/* xorshift64*: deterministic values spread over every bit width */
static uint64_t next_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* The bytes a minimal unsigned encoding of v takes. */
static size_t ulen(uint64_t v) {
    size_t n = 1;
    while (v >>= 7)
        n++;
    return n;
}

/* The bytes a minimal signed encoding of v takes. */
static size_t slen(int64_t v) {
    size_t n = 1;
    while (v < -64 || v > 63) {
        v = v < 0 ? ~(~v >> 7) : v >> 7; /* floor(v / 128), no shift of a negative */
        n++;
    }
    return n;
}

/* A value of random width (0..64 bits), so short encodings get exercised. */
static uint64_t random_value(uint64_t *s) {
    uint64_t v = next_rand(s);
    unsigned width = (unsigned)(next_rand(s) % 65);
    return width == 64 ? v : v & ((UINT64_C(1) << width) - 1);
}

TEST(leb_round_trip_unsigned) {
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 20000; i++) {
        uint64_t v = i < 130 ? (uint64_t)i : random_value(&seed);
        if (i >= 130 && i < 194) v = UINT64_C(1) << (i - 130);
        uint8_t buf[10];
        size_t n = util_leb_put_u64(buf, v);
        if (!CHECK_EQ_U64(n, ulen(v))) break;
        leb_result r = read_as(U64, buf, n);
        if (!CHECK_EQ_U64(r.st, UTIL_LEB_OK) || !CHECK_EQ_U64(r.u, v) || !CHECK_EQ_U64(r.used, n))
            break;
        r = read_as(U32, buf, n);
        if (v <= UINT32_MAX) {
            if (!CHECK_EQ_U64(r.st, UTIL_LEB_OK) || !CHECK_EQ_U64(r.u, v)) break;
        } else if (!CHECK(r.st == UTIL_LEB_UNUSED || r.st == UTIL_LEB_TOO_LONG)) {
            break;
        }
    }
}

TEST(leb_round_trip_signed) {
    uint64_t seed = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 20000; i++) {
        int64_t v = (int64_t)random_value(&seed);
        /* sign-extend from a random width so small negatives come up too */
        unsigned width = (unsigned)(next_rand(&seed) % 64) + 1;
        if (width < 64) {
            uint64_t m = UINT64_C(1) << (width - 1);
            uint64_t x = (uint64_t)v & ((m << 1) - 1);
            v = (int64_t)((x ^ m) - m);
        }
        if (i < 64) v = -(int64_t)i;
        uint8_t buf[10];
        size_t n = util_leb_put_s64(buf, v);
        if (!CHECK_EQ_U64(n, slen(v))) break;
        leb_result r = read_as(S64, buf, n);
        if (!CHECK_EQ_U64(r.st, UTIL_LEB_OK) || !CHECK_EQ_S64(r.s, v) || !CHECK_EQ_U64(r.used, n))
            break;
        r = read_as(S32, buf, n);
        if (v >= INT32_MIN && v <= INT32_MAX) {
            if (!CHECK_EQ_U64(r.st, UTIL_LEB_OK) || !CHECK_EQ_S64(r.s, v)) break;
        } else if (!CHECK(r.st == UTIL_LEB_UNUSED || r.st == UTIL_LEB_TOO_LONG)) {
            break;
        }
        r = read_as(S33, buf, n);
        if (v >= -(INT64_C(1) << 32) && v < (INT64_C(1) << 32)) {
            if (!CHECK_EQ_U64(r.st, UTIL_LEB_OK) || !CHECK_EQ_S64(r.s, v)) break;
        } else if (!CHECK(r.st == UTIL_LEB_UNUSED || r.st == UTIL_LEB_TOO_LONG)) {
            break;
        }
    }
}

TEST(leb_round_trip_extremes) {
    const int64_t svals[] = {0,
                             -1,
                             63,
                             64,
                             -64,
                             -65,
                             INT32_MAX,
                             INT32_MIN,
                             INT64_MAX,
                             INT64_MIN,
                             (int64_t)1 << 32,
                             -((int64_t)1 << 32)};
    for (size_t i = 0; i < sizeof svals / sizeof svals[0]; i++) {
        uint8_t buf[10];
        size_t n = util_leb_put_s64(buf, svals[i]);
        leb_result r = read_as(S64, buf, n);
        CHECK_EQ_U64(r.st, UTIL_LEB_OK);
        CHECK_EQ_S64(r.s, svals[i]);
    }
    uint8_t buf[10];
    CHECK_EQ_U64(util_leb_put_u64(buf, UINT64_MAX), 10);
    CHECK_EQ_U64(util_leb_put_s64(buf, INT64_MIN), 10);
    CHECK_EQ_U64(util_leb_put_u64(buf, 0), 1);
    CHECK_EQ_U64(buf[0], 0);
}
