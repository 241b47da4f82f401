/*
 * test_compile.c - the interpreter's compiler (src/wasm/compile.c) on code
 * shapes that its optimisations must get right, each found by a fuzzer and
 * run here in the interpreter only (the native tier has its own tests).
 */
#include "unit.h"
#include "wasm/wasm.h"

/* Calls export `name` of a fresh instance of `m` with one i32; the trap
 * code, and the i32 result in *out. */
static wasm_trap_code call_i32(wasm_module *m, const char *name, uint32_t arg, uint32_t *out) {
    wasm_error err;
    wasm_instance *inst = wasm_instance_new(m, NULL, &err);
    if (!inst) return unit_fail(__FILE__, __LINE__, "instantiate: %s", err.msg), WASM_TRAP_HOST;
    wasm_extern f;
    wasm_trap_code t = WASM_TRAP_HOST;
    if (wasm_instance_export(inst, name, &f)) {
        wasm_value a = {.type = WASM_I32, .of.i32 = arg}, r = {0};
        t = wasm_call(f, &a, &r);
        *out = r.of.i32;
    }
    wasm_instance_free(inst);
    return t;
}

/* A comparison followed by an `if` with parameters: the parameters are
 * copied for the else branch between the two, so the comparison must not
 * become a compare-and-branch (fuzz_diff: the branch read the copy's first
 * word as its target, and the call trapped as `unreachable` or ran past
 * the end of the code). A block's result as an operand leaves nothing else
 * to materialize before the `if`. */
TEST(compile_compare_before_if_with_params) {
    wasm_module *m = unit_load_wat("(module (func (export \"f\") (param i32) (result i32)\n"
                                   "  (i32.const 10)\n"
                                   "  (i32.ge_s (block (result i32) (local.get 0)) (i32.const 0))\n"
                                   "  (if (param i32) (result i32)\n"
                                   "    (then (i32.add (i32.const 1)))\n"
                                   "    (else (i32.add (i32.const 2))))))");
    REQUIRE(m != NULL);
    uint32_t r = 0;
    CHECK_EQ_S64(call_i32(m, "f", 5, &r), WASM_TRAP_NONE);
    CHECK_EQ_U64(r, 11);
    CHECK_EQ_S64(call_i32(m, "f", (uint32_t)-1, &r), WASM_TRAP_NONE);
    CHECK_EQ_U64(r, 12);
    wasm_module_free(m);
}
