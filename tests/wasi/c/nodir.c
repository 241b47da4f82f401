/*
 * nodir.c - a module given no --dir at all sees no file system: wasi-libc
 * finds no preopen, and the raw calls find no descriptor past stdio.
 * run.sh puts data.txt in wasp's working directory and checks afterwards
 * that it is untouched.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

int main(void) {
    __wasi_prestat_t ps;
    printf("prestat fd 3: %s\n", outcome(__wasi_fd_prestat_get(3, &ps)));
    int open_fds = 0;
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_fdstat_t st;
        if (__wasi_fd_fdstat_get(fd, &st) == 0) open_fds++;
    }
    printf("descriptors 3..63 that exist: %d\n", open_fds);

    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(3, 0, "data.txt", 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("path_open on fd 3: %s\n", outcome(e));
    e = __wasi_path_open(3, 0, "data.txt", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd);
    printf("path_open TRUNC on fd 3: %s\n", outcome(e));
    printf("mkdir on fd 3: %s\n", outcome(__wasi_path_create_directory(3, "newdir")));
    printf("unlink on fd 3: %s\n", outcome(__wasi_path_unlink_file(3, "data.txt")));

    /* Through wasi-libc, which refuses before asking the engine. */
    printf("open data.txt: %s\n", outcome(open("data.txt", O_RDONLY) < 0 ? errno : 0));
    printf("open ./data.txt for writing: %s\n",
           outcome(open("./data.txt", O_WRONLY | O_TRUNC) < 0 ? errno : 0));
    printf("open /etc/passwd: %s\n", outcome(open("/etc/passwd", O_RDONLY) < 0 ? errno : 0));
    struct stat st;
    printf("stat /: %s\n", outcome(stat("/", &st) < 0 ? errno : 0));
    return 0;
}
