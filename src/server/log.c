/*
 * log.c - the access log and server events.
 *
 * Each worker formats its access-log lines (logfmt: key=value, values
 * quoted when they need it) into its own buffer and writes the buffer out
 * when it passes 32 KiB or is older than 100 ms, so a busy worker makes
 * about one write system call per few hundred requests instead of one per
 * request. Every write happens under one process-wide lock and holds only
 * whole lines, so workers' lines never interleave. Server events (start,
 * reload, errors) go to stderr at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

#define LOG_FLUSH_BYTES (32u << 10)
#define LOG_FLUSH_NS 100000000u

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_all(int fd, const char *p, size_t n) {
    pthread_mutex_lock(&write_lock);
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* a full disk or a closed pipe loses log lines, not requests */
        p += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&write_lock);
}

void srv_log_init(srv_log *l, int fd) {
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->last_flush_ns = srv_now_ns();
}

static bool reserve(srv_log *l, size_t more) {
    if (l->len + more <= l->cap) return true;
    size_t ncap = l->cap ? l->cap : 64 << 10;
    while (ncap < l->len + more)
        ncap *= 2;
    char *nb = realloc(l->buf, ncap);
    if (!nb) return false;
    l->buf = nb;
    l->cap = ncap;
    return true;
}

static void vappend(srv_log *l, const char *fmt, va_list ap) {
    for (int tries = 0; tries < 2; tries++) {
        va_list cp;
        va_copy(cp, ap);
        size_t room = l->cap - l->len;
        int n = vsnprintf(l->buf ? l->buf + l->len : NULL, room, fmt, cp);
        va_end(cp);
        if (n < 0) return;
        if ((size_t)n < room) {
            l->len += (size_t)n;
            return;
        }
        if (!reserve(l, (size_t)n + 1)) return;
    }
}

static void srv_log_append(srv_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void srv_log_append(srv_log *l, const char *fmt, ...) {
    if (l->fd < 0) return;
    va_list ap;
    va_start(ap, fmt);
    vappend(l, fmt, ap);
    va_end(ap);
}

/* Whether lines are JSON objects, and where events go: set once, before
 * the workers start. */
static bool json;
static int event_fd = 2;

void srv_log_set_event_fd(int fd) {
    event_fd = fd;
}

void srv_log_set_json(bool on) {
    json = on;
}

bool srv_log_is_json(void) {
    return json;
}

/* The UTC time to the millisecond, ISO 8601, into buf (at least 32 bytes). */
static void timestamp(char *buf, size_t len) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

void srv_log_begin(srv_log *l) {
    if (l->fd < 0) return;
    char ts[40];
    timestamp(ts, sizeof ts);
    srv_log_append(l, json ? "{\"ts\":\"%s\"" : "ts=%s", ts);
}

void srv_log_end(srv_log *l) {
    if (l->fd < 0) return;
    if (json) srv_log_append(l, "}");
    if (reserve(l, 1)) l->buf[l->len++] = '\n';
}

/* `s` as a logfmt value: bare when it can be, else quoted with \" \\ and
 * \xNN escapes; or as a JSON string (\u00NN for control bytes and bytes
 * past ASCII, which need not be UTF-8). Untrusted bytes (paths, guest
 * messages) never reach a terminal or a log pipeline raw. */
static void put_value(srv_log *l, const char *s, size_t len) {
    bool quote = json || len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = (unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == '=' || s[i] == '\\' ||
                (unsigned char)s[i] >= 127;
    if (!reserve(l, len * 6 + 2)) return;
    char *p = l->buf + l->len;
    if (quote) *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!quote) {
            *p++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < ' ' || c >= 127) {
            if (json)
                p += sprintf(p, "\\u%04x", c);
            else if (c < ' ' || c == 127)
                p += sprintf(p, "\\x%02x", c);
            else
                *p++ = (char)c;
        } else {
            *p++ = (char)c;
        }
    }
    if (quote) *p++ = '"';
    l->len = (size_t)(p - l->buf);
}

void srv_log_str(srv_log *l, const char *key, const char *s, size_t len) {
    if (l->fd < 0) return;
    srv_log_append(l, json ? ",\"%s\":" : " %s=", key);
    put_value(l, s, len);
}

void srv_log_num(srv_log *l, const char *key, long long v) {
    srv_log_append(l, json ? ",\"%s\":%lld" : " %s=%lld", key, v);
}

void srv_log_flush(srv_log *l, bool force) {
    if (l->fd < 0 || !l->len) return;
    uint64_t now = srv_now_ns();
    if (!force && l->len < LOG_FLUSH_BYTES && now - l->last_flush_ns < LOG_FLUSH_NS) return;
    write_all(l->fd, l->buf, l->len);
    l->len = 0;
    l->last_flush_ns = now;
}

void srv_log_free(srv_log *l) {
    srv_log_flush(l, true);
    free(l->buf);
    memset(l, 0, sizeof *l);
    l->fd = -1;
}

void srv_event(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    if (json) {
        srv_log l;
        srv_log_init(&l, event_fd);
        srv_log_begin(&l);
        srv_log_str(&l, "event", msg, len);
        srv_log_end(&l);
        srv_log_free(&l); /* one write: the line */
        return;
    }
    char buf[sizeof msg + 8];
    int n = snprintf(buf, sizeof buf, "wasp: %.*s", (int)len, msg);
    len = n < 0 ? 0 : (size_t)n < sizeof buf - 1 ? (size_t)n : sizeof buf - 2;
    for (size_t i = 6; i < len; i++)
        if ((unsigned char)buf[i] < ' ' && buf[i] != '\t') buf[i] = '?';
    buf[len++] = '\n';
    write_all(event_fd, buf, len);
}
