/*
 * access2json.c - a `wasp pipe` filter: web server access-log lines in the
 * common log format to NDJSON.
 *
 *   127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a.gif HTTP/1.0" 200 2326
 *   -> {"ip":"127.0.0.1","time":"10/Oct/2026:13:55:36 +0000","method":"GET",
 *       "path":"/a.gif","status":200,"bytes":2326}
 *
 * A line that is not in that format fails: it goes to the dead letters with
 * the error, and the others go on.
 */
#include <string.h>

#include "wasp_filter.h"

/* s[*i..) up to the next `stop`: its start and length; false at the end. */
static int field(const char *s, size_t n, size_t *i, char stop, const char **f, size_t *len) {
    size_t k = *i;
    while (k < n && s[k] != stop)
        k++;
    if (k >= n) return 0;
    *f = s + *i;
    *len = k - *i;
    *i = k + 1;
    return 1;
}

/* Appends a JSON string's inside; the log's fields hold no control
 * characters but quotes or backslashes may appear in a path. */
static size_t put_str(char *out, size_t o, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') out[o++] = '\\';
        out[o++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    }
    return o;
}

static size_t put(char *out, size_t o, const char *s) {
    size_t n = strlen(s);
    memcpy(out + o, s, n);
    return o + n;
}

static int is_number(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int convert(const wasp_record *r) {
    const char *s = wasp_record_data(r), *ip, *skip, *time, *method, *path, *proto, *status, *bytes;
    size_t n = wasp_record_len(r), i = 0, iplen, sklen, tlen, mlen, plen, prlen, slen, blen;
    if (!field(s, n, &i, ' ', &ip, &iplen) || !field(s, n, &i, ' ', &skip, &sklen) ||
        !field(s, n, &i, '[', &skip, &sklen) || !field(s, n, &i, ']', &time, &tlen) ||
        !field(s, n, &i, '"', &skip, &sklen) || !field(s, n, &i, ' ', &method, &mlen) ||
        !field(s, n, &i, ' ', &path, &plen) || !field(s, n, &i, '"', &proto, &prlen) ||
        !field(s, n, &i, ' ', &skip, &sklen))
        return 1;
    status = s + i;
    if (!field(s, n, &i, ' ', &status, &slen)) return 1;
    bytes = s + i;
    blen = n - i;
    if (!is_number(status, slen) || !(is_number(bytes, blen) || (blen == 1 && *bytes == '-')))
        return 1;
    /* every byte of the line at most twice (escapes), plus the names */
    static char out[2 * 65536 + 128];
    if (n > 65536) return 1;
    size_t o = put(out, 0, "{\"ip\":\"");
    o = put_str(out, o, ip, iplen);
    o = put(out, o, "\",\"time\":\"");
    o = put_str(out, o, time, tlen);
    o = put(out, o, "\",\"method\":\"");
    o = put_str(out, o, method, mlen);
    o = put(out, o, "\",\"path\":\"");
    o = put_str(out, o, path, plen);
    o = put(out, o, "\",\"status\":");
    memcpy(out + o, status, slen);
    o += slen;
    o = put(out, o, ",\"bytes\":");
    if (*bytes == '-') {
        o = put(out, o, "0");
    } else {
        memcpy(out + o, bytes, blen);
        o += blen;
    }
    out[o++] = '}';
    return wasp_emit(out, o) < 0;
}

WASP_FLAT_MAP(convert)
