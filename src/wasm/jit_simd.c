/*
 * jit_simd.c - the native tier's translation of Wasm 2.0's fixed-width
 * SIMD instructions (the 0xFD prefix) to LLVM vector IR. jit_compile.c
 * hands each one over through jit_simd(); simd.c, the interpreter's
 * lane-by-lane semantics, is the reference.
 *
 * A v128 is one <16 x i8> value (jit_v128_type) wherever it lives: the
 * operand stack, locals, phis, parameters and results. Each operation
 * bitcasts its operands to the lane shape it computes in and its result
 * back, which costs nothing in machine code. The operations are LLVM's
 * generic vector instructions and intrinsics (saturating arithmetic,
 * min/max, abs, ctpop, rounding, fptosi.sat), which the x86 backend
 * matches to SSE/AVX instructions of the host CPU the target machine is
 * created for (jit_compile.c's emit). The one x86 intrinsic is pshufb,
 * for i8x16.swizzle, whose out-of-range indices are first made to select
 * 0 as Wasm says (LLVM has no generic shuffle by a variable).
 *
 * Floats follow the scalar rules of jit_compile.c: NaN results are what
 * the hardware gives (the spec allows arithmetic NaNs lane by lane);
 * constants reach arithmetic through jit_opaque, so that LLVM cannot fold
 * x * 1.0 or demote(promote x) to x and hand a signalling NaN through;
 * min/max quiet a NaN operand; abs, neg, pmin/pmax and lane moves copy
 * bits. Memory accesses are unaligned (Wasm's alignment is a hint) and
 * unchecked on the guard reservation, and kept whole and in place by
 * jit_load and jit_store, as scalar ones are (see load).
 */
#include <stddef.h>

#include "wasm/jit_ir.h"

/* Lane shapes; the integer ones in order of log2 of their lane bytes,
 * which opcodes.h gives memory instructions as their alignment. */
typedef enum { I8, I16, I32, I64, F32, F64 } shape;

static unsigned lane_bits(shape s) {
    static const unsigned bits[] = {8, 16, 32, 64, 32, 64};
    return bits[s];
}

static unsigned lanes(shape s) {
    return 128 / lane_bits(s);
}

static LLVMTypeRef lane_type(jit *j, shape s) {
    if (s == F32) return j->L->LLVMFloatTypeInContext(j->C);
    if (s == F64) return j->L->LLVMDoubleTypeInContext(j->C);
    return j->L->LLVMIntTypeInContext(j->C, lane_bits(s));
}

/* n lanes of shape s's lane type (a half or a double vector too). */
static LLVMTypeRef vec_n(jit *j, shape s, unsigned n) {
    return j->L->LLVMVectorType(lane_type(j, s), n);
}

static LLVMTypeRef vec(jit *j, shape s) {
    return vec_n(j, s, lanes(s));
}

/* The integer shape as wide as float shape s (and integers as they are). */
static shape int_of(shape s) {
    return s == F32 ? I32 : s == F64 ? I64 : s;
}

static LLVMValueRef as(jit *j, LLVMValueRef v, shape s) {
    return j->L->LLVMBuildBitCast(j->B, v, vec(j, s), "");
}

static LLVMValueRef pop_as(jit *j, shape s) {
    return as(j, jit_pop(j), s);
}

/* A float operand: a constant is hidden from LLVM's folds (see the head
 * comment). */
static LLVMValueRef pop_float(jit *j, shape s) {
    LLVMValueRef v = pop_as(j, s);
    return j->L->LLVMIsConstant(v) ? jit_opaque(j, v) : v;
}

static void push_v(jit *j, LLVMValueRef v) {
    jit_push(j, j->L->LLVMBuildBitCast(j->B, v, jit_v128_type(j), ""));
}

static LLVMValueRef const_i32(jit *j, uint64_t v) {
    return j->L->LLVMConstInt(j->L->LLVMInt32TypeInContext(j->C), v, 0);
}

/* Every lane of integer shape s (or a narrower or wider vector of n
 * lanes) holding v. */
static LLVMValueRef const_splat(jit *j, shape s, unsigned n, uint64_t v) {
    LLVMValueRef k[16];
    for (unsigned i = 0; i < n; i++)
        k[i] = j->L->LLVMConstInt(lane_type(j, s), v, 0);
    return j->L->LLVMConstVector(k, n);
}

/* A shuffle of a (and b, lanes n.. of the mask) by the n lane indices in
 * idx; b NULL is a don't-care. */
static LLVMValueRef shuffle(jit *j, LLVMValueRef a, LLVMValueRef b, const unsigned *idx,
                            unsigned n) {
    const wasm_llvm *L = j->L;
    LLVMValueRef mask[32];
    for (unsigned i = 0; i < n; i++)
        mask[i] = const_i32(j, idx[i]);
    if (!b) b = L->LLVMGetPoison(L->LLVMTypeOf(a));
    return L->LLVMBuildShuffleVector(j->B, a, b, L->LLVMConstVector(mask, n), "");
}

/* Lanes from, from + step, ... (n of them) of a and b side by side. */
static LLVMValueRef pick(jit *j, LLVMValueRef a, LLVMValueRef b, unsigned from, unsigned step,
                         unsigned n) {
    unsigned idx[32];
    for (unsigned i = 0; i < n; i++)
        idx[i] = from + i * step;
    return shuffle(j, a, b, idx, n);
}

/* Scalar x in every lane of shape s. */
static LLVMValueRef splat(jit *j, LLVMValueRef x, shape s) {
    const wasm_llvm *L = j->L;
    LLVMValueRef v =
        L->LLVMBuildInsertElement(j->B, L->LLVMGetPoison(vec(j, s)), x, const_i32(j, 0), "");
    return pick(j, v, NULL, 0, 0, lanes(s));
}

/* The low or high half of v's lanes of integer shape s, each widened to
 * twice its width (sign- or zero-extended). */
static LLVMValueRef widen_half(jit *j, LLVMValueRef v, shape s, bool high, bool sign) {
    const wasm_llvm *L = j->L;
    unsigned n = lanes(s) / 2;
    LLVMValueRef h = pick(j, as(j, v, s), NULL, high ? n : 0, 1, n);
    LLVMTypeRef t = vec_n(j, (shape)(s + 1), n);
    return sign ? L->LLVMBuildSExt(j->B, h, t, "") : L->LLVMBuildZExt(j->B, h, t, "");
}

/* Two-lane vector v with two zero lanes after it (the *_zero forms). */
static LLVMValueRef with_zeros(jit *j, LLVMValueRef v) {
    return pick(j, v, j->L->LLVMConstNull(j->L->LLVMTypeOf(v)), 0, 1, 4);
}

static LLVMValueRef call1(jit *j, const char *name, LLVMValueRef a) {
    LLVMTypeRef t = j->L->LLVMTypeOf(a);
    return jit_intrinsic(j, name, &t, 1, &a, 1);
}

static LLVMValueRef call2(jit *j, const char *name, LLVMValueRef a, LLVMValueRef b) {
    LLVMTypeRef t = j->L->LLVMTypeOf(a);
    return jit_intrinsic(j, name, &t, 1, (LLVMValueRef[]){a, b}, 2);
}

/* ---- memory ----------------------------------------------------------------- */

/* A load of t at the popped address plus the instruction's offset, and a
 * store: jit_load and jit_store (jit_compile.c), which keep every access
 * whole, in its place, and present even when its value goes unused. */
static LLVMValueRef load(jit *j, const wasm_instr *ins, LLVMTypeRef t) {
    return jit_load(j, t, jit_mem_addr(j, jit_pop(j), ins->imm.mem.offset));
}

static void store(jit *j, const wasm_instr *ins, LLVMValueRef v, LLVMValueRef addr) {
    jit_store(j, v, jit_mem_addr(j, addr, ins->imm.mem.offset));
}

static bool memory(jit *j, const wasm_instr *ins) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    shape s = (shape)wasm_opinfo_table[ins->op].arg; /* the access's size, for most */
    switch (ins->op) {
    case WASM_OP_V128_LOAD: push_v(j, load(j, ins, jit_v128_type(j))); return true;
#define EXT(op, from, sign)                                                                        \
    case WASM_OP_##op: {                                                                           \
        LLVMValueRef v = load(j, ins, lane_type(j, I64));                                          \
        v = L->LLVMBuildBitCast(B, v, vec_n(j, from, lanes(from) / 2), "");                        \
        LLVMTypeRef t = vec(j, (shape)(from + 1));                                                 \
        push_v(j, sign ? L->LLVMBuildSExt(B, v, t, "") : L->LLVMBuildZExt(B, v, t, ""));           \
        return true;                                                                               \
    }
        EXT(V128_LOAD8X8_S, I8, 1)
        EXT(V128_LOAD8X8_U, I8, 0)
        EXT(V128_LOAD16X4_S, I16, 1)
        EXT(V128_LOAD16X4_U, I16, 0)
        EXT(V128_LOAD32X2_S, I32, 1)
        EXT(V128_LOAD32X2_U, I32, 0)
#undef EXT
    case WASM_OP_V128_LOAD8_SPLAT:
    case WASM_OP_V128_LOAD16_SPLAT:
    case WASM_OP_V128_LOAD32_SPLAT:
    case WASM_OP_V128_LOAD64_SPLAT:
        push_v(j, splat(j, load(j, ins, lane_type(j, s)), s));
        return true;
    case WASM_OP_V128_LOAD32_ZERO:
    case WASM_OP_V128_LOAD64_ZERO:
        push_v(j, L->LLVMBuildInsertElement(B, L->LLVMConstNull(vec(j, s)),
                                            load(j, ins, lane_type(j, s)), const_i32(j, 0), ""));
        return true;
    case WASM_OP_V128_LOAD8_LANE:
    case WASM_OP_V128_LOAD16_LANE:
    case WASM_OP_V128_LOAD32_LANE:
    case WASM_OP_V128_LOAD64_LANE: {
        LLVMValueRef v = pop_as(j, s);
        LLVMValueRef x = load(j, ins, lane_type(j, s));
        push_v(j, L->LLVMBuildInsertElement(B, v, x, const_i32(j, ins->imm.mem.lane), ""));
        return true;
    }
    case WASM_OP_V128_STORE: {
        LLVMValueRef v = jit_pop(j);
        store(j, ins, v, jit_pop(j));
        return true;
    }
    case WASM_OP_V128_STORE8_LANE:
    case WASM_OP_V128_STORE16_LANE:
    case WASM_OP_V128_STORE32_LANE:
    case WASM_OP_V128_STORE64_LANE: {
        LLVMValueRef v = pop_as(j, s);
        LLVMValueRef x = L->LLVMBuildExtractElement(B, v, const_i32(j, ins->imm.mem.lane), "");
        store(j, ins, x, jit_pop(j));
        return true;
    }
    default: return false;
    }
}

/* ---- constants, splats, lanes, permutations -------------------------------- */

static bool lane_op(jit *j, const wasm_instr *ins) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMTypeRef i32 = L->LLVMInt32TypeInContext(j->C);
    switch (ins->op) {
    case WASM_OP_V128_CONST: {
        LLVMValueRef k[16];
        for (unsigned i = 0; i < 16; i++)
            k[i] = L->LLVMConstInt(lane_type(j, I8), ins->imm.bytes[i], 0);
        jit_push(j, L->LLVMConstVector(k, 16));
        return true;
    }
    case WASM_OP_I8X16_SHUFFLE: {
        unsigned idx[16];
        for (unsigned i = 0; i < 16; i++)
            idx[i] = ins->imm.bytes[i] & 31; /* the validator keeps them below 32 */
        LLVMValueRef b = pop_as(j, I8), a = pop_as(j, I8);
        push_v(j, shuffle(j, a, b, idx, 16));
        return true;
    }
    case WASM_OP_I8X16_SWIZZLE: {
        /* pshufb takes an index's low 4 bits, or gives 0 when its top bit
         * is set; Wasm gives 0 for any index above 15, so those get the
         * top bit */
        LLVMValueRef idx = pop_as(j, I8), x = pop_as(j, I8);
        LLVMValueRef big = L->LLVMBuildICmp(B, LLVMIntUGT, idx, const_splat(j, I8, 16, 15), "");
        idx = L->LLVMBuildOr(B, idx, L->LLVMBuildSExt(B, big, vec(j, I8), ""), "");
        push_v(j, jit_intrinsic(j, "llvm.x86.ssse3.pshuf.b.128", NULL, 0, (LLVMValueRef[]){x, idx},
                                2));
        return true;
    }
#define SPLAT(op, s)                                                                               \
    case WASM_OP_##op: {                                                                           \
        LLVMValueRef x = jit_pop(j);                                                               \
        if (s == I8 || s == I16) x = L->LLVMBuildTrunc(B, x, lane_type(j, s), "");                 \
        push_v(j, splat(j, x, s));                                                                 \
        return true;                                                                               \
    }
        SPLAT(I8X16_SPLAT, I8)
        SPLAT(I16X8_SPLAT, I16)
        SPLAT(I32X4_SPLAT, I32)
        SPLAT(I64X2_SPLAT, I64)
        SPLAT(F32X4_SPLAT, F32)
        SPLAT(F64X2_SPLAT, F64)
#undef SPLAT
#define EXTRACT(op, s, ext)                                                                        \
    case WASM_OP_##op: {                                                                           \
        LLVMValueRef x =                                                                           \
            L->LLVMBuildExtractElement(B, pop_as(j, s), const_i32(j, ins->imm.lane), "");          \
        if (ext == 1) x = L->LLVMBuildSExt(B, x, i32, "");                                         \
        if (ext == 2) x = L->LLVMBuildZExt(B, x, i32, "");                                         \
        jit_push(j, x);                                                                            \
        return true;                                                                               \
    }
        EXTRACT(I8X16_EXTRACT_LANE_S, I8, 1)
        EXTRACT(I8X16_EXTRACT_LANE_U, I8, 2)
        EXTRACT(I16X8_EXTRACT_LANE_S, I16, 1)
        EXTRACT(I16X8_EXTRACT_LANE_U, I16, 2)
        EXTRACT(I32X4_EXTRACT_LANE, I32, 0)
        EXTRACT(I64X2_EXTRACT_LANE, I64, 0)
        EXTRACT(F32X4_EXTRACT_LANE, F32, 0)
        EXTRACT(F64X2_EXTRACT_LANE, F64, 0)
#undef EXTRACT
#define REPLACE(op, s)                                                                             \
    case WASM_OP_##op: {                                                                           \
        LLVMValueRef x = jit_pop(j);                                                               \
        if (s == I8 || s == I16) x = L->LLVMBuildTrunc(B, x, lane_type(j, s), "");                 \
        push_v(j, L->LLVMBuildInsertElement(B, pop_as(j, s), x, const_i32(j, ins->imm.lane), "")); \
        return true;                                                                               \
    }
        REPLACE(I8X16_REPLACE_LANE, I8)
        REPLACE(I16X8_REPLACE_LANE, I16)
        REPLACE(I32X4_REPLACE_LANE, I32)
        REPLACE(I64X2_REPLACE_LANE, I64)
        REPLACE(F32X4_REPLACE_LANE, F32)
        REPLACE(F64X2_REPLACE_LANE, F64)
#undef REPLACE
    default: return false;
    }
}

/* ---- comparisons and whole-vector bit operations --------------------------- */

/* Lane comparisons: all ones in each lane where the comparison holds. */
static bool compare(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMValueRef r;
    shape s;
    switch (op) {
#define ICMP(o, sh, pred)                                                                          \
    case WASM_OP_##o: {                                                                            \
        s = sh;                                                                                    \
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);                                           \
        r = L->LLVMBuildICmp(B, pred, a, b, "");                                                   \
        break;                                                                                     \
    }
#define ICMPS(P, s)                                                                                \
    ICMP(P##_EQ, s, LLVMIntEQ)                                                                     \
    ICMP(P##_NE, s, LLVMIntNE)                                                                     \
    ICMP(P##_LT_S, s, LLVMIntSLT)                                                                  \
    ICMP(P##_GT_S, s, LLVMIntSGT)                                                                  \
    ICMP(P##_LE_S, s, LLVMIntSLE)                                                                  \
    ICMP(P##_GE_S, s, LLVMIntSGE)
#define UCMPS(P, s)                                                                                \
    ICMP(P##_LT_U, s, LLVMIntULT)                                                                  \
    ICMP(P##_GT_U, s, LLVMIntUGT)                                                                  \
    ICMP(P##_LE_U, s, LLVMIntULE)                                                                  \
    ICMP(P##_GE_U, s, LLVMIntUGE)
        ICMPS(I8X16, I8)
        UCMPS(I8X16, I8)
        ICMPS(I16X8, I16)
        UCMPS(I16X8, I16)
        ICMPS(I32X4, I32)
        UCMPS(I32X4, I32)
        ICMPS(I64X2, I64)
#undef ICMPS
#undef UCMPS
#undef ICMP
#define FCMP(o, sh, pred)                                                                          \
    case WASM_OP_##o: {                                                                            \
        s = sh;                                                                                    \
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);                                           \
        r = L->LLVMBuildFCmp(B, pred, a, b, "");                                                   \
        break;                                                                                     \
    }
#define FCMPS(P, s)                                                                                \
    FCMP(P##_EQ, s, LLVMRealOEQ)                                                                   \
    FCMP(P##_NE, s, LLVMRealUNE)                                                                   \
    FCMP(P##_LT, s, LLVMRealOLT)                                                                   \
    FCMP(P##_GT, s, LLVMRealOGT)                                                                   \
    FCMP(P##_LE, s, LLVMRealOLE)                                                                   \
    FCMP(P##_GE, s, LLVMRealOGE)
        FCMPS(F32X4, F32)
        FCMPS(F64X2, F64)
#undef FCMPS
#undef FCMP
    default: return false;
    }
    push_v(j, L->LLVMBuildSExt(B, r, vec(j, int_of(s)), ""));
    return true;
}

/* An i32 from the lanes of shape s (as i1s, lane 0 in bit 0): all set
 * (all_true) or the bits themselves (bitmask). */
static LLVMValueRef lane_bits_of(jit *j, LLVMValueRef bits, shape s, bool all) {
    const wasm_llvm *L = j->L;
    LLVMTypeRef n = L->LLVMIntTypeInContext(j->C, lanes(s));
    LLVMValueRef m = L->LLVMBuildBitCast(j->B, bits, n, "");
    if (all) m = L->LLVMBuildICmp(j->B, LLVMIntEQ, m, L->LLVMConstAllOnes(n), "");
    return L->LLVMBuildZExt(j->B, m, L->LLVMInt32TypeInContext(j->C), "");
}

static bool bitwise(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMValueRef ones = L->LLVMConstAllOnes(vec(j, I64));
    switch (op) {
    case WASM_OP_V128_NOT: push_v(j, L->LLVMBuildXor(B, pop_as(j, I64), ones, "")); return true;
#define BIN(o, build, neg)                                                                         \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef b = pop_as(j, I64), a = pop_as(j, I64);                                       \
        if (neg) b = L->LLVMBuildXor(B, b, ones, "");                                              \
        push_v(j, L->build(B, a, b, ""));                                                          \
        return true;                                                                               \
    }
        BIN(V128_AND, LLVMBuildAnd, 0)
        BIN(V128_ANDNOT, LLVMBuildAnd, 1)
        BIN(V128_OR, LLVMBuildOr, 0)
        BIN(V128_XOR, LLVMBuildXor, 0)
#undef BIN
    case WASM_OP_V128_BITSELECT: {
        LLVMValueRef c = pop_as(j, I64), b = pop_as(j, I64), a = pop_as(j, I64);
        LLVMValueRef nc = L->LLVMBuildXor(B, c, ones, "");
        push_v(j,
               L->LLVMBuildOr(B, L->LLVMBuildAnd(B, a, c, ""), L->LLVMBuildAnd(B, b, nc, ""), ""));
        return true;
    }
    case WASM_OP_V128_ANY_TRUE: {
        LLVMTypeRef i128 = L->LLVMIntTypeInContext(j->C, 128);
        LLVMValueRef x = L->LLVMBuildBitCast(B, jit_pop(j), i128, "");
        x = L->LLVMBuildICmp(B, LLVMIntNE, x, L->LLVMConstNull(i128), "");
        jit_push(j, L->LLVMBuildZExt(B, x, L->LLVMInt32TypeInContext(j->C), ""));
        return true;
    }
#define LANES(o, s, pred, all)                                                                     \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef x = pop_as(j, s);                                                             \
        x = L->LLVMBuildICmp(B, pred, x, L->LLVMConstNull(vec(j, s)), "");                         \
        jit_push(j, lane_bits_of(j, x, s, all));                                                   \
        return true;                                                                               \
    }
        LANES(I8X16_ALL_TRUE, I8, LLVMIntNE, 1)
        LANES(I16X8_ALL_TRUE, I16, LLVMIntNE, 1)
        LANES(I32X4_ALL_TRUE, I32, LLVMIntNE, 1)
        LANES(I64X2_ALL_TRUE, I64, LLVMIntNE, 1)
        LANES(I8X16_BITMASK, I8, LLVMIntSLT, 0)
        LANES(I16X8_BITMASK, I16, LLVMIntSLT, 0)
        LANES(I32X4_BITMASK, I32, LLVMIntSLT, 0)
        LANES(I64X2_BITMASK, I64, LLVMIntSLT, 0)
#undef LANES
    default: return false;
    }
}

/* ---- integer arithmetic ------------------------------------------------------ */

/* Shifts: the count modulo the lane width, as Wasm says (LLVM's shifts
 * past it are poison). */
static bool shift(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    shape s;
    LLVMOpcode how;
    switch (op) {
#define SH(P, sh)                                                                                  \
    case WASM_OP_##P##_SHL: s = sh, how = LLVMShl; break;                                          \
    case WASM_OP_##P##_SHR_S: s = sh, how = LLVMAShr; break;                                       \
    case WASM_OP_##P##_SHR_U: s = sh, how = LLVMLShr; break;
        SH(I8X16, I8)
        SH(I16X8, I16)
        SH(I32X4, I32)
        SH(I64X2, I64)
#undef SH
    default: return false;
    }
    LLVMValueRef n = L->LLVMBuildAnd(B, jit_pop(j), const_i32(j, lane_bits(s) - 1), "");
    LLVMTypeRef t = lane_type(j, s);
    n = s == I64 ? L->LLVMBuildZExt(B, n, t, "") : s == I32 ? n : L->LLVMBuildTrunc(B, n, t, "");
    LLVMValueRef x = pop_as(j, s);
    push_v(j, L->LLVMBuildBinOp(B, how, x, splat(j, n, s), ""));
    return true;
}

static bool int_op(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    switch (op) {
#define BIN(o, s, build)                                                                           \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);                                           \
        push_v(j, L->build(B, a, b, ""));                                                          \
        return true;                                                                               \
    }
        BIN(I8X16_ADD, I8, LLVMBuildAdd)
        BIN(I16X8_ADD, I16, LLVMBuildAdd)
        BIN(I32X4_ADD, I32, LLVMBuildAdd)
        BIN(I64X2_ADD, I64, LLVMBuildAdd)
        BIN(I8X16_SUB, I8, LLVMBuildSub)
        BIN(I16X8_SUB, I16, LLVMBuildSub)
        BIN(I32X4_SUB, I32, LLVMBuildSub)
        BIN(I64X2_SUB, I64, LLVMBuildSub)
        BIN(I16X8_MUL, I16, LLVMBuildMul)
        BIN(I32X4_MUL, I32, LLVMBuildMul)
        BIN(I64X2_MUL, I64, LLVMBuildMul)
#undef BIN
#define INTR(o, s, name)                                                                           \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);                                           \
        push_v(j, call2(j, name, a, b));                                                           \
        return true;                                                                               \
    }
#define MINMAX(P, s)                                                                               \
    INTR(P##_MIN_S, s, "llvm.smin")                                                                \
    INTR(P##_MIN_U, s, "llvm.umin")                                                                \
    INTR(P##_MAX_S, s, "llvm.smax")                                                                \
    INTR(P##_MAX_U, s, "llvm.umax")
#define SAT(P, s)                                                                                  \
    INTR(P##_ADD_SAT_S, s, "llvm.sadd.sat")                                                        \
    INTR(P##_ADD_SAT_U, s, "llvm.uadd.sat")                                                        \
    INTR(P##_SUB_SAT_S, s, "llvm.ssub.sat")                                                        \
    INTR(P##_SUB_SAT_U, s, "llvm.usub.sat")
        MINMAX(I8X16, I8)
        MINMAX(I16X8, I16)
        MINMAX(I32X4, I32)
        SAT(I8X16, I8)
        SAT(I16X8, I16)
#undef SAT
#undef MINMAX
#undef INTR
#define UNARY(o, s, what)                                                                          \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef a = pop_as(j, s);                                                             \
        push_v(j, what);                                                                           \
        return true;                                                                               \
    }
        /* abs of the lowest value is itself: "is poison" false */
#define ABS_NEG(P, s)                                                                              \
    UNARY(P##_ABS, s,                                                                              \
          call2(j, "llvm.abs", a, L->LLVMConstInt(L->LLVMInt1TypeInContext(j->C), 0, 0)))          \
    UNARY(P##_NEG, s, L->LLVMBuildSub(B, L->LLVMConstNull(vec(j, s)), a, ""))
        ABS_NEG(I8X16, I8)
        ABS_NEG(I16X8, I16)
        ABS_NEG(I32X4, I32)
        ABS_NEG(I64X2, I64)
#undef ABS_NEG
        UNARY(I8X16_POPCNT, I8, call1(j, "llvm.ctpop", a))
#undef UNARY
    case WASM_OP_I8X16_AVGR_U:
    case WASM_OP_I16X8_AVGR_U: {
        /* (a + b + 1) >> 1 in lanes twice as wide, which LLVM matches to
         * pavgb/pavgw */
        shape s = op == WASM_OP_I8X16_AVGR_U ? I8 : I16;
        LLVMTypeRef wide = vec_n(j, (shape)(s + 1), lanes(s));
        LLVMValueRef b = L->LLVMBuildZExt(B, pop_as(j, s), wide, "");
        LLVMValueRef a = L->LLVMBuildZExt(B, pop_as(j, s), wide, "");
        LLVMValueRef one = const_splat(j, (shape)(s + 1), lanes(s), 1);
        LLVMValueRef sum = L->LLVMBuildAdd(B, L->LLVMBuildAdd(B, a, b, ""), one, "");
        push_v(j, L->LLVMBuildTrunc(B, L->LLVMBuildLShr(B, sum, one, ""), vec(j, s), ""));
        return true;
    }
    case WASM_OP_I16X8_Q15MULR_SAT_S: {
        /* (a * b + 2^14) >> 15 in 32-bit lanes; only -32768 * -32768
         * passes the top, to 32768, saturated */
        LLVMTypeRef wide = vec_n(j, I32, 8);
        LLVMValueRef b = L->LLVMBuildSExt(B, pop_as(j, I16), wide, "");
        LLVMValueRef a = L->LLVMBuildSExt(B, pop_as(j, I16), wide, "");
        LLVMValueRef p =
            L->LLVMBuildAdd(B, L->LLVMBuildMul(B, a, b, ""), const_splat(j, I32, 8, 0x4000), "");
        p = L->LLVMBuildAShr(B, p, const_splat(j, I32, 8, 15), "");
        p = call2(j, "llvm.smin", p, const_splat(j, I32, 8, 0x7fff));
        push_v(j, L->LLVMBuildTrunc(B, p, vec(j, I16), ""));
        return true;
    }
    case WASM_OP_I32X4_DOT_I16X8_S: {
        /* products of lanes 2i and 2i+1 added, wrapping (2^31 can come) */
        LLVMTypeRef wide = vec_n(j, I32, 8);
        LLVMValueRef b = L->LLVMBuildSExt(B, pop_as(j, I16), wide, "");
        LLVMValueRef a = L->LLVMBuildSExt(B, pop_as(j, I16), wide, "");
        LLVMValueRef p = L->LLVMBuildMul(B, a, b, "");
        push_v(j, L->LLVMBuildAdd(B, pick(j, p, NULL, 0, 2, 4), pick(j, p, NULL, 1, 2, 4), ""));
        return true;
    }
    default: return false;
    }
}

/* Narrowing, extension, extended multiplication and pairwise addition:
 * lanes change width. */
static bool resize(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    switch (op) {
#define NARROW(o, s, lo, hi)                                                                       \
    case WASM_OP_##o: {                                                                            \
        /* a's lanes then b's, each clamped to the narrow range */                                 \
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);                                           \
        unsigned n = 2 * lanes(s);                                                                 \
        LLVMValueRef x = pick(j, a, b, 0, 1, n);                                                   \
        x = call2(j, "llvm.smax", x, const_splat(j, s, n, (uint64_t)(lo)));                        \
        x = call2(j, "llvm.smin", x, const_splat(j, s, n, (uint64_t)(hi)));                        \
        push_v(j, L->LLVMBuildTrunc(B, x, vec(j, (shape)(s - 1)), ""));                            \
        return true;                                                                               \
    }
        NARROW(I8X16_NARROW_I16X8_S, I16, INT8_MIN, INT8_MAX)
        NARROW(I8X16_NARROW_I16X8_U, I16, 0, UINT8_MAX)
        NARROW(I16X8_NARROW_I32X4_S, I32, INT16_MIN, INT16_MAX)
        NARROW(I16X8_NARROW_I32X4_U, I32, 0, UINT16_MAX)
#undef NARROW
#define EXTEND(o, s, high, sign)                                                                   \
    case WASM_OP_##o:                                                                              \
        push_v(j, widen_half(j, jit_pop(j), s, high, sign));                                       \
        return true;
#define EXTMUL(o, s, high, sign)                                                                   \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef b = widen_half(j, jit_pop(j), s, high, sign);                                 \
        LLVMValueRef a = widen_half(j, jit_pop(j), s, high, sign);                                 \
        push_v(j, L->LLVMBuildMul(B, a, b, ""));                                                   \
        return true;                                                                               \
    }
#define WIDE(P, F, s)                                                                              \
    EXTEND(P##_EXTEND_LOW_##F##_S, s, 0, 1)                                                        \
    EXTEND(P##_EXTEND_HIGH_##F##_S, s, 1, 1)                                                       \
    EXTEND(P##_EXTEND_LOW_##F##_U, s, 0, 0)                                                        \
    EXTEND(P##_EXTEND_HIGH_##F##_U, s, 1, 0)                                                       \
    EXTMUL(P##_EXTMUL_LOW_##F##_S, s, 0, 1)                                                        \
    EXTMUL(P##_EXTMUL_HIGH_##F##_S, s, 1, 1)                                                       \
    EXTMUL(P##_EXTMUL_LOW_##F##_U, s, 0, 0)                                                        \
    EXTMUL(P##_EXTMUL_HIGH_##F##_U, s, 1, 0)
        WIDE(I16X8, I8X16, I8)
        WIDE(I32X4, I16X8, I16)
        WIDE(I64X2, I32X4, I32)
#undef WIDE
#undef EXTMUL
#undef EXTEND
#define PAIRWISE(o, s, sign)                                                                       \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef x = pop_as(j, s);                                                             \
        unsigned n = lanes(s) / 2;                                                                 \
        LLVMTypeRef t = vec(j, (shape)(s + 1));                                                    \
        LLVMValueRef even = pick(j, x, NULL, 0, 2, n), odd = pick(j, x, NULL, 1, 2, n);            \
        even = sign ? L->LLVMBuildSExt(B, even, t, "") : L->LLVMBuildZExt(B, even, t, "");         \
        odd = sign ? L->LLVMBuildSExt(B, odd, t, "") : L->LLVMBuildZExt(B, odd, t, "");            \
        push_v(j, L->LLVMBuildAdd(B, even, odd, ""));                                              \
        return true;                                                                               \
    }
        PAIRWISE(I16X8_EXTADD_PAIRWISE_I8X16_S, I8, 1)
        PAIRWISE(I16X8_EXTADD_PAIRWISE_I8X16_U, I8, 0)
        PAIRWISE(I32X4_EXTADD_PAIRWISE_I16X8_S, I16, 1)
        PAIRWISE(I32X4_EXTADD_PAIRWISE_I16X8_U, I16, 0)
#undef PAIRWISE
    default: return false;
    }
}

/* ---- floats ------------------------------------------------------------------ */

static bool float_op(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    switch (op) {
#define BIN(o, s, build)                                                                           \
    case WASM_OP_##o: {                                                                            \
        LLVMValueRef b = pop_float(j, s), a = pop_float(j, s);                                     \
        push_v(j, L->build(B, a, b, ""));                                                          \
        return true;                                                                               \
    }
#define BINS(P, s)                                                                                 \
    BIN(P##_ADD, s, LLVMBuildFAdd)                                                                 \
    BIN(P##_SUB, s, LLVMBuildFSub)                                                                 \
    BIN(P##_MUL, s, LLVMBuildFMul)                                                                 \
    BIN(P##_DIV, s, LLVMBuildFDiv)
        BINS(F32X4, F32)
        BINS(F64X2, F64)
#undef BINS
#undef BIN
#define UNARY(o, s, name)                                                                          \
    case WASM_OP_##o:                                                                              \
        push_v(j, call1(j, name, pop_float(j, s)));                                                \
        return true;
#define UNARIES(P, s)                                                                              \
    UNARY(P##_ABS, s, "llvm.fabs")                                                                 \
    UNARY(P##_SQRT, s, "llvm.sqrt")                                                                \
    UNARY(P##_CEIL, s, "llvm.ceil")                                                                \
    UNARY(P##_FLOOR, s, "llvm.floor")                                                              \
    UNARY(P##_TRUNC, s, "llvm.trunc")                                                              \
    UNARY(P##_NEAREST, s, "llvm.roundeven")                                                        \
    case WASM_OP_##P##_NEG: push_v(j, L->LLVMBuildFNeg(B, pop_as(j, s), "")); return true;
        UNARIES(F32X4, F32)
        UNARIES(F64X2, F64)
#undef UNARIES
#undef UNARY
    case WASM_OP_F32X4_MIN:
    case WASM_OP_F64X2_MIN:
    case WASM_OP_F32X4_MAX:
    case WASM_OP_F64X2_MAX: {
        /* as the scalar ones: llvm.minimum/maximum order -0 below +0, and
         * a lane with a NaN operand takes their sum, a quiet NaN */
        shape s = op == WASM_OP_F32X4_MIN || op == WASM_OP_F32X4_MAX ? F32 : F64;
        bool min = op == WASM_OP_F32X4_MIN || op == WASM_OP_F64X2_MIN;
        LLVMValueRef b = pop_float(j, s), a = pop_float(j, s);
        LLVMValueRef m = call2(j, min ? "llvm.minimum" : "llvm.maximum", a, b);
        push_v(j, L->LLVMBuildSelect(B, L->LLVMBuildFCmp(B, LLVMRealUNO, a, b, ""),
                                     L->LLVMBuildFAdd(B, a, b, ""), m, ""));
        return true;
    }
    case WASM_OP_F32X4_PMIN:
    case WASM_OP_F64X2_PMIN:
    case WASM_OP_F32X4_PMAX:
    case WASM_OP_F64X2_PMAX: {
        /* pmin is b < a ? b : a, pmax a < b ? b : a: one operand's bits */
        shape s = op == WASM_OP_F32X4_PMIN || op == WASM_OP_F32X4_PMAX ? F32 : F64;
        bool min = op == WASM_OP_F32X4_PMIN || op == WASM_OP_F64X2_PMIN;
        LLVMValueRef b = pop_as(j, s), a = pop_as(j, s);
        LLVMValueRef lt = min ? L->LLVMBuildFCmp(B, LLVMRealOLT, b, a, "")
                              : L->LLVMBuildFCmp(B, LLVMRealOLT, a, b, "");
        push_v(j, L->LLVMBuildSelect(B, lt, b, a, ""));
        return true;
    }
    default: return false;
    }
}

/* Conversions between float and integer lanes, and between float widths
 * (their operand always hidden: demote(promote x) folds to x). */
static bool convert(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    switch (op) {
    case WASM_OP_F32X4_CONVERT_I32X4_S:
        push_v(j, L->LLVMBuildSIToFP(B, pop_as(j, I32), vec(j, F32), ""));
        return true;
    case WASM_OP_F32X4_CONVERT_I32X4_U:
        push_v(j, L->LLVMBuildUIToFP(B, pop_as(j, I32), vec(j, F32), ""));
        return true;
    case WASM_OP_F64X2_CONVERT_LOW_I32X4_S:
    case WASM_OP_F64X2_CONVERT_LOW_I32X4_U: {
        LLVMValueRef x = pick(j, pop_as(j, I32), NULL, 0, 1, 2);
        push_v(j, op == WASM_OP_F64X2_CONVERT_LOW_I32X4_S
                      ? L->LLVMBuildSIToFP(B, x, vec(j, F64), "")
                      : L->LLVMBuildUIToFP(B, x, vec(j, F64), ""));
        return true;
    }
    case WASM_OP_I32X4_TRUNC_SAT_F32X4_S:
    case WASM_OP_I32X4_TRUNC_SAT_F32X4_U: {
        /* NaN to 0, out of range to the nearest bound: fpto*i.sat's rule */
        LLVMValueRef x = pop_as(j, F32);
        LLVMTypeRef tys[2] = {vec(j, I32), vec(j, F32)};
        bool sign = op == WASM_OP_I32X4_TRUNC_SAT_F32X4_S;
        push_v(j, jit_intrinsic(j, sign ? "llvm.fptosi.sat" : "llvm.fptoui.sat", tys, 2, &x, 1));
        return true;
    }
    case WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO:
    case WASM_OP_I32X4_TRUNC_SAT_F64X2_U_ZERO: {
        LLVMValueRef x = pop_as(j, F64);
        LLVMTypeRef tys[2] = {vec_n(j, I32, 2), vec(j, F64)};
        bool sign = op == WASM_OP_I32X4_TRUNC_SAT_F64X2_S_ZERO;
        x = jit_intrinsic(j, sign ? "llvm.fptosi.sat" : "llvm.fptoui.sat", tys, 2, &x, 1);
        push_v(j, with_zeros(j, x));
        return true;
    }
    case WASM_OP_F32X4_DEMOTE_F64X2_ZERO: {
        LLVMValueRef x = jit_opaque(j, pop_as(j, F64));
        push_v(j, with_zeros(j, L->LLVMBuildFPTrunc(B, x, vec_n(j, F32, 2), "")));
        return true;
    }
    case WASM_OP_F64X2_PROMOTE_LOW_F32X4: {
        LLVMValueRef x = pick(j, jit_opaque(j, pop_as(j, F32)), NULL, 0, 1, 2);
        push_v(j, L->LLVMBuildFPExt(B, x, vec(j, F64), ""));
        return true;
    }
    default: return false;
    }
}

bool jit_simd(jit *j, const wasm_instr *ins) {
    if (memory(j, ins) || lane_op(j, ins) || compare(j, ins->op) || bitwise(j, ins->op) ||
        shift(j, ins->op) || int_op(j, ins->op) || resize(j, ins->op) || float_op(j, ins->op) ||
        convert(j, ins->op))
        return true;
    return jit_refuse(j, wasm_opinfo_table[ins->op].name);
}
