/*
 * csv2json.c - a `wasp pipe` filter: CSV rows to JSON objects named by the
 * header (wasp pipe --format csv gives the header line to filters as the
 * variable csv_header), every value a JSON string:
 *
 *   id,name,city          ->  {"id":"1","name":"Ada","city":"London"}
 *   1,Ada,London
 *
 * A row with more fields than the header fails (a dead letter).
 */
#include "wasp_filter.h"

static char header[8192];
static size_t header_len;

/* Run once at load, before the snapshot: the header stays in memory. */
WASP_EXPORT(wasp_filter_init) int32_t init(void) {
    int32_t n = wasp_var("csv_header", header, sizeof header);
    if (n < 0 || (size_t)n > sizeof header) {
        wasp_log_str(3, "csv2json needs wasp pipe --format csv (the csv_header variable)");
        return 1;
    }
    header_len = (size_t)n;
    return 0;
}

/* Appends s[0..n) as the inside of a JSON string; false when out is full. */
static int put_json(char *out, size_t *o, size_t cap, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (*o + 7 > cap) return 0;
        if (c == '"' || c == '\\') {
            out[(*o)++] = '\\';
            out[(*o)++] = (char)c;
        } else if (c < 0x20) {
            static const char hex[] = "0123456789abcdef";
            out[(*o)++] = '\\', out[(*o)++] = 'u', out[(*o)++] = '0', out[(*o)++] = '0';
            out[(*o)++] = hex[c >> 4], out[(*o)++] = hex[c & 15];
        } else {
            out[(*o)++] = (char)c;
        }
    }
    return 1;
}

static int row(const wasp_record *r) {
    static char out[65536], field[16384];
    const char *s = wasp_record_data(r), *v, *name;
    size_t n = wasp_record_len(r), vlen, nlen, o = 0;
    out[o++] = '{';
    unsigned i = 0;
    for (; wasp_csv_field(s, n, i, &v, &vlen) == 0; i++) {
        if (wasp_csv_field(header, header_len, i, &name, &nlen) < 0) return 1; /* too many fields */
        int flen = wasp_csv_unquote(v, vlen, field, sizeof field);
        if (flen < 0 || o + nlen + 8 > sizeof out) return 1;
        if (i) out[o++] = ',';
        out[o++] = '"';
        if (!put_json(out, &o, sizeof out, name, nlen)) return 1;
        out[o++] = '"', out[o++] = ':', out[o++] = '"';
        if (!put_json(out, &o, sizeof out, field, (size_t)flen) || o + 2 > sizeof out) return 1;
        out[o++] = '"';
    }
    out[o++] = '}';
    return wasp_emit(out, o) < 0;
}

WASP_FLAT_MAP(row)
