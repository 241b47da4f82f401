/*
 * args.c - prints the arguments the guest was given, one per line, with
 * argv[0] cut to its last path component (runners differ in how much of
 * the module path they pass).
 */
#include "common.h"

int main(int argc, char **argv) {
    const char *base = strrchr(argv[0], '/');
    printf("argc=%d\n", argc);
    printf("argv[0]=%s\n", base ? base + 1 : argv[0]);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=[%s] (%zu bytes)\n", i, argv[i], strlen(argv[i]));
    /* The raw sizes agree with what libc saw. */
    __wasi_size_t n, size;
    REQUIRE(__wasi_args_sizes_get(&n, &size) == 0);
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += strlen(argv[i]) + 1;
    printf("args_sizes_get: count matches=%d size matches=%d\n", (int)n == argc, size == total);
    return 0;
}
