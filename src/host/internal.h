/*
 * internal.h - what the files of src/host/ share with each other only: the
 * key-value backends' vtable and the helpers kv.c offers them.
 *
 * kv.c checks every argument of the public host_kv_* calls (key and value
 * sizes, list limit, TTL) before dispatching, so a backend may rely on:
 * 1 <= klen <= HOST_KV_MAX_KEY, vlen <= HOST_KV_MAX_VALUE, plen <=
 * HOST_KV_MAX_KEY, 1 <= limit <= HOST_KV_MAX_LIST, ttl_ms <=
 * HOST_KV_MAX_TTL_MS, non-NULL out-pointers, and output buffers already
 * emptied (len 0). A backend's messages go through host_kv_fail(), which
 * puts the "store NAME: " prefix that every kv message starts with.
 */
#ifndef WASP_HOST_INTERNAL_H
#define WASP_HOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"

/* A TTL longer than this (100 years) is refused rather than risking an
 * overflow of "now + ttl" in a backend; nobody means it. */
#define HOST_KV_MAX_TTL_MS (100ull * 365 * 24 * 3600 * 1000)

/* One backend. Each function has the contract of the public call of the
 * same name, with the arguments already checked (see above). */
typedef struct host_kv_ops {
    int (*get)(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
               size_t errlen);
    int (*set)(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t ttl_ms, char *err, size_t errlen);
    int (*del)(host_kv *kv, const void *key, size_t klen, bool *existed, char *err, size_t errlen);
    int (*exists)(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                  size_t errlen);
    int (*incr)(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                char *err, size_t errlen);
    int (*list)(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                char *err, size_t errlen);
    /* Frees everything the backend allocated, the host_kv included. */
    void (*close)(host_kv *kv);
} host_kv_ops;

/* The part of a handle kv.c sees. A backend allocates its own struct with
 * this as its first member, so a host_kv * converts to it. */
struct host_kv {
    const host_kv_ops *ops;
    char *name; /* cfg->name copied (owned, freed by host_kv_free_base) */
};

/* The backends' constructors: NULL with "store NAME: reason" in err. */
host_kv *host_kv_sqlite_open(const host_kv_config *cfg, char *err, size_t errlen);
host_kv *host_kv_redis_open(const host_kv_config *cfg, char *err, size_t errlen);

/* Fills the common part of a new handle (copies the name). False when out
 * of memory. */
bool host_kv_init_base(host_kv *kv, const host_kv_ops *ops, const char *name);
/* Frees what host_kv_init_base allocated (not kv itself). */
void host_kv_free_base(host_kv *kv);

/* The name messages use for a store whose config gives none. */
const char *host_kv_display_name(const char *name);

/* Writes "store NAME: " and the printf-formatted message into err (which
 * may be NULL when errlen is 0); returns HOST_ERROR, so that a failing
 * path can `return host_kv_fail(...)`. */
int host_kv_fail(const char *name, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Quotes a key for a message: "..." with printable ASCII as is, `"` and
 * `\` escaped, any other byte as \xHH, and keys longer than 64 bytes cut
 * with "..." after the closing quote. Returns out (always NUL-terminated;
 * 300 bytes are always enough). */
#define HOST_KV_QUOTE_MAX 300
const char *host_kv_quote(const void *key, size_t klen, char out[HOST_KV_QUOTE_MAX]);

/* Appends n bytes to b, growing it (doubling). False when out of memory;
 * b is then unchanged. */
bool host_kv_buf_append(host_buf *b, const void *data, size_t n);
/* Appends one list entry: klen as 4 bytes little endian, then the key. */
bool host_kv_list_append(host_buf *b, const void *key, size_t klen);

/* Parses s[0..len) as Redis does for INCRBY: an optional '-' then decimal
 * digits, no leading zeros (except "0" itself), no "-0", no spaces, no
 * '+', within int64. False when it is not one. */
bool host_kv_parse_i64(const void *s, size_t len, int64_t *out);

#endif
