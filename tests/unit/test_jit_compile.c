/*
 * test_jit_compile.c - the native tier's compiler (jit_compile.c) against
 * the interpreter: a module of integer functions (recursion, loops,
 * if/else, br_if to a result, select, shifts and rotates past the width,
 * comparisons, i32/i64 conversions, a branch out of the function) is
 * compiled, loaded by wasp's loader and each function called on inputs
 * whose answers the interpreter gives on the same module. A module with an
 * instruction the tier does not compile yet is refused, naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wasm/internal.h"

static const char module_wat[] =
    "(module\n"
    "  (func $fac (export \"fac\") (param i64) (result i64)\n"
    "    (if (result i64) (i64.le_s (local.get 0) (i64.const 1))\n"
    "      (then (i64.const 1))\n"
    "      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))\n"
    "  (func (export \"fib\") (param i32) (result i32) (local i32 i32 i32)\n"
    "    (local.set 2 (i32.const 1))\n"
    "    (block $done (loop $next\n"
    "      (br_if $done (i32.eqz (local.get 0)))\n"
    "      (local.set 3 (i32.add (local.get 1) (local.get 2)))\n"
    "      (local.set 1 (local.get 2)) (local.set 2 (local.get 3))\n"
    "      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))\n"
    "      (br $next)))\n"
    "    (local.get 1))\n"
    "  (func (export \"bits\") (param i32 i32) (result i32)\n"
    "    (i32.xor (i32.xor (i32.shl (local.get 0) (local.get 1)) (i32.shr_u (local.get 0) "
    "(local.get 1)))\n"
    "      (i32.xor (i32.shr_s (local.get 0) (local.get 1))\n"
    "        (i32.xor (i32.rotl (local.get 0) (local.get 1)) (i32.rotr (local.get 0) (i32.const "
    "37))))))\n"
    "  (func (export \"bits64\") (param i64 i64) (result i64)\n"
    "    (i64.add (i64.rotl (local.get 0) (local.get 1))\n"
    "      (i64.or (i64.shr_s (local.get 0) (local.get 1)) (i64.and (local.get 0) (i64.const "
    "0xff00)))))\n"
    "  (func (export \"cmp\") (param i32 i32) (result i32)\n"
    "    (i32.add (i32.add (i32.lt_s (local.get 0) (local.get 1)) (i32.shl (i32.lt_u (local.get 0) "
    "(local.get 1)) (i32.const 1)))\n"
    "      (i32.add (i32.shl (i32.ge_s (local.get 0) (local.get 1)) (i32.const 2))\n"
    "        (i32.add (i32.shl (i32.ge_u (local.get 0) (local.get 1)) (i32.const 3))\n"
    "          (i32.shl (i32.ne (local.get 0) (local.get 1)) (i32.const 4))))))\n"
    "  (func (export \"pick\") (param i32 i64 i64) (result i64)\n"
    "    (select (local.get 1) (local.get 2) (local.get 0)))\n"
    "  (func (export \"conv\") (param i64) (result i64)\n"
    "    (i64.add (i64.extend_i32_s (i32.wrap_i64 (local.get 0))) (i64.extend_i32_u (i32.wrap_i64 "
    "(local.get 0)))))\n"
    "  (func (export \"counts\") (param i64) (result i64)\n"
    "    (i64.add (i64.add (i64.clz (local.get 0)) (i64.shl (i64.ctz (local.get 0)) (i64.const "
    "8)))\n"
    "      (i64.add (i64.shl (i64.popcnt (local.get 0)) (i64.const 16))\n"
    "        (i64.extend_i32_u (i32.add (i32.add (i32.clz (i32.wrap_i64 (local.get 0)))\n"
    "          (i32.shl (i32.ctz (i32.wrap_i64 (local.get 0))) (i32.const 8)))\n"
    "          (i32.shl (i32.popcnt (i32.wrap_i64 (local.get 0))) (i32.const 16)))))))\n"
    "  (func (export \"signs\") (param i64) (result i64)\n"
    "    (i64.xor (i64.xor (i64.extend8_s (local.get 0)) (i64.extend16_s (local.get 0)))\n"
    "      (i64.xor (i64.extend32_s (local.get 0))\n"
    "        (i64.extend_i32_u (i32.xor (i32.extend8_s (i32.wrap_i64 (local.get 0)))\n"
    "          (i32.extend16_s (i32.wrap_i64 (local.get 0))))))))\n"
    "  (func (export \"early\") (param i32) (result i32)\n"
    "    (block (result i32)\n"
    "      (drop (br_if 1 (i32.const 100) (i32.eqz (local.get 0))))\n"
    "      (drop (br_if 0 (i32.const 7) (i32.gt_s (local.get 0) (i32.const 10))))\n"
    "      (if (i32.lt_s (local.get 0) (i32.const 0)) (then (return (i32.const -1))))\n"
    "      (i32.const 3)))\n"
    ")\n";

typedef struct call {
    const char *name;
    int nargs;
    wasm_valtype types[3];
    uint64_t args[3];
} call;

static const call calls[] = {
    {"fac", 1, {WASM_I64}, {0}},
    {"fac", 1, {WASM_I64}, {1}},
    {"fac", 1, {WASM_I64}, {20}},
    {"fib", 1, {WASM_I32}, {0}},
    {"fib", 1, {WASM_I32}, {1}},
    {"fib", 1, {WASM_I32}, {40}},
    {"bits", 2, {WASM_I32, WASM_I32}, {0x80000001u, 3}},
    {"bits", 2, {WASM_I32, WASM_I32}, {0xdeadbeefu, 35}},
    {"bits", 2, {WASM_I32, WASM_I32}, {7, 0xffffffffu}},
    {"bits64", 2, {WASM_I64, WASM_I64}, {0x8000000000000001ull, 65}},
    {"bits64", 2, {WASM_I64, WASM_I64}, {0x123456789abcdefull, 4}},
    {"cmp", 2, {WASM_I32, WASM_I32}, {(uint32_t)-5, 3}},
    {"cmp", 2, {WASM_I32, WASM_I32}, {3, (uint32_t)-5}},
    {"cmp", 2, {WASM_I32, WASM_I32}, {9, 9}},
    {"pick", 3, {WASM_I32, WASM_I64, WASM_I64}, {1, 11, 22}},
    {"pick", 3, {WASM_I32, WASM_I64, WASM_I64}, {0, 11, 22}},
    {"conv", 1, {WASM_I64}, {0xffffffff80000000ull}},
    {"conv", 1, {WASM_I64}, {0x12345678ull}},
    {"counts", 1, {WASM_I64}, {0}},
    {"counts", 1, {WASM_I64}, {0x00f0000000000100ull}},
    {"counts", 1, {WASM_I64}, {0xffffffffffffffffull}},
    {"signs", 1, {WASM_I64}, {0x1234567880ff7f80ull}},
    {"signs", 1, {WASM_I64}, {0x000000007fff807full}},
    {"early", 1, {WASM_I32}, {0}},
    {"early", 1, {WASM_I32}, {11}},
    {"early", 1, {WASM_I32}, {(uint32_t)-4}},
    {"early", 1, {WASM_I32}, {5}},
};

/* Calls the compiled function at `fn` (its signature picked by the call's
 * shape) with ctx and inst NULL: this slice reads neither. */
static uint64_t call_native(void *fn, const call *c) {
    void *n = NULL;
    if (!strcmp(c->name, "fac") || !strcmp(c->name, "conv") || !strcmp(c->name, "counts") ||
        !strcmp(c->name, "signs"))
        return (uint64_t)((int64_t(*)(void *, void *, int64_t))fn)(n, n, (int64_t)c->args[0]);
    if (!strcmp(c->name, "fib") || !strcmp(c->name, "early"))
        return (uint32_t)((int32_t(*)(void *, void *, int32_t))fn)(n, n, (int32_t)c->args[0]);
    if (!strcmp(c->name, "bits") || !strcmp(c->name, "cmp"))
        return (uint32_t)((int32_t(*)(void *, void *, int32_t, int32_t))fn)(
            n, n, (int32_t)c->args[0], (int32_t)c->args[1]);
    if (!strcmp(c->name, "bits64"))
        return (uint64_t)((int64_t(*)(void *, void *, int64_t, int64_t))fn)(
            n, n, (int64_t)c->args[0], (int64_t)c->args[1]);
    return (uint64_t)((int64_t(*)(void *, void *, int32_t, int64_t, int64_t))fn)(
        n, n, (int32_t)c->args[0], (int64_t)c->args[1], (int64_t)c->args[2]);
}

/* m compiled and loaded (*obj holds the object, to free after unloading),
 * or NULL after reporting why. */
static wasm_jit_image *compile_load(const wasm_module *m, uint8_t **obj) {
    wasm_error err;
    size_t len = 0;
    if (!wasm_jit_compile(m, obj, &len, &err)) {
        unit_fail(__FILE__, __LINE__, "compile: %s", err.msg);
        return NULL;
    }
    wasm_jit_image *img = wasm_jit_load(*obj, len, NULL, 0, &err);
    if (!img) unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
    return img;
}

TEST(jit_compile_matches_the_interpreter) {
    wasm_module *m = unit_load_wat(module_wat);
    REQUIRE(m != NULL);
    wasm_error err;
    uint8_t *obj = NULL;
    wasm_jit_image *img = compile_load(m, &obj);
    wasm_linker *linker = wasm_linker_new();
    wasm_instance *inst = wasm_instance_new(m, linker, &err);
    REQUIRE(inst != NULL);
    for (size_t k = 0; img && k < sizeof calls / sizeof calls[0]; k++) {
        const call *c = &calls[k];
        wasm_extern f;
        REQUIRE(wasm_instance_export(inst, c->name, &f));
        wasm_value args[3], result;
        for (int a = 0; a < c->nargs; a++) {
            args[a].type = c->types[a];
            if (c->types[a] == WASM_I32)
                args[a].of.i32 = (uint32_t)c->args[a];
            else
                args[a].of.i64 = c->args[a];
        }
        REQUIRE(wasm_call(f, args, &result) == WASM_TRAP_NONE);
        uint64_t want = result.type == WASM_I32 ? result.of.i32 : result.of.i64;
        /* the export's function index names its symbol */
        uint32_t index = UINT32_MAX;
        for (uint32_t e = 0; e < m->nexports; e++)
            if (m->exports[e].name.len == strlen(c->name) &&
                !memcmp(m->exports[e].name.str, c->name, m->exports[e].name.len))
                index = m->exports[e].index;
        char sym[32];
        snprintf(sym, sizeof sym, "wasm_f%u", index);
        void *fn = wasm_jit_find(img, sym);
        if (!fn) {
            unit_fail(__FILE__, __LINE__, "%s not in the object", sym);
            continue;
        }
        uint64_t got = call_native(fn, c);
        if (got != want)
            unit_fail(__FILE__, __LINE__, "%s(%llx, %llx, %llx): native %llx, interpreter %llx",
                      c->name, (unsigned long long)c->args[0], (unsigned long long)c->args[1],
                      (unsigned long long)c->args[2], (unsigned long long)got,
                      (unsigned long long)want);
    }
    wasm_instance_free(inst);
    wasm_linker_free(linker);
    wasm_jit_unload(img);
    free(obj);
    wasm_module_free(m);
}

TEST(jit_compile_refuses_what_it_does_not_compile_yet) {
    wasm_module *m = unit_load_wat("(module (func (param i32) (result i32)\n"
                                   "  (i32.div_s (local.get 0) (i32.const 3))))");
    REQUIRE(m != NULL);
    wasm_error err;
    uint8_t *obj = NULL;
    size_t len = 0;
    CHECK(!wasm_jit_compile(m, &obj, &len, &err));
    CHECK(err.kind == WASM_ERR_LIMIT);
    CHECK(strstr(err.msg, "does not compile i32.div_s yet (function 0)") != NULL);
    CHECK(obj == NULL);
    wasm_module_free(m);
}

/* Globals are the instance's own cells: a compiled function given an
 * instance reads and writes them as the interpreter does on another
 * instance of the same module, call after call. */
TEST(jit_compile_globals_live_in_the_instance) {
    wasm_module *m = unit_load_wat("(module\n"
                                   "  (global $c (export \"c\") (mut i32) (i32.const 5))\n"
                                   "  (global $acc (export \"acc\") (mut i64) (i64.const -1))\n"
                                   "  (global $k i32 (i32.const 1000))\n"
                                   "  (func (export \"tick\") (param i32) (result i32)\n"
                                   "    (global.set $c (i32.add (global.get $c) (local.get 0)))\n"
                                   "    (global.set $acc (i64.add (global.get $acc)\n"
                                   "      (i64.extend_i32_u (global.get $c))))\n"
                                   "    (i32.add (global.get $c) (global.get $k))))\n");
    REQUIRE(m != NULL);
    wasm_error err;
    uint8_t *obj = NULL;
    wasm_jit_image *img = compile_load(m, &obj);
    if (!img) {
        free(obj);
        wasm_module_free(m);
        return;
    }
    int32_t (*tick)(void *, wasm_instance *, int32_t) =
        (int32_t(*)(void *, wasm_instance *, int32_t))wasm_jit_find(img, "wasm_f0");
    REQUIRE(tick != NULL);
    wasm_linker *linker = wasm_linker_new();
    wasm_instance *interp = wasm_instance_new(m, linker, &err);
    wasm_instance *native = wasm_instance_new(m, linker, &err);
    REQUIRE(interp && native);
    wasm_extern f;
    REQUIRE(wasm_instance_export(interp, "tick", &f));
    static const int32_t steps[] = {1, -7, 0x7fffffff, 3, -2147483647};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        wasm_value arg = {.type = WASM_I32, .of.i32 = (uint32_t)steps[k]}, res;
        REQUIRE(wasm_call(f, &arg, &res) == WASM_TRAP_NONE);
        CHECK_EQ_U64((uint32_t)tick(NULL, native, steps[k]), res.of.i32);
    }
    const char *names[] = {"c", "acc"};
    for (int g = 0; g < 2; g++) {
        wasm_extern a, b;
        REQUIRE(wasm_instance_export(interp, names[g], &a) &&
                wasm_instance_export(native, names[g], &b));
        wasm_value va = wasm_global_get(a), vb = wasm_global_get(b);
        if (g == 0)
            CHECK_EQ_U64(vb.of.i32, va.of.i32);
        else
            CHECK_EQ_U64(vb.of.i64, va.of.i64);
    }
    wasm_instance_free(interp);
    wasm_instance_free(native);
    wasm_linker_free(linker);
    wasm_jit_unload(img);
    free(obj);
    wasm_module_free(m);
}
