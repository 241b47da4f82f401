/*
 * sieve.c - the sieve of Eratosthenes over a byte array.
 *
 * Tight loops of byte loads and stores with a large stride: measures memory
 * access and loop overhead. Counts the primes below N several times and
 * checksums them.
 */
#include "rt.h"

#define N 4000000u
#define ROUNDS 40

static uint32_t sieve(uint8_t *composite, uint32_t n, uint64_t *sum) {
    memset(composite, 0, n);
    for (uint32_t i = 2; (uint64_t)i * i < n; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j < n; j += i)
                composite[j] = 1;
    uint32_t count = 0;
    uint64_t s = 0;
    for (uint32_t i = 2; i < n; i++)
        if (!composite[i]) {
            count++;
            s += i;
        }
    *sum = s;
    return count;
}

int main(void) {
    uint8_t *composite = rt_alloc(N);
    uint64_t total = 0, sum = 0;
    uint32_t count = 0;
    for (int r = 0; r < ROUNDS; r++) {
        /* vary the bound a little so no round repeats the previous one */
        count = sieve(composite, N - (uint32_t)r * 1000, &sum);
        total += count;
    }
    printf("primes below 3989000: %" PRIu32 "\n", count);
    printf("their sum: %" PRId64 "\n", (int64_t)sum);
    printf("total over rounds: %" PRId64 "\n", (int64_t)total);
    return 0;
}
