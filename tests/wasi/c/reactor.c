/*
 * reactor.c - a WASI reactor (built with -mexec-model=reactor): no _start,
 * an _initialize that runs the constructors, and exports to call with
 * `wasp run --invoke NAME module.wasm ARGS...`. add() is only right when
 * _initialize ran first.
 */
#include "common.h"

static int base;

__attribute__((constructor)) static void init(void) {
    base = 40;
}

__attribute__((export_name("add"))) int add(int a, int b) {
    return base + a + b - 40;
}

__attribute__((export_name("answer"))) int answer(void) {
    const char *v = getenv("ANSWER");
    printf("env ANSWER=%s\n", v ? v : "(unset)");
    fflush(stdout);
    return base + 2;
}
