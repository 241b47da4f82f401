/*
 * wasp_run.c - runs one benchmark module under wasp's interpreter.
 *
 *     wasp_run module.wasm
 *
 * Loads the module, links the two host functions the benchmark programs
 * import from "env" (print_i64(i64) and print_str(i32 ptr, i32 len), see
 * bench/programs/rt.h), instantiates it and calls its export `run`. What
 * the program prints goes to stdout. Exit status: 0 on success, 1 when the
 * module cannot be read, loaded, linked or has no `run`, 2 when it trapped
 * (the trap message goes to stderr). A benchmark driver, not part of wasp.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

static wasm_trap_code host_print_i64(void *env, wasm_instance *caller, const wasm_value *args,
                                     wasm_value *results) {
    (void)env, (void)caller, (void)results;
    printf("%" PRId64 "\n", (int64_t)args[0].of.i64);
    return WASM_TRAP_NONE;
}

static wasm_trap_code host_print_str(void *env, wasm_instance *caller, const wasm_value *args,
                                     wasm_value *results) {
    (void)env, (void)results;
    uint64_t size;
    const uint8_t *mem = wasm_instance_memory(caller, &size);
    uint64_t ptr = args[0].of.i32, len = args[1].of.i32;
    if (!mem || ptr > size || len > size - ptr) {
        fprintf(stderr, "wasp_run: print_str(%" PRIu64 ", %" PRIu64 ") is outside memory\n", ptr,
                len);
        return WASM_TRAP_HOST;
    }
    fwrite(mem + ptr, 1, (size_t)len, stdout);
    return WASM_TRAP_NONE;
}

/* Reads the whole file; NULL with errno set on failure. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: wasp_run module.wasm\n");
        return 1;
    }
    const char *path = argv[1];
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes) {
        fprintf(stderr, "wasp_run: %s: %s\n", path, strerror(errno));
        return 1;
    }

    int status = 1;
    wasm_error err;
    wasm_linker *linker = NULL;
    wasm_instance *inst = NULL;
    wasm_module *m = wasm_module_load(bytes, len, &err);
    free(bytes);
    if (!m) {
        fprintf(stderr, "wasp_run: %s: %s at byte %zu: %s\n", path, wasm_errkind_name(err.kind),
                err.offset, err.msg);
        return 1;
    }

    static const wasm_valtype i64_param[] = {WASM_I64}, str_params[] = {WASM_I32, WASM_I32};
    linker = wasm_linker_new();
    if (!linker ||
        !wasm_linker_func(linker, "env", "print_i64", 1, i64_param, 0, NULL, host_print_i64, NULL,
                          &err) ||
        !wasm_linker_func(linker, "env", "print_str", 2, str_params, 0, NULL, host_print_str, NULL,
                          &err)) {
        fprintf(stderr, "wasp_run: cannot set up the host functions: %s\n",
                linker ? err.msg : "out of memory");
        goto out;
    }
    inst = wasm_instance_new(m, linker, &err);
    if (!inst) {
        fprintf(stderr, "wasp_run: %s: cannot instantiate: %s: %s\n", path,
                wasm_errkind_name(err.kind), err.msg);
        goto out;
    }
    wasm_extern run;
    if (!wasm_instance_export(inst, "run", &run) || run.kind != WASM_EXTERN_FUNC ||
        wasm_func_type(run)->nparams != 0 || wasm_func_type(run)->nresults != 0) {
        fprintf(stderr, "wasp_run: %s: no export `run` of type [] -> []\n", path);
        goto out;
    }
    wasm_trap_code trap = wasm_call(run, NULL, NULL);
    fflush(stdout);
    if (trap != WASM_TRAP_NONE) {
        fprintf(stderr, "wasp_run: %s: trap: %s\n", path, wasm_trap_message(trap));
        status = 2;
        goto out;
    }
    status = 0;
out:
    wasm_instance_free(inst);
    wasm_linker_free(linker);
    wasm_module_free(m);
    if (fflush(stdout) != 0 && status == 0) status = 1;
    return status;
}
