/*
 * stream.c - a wasp-ABI reactor in C that writes a large body in pieces,
 * for the streamed-response tests (tests/serve/concurrency_test.py). Query
 * parameters (decimal):
 *
 *   kib=N      the body: N KiB, in writes of `piece` bytes (default 65536);
 *              byte i of the body is (i * 7 + i / 4096) % 251, so a reader
 *              can check every byte without keeping the body
 *   piece=N    the size of each resp_body write
 *   trap=N     traps (unreachable) after N KiB have been written
 *   status=N   the status (default 201)
 *
 * The status and a header X-Stream: yes are set before the first write;
 * once the first part is out, resp_status and resp_header must fail (the
 * status has gone to the client), and the guest traps if they do not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WASP_IMPORT(name) __attribute__((import_module("wasp"), import_name(name)))
WASP_IMPORT("req_uri") int32_t req_uri(char *buf, int32_t cap);
WASP_IMPORT("resp_status") int32_t resp_status(int32_t code);
WASP_IMPORT("resp_header")
int32_t resp_header(const char *n, int32_t nl, const char *v, int32_t vl);
WASP_IMPORT("resp_body") int32_t resp_body(const void *buf, int32_t len);

static uint32_t param(const char *uri, const char *name, uint32_t dflt) {
    const char *q = strchr(uri, '?');
    size_t n = strlen(name);
    while (q) {
        q++;
        if (!strncmp(q, name, n) && q[n] == '=') return (uint32_t)strtoul(q + n + 1, NULL, 10);
        q = strchr(q, '&');
    }
    return dflt;
}

static uint8_t buf[1 << 20];

__attribute__((export_name("wasp_handle"))) int32_t wasp_handle(void) {
    char uri[512];
    int32_t ul = req_uri(uri, sizeof uri - 1);
    uri[ul > 0 && ul < (int32_t)sizeof uri ? ul : 0] = 0;
    uint64_t total = (uint64_t)param(uri, "kib", 1024) * 1024;
    uint32_t piece = param(uri, "piece", 65536);
    uint64_t trap_at = (uint64_t)param(uri, "trap", UINT32_MAX) * 1024;
    if (piece == 0 || piece > sizeof buf) piece = 65536;
    resp_status((int32_t)param(uri, "status", 201));
    resp_header("X-Stream", 8, "yes", 3);
    uint64_t i = 0;
    while (i < total) {
        if (i >= trap_at) __builtin_trap();
        uint32_t n = total - i < piece ? (uint32_t)(total - i) : piece;
        for (uint32_t k = 0; k < n; k++)
            buf[k] = (uint8_t)(((i + k) * 7 + (i + k) / 4096) % 251);
        if (resp_body(buf, (int32_t)n) != 0) __builtin_trap();
        i += n;
        /* past the first piece the head is sent: both must be refused */
        if (i > 65536 && (resp_status(500) != -1 || resp_header("X-Late", 6, "1", 1) != -1))
            __builtin_trap();
    }
    return 0;
}
