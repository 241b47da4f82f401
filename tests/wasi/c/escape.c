/*
 * escape.c - every way out of a preopened directory we know of, tried
 * through the raw WASI calls (not wasi-libc's path handling, which would
 * refuse some of them before the engine sees them). Run with
 * --dir CASE/box::/sandbox; run.sh builds this tree on the host first:
 *
 *   CASE/secret.txt          "TOP SECRET\n"   (must stay as it is)
 *   CASE/outside/            an empty directory (must stay)
 *   CASE/outside_link        -> secret.txt
 *   CASE/box/data.txt        "data\n"
 *   CASE/box/sub/            an empty directory
 *   CASE/box/link_etc        -> /etc
 *   CASE/box/link_up         -> ..
 *   CASE/box/link_upup       -> ../..
 *   CASE/box/link_secret     -> ../secret.txt
 *   CASE/box/link_abs_secret -> CASE/secret.txt (an absolute host path)
 *   CASE/box/chain1          -> chain2 -> ../secret.txt
 *   CASE/box/loop1           -> loop2 -> loop1
 *
 * Each attempt prints "escape LABEL: refused errno=N (NAME)" or
 * "escape LABEL: ALLOWED"; run.sh expects ENOTCAPABLE for every escape and
 * then checks on the host that nothing outside box/ changed. Lines starting
 * "control" are legitimate operations inside the box that must still work.
 */
#include "common.h"

#define R_FILE_READ                                                                                \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |                       \
     __WASI_RIGHTS_FD_FILESTAT_GET)
#define R_FILE_WRITE (R_FILE_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE)
#define R_DIR                                                                                      \
    (__WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_FILESTAT_GET |        \
     __WASI_RIGHTS_FD_FILESTAT_GET)
#define FOLLOW __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW

static int sandbox;

static void report(const char *label, __wasi_errno_t e) {
    if (e == 0)
        printf("escape %s: ALLOWED\n", label);
    else
        printf("escape %s: refused %s\n", label, outcome(e));
}

static void control(const char *label, __wasi_errno_t e) {
    printf("control %s: %s\n", label, outcome(e));
}

/* Opens `path` beneath `dir`; on success closes the fd again. */
static __wasi_errno_t try_open(int dir, __wasi_lookupflags_t lf, const char *path,
                               __wasi_oflags_t of, __wasi_rights_t rights) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(dir, lf, path, of, rights, rights, 0, &fd);
    if (e == 0) (void)__wasi_fd_close(fd);
    return e;
}

/* A symlink the guest makes itself, pointing out: creating it may be refused
 * or allowed (a symlink is only text), but following it must be refused. */
static void own_symlink(const char *label, const char *target, const char *name) {
    __wasi_errno_t e = __wasi_path_symlink(target, sandbox, name);
    if (e != 0) {
        printf("escape %s: refused\n", label);
        fprintf(stderr, "  (%s: refused when created, %s)\n", label, outcome(e));
        return;
    }
    e = try_open(sandbox, FOLLOW, name, 0, R_FILE_READ);
    __wasi_errno_t e2 = try_open(sandbox, FOLLOW, name, __WASI_OFLAGS_TRUNC, R_FILE_WRITE);
    if (e == __WASI_ERRNO_NOTCAPABLE && e2 == __WASI_ERRNO_NOTCAPABLE) {
        printf("escape %s: refused\n", label);
        fprintf(stderr, "  (%s: created, refused when followed)\n", label);
    } else {
        printf("escape %s: NOT refused as expected: read %s,", label, outcome(e));
        printf(" truncate %s\n", outcome(e2));
    }
    (void)__wasi_path_unlink_file(sandbox, name);
}

int main(void) {
    sandbox = preopen_fd("/sandbox");
    REQUIRE(sandbox >= 0);

    control("open data.txt", try_open(sandbox, 0, "data.txt", 0, R_FILE_READ));
    control("open sub/../data.txt", try_open(sandbox, 0, "sub/../data.txt", 0, R_FILE_READ));
    control("open ./sub/./", try_open(sandbox, 0, "./sub/./", __WASI_OFLAGS_DIRECTORY, R_DIR));

    /* Reading out. */
    report("open ../secret.txt", try_open(sandbox, 0, "../secret.txt", 0, R_FILE_READ));
    report("open sub/../../secret.txt",
           try_open(sandbox, 0, "sub/../../secret.txt", 0, R_FILE_READ));
    report("open sub/../link_up/secret.txt",
           try_open(sandbox, FOLLOW, "sub/../link_up/secret.txt", 0, R_FILE_READ));
    report("open .. as directory", try_open(sandbox, 0, "..", __WASI_OFLAGS_DIRECTORY, R_DIR));
    report("open absolute /etc/passwd", try_open(sandbox, 0, "/etc/passwd", 0, R_FILE_READ));
    report("open absolute /etc as directory",
           try_open(sandbox, 0, "/etc", __WASI_OFLAGS_DIRECTORY, R_DIR));
    report("open absolute /sandbox/data.txt",
           try_open(sandbox, 0, "/sandbox/data.txt", 0, R_FILE_READ));
    report("open link_etc/passwd (symlink to /etc)",
           try_open(sandbox, FOLLOW, "link_etc/passwd", 0, R_FILE_READ));
    report("open link_etc/passwd without FOLLOW",
           try_open(sandbox, 0, "link_etc/passwd", 0, R_FILE_READ));
    report("open link_etc as directory",
           try_open(sandbox, FOLLOW, "link_etc", __WASI_OFLAGS_DIRECTORY, R_DIR));
    report("open link_up/secret.txt (symlink to ..)",
           try_open(sandbox, FOLLOW, "link_up/secret.txt", 0, R_FILE_READ));
    report("open link_upup as directory (symlink to ../..)",
           try_open(sandbox, FOLLOW, "link_upup", __WASI_OFLAGS_DIRECTORY, R_DIR));
    report("open link_secret (symlink to ../secret.txt)",
           try_open(sandbox, FOLLOW, "link_secret", 0, R_FILE_READ));
    report("open link_abs_secret (absolute symlink)",
           try_open(sandbox, FOLLOW, "link_abs_secret", 0, R_FILE_READ));
    report("open chain1 (chain of symlinks out)",
           try_open(sandbox, FOLLOW, "chain1", 0, R_FILE_READ));

    /* A directory fd below the preopen is no way out either. */
    __wasi_fd_t sub;
    REQUIRE(__wasi_path_open(sandbox, 0, "sub", __WASI_OFLAGS_DIRECTORY, R_DIR, R_DIR | R_FILE_READ,
                             0, &sub) == 0);
    report("open ../../secret.txt from a sub-directory fd",
           try_open(sub, 0, "../../secret.txt", 0, R_FILE_READ));
    (void)__wasi_fd_close(sub);

    /* Writing out. */
    report("truncate ../secret.txt",
           try_open(sandbox, 0, "../secret.txt", __WASI_OFLAGS_TRUNC, R_FILE_WRITE));
    report("truncate link_secret (symlink out)",
           try_open(sandbox, FOLLOW, "link_secret", __WASI_OFLAGS_TRUNC, R_FILE_WRITE));
    report("create ../created.txt",
           try_open(sandbox, 0, "../created.txt", __WASI_OFLAGS_CREAT, R_FILE_WRITE));
    report("create link_up/created.txt",
           try_open(sandbox, FOLLOW, "link_up/created.txt", __WASI_OFLAGS_CREAT, R_FILE_WRITE));
    report("create absolute /tmp/wasp-escape.txt",
           try_open(sandbox, 0, "/tmp/wasp-escape.txt", __WASI_OFLAGS_CREAT, R_FILE_WRITE));

    /* Looking out. */
    __wasi_filestat_t st;
    report("stat ../secret.txt", __wasi_path_filestat_get(sandbox, 0, "../secret.txt", &st));
    report("stat link_secret following it",
           __wasi_path_filestat_get(sandbox, FOLLOW, "link_secret", &st));
    report("stat absolute /etc/passwd", __wasi_path_filestat_get(sandbox, 0, "/etc/passwd", &st));
    __wasi_errno_t e = __wasi_path_filestat_get(sandbox, 0, "link_secret", &st);
    printf("control stat link_secret itself: %s filetype=%d\n", outcome(e), st.filetype);
    report("set times of ../secret.txt",
           __wasi_path_filestat_set_times(sandbox, 0, "../secret.txt", 0, 0,
                                          __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    report("set times through link_secret",
           __wasi_path_filestat_set_times(sandbox, FOLLOW, "link_secret", 0, 0,
                                          __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    uint8_t buf[64];
    __wasi_size_t n = 0;
    report("readlink ../outside_link",
           __wasi_path_readlink(sandbox, "../outside_link", buf, sizeof buf, &n));
    e = __wasi_path_readlink(sandbox, "link_secret", buf, sizeof buf, &n);
    printf("control readlink link_secret: %s \"%.*s\"\n", outcome(e), e ? 0 : (int)n, buf);

    /* Making and removing things outside. */
    report("mkdir ../newdir", __wasi_path_create_directory(sandbox, "../newdir"));
    report("mkdir link_up/newdir", __wasi_path_create_directory(sandbox, "link_up/newdir"));
    report("mkdir absolute /tmp/wasp-escape-dir",
           __wasi_path_create_directory(sandbox, "/tmp/wasp-escape-dir"));
    report("rmdir ../outside", __wasi_path_remove_directory(sandbox, "../outside"));
    report("rmdir link_up/outside", __wasi_path_remove_directory(sandbox, "link_up/outside"));
    report("unlink ../secret.txt", __wasi_path_unlink_file(sandbox, "../secret.txt"));
    report("unlink link_up/secret.txt", __wasi_path_unlink_file(sandbox, "link_up/secret.txt"));
    report("unlink ../outside_link", __wasi_path_unlink_file(sandbox, "../outside_link"));

    /* Renaming and linking across the boundary. */
    report("rename data.txt -> ../moved.txt",
           __wasi_path_rename(sandbox, "data.txt", sandbox, "../moved.txt"));
    report("rename data.txt -> link_up/moved.txt",
           __wasi_path_rename(sandbox, "data.txt", sandbox, "link_up/moved.txt"));
    report("rename ../secret.txt -> stolen.txt",
           __wasi_path_rename(sandbox, "../secret.txt", sandbox, "stolen.txt"));
    report("rename sub -> ../sub_out", __wasi_path_rename(sandbox, "sub", sandbox, "../sub_out"));
    report("rename ../outside -> outside_in",
           __wasi_path_rename(sandbox, "../outside", sandbox, "outside_in"));
    report("link ../secret.txt -> hard.txt",
           __wasi_path_link(sandbox, 0, "../secret.txt", sandbox, "hard.txt"));
    report("link following link_secret -> hard2.txt",
           __wasi_path_link(sandbox, FOLLOW, "link_secret", sandbox, "hard2.txt"));
    report("link data.txt -> ../outlink.txt",
           __wasi_path_link(sandbox, 0, "data.txt", sandbox, "../outlink.txt"));
    report("symlink ../evil_link (a new link outside)",
           __wasi_path_symlink("data.txt", sandbox, "../evil_link"));
    own_symlink("own symlink -> ../secret.txt", "../secret.txt", "mine_rel");
    own_symlink("own symlink -> /etc/passwd", "/etc/passwd", "mine_abs");
    own_symlink("own symlink -> sub/../../secret.txt", "sub/../../secret.txt", "mine_sub");

    /* Not escapes, but the resolver must stop. */
    printf("loop1 (symlink loop): %s\n",
           outcome(try_open(sandbox, FOLLOW, "loop1", 0, R_FILE_READ)));
    printf("open link_secret without FOLLOW: %s\n",
           outcome(try_open(sandbox, 0, "link_secret", 0, R_FILE_READ)));

    /* Removing the link removes the link, not its target. */
    control("unlink link_secret", __wasi_path_unlink_file(sandbox, "link_secret"));
    control("rmdir sub", __wasi_path_remove_directory(sandbox, "sub"));
    return 0;
}
