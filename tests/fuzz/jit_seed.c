/* jit_seed.c - the seed object of fuzz_jit_load: compiled by `make fuzz`
 * with clang-14 -c -O2 -mcmodel=large -fno-pic (as the native tier's code
 * is emitted), so the fuzzer starts from an object the loader accepts. */
extern long host_add(long, long);
extern long counter;
static const double table[] = {1.5, 2.25, 4.0, 8.125};
long data_rw = 7;
static long zeroed[64];
__attribute__((noinline)) long twice(long x) {
    return x * 2;
}
long call_host(long a, long b) {
    return host_add(a, b) + twice(b);
}
long bump(long d) {
    counter += d;
    return counter;
}
double pick(int i) {
    return table[i & 3];
}
long get_rw(void) {
    zeroed[data_rw & 63]++;
    return ++data_rw;
}
