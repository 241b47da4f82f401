/*
 * profile.c - the guest profiler: samples of the Wasm stack, collected
 * from every thread that runs guest code, into a call tree, written as a
 * Chrome DevTools .cpuprofile, a Chrome trace (Perfetto, DevTools'
 * Performance panel) or folded stacks for flame graphs.
 *
 * The engine takes the samples (wasm_profile_start: at its check points,
 * on the guest's own thread); this file keeps them. A sample becomes a
 * path in the call tree, outermost frame first, and a record of its leaf,
 * time and thread: the tree is the .cpuprofile's nodes, the records its
 * samples, and per thread the records in time order give the trace's
 * begin and end events. `wasp run --profile` and the admin listener's
 * /debug/profile both use it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/internal.h"

/* Past this many samples (about 17 minutes of one busy thread at the
 * default rate) more are counted as dropped, not kept. */
#define MAX_SAMPLES 1000000u

typedef struct node {
    uint32_t parent; /* 0: the root's children have the root (node 0) */
    uint32_t func;
    const wasm_module *module;
    uint32_t self, total; /* samples with this node as leaf, and under it */
} node;

typedef struct sample {
    uint64_t us; /* since the profile started */
    uint32_t leaf;
    uint32_t thread;
} sample;

struct srv_profile {
    pthread_mutex_t lock;
    const wasm_module *only; /* NULL: every module */
    uint32_t period_ms;
    bool running;
    uint64_t t0_us, t1_us;
    node *nodes;
    uint32_t nnodes, cap_nodes;
    /* (parent, module, func) -> node: open addressing, 0 is empty */
    uint32_t *slots;
    uint32_t nslots;
    sample *samples;
    uint32_t nsamples, cap_samples;
    uint64_t dropped;
};

static _Atomic uint32_t next_thread = 1;
static _Thread_local uint32_t thread_no;

static uint64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static uint32_t hash3(uint32_t parent, const wasm_module *m, uint32_t func) {
    uint64_t h = ((uint64_t)parent * 0x9E3779B97F4A7C15ull) ^
                 ((uintptr_t)m * 0xC2B2AE3D27D4EB4Full) ^ ((uint64_t)func * 0x165667B19E3779F9ull);
    return (uint32_t)(h ^ (h >> 29));
}

static bool grow_slots(srv_profile *p) {
    uint32_t n = p->nslots ? p->nslots * 2 : 1024;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s) return false;
    for (uint32_t i = 1; i < p->nnodes; i++) {
        const node *d = &p->nodes[i];
        uint32_t k = hash3(d->parent, d->module, d->func) & (n - 1);
        while (s[k])
            k = (k + 1) & (n - 1);
        s[k] = i;
    }
    free(p->slots);
    p->slots = s;
    p->nslots = n;
    return true;
}

/* The child of `parent` for (m, func), made when new; 0 when out of memory. */
static uint32_t child(srv_profile *p, uint32_t parent, const wasm_module *m, uint32_t func) {
    if (p->nnodes * 2 >= p->nslots && !grow_slots(p)) return 0;
    uint32_t k = hash3(parent, m, func) & (p->nslots - 1);
    for (; p->slots[k]; k = (k + 1) & (p->nslots - 1)) {
        const node *d = &p->nodes[p->slots[k]];
        if (d->parent == parent && d->module == m && d->func == func) return p->slots[k];
    }
    if (p->nnodes == p->cap_nodes) {
        uint32_t cap = p->cap_nodes * 2;
        node *nn = realloc(p->nodes, cap * sizeof *nn);
        if (!nn) return 0;
        p->nodes = nn;
        p->cap_nodes = cap;
    }
    uint32_t id = p->nnodes++;
    p->nodes[id] = (node){.parent = parent, .func = func, .module = m};
    p->slots[k] = id;
    return id;
}

/* The engine's sampler: on the guest's thread, at a check point. */
static void on_sample(void *arg, const wasm_trap_site *frames, size_t n) {
    srv_profile *p = arg;
    if (p->only && frames[0].module != p->only) return;
    if (!thread_no) thread_no = atomic_fetch_add(&next_thread, 1);
    uint64_t us = now_us();
    pthread_mutex_lock(&p->lock);
    if (p->nsamples == p->cap_samples) {
        uint32_t cap = p->cap_samples * 2;
        sample *ns = cap <= MAX_SAMPLES ? realloc(p->samples, cap * sizeof *ns) : NULL;
        if (!ns) {
            p->dropped++;
            pthread_mutex_unlock(&p->lock);
            return;
        }
        p->samples = ns;
        p->cap_samples = cap;
    }
    uint32_t at = 0;
    for (size_t i = n; i-- > 0 && at != UINT32_MAX;) {
        uint32_t c = child(p, at, frames[i].module, frames[i].func);
        at = c ? c : UINT32_MAX;
    }
    if (at == UINT32_MAX || at == 0) {
        p->dropped++;
    } else {
        p->nodes[at].self++;
        for (uint32_t k = at; k; k = p->nodes[k].parent)
            p->nodes[k].total++;
        p->nodes[0].total++;
        p->samples[p->nsamples++] = (sample){us - p->t0_us, at, thread_no};
    }
    pthread_mutex_unlock(&p->lock);
}

srv_profile *srv_profile_start(unsigned hz, const wasm_module *only, char *err, size_t errlen) {
    if (hz < 1 || hz > 1000) {
        snprintf(err, errlen, "a sampling rate of %u Hz: it must be 1 to 1000", hz);
        return NULL;
    }
    srv_profile *p = calloc(1, sizeof *p);
    if (!p || !(p->nodes = malloc(256 * sizeof *p->nodes)) ||
        !(p->samples = malloc(4096 * sizeof *p->samples)) || !grow_slots(p)) {
        if (p) {
            free(p->nodes);
            free(p->samples);
        }
        free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->cap_nodes = 256;
    p->cap_samples = 4096;
    p->nnodes = 1; /* the root */
    p->nodes[0] = (node){0};
    p->only = only;
    p->period_ms = 1000 / hz;
    p->t0_us = now_us();
    if (!wasm_profile_start(p->period_ms, on_sample, p)) {
        snprintf(err, errlen, "another profile is being taken; try again when it ends");
        srv_profile_free(p);
        return NULL;
    }
    p->running = true;
    return p;
}

void srv_profile_stop(srv_profile *p) {
    if (!p->running) return;
    wasm_profile_stop();
    p->running = false;
    p->t1_us = now_us() - p->t0_us;
}

void srv_profile_free(srv_profile *p) {
    if (!p) return;
    srv_profile_stop(p);
    pthread_mutex_destroy(&p->lock);
    free(p->nodes);
    free(p->slots);
    free(p->samples);
    free(p);
}

size_t srv_profile_samples(const srv_profile *p) {
    return p->nsamples;
}

bool srv_profile_format_parse(const char *name, srv_profile_format *f) {
    if (!strcmp(name, "cpuprofile"))
        *f = SRV_PROFILE_CPUPROFILE;
    else if (!strcmp(name, "trace"))
        *f = SRV_PROFILE_TRACE;
    else if (!strcmp(name, "folded"))
        *f = SRV_PROFILE_FOLDED;
    else
        return false;
    return true;
}

srv_profile_format srv_profile_format_of(const char *path) {
    size_t n = strlen(path);
    if (n >= 7 && !strcmp(path + n - 7, ".folded")) return SRV_PROFILE_FOLDED;
    if (n >= 11 && !strcmp(path + n - 11, ".cpuprofile")) return SRV_PROFILE_CPUPROFILE;
    return SRV_PROFILE_TRACE;
}

/* ---- writing ------------------------------------------------------------------ */

/* A node's function as the profile names it: the name section's name,
 * else func[N]. */
static const char *node_name(const node *d, char *buf, size_t len) {
    wasm_trap_site s = {d->module, d->func, WASM_OFFSET_UNKNOWN};
    wasm_trap_site_text(&s, buf, len);
    return buf[0] == '$' ? buf + 1 : buf;
}

/* Folded stacks frame;frame;leaf N: a line per node with samples of its
 * own (Brendan Gregg's flamegraph.pl input; a name's ';' becomes ':'). */
static void write_folded(const srv_profile *p, srv_text *t) {
    uint32_t *path = malloc((size_t)p->nnodes * sizeof *path);
    if (!path) {
        t->failed = true;
        return;
    }
    for (uint32_t i = 1; i < p->nnodes; i++) {
        if (!p->nodes[i].self) continue;
        uint32_t n = 0;
        for (uint32_t k = i; k; k = p->nodes[k].parent)
            path[n++] = k;
        while (n-- > 0) {
            char buf[300];
            const char *name = node_name(&p->nodes[path[n]], buf, sizeof buf);
            for (char *c = (char *)name; *c; c++)
                if (*c == ';' || *c == ' ' || *c == '\n') *c = ':';
            srv_text_put(t, "%s%s", name, n ? ";" : "");
        }
        srv_text_put(t, " %u\n", p->nodes[i].self);
    }
    free(path);
}

static int by_time(const void *a, const void *b) {
    uint64_t x = ((const sample *)a)->us, y = ((const sample *)b)->us;
    return x < y ? -1 : x > y;
}

/* Chrome DevTools' .cpuprofile (the Profiler domain's Profile object):
 * nodes with ids (the root is 1), children, hit counts; samples and their
 * time deltas in microseconds. */
static void write_cpuprofile(const srv_profile *p, const sample *ss, srv_text *t) {
    srv_text_put(t, "{\"nodes\":[");
    for (uint32_t i = 0; i < p->nnodes; i++) {
        char buf[300];
        const char *name = i ? node_name(&p->nodes[i], buf, sizeof buf) : "(root)";
        srv_text_put(t, "%s{\"id\":%u,\"callFrame\":{\"functionName\":", i ? "," : "", i + 1);
        srv_text_json(t, name);
        srv_text_put(t,
                     ",\"scriptId\":\"0\",\"url\":\"wasm\",\"lineNumber\":-1,\"columnNumber\":-1},"
                     "\"hitCount\":%u,\"children\":[",
                     p->nodes[i].self);
        /* children: a linear scan per node keeps no child lists around;
         * profiles have thousands of nodes, not millions */
        bool first = true;
        for (uint32_t k = i + 1; k < p->nnodes; k++)
            if (p->nodes[k].parent == i) {
                srv_text_put(t, "%s%u", first ? "" : ",", k + 1);
                first = false;
            }
        srv_text_put(t, "]}");
    }
    uint64_t end = p->t1_us ? p->t1_us : (p->nsamples ? ss[p->nsamples - 1].us : 0);
    srv_text_put(t, "],\"startTime\":0,\"endTime\":%llu,\"samples\":[", (unsigned long long)end);
    for (uint32_t i = 0; i < p->nsamples; i++)
        srv_text_put(t, "%s%u", i ? "," : "", ss[i].leaf + 1);
    srv_text_put(t, "],\"timeDeltas\":[");
    uint64_t prev = 0;
    for (uint32_t i = 0; i < p->nsamples; i++) {
        srv_text_put(t, "%s%llu", i ? "," : "", (unsigned long long)(ss[i].us - prev));
        prev = ss[i].us;
    }
    srv_text_put(t, "]}\n");
}

/* The stack of `leaf`, outermost first, into path; its depth. */
static uint32_t stack_of(const srv_profile *p, uint32_t leaf, uint32_t *path) {
    uint32_t n = 0;
    for (uint32_t k = leaf; k; k = p->nodes[k].parent)
        n++;
    uint32_t i = n;
    for (uint32_t k = leaf; k; k = p->nodes[k].parent)
        path[--i] = k;
    return n;
}

static void trace_event(const srv_profile *p, srv_text *t, uint32_t node_id, char ph, uint64_t us,
                        uint32_t thread) {
    char buf[300];
    srv_text_put(t, ",\n{\"name\":");
    srv_text_json(t, node_name(&p->nodes[node_id], buf, sizeof buf));
    srv_text_put(t, ",\"cat\":\"wasm\",\"ph\":\"%c\",\"ts\":%llu,\"pid\":1,\"tid\":%u}", ph,
                 (unsigned long long)us, thread);
}

/* Chrome's trace event format: per thread, a function's span opens ("B")
 * at the first sample that has it on the stack and ends ("E") at the first
 * that has not, or a period after the thread's last sample before a gap
 * (the thread ran no guest code then). */
static void write_trace(const srv_profile *p, const sample *ss, srv_text *t) {
    srv_text_put(t, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n"
                    "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":"
                    "\"wasp guest code\"}}");
    uint32_t *open = malloc((size_t)p->nnodes * sizeof *open);
    uint32_t *path = malloc((size_t)p->nnodes * sizeof *path);
    bool *done = calloc(p->nsamples + 1, sizeof *done);
    if (!open || !path || !done) {
        t->failed = true;
        goto out;
    }
    uint64_t gap = 2 * (uint64_t)(p->period_ms ? p->period_ms : 1) * 1000u;
    for (uint32_t first = 0; first < p->nsamples; first++) {
        if (done[first]) continue;
        uint32_t thread = ss[first].thread, nopen = 0;
        srv_text_put(t,
                     ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%u,"
                     "\"args\":{\"name\":\"guest thread %u\"}}",
                     thread, thread);
        uint64_t last = ss[first].us;
        for (uint32_t i = first; i < p->nsamples; i++) {
            if (ss[i].thread != thread) continue;
            done[i] = true;
            uint64_t us = ss[i].us;
            if (nopen && us - last > gap) { /* idle between: close at the last sample's end */
                while (nopen)
                    trace_event(p, t, open[--nopen], 'E', last + gap / 2, thread);
            }
            uint32_t n = stack_of(p, ss[i].leaf, path), same = 0;
            while (same < n && same < nopen && open[same] == path[same])
                same++;
            while (nopen > same)
                trace_event(p, t, open[--nopen], 'E', us, thread);
            for (; nopen < n; nopen++) {
                open[nopen] = path[nopen];
                trace_event(p, t, open[nopen], 'B', us, thread);
            }
            last = us;
        }
        while (nopen)
            trace_event(p, t, open[--nopen], 'E', last + gap / 2, thread);
    }
out:
    srv_text_put(t, "\n]}\n");
    free(open);
    free(path);
    free(done);
}

char *srv_profile_render(srv_profile *p, srv_profile_format f, size_t *len) {
    srv_text t = {0};
    pthread_mutex_lock(&p->lock);
    /* threads append in about time order; sorted, the deltas are right */
    qsort(p->samples, p->nsamples, sizeof *p->samples, by_time);
    switch (f) {
    case SRV_PROFILE_FOLDED: write_folded(p, &t); break;
    case SRV_PROFILE_CPUPROFILE: write_cpuprofile(p, p->samples, &t); break;
    case SRV_PROFILE_TRACE: write_trace(p, p->samples, &t); break;
    }
    pthread_mutex_unlock(&p->lock);
    if (!t.failed && !t.buf) t.buf = calloc(1, 1); /* no samples: an empty profile */
    if (t.failed || !t.buf) {
        free(t.buf);
        return NULL;
    }
    *len = t.len;
    return t.buf;
}
