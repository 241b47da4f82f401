/*
 * fuzz_framing.c - libFuzzer target for the reader of request framing
 * (srv_framing, src/server/framing.c), which sees every byte a client sends
 * before h2o does, and for the request-path check (srv_path_check).
 *
 * The input's first byte picks how the rest is cut into reads (as a socket
 * would deliver it); the rest is the connection's bytes. Findings, besides
 * crashes: a call that takes no byte or more bytes than it was given (the
 * server would spin or read past its buffer); an event trace that depends on
 * where the bytes were cut (the whole input at once must give the same heads,
 * body bytes and refusal as the cut one); a request number that goes down or
 * skips; body bytes of a Content-Length request other than its length; a
 * refusal without a reason, or not sticky.
 */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

typedef struct trace {
    uint64_t heads, data, last_req, bad_req;
    uint64_t sum_req, sum_len; /* a digest of the heads */
    const char *why;
} trace;

/* Feeds data in reads of `cut` bytes (0: at once) and records what came. */
static void run(const uint8_t *data, size_t size, size_t cut, trace *t) {
    srv_framing f;
    srv_framing_init(&f);
    memset(t, 0, sizeof *t);
    size_t at = 0;
    uint64_t cl_left = 0;
    bool in_cl = false;
    while (at < size && !t->bad_req) {
        size_t n = cut && size - at > cut ? cut : size - at;
        const uint8_t *p = data + at;
        at += n;
        while (n) {
            srv_frame_event ev;
            uint64_t got;
            size_t k = srv_framing_feed(&f, p, n, &ev, &got);
            if (k == 0 || k > n) abort();
            if (f.req < t->last_req || f.req > t->last_req + 1) abort();
            t->last_req = f.req;
            p += k;
            n -= k;
            if (ev == SRV_FRAME_HEAD) {
                if (in_cl && cl_left) abort(); /* a new head inside a body */
                t->heads++;
                t->sum_req += f.req;
                t->sum_len += f.chunked ? 1 : f.length * 3;
                in_cl = !f.chunked;
                cl_left = f.chunked ? 0 : f.length;
            } else if (ev == SRV_FRAME_DATA) {
                if (got == 0 || got > k) abort();
                t->data += got;
                if (in_cl) {
                    if (got > cl_left) abort();
                    cl_left -= got;
                }
            } else if (ev == SRV_FRAME_BAD) {
                if (!f.why || !*f.why) abort();
                t->bad_req = f.req;
                t->why = f.why;
                srv_frame_event again;
                uint64_t d;
                if (srv_framing_feed(&f, (const uint8_t *)"x", 1, &again, &d) != 1 ||
                    again != SRV_FRAME_BAD)
                    abort();
                break;
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t cut = data[0] % 17 + 1;
    data++;
    size--;
    trace whole, pieces;
    run(data, size, 0, &whole);
    run(data, size, cut, &pieces);
    if (whole.heads != pieces.heads || whole.data != pieces.data ||
        whole.sum_req != pieces.sum_req || whole.sum_len != pieces.sum_len ||
        whole.bad_req != pieces.bad_req || whole.why != pieces.why)
        abort();
    srv_path_check((const char *)data, size);
    return 0;
}
