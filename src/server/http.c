/*
 * http.c - the HTTP front end on libh2o (evloop flavour, Debian's 2.2.5),
 * and the only file of wasp that includes h2o (docs/design/http.md, 7).
 *
 * N workers, each a thread with its own h2o loop and context and its own
 * listening socket bound with SO_REUSEPORT, so the kernel spreads
 * connections over them and nothing is shared on the request path. A
 * worker answers a request start to finish on its thread: route, run the
 * handler in a clean instance, hand the response to h2o, log and count,
 * then reset the instance while the response goes out.
 *
 * Hostile clients meet h2o's limits first (malformed requests: 400; a
 * body over --max-body: 413; a request not complete within the request
 * timeout: the connection is closed, which bounds slowloris) and wasp's
 * after: a header section over 64 KiB gets 431, and connections past
 * --max-connections are closed as soon as they are accepted.
 *
 * Shutdown is graceful: each worker closes its listener, asks h2o to
 * close idle connections and to end busy ones after their response, and
 * runs until its connections are gone. A new generation (reload) is
 * picked up by each worker between requests; requests never see two.
 */
#define H2O_USE_LIBUV 0
#include <h2o.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

#define SRV_MAX_HEADER_BYTES (64u << 10)
#define SRV_DRAIN_MS 30000

typedef struct srv_worker srv_worker;

struct srv_http {
    srv_http_config cfg;
    h2o_globalconf_t conf, admin_conf;
    srv_worker *workers;
    int nworkers;
    atomic_int running; /* workers serving */
    atomic_bool stopping;
    atomic_int_least64_t conns; /* across workers, for the cap */
    /* the current generation: swapped under gen_lock, its id readable without */
    pthread_mutex_t gen_lock;
    srv_gen *gen;
    atomic_uint_least64_t gen_id;
    atomic_uint_least64_t reloads;
    /* admin */
    int admin_fd;
    pthread_t admin_tid;
    h2o_context_t admin_ctx;
    h2o_accept_ctx_t admin_accept;
    atomic_bool admin_stop;
    srv_stats **stats; /* one per worker, for /metrics */
};

struct srv_worker {
    srv_http *srv;
    int id;
    int fd;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int64_t nconns;
    srv_gen *gen; /* the generation this worker serves */
    srv_slot **slots;
    uint64_t warm_failed; /* generation whose prewarm failed: not retried */
    uint64_t nreq;        /* requests seen: with the worker id, the request id */
    srv_response resp;
    srv_log log;
    srv_stats *stats;
};

/* ---- generations ----------------------------------------------------------- */

static void worker_drop_slots(srv_worker *w) {
    if (!w->gen) return;
    for (int i = 0; i < w->gen->napps; i++) {
        if (!w->slots[i]) continue;
        srv_app_stats *as = srv_stats_app(w->stats, w->gen->apps[i].name);
        atomic_fetch_sub_explicit(&as->pool_idle, srv_slot_idle(w->slots[i]), memory_order_relaxed);
        srv_slot_free(w->slots[i]);
    }
    free(w->slots);
    w->slots = NULL;
    srv_gen_unref(w->gen);
    w->gen = NULL;
}

/* Moves the worker to the current generation if there is a newer one.
 * Called between requests only, so no request straddles two. */
static void worker_sync_gen(srv_worker *w) {
    srv_http *h = w->srv;
    if (w->gen && w->gen->id == atomic_load_explicit(&h->gen_id, memory_order_acquire)) return;
    pthread_mutex_lock(&h->gen_lock);
    srv_gen *g = h->gen;
    srv_gen_ref(g);
    pthread_mutex_unlock(&h->gen_lock);
    srv_slot **slots = calloc((size_t)g->napps + 1, sizeof *slots);
    if (!slots) { /* keep serving the old generation; try again next time */
        srv_gen_unref(g);
        return;
    }
    worker_drop_slots(w);
    w->gen = g;
    w->slots = slots;
}

/* Prepares every app's slot and instance of the worker's generation, so
 * that first requests do not pay for it. Run between loop iterations. */
static void worker_prewarm(srv_worker *w) {
    if (!w->gen || w->warm_failed == w->gen->id) return;
    for (int i = 0; i < w->gen->napps; i++) {
        if (w->slots[i]) continue;
        const srv_app *app = &w->gen->apps[i];
        char err[300];
        w->slots[i] = srv_slot_new(app, err, sizeof err);
        if (!w->slots[i] || !srv_slot_warm(w->slots[i], err, sizeof err)) {
            srv_event("app %s: worker %d cannot prepare it: %s", app->name, w->id, err);
            srv_slot_free(w->slots[i]);
            w->slots[i] = NULL;
            w->warm_failed = w->gen->id; /* the request path tries again, and answers 500 */
            return;
        }
        srv_app_stats *as = srv_stats_app(w->stats, app->name);
        atomic_fetch_add_explicit(&as->pool_idle, 1, memory_order_relaxed);
    }
}

void srv_http_publish(srv_http *h, srv_gen *g) {
    pthread_mutex_lock(&h->gen_lock);
    srv_gen *old = h->gen;
    h->gen = g; /* the caller's reference moves here */
    atomic_store_explicit(&h->gen_id, g->id, memory_order_release);
    pthread_mutex_unlock(&h->gen_lock);
    if (old) {
        atomic_fetch_add(&h->reloads, 1);
        srv_gen_unref(old);
    }
}

/* ---- responses -------------------------------------------------------------- */

static const char *reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:
        return status < 300   ? "OK"
               : status < 400 ? "Redirect"
               : status < 500 ? "Client Error"
                              : "Server Error";
    }
}

static void send_text(h2o_req_t *req, int status, const char *body) {
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = strlen(body);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body, strlen(body));
}

static void send_response(h2o_req_t *req, const srv_response *r) {
    req->res.status = r->status;
    req->res.reason = reason(r->status);
    for (size_t i = 0; i < r->nhdrs; i++) {
        const uint32_t *o = r->hoff[i];
        /* h2o matches header tokens in lower case; the bytes live in the
         * request's pool because the slot's buffers are reused. */
        char *name = h2o_mem_alloc_pool(&req->pool, o[1] + 1);
        for (uint32_t k = 0; k < o[1]; k++) {
            char c = r->hbuf[o[0] + k];
            name[k] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        name[o[1]] = 0;
        h2o_iovec_t v = h2o_strdup(&req->pool, r->hbuf + o[2], o[3]);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, o[1], 1, NULL, v.base, v.len);
    }
    req->res.content_length = r->body_len;
    h2o_send_inline(req, (const char *)r->body, r->body_len);
}

/* ---- the request path -------------------------------------------------------- */

static srv_worker *worker_of(h2o_req_t *req) {
    return (srv_worker *)((char *)req->conn->ctx - offsetof(srv_worker, ctx));
}

static void access_log(srv_worker *w, h2o_req_t *req, const char *id, const char *app, int status,
                       size_t bytes, uint64_t ns, const srv_result *res) {
    srv_log *l = &w->log;
    if (l->fd < 0) return;
    srv_log_ts(l);
    srv_log_append(l, " worker=%d req=%s app=%s method=", w->id, id, app);
    srv_log_value(l, req->method.base, req->method.len);
    srv_log_append(l, " path=");
    srv_log_value(l, req->path.base, req->path.len);
    srv_log_append(l, " status=%d bytes=%zu dur_us=%llu", status, bytes,
                   (unsigned long long)(ns / 1000));
    if (res && res->outcome != SRV_OK) {
        srv_log_append(l, " trap=");
        srv_log_value(l, res->msg, strlen(res->msg));
    }
    if (res && res->errout_len) {
        srv_log_append(l, " stderr=");
        srv_log_value(l, (const char *)res->errout, res->errout_len < 512 ? res->errout_len : 512);
    }
    srv_log_end(l);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    srv_worker *w = worker_of(req);
    uint64_t t0 = srv_now_ns();
    char id[32];
    snprintf(id, sizeof id, "%d-%llu", w->id, (unsigned long long)++w->nreq);
    worker_sync_gen(w);
    srv_gen *g = w->gen;

    size_t hbytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        hbytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (hbytes > SRV_MAX_HEADER_BYTES) {
        send_text(req, 431, "request header fields too large\n");
        access_log(w, req, id, "-", 431, 0, srv_now_ns() - t0, NULL);
        return 0;
    }
    /* Route on h2o's normalised path (dot segments resolved), so that
     * "/public/../admin" cannot reach an app "/public/..." does not own. */
    const char *path = req->path_normalized.base;
    size_t path_len = req->path_normalized.len;
    int ai = g ? srv_route(g, path, path_len) : -1;
    if (ai < 0) {
        send_text(req, 404, "no app is routed at this path\n");
        access_log(w, req, id, "-", 404, 0, srv_now_ns() - t0, NULL);
        return 0;
    }
    const srv_app *app = &g->apps[ai];
    srv_app_stats *as = srv_stats_app(w->stats, app->name);
    if (!w->slots[ai]) {
        char err[300];
        w->slots[ai] = srv_slot_new(app, err, sizeof err);
        if (!w->slots[ai]) {
            srv_event("app %s: worker %d cannot prepare it: %s", app->name, w->id, err);
            send_text(req, 500, "internal server error\n");
            atomic_fetch_add_explicit(&as->by_status[500], 1, memory_order_relaxed);
            return 0;
        }
    }
    srv_slot *slot = w->slots[ai];

    srv_header hdrs[H2O_MAX_HEADERS + 8];
    size_t nh = 0;
    /* h2o keeps Host apart, in the authority; handlers expect it among the headers */
    if (req->input.authority.len)
        hdrs[nh++] = (srv_header){"host", req->input.authority.base, 4, req->input.authority.len};
    for (size_t i = 0; i < req->headers.size && nh < sizeof hdrs / sizeof hdrs[0]; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        hdrs[nh++] = (srv_header){h->orig_name ? h->orig_name : h->name->base, h->value.base,
                                  h->name->len, h->value.len};
    }
    char peer[INET6_ADDRSTRLEN] = "";
    int peer_port = 0;
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, peer, sizeof peer);
        peer_port = ntohs(s4->sin_port);
    } else if (sl && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, peer, sizeof peer);
        peer_port = ntohs(s6->sin6_port);
    }
    size_t qa = req->query_at;
    srv_request q = {
        .method = req->method.base,
        .method_len = req->method.len,
        .uri = req->path.base,
        .uri_len = req->path.len,
        .path = path,
        .path_len = path_len,
        .query = qa != SIZE_MAX ? req->path.base + qa + 1 : "",
        .query_len = qa != SIZE_MAX ? req->path.len - qa - 1 : 0,
        .headers = hdrs,
        .nheaders = nh,
        .body = (const uint8_t *)req->entity.base,
        .body_len = req->entity.base ? req->entity.len : 0,
        .remote_addr = peer,
        .remote_port = peer_port,
        .server_addr = w->srv->cfg.listen_host,
        .server_port = w->srv->cfg.listen_port,
        .id = id,
        .log = &w->log,
    };
    bool was_idle = srv_slot_idle(slot);
    srv_gauge(&as->pool_busy, 1);
    if (was_idle) srv_gauge(&as->pool_idle, -1);
    srv_result res;
    srv_slot_run(slot, &q, &w->resp, &res);
    int status;
    size_t bytes = 0;
    switch (res.outcome) {
    case SRV_OK:
        status = w->resp.status;
        bytes = w->resp.body_len;
        send_response(req, &w->resp);
        break;
    case SRV_DEADLINE:
        status = 504;
        send_text(req, status, "the handler ran out of time\n");
        break;
    case SRV_BADGATEWAY:
        status = 502;
        send_text(req, status, "the handler's output was not a valid CGI response\n");
        break;
    default:
        status = 500;
        send_text(req, status, "the handler failed\n");
        break;
    }
    uint64_t ns = srv_now_ns() - t0;
    srv_count(&as->by_status[status], 1);
    srv_hist_add(&as->duration, ns);
    if ((res.outcome == SRV_TRAP || res.outcome == SRV_DEADLINE) && res.trap > 0 &&
        res.trap < SRV_NTRAPS)
        srv_count(&as->traps[res.trap], 1);
    access_log(w, req, id, app->name, status, bytes, ns, &res);
    if (res.outcome == SRV_TRAP || res.outcome == SRV_INTERNAL)
        srv_event("app %s: %.*s %.*s: %s", app->name, (int)req->method.len, req->method.base,
                  (int)(req->path.len < 200 ? req->path.len : 200), req->path.base, res.msg);
    /* The response is with h2o now; clean the instance for the next one. */
    uint64_t reset_ns = srv_slot_recycle(slot);
    srv_hist_add(&w->stats->instantiate, res.ready_ns + reset_ns);
    srv_gauge(&as->pool_busy, -1);
    srv_gauge(&as->pool_idle, srv_slot_idle(slot));
    return 0;
}

/* ---- connections -------------------------------------------------------------- */

static void on_conn_close(void *data) {
    srv_worker *w = data;
    w->nconns--;
    atomic_fetch_sub_explicit(&w->stats->connections, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->srv->conns, 1, memory_order_relaxed);
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    srv_worker *w = listener->data;
    if (err) return;
    for (int i = 0; i < 16; i++) { /* a few per wakeup, as h2o's own server does */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) return;
        if (atomic_load_explicit(&w->srv->stopping, memory_order_relaxed) ||
            atomic_load_explicit(&w->srv->conns, memory_order_relaxed) >=
                w->srv->cfg.max_connections) {
            h2o_socket_close(sock); /* over the cap: refuse at once, keep the others fast */
            continue;
        }
        atomic_fetch_add_explicit(&w->srv->conns, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->stats->connections, 1, memory_order_relaxed);
        w->nconns++;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = w;
        h2o_accept(&w->accept_ctx, sock);
    }
}

static void *worker_main(void *arg) {
    srv_worker *w = arg;
    srv_http *h = w->srv;
    h2o_context_init(&w->ctx, h2o_evloop_create(), &h->conf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = h->conf.hosts;
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    worker_sync_gen(w);
    worker_prewarm(w);
    atomic_fetch_add(&h->running, 1);
    /* h2o_evloop_run returns -1 on EINTR; the flag, not its result, ends the loop */
    while (!atomic_load_explicit(&h->stopping, memory_order_relaxed)) {
        h2o_evloop_run(w->ctx.loop, 100);
        worker_sync_gen(w);
        worker_prewarm(w);
        srv_log_flush(&w->log, false);
    }
    atomic_fetch_sub(&h->running, 1);
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    /* Requests that arrived while this worker was busy sit unread in their
     * sockets, and h2o would take those connections for idle ones and close
     * them: serve what is already there first. */
    h2o_evloop_run(w->ctx.loop, 0);
    h2o_context_request_shutdown(&w->ctx);
    uint64_t until = srv_now_ns() + (uint64_t)SRV_DRAIN_MS * 1000000u;
    while (w->nconns > 0 && srv_now_ns() < until) {
        h2o_evloop_run(w->ctx.loop, 50);
        srv_log_flush(&w->log, false);
    }
    srv_log_flush(&w->log, true);
    worker_drop_slots(w);
    /* The context and its loop are left to process exit: h2o 2.2.5 asserts
     * in h2o_context_dispose while its shutdown timer is still linked, and
     * a client that outlived the drain would still point into the loop. */
    return NULL;
}

/* ---- admin ------------------------------------------------------------------- */

static int on_admin(h2o_handler_t *self, h2o_req_t *req) {
    srv_http *h = (srv_http *)((char *)req->conn->ctx - offsetof(srv_http, admin_ctx));
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    if (h2o_memis(p, n, H2O_STRLIT("/healthz"))) {
        send_text(req, 200, "ok\n");
    } else if (h2o_memis(p, n, H2O_STRLIT("/readyz"))) {
        bool ready = atomic_load(&h->running) == h->nworkers && !atomic_load(&h->stopping);
        send_text(req, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
    } else if (h2o_memis(p, n, H2O_STRLIT("/metrics"))) {
        size_t len;
        char *text = srv_metrics_render(h->stats, h->nworkers, atomic_load(&h->reloads), &len);
        if (!text) {
            send_text(req, 500, "out of memory\n");
            return 0;
        }
        req->res.status = 200;
        req->res.reason = "OK";
        req->res.content_length = len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/plain; version=0.0.4"));
        h2o_send_inline(req, text, len);
        free(text);
    } else {
        send_text(req, 404, "admin endpoints: /healthz /readyz /metrics\n");
    }
    return 0;
}

static void on_admin_accept(h2o_socket_t *listener, const char *err) {
    srv_http *h = listener->data;
    if (err) return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock) h2o_accept(&h->admin_accept, sock);
}

static void *admin_main(void *arg) {
    srv_http *h = arg;
    h2o_context_init(&h->admin_ctx, h2o_evloop_create(), &h->admin_conf);
    h->admin_accept.ctx = &h->admin_ctx;
    h->admin_accept.hosts = h->admin_conf.hosts;
    h2o_socket_t *l =
        h2o_evloop_socket_create(h->admin_ctx.loop, h->admin_fd, H2O_SOCKET_FLAG_DONT_READ);
    l->data = h;
    h2o_socket_read_start(l, on_admin_accept);
    while (!atomic_load(&h->admin_stop))
        h2o_evloop_run(h->admin_ctx.loop, 100);
    h2o_socket_read_stop(l);
    h2o_socket_close(l);
    h2o_evloop_run(h->admin_ctx.loop, 0); /* let the close complete */
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

/* A listening socket on host:port; with `reuseport`, one of a group. */
static int listen_on(const char *host, int port, bool reuseport, char *err, size_t errlen) {
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof *s6;
    } else {
        snprintf(err, errlen, "%s: not a numeric IPv4 or IPv6 address", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, SOMAXCONN)) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl)) return -1;
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void conf_init(h2o_globalconf_t *c, int (*handler)(h2o_handler_t *, h2o_req_t *),
                      const srv_http_config *cfg) {
    h2o_config_init(c);
    c->server_name = h2o_iovec_init(H2O_STRLIT("wasp"));
    c->max_request_entity_size = cfg->max_body;
    c->http1.req_timeout = cfg->request_timeout_ms;
    c->http1.upgrade_to_http2 = 0; /* HTTP/1.1 only: see docs/design/http.md */
    h2o_hostconf_t *host =
        h2o_config_register_host(c, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *hd = h2o_create_handler(path, sizeof *hd);
    hd->on_req = handler;
}

srv_http *srv_http_start(const srv_http_config *cfg, srv_gen *gen, char *err, size_t errlen) {
    srv_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->admin_fd = -1;
    pthread_mutex_init(&h->gen_lock, NULL);
    h->nworkers = cfg->workers;
    h->workers = calloc((size_t)cfg->workers, sizeof *h->workers);
    h->stats = calloc((size_t)cfg->workers, sizeof *h->stats);
    if (!h->workers || !h->stats) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < cfg->workers; i++)
        h->workers[i].fd = -1;
    /* A probe without SO_REUSEPORT first: it fails if anything listens on
     * the port, where a reuseport bind would silently share it with a
     * leftover server. */
    int probe = listen_on(cfg->listen_host, cfg->listen_port, false, err, errlen);
    if (probe < 0) goto fail;
    int port = bound_port(probe);
    close(probe);
    h->cfg.listen_port = port;
    for (int i = 0; i < cfg->workers; i++) {
        srv_worker *w = &h->workers[i];
        w->srv = h;
        w->id = i;
        w->fd = listen_on(cfg->listen_host, port, true, err, errlen);
        if (w->fd < 0) goto fail;
        w->stats = h->stats[i] = calloc(1, sizeof *w->stats);
        if (!w->stats) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        srv_log_init(&w->log, cfg->log_fd);
        srv_response_init(&w->resp);
    }
    if (cfg->admin_host) {
        h->admin_fd = listen_on(cfg->admin_host, cfg->admin_port, false, err, errlen);
        if (h->admin_fd < 0) goto fail;
        h->cfg.admin_port = bound_port(h->admin_fd);
    }
    h->gen = gen;
    atomic_store(&h->gen_id, gen->id);
    conf_init(&h->conf, on_req, cfg);
    conf_init(&h->admin_conf, on_admin, cfg);
    for (int i = 0; i < cfg->workers; i++) {
        if (pthread_create(&h->workers[i].tid, NULL, worker_main, &h->workers[i])) {
            snprintf(err, errlen, "cannot start worker thread %d", i);
            atomic_store(&h->stopping, true);
            for (int k = 0; k < i; k++)
                pthread_join(h->workers[k].tid, NULL);
            goto fail;
        }
    }
    if (h->admin_fd >= 0 && pthread_create(&h->admin_tid, NULL, admin_main, h)) {
        snprintf(err, errlen, "cannot start the admin thread");
        srv_http_stop(h);
        return NULL;
    }
    return h;
fail:
    for (int i = 0; h->workers && i < cfg->workers; i++)
        if (h->workers[i].fd >= 0) close(h->workers[i].fd);
    if (h->admin_fd >= 0) close(h->admin_fd);
    h->gen = NULL; /* stays the caller's on failure */
    free(h->workers);
    if (h->stats)
        for (int i = 0; i < cfg->workers; i++)
            free(h->stats[i]);
    free(h->stats);
    free(h);
    return NULL;
}

int srv_http_port(const srv_http *h, bool admin) {
    return admin ? h->cfg.admin_port : h->cfg.listen_port;
}

void srv_http_stop(srv_http *h) {
    atomic_store(&h->stopping, true);
    /* Refuse new connections now, even on a worker still busy with a
     * request: shutdown makes the listening socket reset what waits in its
     * backlog and refuse the rest; the worker closes it when it next looks. */
    for (int i = 0; i < h->nworkers; i++)
        shutdown(h->workers[i].fd, SHUT_RD);
    for (int i = 0; i < h->nworkers; i++)
        pthread_join(h->workers[i].tid, NULL);
    if (h->admin_fd >= 0) {
        atomic_store(&h->admin_stop, true);
        pthread_join(h->admin_tid, NULL);
    }
    for (int i = 0; i < h->nworkers; i++) {
        srv_log_free(&h->workers[i].log);
        srv_response_free(&h->workers[i].resp);
        free(h->stats[i]);
    }
    srv_gen_unref(h->gen);
    h2o_config_dispose(&h->conf);
    h2o_config_dispose(&h->admin_conf);
    free(h->workers);
    free(h->stats);
    pthread_mutex_destroy(&h->gen_lock);
    free(h);
}
