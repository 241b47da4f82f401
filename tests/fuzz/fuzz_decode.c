/*
 * fuzz_decode.c - libFuzzer target for the engine's front door: every input
 * is handed to wasm_module_decode() and, when that yields a module, to
 * wasm_module_validate(); then everything is freed.
 *
 * Any error the engine returns is a correct outcome: most inputs are not
 * modules. What this target hunts is what the engine promises never to do
 * on hostile bytes: crash, read or write out of bounds, leak, hang, blow
 * the stack, or hit undefined behaviour. It is built with
 * -fsanitize=fuzzer,address,undefined (see `make fuzz` and README.md here),
 * so each of those stops the run and leaves the input behind.
 *
 * The error is also checked for the shape wasm.h promises (a known kind,
 * an offset inside the input, a NUL-terminated message), since callers
 * print it; a violation aborts like a crash would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/wasm.h"

/* A failed decode or validate must describe itself usably. */
static void check_error(const wasm_error *err, size_t size) {
    if (err->kind != WASM_ERR_MALFORMED && err->kind != WASM_ERR_INVALID &&
        err->kind != WASM_ERR_NOMEM && err->kind != WASM_ERR_LIMIT)
        abort();
    if (err->offset > size) abort();
    if (!memchr(err->msg, '\0', sizeof err->msg) || err->msg[0] == '\0') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wasm_error err;
    memset(&err, 0, sizeof err);
    wasm_module *m = wasm_module_decode(data, size, &err);
    if (!m) {
        check_error(&err, size);
        return 0;
    }
    memset(&err, 0, sizeof err);
    if (!wasm_module_validate(m, &err)) check_error(&err, size);
    wasm_module_free(m);
    return 0;
}
