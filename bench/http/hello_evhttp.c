/*
 * hello_evhttp.c - the hello-world ceiling on libevent's evhttp (Debian libevent-dev, 2.1.12).
 *
 * Usage: hello_evhttp PORT [THREADS]   (THREADS defaults to 2; env HELLO_TIMEOUT=SECONDS calls
 *        evhttp_set_timeout, the connections' read/write inactivity timeout, default none)
 *
 * One event_base and one struct evhttp per thread; each thread owns an evconnlistener on
 * 127.0.0.1:PORT made with LEV_OPT_REUSEABLE_PORT (SO_REUSEPORT), handed to its evhttp with
 * evhttp_bind_listener, so the kernel spreads connections over the loops. No libevent
 * locking is enabled: nothing crosses threads.
 *
 * Routes: GET / -> 200 "hello, world\n"; POST / -> 200 "got N bytes\n" (evhttp calls the
 * handler once the whole body, de-chunked, sits in the input buffer); anything else -> 404.
 * It exists only to be measured by compare.sh and probed by probe.py; it is not wasp code.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hello[] = "hello, world\n";
static int port;

static void on_req(struct evhttp_request *req, void *arg) {
    struct evbuffer *out = arg; /* per-thread; evhttp_send_reply drains it */
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path == NULL || strcmp(path, "/") != 0) {
        evhttp_send_error(req, HTTP_NOTFOUND, NULL);
        return;
    }
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET: evbuffer_add_reference(out, hello, sizeof hello - 1, NULL, NULL); break;
    case EVHTTP_REQ_POST:
        evbuffer_add_printf(out, "got %zu bytes\n",
                            evbuffer_get_length(evhttp_request_get_input_buffer(req)));
        break;
    default: evhttp_send_error(req, HTTP_NOTFOUND, NULL); return;
    }
    evhttp_send_reply(req, HTTP_OK, "OK", out);
}

static void *run_worker(void *arg) {
    (void)arg;
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(
        base, NULL, NULL,
        LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        SOMAXCONN, (struct sockaddr *)&sa, sizeof sa);
    if (base == NULL || http == NULL || l == NULL || evhttp_bind_listener(http, l) == NULL) {
        perror("hello_evhttp: listen");
        exit(1);
    }
    evhttp_set_default_content_type(http, "text/plain");
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(http, on_req, evbuffer_new());
    if (getenv("HELLO_TIMEOUT") != NULL) evhttp_set_timeout(http, atoi(getenv("HELLO_TIMEOUT")));
    event_base_dispatch(base);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hello_evhttp PORT [THREADS]\n");
        return 2;
    }
    port = atoi(argv[1]);
    int nthreads = argc > 2 ? atoi(argv[2]) : 2;
    if (nthreads < 1) nthreads = 1;
    signal(SIGPIPE, SIG_IGN);

    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    for (int i = 0; i < nthreads; i++)
        pthread_create(&tids[i], NULL, run_worker, NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    return 0;
}
