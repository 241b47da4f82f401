/*
 * reopen.c - a preopened directory opened again through itself (issue 16),
 * as a Rust program with the `wasi` crate does it:
 *
 *   st = fd_fdstat_get(preopen)
 *   path_open(preopen, 0, ".", 0, st.fs_rights_base, st.fs_rights_inheriting, 0)  Ok
 *   path_open(preopen, 0, ".", 0, 0, 0, 0)                                         Ok
 *   path_open(preopen, 0, ".", OFLAGS_DIRECTORY, 0, 0, 0)                          Ok
 *   path_open(preopen, 0, ".", OFLAGS_DIRECTORY, FD_READ | FD_WRITE, 0, 0)         EISDIR
 *
 * A directory is never opened for writing: with write rights it is EISDIR,
 * as open(2) answers for O_DIRECTORY with O_WRONLY or O_RDWR, and as
 * wasmtime answers; the rights a directory reports must thus be ones that
 * do not ask for writing, or the first call could not work. The same four
 * calls give the same answers under a read-only grant (Linux also answers
 * EISDIR, not EROFS, for a directory opened to write on a read-only mount).
 *
 * Run with --dir CASE/box::GUEST and GUEST as the only argument. run.sh
 * builds CASE/box/data.txt ("data\n"). Each descriptor that opens is also
 * used: a file is opened and read through it, and its entries are listed.
 */
#include <stdbool.h>

#include "common.h"

#define R_READ_WRITE (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE)
#define R_FILE_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK)

/* Reads data.txt through directory fd `dir` and counts its entries. */
static void use_dir(const char *label, __wasi_fd_t dir) {
    __wasi_fd_t f;
    __wasi_errno_t e = __wasi_path_open(dir, 0, "data.txt", 0, R_FILE_READ, 0, 0, &f);
    char buf[16] = {0};
    size_t n = 0;
    if (e == 0) {
        __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf - 1};
        e = __wasi_fd_read(f, &iov, 1, &n);
        (void)__wasi_fd_close(f);
    }
    printf("  %s: data.txt through it: %s", label, outcome(e));
    if (e == 0) printf(" \"%.*s\"", (int)(n && buf[n - 1] == '\n' ? n - 1 : n), buf);
    uint8_t dirbuf[1024];
    size_t used = 0;
    e = __wasi_fd_readdir(dir, dirbuf, sizeof dirbuf, 0, &used);
    int entries = 0;
    for (size_t off = 0; e == 0 && off + sizeof(__wasi_dirent_t) <= used;) {
        __wasi_dirent_t d;
        memcpy(&d, dirbuf + off, sizeof d);
        const char *name = (const char *)dirbuf + off + sizeof d;
        /* "." and ".." are not counted: Node's readdir leaves them out. */
        bool dots = (d.d_namlen == 1 && name[0] == '.') ||
                    (d.d_namlen == 2 && name[0] == '.' && name[1] == '.');
        entries += !dots;
        off += sizeof d + d.d_namlen;
    }
    printf("; readdir: %s", outcome(e));
    if (e == 0) printf(", %d entries", entries);
    printf("\n");
}

static void reopen(const char *label, __wasi_fd_t pre, __wasi_oflags_t of, __wasi_rights_t base,
                   __wasi_rights_t inheriting) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(pre, 0, ".", of, base, inheriting, 0, &fd);
    printf("%s: %s\n", label, outcome(e));
    if (e != 0) return;
    __wasi_fdstat_t st;
    e = __wasi_fd_fdstat_get(fd, &st);
    printf("  filetype %s\n", e                                             ? outcome(e)
                              : st.fs_filetype == __WASI_FILETYPE_DIRECTORY ? "directory"
                                                                            : "not a directory");
    use_dir(label, fd);
    (void)__wasi_fd_close(fd);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    int pre = preopen_fd(argv[1]);
    REQUIRE(pre >= 0);
    __wasi_fdstat_t st;
    REQUIRE(__wasi_fd_fdstat_get(pre, &st) == 0);
    reopen("own rights", pre, 0, st.fs_rights_base, st.fs_rights_inheriting);
    reopen("no rights", pre, 0, 0, 0);
    reopen("directory, no rights", pre, __WASI_OFLAGS_DIRECTORY, 0, 0);
    reopen("directory, read+write", pre, __WASI_OFLAGS_DIRECTORY, R_READ_WRITE, 0);
    /* The same without the directory flag: the kernel's answer too. */
    reopen("read+write", pre, 0, R_READ_WRITE, 0);
    /* A file is not a directory, whatever rights are asked; the answers
     * to opening a file for writing come in the kernel's order: a missing
     * file, then (under a read-only grant only) EROFS. */
    struct {
        const char *label, *path;
        __wasi_oflags_t of;
        __wasi_rights_t rights;
    } files[] = {
        {"data.txt as a directory", "data.txt", __WASI_OFLAGS_DIRECTORY, 0},
        {"data.txt as a directory, read+write", "data.txt", __WASI_OFLAGS_DIRECTORY, R_READ_WRITE},
        {"missing.txt, read+write", "missing.txt", 0, R_READ_WRITE},
        {"missing/ as a directory, read+write", "missing", __WASI_OFLAGS_DIRECTORY, R_READ_WRITE},
        {"data.txt, read+write", "data.txt", 0, R_READ_WRITE},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        __wasi_fd_t fd;
        __wasi_errno_t e =
            __wasi_path_open(pre, 0, files[i].path, files[i].of, files[i].rights, 0, 0, &fd);
        printf("%s: %s\n", files[i].label, outcome(e));
        if (e == 0) (void)__wasi_fd_close(fd);
    }
    return 0;
}
