/*
 * test_random.c - random_get's generator (src/wasi/random.c): every
 * length is filled, no two draws repeat, the pool's refills and the
 * kernel path for long requests both give bytes, threads draw apart, and
 * a forked child does not repeat the bytes its parent draws next.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "wasi/internal.h"

/* True when p[0, n) has a nonzero byte; a 16-byte draw that is all zero
 * has probability 2^-128. */
static bool nonzero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return true;
    return false;
}

TEST(random_fills_every_length_and_never_repeats) {
    static const size_t lens[] = {0, 1, 16, 100, 255, 256, 257, 4096};
    uint8_t seen[64][16];
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t n = lens[k];
        uint8_t *a = malloc(n + 32), *b = malloc(n + 32);
        memset(a, 0, n + 32);
        memset(b, 0, n + 32);
        CHECK_EQ_S64(wasi_random_fill(a, n), 0);
        CHECK_EQ_S64(wasi_random_fill(b, n), 0);
        if (n >= 16) {
            CHECK(nonzero(a + n - 16, 16)); /* the end is filled too */
            CHECK(memcmp(a, b, n) != 0);
        }
        CHECK(!nonzero(a + n, 32)); /* and nothing past it */
        free(a);
        free(b);
    }
    /* 64 draws of 16 bytes span several refills of the 256-byte pool */
    for (int i = 0; i < 64; i++) {
        CHECK_EQ_S64(wasi_random_fill(seen[i], 16), 0);
        for (int j = 0; j < i; j++)
            CHECK(memcmp(seen[i], seen[j], 16) != 0);
    }
}

static void *draw(void *out) {
    wasi_random_fill(out, 32);
    return NULL;
}

TEST(random_threads_and_forked_children_draw_apart) {
    uint8_t mine[32], theirs[32];
    CHECK_EQ_S64(wasi_random_fill(mine, 32), 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, draw, theirs) == 0);
    pthread_join(t, NULL);
    CHECK(memcmp(mine, theirs, 32) != 0);
    /* the parent's next bytes against the child's first: a child that
     * kept the parent's state would draw the same */
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        uint8_t c[32];
        close(fds[0]);
        _exit(wasi_random_fill(c, 32) == 0 && write(fds[1], c, 32) == 32 ? 0 : 1);
    }
    close(fds[1]);
    uint8_t parent[32], child[32];
    CHECK_EQ_S64(wasi_random_fill(parent, 32), 0);
    CHECK(read(fds[0], child, 32) == 32);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(memcmp(parent, child, 32) != 0);
}
