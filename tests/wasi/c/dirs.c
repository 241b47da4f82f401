/*
 * dirs.c - directories through wasi-libc: mkdir, readdir (a listing sorted
 * here, since the order of entries is the host's), rmdir, rename, unlink,
 * symlink + readlink, hard links. Run with --dir HOST::/sandbox on an empty
 * directory; leaves sandbox/final/ behind for run.sh to check on the host.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "." and ".." are left out of every listing and count: POSIX and most
 * runtimes return them, Node's uvwasi does not, and neither is wrong. */
static int dot(const char *name) {
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Prints "list DIR: name/ name@ name ..." sorted; / marks directories and
 * @ symlinks, as d_type reports them. */
static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        printf("list %s: %s\n", dir, outcome(errno));
        return;
    }
    char *names[64] = {0};
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (dot(e->d_name)) continue;
        char *s = malloc(strlen(e->d_name) + 2);
        strcpy(s, e->d_name);
        if (e->d_type == DT_DIR) strcat(s, "/");
        if (e->d_type == DT_LNK) strcat(s, "@");
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("list %s:", dir);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void touch(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void cat(const char *path) {
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("cat %s: %s\n", path, outcome(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    printf("cat %s: \"%s\"\n", path, buf);
}

#define TRY(label, call) printf("%s: %s\n", label, outcome((call) < 0 ? errno : 0))

int main(void) {
    struct stat st;

    list("/sandbox");
    TRY("mkdir a", mkdir("/sandbox/a", 0755));
    TRY("mkdir a again", mkdir("/sandbox/a", 0755));
    TRY("mkdir a/b/c (no parent)", mkdir("/sandbox/a/b/c", 0755));
    TRY("mkdir a/b", mkdir("/sandbox/a/b", 0755));
    touch("/sandbox/a/one.txt", "one\n");
    touch("/sandbox/a/two.txt", "two\n");
    touch("/sandbox/a/b/deep.txt", "deep\n");
    list("/sandbox");
    list("/sandbox/a");
    list("/sandbox/a/b");
    list("/sandbox/nope");

    /* Many entries (about 7 KB of dirents, more than wasi-libc's 4 KB
     * buffer): fd_readdir must be called again from a cookie. */
    TRY("mkdir many", mkdir("/sandbox/many", 0755));
    for (int i = 0; i < 100; i++) {
        char p[128];
        snprintf(p, sizeof p, "/sandbox/many/entry-with-a-rather-long-name-to-fill-the-buffer-%03d",
                 i);
        touch(p, "");
    }
    DIR *d = opendir("/sandbox/many");
    REQUIRE(d != NULL);
    int count = 0, distinct = 0;
    char seen[100] = {0};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (dot(e->d_name)) continue;
        count++;
        int i = atoi(e->d_name + strlen(e->d_name) - 3);
        if (i >= 0 && i < 100 && !seen[i]) seen[i] = 1, distinct++;
    }
    printf("many: %d entries, %d distinct\n", count, distinct);
    rewinddir(d);
    count = 0;
    while ((e = readdir(d)) != NULL)
        count += !dot(e->d_name);
    printf("many after rewind: %d entries\n", count);
    closedir(d);

    /* rmdir: only empty directories. */
    TRY("rmdir a (not empty)", rmdir("/sandbox/a"));
    TRY("rmdir a/one.txt (a file)", rmdir("/sandbox/a/one.txt"));
    TRY("unlink a/b (a directory)", unlink("/sandbox/a/b"));
    TRY("unlink a/b/deep.txt", unlink("/sandbox/a/b/deep.txt"));
    TRY("unlink a/b/deep.txt again", unlink("/sandbox/a/b/deep.txt"));
    TRY("rmdir a/b", rmdir("/sandbox/a/b"));
    TRY("rmdir a/b again", rmdir("/sandbox/a/b"));
    list("/sandbox/a");

    /* rename: files, over an existing file, directories. */
    TRY("rename a/one.txt -> a/uno.txt", rename("/sandbox/a/one.txt", "/sandbox/a/uno.txt"));
    TRY("rename a/two.txt -> a/uno.txt (replaces)",
        rename("/sandbox/a/two.txt", "/sandbox/a/uno.txt"));
    cat("/sandbox/a/uno.txt");
    TRY("rename missing", rename("/sandbox/a/nope", "/sandbox/a/x"));
    TRY("rename a -> final", rename("/sandbox/a", "/sandbox/final"));
    TRY("mkdir final/sub", mkdir("/sandbox/final/sub", 0755));
    TRY("rename final/uno.txt -> final/sub/moved.txt",
        rename("/sandbox/final/uno.txt", "/sandbox/final/sub/moved.txt"));
    list("/sandbox/final");
    list("/sandbox/final/sub");

    /* Symbolic links: create, read back, follow, lstat, unlink. */
    TRY("symlink sub/moved.txt <- final/link", symlink("sub/moved.txt", "/sandbox/final/link"));
    TRY("symlink again (exists)", symlink("sub/moved.txt", "/sandbox/final/link"));
    char target[64];
    ssize_t n = readlink("/sandbox/final/link", target, sizeof target);
    printf("readlink final/link: %zd \"%.*s\"\n", n, n > 0 ? (int)n : 0, target);
    TRY("readlink of a file", readlink("/sandbox/final/sub/moved.txt", target, sizeof target));
    cat("/sandbox/final/link");
    REQUIRE(lstat("/sandbox/final/link", &st) == 0);
    printf("lstat link: symlink=%d\n", S_ISLNK(st.st_mode));
    REQUIRE(stat("/sandbox/final/link", &st) == 0);
    printf("stat link: regular=%d\n", S_ISREG(st.st_mode));
    TRY("symlink dangling", symlink("nowhere", "/sandbox/final/dangling"));
    cat("/sandbox/final/dangling");
    TRY("symlink to dir sub <- final/sublink", symlink("sub", "/sandbox/final/sublink"));
    cat("/sandbox/final/sublink/moved.txt");
    list("/sandbox/final");
    TRY("unlink dangling", unlink("/sandbox/final/dangling"));

    /* Hard links share the inode and count it. */
    TRY("link sub/moved.txt -> final/hard.txt",
        link("/sandbox/final/sub/moved.txt", "/sandbox/final/hard.txt"));
    TRY("link onto existing", link("/sandbox/final/sub/moved.txt", "/sandbox/final/hard.txt"));
    REQUIRE(stat("/sandbox/final/hard.txt", &st) == 0);
    printf("hard.txt nlink=%lld\n", (long long)st.st_nlink);
    struct stat st2;
    REQUIRE(stat("/sandbox/final/sub/moved.txt", &st2) == 0);
    printf("same inode: %d\n", st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);
    TRY("unlink sub/moved.txt", unlink("/sandbox/final/sub/moved.txt"));
    REQUIRE(stat("/sandbox/final/hard.txt", &st) == 0);
    printf("hard.txt nlink after unlink=%lld\n", (long long)st.st_nlink);
    cat("/sandbox/final/hard.txt");
    cat("/sandbox/final/link");
    list("/sandbox/final");
    return 0;
}
