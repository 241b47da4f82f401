/*
 * hello.c - the smallest wasp handler: answers every request with
 * "hello, world\n" as text/plain.
 *
 *   make examples                         (builds examples/serve/hello.wasm)
 *   build/wasp serve examples/serve/hello.wasm
 *   curl http://127.0.0.1:8080/           -> hello, world
 *
 * It is the handler benchmarked against a native C server, so it does the
 * least it can: two host calls and no libc (no stdio, no malloc), which
 * leaves the module without a single WASI import.
 */
#include "wasp.h"

WASP_HANDLER int wasp_handle(void) {
    static const char body[] = "hello, world\n";
    wasp_set_header("Content-Type", "text/plain");
    wasp_write(body, sizeof body - 1);
    return 0;
}
