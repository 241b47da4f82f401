/*
 * stdin.c - reads all of stdin in odd-sized pieces and prints how many
 * bytes came, an FNV-1a hash of them and the first line. run.sh feeds it
 * a file (--stdin FILE), a pipe, an empty file, and a 3 MiB file.
 */
#include <unistd.h>

#include "common.h"

int main(void) {
    static char buf[4093];
    uint64_t total = 0, hash = 14695981039346656037ull;
    char first[64] = {0};
    size_t flen = 0;
    int done_first = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        REQUIRE(n >= 0);
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) {
            hash = (hash ^ (uint8_t)buf[i]) * 1099511628211ull;
            if (!done_first) {
                if (buf[i] == '\n' || flen == sizeof first - 1)
                    done_first = 1;
                else
                    first[flen++] = buf[i];
            }
        }
        total += (uint64_t)n;
    }
    printf("stdin: %llu bytes, fnv1a %016llx, first line [%s]\n", (unsigned long long)total,
           (unsigned long long)hash, first);
    printf("read at eof again: %zd\n", read(0, buf, sizeof buf));
    return 0;
}
