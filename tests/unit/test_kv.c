/*
 * test_kv.c - the key-value stores of host.h, one suite of behaviour checks
 * (kv_suite) run against both backends so that they cannot drift apart:
 * set/get/overwrite, binary keys and values, empty values, missing keys,
 * delete, exists, TTLs, incr (absent, existing, not an integer, overflow),
 * list (sorted, limited, empty prefix, prefixes of 0xff bytes and of glob
 * characters), and the size limits with their messages.
 *
 * SQLite runs in a mkdtemp directory: also two handles on one file (and
 * threads incrementing one key through their own handles), reopening,
 * the sweep of expired rows, files that cannot be opened. Redis runs
 * against a real redis-server this file starts on a free loopback port;
 * after the suite it checks urls the server refuses and a server that
 * stalls (CLIENT PAUSE) past the timeout, then kills the server, checks
 * that calls fail with a clear message, starts it again on the same port
 * and checks that the same handle works again. With `wasp serve`'s
 * scheduler, the GETs of 50 requests waiting at once reach Redis in one
 * write (a read on its side). When redis-server is
 * missing that test fails, saying so: it never skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "host/internal.h"
#include "server/internal.h"
#include "unit.h"
#include "util/util.h"

static char err[1024];

static const char *rc_name(int rc) {
    return rc == HOST_OK          ? "HOST_OK"
           : rc == HOST_NOT_FOUND ? "HOST_NOT_FOUND"
           : rc == HOST_ERROR     ? "HOST_ERROR"
                                  : "an unknown code";
}

/* A call must return `want`; on an unexpected error its message is shown. */
#define KV(call, want) kv_check(__FILE__, __LINE__, #call, (call), (want))
static bool kv_check(const char *file, int line, const char *what, int got, int want) {
    if (got == want) return true;
    return unit_fail(file, line, "%s: expected %s, got %s%s%s", what, rc_name(want), rc_name(got),
                     got == HOST_ERROR ? ": " : "", got == HOST_ERROR ? err : "");
}

/* A call must fail with a message that starts "store NAME: " and holds
 * `phrase`. */
#define KV_ERR(name, call, phrase) kv_check_err(__FILE__, __LINE__, #call, name, (call), (phrase))
static bool kv_check_err(const char *file, int line, const char *what, const char *name, int got,
                         const char *phrase) {
    if (got != HOST_ERROR)
        return unit_fail(file, line, "%s: expected an error saying \"%s\", got %s", what, phrase,
                         rc_name(got));
    char start[128];
    snprintf(start, sizeof start, "store %s: ", name);
    if (strncmp(err, start, strlen(start)) != 0)
        return unit_fail(file, line, "%s: expected the message to start with \"%s\", got \"%s\"",
                         what, start, err);
    if (!strstr(err, phrase))
        return unit_fail(file, line, "%s: expected a message saying \"%s\", got \"%s\"", what,
                         phrase, err);
    return true;
}

static int set_s(host_kv *kv, const char *k, const char *v, uint64_t ttl_ms) {
    return host_kv_set(kv, k, strlen(k), v, strlen(v), ttl_ms, err, sizeof err);
}

static int del_s(host_kv *kv, const char *k, bool *existed) {
    return host_kv_delete(kv, k, strlen(k), existed, err, sizeof err);
}

static int incr_s(host_kv *kv, const char *k, int64_t delta, int64_t *result) {
    return host_kv_incr(kv, k, strlen(k), delta, result, err, sizeof err);
}

/* get(key) must give exactly `want` (NULL: HOST_NOT_FOUND). */
#define CHECK_VALUE(kv, key, want) check_value(__FILE__, __LINE__, kv, key, want)
static void check_value(const char *file, int line, host_kv *kv, const char *key,
                        const char *want) {
    /* a stale result must not survive: the buffer starts non-empty */
    host_buf b = {0};
    host_kv_buf_append(&b, "stale", 5);
    int rc = host_kv_get(kv, key, strlen(key), &b, err, sizeof err);
    if (kv_check(file, line, key, rc, want ? HOST_OK : HOST_NOT_FOUND)) {
        size_t wlen = want ? strlen(want) : 0;
        if (b.len != wlen)
            unit_fail(file, line, "get(\"%s\"): expected %zu bytes \"%s\", got %zu bytes \"%.*s\"",
                      key, wlen, want ? want : "", b.len, (int)b.len, (const char *)b.data);
        else if (wlen)
            unit_check_mem(file, line, key, b.data, want, wlen);
    }
    free(b.data);
}

static bool exists_s(host_kv *kv, const char *key) {
    bool e = true;
    KV(host_kv_exists(kv, key, strlen(key), &e, err, sizeof err), HOST_OK);
    return e;
}

/* A list result as "k1|k2|...": printable bytes as they are, others as
 * \xHH; "<malformed>" when the entries do not add up to the length. */
static const char *render(const host_buf *b, char *out, size_t n) {
    size_t o = 0, i = 0;
    out[0] = '\0';
    while (i < b->len) {
        if (b->len - i < 4) return "<malformed>";
        uint32_t len = (uint32_t)b->data[i] | (uint32_t)b->data[i + 1] << 8 |
                       (uint32_t)b->data[i + 2] << 16 | (uint32_t)b->data[i + 3] << 24;
        i += 4;
        if (b->len - i < len) return "<malformed>";
        if (o && o + 1 < n) out[o++] = '|';
        for (uint32_t j = 0; j < len && o + 5 < n; j++) {
            uint8_t c = b->data[i + j];
            if (c >= 0x21 && c < 0x7f && c != '|')
                out[o++] = (char)c;
            else
                o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
        }
        out[o] = '\0';
        i += len;
    }
    return out;
}

/* list(prefix, limit) must give exactly `want` (rendered as above). */
#define CHECK_LIST(kv, prefix, plen, limit, want)                                                  \
    check_list(__FILE__, __LINE__, kv, prefix, plen, limit, want)
static void check_list(const char *file, int line, host_kv *kv, const void *prefix, size_t plen,
                       uint32_t limit, const char *want) {
    host_buf b = {0};
    int rc = host_kv_list(kv, prefix, plen, limit, &b, err, sizeof err);
    char got[2048];
    if (kv_check(file, line, "host_kv_list", rc, HOST_OK))
        unit_check_str(file, line, "list", render(&b, got, sizeof got), want);
    free(b.data);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Deletes every key, so each part of the suite starts from nothing. */
static void empty_store(host_kv *kv) {
    host_buf b = {0};
    if (!KV(host_kv_list(kv, "", 0, 0, &b, err, sizeof err), HOST_OK)) return;
    for (size_t i = 0; i + 4 <= b.len;) {
        uint32_t len = (uint32_t)b.data[i] | (uint32_t)b.data[i + 1] << 8 |
                       (uint32_t)b.data[i + 2] << 16 | (uint32_t)b.data[i + 3] << 24;
        KV(host_kv_delete(kv, b.data + i + 4, len, NULL, err, sizeof err), HOST_OK);
        i += 4 + len;
    }
    free(b.data);
}

/* ---- the suite, for any backend -------------------------------------------- */

static void suite_set_get(host_kv *kv) {
    KV(set_s(kv, "a", "1", 0), HOST_OK);
    CHECK_VALUE(kv, "a", "1");
    KV(set_s(kv, "a", "22", 0), HOST_OK);
    CHECK_VALUE(kv, "a", "22");
    CHECK_VALUE(kv, "missing", NULL);
    CHECK(!exists_s(kv, "missing"));
    CHECK(exists_s(kv, "a"));

    /* empty value: present, zero bytes */
    KV(set_s(kv, "empty", "", 0), HOST_OK);
    CHECK_VALUE(kv, "empty", "");
    CHECK(exists_s(kv, "empty"));

    /* keys and values are bytes: NULs, 0xff, every byte value */
    const uint8_t key[] = {0, 'k', 0xff, 0, 0x80};
    uint8_t val[256];
    for (int i = 0; i < 256; i++)
        val[i] = (uint8_t)(255 - i);
    KV(host_kv_set(kv, key, sizeof key, val, sizeof val, 0, err, sizeof err), HOST_OK);
    host_buf b = {0};
    if (KV(host_kv_get(kv, key, sizeof key, &b, err, sizeof err), HOST_OK)) {
        CHECK_EQ_U64(b.len, sizeof val);
        if (b.len == sizeof val) CHECK_MEM(b.data, val, sizeof val);
    }
    /* a key that differs only after a NUL is another key */
    const uint8_t other[] = {0, 'k', 0xff, 0, 0x81};
    KV(host_kv_get(kv, other, sizeof other, &b, err, sizeof err), HOST_NOT_FOUND);
    CHECK_EQ_U64(b.len, 0);
    free(b.data);

    /* the largest key and the largest value */
    char *big = malloc(HOST_KV_MAX_VALUE);
    if (!big) return;
    memset(big, 'k', HOST_KV_MAX_KEY);
    KV(host_kv_set(kv, big, HOST_KV_MAX_KEY, "v", 1, 0, err, sizeof err), HOST_OK);
    bool e = false;
    KV(host_kv_exists(kv, big, HOST_KV_MAX_KEY, &e, err, sizeof err), HOST_OK);
    CHECK(e);
    for (size_t i = 0; i < HOST_KV_MAX_VALUE; i++)
        big[i] = (char)(i * 7);
    KV(host_kv_set(kv, "bigv", 4, big, HOST_KV_MAX_VALUE, 0, err, sizeof err), HOST_OK);
    host_buf v = {0};
    if (KV(host_kv_get(kv, "bigv", 4, &v, err, sizeof err), HOST_OK)) {
        CHECK_EQ_U64(v.len, HOST_KV_MAX_VALUE);
        if (v.len == HOST_KV_MAX_VALUE) CHECK(memcmp(v.data, big, HOST_KV_MAX_VALUE) == 0);
    }
    free(v.data);
    free(big);
}

static void suite_delete(host_kv *kv) {
    KV(set_s(kv, "d", "x", 0), HOST_OK);
    bool existed = false;
    KV(del_s(kv, "d", &existed), HOST_OK);
    CHECK(existed);
    CHECK_VALUE(kv, "d", NULL);
    CHECK(!exists_s(kv, "d"));
    existed = true;
    KV(del_s(kv, "d", &existed), HOST_OK);
    CHECK(!existed);
    /* `existed` is optional */
    KV(del_s(kv, "never", NULL), HOST_OK);
}

static void suite_ttl(host_kv *kv) {
    KV(set_s(kv, "short", "s", 50), HOST_OK);
    KV(set_s(kv, "long", "l", 60000), HOST_OK);
    KV(set_s(kv, "short-del", "s", 50), HOST_OK);
    KV(set_s(kv, "short-list", "s", 50), HOST_OK);
    /* a set without a TTL drops the earlier one */
    KV(set_s(kv, "cleared", "c", 50), HOST_OK);
    KV(set_s(kv, "cleared", "c", 0), HOST_OK);
    /* incr keeps the TTL, as Redis's INCRBY does */
    KV(set_s(kv, "counter", "5", 50), HOST_OK);
    int64_t n = 0;
    KV(incr_s(kv, "counter", 1, &n), HOST_OK);
    CHECK_EQ_S64(n, 6);
    CHECK_VALUE(kv, "short", "s");
    CHECK(exists_s(kv, "short"));

    sleep_ms(120);
    CHECK_VALUE(kv, "short", NULL);
    CHECK(!exists_s(kv, "short"));
    bool existed = true;
    KV(del_s(kv, "short-del", &existed), HOST_OK);
    CHECK(!existed);
    CHECK_LIST(kv, "short", 5, 0, "");
    CHECK_VALUE(kv, "long", "l");
    CHECK_VALUE(kv, "cleared", "c");
    CHECK_VALUE(kv, "counter", NULL);
    /* an expired counter counts from 0 again, with no TTL */
    KV(incr_s(kv, "counter", 2, &n), HOST_OK);
    CHECK_EQ_S64(n, 2);
}

static void suite_incr(host_kv *kv, const char *name) {
    int64_t n = 99;
    KV(incr_s(kv, "n", 5, &n), HOST_OK);
    CHECK_EQ_S64(n, 5);
    KV(incr_s(kv, "n", -7, &n), HOST_OK);
    CHECK_EQ_S64(n, -2);
    CHECK_VALUE(kv, "n", "-2");
    KV(set_s(kv, "m", "40", 0), HOST_OK);
    KV(incr_s(kv, "m", 2, &n), HOST_OK);
    CHECK_EQ_S64(n, 42);
    KV(incr_s(kv, "m", 0, NULL), HOST_OK);
    CHECK_VALUE(kv, "m", "42");

    /* what Redis does not take as an integer, neither backend does */
    static const char *const not_integers[] = {
        "12x", "", " 1", "1 ", "+1", "01", "-0", "-", "1.5", "9223372036854775808",
    };
    for (size_t i = 0; i < sizeof not_integers / sizeof *not_integers; i++) {
        KV(set_s(kv, "word", not_integers[i], 0), HOST_OK);
        if (!KV_ERR(name, incr_s(kv, "word", 1, &n), "value of key \"word\" is not an integer"))
            fprintf(stderr, "    (the value was \"%s\")\n", not_integers[i]);
        CHECK_VALUE(kv, "word", not_integers[i]);
    }
    /* the key is quoted safely in the message */
    KV(set_s(kv, "\x01q\"\\", "x", 0), HOST_OK);
    KV_ERR(name, incr_s(kv, "\x01q\"\\", 1, &n),
           "value of key \"\\x01q\\\"\\\\\" is not an integer");

    KV(set_s(kv, "max", "9223372036854775807", 0), HOST_OK);
    KV_ERR(name, incr_s(kv, "max", 1, &n), "would overflow");
    CHECK_VALUE(kv, "max", "9223372036854775807");
    KV(set_s(kv, "min", "-9223372036854775808", 0), HOST_OK);
    KV_ERR(name, incr_s(kv, "min", -1, &n), "would overflow");
    KV(incr_s(kv, "min", INT64_MAX, &n), HOST_OK);
    CHECK_EQ_S64(n, -1);
    KV(incr_s(kv, "fresh", INT64_MIN, &n), HOST_OK);
    CHECK_EQ_S64(n, INT64_MIN);
    CHECK_VALUE(kv, "fresh", "-9223372036854775808");
}

static void suite_list(host_kv *kv) {
    empty_store(kv);
    CHECK_LIST(kv, "", 0, 0, "");
    static const char *const keys[] = {"list/c", "list/a", "list/b", "list/ab", "lisu",
                                       "list",   "a*[",    "a*[x",   "a*",      "ab",
                                       "a?",     "a\\",    "a[",     "a]"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        KV(set_s(kv, keys[i], "v", 0), HOST_OK);
    CHECK_LIST(kv, "list/", 5, 0, "list/a|list/ab|list/b|list/c");
    CHECK_LIST(kv, "list/", 5, 2, "list/a|list/ab");
    CHECK_LIST(kv, "list", 4, 0, "list|list/a|list/ab|list/b|list/c");
    CHECK_LIST(kv, "nothing", 7, 0, "");
    /* glob characters in a prefix are plain bytes */
    CHECK_LIST(kv, "a*[", 3, 0, "a*[|a*[x");
    CHECK_LIST(kv, "a*", 2, 0, "a*|a*[|a*[x");
    CHECK_LIST(kv, "a?", 2, 0, "a?");
    CHECK_LIST(kv, "a\\", 2, 0, "a\\");
    CHECK_LIST(kv, "a[", 2, 0, "a[");
    CHECK_LIST(kv, "a]", 2, 0, "a]");
    /* the empty prefix lists everything, in byte order */
    CHECK_LIST(kv, "", 0, 0, "a*|a*[|a*[x|a?|a[|a\\|a]|ab|list|list/a|list/ab|list/b|list/c|lisu");
    CHECK_LIST(kv, "", 0, 3, "a*|a*[|a*[x");

    /* prefixes ending in 0xff have no simple successor */
    empty_store(kv);
    static const char *const high[] = {"\xff", "\xff\xff", "\xff\x01", "\xfe\xff", "\xfe", "z"};
    for (size_t i = 0; i < sizeof high / sizeof *high; i++)
        KV(set_s(kv, high[i], "v", 0), HOST_OK);
    CHECK_LIST(kv, "\xff", 1, 0, "\\xff|\\xff\\x01|\\xff\\xff");
    CHECK_LIST(kv, "\xff\xff", 2, 0, "\\xff\\xff");
    CHECK_LIST(kv, "\xfe\xff", 2, 0, "\\xfe\\xff");
    CHECK_LIST(kv, "\xfe", 1, 0, "\\xfe|\\xfe\\xff");
    CHECK_LIST(kv, "", 0, 0, "z|\\xfe|\\xfe\\xff|\\xff|\\xff\\x01|\\xff\\xff");
    /* NUL bytes in a prefix */
    KV(host_kv_set(kv, "p\0a", 3, "v", 1, 0, err, sizeof err), HOST_OK);
    KV(host_kv_set(kv, "p\0", 2, "v", 1, 0, err, sizeof err), HOST_OK);
    KV(host_kv_set(kv, "p", 1, "v", 1, 0, err, sizeof err), HOST_OK);
    CHECK_LIST(kv, "p\0", 2, 0, "p\\x00|p\\x00a");
}

static void suite_limits(host_kv *kv, const char *name) {
    host_buf b = {0};
    char *big = calloc(1, HOST_KV_MAX_VALUE + 1);
    if (!big) return;
    KV_ERR(name, host_kv_get(kv, big, HOST_KV_MAX_KEY + 1, &b, err, sizeof err),
           "of 4097 bytes is too long (a key is 1 to 4096 bytes)");
    KV_ERR(name, host_kv_set(kv, big, HOST_KV_MAX_KEY + 1, "v", 1, 0, err, sizeof err), "too long");
    KV_ERR(name, host_kv_get(kv, "", 0, &b, err, sizeof err), "empty key");
    KV_ERR(name, host_kv_incr(kv, "", 0, 1, NULL, err, sizeof err), "empty key");
    KV_ERR(name, host_kv_delete(kv, "", 0, NULL, err, sizeof err), "empty key");
    KV_ERR(name, host_kv_set(kv, "k", 1, big, HOST_KV_MAX_VALUE + 1, 0, err, sizeof err),
           "value of 8388609 bytes for key \"k\" is too large (at most 8388608 bytes");
    CHECK_VALUE(kv, "k", NULL);
    KV_ERR(name, host_kv_list(kv, "", 0, HOST_KV_MAX_LIST + 1, &b, err, sizeof err),
           "list limit 10001 is too large");
    KV_ERR(name, host_kv_list(kv, big, HOST_KV_MAX_KEY + 1, 0, &b, err, sizeof err),
           "prefix of 4097 bytes");
    KV_ERR(name, host_kv_set(kv, "k", 1, "v", 1, UINT64_MAX, err, sizeof err), "TTL");
    /* a long key is cut in the message */
    memset(big, 'x', HOST_KV_MAX_KEY + 1);
    KV_ERR(name, host_kv_exists(kv, big, HOST_KV_MAX_KEY + 1, &(bool){0}, err, sizeof err),
           "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... of 4097");
    free(big);
    free(b.data);
}

/* Every behaviour check, on a store that starts empty. */
static void kv_suite(const host_kv_config *cfg) {
    host_kv *kv = host_kv_open(cfg, err, sizeof err);
    if (!kv) {
        unit_fail(__FILE__, __LINE__, "opening store %s: %s", cfg->name, err);
        return;
    }
    suite_set_get(kv);
    suite_delete(kv);
    suite_ttl(kv);
    suite_incr(kv, cfg->name);
    suite_list(kv);
    suite_limits(kv, cfg->name);
    host_kv_close(kv);
}

/* ---- helpers checked directly ---------------------------------------------- */

TEST(kv_parse_integer_like_redis) {
    int64_t v = 7;
    CHECK(host_kv_parse_i64("0", 1, &v) && v == 0);
    CHECK(host_kv_parse_i64("-1", 2, &v) && v == -1);
    CHECK(host_kv_parse_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
    CHECK(host_kv_parse_i64("-9223372036854775808", 20, &v) && v == INT64_MIN);
    CHECK(!host_kv_parse_i64("9223372036854775808", 19, &v));
    CHECK(!host_kv_parse_i64("-9223372036854775809", 20, &v));
    CHECK(!host_kv_parse_i64("99999999999999999999", 20, &v));
    CHECK(!host_kv_parse_i64("", 0, &v));
    CHECK(!host_kv_parse_i64("1\0", 2, &v));
    CHECK(!host_kv_parse_i64("00", 2, &v));
}

TEST(kv_quote_keys_for_messages) {
    char q[HOST_KV_QUOTE_MAX];
    CHECK_STR(host_kv_quote("abc", 3, q), "\"abc\"");
    CHECK_STR(host_kv_quote("a\0\"\\\n\xff", 6, q), "\"a\\x00\\\"\\\\\\x0a\\xff\"");
    char worst[HOST_KV_MAX_KEY];
    memset(worst, 0xff, sizeof worst);
    host_kv_quote(worst, sizeof worst, q);
    CHECK_EQ_U64(strlen(q), 2 + 64 * 4 + 3);
    CHECK(strcmp(q + strlen(q) - 4, "\"...") == 0);
}

/* ---- SQLite ---------------------------------------------------------------- */

typedef struct tmp_dir {
    char path[64];
} tmp_dir;

static bool make_dir(tmp_dir *d) {
    snprintf(d->path, sizeof d->path, "/tmp/wasp_kv_XXXXXX");
    if (mkdtemp(d->path)) return true;
    unit_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    return false;
}

/* Removes the directory and the files a test left in it (no subdirectories). */
static void remove_dir(tmp_dir *d) {
    static const char *const files[] = {"kv.db",        "kv.db-wal",    "kv.db-shm", "other.db",
                                        "other.db-wal", "other.db-shm", "junk.db"};
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", d->path, files[i]);
        unlink(p);
    }
    if (rmdir(d->path) != 0)
        unit_fail(__FILE__, __LINE__, "rmdir %s: %s (a file was left behind)", d->path,
                  strerror(errno));
}

static host_kv_config sqlite_config(const char *name, const char *path) {
    return (host_kv_config){.name = name, .backend = HOST_KV_SQLITE, .path = path};
}

TEST(kv_sqlite_suite) {
    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/kv.db", d.path);
    host_kv_config cfg = sqlite_config("notes", path);
    kv_suite(&cfg);
    cfg.durable_full = true;
    snprintf(path, sizeof path, "%s/other.db", d.path);
    kv_suite(&cfg);
    remove_dir(&d);
}

/* Two handles opened on a new file at the same moment, as two workers'
 * first requests do: SQLite refuses one of the two switches to WAL as a
 * possible deadlock, without waiting (a third of the time), and the open
 * must try again rather than fail. */
typedef struct first_open {
    const host_kv_config *cfg;
    bool ok;
    char err[sizeof err];
} first_open;

static void *open_and_set(void *arg) {
    first_open *f = arg;
    host_kv *kv = host_kv_open(f->cfg, f->err, sizeof f->err);
    f->ok = kv && host_kv_set(kv, "k", 1, "v", 1, 0, f->err, sizeof f->err) == HOST_OK;
    if (kv) host_kv_close(kv);
    return NULL;
}

TEST(kv_sqlite_first_opens_at_once) {
    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/kv.db", d.path);
    host_kv_config cfg = sqlite_config("first", path);
    int failed = 0;
    for (int trial = 0; trial < 30; trial++) {
        static const char *const sfx[] = {"", "-wal", "-shm"};
        char p[160];
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s%s", path, sfx[i]);
            unlink(p);
        }
        first_open f[2] = {{.cfg = &cfg}, {.cfg = &cfg}};
        REQUIRE(unit_at_once(open_and_set, &f[0], &f[1]));
        for (int i = 0; i < 2; i++)
            if (!f[i].ok && failed++ == 0)
                unit_fail(__FILE__, __LINE__, "trial %d: %s", trial, f[i].err);
    }
    CHECK_EQ_S64(failed, 0);
    remove_dir(&d);
}

TEST(kv_sqlite_two_handles_and_reopen) {
    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/kv.db", d.path);
    host_kv_config cfg = sqlite_config("shared", path);
    host_kv *a = host_kv_open(&cfg, err, sizeof err);
    host_kv *b = host_kv_open(&cfg, err, sizeof err);
    if (!a || !b) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
    } else {
        KV(set_s(a, "k", "from a", 0), HOST_OK);
        CHECK_VALUE(b, "k", "from a");
        int64_t n = 0;
        KV(incr_s(b, "c", 3, &n), HOST_OK);
        KV(incr_s(a, "c", 4, &n), HOST_OK);
        CHECK_EQ_S64(n, 7);
        KV(del_s(b, "k", NULL), HOST_OK);
        CHECK_VALUE(a, "k", NULL);
        KV(set_s(b, "kept", "yes", 0), HOST_OK);
        KV(set_s(b, "ttl", "yes", 60000), HOST_OK);
    }
    host_kv_close(a);
    host_kv_close(b);
    /* a new handle finds everything, TTLs included */
    host_kv *c = host_kv_open(&cfg, err, sizeof err);
    if (!c) {
        unit_fail(__FILE__, __LINE__, "reopen: %s", err);
    } else {
        CHECK_VALUE(c, "kept", "yes");
        CHECK_VALUE(c, "ttl", "yes");
        CHECK_VALUE(c, "c", "7");
        host_kv_close(c);
    }
    remove_dir(&d);
}

enum { INCR_THREADS = 4, INCRS_PER_THREAD = 150 };

typedef struct incr_job {
    const host_kv_config *cfg;
    int failures;
    char first_err[sizeof err];
} incr_job;

static void *incr_worker(void *arg) {
    incr_job *j = arg;
    char e[sizeof err];
    host_kv *kv = host_kv_open(j->cfg, e, sizeof e);
    if (!kv) {
        j->failures = INCRS_PER_THREAD;
        snprintf(j->first_err, sizeof j->first_err, "%s", e);
        return NULL;
    }
    for (int i = 0; i < INCRS_PER_THREAD; i++) {
        if (host_kv_incr(kv, "hits", 4, 1, NULL, e, sizeof e) != HOST_OK && j->failures++ == 0)
            snprintf(j->first_err, sizeof j->first_err, "%s", e);
    }
    host_kv_close(kv);
    return NULL;
}

/* Each thread has its own handle on the file, as a server's workers do:
 * busy_timeout and BEGIN IMMEDIATE make every increment count. */
TEST(kv_sqlite_threads_increment_one_key) {
    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/kv.db", d.path);
    host_kv_config cfg = sqlite_config("hits", path);
    host_kv *kv = host_kv_open(&cfg, err, sizeof err);
    if (!kv) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        remove_dir(&d);
        return;
    }
    incr_job jobs[INCR_THREADS] = {0};
    pthread_t t[INCR_THREADS];
    int started = 0;
    for (int i = 0; i < INCR_THREADS; i++) {
        jobs[i].cfg = &cfg;
        if (pthread_create(&t[i], NULL, incr_worker, &jobs[i]) != 0) break;
        started++;
    }
    CHECK_EQ_U64(started, INCR_THREADS);
    for (int i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].failures)
            unit_fail(__FILE__, __LINE__, "thread %d: %d increments failed, the first with: %s", i,
                      jobs[i].failures, jobs[i].first_err);
    }
    char want[32];
    snprintf(want, sizeof want, "%d", started * INCRS_PER_THREAD);
    CHECK_VALUE(kv, "hits", want);
    host_kv_close(kv);
    remove_dir(&d);
}

/* Rows that expired and are never touched again are deleted by later
 * writes, not kept forever. */
TEST(kv_sqlite_sweeps_expired_rows) {
    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/kv.db", d.path);
    host_kv_config cfg = sqlite_config("sweep", path);
    host_kv *kv = host_kv_open(&cfg, err, sizeof err);
    if (!kv) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        remove_dir(&d);
        return;
    }
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "gone%d", i);
        KV(set_s(kv, k, "v", 1), HOST_OK);
    }
    sleep_ms(20);
    for (int i = 0; i < 200; i++)
        KV(set_s(kv, "live", "v", 0), HOST_OK);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM kv", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        CHECK_EQ_S64(sqlite3_column_int64(st, 0), 1);
    else
        unit_fail(__FILE__, __LINE__, "counting rows: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    host_kv_close(kv);
    remove_dir(&d);
}

TEST(kv_sqlite_open_errors) {
    host_kv_config cfg = sqlite_config("notes", "/nonexistent-wasp-dir/kv.db");
    CHECK(host_kv_open(&cfg, err, sizeof err) == NULL);
    CHECK_STR(err, "store notes: cannot open /nonexistent-wasp-dir/kv.db: unable to open "
                   "database file");
    cfg.path = NULL;
    CHECK(host_kv_open(&cfg, err, sizeof err) == NULL);
    CHECK_STR(err, "store notes: no database file given (the store's `path`)");

    tmp_dir d = {{0}};
    if (!make_dir(&d)) return;
    char path[128];
    snprintf(path, sizeof path, "%s/junk.db", d.path);
    FILE *f = fopen(path, "wb");
    if (f) {
        for (int i = 0; i < 100; i++)
            fputs("this is not a database file. ", f);
        fclose(f);
    }
    cfg.path = path;
    CHECK(host_kv_open(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "store notes: ") == err);
    CHECK(strstr(err, "junk.db") && strstr(err, "not a database"));
    remove_dir(&d);
}

/* ---- Redis ----------------------------------------------------------------- */

typedef struct redis_server {
    pid_t pid; /* 0 when not running */
    int port;
    tmp_dir dir;
} redis_server;

static bool redis_installed(void) {
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        char full[4200];
        snprintf(full, sizeof full, "%s/redis-server", p);
        if (access(full, X_OK) == 0) return true;
    }
    return false;
}

/* A loopback port nobody listens on right now. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static bool redis_pings(int port) {
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

/* Starts redis-server on s->port and waits until it answers PING. */
static bool redis_start(redis_server *s) {
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    pid_t pid = fork();
    if (pid < 0) return unit_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* the server dies with the test, even when the test crashes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", s->dir.path, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 250; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return unit_fail(__FILE__, __LINE__,
                             "redis-server on port %d exited at once (status %d): is the port "
                             "taken?",
                             s->port, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        if (redis_pings(s->port)) return true;
        sleep_ms(20);
    }
    return unit_fail(__FILE__, __LINE__, "redis-server did not answer PING on port %d in 5 s",
                     s->port);
}

static void redis_stop(redis_server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static host_kv_config redis_config(const char *name, const char *url) {
    return (host_kv_config){.name = name,
                            .backend = HOST_KV_REDIS,
                            .url = url,
                            .prefix = "wasp*[t]?\\:",
                            /* generous: an 8 MiB value under ASan on a loaded
                             * CI machine took more than 1 s (the timeout's own
                             * test sets 100 ms) */
                            .timeout_ms = 10000};
}

/* The keys are stored under the prefix, and keys outside it stay
 * invisible, even ones an unescaped prefix pattern would match. */
static void redis_check_prefix(redis_server *s, host_kv *kv) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (!c || c->err) {
        unit_fail(__FILE__, __LINE__, "direct connection: %s", c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return;
    }
    redisReply *r = redisCommand(c, "SET %s %s", "waspX[t]?\\:intruder", "x");
    if (r) freeReplyObject(r);
    r = redisCommand(c, "SET %s %s", "unprefixed", "x");
    if (r) freeReplyObject(r);
    KV(set_s(kv, "mine", "v", 0), HOST_OK);
    r = redisCommand(c, "GET %s", "wasp*[t]?\\:mine");
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "v") == 0);
    if (r) freeReplyObject(r);
    redisFree(c);
    CHECK_VALUE(kv, "intruder", NULL);
    CHECK_LIST(kv, "", 0, 0,
               "mine|p|p\\x00|p\\x00a|z|\\xfe|\\xfe\\xff|\\xff|\\xff\\x01|\\xff\\xff");
}

/* Kills the server under an open handle, checks the errors, starts it
 * again on the same port and checks that the handle reconnects. */
static void redis_check_reconnect(redis_server *s, const host_kv_config *cfg) {
    host_kv *kv = host_kv_open(cfg, err, sizeof err);
    if (!kv) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    redis_check_prefix(s, kv);
    KV(set_s(kv, "before", "1", 0), HOST_OK);

    redis_stop(s);
    char where[64];
    snprintf(where, sizeof where, "redis at 127.0.0.1:%d", s->port);
    /* the increment may have reached the server: not retried, and said so */
    int64_t n;
    KV_ERR(cfg->name, incr_s(kv, "counter", 1, &n), "may or may not have been applied");
    CHECK(strstr(err, where) != NULL);
    host_buf b = {0};
    KV_ERR(cfg->name, host_kv_get(kv, "before", 6, &b, err, sizeof err), "cannot connect to");
    CHECK(strstr(err, where) && strstr(err, "Connection refused") &&
          strstr(err, "while reading key \"before\""));
    KV_ERR(cfg->name, set_s(kv, "during", "x", 0), "cannot connect to");
    KV_ERR(cfg->name, host_kv_list(kv, "", 0, 0, &b, err, sizeof err), "cannot connect to");

    if (redis_start(s)) {
        /* a fresh server (no persistence): the old data is gone, the handle works */
        CHECK_VALUE(kv, "before", NULL);
        KV(set_s(kv, "after", "2", 0), HOST_OK);
        CHECK_VALUE(kv, "after", "2");
        KV(incr_s(kv, "counter", 5, &n), HOST_OK);
        CHECK_EQ_S64(n, 5);
    }
    /* a restart between two calls: the first command meets the dead
     * connection, and a read or a write is sent again on a new one */
    redis_stop(s);
    if (redis_start(s)) {
        KV(set_s(kv, "again", "3", 0), HOST_OK);
        redis_stop(s);
        if (redis_start(s)) CHECK_VALUE(kv, "again", NULL);
    }
    free(b.data);
    host_kv_close(kv);
}

/* A server that does not answer in time: the call fails saying so (after
 * one retry, GET being idempotent), and the handle works once the server
 * answers again. CLIENT PAUSE stands for a busy or stalled server. */
static void redis_check_timeout(redis_server *s, const host_kv_config *base) {
    host_kv_config cfg = *base;
    cfg.timeout_ms = 100;
    host_kv *kv = host_kv_open(&cfg, err, sizeof err);
    if (!kv) {
        unit_fail(__FILE__, __LINE__, "open: %s", err);
        return;
    }
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    redisReply *r = c && !c->err ? redisCommand(c, "CLIENT PAUSE 400 ALL") : NULL;
    if (!r || r->type != REDIS_REPLY_STATUS) {
        unit_fail(__FILE__, __LINE__, "CLIENT PAUSE: %s",
                  r   ? r->str
                  : c ? c->errstr
                      : "out of memory");
    } else {
        KV_ERR(cfg.name, set_s(kv, "paused", "x", 0), "no reply within 100 ms");
        sleep_ms(500);
        KV(set_s(kv, "paused", "x", 0), HOST_OK);
        CHECK_VALUE(kv, "paused", "x");
        KV(del_s(kv, "paused", NULL), HOST_OK);
    }
    if (r) freeReplyObject(r);
    if (c) redisFree(c);
    host_kv_close(kv);
}

static void redis_check_open_errors(int dead_port) {
    static const struct {
        const char *url, *phrase;
    } bad[] = {
        {NULL, "no url given"},
        {"http://localhost", "url must start with redis://"},
        {"rediss://localhost", "TLS (rediss://) is not supported"},
        {"redis://", "no host name"},
        {"redis://:sekret@", "no host name"},
        {"redis://localhost:0", "port \"0\" is not a number from 1 to 65535"},
        {"redis://localhost:99999", "port \"99999\""},
        {"redis://localhost:x1/0", "port \"x1\""},
        {"redis://localhost/abc", "database \"abc\""},
        {"redis://sekret@localhost", "must be :password or user:password"},
        {"redis://:sek%zzret@localhost", "the password has a bad %-escape"},
        {"redis://[::1", "without its closing ']'"},
        {"redis://localhost?x=1", "unexpected \"?x=1\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        host_kv_config cfg = redis_config("cache", bad[i].url);
        host_kv *kv = host_kv_open(&cfg, err, sizeof err);
        if (kv) {
            unit_fail(__FILE__, __LINE__, "url %s: opened, expected \"%s\"", bad[i].url,
                      bad[i].phrase);
            host_kv_close(kv);
            continue;
        }
        if (strncmp(err, "store cache: ", 13) != 0 || !strstr(err, bad[i].phrase))
            unit_fail(__FILE__, __LINE__, "url %s: expected \"store cache: ...%s...\", got \"%s\"",
                      bad[i].url, bad[i].phrase, err);
        if (strstr(err, "sekret"))
            unit_fail(__FILE__, __LINE__, "url %s: the message shows the password: %s", bad[i].url,
                      err);
    }
    char url[64], want[128];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", dead_port);
    snprintf(want, sizeof want,
             "store cache: cannot connect to redis at 127.0.0.1:%d: ", dead_port);
    host_kv_config cfg = redis_config("cache", url);
    host_kv *kv = host_kv_open(&cfg, err, sizeof err);
    CHECK(kv == NULL);
    host_kv_close(kv);
    if (strncmp(err, want, strlen(want)) != 0)
        unit_fail(__FILE__, __LINE__, "expected \"%s...\", got \"%s\"", want, err);
}

/* What the running server refuses: a password it does not have, a
 * database number beyond its 16. */
static void redis_check_refusals(int port) {
    char url[96];
    snprintf(url, sizeof url, "redis://:sekret@127.0.0.1:%d", port);
    host_kv_config cfg = redis_config("cache", url);
    host_kv *kv = host_kv_open(&cfg, err, sizeof err);
    CHECK(kv == NULL);
    host_kv_close(kv);
    CHECK(strstr(err, "store cache: redis at 127.0.0.1:") == err &&
          strstr(err, "refused the password in the url") && !strstr(err, "sekret"));
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/99", port);
    cfg.url = url;
    kv = host_kv_open(&cfg, err, sizeof err);
    CHECK(kv == NULL);
    host_kv_close(kv);
    CHECK(strstr(err, "cannot select database 99 from the url") != NULL);
}

/* The reads and the commands the server counted so far, from one INFO:
 * its own read counted, itself not yet. */
static void redis_counts(redisContext *c, long long *reads, long long *cmds) {
    redisReply *r = redisCommand(c, "INFO stats");
    *reads = *cmds = -1;
    const char *at;
    if (r && r->type == REDIS_REPLY_STRING) {
        if ((at = strstr(r->str, "total_reads_processed:"))) *reads = atoll(at + 22);
        if ((at = strstr(r->str, "total_commands_processed:"))) *cmds = atoll(at + 25);
    }
    if (r) freeReplyObject(r);
}

typedef struct batch_job {
    host_kv *kv;
    int rc;
    host_buf value;
    bool finished;
} batch_job;

static void batch_get(void *arg) {
    batch_job *j = arg;
    char e[256];
    /* a request's own work before its GET: written at once, each GET
     * would reach the server in a read of its own */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 300000);
    j->rc = host_kv_get(j->kv, "batched", 7, &j->value, e, sizeof e);
}

static void batch_done(void *arg) {
    ((batch_job *)arg)->finished = true;
}

/* An 8 MiB SET: more than the socket takes in one write, so the deferred
 * flush writes part and puts the rest off to the loop's next turns. */
static void big_set(void *arg) {
    batch_job *j = arg;
    char e[256];
    size_t n = HOST_KV_MAX_VALUE;
    char *v = malloc(n);
    if (!v) return;
    memset(v, 'b', n);
    j->rc = host_kv_set(j->kv, "big", 3, v, n, 0, e, sizeof e);
    free(v);
}

/* Runs the scheduler's loop as a worker does (the deferred work, then a
 * wait that is short when some was put off) until job finished or 20 s. */
static void run_sched(srv_sched *s, const batch_job *job) {
    uint64_t until = util_mono_ms() + 20000;
    bool again = false;
    while (!job->finished && util_mono_ms() < until) {
        again = srv_sched_run_deferred(s);
        struct pollfd p = {.fd = srv_sched_fd(s), .events = POLLIN};
        poll(&p, 1, again ? 1 : 20);
        srv_sched_poll(s);
    }
}

/* 50 requests on one worker's scheduler each GET a key while the others
 * wait: their commands, appended in one turn of the loop, go out in one
 * write (kv_redis.c, link_flush), so the server reads them in one read,
 * and each request gets its reply. */
static void redis_check_batching(int port, const host_kv_config *cfg) {
    enum { N = 50 };
    char e[256];
    srv_sched *s = srv_sched_new(e, sizeof e);
    host_kv *kv = host_kv_open(cfg, err, sizeof err);
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!s || !kv || !c || c->err) {
        unit_fail(__FILE__, __LINE__, "setup: %s", !s ? e : !kv ? err : "direct connection");
        goto out;
    }
    KV(set_s(kv, "batched", "same for all", 0), HOST_OK);
    static batch_job jobs[N];
    long long reads0, cmds0, reads, cmds;
    redis_counts(c, &reads0, &cmds0);
    for (int i = 0; i < N; i++) {
        jobs[i] = (batch_job){.kv = kv, .rc = -1};
        srv_task *t;
        REQUIRE(srv_sched_spawn(s, batch_get, batch_done, &jobs[i], NULL, &t, e, sizeof e));
    }
    CHECK_EQ_U64(srv_sched_suspended(s), (uint64_t)N); /* all waiting, nothing written yet */
    uint64_t until = util_mono_ms() + 10000;
    int finished = 0;
    while (finished < N && util_mono_ms() < until) {
        srv_sched_run_deferred(s); /* as the worker's loop does before it waits */
        struct pollfd p = {.fd = srv_sched_fd(s), .events = POLLIN};
        poll(&p, 1, 20);
        srv_sched_poll(s);
        finished = 0;
        for (int i = 0; i < N; i++)
            finished += jobs[i].finished;
    }
    CHECK_EQ_S64(finished, N);
    int right = 0;
    for (int i = 0; i < N; i++) {
        right += jobs[i].rc == HOST_OK && jobs[i].value.len == 12 &&
                 memcmp(jobs[i].value.data, "same for all", 12) == 0;
        free(jobs[i].value.data);
    }
    CHECK_EQ_S64(right, N);
    redis_counts(c, &reads, &cmds);
    reads -= reads0 + 1; /* the INFO after's read */
    cmds -= cmds0 + 1;   /* the INFO before */
    CHECK_EQ_S64(cmds, N);
    if (!CHECK(reads >= 1 && reads <= 2))
        fprintf(stderr, "      the server read %lld times for %d GETs\n", reads, N);
    bool existed;
    KV(host_kv_delete(kv, "batched", 7, &existed, err, sizeof err), HOST_OK);
    /* a command larger than one write: the rest goes out on later turns */
    static batch_job big;
    big = (batch_job){.kv = kv, .rc = -1};
    srv_task *t;
    REQUIRE(srv_sched_spawn(s, big_set, batch_done, &big, NULL, &t, e, sizeof e));
    run_sched(s, &big);
    CHECK(big.finished);
    CHECK_EQ_S64(big.rc, HOST_OK);
    host_buf b = {0};
    KV(host_kv_get(kv, "big", 3, &b, err, sizeof err), HOST_OK);
    CHECK_EQ_U64(b.len, HOST_KV_MAX_VALUE);
    free(b.data);
    KV(host_kv_delete(kv, "big", 3, &existed, err, sizeof err), HOST_OK);
out:
    if (c) redisFree(c);
    host_kv_close(kv);
    srv_sched_free(s);
}

TEST(kv_redis_suite_and_reconnect) {
    if (!redis_installed()) {
        unit_fail(__FILE__, __LINE__,
                  "redis-server is not installed (not found in PATH), so the Redis backend "
                  "cannot be tested: apt-get install redis-server");
        return;
    }
    /* a write to a server that went away must give EPIPE, not end the run */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    redis_server s = {.port = free_port()};
    if (s.port == 0) {
        unit_fail(__FILE__, __LINE__, "no free loopback port: %s", strerror(errno));
    } else if (make_dir(&s.dir)) {
        redis_check_open_errors(s.port);
        if (redis_start(&s)) {
            char url[64];
            snprintf(url, sizeof url, "redis://127.0.0.1:%d", s.port);
            host_kv_config cfg = redis_config("cache", url);
            kv_suite(&cfg);
            redis_check_refusals(s.port);
            redis_check_batching(s.port, &cfg);
            redis_check_timeout(&s, &cfg);
            redis_check_reconnect(&s, &cfg);
        }
        redis_stop(&s);
        rmdir(s.dir.path);
    }
    sigaction(SIGPIPE, &old, NULL);
}
