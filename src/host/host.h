/*
 * host.h - capabilities a manifest can grant to an app: key-value stores,
 * variables and secrets (and, later, SQL and outbound HTTP).
 *
 * This layer knows nothing of HTTP or of the guest ABI: it offers plain C
 * calls over each backend, with errors as values and messages a user can
 * act on. src/server/ binds them to guest imports and decides who may call
 * what (deny by default). Every handle here is used by one thread at a
 * time; a server opens one per worker.
 *
 *   kv.c         the store API, dispatching to a backend
 *   kv_sqlite.c  SQLite file (WAL): the default, needs no setup
 *   kv_redis.c   Redis through hiredis: shared by many wasp replicas
 *   secrets.c    an encrypted secrets file (XChaCha20-Poly1305, libsodium)
 */
#ifndef WASP_HOST_H
#define WASP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of host calls. */
enum {
    HOST_OK = 0,
    HOST_NOT_FOUND = 1, /* kv: no such key (or it expired) */
    HOST_ERROR = -1,    /* the message says what went wrong */
};

/* A growable byte buffer that results are written into. The caller owns
 * it and frees `data` with free(). */
typedef struct host_buf {
    uint8_t *data;
    size_t len, cap;
} host_buf;

/* ---- key-value stores ------------------------------------------------------
 *
 * Keys are 1..HOST_KV_MAX_KEY bytes, values 0..HOST_KV_MAX_VALUE bytes,
 * both arbitrary bytes. A TTL of 0 means no expiry; an expired key reads as
 * absent. incr treats the value as a decimal 64-bit integer (absent = 0),
 * as Redis's INCRBY does, and fails on a value that is not one or on
 * overflow. list returns the keys that start with a prefix, sorted, each
 * as a 4-byte little-endian length followed by the key's bytes, at most
 * `limit` of them (0: HOST_KV_MAX_LIST).
 *
 * Durability: a set, delete or incr that returned HOST_OK is in the
 * backend when it returns - for SQLite, committed to the write-ahead log
 * (it survives the process being killed; `durable: full` in the manifest
 * also survives power loss at the cost of an fsync per write); for Redis,
 * acknowledged by the server (its own persistence settings apply).
 */

#define HOST_KV_MAX_KEY 4096
#define HOST_KV_MAX_VALUE (8u << 20)
#define HOST_KV_MAX_LIST 10000

typedef enum { HOST_KV_SQLITE, HOST_KV_REDIS } host_kv_backend;

typedef struct host_kv_config {
    const char *name; /* the store's name in the manifest, for messages */
    host_kv_backend backend;
    const char *path;    /* SQLite: the database file (created if absent) */
    bool durable_full;   /* SQLite: synchronous=FULL (fsync per write) */
    const char *url;     /* Redis: redis://[:password@]host[:port][/db] */
    const char *prefix;  /* Redis: prepended to every key (namespaces a shared server) */
    uint32_t timeout_ms; /* Redis: connect and command timeout (0: 2000) */
} host_kv_config;

typedef struct host_kv host_kv;

/* Opens a connection to a store (for SQLite, creates the file and table
 * when needed). NULL with "store NAME: reason" in err. */
host_kv *host_kv_open(const host_kv_config *cfg, char *err, size_t errlen);
void host_kv_close(host_kv *kv);

/* Each returns HOST_OK, HOST_NOT_FOUND (get only) or HOST_ERROR with a
 * message in err. A Redis connection that broke is re-established on the
 * next call. */
int host_kv_get(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
                size_t errlen);
int host_kv_set(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                uint64_t ttl_ms, char *err, size_t errlen);
int host_kv_delete(host_kv *kv, const void *key, size_t klen, bool *existed, char *err,
                   size_t errlen);
int host_kv_exists(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                   size_t errlen);
int host_kv_incr(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                 char *err, size_t errlen);
int host_kv_list(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *keys,
                 char *err, size_t errlen);

/* ---- secrets ---------------------------------------------------------------
 *
 * A secrets file holds name -> value pairs, encrypted as a whole with
 * XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf, a
 * fresh random nonce per write) under a 32-byte key.
 * The key comes from a file (32 raw bytes or 64 hex digits) or from an
 * environment variable (64 hex digits). Writing goes through a temporary
 * file and rename, so a crash never leaves a half-written file. Values are
 * wiped from memory when the set is freed. */

typedef struct host_secrets host_secrets;

/* Reads the key: from `key_file` if not NULL, else from the environment
 * variable `key_env`. False with a message when neither gives a key. */
bool host_secrets_key(const char *key_file, const char *key_env, uint8_t key[32], char *err,
                      size_t errlen);
/* Opens and decrypts `path` (a missing file is an empty set when
 * `create` is true). NULL with a message (wrong key, corrupt file, ...). */
host_secrets *host_secrets_open(const char *path, const uint8_t key[32], bool create, char *err,
                                size_t errlen);
/* The value of `name` (NUL-terminated, owned by the set), or NULL. */
const char *host_secrets_get(const host_secrets *s, const char *name);
/* Names in sorted order: out[0..n) point into the set. */
size_t host_secrets_names(const host_secrets *s, const char **out, size_t max);
bool host_secrets_set(host_secrets *s, const char *name, const char *value, char *err,
                      size_t errlen);
bool host_secrets_remove(host_secrets *s, const char *name);
/* Encrypts and writes the set back to its file (atomically). */
bool host_secrets_save(host_secrets *s, char *err, size_t errlen);
void host_secrets_free(host_secrets *s);

#endif
