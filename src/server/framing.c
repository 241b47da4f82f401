/*
 * framing.c - what wasp checks in a request's raw bytes before h2o acts on
 * them: the framing of every request on a connection (srv_framing), and
 * the request target (srv_path_check). No h2o here: http.c feeds the bytes.
 *
 * Why a second reader of HTTP/1.1 framing: h2o 2.2.5 (and its
 * picohttpparser) is lenient where leniency lets a front proxy and wasp
 * disagree on where a request ends - request smuggling. It takes
 * Transfer-Encoding over Content-Length when both come, the first of two
 * Content-Length values, a chunk size "0x5" as 0 (the rest of the line as
 * an extension), bare LF line ends and obs-fold lines. RFC 9112 asks a
 * server to answer such framing with 400 and close. h2o's decoder cannot be
 * made strict from outside, and it decodes chunked bodies in place, so the
 * raw framing is gone once a request reaches wasp; the check must see the
 * bytes as they arrive. srv_framing does exactly that: a byte-exact state
 * machine over the connection's stream, stricter than h2o, which reports
 * each head (with its body length), the body bytes as they come (for the
 * server-wide body budget), and the first thing it refuses. On framing it
 * accepts, it cuts the stream into requests exactly where h2o does, so
 * request N here is request N there.
 *
 * It never looks at more than it must: methods, targets, header names and
 * values other than Content-Length and Transfer-Encoding are h2o's to
 * judge; malformed ones get h2o's own 400.
 */
#include <string.h>
#include <strings.h>

#include "server/internal.h"

enum {
    F_START = 0,   /* before a request: one empty line may come first */
    F_START_LF,    /* that empty line's LF */
    F_LINE,        /* in the request line or a header line */
    F_LINE_LF,     /* a head line's CR was seen */
    F_HEAD_END_LF, /* the CR of the blank line ending the head */
    F_BODY,        /* Content-Length bytes */
    F_CSIZE,       /* chunk size digits */
    F_CSIZE_WS,    /* whitespace after the size, before ';' */
    F_CEXT,        /* a chunk extension, up to CR */
    F_CSIZE_LF,
    F_CDATA,
    F_CDATA_CR,
    F_CDATA_LF,
    F_TRAILER,      /* start of a trailer line, or the final CR */
    F_TRAILER_NAME, /* a trailer field name, up to ':' */
    F_TRAILER_VAL,  /* its value, up to CR */
    F_TRAILER_LF,
    F_END_LF, /* the final LF of a chunked message */
    F_BAD,
};

void srv_framing_init(srv_framing *f) {
    memset(f, 0, sizeof *f);
}

static bool is_ctl(uint8_t c) {
    return (c < 32 && c != '\t') || c == 127;
}

static bool is_tchar(uint8_t c) {
    return c > 32 && c < 127 && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static srv_frame_event bad(srv_framing *f, const char *why) {
    f->state = F_BAD;
    f->why = why;
    return SRV_FRAME_BAD;
}

/* The request line's method and target, kept for the log of a request
 * refused before h2o saw it. */
static void end_request_line(srv_framing *f) {
    size_t n = f->line_len < sizeof f->line ? f->line_len : sizeof f->line;
    const char *sp = memchr(f->line, ' ', n);
    size_t ml = sp ? (size_t)(sp - f->line) : n;
    if (ml >= sizeof f->method) ml = sizeof f->method - 1;
    memcpy(f->method, f->line, ml);
    f->method[ml] = 0;
    f->target[0] = 0;
    if (sp) {
        const char *t = sp + 1, *end = f->line + n;
        const char *sp2 = memchr(t, ' ', (size_t)(end - t));
        size_t tl = (size_t)((sp2 ? sp2 : end) - t);
        if (tl >= sizeof f->target) tl = sizeof f->target - 1;
        memcpy(f->target, t, tl);
        f->target[tl] = 0;
    }
    /* "HTTP/1.0" ends the line: the tail holds it even when the target is long */
    f->http10 = f->tail_len >= 8 && !memcmp(f->tail + f->tail_len - 8, "HTTP/1.0", 8);
}

/* One header line of the head (its first bytes in f->line). */
static srv_frame_event end_header_line(srv_framing *f) {
    if (f->line_len > sizeof f->line) {
        /* only a long name or value, which neither framing header has */
        const char *colon = memchr(f->line, ':', sizeof f->line);
        size_t nl = colon ? (size_t)(colon - f->line) : sizeof f->line;
        if ((nl == 14 && !strncasecmp(f->line, "content-length", 14)) ||
            (nl == 17 && !strncasecmp(f->line, "transfer-encoding", 17)))
            return bad(f, "a framing header with an overlong value");
        return SRV_FRAME_MORE;
    }
    const char *colon = memchr(f->line, ':', f->line_len);
    if (!colon) return SRV_FRAME_MORE; /* h2o refuses it */
    size_t nl = (size_t)(colon - f->line);
    const char *v = colon + 1, *end = f->line + f->line_len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t vl = (size_t)(end - v);
    if (nl == 14 && !strncasecmp(f->line, "content-length", 14)) {
        uint64_t n = 0;
        if (vl == 0 || vl > 19) return bad(f, "a malformed Content-Length");
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9') return bad(f, "a malformed Content-Length");
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        f->ncl++;
        f->length = n;
    } else if (nl == 17 && !strncasecmp(f->line, "transfer-encoding", 17)) {
        if (vl != 7 || strncasecmp(v, "chunked", 7))
            return bad(f, "a Transfer-Encoding other than chunked");
        f->nte++;
    }
    return SRV_FRAME_MORE;
}

static srv_frame_event end_head(srv_framing *f) {
    if (f->nte && f->ncl) return bad(f, "both Transfer-Encoding and Content-Length");
    if (f->ncl > 1) return bad(f, "more than one Content-Length");
    if (f->nte > 1) return bad(f, "more than one Transfer-Encoding");
    if (f->nte && f->http10) return bad(f, "Transfer-Encoding in an HTTP/1.0 request");
    f->chunked = f->nte > 0;
    if (!f->chunked && f->ncl == 0) f->length = 0;
    f->body = 0;
    if (f->chunked) {
        f->state = F_CSIZE;
        f->left = 0;
        f->hex = 0;
    } else {
        f->left = f->length;
        f->state = f->left ? F_BODY : F_START;
    }
    return SRV_FRAME_HEAD;
}

srv_phase srv_framing_phase(const srv_framing *f) {
    switch (f->state) {
    case F_START:
    case F_BAD: /* refused: the connection is closing */ return SRV_PHASE_IDLE;
    case F_START_LF:
    case F_LINE:
    case F_LINE_LF:
    case F_HEAD_END_LF: return SRV_PHASE_HEAD;
    default: return SRV_PHASE_BODY;
    }
}

size_t srv_framing_feed(srv_framing *f, const uint8_t *p, size_t n, srv_frame_event *ev,
                        uint64_t *data) {
    *ev = SRV_FRAME_MORE;
    *data = 0;
    if (f->state == F_BAD) {
        *ev = SRV_FRAME_BAD;
        return n;
    }
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        switch (f->state) {
        case F_START:
            if (c == '\r' && !f->skipped) {
                f->skipped = true;
                f->state = F_START_LF;
                i++;
                continue;
            }
            /* a new request begins */
            f->req++;
            f->line_len = f->tail_len = 0;
            f->nlines = 0;
            f->ncl = f->nte = 0;
            f->length = 0;
            f->method[0] = f->target[0] = 0;
            f->state = F_LINE;
            continue; /* the byte is the line's first */
        case F_START_LF:
            if (c != '\n') {
                f->req++;
                *ev = bad(f, "a CR not followed by LF");
                return i + 1;
            }
            f->state = F_START;
            i++;
            continue;
        case F_LINE:
            if (c == '\r') {
                f->state = f->line_len == 0 ? F_HEAD_END_LF : F_LINE_LF;
                i++;
                continue;
            }
            if (c == '\n') {
                *ev = bad(f, "a line ended by LF alone");
                return i + 1;
            }
            if (is_ctl(c)) {
                *ev = bad(f, "a control character in the head");
                return i + 1;
            }
            if (f->line_len == 0 && f->nlines > 0 && (c == ' ' || c == '\t')) {
                *ev = bad(f, "an obs-fold line (a header line starting with whitespace)");
                return i + 1;
            }
            if (f->line_len < sizeof f->line) f->line[f->line_len] = (char)c;
            f->line_len++;
            if (f->nlines == 0) { /* the request line's end, for its version */
                if (f->tail_len == sizeof f->tail) {
                    memmove(f->tail, f->tail + 1, sizeof f->tail - 1);
                    f->tail_len--;
                }
                f->tail[f->tail_len++] = (char)c;
            }
            i++;
            continue;
        case F_LINE_LF:
            i++;
            if (c != '\n') {
                *ev = bad(f, "a CR not followed by LF");
                return i;
            }
            if (f->nlines++ == 0) {
                end_request_line(f);
            } else if (end_header_line(f) == SRV_FRAME_BAD) {
                *ev = SRV_FRAME_BAD;
                return i;
            }
            f->line_len = f->tail_len = 0;
            f->state = F_LINE;
            continue;
        case F_HEAD_END_LF:
            i++;
            if (c != '\n') {
                *ev = bad(f, "a CR not followed by LF");
                return i;
            }
            if (f->nlines == 0) { /* an empty request line: h2o refuses it */
                *ev = bad(f, "an empty request line");
                return i;
            }
            f->skipped = false;
            *ev = end_head(f);
            return i;
        case F_BODY: {
            size_t k = n - i < f->left ? n - i : (size_t)f->left;
            f->left -= k;
            f->body += k;
            i += k;
            if (f->left == 0) f->state = F_START;
            *ev = SRV_FRAME_DATA;
            *data = k;
            return i;
        }
        case F_CSIZE: {
            int h = hexval(c);
            if (h >= 0) {
                if (f->hex == 16) {
                    *ev = bad(f, "a chunk size of more than 16 digits");
                    return i + 1;
                }
                f->left = f->left * 16 + (uint64_t)h;
                f->hex++;
                i++;
                continue;
            }
            if (f->hex == 0) {
                *ev = bad(f, "a chunk size that is not hexadecimal");
                return i + 1;
            }
            i++;
            if (c == ';') {
                f->state = F_CEXT;
            } else if (c == ' ' || c == '\t') {
                f->state = F_CSIZE_WS;
            } else if (c == '\r') {
                f->state = F_CSIZE_LF;
            } else {
                *ev = bad(f, "a malformed chunk size");
                return i;
            }
            continue;
        }
        case F_CSIZE_WS:
            i++;
            if (c == ';') {
                f->state = F_CEXT;
            } else if (c != ' ' && c != '\t') {
                *ev = bad(f, "a malformed chunk size");
                return i;
            }
            continue;
        case F_CEXT:
            i++;
            if (c == '\r') {
                f->state = F_CSIZE_LF;
            } else if (c == '\n') {
                *ev = bad(f, "a chunk size line not ended by CR LF");
                return i;
            } else if (is_ctl(c)) {
                *ev = bad(f, "a control character in a chunk extension");
                return i;
            }
            continue;
        case F_CSIZE_LF:
            i++;
            if (c != '\n') {
                *ev = bad(f, "a chunk size line not ended by CR LF");
                return i;
            }
            f->hex = 0;
            f->state = f->left ? F_CDATA : F_TRAILER;
            continue;
        case F_CDATA: {
            size_t k = n - i < f->left ? n - i : (size_t)f->left;
            f->left -= k;
            f->body += k;
            i += k;
            if (f->left == 0) f->state = F_CDATA_CR;
            *ev = SRV_FRAME_DATA;
            *data = k;
            return i;
        }
        case F_CDATA_CR:
        case F_CDATA_LF:
            i++;
            if (c != (f->state == F_CDATA_CR ? '\r' : '\n')) {
                *ev = bad(f, "chunk data not followed by CR LF");
                return i;
            }
            f->state = f->state == F_CDATA_CR ? F_CDATA_LF : F_CSIZE;
            continue;
        case F_TRAILER:
            i++;
            if (c == '\r') {
                f->state = F_END_LF;
            } else if (c == '\n') {
                *ev = bad(f, "a trailer line not ended by CR LF");
                return i;
            } else if (is_tchar(c)) {
                f->state = F_TRAILER_NAME;
            } else {
                *ev = bad(f, c == ' ' || c == '\t' ? "an obs-fold line in the trailers"
                                                   : "a malformed trailer line");
                return i;
            }
            continue;
        case F_TRAILER_NAME:
            i++;
            if (c == ':') {
                f->state = F_TRAILER_VAL;
            } else if (!is_tchar(c)) {
                *ev = bad(f, "a malformed trailer line");
                return i;
            }
            continue;
        case F_TRAILER_VAL:
            i++;
            if (c == '\r') {
                f->state = F_TRAILER_LF;
            } else if (c == '\n') {
                *ev = bad(f, "a trailer line not ended by CR LF");
                return i;
            } else if (is_ctl(c)) {
                *ev = bad(f, "a control character in a trailer");
                return i;
            }
            continue;
        case F_TRAILER_LF:
        case F_END_LF:
            i++;
            if (c != '\n') {
                *ev = bad(f, "a trailer line not ended by CR LF");
                return i;
            }
            f->state = f->state == F_TRAILER_LF ? F_TRAILER : F_START;
            continue;
        }
    }
    return i;
}

/* ---- the request target ------------------------------------------------------ */

const char *srv_path_check(const char *target, size_t len) {
    const char *q = memchr(target, '?', len);
    if (q) len = (size_t)(q - target);
    /* Walk the segments, percent-decoding each: a dot segment or an
     * encoded '/' would make the decoded path (which routes) cut the
     * request into segments other than the raw one (which the handler
     * sees), and an encoded NUL would cut the CGI variables built from it. */
    size_t i = 0;
    while (i < len) {
        if (target[i] == '/') {
            i++;
            continue;
        }
        size_t dots = 0, chars = 0;
        for (; i < len && target[i] != '/'; chars++) {
            char c = target[i];
            if (c == '%' && i + 2 < len && hexval((uint8_t)target[i + 1]) >= 0 &&
                hexval((uint8_t)target[i + 2]) >= 0) {
                c = (char)(hexval((uint8_t)target[i + 1]) * 16 + hexval((uint8_t)target[i + 2]));
                i += 3;
                if (c == '/') return "an encoded '/' (%2F) in the path";
                if (c == 0) return "an encoded NUL (%00) in the path";
            } else {
                i++;
            }
            if (c == '.') dots++;
        }
        if (chars == dots && (dots == 1 || dots == 2)) return "a '.' or '..' segment in the path";
    }
    return NULL;
}
