/*
 * cat.c - copies each file named on the command line, or stdin when none
 * is, to stdout. A WASI module sees only the directories it was granted:
 *
 *   build/wasp run --dir . build/examples/cat.wasm README.md    reads ./README.md
 *   build/wasp run build/examples/cat.wasm README.md            refused: no grant
 *   build/wasp run --stdin README.md build/examples/cat.wasm    reads stdin
 *
 * Exit status: 0 when every file was copied, 1 when any could not be.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int copy(FILE *in, const char *name) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, stdout) != n) {
            fprintf(stderr, "cat: writing stdout: %s\n", strerror(errno));
            return 1;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "cat: %s: %s\n", name, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return copy(stdin, "stdin");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        status |= copy(f, argv[i]);
        fclose(f);
    }
    return status;
}
