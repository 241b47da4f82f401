/*
 * fiber.c - what a suspendable request costs the engine (issue 11):
 * the switch, the memory of a suspended call, how many fit on a thread.
 *
 * usage: bench_fiber [N] [SUSPENDED]
 *
 * A guest function calls a host function that suspends its fiber (as a
 * request waiting for an upstream does); the thread resumes it at once.
 * Measured with CLOCK_MONOTONIC over N rounds (default 1,000,000):
 *
 *   suspend+resume   one round trip: host function -> thread -> back into
 *                    the host function, guest frames kept (two switches)
 *   start+finish     a whole guest call on a fiber that never suspends:
 *                    what a request that does not wait pays for a fiber
 *   plain call       the same call on the thread's own stack, for scale
 *
 * then SUSPENDED calls (default 10,000) are started on fibers of their own
 * (a fiber each, 1 MiB machine stack reserved) and left suspended inside
 * the host function, and the resident memory they add is divided by their
 * number (the fiber's touched stack pages; the instance is shared, so this
 * is the engine's cost alone). All are then resumed to the end and checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm/wasm.h"

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* (import "b" "wait" (func (result i32)))
 * (func (export "run") (result i32) (i32.add (call 0) (i32.const 1)))
 * (func (export "nop") (result i32) (i32.const 1)) */
static const uint8_t mod[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x02,
    0x0a, 0x01, 0x01, 'b',  0x04, 'w',  'a',  'i',  't',  0x00, 0x00, 0x03, 0x03, 0x02, 0x00, 0x00,
    0x07, 0x0d, 0x02, 0x03, 'r',  'u',  'n',  0x00, 0x01, 0x03, 'n',  'o',  'p',  0x00, 0x02, 0x0a,
    0x0e, 0x02, 0x07, 0x00, 0x10, 0x00, 0x41, 0x01, 0x6a, 0x0b, 0x04, 0x00, 0x41, 0x01, 0x0b};

static int suspend_in_wait = 1;

static wasm_trap_code host_wait(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    if (suspend_in_wait) wasm_fiber_suspend();
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = 41};
    return WASM_TRAP_NONE;
}

typedef struct job {
    wasm_extern fn;
    wasm_value out;
    wasm_trap_code trap;
} job;

static void run_job(void *arg) {
    job *j = arg;
    j->trap = wasm_call(j->fn, NULL, &j->out);
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * 4;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long nsusp = argc > 2 ? atol(argv[2]) : 10000;
    wasm_error err;
    wasm_module *m = wasm_module_load(mod, sizeof mod, &err);
    wasm_linker *lk = wasm_linker_new();
    static const wasm_host_func fs[] = {{"wait", ">i", host_wait}};
    if (!m || !lk || !wasm_linker_funcs(lk, "b", fs, 1, NULL, &err)) {
        fprintf(stderr, "bench_fiber: %s\n", err.msg);
        return 1;
    }
    wasm_instance *inst = wasm_instance_new(m, lk, &err);
    job j;
    wasm_extern nop;
    if (!inst || !wasm_instance_export(inst, "run", &j.fn) ||
        !wasm_instance_export(inst, "nop", &nop)) {
        fprintf(stderr, "bench_fiber: %s\n", err.msg);
        return 1;
    }
    wasm_fiber *fb = wasm_fiber_new(0, &err);
    if (!fb) {
        fprintf(stderr, "bench_fiber: %s\n", err.msg);
        return 1;
    }

    /* suspend+resume: one long call that suspends n times would need n
     * host calls; instead each round is a call that suspends once, and the
     * start+finish cost measured below is subtracted. */
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (wasm_fiber_start(fb, run_job, &j) || !wasm_fiber_resume(fb) || j.out.of.i32 != 42) {
            fprintf(stderr, "bench_fiber: the call did not suspend once and finish\n");
            return 1;
        }
    }
    uint64_t t_round = now_ns() - t0;

    suspend_in_wait = 0;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (!wasm_fiber_start(fb, run_job, &j) || j.out.of.i32 != 42) return 1;
    uint64_t t_start = now_ns() - t0;

    t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (wasm_call(j.fn, NULL, &j.out) != WASM_TRAP_NONE || j.out.of.i32 != 42) return 1;
    uint64_t t_plain = now_ns() - t0;
    suspend_in_wait = 1;

    printf("suspend+resume  %.1f ns (two switches)\n", (double)(t_round - t_start) / n);
    printf("start+finish    %.1f ns per guest call on a fiber\n", (double)t_start / n);
    printf("plain call      %.1f ns per guest call on the thread's stack\n", (double)t_plain / n);

    /* memory per suspended call, and how many fit */
    wasm_fiber **fibers = calloc((size_t)nsusp, sizeof *fibers);
    job *jobs = calloc((size_t)nsusp, sizeof *jobs);
    if (!fibers || !jobs) return 1;
    long before = rss_kib(), made = 0;
    for (; made < nsusp; made++) {
        fibers[made] = wasm_fiber_new(0, &err);
        if (!fibers[made]) break;
        jobs[made].fn = j.fn;
        if (wasm_fiber_start(fibers[made], run_job, &jobs[made])) return 1;
    }
    long after = rss_kib();
    printf("suspended       %ld calls at once on one thread%s%s\n", made,
           made < nsusp ? "; the next failed: " : "", made < nsusp ? err.msg : "");
    if (made)
        printf("memory          %.1f KiB resident per suspended call (fiber stacks, "
               "guest and host frames)\n",
               (double)(after - before) / made);
    long ok = 0;
    for (long i = 0; i < made; i++) {
        if (wasm_fiber_resume(fibers[i]) && jobs[i].out.of.i32 == 42) ok++;
        wasm_fiber_free(fibers[i]);
    }
    if (ok != made) {
        fprintf(stderr, "bench_fiber: %ld of %ld suspended calls did not finish right\n", made - ok,
                made);
        return 1;
    }
    wasm_fiber_free(fb);
    wasm_instance_free(inst);
    wasm_linker_free(lk);
    wasm_module_free(m);
    free(fibers);
    free(jobs);
    return 0;
}
