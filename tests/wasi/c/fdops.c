/*
 * fdops.c - the descriptor calls the other guests do not reach through
 * wasi-libc: fd_fdstat_get/set_flags, fd_filestat_get/set_times,
 * path_filestat_set_times, fd_advise, fd_allocate, fd_tell, fd_renumber,
 * fd_sync/datasync, fd_readdir with a cookie, sched_yield. Run with
 * --dir HOST::/sandbox on an empty directory.
 */
#include "common.h"

#define R_FILE                                                                                     \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |                      \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_ADVISE |             \
     __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS |                               \
     __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE |                    \
     __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_DATASYNC)

static void put(__wasi_fd_t fd, const char *s) {
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    __wasi_size_t n;
    REQUIRE(__wasi_fd_write(fd, &iov, 1, &n) == 0 && n == strlen(s));
}

int main(void) {
    int dir = preopen_fd("/sandbox");
    REQUIRE(dir >= 0);
    __wasi_fdstat_t fs;
    REQUIRE(__wasi_fd_fdstat_get(dir, &fs) == 0);
    printf("preopen: filetype=%d\n", fs.fs_filetype);
    __wasi_prestat_t ps;
    REQUIRE(__wasi_fd_prestat_get(dir, &ps) == 0);
    printf("prestat: tag=%d name length=%u\n", ps.tag, (unsigned)ps.u.dir.pr_name_len);

    __wasi_fd_t fd;
    REQUIRE(__wasi_path_open(dir, 0, "f.txt", __WASI_OFLAGS_CREAT, R_FILE, 0, 0, &fd) == 0);
    REQUIRE(__wasi_fd_fdstat_get(fd, &fs) == 0);
    printf("file: filetype=%d flags=%d has FD_WRITE=%d\n", fs.fs_filetype, fs.fs_flags,
           !!(fs.fs_rights_base & __WASI_RIGHTS_FD_WRITE));
    put(fd, "abcdef");
    __wasi_filesize_t pos;
    printf("fd_tell: %s %llu\n", outcome(__wasi_fd_tell(fd, &pos)), (unsigned long long)pos);
    printf("fd_seek to 1: %s\n", outcome(__wasi_fd_seek(fd, 1, __WASI_WHENCE_SET, &pos)));
    REQUIRE(__wasi_fd_tell(fd, &pos) == 0);
    printf("fd_tell: %llu\n", (unsigned long long)pos);

    /* APPEND set later still sends writes to the end. */
    printf("set APPEND: %s\n", outcome(__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND)));
    REQUIRE(__wasi_fd_fdstat_get(fd, &fs) == 0);
    printf("flags now: %d\n", fs.fs_flags);
    put(fd, "XY");
    __wasi_filestat_t st;
    REQUIRE(__wasi_fd_filestat_get(fd, &st) == 0);
    printf("filestat: filetype=%d size=%llu nlink=%llu\n", st.filetype, (unsigned long long)st.size,
           (unsigned long long)st.nlink);
    printf("clear APPEND: %s\n", outcome(__wasi_fd_fdstat_set_flags(fd, 0)));

    printf("fd_advise: %s\n", outcome(__wasi_fd_advise(fd, 0, 8, __WASI_ADVICE_SEQUENTIAL)));
    printf("fd_allocate 0+100: %s\n", outcome(__wasi_fd_allocate(fd, 0, 100)));
    REQUIRE(__wasi_fd_filestat_get(fd, &st) == 0);
    printf("size after allocate: %llu\n", (unsigned long long)st.size);
    printf("fd_filestat_set_size 4: %s\n", outcome(__wasi_fd_filestat_set_size(fd, 4)));
    printf("fd_sync: %s\n", outcome(__wasi_fd_sync(fd)));
    printf("fd_datasync: %s\n", outcome(__wasi_fd_datasync(fd)));

    /* Times: set exact values, read them back; through the fd and by path. */
    const uint64_t t1 = 1000000000ull * 1000000000ull + 123456789ull; /* 2001-09-09 */
    printf("fd_filestat_set_times: %s\n",
           outcome(__wasi_fd_filestat_set_times(fd, t1, t1 + 1000000000ull,
                                                __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM)));
    REQUIRE(__wasi_fd_filestat_get(fd, &st) == 0);
    printf("atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    printf("path_filestat_set_times mtim only: %s\n",
           outcome(__wasi_path_filestat_set_times(dir, 0, "f.txt", 0, t1 + 5000000000ull,
                                                  __WASI_FSTFLAGS_MTIM)));
    REQUIRE(__wasi_path_filestat_get(dir, 0, "f.txt", &st) == 0);
    printf("atim=%llu mtim=%llu\n", (unsigned long long)st.atim, (unsigned long long)st.mtim);
    printf("set times with both ATIM and ATIM_NOW: %s\n",
           outcome(__wasi_fd_filestat_set_times(fd, t1, 0,
                                                __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW)));

    /* fd_renumber moves a descriptor onto another number. */
    __wasi_fd_t other;
    REQUIRE(__wasi_path_open(dir, 0, "g.txt", __WASI_OFLAGS_CREAT, R_FILE, 0, 0, &other) == 0);
    put(other, "other");
    printf("fd_renumber f -> g: %s\n", outcome(__wasi_fd_renumber(fd, other)));
    printf("old number closed: %s\n", outcome(__wasi_fd_fdstat_get(fd, &fs)));
    REQUIRE(__wasi_fd_filestat_get(other, &st) == 0);
    printf("new number is f.txt: size=%llu\n", (unsigned long long)st.size);
    printf("fd_renumber from a closed fd: %s\n", outcome(__wasi_fd_renumber(fd, other)));
    printf("fd_close: %s\n", outcome(__wasi_fd_close(other)));

    /* fd_readdir: the whole listing, then again from the cookie after its
     * second entry; and a buffer too small for one entry. */
    uint8_t buf[1024];
    __wasi_size_t used;
    REQUIRE(__wasi_fd_readdir(dir, buf, sizeof buf, 0, &used) == 0);
    int entries = 0, f_seen = 0, g_seen = 0;
    __wasi_dircookie_t second = 0;
    for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used;) {
        __wasi_dirent_t d;
        memcpy(&d, buf + off, sizeof d);
        const char *name = (const char *)buf + off + sizeof d;
        if (d.d_namlen == 5 && memcmp(name, "f.txt", 5) == 0) f_seen = d.d_type == 4;
        if (d.d_namlen == 5 && memcmp(name, "g.txt", 5) == 0) g_seen = 1;
        if (++entries == 2) second = d.d_next;
        off += sizeof d + d.d_namlen;
    }
    printf("readdir: f.txt listed as a regular file: %d, g.txt listed: %d\n", f_seen, g_seen);
    REQUIRE(__wasi_fd_readdir(dir, buf, sizeof buf, second, &used) == 0);
    int rest = 0;
    for (size_t off = 0; off + sizeof(__wasi_dirent_t) <= used; rest++) {
        __wasi_dirent_t d;
        memcpy(&d, buf + off, sizeof d);
        off += sizeof d + d.d_namlen;
    }
    printf("readdir from the cookie after entry 2 lists the rest: %d\n", rest == entries - 2);
    REQUIRE(__wasi_fd_readdir(dir, buf, 10, 0, &used) == 0);
    printf("readdir into 10 bytes: filled %u\n", (unsigned)used);

    printf("sched_yield: %s\n", outcome(__wasi_sched_yield()));
    printf("fd_close of a preopen then use: %s", outcome(__wasi_fd_close(dir)));
    printf(", %s\n", outcome(__wasi_fd_fdstat_get(dir, &fs)));
    return 0;
}
