/*
 * hello_h2o.c - the hello-world ceiling on libh2o-evloop (Debian libh2o-evloop-dev, h2o 2.2.5).
 *
 * Usage: hello_h2o PORT [THREADS]   (THREADS defaults to 2; env HELLO_TIMEOUT=SECONDS sets
 *        globalconf.http1.req_timeout, h2o's only HTTP/1 timeout, default 10 s)
 *
 * One h2o_evloop and one h2o_context per thread, each with its own listening socket on
 * 127.0.0.1:PORT bound with SO_REUSEPORT, so the kernel spreads connections over the loops
 * and nothing is shared on the request path but the read-only h2o_globalconf. This is the
 * shape issue 5 asks of wasp's server (docs/design/http.md).
 *
 * Routes: GET / -> 200 "hello, world\n"; POST / -> 200 "got N bytes\n" (h2o hands the
 * handler the whole body, already de-chunked, in req->entity); anything else -> 404.
 * It exists only to be measured by compare.sh and probed by probe.py; it is not wasp code.
 */
#define H2O_USE_LIBUV 0
#include <h2o.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static h2o_globalconf_t config;
static int port;

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
    static h2o_generator_t generator = {NULL, NULL};
    (void)self;
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/")))
        return -1; /* falls through to h2o's own 404 */
    h2o_iovec_t body;
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        body = h2o_iovec_init(H2O_STRLIT("hello, world\n"));
    } else if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        char *s = h2o_mem_alloc_pool(&req->pool, 64);
        body = h2o_iovec_init(s, (size_t)snprintf(s, 64, "got %zu bytes\n", req->entity.len));
    } else {
        return -1;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static int listen_reuseport(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("hello_h2o: listen");
        exit(1);
    }
    return fd;
}

typedef struct {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
} worker;

static void on_accept(h2o_socket_t *listener, const char *err) {
    worker *w = listener->data;
    if (err != NULL) return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL) h2o_accept(&w->accept_ctx, sock);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    h2o_context_init(&w->ctx, h2o_evloop_create(), &config);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = config.hosts;
    h2o_socket_t *listener =
        h2o_evloop_socket_create(w->ctx.loop, listen_reuseport(), H2O_SOCKET_FLAG_DONT_READ);
    listener->data = w;
    h2o_socket_read_start(listener, on_accept);
    /* Not `while (h2o_evloop_run(...) == 0)` as libh2o's example has it: run returns -1 when
     * epoll_wait fails with EINTR (a debugger or strace attaching), which would end the loop. */
    for (;;)
        h2o_evloop_run(w->ctx.loop, INT32_MAX);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hello_h2o PORT [THREADS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int nthreads = argc > 2 ? atoi(argv[2]) : 2;
    if (nthreads < 1) nthreads = 1;
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&config);
    if (getenv("HELLO_TIMEOUT") != NULL)
        config.http1.req_timeout = 1000 * (uint64_t)atoi(getenv("HELLO_TIMEOUT"));
    h2o_hostconf_t *host =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = on_req;

    worker *workers = calloc((size_t)nthreads, sizeof *workers);
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&tids[i], NULL, run_worker, &workers[i]);
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
