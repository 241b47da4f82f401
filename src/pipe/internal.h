/*
 * internal.h - what the files of src/pipe share with each other and with
 * no one else: the sources and sinks the pipeline (pipe.c) drives.
 *
 *   pipe.c   the pipeline
 *   file.c   files, stdin and stdout as source and sinks
 *   redis.c  Redis Streams as source (consumer groups) and sink (XADD)
 *   sinks.c  a key-value store and an HTTP endpoint as sinks
 */
#ifndef WASP_PIPE_INTERNAL_H
#define WASP_PIPE_INTERNAL_H

#include "pipe/pipe.h"
#include "server/internal.h"

/* read's answers besides a count of records */
#define PIPE_END (-2) /* the input is over */
#define PIPE_ERR (-1) /* err says why */

typedef struct pipe_source pipe_source;
struct pipe_source {
    /* Appends to b up to `max` records (and about max_bytes), waiting for
     * the first at most wait_ms (-1: as long as it takes). Returns how
     * many (0: none came in time), PIPE_END or PIPE_ERR. Called from the
     * source's thread only. A record's key is its id at the source when
     * it has one (a stream entry's). */
    int (*read)(pipe_source *s, srv_batch *b, uint32_t max, size_t max_bytes, int wait_ms,
                char *err, size_t errlen);
    /* Tells the source the records of `in` are done with (their outputs
     * and dead letters are in the sinks). NULL when it needs no telling.
     * Called from the sink's thread only. */
    bool (*ack)(pipe_source *s, const srv_batch *in, char *err, size_t errlen);
    void (*close)(pipe_source *s);
};

typedef struct pipe_sink pipe_sink;
struct pipe_sink {
    /* Writes every record of b; true once they are durable there. */
    bool (*write)(pipe_sink *s, const srv_batch *b, char *err, size_t errlen);
    void (*close)(pipe_sink *s);
};

/* A file ("-": stdin; a glob: every match in name order) read a line per
 * record (file.c); lines longer than max_line are an error. With follow,
 * the (last) file is read as it grows and the source never ends. NULL
 * with the reason. */
pipe_source *pipe_file_source(const char *path, pipe_format format, size_t max_line, bool follow,
                              char *err, size_t errlen);
/* Renders b's records as lines (each value and "\n") into *buf, grown as
 * needed: the length, or SIZE_MAX when out of memory (file.c). */
size_t pipe_lines(const srv_batch *b, uint8_t **buf, size_t *cap, char *err, size_t errlen);
/* A file appended to ("-" or NULL: std_fd), a record per line. */
pipe_sink *pipe_file_sink(const char *path, int std_fd, char *err, size_t errlen);

/* A key-value store sink, kv:NAME, the store declared in o->kv (sinks.c);
 * an HTTP sink, a POST per batch of NDJSON. NULL with the reason. */
bool pipe_is_kv(const char *spec);
bool pipe_is_http(const char *spec);
pipe_sink *pipe_kv_sink(const char *spec, const pipe_options *o, char *err, size_t errlen);
pipe_sink *pipe_http_sink(const char *url, char *err, size_t errlen);

/* Whether `spec` names a Redis stream: redis://... */
bool pipe_is_redis(const char *spec);
/* A consumer of a Redis stream in a group (redis.c), from
 * redis://[host][:port]/STREAM?group=G[&consumer=C][&claim-idle-ms=N]
 * [&idle-exit-ms=N]; NULL with the reason. */
pipe_source *pipe_redis_source(const char *spec, char *err, size_t errlen);
/* XADD to a Redis stream: redis://[host][:port]/STREAM. */
pipe_sink *pipe_redis_sink(const char *spec, char *err, size_t errlen);

#endif
