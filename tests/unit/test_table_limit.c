/*
 * test_table_limit.c - tables count against a linker's memory cap (issue
 * 10, F04): a module declaring a huge table was instantiated under any
 * cap, since only table.grow checked a size. Now a declared table over
 * the host's entry limit, or tables plus memory over the cap, fail to
 * instantiate with WASM_ERR_LIMIT before anything is allocated, and
 * table.grow and memory.grow share what is left under the cap.
 * Modules are written out as bytes (wat in the comments).
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "wasm/wasm.h"

/* (module (table 50000000 funcref)) */
static const uint8_t huge_table[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x04,
                                     0x07, 0x01, 0x70, 0x00, 0x80, 0xe1, 0xeb, 0x17};
/* (module (table 10000 funcref) (memory 1)) */
static const uint8_t table_and_memory[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00,
                                           0x00, 0x04, 0x05, 0x01, 0x70, 0x00, 0x90,
                                           0x4e, 0x05, 0x03, 0x01, 0x00, 0x01};
/* (module (table 1000 funcref) (memory 1)
 *   (func (export "tgrow") (result i32) (table.grow 0 (ref.null func) (i32.const 8000)))
 *   (func (export "mgrow") (result i32) (memory.grow (i32.const 1)))) */
static const uint8_t growers[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
    0x03, 0x03, 0x02, 0x00, 0x00, 0x04, 0x05, 0x01, 0x70, 0x00, 0xe8, 0x07, 0x05, 0x03, 0x01,
    0x00, 0x01, 0x07, 0x11, 0x02, 0x05, 0x74, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x00, 0x05, 0x6d,
    0x67, 0x72, 0x6f, 0x77, 0x00, 0x01, 0x0a, 0x13, 0x02, 0x0a, 0x00, 0xd0, 0x70, 0x41, 0xc0,
    0x3e, 0xfc, 0x0f, 0x00, 0x0b, 0x06, 0x00, 0x41, 0x01, 0x40, 0x00, 0x0b};

/* Instantiates bytes under a cap of cap_pages (0: none): the instance, or
 * NULL with *err. */
static wasm_instance *make(const uint8_t *bytes, size_t len, uint32_t cap_pages, wasm_module **m,
                           wasm_linker **l, wasm_error *err) {
    *m = wasm_module_load(bytes, len, err);
    *l = wasm_linker_new();
    if (!*m || !*l) return NULL;
    wasm_linker_limit_memory(*l, cap_pages);
    return wasm_instance_new(*m, *l, err);
}

static int32_t call_i32(wasm_instance *inst, const char *name) {
    wasm_extern f;
    wasm_value r[1] = {{0}};
    if (!wasm_instance_export(inst, name, &f) || wasm_call(f, NULL, r) != WASM_TRAP_NONE)
        return -99;
    return (int32_t)r[0].of.i32;
}

TEST(table_limit_declared_size) {
    wasm_module *m;
    wasm_linker *l;
    wasm_error err;
    /* F04: 50M entries (400 MB) under a 64 KiB cap - and under none */
    for (uint32_t cap = 0; cap <= 1; cap++) {
        wasm_instance *inst = make(huge_table, sizeof huge_table, cap, &m, &l, &err);
        CHECK(m != NULL);
        CHECK(inst == NULL);
        if (!inst) {
            CHECK(err.kind == WASM_ERR_LIMIT);
            CHECK(strstr(err.msg, "limit") != NULL);
        }
        wasm_instance_free(inst);
        wasm_linker_free(l);
        wasm_module_free(m);
    }
    /* 10000 entries (80000 bytes) plus a page of memory: over 1 page, in under 2 */
    wasm_instance *inst = make(table_and_memory, sizeof table_and_memory, 1, &m, &l, &err);
    CHECK(inst == NULL);
    if (!inst) {
        CHECK(err.kind == WASM_ERR_LIMIT);
        CHECK(strstr(err.msg, "memory limit of 65536 bytes") != NULL);
    }
    wasm_linker_free(l);
    wasm_module_free(m);
    inst = make(table_and_memory, sizeof table_and_memory, 3, &m, &l, &err);
    CHECK(inst != NULL);
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}

TEST(table_limit_grow_shares_the_cap) {
    wasm_module *m;
    wasm_linker *l;
    wasm_error err;
    /* cap 2 pages = 131072 bytes; memory 65536 + table 8000 to start:
     * neither 64000 more table bytes nor 65536 more memory fit */
    wasm_instance *inst = make(growers, sizeof growers, 2, &m, &l, &err);
    CHECK(inst != NULL);
    if (inst) {
        CHECK_EQ_S64(call_i32(inst, "tgrow"), -1);
        CHECK_EQ_S64(call_i32(inst, "mgrow"), -1);
    }
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
    /* cap 3 pages = 196608: the table grows (to 137536 bytes in all), and
     * then the memory may not (203072), though 2 pages alone would fit */
    inst = make(growers, sizeof growers, 3, &m, &l, &err);
    CHECK(inst != NULL);
    if (inst) {
        CHECK_EQ_S64(call_i32(inst, "tgrow"), 1000);
        CHECK_EQ_S64(call_i32(inst, "mgrow"), -1);
    }
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
    /* no cap: both grow */
    inst = make(growers, sizeof growers, 0, &m, &l, &err);
    CHECK(inst != NULL);
    if (inst) {
        CHECK_EQ_S64(call_i32(inst, "tgrow"), 1000);
        CHECK_EQ_S64(call_i32(inst, "mgrow"), 1);
    }
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasm_module_free(m);
}
