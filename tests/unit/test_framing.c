/*
 * test_framing.c - the strict reader of request framing (srv_framing) and
 * the request-path check (srv_path_check) of src/server/framing.c, and the
 * WAGI output rules of srv_cgi_parse (issue 10: F06, F10, F11, F12).
 *
 * Every framing case is fed whole and one byte at a time: where the bytes
 * happen to be cut must not change what is found.
 */
#include <stdio.h>
#include <string.h>

#include "server/internal.h"
#include "unit.h"

/* Feeds s in pieces of `step` bytes (0: whole) and writes what was found
 * into out: "H<req>:<length or c> " per head, "D<bytes> " per run of body
 * data (merged), "B<req>:<why>" at a refusal (then stops). */
static void trace(const char *s, size_t step, char *out, size_t cap) {
    srv_framing f;
    srv_framing_init(&f);
    size_t n = strlen(s), at = 0, used = 0;
    uint64_t data_run = 0;
    out[0] = 0;
#define PUT(...) used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, __VA_ARGS__)
    while (at < n) {
        size_t piece = step && n - at > step ? step : n - at;
        const uint8_t *p = (const uint8_t *)s + at;
        at += piece;
        while (piece) {
            srv_frame_event ev;
            uint64_t data;
            size_t k = srv_framing_feed(&f, p, piece, &ev, &data);
            p += k;
            piece -= k;
            if ((ev == SRV_FRAME_HEAD || ev == SRV_FRAME_BAD) && data_run) {
                PUT("D%llu ", (unsigned long long)data_run);
                data_run = 0;
            }
            if (ev == SRV_FRAME_HEAD) {
                if (f.chunked)
                    PUT("H%llu:c ", (unsigned long long)f.req);
                else
                    PUT("H%llu:%llu ", (unsigned long long)f.req, (unsigned long long)f.length);
            } else if (ev == SRV_FRAME_DATA) {
                data_run += data;
            } else if (ev == SRV_FRAME_BAD) {
                PUT("B%llu:%s", (unsigned long long)f.req, f.why);
                return;
            }
        }
    }
    if (data_run) PUT("D%llu ", (unsigned long long)data_run);
#undef PUT
}

/* trace() whole and byte by byte must both give `want`. */
static bool frames(const char *s, const char *want) {
    char whole[512], bytes[512];
    trace(s, 0, whole, sizeof whole);
    trace(s, 1, bytes, sizeof bytes);
    bool ok = strcmp(whole, want) == 0 && strcmp(bytes, want) == 0;
    if (!ok)
        unit_fail(
            __FILE__, __LINE__,
            "framing of \"%.60s...\": expected \"%s\", got \"%s\" (whole), \"%s\" (byte by byte)",
            s, want, whole, bytes);
    return ok;
}

TEST(framing_reads_good_requests) {
    CHECK(frames("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "H1:0 "));
    CHECK(frames("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "H1:5 D5 "));
    CHECK(frames("POST /a HTTP/1.1\r\ncontent-LENGTH:   3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
                 "H1:3 D3 H2:0 "));
    CHECK(frames("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n6;ext=\"q\"\r\n world\r\nA ; x\r\n0123456789\r\n0\r\n\r\n"
                 "GET /b HTTP/1.1\r\n\r\n",
                 "H1:c D21 H2:0 "));
    /* trailers, then one CRLF before the next request (clients add it after a body) */
    CHECK(frames("POST /a HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                 "1\r\nx\r\n0\r\nX-T: v\r\nY: \r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                 "H1:c D1 H2:0 "));
    /* HTTP/1.0 with a Content-Length; Content-Length: 0 */
    CHECK(frames("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nokPOST / HTTP/1.1\r\nContent-Length: "
                 "0\r\n\r\n",
                 "H1:2 D2 H2:0 "));
    /* names that only look like the framing headers */
    CHECK(frames("GET / HTTP/1.1\r\nX-Content-Length: 5\r\nContent-Lengths: 7\r\n\r\n", "H1:0 "));
}

TEST(framing_refuses_ambiguous_framing) {
    /* F06: the audit's three */
    CHECK(frames(
        "POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "B1:both Transfer-Encoding and Content-Length"));
    CHECK(frames("POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 9\r\n\r\n",
                 "B1:more than one Content-Length"));
    CHECK(frames("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                 "B1:more than one Content-Length"));
    CHECK(frames("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
                 "H1:c B1:a malformed chunk size"));
    /* the rest of RFC 9112's faulty framing */
    CHECK(frames(
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "B1:more than one Transfer-Encoding"));
    CHECK(frames("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 "B1:a Transfer-Encoding other than chunked"));
    CHECK(frames("POST / HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n",
                 "B1:a Transfer-Encoding other than chunked"));
    CHECK(frames("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                 "B1:Transfer-Encoding in an HTTP/1.0 request"));
    CHECK(frames("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", "B1:a malformed Content-Length"));
    CHECK(
        frames("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", "B1:a malformed Content-Length"));
    CHECK(frames("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", "B1:a malformed Content-Length"));
    CHECK(frames("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                 "B1:a malformed Content-Length"));
    /* a bad second request after a good one is request 2 */
    CHECK(frames(
        "GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "H1:0 B2:more than one Content-Length"));
}

TEST(framing_refuses_loose_chunks_and_lines) {
    const char *te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    char s[256];
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"5\nhello\r\n0\r\n\r\n", "H1:c B1:a malformed chunk size"},
        {"5\r\nhelloX\r\n0\r\n\r\n", "H1:c D5 B1:chunk data not followed by CR LF"},
        {"5\r\nhello\n0\r\n\r\n", "H1:c D5 B1:chunk data not followed by CR LF"},
        {"5\r\nhello\r\r\n0\r\n\r\n", "H1:c D5 B1:chunk data not followed by CR LF"},
        {"\r\n", "H1:c B1:a chunk size that is not hexadecimal"},
        {"-5\r\n", "H1:c B1:a chunk size that is not hexadecimal"},
        {"5 x\r\n", "H1:c B1:a malformed chunk size"},
        {"5;a\x01\r\n", "H1:c B1:a control character in a chunk extension"},
        {"11111111111111111\r\n", "H1:c B1:a chunk size of more than 16 digits"},
        {"5\r\nhello\r\n0\r\n folded\r\n\r\n", "H1:c D5 B1:an obs-fold line in the trailers"},
        {"5\r\nhello\r\n0\r\nX-T: v\n\r\n", "H1:c D5 B1:a trailer line not ended by CR LF"},
        {"5\r\nhello\r\n0\r\nno colon\r\n\r\n", "H1:c D5 B1:a malformed trailer line"},
        {"5\r\nhello\r\n0\r\n\n", "H1:c D5 B1:a trailer line not ended by CR LF"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(s, sizeof s, "%s%s", te, cases[i].body);
        CHECK(frames(s, cases[i].want));
    }
    /* the head: bare LF, lone CR, control characters, obs-fold (F12) */
    CHECK(frames("GET / HTTP/1.1\nHost: x\r\n\r\n", "B1:a line ended by LF alone"));
    CHECK(frames("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "B1:a CR not followed by LF"));
    CHECK(frames("GET / HTTP/1.1\r\nX: a\x01"
                 "b\r\n\r\n",
                 "B1:a control character in the head"));
    CHECK(frames("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
                 "B1:an obs-fold line (a header line starting with whitespace)"));
    CHECK(frames("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
                 "B1:an obs-fold line (a header line starting with whitespace)"));
    CHECK(frames("\r\n\r\nGET / HTTP/1.1\r\n\r\n", "B1:an empty request line"));
}

TEST(framing_keeps_the_request_line_for_logs) {
    srv_framing f;
    srv_framing_init(&f);
    const char *s = "GET /a HTTP/1.1\r\n\r\nPUT /some/where?x=1 HTTP/1.1\r\nContent-Length: 1\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n";
    size_t n = strlen(s);
    srv_frame_event ev = SRV_FRAME_MORE;
    uint64_t data;
    while (n && ev != SRV_FRAME_BAD) {
        size_t k = srv_framing_feed(&f, (const uint8_t *)s, n, &ev, &data);
        s += k;
        n -= k;
    }
    CHECK_EQ_U64(ev, SRV_FRAME_BAD);
    CHECK_EQ_U64(f.req, 2);
    CHECK_STR(f.method, "PUT");
    CHECK_STR(f.target, "/some/where?x=1");
    /* after a refusal, everything is taken and refused */
    CHECK_EQ_U64(srv_framing_feed(&f, (const uint8_t *)"GET", 3, &ev, &data), 3);
    CHECK_EQ_U64(ev, SRV_FRAME_BAD);
}

/* Feeds all of s; the phase it leaves the connection in. */
static srv_phase phase_after(srv_framing *f, const char *s) {
    size_t n = strlen(s);
    while (n) {
        srv_frame_event ev;
        uint64_t data;
        size_t k = srv_framing_feed(f, (const uint8_t *)s, n, &ev, &data);
        s += k;
        n -= k;
    }
    return srv_framing_phase(f);
}

/* The phases the idle, header and body timeouts of http.c follow. */
TEST(framing_phase_follows_the_request) {
    srv_framing f;
    srv_framing_init(&f);
    CHECK_EQ_U64(srv_framing_phase(&f), SRV_PHASE_IDLE);
    CHECK_EQ_U64(phase_after(&f, "\r"), SRV_PHASE_HEAD); /* the one empty line allowed */
    CHECK_EQ_U64(phase_after(&f, "\nP"), SRV_PHASE_HEAD);
    CHECK_EQ_U64(phase_after(&f, "OST /x HTTP/1.1\r\nContent-Length: 3\r\n"), SRV_PHASE_HEAD);
    CHECK_EQ_U64(phase_after(&f, "\r"), SRV_PHASE_HEAD);
    CHECK_EQ_U64(phase_after(&f, "\n"), SRV_PHASE_BODY);
    CHECK_EQ_U64(phase_after(&f, "ab"), SRV_PHASE_BODY);
    CHECK_EQ_U64(phase_after(&f, "c"), SRV_PHASE_IDLE);
    CHECK_EQ_U64(phase_after(&f, "GET / HTTP/1.1\r\n\r\n"), SRV_PHASE_IDLE); /* no body */
    CHECK_EQ_U64(phase_after(&f, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na"),
                 SRV_PHASE_BODY);
    CHECK_EQ_U64(phase_after(&f, "\r\n0\r\n"), SRV_PHASE_BODY); /* the trailers' end to come */
    CHECK_EQ_U64(phase_after(&f, "\r\n"), SRV_PHASE_IDLE);
    CHECK_EQ_U64(phase_after(&f, "GET / HTTP/1.1\nHost: x\r\n\r\n"), SRV_PHASE_IDLE); /* refused */
    CHECK_EQ_U64(f.req, 4);
}

TEST(path_check_refuses_paths_that_decode_across_segments) {
    static const char *const bad[] = {
        "/w/..%2F..%2Fhello", "/w/%2fhello", "/a/../b",       "/a/./b", "/a/..", "/a/.",
        "/a/%2e%2e/b",        "/a/%2E./b",   "/a/.%2e",       "/..",    "/a%00", "/%2e?x",
        "/a/%2e%2E?q=/../",   "..",          "/a/..%2F?x=1#",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!srv_path_check(bad[i], strlen(bad[i])))
            unit_fail(__FILE__, __LINE__, "srv_path_check(\"%s\"): expected a refusal, got NULL",
                      bad[i]);
    static const char *const good[] = {
        "/",        "/hello",        "/a/b/c", "/a%20b",        "/a/...",    "/a/.b",
        "/a/b.",    "/a/..b",        "/a%2",   "/a%zz/b",       "/x?p=/../", "/x?%2F",
        "//double", "/caf%C3%A9/.x", "",       "/a%2e%2e%2e/b",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *why = srv_path_check(good[i], strlen(good[i]));
        if (why)
            unit_fail(__FILE__, __LINE__, "srv_path_check(\"%s\"): expected NULL, got \"%s\"",
                      good[i], why);
    }
}

static int cgi_status(const char *out, char *why, size_t whylen) {
    srv_response r;
    srv_response_init(&r);
    bool ok = srv_cgi_parse((const uint8_t *)out, strlen(out), &r, why, whylen);
    int st = ok ? r.status : -1;
    srv_response_free(&r);
    return st;
}

TEST(cgi_status_is_three_digits_and_final) {
    char why[200];
    CHECK_EQ_S64(cgi_status("Status: 404 Not Found\n\n", why, sizeof why), 404);
    CHECK_EQ_S64(cgi_status("Status: 201\n\n", why, sizeof why), 201);
    CHECK_EQ_S64(cgi_status("Status:\t599\tx\n\n", why, sizeof why), 599);
    /* F11: "2000" was read as 200 */
    CHECK_EQ_S64(cgi_status("Status: 2000\n\n", why, sizeof why), -1);
    CHECK(strstr(why, "bad Status") != NULL);
    CHECK_EQ_S64(cgi_status("Status: 200OK\n\n", why, sizeof why), -1);
    CHECK_EQ_S64(cgi_status("Status: 20\n\n", why, sizeof why), -1);
    CHECK_EQ_S64(cgi_status("Status: 600\n\n", why, sizeof why), -1);
    /* F05: 1xx is no final response */
    CHECK_EQ_S64(cgi_status("Status: 101 Switching Protocols\n\n", why, sizeof why), -1);
    CHECK(strstr(why, "1xx") != NULL);
    CHECK_EQ_S64(cgi_status("Status: 100\n\n", why, sizeof why), -1);
}

TEST(cgi_header_values_and_owned_headers) {
    char why[200];
    /* F10: control characters other than HTAB are refused */
    CHECK_EQ_S64(cgi_status("X-A: a\x01"
                            "b\n\n",
                            why, sizeof why),
                 -1);
    CHECK_EQ_S64(cgi_status("X-A: a\x7f"
                            "b\n\n",
                            why, sizeof why),
                 -1);
    CHECK_EQ_S64(cgi_status("X-A: a\x1b[31m\n\n", why, sizeof why), -1);
    CHECK_EQ_S64(cgi_status("X-A: a\tb c\xc3\xa9\n\n", why, sizeof why), 200);
    /* Date and Server are the server's: dropped */
    srv_response r;
    srv_response_init(&r);
    const char *out = "Date: Mon, 01 Jan 2001 00:00:00 GMT\nServer: x\nsErVeR: y\nX-Ok: 1\n\nbody";
    REQUIRE(srv_cgi_parse((const uint8_t *)out, strlen(out), &r, why, sizeof why));
    CHECK_EQ_U64(r.nhdrs, 1);
    CHECK_MEM(r.hbuf + r.hoff[0][0], "X-Ok", 4);
    CHECK_EQ_U64(r.body_len, 4);
    srv_response_free(&r);
}
