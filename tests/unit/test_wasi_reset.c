/*
 * test_wasi_reset.c - wasi_ctx_reset puts a context back as wasi_ctx_new
 * left it, for the next request of a server: a file the guest opened is
 * closed, a preopen it closed is back, captured output is emptied, and the
 * environment and stdin are the new request's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

/* mess: opens "f" in the preopen (fd 4), closes the preopen (fd 3) and
 * writes "out" to stdout. probe: 0 when fd 3 is a preopen and fd 4 is not
 * open, else a code saying which is wrong. env0: the first byte of the
 * first environment string. in0: the first byte read from stdin. */
static const char reset_wat[] =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"path_open\"\n"
    "    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_close\" (func $close (param i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
    "    (func $write (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_read\"\n"
    "    (func $read (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_prestat_get\"\n"
    "    (func $prestat (param i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"environ_get\"\n"
    "    (func $environ (param i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (data (i32.const 100) \"f\")\n"
    "  (data (i32.const 200) \"out\")\n"
    "  (func (export \"mess\") (result i32)\n"
    "    (if (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)\n"
    "          (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8))\n"
    "      (then (return (i32.const 1))))\n"
    "    (if (i32.ne (i32.load (i32.const 8)) (i32.const 4)) (then (return (i32.const 2))))\n"
    "    (if (call $close (i32.const 3)) (then (return (i32.const 3))))\n"
    "    (i32.store (i32.const 16) (i32.const 200))\n"
    "    (i32.store (i32.const 20) (i32.const 3))\n"
    "    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))\n"
    "    (i32.const 0))\n"
    "  (func (export \"probe\") (result i32)\n"
    "    (if (call $prestat (i32.const 3) (i32.const 32)) (then (return (i32.const 10))))\n"
    "    (if (i32.eqz (call $close (i32.const 4))) (then (return (i32.const 11))))\n"
    "    (i32.const 0))\n"
    "  (func (export \"env0\") (result i32)\n"
    "    (drop (call $environ (i32.const 300) (i32.const 400)))\n"
    "    (i32.load8_u (i32.load (i32.const 300))))\n"
    "  (func (export \"in0\") (result i32)\n"
    "    (i32.store (i32.const 16) (i32.const 500))\n"
    "    (i32.store (i32.const 20) (i32.const 1))\n"
    "    (drop (call $read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))\n"
    "    (i32.load8_u (i32.const 500))))\n";

static int32_t call0(wasm_instance *inst, const char *name) {
    wasm_extern f;
    wasm_value r[1] = {{.type = WASM_I32}};
    if (!wasm_instance_export(inst, name, &f) || wasm_call(f, NULL, r) != WASM_TRAP_NONE) return -1;
    return (int32_t)r[0].of.i32;
}

TEST(wasi_reset_restores_descriptors_output_and_request) {
    char dir[] = "/tmp/wasp-reset-XXXXXX";
    REQUIRE(mkdtemp(dir));
    wasm_module *m = unit_load_wat(reset_wat);
    REQUIRE(m);
    wasi_preopen pre = {dir, "/data", false};
    const char *env1[] = {"A=1"};
    wasi_config cfg = {.envc = 1, .envp = env1, .npreopens = 1, .preopens = &pre};
    for (int i = 0; i < 3; i++)
        cfg.stdio[i].kind = WASI_STDIO_BUFFER;
    char err[200];
    wasi_ctx *ctx = wasi_ctx_new(&cfg, err, sizeof err);
    REQUIRE(ctx);
    wasm_linker *l = wasm_linker_new();
    wasm_error werr;
    REQUIRE(wasi_link(ctx, l, &werr));
    wasm_instance *inst = wasm_instance_new(m, l, &werr);
    REQUIRE(inst);

    CHECK_EQ_S64(call0(inst, "probe"), 0);
    CHECK_EQ_S64(call0(inst, "env0"), 'A');
    CHECK_EQ_S64(call0(inst, "mess"), 0);
    CHECK_EQ_S64(call0(inst, "probe"), 10); /* the preopen is gone for now */
    size_t len;
    wasi_captured(ctx, 1, &len);
    CHECK_EQ_U64(len, 3);

    const char *env2[] = {"B=2"};
    const uint8_t body[] = "Z";
    wasi_request req = {.envc = 1, .envp = env2, .stdin_data = body, .stdin_len = 1};
    REQUIRE(wasi_ctx_reset(ctx, &req, err, sizeof err));
    CHECK_EQ_S64(call0(inst, "probe"), 0); /* preopen back, fd 4 closed */
    wasi_captured(ctx, 1, &len);
    CHECK_EQ_U64(len, 0);
    CHECK_EQ_S64(call0(inst, "env0"), 'B');
    CHECK_EQ_S64(call0(inst, "in0"), 'Z');
    /* an untouched table stays as it is: a second reset is a no-op */
    REQUIRE(wasi_ctx_reset(ctx, &req, err, sizeof err));
    CHECK_EQ_S64(call0(inst, "probe"), 0);
    CHECK_EQ_S64(call0(inst, "mess"), 0); /* and the preopen works again */

    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasi_ctx_free(ctx);
    wasm_module_free(m);
    char f[64];
    snprintf(f, sizeof f, "%s/f", dir);
    unlink(f);
    rmdir(dir);
}
