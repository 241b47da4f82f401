/*
 * test_utf8.c - util_utf8_valid() against Unicode's definition of
 * well-formed UTF-8 (Table 3-7), which is what the WebAssembly spec asks of
 * names: every code point in its shortest form, no surrogates, nothing
 * above U+10FFFF, no truncated sequence and no stray continuation byte.
 *
 * bad_at is checked to be the offset of the first byte of the ill-formed
 * sequence (the lead byte, or the stray byte): the place a message should
 * point a person at. Inputs are copied into exact-size heap buffers so
 * that ASan catches a read past `len`.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/util.h"

static bool valid(const uint8_t *s, size_t len, size_t *bad_at) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, s, len);
    bool ok = util_utf8_valid(copy, len, bad_at);
    free(copy);
    return ok;
}

#define CHECK_VALID(...)                                                                           \
    do {                                                                                           \
        size_t bad_ = 0;                                                                           \
        if (!CHECK(valid(BYTES(__VA_ARGS__), &bad_)))                                              \
            unit_fail(__FILE__, __LINE__, "  (reported bad at offset %zu)", bad_);                 \
    } while (0)

#define CHECK_INVALID_AT(at, ...)                                                                  \
    do {                                                                                           \
        size_t bad_ = (size_t)-1;                                                                  \
        CHECK(!valid(BYTES(__VA_ARGS__), &bad_));                                                  \
        CHECK_EQ_U64(bad_, (at));                                                                  \
    } while (0)

TEST(utf8_ascii) {
    CHECK(util_utf8_valid((const uint8_t *)"", 0, NULL));
    CHECK_VALID('h', 'e', 'l', 'l', 'o');
    CHECK_VALID(0x00, 0x7f); /* NUL is a code point like any other */
    CHECK_VALID(0x01, 0x20, 0x7e);
}

TEST(utf8_multibyte_boundaries) {
    CHECK_VALID(0xc2, 0x80);             /* U+0080 */
    CHECK_VALID(0xc3, 0xa9);             /* U+00E9 */
    CHECK_VALID(0xdf, 0xbf);             /* U+07FF */
    CHECK_VALID(0xe0, 0xa0, 0x80);       /* U+0800 */
    CHECK_VALID(0xe2, 0x82, 0xac);       /* U+20AC */
    CHECK_VALID(0xed, 0x9f, 0xbf);       /* U+D7FF, just below the surrogates */
    CHECK_VALID(0xee, 0x80, 0x80);       /* U+E000, just above them */
    CHECK_VALID(0xef, 0xbf, 0xbf);       /* U+FFFF */
    CHECK_VALID(0xf0, 0x90, 0x80, 0x80); /* U+10000 */
    CHECK_VALID(0xf0, 0x9f, 0x98, 0x80); /* U+1F600 */
    CHECK_VALID(0xf4, 0x8f, 0xbf, 0xbf); /* U+10FFFF */
    CHECK_VALID('a', 0xc3, 0xa9, 'b', 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 'z');
}

TEST(utf8_overlong_forms) {
    CHECK_INVALID_AT(0, 0xc0, 0x80);             /* U+0000 in two bytes */
    CHECK_INVALID_AT(0, 0xc1, 0xbf);             /* U+007F in two bytes */
    CHECK_INVALID_AT(0, 0xe0, 0x80, 0x80);       /* U+0000 in three */
    CHECK_INVALID_AT(0, 0xe0, 0x9f, 0xbf);       /* U+07FF in three */
    CHECK_INVALID_AT(0, 0xf0, 0x80, 0x80, 0x80); /* U+0000 in four */
    CHECK_INVALID_AT(0, 0xf0, 0x8f, 0xbf, 0xbf); /* U+FFFF in four */
    CHECK_INVALID_AT(2, 'o', 'k', 0xc0, 0xaf);   /* the classic overlong '/' */
}

TEST(utf8_surrogates) {
    CHECK_INVALID_AT(0, 0xed, 0xa0, 0x80);      /* U+D800 */
    CHECK_INVALID_AT(0, 0xed, 0xaf, 0xbf);      /* U+DBFF */
    CHECK_INVALID_AT(0, 0xed, 0xb0, 0x80);      /* U+DC00 */
    CHECK_INVALID_AT(1, 'x', 0xed, 0xbf, 0xbf); /* U+DFFF */
    /* a CESU-8 pair for U+10000 is two surrogates, not a code point */
    CHECK_INVALID_AT(0, 0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80);
}

TEST(utf8_beyond_u10ffff) {
    CHECK_INVALID_AT(0, 0xf4, 0x90, 0x80, 0x80);       /* U+110000 */
    CHECK_INVALID_AT(0, 0xf5, 0x80, 0x80, 0x80);       /* lead byte F5 never appears */
    CHECK_INVALID_AT(0, 0xf7, 0xbf, 0xbf, 0xbf);       /* U+1FFFFF */
    CHECK_INVALID_AT(0, 0xf8, 0x88, 0x80, 0x80, 0x80); /* old five-byte form */
    CHECK_INVALID_AT(0, 0xfc, 0x84, 0x80, 0x80, 0x80, 0x80);
    CHECK_INVALID_AT(0, 0xfe);
    CHECK_INVALID_AT(3, 'a', 'b', 'c', 0xff);
}

TEST(utf8_truncated_sequences) {
    CHECK_INVALID_AT(0, 0xc3);
    CHECK_INVALID_AT(0, 0xe2, 0x82);
    CHECK_INVALID_AT(0, 0xf0, 0x9f, 0x98);
    CHECK_INVALID_AT(1, 'a', 0xf0);
    /* cut short by a following ASCII byte rather than the end */
    CHECK_INVALID_AT(0, 0xc3, 'a');
    CHECK_INVALID_AT(2, 'a', 'b', 0xe2, 0x82, 'c');
    CHECK_INVALID_AT(0, 0xf0, 0x9f, 0x98, 'd');
    /* cut short by another lead byte */
    CHECK_INVALID_AT(0, 0xe2, 0xc3, 0xa9);
}

TEST(utf8_stray_continuation_bytes) {
    CHECK_INVALID_AT(0, 0x80);
    CHECK_INVALID_AT(0, 0xbf, 'a');
    CHECK_INVALID_AT(3, 'a', 'b', 'c', 0x80);
    /* one continuation byte too many after a complete sequence */
    CHECK_INVALID_AT(2, 0xc3, 0xa9, 0xa9);
    CHECK_INVALID_AT(4, 0xf0, 0x9f, 0x98, 0x80, 0x80);
}

TEST(utf8_bad_at_is_optional) {
    CHECK(!util_utf8_valid((const uint8_t[]){0xc0, 0x80}, 2, NULL));
    CHECK(util_utf8_valid((const uint8_t[]){0xc3, 0xa9}, 2, NULL));
}

TEST(utf8_length_bounds_the_scan) {
    /* a valid prefix of an invalid buffer is valid */
    const uint8_t s[] = {'a', 0xc3, 0xa9, 0xff};
    CHECK(util_utf8_valid(s, 3, NULL));
    size_t bad = 0;
    CHECK(!util_utf8_valid(s, 2, &bad)); /* ends inside U+00E9 */
    CHECK_EQ_U64(bad, 1);
}

TEST(utf8_every_code_point_round_trips) {
    /* encode every scalar value and check it is accepted, and that each
     * surrogate in the same shape is rejected */
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        uint8_t b[4];
        size_t n;
        if (cp < 0x80) {
            b[0] = (uint8_t)cp, n = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xc0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xe0 | cp >> 12), b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | cp >> 18), b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), b[3] = (uint8_t)(0x80 | (cp & 0x3f));
            n = 4;
        }
        bool want = cp < 0xd800 || cp > 0xdfff;
        if (util_utf8_valid(b, n, NULL) != want) {
            unit_fail(__FILE__, __LINE__, "U+%04X: expected %s, got the opposite", (unsigned)cp,
                      want ? "valid" : "invalid");
            break;
        }
    }
}
