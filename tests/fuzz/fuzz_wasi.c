/*
 * fuzz_wasi.c - libFuzzer target for the WASI host functions (src/wasi/):
 * the input is a program of WASI calls, made from a real guest.
 *
 * A wrapper module, built here once as bytes, imports every preview-1
 * function and exports, under the same name, a function of the same type
 * that passes its arguments straight on; it has two pages of memory. Each
 * input gets a fresh context over a fresh scratch tree under /tmp:
 *
 *   /rw  writable: a.txt, sub/, link -> a.txt
 *   /ro  read-only: f.txt, sub/g.txt
 *   fd 0 a socket holding a few bytes (reads past them wait), fd 1 a pipe
 *        nobody reads (writes past 64 KiB wait), fd 2 captured; at most
 *        MAX_FDS descriptors
 *
 * and memory preset with names, iovecs and poll subscriptions at fixed
 * places. The input then reads as a list of steps: a byte picks a function
 * (or "copy the next bytes into memory"), and each argument takes a
 * selector byte and its value: a small number, an address inside memory,
 * any 32-bit value, or for i64 an edge value. Wild pointers, huge lengths,
 * garbage subscriptions and paths with `..` all come out of that.
 *
 * Every call runs under a deadline of at most CALL_MS, and an input stops
 * after INPUT_MS: what waits (poll_oneoff on a far clock, reads from the
 * empty socket, writes to the full pipe) must end with
 * WASM_TRAP_INTERRUPTED by then, or libFuzzer's -timeout reports a hang.
 * After each input the target checks what the sandbox promises and
 * aborts (a finding) when it is broken: the read-only tree is exactly as
 * made, nothing appeared beside /rw and /ro, no symlink in /rw has an
 * absolute target or a `..` (issue 10, F09), and every host descriptor
 * the context opened is closed again.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi/wasi.h"
#include "wasm/wasm.h"

#define MAX_STEPS 64
#define CALL_MS 5
#define INPUT_MS 60
#define MAX_FDS 24
#define PAGES 2
#define MEM_SIZE (PAGES * 65536u)

/* Every preview-1 function, with its signature as wasm_linker_funcs reads
 * it: 'i' i32, 'I' i64, results after '>'. */
static const struct {
    const char *name, *sig;
} funcs[] = {
    {"args_get", "ii>i"},
    {"args_sizes_get", "ii>i"},
    {"environ_get", "ii>i"},
    {"environ_sizes_get", "ii>i"},
    {"clock_res_get", "ii>i"},
    {"clock_time_get", "iIi>i"},
    {"random_get", "ii>i"},
    {"proc_exit", "i>"},
    {"proc_raise", "i>i"},
    {"sched_yield", ">i"},
    {"fd_advise", "iIIi>i"},
    {"fd_allocate", "iII>i"},
    {"fd_close", "i>i"},
    {"fd_datasync", "i>i"},
    {"fd_fdstat_get", "ii>i"},
    {"fd_fdstat_set_flags", "ii>i"},
    {"fd_fdstat_set_rights", "iII>i"},
    {"fd_filestat_get", "ii>i"},
    {"fd_filestat_set_size", "iI>i"},
    {"fd_filestat_set_times", "iIIi>i"},
    {"fd_pread", "iiiIi>i"},
    {"fd_prestat_get", "ii>i"},
    {"fd_prestat_dir_name", "iii>i"},
    {"fd_pwrite", "iiiIi>i"},
    {"fd_read", "iiii>i"},
    {"fd_readdir", "iiiIi>i"},
    {"fd_renumber", "ii>i"},
    {"fd_seek", "iIii>i"},
    {"fd_sync", "i>i"},
    {"fd_tell", "ii>i"},
    {"fd_write", "iiii>i"},
    {"path_create_directory", "iii>i"},
    {"path_filestat_get", "iiiii>i"},
    {"path_filestat_set_times", "iiiiIIi>i"},
    {"path_link", "iiiiiii>i"},
    {"path_open", "iiiiiIIii>i"},
    {"path_readlink", "iiiiii>i"},
    {"path_remove_directory", "iii>i"},
    {"path_rename", "iiiiii>i"},
    {"path_symlink", "iiiii>i"},
    {"path_unlink_file", "iii>i"},
    {"poll_oneoff", "iiii>i"},
    {"sock_accept", "iii>i"},
    {"sock_recv", "iiiiii>i"},
    {"sock_send", "iiiii>i"},
    {"sock_shutdown", "ii>i"},
};
#define NFUNCS (sizeof funcs / sizeof funcs[0])

/* ---- the wrapper module ------------------------------------------------- */

typedef struct buf {
    uint8_t b[16384];
    size_t n;
} buf;

static void put(buf *o, uint8_t v) {
    if (o->n >= sizeof o->b) abort();
    o->b[o->n++] = v;
}

static void put_u32(buf *o, uint32_t v) {
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        put(o, byte | (v ? 0x80 : 0));
    } while (v);
}

static void put_name(buf *o, const char *s) {
    put_u32(o, (uint32_t)strlen(s));
    while (*s)
        put(o, (uint8_t)*s++);
}

static void put_section(buf *o, uint8_t id, const buf *body) {
    put(o, id);
    put_u32(o, (uint32_t)body->n);
    for (size_t i = 0; i < body->n; i++)
        put(o, body->b[i]);
}

static uint32_t nparams(const char *sig) {
    return (uint32_t)strcspn(sig, ">");
}

/* Type i and import i are funcs[i]; function NFUNCS + i calls import i. */
static size_t build_wrapper(buf *o) {
    static buf s;
    o->n = 0;
    const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        put(o, magic[i]);
    s.n = 0; /* types */
    put_u32(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++) {
        const char *sig = funcs[i].sig;
        put(&s, 0x60);
        put_u32(&s, nparams(sig));
        for (const char *c = sig; *c != '>'; c++)
            put(&s, *c == 'I' ? 0x7e : 0x7f);
        bool result = sig[nparams(sig) + 1] != 0;
        put_u32(&s, result ? 1 : 0);
        if (result) put(&s, 0x7f);
    }
    put_section(o, 1, &s);
    s.n = 0; /* imports */
    put_u32(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++) {
        put_name(&s, "wasi_snapshot_preview1");
        put_name(&s, funcs[i].name);
        put(&s, 0x00);
        put_u32(&s, (uint32_t)i);
    }
    put_section(o, 2, &s);
    s.n = 0; /* functions */
    put_u32(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++)
        put_u32(&s, (uint32_t)i);
    put_section(o, 3, &s);
    s.n = 0; /* memory: PAGES, fixed */
    put_u32(&s, 1);
    put(&s, 0x01);
    put_u32(&s, PAGES);
    put_u32(&s, PAGES);
    put_section(o, 5, &s);
    s.n = 0; /* exports */
    put_u32(&s, NFUNCS + 1);
    put_name(&s, "memory");
    put(&s, 0x02);
    put_u32(&s, 0);
    for (size_t i = 0; i < NFUNCS; i++) {
        put_name(&s, funcs[i].name);
        put(&s, 0x00);
        put_u32(&s, (uint32_t)(NFUNCS + i));
    }
    put_section(o, 7, &s);
    s.n = 0; /* code */
    put_u32(&s, NFUNCS);
    for (size_t i = 0; i < NFUNCS; i++) {
        buf body = {.n = 0};
        put_u32(&body, 0); /* no locals */
        for (uint32_t k = 0; k < nparams(funcs[i].sig); k++) {
            put(&body, 0x20);
            put_u32(&body, k);
        }
        put(&body, 0x10);
        put_u32(&body, (uint32_t)i);
        put(&body, 0x0b);
        put_u32(&s, (uint32_t)body.n);
        for (size_t k = 0; k < body.n; k++)
            put(&s, body.b[k]);
    }
    put_section(o, 10, &s);
    return o->n;
}

static wasm_module *wrapper(void) {
    static wasm_module *m;
    if (!m) {
        static buf o;
        wasm_error err;
        m = wasm_module_load(o.b, build_wrapper(&o), &err);
        if (!m) {
            fprintf(stderr, "fuzz_wasi: the wrapper module does not load: %s\n", err.msg);
            abort();
        }
    }
    return m;
}

/* ---- the scratch tree --------------------------------------------------- */

static void make_file(const char *dir, const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fputs(text, f);
    fclose(f);
}

static void make_tree(const char *top) {
    char rw[128], ro[128], p[256];
    snprintf(rw, sizeof rw, "%s/rw", top);
    snprintf(ro, sizeof ro, "%s/ro", top);
    if (mkdir(rw, 0700) || mkdir(ro, 0700)) abort();
    make_file(rw, "a.txt", "hello\n");
    snprintf(p, sizeof p, "%s/sub", rw);
    if (mkdir(p, 0700)) abort();
    snprintf(p, sizeof p, "%s/link", rw);
    if (symlink("a.txt", p)) abort();
    make_file(ro, "f.txt", "read-only\n");
    snprintf(p, sizeof p, "%s/sub", ro);
    if (mkdir(p, 0700)) abort();
    make_file(p, "g.txt", "also\n");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* The names in dir, sorted and joined with '/', into out. */
static void listing(const char *dir, char *out, size_t cap) {
    struct dirent **names;
    out[0] = 0;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            strncat(out, names[i]->d_name, cap - strlen(out) - 1);
            strncat(out, "/", cap - strlen(out) - 1);
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
}

static void expect_file(const char *top, const char *rel, const char *text) {
    char p[256], got[64] = {0};
    snprintf(p, sizeof p, "%s/%s", top, rel);
    FILE *f = fopen(p, "r");
    size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f) fclose(f);
    struct stat st;
    if (!f || n != strlen(text) || memcmp(got, text, n) || lstat(p, &st) || !S_ISREG(st.st_mode) ||
        st.st_nlink != 1) {
        fprintf(stderr, "fuzz_wasi: %s changed through a read-only grant\n", rel);
        abort();
    }
}

static void expect_listing(const char *top, const char *rel, const char *want) {
    char p[256], got[512];
    snprintf(p, sizeof p, "%s/%s", top, rel);
    listing(p, got, sizeof got);
    if (strcmp(got, want)) {
        fprintf(stderr, "fuzz_wasi: %s holds \"%s\", expected \"%s\"\n", rel, got, want);
        abort();
    }
}

/* No symlink under dir climbs: the guest cannot make one (path.c). */
static int check_link(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (flag != FTW_SL && flag != FTW_SLN) return 0;
    char t[4097];
    ssize_t n = readlink(path, t, sizeof t - 1);
    if (n < 0) return 0;
    t[n] = 0;
    bool climbs = t[0] == '/' || !strcmp(t, "..") || !strncmp(t, "../", 3) || strstr(t, "/../") ||
                  (n >= 3 && !strcmp(t + n - 3, "/.."));
    if (climbs) {
        fprintf(stderr, "fuzz_wasi: the guest left a symlink %s -> %s\n", path, t);
        abort();
    }
    return 0;
}

static void check_tree(const char *top) {
    expect_listing(top, "", "ro/rw/");
    expect_listing(top, "ro", "f.txt/sub/");
    expect_listing(top, "ro/sub", "g.txt/");
    expect_file(top, "ro/f.txt", "read-only\n");
    expect_file(top, "ro/sub/g.txt", "also\n");
    char rw[128];
    snprintf(rw, sizeof rw, "%s/rw", top);
    nftw(rw, check_link, 16, FTW_PHYS);
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) abort();
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* ---- guest memory ------------------------------------------------------- */

/* Where the preset structures are, so that the small addresses the
 * selectors produce land on them. */
enum {
    AT_NAMES = 0x100, /* NUL-separated paths, 16 bytes apart */
    AT_IOVS = 0x400,  /* 4 iovecs over AT_DATA */
    AT_SUBS = 0x500,  /* 3 subscriptions: clock 1 ms, read fd 0, write fd 1 */
    AT_DATA = 0x1000, /* 16 KiB of bytes */
    AT_OUT = 0x8000,  /* results */
};

static void put32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
}

static void preset(uint8_t *mem) {
    static const char *const names[] = {
        "a.txt", "sub",   "link", "f.txt",        "sub/g.txt", "new", "new/x",  "..",
        ".",     "../ro", "/etc", "sub/../a.txt", "link/",     "dot", "sub/..", "z",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        memcpy(mem + AT_NAMES + 16 * i, names[i], strlen(names[i]));
    for (int i = 0; i < 4; i++) {
        put32(mem + AT_IOVS + 8 * i, AT_DATA + 4096u * (uint32_t)i);
        put32(mem + AT_IOVS + 8 * i + 4, 4096);
    }
    uint8_t *s = mem + AT_SUBS;
    put64(s, 1);
    s[8] = 0; /* clock, monotonic, 1 ms */
    put32(s + 16, 1);
    put64(s + 24, 1000000);
    s += 48;
    put64(s, 2);
    s[8] = 1; /* fd_read on 0 */
    put32(s + 16, 0);
    s += 48;
    put64(s, 3);
    s[8] = 2; /* fd_write on 1 */
    put32(s + 16, 1);
    for (uint32_t i = 0; i < 16384; i++)
        mem[AT_DATA + i] = (uint8_t)(i * 7);
}

/* ---- reading the input -------------------------------------------------- */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t byte(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u32(input *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)byte(in) << (8 * i);
    return v;
}

static uint32_t arg32(input *in) {
    uint8_t sel = byte(in);
    switch (sel & 3) {
    case 0: return byte(in) & 0x3f;                    /* a descriptor, a flag, a small length */
    case 1: return AT_NAMES + 16u * (byte(in) & 0x3f); /* a preset structure or name */
    case 2: return (uint32_t)byte(in) << 9;            /* anywhere in memory, or just past it */
    default: return u32(in);                           /* anything */
    }
}

static uint64_t arg64(input *in) {
    static const uint64_t edges[] = {0,
                                     1,
                                     4096,
                                     1000000,
                                     1000000000,
                                     UINT64_MAX,
                                     INT64_MAX,
                                     (uint64_t)INT64_MAX + 1,
                                     UINT32_MAX,
                                     (uint64_t)UINT32_MAX + 1,
                                     0xfffffffffffull,
                                     86400000000000ull};
    uint8_t sel = byte(in);
    switch (sel & 3) {
    case 0: return byte(in);
    case 1: return edges[byte(in) % (sizeof edges / sizeof edges[0])];
    default: return (uint64_t)u32(in) | (uint64_t)u32(in) << 32;
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- one input ---------------------------------------------------------- */

static void run(input *in, wasm_instance *inst) {
    wasm_extern fns[NFUNCS];
    for (size_t i = 0; i < NFUNCS; i++)
        if (!wasm_instance_export(inst, funcs[i].name, &fns[i])) abort();
    uint64_t size;
    uint8_t *mem = wasm_instance_memory(inst, &size);
    if (!mem || size != MEM_SIZE) abort();
    preset(mem);
    uint64_t t0 = now_ms();
    for (int step = 0; step < MAX_STEPS && in->n; step++) {
        uint64_t spent = now_ms() - t0;
        if (spent >= INPUT_MS) break;
        uint8_t op = byte(in) % (NFUNCS + 1);
        if (op == NFUNCS) { /* copy the next bytes into memory */
            uint32_t at = ((uint32_t)byte(in) << 8 | byte(in)) % MEM_SIZE;
            uint32_t len = byte(in);
            for (uint32_t i = 0; i < len && in->n; i++)
                mem[(at + i) % MEM_SIZE] = byte(in);
            continue;
        }
        const wasm_functype *ft = wasm_func_type(fns[op]);
        wasm_value args[16], results[1];
        for (uint32_t k = 0; k < ft->nparams; k++) {
            args[k].type = ft->params[k];
            if (ft->params[k] == WASM_I64)
                args[k].of.i64 = arg64(in);
            else
                args[k].of.i32 = arg32(in);
        }
        uint64_t left = INPUT_MS - spent;
        wasm_call_opts opts = {.deadline_ms = (uint32_t)(left < CALL_MS ? left : CALL_MS)};
        wasm_trap_code t = wasm_call_ex(fns[op], args, results, &opts);
        if (t == WASM_TRAP_EXIT) break; /* proc_exit */
        if (t != WASM_TRAP_NONE && t != WASM_TRAP_INTERRUPTED) {
            fprintf(stderr, "fuzz_wasi: %s trapped: %s\n", funcs[op].name, wasm_trap_message(t));
            abort();
        }
        if (t == WASM_TRAP_NONE && ft->nresults && results[0].of.i32 > 76) {
            fprintf(stderr, "fuzz_wasi: %s returned errno %u\n", funcs[op].name, results[0].of.i32);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wasm_module *m = wrapper();
    int fds_before = count_fds();
    char top[] = "/tmp/wasp-fuzz-wasi-XXXXXX";
    if (!mkdtemp(top)) abort();
    make_tree(top);
    char rw[64], ro[64];
    snprintf(rw, sizeof rw, "%s/rw", top);
    snprintf(ro, sizeof ro, "%s/ro", top);

    input in = {data, size};
    int sock[2], pipefd[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) || pipe2(pipefd, O_CLOEXEC))
        abort();
    uint8_t greeting[8];
    size_t glen = byte(&in) % sizeof greeting;
    for (size_t i = 0; i < glen; i++)
        greeting[i] = byte(&in);
    if (glen && write(sock[1], greeting, glen) != (ssize_t)glen) abort();

    wasi_preopen pre[2] = {{rw, "/rw", false}, {ro, "/ro", true}};
    const char *argv[] = {"fuzz", "--flag", ""};
    const char *envp[] = {"A=1", "EMPTY="};
    wasi_config cfg = {.argc = 3,
                       .argv = argv,
                       .envc = 2,
                       .envp = envp,
                       .npreopens = 2,
                       .preopens = pre,
                       .max_fds = MAX_FDS};
    cfg.stdio[0] = (wasi_stdio){.kind = WASI_STDIO_FD, .fd = sock[0]};
    cfg.stdio[1] = (wasi_stdio){.kind = WASI_STDIO_FD, .fd = pipefd[1]};
    cfg.stdio[2] = (wasi_stdio){.kind = WASI_STDIO_BUFFER, .cap = 4096};
    char msg[256];
    wasi_ctx *ctx = wasi_ctx_new(&cfg, msg, sizeof msg);
    if (!ctx) {
        fprintf(stderr, "fuzz_wasi: %s\n", msg);
        abort();
    }
    wasm_linker *l = wasm_linker_new();
    wasm_error err;
    if (!l || !wasi_link(ctx, l, &err)) abort();
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    if (!inst) abort();

    run(&in, inst);
    /* What a server does after each request, then what it does at the end. */
    if (!wasi_ctx_release(ctx, msg, sizeof msg)) abort();

    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasi_ctx_free(ctx);
    close(sock[0]);
    close(sock[1]);
    close(pipefd[0]);
    close(pipefd[1]);
    check_tree(top);
    nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    int fds_after = count_fds();
    if (fds_after != fds_before) {
        fprintf(stderr, "fuzz_wasi: %d host descriptors before the input, %d after\n", fds_before,
                fds_after);
        abort();
    }
    return 0;
}
