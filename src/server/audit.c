/*
 * audit.c - `wasp audit`: what a module can reach and what in it is risky,
 * read from the module alone and, given a manifest, against what its app
 * is granted (issue 14). Nothing runs: the module is decoded and
 * validated, its imports are resolved against the linker an app of this
 * server would get (so "unknown import" means what instantiation would
 * say), and its limits, segments and exports are looked at.
 *
 * Capabilities. The "wasp" imports are the ones a manifest grants by name
 * (kv, sql, http, vars): importing one the app is not granted is a denial,
 * and `wasp audit` exits 1, because every call would fail. WASI's
 * filesystem and environment are granted too (dirs, env), but a module
 * that imports them and is granted nothing still runs (wasi-libc imports
 * them whether the program opens files or not): they are reported with
 * what is granted, not counted as denials. An import no host provides
 * (another module, a wrong signature) is counted: the module cannot be
 * instantiated at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "util/util.h"

/* Past these, a size is worth a word. */
#define BIG_MEMORY_PAGES 1024u /* 64 MiB mapped and reset per instance */
#define BIG_TABLE 100000u

typedef struct cap_rule {
    const char *module, *prefix; /* an import's module and a prefix of its name */
    const char *cap;
} cap_rule;

/* First match wins. */
static const cap_rule RULES[] = {
    {"wasp", "kv_", "kv"},
    {"wasp", "sql_", "sql"},
    {"wasp", "http_", "http"},
    {"wasp", "var_get", "vars"},
    {"wasp", "req_", "request"},
    {"wasp", "resp_", "request"},
    {"wasp", "emit", "emit"},
    {"wasp", "log", "log"},
    {"wasp", "err_message", "log"},
    {"wasi_snapshot_preview1", "path_", "filesystem"},
    {"wasi_snapshot_preview1", "fd_prestat_", "filesystem"},
    {"wasi_snapshot_preview1", "fd_readdir", "filesystem"},
    {"wasi_snapshot_preview1", "environ_", "environment"},
    {"wasi_snapshot_preview1", "args_", "environment"},
    {"wasi_snapshot_preview1", "clock_", "clock"},
    {"wasi_snapshot_preview1", "poll_oneoff", "clock"},
    {"wasi_snapshot_preview1", "random_get", "random"},
    {"wasi_snapshot_preview1", "sock_", "sockets"},
    {"wasi_snapshot_preview1", "proc_", "process"},
    {"wasi_snapshot_preview1", "sched_yield", "process"},
    {"wasi_snapshot_preview1", "fd_", "stdio and open files"},
};

/* What each capability needs, in the order they are listed. */
static const struct {
    const char *cap, *grant; /* grant: the manifest key; NULL: nothing to grant */
    bool hard;               /* importing it without the grant is a denial */
    const char *note;
} CAPS[] = {
    {"request", NULL, false, "the HTTP request and response (wasp ABI)"},
    {"emit", NULL, false, "a filter's outputs"},
    {"log", NULL, false, "log lines, error messages"},
    {"kv", "kv", true, "key-value stores"},
    {"sql", "sql", true, "SQL databases"},
    {"http", "http.allow", true, "outbound HTTP"},
    {"vars", "vars", true, "variables and secrets"},
    {"filesystem", "dirs", false, "files under granted directories"},
    {"environment", "env", false, "arguments and environment variables"},
    {"stdio and open files", NULL, false, "stdin, stdout, stderr and files it opened"},
    {"clock", NULL, false, "clocks and timers"},
    {"random", NULL, false, "random bytes"},
    {"process", NULL, false, "exit, yield"},
    {"sockets", NULL, false, "none are granted: calls fail (EBADF)"},
    {"unknown", NULL, true, "no host provides these: the module cannot be instantiated"},
};
#define NCAPS (sizeof CAPS / sizeof CAPS[0])

static bool name_is(const wasm_name *n, const char *s) {
    return n->len == strlen(s) && !memcmp(n->str, s, n->len);
}

static bool name_starts(const wasm_name *n, const char *p) {
    size_t k = strlen(p);
    return n->len >= k && !memcmp(n->str, p, k);
}

static int cap_index(const char *cap) {
    for (size_t i = 0; i < NCAPS; i++)
        if (!strcmp(CAPS[i].cap, cap)) return (int)i;
    return (int)NCAPS - 1;
}

/* Appends "text" to a comma-separated list in buf. */
static void list_add(char *buf, size_t n, const char *text, size_t len) {
    size_t used = strlen(buf);
    if (used + len + 3 >= n) {
        if (used + 4 < n && strcmp(buf + (used > 3 ? used - 3 : 0), "...")) strcat(buf, "...");
        return;
    }
    if (used) strcat(buf, ", ");
    strncat(buf, text, len);
}

__attribute__((format(printf, 3, 4))) static bool finding(srv_audit *a, srv_audit_level level,
                                                          const char *fmt, ...) {
    srv_audit_finding *f = realloc(a->findings, (size_t)(a->nfindings + 1) * sizeof *f);
    if (!f) return false;
    a->findings = f;
    f = &a->findings[a->nfindings++];
    f->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof f->what, fmt, ap);
    va_end(ap);
    return true;
}

/* A constant expression that is `i32.const N`: N; false for anything else
 * (a global's value, extended constants): unknown before instantiation. */
static bool const_i32(const wasm_constexpr *ce, uint64_t *out) {
    const uint8_t *p = ce->code, *end = ce->code + ce->len;
    int32_t v;
    if (p >= end || *p++ != 0x41) return false;
    if (util_leb_s32(&p, end, &v) != UTIL_LEB_OK || p >= end || *p != 0x0b) return false;
    *out = (uint32_t)v;
    return true;
}

/* What the app of `cfg` is granted of capability `cap`, into buf; false
 * when nothing. */
static bool granted(const srv_app_cfg *cfg, const char *cap, char *buf, size_t n) {
    buf[0] = 0;
    if (!strcmp(cap, "kv"))
        for (int i = 0; i < cfg->nkv; i++)
            list_add(buf, n, cfg->kv[i], strlen(cfg->kv[i]));
    else if (!strcmp(cap, "sql"))
        for (int i = 0; i < cfg->nsql; i++)
            list_add(buf, n, cfg->sql[i], strlen(cfg->sql[i]));
    else if (!strcmp(cap, "http"))
        for (int i = 0; i < cfg->nhttp_allow; i++)
            list_add(buf, n, cfg->http_allow[i], strlen(cfg->http_allow[i]));
    else if (!strcmp(cap, "vars"))
        for (int i = 0; i < cfg->nvars; i++)
            list_add(buf, n, cfg->vars[i].name, strlen(cfg->vars[i].name));
    else if (!strcmp(cap, "filesystem"))
        for (int i = 0; i < cfg->ndirs; i++) {
            char d[600];
            snprintf(d, sizeof d, "%s%s", cfg->dirs[i].guest, cfg->dirs[i].readonly ? " (ro)" : "");
            list_add(buf, n, d, strlen(d));
        }
    else if (!strcmp(cap, "environment"))
        for (int i = 0; i < cfg->nenv; i++) {
            const char *eq = strchr(cfg->env[i], '=');
            list_add(buf, n, cfg->env[i], eq ? (size_t)(eq - cfg->env[i]) : strlen(cfg->env[i]));
        }
    return buf[0] != 0;
}

static void classify(srv_audit *a, const wasm_module *m, const wasm_linker *l,
                     const srv_app_cfg *cfg) {
    for (size_t c = 0; c < NCAPS; c++) {
        a->caps[c].name = CAPS[c].cap;
        a->caps[c].grant = CAPS[c].grant;
        a->caps[c].note = CAPS[c].note;
    }
    a->ncaps = (int)NCAPS;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const wasm_import *im = &m->imports[i];
        const char *why = NULL;
        const char *cap = "unknown";
        if (wasm_linker_resolves(l, m, i, &why))
            for (size_t r = 0; r < sizeof RULES / sizeof RULES[0]; r++)
                if (name_is(&im->module, RULES[r].module) &&
                    name_starts(&im->name, RULES[r].prefix)) {
                    cap = RULES[r].cap;
                    break;
                }
        srv_audit_cap *c = &a->caps[cap_index(cap)];
        char full[300];
        if (!strcmp(cap, "unknown"))
            snprintf(full, sizeof full, "%.*s.%.*s (%s)", (int)im->module.len, im->module.str,
                     (int)im->name.len, im->name.str, why ? why : "unknown import");
        else
            snprintf(full, sizeof full, "%.*s", (int)im->name.len, im->name.str);
        list_add(c->imports, sizeof c->imports, full, strlen(full));
        c->nimports++;
    }
    for (int c = 0; c < a->ncaps; c++) {
        srv_audit_cap *k = &a->caps[c];
        if (!k->nimports) {
            k->status = SRV_CAP_UNUSED;
        } else if (!strcmp(k->name, "unknown")) {
            k->status = SRV_CAP_NEVER;
            a->denied = true;
        } else if (!strcmp(k->name, "sockets")) {
            k->status = SRV_CAP_NEVER;
        } else if (!k->grant) {
            k->status = SRV_CAP_ALWAYS;
        } else if (!cfg) {
            k->status = SRV_CAP_UNCHECKED;
        } else if (granted(cfg, k->name, k->granted, sizeof k->granted)) {
            k->status = SRV_CAP_GRANTED;
        } else {
            k->status = SRV_CAP_DENIED;
            if (CAPS[c].hard) a->denied = true;
        }
    }
}

static void risks(srv_audit *a, const wasm_module *m, const srv_app_cfg *cfg) {
    uint32_t cap_pages = cfg ? cfg->max_memory_pages : SRV_DEFAULT_MEMORY_PAGES;
    const char *cap_from = cfg ? "its limits.memory" : "the default limits.memory";
    for (uint32_t i = 0; i < m->nmemories; i++) {
        const wasm_limits *lim = &m->memories[i].limits;
        const char *what = i < m->nmemory_imports ? "imported memory" : "memory";
        if (!lim->has_max)
            finding(a, SRV_AUDIT_WARN,
                    "%s %u has no maximum: it may grow to 4 GiB (%s stops it at %u MiB)", what, i,
                    cap_from, cap_pages / 16);
        if (lim->min > cap_pages)
            finding(a, SRV_AUDIT_RISK,
                    "%s %u starts at %llu MiB, past %s (%u MiB): it cannot be instantiated", what,
                    i, (unsigned long long)(lim->min / 16), cap_from, cap_pages / 16);
        else if (lim->min >= BIG_MEMORY_PAGES)
            finding(a, SRV_AUDIT_WARN,
                    "%s %u starts at %llu MiB: every instance maps it, and a reset walks it", what,
                    i, (unsigned long long)(lim->min / 16));
    }
    for (uint32_t i = 0; i < m->ntables; i++) {
        const wasm_limits *lim = &m->tables[i].limits;
        if (!lim->has_max)
            finding(a, SRV_AUDIT_WARN,
                    "table %u has no maximum: table.grow may add entries "
                    "without end (each costs memory outside the guest's limit)",
                    i);
        if (lim->min >= BIG_TABLE)
            finding(a, SRV_AUDIT_WARN, "table %u starts with %llu entries", i,
                    (unsigned long long)lim->min);
    }
    if (m->has_start)
        finding(a, SRV_AUDIT_INFO,
                "a start function (func %u) runs at every instantiation: once at load under "
                "wasp, before the snapshot",
                m->start);
    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *e = &m->exports[i];
        if (e->kind == WASM_EXTERN_TABLE)
            finding(a, SRV_AUDIT_WARN,
                    "exports table %u as \"%.*s\": whoever holds it may call any function in it",
                    e->index, (int)e->name.len, e->name.str);
        else if (e->kind == WASM_EXTERN_MEMORY)
            finding(a, SRV_AUDIT_INFO,
                    "exports memory %u as \"%.*s\" (WASI and wasp read and write it there)",
                    e->index, (int)e->name.len, e->name.str);
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *d = &m->datas[i];
        if (d->mode != WASM_SEG_ACTIVE || d->memory >= m->nmemories) continue;
        uint64_t off, size = m->memories[d->memory].limits.min * 65536;
        if (!const_i32(&d->offset, &off)) {
            finding(a, SRV_AUDIT_INFO,
                    "data segment %u is placed by a global's value: not checked here", i);
        } else if (off + d->len > size) {
            finding(a, SRV_AUDIT_RISK,
                    "data segment %u writes bytes %llu..%llu, past the initial memory (%llu "
                    "bytes): instantiation traps",
                    i, (unsigned long long)off, (unsigned long long)(off + d->len),
                    (unsigned long long)size);
        }
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        if (e->mode != WASM_SEG_ACTIVE || e->table >= m->ntables) continue;
        uint64_t off, size = m->tables[e->table].limits.min;
        if (const_i32(&e->offset, &off) && off + e->count > size)
            finding(a, SRV_AUDIT_RISK,
                    "element segment %u fills entries %llu..%llu of table %u, past its %llu: "
                    "instantiation traps",
                    i, (unsigned long long)off, (unsigned long long)(off + e->count), e->table,
                    (unsigned long long)size);
    }
    bool names = false;
    for (uint32_t i = 0; i < m->ncustoms; i++)
        names = names || name_is(&m->customs[i].name, "name");
    a->has_names = names;
    if (!names)
        finding(a, SRV_AUDIT_INFO,
                "no name section: traps, backtraces and profiles name functions func[N]");
}

/* The app of manifest `man` that runs `module_path`, or the one named
 * `app`. */
static const srv_app_cfg *find_app(const srv_manifest *man, const char *app,
                                   const char *module_path, char *err, size_t errlen) {
    char want[4096], have[4096];
    if (app) {
        for (int i = 0; i < man->napps; i++)
            if (!strcmp(man->apps[i].name, app)) return &man->apps[i];
        snprintf(err, errlen, "%s has no app named %s", man->path, app);
        return NULL;
    }
    if (!realpath(module_path, want)) snprintf(want, sizeof want, "%s", module_path);
    for (int i = 0; i < man->napps; i++) {
        const char *mp = man->apps[i].module;
        if (!mp || !*mp) continue;
        if (!realpath(mp, have)) snprintf(have, sizeof have, "%s", mp);
        if (!strcmp(have, want)) return &man->apps[i];
    }
    snprintf(err, errlen, "no app of %s runs %s: name the app with --app", man->path, module_path);
    return NULL;
}

bool srv_audit_module(const wasm_module *m, const char *module_path, const srv_manifest *man,
                      const char *app, srv_audit *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    const srv_app_cfg *cfg = NULL;
    if (man && !(cfg = find_app(man, app, module_path, err, errlen))) return false;
    a->app = cfg ? cfg->name : NULL;
    /* the linker an app gets: WASI, the wasp ABI, the capabilities */
    bool filter = wasm_module_find_export(m, "wasp_filter") != NULL;
    bool handle = wasm_module_find_export(m, "wasp_handle") != NULL;
    bool start = wasm_module_find_export(m, "_start") != NULL;
    a->kind = filter   ? "filter (wasp_filter)"
              : handle ? "HTTP handler, wasp ABI (wasp_handle)"
              : start  ? "HTTP handler, WAGI (_start)"
                       : "none: it exports neither wasp_handle, _start nor wasp_filter";
    srv_app_cfg plain = {.name = "audit", .route = "", .route_base = "", .module = ""};
    srv_app fake = {.cfg = &plain, .name = "audit", .iface = SRV_IFACE_WASP};
    srv_slot *s = srv_slot_new(&fake, err, errlen);
    if (!s) return false;
    classify(a, m, srv_slot_linker(s), cfg);
    srv_slot_free(s);
    risks(a, m, cfg);
    for (int i = 0; i < a->nfindings; i++)
        a->risky = a->risky || a->findings[i].level == SRV_AUDIT_RISK;
    return true;
}

void srv_audit_free(srv_audit *a) {
    free(a->findings);
    memset(a, 0, sizeof *a);
}
