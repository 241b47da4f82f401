/*
 * isolation_c.c - a wasp-ABI reactor in C (wasi-libc, built with
 * -mexec-model=reactor) with state a reused instance would leak: a static
 * buffer, a static counter and the malloc heap. It answers
 *   buf=<buf> counter=<counter> heap=<address of a fresh malloc(16) block>
 * and then copies the request body into buf and bumps the counter; the
 * block is never freed, so a reused instance would hand out another one.
 * A fresh instance per request always answers the same thing, beginning
 * "buf=c-initial counter=0 heap=": the constructor ran once at load
 * (_initialize) and set the counter to 0 from -1.
 *
 * The wasp imports are declared here, not taken from sdk/c/wasp.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))
WASP_IMPORT("req_body") int req_body(char *buf, int cap, int offset);
WASP_IMPORT("resp_header") int resp_header(const char *n, int nl, const char *v, int vl);
WASP_IMPORT("resp_body") int resp_body(const char *buf, int len);

static char buf[64] = "c-initial";
static int counter = -1;

__attribute__((constructor)) static void setup(void) {
    counter = 0;
}

static void put(const char *s) {
    resp_body(s, (int)strlen(s));
}

static void putnum(long n) {
    char d[24];
    int i = sizeof d;
    unsigned long u = n < 0 ? -(unsigned long)n : (unsigned long)n;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0) d[--i] = '-';
    resp_body(d + i, (int)sizeof d - i);
}

__attribute__((export_name("wasp_handle"))) void wasp_handle(void) {
    void *block = malloc(16);
    resp_header("Content-Type", 12, "text/plain", 10);
    put("buf=");
    put(buf);
    put(" counter=");
    putnum(counter);
    put(" heap=");
    putnum((long)(uintptr_t)block);
    int n = req_body(buf, (int)sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    counter++;
}
