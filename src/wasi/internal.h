/*
 * internal.h - what the files of src/wasi/ share: the context and its
 * descriptor table, guest-memory access, errno translation and the
 * registration hooks each file provides. Nothing outside src/wasi/
 * includes it.
 *
 * Numbers and struct layouts are those of the WASI preview 1 witx (the
 * same as wasi-libc's <wasi/api.h>): all guest-visible values are little
 * endian and written byte by byte through wasm_guest_bytes(), never through host
 * structs.
 */
#ifndef WASP_WASI_INTERNAL_H
#define WASP_WASI_INTERNAL_H

#include <sys/stat.h>

#include "wasi/wasi.h"

/* errno (witx `errno`, u16) */
enum {
    WASI_ESUCCESS = 0,
    WASI_E2BIG = 1,
    WASI_EACCES = 2,
    WASI_EADDRINUSE = 3,
    WASI_EADDRNOTAVAIL = 4,
    WASI_EAFNOSUPPORT = 5,
    WASI_EAGAIN = 6,
    WASI_EALREADY = 7,
    WASI_EBADF = 8,
    WASI_EBADMSG = 9,
    WASI_EBUSY = 10,
    WASI_ECANCELED = 11,
    WASI_ECHILD = 12,
    WASI_ECONNABORTED = 13,
    WASI_ECONNREFUSED = 14,
    WASI_ECONNRESET = 15,
    WASI_EDEADLK = 16,
    WASI_EDESTADDRREQ = 17,
    WASI_EDOM = 18,
    WASI_EDQUOT = 19,
    WASI_EEXIST = 20,
    WASI_EFAULT = 21,
    WASI_EFBIG = 22,
    WASI_EHOSTUNREACH = 23,
    WASI_EIDRM = 24,
    WASI_EILSEQ = 25,
    WASI_EINPROGRESS = 26,
    WASI_EINTR = 27,
    WASI_EINVAL = 28,
    WASI_EIO = 29,
    WASI_EISCONN = 30,
    WASI_EISDIR = 31,
    WASI_ELOOP = 32,
    WASI_EMFILE = 33,
    WASI_EMLINK = 34,
    WASI_EMSGSIZE = 35,
    WASI_EMULTIHOP = 36,
    WASI_ENAMETOOLONG = 37,
    WASI_ENETDOWN = 38,
    WASI_ENETRESET = 39,
    WASI_ENETUNREACH = 40,
    WASI_ENFILE = 41,
    WASI_ENOBUFS = 42,
    WASI_ENODEV = 43,
    WASI_ENOENT = 44,
    WASI_ENOEXEC = 45,
    WASI_ENOLCK = 46,
    WASI_ENOLINK = 47,
    WASI_ENOMEM = 48,
    WASI_ENOMSG = 49,
    WASI_ENOPROTOOPT = 50,
    WASI_ENOSPC = 51,
    WASI_ENOSYS = 52,
    WASI_ENOTCONN = 53,
    WASI_ENOTDIR = 54,
    WASI_ENOTEMPTY = 55,
    WASI_ENOTRECOVERABLE = 56,
    WASI_ENOTSOCK = 57,
    WASI_ENOTSUP = 58,
    WASI_ENOTTY = 59,
    WASI_ENXIO = 60,
    WASI_EOVERFLOW = 61,
    WASI_EOWNERDEAD = 62,
    WASI_EPERM = 63,
    WASI_EPIPE = 64,
    WASI_EPROTO = 65,
    WASI_EPROTONOSUPPORT = 66,
    WASI_EPROTOTYPE = 67,
    WASI_ERANGE = 68,
    WASI_EROFS = 69,
    WASI_ESPIPE = 70,
    WASI_ESRCH = 71,
    WASI_ESTALE = 72,
    WASI_ETIMEDOUT = 73,
    WASI_ETXTBSY = 74,
    WASI_EXDEV = 75,
    WASI_ENOTCAPABLE = 76,
};

/* filetype (u8) */
enum {
    WASI_FILETYPE_UNKNOWN = 0,
    WASI_FILETYPE_BLOCK_DEVICE = 1,
    WASI_FILETYPE_CHARACTER_DEVICE = 2,
    WASI_FILETYPE_DIRECTORY = 3,
    WASI_FILETYPE_REGULAR_FILE = 4,
    WASI_FILETYPE_SOCKET_DGRAM = 5,
    WASI_FILETYPE_SOCKET_STREAM = 6,
    WASI_FILETYPE_SYMBOLIC_LINK = 7,
};

/* rights (witx `rights`, u64): one bit per operation a descriptor allows */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_SOCK_SHUTDOWN (1ull << 28)
#define R_SOCK_ACCEPT (1ull << 29)

/* One entry of the guest's descriptor table. */
typedef struct wasi_fd {
    bool used;
    uint8_t filetype;    /* WASI_FILETYPE_* */
    int host;            /* host descriptor; -1 for buffered or closed stdio */
    int stdio;           /* 0, 1 or 2 for the stdio entries, else -1 */
    bool readonly;       /* from a read-only preopen: every write refused */
    uint64_t rights;     /* rights_base */
    uint64_t inheriting; /* rights_inheriting */
    uint16_t fdflags;    /* APPEND, DSYNC, NONBLOCK, RSYNC, SYNC */
    char *preopen;       /* the guest path of a preopened directory, else NULL */
    void *dir;           /* DIR * kept open between fd_readdir calls, owned */
    uint64_t dir_cookie; /* the cookie `dir` is positioned at */
} wasi_fd;

struct wasi_ctx {
    int argc, envc;
    char **argv, **envp; /* owned copies */
    wasi_fd *fds;        /* index = guest fd */
    uint32_t nfds;       /* entries allocated, never more than max_fds */
    uint32_t max_fds;    /* entries the guest may hold at once */
    wasi_stdio stdio[3]; /* as configured */
    size_t stdin_pos;    /* next byte of a buffered stdin */
    uint8_t *out[3];     /* captured stdout (1) and stderr (2) */
    size_t out_len[3], out_cap[3];
    bool exited;
    int exit_code;
    /* For wasi_ctx_reset: entries [0, ninit) are stdio and the preopens.
     * `tmpl` owns a duplicate of each (host descriptor and name) to rebuild
     * them from; `clean` is a non-owning copy of the live entries as last
     * rebuilt, to tell cheaply whether the guest changed anything. */
    uint32_t ninit;
    wasi_fd *tmpl, *clean;
};

/* Little-endian stores into guest memory already checked by
 * wasm_guest_bytes(). */
void wasi_put_u16(uint8_t *p, uint16_t v);
void wasi_put_u32(uint8_t *p, uint32_t v);
void wasi_put_u64(uint8_t *p, uint64_t v);
uint32_t wasi_get_u32(const uint8_t *p);
uint64_t wasi_get_u64(const uint8_t *p);

/* The WASI errno for a host errno value (ENOENT -> WASI_ENOENT, ...). */
uint16_t wasi_errno(int host_errno);

/* Looks up guest descriptor `fd` and checks it holds all of `rights`;
 * NULL with *err = WASI_EBADF (no such fd) or WASI_ENOTCAPABLE. */
wasi_fd *wasi_fd_get(wasi_ctx *ctx, uint32_t fd, uint64_t rights, uint16_t *err);
/* Installs `entry` at the lowest free guest fd; WASI_ESUCCESS and *out, or
 * WASI_EMFILE (ctx->max_fds entries in use) / WASI_ENOMEM. The table takes
 * ownership of entry's host fd. */
uint16_t wasi_fd_install(wasi_ctx *ctx, const wasi_fd *entry, uint32_t *out);
/* Closes an entry's host resources and marks it free. */
void wasi_fd_release(wasi_fd *f);

/* WASI filetype of a host st_mode. */
uint8_t wasi_filetype(mode_t mode);
/* Writes a witx `filestat` (64 bytes) for `st` at p. */
void wasi_put_filestat(uint8_t *p, const struct stat *st);

/* Rights a descriptor of each kind may hold (all of preview 1's bits that
 * make sense for it); read-only preopens drop the writing ones. */
uint64_t wasi_rights_for(uint8_t filetype, bool readonly);

/* Defines the functions each file implements (called by wasi_link). */
bool wasi_link_core(wasi_ctx *ctx, wasm_linker *l, wasm_error *err); /* wasi.c, fd.c */
bool wasi_link_path(wasi_ctx *ctx, wasm_linker *l, wasm_error *err); /* path.c */
/* Fills p[0, len) with cryptographically secure random bytes: 0, or an
 * errno (random.c). */
int wasi_random_fill(uint8_t *p, size_t len);

/* ---- added with wasi.c/fd.c: how a file registers its functions ---- */
/* The import module of every preview-1 function. */
#define WASI_MODULE "wasi_snapshot_preview1"
/* fd.c's share of wasi_link_core: fd_* (not fd_readdir), poll, sock_*. */
bool wasi_link_fd(wasi_ctx *ctx, wasm_linker *l, wasm_error *err);
/* ---- end of addition ---- */

/* A host-function result: stores the errno in results[0] and returns
 * WASM_TRAP_NONE, as every preview-1 function does. */
static inline wasm_trap_code wasi_ret(wasm_value *results, uint16_t err) {
    results[0].type = WASM_I32;
    results[0].of.i32 = err;
    return WASM_TRAP_NONE;
}

#endif
