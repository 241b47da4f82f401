/*
 * fd.c - the preview-1 functions that work on an open descriptor: fd_*
 * (except fd_readdir, which lives with the path functions), poll_oneoff and
 * sock_*, plus the rights each kind of descriptor may hold.
 *
 * A descriptor is either a host fd (files, directories, sockets, inherited
 * stdio) or, for stdio only, host == -1 with the stream kept in the context:
 * stdin read from a buffer, stdout/stderr captured into one up to a cap, or
 * a closed stream. Every function below first finds the entry with the
 * rights it needs (wasi_fd_get), then checks every guest range
 * (wasm_guest_bytes), and only then touches the host.
 *
 * Rights, not host open modes, decide what a descriptor may do. A write of
 * any kind (fd_write, fd_pwrite, fd_allocate, fd_filestat_set_size and
 * _set_times) on a descriptor without the matching right fails with
 * WASI_ENOTCAPABLE, the rights model's own answer, as it does for every
 * descriptor beneath a read-only preopen: wasi_rights_for() never gives
 * those the writing rights, fd_fdstat_set_rights can only shrink them, and
 * each writing function also refuses an entry marked read-only outright.
 *
 * Nothing here waits without a bound. poll_oneoff, and reads, writes,
 * sock_recv and sock_accept on streams (pipes, FIFOs, sockets, terminals)
 * that the guest did not make non-blocking, first wait for the descriptor
 * with poll(2) in slices of WASI_WAIT_SLICE_MS, checking between slices
 * whether the call's deadline has passed or wasm_interrupt() asked it to
 * stop; either ends the guest's call with WASM_TRAP_INTERRUPTED. Once
 * poll says ready, the transfer itself does not block: sockets are read
 * and written with MSG_DONTWAIT, and a write to a pipe or FIFO takes at
 * most PIPE_BUF bytes, which a pipe with any room takes whole. A guest
 * that holds both ends of a FIFO can thus fill it but not hang on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"
#include "wasi/internal.h"

/* What a regular file (or block device) may do. */
#define RIGHTS_FILE                                                                                \
    (R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL |       \
     R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE |       \
     R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)
/* What a directory may do: everything path-relative, listing, stat.
 * Nothing path_open counts as asking for a writable descriptor (R_FD_WRITE,
 * R_FD_DATASYNC...): reopening "." with the directory's own rights must
 * work (issue 16), and wasmtime's set for directories has none either. */
#define RIGHTS_DIR                                                                                 \
    (R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_ADVISE | R_PATH_CREATE_DIRECTORY |                   \
     R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_OPEN | R_FD_READDIR |   \
     R_PATH_READLINK | R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | R_PATH_FILESTAT_GET |         \
     R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES | R_FD_FILESTAT_GET |                    \
     R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)
/* Streams (terminals, pipes, buffered stdio): no seeking, so that
 * wasi-libc's isatty() can tell a terminal by the missing seek rights. */
#define RIGHTS_STREAM                                                                              \
    (R_FD_DATASYNC | R_FD_READ | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_WRITE |                  \
     R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
#define RIGHTS_SOCKET                                                                              \
    (R_FD_READ | R_FD_FDSTAT_SET_FLAGS | R_FD_WRITE | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE |    \
     R_SOCK_SHUTDOWN | R_SOCK_ACCEPT)
/* Everything that changes a file or a directory. R_PATH_LINK_SOURCE is
 * among them because a hard link into a writable directory would make the
 * read-only file writable through it; a rename source because the rename
 * removes the name from its directory. */
#define RIGHTS_WRITING                                                                             \
    (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE | R_FD_FILESTAT_SET_TIMES |               \
     R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET |      \
     R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | R_PATH_FILESTAT_SET_SIZE |                      \
     R_PATH_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)

/* fdflags (u16) */
#define FDFLAG_APPEND 0x1
#define FDFLAG_DSYNC 0x2
#define FDFLAG_NONBLOCK 0x4
#define FDFLAG_RSYNC 0x8
#define FDFLAG_SYNC 0x10
#define FDFLAGS_SYNCS (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC)

/* fstflags (u16) */
#define FST_ATIM 0x1
#define FST_ATIM_NOW 0x2
#define FST_MTIM 0x4
#define FST_MTIM_NOW 0x8

/* eventtype (u8), subclockflags, eventrwflags, riflags, roflags, sdflags */
#define EVENT_CLOCK 0
#define EVENT_FD_READ 1
#define EVENT_FD_WRITE 2
#define SUBCLOCK_ABSTIME 0x1
#define EVENT_HANGUP 0x1
#define RECV_PEEK 0x1
#define RECV_WAITALL 0x2
#define RECV_DATA_TRUNCATED 0x1
#define SHUT_FLAG_RD 0x1
#define SHUT_FLAG_WR 0x2

/* Sizes of witx records in guest memory. */
#define IOVEC_SIZE 8
#define FDSTAT_SIZE 24
#define FILESTAT_SIZE 64
#define PRESTAT_SIZE 8
#define SUBSCRIPTION_SIZE 48
#define EVENT_SIZE 32

/* Limits on guest requests, so that none makes the host allocate or loop
 * without bound: iovec counts as POSIX's IOV_MAX, one transfer at most what
 * Linux itself moves in one read or write, poll_oneoff subscriptions. */
#define WASI_IOV_MAX 1024u
#define WASI_RW_MAX 0x7ffff000u
#define WASI_POLL_MAX 4096u

uint64_t wasi_rights_for(uint8_t filetype, bool readonly) {
    uint64_t r;
    switch (filetype) {
    case WASI_FILETYPE_REGULAR_FILE:
    case WASI_FILETYPE_BLOCK_DEVICE: r = RIGHTS_FILE; break;
    case WASI_FILETYPE_DIRECTORY: r = RIGHTS_DIR; break;
    case WASI_FILETYPE_SOCKET_STREAM:
    case WASI_FILETYPE_SOCKET_DGRAM: r = RIGHTS_SOCKET; break;
    case WASI_FILETYPE_SYMBOLIC_LINK: r = R_FD_FILESTAT_GET; break;
    default: r = RIGHTS_STREAM; break; /* character devices, pipes, unknown */
    }
    return readonly ? r & ~RIGHTS_WRITING : r;
}

/* ---- iovecs ------------------------------------------------------------ */

/* A guest iovec array made host iovecs; small arrays need no allocation. */
typedef struct iov_list {
    struct iovec *v;
    struct iovec small[16];
    int n;
    size_t total; /* at most WASI_RW_MAX: longer lists are cut short */
} iov_list;

static void iovs_free(iov_list *l) {
    if (l->v != l->small) free(l->v);
}

/* Loads `n` guest iovecs (buf: u32, buf_len: u32) from `iovs`. Every buffer
 * must lie in memory (WASI_EFAULT); more than WASI_IOV_MAX is WASI_EINVAL. */
static uint16_t iovs_load(iov_list *l, wasm_instance *caller, uint32_t iovs, uint32_t n) {
    l->v = l->small;
    l->n = 0;
    l->total = 0;
    if (n > WASI_IOV_MAX) return WASI_EINVAL;
    const uint8_t *g = wasm_guest_bytes(caller, iovs, n * IOVEC_SIZE);
    if (!g) return WASI_EFAULT;
    if (n > sizeof l->small / sizeof l->small[0]) {
        l->v = malloc(n * sizeof *l->v);
        if (!l->v) {
            l->v = l->small;
            return WASI_ENOMEM;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t buf = wasi_get_u32(g + i * IOVEC_SIZE);
        uint32_t len = wasi_get_u32(g + i * IOVEC_SIZE + 4);
        uint8_t *p = wasm_guest_bytes(caller, buf, len);
        if (!p) {
            iovs_free(l);
            return WASI_EFAULT;
        }
        if (len > WASI_RW_MAX - l->total) len = (uint32_t)(WASI_RW_MAX - l->total);
        if (len == 0) continue;
        l->v[l->n++] = (struct iovec){p, len};
        l->total += len;
    }
    return WASI_ESUCCESS;
}

/* Drops the first `n` bytes of `l` (after a partial transfer). */
static void iovs_consume(iov_list *l, size_t n) {
    int i = 0;
    while (i < l->n && n >= l->v[i].iov_len)
        n -= l->v[i++].iov_len;
    if (i < l->n) {
        l->v[i].iov_base = (uint8_t *)l->v[i].iov_base + n;
        l->v[i].iov_len -= n;
    }
    memmove(l->v, l->v + i, (size_t)(l->n - i) * sizeof *l->v);
    l->n -= i;
    l->total = 0;
    for (i = 0; i < l->n; i++)
        l->total += l->v[i].iov_len;
}

/* Cuts `l` to its first `max` bytes. */
static void iovs_cap(iov_list *l, size_t max) {
    size_t sum = 0;
    for (int i = 0; i < l->n; i++) {
        if (sum + l->v[i].iov_len >= max) {
            l->v[i].iov_len = max - sum;
            l->n = i + 1;
            l->total = max;
            return;
        }
        sum += l->v[i].iov_len;
    }
}

/* ---- waiting ------------------------------------------------------------- */

/* How long the next slice of a wait may last, in ms: WASI_WAIT_SLICE_MS,
 * or less when the call's deadline comes sooner. */
static int slice_ms(void) {
    int64_t left = wasm_call_time_left_ms();
    /* On a fiber (wasp serve) the wait suspends the request, and the server
     * resumes it early when it must stop: only the deadline bounds it. */
    int slice = wasm_fiber_current() ? INT_MAX / 2 : WASI_WAIT_SLICE_MS;
    return left >= 0 && left < slice ? (int)left : slice;
}

/* Waits until host descriptor `fd` is ready for `events` (POLLIN or
 * POLLOUT), slice by slice. WASM_TRAP_NONE when it is (or poll itself
 * failed: the I/O that follows reports why), WASM_TRAP_INTERRUPTED when the
 * deadline passed or wasm_interrupt() asked the call to stop first. */
static wasm_trap_code wait_fd(wasm_instance *caller, int fd, short events) {
    for (;;) {
        if (wasm_call_should_stop(caller)) return WASM_TRAP_INTERRUPTED;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = util_poll(&p, 1, slice_ms());
        if (rc > 0 || (rc < 0 && errno != EINTR)) return WASM_TRAP_NONE;
    }
}

/* Whether I/O on f may wait for someone else: anything but files,
 * directories and block devices (whose I/O the kernel always completes). */
static bool is_stream(const wasi_fd *f) {
    switch (f->filetype) {
    case WASI_FILETYPE_REGULAR_FILE:
    case WASI_FILETYPE_DIRECTORY:
    case WASI_FILETYPE_BLOCK_DEVICE:
    case WASI_FILETYPE_SYMBOLIC_LINK: return false;
    default: return f->host >= 0;
    }
}

/* Before a transfer on f that could block: waits until it would not, unless
 * f is no stream, is ready at once (one poll), or is non-blocking (the
 * transfer then answers EAGAIN itself, as the guest asked). */
static wasm_trap_code wait_stream(wasm_instance *caller, const wasi_fd *f, short events) {
    if (!is_stream(f)) return WASM_TRAP_NONE;
    struct pollfd p = {.fd = f->host, .events = events};
    if (poll(&p, 1, 0) != 0) return WASM_TRAP_NONE;
    int fl = fcntl(f->host, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) return WASM_TRAP_NONE;
    return wait_fd(caller, f->host, events);
}

/* ---- reading and writing ------------------------------------------------ */

static wasi_stdio_kind stdio_kind(const wasi_ctx *ctx, const wasi_fd *f) {
    return f->stdio >= 0 && f->stdio <= 2 ? ctx->stdio[f->stdio].kind : WASI_STDIO_CLOSED;
}

/* Reads into `l` at `off`, or at the current position when off < 0. */
static uint16_t read_iovs(wasi_ctx *ctx, wasi_fd *f, const iov_list *l, int64_t off, size_t *n) {
    *n = 0;
    if (f->host < 0) {
        if (off >= 0) return WASI_ESPIPE;
        wasi_stdio_kind k = stdio_kind(ctx, f);
        if (k == WASI_STDIO_CLOSED) return WASI_ESUCCESS; /* end of file */
        if (k != WASI_STDIO_BUFFER || f->stdio != 0) return WASI_EBADF;
        const wasi_stdio *s = &ctx->stdio[0];
        for (int i = 0; i < l->n && ctx->stdin_pos < s->len; i++) {
            size_t c = s->len - ctx->stdin_pos;
            if (c > l->v[i].iov_len) c = l->v[i].iov_len;
            memcpy(l->v[i].iov_base, s->data + ctx->stdin_pos, c);
            ctx->stdin_pos += c;
            *n += c;
        }
        return WASI_ESUCCESS;
    }
    if (l->n == 0) return WASI_ESUCCESS;
    ssize_t r;
    do
        r = off < 0 ? readv(f->host, l->v, l->n) : preadv(f->host, l->v, l->n, (off_t)off);
    while (r < 0 && errno == EINTR);
    if (r < 0) return wasi_errno(errno);
    *n = (size_t)r;
    return WASI_ESUCCESS;
}

/* Appends to a captured stdout/stderr, as much as fits under its cap. */
static uint16_t capture(wasi_ctx *ctx, int s, const iov_list *l, size_t *n) {
    size_t room = ctx->stdio[s].cap - ctx->out_len[s];
    size_t want = l->total < room ? l->total : room;
    *n = 0;
    if (want == 0) return l->total ? WASI_ENOSPC : WASI_ESUCCESS;
    if (ctx->out_len[s] + want > ctx->out_cap[s]) {
        size_t cap = ctx->out_cap[s] ? ctx->out_cap[s] : 4096;
        while (cap < ctx->out_len[s] + want)
            cap *= 2;
        if (cap > ctx->stdio[s].cap) cap = ctx->stdio[s].cap;
        uint8_t *p = realloc(ctx->out[s], cap);
        if (!p) return WASI_ENOMEM;
        ctx->out[s] = p;
        ctx->out_cap[s] = cap;
    }
    for (int i = 0; i < l->n && *n < want; i++) {
        size_t c = want - *n < l->v[i].iov_len ? want - *n : l->v[i].iov_len;
        memcpy(ctx->out[s] + ctx->out_len[s], l->v[i].iov_base, c);
        ctx->out_len[s] += c;
        *n += c;
    }
    return WASI_ESUCCESS;
}

static bool is_socket(const wasi_fd *f) {
    return f->filetype == WASI_FILETYPE_SOCKET_STREAM || f->filetype == WASI_FILETYPE_SOCKET_DGRAM;
}

/* Whether host descriptor fd is a pipe or FIFO. */
static bool is_pipe(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* Writes `l` at `off`, or at the current position when off < 0. */
static uint16_t write_iovs(wasi_ctx *ctx, wasi_fd *f, iov_list *l, int64_t off, size_t *n) {
    *n = 0;
    if (f->readonly) return WASI_ENOTCAPABLE;
    if (f->host < 0) {
        if (off >= 0) return WASI_ESPIPE;
        if (stdio_kind(ctx, f) != WASI_STDIO_BUFFER || f->stdio == 0) return WASI_EBADF;
        return capture(ctx, f->stdio, l, n);
    }
    if (l->n == 0) return WASI_ESUCCESS;
    ssize_t r;
    /* A blocking pipe takes a write of up to PIPE_BUF bytes whole once poll
     * says it has room; a longer one could wait for the reader. */
    if (off < 0 && l->total > PIPE_BUF && !is_socket(f) && is_stream(f) && is_pipe(f->host))
        iovs_cap(l, PIPE_BUF);
    do {
        if (off >= 0) {
            r = pwritev(f->host, l->v, l->n, (off_t)off);
        } else if (is_socket(f)) {
            /* MSG_NOSIGNAL: a peer that hung up must give EPIPE, not a
             * SIGPIPE that ends the whole host process. MSG_DONTWAIT: the
             * caller waited for room; what does not fit is a short write. */
            struct msghdr m = {.msg_iov = l->v, .msg_iovlen = (size_t)l->n};
            r = sendmsg(f->host, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            r = writev(f->host, l->v, l->n);
        }
    } while (r < 0 && errno == EINTR);
    if (r < 0) return wasi_errno(errno);
    *n = (size_t)r;
    return WASI_ESUCCESS;
}

/* fd_read, fd_pread, fd_write and fd_pwrite: (fd, iovs, iovs_len,
 * [offset: u64,] count_ptr). `positioned` adds the offset argument and the
 * R_FD_SEEK right; the count is written only on success. */
static wasm_trap_code transfer(void *env, wasm_instance *caller, const wasm_value *a, wasm_value *r,
                               bool write, bool positioned) {
    uint16_t e;
    uint64_t rights = (write ? R_FD_WRITE : R_FD_READ) | (positioned ? R_FD_SEEK : 0);
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, rights, &e);
    if (!f) return wasi_ret(r, e);
    uint8_t *out = wasm_guest_bytes(caller, a[positioned ? 4 : 3].of.i32, 4);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    if (positioned && a[3].of.i64 > INT64_MAX) return wasi_ret(r, WASI_EINVAL);
    int64_t offset = positioned ? (int64_t)a[3].of.i64 : -1;
    iov_list l;
    if ((e = iovs_load(&l, caller, a[1].of.i32, a[2].of.i32))) return wasi_ret(r, e);
    if (!positioned && l.n > 0) {
        wasm_trap_code t = wait_stream(caller, f, write ? POLLOUT : POLLIN);
        if (t != WASM_TRAP_NONE) {
            iovs_free(&l);
            return t;
        }
    }
    size_t n;
    e = write ? write_iovs(env, f, &l, offset, &n) : read_iovs(env, f, &l, offset, &n);
    iovs_free(&l);
    if (!e) wasi_put_u32(out, (uint32_t)n);
    return wasi_ret(r, e);
}

static wasm_trap_code fd_read(void *env, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r) {
    return transfer(env, caller, a, r, false, false);
}

static wasm_trap_code fd_pread(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    return transfer(env, caller, a, r, false, true);
}

static wasm_trap_code fd_write(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    return transfer(env, caller, a, r, true, false);
}

static wasm_trap_code fd_pwrite(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    return transfer(env, caller, a, r, true, true);
}

/* ---- position ------------------------------------------------------------ */

/* fd_seek(fd, offset: s64, whence: u8, newoffset_ptr). A seek that leaves
 * the position alone needs only R_FD_TELL; R_FD_SEEK implies it. */
static wasm_trap_code fd_seek(void *env, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r) {
    uint16_t e;
    int64_t off = (int64_t)a[1].of.i64;
    uint32_t whence = a[2].of.i32;
    uint64_t need = whence == 1 && off == 0 ? R_FD_TELL : R_FD_SEEK;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    if (!(f->rights & (need | R_FD_SEEK))) return wasi_ret(r, WASI_ENOTCAPABLE);
    uint8_t *out = wasm_guest_bytes(caller, a[3].of.i32, 8);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    static const int how[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    if (whence > 2) return wasi_ret(r, WASI_EINVAL);
    if (f->host < 0) return wasi_ret(r, WASI_ESPIPE);
    off_t pos = lseek(f->host, (off_t)off, how[whence]);
    if (pos < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_put_u64(out, (uint64_t)pos);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_tell(fd, offset_ptr) */
static wasm_trap_code fd_tell(void *env, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    if (!(f->rights & (R_FD_TELL | R_FD_SEEK))) return wasi_ret(r, WASI_ENOTCAPABLE);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, 8);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    if (f->host < 0) return wasi_ret(r, WASI_ESPIPE);
    off_t pos = lseek(f->host, 0, SEEK_CUR);
    if (pos < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_put_u64(out, (uint64_t)pos);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- descriptor state -------------------------------------------------- */

/* fd_close(fd). Preopens may be closed too, as in wasmtime. */
static wasm_trap_code fd_close(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    wasi_fd_release(f);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_renumber(fd, to): both must be open; `to` is closed first. */
static wasm_trap_code fd_renumber(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    wasi_ctx *ctx = env;
    uint16_t e;
    wasi_fd *from = wasi_fd_get(ctx, a[0].of.i32, 0, &e);
    if (!from) return wasi_ret(r, e);
    wasi_fd *to = wasi_fd_get(ctx, a[1].of.i32, 0, &e);
    if (!to) return wasi_ret(r, e);
    if (from == to) return wasi_ret(r, WASI_ESUCCESS);
    wasi_fd_release(to);
    *to = *from;
    memset(from, 0, sizeof *from);
    from->host = -1;
    from->stdio = -1;
    return wasi_ret(r, WASI_ESUCCESS);
}

/* The entry's fdflags: the host's own for a host fd (another holder of the
 * same open file may have changed them), else what was last set. */
static uint16_t current_fdflags(const wasi_fd *f) {
    if (f->host < 0) return f->fdflags;
    int fl = fcntl(f->host, F_GETFL);
    if (fl < 0) return f->fdflags;
    uint16_t r = f->fdflags & FDFLAG_RSYNC;
    if (fl & O_APPEND) r |= FDFLAG_APPEND;
    if (fl & O_NONBLOCK) r |= FDFLAG_NONBLOCK;
    if ((fl & O_SYNC) == O_SYNC)
        r |= FDFLAG_SYNC;
    else if (fl & O_DSYNC)
        r |= FDFLAG_DSYNC;
    return r;
}

/* fd_fdstat_get(fd, fdstat_ptr) */
static wasm_trap_code fd_fdstat_get(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, FDSTAT_SIZE);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    memset(out, 0, FDSTAT_SIZE);
    out[0] = f->filetype;
    wasi_put_u16(out + 2, current_fdflags(f));
    wasi_put_u64(out + 8, f->rights);
    wasi_put_u64(out + 16, f->inheriting);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_fdstat_set_flags(fd, flags: u16). Only APPEND and NONBLOCK can change
 * on an open file (as with fcntl); asking to change a sync flag is
 * WASI_ENOTSUP, repeating the current ones is fine. */
static wasm_trap_code fd_fdstat_set_flags(void *env, wasm_instance *caller, const wasm_value *a,
                                          wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_FDSTAT_SET_FLAGS, &e);
    if (!f) return wasi_ret(r, e);
    uint32_t flags = a[1].of.i32;
    if (flags & ~0x1fu) return wasi_ret(r, WASI_EINVAL);
    uint16_t cur = current_fdflags(f);
    if ((flags & FDFLAGS_SYNCS) != (cur & FDFLAGS_SYNCS)) return wasi_ret(r, WASI_ENOTSUP);
    if (f->host >= 0) {
        int fl = fcntl(f->host, F_GETFL);
        if (fl < 0) return wasi_ret(r, wasi_errno(errno));
        fl &= ~(O_APPEND | O_NONBLOCK);
        if (flags & FDFLAG_APPEND) fl |= O_APPEND;
        if (flags & FDFLAG_NONBLOCK) fl |= O_NONBLOCK;
        if (fcntl(f->host, F_SETFL, fl) < 0) return wasi_ret(r, wasi_errno(errno));
    }
    f->fdflags = (uint16_t)flags;
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_fdstat_set_rights(fd, base: u64, inheriting: u64): rights only shrink. */
static wasm_trap_code fd_fdstat_set_rights(void *env, wasm_instance *caller, const wasm_value *a,
                                           wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    uint64_t base = a[1].of.i64, inh = a[2].of.i64;
    if ((base & ~f->rights) || (inh & ~f->inheriting)) return wasi_ret(r, WASI_ENOTCAPABLE);
    f->rights = base;
    f->inheriting = inh;
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_prestat_get(fd, prestat_ptr): WASI_EBADF for anything but a preopen,
 * which is how wasi-libc's startup knows it has seen them all. */
static wasm_trap_code fd_prestat_get(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    if (!f->preopen) return wasi_ret(r, WASI_EBADF);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, PRESTAT_SIZE);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    memset(out, 0, PRESTAT_SIZE); /* tag 0: preopentype::dir */
    wasi_put_u32(out + 4, (uint32_t)strlen(f->preopen));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_prestat_dir_name(fd, path, path_len): the name, without a NUL. */
static wasm_trap_code fd_prestat_dir_name(void *env, wasm_instance *caller, const wasm_value *a,
                                          wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, 0, &e);
    if (!f) return wasi_ret(r, e);
    if (!f->preopen) return wasi_ret(r, WASI_EBADF);
    size_t len = strlen(f->preopen);
    if (a[2].of.i32 < len) return wasi_ret(r, WASI_ENAMETOOLONG);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, (uint32_t)len);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    memcpy(out, f->preopen, len);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- file contents and metadata ------------------------------------------ */

/* fd_filestat_get(fd, filestat_ptr) */
static wasm_trap_code fd_filestat_get(void *env, wasm_instance *caller, const wasm_value *a,
                                      wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_FILESTAT_GET, &e);
    if (!f) return wasi_ret(r, e);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, FILESTAT_SIZE);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    if (f->host < 0) {
        memset(out, 0, FILESTAT_SIZE);
        out[16] = f->filetype;
        return wasi_ret(r, WASI_ESUCCESS);
    }
    struct stat st;
    if (fstat(f->host, &st) < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_put_filestat(out, &st);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_filestat_set_size(fd, size: u64) */
static wasm_trap_code fd_filestat_set_size(void *env, wasm_instance *caller, const wasm_value *a,
                                           wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_FILESTAT_SET_SIZE, &e);
    if (!f) return wasi_ret(r, e);
    if (f->readonly) return wasi_ret(r, WASI_ENOTCAPABLE);
    if (a[1].of.i64 > INT64_MAX) return wasi_ret(r, WASI_EFBIG);
    if (f->host < 0) return wasi_ret(r, WASI_EINVAL);
    if (ftruncate(f->host, (off_t)a[1].of.i64) < 0) return wasi_ret(r, wasi_errno(errno));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* A futimens() time from witx fstflags: a given time, now, or unchanged. */
static uint16_t fst_time(uint64_t t, uint32_t flags, uint32_t set, uint32_t now,
                         struct timespec *ts) {
    if ((flags & set) && (flags & now)) return WASI_EINVAL;
    if (flags & now)
        *ts = (struct timespec){0, UTIME_NOW};
    else if (flags & set)
        *ts = (struct timespec){(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    else
        *ts = (struct timespec){0, UTIME_OMIT};
    return WASI_ESUCCESS;
}

/* fd_filestat_set_times(fd, atim: u64, mtim: u64, fst_flags: u16) */
static wasm_trap_code fd_filestat_set_times(void *env, wasm_instance *caller, const wasm_value *a,
                                            wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_FILESTAT_SET_TIMES, &e);
    if (!f) return wasi_ret(r, e);
    if (f->readonly) return wasi_ret(r, WASI_ENOTCAPABLE);
    uint32_t flags = a[3].of.i32;
    struct timespec ts[2];
    if (flags & ~0xfu) return wasi_ret(r, WASI_EINVAL);
    if ((e = fst_time(a[1].of.i64, flags, FST_ATIM, FST_ATIM_NOW, &ts[0])) ||
        (e = fst_time(a[2].of.i64, flags, FST_MTIM, FST_MTIM_NOW, &ts[1])))
        return wasi_ret(r, e);
    if (f->host < 0) return wasi_ret(r, WASI_EBADF);
    if (futimens(f->host, ts) < 0) return wasi_ret(r, wasi_errno(errno));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* fd_advise(fd, offset: u64, len: u64, advice: u8) */
static wasm_trap_code fd_advise(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    static const int advice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                 POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_ADVISE, &e);
    if (!f) return wasi_ret(r, e);
    if (a[3].of.i32 > 5 || a[1].of.i64 > INT64_MAX || a[2].of.i64 > INT64_MAX)
        return wasi_ret(r, WASI_EINVAL);
    if (f->host < 0) return wasi_ret(r, WASI_ESPIPE);
    int rc = posix_fadvise(f->host, (off_t)a[1].of.i64, (off_t)a[2].of.i64, advice[a[3].of.i32]);
    return wasi_ret(r, wasi_errno(rc));
}

/* fd_allocate(fd, offset: u64, len: u64) */
static wasm_trap_code fd_allocate(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_ALLOCATE, &e);
    if (!f) return wasi_ret(r, e);
    if (f->readonly) return wasi_ret(r, WASI_ENOTCAPABLE);
    uint64_t off = a[1].of.i64, len = a[2].of.i64;
    if (off > INT64_MAX || len > INT64_MAX - off) return wasi_ret(r, WASI_EFBIG);
    if (f->host < 0) return wasi_ret(r, WASI_ESPIPE);
    int rc;
    do
        rc = posix_fallocate(f->host, (off_t)off, (off_t)len);
    while (rc == EINTR);
    return wasi_ret(r, wasi_errno(rc));
}

/* fd_sync(fd) and fd_datasync(fd) */
static wasm_trap_code fd_sync(void *env, wasm_instance *caller, const wasm_value *a,
                              wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_SYNC, &e);
    if (!f) return wasi_ret(r, e);
    if (f->host < 0) return wasi_ret(r, WASI_EINVAL); /* like fsync on a pipe */
    return wasi_ret(r, fsync(f->host) < 0 ? wasi_errno(errno) : WASI_ESUCCESS);
}

static wasm_trap_code fd_datasync(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    uint16_t e;
    wasi_fd *f = wasi_fd_get(env, a[0].of.i32, R_FD_DATASYNC, &e);
    if (!f) return wasi_ret(r, e);
    if (f->host < 0) return wasi_ret(r, WASI_EINVAL);
    return wasi_ret(r, fdatasync(f->host) < 0 ? wasi_errno(errno) : WASI_ESUCCESS);
}

/* ---- poll_oneoff ----------------------------------------------------------- */

/* One subscription while poll_oneoff waits. */
typedef struct poll_sub {
    uint64_t userdata;
    uint64_t deadline; /* clock: CLOCK_MONOTONIC ns at which it fires */
    uint64_t nbytes;   /* fd: bytes available, when known */
    uint16_t err;      /* the event's error */
    uint16_t flags;    /* fd: EVENT_HANGUP */
    uint8_t type;
    bool ready;
    int pfd; /* fd on a host descriptor: index into the pollfd array, else -1 */
} poll_sub;

static uint64_t mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Decodes subscription p. A clock subscription gets its deadline, one on
 * buffered or closed stdio (always ready) or with an error is ready at
 * once, one on a host descriptor gets a pollfd. */
static uint16_t poll_decode(wasi_ctx *ctx, const uint8_t *p, uint64_t now, poll_sub *s,
                            struct pollfd *pfds, int *npfds) {
    *s = (poll_sub){.userdata = wasi_get_u64(p), .type = p[8], .pfd = -1};
    if (s->type == EVENT_CLOCK) {
        uint32_t id = wasi_get_u32(p + 16);
        uint64_t timeout = wasi_get_u64(p + 24);
        uint16_t flags = (uint16_t)(p[40] | p[41] << 8);
        uint64_t rel = timeout;
        if (id > 3 || (flags & ~SUBCLOCK_ABSTIME)) {
            s->err = WASI_EINVAL;
        } else if (id > 1) {
            s->err = WASI_ENOTSUP; /* no waiting on CPU-time clocks */
        } else if (flags & SUBCLOCK_ABSTIME) {
            struct timespec ts;
            clock_gettime(id == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
            uint64_t cur = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
            rel = timeout > cur ? timeout - cur : 0;
        }
        s->deadline = rel > UINT64_MAX - now ? UINT64_MAX : now + rel;
        s->ready = s->err != 0;
        return WASI_ESUCCESS;
    }
    if (s->type != EVENT_FD_READ && s->type != EVENT_FD_WRITE) return WASI_EINVAL;
    bool rd = s->type == EVENT_FD_READ;
    uint16_t e;
    wasi_fd *f = wasi_fd_get(ctx, wasi_get_u32(p + 16), 0, &e);
    if (f && !(f->rights & (R_POLL_FD_READWRITE | (rd ? R_FD_READ : R_FD_WRITE))))
        e = WASI_ENOTCAPABLE;
    if (e) {
        s->err = e;
        s->ready = true;
        return WASI_ESUCCESS;
    }
    if (f->host >= 0) {
        s->pfd = (*npfds)++;
        pfds[s->pfd] = (struct pollfd){.fd = f->host, .events = rd ? POLLIN : POLLOUT};
        return WASI_ESUCCESS;
    }
    /* Buffered or closed stdio never blocks. */
    s->ready = true;
    wasi_stdio_kind k = stdio_kind(ctx, f);
    if (k == WASI_STDIO_CLOSED) {
        if (rd)
            s->flags = EVENT_HANGUP;
        else
            s->err = WASI_EBADF;
    } else if (rd != (f->stdio == 0)) {
        s->err = WASI_EBADF; /* reading stdout, writing stdin */
    } else if (rd) {
        s->nbytes = ctx->stdio[0].len - ctx->stdin_pos;
        if (!s->nbytes) s->flags = EVENT_HANGUP;
    } else {
        s->nbytes = ctx->stdio[f->stdio].cap - ctx->out_len[f->stdio];
    }
    return WASI_ESUCCESS;
}

/* poll_oneoff(in, out, nsubscriptions, nevents_ptr): waits until at least
 * one subscription is ready, then reports every ready one. The wait goes
 * in slices (see the top of this file): a clock subscription beyond the
 * call's deadline, or descriptors that never become ready, end the call
 * with WASM_TRAP_INTERRUPTED at the deadline, as wasi-libc's sleep() must
 * not park the host's thread for as long as the guest likes. */
static wasm_trap_code poll_oneoff(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    wasi_ctx *ctx = env;
    uint32_t n = a[2].of.i32;
    if (n == 0 || n > WASI_POLL_MAX) return wasi_ret(r, WASI_EINVAL);
    const uint8_t *in = wasm_guest_bytes(caller, a[0].of.i32, n * SUBSCRIPTION_SIZE);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, n * EVENT_SIZE);
    uint8_t *nout = wasm_guest_bytes(caller, a[3].of.i32, 4);
    if (!in || !out || !nout) return wasi_ret(r, WASI_EFAULT);
    poll_sub *subs = malloc(n * sizeof *subs);
    struct pollfd *pfds = malloc(n * sizeof *pfds);
    uint16_t e = subs && pfds ? WASI_ESUCCESS : WASI_ENOMEM;

    uint64_t now = mono_now(), first = UINT64_MAX;
    int npfds = 0;
    bool any_ready = false, any_clock = false;
    for (uint32_t i = 0; !e && i < n; i++) {
        poll_sub *s = &subs[i];
        e = poll_decode(ctx, in + i * SUBSCRIPTION_SIZE, now, s, pfds, &npfds);
        any_ready |= s->ready;
        if (!e && s->type == EVENT_CLOCK && !s->err) {
            any_clock = true;
            if (s->deadline < first) first = s->deadline;
        }
    }
    wasm_trap_code trap = WASM_TRAP_NONE;
    while (!e) {
        /* Not at all when something is ready, else until the first clock
         * fires (without end for descriptors alone), but one slice at most. */
        uint64_t d = any_ready ? 0 : any_clock ? (first > now ? first - now : 0) : UINT64_MAX;
        if (d > 0) {
            if (wasm_call_should_stop(caller)) {
                trap = WASM_TRAP_INTERRUPTED;
                break;
            }
            uint64_t slice = (uint64_t)slice_ms() * 1000000u;
            if (d > slice) d = slice;
        }
        /* whole milliseconds, rounded up: a clock never fires early */
        int ms = d == UINT64_MAX ? -1 : (int)((d + 999999u) / 1000000u);
        int rc = util_poll(pfds, (nfds_t)npfds, ms);
        now = mono_now();
        if (rc < 0 && errno != EINTR) {
            e = wasi_errno(errno);
            break;
        }
        for (uint32_t i = 0; rc > 0 && i < n; i++) {
            poll_sub *s = &subs[i];
            if (s->pfd < 0) continue;
            const struct pollfd *p = &pfds[s->pfd];
            if (!p->revents) continue;
            s->ready = true;
            if (p->revents & POLLNVAL) s->err = WASI_EBADF;
            /* An error or hang-up counts as ready: the read or write that
             * follows reports exactly what went wrong. */
            if (p->revents & (POLLHUP | POLLERR)) s->flags = EVENT_HANGUP;
            int avail;
            if (s->type == EVENT_FD_READ && ioctl(p->fd, FIONREAD, &avail) == 0 && avail > 0)
                s->nbytes = (uint64_t)avail;
            any_ready = true;
        }
        for (uint32_t i = 0; any_clock && i < n; i++) {
            poll_sub *s = &subs[i];
            if (s->type == EVENT_CLOCK && !s->err && s->deadline <= now) {
                s->ready = true;
                any_ready = true;
            }
        }
        if (any_ready) break;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; !e && !trap && i < n; i++) {
        const poll_sub *s = &subs[i];
        if (!s->ready) continue;
        uint8_t *ev = out + k++ * EVENT_SIZE;
        memset(ev, 0, EVENT_SIZE);
        wasi_put_u64(ev, s->userdata);
        wasi_put_u16(ev + 8, s->err);
        ev[10] = s->type;
        if (s->type != EVENT_CLOCK) {
            wasi_put_u64(ev + 16, s->nbytes);
            wasi_put_u16(ev + 24, s->flags);
        }
    }
    if (!e && !trap) wasi_put_u32(nout, k);
    free(subs);
    free(pfds);
    return trap != WASM_TRAP_NONE ? trap : wasi_ret(r, e);
}

/* ---- sockets ----------------------------------------------------------------- */

/* A socket descriptor holding `rights`: WASI_ENOTSOCK for any other kind
 * (before rights, which other kinds never hold), as POSIX says. */
static wasi_fd *socket_get(wasi_ctx *ctx, uint32_t fd, uint64_t rights, uint16_t *err) {
    wasi_fd *f = wasi_fd_get(ctx, fd, 0, err);
    if (f && (f->host < 0 || !is_socket(f))) {
        *err = WASI_ENOTSOCK;
        return NULL;
    }
    return f ? wasi_fd_get(ctx, fd, rights, err) : NULL;
}

/* sock_accept(fd, flags: fdflags, fd_ptr): only NONBLOCK may be asked for. */
static wasm_trap_code sock_accept(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    uint16_t e;
    wasi_fd *f = socket_get(env, a[0].of.i32, R_SOCK_ACCEPT, &e);
    if (!f) return wasi_ret(r, e);
    uint32_t flags = a[1].of.i32;
    if (flags & ~(uint32_t)FDFLAG_NONBLOCK) return wasi_ret(r, WASI_EINVAL);
    uint8_t *out = wasm_guest_bytes(caller, a[2].of.i32, 4);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    wasm_trap_code t = wait_stream(caller, f, POLLIN);
    if (t != WASM_TRAP_NONE) return t;
    int h;
    do
        h = accept4(f->host, NULL, NULL, SOCK_CLOEXEC | (flags ? SOCK_NONBLOCK : 0));
    while (h < 0 && errno == EINTR);
    if (h < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_fd entry = {.filetype = WASI_FILETYPE_SOCKET_STREAM,
                     .host = h,
                     .stdio = -1,
                     .readonly = f->readonly,
                     .rights = wasi_rights_for(WASI_FILETYPE_SOCKET_STREAM, f->readonly),
                     .fdflags = (uint16_t)flags};
    uint32_t fd;
    if ((e = wasi_fd_install(env, &entry, &fd))) {
        close(h);
        return wasi_ret(r, e);
    }
    wasi_put_u32(out, fd);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* sock_recv(fd, ri_data, ri_data_len, ri_flags, ro_datalen_ptr, ro_flags_ptr) */
static wasm_trap_code sock_recv(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    uint16_t e;
    wasi_fd *f = socket_get(env, a[0].of.i32, R_FD_READ, &e);
    if (!f) return wasi_ret(r, e);
    uint32_t flags = a[3].of.i32;
    if (flags & ~(uint32_t)(RECV_PEEK | RECV_WAITALL)) return wasi_ret(r, WASI_EINVAL);
    uint8_t *len_out = wasm_guest_bytes(caller, a[4].of.i32, 4);
    uint8_t *flags_out = wasm_guest_bytes(caller, a[5].of.i32, 2);
    if (!len_out || !flags_out) return wasi_ret(r, WASI_EFAULT);
    iov_list l;
    if ((e = iovs_load(&l, caller, a[1].of.i32, a[2].of.i32))) return wasi_ret(r, e);
    /* MSG_WAITALL is done here, one bounded wait per piece, so that it
     * cannot hold the thread past the deadline; with MSG_PEEK (or on a
     * datagram socket) nothing can be gathered, so it then waits only for
     * the first bytes. */
    bool all = (flags & RECV_WAITALL) && !(flags & RECV_PEEK) &&
               f->filetype == WASI_FILETYPE_SOCKET_STREAM;
    int hf = (flags & RECV_PEEK ? MSG_PEEK : 0) | MSG_DONTWAIT;
    int fl = fcntl(f->host, F_GETFL);
    bool blocking = l.n > 0 && !(fl >= 0 && (fl & O_NONBLOCK));
    size_t got = 0;
    int mflags = 0;
    wasm_trap_code t = WASM_TRAP_NONE;
    for (;;) {
        if (blocking && (t = wait_fd(caller, f->host, POLLIN)) != WASM_TRAP_NONE) break;
        struct msghdr m = {.msg_iov = l.v, .msg_iovlen = (size_t)l.n};
        ssize_t n;
        do
            n = recvmsg(f->host, &m, hf);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && blocking)
            continue; /* not there after all (another reader took it): wait again */
        if (n < 0) {
            e = got ? WASI_ESUCCESS : wasi_errno(errno);
            break;
        }
        got += (size_t)n;
        mflags |= m.msg_flags;
        if (!all || n == 0 || (size_t)n >= l.total) break;
        iovs_consume(&l, (size_t)n);
    }
    iovs_free(&l);
    if (t != WASM_TRAP_NONE) return t;
    if (e) return wasi_ret(r, e);
    wasi_put_u32(len_out, (uint32_t)got);
    wasi_put_u16(flags_out, mflags & MSG_TRUNC ? RECV_DATA_TRUNCATED : 0);
    return wasi_ret(r, WASI_ESUCCESS);
}

/* sock_send(fd, si_data, si_data_len, si_flags, so_datalen_ptr): witx
 * defines no send flags, so any is WASI_EINVAL. */
static wasm_trap_code sock_send(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    uint16_t e;
    wasi_fd *f = socket_get(env, a[0].of.i32, R_FD_WRITE, &e);
    if (!f) return wasi_ret(r, e);
    if (a[3].of.i32 != 0) return wasi_ret(r, WASI_EINVAL);
    uint8_t *out = wasm_guest_bytes(caller, a[4].of.i32, 4);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    iov_list l;
    if ((e = iovs_load(&l, caller, a[1].of.i32, a[2].of.i32))) return wasi_ret(r, e);
    wasm_trap_code t = l.n ? wait_stream(caller, f, POLLOUT) : WASM_TRAP_NONE;
    if (t != WASM_TRAP_NONE) {
        iovs_free(&l);
        return t;
    }
    size_t n;
    e = write_iovs(env, f, &l, -1, &n);
    iovs_free(&l);
    if (!e) wasi_put_u32(out, (uint32_t)n);
    return wasi_ret(r, e);
}

/* sock_shutdown(fd, how: sdflags) */
static wasm_trap_code sock_shutdown(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    uint16_t e;
    wasi_fd *f = socket_get(env, a[0].of.i32, R_SOCK_SHUTDOWN, &e);
    if (!f) return wasi_ret(r, e);
    static const int how[] = {-1, SHUT_RD, SHUT_WR, SHUT_RDWR};
    uint32_t h = a[1].of.i32;
    if (h == 0 || h > (SHUT_FLAG_RD | SHUT_FLAG_WR)) return wasi_ret(r, WASI_EINVAL);
    if (shutdown(f->host, how[h]) < 0) return wasi_ret(r, wasi_errno(errno));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- registration ------------------------------------------------------- */

static const wasm_host_func wasi_fd_funcs[] = {
    {"fd_advise", "iIIi>i", fd_advise},
    {"fd_allocate", "iII>i", fd_allocate},
    {"fd_close", "i>i", fd_close},
    {"fd_datasync", "i>i", fd_datasync},
    {"fd_fdstat_get", "ii>i", fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii>i", fd_fdstat_set_flags},
    {"fd_fdstat_set_rights", "iII>i", fd_fdstat_set_rights},
    {"fd_filestat_get", "ii>i", fd_filestat_get},
    {"fd_filestat_set_size", "iI>i", fd_filestat_set_size},
    {"fd_filestat_set_times", "iIIi>i", fd_filestat_set_times},
    {"fd_pread", "iiiIi>i", fd_pread},
    {"fd_prestat_get", "ii>i", fd_prestat_get},
    {"fd_prestat_dir_name", "iii>i", fd_prestat_dir_name},
    {"fd_pwrite", "iiiIi>i", fd_pwrite},
    {"fd_read", "iiii>i", fd_read},
    {"fd_renumber", "ii>i", fd_renumber},
    {"fd_seek", "iIii>i", fd_seek},
    {"fd_sync", "i>i", fd_sync},
    {"fd_tell", "ii>i", fd_tell},
    {"fd_write", "iiii>i", fd_write},
    {"poll_oneoff", "iiii>i", poll_oneoff},
    {"sock_accept", "iii>i", sock_accept},
    {"sock_recv", "iiiiii>i", sock_recv},
    {"sock_send", "iiiii>i", sock_send},
    {"sock_shutdown", "ii>i", sock_shutdown},
};

bool wasi_link_fd(wasi_ctx *ctx, wasm_linker *l, wasm_error *err) {
    return wasm_linker_funcs(l, WASI_MODULE, wasi_fd_funcs,
                             sizeof wasi_fd_funcs / sizeof wasi_fd_funcs[0], ctx, err);
}
