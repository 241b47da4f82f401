/*
 * wait.c - util_poll: poll(2), or the poller the thread installed (see
 * util.h; `wasp serve` installs one that suspends the request's fiber).
 */
#include "util/util.h"

static _Thread_local util_poll_fn poller;
static _Thread_local void *poller_self;

void util_set_poller(util_poll_fn fn, void *self) {
    poller = fn;
    poller_self = self;
}

int util_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    if (poller) return poller(poller_self, fds, n, timeout_ms);
    return poll(fds, n, timeout_ms);
}
