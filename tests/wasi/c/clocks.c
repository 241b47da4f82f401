/*
 * clocks.c - the clocks are sane: realtime is within a minute of the host's
 * time (argv[1], seconds since the epoch, from the test script), monotonic
 * never goes backwards and measures a sleep, the CPU-time clocks work, and
 * an unknown clock is EINVAL. Prints only yes/no verdicts.
 */
#include <sys/time.h>
#include <time.h>

#include "common.h"

static const char *yn(int b) {
    return b ? "yes" : "no";
}

static uint64_t get(__wasi_clockid_t id, __wasi_errno_t *err) {
    __wasi_timestamp_t t = 0;
    *err = __wasi_clock_time_get(id, 1, &t);
    return t;
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    long long host = atoll(argv[1]);
    __wasi_errno_t e;

    uint64_t rt = get(__WASI_CLOCKID_REALTIME, &e);
    long long diff = (long long)(rt / 1000000000ull) - host;
    printf("realtime: %s, within 60 s of the host: %s\n", outcome(e), yn(diff > -60 && diff < 60));
    struct timespec ts;
    REQUIRE(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    printf("clock_gettime(CLOCK_REALTIME) agrees: %s\n",
           yn(ts.tv_sec - host > -60 && ts.tv_sec - host < 60));
    time_t t = time(NULL);
    printf("time() agrees: %s\n", yn(t - host > -60 && t - host < 60));
    struct timeval tv;
    REQUIRE(gettimeofday(&tv, NULL) == 0);
    printf("gettimeofday agrees: %s, usec in range: %s\n",
           yn(tv.tv_sec - host > -60 && tv.tv_sec - host < 60),
           yn(tv.tv_usec >= 0 && tv.tv_usec < 1000000));

    const __wasi_clockid_t ids[] = {__WASI_CLOCKID_REALTIME, __WASI_CLOCKID_MONOTONIC,
                                    __WASI_CLOCKID_PROCESS_CPUTIME_ID,
                                    __WASI_CLOCKID_THREAD_CPUTIME_ID};
    const char *names[] = {"realtime", "monotonic", "process cputime", "thread cputime"};
    for (int i = 0; i < 4; i++) {
        __wasi_timestamp_t res = 0;
        e = __wasi_clock_res_get(ids[i], &res);
        printf("%s resolution: %s, between 1 ns and 1 s: %s\n", names[i], outcome(e),
               yn(res >= 1 && res <= 1000000000ull));
    }

    /* Monotonic: never backwards over many reads, and it measures a sleep. */
    uint64_t prev = get(__WASI_CLOCKID_MONOTONIC, &e);
    printf("monotonic: %s, non-zero: %s\n", outcome(e), yn(prev > 0));
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t now = get(__WASI_CLOCKID_MONOTONIC, &e);
        if (now < prev) backwards++;
        prev = now;
    }
    printf("monotonic went backwards in 100000 reads: %d times\n", backwards);
    uint64_t t0 = get(__WASI_CLOCKID_MONOTONIC, &e);
    struct timespec req = {0, 20 * 1000 * 1000};
    REQUIRE(nanosleep(&req, NULL) == 0);
    uint64_t t1 = get(__WASI_CLOCKID_MONOTONIC, &e);
    printf("nanosleep 20 ms: monotonic advanced >= 20 ms: %s, < 5 s: %s\n",
           yn(t1 - t0 >= 20000000ull), yn(t1 - t0 < 5000000000ull));

    /* CPU time: readable, non-decreasing, advances under a busy loop. */
    uint64_t c0 = get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &e);
    printf("process cputime: %s\n", outcome(e));
    volatile uint64_t x = 0;
    uint64_t start = get(__WASI_CLOCKID_MONOTONIC, &e);
    while (get(__WASI_CLOCKID_MONOTONIC, &e) - start < 50000000ull)
        x++;
    uint64_t c1 = get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, &e);
    printf("process cputime advanced under 50 ms of busy work: %s\n", yn(c1 > c0));
    uint64_t th = get(__WASI_CLOCKID_THREAD_CPUTIME_ID, &e);
    printf("thread cputime: %s, non-zero: %s\n", outcome(e), yn(th > 0));

    __wasi_timestamp_t res;
    printf("unknown clock 99 time: %s\n", outcome(__wasi_clock_time_get(99, 1, &res)));
    printf("unknown clock 99 res: %s\n", outcome(__wasi_clock_res_get(99, &res)));
    return 0;
}
