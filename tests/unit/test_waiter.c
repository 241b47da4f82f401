/*
 * test_waiter.c - util_waiter (src/util/wait.c), the wait for a signal
 * from other code: on a plain thread it sleeps on a futex, woken from
 * another thread or timing out; on a worker's scheduler (src/server/
 * sched.c) the task is parked - the worker runs others meanwhile - and a
 * wake from the same thread or from another one makes it ready again; a
 * wake that comes before the wait is not lost; a parked task whose time
 * passes resumes with false; a task being cancelled does not park.
 */
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "server/internal.h"
#include "unit.h"
#include "util/util.h"

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct waker {
    util_waiter *w;
    int after_ms;
} waker;

static void *wake_later(void *arg) {
    waker *k = arg;
    sleep_ms(k->after_ms);
    util_waiter_wake(k->w);
    return NULL;
}

TEST(waiter_thread_futex) {
    util_waiter w;
    /* woken from another thread well before its time */
    util_waiter_init(&w);
    waker k = {&w, 30};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, wake_later, &k) == 0);
    uint64_t t0 = util_mono_ms();
    CHECK(util_waiter_wait(&w, 10000));
    CHECK(util_mono_ms() - t0 < 5000);
    pthread_join(th, NULL);
    util_waiter_done(&w);
    /* no wake: false once the time has passed */
    util_waiter_init(&w);
    t0 = util_mono_ms();
    CHECK(!util_waiter_wait(&w, 40));
    CHECK(util_mono_ms() - t0 >= 40);
    util_waiter_done(&w);
    /* a wake before the wait is kept */
    util_waiter_init(&w);
    util_waiter_wake(&w);
    CHECK(util_waiter_wait(&w, 0));
    util_waiter_done(&w);
}

/* Tasks on a scheduler: "parker" waits on the waiter, "poker" wakes it. */
typedef struct park_job {
    util_waiter w;
    int timeout_ms;
    int state; /* 0 not started, 1 parked, 2 returned */
    bool got;
    bool finished;
} park_job;

static void park_task(void *arg) {
    park_job *j = arg;
    util_waiter_init(&j->w);
    j->state = 1;
    j->got = util_waiter_wait(&j->w, j->timeout_ms);
    j->state = 2;
    util_waiter_done(&j->w);
}

static void wake_task(void *arg) {
    util_waiter_wake(&((park_job *)arg)->w);
}

static void job_done(void *arg) {
    ((park_job *)arg)->finished = true;
}

static void nothing(void *arg) {
    (void)arg;
}

/* Runs the scheduler's loop until j has finished or limit_ms passed. */
static void run_until(srv_sched *s, park_job *j, int limit_ms) {
    uint64_t until = util_mono_ms() + (uint64_t)limit_ms;
    while (!j->finished && util_mono_ms() < until) {
        struct pollfd p = {.fd = srv_sched_fd(s), .events = POLLIN};
        poll(&p, 1, 20);
        srv_sched_poll(s);
    }
}

TEST(waiter_parks_a_task) {
    char err[256];
    srv_sched *s = srv_sched_new(err, sizeof err);
    REQUIRE(s != NULL);
    srv_task *t;

    /* woken by another task on the same thread */
    park_job j = {.timeout_ms = 10000};
    REQUIRE(srv_sched_spawn(s, park_task, job_done, &j, NULL, &t, err, sizeof err));
    CHECK_EQ_S64(j.state, 1);
    CHECK_EQ_U64(srv_sched_suspended(s), 1);
    CHECK(j.w.parker != NULL); /* parked, not on the futex */
    REQUIRE(srv_sched_spawn(s, wake_task, nothing, &j, NULL, &t, err, sizeof err));
    CHECK_EQ_S64(j.state, 1); /* made ready, runs from the loop */
    run_until(s, &j, 5000);
    CHECK(j.finished);
    CHECK(j.got);
    CHECK_EQ_U64(srv_sched_suspended(s), 0);

    /* woken from another thread */
    park_job k = {.timeout_ms = 10000};
    REQUIRE(srv_sched_spawn(s, park_task, job_done, &k, NULL, &t, err, sizeof err));
    CHECK_EQ_S64(k.state, 1);
    waker wk = {&k.w, 20};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, wake_later, &wk) == 0);
    uint64_t t0 = util_mono_ms();
    run_until(s, &k, 5000);
    pthread_join(th, NULL);
    CHECK(k.finished);
    CHECK(k.got);
    CHECK(util_mono_ms() - t0 < 5000);

    /* nobody wakes it: false when its time has passed */
    park_job l = {.timeout_ms = 30};
    REQUIRE(srv_sched_spawn(s, park_task, job_done, &l, NULL, &t, err, sizeof err));
    run_until(s, &l, 5000);
    CHECK(l.finished);
    CHECK(!l.got);

    /* cancelled while parked: resumes at once, with false */
    park_job m = {.timeout_ms = 10000};
    REQUIRE(srv_sched_spawn(s, park_task, job_done, &m, NULL, &t, err, sizeof err));
    CHECK_EQ_S64(m.state, 1);
    srv_sched_wake(s, t, true);
    CHECK(m.finished);
    CHECK(!m.got);
    srv_sched_free(s);
}
