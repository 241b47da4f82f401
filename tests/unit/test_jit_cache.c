/*
 * test_jit_cache.c - the native tier's cache entries (jit_cache.c): an
 * entry saved from a compiled module gives another load of the same bytes
 * its code without compiling; an entry from another build of wasp, for
 * another module, truncated, or with any one byte flipped is refused and
 * leaves the module as it was (interpreted, ready to be compiled).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wasm/wasm.h"

static const char sum_wat[] =
    "(module (memory (export \"mem\") 1)"
    "  (func (export \"sum\") (param i32) (result i32) (local i32)"
    "    (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))"
    "      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
    "    (local.get 1)))";

/* Calls sum(n) on a fresh instance of `m`. */
static int32_t call_sum(wasm_module *m, int32_t n) {
    wasm_error err;
    wasm_linker *l = wasm_linker_new();
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    int32_t r = -1;
    wasm_extern f;
    if (inst && wasm_instance_export(inst, "sum", &f)) {
        wasm_value a = {.type = WASM_I32, .of.i32 = n}, out;
        if (wasm_call(f, &a, &out) == WASM_TRAP_NONE) r = out.of.i32;
    }
    wasm_instance_free(inst);
    wasm_linker_free(l);
    return r;
}

/* The entry of `sum_wat` compiled; *len set. */
static uint8_t *entry_of(const char *wat, size_t *len) {
    wasm_module *m = unit_load_wat(wat);
    if (!m) return NULL;
    wasm_error err;
    uint8_t *e = NULL;
    if (!wasm_module_compile_native(m, &err))
        unit_fail(__FILE__, __LINE__, "compile: %s", err.msg);
    else if (!wasm_module_native_save(m, &e, len, &err))
        unit_fail(__FILE__, __LINE__, "save: %s", err.msg);
    wasm_module_free(m);
    return e;
}

/* Loads `entry` into a fresh load of `wat`: true when accepted; *msg gets
 * the refusal. A refused module stays interpreted and still runs. */
static bool try_entry(const char *wat, const uint8_t *entry, size_t len, char *msg, size_t cap) {
    wasm_module *m = unit_load_wat(wat);
    if (!m) return false;
    wasm_error err;
    bool ok = wasm_module_native_load(m, entry, len, WASM_NATIVE_FUEL, &err);
    snprintf(msg, cap, "%s", ok ? "" : err.msg);
    CHECK_EQ_U64(wasm_module_is_native(m), ok);
    CHECK_EQ_S64(call_sum(m, 100), 5050);
    wasm_module_free(m);
    return ok;
}

TEST(jit_cache_entry_gives_the_code_without_compiling) {
    size_t len;
    uint8_t *e = entry_of(sum_wat, &len);
    REQUIRE(e != NULL);
    char msg[256];
    CHECK(try_entry(sum_wat, e, len, msg, sizeof msg));
    /* saved again from the loaded entry: the same bytes */
    wasm_module *m = unit_load_wat(sum_wat);
    REQUIRE(m != NULL);
    wasm_error err;
    REQUIRE(wasm_module_native_load(m, e, len, WASM_NATIVE_FUEL, &err));
    uint8_t *again;
    size_t again_len;
    REQUIRE(wasm_module_native_save(m, &again, &again_len, &err));
    CHECK_EQ_U64(again_len, len);
    CHECK(again_len == len && memcmp(again, e, len) == 0);
    free(again);
    wasm_module_free(m);
    free(e);
}

TEST(jit_cache_refuses_another_module_build_or_a_damaged_entry) {
    size_t len;
    uint8_t *e = entry_of(sum_wat, &len);
    REQUIRE(e != NULL);
    char msg[256];
    /* another module: the same code shape, one constant different */
    static const char other[] =
        "(module (memory (export \"mem\") 2)"
        "  (func (export \"sum\") (param i32) (result i32) (local i32)"
        "    (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))"
        "      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
        "    (local.get 1)))";
    CHECK(!try_entry(other, e, len, msg, sizeof msg));
    CHECK(strstr(msg, "another module") != NULL);
    /* another build: its build ID (bytes 16..47) differs, the rest is valid */
    uint8_t *b = malloc(len);
    REQUIRE(b != NULL);
    memcpy(b, e, len);
    b[16] ^= 0xff;
    CHECK(!try_entry(sum_wat, b, len, msg, sizeof msg));
    CHECK(strstr(msg, "another build") != NULL);
    /* truncated, or with bytes appended */
    CHECK(!try_entry(sum_wat, e, len - 1, msg, sizeof msg));
    CHECK(!try_entry(sum_wat, e, 100, msg, sizeof msg));
    /* every byte of the header and a stride through the object, flipped */
    int accepted = 0, tried = 0;
    for (size_t i = 0; i < len; i += i < 152 ? 1 : 61) {
        memcpy(b, e, len);
        b[i] ^= 0x01;
        tried++;
        if (try_entry(sum_wat, b, len, msg, sizeof msg)) {
            accepted++;
            unit_fail(__FILE__, __LINE__, "a flipped byte at offset %zu was accepted", i);
        }
    }
    CHECK(tried > 160);
    CHECK_EQ_S64(accepted, 0);
    memcpy(b, e, len);
    b[len - 1] ^= 0x80;
    CHECK(!try_entry(sum_wat, b, len, msg, sizeof msg));
    CHECK(strstr(msg, "integrity") != NULL);
    free(b);
    free(e);
}

/* Code compiled without fuel counting: its entry is refused where counted
 * code is asked for, and a call with a fuel budget runs the module in the
 * interpreter, so the budget still ends a loop that would not stop. */
TEST(jit_cache_fuel_variants) {
    size_t len;
    uint8_t *e = entry_of(sum_wat, &len); /* with WASM_NATIVE_FUEL */
    REQUIRE(e != NULL);
    wasm_module *m = unit_load_wat(sum_wat);
    REQUIRE(m != NULL);
    wasm_error err;
    CHECK(!wasm_module_native_load(m, e, len, 0, &err));
    CHECK(strstr(err.msg, "compiled with fuel counting") != NULL);
    CHECK(!wasm_module_is_native(m));
    free(e);
    REQUIRE(wasm_module_compile_native_ex(m, 0, &err));
    CHECK_EQ_U64(wasm_module_native_flags(m), 0);
    uint8_t *plain;
    REQUIRE(wasm_module_native_save(m, &plain, &len, &err));
    wasm_module *m2 = unit_load_wat(sum_wat);
    REQUIRE(m2 != NULL);
    CHECK(!wasm_module_native_load(m2, plain, len, WASM_NATIVE_FUEL, &err));
    CHECK(strstr(err.msg, "compiled without fuel counting") != NULL);
    CHECK(wasm_module_native_load(m2, plain, len, 0, &err));
    free(plain);
    wasm_module_free(m2);

    /* sum(-1) loops 2^32 times: a budget of 1000 must end it either way */
    wasm_linker *l = wasm_linker_new();
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    REQUIRE(inst != NULL);
    wasm_extern f;
    REQUIRE(wasm_instance_export(inst, "sum", &f));
    wasm_value a = {.type = WASM_I32, .of.i32 = -1}, out;
    wasm_call_opts opts = {.fuel = 1000};
    CHECK_EQ_S64(wasm_call_ex(f, &a, &out, &opts), WASM_TRAP_FUEL_EXHAUSTED);
    a.of.i32 = 100;
    CHECK_EQ_S64(wasm_call_ex(f, &a, &out, &opts), WASM_TRAP_NONE);
    CHECK_EQ_S64(out.of.i32, 5050);
    CHECK_EQ_S64(wasm_call(f, &a, &out), WASM_TRAP_NONE); /* native again */
    CHECK_EQ_S64(out.of.i32, 5050);
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}
