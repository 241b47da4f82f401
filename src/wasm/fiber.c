/*
 * fiber.c - stacks of their own for calls that wait.
 *
 * A request in `wasp serve` runs its guest on a fiber, so that a host
 * function waiting for the network can suspend the whole call - the
 * interpreter's frames, or compiled code's machine frames, and the host
 * function's own - and let the worker thread run other requests until
 * the answer comes. This is the mechanism of wasmtime's async support
 * (wasmtime-fiber) rather than an interpreter that unwinds to its loop:
 * native code has machine frames that only a stack of their own can keep.
 *
 * A fiber is two mappings, each committed only where touched:
 *   - a machine stack (default WASM_FIBER_STACK, 1 MiB) behind a guard page,
 *     on which the guest's code and every host function it calls run (so
 *     it must be deep enough for libcurl, libpq or SQLite, which the
 *     default is by a wide margin);
 *   - the interpreter's value and call stacks (wasm_exec_state_init), as
 *     large as a thread's, so a guest recurses as deep on a fiber as off.
 *
 * Switching is a dozen instructions (fiber_swap below): the callee-saved
 * registers, MXCSR and the x87 control word go on the stack being left,
 * the stack pointer is exchanged. The engine's per-thread state (the
 * interpreter's stacks, the call's deadline and fuel, the innermost
 * instance, the chain of trap frames) is swapped with it, so traps,
 * deadlines, interruption and stack exhaustion work the same on a fiber
 * as on a thread's own stack. A fault in guest memory is caught by trap.c's
 * handler on the fiber's stack, as on any other.
 *
 * Under AddressSanitizer every switch is announced to it
 * (__sanitizer_start_switch_fiber / _finish_switch_fiber), and under
 * Valgrind each stack is registered, so neither mistakes a switch for a
 * wild stack pointer. Other architectures than x86-64 use ucontext.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm/internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FIBER_ASAN 1
#endif
#ifdef FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FIBER_VALGRIND 1
#endif
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

struct wasm_fiber {
    void *sp;        /* the fiber's saved stack pointer while it is not running */
    void *caller_sp; /* the thread's, while the fiber runs */
    uint8_t *map;    /* guard page + stack */
    size_t map_size;
    uint8_t *lo; /* the usable stack: [lo, lo + size) */
    size_t size;
    wasm_exec_state exec;
    wasm_fiber_fn fn;
    void *arg;
    bool done;
    bool yielded;    /* its last suspension was the end of a time slice */
    uint32_t slice;  /* ms; 0: none */
    void *asan_fake; /* AddressSanitizer's fake stack of the fiber, while suspended */
    unsigned valgrind_id;
#if !defined(__x86_64__)
    ucontext_t uc, caller_uc;
#endif
};

/* The fiber running on this thread (NULL: the thread's own stack), and the
 * thread's own engine state while a fiber runs. */
static _Thread_local wasm_fiber *running;
static _Thread_local wasm_exec_state thread_exec;
#ifdef FIBER_ASAN
static _Thread_local const void *thread_stack_lo;
static _Thread_local size_t thread_stack_size;
static _Thread_local void *thread_fake;
#endif

/* ---- the switch -------------------------------------------------------------- */

#if defined(__x86_64__)
/* fiber_swap(save, to): pushes rbp, rbx, r12-r15 and the MXCSR/x87 control
 * words, stores rsp into *save, loads `to` as rsp and pops the same from
 * it. A new fiber's stack is laid out (fiber_prepare) so that the first
 * swap into it "returns" to fiber_trampoline with r12 = the fiber and
 * r13 = fiber_main. */
void wasm_fiber_swap_x86(void **save, void *to);
void wasm_fiber_trampoline_x86(void);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl wasm_fiber_swap_x86\n"
        ".hidden wasm_fiber_swap_x86\n"
        ".type wasm_fiber_swap_x86,@function\n"
        "wasm_fiber_swap_x86:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size wasm_fiber_swap_x86, .-wasm_fiber_swap_x86\n"
        ".p2align 4\n"
        ".globl wasm_fiber_trampoline_x86\n"
        ".hidden wasm_fiber_trampoline_x86\n"
        ".type wasm_fiber_trampoline_x86,@function\n"
        "wasm_fiber_trampoline_x86:\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n"
        ".size wasm_fiber_trampoline_x86, .-wasm_fiber_trampoline_x86\n");
#endif

static void fiber_main(wasm_fiber *f);

/* Lays out a fresh start on f's stack: the next switch into f enters
 * fiber_main(f) from the top of the stack. */
static void fiber_prepare(wasm_fiber *f) {
#if defined(__x86_64__)
    uint64_t *sp = (uint64_t *)(((uintptr_t)(f->lo + f->size)) & ~(uintptr_t)15);
    *--sp = (uint64_t)(uintptr_t)wasm_fiber_trampoline_x86; /* popped by ret */
    *--sp = 0;                                              /* rbp */
    *--sp = 0;                                              /* rbx */
    *--sp = (uint64_t)(uintptr_t)f;                         /* r12 */
    *--sp = (uint64_t)(uintptr_t)fiber_main;                /* r13 */
    *--sp = 0;                                              /* r14 */
    *--sp = 0;                                              /* r15 */
    /* MXCSR 0x1f80 (all exceptions masked, round to nearest), x87 control
     * word 0x037f: the values every thread starts with. */
    *--sp = 0x037f00001f80ull;
    f->sp = sp;
#else
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->lo;
    f->uc.uc_stack.ss_size = f->size;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, (void (*)(void))fiber_main, 1, f);
#endif
}

/* From the thread's stack into f, until f suspends or finishes. */
static void switch_in(wasm_fiber *f) {
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(&thread_fake, f->lo, f->size);
#endif
#if defined(__x86_64__)
    wasm_fiber_swap_x86(&f->caller_sp, f->sp);
#else
    swapcontext(&f->caller_uc, &f->uc);
#endif
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(thread_fake, NULL, NULL);
#endif
}

/* From the running fiber f back to the thread's stack. A fiber that has
 * finished leaves its frames for good (ASan then drops its fake stack). */
static void switch_out(wasm_fiber *f) {
#ifdef FIBER_ASAN
    __sanitizer_start_switch_fiber(f->done ? NULL : &f->asan_fake, thread_stack_lo,
                                   thread_stack_size);
#endif
#if defined(__x86_64__)
    wasm_fiber_swap_x86(&f->sp, f->caller_sp);
#else
    swapcontext(&f->uc, &f->caller_uc);
#endif
#ifdef FIBER_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake, &thread_stack_lo, &thread_stack_size);
#endif
}

static void fiber_main(wasm_fiber *f) {
#ifdef FIBER_ASAN
    /* first entry: learn the bounds of the thread's stack we came from */
    __sanitizer_finish_switch_fiber(NULL, &thread_stack_lo, &thread_stack_size);
#endif
    f->fn(f->arg);
    f->done = true;
    switch_out(f);
    abort(); /* a finished fiber is only ever prepared afresh, never resumed */
}

/* ---- the API ------------------------------------------------------------------ */

wasm_fiber *wasm_fiber_new(size_t stack_size, wasm_error *err) {
    long page = sysconf(_SC_PAGESIZE);
    if (!stack_size) stack_size = WASM_FIBER_STACK;
    stack_size = (stack_size + (size_t)page - 1) & ~((size_t)page - 1);
    wasm_fiber *f = calloc(1, sizeof *f);
    if (!f) goto nomem;
    f->map_size = stack_size + (size_t)page;
    /* the guard page below the stack (it grows down) stays PROT_NONE */
    f->map = mmap(NULL, f->map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        goto nomem;
    }
    f->lo = f->map + page;
    f->size = stack_size;
    if (mprotect(f->lo, f->size, PROT_READ | PROT_WRITE) || !wasm_exec_state_init(&f->exec))
        goto nomem;
#ifdef FIBER_VALGRIND
    f->valgrind_id = VALGRIND_STACK_REGISTER(f->lo, f->lo + f->size);
#endif
    f->done = true;
    return f;
nomem:
    wasm_fiber_free(f);
    err->kind = WASM_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "cannot map a fiber's stacks (%zu KiB)", stack_size >> 10);
    return NULL;
}

void wasm_fiber_free(wasm_fiber *f) {
    if (!f) return;
#ifdef FIBER_VALGRIND
    if (f->map) VALGRIND_STACK_DEREGISTER(f->valgrind_id);
#endif
    if (f->map) munmap(f->map, f->map_size);
    wasm_exec_state_free(&f->exec);
    free(f);
}

/* Runs f until it suspends or finishes; true when it finished. */
static bool run(wasm_fiber *f) {
    wasm_exec_save(&thread_exec);
    wasm_exec_load(&f->exec);
    if (f->slice) wasm_exec_slice_restart();
    running = f;
    switch_in(f);
    running = NULL;
    wasm_exec_save(&f->exec);
    wasm_exec_load(&thread_exec);
    return f->done;
}

bool wasm_fiber_start(wasm_fiber *f, wasm_fiber_fn fn, void *arg) {
    if (running || !f->done) abort(); /* a fiber starts only from a thread's own stack, once */
    f->fn = fn;
    f->arg = arg;
    f->done = false;
    f->asan_fake = NULL;
    /* a fresh interpreter stack: whatever the last use left is dead */
    f->exec.top = f->exec.cells;
    f->exec.depth = 0;
    f->exec.deadline = f->exec.fuel = UINT64_MAX;
    f->exec.inst = NULL;
    f->exec.jit_ctx = NULL;
    f->exec.trap = NULL;
    f->exec.check_at = UINT64_MAX;
    f->exec.slice = f->slice;
    /* compiled code's stack check: room for the deepest host helper
     * (libpq, libcurl, SQLite run on this stack too) above the guard */
    f->exec.stack_limit =
        f->lo + (f->size > 4 * WASM_JIT_STACK_MARGIN ? WASM_JIT_STACK_MARGIN : f->size / 4);
    f->yielded = false;
    fiber_prepare(f);
    return run(f);
}

bool wasm_fiber_resume(wasm_fiber *f) {
    if (running || f->done) abort();
    f->yielded = false;
    return run(f);
}

void wasm_fiber_yield(void) {
    wasm_fiber *f = running;
    if (!f) return; /* a slice is only set on fibers */
    f->yielded = true;
    switch_out(f);
}

bool wasm_fiber_yielded(const wasm_fiber *f) {
    return f->yielded;
}

void wasm_fiber_set_slice(wasm_fiber *f, uint32_t ms) {
    f->slice = ms;
}

void wasm_fiber_suspend(void) {
    wasm_fiber *f = running;
    if (!f) abort(); /* only code running on a fiber can suspend */
    switch_out(f);
}

wasm_fiber *wasm_fiber_current(void) {
    return running;
}

bool wasm_fiber_done(const wasm_fiber *f) {
    return f->done;
}
