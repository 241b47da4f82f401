/*
 * random.c - random_get fills buffers with bytes that differ from call to
 * call, covers every byte value, and copes with zero and large lengths.
 */
#include <unistd.h>

#include "common.h"

int main(void) {
    uint8_t a[32], b[32], zero[32] = {0};
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    printf("random_get 32: %s\n", outcome(__wasi_random_get(a, sizeof a)));
    printf("random_get 32 again: %s\n", outcome(__wasi_random_get(b, sizeof b)));
    printf("two calls differ: %s\n", memcmp(a, b, sizeof a) ? "yes" : "no");
    printf("not all zero: %s\n",
           memcmp(a, zero, sizeof a) && memcmp(b, zero, sizeof b) ? "yes" : "no");
    printf("random_get 0: %s\n", outcome(__wasi_random_get(a, 0)));

    static uint8_t big[1 << 20];
    printf("random_get 1 MiB: %s\n", outcome(__wasi_random_get(big, sizeof big)));
    int seen[256] = {0}, distinct = 0;
    for (size_t i = 0; i < sizeof big; i++)
        if (!seen[big[i]]++) distinct++;
    printf("distinct byte values in 1 MiB: %d\n", distinct);
    uint8_t c[16];
    printf("getentropy: %s\n", outcome(getentropy(c, sizeof c) ? errno : 0));
    return 0;
}
