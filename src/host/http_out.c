/*
 * http_out.c - outbound HTTP of host.h through libcurl's easy interface,
 * with an allow-list of origins checked before anything is sent.
 *
 * The URL is parsed once, with curl's own URL parser (CURLU), and the
 * parsed handle is what the transfer uses (CURLOPT_CURLU): the origin that
 * was checked and the one curl connects to cannot differ by a parser
 * disagreement. An origin is scheme, lower-case host (an IPv6 zone id
 * included) and port (the scheme's default when absent). URLs with user
 * info are refused (credentials go in an Authorization header, where they
 * are not written into messages); allow-list entries are origins only,
 * and an entry with a path, query, fragment or user info matches nothing.
 *
 * What a transfer may do is narrowed to what the contract promises:
 * http and https only (CURLOPT_PROTOCOLS_STR), redirects never followed
 * (a 3xx is returned, the next request is checked again), no proxy taken
 * from the environment (CURLOPT_PROXY "": http_proxy and friends would
 * otherwise send every request, allowed or not, through whatever the
 * process environment names), no content decoding (the body comes back as
 * the server sent it, and the size cap counts those bytes), no signals
 * (CURLOPT_NOSIGNAL: workers are threads).
 *
 * DNS rebinding is not defended against, and need not be here: the
 * allow-list names hosts, not addresses, so whatever an allowed name
 * resolves to is what the operator allowed. (An allow-list meant to keep
 * requests off private addresses would have to pin the resolved address
 * with CURLOPT_RESOLVE or check it in CURLOPT_OPENSOCKETFUNCTION.)
 *
 * A transfer runs through libcurl's multi interface, one multi handle per
 * transfer, driven by util_poll on the transfer's own sockets (curl names
 * them through CURLMOPT_SOCKETFUNCTION) and curl's timer: in `wasp serve`
 * the request's fiber is suspended meanwhile and its worker serves others,
 * so a thousand requests waiting on upstreams cost a thousand suspended
 * calls, not a thousand threads. Elsewhere util_poll is poll(2).
 *
 * Each thread keeps its handles for reuse (a free list; a pthread key frees
 * them when the thread exits) and one share handle that holds the thread's
 * connection cache, DNS cache and TLS sessions, so connections to an origin
 * are reused across requests - also across apps served by the same worker,
 * which is harmless: a connection is only reused for its own origin, after
 * that request passed its own app's allow-list, and no cookie or
 * authentication state is kept.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"
#include "util/util.h"
#include "wasm/wasm.h"

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RESPONSE ((size_t)16 << 20)
/* Response headers beyond this are an error rather than a memory sink
 * (curl bounds each header line, not their number). */
#define MAX_RESPONSE_HEADERS (256u << 10)
/* The allow-list in a denial message is cut after about this many bytes. */
#define ALLOW_LIST_SHOWN 240
/* Header names are cut after this many bytes in messages. */
#define NAME_SHOWN 64

/* ---- origins ------------------------------------------------------------- */

typedef struct origin {
    char scheme[16];
    char host[300]; /* lower-case; IPv6 in brackets, then "%zone" if any */
    unsigned port;  /* 0: none known (a scheme curl has no default for) */
    bool userinfo;  /* a user, password or login options were given */
    bool beyond;    /* a path other than "/", a query or a fragment */
} origin;

/* Whether part `what` of u is present; when `out` is not NULL it receives
 * the part (freed by the caller with curl_free). */
static bool url_part(CURLU *u, CURLUPart what, unsigned flags, char **out) {
    char *s = NULL;
    if (curl_url_get(u, what, &s, flags) != CURLUE_OK) return false;
    if (out)
        *out = s;
    else
        curl_free(s);
    return true;
}

/* Copies s lower-cased into out[0..n); false when it does not fit. */
static bool copy_lower(char *out, size_t n, const char *s) {
    size_t len = strlen(s);
    if (len >= n) return false;
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    return true;
}

/* Reads the origin of a parsed URL; false when it has no scheme or host,
 * or they are implausibly long (the scheme is still filled in when it was
 * read). */
static bool origin_read(CURLU *u, origin *o) {
    memset(o, 0, sizeof *o);
    char *s;
    if (!url_part(u, CURLUPART_SCHEME, 0, &s)) return false;
    bool ok = copy_lower(o->scheme, sizeof o->scheme, s);
    curl_free(s);
    if (!ok || !url_part(u, CURLUPART_HOST, 0, &s)) return false;
    ok = *s && copy_lower(o->host, sizeof o->host, s);
    curl_free(s);
    if (!ok) return false;
    if (url_part(u, CURLUPART_ZONEID, 0, &s)) {
        size_t len = strlen(o->host);
        ok = snprintf(o->host + len, sizeof o->host - len, "%%%s", s) < (int)(sizeof o->host - len);
        curl_free(s);
        if (!ok) return false;
    }
    if (url_part(u, CURLUPART_PORT, CURLU_DEFAULT_PORT, &s)) {
        o->port = (unsigned)strtoul(s, NULL, 10);
        curl_free(s);
    }
    o->userinfo = url_part(u, CURLUPART_USER, 0, NULL) ||
                  url_part(u, CURLUPART_PASSWORD, 0, NULL) ||
                  url_part(u, CURLUPART_OPTIONS, 0, NULL);
    if (url_part(u, CURLUPART_PATH, 0, &s)) {
        o->beyond = *s && strcmp(s, "/") != 0;
        curl_free(s);
    }
    o->beyond = o->beyond || url_part(u, CURLUPART_QUERY, 0, NULL) ||
                url_part(u, CURLUPART_FRAGMENT, 0, NULL);
    return true;
}

/* "scheme://host:port" (no port when none is known). */
static void origin_format(const origin *o, char *out, size_t n) {
    if (o->port)
        snprintf(out, n, "%s://%s:%u", o->scheme, o->host, o->port);
    else
        snprintf(out, n, "%s://%s", o->scheme, o->host);
}

static bool web_scheme(const origin *o) {
    return strcmp(o->scheme, "http") == 0 || strcmp(o->scheme, "https") == 0;
}

/* Parses url into a new CURLU (NULL with the parser's code in *rc).
 * Schemes curl does not know are parsed too, so that a message can name
 * them; the scheme check comes after. */
static CURLU *url_parse(const char *url, CURLUcode *rc) {
    CURLU *u = curl_url();
    if (!u) {
        *rc = CURLUE_OUT_OF_MEMORY;
        return NULL;
    }
    *rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (*rc != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return u;
}

/* Whether an allow-list entry is exactly the origin o. */
static bool entry_matches(const char *entry, const origin *o) {
    CURLUcode rc;
    CURLU *u = entry ? url_parse(entry, &rc) : NULL;
    if (!u) return false;
    origin e;
    bool ok = origin_read(u, &e) && web_scheme(&e) && !e.userinfo && !e.beyond &&
              strcmp(e.scheme, o->scheme) == 0 && strcmp(e.host, o->host) == 0 && e.port == o->port;
    curl_url_cleanup(u);
    return ok;
}

static bool origin_allowed(const origin *o, const char *const *allow, size_t nallow) {
    if (!web_scheme(o) || o->userinfo) return false;
    for (size_t i = 0; i < nallow; i++)
        if (entry_matches(allow[i], o)) return true;
    return false;
}

bool host_http_allowed(const char *url, const char *const *allow, size_t nallow) {
    CURLUcode rc;
    CURLU *u = url ? url_parse(url, &rc) : NULL;
    if (!u) return false;
    origin o;
    bool ok = origin_read(u, &o) && origin_allowed(&o, allow, nallow);
    curl_url_cleanup(u);
    return ok;
}

/* ---- messages ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return HOST_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HOST_ERROR;
}

/* "a, b, c" from the allow-list, cut with "... (N more)" when long. */
static void allow_list_format(const char *const *allow, size_t nallow, char *out, size_t n) {
    size_t o = 0, i = 0;
    out[0] = '\0';
    for (; i < nallow; i++) {
        const char *e = allow[i] ? allow[i] : "(null)";
        size_t len = strlen(e) + (i ? 2 : 0);
        if (o + len > ALLOW_LIST_SHOWN || o + len >= n) break;
        o += (size_t)snprintf(out + o, n - o, "%s%s", i ? ", " : "", e);
    }
    if (i < nallow) snprintf(out + o, n - o, "%s... (%zu more)", i ? ", " : "", nallow - i);
}

static int deny(const origin *o, const char *const *allow, size_t nallow, char *err,
                size_t errlen) {
    char where[sizeof o->host + 40], list[ALLOW_LIST_SHOWN + 40];
    origin_format(o, where, sizeof where);
    if (nallow == 0)
        return fail(err, errlen, "%s is not on the allow-list (the allow-list is empty)", where);
    allow_list_format(allow, nallow, list, sizeof list);
    return fail(err, errlen, "%s is not on the allow-list (allowed: %s)", where, list);
}

/* ---- request headers ----------------------------------------------------- */

static bool token_char(unsigned char c) {
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!token_char((unsigned char)s[i])) return false;
    return true;
}

static bool name_is(const char *s, size_t n, const char *name) {
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

typedef struct header_list {
    struct curl_slist *list;
    bool content_type, expect; /* given by the caller */
} header_list;

/* Turns the "Name: value\n" block into curl's list: names must be
 * tokens, values free of control characters other than tab, and no line
 * may hold a CR. Host is refused (the URL names the host, and it is what
 * the allow-list checked), as is Transfer-Encoding (wasp sends the body
 * whole); Content-Length is dropped (curl sets it from the body). An
 * error names the line. */
static int headers_build(const char *block, header_list *h, const char *what, char *err,
                         size_t errlen) {
    unsigned line = 0;
    for (const char *p = block; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        p = end ? end + 1 : p + len;
        line++;
        if (len == 0) continue;
        if (memchr(s, '\r', len))
            return fail(err, errlen, "%s: request header line %u holds a CR (end lines with \\n)",
                        what, line);
        const char *colon = memchr(s, ':', len);
        size_t nlen = colon ? (size_t)(colon - s) : len;
        int shown = (int)(nlen > NAME_SHOWN ? NAME_SHOWN : nlen);
        if (!colon)
            return fail(err, errlen, "%s: request header line %u (\"%.*s\") has no ':'", what, line,
                        shown, s);
        if (!is_token(s, nlen))
            return fail(err, errlen,
                        "%s: request header line %u: \"%.*s\" is not a valid header name", what,
                        line, shown, s);
        const char *v = colon + 1, *vend = s + len;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        for (const char *c = v; c < vend; c++)
            if ((unsigned char)*c == 0x7f || ((unsigned char)*c < 0x20 && *c != '\t'))
                return fail(err, errlen,
                            "%s: request header %.*s: the value holds control character 0x%02x",
                            what, shown, s, (unsigned char)*c);
        if (name_is(s, nlen, "host"))
            return fail(err, errlen, "%s: a Host header is not allowed: the URL names the host",
                        what);
        if (name_is(s, nlen, "transfer-encoding"))
            return fail(err, errlen,
                        "%s: a Transfer-Encoding header is not allowed: the body is sent whole",
                        what);
        if (name_is(s, nlen, "content-length")) continue;
        h->content_type = h->content_type || name_is(s, nlen, "content-type");
        h->expect = h->expect || name_is(s, nlen, "expect");
        /* curl sends "Name;" as a header with an empty value ("Name:" would
         * remove one of its own instead) */
        char *item = NULL;
        if (asprintf(&item, "%.*s%s%.*s", (int)nlen, s, v == vend ? ";" : ": ", (int)(vend - v),
                     v) < 0)
            return fail(err, errlen, "%s: out of memory", what);
        struct curl_slist *l = curl_slist_append(h->list, item);
        free(item);
        if (!l) return fail(err, errlen, "%s: out of memory", what);
        h->list = l;
    }
    return HOST_OK;
}

/* Appends a fixed header ("Name:" removes one curl would add). */
static int headers_add(header_list *h, const char *item, const char *what, char *err,
                       size_t errlen) {
    struct curl_slist *l = curl_slist_append(h->list, item);
    if (!l) return fail(err, errlen, "%s: out of memory", what);
    h->list = l;
    return HOST_OK;
}

/* ---- the response ---------------------------------------------------------- */

typedef struct transfer {
    host_http_response *resp;
    size_t max_body;
    bool body_too_big, headers_too_big, no_memory;
} transfer;

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    transfer *t = arg;
    size_t len = size * n;
    if (len > t->max_body - t->resp->body.len) {
        t->body_too_big = true;
        return 0;
    }
    if (!host_kv_buf_append(&t->resp->body, data, len)) {
        t->no_memory = true;
        return 0;
    }
    return len;
}

static bool headers_append(transfer *t, const void *data, size_t n) {
    host_buf *h = &t->resp->headers;
    if (n > MAX_RESPONSE_HEADERS - h->len) {
        t->headers_too_big = true;
        return false;
    }
    if (!host_kv_buf_append(h, data, n)) {
        t->no_memory = true;
        return false;
    }
    return true;
}

/* curl calls this once per header line of every response it reads,
 * interim (1xx) ones included, status lines and the blank line that ends
 * each block too. A status line starts a new response, so what an
 * interim response sent is dropped and only the final one's headers
 * (and trailers) remain. */
static size_t on_header(char *data, size_t size, size_t n, void *arg) {
    transfer *t = arg;
    host_buf *h = &t->resp->headers;
    size_t total = size * n, len = total;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        h->len = 0;
        return total;
    }
    const char *v = data, *end = data + len;
    if (len > 0 && (data[0] == ' ' || data[0] == '\t')) {
        /* an obsolete folded line continues the previous header's value */
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (h->len == 0 || v == end) return total;
        h->len--; /* its '\n' */
        return headers_append(t, " ", 1) && headers_append(t, v, (size_t)(end - v)) &&
                       headers_append(t, "\n", 1)
                   ? total
                   : 0;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data) return total;
    size_t start = h->len, nlen = (size_t)(colon - data);
    v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (!headers_append(t, data, nlen) || !headers_append(t, ": ", 2) ||
        !headers_append(t, v, (size_t)(end - v)) || !headers_append(t, "\n", 1))
        return 0;
    for (size_t i = start; i < start + nlen; i++)
        h->data[i] = (uint8_t)tolower(h->data[i]);
    return total;
}

/* ---- the transfer ------------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;
static pthread_key_t handles_key;

/* Idle connections a worker keeps for reuse, over all origins (as many as
 * Node's keep-alive agent keeps per origin by default). */
#define HTTP_IDLE_CONNS 256

/* A multi handle and an easy handle, kept together for reuse. */
typedef struct curl_pair {
    CURLM *multi;
    CURL *easy;
    struct curl_pair *next;
} curl_pair;

/* What a thread keeps: idle pairs, and the share handle they all use. */
typedef struct thread_handles {
    curl_pair *idle;
    CURLSH *share;
} thread_handles;

static void handles_free(void *arg) {
    thread_handles *th = arg;
    while (th->idle) {
        curl_pair *p = th->idle;
        th->idle = p->next;
        curl_multi_cleanup(p->multi);
        curl_easy_cleanup(p->easy);
        free(p);
    }
    if (th->share) curl_share_cleanup(th->share);
    free(th);
}

static void init(void) {
    init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
              pthread_key_create(&handles_key, handles_free) == 0;
}

static thread_handles *thread_handles_get(void) {
    thread_handles *th = pthread_getspecific(handles_key);
    if (th) return th;
    th = calloc(1, sizeof *th);
    if (!th) return NULL;
    /* used by one thread only: no lock functions needed */
    th->share = curl_share_init();
    if (!th->share || pthread_setspecific(handles_key, th) != 0) {
        if (th->share) curl_share_cleanup(th->share);
        free(th);
        return NULL;
    }
    curl_share_setopt(th->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(th->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(th->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    return th;
}

/* An idle pair of this thread's, or a new one; NULL when out of memory. */
static curl_pair *pair_take(void) {
    thread_handles *th = thread_handles_get();
    if (!th) return NULL;
    curl_pair *p = th->idle;
    if (p) {
        th->idle = p->next;
        return p;
    }
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->multi = curl_multi_init();
    p->easy = curl_easy_init();
    if (!p->multi || !p->easy) {
        if (p->multi) curl_multi_cleanup(p->multi);
        if (p->easy) curl_easy_cleanup(p->easy);
        free(p);
        return NULL;
    }
    /* The thread's connections are shared (th->share), but what a multi
     * keeps idle after a transfer is bounded by its own limit, by default
     * four per easy handle - four here, for every request of the worker -
     * so past four at once each connection was closed after one use and
     * the next request connected again (measured: 9,668 connections left
     * in TIME-WAIT after 14,000 requests at 256 at once). */
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_IDLE_CONNS);
    return p;
}

static void pair_give_back(curl_pair *p) {
    thread_handles *th = pthread_getspecific(handles_key);
    p->next = th->idle;
    th->idle = p;
}

/* The sockets curl wants watched for one transfer (a connection, and a
 * second while it tries two addresses), and its timer. */
#define MAX_SOCKS 8
typedef struct watch {
    struct pollfd fds[MAX_SOCKS];
    int n;
    long timer_ms; /* -1: none */
} watch;

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp) {
    watch *w = arg;
    int i = 0;
    while (i < w->n && w->fds[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < w->n) w->fds[i] = w->fds[--w->n];
        return 0;
    }
    if (i == w->n) {
        if (w->n == MAX_SOCKS) return -1; /* never: curl uses one or two */
        w->n++;
    }
    w->fds[i] = (struct pollfd){.fd = fd,
                                .events = (short)((what & CURL_POLL_IN ? POLLIN : 0) |
                                                  (what & CURL_POLL_OUT ? POLLOUT : 0))};
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *arg) {
    ((watch *)arg)->timer_ms = timeout_ms;
    return 0;
}

/* Runs the easy handle of `p` to its end through the multi handle,
 * waiting with util_poll. The transfer's result, or CURLE_ABORTED_BY_CALLBACK
 * when the guest call was asked to stop (its deadline, a cancelled
 * request): the transfer is then dropped, its connection closed. */
static CURLcode perform(curl_pair *p) {
    watch w = {.n = 0, .timer_ms = -1};
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, &w);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, &w);
    if (curl_multi_add_handle(p->multi, p->easy) != CURLM_OK) return CURLE_OUT_OF_MEMORY;
    int running = 1;
    CURLcode rc = CURLE_OK;
    curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (running) {
        if (wasm_call_should_stop(NULL)) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        struct pollfd fds[MAX_SOCKS];
        int n = w.n;
        memcpy(fds, w.fds, (size_t)n * sizeof *fds);
        /* curl's own timer ends the transfer at CURLOPT_TIMEOUT_MS, which is
         * never past the guest call's deadline */
        int timeout = w.timer_ms < 0 ? 1000 : w.timer_ms > 1000 ? 1000 : (int)w.timer_ms;
        int ready = util_poll(fds, (nfds_t)n, timeout);
        if (ready < 0 && errno != EINTR) {
            rc = CURLE_RECV_ERROR;
            break;
        }
        if (ready <= 0) {
            curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            continue;
        }
        for (int i = 0; i < n && running; i++) {
            short re = fds[i].revents;
            if (!re) continue;
            int ev = (re & POLLIN ? CURL_CSELECT_IN : 0) | (re & POLLOUT ? CURL_CSELECT_OUT : 0) |
                     (re & (POLLERR | POLLHUP | POLLNVAL) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(p->multi, fds[i].fd, ev, &running);
        }
    }
    if (rc == CURLE_OK) {
        int left;
        CURLMsg *m;
        rc = CURLE_RECV_ERROR;
        while ((m = curl_multi_info_read(p->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == p->easy) rc = m->data.result;
    }
    curl_multi_remove_handle(p->multi, p->easy);
    return rc;
}

/* Sets the method and body: GET is curl's default; HEAD asks for no body;
 * a body (or a method that always has one) is sent with a Content-Length,
 * as a POST whose method name is then replaced when it is not POST. */
static void set_method(CURL *c, const char *method, const host_http_request *req) {
    bool has_body = req->body_len > 0 || strcmp(method, "POST") == 0 ||
                    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    if (has_body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body_len ? req->body : "");
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, has_body ? "POST" : "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

static void set_options(CURL *c, CURLU *u, const host_http_request *req, const char *method,
                        struct curl_slist *headers, transfer *t, char *errbuf, long timeout_ms) {
    curl_easy_setopt(c, CURLOPT_CURLU, u);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    if (t->max_body <= INT64_MAX)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    set_method(c, method, req);
}

/* Turns a failed transfer into a message after "METHOD origin: ". */
static int transfer_fail(CURL *c, CURLcode rc, const transfer *t, const char *errbuf,
                         long timeout_ms, const char *what, char *err, size_t errlen) {
    if (t->no_memory) return fail(err, errlen, "%s: out of memory reading the response", what);
    if (t->body_too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return fail(err, errlen, "%s: response larger than %zu bytes", what, t->max_body);
    if (t->headers_too_big)
        return fail(err, errlen, "%s: response headers larger than %u bytes", what,
                    MAX_RESPONSE_HEADERS);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return fail(err, errlen, "%s: no response within %ld ms", what, timeout_ms);
    const char *detail = *errbuf ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_COULDNT_CONNECT) {
        long os_errno = 0;
        char buf[128];
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        return fail(err, errlen, "%s: connect failed: %s", what,
                    os_errno ? strerror_r((int)os_errno, buf, sizeof buf) : detail);
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST)
        return fail(err, errlen, "%s: cannot resolve the host: %s", what, detail);
    if (*errbuf) return fail(err, errlen, "%s: %s: %s", what, curl_easy_strerror(rc), errbuf);
    return fail(err, errlen, "%s: %s", what, curl_easy_strerror(rc));
}

/* Checks the origin of the parsed URL and the method; HOST_OK with
 * "METHOD origin" in `what` for later messages. */
static int request_check(CURLU *u, const host_http_request *req, const char *method, char *what,
                         size_t whatlen, char *err, size_t errlen) {
    origin o;
    bool named = origin_read(u, &o);
    /* a scheme that is not the web's is the better message, host or not */
    if (!named && (!o.scheme[0] || web_scheme(&o)))
        return fail(err, errlen, "invalid URL \"%.100s\": it names no host", req->url);
    char where[sizeof o.host + 40];
    origin_format(&o, where, sizeof where);
    if (!named || !web_scheme(&o))
        return fail(err, errlen, "%s: only http and https URLs can be fetched", where);
    if (o.userinfo)
        return fail(err, errlen,
                    "%s: URLs with user info (user:password@) are refused: send credentials "
                    "in an Authorization header",
                    where);
    if (!origin_allowed(&o, req->allow, req->nallow))
        return deny(&o, req->allow, req->nallow, err, errlen);
    if (!is_token(method, strlen(method)))
        return fail(err, errlen, "%s: \"%.32s\" is not a valid HTTP method", where, method);
    snprintf(what, whatlen, "%s %s", method, where);
    return HOST_OK;
}

int host_http_fetch(const host_http_request *req, host_http_response *resp, char *err,
                    size_t errlen) {
    if (!req || !resp || !req->url) return fail(err, errlen, "no request or URL given");
    resp->status = 0;
    resp->headers.len = 0;
    resp->body.len = 0;
    pthread_once(&init_once, init);
    if (!init_ok) return fail(err, errlen, "libcurl could not be initialised");
    const char *method = req->method && *req->method ? req->method : "GET";
    CURLUcode urc;
    CURLU *u = url_parse(req->url, &urc);
    if (!u) {
        /* the URL is not shown: it may hold a password (user:pw@host) */
        const char *sep = strstr(req->url, "://");
        int scheme = sep && sep - req->url <= 16 ? (int)(sep - req->url) + 3 : 0;
        return fail(err, errlen, "invalid URL (%s%.*s%s%zu bytes, not shown): %s",
                    scheme ? "\"" : "", scheme, req->url, scheme ? "...\", " : "", strlen(req->url),
                    curl_url_strerror(urc));
    }
    char what[400];
    header_list h = {0};
    int rc = request_check(u, req, method, what, sizeof what, err, errlen);
    if (rc == HOST_OK) rc = headers_build(req->headers, &h, what, err, errlen);
    /* no "Expect: 100-continue" round trip, no form content type by default */
    if (rc == HOST_OK && !h.expect) rc = headers_add(&h, "Expect:", what, err, errlen);
    if (rc == HOST_OK && !h.content_type) rc = headers_add(&h, "Content-Type:", what, err, errlen);
    curl_pair *pair = rc == HOST_OK ? pair_take() : NULL;
    CURL *c = pair ? pair->easy : NULL;
    if (rc == HOST_OK && !c) rc = fail(err, errlen, "%s: out of memory", what);
    if (rc == HOST_OK) {
        /* never past the deadline of the guest call that asked */
        long timeout_ms = host_wait_ms(req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
        if (!timeout_ms) {
            rc = fail(err, errlen, "%s: not sent: the request's deadline has passed", what);
            goto done;
        }
        transfer t = {.resp = resp,
                      .max_body = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE};
        char errbuf[CURL_ERROR_SIZE] = "";
        set_options(c, u, req, method, h.list, &t, errbuf, timeout_ms);
        curl_easy_setopt(c, CURLOPT_SHARE, thread_handles_get()->share);
        CURLcode cc = perform(pair);
        if (cc == CURLE_OK) {
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            resp->status = (int)status;
        } else {
            /* curl's clock and the engine's epoch differ by a millisecond or
             * so: a timeout that was the deadline's waits out the rest of it,
             * so that the caller sees the deadline passed (504, not 503) */
            int64_t left = wasm_call_time_left_ms();
            long asked = req->timeout_ms ? (long)req->timeout_ms : DEFAULT_TIMEOUT_MS;
            if (cc == CURLE_OPERATION_TIMEDOUT && timeout_ms < asked && left > 0 && left < 100)
                util_poll(NULL, 0, (int)left + 1);
            rc = transfer_fail(c, cc, &t, errbuf, timeout_ms, what, err, errlen);
            resp->headers.len = 0;
            resp->body.len = 0;
        }
        /* drops every pointer into this call's memory; the connections
         * stay in the thread's share handle */
        curl_easy_reset(c);
        pair_give_back(pair);
    }
done:
    curl_slist_free_all(h.list);
    curl_url_cleanup(u);
    return rc;
}
