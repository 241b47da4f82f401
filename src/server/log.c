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

void srv_log_append(srv_log *l, const char *fmt, ...) {
    if (l->fd < 0) return;
    va_list ap;
    va_start(ap, fmt);
    vappend(l, fmt, ap);
    va_end(ap);
}

void srv_log_ts(srv_log *l) {
    if (l->fd < 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    srv_log_append(l, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void srv_log_end(srv_log *l) {
    if (l->fd >= 0 && reserve(l, 1)) l->buf[l->len++] = '\n';
}

void srv_log_value(srv_log *l, const char *s, size_t len) {
    if (l->fd < 0) return;
    bool quote = len == 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = (unsigned char)s[i] <= ' ' || s[i] == '"' || s[i] == '=' || s[i] == '\\' ||
                (unsigned char)s[i] >= 127;
    if (!reserve(l, len * 4 + 2)) return;
    char *p = l->buf + l->len;
    if (quote) *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!quote) {
            *p++ = (char)c;
        } else if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < ' ' || c == 127) {
            p += sprintf(p, "\\x%02x", c); /* untrusted bytes never reach a terminal raw */
        } else {
            *p++ = (char)c;
        }
    }
    if (quote) *p++ = '"';
    l->len = (size_t)(p - l->buf);
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
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "wasp: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)buf[i] < ' ' && buf[i] != '\t') buf[i] = '?';
    buf[len++] = '\n';
    write_all(2, buf, len);
}
