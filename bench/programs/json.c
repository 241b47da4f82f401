/*
 * json.c - parse a generated JSON text into a tree and write it back.
 *
 * A recursive-descent parser builds nodes in the arena (strings unescaped,
 * integers as int64), a serializer writes the tree back in the compact form
 * the generator used, and the two texts must match byte for byte. Branchy
 * byte-at-a-time code with many small calls and allocations.
 */
#include "rt.h"

#define TEXT_MAX (1u << 20)
#define RECORDS 2500
#define ROUNDS 200

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct node {
    int kind;
    uint32_t len;    /* J_STR: length of str */
    uint32_t keylen; /* member of a J_OBJ: length of key */
    int64_t num;
    const char *str;           /* J_STR: the unescaped string */
    const char *key;           /* member of a J_OBJ: its unescaped name */
    struct node *child, *next; /* J_ARR, J_OBJ: first child; siblings */
} node;

typedef struct buf {
    char *p;
    uint32_t len, cap;
} buf;

static char text[TEXT_MAX], out[TEXT_MAX];

/* ---- writing ----------------------------------------------------------- */

static void put(buf *b, const char *s, uint32_t n) {
    if (n > b->cap - b->len) rt_fail("json: buffer full");
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_s(buf *b, const char *s) {
    put(b, s, (uint32_t)strlen(s));
}

static void put_c(buf *b, char c) {
    if (b->len == b->cap) rt_fail("json: buffer full");
    b->p[b->len++] = c;
}

static void put_int(buf *b, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) put_c(b, '-');
    while (n)
        put_c(b, tmp[--n]);
}

static void put_string(buf *b, const char *s, uint32_t n) {
    put_c(b, '"');
    for (uint32_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\\') {
            put_c(b, '\\');
            put_c(b, c);
        } else if (c == '\n') {
            put(b, "\\n", 2);
        } else if (c == '\t') {
            put(b, "\\t", 2);
        } else {
            put_c(b, c);
        }
    }
    put_c(b, '"');
}

static void write_node(buf *b, const node *n) {
    switch (n->kind) {
    case J_NULL: put(b, "null", 4); break;
    case J_FALSE: put(b, "false", 5); break;
    case J_TRUE: put(b, "true", 4); break;
    case J_NUM: put_int(b, n->num); break;
    case J_STR: put_string(b, n->str, n->len); break;
    case J_ARR:
    case J_OBJ:
        put_c(b, n->kind == J_ARR ? '[' : '{');
        for (const node *c = n->child; c; c = c->next) {
            if (c != n->child) put_c(b, ',');
            if (n->kind == J_OBJ) {
                put_string(b, c->key, c->keylen);
                put_c(b, ':');
            }
            write_node(b, c);
        }
        put_c(b, n->kind == J_ARR ? ']' : '}');
        break;
    }
}

/* ---- generating --------------------------------------------------------- */

static void gen_word(buf *b, rt_rng *r) {
    static const char *const words[8] = {"alpha",          "beta",        "gamma \"quoted\"",
                                         "delta\\epsilon", "line\nbreak", "tab\there",
                                         "zeta",           "omega-point"};
    const char *w = words[rt_next(r) & 7];
    put_string(b, w, (uint32_t)strlen(w));
}

static void gen_record(buf *b, rt_rng *r, int id) {
    put_s(b, "{\"id\":");
    put_int(b, id);
    put_s(b, ",\"name\":");
    gen_word(b, r);
    put_s(b, ",\"score\":");
    put_int(b, (int64_t)(rt_next(r) % 2000001) - 1000000);
    put_s(b, ",\"active\":");
    put_s(b, rt_next(r) & 1 ? "true" : "false");
    put_s(b, ",\"tags\":[");
    int ntags = (int)(rt_next(r) % 5);
    for (int i = 0; i < ntags; i++) {
        if (i) put_c(b, ',');
        gen_word(b, r);
    }
    put_s(b, "],\"pos\":{\"x\":");
    put_int(b, (int64_t)(rt_next(r) % 1000));
    put_s(b, ",\"y\":[");
    for (int i = 0; i < 3; i++) {
        if (i) put_c(b, ',');
        put_int(b, (int64_t)(rt_next(r) % 100000) - 50000);
    }
    put_s(b, "]},\"note\":null}");
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct parser {
    const char *p, *end;
    int64_t nodes, numsum;
} parser;

static node *parse_value(parser *ps);

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static void expect(parser *ps, char c) {
    skip_ws(ps);
    if (ps->p == ps->end || *ps->p != c) rt_fail("json: unexpected character");
    ps->p++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    rt_fail("json: bad \\u escape");
    return 0;
}

/* Parses a string literal at ps->p; returns it unescaped, in the arena. */
static const char *parse_string(parser *ps, uint32_t *len) {
    expect(ps, '"');
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != '"')
        ps->p += *ps->p == '\\' ? 2 : 1;
    if (ps->p >= ps->end) rt_fail("json: unterminated string");
    char *s = rt_alloc((size_t)(ps->p - start)), *d = s; /* unescaping only shrinks */
    for (const char *q = start; q < ps->p; q++) {
        if (*q != '\\') {
            *d++ = *q;
            continue;
        }
        switch (*++q) {
        case 'n': *d++ = '\n'; break;
        case 't': *d++ = '\t'; break;
        case 'r': *d++ = '\r'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'u': {
            if (ps->p - q < 5) rt_fail("json: bad \\u escape");
            uint32_t cp = 0;
            for (int i = 1; i <= 4; i++)
                cp = cp << 4 | (uint32_t)hexval(q[i]);
            q += 4;
            if (cp < 0x80) {
                *d++ = (char)cp;
            } else if (cp < 0x800) {
                *d++ = (char)(0xC0 | cp >> 6);
                *d++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *d++ = (char)(0xE0 | cp >> 12);
                *d++ = (char)(0x80 | (cp >> 6 & 0x3F));
                *d++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: *d++ = *q; break; /* \" \\ \/ */
        }
    }
    ps->p++;
    *len = (uint32_t)(d - s);
    return s;
}

static node *new_node(parser *ps, int kind) {
    node *n = rt_alloc(sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    ps->nodes++;
    return n;
}

static node *parse_container(parser *ps, int kind) {
    node *n = new_node(ps, kind), **tail = &n->child;
    char close = kind == J_ARR ? ']' : '}';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return n;
    }
    for (;;) {
        const char *key = NULL;
        uint32_t keylen = 0;
        if (kind == J_OBJ) {
            key = parse_string(ps, &keylen);
            expect(ps, ':');
        }
        node *c = parse_value(ps);
        c->key = key;
        c->keylen = keylen;
        *tail = c;
        tail = &c->next;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        expect(ps, close);
        return n;
    }
}

static int match_word(parser *ps, const char *w, uint32_t n) {
    if ((uint32_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0) rt_fail("json: bad literal");
    ps->p += n;
    return 1;
}

static node *parse_value(parser *ps) {
    skip_ws(ps);
    if (ps->p == ps->end) rt_fail("json: unexpected end");
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, c == '{' ? J_OBJ : J_ARR);
    if (c == '"') {
        node *n = new_node(ps, J_STR);
        n->str = parse_string(ps, &n->len);
        return n;
    }
    if (c == 'n' && match_word(ps, "null", 4)) return new_node(ps, J_NULL);
    if (c == 't' && match_word(ps, "true", 4)) return new_node(ps, J_TRUE);
    if (c == 'f' && match_word(ps, "false", 5)) return new_node(ps, J_FALSE);
    int neg = c == '-';
    if (neg) ps->p++;
    if (ps->p == ps->end || *ps->p < '0' || *ps->p > '9') rt_fail("json: bad number");
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        v = v * 10 + (uint64_t)(*ps->p++ - '0');
    node *n = new_node(ps, J_NUM);
    n->num = neg ? (int64_t)(0 - v) : (int64_t)v;
    ps->numsum += n->num;
    return n;
}

/* ---- the benchmark ----------------------------------------------------- */

int main(void) {
    buf in = {text, 0, TEXT_MAX};
    rt_rng rng = {0x5EED};
    put_c(&in, '[');
    for (int i = 0; i < RECORDS; i++) {
        if (i) put_c(&in, ',');
        gen_record(&in, &rng, i);
    }
    put_c(&in, ']');

    int64_t nodes = 0, numsum = 0, mismatches = 0;
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int r = 0; r < ROUNDS; r++) {
        rt_reset();
        parser ps = {text, text + in.len, 0, 0};
        node *root = parse_value(&ps);
        skip_ws(&ps);
        if (ps.p != ps.end) rt_fail("json: trailing characters");
        buf o = {out, 0, TEXT_MAX};
        write_node(&o, root);
        mismatches += o.len != in.len || memcmp(o.p, in.p, in.len) != 0;
        nodes += ps.nodes;
        numsum += ps.numsum;
        /* let each round change the text: bump the first record's id */
        text[7] = (char)('0' + (r + 1) % 10);
        for (uint32_t i = 0; i < o.len; i += 61)
            hash = (hash ^ (uint8_t)o.p[i]) * 0x100000001b3ULL;
    }
    printf("text bytes: %" PRIu32 "\n", in.len);
    printf("nodes parsed: %" PRId64 "\n", nodes);
    printf("sum of numbers: %" PRId64 "\n", numsum);
    printf("round trips that differ: %" PRId64 "\n", mismatches);
    printf("output hash: %" PRId64 "\n", (int64_t)hash);
    return 0;
}
