/*
 * util.h - the small pieces every layer of wasp uses: a bump arena for data
 * that lives as long as its owner, LEB128 readers bounded exactly as the
 * WebAssembly spec bounds them, a UTF-8 checker, and the one way host code
 * waits (util_poll), which a server can turn into a suspension; and the
 * loader of the libraries only serving needs (util_dynlib_load).
 *
 * Nothing here allocates behind the caller's back except the arena, and
 * nothing here prints or exits: failures are return values. The one
 * exception is a bug in wasp, not a failure: a function of a library
 * called before util_dynlib_load opened it stops the process (dynlib.h).
 */
#ifndef WASP_UTIL_H
#define WASP_UTIL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ------------------------------------------------------------ */

/* A bump allocator. Every block it hands out lives until util_arena_free();
 * there is no per-block free. Zero-initialise the struct to start. */
typedef struct util_arena_chunk util_arena_chunk;
typedef struct util_arena {
    util_arena_chunk *head;
    size_t total; /* bytes handed out, for reporting */
} util_arena;

/* Returns `size` bytes aligned to 16, zero-filled, or NULL when out of
 * memory (or when size overflows). The arena owns the block. */
void *util_arena_alloc(util_arena *a, size_t size);
/* Like util_arena_alloc for `n` elements of `size` bytes; NULL on overflow. */
void *util_arena_calloc(util_arena *a, size_t n, size_t size);
/* Copies `len` bytes into the arena and appends a NUL (the copy may contain
 * NULs itself; callers keep the length). NULL when out of memory. */
char *util_arena_strndup(util_arena *a, const void *s, size_t len);
/* Frees every block of the arena; the arena is empty and reusable after. */
void util_arena_free(util_arena *a);

/* ---- LEB128 ----------------------------------------------------------- */

/* Result codes of the LEB128 readers. */
typedef enum {
    UTIL_LEB_OK = 0,
    UTIL_LEB_EOF,      /* input ended inside the number */
    UTIL_LEB_TOO_LONG, /* more bytes than ceil(N/7) */
    UTIL_LEB_UNUSED,   /* the last byte sets bits beyond N (or, signed, not a
                        * sign extension) */
} util_leb_status;

/* Each reader decodes one number starting at *p, not reading at or past
 * `end`, and on success advances *p past it. On failure *p is left at the
 * byte where the problem was found. N is the bit width named in the
 * function (s33 is the block-type index encoding). */
util_leb_status util_leb_u32(const uint8_t **p, const uint8_t *end, uint32_t *out);
util_leb_status util_leb_u64(const uint8_t **p, const uint8_t *end, uint64_t *out);
util_leb_status util_leb_s32(const uint8_t **p, const uint8_t *end, int32_t *out);
util_leb_status util_leb_s33(const uint8_t **p, const uint8_t *end, int64_t *out);
util_leb_status util_leb_s64(const uint8_t **p, const uint8_t *end, int64_t *out);
/* A short phrase for a status, e.g. "integer representation too long". */
const char *util_leb_strerror(util_leb_status s);

/* Encodes `v` as unsigned LEB128 into buf (at least 10 bytes); returns the
 * number of bytes written. For tests and tools that build modules. */
size_t util_leb_put_u64(uint8_t *buf, uint64_t v);
/* Signed counterpart of util_leb_put_u64. */
size_t util_leb_put_s64(uint8_t *buf, int64_t v);

/* ---- UTF-8 ------------------------------------------------------------ */

/* True when s[0..len) is well-formed UTF-8 as Unicode defines it: no
 * overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 * When false and bad_at is not NULL, *bad_at is the offset of the first bad
 * byte. */
bool util_utf8_valid(const uint8_t *s, size_t len, size_t *bad_at);

/* ---- waiting (wait.c) ------------------------------------------------- */

/* Host code (WASI, the capabilities) that waits for descriptors or for
 * time calls util_poll, never poll(2) or a sleep: by default it is poll(2),
 * but a thread can install a poller of its own. `wasp serve` does, on its
 * workers: a request's guest call runs on a fiber, and the poller suspends
 * that fiber until a descriptor is ready or the time is up, while the
 * worker runs other requests. So a host function written as a plain poll
 * loop serves thousands of waiting requests per thread. */
typedef int (*util_poll_fn)(void *self, struct pollfd *fds, nfds_t n, int timeout_ms);

/* A wait for a signal from other code rather than from a descriptor: an
 * acquire queued for a pooled connection that a release hands over, a
 * command whose reply another request reads off a shared connection.
 * Lives on the waiter's stack:
 *
 *   util_waiter w;
 *   util_waiter_init(&w);              (on the thread that will wait)
 *   ...publish &w where a waker finds it...
 *   util_waiter_wait(&w, timeout_ms);  (returns at once if woken before)
 *   ...unpublish &w...
 *   util_waiter_done(&w);
 *
 * util_waiter_wake may run on any thread, at most once per init, and must
 * have returned before the waiter calls util_waiter_done: a waker that
 * wakes under the lock that guards where &w was published, and a waiter
 * that takes that lock to unpublish it, ensure this. On a thread whose
 * poller can park (`wasp serve`'s workers) the request is suspended and no
 * system call is made when the wake comes from the same thread; elsewhere
 * the thread sleeps on a futex. */
typedef struct util_waiter {
    _Atomic int woken;                /* 1 once util_waiter_wake ran; the futex word */
    const struct util_parker *parker; /* what suspends the task; NULL: the futex */
    void *self, *task;
    _Atomic int queued; /* a wake from another thread awaits its parker */
    struct util_waiter *next_queued;
} util_waiter;

/* What a poller that can suspend tasks offers beyond polling. */
typedef struct util_parker {
    util_poll_fn poll;
    /* The task running now on this thread that may park, or NULL. */
    void *(*current)(void *self);
    /* Suspends the current task until w is woken or timeout_ms (-1: none)
     * passes; false when the task must not wait (it is being cancelled). */
    bool (*park)(void *self, util_waiter *w, int timeout_ms);
    /* Makes w's task ready: local is true on the parker's own thread. */
    void (*unpark)(void *self, util_waiter *w, bool local);
    /* On the parker's thread: w will not be waited on again; drops a wake
     * from another thread still queued for it. */
    void (*forget)(void *self, util_waiter *w);
    /* Has fn(arg) run once before the thread next waits for events; false
     * when it cannot (the caller then does the work now). */
    bool (*defer)(void *self, void (*fn)(void *), void *arg);
} util_parker;

/* Installs p (with self) as the calling thread's poller and parker; NULL
 * restores poll(2) and the futex. */
void util_set_parker(const util_parker *p, void *self);
void util_waiter_init(util_waiter *w);
/* True when woken (now or before), false when timeout_ms (-1: none)
 * passed first or the task is being cancelled. */
bool util_waiter_wait(util_waiter *w, int timeout_ms);
void util_waiter_wake(util_waiter *w);
void util_waiter_done(util_waiter *w);

/* Runs fn(arg) once on this thread before it next waits for events, so
 * that work several requests ask for in one turn of the thread's loop is
 * done once for all: a write of the commands they pipelined on a shared
 * connection, say. False, and nothing deferred, where that cannot be (a
 * plain thread, or code not running as a task that suspends): the caller
 * then does it at once. */
bool util_defer(void (*fn)(void *), void *arg);

/* poll(2)'s contract: fills revents, returns how many descriptors are
 * ready, 0 when timeout_ms (-1: none) passed first, -1 with errno. n may be
 * 0 (a sleep). */
int util_poll(struct pollfd *fds, nfds_t n, int timeout_ms);
/* CLOCK_MONOTONIC in milliseconds: what every wait's time limit is
 * measured on. */
uint64_t util_mono_ms(void);

/* ---- libraries opened when needed (dynlib.c) --------------------------- */

/* The libraries that only `wasp serve` needs. Linked, they and the ~35
 * libraries they bring (TLS, Kerberos, LDAP, ...) added about 20 ms to
 * every start of wasp, `wasp run` and `wasp version` included.
 * So build/wasp is not linked with them: each function wasp calls in them
 * is a stub under the function's own name that jumps through a slot which
 * util_dynlib_load fills (dynlib_stubs.c), and call sites read as if the
 * library were linked. Programs that are linked with them (unit tests,
 * fuzz targets, benchmarks) have no stubs; util_dynlib_load finds the
 * libraries already loaded there. */
enum {
    UTIL_LIB_H2O = 1u << 0,     /* libh2o-evloop: the HTTP front end */
    UTIL_LIB_CURL = 1u << 1,    /* libcurl: outbound HTTP */
    UTIL_LIB_PQ = 1u << 2,      /* libpq: PostgreSQL databases */
    UTIL_LIB_SQLITE = 1u << 3,  /* libsqlite3: the embedded kv and sql backends */
    UTIL_LIB_YAML = 1u << 4,    /* libyaml: manifests */
    UTIL_LIB_HIREDIS = 1u << 5, /* libhiredis: Redis stores */
};

/* Opens each library in `libs` (UTIL_LIB_* bits) that is not open yet and
 * binds every function wasp takes from it; libraries stay open until the
 * process exits. Call it before any of their functions runs: in build/wasp
 * a function whose library is not open says so and aborts. Returns true
 * when all are ready. False, with nothing of the failing
 * library bound, when one cannot be loaded or lacks a function wasp calls
 * (an older version): err then names the library, the reason and the
 * Debian package to install. Thread-safe; cheap once loaded. */
bool util_dynlib_load(unsigned libs, char *err, size_t errlen);

#endif
