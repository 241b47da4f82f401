/*
 * test_snapshot.c - snapshots: an instance made from one starts in the
 * captured state (memory, globals, tables after an init function ran),
 * what one instance writes is not seen by another, and a reset undoes
 * everything a call did - stores, memory.grow, global and table writes,
 * table.grow, a trap halfway - again and again. The module is written in
 * the text format and assembled with wabt's wat2wasm (installed by
 * scripts/setup.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "wasm/wasm.h"

static const char snap_wat[] =
    "(module\n"
    "  (memory 1 10)\n"
    "  (global $g (mut i32) (i32.const 7))\n"
    "  (table 2 funcref)\n"
    "  (elem (i32.const 0) $a)\n"
    "  (elem declare func $b)\n"
    "  (func $a (result i32) (i32.const 11))\n"
    "  (func $b (result i32) (i32.const 22))\n"
    "  (data (i32.const 16) \"image\")\n"
    "  (func (export \"init\")\n"
    "    (global.set $g (i32.const 100))\n"
    "    (i32.store (i32.const 32) (i32.const 0xabcd))\n"
    "    (table.set 0 (i32.const 1) (ref.func $b)))\n"
    "  (func (export \"dirty\")\n"
    "    (global.set $g (i32.const 999))\n"
    "    (i32.store (i32.const 16) (i32.const 0))\n"
    "    (i32.store (i32.const 40000) (i32.const 5))\n"
    "    (drop (memory.grow (i32.const 2)))\n"
    "    (i32.store (i32.const 70000) (i32.const 9))\n"
    "    (table.set 0 (i32.const 0) (ref.null func))\n"
    "    (drop (table.grow 0 (ref.null func) (i32.const 3))))\n"
    "  (func (export \"dirty_then_trap\")\n"
    "    (global.set $g (i32.const 5))\n"
    "    (i32.store (i32.const 16) (i32.const 0))\n"
    "    unreachable)\n"
    "  (func (export \"g\") (result i32) global.get $g)\n"
    "  (func (export \"size\") (result i32) memory.size)\n"
    "  (func (export \"tsize\") (result i32) table.size 0)\n"
    "  (func (export \"load\") (param i32) (result i32) (i32.load (local.get 0)))\n"
    "  (func (export \"call\") (param i32) (result i32)\n"
    "    (call_indirect (result i32) (local.get 0))))\n";

static const char import_mem_wat[] = "(module (import \"env\" \"mem\" (memory 1)))";

/* Calls export `name` with up to one i32 argument; returns the i32 result,
 * or -1000 - trap code when it trapped. */
static int32_t call(wasm_instance *inst, const char *name, int32_t arg) {
    wasm_extern f;
    if (!wasm_instance_export(inst, name, &f)) return -2000;
    wasm_value args[1] = {{.type = WASM_I32, .of.i32 = arg}};
    wasm_value res[1] = {{.type = WASM_I32, .of.i32 = 0}};
    wasm_trap_code t = wasm_call(f, args, res);
    if (t != WASM_TRAP_NONE) return -1000 - (int32_t)t;
    return (int32_t)res[0].of.i32;
}

/* The state right after init: what every instance from the snapshot sees. */
static void check_initial(wasm_instance *inst) {
    CHECK_EQ_S64(call(inst, "g", 0), 100);
    CHECK_EQ_S64(call(inst, "size", 0), 1);
    CHECK_EQ_S64(call(inst, "load", 16), 0x67616d69); /* "imag" */
    CHECK_EQ_S64(call(inst, "load", 32), 0xabcd);
    CHECK_EQ_S64(call(inst, "load", 40000), 0);
    CHECK_EQ_S64(call(inst, "load", 70000), -1000 - (int32_t)WASM_TRAP_OOB_MEMORY);
    CHECK_EQ_S64(call(inst, "tsize", 0), 2);
    CHECK_EQ_S64(call(inst, "call", 0), 11);
    CHECK_EQ_S64(call(inst, "call", 1), 22);
}

TEST(snapshot_captures_init_and_reset_undoes_everything) {
    wasm_module *m = unit_load_wat(snap_wat);
    REQUIRE(m);
    wasm_error err;
    wasm_instance *orig = wasm_instance_new(m, NULL, &err);
    REQUIRE(orig);
    CHECK_EQ_S64(call(orig, "init", 0), 0);
    wasm_snapshot *s = wasm_snapshot_take(orig, &err);
    REQUIRE(s);
    wasm_instance_free(orig); /* the snapshot does not depend on it */
    CHECK_EQ_U64(wasm_snapshot_memory_size(s), 65536);

    wasm_instance *a = wasm_snapshot_instantiate(s, NULL, &err);
    wasm_instance *b = wasm_snapshot_instantiate(s, NULL, &err);
    REQUIRE(a && b);
    check_initial(a);
    for (int round = 0; round < 3; round++) {
        CHECK_EQ_S64(call(a, "dirty", 0), 0);
        CHECK_EQ_S64(call(a, "g", 0), 999);
        CHECK_EQ_S64(call(a, "size", 0), 3);
        CHECK_EQ_S64(call(a, "load", 70000), 9);
        CHECK_EQ_S64(call(a, "tsize", 0), 5);
        check_initial(b); /* a's writes never reach b */
        CHECK(wasm_snapshot_reset(s, a));
        check_initial(a);
    }
    /* A trap halfway leaves a dirty instance; reset cleans it too. */
    CHECK_EQ_S64(call(a, "dirty_then_trap", 0), -1000 - (int32_t)WASM_TRAP_UNREACHABLE);
    CHECK_EQ_S64(call(a, "g", 0), 5);
    CHECK(wasm_snapshot_reset(s, a));
    check_initial(a);

    wasm_instance_free(a);
    wasm_instance_free(b);
    wasm_snapshot_free(s);
    wasm_module_free(m);
}

TEST(snapshot_honours_the_linker_memory_cap) {
    wasm_module *m = unit_load_wat(snap_wat);
    REQUIRE(m);
    wasm_error err;
    wasm_instance *orig = wasm_instance_new(m, NULL, &err);
    REQUIRE(orig);
    wasm_snapshot *s = wasm_snapshot_take(orig, &err);
    REQUIRE(s);
    wasm_linker *l = wasm_linker_new();
    wasm_linker_limit_memory(l, 2);
    wasm_instance *a = wasm_snapshot_instantiate(s, l, &err);
    REQUIRE(a);
    /* dirty grows by 2 pages: over the cap of 2, so memory.grow fails */
    CHECK_EQ_S64(call(a, "dirty", 0), -1000 - (int32_t)WASM_TRAP_OOB_MEMORY);
    CHECK_EQ_S64(call(a, "size", 0), 1);
    wasm_instance_free(a);
    wasm_linker_free(l);
    wasm_snapshot_free(s);
    wasm_instance_free(orig);
    wasm_module_free(m);
}

TEST(snapshot_refuses_imported_memory) {
    wasm_module *m = unit_load_wat(import_mem_wat);
    REQUIRE(m);
    wasm_linker *l = wasm_linker_new();
    wasm_error err;
    REQUIRE(wasm_linker_memory(l, "env", "mem", 1, 1, true, &err));
    wasm_instance *inst = wasm_instance_new(m, l, &err);
    REQUIRE(inst);
    CHECK(wasm_snapshot_take(inst, &err) == NULL);
    CHECK_EQ_U64(err.kind, WASM_ERR_LINK);
    CHECK(strstr(err.msg, "imports a memory") != NULL);
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}

/* Writing more pages than reset copies back makes it drop them instead;
 * both ways must come back to the image. */
static const char many_wat[] = "(module (memory 6)\n"
                               "  (data (i32.const 100) \"keep\")\n"
                               "  (func (export \"fill\") (param i32)\n"
                               "    (memory.fill (i32.const 0) (i32.const 0xaa) (local.get 0)))\n"
                               "  (func (export \"load\") (param i32) (result i32)\n"
                               "    (i32.load (local.get 0))))\n";

TEST(snapshot_reset_after_few_and_many_written_pages) {
    wasm_module *m = unit_load_wat(many_wat);
    REQUIRE(m);
    wasm_error err;
    wasm_instance *orig = wasm_instance_new(m, NULL, &err);
    REQUIRE(orig);
    wasm_snapshot *s = wasm_snapshot_take(orig, &err);
    REQUIRE(s);
    wasm_instance *a = wasm_snapshot_instantiate(s, NULL, &err);
    REQUIRE(a);
    static const int32_t sizes[] = {8192, 6 * 65536, 4096, 6 * 65536, 0};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        CHECK_EQ_S64(call(a, "fill", sizes[k]), 0);
        CHECK(wasm_snapshot_reset(s, a));
        CHECK_EQ_S64(call(a, "load", 100), 0x7065656b); /* "keep" */
        for (int32_t at = 0; at < 6 * 65536; at += 4096)
            CHECK_EQ_S64(call(a, "load", at + 200), 0);
    }
    wasm_instance_free(a);
    wasm_snapshot_free(s);
    wasm_instance_free(orig);
    wasm_module_free(m);
}
