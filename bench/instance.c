/*
 * instance.c - the cost of a clean instance per request (issue 5, item 9).
 *
 * usage: bench_instance MODULE.wasm [N] [EXPORT]
 *
 * Loads the module as `wasp serve` does (instantiate, run _initialize if
 * exported, snapshot), then measures with CLOCK_MONOTONIC, N times each:
 *
 *   create+reset  what a worker pays per request in steady state: the
 *                 handler (EXPORT, default wasp_handle, with the wasp ABI
 *                 imports answering like an empty GET) has dirtied the
 *                 instance; time the reset back to the snapshot plus taking
 *                 the instance for the next request.
 *   fresh         a brand-new instance from the snapshot, freed again (what
 *                 a worker pays once per app, or after a failed reset).
 *
 * and prints p50, p90, p99 and mean of each in microseconds. The handler's
 * own run time is not included: it is the guest's, not the platform's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasi/wasi.h"
#include "wasm/wasm.h"

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static wasm_trap_code stub(void *env, wasm_instance *caller, const wasm_value *args,
                           wasm_value *results) {
    results[0] = (wasm_value){.type = WASM_I32, .of.i32 = 0};
    return WASM_TRAP_NONE;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)t[i];
    printf("%-13s n=%d p50=%.2f us p90=%.2f us p99=%.2f us mean=%.2f us\n", what, n,
           (double)t[n / 2] / 1e3, (double)t[n * 9 / 10] / 1e3, (double)t[n * 99 / 100] / 1e3,
           sum / n / 1e3);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_instance MODULE.wasm [N] [EXPORT]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 20000;
    const char *entry = argc > 3 ? argv[3] : "wasp_handle";
    if (n < 100) n = 100;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static uint8_t bytes[16 << 20];
    size_t len = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    wasm_error err;
    wasm_module *m = wasm_module_load(bytes, len, &err);
    if (!m) {
        fprintf(stderr, "%s: %s\n", argv[1], err.msg);
        return 1;
    }
    char msg[256];
    wasi_config wc = {0};
    wc.stdio[0].kind = wc.stdio[1].kind = wc.stdio[2].kind = WASI_STDIO_BUFFER;
    wasi_ctx *wasi = wasi_ctx_new(&wc, msg, sizeof msg);
    wasm_linker *l = wasm_linker_new();
    static const wasm_valtype i32s[4] = {WASM_I32, WASM_I32, WASM_I32, WASM_I32};
    static const struct {
        const char *name;
        uint32_t nparams;
    } abi[] = {{"req_method", 2},  {"req_uri", 2},      {"req_header", 4},
               {"req_headers", 2}, {"req_body_len", 0}, {"req_body", 3},
               {"resp_status", 1}, {"resp_header", 4},  {"resp_body", 2}};
    if (!wasi || !wasi_link(wasi, l, &err)) {
        fprintf(stderr, "wasi: %s\n", wasi ? err.msg : msg);
        return 1;
    }
    for (size_t i = 0; i < sizeof abi / sizeof abi[0]; i++)
        wasm_linker_func(l, "wasp", abi[i].name, abi[i].nparams, i32s, 1, i32s, stub, NULL, &err);
    wasm_instance *init = wasm_instance_new(m, l, &err);
    if (!init) {
        fprintf(stderr, "instantiate: %s\n", err.msg);
        return 1;
    }
    wasm_extern fn;
    if (wasm_instance_export(init, "_initialize", &fn)) wasm_call(fn, NULL, NULL);
    wasm_snapshot *snap = wasm_snapshot_take(init, &err);
    if (!snap) {
        fprintf(stderr, "snapshot: %s\n", err.msg);
        return 1;
    }
    uint64_t *t = calloc((size_t)n, sizeof *t);
    wasm_instance *inst = wasm_snapshot_instantiate(snap, l, &err);
    if (!t || !inst || !wasm_instance_export(inst, entry, &fn)) {
        fprintf(stderr, "no instance or no export %s\n", entry);
        return 1;
    }
    for (int i = -1000; i < n; i++) { /* 1000 rounds of warm-up */
        wasm_value res[1];
        wasm_call(fn, NULL, res);
        uint64_t t0 = now_ns();
        bool ok = wasm_snapshot_reset(snap, inst);
        wasm_instance_export(inst, entry, &fn); /* what a worker does to start the next request */
        uint64_t t1 = now_ns();
        if (!ok) {
            fprintf(stderr, "reset failed\n");
            return 1;
        }
        if (i >= 0) t[i] = t1 - t0;
    }
    report("create+reset", t, n);
    wasm_instance_free(inst);
    for (int i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        wasm_instance *x = wasm_snapshot_instantiate(snap, l, &err);
        wasm_instance_free(x);
        t[i] = now_ns() - t0;
        if (!x) {
            fprintf(stderr, "instantiate: %s\n", err.msg);
            return 1;
        }
    }
    report("fresh", t, n);
    printf("memory image %llu KiB\n", (unsigned long long)wasm_snapshot_memory_size(snap) >> 10);
    free(t);
    wasm_snapshot_free(snap);
    wasm_instance_free(init);
    wasm_linker_free(l);
    wasi_ctx_free(wasi);
    wasm_module_free(m);
    return 0;
}
