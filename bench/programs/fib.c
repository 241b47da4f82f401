/*
 * fib.c - recursion: naive Fibonacci and the Takeuchi function.
 *
 * Almost nothing but calls, returns, compares and adds: measures the cost
 * of a Wasm-to-Wasm call. `noinline` and a run-time argument keep both
 * compilers from folding the recursion away.
 */
#include "rt.h"

static volatile int32_t fib_n = 40;
static volatile int32_t tak_x = 24, tak_y = 16, tak_z = 8;

__attribute__((noinline)) static int32_t fib(int32_t n) {
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static int32_t tak(int32_t x, int32_t y, int32_t z) {
    if (y >= x) return z;
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

int main(void) {
    printf("fib(40): %" PRId32 "\n", fib(fib_n));
    int64_t t = 0;
    for (int i = 0; i < 8; i++)
        t += tak(tak_x + (i & 1), tak_y, tak_z);
    printf("tak sum: %" PRId64 "\n", t);
    return 0;
}
