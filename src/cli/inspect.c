/*
 * inspect.c - `wasp inspect` for a person: a decoded module as text, one
 * section after another in the order of the binary format (types,
 * imports, functions, tables, memories, globals, exports, start, element
 * and data segments, custom sections), and the helpers that json.c shares.
 *
 * The module may have failed validation, so nothing here trusts an index
 * the decoder did not check: a type index out of range is shown as such,
 * and exports are matched to their items through a table built with
 * bounds checks. Names are untrusted bytes and are always escaped.
 * Output is linear in the size of the module, whatever its counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ---- shared helpers ----------------------------------------------------- */

void cli_put_text(FILE *out, const char *s, size_t len, int quoted) {
    if (quoted) fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\%02x", c);
            else
                fputc(c, out);
        }
    }
    if (quoted) fputc('"', out);
}

static void put_name(FILE *out, wasm_name n) {
    cli_put_text(out, n.str, n.len, 1);
}

void cli_print_error(FILE *out, const char *path, const wasm_error *err) {
    if (path) fprintf(out, "%s: ", path);
    fputs(wasm_errkind_name(err->kind), out);
    if (err->kind == WASM_ERR_MALFORMED || err->kind == WASM_ERR_INVALID) fputs(" module", out);
    fprintf(out, " at byte offset %zu (0x%zx): ", err->offset, err->offset);
    cli_put_text(out, err->msg, strnlen(err->msg, sizeof err->msg), 0);
    fputc('\n', out);
}

int cli_exports_build(cli_exports *x, const wasm_module *m) {
    const uint32_t counts[4] = {m->nfuncs, m->ntables, m->nmemories, m->nglobals};
    memset(x, 0, sizeof *x);
    x->next = malloc(((size_t)m->nexports + 1) * sizeof *x->next);
    if (!x->next) return ENOMEM;
    for (int k = 0; k < 4; k++) {
        x->head[k] = malloc(((size_t)counts[k] + 1) * sizeof *x->head[k]);
        if (!x->head[k]) {
            cli_exports_free(x);
            return ENOMEM;
        }
        for (uint32_t i = 0; i < counts[k]; i++)
            x->head[k][i] = CLI_NONE;
    }
    /* Backwards, so that each item's list comes out in export order. */
    for (uint32_t e = m->nexports; e-- > 0;) {
        const wasm_export *ex = &m->exports[e];
        unsigned k = (unsigned)ex->kind;
        x->next[e] = CLI_NONE;
        if (k >= 4 || ex->index >= counts[k]) continue;
        x->next[e] = x->head[k][ex->index];
        x->head[k][ex->index] = e;
    }
    return 0;
}

void cli_exports_free(cli_exports *x) {
    for (int k = 0; k < 4; k++)
        free(x->head[k]);
    free(x->next);
    memset(x, 0, sizeof *x);
}

const wasm_import *cli_next_import(const wasm_module *m, uint32_t *cursor, wasm_externkind kind) {
    while (*cursor < m->nimports) {
        const wasm_import *im = &m->imports[(*cursor)++];
        if (im->kind == kind) return im;
    }
    return NULL;
}

const wasm_functype *cli_func_type(const wasm_module *m, uint32_t type) {
    return type < m->ntypes ? &m->types[type] : NULL;
}

const char *cli_segmode_name(wasm_segmode mode) {
    switch (mode) {
    case WASM_SEG_ACTIVE: return "active";
    case WASM_SEG_PASSIVE: return "passive";
    case WASM_SEG_DECLARATIVE: return "declarative";
    }
    return "?";
}

/* ---- text rendering ----------------------------------------------------- */

static void put_valtypes(FILE *out, const wasm_valtype *t, uint32_t n) {
    fputc('(', out);
    for (uint32_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? ", " : "", wasm_valtype_name(t[i]));
    fputc(')', out);
}

/* "type 3 (i32, i32) -> (i64)" */
static void put_typeref(FILE *out, const wasm_module *m, uint32_t type) {
    const wasm_functype *ft = cli_func_type(m, type);
    fprintf(out, "type %u ", type);
    if (!ft) {
        fputs("(out of range)", out);
        return;
    }
    put_valtypes(out, ft->params, ft->nparams);
    fputs(" -> ", out);
    put_valtypes(out, ft->results, ft->nresults);
}

static void put_limits(FILE *out, wasm_limits l) {
    fprintf(out, "min %" PRIu64 ", max ", l.min);
    if (l.has_max)
        fprintf(out, "%" PRIu64, l.max);
    else
        fputs("none", out);
}

static void put_import_from(FILE *out, const wasm_import *im) {
    fputs(", imported from ", out);
    if (!im) {
        fputs("?", out);
        return;
    }
    put_name(out, im->module);
    fputc(' ', out);
    put_name(out, im->name);
}

static void put_exported(FILE *out, const wasm_module *m, const cli_exports *x,
                         wasm_externkind kind, uint32_t index) {
    for (uint32_t e = x->head[kind][index]; e != CLI_NONE; e = x->next[e]) {
        fputs(", exported as ", out);
        put_name(out, m->exports[e].name);
    }
}

/* "tables: none" or "tables (3):" */
static void put_heading(FILE *out, const char *what, uint32_t n, const char *note) {
    if (n == 0)
        fprintf(out, "%s: none\n", what);
    else
        fprintf(out, "%s (%u%s):\n", what, n, note);
}

static void put_types(FILE *out, const wasm_module *m) {
    put_heading(out, "types", m->ntypes, "");
    for (uint32_t i = 0; i < m->ntypes; i++) {
        fprintf(out, "  %u: ", i);
        put_valtypes(out, m->types[i].params, m->types[i].nparams);
        fputs(" -> ", out);
        put_valtypes(out, m->types[i].results, m->types[i].nresults);
        fputc('\n', out);
    }
}

static void put_imports(FILE *out, const wasm_module *m) {
    put_heading(out, "imports", m->nimports, "");
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        fprintf(out, "  %u: %s ", i, wasm_externkind_name(im->kind));
        put_name(out, im->module);
        fputc(' ', out);
        put_name(out, im->name);
        fputs(": ", out);
        switch (im->kind) {
        case WASM_EXTERN_FUNC: put_typeref(out, m, im->desc.func_type); break;
        case WASM_EXTERN_TABLE:
            fprintf(out, "%s, ", wasm_valtype_name(im->desc.table.elem));
            put_limits(out, im->desc.table.limits);
            break;
        case WASM_EXTERN_MEMORY:
            put_limits(out, im->desc.memory.limits);
            fputs(" pages", out);
            break;
        case WASM_EXTERN_GLOBAL:
            fprintf(out, "%s %s", im->desc.global.mut ? "mut" : "const",
                    wasm_valtype_name(im->desc.global.type));
            break;
        }
        fputc('\n', out);
    }
}

static void put_functions(FILE *out, const wasm_module *m, const cli_exports *x) {
    char note[40];
    snprintf(note, sizeof note, ", %u imported", m->nfunc_imports);
    put_heading(out, "functions", m->nfuncs, note);
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nfuncs; i++) {
        const wasm_func *f = &m->funcs[i];
        fprintf(out, "  %u: ", i);
        put_typeref(out, m, f->type);
        if (f->imported)
            put_import_from(out, cli_next_import(m, &cursor, WASM_EXTERN_FUNC));
        else
            fprintf(out, ", body %u bytes at 0x%x", f->body_size, f->body_offset);
        if (f->debug_name.len > 0) {
            fputs(", name ", out);
            put_name(out, f->debug_name);
        }
        put_exported(out, m, x, WASM_EXTERN_FUNC, i);
        fputc('\n', out);
    }
}

static void put_tables(FILE *out, const wasm_module *m, const cli_exports *x) {
    put_heading(out, "tables", m->ntables, "");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->ntables; i++) {
        fprintf(out, "  %u: %s, ", i, wasm_valtype_name(m->tables[i].elem));
        put_limits(out, m->tables[i].limits);
        if (i < m->ntable_imports)
            put_import_from(out, cli_next_import(m, &cursor, WASM_EXTERN_TABLE));
        put_exported(out, m, x, WASM_EXTERN_TABLE, i);
        fputc('\n', out);
    }
}

static void put_memories(FILE *out, const wasm_module *m, const cli_exports *x) {
    put_heading(out, "memories", m->nmemories, ", in 64 KiB pages");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nmemories; i++) {
        fprintf(out, "  %u: ", i);
        put_limits(out, m->memories[i].limits);
        if (i < m->nmemory_imports)
            put_import_from(out, cli_next_import(m, &cursor, WASM_EXTERN_MEMORY));
        put_exported(out, m, x, WASM_EXTERN_MEMORY, i);
        fputc('\n', out);
    }
}

static void put_globals(FILE *out, const wasm_module *m, const cli_exports *x) {
    put_heading(out, "globals", m->nglobals, "");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nglobals; i++) {
        const wasm_global *g = &m->globals[i];
        fprintf(out, "  %u: %s %s", i, g->type.mut ? "mut" : "const",
                wasm_valtype_name(g->type.type));
        if (g->imported)
            put_import_from(out, cli_next_import(m, &cursor, WASM_EXTERN_GLOBAL));
        else
            fprintf(out, ", init expression %u bytes", g->init.len);
        put_exported(out, m, x, WASM_EXTERN_GLOBAL, i);
        fputc('\n', out);
    }
}

static void put_exports(FILE *out, const wasm_module *m) {
    put_heading(out, "exports", m->nexports, "");
    for (uint32_t i = 0; i < m->nexports; i++) {
        fputs("  ", out);
        put_name(out, m->exports[i].name);
        fprintf(out, ": %s %u\n", wasm_externkind_name(m->exports[i].kind), m->exports[i].index);
    }
}

static void put_elems(FILE *out, const wasm_module *m) {
    put_heading(out, "element segments", m->nelems, "");
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *el = &m->elems[i];
        fprintf(out, "  %u: %s", i, cli_segmode_name(el->mode));
        if (el->mode == WASM_SEG_ACTIVE)
            fprintf(out, ", table %u, offset expression %u bytes", el->table, el->offset.len);
        fprintf(out, ", %u %s as %s\n", el->count, wasm_valtype_name(el->type),
                el->exprs ? "expressions" : "function indices");
    }
}

static void put_datas(FILE *out, const wasm_module *m) {
    char note[40] = "";
    if (m->has_data_count) snprintf(note, sizeof note, ", data count %u", m->data_count);
    put_heading(out, "data segments", m->ndatas, note);
    if (m->ndatas == 0 && m->has_data_count) fprintf(out, "  (data count %u)\n", m->data_count);
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];
        fprintf(out, "  %u: %s", i, cli_segmode_name(d->mode));
        if (d->mode == WASM_SEG_ACTIVE)
            fprintf(out, ", memory %u, offset expression %u bytes", d->memory, d->offset.len);
        fprintf(out, ", %u bytes\n", d->len);
    }
}

static void put_customs(FILE *out, const wasm_module *m) {
    put_heading(out, "custom sections", m->ncustoms, "");
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        fputs("  ", out);
        put_name(out, m->customs[i].name);
        fprintf(out, ": %u bytes at 0x%x\n", m->customs[i].size, m->customs[i].offset);
    }
}

int cli_inspect_text(FILE *out, const char *path, const wasm_module *m, const wasm_error *verr) {
    cli_exports x;
    int e = cli_exports_build(&x, m);
    if (e != 0) return e;
    fprintf(out, "%s: %zu bytes, ", path, m->size);
    if (verr)
        cli_print_error(out, NULL, verr);
    else
        fputs("valid\n", out);
    if (m->module_name.len > 0) {
        fputs("module name ", out);
        put_name(out, m->module_name);
        fputc('\n', out);
    }
    put_types(out, m);
    put_imports(out, m);
    put_functions(out, m, &x);
    put_tables(out, m, &x);
    put_memories(out, m, &x);
    put_globals(out, m, &x);
    put_exports(out, m);
    if (m->has_start)
        fprintf(out, "start: function %u\n", m->start);
    else
        fputs("start: none\n", out);
    put_elems(out, m);
    put_datas(out, m);
    put_customs(out, m);
    cli_exports_free(&x);
    return 0;
}
