/*
 * test_http_out.c - outbound HTTP of host.h: the allow-list check on its
 * own (default ports, case, schemes, user info, entries that are not
 * origins), then host_http_fetch against a real server.
 *
 * The server is tests/unit/http_echo.py (Python 3 standard library),
 * started by this file on a free loopback port and killed at the end of
 * the test, whatever failed (and by the kernel if the test process dies:
 * PR_SET_PDEATHSIG). Against it: GET, POST, PUT, DELETE and HEAD with
 * bodies and headers that must arrive intact, response headers lower-cased
 * with interim (1xx) ones dropped, a 302 that comes back instead of being
 * followed, every kind of denied origin (the server is never asked), bad
 * request headers and methods, the response size cap (with and without a
 * Content-Length), timeouts before and during the body, a refused
 * connection, and threads fetching at once. When python3 is missing the
 * test fails, saying so: it never skips.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "unit.h"

#define PYTHON "/usr/bin/python3"

static char err[1024];

/* ---- the allow-list on its own --------------------------------------------- */

#define ALLOWED(url, ...)                                                                          \
    host_http_allowed(url, (const char *const[]){__VA_ARGS__},                                     \
                      sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

TEST(http_out_allowed) {
    /* default ports: absent equals explicit, either way round */
    CHECK(ALLOWED("http://x", "http://x:80"));
    CHECK(ALLOWED("http://x:80/a", "http://x"));
    CHECK(ALLOWED("https://x/", "https://x:443"));
    CHECK(!ALLOWED("http://x:81", "http://x"));
    CHECK(!ALLOWED("http://x", "http://x:8080"));
    CHECK(!ALLOWED("https://x:80", "http://x"));
    /* scheme and host compare without case; path, query, fragment do not matter */
    CHECK(ALLOWED("http://API.Example.COM/v1/items?q=1#top", "http://api.example.com"));
    CHECK(ALLOWED("HTTP://api.example.com", "http://API.EXAMPLE.COM/"));
    CHECK(!ALLOWED("http://api.example.com.evil.net/", "http://api.example.com"));
    CHECK(!ALLOWED("http://example.com/", "http://api.example.com"));
    /* https and http are different origins */
    CHECK(!ALLOWED("https://x", "http://x"));
    CHECK(!ALLOWED("http://x", "https://x"));
    CHECK(ALLOWED("https://x", "http://x", "https://x"));
    /* addresses, IPv6 included */
    CHECK(ALLOWED("http://127.0.0.1:8080/", "http://127.0.0.1:8080"));
    CHECK(!ALLOWED("http://127.0.0.1/", "http://localhost"));
    CHECK(ALLOWED("http://[::1]:8080/x", "http://[::1]:8080"));
    CHECK(!ALLOWED("http://[::1]:8080/x", "http://[::2]:8080"));
    /* user info is refused, whatever the list says */
    CHECK(!ALLOWED("http://user@x/", "http://x"));
    CHECK(!ALLOWED("http://user:secret@x/", "http://x"));
    CHECK(!ALLOWED("http://user@x/", "http://user@x"));
    /* only http and https */
    CHECK(!ALLOWED("ftp://x/", "ftp://x"));
    CHECK(!ALLOWED("file:///etc/passwd", "file://"));
    CHECK(!ALLOWED("gopher://x/", "http://x"));
    /* an entry that is more than an origin matches nothing */
    CHECK(!ALLOWED("http://x/api", "http://x/api"));
    CHECK(!ALLOWED("http://x/?a", "http://x/?a"));
    CHECK(ALLOWED("http://x/", "http://x/api", "not a url", "http://x/"));
    /* not URLs, nothing allowed */
    CHECK(!ALLOWED("not a url", "http://x"));
    CHECK(!ALLOWED("", "http://x"));
    CHECK(!ALLOWED("x.example.com", "http://x.example.com"));
    CHECK(!ALLOWED(NULL, "http://x"));
    CHECK(!ALLOWED("http://x", NULL, "http://y"));
    CHECK(ALLOWED("http://x", NULL, "http://x"));
    CHECK(!host_http_allowed("http://x", NULL, 0));
}

/* ---- the server -------------------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    char origin[64]; /* "http://127.0.0.1:PORT" */
} server;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback port nobody listens on right now. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static bool accepts(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* http_echo.py sits next to this file. */
static void script_path(char *out, size_t n) {
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__ + 1) : 0;
    snprintf(out, n, "%.*shttp_echo.py", dir, __FILE__);
}

/* Starts http_echo.py on a free port and waits until it accepts. */
static bool server_start(server *s) {
    char script[512], port[16];
    script_path(script, sizeof script);
    if (access(PYTHON, X_OK) != 0)
        return unit_fail(__FILE__, __LINE__,
                         "python3 is not installed (%s), so outbound HTTP cannot be tested "
                         "against a server: apt-get install python3",
                         PYTHON);
    if (access(script, R_OK) != 0)
        return unit_fail(__FILE__, __LINE__,
                         "the test server %s cannot be read (%s): run the tests from the "
                         "repository's root",
                         script, strerror(errno));
    s->port = free_port();
    if (s->port == 0) return unit_fail(__FILE__, __LINE__, "no free loopback port");
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(s->origin, sizeof s->origin, "http://127.0.0.1:%d", s->port);
    pid_t pid = fork();
    if (pid < 0) return unit_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* the server dies with the test, even when the test crashes */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(PYTHON, "python3", script, port, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 250; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            return unit_fail(__FILE__, __LINE__,
                             "%s %s %s exited at once (status %d): is the port taken?", PYTHON,
                             script, port, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        if (accepts(s->port)) return true;
        sleep_ms(20);
    }
    return unit_fail(__FILE__, __LINE__, "%s did not accept connections on port %d in 5 s", script,
                     s->port);
}

static void server_stop(server *s) {
    if (s->pid <= 0) return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* ---- checks ------------------------------------------------------------------- */

/* A request to the server, its origin the only one allowed. */
static host_http_request req_to(const server *s, const char *method, const char *path,
                                const char *const *allow) {
    static _Thread_local char url[256];
    snprintf(url, sizeof url, "%s%s", s->origin, path);
    return (host_http_request){.method = method, .url = url, .allow = allow, .nallow = 1};
}

/* A fetch must succeed with `status`; on an error its message is shown. */
#define FETCH_OK(req, resp, status) fetch_ok(__FILE__, __LINE__, #req, (req), (resp), (status))
static bool fetch_ok(const char *file, int line, const char *what, host_http_request req,
                     host_http_response *resp, int status) {
    int rc = host_http_fetch(&req, resp, err, sizeof err);
    if (rc != HOST_OK)
        return unit_fail(file, line, "%s (%s %s): expected status %d, got an error: %s", what,
                         req.method ? req.method : "GET", req.url, status, err);
    if (resp->status != status)
        return unit_fail(file, line, "%s (%s %s): expected status %d, got %d", what,
                         req.method ? req.method : "GET", req.url, status, resp->status);
    return true;
}

/* A fetch must fail with a message holding `phrase`, leaving an empty
 * response. */
#define FETCH_ERR(req, resp, phrase) fetch_err(__FILE__, __LINE__, #req, (req), (resp), (phrase))
static bool fetch_err(const char *file, int line, const char *what, host_http_request req,
                      host_http_response *resp, const char *phrase) {
    int rc = host_http_fetch(&req, resp, err, sizeof err);
    if (rc != HOST_ERROR)
        return unit_fail(file, line, "%s (%s): expected an error saying \"%s\", got status %d",
                         what, req.url, phrase, resp->status);
    if (!strstr(err, phrase))
        return unit_fail(file, line, "%s (%s): expected a message saying \"%s\", got \"%s\"", what,
                         req.url, phrase, err);
    if (resp->status != 0 || resp->headers.len != 0 || resp->body.len != 0)
        return unit_fail(file, line,
                         "%s: expected an empty response after the error, got status %d, %zu "
                         "header bytes, %zu body bytes",
                         what, resp->status, resp->headers.len, resp->body.len);
    return true;
}

/* b must (or must not) hold `needle`; on failure b is shown. */
#define HAS(b, needle) has(__FILE__, __LINE__, #b, &(b), (needle), true)
#define LACKS(b, needle) has(__FILE__, __LINE__, #b, &(b), (needle), false)
static bool has(const char *file, int line, const char *what, const host_buf *b, const char *needle,
                bool want) {
    bool found = b->len && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
    if (found == want) return true;
    int shown = (int)(b->len > 600 ? 600 : b->len);
    return unit_fail(file, line, "%s: expected %s\"%s\", got \"%.*s\"%s", what, want ? "" : "no ",
                     needle, shown, b->len ? (const char *)b->data : "", b->len > 600 ? "..." : "");
}

static void check_get_and_headers(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    host_http_request q = req_to(s, "GET", "/echo?a=1&b=two", allow);
    q.headers = "X-Custom: v1\nx-lower:  spaced value \t\nX-Empty:\nAccept: text/plain\n";
    if (!FETCH_OK(q, r, 200)) return;
    HAS(r->body, "\"method\":\"GET\"");
    HAS(r->body, "\"path\":\"/echo?a=1&b=two\"");
    HAS(r->body, "\"X-Custom\":\"v1\"");
    HAS(r->body, "\"x-lower\":\"spaced value\"");
    HAS(r->body, "\"X-Empty\":\"\"");
    HAS(r->body, "\"Accept\":\"text/plain\"");
    HAS(r->body, "\"body\":\"\"");
    LACKS(r->body, "Content-Type");
    /* response headers: "name: value" lines, names lower-case, values as sent */
    HAS(r->headers, "x-echo-mixed-case: Yes\n");
    HAS(r->headers, "content-type: application/json\n");
    HAS(r->headers, "content-length: ");
    LACKS(r->headers, "\nHTTP/");
    CHECK(r->headers.len < 5 || memcmp(r->headers.data, "HTTP/", 5) != 0);
    LACKS(r->headers, "\r");
    LACKS(r->headers, "\n\n");
    CHECK(r->headers.len > 0 && r->headers.data[r->headers.len - 1] == '\n');
    for (size_t i = 0, start = 0; i < r->headers.len; i++) {
        if (r->headers.data[i] == '\n') start = i + 1;
        if (i >= start && r->headers.data[i] == ':') {
            for (size_t j = start; j < i; j++)
                if (r->headers.data[j] >= 'A' && r->headers.data[j] <= 'Z') {
                    unit_fail(__FILE__, __LINE__, "header name not lower-case in \"%.*s\"",
                              (int)r->headers.len, (const char *)r->headers.data);
                    return;
                }
            start = r->headers.len; /* the rest of this line is the value */
        }
    }
}

static void check_bodies_and_methods(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    host_http_request q = req_to(s, "POST", "/echo", allow);
    q.headers = "Content-Type: text/plain\nX-Trace: 42";
    q.body = "hello\0world";
    q.body_len = 11;
    if (FETCH_OK(q, r, 200)) {
        HAS(r->body, "\"method\":\"POST\"");
        HAS(r->body, "\"body\":\"hello\\u0000world\"");
        HAS(r->body, "\"Content-Type\":\"text/plain\"");
        HAS(r->body, "\"Content-Length\":\"11\"");
        HAS(r->body, "\"X-Trace\":\"42\"");
        LACKS(r->body, "Expect");
    }
    /* no form content type made up; a caller's Content-Length gives way to the real one */
    q = req_to(s, "POST", "/echo", allow);
    q.headers = "Content-Length: 999\n";
    q.body = "abc";
    q.body_len = 3;
    if (FETCH_OK(q, r, 200)) {
        LACKS(r->body, "Content-Type");
        HAS(r->body, "\"Content-Length\":\"3\"");
        HAS(r->body, "\"body\":\"abc\"");
    }
    /* a body larger than curl's Expect: 100-continue threshold goes at once */
    static char large[200000];
    memset(large, 'b', sizeof large);
    q = req_to(s, "PUT", "/echo", allow);
    q.body = large;
    q.body_len = sizeof large;
    long t0 = now_ms();
    if (FETCH_OK(q, r, 200)) {
        HAS(r->body, "\"method\":\"PUT\"");
        HAS(r->body, "\"Content-Length\":\"200000\"");
        LACKS(r->body, "Expect");
        CHECK(now_ms() - t0 < 900);
    }
    q = req_to(s, "PUT", "/echo", allow);
    if (FETCH_OK(q, r, 200)) HAS(r->body, "\"Content-Length\":\"0\"");
    q = req_to(s, "DELETE", "/echo", allow);
    if (FETCH_OK(q, r, 200)) {
        HAS(r->body, "\"method\":\"DELETE\"");
        LACKS(r->body, "Content-Length");
    }
    q = req_to(s, "PATCH", "/echo", allow);
    q.body = "p";
    q.body_len = 1;
    if (FETCH_OK(q, r, 200)) {
        HAS(r->body, "\"method\":\"PATCH\"");
        HAS(r->body, "\"body\":\"p\"");
    }
    /* HEAD: headers, no body */
    q = req_to(s, "HEAD", "/echo", allow);
    if (FETCH_OK(q, r, 200)) {
        CHECK_EQ_U64(r->body.len, 0);
        HAS(r->headers, "x-echo-mixed-case: Yes\n");
    }
    /* no method means GET */
    q = req_to(s, NULL, "/echo", allow);
    if (FETCH_OK(q, r, 200)) HAS(r->body, "\"method\":\"GET\"");
}

static void check_statuses(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    int other = free_port();
    char path[64];
    snprintf(path, sizeof path, "/redirect?port=%d", other);
    /* a redirect comes back: following it would leave the allow-list */
    if (FETCH_OK(req_to(s, "GET", path, allow), r, 302)) {
        char location[80];
        snprintf(location, sizeof location, "location: http://127.0.0.1:%d/\n", other);
        HAS(r->headers, location);
        CHECK_EQ_U64(r->body.len, 5);
    }
    if (FETCH_OK(req_to(s, "GET", "/status?code=404", allow), r, 404)) HAS(r->body, "status 404");
    if (FETCH_OK(req_to(s, "POST", "/status?code=503", allow), r, 503)) HAS(r->body, "status 503");
    if (FETCH_OK(req_to(s, "GET", "/status?code=204", allow), r, 204)) CHECK_EQ_U64(r->body.len, 0);
    /* an interim response's headers are dropped; a folded header is joined */
    if (FETCH_OK(req_to(s, "GET", "/interim", allow), r, 200)) {
        HAS(r->headers, "x-final: yes\n");
        HAS(r->headers, "x-folded: a b\n");
        LACKS(r->headers, "x-interim");
        HAS(r->body, "ok");
    }
    /* results replace the previous call's */
    if (FETCH_OK(req_to(s, "GET", "/big?n=3", allow), r, 200)) {
        CHECK_EQ_U64(r->body.len, 3);
        CHECK_MEM(r->body.data, "xxx", 3);
    }
}

static void check_denied(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    char url[128], want[256];
    int other = free_port();
    /* another port of the same host */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", other);
    snprintf(want, sizeof want, "http://127.0.0.1:%d is not on the allow-list (allowed: %s)", other,
             s->origin);
    host_http_request q = {.url = url, .allow = allow, .nallow = 1};
    if (FETCH_ERR(q, r, want)) CHECK(strncmp(err, want, strlen(want)) == 0);
    /* another name for the same host */
    snprintf(url, sizeof url, "http://localhost:%d/echo", s->port);
    snprintf(want, sizeof want, "http://localhost:%d is not on the allow-list", s->port);
    FETCH_ERR(q, r, want);
    /* https to the same host and port */
    snprintf(url, sizeof url, "https://127.0.0.1:%d/echo", s->port);
    snprintf(want, sizeof want, "https://127.0.0.1:%d is not on the allow-list", s->port);
    FETCH_ERR(q, r, want);
    /* user info, even towards an allowed origin; the password is not repeated */
    snprintf(url, sizeof url, "http://user:hunter2@127.0.0.1:%d/echo", s->port);
    if (FETCH_ERR(q, r, "user info")) {
        CHECK(strstr(err, s->origin) != NULL);
        CHECK(strstr(err, "hunter2") == NULL);
    }
    /* other schemes */
    q.url = "ftp://127.0.0.1/pub";
    FETCH_ERR(q, r, "ftp://127.0.0.1:21: only http and https URLs can be fetched");
    q.url = "file:///etc/passwd";
    FETCH_ERR(q, r, "only http and https");
    /* not URLs */
    q.url = "127.0.0.1/echo";
    FETCH_ERR(q, r, "invalid URL (14 bytes, not shown)");
    q.url = "http://exa mple.com/";
    FETCH_ERR(q, r, "invalid URL (\"http://...\", 20 bytes, not shown)");
    /* F08 (issue 10): an invalid URL's message never shows its password */
    q.url = "http://user:hunter2@exa mple.com/secret/path?token=t0k";
    if (FETCH_ERR(q, r, "invalid URL")) {
        CHECK(strstr(err, "hunter2") == NULL);
        CHECK(strstr(err, "secret") == NULL);
        CHECK(strstr(err, "t0k") == NULL);
    }
    /* an empty list, and a long one shown cut */
    snprintf(url, sizeof url, "%s/echo", s->origin);
    q.url = url;
    q.nallow = 0;
    FETCH_ERR(q, r, "is not on the allow-list (the allow-list is empty)");
    const char *many[40];
    char names[40][40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "https://service-%02d.example.com", i);
        many[i] = names[i];
    }
    q.allow = many;
    q.nallow = 40;
    if (FETCH_ERR(q, r, "(allowed: https://service-00.example.com, https://service-01"))
        CHECK(strstr(err, " more)") != NULL && strlen(err) < 400);
}

static void check_bad_requests(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    static const struct {
        const char *headers, *phrase;
    } bad[] = {
        {"X-A: 1\r\nX-B: 2\r\n", "request header line 1 holds a CR"},
        {"X-A: 1\nnot a header\n", "request header line 2 (\"not a header\") has no ':'"},
        {"Bad Name: 1\n", "\"Bad Name\" is not a valid header name"},
        {": value\n", "\"\" is not a valid header name"},
        {"X-A: a\001b\n", "request header X-A: the value holds control character 0x01"},
        {"host: evil.example.com\n", "a Host header is not allowed"},
        {"Transfer-Encoding: chunked\n", "a Transfer-Encoding header is not allowed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        host_http_request q = req_to(s, "POST", "/echo", allow);
        q.headers = bad[i].headers;
        FETCH_ERR(q, r, bad[i].phrase);
    }
    FETCH_ERR(req_to(s, "GE T", "/echo", allow), r, "\"GE T\" is not a valid HTTP method");
    FETCH_ERR(req_to(s, "GET\r\nX: y", "/echo", allow), r, "is not a valid HTTP method");
}

static void check_limits(const server *s, host_http_response *r) {
    const char *allow[] = {s->origin};
    host_http_request q = req_to(s, "GET", "/big?n=100000", allow);
    q.max_response = 1000;
    FETCH_ERR(q, r, "response larger than 1000 bytes");
    q = req_to(s, "GET", "/big?n=100000&chunked=1", allow);
    q.max_response = 1000;
    FETCH_ERR(q, r, "response larger than 1000 bytes");
    /* exactly the cap is fine, and the handle works after an aborted transfer */
    q = req_to(s, "GET", "/big?n=1000&chunked=1", allow);
    q.max_response = 1000;
    if (FETCH_OK(q, r, 200)) CHECK_EQ_U64(r->body.len, 1000);
    q = req_to(s, "GET", "/big?n=3000000", allow);
    if (FETCH_OK(q, r, 200)) CHECK_EQ_U64(r->body.len, 3000000);

    /* timeouts: nothing at all, then headers but the body late */
    q = req_to(s, "GET", "/slow?ms=3000", allow);
    q.timeout_ms = 300;
    long t0 = now_ms();
    FETCH_ERR(q, r, "GET http://127.0.0.1:");
    CHECK(strstr(err, ": no response within 300 ms") != NULL);
    long took = now_ms() - t0;
    if (took < 250 || took > 1500)
        unit_fail(__FILE__, __LINE__, "a 300 ms timeout took %ld ms", took);
    q = req_to(s, "GET", "/slow?ms=3000&stage=body", allow);
    q.timeout_ms = 300;
    t0 = now_ms();
    FETCH_ERR(q, r, "no response within 300 ms");
    took = now_ms() - t0;
    if (took < 250 || took > 1500)
        unit_fail(__FILE__, __LINE__, "a 300 ms timeout took %ld ms", took);
    q = req_to(s, "GET", "/slow?ms=50", allow);
    q.timeout_ms = 2000;
    if (FETCH_OK(q, r, 200)) HAS(r->body, "slow");

    /* nobody listening */
    server nobody = {.port = free_port()};
    snprintf(nobody.origin, sizeof nobody.origin, "http://127.0.0.1:%d", nobody.port);
    const char *allow_nobody[] = {nobody.origin};
    char want[128];
    snprintf(want, sizeof want, "GET %s: connect failed: Connection refused", nobody.origin);
    FETCH_ERR(req_to(&nobody, "GET", "/", allow_nobody), r, want);
}

/* Threads fetching at once, each through its own handle. */
typedef struct worker {
    const server *s;
    int failures;
} worker;

static void *worker_run(void *arg) {
    worker *w = arg;
    const char *allow[] = {w->s->origin};
    host_http_response r = {0};
    char msg[512];
    for (int i = 0; i < 20; i++) {
        char path[64];
        snprintf(path, sizeof path, "/echo?i=%d", i);
        host_http_request q = req_to(w->s, "POST", path, allow);
        q.body = "from a thread";
        q.body_len = 13;
        if (host_http_fetch(&q, &r, msg, sizeof msg) != HOST_OK || r.status != 200 ||
            !memmem(r.body.data, r.body.len, "\"body\":\"from a thread\"", 22))
            w->failures++;
    }
    free(r.headers.data);
    free(r.body.data);
    return NULL;
}

static void check_threads(const server *s) {
    enum { N = 4 };
    pthread_t th[N];
    worker w[N];
    int started = 0;
    for (; started < N; started++) {
        w[started] = (worker){.s = s};
        if (pthread_create(&th[started], NULL, worker_run, &w[started]) != 0) break;
    }
    CHECK_EQ_S64(started, N);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failures)
            unit_fail(__FILE__, __LINE__, "thread %d: %d of 20 fetches failed", i, w[i].failures);
    }
}

TEST(http_out_fetch) {
    server s = {0};
    host_http_response r = {0};
    if (server_start(&s)) {
        check_get_and_headers(&s, &r);
        check_bodies_and_methods(&s, &r);
        check_statuses(&s, &r);
        check_denied(&s, &r);
        check_bad_requests(&s, &r);
        check_limits(&s, &r);
        check_threads(&s);
    }
    server_stop(&s);
    free(r.headers.data);
    free(r.body.data);
}
