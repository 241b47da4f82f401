/*
 * test_decode.c - the engine's decoder and validator through wasm.h only.
 *
 * Modules are written byte by byte as the binary format spells them
 * (https://webassembly.github.io/spec/core/binary/), with a small builder
 * that computes section and body sizes, so each test reads like the
 * `(module binary ...)` cases of the spec testsuite. Three kinds of test:
 *
 *   decode_*      one section at a time: the fields of wasm_module it fills
 *   malformed_*   bytes that are not a module: WASM_ERR_MALFORMED, with an
 *                 offset inside the construct at fault
 *   invalid_*     well-formed modules that fail validation: WASM_ERR_INVALID
 *
 * plus robustness sweeps over a module that uses every section: every
 * truncation and many one-byte mutations must give an error value, never a
 * crash (run build/asan/unit_tests to make "never a crash" strict).
 *
 * Every module is handed over in an exact-size heap buffer that is poisoned
 * and freed right after the call: the engine promises to keep its own copy,
 * so nothing it returns may point into the caller's bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "util/util.h"
#include "wasm/wasm.h"

/* ---- the module builder ----------------------------------------------- */

typedef struct wbuf {
    uint8_t b[4096];
    size_t n;
} wbuf;

static void put(wbuf *w, const uint8_t *p, size_t n) {
    if (n > sizeof w->b - w->n) {
        unit_fail(__FILE__, __LINE__, "test module exceeds %zu bytes", sizeof w->b);
        return;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_u8(wbuf *w, uint8_t v) {
    put(w, &v, 1);
}

static void put_leb(wbuf *w, uint64_t v) {
    uint8_t t[10];
    put(w, t, util_leb_put_u64(t, v));
}

/* A name: its length, then its bytes. */
static void put_name(wbuf *w, const char *s) {
    put_leb(w, strlen(s));
    put(w, (const uint8_t *)s, strlen(s));
}

/* A length-prefixed blob (a function body, a subsection). */
static void put_sized(wbuf *w, const uint8_t *p, size_t n) {
    put_leb(w, n);
    put(w, p, n);
}

/* A section: id, size, payload. Returns the offset of the payload. */
static size_t put_section(wbuf *m, uint8_t id, const uint8_t *p, size_t n) {
    put_u8(m, id);
    put_leb(m, n);
    size_t at = m->n;
    put(m, p, n);
    return at;
}

#define RAW(w, ...) put((w), BYTES(__VA_ARGS__))
#define SECTION(m, id, ...) put_section((m), (id), BYTES(__VA_ARGS__))
#define BODY(w, ...) put_sized((w), BYTES(__VA_ARGS__))

/* The eight-byte preamble: magic and version 1. */
static void mod_begin(wbuf *m) {
    m->n = 0;
    RAW(m, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
}

enum {
    SEC_CUSTOM = 0,
    SEC_TYPE = 1,
    SEC_IMPORT = 2,
    SEC_FUNCTION = 3,
    SEC_TABLE = 4,
    SEC_MEMORY = 5,
    SEC_GLOBAL = 6,
    SEC_EXPORT = 7,
    SEC_START = 8,
    SEC_ELEMENT = 9,
    SEC_CODE = 10,
    SEC_DATA = 11,
    SEC_DATACOUNT = 12,
};

/* Opcodes and type bytes the tests spell out. */
enum {
    OP_UNREACHABLE = 0x00,
    OP_NOP = 0x01,
    OP_BLOCK = 0x02,
    OP_END = 0x0b,
    OP_BR = 0x0c,
    OP_CALL = 0x10,
    OP_RETURN_CALL = 0x12,
    OP_DROP = 0x1a,
    OP_LOCAL_GET = 0x20,
    OP_GLOBAL_GET = 0x23,
    OP_GLOBAL_SET = 0x24,
    OP_MEMORY_SIZE = 0x3f,
    OP_I32_CONST = 0x41,
    OP_I64_CONST = 0x42,
    OP_I32_ADD = 0x6a,
    OP_REF_NULL = 0xd0,
    OP_REF_FUNC = 0xd2,
    OP_PREFIX_FC = 0xfc,
    FC_MEMORY_INIT = 0x08,
    FC_DATA_DROP = 0x09,
    T_I32 = 0x7f,
    T_I64 = 0x7e,
    T_F32 = 0x7d,
    T_F64 = 0x7c,
    T_V128 = 0x7b,
    T_FUNCREF = 0x70,
    T_EXTERNREF = 0x6f,
    T_FUNC = 0x60,
};

/* ---- running the engine ------------------------------------------------ */

typedef enum { STAGE_DECODE, STAGE_LOAD } stage;

static wasm_module *run(stage s, const wbuf *w, wasm_error *err) {
    memset(err, 0, sizeof *err);
    uint8_t *copy = malloc(w->n ? w->n : 1);
    if (!copy) {
        unit_fail(__FILE__, __LINE__, "out of memory copying a %zu-byte module", w->n);
        return NULL;
    }
    if (w->n) memcpy(copy, w->b, w->n);
    wasm_module *m =
        s == STAGE_DECODE ? wasm_module_decode(copy, w->n, err) : wasm_module_load(copy, w->n, err);
    memset(copy, 0xee, w->n ? w->n : 1);
    free(copy);
    return m;
}

/* Decodes and validates, reporting each failure; returns the decoded module
 * even when validation failed, so field checks can still run. */
static wasm_module *decode_ok(const char *file, int line, const wbuf *w) {
    wasm_error err;
    wasm_module *m = run(STAGE_DECODE, w, &err);
    if (!m) {
        unit_fail(file, line, "decode: expected a module, got a %s error at offset %zu: %s",
                  wasm_errkind_name(err.kind), err.offset, err.msg);
        return NULL;
    }
    if (m->size != w->n || m->bytes == NULL || memcmp(m->bytes, w->b, w->n) != 0)
        unit_fail(file, line, "module bytes: expected a copy of the %zu input bytes", w->n);
    memset(&err, 0, sizeof err);
    if (!wasm_module_validate(m, &err))
        unit_fail(file, line, "validate: expected a valid module, got a %s error at offset %zu: %s",
                  wasm_errkind_name(err.kind), err.offset, err.msg);
    else if (!m->validated)
        unit_fail(file, line, "validate succeeded but m->validated is false");
    return m;
}
#define DECODE_OK(w) decode_ok(__FILE__, __LINE__, (w))

/* Expects stage `s` to fail with `kind` at an offset in [lo, hi]. */
static bool expect_fail(const char *file, int line, stage s, const wbuf *w, wasm_errkind kind,
                        size_t lo, size_t hi) {
    wasm_error err;
    wasm_module *m = run(s, w, &err);
    if (m) {
        wasm_module_free(m);
        return unit_fail(file, line, "expected a %s error at offset %zu..%zu, got a module",
                         wasm_errkind_name(kind), lo, hi);
    }
    bool ok = true;
    if (err.kind != kind)
        ok = unit_fail(file, line, "expected a %s error, got %s at offset %zu: %s",
                       wasm_errkind_name(kind), wasm_errkind_name(err.kind), err.offset, err.msg);
    else if (err.offset < lo || err.offset > hi)
        ok = unit_fail(file, line, "%s error at offset %zu, expected an offset in %zu..%zu: %s",
                       wasm_errkind_name(kind), err.offset, lo, hi, err.msg);
    if (err.msg[0] == '\0' || memchr(err.msg, '\0', sizeof err.msg) == NULL)
        ok = unit_fail(file, line, "the error message is empty or not NUL-terminated");
    return ok;
}
#define EXPECT_MALFORMED(w, lo, hi)                                                                \
    expect_fail(__FILE__, __LINE__, STAGE_DECODE, (w), WASM_ERR_MALFORMED, (lo), (hi))
#define EXPECT_LOAD_MALFORMED(w, lo, hi)                                                           \
    expect_fail(__FILE__, __LINE__, STAGE_LOAD, (w), WASM_ERR_MALFORMED, (lo), (hi))
#define EXPECT_INVALID(w, lo, hi)                                                                  \
    expect_fail(__FILE__, __LINE__, STAGE_LOAD, (w), WASM_ERR_INVALID, (lo), (hi))

static bool name_is(wasm_name n, const char *s) {
    return n.len == strlen(s) && n.str && memcmp(n.str, s, n.len) == 0 && n.str[n.len] == '\0';
}
#define CHECK_NAME(n, s)                                                                           \
    ((name_is((n), (s)))                                                                           \
         ? true                                                                                    \
         : unit_fail(__FILE__, __LINE__, "%s: expected \"%s\", got \"%.*s\" (len %u)", #n, (s),    \
                     (int)(n).len, (n).str ? (n).str : "", (unsigned)(n).len))

/* A constant expression's bytes, e.g. CHECK_EXPR(g.init, OP_I32_CONST, 42, OP_END). */
#define CHECK_EXPR(ce, ...)                                                                        \
    do {                                                                                           \
        static const uint8_t want_[] = {__VA_ARGS__};                                              \
        if (CHECK_EQ_U64((ce).len, sizeof want_)) CHECK_MEM((ce).code, want_, sizeof want_);       \
    } while (0)

/* ---- modules that decode --------------------------------------------- */

TEST(decode_empty_module) {
    wbuf w;
    mod_begin(&w);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    CHECK_EQ_U64(m->size, 8);
    CHECK_EQ_U64(m->ntypes + m->nimports + m->nfuncs + m->ntables + m->nmemories + m->nglobals +
                     m->nexports + m->nelems + m->ndatas + m->ncustoms,
                 0);
    CHECK(!m->has_start);
    CHECK(!m->has_data_count);
    CHECK_EQ_U64(m->module_name.len, 0);
    CHECK_EQ_PTR(wasm_module_find_export(m, "main"), NULL);
    wasm_module_free(m);
    wasm_module_free(NULL);
}

TEST(decode_type_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 4,                               /* four types */
            T_FUNC, 0, 0,                                  /* [] -> [] */
            T_FUNC, 2, T_I32, T_I64, 1, T_F32,             /* [i32 i64] -> [f32] */
            T_FUNC, 1, T_F64, 2, T_I32, T_I64,             /* multi-value */
            T_FUNC, 2, T_FUNCREF, T_EXTERNREF, 1, T_V128); /* references, v128 */
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->ntypes, 4));
    CHECK_EQ_U64(m->types[0].nparams, 0);
    CHECK_EQ_U64(m->types[0].nresults, 0);
    const wasm_functype *t = &m->types[1];
    REQUIRE(CHECK_EQ_U64(t->nparams, 2) && CHECK_EQ_U64(t->nresults, 1));
    CHECK_EQ_U64(t->params[0], WASM_I32);
    CHECK_EQ_U64(t->params[1], WASM_I64);
    CHECK_EQ_U64(t->results[0], WASM_F32);
    t = &m->types[2];
    REQUIRE(CHECK_EQ_U64(t->nparams, 1) && CHECK_EQ_U64(t->nresults, 2));
    CHECK_EQ_U64(t->params[0], WASM_F64);
    CHECK_EQ_U64(t->results[0], WASM_I32);
    CHECK_EQ_U64(t->results[1], WASM_I64);
    t = &m->types[3];
    REQUIRE(CHECK_EQ_U64(t->nparams, 2) && CHECK_EQ_U64(t->nresults, 1));
    CHECK_EQ_U64(t->params[0], WASM_FUNCREF);
    CHECK_EQ_U64(t->params[1], WASM_EXTERNREF);
    CHECK_EQ_U64(t->results[0], WASM_V128);
    CHECK_STR(wasm_valtype_name(t->params[1]), "externref");
    wasm_module_free(m);
}

TEST(decode_import_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 1, T_I32, 0);
    SECTION(&w, SEC_IMPORT, 4,                                      /* four imports */
            3, 'e', 'n', 'v', 1, 'f', 0x00, 0,                      /* func type 0 */
            3, 'e', 'n', 'v', 1, 't', 0x01, T_FUNCREF, 0x01, 1, 10, /* table 1..10 */
            0, 3, 'm', 'e', 'm', 0x02, 0x00, 1,                     /* memory 1.. */
            3, 'e', 'n', 'v', 2, 0xc3, 0xa9, 0x03, T_I64, 1);       /* global mut i64 */
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nimports, 4));
    const wasm_import *im = m->imports;
    CHECK_NAME(im[0].module, "env");
    CHECK_NAME(im[0].name, "f");
    CHECK_EQ_U64(im[0].kind, WASM_EXTERN_FUNC);
    CHECK_EQ_U64(im[0].desc.func_type, 0);
    CHECK_EQ_U64(im[1].kind, WASM_EXTERN_TABLE);
    CHECK_EQ_U64(im[1].desc.table.elem, WASM_FUNCREF);
    CHECK_EQ_U64(im[1].desc.table.limits.min, 1);
    CHECK(im[1].desc.table.limits.has_max);
    CHECK_EQ_U64(im[1].desc.table.limits.max, 10);
    CHECK_NAME(im[2].module, "");
    CHECK_NAME(im[2].name, "mem");
    CHECK_EQ_U64(im[2].kind, WASM_EXTERN_MEMORY);
    CHECK_EQ_U64(im[2].desc.memory.limits.min, 1);
    CHECK(!im[2].desc.memory.limits.has_max);
    CHECK_NAME(im[3].name, "\xc3\xa9");
    CHECK_EQ_U64(im[3].kind, WASM_EXTERN_GLOBAL);
    CHECK_EQ_U64(im[3].desc.global.type, WASM_I64);
    CHECK(im[3].desc.global.mut);
    CHECK_STR(wasm_externkind_name(im[3].kind), "global");

    /* imports open each index space */
    REQUIRE(CHECK_EQ_U64(m->nfuncs, 1) && CHECK_EQ_U64(m->nfunc_imports, 1));
    CHECK(m->funcs[0].imported);
    CHECK_EQ_U64(m->funcs[0].type, 0);
    CHECK_EQ_U64(m->funcs[0].body_size, 0);
    REQUIRE(CHECK_EQ_U64(m->ntables, 1) && CHECK_EQ_U64(m->ntable_imports, 1));
    CHECK_EQ_U64(m->tables[0].limits.max, 10);
    REQUIRE(CHECK_EQ_U64(m->nmemories, 1) && CHECK_EQ_U64(m->nmemory_imports, 1));
    CHECK_EQ_U64(m->memories[0].limits.min, 1);
    REQUIRE(CHECK_EQ_U64(m->nglobals, 1) && CHECK_EQ_U64(m->nglobal_imports, 1));
    CHECK(m->globals[0].imported);
    CHECK(m->globals[0].type.mut);
    CHECK_EQ_U64(m->globals[0].init.len, 0);
    wasm_module_free(m);
}

TEST(decode_function_and_code_sections) {
    wbuf w, code = {.n = 0};
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 2, T_FUNC, 0, 0, T_FUNC, 1, T_I32, 1, T_I32);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'f', 0x00, 0);
    SECTION(&w, SEC_FUNCTION, 3, 1, 0, 1);
    put_u8(&code, 3);
    size_t body0 = code.n + 1; /* after the one-byte size */
    BODY(&code, 0, OP_LOCAL_GET, 0, OP_END);
    size_t body1 = code.n + 1;
    BODY(&code, 2, 2, T_I32, 1, T_I64, /* locals: i32 i32 i64 */
         OP_LOCAL_GET, 2, OP_DROP, OP_CALL, 0, OP_END);
    size_t body2 = code.n + 1;
    BODY(&code, 1, 3, T_F32, OP_LOCAL_GET, 0, OP_END); /* param + 3 f32 locals */
    size_t code_at = put_section(&w, SEC_CODE, code.b, code.n);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nfuncs, 4));
    CHECK_EQ_U64(m->nfunc_imports, 1);
    const wasm_func *f = m->funcs;
    CHECK(f[0].imported);
    CHECK(!f[1].imported && !f[2].imported && !f[3].imported);
    CHECK_EQ_U64(f[1].type, 1);
    CHECK_EQ_U64(f[2].type, 0);
    CHECK_EQ_U64(f[3].type, 1);
    CHECK_EQ_U64(f[1].body_offset, code_at + body0);
    CHECK_EQ_U64(f[1].body_size, 4);
    CHECK_EQ_U64(f[2].body_offset, code_at + body1);
    CHECK_EQ_U64(f[2].body_size, 11);
    CHECK_EQ_U64(f[3].body_offset, code_at + body2);
    CHECK_EQ_U64(f[3].body_size, 6);
    /* a body runs from its local declarations to its final `end` */
    CHECK_EQ_U64(m->bytes[f[2].body_offset], 2);
    CHECK_EQ_U64(m->bytes[f[2].body_offset + f[2].body_size - 1], OP_END);
    wasm_module_free(m);
}

TEST(decode_table_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 't', 0x01, T_EXTERNREF, 0x00, 0);
    SECTION(&w, SEC_TABLE, 2, T_FUNCREF, 0x00, 3, T_EXTERNREF, 0x01, 2, 0x80, 0x01);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->ntables, 3));
    CHECK_EQ_U64(m->ntable_imports, 1);
    CHECK_EQ_U64(m->tables[0].elem, WASM_EXTERNREF);
    CHECK_EQ_U64(m->tables[1].elem, WASM_FUNCREF);
    CHECK_EQ_U64(m->tables[1].limits.min, 3);
    CHECK(!m->tables[1].limits.has_max);
    CHECK_EQ_U64(m->tables[2].elem, WASM_EXTERNREF);
    CHECK_EQ_U64(m->tables[2].limits.min, 2);
    CHECK(m->tables[2].limits.has_max);
    CHECK_EQ_U64(m->tables[2].limits.max, 128);
    wasm_module_free(m);
}

TEST(decode_memory_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x01, 1, 0x80, 0x80, 0x04); /* 1..65536 pages */
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nmemories, 1));
    CHECK_EQ_U64(m->nmemory_imports, 0);
    CHECK_EQ_U64(m->memories[0].limits.min, 1);
    CHECK(m->memories[0].limits.has_max);
    CHECK_EQ_U64(m->memories[0].limits.max, 65536);
    wasm_module_free(m);

    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 0);
    m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nmemories, 1));
    CHECK_EQ_U64(m->memories[0].limits.min, 0);
    CHECK(!m->memories[0].limits.has_max);
    wasm_module_free(m);
}

TEST(decode_global_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'g', 0x03, T_I32, 0);
    size_t at = put_section(&w, SEC_GLOBAL,
                            BYTES(4,                                           /* four globals */
                                  T_I32, 0, OP_I32_CONST, 42, OP_END,          /* i32 42 */
                                  T_I64, 1, OP_I64_CONST, 0x7f, OP_END,        /* -1 */
                                  T_I32, 0, OP_GLOBAL_GET, 0, OP_I32_CONST, 1, /* extended */
                                  OP_I32_ADD, OP_END,                          /* const */
                                  T_FUNCREF, 0, OP_REF_NULL, T_FUNCREF, OP_END));
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nglobals, 5));
    CHECK_EQ_U64(m->nglobal_imports, 1);
    const wasm_global *g = m->globals;
    CHECK(g[0].imported);
    CHECK(!g[1].imported);
    CHECK_EQ_U64(g[1].type.type, WASM_I32);
    CHECK(!g[1].type.mut);
    CHECK_EXPR(g[1].init, OP_I32_CONST, 42, OP_END);
    CHECK_EQ_U64(g[1].init.offset, at + 3);
    CHECK_EQ_U64(g[2].type.type, WASM_I64);
    CHECK(g[2].type.mut);
    CHECK_EXPR(g[2].init, OP_I64_CONST, 0x7f, OP_END);
    CHECK_EQ_U64(g[2].init.offset, at + 8);
    CHECK_EXPR(g[3].init, OP_GLOBAL_GET, 0, OP_I32_CONST, 1, OP_I32_ADD, OP_END);
    CHECK_EQ_U64(g[4].type.type, WASM_FUNCREF);
    CHECK_EXPR(g[4].init, OP_REF_NULL, T_FUNCREF, OP_END);
    wasm_module_free(m);
}

TEST(decode_export_section) {
    wbuf w, code = {.n = 0};
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'f', 0x00, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_TABLE, 1, T_FUNCREF, 0x00, 1);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    SECTION(&w, SEC_GLOBAL, 1, T_I32, 0, OP_I32_CONST, 0, OP_END);
    SECTION(&w, SEC_EXPORT, 6,                        /* six exports */
            4, 'm', 'a', 'i', 'n', 0x00, 1,           /* the defined function */
            3, 'i', 'm', 'p', 0x00, 0,                /* re-export the import */
            3, 't', 'a', 'b', 0x01, 0,                /* table 0 */
            6, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0, /* memory 0 */
            1, 'g', 0x03, 0,                          /* global 0 */
            0, 0x00, 1);                              /* the empty name */
    RAW(&code, 1);
    BODY(&code, 0, OP_END);
    put_section(&w, SEC_CODE, code.b, code.n);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nexports, 6));
    CHECK_NAME(m->exports[0].name, "main");
    CHECK_EQ_U64(m->exports[0].kind, WASM_EXTERN_FUNC);
    CHECK_EQ_U64(m->exports[0].index, 1);
    CHECK_EQ_U64(m->exports[1].index, 0);
    CHECK_EQ_U64(m->exports[2].kind, WASM_EXTERN_TABLE);
    CHECK_EQ_U64(m->exports[3].kind, WASM_EXTERN_MEMORY);
    CHECK_NAME(m->exports[3].name, "memory");
    CHECK_EQ_U64(m->exports[4].kind, WASM_EXTERN_GLOBAL);
    CHECK_NAME(m->exports[5].name, "");
    CHECK_EQ_PTR(wasm_module_find_export(m, "main"), &m->exports[0]);
    CHECK_EQ_PTR(wasm_module_find_export(m, "memory"), &m->exports[3]);
    CHECK_EQ_PTR(wasm_module_find_export(m, ""), &m->exports[5]);
    CHECK_EQ_PTR(wasm_module_find_export(m, "mai"), NULL);
    CHECK_EQ_PTR(wasm_module_find_export(m, "mainx"), NULL);
    wasm_module_free(m);
}

TEST(decode_start_section) {
    wbuf w, code = {.n = 0};
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'f', 0x00, 0);
    SECTION(&w, SEC_FUNCTION, 2, 0, 0);
    SECTION(&w, SEC_START, 2);
    RAW(&code, 2);
    BODY(&code, 0, OP_END);
    BODY(&code, 0, OP_CALL, 0, OP_END);
    put_section(&w, SEC_CODE, code.b, code.n);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    CHECK(m->has_start);
    CHECK_EQ_U64(m->start, 2);
    wasm_module_free(m);
}

/* Types, two functions and two funcref tables, shared by the element tests. */
static void elem_prelude(wbuf *w) {
    mod_begin(w);
    SECTION(w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(w, SEC_FUNCTION, 2, 0, 0);
    SECTION(w, SEC_TABLE, 2, T_FUNCREF, 0x00, 10, T_FUNCREF, 0x00, 10);
}

static void elem_code(wbuf *w) {
    SECTION(w, SEC_CODE, 2, 2, 0, OP_END, 2, 0, OP_END);
}

TEST(decode_element_section_all_eight_encodings) {
    wbuf w;
    elem_prelude(&w);
    SECTION(
        &w, SEC_ELEMENT, 9,
        /* 0: active table 0, offset expr, function indices */
        0x00, OP_I32_CONST, 1, OP_END, 2, 0, 1,
        /* 1: passive, elemkind, function indices */
        0x01, 0x00, 1, 1,
        /* 2: active with a table index, elemkind, function indices */
        0x02, 1, OP_I32_CONST, 2, OP_END, 0x00, 1, 0,
        /* 3: declarative, elemkind, function indices */
        0x03, 0x00, 2, 0, 1,
        /* 4: active table 0, expressions */
        0x04, OP_I32_CONST, 3, OP_END, 2, OP_REF_FUNC, 0, OP_END, OP_REF_NULL, T_FUNCREF, OP_END,
        /* 5: passive, reftype, expressions */
        0x05, T_FUNCREF, 1, OP_REF_NULL, T_FUNCREF, OP_END,
        /* 6: active with a table index, reftype, expressions */
        0x06, 1, OP_I32_CONST, 4, OP_END, T_FUNCREF, 1, OP_REF_FUNC, 1, OP_END,
        /* 7: declarative, reftype, expressions */
        0x07, T_FUNCREF, 1, OP_REF_FUNC, 0, OP_END,
        /* 5 again with externref */
        0x05, T_EXTERNREF, 2, OP_REF_NULL, T_EXTERNREF, OP_END, OP_REF_NULL, T_EXTERNREF, OP_END);
    elem_code(&w);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nelems, 9));
    const wasm_elem *e = m->elems;
    static const wasm_segmode modes[9] = {
        WASM_SEG_ACTIVE,      WASM_SEG_PASSIVE,     WASM_SEG_ACTIVE,
        WASM_SEG_DECLARATIVE, WASM_SEG_ACTIVE,      WASM_SEG_PASSIVE,
        WASM_SEG_ACTIVE,      WASM_SEG_DECLARATIVE, WASM_SEG_PASSIVE,
    };
    static const uint32_t counts[9] = {2, 1, 1, 2, 2, 1, 1, 1, 2};
    for (int i = 0; i < 9; i++) {
        if (!CHECK_EQ_U64(e[i].mode, modes[i]) || !CHECK_EQ_U64(e[i].count, counts[i]))
            unit_fail(__FILE__, __LINE__, "  in element segment %d", i);
        /* flag bit 2 chooses expressions over function indices */
        bool exprs = i >= 4;
        if (!CHECK((e[i].funcs != NULL) != exprs) || !CHECK((e[i].exprs != NULL) == exprs))
            unit_fail(__FILE__, __LINE__, "  in element segment %d", i);
        if (!CHECK_EQ_U64(e[i].type, i == 8 ? WASM_EXTERNREF : WASM_FUNCREF))
            unit_fail(__FILE__, __LINE__, "  in element segment %d", i);
    }
    CHECK_EQ_U64(e[0].table, 0);
    CHECK_EXPR(e[0].offset, OP_I32_CONST, 1, OP_END);
    if (e[0].funcs) CHECK(e[0].funcs[0] == 0 && e[0].funcs[1] == 1);
    if (e[1].funcs) CHECK_EQ_U64(e[1].funcs[0], 1);
    CHECK_EQ_U64(e[2].table, 1);
    CHECK_EXPR(e[2].offset, OP_I32_CONST, 2, OP_END);
    if (e[2].funcs) CHECK_EQ_U64(e[2].funcs[0], 0);
    CHECK_EQ_U64(e[4].table, 0);
    CHECK_EXPR(e[4].offset, OP_I32_CONST, 3, OP_END);
    if (e[4].exprs) {
        CHECK_EXPR(e[4].exprs[0], OP_REF_FUNC, 0, OP_END);
        CHECK_EXPR(e[4].exprs[1], OP_REF_NULL, T_FUNCREF, OP_END);
    }
    CHECK_EQ_U64(e[6].table, 1);
    CHECK_EXPR(e[6].offset, OP_I32_CONST, 4, OP_END);
    if (e[6].exprs) CHECK_EXPR(e[6].exprs[0], OP_REF_FUNC, 1, OP_END);
    if (e[8].exprs) CHECK_EXPR(e[8].exprs[1], OP_REF_NULL, T_EXTERNREF, OP_END);
    wasm_module_free(m);
}

TEST(decode_element_section_empty_segment) {
    wbuf w;
    elem_prelude(&w);
    SECTION(&w, SEC_ELEMENT, 2, 0x00, OP_I32_CONST, 0, OP_END, 0, 0x05, T_FUNCREF, 0);
    elem_code(&w);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nelems, 2));
    CHECK_EQ_U64(m->elems[0].count, 0);
    CHECK_EQ_U64(m->elems[1].count, 0);
    CHECK_EQ_U64(m->elems[1].mode, WASM_SEG_PASSIVE);
    wasm_module_free(m);
}

TEST(decode_data_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    size_t at = SECTION(&w, SEC_DATA, 3,                             /* three segments */
                        0x00, OP_I32_CONST, 16, OP_END, 2, 'h', 'i', /* active, memory 0 */
                        0x01, 3, 'x', 'y', 'z',                      /* passive */
                        0x02, 0, OP_I32_CONST, 0, OP_END, 0);        /* memory index, empty */
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->ndatas, 3));
    const wasm_data *d = m->datas;
    CHECK_EQ_U64(d[0].mode, WASM_SEG_ACTIVE);
    CHECK_EQ_U64(d[0].memory, 0);
    CHECK_EXPR(d[0].offset, OP_I32_CONST, 16, OP_END);
    CHECK_EQ_U64(d[0].offset.offset, at + 2);
    REQUIRE(CHECK_EQ_U64(d[0].len, 2));
    CHECK_MEM(d[0].bytes, "hi", 2);
    CHECK_EQ_U64(d[1].mode, WASM_SEG_PASSIVE);
    REQUIRE(CHECK_EQ_U64(d[1].len, 3));
    CHECK_MEM(d[1].bytes, "xyz", 3);
    CHECK_EQ_U64(d[2].mode, WASM_SEG_ACTIVE);
    CHECK_EQ_U64(d[2].memory, 0);
    CHECK_EXPR(d[2].offset, OP_I32_CONST, 0, OP_END);
    CHECK_EQ_U64(d[2].len, 0);
    CHECK(!m->has_data_count);
    wasm_module_free(m);
}

TEST(decode_data_count_section) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    SECTION(&w, SEC_DATACOUNT, 2);
    SECTION(&w, SEC_CODE, 1, 15, 0,                            /* one body of 15 bytes, no locals */
            OP_I32_CONST, 0, OP_I32_CONST, 0, OP_I32_CONST, 1, /* dest, source, length */
            OP_PREFIX_FC, FC_MEMORY_INIT, 1, 0x00,             /* memory.init 1 */
            OP_PREFIX_FC, FC_DATA_DROP, 0,                     /* data.drop 0 */
            OP_END);
    SECTION(&w, SEC_DATA, 2, 0x01, 1, 'a', 0x01, 1, 'b');
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    CHECK(m->has_data_count);
    CHECK_EQ_U64(m->data_count, 2);
    CHECK_EQ_U64(m->ndatas, 2);
    wasm_module_free(m);
}

TEST(decode_custom_sections_anywhere) {
    wbuf w;
    mod_begin(&w);
    size_t c0 = SECTION(&w, SEC_CUSTOM, 5, 'f', 'i', 'r', 's', 't', 1, 2, 3);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    size_t c1 = SECTION(&w, SEC_CUSTOM, 0); /* the empty name, no payload */
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    size_t c2 = SECTION(&w, SEC_CUSTOM, 4, 'l', 'a', 's', 't', 0xff, 0x00);
    /* a custom section's payload need not be UTF-8 or anything else */
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->ncustoms, 3));
    CHECK_NAME(m->customs[0].name, "first");
    CHECK_EQ_U64(m->customs[0].offset, c0 + 6);
    CHECK_EQ_U64(m->customs[0].size, 3);
    CHECK_MEM(m->bytes + m->customs[0].offset, "\x01\x02\x03", 3);
    CHECK_NAME(m->customs[1].name, "");
    CHECK_EQ_U64(m->customs[1].offset, c1 + 1);
    CHECK_EQ_U64(m->customs[1].size, 0);
    CHECK_NAME(m->customs[2].name, "last");
    CHECK_EQ_U64(m->customs[2].offset, c2 + 5);
    CHECK_EQ_U64(m->customs[2].size, 2);
    CHECK_EQ_U64(m->ntypes, 1);
    CHECK_EQ_U64(m->nmemories, 1);
    wasm_module_free(m);
}

/* A module with one imported and three defined functions (function 1 has
 * one local), then the name section built by the caller. */
static void names_module(wbuf *w, const wbuf *names) {
    mod_begin(w);
    SECTION(w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(w, SEC_IMPORT, 1, 1, 'm', 1, 'f', 0x00, 0);
    SECTION(w, SEC_FUNCTION, 3, 0, 0, 0);
    SECTION(w, SEC_CODE, 3, 4, 1, 1, T_I32, OP_END, 2, 0, OP_END, 2, 0, OP_END);
    wbuf sec = {.n = 0};
    put_name(&sec, "name");
    put(&sec, names->b, names->n);
    put_section(w, SEC_CUSTOM, sec.b, sec.n);
}

TEST(decode_name_section) {
    wbuf names = {.n = 0}, sub = {.n = 0}, w;
    put_name(&sub, "my_mod");
    put_u8(&names, 0); /* module name */
    put_sized(&names, sub.b, sub.n);
    sub.n = 0;
    RAW(&sub, 3); /* three function names, by increasing index */
    RAW(&sub, 0);
    put_name(&sub, "imported");
    RAW(&sub, 1);
    put_name(&sub, "first");
    RAW(&sub, 3);
    put_name(&sub, "th\xc3\xafrd");
    put_u8(&names, 1); /* function names */
    put_sized(&names, sub.b, sub.n);
    put_u8(&names, 2); /* local names: function 1 has local 0 named "x" */
    BODY(&names, 1, 1, 1, 0, 1, 'x');
    names_module(&w, &names);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    REQUIRE(CHECK_EQ_U64(m->nfuncs, 4));
    CHECK_NAME(m->module_name, "my_mod");
    CHECK_NAME(m->funcs[0].debug_name, "imported");
    CHECK_NAME(m->funcs[1].debug_name, "first");
    CHECK_EQ_U64(m->funcs[2].debug_name.len, 0);
    CHECK_NAME(m->funcs[3].debug_name, "th\xc3\xafrd");
    wasm_module_free(m);
}

TEST(decode_malformed_name_section_is_ignored) {
    /* The spec: errors in a custom section's contents must not invalidate
     * the module. Each of these name sections is broken in one way. */
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t n;
    } cases[] = {
        {"subsection size past the end", {1, 40, 1, 0, 1, 'a'}, 6},
        {"function count past the end", {1, 3, 9, 0, 1}, 5},
        {"function name not UTF-8", {1, 4, 1, 1, 1, 0xff}, 6},
        {"function index out of range", {1, 4, 1, 77, 1, 'z'}, 6},
        {"module name truncated", {0, 3, 5, 'a', 'b'}, 5},
        {"unknown subsection, then junk", {9, 1, 0, 0xff}, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wbuf names = {.n = 0}, w;
        put(&names, cases[i].bytes, cases[i].n);
        names_module(&w, &names);
        wasm_error err;
        wasm_module *m = run(STAGE_LOAD, &w, &err);
        if (!CHECK(m != NULL))
            unit_fail(__FILE__, __LINE__, "  name section with %s: %s error at %zu: %s",
                      cases[i].what, wasm_errkind_name(err.kind), err.offset, err.msg);
        if (m) CHECK_EQ_U64(m->nfuncs, 4);
        wasm_module_free(m);
    }
}

TEST(decode_tail_calls_and_extended_const_validate) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 1, T_I32, 1, T_I32);
    SECTION(&w, SEC_FUNCTION, 2, 0, 0);
    SECTION(&w, SEC_GLOBAL, 1, T_I64, 0, OP_I64_CONST, 2, OP_I64_CONST, 3, 0x7e /* i64.mul */,
            OP_END);
    SECTION(&w, SEC_CODE, 2,                                  /* two bodies */
            6, 0, OP_LOCAL_GET, 0, OP_RETURN_CALL, 1, OP_END, /* return_call 1 */
            7, 0, OP_LOCAL_GET, 0, OP_I32_CONST, 1, OP_I32_ADD, OP_END);
    wasm_module *m = DECODE_OK(&w);
    wasm_module_free(m);
}

/* ---- malformed modules --------------------------------------------- */

TEST(malformed_bad_magic) {
    wbuf w = {.n = 0};
    RAW(&w, 0x00, 0x61, 0x73, 0x6e, 0x01, 0x00, 0x00, 0x00); /* "\0asn" */
    EXPECT_MALFORMED(&w, 0, 3);
    w.n = 0;
    RAW(&w, 'w', 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00);
    EXPECT_MALFORMED(&w, 0, 3);
    w.n = 0;
    EXPECT_MALFORMED(&w, 0, 0); /* no bytes at all */
    RAW(&w, 0x00, 0x61, 0x73);  /* cut inside the magic */
    EXPECT_MALFORMED(&w, 0, 3);
}

TEST(malformed_bad_version) {
    wbuf w = {.n = 0};
    RAW(&w, 0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00);
    EXPECT_MALFORMED(&w, 4, 7);
    w.n = 0;
    RAW(&w, 0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00); /* a component */
    EXPECT_MALFORMED(&w, 4, 7);
    w.n = 0;
    RAW(&w, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00); /* version cut short */
    EXPECT_MALFORMED(&w, 4, 7);
}

TEST(malformed_truncated_section) {
    wbuf w;
    mod_begin(&w);
    RAW(&w, SEC_TYPE, 10, 1, T_FUNC, 0, 0); /* declares 10 bytes, has 4 */
    EXPECT_MALFORMED(&w, 8, w.n);
    mod_begin(&w);
    RAW(&w, SEC_TYPE); /* the size itself is missing */
    EXPECT_MALFORMED(&w, 8, w.n);
    mod_begin(&w);
    RAW(&w, SEC_TYPE, 0x80); /* the size ends inside its LEB */
    EXPECT_MALFORMED(&w, 8, w.n);
}

TEST(malformed_section_size_mismatch) {
    wbuf w;
    /* the content ends before the declared size: one byte left over */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0, 0x00);
    EXPECT_MALFORMED(&w, 8, w.n);
    /* the content runs past the declared size */
    mod_begin(&w);
    RAW(&w, SEC_TYPE, 3, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    EXPECT_MALFORMED(&w, 8, 13);
    /* same for a start section, whose content is a single index */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = w.n;
    SECTION(&w, SEC_START, 0, 0);
    SECTION(&w, SEC_CODE, 1, 2, 0, OP_END);
    EXPECT_MALFORMED(&w, at, at + 4);
}

TEST(malformed_sections_out_of_order) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_IMPORT, 0);
    size_t at = w.n;
    SECTION(&w, SEC_TYPE, 0);
    EXPECT_MALFORMED(&w, at, at + 2);

    /* data count goes after element and before code */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_CODE, 1, 2, 0, OP_END);
    at = w.n;
    SECTION(&w, SEC_DATACOUNT, 0);
    EXPECT_MALFORMED(&w, at, at + 2);

    mod_begin(&w);
    SECTION(&w, SEC_DATACOUNT, 0);
    at = w.n;
    SECTION(&w, SEC_ELEMENT, 0);
    EXPECT_MALFORMED(&w, at, at + 2);
}

TEST(malformed_duplicate_sections) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 0);
    size_t at = w.n;
    SECTION(&w, SEC_TYPE, 0);
    EXPECT_MALFORMED(&w, at, at + 2);

    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 0);
    SECTION(&w, SEC_DATACOUNT, 0);
    at = w.n;
    SECTION(&w, SEC_DATACOUNT, 0);
    EXPECT_MALFORMED(&w, at, at + 2);
}

TEST(malformed_unknown_section_id) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, 0x20, 0);
    EXPECT_MALFORMED(&w, 8, 9);
    mod_begin(&w);
    SECTION(&w, 13, 0); /* the tag section of exception handling */
    EXPECT_MALFORMED(&w, 8, 9);
}

TEST(malformed_function_and_code_counts_differ) {
    wbuf w;
    /* two functions declared, one body */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    size_t at = w.n;
    SECTION(&w, SEC_FUNCTION, 2, 0, 0);
    SECTION(&w, SEC_CODE, 1, 2, 0, OP_END);
    EXPECT_MALFORMED(&w, at, w.n);
    /* a function declared, no code section */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    at = w.n;
    SECTION(&w, SEC_FUNCTION, 1, 0);
    EXPECT_MALFORMED(&w, at, w.n);
    /* bodies without a function section */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    at = w.n;
    SECTION(&w, SEC_CODE, 1, 2, 0, OP_END);
    EXPECT_MALFORMED(&w, at, w.n);
}

TEST(malformed_import_name_not_utf8) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    size_t at = SECTION(&w, SEC_IMPORT, 1, 2, 'a', 0xc0, 1, 'f', 0x00, 0);
    EXPECT_MALFORMED(&w, at + 1, at + 4); /* the module name, bytes at+2..at+3 */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    at = SECTION(&w, SEC_IMPORT, 1, 1, 'm', 3, 0xed, 0xa0, 0x80, 0x00, 0); /* a surrogate */
    EXPECT_MALFORMED(&w, at + 3, at + 7);
}

TEST(malformed_export_name_not_utf8) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 0);
    size_t at = SECTION(&w, SEC_EXPORT, 1, 2, 0xf4, 0x90, 0x02, 0);
    EXPECT_MALFORMED(&w, at + 1, at + 3);
}

TEST(malformed_too_many_locals) {
    /* binary.wast: 0xffffffff i32 locals plus 2 i64 exceed 2^32 - 1 */
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at =
        SECTION(&w, SEC_CODE, 1, 10, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, T_I32, 2, T_I64, OP_END);
    EXPECT_LOAD_MALFORMED(&w, at + 1, at + 12);
    /* a local count that is not a u32 at all */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = SECTION(&w, SEC_CODE, 1, 10, 2, 0x80, 0x80, 0x80, 0x80, 0x10, T_I32, 2, T_I64, OP_END);
    EXPECT_LOAD_MALFORMED(&w, at + 1, at + 12);
}

TEST(malformed_data_count_mismatch) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    size_t at = w.n;
    SECTION(&w, SEC_DATACOUNT, 2);
    SECTION(&w, SEC_DATA, 1, 0x01, 0);
    EXPECT_MALFORMED(&w, at, w.n);
    /* a data count with no data section at all means zero segments */
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    at = w.n;
    SECTION(&w, SEC_DATACOUNT, 1);
    EXPECT_MALFORMED(&w, at, w.n);
}

TEST(malformed_data_count_required_by_data_drop) {
    /* memory.init and data.drop need the data count section */
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    size_t at = SECTION(&w, SEC_CODE, 1, 5, 0, OP_PREFIX_FC, FC_DATA_DROP, 0, OP_END);
    SECTION(&w, SEC_DATA, 1, 0x01, 0);
    EXPECT_LOAD_MALFORMED(&w, at, at + 6);
}

TEST(malformed_bytes_in_sections) {
    wbuf w;
    size_t at;
    /* a function type that does not start with 0x60 */
    mod_begin(&w);
    at = SECTION(&w, SEC_TYPE, 1, 0x61, 0, 0);
    EXPECT_MALFORMED(&w, at, at + 1);
    /* an unknown value type */
    mod_begin(&w);
    at = SECTION(&w, SEC_TYPE, 1, T_FUNC, 1, 0x7a, 0);
    EXPECT_MALFORMED(&w, at + 2, at + 3);
    /* an unknown import kind */
    mod_begin(&w);
    at = SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'x', 0x04, 0);
    EXPECT_MALFORMED(&w, at + 4, at + 5);
    /* global mutability other than 0 or 1 */
    mod_begin(&w);
    at = SECTION(&w, SEC_GLOBAL, 1, T_I32, 2, OP_I32_CONST, 0, OP_END);
    EXPECT_MALFORMED(&w, at + 1, at + 2);
    /* element and data segment flags beyond the defined ones */
    mod_begin(&w);
    at = SECTION(&w, SEC_ELEMENT, 1, 0x08, 0);
    EXPECT_MALFORMED(&w, at, at + 1);
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    at = SECTION(&w, SEC_DATA, 1, 0x03, 0);
    EXPECT_MALFORMED(&w, at, at + 1);
    /* a vector count far beyond the section */
    mod_begin(&w);
    at = SECTION(&w, SEC_TYPE, 0xff, 0xff, 0xff, 0xff, 0x0f);
    EXPECT_MALFORMED(&w, at, w.n);
    /* a body whose size runs past the code section */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = SECTION(&w, SEC_CODE, 1, 9, 0, OP_END);
    EXPECT_MALFORMED(&w, at, w.n);
}

TEST(malformed_function_bodies) {
    wbuf w;
    /* a body that does not end with `end` */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = SECTION(&w, SEC_CODE, 1, 2, 0, OP_NOP);
    EXPECT_LOAD_MALFORMED(&w, at, w.n);
    /* an opcode that does not exist */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = SECTION(&w, SEC_CODE, 1, 3, 0, 0xff, OP_END);
    EXPECT_LOAD_MALFORMED(&w, at + 2, at + 3);
    /* memory.size's reserved byte must be zero */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 1);
    at = SECTION(&w, SEC_CODE, 1, 5, 0, OP_MEMORY_SIZE, 0x01, OP_DROP, OP_END);
    EXPECT_LOAD_MALFORMED(&w, at + 2, at + 4);
    /* instructions after the final `end` */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = SECTION(&w, SEC_CODE, 1, 3, 0, OP_END, OP_NOP);
    EXPECT_LOAD_MALFORMED(&w, at + 2, w.n);
}

/* ---- invalid modules ------------------------------------------------ */

/* Appends a code section holding the one body given; returns the offset
 * of the section's payload. */
static size_t one_func(wbuf *w, const uint8_t *body, size_t n) {
    wbuf code = {.n = 0};
    put_u8(&code, 1);
    put_sized(&code, body, n);
    return put_section(w, SEC_CODE, code.b, code.n);
}

TEST(invalid_type_mismatch_in_body) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 1, T_I32);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = one_func(&w, BYTES(0, OP_I32_CONST, 0, OP_I64_CONST, 0, OP_I32_ADD, OP_END));
    EXPECT_INVALID(&w, at, w.n);
    /* the same body returning nothing */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 1, T_I32);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = one_func(&w, BYTES(0, OP_NOP, OP_END));
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_unknown_local) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 1, T_I32, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    /* one param and one local: indices 0 and 1 exist, 2 does not */
    size_t at = one_func(
        &w, BYTES(1, 1, T_I64, OP_LOCAL_GET, 1, OP_DROP, OP_LOCAL_GET, 2, OP_DROP, OP_END));
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_unknown_label_and_function) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = one_func(&w, BYTES(0, OP_BLOCK, 0x40, OP_BR, 2, OP_END, OP_END));
    EXPECT_INVALID(&w, at, w.n);
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = one_func(&w, BYTES(0, OP_CALL, 1, OP_END));
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_duplicate_export_name) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 0);
    SECTION(&w, SEC_GLOBAL, 1, T_I32, 0, OP_I32_CONST, 0, OP_END);
    size_t at = w.n;
    SECTION(&w, SEC_EXPORT, 2, 1, 'x', 0x02, 0, 1, 'x', 0x03, 0);
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_export_index_out_of_range) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_MEMORY, 1, 0x00, 0);
    size_t at = w.n;
    SECTION(&w, SEC_EXPORT, 1, 1, 'x', 0x02, 1);
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_start_function_with_params) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 1, T_I32, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = w.n;
    SECTION(&w, SEC_START, 0);
    size_t end = w.n;
    one_func(&w, BYTES(0, OP_END));
    EXPECT_INVALID(&w, at, end);
    /* or with results, or out of range */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 1, T_I32);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = w.n;
    SECTION(&w, SEC_START, 0);
    end = w.n;
    one_func(&w, BYTES(0, OP_I32_CONST, 0, OP_END));
    EXPECT_INVALID(&w, at, end);
    mod_begin(&w);
    at = w.n;
    SECTION(&w, SEC_START, 0);
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_memory_limits) {
    wbuf w;
    mod_begin(&w);
    size_t at = w.n;
    SECTION(&w, SEC_MEMORY, 1, 0x01, 2, 1); /* min 2 > max 1 */
    EXPECT_INVALID(&w, at, w.n);
    mod_begin(&w);
    at = w.n;
    SECTION(&w, SEC_MEMORY, 1, 0x00, 0x81, 0x80, 0x04); /* 65537 pages > 4 GiB */
    EXPECT_INVALID(&w, at, w.n);
    mod_begin(&w);
    at = w.n;
    SECTION(&w, SEC_MEMORY, 2, 0x00, 0, 0x00, 0); /* two memories without multi-memory */
    EXPECT_INVALID(&w, at, w.n);
    mod_begin(&w);
    at = w.n;
    SECTION(&w, SEC_TABLE, 1, T_FUNCREF, 0x01, 3, 2); /* tables too */
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_global_set_immutable) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_GLOBAL, 1, T_I32, 0, OP_I32_CONST, 0, OP_END);
    size_t at = one_func(&w, BYTES(0, OP_I32_CONST, 1, OP_GLOBAL_SET, 0, OP_END));
    EXPECT_INVALID(&w, at, w.n);
    /* the same on an imported immutable global */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_IMPORT, 1, 1, 'm', 1, 'g', 0x03, T_I32, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    at = one_func(&w, BYTES(0, OP_I32_CONST, 1, OP_GLOBAL_SET, 0, OP_END));
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_constant_expressions) {
    wbuf w;
    /* an initialiser of the wrong type */
    mod_begin(&w);
    size_t at = w.n;
    SECTION(&w, SEC_GLOBAL, 1, T_I32, 0, OP_I64_CONST, 0, OP_END);
    EXPECT_INVALID(&w, at, w.n);
    /* a non-constant instruction */
    mod_begin(&w);
    at = w.n;
    SECTION(&w, SEC_GLOBAL, 1, T_I32, 0, OP_I32_CONST, 0, OP_DROP, OP_I32_CONST, 0, OP_END);
    EXPECT_INVALID(&w, at, w.n);
}

TEST(invalid_undeclared_function_reference) {
    /* ref.func in a body needs the function declared (export, element
     * segment or global initialiser) */
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    size_t at = one_func(&w, BYTES(0, OP_REF_FUNC, 0, OP_DROP, OP_END));
    EXPECT_INVALID(&w, at, w.n);
    /* declared by an export, the same body is valid */
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 1, T_FUNC, 0, 0);
    SECTION(&w, SEC_FUNCTION, 1, 0);
    SECTION(&w, SEC_EXPORT, 1, 1, 'f', 0x00, 0);
    one_func(&w, BYTES(0, OP_REF_FUNC, 0, OP_DROP, OP_END));
    wasm_module_free(DECODE_OK(&w));
}

TEST(invalid_tail_call_result_mismatch) {
    wbuf w;
    mod_begin(&w);
    SECTION(&w, SEC_TYPE, 2, T_FUNC, 0, 1, T_I32, T_FUNC, 0, 1, T_I64);
    SECTION(&w, SEC_FUNCTION, 2, 0, 1);
    size_t at =
        SECTION(&w, SEC_CODE, 2, 4, 0, OP_RETURN_CALL, 1, OP_END, 4, 0, OP_I64_CONST, 0, OP_END);
    EXPECT_INVALID(&w, at, at + 5);
}

/* ---- robustness sweeps ---------------------------------------------- */

/* A module with every section, valid, and the offsets where its sections
 * end (a prefix cut exactly there may still be a module). */
static void build_full_module(wbuf *w, size_t *ends, size_t *nends) {
    size_t k = 0;
    mod_begin(w);
    ends[k++] = w->n;
    SECTION(w, SEC_TYPE, 3, T_FUNC, 0, 0, T_FUNC, 1, T_I32, 1, T_I32, T_FUNC, 2, T_I32, T_I64, 0);
    ends[k++] = w->n;
    SECTION(w, SEC_IMPORT, 2,                            /* two imports */
            3, 'e', 'n', 'v', 3, 'l', 'o', 'g', 0x00, 2, /* func type 2 */
            3, 'e', 'n', 'v', 1, 'g', 0x03, T_I32, 0);   /* global i32 */
    ends[k++] = w->n;
    SECTION(w, SEC_FUNCTION, 3, 0, 1, 1);
    ends[k++] = w->n;
    SECTION(w, SEC_TABLE, 1, T_FUNCREF, 0x00, 2);
    ends[k++] = w->n;
    SECTION(w, SEC_MEMORY, 1, 0x01, 1, 2);
    ends[k++] = w->n;
    SECTION(w, SEC_GLOBAL, 2, T_I32, 1, OP_GLOBAL_GET, 0, OP_END, T_I64, 0, OP_I64_CONST, 7,
            OP_END);
    ends[k++] = w->n;
    SECTION(w, SEC_EXPORT, 3, 4, 'm', 'a', 'i', 'n', 0x00, 1, 3, 'm', 'e', 'm', 0x02, 0, 3, 't',
            'a', 'b', 0x01, 0);
    ends[k++] = w->n;
    SECTION(w, SEC_START, 1);
    ends[k++] = w->n;
    SECTION(w, SEC_ELEMENT, 1, 0x00, OP_I32_CONST, 0, OP_END, 2, 1, 2);
    ends[k++] = w->n;
    SECTION(w, SEC_DATACOUNT, 1);
    ends[k++] = w->n;
    SECTION(w, SEC_CODE, 3, /* three bodies */
            10, 1, 1, T_I32, OP_I32_CONST, 5, OP_I64_CONST, 6, OP_CALL, 0,
            OP_END,                                                     /* f1: call log(5, 6) */
            7, 0, OP_LOCAL_GET, 0, OP_I32_CONST, 1, OP_I32_ADD, OP_END, /* f2: x + 1 */
            6, 0, OP_LOCAL_GET, 0, OP_RETURN_CALL, 2, OP_END);
    ends[k++] = w->n;
    SECTION(w, SEC_DATA, 1, 0x00, OP_I32_CONST, 8, OP_END, 2, 'h', 'i');
    ends[k++] = w->n;
    SECTION(w, SEC_CUSTOM, 4, 'n', 'a', 'm', 'e', 1, 7, 1, 1, 4, 'm', 'a', 'i', 'n');
    ends[k++] = w->n;
    *nends = k;
}

TEST(decode_full_module) {
    wbuf w;
    size_t ends[32], nends;
    build_full_module(&w, ends, &nends);
    wasm_module *m = DECODE_OK(&w);
    REQUIRE(m);
    CHECK_EQ_U64(m->nfuncs, 4);
    CHECK_EQ_U64(m->nglobals, 3);
    CHECK(m->has_start && m->start == 1);
    CHECK_NAME(m->funcs[1].debug_name, "main");
    wasm_module_free(m);
}

TEST(robust_every_truncation_is_malformed) {
    wbuf w, cut;
    size_t ends[32], nends;
    build_full_module(&w, ends, &nends);
    for (size_t len = 0; len < w.n; len++) {
        bool at_boundary = false;
        for (size_t i = 0; i < nends; i++)
            at_boundary |= ends[i] == len;
        memcpy(cut.b, w.b, len);
        cut.n = len;
        wasm_error err;
        wasm_module *m = run(STAGE_LOAD, &cut, &err);
        if (m) {
            wasm_module_free(m);
            if (!at_boundary) {
                unit_fail(__FILE__, __LINE__, "a prefix of %zu of %zu bytes loaded", len, w.n);
                break;
            }
        } else if (!at_boundary && !(err.kind == WASM_ERR_MALFORMED && err.offset <= len)) {
            unit_fail(__FILE__, __LINE__,
                      "a prefix of %zu bytes: expected malformed at an offset <= %zu, "
                      "got %s at %zu: %s",
                      len, len, wasm_errkind_name(err.kind), err.offset, err.msg);
            break;
        }
    }
}

TEST(robust_one_byte_mutations_never_crash) {
    wbuf w, mut;
    size_t ends[32], nends;
    build_full_module(&w, ends, &nends);
    static const uint8_t values[] = {0x00, 0x01, 0x02, 0x0b, 0x40, 0x60, 0x7f, 0x80, 0xff};
    size_t loaded = 0, failed = 0;
    for (size_t i = 0; i < w.n; i++) {
        for (size_t v = 0; v <= sizeof values; v++) {
            mut = w;
            mut.b[i] = v < sizeof values ? values[v] : (uint8_t)(w.b[i] ^ 0x40);
            if (mut.b[i] == w.b[i]) continue;
            wasm_error err;
            wasm_module *m = run(STAGE_LOAD, &mut, &err);
            if (m) {
                loaded++;
                wasm_module_free(m);
                continue;
            }
            failed++;
            bool known = err.kind == WASM_ERR_MALFORMED || err.kind == WASM_ERR_INVALID ||
                         err.kind == WASM_ERR_LIMIT;
            if (!known || err.offset > mut.n || err.msg[0] == '\0') {
                unit_fail(__FILE__, __LINE__,
                          "byte %zu set to 0x%02x: error kind %d at offset %zu of %zu: \"%s\"", i,
                          mut.b[i], (int)err.kind, err.offset, mut.n, err.msg);
                return;
            }
        }
    }
    CHECK(failed > 0);
    CHECK(loaded > 0); /* e.g. changed constants still load */
}
