/*
 * main.c - the unit-test runner: runs every test registered with TEST()
 * (see unit.h), or only those whose name contains one of the arguments, and
 * prints as its last line "unit: N passed, N failed", counting tests.
 *
 *     build/unit_tests            run everything
 *     build/unit_tests leb utf8   run the tests whose names contain "leb" or "utf8"
 *     build/unit_tests -v ...     also print one line per test as it passes
 *
 * Exit status: 0 when every test that ran passed, 1 otherwise (also when an
 * argument selects no test, so a typo does not pass silently).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define MAX_TESTS 2048

typedef struct unit_test {
    const char *name, *file;
    unit_fn fn;
} unit_test;

static unit_test tests[MAX_TESTS];
static size_t ntests;
static size_t nlost; /* registrations beyond MAX_TESTS */

static const unit_test *current;
static unsigned current_failures;

typedef struct at_once {
    pthread_barrier_t *go;
    void *(*fn)(void *);
    void *arg;
} at_once;

static void *run_at_once(void *p) {
    at_once *o = p;
    pthread_barrier_wait(o->go);
    return o->fn(o->arg);
}

bool unit_at_once(void *(*fn)(void *), void *a, void *b) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    /* two new threads, both woken by the barrier: a caller that went
     * straight on would be ahead of the other most of the time */
    at_once o[2] = {{&go, fn, a}, {&go, fn, b}};
    pthread_t t[2];
    int started = 0;
    while (started < 2 && pthread_create(&t[started], NULL, run_at_once, &o[started]) == 0)
        started++;
    if (started == 1) run_at_once(&o[1]); /* releases the first all the same */
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    return started == 2 || unit_fail(__FILE__, __LINE__, "unit_at_once: pthread_create failed");
}

void unit_register(const char *name, const char *file, unit_fn fn) {
    if (ntests == MAX_TESTS) {
        nlost++;
        return;
    }
    tests[ntests++] = (unit_test){name, file, fn};
}

bool unit_fail(const char *file, int line, const char *fmt, ...) {
    if (current_failures == 0 && current) fprintf(stderr, "FAIL %s\n", current->name);
    current_failures++;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}

bool unit_check_u64(const char *file, int line, const char *what, uint64_t got, uint64_t want) {
    if (got == want) return true;
    return unit_fail(file, line,
                     "%s: expected %" PRIu64 " (0x%" PRIx64 "), got %" PRIu64 " (0x%" PRIx64 ")",
                     what, want, want, got, got);
}

bool unit_check_s64(const char *file, int line, const char *what, int64_t got, int64_t want) {
    if (got == want) return true;
    return unit_fail(file, line, "%s: expected %" PRId64 ", got %" PRId64, what, want, got);
}

bool unit_check_ptr(const char *file, int line, const char *what, const void *got,
                    const void *want) {
    if (got == want) return true;
    return unit_fail(file, line, "%s: expected pointer %p, got %p", what, want, got);
}

bool unit_check_str(const char *file, int line, const char *what, const char *got,
                    const char *want) {
    if (got == want || (got && want && strcmp(got, want) == 0)) return true;
    if (!got || !want)
        return unit_fail(file, line, "%s: expected %s%s%s, got %s%s%s", what, want ? "\"" : "",
                         want ? want : "NULL", want ? "\"" : "", got ? "\"" : "",
                         got ? got : "NULL", got ? "\"" : "");
    return unit_fail(file, line, "%s: expected \"%s\", got \"%s\"", what, want, got);
}

bool unit_check_mem(const char *file, int line, const char *what, const void *got, const void *want,
                    size_t n) {
    const uint8_t *g = got, *w = want;
    if (!g || !w) {
        if (g == w) return true;
        return unit_fail(file, line, "%s: expected %p, got %p", what, want, got);
    }
    for (size_t i = 0; i < n; i++) {
        if (g[i] != w[i])
            return unit_fail(file, line,
                             "%s: %zu bytes differ first at offset %zu: expected 0x%02x, "
                             "got 0x%02x",
                             what, n, i, w[i], g[i]);
    }
    return true;
}

static bool selected(const unit_test *t, int argc, char **argv) {
    bool any_filter = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) continue;
        any_filter = true;
        if (strstr(t->name, argv[i])) return true;
    }
    return !any_filter;
}

/* Stable sort by file name, so the order does not depend on the link. */
static void sort_by_file(void) {
    for (size_t i = 1; i < ntests; i++) {
        unit_test t = tests[i];
        size_t j = i;
        while (j > 0 && strcmp(tests[j - 1].file, t.file) > 0) {
            tests[j] = tests[j - 1];
            j--;
        }
        tests[j] = t;
    }
}

int main(int argc, char **argv) {
    bool verbose = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-v") == 0) verbose = true;

    sort_by_file();
    size_t passed = 0, failed = 0;
    if (nlost) {
        fprintf(stderr, "unit: %zu tests not registered: raise MAX_TESTS in %s\n", nlost, __FILE__);
        failed += nlost;
    }
    for (size_t i = 0; i < ntests; i++) {
        if (!selected(&tests[i], argc, argv)) continue;
        current = &tests[i];
        current_failures = 0;
        tests[i].fn();
        if (current_failures) {
            failed++;
        } else {
            passed++;
            if (verbose) printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    current = NULL;
    if (passed + failed == 0) {
        fprintf(stderr, "unit: no test matches the arguments\n");
        failed = 1;
    }
    fflush(stderr);
    printf("unit: %zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
