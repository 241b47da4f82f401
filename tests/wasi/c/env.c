/*
 * env.c - the environment the guest sees. `env.wasm --list` prints every
 * variable, sorted; `env.wasm NAME...` prints each NAME's value or
 * "(unset)"; `env.wasm --count NAME...` how many entries each NAME has.
 * Only what `--env` grants (or everything, with --inherit-env) may be
 * visible, and each name once.
 */
#include "common.h"

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        int n = 0;
        while (environ[n])
            n++;
        char **v = malloc((n + 1) * sizeof *v);
        memcpy(v, environ, (n + 1) * sizeof *v);
        qsort(v, n, sizeof *v, cmp);
        printf("environ: %d variables\n", n);
        for (int i = 0; i < n; i++)
            printf("[%s]\n", v[i]);
        __wasi_size_t count, size;
        REQUIRE(__wasi_environ_sizes_get(&count, &size) == 0);
        size_t total = 0;
        for (int i = 0; i < n; i++)
            total += strlen(v[i]) + 1;
        printf("environ_sizes_get: count matches=%d size matches=%d\n", (int)count == n,
               size == total);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--count") == 0) {
        for (int i = 2; i < argc; i++) {
            size_t len = strlen(argv[i]);
            int n = 0;
            for (char **e = environ; *e; e++)
                n += strncmp(*e, argv[i], len) == 0 && (*e)[len] == '=';
            printf("%s: %d entries, value [%s]\n", argv[i], n,
                   getenv(argv[i]) ? getenv(argv[i]) : "");
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = getenv(argv[i]);
        if (v)
            printf("%s=[%s]\n", argv[i], v);
        else
            printf("%s: (unset)\n", argv[i]);
    }
    return 0;
}
