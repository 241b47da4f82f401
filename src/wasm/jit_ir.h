/*
 * jit_ir.h - what the native tier's compiler files share: the state of
 * one module's translation to LLVM IR and the helpers its parts call.
 * Private to jit_compile.c (control, scalars, calls, the module) and
 * jit_simd.c (the v128 instructions); nothing else includes it.
 *
 * A translation keeps a model of the operand stack: one LLVM value per
 * Wasm operand (a v128 is one value of jit_v128_type, whatever lanes the
 * last operation saw), pushed and popped as the validator's pass hands
 * the instructions over (jit_compile.c's head comment).
 */
#ifndef WASP_WASM_JIT_IR_H
#define WASP_WASM_JIT_IR_H

#include "wasm/jit_llvm.h"

#define JIT_MAX_FRAMES 1024
#define JIT_MAX_STACK 16384
/* the JS API's limit, which engines share: no module passes it */
#define JIT_MAX_PARAMS 1000
/* LLVM's `tailcc` (CallingConv::Tail, which llvm-c/Core.h does not name):
 * a call in tail position marked musttail is a jump whatever the two
 * prototypes are, so return_call runs in constant stack across function
 * types. It costs every call of such a function: the callee pops an
 * argument area padded to keep the stack aligned, three more instructions
 * a call, and a recursive fib took 0.31 s of CPU instead of 0.23 s. So
 * only the function types that tail calls involve take it; the others
 * keep the C convention (jit.type_cc). */
#define JIT_TAIL_CC 18
/* LLVM's `preserve_mostcc` (CallingConv::PreserveMost), for the checks'
 * slow path (jit_run.c's wasm_jit_check_thunk says why) */
#define JIT_CHECK_CC 14
/* call_indirect compares a callee's type with at most this many types of
 * the module equal to the instruction's; a callee declared with another
 * duplicate is called through the runtime */
#define JIT_MAX_DUPLICATES 8

typedef struct jframe {
    wasm_op kind;              /* BLOCK, LOOP, IF, or END for the function's own */
    LLVMBasicBlockRef target;  /* where a branch to it goes: the loop's head, else `end` */
    LLVMBasicBlockRef end;     /* what follows it */
    LLVMBasicBlockRef else_bb; /* an if's else arm, until `else` or `end` uses it */
    uint32_t nres, nparams;    /* its block type's results and parameters */
    uint32_t phis;             /* its result phis at `end`: j->pool[phis..+nres] */
    uint32_t lphis;            /* a loop's parameter phis at its head: pool[lphis..+nparams] */
    uint32_t params;           /* an if's parameters, for its else arm: pool[params..+nparams] */
    uint32_t height;           /* operands below it */
    bool dead;                 /* the rest of its code cannot run */
    bool skipped;              /* opened in dead code: nothing was built for it */
} jframe;

/* the most types guest loads read: i8, i16, i32, i64, f32, f64, v128 */
#define JIT_LOAD_TYPES 8

typedef struct jit {
    const wasm_llvm *L;
    const wasm_module *m;
    LLVMContextRef C;
    LLVMModuleRef M;
    LLVMBuilderRef B;
    LLVMValueRef *fns; /* per function index (defined ones) */
    LLVMTypeRef *fn_types;
    uint32_t func;     /* the one being compiled */
    bool fuel;         /* count fuel at the checks (WASM_NATIVE_FUEL) */
    LLVMValueRef self; /* its LLVM function */
    LLVMValueRef *locals;
    LLVMTypeRef *local_types;
    uint32_t nlocals;
    LLVMValueRef stack[JIT_MAX_STACK];
    uint32_t sp;
    jframe frames[JIT_MAX_FRAMES];
    uint32_t nframes;
    wasm_error *err;
    /* the runtime helpers, declared in the module */
    LLVMValueRef trap_fn, call_fn, grow_fn, check_fn, bulk_fn, call_indirect_fn;
    LLVMTypeRef trap_ty, call_ty, grow_ty, check_ty, bulk_ty, call_indirect_ty;
    LLVMValueRef frameaddr_fn; /* llvm.frameaddress, for the traps' and checks' backtraces */
    LLVMTypeRef frameaddr_ty;
    LLVMValueRef mem_base; /* memory 0's bytes, loaded at the function's entry */
    LLVMValueRef *pool;    /* the frames' phis and saved parameters, per function */
    uint32_t npool, cappool;
    uint64_t site; /* of the instruction being translated: its offset only */
    /* per type index: the first type of the module equal to it, the next
     * one equal to it (UINT32_MAX after the last), and the calling
     * convention of its functions (C, or JIT_TAIL_CC), the same for equal
     * types since call_indirect takes one for the other */
    uint32_t *type_class, *type_next;
    unsigned *type_cc;
    /* wasp.keep.N, which keeps guest loads, one per loaded type (jit_load) */
    LLVMTypeRef load_types[JIT_LOAD_TYPES];
    unsigned nload;
} jit;

/* Refuses the module: *j->err says the tier does not compile `what` yet
 * (WASM_ERR_LIMIT, naming the function). Returns false, for the caller to
 * return. */
bool jit_refuse(jit *j, const char *what);

/* The LLVM type of a Wasm value type (v128: jit_v128_type). */
LLVMTypeRef jit_val_type(jit *j, wasm_valtype t);

/* The one LLVM type every v128 operand, local, global and parameter has:
 * <16 x i8>, bitcast to other lane shapes where an operation needs them. */
LLVMTypeRef jit_v128_type(jit *j);

void jit_push(jit *j, LLVMValueRef v);
LLVMValueRef jit_pop(jit *j);

/* The address of a memory access to memory 0: base + zext(addr) +
 * offset, no bounds check (the guard reservation faults). */
LLVMValueRef jit_mem_addr(jit *j, LLVMValueRef addr, uint32_t offset);

/* Guest memory accesses. A Wasm load or store traps when any of its bytes
 * is out of bounds, and memory at a trap holds exactly the stores before
 * it; LLVM takes a plain access as unable to trap. jit_load gives a value
 * of type t read at ptr; jit_store writes v at ptr (a volatile store).
 * Both leave alignment to the hardware (Wasm's is a hint). */
LLVMValueRef jit_load(jit *j, LLVMTypeRef t, LLVMValueRef ptr);
void jit_store(jit *j, LLVMValueRef v, LLVMValueRef ptr);

/* A call of LLVM intrinsic `name` overloaded on `tys`. */
LLVMValueRef jit_intrinsic(jit *j, const char *name, LLVMTypeRef *tys, size_t ntys,
                           LLVMValueRef *args, unsigned nargs);

/* `v` through an empty inline asm (an SSE register for floats and
 * vectors, a general-purpose one for integers): the same bits, which
 * LLVM's folds can no longer see. */
LLVMValueRef jit_opaque(jit *j, LLVMValueRef v);

/* Translates SIMD instruction `ins` (a 0xFD-prefixed opcode): its
 * operands popped, its result pushed. False after jit_refuse for an
 * instruction it does not know. */
bool jit_simd(jit *j, const wasm_instr *ins);

#endif
