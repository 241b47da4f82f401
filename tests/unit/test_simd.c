/*
 * test_simd.c - the 128-bit SIMD semantics (simd.c), checked lane by lane
 * against known vectors: the edges where C's arithmetic differs from
 * WebAssembly's (saturation bounds, shift counts at and past the lane width,
 * NaN and -0 in float min/max/pmin/pmax, ties in nearest, out-of-range
 * float-to-int truncation, narrowing), lane moves for every shape, the memory
 * forms on unaligned exact-size buffers (so ASan sees any access beyond the
 * bytes the instruction owns), results that overlap operands, and, from the
 * opcode table, that every non-memory 0xFD instruction is handled.
 *
 * Vectors are built from lane values through a union like simd.c's, so the
 * tests share its little-endian assumption.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wasm/internal.h"

typedef union vec {
    uint8_t u8[16];
    int8_t i8[16];
    uint16_t u16[8];
    int16_t i16[8];
    uint32_t u32[4];
    int32_t i32[4];
    uint64_t u64[2];
    int64_t i64[2];
    float f32[4];
    double f64[2];
    wasm_cell cell[2];
} vec;

/* A vector from its lanes, e.g. VI16(-1, 2): missing lanes are zero. The
 * lanes go through an array (not a union literal) because cppcheck takes
 * several union compound literals in one call for unordered side effects. */
static vec vbytes(const void *lanes) {
    vec v;
    memcpy(&v, lanes, sizeof v);
    return v;
}

#define VI8(...) vbytes((const int8_t[16]){__VA_ARGS__})
#define VU8(...) vbytes((const uint8_t[16]){__VA_ARGS__})
#define VI16(...) vbytes((const int16_t[8]){__VA_ARGS__})
#define VU16(...) vbytes((const uint16_t[8]){__VA_ARGS__})
#define VI32(...) vbytes((const int32_t[4]){__VA_ARGS__})
#define VU32(...) vbytes((const uint32_t[4]){__VA_ARGS__})
#define VI64(...) vbytes((const int64_t[2]){__VA_ARGS__})
#define VU64(...) vbytes((const uint64_t[2]){__VA_ARGS__})
#define VF32(...) vbytes((const float[4]){__VA_ARGS__})
#define VF64(...) vbytes((const double[2]){__VA_ARGS__})

#define CHECK_VEC(got, want) CHECK_MEM((got).u8, (want).u8, 16)

/* What an untouched output cell holds. */
#define SENTINEL UINT64_C(0xcdcdcdcdcdcdcdcd)

static vec garbage(void) {
    return VU64(SENTINEL, SENTINEL);
}

static vec op1(wasm_op op, vec a) {
    vec r = garbage();
    wasm_simd_exec(op, NULL, a.cell, NULL, NULL, r.cell);
    return r;
}

static vec op2(wasm_op op, vec a, vec b) {
    vec r = garbage();
    wasm_simd_exec(op, NULL, a.cell, b.cell, NULL, r.cell);
    return r;
}

static vec op3(wasm_op op, vec a, vec b, vec c) {
    vec r = garbage();
    wasm_simd_exec(op, NULL, a.cell, b.cell, c.cell, r.cell);
    return r;
}

/* Scalar operands live in a single cell, so ASan flags any 16-byte read. */
static vec splat(wasm_op op, wasm_cell s) {
    vec r = garbage();
    wasm_simd_exec(op, NULL, &s, NULL, NULL, r.cell);
    return r;
}

static vec shift(wasm_op op, vec a, uint32_t count) {
    wasm_cell s = count;
    vec r = garbage();
    wasm_simd_exec(op, NULL, a.cell, &s, NULL, r.cell);
    return r;
}

static vec replace(wasm_op op, vec a, uint8_t lane, wasm_cell s) {
    uint8_t imm[16] = {lane};
    vec r = garbage();
    wasm_simd_exec(op, imm, a.cell, &s, NULL, r.cell);
    return r;
}

/* A scalar result: one cell written, the next one left alone. */
static wasm_cell scalar(wasm_op op, uint8_t lane, vec a) {
    uint8_t imm[16] = {lane};
    wasm_cell out[2] = {SENTINEL, SENTINEL};
    wasm_simd_exec(op, imm, a.cell, NULL, NULL, out);
    CHECK_EQ_U64(out[1], SENTINEL);
    return out[0];
}

static bool f32_quiet_nan(uint32_t b) {
    return (b & 0x7fc00000u) == 0x7fc00000u;
}
static bool f64_quiet_nan(uint64_t b) {
    return (b & UINT64_C(0x7ff8000000000000)) == UINT64_C(0x7ff8000000000000);
}

/* ---- lanes ------------------------------------------------------------------ */

TEST(simd_splat_every_shape_takes_the_low_bits_of_one_cell) {
    vec r = splat(WASM_OP_I8X16_SPLAT, 0x1ff);
    for (int i = 0; i < 16; i++)
        CHECK_EQ_U64(r.u8[i], 0xff);
    r = splat(WASM_OP_I16X8_SPLAT, 0x12345);
    for (int i = 0; i < 8; i++)
        CHECK_EQ_U64(r.u16[i], 0x2345);
    CHECK_VEC(splat(WASM_OP_I32X4_SPLAT, 0xdeadbeef89abcdefu),
              VU32(0x89abcdef, 0x89abcdef, 0x89abcdef, 0x89abcdef));
    CHECK_VEC(splat(WASM_OP_I64X2_SPLAT, 0x0123456789abcdefu),
              VU64(0x0123456789abcdefu, 0x0123456789abcdefu));
    CHECK_VEC(splat(WASM_OP_F32X4_SPLAT, 0x3fc00000), VF32(1.5f, 1.5f, 1.5f, 1.5f));
    /* a signalling NaN's bits are copied, not converted */
    CHECK_VEC(splat(WASM_OP_F32X4_SPLAT, 0x7fa00001),
              VU32(0x7fa00001, 0x7fa00001, 0x7fa00001, 0x7fa00001));
    CHECK_VEC(splat(WASM_OP_F64X2_SPLAT, 0xc004000000000000u), VF64(-2.5, -2.5));
}

TEST(simd_extract_lane_every_shape_zero_extends_i32_results) {
    vec v = VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x80);
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_EXTRACT_LANE_S, 15, v), 0xffffff80);
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_EXTRACT_LANE_U, 15, v), 0x80);
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_EXTRACT_LANE_S, 3, v), 3);
    v = VU16(1, 0x7fff, 0, 0, 0, 0, 0, 0x8001);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_EXTRACT_LANE_S, 7, v), 0xffff8001);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_EXTRACT_LANE_U, 7, v), 0x8001);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_EXTRACT_LANE_S, 1, v), 0x7fff);
    v = VU32(1, 2, 0xfffffffe, 4);
    CHECK_EQ_U64(scalar(WASM_OP_I32X4_EXTRACT_LANE, 2, v), 0xfffffffe);
    v = VF32(1.0f, -0.0f, 2.0f, 3.0f);
    CHECK_EQ_U64(scalar(WASM_OP_F32X4_EXTRACT_LANE, 1, v), 0x80000000);
    v = VI64(-2, 7);
    CHECK_EQ_U64(scalar(WASM_OP_I64X2_EXTRACT_LANE, 0, v), 0xfffffffffffffffeu);
    v = VF64(1.0, -2.5);
    CHECK_EQ_U64(scalar(WASM_OP_F64X2_EXTRACT_LANE, 1, v), 0xc004000000000000u);
}

TEST(simd_replace_lane_every_shape_changes_one_lane) {
    vec v = VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    CHECK_VEC(replace(WASM_OP_I8X16_REPLACE_LANE, v, 15, 0x1ab),
              VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xab));
    v = VU16(0, 1, 2, 3, 4, 5, 6, 7);
    CHECK_VEC(replace(WASM_OP_I16X8_REPLACE_LANE, v, 3, 0xfffff00d),
              VU16(0, 1, 2, 0xf00d, 4, 5, 6, 7));
    v = VU32(0, 1, 2, 3);
    CHECK_VEC(replace(WASM_OP_I32X4_REPLACE_LANE, v, 0, 0x1122334455667788u),
              VU32(0x55667788, 1, 2, 3));
    CHECK_VEC(replace(WASM_OP_F32X4_REPLACE_LANE, v, 3, 0x7f800001), VU32(0, 1, 2, 0x7f800001));
    v = VU64(1, 2);
    CHECK_VEC(replace(WASM_OP_I64X2_REPLACE_LANE, v, 1, 0x8000000000000000u),
              VU64(1, 0x8000000000000000u));
    CHECK_VEC(replace(WASM_OP_F64X2_REPLACE_LANE, v, 0, 0x3ff0000000000000u),
              VU64(0x3ff0000000000000u, 2));
}

TEST(simd_shuffle_takes_indices_16_to_31_from_the_second_operand) {
    vec a = VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    vec b = VU8(16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
    uint8_t imm[16] = {31, 0, 16, 15, 1, 17, 30, 14, 5, 5, 5, 21, 0, 0, 31, 31};
    vec r = garbage();
    wasm_simd_exec(WASM_OP_I8X16_SHUFFLE, imm, a.cell, b.cell, NULL, r.cell);
    CHECK_MEM(r.u8, imm, 16);
    /* the result may overwrite an operand */
    wasm_simd_exec(WASM_OP_I8X16_SHUFFLE, imm, a.cell, b.cell, NULL, b.cell);
    CHECK_MEM(b.u8, imm, 16);
}

TEST(simd_swizzle_gives_zero_for_indices_past_15) {
    vec a = VU8(10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25);
    vec idx = VU8(15, 0, 16, 255, 0x80, 3, 17, 1, 2, 2, 32, 14, 0x7f, 5, 6, 7);
    CHECK_VEC(op2(WASM_OP_I8X16_SWIZZLE, a, idx),
              VU8(25, 10, 0, 0, 0, 13, 0, 11, 12, 12, 0, 24, 0, 15, 16, 17));
}

TEST(simd_v128_const_copies_its_immediate) {
    uint8_t imm[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    vec r = garbage();
    wasm_simd_exec(WASM_OP_V128_CONST, imm, NULL, NULL, NULL, r.cell);
    CHECK_MEM(r.u8, imm, 16);
}

/* ---- comparisons and bitwise ------------------------------------------------ */

TEST(simd_integer_comparisons_tell_signed_from_unsigned) {
    vec a = VU8(0x80, 0x7f, 1, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    vec b = VU8(0x7f, 0x80, 1, 2, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    vec want =
        VU8(0, 0, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    CHECK_VEC(op2(WASM_OP_I8X16_EQ, a, b), want);
    CHECK_VEC(op2(WASM_OP_I8X16_LT_S, a, b), VU8(0xff, 0, 0, 0xff, 0xff));
    CHECK_VEC(op2(WASM_OP_I8X16_LT_U, a, b), VU8(0, 0xff, 0, 0xff, 0));
    CHECK_VEC(op2(WASM_OP_I8X16_GE_S, a, b), VU8(0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    CHECK_VEC(op2(WASM_OP_I8X16_GT_U, a, b), VU8(0xff, 0, 0, 0, 0xff));

    vec c = VU16(0x8000, 0x7fff, 5, 5, 0, 0, 0, 0);
    vec d = VU16(0x7fff, 0x8000, 5, 6, 0, 0, 0, 0);
    CHECK_VEC(op2(WASM_OP_I16X8_LT_S, c, d), VU16(0xffff, 0, 0, 0xffff));
    CHECK_VEC(op2(WASM_OP_I16X8_LE_U, c, d),
              VU16(0, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff));
    CHECK_VEC(op2(WASM_OP_I16X8_NE, c, d), VU16(0xffff, 0xffff, 0, 0xffff));

    vec e = VU32(0x80000000, 0x7fffffff, 3, 4);
    vec f = VU32(0x7fffffff, 0x80000000, 3, 3);
    CHECK_VEC(op2(WASM_OP_I32X4_GT_S, e, f), VU32(0, 0xffffffff, 0, 0xffffffff));
    CHECK_VEC(op2(WASM_OP_I32X4_GT_U, e, f), VU32(0xffffffff, 0, 0, 0xffffffff));
    CHECK_VEC(op2(WASM_OP_I32X4_LE_S, e, f), VU32(0xffffffff, 0, 0xffffffff, 0));

    vec g = VI64(INT64_MIN, 5);
    vec h = VI64(INT64_MAX, 5);
    CHECK_VEC(op2(WASM_OP_I64X2_LT_S, g, h), VU64(UINT64_MAX, 0));
    CHECK_VEC(op2(WASM_OP_I64X2_GE_S, g, h), VU64(0, UINT64_MAX));
    CHECK_VEC(op2(WASM_OP_I64X2_EQ, g, h), VU64(0, UINT64_MAX));
    CHECK_VEC(op2(WASM_OP_I64X2_NE, g, h), VU64(UINT64_MAX, 0));
}

TEST(simd_float_comparisons_are_false_on_nan_and_zeros_are_equal) {
    vec a = VF32(NAN, -0.0f, 1.0f, NAN);
    vec b = VF32(1.0f, 0.0f, 2.0f, NAN);
    CHECK_VEC(op2(WASM_OP_F32X4_EQ, a, b), VU32(0, 0xffffffff, 0, 0));
    CHECK_VEC(op2(WASM_OP_F32X4_NE, a, b), VU32(0xffffffff, 0, 0xffffffff, 0xffffffff));
    CHECK_VEC(op2(WASM_OP_F32X4_LT, a, b), VU32(0, 0, 0xffffffff, 0));
    CHECK_VEC(op2(WASM_OP_F32X4_GE, a, b), VU32(0, 0xffffffff, 0, 0));
    vec c = VF64(NAN, -0.0);
    vec d = VF64(NAN, 0.0);
    CHECK_VEC(op2(WASM_OP_F64X2_EQ, c, d), VU64(0, UINT64_MAX));
    CHECK_VEC(op2(WASM_OP_F64X2_NE, c, d), VU64(UINT64_MAX, 0));
    CHECK_VEC(op2(WASM_OP_F64X2_LE, c, d), VU64(0, UINT64_MAX));
    CHECK_VEC(op2(WASM_OP_F64X2_GT, c, d), VU64(0, 0));
}

TEST(simd_bitwise_ops_and_bitselect) {
    vec a = VU64(0xff00ff00ff00ff00u, 0x0123456789abcdefu);
    vec b = VU64(0x0ff00ff00ff00ff0u, 0xffffffff00000000u);
    vec m = VU64(0xffffffff00000000u, 0x00000000ffffffffu);
    CHECK_VEC(op1(WASM_OP_V128_NOT, a), VU64(0x00ff00ff00ff00ffu, 0xfedcba9876543210u));
    CHECK_VEC(op2(WASM_OP_V128_AND, a, b), VU64(0x0f000f000f000f00u, 0x0123456700000000u));
    CHECK_VEC(op2(WASM_OP_V128_ANDNOT, a, b), VU64(0xf000f000f000f000u, 0x0000000089abcdefu));
    CHECK_VEC(op2(WASM_OP_V128_OR, a, b), VU64(0xfff0fff0fff0fff0u, 0xffffffff89abcdefu));
    CHECK_VEC(op2(WASM_OP_V128_XOR, a, b), VU64(0xf0f0f0f0f0f0f0f0u, 0xfedcba9889abcdefu));
    CHECK_VEC(op3(WASM_OP_V128_BITSELECT, a, b, m), VU64(0xff00ff000ff00ff0u, 0xffffffff89abcdefu));
    /* the result may overwrite the mask operand */
    wasm_simd_exec(WASM_OP_V128_BITSELECT, NULL, a.cell, b.cell, m.cell, m.cell);
    CHECK_VEC(m, VU64(0xff00ff000ff00ff0u, 0xffffffff89abcdefu));
}

TEST(simd_any_true_all_true_and_bitmask) {
    vec zero = VU64(0, 0);
    vec top = VU64(0, 0x8000000000000000u);
    CHECK_EQ_U64(scalar(WASM_OP_V128_ANY_TRUE, 0, zero), 0);
    CHECK_EQ_U64(scalar(WASM_OP_V128_ANY_TRUE, 0, top), 1);
    CHECK_EQ_U64(scalar(WASM_OP_V128_ANY_TRUE, 0, VU8(1)), 1);

    vec ones = VU64(0x0101010101010101u, 0x0101010101010101u);
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_ALL_TRUE, 0, ones), 1);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_ALL_TRUE, 0, ones), 1);
    CHECK_EQ_U64(scalar(WASM_OP_I32X4_ALL_TRUE, 0, ones), 1);
    CHECK_EQ_U64(scalar(WASM_OP_I64X2_ALL_TRUE, 0, ones), 1);
    /* one byte of zero: only the i8x16 view has a zero lane */
    vec hole = ones;
    hole.u8[9] = 0;
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_ALL_TRUE, 0, hole), 0);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_ALL_TRUE, 0, hole), 1);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_ALL_TRUE, 0, VU16(1, 1, 1, 1, 1, 1, 1, 0)), 0);
    CHECK_EQ_U64(scalar(WASM_OP_I32X4_ALL_TRUE, 0, VU32(1, 0, 1, 1)), 0);
    CHECK_EQ_U64(scalar(WASM_OP_I64X2_ALL_TRUE, 0, VU64(0, 1)), 0);
    CHECK_EQ_U64(scalar(WASM_OP_I64X2_ALL_TRUE, 0, VU64(0x8000000000000000u, 1)), 1);

    CHECK_EQ_U64(scalar(WASM_OP_I8X16_BITMASK, 0,
                        VU8(0x80, 0x7f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81)),
                 0x8005);
    CHECK_EQ_U64(scalar(WASM_OP_I8X16_BITMASK, 0,
                        VI8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1)),
                 0xffff);
    CHECK_EQ_U64(scalar(WASM_OP_I16X8_BITMASK, 0, VU16(0x8000, 0x00ff, 0, 0, 0, 0, 0xffff, 0)),
                 0x41);
    CHECK_EQ_U64(scalar(WASM_OP_I32X4_BITMASK, 0, VU32(0, 0x80000000, 0x7fffffff, 0xffffffff)),
                 0xa);
    CHECK_EQ_U64(scalar(WASM_OP_I64X2_BITMASK, 0, VU64(0x8000000000000000u, 0xffffffffu)), 1);
}

/* ---- integer arithmetic ----------------------------------------------------- */

TEST(simd_narrow_saturates_signed_inputs) {
    vec a = VI16(300, -300, 127, -128, 200, -1, 32767, -32768);
    vec b = VI16(0, 1, 255, 256, -129, 128, 0, 0);
    CHECK_VEC(op2(WASM_OP_I8X16_NARROW_I16X8_S, a, b),
              VI8(127, -128, 127, -128, 127, -1, 127, -128, 0, 1, 127, 127, -128, 127, 0, 0));
    CHECK_VEC(op2(WASM_OP_I8X16_NARROW_I16X8_U, a, b),
              VU8(255, 0, 127, 0, 200, 0, 255, 0, 0, 1, 255, 255, 0, 128, 0, 0));
    vec c = VI32(70000, -70000, 32767, -32768);
    vec d = VI32(65535, 65536, -1, 40000);
    CHECK_VEC(op2(WASM_OP_I16X8_NARROW_I32X4_S, c, d),
              VI16(32767, -32768, 32767, -32768, 32767, 32767, -1, 32767));
    CHECK_VEC(op2(WASM_OP_I16X8_NARROW_I32X4_U, c, d),
              VU16(65535, 0, 32767, 0, 65535, 65535, 0, 40000));
}

TEST(simd_extend_low_and_high_halves) {
    vec a = VI8(-1, 2, -128, 127, 0, 5, 6, 7, -2, 9, 10, 11, 12, 13, 14, -128);
    CHECK_VEC(op1(WASM_OP_I16X8_EXTEND_LOW_I8X16_S, a), VI16(-1, 2, -128, 127, 0, 5, 6, 7));
    CHECK_VEC(op1(WASM_OP_I16X8_EXTEND_HIGH_I8X16_S, a), VI16(-2, 9, 10, 11, 12, 13, 14, -128));
    CHECK_VEC(op1(WASM_OP_I16X8_EXTEND_LOW_I8X16_U, a), VU16(255, 2, 128, 127, 0, 5, 6, 7));
    CHECK_VEC(op1(WASM_OP_I16X8_EXTEND_HIGH_I8X16_U, a), VU16(254, 9, 10, 11, 12, 13, 14, 128));
    vec b = VI16(-1, 2, -32768, 4, 5, -6, 32767, 8);
    CHECK_VEC(op1(WASM_OP_I32X4_EXTEND_LOW_I16X8_S, b), VI32(-1, 2, -32768, 4));
    CHECK_VEC(op1(WASM_OP_I32X4_EXTEND_HIGH_I16X8_S, b), VI32(5, -6, 32767, 8));
    CHECK_VEC(op1(WASM_OP_I32X4_EXTEND_LOW_I16X8_U, b), VU32(65535, 2, 32768, 4));
    CHECK_VEC(op1(WASM_OP_I32X4_EXTEND_HIGH_I16X8_U, b), VU32(5, 65530, 32767, 8));
    vec c = VI32(-1, INT32_MAX, INT32_MIN, 3);
    CHECK_VEC(op1(WASM_OP_I64X2_EXTEND_LOW_I32X4_S, c), VI64(-1, INT32_MAX));
    CHECK_VEC(op1(WASM_OP_I64X2_EXTEND_HIGH_I32X4_S, c), VI64(INT32_MIN, 3));
    CHECK_VEC(op1(WASM_OP_I64X2_EXTEND_LOW_I32X4_U, c), VU64(0xffffffffu, INT32_MAX));
    CHECK_VEC(op1(WASM_OP_I64X2_EXTEND_HIGH_I32X4_U, c), VU64(0x80000000u, 3));
}

TEST(simd_extadd_pairwise_signed_and_unsigned) {
    vec a = VI8(-128, -128, 127, 127, -1, 1, -1, -1, 0, 0, 5, 6, -128, 127, 100, 100);
    CHECK_VEC(op1(WASM_OP_I16X8_EXTADD_PAIRWISE_I8X16_S, a),
              VI16(-256, 254, 0, -2, 0, 11, -1, 200));
    CHECK_VEC(op1(WASM_OP_I16X8_EXTADD_PAIRWISE_I8X16_U, a),
              VU16(256, 254, 256, 510, 0, 11, 255, 200));
    vec b = VI16(-32768, -32768, 32767, 32767, -1, 1, -1, -1);
    CHECK_VEC(op1(WASM_OP_I32X4_EXTADD_PAIRWISE_I16X8_S, b), VI32(-65536, 65534, 0, -2));
    CHECK_VEC(op1(WASM_OP_I32X4_EXTADD_PAIRWISE_I16X8_U, b), VU32(65536, 65534, 65536, 131070));
}

TEST(simd_extmul_keeps_the_full_product_and_its_sign) {
    vec a = VI8(-128, -128, 127, -1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, -1);
    vec b = VI8(-128, 127, 127, -1, 0, 0, 0, 0, -3, 0, 0, 0, 0, 0, 0, -1);
    CHECK_VEC(op2(WASM_OP_I16X8_EXTMUL_LOW_I8X16_S, a, b), VI16(16384, -16256, 16129, 1));
    CHECK_VEC(op2(WASM_OP_I16X8_EXTMUL_HIGH_I8X16_S, a, b), VI16(-6, 0, 0, 0, 0, 0, 0, 1));
    CHECK_VEC(op2(WASM_OP_I16X8_EXTMUL_LOW_I8X16_U, a, b), VU16(16384, 16256, 16129, 65025));
    CHECK_VEC(op2(WASM_OP_I16X8_EXTMUL_HIGH_I8X16_U, a, b), VU16(506, 0, 0, 0, 0, 0, 0, 65025));

    vec c = VI16(-32768, -32768, -1, 3, 0, 0, 0, -1);
    vec d = VI16(-32768, 32767, -1, -4, 0, 0, 0, -1);
    CHECK_VEC(op2(WASM_OP_I32X4_EXTMUL_LOW_I16X8_S, c, d), VI32(1073741824, -1073709056, 1, -12));
    CHECK_VEC(op2(WASM_OP_I32X4_EXTMUL_HIGH_I16X8_S, c, d), VI32(0, 0, 0, 1));
    CHECK_VEC(op2(WASM_OP_I32X4_EXTMUL_LOW_I16X8_U, c, d),
              VU32(1073741824, 1073709056, 0xfffe0001, 3 * 65532));
    CHECK_VEC(op2(WASM_OP_I32X4_EXTMUL_HIGH_I16X8_U, c, d), VU32(0, 0, 0, 0xfffe0001));

    vec e = VI32(INT32_MIN, INT32_MIN, -1, 7);
    vec f = VI32(INT32_MIN, INT32_MAX, -1, -7);
    CHECK_VEC(op2(WASM_OP_I64X2_EXTMUL_LOW_I32X4_S, e, f),
              VI64(INT64_C(0x4000000000000000), -(INT64_C(0x80000000) * INT32_MAX)));
    CHECK_VEC(op2(WASM_OP_I64X2_EXTMUL_HIGH_I32X4_S, e, f), VI64(1, -49));
    CHECK_VEC(op2(WASM_OP_I64X2_EXTMUL_LOW_I32X4_U, e, f),
              VU64(UINT64_C(0x4000000000000000), UINT64_C(0x80000000) * INT32_MAX));
    CHECK_VEC(op2(WASM_OP_I64X2_EXTMUL_HIGH_I32X4_U, e, f),
              VU64(UINT64_C(0xfffffffe00000001), UINT64_C(7) * 0xfffffff9u));
}

TEST(simd_q15mulr_rounds_and_saturates) {
    vec a = VI16(-32768, 16384, 1, -1, -32768, 32767, 3, -3);
    vec b = VI16(-32768, 16384, 16384, 16384, 32767, 32767, 16383, 16383);
    /* (a*b + 0x4000) >> 15 rounds halves up: -32768*32767 + 0x4000 is -32766.5 * 2^15 */
    CHECK_VEC(op2(WASM_OP_I16X8_Q15MULR_SAT_S, a, b),
              VI16(32767, 8192, 1, 0, -32767, 32766, 1, -1));
}

TEST(simd_dot_wraps_when_both_products_are_2_to_the_30) {
    vec a = VI16(-32768, -32768, 1, 2, -3, 4, 32767, 32767);
    vec b = VI16(-32768, -32768, 5, 6, 7, -8, 32767, -32768);
    CHECK_VEC(op2(WASM_OP_I32X4_DOT_I16X8_S, a, b), VI32(INT32_MIN, 17, -53, -32767));
}

TEST(simd_abs_neg_popcnt_wrap_at_the_minimum) {
    CHECK_VEC(op1(WASM_OP_I8X16_ABS, VI8(-128, -127, -1, 0, 1, 127)), VI8(-128, 127, 1, 0, 1, 127));
    CHECK_VEC(op1(WASM_OP_I8X16_NEG, VI8(-128, -127, -1, 0, 1, 127)),
              VI8(-128, 127, 1, 0, -1, -127));
    CHECK_VEC(op1(WASM_OP_I16X8_ABS, VI16(-32768, -5, 5)), VI16(-32768, 5, 5));
    CHECK_VEC(op1(WASM_OP_I16X8_NEG, VI16(-32768, -5, 5)), VI16(-32768, 5, -5));
    CHECK_VEC(op1(WASM_OP_I32X4_ABS, VI32(INT32_MIN, -7, 7, 0)), VI32(INT32_MIN, 7, 7, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_NEG, VI32(INT32_MIN, -7, 7, 0)), VI32(INT32_MIN, 7, -7, 0));
    CHECK_VEC(op1(WASM_OP_I64X2_ABS, VI64(INT64_MIN, -9)), VI64(INT64_MIN, 9));
    CHECK_VEC(op1(WASM_OP_I64X2_NEG, VI64(INT64_MIN, -9)), VI64(INT64_MIN, 9));
    CHECK_VEC(op1(WASM_OP_I8X16_POPCNT, VU8(0xff, 0x55, 0x80, 0, 0x0f, 1, 0xfe)),
              VU8(8, 4, 1, 0, 4, 1, 7));
}

TEST(simd_shift_counts_are_taken_modulo_the_lane_width) {
    vec a = VU8(0x80, 0x01, 0x7f, 0xff);
    CHECK_VEC(shift(WASM_OP_I8X16_SHL, a, 1), VU8(0, 2, 0xfe, 0xfe));
    CHECK_VEC(shift(WASM_OP_I8X16_SHL, a, 9), VU8(0, 2, 0xfe, 0xfe));
    CHECK_VEC(shift(WASM_OP_I8X16_SHL, a, 8), a);
    CHECK_VEC(shift(WASM_OP_I8X16_SHR_S, a, 7), VU8(0xff, 0, 0, 0xff));
    CHECK_VEC(shift(WASM_OP_I8X16_SHR_S, a, 0xffffffff), VU8(0xff, 0, 0, 0xff));
    CHECK_VEC(shift(WASM_OP_I8X16_SHR_U, a, 15), VU8(1, 0, 0, 1));

    vec b = VU16(0x8000, 0x0001, 0x7fff, 0xffff);
    CHECK_VEC(shift(WASM_OP_I16X8_SHL, b, 17), VU16(0, 2, 0xfffe, 0xfffe));
    CHECK_VEC(shift(WASM_OP_I16X8_SHR_S, b, 15), VU16(0xffff, 0, 0, 0xffff));
    CHECK_VEC(shift(WASM_OP_I16X8_SHR_U, b, 16), b);

    vec c = VU32(0x80000000, 1, 0x7fffffff, 0xffffffff);
    CHECK_VEC(shift(WASM_OP_I32X4_SHL, c, 31), VU32(0, 0x80000000, 0x80000000, 0x80000000));
    CHECK_VEC(shift(WASM_OP_I32X4_SHR_S, c, 33), VU32(0xc0000000, 0, 0x3fffffff, 0xffffffff));
    CHECK_VEC(shift(WASM_OP_I32X4_SHR_U, c, 32), c);

    vec d = VU64(0x8000000000000000u, 3);
    CHECK_VEC(shift(WASM_OP_I64X2_SHL, d, 64), d);
    CHECK_VEC(shift(WASM_OP_I64X2_SHL, d, 65), VU64(0, 6));
    CHECK_VEC(shift(WASM_OP_I64X2_SHR_S, d, 63), VU64(UINT64_MAX, 0));
    CHECK_VEC(shift(WASM_OP_I64X2_SHR_U, d, 127), VU64(1, 0));
}

TEST(simd_add_sub_mul_wrap) {
    CHECK_VEC(op2(WASM_OP_I8X16_ADD, VU8(0xff, 0x7f, 1), VU8(1, 1, 2)), VU8(0, 0x80, 3));
    CHECK_VEC(op2(WASM_OP_I8X16_SUB, VU8(0, 0x80, 3), VU8(1, 1, 2)), VU8(0xff, 0x7f, 1));
    CHECK_VEC(op2(WASM_OP_I16X8_ADD, VU16(0xffff, 0x7fff), VU16(1, 1)), VU16(0, 0x8000));
    CHECK_VEC(op2(WASM_OP_I16X8_SUB, VU16(0, 0x8000), VU16(1, 1)), VU16(0xffff, 0x7fff));
    CHECK_VEC(op2(WASM_OP_I16X8_MUL, VU16(0xffff, 0x8000, 300), VU16(0xffff, 2, 300)),
              VU16(1, 0, 24464));
    CHECK_VEC(op2(WASM_OP_I32X4_ADD, VU32(0xffffffff, 0x7fffffff), VU32(1, 1)),
              VU32(0, 0x80000000));
    CHECK_VEC(op2(WASM_OP_I32X4_SUB, VU32(0, 0x80000000), VU32(1, 1)),
              VU32(0xffffffff, 0x7fffffff));
    CHECK_VEC(
        op2(WASM_OP_I32X4_MUL, VU32(0xffffffff, 0x10000, 0x7fffffff), VU32(0xffffffff, 0x10000, 2)),
        VU32(1, 0, 0xfffffffe));
    CHECK_VEC(op2(WASM_OP_I64X2_ADD, VU64(UINT64_MAX, 1), VU64(1, 2)), VU64(0, 3));
    CHECK_VEC(op2(WASM_OP_I64X2_SUB, VU64(0, 1), VU64(1, 2)), VU64(UINT64_MAX, UINT64_MAX));
    CHECK_VEC(
        op2(WASM_OP_I64X2_MUL, VU64(UINT64_MAX, 0x100000000u), VU64(UINT64_MAX, 0x100000000u)),
        VU64(1, 0));
}

TEST(simd_saturating_add_sub_clamp_at_both_bounds) {
    vec a = VI8(127, -128, 100, -100, 1, -1, 127, -128);
    vec b = VI8(1, -1, 27, -28, -1, 1, -128, 127);
    CHECK_VEC(op2(WASM_OP_I8X16_ADD_SAT_S, a, b), VI8(127, -128, 127, -128, 0, 0, -1, -1));
    CHECK_VEC(op2(WASM_OP_I8X16_SUB_SAT_S, a, b), VI8(126, -127, 73, -72, 2, -2, 127, -128));
    vec c = VU8(255, 0, 200, 5, 128);
    vec d = VU8(1, 1, 100, 5, 127);
    CHECK_VEC(op2(WASM_OP_I8X16_ADD_SAT_U, c, d), VU8(255, 1, 255, 10, 255));
    CHECK_VEC(op2(WASM_OP_I8X16_SUB_SAT_U, c, d), VU8(254, 0, 100, 0, 1));

    vec e = VI16(32767, -32768, 32767, -32768, 1000, -1);
    vec f = VI16(1, -1, -32768, 32767, -2000, -32768);
    CHECK_VEC(op2(WASM_OP_I16X8_ADD_SAT_S, e, f), VI16(32767, -32768, -1, -1, -1000, -32768));
    CHECK_VEC(op2(WASM_OP_I16X8_SUB_SAT_S, e, f), VI16(32766, -32767, 32767, -32768, 3000, 32767));
    vec g = VU16(65535, 0, 40000, 7);
    vec h = VU16(1, 1, 30000, 7);
    CHECK_VEC(op2(WASM_OP_I16X8_ADD_SAT_U, g, h), VU16(65535, 1, 65535, 14));
    CHECK_VEC(op2(WASM_OP_I16X8_SUB_SAT_U, g, h), VU16(65534, 0, 10000, 0));
}

TEST(simd_integer_min_max_and_avgr) {
    vec a = VU8(0x80, 0x7f, 0xff, 1);
    vec b = VU8(0x7f, 0x80, 0x01, 0xff);
    CHECK_VEC(op2(WASM_OP_I8X16_MIN_S, a, b), VU8(0x80, 0x80, 0xff, 0xff));
    CHECK_VEC(op2(WASM_OP_I8X16_MIN_U, a, b), VU8(0x7f, 0x7f, 0x01, 1));
    CHECK_VEC(op2(WASM_OP_I8X16_MAX_S, a, b), VU8(0x7f, 0x7f, 0x01, 1));
    CHECK_VEC(op2(WASM_OP_I8X16_MAX_U, a, b), VU8(0x80, 0x80, 0xff, 0xff));
    CHECK_VEC(op2(WASM_OP_I8X16_AVGR_U, VU8(255, 0, 1, 2), VU8(255, 1, 2, 2)), VU8(255, 1, 2, 2));

    vec c = VU16(0x8000, 0x7fff, 0xffff, 1);
    vec d = VU16(0x7fff, 0x8000, 0x0001, 0xffff);
    CHECK_VEC(op2(WASM_OP_I16X8_MIN_S, c, d), VU16(0x8000, 0x8000, 0xffff, 0xffff));
    CHECK_VEC(op2(WASM_OP_I16X8_MIN_U, c, d), VU16(0x7fff, 0x7fff, 1, 1));
    CHECK_VEC(op2(WASM_OP_I16X8_MAX_S, c, d), VU16(0x7fff, 0x7fff, 1, 1));
    CHECK_VEC(op2(WASM_OP_I16X8_MAX_U, c, d), VU16(0x8000, 0x8000, 0xffff, 0xffff));
    CHECK_VEC(op2(WASM_OP_I16X8_AVGR_U, VU16(65535, 0, 3), VU16(65535, 1, 4)), VU16(65535, 1, 4));

    vec e = VU32(0x80000000, 0x7fffffff, 0xffffffff, 1);
    vec f = VU32(0x7fffffff, 0x80000000, 1, 0xffffffff);
    CHECK_VEC(op2(WASM_OP_I32X4_MIN_S, e, f), VU32(0x80000000, 0x80000000, 0xffffffff, 0xffffffff));
    CHECK_VEC(op2(WASM_OP_I32X4_MIN_U, e, f), VU32(0x7fffffff, 0x7fffffff, 1, 1));
    CHECK_VEC(op2(WASM_OP_I32X4_MAX_S, e, f), VU32(0x7fffffff, 0x7fffffff, 1, 1));
    CHECK_VEC(op2(WASM_OP_I32X4_MAX_U, e, f), VU32(0x80000000, 0x80000000, 0xffffffff, 0xffffffff));
}

/* ---- float arithmetic ------------------------------------------------------- */

TEST(simd_float_arithmetic_follows_ieee) {
    CHECK_VEC(
        op2(WASM_OP_F32X4_ADD, VF32(1.5f, -0.0f, INFINITY, 3e38f), VF32(2.25f, 0.0f, 1.0f, 3e38f)),
        VF32(3.75f, 0.0f, INFINITY, INFINITY));
    CHECK_VEC(op2(WASM_OP_F32X4_SUB, VF32(1.5f, -0.0f, 0.0f, 1.0f), VF32(2.25f, 0.0f, 0.0f, 1.0f)),
              VF32(-0.75f, -0.0f, 0.0f, 0.0f));
    CHECK_VEC(op2(WASM_OP_F32X4_MUL, VF32(1.5f, -0.0f, 3.0f, -2.0f), VF32(2.0f, 5.0f, 0.5f, 8.0f)),
              VF32(3.0f, -0.0f, 1.5f, -16.0f));
    CHECK_VEC(op2(WASM_OP_F32X4_DIV, VF32(1.0f, -1.0f, 1.0f, 9.0f), VF32(0.0f, 0.0f, 3.0f, -3.0f)),
              VF32(INFINITY, -INFINITY, 1.0f / 3.0f, -3.0f));
    CHECK_VEC(op1(WASM_OP_F32X4_SQRT, VF32(4.0f, 2.0f, -0.0f, INFINITY)),
              VF32(2.0f, sqrtf(2.0f), -0.0f, INFINITY));
    vec r = op2(WASM_OP_F32X4_SUB, VF32(INFINITY, 0.0f), VF32(INFINITY, 0.0f));
    CHECK(f32_quiet_nan(r.u32[0]));
    r = op1(WASM_OP_F32X4_SQRT, VF32(-1.0f));
    CHECK(f32_quiet_nan(r.u32[0]));

    CHECK_VEC(op2(WASM_OP_F64X2_ADD, VF64(0.1, -0.0), VF64(0.2, -0.0)), VF64(0.1 + 0.2, -0.0));
    CHECK_VEC(op2(WASM_OP_F64X2_SUB, VF64(1.0, 1e308), VF64(0.25, -1e308)), VF64(0.75, INFINITY));
    CHECK_VEC(op2(WASM_OP_F64X2_MUL, VF64(1e-300, -3.0), VF64(1e-300, 0.5)), VF64(0.0, -1.5));
    CHECK_VEC(op2(WASM_OP_F64X2_DIV, VF64(1.0, -0.0), VF64(-0.0, 2.0)), VF64(-INFINITY, -0.0));
    CHECK_VEC(op1(WASM_OP_F64X2_SQRT, VF64(9.0, 2.0)), VF64(3.0, sqrt(2.0)));
    r = op2(WASM_OP_F64X2_DIV, VF64(0.0, 1.0), VF64(0.0, 1.0));
    CHECK(f64_quiet_nan(r.u64[0]));
}

TEST(simd_float_min_max_propagate_nan_and_order_zeros) {
    vec a = VF32(NAN, 1.0f, -0.0f, 0.0f);
    vec b = VF32(1.0f, NAN, 0.0f, -0.0f);
    vec r = op2(WASM_OP_F32X4_MIN, a, b);
    CHECK(f32_quiet_nan(r.u32[0]));
    CHECK(f32_quiet_nan(r.u32[1]));
    CHECK_EQ_U64(r.u32[2], 0x80000000);
    CHECK_EQ_U64(r.u32[3], 0x80000000);
    r = op2(WASM_OP_F32X4_MAX, a, b);
    CHECK(f32_quiet_nan(r.u32[0]));
    CHECK(f32_quiet_nan(r.u32[1]));
    CHECK_EQ_U64(r.u32[2], 0);
    CHECK_EQ_U64(r.u32[3], 0);
    /* a signalling NaN operand still gives a quiet NaN */
    vec snan = VU32(0x7f800001, 0xff800001, 0x7fa00000, 0x7f800001);
    vec one = VF32(1.0f, 1.0f, 1.0f, -INFINITY);
    r = op2(WASM_OP_F32X4_MIN, one, snan);
    for (int i = 0; i < 4; i++)
        CHECK(f32_quiet_nan(r.u32[i]));
    CHECK_VEC(
        op2(WASM_OP_F32X4_MIN, VF32(1.0f, -INFINITY, 3.0f, -5.0f), VF32(2.0f, 0.0f, -3.0f, 5.0f)),
        VF32(1.0f, -INFINITY, -3.0f, -5.0f));
    CHECK_VEC(
        op2(WASM_OP_F32X4_MAX, VF32(1.0f, -INFINITY, 3.0f, -5.0f), VF32(2.0f, 0.0f, -3.0f, 5.0f)),
        VF32(2.0f, 0.0f, 3.0f, 5.0f));

    vec c = VF64(-0.0, 0.0), d = VF64(0.0, -0.0);
    CHECK_VEC(op2(WASM_OP_F64X2_MIN, c, d), VF64(-0.0, -0.0));
    CHECK_VEC(op2(WASM_OP_F64X2_MAX, c, d), VF64(0.0, 0.0));
    r = op2(WASM_OP_F64X2_MIN, VF64(NAN, 1.0), VF64(1.0, NAN));
    CHECK(f64_quiet_nan(r.u64[0]));
    CHECK(f64_quiet_nan(r.u64[1]));
    r = op2(WASM_OP_F64X2_MAX, VU64(0x7ff0000000000001u, 0), VF64(1.0, NAN));
    CHECK(f64_quiet_nan(r.u64[0]));
    CHECK(f64_quiet_nan(r.u64[1]));
    CHECK_VEC(op2(WASM_OP_F64X2_MAX, VF64(-1.0, 2.0), VF64(-2.0, INFINITY)), VF64(-1.0, INFINITY));
}

TEST(simd_pmin_pmax_return_the_first_operand_unless_strictly_ordered) {
    /* pmin(a,b) = b < a ? b : a; pmax(a,b) = a < b ? b : a, bits copied */
    vec a = VU32(0x7fc00001, 0x3f800000, 0x80000000, 0x00000000); /* nan:1, 1, -0, +0 */
    vec b = VU32(0x3f800000, 0xffa00000, 0x00000000, 0x80000000); /* 1, snan, +0, -0 */
    CHECK_VEC(op2(WASM_OP_F32X4_PMIN, a, b), a);
    CHECK_VEC(op2(WASM_OP_F32X4_PMAX, a, b), a);
    CHECK_VEC(op2(WASM_OP_F32X4_PMIN, VF32(2.0f, 1.0f, -INFINITY, 0.0f),
                  VF32(1.0f, 2.0f, 0.0f, -INFINITY)),
              VF32(1.0f, 1.0f, -INFINITY, -INFINITY));
    CHECK_VEC(op2(WASM_OP_F32X4_PMAX, VF32(2.0f, 1.0f, -INFINITY, 0.0f),
                  VF32(1.0f, 2.0f, 0.0f, -INFINITY)),
              VF32(2.0f, 2.0f, 0.0f, 0.0f));

    vec c = VU64(0x7ff4000000000000u, 0x8000000000000000u); /* snan, -0 */
    vec d = VU64(0x3ff0000000000000u, 0x0000000000000000u); /* 1, +0 */
    CHECK_VEC(op2(WASM_OP_F64X2_PMIN, c, d), c);
    CHECK_VEC(op2(WASM_OP_F64X2_PMAX, c, d), c);
    CHECK_VEC(op2(WASM_OP_F64X2_PMIN, d, c), d);
    CHECK_VEC(op2(WASM_OP_F64X2_PMIN, VF64(3.0, -1.0), VF64(2.0, 1.0)), VF64(2.0, -1.0));
    CHECK_VEC(op2(WASM_OP_F64X2_PMAX, VF64(3.0, -1.0), VF64(2.0, 1.0)), VF64(3.0, 1.0));
}

TEST(simd_float_abs_neg_flip_only_the_sign_bit) {
    vec a = VU32(0xffc00001, 0x7f800001, 0x80000000, 0x3f800000);
    CHECK_VEC(op1(WASM_OP_F32X4_ABS, a), VU32(0x7fc00001, 0x7f800001, 0, 0x3f800000));
    CHECK_VEC(op1(WASM_OP_F32X4_NEG, a), VU32(0x7fc00001, 0xff800001, 0, 0xbf800000));
    vec b = VU64(0xfff0000000000001u, 0x0000000000000000u);
    CHECK_VEC(op1(WASM_OP_F64X2_ABS, b), VU64(0x7ff0000000000001u, 0));
    CHECK_VEC(op1(WASM_OP_F64X2_NEG, b), VU64(0x7ff0000000000001u, 0x8000000000000000u));
}

TEST(simd_rounding_nearest_ties_to_even_and_keeps_signs) {
    CHECK_VEC(op1(WASM_OP_F32X4_NEAREST, VF32(2.5f, -2.5f, 0.5f, -0.5f)),
              VF32(2.0f, -2.0f, 0.0f, -0.0f));
    CHECK_VEC(op1(WASM_OP_F32X4_NEAREST, VF32(3.5f, 1.5f, 8388609.0f, -INFINITY)),
              VF32(4.0f, 2.0f, 8388609.0f, -INFINITY));
    CHECK_VEC(op1(WASM_OP_F32X4_CEIL, VF32(-0.5f, 0.5f, -1.5f, 1e30f)),
              VF32(-0.0f, 1.0f, -1.0f, 1e30f));
    CHECK_VEC(op1(WASM_OP_F32X4_FLOOR, VF32(-0.5f, 0.5f, -1.5f, -0.0f)),
              VF32(-1.0f, 0.0f, -2.0f, -0.0f));
    CHECK_VEC(op1(WASM_OP_F32X4_TRUNC, VF32(-0.5f, 1.7f, -1.7f, INFINITY)),
              VF32(-0.0f, 1.0f, -1.0f, INFINITY));
    CHECK_VEC(op1(WASM_OP_F64X2_NEAREST, VF64(2.5, -2.5)), VF64(2.0, -2.0));
    CHECK_VEC(op1(WASM_OP_F64X2_NEAREST, VF64(0.5, -0.5)), VF64(0.0, -0.0));
    CHECK_VEC(op1(WASM_OP_F64X2_NEAREST, VF64(4503599627370497.0, -3.5)),
              VF64(4503599627370497.0, -4.0));
    CHECK_VEC(op1(WASM_OP_F64X2_CEIL, VF64(-0.5, 1.25)), VF64(-0.0, 2.0));
    CHECK_VEC(op1(WASM_OP_F64X2_FLOOR, VF64(-0.5, 1.25)), VF64(-1.0, 1.0));
    CHECK_VEC(op1(WASM_OP_F64X2_TRUNC, VF64(-0.75, 1.75)), VF64(-0.0, 1.0));

    /* a signalling NaN comes out quiet */
    vec snan = VU32(0x7fa00000, 0xff800001, 0x7fc00000, 0x7fa00000);
    static const wasm_op f32_rounds[] = {WASM_OP_F32X4_CEIL, WASM_OP_F32X4_FLOOR,
                                         WASM_OP_F32X4_TRUNC, WASM_OP_F32X4_NEAREST};
    for (int k = 0; k < 4; k++) {
        vec r = op1(f32_rounds[k], snan);
        for (int i = 0; i < 4; i++)
            CHECK(f32_quiet_nan(r.u32[i]));
    }
    vec dsnan = VU64(0x7ff0000000000001u, 0xfff8000000000000u);
    static const wasm_op f64_rounds[] = {WASM_OP_F64X2_CEIL, WASM_OP_F64X2_FLOOR,
                                         WASM_OP_F64X2_TRUNC, WASM_OP_F64X2_NEAREST};
    for (int k = 0; k < 4; k++) {
        vec r = op1(f64_rounds[k], dsnan);
        CHECK(f64_quiet_nan(r.u64[0]));
        CHECK(f64_quiet_nan(r.u64[1]));
    }
}

/* ---- conversions ------------------------------------------------------------ */

TEST(simd_trunc_sat_maps_nan_to_zero_and_saturates) {
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F32X4_S, VF32(NAN, INFINITY, -INFINITY, 3e9f)),
              VI32(0, INT32_MAX, INT32_MIN, INT32_MAX));
    CHECK_VEC(
        op1(WASM_OP_I32X4_TRUNC_SAT_F32X4_S, VF32(-2147483648.0f, 2147483520.0f, -1.9f, -3e9f)),
        VI32(INT32_MIN, 2147483520, -1, INT32_MIN));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F32X4_S, VU32(0xffc00000, 0x7f800001, 0x80000000, 0)),
              VI32(0, 0, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F32X4_U, VF32(NAN, INFINITY, -INFINITY, -0.9f)),
              VU32(0, UINT32_MAX, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F32X4_U, VF32(4294967040.0f, 5e9f, -1.0f, 2147483648.0f)),
              VU32(4294967040u, UINT32_MAX, 0, 2147483648u));

    /* the high half of the result is zero, even written over the operand */
    vec a = VF64(2147483647.9, -2147483648.9);
    wasm_simd_exec(WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO, NULL, a.cell, NULL, NULL, a.cell);
    CHECK_VEC(a, VI32(INT32_MAX, INT32_MIN, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO, VF64(-2147483649.0, 1e300)),
              VI32(INT32_MIN, INT32_MAX, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO, VF64(NAN, -INFINITY)),
              VI32(0, INT32_MIN, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F64X2_U_ZERO, VF64(4294967295.9, 4294967296.0)),
              VU32(UINT32_MAX, UINT32_MAX, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F64X2_U_ZERO, VF64(-0.99, NAN)), VU32(0, 0, 0, 0));
    CHECK_VEC(op1(WASM_OP_I32X4_TRUNC_SAT_F64X2_U_ZERO, VF64(-INFINITY, 42.9)), VU32(0, 42, 0, 0));
}

TEST(simd_int_to_float_conversions_round_to_nearest_even) {
    CHECK_VEC(op1(WASM_OP_F32X4_CONVERT_I32X4_S, VI32(-1, INT32_MIN, 16777217, 16777219)),
              VF32(-1.0f, -2147483648.0f, 16777216.0f, 16777220.0f));
    CHECK_VEC(op1(WASM_OP_F32X4_CONVERT_I32X4_U, VU32(0xffffffff, 0x80000001, 16777217, 1)),
              VF32(4294967296.0f, 2147483648.0f, 16777216.0f, 1.0f));
    CHECK_VEC(op1(WASM_OP_F64X2_CONVERT_LOW_I32X4_S, VI32(-1, INT32_MIN, 5, 6)),
              VF64(-1.0, -2147483648.0));
    CHECK_VEC(op1(WASM_OP_F64X2_CONVERT_LOW_I32X4_U, VU32(0xffffffff, 0x80000000, 5, 6)),
              VF64(4294967295.0, 2147483648.0));
}

TEST(simd_demote_and_promote) {
    vec r = op1(WASM_OP_F32X4_DEMOTE_F64X2_ZERO, VF64(1e300, 0.1));
    CHECK_VEC(r, VF32(INFINITY, 0.1f, 0.0f, 0.0f));
    CHECK_VEC(op1(WASM_OP_F32X4_DEMOTE_F64X2_ZERO, VF64(-1e-300, 1.5)),
              VF32(-0.0f, 1.5f, 0.0f, 0.0f));
    r = op1(WASM_OP_F32X4_DEMOTE_F64X2_ZERO, VF64(NAN, -NAN));
    CHECK(f32_quiet_nan(r.u32[0]));
    CHECK(f32_quiet_nan(r.u32[1]));
    CHECK_EQ_U64(r.u64[1], 0);
    CHECK_VEC(op1(WASM_OP_F64X2_PROMOTE_LOW_F32X4, VF32(0.1f, -INFINITY, 7.0f, 8.0f)),
              VF64((double)0.1f, -INFINITY));
    r = op1(WASM_OP_F64X2_PROMOTE_LOW_F32X4, VU32(0x7fc00000, 0xff800001, 0, 0));
    CHECK(f64_quiet_nan(r.u64[0]));
    CHECK(f64_quiet_nan(r.u64[1]));
}

/* ---- overlap and coverage --------------------------------------------------- */

TEST(simd_results_may_overwrite_either_operand) {
    vec a = VU32(1, 2, 3, 4), b = VU32(10, 20, 30, 40);
    wasm_simd_exec(WASM_OP_I32X4_SUB, NULL, a.cell, b.cell, NULL, a.cell);
    CHECK_VEC(a, VU32(0xfffffff7, 0xffffffee, 0xffffffe5, 0xffffffdc));
    a = VU32(1, 2, 3, 4);
    wasm_simd_exec(WASM_OP_I32X4_SUB, NULL, a.cell, b.cell, NULL, b.cell);
    CHECK_VEC(b, VU32(0xfffffff7, 0xffffffee, 0xffffffe5, 0xffffffdc));
    /* lanes are read after their neighbours are written in a naive loop */
    vec c = VI8(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    wasm_simd_exec(WASM_OP_I16X8_EXTEND_HIGH_I8X16_S, NULL, c.cell, NULL, NULL, c.cell);
    CHECK_VEC(c, VI16(9, 10, 11, 12, 13, 14, 15, 16));
    vec d = VI16(1, 2, 3, 4, 5, 6, 7, 8);
    wasm_simd_exec(WASM_OP_I8X16_NARROW_I16X8_S, NULL, d.cell, d.cell, NULL, d.cell);
    CHECK_VEC(d, VI8(1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8));
}

/* Every 0xFD instruction that is not a load or store writes its result:
 * run each with two different prior contents of the output and compare.
 * A handled instruction overwrites both the same way; a missing one leaves
 * the two sentinels, which differ. Scalar results must leave the next cell
 * alone. The list comes from the opcode table, so it grows with it. */
TEST(simd_every_non_memory_instruction_writes_its_result) {
    vec x = VU8(3, 0x81, 7, 200, 0, 1, 2, 0xff, 0x40, 9, 17, 0x7f, 0x80, 5, 31, 16);
    vec y = VU8(1, 2, 0x90, 4, 5, 6, 0xee, 8, 9, 10, 11, 12, 13, 14, 15, 0);
    vec z = VU8(0xf0, 0x0f, 0xaa);
    uint8_t imm[16] = {1, 17, 2, 30, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    unsigned checked = 0;
    for (int op = 0; op < WASM_OP_COUNT_; op++) {
        const wasm_opinfo *info = &wasm_opinfo_table[op];
        if (info->prefix != 0xfd || info->imm == WASM_IMM_MEMARG ||
            info->imm == WASM_IMM_MEMARG_LANE)
            continue;
        const wasm_siginfo *s = &wasm_siginfo_table[info->sig];
        const wasm_cell *in[3] = {x.cell, y.cell, z.cell};
        wasm_cell out1[2] = {SENTINEL, SENTINEL}, out2[2] = {~SENTINEL, ~SENTINEL};
        wasm_simd_exec((wasm_op)op, imm, in[0], in[1], in[2], out1);
        wasm_simd_exec((wasm_op)op, imm, in[0], in[1], in[2], out2);
        if (!CHECK_EQ_U64(out1[0], out2[0])) unit_fail(__FILE__, __LINE__, "in %s", info->name);
        if (s->result == WASM_V128) {
            if (!CHECK_EQ_U64(out1[1], out2[1])) unit_fail(__FILE__, __LINE__, "in %s", info->name);
        } else if (!CHECK_EQ_U64(out1[1], SENTINEL)) {
            unit_fail(__FILE__, __LINE__, "in %s", info->name);
        }
        checked++;
    }
    CHECK(checked > 200);
}

TEST(simd_exec_leaves_the_output_alone_for_memory_instructions) {
    vec x = VU64(1, 2);
    vec r = garbage();
    wasm_simd_exec(WASM_OP_V128_LOAD, NULL, x.cell, NULL, NULL, r.cell);
    CHECK_VEC(r, garbage());
    wasm_simd_exec(WASM_OP_I32_ADD, NULL, x.cell, x.cell, NULL, r.cell);
    CHECK_VEC(r, garbage());
}

/* ---- memory forms ----------------------------------------------------------- */

/* A heap block holding the n bytes at offset 1 (an odd address) and ending
 * with them, so ASan catches any access past them. Free the block, not the
 * bytes: they start at block + 1. */
static uint8_t *exact(const uint8_t *bytes, size_t n) {
    uint8_t *block = malloc(n + 1);
    if (block) memcpy(block + 1, bytes, n);
    return block;
}

static vec load(wasm_op op, const uint8_t *bytes, size_t n) {
    uint8_t *block = exact(bytes, n);
    vec r = garbage();
    if (block) wasm_simd_load(op, block + 1, r.cell);
    free(block);
    return r;
}

TEST(simd_loads_read_exactly_their_bytes_unaligned) {
    static const uint8_t m[17] = {0xee, 0x80, 0xff, 0x01, 0x7f, 0x00, 0x80, 0xfe, 0x12,
                                  9,    10,   11,   12,   13,   14,   15,   16};
    const uint8_t *p = m + 1;
    CHECK_MEM(load(WASM_OP_V128_LOAD, p, 16).u8, p, 16);

    CHECK_VEC(load(WASM_OP_V128_LOAD8X8_S, p, 8), VI16(-128, -1, 1, 127, 0, -128, -2, 0x12));
    CHECK_VEC(load(WASM_OP_V128_LOAD8X8_U, p, 8), VU16(0x80, 0xff, 1, 0x7f, 0, 0x80, 0xfe, 0x12));
    CHECK_VEC(load(WASM_OP_V128_LOAD16X4_S, p, 8), VI32(-128, 0x7f01, -32768, 0x12fe));
    CHECK_VEC(load(WASM_OP_V128_LOAD16X4_U, p, 8), VU32(0xff80, 0x7f01, 0x8000, 0x12fe));
    CHECK_VEC(load(WASM_OP_V128_LOAD32X2_S, p, 8), VI64((int32_t)0x7f01ff80, 0x12fe8000));
    CHECK_VEC(load(WASM_OP_V128_LOAD32X2_U, p + 3, 8), VU64(0xfe80007fu, 0x0b0a0912u));
    CHECK_VEC(load(WASM_OP_V128_LOAD32X2_S, p + 3, 8), VI64((int32_t)0xfe80007f, 0x0b0a0912));

    CHECK_VEC(load(WASM_OP_V128_LOAD8_SPLAT, p, 1),
              VU8(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                  0x80, 0x80, 0x80));
    CHECK_VEC(load(WASM_OP_V128_LOAD16_SPLAT, p, 2),
              VU16(0xff80, 0xff80, 0xff80, 0xff80, 0xff80, 0xff80, 0xff80, 0xff80));
    CHECK_VEC(load(WASM_OP_V128_LOAD32_SPLAT, p, 4),
              VU32(0x7f01ff80, 0x7f01ff80, 0x7f01ff80, 0x7f01ff80));
    CHECK_VEC(load(WASM_OP_V128_LOAD64_SPLAT, p, 8),
              VU64(0x12fe80007f01ff80u, 0x12fe80007f01ff80u));
    CHECK_VEC(load(WASM_OP_V128_LOAD32_ZERO, p, 4), VU32(0x7f01ff80, 0, 0, 0));
    CHECK_VEC(load(WASM_OP_V128_LOAD64_ZERO, p, 8), VU64(0x12fe80007f01ff80u, 0));
    /* not a plain load: nothing written */
    CHECK_VEC(load(WASM_OP_V128_LOAD8_LANE, p, 1), garbage());
}

TEST(simd_load_lane_replaces_one_lane_of_the_vector) {
    static const uint8_t m[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    vec v = VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    struct {
        wasm_op op;
        size_t n;
        uint8_t lane;
    } cases[] = {{WASM_OP_V128_LOAD8_LANE, 1, 15},
                 {WASM_OP_V128_LOAD16_LANE, 2, 3},
                 {WASM_OP_V128_LOAD32_LANE, 4, 1},
                 {WASM_OP_V128_LOAD64_LANE, 8, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *block = exact(m, cases[k].n);
        REQUIRE(block);
        const uint8_t *p = block + 1;
        vec want = v;
        memcpy(want.u8 + cases[k].lane * cases[k].n, m, cases[k].n);
        vec r = garbage();
        wasm_simd_load_lane(cases[k].op, p, cases[k].lane, v.cell, r.cell);
        CHECK_VEC(r, want);
        /* in place */
        vec w = v;
        wasm_simd_load_lane(cases[k].op, p, cases[k].lane, w.cell, w.cell);
        CHECK_VEC(w, want);
        free(block);
    }
}

TEST(simd_stores_write_exactly_their_bytes) {
    vec v = VU8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint8_t mem[18];
    memset(mem, 0xaa, sizeof mem);
    wasm_simd_store(WASM_OP_V128_STORE, mem + 1, 7, v.cell); /* lane ignored */
    CHECK_EQ_U64(mem[0], 0xaa);
    CHECK_MEM(mem + 1, v.u8, 16);
    CHECK_EQ_U64(mem[17], 0xaa);

    struct {
        wasm_op op;
        size_t n;
        uint8_t lane;
    } cases[] = {{WASM_OP_V128_STORE8_LANE, 1, 13},
                 {WASM_OP_V128_STORE16_LANE, 2, 7},
                 {WASM_OP_V128_STORE32_LANE, 4, 2},
                 {WASM_OP_V128_STORE64_LANE, 8, 1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *block = malloc(cases[k].n + 1);
        REQUIRE(block);
        uint8_t *p = block + 1;
        wasm_simd_store(cases[k].op, p, cases[k].lane, v.cell);
        CHECK_MEM(p, v.u8 + cases[k].lane * cases[k].n, cases[k].n);
        free(block);
    }
    memset(mem, 0xaa, sizeof mem);
    wasm_simd_store(WASM_OP_V128_STORE16_LANE, mem + 3, 1, v.cell);
    static const uint8_t want[4] = {0xaa, 2, 3, 0xaa};
    CHECK_MEM(mem + 2, want, 4);
}
