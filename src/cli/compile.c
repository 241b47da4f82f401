/*
 * compile.c - `wasp compile`: a module compiled to machine code ahead of
 * time, into the cache directory that `run` and `serve` read, or into a
 * file; and cli_native, the same step for `wasp run` (tiers native and
 * auto).
 *
 *   wasp compile [--fuel] [--cache DIR] [-o FILE] MODULE.wasm
 *
 * The work is server/native.c's and the engine's; this file turns flags
 * into that call and reports what happened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "server/server.h"

enum { COMPILE_FAILED = 1, COMPILE_USAGE = 2 };

/* The cache directory the flag names: NULL for "off", the default when
 * the flag was not given (NULL too when HOME is not set). */
static const char *cache_dir(const char *flag, char *buf, size_t n) {
    if (flag) return strcmp(flag, "off") == 0 ? NULL : flag;
    return srv_cache_default_dir(buf, n);
}

void cli_native(wasm_module *m, const char *path, const char *cache_flag, uint32_t flags,
                bool compile, const char *who) {
    char buf[4096], why[512];
    srv_native_info info;
    if (!srv_native_prepare(m, cache_dir(cache_flag, buf, sizeof buf), flags, compile, &info, why,
                            sizeof why)) {
        if (compile) fprintf(stderr, "%s: note: %s runs in the interpreter: %s\n", who, path, why);
        return;
    }
    if (info.note[0]) fprintf(stderr, "%s: note: %s\n", who, info.note);
}

static int compile_usage(const char *fmt, const char *arg) {
    fputs("wasp compile: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: wasp compile [--fuel] [--cache DIR] [-o FILE] MODULE.wasm\n"
          "  compiles MODULE to machine code for this CPU and this build of wasp,\n"
          "  so that `wasp run --tier native` and `wasp serve --tier native` start\n"
          "  without compiling it\n"
          "  --fuel       count fuel, for runs with --fuel and apps with limits.fuel\n"
          "               (kept beside the code without, which is faster)\n"
          "  --cache DIR  the cache directory to write to (default $XDG_CACHE_HOME/wasp,\n"
          "               else ~/.cache/wasp)\n"
          "  -o FILE      write the entry to FILE instead; it is used once copied into\n"
          "               a cache directory under the name printed\n",
          stderr);
    return COMPILE_USAGE;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int cli_compile(int argc, char **argv) {
    const char *cache = NULL, *out = NULL, *module = NULL;
    uint32_t flags = 0;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            compile_usage("%s", "compiles a module ahead of time");
            return 0;
        }
        if (strcmp(o, "--fuel") == 0) {
            flags |= WASM_NATIVE_FUEL;
        } else if (strcmp(o, "--cache") == 0 || strcmp(o, "-o") == 0) {
            if (!v || !*v) return compile_usage("option %s needs a value", o);
            *(o[1] == 'o' ? &out : &cache) = v;
            i++;
        } else if (o[0] == '-' && o[1]) {
            return compile_usage("unknown option '%s'", o);
        } else if (module) {
            return compile_usage("unexpected argument '%s' (one module at a time)", o);
        } else {
            module = o;
        }
    }
    if (!module) return compile_usage("%s", "no module given");
    if (cache && strcmp(cache, "off") == 0)
        return compile_usage("%s", "--cache off: nowhere to write");

    uint8_t *bytes = NULL, *entry = NULL;
    size_t len = 0, elen = 0;
    int status = COMPILE_FAILED;
    wasm_error err;
    wasm_module *m = NULL;
    char buf[4096], path[4200], name[96];
    int e = cli_read_file(module, &bytes, &len);
    if (e) {
        fprintf(stderr, "wasp compile: %s: %s\n", module, strerror(e));
        goto done;
    }
    m = wasm_module_load(bytes, len, &err);
    if (!m) {
        cli_print_error(stderr, module, &err);
        goto done;
    }
    double t0 = now_ms();
    if (!wasm_module_compile_native_ex(m, flags, &err)) {
        fprintf(stderr, "wasp compile: %s: %s\n", module, err.msg);
        goto done;
    }
    double ms = now_ms() - t0;
    if (!wasm_module_native_save(m, &entry, &elen, &err)) {
        fprintf(stderr, "wasp compile: %s: %s\n", module, err.msg);
        goto done;
    }
    srv_native_entry_name(m, flags, name);
    if (out) {
        snprintf(path, sizeof path, "%s", out);
    } else {
        const char *dir = cache_dir(cache, buf, sizeof buf);
        if (!dir) {
            fprintf(stderr, "wasp compile: no cache directory: HOME is not set; give --cache DIR "
                            "or -o FILE\n");
            goto done;
        }
        e = srv_cache_make_dir(dir);
        if (e) {
            fprintf(stderr, "wasp compile: %s: %s\n", dir, strerror(e));
            goto done;
        }
        snprintf(path, sizeof path, "%s/%s", dir, name);
    }
    e = srv_native_write(path, entry, elen);
    if (e) {
        fprintf(stderr, "wasp compile: %s: %s\n", path, strerror(e));
        goto done;
    }
    printf("%s: %u functions, %zu bytes of wasm compiled in %.1f ms (%.0f KB/s): %s (%zu "
           "bytes)\n",
           module, m->nfuncs - m->nfunc_imports, len, ms, ms > 0 ? len / ms : 0.0, path, elen);
    if (out) printf("to use it, copy it into a cache directory as %s\n", name);
    status = 0;
done:
    free(entry);
    wasm_module_free(m);
    free(bytes);
    return status;
}
