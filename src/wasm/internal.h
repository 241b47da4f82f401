/*
 * internal.h - what the engine's files share with each other and with no
 * one else: the opcode enum and its info table, the byte reader with its
 * error reporting, the instruction decoder, and the validator's per-body
 * pass with the hooks the compiler (issue 3) plugs into.
 *
 * Nothing outside src/wasm/ includes this file.
 */
#ifndef WASP_WASM_INTERNAL_H
#define WASP_WASM_INTERNAL_H

#include <setjmp.h>
#include <stdarg.h>

#include "util/util.h"
#include "wasm/opcodes.h"
#include "wasm/wasm.h"

/* ---- opcodes ---------------------------------------------------------- */

typedef enum wasm_op {
#define X(id, pre, code, name, imm, sig, arg) WASM_OP_##id,
    WASM_OPCODES(X)
#undef X
        WASM_OP_COUNT_
} wasm_op;

typedef enum wasm_imm {
#define I(k) WASM_IMM_##k,
    WASM_IMMS(I)
#undef I
} wasm_imm;

typedef enum wasm_sig {
#define S(id, p0, p1, p2, r) WASM_SIG_##id,
    WASM_SIGS(S)
#undef S
} wasm_sig;

typedef struct wasm_opinfo {
    const char *name;
    uint8_t prefix;
    uint8_t imm; /* wasm_imm */
    uint8_t sig; /* wasm_sig */
    uint8_t arg; /* natural alignment log2, or lane count */
    uint32_t code;
} wasm_opinfo;

extern const wasm_opinfo wasm_opinfo_table[WASM_OP_COUNT_];

/* Operand types of a fixed signature: params (0 = none) and result. */
typedef struct wasm_siginfo {
    wasm_valtype params[3];
    uint8_t nparams;
    wasm_valtype result; /* 0 = none */
} wasm_siginfo;
extern const wasm_siginfo wasm_siginfo_table[];

/* ---- reader ----------------------------------------------------------- */

/* A cursor over the module's bytes. `base` is the start of the module so
 * that every error can name its absolute offset. */
typedef struct wasm_reader {
    const uint8_t *base, *p, *end;
    wasm_error *err;
} wasm_reader;

/* Records an error of `kind` at byte `at` (absolute pointer) with a printf
 * message, and returns false so callers can `return wasm_fail(...)`.
 * Only the first error is kept. */
bool wasm_fail_at(wasm_reader *r, const uint8_t *at, wasm_errkind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define wasm_malformed(r, ...) wasm_fail_at((r), (r)->p, WASM_ERR_MALFORMED, __VA_ARGS__)

bool wasm_read_u8(wasm_reader *r, uint8_t *out);
bool wasm_read_u32(wasm_reader *r, uint32_t *out);
bool wasm_read_s32(wasm_reader *r, int32_t *out);
bool wasm_read_s33(wasm_reader *r, int64_t *out);
bool wasm_read_s64(wasm_reader *r, int64_t *out);
bool wasm_read_bytes(wasm_reader *r, size_t n, const uint8_t **out);
/* A value type byte; "malformed value type" otherwise. */
bool wasm_read_valtype(wasm_reader *r, wasm_valtype *out);
/* funcref/externref; "malformed reference type" otherwise. */
bool wasm_read_reftype(wasm_reader *r, wasm_valtype *out);

static inline bool wasm_is_reftype(wasm_valtype t) {
    return t == WASM_FUNCREF || t == WASM_EXTERNREF;
}

/* ---- instructions ----------------------------------------------------- */

/* Block type: no value, one value type, or a type index. */
typedef struct wasm_blocktype {
    enum { WASM_BT_EMPTY, WASM_BT_VALUE, WASM_BT_INDEX } kind;
    wasm_valtype value;
    uint32_t index;
} wasm_blocktype;

/* One decoded instruction. br_table targets are not copied: `targets`
 * points at their LEB bytes and wasm_br_table_next() walks them. */
typedef struct wasm_instr {
    wasm_op op;
    const uint8_t *at; /* first byte of the instruction */
    union {
        wasm_blocktype block;
        uint32_t index; /* label, func, local, global, table, elem, data */
        struct {
            uint32_t a, b;
        } pair; /* call_indirect (type, table),
                 * table.copy (dst, src), table.init
                 * (elem, table) */
        struct {
            uint32_t ntargets;
            const uint8_t *targets;
        } br_table;
        struct {
            uint32_t align;
            uint32_t offset;
            uint8_t lane;
        } mem;
        uint8_t lane;
        uint8_t bytes[16]; /* v128.const value, shuffle lanes */
        int32_t i32;
        int64_t i64;
        uint32_t f32; /* raw bits: NaN payloads survive */
        uint64_t f64;
        wasm_valtype type; /* select t, ref.null t */
    } imm;
} wasm_instr;

/* The parameter and result types of a block type (which must be valid:
 * a type index in range). The arrays live in the module or in a static
 * table. */
void wasm_blocktype_types(const wasm_module *m, const wasm_blocktype *bt, uint32_t *np,
                          const wasm_valtype **params, uint32_t *nr, const wasm_valtype **results);

/* Decodes the instruction at r->p into *ins and advances past it.
 * False with a WASM_ERR_MALFORMED error on unknown opcodes or bad
 * immediates. */
bool wasm_read_instr(wasm_reader *r, wasm_instr *ins);

/* ---- validation pass -------------------------------------------------- */

/* Hooks called by wasm_validate_body(). `on_instr` runs after each
 * instruction has been validated (so every index in it is in range and the
 * operands it consumes are there, in reachable code); returning false
 * aborts validation with whatever the hook put in *err. NULL hooks are
 * allowed. */
typedef struct wasm_body_hooks {
    void *ud;
    bool (*on_locals)(void *ud, uint32_t nlocals, const wasm_valtype *types);
    bool (*on_instr)(void *ud, const wasm_instr *ins);
} wasm_body_hooks;

/* Validates the body of defined function `func_index` in one pass,
 * calling hooks along the way. Needs the module's context (types, funcs,
 * tables, memories, globals, elems, data count, declared references),
 * which wasm_module_validate() sets up; exposed here for the compiler. */
bool wasm_validate_body(const wasm_module *m, uint32_t func_index, const wasm_body_hooks *hooks,
                        wasm_error *err);

/* ---- linear memory (memory.c) ------------------------------------------ */

#define WASM_PAGE_SIZE 65536u
/* A 32-bit memory is reserved as 4 GiB plus a 4 GiB guard: any address a
 * load or store can form (u32 base + u32 offset + access size) lands inside
 * the reservation, so accesses need no bounds check and a stray one faults
 * in the guard and becomes a trap (trap.c). */
#define WASM_MEMORY_RESERVE (8ull << 30)

typedef struct wasm_memory {
    uint8_t *base;      /* start of the reservation; accessible bytes follow */
    uint64_t pages;     /* current size in pages */
    uint64_t max_pages; /* hard cap: the declared max, or 65536 */
    bool has_max;       /* a max was declared (import matching needs it) */
} wasm_memory;

/* Reserves the address space and makes `min_pages` pages accessible
 * (zeroed). `max_pages` is the cap that grow may reach. False with *err
 * (WASM_ERR_NOMEM, naming the size) when the reservation fails. */
bool wasm_memory_init(wasm_memory *mem, uint32_t min_pages, uint32_t max_pages, wasm_error *err);
/* Grows by `delta` pages by changing protections only (the base never
 * moves). Returns the old size in pages, or -1 if the cap would be passed
 * or the kernel refuses, as memory.grow wants. */
int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta);
/* Unmaps the whole reservation. Safe on a zeroed or released memory. */
void wasm_memory_release(wasm_memory *mem);

/* Copy-on-write images (snapshot.c uses these). An image is a memfd
 * holding `pages` pages of memory contents. Mapping it makes the first
 * `pages` pages a private copy-on-write view of the file: reading costs a
 * minor fault, writing copies one 4 KiB page, and nothing else is copied.
 * wasm_memory_map_image grows `mem` to `pages` first (false with *err when
 * that passes its cap or the kernel refuses). */
bool wasm_memory_map_image(wasm_memory *mem, int fd, uint64_t pages, wasm_error *err);
/* Puts `mem` back to the state wasm_memory_map_image left: pages grown
 * since are discarded and closed again, and every page of the image that
 * was written (it became a private copy) gets the image's bytes again.
 * `image` is a read-only view of the same file. Costs work only for the
 * pages that were written. False only when the kernel refuses. *reset (may
 * be NULL): the 4 KiB pages written since the last reset. */
bool wasm_memory_reset_image(wasm_memory *mem, uint64_t pages, const uint8_t *image,
                             uint64_t *reset);

/* ---- traps from faults (trap.c) ------------------------------------------ */

/* A region of address space where a fault means "the guest went out of
 * bounds", and where to resume when it does. Frames nest per thread (a
 * host function may call back into Wasm). */
typedef struct wasm_trap_frame {
    sigjmp_buf jb;
    const uint8_t *lo, *hi; /* faults in [lo, hi) become traps */
    struct wasm_trap_frame *prev;
    const void *pc;                 /* the instruction that faulted, after such a trap */
    const struct wasm_funcinst *fn; /* the interpreter's current function */
    uint32_t depth;                 /* ... and its call depth, for the backtrace */
    const void *fp;                 /* compiled code's frame pointer at the fault */
} wasm_trap_frame;

/* Installs the SIGSEGV/SIGBUS handler once per process (thread-safe),
 * chaining to whatever handler was there before for faults that are not
 * ours. False with *err if sigaction fails. */
bool wasm_trap_init(wasm_error *err);
/* Makes `f` the calling thread's innermost frame for faults in [lo, hi).
 * Call after sigsetjmp(f->jb, 0) returned 0; a fault in the range then
 * returns from that sigsetjmp with WASM_TRAP_OOB_MEMORY. */
void wasm_trap_enter(wasm_trap_frame *f, const void *lo, const void *hi);
/* Pops `f`; call on every exit path, trapped or not. */
void wasm_trap_leave(wasm_trap_frame *f);
/* The calling thread's innermost frame, or NULL. */
wasm_trap_frame *wasm_trap_current(void);
/* Ends the innermost call into Wasm with trap `code`: jumps to the
 * innermost frame's sigsetjmp. Only with a frame set up. */
__attribute__((noreturn)) void wasm_trap_raise(wasm_trap_code code);
/* Makes `f` the thread's innermost frame and returns the one before: a
 * fiber switch (fiber.c) swaps each stack's chain of frames in and out. */
wasm_trap_frame *wasm_trap_swap(wasm_trap_frame *f);

/* Trap sites. A site is (function index << 32 | byte offset in the
 * module), the offset WASM_OFFSET_UNKNOWN where only the function is
 * known; WASM_SITE_NONE: not known at all. Compiled code gives the offset
 * alone (index 0), and publishing finds the function whose body holds it:
 * a 32-bit constant is an instruction's immediate, where LLVM keeps a
 * 64-bit one in a register across a loop, and registers are what a
 * call-heavy function runs short of. Whatever raises a trap notes
 * its site first (compiled code's helpers, the interpreter's loop); the
 * call that catches the trap takes the note, or finds the site of a fault
 * from the frame's pc, and publishes it for wasm_last_trap_site. */
#define WASM_SITE_NONE UINT64_MAX
void wasm_trap_note_site(uint64_t site);
/* The noted site, and no note left (WASM_SITE_NONE when there was none). */
uint64_t wasm_trap_take_site(void);
/* Publishes the site of the trap that ended a call on module `m` (a
 * nested call's, then its caller's if the trap goes on through a host
 * function). WASM_SITE_NONE publishes nothing. */
void wasm_trap_publish_site(const struct wasm_module *m, uint64_t site);
/* Forgets the noted and the published site: an outermost call starts. */
void wasm_trap_forget_site(void);

/* The site of `site` (as noted: compiled code's offset alone gets its
 * function) in module `m`. */
wasm_trap_site wasm_site_of(const wasm_module *m, uint64_t site);

/* ---- the Wasm stack: backtraces and samples (stack.c) -------------------- */

/* Notes the frames of the trap being raised, innermost first (a trap that
 * came out of a nested call through a host function is noted again by the
 * caller's run, with the caller's frames). The call that catches the trap
 * publishes them for wasm_last_trap_backtrace (wasm_trap_publish_site);
 * an outermost call's start forgets both (wasm_trap_forget_site). */
void wasm_stack_note(const wasm_trap_site *frames, size_t n);
void wasm_stack_publish(void);
void wasm_stack_forget(void);
/* Compiled code's stack on module `m`: the innermost frame at `site`
 * (WASM_SITE_NONE: none, the walk starts at fp's caller); the function
 * whose code holds `pc` when it is another one (LLVM inlined the site's
 * function into it; NULL: not known); then the frames up the chain of
 * frame pointers from `fp` (compiled code keeps them, see jit_compile.c)
 * while their return addresses are in `m`'s code. */
size_t wasm_stack_native(const wasm_module *m, uint64_t site, const void *pc, const void *fp,
                         wasm_trap_site *out, size_t max);
/* The sampling period in ms (0: not sampling); read relaxed at check
 * points that are due. */
uint32_t wasm_sample_period(void);
/* Hands a sample to the sampler, if one still runs. */
void wasm_stack_sample(const wasm_trap_site *frames, size_t n);
/* Starts the ticker that moves the epoch (interp.c). */
void wasm_epoch_start(void);

/* ---- what a running call keeps per thread (interp.c, fiber.c) ------------ */

/* A call into Wasm keeps its state in thread-local variables, read on the
 * interpreter's hot paths: the interpreter's value and call stacks, the
 * call limits, the innermost instance and the trap frames. A fiber carries
 * its own copy; switching to a fiber saves the thread's into the fiber it
 * leaves and loads the one of the fiber it enters (a few dozen bytes). */
typedef struct wasm_exec_state {
    void *cells, *limit, *top, *calls; /* the interpreter's stacks (opaque here) */
    uint32_t depth;
    uint64_t deadline, fuel, check_at, slice_end;
    bool fuel_budget;
    uint32_t slice; /* the fiber's time slice, ms (0: none) */
    const wasm_instance *inst;
    wasm_trap_frame *trap;
    const void *stack_limit;      /* for compiled code; NULL: the thread's, found when needed */
    struct wasm_jit_ctx *jit_ctx; /* the running compiled call's (wasm_jit_watch) */
    wasm_host_observer observer;  /* wasm_observe_host_calls's, per stack */
    void *observer_arg;
} wasm_exec_state;
/* Ends the running fiber's time slice (interp.c, at a check point): the
 * fiber suspends as yielded (wasm_fiber_yielded) and returns when resumed.
 * Only called when a slice is set, which only fibers have. */
void wasm_fiber_yield(void);
/* Copies the calling thread's state into *s. */
void wasm_exec_save(wasm_exec_state *s);
/* Makes *s the calling thread's state. */
void wasm_exec_load(const wasm_exec_state *s);
/* A fresh time slice for the call whose state was just loaded (a fiber
 * resumed after a wait starts its slice anew). */
void wasm_exec_slice_restart(void);
/* Sets the fuel left to the calls on this thread: compiled code counts it
 * in its context and hands it back before it calls out (jit_run.c). */
void wasm_exec_set_fuel(uint64_t left);
/* Whether the calls on this thread run under a fuel budget
 * (wasm_call_opts.fuel): native code compiled without WASM_NATIVE_FUEL
 * must not run then. */
bool wasm_exec_fuel_budget(void);
/* A state with interpreter stacks of its own, for a new fiber; false when
 * they cannot be mapped. wasm_exec_state_free unmaps them. */
bool wasm_exec_state_init(wasm_exec_state *s);
void wasm_exec_state_free(wasm_exec_state *s);

/* ---- values in frames ---------------------------------------------------- */

/* The interpreter's frames are arrays of 64-bit cells. An i32 or f32 sits
 * in the low 32 bits of one cell (f32 as raw bits), an i64 or f64 fills
 * one, a reference is a pointer in one, and a v128 takes two consecutive
 * cells holding its 16 bytes in memory order (lane 0 first). */
typedef uint64_t wasm_cell;

/* ---- SIMD (simd.c) ---------------------------------------------------------- */

/* Executes a SIMD instruction that does not touch memory: every 0xFD
 * opcode except the loads and stores. a, b, c point at the operands'
 * cells in stack order (unused ones may be NULL); `imm` is the lane index
 * (1 byte) or the 16 shuffle lane indices, already validated. The result
 * goes to `out` (2 cells for v128, 1 for a scalar) and may overlap any
 * input. */
void wasm_simd_exec(wasm_op op, const uint8_t *imm, const wasm_cell *a, const wasm_cell *b,
                    const wasm_cell *c, wasm_cell *out);
/* The v128 loads: V128_LOAD, LOAD8X8_S/U, LOAD16X4_S/U, LOAD32X2_S/U,
 * LOAD8/16/32/64_SPLAT, LOAD32/64_ZERO. `p` is the effective address in
 * linear memory (it may fault; the fault handler turns that into a trap). */
void wasm_simd_load(wasm_op op, const uint8_t *p, wasm_cell *out);
/* V128_LOAD8/16/32/64_LANE: `v` is the vector operand, `out` the result. */
void wasm_simd_load_lane(wasm_op op, const uint8_t *p, uint8_t lane, const wasm_cell *v,
                         wasm_cell *out);
/* V128_STORE and V128_STORE8/16/32/64_LANE (lane ignored for V128_STORE). */
void wasm_simd_store(wasm_op op, uint8_t *p, uint8_t lane, const wasm_cell *v);

/* ---- runtime objects (instance.c) ------------------------------------------ */

/* Compiled code of one defined function (compile.c). The frame of a call
 * is laid out as [params+locals | operand temporaries | constants | saved
 * if-params]: the arguments are copied into the first cells, the other
 * locals zeroed and the constant pool copied in at entry. */
typedef struct wasm_code {
    uint32_t *ops; /* the internal instruction stream (interp.c's format) */
    uint32_t nops;
    uint32_t nparam_cells, nresult_cells;
    uint32_t nlocal_cells; /* params + declared locals */
    uint32_t const_base;   /* first cell of the constant pool */
    uint32_t frame_cells;  /* whole frame: locals, temporaries, constants */
    wasm_cell *consts;
    uint32_t nconsts;
} wasm_code;

/* Stack kept free below compiled code for the host functions it calls. */
#define WASM_JIT_STACK_MARGIN (64u << 10)

/* The native tier's context of one call stack (jit_run.c): what compiled
 * code reads at its checks, handed to every compiled function as its first
 * argument because compiled code cannot read the interpreter's
 * thread-local variables cheaply (docs/design/native.md, section 5). The
 * offsets are part of the code the compiler emits: change them together. */
typedef struct wasm_jit_ctx {
    /* The lowest stack address compiled code may reach, or WASM_JIT_POKED
     * to stop it at its next check (jit_watch.c). */
    const void *stack_limit;
    uint64_t fuel; /* as the interpreter's: the call traps when it reaches 0 */
    /* The instance whose code runs (wasm_jit_enter), for the checks' slow
     * path: compiled code then keeps no register for it in loops. */
    wasm_instance *inst;
} wasm_jit_ctx;

/* A stack limit above every stack: each check takes its slow path. */
#define WASM_JIT_POKED UINTPTR_MAX

/* The entry trampoline of a function type, emitted with the module: calls
 * compiled function `fn` of `inst` with the arguments in `cells` (laid out
 * as the interpreter's frames are) and writes its results there. */
typedef void (*wasm_jit_entry)(wasm_jit_ctx *ctx, wasm_instance *inst, void *fn, wasm_cell *cells);

typedef struct wasm_funcinst {
    const wasm_functype *type;
    wasm_instance *inst;   /* the instance whose code this is; NULL for host */
    const wasm_code *code; /* NULL for host functions */
    wasm_host_fn host;
    void *env;
    /* Compiled code of a native-tier module, called through `entry`; NULL
     * when the function runs in the interpreter. */
    void *native;
    wasm_jit_entry entry;
} wasm_funcinst;

typedef struct wasm_table_obj {
    wasm_valtype elem;
    uint32_t size, max; /* max = UINT32_MAX when unbounded */
    void **elems;       /* malloc'd; funcref: wasm_funcinst *; externref: host pointer */
} wasm_table_obj;

typedef struct wasm_global_obj {
    wasm_valtype type;
    bool mut;
    wasm_cell val[2]; /* two cells for v128 */
} wasm_global_obj;

/* An instance: the hot part first, at fixed offsets, so that compiled code
 * (and a later native tier) reaches memory, globals, tables and functions
 * with one load each. */
struct wasm_instance {
    uint8_t *mem_base;         /* memory 0's bytes, NULL if none */
    wasm_memory *mem;          /* memory 0 (owned or imported) */
    wasm_global_obj **globals; /* index space, imports first */
    wasm_table_obj **tables;
    wasm_funcinst **funcs;
    const wasm_module *module;
    uint8_t *elem_dropped;  /* one flag per element segment */
    uint8_t *data_dropped;  /* one flag per data segment */
    volatile int interrupt; /* set by wasm_interrupt() */
    /* The linker's memory cap in bytes (0: none). It bounds memory 0 and
     * the instance's own tables together (an entry counts as a pointer),
     * so that a huge table cannot get past a small memory limit. */
    uint64_t cap_bytes;
    /* Whether its functions run the module's native code: made after the
     * code was bound, or switched by wasm_instance_adopt_native. */
    bool native;
    util_arena arena; /* everything below lives here */
    wasm_memory own_mem;
};

/* Integer comparisons that compile.c fuses with the br_if or if that
 * consumes them into one compare-and-branch: `BR_<cmp> dst a b target`
 * jumps when `a cmp b` (dst is unused; keeping the compare's layout lets
 * the compiler rewrite it in place). Each row: the comparison, the cell
 * field it reads, the C operator. */
#define WASM_FUSED_COMPARES(X)                                                                     \
    X(I32_EQ, u32, ==)                                                                             \
    X(I32_NE, u32, !=)                                                                             \
    X(I32_LT_S, s32, <)                                                                            \
    X(I32_LT_U, u32, <)                                                                            \
    X(I32_GT_S, s32, >)                                                                            \
    X(I32_GT_U, u32, >)                                                                            \
    X(I32_LE_S, s32, <=)                                                                           \
    X(I32_LE_U, u32, <=)                                                                           \
    X(I32_GE_S, s32, >=)                                                                           \
    X(I32_GE_U, u32, >=)                                                                           \
    X(I64_EQ, u64, ==)                                                                             \
    X(I64_NE, u64, !=)                                                                             \
    X(I64_LT_S, s64, <)                                                                            \
    X(I64_LT_U, u64, <)                                                                            \
    X(I64_GT_S, s64, >)                                                                            \
    X(I64_GT_U, u64, >)                                                                            \
    X(I64_LE_S, s64, <=)                                                                           \
    X(I64_LE_U, u64, <=)                                                                           \
    X(I64_GE_S, s64, >=)                                                                           \
    X(I64_GE_U, u64, >=)

/* Scalar loads and stores that compile.c fuses with the i32.add computing
 * their address: `X_<load> dst x y offset` reads at x + y + offset (the
 * sum wrapped to 32 bits, as i32.add does), `X_<store> x y value offset`. */
/* clang-format off */
#define WASM_SCALAR_MEMORY_OPS(X) \
    X(I32_LOAD) \
    X(I64_LOAD) \
    X(F32_LOAD) \
    X(F64_LOAD) \
    X(I32_LOAD8_S) \
    X(I32_LOAD8_U) \
    X(I32_LOAD16_S) \
    X(I32_LOAD16_U) \
    X(I64_LOAD8_S) \
    X(I64_LOAD8_U) \
    X(I64_LOAD16_S) \
    X(I64_LOAD16_U) \
    X(I64_LOAD32_S) \
    X(I64_LOAD32_U) \
    X(I32_STORE) \
    X(I64_STORE) \
    X(F32_STORE) \
    X(F64_STORE) \
    X(I32_STORE8) \
    X(I32_STORE16) \
    X(I64_STORE8) \
    X(I64_STORE16) \
    X(I64_STORE32)
/* clang-format on */

/* Internal opcodes beyond the Wasm ones. Compiled code reuses the wasm_op
 * numbers for instructions it keeps as they are (numeric ops, scalar loads
 * and stores, memory, table and reference ops), each followed by its
 * operands as frame-cell indices; these are the rest (formats in interp.c). */
enum {
    WASM_IOP_MOV = WASM_OP_COUNT_,
    WASM_IOP_MOV2,
    WASM_IOP_JMP,
    WASM_IOP_BR_IF,
    WASM_IOP_BR_UNLESS,
    WASM_IOP_BR_TABLE,
    WASM_IOP_RET,
    WASM_IOP_CALL,
    WASM_IOP_CALL_INDIRECT,
    WASM_IOP_RETURN_CALL,
    WASM_IOP_RETURN_CALL_INDIRECT,
    WASM_IOP_CHECK,
    WASM_IOP_SELECT2,
    WASM_IOP_GLOBAL_GET2,
    WASM_IOP_GLOBAL_SET2,
    WASM_IOP_SIMD,
    WASM_IOP_SIMD_LOAD,
    WASM_IOP_SIMD_LOAD_LANE,
    WASM_IOP_SIMD_STORE,
#define X(id, field, cmp) WASM_IOP_BR_##id,
    WASM_FUSED_COMPARES(X)
#undef X
        WASM_IOP_BR_I32_EQZ,
    WASM_IOP_BR_I32_NEZ,
    WASM_IOP_BR_I64_EQZ,
    WASM_IOP_BR_I64_NEZ,
#define X(id) WASM_IOP_X_##id,
    WASM_SCALAR_MEMORY_OPS(X)
#undef X
        WASM_IOP_COUNT_
};

/* Bulk memory and table operations (bulk.c), for the interpreter and
 * compiled code alike: the trap, or WASM_TRAP_NONE; nothing is written
 * when the range is out of bounds. Segments and tables are the instance's
 * index spaces; table_grow returns the old size or UINT32_MAX (past the
 * maximum or the instance's cap). */
wasm_trap_code wasm_bulk_memory_fill(wasm_instance *inst, uint32_t d, uint32_t val, uint32_t n);
wasm_trap_code wasm_bulk_memory_copy(wasm_instance *inst, uint32_t d, uint32_t s, uint32_t n);
wasm_trap_code wasm_bulk_memory_init(wasm_instance *inst, uint32_t seg, uint32_t d, uint32_t s,
                                     uint32_t n);
uint32_t wasm_bulk_table_grow(wasm_instance *inst, uint32_t table, void *init, uint32_t n);
wasm_trap_code wasm_bulk_table_fill(wasm_instance *inst, uint32_t table, uint32_t i, void *ref,
                                    uint32_t n);
wasm_trap_code wasm_bulk_table_copy(wasm_instance *inst, uint32_t dst, uint32_t src, uint32_t d,
                                    uint32_t s, uint32_t n);
wasm_trap_code wasm_bulk_table_init(wasm_instance *inst, uint32_t elem, uint32_t table, uint32_t d,
                                    uint32_t s, uint32_t n);

/* Grows a table by n entries set to `init`; returns the old size, or -1
 * past its maximum or when out of memory (table.grow). */
int64_t wasm_table_grow(wasm_table_obj *t, uint32_t n, void *init);
/* The first steps of instantiation: resolves the imports through `l` and
 * creates the instance's own functions, tables, memory (at its minimum
 * size) and globals (evaluated), but applies no segment and runs nothing.
 * snapshot.c finishes such an instance from a snapshot. */
wasm_instance *wasm_instance_alloc(const wasm_module *m, wasm_linker *l, wasm_error *err);
/* Whether `extra` more bytes of memory or own table fit under the
 * instance's cap_bytes (always true without one); memory.grow and
 * table.grow ask before growing. */
bool wasm_instance_fits(const wasm_instance *inst, uint64_t extra);
/* Item k of an expression-based element segment, evaluated (table.init). */
void *wasm_elem_item(wasm_instance *inst, const wasm_elem *e, uint32_t k);

/* Cells a value of type t takes in a frame. */
static inline uint32_t wasm_cells(wasm_valtype t) {
    return t == WASM_V128 ? 2 : 1;
}

/* wasm_module_validate plus compilation, sharing one pass over each body:
 * what wasm_module_load uses. */
bool wasm_module_validate_and_compile(wasm_module *m, wasm_error *err);

/* Compiles every defined function of a module in the validator's pass
 * (compile.c); called by wasm_module_load. False with *err on a validation
 * error or when out of memory. */
bool wasm_compile_module(wasm_module *m, wasm_error *err);
void wasm_code_free(wasm_code *code);

/* Runs `fn` (interp.c), interpreted or compiled. args/results are cells
 * laid out as the function's frame expects. Returns a trap code. */
wasm_trap_code wasm_interp_call(const wasm_funcinst *fn, wasm_cell *args_results,
                                const wasm_call_opts *opts);
/* Calls host function `f` for `caller` with its arguments in cells, which
 * receive the results (interp.c). */
wasm_trap_code wasm_interp_call_host(const wasm_funcinst *f, wasm_instance *caller,
                                     wasm_cell *cells);
/* Sets the fault range of frame `tf` to the memory of `inst`. */
void wasm_trap_frame_range(wasm_trap_frame *tf, const wasm_instance *inst);

/* Structural equality of function types (call_indirect, imports). */
bool wasm_functype_eq(const wasm_functype *a, const wasm_functype *b);

/* ---- the native tier's object loader (jit_load.c) ---------------------- */

/* A name the loaded code may refer to, and its address (a runtime helper,
 * the epoch counter). */
typedef struct wasm_jit_symbol {
    const char *name;
    void *addr;
} wasm_jit_symbol;

/* Code and data loaded from one object, executable. */
typedef struct wasm_jit_image wasm_jit_image;

/* Loads an ELF64 x86-64 relocatable object (LLVM's, small code model and
 * position-independent, or large code model) from
 * obj[0, len), which must be 8-byte aligned and is not kept: its sections
 * are placed in a mapping of their own, its undefined symbols bound to
 * `imports`, its relocations applied, its code made read+execute. NULL
 * with *err (WASM_ERR_MALFORMED naming what is wrong or unsupported, or
 * WASM_ERR_NOMEM) otherwise; the bytes are not trusted. */
wasm_jit_image *wasm_jit_load(const uint8_t *obj, size_t len, const wasm_jit_symbol *imports,
                              size_t nimports, wasm_error *err);
/* The address of the object's global symbol `name`, or NULL. */
void *wasm_jit_find(const wasm_jit_image *img, const char *name);
/* The same, with the symbol's size in bytes in *size (0 when not found). */
void *wasm_jit_find_sized(const wasm_jit_image *img, const char *name, size_t *size);
/* The site (jit_compile.c's stackmap ids) of the guest memory access at
 * code address `pc` in the image, or WASM_SITE_NONE when pc is not one. */
uint64_t wasm_jit_site_at(const wasm_jit_image *img, const void *pc);
/* Unmaps the image; its code must not be running. NULL is allowed. */
void wasm_jit_unload(wasm_jit_image *img);

/* Compiles the defined functions of validated module `m` into one object
 * for wasm_jit_load (jit_compile.c): function i as "wasm_f<i>", called as
 * `r0 f(ctx, inst, params..., out)` in LLVM's tailcc convention (`out`,
 * cells for the results after the first, only with several), and the
 * entry trampoline of type t (wasm_jit_entry, the C convention) as
 * "wasm_e<t>". *obj is malloc'd (8-byte aligned). False with *err:
 * WASM_ERR_LIMIT naming the first instruction the tier does not compile,
 * or that LLVM cannot be loaded. */
bool wasm_jit_compile(const wasm_module *m, uint32_t flags, uint8_t **obj, size_t *len,
                      wasm_error *err);

/* ---- module internals -------------------------------------------------- */

/* The allocation that backs a wasm_module: the public struct first, so a
 * wasm_module * can be converted back. */
typedef struct wasm_module_impl {
    wasm_module pub;
    util_arena arena;
    /* declared function references (C.refs): bitmap over funcs, built by
     * the validator from exports, element segments and global inits */
    uint8_t *refs;
    /* compiled code, one per defined function, when loaded for execution */
    wasm_code *codes;
    /* the native tier's code (wasm_module_compile_native): the loaded
     * object, and per defined function its code and entry trampoline.
     * `natives` is stored last, with release order, and read with acquire
     * (module_natives): code may be bound while other threads run
     * instances of the module (a server compiling in the background), and
     * whoever sees it sees the rest. */
    wasm_jit_image *jit;
    void **natives;
    wasm_jit_entry *entries;
    /* the defined functions' code ranges, by address (wasm_jit_func_at) */
    struct wasm_jit_range {
        uintptr_t lo, hi;
        uint32_t func;
    } * ranges;
    uint32_t nranges;
    uint8_t *jit_obj; /* the object it was loaded from, for a cache entry */
    size_t jit_obj_len;
    uint32_t jit_flags; /* WASM_NATIVE_* it was compiled with */
} wasm_module_impl;

/* Loads object `obj` and binds it to `m`'s defined functions (jit_run.c).
 * Takes `obj` (malloc'd) in every case: the module keeps it. */
bool wasm_jit_bind(wasm_module *m, uint8_t *obj, size_t len, uint32_t flags, wasm_error *err);
/* The defined function of `mi` whose compiled code holds `pc` (its index
 * space's), or UINT32_MAX: pc is not in its functions' code. */
uint32_t wasm_jit_func_at(const wasm_module_impl *mi, const void *pc);
/* The module's natives, or NULL before its code is bound. */
static inline void **wasm_module_natives(const wasm_module_impl *mi) {
    return __atomic_load_n(&mi->natives, __ATOMIC_ACQUIRE);
}

/* ---- the native tier's runtime helpers (jit_run.c, interp.c) -------------
 * Compiled code calls these by name (jit_compile.c declares them, the
 * loader binds them). */

/* An explicit trap of compiled code at `site` (function << 32 | offset);
 * `fp` is the trapping function's frame pointer, for the backtrace. */
__attribute__((noreturn)) void wasm_jit_trap(wasm_jit_ctx *ctx, uint32_t code, uint64_t site,
                                             const void *fp);
/* A call from compiled code of `caller` to `f` (an import, or a function
 * of another instance), arguments and results in `cells`. */
void wasm_jit_call(wasm_jit_ctx *ctx, wasm_instance *caller, const wasm_funcinst *f,
                   wasm_cell *cells);
/* A bulk memory or table operation `op` (a wasm_op) with its immediates
 * and operands: the trap (0: none), or table.grow's result. */
uint64_t wasm_jit_bulk(wasm_instance *inst, uint32_t op, uint32_t imm0, uint32_t imm1, uint64_t a,
                       uint64_t b, uint64_t c);
/* call_indirect through table `table` for function type `type`: traps at
 * `site` for an index out of range, a null entry or another signature. */
void wasm_jit_call_indirect(wasm_jit_ctx *ctx, wasm_instance *inst, uint32_t table, uint32_t type,
                            uint32_t index, wasm_cell *cells, uint64_t site);
/* memory.grow of memory 0: the old size in pages, or -1. */
uint32_t wasm_jit_memory_grow(wasm_instance *inst, uint32_t delta);
/* The slow path of a check (interp.c), `fp` the checking function's frame
 * pointer and `ret` the return address into it (the thunk adds it): the stack is exhausted (a
 * trap), or the context was poked: a sample is due, the time slice is over (the fiber yields), the
 * deadline passed or `inst` was interrupted (a trap), or neither (the poke was for another
 * instance, or came late): it goes on. */
void wasm_jit_check(wasm_jit_ctx *ctx, uint64_t site, const void *fp, const uint8_t *ret);
/* Whether a call to `f` runs its compiled code: it has some, and it counts
 * fuel when the thread's calls have a budget (wasm_exec_fuel_budget). */
bool wasm_jit_runs(const wasm_funcinst *f);
/* Fills a context for a compiled call starting on this thread's current
 * stack (interp.c). */
void wasm_jit_ctx_init(wasm_jit_ctx *ctx);
/* Compiled code of `inst` is about to run (again) on ctx, which this
 * thread publishes: ctx->inst becomes `inst`, and ctx is poked now if the
 * thread's check point has passed or `inst` was interrupted (interp.c). */
void wasm_jit_enter(wasm_jit_ctx *ctx, wasm_instance *inst);

/* ---- who stops compiled code (jit_watch.c) -------------------------------- */

/* Publishes `ctx` (NULL: none) as the compiled call running on this
 * thread, for the pokes below; returns the one published before. The
 * caller owns ctx and must publish another before its frame ends. */
wasm_jit_ctx *wasm_jit_watch(wasm_jit_ctx *ctx);
/* The context this thread publishes. */
wasm_jit_ctx *wasm_jit_watching(void);
/* The epoch at which this thread's deadline or time slice ends. */
void wasm_jit_watch_until(uint64_t check_at);
/* The ticker, after each tick: pokes the running context of every thread
 * whose check point is at or before `epoch`. Whether any thread has a
 * check point (a deadline, a time slice or a sample to come). */
bool wasm_jit_poke_due(uint64_t epoch);
/* Pokes the running context of every thread (an interruption). */
void wasm_jit_poke_all(void);

static inline wasm_module_impl *wasm_impl(const wasm_module *m) {
    return (wasm_module_impl *)m;
}

#endif
