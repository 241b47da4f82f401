/*
 * fuzz_exec.c - libFuzzer target for the whole engine: decode, validate,
 * compile, instantiate and run.
 *
 * Each input that loads is instantiated against a linker that satisfies
 * every import with a stub of the declared type (functions return zeros;
 * memories, tables and globals are fresh), with memory capped at 256 pages
 * so a module cannot grow its way into the fuzzer's RSS limit. Then every
 * exported function is called with zero arguments under a small fuel
 * budget, so loops end. Traps are correct outcomes; crashes, sanitizer
 * reports, leaks and hangs are findings. Seeded like fuzz_decode.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

#define FUEL 20000
#define MEMORY_CAP_PAGES 256

static wasm_trap_code stub(void *env, wasm_instance *caller, const wasm_value *args,
                           wasm_value *results) {
    const wasm_functype *ft = env;
    (void)caller, (void)args;
    for (uint32_t i = 0; i < ft->nresults; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].type = ft->results[i];
    }
    return WASM_TRAP_NONE;
}

static bool plain(const wasm_name *n) {
    return strlen(n->str) == n->len;
}

static bool define_stubs(wasm_linker *l, const wasm_module *m) {
    wasm_error err;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        if (!plain(&im->module) || !plain(&im->name)) return false;
        const char *mod = im->module.str, *name = im->name.str;
        bool ok = false;
        switch (im->kind) {
        case WASM_EXTERN_FUNC: {
            const wasm_functype *ft = &m->types[im->desc.func_type];
            ok = wasm_linker_func(l, mod, name, ft->nparams, ft->params, ft->nresults, ft->results,
                                  stub, (void *)ft, &err);
            break;
        }
        case WASM_EXTERN_TABLE: {
            const wasm_tabletype *t = &im->desc.table;
            if (t->limits.min > 100000) return false;
            ok = wasm_linker_table(l, mod, name, t->elem, (uint32_t)t->limits.min,
                                   (uint32_t)t->limits.max, t->limits.has_max, &err);
            break;
        }
        case WASM_EXTERN_MEMORY: {
            const wasm_limits *lim = &im->desc.memory.limits;
            if (lim->min > MEMORY_CAP_PAGES) return false;
            uint32_t max =
                lim->has_max && lim->max < MEMORY_CAP_PAGES ? (uint32_t)lim->max : MEMORY_CAP_PAGES;
            ok = wasm_linker_memory(l, mod, name, (uint32_t)lim->min, max, true, &err);
            break;
        }
        case WASM_EXTERN_GLOBAL: {
            wasm_value v;
            memset(&v, 0, sizeof v);
            v.type = im->desc.global.type;
            ok = wasm_linker_global(l, mod, name, v, im->desc.global.mut, &err);
            break;
        }
        }
        if (!ok) return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wasm_error err;
    wasm_module *m = wasm_module_load(data, size, &err);
    if (!m) return 0;
    wasm_linker *l = wasm_linker_new();
    if (!l) abort();
    wasm_linker_limit_memory(l, MEMORY_CAP_PAGES);
    wasm_instance *inst = define_stubs(l, m) ? wasm_instance_new(m, l, &err) : NULL;
    if (inst) {
        wasm_call_opts opts = {.fuel = FUEL, .deadline_ms = 500};
        wasm_value args[64], results[64];
        memset(args, 0, sizeof args);
        for (uint32_t i = 0; i < m->nexports; i++) {
            const wasm_export *e = &m->exports[i];
            wasm_extern fn;
            if (e->kind != WASM_EXTERN_FUNC || !plain(&e->name) ||
                !wasm_instance_export(inst, e->name.str, &fn))
                continue;
            const wasm_functype *ft = wasm_func_type(fn);
            if (ft->nparams > 64 || ft->nresults > 64) continue;
            for (uint32_t k = 0; k < ft->nparams; k++)
                args[k].type = ft->params[k];
            wasm_call_ex(fn, args, results, &opts);
        }
        wasm_instance_free(inst);
    }
    wasm_linker_free(l);
    wasm_module_free(m);
    return 0;
}
