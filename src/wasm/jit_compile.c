/*
 * jit_compile.c - the native tier's compiler: a validated module's
 * defined functions to LLVM IR, optimised, emitted as one object for the
 * large code model, which jit_load.c loads (docs/design/native.md).
 *
 * Step 1's first slices: the integer core without traps - constants,
 * locals, i32/i64 globals, i32/i64 arithmetic, bit operations, shifts
 * and rotates, clz/ctz/popcnt, sign extension, comparisons, conversions
 * between i32 and i64, blocks,
 * loops, if/else, br, br_if, return, select, drop, and direct calls
 * between defined functions, with at most one result. Globals are read
 * and written where the interpreter keeps them: the instance's
 * `globals[i]->val` cell, reached from `inst` at the struct's offsets. Anything else is refused
 * with WASM_ERR_LIMIT naming the first instruction the tier does not compile yet, so a caller can
 * keep the module on the interpreter; nothing is compiled half.
 *
 * Function i of the module (its index space, imports first) becomes the
 * global symbol "wasm_f<i>" with the tier's signature
 * `r f(ctx, inst, params...)` (section 3 of the design).
 *
 * Translation runs in the validator's pass (wasm_validate_body's hooks):
 * every instruction arrives checked, so the operand stack here needs no
 * checks of its own. Locals live in allocas that LLVM's SROA turns into
 * registers. Each block, loop and if is a frame with the LLVM block that
 * follows it and a phi for its result; code after br, return or
 * unreachable is skipped to the end of its frame, as compile.c does.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/jit_llvm.h"

#define JIT_MAX_FRAMES 1024
#define JIT_MAX_STACK 4096

typedef struct jframe {
    wasm_op kind;              /* BLOCK, LOOP, IF, or END for the function's own */
    LLVMBasicBlockRef target;  /* where a branch to it goes: the loop's head, else `end` */
    LLVMBasicBlockRef end;     /* what follows it */
    LLVMBasicBlockRef else_bb; /* an if's else arm, until `else` or `end` uses it */
    LLVMValueRef phi;          /* its result at `end`, if it has one */
    uint32_t height;           /* operands below it */
    bool dead;                 /* the rest of its code cannot run */
    bool skipped;              /* opened in dead code: nothing was built for it */
} jframe;

typedef struct jit {
    const wasm_llvm *L;
    const wasm_module *m;
    LLVMContextRef C;
    LLVMModuleRef M;
    LLVMBuilderRef B;
    LLVMValueRef *fns; /* per function index (defined ones) */
    LLVMTypeRef *fn_types;
    uint32_t func;     /* the one being compiled */
    LLVMValueRef self; /* its LLVM function */
    LLVMValueRef *locals;
    LLVMTypeRef *local_types;
    uint32_t nlocals;
    LLVMValueRef stack[JIT_MAX_STACK];
    uint32_t sp;
    jframe frames[JIT_MAX_FRAMES];
    uint32_t nframes;
    wasm_error *err;
} jit;

static bool refuse(jit *j, const char *what) {
    memset(j->err, 0, sizeof *j->err);
    j->err->kind = WASM_ERR_LIMIT;
    snprintf(j->err->msg, sizeof j->err->msg,
             "the native tier does not compile %s yet (function %u)", what, j->func);
    return false;
}

static LLVMTypeRef val_type(jit *j, wasm_valtype t) {
    switch (t) {
    case WASM_I32: return j->L->LLVMInt32TypeInContext(j->C);
    case WASM_I64: return j->L->LLVMInt64TypeInContext(j->C);
    default: return NULL;
    }
}

/* The LLVM type of function type `ti`, or NULL (and an error) when the
 * tier does not take it yet. */
static LLVMTypeRef func_type(jit *j, uint32_t ti) {
    const wasm_functype *ft = &j->m->types[ti];
    if (ft->nresults > 1) return refuse(j, "functions with several results"), NULL;
    LLVMTypeRef ptr = j->L->LLVMPointerTypeInContext(j->C, 0);
    LLVMTypeRef params[2 + 64];
    if (ft->nparams > 64) return refuse(j, "functions with more than 64 parameters"), NULL;
    params[0] = params[1] = ptr;
    for (uint32_t i = 0; i < ft->nparams; i++)
        if (!(params[2 + i] = val_type(j, ft->params[i])))
            return refuse(j, "parameters other than i32 and i64"), NULL;
    LLVMTypeRef ret = j->L->LLVMVoidTypeInContext(j->C);
    if (ft->nresults && !(ret = val_type(j, ft->results[0])))
        return refuse(j, "results other than i32 and i64"), NULL;
    return j->L->LLVMFunctionType(ret, params, 2 + ft->nparams, 0);
}

/* The address of global `index`'s value cell: inst->globals[index]->val
 * (loaded each time: LLVM keeps what it can prove unchanged). */
static LLVMValueRef global_cell(jit *j, uint32_t index) {
    const wasm_llvm *L = j->L;
    LLVMTypeRef i8 = L->LLVMInt8TypeInContext(j->C), i64 = L->LLVMInt64TypeInContext(j->C);
    LLVMTypeRef ptr = L->LLVMPointerTypeInContext(j->C, 0);
    LLVMValueRef inst = L->LLVMGetParam(j->self, 1);
    LLVMValueRef at = L->LLVMConstInt(i64, offsetof(wasm_instance, globals), 0);
    LLVMValueRef field = L->LLVMBuildInBoundsGEP2(j->B, i8, inst, &at, 1, "");
    LLVMValueRef array = L->LLVMBuildLoad2(j->B, ptr, field, "globals");
    LLVMValueRef k = L->LLVMConstInt(i64, index, 0);
    LLVMValueRef obj =
        L->LLVMBuildLoad2(j->B, ptr, L->LLVMBuildInBoundsGEP2(j->B, ptr, array, &k, 1, ""), "");
    LLVMValueRef val = L->LLVMConstInt(i64, offsetof(wasm_global_obj, val), 0);
    return L->LLVMBuildInBoundsGEP2(j->B, i8, obj, &val, 1, "cell");
}

static void push(jit *j, LLVMValueRef v) {
    j->stack[j->sp++] = v;
}

static LLVMValueRef pop(jit *j) {
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

static bool open_frame(jit *j, wasm_op kind, const wasm_blocktype *bt) {
    if (j->nframes == JIT_MAX_FRAMES) return refuse(j, "blocks nested this deep");
    jframe *f = &j->frames[j->nframes++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    if (bt->kind == WASM_BT_INDEX) return refuse(j, "blocks with a type index");
    f->end = new_block(j, "end");
    f->target = f->end;
    if (bt->kind == WASM_BT_VALUE) {
        LLVMTypeRef t = val_type(j, bt->value);
        if (!t) return refuse(j, "block results other than i32 and i64");
        f->phi = make_phi(j, f->end, t);
    }
    return true;
}

/* Ends the current block (`from`) with a branch to frame `f`, carrying
 * the top operand to its result phi when it has one. */
static void branch_to(jit *j, jframe *f, LLVMBasicBlockRef from) {
    if (f->kind != WASM_OP_LOOP && f->phi) {
        LLVMValueRef v = j->stack[j->sp - 1];
        j->L->LLVMAddIncoming(f->phi, &v, &from, 1);
    }
    j->L->LLVMBuildBr(j->B, f->target);
}

static void build_return(jit *j) {
    const wasm_functype *ft = &j->m->types[j->m->funcs[j->func].type];
    if (ft->nresults)
        j->L->LLVMBuildRet(j->B, j->stack[j->sp - 1]);
    else
        j->L->LLVMBuildRetVoid(j->B);
}

static LLVMValueRef const_int(jit *j, wasm_valtype t, uint64_t v) {
    return j->L->LLVMConstInt(val_type(j, t), v, 0);
}

/* Binary integer operations: what the instruction builds. */
static bool binary(jit *j, wasm_op op) {
    const wasm_llvm *L = j->L;
    LLVMBuilderRef B = j->B;
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
    push(j, r);
    return true;
}

static bool on_locals(void *ud, uint32_t nlocals, const wasm_valtype *types) {
    jit *j = ud;
    const wasm_llvm *L = j->L;
    j->nlocals = nlocals;
    j->locals = calloc(nlocals ? nlocals : 1, sizeof *j->locals);
    j->local_types = calloc(nlocals ? nlocals : 1, sizeof *j->local_types);
    if (!j->locals || !j->local_types) return refuse(j, "a function (out of memory)");
    uint32_t nparams = j->m->types[j->m->funcs[j->func].type].nparams;
    for (uint32_t i = 0; i < nlocals; i++) {
        LLVMTypeRef t = val_type(j, types[i]);
        if (!t) return refuse(j, "locals other than i32 and i64");
        j->local_types[i] = t;
        j->locals[i] = L->LLVMBuildAlloca(j->B, t, "");
        L->LLVMBuildStore(j->B,
                          i < nparams ? L->LLVMGetParam(j->self, 2 + i) : L->LLVMConstInt(t, 0, 0),
                          j->locals[i]);
    }
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
    if (top->dead) {
        /* skipped code: only the structure matters */
        switch (ins->op) {
        case WASM_OP_BLOCK:
        case WASM_OP_LOOP:
        case WASM_OP_IF: {
            if (j->nframes == JIT_MAX_FRAMES) return refuse(j, "blocks nested this deep");
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
            return true;
        case WASM_OP_END: break; /* handled below */
        default: return true;
        }
    }
    switch (ins->op) {
    case WASM_OP_NOP: return true;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP: {
        if (!open_frame(j, ins->op, &ins->imm.block)) return false;
        jframe *f = &j->frames[j->nframes - 1];
        f->height = j->sp;
        if (ins->op == WASM_OP_LOOP) {
            f->target = new_block(j, "loop");
            L->LLVMBuildBr(B, f->target);
            L->LLVMPositionBuilderAtEnd(B, f->target);
        }
        return true;
    }
    case WASM_OP_IF: {
        LLVMValueRef c = pop(j);
        if (!open_frame(j, ins->op, &ins->imm.block)) return false;
        jframe *f = &j->frames[j->nframes - 1];
        f->height = j->sp;
        LLVMBasicBlockRef then = new_block(j, "then");
        f->else_bb = new_block(j, "else");
        L->LLVMBuildCondBr(B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""),
                           then, f->else_bb);
        L->LLVMPositionBuilderAtEnd(B, then);
        return true;
    }
    case WASM_OP_ELSE: {
        /* the then arm falls through to the end */
        branch_to(j, top, L->LLVMGetInsertBlock(B));
        L->LLVMPositionBuilderAtEnd(B, top->else_bb);
        top->else_bb = NULL;
        j->sp = top->height;
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
        if (!top->dead) branch_to(j, top, L->LLVMGetInsertBlock(B));
        if (top->else_bb) { /* an if without else: its else arm is empty */
            L->LLVMPositionBuilderAtEnd(B, top->else_bb);
            L->LLVMBuildBr(B, top->end);
        }
        L->LLVMPositionBuilderAtEnd(B, top->end);
        j->sp = top->height;
        if (top->phi) push(j, top->phi);
        j->nframes--;
        /* an end no branch reaches: what follows cannot run either */
        if (!L->LLVMGetFirstUse(L->LLVMBasicBlockAsValue(top->end)) && top->kind != WASM_OP_LOOP) {
            L->LLVMBuildUnreachable(B);
            j->frames[j->nframes - 1].dead = true;
        }
        return true;
    }
    case WASM_OP_BR:
    case WASM_OP_BR_IF: {
        LLVMValueRef c = ins->op == WASM_OP_BR_IF ? pop(j) : NULL;
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
            if (f->kind != WASM_OP_LOOP && f->phi) {
                LLVMValueRef v = j->stack[j->sp - 1];
                L->LLVMAddIncoming(f->phi, &v, &from, 1);
            }
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
    case WASM_OP_CALL: {
        uint32_t callee = ins->imm.index;
        if (j->m->funcs[callee].imported) return refuse(j, "calls to imported functions");
        const wasm_functype *ft = &j->m->types[j->m->funcs[callee].type];
        LLVMValueRef args[2 + 64];
        args[0] = L->LLVMGetParam(j->self, 0);
        args[1] = L->LLVMGetParam(j->self, 1);
        j->sp -= ft->nparams;
        memcpy(args + 2, j->stack + j->sp, ft->nparams * sizeof args[0]);
        LLVMValueRef r =
            L->LLVMBuildCall2(B, j->fn_types[callee], j->fns[callee], args, 2 + ft->nparams, "");
        if (ft->nresults) push(j, r);
        return true;
    }
    case WASM_OP_DROP: (void)pop(j); return true;
    case WASM_OP_SELECT: {
        LLVMValueRef c = pop(j), b = pop(j), a = pop(j);
        push(j, L->LLVMBuildSelect(
                    B, L->LLVMBuildICmp(B, LLVMIntNE, c, const_int(j, WASM_I32, 0), ""), a, b, ""));
        return true;
    }
    case WASM_OP_LOCAL_GET:
        push(j,
             L->LLVMBuildLoad2(B, j->local_types[ins->imm.index], j->locals[ins->imm.index], ""));
        return true;
    case WASM_OP_LOCAL_SET: L->LLVMBuildStore(B, pop(j), j->locals[ins->imm.index]); return true;
    case WASM_OP_LOCAL_TEE:
        L->LLVMBuildStore(B, j->stack[j->sp - 1], j->locals[ins->imm.index]);
        return true;
    case WASM_OP_GLOBAL_GET:
    case WASM_OP_GLOBAL_SET: {
        wasm_valtype t = j->m->globals[ins->imm.index].type.type;
        if (t != WASM_I32 && t != WASM_I64) return refuse(j, "globals other than i32 and i64");
        LLVMValueRef cell = global_cell(j, ins->imm.index);
        if (ins->op == WASM_OP_GLOBAL_GET) {
            push(j, L->LLVMBuildLoad2(B, val_type(j, t), cell, ""));
        } else {
            /* the whole cell, upper half zero for an i32, as the interpreter keeps it */
            LLVMValueRef v = pop(j);
            if (t == WASM_I32) v = L->LLVMBuildZExt(B, v, L->LLVMInt64TypeInContext(j->C), "");
            L->LLVMBuildStore(B, v, cell);
        }
        return true;
    }
    case WASM_OP_I32_CONST: push(j, const_int(j, WASM_I32, (uint32_t)ins->imm.i32)); return true;
    case WASM_OP_I64_CONST: push(j, const_int(j, WASM_I64, (uint64_t)ins->imm.i64)); return true;
    case WASM_OP_I32_EQZ:
    case WASM_OP_I64_EQZ: {
        LLVMValueRef a = pop(j);
        LLVMValueRef z = L->LLVMConstInt(L->LLVMTypeOf(a), 0, 0);
        push(j, L->LLVMBuildZExt(B, L->LLVMBuildICmp(B, LLVMIntEQ, a, z, ""),
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
        LLVMValueRef a = pop(j);
        LLVMTypeRef ty = L->LLVMTypeOf(a);
        const char *name = ins->op == WASM_OP_I32_CLZ || ins->op == WASM_OP_I64_CLZ ? "llvm.ctlz"
                           : ins->op == WASM_OP_I32_CTZ || ins->op == WASM_OP_I64_CTZ
                               ? "llvm.cttz"
                               : "llvm.ctpop";
        unsigned id = L->LLVMLookupIntrinsicID(name, strlen(name));
        LLVMValueRef fn = L->LLVMGetIntrinsicDeclaration(j->M, id, &ty, 1);
        LLVMTypeRef fty = L->LLVMIntrinsicGetType(j->C, id, &ty, 1);
        LLVMValueRef args[2] = {a, L->LLVMConstInt(L->LLVMInt1TypeInContext(j->C), 0, 0)};
        push(j, L->LLVMBuildCall2(B, fty, fn, args, strcmp(name, "llvm.ctpop") ? 2 : 1, ""));
        return true;
    }
    case WASM_OP_I32_EXTEND8_S:
    case WASM_OP_I32_EXTEND16_S:
    case WASM_OP_I64_EXTEND8_S:
    case WASM_OP_I64_EXTEND16_S:
    case WASM_OP_I64_EXTEND32_S: {
        /* sign-extension from the low bits: narrow, then widen back */
        LLVMValueRef a = pop(j);
        unsigned bits = ins->op == WASM_OP_I32_EXTEND8_S || ins->op == WASM_OP_I64_EXTEND8_S ? 8
                        : ins->op == WASM_OP_I32_EXTEND16_S || ins->op == WASM_OP_I64_EXTEND16_S
                            ? 16
                            : 32;
        LLVMValueRef narrow = L->LLVMBuildTrunc(B, a, L->LLVMIntTypeInContext(j->C, bits), "");
        push(j, L->LLVMBuildSExt(B, narrow, L->LLVMTypeOf(a), ""));
        return true;
    }
    case WASM_OP_I32_WRAP_I64:
        push(j, L->LLVMBuildTrunc(B, pop(j), L->LLVMInt32TypeInContext(j->C), ""));
        return true;
    case WASM_OP_I64_EXTEND_I32_S:
        push(j, L->LLVMBuildSExt(B, pop(j), L->LLVMInt64TypeInContext(j->C), ""));
        return true;
    case WASM_OP_I64_EXTEND_I32_U:
        push(j, L->LLVMBuildZExt(B, pop(j), L->LLVMInt64TypeInContext(j->C), ""));
        return true;
    default:
        if (binary(j, ins->op)) return true;
        return refuse(j, wasm_opinfo_table[ins->op].name);
    }
}

/* The object of the module compiled so far, for the large code model. */
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
            T, triple, cpu, features, LLVMCodeGenLevelDefault, LLVMRelocStatic, LLVMCodeModelLarge);
        L->LLVMSetTarget(j->M, triple);
        LLVMTargetDataRef DL = L->LLVMCreateTargetDataLayout(TM);
        L->LLVMSetModuleDataLayout(j->M, DL);
        LLVMPassBuilderOptionsRef po = L->LLVMCreatePassBuilderOptions();
        LLVMErrorRef e = L->LLVMRunPasses(j->M, "default<O2>", TM, po);
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

bool wasm_jit_compile(const wasm_module *m, uint8_t **obj, size_t *len, wasm_error *err) {
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
    j->C = L->LLVMContextCreate();
    j->M = L->LLVMModuleCreateWithNameInContext("wasm", j->C);
    j->B = L->LLVMCreateBuilderInContext(j->C);
    j->fns = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *j->fns);
    j->fn_types = calloc(m->nfuncs ? m->nfuncs : 1, sizeof *j->fn_types);
    bool ok = j->fns && j->fn_types;
    char name[32];
    /* every defined function declared first: calls may go forward */
    for (uint32_t i = 0; ok && i < m->nfuncs; i++) {
        if (m->funcs[i].imported) continue;
        j->func = i;
        ok = (j->fn_types[i] = func_type(j, m->funcs[i].type)) != NULL;
        snprintf(name, sizeof name, "wasm_f%u", i);
        if (ok) j->fns[i] = L->LLVMAddFunction(j->M, name, j->fn_types[i]);
    }
    for (uint32_t i = 0; ok && i < m->nfuncs; i++) {
        if (m->funcs[i].imported) continue;
        j->func = i;
        j->self = j->fns[i];
        j->sp = j->nframes = 0;
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
    if (ok) ok = emit(j, obj, len);
    L->LLVMDisposeBuilder(j->B);
    L->LLVMDisposeModule(j->M);
    L->LLVMContextDispose(j->C);
    free(j->fns);
    free(j->fn_types);
    free(j);
    return ok;
}
