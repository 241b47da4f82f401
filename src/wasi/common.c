/*
 * common.c - the helpers every file of src/wasi/ shares: guest-memory
 * access, little-endian stores, host-to-WASI errno translation, the
 * descriptor table and the witx `filestat` layout.
 *
 * Everything a guest hands us is hostile: a pointer becomes host memory only
 * through wasm_guest_bytes() (the engine's), which checks the whole range against the instance's
 * current memory size, and a guest fd becomes a table entry only through
 * wasi_fd_get(), which also checks its rights. Nothing here prints.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasi/internal.h"

void wasi_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void wasi_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void wasi_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t wasi_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t wasi_get_u64(const uint8_t *p) {
    return (uint64_t)wasi_get_u32(p) | (uint64_t)wasi_get_u32(p + 4) << 32;
}

uint16_t wasi_errno(int e) {
    switch (e) {
    case 0: return WASI_ESUCCESS;
    case E2BIG: return WASI_E2BIG;
    case EACCES: return WASI_EACCES;
    case EADDRINUSE: return WASI_EADDRINUSE;
    case EADDRNOTAVAIL: return WASI_EADDRNOTAVAIL;
    case EAFNOSUPPORT: return WASI_EAFNOSUPPORT;
    case EAGAIN: return WASI_EAGAIN;
    case EALREADY: return WASI_EALREADY;
    case EBADF: return WASI_EBADF;
    case EBADMSG: return WASI_EBADMSG;
    case EBUSY: return WASI_EBUSY;
    case ECANCELED: return WASI_ECANCELED;
    case ECHILD: return WASI_ECHILD;
    case ECONNABORTED: return WASI_ECONNABORTED;
    case ECONNREFUSED: return WASI_ECONNREFUSED;
    case ECONNRESET: return WASI_ECONNRESET;
    case EDEADLK: return WASI_EDEADLK;
    case EDESTADDRREQ: return WASI_EDESTADDRREQ;
    case EDOM: return WASI_EDOM;
    case EDQUOT: return WASI_EDQUOT;
    case EEXIST: return WASI_EEXIST;
    case EFAULT: return WASI_EFAULT;
    case EFBIG: return WASI_EFBIG;
    case EHOSTUNREACH: return WASI_EHOSTUNREACH;
    case EIDRM: return WASI_EIDRM;
    case EILSEQ: return WASI_EILSEQ;
    case EINPROGRESS: return WASI_EINPROGRESS;
    case EINTR: return WASI_EINTR;
    case EINVAL: return WASI_EINVAL;
    case EIO: return WASI_EIO;
    case EISCONN: return WASI_EISCONN;
    case EISDIR: return WASI_EISDIR;
    case ELOOP: return WASI_ELOOP;
    case EMFILE: return WASI_EMFILE;
    case EMLINK: return WASI_EMLINK;
    case EMSGSIZE: return WASI_EMSGSIZE;
    case EMULTIHOP: return WASI_EMULTIHOP;
    case ENAMETOOLONG: return WASI_ENAMETOOLONG;
    case ENETDOWN: return WASI_ENETDOWN;
    case ENETRESET: return WASI_ENETRESET;
    case ENETUNREACH: return WASI_ENETUNREACH;
    case ENFILE: return WASI_ENFILE;
    case ENOBUFS: return WASI_ENOBUFS;
    case ENODEV: return WASI_ENODEV;
    case ENOENT: return WASI_ENOENT;
    case ENOEXEC: return WASI_ENOEXEC;
    case ENOLCK: return WASI_ENOLCK;
    case ENOLINK: return WASI_ENOLINK;
    case ENOMEM: return WASI_ENOMEM;
    case ENOMSG: return WASI_ENOMSG;
    case ENOPROTOOPT: return WASI_ENOPROTOOPT;
    case ENOSPC: return WASI_ENOSPC;
    case ENOSYS: return WASI_ENOSYS;
    case ENOTCONN: return WASI_ENOTCONN;
    case ENOTDIR: return WASI_ENOTDIR;
    case ENOTEMPTY: return WASI_ENOTEMPTY;
    case ENOTRECOVERABLE: return WASI_ENOTRECOVERABLE;
    case ENOTSOCK: return WASI_ENOTSOCK;
    case ENOTSUP: return WASI_ENOTSUP; /* also EOPNOTSUPP on Linux */
    case ENOTTY: return WASI_ENOTTY;
    case ENXIO: return WASI_ENXIO;
    case EOVERFLOW: return WASI_EOVERFLOW;
    case EOWNERDEAD: return WASI_EOWNERDEAD;
    case EPERM: return WASI_EPERM;
    case EPIPE: return WASI_EPIPE;
    case EPROTO: return WASI_EPROTO;
    case EPROTONOSUPPORT: return WASI_EPROTONOSUPPORT;
    case EPROTOTYPE: return WASI_EPROTOTYPE;
    case ERANGE: return WASI_ERANGE;
    case EROFS: return WASI_EROFS;
    case ESPIPE: return WASI_ESPIPE;
    case ESRCH: return WASI_ESRCH;
    case ESTALE: return WASI_ESTALE;
    case ETIMEDOUT: return WASI_ETIMEDOUT;
    case ETXTBSY: return WASI_ETXTBSY;
    case EXDEV: return WASI_EXDEV;
    /* Linux-only values with a close WASI meaning. */
    case ENOTBLK: return WASI_ENOTSUP;
    case ENOMEDIUM: return WASI_ENODEV;
    case ENODATA: return WASI_ENOENT;
    case ETIME: return WASI_ETIMEDOUT;
    case ESHUTDOWN: return WASI_EPIPE;
    case EHOSTDOWN: return WASI_EHOSTUNREACH;
    case ESOCKTNOSUPPORT: return WASI_ENOTSUP;
    case EPFNOSUPPORT: return WASI_EAFNOSUPPORT;
    case EUCLEAN: return WASI_EIO;
    case EREMOTEIO: return WASI_EIO;
    default: return WASI_EIO;
    }
}

wasi_fd *wasi_fd_get(wasi_ctx *ctx, uint32_t fd, uint64_t rights, uint16_t *err) {
    if (fd >= ctx->nfds || !ctx->fds[fd].used) {
        *err = WASI_EBADF;
        return NULL;
    }
    wasi_fd *f = &ctx->fds[fd];
    if ((f->rights & rights) != rights) {
        *err = WASI_ENOTCAPABLE;
        return NULL;
    }
    *err = WASI_ESUCCESS;
    return f;
}

/* On failure the table is unchanged and the caller still owns entry's host
 * descriptor (and `dir`), so it must close them itself.
 *
 * The cap is on the table itself: a new entry goes to the lowest free
 * slot, and fd_renumber only moves entries between slots already there, so
 * the table grows only when every slot is in use, and never beyond
 * max_fds. A guest that opens files in a loop thus gets EMFILE after
 * max_fds, long before the host process runs out of descriptors or of
 * memory for the table. */
uint16_t wasi_fd_install(wasi_ctx *ctx, const wasi_fd *entry, uint32_t *out) {
    uint32_t fd = 0;
    while (fd < ctx->nfds && ctx->fds[fd].used)
        fd++;
    if (fd == ctx->nfds) {
        if (ctx->nfds >= ctx->max_fds) return WASI_EMFILE;
        uint32_t n = ctx->nfds ? ctx->nfds * 2 : 16;
        if (n > ctx->max_fds) n = ctx->max_fds;
        wasi_fd *t = realloc(ctx->fds, n * sizeof *t);
        if (!t) return WASI_ENOMEM;
        memset(t + ctx->nfds, 0, (n - ctx->nfds) * sizeof *t);
        ctx->fds = t;
        ctx->nfds = n;
    }
    ctx->fds[fd] = *entry;
    ctx->fds[fd].used = true;
    *out = fd;
    return WASI_ESUCCESS;
}

void wasi_fd_release(wasi_fd *f) {
    if (!f->used) return;
    int host = f->host;
    if (f->dir) {
        /* fd_readdir may have handed `host` itself to fdopendir. */
        DIR *d = f->dir;
        if (dirfd(d) == host) host = -1;
        closedir(d);
    }
    if (host >= 0) close(host);
    free(f->preopen);
    memset(f, 0, sizeof *f);
    f->host = -1;
    f->stdio = -1;
}

uint8_t wasi_filetype(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return WASI_FILETYPE_REGULAR_FILE;
    case S_IFDIR: return WASI_FILETYPE_DIRECTORY;
    case S_IFCHR: return WASI_FILETYPE_CHARACTER_DEVICE;
    case S_IFBLK: return WASI_FILETYPE_BLOCK_DEVICE;
    case S_IFLNK: return WASI_FILETYPE_SYMBOLIC_LINK;
    case S_IFSOCK: return WASI_FILETYPE_SOCKET_STREAM;
    default: return WASI_FILETYPE_UNKNOWN; /* FIFOs have no type of their own */
    }
}

/* Nanoseconds since the epoch; times before it (which witx cannot express)
 * become 0. */
static uint64_t timestamp(struct timespec ts) {
    if (ts.tv_sec < 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wasi_put_filestat(uint8_t *p, const struct stat *st) {
    memset(p, 0, 64);
    wasi_put_u64(p + 0, (uint64_t)st->st_dev);
    wasi_put_u64(p + 8, (uint64_t)st->st_ino);
    p[16] = wasi_filetype(st->st_mode);
    wasi_put_u64(p + 24, (uint64_t)st->st_nlink);
    wasi_put_u64(p + 32, st->st_size < 0 ? 0 : (uint64_t)st->st_size);
    wasi_put_u64(p + 40, timestamp(st->st_atim));
    wasi_put_u64(p + 48, timestamp(st->st_mtim));
    wasi_put_u64(p + 56, timestamp(st->st_ctim));
}
