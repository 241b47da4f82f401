/*
 * fuzz_cgi.c - libFuzzer target for the parser of WAGI output
 * (srv_cgi_parse): the bytes a guest writes to stdout, which wasp turns
 * into a status, headers and a body. Whatever the guest writes, the parser
 * must not crash, and what it accepts must be sendable: a final status in
 * 200..599 (issue 10, F05, F11), header names that are tokens, values of
 * VCHAR, obs-text, SP and HTAB only (F10), no header the server owns,
 * and a body inside the input.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    srv_response r;
    srv_response_init(&r);
    char why[200];
    if (srv_cgi_parse(data, size, &r, why, sizeof why)) {
        if (r.status < 200 || r.status > 599) abort();
        if (r.body < data || r.body + r.body_len != data + size) abort();
        for (size_t i = 0; i < r.nhdrs; i++) {
            const char *v = r.hbuf + r.hoff[i][2];
            for (uint32_t k = 0; k < r.hoff[i][3]; k++) {
                unsigned char c = (unsigned char)v[k];
                if ((c < 32 && c != '\t') || c == 127) abort();
            }
            const char *name = r.hbuf + r.hoff[i][0];
            uint32_t nl = r.hoff[i][1];
            if (nl == 0) abort();
            if ((nl == 4 && !strncasecmp(name, "date", 4)) ||
                (nl == 6 && !strncasecmp(name, "server", 6)) ||
                (nl == 14 && !strncasecmp(name, "content-length", 14)))
                abort();
        }
    }
    srv_response_free(&r);
    return 0;
}
