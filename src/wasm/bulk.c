/*
 * bulk.c - the bulk memory and table operations, shared by the
 * interpreter (interp.c) and compiled code (jit_run.c): each checks its
 * whole range before it writes anything, as the spec requires, and
 * returns the trap or WASM_TRAP_NONE.
 */
#include <string.h>

#include "wasm/internal.h"

wasm_trap_code wasm_bulk_memory_fill(wasm_instance *inst, uint32_t d, uint32_t val, uint32_t n) {
    uint64_t size = inst->mem->pages * WASM_PAGE_SIZE;
    if ((uint64_t)d + n > size) return WASM_TRAP_OOB_MEMORY;
    memset(inst->mem_base + d, (int)(val & 0xff), n);
    return WASM_TRAP_NONE;
}

wasm_trap_code wasm_bulk_memory_copy(wasm_instance *inst, uint32_t d, uint32_t s, uint32_t n) {
    uint64_t size = inst->mem->pages * WASM_PAGE_SIZE;
    if ((uint64_t)d + n > size || (uint64_t)s + n > size) return WASM_TRAP_OOB_MEMORY;
    memmove(inst->mem_base + d, inst->mem_base + s, n);
    return WASM_TRAP_NONE;
}

wasm_trap_code wasm_bulk_memory_init(wasm_instance *inst, uint32_t seg, uint32_t d, uint32_t s,
                                     uint32_t n) {
    const wasm_data *ds = &inst->module->datas[seg];
    uint64_t len = inst->data_dropped[seg] ? 0 : ds->len;
    uint64_t size = inst->mem->pages * WASM_PAGE_SIZE;
    if ((uint64_t)d + n > size || (uint64_t)s + n > len) return WASM_TRAP_OOB_MEMORY;
    if (n) memcpy(inst->mem_base + d, ds->bytes + s, n);
    return WASM_TRAP_NONE;
}

uint32_t wasm_bulk_table_grow(wasm_instance *inst, uint32_t table, void *init, uint32_t n) {
    /* the instance's own tables count against its cap; imported ones are
     * their owner's */
    bool own = table >= inst->module->ntable_imports;
    if (own && !wasm_instance_fits(inst, (uint64_t)n * sizeof(void *))) return UINT32_MAX;
    return (uint32_t)wasm_table_grow(inst->tables[table], n, init);
}

wasm_trap_code wasm_bulk_table_fill(wasm_instance *inst, uint32_t table, uint32_t i, void *ref,
                                    uint32_t n) {
    wasm_table_obj *t = inst->tables[table];
    if ((uint64_t)i + n > t->size) return WASM_TRAP_OOB_TABLE;
    for (uint64_t k = 0; k < n; k++)
        t->elems[i + k] = ref;
    return WASM_TRAP_NONE;
}

wasm_trap_code wasm_bulk_table_copy(wasm_instance *inst, uint32_t dst, uint32_t src, uint32_t d,
                                    uint32_t s, uint32_t n) {
    wasm_table_obj *dt = inst->tables[dst], *st = inst->tables[src];
    if ((uint64_t)d + n > dt->size || (uint64_t)s + n > st->size) return WASM_TRAP_OOB_TABLE;
    if (n) memmove(dt->elems + d, st->elems + s, n * sizeof(void *));
    return WASM_TRAP_NONE;
}

wasm_trap_code wasm_bulk_table_init(wasm_instance *inst, uint32_t elem, uint32_t table, uint32_t d,
                                    uint32_t s, uint32_t n) {
    const wasm_elem *e = &inst->module->elems[elem];
    wasm_table_obj *t = inst->tables[table];
    uint64_t len = inst->elem_dropped[elem] ? 0 : e->count;
    if ((uint64_t)d + n > t->size || (uint64_t)s + n > len) return WASM_TRAP_OOB_TABLE;
    for (uint64_t k = 0; k < n; k++)
        t->elems[d + k] = e->funcs ? (void *)inst->funcs[e->funcs[s + k]]
                                   : wasm_elem_item(inst, e, (uint32_t)(s + k));
    return WASM_TRAP_NONE;
}
