/*
 * test_exec.c - running code: a deadline stops an infinite loop, another
 * thread can interrupt one, fuel runs out, endless recursion traps with
 * stack exhaustion, an out-of-bounds store traps and leaves the process
 * and the instance usable, and a host function can be called and trap.
 * Modules are written out as bytes so the tests need no toolchain. Each
 * test runs twice: interpreted, then compiled by the native tier.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "wasm/wasm.h"

#define HEADER 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00
#define TYPE_VOID 0x01, 0x04, 0x01, 0x60, 0x00, 0x00 /* type 0: [] -> [] */
#define ONE_FUNC 0x03, 0x02, 0x01, 0x00              /* func 0: type 0 */
#define EXPORT_F 0x07, 0x05, 0x01, 0x01, 'f', 0x00, 0x00

/* (func (export "f") (loop (br 0))) */
static const uint8_t loop_mod[] = {HEADER, TYPE_VOID, ONE_FUNC, EXPORT_F, 0x0a, 0x09, 0x01, 0x07,
                                   0x00,   0x03,      0x40,     0x0c,     0x00, 0x0b, 0x0b};
/* (func (export "f") (call 0)) */
static const uint8_t recurse_mod[] = {HEADER, TYPE_VOID, ONE_FUNC, EXPORT_F, 0x0a, 0x06,
                                      0x01,   0x04,      0x00,     0x10,     0x00, 0x0b};
/* (memory 1) (func (export "f") (i32.store (i32.const 65536) (i32.const 1))) */
static const uint8_t oob_mod[] = {HEADER,   TYPE_VOID, ONE_FUNC, 0x05, 0x03, 0x01, 0x00, 0x01,
                                  EXPORT_F, 0x0a,      0x0d,     0x01, 0x0b, 0x00, 0x41, 0x80,
                                  0x80,     0x04,      0x41,     0x01, 0x36, 0x02, 0x00, 0x0b};
/* (import "env" "h" (func)) (func (export "f") (call 0)) */
static const uint8_t host_mod[] = {HEADER, TYPE_VOID, 0x02, 0x09, 0x01, 0x03,     'e',  'n',
                                   'v',    0x01,      'h',  0x00, 0x00, ONE_FUNC, 0x07, 0x05,
                                   0x01,   0x01,      'f',  0x00, 0x01, 0x0a,     0x06, 0x01,
                                   0x04,   0x00,      0x10, 0x00, 0x0b};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

typedef struct loaded {
    wasm_module *m;
    wasm_instance *inst;
    wasm_extern f;
} loaded;

/* The tier the running test uses: set by BOTH_TIERS. */
static bool native;

/* A test body run in the interpreter, then in the native tier. */
#define BOTH_TIERS(name)                                                                           \
    static void name##_in_tier(void);                                                              \
    TEST(name) {                                                                                   \
        native = false;                                                                            \
        name##_in_tier();                                                                          \
        native = true;                                                                             \
        name##_in_tier();                                                                          \
    }                                                                                              \
    static void name##_in_tier(void)

static bool load(loaded *l, const uint8_t *bytes, size_t len, wasm_linker *linker) {
    wasm_error err;
    l->m = wasm_module_load(bytes, len, &err);
    if (!l->m) return unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
    if (native && !wasm_module_compile_native(l->m, &err))
        return unit_fail(__FILE__, __LINE__, "compile: %s", err.msg);
    l->inst = wasm_instance_new(l->m, linker, &err);
    if (!l->inst) return unit_fail(__FILE__, __LINE__, "instantiate: %s", err.msg);
    return wasm_instance_export(l->inst, "f", &l->f) ||
           unit_fail(__FILE__, __LINE__, "no export f");
}

static void unload(loaded *l) {
    wasm_instance_free(l->inst);
    wasm_module_free(l->m);
}

BOTH_TIERS(exec_deadline_stops_infinite_loop) {
    loaded l;
    REQUIRE(load(&l, loop_mod, sizeof loop_mod, NULL));
    wasm_call_opts opts = {.deadline_ms = 100};
    double t0 = now_ms();
    wasm_trap_code t = wasm_call_ex(l.f, NULL, NULL, &opts);
    double elapsed = now_ms() - t0;
    CHECK_EQ_S64(t, WASM_TRAP_INTERRUPTED);
    /* the bound: a 100 ms deadline traps within 200 ms */
    CHECK(elapsed >= 99.0);
    CHECK(elapsed < 200.0);
    unload(&l);
}

/* The engine's ticker sleeps after 100 ms without a timed call anywhere
 * (the epoch then stands still): the first deadline after such a pause
 * must wake it, or the loop would run on for ever. */
typedef struct watchdog {
    wasm_instance *inst;
    int done, fired;
} watchdog;

/* Interrupts the call after 10 s if it has not ended by then: a deadline
 * that is never noticed then fails the test instead of hanging it. */
static void *watch_call(void *arg) {
    watchdog *w = arg;
    for (int i = 0; i < 1000 && !__atomic_load_n(&w->done, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    if (!__atomic_load_n(&w->done, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&w->fired, 1, __ATOMIC_SEQ_CST);
        wasm_interrupt(w->inst);
    }
    return NULL;
}

BOTH_TIERS(exec_deadline_after_the_ticker_slept) {
    loaded l;
    REQUIRE(load(&l, loop_mod, sizeof loop_mod, NULL));
    wasm_call_opts opts = {.deadline_ms = 20};
    for (int i = 0; i < 3; i++) {
        usleep(300000);
        watchdog w = {.inst = l.inst};
        pthread_t th;
        REQUIRE(pthread_create(&th, NULL, watch_call, &w) == 0);
        double t0 = now_ms();
        CHECK_EQ_S64(wasm_call_ex(l.f, NULL, NULL, &opts), WASM_TRAP_INTERRUPTED);
        CHECK(now_ms() - t0 >= 19.0);
        __atomic_store_n(&w.done, 1, __ATOMIC_SEQ_CST);
        pthread_join(th, NULL);
        CHECK(!w.fired); /* the deadline ended it, not the watchdog */
    }
    unload(&l);
}

static void *interrupt_later(void *arg) {
    usleep(30000);
    wasm_interrupt(arg);
    return NULL;
}

BOTH_TIERS(exec_interrupt_from_another_thread) {
    loaded l;
    REQUIRE(load(&l, loop_mod, sizeof loop_mod, NULL));
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, interrupt_later, l.inst) == 0);
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_INTERRUPTED);
    pthread_join(th, NULL);
    unload(&l);
}

typedef struct looping {
    loaded l;
    wasm_trap_code trap;
    int done; /* atomic */
} looping;

static void *loop_until_stopped(void *arg) {
    looping *lp = arg;
    lp->trap = wasm_call(lp->l.f, NULL, NULL);
    __atomic_store_n(&lp->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Interrupting one instance stops the call running on it and no other:
 * compiled code is stopped by a poke of every running call, and the one
 * on the other instance must find nothing and go on (jit_watch.c). */
BOTH_TIERS(exec_interrupt_stops_only_its_instance) {
    looping other = {0};
    REQUIRE(load(&other.l, loop_mod, sizeof loop_mod, NULL));
    loaded l;
    REQUIRE(load(&l, loop_mod, sizeof loop_mod, NULL));
    pthread_t runner, interrupter;
    REQUIRE(pthread_create(&runner, NULL, loop_until_stopped, &other) == 0);
    REQUIRE(pthread_create(&interrupter, NULL, interrupt_later, l.inst) == 0);
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_INTERRUPTED);
    pthread_join(interrupter, NULL);
    usleep(20000); /* room for the other call's checks to see the poke */
    CHECK(!__atomic_load_n(&other.done, __ATOMIC_SEQ_CST));
    wasm_interrupt(other.l.inst);
    pthread_join(runner, NULL);
    CHECK_EQ_S64(other.trap, WASM_TRAP_INTERRUPTED);
    unload(&l);
    unload(&other.l);
}

BOTH_TIERS(exec_fuel_runs_out) {
    loaded l;
    REQUIRE(load(&l, loop_mod, sizeof loop_mod, NULL));
    wasm_call_opts opts = {.fuel = 100000};
    CHECK_EQ_S64(wasm_call_ex(l.f, NULL, NULL, &opts), WASM_TRAP_FUEL_EXHAUSTED);
    unload(&l);
}

BOTH_TIERS(exec_endless_recursion_exhausts_stack) {
    loaded l;
    REQUIRE(load(&l, recurse_mod, sizeof recurse_mod, NULL));
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_STACK_EXHAUSTED);
    /* and again: the thread's stack was unwound */
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_STACK_EXHAUSTED);
    unload(&l);
}

BOTH_TIERS(exec_out_of_bounds_store_traps) {
    loaded l;
    REQUIRE(load(&l, oob_mod, sizeof oob_mod, NULL));
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_OOB_MEMORY);
    uint64_t size;
    uint8_t *mem = wasm_instance_memory(l.inst, &size);
    CHECK_EQ_U64(size, 65536);
    CHECK_EQ_U64(mem[65535], 0);
    CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), WASM_TRAP_OOB_MEMORY);
    CHECK_STR(wasm_trap_message(WASM_TRAP_OOB_MEMORY), "out of bounds memory access");
    unload(&l);
}

static int host_calls;
static wasm_trap_code host_h(void *env, wasm_instance *caller, const wasm_value *args,
                             wasm_value *results) {
    (void)args, (void)results;
    host_calls++;
    CHECK(caller != NULL);
    return env ? WASM_TRAP_HOST : WASM_TRAP_NONE;
}

BOTH_TIERS(exec_host_function_called_and_can_trap) {
    for (int trap = 0; trap < 2; trap++) {
        wasm_error err;
        wasm_linker *lk = wasm_linker_new();
        REQUIRE(lk);
        REQUIRE(wasm_linker_func(lk, "env", "h", 0, NULL, 0, NULL, host_h, trap ? (void *)1 : NULL,
                                 &err));
        loaded l;
        REQUIRE(load(&l, host_mod, sizeof host_mod, lk));
        host_calls = 0;
        CHECK_EQ_S64(wasm_call(l.f, NULL, NULL), trap ? WASM_TRAP_HOST : WASM_TRAP_NONE);
        CHECK_EQ_S64(host_calls, 1);
        unload(&l);
        wasm_linker_free(lk);
    }
}

TEST(exec_missing_import_is_a_link_error) {
    wasm_error err;
    wasm_module *m = wasm_module_load(host_mod, sizeof host_mod, &err);
    REQUIRE(m);
    CHECK(wasm_instance_new(m, NULL, &err) == NULL);
    CHECK_EQ_U64(err.kind, WASM_ERR_LINK);
    CHECK(strstr(err.msg, "\"env\" \"h\"") != NULL);
    wasm_module_free(m);
}

static void *call_in_thread(void *arg) {
    loaded *l = arg;
    return (void *)(intptr_t)wasm_call(l->f, NULL, NULL);
}

/* Each thread that runs Wasm gets its own value and call stacks; they are
 * released when it exits (LeakSanitizer, in the ASan build, checks that). */
BOTH_TIERS(exec_threads_run_and_release_their_stacks) {
    loaded l;
    REQUIRE(load(&l, oob_mod, sizeof oob_mod, NULL));
    for (int i = 0; i < 8; i++) {
        pthread_t th;
        void *ret;
        REQUIRE(pthread_create(&th, NULL, call_in_thread, &l) == 0);
        pthread_join(th, &ret);
        CHECK_EQ_S64((intptr_t)ret, WASM_TRAP_OOB_MEMORY);
    }
    unload(&l);
}
