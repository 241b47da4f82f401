/*
 * redact.c - a `wasp pipe` filter: every IPv4 address in a record becomes
 * its first two numbers and "x.x" (10.1.2.3 -> 10.1.x.x), so that a log
 * keeps the network but not the client.
 */
#include <string.h>

#include "wasp_filter.h"

static int digit(char c) {
    return c >= '0' && c <= '9';
}

/* The length of an IPv4 address at s (four numbers of 1-3 digits with
 * dots between), or 0. */
static size_t ipv4_at(const char *s, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t d = 0;
        while (i < n && digit(s[i]) && d < 3)
            i++, d++;
        if (!d) return 0;
        if (part < 3) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
    }
    return i < n && digit(s[i]) ? 0 : i;
}

static int redact(const wasp_record *r) {
    const char *s = wasp_record_data(r);
    size_t n = wasp_record_len(r), o = 0;
    static char out[65536];
    if (n > sizeof out) return 1;
    for (size_t i = 0; i < n;) {
        size_t len = (i == 0 || !digit(s[i - 1])) && digit(s[i]) ? ipv4_at(s + i, n - i) : 0;
        if (!len) {
            out[o++] = s[i++];
            continue;
        }
        /* the first two numbers stay */
        size_t k = 0;
        for (int dots = 0; dots < 2; k++)
            dots += s[i + k] == '.';
        memcpy(out + o, s + i, k);
        o += k;
        memcpy(out + o, "x.x", 3);
        o += 3;
        i += len;
    }
    return wasp_emit(out, o) < 0;
}

WASP_FLAT_MAP(redact)
