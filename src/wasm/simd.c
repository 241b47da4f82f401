/*
 * simd.c - the semantics of WebAssembly 2.0's 128-bit SIMD instructions.
 *
 * The interpreter hands every 0xFD instruction here: wasm_simd_exec() for
 * those that compute on values, wasm_simd_load(), wasm_simd_load_lane() and
 * wasm_simd_store() for those that touch linear memory. Operands arrive as
 * frame cells ("values in frames" in internal.h): a v128 is two cells
 * holding its 16 bytes in memory order, a scalar is one cell.
 *
 * Every instruction copies its vector operands into v128 unions, computes
 * lane by lane into a fresh one and copies that out, so a result may
 * overlap its operands. The lane loops are written plainly, grouped by lane
 * shape (compilers vectorise the simple ones). What needs care is the
 * spec's exact arithmetic, which C does not give for free:
 *   - integer lanes are computed in unsigned or wider types, so wrapping is
 *     defined and nothing overflows a signed int;
 *   - float-to-int conversions test the range before casting, since an
 *     out-of-range cast is undefined behaviour;
 *   - float min/max propagate NaN and order -0 below +0 (fmin/fmax don't);
 *   - abs, neg, pmin, pmax and lane moves copy bits, so NaN payloads survive.
 *
 * Nothing here traps or fails: the validator has checked types and lane
 * indices, and memory faults are turned into traps by trap.c.
 */
#include <math.h>
#include <string.h>

#include "wasm/internal.h"

/* The union below puts lane 0 at the lowest address only on a
 * little-endian host; wasm's lane order is memory order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "simd.c assumes a little-endian host");

typedef union v128 {
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
} v128;

_Static_assert(sizeof(v128) == 2 * sizeof(wasm_cell), "a v128 fills two cells");

/* ---- lane helpers --------------------------------------------------------- */

/* All ones in a lane of any width when c holds (truncated on assignment). */
#define MASK(c) (-(uint64_t)((c) != 0))

/* r.R[i] = E for each of the N lanes; E reads the operands x, y and i. */
#define EACH(N, R, E)                                                                              \
    do {                                                                                           \
        for (unsigned i = 0; i < (N); i++)                                                         \
            r.R[i] = (E);                                                                          \
    } while (0)

#define CMP(N, R, T, OP) EACH(N, R, MASK(x.T[i] OP y.T[i]))

/* Two vectors of N wide lanes into one of 2N narrow lanes, x's first. */
#define NARROW(N, R, T, LO, HI)                                                                    \
    do {                                                                                           \
        for (unsigned i = 0; i < (N); i++) {                                                       \
            r.R[i] = clamp(x.T[i], LO, HI);                                                        \
            r.R[i + (N)] = clamp(y.T[i], LO, HI);                                                  \
        }                                                                                          \
    } while (0)

/* ceil/floor/trunc/nearest: libm may hand a signalling NaN back unchanged,
 * but the result must be a quiet NaN; x + x quiets it and keeps the payload
 * (a canonical NaN stays canonical). */
#define ROUND(N, F, FN) EACH(N, F, isnan(x.F[i]) ? x.F[i] + x.F[i] : FN(x.F[i]))

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static int16_t q15mulr_sat(int16_t a, int16_t b) {
    int32_t p = ((int32_t)a * b + 0x4000) >> 15;
    return (int16_t)(p > INT16_MAX ? INT16_MAX : p); /* only -32768 * -32768 gets there */
}

/* Whether every lane of `size` bytes is nonzero. */
static wasm_cell all_true(const v128 *v, unsigned size) {
    for (unsigned i = 0; i < 16; i += size) {
        uint64_t lane = 0;
        memcpy(&lane, v->u8 + i, size);
        if (lane == 0) return 0;
    }
    return 1;
}

/* The top bit of each lane of `size` bytes, lane 0 in bit 0. A lane's top
 * bit is that of its last byte in memory order. */
static wasm_cell bitmask(const v128 *v, unsigned size) {
    wasm_cell m = 0;
    for (unsigned i = 0; i < 16 / size; i++)
        m |= (wasm_cell)(v->u8[i * size + size - 1] >> 7) << i;
    return m;
}

/* Float min/max: any NaN operand gives a NaN (the canonical one is always
 * allowed), and -0 < +0, which a plain comparison cannot see. */
static float f32_min(float a, float b) {
    if (isnan(a) || isnan(b)) return NAN;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

static float f32_max(float a, float b) {
    if (isnan(a) || isnan(b)) return NAN;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

static double f64_min(double a, double b) {
    if (isnan(a) || isnan(b)) return NAN;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}

static double f64_max(double a, double b) {
    if (isnan(a) || isnan(b)) return NAN;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}

/* Saturating float-to-int truncation; NaN gives 0. Floats arrive widened to
 * double, which is exact. Every bound is tested before the cast. */
static int32_t trunc_sat_s32(double v) {
    if (isnan(v)) return 0;
    if (v <= -2147483649.0) return INT32_MIN;
    if (v >= 2147483648.0) return INT32_MAX;
    return (int32_t)v;
}

static uint32_t trunc_sat_u32(double v) {
    if (!(v > -1.0)) return 0; /* NaN too; (-1, 0) truncates to 0 below */
    if (v >= 4294967296.0) return UINT32_MAX;
    return (uint32_t)v;
}

/* ---- wasm_simd_exec ------------------------------------------------------ */

static v128 vget(const wasm_cell *c) {
    v128 v;
    memcpy(&v, c, sizeof v);
    return v;
}

/* Whether operand `k` of `op` is a vector (only those are read as two cells:
 * a scalar operand is a single cell and may end its frame). */
static bool operand_is_v128(wasm_op op, unsigned k) {
    if ((unsigned)op >= WASM_OP_COUNT_) return false; /* an internal opcode: not ours */
    const wasm_siginfo *s = &wasm_siginfo_table[wasm_opinfo_table[op].sig];
    return k < s->nparams && s->params[k] == WASM_V128;
}

void wasm_simd_exec(wasm_op op, const uint8_t *imm, const wasm_cell *a, const wasm_cell *b,
                    const wasm_cell *c, wasm_cell *out) {
    v128 x = {0}, y = {0}, z = {0}, r;
    if (a && operand_is_v128(op, 0)) x = vget(a);
    if (b && operand_is_v128(op, 1)) y = vget(b);
    if (c && operand_is_v128(op, 2)) z = vget(c);
    unsigned lane = imm ? imm[0] : 0;
    unsigned s = b ? (uint32_t)*b : 0; /* shift count, reduced per lane width below */

    switch (op) {
    /* ---- scalar results: one cell, i32 zero-extended ---- */
    case WASM_OP_I8X16_EXTRACT_LANE_S: *out = (uint32_t)(int32_t)x.i8[lane & 15]; return;
    case WASM_OP_I8X16_EXTRACT_LANE_U: *out = x.u8[lane & 15]; return;
    case WASM_OP_I16X8_EXTRACT_LANE_S: *out = (uint32_t)(int32_t)x.i16[lane & 7]; return;
    case WASM_OP_I16X8_EXTRACT_LANE_U: *out = x.u16[lane & 7]; return;
    case WASM_OP_I32X4_EXTRACT_LANE:
    case WASM_OP_F32X4_EXTRACT_LANE: *out = x.u32[lane & 3]; return;
    case WASM_OP_I64X2_EXTRACT_LANE:
    case WASM_OP_F64X2_EXTRACT_LANE: *out = x.u64[lane & 1]; return;
    case WASM_OP_V128_ANY_TRUE: *out = (x.u64[0] | x.u64[1]) != 0; return;
    case WASM_OP_I8X16_ALL_TRUE: *out = all_true(&x, 1); return;
    case WASM_OP_I16X8_ALL_TRUE: *out = all_true(&x, 2); return;
    case WASM_OP_I32X4_ALL_TRUE: *out = all_true(&x, 4); return;
    case WASM_OP_I64X2_ALL_TRUE: *out = all_true(&x, 8); return;
    case WASM_OP_I8X16_BITMASK: *out = bitmask(&x, 1); return;
    case WASM_OP_I16X8_BITMASK: *out = bitmask(&x, 2); return;
    case WASM_OP_I32X4_BITMASK: *out = bitmask(&x, 4); return;
    case WASM_OP_I64X2_BITMASK: *out = bitmask(&x, 8); return;

    /* ---- constants, splats, lanes, byte permutations ---- */
    case WASM_OP_V128_CONST:
        if (!imm) return;
        memcpy(&r, imm, sizeof r);
        break;
    case WASM_OP_I8X16_SPLAT: EACH(16, u8, (uint8_t)*a); break;
    case WASM_OP_I16X8_SPLAT: EACH(8, u16, (uint16_t)*a); break;
    case WASM_OP_I32X4_SPLAT:
    case WASM_OP_F32X4_SPLAT: EACH(4, u32, (uint32_t)*a); break;
    case WASM_OP_I64X2_SPLAT:
    case WASM_OP_F64X2_SPLAT: EACH(2, u64, *a); break;
    case WASM_OP_I8X16_REPLACE_LANE:
        r = x;
        r.u8[lane & 15] = (uint8_t)*b;
        break;
    case WASM_OP_I16X8_REPLACE_LANE:
        r = x;
        r.u16[lane & 7] = (uint16_t)*b;
        break;
    case WASM_OP_I32X4_REPLACE_LANE:
    case WASM_OP_F32X4_REPLACE_LANE:
        r = x;
        r.u32[lane & 3] = (uint32_t)*b;
        break;
    case WASM_OP_I64X2_REPLACE_LANE:
    case WASM_OP_F64X2_REPLACE_LANE:
        r = x;
        r.u64[lane & 1] = *b;
        break;
    case WASM_OP_I8X16_SHUFFLE:
        if (!imm) return;
        EACH(16, u8, (imm[i] & 31) < 16 ? x.u8[imm[i] & 15] : y.u8[imm[i] & 15]);
        break;
    case WASM_OP_I8X16_SWIZZLE: EACH(16, u8, y.u8[i] < 16 ? x.u8[y.u8[i]] : 0); break;

    /* ---- bitwise ---- */
    case WASM_OP_V128_NOT: EACH(2, u64, ~x.u64[i]); break;
    case WASM_OP_V128_AND: EACH(2, u64, x.u64[i] & y.u64[i]); break;
    case WASM_OP_V128_ANDNOT: EACH(2, u64, x.u64[i] & ~y.u64[i]); break;
    case WASM_OP_V128_OR: EACH(2, u64, x.u64[i] | y.u64[i]); break;
    case WASM_OP_V128_XOR: EACH(2, u64, x.u64[i] ^ y.u64[i]); break;
    case WASM_OP_V128_BITSELECT:
        EACH(2, u64, (x.u64[i] & z.u64[i]) | (y.u64[i] & ~z.u64[i]));
        break;

    /* ---- i8x16 ---- */
    case WASM_OP_I8X16_EQ: CMP(16, u8, u8, ==); break;
    case WASM_OP_I8X16_NE: CMP(16, u8, u8, !=); break;
    case WASM_OP_I8X16_LT_S: CMP(16, u8, i8, <); break;
    case WASM_OP_I8X16_LT_U: CMP(16, u8, u8, <); break;
    case WASM_OP_I8X16_GT_S: CMP(16, u8, i8, >); break;
    case WASM_OP_I8X16_GT_U: CMP(16, u8, u8, >); break;
    case WASM_OP_I8X16_LE_S: CMP(16, u8, i8, <=); break;
    case WASM_OP_I8X16_LE_U: CMP(16, u8, u8, <=); break;
    case WASM_OP_I8X16_GE_S: CMP(16, u8, i8, >=); break;
    case WASM_OP_I8X16_GE_U: CMP(16, u8, u8, >=); break;
    case WASM_OP_I8X16_ABS: EACH(16, u8, x.i8[i] < 0 ? 0u - x.u8[i] : x.u8[i]); break;
    case WASM_OP_I8X16_NEG: EACH(16, u8, 0u - x.u8[i]); break;
    case WASM_OP_I8X16_POPCNT: EACH(16, u8, __builtin_popcount(x.u8[i])); break;
    case WASM_OP_I8X16_NARROW_I16X8_S: NARROW(8, i8, i16, INT8_MIN, INT8_MAX); break;
    case WASM_OP_I8X16_NARROW_I16X8_U: NARROW(8, u8, i16, 0, UINT8_MAX); break;
    case WASM_OP_I8X16_SHL: EACH(16, u8, (uint32_t)x.u8[i] << (s & 7)); break;
    case WASM_OP_I8X16_SHR_S: EACH(16, i8, x.i8[i] >> (s & 7)); break;
    case WASM_OP_I8X16_SHR_U: EACH(16, u8, x.u8[i] >> (s & 7)); break;
    case WASM_OP_I8X16_ADD: EACH(16, u8, x.u8[i] + y.u8[i]); break;
    case WASM_OP_I8X16_SUB: EACH(16, u8, x.u8[i] - y.u8[i]); break;
    case WASM_OP_I8X16_ADD_SAT_S: EACH(16, i8, clamp(x.i8[i] + y.i8[i], INT8_MIN, INT8_MAX)); break;
    case WASM_OP_I8X16_ADD_SAT_U: EACH(16, u8, clamp(x.u8[i] + y.u8[i], 0, UINT8_MAX)); break;
    case WASM_OP_I8X16_SUB_SAT_S: EACH(16, i8, clamp(x.i8[i] - y.i8[i], INT8_MIN, INT8_MAX)); break;
    case WASM_OP_I8X16_SUB_SAT_U: EACH(16, u8, clamp(x.u8[i] - y.u8[i], 0, UINT8_MAX)); break;
    case WASM_OP_I8X16_MIN_S: EACH(16, i8, x.i8[i] < y.i8[i] ? x.i8[i] : y.i8[i]); break;
    case WASM_OP_I8X16_MIN_U: EACH(16, u8, x.u8[i] < y.u8[i] ? x.u8[i] : y.u8[i]); break;
    case WASM_OP_I8X16_MAX_S: EACH(16, i8, x.i8[i] > y.i8[i] ? x.i8[i] : y.i8[i]); break;
    case WASM_OP_I8X16_MAX_U: EACH(16, u8, x.u8[i] > y.u8[i] ? x.u8[i] : y.u8[i]); break;
    case WASM_OP_I8X16_AVGR_U: EACH(16, u8, (x.u8[i] + y.u8[i] + 1u) >> 1); break;

    /* ---- i16x8 ---- */
    case WASM_OP_I16X8_EQ: CMP(8, u16, u16, ==); break;
    case WASM_OP_I16X8_NE: CMP(8, u16, u16, !=); break;
    case WASM_OP_I16X8_LT_S: CMP(8, u16, i16, <); break;
    case WASM_OP_I16X8_LT_U: CMP(8, u16, u16, <); break;
    case WASM_OP_I16X8_GT_S: CMP(8, u16, i16, >); break;
    case WASM_OP_I16X8_GT_U: CMP(8, u16, u16, >); break;
    case WASM_OP_I16X8_LE_S: CMP(8, u16, i16, <=); break;
    case WASM_OP_I16X8_LE_U: CMP(8, u16, u16, <=); break;
    case WASM_OP_I16X8_GE_S: CMP(8, u16, i16, >=); break;
    case WASM_OP_I16X8_GE_U: CMP(8, u16, u16, >=); break;
    case WASM_OP_I16X8_ABS: EACH(8, u16, x.i16[i] < 0 ? 0u - x.u16[i] : x.u16[i]); break;
    case WASM_OP_I16X8_NEG: EACH(8, u16, 0u - x.u16[i]); break;
    case WASM_OP_I16X8_NARROW_I32X4_S: NARROW(4, i16, i32, INT16_MIN, INT16_MAX); break;
    case WASM_OP_I16X8_NARROW_I32X4_U: NARROW(4, u16, i32, 0, UINT16_MAX); break;
    case WASM_OP_I16X8_EXTEND_LOW_I8X16_S: EACH(8, i16, x.i8[i]); break;
    case WASM_OP_I16X8_EXTEND_HIGH_I8X16_S: EACH(8, i16, x.i8[i + 8]); break;
    case WASM_OP_I16X8_EXTEND_LOW_I8X16_U: EACH(8, u16, x.u8[i]); break;
    case WASM_OP_I16X8_EXTEND_HIGH_I8X16_U: EACH(8, u16, x.u8[i + 8]); break;
    case WASM_OP_I16X8_EXTADD_PAIRWISE_I8X16_S: EACH(8, i16, x.i8[2 * i] + x.i8[2 * i + 1]); break;
    case WASM_OP_I16X8_EXTADD_PAIRWISE_I8X16_U: EACH(8, u16, x.u8[2 * i] + x.u8[2 * i + 1]); break;
    case WASM_OP_I16X8_EXTMUL_LOW_I8X16_S: EACH(8, i16, x.i8[i] * y.i8[i]); break;
    case WASM_OP_I16X8_EXTMUL_HIGH_I8X16_S: EACH(8, i16, x.i8[i + 8] * y.i8[i + 8]); break;
    case WASM_OP_I16X8_EXTMUL_LOW_I8X16_U: EACH(8, u16, x.u8[i] * y.u8[i]); break;
    case WASM_OP_I16X8_EXTMUL_HIGH_I8X16_U: EACH(8, u16, x.u8[i + 8] * y.u8[i + 8]); break;
    case WASM_OP_I16X8_Q15MULR_SAT_S: EACH(8, i16, q15mulr_sat(x.i16[i], y.i16[i])); break;
    case WASM_OP_I16X8_SHL: EACH(8, u16, (uint32_t)x.u16[i] << (s & 15)); break;
    case WASM_OP_I16X8_SHR_S: EACH(8, i16, x.i16[i] >> (s & 15)); break;
    case WASM_OP_I16X8_SHR_U: EACH(8, u16, x.u16[i] >> (s & 15)); break;
    case WASM_OP_I16X8_ADD: EACH(8, u16, x.u16[i] + y.u16[i]); break;
    case WASM_OP_I16X8_SUB: EACH(8, u16, x.u16[i] - y.u16[i]); break;
    case WASM_OP_I16X8_MUL: EACH(8, u16, (uint32_t)x.u16[i] * y.u16[i]); break;
    case WASM_OP_I16X8_ADD_SAT_S:
        EACH(8, i16, clamp(x.i16[i] + y.i16[i], INT16_MIN, INT16_MAX));
        break;
    case WASM_OP_I16X8_ADD_SAT_U: EACH(8, u16, clamp(x.u16[i] + y.u16[i], 0, UINT16_MAX)); break;
    case WASM_OP_I16X8_SUB_SAT_S:
        EACH(8, i16, clamp(x.i16[i] - y.i16[i], INT16_MIN, INT16_MAX));
        break;
    case WASM_OP_I16X8_SUB_SAT_U: EACH(8, u16, clamp(x.u16[i] - y.u16[i], 0, UINT16_MAX)); break;
    case WASM_OP_I16X8_MIN_S: EACH(8, i16, x.i16[i] < y.i16[i] ? x.i16[i] : y.i16[i]); break;
    case WASM_OP_I16X8_MIN_U: EACH(8, u16, x.u16[i] < y.u16[i] ? x.u16[i] : y.u16[i]); break;
    case WASM_OP_I16X8_MAX_S: EACH(8, i16, x.i16[i] > y.i16[i] ? x.i16[i] : y.i16[i]); break;
    case WASM_OP_I16X8_MAX_U: EACH(8, u16, x.u16[i] > y.u16[i] ? x.u16[i] : y.u16[i]); break;
    case WASM_OP_I16X8_AVGR_U: EACH(8, u16, (x.u16[i] + y.u16[i] + 1u) >> 1); break;

    /* ---- i32x4 ---- */
    case WASM_OP_I32X4_EQ: CMP(4, u32, u32, ==); break;
    case WASM_OP_I32X4_NE: CMP(4, u32, u32, !=); break;
    case WASM_OP_I32X4_LT_S: CMP(4, u32, i32, <); break;
    case WASM_OP_I32X4_LT_U: CMP(4, u32, u32, <); break;
    case WASM_OP_I32X4_GT_S: CMP(4, u32, i32, >); break;
    case WASM_OP_I32X4_GT_U: CMP(4, u32, u32, >); break;
    case WASM_OP_I32X4_LE_S: CMP(4, u32, i32, <=); break;
    case WASM_OP_I32X4_LE_U: CMP(4, u32, u32, <=); break;
    case WASM_OP_I32X4_GE_S: CMP(4, u32, i32, >=); break;
    case WASM_OP_I32X4_GE_U: CMP(4, u32, u32, >=); break;
    case WASM_OP_I32X4_ABS: EACH(4, u32, x.i32[i] < 0 ? 0u - x.u32[i] : x.u32[i]); break;
    case WASM_OP_I32X4_NEG: EACH(4, u32, 0u - x.u32[i]); break;
    case WASM_OP_I32X4_EXTEND_LOW_I16X8_S: EACH(4, i32, x.i16[i]); break;
    case WASM_OP_I32X4_EXTEND_HIGH_I16X8_S: EACH(4, i32, x.i16[i + 4]); break;
    case WASM_OP_I32X4_EXTEND_LOW_I16X8_U: EACH(4, u32, x.u16[i]); break;
    case WASM_OP_I32X4_EXTEND_HIGH_I16X8_U: EACH(4, u32, x.u16[i + 4]); break;
    case WASM_OP_I32X4_EXTADD_PAIRWISE_I16X8_S:
        EACH(4, i32, x.i16[2 * i] + x.i16[2 * i + 1]);
        break;
    case WASM_OP_I32X4_EXTADD_PAIRWISE_I16X8_U:
        EACH(4, u32, x.u16[2 * i] + x.u16[2 * i + 1]);
        break;
    /* |product| <= 2^30 fits an int; 65535^2 does not, hence the casts. */
    case WASM_OP_I32X4_EXTMUL_LOW_I16X8_S: EACH(4, i32, x.i16[i] * y.i16[i]); break;
    case WASM_OP_I32X4_EXTMUL_HIGH_I16X8_S: EACH(4, i32, x.i16[i + 4] * y.i16[i + 4]); break;
    case WASM_OP_I32X4_EXTMUL_LOW_I16X8_U: EACH(4, u32, (uint32_t)x.u16[i] * y.u16[i]); break;
    case WASM_OP_I32X4_EXTMUL_HIGH_I16X8_U:
        EACH(4, u32, (uint32_t)x.u16[i + 4] * y.u16[i + 4]);
        break;
    /* The two products can sum to 2^31, which wraps to INT32_MIN. */
    case WASM_OP_I32X4_DOT_I16X8_S:
        EACH(4, u32,
             (uint32_t)(x.i16[2 * i] * y.i16[2 * i]) +
                 (uint32_t)(x.i16[2 * i + 1] * y.i16[2 * i + 1]));
        break;
    case WASM_OP_I32X4_SHL: EACH(4, u32, x.u32[i] << (s & 31)); break;
    case WASM_OP_I32X4_SHR_S: EACH(4, i32, x.i32[i] >> (s & 31)); break;
    case WASM_OP_I32X4_SHR_U: EACH(4, u32, x.u32[i] >> (s & 31)); break;
    case WASM_OP_I32X4_ADD: EACH(4, u32, x.u32[i] + y.u32[i]); break;
    case WASM_OP_I32X4_SUB: EACH(4, u32, x.u32[i] - y.u32[i]); break;
    case WASM_OP_I32X4_MUL: EACH(4, u32, x.u32[i] * y.u32[i]); break;
    case WASM_OP_I32X4_MIN_S: EACH(4, i32, x.i32[i] < y.i32[i] ? x.i32[i] : y.i32[i]); break;
    case WASM_OP_I32X4_MIN_U: EACH(4, u32, x.u32[i] < y.u32[i] ? x.u32[i] : y.u32[i]); break;
    case WASM_OP_I32X4_MAX_S: EACH(4, i32, x.i32[i] > y.i32[i] ? x.i32[i] : y.i32[i]); break;
    case WASM_OP_I32X4_MAX_U: EACH(4, u32, x.u32[i] > y.u32[i] ? x.u32[i] : y.u32[i]); break;
    case WASM_OP_I32X4_TRUNC_SAT_F32X4_S: EACH(4, i32, trunc_sat_s32(x.f32[i])); break;
    case WASM_OP_I32X4_TRUNC_SAT_F32X4_U: EACH(4, u32, trunc_sat_u32(x.f32[i])); break;
    case WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO:
        EACH(2, i32, trunc_sat_s32(x.f64[i]));
        r.u64[1] = 0;
        break;
    case WASM_OP_I32X4_TRUNC_SAT_F64X2_U_ZERO:
        EACH(2, u32, trunc_sat_u32(x.f64[i]));
        r.u64[1] = 0;
        break;

    /* ---- i64x2 ---- */
    case WASM_OP_I64X2_EQ: CMP(2, u64, u64, ==); break;
    case WASM_OP_I64X2_NE: CMP(2, u64, u64, !=); break;
    case WASM_OP_I64X2_LT_S: CMP(2, u64, i64, <); break;
    case WASM_OP_I64X2_GT_S: CMP(2, u64, i64, >); break;
    case WASM_OP_I64X2_LE_S: CMP(2, u64, i64, <=); break;
    case WASM_OP_I64X2_GE_S: CMP(2, u64, i64, >=); break;
    case WASM_OP_I64X2_ABS: EACH(2, u64, x.i64[i] < 0 ? 0u - x.u64[i] : x.u64[i]); break;
    case WASM_OP_I64X2_NEG: EACH(2, u64, 0u - x.u64[i]); break;
    case WASM_OP_I64X2_EXTEND_LOW_I32X4_S: EACH(2, i64, x.i32[i]); break;
    case WASM_OP_I64X2_EXTEND_HIGH_I32X4_S: EACH(2, i64, x.i32[i + 2]); break;
    case WASM_OP_I64X2_EXTEND_LOW_I32X4_U: EACH(2, u64, x.u32[i]); break;
    case WASM_OP_I64X2_EXTEND_HIGH_I32X4_U: EACH(2, u64, x.u32[i + 2]); break;
    case WASM_OP_I64X2_EXTMUL_LOW_I32X4_S: EACH(2, i64, (int64_t)x.i32[i] * y.i32[i]); break;
    case WASM_OP_I64X2_EXTMUL_HIGH_I32X4_S:
        EACH(2, i64, (int64_t)x.i32[i + 2] * y.i32[i + 2]);
        break;
    case WASM_OP_I64X2_EXTMUL_LOW_I32X4_U: EACH(2, u64, (uint64_t)x.u32[i] * y.u32[i]); break;
    case WASM_OP_I64X2_EXTMUL_HIGH_I32X4_U:
        EACH(2, u64, (uint64_t)x.u32[i + 2] * y.u32[i + 2]);
        break;
    case WASM_OP_I64X2_SHL: EACH(2, u64, x.u64[i] << (s & 63)); break;
    case WASM_OP_I64X2_SHR_S: EACH(2, i64, x.i64[i] >> (s & 63)); break;
    case WASM_OP_I64X2_SHR_U: EACH(2, u64, x.u64[i] >> (s & 63)); break;
    case WASM_OP_I64X2_ADD: EACH(2, u64, x.u64[i] + y.u64[i]); break;
    case WASM_OP_I64X2_SUB: EACH(2, u64, x.u64[i] - y.u64[i]); break;
    case WASM_OP_I64X2_MUL: EACH(2, u64, x.u64[i] * y.u64[i]); break;

    /* ---- f32x4 ---- */
    case WASM_OP_F32X4_EQ: CMP(4, u32, f32, ==); break;
    case WASM_OP_F32X4_NE: CMP(4, u32, f32, !=); break;
    case WASM_OP_F32X4_LT: CMP(4, u32, f32, <); break;
    case WASM_OP_F32X4_GT: CMP(4, u32, f32, >); break;
    case WASM_OP_F32X4_LE: CMP(4, u32, f32, <=); break;
    case WASM_OP_F32X4_GE: CMP(4, u32, f32, >=); break;
    case WASM_OP_F32X4_ABS: EACH(4, u32, x.u32[i] & 0x7fffffffu); break;
    case WASM_OP_F32X4_NEG: EACH(4, u32, x.u32[i] ^ 0x80000000u); break;
    case WASM_OP_F32X4_SQRT: EACH(4, f32, sqrtf(x.f32[i])); break;
    case WASM_OP_F32X4_CEIL: ROUND(4, f32, ceilf); break;
    case WASM_OP_F32X4_FLOOR: ROUND(4, f32, floorf); break;
    case WASM_OP_F32X4_TRUNC: ROUND(4, f32, truncf); break;
    case WASM_OP_F32X4_NEAREST: ROUND(4, f32, rintf); break; /* ties to even by default */
    case WASM_OP_F32X4_ADD: EACH(4, f32, x.f32[i] + y.f32[i]); break;
    case WASM_OP_F32X4_SUB: EACH(4, f32, x.f32[i] - y.f32[i]); break;
    case WASM_OP_F32X4_MUL: EACH(4, f32, x.f32[i] * y.f32[i]); break;
    case WASM_OP_F32X4_DIV: EACH(4, f32, x.f32[i] / y.f32[i]); break;
    case WASM_OP_F32X4_MIN: EACH(4, f32, f32_min(x.f32[i], y.f32[i])); break;
    case WASM_OP_F32X4_MAX: EACH(4, f32, f32_max(x.f32[i], y.f32[i])); break;
    case WASM_OP_F32X4_PMIN: EACH(4, u32, y.f32[i] < x.f32[i] ? y.u32[i] : x.u32[i]); break;
    case WASM_OP_F32X4_PMAX: EACH(4, u32, x.f32[i] < y.f32[i] ? y.u32[i] : x.u32[i]); break;
    case WASM_OP_F32X4_CONVERT_I32X4_S: EACH(4, f32, (float)x.i32[i]); break;
    case WASM_OP_F32X4_CONVERT_I32X4_U: EACH(4, f32, (float)x.u32[i]); break;
    case WASM_OP_F32X4_DEMOTE_F64X2_ZERO:
        EACH(2, f32, (float)x.f64[i]);
        r.u64[1] = 0;
        break;

    /* ---- f64x2 ---- */
    case WASM_OP_F64X2_EQ: CMP(2, u64, f64, ==); break;
    case WASM_OP_F64X2_NE: CMP(2, u64, f64, !=); break;
    case WASM_OP_F64X2_LT: CMP(2, u64, f64, <); break;
    case WASM_OP_F64X2_GT: CMP(2, u64, f64, >); break;
    case WASM_OP_F64X2_LE: CMP(2, u64, f64, <=); break;
    case WASM_OP_F64X2_GE: CMP(2, u64, f64, >=); break;
    case WASM_OP_F64X2_ABS: EACH(2, u64, x.u64[i] & ~(UINT64_C(1) << 63)); break;
    case WASM_OP_F64X2_NEG: EACH(2, u64, x.u64[i] ^ (UINT64_C(1) << 63)); break;
    case WASM_OP_F64X2_SQRT: EACH(2, f64, sqrt(x.f64[i])); break;
    case WASM_OP_F64X2_CEIL: ROUND(2, f64, ceil); break;
    case WASM_OP_F64X2_FLOOR: ROUND(2, f64, floor); break;
    case WASM_OP_F64X2_TRUNC: ROUND(2, f64, trunc); break;
    case WASM_OP_F64X2_NEAREST: ROUND(2, f64, rint); break;
    case WASM_OP_F64X2_ADD: EACH(2, f64, x.f64[i] + y.f64[i]); break;
    case WASM_OP_F64X2_SUB: EACH(2, f64, x.f64[i] - y.f64[i]); break;
    case WASM_OP_F64X2_MUL: EACH(2, f64, x.f64[i] * y.f64[i]); break;
    case WASM_OP_F64X2_DIV: EACH(2, f64, x.f64[i] / y.f64[i]); break;
    case WASM_OP_F64X2_MIN: EACH(2, f64, f64_min(x.f64[i], y.f64[i])); break;
    case WASM_OP_F64X2_MAX: EACH(2, f64, f64_max(x.f64[i], y.f64[i])); break;
    case WASM_OP_F64X2_PMIN: EACH(2, u64, y.f64[i] < x.f64[i] ? y.u64[i] : x.u64[i]); break;
    case WASM_OP_F64X2_PMAX: EACH(2, u64, x.f64[i] < y.f64[i] ? y.u64[i] : x.u64[i]); break;
    case WASM_OP_F64X2_CONVERT_LOW_I32X4_S: EACH(2, f64, x.i32[i]); break;
    case WASM_OP_F64X2_CONVERT_LOW_I32X4_U: EACH(2, f64, x.u32[i]); break;
    case WASM_OP_F64X2_PROMOTE_LOW_F32X4: EACH(2, f64, x.f32[i]); break;

    /* Loads and stores come through the functions below; anything else is
     * not a SIMD instruction, and the output is left alone. */
    default: return;
    }
    memcpy(out, &r, sizeof r);
}

/* ---- memory forms -------------------------------------------------------- */

/* Each reads or writes linear memory exactly once, with memcpy because the
 * address need not be aligned. */

void wasm_simd_load(wasm_op op, const uint8_t *p, wasm_cell *out) {
    v128 r = {0}, m;
    switch (op) {
    case WASM_OP_V128_LOAD: memcpy(&r, p, 16); break;
    case WASM_OP_V128_LOAD8X8_S:
        memcpy(&m, p, 8);
        EACH(8, i16, m.i8[i]);
        break;
    case WASM_OP_V128_LOAD8X8_U:
        memcpy(&m, p, 8);
        EACH(8, u16, m.u8[i]);
        break;
    case WASM_OP_V128_LOAD16X4_S:
        memcpy(&m, p, 8);
        EACH(4, i32, m.i16[i]);
        break;
    case WASM_OP_V128_LOAD16X4_U:
        memcpy(&m, p, 8);
        EACH(4, u32, m.u16[i]);
        break;
    case WASM_OP_V128_LOAD32X2_S:
        memcpy(&m, p, 8);
        EACH(2, i64, m.i32[i]);
        break;
    case WASM_OP_V128_LOAD32X2_U:
        memcpy(&m, p, 8);
        EACH(2, u64, m.u32[i]);
        break;
    case WASM_OP_V128_LOAD8_SPLAT:
        memcpy(&m, p, 1);
        EACH(16, u8, m.u8[0]);
        break;
    case WASM_OP_V128_LOAD16_SPLAT:
        memcpy(&m, p, 2);
        EACH(8, u16, m.u16[0]);
        break;
    case WASM_OP_V128_LOAD32_SPLAT:
        memcpy(&m, p, 4);
        EACH(4, u32, m.u32[0]);
        break;
    case WASM_OP_V128_LOAD64_SPLAT:
        memcpy(&m, p, 8);
        EACH(2, u64, m.u64[0]);
        break;
    case WASM_OP_V128_LOAD32_ZERO: memcpy(&r, p, 4); break;
    case WASM_OP_V128_LOAD64_ZERO: memcpy(&r, p, 8); break;
    default: return; /* not a plain SIMD load: output left alone */
    }
    memcpy(out, &r, sizeof r);
}

/* Lane width in bytes of a *_LANE memory instruction, 0 for any other. */
static unsigned lane_bytes(wasm_op op) {
    switch (op) {
    case WASM_OP_V128_LOAD8_LANE:
    case WASM_OP_V128_STORE8_LANE: return 1;
    case WASM_OP_V128_LOAD16_LANE:
    case WASM_OP_V128_STORE16_LANE: return 2;
    case WASM_OP_V128_LOAD32_LANE:
    case WASM_OP_V128_STORE32_LANE: return 4;
    case WASM_OP_V128_LOAD64_LANE:
    case WASM_OP_V128_STORE64_LANE: return 8;
    default: return 0;
    }
}

void wasm_simd_load_lane(wasm_op op, const uint8_t *p, uint8_t lane, const wasm_cell *v,
                         wasm_cell *out) {
    unsigned n = lane_bytes(op);
    if (n == 0) return;
    v128 r = vget(v);
    /* The mask keeps an unvalidated lane inside the vector. */
    memcpy(r.u8 + (lane & (16 / n - 1)) * n, p, n);
    memcpy(out, &r, sizeof r);
}

void wasm_simd_store(wasm_op op, uint8_t *p, uint8_t lane, const wasm_cell *v) {
    v128 x = vget(v);
    if (op == WASM_OP_V128_STORE) {
        memcpy(p, &x, 16);
        return;
    }
    unsigned n = lane_bytes(op);
    if (n) memcpy(p, x.u8 + (lane & (16 / n - 1)) * n, n);
}
