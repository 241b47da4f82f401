/*
 * sched.c - a worker's requests that wait: each runs on a fiber of its
 * own, and a host function that waits (util_poll) suspends it while the
 * worker serves others.
 *
 * The worker's loop (http.c) watches one descriptor of ours, an epoll set
 * holding what every suspended task waits for plus a timerfd for the
 * nearest time one of them must wake. When it is readable, srv_sched_poll
 * resumes the tasks whose descriptors are ready or whose time came. A task
 * that finishes - at once, or after waits - has its `done` callback run on
 * the worker's own stack, never on the fiber: whatever calls into h2o
 * (sending the response) happens there.
 *
 * The poller this file installs on the worker thread (util_set_parker):
 *   - not on a fiber, or a zero timeout: poll(2) itself;
 *   - otherwise the descriptors are armed in the epoll set, one-shot, for
 *     this task (they stay registered between waits, so a wait costs one
 *     epoll_ctl each), the time goes into a heap of wake-up times, and the
 *     fiber suspends. Resumed by its one descriptor's event, that event is
 *     the answer; otherwise the descriptors are disarmed and poll(2) with
 *     no wait says what is ready. Two tasks waiting on one descriptor at
 *     once would share its registration (the later one wins); no host code
 *     does that: every connection belongs to one request at a time.
 * It parks tasks too (util_waiter: a pooled connection handed over, say):
 * the fiber suspends with only its time in the heap, and a wake from this
 * thread makes it ready with no system call; a wake from another thread
 * goes on a list under a mutex, and the kick eventfd makes this thread's
 * loop take it from there.
 * A task woken early (srv_sched_wake: its request was cancelled, or the
 * server stops) sees no descriptor ready; its host function then finds
 * that the guest call must stop (the caller interrupted it) and returns.
 * A woken task never suspends again: its waits return at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"
#include "util/util.h"

/* Fibers kept for reuse beyond those in use, per worker. */
#define IDLE_FIBERS 64
/* Work deferred to the end of a turn of the loop at once (util_defer): one
 * per shared connection with writes pending, so a few; past it the work is
 * done at once. */
#define MAX_DEFERRED 32

/* What an epoll entry's data points to (NULL: the timerfd). */
enum { ITEM_TASK = 1, ITEM_WATCH, ITEM_KICK, ITEM_IGNORE };

struct srv_task {
    int kind; /* ITEM_TASK */
    wasm_fiber *fiber;
    srv_task_fn fn, done;
    void *arg;
    uint64_t wake_at;  /* ms (CLOCK_MONOTONIC); UINT64_MAX: no timer */
    size_t heap_at;    /* index in s->heap, SIZE_MAX when not in it */
    bool waiting;      /* suspended in the poller */
    bool yielded;      /* suspended at the end of its time slice: ready to go on */
    bool woken;        /* srv_sched_wake: do not suspend again */
    bool ready;        /* on s->ready */
    uint32_t events;   /* epoll events that woke it (0: its time, or a wake) */
    util_waiter *park; /* the waiter it is parked on (util_waiter_wait), or NULL */
    srv_task_fn after; /* srv_sched_after_suspend */
    void *after_arg;
    srv_task_budget budget; /* ns 0: none */
    uint64_t run_ns;        /* running time so far, timed only with a budget */
    srv_task *next_ready, *next_free;
};

typedef struct sched_deferred {
    void (*fn)(void *);
    void *arg;
} sched_deferred;

struct srv_sched {
    int epfd, tfd;
    int kick;        /* an eventfd in the set: readable while tasks are ready */
    bool kicked;     /* kick written and not read yet: another write is useless */
    int kick_kind;   /* ITEM_KICK: its epoll entry's data */
    int ignore_kind; /* ITEM_IGNORE: disarmed descriptors' data */
    uint32_t slice_ms;
    srv_task *running; /* the task whose fiber runs now */
    srv_task **heap;   /* waiting tasks with a timer, nearest first */
    size_t nheap, heapcap;
    uint64_t armed; /* the timerfd's expiry in ms, UINT64_MAX: disarmed */
    srv_task *ready, **ready_tail;
    srv_task *free_tasks; /* with their fibers */
    int nfree;
    size_t suspended;
    /* waiters woken from other threads, for this thread to make ready */
    pthread_mutex_t remote_lock;
    util_waiter *remote;
    sched_deferred deferred[MAX_DEFERRED]; /* to the end of the loop's turn (util_defer) */
    int ndeferred;
    bool in_deferred; /* srv_sched_run_deferred runs them: they may defer again */
};

/* ---- the heap of wake-up times ---------------------------------------------- */

static void heap_set(srv_sched *s, size_t i, srv_task *t) {
    s->heap[i] = t;
    t->heap_at = i;
}

static void heap_up(srv_sched *s, size_t i) {
    srv_task *t = s->heap[i];
    while (i > 0 && s->heap[(i - 1) / 2]->wake_at > t->wake_at) {
        heap_set(s, i, s->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(s, i, t);
}

static void heap_down(srv_sched *s, size_t i) {
    srv_task *t = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->nheap) break;
        if (c + 1 < s->nheap && s->heap[c + 1]->wake_at < s->heap[c]->wake_at) c++;
        if (s->heap[c]->wake_at >= t->wake_at) break;
        heap_set(s, i, s->heap[c]);
        i = c;
    }
    heap_set(s, i, t);
}

static bool heap_push(srv_sched *s, srv_task *t) {
    if (s->nheap == s->heapcap) {
        size_t cap = s->heapcap ? s->heapcap * 2 : 64;
        srv_task **h = realloc(s->heap, cap * sizeof *h);
        if (!h) return false;
        s->heap = h;
        s->heapcap = cap;
    }
    heap_set(s, s->nheap++, t);
    heap_up(s, t->heap_at);
    return true;
}

static void heap_remove(srv_sched *s, srv_task *t) {
    size_t i = t->heap_at;
    if (i == SIZE_MAX) return;
    t->heap_at = SIZE_MAX;
    srv_task *last = s->heap[--s->nheap];
    if (last == t) return;
    heap_set(s, i, last);
    heap_up(s, i);
    heap_down(s, last->heap_at);
}

/* Sets the timerfd to the nearest wake-up, if that changed. */
static void timer_rearm(srv_sched *s) {
    uint64_t at = s->nheap ? s->heap[0]->wake_at : UINT64_MAX;
    if (at == s->armed) return;
    s->armed = at;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (at != UINT64_MAX) {
        /* absolute CLOCK_MONOTONIC; 0 would disarm, so at least 1 ns */
        its.it_value.tv_sec = (time_t)(at / 1000u);
        its.it_value.tv_nsec = (long)(at % 1000u) * 1000000L + 1;
    }
    timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- the poller ---------------------------------------------------------------- */

/* Ready tasks run in the order they became ready. */
static void make_ready(srv_sched *s, srv_task *t) {
    if (t->ready) return;
    t->ready = true;
    t->next_ready = NULL;
    *s->ready_tail = t;
    s->ready_tail = &t->next_ready;
}

/* Makes the scheduler's descriptor readable, so the loop comes back to
 * the ready tasks after it has looked at everything else. */
static void kick(srv_sched *s) {
    if (s->kicked) return;
    s->kicked = true;
    uint64_t one = 1;
    (void)!write(s->kick, &one, sizeof one);
}

/* Waits of more descriptors than this wait on the thread (never so far). */
#define MAX_WAIT_FDS 16

/* Leaves the descriptors registered but naming no task. epoll reports an
 * error or hang-up even with no events asked: one-shot, with a marker the
 * scheduler ignores, it does so at most once (and never names a task that
 * may be gone). */
static void disarm(srv_sched *s, const struct pollfd *fds, nfds_t n) {
    for (nfds_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = &s->ignore_kind};
        if (fds[i].fd >= 0) epoll_ctl(s->epfd, EPOLL_CTL_MOD, fds[i].fd, &ev);
    }
}

/* Suspends the running task t until an event, its time (if it is in the
 * heap) or a wake resumes it; then takes it out of the heap. */
static void suspend_waiting(srv_sched *s, srv_task *t) {
    t->events = 0;
    t->waiting = true;
    s->suspended++;
    wasm_fiber_suspend();
    s->suspended--;
    t->waiting = false;
    heap_remove(s, t);
    t->wake_at = UINT64_MAX;
}

/* util_poll on a worker thread (see the top of this file). */
static int sched_poller(void *self, struct pollfd *fds, nfds_t n, int timeout_ms) {
    srv_sched *s = self;
    srv_task *t = s->running;
    if (!t || timeout_ms == 0 || n > MAX_WAIT_FDS || !wasm_fiber_current())
        return poll(fds, n, timeout_ms);
    if (t->woken) return poll(fds, n, 0);
    /* A descriptor stays in the epoll set from one wait to the next,
     * one-shot: a wait re-arms it for its task (one epoll_ctl), its event
     * disarms it. No poll(2) first: one already ready fires at once. */
    nfds_t armed = 0;
    for (; armed < n; armed++) {
        if (fds[armed].fd < 0) continue;
        struct epoll_event ev = {.events = EPOLLONESHOT, .data.ptr = t};
        if (fds[armed].events & POLLIN) ev.events |= EPOLLIN;
        if (fds[armed].events & POLLOUT) ev.events |= EPOLLOUT;
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fds[armed].fd, &ev) != 0 &&
            (errno != ENOENT || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fds[armed].fd, &ev) != 0))
            break;
    }
    bool failed = armed < n;
    if (!failed && timeout_ms > 0) {
        t->wake_at = util_mono_ms() + (uint64_t)timeout_ms;
        failed = !heap_push(s, t);
    }
    if (failed) {
        /* the epoll set or the heap could not take this wait: wait here,
         * as before fibers (rare: out of memory, or a descriptor epoll
         * refuses) */
        disarm(s, fds, armed);
        t->wake_at = UINT64_MAX;
        return poll(fds, n, timeout_ms);
    }
    timer_rearm(s);
    suspend_waiting(s, t);
    if (n == 1 && t->events) {
        /* the common case: one descriptor, and its event is the answer */
        uint32_t e = t->events;
        fds[0].revents = (short)((e & EPOLLIN ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0) |
                                 (e & EPOLLERR ? POLLERR : 0) | (e & EPOLLHUP ? POLLHUP : 0));
        return 1;
    }
    /* woken by its time, srv_sched_wake, or one of several descriptors:
     * those still armed must not name this task any more */
    disarm(s, fds, n);
    return poll(fds, n, 0);
}

/* ---- parking (util_waiter) ----------------------------------------------------- */

static void *sched_current(void *self) {
    srv_sched *s = self;
    return s->running && wasm_fiber_current() ? s->running : NULL;
}

static bool sched_park(void *self, util_waiter *w, int timeout_ms) {
    srv_sched *s = self;
    srv_task *t = w->task;
    if (t != s->running || t->woken) return false;
    if (timeout_ms == 0) return atomic_load(&w->woken);
    if (timeout_ms > 0) {
        t->wake_at = util_mono_ms() + (uint64_t)timeout_ms;
        if (!heap_push(s, t)) return false;
        timer_rearm(s);
    }
    t->park = w;
    suspend_waiting(s, t);
    t->park = NULL;
    return true;
}

/* Makes w's task ready if it is still parked on w (its time may have come
 * first). On the scheduler's thread. */
static void unpark_local(srv_sched *s, util_waiter *w) {
    srv_task *t = w->task;
    if (!t->waiting || t->park != w) return;
    make_ready(s, t);
    kick(s);
}

static void sched_unpark(void *self, util_waiter *w, bool local) {
    srv_sched *s = self;
    if (local) {
        unpark_local(s, w);
        return;
    }
    /* The scheduler's thread takes it from the list when the kick wakes
     * its loop (srv_sched_poll). The eventfd is written whatever `kicked`
     * says: that flag is the owning thread's alone. */
    pthread_mutex_lock(&s->remote_lock);
    atomic_store(&w->queued, 1);
    w->next_queued = s->remote;
    s->remote = w;
    pthread_mutex_unlock(&s->remote_lock);
    uint64_t one = 1;
    (void)!write(s->kick, &one, sizeof one);
}

static void sched_forget(void *self, util_waiter *w) {
    srv_sched *s = self;
    pthread_mutex_lock(&s->remote_lock);
    for (util_waiter **p = &s->remote; *p; p = &(*p)->next_queued) {
        if (*p == w) {
            *p = w->next_queued;
            break;
        }
    }
    atomic_store(&w->queued, 0);
    pthread_mutex_unlock(&s->remote_lock);
}

/* The waiters other threads woke: their tasks become ready. */
static void take_remote(srv_sched *s) {
    pthread_mutex_lock(&s->remote_lock);
    util_waiter *w = s->remote;
    s->remote = NULL;
    for (; w; w = w->next_queued) {
        atomic_store(&w->queued, 0);
        srv_task *t = w->task;
        if (t->waiting && t->park == w) make_ready(s, t);
    }
    pthread_mutex_unlock(&s->remote_lock);
}

static bool sched_defer(void *self, void (*fn)(void *), void *arg) {
    srv_sched *s = self;
    /* only a task suspends before the loop waits: code on the worker's own
     * stack waits with poll(2), which would never see the work done; the
     * deferred work itself may put what is left off to the next turn */
    if ((!s->running && !s->in_deferred) || s->ndeferred == MAX_DEFERRED) return false;
    s->deferred[s->ndeferred].fn = fn;
    s->deferred[s->ndeferred].arg = arg;
    s->ndeferred++;
    return true;
}

bool srv_sched_run_deferred(srv_sched *s) {
    /* what runs may defer again (a write the socket did not take whole):
     * that waits for the next turn */
    int n = s->ndeferred;
    s->ndeferred = 0;
    sched_deferred now[MAX_DEFERRED];
    memcpy(now, s->deferred, (size_t)n * sizeof now[0]);
    s->in_deferred = true;
    for (int i = 0; i < n; i++)
        now[i].fn(now[i].arg);
    s->in_deferred = false;
    return s->ndeferred > 0;
}

static const util_parker sched_parker = {
    .poll = sched_poller,
    .current = sched_current,
    .park = sched_park,
    .unpark = sched_unpark,
    .forget = sched_forget,
    .defer = sched_defer,
};

/* ---- tasks ------------------------------------------------------------------- */

srv_sched *srv_sched_new(char *err, size_t errlen) {
    srv_sched *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->armed = UINT64_MAX;
    pthread_mutex_init(&s->remote_lock, NULL);
    s->ready_tail = &s->ready;
    s->kick_kind = ITEM_KICK;
    s->ignore_kind = ITEM_IGNORE;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    s->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    struct epoll_event kev = {.events = EPOLLIN, .data.ptr = &s->kick_kind};
    if (s->epfd < 0 || s->tfd < 0 || s->kick < 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) != 0 ||
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->kick, &kev) != 0) {
        snprintf(err, errlen, "cannot make the worker's wait set: %s", strerror(errno));
        srv_sched_free(s);
        return NULL;
    }
    util_set_parker(&sched_parker, s);
    return s;
}

void srv_sched_free(srv_sched *s) {
    if (!s) return;
    util_set_parker(NULL, NULL);
    while (s->free_tasks) {
        srv_task *t = s->free_tasks;
        s->free_tasks = t->next_free;
        wasm_fiber_free(t->fiber);
        free(t);
    }
    if (s->epfd >= 0) close(s->epfd);
    if (s->tfd >= 0) close(s->tfd);
    if (s->kick >= 0) close(s->kick);
    pthread_mutex_destroy(&s->remote_lock);
    free(s->heap);
    free(s);
}

bool srv_sched_watch_hangup(srv_sched *s, srv_watch *w, int fd, srv_task_fn fn, void *arg) {
    w->fn = fn;
    w->arg = arg;
    if (w->armed && w->fd == fd) return true; /* from an earlier request */
    w->kind = ITEM_WATCH;
    w->fd = fd;
    /* Edge-triggered: it fires once, when the client closes, whether or not
     * a request is in flight then; so a watch can stay for the
     * connection's life and cost no system call per request. */
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLET, .data.ptr = w};
    w->armed = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
    return w->armed;
}

void srv_sched_unwatch(srv_sched *s, srv_watch *w) {
    if (!w->armed) return;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->armed = false;
}

void srv_sched_after_suspend(srv_sched *s, srv_task_fn fn, void *arg) {
    if (!s->running) return;
    s->running->after = fn;
    s->running->after_arg = arg;
}

void srv_sched_set_slice(srv_sched *s, uint32_t ms) {
    s->slice_ms = ms;
}

int srv_sched_fd(const srv_sched *s) {
    return s->epfd;
}

size_t srv_sched_suspended(const srv_sched *s) {
    return s->suspended;
}

/* Back to the free list, or unmapped when enough are kept. */
static void task_release(srv_sched *s, srv_task *t) {
    if (s->nfree >= IDLE_FIBERS) {
        wasm_fiber_free(t->fiber);
        free(t);
        return;
    }
    t->next_free = s->free_tasks;
    s->free_tasks = t;
    s->nfree++;
}

/* Runs t (start or resume) until it suspends or finishes; on finishing,
 * its `done` and its release. */
static void task_step(srv_sched *s, srv_task *t, bool start) {
    srv_task *outer = s->running;
    s->running = t;
    t->yielded = false;
    uint64_t t0 = t->budget.ns ? srv_now_ns() : 0;
    bool finished = start ? wasm_fiber_start(t->fiber, t->fn, t->arg) : wasm_fiber_resume(t->fiber);
    s->running = outer;
    if (t->budget.ns && !finished) {
        t->run_ns += srv_now_ns() - t0;
        if (t->run_ns >= t->budget.ns) {
            t->budget.ns = 0; /* once */
            t->budget.over(t->arg);
        }
    }
    if (t->after) {
        srv_task_fn fn = t->after;
        t->after = NULL;
        if (!finished) fn(t->after_arg); /* may make t ready again */
    }
    if (!finished) {
        if (wasm_fiber_yielded(t->fiber)) {
            /* its slice is over: it goes on after what else is ready */
            t->yielded = true;
            make_ready(s, t);
            kick(s);
        }
        return;
    }
    t->done(t->arg);
    task_release(s, t);
}

bool srv_sched_spawn(srv_sched *s, srv_task_fn fn, srv_task_fn done, void *arg,
                     const srv_task_budget *budget, srv_task **out, char *err, size_t errlen) {
    srv_task *t = s->free_tasks;
    if (t) {
        s->free_tasks = t->next_free;
        s->nfree--;
    } else {
        wasm_error werr;
        t = calloc(1, sizeof *t);
        if (t) t->fiber = wasm_fiber_new(0, &werr);
        if (!t || !t->fiber) {
            snprintf(err, errlen, "%s", t ? werr.msg : "out of memory");
            free(t);
            return false;
        }
    }
    wasm_fiber *f = t->fiber;
    wasm_fiber_set_slice(f, s->slice_ms);
    memset(t, 0, sizeof *t);
    t->kind = ITEM_TASK;
    t->fiber = f;
    t->fn = fn;
    t->done = done;
    t->arg = arg;
    if (budget && budget->ns && budget->over) t->budget = *budget;
    t->wake_at = UINT64_MAX;
    t->heap_at = SIZE_MAX;
    *out = t; /* before it runs: done may need it, and may free arg */
    task_step(s, t, true);
    return true;
}

/* Takes t off the ready list (it is about to run by other means). */
static void ready_remove(srv_sched *s, srv_task *t) {
    if (!t->ready) return;
    for (srv_task **p = &s->ready; *p; p = &(*p)->next_ready) {
        if (*p == t) {
            *p = t->next_ready;
            if (!*p) s->ready_tail = p;
            break;
        }
    }
    t->ready = false;
}

void srv_sched_wake(srv_sched *s, srv_task *t, bool now) {
    t->woken = true;
    if (!t->waiting && !t->yielded) return;
    if (now && !s->running) {
        ready_remove(s, t);
        task_step(s, t, false);
        return;
    }
    make_ready(s, t);
    kick(s);
}

/* Resumes the tasks that are ready now; those that become ready on the
 * way (a yield) wait for the next round, after the loop's other events. */
static void run_ready(srv_sched *s) {
    if (!s->ready) return;
    /* the tail pointer is the last task's next_ready */
    srv_task *last = (srv_task *)((char *)s->ready_tail - offsetof(srv_task, next_ready));
    while (s->ready) {
        srv_task *t = s->ready;
        s->ready = t->next_ready;
        if (!s->ready) s->ready_tail = &s->ready;
        t->ready = false;
        bool was_last = t == last;
        if (t->waiting || t->yielded) task_step(s, t, false); /* may free t */
        if (was_last) break;
    }
    if (s->ready) kick(s);
}

void srv_sched_poll(srv_sched *s) {
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(s->epfd, evs, 64, 0);
        /* Watches fire after the whole batch is read: a watch's callback may
         * run a task to its end and free it, and a later event of the batch
         * may name that task. */
        srv_watch *fire[64];
        int nfire = 0;
        for (int i = 0; i < n; i++) {
            int *kind = evs[i].data.ptr;
            if (kind && *kind == ITEM_TASK) {
                srv_task *t = (srv_task *)kind;
                if (t->waiting) t->events |= evs[i].events;
                make_ready(s, t);
                continue;
            }
            if (kind && *kind == ITEM_IGNORE) continue;
            if (kind && *kind == ITEM_KICK) {
                uint64_t v;
                (void)!read(s->kick, &v, sizeof v);
                s->kicked = false;
                take_remote(s);
                continue;
            }
            if (kind && *kind == ITEM_WATCH) {
                srv_watch *w = (srv_watch *)kind;
                srv_sched_unwatch(s, w);
                fire[nfire++] = w;
                continue;
            }
            uint64_t ticks;
            while (read(s->tfd, &ticks, sizeof ticks) == sizeof ticks)
                ;
            s->armed = UINT64_MAX;
        }
        for (int i = 0; i < nfire; i++)
            fire[i]->fn(fire[i]->arg); /* may free the watch, and tasks */
        /* every task whose time has come */
        uint64_t now = util_mono_ms();
        while (s->nheap && s->heap[0]->wake_at <= now) {
            srv_task *t = s->heap[0];
            heap_remove(s, t);
            make_ready(s, t);
        }
        timer_rearm(s);
        if (!s->ready) break;
        run_ready(s);
        if (n < 64) break;
    }
}
