/*
 * test_linker.c - host functions registered from a table
 * (wasm_linker_funcs, the one way WASI, the handler ABI and every
 * capability define their imports): each signature letter becomes the
 * right type, the arguments arrive in order, the results go back, a bad
 * signature is refused naming the function, and wasm_guest_bytes checks the
 * whole range against the caller's memory.
 */
#include <string.h>

#include "unit.h"
#include "wasm/wasm.h"

/* mix(i32, i64, f32, f64) -> f64: i + I + f + F, and the pointer that
 * wasm_guest_bytes gives for [p, p+8) of memory, checked by the caller. */
static wasm_trap_code host_mix(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    int *calls = env;
    (*calls)++;
    float f;
    double d;
    memcpy(&f, &a[2].of.f32, 4);
    memcpy(&d, &a[3].of.f64, 8);
    double sum = (double)(int32_t)a[0].of.i32 + (double)(int64_t)a[1].of.i64 + f + d;
    r[0].type = WASM_F64;
    memcpy(&r[0].of.f64, &sum, 8);
    return WASM_TRAP_NONE;
}

/* peek(ptr, len) -> i32: the first byte at ptr, or -1 when the range is
 * out of bounds. */
static wasm_trap_code host_peek(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    (void)env;
    uint8_t *p = wasm_guest_bytes(caller, a[0].of.i32, a[1].of.i32);
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = p ? (a[1].of.i32 ? p[0] : 0) : (uint32_t)-1};
    return WASM_TRAP_NONE;
}

static const char mix_wat[] =
    "(module\n"
    "  (import \"t\" \"mix\" (func $mix (param i32 i64 f32 f64) (result f64)))\n"
    "  (import \"t\" \"peek\" (func $peek (param i32 i32) (result i32)))\n"
    "  (memory 1)\n"
    "  (data (i32.const 65535) \"\\2a\")\n"
    "  (func (export \"mix\") (result f64)\n"
    "    (call $mix (i32.const -3) (i64.const 10000000000) (f32.const 0.5) (f64.const 0.25)))\n"
    "  (func (export \"peek\") (param i32 i32) (result i32)\n"
    "    (call $peek (local.get 0) (local.get 1))))\n";

static int32_t peek(wasm_instance *inst, uint32_t ptr, uint32_t len) {
    wasm_extern f;
    if (!wasm_instance_export(inst, "peek", &f)) return -99;
    wasm_value args[2] = {{.type = WASM_I32, .of.i32 = ptr}, {.type = WASM_I32, .of.i32 = len}};
    wasm_value res[1];
    if (wasm_call(f, args, res) != WASM_TRAP_NONE) return -98;
    return (int32_t)res[0].of.i32;
}

TEST(linker_funcs_table_types_and_guest_bytes) {
    int calls = 0;
    static const wasm_host_func fs[] = {{"mix", "iIfF>F", host_mix}, {"peek", "ii>i", host_peek}};
    wasm_error err;
    wasm_linker *lk = wasm_linker_new();
    REQUIRE(lk);
    REQUIRE(wasm_linker_funcs(lk, "t", fs, 2, &calls, &err));
    wasm_module *m = unit_load_wat(mix_wat);
    REQUIRE(m);
    wasm_instance *inst = wasm_instance_new(m, lk, &err);
    REQUIRE(inst);
    wasm_extern f;
    REQUIRE(wasm_instance_export(inst, "mix", &f));
    wasm_value res[1];
    CHECK_EQ_S64(wasm_call(f, NULL, res), WASM_TRAP_NONE);
    double got;
    memcpy(&got, &res[0].of.f64, 8);
    CHECK(got == 10000000000.0 - 3 + 0.75);
    CHECK_EQ_S64(calls, 1);
    /* The last byte of memory is in bounds, one more is not, and a range
     * that wraps 2^32 is not either. */
    CHECK_EQ_S64(peek(inst, 65535, 1), 42);
    CHECK_EQ_S64(peek(inst, 65536, 0), 0);
    CHECK_EQ_S64(peek(inst, 65535, 2), -1);
    CHECK_EQ_S64(peek(inst, 65536, 1), -1);
    CHECK_EQ_S64(peek(inst, 0xffffffffu, 2), -1);
    CHECK(wasm_guest_bytes(NULL, 0, 0) == NULL);
    wasm_instance_free(inst);
    wasm_module_free(m);
    wasm_linker_free(lk);
}

TEST(linker_funcs_bad_signature_names_the_function) {
    static const wasm_host_func bad[] = {{"ok", "i>i", host_peek}, {"oops", "ix>i", host_peek}};
    wasm_error err;
    wasm_linker *lk = wasm_linker_new();
    REQUIRE(lk);
    CHECK(!wasm_linker_funcs(lk, "t", bad, 2, NULL, &err));
    CHECK_EQ_U64(err.kind, WASM_ERR_LINK);
    CHECK(strstr(err.msg, "t.oops") != NULL);
    static const wasm_host_func twice[] = {{"two", "i>i>i", host_peek}};
    CHECK(!wasm_linker_funcs(lk, "t", twice, 1, NULL, &err));
    CHECK(strstr(err.msg, "t.two") != NULL);
    wasm_linker_free(lk);
}
