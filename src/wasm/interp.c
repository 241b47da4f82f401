/*
 * interp.c - the dispatch loop over compile.c's internal code.
 *
 * Code is a stream of 32-bit words: an opcode, then its operands, most of
 * them frame-cell indices (see compile.c for the frame layout). Dispatch is
 * computed goto. Wasm-to-Wasm calls and returns never recurse in C: they
 * push and pop records on a per-thread call stack. A callee's frame starts
 * just past the caller's whole frame (the constant pool sits at the top of
 * every frame, so frames must not overlap): CALL copies the arguments
 * there and RET copies the results back to the caller's argument cells.
 *
 * Operand formats (words after the opcode):
 *   unary/binary numeric op       dst a [b]
 *   scalar load / store           dst addr offset | addr value offset
 *   X_load / X_store (fused add)  dst x y offset | x y value offset
 *   MOV, MOV2                     dst src          (1 or 2 cells)
 *   JMP                           target
 *   BR_IF, BR_UNLESS              cond target
 *   BR_<compare> (fused)          dst a b target   (BR_*_EQZ/NEZ: dst a target)
 *   BR_TABLE                      index n target0 .. target_n (last: default)
 *   RET                           src ncells       (results to the frame base)
 *   CALL                          func argslot
 *   CALL_INDIRECT                 type table index argslot
 *   RETURN_CALL                   func argslot ncells
 *   RETURN_CALL_INDIRECT          type table index argslot ncells
 *   CHECK                         (loop header: interruption and fuel)
 *   SELECT, SELECT2               dst a b cond
 *   GLOBAL_GET(2) / GLOBAL_SET(2) dst global | global src
 *   SIMD                          wasm_op dst a b c imm[4 words]
 *   SIMD_LOAD                     wasm_op dst addr offset
 *   SIMD_LOAD_LANE                wasm_op dst addr offset vec lane
 *   SIMD_STORE                    wasm_op addr vec offset lane
 *   table, memory, reference ops: see their handlers.
 *
 * Loads and stores are not bounds-checked: the memory reservation
 * (memory.c) makes any out-of-bounds access fault, and trap.c returns here
 * through sigsetjmp with the trap. Bulk memory and table operations check
 * their ranges explicitly, before writing anything, as the spec requires.
 */
#include <math.h>
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wasm/internal.h"

/* Keep GCC from turning the small copy loops below into memcpy calls. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#define STACK_CELLS (8u << 20) /* 64 MiB of address space per thread, committed lazily */
#define MAX_DEPTH 50000u

typedef union ucell {
    uint64_t u64;
    int64_t s64;
    uint32_t u32;
    int32_t s32;
    float f32;
    double f64;
    void *ref;
} ucell;

typedef struct callrec {
    const uint32_t *ip;
    ucell *fp;
    const wasm_funcinst *fn;
    uint32_t ret_slot; /* where the caller wants the results */
} callrec;

typedef struct thread_stack {
    ucell *cells, *limit, *top; /* top: first cell free for a new entry */
    callrec *calls;
    uint32_t depth;
} thread_stack;

static _Thread_local thread_stack ts;

/* ---- interruption: epoch, deadline, fuel ------------------------------------- */

/* Milliseconds since the ticker started; read relaxed at every check.
 * The ticker reads the clock rather than counting its wakeups: on a busy
 * machine a 1 ms sleep can take several, and counted ticks would then
 * stretch a 200 ms deadline to a second. */
static uint64_t epoch;
static pthread_once_t ticker_once = PTHREAD_ONCE_INIT;

static uint64_t monotonic_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Set by wasm_interrupt_all(): the epoch then stays at its end. */
static int epoch_ended;

/* The monotonic clock's ms at epoch 0. */
static uint64_t ticker_start;

/* Moves the epoch to now: never back, so never off its end either. */
static void epoch_advance(void) {
    uint64_t now = monotonic_ms() - ticker_start;
    uint64_t old = __atomic_load_n(&epoch, __ATOMIC_SEQ_CST);
    while (old < now && !__atomic_compare_exchange_n(&epoch, &old, now, false, __ATOMIC_SEQ_CST,
                                                     __ATOMIC_SEQ_CST)) {
    }
}

/* The ticker sleeps once no thread has had a check point (a deadline, a
 * time slice, a sample to take) for IDLE_TICKS ticks, so that an idle
 * server does not wake a thousand times a second; the epoch stands still
 * meanwhile. A thread that gets a check point wakes it (ticker_wake),
 * moving the epoch to now first. No wakeup is lost: a thread publishes
 * its point, then looks at ticker_asleep; the ticker sets ticker_asleep,
 * then looks at every point (both sequentially consistent), so either the
 * thread sees the ticker asleep or the ticker sees the point. */
#define IDLE_TICKS 100
static pthread_mutex_t ticker_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ticker_cond = PTHREAD_COND_INITIALIZER;
static int ticker_asleep;

static void ticker_sleep(void) {
    pthread_mutex_lock(&ticker_lock);
    __atomic_store_n(&ticker_asleep, 1, __ATOMIC_SEQ_CST);
    if (!wasm_jit_poke_due(__atomic_load_n(&epoch, __ATOMIC_SEQ_CST))) {
        while (__atomic_load_n(&ticker_asleep, __ATOMIC_SEQ_CST) &&
               !__atomic_load_n(&epoch_ended, __ATOMIC_SEQ_CST))
            pthread_cond_wait(&ticker_cond, &ticker_lock);
    }
    __atomic_store_n(&ticker_asleep, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&ticker_lock);
}

/* Wakes the ticker if it sleeps; one load when it does not. */
static void ticker_wake(void) {
    if (!__atomic_load_n(&ticker_asleep, __ATOMIC_SEQ_CST)) return;
    pthread_mutex_lock(&ticker_lock);
    epoch_advance();
    __atomic_store_n(&ticker_asleep, 0, __ATOMIC_SEQ_CST);
    pthread_cond_signal(&ticker_cond);
    pthread_mutex_unlock(&ticker_lock);
}

static void *ticker(void *arg) {
    (void)arg;
    for (unsigned idle = 0;;) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        epoch_advance();
        /* after the store: a wasm_interrupt_all() that came in between is
         * seen here and its end of the epoch put back */
        if (__atomic_load_n(&epoch_ended, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&epoch, UINT64_MAX, __ATOMIC_SEQ_CST);
            wasm_jit_poke_all();
            break;
        }
        idle = wasm_jit_poke_due(__atomic_load_n(&epoch, __ATOMIC_SEQ_CST)) ? 0 : idle + 1;
        if (idle >= IDLE_TICKS) {
            ticker_sleep();
            idle = 0;
        }
    }
    return NULL;
}

static void start_ticker(void) {
    ticker_start = monotonic_ms();
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_create(&t, &attr, ticker, NULL);
    pthread_attr_destroy(&attr);
}

/* The limits of the calls running on this thread. */
static _Thread_local uint64_t deadline = UINT64_MAX, fuel = UINT64_MAX;
/* Whether `fuel` is a budget (a wasm_call_opts.fuel is in force). */
static _Thread_local bool fuel_budget;
/* The epoch at which the checks take their slow path: the deadline, or
 * the end of the running fiber's time slice when that comes first. One
 * compare on the hot path either way. */
static _Thread_local uint64_t check_at = UINT64_MAX;
/* The running fiber's time slice in ms (wasm_fiber_set_slice); 0: none. */
static _Thread_local uint32_t slice;

/* The epoch at which the running fiber's time slice ends, and the one
 * at which the next sample of the stack is due (UINT64_MAX: none). */
static _Thread_local uint64_t slice_end = UINT64_MAX, sample_at = UINT64_MAX;

/* check_at from the deadline, the slice's end and the next sample. */
static void check_at_refresh(void) {
    uint64_t at = deadline < slice_end ? deadline : slice_end;
    check_at = sample_at < at ? sample_at : at;
    wasm_jit_watch_until(check_at);
    /* after publishing it (see ticker_sleep) */
    if (check_at != UINT64_MAX) ticker_wake();
}

/* A new time slice from now, and the next sample a period from now when
 * none is pending: the time the thread ran no guest code (between two
 * requests, say) must not make the first check of the next call a sample,
 * or every call's entry would be in the profile. */
static void check_at_update(void) {
    uint32_t period = wasm_sample_period();
    /* a sleeping ticker's epoch stands still: now from the clock then */
    if (slice || period || deadline != UINT64_MAX) ticker_wake();
    uint64_t now = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
    slice_end = slice ? now + slice : UINT64_MAX;
    if (!period)
        sample_at = UINT64_MAX;
    else if (sample_at == UINT64_MAX || sample_at <= now)
        sample_at = now + period;
    check_at_refresh();
}

/* The slow path of a check that is no deadline: the time slice is over.
 * The fiber yields (the embedder runs others and resumes it), then gets a
 * new slice. */
__attribute__((noinline)) static void slice_over(void) {
    wasm_fiber_yield();
    check_at_update();
}

/* At a check that took its slow path: whether a sample is due, and the
 * next one's time set (or none, when sampling stopped). */
static bool sample_due(void) {
    uint64_t now = __atomic_load_n(&epoch, __ATOMIC_RELAXED);
    if (now < sample_at) return false;
    uint32_t period = wasm_sample_period();
    sample_at = period ? now + period : UINT64_MAX;
    return period != 0;
}

/* The slow path's end when the call goes on: a slice that is over
 * yields; otherwise the next check point is set past the sample. */
static void slow_path_goes_on(void) {
    if (__atomic_load_n(&epoch, __ATOMIC_RELAXED) >= slice_end)
        slice_over();
    else
        check_at_refresh();
}
/* The lowest address compiled code may use on the running stack: the
 * fiber's, set when it starts; the thread's, found once (jit_ctx_init). */
static _Thread_local const void *stack_limit;

/* The instance of the innermost wasm_interp_call on this thread, for
 * wasm_call_should_stop(NULL). */
static _Thread_local const wasm_instance *current_inst;

/* A thread's stack is released when the thread exits: the key's
 * destructor runs with the stack's base as its value. */
static pthread_key_t stack_key;
static pthread_once_t stack_key_once = PTHREAD_ONCE_INIT;

static void stack_release(void *cells) {
    munmap(cells, (size_t)STACK_CELLS * sizeof(ucell));
    free(ts.calls);
    ts.cells = ts.top = ts.limit = NULL;
    ts.calls = NULL;
}

static void stack_key_create(void) {
    pthread_key_create(&stack_key, stack_release);
}

__attribute__((noinline)) static bool stack_init(void) {
    if (ts.cells) return true;
    pthread_once(&stack_key_once, stack_key_create);
    void *p = mmap(NULL, (size_t)STACK_CELLS * sizeof(ucell), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    callrec *calls = malloc((size_t)MAX_DEPTH * sizeof *calls);
    if (p == MAP_FAILED || !calls) {
        if (p != MAP_FAILED) munmap(p, (size_t)STACK_CELLS * sizeof(ucell));
        free(calls);
        return false;
    }
    ts.cells = ts.top = p;
    ts.limit = ts.cells + STACK_CELLS;
    ts.calls = calls;
    pthread_setspecific(stack_key, p);
    return true;
}

/* wasm_observe_host_calls's observer of the calls on this stack */
static _Thread_local wasm_host_observer observer;
static _Thread_local void *observer_arg;

/* ---- fibers: the state above, per stack ----------------------------------- */

void wasm_exec_save(wasm_exec_state *s) {
    s->cells = ts.cells;
    s->limit = ts.limit;
    s->top = ts.top;
    s->calls = ts.calls;
    s->depth = ts.depth;
    s->deadline = deadline;
    s->fuel = fuel;
    s->fuel_budget = fuel_budget;
    s->check_at = check_at;
    s->slice_end = slice_end;
    s->slice = slice;
    s->inst = current_inst;
    s->stack_limit = stack_limit;
    s->jit_ctx = wasm_jit_watching();
    s->observer = observer;
    s->observer_arg = observer_arg;
    s->trap = wasm_trap_swap(NULL);
    wasm_trap_swap(s->trap);
}

void wasm_exec_load(const wasm_exec_state *s) {
    ts.cells = s->cells;
    ts.limit = s->limit;
    ts.top = s->top;
    ts.calls = s->calls;
    ts.depth = s->depth;
    deadline = s->deadline;
    fuel = s->fuel;
    fuel_budget = s->fuel_budget;
    check_at = s->check_at;
    slice_end = s->slice_end;
    slice = s->slice;
    current_inst = s->inst;
    stack_limit = s->stack_limit;
    observer = s->observer;
    observer_arg = s->observer_arg;
    wasm_jit_watch_until(check_at);
    if (check_at != UINT64_MAX) ticker_wake();
    wasm_jit_watch(s->jit_ctx);
    wasm_trap_swap(s->trap);
}

void wasm_exec_slice_restart(void) {
    check_at_update();
}

void wasm_exec_set_fuel(uint64_t left) {
    fuel = left;
}

bool wasm_exec_fuel_budget(void) {
    return fuel_budget;
}

bool wasm_exec_state_init(wasm_exec_state *s) {
    memset(s, 0, sizeof *s);
    s->deadline = s->fuel = s->check_at = s->slice_end = UINT64_MAX;
    void *p = mmap(NULL, (size_t)STACK_CELLS * sizeof(ucell), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    void *calls = mmap(NULL, (size_t)MAX_DEPTH * sizeof(callrec), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (calls == MAP_FAILED) {
        munmap(p, (size_t)STACK_CELLS * sizeof(ucell));
        return false;
    }
    s->cells = s->top = p;
    s->limit = (ucell *)p + STACK_CELLS;
    s->calls = calls;
    return true;
}

void wasm_exec_state_free(wasm_exec_state *s) {
    if (s->cells) munmap(s->cells, (size_t)STACK_CELLS * sizeof(ucell));
    if (s->calls) munmap(s->calls, (size_t)MAX_DEPTH * sizeof(callrec));
    memset(s, 0, sizeof *s);
}

/* Copies n cells upwards in memory order: also right for the overlapping
 * moves here, which always copy towards lower addresses. Frames move a few
 * cells at a time, where a libc call costs more than the copy (a third of
 * the time of a call-heavy benchmark went to memmove), so this loop must
 * stay an inlined loop: see the pragma at the top of the file. */
static inline void copy_cells(ucell *dst, const ucell *src, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* ---- numeric helpers with the spec's semantics ------------------------------ */

static inline float f32_min(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline float f32_max(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline double f64_min(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return signbit(a) ? a : b;
    return a < b ? a : b;
}
static inline double f64_max(double a, double b) {
    if (a != a || b != b) return a + b;
    if (a == 0 && b == 0) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline uint32_t rotl32(uint32_t x, uint32_t n) {
    n &= 31;
    return n ? (x << n) | (x >> (32 - n)) : x;
}
static inline uint32_t rotr32(uint32_t x, uint32_t n) {
    n &= 31;
    return n ? (x >> n) | (x << (32 - n)) : x;
}
static inline uint64_t rotl64(uint64_t x, uint64_t n) {
    n &= 63;
    return n ? (x << n) | (x >> (64 - n)) : x;
}
static inline uint64_t rotr64(uint64_t x, uint64_t n) {
    n &= 63;
    return n ? (x >> n) | (x << (64 - n)) : x;
}

/* Saturating float-to-int conversions: NaN -> 0, out of range -> bound. */
#define SAT(NAME, FT, IT, LO, HI, MINV, MAXV)                                                      \
    static inline IT NAME(FT x) {                                                                  \
        if (x != x) return 0;                                                                      \
        if (!(x > LO)) return MINV;                                                                \
        if (!(x < HI)) return MAXV;                                                                \
        return (IT)x;                                                                              \
    }
SAT(sat_i32_f32, float, int32_t, -2147483904.0f, 2147483648.0f, INT32_MIN, INT32_MAX)
SAT(sat_u32_f32, float, uint32_t, -1.0f, 4294967296.0f, 0, UINT32_MAX)
SAT(sat_i32_f64, double, int32_t, -2147483649.0, 2147483648.0, INT32_MIN, INT32_MAX)
SAT(sat_u32_f64, double, uint32_t, -1.0, 4294967296.0, 0, UINT32_MAX)
SAT(sat_i64_f32, float, int64_t, -9223373136366403584.0f, 9223372036854775808.0f, INT64_MIN,
    INT64_MAX)
SAT(sat_u64_f32, float, uint64_t, -1.0f, 18446744073709551616.0f, 0, UINT64_MAX)
SAT(sat_i64_f64, double, int64_t, -9223372036854777856.0, 9223372036854775808.0, INT64_MIN,
    INT64_MAX)
SAT(sat_u64_f64, double, uint64_t, -1.0, 18446744073709551616.0, 0, UINT64_MAX)

/* ---- host calls ----------------------------------------------------------------- */

void wasm_observe_host_calls(wasm_host_observer fn, void *arg) {
    observer = fn;
    observer_arg = arg;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The observer's report of a call of `f` from `caller`: the import's names
 * found by its place among the caller's function imports. */
__attribute__((noinline, cold)) static void observe(const wasm_funcinst *f,
                                                    const wasm_instance *caller, uint64_t t0,
                                                    const wasm_value *out, wasm_trap_code t) {
    static const wasm_name unknown = {.str = "?", .len = 1};
    wasm_host_call call = {
        .module = &unknown, .name = &unknown, .start_ns = t0, .ns = now_ns() - t0, .trap = t};
    if (t == WASM_TRAP_NONE && f->type->nresults)
        call.result = f->type->results[0] == WASM_I32 ? out[0].of.i32 : out[0].of.i64;
    const wasm_module *m = caller ? caller->module : NULL;
    for (uint32_t i = 0, k = 0; m && i < m->nimports; i++) {
        if (m->imports[i].kind != WASM_EXTERN_FUNC) continue;
        if (caller->funcs[k++] != f) continue;
        call.module = &m->imports[i].module;
        call.name = &m->imports[i].name;
        break;
    }
    observer(observer_arg, &call);
}

wasm_trap_code wasm_interp_call_host(const wasm_funcinst *f, wasm_instance *caller,
                                     wasm_cell *cells) {
    /* the observer of the stack that makes the call (a wait inside it may
     * run other fibers, with theirs, on this thread) */
    uint64_t t0 = observer ? now_ns() : 0;
    ucell *args = (ucell *)cells;
    const wasm_functype *ft = f->type;
    wasm_value inbuf[16], outbuf[16];
    wasm_value *in = ft->nparams <= 16 ? inbuf : malloc(ft->nparams * sizeof *in);
    wasm_value *out = ft->nresults <= 16 ? outbuf : malloc(ft->nresults * sizeof *out);
    wasm_trap_code t = WASM_TRAP_HOST;
    if (in && out) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < ft->nparams; i++) {
            in[i].type = ft->params[i];
            if (ft->params[i] == WASM_V128)
                memcpy(in[i].of.v128, &args[k], 16);
            else
                in[i].of.i64 = args[k].u64;
            if (ft->params[i] == WASM_I32 || ft->params[i] == WASM_F32) in[i].of.i64 = args[k].u32;
            k += wasm_cells(ft->params[i]);
        }
        t = f->host(f->env, caller, in, out);
        k = 0;
        for (uint32_t i = 0; t == WASM_TRAP_NONE && i < ft->nresults; i++) {
            if (ft->results[i] == WASM_V128)
                memcpy(&args[k], out[i].of.v128, 16);
            else if (ft->results[i] == WASM_I32 || ft->results[i] == WASM_F32)
                args[k].u64 = out[i].of.i32;
            else
                args[k].u64 = out[i].of.i64;
            k += wasm_cells(ft->results[i]);
        }
    }
    if (observer && in && out) observe(f, caller, t0, out, t);
    if (in != inbuf) free(in);
    if (out != outbuf) free(out);
    return t;
}

/* ---- the loop ------------------------------------------------------------------- */

static void set_fault_range(wasm_trap_frame *tf, const wasm_instance *inst) {
    tf->lo = inst->mem ? inst->mem->base : NULL;
    tf->hi = inst->mem ? inst->mem->base + WASM_MEMORY_RESERVE : NULL;
}

void wasm_trap_frame_range(wasm_trap_frame *tf, const wasm_instance *inst) {
    set_fault_range(tf, inst);
}

/* ---- the native tier's side of the loop ------------------------------------------ */

static const void *thread_stack_limit(void) {
    pthread_attr_t attr;
    void *lo = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &lo, &size);
        pthread_attr_destroy(&attr);
    }
    size_t margin = size > 4 * WASM_JIT_STACK_MARGIN ? WASM_JIT_STACK_MARGIN : size / 4;
    return (const uint8_t *)lo + margin;
}

/* The site of a trap somewhere in function `fn`: its index, offset not
 * known (the interpreter keeps no map from its code to the module's). */
static uint64_t func_site(const wasm_funcinst *fn) {
    if (!fn || !fn->code || !fn->inst) return WASM_SITE_NONE;
    const wasm_module *m = fn->inst->module;
    uint64_t index = (uint64_t)(fn->code - wasm_impl(m)->codes) + m->nfunc_imports;
    return index << 32 | WASM_OFFSET_UNKNOWN;
}

void wasm_jit_ctx_init(wasm_jit_ctx *ctx) {
    if (!stack_limit) stack_limit = thread_stack_limit();
    ctx->stack_limit = stack_limit;
    ctx->fuel = fuel;
}

void wasm_jit_enter(wasm_jit_ctx *ctx, wasm_instance *inst) {
    ctx->inst = inst;
    wasm_jit_watch(ctx);
    /* after publishing ctx: a poke from now on reaches it, and one that
     * came before (or that ctx_init overwrote) is made good here */
    if (__atomic_load_n(&epoch, __ATOMIC_SEQ_CST) >= check_at ||
        __atomic_load_n(&inst->interrupt, __ATOMIC_SEQ_CST))
        __atomic_store_n(&ctx->stack_limit, (const void *)WASM_JIT_POKED, __ATOMIC_SEQ_CST);
}

/* A compiled function called from the loop (an import, a table entry):
 * the fault range follows its instance while it runs. */
static void call_native(const wasm_funcinst *f, const wasm_instance *from, wasm_cell *cells,
                        wasm_trap_frame *tf) {
    wasm_jit_ctx ctx;
    wasm_jit_ctx_init(&ctx);
    wasm_jit_ctx *outer = wasm_jit_watching();
    wasm_jit_enter(&ctx, f->inst);
    if (f->inst != from) set_fault_range(tf, f->inst);
    f->entry(&ctx, f->inst, f->native, cells);
    if (f->inst != from) set_fault_range(tf, from);
    /* a trap jumps past this to wasm_interp_call, which republishes */
    wasm_jit_watch(outer);
    fuel = ctx.fuel;
}

/* The interpreter's stack of the run that started at call depth
 * `base_depth`: function `fn` innermost, then the callers its call records
 * keep (depth - 1 down to base_depth), their offsets not known. */
static size_t interp_frames(const wasm_funcinst *fn, uint32_t depth, uint32_t base_depth,
                            wasm_trap_site *out) {
    size_t n = 0;
    uint64_t site = func_site(fn);
    if (site != WASM_SITE_NONE) out[n++] = wasm_site_of(fn->inst->module, site);
    for (uint32_t d = depth; d > base_depth && n < WASM_BACKTRACE_MAX; d--) {
        const wasm_funcinst *caller = ts.calls[d - 1].fn;
        site = func_site(caller);
        if (site != WASM_SITE_NONE) out[n++] = wasm_site_of(caller->inst->module, site);
    }
    return n;
}

__attribute__((noinline, cold)) static void sample_stack(const wasm_funcinst *fn, uint32_t depth,
                                                         uint32_t base_depth) {
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    wasm_stack_sample(frames, interp_frames(fn, depth, base_depth, frames));
}

__attribute__((noinline, cold)) static void note_stack(const wasm_funcinst *fn, uint32_t depth,
                                                       uint32_t base_depth) {
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    wasm_stack_note(frames, interp_frames(fn, depth, base_depth, frames));
}

static wasm_trap_code run(const wasm_funcinst *fn, ucell *fp, uint32_t base_depth,
                          wasm_trap_frame *tf) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#pragma GCC diagnostic ignored "-Wpedantic"
#define L(op) [op] = &&L_##op
#define H(id) [WASM_OP_##id] = &&L_WASM_OP_##id
    static const void *const labels[WASM_IOP_COUNT_] = {[0 ... WASM_IOP_COUNT_ - 1] = &&L_BAD,
                                                        H(DATA_DROP),
                                                        H(ELEM_DROP),
                                                        H(F32_ABS),
                                                        H(F32_ADD),
                                                        H(F32_CEIL),
                                                        H(F32_CONVERT_I32_S),
                                                        H(F32_CONVERT_I32_U),
                                                        H(F32_CONVERT_I64_S),
                                                        H(F32_CONVERT_I64_U),
                                                        H(F32_COPYSIGN),
                                                        H(F32_DEMOTE_F64),
                                                        H(F32_DIV),
                                                        H(F32_EQ),
                                                        H(F32_FLOOR),
                                                        H(F32_GE),
                                                        H(F32_GT),
                                                        H(F32_LE),
                                                        H(F32_LOAD),
                                                        H(F32_LT),
                                                        H(F32_MAX),
                                                        H(F32_MIN),
                                                        H(F32_MUL),
                                                        H(F32_NE),
                                                        H(F32_NEAREST),
                                                        H(F32_NEG),
                                                        H(F32_REINTERPRET_I32),
                                                        H(F32_SQRT),
                                                        H(F32_STORE),
                                                        H(F32_SUB),
                                                        H(F32_TRUNC),
                                                        H(F64_ABS),
                                                        H(F64_ADD),
                                                        H(F64_CEIL),
                                                        H(F64_CONVERT_I32_S),
                                                        H(F64_CONVERT_I32_U),
                                                        H(F64_CONVERT_I64_S),
                                                        H(F64_CONVERT_I64_U),
                                                        H(F64_COPYSIGN),
                                                        H(F64_DIV),
                                                        H(F64_EQ),
                                                        H(F64_FLOOR),
                                                        H(F64_GE),
                                                        H(F64_GT),
                                                        H(F64_LE),
                                                        H(F64_LOAD),
                                                        H(F64_LT),
                                                        H(F64_MAX),
                                                        H(F64_MIN),
                                                        H(F64_MUL),
                                                        H(F64_NE),
                                                        H(F64_NEAREST),
                                                        H(F64_NEG),
                                                        H(F64_PROMOTE_F32),
                                                        H(F64_REINTERPRET_I64),
                                                        H(F64_SQRT),
                                                        H(F64_STORE),
                                                        H(F64_SUB),
                                                        H(F64_TRUNC),
                                                        H(GLOBAL_GET),
                                                        H(GLOBAL_SET),
                                                        H(I32_ADD),
                                                        H(I32_AND),
                                                        H(I32_CLZ),
                                                        H(I32_CTZ),
                                                        H(I32_DIV_S),
                                                        H(I32_DIV_U),
                                                        H(I32_EQ),
                                                        H(I32_EQZ),
                                                        H(I32_EXTEND16_S),
                                                        H(I32_EXTEND8_S),
                                                        H(I32_GE_S),
                                                        H(I32_GE_U),
                                                        H(I32_GT_S),
                                                        H(I32_GT_U),
                                                        H(I32_LE_S),
                                                        H(I32_LE_U),
                                                        H(I32_LOAD),
                                                        H(I32_LOAD16_S),
                                                        H(I32_LOAD16_U),
                                                        H(I32_LOAD8_S),
                                                        H(I32_LOAD8_U),
                                                        H(I32_LT_S),
                                                        H(I32_LT_U),
                                                        H(I32_MUL),
                                                        H(I32_NE),
                                                        H(I32_OR),
                                                        H(I32_POPCNT),
                                                        H(I32_REINTERPRET_F32),
                                                        H(I32_REM_S),
                                                        H(I32_REM_U),
                                                        H(I32_ROTL),
                                                        H(I32_ROTR),
                                                        H(I32_SHL),
                                                        H(I32_SHR_S),
                                                        H(I32_SHR_U),
                                                        H(I32_STORE),
                                                        H(I32_STORE16),
                                                        H(I32_STORE8),
                                                        H(I32_SUB),
                                                        H(I32_TRUNC_F32_S),
                                                        H(I32_TRUNC_F32_U),
                                                        H(I32_TRUNC_F64_S),
                                                        H(I32_TRUNC_F64_U),
                                                        H(I32_TRUNC_SAT_F32_S),
                                                        H(I32_TRUNC_SAT_F32_U),
                                                        H(I32_TRUNC_SAT_F64_S),
                                                        H(I32_TRUNC_SAT_F64_U),
                                                        H(I32_WRAP_I64),
                                                        H(I32_XOR),
                                                        H(I64_ADD),
                                                        H(I64_AND),
                                                        H(I64_CLZ),
                                                        H(I64_CTZ),
                                                        H(I64_DIV_S),
                                                        H(I64_DIV_U),
                                                        H(I64_EQ),
                                                        H(I64_EQZ),
                                                        H(I64_EXTEND16_S),
                                                        H(I64_EXTEND32_S),
                                                        H(I64_EXTEND8_S),
                                                        H(I64_EXTEND_I32_S),
                                                        H(I64_EXTEND_I32_U),
                                                        H(I64_GE_S),
                                                        H(I64_GE_U),
                                                        H(I64_GT_S),
                                                        H(I64_GT_U),
                                                        H(I64_LE_S),
                                                        H(I64_LE_U),
                                                        H(I64_LOAD),
                                                        H(I64_LOAD16_S),
                                                        H(I64_LOAD16_U),
                                                        H(I64_LOAD32_S),
                                                        H(I64_LOAD32_U),
                                                        H(I64_LOAD8_S),
                                                        H(I64_LOAD8_U),
                                                        H(I64_LT_S),
                                                        H(I64_LT_U),
                                                        H(I64_MUL),
                                                        H(I64_NE),
                                                        H(I64_OR),
                                                        H(I64_POPCNT),
                                                        H(I64_REINTERPRET_F64),
                                                        H(I64_REM_S),
                                                        H(I64_REM_U),
                                                        H(I64_ROTL),
                                                        H(I64_ROTR),
                                                        H(I64_SHL),
                                                        H(I64_SHR_S),
                                                        H(I64_SHR_U),
                                                        H(I64_STORE),
                                                        H(I64_STORE16),
                                                        H(I64_STORE32),
                                                        H(I64_STORE8),
                                                        H(I64_SUB),
                                                        H(I64_TRUNC_F32_S),
                                                        H(I64_TRUNC_F32_U),
                                                        H(I64_TRUNC_F64_S),
                                                        H(I64_TRUNC_F64_U),
                                                        H(I64_TRUNC_SAT_F32_S),
                                                        H(I64_TRUNC_SAT_F32_U),
                                                        H(I64_TRUNC_SAT_F64_S),
                                                        H(I64_TRUNC_SAT_F64_U),
                                                        H(I64_XOR),
                                                        H(MEMORY_COPY),
                                                        H(MEMORY_FILL),
                                                        H(MEMORY_GROW),
                                                        H(MEMORY_INIT),
                                                        H(MEMORY_SIZE),
                                                        H(REF_FUNC),
                                                        H(REF_IS_NULL),
                                                        H(SELECT),
                                                        H(TABLE_COPY),
                                                        H(TABLE_FILL),
                                                        H(TABLE_GET),
                                                        H(TABLE_GROW),
                                                        H(TABLE_INIT),
                                                        H(TABLE_SET),
                                                        H(TABLE_SIZE),
                                                        H(UNREACHABLE),
                                                        L(WASM_IOP_MOV),
                                                        L(WASM_IOP_MOV2),
                                                        L(WASM_IOP_JMP),
                                                        L(WASM_IOP_BR_IF),
                                                        L(WASM_IOP_BR_UNLESS),
                                                        L(WASM_IOP_BR_TABLE),
                                                        L(WASM_IOP_RET),
                                                        L(WASM_IOP_CALL),
                                                        L(WASM_IOP_CALL_INDIRECT),
                                                        L(WASM_IOP_RETURN_CALL),
                                                        L(WASM_IOP_RETURN_CALL_INDIRECT),
                                                        L(WASM_IOP_CHECK),
                                                        L(WASM_IOP_SELECT2),
                                                        L(WASM_IOP_GLOBAL_GET2),
                                                        L(WASM_IOP_GLOBAL_SET2),
                                                        L(WASM_IOP_SIMD),
                                                        L(WASM_IOP_SIMD_LOAD),
                                                        L(WASM_IOP_SIMD_LOAD_LANE),
                                                        L(WASM_IOP_SIMD_STORE),
#define X(id, field, cmp) L(WASM_IOP_BR_##id),
                                                        WASM_FUSED_COMPARES(X)
#undef X
                                                            L(WASM_IOP_BR_I32_EQZ),
                                                        L(WASM_IOP_BR_I32_NEZ),
                                                        L(WASM_IOP_BR_I64_EQZ),
                                                        L(WASM_IOP_BR_I64_NEZ),
#define X(id) L(WASM_IOP_X_##id),
                                                        WASM_SCALAR_MEMORY_OPS(X)
#undef X
    };
#undef L
#undef H
#pragma GCC diagnostic pop

    wasm_instance *inst = fn->inst;
    const wasm_code *code = fn->code;
    uint8_t *mb = inst->mem_base;
    const uint32_t *ip;
    wasm_trap_code trap = WASM_TRAP_NONE;
    uint32_t depth = base_depth;
    uint32_t ret_src, ret_n;
    const wasm_funcinst *callee;
    ucell *args;

#define NEXT goto *labels[*ip++]
#define C(i) fp[ip[i]]
/* Results are written as whole cells, even 32-bit ones: a later 64-bit
 * read of a cell that was just written with a 32-bit store cannot be
 * store-forwarded and stalls (it cost a third of a call-heavy benchmark). */
#define SET(field, val)                                                                            \
    do {                                                                                           \
        ucell r_;                                                                                  \
        r_.u64 = 0;                                                                                \
        r_.field = (val);                                                                          \
        C(0) = r_;                                                                                 \
    } while (0)
#define EA(i, off) (mb + (uint64_t)C(i).u32 + (off))
#define EA2(i, j, off) (mb + (uint64_t)(uint32_t)(C(i).u32 + C(j).u32) + (off))
#define TRAP(code_)                                                                                \
    do {                                                                                           \
        trap = code_;                                                                              \
        goto done;                                                                                 \
    } while (0)

enter:
    tf->fn = fn;
    tf->depth = depth;
    if ((size_t)(ts.limit - fp) < code->frame_cells) TRAP(WASM_TRAP_STACK_EXHAUSTED);
    for (uint32_t k = code->nparam_cells; k < code->nlocal_cells; k++)
        fp[k].u64 = 0;
    if (code->nconsts)
        copy_cells(fp + code->const_base, (const ucell *)code->consts, code->nconsts);
    ip = code->ops;
    goto check;

L_BAD:
    TRAP(WASM_TRAP_UNREACHABLE);

    /* ---- control ---- */
L_WASM_IOP_MOV:
    C(0) = C(1);
    ip += 2;
    NEXT;
L_WASM_IOP_MOV2 : {
    ucell lo = C(1), hi = fp[ip[1] + 1];
    C(0) = lo;
    fp[ip[0] + 1] = hi;
    ip += 2;
    NEXT;
}
L_WASM_IOP_JMP:
    ip = code->ops + ip[0];
    NEXT;
L_WASM_IOP_BR_IF:
    ip = C(0).u32 ? code->ops + ip[1] : ip + 2;
    NEXT;
L_WASM_IOP_BR_UNLESS:
    ip = C(0).u32 ? ip + 2 : code->ops + ip[1];
    NEXT;
    /* fused compare-and-branch: dst a b target (dst unused) */
#define X(id, field, cmp)                                                                          \
    L_WASM_IOP_BR_##id : ip = C(1).field cmp C(2).field ? code->ops + ip[3] : ip + 4;              \
    NEXT;
    WASM_FUSED_COMPARES(X)
#undef X
L_WASM_IOP_BR_I32_EQZ:
    ip = C(1).u32 == 0 ? code->ops + ip[2] : ip + 3;
    NEXT;
L_WASM_IOP_BR_I32_NEZ:
    ip = C(1).u32 != 0 ? code->ops + ip[2] : ip + 3;
    NEXT;
L_WASM_IOP_BR_I64_EQZ:
    ip = C(1).u64 == 0 ? code->ops + ip[2] : ip + 3;
    NEXT;
L_WASM_IOP_BR_I64_NEZ:
    ip = C(1).u64 != 0 ? code->ops + ip[2] : ip + 3;
    NEXT;
L_WASM_IOP_BR_TABLE : {
    uint32_t i = C(0).u32, n = ip[1];
    ip = code->ops + ip[2 + (i < n ? i : n)];
    NEXT;
}
L_WASM_IOP_CHECK:
check:
    if (__builtin_expect(__atomic_load_n(&epoch, __ATOMIC_RELAXED) >= check_at ||
                             __atomic_load_n(&inst->interrupt, __ATOMIC_RELAXED),
                         0)) {
        if (sample_due()) sample_stack(fn, depth, base_depth);
        if (!__atomic_load_n(&inst->interrupt, __ATOMIC_RELAXED) &&
            __atomic_load_n(&epoch, __ATOMIC_RELAXED) < deadline) {
            slow_path_goes_on(); /* a slice that is over suspends this call */
            if (!__atomic_load_n(&inst->interrupt, __ATOMIC_RELAXED) &&
                __atomic_load_n(&epoch, __ATOMIC_RELAXED) < deadline)
                goto checked;
        }
        __atomic_store_n(&inst->interrupt, 0, __ATOMIC_RELAXED);
        TRAP(WASM_TRAP_INTERRUPTED);
    }
checked:
    if (__builtin_expect(--fuel == 0, 0)) TRAP(WASM_TRAP_FUEL_EXHAUSTED);
    NEXT;
L_WASM_OP_UNREACHABLE:
    TRAP(WASM_TRAP_UNREACHABLE);
L_WASM_IOP_RET:
    ret_src = ip[0];
    ret_n = ip[1];
do_return:
    if (depth == base_depth) {
        if (ret_src) copy_cells(fp, fp + ret_src, ret_n);
        goto done;
    }
    {
        callrec *r = &ts.calls[--depth];
        copy_cells(r->fp + r->ret_slot, fp + ret_src, ret_n);
        ip = r->ip;
        fp = r->fp;
        fn = r->fn;
        tf->fn = fn;
        tf->depth = depth;
        if (fn->inst != inst) {
            inst = fn->inst;
            mb = inst->mem_base;
            set_fault_range(tf, inst);
        }
        code = fn->code;
    }
    NEXT;
L_WASM_IOP_CALL:
    callee = inst->funcs[ip[0]];
    args = fp + ip[1];
    ip += 2;
    goto call;
L_WASM_IOP_CALL_INDIRECT : {
    const wasm_table_obj *t = inst->tables[ip[1]];
    uint32_t i = C(2).u32;
    if (i >= t->size) TRAP(WASM_TRAP_UNDEFINED_ELEMENT);
    callee = t->elems[i];
    if (!callee) TRAP(WASM_TRAP_NULL_CALL);
    if (!wasm_functype_eq(callee->type, &inst->module->types[ip[0]]))
        TRAP(WASM_TRAP_SIGNATURE_MISMATCH);
    args = fp + ip[3];
    ip += 4;
}
call:
    /* callee, args and ip (past the operands) are set */
    if (wasm_jit_runs(callee)) {
        ts.top = fp + code->frame_cells;
        ts.depth = depth + 1; /* a nested call is not the outermost one */
        call_native(callee, inst, &args->u64, tf);
        NEXT;
    }
    if (callee->host) {
        ts.top = fp + code->frame_cells;
        ts.depth = depth;
        wasm_trap_code t = wasm_interp_call_host(callee, inst, &args->u64);
        if (t != WASM_TRAP_NONE) TRAP(t);
        NEXT;
    }
    if (depth >= MAX_DEPTH) TRAP(WASM_TRAP_STACK_EXHAUSTED);
    ts.calls[depth++] = (callrec){ip, fp, fn, (uint32_t)(args - fp)};
    fp += code->frame_cells;
    if ((size_t)(ts.limit - fp) < callee->code->frame_cells) TRAP(WASM_TRAP_STACK_EXHAUSTED);
    copy_cells(fp, args, callee->code->nparam_cells);
    fn = callee;
    if (callee->inst != inst) {
        inst = callee->inst;
        mb = inst->mem_base;
        set_fault_range(tf, inst);
    }
    code = callee->code;
    goto enter;
L_WASM_IOP_RETURN_CALL:
L_WASM_IOP_RETURN_CALL_INDIRECT : {
    const wasm_funcinst *f;
    uint32_t argslot, ncells;
    if (ip[-1] == WASM_IOP_RETURN_CALL) {
        f = inst->funcs[ip[0]];
        argslot = ip[1];
        ncells = ip[2];
    } else {
        const wasm_table_obj *t = inst->tables[ip[1]];
        uint32_t i = C(2).u32;
        if (i >= t->size) TRAP(WASM_TRAP_UNDEFINED_ELEMENT);
        f = t->elems[i];
        if (!f) TRAP(WASM_TRAP_NULL_CALL);
        if (!wasm_functype_eq(f->type, &inst->module->types[ip[0]]))
            TRAP(WASM_TRAP_SIGNATURE_MISMATCH);
        argslot = ip[3];
        ncells = ip[4];
    }
    copy_cells(fp, fp + argslot, ncells);
    if (wasm_jit_runs(f)) {
        ts.top = fp + code->frame_cells;
        ts.depth = depth + 1;
        call_native(f, inst, &fp->u64, tf);
        ret_src = 0;
        ret_n = 0;
        for (uint32_t k = 0; k < f->type->nresults; k++)
            ret_n += wasm_cells(f->type->results[k]);
        goto do_return;
    }
    if (f->host) {
        ts.top = fp + code->frame_cells;
        ts.depth = depth;
        wasm_trap_code tr = wasm_interp_call_host(f, inst, &fp->u64);
        if (tr != WASM_TRAP_NONE) TRAP(tr);
        /* hand the host's results (now at fp[0..]) to our caller */
        ret_src = 0;
        ret_n = 0;
        for (uint32_t k = 0; k < f->type->nresults; k++)
            ret_n += wasm_cells(f->type->results[k]);
        goto do_return;
    }
    fn = f;
    if (f->inst != inst) {
        inst = f->inst;
        mb = inst->mem_base;
        set_fault_range(tf, inst);
    }
    code = f->code;
    goto enter;
}

    /* ---- parametric and variables ---- */
L_WASM_OP_SELECT:
    C(0) = C(3).u32 ? C(1) : C(2);
    ip += 4;
    NEXT;
L_WASM_IOP_SELECT2 : {
    uint32_t s = C(3).u32 ? ip[1] : ip[2];
    ucell lo = fp[s], hi = fp[s + 1];
    C(0) = lo;
    fp[ip[0] + 1] = hi;
    ip += 4;
    NEXT;
}
L_WASM_OP_GLOBAL_GET:
    C(0).u64 = inst->globals[ip[1]]->val[0];
    ip += 2;
    NEXT;
L_WASM_OP_GLOBAL_SET:
    inst->globals[ip[0]]->val[0] = C(1).u64;
    ip += 2;
    NEXT;
L_WASM_IOP_GLOBAL_GET2:
    C(0).u64 = inst->globals[ip[1]]->val[0];
    fp[ip[0] + 1].u64 = inst->globals[ip[1]]->val[1];
    ip += 2;
    NEXT;
L_WASM_IOP_GLOBAL_SET2:
    inst->globals[ip[0]]->val[0] = C(1).u64;
    inst->globals[ip[0]]->val[1] = fp[ip[1] + 1].u64;
    ip += 2;
    NEXT;

    /* ---- memory ---- */
#define LOAD(ID, T, FIELD, CAST)                                                                   \
    L_WASM_OP_##ID : {                                                                             \
        T v;                                                                                       \
        memcpy(&v, EA(1, ip[2]), sizeof v);                                                        \
        SET(FIELD, CAST v);                                                                        \
        ip += 3;                                                                                   \
        NEXT;                                                                                      \
    }                                                                                              \
    L_WASM_IOP_X_##ID : {                                                                          \
        T v;                                                                                       \
        memcpy(&v, EA2(1, 2, ip[3]), sizeof v);                                                    \
        SET(FIELD, CAST v);                                                                        \
        ip += 4;                                                                                   \
        NEXT;                                                                                      \
    }
    LOAD(I32_LOAD, uint32_t, u32, )
    LOAD(I64_LOAD, uint64_t, u64, )
    LOAD(F32_LOAD, uint32_t, u32, )
    LOAD(F64_LOAD, uint64_t, u64, )
    LOAD(I32_LOAD8_S, int8_t, s32, (int32_t))
    LOAD(I32_LOAD8_U, uint8_t, u32, (uint32_t))
    LOAD(I32_LOAD16_S, int16_t, s32, (int32_t))
    LOAD(I32_LOAD16_U, uint16_t, u32, (uint32_t))
    LOAD(I64_LOAD8_S, int8_t, s64, (int64_t))
    LOAD(I64_LOAD8_U, uint8_t, u64, (uint64_t))
    LOAD(I64_LOAD16_S, int16_t, s64, (int64_t))
    LOAD(I64_LOAD16_U, uint16_t, u64, (uint64_t))
    LOAD(I64_LOAD32_S, int32_t, s64, (int64_t))
    LOAD(I64_LOAD32_U, uint32_t, u64, (uint64_t))
#define STORE(ID, T, FIELD)                                                                        \
    L_WASM_OP_##ID : {                                                                             \
        T v = (T)C(1).FIELD;                                                                       \
        memcpy(EA(0, ip[2]), &v, sizeof v);                                                        \
        ip += 3;                                                                                   \
        NEXT;                                                                                      \
    }                                                                                              \
    L_WASM_IOP_X_##ID : {                                                                          \
        T v = (T)C(2).FIELD;                                                                       \
        memcpy(EA2(0, 1, ip[3]), &v, sizeof v);                                                    \
        ip += 4;                                                                                   \
        NEXT;                                                                                      \
    }
    STORE(I32_STORE, uint32_t, u32)
    STORE(I64_STORE, uint64_t, u64)
    STORE(F32_STORE, uint32_t, u32)
    STORE(F64_STORE, uint64_t, u64)
    STORE(I32_STORE8, uint8_t, u32)
    STORE(I32_STORE16, uint16_t, u32)
    STORE(I64_STORE8, uint8_t, u64)
    STORE(I64_STORE16, uint16_t, u64)
    STORE(I64_STORE32, uint32_t, u64)
L_WASM_OP_MEMORY_SIZE:
    C(0).u64 = (uint32_t)inst->mem->pages;
    ip += 1;
    NEXT;
L_WASM_OP_MEMORY_GROW : {
    int64_t old = inst->mem == &inst->own_mem &&
                          !wasm_instance_fits(inst, (uint64_t)C(1).u32 * WASM_PAGE_SIZE)
                      ? -1
                      : wasm_memory_grow(inst->mem, C(1).u32);
    C(0).u64 = (uint32_t)old;
    ip += 2;
    NEXT;
}
L_WASM_OP_MEMORY_FILL : {
    wasm_trap_code t = wasm_bulk_memory_fill(inst, C(0).u32, C(1).u32, C(2).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 3;
    NEXT;
}
L_WASM_OP_MEMORY_COPY : {
    wasm_trap_code t = wasm_bulk_memory_copy(inst, C(0).u32, C(1).u32, C(2).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 3;
    NEXT;
}
L_WASM_OP_MEMORY_INIT : {
    wasm_trap_code t = wasm_bulk_memory_init(inst, ip[0], C(1).u32, C(2).u32, C(3).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 4;
    NEXT;
}
L_WASM_OP_DATA_DROP:
    inst->data_dropped[ip[0]] = 1;
    ip += 1;
    NEXT;

    /* ---- tables and references ---- */
L_WASM_OP_TABLE_GET : {
    const wasm_table_obj *t = inst->tables[ip[1]];
    uint32_t i = C(2).u32;
    if (i >= t->size) TRAP(WASM_TRAP_OOB_TABLE);
    C(0).ref = t->elems[i];
    ip += 3;
    NEXT;
}
L_WASM_OP_TABLE_SET : {
    wasm_table_obj *t = inst->tables[ip[0]];
    uint32_t i = C(1).u32;
    if (i >= t->size) TRAP(WASM_TRAP_OOB_TABLE);
    t->elems[i] = C(2).ref;
    ip += 3;
    NEXT;
}
L_WASM_OP_TABLE_SIZE:
    C(0).u64 = inst->tables[ip[1]]->size;
    ip += 2;
    NEXT;
L_WASM_OP_TABLE_GROW:
    C(0).u64 = wasm_bulk_table_grow(inst, ip[1], C(2).ref, C(3).u32);
    ip += 4;
    NEXT;
L_WASM_OP_TABLE_FILL : {
    wasm_trap_code t = wasm_bulk_table_fill(inst, ip[0], C(1).u32, C(2).ref, C(3).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 4;
    NEXT;
}
L_WASM_OP_TABLE_COPY : {
    wasm_trap_code t = wasm_bulk_table_copy(inst, ip[0], ip[1], C(2).u32, C(3).u32, C(4).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 5;
    NEXT;
}
L_WASM_OP_TABLE_INIT : {
    wasm_trap_code t = wasm_bulk_table_init(inst, ip[0], ip[1], C(2).u32, C(3).u32, C(4).u32);
    if (t != WASM_TRAP_NONE) TRAP(t);
    ip += 5;
    NEXT;
}
L_WASM_OP_ELEM_DROP:
    inst->elem_dropped[ip[0]] = 1;
    ip += 1;
    NEXT;
L_WASM_OP_REF_IS_NULL:
    C(0).u64 = C(1).ref == NULL;
    ip += 2;
    NEXT;
L_WASM_OP_REF_FUNC:
    C(0).ref = inst->funcs[ip[1]];
    ip += 2;
    NEXT;

    /* ---- numeric ---- */
#define UN(ID, DST, EXPR)                                                                          \
    L_WASM_OP_##ID : {                                                                             \
        ucell a = C(1);                                                                            \
        SET(DST, (EXPR));                                                                          \
        ip += 2;                                                                                   \
        NEXT;                                                                                      \
    }
#define BIN(ID, DST, EXPR)                                                                         \
    L_WASM_OP_##ID : {                                                                             \
        ucell a = C(1), b = C(2);                                                                  \
        SET(DST, (EXPR));                                                                          \
        ip += 3;                                                                                   \
        NEXT;                                                                                      \
    }
    UN(I32_EQZ, u64, a.u32 == 0)
    BIN(I32_EQ, u64, a.u32 == b.u32)
    BIN(I32_NE, u64, a.u32 != b.u32)
    BIN(I32_LT_S, u64, a.s32 < b.s32)
    BIN(I32_LT_U, u64, a.u32 < b.u32)
    BIN(I32_GT_S, u64, a.s32 > b.s32)
    BIN(I32_GT_U, u64, a.u32 > b.u32)
    BIN(I32_LE_S, u64, a.s32 <= b.s32)
    BIN(I32_LE_U, u64, a.u32 <= b.u32)
    BIN(I32_GE_S, u64, a.s32 >= b.s32)
    BIN(I32_GE_U, u64, a.u32 >= b.u32)
    UN(I64_EQZ, u64, a.u64 == 0)
    BIN(I64_EQ, u64, a.u64 == b.u64)
    BIN(I64_NE, u64, a.u64 != b.u64)
    BIN(I64_LT_S, u64, a.s64 < b.s64)
    BIN(I64_LT_U, u64, a.u64 < b.u64)
    BIN(I64_GT_S, u64, a.s64 > b.s64)
    BIN(I64_GT_U, u64, a.u64 > b.u64)
    BIN(I64_LE_S, u64, a.s64 <= b.s64)
    BIN(I64_LE_U, u64, a.u64 <= b.u64)
    BIN(I64_GE_S, u64, a.s64 >= b.s64)
    BIN(I64_GE_U, u64, a.u64 >= b.u64)
    BIN(F32_EQ, u64, a.f32 == b.f32)
    BIN(F32_NE, u64, a.f32 != b.f32)
    BIN(F32_LT, u64, a.f32 < b.f32)
    BIN(F32_GT, u64, a.f32 > b.f32)
    BIN(F32_LE, u64, a.f32 <= b.f32)
    BIN(F32_GE, u64, a.f32 >= b.f32)
    BIN(F64_EQ, u64, a.f64 == b.f64)
    BIN(F64_NE, u64, a.f64 != b.f64)
    BIN(F64_LT, u64, a.f64 < b.f64)
    BIN(F64_GT, u64, a.f64 > b.f64)
    BIN(F64_LE, u64, a.f64 <= b.f64)
    BIN(F64_GE, u64, a.f64 >= b.f64)
    UN(I32_CLZ, u64, a.u32 ? (uint32_t)__builtin_clz(a.u32) : 32u)
    UN(I32_CTZ, u64, a.u32 ? (uint32_t)__builtin_ctz(a.u32) : 32u)
    UN(I32_POPCNT, u64, (uint32_t)__builtin_popcount(a.u32))
    BIN(I32_ADD, u32, a.u32 + b.u32)
    BIN(I32_SUB, u32, a.u32 - b.u32)
    BIN(I32_MUL, u32, a.u32 * b.u32)
    BIN(I32_AND, u32, a.u32 & b.u32)
    BIN(I32_OR, u32, a.u32 | b.u32)
    BIN(I32_XOR, u32, a.u32 ^ b.u32)
    BIN(I32_SHL, u32, a.u32 << (b.u32 & 31))
    BIN(I32_SHR_S, s32, a.s32 >> (b.u32 & 31))
    BIN(I32_SHR_U, u32, a.u32 >> (b.u32 & 31))
    BIN(I32_ROTL, u32, rotl32(a.u32, b.u32))
    BIN(I32_ROTR, u32, rotr32(a.u32, b.u32))
L_WASM_OP_I32_DIV_S : {
    int32_t a = C(1).s32, b = C(2).s32;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    if (a == INT32_MIN && b == -1) TRAP(WASM_TRAP_INT_OVERFLOW);
    SET(s32, a / b);
    ip += 3;
    NEXT;
}
L_WASM_OP_I32_DIV_U : {
    uint32_t a = C(1).u32, b = C(2).u32;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    SET(u32, a / b);
    ip += 3;
    NEXT;
}
L_WASM_OP_I32_REM_S : {
    int32_t a = C(1).s32, b = C(2).s32;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    SET(s32, b == -1 ? 0 : a % b);
    ip += 3;
    NEXT;
}
L_WASM_OP_I32_REM_U : {
    uint32_t a = C(1).u32, b = C(2).u32;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    SET(u32, a % b);
    ip += 3;
    NEXT;
}
    UN(I64_CLZ, u64, a.u64 ? (uint64_t)__builtin_clzll(a.u64) : 64u)
    UN(I64_CTZ, u64, a.u64 ? (uint64_t)__builtin_ctzll(a.u64) : 64u)
    UN(I64_POPCNT, u64, (uint64_t)__builtin_popcountll(a.u64))
    BIN(I64_ADD, u64, a.u64 + b.u64)
    BIN(I64_SUB, u64, a.u64 - b.u64)
    BIN(I64_MUL, u64, a.u64 * b.u64)
    BIN(I64_AND, u64, a.u64 & b.u64)
    BIN(I64_OR, u64, a.u64 | b.u64)
    BIN(I64_XOR, u64, a.u64 ^ b.u64)
    BIN(I64_SHL, u64, a.u64 << (b.u64 & 63))
    BIN(I64_SHR_S, s64, a.s64 >> (b.u64 & 63))
    BIN(I64_SHR_U, u64, a.u64 >> (b.u64 & 63))
    BIN(I64_ROTL, u64, rotl64(a.u64, b.u64))
    BIN(I64_ROTR, u64, rotr64(a.u64, b.u64))
L_WASM_OP_I64_DIV_S : {
    int64_t a = C(1).s64, b = C(2).s64;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    if (a == INT64_MIN && b == -1) TRAP(WASM_TRAP_INT_OVERFLOW);
    C(0).s64 = a / b;
    ip += 3;
    NEXT;
}
L_WASM_OP_I64_DIV_U : {
    uint64_t a = C(1).u64, b = C(2).u64;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    C(0).u64 = a / b;
    ip += 3;
    NEXT;
}
L_WASM_OP_I64_REM_S : {
    int64_t a = C(1).s64, b = C(2).s64;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    C(0).s64 = b == -1 ? 0 : a % b;
    ip += 3;
    NEXT;
}
L_WASM_OP_I64_REM_U : {
    uint64_t a = C(1).u64, b = C(2).u64;
    if (b == 0) TRAP(WASM_TRAP_DIV_ZERO);
    C(0).u64 = a % b;
    ip += 3;
    NEXT;
}
    /* abs, neg and copysign work on the bits: NaN payloads pass unchanged.
     * Rounding functions get NaNs quieted (x + x), since libm may hand a
     * signalling NaN back as it is and the spec wants an arithmetic NaN. */
    UN(F32_ABS, u32, a.u32 & 0x7fffffffu)
    UN(F32_NEG, u32, a.u32 ^ 0x80000000u)
    UN(F32_CEIL, f32, (a.f32 != a.f32 ? a.f32 + a.f32 : ceilf(a.f32)))
    UN(F32_FLOOR, f32, (a.f32 != a.f32 ? a.f32 + a.f32 : floorf(a.f32)))
    UN(F32_TRUNC, f32, (a.f32 != a.f32 ? a.f32 + a.f32 : truncf(a.f32)))
    UN(F32_NEAREST, f32, (a.f32 != a.f32 ? a.f32 + a.f32 : nearbyintf(a.f32)))
    UN(F32_SQRT, f32, sqrtf(a.f32))
    BIN(F32_ADD, f32, a.f32 + b.f32)
    BIN(F32_SUB, f32, a.f32 - b.f32)
    BIN(F32_MUL, f32, a.f32 * b.f32)
    BIN(F32_DIV, f32, a.f32 / b.f32)
    BIN(F32_MIN, f32, f32_min(a.f32, b.f32))
    BIN(F32_MAX, f32, f32_max(a.f32, b.f32))
    BIN(F32_COPYSIGN, u32, (a.u32 & 0x7fffffffu) | (b.u32 & 0x80000000u))
    UN(F64_ABS, u64, a.u64 & 0x7fffffffffffffffull)
    UN(F64_NEG, u64, a.u64 ^ 0x8000000000000000ull)
    UN(F64_CEIL, f64, (a.f64 != a.f64 ? a.f64 + a.f64 : ceil(a.f64)))
    UN(F64_FLOOR, f64, (a.f64 != a.f64 ? a.f64 + a.f64 : floor(a.f64)))
    UN(F64_TRUNC, f64, (a.f64 != a.f64 ? a.f64 + a.f64 : trunc(a.f64)))
    UN(F64_NEAREST, f64, (a.f64 != a.f64 ? a.f64 + a.f64 : nearbyint(a.f64)))
    UN(F64_SQRT, f64, sqrt(a.f64))
    BIN(F64_ADD, f64, a.f64 + b.f64)
    BIN(F64_SUB, f64, a.f64 - b.f64)
    BIN(F64_MUL, f64, a.f64 * b.f64)
    BIN(F64_DIV, f64, a.f64 / b.f64)
    BIN(F64_MIN, f64, f64_min(a.f64, b.f64))
    BIN(F64_MAX, f64, f64_max(a.f64, b.f64))
    BIN(F64_COPYSIGN, u64, (a.u64 & 0x7fffffffffffffffull) | (b.u64 & 0x8000000000000000ull))
    UN(I32_WRAP_I64, u64, (uint32_t)a.u64)
#define TRUNC(ID, DST, SRC, LO, HI, CAST)                                                          \
    L_WASM_OP_##ID : {                                                                             \
        ucell a = C(1);                                                                            \
        if (a.SRC != a.SRC) TRAP(WASM_TRAP_BAD_CONVERSION);                                        \
        if (!(a.SRC > LO && a.SRC < HI)) TRAP(WASM_TRAP_INT_OVERFLOW);                             \
        SET(DST, CAST a.SRC);                                                                      \
        ip += 2;                                                                                   \
        NEXT;                                                                                      \
    }
    TRUNC(I32_TRUNC_F32_S, s64, f32, -2147483904.0f, 2147483648.0f, (uint32_t)(int32_t))
    TRUNC(I32_TRUNC_F32_U, u64, f32, -1.0f, 4294967296.0f, (uint32_t))
    TRUNC(I32_TRUNC_F64_S, s64, f64, -2147483649.0, 2147483648.0, (uint32_t)(int32_t))
    TRUNC(I32_TRUNC_F64_U, u64, f64, -1.0, 4294967296.0, (uint32_t))
    TRUNC(I64_TRUNC_F32_S, s64, f32, -9223373136366403584.0f, 9223372036854775808.0f, (int64_t))
    TRUNC(I64_TRUNC_F32_U, u64, f32, -1.0f, 18446744073709551616.0f, (uint64_t))
    TRUNC(I64_TRUNC_F64_S, s64, f64, -9223372036854777856.0, 9223372036854775808.0, (int64_t))
    TRUNC(I64_TRUNC_F64_U, u64, f64, -1.0, 18446744073709551616.0, (uint64_t))
    UN(I32_TRUNC_SAT_F32_S, u64, (uint32_t)sat_i32_f32(a.f32))
    UN(I32_TRUNC_SAT_F32_U, u64, sat_u32_f32(a.f32))
    UN(I32_TRUNC_SAT_F64_S, u64, (uint32_t)sat_i32_f64(a.f64))
    UN(I32_TRUNC_SAT_F64_U, u64, sat_u32_f64(a.f64))
    UN(I64_TRUNC_SAT_F32_S, s64, sat_i64_f32(a.f32))
    UN(I64_TRUNC_SAT_F32_U, u64, sat_u64_f32(a.f32))
    UN(I64_TRUNC_SAT_F64_S, s64, sat_i64_f64(a.f64))
    UN(I64_TRUNC_SAT_F64_U, u64, sat_u64_f64(a.f64))
    UN(I64_EXTEND_I32_S, s64, (int64_t)a.s32)
    UN(I64_EXTEND_I32_U, u64, (uint64_t)a.u32)
    UN(F32_CONVERT_I32_S, f32, (float)a.s32)
    UN(F32_CONVERT_I32_U, f32, (float)a.u32)
    UN(F32_CONVERT_I64_S, f32, (float)a.s64)
    UN(F32_CONVERT_I64_U, f32, (float)a.u64)
    UN(F32_DEMOTE_F64, f32, (float)a.f64)
    UN(F64_CONVERT_I32_S, f64, (double)a.s32)
    UN(F64_CONVERT_I32_U, f64, (double)a.u32)
    UN(F64_CONVERT_I64_S, f64, (double)a.s64)
    UN(F64_CONVERT_I64_U, f64, (double)a.u64)
    UN(F64_PROMOTE_F32, f64, (double)a.f32)
    UN(I32_REINTERPRET_F32, u64, a.u32)
    UN(I64_REINTERPRET_F64, u64, a.u64)
    UN(F32_REINTERPRET_I32, u64, a.u32)
    UN(F64_REINTERPRET_I64, u64, a.u64)
    UN(I32_EXTEND8_S, u64, (uint32_t)(int32_t)(int8_t)a.u32)
    UN(I32_EXTEND16_S, u64, (uint32_t)(int32_t)(int16_t)a.u32)
    UN(I64_EXTEND8_S, s64, (int64_t)(int8_t)a.u64)
    UN(I64_EXTEND16_S, s64, (int64_t)(int16_t)a.u64)
    UN(I64_EXTEND32_S, s64, (int64_t)(int32_t)a.u64)

    /* ---- SIMD ---- */
L_WASM_IOP_SIMD : {
    wasm_op op = (wasm_op)ip[0];
    const wasm_cell *a = ip[2] != UINT32_MAX ? &fp[ip[2]].u64 : NULL;
    const wasm_cell *b = ip[3] != UINT32_MAX ? &fp[ip[3]].u64 : NULL;
    const wasm_cell *c = ip[4] != UINT32_MAX ? &fp[ip[4]].u64 : NULL;
    wasm_simd_exec(op, (const uint8_t *)(ip + 5), a, b, c, &fp[ip[1]].u64);
    ip += 9;
    NEXT;
}
L_WASM_IOP_SIMD_LOAD:
    wasm_simd_load((wasm_op)ip[0], mb + (uint64_t)fp[ip[2]].u32 + ip[3], &fp[ip[1]].u64);
    ip += 4;
    NEXT;
L_WASM_IOP_SIMD_LOAD_LANE : {
    wasm_cell v[2];
    memcpy(v, &fp[ip[4]], sizeof v);
    wasm_simd_load_lane((wasm_op)ip[0], mb + (uint64_t)fp[ip[2]].u32 + ip[3], (uint8_t)ip[5], v,
                        &fp[ip[1]].u64);
    ip += 6;
    NEXT;
}
L_WASM_IOP_SIMD_STORE:
    wasm_simd_store((wasm_op)ip[0], mb + (uint64_t)fp[ip[1]].u32 + ip[3], (uint8_t)ip[4],
                    &fp[ip[2]].u64);
    ip += 5;
    NEXT;

done:
    if (trap != WASM_TRAP_NONE) {
        wasm_trap_note_site(func_site(fn));
        note_stack(fn, depth, base_depth);
    }
    return trap;
}

/* A trap of compiled code's check at `site`. The site is noted only here,
 * right before the jump: the slow path may yield the fiber first, and a
 * request on another fiber must not find this one's note. */
__attribute__((noreturn)) static void raise_at(const wasm_jit_ctx *ctx, uint64_t site,
                                               const uint8_t *ret, const void *fp,
                                               wasm_trap_code code) {
    wasm_trap_note_site(site);
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    wasm_stack_note(frames, wasm_stack_native(ctx->inst->module, site, ret - 1, fp, frames,
                                              WASM_BACKTRACE_MAX));
    wasm_trap_raise(code);
}

void wasm_jit_check(wasm_jit_ctx *ctx, uint64_t site, const void *fp, const uint8_t *ret) {
    wasm_instance *inst = ctx->inst;
    /* the stack first: compiled code compared its stack pointer with the
     * limit, which may be a poke; this frame is a little deeper */
    if (!stack_limit) stack_limit = thread_stack_limit();
    if ((const void *)__builtin_frame_address(0) < stack_limit)
        raise_at(ctx, site, ret, fp, WASM_TRAP_STACK_EXHAUSTED);
    /* then the limit put back, before the reasons are read: a poke from
     * now on stays for the next check (jit_watch.c). Then as the loop's
     * CHECK: a slice that is over yields, an interruption or the deadline
     * traps, and then the fuel. */
    __atomic_store_n(&ctx->stack_limit, stack_limit, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&epoch, __ATOMIC_SEQ_CST) < check_at &&
        !__atomic_load_n(&inst->interrupt, __ATOMIC_SEQ_CST)) {
        if (ctx->fuel == 0) raise_at(ctx, site, ret, fp, WASM_TRAP_FUEL_EXHAUSTED);
        return;
    }
    if (sample_due()) {
        wasm_trap_site frames[WASM_BACKTRACE_MAX];
        wasm_stack_sample(
            frames, wasm_stack_native(inst->module, site, ret - 1, fp, frames, WASM_BACKTRACE_MAX));
    }
    if (!__atomic_load_n(&inst->interrupt, __ATOMIC_SEQ_CST) &&
        __atomic_load_n(&epoch, __ATOMIC_RELAXED) < deadline) {
        slow_path_goes_on();
        if (!__atomic_load_n(&inst->interrupt, __ATOMIC_SEQ_CST) &&
            __atomic_load_n(&epoch, __ATOMIC_RELAXED) < deadline) {
            if (ctx->fuel == 0) raise_at(ctx, site, ret, fp, WASM_TRAP_FUEL_EXHAUSTED);
            return;
        }
    }
    __atomic_store_n(&inst->interrupt, 0, __ATOMIC_RELAXED);
    raise_at(ctx, site, ret, fp, WASM_TRAP_INTERRUPTED);
}

void wasm_epoch_start(void) {
    pthread_once(&ticker_once, start_ticker);
}

void wasm_interrupt_all(void) {
    pthread_once(&ticker_once, start_ticker);
    __atomic_store_n(&epoch_ended, 1, __ATOMIC_SEQ_CST);
    /* past every deadline; a call without one has UINT64_MAX, reached too
     * (a deadline computed from it wraps around to a small number) */
    __atomic_store_n(&epoch, UINT64_MAX, __ATOMIC_SEQ_CST);
    wasm_jit_poke_all();
    ticker_wake(); /* to end */
}

bool wasm_epoch_ended(void) {
    return __atomic_load_n(&epoch_ended, __ATOMIC_RELAXED);
}

int64_t wasm_call_time_left_ms(void) {
    if (__atomic_load_n(&epoch_ended, __ATOMIC_RELAXED)) return 0;
    if (deadline == UINT64_MAX) return -1;
    /* The clock itself, not the epoch: the ticker can run late on a loaded
     * machine (10 ms and more), and a host call that waited until the
     * deadline must then see it passed, or it would retry or hand the
     * guest an error instead of ending the call (a 504). */
    uint64_t now = monotonic_ms() - ticker_start;
    return now >= deadline ? 0 : (int64_t)(deadline - now);
}

bool wasm_call_should_stop(const wasm_instance *inst) {
    if (!inst) inst = current_inst;
    if (!inst) return false;
    return wasm_call_time_left_ms() == 0 || __atomic_load_n(&inst->interrupt, __ATOMIC_RELAXED);
}

/* Where the call of `fn` that `tf` caught trapped (wasm_last_trap_site):
 * what the trap's raiser noted, or, for a fault, the compiled access at
 * the faulting pc, or the function the interpreter was running. */
static void publish_site(const wasm_funcinst *fn, const wasm_trap_frame *tf, bool native,
                         bool fault, uint32_t base_depth) {
    uint64_t site = wasm_trap_take_site();
    const wasm_module *m = fn->inst->module;
    if (site == WASM_SITE_NONE && fault) {
        /* compiled code of fn's module, also when the interpreter called it */
        const wasm_module_impl *mi = wasm_impl(m);
        if (tf->pc && wasm_module_natives(mi)) {
            site = wasm_jit_site_at(mi->jit, tf->pc);
            if (site != WASM_SITE_NONE) {
                wasm_trap_site frames[WASM_BACKTRACE_MAX];
                wasm_stack_note(
                    frames, wasm_stack_native(m, site, tf->pc, tf->fp, frames, WASM_BACKTRACE_MAX));
            }
        }
        if (site == WASM_SITE_NONE && !native && tf->fn) {
            site = func_site(tf->fn);
            note_stack(tf->fn, tf->depth, base_depth);
            m = tf->fn->inst->module;
        }
    } else if (!native && tf->fn) {
        m = tf->fn->inst->module; /* noted by the interpreter's loop */
    }
    wasm_trap_publish_site(m, site);
}

static _Thread_local uint64_t last_fuel_used;

uint64_t wasm_last_call_fuel(void) {
    return last_fuel_used;
}

wasm_trap_code wasm_interp_call(const wasm_funcinst *fn, wasm_cell *args_results,
                                const wasm_call_opts *opts) {
    if (!stack_init()) return WASM_TRAP_STACK_EXHAUSTED;
    uint64_t saved_deadline = deadline, saved_fuel = fuel;
    bool saved_budget = fuel_budget;
    const wasm_instance *saved_inst = current_inst;
    current_inst = fn->inst;
    if (opts && opts->deadline_ms) {
        pthread_once(&ticker_once, start_ticker);
        /* from the clock, as wasm_call_time_left_ms reads it; the epoch may lag */
        uint64_t d = monotonic_ms() - ticker_start + opts->deadline_ms;
        if (d < deadline) deadline = d;
    }
    if (slice) pthread_once(&ticker_once, start_ticker);
    check_at_update();
    if (opts && opts->fuel) fuel = opts->fuel + 1, fuel_budget = true;
    /* code compiled without fuel counting cannot keep a budget: the
     * interpreter runs it then (wasm_jit_runs) */
    const bool native = wasm_jit_runs(fn);
    if (ts.depth == 0) {
        __atomic_store_n(&fn->inst->interrupt, 0, __ATOMIC_RELAXED);
        wasm_trap_forget_site();
    }
    const wasm_code *code = fn->code;
    ucell *fp = ts.top;
    if ((size_t)(ts.limit - fp) < (size_t)code->frame_cells + 1) {
        deadline = saved_deadline;
        check_at_update();
        current_inst = saved_inst;
        if (opts && opts->fuel) fuel = saved_fuel, fuel_budget = saved_budget;
        return WASM_TRAP_STACK_EXHAUSTED;
    }
    memcpy(fp, args_results, (size_t)code->nparam_cells * sizeof(ucell));
    ucell *saved_top = ts.top;
    uint32_t saved_depth = ts.depth;
    wasm_trap_frame tf;
    memset(&tf, 0, sizeof tf);
    volatile wasm_trap_code trap;
    /* compiled code counts fuel here; read back after a trap too */
    wasm_jit_ctx ctx;
    ctx.fuel = 0;
    /* published again below, also after a trap out of compiled code that
     * published its own (here or in call_native) */
    wasm_jit_ctx *outer = wasm_jit_watching();
    int sig = sigsetjmp(tf.jb, 0);
    if (sig == 0) {
        wasm_trap_enter(&tf, NULL, NULL);
        set_fault_range(&tf, fn->inst);
        if (native) {
            wasm_jit_ctx_init(&ctx);
            wasm_jit_enter(&ctx, fn->inst);
            ts.top = fp + code->frame_cells;
            ts.depth = saved_depth + 1; /* calls back into Wasm are nested ones */
            fn->entry(&ctx, fn->inst, fn->native, &fp->u64);
            trap = WASM_TRAP_NONE;
        } else {
            trap = run(fn, fp, saved_depth, &tf);
        }
    } else {
        trap = (wasm_trap_code)sig;
    }
    wasm_jit_watch(outer);
    if (trap != WASM_TRAP_NONE)
        publish_site(fn, &tf, native, sig == WASM_TRAP_OOB_MEMORY, saved_depth);
    if (native) fuel = ((volatile wasm_jit_ctx *)&ctx)->fuel;
    if (opts && opts->fuel && saved_depth == 0) {
        /* it started at fuel + 1, and traps when it reaches 0 */
        uint64_t used = opts->fuel + 1 - fuel;
        last_fuel_used = used > opts->fuel ? opts->fuel : used;
    }
    wasm_trap_leave(&tf);
    ts.top = saved_top;
    ts.depth = saved_depth;
    deadline = saved_deadline;
    check_at_update();
    current_inst = saved_inst;
    if (opts && opts->fuel) fuel = saved_fuel, fuel_budget = saved_budget;
    if (trap == WASM_TRAP_NONE)
        memcpy(args_results, fp, (size_t)code->nresult_cells * sizeof(ucell));
    return trap;
}
