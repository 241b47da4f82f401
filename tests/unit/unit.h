/*
 * unit.h - the unit-test framework: a registry of test functions and CHECK
 * macros that say where a check failed, what was expected and what came.
 *
 * A test is a function declared with TEST(name) in any .c file of tests/unit/;
 * it registers itself before main() runs (tests/unit/main.c), so adding a
 * test touches one place. Inside a test:
 *
 *     CHECK(cond)                 records a failure and goes on
 *     CHECK_EQ_U64(got, want)     unsigned comparison, both values printed
 *     CHECK_EQ_S64(got, want)     signed comparison
 *     CHECK_EQ_PTR(got, want)     pointer comparison
 *     CHECK_STR(got, want)        NUL-terminated strings (NULL allowed)
 *     CHECK_MEM(got, want, n)     n bytes, first differing offset printed
 *     REQUIRE(cond)               like CHECK, but ends the test on failure
 *                                 (use it before dereferencing a result)
 *
 * Every failing check prints "file:line: what: expected X, got Y" on
 * stderr. A test fails when any of its checks failed. The runner prints, as
 * its last line, "unit: N passed, N failed" counting tests, and exits 1 when
 * any test failed.
 */
#ifndef WASP_TESTS_UNIT_H
#define WASP_TESTS_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*unit_fn)(void);

/* Called by TEST() before main(); `file` is the test's source file. */
void unit_register(const char *name, const char *file, unit_fn fn);

/* Reports a failed check of the running test; always returns false. The
 * message is printf-formatted after "file:line: ". */
bool unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The comparison helpers behind the CHECK_* macros: true when equal,
 * otherwise a failure is reported naming the expression `what`. */
bool unit_check_u64(const char *file, int line, const char *what, uint64_t got, uint64_t want);
bool unit_check_s64(const char *file, int line, const char *what, int64_t got, int64_t want);
bool unit_check_ptr(const char *file, int line, const char *what, const void *got,
                    const void *want);
bool unit_check_str(const char *file, int line, const char *what, const char *got,
                    const char *want);
bool unit_check_mem(const char *file, int line, const char *what, const void *got, const void *want,
                    size_t n);

/* Runs fn(a) and fn(b) on two threads released at the same moment, and
 * waits for both: for races on first use (two workers opening one new
 * file, say). False, with a failure reported, when a thread cannot start. */
bool unit_at_once(void *(*fn)(void *), void *a, void *b);

/* Assembles `wat` (text format) with wat2wasm and loads it; NULL, with a
 * failure reported, when that does not work. The caller frees it. */
struct wasm_module;
struct wasm_module *unit_load_wat(const char *wat);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void unit_register_##name(void) {                          \
        unit_register(#name, __FILE__, test_##name);                                               \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond) ((cond) ? true : unit_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond))
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            unit_fail(__FILE__, __LINE__, "REQUIRE(%s) failed; test stopped", #cond);              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U64(got, want)                                                                    \
    unit_check_u64(__FILE__, __LINE__, #got, (uint64_t)(got), (uint64_t)(want))
#define CHECK_EQ_S64(got, want)                                                                    \
    unit_check_s64(__FILE__, __LINE__, #got, (int64_t)(got), (int64_t)(want))
#define CHECK_EQ_PTR(got, want)                                                                    \
    unit_check_ptr(__FILE__, __LINE__, #got, (const void *)(got), (const void *)(want))
#define CHECK_STR(got, want) unit_check_str(__FILE__, __LINE__, #got, (got), (want))
#define CHECK_MEM(got, want, n) unit_check_mem(__FILE__, __LINE__, #got, (got), (want), (n))

/* Byte-array literal and its length, for readers and decoders:
 * f(BYTES(0x80, 0x01)) passes (const uint8_t *, size_t). */
#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

#endif
