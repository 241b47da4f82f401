/*
 * readonly.c - a read-only grant (--dir CASE/robox::/ro:ro) lets the guest
 * read and nothing else. Also granted: --dir CASE/box::/sandbox (writable),
 * to try moving and linking things across the two. run.sh builds:
 *
 *   CASE/robox/keep.txt      "keep\n"
 *   CASE/robox/keepdir/      an empty directory
 *   CASE/robox/link_keep     -> keep.txt
 *   CASE/box/data.txt        "data\n"
 *
 * and afterwards checks on the host that robox/ is exactly as it was and
 * box/data.txt still there. wasp's contract (src/wasi/path.c, fd.c): a
 * path operation that would write beneath a read-only grant is refused
 * with EROFS (so a program can tell a read-only grant from a path leading
 * out, ENOTCAPABLE); an operation on a descriptor that lacks the right to
 * it is refused with ENOTCAPABLE, the rights model's own answer.
 */
#include "common.h"

#define R_FILE_READ                                                                                \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |                       \
     __WASI_RIGHTS_FD_FILESTAT_GET)
#define R_FILE_WRITE (R_FILE_READ | __WASI_RIGHTS_FD_WRITE)
#define R_DIR                                                                                      \
    (__WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_FILESTAT_GET |        \
     __WASI_RIGHTS_FD_FILESTAT_GET)
#define R_RUST_READ                                                                                \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_ADVISE |                  \
     __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS | __WASI_RIGHTS_FD_FILESTAT_GET |                           \
     __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_SYNC |         \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_POLL_FD_READWRITE)
#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW
#define NOW (__WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW)

static void report(const char *label, __wasi_errno_t e) {
    if (e == 0)
        printf("readonly %s: ALLOWED\n", label);
    else
        printf("readonly %s: refused %s\n", label, outcome(e));
}

static __wasi_errno_t try_open(int dir, __wasi_lookupflags_t lf, const char *path,
                               __wasi_oflags_t of, __wasi_rights_t rights, __wasi_fdflags_t ff) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, lf, path, of, rights, rights, ff, &fd);
    if (e == 0) (void)__wasi_fd_close(fd);
    return e;
}

int main(void) {
    int ro = preopen_fd("/ro");
    int rw = preopen_fd("/sandbox");
    REQUIRE(ro >= 0 && rw >= 0);

    __wasi_fdstat_t fs;
    REQUIRE(__wasi_fd_fdstat_get(ro, &fs) == 0);
    printf("ro preopen: filetype=%d has PATH_CREATE_FILE=%d PATH_OPEN=%d inheriting FD_WRITE=%d\n",
           fs.fs_filetype, !!(fs.fs_rights_base & __WASI_RIGHTS_PATH_CREATE_FILE),
           !!(fs.fs_rights_base & __WASI_RIGHTS_PATH_OPEN),
           !!(fs.fs_rights_inheriting & __WASI_RIGHTS_FD_WRITE));

    /* Reading works. */
    __wasi_fd_t fd;
    REQUIRE(__wasi_path_open(ro, 0, "keep.txt", 0, R_FILE_READ, 0, 0, &fd) == 0);
    char buf[16];
    __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_fd_read(fd, &iov, 1, &n);
    printf("control read keep.txt: %s \"%.*s\"\n", outcome(e), n > 0 ? (int)n - 1 : 0, buf);
    __wasi_filestat_t st;
    e = __wasi_path_filestat_get(ro, 0, "keep.txt", &st);
    printf("control stat keep.txt: %s size=%llu\n", outcome(e), (unsigned long long)st.size);
    printf("control open keepdir: %s\n",
           outcome(try_open(ro, 0, "keepdir", __WASI_OFLAGS_DIRECTORY, R_DIR, 0)));
    printf("control open link_keep: %s\n",
           outcome(try_open(ro, FOLLOW, "link_keep", 0, R_FILE_READ, 0)));
    /* What Rust's std asks for when it opens a file only to read it: rights
     * that do not write the file's data stay harmless here, but the open
     * must work and the rights that would modify it must not be granted. */
    __wasi_fd_t rfd;
    e = __wasi_path_open(ro, 0, "keep.txt", 0, R_RUST_READ, R_RUST_READ, 0, &rfd);
    printf("control open keep.txt with Rust's read rights: %s\n", outcome(e));
    if (e == 0) {
        report("fd_filestat_set_times after Rust's read rights",
               __wasi_fd_filestat_set_times(rfd, 0, 0, NOW));
        (void)__wasi_fd_close(rfd);
    }

    /* Through a descriptor opened for reading. */
    __wasi_ciovec_t ciov = {(const uint8_t *)"X", 1};
    report("fd_write on a read-only file", __wasi_fd_write(fd, &ciov, 1, &n));
    report("fd_pwrite on a read-only file", __wasi_fd_pwrite(fd, &ciov, 1, 0, &n));
    report("fd_filestat_set_size", __wasi_fd_filestat_set_size(fd, 0));
    report("fd_allocate", __wasi_fd_allocate(fd, 0, 100));
    report("fd_filestat_set_times", __wasi_fd_filestat_set_times(fd, 0, 0, NOW));
    report("fd_fdstat_set_rights adding FD_WRITE",
           __wasi_fd_fdstat_set_rights(fd, R_FILE_READ | __WASI_RIGHTS_FD_WRITE, 0));
    report("fd_fdstat_set_flags APPEND", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND));
    (void)__wasi_fd_close(fd);

    /* Through paths. */
    report("open keep.txt for writing", try_open(ro, 0, "keep.txt", 0, R_FILE_WRITE, 0));
    report("open keep.txt for appending",
           try_open(ro, 0, "keep.txt", 0, R_FILE_WRITE, __WASI_FDFLAGS_APPEND));
    report("open keep.txt with TRUNC",
           try_open(ro, 0, "keep.txt", __WASI_OFLAGS_TRUNC, R_FILE_READ, 0));
    report("open link_keep for writing", try_open(ro, FOLLOW, "link_keep", 0, R_FILE_WRITE, 0));
    report("create new.txt", try_open(ro, 0, "new.txt", __WASI_OFLAGS_CREAT, R_FILE_WRITE, 0));
    report("create new.txt read-only",
           try_open(ro, 0, "new.txt", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, R_FILE_READ, 0));
    report("mkdir newdir", __wasi_path_create_directory(ro, "newdir"));
    report("rmdir keepdir", __wasi_path_remove_directory(ro, "keepdir"));
    report("unlink keep.txt", __wasi_path_unlink_file(ro, "keep.txt"));
    report("unlink link_keep", __wasi_path_unlink_file(ro, "link_keep"));
    report("rename keep.txt -> renamed.txt", __wasi_path_rename(ro, "keep.txt", ro, "renamed.txt"));
    report("rename keep.txt -> /sandbox/stolen.txt",
           __wasi_path_rename(ro, "keep.txt", rw, "stolen.txt"));
    report("rename /sandbox/data.txt -> keepdir/in.txt",
           __wasi_path_rename(rw, "data.txt", ro, "keepdir/in.txt"));
    report("link keep.txt -> /sandbox/keep_rw.txt",
           __wasi_path_link(ro, 0, "keep.txt", rw, "keep_rw.txt"));
    report("link /sandbox/data.txt -> data_ro.txt",
           __wasi_path_link(rw, 0, "data.txt", ro, "data_ro.txt"));
    report("link keep.txt -> keep2.txt", __wasi_path_link(ro, 0, "keep.txt", ro, "keep2.txt"));
    report("symlink keep.txt <- sym", __wasi_path_symlink("keep.txt", ro, "sym"));
    report("set times of keep.txt", __wasi_path_filestat_set_times(ro, 0, "keep.txt", 0, 0, NOW));

    /* A directory opened below a read-only grant is read-only too. */
    __wasi_fd_t sub;
    REQUIRE(__wasi_path_open(ro, 0, "keepdir", __WASI_OFLAGS_DIRECTORY, R_DIR, R_FILE_READ, 0,
                             &sub) == 0);
    report("create keepdir/x.txt through a sub-directory fd",
           try_open(sub, 0, "x.txt", __WASI_OFLAGS_CREAT, R_FILE_WRITE, 0));
    report("mkdir keepdir/d through a sub-directory fd", __wasi_path_create_directory(sub, "d"));
    (void)__wasi_fd_close(sub);
    return 0;
}
