/*
 * fuzz_jit_load.c - libFuzzer target for the native tier's object loader
 * (wasm_jit_load, src/wasm/jit_load.c), which reads compiled code back
 * from cache files: a corrupted or hostile file must be refused, never
 * crash wasp or write outside the loader's own mapping.
 *
 * Each input is an object file. Seeds: objects clang-14 compiles from
 * tests/fuzz/jit_seed.c, position-independent for the small code model (as
 * the tier emits code) and for the large one (`make fuzz` builds them). The
 * code of what loads is not run (a corrupted object's code is garbage);
 * its symbols are looked up. Findings, besides sanitizer reports: an error
 * without the "compiled code: " prefix or with an empty reason.
 */
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

static long host_add(long a, long b) {
    return a + b;
}
static long counter;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const wasm_jit_symbol imports[] = {{"host_add", (void *)host_add},
                                              {"counter", &counter}};
    /* the loader wants the object 8-byte aligned, as a cache read gives it */
    uint8_t *obj = malloc(size ? size : 1);
    if (!obj) return 0;
    memcpy(obj, data, size);
    wasm_error err;
    wasm_jit_image *img = wasm_jit_load(obj, size, imports, 2, &err);
    if (img) {
        (void)wasm_jit_find(img, "call_host");
        (void)wasm_jit_find(img, "get_rw");
        wasm_jit_unload(img);
    } else if (strncmp(err.msg, "compiled code: ", 15) != 0 || !err.msg[15]) {
        abort();
    }
    free(obj);
    return 0;
}
