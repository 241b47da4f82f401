/*
 * redis.c - Redis Streams as a pipeline's source and sink, through hiredis
 * (blocking, each connection used by one thread).
 *
 * Source: a consumer in a consumer group, so that any number of `wasp
 * pipe` processes on any number of machines share a stream:
 *
 *   redis://[host][:port]/STREAM?group=G[&consumer=C][&claim-idle-ms=N]
 *                               [&idle-exit-ms=N]
 *
 * - The group is made if missing (XGROUP CREATE ... 0 MKSTREAM): a new
 *   group starts at the stream's first entry.
 * - First the consumer's own pending entries (delivered to it before a
 *   restart, never acknowledged) are read again; then, at most once a
 *   second, XAUTOCLAIM takes over entries that another consumer was given
 *   and left unacknowledged for claim-idle-ms (30 s: a dead consumer's);
 *   else XREADGROUP ... > reads new entries.
 * - An entry is acknowledged (XACK) by the sink's thread only once the
 *   outputs and dead letters of its batch are in their sinks: at least
 *   once. A process killed with -9 leaves its entries pending, and the
 *   others claim them.
 * - A record's value is the entry's field `value` (else its first
 *   field's value), its key the entry's id, its timestamp the id's time.
 * - With idle-exit-ms, the source ends once nothing came for that long
 *   and the group has no pending entry left (everything read by anyone is
 *   acknowledged): for batch jobs and tests; without it, it runs until
 *   stopped.
 *
 * Sink: XADD STREAM * value V [key K] per record, pipelined per batch:
 *
 *   redis://[host][:port]/STREAM
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "pipe/internal.h"

#define DEFAULT_CLAIM_IDLE_MS 30000
#define CONNECT_TIMEOUT_S 5
/* longer than any BLOCK this file asks for */
#define COMMAND_TIMEOUT_S 30

typedef struct target {
    char host[256];
    int port;
    char stream[256];
    char group[128], consumer[128];
    uint32_t claim_idle_ms, idle_exit_ms;
} target;

bool pipe_is_redis(const char *spec) {
    return spec && !strncmp(spec, "redis://", 8);
}

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* Copies s[0..n) into dst (cap bytes); false when it does not fit or is
 * empty. */
static bool copy(char *dst, size_t cap, const char *s, size_t n) {
    if (n == 0 || n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = 0;
    return true;
}

static bool parse(const char *spec, bool source, target *t, char *err, size_t errlen) {
    const char *form = source ? "redis://[host][:port]/STREAM?group=G[&consumer=C]"
                                "[&claim-idle-ms=N][&idle-exit-ms=N]"
                              : "redis://[host][:port]/STREAM";
    memset(t, 0, sizeof *t);
    strcpy(t->host, "127.0.0.1");
    t->port = 6379;
    t->claim_idle_ms = DEFAULT_CLAIM_IDLE_MS;
    const char *p = spec + 8, *slash = strchr(p, '/');
    if (!slash) goto bad;
    const char *colon = memchr(p, ':', (size_t)(slash - p));
    size_t hlen = (size_t)((colon ? colon : slash) - p);
    if (hlen && !copy(t->host, sizeof t->host, p, hlen)) goto bad;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != slash || port < 1 || port > 65535) goto bad;
        t->port = (int)port;
    }
    const char *q = strchr(slash + 1, '?');
    size_t slen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    if (!copy(t->stream, sizeof t->stream, slash + 1, slen)) goto bad;
    while (q && *q) {
        const char *k = q + 1, *amp = strchr(k, '&'), *eq = strchr(k, '=');
        size_t klen = (size_t)((amp ? amp : k + strlen(k)) - k);
        if (!eq || eq > k + klen || !source) goto bad;
        const char *v = eq + 1;
        size_t vlen = (size_t)(k + klen - v);
        size_t name = (size_t)(eq - k);
        char num[16];
        if (name == 5 && !strncmp(k, "group", 5)) {
            if (!copy(t->group, sizeof t->group, v, vlen)) goto bad;
        } else if (name == 8 && !strncmp(k, "consumer", 8)) {
            if (!copy(t->consumer, sizeof t->consumer, v, vlen)) goto bad;
        } else if ((name == 13 && !strncmp(k, "claim-idle-ms", 13)) ||
                   (name == 12 && !strncmp(k, "idle-exit-ms", 12))) {
            char *end;
            if (!copy(num, sizeof num, v, vlen)) goto bad;
            unsigned long n = strtoul(num, &end, 10);
            if (*end || n > 86400000) goto bad;
            if (name == 13)
                t->claim_idle_ms = (uint32_t)n;
            else
                t->idle_exit_ms = (uint32_t)n;
        } else {
            goto bad;
        }
        q = amp;
    }
    if (source && !t->group[0]) goto bad;
    if (source && !t->consumer[0]) {
        char host[64] = "wasp";
        gethostname(host, sizeof host - 1);
        snprintf(t->consumer, sizeof t->consumer, "%s-%ld", host, (long)getpid());
    }
    return true;
bad:
    snprintf(err, errlen, "bad Redis stream \"%s\": want %s", spec, form);
    return false;
}

static redisContext *connect_to(const target *t, char *err, size_t errlen) {
    struct timeval ct = {CONNECT_TIMEOUT_S, 0}, rt = {COMMAND_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout(t->host, t->port, ct);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s:%d: %s", t->host, t->port,
                 c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, rt);
    return c;
}

/* Sends one command and waits for its reply; NULL with the reason (the
 * connection is then broken: the caller drops it). */
static redisReply *command(redisContext *c, int argc, const char **argv, const size_t *lens,
                           const target *t, char *err, size_t errlen) {
    redisReply *r = NULL;
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK ||
        redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
        snprintf(err, errlen, "Redis at %s:%d: %s", t->host, t->port,
                 c->err ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis at %s:%d refused %s: %.*s", t->host, t->port, argv[0],
                 (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* ---- the source ---------------------------------------------------------- */

typedef struct redis_source {
    pipe_source base;
    target t;
    redisContext *rc; /* the source's thread's */
    redisContext *ac; /* the sink's thread's, for XACK */
    bool own_done;    /* this consumer's old pending entries are read */
    char own_cursor[64];
    char claim_cursor[64];
    uint64_t last_claim, idle_since;
} redis_source;

/* Adds the entries of reply array `entries` ([id, [field, value...]]...)
 * to b; deleted entries (no fields) are acknowledged at once. Copies the
 * last id into last (64 bytes). Returns how many were added, or -1. */
static int add_entries(redis_source *s, const redisReply *entries, srv_batch *b, char *last,
                       char *err, size_t errlen) {
    int added = 0;
    for (size_t i = 0; entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
         i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *id = e->element[0], *f = e->element[1];
        if (last && id->len < 64) {
            memcpy(last, id->str, id->len);
            last[id->len] = 0;
        }
        if (f->type != REDIS_REPLY_ARRAY || f->elements < 2) {
            /* trimmed away while pending: nothing to process */
            const char *argv[4] = {"XACK", s->t.stream, s->t.group, id->str};
            size_t lens[4] = {4, strlen(s->t.stream), strlen(s->t.group), id->len};
            redisReply *r = command(s->rc, 4, argv, lens, &s->t, err, errlen);
            if (!r) return -1;
            freeReplyObject(r);
            continue;
        }
        const redisReply *val = f->element[1];
        for (size_t k = 0; k + 1 < f->elements; k += 2)
            if (f->element[k]->len == 5 && !memcmp(f->element[k]->str, "value", 5)) {
                val = f->element[k + 1];
                break;
            }
        if (!srv_batch_add(b, val->str, val->len, id->str, id->len,
                           (int64_t)strtoll(id->str, NULL, 10))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        added++;
    }
    return added;
}

/* XREADGROUP's reply [[stream, entries]] (or nil): its entries. */
static const redisReply *stream_entries(const redisReply *r) {
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return NULL;
    const redisReply *s = r->element[0];
    return s->type == REDIS_REPLY_ARRAY && s->elements >= 2 ? s->element[1] : NULL;
}

static int redis_read(pipe_source *base, srv_batch *b, uint32_t max, size_t max_bytes, int wait_ms,
                      char *err, size_t errlen) {
    redis_source *s = (redis_source *)base;
    (void)max_bytes; /* entries come by count; a batch's bytes follow */
    if (!s->rc && !(s->rc = connect_to(&s->t, err, errlen))) return PIPE_ERR;
    char count[16], block[16], idle[16];
    snprintf(count, sizeof count, "%u", max);
    const char *stream = s->t.stream, *group = s->t.group, *consumer = s->t.consumer;
    redisReply *r;
    int n;
    if (!s->own_done) {
        /* this consumer's entries from before: delivered, never acknowledged */
        const char *argv[] = {"XREADGROUP", "GROUP",   group,  consumer,     "COUNT",
                              count,        "STREAMS", stream, s->own_cursor};
        size_t lens[9];
        for (int i = 0; i < 9; i++)
            lens[i] = strlen(argv[i]);
        if (!(r = command(s->rc, 9, argv, lens, &s->t, err, errlen))) goto broke;
        n = add_entries(s, stream_entries(r), b, s->own_cursor, err, errlen);
        freeReplyObject(r);
        if (n < 0) goto broke;
        if (n > 0) return n;
        s->own_done = true;
    }
    uint64_t now = now_ms();
    if (strcmp(s->claim_cursor, "0-0") || now - s->last_claim >= 1000) {
        /* entries another consumer left unacknowledged too long */
        s->last_claim = now;
        snprintf(idle, sizeof idle, "%u", s->t.claim_idle_ms);
        const char *argv[] = {"XAUTOCLAIM", stream,          group,   consumer,
                              idle,         s->claim_cursor, "COUNT", count};
        size_t lens[8];
        for (int i = 0; i < 8; i++)
            lens[i] = strlen(argv[i]);
        if (!(r = command(s->rc, 8, argv, lens, &s->t, err, errlen))) goto broke;
        n = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
            const redisReply *cur = r->element[0];
            if (cur->type == REDIS_REPLY_STRING && cur->len < sizeof s->claim_cursor) {
                memcpy(s->claim_cursor, cur->str, cur->len);
                s->claim_cursor[cur->len] = 0;
            }
            n = add_entries(s, r->element[1], b, NULL, err, errlen);
        }
        freeReplyObject(r);
        if (n < 0) goto broke;
        if (n > 0) {
            s->idle_since = 0;
            return n;
        }
    }
    /* new entries */
    snprintf(block, sizeof block, "%d", wait_ms > 0 ? wait_ms : 1);
    const char *argv[] = {"XREADGROUP", "GROUP", group,     consumer, "COUNT", count,
                          "BLOCK",      block,   "STREAMS", stream,   ">"};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    if (!(r = command(s->rc, 11, argv, lens, &s->t, err, errlen))) goto broke;
    n = add_entries(s, stream_entries(r), b, NULL, err, errlen);
    freeReplyObject(r);
    if (n < 0) goto broke;
    if (n > 0) {
        s->idle_since = 0;
        return n;
    }
    if (!s->t.idle_exit_ms || b->n) return 0;
    now = now_ms();
    if (!s->idle_since) s->idle_since = now;
    if (now - s->idle_since < s->t.idle_exit_ms) return 0;
    /* idle long enough: the end, once nothing is pending in the group */
    const char *pargv[] = {"XPENDING", stream, group};
    size_t plens[3] = {8, strlen(stream), strlen(group)};
    if (!(r = command(s->rc, 3, pargv, plens, &s->t, err, errlen))) goto broke;
    bool none = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 0;
    freeReplyObject(r);
    return none ? PIPE_END : 0;
broke:
    redisFree(s->rc);
    s->rc = NULL;
    return PIPE_ERR;
}

static bool redis_ack(pipe_source *base, const srv_batch *in, char *err, size_t errlen) {
    redis_source *s = (redis_source *)base;
    if (!in->n) return true;
    if (!s->ac && !(s->ac = connect_to(&s->t, err, errlen))) return false;
    size_t argc = 3 + in->n;
    const char **argv = malloc(argc * sizeof *argv);
    size_t *lens = malloc(argc * sizeof *lens);
    bool ok = false;
    if (argv && lens) {
        argv[0] = "XACK";
        argv[1] = s->t.stream;
        argv[2] = s->t.group;
        lens[0] = 4;
        lens[1] = strlen(s->t.stream);
        lens[2] = strlen(s->t.group);
        for (size_t i = 0; i < in->n; i++) {
            argv[3 + i] = (const char *)in->bytes + in->recs[i].key;
            lens[3 + i] = in->recs[i].key_len == SRV_NO_KEY ? 0 : in->recs[i].key_len;
        }
        redisReply *r = command(s->ac, (int)argc, argv, lens, &s->t, err, errlen);
        ok = r != NULL;
        if (r) freeReplyObject(r);
        if (!ok) {
            redisFree(s->ac);
            s->ac = NULL;
        }
    } else {
        snprintf(err, errlen, "out of memory");
    }
    free(argv);
    free(lens);
    return ok;
}

/* XINFO GROUPS: the group's lag (entries not yet delivered to it; Redis
 * 7 and later, nil when it cannot tell) and its pending entries. */
static bool redis_lag(pipe_source *base, int64_t *lag, int64_t *pending) {
    redis_source *s = (redis_source *)base;
    char err[300];
    if (!s->rc) return false;
    const char *argv[] = {"XINFO", "GROUPS", s->t.stream};
    size_t lens[3] = {5, 6, strlen(s->t.stream)};
    redisReply *r = command(s->rc, 3, argv, lens, &s->t, err, sizeof err);
    if (!r) {
        redisFree(s->rc); /* read's next call connects again, or says why not */
        s->rc = NULL;
        return false;
    }
    bool found = false;
    for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements && !found; g++) {
        const redisReply *m = r->element[g];
        if (m->type != REDIS_REPLY_ARRAY) continue;
        bool ours = false;
        int64_t l = -1, p = -1;
        for (size_t k = 0; k + 1 < m->elements; k += 2) {
            const redisReply *key = m->element[k], *v = m->element[k + 1];
            if (key->type != REDIS_REPLY_STRING) continue;
            if (!strcmp(key->str, "name"))
                ours = v->type == REDIS_REPLY_STRING && !strcmp(v->str, s->t.group);
            else if (!strcmp(key->str, "lag") && v->type == REDIS_REPLY_INTEGER)
                l = v->integer;
            else if (!strcmp(key->str, "pending") && v->type == REDIS_REPLY_INTEGER)
                p = v->integer;
        }
        if (ours) {
            *lag = l;
            *pending = p;
            found = true;
        }
    }
    freeReplyObject(r);
    return found;
}

static void redis_source_close(pipe_source *base) {
    redis_source *s = (redis_source *)base;
    if (s->rc) redisFree(s->rc);
    if (s->ac) redisFree(s->ac);
    free(s);
}

pipe_source *pipe_redis_source(const char *spec, char *err, size_t errlen) {
    redis_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!parse(spec, true, &s->t, err, errlen)) {
        free(s);
        return NULL;
    }
    s->base.read = redis_read;
    s->base.ack = redis_ack;
    s->base.lag = redis_lag;
    s->base.close = redis_source_close;
    strcpy(s->own_cursor, "0");
    strcpy(s->claim_cursor, "0-0");
    /* the group, made if missing; reached now, so that a wrong address
     * stops the pipeline before anything runs */
    s->rc = connect_to(&s->t, err, errlen);
    if (!s->rc) {
        free(s);
        return NULL;
    }
    const char *argv[] = {"XGROUP", "CREATE", s->t.stream, s->t.group, "0", "MKSTREAM"};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = NULL;
    if (redisAppendCommandArgv(s->rc, 6, argv, lens) != REDIS_OK ||
        redisGetReply(s->rc, (void **)&r) != REDIS_OK || !r ||
        (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))) {
        snprintf(err, errlen, "Redis at %s:%d: cannot make group %s on %s: %s", s->t.host,
                 s->t.port, s->t.group, s->t.stream,
                 r            ? r->str
                 : s->rc->err ? s->rc->errstr
                              : "no reply");
        if (r) freeReplyObject(r);
        redis_source_close(&s->base);
        return NULL;
    }
    freeReplyObject(r);
    return &s->base;
}

/* ---- the sink ------------------------------------------------------------ */

typedef struct redis_sink {
    pipe_sink base;
    target t;
    redisContext *c;
} redis_sink;

static bool redis_write(pipe_sink *base, const srv_batch *b, char *err, size_t errlen) {
    redis_sink *s = (redis_sink *)base;
    if (!b->n) return true;
    if (!s->c && !(s->c = connect_to(&s->t, err, errlen))) return false;
    /* every XADD appended, then every reply read: one round trip */
    for (size_t i = 0; i < b->n; i++) {
        const srv_rec *r = &b->recs[i];
        bool keyed = r->key_len != SRV_NO_KEY;
        const char *argv[7] = {"XADD",
                               s->t.stream,
                               "*",
                               "value",
                               (const char *)b->bytes + r->value,
                               "key",
                               (const char *)b->bytes + r->key};
        size_t lens[7] = {4, strlen(s->t.stream), 1, 5, r->value_len, 3, keyed ? r->key_len : 0};
        if (redisAppendCommandArgv(s->c, keyed ? 7 : 5, argv, lens) != REDIS_OK) goto broke;
    }
    bool ok = true;
    for (size_t i = 0; i < b->n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) goto broke;
        if (r->type == REDIS_REPLY_ERROR && ok) {
            snprintf(err, errlen, "Redis at %s:%d refused XADD to %s: %.*s", s->t.host, s->t.port,
                     s->t.stream, (int)r->len, r->str);
            ok = false;
        }
        freeReplyObject(r);
    }
    return ok;
broke:
    snprintf(err, errlen, "Redis at %s:%d: %s", s->t.host, s->t.port,
             s->c->err ? s->c->errstr : "no reply");
    redisFree(s->c);
    s->c = NULL;
    return false;
}

static void redis_sink_close(pipe_sink *base) {
    redis_sink *s = (redis_sink *)base;
    if (s->c) redisFree(s->c);
    free(s);
}

pipe_sink *pipe_redis_sink(const char *spec, char *err, size_t errlen) {
    redis_sink *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!parse(spec, false, &s->t, err, errlen)) {
        free(s);
        return NULL;
    }
    s->base.write = redis_write;
    s->base.close = redis_sink_close;
    /* reached now, so that a wrong address stops the pipeline at once */
    s->c = connect_to(&s->t, err, errlen);
    if (!s->c) {
        free(s);
        return NULL;
    }
    return &s->base;
}
