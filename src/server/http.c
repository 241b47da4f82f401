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
 * Hostile clients meet h2o's limits (malformed requests: 400; a body over
 * --max-body: 413; a request not complete within the request timeout: the
 * connection is closed, which bounds slowloris) and wasp's: connections
 * past --max-connections are closed as soon as they are accepted; every
 * byte read is first checked by srv_framing (framing.c), before h2o acts
 * on it, so ambiguous framing (request smuggling) gets 400 and a close; a
 * body that would take the bodies held at once past --max-buffered-bodies
 * gets 503 and a close before h2o buffers it; then a header section over
 * 64 KiB gets 431 and a path that decodes across segments 400.
 *
 * Standing in front of h2o: h2o 2.2.5 offers no hook between the socket
 * and its HTTP/1 parser, so wasp puts its own read and write callbacks in
 * front of the ones h2o sets on each connection's socket (sock->_cb, part
 * of h2o's public socket struct) and puts them back after every call into
 * h2o, which resets them (srv_conn below).
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
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"
#include "util/util.h"

#define SRV_MAX_HEADER_BYTES (64u << 10)
#define SRV_DRAIN_MS 30000
#define SRV_DEFAULT_MAX_BUFFERED (256ull << 20)
#define SRV_LINGER_MS 2000

typedef struct srv_worker srv_worker;

struct srv_http {
    srv_http_config cfg;
    h2o_globalconf_t conf, admin_conf;
    srv_worker *workers;
    int nworkers;
    atomic_int running; /* workers serving */
    atomic_bool stopping;
    atomic_bool unready;           /* draining soon: /readyz fails, requests are still served */
    atomic_int_least64_t conns;    /* across workers, for the cap */
    atomic_int_least64_t buffered; /* request body bytes reserved, across workers */
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
    srv_stats **stats;             /* one per worker, for /metrics */
    struct admin_prof *admin_prof; /* the /debug/profile being taken, or NULL */
    h2o_timeout_t admin_second;    /* its timer */
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
    srv_gen *gen;                /* the generation this worker serves */
    srv_wgen *wg;                /* its instances of that generation's apps (pool.c) */
    srv_sched *sched;            /* requests that wait (sched.c) */
    h2o_socket_t *sched_sock;    /* watches srv_sched_fd */
    struct srv_call *calls;      /* requests in flight, handlers running or waiting */
    struct srv_call *free_calls; /* kept for reuse */
    int nfree_calls;
    uint64_t next_trim;   /* ns: when idle instances are next trimmed */
    uint64_t warm_failed; /* generation whose prewarm failed: not retried */
    uint64_t nreq;        /* requests seen: with the worker id, the request id */
    srv_log log;
    srv_stats *stats;
    h2o_timeout_t linger;    /* how long a refused connection is drained (SRV_LINGER_MS) */
    h2o_timeout_t phases[3]; /* by srv_phase: --idle-, --header-, --body-timeout-ms */
};

/* What wasp keeps per connection beside h2o's own: the framing check over
 * the bytes read, the body bytes reserved for its requests from the
 * server-wide budget, and a refusal waiting for its request's turn. Its
 * life is the socket's (freed from the socket's on_close, or after the
 * call into h2o during which that came). */
typedef struct srv_conn {
    srv_worker *w;
    h2o_socket_t *sock;
    int fd;
    h2o_socket_cb h2o_read, h2o_write; /* h2o's callbacks, which ours stand in front of */
    size_t seen;                       /* bytes at the start of sock->input already checked */
    srv_framing fr;
    uint64_t started; /* requests handed to on_req */
    struct {
        uint64_t req, bytes;
    } held[4]; /* body bytes reserved, by request (the last one may merge several) */
    int nheld;
    uint64_t refuse_req; /* the request to refuse when h2o gets to it (0: none) */
    int refuse_status;
    const char *refuse_why;
    int depth; /* calls into h2o under way */
    bool closed;
    bool pending;                    /* its current request's handler is running or waiting */
    struct srv_call *call;           /* that request's, while pending */
    srv_watch hangup;                /* while pending: the client closing its side */
    int phase;                       /* the srv_phase being timed (-1: none, h2o is not reading) */
    h2o_timeout_entry_t phase_timer; /* in w->phases[phase] */
} srv_conn;

/* A request in flight: from on_req until its handler has finished and its
 * response is with h2o (or its client is gone). Lives in malloc'd memory,
 * not the request's pool, because h2o may dispose of the request while
 * the handler still waits; `hook`, in the pool, tells us when. */
typedef struct srv_call {
    srv_worker *w;
    srv_wgen *wg;
    int ai;
    srv_slot *slot;
    h2o_req_t *req;         /* NULL once h2o disposed of the request */
    struct srv_call **hook; /* in req->pool: points back here while both live */
    srv_task *task;
    uint64_t t0;
    bool client_gone;          /* the client closed its side while the handler ran */
    bool cpu_over;             /* the handler used up its running time (limits.cpu_ms) */
    bool queued;               /* waiting for a slot (link is in the app's queue) */
    struct srv_stream *stream; /* in req->pool once the response is streamed */
    /* the part call_stream hands to stream_send */
    const srv_response *out_resp;
    const uint8_t *out_data;
    size_t out_len;
    util_waiter *out_wait;
    bool out_failed;
    srv_queued link;
    srv_request q;
    srv_result res;
    struct srv_call *prev, *next; /* w->calls */
    char id[32];
    char peer[INET6_ADDRSTRLEN];
    srv_header hdrs[H2O_MAX_HEADERS + 8];
    /* past the part call_new zeroes: call_describe sets what it needs */
    char traceparent[SRV_TRACEPARENT_LEN + 1];
    uint64_t run_ns; /* when its handler's fiber first ran */
    srv_timeline tl;
} srv_call;

/* ---- generations ----------------------------------------------------------- */

/* Leaves the worker's generation: its idle instances go now, busy ones
 * when their requests finish (srv_wgen_retire). */
static void worker_leave_gen(srv_worker *w) {
    if (!w->wg) return;
    for (int i = 0; i < w->gen->napps; i++) {
        srv_app_stats *as = srv_stats_app(w->stats, w->gen->apps[i].name);
        atomic_fetch_sub_explicit(&as->pool_idle, srv_wgen_idle(w->wg, i), memory_order_relaxed);
    }
    srv_wgen_retire(w->wg);
    w->wg = NULL;
    w->gen = NULL;
}

/* Moves the worker to the current generation if there is a newer one.
 * Requests in flight finish on the one they started on. */
static void worker_sync_gen(srv_worker *w) {
    srv_http *h = w->srv;
    if (w->gen && w->gen->id == atomic_load_explicit(&h->gen_id, memory_order_acquire)) return;
    pthread_mutex_lock(&h->gen_lock);
    srv_gen *g = h->gen;
    srv_gen_ref(g);
    pthread_mutex_unlock(&h->gen_lock);
    srv_wgen *wg = srv_wgen_new(g);
    srv_gen_unref(g); /* wg holds its own reference */
    if (!wg) return;  /* keep serving the old generation; try again next time */
    worker_leave_gen(w);
    w->wg = wg;
    w->gen = g;
}

/* Prepares an instance of every app of the worker's generation, so that
 * first requests do not pay for it. Run between loop iterations. */
static void worker_prewarm(srv_worker *w) {
    if (!w->gen || w->warm_failed == w->gen->id) return;
    for (int i = 0; i < w->gen->napps; i++) {
        if (srv_wgen_idle(w->wg, i) || srv_wgen_busy(w->wg, i)) continue;
        const srv_app *app = &w->gen->apps[i];
        if (app->iface == SRV_IFACE_FILTER) continue; /* pipelines have their own instances */
        char err[300];
        if (!srv_wgen_warm(w->wg, i, err, sizeof err)) {
            srv_event("app %s: worker %d cannot prepare it: %s", app->name, w->id, err);
            w->warm_failed = w->gen->id; /* the request path tries again, and answers 500 */
            return;
        }
        srv_app_stats *as = srv_stats_app(w->stats, app->name);
        atomic_fetch_add_explicit(&as->pool_idle, 1, memory_order_relaxed);
    }
}

/* Once a second: instances idle for the whole second are freed. */
static void worker_trim(srv_worker *w) {
    uint64_t now = srv_now_ns();
    if (!w->wg || now < w->next_trim) return;
    w->next_trim = now + 1000000000u;
    for (int i = 0; i < w->gen->napps; i++) {
        int freed = srv_wgen_trim(w->wg, i);
        if (!freed) continue;
        srv_app_stats *as = srv_stats_app(w->stats, w->gen->apps[i].name);
        atomic_fetch_sub_explicit(&as->pool_idle, freed, memory_order_relaxed);
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

/* Adds a response header by its name: never with h2o_add_header and an
 * H2O_TOKEN_*, which is an address in h2o's own data (h2o__tokens), and
 * build/wasp opens h2o with dlopen, so it can take h2o's functions but not
 * its data (util.h). `name` is lower case, so h2o finds its token. */
static void add_header(h2o_req_t *req, const char *name, size_t name_len, const char *value,
                       size_t value_len) {
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 1, NULL, value, value_len);
}

static void send_text(h2o_req_t *req, int status, const char *body) {
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = strlen(body);
    add_header(req, H2O_STRLIT("content-type"), H2O_STRLIT("text/plain; charset=utf-8"));
    h2o_send_inline(req, body, strlen(body));
}

/* The handler's status and headers into req->res. */
static void set_head(h2o_req_t *req, const srv_response *r) {
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
}

static void send_response(h2o_req_t *req, const srv_response *r) {
    set_head(req, r);
    /* 204 and 304 have no body and no Content-Length (RFC 9110 8.6): a
     * pipelining client would read a body as the next response. 205 has an
     * empty one. Handlers cannot set 1xx (handler.c). */
    if (r->status == 204 || r->status == 304) {
        req->res.content_length = SIZE_MAX; /* h2o then adds no framing for them */
        h2o_send_inline(req, "", 0);
        return;
    }
    if (r->status == 205) {
        req->res.content_length = 0;
        h2o_send_inline(req, "", 0);
        return;
    }
    req->res.content_length = r->body_len; /* for HEAD too; h2o sends no body then */
    h2o_send_inline(req, (const char *)r->body, r->body_len);
}

/* ---- the request path -------------------------------------------------------- */

static srv_worker *worker_of(h2o_req_t *req) {
    return (srv_worker *)((char *)req->conn->ctx - offsetof(srv_worker, ctx));
}

static void access_log_line(srv_worker *w, const char *method, size_t mlen, const char *path,
                            size_t plen, const char *id, const char *app, int status, size_t bytes,
                            uint64_t ns, const srv_result *res) {
    srv_log *l = &w->log;
    if (l->fd < 0) return;
    srv_log_begin(l);
    srv_log_num(l, "worker", w->id);
    srv_log_str(l, "req", id, strlen(id));
    srv_log_str(l, "app", app, strlen(app));
    srv_log_str(l, "method", mlen ? method : "-", mlen ? mlen : 1);
    srv_log_str(l, "path", plen ? path : "-", plen ? plen : 1);
    srv_log_num(l, "status", status);
    srv_log_num(l, "bytes", (long long)bytes);
    srv_log_num(l, "dur_us", (long long)(ns / 1000));
    if (res && res->trace_id) srv_log_str(l, "trace", res->trace_id, strlen(res->trace_id));
    if (res && res->outcome != SRV_OK) {
        srv_log_str(l, "trap", res->msg, strlen(res->msg));
        if (res->backtrace[0]) srv_log_str(l, "backtrace", res->backtrace, strlen(res->backtrace));
    }
    if (res && res->errout_len)
        srv_log_str(l, "stderr", (const char *)res->errout,
                    res->errout_len < 512 ? res->errout_len : 512);
    srv_log_end(l);
}

static void access_log(srv_worker *w, h2o_req_t *req, const char *id, const char *app, int status,
                       size_t bytes, uint64_t ns, const srv_result *res) {
    access_log_line(w, req->method.base, req->method.len, req->path.base, req->path.len, id, app,
                    status, bytes, ns, res);
}

/* A request refused before a handler: a text answer and its log line,
 * with the reason as the trap field. `close` ends the connection after. */
static void refuse(srv_worker *w, h2o_req_t *req, const char *id, uint64_t t0, int status,
                   const char *body, const char *why, bool close) {
    if (close) req->http1_is_persistent = 0;
    send_text(req, status, body);
    srv_result res = {.outcome = SRV_INTERNAL};
    snprintf(res.msg, sizeof res.msg, "%s", why);
    access_log(w, req, id, "-", status, 0, srv_now_ns() - t0, &res);
}

static void on_conn_close(void *data);
static void conn_after(srv_conn *c);

static srv_conn *conn_of(h2o_req_t *req) {
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

/* ---- a request's handler, on its fiber ----------------------------------------- */

static bool call_stream(void *arg, const srv_response *resp, const uint8_t *data, size_t len);

/* Fills call->q (and the header array and peer it points to) from the
 * request: everything the handler may read, kept in the call because the
 * handler may wait past on_req's return. */
static void call_describe(srv_call *call, const char *path, size_t path_len) {
    h2o_req_t *req = call->req;
    srv_worker *w = call->w;
    size_t nh = 0;
    /* h2o keeps Host apart, in the authority; handlers expect it among the headers */
    if (req->input.authority.len)
        call->hdrs[nh++] =
            (srv_header){"host", req->input.authority.base, 4, req->input.authority.len};
    for (size_t i = 0; i < req->headers.size && nh < sizeof call->hdrs / sizeof call->hdrs[0];
         i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        call->hdrs[nh++] = (srv_header){h->orig_name ? h->orig_name : h->name->base, h->value.base,
                                        h->name->len, h->value.len};
    }
    /* W3C trace context: one traceparent header, well-formed, or none
     * (section 3.2: a malformed one is ignored) */
    ssize_t tp = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    bool traced = tp >= 0 &&
                  h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), tp) < 0 &&
                  srv_traceparent_parse(req->headers.entries[tp].value.base,
                                        req->headers.entries[tp].value.len, call->traceparent);
    srv_timeline *tl = &call->tl;
    tl->nspans = tl->dropped = 0;
    tl->status = 0;
    tl->t0_ns = call->t0;
    snprintf(tl->id, sizeof tl->id, "%s", call->id);
    snprintf(tl->method, sizeof tl->method, "%.*s", (int)req->method.len, req->method.base);
    snprintf(tl->path, sizeof tl->path, "%.*s", (int)(req->path.len < 119 ? req->path.len : 119),
             req->path.base);
    snprintf(tl->trace_id, sizeof tl->trace_id, "%.32s", traced ? call->traceparent + 3 : "");
    call->run_ns = 0;
    int peer_port = 0;
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl && ss.ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, call->peer, sizeof call->peer);
        peer_port = ntohs(s4->sin_port);
    } else if (sl && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, call->peer, sizeof call->peer);
        peer_port = ntohs(s6->sin6_port);
    }
    size_t qa = req->query_at;
    call->q = (srv_request){
        .method = req->method.base,
        .method_len = req->method.len,
        .uri = req->path.base,
        .uri_len = req->path.len,
        .path = path,
        .path_len = path_len,
        .query = qa != SIZE_MAX ? req->path.base + qa + 1 : "",
        .query_len = qa != SIZE_MAX ? req->path.len - qa - 1 : 0,
        .headers = call->hdrs,
        .nheaders = nh,
        .body = (const uint8_t *)req->entity.base,
        .body_len = req->entity.base ? req->entity.len : 0,
        .remote_addr = call->peer,
        .remote_port = peer_port,
        .server_addr = w->srv->cfg.listen_host,
        .server_port = w->srv->cfg.listen_port,
        .id = call->id,
        .log = &w->log,
        .stream = call_stream,
        .stream_arg = call,
        .traceparent = traced ? call->traceparent : NULL,
    };
}

static void call_on_dispose(void *p);

/* Registers the call to hear of its request's disposal. */
static void call_hook(srv_call *call) {
    call->hook = h2o_mem_alloc_shared(&call->req->pool, sizeof *call->hook, call_on_dispose);
    *call->hook = call;
}

/* ---- streamed responses -------------------------------------------------------- */

/* One streamed part at most this long is in h2o's hands at a time. */
#define STREAM_PART (256u << 10)

/* A response streamed while its handler runs (srv_request.stream). It
 * lives in the request's pool (its buffer freed with it), not in the
 * call: h2o may still be sending its last part after the call ended. */
typedef struct srv_stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed and stop */
    h2o_req_t *req;
    uint8_t *buf; /* the part h2o is sending (a copy: the instance is reused) */
    size_t cap;
    bool in_flight;       /* h2o has a part and has not called proceed yet */
    bool chunk;           /* framed here, in chunks (see stream_send) */
    char size_line[24];   /* a chunk's "<hex size>\r\n" */
    bool stopped;         /* the client went away */
    h2o_send_state_t end; /* IN_PROGRESS: no end waiting for proceed */
    h2o_iovec_t end_data; /* the last part, in the pool */
    util_waiter *waiter;  /* the handler waiting for proceed */
    uint64_t bytes;       /* sent so far */
} srv_stream;

static void stream_dispose(void *p) {
    free(((srv_stream *)p)->buf);
}

static void stream_wake(srv_stream *st) {
    util_waiter *w = st->waiter;
    st->waiter = NULL;
    if (w) util_waiter_wake(w);
}

/* h2o took the part: the end if one waits for it, else the handler goes on. */
static void stream_proceed(h2o_generator_t *gen, h2o_req_t *req) {
    srv_stream *st = (srv_stream *)gen;
    st->in_flight = false;
    if (st->end != H2O_SEND_STATE_IN_PROGRESS) {
        h2o_send(req, &st->end_data, st->end_data.len ? 1 : 0, st->end);
        return;
    }
    stream_wake(st);
}

static void stream_stop(h2o_generator_t *gen, h2o_req_t *req) {
    srv_stream *st = (srv_stream *)gen;
    st->stopped = true;
    st->in_flight = false;
    stream_wake(st);
}

/* On the worker's stack, right after the handler suspended in
 * call_stream: the part goes to h2o (the status and headers first). */
static void stream_send(void *arg) {
    srv_call *call = arg;
    h2o_req_t *req = call->req;
    srv_stream *st = call->stream;
    if (!req || call->client_gone || (st && st->stopped)) {
        call->out_failed = true;
        util_waiter_wake(call->out_wait);
        return;
    }
    srv_conn *c = conn_of(req);
    bool outside = c && c->depth == 0;
    if (outside) c->depth++;
    if (!st) {
        st = h2o_mem_alloc_shared(&req->pool, sizeof *st, stream_dispose);
        memset(st, 0, sizeof *st);
        st->gen.proceed = stream_proceed;
        st->gen.stop = stream_stop;
        st->req = req;
        st->end = H2O_SEND_STATE_IN_PROGRESS;
        call->stream = st;
        set_head(req, call->out_resp);
        req->res.content_length = SIZE_MAX;
        /* h2o's chunked encoder takes only 200s; other statuses it would
         * send delimited by the connection's close, where a cut body (the
         * handler trapped) looks whole. Those are chunked here. HTTP/1.0
         * has no chunks: the close is all there is. */
        st->chunk = req->version >= 0x101 && req->res.status != 200;
        if (st->chunk) add_header(req, H2O_STRLIT("transfer-encoding"), H2O_STRLIT("chunked"));
        h2o_start_response(req, &st->gen);
    }
    if (st->cap < call->out_len) {
        uint8_t *b = realloc(st->buf, call->out_len);
        if (!b) {
            call->out_failed = true;
            util_waiter_wake(call->out_wait);
            goto out;
        }
        st->buf = b;
        st->cap = call->out_len;
    }
    memcpy(st->buf, call->out_data, call->out_len);
    st->in_flight = true;
    st->waiter = call->out_wait;
    st->bytes += call->out_len;
    h2o_iovec_t v[3];
    size_t nv = 0;
    if (st->chunk)
        v[nv++] =
            h2o_iovec_init(st->size_line, (size_t)snprintf(st->size_line, sizeof st->size_line,
                                                           "%zx\r\n", call->out_len));
    v[nv++] = h2o_iovec_init(st->buf, call->out_len);
    if (st->chunk) v[nv++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    h2o_send(req, v, nv, H2O_SEND_STATE_IN_PROGRESS); /* may call proceed at once */
out:
    if (outside) {
        c->depth--;
        conn_after(c);
    }
}

/* srv_request.stream, on the handler's fiber: each part of at most
 * STREAM_PART goes out from the worker's stack (stream_send) while the
 * handler waits for h2o to take it. */
static bool call_stream(void *arg, const srv_response *resp, const uint8_t *data, size_t len) {
    srv_call *call = arg;
    srv_sched *sched = call->w->sched;
    while (len > 0) {
        size_t n = len < STREAM_PART ? len : STREAM_PART;
        util_waiter wt;
        util_waiter_init(&wt);
        call->out_resp = resp;
        call->out_data = data;
        call->out_len = n;
        call->out_wait = &wt;
        call->out_failed = false;
        srv_sched_after_suspend(sched, stream_send, call);
        int64_t left = wasm_call_time_left_ms();
        bool ok = util_waiter_wait(&wt, left < 0 ? -1 : (int)left) && !call->out_failed;
        srv_sched_after_suspend(sched, NULL, NULL); /* in case it did not suspend */
        if (call->stream && call->stream->waiter == &wt) call->stream->waiter = NULL;
        util_waiter_done(&wt);
        call->out_wait = NULL;
        if (!ok || !call->stream || call->stream->stopped) return false;
        data += n;
        len -= n;
    }
    return true;
}

/* The end of a streamed response: the rest of the body (ok) or an error
 * that makes h2o close the connection (the client sees the body cut),
 * now or when h2o takes the part it has. */
static void stream_end(srv_call *call, bool ok, const srv_response *resp) {
    srv_stream *st = call->stream;
    h2o_req_t *req = call->req;
    call->stream = NULL;
    if (st->stopped) return;
    st->end = ok ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
    if (ok) {
        /* the rest, framed as a chunk and followed by the last one when
         * framed here; a cut body has no last chunk */
        size_t n = resp->body_len;
        char *p = h2o_mem_alloc_pool(&req->pool, n + 32);
        size_t o = 0;
        if (st->chunk && n) o += (size_t)snprintf(p, 24, "%zx\r\n", n);
        if (n) memcpy(p + o, resp->body, n);
        o += n;
        if (st->chunk) {
            memcpy(p + o, n ? "\r\n0\r\n\r\n" : "0\r\n\r\n", n ? 7 : 5);
            o += n ? 7 : 5;
        }
        st->end_data = h2o_iovec_init(p, o);
    }
    if (!st->in_flight) h2o_send(req, &st->end_data, st->end_data.len ? 1 : 0, st->end);
}

/* On the call's fiber: the handler, start to finish (waits included); its
 * host calls go into the request's timeline. */
static void call_run(void *arg) {
    srv_call *call = arg;
    call->run_ns = srv_now_ns();
    wasm_observe_host_calls(srv_timeline_observe, &call->tl);
    srv_slot_run(call->slot, &call->q, srv_slot_response(call->slot), &call->res);
    wasm_observe_host_calls(NULL, NULL);
}

/* The request's phases into its timeline, before its host calls (which
 * the observer put in as they ended), and the timeline kept. */
static void call_timeline_end(srv_call *call, srv_app_stats *as, int status) {
    srv_timeline *tl = &call->tl;
    uint64_t end = srv_now_ns();
    tl->status = status;
    tl->total_ns = end - tl->t0_ns;
    srv_span host[SRV_SPANS_MAX];
    uint32_t nhost = tl->nspans;
    memcpy(host, tl->spans, nhost * sizeof *host);
    tl->nspans = 0;
    srv_timeline_span(tl, "request", "request", 7, tl->t0_ns, tl->total_ns, status, 0);
    if (call->run_ns) {
        uint64_t ready = call->res.ready_ns;
        if (call->run_ns > tl->t0_ns)
            srv_timeline_span(tl, "request", "queued", 6, tl->t0_ns, call->run_ns - tl->t0_ns, 0,
                              0);
        srv_timeline_span(tl, "request", "instance", 8, call->run_ns, ready, 0, 0);
        srv_timeline_span(tl, "request", "handler", 7, call->run_ns + ready,
                          end - call->run_ns - ready, 0, 0);
    }
    for (uint32_t i = 0; i < nhost; i++)
        srv_timeline_span(tl, host[i].cat, host[i].name, strlen(host[i].name), host[i].start_ns,
                          host[i].ns, host[i].result, host[i].trap);
    srv_traces_add(as, tl);
}

/* h2o disposes of the request before its handler finished: the client
 * closed the connection. The handler is told to stop and run to its end
 * now, while the request's memory is still there (h2o frees it after its
 * dispose callbacks); call_done then answers nobody. */
static void call_end_unrun(srv_call *call, int status, const char *text, const char *why);

/* A queued call whose client left: out of the queue, answered (or only
 * logged), freed. */
static void call_unqueue(srv_call *call) {
    const srv_app *app = &srv_wgen_gen(call->wg)->apps[call->ai];
    srv_gauge(&srv_stats_app(call->w->stats, app->name)->queued, -1);
    call->queued = false;
    srv_wgen_unqueue(call->wg, call->ai, &call->link);
    srv_wgen *wg = call->wg;
    call_end_unrun(call, 503, "the client went away\n", "client gone while queued");
    if (srv_wgen_retired(wg)) srv_wgen_retire(wg); /* freed when that was its last */
}

/* Ends a call whose client is gone: out of the queue if it waits there,
 * else its handler interrupted and run to its end now. */
static void call_stop(srv_call *call) {
    if (call->queued) {
        call_unqueue(call);
        return;
    }
    srv_slot_interrupt(call->slot);
    srv_sched_wake(call->w->sched, call->task, true);
}

/* The handler ran for its app's cpu_ms: it is stopped as a deadline
 * stops it, and answers 504 saying why. */
static void call_on_cpu_over(void *arg) {
    srv_call *call = arg;
    call->cpu_over = true;
    srv_slot_interrupt(call->slot);
    srv_sched_wake(call->w->sched, call->task, false);
}

static void call_on_dispose(void *p) {
    srv_call *call = *(srv_call **)p;
    if (!call) return;
    call->req = NULL;
    call->hook = NULL;
    call->stream = NULL; /* in the request's pool */
    call_stop(call);
}

/* The client of a request whose handler waits closed its side (or the
 * connection failed): the handler is stopped now, and its connection
 * closed after the (unread) answer. */
static void call_on_hangup(void *arg) {
    srv_conn *c = arg;
    srv_call *call = c->call;
    if (!call) return;
    call->client_gone = true;
    call_stop(call);
}

/* Hands the answer to h2o (unless the client is gone: then only the log
 * line, status 499), counts and logs it. `resp` for a handler's response,
 * else `text` with `status`. Called on the worker's stack, inside or
 * outside h2o's callbacks for the connection. */
static void call_respond(srv_call *call, int status, const srv_response *resp, const char *text,
                         size_t bytes, const srv_result *res) {
    srv_worker *w = call->w;
    h2o_req_t *req = call->req;
    const srv_app *app = &srv_wgen_gen(call->wg)->apps[call->ai];
    srv_app_stats *as = srv_stats_app(w->stats, app->name);
    if (call->hook) *call->hook = NULL;
    uint64_t ns = srv_now_ns() - call->t0;
    if (!req) {
        /* the client left first: logged, not counted as an answer */
        access_log_line(w, call->q.method, call->q.method_len, call->q.uri, call->q.uri_len,
                        call->id, app->name, 499, 0, ns, res);
        srv_count(&as->cancelled, 1);
        return;
    }
    srv_conn *c = conn_of(req);
    /* when this runs inside on_req, the call into h2o that got us there
     * does what follows a call into h2o for the connection */
    bool outside = c && c->depth == 0;
    if (c) {
        c->pending = false;
        c->call = NULL; /* the hang-up watch stays for the next request */
    }
    if (outside) c->depth++;
    if (call->client_gone) req->http1_is_persistent = 0;
    if (status == 503) add_header(req, H2O_STRLIT("retry-after"), H2O_STRLIT("1"));
    /* A streamed response's end goes last: ending it with an error makes
     * h2o close the connection, and free req, at once. */
    if (call->stream)
        bytes = call->stream->bytes + (resp ? resp->body_len : 0);
    else if (resp)
        send_response(req, resp);
    else
        send_text(req, status, text);
    if (call->client_gone) {
        access_log(w, req, call->id, app->name, 499, 0, ns, res);
        srv_count(&as->cancelled, 1);
    } else {
        srv_count(&as->by_status[status], 1);
        srv_hist_add(&as->duration, ns);
        access_log(w, req, call->id, app->name, status, bytes, ns, res);
    }
    if (call->stream) {
        stream_end(call, resp != NULL, resp);
        call->req = NULL; /* perhaps freed already */
    }
    if (outside) {
        c->depth--;
        conn_after(c);
    }
}

/* The call leaves the worker's list and is freed. */
static void call_free(srv_call *call) {
    srv_worker *w = call->w;
    if (call->prev)
        call->prev->next = call->next;
    else
        w->calls = call->next;
    if (call->next) call->next->prev = call->prev;
    /* kept for the next request: a calloc of its header array per request
     * showed in the hello benchmark */
    if (w->nfree_calls < 64) {
        call->next = w->free_calls;
        w->free_calls = call;
        w->nfree_calls++;
    } else {
        free(call);
    }
}

/* A call for a new request, its fields before the header array zeroed. */
static srv_call *call_new(srv_worker *w) {
    srv_call *call = w->free_calls;
    if (call) {
        w->free_calls = call->next;
        w->nfree_calls--;
    } else if (!(call = malloc(sizeof *call))) {
        return NULL;
    }
    memset(call, 0, offsetof(srv_call, hdrs));
    return call;
}

/* Answers a request whose handler never ran (the queue was full, it
 * waited past its deadline, its client left while it waited, no instance
 * could be made) and frees its call. */
static void call_end_unrun(srv_call *call, int status, const char *text, const char *why) {
    srv_result res = {.outcome = status == 504 ? SRV_DEADLINE : SRV_INTERNAL};
    snprintf(res.msg, sizeof res.msg, "%.190s", why);
    call_respond(call, status, NULL, text, 0, &res);
    call_free(call);
}

static void call_start(srv_call *call);

/* Starts the requests waiting for app `ai` of wg while it has room. A
 * request that finishes at once, in here, comes back to give its slot
 * back; the guard keeps it from entering this loop again. */
static void worker_serve_queue(srv_worker *w, srv_wgen *wg, int ai) {
    if (!srv_wgen_queued(wg, ai) || !srv_wgen_serve_begin(wg, ai)) return;
    const srv_app *app = &srv_wgen_gen(wg)->apps[ai];
    srv_app_stats *as = srv_stats_app(w->stats, app->name);
    srv_queued *q;
    while ((uint32_t)srv_wgen_busy(wg, ai) < app->cfg->max_concurrency &&
           (q = srv_wgen_dequeue(wg, ai))) {
        srv_call *call = (srv_call *)((char *)q - offsetof(srv_call, link));
        call->queued = false;
        srv_gauge(&as->queued, -1);
        uint64_t waited_ms = (srv_now_ns() - call->t0) / 1000000u;
        if (waited_ms >= app->cfg->deadline_ms) {
            call_end_unrun(call, 504, "the request waited past its deadline for a free instance\n",
                           "deadline passed while queued");
            continue;
        }
        /* the deadline counts from arrival: what is left of it */
        call->q.deadline_ms = app->cfg->deadline_ms - (uint32_t)waited_ms;
        call_start(call);
    }
    srv_wgen_serve_end(wg, ai);
}

/* On the worker's stack, once the handler finished: the response goes to
 * h2o (unless the client is gone), the request is logged and counted, the
 * instance reset and given back, and a request waiting for it started. */
static void call_done(void *arg) {
    srv_call *call = arg;
    srv_worker *w = call->w;
    const srv_app *app = &srv_wgen_gen(call->wg)->apps[call->ai];
    srv_app_stats *as = srv_stats_app(w->stats, app->name);
    const srv_result *res = &call->res;
    const srv_response *resp = srv_slot_response(call->slot);
    int status;
    size_t bytes = 0;
    switch (res->outcome) {
    case SRV_OK:
        status = resp->status;
        bytes = status == 204 || status == 205 || status == 304 ? 0 : resp->body_len;
        break;
    case SRV_DEADLINE: status = 504; break;
    case SRV_BADGATEWAY: status = 502; break;
    default: status = 500; break;
    }
    bool cpu_over = status == 504 && call->cpu_over;
    call_timeline_end(call, as, status);
    if (call->tl.trace_id[0]) call->res.trace_id = call->tl.trace_id;
    if (cpu_over)
        snprintf(call->res.msg, sizeof call->res.msg, "cpu_ms of %u ms used up", app->cfg->cpu_ms);
    /* before call_respond: ending a streamed response with an error
     * frees the request at once */
    if (call->req && (res->outcome == SRV_TRAP || res->outcome == SRV_INTERNAL))
        srv_event("app %s: %.*s %.*s: %s%s%s", app->name, (int)call->req->method.len,
                  call->req->method.base,
                  (int)(call->req->path.len < 200 ? call->req->path.len : 200),
                  call->req->path.base, res->msg, res->backtrace[0] ? "; backtrace: " : "",
                  res->backtrace);
    const char *text = cpu_over        ? "the handler used up its CPU time\n"
                       : status == 504 ? "the handler ran out of time\n"
                       : status == 502 ? "the handler's output was not a valid CGI response\n"
                                       : "the handler failed\n";
    /* --dev: why, for the developer at the other end */
    char why[sizeof res->msg + sizeof res->backtrace + 96];
    if (w->srv->cfg.dev && res->outcome != SRV_OK && !cpu_over) {
        snprintf(why, sizeof why, "%.*s: %s\n%s%s%s", (int)strlen(text) - 1, text, res->msg,
                 res->backtrace[0] ? "wasm backtrace: " : "", res->backtrace,
                 res->backtrace[0] ? "\n" : "");
        text = why;
    }
    call_respond(call, status, res->outcome == SRV_OK ? resp : NULL, text, bytes, res);
    if ((res->outcome == SRV_TRAP || res->outcome == SRV_DEADLINE) && res->trap > 0 &&
        res->trap < SRV_NTRAPS)
        srv_count(&as->traps[res->trap], 1);
    /* The response is with h2o now; clean the instance for the next one. */
    srv_slot_mem mem;
    uint64_t reset_ns = srv_slot_recycle_counted(call->slot, &mem);
    srv_hist_add(&w->stats->instantiate, res->ready_ns + reset_ns);
    if (mem.bytes) {
        atomic_store_explicit(&as->mem_rest, mem.rest_bytes, memory_order_relaxed);
        if (mem.bytes > atomic_load_explicit(&as->mem_peak, memory_order_relaxed))
            atomic_store_explicit(&as->mem_peak, mem.bytes, memory_order_relaxed);
        srv_count(&as->mem_req_sum, mem.bytes);
        srv_count(&as->mem_req_count, 1);
        srv_count(&as->pages_reset, mem.pages_reset);
        if (mem.host_bytes > atomic_load_explicit(&as->host_peak, memory_order_relaxed))
            atomic_store_explicit(&as->host_peak, mem.host_bytes, memory_order_relaxed);
    }
    srv_gauge(&as->pool_busy, -1);
    srv_wgen *wg = call->wg;
    int ai = call->ai;
    if (wg == w->wg) srv_gauge(&as->pool_idle, 1); /* else retired: freed */
    srv_gauge(&w->stats->in_flight, -1);
    /* false: a loop starting queued requests runs further up the stack
     * (this request finished inside it) and goes on by itself */
    bool outermost = srv_wgen_serve_begin(wg, ai);
    srv_wgen_give(wg, ai, call->slot);
    call_free(call);
    if (!outermost) return;
    srv_wgen_serve_end(wg, ai);
    worker_serve_queue(w, wg, ai);
    if (srv_wgen_retired(wg)) srv_wgen_retire(wg); /* frees it when this was the last */
}

/* Takes a slot for a described call and runs its handler on a fiber. */
static void call_start(srv_call *call) {
    srv_worker *w = call->w;
    const srv_app *app = &srv_wgen_gen(call->wg)->apps[call->ai];
    srv_app_stats *as = srv_stats_app(w->stats, app->name);
    char err[300];
    bool made = false;
    srv_slot *slot = srv_wgen_take(call->wg, call->ai, &made, err, sizeof err);
    if (!slot) {
        srv_event("app %s: worker %d cannot prepare it: %s", app->name, w->id, err);
        call_end_unrun(call, 500, "internal server error\n", err);
        return;
    }
    srv_gauge(&as->pool_busy, 1);
    if (!made) srv_gauge(&as->pool_idle, -1);
    srv_gauge(&w->stats->in_flight, 1);
    call->slot = slot;
    /* Runs the handler on a fiber: call_done answers when it finishes,
     * now (it did not wait) or later (from srv_sched_poll). */
    /* a budget of running time only when the app sets one: untimed otherwise */
    srv_task_budget budget = {(uint64_t)app->cfg->cpu_ms * 1000000u, call_on_cpu_over};
    if (!srv_sched_spawn(w->sched, call_run, call_done, call, &budget, &call->task, err,
                         sizeof err)) {
        snprintf(call->res.msg, sizeof call->res.msg, "no stack for the request: %.150s", err);
        call->res.outcome = SRV_INTERNAL;
        call_done(call);
    }
}

/* Ends every request in flight on the worker (the drain limit passed):
 * each handler stops, answers 504, and gives its instance back. */
static void worker_stop_calls(srv_worker *w) {
    for (srv_call *call = w->calls, *next; call; call = next) {
        next = call->next;
        if (call->queued) {
            call_unqueue(call); /* frees it */
            continue;
        }
        srv_slot_interrupt(call->slot);
        srv_sched_wake(w->sched, call->task, false);
    }
    srv_sched_poll(w->sched);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    srv_worker *w = worker_of(req);
    uint64_t t0 = srv_now_ns();
    char id[32];
    snprintf(id, sizeof id, "%d-%llu", w->id, (unsigned long long)++w->nreq);
    worker_sync_gen(w);
    srv_gen *g = w->gen;

    /* A request whose framing or body the connection check refused, which
     * h2o completed before the refusal could be sent (it came pipelined
     * behind another). */
    srv_conn *c = conn_of(req);
    if (c) c->started++;
    if (c && c->refuse_req && c->refuse_req <= c->started) {
        char body[200];
        if (c->refuse_status == 503)
            snprintf(body, sizeof body,
                     "the server holds too many request bodies; try again later\n");
        else
            snprintf(body, sizeof body, "the request's framing is refused: %s\n", c->refuse_why);
        refuse(w, req, id, t0, c->refuse_status, body, c->refuse_why, true);
        return 0;
    }
    size_t hbytes = 0;
    for (size_t i = 0; i < req->headers.size; i++) {
        hbytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
        /* picohttpparser turns an obs-fold line into a header without a
         * name; srv_framing refuses those first, this is the last line */
        if (req->headers.entries[i].name->len == 0) {
            refuse(w, req, id, t0, 400, "obs-fold header lines are not accepted\n",
                   "an obs-fold header line", true);
            return 0;
        }
    }
    if (hbytes > SRV_MAX_HEADER_BYTES) {
        send_text(req, 431, "request header fields too large\n");
        access_log(w, req, id, "-", 431, 0, srv_now_ns() - t0, NULL);
        return 0;
    }
    /* Route on h2o's normalised path (percent-decoded), and only when the
     * decoding cannot change the segments: with no dot segment and no
     * encoded '/', the decoded path is the raw one's segments decoded, so
     * the app chosen is the one the raw path names ("/w/..%2F..%2Fhello"
     * does not reach /hello, nor "/public/../admin" /admin). */
    const char *bad_path = srv_path_check(req->path.base, req->path.len);
    if (bad_path) {
        refuse(w, req, id, t0, 400, "the request path has a dot segment or an encoded '/'\n",
               bad_path, false);
        return 0;
    }
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
    srv_call *call = call_new(w);
    if (!call) {
        send_text(req, 500, "internal server error\n");
        srv_count(&as->by_status[500], 1);
        access_log(w, req, id, app->name, 500, 0, srv_now_ns() - t0, NULL);
        return 0;
    }
    call->w = w;
    call->wg = w->wg;
    call->ai = ai;
    call->req = req;
    call->t0 = t0;
    snprintf(call->id, sizeof call->id, "%s", id);
    call_describe(call, path, path_len);
    /* Told when h2o disposes of the request (the client went away): needed
     * only by a call that outlives on_req, so made after it started when
     * the connection is known (call_hook below). */
    if (!c) call_hook(call);
    call->next = w->calls;
    if (w->calls) w->calls->prev = call;
    w->calls = call;
    if (c) {
        c->pending = true;
        c->call = call;
    }
    if ((uint32_t)srv_wgen_busy(w->wg, ai) < app->cfg->max_concurrency) {
        call_start(call); /* may finish, and free call, before it returns */
    } else if ((uint32_t)srv_wgen_queued(w->wg, ai) < app->cfg->queue) {
        /* max_concurrency reached: waits for a slot, its deadline running */
        call->queued = true;
        srv_wgen_enqueue(w->wg, ai, &call->link);
        srv_gauge(&as->queued, 1);
    } else {
        srv_count(&as->overloaded, 1);
        call_end_unrun(call, 503, "the app is at its concurrency limit; try again later\n",
                       "max_concurrency and queue full");
    }
    /* Still waiting: h2o reads nothing from the connection meanwhile, so
     * wasp watches it for the client closing its side, which ends the
     * handler (as nginx ends a proxied request whose client left). */
    if (c && c->pending) {
        if (c->call && !c->call->hook) call_hook(c->call);
        srv_sched_watch_hangup(w->sched, &c->hangup, c->fd, call_on_hangup, c);
    }
    return 0;
}

/* ---- connections -------------------------------------------------------------- */

/* Takes `bytes` of request `req`'s body from the server-wide budget; false,
 * taking nothing, when the budget does not have them. */
static bool conn_reserve(srv_conn *c, uint64_t req, uint64_t bytes) {
    srv_http *h = c->w->srv;
    if (bytes == 0) return true;
    if (bytes > h->cfg.max_buffered) return false;
    int64_t now = atomic_fetch_add_explicit(&h->buffered, (int64_t)bytes, memory_order_relaxed) +
                  (int64_t)bytes;
    if ((uint64_t)now > h->cfg.max_buffered) {
        atomic_fetch_sub_explicit(&h->buffered, (int64_t)bytes, memory_order_relaxed);
        return false;
    }
    int n = c->nheld;
    if (n && c->held[n - 1].req == req) {
        c->held[n - 1].bytes += bytes;
    } else if (n < (int)(sizeof c->held / sizeof c->held[0])) {
        c->held[n].req = req;
        c->held[n].bytes = bytes;
        c->nheld++;
    } else { /* merged into the last: given back with the later request, never earlier */
        c->held[n - 1].req = req;
        c->held[n - 1].bytes += bytes;
    }
    return true;
}

/* Gives back what requests up to `upto` held: h2o drops a request's bytes
 * from its buffer once the response went out. */
static void conn_release(srv_conn *c, uint64_t upto) {
    int64_t sum = 0;
    int k = 0;
    for (int i = 0; i < c->nheld; i++) {
        if (c->held[i].req <= upto)
            sum += (int64_t)c->held[i].bytes;
        else
            c->held[k++] = c->held[i];
    }
    c->nheld = k;
    if (sum) atomic_fetch_sub_explicit(&c->w->srv->buffered, sum, memory_order_relaxed);
}

static void conn_refuse_later(srv_conn *c, uint64_t req, int status, const char *why) {
    if (c->refuse_req) return; /* the first refusal closes the connection */
    c->refuse_req = req;
    c->refuse_status = status;
    c->refuse_why = why;
}

/* Runs the framing check over the bytes read since the last look, taking
 * each body from the budget as its head (Content-Length) or its chunks
 * come. A body over --max-body is left to h2o, which answers 413. */
static void conn_check(srv_conn *c) {
    h2o_buffer_t *in = c->sock->input;
    if (c->seen > in->size) c->seen = in->size;
    const uint8_t *p = (const uint8_t *)in->bytes + c->seen;
    size_t n = in->size - c->seen;
    c->seen = in->size;
    while (n && !c->refuse_req) {
        srv_frame_event ev;
        uint64_t data;
        size_t k = srv_framing_feed(&c->fr, p, n, &ev, &data);
        p += k;
        n -= k;
        if (ev == SRV_FRAME_BAD) {
            conn_refuse_later(c, c->fr.req, 400, c->fr.why);
        } else if ((ev == SRV_FRAME_HEAD && !c->fr.chunked) ||
                   (ev == SRV_FRAME_DATA && c->fr.chunked)) {
            uint64_t want = ev == SRV_FRAME_HEAD ? c->fr.length : data;
            if (c->fr.length <= c->w->srv->cfg.max_body && c->fr.body <= c->w->srv->cfg.max_body &&
                !conn_reserve(c, c->fr.req, want))
                conn_refuse_later(c, c->fr.req, 503, "--max-buffered-bodies reached");
        }
    }
}

/* A lingering close: the socket of a refused connection, kept open on a
 * duplicate descriptor after h2o closed its own, its writing side shut
 * (the refusal then FIN), what the client still sends read and dropped
 * until it closes or SRV_LINGER_MS pass. Closing at once with unread input
 * would send an RST, and the client's TCP would drop the refusal before
 * the client read it. It counts as a connection until it ends. */
typedef struct srv_linger {
    srv_worker *w;
    h2o_socket_t *sock;
    h2o_timeout_entry_t timeout;
} srv_linger;

static void linger_end(srv_linger *l) {
    srv_worker *w = l->w;
    if (h2o_timeout_is_linked(&l->timeout)) h2o_timeout_unlink(&l->timeout);
    h2o_socket_close(l->sock);
    free(l);
    w->nconns--;
    atomic_fetch_sub_explicit(&w->srv->conns, 1, memory_order_relaxed);
}

static void linger_on_read(h2o_socket_t *sock, const char *err) {
    if (err) {
        linger_end(sock->data);
        return;
    }
    h2o_buffer_consume(&sock->input, sock->input->size);
}

static void linger_on_timeout(h2o_timeout_entry_t *entry) {
    linger_end((srv_linger *)((char *)entry - offsetof(srv_linger, timeout)));
}

/* Takes over `fd` (a duplicate of a refused connection's) for a lingering
 * close; closes it at once when that cannot be set up. */
static void linger_start(srv_worker *w, int fd) {
    srv_linger *l = calloc(1, sizeof *l);
    if (!l || shutdown(fd, SHUT_WR)) {
        free(l);
        close(fd);
        return;
    }
    l->w = w;
    l->sock = h2o_evloop_socket_create(w->ctx.loop, fd, 0);
    l->sock->data = l;
    l->timeout.cb = linger_on_timeout;
    h2o_timeout_link(w->ctx.loop, &w->linger, &l->timeout);
    h2o_socket_read_start(l->sock, linger_on_read);
    w->nconns++;
    atomic_fetch_add_explicit(&w->srv->conns, 1, memory_order_relaxed);
}

/* Answers the request h2o is reading now with the refusal, straight on the
 * socket (h2o is not writing: it only reads between responses), has h2o
 * close the connection as after a read error, and lingers on a duplicate
 * of the descriptor so that a client still sending gets the answer. */
static void conn_refuse_now(srv_conn *c) {
    srv_worker *w = c->w;
    int status = c->refuse_status;
    char body[256], date[64], msg[640];
    if (status == 503)
        snprintf(body, sizeof body, "the server holds too many request bodies; try again later\n");
    else if (status == 408)
        snprintf(body, sizeof body, "%s\n", c->refuse_why);
    else
        snprintf(body, sizeof body, "the request's framing is refused: %s\n", c->refuse_why);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int len = snprintf(msg, sizeof msg,
                       "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: wasp\r\nConnection: close\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n%s",
                       status, reason(status), date, strlen(body),
                       status == 503 ? "Retry-After: 1\r\n" : "", body);
    ssize_t sent = send(c->fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    /* h2o closes its descriptor below; a duplicate keeps the socket for a
     * lingering close (epoll forgets h2o's first: h2o deletes it) */
    int linger_fd = sent == len ? fcntl(c->fd, F_DUPFD_CLOEXEC, 0) : -1;
    char id[32];
    snprintf(id, sizeof id, "%d-%llu", w->id, (unsigned long long)++w->nreq);
    srv_result res = {.outcome = SRV_INTERNAL};
    snprintf(res.msg, sizeof res.msg, "%s", c->refuse_why);
    access_log_line(w, c->fr.method, strlen(c->fr.method), c->fr.target, strlen(c->fr.target), id,
                    "-", status, 0, 0, &res);
    c->depth++;
    c->h2o_read(c->sock, "wasp refused the request");
    c->depth--;
    if (linger_fd >= 0) linger_start(w, linger_fd);
}

static void conn_on_read(h2o_socket_t *sock, const char *err);
static void conn_on_write(h2o_socket_t *sock, const char *err);

/* ---- phases: the idle, header and body timeouts --------------------------------
 *
 * h2o 2.2.5 has one timer for reading a request, req_timeout, started when
 * it begins to wait for one: idle keep-alive, the head and the body share
 * it. wasp times each phase on its own instead, each a deadline (not an
 * inactivity timer, which a client sending a byte now and then would
 * defeat): from the end of the last response (or the accept) to the next
 * request's first byte, from there to the end of its head, and from there
 * to the end of its body. Only while h2o reads: a handler running or a
 * response going out is the handler's deadline's business. The phase comes
 * from the framing check, which sees every byte h2o reads; its timer
 * starts when the phase does, so bytes trickling in do not extend it.
 * h2o's req_timeout stays as a backstop, set past the sum of the three. */

static void conn_phase_stop(srv_conn *c) {
    if (c->phase >= 0 && h2o_timeout_is_linked(&c->phase_timer))
        h2o_timeout_unlink(&c->phase_timer);
    c->phase = -1;
}

static void conn_on_phase_timeout(h2o_timeout_entry_t *entry) {
    srv_conn *c = (srv_conn *)((char *)entry - offsetof(srv_conn, phase_timer));
    int phase = c->phase;
    c->phase = -1;
    srv_count(&c->w->stats->timeouts[phase], 1);
    if (phase == SRV_PHASE_IDLE) { /* nothing begun: close, as after a read error */
        c->depth++;
        c->h2o_read(c->sock, "idle timeout");
        c->depth--;
        conn_after(c);
        return;
    }
    /* a request begun and not finished: tell the client why (408), log it */
    c->refuse_req = c->fr.req;
    c->refuse_status = 408;
    c->refuse_why = phase == SRV_PHASE_HEAD
                        ? "the request's head did not arrive within --header-timeout-ms"
                        : "the request's body did not arrive within --body-timeout-ms";
    conn_refuse_now(c);
    conn_after(c);
}

/* Times the phase the connection is in now, if h2o reads it: a phase that
 * goes on keeps its timer, a new one starts its own. */
static void conn_phase(srv_conn *c, bool writing) {
    int phase = writing || !c->sock->_cb.read ? -1 : (int)srv_framing_phase(&c->fr);
    if (phase == c->phase) return;
    conn_phase_stop(c);
    if (phase < 0) return;
    c->phase = phase;
    c->phase_timer.cb = conn_on_phase_timeout;
    h2o_timeout_link(c->w->ctx.loop, &c->w->phases[phase], &c->phase_timer);
}

/* After a call into h2o for the connection: frees the struct if h2o
 * closed the connection; else puts our callbacks back in front of the ones
 * h2o set, gives back what finished requests held, and refuses a request
 * whose turn came. The caller must not touch `c` afterwards. */
static void conn_after(srv_conn *c) {
    if (c->closed) {
        free(c);
        return;
    }
    h2o_socket_t *sock = c->sock;
    if (sock->_cb.read && sock->_cb.read != conn_on_read) {
        c->h2o_read = sock->_cb.read;
        sock->_cb.read = conn_on_read;
    }
    if (sock->_cb.write && sock->_cb.write != conn_on_write) {
        c->h2o_write = sock->_cb.write;
        sock->_cb.write = conn_on_write;
    }
    c->seen = sock->input->size;
    /* the response to request `started` is going out, or its handler has
     * not answered yet: its body is still held */
    bool writing = sock->_cb.write != NULL || c->pending;
    conn_release(c, writing ? c->started - 1 : c->started);
    if (c->refuse_req && c->refuse_req == c->started + 1 && !writing && sock->_cb.read) {
        conn_refuse_now(c);
        if (c->closed) {
            free(c);
            return;
        }
    }
    conn_phase(c, writing);
}

static void conn_on_read(h2o_socket_t *sock, const char *err) {
    srv_conn *c = sock->on_close.data;
    if (!err) {
        conn_check(c);
        /* h2o reads request started + 1: refuse it before h2o sees it */
        if (c->refuse_req == c->started + 1) {
            conn_refuse_now(c);
            conn_after(c);
            return;
        }
    }
    c->depth++;
    c->h2o_read(sock, err);
    c->depth--;
    conn_after(c);
}

static void conn_on_write(h2o_socket_t *sock, const char *err) {
    srv_conn *c = sock->on_close.data;
    h2o_socket_cb cb = c->h2o_write;
    c->h2o_write = NULL;
    c->depth++;
    cb(sock, err);
    c->depth--;
    conn_after(c);
}

static void on_conn_close(void *data) {
    srv_conn *c = data;
    srv_worker *w = c->w;
    w->nconns--;
    atomic_fetch_sub_explicit(&w->stats->connections, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->srv->conns, 1, memory_order_relaxed);
    conn_release(c, UINT64_MAX);
    conn_phase_stop(c);
    srv_sched_unwatch(w->sched, &c->hangup);
    if (c->call) c->call = NULL; /* its request's dispose stops the handler */
    c->closed = true;
    if (c->depth == 0) free(c); /* else the call into h2o that closed it frees it */
}

static void on_accept(h2o_socket_t *listener, const char *err) {
    srv_worker *w = listener->data;
    if (err) return;
    for (int i = 0; i < 16; i++) { /* a few per wakeup, as h2o's own server does */
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock) return;
        srv_conn *c = NULL;
        if (atomic_load_explicit(&w->srv->stopping, memory_order_relaxed) ||
            atomic_load_explicit(&w->srv->conns, memory_order_relaxed) >=
                w->srv->cfg.max_connections ||
            !(c = calloc(1, sizeof *c))) {
            h2o_socket_close(sock); /* over the cap: refuse at once, keep the others fast */
            continue;
        }
        atomic_fetch_add_explicit(&w->srv->conns, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&w->stats->connections, 1, memory_order_relaxed);
        w->nconns++;
        c->w = w;
        c->sock = sock;
        c->fd = h2o_socket_get_fd(sock);
        c->phase = -1;
        srv_framing_init(&c->fr);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        c->depth++;
        h2o_accept(&w->accept_ctx, sock);
        c->depth--;
        conn_after(c);
    }
}

/* The scheduler's descriptor is readable: waits are over. */
static void on_sched_ready(h2o_socket_t *sock, const char *err) {
    srv_worker *w = sock->data;
    srv_sched_poll(w->sched);
    atomic_store_explicit(&w->stats->waiting, (int64_t)srv_sched_suspended(w->sched),
                          memory_order_relaxed);
}

static void *worker_main(void *arg) {
    srv_worker *w = arg;
    srv_http *h = w->srv;
    char err[200];
    /* made on this thread: it installs the thread's poller */
    w->sched = srv_sched_new(err, sizeof err);
    if (!w->sched) {
        srv_event("worker %d: %s", w->id, err);
        abort(); /* no epoll set at start: nothing sensible to serve with */
    }
    h2o_context_init(&w->ctx, h2o_evloop_create(), &h->conf);
    /* a dup: h2o closes the descriptor it is given, the scheduler its own */
    w->sched_sock = h2o_evloop_socket_create(w->ctx.loop, dup(srv_sched_fd(w->sched)),
                                             H2O_SOCKET_FLAG_DONT_READ);
    w->sched_sock->data = w;
    h2o_socket_read_start(w->sched_sock, on_sched_ready);
    srv_sched_set_slice(w->sched, h->cfg.time_slice_ms);
    h2o_timeout_init(w->ctx.loop, &w->linger, SRV_LINGER_MS);
    h2o_timeout_init(w->ctx.loop, &w->phases[SRV_PHASE_IDLE], h->cfg.idle_timeout_ms);
    h2o_timeout_init(w->ctx.loop, &w->phases[SRV_PHASE_HEAD], h->cfg.header_timeout_ms);
    h2o_timeout_init(w->ctx.loop, &w->phases[SRV_PHASE_BODY], h->cfg.body_timeout_ms);
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
        h2o_evloop_run(w->ctx.loop, srv_sched_run_deferred(w->sched) ? 1 : 100);
        worker_sync_gen(w);
        worker_prewarm(w);
        worker_trim(w);
        atomic_store_explicit(&w->stats->waiting, (int64_t)srv_sched_suspended(w->sched),
                              memory_order_relaxed);
        srv_log_flush(&w->log, false);
    }
    atomic_fetch_sub(&h->running, 1);
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    /* Requests that arrived while this worker was busy sit unread in their
     * sockets, and h2o would take those connections for idle ones and close
     * them: serve what is already there first. */
    srv_sched_run_deferred(w->sched);
    h2o_evloop_run(w->ctx.loop, 0);
    h2o_context_request_shutdown(&w->ctx);
    uint64_t until = srv_now_ns() + (uint64_t)SRV_DRAIN_MS * 1000000u;
    bool stopped_calls = false;
    while ((w->nconns > 0 || w->calls) && srv_now_ns() < until) {
        h2o_evloop_run(w->ctx.loop, srv_sched_run_deferred(w->sched) ? 1 : 50);
        /* past the drain limit every guest call was interrupted
         * (wasm_interrupt_all): wake those that wait, so they end now */
        if (!stopped_calls && w->calls && wasm_epoch_ended()) {
            worker_stop_calls(w);
            stopped_calls = true;
        }
        srv_log_flush(&w->log, false);
    }
    srv_log_flush(&w->log, true);
    h2o_socket_read_stop(w->sched_sock);
    h2o_socket_close(w->sched_sock);
    h2o_evloop_run(w->ctx.loop, 0); /* frees the closed socket */
    w->sched_sock = NULL;
    worker_leave_gen(w);
    /* a request still in flight here (its client outlived the drain) keeps
     * its fiber and instance until exit */
    if (!w->calls) srv_sched_free(w->sched);
    while (w->free_calls) {
        srv_call *call = w->free_calls;
        w->free_calls = call->next;
        free(call);
    }
    /* The context and its loop are left to process exit: h2o 2.2.5 asserts
     * in h2o_context_dispose while its shutdown timer is still linked, and
     * a client that outlived the drain would still point into the loop. */
    return NULL;
}

/* ---- admin ------------------------------------------------------------------- */

/* Sends a /debug answer and frees its body (copied into the request's
 * pool: h2o sends it after this returns). */
static void admin_answer(h2o_req_t *req, srv_debug_answer *a) {
    if (!a->body) {
        send_text(req, 500, "out of memory\n");
        return;
    }
    char *body = h2o_mem_alloc_pool(&req->pool, a->len ? a->len : 1);
    memcpy(body, a->body, a->len);
    free(a->body);
    req->res.status = a->status;
    req->res.reason = reason(a->status);
    req->res.content_length = a->len;
    add_header(req, H2O_STRLIT("content-type"), a->type, strlen(a->type));
    h2o_send_inline(req, body, a->len);
}

/* GET /debug/profile: the request waits for its profile on the admin
 * loop's one-second timer, counting the seconds down (an h2o timeout has
 * one duration, and cannot be disposed of from its own callback); if the
 * client leaves first, the request's disposal ends the profile. One at a
 * time in a process (the engine has one sampler). */
typedef struct admin_prof {
    srv_http *h;
    h2o_req_t *req;
    struct admin_prof **hook;  /* in the request's pool; NULL once answered */
    h2o_timeout_entry_t entry; /* in h->admin_second */
    unsigned left;             /* seconds */
    srv_profile_job *job;
} admin_prof;

static void admin_prof_end(admin_prof *ap) {
    if (h2o_timeout_is_linked(&ap->entry)) h2o_timeout_unlink(&ap->entry);
    if (ap->hook) *ap->hook = NULL;
    if (ap->h->admin_prof == ap) ap->h->admin_prof = NULL;
    free(ap);
}

static void admin_prof_on_dispose(void *p) {
    admin_prof *ap = *(admin_prof **)p;
    if (!ap) return;
    ap->hook = NULL;
    srv_debug_profile_cancel(ap->job);
    admin_prof_end(ap);
}

static void admin_prof_on_timeout(h2o_timeout_entry_t *entry) {
    admin_prof *ap = (admin_prof *)((char *)entry - offsetof(admin_prof, entry));
    if (--ap->left > 0) {
        h2o_timeout_link(ap->h->admin_ctx.loop, &ap->h->admin_second, &ap->entry);
        return;
    }
    srv_debug_answer a = {0};
    srv_debug_profile_finish(ap->job, &a);
    h2o_req_t *req = ap->req;
    admin_prof_end(ap); /* before the answer: sending may dispose the request */
    admin_answer(req, &a);
}

/* The request's query string (without '?'), "" when it has none. */
static const char *admin_query(const h2o_req_t *req, size_t *n) {
    *n = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0;
    return req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : "";
}

/* A reference on the current generation, whose apps a /debug query names. */
static srv_gen *admin_gen(srv_http *h) {
    pthread_mutex_lock(&h->gen_lock);
    srv_gen *g = h->gen;
    srv_gen_ref(g);
    pthread_mutex_unlock(&h->gen_lock);
    return g;
}

static void admin_profile(srv_http *h, h2o_req_t *req) {
    size_t qn;
    const char *q = admin_query(req, &qn);
    srv_gen *g = admin_gen(h);
    srv_debug_answer a = {0};
    unsigned seconds;
    srv_profile_job *job = srv_debug_profile_start(q, qn, g, &seconds, &a); /* takes g */
    admin_prof *ap = job ? calloc(1, sizeof *ap) : NULL;
    if (!ap) {
        if (job) {
            srv_debug_profile_cancel(job);
            send_text(req, 500, "out of memory\n");
        } else {
            admin_answer(req, &a);
        }
        return;
    }
    ap->h = h;
    ap->req = req;
    ap->job = job;
    ap->hook = h2o_mem_alloc_shared(&req->pool, sizeof *ap->hook, admin_prof_on_dispose);
    *ap->hook = ap;
    ap->left = seconds;
    ap->entry.cb = admin_prof_on_timeout;
    h2o_timeout_link(h->admin_ctx.loop, &h->admin_second, &ap->entry);
    h->admin_prof = ap;
}

static int on_admin(h2o_handler_t *self, h2o_req_t *req) {
    srv_http *h = (srv_http *)((char *)req->conn->ctx - offsetof(srv_http, admin_ctx));
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    if (h2o_memis(p, n, H2O_STRLIT("/healthz"))) {
        send_text(req, 200, "ok\n");
    } else if (h2o_memis(p, n, H2O_STRLIT("/readyz"))) {
        bool ready = atomic_load(&h->running) == h->nworkers && !atomic_load(&h->stopping) &&
                     !atomic_load(&h->unready);
        send_text(req, ready ? 200 : 503, ready ? "ready\n" : "not ready\n");
    } else if (h2o_memis(p, n, H2O_STRLIT("/metrics"))) {
        size_t len;
        char *text = srv_metrics_render(h->stats, h->nworkers, atomic_load(&h->reloads),
                                        atomic_load(&h->buffered), &len);
        const srv_companion *co = h->cfg.companion;
        size_t elen = 0;
        char *extra = text && co && co->metrics ? co->metrics(co->arg, &elen) : NULL;
        if (extra) { /* the pipelines' */
            char *both = realloc(text, len + elen);
            if (both) {
                memcpy(both + len, extra, elen);
                text = both;
                len += elen;
            }
            free(extra);
        }
        if (!text) {
            send_text(req, 500, "out of memory\n");
            return 0;
        }
        req->res.status = 200;
        req->res.reason = "OK";
        req->res.content_length = len;
        add_header(req, H2O_STRLIT("content-type"), H2O_STRLIT("text/plain; version=0.0.4"));
        h2o_send_inline(req, text, len);
        free(text);
    } else if (h2o_memis(p, n, H2O_STRLIT("/debug/profile"))) {
        admin_profile(h, req);
    } else if (h2o_memis(p, n, H2O_STRLIT("/debug/requests"))) {
        size_t qn;
        const char *q = admin_query(req, &qn);
        srv_debug_answer a = {0};
        srv_debug_requests(q, qn, admin_gen(h), h->stats, h->nworkers, &a); /* takes the gen */
        admin_answer(req, &a);
    } else if (h2o_memis(p, n, H2O_STRLIT("/debug/memory"))) {
        srv_debug_answer a = {.status = 200, .type = "application/json"};
        a.body = srv_memory_render(h->stats, h->nworkers, &a.len);
        admin_answer(req, &a);
    } else {
        send_text(req, 404,
                  "admin endpoints: /healthz /readyz /metrics /debug/profile /debug/memory "
                  "/debug/requests\n");
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
    h2o_timeout_init(h->admin_ctx.loop, &h->admin_second, 1000);
    while (!atomic_load(&h->admin_stop))
        h2o_evloop_run(h->admin_ctx.loop, 100);
    h2o_socket_read_stop(l);
    if (h->admin_prof) { /* stopping: the profile ends unanswered */
        srv_debug_profile_cancel(h->admin_prof->job);
        admin_prof_end(h->admin_prof);
    }
    h2o_timeout_dispose(h->admin_ctx.loop, &h->admin_second);
    h2o_socket_close(l);
    h2o_evloop_run(h->admin_ctx.loop, 0); /* let the close complete */
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

/* A listening socket on host:port; with `reuseport`, one of a group. */
static int listen_on(const char *host, int port, bool reuseport, char *err, size_t errlen) {
    struct sockaddr_storage ss;
    socklen_t sl = srv_sockaddr(host, port, &ss, err, errlen);
    if (!sl) return -1;
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
    /* a backstop only: wasp's own phase timers come first (see "phases") */
    c->http1.req_timeout =
        (uint64_t)cfg->idle_timeout_ms + cfg->header_timeout_ms + cfg->body_timeout_ms + 1000;
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
    }
    if (cfg->admin_host) {
        h->admin_fd = listen_on(cfg->admin_host, cfg->admin_port, false, err, errlen);
        if (h->admin_fd < 0) goto fail;
        h->cfg.admin_port = bound_port(h->admin_fd);
    }
    h->gen = gen;
    atomic_store(&h->gen_id, gen->id);
    if (!h->cfg.max_buffered)
        h->cfg.max_buffered =
            cfg->max_body > SRV_DEFAULT_MAX_BUFFERED ? cfg->max_body : SRV_DEFAULT_MAX_BUFFERED;
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
            srv_stats_free(h->stats[i]);
    free(h->stats);
    free(h);
    return NULL;
}

void srv_http_unready(srv_http *h) {
    atomic_store(&h->unready, true);
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
        srv_stats_free(h->stats[i]);
    }
    srv_gen_unref(h->gen);
    h2o_config_dispose(&h->conf);
    h2o_config_dispose(&h->admin_conf);
    free(h->workers);
    free(h->stats);
    pthread_mutex_destroy(&h->gen_lock);
    free(h);
}
