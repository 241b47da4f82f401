/*
 * manifest.c - wasp.yaml (or a single module) -> srv_manifest.
 *
 * The YAML is loaded whole with libyaml's document API, so every node keeps
 * its line, then walked once, key by key, into the structs of server.h.
 * The walk is strict on purpose: an unknown key, a wrong type or a bad
 * value stops the load with "FILE:LINE: path.to.key: reason", because a
 * typo silently ignored (a misspelt limit, say) is a server running with
 * settings nobody asked for.
 *
 * Only the first error is reported. Nothing is checked on disk or on the
 * network: module, directory, store, database and secrets paths are
 * resolved against the manifest's directory as text, and database URLs
 * are not dialled: a missing file or an unreachable database shows when
 * the server loads the app or opens the store or database. `stores:`,
 * `databases:` and `secrets:` are read before `apps:`, wherever they are
 * written, because apps refer to them by name. An app's outbound HTTP
 * origins are checked for form only (scheme://host[:port]) and kept with
 * the scheme and host lower-cased, so the capability can compare them as
 * strings.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "server/server.h"

#define PAGE_SIZE 65536u
#define MAX_MEMORY_BYTES ((uint64_t)4 << 30)  /* the 32-bit address space: 65536 pages */
#define MAX_HTTP_RESPONSE ((uint64_t)1 << 30) /* http.max_response: 1GiB */

typedef struct loader {
    const char *file; /* the manifest's path as given, for messages */
    char *dir;        /* its directory, or NULL when it has none ("wasp.yaml") */
    yaml_document_t doc;
    char *err;
    size_t errlen;
    bool failed; /* an error is already in err: keep the first */
} loader;

static const char *const TOP_KEYS[] = {"listen",  "admin", "workers",   "stores", "databases",
                                       "secrets", "apps",  "pipelines", NULL};
static const char *const APP_KEYS[] = {"name", "route",  "module", "interface", "env",
                                       "dirs", "limits", "init",   "kv",        "vars",
                                       "sql",  "http",   "tier",   NULL};
static const char *const LIMIT_KEYS[] = {"memory",          "deadline_ms", "cpu_ms", "fuel",
                                         "max_concurrency", "queue",       NULL};
static const char *const DIR_KEYS[] = {"host", "guest", "readonly", NULL};
static const char *const STORE_KEYS[] = {"backend", "path", "durable", "url", "prefix", NULL};
static const char *const DATABASE_KEYS[] = {
    "backend", "path", "url", "pool_size", "acquire_timeout_ms", NULL};
static const char *const HTTP_KEYS[] = {"allow", "timeout_ms", "max_response", NULL};
static const char *const SECRETS_KEYS[] = {"file", "key_file", "key_env", NULL};
static const char *const VAR_KEYS[] = {"env", "secret", NULL};
static const char *const PIPELINE_KEYS[] = {"name",    "from",        "follow",   "route",
                                            "to",      "dead_letter", "format",   "filters",
                                            "workers", "batch",       "flush_ms", NULL};

#define DEFAULT_SECRETS_KEY_ENV "WASP_SECRETS_KEY"

static int line_of(const yaml_node_t *n) {
    return (int)n->start_mark.line + 1;
}

/* Writes "FILE:LINE: PATH: message" (PATH left out when empty) unless an
 * error is already there; always false, so callers can `return fail(...)`. */
static bool fail(loader *ld, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail(loader *ld, int line, const char *path, const char *fmt, ...) {
    if (ld->failed) return false;
    ld->failed = true;
    int n = snprintf(ld->err, ld->errlen, "%s:%d: %s%s", ld->file, line, path, *path ? ": " : "");
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool oom(loader *ld) {
    if (!ld->failed) {
        ld->failed = true;
        snprintf(ld->err, ld->errlen, "%s: out of memory", ld->file);
    }
    return false;
}

static char *xdup(loader *ld, const char *s) {
    char *d = strdup(s);
    if (!d) oom(ld);
    return d;
}

static yaml_node_t *node(loader *ld, int index) {
    return yaml_document_get_node(&ld->doc, index);
}

static const char *kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a scalar";
    }
}

/* `key:` with nothing after it, or `~` / `null`, unquoted. */
static bool is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* The text of a scalar node, or NULL (with an error) for anything else;
 * `expect` completes "expected ..." in the message. */
static const char *scalar(loader *ld, yaml_node_t *n, const char *path, const char *expect) {
    if (n->type != YAML_SCALAR_NODE) {
        fail(ld, line_of(n), path, "expected %s, got %s", expect, kind(n));
        return NULL;
    }
    if (is_null(n)) {
        fail(ld, line_of(n), path, "has no value (expected %s)", expect);
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        fail(ld, line_of(n), path, "contains a NUL character");
        return NULL;
    }
    return s;
}

static bool nonempty(loader *ld, yaml_node_t *n, const char *path, const char *expect,
                     const char **out) {
    *out = scalar(ld, n, path, expect);
    if (!*out) return false;
    if (!**out) return fail(ld, line_of(n), path, "is empty (expected %s)", expect);
    return true;
}

static bool expect_mapping(loader *ld, yaml_node_t *n, const char *path, const char *what) {
    if (n->type == YAML_MAPPING_NODE) return true;
    return fail(ld, line_of(n), path, "expected %s, got %s", what, kind(n));
}

/* Every key a plain scalar, none twice; with `allowed`, none outside it. */
static bool check_keys(loader *ld, yaml_node_t *map, const char *path, const char *const *allowed) {
    yaml_node_pair_t *start = map->data.mapping.pairs.start;
    yaml_node_pair_t *top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = node(ld, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail(ld, line_of(k), path, "keys must be names, got %s", kind(k));
        const char *name = (const char *)k->data.scalar.value;
        bool known = !allowed;
        for (int i = 0; !known && allowed[i]; i++)
            known = !strcmp(name, allowed[i]);
        if (!known) {
            char list[128] = "";
            for (int i = 0; allowed[i]; i++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", allowed[i]);
            }
            return fail(ld, line_of(k), path, "unknown key \"%.80s\" (expected %s)", name, list);
        }
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *prev = node(ld, q->key);
            if (prev->type == YAML_SCALAR_NODE &&
                !strcmp((const char *)prev->data.scalar.value, name))
                return fail(ld, line_of(k), path, "key \"%.80s\" appears twice (first on line %d)",
                            name, line_of(prev));
        }
    }
    return true;
}

/* The pair of `key` in a mapping whose keys were checked, or NULL. */
static yaml_node_pair_t *find_pair(loader *ld, yaml_node_t *map, const char *key) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(ld, p->key);
        if (!strcmp((const char *)k->data.scalar.value, key)) return p;
    }
    return NULL;
}

/* The value of `key` in a mapping whose keys were checked, or NULL. */
static yaml_node_t *find(loader *ld, yaml_node_t *map, const char *key) {
    yaml_node_pair_t *p = find_pair(ld, map, key);
    return p ? node(ld, p->value) : NULL;
}

/* A relative path joined to the manifest's directory; absolute paths, and
 * every path of a manifest without a directory part, are kept as written. */
static char *resolve(loader *ld, const char *p) {
    if (p[0] == '/' || !ld->dir) return xdup(ld, p);
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    if (!*p || !strcmp(p, ".")) return xdup(ld, ld->dir);
    size_t dl = strlen(ld->dir), pl = strlen(p);
    bool slash = ld->dir[dl - 1] != '/';
    char *out = malloc(dl + slash + pl + 1);
    if (!out) {
        oom(ld);
        return NULL;
    }
    memcpy(out, ld->dir, dl);
    if (slash) out[dl] = '/';
    memcpy(out + dl + slash, p, pl + 1);
    return out;
}

/* ---- values -------------------------------------------------------------- */

/* Digits only: no sign, no hex, no underscores, nothing YAML 1.1 might read
 * differently from what the user meant. */
static bool parse_uint(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* A whole number in lo..hi; `hint` ends both messages, e.g. "use 1..1024". */
static bool uint_in(loader *ld, yaml_node_t *n, const char *path, uint64_t lo, uint64_t hi,
                    const char *hint, uint64_t *out) {
    const char *s = scalar(ld, n, path, "a whole number");
    if (!s) return false;
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return fail(ld, line_of(n), path, "\"%.80s\" is not a whole number (%s)", s, hint);
    if (!parse_uint(s, out) || *out < lo || *out > hi)
        return fail(ld, line_of(n), path, "%.80s is out of range (%s)", s, hint);
    return true;
}

/* "ADDR:PORT" with a non-empty address and a port of 0..65535 ("[::1]:80"
 * works: the port follows the last colon). */
static bool is_addr_port(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1] || strlen(colon + 1) > 5) return false;
    uint64_t port;
    return parse_uint(colon + 1, &port) && port <= 65535;
}

typedef enum { SIZE_OK, SIZE_BAD, SIZE_HUGE } size_status;

/* "65536", "64KiB", "64 MiB", "1G": a number and an optional binary unit. */
static size_status parse_size(const char *s, uint64_t *bytes) {
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
                 {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    const char *u = s;
    while (*u >= '0' && *u <= '9')
        u++;
    if (u == s) return SIZE_BAD;
    const char *digits_end = u;
    while (*u == ' ')
        u++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(u, units[i].unit) != 0) continue;
        if (digits_end - s > 19) return SIZE_HUGE; /* beyond any uint64 we could shift */
        uint64_t v = strtoull(s, NULL, 10);
        if (v > (UINT64_MAX >> units[i].shift)) return SIZE_HUGE;
        *bytes = v << units[i].shift;
        return SIZE_OK;
    }
    return SIZE_BAD;
}

static bool parse_memory(loader *ld, yaml_node_t *n, const char *path, uint32_t *pages) {
    const char *s = scalar(ld, n, path, "a size such as 64MiB");
    if (!s) return false;
    uint64_t bytes = 0;
    size_status st = parse_size(s, &bytes);
    if (st == SIZE_BAD)
        return fail(ld, line_of(n), path,
                    "\"%.80s\" is not a size (use e.g. 64MiB; units B, KiB, MiB, GiB)", s);
    if (st == SIZE_HUGE || bytes > MAX_MEMORY_BYTES)
        return fail(ld, line_of(n), path, "\"%.80s\" is too large (at most 4GiB)", s);
    if (bytes == 0) return fail(ld, line_of(n), path, "\"%.80s\" is too small (at least 64KiB)", s);
    *pages = (uint32_t)((bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    return true;
}

static bool parse_bool(loader *ld, yaml_node_t *n, const char *path, bool *out) {
    const char *s = scalar(ld, n, path, "true or false");
    if (!s) return false;
    if (!strcmp(s, "true") || !strcmp(s, "false")) {
        *out = s[0] == 't';
        return true;
    }
    return fail(ld, line_of(n), path, "\"%.80s\" is not true or false", s);
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* App names end up in logs and metric labels: keep them plain. */
static bool is_name(const char *s) {
    return *s && s[strspn(s, ALNUM "_.-")] == '\0';
}

/* Variable names are looked up by guests: a name, not starting like a
 * number or an option. */
static bool is_var_name(const char *s) {
    return is_name(s) && !(*s >= '0' && *s <= '9') && *s != '.' && *s != '-';
}

static bool is_env_key(const char *s) {
    return *s && !(*s >= '0' && *s <= '9') && s[strspn(s, ALNUM "_")] == '\0';
}

/* The module's file name without its directory and ".wasm". */
static char *base_name(const char *module) {
    const char *b = strrchr(module, '/');
    b = b ? b + 1 : module;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".wasm")) n -= 5;
    return strndup(b, n);
}

/* ---- an app -------------------------------------------------------------- */

static bool parse_route(loader *ld, yaml_node_t *n, const char *path, srv_app_cfg *a) {
    const char *s = scalar(ld, n, path, "a route such as /hello or /api/...");
    if (!s) return false;
    if (s[0] != '/')
        return fail(ld, line_of(n), path,
                    "\"%.80s\" does not start with \"/\" (e.g. /hello, /api/..., or /... for "
                    "every path)",
                    s);
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '?' || *c == '#')
            return fail(ld, line_of(n), path,
                        "\"%.80s\" is not a plain path (no spaces, query or fragment)", s);
    size_t len = strlen(s);
    bool prefix = len >= 4 && !strcmp(s + len - 4, "/...");
    size_t base = prefix ? len - 4 : len;
    if (memmem(s, base, "...", 3))
        return fail(ld, line_of(n), path,
                    "\"%.80s\": \"...\" may only end a route, after a \"/\" (e.g. /api/...)", s);
    a->route_prefix = prefix;
    a->route = strdup(s);
    a->route_base = strndup(s, base);
    return a->route && a->route_base ? true : oom(ld);
}

/* "HOST", "HOST:ro", "HOST::GUEST", "HOST::GUEST:ro", exactly as
 * `wasp run --dir` reads them. */
static bool parse_dir_string(loader *ld, yaml_node_t *n, const char *path, srv_dir *d) {
    const char *s = scalar(ld, n, path, "HOST[::GUEST][:ro]");
    if (!s) return false;
    size_t len = strlen(s);
    if (len > 3 && !strcmp(s + len - 3, ":ro")) {
        d->readonly = true;
        len -= 3;
    }
    const char *sep = memmem(s, len, "::", 2);
    size_t hostlen = sep ? (size_t)(sep - s) : len;
    if (hostlen == 0 || (sep && sep + 2 == s + len))
        return fail(ld, line_of(n), path,
                    "\"%.80s\" is not HOST[::GUEST][:ro] (e.g. data::/data:ro)", s);
    char *host = strndup(s, hostlen);
    d->guest = sep ? strndup(sep + 2, (size_t)(s + len - sep - 2)) : strndup(s, hostlen);
    d->host = host ? resolve(ld, host) : NULL;
    free(host);
    return d->host && d->guest ? true : oom(ld);
}

static bool parse_dir_mapping(loader *ld, yaml_node_t *n, const char *path, srv_dir *d) {
    if (!check_keys(ld, n, path, DIR_KEYS)) return false;
    char sub[80];
    const char *host, *guest;
    yaml_node_t *v = find(ld, n, "host");
    if (!v)
        return fail(ld, line_of(n), path, "missing \"host\" (the directory to grant, e.g. ./data)");
    snprintf(sub, sizeof sub, "%s.host", path);
    if (!nonempty(ld, v, sub, "a directory path", &host)) return false;
    if ((v = find(ld, n, "guest"))) {
        snprintf(sub, sizeof sub, "%s.guest", path);
        if (!nonempty(ld, v, sub, "the path the guest sees, e.g. /data", &guest)) return false;
    } else {
        guest = host;
    }
    snprintf(sub, sizeof sub, "%s.readonly", path);
    if ((v = find(ld, n, "readonly")) && !parse_bool(ld, v, sub, &d->readonly)) return false;
    return (d->host = resolve(ld, host)) && (d->guest = xdup(ld, guest));
}

static bool parse_dirs(loader *ld, yaml_node_t *n, const char *path, srv_app_cfg *a) {
    if (is_null(n)) return true;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(n), path, "expected a sequence of directories, got %s", kind(n));
    yaml_node_item_t *items = n->data.sequence.items.start;
    int count = (int)(n->data.sequence.items.top - items);
    if (count == 0) return true;
    if (!(a->dirs = calloc((size_t)count, sizeof *a->dirs))) return oom(ld);
    for (int i = 0; i < count; i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        yaml_node_t *d = node(ld, items[i]);
        a->ndirs = i + 1;
        bool ok;
        if (d->type == YAML_MAPPING_NODE)
            ok = parse_dir_mapping(ld, d, sub, &a->dirs[i]);
        else if (d->type == YAML_SCALAR_NODE)
            ok = parse_dir_string(ld, d, sub, &a->dirs[i]);
        else
            ok =
                fail(ld, line_of(d), sub,
                     "expected \"HOST[::GUEST][:ro]\" or a mapping {host, guest, readonly}, got %s",
                     kind(d));
        if (!ok) return false;
    }
    return true;
}

static bool parse_env(loader *ld, yaml_node_t *n, const char *path, srv_app_cfg *a) {
    if (is_null(n)) return true;
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, line_of(n), path,
                    "expected a mapping of KEY: value (e.g. GREETING: hi), got %s", kind(n));
    if (!check_keys(ld, n, path, NULL)) return false;
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    int count = (int)(n->data.mapping.pairs.top - pairs);
    if (count == 0) return true;
    if (!(a->env = calloc((size_t)count, sizeof *a->env))) return oom(ld);
    for (int i = 0; i < count; i++) {
        yaml_node_t *k = node(ld, pairs[i].key), *v = node(ld, pairs[i].value);
        const char *key = (const char *)k->data.scalar.value;
        if (!is_env_key(key))
            return fail(ld, line_of(k), path,
                        "\"%.80s\" is not a variable name (letters, digits and _, not starting "
                        "with a digit)",
                        key);
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%.80s", path, key);
        if (is_null(v))
            return fail(ld, line_of(v), sub, "has no value (write %s: \"\" for an empty one)", key);
        const char *val = scalar(ld, v, sub, "a scalar value");
        if (!val) return false;
        size_t kl = strlen(key), vl = strlen(val);
        if (!(a->env[i] = malloc(kl + vl + 2))) return oom(ld);
        a->nenv = i + 1;
        memcpy(a->env[i], key, kl);
        a->env[i][kl] = '=';
        memcpy(a->env[i] + kl + 1, val, vl + 1);
    }
    return true;
}

static bool parse_limits(loader *ld, yaml_node_t *n, const char *path, srv_app_cfg *a) {
    if (is_null(n)) return true;
    if (!expect_mapping(ld, n, path,
                        "a mapping of memory, deadline_ms, cpu_ms, fuel, max_concurrency, queue") ||
        !check_keys(ld, n, path, LIMIT_KEYS))
        return false;
    char sub[64];
    yaml_node_t *v;
    uint64_t u;
    snprintf(sub, sizeof sub, "%s.memory", path);
    if ((v = find(ld, n, "memory")) && !parse_memory(ld, v, sub, &a->max_memory_pages))
        return false;
    snprintf(sub, sizeof sub, "%s.deadline_ms", path);
    if ((v = find(ld, n, "deadline_ms"))) {
        if (!uint_in(ld, v, sub, 1, 3600000, "milliseconds, use 1..3600000", &u)) return false;
        a->deadline_ms = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.cpu_ms", path);
    if ((v = find(ld, n, "cpu_ms"))) {
        if (!uint_in(ld, v, sub, 0, 3600000,
                     "milliseconds of running time, 0 for none, use 0..3600000", &u))
            return false;
        a->cpu_ms = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.fuel", path);
    if ((v = find(ld, n, "fuel")) &&
        !uint_in(ld, v, sub, 0, UINT64_MAX, "0 for unlimited, at most 2^64-1", &a->fuel))
        return false;
    snprintf(sub, sizeof sub, "%s.max_concurrency", path);
    if ((v = find(ld, n, "max_concurrency"))) {
        if (!uint_in(ld, v, sub, 1, 100000, "requests in flight per worker, use 1..100000", &u))
            return false;
        a->max_concurrency = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.queue", path);
    if ((v = find(ld, n, "queue"))) {
        if (!uint_in(ld, v, sub, 0, 1000000, "requests waiting per worker, use 0..1000000", &u))
            return false;
        a->queue = (uint32_t)u;
    }
    return true;
}

/* What an app can be granted by name: `kv:` from stores:, `sql:` from
 * databases:. The section is `what` with an "s" ("stores:"). */
typedef struct grantable {
    const char *what;    /* "store", "database" */
    const char *example; /* a sequence of names for messages, e.g. "[notes, shared]" */
    int count;           /* how many the manifest declares */
    const char *(*name)(const srv_manifest *m, int i);
} grantable;

static const char *store_name(const srv_manifest *m, int i) {
    return m->stores[i].name;
}

static const char *database_name(const srv_manifest *m, int i) {
    return m->databases[i].name;
}

static const grantable STORES = {"store", "[notes, shared]", 0, store_name};
static const grantable DATABASES = {"database", "[app, main]", 0, database_name};

/* "no store" names the stores there are, so a typo is plain to see. */
static bool not_declared(loader *ld, yaml_node_t *n, const char *path, const char *name,
                         const srv_manifest *m, const grantable *g) {
    if (g->count == 0)
        return fail(ld, line_of(n), path,
                    "no %s \"%.80s\" (no %ss are declared: add it under %ss:)", g->what, name,
                    g->what, g->what);
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; i < g->count; i++) {
        const char *sep = i ? ", " : "", *declared = g->name(m, i);
        if (used + strlen(sep) + strlen(declared) + 5 >= sizeof list) {
            snprintf(list + used, sizeof list - used, "%s...", sep);
            break;
        }
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", sep, declared);
    }
    return fail(ld, line_of(n), path, "no %s \"%.80s\" (declared: %s)", g->what, name, list);
}

/* A sequence of declared names, none twice, into *out and *nout; `g` is
 * STORES or DATABASES with the manifest's count filled in. */
static bool parse_grants(loader *ld, yaml_node_t *n, const char *path, const srv_manifest *m,
                         const grantable *g, char ***out, int *nout) {
    if (is_null(n)) return true;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(n), path, "expected a sequence of %s names (e.g. %s), got %s",
                    g->what, g->example, kind(n));
    yaml_node_item_t *items = n->data.sequence.items.start;
    int count = (int)(n->data.sequence.items.top - items);
    if (count == 0) return true;
    if (!(*out = calloc((size_t)count, sizeof **out))) return oom(ld);
    char expect[64];
    snprintf(expect, sizeof expect, "the name of a %s declared under %ss:", g->what, g->what);
    for (int i = 0; i < count; i++) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        yaml_node_t *item = node(ld, items[i]);
        const char *s = scalar(ld, item, sub, expect);
        if (!s) return false;
        bool declared = false;
        for (int j = 0; !declared && j < g->count; j++)
            declared = !strcmp(g->name(m, j), s);
        if (!declared) return not_declared(ld, item, sub, s, m, g);
        for (int j = 0; j < i; j++)
            if (!strcmp((*out)[j], s))
                return fail(ld, line_of(item), sub, "%s \"%.80s\" is listed twice (also at %s[%d])",
                            g->what, s, path, j);
        *nout = i + 1;
        if (!((*out)[i] = xdup(ld, s))) return false;
    }
    return true;
}

/* `name: literal`, `name: {env: NAME}` or `name: {secret: NAME}`. */
static bool parse_var(loader *ld, yaml_node_t *k, yaml_node_t *v, const char *path,
                      const srv_manifest *m, srv_var_cfg *var) {
    const char *name = (const char *)k->data.scalar.value, *s;
    var->line = line_of(k);
    if (!is_var_name(name))
        return fail(ld, var->line, path,
                    "\"%.80s\" is not a variable name (letters, digits, _, . and -, starting "
                    "with a letter or _)",
                    name);
    if (!(var->name = xdup(ld, name))) return false;
    char sub[144], field[160];
    snprintf(sub, sizeof sub, "%s.%.80s", path, name);
    if (v->type == YAML_SCALAR_NODE) {
        if (is_null(v))
            return fail(ld, line_of(v), sub, "has no value (write %s: \"\" for an empty one)",
                        name);
        if (!(s = scalar(ld, v, sub, "a value"))) return false;
        var->kind = SRV_VAR_LITERAL;
        return (var->value = xdup(ld, s)) != NULL;
    }
    if (v->type != YAML_MAPPING_NODE)
        return fail(ld, line_of(v), sub, "expected a value, {env: NAME} or {secret: NAME}, got %s",
                    kind(v));
    if (!check_keys(ld, v, sub, VAR_KEYS)) return false;
    yaml_node_t *env = find(ld, v, "env"), *secret = find(ld, v, "secret");
    if (env && secret)
        return fail(ld, var->line, sub,
                    "has both env and secret (a variable comes from one: {env: NAME} or "
                    "{secret: NAME})");
    if (!env && !secret)
        return fail(ld, var->line, sub,
                    "is an empty mapping (expected {env: NAME} or {secret: NAME})");
    snprintf(field, sizeof field, "%s.%s", sub, env ? "env" : "secret");
    if (!nonempty(ld, env ? env : secret, field,
                  env ? "the name of an environment variable" : "the name of a secret", &s))
        return false;
    if (secret && !m->secrets_file)
        return fail(ld, var->line, sub,
                    "{secret: %.80s} needs a secrets: section (the file secrets are read from, "
                    "e.g. secrets: {file: secrets.enc})",
                    s);
    var->kind = env ? SRV_VAR_ENV : SRV_VAR_SECRET;
    return (var->value = xdup(ld, s)) != NULL;
}

static bool parse_vars(loader *ld, yaml_node_t *n, const char *path, const srv_manifest *m,
                       srv_app_cfg *a) {
    if (is_null(n)) return true;
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld, line_of(n), path,
                    "expected a mapping of name: value (e.g. greeting: hello), got %s", kind(n));
    if (!check_keys(ld, n, path, NULL)) return false;
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    int count = (int)(n->data.mapping.pairs.top - pairs);
    if (count == 0) return true;
    if (!(a->vars = calloc((size_t)count, sizeof *a->vars))) return oom(ld);
    for (int i = 0; i < count; i++) {
        a->nvars = i + 1;
        if (!parse_var(ld, node(ld, pairs[i].key), node(ld, pairs[i].value), path, m, &a->vars[i]))
            return false;
    }
    return true;
}

/* ---- outbound HTTP ------------------------------------------------------- */

#define ORIGIN_FORM "an origin is http(s)://host[:port], e.g. https://api.example.com"

/* "http(s)://host[:port]" and nothing else: the capability matches a
 * request's origin against these as strings, so a path, a query or
 * credentials here would be a rule that silently never matches. Returns
 * the origin with its scheme and host lower-cased (malloc'd), or NULL. */
static char *parse_origin(loader *ld, yaml_node_t *n, const char *path) {
    const char *s = scalar(ld, n, path, "an origin such as https://api.example.com");
    if (!s) return NULL;
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) != strspn(s, ALNUM "+-.")) {
        fail(ld, line_of(n), path, "\"%.80s\" is not an origin (%s)", s, ORIGIN_FORM);
        return NULL;
    }
    size_t schemelen = (size_t)(sep - s);
    if (!((schemelen == 4 && !strncasecmp(s, "http", 4)) ||
          (schemelen == 5 && !strncasecmp(s, "https", 5)))) {
        fail(ld, line_of(n), path, "\"%.80s\": scheme \"%.*s\" is not http or https", s,
             (int)schemelen, s);
        return NULL;
    }
    const char *auth = sep + 3, *end = auth + strcspn(auth, "/?#");
    /* not quoted back: what precedes "@" may be a password */
    if (memchr(auth, '@', (size_t)(end - auth))) {
        fail(ld, line_of(n), path,
             "has userinfo (user@ or user:password@): credentials do not belong in an allowed "
             "origin (%s)",
             ORIGIN_FORM);
        return NULL;
    }
    if (!strcmp(end, "/")) {
        fail(ld, line_of(n), path, "\"%.80s\" ends with \"/\" (write it without: %.*s)", s,
             (int)(end - s), s);
        return NULL;
    }
    if (*end) {
        const char *extra = *end == '/' ? "path" : *end == '?' ? "query" : "fragment";
        fail(ld, line_of(n), path, "\"%.80s\" has a %s (%s, nothing after it)", s, extra,
             ORIGIN_FORM);
        return NULL;
    }
    /* the host: a name or an IPv4 address, or an IPv6 address in brackets */
    const char *host = auth, *host_end;
    bool hostok;
    if (*host == '[') {
        const char *close = strchr(host, ']');
        host_end = close ? close + 1 : host + strlen(host);
        hostok =
            close && (size_t)(close - host - 1) == strspn(host + 1, "0123456789abcdefABCDEF:.");
    } else {
        host_end = host + strcspn(host, ":");
        hostok = (size_t)(host_end - host) == strspn(host, ALNUM "-._");
    }
    if (host_end == host || (*host == '[' && host[1] == ']')) {
        fail(ld, line_of(n), path, "\"%.80s\" has an empty host (%s)", s, ORIGIN_FORM);
        return NULL;
    }
    if (!hostok || (*host_end && *host_end != ':')) {
        fail(ld, line_of(n), path,
             "\"%.80s\": the host is not a name or an address (letters, digits, -, . and _, or "
             "an IPv6 address in [])",
             s);
        return NULL;
    }
    if (*host_end == ':') {
        const char *port = host_end + 1;
        uint64_t v;
        if (strlen(port) > 5 || !parse_uint(port, &v) || v < 1 || v > 65535) {
            fail(ld, line_of(n), path, "\"%.80s\": port \"%.20s\" is not a number in 1..65535", s,
                 port);
            return NULL;
        }
    }
    char *out = strdup(s);
    if (!out) {
        oom(ld);
        return NULL;
    }
    for (char *c = out; c < out + (host_end - s); c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    return out;
}

static bool parse_allow(loader *ld, yaml_node_t *n, const char *path, srv_app_cfg *a) {
    if (!is_null(n) && n->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(n), path,
                    "expected a sequence of origins (e.g. [https://api.example.com]), got %s",
                    kind(n));
    yaml_node_item_t *items = is_null(n) ? NULL : n->data.sequence.items.start;
    int count = items ? (int)(n->data.sequence.items.top - items) : 0;
    if (count == 0)
        return fail(ld, line_of(n), path,
                    "is empty (list the origins the app may call, e.g. [https://api.example.com], "
                    "or leave http: out)");
    if (!(a->http_allow = calloc((size_t)count, sizeof *a->http_allow))) return oom(ld);
    for (int i = 0; i < count; i++) {
        char sub[96];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        yaml_node_t *item = node(ld, items[i]);
        char *origin = parse_origin(ld, item, sub);
        if (!origin) return false;
        a->http_allow[i] = origin;
        a->nhttp_allow = i + 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(a->http_allow[j], origin))
                return fail(ld, line_of(item), sub,
                            "origin \"%.80s\" is listed twice (also at %s[%d])", origin, path, j);
    }
    return true;
}

static bool parse_max_response(loader *ld, yaml_node_t *n, const char *path, uint64_t *out) {
    const char *s = scalar(ld, n, path, "a size such as 1MiB");
    if (!s) return false;
    uint64_t bytes = 0;
    size_status st = parse_size(s, &bytes);
    if (st == SIZE_BAD)
        return fail(ld, line_of(n), path,
                    "\"%.80s\" is not a size (use e.g. 1MiB; units B, KiB, MiB, GiB)", s);
    if (st == SIZE_HUGE || bytes > MAX_HTTP_RESPONSE)
        return fail(ld, line_of(n), path, "\"%.80s\" is too large (at most 1GiB)", s);
    if (bytes == 0) return fail(ld, line_of(n), path, "\"%.80s\" is too small (at least 1B)", s);
    *out = bytes;
    return true;
}

/* `line` is the `http:` key's: a missing allow: is reported there. */
static bool parse_http(loader *ld, yaml_node_t *n, int line, const char *path, srv_app_cfg *a) {
    static const char missing[] =
        "missing \"allow\" (the origins the app may call, e.g. allow: [https://api.example.com])";
    if (is_null(n)) return fail(ld, line, path, "%s", missing);
    if (!expect_mapping(ld, n, path, "a mapping of allow, timeout_ms, max_response") ||
        !check_keys(ld, n, path, HTTP_KEYS))
        return false;
    char sub[64];
    yaml_node_t *v;
    uint64_t u;
    if (!(v = find(ld, n, "allow"))) return fail(ld, line, path, "%s", missing);
    snprintf(sub, sizeof sub, "%s.allow", path);
    if (!parse_allow(ld, v, sub, a)) return false;
    snprintf(sub, sizeof sub, "%s.timeout_ms", path);
    if ((v = find(ld, n, "timeout_ms"))) {
        if (!uint_in(ld, v, sub, 1, 600000, "milliseconds, use 1..600000", &u)) return false;
        a->http_timeout_ms = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.max_response", path);
    if ((v = find(ld, n, "max_response")) && !parse_max_response(ld, v, sub, &a->http_max_response))
        return false;
    return true;
}

/* Names and routes must be unique: a request must reach one app, and
 * metrics and logs must say which. */
static bool check_unique(loader *ld, const srv_manifest *m, int i, bool named,
                         yaml_node_t *name_node, yaml_node_t *route_node, const char *path) {
    const srv_app_cfg *a = &m->apps[i];
    for (int j = 0; j < i; j++) {
        const srv_app_cfg *b = &m->apps[j];
        if (!strcmp(a->name, b->name))
            return fail(ld, line_of(name_node), path,
                        "name \"%s\" is already used by apps[%d] (line %d)%s", a->name, j, b->line,
                        named ? "; names must be unique"
                              : "; it comes from the module's file name: set name: to tell "
                                "them apart");
        if (a->iface != SRV_IFACE_FILTER && b->iface != SRV_IFACE_FILTER &&
            a->route_prefix == b->route_prefix && !strcmp(a->route_base, b->route_base))
            return fail(ld, line_of(route_node), path,
                        "route \"%s\" is already served by app \"%s\" (line %d)", a->route, b->name,
                        b->line);
    }
    return true;
}

static bool parse_app(loader *ld, yaml_node_t *n, srv_manifest *m, int i) {
    srv_app_cfg *a = &m->apps[i];
    char path[24], sub[48]; /* each nested level sizes its buffer from these */
    snprintf(path, sizeof path, "apps[%d]", i);
    a->line = line_of(n);
    a->iface = SRV_IFACE_AUTO;
    a->max_memory_pages = SRV_DEFAULT_MEMORY_PAGES;
    a->deadline_ms = SRV_DEFAULT_DEADLINE_MS;
    a->max_concurrency = SRV_DEFAULT_MAX_CONCURRENCY;
    a->queue = SRV_DEFAULT_QUEUE;
    if (!expect_mapping(ld, n, path, "a mapping with route and module") ||
        !check_keys(ld, n, path, APP_KEYS))
        return false;

    yaml_node_t *name = find(ld, n, "name"), *route = find(ld, n, "route");
    yaml_node_t *module = find(ld, n, "module"), *v;
    const char *s;
    if (!module)
        return fail(ld, a->line, path, "missing \"module\" (the .wasm to run, e.g. hello.wasm)");
    snprintf(sub, sizeof sub, "%s.name", path);
    if (name) {
        if (!(s = scalar(ld, name, sub, "a name of A-Za-z0-9_.-"))) return false;
        if (!is_name(s))
            return fail(ld, line_of(name), sub,
                        "\"%.80s\" is not a name (use letters, digits, _, . and -)", s);
        if (!(a->name = xdup(ld, s))) return false;
    }
    snprintf(sub, sizeof sub, "%s.module", path);
    if (!nonempty(ld, module, sub, "the path of a .wasm file", &s)) return false;
    if (!(a->module = resolve(ld, s))) return false;
    if (!name) {
        if (!(a->name = base_name(s))) return oom(ld);
        if (!is_name(a->name))
            return fail(ld, line_of(module), sub,
                        "the file name gives the app name \"%.80s\", which is not a name "
                        "(letters, digits, _, . and -): set name:",
                        a->name);
    }
    snprintf(sub, sizeof sub, "%s.interface", path);
    if ((v = find(ld, n, "interface"))) {
        if (!(s = scalar(ld, v, sub, "wasp, wagi or filter"))) return false;
        if (!strcmp(s, "wasp"))
            a->iface = SRV_IFACE_WASP;
        else if (!strcmp(s, "wagi"))
            a->iface = SRV_IFACE_WAGI;
        else if (!strcmp(s, "filter"))
            a->iface = SRV_IFACE_FILTER;
        else
            return fail(ld, line_of(v), sub,
                        "\"%.80s\" is not an interface (use wasp, wagi or filter, or leave it "
                        "out to choose from the module's exports)",
                        s);
    }
    /* a filter runs in a pipeline, not at a path: an app without a route
     * is one */
    snprintf(sub, sizeof sub, "%s.route", path);
    if (route && a->iface == SRV_IFACE_FILTER)
        return fail(ld, line_of(route), sub,
                    "a filter has no route: it runs in a pipeline (pipelines:), not at a path");
    if (!route && a->iface != SRV_IFACE_AUTO && a->iface != SRV_IFACE_FILTER)
        return fail(ld, a->line, path, "missing \"route\" (the path it serves, e.g. /hello)");
    if (route) {
        if (!parse_route(ld, route, sub, a)) return false;
    } else {
        a->iface = SRV_IFACE_FILTER;
        a->route = xdup(ld, "");
        a->route_base = xdup(ld, "");
        if (!a->route || !a->route_base) return false;
    }
    snprintf(sub, sizeof sub, "%s.tier", path);
    if ((v = find(ld, n, "tier"))) {
        if (!(s = scalar(ld, v, sub, "auto, interp or native"))) return false;
        if (!srv_tier_parse(s, &a->tier))
            return fail(ld, line_of(v), sub,
                        "\"%.80s\" is not a tier (use auto, interp or native, or leave it out for "
                        "the server's --tier)",
                        s);
        a->tier_set = true;
    }
    snprintf(sub, sizeof sub, "%s.env", path);
    if ((v = find(ld, n, "env")) && !parse_env(ld, v, sub, a)) return false;
    snprintf(sub, sizeof sub, "%s.dirs", path);
    if ((v = find(ld, n, "dirs")) && !parse_dirs(ld, v, sub, a)) return false;
    snprintf(sub, sizeof sub, "%s.limits", path);
    if ((v = find(ld, n, "limits")) && !parse_limits(ld, v, sub, a)) return false;
    snprintf(sub, sizeof sub, "%s.init", path);
    if ((v = find(ld, n, "init"))) {
        if (!nonempty(ld, v, sub, "the name of an exported function", &s)) return false;
        if (!(a->init = xdup(ld, s))) return false;
    }
    grantable g = STORES;
    g.count = m->nstores;
    snprintf(sub, sizeof sub, "%s.kv", path);
    if ((v = find(ld, n, "kv")) && !parse_grants(ld, v, sub, m, &g, &a->kv, &a->nkv)) return false;
    snprintf(sub, sizeof sub, "%s.vars", path);
    if ((v = find(ld, n, "vars")) && !parse_vars(ld, v, sub, m, a)) return false;
    g = DATABASES;
    g.count = m->ndatabases;
    snprintf(sub, sizeof sub, "%s.sql", path);
    if ((v = find(ld, n, "sql")) && !parse_grants(ld, v, sub, m, &g, &a->sql, &a->nsql))
        return false;
    yaml_node_pair_t *http = find_pair(ld, n, "http");
    snprintf(sub, sizeof sub, "%s.http", path);
    if (http && !parse_http(ld, node(ld, http->value), line_of(node(ld, http->key)), sub, a))
        return false;
    /* a default name is reported at the mapping: there is no name: line */
    return check_unique(ld, m, i, name != NULL, name ? name : n, route ? route : n, path);
}

/* ---- stores, databases and secrets --------------------------------------- */

/* A key of the other backend is refused rather than ignored: `url:` on a
 * sqlite store most likely means a forgotten `backend: redis`. `what` is
 * "store" or "database". */
static bool other_backend_key(loader *ld, yaml_node_t *map, const char *path, const char *what,
                              const char *key, const char *for_backend, const char *backend) {
    yaml_node_pair_t *p = find_pair(ld, map, key);
    if (!p) return true;
    return fail(ld, line_of(node(ld, p->key)), path,
                "key \"%s\" is only for backend: %s (this %s's backend is %s)", key, for_backend,
                what, backend);
}

/* "<name>.db" next to the manifest, into *path. */
static bool default_db_path(loader *ld, const char *name, char **path) {
    size_t len = strlen(name);
    char *file = malloc(len + 4);
    if (!file) return oom(ld);
    memcpy(file, name, len);
    memcpy(file + len, ".db", 4);
    *path = resolve(ld, file);
    free(file);
    return *path != NULL;
}

static bool parse_sqlite(loader *ld, yaml_node_t *n, const char *path, srv_store_cfg *st) {
    if (!other_backend_key(ld, n, path, "store", "url", "redis", "sqlite") ||
        !other_backend_key(ld, n, path, "store", "prefix", "redis", "sqlite"))
        return false;
    char sub[128];
    const char *s;
    yaml_node_t *v;
    snprintf(sub, sizeof sub, "%s.path", path);
    if ((v = find(ld, n, "path"))) {
        if (!nonempty(ld, v, sub, "the path of the database file", &s)) return false;
        if (!(st->path = resolve(ld, s))) return false;
    } else if (!default_db_path(ld, st->name, &st->path)) {
        return false;
    }
    snprintf(sub, sizeof sub, "%s.durable", path);
    if ((v = find(ld, n, "durable"))) {
        if (!(s = scalar(ld, v, sub, "normal or full"))) return false;
        if (!strcmp(s, "full"))
            st->durable_full = true;
        else if (strcmp(s, "normal") != 0)
            return fail(ld, line_of(v), sub, "\"%.80s\" is not normal or full", s);
    }
    return true;
}

static bool parse_redis(loader *ld, yaml_node_t *n, const char *path, srv_store_cfg *st) {
    if (!other_backend_key(ld, n, path, "store", "path", "sqlite", "redis") ||
        !other_backend_key(ld, n, path, "store", "durable", "sqlite", "redis"))
        return false;
    char sub[128];
    const char *s;
    yaml_node_t *v;
    snprintf(sub, sizeof sub, "%s.url", path);
    if (!(v = find(ld, n, "url")))
        return fail(ld, st->line, path,
                    "missing \"url\" (a redis store needs one, e.g. redis://127.0.0.1:6379/0)");
    if (!nonempty(ld, v, sub, "a URL such as redis://127.0.0.1:6379/0", &s)) return false;
    /* not quoted back: the URL may hold a password */
    if (strncmp(s, "redis://", 8) != 0 || !s[8])
        return fail(ld, line_of(v), sub,
                    "is not a redis:// URL (use redis://[:password@]host[:port][/db])");
    if (!(st->url = xdup(ld, s))) return false;
    snprintf(sub, sizeof sub, "%s.prefix", path);
    if ((v = find(ld, n, "prefix"))) {
        if (!(s = scalar(ld, v, sub, "a key prefix such as \"myapp:\""))) return false;
        if (!(st->prefix = xdup(ld, s))) return false;
    }
    return true;
}

/* `NAME:` alone is a sqlite store with every default. */
static bool parse_store(loader *ld, yaml_node_t *k, yaml_node_t *n, srv_store_cfg *st) {
    const char *name = (const char *)k->data.scalar.value;
    char path[96], sub[128];
    st->line = line_of(k);
    st->backend = SRV_STORE_SQLITE;
    if (!is_name(name))
        return fail(ld, st->line, "stores",
                    "\"%.80s\" is not a store name (use letters, digits, _, . and -)", name);
    if (!(st->name = xdup(ld, name))) return false;
    if (is_null(n)) return default_db_path(ld, st->name, &st->path);
    snprintf(path, sizeof path, "stores.%.80s", name);
    if (!expect_mapping(ld, n, path, "a mapping of backend, path, durable, url, prefix") ||
        !check_keys(ld, n, path, STORE_KEYS))
        return false;
    yaml_node_t *v = find(ld, n, "backend");
    snprintf(sub, sizeof sub, "%s.backend", path);
    if (v) {
        const char *s = scalar(ld, v, sub, "sqlite or redis");
        if (!s) return false;
        if (!strcmp(s, "redis"))
            st->backend = SRV_STORE_REDIS;
        else if (strcmp(s, "sqlite") != 0)
            return fail(ld, line_of(v), sub, "\"%.80s\" is not a backend (use sqlite or redis)", s);
    }
    return st->backend == SRV_STORE_REDIS ? parse_redis(ld, n, path, st)
                                          : parse_sqlite(ld, n, path, st);
}

static bool parse_stores(loader *ld, yaml_node_t *n, srv_manifest *m) {
    if (is_null(n)) return true;
    if (!expect_mapping(ld, n, "stores",
                        "a mapping of store names to their settings (e.g. notes: {backend: "
                        "sqlite})") ||
        !check_keys(ld, n, "stores", NULL))
        return false;
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    int count = (int)(n->data.mapping.pairs.top - pairs);
    if (count == 0) return true;
    if (!(m->stores = calloc((size_t)count, sizeof *m->stores))) return oom(ld);
    for (int i = 0; i < count; i++) {
        m->nstores = i + 1;
        if (!parse_store(ld, node(ld, pairs[i].key), node(ld, pairs[i].value), &m->stores[i]))
            return false;
    }
    return true;
}

/* The settings both backends share: the pool and how long to wait for it. */
static bool parse_pool(loader *ld, yaml_node_t *n, const char *path, srv_db_cfg *db) {
    char sub[128];
    yaml_node_t *v;
    uint64_t u;
    snprintf(sub, sizeof sub, "%s.pool_size", path);
    if ((v = find(ld, n, "pool_size"))) {
        if (!uint_in(ld, v, sub, 1, 1024, "connections, use 1..1024", &u)) return false;
        db->pool_size = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.acquire_timeout_ms", path);
    if ((v = find(ld, n, "acquire_timeout_ms"))) {
        if (!uint_in(ld, v, sub, 1, 600000, "milliseconds, use 1..600000", &u)) return false;
        db->acquire_timeout_ms = (uint32_t)u;
    }
    return true;
}

static bool parse_db_sqlite(loader *ld, yaml_node_t *n, const char *path, srv_db_cfg *db) {
    if (!other_backend_key(ld, n, path, "database", "url", "postgres", "sqlite")) return false;
    char sub[128];
    const char *s;
    yaml_node_t *v;
    snprintf(sub, sizeof sub, "%s.path", path);
    if ((v = find(ld, n, "path"))) {
        if (!nonempty(ld, v, sub, "the path of the database file", &s)) return false;
        return (db->path = resolve(ld, s)) != NULL;
    }
    return default_db_path(ld, db->name, &db->path);
}

static bool parse_db_postgres(loader *ld, yaml_node_t *n, const char *path, srv_db_cfg *db) {
    if (!other_backend_key(ld, n, path, "database", "path", "sqlite", "postgres")) return false;
    char sub[128];
    const char *s;
    yaml_node_t *v;
    snprintf(sub, sizeof sub, "%s.url", path);
    if (!(v = find(ld, n, "url")))
        return fail(ld, db->line, path,
                    "missing \"url\" (a postgres database needs one, e.g. "
                    "postgresql://user@127.0.0.1:5432/dbname)");
    if (!nonempty(ld, v, sub, "a URL such as postgresql://user@127.0.0.1:5432/dbname", &s))
        return false;
    /* not quoted back: the URL may hold a password */
    bool scheme = !strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11);
    if (!scheme || !strcmp(s, "postgresql://") || !strcmp(s, "postgres://"))
        return fail(ld, line_of(v), sub,
                    "is not a postgresql:// or postgres:// URL (use "
                    "postgresql://[user[:password]@]host[:port]/dbname)");
    return (db->url = xdup(ld, s)) != NULL;
}

/* `NAME:` alone is a sqlite database with every default. */
static bool parse_database(loader *ld, yaml_node_t *k, yaml_node_t *n, srv_db_cfg *db) {
    const char *name = (const char *)k->data.scalar.value;
    char path[96], sub[128];
    db->line = line_of(k);
    db->backend = SRV_DB_SQLITE;
    if (!is_name(name))
        return fail(ld, db->line, "databases",
                    "\"%.80s\" is not a database name (use letters, digits, _, . and -)", name);
    if (!(db->name = xdup(ld, name))) return false;
    if (is_null(n)) return default_db_path(ld, db->name, &db->path);
    snprintf(path, sizeof path, "databases.%.80s", name);
    if (!expect_mapping(ld, n, path,
                        "a mapping of backend, path, url, pool_size, acquire_timeout_ms") ||
        !check_keys(ld, n, path, DATABASE_KEYS))
        return false;
    yaml_node_t *v = find(ld, n, "backend");
    snprintf(sub, sizeof sub, "%s.backend", path);
    if (v) {
        const char *s = scalar(ld, v, sub, "sqlite or postgres");
        if (!s) return false;
        if (!strcmp(s, "postgres"))
            db->backend = SRV_DB_POSTGRES;
        else if (strcmp(s, "sqlite") != 0)
            return fail(ld, line_of(v), sub, "\"%.80s\" is not a backend (use sqlite or postgres)",
                        s);
    }
    bool ok = db->backend == SRV_DB_POSTGRES ? parse_db_postgres(ld, n, path, db)
                                             : parse_db_sqlite(ld, n, path, db);
    return ok && parse_pool(ld, n, path, db);
}

static bool parse_databases(loader *ld, yaml_node_t *n, srv_manifest *m) {
    if (is_null(n)) return true;
    if (!expect_mapping(ld, n, "databases",
                        "a mapping of database names to their settings (e.g. app: {backend: "
                        "sqlite})") ||
        !check_keys(ld, n, "databases", NULL))
        return false;
    yaml_node_pair_t *pairs = n->data.mapping.pairs.start;
    int count = (int)(n->data.mapping.pairs.top - pairs);
    if (count == 0) return true;
    if (!(m->databases = calloc((size_t)count, sizeof *m->databases))) return oom(ld);
    for (int i = 0; i < count; i++) {
        m->ndatabases = i + 1;
        if (!parse_database(ld, node(ld, pairs[i].key), node(ld, pairs[i].value), &m->databases[i]))
            return false;
    }
    return true;
}

/* `line` is the `secrets:` key's: a missing file is reported there. */
static bool parse_secrets(loader *ld, yaml_node_t *n, int line, srv_manifest *m) {
    static const char missing[] =
        "missing \"file\" (the encrypted secrets file, e.g. file: secrets.enc)";
    if (is_null(n)) return fail(ld, line, "secrets", "%s", missing);
    if (!expect_mapping(ld, n, "secrets", "a mapping of file, key_file, key_env") ||
        !check_keys(ld, n, "secrets", SECRETS_KEYS))
        return false;
    const char *s;
    yaml_node_t *v;
    if (!(v = find(ld, n, "file"))) return fail(ld, line, "secrets", "%s", missing);
    if (!nonempty(ld, v, "secrets.file", "the path of the secrets file", &s)) return false;
    if (!(m->secrets_file = resolve(ld, s))) return false;
    if ((v = find(ld, n, "key_file"))) {
        if (!nonempty(ld, v, "secrets.key_file", "the path of the key file", &s)) return false;
        if (!(m->secrets_key_file = resolve(ld, s))) return false;
    }
    s = DEFAULT_SECRETS_KEY_ENV;
    if ((v = find(ld, n, "key_env"))) {
        if (!(s = scalar(ld, v, "secrets.key_env", "an environment variable's name"))) return false;
        if (!is_env_key(s))
            return fail(ld, line_of(v), "secrets.key_env",
                        "\"%.80s\" is not a variable name (letters, digits and _, not starting "
                        "with a digit)",
                        s);
    }
    return (m->secrets_key_env = xdup(ld, s)) != NULL;
}

/* ---- the document -------------------------------------------------------- */

/* ---- pipelines --------------------------------------------------------------- */

static bool is_spec(const char *s, const char *scheme) {
    return !strncmp(s, scheme, strlen(scheme));
}

/* A sink, as `wasp pipe --to` reads it; a file is resolved against the
 * manifest's directory, a kv:STORE must be declared. */
static bool parse_sink(loader *ld, yaml_node_t *n, const char *path, const srv_manifest *m,
                       char **out) {
    const char *s;
    if (!nonempty(ld, n, path, "-, a file, redis://HOST/STREAM, kv:STORE or an http(s) URL", &s))
        return false;
    if (is_spec(s, "kv:")) {
        for (int i = 0; i < m->nstores; i++)
            if (!strcmp(m->stores[i].name, s + 3)) return (*out = xdup(ld, s)) != NULL;
        grantable g = STORES;
        g.count = m->nstores;
        return not_declared(ld, n, path, s + 3, m, &g);
    }
    if (!strcmp(s, "-") || is_spec(s, "redis://") || is_spec(s, "http://") ||
        is_spec(s, "https://"))
        return (*out = xdup(ld, s)) != NULL;
    return (*out = resolve(ld, s)) != NULL;
}

static bool parse_pipeline(loader *ld, yaml_node_t *n, srv_manifest *m, int i) {
    srv_pipeline_cfg *pl = &m->pipelines[i];
    char path[32], sub[56];
    snprintf(path, sizeof path, "pipelines[%d]", i);
    pl->line = line_of(n);
    pl->flush_ms = -1;
    if (!expect_mapping(ld, n, path, "a mapping with name, from, to and filters") ||
        !check_keys(ld, n, path, PIPELINE_KEYS))
        return false;
    yaml_node_t *v;
    const char *s;
    snprintf(sub, sizeof sub, "%s.name", path);
    if (!(v = find(ld, n, "name"))) return fail(ld, pl->line, path, "missing \"name\"");
    if (!(s = scalar(ld, v, sub, "a name of A-Za-z0-9_.-"))) return false;
    if (!is_name(s))
        return fail(ld, line_of(v), sub,
                    "\"%.80s\" is not a name (use letters, digits, _, . and -)", s);
    for (int k = 0; k < i; k++)
        if (!strcmp(m->pipelines[k].name, s))
            return fail(ld, line_of(v), sub, "name \"%.80s\" is already used by pipelines[%d]", s,
                        k);
    if (!(pl->name = xdup(ld, s))) return false;
    snprintf(sub, sizeof sub, "%s.from", path);
    if (!(v = find(ld, n, "from")))
        return fail(ld, pl->line, path,
                    "missing \"from\" (http, a file or glob, or redis://HOST/STREAM?group=G)");
    if (!nonempty(ld, v, sub, "http, a file or glob, or redis://HOST/STREAM?group=G", &s))
        return false;
    if (!strcmp(s, "-"))
        return fail(ld, line_of(v), sub,
                    "stdin is not a source under wasp serve (use http, a file or a stream)");
    bool http = !strcmp(s, "http");
    pl->from = http || is_spec(s, "redis://") ? xdup(ld, s) : resolve(ld, s);
    if (!pl->from) return false;
    snprintf(sub, sizeof sub, "%s.follow", path);
    if ((v = find(ld, n, "follow"))) {
        if (!parse_bool(ld, v, sub, &pl->follow)) return false;
        if (pl->follow && (http || is_spec(pl->from, "redis://")))
            return fail(ld, line_of(v), sub, "follow reads a growing file; from is not a file");
    }
    snprintf(sub, sizeof sub, "%s.route", path);
    if ((v = find(ld, n, "route"))) {
        if (!http)
            return fail(ld, line_of(v), sub, "a route is where batches are POSTed: from: http");
        srv_app_cfg tmp = {0};
        if (!parse_route(ld, v, sub, &tmp)) return false;
        free(tmp.route_base);
        pl->route = tmp.route;
        if (tmp.route_prefix)
            return fail(ld, line_of(v), sub, "an ingest route is one path, not a prefix (/...)");
    } else if (http) {
        size_t len = strlen(pl->name) + 16;
        if (!(pl->route = malloc(len))) return oom(ld);
        snprintf(pl->route, len, "/pipelines/%s", pl->name);
    }
    snprintf(sub, sizeof sub, "%s.to", path);
    if ((v = find(ld, n, "to"))) {
        if (!parse_sink(ld, v, sub, m, &pl->to)) return false;
    } else if (!(pl->to = xdup(ld, "-"))) {
        return false;
    }
    snprintf(sub, sizeof sub, "%s.dead_letter", path);
    if ((v = find(ld, n, "dead_letter"))) {
        if (!parse_sink(ld, v, sub, m, &pl->dead_letter)) return false;
    } else if (!(pl->dead_letter = xdup(ld, "-"))) {
        return false;
    }
    snprintf(sub, sizeof sub, "%s.format", path);
    if ((v = find(ld, n, "format"))) {
        if (!(s = scalar(ld, v, sub, "lines or ndjson"))) return false;
        if (!strcmp(s, "csv"))
            return fail(ld, line_of(v), sub,
                        "csv is read by wasp pipe only (its header goes to the filters' init); "
                        "here, use lines and give the filters the header as a var");
        if (strcmp(s, "lines") && strcmp(s, "ndjson"))
            return fail(ld, line_of(v), sub, "\"%.80s\" is not a format (use lines or ndjson)", s);
        if (!(pl->format = xdup(ld, s))) return false;
    } else if (!(pl->format = xdup(ld, "lines"))) {
        return false;
    }
    snprintf(sub, sizeof sub, "%s.filters", path);
    if (!(v = find(ld, n, "filters")))
        return fail(ld, pl->line, path, "missing \"filters\" (the names of filter apps, in order)");
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(v), sub, "expected a sequence of app names, got %s", kind(v));
    yaml_node_item_t *items = v->data.sequence.items.start;
    int count = (int)(v->data.sequence.items.top - items);
    if (count == 0) return fail(ld, line_of(v), sub, "is empty (name one filter app or more)");
    if (!(pl->filters = calloc((size_t)count, sizeof *pl->filters))) return oom(ld);
    for (int k = 0; k < count; k++) {
        yaml_node_t *f = node(ld, items[k]);
        char fsub[72];
        snprintf(fsub, sizeof fsub, "%s[%d]", sub, k);
        if (!(s = scalar(ld, f, fsub, "an app name"))) return false;
        int a = 0;
        while (a < m->napps && strcmp(m->apps[a].name, s))
            a++;
        if (a == m->napps) return fail(ld, line_of(f), fsub, "no app \"%.80s\"", s);
        if (m->apps[a].iface != SRV_IFACE_FILTER)
            return fail(ld, line_of(f), fsub,
                        "app \"%.80s\" (line %d) is not a filter (give it interface: filter and "
                        "no route)",
                        s, m->apps[a].line);
        if (!(pl->filters[k] = xdup(ld, s))) return false;
        pl->nfilters = k + 1;
    }
    uint64_t u;
    snprintf(sub, sizeof sub, "%s.workers", path);
    if ((v = find(ld, n, "workers"))) {
        if (!uint_in(ld, v, sub, 1, 1024, "use 1..1024", &u)) return false;
        pl->workers = (int)u;
    }
    snprintf(sub, sizeof sub, "%s.batch", path);
    if ((v = find(ld, n, "batch"))) {
        if (!uint_in(ld, v, sub, 1, 1000000, "use 1..1000000 records", &u)) return false;
        pl->batch_records = (uint32_t)u;
    }
    snprintf(sub, sizeof sub, "%s.flush_ms", path);
    if ((v = find(ld, n, "flush_ms"))) {
        if (!uint_in(ld, v, sub, 0, 86400000, "use 0..86400000", &u)) return false;
        pl->flush_ms = (int)u;
    }
    return true;
}

/* Each pipeline fed over HTTP gets an app without a module at its route,
 * named "pipeline:NAME" (a name no app can have), so that its requests go
 * through the router, limits, queues, logs and metrics as any app's. */
static bool add_ingest_apps(loader *ld, srv_manifest *m) {
    int extra = 0;
    for (int i = 0; i < m->npipelines; i++)
        extra += m->pipelines[i].route != NULL;
    if (!extra) return true;
    srv_app_cfg *apps = realloc(m->apps, (size_t)(m->napps + extra) * sizeof *apps);
    if (!apps) return oom(ld);
    m->apps = apps;
    for (int i = 0; i < m->npipelines; i++) {
        const srv_pipeline_cfg *pl = &m->pipelines[i];
        if (!pl->route) continue;
        for (int k = 0; k < m->napps; k++)
            if (m->apps[k].iface != SRV_IFACE_FILTER && !m->apps[k].route_prefix &&
                !strcmp(m->apps[k].route_base, pl->route))
                return fail(ld, pl->line, "pipelines",
                            "pipeline %s's route %s is already served by %s (line %d)", pl->name,
                            pl->route, m->apps[k].name, m->apps[k].line);
        srv_app_cfg *a = &m->apps[m->napps++];
        memset(a, 0, sizeof *a);
        a->line = pl->line;
        a->iface = SRV_IFACE_INGEST;
        size_t len = strlen(pl->name) + 16;
        if (!(a->name = malloc(len))) return oom(ld);
        snprintf(a->name, len, "pipeline:%s", pl->name);
        a->route = xdup(ld, pl->route);
        a->route_base = xdup(ld, pl->route);
        a->module = xdup(ld, "");
        if (!a->route || !a->route_base || !a->module) return false;
        a->max_memory_pages = 0;
        /* how long a client waits for its batch to be written */
        a->deadline_ms = 30000;
        a->max_concurrency = SRV_DEFAULT_MAX_CONCURRENCY;
        a->queue = SRV_DEFAULT_QUEUE;
    }
    return true;
}

static bool parse_pipelines(loader *ld, yaml_node_t *v, srv_manifest *m) {
    if (is_null(v)) return true;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(v), "pipelines",
                    "expected a sequence of pipelines (\"- name: ...\"), got %s", kind(v));
    yaml_node_item_t *items = v->data.sequence.items.start;
    int count = (int)(v->data.sequence.items.top - items);
    if (!count) return true;
    if (!(m->pipelines = calloc((size_t)count, sizeof *m->pipelines))) return oom(ld);
    for (int i = 0; i < count; i++) {
        m->npipelines = i + 1;
        if (!parse_pipeline(ld, node(ld, items[i]), m, i)) return false;
    }
    return add_ingest_apps(ld, m);
}

static bool parse_top(loader *ld, srv_manifest *m) {
    yaml_node_t *root = yaml_document_get_root_node(&ld->doc), *v;
    if (!root || is_null(root))
        return fail(ld, 1, "", "the manifest is empty (it needs apps:, a list of apps)");
    if (!expect_mapping(ld, root, "",
                        "a mapping of listen, admin, workers, stores, databases, secrets, apps, "
                        "pipelines") ||
        !check_keys(ld, root, "", TOP_KEYS))
        return false;
    const char *s;
    if ((v = find(ld, root, "listen"))) {
        if (!(s = scalar(ld, v, "listen", "ADDR:PORT"))) return false;
        if (!is_addr_port(s))
            return fail(ld, line_of(v), "listen",
                        "\"%.80s\" is not ADDR:PORT (e.g. 127.0.0.1:8080)", s);
        if (!(m->listen = xdup(ld, s))) return false;
    }
    if ((v = find(ld, root, "admin"))) {
        if (!(s = scalar(ld, v, "admin", "ADDR:PORT or off"))) return false;
        if (strcmp(s, "off") != 0 && !is_addr_port(s))
            return fail(ld, line_of(v), "admin",
                        "\"%.80s\" is not ADDR:PORT or off (e.g. 127.0.0.1:9090)", s);
        if (!(m->admin = xdup(ld, s))) return false;
    }
    if ((v = find(ld, root, "workers"))) {
        uint64_t w;
        if (!uint_in(ld, v, "workers", 1, 1024, "use 1..1024", &w)) return false;
        m->workers = (int)w;
    }
    if ((v = find(ld, root, "stores")) && !parse_stores(ld, v, m)) return false;
    if ((v = find(ld, root, "databases")) && !parse_databases(ld, v, m)) return false;
    yaml_node_pair_t *secrets = find_pair(ld, root, "secrets");
    if (secrets && !parse_secrets(ld, node(ld, secrets->value), line_of(node(ld, secrets->key)), m))
        return false;
    if (!(v = find(ld, root, "apps")))
        return fail(ld, line_of(root), "",
                    "missing \"apps\" (a list of apps, each with route and module)");
    if (!is_null(v) && v->type != YAML_SEQUENCE_NODE)
        return fail(ld, line_of(v), "apps",
                    "expected a sequence of apps (\"- route: ...\"), got %s", kind(v));
    yaml_node_item_t *items = is_null(v) ? NULL : v->data.sequence.items.start;
    int count = items ? (int)(v->data.sequence.items.top - items) : 0;
    if (count == 0)
        return fail(ld, line_of(v), "apps",
                    "is empty (list at least one app with route and module)");
    if (!(m->apps = calloc((size_t)count, sizeof *m->apps))) return oom(ld);
    for (int i = 0; i < count; i++) {
        m->napps = i + 1; /* so srv_manifest_free sees what is half built */
        if (!parse_app(ld, node(ld, items[i]), m, i)) return false;
    }
    if ((v = find(ld, root, "pipelines")) && !parse_pipelines(ld, v, m)) return false;
    return true;
}

/* libyaml reports reader errors (bad UTF-8, a failed read) as a byte
 * offset; users think in lines. */
static int line_at_offset(FILE *fp, size_t offset) {
    int line = 1, c;
    rewind(fp);
    for (size_t i = 0; i < offset && (c = getc(fp)) != EOF; i++)
        line += c == '\n';
    return line;
}

static bool parser_error(loader *ld, yaml_parser_t *p, FILE *fp) {
    if (p->error == YAML_MEMORY_ERROR) return oom(ld);
    if (p->error == YAML_READER_ERROR)
        return fail(ld, line_at_offset(fp, p->problem_offset), "",
                    "%s at byte %zu (a manifest is UTF-8 text)", p->problem, p->problem_offset);
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        return fail(ld, (int)p->problem_mark.line + 1, "", "YAML syntax error: %s (%s on line %d)",
                    problem, p->context, (int)p->context_mark.line + 1);
    return fail(ld, (int)p->problem_mark.line + 1, "", "YAML syntax error: %s", problem);
}

/* Loads the one document of the file into ld->doc (deleted by the caller
 * only on success: libyaml deletes it itself on error). */
static bool read_document(loader *ld, FILE *fp) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return oom(ld);
    yaml_parser_set_input_file(&p, fp);
    bool ok = yaml_parser_load(&p, &ld->doc);
    if (!ok) {
        parser_error(ld, &p, fp);
    } else {
        /* a second document would be silently ignored: refuse it */
        yaml_document_t extra;
        if (!yaml_parser_load(&p, &extra)) {
            ok = parser_error(ld, &p, fp);
        } else {
            yaml_node_t *r = yaml_document_get_root_node(&extra);
            if (r)
                ok = fail(ld, (int)extra.start_mark.line + 1, "",
                          "a second YAML document (after \"---\"): a manifest is one document");
            yaml_document_delete(&extra);
        }
        if (!ok) yaml_document_delete(&ld->doc);
    }
    yaml_parser_delete(&p);
    return ok;
}

srv_manifest *srv_manifest_load(const char *path, char *err, size_t errlen) {
    loader ld = {.file = path, .err = err, .errlen = errlen};
    FILE *fp = fopen(path, "rb");
    struct stat st;
    if (fp && fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        fp = NULL;
        errno = EISDIR;
    }
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    srv_manifest *m = calloc(1, sizeof *m);
    const char *slash = strrchr(path, '/');
    bool ok = m && (m->path = strdup(path)) != NULL;
    if (ok && slash)
        ok = (ld.dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) != NULL;
    if (!ok) oom(&ld);
    if (ok && read_document(&ld, fp)) {
        ok = parse_top(&ld, m);
        yaml_document_delete(&ld.doc);
    } else {
        ok = false;
    }
    fclose(fp);
    free(ld.dir);
    if (!ok) {
        srv_manifest_free(m);
        return NULL;
    }
    return m;
}

srv_manifest *srv_manifest_single(const char *module_path, char *err, size_t errlen) {
    if (!module_path || !*module_path) {
        snprintf(err, errlen, "no module given: name a .wasm file to serve");
        return NULL;
    }
    srv_manifest *m = calloc(1, sizeof *m);
    srv_app_cfg *a = m ? calloc(1, sizeof *a) : NULL;
    if (a) {
        m->apps = a;
        m->napps = 1;
        a->name = base_name(module_path);
        a->route = strdup("/...");
        a->route_base = strdup("");
        a->route_prefix = true;
        a->module = strdup(module_path);
        a->iface = SRV_IFACE_AUTO;
        a->max_memory_pages = SRV_DEFAULT_MEMORY_PAGES;
        a->deadline_ms = SRV_DEFAULT_DEADLINE_MS;
        a->max_concurrency = SRV_DEFAULT_MAX_CONCURRENCY;
        a->queue = SRV_DEFAULT_QUEUE;
    }
    if (!a || !a->name || !a->route || !a->route_base || !a->module) {
        srv_manifest_free(m);
        snprintf(err, errlen, "%s: out of memory", module_path);
        return NULL;
    }
    return m;
}

srv_manifest *srv_manifest_filters(const char *const *paths, int n, char *err, size_t errlen) {
    if (n <= 0) {
        snprintf(err, errlen, "no filter given: name one .wasm file or more");
        return NULL;
    }
    srv_manifest *m = calloc(1, sizeof *m);
    srv_app_cfg *apps = m ? calloc((size_t)n, sizeof *apps) : NULL;
    if (!apps) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->apps = apps;
    for (int i = 0; i < n; i++) {
        srv_app_cfg *a = &apps[i];
        m->napps = i + 1;
        char *base = base_name(paths[i]);
        int same = 1; /* this file name's how many-th use */
        for (int k = 0; base && k < i; k++) {
            char *other = base_name(paths[k]);
            same += other && !strcmp(other, base);
            free(other);
        }
        if (base && same > 1) {
            size_t len = strlen(base) + 16;
            a->name = malloc(len);
            if (a->name) snprintf(a->name, len, "%s-%d", base, same);
            free(base);
        } else {
            a->name = base;
        }
        a->route = strdup("");
        a->route_base = strdup("");
        a->module = strdup(paths[i]);
        a->iface = SRV_IFACE_FILTER;
        a->max_memory_pages = SRV_DEFAULT_MEMORY_PAGES;
        a->deadline_ms = SRV_DEFAULT_DEADLINE_MS;
        a->max_concurrency = 1;
        if (!a->name || !a->route || !a->route_base || !a->module) {
            srv_manifest_free(m);
            snprintf(err, errlen, "%s: out of memory", paths[i]);
            return NULL;
        }
    }
    return m;
}

static void app_free(srv_app_cfg *a) {
    free(a->name);
    free(a->route);
    free(a->route_base);
    free(a->module);
    for (int i = 0; i < a->nenv; i++)
        free(a->env[i]);
    free(a->env);
    for (int i = 0; i < a->ndirs; i++) {
        free(a->dirs[i].host);
        free(a->dirs[i].guest);
    }
    free(a->dirs);
    free(a->init);
    for (int i = 0; i < a->nkv; i++)
        free(a->kv[i]);
    free(a->kv);
    for (int i = 0; i < a->nvars; i++) {
        free(a->vars[i].name);
        free(a->vars[i].value);
    }
    free(a->vars);
    for (int i = 0; i < a->nsql; i++)
        free(a->sql[i]);
    free(a->sql);
    for (int i = 0; i < a->nhttp_allow; i++)
        free(a->http_allow[i]);
    free(a->http_allow);
}

void srv_manifest_free(srv_manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->napps; i++)
        app_free(&m->apps[i]);
    free(m->apps);
    for (int i = 0; i < m->nstores; i++) {
        free(m->stores[i].name);
        free(m->stores[i].path);
        free(m->stores[i].url);
        free(m->stores[i].prefix);
    }
    free(m->stores);
    for (int i = 0; i < m->ndatabases; i++) {
        free(m->databases[i].name);
        free(m->databases[i].path);
        free(m->databases[i].url);
    }
    free(m->databases);
    for (int i = 0; i < m->npipelines; i++) {
        srv_pipeline_cfg *pl = &m->pipelines[i];
        free(pl->name);
        free(pl->from);
        free(pl->route);
        free(pl->to);
        free(pl->dead_letter);
        free(pl->format);
        for (int k = 0; k < pl->nfilters; k++)
            free(pl->filters[k]);
        free(pl->filters);
    }
    free(m->pipelines);
    free(m->secrets_file);
    free(m->secrets_key_file);
    free(m->secrets_key_env);
    free(m->path);
    free(m->listen);
    free(m->admin);
    free(m);
}
