/*
 * native.c - `make bench-pipe`'s logic (logic.h) as a native program, the
 * ceiling: NDJSON on stdin, the kept records on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "logic.h"

int main(void) {
    static char buf[1 << 16];
    char *line = NULL, *out = NULL;
    size_t cap = 0, ocap = 0;
    ssize_t n;
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n') n--;
        if ((size_t)n + 64 > ocap) {
            ocap = (size_t)n + 64;
            out = realloc(out, ocap);
            if (!out) return 1;
        }
        size_t k = errors_map(line, (size_t)n, out);
        if (k) {
            out[k++] = '\n';
            fwrite(out, 1, k, stdout);
        }
    }
    free(line);
    free(out);
    return fflush(stdout) != 0;
}
