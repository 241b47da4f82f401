/*
 * main.c - the `wasp` command: turns its arguments into calls on the
 * engine and the engine's answers into output and an exit status.
 *
 * Subcommands: validate, inspect, run (run.c), serve (serve.c), pipe (pipe.c), secrets
 * (secrets.c), version, help. Every judgement about a
 * module is the engine's (wasm/wasm.h); this file reads the file, calls
 * the engine, hands the module to a renderer (inspect.c, json.c) and picks
 * the exit status: 0 success, 1 the file is unreadable or not a valid
 * module, 2 the command line is wrong. It must not crash on any input
 * file, however broken: whatever the engine decoded, the renderers can
 * print, valid or not.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define WASP_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_BAD_MODULE = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: wasp <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  validate FILE.wasm          decode and validate a module; prints\n"
    "                              \"FILE: valid\", or the error and where it is\n"
    "  inspect [--json] FILE.wasm  describe a module: types, imports, functions,\n"
    "                              tables, memories, globals, exports, start,\n"
    "                              element and data segments, custom sections;\n"
    "                              --json prints the same as one JSON object\n"
    "  run [OPTIONS] FILE.wasm [ARGS...]\n"
    "                              run a WASI command (or --invoke a function of\n"
    "                              a reactor) with only the capabilities granted:\n"
    "                              --dir HOST[::GUEST][:ro], --env K=V,\n"
    "                              --inherit-env, --stdin FILE, --deadline-ms N,\n"
    "                              --fuel N, --tier auto|interp|native, --cache DIR,\n"
    "                              --profile FILE, --stats;\n"
    "                              exit status is the module's\n"
    "  pipe [OPTIONS] FILTER.wasm...\n"
    "                              run records (lines) from stdin or a file\n"
    "                              through Wasm filters to stdout or a file\n"
    "                              (wasp pipe --help for the options)\n"
    "  audit [--manifest FILE [--app NAME]] [--json] FILE.wasm\n"
    "                              what a module can reach, by capability, against\n"
    "                              what a manifest grants its app, and its risks\n"
    "                              (wasp audit --help; exit 1 when something it\n"
    "                              needs is not granted)\n"
    "  compile [--fuel] [--cache DIR] [-o FILE] FILE.wasm\n"
    "                              compile a module to machine code ahead of time\n"
    "                              for `run` and `serve` (tiers auto and native)\n"
    "  serve [OPTIONS] MODULE.wasm | MANIFEST.yaml\n"
    "                              serve HTTP, each request in a fresh instance\n"
    "                              (wasp serve --help for the options)\n"
    "  top [--admin ADDR:PORT]     a running server's apps, refreshed each second:\n"
    "                              req/s, errors, p50/p99, in flight, memory\n"
    "  secrets COMMAND FILE ...    set, get, list, rm secrets in an encrypted file;\n"
    "                              keygen makes a key (wasp secrets --help)\n"
    "  version                     print wasp's version (also --version)\n"
    "  help                        print this help (also --help, -h)\n"
    "\n"
    "exit status: 0 success; 1 the file cannot be read or is not a valid\n"
    "module (run: the module's own status; serve: serving could not start);\n"
    "2 the command line is wrong.\n";

/* Prints "wasp[ CMD]: <message>" and the usage to stderr; returns
 * EXIT_USAGE. `cmd` is NULL for errors before a command was chosen. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    if (cmd)
        fprintf(stderr, "wasp %s: ", cmd);
    else
        fputs("wasp: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* Finishes a command's output: a failed write to stdout (a full disk, a
 * closed pipe) is a failure of the command too. */
static int finish(int status) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "wasp: cannot write output: %s\n", strerror(errno));
        return EXIT_BAD_MODULE;
    }
    return status;
}

/* The arguments after a subcommand: options, then exactly one FILE. */
typedef struct file_args {
    const char *file;
    bool json;
    bool help;
} file_args;

/* Returns EXIT_OK with *a filled, or EXIT_USAGE after printing why. */
static int parse_file_args(const char *cmd, int argc, char **argv, bool allow_json, file_args *a) {
    bool options = true;
    *a = (file_args){0};
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = false;
        } else if (options && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            a->help = true;
        } else if (options && allow_json && strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (options && arg[0] == '-' && arg[1] != '\0') {
            return usage_error(cmd, "unknown option '%s'", arg);
        } else if (a->file) {
            return usage_error(cmd, "unexpected argument '%s' (one FILE.wasm at a time)", arg);
        } else {
            a->file = arg;
        }
    }
    if (!a->file && !a->help) {
        return usage_error(cmd, "missing FILE.wasm");
    }
    return EXIT_OK;
}

/* Reads `path`, printing why not on failure. */
static bool read_module_file(const char *path, uint8_t **bytes, size_t *len) {
    int e = cli_read_file(path, bytes, len);
    if (e != 0) {
        fprintf(stderr, "wasp: cannot read %s: %s\n", path, strerror(e));
        return false;
    }
    return true;
}

static int cmd_validate(const char *path) {
    uint8_t *bytes;
    size_t len;
    if (!read_module_file(path, &bytes, &len)) return EXIT_BAD_MODULE;
    wasm_error err = {0};
    wasm_module *m = wasm_module_load(bytes, len, &err);
    free(bytes);
    if (!m) {
        cli_print_error(stderr, path, &err);
        return EXIT_BAD_MODULE;
    }
    wasm_module_free(m);
    printf("%s: valid\n", path);
    return finish(EXIT_OK);
}

static int cmd_inspect(const char *path, bool json) {
    uint8_t *bytes;
    size_t len;
    if (!read_module_file(path, &bytes, &len)) return EXIT_BAD_MODULE;
    wasm_error err = {0};
    wasm_module *m = wasm_module_decode(bytes, len, &err); /* keeps its own copy */
    free(bytes);
    bool valid = m && wasm_module_validate(m, &err);
    int e = 0;
    if (json)
        e = cli_inspect_json(stdout, path, len, m, valid ? NULL : &err);
    else if (m)
        e = cli_inspect_text(stdout, path, m, valid ? NULL : &err);
    wasm_module_free(m);
    if (e != 0) {
        fprintf(stderr, "wasp: cannot inspect %s: %s\n", path, strerror(e));
        return finish(EXIT_BAD_MODULE);
    }
    if (!valid) {
        cli_print_error(stderr, path, &err);
        return finish(EXIT_BAD_MODULE);
    }
    return finish(EXIT_OK);
}

int main(int argc, char **argv) {
    if (argc < 2) return usage_error(NULL, "no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return finish(EXIT_OK);
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts("wasp " WASP_VERSION);
        return finish(EXIT_OK);
    }
    bool is_validate = strcmp(cmd, "validate") == 0;
    if (is_validate || strcmp(cmd, "inspect") == 0) {
        file_args a;
        if (parse_file_args(cmd, argc - 2, argv + 2, !is_validate, &a) != EXIT_OK)
            return EXIT_USAGE;
        if (a.help) {
            fputs(usage_text, stdout);
            return finish(EXIT_OK);
        }
        return is_validate ? cmd_validate(a.file) : cmd_inspect(a.file, a.json);
    }
    if (strcmp(cmd, "run") == 0) return cli_run(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0) return cli_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "compile") == 0) return cli_compile(argc - 2, argv + 2);
    if (strcmp(cmd, "pipe") == 0) return cli_pipe(argc - 2, argv + 2);
    if (strcmp(cmd, "audit") == 0) return cli_audit(argc - 2, argv + 2);
    if (strcmp(cmd, "top") == 0) return cli_top(argc - 2, argv + 2);
    if (strcmp(cmd, "secrets") == 0) return cli_secrets(argc - 2, argv + 2);
    return usage_error(NULL, "unknown command '%s'", cmd);
}
