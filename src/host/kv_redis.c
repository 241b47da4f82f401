/*
 * kv_redis.c - the Redis backend of the key-value stores, through
 * hiredis, so that many wasp replicas can share a store.
 *
 * Sharing. Every handle on a thread (a worker of `wasp serve`) that names
 * the same server, database and credentials shares one connection, a
 * link, with the commands of all its requests pipelined on it: a command
 * is appended to hiredis's output buffer and its caller queued for the
 * reply; replies come back in the order sent. On a worker the commands
 * appended during one turn of its loop are written together before it
 * next waits for events (util_defer, link_flush), so Redis reads them in
 * one read and answers them in one write: at 64 connections this cut
 * Redis's CPU per GET by two thirds. Elsewhere each is written at once. One
 * caller at a time reads, for everyone: it hands each reply to its
 * caller and wakes it (util_waiter: in `wasp serve` a suspended request,
 * woken with no system call), and when its own reply is in, it hands the
 * reading to the oldest caller still waiting. So a worker serving many
 * requests at once has one socket to Redis, and one read can bring back
 * many replies. Waiting - for the socket with util_poll, for a reply with
 * util_waiter - suspends the request while its worker serves others, and
 * is bounded by the store's timeout and the request's deadline.
 *
 * A caller whose deadline comes (or whose request is cancelled) leaves
 * its queued command behind, abandoned: whoever reads its reply frees it.
 * Only the reader breaks the link, when the server kept it waiting for
 * the store's whole timeout or the connection failed: every queued
 * caller then fails with the reason (the link is out of step with them),
 * and the next command connects again.
 *
 * Every key is sent as the store's configured prefix followed by the
 * key's bytes, as one binary-safe argument (hiredis's "%b%b"), so stores
 * and other users of a shared server do not see each other's keys. The
 * commands are Redis's own: GET, SET (PX for a TTL), DEL, EXISTS, INCRBY,
 * and SCAN with a MATCH pattern whose glob characters are escaped for
 * list, which then sorts what SCAN found (SCAN has no order and may repeat
 * a key) and keeps the first `limit`.
 *
 * A command that may run twice without harm is retried once, on a
 * fresh connection, right away; INCRBY is not, because the server may have
 * applied it before the connection broke: the caller gets an error saying
 * so.
 *
 * hiredis writes with write(2): a process using this backend must ignore
 * or block SIGPIPE (srv_serve blocks it), or a server that went away kills
 * it.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "host/internal.h"
#include "util/util.h"
#include "wasm/wasm.h"

#define DEFAULT_PORT 6379
#define DEFAULT_TIMEOUT_MS 2000
#define URL_FORM "redis://[:password@]host[:port][/db]"

/* A command sent on a link whose reply is awaited. On the heap: a caller
 * that gives up (its deadline) leaves it to the reader, who frees it with
 * its reply when that comes. */
typedef struct rd_call {
    util_waiter wait;
    redisReply *reply; /* the caller's once done */
    bool done;         /* the reply is in, or the link broke (reply NULL) */
    bool abandoned;    /* its caller left: whoever reads its reply frees both */
    char lost[128];    /* why the link broke */
    struct rd_call *next;
} rd_call;

/* One connection per server, database and credentials per thread (a
 * worker), shared by every handle and request there, with commands
 * pipelined: see "Sharing" at the top of this file. */
typedef struct rd_link {
    pthread_t owner;
    char *host, *user, *password; /* the key, with port and db; copies */
    int port, db;
    redisContext *c;      /* NULL while disconnected */
    rd_call *head, *tail; /* sent, reply awaited, oldest first */
    bool reading;         /* a caller reads replies for all */
    bool flush_pending;   /* link_flush will write the appended commands (util_defer) */
    bool connecting;      /* a caller is connecting it */
    int refs;             /* handles using it; under links_lock */
    struct rd_link *next; /* in `links` */
} rd_link;

static pthread_mutex_t links_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_link *links;

typedef struct kv_redis {
    host_kv base;
    rd_link *link;   /* this thread's, found on first use (link_for) */
    char *host;      /* without brackets, as hiredis wants it */
    char where[300]; /* "host:port" ("[v6]:port") for messages */
    int port, db;
    char *user, *password; /* NULL when the url gives none */
    char *prefix;          /* never NULL ("" for none) */
    size_t prefix_len;
    struct timeval timeout;
} kv_redis;

/* ---- the url --------------------------------------------------------------- */

/* Copies s[0..n) decoding %XX escapes (so a password can hold '@' or
 * ':'); NULL when an escape is malformed or decodes to NUL. */
static char *percent_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        unsigned v = 0;
        for (int d = 1; d <= 2; d++) {
            char c = i + (size_t)d < n ? s[i + (size_t)d] : '\0';
            unsigned x = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                                : 16;
            if (x == 16) {
                free(out);
                return NULL;
            }
            v = v * 16 + x;
        }
        if (v == 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)v;
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* Parses s[0..n) as a decimal number in [min, max]. */
static bool parse_num(const char *s, size_t n, long min, long max, long *out) {
    if (n == 0 || n > 9) return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) return false;
    *out = v;
    return true;
}

/* Fills host, port, db, user and password from the url. The messages
 * never repeat the url: it may hold the password. */
static bool parse_url(kv_redis *r, const char *url, char *err, size_t errlen) {
    const char *name = r->base.name;
    if (!url || !*url) {
        host_kv_fail(name, err, errlen, "no url given (the store's `url`, " URL_FORM ")");
        return false;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        host_kv_fail(name, err, errlen, "url: TLS (rediss://) is not supported; use " URL_FORM);
        return false;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        host_kv_fail(name, err, errlen, "url must start with redis:// (" URL_FORM ")");
        return false;
    }
    const char *p = url + 8, *end = p + strlen(p);
    /* the last '@': a password may hold '/' or '@' without escaping them */
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            host_kv_fail(name, err, errlen,
                         "url: the part before '@' must be :password or user:password (" URL_FORM
                         ")");
            return false;
        }
        if (colon > p && !(r->user = percent_decode(p, (size_t)(colon - p)))) {
            host_kv_fail(name, err, errlen, "url: the user name has a bad %%-escape");
            return false;
        }
        if (!(r->password = percent_decode(colon + 1, (size_t)(at - colon - 1)))) {
            host_kv_fail(name, err, errlen, "url: the password has a bad %%-escape");
            return false;
        }
        p = at + 1;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            host_kv_fail(name, err, errlen, "url: IPv6 address without its closing ']'");
            return false;
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        p = host_end;
    }
    if (host_end == host) {
        host_kv_fail(name, err, errlen, "url: no host name (" URL_FORM ")");
        return false;
    }
    if (!(r->host = strndup(host, (size_t)(host_end - host)))) {
        host_kv_fail(name, err, errlen, "out of memory");
        return false;
    }
    long port = DEFAULT_PORT, db = 0;
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/");
        if (!parse_num(p + 1, n, 1, 65535, &port)) {
            host_kv_fail(name, err, errlen, "url: port \"%.*s\" is not a number from 1 to 65535",
                         (int)(n > 20 ? 20 : n), p + 1);
            return false;
        }
        p += 1 + n;
    }
    if (*p == '/' && p + 1 < end) {
        if (!parse_num(p + 1, (size_t)(end - p - 1), 0, 1000000, &db)) {
            host_kv_fail(name, err, errlen,
                         "url: database \"%.20s\" after the '/' is not a number (" URL_FORM ")",
                         p + 1);
            return false;
        }
    } else if (*p != '/' && *p != '\0') {
        host_kv_fail(name, err, errlen, "url: unexpected \"%.20s\" after the host (" URL_FORM ")",
                     p);
        return false;
    }
    r->port = (int)port;
    r->db = (int)db;
    bool v6 = strchr(r->host, ':') != NULL;
    snprintf(r->where, sizeof r->where, "%s%.256s%s:%d", v6 ? "[" : "", r->host, v6 ? "]" : "",
             r->port);
    return true;
}

/* ---- the connection -------------------------------------------------------- */

static uint32_t timeout_ms(const kv_redis *r) {
    return (uint32_t)(r->timeout.tv_sec * 1000 + r->timeout.tv_usec / 1000);
}

/* Waits (util_poll) until c's socket is ready for `events` or `until`
 * (CLOCK_MONOTONIC ms) passes; false on the latter, or when the guest call
 * must stop. */
static bool wait_socket(redisContext *c, short events, uint64_t until) {
    for (;;) {
        uint64_t now = util_mono_ms();
        if (now >= until || wasm_call_should_stop(NULL)) return false;
        struct pollfd p = {.fd = c->fd, .events = events};
        int rc = util_poll(&p, 1, (int)(until - now));
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
    }
}

/* One command on a non-blocking context: appended, written and its reply
 * read by `until`. The reply, or NULL: *timed_out tells a timeout (or a
 * stopped call) from a broken connection (c->err). */
static redisReply *roundtrip(redisContext *c, uint64_t until, bool *timed_out, const char *fmt,
                             va_list ap) {
    *timed_out = false;
    if (redisvAppendCommand(c, fmt, ap) != REDIS_OK) return NULL;
    int done = 0;
    while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK) return NULL;
        if (!done && !wait_socket(c, POLLOUT, until)) {
            *timed_out = true;
            return NULL;
        }
    }
    void *reply = NULL;
    for (;;) {
        if (redisGetReply(c, &reply) != REDIS_OK) return NULL;
        if (reply) return reply;
        if (!wait_socket(c, POLLIN, until)) {
            *timed_out = true;
            return NULL;
        }
        if (redisBufferRead(c) != REDIS_OK) return NULL;
    }
}

static redisReply *roundtripf(redisContext *c, uint64_t until, bool *timed_out, const char *fmt,
                              ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = roundtrip(c, until, timed_out, fmt, ap);
    va_end(ap);
    return rep;
}

/* Connects (without blocking the thread), authenticates and selects the
 * database: the context in *out, or NULL with a message. */
static int connect_redis(kv_redis *r, redisContext **out, char *err, size_t errlen) {
    *out = NULL;
    const char *name = r->base.name;
    /* never past the request's deadline (command() checked it has not passed) */
    uint32_t wait = host_wait_ms(timeout_ms(r));
    uint64_t until = util_mono_ms() + (wait ? wait : 1);
    redisContext *c = redisConnectNonBlock(r->host, r->port);
    if (!c)
        return host_kv_fail(name, err, errlen, "cannot connect to redis at %s: out of memory",
                            r->where);
    if (!c->err) {
        /* the connect completes when the socket is writable; SO_ERROR says how */
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (!wait_socket(c, POLLOUT, until))
            soerr = ETIMEDOUT;
        else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        if (soerr) {
            host_kv_fail(name, err, errlen, "cannot connect to redis at %s: %s", r->where,
                         soerr == ETIMEDOUT ? "no connection within the timeout" : strerror(soerr));
            redisFree(c);
            return HOST_ERROR;
        }
    }
    if (c->err) {
        host_kv_fail(name, err, errlen, "cannot connect to redis at %s: %s", r->where, c->errstr);
        redisFree(c);
        return HOST_ERROR;
    }
    /* so that a peer that vanished without closing is noticed */
    redisEnableKeepAlive(c);
    bool timed_out;
    if (r->password) {
        redisReply *rep = r->user
                              ? roundtripf(c, until, &timed_out, "AUTH %s %s", r->user, r->password)
                              : roundtripf(c, until, &timed_out, "AUTH %s", r->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            host_kv_fail(name, err, errlen, "redis at %s refused the %s in the url: %s", r->where,
                         r->user ? "user name and password" : "password",
                         rep         ? rep->str
                         : timed_out ? "no reply within the timeout"
                                     : c->errstr);
            if (rep) freeReplyObject(rep);
            redisFree(c);
            return HOST_ERROR;
        }
        freeReplyObject(rep);
    }
    if (r->db) {
        redisReply *rep = roundtripf(c, until, &timed_out, "SELECT %d", r->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            host_kv_fail(name, err, errlen,
                         "redis at %s: cannot select database %d from the url: %s", r->where, r->db,
                         rep         ? rep->str
                         : timed_out ? "no reply within the timeout"
                                     : c->errstr);
            if (rep) freeReplyObject(rep);
            redisFree(c);
            return HOST_ERROR;
        }
        freeReplyObject(rep);
    }
    *out = c;
    return HOST_OK;
}

/* ---- sharing a connection ---------------------------------------------------- */

static bool same(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void link_free(rd_link *l) {
    if (l->c) redisFree(l->c);
    for (rd_call *c = l->head, *next; c; c = next) {
        next = c->next;
        /* only abandoned calls are left when no handle uses the link */
        if (c->reply) freeReplyObject(c->reply);
        free(c);
    }
    free(l->host);
    free(l->user);
    if (l->password) {
        memset(l->password, 0, strlen(l->password));
        free(l->password);
    }
    free(l);
}

static void link_unref(rd_link *l) {
    if (!l) return;
    pthread_mutex_lock(&links_lock);
    if (--l->refs == 0) {
        for (rd_link **p = &links; *p; p = &(*p)->next) {
            if (*p == l) {
                *p = l->next;
                break;
            }
        }
    } else {
        l = NULL;
    }
    pthread_mutex_unlock(&links_lock);
    if (l) link_free(l);
}

static char *dup_or_null(const char *s, bool *ok) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *ok = false;
    return d;
}

/* This thread's link for r's server, database and credentials, made if
 * there is none; NULL when out of memory. */
static rd_link *link_for(kv_redis *r) {
    pthread_t self = pthread_self();
    if (r->link && pthread_equal(r->link->owner, self)) return r->link;
    pthread_mutex_lock(&links_lock);
    rd_link *l = links;
    while (l &&
           !(pthread_equal(l->owner, self) && l->port == r->port && l->db == r->db &&
             same(l->host, r->host) && same(l->user, r->user) && same(l->password, r->password)))
        l = l->next;
    if (!l && (l = calloc(1, sizeof *l))) {
        bool ok = true;
        l->owner = self;
        l->port = r->port;
        l->db = r->db;
        l->host = dup_or_null(r->host, &ok);
        l->user = dup_or_null(r->user, &ok);
        l->password = dup_or_null(r->password, &ok);
        if (ok) {
            l->next = links;
            links = l;
        } else {
            link_free(l);
            l = NULL;
        }
    }
    if (l) l->refs++;
    pthread_mutex_unlock(&links_lock);
    if (l) {
        link_unref(r->link); /* the last thread's */
        r->link = l;
    }
    return l;
}

/* Ends the link's connection: every call awaiting a reply fails with
 * `why` (the connection is out of step with them), and the next command
 * connects again. */
static void link_break(rd_link *l, const char *why) {
    if (l->c) redisFree(l->c);
    l->c = NULL;
    rd_call *c = l->head;
    l->head = l->tail = NULL;
    while (c) {
        rd_call *next = c->next;
        if (c->abandoned) {
            free(c);
        } else {
            snprintf(c->lost, sizeof c->lost, "%s", why);
            c->done = true;
            util_waiter_wake(&c->wait);
        }
        c = next;
    }
}

/* Writes the commands appended during this turn of the worker's loop,
 * run by it before it waits for events (util_defer): the requests of one
 * turn share a write, and Redis reads them at once. What the socket does
 * not take waits for the next turn. Holds a reference to the link while
 * pending. */
static void link_flush(void *arg) {
    rd_link *l = arg;
    l->flush_pending = false;
    int done = 1;
    /* a failed write is the reader's to find: the context keeps the error */
    if (l->c && redisBufferWrite(l->c, &done) == REDIS_OK && !done && util_defer(link_flush, l)) {
        l->flush_pending = true;
        return;
    }
    link_unref(l);
}

/* Hands the reading to the oldest call still waiting, if any and if no
 * one reads already. */
static void hand_off(rd_link *l) {
    if (l->reading) return;
    for (rd_call *c = l->head; c; c = c->next) {
        if (!c->done && !c->abandoned) {
            util_waiter_wake(&c->wait);
            return;
        }
    }
}

/* Reads replies for every call of the link, oldest first, until mine has
 * its own; writes what other callers appended meanwhile first. False on a
 * timeout or a stopped call (*timed_out) or a broken connection (the link
 * is then broken, and mine done with the reason). */
static bool read_for(rd_link *l, rd_call *mine, uint64_t until, bool *timed_out) {
    *timed_out = false;
    for (;;) {
        int written = l->flush_pending; /* else link_flush writes, before the thread waits */
        while (!written) {
            if (redisBufferWrite(l->c, &written) != REDIS_OK) goto broke;
            if (!written && !wait_socket(l->c, POLLOUT, until)) {
                *timed_out = true;
                return false;
            }
        }
        for (;;) {
            void *rep = NULL;
            if (redisGetReply(l->c, &rep) != REDIS_OK) goto broke;
            if (!rep) break;
            rd_call *c = l->head;
            if (!c) {
                freeReplyObject(rep);
                link_break(l, "a reply came for no command");
                return false;
            }
            l->head = c->next;
            if (!l->head) l->tail = NULL;
            if (c->abandoned) {
                freeReplyObject(rep);
                free(c);
                continue;
            }
            c->reply = rep;
            c->done = true;
            if (c != mine) util_waiter_wake(&c->wait);
        }
        if (mine->done) return true;
        if (!wait_socket(l->c, POLLIN, until)) {
            *timed_out = true;
            return false;
        }
        if (redisBufferRead(l->c) != REDIS_OK) goto broke;
    }
broke:;
    char why[sizeof mine->lost];
    snprintf(why, sizeof why, "%s", l->c->errstr[0] ? l->c->errstr : "no reply");
    link_break(l, why);
    return false;
}

/* Waits for call's reply by `until`: read for everyone when no one else
 * does, else parked until the reader hands over the reply (or the
 * reading). The reply, or NULL: *timed_out tells a timeout or a stopped
 * call (the call is then abandoned, or the link broken when `breaks`: the
 * store's own timeout passed) from a broken link (call->lost). Frees call
 * unless abandoned. */
static redisReply *await_reply(rd_link *l, rd_call *call, uint64_t until, bool breaks,
                               bool *timed_out, char *lost, size_t lostlen) {
    *timed_out = false;
    while (!call->done) {
        bool was_reader = !l->reading;
        if (was_reader) {
            l->reading = true;
            read_for(l, call, until, timed_out);
            l->reading = false;
            if (call->done) {
                hand_off(l); /* others may wait for replies still */
                break;
            }
        } else {
            uint64_t now = util_mono_ms();
            /* single-threaded from here to the wait: no wake is missed */
            util_waiter_init(&call->wait);
            if (now < until && !wasm_call_should_stop(NULL))
                util_waiter_wait(&call->wait, (int)(until - now));
            util_waiter_done(&call->wait);
            if (call->done) break;
            *timed_out = util_mono_ms() >= until || wasm_call_should_stop(NULL);
        }
        if (*timed_out) {
            /* Only a reader breaks the link, when the server kept it
             * waiting for the store's whole timeout: the link's socket is
             * what a reader waits on, so no one else may close it. */
            call->abandoned = true;
            if (was_reader && breaks && util_mono_ms() >= until)
                link_break(l, "no reply within the timeout"); /* frees call */
            hand_off(l);
            return NULL;
        }
    }
    redisReply *rep = call->reply;
    if (!rep) snprintf(lost, lostlen, "%s", call->lost);
    free(call);
    return rep;
}

/* Sends one command (a hiredis format), connecting first if needed, and
 * returns its reply for the caller to free; NULL with a message starting
 * with `what` when there is none. `idempotent`: the command may run twice,
 * so after a connection broke it is sent once more on a new one. */
static redisReply *command(kv_redis *r, bool idempotent, const char *what, char *err, size_t errlen,
                           const char *fmt, ...) {
    rd_link *l = link_for(r);
    if (!l) {
        host_kv_fail(r->base.name, err, errlen, "%s: out of memory", what);
        return NULL;
    }
    for (int attempt = 0;; attempt++) {
        if (!host_wait_ms(timeout_ms(r))) {
            host_kv_fail(r->base.name, err, errlen,
                         "%s: not sent to redis at %s: the request's deadline has passed", what,
                         r->where);
            return NULL;
        }
        /* another request of this worker may be connecting the link */
        while (l->connecting && host_wait_ms(timeout_ms(r)) && !wasm_call_should_stop(NULL))
            util_poll(NULL, 0, 2);
        if (!l->c) {
            char why[512];
            l->connecting = true;
            redisContext *c;
            int rc = connect_redis(r, &c, why, sizeof why);
            l->connecting = false;
            if (rc != HOST_OK) {
                /* why already starts with "store NAME: " */
                snprintf(err, errlen, "%s (while %s)", why, what);
                return NULL;
            }
            if (l->c) /* connected meanwhile by another (a stopped wait above) */
                redisFree(c);
            else
                l->c = c;
        }
        /* the reply is awaited for the timeout or until the request's
         * deadline, whichever comes first */
        uint32_t wait = host_wait_ms(timeout_ms(r));
        bool lowered = wait < timeout_ms(r);
        rd_call *call = calloc(1, sizeof *call);
        va_list ap;
        va_start(ap, fmt);
        bool appended = call && redisvAppendCommand(l->c, fmt, ap) == REDIS_OK;
        va_end(ap);
        if (!appended) {
            free(call);
            host_kv_fail(r->base.name, err, errlen, "%s: out of memory", what);
            return NULL;
        }
        if (l->tail)
            l->tail->next = call;
        else
            l->head = call;
        l->tail = call;
        /* Written with the other commands of this turn of the worker's
         * loop (link_flush), or at once if the thread cannot defer and a
         * reader waits already (else this caller reads, and writes). A
         * failed write is the reader's to find: its socket reports the
         * error, and hiredis's context keeps it. */
        if (!l->flush_pending && util_defer(link_flush, l)) {
            /* the flush runs later on this thread: its reference can be
             * taken after the deferral */
            pthread_mutex_lock(&links_lock);
            l->refs++;
            pthread_mutex_unlock(&links_lock);
            l->flush_pending = true;
        } else if (!l->flush_pending && l->reading) {
            int written;
            (void)redisBufferWrite(l->c, &written);
        }
        bool timed_out;
        char lost[sizeof call->lost];
        redisReply *rep = await_reply(l, call, util_mono_ms() + (wait ? wait : 1), !lowered,
                                      &timed_out, lost, sizeof lost);
        if (rep) return rep;
        if (timed_out)
            snprintf(lost, sizeof lost, "no reply within %u ms%s", wait,
                     lowered ? ", the time left before the request's deadline" : "");
        if (!idempotent) {
            host_kv_fail(r->base.name, err, errlen,
                         "%s: the connection to redis at %s broke (%s); the increment may or may "
                         "not have been applied",
                         what, r->where, lost);
            return NULL;
        }
        if (attempt == 1 || (timed_out && lowered)) {
            host_kv_fail(r->base.name, err, errlen,
                         timed_out && lowered
                             ? "%s: redis at %s: %s"
                             : "%s: the connection to redis at %s broke twice (%s)",
                         what, r->where, lost);
            return NULL;
        }
    }
}

/* A reply of an unexpected type or an error reply, as a message. */
static int reply_fail(kv_redis *r, redisReply *rep, const char *what, char *err, size_t errlen) {
    if (rep->type == REDIS_REPLY_ERROR)
        host_kv_fail(r->base.name, err, errlen, "%s: redis at %s: %s", what, r->where, rep->str);
    else
        host_kv_fail(r->base.name, err, errlen, "%s: unexpected reply of type %d from redis at %s",
                     what, rep->type, r->where);
    freeReplyObject(rep);
    return HOST_ERROR;
}

/* "VERB key \"...\"", what messages about one key start with. */
static const char *doing(char *out, size_t n, const char *verb, const void *key, size_t klen) {
    char q[HOST_KV_QUOTE_MAX];
    snprintf(out, n, "%s key %s", verb, host_kv_quote(key, klen, q));
    return out;
}

#define WHAT_MAX (HOST_KV_QUOTE_MAX + 32)

/* ---- the operations -------------------------------------------------------- */

static int rd_get(host_kv *kv, const void *key, size_t klen, host_buf *value, char *err,
                  size_t errlen) {
    kv_redis *r = (kv_redis *)kv;
    char what[WHAT_MAX];
    doing(what, sizeof what, "reading", key, klen);
    redisReply *rep =
        command(r, true, what, err, errlen, "GET %b%b", r->prefix, r->prefix_len, key, klen);
    if (!rep) return HOST_ERROR;
    if (rep->type == REDIS_REPLY_NIL) {
        freeReplyObject(rep);
        return HOST_NOT_FOUND;
    }
    if (rep->type != REDIS_REPLY_STRING) return reply_fail(r, rep, what, err, errlen);
    int ret = HOST_OK;
    if (!host_kv_buf_append(value, rep->str, rep->len))
        ret =
            host_kv_fail(kv->name, err, errlen, "%s: out of memory for %zu bytes", what, rep->len);
    freeReplyObject(rep);
    return ret;
}

static int rd_set(host_kv *kv, const void *key, size_t klen, const void *val, size_t vlen,
                  uint64_t ttl_ms, char *err, size_t errlen) {
    kv_redis *r = (kv_redis *)kv;
    char what[WHAT_MAX];
    doing(what, sizeof what, "writing", key, klen);
    /* a plain SET also drops an earlier TTL, as a set without one must */
    redisReply *rep = ttl_ms
                          ? command(r, true, what, err, errlen, "SET %b%b %b PX %llu", r->prefix,
                                    r->prefix_len, key, klen, val, vlen, (unsigned long long)ttl_ms)
                          : command(r, true, what, err, errlen, "SET %b%b %b", r->prefix,
                                    r->prefix_len, key, klen, val, vlen);
    if (!rep) return HOST_ERROR;
    if (rep->type != REDIS_REPLY_STATUS) return reply_fail(r, rep, what, err, errlen);
    freeReplyObject(rep);
    return HOST_OK;
}

/* DEL and EXISTS: an integer reply, nonzero meaning the key was there. */
static int rd_count(host_kv *kv, const char *verb, const char *fmt, const void *key, size_t klen,
                    bool *out, char *err, size_t errlen) {
    kv_redis *r = (kv_redis *)kv;
    char what[WHAT_MAX];
    doing(what, sizeof what, verb, key, klen);
    redisReply *rep = command(r, true, what, err, errlen, fmt, r->prefix, r->prefix_len, key, klen);
    if (!rep) return HOST_ERROR;
    if (rep->type != REDIS_REPLY_INTEGER) return reply_fail(r, rep, what, err, errlen);
    *out = rep->integer > 0;
    freeReplyObject(rep);
    return HOST_OK;
}

static int rd_del(host_kv *kv, const void *key, size_t klen, bool *existed, char *err,
                  size_t errlen) {
    /* deleting twice is harmless; only `existed` could be off after a retry */
    return rd_count(kv, "deleting", "DEL %b%b", key, klen, existed, err, errlen);
}

static int rd_exists(host_kv *kv, const void *key, size_t klen, bool *exists, char *err,
                     size_t errlen) {
    return rd_count(kv, "reading", "EXISTS %b%b", key, klen, exists, err, errlen);
}

static int rd_incr(host_kv *kv, const void *key, size_t klen, int64_t delta, int64_t *result,
                   char *err, size_t errlen) {
    kv_redis *r = (kv_redis *)kv;
    char what[WHAT_MAX], q[HOST_KV_QUOTE_MAX];
    doing(what, sizeof what, "incrementing", key, klen);
    redisReply *rep = command(r, false, what, err, errlen, "INCRBY %b%b %lld", r->prefix,
                              r->prefix_len, key, klen, (long long)delta);
    if (!rep) return HOST_ERROR;
    if (rep->type == REDIS_REPLY_INTEGER) {
        *result = rep->integer;
        freeReplyObject(rep);
        return HOST_OK;
    }
    /* Redis's words for the two failures that kv_sqlite.c also has */
    if (rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "not an integer")) {
        freeReplyObject(rep);
        return host_kv_fail(kv->name, err, errlen, "value of key %s is not an integer",
                            host_kv_quote(key, klen, q));
    }
    if (rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "overflow")) {
        freeReplyObject(rep);
        return host_kv_fail(kv->name, err, errlen,
                            "incrementing key %s by %lld would overflow a 64-bit integer",
                            host_kv_quote(key, klen, q), (long long)delta);
    }
    return reply_fail(r, rep, what, err, errlen);
}

/* ---- list ------------------------------------------------------------------ */

typedef struct key_item {
    size_t len;
    char *data;
} key_item;

typedef struct key_set {
    key_item *items;
    size_t n, cap;
} key_set;

static int cmp_items(const void *a, const void *b) {
    const key_item *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sorts, drops repeats (SCAN may return a key twice) and keeps the
 * smallest `limit`: the set then never holds much more than 2 * limit
 * keys, however many the server has. */
static void compact(key_set *s, size_t limit) {
    if (s->n == 0) return; /* items may be NULL, which qsort must not get */
    qsort(s->items, s->n, sizeof *s->items, cmp_items);
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((o > 0 && cmp_items(&s->items[o - 1], &s->items[i]) == 0) || o == limit)
            free(s->items[i].data);
        else
            s->items[o++] = s->items[i];
    }
    s->n = o;
}

static bool add_item(key_set *s, const char *data, size_t len, size_t limit) {
    if (s->n == s->cap) {
        if (s->n >= 2 * limit) {
            compact(s, limit);
        } else {
            size_t cap = s->cap ? s->cap * 2 : 64;
            key_item *p = realloc(s->items, cap * sizeof *p);
            if (!p) return false;
            s->items = p;
            s->cap = cap;
        }
    }
    key_item *it = &s->items[s->n];
    it->len = len;
    it->data = malloc(len ? len : 1);
    if (!it->data) return false;
    memcpy(it->data, data, len);
    s->n++;
    return true;
}

static void free_items(key_set *s) {
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i].data);
    free(s->items);
}

/* Appends a to p with SCAN MATCH's glob characters escaped. */
static size_t glob_escape(char *p, const void *a, size_t n) {
    const char *s = a;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] && strchr("*?[]\\", s[i])) p[o++] = '\\';
        p[o++] = s[i];
    }
    return o;
}

/* One SCAN reply's keys into the set, without the store's prefix. */
static bool collect(kv_redis *r, const redisReply *keys, key_set *set, size_t limit) {
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len <= r->prefix_len ||
            memcmp(k->str, r->prefix, r->prefix_len) != 0)
            continue;
        if (!add_item(set, k->str + r->prefix_len, k->len - r->prefix_len, limit)) return false;
    }
    return true;
}

static int rd_list(host_kv *kv, const void *prefix, size_t plen, uint32_t limit, host_buf *out,
                   char *err, size_t errlen) {
    kv_redis *r = (kv_redis *)kv;
    char what[WHAT_MAX], q[HOST_KV_QUOTE_MAX];
    snprintf(what, sizeof what, "listing keys starting with %s", host_kv_quote(prefix, plen, q));
    /* every byte may need a backslash, then the '*' */
    char *pat = malloc(2 * (r->prefix_len + plen) + 1);
    if (!pat) return host_kv_fail(kv->name, err, errlen, "%s: out of memory", what);
    size_t patlen = glob_escape(pat, r->prefix, r->prefix_len);
    patlen += glob_escape(pat + patlen, prefix, plen);
    pat[patlen++] = '*';

    key_set set = {0};
    char cursor[32] = "0";
    int ret = HOST_OK;
    do {
        /* SCAN only reads, and a cursor stays valid on a new connection */
        redisReply *rep =
            command(r, true, what, err, errlen, "SCAN %s MATCH %b COUNT 1000", cursor, pat, patlen);
        if (!rep) {
            ret = HOST_ERROR;
            break;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof cursor ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            ret = reply_fail(r, rep, what, err, errlen);
            break;
        }
        memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
        cursor[rep->element[0]->len] = '\0';
        bool ok = collect(r, rep->element[1], &set, limit);
        freeReplyObject(rep);
        if (!ok) {
            ret = host_kv_fail(kv->name, err, errlen, "%s: out of memory", what);
            break;
        }
    } while (strcmp(cursor, "0") != 0);
    free(pat);

    if (ret == HOST_OK) {
        compact(&set, limit);
        for (size_t i = 0; i < set.n; i++) {
            if (!host_kv_list_append(out, set.items[i].data, set.items[i].len)) {
                out->len = 0;
                ret = host_kv_fail(kv->name, err, errlen, "%s: out of memory", what);
                break;
            }
        }
    }
    free_items(&set);
    return ret;
}

/* ---- open and close -------------------------------------------------------- */

static void rd_close(host_kv *kv) {
    kv_redis *r = (kv_redis *)kv;
    link_unref(r->link);
    free(r->host);
    free(r->user);
    if (r->password) {
        /* the password does not outlive the store in freed memory */
        memset(r->password, 0, strlen(r->password));
        free(r->password);
    }
    free(r->prefix);
    host_kv_free_base(kv);
    free(r);
}

static const host_kv_ops redis_ops = {
    .get = rd_get,
    .set = rd_set,
    .del = rd_del,
    .exists = rd_exists,
    .incr = rd_incr,
    .list = rd_list,
    .close = rd_close,
};

host_kv *host_kv_redis_open(const host_kv_config *cfg, char *err, size_t errlen) {
    kv_redis *r = calloc(1, sizeof *r);
    if (!r || !host_kv_init_base(&r->base, &redis_ops, cfg->name) ||
        !(r->prefix = strdup(cfg->prefix ? cfg->prefix : ""))) {
        host_kv_fail(cfg->name, err, errlen, "out of memory");
        if (r) host_kv_free_base(&r->base);
        free(r);
        return NULL;
    }
    r->prefix_len = strlen(r->prefix);
    uint32_t ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    r->timeout = (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (!parse_url(r, cfg->url, err, errlen)) {
        rd_close(&r->base);
        return NULL;
    }
    /* connect now: a wrong address or password shows at startup, not at
     * the first request */
    rd_link *l = link_for(r);
    if (!l) {
        host_kv_fail(cfg->name, err, errlen, "out of memory");
        rd_close(&r->base);
        return NULL;
    }
    if (l->c || l->connecting) return &r->base; /* this thread's, shared */
    redisContext *c;
    l->connecting = true;
    int rc = connect_redis(r, &c, err, errlen);
    l->connecting = false;
    if (rc != HOST_OK) {
        rd_close(&r->base);
        return NULL;
    }
    if (l->c)
        redisFree(c);
    else
        l->c = c;
    return &r->base;
}
