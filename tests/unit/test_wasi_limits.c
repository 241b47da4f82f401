/*
 * test_wasi_limits.c - what a guest must not be able to do to its host
 * through WASI (issue 10): keep a thread past its deadline in poll_oneoff
 * (F03), hold an unbounded number of host descriptors or keep them after
 * its request (F13), and be granted a read-only directory that is
 * writable through another grant (F15).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

/* open_all: path_open(3, "f", CREAT) until it fails; returns how many
 * succeeded and leaves the failing errno at address 12 (last_err).
 * sleep(ns): one poll_oneoff on a relative monotonic clock subscription;
 * returns its errno. probe: 0 when fd 3 is still a preopen and fd 4 is
 * not open, else a code saying which is wrong. */
static const char limits_wat[] =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"path_open\"\n"
    "    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\"\n"
    "    (func $poll (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_close\" (func $close (param i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_prestat_get\"\n"
    "    (func $prestat (param i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 100) \"f\")\n"
    "  (func (export \"open_all\") (result i32)\n"
    "    (local $n i32) (local $e i32)\n"
    "    (block $done\n"
    "      (loop $next\n"
    "        (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)\n"
    "          (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8)))\n"
    "        (br_if $done (local.get $e))\n"
    "        (local.set $n (i32.add (local.get $n) (i32.const 1)))\n"
    "        (br_if $next (i32.lt_u (local.get $n) (i32.const 100000)))))\n"
    "    (i32.store (i32.const 12) (local.get $e))\n"
    "    (local.get $n))\n"
    "  (func (export \"last_err\") (result i32) (i32.load (i32.const 12)))\n"
    "  (func (export \"sleep\") (param $ns i64) (result i32)\n"
    "    (i32.store8 (i32.const 208) (i32.const 0))\n"
    "    (i32.store (i32.const 216) (i32.const 1))\n"
    "    (i64.store (i32.const 224) (local.get $ns))\n"
    "    (call $poll (i32.const 200) (i32.const 300) (i32.const 1) (i32.const 400)))\n"
    "  (func (export \"probe\") (result i32)\n"
    "    (if (call $prestat (i32.const 3) (i32.const 32)) (then (return (i32.const 10))))\n"
    "    (if (i32.ne (call $close (i32.const 4)) (i32.const 8)) (then (return (i32.const 11))))\n"
    "    (i32.const 0)))\n";

/* One guest with one writable preopen, `dir`, as /data. */
typedef struct guest {
    wasm_module *m;
    wasi_ctx *ctx;
    wasm_linker *l;
    wasm_instance *inst;
} guest;

static bool guest_new(guest *g, const char *dir, uint32_t max_fds) {
    memset(g, 0, sizeof *g);
    g->m = unit_load_wat(limits_wat);
    if (!g->m) return false;
    wasi_preopen pre = {dir, "/data", false};
    wasi_config cfg = {.npreopens = 1, .preopens = &pre, .max_fds = max_fds};
    for (int i = 0; i < 3; i++)
        cfg.stdio[i].kind = WASI_STDIO_BUFFER;
    char err[200];
    wasm_error werr;
    g->ctx = wasi_ctx_new(&cfg, err, sizeof err);
    g->l = wasm_linker_new();
    if (!g->ctx || !g->l || !wasi_link(g->ctx, g->l, &werr)) return false;
    g->inst = wasm_instance_new(g->m, g->l, &werr);
    return g->inst != NULL;
}

static void guest_free(guest *g) {
    wasm_instance_free(g->inst);
    wasm_linker_free(g->l);
    wasi_ctx_free(g->ctx);
    wasm_module_free(g->m);
}

static wasm_trap_code call(guest *g, const char *name, const wasm_value *args, int32_t *result,
                           uint32_t deadline_ms) {
    wasm_extern f;
    wasm_value r[1] = {{.type = WASM_I32}};
    if (!wasm_instance_export(g->inst, name, &f)) return WASM_TRAP_UNREACHABLE;
    wasm_call_opts opts = {.deadline_ms = deadline_ms};
    wasm_trap_code t = wasm_call_ex(f, args, r, &opts);
    *result = t == WASM_TRAP_NONE ? (int32_t)r[0].of.i32 : -1;
    return t;
}

/* Descriptors this process holds. */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void remove_dir(const char *dir) {
    char f[96];
    snprintf(f, sizeof f, "%s/f", dir);
    unlink(f);
    rmdir(dir);
}

TEST(wasi_F13_open_descriptors_are_capped_with_emfile) {
    char dir[] = "/tmp/wasp-limits-XXXXXX";
    REQUIRE(mkdtemp(dir));
    /* 3 stdio + 1 preopen of 8: the fifth open is refused. */
    guest g;
    REQUIRE(guest_new(&g, dir, 8));
    int32_t n, e;
    CHECK_EQ_S64(call(&g, "open_all", NULL, &n, 0), WASM_TRAP_NONE);
    CHECK_EQ_S64(n, 4);
    call(&g, "last_err", NULL, &e, 0);
    CHECK_EQ_S64(e, 33); /* EMFILE */
    guest_free(&g);
    /* The default cap, WASI_DEFAULT_MAX_FDS, well below the host's limit. */
    REQUIRE(guest_new(&g, dir, 0));
    CHECK_EQ_S64(call(&g, "open_all", NULL, &n, 0), WASM_TRAP_NONE);
    CHECK_EQ_S64(n, WASI_DEFAULT_MAX_FDS - 4);
    call(&g, "last_err", NULL, &e, 0);
    CHECK_EQ_S64(e, 33);
    guest_free(&g);
    remove_dir(dir);
}

TEST(wasi_F13_release_closes_what_the_guest_opened) {
    char dir[] = "/tmp/wasp-limits-XXXXXX";
    REQUIRE(mkdtemp(dir));
    guest g;
    REQUIRE(guest_new(&g, dir, 0));
    int base = open_fds();
    int32_t n;
    CHECK_EQ_S64(call(&g, "open_all", NULL, &n, 0), WASM_TRAP_NONE);
    CHECK(open_fds() >= base + n);
    char err[160];
    REQUIRE(wasi_ctx_release(g.ctx, err, sizeof err));
    CHECK_EQ_S64(open_fds(), base);
    CHECK_EQ_S64(call(&g, "probe", NULL, &n, 0), WASM_TRAP_NONE);
    CHECK_EQ_S64(n, 0); /* the preopen is still there, fd 4 is gone */
    REQUIRE(wasi_ctx_release(g.ctx, err, sizeof err)); /* nothing to do: no change */
    CHECK_EQ_S64(open_fds(), base);
    guest_free(&g);
    remove_dir(dir);
}

TEST(wasi_F03_poll_oneoff_ends_at_the_deadline) {
    char dir[] = "/tmp/wasp-limits-XXXXXX";
    REQUIRE(mkdtemp(dir));
    guest g;
    REQUIRE(guest_new(&g, dir, 0));
    int32_t e;
    /* a 10 s sleep under a 100 ms deadline */
    wasm_value ten_s = {.type = WASM_I64, .of.i64 = 10000000000ull};
    double t0 = now_s();
    CHECK_EQ_S64(call(&g, "sleep", &ten_s, &e, 100), WASM_TRAP_INTERRUPTED);
    double took = now_s() - t0;
    CHECK(took >= 0.09 && took < 3.0);
    /* a short sleep well within it still sleeps and succeeds */
    wasm_value short_sleep = {.type = WASM_I64, .of.i64 = 20000000ull};
    t0 = now_s();
    CHECK_EQ_S64(call(&g, "sleep", &short_sleep, &e, 5000), WASM_TRAP_NONE);
    CHECK_EQ_S64(e, 0);
    CHECK(now_s() - t0 >= 0.019);
    guest_free(&g);
    remove_dir(dir);
}

static void *interrupt_later(void *inst) {
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    wasm_interrupt(inst);
    return NULL;
}

TEST(wasi_F03_poll_oneoff_ends_on_wasm_interrupt) {
    char dir[] = "/tmp/wasp-limits-XXXXXX";
    REQUIRE(mkdtemp(dir));
    guest g;
    REQUIRE(guest_new(&g, dir, 0));
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, interrupt_later, g.inst) == 0);
    int32_t e;
    wasm_value ten_s = {.type = WASM_I64, .of.i64 = 10000000000ull};
    double t0 = now_s();
    CHECK_EQ_S64(call(&g, "sleep", &ten_s, &e, 0), WASM_TRAP_INTERRUPTED);
    CHECK(now_s() - t0 < 3.0);
    pthread_join(t, NULL);
    guest_free(&g);
    remove_dir(dir);
}

/* wasi_ctx_new over two grants; NULL with the message in err when refused. */
static bool grants_ok(const char *a, bool a_ro, const char *b, bool b_ro, char *err,
                      size_t errlen) {
    wasi_preopen pre[2] = {{a, "/a", a_ro}, {b, "/b", b_ro}};
    wasi_config cfg = {.npreopens = 2, .preopens = pre};
    for (int i = 0; i < 3; i++)
        cfg.stdio[i].kind = WASI_STDIO_BUFFER;
    err[0] = 0;
    wasi_ctx *ctx = wasi_ctx_new(&cfg, err, errlen);
    wasi_ctx_free(ctx);
    return ctx != NULL;
}

TEST(wasi_F15_read_only_grant_inside_a_writable_one_is_refused) {
    char top[] = "/tmp/wasp-grants-XXXXXX";
    REQUIRE(mkdtemp(top));
    char ro[64], other[64], link[64];
    snprintf(ro, sizeof ro, "%s/ro", top);
    snprintf(other, sizeof other, "%s-other", top);
    snprintf(link, sizeof link, "%s-link", top);
    REQUIRE(mkdir(ro, 0700) == 0 && mkdir(other, 0700) == 0 && symlink(ro, link) == 0);
    char err[512];

    CHECK(!grants_ok(top, false, ro, true, err, sizeof err));
    CHECK(strstr(err, "lies inside") && strstr(err, ro) && strstr(err, top) && strstr(err, "/a"));
    CHECK(!grants_ok(ro, true, top, false, err, sizeof err)); /* in either order */
    CHECK(strstr(err, "lies inside") != NULL);
    CHECK(!grants_ok(top, false, top, true, err, sizeof err));
    CHECK(strstr(err, "is the same as") != NULL);
    CHECK(!grants_ok(top, false, link, true, err, sizeof err)); /* through a symlink */
    /* what stays allowed: a writable grant inside a read-only one, two
     * read-only or two writable views, directories apart */
    CHECK(grants_ok(top, true, ro, false, err, sizeof err));
    CHECK(grants_ok(top, true, ro, true, err, sizeof err));
    CHECK(grants_ok(top, false, ro, false, err, sizeof err));
    CHECK(grants_ok(other, false, ro, true, err, sizeof err));

    unlink(link);
    rmdir(other);
    rmdir(ro);
    rmdir(top);
}
