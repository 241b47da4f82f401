/*
 * pipe.c - `wasp pipe`: turns the command line into pipe_options and hands
 * over to the pipeline (pipe/pipe.h).
 *
 * Exit status: 0 when the input was read to its end and every batch
 * written (records that a filter failed on are dead letters, not
 * failures), 1 when the pipeline cannot start or stops (a filter that
 * does not load, a sink that cannot be written), 2 for a wrong command
 * line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipe/pipe.h"

static const char pipe_usage[] =
    "usage: wasp pipe [OPTIONS] FILTER.wasm [FILTER.wasm...]\n"
    "\n"
    "Reads records (one per line) from a source, runs them through each filter\n"
    "in turn, by batches, on every core, and writes what the last one emits to\n"
    "a sink, one record per line, in the input's order. A filter is a WASI\n"
    "reactor that exports wasp_filter (sdk/c/wasp_filter.h, docs/design/pipe.md);\n"
    "each batch runs in a clean instance. A record that a filter fails on (a\n"
    "trap, the deadline, a non-zero return) goes to the dead-letter sink as a\n"
    "JSON line with the error; the others go on.\n"
    "\n"
    "options:\n"
    "  --from -|FILE|GLOB|STREAM\n"
    "                           the source (default -: stdin); a glob ('logs/*.log',\n"
    "                           quoted) reads the files in name order\n"
    "  --follow                 at the (last) file's end, wait for what is\n"
    "                           appended, as tail -f does (until SIGTERM)\n"
    "  --to -|FILE|STREAM|kv:NAME|URL\n"
    "                           the sink (default -: stdout): a file appended\n"
    "                           to; kv:NAME sets each record's value at its key\n"
    "                           in the store --kv NAME=... declares; an\n"
    "                           http[s] URL gets a POST of NDJSON per batch\n"
    "                           (2xx: written)\n"
    "  --dead-letter -|FILE|STREAM|kv:NAME|URL\n"
    "                           where failed records go (default -: stderr)\n"
    "  --format lines|ndjson|csv\n"
    "                           lines (default): every line is a record;\n"
    "                           ndjson: the same, blank lines skipped; csv:\n"
    "                           every line after the header, which filters\n"
    "                           read as the variable csv_header\n"
    "  --var NAME=VALUE         a variable every filter may read (wasp_var),\n"
    "                           e.g. its configuration (repeatable)\n"
    "  --workers N              threads running filters (default: one per core)\n"
    "  --batch N                records per batch at most (1000)\n"
    "  --deadline-ms N          per batch and filter (10000)\n"
    "  --fuel N                 instruction budget per batch and filter (none)\n"
    "  --kv NAME=FILE.db|NAME=redis://HOST[:PORT]\n"
    "                           grant every filter a key-value store (SQLite\n"
    "                           file or Redis), e.g. an aggregate's state\n"
    "                           (repeatable)\n"
    "  --flush-ms N             call the filters' wasp_filter_flush every N ms;\n"
    "                           0: at the end of the input only (default: 0\n"
    "                           for files and stdin, 5000 for a stream)\n"
    "  --tier auto|interp|native\n"
    "                           auto (default): machine code from the cache,\n"
    "                           else the interpreter while LLVM compiles in the\n"
    "                           background; native: compiled before reading\n"
    "  --cache DIR|off          where native code is kept (default\n"
    "                           $XDG_CACHE_HOME/wasp, else ~/.cache/wasp)\n"
    "\n"
    "A STREAM is a Redis stream. As a source, a consumer group that any number\n"
    "of processes share; entries are acknowledged once their outputs are in the\n"
    "sink, and entries a dead consumer left are claimed after claim-idle-ms:\n"
    "  redis://[HOST][:PORT]/STREAM?group=G[&consumer=C][&claim-idle-ms=30000]\n"
    "                          [&idle-exit-ms=N: end once idle and all acknowledged]\n"
    "As a sink (XADD, field value, and key: the input entry's id when kept):\n"
    "  redis://[HOST][:PORT]/STREAM\n"
    "\n"
    "At the end a summary goes to stderr: records in, out, dead letters; on a\n"
    "terminal, a progress line is kept up to date every second meanwhile.\n"
    "SIGTERM or SIGINT: no more is read; what was read is written (and\n"
    "acknowledged), then wasp pipe exits 0.\n";

static int pipe_usage_error(const char *fmt, const char *arg) {
    fputs("wasp pipe: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see wasp pipe --help)\n", stderr);
    return 2;
}

int cli_pipe(int argc, char **argv) {
    pipe_options o = {.from = "-", .to = "-", .dead_letter = "-", .flush_ms = -1};
    const char **filters = calloc((size_t)argc + 1, sizeof *filters);
    const char **kv = calloc((size_t)argc + 1, sizeof *kv);
    const char **vars = calloc((size_t)argc + 1, sizeof *vars);
    const char *cache = NULL;
    char cache_buf[4096];
    int rc = 2;
    if (!filters || !kv || !vars) {
        free(filters);
        free(kv);
        free(vars);
        fputs("wasp pipe: out of memory\n", stderr);
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(pipe_usage, stdout);
            rc = 0;
            goto done;
        }
        if (a[0] != '-' || !a[1]) {
            filters[o.nfilters++] = a;
            continue;
        }
        if (!strcmp(a, "--follow")) {
            o.follow = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            rc = pipe_usage_error("option %s needs a value", a);
            goto done;
        }
        i++;
        uint64_t n;
        if (!strcmp(a, "--from")) {
            o.from = v;
        } else if (!strcmp(a, "--to")) {
            o.to = v;
        } else if (!strcmp(a, "--dead-letter")) {
            o.dead_letter = v;
        } else if (!strcmp(a, "--format")) {
            if (!strcmp(v, "lines")) {
                o.format = PIPE_LINES;
            } else if (!strcmp(v, "ndjson")) {
                o.format = PIPE_NDJSON;
            } else if (!strcmp(v, "csv")) {
                o.format = PIPE_CSV;
            } else {
                rc = pipe_usage_error("bad --format '%s' (want lines, ndjson or csv)", v);
                goto done;
            }
        } else if (!strcmp(a, "--workers")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 1024) {
                rc = pipe_usage_error("bad --workers '%s' (want 1..1024)", v);
                goto done;
            }
            o.workers = (int)n;
        } else if (!strcmp(a, "--batch")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 1000000) {
                rc = pipe_usage_error("bad --batch '%s' (want 1..1000000)", v);
                goto done;
            }
            o.batch_records = (uint32_t)n;
        } else if (!strcmp(a, "--deadline-ms")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 3600000) {
                rc = pipe_usage_error("bad --deadline-ms '%s' (want 1..3600000)", v);
                goto done;
            }
            o.deadline_ms = (uint32_t)n;
        } else if (!strcmp(a, "--fuel")) {
            if (!cli_parse_u64(v, &o.fuel) || o.fuel == 0) {
                rc = pipe_usage_error("bad --fuel '%s' (want a positive number)", v);
                goto done;
            }
        } else if (!strcmp(a, "--tier")) {
            if (!srv_tier_parse(v, &o.tier)) {
                rc = pipe_usage_error("bad --tier '%s' (want auto, interp or native)", v);
                goto done;
            }
        } else if (!strcmp(a, "--cache")) {
            cache = v;
        } else if (!strcmp(a, "--kv")) {
            kv[o.nkv++] = v;
        } else if (!strcmp(a, "--var")) {
            vars[o.nvars++] = v;
        } else if (!strcmp(a, "--flush-ms")) {
            if (!cli_parse_u64(v, &n) || n > 86400000) {
                rc = pipe_usage_error("bad --flush-ms '%s' (want 0..86400000)", v);
                goto done;
            }
            o.flush_ms = (int)n;
        } else {
            rc = pipe_usage_error("unknown option '%s'", a);
            goto done;
        }
    }
    if (!o.nfilters) {
        rc = pipe_usage_error("no filter given%s: name one .wasm file or more", "");
        goto done;
    }
    o.filters = filters;
    o.kv = kv;
    o.vars = vars;
    o.progress = isatty(STDERR_FILENO);
    o.cache_dir = cache ? (strcmp(cache, "off") ? cache : NULL)
                        : srv_cache_default_dir(cache_buf, sizeof cache_buf);
    pipe_stats st;
    char err[600];
    int ran = pipe_run(&o, &st, err, sizeof err);
    if (o.progress) fputs("\r\033[K", stderr); /* the progress line gives way */
    if (ran != 0) {
        fprintf(stderr, "wasp pipe: %s\n", err);
        rc = 1;
    } else {
        rc = 0;
    }
    fprintf(stderr, "wasp pipe: %s%llu records in, %llu out, %llu dead letters, %llu batches\n",
            st.stopped ? "stopped by a signal: " : "", (unsigned long long)st.records_in,
            (unsigned long long)st.records_out, (unsigned long long)st.dead_letters,
            (unsigned long long)st.batches);
done:
    free(filters);
    free(kv);
    free(vars);
    if (srv_compiling()) { /* LLVM compiles in the background: see srv_compiling */
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}
