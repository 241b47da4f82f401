/*
 * jit_compile.c - the native tier's compiler: a validated module's
 * defined functions to LLVM IR, optimised, emitted as one object for the
 * small code model, position-independent, which jit_load.c loads
 * (docs/design/native.md).
 *
 * What it compiles: every scalar and reference instruction, memory
 * loads and stores (on the guard reservation, no check), tables, bulk
 * operations through runtime helpers (jit_run.c), call_indirect (its
 * checks inline, compiled code of the same instance called directly,
 * anything else through the runtime), imports through wasm_jit_call,
 * multi-value, and the tail calls return_call and return_call_indirect
 * (the section on calls below); explicit traps call wasm_jit_trap with
 * their site; a stack check at every entry and the epoch/interrupt check
 * at entries and loop headers. SIMD instructions go to jit_simd.c (v128 is
 * one <16 x i8> value here too: locals, phis, calls). Anything else is
 * refused with WASM_ERR_LIMIT naming the first instruction the tier does
 * not compile, so a caller can keep the module on the interpreter;
 * nothing is compiled half. Globals live where the interpreter keeps
 * them: the instance's `globals[i]->val` cells, and values crossing a
 * call through memory (entry trampolines, imports, the runtime's
 * call_indirect) sit in cells laid out as the interpreter's frames are
 * (a v128 in two).
 *
 * Function i of the module (its index space, imports first) becomes the
 * global symbol "wasm_f<i>" with the tier's signature
 * `r0 f(ctx, inst, params..., out)` (section 3 of the design; `out` only
 * with several results, func_type), in the C convention, or LLVM's
 * `tailcc` when its type is one that tail calls involve (JIT_TAIL_CC), so
 * that a return_call is a jump to a function of any type.
 *
 * Translation runs in the validator's pass (wasm_validate_body's hooks):
 * every instruction arrives checked, so the operand stack here needs no
 * checks of its own. Locals live in allocas that LLVM's SROA turns into
 * registers. Each block, loop and if is a frame with the LLVM block that
 * follows it and phis for its results; code after br, return or
 * unreachable is skipped to the end of its frame, as compile.c does.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/jit_ir.h"

bool jit_refuse(jit *j, const char *what) {
    memset(j->err, 0, sizeof *j->err);
    j->err->kind = WASM_ERR_LIMIT;
    snprintf(j->err->msg, sizeof j->err->msg,
             "the native tier does not compile %s yet (function %u)", what, j->func);
    return false;
}

LLVMTypeRef jit_val_type(jit *j, wasm_valtype t) {
    switch (t) {
    case WASM_I32: return j->L->LLVMInt32TypeInContext(j->C);
    case WASM_I64: return j->L->LLVMInt64TypeInContext(j->C);
    case WASM_F32: return j->L->LLVMFloatTypeInContext(j->C);
    case WASM_F64: return j->L->LLVMDoubleTypeInContext(j->C);
    case WASM_FUNCREF: /* a wasm_funcinst *, NULL for null */
    case WASM_EXTERNREF: return j->L->LLVMPointerTypeInContext(j->C, 0);
    case WASM_V128: return jit_v128_type(j);
    default: return NULL;
    }
}

LLVMTypeRef jit_v128_type(jit *j) {
    return j->L->LLVMVectorType(j->L->LLVMInt8TypeInContext(j->C), 16);
}

/* The LLVM type of function type `ti`, or NULL (and an error) when the
 * tier does not take it: `r0 f(ctx, inst, params..., out)`, where `out`,
 * present when there are several results, points at the cells that take
 * the results after the first (laid out as the interpreter's frames are:
 * result i at the cells of results 1..i-1 summed). Results never travel
 * as an LLVM struct: one that does not fit in registers would be returned
 * through a hidden pointer, which LLVM cannot pass on in a tail call (it
 * aborts the process on a musttail call that needs one). */
static LLVMTypeRef func_type(jit *j, uint32_t ti) {
    const wasm_functype *ft = &j->m->types[ti];
    LLVMTypeRef ptr = j->L->LLVMPointerTypeInContext(j->C, 0);
    LLVMTypeRef params[3 + JIT_MAX_PARAMS];
    if (ft->nparams > JIT_MAX_PARAMS)
        return jit_refuse(j, "functions with more than 1000 parameters"), NULL;
    if (ft->nresults > JIT_MAX_PARAMS)
        return jit_refuse(j, "functions with more than 1000 results"), NULL;
    params[0] = params[1] = ptr;
    for (uint32_t i = 0; i < ft->nparams; i++)
        params[2 + i] = jit_val_type(j, ft->params[i]);
    uint32_t n = 2 + ft->nparams;
    if (ft->nresults > 1) params[n++] = ptr;
    LLVMTypeRef ret =
        ft->nresults ? jit_val_type(j, ft->results[0]) : j->L->LLVMVoidTypeInContext(j->C);
    return j->L->LLVMFunctionType(ret, params, n, 0);
}

/* Marks load `ld` !invariant.load: what it reads never changes while
 * compiled code runs, so LLVM may keep it across calls and stores. */
static LLVMValueRef invariant(jit *j, LLVMValueRef ld) {
    const wasm_llvm *L = j->L;
    unsigned kind = L->LLVMGetMDKindIDInContext(j->C, "invariant.load", 14);
    L->LLVMSetMetadata(ld, kind,
                       L->LLVMMetadataAsValue(j->C, L->LLVMMDNodeInContext2(j->C, NULL, 0)));
    return ld;
}

/* The address of global `index`'s value cell: inst->globals[index]->val.
 * The array and the cells it points to are fixed when the instance is
 * made: invariant loads, which LLVM keeps across calls (a function that
 * moves the stack pointer global reloaded both after every call). */
static LLVMValueRef global_cell(jit *j, uint32_t index) {
    const wasm_llvm *L = j->L;
    LLVMTypeRef i8 = L->LLVMInt8TypeInContext(j->C), i64 = L->LLVMInt64TypeInContext(j->C);
    LLVMTypeRef ptr = L->LLVMPointerTypeInContext(j->C, 0);
    LLVMValueRef inst = L->LLVMGetParam(j->self, 1);
    LLVMValueRef at = L->LLVMConstInt(i64, offsetof(wasm_instance, globals), 0);
    LLVMValueRef field = L->LLVMBuildInBoundsGEP2(j->B, i8, inst, &at, 1, "");
    LLVMValueRef array = invariant(j, L->LLVMBuildLoad2(j->B, ptr, field, "globals"));
    LLVMValueRef k = L->LLVMConstInt(i64, index, 0);
    LLVMValueRef obj = invariant(
        j, L->LLVMBuildLoad2(j->B, ptr, L->LLVMBuildInBoundsGEP2(j->B, ptr, array, &k, 1, ""), ""));
    LLVMValueRef val = L->LLVMConstInt(i64, offsetof(wasm_global_obj, val), 0);
    return L->LLVMBuildInBoundsGEP2(j->B, i8, obj, &val, 1, "cell");
}

void jit_push(jit *j, LLVMValueRef v) {
    j->stack[j->sp++] = v;
}

LLVMValueRef jit_pop(jit *j) {
    return j->stack[--j->sp];
}

static LLVMBasicBlockRef new_block(jit *j, const char *name) {
    return j->L->LLVMAppendBasicBlockInContext(j->C, j->self, name);
}

/* A result phi at the start of `bb`, built without leaving the current
 * block. */
static LLVMValueRef make_phi(jit *j, LLVMBasicBlockRef bb, LLVMTypeRef t) {
    LLVMBasicBlockRef here = j->L->LLVMGetInsertBlock(j->B);
    j->L->LLVMPositionBuilderAtEnd(j->B, bb);
    LLVMValueRef phi = j->L->LLVMBuildPhi(j->B, t, "r");
    j->L->LLVMPositionBuilderAtEnd(j->B, here);
    return phi;
}

/* Room for n values in the pool; its offset, or UINT32_MAX. */
static uint32_t pool_take(jit *j, uint32_t n) {
    if (j->npool + n > j->cappool) {
        uint32_t cap = j->cappool ? j->cappool * 2 : 256;
        while (cap < j->npool + n)
            cap *= 2;
        LLVMValueRef *p = realloc(j->pool, cap * sizeof *p);
        if (!p) return UINT32_MAX;
        j->pool = p;
        j->cappool = cap;
    }
    j->npool += n;
    return j->npool - n;
}

/* Opens a block, loop or if whose parameters are on the stack. */
static bool open_frame(jit *j, wasm_op kind, const wasm_blocktype *bt) {
    if (j->nframes == JIT_MAX_FRAMES) return jit_refuse(j, "blocks nested this deep");
    uint32_t np, nr;
    const wasm_valtype *pt, *rt;
    wasm_blocktype_types(j->m, bt, &np, &pt, &nr, &rt);
    uint32_t at = pool_take(j, nr + np);
    if (at == UINT32_MAX) return jit_refuse(j, "a block (out of memory)");
    jframe *f = &j->frames[j->nframes++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->nres = nr;
    f->nparams = np;
    f->height = j->sp - np;
    f->end = new_block(j, "end");
    f->target = f->end;
    f->phis = at;
    for (uint32_t i = 0; i < nr; i++)
        j->pool[at + i] = make_phi(j, f->end, jit_val_type(j, rt[i]));
    f->lphis = f->params = at + nr;
    if (kind == WASM_OP_IF && np)
        memcpy(j->pool + f->params, j->stack + f->height, np * sizeof *j->pool);
    if (kind == WASM_OP_LOOP) {
        /* a branch to a loop carries its parameters to the head */
        LLVMBasicBlockRef from = j->L->LLVMGetInsertBlock(j->B);
        f->target = new_block(j, "loop");
        for (uint32_t i = 0; i < np; i++) {
            LLVMValueRef phi = make_phi(j, f->target, jit_val_type(j, pt[i]));
            j->L->LLVMAddIncoming(phi, &j->stack[f->height + i], &from, 1);
            j->pool[f->lphis + i] = j->stack[f->height + i] = phi;
        }
    }
    return true;
}

/* The operands a branch to `f` carries go to its phis, coming from `from`. */
static void add_incoming(jit *j, jframe *f, LLVMBasicBlockRef from) {
    bool loop = f->kind == WASM_OP_LOOP;
    uint32_t n = loop ? f->nparams : f->nres, at = loop ? f->lphis : f->phis;
    for (uint32_t i = 0; i < n; i++)
        j->L->LLVMAddIncoming(j->pool[at + i], &j->stack[j->sp - n + i], &from, 1);
}

/* Ends the current block (`from`) with a branch to frame `f`, carrying
 * its operands to its phis. */
static void branch_to(jit *j, jframe *f, LLVMBasicBlockRef from) {
    add_incoming(j, f, from);
    j->L->LLVMBuildBr(j->B, f->target);
}

/* Ends the current block by falling out of frame `f` at its `end` (for a
 * loop that is not where a branch to it goes), with its results. */
static void fall_through(jit *j, jframe *f) {
    LLVMBasicBlockRef from = j->L->LLVMGetInsertBlock(j->B);
    for (uint32_t i = 0; i < f->nres; i++)
        j->L->LLVMAddIncoming(j->pool[f->phis + i], &j->stack[j->sp - f->nres + i], &from, 1);
    j->L->LLVMBuildBr(j->B, f->end);
}

static LLVMValueRef cell_at(jit *j, LLVMValueRef cells, uint32_t k);
static void store_cell(jit *j, LLVMValueRef v, wasm_valtype t, LLVMValueRef cell);

/* Returns `vals`, the function's results: the first as LLVM's return
 * value, the others through its `out` parameter (func_type). */
static void return_values(jit *j, LLVMValueRef *vals) {
    const wasm_llvm *L = j->L;
    const wasm_functype *ft = &j->m->types[j->m->funcs[j->func].type];
    if (ft->nresults == 0) {
        L->LLVMBuildRetVoid(j->B);
        return;
    }
    LLVMValueRef out = ft->nresults > 1 ? L->LLVMGetParam(j->self, 2 + ft->nparams) : NULL;
    for (uint32_t i = 1, k = 0; i < ft->nresults; k += wasm_cells(ft->results[i++]))
        store_cell(j, vals[i], ft->results[i], cell_at(j, out, k));
    L->LLVMBuildRet(j->B, vals[0]);
}

/* Returns the function's results from the top of the operand stack. */
static void build_return(jit *j) {
    const wasm_functype *ft = &j->m->types[j->m->funcs[j->func].type];
    return_values(j, j->stack + j->sp - ft->nresults);
}

static LLVMValueRef const_int(jit *j, wasm_valtype t, uint64_t v) {
    return j->L->LLVMConstInt(jit_val_type(j, t), v, 0);
}

/* Binary integer operations: what the instruction builds. */
static bool binary(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    if (j->sp < 2) return false; /* not a binary operation, whatever it is */
    LLVMValueRef b = j->stack[j->sp - 1], a = j->stack[j->sp - 2], r = NULL;
    wasm_valtype t = L->LLVMTypeOf(a) == L->LLVMInt64TypeInContext(j->C) ? WASM_I64 : WASM_I32;
    LLVMValueRef mask = const_int(j, t, t == WASM_I64 ? 63 : 31);
    switch (op) {
#define CMP(o32, o64, pred)                                                                        \
    case WASM_OP_##o32:                                                                            \
    case WASM_OP_##o64:                                                                            \
        r = L->LLVMBuildZExt(B, L->LLVMBuildICmp(B, pred, a, b, ""),                               \
                             L->LLVMInt32TypeInContext(j->C), "");                                 \
        break;
        CMP(I32_EQ, I64_EQ, LLVMIntEQ)
        CMP(I32_NE, I64_NE, LLVMIntNE)
        CMP(I32_LT_S, I64_LT_S, LLVMIntSLT)
        CMP(I32_LT_U, I64_LT_U, LLVMIntULT)
        CMP(I32_GT_S, I64_GT_S, LLVMIntSGT)
        CMP(I32_GT_U, I64_GT_U, LLVMIntUGT)
        CMP(I32_LE_S, I64_LE_S, LLVMIntSLE)
        CMP(I32_LE_U, I64_LE_U, LLVMIntULE)
        CMP(I32_GE_S, I64_GE_S, LLVMIntSGE)
        CMP(I32_GE_U, I64_GE_U, LLVMIntUGE)
#undef CMP
#define ARITH(o32, o64, build)                                                                     \
    case WASM_OP_##o32:                                                                            \
    case WASM_OP_##o64: r = L->build(B, a, b, ""); break;
        ARITH(I32_ADD, I64_ADD, LLVMBuildAdd)
        ARITH(I32_SUB, I64_SUB, LLVMBuildSub)
        ARITH(I32_MUL, I64_MUL, LLVMBuildMul)
        ARITH(I32_AND, I64_AND, LLVMBuildAnd)
        ARITH(I32_OR, I64_OR, LLVMBuildOr)
        ARITH(I32_XOR, I64_XOR, LLVMBuildXor)
#undef ARITH
    /* shift counts are taken modulo the width, as Wasm says (LLVM's
     * shifts past it are poison) */
    case WASM_OP_I32_SHL:
    case WASM_OP_I64_SHL: r = L->LLVMBuildShl(B, a, L->LLVMBuildAnd(B, b, mask, ""), ""); break;
    case WASM_OP_I32_SHR_S:
    case WASM_OP_I64_SHR_S: r = L->LLVMBuildAShr(B, a, L->LLVMBuildAnd(B, b, mask, ""), ""); break;
    case WASM_OP_I32_SHR_U:
    case WASM_OP_I64_SHR_U: r = L->LLVMBuildLShr(B, a, L->LLVMBuildAnd(B, b, mask, ""), ""); break;
    case WASM_OP_I32_ROTL:
    case WASM_OP_I64_ROTL:
    case WASM_OP_I32_ROTR:
    case WASM_OP_I64_ROTR: {
        /* rotates are funnel shifts of a value with itself */
        bool left = op == WASM_OP_I32_ROTL || op == WASM_OP_I64_ROTL;
        LLVMTypeRef ty = L->LLVMTypeOf(a);
        unsigned id = L->LLVMLookupIntrinsicID(left ? "llvm.fshl" : "llvm.fshr", 9);
        LLVMValueRef fn = L->LLVMGetIntrinsicDeclaration(j->M, id, &ty, 1);
        LLVMTypeRef fty = L->LLVMIntrinsicGetType(j->C, id, &ty, 1);
        r = L->LLVMBuildCall2(B, fty, fn, (LLVMValueRef[]){a, a, b}, 3, "");
        break;
    }
    default: return false; /* not a binary operation: the operands stay */
    }
    j->sp -= 2;
    jit_push(j, r);
    return true;
}

/* ---- the runtime: helpers, traps, checks ----------------------------------- */

static LLVMTypeRef ty_i32(jit *j) {
    return j->L->LLVMInt32TypeInContext(j->C);
}
static LLVMTypeRef ty_i64(jit *j) {
    return j->L->LLVMInt64TypeInContext(j->C);
}
static LLVMTypeRef ty_void(jit *j) {
    return j->L->LLVMVoidTypeInContext(j->C);
}
static LLVMTypeRef ty_ptr(jit *j) {
    return j->L->LLVMPointerTypeInContext(j->C, 0);
}

static void add_fn_attr(jit *j, LLVMValueRef fn, const char *name) {
    const wasm_llvm *L = j->L;
    unsigned kind = L->LLVMGetEnumAttributeKindForName(name, strlen(name));
    L->LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                               L->LLVMCreateEnumAttribute(j->C, kind, 0));
}

/* Declares what compiled code calls outside itself (jit_run.c binds the
 * names). The trap is noreturn and cold: LLVM then lays the checks' slow
 * paths out of the hot code. */
static void declare_runtime(jit *j) {
    const wasm_llvm *L = j->L;
    LLVMTypeRef p = ty_ptr(j), i32 = ty_i32(j), i64 = ty_i64(j), v = L->LLVMVoidTypeInContext(j->C);
    j->trap_ty = L->LLVMFunctionType(v, (LLVMTypeRef[]){p, i32, i64, p}, 4, 0);
    j->trap_fn = L->LLVMAddFunction(j->M, "wasm_jit_trap", j->trap_ty);
    add_fn_attr(j, j->trap_fn, "noreturn");
    add_fn_attr(j, j->trap_fn, "cold");
    add_fn_attr(j, j->trap_fn, "nounwind");
    j->call_ty = L->LLVMFunctionType(v, (LLVMTypeRef[]){p, p, p, p}, 4, 0);
    j->call_fn = L->LLVMAddFunction(j->M, "wasm_jit_call", j->call_ty);
    j->grow_ty = L->LLVMFunctionType(i32, (LLVMTypeRef[]){p, i32}, 2, 0);
    j->grow_fn = L->LLVMAddFunction(j->M, "wasm_jit_memory_grow", j->grow_ty);
    j->check_ty = L->LLVMFunctionType(v, (LLVMTypeRef[]){p, i64, p}, 3, 0);
    j->check_fn = L->LLVMAddFunction(j->M, "wasm_jit_check", j->check_ty);
    add_fn_attr(j, j->check_fn, "cold");
    L->LLVMSetFunctionCallConv(j->check_fn, JIT_CHECK_CC);
    j->bulk_ty = L->LLVMFunctionType(i64, (LLVMTypeRef[]){p, i32, i32, i32, i64, i64, i64}, 7, 0);
    j->bulk_fn = L->LLVMAddFunction(j->M, "wasm_jit_bulk", j->bulk_ty);
    j->call_indirect_ty =
        L->LLVMFunctionType(v, (LLVMTypeRef[]){p, p, i32, i32, i32, p, i64}, 7, 0);
    j->call_indirect_fn = L->LLVMAddFunction(j->M, "wasm_jit_call_indirect", j->call_indirect_ty);
    unsigned fa = L->LLVMLookupIntrinsicID("llvm.frameaddress", 17);
    j->frameaddr_fn = L->LLVMGetIntrinsicDeclaration(j->M, fa, &p, 1);
    j->frameaddr_ty = L->LLVMIntrinsicGetType(j->C, fa, &p, 1);
}

/* The running function's frame pointer. Every function keeps one
 * ("frame-pointer"="all"), so the helpers that trap or sample walk the
 * compiled frames from it (stack.c): a register less in hot code, for
 * backtraces and profiles in this tier as in the interpreter. */
static LLVMValueRef frame_addr(jit *j) {
    const wasm_llvm *L = j->L;
    LLVMValueRef zero = L->LLVMConstInt(ty_i32(j), 0, 0);
    return L->LLVMBuildCall2(j->B, j->frameaddr_ty, j->frameaddr_fn, &zero, 1, "fp");
}

static void keep_frame_pointer(jit *j, LLVMValueRef fn) {
    const wasm_llvm *L = j->L;
    L->LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                               L->LLVMCreateStringAttribute(j->C, "frame-pointer", 13, "all", 3));
}

/* A load of `t` at byte `off` of `base`. */
static LLVMValueRef load_at(jit *j, LLVMTypeRef t, LLVMValueRef base, uint64_t off,
                            const char *name) {
    const wasm_llvm *L = j->L;
    LLVMValueRef k = L->LLVMConstInt(ty_i64(j), off, 0);
    LLVMValueRef at =
        L->LLVMBuildInBoundsGEP2(j->B, L->LLVMInt8TypeInContext(j->C), base, &k, 1, "");
    return L->LLVMBuildLoad2(j->B, t, at, name);
}

/* Ends the current block with trap `code` at the instruction's site. */
static void build_trap(jit *j, wasm_trap_code code) {
    const wasm_llvm *L = j->L;
    LLVMValueRef args[4] = {L->LLVMGetParam(j->self, 0), L->LLVMConstInt(ty_i32(j), code, 0),
                            L->LLVMConstInt(ty_i64(j), j->site, 0), frame_addr(j)};
    L->LLVMBuildCall2(j->B, j->trap_ty, j->trap_fn, args, 4, "");
    L->LLVMBuildUnreachable(j->B);
}

/* Traps with `code` when i1 `cond` holds; code goes on after it. */
static void trap_if(jit *j, LLVMValueRef cond, wasm_trap_code code) {
    const wasm_llvm *L = j->L;
    LLVMBasicBlockRef bad = new_block(j, "trap"), ok = new_block(j, "ok");
    L->LLVMBuildCondBr(j->B, cond, bad, ok);
    L->LLVMPositionBuilderAtEnd(j->B, bad);
    build_trap(j, code);
    L->LLVMPositionBuilderAtEnd(j->B, ok);
}

/* The check at function entries and loop headers (jit_watch.c): the
 * stack pointer against ctx->stack_limit, which is the stack's limit, or
 * WASM_JIT_POKED when the call is to stop (deadline, end of time slice,
 * interruption): one load and one compare stand for stack exhaustion and
 * every limit, and the slow path (wasm_jit_check) tells which. The load
 * is volatile: another thread pokes it, and a loop must see that without
 * a call in between. Compiled with WASM_NATIVE_FUEL, the check also takes
 * one unit of fuel from ctx->fuel (UINT64_MAX when the call has no
 * budget: it never reaches 0). Fuel is left out unless asked for: its
 * load, store and test cost a call-heavy function about as much as the
 * rest of the check (fib: 0.45 s with it, 0.39 s without, 0.27 s native,
 * user time, best of 8). */
static void build_check(jit *j) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMTypeRef i64 = ty_i64(j);
    LLVMValueRef ctx = L->LLVMGetParam(j->self, 0);
    LLVMMetadataRef name = L->LLVMMDStringInContext2(j->C, "rsp", 3);
    LLVMValueRef md = L->LLVMMetadataAsValue(j->C, L->LLVMMDNodeInContext2(j->C, &name, 1));
    unsigned id = L->LLVMLookupIntrinsicID("llvm.read_register", 18);
    LLVMValueRef fn = L->LLVMGetIntrinsicDeclaration(j->M, id, &i64, 1);
    LLVMTypeRef fty = L->LLVMIntrinsicGetType(j->C, id, &i64, 1);
    LLVMValueRef sp = L->LLVMBuildCall2(B, fty, fn, &md, 1, "sp");
    LLVMValueRef limit = load_at(j, i64, ctx, offsetof(wasm_jit_ctx, stack_limit), "limit");
    L->LLVMSetVolatile(limit, 1);
    LLVMValueRef stop = L->LLVMBuildICmp(B, LLVMIntULT, sp, limit, "");
    if (j->fuel) {
        LLVMValueRef fuel = load_at(j, i64, ctx, offsetof(wasm_jit_ctx, fuel), "fuel");
        fuel = L->LLVMBuildSub(B, fuel, L->LLVMConstInt(i64, 1, 0), "");
        LLVMValueRef k = L->LLVMConstInt(i64, offsetof(wasm_jit_ctx, fuel), 0);
        L->LLVMBuildStore(
            B, fuel, L->LLVMBuildInBoundsGEP2(B, L->LLVMInt8TypeInContext(j->C), ctx, &k, 1, ""));
        stop = L->LLVMBuildOr(
            B, stop, L->LLVMBuildICmp(B, LLVMIntEQ, fuel, L->LLVMConstInt(i64, 0, 0), ""), "");
    }
    LLVMBasicBlockRef slow = new_block(j, "check"), ok = new_block(j, "checked");
    L->LLVMBuildCondBr(B, stop, slow, ok);
    L->LLVMPositionBuilderAtEnd(B, slow);
    LLVMValueRef site = L->LLVMConstInt(i64, j->site, 0);
    LLVMValueRef call = L->LLVMBuildCall2(B, j->check_ty, j->check_fn,
                                          (LLVMValueRef[]){ctx, site, frame_addr(j)}, 3, "");
    L->LLVMSetInstructionCallConv(call, JIT_CHECK_CC);
    L->LLVMBuildBr(B, ok);
    L->LLVMPositionBuilderAtEnd(B, ok);
}

/* The address of a memory access: base + zext(addr) + offset, no check
 * (the reservation's guard makes a stray access fault; trap.c). */
LLVMValueRef jit_mem_addr(jit *j, LLVMValueRef addr, uint32_t offset) {
    const wasm_llvm *L = j->L;
    LLVMValueRef ea = L->LLVMBuildZExt(j->B, addr, ty_i64(j), "");
    if (offset) ea = L->LLVMBuildAdd(j->B, ea, L->LLVMConstInt(ty_i64(j), offset, 0), "");
    return L->LLVMBuildGEP2(j->B, L->LLVMInt8TypeInContext(j->C), j->mem_base, &ea, 1, "");
}

/* Guest loads. With a plain load, LLVM would delete one whose value goes
 * unused (dropped, a local never read, the losing arm of a select, x * 0),
 * sink it into the branch that uses it, or narrow it to the bytes it sees
 * used (i32.wrap_i64 of an i64.load reads 4 bytes, which may be in bounds
 * when the last 4 are not): each loses a trap. A volatile load forbids
 * that, and every optimization of loads with it (v128 kernels ran 3x
 * slower, json and matmul about 30%).
 *
 * So while LLVM optimizes, each guest load is followed by a call of a
 * declared `wasp.keep.N(value)` that touches no memory, never unwinds and
 * is not `willreturn`: it may not return, which is what a trap is. LLVM
 * keeps the call, so the load keeps a use on its own path (not deleted,
 * not sunk) that wants every bit (not narrowed); since the call touches
 * no memory, a stored value is still forwarded into a later load of its
 * address (which cannot trap: the store did not) and loads of one address
 * may be merged. After the passes lower_loads deletes the calls and makes
 * the loads they kept volatile, whole and in place through code
 * generation (docs/design/native.md section 4). */
/* The declared function `name` of type void(params), made once per
 * module: memory(none), nounwind, and not willreturn (see jit_load). */
static LLVMValueRef keeper(jit *j, const char *name, LLVMTypeRef *params, unsigned n) {
    const wasm_llvm *L = j->L;
    LLVMValueRef fn = L->LLVMGetNamedFunction(j->M, name);
    if (fn) return fn;
    fn = L->LLVMAddFunction(j->M, name, L->LLVMFunctionType(ty_void(j), params, n, 0));
    add_fn_attr(j, fn, "memory"); /* memory(none) */
    add_fn_attr(j, fn, "nounwind");
    add_fn_attr(j, fn, "nofree");
    add_fn_attr(j, fn, "nosync");
    /* two of them in two branches must not become one with a phi of the
     * sites: a stack map's id must be a constant */
    add_fn_attr(j, fn, "nomerge");
    return fn;
}

/* A call of keeper `name`(args), then the site of the access it keeps. */
static void keep(jit *j, const char *name, LLVMValueRef *args, LLVMTypeRef *types, unsigned n) {
    const wasm_llvm *L = j->L;
    LLVMValueRef fn = keeper(j, name, types, n);
    L->LLVMBuildCall2(j->B, L->LLVMFunctionType(ty_void(j), types, n, 0), fn, args, n, "");
}

LLVMValueRef jit_load(jit *j, LLVMTypeRef t, LLVMValueRef ptr) {
    const wasm_llvm *L = j->L;
    unsigned k = 0;
    while (k < j->nload && j->load_types[k] != t)
        k++;
    if (k == j->nload) {
        if (k == JIT_LOAD_TYPES) abort(); /* a type not listed at JIT_LOAD_TYPES */
        j->load_types[k] = t;
        j->nload++;
    }
    LLVMValueRef ld = L->LLVMBuildLoad2(j->B, t, ptr, "");
    L->LLVMSetAlignment(ld, 1);
    char name[32];
    snprintf(name, sizeof name, "wasp.keep.%u", k);
    keep(j, name, (LLVMValueRef[]){ld, L->LLVMConstInt(ty_i64(j), j->site, 0)},
         (LLVMTypeRef[]){t, ty_i64(j)}, 2);
    return ld;
}

/* Guest stores are volatile: LLVM neither deletes one that a later store
 * overwrites (the later one may trap and write nothing, x86 stores being
 * all or nothing), nor merges neighbours into one wider store (which
 * would fault whole where the first half should have been written), nor
 * keeps a location in a register through a loop and stores it at the
 * exit (a trap inside the loop would leave the old bytes). */
void jit_store(jit *j, LLVMValueRef v, LLVMValueRef ptr) {
    LLVMValueRef st = j->L->LLVMBuildStore(j->B, v, ptr);
    j->L->LLVMSetAlignment(st, 1);
    j->L->LLVMSetVolatile(st, 1);
    /* its site, for a fault (lower_loads) */
    LLVMTypeRef i64 = ty_i64(j);
    keep(j, "wasp.stored", (LLVMValueRef[]){j->L->LLVMConstInt(i64, j->site, 0)}, &i64, 1);
}

/* After a call (not a tail call, which leaves the frame): its site, for
 * the backtraces (stack.c). The stack map point follows the call, so the
 * first one past a return address is the call's: a caller's frame gets
 * the call's offset, and the function whose body holds the call also when
 * LLVM inlined that function into the one whose frame it is. */
static bool called(jit *j) {
    LLVMTypeRef i64 = ty_i64(j);
    keep(j, "wasp.called", (LLVMValueRef[]){j->L->LLVMConstInt(i64, j->site, 0)}, &i64, 1);
    return true;
}

/* After the passes: every call of a keeper (wasp.keep.N after a load,
 * wasp.stored after a store, wasp.called after a call) becomes llvm.experimental.stackmap with the
 * access's site as its id: it emits no instruction, but LLVM records the
 * address where it stands in the object's stack map section, which the
 * loader turns into a table from addresses to sites (jit_load.c,
 * wasm_jit_site_at): a fault between two such points is the access of the
 * second. The load a keeper kept (when its value is still a load, not a
 * forwarded one) becomes volatile, whole and in place through code
 * generation and ordered with the stack map points; the declarations go. */
static void lower_loads(jit *j) {
    const wasm_llvm *L = j->L;
    /* the passes delete a declaration left without calls: look them up */
    LLVMValueRef fns[JIT_LOAD_TYPES + 2] = {0};
    unsigned nfns = 0;
    for (unsigned k = 0; k <= j->nload + 1; k++) {
        char name[32];
        if (k < j->nload)
            snprintf(name, sizeof name, "wasp.keep.%u", k);
        else
            snprintf(name, sizeof name, k == j->nload ? "wasp.stored" : "wasp.called");
        LLVMValueRef f = L->LLVMGetNamedFunction(j->M, name);
        if (f) fns[nfns++] = f;
    }
    unsigned id = L->LLVMLookupIntrinsicID("llvm.experimental.stackmap", 26);
    LLVMValueRef sm = L->LLVMGetIntrinsicDeclaration(j->M, id, NULL, 0);
    LLVMTypeRef sm_ty = L->LLVMIntrinsicGetType(j->C, id, NULL, 0);
    for (LLVMValueRef f = L->LLVMGetFirstFunction(j->M); f; f = L->LLVMGetNextFunction(f)) {
        for (LLVMBasicBlockRef b = L->LLVMGetFirstBasicBlock(f); b;
             b = L->LLVMGetNextBasicBlock(b)) {
            LLVMValueRef i = L->LLVMGetFirstInstruction(b);
            while (i) {
                LLVMValueRef next = L->LLVMGetNextInstruction(i);
                LLVMValueRef callee = L->LLVMIsACallInst(i) ? L->LLVMGetCalledValue(i) : NULL;
                for (unsigned k = 0; callee && k < nfns; k++) {
                    if (callee != fns[k]) continue;
                    unsigned n = (unsigned)L->LLVMGetNumOperands(i) - 1; /* the callee last */
                    LLVMValueRef v = L->LLVMGetOperand(i, 0);
                    if (n == 2 && L->LLVMIsALoadInst(v)) L->LLVMSetVolatile(v, 1);
                    L->LLVMPositionBuilderBefore(j->B, i);
                    LLVMValueRef site = L->LLVMGetOperand(i, n - 1);
                    if (!L->LLVMIsConstant(site)) /* merged after all: no site */
                        site = L->LLVMConstInt(ty_i64(j), WASM_SITE_NONE, 0);
                    LLVMValueRef args[2] = {site, L->LLVMConstInt(ty_i32(j), 0, 0)};
                    L->LLVMBuildCall2(j->B, sm_ty, sm, args, 2, "");
                    L->LLVMInstructionEraseFromParent(i);
                    break;
                }
                i = next;
            }
        }
    }
    for (unsigned k = 0; k < nfns; k++)
        L->LLVMDeleteFunction(fns[k]);
    j->nload = 0;
}

/* Scalar loads and stores: what each reads or writes, and how it extends. */
static bool memory_op(jit *j, const wasm_instr *ins) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMContextRef C = j->C;
    LLVMTypeRef i8 = L->LLVMInt8TypeInContext(C), i16 = L->LLVMIntTypeInContext(C, 16);
    LLVMTypeRef i32 = ty_i32(j), i64 = ty_i64(j);
    LLVMTypeRef f32 = L->LLVMFloatTypeInContext(C), f64 = L->LLVMDoubleTypeInContext(C);
    LLVMTypeRef mem = NULL, res = NULL;
    int ext = 0; /* loads: 1 sign, 2 zero */
    bool store = false;
    switch (ins->op) {
#define LD(op, m, r, e)                                                                            \
    case WASM_OP_##op:                                                                             \
        mem = m;                                                                                   \
        res = r;                                                                                   \
        ext = e;                                                                                   \
        break;
#define ST(op, m, r)                                                                               \
    case WASM_OP_##op:                                                                             \
        mem = m;                                                                                   \
        res = r;                                                                                   \
        store = true;                                                                              \
        break;
        LD(I32_LOAD, i32, i32, 0)
        LD(I64_LOAD, i64, i64, 0)
        LD(F32_LOAD, f32, f32, 0)
        LD(F64_LOAD, f64, f64, 0)
        LD(I32_LOAD8_S, i8, i32, 1)
        LD(I32_LOAD8_U, i8, i32, 2)
        LD(I32_LOAD16_S, i16, i32, 1)
        LD(I32_LOAD16_U, i16, i32, 2)
        LD(I64_LOAD8_S, i8, i64, 1)
        LD(I64_LOAD8_U, i8, i64, 2)
        LD(I64_LOAD16_S, i16, i64, 1)
        LD(I64_LOAD16_U, i16, i64, 2)
        LD(I64_LOAD32_S, i32, i64, 1)
        LD(I64_LOAD32_U, i32, i64, 2)
        ST(I32_STORE, i32, i32)
        ST(I64_STORE, i64, i64)
        ST(F32_STORE, f32, f32)
        ST(F64_STORE, f64, f64)
        ST(I32_STORE8, i8, i32)
        ST(I32_STORE16, i16, i32)
        ST(I64_STORE8, i8, i64)
        ST(I64_STORE16, i16, i64)
        ST(I64_STORE32, i32, i64)
#undef LD
#undef ST
    default: return false;
    }
    if (store) {
        LLVMValueRef v = jit_pop(j), addr = jit_pop(j);
        if (mem != res) v = L->LLVMBuildTrunc(B, v, mem, "");
        jit_store(j, v, jit_mem_addr(j, addr, ins->imm.mem.offset));
        return true;
    }
    LLVMValueRef ld = jit_load(j, mem, jit_mem_addr(j, jit_pop(j), ins->imm.mem.offset));
    if (ext == 1)
        jit_push(j, L->LLVMBuildSExt(B, ld, res, ""));
    else if (ext == 2)
        jit_push(j, L->LLVMBuildZExt(B, ld, res, ""));
    else
        jit_push(j, ld);
    return true;
}

/* A call of an LLVM intrinsic overloaded on `t`. */
LLVMValueRef jit_intrinsic(jit *j, const char *name, LLVMTypeRef *tys, size_t ntys,
                           LLVMValueRef *args, unsigned nargs) {
    const wasm_llvm *L = j->L;
    unsigned id = L->LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = L->LLVMGetIntrinsicDeclaration(j->M, id, tys, ntys);
    LLVMTypeRef fty = L->LLVMIntrinsicGetType(j->C, id, tys, ntys);
    return L->LLVMBuildCall2(j->B, fty, fn, args, nargs, "");
}

/* Integer division and remainder, with the traps Wasm wants where LLVM's
 * instructions are undefined: a zero divisor, and INT_MIN / -1 (a trap for
 * div_s; rem_s gives 0). */
static bool divide(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    bool s32 = op == WASM_OP_I32_DIV_S || op == WASM_OP_I32_REM_S;
    bool s64 = op == WASM_OP_I64_DIV_S || op == WASM_OP_I64_REM_S;
    bool rem = op == WASM_OP_I32_REM_S || op == WASM_OP_I32_REM_U || op == WASM_OP_I64_REM_S ||
               op == WASM_OP_I64_REM_U;
    switch (op) {
    case WASM_OP_I32_DIV_S:
    case WASM_OP_I32_DIV_U:
    case WASM_OP_I32_REM_S:
    case WASM_OP_I32_REM_U:
    case WASM_OP_I64_DIV_S:
    case WASM_OP_I64_DIV_U:
    case WASM_OP_I64_REM_S:
    case WASM_OP_I64_REM_U: break;
    default: return false;
    }
    LLVMValueRef b = jit_pop(j), a = jit_pop(j);
    LLVMTypeRef t = L->LLVMTypeOf(a);
    trap_if(j, L->LLVMBuildICmp(B, LLVMIntEQ, b, L->LLVMConstInt(t, 0, 0), ""), WASM_TRAP_DIV_ZERO);
    if (s32 || s64) {
        LLVMValueRef minus1 = L->LLVMBuildICmp(B, LLVMIntEQ, b, L->LLVMConstInt(t, ~0ull, 1), "");
        if (rem) {
            /* x rem -1 is 0; srem's INT_MIN case is avoided by dividing by 1 */
            b = L->LLVMBuildSelect(B, minus1, L->LLVMConstInt(t, 1, 0), b, "");
            jit_push(j, L->LLVMBuildSRem(B, a, b, ""));
            return true;
        }
        LLVMValueRef min = L->LLVMConstInt(t, s32 ? 0x80000000u : 0x8000000000000000ull, 0);
        trap_if(j, L->LLVMBuildAnd(B, minus1, L->LLVMBuildICmp(B, LLVMIntEQ, a, min, ""), ""),
                WASM_TRAP_INT_OVERFLOW);
        jit_push(j, L->LLVMBuildSDiv(B, a, b, ""));
        return true;
    }
    jit_push(j, rem ? L->LLVMBuildURem(B, a, b, "") : L->LLVMBuildUDiv(B, a, b, ""));
    return true;
}

/* Float-to-int conversions that trap: NaN is an invalid conversion, a
 * value outside (lo, hi) an overflow; the bounds are the interpreter's. */
static bool truncate(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    double lo, hi;
    bool sign, wide;
    switch (op) {
    case WASM_OP_I32_TRUNC_F32_S: lo = -2147483904.0, hi = 2147483648.0, sign = 1, wide = 0; break;
    case WASM_OP_I32_TRUNC_F32_U: lo = -1.0, hi = 4294967296.0, sign = 0, wide = 0; break;
    case WASM_OP_I32_TRUNC_F64_S: lo = -2147483649.0, hi = 2147483648.0, sign = 1, wide = 0; break;
    case WASM_OP_I32_TRUNC_F64_U: lo = -1.0, hi = 4294967296.0, sign = 0, wide = 0; break;
    case WASM_OP_I64_TRUNC_F32_S:
        lo = -9223373136366403584.0, hi = 9223372036854775808.0, sign = 1, wide = 1;
        break;
    case WASM_OP_I64_TRUNC_F32_U: lo = -1.0, hi = 18446744073709551616.0, sign = 0, wide = 1; break;
    case WASM_OP_I64_TRUNC_F64_S:
        lo = -9223372036854777856.0, hi = 9223372036854775808.0, sign = 1, wide = 1;
        break;
    case WASM_OP_I64_TRUNC_F64_U: lo = -1.0, hi = 18446744073709551616.0, sign = 0, wide = 1; break;
    default: return false;
    }
    LLVMValueRef a = jit_pop(j);
    LLVMTypeRef ft = L->LLVMTypeOf(a), it = wide ? ty_i64(j) : ty_i32(j);
    trap_if(j, L->LLVMBuildFCmp(B, LLVMRealUNO, a, a, ""), WASM_TRAP_BAD_CONVERSION);
    /* every bound is exact in the float type (a power of two, or a
     * neighbour of one the type can hold) */
    LLVMValueRef vlo = L->LLVMConstReal(ft, lo), vhi = L->LLVMConstReal(ft, hi);
    LLVMValueRef in = L->LLVMBuildAnd(B, L->LLVMBuildFCmp(B, LLVMRealOGT, a, vlo, ""),
                                      L->LLVMBuildFCmp(B, LLVMRealOLT, a, vhi, ""), "");
    trap_if(j, L->LLVMBuildNot(B, in, ""), WASM_TRAP_INT_OVERFLOW);
    jit_push(j, sign ? L->LLVMBuildFPToSI(B, a, it, "") : L->LLVMBuildFPToUI(B, a, it, ""));
    return true;
}

/* `v` through an empty inline asm: the same bits, which LLVM can no
 * longer see. Wasm wants a signalling NaN quieted by every arithmetic
 * operation, and LLVM folds x * 1.0, x / -1.0, x - 0.0 and
 * demote(promote x) to x (or -x), keeping it signalling (LLVM does not
 * promise to quiet NaNs, and LLVM 19 cannot lower llvm.canonicalize on
 * x86). A float constant hidden this way is still loaded once and hoisted
 * out of loops: the asm has no side effect. Integers sit in a
 * general-purpose register, floats and vectors in an SSE one. (Loads need
 * no hiding from LLVM's narrowing: jit_load keeps every bit wanted.) */
LLVMValueRef jit_opaque(jit *j, LLVMValueRef v) {
    const wasm_llvm *L = j->L;
    LLVMTypeRef t = L->LLVMTypeOf(v);
    LLVMTypeRef fty = L->LLVMFunctionType(t, &t, 1, 0);
    bool gpr = L->LLVMGetTypeKind(t) == LLVMIntegerTypeKind;
    LLVMValueRef as =
        L->LLVMGetInlineAsm(fty, "", 0, gpr ? "=r,0" : "=x,0", 4, 0, 0, LLVMInlineAsmDialectATT, 0);
    LLVMValueRef r = L->LLVMBuildCall2(j->B, fty, as, &v, 1, "");
    /* memory(none): without it LLVM takes the asm as reading and writing
     * any memory, and keeps loads from being combined, hoisted or
     * forwarded across it */
    unsigned kind = L->LLVMGetEnumAttributeKindForName("memory", 6);
    L->LLVMAddCallSiteAttribute(r, LLVMAttributeFunctionIndex,
                                L->LLVMCreateEnumAttribute(j->C, kind, 0));
    return r;
}

/* The operand of an arithmetic operation, hidden from LLVM's folds when it
 * is a constant or a conversion that a fold could undo (see opaque). */
static LLVMValueRef operand(jit *j) {
    const wasm_llvm *L = j->L;
    LLVMValueRef v = jit_pop(j);
    if (L->LLVMIsConstant(v) || L->LLVMIsAFPExtInst(v) || L->LLVMIsAFPTruncInst(v))
        v = jit_opaque(j, v);
    return v;
}

/* Float operations, conversions and reinterpretations: none traps. NaN
 * results are whatever the hardware gives, which the spec allows
 * (arithmetic NaNs); abs, neg and copysign only touch the sign bit. */
static bool float_op(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMContextRef C = j->C;
    LLVMTypeRef f32 = L->LLVMFloatTypeInContext(C), f64 = L->LLVMDoubleTypeInContext(C);
    LLVMTypeRef i32 = ty_i32(j), i64 = ty_i64(j);
    LLVMValueRef r;
    switch (op) {
#define FBIN(o32, o64, build)                                                                      \
    case WASM_OP_##o32:                                                                            \
    case WASM_OP_##o64: {                                                                          \
        LLVMValueRef b = operand(j), a = operand(j);                                               \
        r = L->build(B, a, b, "");                                                                 \
        break;                                                                                     \
    }
        FBIN(F32_ADD, F64_ADD, LLVMBuildFAdd)
        FBIN(F32_SUB, F64_SUB, LLVMBuildFSub)
        FBIN(F32_MUL, F64_MUL, LLVMBuildFMul)
        FBIN(F32_DIV, F64_DIV, LLVMBuildFDiv)
#undef FBIN
#define FCMP(o32, o64, pred)                                                                       \
    case WASM_OP_##o32:                                                                            \
    case WASM_OP_##o64: {                                                                          \
        LLVMValueRef b = jit_pop(j), a = jit_pop(j);                                               \
        r = L->LLVMBuildZExt(B, L->LLVMBuildFCmp(B, pred, a, b, ""), i32, "");                     \
        break;                                                                                     \
    }
        FCMP(F32_EQ, F64_EQ, LLVMRealOEQ)
        FCMP(F32_NE, F64_NE, LLVMRealUNE)
        FCMP(F32_LT, F64_LT, LLVMRealOLT)
        FCMP(F32_GT, F64_GT, LLVMRealOGT)
        FCMP(F32_LE, F64_LE, LLVMRealOLE)
        FCMP(F32_GE, F64_GE, LLVMRealOGE)
#undef FCMP
#define FINTR(o32, o64, name, n)                                                                   \
    case WASM_OP_##o32:                                                                            \
    case WASM_OP_##o64: {                                                                          \
        LLVMValueRef args[2];                                                                      \
        if (n == 2) args[1] = jit_pop(j);                                                          \
        args[0] = jit_pop(j);                                                                      \
        LLVMTypeRef t = L->LLVMTypeOf(args[0]);                                                    \
        r = jit_intrinsic(j, name, &t, 1, args, n);                                                \
        break;                                                                                     \
    }
        FINTR(F32_ABS, F64_ABS, "llvm.fabs", 1)
        FINTR(F32_CEIL, F64_CEIL, "llvm.ceil", 1)
        FINTR(F32_FLOOR, F64_FLOOR, "llvm.floor", 1)
        FINTR(F32_TRUNC, F64_TRUNC, "llvm.trunc", 1)
        FINTR(F32_NEAREST, F64_NEAREST, "llvm.roundeven", 1)
        FINTR(F32_SQRT, F64_SQRT, "llvm.sqrt", 1)
        FINTR(F32_COPYSIGN, F64_COPYSIGN, "llvm.copysign", 2)
#undef FINTR
    case WASM_OP_F32_NEG:
    case WASM_OP_F64_NEG: r = L->LLVMBuildFNeg(B, jit_pop(j), ""); break;
    case WASM_OP_F32_MIN:
    case WASM_OP_F64_MIN:
    case WASM_OP_F32_MAX:
    case WASM_OP_F64_MAX: {
        /* llvm.minimum/maximum order -0 below +0 as Wasm does, but hand a
         * signalling NaN back as it came; Wasm wants it quiet (an
         * arithmetic NaN), which an addition of the operands gives */
        bool min = op == WASM_OP_F32_MIN || op == WASM_OP_F64_MIN;
        LLVMValueRef args[2];
        args[1] = jit_pop(j);
        args[0] = jit_pop(j);
        LLVMTypeRef t = L->LLVMTypeOf(args[0]);
        LLVMValueRef m = jit_intrinsic(j, min ? "llvm.minimum" : "llvm.maximum", &t, 1, args, 2);
        r = L->LLVMBuildSelect(B, L->LLVMBuildFCmp(B, LLVMRealUNO, args[0], args[1], ""),
                               L->LLVMBuildFAdd(B, args[0], args[1], ""), m, "");
        break;
    }
#define CONV(op, build, t)                                                                         \
    case WASM_OP_##op: r = L->build(B, jit_pop(j), t, ""); break;
        CONV(F32_CONVERT_I32_S, LLVMBuildSIToFP, f32)
        CONV(F32_CONVERT_I32_U, LLVMBuildUIToFP, f32)
        CONV(F32_CONVERT_I64_S, LLVMBuildSIToFP, f32)
        CONV(F32_CONVERT_I64_U, LLVMBuildUIToFP, f32)
        CONV(F64_CONVERT_I32_S, LLVMBuildSIToFP, f64)
        CONV(F64_CONVERT_I32_U, LLVMBuildUIToFP, f64)
        CONV(F64_CONVERT_I64_S, LLVMBuildSIToFP, f64)
        CONV(F64_CONVERT_I64_U, LLVMBuildUIToFP, f64)
    case WASM_OP_F32_DEMOTE_F64: r = L->LLVMBuildFPTrunc(B, operand(j), f32, ""); break;
    case WASM_OP_F64_PROMOTE_F32: r = L->LLVMBuildFPExt(B, operand(j), f64, ""); break;
    case WASM_OP_I32_REINTERPRET_F32:
    case WASM_OP_I64_REINTERPRET_F64:
        r = L->LLVMBuildBitCast(B, jit_pop(j), op == WASM_OP_I32_REINTERPRET_F32 ? i32 : i64, "");
        break;
        CONV(F32_REINTERPRET_I32, LLVMBuildBitCast, f32)
        CONV(F64_REINTERPRET_I64, LLVMBuildBitCast, f64)
#undef CONV
#define SAT(op, name, it)                                                                          \
    case WASM_OP_##op: {                                                                           \
        LLVMValueRef a = jit_pop(j);                                                               \
        LLVMTypeRef tys[2] = {it, L->LLVMTypeOf(a)};                                               \
        r = jit_intrinsic(j, name, tys, 2, &a, 1);                                                 \
        break;                                                                                     \
    }
        SAT(I32_TRUNC_SAT_F32_S, "llvm.fptosi.sat", i32)
        SAT(I32_TRUNC_SAT_F32_U, "llvm.fptoui.sat", i32)
        SAT(I32_TRUNC_SAT_F64_S, "llvm.fptosi.sat", i32)
        SAT(I32_TRUNC_SAT_F64_U, "llvm.fptoui.sat", i32)
        SAT(I64_TRUNC_SAT_F32_S, "llvm.fptosi.sat", i64)
        SAT(I64_TRUNC_SAT_F32_U, "llvm.fptoui.sat", i64)
        SAT(I64_TRUNC_SAT_F64_S, "llvm.fptosi.sat", i64)
        SAT(I64_TRUNC_SAT_F64_U, "llvm.fptoui.sat", i64)
#undef SAT
    default: return false;
    }
    jit_push(j, r);
    return true;
}

/* ---- calls ------------------------------------------------------------------
 * Compiled functions call each other directly in the callee's type's
 * convention (j->type_cc: tailcc where tail calls need it), the first
 * result returned and the others written through `out` (func_type). A tail call (return_call, and
 * return_call_indirect that finds compiled code of its own instance) is a
 * musttail call passing this function's own `out` on: a jump, whatever
 * the callee's type, so that tail recursion runs in constant stack.
 * Everything else is called through the runtime with its arguments and
 * results in cells of this frame (a host function, an interpreted one,
 * another instance's code, whose memory's faults the trap frame must
 * cover while it runs); a tail call there is a call and a return. */

/* Cell `k` of the array `cells` (wasm_cell, 64 bits each). */
static LLVMValueRef cell_at(jit *j, LLVMValueRef cells, uint32_t k) {
    LLVMValueRef at = j->L->LLVMConstInt(ty_i64(j), k, 0);
    return j->L->LLVMBuildInBoundsGEP2(j->B, ty_i64(j), cells, &at, 1, "");
}

/* Stores `v` of type t at `cell` as the interpreter keeps it: an i32 or
 * f32 in the low half of a 64-bit cell, zero above; a v128 in two cells,
 * its bytes in memory order (wasm_cells). */
static void store_cell(jit *j, LLVMValueRef v, wasm_valtype t, LLVMValueRef cell) {
    const wasm_llvm *L = j->L;
    if (t == WASM_F32) v = L->LLVMBuildBitCast(j->B, v, ty_i32(j), "");
    if (t == WASM_F64) v = L->LLVMBuildBitCast(j->B, v, ty_i64(j), "");
    if (t == WASM_I32 || t == WASM_F32) v = L->LLVMBuildZExt(j->B, v, ty_i64(j), "");
    /* cells are 8-byte aligned; a vector type's own alignment is 16 */
    L->LLVMSetAlignment(L->LLVMBuildStore(j->B, v, cell), 8);
}

/* A value of type t read back from `cell`. */
static LLVMValueRef load_cell(jit *j, LLVMValueRef cell, wasm_valtype t) {
    LLVMValueRef v = j->L->LLVMBuildLoad2(j->B, jit_val_type(j, t), cell, "");
    j->L->LLVMSetAlignment(v, 8);
    return v;
}

/* Room for n cells in this frame: an alloca in the entry block (one per
 * call site), 8-byte aligned as cells are. */
static LLVMValueRef frame_cells(jit *j, uint32_t n) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    LLVMBasicBlockRef here = L->LLVMGetInsertBlock(B);
    LLVMBasicBlockRef entry = L->LLVMGetEntryBasicBlock(j->self);
    L->LLVMPositionBuilderBefore(B, L->LLVMGetFirstInstruction(entry));
    LLVMValueRef cells =
        L->LLVMBuildArrayAlloca(B, ty_i64(j), L->LLVMConstInt(ty_i32(j), n ? n : 1, 0), "cells");
    L->LLVMPositionBuilderAtEnd(B, here);
    return cells;
}

/* The arguments `args` of a call of type `ft` stored in cells of this
 * frame, laid out as the interpreter's frames are, with room for the
 * results. */
static LLVMValueRef store_args(jit *j, const wasm_functype *ft, LLVMValueRef *args) {
    uint32_t np = 0, nr = 0;
    for (uint32_t i = 0; i < ft->nparams; i++)
        np += wasm_cells(ft->params[i]);
    for (uint32_t i = 0; i < ft->nresults; i++)
        nr += wasm_cells(ft->results[i]);
    LLVMValueRef cells = frame_cells(j, np > nr ? np : nr);
    for (uint32_t i = 0, k = 0; i < ft->nparams; k += wasm_cells(ft->params[i++]))
        store_cell(j, args[i], ft->params[i], cell_at(j, cells, k));
    return cells;
}

/* The arguments of a call of type `ft`, popped into cells (store_args). */
static LLVMValueRef spill_args(jit *j, const wasm_functype *ft) {
    j->sp -= ft->nparams;
    return store_args(j, ft, j->stack + j->sp);
}

/* The results of a call made through cells, pushed. */
static void push_results(jit *j, LLVMValueRef cells, const wasm_functype *ft) {
    for (uint32_t i = 0, k = 0; i < ft->nresults; k += wasm_cells(ft->results[i++]))
        jit_push(j, load_cell(j, cell_at(j, cells, k), ft->results[i]));
}

/* A call to an imported function: through its wasm_funcinst and the
 * runtime (a host function, an interpreted one, or compiled code of
 * another instance), the arguments and results in cells on this frame. */
static bool call_import(jit *j, uint32_t callee, const wasm_functype *ft) {
    const wasm_llvm *L = j->L;
    LLVMValueRef cells = spill_args(j, ft);
    LLVMValueRef inst = L->LLVMGetParam(j->self, 1);
    LLVMValueRef funcs = load_at(j, ty_ptr(j), inst, offsetof(wasm_instance, funcs), "funcs");
    LLVMValueRef k = L->LLVMConstInt(ty_i64(j), callee, 0);
    LLVMValueRef f = L->LLVMBuildLoad2(
        j->B, ty_ptr(j), L->LLVMBuildInBoundsGEP2(j->B, ty_ptr(j), funcs, &k, 1, ""), "");
    LLVMValueRef args[4] = {L->LLVMGetParam(j->self, 0), inst, f, cells};
    L->LLVMBuildCall2(j->B, j->call_ty, j->call_fn, args, 4, "");
    push_results(j, cells, ft);
    return true;
}

/* A bulk memory or table operation through wasm_jit_bulk; its result is
 * a trap code (raised here, at the instruction's site) or, for
 * table.grow, the old size. */
static bool bulk(jit *j, const wasm_instr *ins) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    uint32_t imm0 = 0, imm1 = 0, nops = 3;
    switch (ins->op) {
    case WASM_OP_MEMORY_FILL:
    case WASM_OP_MEMORY_COPY: break;
    case WASM_OP_MEMORY_INIT:
    case WASM_OP_TABLE_FILL: imm0 = ins->imm.index; break;
    case WASM_OP_DATA_DROP:
    case WASM_OP_ELEM_DROP: imm0 = ins->imm.index, nops = 0; break;
    case WASM_OP_TABLE_GROW: imm0 = ins->imm.index, nops = 2; break;
    case WASM_OP_TABLE_COPY:
    case WASM_OP_TABLE_INIT: imm0 = ins->imm.pair.a, imm1 = ins->imm.pair.b; break;
    default: return false;
    }
    LLVMValueRef args[7] = {L->LLVMGetParam(j->self, 1),
                            L->LLVMConstInt(ty_i32(j), ins->op, 0),
                            L->LLVMConstInt(ty_i32(j), imm0, 0),
                            L->LLVMConstInt(ty_i32(j), imm1, 0),
                            NULL,
                            NULL,
                            NULL};
    for (uint32_t i = 0; i < 3; i++)
        args[4 + i] = L->LLVMConstInt(ty_i64(j), 0, 0);
    j->sp -= nops;
    for (uint32_t i = 0; i < nops; i++) {
        LLVMValueRef v = j->stack[j->sp + i];
        args[4 + i] = L->LLVMTypeOf(v) == ty_ptr(j) ? L->LLVMBuildPtrToInt(B, v, ty_i64(j), "")
                                                    : L->LLVMBuildZExt(B, v, ty_i64(j), "");
    }
    LLVMValueRef r = L->LLVMBuildCall2(B, j->bulk_ty, j->bulk_fn, args, 7, "");
    if (ins->op == WASM_OP_TABLE_GROW) {
        jit_push(j, L->LLVMBuildTrunc(B, r, ty_i32(j), ""));
        return true;
    }
    if (ins->op == WASM_OP_DATA_DROP || ins->op == WASM_OP_ELEM_DROP) return true;
    LLVMBasicBlockRef bad = new_block(j, "trap"), ok = new_block(j, "ok");
    L->LLVMBuildCondBr(B, L->LLVMBuildICmp(B, LLVMIntNE, r, L->LLVMConstInt(ty_i64(j), 0, 0), ""),
                       bad, ok);
    L->LLVMPositionBuilderAtEnd(B, bad);
    LLVMValueRef targs[4] = {L->LLVMGetParam(j->self, 0), L->LLVMBuildTrunc(B, r, ty_i32(j), ""),
                             L->LLVMConstInt(ty_i64(j), j->site, 0), frame_addr(j)};
    L->LLVMBuildCall2(B, j->trap_ty, j->trap_fn, targs, 4, "");
    L->LLVMBuildUnreachable(B);
    L->LLVMPositionBuilderAtEnd(B, ok);
    return true;
}

/* Table `t`'s object: inst->tables[t]. */
static LLVMValueRef table_obj(jit *j, uint32_t t) {
    const wasm_llvm *L = j->L;
    LLVMValueRef tables = load_at(j, ty_ptr(j), L->LLVMGetParam(j->self, 1),
                                  offsetof(wasm_instance, tables), "tables");
    LLVMValueRef k = L->LLVMConstInt(ty_i64(j), t, 0);
    return L->LLVMBuildLoad2(j->B, ty_ptr(j),
                             L->LLVMBuildInBoundsGEP2(j->B, ty_ptr(j), tables, &k, 1, ""), "table");
}

/* The address of entry `index` of table `t`, after its bounds check. */
static LLVMValueRef table_entry(jit *j, uint32_t t, LLVMValueRef index) {
    const wasm_llvm *L = j->L;
    LLVMValueRef obj = table_obj(j, t);
    LLVMValueRef size = load_at(j, ty_i32(j), obj, offsetof(wasm_table_obj, size), "size");
    trap_if(j, L->LLVMBuildICmp(j->B, LLVMIntUGE, index, size, ""), WASM_TRAP_OOB_TABLE);
    LLVMValueRef elems = load_at(j, ty_ptr(j), obj, offsetof(wasm_table_obj, elems), "elems");
    LLVMValueRef k = L->LLVMBuildZExt(j->B, index, ty_i64(j), "");
    return L->LLVMBuildGEP2(j->B, ty_ptr(j), elems, &k, 1, "");
}

/* A call of compiled code `fn` of Wasm type `ti` in the module's
 * convention, on instance `inst`, with `args`, marked `kind`: notail
 * (LLVM would otherwise turn unbounded recursion into an endless loop,
 * where Wasm wants the stack exhausted), or musttail for the tail calls,
 * which then pass on this function's own `out` (the callee's results are
 * this function's). With several results, *vals takes them all (after a
 * call that is not a tail call); else the first result, or the call. */
static LLVMValueRef call_compiled(jit *j, uint32_t ti, LLVMValueRef fn, LLVMValueRef inst,
                                  LLVMValueRef *args, LLVMTailCallKind kind, LLVMValueRef *vals) {
    const wasm_llvm *L = j->L;
    const wasm_functype *ft = &j->m->types[ti];
    LLVMValueRef argv[3 + JIT_MAX_PARAMS], out = NULL;
    argv[0] = L->LLVMGetParam(j->self, 0);
    argv[1] = inst;
    memcpy(argv + 2, args, ft->nparams * sizeof args[0]);
    uint32_t n = 2 + ft->nparams;
    if (ft->nresults > 1) {
        if (kind == LLVMTailCallKindMustTail) {
            const wasm_functype *own = &j->m->types[j->m->funcs[j->func].type];
            out = L->LLVMGetParam(j->self, 2 + own->nparams);
        } else {
            uint32_t nr = 0;
            for (uint32_t i = 1; i < ft->nresults; i++)
                nr += wasm_cells(ft->results[i]);
            out = frame_cells(j, nr);
        }
        argv[n++] = out;
    }
    LLVMValueRef r = L->LLVMBuildCall2(j->B, func_type(j, ti), fn, argv, n, "");
    L->LLVMSetInstructionCallConv(r, j->type_cc[ti]);
    L->LLVMSetTailCallKind(r, kind);
    if (ft->nresults > 1 && kind != LLVMTailCallKindMustTail) {
        vals[0] = r;
        for (uint32_t i = 1, k = 0; i < ft->nresults; k += wasm_cells(ft->results[i++]))
            vals[i] = load_cell(j, cell_at(j, out, k), ft->results[i]);
    } else if (vals) {
        vals[0] = r;
    }
    return r;
}

/* Ends the current block with a tail call's result: `r` returned as it
 * came (what musttail requires; the results after the first are already
 * in `out`). */
static void return_tail(jit *j, uint32_t ti, LLVMValueRef r) {
    if (j->m->types[ti].nresults)
        j->L->LLVMBuildRet(j->B, r);
    else
        j->L->LLVMBuildRetVoid(j->B);
}

/* call and return_call (`tail`) of function `callee`, its arguments
 * popped, its results pushed. A defined function is called directly; a
 * return_call to one is a jump (musttail), whatever its type. An import
 * (a host function, an interpreted one, or another instance's code) is
 * called through the runtime, wasm_jit_call; a return_call to one is
 * that call followed by a return, so this frame stays on the stack while
 * the import runs: a chain of tail calls through imports is bounded by
 * the stack (a trap when it runs out), not constant. */
static bool call(jit *j, uint32_t callee, bool tail) {
    const wasm_llvm *L = j->L;
    uint32_t ti = j->m->funcs[callee].type;
    const wasm_functype *ft = &j->m->types[ti];
    if (j->m->funcs[callee].imported) {
        if (!call_import(j, callee, ft)) return false;
        if (tail) build_return(j);
        return true;
    }
    LLVMValueRef vals[JIT_MAX_PARAMS];
    j->sp -= ft->nparams;
    LLVMValueRef r =
        call_compiled(j, ti, j->fns[callee], L->LLVMGetParam(j->self, 1), j->stack + j->sp,
                      tail ? LLVMTailCallKindMustTail : LLVMTailCallKindNoTail, vals);
    if (tail) {
        return_tail(j, ti, r);
        return true;
    }
    for (uint32_t i = 0; i < ft->nresults; i++)
        jit_push(j, vals[i]);
    return true;
}

/* The address of element `k` of an array of `size`-byte elements at `base`. */
static LLVMValueRef element(jit *j, LLVMValueRef base, LLVMValueRef k, size_t size) {
    const wasm_llvm *L = j->L;
    LLVMValueRef at = L->LLVMBuildMul(j->B, k, L->LLVMConstInt(ty_i64(j), size, 0), "");
    return L->LLVMBuildInBoundsGEP2(j->B, L->LLVMInt8TypeInContext(j->C), base, &at, 1, "");
}

/* call_indirect and return_call_indirect (`tail`). Wasm's checks in its
 * order, each a trap at the instruction's site: an index inside the table
 * (else undefined element), an entry (else uninitialized element), the
 * callee's type. Compiled code of this instance whose type is the
 * instruction's, or a duplicate of it in the type section (a funcinst
 * points at its own declared type; JIT_MAX_DUPLICATES of them), is called
 * directly in the type's
 * convention: a return_call_indirect jumps to it (musttail), whatever its
 * type. Anything else goes to the runtime, wasm_jit_call_indirect: another
 * instance's code (whose memory's faults must be traps: the trap frame's
 * range moves with the call), an interpreted or host function, a type of
 * another module that may still be equal, and a mismatch, which it traps;
 * a return_call_indirect there is a call followed by a return, as for an
 * import. */
static bool call_indirect(jit *j, const wasm_instr *ins, bool tail) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    uint32_t ti = ins->imm.pair.a, table = ins->imm.pair.b;
    const wasm_functype *ft = &j->m->types[ti];
    LLVMValueRef index = jit_pop(j), inst = L->LLVMGetParam(j->self, 1);
    LLVMValueRef args[JIT_MAX_PARAMS], fast_vals[JIT_MAX_PARAMS], slow_vals[JIT_MAX_PARAMS];
    j->sp -= ft->nparams;
    memcpy(args, j->stack + j->sp, ft->nparams * sizeof args[0]);
    LLVMValueRef obj = table_obj(j, table);
    LLVMValueRef size = load_at(j, ty_i32(j), obj, offsetof(wasm_table_obj, size), "size");
    trap_if(j, L->LLVMBuildICmp(B, LLVMIntUGE, index, size, ""), WASM_TRAP_UNDEFINED_ELEMENT);
    LLVMValueRef elems = load_at(j, ty_ptr(j), obj, offsetof(wasm_table_obj, elems), "elems");
    LLVMValueRef k = L->LLVMBuildZExt(B, index, ty_i64(j), "");
    LLVMValueRef f =
        L->LLVMBuildLoad2(B, ty_ptr(j), L->LLVMBuildGEP2(B, ty_ptr(j), elems, &k, 1, ""), "f");
    LLVMValueRef null = L->LLVMConstNull(ty_ptr(j));
    trap_if(j, L->LLVMBuildICmp(B, LLVMIntEQ, f, null, ""), WASM_TRAP_NULL_CALL);
    LLVMValueRef fty = load_at(j, ty_ptr(j), f, offsetof(wasm_funcinst, type), "type");
    LLVMValueRef finst = load_at(j, ty_ptr(j), f, offsetof(wasm_funcinst, inst), "inst");
    LLVMValueRef native = load_at(j, ty_ptr(j), f, offsetof(wasm_funcinst, native), "native");
    LLVMValueRef module = load_at(j, ty_ptr(j), inst, offsetof(wasm_instance, module), "module");
    LLVMValueRef types = load_at(j, ty_ptr(j), module, offsetof(wasm_module, types), "types");
    LLVMValueRef same = L->LLVMConstInt(L->LLVMInt1TypeInContext(j->C), 0, 0);
    uint32_t n = 0;
    for (uint32_t t = j->type_class[ti]; t != UINT32_MAX && n < JIT_MAX_DUPLICATES;
         t = j->type_next[t], n++) {
        LLVMValueRef at = element(j, types, L->LLVMConstInt(ty_i64(j), t, 0), sizeof *ft);
        same = L->LLVMBuildOr(B, same, L->LLVMBuildICmp(B, LLVMIntEQ, fty, at, ""), "");
    }
    /* this instance's functions all have native code (instance.c binds it
     * with the instance); the check costs a compare and keeps a NULL from
     * being called if that ever changes */
    LLVMValueRef fast =
        L->LLVMBuildAnd(B, same, L->LLVMBuildICmp(B, LLVMIntEQ, finst, inst, ""), "");
    fast = L->LLVMBuildAnd(B, fast, L->LLVMBuildICmp(B, LLVMIntNE, native, null, ""), "");
    LLVMBasicBlockRef fast_bb = new_block(j, "native"), slow_bb = new_block(j, "runtime");
    LLVMBasicBlockRef join = tail ? NULL : new_block(j, "called");
    L->LLVMBuildCondBr(B, fast, fast_bb, slow_bb);
    L->LLVMPositionBuilderAtEnd(B, fast_bb);
    LLVMValueRef r =
        call_compiled(j, ti, native, inst, args,
                      tail ? LLVMTailCallKindMustTail : LLVMTailCallKindNoTail, fast_vals);
    if (tail)
        return_tail(j, ti, r);
    else
        L->LLVMBuildBr(B, join);
    LLVMBasicBlockRef fast_end = L->LLVMGetInsertBlock(B);
    L->LLVMPositionBuilderAtEnd(B, slow_bb);
    LLVMValueRef cells = store_args(j, ft, args);
    LLVMValueRef rargs[7] = {
        L->LLVMGetParam(j->self, 0),           inst,  L->LLVMConstInt(ty_i32(j), table, 0),
        L->LLVMConstInt(ty_i32(j), ti, 0),     index, cells,
        L->LLVMConstInt(ty_i64(j), j->site, 0)};
    L->LLVMBuildCall2(B, j->call_indirect_ty, j->call_indirect_fn, rargs, 7, "");
    for (uint32_t i = 0, c = 0; i < ft->nresults; c += wasm_cells(ft->results[i++]))
        slow_vals[i] = load_cell(j, cell_at(j, cells, c), ft->results[i]);
    if (tail) {
        return_values(j, slow_vals);
        return true;
    }
    L->LLVMBuildBr(B, join);
    LLVMBasicBlockRef slow_end = L->LLVMGetInsertBlock(B);
    L->LLVMPositionBuilderAtEnd(B, join);
    for (uint32_t i = 0; i < ft->nresults; i++) {
        LLVMValueRef phi = L->LLVMBuildPhi(B, jit_val_type(j, ft->results[i]), "r");
        L->LLVMAddIncoming(phi, &fast_vals[i], &fast_end, 1);
        L->LLVMAddIncoming(phi, &slow_vals[i], &slow_end, 1);
        jit_push(j, phi);
    }
    return true;
}

/* br_table: a switch over the index, the last target the default. One
 * block per frame the table names (a table of thousands of entries
 * names few), which branches there with the operands it carries. */
static bool br_table(jit *j, const wasm_instr *ins) {
    const wasm_llvm *L = j->L;
    LLVMValueRef index = jit_pop(j);
    uint32_t n = ins->imm.br_table.ntargets;
    wasm_error rerr;
    wasm_reader r = {j->m->bytes, ins->imm.br_table.targets, j->m->bytes + j->m->size, &rerr};
    LLVMBasicBlockRef from = L->LLVMGetInsertBlock(j->B);
    LLVMBasicBlockRef *by_depth = calloc(j->nframes, sizeof *by_depth);
    uint32_t *depths = malloc((n + 1) * sizeof *depths);
    if (!by_depth || !depths) {
        free(by_depth);
        free(depths);
        return jit_refuse(j, "a br_table (out of memory)");
    }
    bool ok = true;
    for (uint32_t i = 0; ok && i <= n; i++) {
        ok = wasm_read_u32(&r, &depths[i]) && depths[i] < j->nframes;
        if (!ok || by_depth[depths[i]]) continue;
        LLVMBasicBlockRef bb = by_depth[depths[i]] = new_block(j, "case");
        L->LLVMPositionBuilderAtEnd(j->B, bb);
        jframe *f = &j->frames[j->nframes - 1 - depths[i]];
        if (f->kind == WASM_OP_END)
            build_return(j);
        else
            branch_to(j, f, bb);
    }
    if (ok) {
        L->LLVMPositionBuilderAtEnd(j->B, from);
        LLVMValueRef sw = L->LLVMBuildSwitch(j->B, index, by_depth[depths[n]], n);
        for (uint32_t i = 0; i < n; i++)
            L->LLVMAddCase(sw, L->LLVMConstInt(ty_i32(j), i, 0), by_depth[depths[i]]);
        j->frames[j->nframes - 1].dead = true;
    }
    free(by_depth);
    free(depths);
    return ok ? true : jit_refuse(j, "a br_table it cannot read");
}

static bool on_locals(void *ud, uint32_t nlocals, const wasm_valtype *types) {
    jit *j = ud;
    const wasm_llvm *L = j->L;
    j->nlocals = nlocals;
    j->locals = calloc(nlocals ? nlocals : 1, sizeof *j->locals);
    j->local_types = calloc(nlocals ? nlocals : 1, sizeof *j->local_types);
    if (!j->locals || !j->local_types) return jit_refuse(j, "a function (out of memory)");
    uint32_t nparams = j->m->types[j->m->funcs[j->func].type].nparams;
    /* the entry's checks trap at the function's start; a site is the
     * offset alone (see WASM_SITE_NONE) */
    j->site = j->m->funcs[j->func].body_offset;
    for (uint32_t i = 0; i < nlocals; i++) {
        LLVMTypeRef t = jit_val_type(j, types[i]);
        j->local_types[i] = t;
        j->locals[i] = L->LLVMBuildAlloca(j->B, t, "");
        L->LLVMBuildStore(j->B, i < nparams ? L->LLVMGetParam(j->self, 2 + i) : L->LLVMConstNull(t),
                          j->locals[i]);
    }
    if (j->m->nmemories)
        j->mem_base = load_at(j, ty_ptr(j), L->LLVMGetParam(j->self, 1),
                              offsetof(wasm_instance, mem_base), "mem");
    build_check(j);
    /* the function's own frame: `return` and the final `end` go here */
    jframe *f = &j->frames[j->nframes++];
    memset(f, 0, sizeof *f);
    f->kind = WASM_OP_END;
    return true;
}

static bool on_instr(void *ud, const wasm_instr *ins) {
    jit *j = ud;
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    jframe *top = &j->frames[j->nframes - 1];
    j->site = (uint32_t)(ins->at - j->m->bytes);
    /* room for what one instruction pushes (a call: up to JIT_MAX_PARAMS
     * results); the validator bounds nothing here, the module is untrusted */
    if (j->sp + JIT_MAX_PARAMS + 2 > JIT_MAX_STACK)
        return jit_refuse(j, "functions this deep in operands");
    if (top->dead) {
        /* skipped code: only the structure matters */
        switch (ins->op) {
        case WASM_OP_BLOCK:
        case WASM_OP_LOOP:
        case WASM_OP_IF: {
            if (j->nframes == JIT_MAX_FRAMES) return jit_refuse(j, "blocks nested this deep");
            jframe *f = &j->frames[j->nframes++];
            memset(f, 0, sizeof *f);
            f->kind = ins->op;
            f->dead = f->skipped = true;
            return true;
        }
        case WASM_OP_ELSE:
            if (top->skipped || !top->else_bb) return true;
            /* the else arm of a reachable if is reachable */
            L->LLVMPositionBuilderAtEnd(B, top->else_bb);
            top->else_bb = NULL;
            top->dead = false;
            j->sp = top->height;
            for (uint32_t i = 0; i < top->nparams; i++)
                jit_push(j, j->pool[top->params + i]);
            return true;
        case WASM_OP_END: break; /* handled below */
        default: return true;
        }
    }
    switch (ins->op) {
    case WASM_OP_NOP: return true;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP: {
        LLVMBasicBlockRef from = L->LLVMGetInsertBlock(B);
        if (!open_frame(j, ins->op, &ins->imm.block)) return false;
        jframe *f = &j->frames[j->nframes - 1];
        if (ins->op == WASM_OP_LOOP) {
            L->LLVMPositionBuilderAtEnd(B, from);
            L->LLVMBuildBr(B, f->target);
            L->LLVMPositionBuilderAtEnd(B, f->target);
            build_check(j);
        }
        return true;
    }
    case WASM_OP_IF: {
        LLVMValueRef c = jit_pop(j);
        if (!open_frame(j, ins->op, &ins->imm.block)) return false;
        jframe *f = &j->frames[j->nframes - 1];
        LLVMBasicBlockRef then = new_block(j, "then");
        f->else_bb = new_block(j, "else");
        L->LLVMBuildCondBr(B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""),
                           then, f->else_bb);
        L->LLVMPositionBuilderAtEnd(B, then);
        return true;
    }
    case WASM_OP_ELSE: {
        /* the then arm falls through to the end */
        fall_through(j, top);
        L->LLVMPositionBuilderAtEnd(B, top->else_bb);
        top->else_bb = NULL;
        j->sp = top->height;
        for (uint32_t i = 0; i < top->nparams; i++)
            jit_push(j, j->pool[top->params + i]);
        return true;
    }
    case WASM_OP_END: {
        if (top->skipped) {
            j->nframes--;
            return true;
        }
        if (top->kind == WASM_OP_END) { /* the function's end */
            if (!top->dead) build_return(j);
            j->nframes--;
            return true;
        }
        if (!top->dead) fall_through(j, top);
        if (top->else_bb) {
            /* an if without else: its empty else arm hands its parameters
             * on as its results (the validator made them the same types) */
            L->LLVMPositionBuilderAtEnd(B, top->else_bb);
            for (uint32_t i = 0; i < top->nres; i++)
                L->LLVMAddIncoming(j->pool[top->phis + i], &j->pool[top->params + i], &top->else_bb,
                                   1);
            L->LLVMBuildBr(B, top->end);
        }
        L->LLVMPositionBuilderAtEnd(B, top->end);
        j->sp = top->height;
        for (uint32_t i = 0; i < top->nres; i++)
            jit_push(j, j->pool[top->phis + i]);
        j->nframes--;
        /* an end no branch reaches: what follows cannot run either */
        if (!L->LLVMGetFirstUse(L->LLVMBasicBlockAsValue(top->end))) {
            L->LLVMBuildUnreachable(B);
            j->frames[j->nframes - 1].dead = true;
        }
        return true;
    }
    case WASM_OP_BR:
    case WASM_OP_BR_IF: {
        LLVMValueRef c = ins->op == WASM_OP_BR_IF ? jit_pop(j) : NULL;
        jframe *f = &j->frames[j->nframes - 1 - ins->imm.index];
        LLVMBasicBlockRef from = L->LLVMGetInsertBlock(B);
        if (f->kind == WASM_OP_END) { /* a branch out of the function: a return */
            if (c) {
                LLVMBasicBlockRef ret = new_block(j, "ret"), next = new_block(j, "next");
                L->LLVMBuildCondBr(
                    B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""), ret, next);
                L->LLVMPositionBuilderAtEnd(B, ret);
                build_return(j);
                L->LLVMPositionBuilderAtEnd(B, next);
                return true;
            }
            build_return(j);
            top->dead = true;
            return true;
        }
        if (c) {
            LLVMBasicBlockRef next = new_block(j, "next");
            add_incoming(j, f, from);
            L->LLVMBuildCondBr(B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""),
                               f->target, next);
            L->LLVMPositionBuilderAtEnd(B, next);
            return true;
        }
        branch_to(j, f, from);
        top->dead = true;
        return true;
    }
    case WASM_OP_RETURN:
        build_return(j);
        top->dead = true;
        return true;
    case WASM_OP_CALL: return call(j, ins->imm.index, false) && called(j);
    case WASM_OP_RETURN_CALL:
        /* a real tail call: tail recursion a million deep must not exhaust
         * the stack */
        top->dead = true;
        return call(j, ins->imm.index, true);
    case WASM_OP_CALL_INDIRECT: return call_indirect(j, ins, false) && called(j);
    case WASM_OP_RETURN_CALL_INDIRECT: top->dead = true; return call_indirect(j, ins, true);
    case WASM_OP_DROP: jit_pop(j); return true;
    case WASM_OP_SELECT:
    case WASM_OP_SELECT_T: {
        LLVMValueRef c = jit_pop(j), b = jit_pop(j), a = jit_pop(j);
        jit_push(
            j, L->LLVMBuildSelect(
                   B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""), a, b, ""));
        return true;
    }
    case WASM_OP_LOCAL_GET:
        jit_push(
            j, L->LLVMBuildLoad2(B, j->local_types[ins->imm.index], j->locals[ins->imm.index], ""));
        return true;
    case WASM_OP_LOCAL_SET:
        L->LLVMBuildStore(B, jit_pop(j), j->locals[ins->imm.index]);
        return true;
    case WASM_OP_LOCAL_TEE:
        L->LLVMBuildStore(B, j->stack[j->sp - 1], j->locals[ins->imm.index]);
        return true;
    case WASM_OP_GLOBAL_GET:
    case WASM_OP_GLOBAL_SET: {
        wasm_valtype t = j->m->globals[ins->imm.index].type.type;
        LLVMValueRef cell = global_cell(j, ins->imm.index);
        if (ins->op == WASM_OP_GLOBAL_GET)
            jit_push(j, load_cell(j, cell, t));
        else
            store_cell(j, jit_pop(j), t, cell);
        return true;
    }
    case WASM_OP_I32_CONST:
        jit_push(j, const_int(j, WASM_I32, (uint32_t)ins->imm.i32));
        return true;
    case WASM_OP_I64_CONST:
        jit_push(j, const_int(j, WASM_I64, (uint64_t)ins->imm.i64));
        return true;
    case WASM_OP_F32_CONST:
        jit_push(j, L->LLVMBuildBitCast(B, const_int(j, WASM_I32, ins->imm.f32),
                                        L->LLVMFloatTypeInContext(j->C), ""));
        return true;
    case WASM_OP_F64_CONST:
        jit_push(j, L->LLVMBuildBitCast(B, const_int(j, WASM_I64, ins->imm.f64),
                                        L->LLVMDoubleTypeInContext(j->C), ""));
        return true;
    case WASM_OP_UNREACHABLE:
        build_trap(j, WASM_TRAP_UNREACHABLE);
        top->dead = true;
        return true;
    case WASM_OP_MEMORY_SIZE: {
        LLVMValueRef mem =
            load_at(j, ty_ptr(j), L->LLVMGetParam(j->self, 1), offsetof(wasm_instance, mem), "");
        LLVMValueRef pages = load_at(j, ty_i64(j), mem, offsetof(wasm_memory, pages), "pages");
        jit_push(j, L->LLVMBuildTrunc(B, pages, ty_i32(j), ""));
        return true;
    }
    case WASM_OP_MEMORY_GROW: {
        LLVMValueRef args[2] = {L->LLVMGetParam(j->self, 1), jit_pop(j)};
        jit_push(j, L->LLVMBuildCall2(B, j->grow_ty, j->grow_fn, args, 2, ""));
        return true;
    }
    case WASM_OP_BR_TABLE: return br_table(j, ins);
    case WASM_OP_REF_NULL: jit_push(j, L->LLVMConstNull(ty_ptr(j))); return true;
    case WASM_OP_REF_IS_NULL:
        jit_push(j,
                 L->LLVMBuildZExt(
                     B, L->LLVMBuildICmp(B, LLVMIntEQ, jit_pop(j), L->LLVMConstNull(ty_ptr(j)), ""),
                     ty_i32(j), ""));
        return true;
    case WASM_OP_REF_FUNC: {
        LLVMValueRef funcs = load_at(j, ty_ptr(j), L->LLVMGetParam(j->self, 1),
                                     offsetof(wasm_instance, funcs), "funcs");
        LLVMValueRef k = L->LLVMConstInt(ty_i64(j), ins->imm.index, 0);
        jit_push(j,
                 L->LLVMBuildLoad2(B, ty_ptr(j),
                                   L->LLVMBuildInBoundsGEP2(B, ty_ptr(j), funcs, &k, 1, ""), ""));
        return true;
    }
    case WASM_OP_TABLE_GET:
        jit_push(j,
                 L->LLVMBuildLoad2(B, ty_ptr(j), table_entry(j, ins->imm.index, jit_pop(j)), ""));
        return true;
    case WASM_OP_TABLE_SET: {
        LLVMValueRef v = jit_pop(j);
        L->LLVMBuildStore(B, v, table_entry(j, ins->imm.index, jit_pop(j)));
        return true;
    }
    case WASM_OP_TABLE_SIZE:
        jit_push(j, load_at(j, ty_i32(j), table_obj(j, ins->imm.index),
                            offsetof(wasm_table_obj, size), "size"));
        return true;
    case WASM_OP_I32_EQZ:
    case WASM_OP_I64_EQZ: {
        LLVMValueRef a = jit_pop(j);
        LLVMValueRef z = L->LLVMConstInt(L->LLVMTypeOf(a), 0, 0);
        jit_push(j, L->LLVMBuildZExt(B, L->LLVMBuildICmp(B, LLVMIntEQ, a, z, ""),
                                     L->LLVMInt32TypeInContext(j->C), ""));
        return true;
    }
    case WASM_OP_I32_CLZ:
    case WASM_OP_I64_CLZ:
    case WASM_OP_I32_CTZ:
    case WASM_OP_I64_CTZ:
    case WASM_OP_I32_POPCNT:
    case WASM_OP_I64_POPCNT: {
        /* ctlz/cttz with "zero is poison" false give the width for 0, as Wasm wants */
        LLVMValueRef a = jit_pop(j);
        LLVMTypeRef ty = L->LLVMTypeOf(a);
        const char *name = ins->op == WASM_OP_I32_CLZ || ins->op == WASM_OP_I64_CLZ ? "llvm.ctlz"
                           : ins->op == WASM_OP_I32_CTZ || ins->op == WASM_OP_I64_CTZ
                               ? "llvm.cttz"
                               : "llvm.ctpop";
        unsigned id = L->LLVMLookupIntrinsicID(name, strlen(name));
        LLVMValueRef fn = L->LLVMGetIntrinsicDeclaration(j->M, id, &ty, 1);
        LLVMTypeRef fty = L->LLVMIntrinsicGetType(j->C, id, &ty, 1);
        LLVMValueRef args[2] = {a, L->LLVMConstInt(L->LLVMInt1TypeInContext(j->C), 0, 0)};
        jit_push(j, L->LLVMBuildCall2(B, fty, fn, args, strcmp(name, "llvm.ctpop") ? 2 : 1, ""));
        return true;
    }
    case WASM_OP_I32_EXTEND8_S:
    case WASM_OP_I32_EXTEND16_S:
    case WASM_OP_I64_EXTEND8_S:
    case WASM_OP_I64_EXTEND16_S:
    case WASM_OP_I64_EXTEND32_S: {
        /* sign-extension from the low bits: narrow, then widen back */
        LLVMValueRef a = jit_pop(j);
        unsigned bits = ins->op == WASM_OP_I32_EXTEND8_S || ins->op == WASM_OP_I64_EXTEND8_S ? 8
                        : ins->op == WASM_OP_I32_EXTEND16_S || ins->op == WASM_OP_I64_EXTEND16_S
                            ? 16
                            : 32;
        LLVMValueRef narrow = L->LLVMBuildTrunc(B, a, L->LLVMIntTypeInContext(j->C, bits), "");
        jit_push(j, L->LLVMBuildSExt(B, narrow, L->LLVMTypeOf(a), ""));
        return true;
    }
    case WASM_OP_I32_WRAP_I64:
        jit_push(j, L->LLVMBuildTrunc(B, jit_pop(j), L->LLVMInt32TypeInContext(j->C), ""));
        return true;
    case WASM_OP_I64_EXTEND_I32_S:
        jit_push(j, L->LLVMBuildSExt(B, jit_pop(j), L->LLVMInt64TypeInContext(j->C), ""));
        return true;
    case WASM_OP_I64_EXTEND_I32_U:
        jit_push(j, L->LLVMBuildZExt(B, jit_pop(j), L->LLVMInt64TypeInContext(j->C), ""));
        return true;
    default:
        if (wasm_opinfo_table[ins->op].prefix == 0xfd) return jit_simd(j, ins);
        if (memory_op(j, ins) || bulk(j, ins) || divide(j, ins->op) || truncate(j, ins->op) ||
            float_op(j, ins->op) || binary(j, ins->op))
            return true;
        return jit_refuse(j, wasm_opinfo_table[ins->op].name);
    }
}

/* The entry trampoline of function type `ti` (wasm_jit_entry), as
 * "wasm_e<ti>": arguments from cells, the call, the results to cells from
 * cell 0 (both laid out as the interpreter's frames are). */
static void build_entry(jit *j, uint32_t ti) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
    const wasm_functype *ft = &j->m->types[ti];
    LLVMTypeRef p = ty_ptr(j);
    LLVMTypeRef ety =
        L->LLVMFunctionType(L->LLVMVoidTypeInContext(j->C), (LLVMTypeRef[]){p, p, p, p}, 4, 0);
    char name[32];
    snprintf(name, sizeof name, "wasm_e%u", ti);
    LLVMValueRef e = L->LLVMAddFunction(j->M, name, ety);
    L->LLVMSetVisibility(e, LLVMHiddenVisibility);
    keep_frame_pointer(j, e);
    j->self = e;
    L->LLVMPositionBuilderAtEnd(B, new_block(j, "entry"));
    LLVMValueRef cells = L->LLVMGetParam(e, 3);
    LLVMValueRef args[3 + JIT_MAX_PARAMS];
    args[0] = L->LLVMGetParam(e, 0);
    args[1] = L->LLVMGetParam(e, 1);
    uint32_t n = 2 + ft->nparams;
    for (uint32_t i = 0, k = 0; i < ft->nparams; k += wasm_cells(ft->params[i++]))
        args[2 + i] = load_cell(j, cell_at(j, cells, k), ft->params[i]);
    /* the results after the first are written in place, after its cells */
    if (ft->nresults > 1) args[n++] = cell_at(j, cells, wasm_cells(ft->results[0]));
    LLVMValueRef r = L->LLVMBuildCall2(B, func_type(j, ti), L->LLVMGetParam(e, 2), args, n, "");
    L->LLVMSetInstructionCallConv(r, j->type_cc[ti]);
    if (ft->nresults) store_cell(j, r, ft->results[0], cell_at(j, cells, 0));
    L->LLVMBuildRetVoid(B);
}

/* The object of the module compiled so far: the small code model, and
 * position-independent so that what lies outside the object (the
 * runtime's helpers, the epoch) is reached through the slots and stubs
 * jit_load.c makes, while calls inside it are direct. */
static bool emit(jit *j, uint8_t **obj, size_t *len) {
    const wasm_llvm *L = j->L;
    char *msg = NULL;
    if (L->LLVMVerifyModule(j->M, LLVMReturnStatusAction, &msg)) {
        memset(j->err, 0, sizeof *j->err);
        j->err->kind = WASM_ERR_LIMIT;
        snprintf(j->err->msg, sizeof j->err->msg, "the native tier built invalid IR: %.200s",
                 msg ? msg : "");
        L->LLVMDisposeMessage(msg);
        return false;
    }
    L->LLVMDisposeMessage(msg);
    char *triple = L->LLVMGetDefaultTargetTriple();
    char *cpu = L->LLVMGetHostCPUName(), *features = L->LLVMGetHostCPUFeatures();
    LLVMTargetRef T;
    bool ok = false;
    msg = NULL;
    if (!L->LLVMGetTargetFromTriple(triple, &T, &msg)) {
        LLVMTargetMachineRef TM = L->LLVMCreateTargetMachine(
            T, triple, cpu, features, LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelSmall);
        L->LLVMSetTarget(j->M, triple);
        LLVMTargetDataRef DL = L->LLVMCreateTargetDataLayout(TM);
        L->LLVMSetModuleDataLayout(j->M, DL);
        LLVMPassBuilderOptionsRef po = L->LLVMCreatePassBuilderOptions();
        /* WASP_JIT_DUMP=1 prints the IR before the passes, 2 after them */
        const char *dump = getenv("WASP_JIT_DUMP");
        if (dump && *dump == '1') L->LLVMDumpModule(j->M);
        LLVMErrorRef e = L->LLVMRunPasses(j->M, "default<O2>", TM, po);
        if (!e) lower_loads(j);
        if (dump && *dump == '2') L->LLVMDumpModule(j->M);
        LLVMMemoryBufferRef buf = NULL;
        if (e) {
            char *m = L->LLVMGetErrorMessage(e);
            snprintf(j->err->msg, sizeof j->err->msg, "the native tier's passes failed: %.200s", m);
            L->LLVMDisposeErrorMessage(m);
        } else if (!L->LLVMTargetMachineEmitToMemoryBuffer(TM, j->M, LLVMObjectFile, &msg, &buf)) {
            *len = L->LLVMGetBufferSize(buf);
            *obj = aligned_alloc(8, (*len + 7) & ~(size_t)7);
            if (*obj) {
                memcpy(*obj, L->LLVMGetBufferStart(buf), *len);
                ok = true;
            }
            L->LLVMDisposeMemoryBuffer(buf);
        }
        L->LLVMDisposePassBuilderOptions(po);
        L->LLVMDisposeTargetData(DL);
        L->LLVMDisposeTargetMachine(TM);
    }
    if (!ok && !j->err->msg[0]) {
        j->err->kind = WASM_ERR_LIMIT;
        snprintf(j->err->msg, sizeof j->err->msg, "the native tier cannot emit code: %.200s",
                 msg ? msg : "out of memory");
    }
    if (!ok) j->err->kind = WASM_ERR_LIMIT;
    L->LLVMDisposeMessage(msg);
    L->LLVMDisposeMessage(triple);
    L->LLVMDisposeMessage(cpu);
    L->LLVMDisposeMessage(features);
    return ok;
}

static uint64_t type_hash(const wasm_functype *ft) {
    uint64_t h = 0xcbf29ce484222325ull ^ ft->nparams ^ (uint64_t)ft->nresults << 32;
    for (uint32_t i = 0; i < ft->nparams; i++)
        h = (h ^ ft->params[i]) * 0x100000001b3ull;
    for (uint32_t i = 0; i < ft->nresults; i++)
        h = (h ^ ft->results[i] ^ 0x80) * 0x100000001b3ull;
    return h;
}

/* j->type_class and j->type_next: the module's types grouped by
 * equality, through a hash table (a module may hold a million types). */
static bool classify_types(jit *j) {
    const wasm_module *m = j->m;
    uint32_t cap = 16;
    while (cap < 2 * m->ntypes)
        cap *= 2;
    uint32_t *slot = malloc(cap * sizeof *slot), *last = malloc((m->ntypes + 1) * sizeof *last);
    if (!slot || !last) {
        free(slot);
        free(last);
        return false;
    }
    memset(slot, 0xff, cap * sizeof *slot);
    for (uint32_t t = 0; t < m->ntypes; t++) {
        uint32_t k = (uint32_t)type_hash(&m->types[t]) & (cap - 1);
        while (slot[k] != UINT32_MAX && !wasm_functype_eq(&m->types[slot[k]], &m->types[t]))
            k = (k + 1) & (cap - 1);
        j->type_next[t] = UINT32_MAX;
        if (slot[k] == UINT32_MAX) {
            slot[k] = j->type_class[t] = last[t] = t;
        } else {
            uint32_t c = j->type_class[t] = slot[k];
            j->type_next[last[c]] = t;
            last[c] = t;
        }
    }
    free(slot);
    free(last);
    return true;
}

typedef struct tail_scan {
    jit *j;
    bool *tail; /* per type class: its functions take JIT_TAIL_CC */
} tail_scan;

static bool spot_tail_call(void *ud, const wasm_instr *ins) {
    tail_scan *ts = ud;
    const wasm_module *m = ts->j->m;
    uint32_t callee_type;
    if (ins->op == WASM_OP_RETURN_CALL && !m->funcs[ins->imm.index].imported)
        callee_type = m->funcs[ins->imm.index].type;
    else if (ins->op == WASM_OP_RETURN_CALL_INDIRECT)
        callee_type = ins->imm.pair.a;
    else
        return true; /* a return_call to an import is a call and a return */
    ts->tail[ts->j->type_class[callee_type]] = true;
    ts->tail[ts->j->type_class[m->funcs[ts->j->func].type]] = true;
    return true;
}

/* j->type_cc: JIT_TAIL_CC for the types of the functions that make a
 * tail call and of those they jump to (musttail wants one convention on
 * both sides), the C convention for the others (JIT_TAIL_CC says why). A
 * validator's pass over the bodies costs little beside LLVM's. */
static bool choose_conventions(jit *j) {
    const wasm_module *m = j->m;
    bool *tail = calloc(m->ntypes ? m->ntypes : 1, sizeof *tail);
    if (!tail || !classify_types(j)) {
        free(tail);
        return false;
    }
    tail_scan ts = {j, tail};
    wasm_body_hooks hooks = {.ud = &ts, .on_instr = spot_tail_call};
    wasm_error err;
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        j->func = i;
        wasm_validate_body(m, i, &hooks, &err);
    }
    for (uint32_t t = 0; t < m->ntypes; t++)
        j->type_cc[t] = tail[j->type_class[t]] ? JIT_TAIL_CC : LLVMCCallConv;
    free(tail);
    return true;
}

bool wasm_jit_compile(const wasm_module *m, uint32_t flags, uint8_t **obj, size_t *len,
                      wasm_error *err) {
    memset(err, 0, sizeof *err);
    *obj = NULL;
    *len = 0;
    const wasm_llvm *L = wasm_llvm_get(err);
    if (!L) return false;
    jit *j = calloc(1, sizeof *j);
    if (!j) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return false;
    }
    j->L = L;
    j->m = m;
    j->err = err;
    j->fuel = (flags & WASM_NATIVE_FUEL) != 0;
    j->C = L->LLVMContextCreate();
    j->M = L->LLVMModuleCreateWithNameInContext("wasm", j->C);
    j->B = L->LLVMCreateBuilderInContext(j->C);
    j->fns = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *j->fns);
    j->fn_types = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *j->fn_types);
    bool *entry_types = calloc(m->ntypes ? m->ntypes : 1, sizeof *entry_types);
    bool ok = j->fns && j->fn_types && entry_types;
    char name[32];
    size_t nt = m->ntypes ? m->ntypes : 1;
    j->type_class = malloc(nt * sizeof *j->type_class);
    j->type_next = malloc(nt * sizeof *j->type_next);
    j->type_cc = malloc(nt * sizeof *j->type_cc);
    ok = ok && j->type_class && j->type_next && j->type_cc && choose_conventions(j);
    if (!ok && !err->msg[0]) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
    }
    if (ok) declare_runtime(j);
    /* every defined function declared first: calls may go forward */
    for (uint32_t i = 0; ok && i < m->nfuncs; i++) {
        if (m->funcs[i].imported) continue;
        j->func = i;
        ok = (j->fn_types[i] = func_type(j, m->funcs[i].type)) != NULL;
        snprintf(name, sizeof name, "wasm_f%u", i);
        if (!ok) break;
        j->fns[i] = L->LLVMAddFunction(j->M, name, j->fn_types[i]);
        /* hidden: known to be in this object, so a call to it is a direct
         * call, not one through a stub (jit_load.c) */
        L->LLVMSetVisibility(j->fns[i], LLVMHiddenVisibility);
        L->LLVMSetFunctionCallConv(j->fns[i], j->type_cc[m->funcs[i].type]);
        keep_frame_pointer(j, j->fns[i]);
    }
    for (uint32_t i = 0; ok && i < m->nfuncs; i++) {
        if (m->funcs[i].imported) continue;
        j->func = i;
        j->self = j->fns[i];
        j->sp = j->nframes = j->npool = 0;
        L->LLVMPositionBuilderAtEnd(j->B, new_block(j, "entry"));
        wasm_body_hooks hooks = {.ud = j, .on_locals = on_locals, .on_instr = on_instr};
        wasm_error verr;
        ok = wasm_validate_body(m, i, &hooks, &verr);
        if (!ok && !err->msg[0]) *err = verr;
        free(j->locals);
        free(j->local_types);
        j->locals = NULL;
        j->local_types = NULL;
    }
    for (uint32_t i = 0; ok && i < m->nfuncs; i++)
        if (!m->funcs[i].imported && !entry_types[m->funcs[i].type]) {
            entry_types[m->funcs[i].type] = true;
            build_entry(j, m->funcs[i].type);
        }
    free(entry_types);
    if (ok) ok = emit(j, obj, len);
    L->LLVMDisposeBuilder(j->B);
    L->LLVMDisposeModule(j->M);
    L->LLVMContextDispose(j->C);
    free(j->fns);
    free(j->fn_types);
    free(j->type_class);
    free(j->type_next);
    free(j->type_cc);
    free(j->pool);
    free(j);
    return ok;
}
