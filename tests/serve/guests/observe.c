/*
 * observe.c - a wasp-ABI handler for tests/serve/observe_test.py (issue
 * 14: profiles, backtraces, request timelines, memory). The command is
 * the path's last segment:
 *
 *   hot?n=N     computes fib(N) with a recursive function, hot_fib: a
 *               profile of the app must put it on top; answers the result
 *   trap        trap_outer -> trap_middle -> trap_inner, which traps: the
 *               backtrace must name the three in this order, innermost first
 *   grow?p=N    grows linear memory by N pages (64 KiB each) and touches
 *               each; answers the new size in pages
 *   calls?u=URL kv set+get on store "kv", one SQL query on database "db",
 *               an HTTP GET of URL, a log line: the timeline must show those
 *               spans in this order
 *
 * The functions a test names are noinline, and do enough work that the
 * native tier's LLVM keeps them as functions of their own too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../sdk/c/wasp.h"

static char uri[2048];

/* The value of query parameter `name` as a number, or `def`. */
static long param(const char *name, long def) {
    const char *q = strchr(uri, '?');
    size_t n = strlen(name);
    while (q) {
        q++;
        if (!strncmp(q, name, n) && q[n] == '=') return strtol(q + n + 1, NULL, 10);
        q = strchr(q, '&');
    }
    return def;
}

/* The value of query parameter `name` (up to '&') into buf. */
static const char *param_str(const char *name, char *buf, size_t cap) {
    const char *q = strchr(uri, '?');
    size_t n = strlen(name);
    buf[0] = 0;
    while (q) {
        q++;
        if (!strncmp(q, name, n) && q[n] == '=') {
            const char *v = q + n + 1, *e = strchr(v, '&');
            size_t len = e ? (size_t)(e - v) : strlen(v);
            if (len >= cap) len = cap - 1;
            memcpy(buf, v, len);
            buf[len] = 0;
            break;
        }
        q = strchr(q, '&');
    }
    return buf;
}

__attribute__((noinline)) static uint32_t hot_fib(uint32_t n) {
    return n < 2 ? n : hot_fib(n - 1) + hot_fib(n - 2);
}

static volatile uint32_t sink;

/* Each adds to a checksum in a loop whose length the compiler cannot
 * know, so that none is small enough to inline. */
__attribute__((noinline)) static void trap_inner(uint32_t depth) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < depth * 7 + (uint32_t)strlen(uri); i++)
        sum = sum * 31 + (uint8_t)uri[i % sizeof uri];
    sink = sum;
    if (depth < 1000) __builtin_trap();
}

__attribute__((noinline)) static void trap_middle(uint32_t depth) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < depth * 5 + (uint32_t)strlen(uri); i++)
        sum = sum * 17 + (uint8_t)uri[i % sizeof uri];
    sink = sum;
    trap_inner(depth + 1);
    sink = sum + 1;
}

__attribute__((noinline)) static void trap_outer(uint32_t depth) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < depth * 3 + (uint32_t)strlen(uri); i++)
        sum = sum * 13 + (uint8_t)uri[i % sizeof uri];
    sink = sum;
    trap_middle(depth + 1);
    sink = sum + 2;
}

static int answer_num(long v) {
    char buf[32];
    int n = 0;
    char tmp[32];
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while (u /= 10);
    int k = 0;
    if (v < 0) buf[k++] = '-';
    while (n)
        buf[k++] = tmp[--n];
    buf[k++] = '\n';
    wasp_write(buf, (size_t)k);
    return 0;
}

static int calls(void) {
    char url[512];
    int32_t kv = wasp_kv_open("kv", 2);
    if (kv < 0 || wasp_kv_set(kv, "k", 1, "v", 1, 0) != 0) {
        wasp_status(500);
        return wasp_write_str("kv failed\n");
    }
    char v[8];
    wasp_kv_get(kv, "k", 1, v, sizeof v);
    int32_t db = wasp_sql_open("db", 2);
    wasp_sql_params p;
    char pbuf[64];
    wasp_sql_params_init(&p, pbuf, sizeof pbuf);
    if (db < 0 || wasp_sql_query(db, "SELECT 1", &p) < 0) {
        wasp_status(500);
        return wasp_write_str("sql failed\n");
    }
    int32_t st = wasp_http_get(param_str("u", url, sizeof url));
    wasp_log_str(1, "calls done");
    return answer_num(st);
}

WASP_HANDLER int wasp_handle(void) {
    int32_t n = wasp_uri(uri, sizeof uri - 1);
    uri[n < 0 ? 0 : (n < (int32_t)sizeof uri - 1 ? n : (int32_t)sizeof uri - 1)] = 0;
    char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    const char *cmd = uri + plen;
    while (cmd > uri && cmd[-1] != '/')
        cmd--;
    size_t clen = (size_t)(uri + plen - cmd);
    if (clen == 3 && !memcmp(cmd, "hot", 3)) return answer_num(hot_fib((uint32_t)param("n", 25)));
    if (clen == 4 && !memcmp(cmd, "trap", 4)) {
        trap_outer(0);
        return wasp_write_str("not trapped\n");
    }
    if (clen == 4 && !memcmp(cmd, "grow", 4)) {
        long pages = param("p", 1);
        long old = __builtin_wasm_memory_grow(0, (unsigned long)pages);
        if (old < 0) {
            wasp_status(507);
            return wasp_write_str("memory.grow failed\n");
        }
        volatile uint8_t *base = (uint8_t *)(old * 65536);
        for (long i = 0; i < pages * 65536; i += 4096)
            base[i] = 1;
        return answer_num(old + pages);
    }
    if (clen == 5 && !memcmp(cmd, "calls", 5)) return calls();
    wasp_status(404);
    return wasp_write_str("commands: hot trap grow calls\n");
}
