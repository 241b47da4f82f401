/*
 * instr.c - the instruction decoder: opcode bytes and immediates into a
 * wasm_instr. The tables here are generated from opcodes.h; the decoder
 * checks encodings only (known opcode, well-formed immediates, reserved
 * zero bytes). Typing is the validator's job.
 */
#include <string.h>

#include "wasm/internal.h"

const wasm_opinfo wasm_opinfo_table[WASM_OP_COUNT_] = {
#define X(id, pre, code_, name_, imm_, sig_, arg_)                                                 \
    [WASM_OP_##id] = {.name = name_,                                                               \
                      .prefix = pre,                                                               \
                      .imm = WASM_IMM_##imm_,                                                      \
                      .sig = WASM_SIG_##sig_,                                                      \
                      .arg = arg_,                                                                 \
                      .code = code_},
    WASM_OPCODES(X)
#undef X
};

#define T_0 0
#define T_I32 WASM_I32
#define T_I64 WASM_I64
#define T_F32 WASM_F32
#define T_F64 WASM_F64
#define T_V128 WASM_V128
const wasm_siginfo wasm_siginfo_table[] = {
#define S(id, p0, p1, p2, r)                                                                       \
    [WASM_SIG_##id] = {.params = {T_##p0, T_##p1, T_##p2},                                         \
                       .nparams = (T_##p0 != 0) + (T_##p1 != 0) + (T_##p2 != 0),                   \
                       .result = T_##r},
    WASM_SIGS(S)
#undef S
};

/* Opcode lookup: one table per prefix. 0xFFFF = no such opcode. */
#define NO_OP 0xffff
static uint16_t plain_ops[256], fc_ops[32], fd_ops[256];
static bool tables_ready;

static void build_tables(void) {
    memset(plain_ops, 0xff, sizeof plain_ops);
    memset(fc_ops, 0xff, sizeof fc_ops);
    memset(fd_ops, 0xff, sizeof fd_ops);
    for (int i = 0; i < WASM_OP_COUNT_; i++) {
        const wasm_opinfo *o = &wasm_opinfo_table[i];
        if (o->prefix == 0)
            plain_ops[o->code] = (uint16_t)i;
        else if (o->prefix == 0xfc)
            fc_ops[o->code] = (uint16_t)i;
        else
            fd_ops[o->code] = (uint16_t)i;
    }
    __atomic_store_n(&tables_ready, true, __ATOMIC_RELEASE);
}

/* Built on first use; building twice from two threads is harmless (same
 * values), so a plain flag is enough. */
static inline void ensure_tables(void) {
    if (!__atomic_load_n(&tables_ready, __ATOMIC_ACQUIRE)) build_tables();
}

static bool read_zero_byte(wasm_reader *r) {
    uint8_t b;
    if (!wasm_read_u8(r, &b)) return false;
    if (b != 0) {
        r->p--;
        return wasm_malformed(r, "zero byte expected");
    }
    return true;
}

static bool read_blocktype(wasm_reader *r, wasm_blocktype *bt) {
    if (r->p >= r->end) return wasm_malformed(r, "unexpected end of section or function");
    uint8_t b = *r->p;
    if (b == 0x40) {
        r->p++;
        bt->kind = WASM_BT_EMPTY;
        return true;
    }
    if (b & 0x40) { /* a negative s33: must be a one-byte value type */
        wasm_valtype t;
        if (!wasm_read_valtype(r, &t)) return false;
        bt->kind = WASM_BT_VALUE;
        bt->value = t;
        return true;
    }
    int64_t idx;
    const uint8_t *at = r->p;
    if (!wasm_read_s33(r, &idx)) return false;
    if (idx < 0 || idx > UINT32_MAX)
        return wasm_fail_at(r, at, WASM_ERR_MALFORMED, "malformed block type");
    bt->kind = WASM_BT_INDEX;
    bt->index = (uint32_t)idx;
    return true;
}

static bool read_memarg(wasm_reader *r, wasm_instr *ins) {
    if (!wasm_read_u32(r, &ins->imm.mem.align)) return false;
    return wasm_read_u32(r, &ins->imm.mem.offset);
}

bool wasm_read_instr(wasm_reader *r, wasm_instr *ins) {
    ensure_tables();
    ins->at = r->p;
    uint8_t b;
    if (!wasm_read_u8(r, &b)) return false;
    uint16_t op;
    if (b == 0xfc || b == 0xfd) {
        uint32_t sub;
        if (!wasm_read_u32(r, &sub)) return false;
        if (b == 0xfc)
            op = sub < 32 ? fc_ops[sub] : NO_OP;
        else
            op = sub < 256 ? fd_ops[sub] : NO_OP;
        if (op == NO_OP)
            return wasm_fail_at(r, ins->at, WASM_ERR_MALFORMED, "illegal opcode 0x%02x 0x%x", b,
                                sub);
    } else {
        op = plain_ops[b];
        if (op == NO_OP)
            return wasm_fail_at(r, ins->at, WASM_ERR_MALFORMED, "illegal opcode 0x%02x", b);
    }
    ins->op = (wasm_op)op;
    const wasm_opinfo *info = &wasm_opinfo_table[op];
    const uint8_t *bytes;
    switch ((wasm_imm)info->imm) {
    case WASM_IMM_NONE: return true;
    case WASM_IMM_BLOCK: return read_blocktype(r, &ins->imm.block);
    case WASM_IMM_LABEL:
    case WASM_IMM_FUNC:
    case WASM_IMM_LOCAL:
    case WASM_IMM_GLOBAL:
    case WASM_IMM_TABLE:
    case WASM_IMM_ELEM:
    case WASM_IMM_DATA: return wasm_read_u32(r, &ins->imm.index);
    case WASM_IMM_BR_TABLE: {
        uint32_t n, dummy;
        if (!wasm_read_u32(r, &n)) return false;
        ins->imm.br_table.ntargets = n;
        ins->imm.br_table.targets = r->p;
        /* skip the targets and the default; each is at least one byte, so
         * a bogus count fails at the end of the body, not after 4G steps */
        for (uint64_t i = 0; i <= n; i++)
            if (!wasm_read_u32(r, &dummy)) return false;
        return true;
    }
    case WASM_IMM_CALL_IND:
    case WASM_IMM_TABLE_TABLE:
    case WASM_IMM_ELEM_TABLE:
        return wasm_read_u32(r, &ins->imm.pair.a) && wasm_read_u32(r, &ins->imm.pair.b);
    case WASM_IMM_DATA_MEM: return wasm_read_u32(r, &ins->imm.index) && read_zero_byte(r);
    case WASM_IMM_MEM: return read_zero_byte(r);
    case WASM_IMM_MEM_MEM: return read_zero_byte(r) && read_zero_byte(r);
    case WASM_IMM_MEMARG: return read_memarg(r, ins);
    case WASM_IMM_MEMARG_LANE: return read_memarg(r, ins) && wasm_read_u8(r, &ins->imm.mem.lane);
    case WASM_IMM_LANE: return wasm_read_u8(r, &ins->imm.lane);
    case WASM_IMM_SHUFFLE:
    case WASM_IMM_V128:
        if (!wasm_read_bytes(r, 16, &bytes)) return false;
        memcpy(ins->imm.bytes, bytes, 16);
        return true;
    case WASM_IMM_I32: return wasm_read_s32(r, &ins->imm.i32);
    case WASM_IMM_I64: return wasm_read_s64(r, &ins->imm.i64);
    case WASM_IMM_F32:
        if (!wasm_read_bytes(r, 4, &bytes)) return false;
        memcpy(&ins->imm.f32, bytes, 4);
        return true;
    case WASM_IMM_F64:
        if (!wasm_read_bytes(r, 8, &bytes)) return false;
        memcpy(&ins->imm.f64, bytes, 8);
        return true;
    case WASM_IMM_SELECT_T: {
        uint32_t n;
        const uint8_t *at = r->p;
        if (!wasm_read_u32(r, &n)) return false;
        /* the encoding allows any count; the type system wants one */
        for (uint32_t i = 0; i < n; i++)
            if (!wasm_read_valtype(r, &ins->imm.type)) return false;
        if (n != 1)
            return wasm_fail_at(r, at, WASM_ERR_INVALID,
                                "invalid result arity: select takes exactly one type, got %u", n);
        return true;
    }
    case WASM_IMM_REFTYPE: return wasm_read_reftype(r, &ins->imm.type);
    }
    return wasm_fail_at(r, ins->at, WASM_ERR_MALFORMED, "illegal opcode");
}

void wasm_blocktype_types(const wasm_module *m, const wasm_blocktype *bt, uint32_t *np,
                          const wasm_valtype **params, uint32_t *nr, const wasm_valtype **results) {
    static const wasm_valtype single[256] = {
        [WASM_I32] = WASM_I32,
        [WASM_I64] = WASM_I64,
        [WASM_F32] = WASM_F32,
        [WASM_F64] = WASM_F64,
        [WASM_V128] = WASM_V128,
        [WASM_FUNCREF] = WASM_FUNCREF,
        [WASM_EXTERNREF] = WASM_EXTERNREF,
    };
    *np = *nr = 0;
    *params = *results = NULL;
    if (bt->kind == WASM_BT_VALUE) {
        *nr = 1;
        *results = &single[bt->value];
    } else if (bt->kind == WASM_BT_INDEX) {
        const wasm_functype *ft = &m->types[bt->index];
        *np = ft->nparams;
        *params = ft->params;
        *nr = ft->nresults;
        *results = ft->results;
    }
}
