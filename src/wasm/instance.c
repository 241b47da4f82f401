/*
 * instance.c - module + imports -> a running instance.
 *
 * The linker holds (module, name) -> extern definitions and owns the host
 * objects defined in it. Instantiation follows the spec's order: resolve
 * and type-check every import, allocate functions, tables, memory and
 * globals (initialisers evaluated in order), apply active element then
 * data segments (bounds-checked; a failure traps, and what was written
 * before stays written), drop declarative segments, and run the start
 * function. Every object of an instance lives in its arena, except the
 * memory reservation, released with the instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

/* ---- linker --------------------------------------------------------------- */

typedef struct link_def {
    char *module, *name;
    wasm_extern ext;
} link_def;

struct wasm_linker {
    link_def *defs;
    uint32_t ndefs, cap;
    util_arena arena;   /* names and host objects */
    wasm_memory **mems; /* host memories to release */
    uint32_t nmems;
    wasm_table_obj **tables; /* host tables whose entries to free */
    uint32_t ntables;
    /* Instances whose instantiation trapped after their segments reached
     * imported tables or memories: their functions may be referenced from
     * there, so they live as long as the linker (as in the spec's store). */
    wasm_instance **orphans;
    uint32_t norphans;
    uint32_t mem_cap_pages; /* 0: no cap beyond the module's */
};

void wasm_linker_limit_memory(wasm_linker *l, uint32_t max_pages) {
    l->mem_cap_pages = max_pages;
}

wasm_linker *wasm_linker_new(void) {
    return calloc(1, sizeof(wasm_linker));
}

void wasm_linker_free(wasm_linker *l) {
    if (!l) return;
    for (uint32_t i = 0; i < l->nmems; i++)
        wasm_memory_release(l->mems[i]);
    free(l->mems);
    for (uint32_t i = 0; i < l->ntables; i++)
        free(l->tables[i]->elems);
    free(l->tables);
    for (uint32_t i = 0; i < l->norphans; i++)
        wasm_instance_free(l->orphans[i]);
    free(l->orphans);
    free(l->defs);
    util_arena_free(&l->arena);
    free(l);
}

static bool oom(wasm_error *err) {
    err->kind = WASM_ERR_NOMEM;
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return false;
}

static bool define(wasm_linker *l, const char *module, const char *name, wasm_extern ext,
                   wasm_error *err) {
    for (uint32_t i = 0; i < l->ndefs; i++) {
        if (!strcmp(l->defs[i].module, module) && !strcmp(l->defs[i].name, name)) {
            l->defs[i].ext = ext;
            return true;
        }
    }
    if (l->ndefs == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 16;
        link_def *nd = realloc(l->defs, ncap * sizeof *nd);
        if (!nd) return oom(err);
        l->defs = nd;
        l->cap = ncap;
    }
    char *m = util_arena_strndup(&l->arena, module, strlen(module));
    char *n = util_arena_strndup(&l->arena, name, strlen(name));
    if (!m || !n) return oom(err);
    l->defs[l->ndefs++] = (link_def){m, n, ext};
    return true;
}

static const link_def *lookup(const wasm_linker *l, const wasm_name *module,
                              const wasm_name *name) {
    if (!l) return NULL;
    for (uint32_t i = 0; i < l->ndefs; i++) {
        const link_def *d = &l->defs[i];
        if (strlen(d->module) == module->len && !memcmp(d->module, module->str, module->len) &&
            strlen(d->name) == name->len && !memcmp(d->name, name->str, name->len))
            return d;
    }
    return NULL;
}

bool wasm_linker_func(wasm_linker *l, const char *module, const char *name, uint32_t nparams,
                      const wasm_valtype *params, uint32_t nresults, const wasm_valtype *results,
                      wasm_host_fn fn, void *env, wasm_error *err) {
    wasm_funcinst *f = util_arena_alloc(&l->arena, sizeof *f);
    wasm_functype *ft = util_arena_alloc(&l->arena, sizeof *ft);
    wasm_valtype *types = util_arena_alloc(&l->arena, nparams + nresults + 1);
    if (!f || !ft || !types) return oom(err);
    if (nparams) memcpy(types, params, nparams);
    if (nresults) memcpy(types + nparams, results, nresults);
    *ft = (wasm_functype){nparams, nresults, types, types + nparams};
    *f = (wasm_funcinst){.type = ft, .host = fn, .env = env};
    return define(l, module, name, (wasm_extern){WASM_EXTERN_FUNC, f}, err);
}

/* Enough for every import wasp defines (http_send takes 8). */
#define WASM_HOST_MAX_ARITY 16

bool wasm_linker_funcs(wasm_linker *l, const char *module, const wasm_host_func *fs, size_t n,
                       void *env, wasm_error *err) {
    for (size_t i = 0; i < n; i++) {
        wasm_valtype types[2][WASM_HOST_MAX_ARITY];
        uint32_t count[2] = {0, 0};
        int side = 0;
        for (const char *c = fs[i].sig; *c; c++) {
            if (*c == '>' && side == 0) {
                side = 1;
                continue;
            }
            wasm_valtype t = *c == 'i'   ? WASM_I32
                             : *c == 'I' ? WASM_I64
                             : *c == 'f' ? WASM_F32
                             : *c == 'F' ? WASM_F64
                                         : 0;
            if (!t || count[side] == WASM_HOST_MAX_ARITY) {
                err->kind = WASM_ERR_LINK;
                snprintf(err->msg, sizeof err->msg, "host function %s.%s: bad signature \"%s\"",
                         module, fs[i].name, fs[i].sig);
                return false;
            }
            types[side][count[side]++] = t;
        }
        if (!wasm_linker_func(l, module, fs[i].name, count[0], types[0], count[1], types[1],
                              fs[i].fn, env, err))
            return false;
    }
    return true;
}

bool wasm_linker_memory(wasm_linker *l, const char *module, const char *name, uint32_t min,
                        uint32_t max, bool has_max, wasm_error *err) {
    wasm_memory *mem = util_arena_alloc(&l->arena, sizeof *mem);
    wasm_memory **nm = realloc(l->mems, (l->nmems + 1) * sizeof *nm);
    if (!mem || !nm) return oom(err);
    l->mems = nm;
    if (!wasm_memory_init(mem, min, has_max ? max : 65536, err)) return false;
    mem->has_max = has_max;
    l->mems[l->nmems++] = mem;
    return define(l, module, name, (wasm_extern){WASM_EXTERN_MEMORY, mem}, err);
}

/* Tables can grow, so their entries live in malloc'd memory that the
 * owner (instance or linker) frees. */
#define MAX_TABLE_SIZE 10000000u

static bool table_init(wasm_table_obj *t, wasm_valtype elem, uint32_t min, uint32_t max) {
    t->elem = elem;
    t->size = min;
    t->max = max;
    t->elems = min ? calloc(min, sizeof(void *)) : NULL;
    return !min || t->elems;
}

int64_t wasm_table_grow(wasm_table_obj *t, uint32_t n, void *init) {
    uint32_t old = t->size;
    if ((uint64_t)old + n > t->max || (uint64_t)old + n > MAX_TABLE_SIZE) return -1;
    if (n == 0) return old;
    void **ne = realloc(t->elems, ((size_t)old + n) * sizeof *ne);
    if (!ne) return -1;
    for (uint32_t k = 0; k < n; k++)
        ne[old + k] = init;
    t->elems = ne;
    t->size = old + n;
    return old;
}

bool wasm_linker_table(wasm_linker *l, const char *module, const char *name, wasm_valtype elem,
                       uint32_t min, uint32_t max, bool has_max, wasm_error *err) {
    wasm_table_obj *t = util_arena_alloc(&l->arena, sizeof *t);
    wasm_table_obj **nt = realloc(l->tables, (l->ntables + 1) * sizeof *nt);
    if (!t || !nt) return oom(err);
    l->tables = nt;
    if (!table_init(t, elem, min, has_max ? max : UINT32_MAX)) return oom(err);
    l->tables[l->ntables++] = t;
    return define(l, module, name, (wasm_extern){WASM_EXTERN_TABLE, t}, err);
}

static void value_to_cells(const wasm_value *v, wasm_cell *c) {
    c[0] = c[1] = 0;
    switch (v->type) {
    case WASM_I32:
    case WASM_F32: c[0] = v->of.i32; break;
    case WASM_I64:
    case WASM_F64: c[0] = v->of.i64; break;
    case WASM_V128: memcpy(c, v->of.v128, 16); break;
    default: c[0] = (uintptr_t)v->of.ref; break;
    }
}

static wasm_value cells_to_value(wasm_valtype t, const wasm_cell *c) {
    wasm_value v = {.type = t};
    switch (t) {
    case WASM_I32:
    case WASM_F32: v.of.i32 = (uint32_t)c[0]; break;
    case WASM_I64:
    case WASM_F64: v.of.i64 = c[0]; break;
    case WASM_V128: memcpy(v.of.v128, c, 16); break;
    default: v.of.ref = (void *)(uintptr_t)c[0]; break;
    }
    return v;
}

bool wasm_linker_global(wasm_linker *l, const char *module, const char *name, wasm_value init,
                        bool mut, wasm_error *err) {
    wasm_global_obj *g = util_arena_alloc(&l->arena, sizeof *g);
    if (!g) return oom(err);
    g->type = init.type;
    g->mut = mut;
    value_to_cells(&init, g->val);
    return define(l, module, name, (wasm_extern){WASM_EXTERN_GLOBAL, g}, err);
}

/* ---- exports -------------------------------------------------------------- */

static wasm_extern export_extern(wasm_instance *inst, const wasm_export *e) {
    wasm_extern x = {e->kind, NULL};
    switch (e->kind) {
    case WASM_EXTERN_FUNC: x.obj = inst->funcs[e->index]; break;
    case WASM_EXTERN_TABLE: x.obj = inst->tables[e->index]; break;
    case WASM_EXTERN_MEMORY: x.obj = inst->mem; break;
    case WASM_EXTERN_GLOBAL: x.obj = inst->globals[e->index]; break;
    }
    return x;
}

bool wasm_linker_instance(wasm_linker *l, const char *module, wasm_instance *inst,
                          wasm_error *err) {
    const wasm_module *m = inst->module;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *e = &m->exports[i];
        if (strlen(e->name.str) != e->name.len) continue; /* names with NUL: not addressable */
        if (!define(l, module, e->name.str, export_extern(inst, e), err)) return false;
    }
    return true;
}

bool wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len, wasm_extern *out) {
    const wasm_module *m = inst->module;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *e = &m->exports[i];
        if (e->name.len == len && memcmp(e->name.str, name, len) == 0) {
            *out = export_extern(inst, e);
            return true;
        }
    }
    return false;
}

bool wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *out) {
    return wasm_instance_export_n(inst, name, strlen(name), out);
}

const wasm_functype *wasm_func_type(wasm_extern fn) {
    return ((const wasm_funcinst *)fn.obj)->type;
}

wasm_value wasm_global_get(wasm_extern g) {
    const wasm_global_obj *o = g.obj;
    return cells_to_value(o->type, o->val);
}

void wasm_global_set(wasm_extern g, wasm_value v) {
    value_to_cells(&v, ((wasm_global_obj *)g.obj)->val);
}

uint8_t *wasm_memory_data(wasm_extern mem, uint64_t *size) {
    wasm_memory *m = mem.obj;
    *size = m->pages * WASM_PAGE_SIZE;
    return m->base;
}

uint8_t *wasm_instance_memory(wasm_instance *inst, uint64_t *size) {
    *size = inst->mem ? inst->mem->pages * WASM_PAGE_SIZE : 0;
    return inst->mem ? inst->mem->base : NULL;
}

uint8_t *wasm_guest_bytes(wasm_instance *caller, uint32_t ptr, uint32_t len) {
    if (!caller || !caller->mem) return NULL;
    uint64_t size = caller->mem->pages * WASM_PAGE_SIZE;
    if ((uint64_t)ptr + len > size) return NULL;
    return caller->mem->base + ptr;
}

bool wasm_functype_eq(const wasm_functype *a, const wasm_functype *b) {
    if (a == b) return true;
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           !memcmp(a->params, b->params, a->nparams) &&
           !memcmp(a->results, b->results, a->nresults);
}

/* ---- calls from the host -------------------------------------------------- */

wasm_trap_code wasm_call(wasm_extern fn, const wasm_value *args, wasm_value *results) {
    return wasm_call_ex(fn, args, results, NULL);
}

void wasm_interrupt(wasm_instance *inst) {
    /* the flag, then a poke of compiled code wherever it runs, whose slow
     * path reads the flag (jit_watch.c); the interpreter reads the flag */
    __atomic_store_n(&inst->interrupt, 1, __ATOMIC_SEQ_CST);
    wasm_jit_poke_all();
}

wasm_trap_code wasm_call_ex(wasm_extern fn, const wasm_value *args, wasm_value *results,
                            const wasm_call_opts *opts) {
    const wasm_funcinst *f = fn.obj;
    const wasm_functype *ft = f->type;
    if (f->host) return f->host(f->env, NULL, args, results);
    uint32_t ncells = 0;
    for (uint32_t i = 0; i < ft->nparams; i++)
        ncells += wasm_cells(ft->params[i]);
    uint32_t nres = 0;
    for (uint32_t i = 0; i < ft->nresults; i++)
        nres += wasm_cells(ft->results[i]);
    if (nres > ncells) ncells = nres;
    wasm_cell stackbuf[32];
    wasm_cell *cells = ncells <= 32 ? stackbuf : malloc(ncells * sizeof *cells);
    if (!cells) return WASM_TRAP_STACK_EXHAUSTED;
    uint32_t k = 0;
    for (uint32_t i = 0; i < ft->nparams; i++) {
        wasm_cell tmp[2];
        value_to_cells(&args[i], tmp);
        memcpy(cells + k, tmp, wasm_cells(ft->params[i]) * sizeof(wasm_cell));
        k += wasm_cells(ft->params[i]);
    }
    wasm_trap_code trap = wasm_interp_call(f, cells, opts);
    if (trap == WASM_TRAP_NONE) {
        k = 0;
        for (uint32_t i = 0; i < ft->nresults; i++) {
            results[i] = cells_to_value(ft->results[i], cells + k);
            k += wasm_cells(ft->results[i]);
        }
    }
    if (cells != stackbuf) free(cells);
    return trap;
}

/* ---- instantiation -------------------------------------------------------- */

static bool link_error(wasm_error *err, const wasm_import *im, const char *why) {
    err->kind = WASM_ERR_LINK;
    snprintf(err->msg, sizeof err->msg, "%s: import \"%.*s\" \"%.*s\" (%s)", why,
             (int)(im->module.len > 60 ? 60 : im->module.len), im->module.str,
             (int)(im->name.len > 60 ? 60 : im->name.len), im->name.str,
             wasm_externkind_name(im->kind));
    return false;
}

static bool trap_error(wasm_error *err, wasm_trap_code code, const char *where) {
    err->kind = WASM_ERR_TRAP;
    err->trap = code;
    snprintf(err->msg, sizeof err->msg, "%s during %s", wasm_trap_message(code), where);
    return false;
}

/* Import limits match when the provided object is at least as large as
 * asked and, if a maximum is asked, has one no larger. */
static bool limits_match(uint64_t size, uint64_t max, bool has_max, const wasm_limits *want) {
    if (size < want->min) return false;
    if (want->has_max && (!has_max || max > want->max)) return false;
    return true;
}

/* The definition import `im` of `m` resolves to, or NULL with *why. */
static const link_def *resolve(const wasm_linker *l, const wasm_module *m, const wasm_import *im,
                               const char **why) {
    const link_def *d = lookup(l, &im->module, &im->name);
    *why = "incompatible import type";
    if (!d) {
        *why = "unknown import";
        return NULL;
    }
    if (d->ext.kind != im->kind) return NULL;
    switch (im->kind) {
    case WASM_EXTERN_FUNC: {
        const wasm_funcinst *f = d->ext.obj;
        return wasm_functype_eq(f->type, &m->types[im->desc.func_type]) ? d : NULL;
    }
    case WASM_EXTERN_TABLE: {
        const wasm_table_obj *t = d->ext.obj;
        return t->elem == im->desc.table.elem &&
                       limits_match(t->size, t->max, t->max != UINT32_MAX, &im->desc.table.limits)
                   ? d
                   : NULL;
    }
    case WASM_EXTERN_MEMORY: {
        const wasm_memory *mem = d->ext.obj;
        return limits_match(mem->pages, mem->max_pages, mem->has_max, &im->desc.memory.limits)
                   ? d
                   : NULL;
    }
    case WASM_EXTERN_GLOBAL: {
        const wasm_global_obj *g = d->ext.obj;
        return g->type == im->desc.global.type && g->mut == im->desc.global.mut ? d : NULL;
    }
    }
    return NULL;
}

bool wasm_linker_resolves(const wasm_linker *l, const wasm_module *m, uint32_t i,
                          const char **why) {
    const char *w;
    bool ok = i < m->nimports && resolve(l, m, &m->imports[i], &w);
    if (why) *why = ok ? NULL : i < m->nimports ? w : "no such import";
    return ok;
}

static bool resolve_imports(wasm_instance *inst, wasm_linker *l, wasm_error *err) {
    const wasm_module *m = inst->module;
    uint32_t fi = 0, ti = 0, gi = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        const char *why;
        const link_def *d = resolve(l, m, im, &why);
        if (!d) return link_error(err, im, why);
        switch (im->kind) {
        case WASM_EXTERN_FUNC: inst->funcs[fi++] = d->ext.obj; break;
        case WASM_EXTERN_TABLE: inst->tables[ti++] = d->ext.obj; break;
        case WASM_EXTERN_MEMORY: inst->mem = d->ext.obj; break;
        case WASM_EXTERN_GLOBAL: inst->globals[gi++] = d->ext.obj; break;
        }
    }
    return true;
}

/* Evaluates a validated constant expression into cells. */
static void eval_const(wasm_instance *inst, const wasm_constexpr *ce, wasm_cell out[2]) {
    wasm_error scratch = {0};
    wasm_reader r = {inst->module->bytes, ce->code, ce->code + ce->len, &scratch};
    wasm_cell stack[64][2];
    uint32_t n = 0;
    wasm_instr ins;
    while (wasm_read_instr(&r, &ins) && ins.op != WASM_OP_END) {
        wasm_cell *top = stack[n];
        top[1] = 0;
        switch (ins.op) {
        case WASM_OP_I32_CONST: top[0] = (uint32_t)ins.imm.i32; break;
        case WASM_OP_I64_CONST: top[0] = (uint64_t)ins.imm.i64; break;
        case WASM_OP_F32_CONST: top[0] = ins.imm.f32; break;
        case WASM_OP_F64_CONST: top[0] = ins.imm.f64; break;
        case WASM_OP_V128_CONST: memcpy(top, ins.imm.bytes, 16); break;
        case WASM_OP_REF_NULL: top[0] = 0; break;
        case WASM_OP_REF_FUNC: top[0] = (uintptr_t)inst->funcs[ins.imm.index]; break;
        case WASM_OP_GLOBAL_GET: memcpy(top, inst->globals[ins.imm.index]->val, 16); break;
        default: { /* extended const: i32/i64 add, sub, mul on the top two */
            uint64_t a = stack[n - 2][0], b = stack[n - 1][0], v;
            bool is32 =
                ins.op == WASM_OP_I32_ADD || ins.op == WASM_OP_I32_SUB || ins.op == WASM_OP_I32_MUL;
            switch (ins.op) {
            case WASM_OP_I32_ADD:
            case WASM_OP_I64_ADD: v = a + b; break;
            case WASM_OP_I32_SUB:
            case WASM_OP_I64_SUB: v = a - b; break;
            default: v = a * b; break;
            }
            n -= 2;
            top = stack[n];
            top[0] = is32 ? (uint32_t)v : v;
            top[1] = 0;
            break;
        }
        }
        n++;
    }
    memcpy(out, stack[0], 2 * sizeof(wasm_cell));
}

static bool alloc_spaces(wasm_instance *inst, wasm_error *err) {
    const wasm_module *m = inst->module;
    util_arena *a = &inst->arena;
    inst->funcs = util_arena_calloc(a, m->nfuncs + 1, sizeof *inst->funcs);
    inst->tables = util_arena_calloc(a, m->ntables + 1, sizeof *inst->tables);
    inst->globals = util_arena_calloc(a, m->nglobals + 1, sizeof *inst->globals);
    inst->elem_dropped = util_arena_calloc(a, m->nelems + 1, 1);
    inst->data_dropped = util_arena_calloc(a, m->ndatas + 1, 1);
    if (!inst->funcs || !inst->tables || !inst->globals || !inst->elem_dropped ||
        !inst->data_dropped)
        return oom(err);
    return true;
}

/* Bytes counted against the cap: memory 0 (owned) and the own tables. */
static uint64_t counted_bytes(const wasm_instance *inst) {
    const wasm_module *m = inst->module;
    uint64_t n = inst->mem == &inst->own_mem ? inst->own_mem.pages * WASM_PAGE_SIZE : 0;
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
        if (inst->tables[i]) n += (uint64_t)inst->tables[i]->size * sizeof(void *);
    return n;
}

bool wasm_instance_adopt_native(wasm_instance *inst) {
    if (inst->native) return false;
    const wasm_module *m = inst->module;
    const wasm_module_impl *mi = wasm_impl(m);
    void **natives = wasm_module_natives(mi);
    if (!natives) return false;
    /* the instance's own function objects, which its tables and exports
     * point to as well: switching them switches every way in */
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        wasm_funcinst *f = inst->funcs[i];
        f->native = natives[i - m->nfunc_imports];
        f->entry = mi->entries[i - m->nfunc_imports];
    }
    inst->native = true;
    return true;
}

bool wasm_instance_fits(const wasm_instance *inst, uint64_t extra) {
    return !inst->cap_bytes || counted_bytes(inst) + extra <= inst->cap_bytes;
}

static bool create_own(wasm_instance *inst, uint32_t cap, wasm_error *err) {
    const wasm_module *m = inst->module;
    const wasm_module_impl *mi = wasm_impl(m);
    util_arena *a = &inst->arena;
    void **natives = wasm_module_natives(mi);
    inst->native = natives != NULL;
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        wasm_funcinst *f = util_arena_alloc(a, sizeof *f);
        if (!f) return oom(err);
        *f = (wasm_funcinst){.type = &m->types[m->funcs[i].type],
                             .inst = inst,
                             .code = &mi->codes[i - m->nfunc_imports]};
        if (natives) {
            f->native = natives[i - m->nfunc_imports];
            f->entry = mi->entries[i - m->nfunc_imports];
        }
        inst->funcs[i] = f;
    }
    inst->cap_bytes = (uint64_t)cap * WASM_PAGE_SIZE;
    uint64_t table_bytes = 0;
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
        const wasm_tabletype *tt = &m->tables[i];
        /* checked before anything is allocated: a declared size is the
         * module's to choose, not a promise the host must keep */
        table_bytes += tt->limits.min * sizeof(void *);
        if (tt->limits.min > MAX_TABLE_SIZE || (inst->cap_bytes && table_bytes > inst->cap_bytes)) {
            err->kind = WASM_ERR_LIMIT;
            if (tt->limits.min > MAX_TABLE_SIZE)
                snprintf(err->msg, sizeof err->msg,
                         "table %u of %llu entries is over this host's limit of %u entries", i,
                         (unsigned long long)tt->limits.min, MAX_TABLE_SIZE);
            else
                snprintf(err->msg, sizeof err->msg,
                         "tables of %llu bytes (8 per entry) are over this host's memory limit "
                         "of %llu bytes",
                         (unsigned long long)table_bytes, (unsigned long long)inst->cap_bytes);
            return false;
        }
    }
    for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
        const wasm_tabletype *tt = &m->tables[i];
        wasm_table_obj *t = util_arena_alloc(a, sizeof *t);
        if (!t) return oom(err);
        inst->tables[i] = t;
        if (!table_init(t, tt->elem, (uint32_t)tt->limits.min,
                        tt->limits.has_max ? (uint32_t)tt->limits.max : UINT32_MAX))
            return oom(err);
    }
    if (m->nmemories > m->nmemory_imports) {
        const wasm_limits *lim = &m->memories[m->nmemory_imports].limits;
        uint32_t max = lim->has_max ? (uint32_t)lim->max : 65536;
        if (cap && max > cap) max = cap;
        if (lim->min > max) {
            err->kind = WASM_ERR_LIMIT;
            snprintf(err->msg, sizeof err->msg,
                     "memory of %llu pages is over this host's limit of %u pages",
                     (unsigned long long)lim->min, max);
            return false;
        }
        if (cap && lim->min * WASM_PAGE_SIZE + table_bytes > inst->cap_bytes) {
            err->kind = WASM_ERR_LIMIT;
            snprintf(err->msg, sizeof err->msg,
                     "memory of %llu pages and tables of %llu bytes are over this host's memory "
                     "limit of %llu bytes",
                     (unsigned long long)lim->min, (unsigned long long)table_bytes,
                     (unsigned long long)inst->cap_bytes);
            return false;
        }
        if (!wasm_memory_init(&inst->own_mem, (uint32_t)lim->min, max, err)) return false;
        inst->own_mem.has_max = lim->has_max;
        inst->mem = &inst->own_mem;
    }
    inst->mem_base = inst->mem ? inst->mem->base : NULL;
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        wasm_global_obj *g = util_arena_alloc(a, sizeof *g);
        if (!g) return oom(err);
        g->type = m->globals[i].type.type;
        g->mut = m->globals[i].type.mut;
        inst->globals[i] = g;
        eval_const(inst, &m->globals[i].init, g->val);
    }
    return true;
}

static bool apply_segments(wasm_instance *inst, wasm_error *err) {
    const wasm_module *m = inst->module;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        if (e->mode == WASM_SEG_PASSIVE) continue;
        inst->elem_dropped[i] = 1;
        if (e->mode == WASM_SEG_DECLARATIVE) continue;
        wasm_cell off[2];
        eval_const(inst, &e->offset, off);
        wasm_table_obj *t = inst->tables[e->table];
        uint64_t start = (uint32_t)off[0];
        if (start + e->count > t->size)
            return trap_error(err, WASM_TRAP_OOB_TABLE, "element segment initialisation");
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs) {
                t->elems[start + k] = inst->funcs[e->funcs[k]];
            } else {
                t->elems[start + k] = wasm_elem_item(inst, e, k);
            }
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *ds = &m->datas[i];
        if (ds->mode != WASM_SEG_ACTIVE) continue;
        inst->data_dropped[i] = 1;
        wasm_cell off[2];
        eval_const(inst, &ds->offset, off);
        uint64_t start = (uint32_t)off[0];
        if (start + ds->len > inst->mem->pages * WASM_PAGE_SIZE)
            return trap_error(err, WASM_TRAP_OOB_MEMORY, "data segment initialisation");
        if (ds->len) memcpy(inst->mem->base + start, ds->bytes, ds->len);
    }
    return true;
}

wasm_instance *wasm_instance_alloc(const wasm_module *m, wasm_linker *l, wasm_error *err) {
    wasm_instance *inst = calloc(1, sizeof *inst);
    if (!inst) {
        oom(err);
        return NULL;
    }
    inst->module = m;
    if (!alloc_spaces(inst, err) || !resolve_imports(inst, l, err) ||
        !create_own(inst, l ? l->mem_cap_pages : 0, err)) {
        wasm_instance_free(inst);
        return NULL;
    }
    return inst;
}

wasm_instance *wasm_instance_new(const wasm_module *m, wasm_linker *l, wasm_error *err) {
    wasm_error local_err;
    if (!err) err = &local_err;
    memset(err, 0, sizeof *err);
    if (!wasm_impl(m)->codes) {
        err->kind = WASM_ERR_INVALID;
        snprintf(err->msg, sizeof err->msg,
                 "module was not loaded for execution (use wasm_module_load)");
        return NULL;
    }
    wasm_error trap_msg = {0};
    if (!wasm_trap_init(&trap_msg)) {
        *err = trap_msg;
        return NULL;
    }
    wasm_instance *inst = wasm_instance_alloc(m, l, err);
    if (!inst) return NULL;
    if (!apply_segments(inst, err)) goto fail;
    if (m->has_start) {
        wasm_trap_code t =
            wasm_call((wasm_extern){WASM_EXTERN_FUNC, inst->funcs[m->start]}, NULL, NULL);
        if (t != WASM_TRAP_NONE) {
            trap_error(err, t, "the start function");
            goto fail;
        }
    }
    return inst;
fail:
    if (err->kind == WASM_ERR_TRAP && l && (m->ntable_imports || m->nmemory_imports)) {
        wasm_instance **no = realloc(l->orphans, (l->norphans + 1) * sizeof *no);
        if (no) {
            l->orphans = no;
            l->orphans[l->norphans++] = inst;
            return NULL;
        }
    }
    wasm_instance_free(inst);
    return NULL;
}

void *wasm_elem_item(wasm_instance *inst, const wasm_elem *e, uint32_t k) {
    wasm_cell v[2];
    eval_const(inst, &e->exprs[k], v);
    return (void *)(uintptr_t)v[0];
}

void wasm_instance_free(wasm_instance *inst) {
    if (!inst) return;
    const wasm_module *m = inst->module;
    if (inst->tables)
        for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
            if (inst->tables[i]) free(inst->tables[i]->elems);
    wasm_memory_release(&inst->own_mem);
    util_arena_free(&inst->arena);
    free(inst);
}
