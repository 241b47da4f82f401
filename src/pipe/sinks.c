/*
 * sinks.c - a key-value store and an HTTP endpoint as a pipeline's sink.
 *
 *   kv:NAME              set(record key, record value) in the store that
 *                        --kv NAME=... declares; a record without a key
 *                        cannot be stored, which stops the pipeline
 *   http://... https://  one POST per batch, the records as NDJSON lines
 *                        (application/x-ndjson); a 2xx answer makes the
 *                        batch durable, anything else stops the pipeline
 *                        (its input is then not acknowledged)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"
#include "pipe/internal.h"

bool pipe_is_kv(const char *spec) {
    return spec && !strncmp(spec, "kv:", 3);
}

bool pipe_is_http(const char *spec) {
    return spec && (!strncmp(spec, "http://", 7) || !strncmp(spec, "https://", 8));
}

/* ---- kv ------------------------------------------------------------------ */

typedef struct kv_sink {
    pipe_sink base;
    host_kv *kv;
    char name[128];
} kv_sink;

static bool kv_write(pipe_sink *s, const srv_batch *b, char *err, size_t errlen) {
    kv_sink *k = (kv_sink *)s;
    for (size_t i = 0; i < b->n; i++) {
        const srv_rec *r = &b->recs[i];
        if (r->key_len == SRV_NO_KEY || r->key_len == 0) {
            snprintf(err, errlen,
                     "kv store %s: a record without a key cannot be stored (emit it with one)",
                     k->name);
            return false;
        }
        if (host_kv_set(k->kv, b->bytes + r->key, r->key_len, b->bytes + r->value, r->value_len, 0,
                        err, errlen) != HOST_OK)
            return false;
    }
    return true;
}

static void kv_close(pipe_sink *s) {
    kv_sink *k = (kv_sink *)s;
    host_kv_close(k->kv);
    free(k);
}

pipe_sink *pipe_kv_sink(const char *spec, const srv_store_cfg *stores, int nstores, char *err,
                        size_t errlen) {
    const char *name = spec + 3;
    for (int i = 0; i < nstores; i++) {
        const srv_store_cfg *st = &stores[i];
        if (strcmp(st->name, name)) continue;
        host_kv_config c = {.name = name};
        if (st->backend == SRV_STORE_REDIS) {
            c.backend = HOST_KV_REDIS;
            c.url = st->url;
            c.prefix = st->prefix;
        } else {
            c.backend = HOST_KV_SQLITE;
            c.path = st->path;
            c.durable_full = st->durable_full;
        }
        kv_sink *k = calloc(1, sizeof *k);
        if (!k) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        snprintf(k->name, sizeof k->name, "%s", name);
        k->kv = host_kv_open(&c, err, errlen);
        if (!k->kv) {
            free(k);
            return NULL;
        }
        k->base.write = kv_write;
        k->base.close = kv_close;
        return &k->base;
    }
    snprintf(err, errlen,
             "sink %s: no store named %s (declare it: wasp pipe --kv %s=FILE.db, or stores: in "
             "the manifest)",
             spec, name, name);
    return NULL;
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct http_sink {
    pipe_sink base;
    char *url;
    char origin[512]; /* the URL's scheme://host[:port]: the sink's one allowed origin */
    uint8_t *body;
    size_t cap;
} http_sink;

static bool http_write(pipe_sink *s, const srv_batch *b, char *err, size_t errlen) {
    http_sink *h = (http_sink *)s;
    if (!b->n) return true;
    size_t n = pipe_lines(b, &h->body, &h->cap, err, errlen);
    if (n == SIZE_MAX) return false;
    const char *allow[1] = {h->origin};
    host_http_request req = {.method = "POST",
                             .url = h->url,
                             .headers = "Content-Type: application/x-ndjson\n",
                             .body = h->body,
                             .body_len = n,
                             .timeout_ms = 30000,
                             .max_response = 65536,
                             .allow = allow,
                             .nallow = 1};
    host_http_response resp = {0};
    int rc = host_http_fetch(&req, &resp, err, errlen);
    int status = resp.status;
    free(resp.headers.data);
    free(resp.body.data);
    if (rc != HOST_OK) return false;
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "the HTTP sink answered %d to a batch of %zu records", status, b->n);
        return false;
    }
    return true;
}

static void http_close(pipe_sink *s) {
    http_sink *h = (http_sink *)s;
    free(h->url);
    free(h->body);
    free(h);
}

pipe_sink *pipe_http_sink(const char *url, char *err, size_t errlen) {
    http_sink *h = calloc(1, sizeof *h);
    if (h) h->url = strdup(url);
    if (!h || !h->url) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the origin: up to the first '/' after "scheme://" */
    const char *host = strstr(url, "://") + 3, *slash = strchr(host, '/');
    size_t olen = slash ? (size_t)(slash - url) : strlen(url);
    if (olen >= sizeof h->origin || host[0] == 0 || host[0] == '/') {
        snprintf(err, errlen, "bad HTTP sink \"%s\": want http[s]://HOST[:PORT]/PATH", url);
        http_close(&h->base);
        return NULL;
    }
    memcpy(h->origin, url, olen);
    h->origin[olen] = 0;
    h->base.write = http_write;
    h->base.close = http_close;
    return &h->base;
}
