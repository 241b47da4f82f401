/*
 * debug.c - the admin listener's /debug endpoints (http.c routes them
 * here; they run on the admin thread).
 *
 *   GET /debug/profile?app=NAME&seconds=N&format=trace|cpuprofile|folded&hz=H
 *       profiles the live server's guest code for N seconds (default 10,
 *       at most 300) at H samples per second (default 1000), only the
 *       app's module when app= is given, and answers with the profile.
 *       The request waits on a timer of the admin loop (http.c), which
 *       meanwhile answers /metrics and the rest; one profile at a time
 *       (409). This file knows nothing of h2o: it parses, starts, and
 *       renders the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

#define PROFILE_DEFAULT_S 10
#define PROFILE_MAX_S 300

struct srv_profile_job {
    srv_profile *prof;
    srv_profile_format format;
    srv_gen *gen; /* a reference: the profile names the functions of its modules */
};

static void answer_text(srv_debug_answer *a, int status, const char *text) {
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    a->body = strdup(text);
    a->len = a->body ? strlen(text) : 0;
}

/* The value of `key` in query string q[0, n) into buf; false when absent. */
static bool query_get(const char *q, size_t n, const char *key, char *buf, size_t len) {
    size_t klen = strlen(key);
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && q[e] != '&')
            e++;
        if (e - i > klen && !memcmp(q + i, key, klen) && q[i + klen] == '=') {
            size_t vlen = e - i - klen - 1;
            if (vlen >= len) vlen = len - 1;
            memcpy(buf, q + i + klen + 1, vlen);
            buf[vlen] = 0;
            return true;
        }
        i = e + 1;
    }
    return false;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return false;
    *out = (unsigned)v;
    return true;
}

srv_profile_job *srv_debug_profile_start(const char *q, size_t n, srv_gen *gen, unsigned *seconds,
                                         srv_debug_answer *a) {
    char app[128], val[32], why[300];
    unsigned hz = SRV_PROFILE_HZ;
    srv_profile_format format = SRV_PROFILE_TRACE;
    const wasm_module *only = NULL;
    *seconds = PROFILE_DEFAULT_S;
    if (query_get(q, n, "seconds", val, sizeof val) &&
        !parse_uint(val, 1, PROFILE_MAX_S, seconds)) {
        answer_text(a, 400, "seconds= must be 1 to 300\n");
        goto refused;
    }
    if (query_get(q, n, "hz", val, sizeof val) && !parse_uint(val, 1, 1000, &hz)) {
        answer_text(a, 400, "hz= must be 1 to 1000 samples per second\n");
        goto refused;
    }
    if (query_get(q, n, "format", val, sizeof val) && !srv_profile_format_parse(val, &format)) {
        answer_text(a, 400, "format= must be trace, cpuprofile or folded\n");
        goto refused;
    }
    if (query_get(q, n, "app", app, sizeof app)) {
        for (int i = 0; i < gen->napps && !only; i++)
            if (!strcmp(gen->apps[i].name, app)) only = gen->apps[i].module;
        if (!only) {
            snprintf(why, sizeof why, "no app %.100s with a module runs here (see /metrics)\n",
                     app);
            answer_text(a, 404, why);
            goto refused;
        }
    }
    srv_profile_job *j = calloc(1, sizeof *j);
    if (!j) {
        answer_text(a, 500, "out of memory\n");
        goto refused;
    }
    j->prof = srv_profile_start(hz, only, why, sizeof why);
    if (!j->prof) {
        free(j);
        strcat(why, "\n");
        answer_text(a, 409, why);
        goto refused;
    }
    j->format = format;
    j->gen = gen;
    return j;
refused:
    srv_gen_unref(gen);
    return NULL;
}

void srv_debug_requests(const char *q, size_t n, srv_gen *gen, srv_stats *const *ws, int nw,
                        srv_debug_answer *a) {
    char app[128], val[32], why[300];
    unsigned count = 10;
    bool slowest = false, chrome = false;
    const char *name = NULL;
    if (!query_get(q, n, "app", app, sizeof app)) {
        answer_text(a, 400, "app= names the app whose requests to show\n");
        goto out;
    }
    for (int i = 0; i < gen->napps && !name; i++)
        if (!strcmp(gen->apps[i].name, app)) name = gen->apps[i].name; /* interned */
    if (!name) {
        snprintf(why, sizeof why, "no app %.100s runs here (see /metrics)\n", app);
        answer_text(a, 404, why);
        goto out;
    }
    if (query_get(q, n, "which", val, sizeof val)) {
        if (!strcmp(val, "slowest")) {
            slowest = true;
        } else if (strcmp(val, "latest")) {
            answer_text(a, 400, "which= must be latest or slowest\n");
            goto out;
        }
    }
    if (query_get(q, n, "n", val, sizeof val) && !parse_uint(val, 1, 100, &count)) {
        answer_text(a, 400, "n= must be 1 to 100\n");
        goto out;
    }
    if (query_get(q, n, "format", val, sizeof val)) {
        if (!strcmp(val, "trace")) {
            chrome = true;
        } else if (strcmp(val, "json")) {
            answer_text(a, 400, "format= must be json or trace\n");
            goto out;
        }
    }
    a->body = srv_traces_render(ws, nw, name, slowest, count, chrome, &a->len);
    if (!a->body) {
        answer_text(a, 500, "out of memory\n");
    } else {
        a->status = 200;
        a->type = "application/json";
    }
out:
    srv_gen_unref(gen);
}

void srv_debug_profile_finish(srv_profile_job *j, srv_debug_answer *a) {
    srv_profile_stop(j->prof);
    a->body = srv_profile_render(j->prof, j->format, &a->len);
    if (!a->body) {
        answer_text(a, 500, "out of memory writing the profile\n");
    } else {
        a->status = 200;
        a->type =
            j->format == SRV_PROFILE_FOLDED ? "text/plain; charset=utf-8" : "application/json";
    }
    srv_debug_profile_cancel(j);
}

void srv_debug_profile_cancel(srv_profile_job *j) {
    srv_profile_free(j->prof);
    srv_gen_unref(j->gen);
    free(j);
}
