/*
 * server.h - `wasp serve`: HTTP handlers in per-request Wasm instances.
 *
 * The server layer owns threads, sockets and pools; it uses the engine
 * (wasm/wasm.h) and WASI (wasi/wasi.h) only through their headers.
 *
 *   manifest.c  wasp.yaml (or one module) -> srv_manifest
 *   app.c       a loaded app: module, snapshot after pre-initialisation
 *   handler.c   running one request in an instance: WAGI and the wasp ABI
 *   server.c    workers (one h2o loop each, SO_REUSEPORT), router,
 *               limits, access log, signals, reload
 *   metrics.c   per-worker counters and histograms, Prometheus text
 *   admin.c     the admin listener: /metrics, /healthz, /readyz
 *   native.c    the native tier's cache: code loaded or compiled and kept
 *
 * Nothing here prints to stdout or exits: errors come back as values with
 * a message naming the file, line, app or route concerned.
 */
#ifndef WASP_SERVER_H
#define WASP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wasm_module;

/* ---- tiers and the native code cache (native.c) ------------------------- */

typedef enum {
    /* Native code without waiting for LLVM: from the cache when it holds
     * the module's entry; else `serve` runs the interpreter while a thread
     * compiles, and instances switch when the code is ready; `run` (a
     * process too short-lived to gain from a compile) runs the
     * interpreter. The default. */
    SRV_TIER_AUTO = 0,
    SRV_TIER_INTERP, /* the interpreter: no compile step */
    SRV_TIER_NATIVE, /* machine code from LLVM before anything runs, cached */
} srv_tier;

/* "auto", "interp" or "native"; false for anything else. */
bool srv_tier_parse(const char *s, srv_tier *out);
const char *srv_tier_name(srv_tier t);

/* Whether a thread is compiling apps' native code in the background (tier
 * auto). The process must then end with _exit: LLVM's static destructors,
 * run by exit(), would pull its state from under the compiling thread. */
bool srv_compiling(void);

/* $XDG_CACHE_HOME/wasp, else $HOME/.cache/wasp, written into buf; NULL
 * when neither variable holds an absolute path. */
const char *srv_cache_default_dir(char *buf, size_t n);

/* Creates the cache directory and its parents as needed, mode 0700 for
 * what it creates; 0 or an errno value. */
int srv_cache_make_dir(const char *dir);

/* The file name of a module's entry in a cache directory: the SHA-256 of
 * its bytes in hex, then "-fuel" for code compiled with WASM_NATIVE_FUEL,
 * then ".wasp-native". */
void srv_native_entry_name(const struct wasm_module *m, uint32_t flags, char name[96]);

/* Writes `bytes` to `path` through a temporary file and a rename; 0 or an
 * errno value. */
int srv_native_write(const char *path, const uint8_t *bytes, size_t len);

typedef struct srv_native_info {
    bool from_cache; /* loaded from an entry: LLVM was not needed */
    bool compiled;   /* compiled in this process */
    bool saved;      /* and written to `path` */
    double ms;       /* what it took */
    char path[4200];
    char note[4400]; /* an entry refused, or the cache not written; "" when all went well */
} srv_native_info;

/* Gives module `m` its native code, compiled with `flags`
 * (WASM_NATIVE_FUEL when its calls have a fuel limit): from `cache_dir`'s
 * entry when one matches, else, when `compile`, compiled, then written
 * there (cache_dir NULL: no cache). False with the reason in err when the
 * module stays interpreted (the tier does not compile something in it
 * yet, LLVM is missing, or no entry matched and !compile); a cache that
 * cannot be read or written is only noted in info->note. Other threads
 * may run instances of `m` meanwhile (wasm_instance_adopt_native). */
bool srv_native_prepare(struct wasm_module *m, const char *cache_dir, uint32_t flags, bool compile,
                        srv_native_info *info, char *err, size_t errlen);

/* ---- manifest ------------------------------------------------------------ */

typedef enum {
    SRV_IFACE_AUTO = 0, /* from the exports: wasp_handle -> WASP, _start -> WAGI */
    SRV_IFACE_WAGI,
    SRV_IFACE_WASP,
    SRV_IFACE_FILTER, /* a pipeline's filter: exports wasp_filter (docs/design/pipe.md) */
    SRV_IFACE_INGEST, /* no module: a pipeline's HTTP ingest route (srv_companion.ingest) */
} srv_iface;

typedef struct srv_dir {
    char *host;  /* resolved against the manifest's directory */
    char *guest; /* the name the guest sees; defaults to the host path as written */
    bool readonly;
} srv_dir;

/* A key-value store the manifest declares (`stores:`); apps are granted
 * stores by name (`kv:`). */
typedef enum { SRV_STORE_SQLITE = 0, SRV_STORE_REDIS } srv_store_backend;

typedef struct srv_store_cfg {
    char *name;
    srv_store_backend backend;
    char *path;        /* sqlite: resolved against the manifest's directory */
    bool durable_full; /* sqlite: `durable: full` */
    char *url;         /* redis: redis://[:password@]host[:port][/db] */
    char *prefix;      /* redis: key prefix, or NULL */
    int line;
} srv_store_cfg;

/* An SQL database the manifest declares (`databases:`); apps are granted
 * databases by name (`sql:`). */
typedef enum { SRV_DB_SQLITE = 0, SRV_DB_POSTGRES } srv_db_backend;

typedef struct srv_db_cfg {
    char *name;
    srv_db_backend backend;
    char *path;                  /* sqlite: resolved against the manifest's directory */
    char *url;                   /* postgres: libpq URI, postgresql://... or postgres://... */
    uint32_t pool_size;          /* 0: the default (8) */
    uint32_t acquire_timeout_ms; /* 0: the default (2000) */
    int line;
} srv_db_cfg;

/* A variable an app may read (`vars:`): a literal, an environment
 * variable of wasp's process, or a secret from the secrets file. */
typedef enum { SRV_VAR_LITERAL = 0, SRV_VAR_ENV, SRV_VAR_SECRET } srv_var_kind;

typedef struct srv_var_cfg {
    char *name;
    srv_var_kind kind;
    char *value; /* the literal, the environment variable's name, or the secret's name */
    int line;
} srv_var_cfg;

typedef struct srv_app_cfg {
    char *name;        /* unique; default: the module's file name without .wasm */
    char *route;       /* as written, e.g. "/hello" or "/api/..." */
    char *route_base;  /* the route without a trailing "/..." ("" for "/...") */
    bool route_prefix; /* written with a trailing "/...": matches route_base and below */
    char *module;      /* path to the .wasm, resolved against the manifest's directory */
    srv_iface iface;
    char **env; /* "KEY=VALUE" strings granted to the guest */
    int nenv;
    srv_dir *dirs;
    int ndirs;
    uint32_t max_memory_pages; /* 64 KiB pages; default SRV_DEFAULT_MEMORY_PAGES */
    uint32_t deadline_ms;      /* wall clock per request; default SRV_DEFAULT_DEADLINE_MS */
    uint32_t cpu_ms;           /* running time per request, waits not counted; 0: none */
    uint64_t fuel;             /* 0: unlimited */
    uint32_t
        max_concurrency; /* requests in flight per worker; default SRV_DEFAULT_MAX_CONCURRENCY */
    uint32_t queue;      /* requests waiting beyond those, per worker; then 503 */
    char *init;          /* export run once at load before the snapshot, or NULL */
    bool tier_set;       /* `tier:` given; else the server's (--tier) */
    srv_tier tier;
    char **kv; /* names of the stores granted (each one in srv_manifest.stores) */
    int nkv;
    srv_var_cfg *vars;
    int nvars;
    char **sql; /* names of the databases granted (each one in srv_manifest.databases) */
    int nsql;
    char **http_allow; /* outbound HTTP: allowed origins "scheme://host[:port]" */
    int nhttp_allow;
    uint32_t http_timeout_ms;   /* 0: the default (10000) */
    uint64_t http_max_response; /* bytes; 0: the default (16 MiB) */
    int line;                   /* where the app starts in the manifest (0: none) */
} srv_app_cfg;

/* A pipeline the manifest declares (`pipelines:`), which `wasp serve` runs
 * beside its apps (pipe/, through srv_companion). The server only reads
 * and checks it: the strings mean what `wasp pipe`'s options mean. */
typedef struct srv_pipeline_cfg {
    char *name;
    char *from; /* "http" (batches POSTed to `route`), a file or glob, or redis://... */
    bool follow;
    char *route;       /* from http: where batches are POSTed (default /pipelines/NAME) */
    char *to;          /* "-" (stdout), a file, redis://..., kv:STORE, http[s]://... */
    char *dead_letter; /* the same; "-": stderr */
    char *format;      /* "lines" or "ndjson" */
    char **filters;    /* names of apps with interface filter, in chain order */
    int nfilters;
    int workers;            /* 0: one per core */
    uint32_t batch_records; /* 0: 1000 */
    int flush_ms;           /* -1: the default (5000 for streams and http, else 0) */
    int line;
} srv_pipeline_cfg;

#define SRV_DEFAULT_MEMORY_PAGES 2048 /* 128 MiB */
#define SRV_DEFAULT_DEADLINE_MS 10000
#define SRV_DEFAULT_MAX_CONCURRENCY 1000
#define SRV_DEFAULT_QUEUE 1000

typedef struct srv_manifest {
    char *path;   /* the manifest file, or NULL when built from one module */
    char *listen; /* "ADDR:PORT" or NULL (the command line or the default decides) */
    char *admin;
    int workers; /* 0: not set */
    srv_app_cfg *apps;
    int napps;
    srv_store_cfg *stores;
    int nstores;
    srv_db_cfg *databases;
    int ndatabases;
    char *secrets_file;     /* `secrets: {file: ...}`, resolved; NULL: none */
    char *secrets_key_file; /* resolved; NULL: use the environment variable */
    char *secrets_key_env;  /* default "WASP_SECRETS_KEY" when a file is set */
    srv_pipeline_cfg *pipelines;
    int npipelines;
    /* set by srv_serve from its options, not read from the file */
    srv_tier tier;                         /* for apps without `tier:` */
    const char *cache_dir;                 /* native code cache; NULL: none */
    const struct srv_companion *companion; /* what answers ingest routes; NULL: none */
} srv_manifest;

/* Reads a manifest (YAML). On error returns NULL and writes
 * "FILE:LINE: what is wrong" into err. Relative paths (module, dirs) are
 * resolved against the manifest's directory. */
srv_manifest *srv_manifest_load(const char *path, char *err, size_t errlen);
/* A manifest of one app serving `module_path` at "/..." (every path). */
srv_manifest *srv_manifest_single(const char *module_path, char *err, size_t errlen);
/* A manifest of `n` filters (interface filter, no route), one app per
 * module path in chain order, named after their files (a name used twice
 * gets "-2", "-3"...), for `wasp pipe`. */
srv_manifest *srv_manifest_filters(const char *const *paths, int n, char *err, size_t errlen);
void srv_manifest_free(srv_manifest *m);

/* ---- module audit (audit.c) ------------------------------------------------ */

typedef enum {
    SRV_CAP_UNUSED = 0, /* nothing imported for it */
    SRV_CAP_ALWAYS,     /* every app has it */
    SRV_CAP_GRANTED,    /* the manifest grants it (srv_audit_cap.granted says what) */
    SRV_CAP_DENIED,     /* imported, and the manifest grants none */
    SRV_CAP_UNCHECKED,  /* imported, and no manifest was given to check */
    SRV_CAP_NEVER,      /* no app can have it (unknown imports, sockets) */
} srv_cap_status;

typedef struct srv_audit_cap {
    const char *name;  /* "kv", "filesystem", ... "unknown" */
    const char *grant; /* the manifest key that grants it, or NULL */
    const char *note;  /* what it is */
    srv_cap_status status;
    int nimports;
    char imports[1024]; /* their names, comma-separated (cut with "...") */
    char granted[512];  /* what the manifest grants of it */
} srv_audit_cap;

typedef enum { SRV_AUDIT_INFO = 0, SRV_AUDIT_WARN, SRV_AUDIT_RISK } srv_audit_level;

typedef struct srv_audit_finding {
    srv_audit_level level;
    char what[300];
} srv_audit_finding;

typedef struct srv_audit {
    const char *app;  /* the manifest's app audited against, or NULL */
    const char *kind; /* what the exports make of it: a handler, a filter, none */
    srv_audit_cap caps[16];
    int ncaps;
    srv_audit_finding *findings;
    int nfindings;
    bool has_names; /* a name section */
    bool denied;    /* a capability it imports is not granted, or an import is unknown */
    bool risky;     /* a finding at SRV_AUDIT_RISK: it will not instantiate as it is */
} srv_audit;

/* Audits validated module `m` (read from module_path): its imports by
 * capability, against what manifest `man`'s app (the one named `app`,
 * else the one whose module is module_path) is granted when man is not
 * NULL, and its risks. False with err when the app is not found. Free
 * with srv_audit_free. */
bool srv_audit_module(const struct wasm_module *m, const char *module_path, const srv_manifest *man,
                      const char *app, srv_audit *a, char *err, size_t errlen);
void srv_audit_free(srv_audit *a);

/* ---- serving ------------------------------------------------------------- */

struct srv_gen;
struct srv_request;
struct srv_response;
struct srv_result;

/* What runs beside the apps of `wasp serve`: the manifest's pipelines
 * (pipe/service.c). The server knows them only through this, so that
 * server/ never calls up into pipe/ (ARCHITECTURE.md); cli/serve.c wires
 * the two together. Every function may be NULL. */
typedef struct srv_companion {
    void *arg;
    /* The first generation is loaded; nothing listens yet. False with err
     * stops serve before it starts. */
    bool (*start)(void *arg, struct srv_gen *g, char *err, size_t errlen);
    /* A reload's generation was published (the reload thread). */
    void (*reload)(void *arg, struct srv_gen *g);
    /* Serving has stopped (in-flight requests drained): finish what was
     * read, acknowledge it, stop. Returns when done. */
    void (*stop)(void *arg);
    /* Prometheus text for /metrics, malloc'd (its length in *len); NULL:
     * none. The admin thread. */
    char *(*metrics)(void *arg, size_t *len);
    /* A request at pipeline `name`'s ingest route, on a worker's fiber (it
     * may wait, with util_waiter); fills resp, or res for a failure. */
    void (*ingest)(void *arg, const char *name, const struct srv_request *req,
                   struct srv_response *resp, struct srv_result *res);
} srv_companion;

/* ---- guest profiles (profile.c) ------------------------------------------ */

/* Samples of the Wasm stacks that guest code runs on, from every thread,
 * kept as a call tree; wasp run --profile and the admin listener's
 * /debug/profile take them. One profile at a time in a process. */
typedef struct srv_profile srv_profile;
typedef enum {
    SRV_PROFILE_TRACE,      /* Chrome trace events (Perfetto, DevTools' Performance panel) */
    SRV_PROFILE_CPUPROFILE, /* Chrome DevTools' .cpuprofile */
    SRV_PROFILE_FOLDED,     /* folded stacks, "outer;inner N" lines for flame graphs */
} srv_profile_format;
/* The default sampling rate, in samples per second of a thread's guest code. */
#define SRV_PROFILE_HZ 1000
/* Starts sampling at `hz` (1 to 1000) the stacks whose innermost frame is
 * in module `only` (NULL: every module). NULL with a message in err when
 * the rate is out of range, memory is short or another profile runs. */
srv_profile *srv_profile_start(unsigned hz, const struct wasm_module *only, char *err,
                               size_t errlen);
/* Stops sampling; the samples stay for srv_profile_render. */
void srv_profile_stop(srv_profile *p);
size_t srv_profile_samples(const srv_profile *p);
/* The profile as text in format f, malloc'd (the caller frees it), its
 * length in *len; NULL when memory is short. */
char *srv_profile_render(srv_profile *p, srv_profile_format f, size_t *len);
/* Stops it if it runs, and frees it. NULL is allowed. */
void srv_profile_free(srv_profile *p);
/* "trace", "cpuprofile" or "folded"; false for anything else. */
bool srv_profile_format_parse(const char *name, srv_profile_format *f);
/* The format a file's name asks for: .folded, .cpuprofile, else a trace. */
srv_profile_format srv_profile_format_of(const char *path);

/* ---- wasp top (top.c) ------------------------------------------------------ */

/* A running server's apps as `wasp top` shows them: samples of its admin
 * listener's /metrics, and rows from two of them. */
#define SRV_TOP_MAX_APPS 64
typedef struct srv_top_sample srv_top_sample;
typedef struct srv_top_row {
    char app[64];
    uint64_t requests;      /* answered, since the server started */
    double rps, error_rate; /* over the interval: requests/s, and the share that were 5xx */
    double p50_ms, p99_ms;  /* over the interval (the lifetime for a first sample); -1: none */
    int64_t in_flight;      /* instances busy with a request */
    uint64_t memory_bytes;  /* linear memory of its instances at rest */
} srv_top_row;
/* GET /metrics from the admin listener at host:port: the body, malloc'd;
 * NULL with a message in err. */
char *srv_top_fetch(const char *host, int port, char *err, size_t errlen);
/* A sample of a /metrics text, taken now; NULL when memory is short. */
srv_top_sample *srv_top_parse(const char *text);
void srv_top_free(srv_top_sample *s);
/* Up to max rows, one per app that serves requests, from the sample
 * `now` and the one `before` it (NULL: none yet); returns how many. */
int srv_top_rows(const srv_top_sample *before, const srv_top_sample *now, srv_top_row *rows,
                 int max);

typedef struct srv_options {
    const char *manifest_path;  /* reloaded on SIGHUP; NULL: serve `single` */
    srv_manifest *single;       /* one-module mode (taken over by srv_serve) */
    const char *listen;         /* "ADDR:PORT"; NULL: the manifest's or 127.0.0.1:8080 */
    const char *admin;          /* "ADDR:PORT" or "off"; NULL: the manifest's or 127.0.0.1:9090 */
    int workers;                /* 0: the manifest's, else one per core */
    int64_t max_connections;    /* 0: 10000 */
    uint64_t max_body;          /* 0: 16 MiB */
    uint64_t max_buffered;      /* 0: 256 MiB, or max_body if larger */
    uint32_t idle_timeout_ms;   /* 0: 10 s from a response to the next request's first byte */
    uint32_t header_timeout_ms; /* 0: 10 s from a request's first byte to its head's end */
    uint32_t body_timeout_ms;   /* 0: 30 s from the head's end to the body's */
    const char *access_log;     /* path, "-" (stderr, the default) or "off" */
    uint64_t drain_timeout_ms;  /* 0: 30 s for in-flight requests after SIGTERM */
    uint32_t time_slice_ms;     /* 0: 10 ms, how long a handler runs before it yields */
    srv_tier tier;              /* for apps whose manifest entry has no `tier:` */
    const char *cache_dir;      /* native code cache directory; NULL: none */
    const srv_companion *companion; /* the manifest's pipelines; NULL: none (refused) */
    bool dev;                /* development: a trap's message and backtrace in the 500's body */
    bool log_json;           /* access-log lines and events as JSON objects, not logfmt */
    uint64_t drain_delay_ms; /* after SIGTERM, /readyz fails this long before the drain */
} srv_options;

/* Serves until SIGTERM or SIGINT, then drains and returns 0: listeners
 * close at once, in-flight requests get drain_timeout_ms to finish, then
 * those still running are ended (504) and the process goes on exiting. SIGHUP
 * reloads the manifest (or the module) on a thread of its own and swaps
 * it in atomically; a reload that fails is logged and the running version
 * stays; SIGTERM during a reload is acted on at once (the reload is
 * abandoned). Returns -1
 * with a message in err when serving cannot start (bad manifest, module
 * that does not load, busy port). Prints the listening addresses and apps
 * to stderr. Blocks SIGTERM, SIGINT, SIGHUP and SIGPIPE in the calling
 * thread: call it from the main thread before any other thread exists. */
int srv_serve(const srv_options *opts, char *err, size_t errlen);

#endif
