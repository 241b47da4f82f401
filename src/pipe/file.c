/*
 * file.c - files and stdin as a pipeline's source, files and stdout or
 * stderr as its sinks: a record per line. A source may be a glob (the
 * files read one after the other, in name order) and may follow the last
 * file as it grows, as `tail -f` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipe/internal.h"

typedef struct file_source {
    pipe_source base;
    int fd;
    bool own_fd, eof;
    bool follow;  /* at the last file's end, wait for more */
    glob_t files; /* a glob's matches; gl_pathc 0: one path or stdin */
    size_t next;  /* the next of them to open */
    pipe_format format;
    uint8_t *buf;
    size_t have, cap, limit; /* limit: the longest line taken */
} file_source;

static bool blank(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* Moves the complete lines in the buffer into b; how many records. */
static int take_lines(file_source *f, srv_batch *b, uint32_t max, size_t max_bytes, bool *nomem) {
    size_t start = 0;
    int added = 0;
    while ((uint32_t)added < max && b->len < max_bytes) {
        uint8_t *nl = memchr(f->buf + start, '\n', f->have - start);
        if (!nl) break;
        size_t len = (size_t)(nl - (f->buf + start));
        if (!(f->format == PIPE_NDJSON && blank(f->buf + start, len))) {
            if (!srv_batch_add(b, f->buf + start, len, NULL, 0, SRV_NO_TS)) {
                *nomem = true;
                break;
            }
            added++;
        }
        start += len + 1;
    }
    memmove(f->buf, f->buf + start, f->have - start);
    f->have -= start;
    return added;
}

bool pipe_split_lines(const uint8_t *p, size_t len, bool ndjson, srv_batch *b) {
    size_t start = 0;
    while (start < len) {
        const uint8_t *nl = memchr(p + start, '\n', len - start);
        size_t n = nl ? (size_t)(nl - (p + start)) : len - start;
        if (!(ndjson && blank(p + start, n)) && !srv_batch_add(b, p + start, n, NULL, 0, SRV_NO_TS))
            return false;
        start += n + 1;
    }
    return true;
}

static int file_read(pipe_source *s, srv_batch *b, uint32_t max, size_t max_bytes, int wait_ms,
                     char *err, size_t errlen) {
    file_source *f = (file_source *)s;
    for (;;) {
        bool nomem = false;
        int n = take_lines(f, b, max, max_bytes, &nomem);
        if (nomem) {
            snprintf(err, errlen, "out of memory");
            return PIPE_ERR;
        }
        if (n > 0) return n;
        if (f->eof && f->next < f->files.gl_pathc) {
            /* the next file of the glob; a last line without its newline
             * ends with its file */
            if (f->have) {
                f->buf[f->have++] = '\n';
                continue;
            }
            if (f->fd >= 0) close(f->fd);
            const char *path = f->files.gl_pathv[f->next++];
            f->fd = open(path, O_RDONLY | O_CLOEXEC);
            if (f->fd < 0) {
                snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
                return PIPE_ERR;
            }
            f->eof = false;
            continue;
        }
        if (f->eof && f->follow) {
            /* the file may grow: look again in a while (a partial line
             * waits for its end) */
            f->eof = false;
            struct timespec nap = {0, 200 * 1000000};
            nanosleep(&nap, NULL);
            return 0;
        }
        if (f->eof) {
            if (!f->have) return PIPE_END;
            f->buf[f->have++] = '\n'; /* a last line without its newline */
            continue;
        }
        if (wait_ms >= 0) {
            struct pollfd pf = {.fd = f->fd, .events = POLLIN};
            if (poll(&pf, 1, wait_ms) == 0) return 0;
        }
        if (f->have + 1 >= f->cap) {
            /* a line longer than the buffer: it grows, up to the limit */
            if (f->cap >= f->limit) {
                snprintf(err, errlen, "a line of the input is longer than %zu bytes", f->limit);
                return PIPE_ERR;
            }
            uint8_t *q = realloc(f->buf, f->cap * 2);
            if (!q) {
                snprintf(err, errlen, "out of memory");
                return PIPE_ERR;
            }
            f->buf = q;
            f->cap *= 2;
        }
        ssize_t k = read(f->fd, f->buf + f->have, f->cap - f->have - 1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(err, errlen, "cannot read the source: %s", strerror(errno));
            return PIPE_ERR;
        }
        if (k == 0) f->eof = true;
        f->have += (size_t)k;
    }
}

static void file_close(pipe_source *s) {
    file_source *f = (file_source *)s;
    if (f->own_fd && f->fd >= 0) close(f->fd);
    if (f->files.gl_pathc) globfree(&f->files);
    free(f->buf);
    free(f);
}

pipe_source *pipe_file_source(const char *path, pipe_format format, size_t max_line, bool follow,
                              char *err, size_t errlen) {
    file_source *f = calloc(1, sizeof *f);
    if (f) f->buf = malloc(f->cap = 1u << 16);
    if (!f || !f->buf) {
        free(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->base.read = file_read;
    f->base.close = file_close;
    f->format = format;
    f->follow = follow;
    f->limit = max_line < f->cap ? f->cap : max_line;
    if (!strcmp(path, "-")) {
        f->fd = STDIN_FILENO;
    } else if (strpbrk(path, "*?[")) {
        int rc = glob(path, GLOB_ERR, NULL, &f->files);
        if (rc != 0 || !f->files.gl_pathc) {
            snprintf(err, errlen, "%s: %s", path,
                     rc == GLOB_NOMATCH || !rc ? "no file matches" : "cannot read a directory");
            if (!rc) globfree(&f->files);
            free(f->buf);
            free(f);
            return NULL;
        }
        /* an empty descriptor at its end: the first read opens the first file */
        f->fd = -1;
        f->own_fd = f->eof = true;
    } else {
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        f->own_fd = true;
        if (f->fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            free(f->buf);
            free(f);
            return NULL;
        }
    }
    return &f->base;
}

/* ---- sinks ---------------------------------------------------------------- */

typedef struct file_sink {
    pipe_sink base;
    int fd;
    bool own_fd;
    uint8_t *buf;
    size_t cap;
    bool sync;
} file_sink;

static bool write_all(int fd, const uint8_t *b, size_t n) {
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

size_t pipe_lines(const srv_batch *b, uint8_t **buf, size_t *cap, char *err, size_t errlen) {
    size_t need = b->len + b->n;
    if (need > *cap) {
        uint8_t *q = realloc(*buf, need);
        if (!q) {
            snprintf(err, errlen, "out of memory");
            return SIZE_MAX;
        }
        *buf = q;
        *cap = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        memcpy(*buf + n, b->bytes + b->recs[i].value, b->recs[i].value_len);
        n += b->recs[i].value_len;
        (*buf)[n++] = '\n';
    }
    return n;
}

/* Each record and a newline, in one write. */
static bool file_write(pipe_sink *s, const srv_batch *b, char *err, size_t errlen) {
    file_sink *f = (file_sink *)s;
    if (!b->n) return true;
    size_t n = pipe_lines(b, &f->buf, &f->cap, err, errlen);
    if (n == SIZE_MAX) return false;
    if (!write_all(f->fd, f->buf, n)) {
        snprintf(err, errlen, "cannot write: %s", strerror(errno));
        return false;
    }
    /* a pipe or a terminal cannot be synced (EINVAL): written is all
     * there is for them */
    if (f->sync && fdatasync(f->fd) && errno != EINVAL && errno != EROFS) {
        snprintf(err, errlen, "cannot sync: %s", strerror(errno));
        return false;
    }
    return true;
}

static void file_sink_close(pipe_sink *s) {
    file_sink *f = (file_sink *)s;
    if (f->own_fd) close(f->fd);
    free(f->buf);
    free(f);
}

pipe_sink *pipe_file_sink(const char *path, int std_fd, bool sync, char *err, size_t errlen) {
    file_sink *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->sync = sync;
    f->base.write = file_write;
    f->base.close = file_sink_close;
    if (!path || !strcmp(path, "-")) {
        f->fd = std_fd;
    } else {
        f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        f->own_fd = true;
        if (f->fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            free(f);
            return NULL;
        }
    }
    return &f->base;
}
