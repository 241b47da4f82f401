/*
 * gen_module.c - an always-valid module from arbitrary bytes (see
 * gen_module.h for what a module holds and why NaNs are made canonical).
 *
 * The generator keeps the typing of what it writes itself, so it writes
 * only valid code: expr() leaves exactly one value of the type it is asked
 * for on the operand stack, stmt() leaves the stack as it found it, and the
 * label stack knows the types each branch target takes. Every instruction
 * of fixed signature comes from the engine's own table (wasm_opinfo_table,
 * generated from src/wasm/opcodes.h), so new instructions are generated as
 * soon as they are added there; only the operands whose values matter
 * (addresses, lengths, memory.grow's delta, floats whose bits would show)
 * are chosen by hand.
 *
 * Sizes are kept small on purpose: the native tier compiles every module
 * with LLVM, and a module of a few hundred instructions compiles in tens of
 * milliseconds. A budget of instructions per function and a depth limit
 * bound every body; once either runs out, expressions are leaves
 * (constants, locals, globals) and statements are local.set of leaves.
 *
 * Never: a module that fails validation, an active segment out of bounds
 * (so instantiation cannot trap), an import other than "env" "h".
 */
#include <stdlib.h>
#include <string.h>

#include "gen_module.h"
#include "wasm/internal.h"

/* An access kept in bounds: address & IN_BOUNDS_MASK, offset below
 * IN_BOUNDS_OFFSET, 16 bytes at most. */
#define IN_BOUNDS_MASK 0x7fffu
#define IN_BOUNDS_OFFSET 0x7ff0u

#define MAX_FUNCS 4
#define MAX_PARAMS 4
#define MAX_RESULTS 3
#define MAX_GLOBALS 4
#define MAX_LOCALS 64
#define MAX_LABELS 32
#define MAX_DEPTH 5
#define NTYPES (1 + MAX_FUNCS) /* the host function's, then one per function */

/* ---- choices ------------------------------------------------------------ */

uint8_t gen_byte(gen_src *s) {
    return s->pos < s->n ? s->p[s->pos++] : 0;
}

uint32_t gen_below(gen_src *s, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t v = gen_byte(s);
    if (n > 256) v = v << 8 | gen_byte(s);
    return v % n;
}

static uint32_t gen_u32(gen_src *s) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)gen_byte(s) << (8 * i);
    return v;
}

static uint64_t gen_u64(gen_src *s) {
    return gen_u32(s) | (uint64_t)gen_u32(s) << 32;
}

static const uint32_t edge_i32[] = {
    0,          1,          2,          7,          8,          15,         16,
    31,         32,         33,         63,         64,         65,         0x7f,
    0x80,       0xff,       0x100,      0x7fff,     0x8000,     0xfff0,     0xfff8,
    0xfffc,     0xfffe,     0xffff,     0x10000,    0x1fff8,    0x1ffff,    0x20000,
    0x7fffffff, 0x80000000, 0x80000001, 0xfffffff0, 0xfffffffe, 0xffffffff,
};

static const uint64_t edge_i64[] = {
    0,
    1,
    31,
    32,
    63,
    64,
    65,
    0xff,
    0xffff,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000,
    0xffff0000ffff0000,
    0x7fffffffffffffff,
    0x8000000000000000,
    0x8000000000000001,
    0xffffffff80000000,
    0xfffffffffffffffe,
    0xffffffffffffffff,
    0x0010000000000000,
    0x001fffffffffffff,
    0x0020000000000001,
};

/* At the bounds of every float-to-int conversion, rounding ties, special
 * values, NaNs of both signs, quiet and signalling, with and without a
 * payload. */
static const uint32_t edge_f32[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000,
    0xbfc00000, 0x3effffff, 0x3f000001, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00000,
    0x7fc00001, 0xff800001, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x00800000, 0x4f000000,
    0xcf000000, 0x4effffff, 0xcf000001, 0x4f800000, 0x4f7fffff, 0x5f000000, 0xdf000000, 0x5effffff,
    0xdf000001, 0x5f800000, 0x5f7fffff, 0x4b000000, 0x4b000001, 0xcb000001, 0x40490fdb, 0xbf7fffff,
};

static const uint64_t edge_f64[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3fe0000000000000, 0xbfe0000000000000, 0x3ff8000000000000, 0x4004000000000000,
    0x3fdfffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0xfff8000000000000, 0x7ff4000000000000, 0x7ff8000000000001, 0xfff0000000000001,
    0x7fefffffffffffff, 0x0000000000000001, 0x0010000000000000, 0x41e0000000000000,
    0xc1e0000000000000, 0x41dfffffffc00000, 0x41dfffffffffffff, 0xc1e0000000200000,
    0xc1e00000001fffff, 0x41efffffffe00000, 0x41efffffffffffff, 0x41f0000000000000,
    0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff, 0xc3e0000000000001,
    0x43f0000000000000, 0x43efffffffffffff, 0x4330000000000000, 0x4330000000000001,
    0x400921fb54442d18, 0xbfefffffffffffff, 0x3fefffffffffffff,
};

#define COUNT(a) (uint32_t)(sizeof(a) / sizeof((a)[0]))

uint32_t gen_i32(gen_src *s) {
    switch (gen_below(s, 5)) {
    case 0: return gen_byte(s);
    case 1: return edge_i32[gen_below(s, COUNT(edge_i32))];
    case 2: return edge_i32[gen_below(s, COUNT(edge_i32))] + (uint32_t)(int8_t)gen_byte(s);
    case 3: return 0u - gen_byte(s);
    default: return gen_u32(s);
    }
}

uint64_t gen_i64(gen_src *s) {
    switch (gen_below(s, 6)) {
    case 0: return gen_byte(s);
    case 1: return edge_i64[gen_below(s, COUNT(edge_i64))];
    case 2: return edge_i64[gen_below(s, COUNT(edge_i64))] + (uint64_t)(int8_t)gen_byte(s);
    case 3: return 0 - (uint64_t)gen_byte(s);
    case 4: return (uint64_t)(int64_t)(int32_t)gen_i32(s);
    default: return gen_u64(s);
    }
}

uint32_t gen_f32(gen_src *s) {
    float f;
    uint32_t bits;
    switch (gen_below(s, 4)) {
    case 0: f = (float)(int8_t)gen_byte(s) / 2; break;
    case 1: return edge_f32[gen_below(s, COUNT(edge_f32))];
    case 2: f = (float)(int32_t)gen_i32(s); break;
    default: return gen_u32(s);
    }
    memcpy(&bits, &f, 4);
    return bits;
}

uint64_t gen_f64(gen_src *s) {
    double f;
    uint64_t bits;
    switch (gen_below(s, 5)) {
    case 0: f = (double)(int8_t)gen_byte(s) / 2; break;
    case 1: return edge_f64[gen_below(s, COUNT(edge_f64))];
    case 2: f = (double)(int64_t)gen_i64(s); break;
    case 3: f = (double)(int32_t)gen_i32(s) + 0.5; break;
    default: return gen_u64(s);
    }
    memcpy(&bits, &f, 8);
    return bits;
}

/* ---- output ---------------------------------------------------------------- */

typedef struct gbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} gbuf;

static void put(gbuf *b, uint8_t c) {
    if (b->len == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        uint8_t *p = b->oom ? NULL : realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    b->p[b->len++] = c;
}

static void put_bytes(gbuf *b, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        put(b, ((const uint8_t *)p)[i]);
}

static void put_uleb(gbuf *b, uint64_t v) {
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        put(b, (uint8_t)(c | (v ? 0x80 : 0)));
    } while (v);
}

static void put_sleb(gbuf *b, int64_t v) {
    for (;;) {
        uint8_t c = (uint8_t)(v & 0x7f);
        bool sign = c & 0x40;
        v = v < 0 ? ~(~v >> 7) : v >> 7; /* arithmetic shift, spelt out */
        if ((v == 0 && !sign) || (v == -1 && sign)) {
            put(b, c);
            return;
        }
        put(b, c | 0x80);
    }
}

static void put_le(gbuf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        put(b, (uint8_t)(v >> (8 * i)));
}

static void put_name(gbuf *b, const char *s) {
    put_uleb(b, strlen(s));
    put_bytes(b, s, strlen(s));
}

/* Appends section `id` holding `body`, which is emptied. */
static void put_section(gbuf *m, uint8_t id, gbuf *body) {
    put(m, id);
    put_uleb(m, body->len);
    put_bytes(m, body->p, body->len);
    m->oom |= body->oom;
    body->len = 0;
}

/* ---- the instruction table --------------------------------------------------- */

/* Value types by index: the order of every per-type array below. */
enum { T_I32, T_I64, T_F32, T_F64, T_V128, T_NONE, NT };
static const wasm_valtype valtypes[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_V128};

static int tix(wasm_valtype t) {
    switch (t) {
    case WASM_I32: return T_I32;
    case WASM_I64: return T_I64;
    case WASM_F32: return T_F32;
    case WASM_F64: return T_F64;
    case WASM_V128: return T_V128;
    default: return T_NONE;
    }
}

/* The instructions of fixed signature by result type (T_NONE: none), with
 * and without SIMD; `mem` holds the memory accesses among them. */
typedef struct oplist {
    uint16_t all[WASM_OP_COUNT_], mem[WASM_OP_COUNT_];
    uint32_t nall, nmem;
} oplist;
static oplist lists[2][NT];
static bool lists_ready;

static bool is_simd(const wasm_opinfo *in) {
    const wasm_siginfo *s = &wasm_siginfo_table[in->sig];
    bool v = in->prefix == 0xfd || s->result == WASM_V128;
    for (int i = 0; i < s->nparams; i++)
        v |= s->params[i] == WASM_V128;
    return v;
}

static void lists_init(void) {
    if (lists_ready) return;
    for (uint32_t op = 0; op < WASM_OP_COUNT_; op++) {
        const wasm_opinfo *in = &wasm_opinfo_table[op];
        /* elem.drop and table.init would need a passive element segment */
        if (in->sig == WASM_SIG_SPECIAL || in->imm == WASM_IMM_ELEM ||
            in->imm == WASM_IMM_ELEM_TABLE)
            continue;
        int r = tix(wasm_siginfo_table[in->sig].result);
        bool mem = in->imm == WASM_IMM_MEMARG || in->imm == WASM_IMM_MEMARG_LANE;
        for (int simd = 0; simd < 2; simd++) {
            if (is_simd(in) && !simd) continue;
            oplist *l = &lists[simd][r];
            l->all[l->nall++] = (uint16_t)op;
            if (mem) l->mem[l->nmem++] = (uint16_t)op;
        }
    }
    lists_ready = true;
}

/* ---- the generator's state ------------------------------------------------------ */

typedef struct sig {
    uint8_t np, nr;
    wasm_valtype p[MAX_PARAMS], r[MAX_RESULTS];
} sig;

/* A branch target: the types a branch to it carries (a loop's parameters,
 * a block's or if's results, the function's results). */
typedef struct label {
    uint8_t n;
    wasm_valtype t[MAX_PARAMS];
} label;

/* A block type: no values, one result, or a function type's. */
typedef struct btype {
    const wasm_valtype *p, *r;
    uint8_t np, nr;
    int64_t enc; /* -64 (0x40), a value type's byte as s33, or a type index */
    wasm_valtype one;
} btype;

typedef struct gen {
    gen_src *src;
    bool simd;
    gbuf *code;
    uint32_t nfuncs, ntypes;
    sig types[NTYPES];
    uint32_t nglobals;
    wasm_valtype gtype[MAX_GLOBALS];
    bool gmut[MAX_GLOBALS];
    uint32_t pages, table_size;
    uint32_t nelems, elems[MAX_FUNCS + 1]; /* the table's first entries at instantiation */
    /* the function being built */
    uint32_t type;
    wasm_valtype locals[MAX_LOCALS];
    uint32_t nlocals, nfree; /* locals [0, nfree) may be set by anything */
    uint32_t scratch[NT];    /* per type, UINT32_MAX until needed */
    label labels[MAX_LABELS];
    uint32_t nlabels;
    int budget, depth;
} gen;

static uint32_t pick(gen *g, uint32_t n) {
    return gen_below(g->src, n);
}

static wasm_valtype any_type(gen *g) {
    static const wasm_valtype ts[] = {WASM_I32, WASM_I64, WASM_I32, WASM_F32,
                                      WASM_I64, WASM_F64, WASM_V128};
    return ts[pick(g, g->simd ? 7 : 6)];
}

static void op(gen *g, uint8_t c) {
    put(g->code, c);
}

static void op_u(gen *g, uint8_t c, uint64_t imm) {
    put(g->code, c);
    put_uleb(g->code, imm);
}

static void op_prefixed(gen *g, uint8_t prefix, uint32_t code) {
    put(g->code, prefix);
    put_uleb(g->code, code);
}

static void i32_const(gen *g, uint32_t v) {
    op(g, 0x41);
    put_sleb(g->code, (int32_t)v);
}

static void v128_bytes(gen *g) {
    uint8_t b[16];
    switch (pick(g, 5)) {
    case 0: memset(b, 0, 16); break;
    case 1:
        for (int i = 0; i < 16; i++)
            b[i] = gen_byte(g->src);
        break;
    case 2:
        for (int i = 0; i < 4; i++) {
            uint32_t v = gen_i32(g->src);
            memcpy(b + 4 * i, &v, 4);
        }
        break;
    case 3:
        for (int i = 0; i < 4; i++) {
            uint32_t v = gen_f32(g->src);
            memcpy(b + 4 * i, &v, 4);
        }
        break;
    default:
        for (int i = 0; i < 2; i++) {
            uint64_t v = gen_f64(g->src);
            memcpy(b + 8 * i, &v, 8);
        }
    }
    put_bytes(g->code, b, 16);
}

static void constant(gen *g, wasm_valtype t) {
    switch (t) {
    case WASM_I32: i32_const(g, gen_i32(g->src)); break;
    case WASM_I64:
        op(g, 0x42);
        put_sleb(g->code, (int64_t)gen_i64(g->src));
        break;
    case WASM_F32:
        op(g, 0x43);
        put_le(g->code, gen_f32(g->src), 4);
        break;
    case WASM_F64:
        op(g, 0x44);
        put_le(g->code, gen_f64(g->src), 8);
        break;
    default: op_prefixed(g, 0xfd, 0x0c); v128_bytes(g);
    }
}

/* A new local of type `t`, set by nothing but its owner (a loop counter,
 * a scratch cell, a block's parameter). When the function has as many as
 * it may, a local of that type that it has anyway. */
static uint32_t new_local(gen *g, wasm_valtype t) {
    if (g->nlocals < MAX_LOCALS) {
        g->locals[g->nlocals] = t;
        return g->nlocals++;
    }
    for (uint32_t i = 0;; i++)
        if (g->locals[i] == t) return i;
}

static uint32_t scratch(gen *g, wasm_valtype t) {
    uint32_t *s = &g->scratch[tix(t)];
    if (*s == UINT32_MAX) *s = new_local(g, t);
    return *s;
}

/* A local of type `t` among the first `n`, or UINT32_MAX. */
static uint32_t local_of(gen *g, wasm_valtype t, uint32_t n) {
    uint32_t k = 0, found[MAX_LOCALS];
    for (uint32_t i = 0; i < n; i++)
        if (g->locals[i] == t) found[k++] = i;
    return k ? found[pick(g, k)] : UINT32_MAX;
}

static uint32_t global_of(gen *g, wasm_valtype t, bool mut) {
    uint32_t k = 0, found[MAX_GLOBALS];
    for (uint32_t i = 0; i < g->nglobals; i++)
        if (g->gtype[i] == t && (g->gmut[i] || !mut)) found[k++] = i;
    return k ? found[pick(g, k)] : UINT32_MAX;
}

static void expr(gen *g, wasm_valtype t);
static void stmts(gen *g, uint32_t n);

static void leaf(gen *g, wasm_valtype t) {
    uint32_t i;
    switch (pick(g, 4)) {
    case 1:
        if ((i = local_of(g, t, g->nlocals)) == UINT32_MAX) break;
        op_u(g, 0x20, i);
        return;
    case 2:
        if ((i = global_of(g, t, false)) == UINT32_MAX) break;
        op_u(g, 0x23, i);
        return;
    default: break;
    }
    constant(g, t);
}

/* ---- NaNs whose bits would show -------------------------------------------------- */

/* The float on top of the stack, the canonical NaN if it is a NaN. */
static void canon(gen *g, wasm_valtype t) {
    uint32_t s = scratch(g, t);
    op_u(g, 0x21, s);
    if (t == WASM_F32) {
        op(g, 0x43);
        put_le(g->code, 0x7fc00000, 4);
    } else {
        op(g, 0x44);
        put_le(g->code, 0x7ff8000000000000, 8);
    }
    op_u(g, 0x20, s);
    op_u(g, 0x20, s);
    op_u(g, 0x20, s);
    op(g, t == WASM_F32 ? 0x5c : 0x62); /* ne: true for a NaN */
    op(g, 0x1b);                        /* select */
}

/* The same for each lane of the v128 on top of the stack. */
static void canon_lanes(gen *g, bool f64) {
    uint32_t s = scratch(g, WASM_V128);
    op_u(g, 0x21, s);
    op_u(g, 0x20, s);
    op_prefixed(g, 0xfd, 0x0c);
    for (int i = 0; i < 16; i += f64 ? 8 : 4)
        put_le(g->code, f64 ? 0x7ff8000000000000 : 0x7fc00000, f64 ? 8 : 4);
    op_u(g, 0x20, s);
    op_u(g, 0x20, s);
    op_prefixed(g, 0xfd, f64 ? 0x47 : 0x41); /* eq: all ones where not a NaN */
    op_prefixed(g, 0xfd, 0x52);              /* bitselect */
}

/* Whether operand `i` of `op` has its bits seen: stored, reinterpreted,
 * put into a vector, or giving its sign. */
static bool shows_bits(wasm_op o, uint32_t i) {
    switch (o) {
    case WASM_OP_F32_STORE:
    case WASM_OP_F64_STORE:
    case WASM_OP_F32X4_REPLACE_LANE:
    case WASM_OP_F64X2_REPLACE_LANE:
    case WASM_OP_F32_COPYSIGN:
    case WASM_OP_F64_COPYSIGN: return i == 1;
    case WASM_OP_I32_REINTERPRET_F32:
    case WASM_OP_I64_REINTERPRET_F64:
    case WASM_OP_F32X4_SPLAT:
    case WASM_OP_F64X2_SPLAT: return true;
    default: return false;
    }
}

/* 1 or 2 (f32 or f64 lanes) for SIMD arithmetic that may make a NaN of
 * any payload, 0 for the rest. */
static int nan_lanes(wasm_op o) {
    switch (o) {
    case WASM_OP_F32X4_ADD:
    case WASM_OP_F32X4_SUB:
    case WASM_OP_F32X4_MUL:
    case WASM_OP_F32X4_DIV:
    case WASM_OP_F32X4_MIN:
    case WASM_OP_F32X4_MAX:
    case WASM_OP_F32X4_SQRT:
    case WASM_OP_F32X4_CEIL:
    case WASM_OP_F32X4_FLOOR:
    case WASM_OP_F32X4_TRUNC:
    case WASM_OP_F32X4_NEAREST:
    case WASM_OP_F32X4_DEMOTE_F64X2_ZERO: return 1;
    case WASM_OP_F64X2_ADD:
    case WASM_OP_F64X2_SUB:
    case WASM_OP_F64X2_MUL:
    case WASM_OP_F64X2_DIV:
    case WASM_OP_F64X2_MIN:
    case WASM_OP_F64X2_MAX:
    case WASM_OP_F64X2_SQRT:
    case WASM_OP_F64X2_CEIL:
    case WASM_OP_F64X2_FLOOR:
    case WASM_OP_F64X2_TRUNC:
    case WASM_OP_F64X2_NEAREST:
    case WASM_OP_F64X2_PROMOTE_LOW_F32X4: return 2;
    default: return 0;
    }
}

/* ---- operands whose values matter ------------------------------------------------------ */

/* An address: small, near the end of the memory as it is now or as it
 * started, a parameter (callers pass edge values), or anything. */
static void address(gen *g) {
    uint32_t i;
    switch (pick(g, 9)) {
    case 0: i32_const(g, gen_byte(g->src)); break;
    case 1: i32_const(g, gen_below(g->src, 0x10000)); break;
    case 2: /* memory.size * 64 KiB - k */
        op_u(g, 0x3f, 0);
        i32_const(g, 16);
        op(g, 0x74);
        i32_const(g, gen_below(g->src, 20));
        op(g, 0x6b);
        break;
    case 3: i32_const(g, g->pages * 0x10000 - gen_below(g->src, 20)); break;
    case 4: expr(g, WASM_I32); break;
    case 5:
        expr(g, WASM_I32);
        i32_const(g, 0xffff);
        op(g, 0x71);
        break;
    case 6:
        if ((i = local_of(g, WASM_I32, g->nfree)) != UINT32_MAX) {
            op_u(g, 0x20, i);
            break;
        }
        /* fall through */
    case 7: i32_const(g, gen_i32(g->src)); break;
    default: i32_const(g, 0x10000 - gen_below(g->src, 20)); break;
    }
}

/* Where a memory access may go. */
typedef enum { ACCESS_ANY, ACCESS_IN_BOUNDS } access;

/* For access `in`: a quarter of the accesses kept in bounds, so that a
 * function gets past its first accesses often enough to reach the rest;
 * the others anywhere, at the end of memory and across it included. */
static access access_of(gen *g, const wasm_opinfo *in) {
    if (in->imm != WASM_IMM_MEMARG && in->imm != WASM_IMM_MEMARG_LANE) return ACCESS_ANY;
    return pick(g, 4) == 3 ? ACCESS_IN_BOUNDS : ACCESS_ANY;
}

static void memarg(gen *g, const wasm_opinfo *in, access where) {
    uint32_t natural = in->arg;
    put_uleb(g->code, pick(g, natural + 1));
    uint32_t off;
    switch (pick(g, 6)) {
    case 0:
    case 1:
    case 2: off = gen_below(g->src, 16); break;
    case 3: off = gen_byte(g->src); break;
    case 4: off = 0x10000 - gen_below(g->src, 32); break;
    default: off = gen_i32(g->src);
    }
    if (where == ACCESS_IN_BOUNDS) off %= IN_BOUNDS_OFFSET;
    put_uleb(g->code, off);
}

/* A length for memory.fill/copy/init or table.copy. */
static void length(gen *g, uint32_t max) {
    switch (pick(g, 4)) {
    case 0: i32_const(g, gen_below(g->src, 17)); break;
    case 1: i32_const(g, gen_below(g->src, max)); break;
    case 2: expr(g, WASM_I32); break;
    default: i32_const(g, gen_i32(g->src));
    }
}

static void operand(gen *g, wasm_op o, const wasm_opinfo *in, access where, uint32_t i,
                    wasm_valtype t) {
    bool mem = in->imm == WASM_IMM_MEMARG || in->imm == WASM_IMM_MEMARG_LANE;
    if (i == 0 && mem) {
        address(g);
        if (where == ACCESS_IN_BOUNDS) {
            i32_const(g, IN_BOUNDS_MASK);
            op(g, 0x71);
        }
    } else if (o == WASM_OP_MEMORY_GROW) {
        if (pick(g, 4) == 3)
            expr(g, WASM_I32);
        else
            i32_const(g, pick(g, 3));
    } else if (o == WASM_OP_MEMORY_FILL || o == WASM_OP_MEMORY_COPY || o == WASM_OP_MEMORY_INIT) {
        if (i == 2)
            length(g, 0x300);
        else if (o == WASM_OP_MEMORY_FILL && i == 1)
            expr(g, WASM_I32);
        else if (o == WASM_OP_MEMORY_INIT && i == 1)
            length(g, 20);
        else
            address(g);
    } else if (o == WASM_OP_TABLE_COPY) {
        length(g, g->table_size + 2);
    } else {
        expr(g, t);
        if (shows_bits(o, i)) canon(g, t);
    }
}

static void immediates(gen *g, const wasm_opinfo *in, access where) {
    switch (in->imm) {
    case WASM_IMM_MEMARG: memarg(g, in, where); break;
    case WASM_IMM_MEMARG_LANE:
        memarg(g, in, where);
        put(g->code, (uint8_t)pick(g, 16u >> in->arg));
        break;
    case WASM_IMM_LANE: put(g->code, (uint8_t)pick(g, in->arg)); break;
    case WASM_IMM_SHUFFLE:
        for (int i = 0; i < 16; i++)
            put(g->code, (uint8_t)pick(g, 32));
        break;
    case WASM_IMM_I32: put_sleb(g->code, (int32_t)gen_i32(g->src)); break;
    case WASM_IMM_I64: put_sleb(g->code, (int64_t)gen_i64(g->src)); break;
    case WASM_IMM_F32: put_le(g->code, gen_f32(g->src), 4); break;
    case WASM_IMM_F64: put_le(g->code, gen_f64(g->src), 8); break;
    case WASM_IMM_V128: v128_bytes(g); break;
    case WASM_IMM_DATA: put_uleb(g->code, pick(g, 2)); break;
    case WASM_IMM_DATA_MEM:
        put_uleb(g->code, pick(g, 2));
        put(g->code, 0);
        break;
    case WASM_IMM_MEM:
    case WASM_IMM_TABLE: put(g->code, 0); break;
    case WASM_IMM_MEM_MEM:
    case WASM_IMM_TABLE_TABLE:
        put(g->code, 0);
        put(g->code, 0);
        break;
    default: break;
    }
}

/* An instruction of fixed signature with result `t` (0: none), from the
 * memory accesses only when `mem`; false when there is none. */
static bool fixed(gen *g, wasm_valtype t, bool mem) {
    const oplist *l = &lists[g->simd][t ? tix(t) : T_NONE];
    uint32_t n = mem ? l->nmem : l->nall;
    if (!n) return false;
    wasm_op o = (wasm_op)(mem ? l->mem : l->all)[pick(g, n)];
    const wasm_opinfo *in = &wasm_opinfo_table[o];
    const wasm_siginfo *s = &wasm_siginfo_table[in->sig];
    access where = access_of(g, in);
    for (uint32_t i = 0; i < s->nparams; i++)
        operand(g, o, in, where, i, s->params[i]);
    if (in->prefix)
        op_prefixed(g, in->prefix, in->code);
    else
        op(g, (uint8_t)in->code);
    immediates(g, in, where);
    if (nan_lanes(o)) canon_lanes(g, nan_lanes(o) == 2);
    return true;
}

/* ---- control ------------------------------------------------------------------------ */

static void push_label(gen *g, const wasm_valtype *t, uint8_t n) {
    label *l = &g->labels[g->nlabels++];
    l->n = n;
    if (n) memcpy(l->t, t, n);
}

static bool same_label(const label *a, const label *b) {
    return a->n == b->n && !memcmp(a->t, b->t, a->n);
}

/* A label whose branch carries exactly `want` (NULL: any), as a relative
 * depth; UINT32_MAX when there is none. */
static uint32_t label_of(gen *g, const label *want) {
    uint32_t k = 0, found[MAX_LABELS];
    for (uint32_t i = 0; i < g->nlabels; i++)
        if (!want || same_label(&g->labels[i], want)) found[k++] = g->nlabels - 1 - i;
    return k ? found[pick(g, k)] : UINT32_MAX;
}

static const label *label_at(gen *g, uint32_t depth) {
    return &g->labels[g->nlabels - 1 - depth];
}

static void values(gen *g, const wasm_valtype *t, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        expr(g, t[i]);
}

static void drops(gen *g, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        op(g, 0x1a);
}

/* A block type with results `want` (NULL: anything, its results dropped
 * by the caller). */
static void block_type(gen *g, btype *bt, const wasm_valtype *want) {
    uint32_t k = 0, found[NTYPES];
    for (uint32_t i = 0; i < g->ntypes; i++) {
        const sig *s = &g->types[i];
        if (!want || (s->nr == 1 && s->r[0] == *want)) found[k++] = i;
    }
    memset(bt, 0, sizeof *bt);
    uint32_t c = pick(g, 3);
    if (c == 2 && k) {
        const sig *s = &g->types[found[pick(g, k)]];
        bt->p = s->p, bt->np = s->np, bt->r = s->r, bt->nr = s->nr;
        bt->enc = s - g->types;
    } else if (want || c == 1) {
        bt->one = want ? *want : any_type(g);
        bt->r = &bt->one, bt->nr = 1;
        bt->enc = (int64_t)bt->one - 0x80; /* a value type as a negative s33 */
    } else {
        bt->enc = -64;
    }
}

/* What runs inside a block, loop or if: the parameters moved into locals
 * of their own, statements, the results. A counted loop ends with a
 * branch back while its counter, decremented, is not zero. */
static void block_body(gen *g, const btype *bt, uint32_t counter) {
    for (uint32_t i = bt->np; i-- > 0;)
        op_u(g, 0x21, new_local(g, bt->p[i]));
    stmts(g, pick(g, 4));
    if (counter != UINT32_MAX) {
        values(g, bt->p, bt->np);
        op_u(g, 0x20, counter);
        i32_const(g, 1);
        op(g, 0x6b);
        op_u(g, 0x22, counter);
        op_u(g, 0x0d, 0);
        drops(g, bt->np);
    }
    values(g, bt->r, bt->nr);
}

/* block (0x02), loop (0x03) or if (0x04) of type `bt`; loops are counted
 * unless `free_loop`. */
static void structured(gen *g, uint8_t kind, const btype *bt, bool free_loop) {
    if (g->nlabels == MAX_LABELS) {
        values(g, bt->r, bt->nr);
        return;
    }
    uint32_t counter = UINT32_MAX;
    if (kind == 0x03 && !free_loop) {
        counter = new_local(g, WASM_I32);
        i32_const(g, 1 + pick(g, 8));
        op_u(g, 0x21, counter);
    }
    values(g, bt->p, bt->np);
    if (kind == 0x04) expr(g, WASM_I32);
    op(g, kind);
    put_sleb(g->code, bt->enc);
    if (kind == 0x03)
        push_label(g, bt->p, bt->np);
    else
        push_label(g, bt->r, bt->nr);
    block_body(g, bt, counter);
    if (kind == 0x04 && (bt->np || bt->nr || pick(g, 2))) {
        op(g, 0x05);
        block_body(g, bt, UINT32_MAX);
    }
    op(g, 0x0b);
    g->nlabels--;
}

/* ---- calls ------------------------------------------------------------------------------ */

/* After a call of type `s`: nothing left (want 0) or one of its results of
 * type `want` (it has one), the others dropped. */
static void keep_result(gen *g, const sig *s, wasm_valtype want) {
    if (!want) {
        drops(g, s->nr);
        return;
    }
    uint32_t k = UINT32_MAX;
    for (uint32_t i = 0; i < s->nr; i++)
        if (s->r[i] == want && (k == UINT32_MAX || pick(g, 2))) k = i;
    if (s->nr == 1) return;
    uint32_t tmp = scratch(g, want);
    for (uint32_t i = s->nr; i-- > 0;)
        if (i == k)
            op_u(g, 0x21, tmp);
        else
            op(g, 0x1a);
    op_u(g, 0x20, tmp);
}

static bool has_result(const sig *s, wasm_valtype t) {
    for (uint32_t i = 0; i < s->nr; i++)
        if (s->r[i] == t) return true;
    return false;
}

/* A call, direct (the import too) or through the table, leaving one value
 * of type `want` or (want 0) none; false when no callee returns `want`. */
static bool call(gen *g, wasm_valtype want) {
    uint32_t k = 0, found[NTYPES];
    for (uint32_t i = 0; i < g->ntypes; i++)
        if (!want || has_result(&g->types[i], want)) found[k++] = i;
    if (!k) return false;
    uint32_t ti = found[pick(g, k)];
    bool indirect = pick(g, 3) == 2;
    uint32_t slot = UINT32_MAX;
    if (indirect && pick(g, 2)) {
        /* an entry of the table holding a function of type ti (as at
         * instantiation: table.copy may have moved it since) */
        uint32_t n = 0, slots[MAX_FUNCS + 1];
        for (uint32_t i = 0; i < g->nelems; i++)
            if (g->elems[i] == ti) slots[n++] = i;
        if (n) slot = slots[pick(g, n)];
    }
    const sig *s = &g->types[ti];
    values(g, s->p, s->np);
    if (indirect) {
        /* otherwise any entry: null, of another type, or past the end */
        if (slot != UINT32_MAX)
            i32_const(g, slot);
        else if (pick(g, 4) == 3)
            expr(g, WASM_I32);
        else
            i32_const(g, pick(g, g->table_size + 2));
        op_u(g, 0x11, ti);
        put(g->code, 0);
    } else {
        op_u(g, 0x10, ti); /* function ti has type ti: the import first */
    }
    keep_result(g, s, want);
    return true;
}

/* ---- expressions and statements ------------------------------------------------------------ */

static void expr(gen *g, wasm_valtype t) {
    if (g->budget <= 0 || g->depth >= MAX_DEPTH) {
        leaf(g, t);
        return;
    }
    g->budget--;
    g->depth++;
    btype bt;
    uint32_t i;
    switch (pick(g, 20)) {
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
        if (!fixed(g, t, false)) leaf(g, t);
        break;
    case 10:
    case 11:
        if (!fixed(g, t, true)) leaf(g, t);
        break;
    case 12:
    case 13:
        block_type(g, &bt, &t);
        structured(g, (uint8_t)(0x02 + pick(g, 3)), &bt, pick(g, 4) == 3);
        break;
    case 14:
        expr(g, t);
        expr(g, t);
        expr(g, WASM_I32);
        if (pick(g, 2)) {
            op(g, 0x1b);
        } else {
            op_u(g, 0x1c, 1);
            put(g->code, t);
        }
        break;
    case 15:
        if ((i = local_of(g, t, g->nfree)) == UINT32_MAX) {
            leaf(g, t);
            break;
        }
        expr(g, t);
        op_u(g, 0x22, i);
        break;
    case 16:
    case 17:
        if (!call(g, t)) leaf(g, t);
        break;
    case 18: {
        label want = {.n = 1, .t = {t}};
        if ((i = label_of(g, &want)) == UINT32_MAX) {
            leaf(g, t);
            break;
        }
        expr(g, t);
        expr(g, WASM_I32);
        op_u(g, 0x0d, i);
        break;
    }
    default: leaf(g, t);
    }
    g->depth--;
}

/* Branches: br_if most of the time, br and br_table (which end the block)
 * less often. */
static void branch(gen *g) {
    uint32_t d = label_of(g, NULL);
    if (d == UINT32_MAX) return;
    const label *l = label_at(g, d);
    values(g, l->t, l->n);
    switch (pick(g, 6)) {
    case 4: op_u(g, 0x0c, d); break;
    case 5: {
        uint32_t n = pick(g, 5), targets[5];
        for (uint32_t i = 0; i < n; i++) {
            targets[i] = label_of(g, l);
            if (pick(g, 4) == 3) targets[i] = d;
        }
        if (pick(g, 2))
            i32_const(g, pick(g, n + 2));
        else
            expr(g, WASM_I32);
        op_u(g, 0x0e, n);
        for (uint32_t i = 0; i < n; i++)
            put_uleb(g->code, targets[i]);
        put_uleb(g->code, d);
        break;
    }
    default:
        expr(g, WASM_I32);
        op_u(g, 0x0d, d);
        drops(g, l->n);
    }
}

/* return, or return_call to a function of the same type. */
static void leave(gen *g) {
    const sig *self = &g->types[g->type];
    uint32_t k = 0, found[MAX_FUNCS];
    for (uint32_t i = 1; i < g->ntypes; i++) {
        const sig *s = &g->types[i];
        if (s->np == self->np && s->nr == self->nr && !memcmp(s->p, self->p, s->np) &&
            !memcmp(s->r, self->r, s->nr))
            found[k++] = i;
    }
    if (k && pick(g, 2)) {
        values(g, self->p, self->np);
        op_u(g, 0x12, found[pick(g, k)]);
    } else {
        values(g, self->r, self->nr);
        op(g, 0x0f);
    }
}

static void stmt(gen *g) {
    uint32_t i;
    wasm_valtype t;
    btype bt;
    if (g->budget <= 0 || g->depth >= MAX_DEPTH) {
        t = any_type(g);
        if ((i = local_of(g, t, g->nfree)) == UINT32_MAX) return;
        leaf(g, t);
        op_u(g, 0x21, i);
        return;
    }
    g->budget--;
    g->depth++;
    switch (pick(g, 20)) {
    case 1:
    case 2:
        t = any_type(g);
        if ((i = local_of(g, t, g->nfree)) == UINT32_MAX) break;
        expr(g, t);
        op_u(g, 0x21, i);
        break;
    case 3:
        t = any_type(g);
        if ((i = global_of(g, t, true)) == UINT32_MAX) break;
        expr(g, t);
        op_u(g, 0x24, i);
        break;
    case 4:
    case 5:
    case 6: fixed(g, 0, pick(g, 3) != 2); break;
    case 7:
        /* a load dropped at once, or anything */
        t = any_type(g);
        if (pick(g, 2) || !fixed(g, t, true)) expr(g, t);
        op(g, 0x1a);
        break;
    case 8:
    case 9:
    case 10:
    case 11:
        block_type(g, &bt, NULL);
        structured(g, (uint8_t)(0x02 + pick(g, 3)), &bt, pick(g, 6) == 5);
        drops(g, bt.nr);
        break;
    case 12:
    case 13:
    case 14: branch(g); break;
    case 15:
    case 16: call(g, 0); break;
    case 17:
        if (pick(g, 4) == 3) leave(g);
        break;
    case 18:
        if (pick(g, 8) == 7) op(g, 0x00); /* unreachable */
        break;
    default: break;
    }
    g->depth--;
}

static void stmts(gen *g, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        stmt(g);
}

/* ---- the module ----------------------------------------------------------------------------- */

static void put_valtypes(gbuf *b, const wasm_valtype *t, uint32_t n) {
    put_uleb(b, n);
    put_bytes(b, t, n);
}

/* Function `f`'s entry of the code section: size, locals, body. */
static void function(gen *g, uint32_t f, gbuf *out) {
    gbuf code = {0};
    g->code = &code;
    g->type = 1 + f;
    const sig *s = &g->types[g->type];
    memcpy(g->locals, s->p, s->np);
    g->nlocals = s->np;
    /* one local of each type, so that every type has one to set, and some */
    for (int i = 0; i < (g->simd ? 5 : 4); i++)
        g->locals[g->nlocals++] = valtypes[i];
    for (uint32_t i = pick(g, 4); i > 0; i--)
        g->locals[g->nlocals++] = any_type(g);
    g->nfree = g->nlocals;
    for (int i = 0; i < NT; i++)
        g->scratch[i] = UINT32_MAX;
    g->nlabels = 0;
    push_label(g, s->r, s->nr);
    g->budget = 8 + (int)pick(g, 90);
    g->depth = 0;
    stmts(g, 1 + pick(g, 5));
    values(g, s->r, s->nr);
    op(g, 0x0b);

    gbuf head = {0};
    uint32_t runs = 0;
    for (uint32_t i = s->np; i < g->nlocals; i++)
        runs += i == s->np || g->locals[i] != g->locals[i - 1];
    put_uleb(&head, runs);
    for (uint32_t i = s->np; i < g->nlocals;) {
        uint32_t j = i;
        while (j < g->nlocals && g->locals[j] == g->locals[i])
            j++;
        put_uleb(&head, j - i);
        put(&head, g->locals[i]);
        i = j;
    }
    put_uleb(out, head.len + code.len);
    put_bytes(out, head.p, head.len);
    put_bytes(out, code.p, code.len);
    out->oom |= head.oom || code.oom;
    free(head.p);
    free(code.p);
    g->code = NULL;
}

static void const_expr(gen *g, gbuf *b, wasm_valtype t) {
    gbuf *saved = g->code;
    g->code = b;
    constant(g, t);
    op(g, 0x0b);
    g->code = saved;
}

uint8_t *gen_module(gen_src *src, const gen_opts *opts, size_t *len) {
    lists_init();
    gen g;
    memset(&g, 0, sizeof g);
    g.src = src;
    g.simd = opts->simd;

    /* the outline: types, globals, memory, table */
    g.types[0] = (sig){.np = 1, .nr = 1, .p = {WASM_I64}, .r = {WASM_I64}};
    g.nfuncs = 1 + pick(&g, MAX_FUNCS);
    g.ntypes = 1 + g.nfuncs;
    for (uint32_t f = 0; f < g.nfuncs; f++) {
        sig *s = &g.types[1 + f];
        s->np = (uint8_t)pick(&g, MAX_PARAMS + 1);
        static const uint8_t nres[] = {1, 0, 1, 2, 1, 3};
        s->nr = nres[pick(&g, sizeof nres)];
        for (uint32_t i = 0; i < s->np; i++)
            s->p[i] = any_type(&g);
        for (uint32_t i = 0; i < s->nr; i++)
            s->r[i] = any_type(&g);
    }
    g.nglobals = 1 + pick(&g, MAX_GLOBALS);
    for (uint32_t i = 0; i < g.nglobals; i++) {
        g.gtype[i] = any_type(&g);
        g.gmut[i] = pick(&g, 4) != 3;
    }
    g.pages = 1 + pick(&g, 2);
    uint32_t max_extra = pick(&g, 4); /* 0: no maximum */
    g.table_size = g.nfuncs + 1 + pick(&g, 3);

    gbuf m = {0}, sec = {0};
    put_bytes(&m, "\0asm\1\0\0\0", 8);

    put_uleb(&sec, g.ntypes);
    for (uint32_t i = 0; i < g.ntypes; i++) {
        put(&sec, 0x60);
        put_valtypes(&sec, g.types[i].p, g.types[i].np);
        put_valtypes(&sec, g.types[i].r, g.types[i].nr);
    }
    put_section(&m, 1, &sec);

    put_uleb(&sec, 1);
    put_name(&sec, "env");
    put_name(&sec, "h");
    put(&sec, 0x00);
    put_uleb(&sec, 0);
    put_section(&m, 2, &sec);

    put_uleb(&sec, g.nfuncs);
    for (uint32_t f = 0; f < g.nfuncs; f++)
        put_uleb(&sec, 1 + f);
    put_section(&m, 3, &sec);

    put_uleb(&sec, 1);
    put(&sec, 0x70);
    put(&sec, 0x01);
    put_uleb(&sec, g.table_size);
    put_uleb(&sec, g.table_size);
    put_section(&m, 4, &sec);

    put_uleb(&sec, 1);
    put(&sec, max_extra ? 0x01 : 0x00);
    put_uleb(&sec, g.pages);
    if (max_extra) put_uleb(&sec, g.pages + max_extra - 1);
    put_section(&m, 5, &sec);

    put_uleb(&sec, g.nglobals);
    for (uint32_t i = 0; i < g.nglobals; i++) {
        put(&sec, g.gtype[i]);
        put(&sec, g.gmut[i]);
        const_expr(&g, &sec, g.gtype[i]);
    }
    put_section(&m, 6, &sec);

    char name[8];
    put_uleb(&sec, g.nfuncs + g.nglobals + 1);
    for (uint32_t f = 0; f < g.nfuncs; f++) {
        name[0] = 'f', name[1] = (char)('0' + f), name[2] = 0;
        put_name(&sec, name);
        put(&sec, 0x00);
        put_uleb(&sec, 1 + f);
    }
    for (uint32_t i = 0; i < g.nglobals; i++) {
        name[0] = 'g', name[1] = (char)('0' + i), name[2] = 0;
        put_name(&sec, name);
        put(&sec, 0x03);
        put_uleb(&sec, i);
    }
    put_name(&sec, "mem");
    put(&sec, 0x02);
    put_uleb(&sec, 0);
    put_section(&m, 7, &sec);

    /* the table: functions (the import too) in any order, then nulls */
    g.nelems = g.nfuncs + 1 - pick(&g, 2);
    put_uleb(&sec, 1);
    put(&sec, 0x00);
    put(&sec, 0x41);
    put(&sec, 0x00);
    put(&sec, 0x0b);
    put_uleb(&sec, g.nelems);
    for (uint32_t i = 0; i < g.nelems; i++) {
        g.elems[i] = pick(&g, g.nfuncs + 1);
        put_uleb(&sec, g.elems[i]);
    }
    put_section(&m, 9, &sec);

    put_uleb(&sec, 2);
    put_section(&m, 12, &sec);

    put_uleb(&sec, g.nfuncs);
    for (uint32_t f = 0; f < g.nfuncs; f++)
        function(&g, f, &sec);
    put_section(&m, 10, &sec);

    /* data: an active segment (anywhere, near the end of the memory
     * often) and a passive one for memory.init */
    uint32_t alen = pick(&g, 33), plen = pick(&g, 17);
    uint32_t room = g.pages * 0x10000 - alen;
    uint32_t at = pick(&g, 2) ? room - pick(&g, 64) : gen_below(src, room);
    put_uleb(&sec, 2);
    put(&sec, 0x00);
    put(&sec, 0x41);
    put_sleb(&sec, (int32_t)at);
    put(&sec, 0x0b);
    put_uleb(&sec, alen);
    for (uint32_t i = 0; i < alen; i++)
        put(&sec, gen_byte(src));
    put(&sec, 0x01);
    put_uleb(&sec, plen);
    for (uint32_t i = 0; i < plen; i++)
        put(&sec, gen_byte(src));
    put_section(&m, 11, &sec);

    free(sec.p);
    if (m.oom || sec.oom) {
        free(m.p);
        return NULL;
    }
    *len = m.len;
    return m.p;
}
