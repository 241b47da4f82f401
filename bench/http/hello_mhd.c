/*
 * hello_mhd.c - the hello-world ceiling on GNU libmicrohttpd (Debian libmicrohttpd-dev, 0.9.75).
 *
 * Usage: hello_mhd PORT [THREADS] [pool|reuseport]   (THREADS defaults to 2, mode to pool;
 *        env HELLO_TIMEOUT=SECONDS sets MHD_OPTION_CONNECTION_TIMEOUT, an inactivity timeout,
 *        default none)
 *
 * pool:      one MHD daemon, epoll, MHD_USE_TURBO, an internal pool of THREADS threads that
 *            share the daemon's one listening socket (MHD's documented way to use N cores).
 * reuseport: THREADS daemons, each epoll + turbo with one internal thread and its own
 *            listening socket bound with SO_REUSEPORT (MHD_OPTION_LISTENING_ADDRESS_REUSE):
 *            the loop-per-thread shape of the other two servers.
 *
 * Routes: GET / -> 200 "hello, world\n"; POST / -> 200 "got N bytes\n" (MHD hands the body to
 * the access handler piece by piece as it arrives, de-chunked); anything else -> 404.
 * It exists only to be measured by compare.sh and probed by probe.py; it is not wasp code.
 */
#include <microhttpd.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char hello[] = "hello, world\n";
static struct MHD_Response *hello_res, *notfound_res;
static char first_call_done; /* *con_cls of a request without per-request state */

typedef struct {
    size_t body_len;
} post_state;

static enum MHD_Result queue_text(struct MHD_Connection *c, const char *text) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
    (void)cls, (void)version, (void)upload_data;
    /* First call: headers only. Then one call per piece of body; then a call with size 0.
     * A response queued on the first call makes MHD close the connection afterwards (it
     * cannot know the body was read), so even GET answers on the second call. */
    if (*con_cls == NULL) {
        int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        *con_cls = post ? calloc(1, sizeof(post_state)) : &first_call_done;
        return *con_cls != NULL ? MHD_YES : MHD_NO;
    }
    if (strcmp(url, "/") != 0) return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, notfound_res);
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
        return MHD_queue_response(c, MHD_HTTP_OK, hello_res);
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return MHD_queue_response(c, MHD_HTTP_NOT_FOUND, notfound_res);
    post_state *st = *con_cls;
    if (*upload_data_size != 0) {
        st->body_len += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    char text[64];
    snprintf(text, sizeof text, "got %zu bytes\n", st->body_len);
    return queue_text(c, text);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    if (*con_cls != &first_call_done) free(*con_cls);
    *con_cls = NULL;
}

static struct MHD_Daemon *start(int port, unsigned pool, int reuse) {
    unsigned timeout =
        getenv("HELLO_TIMEOUT") != NULL ? (unsigned)atoi(getenv("HELLO_TIMEOUT")) : 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* One MHD option and its arguments per line. */
    /* clang-format off */
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO,
                            (uint16_t)port, NULL, NULL, on_req, NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, pool,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)reuse,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout,
                            MHD_OPTION_END);
    /* clang-format on */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hello_mhd PORT [THREADS] [pool|reuseport]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int nthreads = argc > 2 ? atoi(argv[2]) : 2;
    int reuseport = argc > 3 && strcmp(argv[3], "reuseport") == 0;
    if (nthreads < 1) nthreads = 1;
    signal(SIGPIPE, SIG_IGN);

    hello_res =
        MHD_create_response_from_buffer(sizeof hello - 1, (void *)hello, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(hello_res, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    notfound_res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);

    if (reuseport) {
        for (int i = 0; i < nthreads; i++) {
            if (start(port, 1, 1) == NULL) {
                fprintf(stderr, "hello_mhd: cannot start daemon %d on port %d\n", i, port);
                return 1;
            }
        }
    } else if (start(port, (unsigned)nthreads, 1) == NULL) {
        fprintf(stderr, "hello_mhd: cannot start daemon on port %d\n", port);
        return 1;
    }
    for (;;)
        pause();
}
