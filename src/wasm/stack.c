/*
 * stack.c - the Wasm call stack as the user sees it: the backtrace of a
 * trap, and the samples a profiler takes.
 *
 * Each tier finds its own frames: the interpreter from its call records
 * (interp.c), compiled code from its frame pointers, walked here. Every
 * compiled function keeps one ("frame-pointer"="all", jit_compile.c), so
 * from the frame pointer of the function that traps or checks, each frame
 * holds its caller's frame pointer and the return address into the
 * caller; the walk goes on while that address lies in a function of the
 * module's code, and stops at the entry trampoline or anything else.
 *
 * Samples are taken at the engine's check points, as wasmtime's guest
 * profiler takes them at its epoch checks: the thread that runs the guest
 * walks its own stack, so nothing is stopped and no signal is sent. The
 * price is a bias towards the instructions after a check, which a
 * function-level profile does not see.
 */
#include <pthread.h>
#include <string.h>

#include "wasm/internal.h"

/* ---- backtraces ------------------------------------------------------------ */

/* What the raiser of a trap noted, and what the call that caught it
 * published: a note lives only from the raise to the catch, with no
 * switch of fibers between, so that a request never finds another's. */
static _Thread_local wasm_trap_site noted[WASM_BACKTRACE_MAX], published[WASM_BACKTRACE_MAX];
static _Thread_local size_t nnoted, npublished;

void wasm_stack_note(const wasm_trap_site *frames, size_t n) {
    nnoted = n < WASM_BACKTRACE_MAX ? n : WASM_BACKTRACE_MAX;
    memcpy(noted, frames, nnoted * sizeof *noted);
}

void wasm_stack_publish(void) {
    npublished = nnoted;
    memcpy(published, noted, nnoted * sizeof *noted);
    nnoted = 0;
}

void wasm_stack_forget(void) {
    nnoted = npublished = 0;
}

size_t wasm_last_trap_backtrace(wasm_trap_site *frames, size_t max) {
    size_t n = npublished < max ? npublished : max;
    memcpy(frames, published, n * sizeof *frames);
    return n;
}

/* A frame pointer further up the stack than this is not one. */
#define FRAME_MAX_GAP ((uintptr_t)64 << 20)

size_t wasm_stack_native(const wasm_module *m, uint64_t site, const void *pc, const void *fp,
                         wasm_trap_site *out, size_t max) {
    size_t n = 0;
    if (max < 2) return 0;
    const wasm_module_impl *mi = wasm_impl(m);
    if (site != WASM_SITE_NONE) {
        out[n++] = wasm_site_of(m, site);
        /* inlined: the frames between the two are gone, the caller stays */
        uint32_t f = pc ? wasm_jit_func_at(mi, pc) : UINT32_MAX;
        if (f != UINT32_MAX && f != out[0].func)
            out[n++] = (wasm_trap_site){m, f, WASM_OFFSET_UNKNOWN};
    }
    const void *const *frame = fp;
    while (frame && n < max) {
        const uint8_t *ret = frame[1];
        /* the call's own instruction, not the one it returns to: a call
         * at a function's end returns past it */
        uint32_t f = wasm_jit_func_at(mi, ret - 1);
        if (f == UINT32_MAX) break;
        /* the call's site: its offset, and its function, which is f or
         * one LLVM inlined into f (then f follows it) */
        uint64_t at = wasm_jit_site_at(mi->jit, ret - 1);
        wasm_trap_site call = {m, f, WASM_OFFSET_UNKNOWN};
        if (at != WASM_SITE_NONE) call = wasm_site_of(m, at);
        if (call.func < m->nfunc_imports) call = (wasm_trap_site){m, f, WASM_OFFSET_UNKNOWN};
        if (call.func != f && n + 1 < max) out[n++] = call;
        out[n++] = call.func == f ? call : (wasm_trap_site){m, f, WASM_OFFSET_UNKNOWN};
        const void *const *next = frame[0];
        if ((uintptr_t)next <= (uintptr_t)frame ||
            (uintptr_t)next - (uintptr_t)frame > FRAME_MAX_GAP)
            break;
        frame = next;
    }
    return n;
}

/* ---- samples ----------------------------------------------------------------- */

/* The sampler runs under the read lock on many threads at once; stopping
 * takes the write lock, so that when wasm_profile_stop returns no sample
 * is being handed over. */
static pthread_rwlock_t sampler_lock = PTHREAD_RWLOCK_INITIALIZER;
static wasm_sample_fn sampler;
static void *sampler_arg;
static uint32_t period;

uint32_t wasm_sample_period(void) {
    return __atomic_load_n(&period, __ATOMIC_RELAXED);
}

void wasm_stack_sample(const wasm_trap_site *frames, size_t n) {
    if (n == 0) return;
    pthread_rwlock_rdlock(&sampler_lock);
    if (sampler) sampler(sampler_arg, frames, n);
    pthread_rwlock_unlock(&sampler_lock);
}

bool wasm_profile_start(uint32_t period_ms, wasm_sample_fn fn, void *arg) {
    pthread_rwlock_wrlock(&sampler_lock);
    bool free_ = sampler == NULL;
    if (free_) {
        sampler = fn;
        sampler_arg = arg;
        __atomic_store_n(&period, period_ms ? period_ms : 1, __ATOMIC_RELAXED);
    }
    pthread_rwlock_unlock(&sampler_lock);
    /* the epoch moves only while the ticker runs */
    if (free_) wasm_epoch_start();
    return free_;
}

void wasm_profile_stop(void) {
    __atomic_store_n(&period, 0, __ATOMIC_RELAXED);
    pthread_rwlock_wrlock(&sampler_lock);
    sampler = NULL;
    sampler_arg = NULL;
    pthread_rwlock_unlock(&sampler_lock);
}
