/*
 * random.c - random_get's bytes: a per-thread ChaCha20 generator keyed
 * from the kernel's CSPRNG, with fast key erasure.
 *
 * Why not getrandom(2) per call: Rust's std seeds every HashMap from
 * random_get, so a Rust handler asks once per request, and the system
 * call was 2% of a serde_json handler's server time. The design is the
 * one the Linux kernel's own generator and OpenBSD's arc4random use
 * (D. J. Bernstein, "Fast-key-erasure random-number generators", 2017):
 * each refill runs ChaCha20 under the current key; the first 32 bytes of
 * the stream become the next key, the rest is output, and bytes are
 * wiped as they are handed out, so a later look at the state reveals
 * neither earlier output nor earlier keys. Each thread draws a fresh key
 * from getrandom(2) every RESEED_BYTES of output and in a forked child.
 * Requests longer than the pool go to getrandom(2) directly.
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/random.h>

#include "wasi/internal.h"

#define POOL 256
#define RESEED_BYTES (64u * 1024u)

static _Thread_local struct {
    uint8_t key[crypto_stream_chacha20_KEYBYTES];
    uint8_t pool[POOL];
    size_t left;  /* unread bytes at the end of pool */
    size_t since; /* bytes handed out under keys derived from the last seed */
    unsigned gen; /* fork generation of the seed; 0: never seeded */
} rng;

/* Bumped in a forked child, so that it never repeats its parent's bytes. */
static unsigned fork_gen = 1;
static pthread_once_t init = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
    fork_gen++;
}

static bool sodium_ready;

/* Once per process: the fork hook, and libsodium's choice of its fastest
 * ChaCha20 for this CPU. */
static void init_once(void) {
    pthread_atfork(NULL, NULL, on_fork_child);
    sodium_ready = sodium_init() >= 0;
}

/* Fills p[0, len) from the kernel; 0 or an errno. */
static int from_kernel(uint8_t *p, size_t len) {
    for (size_t done = 0; done < len;) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        done += (size_t)n;
    }
    return 0;
}

/* A new key and a full pool. */
static int refill(void) {
    if (rng.gen != fork_gen || rng.since >= RESEED_BYTES) {
        int e = from_kernel(rng.key, sizeof rng.key);
        if (e) return e;
        rng.gen = fork_gen;
        rng.since = 0;
    }
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES]; /* a key is used once */
    uint8_t block[sizeof rng.key + POOL];
    crypto_stream_chacha20(block, sizeof block, nonce, rng.key);
    memcpy(rng.key, block, sizeof rng.key);
    memcpy(rng.pool, block + sizeof rng.key, POOL);
    sodium_memzero(block, sizeof block);
    rng.left = POOL;
    return 0;
}

int wasi_random_fill(uint8_t *p, size_t len) {
    pthread_once(&init, init_once);
    if (len > POOL || !sodium_ready) return from_kernel(p, len);
    if (rng.left < len || rng.gen != fork_gen) {
        int e = refill();
        if (e) return e;
    }
    uint8_t *src = rng.pool + POOL - rng.left;
    memcpy(p, src, len);
    sodium_memzero(src, len);
    rng.left -= len;
    rng.since += len;
    return 0;
}
