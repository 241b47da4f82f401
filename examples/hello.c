/*
 * hello.c - the smallest WASI command: prints a greeting, to whoever is
 * named on the command line or else to the world.
 *
 *   make examples                               (builds build/examples/hello.wasm)
 *   build/wasp run build/examples/hello.wasm    -> hello, world
 *   build/wasp run build/examples/hello.wasm wasp -> hello, wasp
 *
 * It needs no grant at all: stdout and the arguments are all it touches.
 */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello, %s\n", argc > 1 ? argv[1] : "world");
    return 0;
}
