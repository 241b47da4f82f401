/*
 * internal.h - what the files of src/pipe share with each other and with
 * no one else: the sources and sinks the pipeline (pipe.c) drives.
 *
 *   pipe.c     the pipeline: threads, batches, order, dead letters,
 *              acknowledgements, the HTTP ingest path
 *   run.c      `wasp pipe`: a pipeline from the command line
 *   service.c  `wasp serve`: the manifest's pipelines beside its apps
 *   file.c     files, stdin and stdout as source and sinks
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
    /* A stream's consumer lag: entries not yet delivered to the group and
     * entries delivered but not acknowledged (-1: unknown). NULL for
     * sources without one. Called from the source's thread only. */
    bool (*lag)(pipe_source *s, int64_t *lag, int64_t *pending);
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
/* Splits `len` bytes into records, a line each (the last one may lack
 * its newline; NDJSON skips blank lines), appended to b; false when out
 * of memory (file.c). */
bool pipe_split_lines(const uint8_t *p, size_t len, bool ndjson, srv_batch *b);
/* A file appended to ("-" or NULL: std_fd), a record per line. With
 * sync, each batch is on disk (fdatasync) before write returns: for
 * sources that are told the batch is done (a stream, an HTTP client). */
pipe_sink *pipe_file_sink(const char *path, int std_fd, bool sync, char *err, size_t errlen);

/* A key-value store sink, kv:NAME, one of `stores` (sinks.c); an HTTP
 * sink, a POST per batch of NDJSON. NULL with the reason. */
bool pipe_is_kv(const char *spec);
bool pipe_is_http(const char *spec);
pipe_sink *pipe_kv_sink(const char *spec, const srv_store_cfg *stores, int nstores, char *err,
                        size_t errlen);
pipe_sink *pipe_http_sink(const char *url, char *err, size_t errlen);

/* Whether `spec` names a Redis stream: redis://... */
bool pipe_is_redis(const char *spec);
/* A consumer of a Redis stream in a group (redis.c), from
 * redis://[host][:port]/STREAM?group=G[&consumer=C][&claim-idle-ms=N]
 * [&idle-exit-ms=N]; NULL with the reason. */
pipe_source *pipe_redis_source(const char *spec, char *err, size_t errlen);
/* XADD to a Redis stream: redis://[host][:port]/STREAM. */
pipe_sink *pipe_redis_sink(const char *spec, char *err, size_t errlen);

/* ---- the pipeline (pipe.c) ----------------------------------------------- */

/* A pipeline's counters: written by its sink and source threads, read by
 * anyone (relaxed). They outlive a pipeline, so that one restarted or
 * reloaded under the same name counts on. */
typedef struct pipe_counters {
    _Atomic uint64_t in, out, dead, batches;
    _Atomic uint64_t filtered;    /* records a stage emitted nothing for (pipe.c, count_filtered) */
    srv_hist batch;               /* a batch from read to written and acknowledged */
    _Atomic int64_t in_flight;    /* batches read, not yet written */
    _Atomic int64_t lag, pending; /* the source's (pipe_source.lag); -1: unknown */
} pipe_counters;

void pipe_counters_init(pipe_counters *c);

typedef struct pipe_spec {
    const char *name;            /* for messages */
    const char *to;              /* sink: "-" (stdout), a file, STREAM, kv:NAME, URL */
    const char *dead_letter;     /* the same ("-" or NULL: stderr) */
    const srv_store_cfg *stores; /* what kv:NAME sinks name */
    int nstores;
    int workers;            /* 0: one per core */
    uint32_t batch_records; /* 0: 1000 */
    uint32_t batch_bytes;   /* 0: 1 MiB */
    int flush_ms;           /* wasp_filter_flush every flush_ms; 0: at the source's end only */
    uint32_t window;        /* batches in flight at most; 0: 2 x workers + 2 */
    bool sync;              /* sinks make each batch durable before it is acknowledged */
} pipe_spec;

typedef struct pipeline pipeline;

/* Starts a pipeline: filters apps[0..napps) of g in that order (a
 * reference to g is taken), the sinks opened from s, `src` read on a
 * thread of its own (taken over, closed also on failure; NULL: batches
 * come only from pipe_ingest), workers, a sink thread. NULL with the
 * reason when it cannot start. The result holds one reference. */
pipeline *pipe_start(const pipe_spec *s, srv_gen *g, const int *apps, int napps, pipe_source *src,
                     pipe_counters *c, char *err, size_t errlen);
/* No more is read (nor ingested); what was read is written and
 * acknowledged. Returns at once. */
void pipe_stop(pipeline *p);
/* Waits up to timeout_ms (-1: as long as it takes) for the pipeline to
 * finish: the source ended or it was stopped, and everything read is
 * written; or it failed. True once finished. */
bool pipe_wait(pipeline *p, int timeout_ms);
/* After it finished: whether it failed, and why; whether it was stopped. */
bool pipe_failed(pipeline *p, char *err, size_t errlen);
bool pipe_was_stopped(pipeline *p);
/* Batches taken from now on run through apps[0..napps) of g (a reload):
 * each worker moves over between batches. */
bool pipe_swap(pipeline *p, srv_gen *g, const int *apps, int napps);
void pipe_ref(pipeline *p);
/* The last reference stops the pipeline, waits for it and frees it. */
void pipe_unref(pipeline *p);

/* What pipe_ingest answers. */
typedef struct pipe_ingest_result {
    int status; /* 202 written; 503 not running, full, or the sink failed; 504 not in time */
    uint64_t records, outputs, dead_letters;
    char why[300];
} pipe_ingest_result;

/* A batch from an HTTP client (`wasp serve`'s ingest route): `len` bytes,
 * a record per line, handed to the workers as one batch; returns once it
 * is written and acknowledged (durable in the sinks), or after timeout_ms.
 * Waits with util_waiter: on a serve worker only the request waits. */
void pipe_ingest(pipeline *p, const uint8_t *body, size_t len, bool ndjson, int timeout_ms,
                 pipe_ingest_result *r);

#endif
