/*
 * test_fiber.c - guest calls on fibers (src/wasm/fiber.c): a host function
 * suspends a call deep in guest recursion while other calls run on the
 * same thread and suspend too, and each comes back to its own frames;
 * traps, deadlines (also one that passes while suspended), interruption
 * and stack exhaustion end a call on a fiber as on the thread's own stack
 * and leave the others untouched; the thread's own calls still work
 * between and after; a finished fiber is started again.
 */
#include <string.h>
#include <time.h>

#include "unit.h"
#include "wasm/wasm.h"

/* sum(n) = n + sum(n - 1), with a call to the host's "pause" at each level
 * (before recursing, so every level's frame is live across the pause); the
 * host may suspend there. oob() stores past memory; spin() loops forever;
 * deep() recurses without end. */
static const char fib_wat[] =
    "(module\n"
    "  (import \"t\" \"pause\" (func $pause (param i32) (result i32)))\n"
    "  (memory 1)\n"
    "  (func $sum (export \"sum\") (param $n i32) (result i32)\n"
    "    (local $x i32)\n"
    "    (local.set $x (call $pause (local.get $n)))\n"
    "    (if (result i32) (i32.eqz (local.get $n))\n"
    "      (then (local.get $x))\n"
    "      (else (i32.add (i32.add (local.get $n) (local.get $x))\n"
    "                     (call $sum (i32.sub (local.get $n) (i32.const 1)))))))\n"
    "  (func (export \"oob\") (i32.store (i32.const 65536) (call $pause (i32.const 0))))\n"
    "  (func (export \"spin\") (drop (call $pause (i32.const 0))) (loop (br 0)))\n"
    "  (func $deep (export \"deep\") (param i32) (result i32)\n"
    "    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))\n";

/* pause(n) -> 0: suspends when running on a fiber and the test asks for
 * it; after a suspension, ends the call when its deadline has passed. */
static int pauses;
static bool suspend_in_pause = true;
static wasm_trap_code host_pause(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    pauses++;
    if (suspend_in_pause && wasm_fiber_current()) {
        wasm_fiber_suspend();
        if (wasm_call_should_stop(NULL)) return WASM_TRAP_INTERRUPTED;
    }
    r[0] = (wasm_value){.type = WASM_I32, .of.i32 = 0};
    return WASM_TRAP_NONE;
}

typedef struct job {
    wasm_instance *inst;
    const char *export;
    uint32_t arg;
    uint32_t deadline_ms;
    wasm_trap_code trap;
    uint32_t result;
} job;

static void run_job(void *arg) {
    job *j = arg;
    wasm_extern f;
    if (!wasm_instance_export(j->inst, j->export, &f)) {
        j->trap = WASM_TRAP_HOST;
        return;
    }
    wasm_value in = {.type = WASM_I32, .of.i32 = j->arg}, out = {0};
    wasm_call_opts o = {.deadline_ms = j->deadline_ms};
    j->trap = wasm_call_ex(f, &in, &out, &o);
    j->result = out.of.i32;
}

typedef struct world {
    wasm_linker *lk;
    wasm_module *m;
} world;

static bool world_open(world *w) {
    static const wasm_host_func fs[] = {{"pause", "i>i", host_pause}};
    wasm_error err;
    w->lk = wasm_linker_new();
    if (!w->lk || !wasm_linker_funcs(w->lk, "t", fs, 1, NULL, &err)) return false;
    w->m = unit_load_wat(fib_wat);
    return w->m != NULL;
}

static void world_close(world *w) {
    wasm_module_free(w->m);
    wasm_linker_free(w->lk);
}

static wasm_instance *instance(world *w) {
    wasm_error err;
    wasm_instance *inst = wasm_instance_new(w->m, w->lk, &err);
    if (!inst) unit_fail(__FILE__, __LINE__, "instantiate: %s", err.msg);
    return inst;
}

/* The thread's own stack can still call in, fibers or not. */
static uint32_t sum_here(wasm_instance *inst, uint32_t n) {
    wasm_extern f;
    if (!wasm_instance_export(inst, "sum", &f)) return 0;
    wasm_value in = {.type = WASM_I32, .of.i32 = n}, out = {0};
    if (wasm_call(f, &in, &out) != WASM_TRAP_NONE) return 0;
    return out.of.i32;
}

TEST(fiber_start_suspend_resume_in_order) {
    world w;
    REQUIRE(world_open(&w));
    wasm_error err;
    wasm_fiber *fb = wasm_fiber_new(0, &err);
    REQUIRE(fb);
    CHECK(wasm_fiber_current() == NULL);
    job j = {.inst = instance(&w), .export = "sum", .arg = 3};
    wasm_instance *mine = instance(&w);
    REQUIRE(j.inst && mine);
    pauses = 0;
    int resumes = 0;
    bool done = wasm_fiber_start(fb, run_job, &j);
    while (!done) {
        CHECK(wasm_fiber_current() == NULL);
        /* the thread runs a call of its own while the fiber waits */
        CHECK_EQ_U64(sum_here(mine, 0), 0);
        resumes++;
        done = wasm_fiber_resume(fb);
    }
    /* sum(3) pauses at levels 3, 2, 1, 0; the thread's own sum(0) paused
     * once per resume without suspending (not on a fiber) */
    CHECK_EQ_S64(resumes, 4);
    CHECK_EQ_S64(pauses, 8);
    CHECK_EQ_S64(j.trap, WASM_TRAP_NONE);
    CHECK_EQ_U64(j.result, 6);
    CHECK(wasm_fiber_done(fb));
    /* started again once finished, with the same stacks */
    j.arg = 10;
    done = wasm_fiber_start(fb, run_job, &j);
    while (!done)
        done = wasm_fiber_resume(fb);
    CHECK_EQ_U64(j.result, 55);
    wasm_fiber_free(fb);
    wasm_instance_free(j.inst);
    wasm_instance_free(mine);
    world_close(&w);
}

#define NJOBS 64

TEST(fiber_many_calls_interleaved_each_keeps_its_frames) {
    world w;
    REQUIRE(world_open(&w));
    wasm_error err;
    wasm_fiber *fb[NJOBS];
    job jobs[NJOBS];
    bool done[NJOBS];
    for (int i = 0; i < NJOBS; i++) {
        fb[i] = wasm_fiber_new(64 * 1024, &err);
        REQUIRE(fb[i]);
        jobs[i] = (job){.inst = instance(&w), .export = "sum", .arg = (uint32_t)(i * 3)};
        REQUIRE(jobs[i].inst);
        done[i] = wasm_fiber_start(fb[i], run_job, &jobs[i]);
    }
    /* round robin, last first, until all are done: each call is suspended
     * at a different depth of its recursion when the next one runs */
    for (int left = NJOBS; left > 0;) {
        left = 0;
        for (int i = NJOBS - 1; i >= 0; i--) {
            if (done[i]) continue;
            done[i] = wasm_fiber_resume(fb[i]);
            left += !done[i];
        }
    }
    for (int i = 0; i < NJOBS; i++) {
        uint32_t n = (uint32_t)(i * 3);
        CHECK_EQ_S64(jobs[i].trap, WASM_TRAP_NONE);
        CHECK_EQ_U64(jobs[i].result, n * (n + 1) / 2);
        wasm_fiber_free(fb[i]);
        wasm_instance_free(jobs[i].inst);
    }
    world_close(&w);
}

/* One call is suspended mid-recursion while another, on a second fiber,
 * traps: out of bounds, then a deadline in an endless loop, then stack
 * exhaustion, then a deadline that passes while it is suspended. The
 * suspended call then finishes with the right result. */
TEST(fiber_traps_on_one_fiber_leave_the_others_whole) {
    world w;
    REQUIRE(world_open(&w));
    wasm_error err;
    wasm_fiber *keep = wasm_fiber_new(0, &err), *other = wasm_fiber_new(0, &err);
    REQUIRE(keep && other);
    job k = {.inst = instance(&w), .export = "sum", .arg = 20};
    REQUIRE(k.inst);
    CHECK(!wasm_fiber_start(keep, run_job, &k));
    CHECK(!wasm_fiber_resume(keep)); /* now 2 levels deep */

    struct {
        const char *export;
        uint32_t deadline_ms;
        wasm_trap_code want;
        bool sleep_while_suspended;
    } cases[] = {
        {"oob", 0, WASM_TRAP_OOB_MEMORY, false},
        {"spin", 50, WASM_TRAP_INTERRUPTED, false},
        {"deep", 0, WASM_TRAP_STACK_EXHAUSTED, false},
        {"sum", 50, WASM_TRAP_INTERRUPTED, true},
    };
    wasm_instance *oi = instance(&w);
    REQUIRE(oi);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        job o = {
            .inst = oi, .export = cases[c].export, .arg = 5, .deadline_ms = cases[c].deadline_ms};
        bool done = wasm_fiber_start(other, run_job, &o);
        while (!done) {
            if (cases[c].sleep_while_suspended) {
                struct timespec t = {0, 120 * 1000000};
                nanosleep(&t, NULL);
            }
            done = wasm_fiber_resume(other);
        }
        CHECK_EQ_S64(o.trap, cases[c].want);
        /* the thread's own stack is fine after each */
        CHECK_EQ_U64(sum_here(oi, 4), 10);
    }
    bool done = false;
    while (!done)
        done = wasm_fiber_resume(keep);
    CHECK_EQ_S64(k.trap, WASM_TRAP_NONE);
    CHECK_EQ_U64(k.result, 210);
    wasm_fiber_free(keep);
    wasm_fiber_free(other);
    wasm_instance_free(k.inst);
    wasm_instance_free(oi);
    world_close(&w);
}

/* A call on the thread's own stack, made while a fiber's call with a short
 * deadline is suspended, has its own limits, not the fiber's. */
TEST(fiber_thread_deadline_is_its_own) {
    world w;
    REQUIRE(world_open(&w));
    wasm_error err;
    wasm_fiber *fb = wasm_fiber_new(0, &err);
    REQUIRE(fb);
    wasm_instance *inst = instance(&w);
    REQUIRE(inst);
    /* 50 ms, not less: the call must reach its first pause before the
     * deadline even on a slow, loaded CI machine */
    job j = {.inst = inst, .export = "sum", .arg = 2, .deadline_ms = 50};
    CHECK(!wasm_fiber_start(fb, run_job, &j)); /* suspended, its deadline set */
    struct timespec t = {0, 120 * 1000000};
    nanosleep(&t, NULL);
    /* no deadline here: must not be interrupted by the fiber's */
    CHECK_EQ_S64(wasm_call_time_left_ms(), -1);
    wasm_instance *mine = instance(&w);
    REQUIRE(mine);
    suspend_in_pause = false;
    CHECK_EQ_U64(sum_here(mine, 30), 465);
    suspend_in_pause = true;
    bool done = false;
    while (!done)
        done = wasm_fiber_resume(fb);
    CHECK_EQ_S64(j.trap, WASM_TRAP_INTERRUPTED);
    wasm_fiber_free(fb);
    wasm_instance_free(inst);
    wasm_instance_free(mine);
    world_close(&w);
}
