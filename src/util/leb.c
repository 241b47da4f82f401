/*
 * leb.c - LEB128 readers bounded exactly as the WebAssembly binary format
 * bounds them: an N-bit number takes at most ceil(N/7) bytes, and in the
 * last byte the bits beyond N must be zero (unsigned) or copies of the sign
 * bit (signed). Overlong or over-wide encodings are errors, never silently
 * truncated.
 */
#include "util/util.h"

/* Reads an unsigned LEB of at most `bits` bits. */
static util_leb_status read_unsigned(const uint8_t **pp, const uint8_t *end, unsigned bits,
                                     uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned max_bytes = (bits + 6) / 7;
    for (unsigned i = 0;; i++) {
        if (p >= end) {
            *pp = p;
            return UTIL_LEB_EOF;
        }
        uint8_t b = *p++;
        if (i == max_bytes - 1) {
            /* last permitted byte: continuation bit set means too long;
             * payload bits above `bits` must be zero */
            unsigned used = bits - shift; /* 1..7 */
            if (b & 0x80) {
                *pp = p - 1;
                return UTIL_LEB_TOO_LONG;
            }
            if (used < 7 && (b >> used) != 0) {
                *pp = p - 1;
                return UTIL_LEB_UNUSED;
            }
            result |= (uint64_t)b << shift;
            break;
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    *pp = p;
    *out = result;
    return UTIL_LEB_OK;
}

/* Reads a signed LEB of at most `bits` bits. */
static util_leb_status read_signed(const uint8_t **pp, const uint8_t *end, unsigned bits,
                                   int64_t *out) {
    const uint8_t *p = *pp;
    uint64_t result = 0;
    unsigned shift = 0;
    unsigned max_bytes = (bits + 6) / 7;
    uint8_t b;
    for (unsigned i = 0;; i++) {
        if (p >= end) {
            *pp = p;
            return UTIL_LEB_EOF;
        }
        b = *p++;
        if (i == max_bytes - 1) {
            unsigned used = bits - shift; /* payload bits that matter, 1..7 */
            if (b & 0x80) {
                *pp = p - 1;
                return UTIL_LEB_TOO_LONG;
            }
            /* bits [used-1 .. 6] must all equal the sign bit */
            uint8_t rest = (uint8_t)((b & 0x7f) >> (used - 1));
            uint8_t all = (uint8_t)(0x7f >> (used - 1));
            if (rest != 0 && rest != all) {
                *pp = p - 1;
                return UTIL_LEB_UNUSED;
            }
            result |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            break;
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) break;
    }
    if (shift < 64 && (b & 0x40)) result |= ~(uint64_t)0 << shift;
    *pp = p;
    *out = (int64_t)result;
    return UTIL_LEB_OK;
}

util_leb_status util_leb_u32(const uint8_t **p, const uint8_t *end, uint32_t *out) {
    uint64_t v = 0;
    util_leb_status s = read_unsigned(p, end, 32, &v);
    if (s == UTIL_LEB_OK) *out = (uint32_t)v;
    return s;
}

util_leb_status util_leb_u64(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    return read_unsigned(p, end, 64, out);
}

util_leb_status util_leb_s32(const uint8_t **p, const uint8_t *end, int32_t *out) {
    int64_t v = 0;
    util_leb_status s = read_signed(p, end, 32, &v);
    if (s == UTIL_LEB_OK) *out = (int32_t)v;
    return s;
}

util_leb_status util_leb_s33(const uint8_t **p, const uint8_t *end, int64_t *out) {
    return read_signed(p, end, 33, out);
}

util_leb_status util_leb_s64(const uint8_t **p, const uint8_t *end, int64_t *out) {
    return read_signed(p, end, 64, out);
}

const char *util_leb_strerror(util_leb_status s) {
    switch (s) {
    case UTIL_LEB_OK: return "ok";
    case UTIL_LEB_EOF: return "unexpected end of input inside an integer";
    case UTIL_LEB_TOO_LONG: return "integer representation too long";
    case UTIL_LEB_UNUSED: return "integer too large";
    }
    return "bad integer";
}

size_t util_leb_put_u64(uint8_t *buf, uint64_t v) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (v) b |= 0x80;
        buf[n++] = b;
    } while (v);
    return n;
}

size_t util_leb_put_s64(uint8_t *buf, int64_t v) {
    size_t n = 0;
    for (;;) {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7; /* arithmetic shift on every compiler we build with */
        bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
        if (!done) b |= 0x80;
        buf[n++] = b;
        if (done) return n;
    }
}
