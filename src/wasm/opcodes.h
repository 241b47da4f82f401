/*
 * opcodes.h - the instruction set, defined once.
 *
 * Every instruction wasp knows is one row of WASM_OPCODES below:
 *
 *     X(ID, PREFIX, CODE, "text name", IMMEDIATES, SIGNATURE, ARG)
 *
 *   ID          the internal opcode (enum wasm_op, as WASM_OP_ID)
 *   PREFIX      0 for one-byte opcodes, 0xFC or 0xFD for prefixed ones
 *   CODE        the opcode byte (or the LEB-encoded number after a prefix)
 *   IMMEDIATES  how the decoder reads what follows (enum wasm_imm)
 *   SIGNATURE   the operand-stack effect for instructions whose typing is
 *               fixed (enum wasm_sig); SIG_SPECIAL for those the validator
 *               types by hand (control, variables, references, tables...)
 *   ARG         for memory accesses, log2 of the natural alignment; for
 *               lane instructions, the number of lanes; 0 otherwise
 *
 * The decoder's lookup tables, the validator's typing, names for messages
 * and `inspect`, and the tests are all generated from this one table, so
 * adding an instruction touches one line (STYLE.md rule 8).
 */
#ifndef WASP_WASM_OPCODES_H
#define WASP_WASM_OPCODES_H

/* clang-format off */
/* Signatures: params before the underscore, result after it.
 * i = i32, l = i64, f = f32, d = f64, v = v128. */
#define WASM_SIGS(S)                                                                       \
    S(SPECIAL, 0, 0, 0, 0)                                                                 \
    S(_, 0, 0, 0, 0)                                                                       \
    S(_i, 0, 0, 0, I32) S(_l, 0, 0, 0, I64) S(_f, 0, 0, 0, F32) S(_d, 0, 0, 0, F64)        \
    S(_v, 0, 0, 0, V128)                                                                   \
    S(i_i, I32, 0, 0, I32) S(i_l, I32, 0, 0, I64) S(i_f, I32, 0, 0, F32)                  \
    S(i_d, I32, 0, 0, F64) S(i_v, I32, 0, 0, V128)                                         \
    S(l_i, I64, 0, 0, I32) S(l_l, I64, 0, 0, I64) S(l_f, I64, 0, 0, F32)                  \
    S(l_d, I64, 0, 0, F64) S(l_v, I64, 0, 0, V128)                                         \
    S(f_i, F32, 0, 0, I32) S(f_l, F32, 0, 0, I64) S(f_f, F32, 0, 0, F32)                  \
    S(f_d, F32, 0, 0, F64) S(f_v, F32, 0, 0, V128)                                         \
    S(d_i, F64, 0, 0, I32) S(d_l, F64, 0, 0, I64) S(d_f, F64, 0, 0, F32)                  \
    S(d_d, F64, 0, 0, F64) S(d_v, F64, 0, 0, V128)                                         \
    S(v_i, V128, 0, 0, I32) S(v_l, V128, 0, 0, I64) S(v_f, V128, 0, 0, F32)               \
    S(v_d, V128, 0, 0, F64) S(v_v, V128, 0, 0, V128)                                       \
    S(ii_, I32, I32, 0, 0) S(il_, I32, I64, 0, 0) S(if_, I32, F32, 0, 0)                  \
    S(id_, I32, F64, 0, 0) S(iv_, I32, V128, 0, 0)                                         \
    S(ii_i, I32, I32, 0, I32) S(ll_i, I64, I64, 0, I32) S(ll_l, I64, I64, 0, I64)         \
    S(ff_i, F32, F32, 0, I32) S(ff_f, F32, F32, 0, F32) S(dd_i, F64, F64, 0, I32)         \
    S(dd_d, F64, F64, 0, F64)                                                              \
    S(vi_v, V128, I32, 0, V128) S(vl_v, V128, I64, 0, V128) S(vf_v, V128, F32, 0, V128)   \
    S(vd_v, V128, F64, 0, V128) S(vv_v, V128, V128, 0, V128) S(iv_v, I32, V128, 0, V128)  \
    S(vvv_v, V128, V128, V128, V128) S(iii_, I32, I32, I32, 0)

/* Immediate kinds. */
#define WASM_IMMS(I)                                                                       \
    I(NONE)         /* nothing */                                                          \
    I(BLOCK)        /* block type: 0x40, a value type, or an s33 type index */             \
    I(LABEL)        /* label index */                                                      \
    I(BR_TABLE)     /* vec(label) label */                                                 \
    I(FUNC)         /* function index */                                                   \
    I(CALL_IND)     /* type index, table index */                                          \
    I(LOCAL)        /* local index */                                                      \
    I(GLOBAL)       /* global index */                                                     \
    I(TABLE)        /* table index */                                                      \
    I(TABLE_TABLE)  /* destination table, source table */                                  \
    I(ELEM)         /* element segment index */                                            \
    I(ELEM_TABLE)   /* element segment index, table index */                               \
    I(DATA)         /* data segment index */                                               \
    I(DATA_MEM)     /* data segment index, reserved 0x00 */                                \
    I(MEM)          /* reserved 0x00 */                                                    \
    I(MEM_MEM)      /* reserved 0x00 0x00 */                                               \
    I(MEMARG)       /* alignment, offset */                                                \
    I(MEMARG_LANE)  /* alignment, offset, lane byte */                                     \
    I(LANE)         /* lane byte */                                                        \
    I(SHUFFLE)      /* 16 lane bytes */                                                    \
    I(I32)          /* s32 */                                                              \
    I(I64)          /* s64 */                                                              \
    I(F32)          /* 4 bytes */                                                          \
    I(F64)          /* 8 bytes */                                                          \
    I(V128)         /* 16 bytes */                                                         \
    I(SELECT_T)     /* vec(valtype), which must hold one type */                           \
    I(REFTYPE)      /* reference type */

#define WASM_OPCODES(X) \
    X(UNREACHABLE, 0, 0x00, "unreachable", NONE, SPECIAL, 0) \
    X(NOP, 0, 0x01, "nop", NONE, _, 0) \
    X(BLOCK, 0, 0x02, "block", BLOCK, SPECIAL, 0) \
    X(LOOP, 0, 0x03, "loop", BLOCK, SPECIAL, 0) \
    X(IF, 0, 0x04, "if", BLOCK, SPECIAL, 0) \
    X(ELSE, 0, 0x05, "else", NONE, SPECIAL, 0) \
    X(END, 0, 0x0b, "end", NONE, SPECIAL, 0) \
    X(BR, 0, 0x0c, "br", LABEL, SPECIAL, 0) \
    X(BR_IF, 0, 0x0d, "br_if", LABEL, SPECIAL, 0) \
    X(BR_TABLE, 0, 0x0e, "br_table", BR_TABLE, SPECIAL, 0) \
    X(RETURN, 0, 0x0f, "return", NONE, SPECIAL, 0) \
    X(CALL, 0, 0x10, "call", FUNC, SPECIAL, 0) \
    X(CALL_INDIRECT, 0, 0x11, "call_indirect", CALL_IND, SPECIAL, 0) \
    X(RETURN_CALL, 0, 0x12, "return_call", FUNC, SPECIAL, 0) \
    X(RETURN_CALL_INDIRECT, 0, 0x13, "return_call_indirect", CALL_IND, SPECIAL, 0) \
    X(DROP, 0, 0x1a, "drop", NONE, SPECIAL, 0) \
    X(SELECT, 0, 0x1b, "select", NONE, SPECIAL, 0) \
    X(SELECT_T, 0, 0x1c, "select", SELECT_T, SPECIAL, 0) \
    X(LOCAL_GET, 0, 0x20, "local.get", LOCAL, SPECIAL, 0) \
    X(LOCAL_SET, 0, 0x21, "local.set", LOCAL, SPECIAL, 0) \
    X(LOCAL_TEE, 0, 0x22, "local.tee", LOCAL, SPECIAL, 0) \
    X(GLOBAL_GET, 0, 0x23, "global.get", GLOBAL, SPECIAL, 0) \
    X(GLOBAL_SET, 0, 0x24, "global.set", GLOBAL, SPECIAL, 0) \
    X(TABLE_GET, 0, 0x25, "table.get", TABLE, SPECIAL, 0) \
    X(TABLE_SET, 0, 0x26, "table.set", TABLE, SPECIAL, 0) \
    X(I32_LOAD, 0, 0x28, "i32.load", MEMARG, i_i, 2) \
    X(I64_LOAD, 0, 0x29, "i64.load", MEMARG, i_l, 3) \
    X(F32_LOAD, 0, 0x2a, "f32.load", MEMARG, i_f, 2) \
    X(F64_LOAD, 0, 0x2b, "f64.load", MEMARG, i_d, 3) \
    X(I32_LOAD8_S, 0, 0x2c, "i32.load8_s", MEMARG, i_i, 0) \
    X(I32_LOAD8_U, 0, 0x2d, "i32.load8_u", MEMARG, i_i, 0) \
    X(I32_LOAD16_S, 0, 0x2e, "i32.load16_s", MEMARG, i_i, 1) \
    X(I32_LOAD16_U, 0, 0x2f, "i32.load16_u", MEMARG, i_i, 1) \
    X(I64_LOAD8_S, 0, 0x30, "i64.load8_s", MEMARG, i_l, 0) \
    X(I64_LOAD8_U, 0, 0x31, "i64.load8_u", MEMARG, i_l, 0) \
    X(I64_LOAD16_S, 0, 0x32, "i64.load16_s", MEMARG, i_l, 1) \
    X(I64_LOAD16_U, 0, 0x33, "i64.load16_u", MEMARG, i_l, 1) \
    X(I64_LOAD32_S, 0, 0x34, "i64.load32_s", MEMARG, i_l, 2) \
    X(I64_LOAD32_U, 0, 0x35, "i64.load32_u", MEMARG, i_l, 2) \
    X(I32_STORE, 0, 0x36, "i32.store", MEMARG, ii_, 2) \
    X(I64_STORE, 0, 0x37, "i64.store", MEMARG, il_, 3) \
    X(F32_STORE, 0, 0x38, "f32.store", MEMARG, if_, 2) \
    X(F64_STORE, 0, 0x39, "f64.store", MEMARG, id_, 3) \
    X(I32_STORE8, 0, 0x3a, "i32.store8", MEMARG, ii_, 0) \
    X(I32_STORE16, 0, 0x3b, "i32.store16", MEMARG, ii_, 1) \
    X(I64_STORE8, 0, 0x3c, "i64.store8", MEMARG, il_, 0) \
    X(I64_STORE16, 0, 0x3d, "i64.store16", MEMARG, il_, 1) \
    X(I64_STORE32, 0, 0x3e, "i64.store32", MEMARG, il_, 2) \
    X(MEMORY_SIZE, 0, 0x3f, "memory.size", MEM, _i, 0) \
    X(MEMORY_GROW, 0, 0x40, "memory.grow", MEM, i_i, 0) \
    X(I32_CONST, 0, 0x41, "i32.const", I32, _i, 0) \
    X(I64_CONST, 0, 0x42, "i64.const", I64, _l, 0) \
    X(F32_CONST, 0, 0x43, "f32.const", F32, _f, 0) \
    X(F64_CONST, 0, 0x44, "f64.const", F64, _d, 0) \
    X(I32_EQZ, 0, 0x45, "i32.eqz", NONE, i_i, 0) \
    X(I32_EQ, 0, 0x46, "i32.eq", NONE, ii_i, 0) \
    X(I32_NE, 0, 0x47, "i32.ne", NONE, ii_i, 0) \
    X(I32_LT_S, 0, 0x48, "i32.lt_s", NONE, ii_i, 0) \
    X(I32_LT_U, 0, 0x49, "i32.lt_u", NONE, ii_i, 0) \
    X(I32_GT_S, 0, 0x4a, "i32.gt_s", NONE, ii_i, 0) \
    X(I32_GT_U, 0, 0x4b, "i32.gt_u", NONE, ii_i, 0) \
    X(I32_LE_S, 0, 0x4c, "i32.le_s", NONE, ii_i, 0) \
    X(I32_LE_U, 0, 0x4d, "i32.le_u", NONE, ii_i, 0) \
    X(I32_GE_S, 0, 0x4e, "i32.ge_s", NONE, ii_i, 0) \
    X(I32_GE_U, 0, 0x4f, "i32.ge_u", NONE, ii_i, 0) \
    X(I64_EQZ, 0, 0x50, "i64.eqz", NONE, l_i, 0) \
    X(I64_EQ, 0, 0x51, "i64.eq", NONE, ll_i, 0) \
    X(I64_NE, 0, 0x52, "i64.ne", NONE, ll_i, 0) \
    X(I64_LT_S, 0, 0x53, "i64.lt_s", NONE, ll_i, 0) \
    X(I64_LT_U, 0, 0x54, "i64.lt_u", NONE, ll_i, 0) \
    X(I64_GT_S, 0, 0x55, "i64.gt_s", NONE, ll_i, 0) \
    X(I64_GT_U, 0, 0x56, "i64.gt_u", NONE, ll_i, 0) \
    X(I64_LE_S, 0, 0x57, "i64.le_s", NONE, ll_i, 0) \
    X(I64_LE_U, 0, 0x58, "i64.le_u", NONE, ll_i, 0) \
    X(I64_GE_S, 0, 0x59, "i64.ge_s", NONE, ll_i, 0) \
    X(I64_GE_U, 0, 0x5a, "i64.ge_u", NONE, ll_i, 0) \
    X(F32_EQ, 0, 0x5b, "f32.eq", NONE, ff_i, 0) \
    X(F32_NE, 0, 0x5c, "f32.ne", NONE, ff_i, 0) \
    X(F32_LT, 0, 0x5d, "f32.lt", NONE, ff_i, 0) \
    X(F32_GT, 0, 0x5e, "f32.gt", NONE, ff_i, 0) \
    X(F32_LE, 0, 0x5f, "f32.le", NONE, ff_i, 0) \
    X(F32_GE, 0, 0x60, "f32.ge", NONE, ff_i, 0) \
    X(F64_EQ, 0, 0x61, "f64.eq", NONE, dd_i, 0) \
    X(F64_NE, 0, 0x62, "f64.ne", NONE, dd_i, 0) \
    X(F64_LT, 0, 0x63, "f64.lt", NONE, dd_i, 0) \
    X(F64_GT, 0, 0x64, "f64.gt", NONE, dd_i, 0) \
    X(F64_LE, 0, 0x65, "f64.le", NONE, dd_i, 0) \
    X(F64_GE, 0, 0x66, "f64.ge", NONE, dd_i, 0) \
    X(I32_CLZ, 0, 0x67, "i32.clz", NONE, i_i, 0) \
    X(I32_CTZ, 0, 0x68, "i32.ctz", NONE, i_i, 0) \
    X(I32_POPCNT, 0, 0x69, "i32.popcnt", NONE, i_i, 0) \
    X(I32_ADD, 0, 0x6a, "i32.add", NONE, ii_i, 0) \
    X(I32_SUB, 0, 0x6b, "i32.sub", NONE, ii_i, 0) \
    X(I32_MUL, 0, 0x6c, "i32.mul", NONE, ii_i, 0) \
    X(I32_DIV_S, 0, 0x6d, "i32.div_s", NONE, ii_i, 0) \
    X(I32_DIV_U, 0, 0x6e, "i32.div_u", NONE, ii_i, 0) \
    X(I32_REM_S, 0, 0x6f, "i32.rem_s", NONE, ii_i, 0) \
    X(I32_REM_U, 0, 0x70, "i32.rem_u", NONE, ii_i, 0) \
    X(I32_AND, 0, 0x71, "i32.and", NONE, ii_i, 0) \
    X(I32_OR, 0, 0x72, "i32.or", NONE, ii_i, 0) \
    X(I32_XOR, 0, 0x73, "i32.xor", NONE, ii_i, 0) \
    X(I32_SHL, 0, 0x74, "i32.shl", NONE, ii_i, 0) \
    X(I32_SHR_S, 0, 0x75, "i32.shr_s", NONE, ii_i, 0) \
    X(I32_SHR_U, 0, 0x76, "i32.shr_u", NONE, ii_i, 0) \
    X(I32_ROTL, 0, 0x77, "i32.rotl", NONE, ii_i, 0) \
    X(I32_ROTR, 0, 0x78, "i32.rotr", NONE, ii_i, 0) \
    X(I64_CLZ, 0, 0x79, "i64.clz", NONE, l_l, 0) \
    X(I64_CTZ, 0, 0x7a, "i64.ctz", NONE, l_l, 0) \
    X(I64_POPCNT, 0, 0x7b, "i64.popcnt", NONE, l_l, 0) \
    X(I64_ADD, 0, 0x7c, "i64.add", NONE, ll_l, 0) \
    X(I64_SUB, 0, 0x7d, "i64.sub", NONE, ll_l, 0) \
    X(I64_MUL, 0, 0x7e, "i64.mul", NONE, ll_l, 0) \
    X(I64_DIV_S, 0, 0x7f, "i64.div_s", NONE, ll_l, 0) \
    X(I64_DIV_U, 0, 0x80, "i64.div_u", NONE, ll_l, 0) \
    X(I64_REM_S, 0, 0x81, "i64.rem_s", NONE, ll_l, 0) \
    X(I64_REM_U, 0, 0x82, "i64.rem_u", NONE, ll_l, 0) \
    X(I64_AND, 0, 0x83, "i64.and", NONE, ll_l, 0) \
    X(I64_OR, 0, 0x84, "i64.or", NONE, ll_l, 0) \
    X(I64_XOR, 0, 0x85, "i64.xor", NONE, ll_l, 0) \
    X(I64_SHL, 0, 0x86, "i64.shl", NONE, ll_l, 0) \
    X(I64_SHR_S, 0, 0x87, "i64.shr_s", NONE, ll_l, 0) \
    X(I64_SHR_U, 0, 0x88, "i64.shr_u", NONE, ll_l, 0) \
    X(I64_ROTL, 0, 0x89, "i64.rotl", NONE, ll_l, 0) \
    X(I64_ROTR, 0, 0x8a, "i64.rotr", NONE, ll_l, 0) \
    X(F32_ABS, 0, 0x8b, "f32.abs", NONE, f_f, 0) \
    X(F32_NEG, 0, 0x8c, "f32.neg", NONE, f_f, 0) \
    X(F32_CEIL, 0, 0x8d, "f32.ceil", NONE, f_f, 0) \
    X(F32_FLOOR, 0, 0x8e, "f32.floor", NONE, f_f, 0) \
    X(F32_TRUNC, 0, 0x8f, "f32.trunc", NONE, f_f, 0) \
    X(F32_NEAREST, 0, 0x90, "f32.nearest", NONE, f_f, 0) \
    X(F32_SQRT, 0, 0x91, "f32.sqrt", NONE, f_f, 0) \
    X(F32_ADD, 0, 0x92, "f32.add", NONE, ff_f, 0) \
    X(F32_SUB, 0, 0x93, "f32.sub", NONE, ff_f, 0) \
    X(F32_MUL, 0, 0x94, "f32.mul", NONE, ff_f, 0) \
    X(F32_DIV, 0, 0x95, "f32.div", NONE, ff_f, 0) \
    X(F32_MIN, 0, 0x96, "f32.min", NONE, ff_f, 0) \
    X(F32_MAX, 0, 0x97, "f32.max", NONE, ff_f, 0) \
    X(F32_COPYSIGN, 0, 0x98, "f32.copysign", NONE, ff_f, 0) \
    X(F64_ABS, 0, 0x99, "f64.abs", NONE, d_d, 0) \
    X(F64_NEG, 0, 0x9a, "f64.neg", NONE, d_d, 0) \
    X(F64_CEIL, 0, 0x9b, "f64.ceil", NONE, d_d, 0) \
    X(F64_FLOOR, 0, 0x9c, "f64.floor", NONE, d_d, 0) \
    X(F64_TRUNC, 0, 0x9d, "f64.trunc", NONE, d_d, 0) \
    X(F64_NEAREST, 0, 0x9e, "f64.nearest", NONE, d_d, 0) \
    X(F64_SQRT, 0, 0x9f, "f64.sqrt", NONE, d_d, 0) \
    X(F64_ADD, 0, 0xa0, "f64.add", NONE, dd_d, 0) \
    X(F64_SUB, 0, 0xa1, "f64.sub", NONE, dd_d, 0) \
    X(F64_MUL, 0, 0xa2, "f64.mul", NONE, dd_d, 0) \
    X(F64_DIV, 0, 0xa3, "f64.div", NONE, dd_d, 0) \
    X(F64_MIN, 0, 0xa4, "f64.min", NONE, dd_d, 0) \
    X(F64_MAX, 0, 0xa5, "f64.max", NONE, dd_d, 0) \
    X(F64_COPYSIGN, 0, 0xa6, "f64.copysign", NONE, dd_d, 0) \
    X(I32_WRAP_I64, 0, 0xa7, "i32.wrap_i64", NONE, l_i, 0) \
    X(I32_TRUNC_F32_S, 0, 0xa8, "i32.trunc_f32_s", NONE, f_i, 0) \
    X(I32_TRUNC_F32_U, 0, 0xa9, "i32.trunc_f32_u", NONE, f_i, 0) \
    X(I32_TRUNC_F64_S, 0, 0xaa, "i32.trunc_f64_s", NONE, d_i, 0) \
    X(I32_TRUNC_F64_U, 0, 0xab, "i32.trunc_f64_u", NONE, d_i, 0) \
    X(I64_EXTEND_I32_S, 0, 0xac, "i64.extend_i32_s", NONE, i_l, 0) \
    X(I64_EXTEND_I32_U, 0, 0xad, "i64.extend_i32_u", NONE, i_l, 0) \
    X(I64_TRUNC_F32_S, 0, 0xae, "i64.trunc_f32_s", NONE, f_l, 0) \
    X(I64_TRUNC_F32_U, 0, 0xaf, "i64.trunc_f32_u", NONE, f_l, 0) \
    X(I64_TRUNC_F64_S, 0, 0xb0, "i64.trunc_f64_s", NONE, d_l, 0) \
    X(I64_TRUNC_F64_U, 0, 0xb1, "i64.trunc_f64_u", NONE, d_l, 0) \
    X(F32_CONVERT_I32_S, 0, 0xb2, "f32.convert_i32_s", NONE, i_f, 0) \
    X(F32_CONVERT_I32_U, 0, 0xb3, "f32.convert_i32_u", NONE, i_f, 0) \
    X(F32_CONVERT_I64_S, 0, 0xb4, "f32.convert_i64_s", NONE, l_f, 0) \
    X(F32_CONVERT_I64_U, 0, 0xb5, "f32.convert_i64_u", NONE, l_f, 0) \
    X(F32_DEMOTE_F64, 0, 0xb6, "f32.demote_f64", NONE, d_f, 0) \
    X(F64_CONVERT_I32_S, 0, 0xb7, "f64.convert_i32_s", NONE, i_d, 0) \
    X(F64_CONVERT_I32_U, 0, 0xb8, "f64.convert_i32_u", NONE, i_d, 0) \
    X(F64_CONVERT_I64_S, 0, 0xb9, "f64.convert_i64_s", NONE, l_d, 0) \
    X(F64_CONVERT_I64_U, 0, 0xba, "f64.convert_i64_u", NONE, l_d, 0) \
    X(F64_PROMOTE_F32, 0, 0xbb, "f64.promote_f32", NONE, f_d, 0) \
    X(I32_REINTERPRET_F32, 0, 0xbc, "i32.reinterpret_f32", NONE, f_i, 0) \
    X(I64_REINTERPRET_F64, 0, 0xbd, "i64.reinterpret_f64", NONE, d_l, 0) \
    X(F32_REINTERPRET_I32, 0, 0xbe, "f32.reinterpret_i32", NONE, i_f, 0) \
    X(F64_REINTERPRET_I64, 0, 0xbf, "f64.reinterpret_i64", NONE, l_d, 0) \
    X(I32_EXTEND8_S, 0, 0xc0, "i32.extend8_s", NONE, i_i, 0) \
    X(I32_EXTEND16_S, 0, 0xc1, "i32.extend16_s", NONE, i_i, 0) \
    X(I64_EXTEND8_S, 0, 0xc2, "i64.extend8_s", NONE, l_l, 0) \
    X(I64_EXTEND16_S, 0, 0xc3, "i64.extend16_s", NONE, l_l, 0) \
    X(I64_EXTEND32_S, 0, 0xc4, "i64.extend32_s", NONE, l_l, 0) \
    X(REF_NULL, 0, 0xd0, "ref.null", REFTYPE, SPECIAL, 0) \
    X(REF_IS_NULL, 0, 0xd1, "ref.is_null", NONE, SPECIAL, 0) \
    X(REF_FUNC, 0, 0xd2, "ref.func", FUNC, SPECIAL, 0) \
    X(I32_TRUNC_SAT_F32_S, 0xfc, 0, "i32.trunc_sat_f32_s", NONE, f_i, 0) \
    X(I32_TRUNC_SAT_F32_U, 0xfc, 1, "i32.trunc_sat_f32_u", NONE, f_i, 0) \
    X(I32_TRUNC_SAT_F64_S, 0xfc, 2, "i32.trunc_sat_f64_s", NONE, d_i, 0) \
    X(I32_TRUNC_SAT_F64_U, 0xfc, 3, "i32.trunc_sat_f64_u", NONE, d_i, 0) \
    X(I64_TRUNC_SAT_F32_S, 0xfc, 4, "i64.trunc_sat_f32_s", NONE, f_l, 0) \
    X(I64_TRUNC_SAT_F32_U, 0xfc, 5, "i64.trunc_sat_f32_u", NONE, f_l, 0) \
    X(I64_TRUNC_SAT_F64_S, 0xfc, 6, "i64.trunc_sat_f64_s", NONE, d_l, 0) \
    X(I64_TRUNC_SAT_F64_U, 0xfc, 7, "i64.trunc_sat_f64_u", NONE, d_l, 0) \
    X(MEMORY_INIT, 0xfc, 8, "memory.init", DATA_MEM, iii_, 0) \
    X(DATA_DROP, 0xfc, 9, "data.drop", DATA, _, 0) \
    X(MEMORY_COPY, 0xfc, 10, "memory.copy", MEM_MEM, iii_, 0) \
    X(MEMORY_FILL, 0xfc, 11, "memory.fill", MEM, iii_, 0) \
    X(TABLE_INIT, 0xfc, 12, "table.init", ELEM_TABLE, iii_, 0) \
    X(ELEM_DROP, 0xfc, 13, "elem.drop", ELEM, _, 0) \
    X(TABLE_COPY, 0xfc, 14, "table.copy", TABLE_TABLE, iii_, 0) \
    X(TABLE_GROW, 0xfc, 15, "table.grow", TABLE, SPECIAL, 0) \
    X(TABLE_SIZE, 0xfc, 16, "table.size", TABLE, _i, 0) \
    X(TABLE_FILL, 0xfc, 17, "table.fill", TABLE, SPECIAL, 0) \
    WASM_SIMD_OPCODES(X)

#define WASM_SIMD_OPCODES(X) \
    X(V128_LOAD, 0xfd, 0x00, "v128.load", MEMARG, i_v, 4) \
    X(V128_LOAD8X8_S, 0xfd, 0x01, "v128.load8x8_s", MEMARG, i_v, 3) \
    X(V128_LOAD8X8_U, 0xfd, 0x02, "v128.load8x8_u", MEMARG, i_v, 3) \
    X(V128_LOAD16X4_S, 0xfd, 0x03, "v128.load16x4_s", MEMARG, i_v, 3) \
    X(V128_LOAD16X4_U, 0xfd, 0x04, "v128.load16x4_u", MEMARG, i_v, 3) \
    X(V128_LOAD32X2_S, 0xfd, 0x05, "v128.load32x2_s", MEMARG, i_v, 3) \
    X(V128_LOAD32X2_U, 0xfd, 0x06, "v128.load32x2_u", MEMARG, i_v, 3) \
    X(V128_LOAD8_SPLAT, 0xfd, 0x07, "v128.load8_splat", MEMARG, i_v, 0) \
    X(V128_LOAD16_SPLAT, 0xfd, 0x08, "v128.load16_splat", MEMARG, i_v, 1) \
    X(V128_LOAD32_SPLAT, 0xfd, 0x09, "v128.load32_splat", MEMARG, i_v, 2) \
    X(V128_LOAD64_SPLAT, 0xfd, 0x0a, "v128.load64_splat", MEMARG, i_v, 3) \
    X(V128_STORE, 0xfd, 0x0b, "v128.store", MEMARG, iv_, 4) \
    X(V128_CONST, 0xfd, 0x0c, "v128.const", V128, _v, 0) \
    X(I8X16_SHUFFLE, 0xfd, 0x0d, "i8x16.shuffle", SHUFFLE, vv_v, 32) \
    X(I8X16_SWIZZLE, 0xfd, 0x0e, "i8x16.swizzle", NONE, vv_v, 0) \
    X(I8X16_SPLAT, 0xfd, 0x0f, "i8x16.splat", NONE, i_v, 0) \
    X(I16X8_SPLAT, 0xfd, 0x10, "i16x8.splat", NONE, i_v, 0) \
    X(I32X4_SPLAT, 0xfd, 0x11, "i32x4.splat", NONE, i_v, 0) \
    X(I64X2_SPLAT, 0xfd, 0x12, "i64x2.splat", NONE, l_v, 0) \
    X(F32X4_SPLAT, 0xfd, 0x13, "f32x4.splat", NONE, f_v, 0) \
    X(F64X2_SPLAT, 0xfd, 0x14, "f64x2.splat", NONE, d_v, 0) \
    X(I8X16_EXTRACT_LANE_S, 0xfd, 0x15, "i8x16.extract_lane_s", LANE, v_i, 16) \
    X(I8X16_EXTRACT_LANE_U, 0xfd, 0x16, "i8x16.extract_lane_u", LANE, v_i, 16) \
    X(I8X16_REPLACE_LANE, 0xfd, 0x17, "i8x16.replace_lane", LANE, vi_v, 16) \
    X(I16X8_EXTRACT_LANE_S, 0xfd, 0x18, "i16x8.extract_lane_s", LANE, v_i, 8) \
    X(I16X8_EXTRACT_LANE_U, 0xfd, 0x19, "i16x8.extract_lane_u", LANE, v_i, 8) \
    X(I16X8_REPLACE_LANE, 0xfd, 0x1a, "i16x8.replace_lane", LANE, vi_v, 8) \
    X(I32X4_EXTRACT_LANE, 0xfd, 0x1b, "i32x4.extract_lane", LANE, v_i, 4) \
    X(I32X4_REPLACE_LANE, 0xfd, 0x1c, "i32x4.replace_lane", LANE, vi_v, 4) \
    X(I64X2_EXTRACT_LANE, 0xfd, 0x1d, "i64x2.extract_lane", LANE, v_l, 2) \
    X(I64X2_REPLACE_LANE, 0xfd, 0x1e, "i64x2.replace_lane", LANE, vl_v, 2) \
    X(F32X4_EXTRACT_LANE, 0xfd, 0x1f, "f32x4.extract_lane", LANE, v_f, 4) \
    X(F32X4_REPLACE_LANE, 0xfd, 0x20, "f32x4.replace_lane", LANE, vf_v, 4) \
    X(F64X2_EXTRACT_LANE, 0xfd, 0x21, "f64x2.extract_lane", LANE, v_d, 2) \
    X(F64X2_REPLACE_LANE, 0xfd, 0x22, "f64x2.replace_lane", LANE, vd_v, 2) \
    X(I8X16_EQ, 0xfd, 0x23, "i8x16.eq", NONE, vv_v, 0) \
    X(I8X16_NE, 0xfd, 0x24, "i8x16.ne", NONE, vv_v, 0) \
    X(I8X16_LT_S, 0xfd, 0x25, "i8x16.lt_s", NONE, vv_v, 0) \
    X(I8X16_LT_U, 0xfd, 0x26, "i8x16.lt_u", NONE, vv_v, 0) \
    X(I8X16_GT_S, 0xfd, 0x27, "i8x16.gt_s", NONE, vv_v, 0) \
    X(I8X16_GT_U, 0xfd, 0x28, "i8x16.gt_u", NONE, vv_v, 0) \
    X(I8X16_LE_S, 0xfd, 0x29, "i8x16.le_s", NONE, vv_v, 0) \
    X(I8X16_LE_U, 0xfd, 0x2a, "i8x16.le_u", NONE, vv_v, 0) \
    X(I8X16_GE_S, 0xfd, 0x2b, "i8x16.ge_s", NONE, vv_v, 0) \
    X(I8X16_GE_U, 0xfd, 0x2c, "i8x16.ge_u", NONE, vv_v, 0) \
    X(I16X8_EQ, 0xfd, 0x2d, "i16x8.eq", NONE, vv_v, 0) \
    X(I16X8_NE, 0xfd, 0x2e, "i16x8.ne", NONE, vv_v, 0) \
    X(I16X8_LT_S, 0xfd, 0x2f, "i16x8.lt_s", NONE, vv_v, 0) \
    X(I16X8_LT_U, 0xfd, 0x30, "i16x8.lt_u", NONE, vv_v, 0) \
    X(I16X8_GT_S, 0xfd, 0x31, "i16x8.gt_s", NONE, vv_v, 0) \
    X(I16X8_GT_U, 0xfd, 0x32, "i16x8.gt_u", NONE, vv_v, 0) \
    X(I16X8_LE_S, 0xfd, 0x33, "i16x8.le_s", NONE, vv_v, 0) \
    X(I16X8_LE_U, 0xfd, 0x34, "i16x8.le_u", NONE, vv_v, 0) \
    X(I16X8_GE_S, 0xfd, 0x35, "i16x8.ge_s", NONE, vv_v, 0) \
    X(I16X8_GE_U, 0xfd, 0x36, "i16x8.ge_u", NONE, vv_v, 0) \
    X(I32X4_EQ, 0xfd, 0x37, "i32x4.eq", NONE, vv_v, 0) \
    X(I32X4_NE, 0xfd, 0x38, "i32x4.ne", NONE, vv_v, 0) \
    X(I32X4_LT_S, 0xfd, 0x39, "i32x4.lt_s", NONE, vv_v, 0) \
    X(I32X4_LT_U, 0xfd, 0x3a, "i32x4.lt_u", NONE, vv_v, 0) \
    X(I32X4_GT_S, 0xfd, 0x3b, "i32x4.gt_s", NONE, vv_v, 0) \
    X(I32X4_GT_U, 0xfd, 0x3c, "i32x4.gt_u", NONE, vv_v, 0) \
    X(I32X4_LE_S, 0xfd, 0x3d, "i32x4.le_s", NONE, vv_v, 0) \
    X(I32X4_LE_U, 0xfd, 0x3e, "i32x4.le_u", NONE, vv_v, 0) \
    X(I32X4_GE_S, 0xfd, 0x3f, "i32x4.ge_s", NONE, vv_v, 0) \
    X(I32X4_GE_U, 0xfd, 0x40, "i32x4.ge_u", NONE, vv_v, 0) \
    X(F32X4_EQ, 0xfd, 0x41, "f32x4.eq", NONE, vv_v, 0) \
    X(F32X4_NE, 0xfd, 0x42, "f32x4.ne", NONE, vv_v, 0) \
    X(F32X4_LT, 0xfd, 0x43, "f32x4.lt", NONE, vv_v, 0) \
    X(F32X4_GT, 0xfd, 0x44, "f32x4.gt", NONE, vv_v, 0) \
    X(F32X4_LE, 0xfd, 0x45, "f32x4.le", NONE, vv_v, 0) \
    X(F32X4_GE, 0xfd, 0x46, "f32x4.ge", NONE, vv_v, 0) \
    X(F64X2_EQ, 0xfd, 0x47, "f64x2.eq", NONE, vv_v, 0) \
    X(F64X2_NE, 0xfd, 0x48, "f64x2.ne", NONE, vv_v, 0) \
    X(F64X2_LT, 0xfd, 0x49, "f64x2.lt", NONE, vv_v, 0) \
    X(F64X2_GT, 0xfd, 0x4a, "f64x2.gt", NONE, vv_v, 0) \
    X(F64X2_LE, 0xfd, 0x4b, "f64x2.le", NONE, vv_v, 0) \
    X(F64X2_GE, 0xfd, 0x4c, "f64x2.ge", NONE, vv_v, 0) \
    X(V128_NOT, 0xfd, 0x4d, "v128.not", NONE, v_v, 0) \
    X(V128_AND, 0xfd, 0x4e, "v128.and", NONE, vv_v, 0) \
    X(V128_ANDNOT, 0xfd, 0x4f, "v128.andnot", NONE, vv_v, 0) \
    X(V128_OR, 0xfd, 0x50, "v128.or", NONE, vv_v, 0) \
    X(V128_XOR, 0xfd, 0x51, "v128.xor", NONE, vv_v, 0) \
    X(V128_BITSELECT, 0xfd, 0x52, "v128.bitselect", NONE, vvv_v, 0) \
    X(V128_ANY_TRUE, 0xfd, 0x53, "v128.any_true", NONE, v_i, 0) \
    X(V128_LOAD8_LANE, 0xfd, 0x54, "v128.load8_lane", MEMARG_LANE, iv_v, 0) \
    X(V128_LOAD16_LANE, 0xfd, 0x55, "v128.load16_lane", MEMARG_LANE, iv_v, 1) \
    X(V128_LOAD32_LANE, 0xfd, 0x56, "v128.load32_lane", MEMARG_LANE, iv_v, 2) \
    X(V128_LOAD64_LANE, 0xfd, 0x57, "v128.load64_lane", MEMARG_LANE, iv_v, 3) \
    X(V128_STORE8_LANE, 0xfd, 0x58, "v128.store8_lane", MEMARG_LANE, iv_, 0) \
    X(V128_STORE16_LANE, 0xfd, 0x59, "v128.store16_lane", MEMARG_LANE, iv_, 1) \
    X(V128_STORE32_LANE, 0xfd, 0x5a, "v128.store32_lane", MEMARG_LANE, iv_, 2) \
    X(V128_STORE64_LANE, 0xfd, 0x5b, "v128.store64_lane", MEMARG_LANE, iv_, 3) \
    X(V128_LOAD32_ZERO, 0xfd, 0x5c, "v128.load32_zero", MEMARG, i_v, 2) \
    X(V128_LOAD64_ZERO, 0xfd, 0x5d, "v128.load64_zero", MEMARG, i_v, 3) \
    X(F32X4_DEMOTE_F64X2_ZERO, 0xfd, 0x5e, "f32x4.demote_f64x2_zero", NONE, v_v, 0) \
    X(F64X2_PROMOTE_LOW_F32X4, 0xfd, 0x5f, "f64x2.promote_low_f32x4", NONE, v_v, 0) \
    X(I8X16_ABS, 0xfd, 0x60, "i8x16.abs", NONE, v_v, 0) \
    X(I8X16_NEG, 0xfd, 0x61, "i8x16.neg", NONE, v_v, 0) \
    X(I8X16_POPCNT, 0xfd, 0x62, "i8x16.popcnt", NONE, v_v, 0) \
    X(I8X16_ALL_TRUE, 0xfd, 0x63, "i8x16.all_true", NONE, v_i, 0) \
    X(I8X16_BITMASK, 0xfd, 0x64, "i8x16.bitmask", NONE, v_i, 0) \
    X(I8X16_NARROW_I16X8_S, 0xfd, 0x65, "i8x16.narrow_i16x8_s", NONE, vv_v, 0) \
    X(I8X16_NARROW_I16X8_U, 0xfd, 0x66, "i8x16.narrow_i16x8_u", NONE, vv_v, 0) \
    X(F32X4_CEIL, 0xfd, 0x67, "f32x4.ceil", NONE, v_v, 0) \
    X(F32X4_FLOOR, 0xfd, 0x68, "f32x4.floor", NONE, v_v, 0) \
    X(F32X4_TRUNC, 0xfd, 0x69, "f32x4.trunc", NONE, v_v, 0) \
    X(F32X4_NEAREST, 0xfd, 0x6a, "f32x4.nearest", NONE, v_v, 0) \
    X(I8X16_SHL, 0xfd, 0x6b, "i8x16.shl", NONE, vi_v, 0) \
    X(I8X16_SHR_S, 0xfd, 0x6c, "i8x16.shr_s", NONE, vi_v, 0) \
    X(I8X16_SHR_U, 0xfd, 0x6d, "i8x16.shr_u", NONE, vi_v, 0) \
    X(I8X16_ADD, 0xfd, 0x6e, "i8x16.add", NONE, vv_v, 0) \
    X(I8X16_ADD_SAT_S, 0xfd, 0x6f, "i8x16.add_sat_s", NONE, vv_v, 0) \
    X(I8X16_ADD_SAT_U, 0xfd, 0x70, "i8x16.add_sat_u", NONE, vv_v, 0) \
    X(I8X16_SUB, 0xfd, 0x71, "i8x16.sub", NONE, vv_v, 0) \
    X(I8X16_SUB_SAT_S, 0xfd, 0x72, "i8x16.sub_sat_s", NONE, vv_v, 0) \
    X(I8X16_SUB_SAT_U, 0xfd, 0x73, "i8x16.sub_sat_u", NONE, vv_v, 0) \
    X(F64X2_CEIL, 0xfd, 0x74, "f64x2.ceil", NONE, v_v, 0) \
    X(F64X2_FLOOR, 0xfd, 0x75, "f64x2.floor", NONE, v_v, 0) \
    X(I8X16_MIN_S, 0xfd, 0x76, "i8x16.min_s", NONE, vv_v, 0) \
    X(I8X16_MIN_U, 0xfd, 0x77, "i8x16.min_u", NONE, vv_v, 0) \
    X(I8X16_MAX_S, 0xfd, 0x78, "i8x16.max_s", NONE, vv_v, 0) \
    X(I8X16_MAX_U, 0xfd, 0x79, "i8x16.max_u", NONE, vv_v, 0) \
    X(F64X2_TRUNC, 0xfd, 0x7a, "f64x2.trunc", NONE, v_v, 0) \
    X(I8X16_AVGR_U, 0xfd, 0x7b, "i8x16.avgr_u", NONE, vv_v, 0) \
    X(I16X8_EXTADD_PAIRWISE_I8X16_S, 0xfd, 0x7c, "i16x8.extadd_pairwise_i8x16_s", NONE, v_v, 0) \
    X(I16X8_EXTADD_PAIRWISE_I8X16_U, 0xfd, 0x7d, "i16x8.extadd_pairwise_i8x16_u", NONE, v_v, 0) \
    X(I32X4_EXTADD_PAIRWISE_I16X8_S, 0xfd, 0x7e, "i32x4.extadd_pairwise_i16x8_s", NONE, v_v, 0) \
    X(I32X4_EXTADD_PAIRWISE_I16X8_U, 0xfd, 0x7f, "i32x4.extadd_pairwise_i16x8_u", NONE, v_v, 0) \
    X(I16X8_ABS, 0xfd, 0x80, "i16x8.abs", NONE, v_v, 0) \
    X(I16X8_NEG, 0xfd, 0x81, "i16x8.neg", NONE, v_v, 0) \
    X(I16X8_Q15MULR_SAT_S, 0xfd, 0x82, "i16x8.q15mulr_sat_s", NONE, vv_v, 0) \
    X(I16X8_ALL_TRUE, 0xfd, 0x83, "i16x8.all_true", NONE, v_i, 0) \
    X(I16X8_BITMASK, 0xfd, 0x84, "i16x8.bitmask", NONE, v_i, 0) \
    X(I16X8_NARROW_I32X4_S, 0xfd, 0x85, "i16x8.narrow_i32x4_s", NONE, vv_v, 0) \
    X(I16X8_NARROW_I32X4_U, 0xfd, 0x86, "i16x8.narrow_i32x4_u", NONE, vv_v, 0) \
    X(I16X8_EXTEND_LOW_I8X16_S, 0xfd, 0x87, "i16x8.extend_low_i8x16_s", NONE, v_v, 0) \
    X(I16X8_EXTEND_HIGH_I8X16_S, 0xfd, 0x88, "i16x8.extend_high_i8x16_s", NONE, v_v, 0) \
    X(I16X8_EXTEND_LOW_I8X16_U, 0xfd, 0x89, "i16x8.extend_low_i8x16_u", NONE, v_v, 0) \
    X(I16X8_EXTEND_HIGH_I8X16_U, 0xfd, 0x8a, "i16x8.extend_high_i8x16_u", NONE, v_v, 0) \
    X(I16X8_SHL, 0xfd, 0x8b, "i16x8.shl", NONE, vi_v, 0) \
    X(I16X8_SHR_S, 0xfd, 0x8c, "i16x8.shr_s", NONE, vi_v, 0) \
    X(I16X8_SHR_U, 0xfd, 0x8d, "i16x8.shr_u", NONE, vi_v, 0) \
    X(I16X8_ADD, 0xfd, 0x8e, "i16x8.add", NONE, vv_v, 0) \
    X(I16X8_ADD_SAT_S, 0xfd, 0x8f, "i16x8.add_sat_s", NONE, vv_v, 0) \
    X(I16X8_ADD_SAT_U, 0xfd, 0x90, "i16x8.add_sat_u", NONE, vv_v, 0) \
    X(I16X8_SUB, 0xfd, 0x91, "i16x8.sub", NONE, vv_v, 0) \
    X(I16X8_SUB_SAT_S, 0xfd, 0x92, "i16x8.sub_sat_s", NONE, vv_v, 0) \
    X(I16X8_SUB_SAT_U, 0xfd, 0x93, "i16x8.sub_sat_u", NONE, vv_v, 0) \
    X(F64X2_NEAREST, 0xfd, 0x94, "f64x2.nearest", NONE, v_v, 0) \
    X(I16X8_MUL, 0xfd, 0x95, "i16x8.mul", NONE, vv_v, 0) \
    X(I16X8_MIN_S, 0xfd, 0x96, "i16x8.min_s", NONE, vv_v, 0) \
    X(I16X8_MIN_U, 0xfd, 0x97, "i16x8.min_u", NONE, vv_v, 0) \
    X(I16X8_MAX_S, 0xfd, 0x98, "i16x8.max_s", NONE, vv_v, 0) \
    X(I16X8_MAX_U, 0xfd, 0x99, "i16x8.max_u", NONE, vv_v, 0) \
    X(I16X8_AVGR_U, 0xfd, 0x9b, "i16x8.avgr_u", NONE, vv_v, 0) \
    X(I16X8_EXTMUL_LOW_I8X16_S, 0xfd, 0x9c, "i16x8.extmul_low_i8x16_s", NONE, vv_v, 0) \
    X(I16X8_EXTMUL_HIGH_I8X16_S, 0xfd, 0x9d, "i16x8.extmul_high_i8x16_s", NONE, vv_v, 0) \
    X(I16X8_EXTMUL_LOW_I8X16_U, 0xfd, 0x9e, "i16x8.extmul_low_i8x16_u", NONE, vv_v, 0) \
    X(I16X8_EXTMUL_HIGH_I8X16_U, 0xfd, 0x9f, "i16x8.extmul_high_i8x16_u", NONE, vv_v, 0) \
    X(I32X4_ABS, 0xfd, 0xa0, "i32x4.abs", NONE, v_v, 0) \
    X(I32X4_NEG, 0xfd, 0xa1, "i32x4.neg", NONE, v_v, 0) \
    X(I32X4_ALL_TRUE, 0xfd, 0xa3, "i32x4.all_true", NONE, v_i, 0) \
    X(I32X4_BITMASK, 0xfd, 0xa4, "i32x4.bitmask", NONE, v_i, 0) \
    X(I32X4_EXTEND_LOW_I16X8_S, 0xfd, 0xa7, "i32x4.extend_low_i16x8_s", NONE, v_v, 0) \
    X(I32X4_EXTEND_HIGH_I16X8_S, 0xfd, 0xa8, "i32x4.extend_high_i16x8_s", NONE, v_v, 0) \
    X(I32X4_EXTEND_LOW_I16X8_U, 0xfd, 0xa9, "i32x4.extend_low_i16x8_u", NONE, v_v, 0) \
    X(I32X4_EXTEND_HIGH_I16X8_U, 0xfd, 0xaa, "i32x4.extend_high_i16x8_u", NONE, v_v, 0) \
    X(I32X4_SHL, 0xfd, 0xab, "i32x4.shl", NONE, vi_v, 0) \
    X(I32X4_SHR_S, 0xfd, 0xac, "i32x4.shr_s", NONE, vi_v, 0) \
    X(I32X4_SHR_U, 0xfd, 0xad, "i32x4.shr_u", NONE, vi_v, 0) \
    X(I32X4_ADD, 0xfd, 0xae, "i32x4.add", NONE, vv_v, 0) \
    X(I32X4_SUB, 0xfd, 0xb1, "i32x4.sub", NONE, vv_v, 0) \
    X(I32X4_MUL, 0xfd, 0xb5, "i32x4.mul", NONE, vv_v, 0) \
    X(I32X4_MIN_S, 0xfd, 0xb6, "i32x4.min_s", NONE, vv_v, 0) \
    X(I32X4_MIN_U, 0xfd, 0xb7, "i32x4.min_u", NONE, vv_v, 0) \
    X(I32X4_MAX_S, 0xfd, 0xb8, "i32x4.max_s", NONE, vv_v, 0) \
    X(I32X4_MAX_U, 0xfd, 0xb9, "i32x4.max_u", NONE, vv_v, 0) \
    X(I32X4_DOT_I16X8_S, 0xfd, 0xba, "i32x4.dot_i16x8_s", NONE, vv_v, 0) \
    X(I32X4_EXTMUL_LOW_I16X8_S, 0xfd, 0xbc, "i32x4.extmul_low_i16x8_s", NONE, vv_v, 0) \
    X(I32X4_EXTMUL_HIGH_I16X8_S, 0xfd, 0xbd, "i32x4.extmul_high_i16x8_s", NONE, vv_v, 0) \
    X(I32X4_EXTMUL_LOW_I16X8_U, 0xfd, 0xbe, "i32x4.extmul_low_i16x8_u", NONE, vv_v, 0) \
    X(I32X4_EXTMUL_HIGH_I16X8_U, 0xfd, 0xbf, "i32x4.extmul_high_i16x8_u", NONE, vv_v, 0) \
    X(I64X2_ABS, 0xfd, 0xc0, "i64x2.abs", NONE, v_v, 0) \
    X(I64X2_NEG, 0xfd, 0xc1, "i64x2.neg", NONE, v_v, 0) \
    X(I64X2_ALL_TRUE, 0xfd, 0xc3, "i64x2.all_true", NONE, v_i, 0) \
    X(I64X2_BITMASK, 0xfd, 0xc4, "i64x2.bitmask", NONE, v_i, 0) \
    X(I64X2_EXTEND_LOW_I32X4_S, 0xfd, 0xc7, "i64x2.extend_low_i32x4_s", NONE, v_v, 0) \
    X(I64X2_EXTEND_HIGH_I32X4_S, 0xfd, 0xc8, "i64x2.extend_high_i32x4_s", NONE, v_v, 0) \
    X(I64X2_EXTEND_LOW_I32X4_U, 0xfd, 0xc9, "i64x2.extend_low_i32x4_u", NONE, v_v, 0) \
    X(I64X2_EXTEND_HIGH_I32X4_U, 0xfd, 0xca, "i64x2.extend_high_i32x4_u", NONE, v_v, 0) \
    X(I64X2_SHL, 0xfd, 0xcb, "i64x2.shl", NONE, vi_v, 0) \
    X(I64X2_SHR_S, 0xfd, 0xcc, "i64x2.shr_s", NONE, vi_v, 0) \
    X(I64X2_SHR_U, 0xfd, 0xcd, "i64x2.shr_u", NONE, vi_v, 0) \
    X(I64X2_ADD, 0xfd, 0xce, "i64x2.add", NONE, vv_v, 0) \
    X(I64X2_SUB, 0xfd, 0xd1, "i64x2.sub", NONE, vv_v, 0) \
    X(I64X2_MUL, 0xfd, 0xd5, "i64x2.mul", NONE, vv_v, 0) \
    X(I64X2_EQ, 0xfd, 0xd6, "i64x2.eq", NONE, vv_v, 0) \
    X(I64X2_NE, 0xfd, 0xd7, "i64x2.ne", NONE, vv_v, 0) \
    X(I64X2_LT_S, 0xfd, 0xd8, "i64x2.lt_s", NONE, vv_v, 0) \
    X(I64X2_GT_S, 0xfd, 0xd9, "i64x2.gt_s", NONE, vv_v, 0) \
    X(I64X2_LE_S, 0xfd, 0xda, "i64x2.le_s", NONE, vv_v, 0) \
    X(I64X2_GE_S, 0xfd, 0xdb, "i64x2.ge_s", NONE, vv_v, 0) \
    X(I64X2_EXTMUL_LOW_I32X4_S, 0xfd, 0xdc, "i64x2.extmul_low_i32x4_s", NONE, vv_v, 0) \
    X(I64X2_EXTMUL_HIGH_I32X4_S, 0xfd, 0xdd, "i64x2.extmul_high_i32x4_s", NONE, vv_v, 0) \
    X(I64X2_EXTMUL_LOW_I32X4_U, 0xfd, 0xde, "i64x2.extmul_low_i32x4_u", NONE, vv_v, 0) \
    X(I64X2_EXTMUL_HIGH_I32X4_U, 0xfd, 0xdf, "i64x2.extmul_high_i32x4_u", NONE, vv_v, 0) \
    X(F32X4_ABS, 0xfd, 0xe0, "f32x4.abs", NONE, v_v, 0) \
    X(F32X4_NEG, 0xfd, 0xe1, "f32x4.neg", NONE, v_v, 0) \
    X(F32X4_SQRT, 0xfd, 0xe3, "f32x4.sqrt", NONE, v_v, 0) \
    X(F32X4_ADD, 0xfd, 0xe4, "f32x4.add", NONE, vv_v, 0) \
    X(F32X4_SUB, 0xfd, 0xe5, "f32x4.sub", NONE, vv_v, 0) \
    X(F32X4_MUL, 0xfd, 0xe6, "f32x4.mul", NONE, vv_v, 0) \
    X(F32X4_DIV, 0xfd, 0xe7, "f32x4.div", NONE, vv_v, 0) \
    X(F32X4_MIN, 0xfd, 0xe8, "f32x4.min", NONE, vv_v, 0) \
    X(F32X4_MAX, 0xfd, 0xe9, "f32x4.max", NONE, vv_v, 0) \
    X(F32X4_PMIN, 0xfd, 0xea, "f32x4.pmin", NONE, vv_v, 0) \
    X(F32X4_PMAX, 0xfd, 0xeb, "f32x4.pmax", NONE, vv_v, 0) \
    X(F64X2_ABS, 0xfd, 0xec, "f64x2.abs", NONE, v_v, 0) \
    X(F64X2_NEG, 0xfd, 0xed, "f64x2.neg", NONE, v_v, 0) \
    X(F64X2_SQRT, 0xfd, 0xef, "f64x2.sqrt", NONE, v_v, 0) \
    X(F64X2_ADD, 0xfd, 0xf0, "f64x2.add", NONE, vv_v, 0) \
    X(F64X2_SUB, 0xfd, 0xf1, "f64x2.sub", NONE, vv_v, 0) \
    X(F64X2_MUL, 0xfd, 0xf2, "f64x2.mul", NONE, vv_v, 0) \
    X(F64X2_DIV, 0xfd, 0xf3, "f64x2.div", NONE, vv_v, 0) \
    X(F64X2_MIN, 0xfd, 0xf4, "f64x2.min", NONE, vv_v, 0) \
    X(F64X2_MAX, 0xfd, 0xf5, "f64x2.max", NONE, vv_v, 0) \
    X(F64X2_PMIN, 0xfd, 0xf6, "f64x2.pmin", NONE, vv_v, 0) \
    X(F64X2_PMAX, 0xfd, 0xf7, "f64x2.pmax", NONE, vv_v, 0) \
    X(I32X4_TRUNC_SAT_F32X4_S, 0xfd, 0xf8, "i32x4.trunc_sat_f32x4_s", NONE, v_v, 0) \
    X(I32X4_TRUNC_SAT_F32X4_U, 0xfd, 0xf9, "i32x4.trunc_sat_f32x4_u", NONE, v_v, 0) \
    X(F32X4_CONVERT_I32X4_S, 0xfd, 0xfa, "f32x4.convert_i32x4_s", NONE, v_v, 0) \
    X(F32X4_CONVERT_I32X4_U, 0xfd, 0xfb, "f32x4.convert_i32x4_u", NONE, v_v, 0) \
    X(I32X4_TRUNC_SAT_F64X2_S_ZERO, 0xfd, 0xfc, "i32x4.trunc_sat_f64x2_s_zero", NONE, v_v, 0) \
    X(I32X4_TRUNC_SAT_F64X2_U_ZERO, 0xfd, 0xfd, "i32x4.trunc_sat_f64x2_u_zero", NONE, v_v, 0) \
    X(F64X2_CONVERT_LOW_I32X4_S, 0xfd, 0xfe, "f64x2.convert_low_i32x4_s", NONE, v_v, 0) \
    X(F64X2_CONVERT_LOW_I32X4_U, 0xfd, 0xff, "f64x2.convert_low_i32x4_u", NONE, v_v, 0)

/* clang-format on */

#endif
