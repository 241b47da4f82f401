/*
 * cli.h - what the files of the `wasp` command share with each other and
 * with no one else.
 *
 * main.c parses the arguments and picks the exit status; file.c reads a
 * module's bytes from a path; inspect.c and json.c render a decoded module
 * as text or JSON. Nothing here judges a module: decoding and validation
 * are the engine's (wasm/wasm.h), and these files only report its answer.
 * Every name a module carries is untrusted bytes, so the renderers escape
 * it before it reaches a terminal or a JSON reader.
 */
#ifndef WASP_CLI_H
#define WASP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wasm/wasm.h"

/* Reads the whole file at `path` (a regular file, a pipe or a device) into
 * a malloc'd buffer that the caller frees. Returns 0 with *bytes and *len
 * set (*bytes is never NULL, even for an empty file), or an errno value
 * (ENOENT, EACCES, EISDIR, ENOMEM, EIO, ...) with nothing to free. */
int cli_read_file(const char *path, uint8_t **bytes, size_t *len);

/* Prints "<path>: <kind> module at byte offset N (0xN): <msg>" and a
 * newline; without the "<path>: " prefix when path is NULL. The engine's
 * message is printed with control characters escaped. */
void cli_print_error(FILE *out, const char *path, const wasm_error *err);

/* Writes s[0..len) to `out` with control characters, `"` and `\` escaped
 * in the WebAssembly text format's manner (\n, \t, \hh), between double
 * quotes when `quoted`. For names and messages shown to a person. */
void cli_put_text(FILE *out, const char *s, size_t len, int quoted);

/* Writes s[0..len) as a JSON string literal, quotes included: `"` and `\`
 * escaped, control characters as \u00XX. Valid UTF-8 passes through as it
 * is; if s is not valid UTF-8, every byte above 0x7f is written as \u00XX
 * so that the output stays valid JSON. */
void cli_json_string(FILE *out, const char *s, size_t len);

/* For each function, table, memory and global, the exports that name it,
 * built in one pass so that rendering stays linear in the module's size.
 * head[kind][index] is the first export (an index into m->exports) or
 * CLI_NONE; next[e] is the following export of the same item. */
#define CLI_NONE UINT32_MAX
typedef struct cli_exports {
    uint32_t *head[4]; /* indexed by wasm_externkind */
    uint32_t *next;
} cli_exports;

/* Builds the table; returns 0, or ENOMEM with nothing to free. Exports
 * whose index is out of range for their kind (possible in a module that
 * failed validation) are left out. */
int cli_exports_build(cli_exports *x, const wasm_module *m);
void cli_exports_free(cli_exports *x);

/* Steps through the imports of one kind in order: returns the first import
 * of `kind` at or after *cursor and moves *cursor past it, or NULL when
 * there is none. Start with *cursor = 0. Because index spaces put imports
 * first, the i-th call returns the import that defines item i. */
const wasm_import *cli_next_import(const wasm_module *m, uint32_t *cursor, wasm_externkind kind);

/* m->types[type], or NULL when `type` is out of range (possible in a
 * module that failed validation). */
const wasm_functype *cli_func_type(const wasm_module *m, uint32_t type);

/* "active", "passive", "declarative". */
const char *cli_segmode_name(wasm_segmode mode);

/* Renders a decoded module for a person. `verr` is NULL when the module is
 * valid, or the validation error to report in the summary. Returns 0, or
 * ENOMEM when the export table could not be built (nothing is printed). */
int cli_inspect_text(FILE *out, const char *path, const wasm_module *m, const wasm_error *verr);

/* Renders the same as one JSON object. `m` is NULL when decoding failed;
 * `err` is NULL when the module is valid, otherwise the decoding or
 * validation error. `size` is the file's length in bytes. Returns 0 or
 * ENOMEM (nothing is printed). */
int cli_inspect_json(FILE *out, const char *path, size_t size, const wasm_module *m,
                     const wasm_error *err);

/* `wasp run ...` (run.c): argc/argv are the arguments after "run".
 * Returns the exit status: the module's own, or 1/2/134 as run.c says. */
/* A decimal unsigned integer, nothing around it (args.c). */
bool cli_parse_u64(const char *s, uint64_t *out);

int cli_run(int argc, char **argv);
/* `wasp serve ARGS...` (serve.c): the exit status. */
int cli_serve(int argc, char **argv);
/* `wasp pipe ARGS...` (pipe.c): 0 ok, 1 failure, 2 usage. */
int cli_pipe(int argc, char **argv);
/* `wasp audit` (audit.c): what a module can reach, and its risks. */
int cli_audit(int argc, char **argv);
/* wasp top [--admin ADDR:PORT] [--once]: a running server's apps (top.c). */
int cli_top(int argc, char **argv);
/* `wasp compile ARGS...` (compile.c): 0 ok, 1 failure, 2 usage. */
int cli_compile(int argc, char **argv);
/* Gives `m` native code for `wasp run --tier native` (compile.c), with
 * WASM_NATIVE_* `flags`: from the cache (`cache_flag`: a directory, "off",
 * or NULL for the default) or compiled; when the module stays
 * interpreted, or the cache is refused or not written, a note prefixed
 * with `who` goes to stderr. Without `compile` (tier auto) only a
 * matching cache entry is used, and silently: the interpreter runs the
 * module otherwise. */
void cli_native(wasm_module *m, const char *path, const char *cache_flag, uint32_t flags,
                bool compile, const char *who);
/* `wasp secrets ARGS...` (secrets.c): 0 ok, 1 failure, 2 usage. */
int cli_secrets(int argc, char **argv);

#endif
