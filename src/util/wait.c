/*
 * wait.c - util_poll: poll(2), or the poller the thread installed (see
 * util.h; `wasp serve` installs one that suspends the request's fiber),
 * and the monotonic clock the waits are measured on.
 */
#include <time.h>

#include "util/util.h"

static _Thread_local util_poll_fn poller;
static _Thread_local void *poller_self;

void util_set_poller(util_poll_fn fn, void *self) {
    poller = fn;
    poller_self = self;
}

uint64_t util_mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

int util_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    if (poller) return poller(poller_self, fds, n, timeout_ms);
    return poll(fds, n, timeout_ms);
}
