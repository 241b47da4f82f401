/*
 * files.c - regular files through wasi-libc: create, write, read, seek,
 * tell, truncate, stat, append, pread, pwrite, O_EXCL, sync. Run with
 * --dir HOST::/sandbox; the host holds sandbox/data.txt = "hello\n".
 * Leaves sandbox/out.txt behind for run.sh to check on the host.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static void show(const char *what, const char *buf, ssize_t n) {
    printf("%s: %zd \"", what, n);
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            printf("\\n");
        else if (buf[i] == '\0')
            printf("\\0");
        else
            putchar(buf[i]);
    }
    printf("\"\n");
}

int main(void) {
    char buf[64];
    struct stat st;

    /* A file the host made. */
    int fd = open("/sandbox/data.txt", O_RDONLY);
    REQUIRE(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf);
    show("read data.txt", buf, n);
    REQUIRE(fstat(fd, &st) == 0);
    printf("data.txt: size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    printf("write to read-only fd: %s\n", outcome(write(fd, "x", 1) < 0 ? errno : 0));
    close(fd);

    /* Create, write, seek, read back. */
    fd = open("/sandbox/out.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    n = write(fd, "0123456789", 10);
    printf("write: %zd\n", n);
    printf("tell: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("seek set 2: %lld\n", (long long)lseek(fd, 2, SEEK_SET));
    n = read(fd, buf, 3);
    show("read 3", buf, n);
    printf("seek cur -1: %lld\n", (long long)lseek(fd, -1, SEEK_CUR));
    printf("seek end -2: %lld\n", (long long)lseek(fd, -2, SEEK_END));
    n = read(fd, buf, sizeof buf);
    show("read to end", buf, n);
    n = read(fd, buf, sizeof buf);
    printf("read at eof: %zd\n", n);
    printf("seek negative: %s\n", outcome(lseek(fd, -100, SEEK_SET) < 0 ? errno : 0));

    /* Positional I/O leaves the offset alone. */
    n = pwrite(fd, "AB", 2, 4);
    printf("pwrite at 4: %zd\n", n);
    n = pread(fd, buf, 6, 2);
    show("pread 6 at 2", buf, n);
    printf("tell after pread/pwrite: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    n = pwrite(fd, "Z", 1, 12);
    printf("pwrite past end: %zd\n", n);
    REQUIRE(fstat(fd, &st) == 0);
    printf("size after pwrite past end: %lld\n", (long long)st.st_size);
    n = pread(fd, buf, sizeof buf, 9);
    printf("pread hole: %zd bytes, [10]=%d [11]=%d [12]=%c\n", n, buf[1], buf[2], buf[3]);

    /* Truncate down and up. */
    printf("ftruncate 5: %s\n", outcome(ftruncate(fd, 5) < 0 ? errno : 0));
    REQUIRE(fstat(fd, &st) == 0);
    printf("size: %lld\n", (long long)st.st_size);
    printf("ftruncate 8: %s\n", outcome(ftruncate(fd, 8) < 0 ? errno : 0));
    n = pread(fd, buf, sizeof buf, 0);
    printf("pread all: %zd bytes, [5]=%d [7]=%d\n", n, buf[5], buf[7]);
    printf("ftruncate 6: %s\n", outcome(ftruncate(fd, 6) < 0 ? errno : 0));
    printf("fsync: %s\n", outcome(fsync(fd) < 0 ? errno : 0));
    printf("fdatasync: %s\n", outcome(fdatasync(fd) < 0 ? errno : 0));
    close(fd);

    /* Append: every write lands at the end, whatever the offset. */
    fd = open("/sandbox/out.txt", O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    lseek(fd, 0, SEEK_SET);
    n = write(fd, "+tail\n", 6);
    printf("append: %zd\n", n);
    close(fd);

    /* stat by path. */
    REQUIRE(stat("/sandbox/out.txt", &st) == 0);
    printf("stat out.txt: size=%lld regular=%d nlink=%lld\n", (long long)st.st_size,
           S_ISREG(st.st_mode), (long long)st.st_nlink);
    REQUIRE(stat("/sandbox", &st) == 0);
    printf("stat sandbox: dir=%d\n", S_ISDIR(st.st_mode));
    printf("stat missing: %s\n", outcome(stat("/sandbox/nope", &st) < 0 ? errno : 0));

    fd = open("/sandbox/out.txt", O_RDONLY);
    REQUIRE(fd >= 0);
    n = read(fd, buf, sizeof buf);
    show("out.txt", buf, n);
    close(fd);

    /* Errors a careful program relies on. */
    printf("open missing: %s\n", outcome(open("/sandbox/nope", O_RDONLY) < 0 ? errno : 0));
    printf("create exclusive existing: %s\n",
           outcome(open("/sandbox/out.txt", O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 ? errno : 0));
    printf("open dir as file for writing: %s\n",
           outcome(open("/sandbox", O_WRONLY) < 0 ? errno : 0));
    printf("open file as directory: %s\n",
           outcome(open("/sandbox/out.txt", O_RDONLY | O_DIRECTORY) < 0 ? errno : 0));
    printf("read closed fd: %s\n", outcome(read(fd, buf, 1) < 0 ? errno : 0));
    printf("close closed fd: %s\n", outcome(close(fd) < 0 ? errno : 0));
    return 0;
}
