/*
 * wasilimits.c - a wasp-ABI reactor in C that leans on WASI the way a
 * hostile handler would (issue 10), for wasi_test.py. The last segment of
 * the request path is the command:
 *   .../sleep?N   sleep(N) (wasi-libc: poll_oneoff on a clock), then
 *                 answer "woke after N s"
 *   .../fds       open /data/f.txt read-only until open fails, keeping
 *                 every descriptor; answer "opened N errno=E"
 *   anything else answer "idle"
 * It needs a grant of /data holding f.txt. The wasp imports are declared
 * here, not taken from sdk/c/wasp.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))
WASP_IMPORT("req_uri") int req_uri(char *buf, int cap);
WASP_IMPORT("resp_header") int resp_header(const char *n, int nl, const char *v, int vl);
WASP_IMPORT("resp_body") int resp_body(const char *buf, int len);

static void answer(const char *s) {
    resp_header("Content-Type", 12, "text/plain", 10);
    resp_body(s, (int)strlen(s));
}

__attribute__((export_name("wasp_handle"))) void wasp_handle(void) {
    char uri[256], out[128];
    int n = req_uri(uri, (int)sizeof uri - 1);
    uri[n > 0 && n < (int)sizeof uri ? n : 0] = 0;
    char *q = strchr(uri, '?');
    if (q) *q++ = 0;
    const char *cmd = strrchr(uri, '/');
    cmd = cmd ? cmd + 1 : uri;
    if (!strcmp(cmd, "sleep")) {
        unsigned s = q ? (unsigned)atoi(q) : 1;
        sleep(s);
        snprintf(out, sizeof out, "woke after %u s", s);
    } else if (!strcmp(cmd, "fds")) {
        int opened = 0, err = 0;
        for (;;) {
            int fd = open("/data/f.txt", O_RDONLY);
            if (fd < 0) {
                err = errno;
                break;
            }
            if (++opened == 1000000) break;
        }
        snprintf(out, sizeof out, "opened %d errno=%d", opened, err);
    } else {
        snprintf(out, sizeof out, "idle");
    }
    answer(out);
}
