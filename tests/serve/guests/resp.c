/*
 * resp.c - a wasp-ABI reactor in C that offers the response imports what
 * the server must refuse (issue 10: F05, F10) and answers what each call
 * returned, one "what=rc" line per call, in a text/plain body:
 *
 *   status-100, status-101, status-199   resp_status of a 1xx: -1 each
 *   status-600, status-99                out of range: -1 each
 *   ctl-01, ctl-7f, ctl-1f, nul, cr, lf  resp_header values holding those: -1 each
 *   tab, obs-text, space                 values with HTAB, bytes >= 0x80, SP: 0 each
 *   date, server, date-lower             the headers the server owns: -1 each
 *   bad-name                             a name with '(' (not a token): -1
 *
 * The accepted headers (X-Tab, X-Obs, X-Space) go out with the answer; the
 * status stays the default 200. The wasp imports are declared here.
 */
#include <stdint.h>
#include <string.h>

#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))
WASP_IMPORT("resp_status") int32_t resp_status(int32_t code);
WASP_IMPORT("resp_header")
int32_t resp_header(const char *n, int32_t nl, const char *v, int32_t vl);
WASP_IMPORT("resp_body") int32_t resp_body(const void *buf, int32_t len);

static void put(const char *s) {
    resp_body(s, (int32_t)strlen(s));
}

static void report(const char *what, int32_t rc) {
    put(what);
    put(rc == 0 ? "=0\n" : rc == -1 ? "=-1\n" : "=?\n");
}

/* a header whose value has `len` bytes (it may hold NUL) */
static void header(const char *what, const char *name, const char *value, int32_t len) {
    report(what, resp_header(name, (int32_t)strlen(name), value, len));
}

__attribute__((export_name("wasp_handle"))) int32_t wasp_handle(void) {
    static const int32_t codes[] = {100, 101, 199, 600, 99};
    static const char *const names[] = {"status-100", "status-101", "status-199", "status-600",
                                        "status-99"};
    resp_header("Content-Type", 12, "text/plain", 10);
    for (int i = 0; i < 5; i++)
        report(names[i], resp_status(codes[i]));
    header("ctl-01", "X-Ctl",
           "a\x01"
           "b",
           3);
    header("ctl-7f", "X-Del",
           "a\x7f"
           "b",
           3);
    header("ctl-1f", "X-Us",
           "a\x1f"
           "b",
           3);
    header("nul", "X-Nul", "a\0b", 3);
    header("cr", "X-Cr", "a\rb", 3);
    header("lf", "X-Lf", "a\nb", 3);
    header("tab", "X-Tab", "a\tb", 3);
    header("obs-text", "X-Obs", "caf\xc3\xa9", 5);
    header("space", "X-Space", "a b", 3);
    header("date", "Date", "Mon, 01 Jan 2001 00:00:00 GMT", 29);
    header("server", "Server", "forged", 6);
    header("date-lower", "date", "Mon, 01 Jan 2001 00:00:00 GMT", 29);
    header("bad-name", "X(", "v", 1);
    return 0;
}
