/*
 * wasi.c - the WASI context (what one module may see) and the preview-1
 * functions that need no descriptor: args, environ, clocks, random,
 * proc_exit, proc_raise, sched_yield. wasi_link() registers these, then
 * fd.c's (wasi_link_fd) and path.c's (wasi_link_path).
 *
 * wasi_ctx_new() copies everything it is given, so the caller's
 * configuration may go away at once. The guest's descriptor table starts
 * as stdin, stdout, stderr, then one directory per preopen from fd 3 on,
 * which is the order wasi-libc discovers them in with fd_prestat_get.
 * Host descriptors handed in (inherited or WASI_STDIO_FD) are duplicated,
 * so the guest closing its fd 1 never closes the host's.
 *
 * Nothing here prints or exits: proc_exit only records its code and ends
 * the guest's call with WASM_TRAP_EXIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wasi/internal.h"

#define DEFAULT_CAPTURE_CAP (1u << 20)

/* ---- the context ------------------------------------------------------- */

static char **copy_strings(int n, const char *const *src) {
    char **v = calloc((size_t)n + 1, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) {
        v[i] = strdup(src[i] ? src[i] : "");
        if (!v[i]) {
            while (i--)
                free(v[i]);
            free(v);
            return NULL;
        }
    }
    return v;
}

static void free_strings(int n, char **v) {
    if (!v) return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* How a host descriptor handed in as stdio looks to the guest, as in
 * wasmtime: a terminal is a character device, a socket a socket, anything
 * else (pipes, files, /dev/null) an unknown stream without seek rights. */
static uint8_t stdio_filetype(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return WASI_FILETYPE_UNKNOWN;
    if (S_ISSOCK(st.st_mode)) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_DGRAM)
            return WASI_FILETYPE_SOCKET_DGRAM;
        return WASI_FILETYPE_SOCKET_STREAM;
    }
    if (S_ISCHR(st.st_mode) && isatty(fd)) return WASI_FILETYPE_CHARACTER_DEVICE;
    return WASI_FILETYPE_UNKNOWN;
}

static const char *const stdio_names[3] = {"stdin", "stdout", "stderr"};

/* Sets up guest fd i (0, 1 or 2) as configured. */
static bool open_stdio(wasi_ctx *ctx, int i, const wasi_stdio *cfg, char *err, size_t errlen) {
    wasi_stdio s = *cfg;
    wasi_fd e = {.filetype = WASI_FILETYPE_UNKNOWN, .host = -1, .stdio = i};
    char buf[128];
    switch (s.kind) {
    case WASI_STDIO_INHERIT:
    case WASI_STDIO_FD: {
        int from = s.kind == WASI_STDIO_INHERIT ? i : s.fd;
        e.host = fcntl(from, F_DUPFD_CLOEXEC, 0);
        if (e.host < 0 && s.kind == WASI_STDIO_INHERIT && errno == EBADF) {
            s.kind = WASI_STDIO_CLOSED; /* the host's own stream is closed */
            break;
        }
        if (e.host < 0) {
            snprintf(err, errlen, "%s: descriptor %d: %s", stdio_names[i], from,
                     strerror_r(errno, buf, sizeof buf));
            return false;
        }
        e.filetype = stdio_filetype(e.host);
        break;
    }
    case WASI_STDIO_BUFFER:
        if (i > 0 && s.cap == 0) s.cap = DEFAULT_CAPTURE_CAP;
        if (i == 0 && !s.data) s.len = 0;
        break;
    case WASI_STDIO_CLOSED: break;
    default:
        snprintf(err, errlen, "%s: unknown stdio kind %d", stdio_names[i], (int)s.kind);
        return false;
    }
    ctx->stdio[i] = s;
    e.rights = wasi_rights_for(e.filetype, false);
    uint32_t fd;
    if (wasi_fd_install(ctx, &e, &fd)) {
        if (e.host >= 0) close(e.host);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

/* Whether the directory open at `dir` is the directory `top` or lies
 * beneath it: walks up through ".." (the host's own lookups, not a guest's)
 * to the root, comparing device and inode, so symlinks and relative names
 * in the configured paths make no difference. A bind mount of a
 * subdirectory elsewhere is not seen as beneath its source. */
static bool dir_within(int dir, const struct stat *top) {
    int cur = openat(dir, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool found = false;
    for (int depth = 0; cur >= 0 && depth < 4096; depth++) {
        struct stat st, up;
        if (fstat(cur, &st) < 0) break;
        if (st.st_dev == top->st_dev && st.st_ino == top->st_ino) {
            found = true;
            break;
        }
        int parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (parent < 0 || fstat(parent, &up) < 0 ||
            (up.st_dev == st.st_dev && up.st_ino == st.st_ino)) {
            if (parent >= 0) close(parent);
            break; /* the root */
        }
        close(cur);
        cur = parent;
    }
    if (cur >= 0) close(cur);
    return found;
}

/* A read-only grant that is a writable grant's directory, or lies beneath
 * it, is not read-only at all: the guest writes to it through the other
 * name (/data/./ro/f.txt). Such a configuration is refused rather than
 * half honoured. Entries [3, 3 + n) of the table are the preopens, in the
 * order of `pre`. */
static bool check_overlaps(wasi_ctx *ctx, const wasi_preopen *pre, int n, char *err,
                           size_t errlen) {
    for (int w = 0; w < n; w++) {
        struct stat top;
        if (pre[w].readonly || fstat(ctx->fds[3 + w].host, &top) < 0) continue;
        for (int r = 0; r < n; r++) {
            if (!pre[r].readonly || !dir_within(ctx->fds[3 + r].host, &top)) continue;
            struct stat st;
            bool same = fstat(ctx->fds[3 + r].host, &st) == 0 && st.st_dev == top.st_dev &&
                        st.st_ino == top.st_ino;
            const char *rg = pre[r].guest_path ? pre[r].guest_path : pre[r].host_path;
            const char *wg = pre[w].guest_path ? pre[w].guest_path : pre[w].host_path;
            snprintf(err, errlen,
                     "the read-only directory %s (guest %s) %s the writable directory %s (guest "
                     "%s), so the guest could write to it through %s; grant both read-only, or "
                     "directories that do not overlap",
                     pre[r].host_path, rg, same ? "is the same as" : "lies inside",
                     pre[w].host_path, wg, wg);
            return false;
        }
    }
    return true;
}

static bool open_preopen(wasi_ctx *ctx, const wasi_preopen *p, char *err, size_t errlen) {
    char buf[128];
    const char *guest = p->guest_path ? p->guest_path : p->host_path;
    int h = p->host_path ? open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (h < 0) {
        snprintf(err, errlen, "--dir %s: %s", p->host_path ? p->host_path : "(null)",
                 p->host_path ? strerror_r(errno, buf, sizeof buf) : "no host path");
        return false;
    }
    wasi_fd e = {.filetype = WASI_FILETYPE_DIRECTORY,
                 .host = h,
                 .stdio = -1,
                 .readonly = p->readonly,
                 .rights = wasi_rights_for(WASI_FILETYPE_DIRECTORY, p->readonly),
                 .inheriting = wasi_rights_for(WASI_FILETYPE_DIRECTORY, p->readonly) |
                               wasi_rights_for(WASI_FILETYPE_REGULAR_FILE, p->readonly),
                 .preopen = strdup(guest)};
    uint32_t fd;
    if (!e.preopen || wasi_fd_install(ctx, &e, &fd)) {
        free(e.preopen);
        close(h);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

/* A copy of entry `e` owning its own host descriptor and name; false
 * (errno set) when the descriptor cannot be duplicated. */
static bool copy_entry(const wasi_fd *e, wasi_fd *out) {
    *out = *e;
    out->dir = NULL;
    out->dir_cookie = 0;
    out->host = -1;
    out->preopen = NULL;
    if (e->host >= 0 && (out->host = fcntl(e->host, F_DUPFD_CLOEXEC, 0)) < 0) return false;
    if (e->preopen && !(out->preopen = strdup(e->preopen))) {
        if (out->host >= 0) close(out->host);
        out->host = -1;
        return false;
    }
    return true;
}

static bool same_strings(int n, char *const *have, int m, const char *const *want) {
    if (n != m) return false;
    for (int i = 0; i < n; i++)
        if (strcmp(have[i], want[i] ? want[i] : "")) return false;
    return true;
}

static bool save_template(wasi_ctx *ctx) {
    uint32_t n = 0;
    while (n < ctx->nfds && ctx->fds[n].used)
        n++;
    ctx->tmpl = calloc(n + 1, sizeof *ctx->tmpl);
    ctx->clean = calloc(n + 1, sizeof *ctx->clean);
    if (!ctx->tmpl || !ctx->clean) return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!copy_entry(&ctx->fds[i], &ctx->tmpl[i])) return false;
        ctx->ninit = i + 1;
    }
    memcpy(ctx->clean, ctx->fds, n * sizeof *ctx->fds);
    return true;
}

bool wasi_ctx_release(wasi_ctx *ctx, char *err, size_t errlen) {
    bool dirty = memcmp(ctx->fds, ctx->clean, ctx->ninit * sizeof *ctx->fds) != 0;
    for (uint32_t i = ctx->ninit; i < ctx->nfds && !dirty; i++)
        dirty = ctx->fds[i].used;
    if (!dirty) return true;
    for (uint32_t i = 0; i < ctx->nfds; i++)
        wasi_fd_release(&ctx->fds[i]);
    for (uint32_t i = 0; i < ctx->ninit; i++) {
        if (!copy_entry(&ctx->tmpl[i], &ctx->fds[i])) {
            snprintf(err, errlen, "cannot restore the guest's descriptors: %s",
                     strerror_r(errno, (char[128]){0}, 128));
            return false;
        }
        ctx->fds[i].used = true;
    }
    memcpy(ctx->clean, ctx->fds, ctx->ninit * sizeof *ctx->fds);
    return true;
}

bool wasi_ctx_reset(wasi_ctx *ctx, const wasi_request *req, char *err, size_t errlen) {
    if (!wasi_ctx_release(ctx, err, errlen)) return false;
    ctx->stdin_pos = 0;
    ctx->out_len[1] = ctx->out_len[2] = 0;
    ctx->exited = false;
    ctx->exit_code = 0;
    if (ctx->stdio[0].kind == WASI_STDIO_BUFFER) {
        ctx->stdio[0].data = req->stdin_data;
        ctx->stdio[0].len = req->stdin_data ? req->stdin_len : 0;
    }
    if (same_strings(ctx->argc, ctx->argv, req->argc, req->argv) &&
        same_strings(ctx->envc, ctx->envp, req->envc, req->envp))
        return true; /* a server's requests often share them: keep the copies */
    char **argv = copy_strings(req->argc, req->argv);
    char **envp = copy_strings(req->envc, req->envp);
    if (!argv || !envp) {
        free_strings(req->argc, argv);
        free_strings(req->envc, envp);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    free_strings(ctx->argc, ctx->argv);
    free_strings(ctx->envc, ctx->envp);
    ctx->argv = argv;
    ctx->argc = req->argc;
    ctx->envp = envp;
    ctx->envc = req->envc;
    return true;
}

wasi_ctx *wasi_ctx_new(const wasi_config *cfg, char *err, size_t errlen) {
    wasi_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg->argc < 0 || cfg->envc < 0 || cfg->npreopens < 0 || (cfg->argc && !cfg->argv) ||
        (cfg->envc && !cfg->envp) || (cfg->npreopens && !cfg->preopens)) {
        snprintf(err, errlen, "invalid WASI configuration");
        free(ctx);
        return NULL;
    }
    ctx->max_fds = cfg->max_fds ? cfg->max_fds : WASI_DEFAULT_MAX_FDS;
    if ((uint64_t)cfg->npreopens + 3 > ctx->max_fds) {
        snprintf(err, errlen, "%d directories granted, but the guest may hold only %u descriptors",
                 cfg->npreopens, ctx->max_fds);
        free(ctx);
        return NULL;
    }
    if ((ctx->argv = copy_strings(cfg->argc, cfg->argv))) ctx->argc = cfg->argc;
    if ((ctx->envp = copy_strings(cfg->envc, cfg->envp))) ctx->envc = cfg->envc;
    if (!ctx->argv || !ctx->envp) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < 3; i++)
        if (!open_stdio(ctx, i, &cfg->stdio[i], err, errlen)) goto fail;
    for (int i = 0; i < cfg->npreopens; i++)
        if (!open_preopen(ctx, &cfg->preopens[i], err, errlen)) goto fail;
    if (!check_overlaps(ctx, cfg->preopens, cfg->npreopens, err, errlen)) goto fail;
    if (!save_template(ctx)) {
        snprintf(err, errlen, "cannot duplicate the context's descriptors: %s",
                 strerror_r(errno, (char[128]){0}, 128));
        goto fail;
    }
    return ctx;
fail:
    wasi_ctx_free(ctx);
    return NULL;
}

void wasi_ctx_free(wasi_ctx *ctx) {
    if (!ctx) return;
    for (uint32_t i = 0; i < ctx->nfds; i++)
        wasi_fd_release(&ctx->fds[i]);
    free(ctx->fds);
    for (uint32_t i = 0; i < ctx->ninit; i++)
        wasi_fd_release(&ctx->tmpl[i]);
    free(ctx->tmpl);
    free(ctx->clean);
    free_strings(ctx->argc, ctx->argv);
    free_strings(ctx->envc, ctx->envp);
    for (int i = 0; i < 3; i++)
        free(ctx->out[i]);
    free(ctx);
}

bool wasi_exit_code(const wasi_ctx *ctx, int *code) {
    if (!ctx->exited) return false;
    *code = ctx->exit_code;
    return true;
}

const uint8_t *wasi_captured(const wasi_ctx *ctx, int fd, size_t *len) {
    *len = 0;
    if (fd < 1 || fd > 2 || ctx->stdio[fd].kind != WASI_STDIO_BUFFER) return NULL;
    *len = ctx->out_len[fd];
    return ctx->out[fd] ? ctx->out[fd] : (const uint8_t *)"";
}

/* ---- args and environ ----------------------------------------------------- */

/* The bytes n NUL-terminated strings take; more than a u32 cannot be
 * described to the guest. */
static uint64_t strings_size(int n, char *const *v) {
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    return total;
}

static uint16_t sizes_get(wasm_instance *caller, int n, char *const *v, uint32_t count_ptr,
                          uint32_t size_ptr) {
    uint8_t *count = wasm_guest_bytes(caller, count_ptr, 4),
            *size = wasm_guest_bytes(caller, size_ptr, 4);
    if (!count || !size) return WASI_EFAULT;
    uint64_t total = strings_size(n, v);
    if (total > UINT32_MAX) return WASI_EOVERFLOW;
    wasi_put_u32(count, (uint32_t)n);
    wasi_put_u32(size, (uint32_t)total);
    return WASI_ESUCCESS;
}

/* Writes n pointers at ptrs and the strings they point to at buf. */
static uint16_t strings_get(wasm_instance *caller, int n, char *const *v, uint32_t ptrs,
                            uint32_t buf) {
    uint64_t total = strings_size(n, v);
    if (total > UINT32_MAX || (uint64_t)n * 4 > UINT32_MAX) return WASI_EOVERFLOW;
    uint8_t *p = wasm_guest_bytes(caller, ptrs, (uint32_t)n * 4);
    uint8_t *b = wasm_guest_bytes(caller, buf, (uint32_t)total);
    if (!p || !b) return WASI_EFAULT;
    uint32_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(v[i]) + 1;
        wasi_put_u32(p + 4 * (size_t)i, buf + off);
        memcpy(b + off, v[i], len);
        off += (uint32_t)len;
    }
    return WASI_ESUCCESS;
}

/* args_sizes_get(argc_ptr, argv_buf_size_ptr) */
static wasm_trap_code args_sizes_get(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    wasi_ctx *ctx = env;
    return wasi_ret(r, sizes_get(caller, ctx->argc, ctx->argv, a[0].of.i32, a[1].of.i32));
}

/* args_get(argv, argv_buf) */
static wasm_trap_code args_get(void *env, wasm_instance *caller, const wasm_value *a,
                               wasm_value *r) {
    wasi_ctx *ctx = env;
    return wasi_ret(r, strings_get(caller, ctx->argc, ctx->argv, a[0].of.i32, a[1].of.i32));
}

/* environ_sizes_get(environc_ptr, environ_buf_size_ptr) */
static wasm_trap_code environ_sizes_get(void *env, wasm_instance *caller, const wasm_value *a,
                                        wasm_value *r) {
    wasi_ctx *ctx = env;
    return wasi_ret(r, sizes_get(caller, ctx->envc, ctx->envp, a[0].of.i32, a[1].of.i32));
}

/* environ_get(environ, environ_buf) */
static wasm_trap_code environ_get(void *env, wasm_instance *caller, const wasm_value *a,
                                  wasm_value *r) {
    wasi_ctx *ctx = env;
    return wasi_ret(r, strings_get(caller, ctx->envc, ctx->envp, a[0].of.i32, a[1].of.i32));
}

/* ---- clocks, random, process ------------------------------------------------ */

/* The host clock for a witx clockid: realtime, monotonic, process and
 * thread CPU time; false for any other id. */
static bool host_clock(uint32_t id, clockid_t *out) {
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                    CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof ids / sizeof ids[0]) return false;
    *out = ids[id];
    return true;
}

static uint64_t ns(struct timespec ts) {
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* clock_res_get(id, resolution_ptr) */
static wasm_trap_code clock_res_get(void *env, wasm_instance *caller, const wasm_value *a,
                                    wasm_value *r) {
    clockid_t id;
    if (!host_clock(a[0].of.i32, &id)) return wasi_ret(r, WASI_EINVAL);
    uint8_t *out = wasm_guest_bytes(caller, a[1].of.i32, 8);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    struct timespec ts;
    if (clock_getres(id, &ts) < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_put_u64(out, ns(ts));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* clock_time_get(id, precision: u64, time_ptr); the precision is a hint
 * that every host clock already meets or cannot improve on. */
static wasm_trap_code clock_time_get(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    clockid_t id;
    if (!host_clock(a[0].of.i32, &id)) return wasi_ret(r, WASI_EINVAL);
    uint8_t *out = wasm_guest_bytes(caller, a[2].of.i32, 8);
    if (!out) return wasi_ret(r, WASI_EFAULT);
    struct timespec ts;
    if (clock_gettime(id, &ts) < 0) return wasi_ret(r, wasi_errno(errno));
    wasi_put_u64(out, ns(ts));
    return wasi_ret(r, WASI_ESUCCESS);
}

/* random_get(buf, buf_len): a CSPRNG keyed from the kernel's (random.c). */
static wasm_trap_code random_get(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    uint32_t len = a[1].of.i32;
    uint8_t *p = wasm_guest_bytes(caller, a[0].of.i32, len);
    if (!p) return wasi_ret(r, WASI_EFAULT);
    int e = wasi_random_fill(p, len);
    return wasi_ret(r, e ? wasi_errno(e) : WASI_ESUCCESS);
}

/* proc_exit(code) -> (): records the code and ends the call. */
static wasm_trap_code proc_exit(void *env, wasm_instance *caller, const wasm_value *a,
                                wasm_value *r) {
    wasi_ctx *ctx = env;
    ctx->exited = true;
    ctx->exit_code = (int)a[0].of.i32;
    return WASM_TRAP_EXIT;
}

/* proc_raise(sig): there are no signals to raise in a sandbox. */
static wasm_trap_code proc_raise(void *env, wasm_instance *caller, const wasm_value *a,
                                 wasm_value *r) {
    return wasi_ret(r, WASI_ENOSYS);
}

/* sched_yield() */
static wasm_trap_code sched_yield_fn(void *env, wasm_instance *caller, const wasm_value *a,
                                     wasm_value *r) {
    sched_yield();
    return wasi_ret(r, WASI_ESUCCESS);
}

/* ---- linking ------------------------------------------------------------ */

static const wasm_host_func wasi_core_funcs[] = {
    {"args_get", "ii>i", args_get},           {"args_sizes_get", "ii>i", args_sizes_get},
    {"environ_get", "ii>i", environ_get},     {"environ_sizes_get", "ii>i", environ_sizes_get},
    {"clock_res_get", "ii>i", clock_res_get}, {"clock_time_get", "iIi>i", clock_time_get},
    {"random_get", "ii>i", random_get},       {"proc_exit", "i>", proc_exit},
    {"proc_raise", "i>i", proc_raise},        {"sched_yield", ">i", sched_yield_fn},
};

bool wasi_link_core(wasi_ctx *ctx, wasm_linker *l, wasm_error *err) {
    return wasm_linker_funcs(l, WASI_MODULE, wasi_core_funcs,
                             sizeof wasi_core_funcs / sizeof wasi_core_funcs[0], ctx, err) &&
           wasi_link_fd(ctx, l, err);
}

bool wasi_link(wasi_ctx *ctx, wasm_linker *l, wasm_error *err) {
    return wasi_link_core(ctx, l, err) && wasi_link_path(ctx, l, err);
}
