/*
 * json.c - `wasp inspect --json`: the same description of a module as
 * inspect.c prints, as one JSON object on one stream, for tools.
 *
 * Shape (keys always present, in this order):
 *   file, size, decoded, valid, error {kind, offset, message} or null,
 *   module_name (string or null), types, imports, functions, tables,
 *   memories, globals, exports, start (index or null), elements,
 *   data_count (number or null), data, customs.
 * When decoding failed, only file .. error are present.
 *
 * The JSON is written by hand: a string escaper and fprintf. Names come
 * from an untrusted module and may hold any UTF-8, NUL included, so every
 * string goes through cli_json_string. Like inspect.c, nothing here
 * trusts an index the decoder did not check.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

void cli_json_string(FILE *out, const char *s, size_t len) {
    /* Names are checked by the decoder, but paths and messages need not be
     * UTF-8; then bytes above 0x7f are written as code points U+0080..U+00FF
     * rather than as bytes a JSON reader would reject. */
    bool utf8 = util_utf8_valid((const uint8_t *)s, len, NULL);
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20 || (c >= 0x80 && !utf8))
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
        }
    }
    fputc('"', out);
}

static void put_cstr(FILE *out, const char *s) {
    cli_json_string(out, s, strlen(s));
}

static void put_name(FILE *out, wasm_name n) {
    cli_json_string(out, n.str, n.len);
}

/* A name that may be absent: null for an empty one. */
static void put_opt_name(FILE *out, wasm_name n) {
    if (n.len == 0)
        fputs("null", out);
    else
        put_name(out, n);
}

static void put_valtypes(FILE *out, const wasm_valtype *t, uint32_t n) {
    fputc('[', out);
    for (uint32_t i = 0; i < n; i++)
        fprintf(out, "%s\"%s\"", i ? "," : "", wasm_valtype_name(t[i]));
    fputc(']', out);
}

/* "type":N,"params":[...],"results":[...]; both lists null when the type
 * index is out of range. */
static void put_typeref(FILE *out, const wasm_module *m, uint32_t type) {
    const wasm_functype *ft = cli_func_type(m, type);
    fprintf(out, "\"type\":%u,\"params\":", type);
    if (ft)
        put_valtypes(out, ft->params, ft->nparams);
    else
        fputs("null", out);
    fputs(",\"results\":", out);
    if (ft)
        put_valtypes(out, ft->results, ft->nresults);
    else
        fputs("null", out);
}

static void put_limits(FILE *out, wasm_limits l) {
    fprintf(out, "\"min\":%" PRIu64 ",\"max\":", l.min);
    if (l.has_max)
        fprintf(out, "%" PRIu64, l.max);
    else
        fputs("null", out);
}

/* "import":{"module":..,"name":..} or "import":null */
static void put_import_ref(FILE *out, const wasm_import *im) {
    fputs(",\"import\":", out);
    if (!im) {
        fputs("null", out);
        return;
    }
    fputs("{\"module\":", out);
    put_name(out, im->module);
    fputs(",\"name\":", out);
    put_name(out, im->name);
    fputc('}', out);
}

/* ,"exports":[names] */
static void put_exported(FILE *out, const wasm_module *m, const cli_exports *x,
                         wasm_externkind kind, uint32_t index) {
    fputs(",\"exports\":[", out);
    bool first = true;
    for (uint32_t e = x->head[kind][index]; e != CLI_NONE; e = x->next[e]) {
        if (!first) fputc(',', out);
        first = false;
        put_name(out, m->exports[e].name);
    }
    fputc(']', out);
}

/* Opens the array `key`; elements go one per line. */
static void open_array(FILE *out, const char *key) {
    fprintf(out, ",\n  \"%s\": [", key);
}

static void next_elem(FILE *out, uint32_t i) {
    fputs(i ? ",\n    " : "\n    ", out);
}

static void close_array(FILE *out, uint32_t n) {
    fputs(n ? "\n  ]" : "]", out);
}

static void put_types(FILE *out, const wasm_module *m) {
    open_array(out, "types");
    for (uint32_t i = 0; i < m->ntypes; i++) {
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"params\":", i);
        put_valtypes(out, m->types[i].params, m->types[i].nparams);
        fputs(",\"results\":", out);
        put_valtypes(out, m->types[i].results, m->types[i].nresults);
        fputc('}', out);
    }
    close_array(out, m->ntypes);
}

static void put_imports(FILE *out, const wasm_module *m) {
    open_array(out, "imports");
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"module\":", i);
        put_name(out, im->module);
        fputs(",\"name\":", out);
        put_name(out, im->name);
        fprintf(out, ",\"kind\":\"%s\",", wasm_externkind_name(im->kind));
        switch (im->kind) {
        case WASM_EXTERN_FUNC: put_typeref(out, m, im->desc.func_type); break;
        case WASM_EXTERN_TABLE:
            fprintf(out, "\"elem\":\"%s\",", wasm_valtype_name(im->desc.table.elem));
            put_limits(out, im->desc.table.limits);
            break;
        case WASM_EXTERN_MEMORY: put_limits(out, im->desc.memory.limits); break;
        case WASM_EXTERN_GLOBAL:
            fprintf(out, "\"type\":\"%s\",\"mutable\":%s", wasm_valtype_name(im->desc.global.type),
                    im->desc.global.mut ? "true" : "false");
            break;
        default: fputs("\"unknown\":true", out); break;
        }
        fputc('}', out);
    }
    close_array(out, m->nimports);
}

static void put_functions(FILE *out, const wasm_module *m, const cli_exports *x) {
    open_array(out, "functions");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nfuncs; i++) {
        const wasm_func *f = &m->funcs[i];
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,", i);
        put_typeref(out, m, f->type);
        fprintf(out, ",\"imported\":%s", f->imported ? "true" : "false");
        if (f->imported) {
            put_import_ref(out, cli_next_import(m, &cursor, WASM_EXTERN_FUNC));
            fputs(",\"body_offset\":null,\"body_size\":null", out);
        } else {
            fputs(",\"import\":null", out);
            fprintf(out, ",\"body_offset\":%u,\"body_size\":%u", f->body_offset, f->body_size);
        }
        fputs(",\"name\":", out);
        put_opt_name(out, f->debug_name);
        put_exported(out, m, x, WASM_EXTERN_FUNC, i);
        fputc('}', out);
    }
    close_array(out, m->nfuncs);
}

static void put_tables(FILE *out, const wasm_module *m, const cli_exports *x) {
    open_array(out, "tables");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->ntables; i++) {
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"elem\":\"%s\",", i, wasm_valtype_name(m->tables[i].elem));
        put_limits(out, m->tables[i].limits);
        bool imported = i < m->ntable_imports;
        fprintf(out, ",\"imported\":%s", imported ? "true" : "false");
        put_import_ref(out, imported ? cli_next_import(m, &cursor, WASM_EXTERN_TABLE) : NULL);
        put_exported(out, m, x, WASM_EXTERN_TABLE, i);
        fputc('}', out);
    }
    close_array(out, m->ntables);
}

static void put_memories(FILE *out, const wasm_module *m, const cli_exports *x) {
    open_array(out, "memories");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nmemories; i++) {
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,", i);
        put_limits(out, m->memories[i].limits);
        bool imported = i < m->nmemory_imports;
        fprintf(out, ",\"imported\":%s", imported ? "true" : "false");
        put_import_ref(out, imported ? cli_next_import(m, &cursor, WASM_EXTERN_MEMORY) : NULL);
        put_exported(out, m, x, WASM_EXTERN_MEMORY, i);
        fputc('}', out);
    }
    close_array(out, m->nmemories);
}

static void put_globals(FILE *out, const wasm_module *m, const cli_exports *x) {
    open_array(out, "globals");
    uint32_t cursor = 0;
    for (uint32_t i = 0; i < m->nglobals; i++) {
        const wasm_global *g = &m->globals[i];
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"type\":\"%s\",\"mutable\":%s,\"imported\":%s", i,
                wasm_valtype_name(g->type.type), g->type.mut ? "true" : "false",
                g->imported ? "true" : "false");
        put_import_ref(out, g->imported ? cli_next_import(m, &cursor, WASM_EXTERN_GLOBAL) : NULL);
        fputs(",\"init_size\":", out);
        if (g->imported)
            fputs("null", out);
        else
            fprintf(out, "%u", g->init.len);
        put_exported(out, m, x, WASM_EXTERN_GLOBAL, i);
        fputc('}', out);
    }
    close_array(out, m->nglobals);
}

static void put_exports(FILE *out, const wasm_module *m) {
    open_array(out, "exports");
    for (uint32_t i = 0; i < m->nexports; i++) {
        next_elem(out, i);
        fputs("{\"name\":", out);
        put_name(out, m->exports[i].name);
        fprintf(out, ",\"kind\":\"%s\",\"index\":%u}", wasm_externkind_name(m->exports[i].kind),
                m->exports[i].index);
    }
    close_array(out, m->nexports);
}

static void put_elems(FILE *out, const wasm_module *m) {
    open_array(out, "elements");
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *el = &m->elems[i];
        bool active = el->mode == WASM_SEG_ACTIVE;
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"mode\":\"%s\",\"table\":", i, cli_segmode_name(el->mode));
        if (active)
            fprintf(out, "%u,\"offset_size\":%u", el->table, el->offset.len);
        else
            fputs("null,\"offset_size\":null", out);
        fprintf(out, ",\"type\":\"%s\",\"count\":%u,\"items\":\"%s\"}", wasm_valtype_name(el->type),
                el->count, el->exprs ? "expressions" : "functions");
    }
    close_array(out, m->nelems);
}

static void put_datas(FILE *out, const wasm_module *m) {
    fputs(",\n  \"data_count\": ", out);
    if (m->has_data_count)
        fprintf(out, "%u", m->data_count);
    else
        fputs("null", out);
    open_array(out, "data");
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];
        next_elem(out, i);
        fprintf(out, "{\"index\":%u,\"mode\":\"%s\",\"memory\":", i, cli_segmode_name(d->mode));
        if (d->mode == WASM_SEG_ACTIVE)
            fprintf(out, "%u,\"offset_size\":%u", d->memory, d->offset.len);
        else
            fputs("null,\"offset_size\":null", out);
        fprintf(out, ",\"size\":%u}", d->len);
    }
    close_array(out, m->ndatas);
}

static void put_customs(FILE *out, const wasm_module *m) {
    open_array(out, "customs");
    for (uint32_t i = 0; i < m->ncustoms; i++) {
        next_elem(out, i);
        fputs("{\"name\":", out);
        put_name(out, m->customs[i].name);
        fprintf(out, ",\"offset\":%u,\"size\":%u}", m->customs[i].offset, m->customs[i].size);
    }
    close_array(out, m->ncustoms);
}

int cli_inspect_json(FILE *out, const char *path, size_t size, const wasm_module *m,
                     const wasm_error *err) {
    cli_exports x;
    if (m) {
        int e = cli_exports_build(&x, m);
        if (e != 0) return e;
    }
    fputs("{\n  \"file\": ", out);
    put_cstr(out, path);
    fprintf(out, ",\n  \"size\": %zu,\n  \"decoded\": %s,\n  \"valid\": %s,\n  \"error\": ", size,
            m ? "true" : "false", err ? "false" : "true");
    if (err) {
        fputs("{\"kind\":", out);
        put_cstr(out, wasm_errkind_name(err->kind));
        fprintf(out, ",\"offset\":%zu,\"message\":", err->offset);
        cli_json_string(out, err->msg, strnlen(err->msg, sizeof err->msg));
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    if (m) {
        fputs(",\n  \"module_name\": ", out);
        put_opt_name(out, m->module_name);
        put_types(out, m);
        put_imports(out, m);
        put_functions(out, m, &x);
        put_tables(out, m, &x);
        put_memories(out, m, &x);
        put_globals(out, m, &x);
        put_exports(out, m);
        fputs(",\n  \"start\": ", out);
        if (m->has_start)
            fprintf(out, "%u", m->start);
        else
            fputs("null", out);
        put_elems(out, m);
        put_datas(out, m);
        put_customs(out, m);
        cli_exports_free(&x);
    }
    fputs("\n}\n", out);
    return 0;
}
