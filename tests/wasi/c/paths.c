/*
 * paths.c - the path resolver's edge cases, through the raw path_open
 * import (pointer + length, so a NUL inside a path reaches the engine).
 * Run with --dir CASE/box::/sandbox; run.sh builds:
 *
 *   box/data.txt, box/sub/
 *   box/inner     -> sub/../data.txt        (.. inside a link, staying in)
 *   box/s0 -> s1 -> ... -> s9 -> data.txt   (10 links: fine)
 *   box/c0 -> c1 -> ... -> c44 -> c45       (45 links: ELOOP)
 *   box/link_proc -> /proc/self/root        (a "magic" link out)
 *   box/link_dev  -> /dev/zero
 */
#include <stdint.h>

#include "common.h"

__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t
raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
              int64_t rights, int64_t inheriting, int32_t fdflags, int32_t result);

#define R (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_PATH_OPEN)

static int sandbox;

static void try(const char *label, const char *path, size_t len, int oflags) {
    __wasi_fd_t fd = 0;
    int e = raw_path_open(sandbox, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, (int32_t)(uintptr_t)path,
                          (int32_t)len, oflags, R, R, 0, (int32_t)(uintptr_t)&fd);
    printf("%s: %s\n", label, outcome(e));
    if (e == 0) (void)__wasi_fd_close(fd);
}

int main(void) {
    sandbox = preopen_fd("/sandbox");
    REQUIRE(sandbox >= 0);
    try("data.txt", "data.txt", 8, 0);
    try("data.txt/ (trailing slash on a file)", "data.txt/", 9, 0);
    try("sub/ (trailing slash on a directory)", "sub/", 4, __WASI_OFLAGS_DIRECTORY);
    try(". (the preopen itself)", ".", 1, __WASI_OFLAGS_DIRECTORY);
    try("sub/.. (back to the preopen)", "sub/..", 6, __WASI_OFLAGS_DIRECTORY);
    try("sub/../.. (one above)", "sub/../..", 9, __WASI_OFLAGS_DIRECTORY);
    try("sub//..//./data.txt", "sub//..//./data.txt", 19, 0);
    try("empty path", "", 0, 0);
    try("NUL inside: data.txt\\0../../secret", "data.txt\0../../secret", 22, 0);
    try("NUL alone", "\0", 1, 0);
    static char name[300];
    memset(name, 'n', sizeof name);
    try("a 300-byte component", name, sizeof name, 0);
    static char longp[5000];
    for (size_t i = 0; i + 1 < sizeof longp; i += 2)
        longp[i] = '.', longp[i + 1] = '/';
    try("a 5000-byte path of ./", longp, sizeof longp, __WASI_OFLAGS_DIRECTORY);
    try("inner (-> sub/../data.txt)", "inner", 5, 0);
    try("s0 (10 links to data.txt)", "s0", 2, 0);
    try("c0 (45 links)", "c0", 2, 0);
    try("link_proc/etc/passwd (-> /proc/self/root)", "link_proc/etc/passwd", 20, 0);
    try("link_dev (-> /dev/zero)", "link_dev", 8, 0);
    return 0;
}
