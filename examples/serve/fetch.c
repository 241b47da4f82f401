/*
 * fetch.c - outbound HTTP from a handler: GET /fetch?url=URL fetches URL
 * and answers with its status and the first bytes of its body. Only the
 * origins on the app's allow-list (`http: {allow: [...]}` in the manifest)
 * can be reached; anything else answers 403 with wasp's message naming
 * the rule, e.g. examples/serve/wasp.yaml allows only the server itself:
 *
 *   curl 'http://127.0.0.1:8080/fetch?url=http://127.0.0.1:8080/hello'   -> 200
 *   curl 'http://127.0.0.1:8080/fetch?url=http://example.com/'           -> 403
 */
#include "wasp.h"

#include <stdio.h>
#include <string.h>

static char body[64 * 1024];
static char out[80 * 1024];

/* Decodes %XX escapes of the query value in place. */
static void url_decode(char *s) {
    char *w = s;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char hex[3] = {s[1], s[2], 0};
            unsigned v;
            if (sscanf(hex, "%2x", &v) == 1) {
                *w++ = (char)v;
                s += 2;
                continue;
            }
        }
        *w++ = *s == '+' ? ' ' : *s;
    }
    *w = '\0';
}

WASP_HANDLER int wasp_handle(void) {
    char uri[2048];
    int32_t n = wasp_uri(uri, sizeof uri - 1);
    uri[n < 0 ? 0 : (size_t)n < sizeof uri - 1 ? (size_t)n : sizeof uri - 1] = '\0';
    char *url = strstr(uri, "url=");
    wasp_set_header("Content-Type", "text/plain; charset=utf-8");
    if (!url) {
        wasp_status(400);
        wasp_write_str("usage: /fetch?url=http://allowed-origin/path\n");
        return 0;
    }
    url += 4;
    char *amp = strchr(url, '&');
    if (amp) *amp = '\0';
    url_decode(url);
    int32_t status = wasp_http_get(url);
    if (status < 0) {
        char msg[512];
        int32_t m = wasp_err_message(msg, sizeof msg - 1);
        msg[m < 0 ? 0 : (size_t)m < sizeof msg - 1 ? (size_t)m : sizeof msg - 1] = '\0';
        wasp_status(status == -1 ? 403 : 502);
        int len = snprintf(out, sizeof out, "%s\n", msg);
        wasp_write(out, (size_t)len);
        return 0;
    }
    int32_t blen = wasp_http_body(body, sizeof body);
    size_t shown = blen < 0 ? 0 : (size_t)blen < sizeof body ? (size_t)blen : sizeof body;
    int len = snprintf(out, sizeof out, "%s answered %d with %d bytes:\n", url, status, blen);
    memcpy(out + len, body, shown);
    wasp_write(out, (size_t)len + shown);
    return 0;
}
