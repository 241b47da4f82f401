/*
 * test_jit_compile.c - the native tier (jit_compile.c, jit_run.c) against
 * the interpreter: the same module loaded twice, one copy compiled with
 * wasm_module_compile_native, and every call made on both through
 * wasm_call (results, traps, globals afterwards). Integer functions
 * (recursion, loops, if/else, br_if to a result, select, shifts and
 * rotates past the width, comparisons, conversions, a branch out of the
 * function), traps (explicit ones, a dropped out-of-bounds load, loads
 * LLVM would narrow, recursion without end), host imports, a loop stopped
 * at its deadline, fuel, SIMD, and tail calls across types (a million
 * deep). A function deeper in operands than the compiler's stack is
 * refused.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The same module loaded twice: one copy compiled to machine code, the
 * other interpreted, each instantiated. */
typedef struct pair {
    wasm_module *mi, *mn;
    wasm_linker *linker;
    wasm_instance *interp, *native;
} pair;

/* `wat` assembled by `load`, with the imports of `linker`, which the pair
 * takes. */
static bool pair_open_with(pair *p, const char *wat, wasm_linker *linker,
                           wasm_module *(*load)(const char *)) {
    memset(p, 0, sizeof *p);
    p->linker = linker;
    wasm_error err;
    p->mi = load(wat);
    p->mn = load(wat);
    if (!p->mi || !p->mn) return false;
    if (!wasm_module_compile_native(p->mn, &err)) {
        unit_fail(__FILE__, __LINE__, "compile: %s", err.msg);
        return false;
    }
    p->interp = wasm_instance_new(p->mi, p->linker, &err);
    p->native = wasm_instance_new(p->mn, p->linker, &err);
    if (!p->interp || !p->native) unit_fail(__FILE__, __LINE__, "instantiate: %s", err.msg);
    return p->interp && p->native;
}

static bool pair_open_linked(pair *p, const char *wat, wasm_linker *linker) {
    return pair_open_with(p, wat, linker, unit_load_wat);
}

static bool pair_open(pair *p, const char *wat) {
    return pair_open_linked(p, wat, wasm_linker_new());
}

static void pair_close(pair *p) {
    wasm_instance_free(p->interp);
    wasm_instance_free(p->native);
    wasm_linker_free(p->linker);
    wasm_module_free(p->mi);
    wasm_module_free(p->mn);
}

/* Bytes 8*half.. of a v128 value, as a number (lane order is memory order). */
static uint64_t v128_half(const wasm_value *v, int half) {
    uint64_t x;
    memcpy(&x, v->of.v128 + 8 * half, 8);
    return x;
}

/* Calls export `name` on both instances with the same arguments; the
 * traps and results must agree. Returns the native call's trap. */
static wasm_trap_code pair_call(pair *p, const char *name, const wasm_value *args,
                                const wasm_call_opts *opts, wasm_value *out) {
    wasm_extern fi, fn;
    if (!wasm_instance_export(p->interp, name, &fi) ||
        !wasm_instance_export(p->native, name, &fn)) {
        unit_fail(__FILE__, __LINE__, "no export %s", name);
        return WASM_TRAP_HOST;
    }
    wasm_value ri[4] = {0}, rn[4] = {0};
    wasm_trap_code ti = wasm_call_ex(fi, args, ri, opts), tn = wasm_call_ex(fn, args, rn, opts);
    if (ti != tn)
        unit_fail(__FILE__, __LINE__, "%s: native trap '%s', interpreter '%s'", name,
                  wasm_trap_message(tn), wasm_trap_message(ti));
    for (uint32_t i = 0; ti == WASM_TRAP_NONE && i < wasm_func_type(fn)->nresults; i++) {
        if (wasm_func_type(fn)->results[i] == WASM_V128) {
            if (memcmp(ri[i].of.v128, rn[i].of.v128, 16))
                unit_fail(__FILE__, __LINE__,
                          "%s: v128 result %u native %016llx%016llx, "
                          "interpreter %016llx%016llx",
                          name, i, (unsigned long long)v128_half(&rn[i], 1),
                          (unsigned long long)v128_half(&rn[i], 0),
                          (unsigned long long)v128_half(&ri[i], 1),
                          (unsigned long long)v128_half(&ri[i], 0));
        } else if (ri[i].of.i64 != rn[i].of.i64) {
            unit_fail(__FILE__, __LINE__, "%s: result %u native %llx, interpreter %llx", name, i,
                      (unsigned long long)rn[i].of.i64, (unsigned long long)ri[i].of.i64);
        }
    }
    if (out) *out = rn[0];
    return tn;
}

TEST(jit_compile_matches_the_interpreter) {
    pair p;
    if (!pair_open(&p, module_wat)) {
        pair_close(&p);
        return;
    }
    REQUIRE(wasm_module_is_native(p.mn) && !wasm_module_is_native(p.mi));
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++) {
        const call *c = &calls[k];
        wasm_value args[3];
        for (int a = 0; a < c->nargs; a++) {
            args[a].type = c->types[a];
            if (c->types[a] == WASM_I32)
                args[a].of.i32 = (uint32_t)c->args[a];
            else
                args[a].of.i64 = c->args[a];
        }
        CHECK(pair_call(&p, c->name, args, NULL, NULL) == WASM_TRAP_NONE);
    }
    pair_close(&p);
}

/* Globals are the instance's own cells: a compiled function given an
 * instance reads and writes them as the interpreter does on another
 * instance of the same module, call after call. */
TEST(jit_compile_globals_live_in_the_instance) {
    pair p;
    if (!pair_open(&p, "(module\n"
                       "  (global $c (export \"c\") (mut i32) (i32.const 5))\n"
                       "  (global $acc (export \"acc\") (mut i64) (i64.const -1))\n"
                       "  (global $k i32 (i32.const 1000))\n"
                       "  (func (export \"tick\") (param i32) (result i32)\n"
                       "    (global.set $c (i32.add (global.get $c) (local.get 0)))\n"
                       "    (global.set $acc (i64.add (global.get $acc)\n"
                       "      (i64.extend_i32_u (global.get $c))))\n"
                       "    (i32.add (global.get $c) (global.get $k))))\n")) {
        pair_close(&p);
        return;
    }
    static const int32_t steps[] = {1, -7, 0x7fffffff, 3, -2147483647};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        wasm_value arg = {.type = WASM_I32, .of.i32 = (uint32_t)steps[k]};
        CHECK(pair_call(&p, "tick", &arg, NULL, NULL) == WASM_TRAP_NONE);
    }
    const char *names[] = {"c", "acc"};
    for (int g = 0; g < 2; g++) {
        wasm_extern a, b;
        REQUIRE(wasm_instance_export(p.interp, names[g], &a) &&
                wasm_instance_export(p.native, names[g], &b));
        CHECK_EQ_U64(wasm_global_get(b).of.i64, wasm_global_get(a).of.i64);
    }
    pair_close(&p);
}

/* Traps in compiled code end the call with the interpreter's trap, and
 * the instance stays usable: explicit ones (unreachable, division,
 * conversion), an out-of-bounds load whose value is dropped (LLVM would
 * delete it), and recursion without end (the stack check, not a crash). */
TEST(jit_compile_traps_as_the_interpreter) {
    pair p;
    if (!pair_open(&p, "(module (memory 1)\n"
                       "  (func (export \"unreachable\") unreachable)\n"
                       "  (func (export \"div\") (param i32 i32) (result i32)\n"
                       "    (i32.div_s (local.get 0) (local.get 1)))\n"
                       "  (func (export \"rem\") (param i64 i64) (result i64)\n"
                       "    (i64.rem_s (local.get 0) (local.get 1)))\n"
                       "  (func (export \"trunc\") (param f64) (result i32)\n"
                       "    (i32.trunc_f64_u (local.get 0)))\n"
                       "  (func (export \"peek\") (param i32)\n"
                       "    (drop (i32.load16_u offset=65534 (local.get 0))))\n"
                       "  (func $deep (export \"deep\") (param i32) (result i32)\n"
                       "    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1)))\n"
                       "             (i32.const 1))))\n")) {
        pair_close(&p);
        return;
    }
    wasm_value a[2] = {{.type = WASM_I32, .of.i32 = 7}, {.type = WASM_I32, .of.i32 = 0}};
    CHECK(pair_call(&p, "unreachable", NULL, NULL, NULL) == WASM_TRAP_UNREACHABLE);
    CHECK(pair_call(&p, "div", a, NULL, NULL) == WASM_TRAP_DIV_ZERO);
    a[0].of.i32 = 0x80000000u;
    a[1].of.i32 = 0xffffffffu;
    CHECK(pair_call(&p, "div", a, NULL, NULL) == WASM_TRAP_INT_OVERFLOW);
    a[1].of.i32 = 2;
    CHECK(pair_call(&p, "div", a, NULL, NULL) == WASM_TRAP_NONE);
    wasm_value r[2] = {{.type = WASM_I64, .of.i64 = (uint64_t)INT64_MIN},
                       {.type = WASM_I64, .of.i64 = UINT64_MAX}};
    wasm_value out;
    CHECK(pair_call(&p, "rem", r, NULL, &out) == WASM_TRAP_NONE);
    CHECK_EQ_U64(out.of.i64, 0);
    double big = 5e9, nan = __builtin_nan("");
    wasm_value f = {.type = WASM_F64};
    memcpy(&f.of.i64, &big, 8);
    CHECK(pair_call(&p, "trunc", &f, NULL, NULL) == WASM_TRAP_INT_OVERFLOW);
    memcpy(&f.of.i64, &nan, 8);
    CHECK(pair_call(&p, "trunc", &f, NULL, NULL) == WASM_TRAP_BAD_CONVERSION);
    wasm_value at = {.type = WASM_I32, .of.i32 = 0};
    CHECK(pair_call(&p, "peek", &at, NULL, NULL) == WASM_TRAP_NONE);
    at.of.i32 = 2;
    CHECK(pair_call(&p, "peek", &at, NULL, NULL) == WASM_TRAP_OOB_MEMORY);
    CHECK(pair_call(&p, "deep", &at, NULL, NULL) == WASM_TRAP_STACK_EXHAUSTED);
    at.of.i32 = 0;
    CHECK(pair_call(&p, "peek", &at, NULL, NULL) == WASM_TRAP_NONE);
    pair_close(&p);
}

/* A load traps when any of its bytes is out of bounds, however little of
 * its value is used: LLVM narrows a load to the bytes it sees used (here
 * 4 of 8, 1 of 4, 1 of 2; a float's through a reinterpretation or a
 * vector lane), which would then all be in bounds. Each function at the
 * last address where its load fits, then one byte on. */
TEST(jit_compile_narrowed_loads_still_trap) {
    pair p;
    if (!pair_open(&p, "(module (memory 1)\n"
                       "  (func (export \"wrap64\") (param i32) (result i32)\n"
                       "    (i32.wrap_i64 (i64.load (local.get 0))))\n"
                       "  (func (export \"mask32\") (param i32) (result i32)\n"
                       "    (i32.and (i32.load (local.get 0)) (i32.const 0xff)))\n"
                       "  (func (export \"mask16\") (param i32) (result i32)\n"
                       "    (i32.and (i32.load16_u (local.get 0)) (i32.const 0xff)))\n"
                       "  (func (export \"store8\") (param i32)\n"
                       "    (i32.store8 (i32.const 0) (i32.load (local.get 0))))\n"
                       "  (func (export \"bits\") (param i32) (result i32)\n"
                       "    (i32.wrap_i64 (i64.reinterpret_f64 (f64.load (local.get 0)))))\n"
                       "  (func (export \"ext32\") (param i32) (result i64)\n"
                       "    (i64.and (i64.load32_u (local.get 0)) (i64.const 0xffff)))\n"
                       "  (func (export \"splat\") (param i32) (result i32)\n"
                       "    (i8x16.extract_lane_u 0 (f64x2.splat (f64.load (local.get 0)))))\n"
                       "  (func (export \"lane\") (param i32) (result i32)\n"
                       "    (i16x8.extract_lane_u 0 (f32x4.replace_lane 0 (v128.const i64x2 0 0)\n"
                       "      (f32.load (local.get 0)))))\n"
                       "  (func (export \"high\") (param i32) (result i64)\n"
                       "    (i64.shr_u (i64.load (local.get 0)) (i64.const 56)))\n"
                       "  (func (export \"const\") (result i32)\n"
                       "    (i32.wrap_i64 (i64.load (i32.const 65532)))))\n")) {
        pair_close(&p);
        return;
    }
    static const struct {
        const char *name;
        uint32_t width;
    } fns[] = {{"wrap64", 8}, {"mask32", 4}, {"mask16", 2}, {"store8", 4}, {"bits", 8},
               {"ext32", 4},  {"splat", 8},  {"lane", 4},   {"high", 8}};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        wasm_value at = {.type = WASM_I32, .of.i32 = 65536 - fns[k].width};
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_NONE);
        at.of.i32++;
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_OOB_MEMORY);
        at.of.i32 = 65535;
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_OOB_MEMORY);
    }
    CHECK_EQ_S64(pair_call(&p, "const", NULL, NULL, NULL), WASM_TRAP_OOB_MEMORY);
    pair_close(&p);
}

/* A load traps out of bounds however its value goes unused: LLVM deletes
 * a load it finds dead and sinks one into the branch that uses it. Each
 * function loads at its argument; one byte past the last fitting address
 * must trap in both tiers. */
TEST(jit_compile_unused_loads_still_trap) {
    pair p;
    if (!pair_open(&p, "(module (memory 1)\n"
                       "  (func (export \"local\") (param i32) (local i32)\n"
                       "    (local.set 1 (i32.load (local.get 0))))\n"
                       "  (func (export \"select\") (param i32) (result i32)\n"
                       "    (select (i32.const 1) (i32.load (local.get 0)) (i32.const 1)))\n"
                       "  (func (export \"times0\") (param i32) (result i64)\n"
                       "    (i64.mul (i64.load (local.get 0)) (i64.const 0)))\n"
                       "  (func (export \"lanes\") (param i32) (result i32)\n"
                       "    (i32x4.extract_lane 0 (i32x4.replace_lane 0 (v128.load (local.get 0))\n"
                       "      (i32.const 5))))\n"
                       "  (func (export \"branch\") (param i32) (result i32) (local i32)\n"
                       "    (local.set 1 (i32.load (local.get 0)))\n"
                       "    (if (result i32) (i32.eq (local.get 0) (i32.const 7))\n"
                       "      (then (local.get 1)) (else (i32.const 3))))\n"
                       "  (func (export \"loop\") (param i32) (local i32)\n"
                       "    (loop (local.set 1 (i32.load (local.get 0)))\n"
                       "      (br_if 0 (i32.eqz (i32.const 1)))))\n"
                       "  (func (export \"dropped\") (param i32)\n"
                       "    (drop (f64.load (local.get 0)))))\n")) {
        pair_close(&p);
        return;
    }
    static const struct {
        const char *name;
        uint32_t width;
    } fns[] = {{"local", 4},  {"select", 4}, {"times0", 8}, {"lanes", 16},
               {"branch", 4}, {"loop", 4},   {"dropped", 8}};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        wasm_value at = {.type = WASM_I32, .of.i32 = 65536 - fns[k].width};
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_NONE);
        at.of.i32++;
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_OOB_MEMORY);
    }
    pair_close(&p);
}

/* Memory at a trap holds exactly the stores before it. LLVM deletes a
 * store that a later one overwrites, merges neighbouring stores into one,
 * and keeps a location in a register through a loop; each would leave
 * other bytes than the interpreter when the later access traps. */
TEST(jit_compile_memory_at_a_trap_as_the_interpreter) {
    pair p;
    if (!pair_open(&p, "(module (memory 1)\n"
                       "  (func (export \"overwritten\") (param i32)\n"
                       "    (i32.store (local.get 0) (i32.const 0x11111111))\n"
                       "    (i64.store (local.get 0) (i64.const 0x2222222222222222)))\n"
                       "  (func (export \"neighbours\") (param i32)\n"
                       "    (i32.store (local.get 0) (i32.const 0x33333333))\n"
                       "    (i32.store offset=4 (local.get 0) (i32.const 0x44444444)))\n"
                       "  (func (export \"loop\") (param i32) (local i32)\n"
                       "    (loop\n"
                       "      (i32.store (i32.const 0) (local.get 1))\n"
                       "      (local.set 1 (i32.add (local.get 1) (i32.const 1)))\n"
                       "      (drop (i32.load (i32.add (local.get 0) (i32.shl (local.get 1)\n"
                       "        (i32.const 12)))))\n"
                       "      (br 0)))\n"
                       "  (func (export \"before_load\") (param i32) (result i32)\n"
                       "    (i32.store (i32.const 16) (i32.const 0x55555555))\n"
                       "    (i32.load offset=65536 (local.get 0))))\n")) {
        pair_close(&p);
        return;
    }
    static const struct {
        const char *name;
        uint32_t at;
    } fns[] = {{"overwritten", 65532}, {"neighbours", 65532}, {"loop", 0}, {"before_load", 0}};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        uint64_t ni, nn;
        uint8_t *mi = wasm_instance_memory(p.interp, &ni),
                *mn = wasm_instance_memory(p.native, &nn);
        memset(mi, 0, ni);
        memset(mn, 0, nn);
        wasm_value at = {.type = WASM_I32, .of.i32 = fns[k].at};
        CHECK_EQ_S64(pair_call(&p, fns[k].name, &at, NULL, NULL), WASM_TRAP_OOB_MEMORY);
        CHECK(ni == nn && memcmp(mi, mn, ni) == 0);
        CHECK(mi[fns[k].at] != 0 || mi[16] != 0); /* the stores before the trap are there */
    }
    pair_close(&p);
}

/* The byte offset in `m` of the first `op` byte in function `func`'s
 * instructions (after its one-byte empty locals vector); for `unreachable`
 * (0x00, also a local index), the one after `if` with no result. */
static uint32_t op_offset(const wasm_module *m, uint32_t func, uint8_t op) {
    const wasm_func *f = &m->funcs[func];
    for (uint32_t i = f->body_offset + 1; i < f->body_offset + f->body_size; i++)
        if (m->bytes[i] == op && (op != 0x00 || m->bytes[i - 1] == 0x40)) return i;
    return 0;
}

/* A trap's place, wasm_last_trap_site: the innermost function and, in the
 * native tier, the trapping instruction's offset (a fault of a load, a
 * store or a v128 load; a division; unreachable; a callee's trap); the
 * interpreter names the function. */
TEST(jit_compile_traps_name_their_place) {
    pair p;
    if (!pair_open(&p, "(module (memory 1)\n"
                       "  (func (export \"load\") (param i32) (result i32)\n"
                       "    (i32.add (i32.const 1) (i32.load offset=4 (local.get 0))))\n"
                       "  (func (export \"store\") (param i32)\n"
                       "    (i64.store (local.get 0) (i64.const 5)))\n"
                       "  (func (export \"div\") (param i32) (result i32)\n"
                       "    (i32.div_u (i32.const 1) (local.get 0)))\n"
                       "  (func (export \"deep\") (param i32) (result i32)\n"
                       "    (i32.mul (i32.const 3) (call 0 (local.get 0))))\n"
                       "  (func (export \"unreach\") (param i32) (result i32)\n"
                       "    (if (local.get 0) (then unreachable)) (i32.const 0))\n"
                       "  (func (export \"v\") (param i32) (result i32)\n"
                       "    (i32x4.extract_lane 1 (v128.load (local.get 0)))))\n")) {
        pair_close(&p);
        return;
    }
    const wasm_module *m = p.mn;
    static const struct {
        const char *name;
        uint32_t arg, func, at_func;
        uint8_t op;
    } cases[] = {{"load", 65533, 0, 0, 0x28}, {"store", 65530, 1, 1, 0x37},
                 {"div", 0, 2, 2, 0x6e},      {"deep", 65533, 3, 0, 0x28},
                 {"unreach", 1, 4, 4, 0x00},  {"v", 65530, 5, 5, 0xfd}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        wasm_value arg = {.type = WASM_I32, .of.i32 = cases[k].arg}, res[1];
        wasm_extern fi, fn;
        CHECK(wasm_instance_export(p.interp, cases[k].name, &fi));
        CHECK(wasm_instance_export(p.native, cases[k].name, &fn));
        wasm_trap_site site;
        CHECK(wasm_call(fi, &arg, res) != WASM_TRAP_NONE);
        CHECK(wasm_last_trap_site(&site));
        CHECK_EQ_S64(site.func, cases[k].at_func);
        CHECK(site.offset == WASM_OFFSET_UNKNOWN);
        CHECK(wasm_call(fn, &arg, res) != WASM_TRAP_NONE);
        CHECK(wasm_last_trap_site(&site));
        CHECK(site.module == m);
        CHECK_EQ_S64(site.func, cases[k].at_func);
        CHECK_EQ_S64(site.offset, op_offset(m, cases[k].at_func, cases[k].op));
        char text[300];
        snprintf(text, sizeof text, "func[%u] at offset 0x%x", cases[k].at_func,
                 op_offset(m, cases[k].at_func, cases[k].op));
        char got[300];
        CHECK_STR(wasm_trap_site_text(&site, got, sizeof got), text);
    }
    /* a call that returns leaves no place behind */
    wasm_value arg = {.type = WASM_I32, .of.i32 = 4}, res[1];
    wasm_extern f;
    CHECK(wasm_instance_export(p.native, "div", &f));
    CHECK_EQ_S64(wasm_call(f, &arg, res), WASM_TRAP_NONE);
    wasm_trap_site site;
    CHECK(!wasm_last_trap_site(&site));
    pair_close(&p);
}

static wasm_trap_code host_twice(void *env, wasm_instance *caller, const wasm_value *args,
                                 wasm_value *results) {
    (void)caller;
    ++*(int *)env;
    results[0] = (wasm_value){.type = WASM_I64, .of.i64 = args[0].of.i64 * 2};
    return args[0].of.i64 == 13 ? WASM_TRAP_HOST : WASM_TRAP_NONE;
}

/* An imported host function called from compiled code: arguments and
 * result cross, a trap it returns ends the call. */
TEST(jit_compile_calls_host_functions) {
    static const char wat[] =
        "(module (import \"env\" \"twice\" (func $t (param i64) (result i64)))\n"
        "  (func (export \"f\") (param i64) (result i64)\n"
        "    (i64.add (call $t (local.get 0)) (i64.const 1))))";
    wasm_module *m = unit_load_wat(wat);
    REQUIRE(m != NULL);
    wasm_error err;
    REQUIRE(wasm_module_compile_native(m, &err));
    int calls_made = 0;
    wasm_linker *l = wasm_linker_new();
    wasm_valtype i64 = WASM_I64;
    REQUIRE(wasm_linker_func(l, "env", "twice", 1, &i64, 1, &i64, host_twice, &calls_made, &err));
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    REQUIRE(inst != NULL);
    wasm_extern f;
    REQUIRE(wasm_instance_export(inst, "f", &f));
    wasm_value arg = {.type = WASM_I64, .of.i64 = 20}, res;
    CHECK(wasm_call(f, &arg, &res) == WASM_TRAP_NONE);
    CHECK_EQ_U64(res.of.i64, 41);
    arg.of.i64 = 13;
    CHECK(wasm_call(f, &arg, &res) == WASM_TRAP_HOST);
    CHECK_EQ_U64(calls_made, 2);
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}

/* A compiled loop without end stops at its deadline, through the check at
 * its header. */
TEST(jit_compile_loops_stop_at_the_deadline) {
    wasm_module *m = unit_load_wat("(module (func (export \"spin\") (loop $l (br $l))))");
    REQUIRE(m != NULL);
    wasm_error err;
    REQUIRE(wasm_module_compile_native(m, &err));
    wasm_linker *l = wasm_linker_new();
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    REQUIRE(inst != NULL);
    wasm_extern f;
    REQUIRE(wasm_instance_export(inst, "spin", &f));
    wasm_call_opts opts = {.deadline_ms = 50};
    CHECK(wasm_call_ex(f, NULL, NULL, &opts) == WASM_TRAP_INTERRUPTED);
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}

static int poking; /* atomic: poke_often runs while set */

static void *poke_often(void *arg) {
    while (__atomic_load_n(&poking, __ATOMIC_SEQ_CST)) {
        wasm_interrupt(arg); /* another instance: pokes every running call */
        usleep(50);
    }
    return NULL;
}

/* A check's slow path that goes on must leave the loop's values as they
 * were: it is called in the preserve_most convention, through a thunk that
 * saves what C may clobber (jit_run.c). Another thread interrupts a third
 * instance all along, which pokes the running loop's context again and
 * again (jit_watch.c); the loop, with more values live than there are
 * callee-saved registers, floats included, must still compute what the
 * interpreter does, and its instance must not count as interrupted. */
TEST(jit_compile_checks_keep_the_loop_values) {
    pair p;
    REQUIRE(pair_open(&p, "(module (func (export \"mix\") (param $n i32) (result i64)"
                          "  (local $a i64) (local $b i64) (local $c i64) (local $d i64)"
                          "  (local $e i64) (local $f i64) (local $g i64) (local $h i64)"
                          "  (local $x f64) (local $y f64)"
                          "  (local.set $a (i64.const 1)) (local.set $b (i64.const 2))"
                          "  (local.set $c (i64.const 3)) (local.set $d (i64.const 4))"
                          "  (loop $l"
                          "    (local.set $a (i64.add (i64.mul (local.get $a) (i64.const 3))"
                          "                           (local.get $b)))"
                          "    (local.set $b (i64.xor (local.get $b) (i64.shl (local.get $c)"
                          "                                                   (i64.const 1))))"
                          "    (local.set $c (i64.add (local.get $c) (local.get $d)))"
                          "    (local.set $d (i64.rotl (local.get $d) (local.get $e)))"
                          "    (local.set $e (i64.add (local.get $e) (i64.const 7)))"
                          "    (local.set $f (i64.xor (local.get $f) (local.get $a)))"
                          "    (local.set $g (i64.add (local.get $g) (local.get $f)))"
                          "    (local.set $h (i64.sub (local.get $h) (local.get $g)))"
                          "    (local.set $x (f64.add (local.get $x) (f64.const 1.5)))"
                          "    (local.set $y (f64.add (f64.mul (local.get $y) (f64.const 0.5))"
                          "                           (local.get $x)))"
                          "    (local.set $n (i32.sub (local.get $n) (i32.const 1)))"
                          "    (br_if $l (local.get $n)))"
                          "  (i64.xor (i64.xor (i64.xor (local.get $a) (local.get $b))"
                          "                    (i64.xor (local.get $c) (local.get $d)))"
                          "    (i64.xor (i64.xor (i64.xor (local.get $e) (local.get $f))"
                          "                      (i64.xor (local.get $g) (local.get $h)))"
                          "      (i64.xor (i64.reinterpret_f64 (local.get $x))"
                          "               (i64.reinterpret_f64 (local.get $y)))))))"));
    wasm_module *om = unit_load_wat("(module)");
    REQUIRE(om != NULL);
    wasm_error err;
    wasm_instance *other = wasm_instance_new(om, p.linker, &err);
    REQUIRE(other != NULL);
    __atomic_store_n(&poking, 1, __ATOMIC_SEQ_CST);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, poke_often, other) == 0);
    wasm_value n = {.type = WASM_I32, .of.i32 = 3000000};
    for (int round = 0; round < 3; round++)
        CHECK_EQ_S64(pair_call(&p, "mix", &n, NULL, NULL), WASM_TRAP_NONE);
    __atomic_store_n(&poking, 0, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    wasm_instance_free(other);
    wasm_module_free(om);
    pair_close(&p);
}

/* Fuel counts function entries and loop iterations the same way in both
 * tiers: a budget stops both at the same iteration, and what a call used
 * is gone for the rest of it (a callee's entries count). */
TEST(jit_compile_counts_fuel_as_the_interpreter) {
    pair p;
    REQUIRE(pair_open(&p, "(module (global $n (export \"n\") (mut i32) (i32.const 0))"
                          "  (func $tick (global.set $n (i32.add (global.get $n) (i32.const 1))))"
                          "  (func (export \"spin\") (loop $l (call $tick) (br $l)))"
                          "  (func (export \"steps\") (param i32) (local i32)"
                          "    (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1)))"
                          "      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))))"));
    for (uint64_t budget = 1; budget < 40; budget += 7) {
        wasm_call_opts opts = {.fuel = budget};
        CHECK_EQ_S64(pair_call(&p, "spin", NULL, &opts, NULL), WASM_TRAP_FUEL_EXHAUSTED);
        wasm_extern gi, gn;
        REQUIRE(wasm_instance_export(p.interp, "n", &gi));
        REQUIRE(wasm_instance_export(p.native, "n", &gn));
        wasm_value vi = wasm_global_get(gi), vn = wasm_global_get(gn);
        CHECK_EQ_U64(vn.of.i32, vi.of.i32);
    }
    /* 10 iterations and the entry: 11 units are enough, 10 are not */
    wasm_value ten = {.type = WASM_I32, .of.i32 = 10};
    CHECK_EQ_S64(pair_call(&p, "steps", &ten, &(wasm_call_opts){.fuel = 11}, NULL), WASM_TRAP_NONE);
    CHECK_EQ_S64(pair_call(&p, "steps", &ten, &(wasm_call_opts){.fuel = 10}, NULL),
                 WASM_TRAP_FUEL_EXHAUSTED);
    pair_close(&p);
}

/* The module is untrusted: a function deeper in operands than the
 * compiler's stack is refused, not written past its end. */
static size_t put_leb(uint8_t *p, uint32_t v) {
    size_t n = 0;
    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

TEST(jit_compile_refuses_too_many_operands) {
    /* (func (result i32) i32.const 1 x N, i32.add x N-1), in binary: the
     * text helper's buffer is smaller than this */
    enum { N = 20000 };
    uint32_t body = 1 + 2 * N + (N - 1) + 1;
    uint8_t *bin = malloc(body + 64), *p = bin;
    REQUIRE(bin != NULL);
    static const uint8_t head[] = {0, 'a',  's', 'm', 1,    0, 0, 0, 1, 5,
                                   1, 0x60, 0,   1,   0x7f, 3, 2, 1, 0, 10};
    memcpy(p, head, sizeof head);
    p += sizeof head;
    uint8_t tmp[8];
    size_t lb = put_leb(tmp, body);
    p += put_leb(p, 1 + (uint32_t)lb + body);
    *p++ = 1;
    p += put_leb(p, body);
    *p++ = 0; /* no locals */
    for (int i = 0; i < N; i++)
        *p++ = 0x41, *p++ = 1;
    for (int i = 1; i < N; i++)
        *p++ = 0x6a;
    *p++ = 0x0b;
    wasm_error err;
    wasm_module *m = wasm_module_load(bin, (size_t)(p - bin), &err);
    free(bin);
    if (!m) unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
    REQUIRE(m != NULL);
    CHECK(!wasm_module_compile_native(m, &err));
    CHECK(strstr(err.msg, "functions this deep in operands") != NULL);
    wasm_module_free(m);
}

/* ---- SIMD ------------------------------------------------------------------ */

/* v128 everywhere a value goes: parameters, results (with scalars, in a
 * multi-value type), locals, a loop's parameter, select, a global, memory
 * (with the traps of a load LLVM would narrow or delete), and calls
 * through cells: call_indirect, an import compiled in another module, a
 * host function. */
static const char simd_wat[] =
    "(module\n"
    "  (import \"env\" \"rev\" (func $rev (param v128 i32) (result v128)))\n"
    "  (import \"env\" \"host\" (func $host (param i32 v128) (result v128)))\n"
    "  (memory 1)\n"
    "  (type $mix (func (param i32 v128 f64 v128) (result f64 v128 i32)))\n"
    "  (table funcref (elem $swap $blend))\n"
    "  (global $g (export \"g\") (mut v128) (v128.const i32x4 1 2 3 4))\n"
    "  (func $swap (type $mix)\n"
    "    (local.get 2) (local.get 3) (i32.add (local.get 0) (i32x4.extract_lane 3 (local.get "
    "1))))\n"
    "  (func $blend (type $mix)\n"
    "    (f64.add (local.get 2) (f64x2.extract_lane 1 (local.get 3)))\n"
    "    (v128.bitselect (local.get 1) (local.get 3) (i32x4.splat (local.get 0)))\n"
    "    (i8x16.bitmask (local.get 1)))\n"
    "  (func (export \"indirect\") (param i32 v128 v128) (result v128) (local f64 v128 i32)\n"
    "    (call_indirect (type $mix) (i32.const 0xff00ff) (local.get 1) (f64.const 2.5)\n"
    "      (local.get 2) (local.get 0))\n"
    "    (local.set 5) (local.set 4) (local.set 3)\n"
    "    (i64x2.replace_lane 0 (i32x4.replace_lane 3 (local.get 4) (local.get 5))\n"
    "      (i64.trunc_sat_f64_s (local.get 3))))\n"
    "  (func (export \"imports\") (param v128 i32) (result v128)\n"
    "    (call $host (local.get 1) (call $rev (local.get 0) (local.get 1))))\n"
    "  (func (export \"ints\") (param v128 v128) (result v128)\n"
    "    (i8x16.add_sat_u (i16x8.q15mulr_sat_s (local.get 0) (local.get 1))\n"
    "      (i8x16.sub (i8x16.swizzle (local.get 0) (local.get 1))\n"
    "        (i32x4.dot_i16x8_s (i8x16.narrow_i16x8_s (local.get 0) (local.get 1))\n"
    "          (i16x8.extmul_high_i8x16_u (local.get 1)\n"
    "            (i8x16.avgr_u (local.get 0) (local.get 1)))))))\n"
    "  (func (export \"shifts\") (param v128 i32) (result v128)\n"
    "    (v128.xor (i8x16.shl (local.get 0) (local.get 1))\n"
    "      (v128.xor (i16x8.shr_s (local.get 0) (local.get 1))\n"
    "        (v128.xor (i32x4.shr_u (local.get 0) (local.get 1))\n"
    "          (i64x2.shl (local.get 0) (local.get 1))))))\n"
    "  (func (export \"floats\") (param v128 v128) (result v128)\n"
    "    (f32x4.add (f32x4.min (local.get 0) (local.get 1))\n"
    "      (f32x4.mul (f32x4.pmax (local.get 0) (local.get 1)) (f32x4.nearest (local.get 1)))))\n"
    "  (func (export \"doubles\") (param v128 v128) (result v128)\n"
    "    (f64x2.max (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (local.get 0)))\n"
    "      (f64x2.convert_low_i32x4_u (i32x4.trunc_sat_f64x2_s_zero (f64x2.sqrt (local.get "
    "1))))))\n"
    "  (func (export \"lanes\") (param v128 v128) (result i64)\n"
    "    (i64.add (i64x2.extract_lane 1 (i8x16.shuffle 0 17 2 19 4 21 6 23 31 30 29 28 3 2 1 0\n"
    "                                     (local.get 0) (local.get 1)))\n"
    "      (i64.extend_i32_u (i32.add\n"
    "        (i32.add (i8x16.extract_lane_s 5 (local.get 0)) (i16x8.extract_lane_u 7 (local.get "
    "1)))\n"
    "        (i32.add (i32.shl (i16x8.all_true (local.get 0)) (i32.const 20))\n"
    "          (i32.shl (v128.any_true (local.get 1)) (i32.const 21)))))))\n"
    "  (func (export \"mem\") (param i32 v128) (result v128)\n"
    "    (v128.store offset=3 align=1 (local.get 0) (local.get 1))\n"
    "    (v128.store16_lane offset=40 5 (local.get 0) (local.get 1))\n"
    "    (i16x8.add (v128.load8x8_s offset=1 (local.get 0))\n"
    "      (v128.load64_lane offset=9 1 (local.get 0) (v128.load32_splat offset=5 (local.get "
    "0)))))\n"
    "  (func (export \"peek\") (param i32) (result i32)\n"
    "    (i32x4.extract_lane 0 (v128.load (local.get 0))))\n"
    "  (func (export \"poke\") (param i32) (drop (v128.load32_splat (local.get 0))))\n"
    "  (func (export \"tick\") (param v128) (result v128)\n"
    "    (global.set $g (i64x2.mul (global.get $g) (local.get 0)))\n"
    "    (i32x4.add (global.get $g) (v128.const i32x4 -1 0 1 0x7fffffff)))\n"
    "  (func (export \"pick\") (param v128 v128 i32) (result v128)\n"
    "    (block (result v128) (select (local.get 0) (local.get 1) (local.get 2))))\n"
    "  (func (export \"loop\") (param v128 i32) (result v128)\n"
    "    (local.get 0)\n"
    "    (loop $l (param v128) (result v128)\n"
    "      (i32x4.add (v128.const i32x4 1 2 3 4))\n"
    "      (br_if $l (local.tee 1 (i32.sub (local.get 1) (i32.const 1)))))))\n";

/* The import "env" "host": each byte of its v128 plus its i32. */
static wasm_trap_code host_add(void *env, wasm_instance *caller, const wasm_value *args,
                               wasm_value *results) {
    (void)env, (void)caller;
    results[0].type = WASM_V128;
    for (int i = 0; i < 16; i++)
        results[0].of.v128[i] = (uint8_t)(args[1].of.v128[i] + args[0].of.i32);
    return WASM_TRAP_NONE;
}

static wasm_value v128_of(const void *bytes) {
    wasm_value v = {.type = WASM_V128};
    memcpy(v.of.v128, bytes, 16);
    return v;
}

static wasm_value i32_of(uint32_t x) {
    return (wasm_value){.type = WASM_I32, .of.i32 = x};
}

TEST(jit_compile_simd_matches_the_interpreter) {
    /* "env" "rev" is compiled code of another module */
    wasm_module *helper =
        unit_load_wat("(module (func (export \"rev\") (param v128 i32) (result v128)\n"
                      "  (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0\n"
                      "    (i8x16.add (local.get 0) (i8x16.splat (local.get 1))) (local.get 0))))");
    REQUIRE(helper != NULL);
    wasm_error err;
    REQUIRE(wasm_module_compile_native(helper, &err));
    wasm_linker *l = wasm_linker_new();
    wasm_instance *hi = wasm_instance_new(helper, l, &err);
    REQUIRE(hi != NULL);
    REQUIRE(wasm_linker_instance(l, "env", hi, &err));
    wasm_valtype hp[2] = {WASM_I32, WASM_V128}, hr = WASM_V128;
    REQUIRE(wasm_linker_func(l, "env", "host", 2, hp, 1, &hr, host_add, NULL, &err));
    pair p;
    if (!pair_open_linked(&p, simd_wat, l)) {
        pair_close(&p);
        wasm_instance_free(hi);
        wasm_module_free(helper);
        return;
    }
    uint8_t bytes[16];
    for (int i = 0; i < 16; i++)
        bytes[i] = (uint8_t)(i * 37 + 11);
    static const int16_t i16s[8] = {-32768, -32768, 32767, -1, 300, -300, 12345, 0};
    /* floats: one NaN pattern only (the canonical one), which both tiers
     * hand on alike; min/max of any other NaN may differ, as the spec allows */
    static const uint32_t f32a[4] = {0x3fc00000u, 0x80000000u, 0xff7fffffu, 0x7f800000u};
    static const uint32_t f32b[4] = {0x3f800000u, 0x00000000u, 0x7fc00000u, 0x40200000u};
    static const uint32_t f32c[4] = {0xc0490fdbu, 0x3effffffu, 0x4b000001u, 0xbf000000u};
    static const uint64_t f64a[2] = {0x8000000000000000ull, 0x7e37e43c8800759cull};
    static const uint64_t f64b[2] = {0x4010000000000000ull, 0x7ff8000000000000ull};
    static const uint64_t f64c[2] = {0xc1e0000000000000ull, 0x41f0000000000001ull};
    wasm_value ints[3] = {v128_of(bytes), v128_of(i16s), v128_of(f32a)};
    wasm_value floats[3] = {v128_of(f32a), v128_of(f32b), v128_of(f32c)};
    wasm_value doubles[3] = {v128_of(f64a), v128_of(f64b), v128_of(f64c)};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            wasm_value vi[2] = {ints[a], ints[b]}, vf[2] = {floats[a], floats[b]};
            wasm_value vd[2] = {doubles[a], doubles[b]};
            CHECK(pair_call(&p, "ints", vi, NULL, NULL) == WASM_TRAP_NONE);
            CHECK(pair_call(&p, "lanes", vi, NULL, NULL) == WASM_TRAP_NONE);
            CHECK(pair_call(&p, "floats", vf, NULL, NULL) == WASM_TRAP_NONE);
            CHECK(pair_call(&p, "doubles", vd, NULL, NULL) == WASM_TRAP_NONE);
            for (uint32_t k = 0; k < 2; k++) {
                wasm_value three[3] = {ints[a], ints[b], i32_of(k)};
                CHECK(pair_call(&p, "pick", three, NULL, NULL) == WASM_TRAP_NONE);
                wasm_value ind[3] = {i32_of(k), ints[a], ints[b]};
                CHECK(pair_call(&p, "indirect", ind, NULL, NULL) == WASM_TRAP_NONE);
            }
        }
    static const uint32_t counts[] = {0, 3, 9, 17, 33, 63, 69, 0xffffffffu};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
        for (int a = 0; a < 3; a++) {
            wasm_value args[2] = {ints[a], i32_of(counts[k])};
            CHECK(pair_call(&p, "shifts", args, NULL, NULL) == WASM_TRAP_NONE);
            CHECK(pair_call(&p, "imports", args, NULL, NULL) == WASM_TRAP_NONE);
        }
    static const uint32_t addrs[] = {0, 100, 65480, 65521};
    for (size_t k = 0; k < sizeof addrs / sizeof addrs[0]; k++) {
        wasm_value args[2] = {i32_of(addrs[k]), ints[k % 3]};
        CHECK(pair_call(&p, "mem", args, NULL, NULL) ==
              (k == 3 ? WASM_TRAP_OOB_MEMORY : WASM_TRAP_NONE));
    }
    /* an access traps when any of its bytes is out of bounds, whatever
     * part of its value is used, or none */
    wasm_value at = i32_of(65520);
    CHECK(pair_call(&p, "peek", &at, NULL, NULL) == WASM_TRAP_NONE);
    at.of.i32 = 65532;
    CHECK(pair_call(&p, "peek", &at, NULL, NULL) == WASM_TRAP_OOB_MEMORY);
    CHECK(pair_call(&p, "poke", &at, NULL, NULL) == WASM_TRAP_NONE);
    at.of.i32 = 65533;
    CHECK(pair_call(&p, "poke", &at, NULL, NULL) == WASM_TRAP_OOB_MEMORY);
    for (int a = 0; a < 3; a++) {
        wasm_value args[2] = {ints[a], i32_of(5)};
        CHECK(pair_call(&p, "tick", args, NULL, NULL) == WASM_TRAP_NONE);
        CHECK(pair_call(&p, "loop", args, NULL, NULL) == WASM_TRAP_NONE);
    }
    wasm_extern gi, gn;
    REQUIRE(wasm_instance_export(p.interp, "g", &gi) && wasm_instance_export(p.native, "g", &gn));
    wasm_value vi = wasm_global_get(gi), vn = wasm_global_get(gn);
    CHECK_MEM(vn.of.v128, vi.of.v128, 16);
    /* the stores left the same bytes */
    uint64_t ni, nn;
    const uint8_t *mi = wasm_instance_memory(p.interp, &ni),
                  *mn = wasm_instance_memory(p.native, &nn);
    REQUIRE(mi && mn && ni == nn);
    CHECK_MEM(mn, mi, (size_t)ni);
    pair_close(&p);
    wasm_instance_free(hi);
    wasm_module_free(helper);
}

/* ---- tail calls ------------------------------------------------------------- */

/* Like unit_load_wat, with wat2wasm's tail calls on (the shared helper
 * assembles Wasm 2.0 only). */
static wasm_module *load_tail_wat(const char *wat) {
    char src[] = "/tmp/wasp-tail-XXXXXX";
    int fd = mkstemp(src);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(src);
        return NULL;
    }
    fputs(wat, f);
    fclose(f);
    char out[64], cmd[160];
    snprintf(out, sizeof out, "%s.wasm", src);
    snprintf(cmd, sizeof cmd, "wat2wasm --enable-tail-call %s -o %s", src, out);
    wasm_module *m = NULL;
    static uint8_t buf[16384];
    if (system(cmd) == 0 && (f = fopen(out, "rb"))) {
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        wasm_error err;
        m = wasm_module_load(buf, n, &err);
        if (!m) unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
    } else {
        unit_fail(__FILE__, __LINE__, "wat2wasm could not assemble the test module");
    }
    unlink(src);
    unlink(out);
    return m;
}

/* return_call and return_call_indirect between functions of different
 * types (stack arguments growing and shrinking, four i64 results, which
 * do not fit in registers), a million deep across types in constant
 * stack, and to what compiled code of this instance is not: a host
 * function and another module's compiled code (imported, and through the
 * table), called and then returned from. The three traps of
 * return_call_indirect, and a type that is a duplicate of the one the
 * function was declared with. */
static const char tail_wat[] =
    "(module\n"
    "  (import \"env\" \"twice\" (func $host (param i64) (result i64)))\n"
    "  (import \"env\" \"dbl\" (func $dbl (param i64) (result i64)))\n"
    "  (type $i32 (func (param i32) (result i32)))\n"
    "  (type $i64 (func (param i64) (result i32)))\n"
    "  (type $i32-dup (func (param i32) (result i32)))\n"
    "  (type $to64 (func (param i64) (result i64)))\n"
    "  (type $four (func (param i32) (result i64 i64 i64 i64)))\n"
    "  (table 8 funcref)\n"
    "  (elem (i32.const 0) $ieven $iodd $dup $host $dbl $quad)\n"
    "  (func $even (export \"even\") (param i64) (result i32)\n"
    "    (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 44))\n"
    "      (else (return_call $odd (i64.const 1) (f64.const 2.5) (i64.const 3) (i64.const 4)\n"
    "        (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9)\n"
    "        (i32.wrap_i64 (i64.sub (local.get 0) (i64.const 1)))))))\n"
    "  (func $odd (export \"odd\") (param i64 f64 i64 i64 i64 i64 i64 i64 i64 i32) (result i32)\n"
    "    (if (result i32) (i32.eqz (local.get 9))\n"
    "      (then (i32.add (i32.const 99) (i32.wrap_i64 (i64.add (local.get 0) (local.get 8)))))\n"
    "      (else (return_call $even (i64.extend_i32_u (i32.sub (local.get 9) (i32.const 1)))))))\n"
    "  (func $ieven (export \"ieven\") (type $i32)\n"
    "    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 44))\n"
    "      (else (return_call_indirect (type $i64)\n"
    "        (i64.extend_i32_u (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))\n"
    "  (func $iodd (type $i64)\n"
    "    (if (result i32) (i64.eqz (local.get 0)) (then (i32.const 99))\n"
    "      (else (return_call_indirect (type $i32)\n"
    "        (i32.wrap_i64 (i64.sub (local.get 0) (i64.const 1))) (i32.const 0)))))\n"
    "  (func $dup (type $i32-dup) (i32.mul (local.get 0) (i32.const 3)))\n"
    "  (func (export \"dispatch\") (param i32 i32) (result i32)\n"
    "    (return_call_indirect (type $i32) (local.get 1) (local.get 0)))\n"
    "  (func (export \"dispatch64\") (param i32 i64) (result i64)\n"
    "    (return_call_indirect (type $to64) (local.get 1) (local.get 0)))\n"
    "  (func (export \"call64\") (param i32 i64) (result i64)\n"
    "    (i64.add (call_indirect (type $to64) (local.get 1) (local.get 0)) (i64.const 1)))\n"
    "  (func (export \"to_host\") (param i64) (result i64) (return_call $host (local.get 0)))\n"
    "  (func (export \"to_dbl\") (param i64) (result i64) (return_call $dbl (local.get 0)))\n"
    "  (func $quad (type $four)\n"
    "    (i64.extend_i32_u (local.get 0)) (i64.const -2) (i64.const 3)\n"
    "    (i64.extend_i32_s (local.get 0)))\n"
    "  (func $quad2 (export \"quad2\") (param i64 f32 i32) (result i64 i64 i64 i64)\n"
    "    (if (i32.eqz (local.get 2)) (then (return_call $quad (i32.wrap_i64 (local.get 0)))))\n"
    "    (return_call_indirect (type $four) (i32.wrap_i64 (local.get 0)) (i32.const 5)))\n"
    "  (func (export \"sum4\") (param i64 i32) (result i64)\n"
    "    (call $quad2 (local.get 0) (f32.const 1) (local.get 1))\n"
    "    (i64.add) (i64.add) (i64.add))\n"
    ")\n";

TEST(jit_compile_tail_calls_across_types) {
    wasm_module *helper = unit_load_wat("(module (func (export \"dbl\") (param i64) (result i64)\n"
                                        "  (i64.shl (local.get 0) (i64.const 1))))");
    REQUIRE(helper != NULL);
    wasm_error err;
    REQUIRE(wasm_module_compile_native(helper, &err));
    wasm_linker *l = wasm_linker_new();
    wasm_instance *hi = wasm_instance_new(helper, l, &err);
    REQUIRE(hi != NULL);
    REQUIRE(wasm_linker_instance(l, "env", hi, &err));
    int host_calls = 0;
    wasm_valtype i64 = WASM_I64;
    REQUIRE(wasm_linker_func(l, "env", "twice", 1, &i64, 1, &i64, host_twice, &host_calls, &err));
    pair p;
    if (!pair_open_with(&p, tail_wat, l, load_tail_wat)) {
        pair_close(&p);
        wasm_instance_free(hi);
        wasm_module_free(helper);
        return;
    }
    REQUIRE(wasm_module_is_native(p.mn));
    static const uint64_t depths[] = {0, 1, 2, 77, 1000000, 1000001};
    wasm_value out;
    for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        wasm_value n64 = {.type = WASM_I64, .of.i64 = depths[k]};
        wasm_value n32 = i32_of((uint32_t)depths[k]);
        CHECK(pair_call(&p, "even", &n64, NULL, &out) == WASM_TRAP_NONE);
        CHECK_EQ_U64(out.of.i32, depths[k] % 2 ? 109 : 44);
        CHECK(pair_call(&p, "ieven", &n32, NULL, &out) == WASM_TRAP_NONE);
        CHECK_EQ_U64(out.of.i32, depths[k] % 2 ? 99 : 44);
    }
    /* return_call_indirect's traps, and a duplicate type's function */
    wasm_value d[2] = {i32_of(2), i32_of(5)};
    CHECK(pair_call(&p, "dispatch", d, NULL, &out) == WASM_TRAP_NONE);
    CHECK_EQ_U64(out.of.i32, 15);
    d[0].of.i32 = 1;
    CHECK(pair_call(&p, "dispatch", d, NULL, NULL) == WASM_TRAP_SIGNATURE_MISMATCH);
    d[0].of.i32 = 7;
    CHECK(pair_call(&p, "dispatch", d, NULL, NULL) == WASM_TRAP_NULL_CALL);
    d[0].of.i32 = 8;
    CHECK(pair_call(&p, "dispatch", d, NULL, NULL) == WASM_TRAP_UNDEFINED_ELEMENT);
    d[0].of.i32 = 0xffffffffu;
    CHECK(pair_call(&p, "dispatch", d, NULL, NULL) == WASM_TRAP_UNDEFINED_ELEMENT);
    /* through the runtime: a host function and another module's code,
     * from the table and as imports */
    wasm_value x[2] = {i32_of(3), {.type = WASM_I64, .of.i64 = 21}};
    CHECK(pair_call(&p, "dispatch64", x, NULL, &out) == WASM_TRAP_NONE);
    CHECK_EQ_U64(out.of.i64, 42);
    CHECK(pair_call(&p, "call64", x, NULL, &out) == WASM_TRAP_NONE);
    CHECK_EQ_U64(out.of.i64, 43);
    x[0].of.i32 = 4;
    CHECK(pair_call(&p, "dispatch64", x, NULL, &out) == WASM_TRAP_NONE);
    CHECK(pair_call(&p, "call64", x, NULL, &out) == WASM_TRAP_NONE);
    x[0].of.i32 = 2;
    CHECK(pair_call(&p, "dispatch64", x, NULL, NULL) == WASM_TRAP_SIGNATURE_MISMATCH);
    CHECK(pair_call(&p, "to_host", &x[1], NULL, &out) == WASM_TRAP_NONE);
    CHECK_EQ_U64(out.of.i64, 42);
    CHECK(pair_call(&p, "to_dbl", &x[1], NULL, &out) == WASM_TRAP_NONE);
    x[1].of.i64 = 13; /* the host function traps on 13 */
    CHECK(pair_call(&p, "to_host", &x[1], NULL, NULL) == WASM_TRAP_HOST);
    /* four results, passed on by tail calls, direct and through the table */
    for (uint32_t how = 0; how < 2; how++) {
        wasm_value q[3] = {{.type = WASM_I64, .of.i64 = 0xfffffff9u},
                           {.type = WASM_F32, .of.i32 = 0x3f800000u},
                           i32_of(how)};
        CHECK(pair_call(&p, "quad2", q, NULL, NULL) == WASM_TRAP_NONE);
        wasm_value s[2] = {q[0], q[2]};
        CHECK(pair_call(&p, "sum4", s, NULL, &out) == WASM_TRAP_NONE);
        CHECK_EQ_U64(out.of.i64, 0xfffffff9ull - 2 + 3 - 7);
    }
    pair_close(&p);
    wasm_instance_free(hi);
    wasm_module_free(helper);
}

/* call_indirect takes a function declared with a type equal to the
 * instruction's, among more duplicates than compiled code compares
 * (JIT_MAX_DUPLICATES): those go through the runtime, and a mismatch
 * still traps. */
TEST(jit_compile_call_indirect_across_duplicate_types) {
    char wat[2048];
    int n = snprintf(wat, sizeof wat, "(module\n");
    for (int i = 0; i < 12; i++)
        n += snprintf(wat + n, sizeof wat - (size_t)n,
                      "  (type $d%d (func (param i32) (result i32)))\n", i);
    n += snprintf(wat + n, sizeof wat - (size_t)n,
                  "  (type $other (func (param i64) (result i32)))\n"
                  "  (table funcref (elem $first $last $wrong))\n"
                  "  (func $first (type $d0) (i32.add (local.get 0) (i32.const 1)))\n"
                  "  (func $last (type $d11) (i32.mul (local.get 0) (i32.const 3)))\n"
                  "  (func $wrong (type $other) (i32.const 0))\n"
                  "  (func (export \"call\") (param i32 i32) (result i32)\n"
                  "    (call_indirect (type $d5) (local.get 1) (local.get 0)))\n"
                  "  (func (export \"tail\") (param i32 i32) (result i32)\n"
                  "    (return_call_indirect (type $d3) (local.get 1) (local.get 0))))\n");
    REQUIRE(n < (int)sizeof wat);
    pair p;
    if (!pair_open_with(&p, wat, wasm_linker_new(), load_tail_wat)) {
        pair_close(&p);
        return;
    }
    static const char *const names[] = {"call", "tail"};
    for (int k = 0; k < 2; k++) {
        wasm_value a[2] = {i32_of(0), i32_of(7)}, out;
        CHECK_EQ_S64(pair_call(&p, names[k], a, NULL, &out), WASM_TRAP_NONE);
        CHECK_EQ_U64(out.of.i32, 8);
        a[0].of.i32 = 1;
        CHECK_EQ_S64(pair_call(&p, names[k], a, NULL, &out), WASM_TRAP_NONE);
        CHECK_EQ_U64(out.of.i32, 21);
        a[0].of.i32 = 2;
        CHECK_EQ_S64(pair_call(&p, names[k], a, NULL, NULL), WASM_TRAP_SIGNATURE_MISMATCH);
    }
    pair_close(&p);
}

/* The trap site's offset after calling export `name` of `inst` with 1,
 * which traps: WASM_OFFSET_UNKNOWN when the interpreter ran it. */
static uint32_t trap_offset(wasm_instance *inst, const char *name) {
    wasm_extern f;
    wasm_value arg = {.type = WASM_I32, .of.i32 = 1}, res[1];
    wasm_trap_site site;
    if (!wasm_instance_export(inst, name, &f) || wasm_call(f, &arg, res) != WASM_TRAP_UNREACHABLE ||
        !wasm_last_trap_site(&site)) {
        unit_fail(__FILE__, __LINE__, "%s did not trap as expected", name);
        return 0;
    }
    return site.offset;
}

/* Code bound after an instance was made (a server compiling in the
 * background): the instance keeps the interpreter until
 * wasm_instance_adopt_native, then runs the code, called directly or
 * through its table; an instance made after the code is bound runs it
 * from the start. */
TEST(jit_instances_made_before_the_code_adopt_it) {
    wasm_module *m = unit_load_wat(
        "(module (table 1 funcref) (elem (i32.const 0) $inner)\n"
        "  (type $t (func (param i32) (result i32)))\n"
        "  (func $inner (type $t) (if (local.get 0) (then unreachable)) (i32.const 7))\n"
        "  (func (export \"direct\") (param i32) (result i32)\n"
        "    (call $inner (local.get 0)))\n"
        "  (func (export \"indirect\") (param i32) (result i32)\n"
        "    (call_indirect (type $t) (local.get 0) (i32.const 0))))\n");
    REQUIRE(m);
    wasm_error err;
    wasm_instance *before = wasm_instance_new(m, NULL, &err);
    REQUIRE(before);
    CHECK(!wasm_instance_adopt_native(before)); /* no code yet */
    CHECK(trap_offset(before, "direct") == WASM_OFFSET_UNKNOWN);
    if (!wasm_module_compile_native_ex(m, 0, &err)) {
        unit_fail(__FILE__, __LINE__, "compile: %s", err.msg);
        wasm_instance_free(before);
        wasm_module_free(m);
        return;
    }
    wasm_instance *after = wasm_instance_new(m, NULL, &err);
    REQUIRE(after);
    CHECK(!wasm_instance_adopt_native(after)); /* made with it */
    CHECK(trap_offset(after, "direct") != WASM_OFFSET_UNKNOWN);
    CHECK(trap_offset(before, "direct") == WASM_OFFSET_UNKNOWN); /* until it adopts */
    CHECK(wasm_instance_adopt_native(before));
    CHECK(!wasm_instance_adopt_native(before)); /* once */
    uint32_t at = trap_offset(before, "direct");
    CHECK(at != WASM_OFFSET_UNKNOWN);
    CHECK_EQ_S64(trap_offset(before, "indirect"), at); /* the table's entry switched too */
    CHECK_EQ_S64(trap_offset(after, "indirect"), at);
    wasm_extern f;
    wasm_value arg = {.type = WASM_I32, .of.i32 = 0}, res[1];
    CHECK(wasm_instance_export(before, "indirect", &f));
    CHECK_EQ_S64(wasm_call(f, &arg, res), WASM_TRAP_NONE);
    CHECK_EQ_S64(res[0].of.i32, 7);
    wasm_instance_free(before);
    wasm_instance_free(after);
    wasm_module_free(m);
}
