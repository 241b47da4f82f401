/*
 * internal.h - what the files of src/server/ share with each other only.
 *
 * The shape of a request's trip:
 *
 *   http.c (a worker's h2o loop) --srv_request--> route (app.c) -> slot
 *   (handler.c: instance from the app's snapshot, WAGI or wasp ABI, limits)
 *   --srv_response--> http.c sends it, logs it (log.c), counts it
 *   (metrics.c), and resets the instance.
 *
 * A generation (srv_gen) is one loaded manifest: its apps, their modules
 * and snapshots. It is immutable and reference-counted; a reload builds a
 * new one and workers move to it between requests. Everything a worker
 * touches per request (slots, stats, log buffer) is its own: no lock on
 * the request path.
 */
#ifndef WASP_SERVER_INTERNAL_H
#define WASP_SERVER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/server.h"
#include "wasi/wasi.h"
#include "wasm/wasm.h"

/* ---- apps and generations (app.c) ---------------------------------------- */

typedef struct srv_app {
    const srv_app_cfg *cfg; /* in the generation's manifest */
    const char *name;       /* interned (srv_intern): outlives the generation */
    srv_iface iface;        /* resolved from the exports when AUTO */
    uint8_t *bytes;         /* the module file; the module points into it */
    wasm_module *module;
    wasm_snapshot *snap;          /* after _initialize and the init export */
    const char *tier;             /* how its code runs, for the log: "interp", "native", ... */
    bool compile_later;           /* tier auto, no cached code: compile in the background */
    uint32_t native_flags;        /* WASM_NATIVE_* for its code */
    const srv_store_cfg **stores; /* the stores granted (cfg->kv), in that order */
    int nstores;
    char **var_values;              /* cfg->vars resolved (secrets too: wiped when unloaded) */
    bool flushes;                   /* a filter that exports wasp_filter_flush */
    const srv_companion *companion; /* SRV_IFACE_INGEST: who answers (the manifest's) */
    struct host_sql_db **dbs;       /* the databases granted (cfg->sql), pools owned by the gen */
    int ndbs;
} srv_app;

typedef struct srv_gen {
    srv_manifest *manifest;     /* owned */
    struct host_sql_db **pools; /* one per manifest database, shared by its apps and workers */
    srv_app *apps;
    int napps;
    int *by_route; /* app indices, longest route first */
    atomic_int refs;
    uint64_t id; /* 1, 2, ... in load order */
} srv_gen;

/* Loads every app of `m` (which the generation takes over, also on
 * failure): reads and loads each module, picks its interface, runs
 * `_initialize` and the init export once, takes the snapshot. NULL with
 * "app NAME (FILE:LINE): reason" in err. The result holds one reference. */
srv_gen *srv_gen_load(srv_manifest *m, uint64_t id, char *err, size_t errlen);
void srv_gen_ref(srv_gen *g);
void srv_gen_unref(srv_gen *g);
/* The app whose route matches `path` (no query), longest route first;
 * -1 when none does. */
int srv_route(const srv_gen *g, const char *path, size_t len);

/* A stable copy of `s` that lives until exit: app names, for metrics that
 * outlive reloads. Thread-safe. srv_intern_list gives them all, at most
 * SRV_MAX_INTERNED (room for apps renamed across a few reloads). */
#define SRV_MAX_INTERNED (SRV_MAX_APPS * 4)
const char *srv_intern(const char *s);
int srv_intern_list(const char **out, int max);

/* ---- one request in one instance (handler.c) ------------------------------ */

typedef struct srv_header {
    const char *name, *value;
    size_t name_len, value_len;
} srv_header;

typedef struct srv_response srv_response;

typedef struct srv_request {
    const char *method, *uri, *path, *query; /* uri = path ["?" query] as received */
    size_t method_len, uri_len, path_len, query_len;
    const srv_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    const char *remote_addr; /* numeric */
    int remote_port;
    const char *server_addr;
    int server_port;
    const char *id;       /* "WORKER-N": names the request in every log line */
    struct srv_log *log;  /* the worker's log, for the guest's own lines */
    uint32_t deadline_ms; /* what is left of the app's deadline (0: all of it) */
    /* the W3C traceparent the request came with, checked and normalised
     * (srv_traceparent_parse); NULL: none. Outbound HTTP passes it on. */
    const char *traceparent;
    /* Sends data as the next part of a streamed response (the status and
     * headers of resp go with the first part) and returns once the client
     * has taken it, so a handler writing more than it can hold goes out
     * with bounded memory; false when it cannot (the client went away,
     * the deadline came). NULL: the response is sent whole at the end. */
    bool (*stream)(void *arg, const srv_response *resp, const uint8_t *data, size_t len);
    void *stream_arg;
} srv_request;

#define SRV_MAX_RESPONSE (16u << 20)
/* A handler's body past this much is streamed (srv_request.stream). */
#define SRV_STREAM_CHUNK (64u << 10)
/* WAGI stdout: the body's cap and room for headers. Output that reaches it
 * was cut (writes past it fail) and gives 502. */
#define SRV_MAX_WAGI_OUTPUT (SRV_MAX_RESPONSE + 65536u)

struct srv_response {
    int status;
    char *hbuf; /* header names and values, back to back */
    size_t hlen, hcap;
    uint32_t (*hoff)[4]; /* name offset, name length, value offset, value length */
    size_t nhdrs, hoffcap;
    const uint8_t *body; /* into `own` (wasp ABI) or WASI's captured stdout (WAGI) */
    size_t body_len;
    uint8_t *own;
    size_t own_len, own_cap;
};

typedef enum {
    SRV_OK = 0,
    SRV_TRAP,       /* 500: the guest trapped (or exited non-zero) */
    SRV_DEADLINE,   /* 504 */
    SRV_BADGATEWAY, /* 502: WAGI output that is not CGI */
    SRV_INTERNAL,   /* 500: wasp could not make an instance */
} srv_outcome;

typedef struct srv_result {
    srv_outcome outcome;
    wasm_trap_code trap;   /* SRV_TRAP, SRV_DEADLINE: which (WASM_TRAP_EXIT: exit code != 0) */
    char msg[200];         /* the trap or error, for the log */
    char backtrace[600];   /* a trap's Wasm stack, innermost first; "" when none */
    const char *trace_id;  /* the request's W3C trace id, for the log; NULL: none */
    uint64_t ready_ns;     /* time to get a clean instance */
    const uint8_t *errout; /* the guest's stderr, for the log */
    size_t errout_len;
} srv_result;

/* One request's execution state in one worker: a linker whose host
 * functions are bound to this slot, a WASI context reused per request, the
 * instance, and the response buffer. A request keeps its slot until it
 * finishes, waits included; a worker has as many per app as it has
 * requests in flight for it (pool.c). */
typedef struct srv_slot srv_slot;

srv_slot *srv_slot_new(const srv_app *app, char *err, size_t errlen);
void srv_slot_free(srv_slot *s);
/* The slot's linker: what an instance of its app is linked against. */
const wasm_linker *srv_slot_linker(const srv_slot *s);
/* Runs `req` in a clean instance, fills `resp` (valid until the next
 * srv_slot_run or srv_slot_recycle on this slot) and `res`. */
void srv_slot_run(srv_slot *s, const srv_request *req, srv_response *resp, srv_result *res);
/* ---- batches of records through a filter (handler.c; docs/design/pipe.md) - */

/* A record of a batch: offsets into the batch's bytes. */
typedef struct srv_rec {
    uint32_t value, value_len;
    uint32_t key, key_len; /* key_len SRV_NO_KEY: no key */
    int64_t ts_ms;         /* SRV_NO_TS: no timestamp */
} srv_rec;

#define SRV_NO_KEY UINT32_MAX
#define SRV_NO_TS INT64_MIN

typedef struct srv_batch {
    srv_rec *recs;
    size_t n, cap;
    uint8_t *bytes;
    size_t len, bcap;
} srv_batch;

/* Appends a record (key NULL: none); false when out of memory or past
 * 4 GiB of bytes. */
bool srv_batch_add(srv_batch *b, const void *value, size_t value_len, const void *key,
                   size_t key_len, int64_t ts_ms);
/* Empties b, keeping its buffers. */
void srv_batch_clear(srv_batch *b);
void srv_batch_free(srv_batch *b);

/* Runs filter app s's wasp_filter over `in` in a clean instance and
 * appends what it emits to `out`, at most max_out bytes (emit returns -1
 * to the guest past it). res as for srv_slot_run: SRV_OK, SRV_TRAP (a
 * trap, a non-zero return, no room for the batch in guest memory),
 * SRV_DEADLINE, SRV_INTERNAL. Recycle the slot after. */
void srv_slot_filter(srv_slot *s, const srv_batch *in, srv_batch *out, uint64_t max_out,
                     srv_result *res);
/* Calls filter app s's wasp_filter_flush(now_ms) in a clean instance, if
 * it exports one (else SRV_OK and nothing), appending what it emits to
 * `out`; res as for srv_slot_filter. Recycle the slot after. */
void srv_slot_flush(srv_slot *s, int64_t now_ms, srv_batch *out, uint64_t max_out, srv_result *res);
/* Puts the instance back into the snapshot's state for the next request;
 * called after the response was handed to the socket. Returns the time it
 * took in ns. */
uint64_t srv_slot_recycle(srv_slot *s);
/* What a request did to its instance's memory, found when it is recycled. */
typedef struct srv_slot_mem {
    uint64_t bytes;       /* linear memory at the request's end: its high-water */
    uint64_t rest_bytes;  /* ... and after the reset (the snapshot's) */
    uint64_t pages_reset; /* 4 KiB pages the request wrote, restored or dropped */
    uint64_t host_bytes;  /* host-side buffers the slot holds for its requests (response,
                             headers, WAGI's environment), as this one left them */
} srv_slot_mem;
/* srv_slot_recycle, with *mem filled (zeros when nothing ran). */
uint64_t srv_slot_recycle_counted(srv_slot *s, srv_slot_mem *mem);
/* The slot's response buffer (srv_slot_run fills it). */
srv_response *srv_slot_response(srv_slot *s);
/* Makes the call running in the slot stop (wasm_interrupt), from the
 * worker's thread or any other. */
void srv_slot_interrupt(srv_slot *s);
/* Makes the slot's instance now rather than at its first request. */
bool srv_slot_warm(srv_slot *s, char *err, size_t errlen);
/* 1 when an idle instance is ready, else 0. */
int srv_slot_idle(const srv_slot *s);

/* ---- an app's instances on one worker (pool.c) ------------------------------ */

/* A worker's share of one generation: a pool of slots per app. */
typedef struct srv_wgen srv_wgen;
/* A share with empty pools; takes a reference on g. NULL when out of
 * memory. */
srv_wgen *srv_wgen_new(srv_gen *g);
srv_gen *srv_wgen_gen(const srv_wgen *wg);
/* A slot of app `ai` for one request: an idle one, or a new one (*made).
 * NULL with err when a new one cannot be made. */
srv_slot *srv_wgen_take(srv_wgen *wg, int ai, bool *made, char *err, size_t errlen);
/* Gives back a slot taken from wg, already recycled (freed when wg is
 * retired: the caller then calls srv_wgen_retire again). */
void srv_wgen_give(srv_wgen *wg, int ai, srv_slot *s);
/* Makes sure app `ai` has a slot with an instance ready; false with err. */
bool srv_wgen_warm(srv_wgen *wg, int ai, char *err, size_t errlen);
/* Frees the slots of app `ai` that stayed idle since the last trim (one
 * is kept); how many. */
int srv_wgen_trim(srv_wgen *wg, int ai);
int srv_wgen_idle(const srv_wgen *wg, int ai);
int srv_wgen_busy(const srv_wgen *wg, int ai);
/* The worker has moved on: frees wg now, or when its last busy slot is
 * given back and its queues are empty. */
void srv_wgen_retire(srv_wgen *wg);
bool srv_wgen_retired(const srv_wgen *wg);
/* Requests waiting for a slot of app `ai` (its max_concurrency reached),
 * oldest first: the caller embeds the link in its own struct. */
typedef struct srv_queued {
    struct srv_queued *next;
} srv_queued;
void srv_wgen_enqueue(srv_wgen *wg, int ai, srv_queued *q);
srv_queued *srv_wgen_dequeue(srv_wgen *wg, int ai); /* NULL when none */
void srv_wgen_unqueue(srv_wgen *wg, int ai, srv_queued *q);
int srv_wgen_queued(const srv_wgen *wg, int ai);
/* Guards the loop that starts queued requests, which a request finishing
 * inside it would otherwise enter again: false when already in it. */
bool srv_wgen_serve_begin(srv_wgen *wg, int ai);
void srv_wgen_serve_end(srv_wgen *wg, int ai);

/* ---- requests that wait (sched.c) ------------------------------------------ */

/* A worker's scheduler: runs each request's guest call on a fiber, and
 * suspends it where host code waits (util_poll) until the worker's loop
 * sees its descriptors ready or its time come. One per worker thread,
 * made on that thread (it installs the thread's poller). */
typedef struct srv_sched srv_sched;
typedef struct srv_task srv_task;
typedef void (*srv_task_fn)(void *arg);

srv_sched *srv_sched_new(char *err, size_t errlen);
void srv_sched_free(srv_sched *s);
/* Gives the guest calls of tasks spawned from now on a time slice (see
 * wasm_fiber_set_slice): a busy handler yields to the worker's other
 * requests every `ms` milliseconds. 0: none. */
void srv_sched_set_slice(srv_sched *s, uint32_t ms);
/* The descriptor the worker's loop watches for reading; when it is
 * readable, call srv_sched_poll. */
int srv_sched_fd(const srv_sched *s);
/* Resumes the tasks whose waits are over (each until it waits again or
 * finishes). */
void srv_sched_poll(srv_sched *s);
/* A task's budget of running time (the time its fiber runs; its waits
 * do not count): once the task has run `ns` in all, over(arg) runs once,
 * on the worker's stack, at the end of the step that used it up. A busy
 * task's steps end at its time slice, so a budget is kept to within one
 * slice. */
typedef struct srv_task_budget {
    uint64_t ns;
    srv_task_fn over;
} srv_task_budget;
/* Runs fn(arg) on a fiber until it finishes or waits; when it finishes,
 * now or later, done(arg) runs on the worker's stack. *out receives the
 * task before fn starts; it is valid until done returns. `budget` may be
 * NULL (no budget: the steps are not timed). False with err when no
 * fiber can be had (fn then never runs, nor done). */
bool srv_sched_spawn(srv_sched *s, srv_task_fn fn, srv_task_fn done, void *arg,
                     const srv_task_budget *budget, srv_task **out, char *err, size_t errlen);
/* Ends the task's current wait early, and any later one at once: the
 * caller has made its guest call stop (wasm_interrupt). With `now`, and
 * when called from the worker's stack, the task runs at once (to its end,
 * as a stopped call does); otherwise at the next srv_sched_poll. */
void srv_sched_wake(srv_sched *s, srv_task *t, bool now);
/* From a task's fiber, just before it suspends: fn(arg) runs on the
 * worker's own stack once the task has suspended (what must not run on a
 * fiber: calls into h2o). fn NULL withdraws it (the task did not suspend). */
void srv_sched_after_suspend(srv_sched *s, srv_task_fn fn, void *arg);
/* A watch on a descriptor for its peer's hang-up (EPOLLRDHUP, or an
 * error): fn(arg) runs once from srv_sched_poll, the watch then disarmed.
 * Watching again while armed only changes fn and arg (no system call), so
 * a connection's watch can stay from one request to the next. The caller
 * owns the struct (zeroed at first); unwatch before freeing it. */
typedef struct srv_watch {
    int kind; /* the scheduler's */
    int fd;
    srv_task_fn fn;
    void *arg;
    bool armed;
} srv_watch;
bool srv_sched_watch_hangup(srv_sched *s, srv_watch *w, int fd, srv_task_fn fn, void *arg);
void srv_sched_unwatch(srv_sched *s, srv_watch *w);
/* Tasks suspended in a wait. */
size_t srv_sched_suspended(const srv_sched *s);
/* Runs the work deferred to the end of this turn of the worker's loop
 * (util_defer); call it before each wait for events. True when some was
 * deferred again: the next wait should be short. */
bool srv_sched_run_deferred(srv_sched *s);

/* ---- capabilities (caps.c) ------------------------------------------------- */

/* An app's capabilities in one slot: its store connections (opened on
 * first use) and the state of the current request's calls. */
typedef struct srv_caps srv_caps;

srv_caps *srv_caps_new(const srv_app *app);
void srv_caps_free(srv_caps *c);
/* Decodes sql_exec's parameters, bytes the guest wrote: u32 count, then
 * per value u8 type and INT i64 / FLOAT f64 / TEXT, BLOB u32 length +
 * bytes / NULL nothing, little-endian (the result encoding of host.h).
 * TEXT and BLOB values point into p. False, with nothing to free, when the
 * bytes are malformed: an unknown type, a length past the end, more than
 * `max` values, or bytes left over. */
struct host_sql_value;
bool srv_sql_params_decode(const uint8_t *p, size_t len, struct host_sql_value *out, size_t max,
                           size_t *count);

/* Defines the capability imports ("wasp" module) in `l`, bound to `c`. */
bool srv_caps_link(srv_caps *c, wasm_linker *l, wasm_error *err);
void srv_caps_begin(srv_caps *c, const srv_request *req);
void srv_caps_end(srv_caps *c);

/* Runs the app's _initialize and init export in a fresh instance and
 * snapshots it (app.c calls this while loading). */
wasm_snapshot *srv_app_snapshot(const srv_app *app, char *err, size_t errlen);

/* Splits a WAGI module's stdout into status, headers and body (body
 * points into `out`). False with a reason in `why` when it is not CGI: no
 * blank line, a malformed header line, a Status that is not three digits
 * 200..599 (and an optional reason phrase), or a header that cannot be
 * sent (a value with a control character). Headers the server owns
 * (Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade,
 * Date, Server) are dropped. The bytes are the guest's: anything may come. */
bool srv_cgi_parse(const uint8_t *out, size_t len, srv_response *resp, char *why, size_t whylen);

void srv_response_init(srv_response *r);
void srv_response_clear(srv_response *r);
void srv_response_free(srv_response *r);
bool srv_response_add_header(srv_response *r, const char *name, size_t nlen, const char *value,
                             size_t vlen);

/* ---- metrics (metrics.c) -------------------------------------------------- */

#define SRV_HIST_BUCKETS 14
#define SRV_MAX_APPS 256
#define SRV_NTRAPS 32

typedef struct srv_hist {
    _Atomic uint64_t count, sum_ns, buckets[SRV_HIST_BUCKETS];
} srv_hist;

typedef struct srv_app_stats {
    const char *name; /* interned; NULL: slot unused */
    _Atomic uint64_t by_status[600];
    _Atomic uint64_t traps[SRV_NTRAPS]; /* by wasm_trap_code */
    srv_hist duration;
    _Atomic int64_t pool_idle, pool_busy; /* this worker's instances of the app */
    _Atomic uint64_t cancelled;           /* requests whose client left before the answer */
    _Atomic uint64_t overloaded;          /* 503: max_concurrency and the queue were full */
    _Atomic int64_t queued;               /* requests waiting for an instance */
    /* linear memory (srv_slot_mem): an instance's at rest; the largest a
     * request ended with; the sum and count of requests' high-waters; the
     * 4 KiB pages requests wrote and the resets restored */
    _Atomic uint64_t mem_rest, mem_peak, mem_req_sum, mem_req_count, pages_reset;
    _Atomic uint64_t host_peak;    /* the most host buffer bytes a slot held after a request */
    struct srv_app_traces *traces; /* its requests' timelines (trace.c); NULL until one ends */
} srv_app_stats;

/* One worker's counters: written by that worker only, read by the admin
 * thread with relaxed atomics. */
typedef struct srv_stats {
    srv_app_stats apps[SRV_MAX_APPS];
    srv_hist instantiate;
    _Atomic int64_t connections;
    _Atomic int64_t in_flight;    /* requests whose handler runs or waits */
    _Atomic int64_t waiting;      /* of those, suspended in a wait */
    _Atomic uint64_t timeouts[3]; /* connections closed by a phase's timeout (srv_phase) */
} srv_stats;

/* Counting by a stat's only writer: a relaxed load and store, not a locked
 * read-modify-write, since no other thread writes it. */
static inline void srv_count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline void srv_gauge(_Atomic int64_t *g, int64_t n) {
    atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

srv_app_stats *srv_stats_app(srv_stats *st, const char *interned_name);
/* Frees a worker's stats with what they hold (timelines). NULL is allowed. */
void srv_stats_free(srv_stats *st);
void srv_hist_add(srv_hist *h, uint64_t ns);
/* ---- numeric socket addresses (addr.c) --------------------------------------- */

struct sockaddr_storage;
/* host (a numeric IPv4 or IPv6 address) and port into *ss: the address's
 * length, or 0 with a message in err. */
socklen_t srv_sockaddr(const char *host, int port, struct sockaddr_storage *ss, char *err,
                       size_t errlen);

/* ---- request timelines and trace context (trace.c) ------------------------ */

/* One span of a request's timeline: a phase ("queued", "instance",
 * "handler") or a host call (its import's name; cat "wasp" or "wasi"). */
typedef struct srv_span {
    char name[24], cat[12];
    uint64_t start_ns, ns; /* CLOCK_MONOTONIC */
    int64_t result;        /* a host call's first result */
    int trap;              /* a host call's wasm_trap_code */
} srv_span;

#define SRV_SPANS_MAX 64
#define SRV_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */

typedef struct srv_timeline {
    char id[32], method[12], path[120];
    char trace_id[33]; /* from the request's traceparent; "" when none */
    int status;
    uint64_t t0_ns, total_ns;
    uint32_t nspans, dropped; /* dropped: spans past SRV_SPANS_MAX */
    srv_span spans[SRV_SPANS_MAX];
} srv_timeline;

/* Appends a span (counts it as dropped when the timeline is full). */
void srv_timeline_span(srv_timeline *t, const char *cat, const char *name, size_t name_len,
                       uint64_t start_ns, uint64_t ns, int64_t result, int trap);
/* The engine's host-call observer (wasm_observe_host_calls): arg is the
 * timeline. */
void srv_timeline_observe(void *arg, const wasm_host_call *c);
/* Keeps a copy of a finished request's timeline among the app's latest and,
 * if it is among them, slowest (per worker; the admin thread reads them). */
void srv_traces_add(srv_app_stats *as, const srv_timeline *t);
void srv_traces_free(srv_app_stats *as);
/* GET /debug/requests: the `count` latest (or slowest) requests of `app`
 * over the workers, as JSON or Chrome trace events. malloc'd; NULL when
 * memory is short. */
char *srv_traces_render(srv_stats *const *workers, int n, const char *app, bool slowest,
                        unsigned count, bool chrome, size_t *len);
/* Checks a traceparent header value v[0, n) (W3C Trace Context, level 1)
 * and writes its first four fields, normalised, to out. */
bool srv_traceparent_parse(const char *v, size_t n, char out[SRV_TRACEPARENT_LEN + 1]);
/* The traceparent for a request this server makes on behalf of `parent`:
 * the same trace and flags, a new span id. */
void srv_traceparent_child(const char *parent, char out[SRV_TRACEPARENT_LEN + 1]);

/* ---- the admin listener's /debug endpoints (debug.c) ---------------------- */

/* An answer for the admin listener to send: body malloc'd (the sender
 * frees it), type a constant. */
typedef struct srv_debug_answer {
    int status;
    const char *type;
    char *body;
    size_t len;
} srv_debug_answer;

/* A profile being taken for GET /debug/profile. */
typedef struct srv_profile_job srv_profile_job;
/* Starts the profile that query q[0, n) asks for (app=, seconds=, format=,
 * hz=) over `gen`'s apps, taking over a reference on gen; *seconds: how
 * long to let it run. NULL with the refusal in *a (400, 404, 409). */
srv_profile_job *srv_debug_profile_start(const char *q, size_t n, srv_gen *gen, unsigned *seconds,
                                         srv_debug_answer *a);
/* GET /debug/requests?app=NAME&which=latest|slowest&n=N&format=json|trace:
 * the app's request timelines over the workers' stores into *a; takes
 * over a reference on gen (whose apps are named). */
void srv_debug_requests(const char *q, size_t n, srv_gen *gen, srv_stats *const *ws, int nw,
                        srv_debug_answer *a);
/* Stops it, renders the answer into *a, and frees the job. */
void srv_debug_profile_finish(srv_profile_job *j, srv_debug_answer *a);
/* Stops it and frees the job: nobody is waiting for it any more. */
void srv_debug_profile_cancel(srv_profile_job *j);

/* Text built by appending, in a malloc'd buffer (zero it to start; free
 * buf after): Prometheus text. Out of memory sets `failed` and drops the
 * rest. */
typedef struct srv_text {
    char *buf;
    size_t len, cap;
    bool failed;
} srv_text;
void srv_text_put(srv_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string: names and paths come from modules and
 * clients, anything may be in them; bytes outside printable ASCII are
 * written as \u00XX. */
void srv_text_json(srv_text *t, const char *s);
/* Appends h as a Prometheus histogram (METRIC_bucket{LABELS,le=...},
 * _sum, _count). */
void srv_hist_format(srv_text *t, const char *metric, const char *labels, const srv_hist *h);
/* Prometheus text for all workers' stats, the reload count and the request
 * body bytes held (http.c's budget), into a malloc'd buffer. */
/* GET /debug/memory: per app, its instances' linear memory at rest, the
 * peak and average high-water of a request, the pages requests wrote; the
 * process's resident memory. JSON, malloc'd; NULL when memory is short. */
char *srv_memory_render(srv_stats *const *workers, int n, size_t *len);
char *srv_metrics_render(srv_stats *const *workers, int n, uint64_t reloads, int64_t bodies_held,
                         size_t *len);

/* ---- access log (log.c) --------------------------------------------------- */

typedef struct srv_log { /* (log.c) */
    int fd;              /* -1: off */
    char *buf;
    size_t len, cap;
    uint64_t last_flush_ns;
} srv_log;

void srv_log_init(srv_log *l, int fd);
/* Lines are logfmt (key=value) unless JSON was chosen, for the whole
 * process, before any line (wasp serve --log-format json): one object a
 * line. A line is srv_log_begin (its time), fields, srv_log_end. */
void srv_log_set_json(bool json);
/* Where srv_event writes (default 2, stderr); set before any event. */
void srv_log_set_event_fd(int fd);
bool srv_log_is_json(void);
/* Starts a line with its time: ts=<UTC to the millisecond> (JSON: {"ts":...). */
void srv_log_begin(srv_log *l);
/* A field whose value is text (quoted and escaped as needed). */
void srv_log_str(srv_log *l, const char *key, const char *s, size_t len);
/* A field whose value is a number. */
void srv_log_num(srv_log *l, const char *key, long long v);
void srv_log_end(srv_log *l);
/* Writes out what is buffered when it is large or older than 100 ms
 * (force: always). One write per flush, under a process-wide lock, so
 * lines of different workers never interleave. */
void srv_log_flush(srv_log *l, bool force);
void srv_log_free(srv_log *l);
/* A line straight to stderr, for server events (start, reload, errors). */
void srv_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t srv_now_ns(void);

/* ---- request framing and target checks (framing.c) ------------------------ */

/* What srv_framing_feed found at the point where it stopped. */
typedef enum {
    SRV_FRAME_MORE = 0, /* nothing yet: every byte given was taken */
    SRV_FRAME_HEAD,     /* request `req`'s head ended: `chunked`, or `length` body bytes follow */
    SRV_FRAME_DATA,     /* *data more body bytes of request `req` (decoded, for chunked) */
    SRV_FRAME_BAD,      /* request `req`'s framing is refused (`why`); sticky */
} srv_frame_event;

/* A strict reader of the HTTP/1.1 request framing on one connection: where
 * each request's head ends, its body's length (Content-Length, or chunked
 * per RFC 9112 7.1 with CR LF line ends only), where the next request
 * starts. It refuses (SRV_FRAME_BAD) what RFC 9112 calls ambiguous or
 * faulty framing and what h2o would read leniently: Content-Length with
 * Transfer-Encoding, repeated Content-Length or Transfer-Encoding, a
 * Transfer-Encoding other than "chunked" or in an HTTP/1.0 request, a
 * malformed Content-Length or chunk size ("0x5"), bare LF or CR, control
 * characters, obs-fold lines in the head or the trailers. Plain data: zero
 * it (srv_framing_init) per connection; no allocation. */
typedef struct srv_framing {
    int state;
    bool skipped;    /* the one empty line allowed before a request was seen */
    bool http10;     /* the request line says HTTP/1.0 */
    bool chunked;    /* SRV_FRAME_HEAD: the body is chunked */
    uint64_t req;    /* the request being read: 1 for the connection's first */
    uint64_t length; /* SRV_FRAME_HEAD: the Content-Length (0: none, or chunked) */
    uint64_t left;   /* body bytes left of the Content-Length or the chunk */
    uint64_t body;   /* body bytes of this request so far */
    uint32_t nlines; /* head lines so far */
    uint8_t hex;     /* digits of the chunk size so far */
    int ncl, nte;    /* Content-Length and Transfer-Encoding lines */
    size_t line_len; /* of the head line being read (only its start is kept) */
    char line[160];
    uint8_t tail_len; /* the request line's last bytes (its version) */
    char tail[16];
    char method[16], target[128]; /* the request line's, cut, for logs */
    const char *why;              /* SRV_FRAME_BAD: what was refused (static text) */
} srv_framing;

void srv_framing_init(srv_framing *f);
/* Reads p[0, n) on from where the last call stopped and returns how many
 * bytes it took: all of them with SRV_FRAME_MORE, else it stops right after
 * the byte that makes the event, so the caller handles it and calls again
 * with the rest. After SRV_FRAME_BAD every call takes everything and says
 * SRV_FRAME_BAD again. */
size_t srv_framing_feed(srv_framing *f, const uint8_t *p, size_t n, srv_frame_event *ev,
                        uint64_t *data);

/* NULL when the request target's path (up to '?') can be routed on its
 * percent-decoded form, else why not: a '.' or '..' segment (raw or
 * encoded), an encoded '/' or an encoded NUL. Either would let the decoded
 * path, which picks the app, differ in its segments from the raw one the
 * handler sees ("/w/..%2F..%2Fhello"). */
const char *srv_path_check(const char *target, size_t len);

/* Where the bytes read so far leave the connection: between requests,
 * in a request's head, or in its body. */
typedef enum { SRV_PHASE_IDLE = 0, SRV_PHASE_HEAD, SRV_PHASE_BODY } srv_phase;
srv_phase srv_framing_phase(const srv_framing *f);

/* ---- the HTTP front end (http.c, the only file that includes h2o) -------- */

typedef struct srv_http_config {
    const char *listen_host; /* numeric address */
    int listen_port;         /* 0: any free port (srv_http_port says which) */
    const char *admin_host;  /* NULL: no admin listener */
    int admin_port;
    int workers;
    int64_t max_connections;
    size_t max_body;
    uint64_t max_buffered; /* request body bytes held at once, all connections (0: 256 MiB,
                            * or max_body if larger) */
    /* deadlines for each phase of reading a request (http.c, "phases") */
    uint32_t idle_timeout_ms, header_timeout_ms, body_timeout_ms;
    uint32_t time_slice_ms;         /* a busy handler yields to its worker's others this often */
    int log_fd;                     /* -1: no access log */
    const srv_companion *companion; /* its metrics follow the server's; NULL: none */
    bool dev;                       /* a failed handler's 500 says why, with the Wasm backtrace */
} srv_http_config;

typedef struct srv_http srv_http;

/* Binds every socket (errors such as a busy port come back here, before
 * any thread starts), then starts the workers and the admin thread,
 * serving `gen` (whose reference it takes on success). */
srv_http *srv_http_start(const srv_http_config *cfg, srv_gen *gen, char *err, size_t errlen);
/* From now on /readyz answers 503; requests are still served. */
void srv_http_unready(srv_http *h);
/* The port actually bound (of the admin listener when `admin`). */
int srv_http_port(const srv_http *h, bool admin);
/* Makes `g` (its reference taken) the generation new requests use. */
void srv_http_publish(srv_http *h, srv_gen *g);
/* Stops accepting, lets every in-flight request finish and its response
 * go out (within 30 s), joins the threads and frees everything. */
void srv_http_stop(srv_http *h);

#endif
