/*
 * reader.c - the byte cursor every decoding step goes through. Each read is
 * bounds-checked against the end of the current section or body, and each
 * failure records the absolute byte offset and a reason in the caller's
 * wasm_error, worded after the spec's own messages where it has one.
 */
#include <stdio.h>

#include "wasm/internal.h"

bool wasm_fail_at(wasm_reader *r, const uint8_t *at, wasm_errkind kind, const char *fmt, ...) {
    wasm_error *e = r->err;
    if (e && e->kind == WASM_OK) {
        e->kind = kind;
        e->offset = (size_t)(at - r->base);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool wasm_read_u8(wasm_reader *r, uint8_t *out) {
    if (r->p >= r->end) return wasm_malformed(r, "unexpected end of section or function");
    *out = *r->p++;
    return true;
}

static bool leb_fail(wasm_reader *r, util_leb_status s) {
    if (s == UTIL_LEB_EOF) return wasm_malformed(r, "unexpected end of section or function");
    return wasm_malformed(r, "%s", util_leb_strerror(s));
}

bool wasm_read_u32(wasm_reader *r, uint32_t *out) {
    util_leb_status s = util_leb_u32(&r->p, r->end, out);
    return s == UTIL_LEB_OK || leb_fail(r, s);
}

bool wasm_read_s32(wasm_reader *r, int32_t *out) {
    util_leb_status s = util_leb_s32(&r->p, r->end, out);
    return s == UTIL_LEB_OK || leb_fail(r, s);
}

bool wasm_read_s33(wasm_reader *r, int64_t *out) {
    util_leb_status s = util_leb_s33(&r->p, r->end, out);
    return s == UTIL_LEB_OK || leb_fail(r, s);
}

bool wasm_read_s64(wasm_reader *r, int64_t *out) {
    util_leb_status s = util_leb_s64(&r->p, r->end, out);
    return s == UTIL_LEB_OK || leb_fail(r, s);
}

bool wasm_read_bytes(wasm_reader *r, size_t n, const uint8_t **out) {
    if ((size_t)(r->end - r->p) < n)
        return wasm_malformed(r, "unexpected end: %zu bytes needed, %zu left", n,
                              (size_t)(r->end - r->p));
    *out = r->p;
    r->p += n;
    return true;
}

bool wasm_read_valtype(wasm_reader *r, wasm_valtype *out) {
    uint8_t b = 0;
    if (!wasm_read_u8(r, &b)) return false;
    switch (b) {
    case WASM_I32:
    case WASM_I64:
    case WASM_F32:
    case WASM_F64:
    case WASM_V128:
    case WASM_FUNCREF:
    case WASM_EXTERNREF: *out = b; return true;
    }
    r->p--;
    return wasm_malformed(r, "malformed value type 0x%02x", b);
}

bool wasm_read_reftype(wasm_reader *r, wasm_valtype *out) {
    uint8_t b = 0;
    if (!wasm_read_u8(r, &b)) return false;
    if (b == WASM_FUNCREF || b == WASM_EXTERNREF) {
        *out = b;
        return true;
    }
    r->p--;
    return wasm_malformed(r, "malformed reference type 0x%02x", b);
}
