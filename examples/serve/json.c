/*
 * json.c - a wasp handler that reads JSON and answers JSON: POST a body like
 *
 *   {"numbers": [1, 2, 3.5], "op": "sum"}          (op: sum, mean, max, min)
 *
 * and it answers 200 {"op":"sum","count":3,"result":6.5}. Any other method
 * gets 405; a body that is not such an object gets 400; a body over 64 KiB
 * gets 413. Every error is {"error":"..."} and names the byte offset where
 * the input went wrong.
 *
 *   build/wasp serve examples/serve/json.wasm
 *   curl -d '{"numbers":[1,2,3.5],"op":"mean"}' http://127.0.0.1:8080/
 *
 * The parser is written for hostile input: it never reads past the body,
 * never recurses deeper than DEPTH_MAX, keeps no per-number state (so the
 * count of numbers costs no memory), rejects what RFC 8259 rejects (bad
 * UTF-8, lone surrogates, control characters in strings, leading zeros,
 * trailing commas, anything after the value) and refuses numbers that do
 * not fit in a double. Keys other than "numbers" and "op" are validated
 * and ignored; a repeated key is an error.
 *
 * It is also written to be fast in an interpreter, because it is the
 * handler `make bench-http` measures: numbers are checked and converted in
 * one pass (Clinger's exact fast path, strtod only for long or extreme
 * numbers), the result is formatted without printf when its shortest form
 * has at most 15 digits, and hot loops keep their cursor in a local. Each
 * of these halved the time of the version before (16 us -> 7 us per request
 * in wasp's interpreter; bench/RESULTS.md).
 */
#include "wasp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (64 * 1024) /* larger bodies get 413 */
#define DEPTH_MAX 32         /* arrays and objects nested deeper get 400 */
#define NAME_MAX_LEN 16      /* keys and op names are compared in this much */

/* One request's body, NUL-terminated (each request starts from a fresh copy). */
static char body[BODY_MAX + 1];

/* A cursor over the body, and the first error met: message and offset. */
typedef struct {
    const char *start, *p, *end;
    const char *err;
    size_t err_at;
} parser;

/* Running results over "numbers": compensated (Neumaier) sum, min, max. */
typedef struct {
    size_t count;
    double sum, comp, min, max;
} stats;

static int fail(parser *ps, const char *msg) {
    if (!ps->err) {
        ps->err = msg;
        ps->err_at = (size_t)(ps->p - ps->start);
    }
    return -1;
}

/* The cursor is copied to a local in the hot loops: through ps, every
 * byte would be a load and a store of ps->p, since a char store may alias
 * it. */
static void skip_ws(parser *ps) {
    const char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    ps->p = p;
}

static int peek(const parser *ps) {
    return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static int expect(parser *ps, char c, const char *msg) {
    skip_ws(ps);
    if (peek(ps) != c) return fail(ps, msg);
    ps->p++;
    return 0;
}

static int hex4(const char *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

/* Appends byte c to out[0..cap) at *len; *len keeps counting past cap. */
static void put(char *out, size_t cap, size_t *len, char c) {
    if (*len < cap) out[*len] = c;
    (*len)++;
}

/*
 * Parses the string at ps->p (which is at the opening quote). Its decoded
 * bytes go to out[0..cap) and *len gets their full count, so a result with
 * *len > cap was cut (out may be NULL with cap 0 to only validate).
 */
static int parse_string(parser *ps, char *out, size_t cap, size_t *len) {
    *len = 0;
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end) return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            return 0;
        }
        if (c < 0x20) return fail(ps, "control character in string");
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (n == 0) return fail(ps, "invalid UTF-8 in string");
            for (size_t i = 0; i < n; i++)
                put(out, cap, len, ps->p[i]);
            ps->p += n;
            continue;
        }
        if (c != '\\') {
            put(out, cap, len, (char)c);
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2) return fail(ps, "unterminated string");
        char e = ps->p[1], d;
        switch (e) {
        case '"': d = '"'; break;
        case '\\': d = '\\'; break;
        case '/': d = '/'; break;
        case 'b': d = '\b'; break;
        case 'f': d = '\f'; break;
        case 'n': d = '\n'; break;
        case 'r': d = '\r'; break;
        case 't': d = '\t'; break;
        case 'u': d = 0; break;
        default: return fail(ps, "invalid escape in string");
        }
        if (e != 'u') {
            put(out, cap, len, d);
            ps->p += 2;
            continue;
        }
        long cp = ps->end - ps->p >= 6 ? hex4(ps->p + 2) : -1;
        if (cp < 0) return fail(ps, "invalid \\u escape in string");
        ps->p += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(ps, "lone surrogate in string");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo =
                ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' ? hex4(ps->p + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail(ps, "lone surrogate in string");
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
            put(out, cap, len, (char)cp);
        } else if (cp < 0x800) {
            put(out, cap, len, (char)(0xC0 | (cp >> 6)));
            put(out, cap, len, (char)(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            put(out, cap, len, (char)(0xE0 | (cp >> 12)));
            put(out, cap, len, (char)(0x80 | ((cp >> 6) & 0x3F)));
            put(out, cap, len, (char)(0x80 | (cp & 0x3F)));
        } else {
            put(out, cap, len, (char)(0xF0 | (cp >> 18)));
            put(out, cap, len, (char)(0x80 | ((cp >> 12) & 0x3F)));
            put(out, cap, len, (char)(0x80 | ((cp >> 6) & 0x3F)));
            put(out, cap, len, (char)(0x80 | (cp & 0x3F)));
        }
    }
}

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

/* Powers of ten that a double holds exactly. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Checks the RFC 8259 number at ps->p and, when value is not NULL, converts
 * it, in one pass. The digits are gathered as they are checked; when the
 * significant digits fit in 53 bits and the power of ten is exact, one
 * multiplication or division, correctly rounded by the hardware, is the
 * correctly rounded result (Clinger's fast path). Anything else (more
 * digits, large exponents) goes to strtod, which is exact for every input
 * but, in an interpreter, costs many times more. The cursor is a local so
 * that the loop works in registers rather than in memory.
 */
/* Inlined into its two callers: a call per number is a large part of the
 * work for short numbers. */
static inline __attribute__((always_inline)) int parse_number(parser *ps, double *value) {
    const char *s = ps->p, *p = s, *end = ps->end;
    int neg = 0, sig = 0, exp10 = 0, exact = 1;
    unsigned long long m = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && is_digit(*p)) {
        for (; p < end && is_digit(*p); p++) {
            if (sig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                sig++;
            } else {
                exact = 0;
            }
        }
    } else {
        ps->p = p;
        return fail(ps, "invalid number");
    }
    if (p < end && *p == '.') {
        p++;
        if (!(p < end && is_digit(*p))) {
            ps->p = p;
            return fail(ps, "invalid number: digit expected after '.'");
        }
        for (; p < end && is_digit(*p); p++) {
            if (m == 0 && *p == '0') {
                exp10--;
            } else if (sig < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                sig++;
                exp10--;
            } else {
                exact = 0;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (!(p < end && is_digit(*p))) {
            ps->p = p;
            return fail(ps, "invalid number: digit expected in exponent");
        }
        for (; p < end && is_digit(*p); p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }
    ps->p = p;
    if (p < end && is_digit(*p)) return fail(ps, "invalid number: leading zero");
    if (!value) return 0;
    if (exact && m <= (1ull << 53) && (m == 0 || (exp10 >= -22 && exp10 <= 22))) {
        double v = (double)m;
        if (m) v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        *value = neg ? -v : v;
        return 0;
    }
    char *stop;
    double v = strtod(s, &stop);
    if (stop != ps->p) {
        ps->p = s;
        return fail(ps, "invalid number");
    }
    if (!isfinite(v)) {
        ps->p = s;
        return fail(ps, "number too large for a double");
    }
    *value = v;
    return 0;
}

static int skip_literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "invalid literal (expected a value)");
    ps->p += n;
    return 0;
}

/* Validates and skips any JSON value (ps->p after white space). */
static int skip_value(parser *ps, int depth) {
    size_t len;
    switch (peek(ps)) {
    case '"': return parse_string(ps, NULL, 0, &len);
    case 't': return skip_literal(ps, "true");
    case 'f': return skip_literal(ps, "false");
    case 'n': return skip_literal(ps, "null");
    case '[':
    case '{': break;
    case -1: return fail(ps, "unexpected end of input (expected a value)");
    default:
        if (peek(ps) == '-' || is_digit(peek(ps))) return parse_number(ps, NULL);
        return fail(ps, "unexpected character (expected a value)");
    }
    char close = *ps->p == '[' ? ']' : '}';
    if (depth >= DEPTH_MAX) return fail(ps, "arrays and objects nested too deep");
    ps->p++;
    skip_ws(ps);
    if (peek(ps) == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (close == '}') {
            if (peek(ps) != '"') return fail(ps, "expected a string key");
            if (parse_string(ps, NULL, 0, &len) || expect(ps, ':', "expected ':' after key"))
                return -1;
            skip_ws(ps);
        }
        if (skip_value(ps, depth + 1)) return -1;
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->p++;
            continue;
        }
        if (peek(ps) == close) {
            ps->p++;
            return 0;
        }
        return fail(ps, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

static inline void add(stats *st, double x) {
    double t = st->sum + x;
    if (fabs(st->sum) >= fabs(x))
        st->comp += (st->sum - t) + x;
    else
        st->comp += (x - t) + st->sum;
    st->sum = t;
    if (st->count == 0 || x < st->min) st->min = x;
    if (st->count == 0 || x > st->max) st->max = x;
    st->count++;
}

/* "numbers": an array of numbers, folded into st as it is read. */
static int parse_numbers(parser *ps, stats *st) {
    if (expect(ps, '[', "\"numbers\" must be an array of numbers")) return -1;
    skip_ws(ps);
    if (peek(ps) == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        double x;
        skip_ws(ps);
        int c = peek(ps);
        if (c != '-' && !is_digit(c)) return fail(ps, "\"numbers\" must hold numbers only");
        if (parse_number(ps, &x)) return -1;
        add(st, x);
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->p++;
            continue;
        }
        if (peek(ps) == ']') {
            ps->p++;
            return 0;
        }
        return fail(ps, "expected ',' or ']' in \"numbers\"");
    }
}

enum op { OP_NONE, OP_SUM, OP_MEAN, OP_MAX, OP_MIN };
static const char *const op_names[] = {"", "sum", "mean", "max", "min"};

static int parse_op(parser *ps, enum op *op) {
    char name[NAME_MAX_LEN];
    size_t len;
    skip_ws(ps);
    const char *at = ps->p;
    if (peek(ps) != '"') return fail(ps, "\"op\" must be \"sum\", \"mean\", \"max\" or \"min\"");
    if (parse_string(ps, name, sizeof name, &len)) return -1;
    for (int i = OP_SUM; i <= OP_MIN; i++) {
        if (len == strlen(op_names[i]) && memcmp(name, op_names[i], len) == 0) {
            *op = (enum op)i;
            return 0;
        }
    }
    ps->p = at;
    return fail(ps, "\"op\" must be \"sum\", \"mean\", \"max\" or \"min\"");
}

/* The request: one object with "numbers" and "op", nothing after it. */
static int parse_request(parser *ps, stats *st, enum op *op) {
    int seen_numbers = 0;
    if (expect(ps, '{', "expected a JSON object")) return -1;
    skip_ws(ps);
    if (peek(ps) == '}') {
        ps->p++;
    } else {
        for (;;) {
            char key[NAME_MAX_LEN];
            size_t len;
            skip_ws(ps);
            const char *at = ps->p;
            if (peek(ps) != '"') return fail(ps, "expected a string key");
            if (parse_string(ps, key, sizeof key, &len) ||
                expect(ps, ':', "expected ':' after key"))
                return -1;
            if (len == 7 && memcmp(key, "numbers", 7) == 0) {
                if (seen_numbers++) {
                    ps->p = at;
                    return fail(ps, "duplicate key \"numbers\"");
                }
                if (parse_numbers(ps, st)) return -1;
            } else if (len == 2 && memcmp(key, "op", 2) == 0) {
                if (*op != OP_NONE) {
                    ps->p = at;
                    return fail(ps, "duplicate key \"op\"");
                }
                if (parse_op(ps, op)) return -1;
            } else {
                skip_ws(ps);
                if (skip_value(ps, 1)) return -1;
            }
            skip_ws(ps);
            if (peek(ps) == ',') {
                ps->p++;
                continue;
            }
            if (peek(ps) == '}') {
                ps->p++;
                break;
            }
            return fail(ps, "expected ',' or '}'");
        }
    }
    skip_ws(ps);
    if (ps->p != ps->end) return fail(ps, "unexpected data after the JSON object");
    if (!seen_numbers) return fail(ps, "missing key \"numbers\"");
    if (*op == OP_NONE) return fail(ps, "missing key \"op\"");
    return 0;
}

/*
 * The common case of format_double without printf: a = |v| in [1e-4, 1e15)
 * whose shortest form has at most 15 significant digits. For the fewest
 * decimals k such that some integer n gives n / 10^k == a (a correctly
 * rounded division, so the text n.10^-k reads back as exactly a), n holds
 * the shortest digits: with 15 or fewer there is only one candidate. The
 * output is what the %g loop below prints for such values. Returns 0 when
 * the value is outside this case.
 */
/* Writes the decimal digits of x at out (room for 20); returns how many. */
static int put_u64(char *out, unsigned long long x) {
    char rev[20];
    int n = 0;
    do {
        rev[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    for (int i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

static int fast_format(char *buf, size_t cap, double v) {
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15)) return 0;
    for (int k = 1; k <= 15; k++) {
        double scaled = a * pow10_exact[k];
        if (scaled >= 1e15) return 0;
        double n = floor(scaled + 0.5);
        if (n / pow10_exact[k] != a) continue;
        unsigned long long digits = (unsigned long long)n;
        unsigned long long scale = (unsigned long long)pow10_exact[k];
        char tmp[40];
        int len = 0;
        if (v < 0) tmp[len++] = '-';
        len += put_u64(tmp + len, digits / scale);
        tmp[len++] = '.';
        unsigned long long frac = digits % scale;
        for (int i = k - 1; i >= 0; i--) { /* k digits, leading zeros kept */
            tmp[len + i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        len += k;
        tmp[len] = 0;
        if ((size_t)len >= cap) return 0;
        memcpy(buf, tmp, (size_t)len + 1);
        return 1;
    }
    return 0;
}

/*
 * v (finite) as JSON: whole numbers below 1e17 in plain digits, others in
 * the shortest %g form that reads back as exactly v.
 */
static void format_double(char *buf, size_t cap, double v) {
    if (fabs(v) < 1e17 && v == trunc(v) && cap >= 22) {
        int len = 0;
        if (v < 0) buf[len++] = '-';
        len += put_u64(buf + len, (unsigned long long)fabs(v));
        buf[len] = 0;
        return;
    }
    if (fast_format(buf, cap, v)) return;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static int respond(int status, const char *json, size_t len) {
    wasp_status(status);
    wasp_set_header("Content-Type", "application/json");
    wasp_write(json, len);
    return 0;
}

/* Answers {"error":"MSG"} or, when at >= 0, {"error":"MSG at byte AT"}. */
static int respond_error(int status, const char *msg, long at) {
    char out[160];
    size_t n = 0;
    n += (size_t)snprintf(out, sizeof out, "{\"error\":\"");
    for (const char *s = msg; *s && n + 2 < sizeof out - 40; s++) {
        if (*s == '"' || *s == '\\') out[n++] = '\\';
        out[n++] = *s;
    }
    if (at >= 0) n += (size_t)snprintf(out + n, sizeof out - n, " at byte %ld", at);
    n += (size_t)snprintf(out + n, sizeof out - n, "\"}");
    return respond(status, out, n);
}

WASP_HANDLER int wasp_handle(void) {
    if (!wasp_method_is("POST")) {
        wasp_set_header("Allow", "POST");
        return respond_error(405, "method not allowed: POST a JSON object", -1);
    }
    if (wasp_body_len() > BODY_MAX)
        return respond_error(413, "request body larger than 65536 bytes", -1);
    size_t len = wasp_body_read_all(body, BODY_MAX);
    if (len == 0)
        return respond_error(400, "empty body: POST {\"numbers\":[...],\"op\":\"sum\"}", -1);
    body[len] = '\0';

    parser ps = {body, body, body + len, NULL, 0};
    stats st = {0, 0.0, 0.0, 0.0, 0.0};
    enum op op = OP_NONE;
    if (parse_request(&ps, &st, &op)) return respond_error(400, ps.err, (long)ps.err_at);

    if (st.count == 0 && op != OP_SUM)
        return respond_error(400, "\"numbers\" is empty: mean, max and min need one or more", -1);
    double result;
    switch (op) {
    case OP_SUM: result = st.sum + st.comp; break;
    case OP_MEAN: result = (st.sum + st.comp) / (double)st.count; break;
    case OP_MAX: result = st.max; break;
    default: result = st.min; break;
    }
    if (!isfinite(result)) return respond_error(400, "result too large for a double", -1);

    /* {"op":"sum","count":N,"result":X}, put together without printf */
    char num[32], out[96];
    format_double(num, sizeof num, result);
    size_t n = 0;
    const char *parts[3] = {"{\"op\":\"", op_names[op], "\",\"count\":"};
    for (int i = 0; i < 3; i++) {
        memcpy(out + n, parts[i], strlen(parts[i]));
        n += strlen(parts[i]);
    }
    n += (size_t)put_u64(out + n, st.count);
    memcpy(out + n, ",\"result\":", 10);
    n += 10;
    memcpy(out + n, num, strlen(num));
    n += strlen(num);
    out[n++] = '}';
    return respond(200, out, n);
}
