/*
 * serve.c - `wasp serve`: turns the command line into srv_options and
 * hands over to the server (server/server.h), which runs until SIGTERM.
 *
 * The target is a manifest (.yaml/.yml) or one module (.wasm). In
 * one-module mode the app's capabilities and limits come from flags; with
 * a manifest they come from the manifest, and those flags are refused so
 * that nobody believes a flag applied when it did not.
 *
 * Exit status: 0 after a graceful shutdown, 1 when serving cannot start
 * (bad manifest or module, busy port), 2 for a wrong command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pipe/pipe.h"
#include "server/server.h"

static const char serve_usage[] =
    "usage: wasp serve [OPTIONS] MODULE.wasm | MANIFEST.yaml\n"
    "\n"
    "Serves HTTP: every request runs in a fresh instance of its app's module,\n"
    "made from a snapshot in microseconds. A module is served at every path,\n"
    "through the interface its exports choose (wasp_handle: wasp handler ABI,\n"
    "_start: WAGI); a manifest routes paths to many apps (docs/abi.md), and\n"
    "runs its pipelines: (records from a file, a Redis stream or POSTs to an\n"
    "ingest route, through filter apps, to a sink; docs/design/pipe.md).\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT       HTTP listener (default: the manifest's, else\n"
    "                           127.0.0.1:8080; port 0 picks a free one)\n"
    "  --admin ADDR:PORT|off    /metrics, /healthz, /readyz (default: the\n"
    "                           manifest's, else 127.0.0.1:9090)\n"
    "  --workers N              worker threads, one event loop each (default:\n"
    "                           the manifest's, else one per core)\n"
    "  --max-connections N      connections beyond N are closed at once (10000)\n"
    "  --max-body BYTES         larger request bodies get 413 (16777216)\n"
    "  --max-buffered-bodies BYTES\n"
    "                           request body bytes held at once over all\n"
    "                           connections; a body past it gets 503 and a\n"
    "                           close (256MiB, or --max-body if larger)\n"
    "  --idle-timeout-ms N      a kept-alive connection with no request begun\n"
    "                           is closed after N ms (10000)\n"
    "  --header-timeout-ms N    time from a request's first byte to the end\n"
    "                           of its head; past it: 408 and a close (10000)\n"
    "  --body-timeout-ms N      time from the end of the head to the end of\n"
    "                           the body; past it: 408 and a close (30000)\n"
    "  --access-log PATH|-|stdout|off\n"
    "                           one logfmt line per request (default -:\n"
    "                           stderr); stdout: these and the server's\n"
    "                           events on standard output (containers)\n"
    "  --log-format text|json   access-log lines, the guest's log lines and\n"
    "                           server events as logfmt (text, the default)\n"
    "                           or one JSON object a line\n"
    "  --drain-delay-ms N       after SIGTERM, /readyz fails at once but\n"
    "                           requests are still served for N ms, so a\n"
    "                           balancer stops sending first (default 0)\n"
    "  --drain-timeout-ms N     after SIGTERM (and the delay), time in-flight\n"
    "                           requests get to finish before they are ended\n"
    "                           with 504 (30000)\n"
    "  --tier auto|interp|native\n"
    "                           how apps without `tier:` in the manifest run.\n"
    "                           auto (default): machine code from the cache,\n"
    "                           else the interpreter while LLVM compiles in\n"
    "                           the background, then the machine code;\n"
    "                           native: compiled before serving; interp: the\n"
    "                           interpreter only\n"
    "  --cache DIR|off          where native code is kept between starts\n"
    "                           (default $XDG_CACHE_HOME/wasp, else\n"
    "                           ~/.cache/wasp)\n"
    "  --time-slice-ms N        a handler that computes this long without\n"
    "                           waiting yields to the other requests of its\n"
    "                           worker, then goes on (10)\n"
    "  --dev                    development: a handler that traps answers 500\n"
    "                           with the trap and its Wasm backtrace in the\n"
    "                           body (always in the log); not for production\n"
    "one-module mode only (a manifest sets these per app):\n"
    "  --dir HOST[::GUEST][:ro] grant a directory (repeatable)\n"
    "  --env K=V                grant an environment variable (repeatable)\n"
    "  --init EXPORT            run this export once at load, before the snapshot\n"
    "  --deadline-ms N          wall-clock limit per request (default 10000)\n"
    "  --memory-limit SIZE      linear memory cap, e.g. 64MiB (default 128MiB)\n"
    "  --fuel N                 instruction budget per request (default: none)\n"
    "\n"
    "environment (for containers; a flag on the command line wins):\n"
    "  WASP_LISTEN, WASP_ADMIN, WASP_WORKERS, WASP_ACCESS_LOG, WASP_LOG_FORMAT,\n"
    "  WASP_DRAIN_DELAY_MS, WASP_DRAIN_TIMEOUT_MS, WASP_CACHE: the flag of the\n"
    "  same name (WASP_LISTEN=0.0.0.0:8080 is --listen 0.0.0.0:8080)\n"
    "\n"
    "signals: SIGTERM/SIGINT make /readyz fail, wait --drain-delay-ms still\n"
    "serving, then stop accepting, drain in-flight requests (ended after\n"
    "--drain-timeout-ms) and exit 0; SIGHUP reloads the manifest (or module)\n"
    "without dropping a request; SIGTERM during a reload abandons the reload.\n"
    "/readyz fails until every worker serves, and from SIGTERM on.\n"
    "\n"
    "limits: the soft limit on open files (ulimit -n) is raised to the hard\n"
    "one at start; a request may hold at most 256 descriptors, all closed\n"
    "when it ends.\n";

static int serve_usage_error(const char *fmt, const char *arg) {
    fputs("wasp serve: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see wasp serve --help)\n", stderr);
    return 2;
}

/* "65536", "64KiB", "64MiB", "1GiB" (also K, M, G) -> bytes. */
static bool parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return false;
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
                 {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit)) continue;
        if (v > (UINT64_MAX >> units[i].shift)) return false;
        *out = (uint64_t)v << units[i].shift;
        return true;
    }
    return false;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Settings a container gives through its environment (12-factor): each
 * stands for the flag it names, before the command line's, which win. */
static const struct {
    const char *env, *flag;
} env_flags[] = {
    {"WASP_LISTEN", "--listen"},
    {"WASP_ADMIN", "--admin"},
    {"WASP_WORKERS", "--workers"},
    {"WASP_ACCESS_LOG", "--access-log"},
    {"WASP_LOG_FORMAT", "--log-format"},
    {"WASP_DRAIN_DELAY_MS", "--drain-delay-ms"},
    {"WASP_DRAIN_TIMEOUT_MS", "--drain-timeout-ms"},
    {"WASP_CACHE", "--cache"},
};
#define NENV_FLAGS (sizeof env_flags / sizeof env_flags[0])

int cli_serve(int argc, char **argv) {
    /* the environment's settings first, as flags */
    char *args[2 * NENV_FLAGS + 1024];
    int nargs = 0;
    for (size_t i = 0; i < NENV_FLAGS; i++) {
        const char *v = getenv(env_flags[i].env);
        if (!v || !*v) continue;
        args[nargs++] = (char *)env_flags[i].flag;
        args[nargs++] = (char *)v;
    }
    if (argc > 1024) {
        fputs("wasp serve: too many arguments\n", stderr);
        return 2;
    }
    for (int i = 0; i < argc; i++)
        args[nargs++] = argv[i];
    argc = nargs;
    argv = args;
    srv_options o = {0};
    const char *target = NULL;
    /* one-module settings */
    const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    const char **env = calloc((size_t)argc + 1, sizeof *env);
    int ndirs = 0, nenv = 0;
    const char *init = NULL;
    uint64_t deadline = 0, memory = 0, fuel = 0;
    bool app_flags = false;
    const char *cache = NULL;
    char cache_buf[4096];
    int rc = 2;
    if (!dirs || !env) {
        fputs("wasp serve: out of memory\n", stderr);
        goto done;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(serve_usage, stdout);
            rc = 0;
            goto done;
        }
        if (a[0] != '-') {
            if (target) {
                rc = serve_usage_error("more than one module or manifest given ('%s')", a);
                goto done;
            }
            target = a;
            continue;
        }
        if (!strcmp(a, "--dev")) {
            o.dev = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            rc = serve_usage_error("option %s needs a value", a);
            goto done;
        }
        i++;
        uint64_t n;
        if (!strcmp(a, "--listen")) {
            o.listen = v;
        } else if (!strcmp(a, "--admin")) {
            o.admin = v;
        } else if (!strcmp(a, "--workers")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 1024) {
                rc = serve_usage_error("bad --workers '%s' (want 1..1024)", v);
                goto done;
            }
            o.workers = (int)n;
        } else if (!strcmp(a, "--max-connections")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 10000000) {
                rc = serve_usage_error("bad --max-connections '%s'", v);
                goto done;
            }
            o.max_connections = (int64_t)n;
        } else if (!strcmp(a, "--max-body")) {
            if (!parse_size(v, &o.max_body) || o.max_body == 0) {
                rc = serve_usage_error("bad --max-body '%s' (bytes, or e.g. 1MiB)", v);
                goto done;
            }
        } else if (!strcmp(a, "--drain-timeout-ms")) {
            if (!cli_parse_u64(v, &o.drain_timeout_ms) || o.drain_timeout_ms == 0) {
                rc = serve_usage_error("bad --drain-timeout-ms '%s' (milliseconds, at least 1)", v);
                goto done;
            }
        } else if (!strcmp(a, "--time-slice-ms")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 60000) {
                rc = serve_usage_error("bad --time-slice-ms '%s' (1 to 60000 milliseconds)", v);
                goto done;
            }
            o.time_slice_ms = (uint32_t)n;
        } else if (!strcmp(a, "--max-buffered-bodies")) {
            if (!parse_size(v, &o.max_buffered) || o.max_buffered == 0) {
                rc = serve_usage_error("bad --max-buffered-bodies '%s' (bytes, or e.g. 256MiB)", v);
                goto done;
            }
        } else if (!strcmp(a, "--idle-timeout-ms") || !strcmp(a, "--header-timeout-ms") ||
                   !strcmp(a, "--body-timeout-ms")) {
            if (!cli_parse_u64(v, &n) || n < 1 || n > 3600000) {
                char msg[200];
                snprintf(msg, sizeof msg, "bad %s '%.64s' (1 to 3600000 milliseconds)", a, v);
                rc = serve_usage_error("%s", msg);
                goto done;
            }
            uint32_t *t = a[2] == 'i'   ? &o.idle_timeout_ms
                          : a[2] == 'h' ? &o.header_timeout_ms
                                        : &o.body_timeout_ms;
            *t = (uint32_t)n;
        } else if (!strcmp(a, "--request-timeout-ms")) {
            rc = serve_usage_error("%s", "--request-timeout-ms is gone: the request's phases have "
                                         "their own limits now, --idle-timeout-ms, "
                                         "--header-timeout-ms and --body-timeout-ms");
            goto done;
        } else if (!strcmp(a, "--log-format")) {
            if (strcmp(v, "text") && strcmp(v, "json")) {
                rc = serve_usage_error("bad --log-format '%s' (want text or json)", v);
                goto done;
            }
            o.log_json = !strcmp(v, "json");
        } else if (!strcmp(a, "--drain-delay-ms")) {
            if (!cli_parse_u64(v, &o.drain_delay_ms) || o.drain_delay_ms > 600000) {
                rc = serve_usage_error("bad --drain-delay-ms '%s' (0 to 600000 milliseconds)", v);
                goto done;
            }
        } else if (!strcmp(a, "--access-log")) {
            o.access_log = v;
        } else if (!strcmp(a, "--tier")) {
            if (!srv_tier_parse(v, &o.tier)) {
                rc = serve_usage_error("bad --tier '%s' (want auto, interp or native)", v);
                goto done;
            }
        } else if (!strcmp(a, "--cache")) {
            if (!*v) {
                rc = serve_usage_error("bad --cache '%s' (want a directory or off)", v);
                goto done;
            }
            cache = v;
        } else if (!strcmp(a, "--dir")) {
            dirs[ndirs++] = v;
            app_flags = true;
        } else if (!strcmp(a, "--env")) {
            if (!strchr(v, '=') || v[0] == '=') {
                rc = serve_usage_error("bad --env '%s' (want K=V)", v);
                goto done;
            }
            env[nenv++] = v;
            app_flags = true;
        } else if (!strcmp(a, "--init")) {
            init = v;
            app_flags = true;
        } else if (!strcmp(a, "--deadline-ms")) {
            if (!cli_parse_u64(v, &deadline) || deadline == 0 || deadline > 3600000) {
                rc = serve_usage_error("bad --deadline-ms '%s' (want 1..3600000)", v);
                goto done;
            }
            app_flags = true;
        } else if (!strcmp(a, "--memory-limit")) {
            if (!parse_size(v, &memory) || memory == 0 || memory > (4ull << 30)) {
                rc = serve_usage_error("bad --memory-limit '%s' (e.g. 64MiB, at most 4GiB)", v);
                goto done;
            }
            app_flags = true;
        } else if (!strcmp(a, "--fuel")) {
            if (!cli_parse_u64(v, &fuel) || fuel == 0) {
                rc = serve_usage_error("bad --fuel '%s'", v);
                goto done;
            }
            app_flags = true;
        } else {
            rc = serve_usage_error("unknown option '%s'", a);
            goto done;
        }
    }
    if (!target) {
        rc = serve_usage_error("%s", "no module or manifest given");
        goto done;
    }
    uint64_t max_body = o.max_body ? o.max_body : 16u << 20;
    if (o.max_buffered && o.max_buffered < max_body) {
        char mb[32];
        snprintf(mb, sizeof mb, "%llu", (unsigned long long)max_body);
        rc = serve_usage_error("--max-buffered-bodies is smaller than --max-body (%s bytes): a "
                               "body of the largest size could never be taken",
                               mb);
        goto done;
    }
    char err[1024];
    bool manifest = ends_with(target, ".yaml") || ends_with(target, ".yml");
    if (manifest) {
        if (app_flags) {
            rc = serve_usage_error("%s: --dir, --env, --init, --deadline-ms, --memory-limit and "
                                   "--fuel apply to one module; set them per app in the manifest",
                                   target);
            goto done;
        }
        o.manifest_path = target;
    } else {
        srv_manifest *m = srv_manifest_single(target, err, sizeof err);
        if (!m) {
            fprintf(stderr, "wasp serve: %s\n", err);
            rc = 1;
            goto done;
        }
        srv_app_cfg *app = &m->apps[0];
        bool ok = true;
        if (nenv) {
            app->env = calloc((size_t)nenv + 1, sizeof *app->env);
            for (int i = 0; ok && app->env && i < nenv; i++)
                ok = (app->env[app->nenv++] = strdup(env[i])) != NULL;
            ok = ok && app->env;
        }
        if (ndirs) {
            app->dirs = calloc((size_t)ndirs + 1, sizeof *app->dirs);
            ok = ok && app->dirs;
            for (int i = 0; ok && i < ndirs; i++) {
                char *s = strdup(dirs[i]);
                size_t len = s ? strlen(s) : 0;
                srv_dir *d = &app->dirs[app->ndirs++];
                if (s && len > 3 && !strcmp(s + len - 3, ":ro")) {
                    d->readonly = true;
                    s[len - 3] = 0;
                }
                char *sep = s ? strstr(s, "::") : NULL;
                if (sep) *sep = 0;
                d->host = s;
                d->guest = s ? strdup(sep ? sep + 2 : s) : NULL;
                ok = s && d->guest && *d->host && *d->guest;
                if (!ok) {
                    srv_manifest_free(m);
                    rc = serve_usage_error("bad --dir '%s' (want HOST[::GUEST][:ro])", dirs[i]);
                    goto done;
                }
            }
        }
        if (init) ok = ok && (app->init = strdup(init)) != NULL;
        if (deadline) app->deadline_ms = (uint32_t)deadline;
        if (memory) app->max_memory_pages = (uint32_t)((memory + 65535) / 65536);
        app->fuel = fuel;
        if (!ok) {
            srv_manifest_free(m);
            fputs("wasp serve: out of memory\n", stderr);
            rc = 1;
            goto done;
        }
        o.single = m;
    }
    o.cache_dir = cache ? (strcmp(cache, "off") ? cache : NULL)
                        : srv_cache_default_dir(cache_buf, sizeof cache_buf);
    pipe_service *pipes = pipe_service_new();
    if (!pipes) {
        fputs("wasp serve: out of memory\n", stderr);
        rc = 1;
        goto done;
    }
    o.companion = pipe_service_companion(pipes);
    rc = srv_serve(&o, err, sizeof err) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "wasp serve: %s\n", err);
    pipe_service_free(pipes);
    if (srv_compiling()) { /* see srv_compiling */
        fflush(NULL);
        _exit(rc);
    }
    srv_manifest_free(o.single);
done:
    free(dirs);
    free(env);
    return rc;
}
