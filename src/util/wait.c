/*
 * wait.c - util_poll: poll(2), or the poller the thread installed (see
 * util.h; `wasp serve` installs one that suspends the request's fiber);
 * util_waiter, parked by that same poller or on a futex; and the monotonic
 * clock the waits are measured on.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

static _Thread_local const util_parker *parker;
static _Thread_local void *parker_self;

void util_set_parker(const util_parker *p, void *self) {
    parker = p;
    parker_self = p ? self : NULL;
}

uint64_t util_mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

int util_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    if (parker) return parker->poll(parker_self, fds, n, timeout_ms);
    return poll(fds, n, timeout_ms);
}

bool util_defer(void (*fn)(void *), void *arg) {
    return parker && parker->defer && parker->defer(parker_self, fn, arg);
}

/* ---- waiters ------------------------------------------------------------ */

void util_waiter_init(util_waiter *w) {
    atomic_init(&w->woken, 0);
    atomic_init(&w->queued, 0);
    w->next_queued = NULL;
    w->task = parker ? parker->current(parker_self) : NULL;
    w->parker = w->task ? parker : NULL;
    w->self = w->task ? parker_self : NULL;
}

static long futex(_Atomic int *word, int op, int val, const struct timespec *timeout) {
    return syscall(SYS_futex, (int *)word, op | FUTEX_PRIVATE_FLAG, val, timeout, NULL, 0);
}

bool util_waiter_wait(util_waiter *w, int timeout_ms) {
    if (atomic_load(&w->woken)) return true;
    if (w->parker) return w->parker->park(w->self, w, timeout_ms) && atomic_load(&w->woken);
    uint64_t until = timeout_ms < 0 ? UINT64_MAX : util_mono_ms() + (uint64_t)timeout_ms;
    while (!atomic_load(&w->woken)) {
        struct timespec ts, *tp = NULL;
        if (until != UINT64_MAX) {
            uint64_t now = util_mono_ms();
            if (now >= until) return false;
            ts.tv_sec = (time_t)((until - now) / 1000u);
            ts.tv_nsec = (long)((until - now) % 1000u) * 1000000L;
            tp = &ts;
        }
        /* returns at once if woken already (the word is no longer 0) */
        if (futex(&w->woken, FUTEX_WAIT, 0, tp) != 0 && errno != EAGAIN && errno != EINTR &&
            errno != ETIMEDOUT)
            return atomic_load(&w->woken);
    }
    return true;
}

void util_waiter_wake(util_waiter *w) {
    /* w's fields are read before woken is set: from then on a waiter on
     * another thread may return (though not leave util_waiter_done before
     * the lock its waker holds is released) */
    const util_parker *p = w->parker;
    void *self = w->self;
    atomic_store(&w->woken, 1);
    if (p)
        p->unpark(self, w, self == parker_self);
    else
        futex(&w->woken, FUTEX_WAKE, 1, NULL);
}

void util_waiter_done(util_waiter *w) {
    if (w->parker && atomic_load(&w->queued)) w->parker->forget(w->self, w);
}
