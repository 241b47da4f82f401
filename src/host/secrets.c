/*
 * secrets.c - an encrypted file of named secrets (host.h, "secrets"): the
 * store behind `wasp secrets` and behind manifest variables that name a
 * secret.
 *
 * The file, all of it written at once:
 *
 *   offset  size  what
 *   0       8     "WASPSEC1": magic and format version
 *   8       24    nonce, fresh from randombytes_buf on every save
 *   32      n+16  crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext),
 *                 with the 8 header bytes as additional data, so that the
 *                 version cannot be changed without the tag failing
 *
 * The plaintext is the pairs in ascending (byte-wise) order of name, each
 *
 *   u32 little-endian name length, the name,
 *   u32 little-endian value length, the value
 *
 * and nothing else. A name is 1..SECRET_MAX_NAME characters of
 * [A-Za-z0-9_.-]; a value is 0..SECRET_MAX_VALUE bytes, any except NUL
 * (host_secrets_get hands values out as C strings).
 *
 * Saving writes FILE.tmp (mode 0600) in the same directory, fsyncs it,
 * renames it over FILE and fsyncs the directory: a crash leaves either the
 * old file or the new one, never a mix. A symlink at FILE is replaced by
 * the new file rather than followed. Two processes saving the same file at
 * once do not corrupt it, but the later rename wins and the other's change
 * is lost.
 *
 * What this file must never do: put a secret's value, or the key, in an
 * error message; or free memory that held a value, the key or the
 * plaintext without wiping it first (sodium_memzero, or sodium_free for the
 * transient plaintext buffers, which live in guarded sodium_malloc memory).
 * An invalid name is not echoed either: a user who swaps NAME and VALUE on
 * a command line would otherwise see the value printed back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/host.h"

#define SECRET_MAGIC "WASPSEC1"
#define SECRET_MAGIC_LEN 8
#define SECRET_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define SECRET_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES      /* 16 */
#define SECRET_HEAD_LEN (SECRET_MAGIC_LEN + SECRET_NONCE_LEN)
#define SECRET_MAX_NAME 128
#define SECRET_MAX_VALUE 65536
/* Bounds what open will read and set will let grow: about a thousand
 * values of the largest size. */
#define SECRET_MAX_PLAIN (64u << 20)

typedef struct secret {
    char *name;  /* malloc'd */
    char *value; /* malloc'd, NUL-terminated; wiped before it is freed */
    size_t vlen;
} secret;

struct host_secrets {
    char *path;
    uint8_t key[32];
    secret *items; /* sorted by name, strictly ascending */
    size_t n, cap;
    size_t plain_len; /* the length of the serialized plaintext */
};

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* sodium_init once per process, whichever thread gets here first. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status;
static void sodium_start(void) {
    sodium_status = sodium_init();
}
static bool crypto_ready(char *err, size_t errlen) {
    pthread_once(&sodium_once, sodium_start);
    if (sodium_status < 0) return fail(err, errlen, "cannot initialize libsodium");
    return true;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool name_ok(const char *name, size_t len) {
    if (len == 0 || len > SECRET_MAX_NAME) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static bool bad_name(char *err, size_t errlen) {
    return fail(err, errlen, "invalid secret name: want 1 to %d characters from A-Z a-z 0-9 _ . -",
                SECRET_MAX_NAME);
}

/* The bytes a pair takes in the plaintext. */
static size_t pair_len(size_t nlen, size_t vlen) {
    return 4 + nlen + 4 + vlen;
}

static void wipe_free(void *p, size_t n) {
    if (!p) return;
    sodium_memzero(p, n);
    free(p);
}

static void secret_free(secret *e) {
    free(e->name);
    wipe_free(e->value, e->vlen + 1);
}

/* The index of `name`, or where it would be inserted (*found false). */
static size_t find(const host_secrets *s, const char *name, bool *found) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->items[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Inserts a new pair at index `at`, taking ownership of name and value
 * (they are freed on failure too). */
static bool insert(host_secrets *s, size_t at, char *name, char *value, size_t vlen) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        secret *items = realloc(s->items, cap * sizeof *items);
        if (!items) {
            secret e = {name, value, vlen};
            secret_free(&e);
            return false;
        }
        s->items = items;
        s->cap = cap;
    }
    memmove(s->items + at + 1, s->items + at, (s->n - at) * sizeof *s->items);
    s->items[at] = (secret){name, value, vlen};
    s->n++;
    s->plain_len += pair_len(strlen(name), vlen);
    return true;
}

/* A NUL-terminated malloc'd copy of p[0..n). */
static char *copy_bytes(const void *p, size_t n) {
    char *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* ---- the key ------------------------------------------------------------- */

/* 64 hex digits (either case) -> 32 bytes. */
static bool parse_hex_key(const char *hex, size_t len, uint8_t key[32]) {
    size_t got = 0;
    if (len != 64) return false;
    if (sodium_hex2bin(key, 32, hex, len, NULL, &got, NULL) != 0 || got != 32) {
        sodium_memzero(key, 32);
        return false;
    }
    return true;
}

static bool key_from_file(const char *path, uint8_t key[32], char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return fail(err, errlen, "key file %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "key file %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, "key file %s: not a regular file", path);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return fail(err, errlen,
                    "key file %s: permissions %04o are too open: it must not be accessible by "
                    "group or others; run: chmod 600 %s",
                    path, (unsigned)(st.st_mode & 07777), path);
    }
    /* One byte more than the longest valid content shows a longer file. */
    char buf[66];
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            sodium_memzero(buf, sizeof buf);
            return fail(err, errlen, "key file %s: cannot read: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    bool ok;
    if (n == 32) {
        memcpy(key, buf, 32);
        ok = true;
    } else {
        size_t digits = n == 65 && buf[64] == '\n' ? 64 : n;
        ok = parse_hex_key(buf, digits, key);
    }
    sodium_memzero(buf, sizeof buf);
    if (!ok)
        return fail(err, errlen,
                    "key file %s: not a secrets key: want 32 raw bytes or 64 hex digits "
                    "(wasp secrets keygen makes one)",
                    path);
    return true;
}

bool host_secrets_key(const char *key_file, const char *key_env, uint8_t key[32], char *err,
                      size_t errlen) {
    if (key_file) return key_from_file(key_file, key, err, errlen);
    if (!key_env || !*key_env)
        return fail(err, errlen, "no secrets key: give a key file or an environment variable");
    const char *v = getenv(key_env);
    if (!v || !*v)
        return fail(err, errlen,
                    "no secrets key: the environment variable %s is not set (want 64 hex "
                    "digits), and no key file was given",
                    key_env);
    if (!parse_hex_key(v, strlen(v), key))
        return fail(err, errlen,
                    "environment variable %s: not a secrets key: want exactly 64 hex digits",
                    key_env);
    return true;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads the whole file into a malloc'd buffer. Sets *missing (and fails)
 * when it does not exist. */
static bool read_whole(const char *path, uint8_t **out, size_t *len, bool *missing, char *err,
                       size_t errlen) {
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *missing = errno == ENOENT;
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, "%s: not a regular file", path);
    }
    size_t limit = SECRET_HEAD_LEN + SECRET_MAX_PLAIN + SECRET_TAG_LEN;
    if ((uint64_t)st.st_size > limit) {
        close(fd);
        return fail(err, errlen, "%s: too large for a secrets file (%lld bytes; at most %zu)", path,
                    (long long)st.st_size, limit);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return fail(err, errlen, "%s: out of memory", path);
    }
    /* Read to end of file, not to st_size: a file that grows meanwhile
     * shows up as one longer than expected and fails to decrypt. */
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return fail(err, errlen, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return true;
}

/* Fills s from the decrypted plaintext p[0..len). */
static bool parse_plain(host_secrets *s, const uint8_t *p, size_t len, char *err, size_t errlen) {
    size_t at = 0;
    while (at < len) {
        size_t start = at;
        if (len - at < 4) break;
        uint32_t nlen = get_u32(p + at);
        at += 4;
        if (nlen > len - at || !name_ok((const char *)p + at, nlen)) {
            at = start;
            break;
        }
        const char *name = (const char *)p + at;
        at += nlen;
        if (len - at < 4) {
            at = start;
            break;
        }
        uint32_t vlen = get_u32(p + at);
        at += 4;
        if (vlen > SECRET_MAX_VALUE || vlen > len - at || memchr(p + at, 0, vlen)) {
            at = start;
            break;
        }
        char *n = copy_bytes(name, nlen);
        char *v = copy_bytes(p + at, vlen);
        at += vlen;
        if (!n || !v) {
            free(n);
            wipe_free(v, (size_t)vlen + 1);
            return fail(err, errlen, "%s: out of memory", s->path);
        }
        /* Written in order, so each name must sort after the one before. */
        if (s->n && strcmp(s->items[s->n - 1].name, n) >= 0) {
            free(n);
            wipe_free(v, (size_t)vlen + 1);
            at = start;
            break;
        }
        if (!insert(s, s->n, n, v, vlen)) return fail(err, errlen, "%s: out of memory", s->path);
    }
    if (at != len)
        return fail(err, errlen,
                    "%s: decrypted, but the contents are malformed at byte %zu of %zu (written "
                    "by something other than wasp?)",
                    s->path, at, len);
    return true;
}

/* Checks the header, decrypts and parses file[0..flen) into s. */
static bool decode_file(host_secrets *s, const uint8_t *file, size_t flen, char *err,
                        size_t errlen) {
    if (flen < SECRET_MAGIC_LEN || memcmp(file, SECRET_MAGIC, SECRET_MAGIC_LEN - 1) != 0)
        return fail(err, errlen, "%s: not a wasp secrets file (no %s header)", s->path,
                    SECRET_MAGIC);
    uint8_t version = file[SECRET_MAGIC_LEN - 1];
    if (version != (uint8_t)SECRET_MAGIC[SECRET_MAGIC_LEN - 1])
        return fail(err, errlen,
                    "%s: secrets file format version '%c' is not supported (this wasp reads "
                    "version 1)",
                    s->path, version >= 0x20 && version < 0x7f ? version : '?');
    if (flen < SECRET_HEAD_LEN + SECRET_TAG_LEN)
        return fail(err, errlen, "%s: truncated secrets file (%zu bytes; at least %u)", s->path,
                    flen, (unsigned)(SECRET_HEAD_LEN + SECRET_TAG_LEN));
    size_t clen = flen - SECRET_HEAD_LEN;
    size_t plen = clen - SECRET_TAG_LEN;
    uint8_t *plain = sodium_malloc(plen + 1);
    if (!plain) return fail(err, errlen, "%s: out of memory", s->path);
    unsigned long long got = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, file + SECRET_HEAD_LEN,
                                                        clen, file, SECRET_MAGIC_LEN,
                                                        file + SECRET_MAGIC_LEN, s->key);
    bool ok;
    if (rc != 0 || got != plen)
        ok = fail(err, errlen, "%s: cannot decrypt: wrong key or corrupted file", s->path);
    else
        ok = parse_plain(s, plain, plen, err, errlen);
    sodium_free(plain);
    return ok;
}

host_secrets *host_secrets_open(const char *path, const uint8_t key[32], bool create, char *err,
                                size_t errlen) {
    if (!crypto_ready(err, errlen)) return NULL;
    host_secrets *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        fail(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    memcpy(s->key, key, 32);
    uint8_t *file = NULL;
    size_t flen = 0;
    bool missing;
    if (!read_whole(path, &file, &flen, &missing, err, errlen)) {
        if (missing && create) {
            if (err && errlen) err[0] = '\0';
            return s;
        }
        host_secrets_free(s);
        return NULL;
    }
    bool ok = decode_file(s, file, flen, err, errlen);
    free(file); /* ciphertext only: nothing to wipe */
    if (!ok) {
        host_secrets_free(s);
        return NULL;
    }
    return s;
}

/* ---- the set ------------------------------------------------------------ */

const char *host_secrets_get(const host_secrets *s, const char *name) {
    if (!name_ok(name, strlen(name))) return NULL;
    bool found;
    size_t i = find(s, name, &found);
    return found ? s->items[i].value : NULL;
}

size_t host_secrets_names(const host_secrets *s, const char **out, size_t max) {
    size_t n = s->n < max ? s->n : max;
    for (size_t i = 0; i < n; i++)
        out[i] = s->items[i].name;
    return n;
}

bool host_secrets_set(host_secrets *s, const char *name, const char *value, char *err,
                      size_t errlen) {
    size_t nlen = strlen(name);
    if (!name_ok(name, nlen)) return bad_name(err, errlen);
    size_t vlen = strlen(value);
    if (vlen > SECRET_MAX_VALUE)
        return fail(err, errlen, "secret %s: value too long (%zu bytes; at most %d)", name, vlen,
                    SECRET_MAX_VALUE);
    bool found;
    size_t i = find(s, name, &found);
    size_t old = found ? pair_len(nlen, s->items[i].vlen) : 0;
    if (s->plain_len - old + pair_len(nlen, vlen) > SECRET_MAX_PLAIN)
        return fail(err, errlen, "secret %s: the secrets file would exceed %u bytes", name,
                    SECRET_MAX_PLAIN);
    char *v = copy_bytes(value, vlen);
    if (!v) return fail(err, errlen, "secret %s: out of memory", name);
    if (found) {
        secret *e = &s->items[i];
        wipe_free(e->value, e->vlen + 1);
        s->plain_len = s->plain_len - old + pair_len(nlen, vlen);
        e->value = v;
        e->vlen = vlen;
        return true;
    }
    char *n = copy_bytes(name, nlen);
    if (!n) {
        wipe_free(v, vlen + 1);
        return fail(err, errlen, "secret %s: out of memory", name);
    }
    if (!insert(s, i, n, v, vlen)) return fail(err, errlen, "secret %s: out of memory", name);
    return true;
}

bool host_secrets_remove(host_secrets *s, const char *name) {
    if (!name_ok(name, strlen(name))) return false;
    bool found;
    size_t i = find(s, name, &found);
    if (!found) return false;
    s->plain_len -= pair_len(strlen(name), s->items[i].vlen);
    secret_free(&s->items[i]);
    memmove(s->items + i, s->items + i + 1, (s->n - i - 1) * sizeof *s->items);
    s->n--;
    return true;
}

void host_secrets_free(host_secrets *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        secret_free(&s->items[i]);
    free(s->items);
    free(s->path);
    sodium_memzero(s->key, sizeof s->key);
    free(s);
}

/* ---- writing ------------------------------------------------------------ */

static bool write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* fsyncs the directory that holds `path`, so that a rename into it is on
 * disk. */
static bool sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? copy_bytes(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        errno = ENOMEM;
        return false;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* Writes data[0..n) to path through path.tmp (see the top comment). */
static bool replace_file(const char *path, const uint8_t *data, size_t n, char *err,
                         size_t errlen) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return fail(err, errlen, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    /* A leftover from a crash is ours to replace; O_EXCL then makes sure
     * the file written is a new one with our mode, not something else's. */
    if (unlink(tmp) != 0 && errno != ENOENT) {
        fail(err, errlen, "%s: cannot remove the old %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return false;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        fail(err, errlen, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return false;
    }
    const char *step = NULL;
    if (!write_all(fd, data, n))
        step = "cannot write";
    else if (fsync(fd) != 0)
        step = "cannot sync";
    int e = errno;
    if (close(fd) != 0 && !step) {
        step = "cannot write";
        e = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "cannot rename it over the file";
        e = errno;
    }
    if (step) {
        fail(err, errlen, "%s: %s %s: %s", path, step, tmp, strerror(e));
        unlink(tmp);
        free(tmp);
        return false;
    }
    free(tmp);
    if (!sync_dir(path))
        return fail(err, errlen, "%s: written, but cannot sync its directory: %s", path,
                    strerror(errno));
    return true;
}

bool host_secrets_save(host_secrets *s, char *err, size_t errlen) {
    if (!crypto_ready(err, errlen)) return false;
    size_t plen = s->plain_len;
    uint8_t *plain = sodium_malloc(plen + 1);
    size_t flen = SECRET_HEAD_LEN + plen + SECRET_TAG_LEN;
    uint8_t *file = malloc(flen);
    if (!plain || !file) {
        if (plain) sodium_free(plain);
        free(file);
        return fail(err, errlen, "%s: out of memory", s->path);
    }
    size_t at = 0;
    for (size_t i = 0; i < s->n; i++) {
        const secret *e = &s->items[i];
        size_t nlen = strlen(e->name);
        put_u32(plain + at, (uint32_t)nlen);
        memcpy(plain + at + 4, e->name, nlen);
        at += 4 + nlen;
        put_u32(plain + at, (uint32_t)e->vlen);
        memcpy(plain + at + 4, e->value, e->vlen);
        at += 4 + e->vlen;
    }
    memcpy(file, SECRET_MAGIC, SECRET_MAGIC_LEN);
    randombytes_buf(file + SECRET_MAGIC_LEN, SECRET_NONCE_LEN);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + SECRET_HEAD_LEN, &clen, plain, plen, file,
                                               SECRET_MAGIC_LEN, NULL, file + SECRET_MAGIC_LEN,
                                               s->key);
    sodium_free(plain);
    bool ok = replace_file(s->path, file, flen, err, errlen);
    free(file);
    return ok;
}
