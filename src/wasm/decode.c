/*
 * decode.c - bytes -> wasm_module: the binary format of WebAssembly 2.0
 * with tail calls and extended constant expressions.
 *
 * The decoder walks the sections in order, checks every length, LEB128,
 * UTF-8 name, count and reserved byte, and fills the read-only module
 * description of wasm.h. Function bodies are only delimited here: their
 * instructions are decoded by the validator's single pass over each body
 * (validate.c), which the compiler shares. Constant expressions are
 * delimited here with the shared instruction decoder and typed later.
 *
 * Every allocation comes from the module's arena; a failure anywhere frees
 * the whole arena, so there is no partial module to clean up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

/* Implementation limits: far above anything a real module needs, low
 * enough that a hostile count cannot make us allocate gigabytes before
 * the section runs out of bytes. Counts are also checked against the
 * bytes left, since every entry takes at least one byte. */
#define MAX_TYPES 1000000u
#define MAX_FUNCS 1000000u
#define MAX_PARAMS 1000u
#define MAX_TABLES 100000u
#define MAX_LOCALS 50000u

enum {
    SEC_CUSTOM = 0,
    SEC_TYPE,
    SEC_IMPORT,
    SEC_FUNCTION,
    SEC_TABLE,
    SEC_MEMORY,
    SEC_GLOBAL,
    SEC_EXPORT,
    SEC_START,
    SEC_ELEMENT,
    SEC_CODE,
    SEC_DATA,
    SEC_DATACOUNT,
};

/* Where each section may appear: the data count section sits between
 * element and code. */
static const uint8_t section_rank[] = {
    [SEC_TYPE] = 1,    [SEC_IMPORT] = 2,     [SEC_FUNCTION] = 3, [SEC_TABLE] = 4,
    [SEC_MEMORY] = 5,  [SEC_GLOBAL] = 6,     [SEC_EXPORT] = 7,   [SEC_START] = 8,
    [SEC_ELEMENT] = 9, [SEC_DATACOUNT] = 10, [SEC_CODE] = 11,    [SEC_DATA] = 12,
};

static const char *const section_names[] = {
    "custom", "type",  "import",  "function", "table", "memory",     "global",
    "export", "start", "element", "code",     "data",  "data count",
};

typedef struct decoder {
    wasm_reader r;
    wasm_module_impl *mi;
    util_arena *a;
    /* declarations of the module's own entities, merged after imports
     * into the index spaces once all sections are read */
    uint32_t nfunc_decls, ntable_decls, nmem_decls, nglobal_decls;
    uint32_t *func_decl_types;
    wasm_tabletype *table_decls;
    wasm_memtype *mem_decls;
    wasm_global *global_decls;
    bool has_func_section, has_code_section, has_data_section;
    wasm_func *code; /* bodies from the code section, nfunc_decls of them */
    uint32_t ncode;
} decoder;

#define R (&d->r)

static bool nomem(decoder *d) {
    return wasm_fail_at(R, R->p, WASM_ERR_NOMEM, "out of memory while decoding");
}

static void *alloc_array(decoder *d, uint32_t n, size_t size) {
    void *p = util_arena_calloc(d->a, n ? n : 1, size);
    if (!p) nomem(d);
    return p;
}

/* Reads a vector count, rejecting counts that cannot fit in what is left:
 * each element takes at least `min_size` bytes. */
static bool read_count(decoder *d, uint32_t *n, uint32_t min_size, uint32_t limit,
                       const char *what) {
    const uint8_t *at = R->p;
    if (!wasm_read_u32(R, n)) return false;
    if ((uint64_t)*n * min_size > (uint64_t)(R->end - R->p))
        return wasm_fail_at(
            R, at, WASM_ERR_MALFORMED,
            "unexpected end: %u %s declared but the section has only %zu bytes left", *n, what,
            (size_t)(R->end - R->p));
    if (*n > limit)
        return wasm_fail_at(R, at, WASM_ERR_LIMIT, "too many %s: %u (wasp's limit is %u)", what, *n,
                            limit);
    return true;
}

static bool read_name(decoder *d, wasm_name *out) {
    uint32_t len;
    const uint8_t *bytes;
    if (!wasm_read_u32(R, &len)) return false;
    const uint8_t *at = R->p;
    if (len > (size_t)(R->end - R->p))
        return wasm_malformed(R, "unexpected end: name of %u bytes runs past the section", len);
    if (!wasm_read_bytes(R, len, &bytes)) return false;
    size_t bad;
    if (!util_utf8_valid(bytes, len, &bad))
        return wasm_fail_at(R, at + bad, WASM_ERR_MALFORMED, "malformed UTF-8 encoding");
    out->str = util_arena_strndup(d->a, bytes, len);
    if (!out->str) return nomem(d);
    out->len = len;
    return true;
}

static bool read_limits(decoder *d, wasm_limits *l) {
    uint8_t flags;
    if (!wasm_read_u8(R, &flags)) return false;
    if (flags > 1) {
        R->p--;
        return wasm_malformed(R, "integer too large: limits flags must be 0 or 1, got 0x%02x",
                              flags);
    }
    uint32_t v;
    if (!wasm_read_u32(R, &v)) return false;
    l->min = v;
    l->has_max = flags == 1;
    if (l->has_max) {
        if (!wasm_read_u32(R, &v)) return false;
        l->max = v;
    }
    return true;
}

static bool read_tabletype(decoder *d, wasm_tabletype *t) {
    return wasm_read_reftype(R, &t->elem) && read_limits(d, &t->limits);
}

static bool read_globaltype(decoder *d, wasm_globaltype *g) {
    uint8_t mut;
    if (!wasm_read_valtype(R, &g->type) || !wasm_read_u8(R, &mut)) return false;
    if (mut > 1) {
        R->p--;
        return wasm_malformed(R, "malformed mutability 0x%02x", mut);
    }
    g->mut = mut == 1;
    return true;
}

/* Delimits a constant expression: instructions up to the first `end`.
 * Which instructions are allowed is checked by the validator. */
static bool read_constexpr(decoder *d, wasm_constexpr *ce) {
    const uint8_t *start = R->p;
    wasm_instr ins;
    do {
        if (!wasm_read_instr(R, &ins)) return false;
    } while (ins.op != WASM_OP_END);
    ce->code = start;
    ce->len = (uint32_t)(R->p - start);
    ce->offset = (uint32_t)(start - R->base);
    return true;
}

/* ---- sections ----------------------------------------------------------- */

static bool read_type_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint32_t n;
    if (!read_count(d, &n, 3, MAX_TYPES, "types")) return false;
    wasm_functype *types = alloc_array(d, n, sizeof *types);
    if (!types) return false;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        if (!wasm_read_u8(R, &form)) return false;
        if (form != 0x60) {
            R->p--;
            return wasm_malformed(R, "malformed function type: expected 0x60, got 0x%02x", form);
        }
        uint32_t np, nr;
        wasm_valtype *params, *results;
        if (!read_count(d, &np, 1, MAX_PARAMS, "parameters")) return false;
        if (!(params = alloc_array(d, np, 1))) return false;
        for (uint32_t k = 0; k < np; k++)
            if (!wasm_read_valtype(R, &params[k])) return false;
        if (!read_count(d, &nr, 1, MAX_PARAMS, "results")) return false;
        if (!(results = alloc_array(d, nr, 1))) return false;
        for (uint32_t k = 0; k < nr; k++)
            if (!wasm_read_valtype(R, &results[k])) return false;
        types[i] = (wasm_functype){np, nr, params, results};
    }
    m->types = types;
    m->ntypes = n;
    return true;
}

static bool read_import_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint32_t n;
    if (!read_count(d, &n, 4, MAX_FUNCS, "imports")) return false;
    wasm_import *imps = alloc_array(d, n, sizeof *imps);
    if (!imps) return false;
    for (uint32_t i = 0; i < n; i++) {
        wasm_import *im = &imps[i];
        if (!read_name(d, &im->module) || !read_name(d, &im->name)) return false;
        uint8_t kind;
        if (!wasm_read_u8(R, &kind)) return false;
        switch (kind) {
        case WASM_EXTERN_FUNC:
            if (!wasm_read_u32(R, &im->desc.func_type)) return false;
            m->nfunc_imports++;
            break;
        case WASM_EXTERN_TABLE:
            if (!read_tabletype(d, &im->desc.table)) return false;
            m->ntable_imports++;
            break;
        case WASM_EXTERN_MEMORY:
            if (!read_limits(d, &im->desc.memory.limits)) return false;
            m->nmemory_imports++;
            break;
        case WASM_EXTERN_GLOBAL:
            if (!read_globaltype(d, &im->desc.global)) return false;
            m->nglobal_imports++;
            break;
        default: R->p--; return wasm_malformed(R, "malformed import kind 0x%02x", kind);
        }
        im->kind = (wasm_externkind)kind;
    }
    m->imports = imps;
    m->nimports = n;
    return true;
}

static bool read_function_section(decoder *d) {
    uint32_t n;
    if (!read_count(d, &n, 1, MAX_FUNCS, "functions")) return false;
    if (!(d->func_decl_types = alloc_array(d, n, sizeof(uint32_t)))) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!wasm_read_u32(R, &d->func_decl_types[i])) return false;
    d->nfunc_decls = n;
    d->has_func_section = true;
    return true;
}

static bool read_table_section(decoder *d) {
    uint32_t n;
    if (!read_count(d, &n, 3, MAX_TABLES, "tables")) return false;
    if (!(d->table_decls = alloc_array(d, n, sizeof *d->table_decls))) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_tabletype(d, &d->table_decls[i])) return false;
    d->ntable_decls = n;
    return true;
}

static bool read_memory_section(decoder *d) {
    uint32_t n;
    if (!read_count(d, &n, 2, MAX_TABLES, "memories")) return false;
    if (!(d->mem_decls = alloc_array(d, n, sizeof *d->mem_decls))) return false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_limits(d, &d->mem_decls[i].limits)) return false;
    d->nmem_decls = n;
    return true;
}

static bool read_global_section(decoder *d) {
    uint32_t n;
    if (!read_count(d, &n, 3, MAX_FUNCS, "globals")) return false;
    if (!(d->global_decls = alloc_array(d, n, sizeof *d->global_decls))) return false;
    for (uint32_t i = 0; i < n; i++) {
        wasm_global *g = &d->global_decls[i];
        if (!read_globaltype(d, &g->type) || !read_constexpr(d, &g->init)) return false;
    }
    d->nglobal_decls = n;
    return true;
}

static bool read_export_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint32_t n;
    if (!read_count(d, &n, 3, MAX_FUNCS, "exports")) return false;
    wasm_export *exps = alloc_array(d, n, sizeof *exps);
    if (!exps) return false;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kind;
        exps[i].offset = (uint32_t)(R->p - R->base);
        if (!read_name(d, &exps[i].name) || !wasm_read_u8(R, &kind)) return false;
        if (kind > WASM_EXTERN_GLOBAL) {
            R->p--;
            return wasm_malformed(R, "malformed export kind 0x%02x", kind);
        }
        exps[i].kind = (wasm_externkind)kind;
        if (!wasm_read_u32(R, &exps[i].index)) return false;
    }
    m->exports = exps;
    m->nexports = n;
    return true;
}

static bool read_start_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    m->has_start = true;
    return wasm_read_u32(R, &m->start);
}

static bool read_elemkind(decoder *d) {
    uint8_t k;
    if (!wasm_read_u8(R, &k)) return false;
    if (k != 0) {
        R->p--;
        return wasm_malformed(R, "malformed element kind 0x%02x (only 0x00, funcref, exists)", k);
    }
    return true;
}

static bool read_element_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint32_t n;
    if (!read_count(d, &n, 2, MAX_FUNCS, "element segments")) return false;
    wasm_elem *elems = alloc_array(d, n, sizeof *elems);
    if (!elems) return false;
    for (uint32_t i = 0; i < n; i++) {
        wasm_elem *e = &elems[i];
        uint32_t flags;
        const uint8_t *at = R->p;
        if (!wasm_read_u32(R, &flags)) return false;
        if (flags > 7)
            return wasm_fail_at(R, at, WASM_ERR_MALFORMED,
                                "malformed elements segment kind %u (must be 0 to 7)", flags);
        /* bit 0: passive or declarative; bit 1: explicit table index (when
         * active) or declarative (when not); bit 2: expressions, not
         * function indices */
        bool not_active = flags & 1, bit1 = flags & 2, exprs = flags & 4;
        e->mode = !not_active ? WASM_SEG_ACTIVE : bit1 ? WASM_SEG_DECLARATIVE : WASM_SEG_PASSIVE;
        e->type = WASM_FUNCREF;
        if (!not_active) {
            if (bit1 && !wasm_read_u32(R, &e->table)) return false;
            if (!read_constexpr(d, &e->offset)) return false;
        }
        if (not_active || bit1) {
            if (exprs) {
                if (!wasm_read_reftype(R, &e->type)) return false;
            } else if (!read_elemkind(d)) {
                return false;
            }
        }
        uint32_t count;
        if (!read_count(d, &count, 1, MAX_FUNCS, "element items")) return false;
        e->count = count;
        if (exprs) {
            wasm_constexpr *items = alloc_array(d, count, sizeof *items);
            if (!items) return false;
            for (uint32_t k = 0; k < count; k++)
                if (!read_constexpr(d, &items[k])) return false;
            e->exprs = items;
        } else {
            uint32_t *funcs = alloc_array(d, count, sizeof *funcs);
            if (!funcs) return false;
            for (uint32_t k = 0; k < count; k++)
                if (!wasm_read_u32(R, &funcs[k])) return false;
            e->funcs = funcs;
        }
    }
    m->elems = elems;
    m->nelems = n;
    return true;
}

static bool read_datacount_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    m->has_data_count = true;
    return wasm_read_u32(R, &m->data_count);
}

static bool read_code_section(decoder *d) {
    uint32_t n;
    const uint8_t *at = R->p;
    if (!read_count(d, &n, 2, MAX_FUNCS, "function bodies")) return false;
    if (n != d->nfunc_decls)
        return wasm_fail_at(R, at, WASM_ERR_MALFORMED,
                            "function and code section have inconsistent lengths (%u declared, "
                            "%u bodies)",
                            d->nfunc_decls, n);
    if (!(d->code = alloc_array(d, n, sizeof *d->code))) return false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        if (!wasm_read_u32(R, &size)) return false;
        if (size > (size_t)(R->end - R->p))
            return wasm_malformed(R,
                                  "unexpected end: body of function %u is %u bytes, the "
                                  "section has %zu left",
                                  i, size, (size_t)(R->end - R->p));
        if (size == 0) return wasm_malformed(R, "unexpected end: empty function body");
        /* Local declarations are checked here so that "too many locals"
         * is a decoding error whatever the body holds. */
        wasm_reader body = {R->base, R->p, R->p + size, R->err};
        uint32_t ngroups;
        uint64_t total = 0;
        if (!wasm_read_u32(&body, &ngroups)) return false;
        for (uint32_t g = 0; g < ngroups; g++) {
            uint32_t cnt;
            wasm_valtype t;
            if (!wasm_read_u32(&body, &cnt)) return false;
            total += cnt;
            if (total > UINT32_MAX)
                return wasm_malformed(&body, "too many locals: more than 2^32-1 in function %u", i);
            if (!wasm_read_valtype(&body, &t)) return false;
        }
        if (total > MAX_LOCALS)
            return wasm_fail_at(R, R->p, WASM_ERR_LIMIT,
                                "function %u declares %llu locals (wasp's limit is %u)", i,
                                (unsigned long long)total, MAX_LOCALS);
        d->code[i].body_offset = (uint32_t)(R->p - R->base);
        d->code[i].body_size = size;
        R->p += size;
    }
    d->ncode = n;
    d->has_code_section = true;
    return true;
}

static bool read_data_section(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint32_t n;
    const uint8_t *at = R->p;
    if (!read_count(d, &n, 2, MAX_FUNCS, "data segments")) return false;
    if (m->has_data_count && n != m->data_count)
        return wasm_fail_at(R, at, WASM_ERR_MALFORMED,
                            "data count and data section have inconsistent lengths (%u and %u)",
                            m->data_count, n);
    wasm_data *datas = alloc_array(d, n, sizeof *datas);
    if (!datas) return false;
    for (uint32_t i = 0; i < n; i++) {
        wasm_data *ds = &datas[i];
        uint32_t flags;
        at = R->p;
        if (!wasm_read_u32(R, &flags)) return false;
        if (flags > 2)
            return wasm_fail_at(R, at, WASM_ERR_MALFORMED,
                                "malformed data segment kind %u (must be 0, 1 or 2)", flags);
        ds->mode = flags == 1 ? WASM_SEG_PASSIVE : WASM_SEG_ACTIVE;
        if (flags == 2 && !wasm_read_u32(R, &ds->memory)) return false;
        if (flags != 1 && !read_constexpr(d, &ds->offset)) return false;
        uint32_t len;
        if (!wasm_read_u32(R, &len)) return false;
        if (len > (size_t)(R->end - R->p))
            return wasm_malformed(R,
                                  "unexpected end of section or function: data segment %u "
                                  "has %u bytes, %zu left",
                                  i, len, (size_t)(R->end - R->p));
        if (!wasm_read_bytes(R, len, &ds->bytes)) return false;
        ds->len = len;
    }
    m->datas = datas;
    m->ndatas = n;
    d->has_data_section = true;
    return true;
}

/* The `name` custom section is informative: a malformed one is ignored, as
 * the spec allows, and never fails the module. */
static void read_name_section(decoder *d, const uint8_t *start, const uint8_t *end,
                              wasm_func *funcs, uint32_t nfuncs) {
    wasm_error scratch = {0};
    decoder sub = *d;
    sub.r = (wasm_reader){d->r.base, start, end, &scratch};
    decoder *s = &sub;
    while (s->r.p < end) {
        uint8_t id;
        uint32_t size;
        if (!wasm_read_u8(&s->r, &id) || !wasm_read_u32(&s->r, &size)) return;
        if (size > (size_t)(end - s->r.p)) return;
        const uint8_t *next = s->r.p + size;
        wasm_reader saved = s->r;
        s->r.end = next;
        if (id == 0) {
            wasm_name nm;
            if (read_name(s, &nm)) d->mi->pub.module_name = nm;
        } else if (id == 1) {
            uint32_t n;
            if (!wasm_read_u32(&s->r, &n)) return;
            for (uint32_t i = 0; i < n; i++) {
                uint32_t idx;
                wasm_name nm;
                if (!wasm_read_u32(&s->r, &idx) || !read_name(s, &nm)) return;
                if (idx < nfuncs) funcs[idx].debug_name = nm;
            }
        }
        s->r = saved;
        s->r.p = next;
    }
}

/* Merges imports and declarations into the index spaces of wasm.h. */
static bool build_index_spaces(decoder *d) {
    wasm_module *m = &d->mi->pub;
    uint64_t nf = (uint64_t)m->nfunc_imports + d->nfunc_decls;
    uint64_t nt = (uint64_t)m->ntable_imports + d->ntable_decls;
    uint64_t nm = (uint64_t)m->nmemory_imports + d->nmem_decls;
    uint64_t ng = (uint64_t)m->nglobal_imports + d->nglobal_decls;
    if (nf > MAX_FUNCS || nt > MAX_TABLES || nm > MAX_TABLES || ng > MAX_FUNCS)
        return wasm_fail_at(R, R->p, WASM_ERR_LIMIT, "too many imports plus definitions");
    wasm_func *funcs = alloc_array(d, (uint32_t)nf, sizeof *funcs);
    wasm_tabletype *tables = alloc_array(d, (uint32_t)nt, sizeof *tables);
    wasm_memtype *mems = alloc_array(d, (uint32_t)nm, sizeof *mems);
    wasm_global *globals = alloc_array(d, (uint32_t)ng, sizeof *globals);
    if (!funcs || !tables || !mems || !globals) return false;
    uint32_t fi = 0, ti = 0, mi = 0, gi = 0;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        switch (im->kind) {
        case WASM_EXTERN_FUNC:
            funcs[fi++] = (wasm_func){.type = im->desc.func_type, .imported = true};
            break;
        case WASM_EXTERN_TABLE: tables[ti++] = im->desc.table; break;
        case WASM_EXTERN_MEMORY: mems[mi++] = im->desc.memory; break;
        case WASM_EXTERN_GLOBAL:
            globals[gi++] = (wasm_global){.type = im->desc.global, .imported = true};
            break;
        }
    }
    for (uint32_t i = 0; i < d->nfunc_decls; i++) {
        funcs[fi] = d->code[i];
        funcs[fi].type = d->func_decl_types[i];
        fi++;
    }
    if (d->ntable_decls) memcpy(tables + ti, d->table_decls, d->ntable_decls * sizeof *tables);
    if (d->nmem_decls) memcpy(mems + mi, d->mem_decls, d->nmem_decls * sizeof *mems);
    if (d->nglobal_decls) memcpy(globals + gi, d->global_decls, d->nglobal_decls * sizeof *globals);
    m->funcs = funcs;
    m->nfuncs = (uint32_t)nf;
    m->tables = tables;
    m->ntables = (uint32_t)nt;
    m->memories = mems;
    m->nmemories = (uint32_t)nm;
    m->globals = globals;
    m->nglobals = (uint32_t)ng;
    return true;
}

static bool read_sections(decoder *d, wasm_custom **customs, uint32_t *ncustoms,
                          const uint8_t **name_sec, const uint8_t **name_end) {
    uint8_t last_rank = 0;
    uint32_t cap = 0;
    while (R->p < R->end) {
        const uint8_t *sec_at = R->p;
        uint8_t id;
        uint32_t size;
        if (!wasm_read_u8(R, &id)) return false;
        if (id > SEC_DATACOUNT)
            return wasm_fail_at(R, sec_at, WASM_ERR_MALFORMED, "malformed section id %u", id);
        if (!wasm_read_u32(R, &size)) return false;
        if (size > (size_t)(R->end - R->p))
            return wasm_malformed(R,
                                  "unexpected end: %s section claims %u bytes, only %zu remain "
                                  "(length out of bounds)",
                                  section_names[id], size, (size_t)(R->end - R->p));
        const uint8_t *sec_end = R->p + size;
        if (id != SEC_CUSTOM) {
            if (section_rank[id] <= last_rank)
                return wasm_fail_at(R, sec_at, WASM_ERR_MALFORMED,
                                    "unexpected content after last section: %s section is out of "
                                    "order or repeated",
                                    section_names[id]);
            last_rank = section_rank[id];
        }
        if (!d->mi->pub.section_offset[id])
            d->mi->pub.section_offset[id] = (uint32_t)(sec_at - R->base);
        wasm_reader outer = *R;
        R->end = sec_end;
        bool ok = true;
        switch (id) {
        case SEC_CUSTOM: {
            wasm_name nm;
            if (!read_name(d, &nm)) return false;
            if (*ncustoms == cap) {
                uint32_t ncap = cap ? cap * 2 : 4;
                wasm_custom *grown = util_arena_calloc(d->a, ncap, sizeof *grown);
                if (!grown) return nomem(d);
                if (cap) memcpy(grown, *customs, cap * sizeof *grown);
                *customs = grown;
                cap = ncap;
            }
            (*customs)[(*ncustoms)++] =
                (wasm_custom){nm, (uint32_t)(R->p - R->base), (uint32_t)(sec_end - R->p)};
            if (nm.len == 4 && memcmp(nm.str, "name", 4) == 0) {
                *name_sec = R->p;
                *name_end = sec_end;
            }
            R->p = sec_end;
            break;
        }
        case SEC_TYPE: ok = read_type_section(d); break;
        case SEC_IMPORT: ok = read_import_section(d); break;
        case SEC_FUNCTION: ok = read_function_section(d); break;
        case SEC_TABLE: ok = read_table_section(d); break;
        case SEC_MEMORY: ok = read_memory_section(d); break;
        case SEC_GLOBAL: ok = read_global_section(d); break;
        case SEC_EXPORT: ok = read_export_section(d); break;
        case SEC_START: ok = read_start_section(d); break;
        case SEC_ELEMENT: ok = read_element_section(d); break;
        case SEC_DATACOUNT: ok = read_datacount_section(d); break;
        case SEC_CODE: ok = read_code_section(d); break;
        case SEC_DATA: ok = read_data_section(d); break;
        }
        if (!ok) return false;
        if (R->p != sec_end)
            return wasm_malformed(R,
                                  "section size mismatch: %s section ends at offset %zu but "
                                  "its contents end at %zu",
                                  section_names[id], (size_t)(sec_end - R->base),
                                  (size_t)(R->p - R->base));
        *R = outer;
        R->p = sec_end;
    }
    return true;
}

wasm_module *wasm_module_decode(const uint8_t *bytes, size_t len, wasm_error *err) {
    wasm_error local_err;
    if (!err) err = &local_err;
    memset(err, 0, sizeof *err);
    if (len > UINT32_MAX) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "module of %zu bytes is larger than 4 GiB", len);
        return NULL;
    }
    wasm_module_impl *mi = calloc(1, sizeof *mi);
    uint8_t *copy = malloc(len ? len : 1);
    if (!mi || !copy) {
        free(mi);
        free(copy);
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory copying a module of %zu bytes", len);
        return NULL;
    }
    if (len) memcpy(copy, bytes, len);
    mi->pub.bytes = copy;
    mi->pub.size = len;

    decoder dd = {.r = {copy, copy, copy + len, err}, .mi = mi, .a = &mi->arena};
    decoder *d = &dd;
    static const uint8_t magic[4] = {0, 'a', 's', 'm'}, version[4] = {1, 0, 0, 0};
    const uint8_t *hdr;
    wasm_custom *customs = NULL;
    uint32_t ncustoms = 0;
    const uint8_t *name_sec = NULL, *name_end = NULL;
    if (!wasm_read_bytes(R, 4, &hdr)) goto fail;
    if (memcmp(hdr, magic, 4) != 0) {
        wasm_fail_at(R, hdr, WASM_ERR_MALFORMED,
                     "magic header not detected: not a WebAssembly binary module");
        goto fail;
    }
    if (!wasm_read_bytes(R, 4, &hdr)) goto fail;
    if (memcmp(hdr, version, 4) != 0) {
        wasm_fail_at(R, hdr, WASM_ERR_MALFORMED,
                     "unknown binary version %02x %02x %02x %02x (expected 01 00 00 00)", hdr[0],
                     hdr[1], hdr[2], hdr[3]);
        goto fail;
    }
    if (!read_sections(d, &customs, &ncustoms, &name_sec, &name_end)) goto fail;
    if (d->nfunc_decls != d->ncode) {
        wasm_fail_at(R, R->p, WASM_ERR_MALFORMED,
                     "function and code section have inconsistent lengths (%u declared, %u bodies)",
                     d->nfunc_decls, d->ncode);
        goto fail;
    }
    if (mi->pub.has_data_count && !d->has_data_section && mi->pub.data_count != 0) {
        wasm_fail_at(R, R->p, WASM_ERR_MALFORMED,
                     "data count and data section have inconsistent lengths (%u and none)",
                     mi->pub.data_count);
        goto fail;
    }
    if (!build_index_spaces(d)) goto fail;
    mi->pub.customs = customs;
    mi->pub.ncustoms = ncustoms;
    if (name_sec)
        read_name_section(d, name_sec, name_end, (wasm_func *)mi->pub.funcs, mi->pub.nfuncs);
    return &mi->pub;
fail:
    wasm_module_free(&mi->pub);
    return NULL;
}

void wasm_module_free(wasm_module *m) {
    if (!m) return;
    wasm_module_impl *mi = wasm_impl(m);
    if (mi->codes) {
        for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
            wasm_code_free(&mi->codes[i]);
        free(mi->codes);
    }
    wasm_jit_unload(mi->jit);
    free(mi->natives);
    free(mi->entries);
    free(mi->ranges);
    free(mi->jit_obj);
    util_arena_free(&mi->arena);
    free((void *)m->bytes);
    free(mi);
}

wasm_module *wasm_module_load(const uint8_t *bytes, size_t len, wasm_error *err) {
    wasm_module *m = wasm_module_decode(bytes, len, err);
    if (m && !wasm_module_validate_and_compile(m, err)) {
        wasm_module_free(m);
        return NULL;
    }
    return m;
}

const wasm_export *wasm_module_find_export(const wasm_module *m, const char *name) {
    size_t len = strlen(name);
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].name.len == len && memcmp(m->exports[i].name.str, name, len) == 0)
            return &m->exports[i];
    return NULL;
}

const char *wasm_errkind_name(wasm_errkind k) {
    switch (k) {
    case WASM_OK: return "ok";
    case WASM_ERR_MALFORMED: return "malformed";
    case WASM_ERR_INVALID: return "invalid";
    case WASM_ERR_NOMEM: return "out of memory";
    case WASM_ERR_LIMIT: return "over limit";
    case WASM_ERR_LINK: return "unlinkable";
    case WASM_ERR_TRAP: return "trapped";
    }
    return "error";
}

const char *wasm_valtype_name(wasm_valtype t) {
    switch (t) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_V128: return "v128";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "?";
}

const char *wasm_externkind_name(wasm_externkind k) {
    switch (k) {
    case WASM_EXTERN_FUNC: return "func";
    case WASM_EXTERN_TABLE: return "table";
    case WASM_EXTERN_MEMORY: return "memory";
    case WASM_EXTERN_GLOBAL: return "global";
    }
    return "?";
}
