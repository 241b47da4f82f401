/*
 * fuzz_cgi.c - libFuzzer target for the parser of WAGI output
 * (srv_cgi_parse): the bytes a guest writes to stdout, which wasp turns
 * into a status, headers and a body. Whatever the guest writes, the parser
 * must not crash, and what it accepts must be sendable: a status in
 * 100..599, header names that are tokens, values without CR, LF or NUL,
 * and a body inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    srv_response r;
    srv_response_init(&r);
    char why[200];
    if (srv_cgi_parse(data, size, &r, why, sizeof why)) {
        if (r.status < 100 || r.status > 599) abort();
        if (r.body < data || r.body + r.body_len != data + size) abort();
        for (size_t i = 0; i < r.nhdrs; i++) {
            const char *v = r.hbuf + r.hoff[i][2];
            for (uint32_t k = 0; k < r.hoff[i][3]; k++)
                if (v[k] == '\r' || v[k] == '\n' || v[k] == 0) abort();
            if (r.hoff[i][1] == 0) abort();
        }
    }
    srv_response_free(&r);
    return 0;
}
