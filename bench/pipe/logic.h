/*
 * logic.h - what every runner of `make bench-pipe` computes per record, in
 * C: the wasp filter (errors.c) and the native program (native.c) include
 * this same code; jq and Node do the same in their own terms (run.sh).
 *
 * A record is an access-log entry as a JSON object on one line. Those with
 * "status" >= 500 are kept and mapped to {"ip","path","status","ms"}, the
 * ip's last two numbers replaced by "x.x". Members are found without
 * parsing the rest of the record (as the SDK's wasp_json_field does), and
 * string values are copied with their quotes: the generator writes none
 * that need escaping, so the output is byte for byte jq's and Node's.
 */
#include <stddef.h>
#include <string.h>

/* The value of member `name` (with its quotes if a string): its start and
 * length; 0 when absent. Flat objects only, as the generator writes. */
static int member(const char *s, size_t n, const char *name, size_t nlen, const char **v,
                  size_t *vlen) {
    for (size_t i = 0; i + nlen + 3 < n; i++) {
        if (s[i] != '"' || memcmp(s + i + 1, name, nlen) || s[i + 1 + nlen] != '"' ||
            s[i + 2 + nlen] != ':')
            continue;
        size_t k = i + 3 + nlen, e = k;
        if (e < n && s[e] == '"') {
            e++;
            while (e < n && s[e] != '"')
                e++;
            e++;
        } else {
            while (e < n && s[e] != ',' && s[e] != '}')
                e++;
        }
        if (e > n) return 0;
        *v = s + k;
        *vlen = e - k;
        return 1;
    }
    return 0;
}

static long long to_int(const char *v, size_t n) {
    long long x = 0;
    for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        x = x * 10 + (v[i] - '0');
    return x;
}

/* Writes the mapped record into out (room for n + 64 bytes); returns its
 * length, or 0 when the record is not kept. */
static size_t errors_map(const char *s, size_t n, char *out) {
    const char *st, *ip, *path, *ms;
    size_t stl, ipl, pathl, msl;
    if (!member(s, n, "status", 6, &st, &stl) || to_int(st, stl) < 500) return 0;
    if (!member(s, n, "ip", 2, &ip, &ipl) || !member(s, n, "path", 4, &path, &pathl) ||
        !member(s, n, "ms", 2, &ms, &msl))
        return 0;
    /* "a.b.c.d" -> "a.b.x.x": up to the second dot */
    size_t keep = 0;
    for (int dots = 0; keep < ipl && dots < 2; keep++)
        dots += ip[keep] == '.';
    size_t o = 0;
#define PUT(p, l) (memcpy(out + o, (p), (l)), o += (l))
    PUT("{\"ip\":", 6);
    PUT(ip, keep);
    PUT("x.x\",\"path\":", 12);
    PUT(path, pathl);
    PUT(",\"status\":", 10);
    PUT(st, stl);
    PUT(",\"ms\":", 6);
    PUT(ms, msl);
    out[o++] = '}';
#undef PUT
    return o;
}
