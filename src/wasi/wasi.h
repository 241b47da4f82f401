/*
 * wasi.h - WASI preview 1 (`wasi_snapshot_preview1`) for wasp's engine.
 *
 * A wasi_ctx is everything one running module may see: its arguments, the
 * environment variables it was granted, the directories it was granted
 * (preopens, each optionally read-only), and its stdio (host descriptors or
 * in-memory buffers). Nothing else is reachable: paths resolve only beneath
 * a preopen, never through `..`, absolute paths or symlinks that leave it.
 *
 * wasi_link() defines every preview-1 function in a wasm_linker; the
 * module is then instantiated as usual and its `_start` called. proc_exit
 * ends the call with WASM_TRAP_EXIT and records the exit code here.
 *
 * Every host call that can wait (poll_oneoff, reads and writes on pipes
 * and sockets, sock_accept, sock_recv) waits in slices of at most
 * WASI_WAIT_SLICE_MS and never past the call's deadline: once it has
 * passed, or wasm_interrupt() asked, the call ends with
 * WASM_TRAP_INTERRUPTED as the deadline would have ended running code.
 *
 * This layer uses only wasm/wasm.h. It never prints or exits: errors are
 * returned with a message naming what failed.
 */
#ifndef WASP_WASI_H
#define WASP_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

typedef struct wasi_preopen {
    const char *host_path;  /* a directory on the host */
    const char *guest_path; /* the name the guest sees, e.g. "." or "/data" */
    bool readonly;          /* refuse every write, create, rename, unlink... */
} wasi_preopen;

/* Where a standard stream goes. */
typedef enum {
    WASI_STDIO_INHERIT = 0, /* the host's own fd 0, 1 or 2 */
    WASI_STDIO_FD,          /* a host descriptor given in `fd` (not closed by wasi) */
    WASI_STDIO_BUFFER,      /* stdin: read from `data`/`len`; stdout/stderr: captured */
    WASI_STDIO_CLOSED,      /* reads give EOF, writes are refused with EBADF */
} wasi_stdio_kind;

typedef struct wasi_stdio {
    wasi_stdio_kind kind;
    int fd;              /* WASI_STDIO_FD */
    const uint8_t *data; /* WASI_STDIO_BUFFER, stdin: the bytes (borrowed) */
    size_t len;
    size_t cap; /* WASI_STDIO_BUFFER, stdout/stderr: at most this many
                 * bytes are kept (0: 1 MiB); beyond it writes fail with
                 * ENOSPC, so a guest cannot exhaust host memory */
} wasi_stdio;

/* The descriptors a guest may hold at once when wasi_config.max_fds is 0. */
#define WASI_DEFAULT_MAX_FDS 256u
/* The longest a waiting host call sleeps before it looks at the deadline
 * and wasm_interrupt() again. */
#define WASI_WAIT_SLICE_MS 100

typedef struct wasi_config {
    int argc;
    const char *const *argv; /* argv[0] is the program name the guest sees */
    int envc;
    const char *const *envp; /* "KEY=VALUE" strings, exactly what is granted */
    int npreopens;
    const wasi_preopen *preopens;
    wasi_stdio stdio[3];
    uint32_t max_fds; /* the most descriptors the guest may hold at once,
                       * stdio and preopens included (0: WASI_DEFAULT_MAX_FDS);
                       * past it path_open and sock_accept fail with EMFILE,
                       * so that no guest can use up the host's descriptors */
} wasi_config;

typedef struct wasi_ctx wasi_ctx;

/* Creates a context: copies the configuration and opens every preopen.
 * Returns NULL with a message in err (e.g. "--dir ./data: No such file or
 * directory") when a preopen cannot be opened, when a read-only preopen is
 * the same directory as a writable one or lies beneath it (it would be
 * writable through the other: the message names both), when the stdio and
 * preopens alone exceed max_fds, or when memory runs out. */
wasi_ctx *wasi_ctx_new(const wasi_config *cfg, char *err, size_t errlen);
/* What changes from one request to the next when a server reuses a
 * context (wasi_ctx_reset). */
typedef struct wasi_request {
    int argc;
    const char *const *argv;
    int envc;
    const char *const *envp;
    const uint8_t *stdin_data; /* borrowed until the next reset; used when
                                * stdin is WASI_STDIO_BUFFER */
    size_t stdin_len;
} wasi_request;

/* Makes the context as wasi_ctx_new left it, for the next request:
 * descriptors the guest opened are closed; stdio and preopens that it
 * closed, renumbered or changed come back; captured output is emptied and
 * the exit code forgotten. The arguments and environment become req's
 * (copied) and a buffered stdin reads req's bytes. When the guest left
 * the descriptor table untouched this makes no system call. False with a
 * message when memory or descriptors run out; the context must then be
 * freed. */
bool wasi_ctx_reset(wasi_ctx *ctx, const wasi_request *req, char *err, size_t errlen);

/* Closes every descriptor the guest opened and brings back the stdio and
 * preopens it closed or renumbered, leaving the rest (captured output,
 * arguments, environment, exit code) alone: what a server calls as soon as
 * a request has finished, so that nothing the request opened outlives it.
 * When the guest left the descriptor table untouched this makes no system
 * call. False with a message when descriptors run out while restoring the
 * preopens; the next wasi_ctx_reset tries again. */
bool wasi_ctx_release(wasi_ctx *ctx, char *err, size_t errlen);

/* Closes every descriptor the context opened and frees it. NULL is fine. */
void wasi_ctx_free(wasi_ctx *ctx);

/* Defines all of wasi_snapshot_preview1 in `l`, bound to `ctx` (which must
 * outlive the instances linked with it). False with *err when out of
 * memory. */
bool wasi_link(wasi_ctx *ctx, wasm_linker *l, wasm_error *err);

/* After a call ended with WASM_TRAP_EXIT: true and the code proc_exit was
 * given. False when the module has not called proc_exit. */
bool wasi_exit_code(const wasi_ctx *ctx, int *code);

/* The bytes captured from stdout (fd 1) or stderr (fd 2) when configured
 * as WASI_STDIO_BUFFER; NULL otherwise. Owned by the context. */
const uint8_t *wasi_captured(const wasi_ctx *ctx, int fd, size_t *len);

#endif
