/*
 * wasp_filter.h - the guest side of `wasp pipe`'s filter interface, for C
 * (header only). docs/design/pipe.md describes the interface.
 *
 * A filter is a WebAssembly reactor. `wasp pipe` hands it records by the
 * batch: it copies a batch into the filter's memory once and calls
 * `wasp_filter` once; the filter emits zero or more records per input
 * through `wasp_emit*`. Include this header in exactly one file of the
 * module: it defines the export `wasp_filter_buffer`, which gives the host
 * room for each batch. Then define the filter with one of the macros:
 *
 *   #include "wasp_filter.h"
 *
 *   static int keep(const wasp_record *r) {          // a filter
 *       return wasp_record_len(r) > 0;
 *   }
 *   WASP_FILTER(keep)
 *
 *   static int upper(const wasp_record *r) {          // a map, a flat map
 *       ...build the output in a buffer...
 *       return wasp_emit(buf, len);                   // once, or any number
 *   }
 *   WASP_FLAT_MAP(upper)
 *
 * A function given to WASP_FLAT_MAP returns 0, or non-zero to fail the
 * record: the host then runs the batch's records one by one, and each that
 * fails again goes to the dead-letter sink with the error. A trap does the
 * same.
 *
 * Every batch runs in a clean instance, reset to its state after
 * `_initialize` and the optional `wasp_filter_init` export: nothing in
 * memory survives from one batch to the next, so nothing leaks, and state
 * that must last (an aggregate) lives in a kv store (wasp.h).
 *
 * Build it as a reactor, like a handler:
 *
 *   clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Isdk/c -c -o f.o f.c
 *   clang-14 --target=wasm32-wasi --sysroot=/usr -O0 -mexec-model=reactor \
 *            -Wl,--strip-debug -o f.wasm f.o
 */
#ifndef WASP_FILTER_H
#define WASP_FILTER_H

#include <stdlib.h>

#include "wasp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A record of the batch, as the host lays it out (24 bytes). */
typedef struct wasp_record {
    uint32_t value, value_len; /* the record's bytes: a guest address, a length */
    uint32_t key, key_len;     /* key_len WASP_NO_KEY: the record has no key */
    int64_t ts_ms;             /* WASP_NO_TS: no timestamp */
} wasp_record;

#define WASP_NO_KEY 0xffffffffu
#define WASP_NO_TS INT64_MIN

static inline const char *wasp_record_data(const wasp_record *r) {
    return (const char *)(uintptr_t)r->value;
}
static inline size_t wasp_record_len(const wasp_record *r) {
    return r->value_len;
}

/* Appends one output record: 0, or -1 past the batch's output limit (16x
 * its input; the host then fails the batch if the filter goes on). */
WASP_IMPORT("emit")
int32_t wasp_emit_full(const void *value, size_t value_len, const void *key, uint32_t key_len,
                       int64_t ts_ms);

static inline int32_t wasp_emit(const void *value, size_t len) {
    return wasp_emit_full(value, len, 0, WASP_NO_KEY, WASP_NO_TS);
}
/* The record as it came, key and timestamp included. */
static inline int32_t wasp_emit_record(const wasp_record *r) {
    return wasp_emit_full((const void *)(uintptr_t)r->value, r->value_len,
                          (const void *)(uintptr_t)r->key, r->key_len, r->ts_ms);
}

/* Room for the host's batch: the same area again when it is large enough.
 * Returns 0 when memory is short (the host then fails the batch). */
__attribute__((export_name("wasp_filter_buffer"))) void *wasp_filter_buffer(uint32_t size) {
    static void *buf;
    static uint32_t cap;
    if (size > cap) {
        free(buf);
        buf = malloc(size);
        cap = buf ? size : 0;
    }
    return buf;
}

/* wasp_filter for `keep`: a record goes on, unchanged, when keep(r) is
 * non-zero. */
#define WASP_FILTER(keep)                                                                          \
    __attribute__((export_name("wasp_filter"))) int32_t wasp_filter(const wasp_record *recs,       \
                                                                    uint32_t n) {                  \
        for (uint32_t i = 0; i < n; i++)                                                           \
            if ((keep)(&recs[i]) && wasp_emit_record(&recs[i]) < 0) return 1;                      \
        return 0;                                                                                  \
    }

/* wasp_filter for `fn`, which emits what it wants for each record and
 * returns 0, or non-zero when the record fails. */
#define WASP_FLAT_MAP(fn)                                                                          \
    __attribute__((export_name("wasp_filter"))) int32_t wasp_filter(const wasp_record *recs,       \
                                                                    uint32_t n) {                  \
        for (uint32_t i = 0; i < n; i++)                                                           \
            if ((fn)(&recs[i]) != 0) return 1;                                                     \
        return 0;                                                                                  \
    }

/* ---- reading records ------------------------------------------------------ */

/*
 * Finds the value of member `name` of the JSON object in s[0..len) without
 * parsing the rest: *val and *vlen get the value's text (a string with its
 * quotes, a number, an object...). Only the outer object's members are
 * looked at. 0 when found, -1 when not (or when s is not an object).
 */
static inline int wasp__json_skip(const char *s, size_t len, size_t *i) {
    /* past one value starting at s[*i]: a string, or anything up to the
     * next ',' or '}' at depth 0 */
    int depth = 0;
    while (*i < len) {
        char c = s[*i];
        if (c == '"') {
            for ((*i)++; *i < len && s[*i] != '"'; (*i)++)
                if (s[*i] == '\\') (*i)++;
            if (*i >= len) return -1;
            (*i)++;
            if (depth == 0) return 0;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') {
            if (depth == 0) return 0;
            depth--;
        }
        if (c == ',' && depth == 0) return 0;
        (*i)++;
    }
    return depth == 0 ? 0 : -1;
}

static inline int wasp_json_field(const char *s, size_t len, const char *name, const char **val,
                                  size_t *vlen) {
    size_t i = 0, nlen = __builtin_strlen(name);
    while (i < len && s[i] != '{')
        i++;
    if (i == len) return -1;
    i++;
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ',' || s[i] == '\n'))
            i++;
        if (i >= len || s[i] != '"') return -1;
        size_t k = ++i;
        while (i < len && s[i] != '"')
            i += s[i] == '\\' ? 2 : 1;
        if (i >= len) return -1;
        int match = i - k == nlen && __builtin_memcmp(s + k, name, nlen) == 0;
        i++;
        while (i < len && (s[i] == ' ' || s[i] == ':'))
            i++;
        size_t start = i;
        if (wasp__json_skip(s, len, &i) < 0) return -1;
        if (match) {
            size_t end = i;
            while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
                end--;
            *val = s + start;
            *vlen = end - start;
            return 0;
        }
        if (i >= len || s[i] == '}') return -1;
    }
}

/* The value of member `name` as an integer (a JSON number, or a string
 * holding one); `dflt` when absent or not a number. */
static inline long long wasp_json_int(const char *s, size_t len, const char *name, long long dflt) {
    const char *v;
    size_t n;
    if (wasp_json_field(s, len, name, &v, &n) < 0) return dflt;
    if (n >= 2 && *v == '"') v++, n -= 2;
    long long x = 0;
    int neg = n && *v == '-';
    size_t i = (size_t)neg, first = i;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        x = x * 10 + (v[i] - '0');
    return i == first ? dflt : neg ? -x : x;
}

/*
 * Field `index` (0 first) of the CSV line s[0..len): *val and *vlen get
 * its text, without the quotes when it is quoted (a doubled quote inside
 * stays doubled: wasp_csv_unquote copies it out undoubled). 0 when found,
 * -1 when the line has fewer fields.
 */
static inline int wasp_csv_field(const char *s, size_t len, unsigned index, const char **val,
                                 size_t *vlen) {
    size_t i = 0;
    for (unsigned f = 0;; f++) {
        size_t start = i, end;
        int quoted = i < len && s[i] == '"';
        if (quoted) {
            start = ++i;
            while (i < len && !(s[i] == '"' && (i + 1 >= len || s[i + 1] != '"')))
                i += s[i] == '"' ? 2 : 1;
            end = i < len ? i : len;
            if (i < len) i++; /* the closing quote */
            while (i < len && s[i] != ',')
                i++;
        } else {
            while (i < len && s[i] != ',')
                i++;
            end = i;
        }
        if (f == index) {
            *val = s + start;
            *vlen = end > start && s[end - 1] == '\r' && !quoted ? end - start - 1 : end - start;
            return 0;
        }
        if (i >= len) return -1;
        i++; /* the comma */
    }
}

/* The index of the column named `name` in a CSV header line; -1 if none. */
static inline int wasp_csv_index(const char *header, size_t len, const char *name) {
    size_t nlen = __builtin_strlen(name);
    const char *v;
    size_t vlen;
    for (unsigned i = 0; wasp_csv_field(header, len, i, &v, &vlen) == 0; i++)
        if (vlen == nlen && __builtin_memcmp(v, name, nlen) == 0) return (int)i;
    return -1;
}

/* Copies a field from wasp_csv_field into out (cap bytes), doubled quotes
 * made single; returns the length, or -1 when it does not fit. */
static inline int wasp_csv_unquote(const char *v, size_t vlen, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < vlen; i++) {
        if (o >= cap) return -1;
        out[o++] = v[i];
        if (v[i] == '"' && i + 1 < vlen && v[i + 1] == '"') i++;
    }
    return (int)o;
}

#ifdef __cplusplus
}
#endif

#endif /* WASP_FILTER_H */
