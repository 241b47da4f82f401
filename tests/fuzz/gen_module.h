/*
 * gen_module.h - an always-valid WebAssembly module built from arbitrary
 * bytes, for fuzz targets that must run code rather than stop at the
 * decoder (fuzz_diff.c).
 *
 * The bytes are read as a sequence of choices: how many functions and of
 * which signatures, globals, a memory with a data segment, a table, and
 * for each body a tree of typed expressions and statements. Past the end
 * of the bytes every choice reads 0, which always picks the simplest
 * option, so any input (the empty one too) gives a finished module and
 * small mutations of the input give small changes of the module.
 *
 * What a module holds (docs: tests/fuzz/README.md, "fuzz_diff"):
 *   - import 0: "env" "h", (i64) -> i64, a host function the target defines;
 *   - 1 to 4 functions of random signatures (up to 4 parameters and 3
 *     results over i32, i64, f32, f64 and, with SIMD, v128), exported as
 *     "f0", "f1", ...;
 *   - 1 to 4 globals (most of them mutable), exported as "g0", "g1", ...;
 *   - memory 0 of 1 or 2 pages (maximum absent or up to 2 pages more),
 *     exported as "mem", an active data segment and a passive one;
 *   - a funcref table holding the functions (the import too) in some order
 *     with null entries after them.
 * Bodies use blocks, loops (most of them counted down in a local), if,
 * br, br_if, br_table, return, return_call to functions of the same type,
 * direct calls, call_indirect (with wrong types and indices past the
 * table), multi-value block types and results, select, locals, globals,
 * and every instruction of fixed signature in src/wasm/opcodes.h: all of
 * the scalar arithmetic (trapping and saturating conversions too), loads
 * and stores of every width at addresses that are often near the end of
 * memory and offsets past it, memory.size/grow/fill/copy/init, data.drop,
 * table.size/copy and, with SIMD, the v128 instructions.
 *
 * Loops may run forever: callers give every call a fuel budget.
 *
 * NaN payloads are left to the implementation by the spec, so a module
 * never lets one reach a place where its bits could be seen: a float about
 * to be stored, reinterpreted, splatted, put into a lane or lending its
 * sign to copysign is first made the canonical NaN if it is a NaN, and so
 * are the lanes of every SIMD float arithmetic result. Float results and
 * globals can still hold any NaN: compare those as "both NaN".
 */
#ifndef WASP_FUZZ_GEN_MODULE_H
#define WASP_FUZZ_GEN_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bytes choices are read from; pos advances, and reads past n give 0. */
typedef struct gen_src {
    const uint8_t *p;
    size_t n, pos;
} gen_src;

typedef struct gen_opts {
    bool simd; /* v128 values and SIMD instructions */
} gen_opts;

/* Builds a module from the choices in `src`. Returns its bytes (malloc'd,
 * the caller frees them) and their number in *len, or NULL when out of
 * memory. The module always validates; a generated module that does not
 * is a bug of this generator or of the validator. */
uint8_t *gen_module(gen_src *src, const gen_opts *opts, size_t *len);

/* One choice: a byte (0 past the end), a number below n (n >= 1), and
 * values a test likes to see: edges of the integer ranges, shift counts,
 * floats at the bounds of each conversion, infinities, NaNs (as bits). */
uint8_t gen_byte(gen_src *src);
uint32_t gen_below(gen_src *src, uint32_t n);
uint32_t gen_i32(gen_src *src);
uint64_t gen_i64(gen_src *src);
uint32_t gen_f32(gen_src *src);
uint64_t gen_f64(gen_src *src);

#endif
