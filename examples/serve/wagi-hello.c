/*
 * wagi-hello.c - a WAGI handler in C: an ordinary WASI command that reads
 * the request from CGI environment variables and writes a CGI response
 * (header lines, a blank line, the body) to stdout.
 *
 *   make examples                  (builds examples/serve/wagi-hello.wasm)
 *   build/wasp run --env REQUEST_METHOD=GET --env PATH_INFO=/x \
 *       --env QUERY_STRING=a=1 examples/serve/wagi-hello.wasm
 *
 * prints
 *
 *   Content-Type: text/plain
 *
 *   hello from WAGI, GET /x
 *   query: a=1
 *
 * The greeting's first word comes from GREETING when the app is granted
 * it (examples/serve/wasp.yaml does), else "hello".
 */
#include <stdio.h>
#include <stdlib.h>

/* The variable's value, or "" when it is not set. */
static const char *env(const char *name) {
    const char *v = getenv(name);
    return v ? v : "";
}

int main(void) {
    const char *greeting = getenv("GREETING");
    const char *query = env("QUERY_STRING");

    printf("Content-Type: text/plain\n\n");
    printf("%s from WAGI, %s %s\n", greeting && *greeting ? greeting : "hello",
           env("REQUEST_METHOD"), env("PATH_INFO"));
    if (*query) printf("query: %s\n", query);
    return 0;
}
