/*
 * cgi.c - a WAGI guest (a WASI command): CGI headers, a blank line, a body,
 * on stdout. QUERY_STRING picks what it does:
 *
 *   (anything else)  200, Content-Type text/plain, X-Cgi: yes, and a body
 *                    of "NAME=value" lines for the CGI variables below,
 *                    argv0=, argc=, then "stdin=" and the request body
 *   mode=status      "Status: 404 Not Found" and the body "not here"
 *   mode=location    only "Location: /elsewhere" (302)
 *   mode=crlf        headers and the blank line ended by CR LF
 *   mode=noblank     header lines, then the end of output: no blank line (502)
 *   mode=badheader   a line that is not a header, a blank line, a body (502)
 *   mode=exit3       a well-formed response, then exit code 3 (500)
 *   mode=trap        a well-formed header, then a trap (500)
 *   mode=status2000  "Status: 2000" (502: not three digits)
 *   mode=status101   "Status: 101 Switching Protocols" (502: not a final status)
 *   mode=status204   "Status: 204 No Content" and a body (sent as 204 without it)
 *   mode=ctl         a header value holding 0x01 (502)
 *   mode=del         a header value holding 0x7f (502)
 *   mode=date        Date and Server headers (dropped: the server's own go out)
 *                    and X-Ok: yes
 *   mode=big         a body of 17 MiB, past the output cap (502)
 *   mode=fit         a body of exactly 16 MiB, inside the cap (200)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const VARS[] = {
    "REQUEST_METHOD",    "PATH_INFO",       "SCRIPT_NAME",     "QUERY_STRING",
    "SERVER_NAME",       "SERVER_PORT",     "SERVER_PROTOCOL", "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE", "REMOTE_ADDR",     "REMOTE_PORT",     "CONTENT_LENGTH",
    "CONTENT_TYPE",      "X_MATCHED_ROUTE", "X_FULL_URL",      "X_RAW_PATH_INFO",
    "HTTP_X_TEST",       "HTTP_HOST",       "GREETING",        "HTTP_X_FORWARDED_FOR",
    "HTTP_PROXY",        "HTTP_X_DUP",
};

/* n bytes of 'x' to stdout, 64 KiB at a time (writes past the cap fail) */
static void body_of(size_t n) {
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        fwrite(buf, 1, k, stdout);
        n -= k;
    }
}

int main(int argc, char **argv) {
    const char *q = getenv("QUERY_STRING");
    if (!q) q = "";
    if (strcmp(q, "mode=status") == 0) {
        printf("Status: 404 Not Found\nContent-Type: text/plain\n\nnot here\n");
        return 0;
    }
    if (strcmp(q, "mode=location") == 0) {
        printf("Location: /elsewhere\n\n");
        return 0;
    }
    if (strcmp(q, "mode=crlf") == 0) {
        printf("Content-Type: text/plain\r\nX-Crlf: yes\r\n\r\ncrlf body\n");
        return 0;
    }
    if (strcmp(q, "mode=noblank") == 0) {
        printf("Content-Type: text/plain\nX-Other: header lines and then the end, no blank line\n");
        return 0;
    }
    if (strcmp(q, "mode=badheader") == 0) {
        printf("this line is not a header\n\nbody\n");
        return 0;
    }
    if (strcmp(q, "mode=exit3") == 0) {
        printf("Content-Type: text/plain\n\nabout to fail\n");
        fflush(stdout);
        exit(3);
    }
    if (strcmp(q, "mode=status2000") == 0) {
        printf("Status: 2000\nContent-Type: text/plain\n\nbody\n");
        return 0;
    }
    if (strcmp(q, "mode=status101") == 0) {
        printf("Status: 101 Switching Protocols\nUpgrade: h2c\n\n");
        return 0;
    }
    if (strcmp(q, "mode=status204") == 0) {
        printf("Status: 204 No Content\nContent-Type: text/plain\n\n"
               "HTTP/1.1 200 OK\r\nSet-Cookie: forged=1\r\nContent-Length: 0\r\n\r\n");
        return 0;
    }
    if (strcmp(q, "mode=ctl") == 0) {
        printf("Content-Type: text/plain\nX-Ctl: a\001b\n\nbody\n");
        return 0;
    }
    if (strcmp(q, "mode=del") == 0) {
        printf("Content-Type: text/plain\nX-Del: a\177b\n\nbody\n");
        return 0;
    }
    if (strcmp(q, "mode=date") == 0) {
        printf("Date: Mon, 01 Jan 2001 00:00:00 GMT\nServer: forged\nX-Ok: yes\n\nbody\n");
        return 0;
    }
    if (strcmp(q, "mode=big") == 0 || strcmp(q, "mode=fit") == 0) {
        printf("Content-Type: text/plain\n\n");
        fflush(stdout);
        body_of(q[5] == 'b' ? 17u << 20 : 16u << 20);
        return 0;
    }
    if (strcmp(q, "mode=trap") == 0) {
        printf("Content-Type: text/plain\n\n");
        fflush(stdout);
        __builtin_trap();
    }

    printf("Content-Type: text/plain\nX-Cgi: yes\n\n");
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) {
        const char *v = getenv(VARS[i]);
        printf("%s=%s\n", VARS[i], v ? v : "(unset)");
    }
    printf("argv0=%s\nargc=%d\nstdin=", argc > 0 ? argv[0] : "(none)", argc);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        fwrite(buf, 1, n, stdout);
    return 0;
}
