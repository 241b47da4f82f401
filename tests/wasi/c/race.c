/*
 * race.c - check-then-use races. While this runs, run.sh swaps the symlink
 * box/race back and forth between "inner" (a directory inside the box) and
 * "../outdir" (outside it) as fast as the host can. The guest opens
 * race/passwd for reading and for writing, over and over, for argv[1]
 * milliseconds. An engine that checks a path and then opens it by name is
 * caught: once in a while the check sees "inner" and the open "../outdir".
 * Prints how often the secret was read (must be 0); run.sh checks that
 * outdir/passwd was never written.
 */
#include <stdbool.h>

#include "common.h"

#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK)
#define R_WRITE (__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK)

static uint64_t now_ms(void) {
    __wasi_timestamp_t t;
    REQUIRE(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t) == 0);
    return t / 1000000;
}

int main(int argc, char **argv) {
    int box = preopen_fd("/sandbox");
    REQUIRE(box >= 0 && argc == 2);
    uint64_t end = now_ms() + (uint64_t)atoi(argv[1]);
    long attempts = 0, inside = 0, refused = 0, other = 0, escaped = 0;
    while (now_ms() < end) {
        __wasi_fd_t fd;
        bool write = attempts++ & 1;
        __wasi_errno_t e =
            __wasi_path_open(box, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "race/passwd",
                             write ? __WASI_OFLAGS_TRUNC : 0, write ? R_WRITE : R_READ, 0, 0, &fd);
        if (e == __WASI_ERRNO_NOTCAPABLE) {
            refused++;
            continue;
        }
        if (e != 0) { /* ENOENT while the host swaps the link */
            other++;
            continue;
        }
        char buf[16] = {0};
        if (write) {
            __wasi_ciovec_t iov = {(const uint8_t *)"inner\n", 6};
            __wasi_size_t n;
            (void)__wasi_fd_write(fd, &iov, 1, &n);
            inside++;
        } else {
            __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
            __wasi_size_t n = 0;
            (void)__wasi_fd_read(fd, &iov, 1, &n);
            if (strncmp(buf, "SECRET", 6) == 0)
                escaped++;
            else
                inside++;
        }
        (void)__wasi_fd_close(fd);
    }
    printf("race: secret read %ld times\n", escaped);
    printf("race: opened inside and refused outside both seen: %s\n",
           inside > 0 && refused > 0 ? "yes" : "no");
    fprintf(stderr, "race: %ld attempts, %ld inside, %ld refused, %ld other, %ld escaped\n",
            attempts, inside, refused, other, escaped);
    return 0;
}
