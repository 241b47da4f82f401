/*
 * path.c - the preview-1 functions that name things by path (path_*) and
 * fd_readdir: every name a guest hands in is resolved beneath one of its
 * directory descriptors, and nothing outside that directory is ever
 * opened, looked up, changed or stat'ed (fd_readdir's ".." entry still
 * carries the parent's inode number, as on every host).
 *
 * The one rule this file must never break, and how it keeps it:
 * - A guest path is relative to a directory descriptor the guest holds (a
 *   preopen or a directory opened beneath one). Absolute paths, `..` that
 *   climbs above that directory, and symlinks whose target is absolute or
 *   climbs above it are refused with WASI_ENOTCAPABLE.
 * - The kernel enforces it, in one atomic lookup per path: openat2(2) with
 *   RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS walks the whole path, symlinks
 *   included, and fails with EXDEV if any step would leave the directory.
 *   No check is ever separate from its use, so renaming directories or
 *   swapping symlinks during a call cannot redirect it.
 * - Functions that act on a name (mkdir, rmdir, unlink, rename, link,
 *   symlink) open the directory holding the last component that way and
 *   then call the *at() syscall on that single component; none of those
 *   follows a final symlink. A last component of "." or ".." is resolved
 *   as a directory first, so no *at() call ever sees "..".
 * - Functions on the object a path names (path_open, path_filestat_get,
 *   path_filestat_set_times, path_readlink) open the object itself with
 *   openat2 (O_PATH when no data is needed), following a final symlink
 *   only when asked, and then work on that descriptor. path_link with
 *   SYMLINK_FOLLOW reads the final symlinks itself and links what they
 *   name, resolved beneath like any other path.
 * - Where openat2 is missing (Linux before 5.6, or a seccomp filter older
 *   than it, which answers ENOSYS or EPERM), walk_beneath() does the same
 *   lookup in user space, one component at a time with O_NOFOLLOW, reading
 *   symlinks itself and going up for `..` only to a directory descriptor it
 *   already holds, never by opening "..".
 *
 * Symlinks the guest makes must not point out either, for the sake of
 * host processes that follow them without any of the above. The rule:
 * a symlink whose target is absolute or has a `..` component "climbs":
 * where it leads depends on where it sits. One without either resolves
 * beneath its own directory wherever that is (through links like itself),
 * so renames cannot make it escape. Hence:
 * - path_symlink refuses a climbing target with WASI_ENOTCAPABLE (the
 *   guest can always write the same link without `..`);
 * - a climbing symlink already there (the host's) may be renamed within
 *   its directory but not moved, or hard-linked, into another one, and a
 *   directory holding one anywhere beneath it may be renamed within its
 *   parent but not moved elsewhere: either would change what its `..`s
 *   climb to (WASI_ENOTCAPABLE; WASI_EXDEV when the tree is too big to
 *   look through, as `mv` then copies);
 * - the check and the rename or link are one step under move_lock, so
 *   that another instance of the guest (another worker) cannot swap a
 *   name between the two.
 * So a guest can neither plant a link to a host path nor move the host's
 * links to where they would lead out; the host's own links lead where
 * the host made them lead.
 *
 * FIFOs: path_open opens with O_NONBLOCK, which the guest's descriptor
 * then loses unless asked for, so opening a FIFO never waits for a peer
 * (opening one for writing without a reader is WASI_ENXIO).
 *
 * Read-only grants: a descriptor from a read-only preopen (and everything
 * opened beneath it, which inherits the flag) refuses every create, write,
 * truncate, rename, link, unlink, removal and time change with RO_ERRNO
 * before the host is touched. We answer WASI_EROFS rather than
 * WASI_ENOTCAPABLE so that a program can tell "this grant is read-only"
 * from "this path leads outside the sandbox".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi/internal.h"

/* The answer to any write beneath a read-only grant (see above). */
#define RO_ERRNO WASI_EROFS

/* The rights that make path_open ask the host for a writable descriptor,
 * as wasmtime and Rust's std bucket them. */
#define R_WRITE_MODE (R_FD_WRITE | R_FD_DATASYNC | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE)
#define R_READ_MODE (R_FD_READ | R_FD_READDIR)

/* lookupflags (u32) */
#define LOOKUP_SYMLINK_FOLLOW 0x1u

/* oflags (u16) */
#define OFLAG_CREAT 0x1u
#define OFLAG_DIRECTORY 0x2u
#define OFLAG_EXCL 0x4u
#define OFLAG_TRUNC 0x8u

/* fdflags (u16) */
#define FDFLAG_APPEND 0x1u
#define FDFLAG_DSYNC 0x2u
#define FDFLAG_NONBLOCK 0x4u
#define FDFLAG_RSYNC 0x8u
#define FDFLAG_SYNC 0x10u
#define FDFLAGS_ALL 0x1fu

/* fstflags (u16) */
#define FST_ATIM 0x1u
#define FST_ATIM_NOW 0x2u
#define FST_MTIM 0x4u
#define FST_MTIM_NOW 0x8u

#define FILESTAT_SIZE 64
#define DIRENT_SIZE 24

/* The longest path a guest may pass (Linux's PATH_MAX, its NUL included). */
#define GUEST_PATH_MAX 4096
/* Symlinks expanded in one lookup before ELOOP, as Linux does. */
#define WALK_MAX_LINKS 40
/* Directories walk_beneath() holds open at once (the depth below the base
 * it can reach); beyond it, WASI_ENAMETOOLONG. */
#define WALK_MAX_DEPTH 512
/* openat2 answers EAGAIN when a rename raced with its `..` checks. */
#define OPENAT2_TRIES 8
/* What move_check() looks through in a directory moved elsewhere before
 * giving up (WASI_EXDEV): entries, and levels below it. */
#define MOVE_SCAN_ENTRIES 10000
#define MOVE_SCAN_DEPTH 64

/* ---- guest input ---------------------------------------------------------- */

/* Copies the guest path [ptr, ptr+len) into buf (GUEST_PATH_MAX + 1 bytes)
 * as a C string. Errors: WASI_ENOENT for an empty path, WASI_ENAMETOOLONG,
 * WASI_EFAULT when outside memory, WASI_EINVAL for an embedded NUL (the
 * host could not see the whole name), WASI_ENOTCAPABLE for an absolute
 * path. */
static uint16_t guest_path(wasm_instance *caller, uint32_t ptr, uint32_t len, char *buf) {
    if (len == 0) return WASI_ENOENT;
    if (len > GUEST_PATH_MAX) return WASI_ENAMETOOLONG;
    const uint8_t *p = wasm_guest_bytes(caller, ptr, len);
    if (!p) return WASI_EFAULT;
    if (memchr(p, 0, len)) return WASI_EINVAL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (buf[0] == '/') return WASI_ENOTCAPABLE;
    return WASI_ESUCCESS;
}

/* The directory descriptor `fd` of the guest, holding `rights`. `writes`:
 * the call changes something beneath it, which a read-only grant refuses.
 * NULL with *err: WASI_EBADF, WASI_ENOTDIR (a file or stdio, as wasmtime
 * answers), RO_ERRNO, WASI_ENOTCAPABLE (missing rights). */
static wasi_fd *dir_get(wasi_ctx *ctx, uint32_t fd, uint64_t rights, bool writes, uint16_t *err) {
    wasi_fd *f = wasi_fd_get(ctx, fd, 0, err);
    if (!f) return NULL;
    if (f->filetype != WASI_FILETYPE_DIRECTORY || f->host < 0) {
        *err = WASI_ENOTDIR;
        return NULL;
    }
    if (writes && f->readonly) {
        *err = RO_ERRNO;
        return NULL;
    }
    if ((f->rights & rights) != rights) {
        *err = WASI_ENOTCAPABLE;
        return NULL;
    }
    return f;
}

/* ---- resolution beneath a directory --------------------------------------- */

static bool is_dot(const char *s, size_t n) {
    return n == 1 && s[0] == '.';
}
static bool is_dotdot(const char *s, size_t n) {
    return n == 2 && s[0] == '.' && s[1] == '.';
}

/* Reads the symlink `name` in `dir` (or the O_PATH symlink descriptor dir
 * itself when name is "") into target (GUEST_PATH_MAX + 1 bytes) as a C
 * string, counting it in *links. WASI_EINVAL when it is not a symlink. */
static uint16_t read_link(int dir, const char *name, char *target, int *links) {
    ssize_t t = readlinkat(dir, name, target, GUEST_PATH_MAX + 1);
    if (t < 0) return wasi_errno(errno);
    if (t > GUEST_PATH_MAX) return WASI_ENAMETOOLONG;
    if (++*links > WALK_MAX_LINKS) return WASI_ELOOP;
    target[t] = '\0';
    return WASI_ESUCCESS;
}

/* Replaces the component being walked by a symlink's target: out = target
 * followed by `rest` (the unwalked remainder, from its slash). */
static uint16_t expand_link(char *out, const char *target, const char *rest) {
    size_t tlen = strlen(target);
    if (tlen == 0) return WASI_ENOENT;
    if (target[0] == '/') return WASI_ENOTCAPABLE;
    size_t rlen = strlen(rest);
    if (tlen + rlen > GUEST_PATH_MAX) return WASI_ENAMETOOLONG;
    memcpy(out, target, tlen);
    memcpy(out + tlen, rest, rlen + 1);
    return WASI_ESUCCESS;
}

/* open_beneath() without openat2: the same lookup done one component at a
 * time. Every component is opened O_PATH|O_NOFOLLOW relative to the
 * directory descriptor reached so far, so what is checked is what is used;
 * a symlink is read through its own descriptor and its target walked from
 * the directory holding it; `..` pops back to a descriptor already held and
 * fails when there is none (the base is the floor). */
static int walk_beneath(int base, const char *path, int flags, mode_t mode, bool follow,
                        uint16_t *err) {
    char bufs[2][GUEST_PATH_MAX + 1];
    char target[GUEST_PATH_MAX + 1];
    char comp[NAME_MAX + 1];
    int stack[WALK_MAX_DEPTH];
    int depth = 0, links = 0, which = 0, result = -1;
    size_t plen = strlen(path);
    if (plen > GUEST_PATH_MAX) {
        *err = WASI_ENAMETOOLONG;
        return -1;
    }
    memcpy(bufs[0], path, plen + 1);
    const char *p = bufs[0];
    *err = WASI_ESUCCESS;
    for (;;) {
        while (*p == '/')
            p++;
        int cur = depth ? stack[depth - 1] : base;
        size_t n = strcspn(p, "/");
        const char *rest = p + n; /* from the slash after this component */
        const char *next = rest;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        bool slash = *rest == '/'; /* a trailing slash, when last */
        if (n > NAME_MAX) {
            *err = WASI_ENAMETOOLONG;
            break;
        }
        if (n == 0) {
            comp[0] = '.';
            comp[1] = '\0';
        } else {
            memcpy(comp, p, n);
            comp[n] = '\0';
        }
        if (is_dot(comp, strlen(comp)) && !last) {
            p = next;
            continue;
        }
        if (is_dotdot(comp, n)) {
            if (depth == 0) {
                *err = WASI_ENOTCAPABLE;
                break;
            }
            close(stack[--depth]);
            if (!last) {
                p = next;
                continue;
            }
            cur = depth ? stack[depth - 1] : base;
            strcpy(comp, ".");
            slash = false;
        }
        if (!last || slash) {
            /* Must be a directory; a symlink here is followed whatever
             * `follow` says, as the kernel does for "link/". */
            int fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) < 0) {
                *err = wasi_errno(errno);
                if (fd >= 0) close(fd);
                break;
            }
            if (S_ISLNK(st.st_mode)) {
                *err = read_link(fd, "", target, &links);
                close(fd);
                which ^= 1;
                if (*err || (*err = expand_link(bufs[which], target, rest))) break;
                p = bufs[which];
                continue;
            }
            if (!S_ISDIR(st.st_mode)) {
                close(fd);
                *err = WASI_ENOTDIR;
                break;
            }
            if (last) {
                result = openat(fd, ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
                if (result < 0) *err = wasi_errno(errno);
                close(fd);
                break;
            }
            if (depth == WALK_MAX_DEPTH) {
                close(fd);
                *err = WASI_ENAMETOOLONG;
                break;
            }
            stack[depth++] = fd;
            p = next;
            continue;
        }
        /* The last component. O_NOFOLLOW opens a symlink itself (O_PATH)
         * or fails on it (ELOOP, or ENOTDIR with O_DIRECTORY); to follow
         * it, its target is walked from here. */
        result = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int e = errno;
        struct stat st;
        bool is_link = result < 0 ? follow && (e == ELOOP || e == ENOTDIR)
                                  : follow && (flags & O_PATH) && fstat(result, &st) == 0 &&
                                        S_ISLNK(st.st_mode);
        if (is_link) {
            uint16_t le = read_link(cur, comp, target, &links);
            if (le == WASI_EINVAL && result < 0) le = wasi_errno(e); /* not a symlink after all */
            if (result >= 0) close(result);
            result = -1;
            which ^= 1;
            if ((*err = le) || (*err = expand_link(bufs[which], target, ""))) break;
            p = bufs[which];
            continue;
        }
        if (result < 0) *err = wasi_errno(e);
        break;
    }
    while (depth > 0)
        close(stack[--depth]);
    return *err ? -1 : result;
}

/* Opens `path` (relative, checked by guest_path) beneath the directory
 * `base` with open(2) `flags` and `mode`, following a final symlink only
 * when `follow`; symlinks on the way are always followed, beneath `base`
 * too. Returns the host descriptor (O_CLOEXEC; the caller closes it) or -1
 * with *err: WASI_ENOTCAPABLE when the path or a symlink leads outside, or
 * the host's error. */
static int open_beneath(int base, const char *path, int flags, mode_t mode, bool follow,
                        uint16_t *err) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0; tries < OPENAT2_TRIES; tries++) {
        long fd = syscall(SYS_openat2, base, path, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno == EAGAIN) continue;
        if (errno == ENOSYS || errno == EPERM)
            return walk_beneath(base, path, flags, mode, follow, err);
        *err = errno == EXDEV ? WASI_ENOTCAPABLE : wasi_errno(errno);
        return -1;
    }
    *err = WASI_EAGAIN;
    return -1;
}

/* Opens, beneath `base`, the directory that holds the last component of
 * `path` and points *name at that component inside `path` (which is cut
 * in place). Trailing slashes stay on the name: the *at() calls that get
 * it (mkdirat, unlinkat, renameat, linkat, symlinkat) never follow a final
 * symlink because of them. A last component of "." or ".." makes the whole
 * path the directory and *name ".". Returns a descriptor to pass to
 * close_parent(), or -1 with *err as open_beneath(). */
static int open_parent(int base, char *path, const char **name, uint16_t *err) {
    size_t end = strlen(path);
    while (end > 0 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    if (is_dot(path + start, end - start) || is_dotdot(path + start, end - start)) {
        *name = ".";
        return open_beneath(base, path, O_PATH | O_DIRECTORY, 0, true, err);
    }
    *name = path + start;
    if (start == 0) return base;
    path[start - 1] = '\0';
    return open_beneath(base, path, O_PATH | O_DIRECTORY, 0, true, err);
}

static void close_parent(int fd, int base) {
    if (fd >= 0 && fd != base) close(fd);
}

/* Whether a symlink target "climbs" (see the top of this file): it is
 * absolute, empty, or has a `..` component. */
static bool target_climbs(const char *target) {
    if (target[0] == '/' || target[0] == '\0') return true;
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (is_dotdot(p, n)) return true;
        p += n;
        while (*p == '/')
            p++;
    }
    return false;
}

/* Whether the symlink `name` in `dir` climbs; false when it is no symlink
 * (or gone: the call that follows reports that). */
static bool link_climbs(int dir, const char *name) {
    char target[GUEST_PATH_MAX + 1];
    ssize_t t = readlinkat(dir, name, target, GUEST_PATH_MAX);
    if (t < 0) return false;
    target[t] = '\0';
    return target_climbs(target);
}

/* Looks through the tree beneath the directory `dir` (closed here) for a
 * climbing symlink: WASI_ENOTCAPABLE when there is one, WASI_EXDEV when
 * the tree has more than *budget entries or MOVE_SCAN_DEPTH levels, the
 * host's error when a directory cannot be read, else WASI_ESUCCESS. */
static uint16_t tree_check(int dir, int depth, long *budget) {
    DIR *d = fdopendir(dir);
    if (!d) {
        close(dir);
        return wasi_errno(errno);
    }
    uint16_t e = WASI_ESUCCESS;
    struct dirent *de;
    while (!e && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (--*budget < 0) {
            e = WASI_EXDEV;
            break;
        }
        unsigned type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
            type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
        }
        if (type == DT_LNK && link_climbs(dirfd(d), de->d_name)) {
            e = WASI_ENOTCAPABLE;
        } else if (type == DT_DIR) {
            if (depth + 1 >= MOVE_SCAN_DEPTH) {
                e = WASI_EXDEV;
                break;
            }
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            e = sub < 0 ? wasi_errno(errno) : tree_check(sub, depth + 1, budget);
        }
    }
    if (!e && errno) e = wasi_errno(errno);
    closedir(d);
    return e;
}

/* Whether `name` in `from` may be moved (renamed, or hard-linked when
 * !dirs) into the directory `to` without making a symlink lead elsewhere
 * (see the top of this file). Within one directory anything may. Called
 * under move_lock. */
static uint16_t move_check(int from, const char *name, int to, bool dirs) {
    struct stat a, b, st;
    if (fstat(from, &a) == 0 && fstat(to, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return WASI_ESUCCESS;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return WASI_ESUCCESS;
    if (S_ISLNK(st.st_mode)) return link_climbs(from, name) ? WASI_ENOTCAPABLE : WASI_ESUCCESS;
    if (!dirs || !S_ISDIR(st.st_mode)) return WASI_ESUCCESS;
    int dir = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return wasi_errno(errno);
    long budget = MOVE_SCAN_ENTRIES;
    return tree_check(dir, 0, &budget);
}

/* Makes each move_check() and the rename or link it allows one step for
 * every instance in the process. */
static pthread_mutex_t move_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- path_open ------------------------------------------------------------ */

/* Why opening `path` beneath `d` for writing is refused, when the kernel
 * is not asked to open it so: EISDIR for a directory, EROFS for anything
 * else (only reached beneath a read-only grant), or the error of the
 * lookup itself (ENOENT, ENOTDIR, ELOOP...). The path is opened read-only
 * for the look, which the grant allows in any case. */
static uint16_t open_for_writing_refused(wasi_fd *d, const char *path, uint32_t oflags,
                                         uint32_t dirflags) {
    uint16_t e;
    int flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | ((oflags & OFLAG_DIRECTORY) ? O_DIRECTORY : 0);
    int fd = open_beneath(d->host, path, flags, 0, dirflags & LOOKUP_SYMLINK_FOLLOW, &e);
    if (fd < 0) return e;
    struct stat st;
    e = fstat(fd, &st) < 0 ? wasi_errno(errno) : S_ISDIR(st.st_mode) ? WASI_EISDIR : RO_ERRNO;
    close(fd);
    return e;
}

/* path_open(fd, dirflags, path, path_len, oflags, fs_rights_base: i64,
 * fs_rights_inheriting: i64, fdflags, fd_ptr). The new descriptor gets the
 * rights asked for that the directory may pass on (as wasmtime and Rust's
 * std expect, fewer than asked is not an error) and the directory's
 * read-only flag. */
static wasm_trap_code path_open(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    wasi_ctx *ctx = env;
    uint32_t dirflags = a[1].of.i32, oflags = a[4].of.i32, fdflags = a[7].of.i32;
    uint64_t base = a[5].of.i64, inheriting = a[6].of.i64;
    if ((dirflags & ~LOOKUP_SYMLINK_FOLLOW) || (oflags & ~0xfu) || (fdflags & ~FDFLAGS_ALL))
        return wasi_ret(r, WASI_EINVAL);
    if ((oflags & OFLAG_DIRECTORY) && (oflags & (OFLAG_CREAT | OFLAG_EXCL | OFLAG_TRUNC)))
        return wasi_ret(r, WASI_EINVAL);
    uint64_t need = R_PATH_OPEN;
    if (oflags & OFLAG_CREAT) need |= R_PATH_CREATE_FILE;
    if (oflags & OFLAG_TRUNC) need |= R_PATH_FILESTAT_SET_SIZE;
    bool creates = oflags & (OFLAG_CREAT | OFLAG_TRUNC);
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[0].of.i32, need, creates, &e);
    if (!d) return wasi_ret(r, e);
    char path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[2].of.i32, a[3].of.i32, path))) return wasi_ret(r, e);
    uint8_t *out = wasm_guest_bytes(caller, a[8].of.i32, 4);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    /* Writing rights ask for a writable descriptor. A directory is never
     * one: EISDIR, as open(2) answers and wasmtime follows. Where the
     * kernel would not be asked (OFLAG_DIRECTORY, or a read-only grant),
     * a read-only look at the path gives the kernel's answers in its
     * order: lookup errors, then EISDIR, then (read-only grant) EROFS. */
    if ((base & R_WRITE_MODE) && !creates && ((oflags & OFLAG_DIRECTORY) || d->readonly))
        return wasi_ret(r, open_for_writing_refused(d, path, oflags, dirflags));

    uint64_t granted = base & d->inheriting;
    bool rd = granted & R_READ_MODE, wr = !d->readonly && (granted & R_WRITE_MODE);
    int flags = wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (oflags & OFLAG_DIRECTORY) flags |= O_DIRECTORY;
    if (oflags & OFLAG_CREAT) flags |= O_CREAT;
    if (oflags & OFLAG_EXCL) flags |= O_EXCL;
    if (oflags & OFLAG_TRUNC) flags |= O_TRUNC;
    if (fdflags & FDFLAG_APPEND) flags |= O_APPEND;
    if (fdflags & FDFLAG_DSYNC) flags |= O_DSYNC;
    if (fdflags & FDFLAG_NONBLOCK) flags |= O_NONBLOCK;
    if (fdflags & FDFLAG_RSYNC) flags |= O_RSYNC;
    if (fdflags & FDFLAG_SYNC) flags |= O_SYNC;
    int fd = open_beneath(d->host, path, flags | O_NOCTTY | O_NONBLOCK, 0666,
                          dirflags & LOOKUP_SYMLINK_FOLLOW, &e);
    if (fd < 0) return wasi_ret(r, e);
    struct stat st;
    /* O_NONBLOCK was for the open (a FIFO's waits for its peer); of the
     * flags F_SETFL changes, the guest's keep only what it asked for. */
    if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, flags & (O_APPEND | O_NONBLOCK)) < 0) {
        e = wasi_errno(errno);
        close(fd);
        return wasi_ret(r, e);
    }
    uint8_t type = wasi_filetype(st.st_mode);
    wasi_fd entry;
    memset(&entry, 0, sizeof entry);
    entry.used = true;
    entry.filetype = type;
    entry.host = fd;
    entry.stdio = -1;
    entry.readonly = d->readonly;
    entry.rights = granted & wasi_rights_for(type, d->readonly);
    entry.inheriting = inheriting & d->inheriting;
    entry.fdflags = (uint16_t)fdflags;
    uint32_t guest_fd;
    /* d may move: wasi_fd_install can grow the table. */
    if ((e = wasi_fd_install(ctx, &entry, &guest_fd))) {
        close(fd);
        return wasi_ret(r, e);
    }
    wasi_put_u32(out, guest_fd);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- functions on a name ------------------------------------------------- */

/* The shape shared by path_create_directory, path_remove_directory and
 * path_unlink_file: (fd, path, path_len) -> one *at() call on the last
 * component. */
enum name_op { OP_MKDIR, OP_RMDIR, OP_UNLINK };

static wasm_trap_code name_call(wasi_ctx *ctx, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r, enum name_op op, uint64_t right) {
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[0].of.i32, right, true, &e);
    if (!d) return wasi_ret(r, e);
    char path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[1].of.i32, a[2].of.i32, path))) return wasi_ret(r, e);
    const char *name;
    int dir = open_parent(d->host, path, &name, &e);
    if (dir < 0) return wasi_ret(r, e);
    int rc = op == OP_MKDIR   ? mkdirat(dir, name, 0777)
             : op == OP_RMDIR ? unlinkat(dir, name, AT_REMOVEDIR)
                              : unlinkat(dir, name, 0);
    e = rc < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    close_parent(dir, d->host);
    return wasi_ret(r, e);
}

/* path_create_directory(fd, path, path_len) */
static wasm_trap_code path_create_directory(void *env, wasm_instance *caller, const wasm_value *a,
                                            wasm_value *r) {
    return name_call(env, caller, a, r, OP_MKDIR, R_PATH_CREATE_DIRECTORY);
}

/* path_remove_directory(fd, path, path_len) */
static wasm_trap_code path_remove_directory(void *env, wasm_instance *caller, const wasm_value *a,
                                            wasm_value *r) {
    return name_call(env, caller, a, r, OP_RMDIR, R_PATH_REMOVE_DIRECTORY);
}

/* path_unlink_file(fd, path, path_len) */
static wasm_trap_code path_unlink_file(void *env, wasm_instance *caller, const wasm_value *a,
                                       wasm_value *r) {
    return name_call(env, caller, a, r, OP_UNLINK, R_PATH_UNLINK_FILE);
}

/* path_rename(fd, old_path, old_path_len, new_fd, new_path, new_path_len):
 * both names resolved beneath their own directory; a read-only grant on
 * either side refuses (the source directory loses a name). */
static wasm_trap_code path_rename(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    wasi_ctx *ctx = env;
    uint16_t e;
    wasi_fd *od = dir_get(ctx, a[0].of.i32, R_PATH_RENAME_SOURCE, true, &e);
    if (!od) return wasi_ret(r, e);
    wasi_fd *nd = dir_get(ctx, a[3].of.i32, R_PATH_RENAME_TARGET, true, &e);
    if (!nd) return wasi_ret(r, e);
    char opath[GUEST_PATH_MAX + 1], npath[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[1].of.i32, a[2].of.i32, opath))) return wasi_ret(r, e);
    if ((e = guest_path(caller, a[4].of.i32, a[5].of.i32, npath))) return wasi_ret(r, e);
    const char *oname, *nname;
    int odir = open_parent(od->host, opath, &oname, &e);
    if (odir < 0) return wasi_ret(r, e);
    int ndir = open_parent(nd->host, npath, &nname, &e);
    if (ndir < 0) {
        close_parent(odir, od->host);
        return wasi_ret(r, e);
    }
    pthread_mutex_lock(&move_lock);
    e = move_check(odir, oname, ndir, true);
    if (!e) e = renameat(odir, oname, ndir, nname) < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    pthread_mutex_unlock(&move_lock);
    close_parent(odir, od->host);
    close_parent(ndir, nd->host);
    return wasi_ret(r, e);
}

/* Where a SYMLINK_FOLLOW path_link's source really is: `path` with each
 * final symlink replaced by its target (relative to the link's directory),
 * until the last component is not a symlink. The result is only a name: it
 * is resolved beneath the guest directory like any other, and linkat never
 * follows it, so a symlink swapped in meanwhile is linked itself rather
 * than followed. */
static uint16_t follow_final_links(int base, char *path) {
    char target[GUEST_PATH_MAX + 1], work[GUEST_PATH_MAX + 1];
    for (int links = 0;; links++) {
        size_t len = strlen(path);
        if (path[len - 1] == '/') return WASI_ESUCCESS; /* path_link's own check */
        memcpy(work, path, len + 1);
        const char *name;
        uint16_t e;
        int dir = open_parent(base, work, &name, &e);
        if (dir < 0) return e;
        ssize_t t = readlinkat(dir, name, target, sizeof target);
        int err = errno;
        close_parent(dir, base);
        if (t < 0) return err == EINVAL ? WASI_ESUCCESS : wasi_errno(err);
        if ((size_t)t >= sizeof target) return WASI_ENAMETOOLONG;
        if (links == WALK_MAX_LINKS) return WASI_ELOOP;
        if (t == 0) return WASI_ENOENT;
        if (target[0] == '/') return WASI_ENOTCAPABLE;
        /* Replace the last component of path by the target. */
        size_t end = strlen(path), start;
        while (end > 0 && path[end - 1] == '/')
            end--;
        for (start = end; start > 0 && path[start - 1] != '/'; start--)
            ;
        if (start + (size_t)t > GUEST_PATH_MAX) return WASI_ENAMETOOLONG;
        memcpy(path + start, target, (size_t)t);
        path[start + (size_t)t] = '\0';
    }
}

/* path_link(old_fd, old_flags, old_path, old_path_len, new_fd, new_path,
 * new_path_len). A read-only grant refuses on either side: a new name in
 * a writable directory would make the read-only file writable. */
static wasm_trap_code path_link(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    wasi_ctx *ctx = env;
    uint32_t flags = a[1].of.i32;
    if (flags & ~LOOKUP_SYMLINK_FOLLOW) return wasi_ret(r, WASI_EINVAL);
    uint16_t e;
    wasi_fd *od = dir_get(ctx, a[0].of.i32, R_PATH_LINK_SOURCE, true, &e);
    if (!od) return wasi_ret(r, e);
    wasi_fd *nd = dir_get(ctx, a[4].of.i32, R_PATH_LINK_TARGET, true, &e);
    if (!nd) return wasi_ret(r, e);
    char opath[GUEST_PATH_MAX + 1], npath[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[2].of.i32, a[3].of.i32, opath))) return wasi_ret(r, e);
    if ((e = guest_path(caller, a[5].of.i32, a[6].of.i32, npath))) return wasi_ret(r, e);
    if ((flags & LOOKUP_SYMLINK_FOLLOW) && (e = follow_final_links(od->host, opath)))
        return wasi_ret(r, e);
    if (opath[strlen(opath) - 1] == '/') {
        /* "name/" must be a directory, which cannot be hard-linked. linkat
         * would follow a final symlink to find that out, perhaps outside,
         * so the lookup is done beneath instead. */
        int fd = open_beneath(od->host, opath, O_PATH | O_DIRECTORY, 0, true, &e);
        if (fd < 0) return wasi_ret(r, e);
        close(fd);
        return wasi_ret(r, WASI_EPERM);
    }
    const char *oname, *nname;
    int odir = open_parent(od->host, opath, &oname, &e);
    if (odir < 0) return wasi_ret(r, e);
    int ndir = open_parent(nd->host, npath, &nname, &e);
    if (ndir < 0) {
        close_parent(odir, od->host);
        return wasi_ret(r, e);
    }
    pthread_mutex_lock(&move_lock);
    e = move_check(odir, oname, ndir, false);
    if (!e) e = linkat(odir, oname, ndir, nname, 0) < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    pthread_mutex_unlock(&move_lock);
    close_parent(odir, od->host);
    close_parent(ndir, nd->host);
    return wasi_ret(r, e);
}

/* path_symlink(old_path, old_path_len, fd, new_path, new_path_len): the
 * link is created beneath fd; its target is stored as given, but a target
 * that climbs (absolute, or with a `..` component: see the top of this
 * file) is refused with WASI_ENOTCAPABLE, as wasmtime refuses absolute
 * ones. */
static wasm_trap_code path_symlink(void *env, wasm_instance *caller, const wasm_value *a,
                                   wasm_value *r) {
    wasi_ctx *ctx = env;
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[2].of.i32, R_PATH_SYMLINK, true, &e);
    if (!d) return wasi_ret(r, e);
    char target[GUEST_PATH_MAX + 1], path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[0].of.i32, a[1].of.i32, target))) return wasi_ret(r, e);
    if ((e = guest_path(caller, a[3].of.i32, a[4].of.i32, path))) return wasi_ret(r, e);
    if (target_climbs(target)) return wasi_ret(r, WASI_ENOTCAPABLE);
    const char *name;
    int dir = open_parent(d->host, path, &name, &e);
    if (dir < 0) return wasi_ret(r, e);
    e = symlinkat(target, dir, name) < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    close_parent(dir, d->host);
    return wasi_ret(r, e);
}

/* ---- functions on the object a path names ---------------------------------- */

/* path_readlink(fd, path, path_len, buf, buf_len, bufused_ptr): the target
 * cut to buf_len bytes (no NUL), as readlink(2) does. */
static wasm_trap_code path_readlink(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    wasi_ctx *ctx = env;
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[0].of.i32, R_PATH_READLINK, false, &e);
    if (!d) return wasi_ret(r, e);
    char path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[1].of.i32, a[2].of.i32, path))) return wasi_ret(r, e);
    uint32_t len = a[4].of.i32;
    uint8_t *buf = wasm_guest_bytes(caller, a[3].of.i32, len);
    uint8_t *used = wasm_guest_bytes(caller, a[5].of.i32, 4);
    if (!buf || !used) return wasi_ret(r, WASI_EFAULT);
    int fd = open_beneath(d->host, path, O_PATH, 0, false, &e);
    if (fd < 0) return wasi_ret(r, e);
    char target[GUEST_PATH_MAX + 1];
    ssize_t n = readlinkat(fd, "", target, sizeof target);
    /* readlinkat answers ENOENT for a descriptor that is not a symlink. */
    e = n >= 0 ? WASI_ESUCCESS : errno == ENOENT ? WASI_EINVAL : wasi_errno(errno);
    close(fd);
    if (e) return wasi_ret(r, e);
    size_t m = (size_t)n < len ? (size_t)n : len;
    memcpy(buf, target, m);
    wasi_put_u32(used, (uint32_t)m);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* path_filestat_get(fd, flags, path, path_len, buf) */
static wasm_trap_code path_filestat_get(void *env, wasm_instance *caller, const wasm_value *a,
                                        wasm_value *r) {
    wasi_ctx *ctx = env;
    uint32_t flags = a[1].of.i32;
    if (flags & ~LOOKUP_SYMLINK_FOLLOW) return wasi_ret(r, WASI_EINVAL);
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[0].of.i32, R_PATH_FILESTAT_GET, false, &e);
    if (!d) return wasi_ret(r, e);
    char path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[2].of.i32, a[3].of.i32, path))) return wasi_ret(r, e);
    uint8_t *out = wasm_guest_bytes(caller, a[4].of.i32, FILESTAT_SIZE);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    int fd = open_beneath(d->host, path, O_PATH, 0, flags & LOOKUP_SYMLINK_FOLLOW, &e);
    if (fd < 0) return wasi_ret(r, e);
    struct stat st;
    e = fstat(fd, &st) < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    close(fd);
    if (!e) wasi_put_filestat(out, &st);
    return wasi_ret(r, e);
}

/* One utimensat time from a timestamp and its two fstflags bits. */
static struct timespec set_time(uint64_t ns, bool set, bool now) {
    struct timespec ts = {0, UTIME_OMIT};
    if (now) ts.tv_nsec = UTIME_NOW;
    if (set) {
        ts.tv_sec = (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
    }
    return ts;
}

/* path_filestat_set_times(fd, flags, path, path_len, atim: i64, mtim: i64,
 * fst_flags). Both a time and its _NOW flag is WASI_EINVAL. */
static wasm_trap_code path_filestat_set_times(void *env, wasm_instance *caller, const wasm_value *a,
                                              wasm_value *r) {
    wasi_ctx *ctx = env;
    uint32_t flags = a[1].of.i32, fst = a[6].of.i32;
    if ((flags & ~LOOKUP_SYMLINK_FOLLOW) || (fst & ~0xfu) ||
        ((fst & FST_ATIM) && (fst & FST_ATIM_NOW)) || ((fst & FST_MTIM) && (fst & FST_MTIM_NOW)))
        return wasi_ret(r, WASI_EINVAL);
    uint16_t e;
    wasi_fd *d = dir_get(ctx, a[0].of.i32, R_PATH_FILESTAT_SET_TIMES, true, &e);
    if (!d) return wasi_ret(r, e);
    char path[GUEST_PATH_MAX + 1];
    if ((e = guest_path(caller, a[2].of.i32, a[3].of.i32, path))) return wasi_ret(r, e);
    bool follow = flags & LOOKUP_SYMLINK_FOLLOW;
    int fd = open_beneath(d->host, path, O_PATH, 0, follow, &e);
    if (fd < 0) return wasi_ret(r, e);
    struct timespec ts[2] = {
        set_time(a[4].of.i64, fst & FST_ATIM, fst & FST_ATIM_NOW),
        set_time(a[5].of.i64, fst & FST_MTIM, fst & FST_MTIM_NOW),
    };
    /* The descriptor is the object itself (the symlink when not following),
     * so the empty path acts on it and nothing is looked up again. */
    int rc = utimensat(fd, "", ts, AT_EMPTY_PATH | (follow ? 0 : AT_SYMLINK_NOFOLLOW));
    e = rc < 0 ? wasi_errno(errno) : WASI_ESUCCESS;
    close(fd);
    return wasi_ret(r, e);
}

/* ---- fd_readdir ------------------------------------------------------------ */

/* The WASI type of a directory entry; DT_UNKNOWN (some filesystems) asks
 * the entry itself, without following it. */
static uint8_t dirent_type(DIR *d, const struct dirent *de) {
    if (de->d_type != DT_UNKNOWN) return wasi_filetype(DTTOIF(de->d_type));
    struct stat st;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) return WASI_FILETYPE_UNKNOWN;
    return wasi_filetype(st.st_mode);
}

/* fd_readdir(fd, buf, buf_len, cookie: i64, bufused_ptr). Cookies count
 * entries: cookie n resumes after the first n ("." and ".." among them, as
 * the host lists them). The DIR stays open in the entry, positioned at
 * entry `dir_cookie`, so reading on from where the last call stopped costs
 * nothing; any other cookie rewinds and skips. The buffer is filled to the
 * last byte, the final entry cut short if need be (wasi-libc and Rust then
 * retry with a bigger buffer from that entry's cookie). */
static wasm_trap_code fd_readdir(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    wasi_ctx *ctx = env;
    uint16_t e;
    wasi_fd *f = dir_get(ctx, a[0].of.i32, R_FD_READDIR, false, &e);
    if (!f) return wasi_ret(r, e);
    uint32_t len = a[2].of.i32;
    uint64_t cookie = a[3].of.i64;
    uint8_t *buf = wasm_guest_bytes(caller, a[1].of.i32, len);
    uint8_t *used = wasm_guest_bytes(caller, a[4].of.i32, 4);
    if (!buf || !used) return wasi_ret(r, WASI_EFAULT);
    if (!f->dir) {
        /* A descriptor of its own, so that the listing's position is not
         * the guest descriptor's. */
        int dfd = openat(f->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return wasi_ret(r, wasi_errno(errno));
        DIR *d = fdopendir(dfd);
        if (!d) {
            e = wasi_errno(errno);
            close(dfd);
            return wasi_ret(r, e);
        }
        f->dir = d;
        f->dir_cookie = 0;
    }
    DIR *d = f->dir;
    if (cookie < f->dir_cookie) {
        rewinddir(d);
        f->dir_cookie = 0;
    }
    while (f->dir_cookie < cookie) {
        errno = 0;
        if (!readdir(d)) {
            if (errno) return wasi_ret(r, wasi_errno(errno));
            break; /* past the end: nothing to list */
        }
        f->dir_cookie++;
    }
    uint32_t n = 0;
    while (f->dir_cookie == cookie && n < len) {
        long pos = telldir(d);
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno && n == 0) return wasi_ret(r, wasi_errno(errno));
            break;
        }
        size_t namlen = strlen(de->d_name);
        uint8_t head[DIRENT_SIZE];
        memset(head, 0, sizeof head);
        wasi_put_u64(head, f->dir_cookie + 1);
        wasi_put_u64(head + 8, (uint64_t)de->d_ino);
        wasi_put_u32(head + 16, (uint32_t)namlen);
        head[20] = dirent_type(d, de);
        uint32_t room = len - n;
        uint32_t h = room < DIRENT_SIZE ? room : DIRENT_SIZE;
        memcpy(buf + n, head, h);
        n += h;
        room -= h;
        uint32_t m = room < namlen ? room : (uint32_t)namlen;
        memcpy(buf + n, de->d_name, m);
        n += m;
        if (h < DIRENT_SIZE || m < namlen) {
            /* Cut short: the guest asks for it again by this cookie. */
            seekdir(d, pos);
            break;
        }
        f->dir_cookie++;
        cookie++;
    }
    wasi_put_u32(used, n);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- registration ---------------------------------------------------------- */

static const wasm_host_func wasi_path_funcs[] = {
    {"fd_readdir", "iiiIi>i", fd_readdir},
    {"path_create_directory", "iii>i", path_create_directory},
    {"path_filestat_get", "iiiii>i", path_filestat_get},
    {"path_filestat_set_times", "iiiiIIi>i", path_filestat_set_times},
    {"path_link", "iiiiiii>i", path_link},
    {"path_open", "iiiiiIIii>i", path_open},
    {"path_readlink", "iiiiii>i", path_readlink},
    {"path_remove_directory", "iii>i", path_remove_directory},
    {"path_rename", "iiiiii>i", path_rename},
    {"path_symlink", "iiiii>i", path_symlink},
    {"path_unlink_file", "iii>i", path_unlink_file},
};

bool wasi_link_path(wasi_ctx *ctx, wasm_linker *l, wasm_error *err) {
    return wasm_linker_funcs(l, WASI_MODULE, wasi_path_funcs,
                             sizeof wasi_path_funcs / sizeof wasi_path_funcs[0], ctx, err);
}
