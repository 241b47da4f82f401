/*
 * fuzz_log.c - libFuzzer target for the log line writer (log.c), which puts
 * untrusted bytes (request paths, a guest's log messages and stderr) into
 * access and event lines, as logfmt or as JSON (--log-format json). The
 * first byte picks the format; the rest is the value. The line must be one
 * line whose value decodes back to exactly the bytes given: logfmt bare
 * (no space, quote, '=', backslash or control byte) or quoted with \" \\
 * \xNN; JSON with \" \\ \u00NN and no raw control byte.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/internal.h"

static int hex(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes the value at p (up to end) into out; its length, or -1 when it
 * is not what the format allows. */
static long decode(bool json, const char *p, const char *end, char *out) {
    long n = 0;
    if (p < end && *p != '"') { /* bare: logfmt only */
        if (json) return -1;
        for (; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 127) return -1;
            out[n++] = (char)c;
        }
        return n;
    }
    if (end - p < 2 || end[-1] != '"') return -1;
    for (p++, end--; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < ' ' || (json && c >= 127) || c == '"') return -1;
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        if (++p == end) return -1;
        if (*p == '"' || *p == '\\') {
            out[n++] = *p;
        } else if (!json && *p == 'x' && end - p >= 3 && hex(p[1]) >= 0 && hex(p[2]) >= 0) {
            out[n++] = (char)(hex(p[1]) * 16 + hex(p[2]));
            p += 2;
        } else if (json && *p == 'u' && end - p >= 5 && p[1] == '0' && p[2] == '0' &&
                   hex(p[3]) >= 0 && hex(p[4]) >= 0) {
            out[n++] = (char)(hex(p[3]) * 16 + hex(p[4]));
            p += 4;
        } else {
            return -1;
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0) fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || size == 0) return 0;
    bool json = data[0] & 1;
    const char *v = (const char *)data + 1;
    size_t vlen = size - 1;
    srv_log_set_json(json);
    srv_log l;
    srv_log_init(&l, fd);
    srv_log_begin(&l);
    srv_log_str(&l, "v", v, vlen);
    srv_log_end(&l);
    if (!l.buf || l.len == 0 || l.buf[l.len - 1] != '\n' || memchr(l.buf, '\n', l.len - 1))
        abort(); /* one line */
    const char *key = json ? ",\"v\":" : " v=";
    const char *end = l.buf + l.len - (json ? 2 : 1);
    if (json && end[0] != '}') abort();
    /* the first: the timestamp holds no key */
    const char *at = memmem(l.buf, (size_t)(end - l.buf), key, strlen(key));
    if (!at) abort();
    at += strlen(key);
    char *out = malloc(vlen + 1);
    if (!out) abort();
    long n = decode(json, at, end, out);
    if (n != (long)vlen || memcmp(out, v, vlen)) abort();
    free(out);
    l.len = 0;
    srv_log_free(&l);
    return 0;
}
