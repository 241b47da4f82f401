/*
 * poll.c - poll_oneoff: relative and absolute clock subscriptions sleep at
 * least as long as asked; an fd_read subscription on stdin fires at once
 * when stdin is a file (run.sh passes --stdin FILE with 12 bytes), before a
 * clock subscription beside it; a subscription on a bad descriptor reports
 * EBADF in its event; no subscriptions at all is EINVAL. The arguments
 * pick the sections to run: relative, absolute, stdin, stdout (an
 * fd_write subscription on stdout, a file), stdin-empty (stdin a pipe
 * with nothing in it yet: only the clock fires), errors.
 */
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *yn(int b) {
    return b ? "yes" : "no";
}

static uint64_t mono(void) {
    __wasi_timestamp_t t;
    REQUIRE(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t) == 0);
    return t;
}

static __wasi_subscription_t clock_sub(uint64_t userdata, uint64_t timeout, int abstime) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = userdata;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.precision = 1000;
    s.u.u.clock.flags = abstime ? __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME : 0;
    return s;
}

static __wasi_subscription_t read_sub(uint64_t userdata, __wasi_fd_t fd) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = userdata;
    s.u.tag = __WASI_EVENTTYPE_FD_READ;
    s.u.u.fd_read.file_descriptor = fd;
    return s;
}

static void show(const char *label, __wasi_errno_t e, __wasi_event_t *ev, __wasi_size_t n) {
    printf("%s: %s, %u event(s)", label, outcome(e), (unsigned)n);
    for (__wasi_size_t i = 0; i < n && e == 0; i++)
        printf(" [userdata=%llu type=%d error=%d]", (unsigned long long)ev[i].userdata, ev[i].type,
               ev[i].error);
    printf("\n");
}

static int want(int argc, char **argv, const char *section) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], section) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    __wasi_event_t ev[4];
    __wasi_size_t n = 0;

    __wasi_subscription_t s[2] = {clock_sub(42, 50 * 1000000ull, 0)};
    uint64_t t0, slept;
    __wasi_errno_t e;

    if (want(argc, argv, "relative")) {
        t0 = mono();
        e = __wasi_poll_oneoff(s, ev, 1, &n);
        slept = mono() - t0;
        show("relative clock 50 ms", e, ev, n);
        printf("  slept >= 50 ms: %s, < 5 s: %s\n", yn(slept >= 50000000ull),
               yn(slept < 5000000000ull));

        t0 = mono();
        s[0] = clock_sub(8, 0, 0);
        e = __wasi_poll_oneoff(s, ev, 1, &n);
        show("relative clock 0", e, ev, n);
        printf("  returned within 1 s: %s\n", yn(mono() - t0 < 1000000000ull));

        struct timespec req = {0, 25 * 1000 * 1000};
        t0 = mono();
        REQUIRE(nanosleep(&req, NULL) == 0);
        printf("nanosleep 25 ms slept >= 25 ms: %s\n", yn(mono() - t0 >= 25000000ull));
    }

    if (want(argc, argv, "absolute")) {
        t0 = mono();
        s[0] = clock_sub(7, t0 + 30 * 1000000ull, 1);
        e = __wasi_poll_oneoff(s, ev, 1, &n);
        slept = mono() - t0;
        show("absolute clock now+30 ms", e, ev, n);
        printf("  slept >= 30 ms: %s, < 5 s: %s\n", yn(slept >= 30000000ull),
               yn(slept < 5000000000ull));

        t0 = mono();
        s[0] = clock_sub(9, 1000, 1); /* an absolute time long past */
        e = __wasi_poll_oneoff(s, ev, 1, &n);
        show("absolute clock in the past", e, ev, n);
        printf("  returned within 1 s: %s\n", yn(mono() - t0 < 1000000000ull));
    }

    if (want(argc, argv, "stdin")) {
        /* stdin is a file with data: readable now, the 5 s clock never fires. */
        s[0] = read_sub(1, 0);
        s[1] = clock_sub(2, 5000 * 1000000ull, 0);
        t0 = mono();
        e = __wasi_poll_oneoff(s, ev, 2, &n);
        slept = mono() - t0;
        show("stdin read + clock 5 s", e, ev, n);
        printf("  returned within 1 s: %s\n", yn(slept < 1000000000ull));

        /* The data really is there. */
        char buf[64];
        ssize_t got = read(0, buf, sizeof buf);
        printf("read stdin: %zd bytes\n", got);
    }

    if (want(argc, argv, "stdout")) {
        /* stdout is a file: writable at once. */
        s[0] = read_sub(3, 1);
        s[0].u.tag = __WASI_EVENTTYPE_FD_WRITE;
        s[1] = clock_sub(4, 5000 * 1000000ull, 0);
        t0 = mono();
        e = __wasi_poll_oneoff(s, ev, 2, &n);
        show("stdout write + clock 5 s", e, ev, n);
        printf("  returned within 1 s: %s\n", yn(mono() - t0 < 1000000000ull));
    }

    if (want(argc, argv, "stdin-empty")) {
        /* stdin is a pipe whose writer has written nothing yet. */
        s[0] = read_sub(1, 0);
        s[1] = clock_sub(2, 100 * 1000000ull, 0);
        t0 = mono();
        e = __wasi_poll_oneoff(s, ev, 2, &n);
        slept = mono() - t0;
        show("empty stdin read + clock 100 ms", e, ev, n);
        printf("  slept >= 100 ms: %s, < 5 s: %s\n", yn(slept >= 100000000ull),
               yn(slept < 5000000000ull));
    }

    if (want(argc, argv, "errors")) {
        s[0] = read_sub(77, 99);
        s[1] = clock_sub(78, 5000 * 1000000ull, 0);
        t0 = mono();
        e = __wasi_poll_oneoff(s, ev, 2, &n);
        /* Either answer is WASI: EBADF for the call, or in the fd's event. */
        int bad = e == __WASI_ERRNO_BADF ||
                  (e == 0 && n >= 1 && ev[0].userdata == 77 && ev[0].error == __WASI_ERRNO_BADF);
        printf("read on bad fd 99 + clock 5 s: EBADF reported: %s\n", yn(bad));
        printf("  returned within 1 s: %s\n", yn(mono() - t0 < 1000000000ull));
        printf("no subscriptions: %s\n", outcome(__wasi_poll_oneoff(s, ev, 0, &n)));
    }
    return 0;
}
