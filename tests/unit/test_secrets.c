/*
 * test_secrets.c - the encrypted secrets file (host/secrets.c): set, get,
 * names, remove, save and reopen; the key from a file (raw or hex) and from
 * the environment, and each way a key is refused; a wrong key, every
 * single-byte change and every truncation of a saved file are rejected; the
 * limits on names and values. Error messages are checked for the words a
 * user acts on, and for never containing a secret's value. Each test works
 * in a fresh mkdtemp directory that it removes again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "host/host.h"
#include "unit.h"

/* A value that must never show up in a message. */
#define SECRET_VALUE "hunter2-Tr0ub4dor-3"

typedef struct tmp_dir {
    char dir[64];
    char file[96]; /* dir/s.sec */
    char other[96];
} tmp_dir;

static bool tmp_open(tmp_dir *t) {
    snprintf(t->dir, sizeof t->dir, "/tmp/wasp_secrets_XXXXXX");
    if (!mkdtemp(t->dir)) return unit_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
    snprintf(t->file, sizeof t->file, "%s/s.sec", t->dir);
    return true;
}

/* dir/name */
static const char *tmp_path(tmp_dir *t, const char *name) {
    snprintf(t->other, sizeof t->other, "%s/%s", t->dir, name);
    return t->other;
}

static void tmp_close(tmp_dir *t) {
    static const char *names[] = {"s.sec", "s.sec.tmp", "key", "key2", "copy.sec"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(t, names[i]));
    rmdir(t->dir);
}

static bool write_bytes(const char *path, const void *p, size_t n, mode_t mode) {
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = false;
    return ok && chmod(path, mode) == 0;
}

/* Reads a whole (small) file; returns its length, or 0 on failure. */
static size_t read_bytes(const char *path, uint8_t *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void key_of(uint8_t key[32], uint8_t seed) {
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(seed + i * 7);
}

/* Checks that `err` contains `phrase` and not the secret value. */
static void check_msg(const char *file, int line, const char *err, const char *phrase) {
    if (!strstr(err, phrase))
        unit_fail(file, line, "expected the message to contain \"%s\", got \"%s\"", phrase, err);
    if (strstr(err, SECRET_VALUE) || strstr(err, "hunter2"))
        unit_fail(file, line, "the message shows a secret value: \"%s\"", err);
}
#define CHECK_MSG(err, phrase) check_msg(__FILE__, __LINE__, (err), (phrase))

/* Writes a file holding API_TOKEN=SECRET_VALUE and db.password=pw under `key`. */
static bool make_file(const char *path, const uint8_t key[32]) {
    char err[512] = "";
    host_secrets *s = host_secrets_open(path, key, true, err, sizeof err);
    if (!s) return unit_fail(__FILE__, __LINE__, "open: %s", err);
    bool ok = host_secrets_set(s, "API_TOKEN", SECRET_VALUE, err, sizeof err) &&
              host_secrets_set(s, "db.password", "pw", err, sizeof err) &&
              host_secrets_save(s, err, sizeof err);
    host_secrets_free(s);
    if (!ok) return unit_fail(__FILE__, __LINE__, "make_file: %s", err);
    return true;
}

TEST(secrets_roundtrip) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 1);
    char err[512] = "";
    host_secrets *s = host_secrets_open(t.file, key, true, err, sizeof err);
    REQUIRE(s);
    const char *names[8];
    CHECK_EQ_U64(host_secrets_names(s, names, 8), 0);
    CHECK(host_secrets_set(s, "zeta", "last", err, sizeof err));
    CHECK(host_secrets_set(s, "API_TOKEN", SECRET_VALUE, err, sizeof err));
    CHECK(host_secrets_set(s, "db.password", "first value", err, sizeof err));
    CHECK(host_secrets_set(s, "db.password", "p\xc3\xa4ss\nword\x01", err, sizeof err));
    CHECK(host_secrets_set(s, "empty", "", err, sizeof err));
    CHECK(host_secrets_set(s, "gone", "soon", err, sizeof err));
    CHECK(host_secrets_remove(s, "gone"));
    CHECK(!host_secrets_remove(s, "gone"));
    CHECK(!host_secrets_remove(s, "bad name"));
    CHECK_STR(host_secrets_get(s, "API_TOKEN"), SECRET_VALUE);
    CHECK_STR(host_secrets_get(s, "gone"), NULL);
    CHECK(host_secrets_save(s, err, sizeof err));
    host_secrets_free(s);

    struct stat st;
    REQUIRE(stat(t.file, &st) == 0);
    CHECK_EQ_U64(st.st_mode & 0777, 0600);
    CHECK(access(tmp_path(&t, "s.sec.tmp"), F_OK) != 0);

    s = host_secrets_open(t.file, key, false, err, sizeof err);
    if (!s) unit_fail(__FILE__, __LINE__, "reopen: %s", err);
    REQUIRE(s);
    CHECK_STR(host_secrets_get(s, "API_TOKEN"), SECRET_VALUE);
    CHECK_STR(host_secrets_get(s, "db.password"), "p\xc3\xa4ss\nword\x01");
    CHECK_STR(host_secrets_get(s, "empty"), "");
    CHECK_STR(host_secrets_get(s, "zeta"), "last");
    CHECK_STR(host_secrets_get(s, "gone"), NULL);
    CHECK_STR(host_secrets_get(s, "api_token"), NULL);
    size_t n = host_secrets_names(s, names, 8);
    REQUIRE(n == 4);
    CHECK_STR(names[0], "API_TOKEN");
    CHECK_STR(names[1], "db.password");
    CHECK_STR(names[2], "empty");
    CHECK_STR(names[3], "zeta");
    /* A short array gets the first names, in order. */
    CHECK_EQ_U64(host_secrets_names(s, names, 2), 2);
    CHECK_STR(names[1], "db.password");

    /* Saving again writes a fresh nonce: same contents, different bytes. */
    uint8_t a[512], b[512];
    size_t na = read_bytes(t.file, a, sizeof a);
    CHECK(host_secrets_save(s, err, sizeof err));
    size_t nb = read_bytes(t.file, b, sizeof b);
    CHECK_EQ_U64(nb, na);
    CHECK(memcmp(a, b, na) != 0);
    CHECK_MEM(b, "WASPSEC1", 8);
    /* The plaintext does not appear in the file. */
    CHECK(!memmem(b, nb, SECRET_VALUE, strlen(SECRET_VALUE)));
    CHECK(!memmem(b, nb, "API_TOKEN", 9));
    host_secrets_free(s);
    tmp_close(&t);
}

TEST(secrets_many_names_sorted) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 2);
    char err[512] = "", name[16], value[32];
    host_secrets *s = host_secrets_open(t.file, key, true, err, sizeof err);
    REQUIRE(s);
    /* Inserted in a scrambled order. */
    for (int i = 0; i < 300; i++) {
        int k = (i * 97) % 300;
        snprintf(name, sizeof name, "k%03d", k);
        snprintf(value, sizeof value, "v%d", k);
        CHECK(host_secrets_set(s, name, value, err, sizeof err));
    }
    CHECK(host_secrets_save(s, err, sizeof err));
    host_secrets_free(s);
    s = host_secrets_open(t.file, key, false, err, sizeof err);
    REQUIRE(s);
    const char *names[400];
    REQUIRE(host_secrets_names(s, names, 400) == 300);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "k%03d", i);
        snprintf(value, sizeof value, "v%d", i);
        CHECK_STR(names[i], name);
        CHECK_STR(host_secrets_get(s, name), value);
    }
    host_secrets_free(s);
    tmp_close(&t);
}

TEST(secrets_missing_file) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 3);
    char err[512] = "";
    CHECK(!host_secrets_open(t.file, key, false, err, sizeof err));
    CHECK_MSG(err, "cannot open: No such file or directory");
    CHECK_MSG(err, t.file);
    /* With create, a missing file is an empty set, and nothing is written
     * until a save. */
    host_secrets *s = host_secrets_open(t.file, key, true, err, sizeof err);
    REQUIRE(s);
    CHECK(access(t.file, F_OK) != 0);
    CHECK(host_secrets_save(s, err, sizeof err));
    host_secrets_free(s);
    s = host_secrets_open(t.file, key, false, err, sizeof err);
    REQUIRE(s);
    const char *names[1];
    CHECK_EQ_U64(host_secrets_names(s, names, 1), 0);
    host_secrets_free(s);
    /* A directory is not a secrets file. */
    CHECK(!host_secrets_open(t.dir, key, true, err, sizeof err));
    CHECK_MSG(err, "not a regular file");
    tmp_close(&t);
}

TEST(secrets_wrong_key) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32], other[32];
    key_of(key, 4);
    key_of(other, 4);
    other[31] ^= 1;
    REQUIRE(make_file(t.file, key));
    char err[512] = "", want[256];
    CHECK(!host_secrets_open(t.file, other, false, err, sizeof err));
    snprintf(want, sizeof want, "%s: cannot decrypt: wrong key or corrupted file", t.file);
    CHECK_STR(err, want);
    CHECK_MSG(err, "wrong key");
    /* create does not turn a file that cannot be read into an empty one. */
    CHECK(!host_secrets_open(t.file, other, true, err, sizeof err));
    CHECK_STR(err, want);
    tmp_close(&t);
}

TEST(secrets_every_flipped_byte_rejected) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 5);
    REQUIRE(make_file(t.file, key));
    uint8_t orig[512], buf[512];
    size_t n = read_bytes(t.file, orig, sizeof orig);
    REQUIRE(n > 32 + 16);
    char copy_path[96];
    snprintf(copy_path, sizeof copy_path, "%s", tmp_path(&t, "copy.sec"));
    int accepted = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(buf, orig, n);
            buf[i] ^= (uint8_t)(1u << bit);
            REQUIRE(write_bytes(copy_path, buf, n, 0600));
            char err[512] = "";
            host_secrets *s = host_secrets_open(copy_path, key, false, err, sizeof err);
            if (s) {
                accepted++;
                unit_fail(__FILE__, __LINE__, "byte %zu bit %d flipped: the file still opened", i,
                          bit);
                host_secrets_free(s);
                continue;
            }
            if (i >= 8)
                CHECK_MSG(err, "cannot decrypt: wrong key or corrupted file");
            else if (i < 7)
                CHECK_MSG(err, "not a wasp secrets file");
            else
                CHECK_MSG(err, "is not supported");
        }
    }
    CHECK_EQ_S64(accepted, 0);
    tmp_close(&t);
}

TEST(secrets_every_truncation_rejected) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 6);
    REQUIRE(make_file(t.file, key));
    uint8_t orig[512];
    size_t n = read_bytes(t.file, orig, sizeof orig);
    REQUIRE(n > 48);
    char copy_path[96];
    snprintf(copy_path, sizeof copy_path, "%s", tmp_path(&t, "copy.sec"));
    for (size_t len = 0; len < n; len++) {
        REQUIRE(write_bytes(copy_path, orig, len, 0600));
        char err[512] = "";
        host_secrets *s = host_secrets_open(copy_path, key, true, err, sizeof err);
        if (s) {
            unit_fail(__FILE__, __LINE__, "cut at %zu of %zu bytes: the file still opened", len, n);
            host_secrets_free(s);
            continue;
        }
        if (len < 8)
            CHECK_MSG(err, "not a wasp secrets file");
        else if (len < 48)
            CHECK_MSG(err, "truncated secrets file");
        else
            CHECK_MSG(err, "cannot decrypt: wrong key or corrupted file");
    }
    /* Bytes appended are rejected too. */
    memcpy(orig + n, "x", 1);
    REQUIRE(write_bytes(copy_path, orig, n + 1, 0600));
    char err[512] = "";
    CHECK(!host_secrets_open(copy_path, key, false, err, sizeof err));
    CHECK_MSG(err, "cannot decrypt");
    tmp_close(&t);
}

TEST(secrets_key_from_env) {
    uint8_t key[32];
    char err[512] = "";
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    setenv("WASP_TEST_SECRETS_KEY", hex, 1);
    CHECK(host_secrets_key(NULL, "WASP_TEST_SECRETS_KEY", key, err, sizeof err));
    for (int i = 0; i < 32; i++)
        CHECK_EQ_U64(key[i], i);

    static const char *bad[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",   /* 63 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0", /* 65 */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",  /* not hex */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WASP_TEST_SECRETS_KEY", bad[i], 1);
        err[0] = '\0';
        CHECK(!host_secrets_key(NULL, "WASP_TEST_SECRETS_KEY", key, err, sizeof err));
        CHECK_MSG(err, "environment variable WASP_TEST_SECRETS_KEY: not a secrets key");
        CHECK(!strstr(err, "0001020304"));
    }
    unsetenv("WASP_TEST_SECRETS_KEY");
    CHECK(!host_secrets_key(NULL, "WASP_TEST_SECRETS_KEY", key, err, sizeof err));
    CHECK_MSG(err, "WASP_TEST_SECRETS_KEY is not set");
    setenv("WASP_TEST_SECRETS_KEY", "", 1);
    CHECK(!host_secrets_key(NULL, "WASP_TEST_SECRETS_KEY", key, err, sizeof err));
    CHECK_MSG(err, "is not set");
    unsetenv("WASP_TEST_SECRETS_KEY");
    CHECK(!host_secrets_key(NULL, NULL, key, err, sizeof err));
    CHECK_MSG(err, "no secrets key");
}

TEST(secrets_key_from_file) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    char path[96];
    snprintf(path, sizeof path, "%s", tmp_path(&t, "key"));
    uint8_t key[32], want[32];
    char err[512] = "";
    key_of(want, 7);

    /* 32 raw bytes. */
    REQUIRE(write_bytes(path, want, 32, 0600));
    CHECK(host_secrets_key(path, "WASP_TEST_UNSET_KEY", key, err, sizeof err));
    CHECK_MEM(key, want, 32);

    /* 64 hex digits, with and without a newline; the file wins over the
     * environment. */
    char hex[66];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", want[i]);
    setenv("WASP_TEST_SECRETS_KEY", "ff", 1);
    hex[64] = '\n';
    REQUIRE(write_bytes(path, hex, 65, 0600));
    memset(key, 0, 32);
    CHECK(host_secrets_key(path, "WASP_TEST_SECRETS_KEY", key, err, sizeof err));
    CHECK_MEM(key, want, 32);
    REQUIRE(write_bytes(path, hex, 64, 0400));
    memset(key, 0, 32);
    CHECK(host_secrets_key(path, NULL, key, err, sizeof err));
    CHECK_MEM(key, want, 32);
    unsetenv("WASP_TEST_SECRETS_KEY");

    /* Open to group or others: refused, saying how to fix it. */
    static const mode_t open_modes[] = {0644, 0640, 0604, 0660, 0602};
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes[0]; i++) {
        REQUIRE(chmod(path, open_modes[i]) == 0);
        err[0] = '\0';
        CHECK(!host_secrets_key(path, NULL, key, err, sizeof err));
        CHECK_MSG(err, "chmod 600");
        CHECK_MSG(err, path);
    }
    REQUIRE(chmod(path, 0644) == 0);
    CHECK(!host_secrets_key(path, NULL, key, err, sizeof err));
    CHECK_MSG(err, "permissions 0644 are too open");

    /* Wrong contents: never echoed. */
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        {"", 0},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", 63},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n", 66},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX\n", 65},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", 65},
        {"0123456789abcdef0123456789abcdef0", 33},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REQUIRE(write_bytes(path, bad[i].text, bad[i].len, 0600));
        err[0] = '\0';
        CHECK(!host_secrets_key(path, NULL, key, err, sizeof err));
        CHECK_MSG(err, "not a secrets key: want 32 raw bytes or 64 hex digits");
        CHECK(!strstr(err, "0123456789"));
    }

    /* Missing, or a directory. */
    CHECK(!host_secrets_key(tmp_path(&t, "key2"), NULL, key, err, sizeof err));
    CHECK_MSG(err, "cannot open: No such file or directory");
    REQUIRE(chmod(t.dir, 0700) == 0);
    CHECK(!host_secrets_key(t.dir, NULL, key, err, sizeof err));
    CHECK_MSG(err, "not a regular file");
    tmp_close(&t);
}

TEST(secrets_names_validated) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 8);
    char err[512] = "";
    host_secrets *s = host_secrets_open(t.file, key, true, err, sizeof err);
    REQUIRE(s);
    char longest[130];
    memset(longest, 'n', 128);
    longest[128] = '\0';
    CHECK(host_secrets_set(s, longest, "v", err, sizeof err));
    CHECK(host_secrets_set(s, "a", "v", err, sizeof err));
    CHECK(host_secrets_set(s, "Az09_.-", "v", err, sizeof err));
    longest[128] = 'n';
    longest[129] = '\0';
    static const char *bad[] = {"",
                                "with space",
                                "slash/name",
                                "dollar$",
                                "caf\xc3\xa9",
                                "tab\t",
                                "new\nline",
                                "hunter2 is my password"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(!host_secrets_set(s, bad[i], "v", err, sizeof err));
        CHECK_MSG(err, "invalid secret name");
        CHECK(!host_secrets_get(s, bad[i]));
    }
    CHECK(!host_secrets_set(s, longest, "v", err, sizeof err));
    CHECK_MSG(err, "invalid secret name: want 1 to 128 characters");
    CHECK(!strstr(err, "nnnn"));
    CHECK(!host_secrets_get(s, longest));
    const char *names[8];
    CHECK_EQ_U64(host_secrets_names(s, names, 8), 3);
    host_secrets_free(s);
    tmp_close(&t);
}

TEST(secrets_value_limits) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 9);
    char err[512] = "";
    host_secrets *s = host_secrets_open(t.file, key, true, err, sizeof err);
    REQUIRE(s);
    size_t len = 65536 + 1;
    char *big = malloc(len + 1);
    REQUIRE(big);
    /* The value repeats SECRET_VALUE, so that an echo of any part shows. */
    for (size_t i = 0; i < len; i++)
        big[i] = SECRET_VALUE[i % strlen(SECRET_VALUE)];
    big[len] = '\0';
    CHECK(!host_secrets_set(s, "BIG", big, err, sizeof err));
    CHECK_MSG(err, "secret BIG: value too long (65537 bytes; at most 65536)");
    big[65536] = '\0';
    CHECK(host_secrets_set(s, "BIG", big, err, sizeof err));
    CHECK(host_secrets_save(s, err, sizeof err));
    host_secrets_free(s);
    s = host_secrets_open(t.file, key, false, err, sizeof err);
    REQUIRE(s);
    const char *v = host_secrets_get(s, "BIG");
    CHECK(v && strlen(v) == 65536 && memcmp(v, big, 65536) == 0);
    host_secrets_free(s);
    free(big);
    tmp_close(&t);
}

TEST(secrets_save_failures) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 10);
    char err[512] = "";
    /* A leftover FILE.tmp (a crash mid-save) is replaced. */
    REQUIRE(write_bytes(tmp_path(&t, "s.sec.tmp"), "junk", 4, 0644));
    REQUIRE(make_file(t.file, key));
    CHECK(access(tmp_path(&t, "s.sec.tmp"), F_OK) != 0);

    /* The directory is gone by the time of the save. */
    char gone[128];
    snprintf(gone, sizeof gone, "%s/sub", t.dir);
    REQUIRE(mkdir(gone, 0700) == 0);
    char file[160];
    snprintf(file, sizeof file, "%s/s.sec", gone);
    host_secrets *s = host_secrets_open(file, key, true, err, sizeof err);
    REQUIRE(s);
    CHECK(host_secrets_set(s, "API_TOKEN", SECRET_VALUE, err, sizeof err));
    REQUIRE(rmdir(gone) == 0);
    CHECK(!host_secrets_save(s, err, sizeof err));
    CHECK_MSG(err, "cannot create");
    CHECK_MSG(err, "s.sec.tmp: No such file or directory");
    host_secrets_free(s);

    /* A failed save leaves the old file as it was. */
    uint8_t before[512], after[512];
    size_t nb = read_bytes(t.file, before, sizeof before);
    s = host_secrets_open(t.file, key, false, err, sizeof err);
    REQUIRE(s);
    CHECK(host_secrets_set(s, "new", "value", err, sizeof err));
    REQUIRE(mkdir(tmp_path(&t, "s.sec.tmp"), 0700) == 0); /* cannot be unlinked */
    CHECK(!host_secrets_save(s, err, sizeof err));
    CHECK_MSG(err, "s.sec.tmp");
    CHECK(rmdir(tmp_path(&t, "s.sec.tmp")) == 0);
    size_t na = read_bytes(t.file, after, sizeof after);
    CHECK_EQ_U64(na, nb);
    CHECK(memcmp(before, after, nb) == 0);
    host_secrets_free(s);
    tmp_close(&t);
}

/* Writes a secrets file by hand, following the format in host/secrets.c's
 * top comment: "WASPSEC1", a nonce, then plain[0..len) sealed with the
 * header as additional data. */
static bool seal(const char *path, const uint8_t key[32], const void *plain, size_t len) {
    uint8_t file[1024];
    if (sodium_init() < 0 || 32 + len + 16 > sizeof file) return false;
    memcpy(file, "WASPSEC1", 8);
    randombytes_buf(file + 8, 24);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + 32, &clen, plain, len, file, 8, NULL,
                                               file + 8, key);
    return write_bytes(path, file, 32 + (size_t)clen, 0600);
}

TEST(secrets_file_format) {
    tmp_dir t = {0};
    REQUIRE(tmp_open(&t));
    uint8_t key[32];
    key_of(key, 11);
    char err[512] = "";

    /* A file made by hand to the documented format opens. */
    static const char good[] = "\x01\0\0\0A\x02\0\0\0hi"
                               "\x03\0\0\0b.c\0\0\0\0";
    REQUIRE(seal(t.file, key, good, sizeof good - 1));
    host_secrets *s = host_secrets_open(t.file, key, false, err, sizeof err);
    if (!s) unit_fail(__FILE__, __LINE__, "open: %s", err);
    REQUIRE(s);
    CHECK_STR(host_secrets_get(s, "A"), "hi");
    CHECK_STR(host_secrets_get(s, "b.c"), "");
    host_secrets_free(s);
    REQUIRE(seal(t.file, key, "", 0));
    s = host_secrets_open(t.file, key, false, err, sizeof err);
    REQUIRE(s);
    const char *names[4];
    CHECK_EQ_U64(host_secrets_names(s, names, 4), 0);
    host_secrets_free(s);

    /* Sealed correctly, but not a list of pairs wasp would write. */
    static const struct {
        const char *what, *plain;
        size_t len;
        size_t at; /* the byte the message points at */
    } bad[] = {
        {"names out of order", "\x01\0\0\0B\0\0\0\0\x01\0\0\0A\0\0\0\0", 18, 9},
        {"a name twice", "\x01\0\0\0A\0\0\0\0\x01\0\0\0A\0\0\0\0", 18, 9},
        {"an empty name", "\0\0\0\0\0\0\0\0", 8, 0},
        {"a name with a space", "\x03\0\0\0a b\0\0\0\0", 11, 0},
        {"a name longer than the rest", "\xff\0\0\0AB", 6, 0},
        {"a value with a NUL", "\x01\0\0\0A\x03\0\0\0a\0b", 12, 0},
        {"a value longer than the rest", "\x01\0\0\0A\x09\0\0\0abc", 12, 0},
        {"a value over 64 KiB", "\x01\0\0\0A\x01\0\x01\0", 9, 0},
        {"three stray bytes", "\x01\0\0\0A\0\0\0\0xyz", 12, 9},
        {"a name and no value length", "\x01\0\0\0A\0\0", 7, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REQUIRE(seal(t.file, key, bad[i].plain, bad[i].len));
        err[0] = '\0';
        s = host_secrets_open(t.file, key, false, err, sizeof err);
        if (s) {
            unit_fail(__FILE__, __LINE__, "%s: the file opened", bad[i].what);
            host_secrets_free(s);
            continue;
        }
        char want[128];
        snprintf(want, sizeof want, "decrypted, but the contents are malformed at byte %zu of %zu",
                 bad[i].at, bad[i].len);
        if (!strstr(err, want))
            unit_fail(__FILE__, __LINE__, "%s: expected \"%s\" in \"%s\"", bad[i].what, want, err);
    }

    /* Not a secrets file at all, and a later version. */
    REQUIRE(write_bytes(t.file, "hello, world: this is not a secrets file at all", 46, 0600));
    CHECK(!host_secrets_open(t.file, key, false, err, sizeof err));
    CHECK_MSG(err, "not a wasp secrets file (no WASPSEC1 header)");
    uint8_t v2[64] = "WASPSEC2";
    REQUIRE(write_bytes(t.file, v2, sizeof v2, 0600));
    CHECK(!host_secrets_open(t.file, key, false, err, sizeof err));
    CHECK_MSG(err, "format version '2' is not supported");
    tmp_close(&t);
}
