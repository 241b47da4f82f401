/*
 * pipe.h - `wasp pipe`: records from a source through a chain of Wasm
 * filters to a sink (docs/design/pipe.md).
 *
 *   pipe.c     the pipeline: the source read on a thread and cut into
 *              batches, workers that run each batch through every filter,
 *              a sink thread that writes the batches in their order
 *   run.c      `wasp pipe`: one pipeline from the command line
 *   service.c  `wasp serve`: the manifest's pipelines beside its apps
 *
 * A filter is an app of a server generation (server/app.c) with the
 * interface `filter`: loading, init, snapshot, tiers, limits and
 * capabilities are the server's, and each worker has a slot per filter as
 * a server worker has per app. Nothing here prints to stdout but the
 * sink, or exits: errors come back as values.
 */
#ifndef WASP_PIPE_H
#define WASP_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/server.h"

typedef enum {
    PIPE_LINES = 0, /* a record per line, the newline not included */
    PIPE_NDJSON,    /* the same; blank lines are not records */
    PIPE_CSV,       /* a record per line after the first, the header, which
                     * filters read as the variable csv_header */
} pipe_format;

typedef struct pipe_options {
    const char *from;        /* "-": stdin; else a file or a glob of files */
    bool follow;             /* read the (last) file as it grows, without end */
    const char *to;          /* "-": stdout; else a file, appended to */
    const char *dead_letter; /* "-" or NULL: stderr; else a file, appended to */
    const char *const *filters;
    int nfilters;
    pipe_format format;
    int workers;               /* 0: one per core */
    uint32_t batch_records;    /* 0: 1000 */
    uint32_t batch_bytes;      /* 0: 1 MiB */
    uint32_t deadline_ms;      /* per batch and filter; 0: 10 s */
    uint32_t max_memory_pages; /* per filter instance; 0: the server's default */
    uint64_t fuel;             /* per batch and filter; 0: none */
    srv_tier tier;
    const char *cache_dir; /* native code cache; NULL: none */
    /* key-value stores granted to every filter: "NAME=FILE.db" (SQLite)
     * or "NAME=redis://host[:port][/db]" */
    const char *const *kv;
    int nkv;
    /* wasp_filter_flush every flush_ms (0: at the end of the input only;
     * -1: the default, 0 for files and stdin, 5000 for a stream) */
    int flush_ms;
    bool progress; /* a line on stderr once a second (for a terminal) */
    /* variables every filter may read (wasp_var): "NAME=VALUE" */
    const char *const *vars;
    int nvars;
} pipe_options;

typedef struct pipe_stats {
    uint64_t records_in, records_out, dead_letters, batches;
    bool stopped; /* by SIGTERM or SIGINT, before the source's end */
} pipe_stats;

/* Runs the pipeline until the source ends and every batch is written:
 * 0, with the counts in *st. SIGTERM and SIGINT (blocked in the calling
 * thread meanwhile) stop the reading; what was read is still written and
 * acknowledged, and it returns 0 with st->stopped. -1 with the reason in err when it cannot
 * start (a filter that does not load or whose init fails: nothing was
 * read then) or cannot go on (the sink fails, an instance cannot be
 * made). A record that a filter fails on (a trap, the deadline, a
 * non-zero return) is not an error: it goes to the dead-letter sink with
 * the reason, and the others go on. */
int pipe_run(const pipe_options *o, pipe_stats *st, char *err, size_t errlen);

/* The pipelines of a manifest under `wasp serve` (service.c): hand
 * pipe_service_companion's to srv_options.companion; free the service
 * after srv_serve returns. NULL when out of memory. */
typedef struct pipe_service pipe_service;
pipe_service *pipe_service_new(void);
const srv_companion *pipe_service_companion(pipe_service *s);
void pipe_service_free(pipe_service *s);

#endif
