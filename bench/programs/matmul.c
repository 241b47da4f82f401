/*
 * matmul.c - dense matrix multiply in double precision.
 *
 * f64 loads, multiplies and adds in an i-k-j loop nest. Every runner does
 * the same IEEE operations in the same order (no FMA contraction on either
 * target, no reassociation), so the result is bit-identical and is printed
 * as raw bits as well as rounded.
 */
#include "rt.h"

#define N 300
#define ROUNDS 36

static void matmul(const double *a, const double *b, double *c, int n) {
    for (int i = 0; i < n * n; i++)
        c[i] = 0.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = b + k * n;
            double *crow = c + i * n;
            for (int j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
}

int main(void) {
    double *a = rt_alloc(sizeof(double) * N * N);
    double *b = rt_alloc(sizeof(double) * N * N);
    double *c = rt_alloc(sizeof(double) * N * N);
    rt_rng rng = {0x9E3779B97F4A7C15ULL};
    for (int i = 0; i < N * N; i++) {
        a[i] = (double)(rt_next(&rng) % 2001) / 1000.0 - 1.0;
        b[i] = (double)(rt_next(&rng) % 2001) / 1000.0 - 1.0;
    }
    double trace = 0.0;
    for (int r = 0; r < ROUNDS; r++) {
        matmul(a, b, c, N);
        /* perturb one row so that no two rounds compute the same product */
        for (int j = 0; j < N; j++)
            a[r * N + j] += 0.25;
        for (int i = 0; i < N; i++)
            trace += c[i * N + i];
    }
    double sum = 0.0;
    for (int i = 0; i < N * N; i++)
        sum += c[i];
    uint64_t bits;
    memcpy(&bits, &sum, sizeof bits);
    printf("sum*1000: %" PRId64 "\n", (int64_t)(sum * 1000.0));
    printf("sum bits: %" PRId64 "\n", (int64_t)bits);
    printf("trace*1000: %" PRId64 "\n", (int64_t)(trace * 1000.0));
    return 0;
}
