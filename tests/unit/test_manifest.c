/*
 * test_manifest.c - srv_manifest_load and srv_manifest_single: every key of
 * wasp.yaml with its value, default and path resolution; routes, dir
 * strings and mappings, sizes in every unit; stores, databases, secrets
 * and the apps' kv, sql and vars that refer to them; outbound HTTP origins
 * and limits; and each kind of mistake a user can make, checking the line the message points at and
 * the words that tell them what to fix. Each test writes its YAML into a fresh mkdtemp directory;
 * the loader never looks at the module files, so none are created. Under ASan
 * (build/asan/unit_tests) these also show that every error path frees what it had built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server.h"
#include "unit.h"

typedef struct tmp_manifest {
    char dir[64];   /* the mkdtemp directory (removed again by load_text) */
    char file[96];  /* dir/wasp.yaml */
    char want[256]; /* scratch for expected strings */
} tmp_manifest;

/* Writes `yaml` to a new DIR/wasp.yaml, loads it, and removes both. */
static srv_manifest *load_text(tmp_manifest *t, const char *yaml, char *err, size_t errlen) {
    snprintf(t->dir, sizeof t->dir, "/tmp/wasp_manifest_XXXXXX");
    if (!mkdtemp(t->dir)) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        return NULL;
    }
    snprintf(t->file, sizeof t->file, "%s/wasp.yaml", t->dir);
    FILE *f = fopen(t->file, "wb");
    if (!f || fwrite(yaml, 1, strlen(yaml), f) != strlen(yaml) || fclose(f) != 0) {
        snprintf(err, errlen, "writing %s failed", t->file);
        return NULL;
    }
    srv_manifest *m = srv_manifest_load(t->file, err, errlen);
    unlink(t->file);
    rmdir(t->dir);
    return m;
}

/* DIR/rel, the way the loader resolves a relative path. */
static const char *in_dir(tmp_manifest *t, const char *rel) {
    snprintf(t->want, sizeof t->want, "%s/%s", t->dir, rel);
    return t->want;
}

/* The load must fail with "DIR/wasp.yaml:LINE: " and `phrase` in it. */
static void expect_error(const char *file, int line, const char *yaml, int want_line,
                         const char *phrase) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (m) {
        unit_fail(file, line, "expected an error at line %d saying \"%s\", but it loaded",
                  want_line, phrase);
        srv_manifest_free(m);
        return;
    }
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s:%d: ", t.file, want_line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, phrase))
        unit_fail(file, line, "expected \"%s...%s...\", got \"%s\"", prefix, phrase, err);
}

#define EXPECT_ERROR(yaml, line, phrase) expect_error(__FILE__, __LINE__, yaml, line, phrase)

/* One app, three lines; APP (below) is the same at the top of a manifest. */
#define APP_LINES "apps:\n  - route: /x\n    module: x.wasm\n"

/* One app with `limits: memory: SIZE`: its pages, or 0 when it fails. */
static uint32_t memory_pages(const char *size, char *err, size_t errlen) {
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "apps:\n  - route: /x\n    module: x.wasm\n    limits:\n      memory: %s\n", size);
    tmp_manifest t = {0};
    srv_manifest *m = load_text(&t, yaml, err, errlen);
    uint32_t pages = m ? m->apps[0].max_memory_pages : 0;
    srv_manifest_free(m);
    return pages;
}

TEST(manifest_full_with_every_key) {
    static const char yaml[] = "# a comment first\n"        /* 1 */
                               "listen: 127.0.0.1:8080\n"   /* 2 */
                               "admin: 127.0.0.1:9090\n"    /* 3 */
                               "workers: 3\n"               /* 4 */
                               "apps:\n"                    /* 5 */
                               "  - name: hello\n"          /* 6 */
                               "    route: /hello\n"        /* 7 */
                               "    module: hello.wasm\n"   /* 8 */
                               "    interface: wasp\n"      /* 9 */
                               "    env:\n"                 /* 10 */
                               "      GREETING: hi there\n" /* 11 */
                               "      EMPTY: \"\"\n"        /* 12 */
                               "      PORT: 8080\n"         /* 13 */
                               "    dirs:\n"                /* 14 */
                               "      - data::/data:ro\n"   /* 15 */
                               "      - {host: ./public, guest: /public, readonly: true}\n"
                               "      - /abs/path\n"       /* 17 */
                               "      - host: logs\n"      /* 18 */
                               "        readonly: false\n" /* 19 */
                               "    limits:\n"             /* 20 */
                               "      memory: 64MiB\n"     /* 21 */
                               "      deadline_ms: 1000\n" /* 22 */
                               "      fuel: 1000000\n"     /* 23 */
                               "    init: wizer_init\n"    /* 24 */
                               "\n"                        /* 25 */
                               "  - route: /api/...\n"     /* 26 */
                               "    module: /opt/wasm/api.wasm\n"
                               "    interface: wagi\n" /* 28 */
                               "  - route: /...\n"     /* 29 */
                               "    module: ./sub/all.wasm\n";
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_STR(m->path, t.file);
    CHECK_STR(m->listen, "127.0.0.1:8080");
    CHECK_STR(m->admin, "127.0.0.1:9090");
    CHECK_EQ_S64(m->workers, 3);
    REQUIRE(m->napps == 3);

    const srv_app_cfg *a = &m->apps[0];
    CHECK_STR(a->name, "hello");
    CHECK_STR(a->route, "/hello");
    CHECK_STR(a->route_base, "/hello");
    CHECK(!a->route_prefix);
    CHECK_STR(a->module, in_dir(&t, "hello.wasm"));
    CHECK_EQ_S64(a->iface, SRV_IFACE_WASP);
    REQUIRE(a->nenv == 3);
    CHECK_STR(a->env[0], "GREETING=hi there");
    CHECK_STR(a->env[1], "EMPTY=");
    CHECK_STR(a->env[2], "PORT=8080");
    REQUIRE(a->ndirs == 4);
    CHECK_STR(a->dirs[0].host, in_dir(&t, "data"));
    CHECK_STR(a->dirs[0].guest, "/data");
    CHECK(a->dirs[0].readonly);
    CHECK_STR(a->dirs[1].host, in_dir(&t, "public"));
    CHECK_STR(a->dirs[1].guest, "/public");
    CHECK(a->dirs[1].readonly);
    CHECK_STR(a->dirs[2].host, "/abs/path");
    CHECK_STR(a->dirs[2].guest, "/abs/path");
    CHECK(!a->dirs[2].readonly);
    CHECK_STR(a->dirs[3].host, in_dir(&t, "logs"));
    CHECK_STR(a->dirs[3].guest, "logs"); /* the host path as written */
    CHECK(!a->dirs[3].readonly);
    CHECK_EQ_U64(a->max_memory_pages, 1024);
    CHECK_EQ_U64(a->deadline_ms, 1000);
    CHECK_EQ_U64(a->fuel, 1000000);
    CHECK_STR(a->init, "wizer_init");
    CHECK_EQ_S64(a->line, 6);

    a = &m->apps[1]; /* every default */
    CHECK_STR(a->name, "api");
    CHECK_STR(a->route, "/api/...");
    CHECK_STR(a->route_base, "/api");
    CHECK(a->route_prefix);
    CHECK_STR(a->module, "/opt/wasm/api.wasm"); /* absolute: unchanged */
    CHECK_EQ_S64(a->iface, SRV_IFACE_WAGI);
    CHECK_EQ_S64(a->nenv, 0);
    CHECK_EQ_PTR(a->env, NULL);
    CHECK_EQ_S64(a->ndirs, 0);
    CHECK_EQ_PTR(a->dirs, NULL);
    CHECK_EQ_U64(a->max_memory_pages, SRV_DEFAULT_MEMORY_PAGES);
    CHECK_EQ_U64(a->deadline_ms, SRV_DEFAULT_DEADLINE_MS);
    CHECK_EQ_U64(a->fuel, 0);
    CHECK_EQ_PTR(a->init, NULL);
    CHECK_EQ_S64(a->line, 26);

    a = &m->apps[2];
    CHECK_STR(a->name, "all");
    CHECK_STR(a->route, "/...");
    CHECK_STR(a->route_base, "");
    CHECK(a->route_prefix);
    CHECK_STR(a->module, in_dir(&t, "sub/all.wasm"));
    CHECK_EQ_S64(a->iface, SRV_IFACE_AUTO);
    CHECK_EQ_S64(a->line, 29);
    srv_manifest_free(m);
}

TEST(manifest_minimal_has_defaults_and_admin_off) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "admin: off\n"
                                "apps:\n"
                                "- {route: /, module: a.wasm}\n"
                                "- route: /b\n"
                                "  module: b.wasm\n"
                                "  env:\n"
                                "  dirs:\n"
                                "  limits:\n",
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_EQ_PTR(m->listen, NULL);
    CHECK_STR(m->admin, "off");
    CHECK_EQ_S64(m->workers, 0);
    REQUIRE(m->napps == 2);
    CHECK_EQ_S64(m->apps[0].line, 3);
    CHECK_STR(m->apps[0].route_base, "/");
    CHECK(!m->apps[0].route_prefix);
    /* empty env:, dirs: and limits: mean "none" / the defaults */
    CHECK_EQ_S64(m->apps[1].nenv, 0);
    CHECK_EQ_S64(m->apps[1].ndirs, 0);
    CHECK_EQ_U64(m->apps[1].max_memory_pages, SRV_DEFAULT_MEMORY_PAGES);
    CHECK_EQ_U64(m->apps[1].deadline_ms, SRV_DEFAULT_DEADLINE_MS);
    srv_manifest_free(m);
}

/* Issue 12: `tier:` per app, else the server's --tier (tier_set false). */
TEST(manifest_tier_per_app) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "apps:\n"
                                "- {route: /a, module: a.wasm, tier: native}\n"
                                "- {route: /b, module: b.wasm, tier: interp}\n"
                                "- {route: /c, module: c.wasm}\n"
                                "- {route: /d, module: d.wasm, tier: auto}\n",
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL && m->napps == 4);
    CHECK(m->apps[0].tier_set);
    CHECK(m->apps[0].tier == SRV_TIER_NATIVE);
    CHECK(m->apps[1].tier_set);
    CHECK(m->apps[1].tier == SRV_TIER_INTERP);
    CHECK(!m->apps[2].tier_set);
    CHECK(m->apps[3].tier_set);
    CHECK(m->apps[3].tier == SRV_TIER_AUTO);
    srv_manifest_free(m);
    EXPECT_ERROR(APP_LINES "    tier: jit\n", 4,
                 "apps[0].tier: \"jit\" is not a tier (use auto, interp or native");
}

TEST(manifest_routes_exact_and_prefix) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "apps:\n"
                                "  - {route: /x, module: a.wasm}\n"
                                "  - {route: /x/..., module: b.wasm}\n"
                                "  - {route: /x/, module: c.wasm}\n"
                                "  - {route: /a/b/c/..., module: d.wasm}\n"
                                "  - {route: /, module: e.wasm}\n"
                                "  - {route: /..., module: f.wasm}\n",
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    REQUIRE(m->napps == 6);
    static const struct {
        const char *base;
        bool prefix;
    } want[] = {{"/x", false},    {"/x", true}, {"/x/", false},
                {"/a/b/c", true}, {"/", false}, {"", true}};
    for (int i = 0; i < 6; i++) {
        CHECK_STR(m->apps[i].route_base, want[i].base);
        CHECK_EQ_U64(m->apps[i].route_prefix, want[i].prefix);
    }
    CHECK_STR(m->apps[3].route, "/a/b/c/...");
    srv_manifest_free(m);
}

TEST(manifest_dir_strings_read_like_run_dir) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "apps:\n"
                                "  - route: /x\n"
                                "    module: x.wasm\n"
                                "    dirs:\n"
                                "      - a\n"
                                "      - a:ro\n"
                                "      - a::/b\n"
                                "      - a::/b:ro\n"
                                "      - a::b::c\n"
                                "      - .\n"
                                "      - /srv/www::/:ro\n"
                                "      - {host: /h, guest: /g}\n",
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    const srv_app_cfg *a = &m->apps[0];
    REQUIRE(a->ndirs == 8);
    static const struct {
        const char *host; /* NULL: DIR/a */
        const char *guest;
        bool ro;
    } want[] = {{NULL, "a", false},      {NULL, "a", true},     {NULL, "/b", false},
                {NULL, "/b", true},      {NULL, "b::c", false}, {"", ".", false},
                {"/srv/www", "/", true}, {"/h", "/g", false}};
    for (int i = 0; i < 8; i++) {
        const char *host = want[i].host ? want[i].host : in_dir(&t, "a");
        if (want[i].host && !*want[i].host) host = t.dir; /* "." is the manifest's directory */
        CHECK_STR(a->dirs[i].host, host);
        CHECK_STR(a->dirs[i].guest, want[i].guest);
        CHECK_EQ_U64(a->dirs[i].readonly, want[i].ro);
    }
    srv_manifest_free(m);
}

TEST(manifest_without_directory_keeps_relative_paths) {
    /* "wasp.yaml" in the working directory: paths stay as written */
    char dir[64] = "/tmp/wasp_manifest_XXXXXX", cwd[4096], err[512] = "";
    REQUIRE(mkdtemp(dir) != NULL);
    REQUIRE(getcwd(cwd, sizeof cwd) != NULL);
    REQUIRE(chdir(dir) == 0);
    FILE *f = fopen("wasp.yaml", "w");
    if (f) {
        fputs("apps:\n  - route: /x\n    module: x.wasm\n    dirs: [data]\n", f);
        fclose(f);
    }
    srv_manifest *m = srv_manifest_load("wasp.yaml", err, sizeof err);
    unlink("wasp.yaml");
    CHECK(chdir(cwd) == 0);
    rmdir(dir);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_STR(m->path, "wasp.yaml");
    CHECK_STR(m->apps[0].module, "x.wasm");
    REQUIRE(m->apps[0].ndirs == 1);
    CHECK_STR(m->apps[0].dirs[0].host, "data");
    srv_manifest_free(m);
}

TEST(manifest_sizes_in_every_unit_round_up_to_pages) {
    static const struct {
        const char *size;
        uint32_t pages;
    } ok[] = {
        {"1", 1},
        {"65536", 1},
        {"65537", 2},
        {"1B", 1},
        {"65536B", 1},
        {"64KiB", 1},
        {"65KiB", 2},
        {"64K", 1},
        {"1MiB", 16},
        {"1M", 16},
        {"1 MiB", 16},
        {"128MiB", 2048},
        {"1GiB", 16384},
        {"1G", 16384},
        {"4GiB", 65536},
        {"4294967296", 65536},
        {"4194304KiB", 65536},
        {"4096M", 65536},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[512] = "";
        uint32_t pages = memory_pages(ok[i].size, err, sizeof err);
        if (pages != ok[i].pages)
            unit_fail(__FILE__, __LINE__, "memory: %s: expected %u pages, got %u (%s)", ok[i].size,
                      ok[i].pages, pages, err);
    }
    static const struct {
        const char *size, *phrase;
    } bad[] = {
        {"12XB", "\"12XB\" is not a size (use e.g. 64MiB"},
        {"64mib", "is not a size"},
        {"1.5GiB", "is not a size"},
        {"-1MiB", "is not a size"},
        {"MiB", "is not a size"},
        {"5GiB", "\"5GiB\" is too large (at most 4GiB)"},
        {"4294967297", "is too large"},
        {"4097MiB", "is too large"},
        {"99999999999999999999999GiB", "is too large"},
        {"17179869184G", "is too large"},
        {"0", "\"0\" is too small (at least 64KiB)"},
        {"0GiB", "is too small"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        uint32_t pages = memory_pages(bad[i].size, err, sizeof err);
        if (pages || !strstr(err, bad[i].phrase) ||
            !strstr(err, "wasp.yaml:5: apps[0].limits.memory: "))
            unit_fail(__FILE__, __LINE__,
                      "memory: %s: expected an error at line 5 saying \"%s\", got "
                      "%u pages, \"%s\"",
                      bad[i].size, bad[i].phrase, pages, err);
    }
}

TEST(manifest_stores_secrets_kv_and_vars) {
    static const char yaml[] = "stores:\n"                           /* 1 */
                               "  notes:\n"                          /* 2 */
                               "    backend: sqlite\n"               /* 3 */
                               "    path: data/notes.db\n"           /* 4 */
                               "    durable: full\n"                 /* 5 */
                               "  shared:\n"                         /* 6 */
                               "    backend: redis\n"                /* 7 */
                               "    url: redis://127.0.0.1:6379/0\n" /* 8 */
                               "    prefix: \"myapp:\"\n"            /* 9 */
                               "  cache: {}\n"                       /* 10 */
                               "  plain.v2:\n"                       /* 11 */
                               "  abs: {path: /var/lib/x.db, durable: normal}\n"
                               "  r2: {backend: redis, url: \"redis://:pw@db:6380/2\"}\n"
                               "secrets:\n"                       /* 14 */
                               "  file: secrets.enc\n"            /* 15 */
                               "  key_file: ./keys/secrets.key\n" /* 16 */
                               "apps:\n"                          /* 17 */
                               "  - name: notes\n"                /* 18 */
                               "    route: /notes/...\n"          /* 19 */
                               "    module: notes.wasm\n"         /* 20 */
                               "    kv: [notes, shared]\n"        /* 21 */
                               "    vars:\n"                      /* 22 */
                               "      greeting: hello\n"          /* 23 */
                               "      home: {env: HOME}\n"        /* 24 */
                               "      token: {secret: api_token}\n"
                               "      port: 8080\n"              /* 26 */
                               "      debug: false\n"            /* 27 */
                               "      empty: \"\"\n"             /* 28 */
                               "      _x.y-z:\n"                 /* 29 */
                               "        env: X_Y\n"              /* 30 */
                               "      quoted: \"{env: HOME}\"\n" /* 31 */
                               "  - route: /other\n"             /* 32 */
                               "    module: other.wasm\n"        /* 33 */
                               "    kv:\n"                       /* 34 */
                               "      - cache\n"                 /* 35 */
                               "  - {route: /bare, module: bare.wasm, kv: [], vars: {}}\n"
                               "  - {route: /nulls, module: nulls.wasm, kv: , vars: }\n";
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    REQUIRE(m->nstores == 6);

    const srv_store_cfg *st = &m->stores[0];
    CHECK_STR(st->name, "notes");
    CHECK_EQ_S64(st->backend, SRV_STORE_SQLITE);
    CHECK_STR(st->path, in_dir(&t, "data/notes.db"));
    CHECK(st->durable_full);
    CHECK_EQ_PTR(st->url, NULL);
    CHECK_EQ_PTR(st->prefix, NULL);
    CHECK_EQ_S64(st->line, 2);

    st = &m->stores[1];
    CHECK_STR(st->name, "shared");
    CHECK_EQ_S64(st->backend, SRV_STORE_REDIS);
    CHECK_EQ_PTR(st->path, NULL);
    CHECK(!st->durable_full);
    CHECK_STR(st->url, "redis://127.0.0.1:6379/0");
    CHECK_STR(st->prefix, "myapp:");
    CHECK_EQ_S64(st->line, 6);

    st = &m->stores[2]; /* every default: sqlite, "<name>.db" next to the manifest, normal */
    CHECK_STR(st->name, "cache");
    CHECK_EQ_S64(st->backend, SRV_STORE_SQLITE);
    CHECK_STR(st->path, in_dir(&t, "cache.db"));
    CHECK(!st->durable_full);
    CHECK_EQ_S64(st->line, 10);

    st = &m->stores[3]; /* a name alone: the same defaults */
    CHECK_STR(st->name, "plain.v2");
    CHECK_EQ_S64(st->backend, SRV_STORE_SQLITE);
    CHECK_STR(st->path, in_dir(&t, "plain.v2.db"));
    CHECK(!st->durable_full);
    CHECK_EQ_S64(st->line, 11);

    st = &m->stores[4];
    CHECK_STR(st->path, "/var/lib/x.db");
    CHECK(!st->durable_full);

    st = &m->stores[5];
    CHECK_EQ_S64(st->backend, SRV_STORE_REDIS);
    CHECK_STR(st->url, "redis://:pw@db:6380/2");
    CHECK_EQ_PTR(st->prefix, NULL);

    CHECK_STR(m->secrets_file, in_dir(&t, "secrets.enc"));
    CHECK_STR(m->secrets_key_file, in_dir(&t, "keys/secrets.key"));
    CHECK_STR(m->secrets_key_env, "WASP_SECRETS_KEY"); /* set even with a key file */

    REQUIRE(m->napps == 4);
    const srv_app_cfg *a = &m->apps[0];
    REQUIRE(a->nkv == 2);
    CHECK_STR(a->kv[0], "notes");
    CHECK_STR(a->kv[1], "shared");
    REQUIRE(a->nvars == 8);
    static const struct {
        const char *name;
        srv_var_kind kind;
        const char *value;
        int line;
    } want[] = {
        {"greeting", SRV_VAR_LITERAL, "hello", 23}, {"home", SRV_VAR_ENV, "HOME", 24},
        {"token", SRV_VAR_SECRET, "api_token", 25}, {"port", SRV_VAR_LITERAL, "8080", 26},
        {"debug", SRV_VAR_LITERAL, "false", 27},    {"empty", SRV_VAR_LITERAL, "", 28},
        {"_x.y-z", SRV_VAR_ENV, "X_Y", 29},         {"quoted", SRV_VAR_LITERAL, "{env: HOME}", 31},
    };
    for (int i = 0; i < 8; i++) {
        CHECK_STR(a->vars[i].name, want[i].name);
        CHECK_EQ_S64(a->vars[i].kind, want[i].kind);
        CHECK_STR(a->vars[i].value, want[i].value);
        CHECK_EQ_S64(a->vars[i].line, want[i].line);
    }

    a = &m->apps[1];
    REQUIRE(a->nkv == 1);
    CHECK_STR(a->kv[0], "cache");
    CHECK_EQ_S64(a->nvars, 0);
    CHECK_EQ_PTR(a->vars, NULL);
    for (int i = 2; i < 4; i++) { /* empty and null kv: and vars: grant nothing */
        a = &m->apps[i];
        CHECK_EQ_S64(a->nkv, 0);
        CHECK_EQ_PTR(a->kv, NULL);
        CHECK_EQ_S64(a->nvars, 0);
        CHECK_EQ_PTR(a->vars, NULL);
    }
    srv_manifest_free(m);
}

TEST(manifest_secrets_key_env_and_no_capabilities) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "secrets: {file: /etc/wasp/secrets.enc, key_env: MY_KEY}\n"
                                "stores:\n" APP_LINES,
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_STR(m->secrets_file, "/etc/wasp/secrets.enc");
    CHECK_EQ_PTR(m->secrets_key_file, NULL);
    CHECK_STR(m->secrets_key_env, "MY_KEY");
    CHECK_EQ_S64(m->nstores, 0); /* an empty stores: declares none */
    CHECK_EQ_PTR(m->stores, NULL);
    srv_manifest_free(m);

    m = load_text(&t, APP_LINES, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_EQ_S64(m->nstores, 0);
    CHECK_EQ_PTR(m->stores, NULL);
    CHECK_EQ_PTR(m->secrets_file, NULL);
    CHECK_EQ_PTR(m->secrets_key_file, NULL);
    CHECK_EQ_PTR(m->secrets_key_env, NULL);
    CHECK_EQ_S64(m->apps[0].nkv, 0);
    CHECK_EQ_S64(m->apps[0].nvars, 0);
    srv_manifest_free(m);
}

TEST(manifest_databases_sql_and_http) {
    static const char yaml[] =
        "databases:\n"                  /* 1 */
        "  app:\n"                      /* 2 */
        "    backend: sqlite\n"         /* 3 */
        "    path: data/app.db\n"       /* 4 */
        "    pool_size: 4\n"            /* 5 */
        "    acquire_timeout_ms: 500\n" /* 6 */
        "  main:\n"                     /* 7 */
        "    backend: postgres\n"       /* 8 */
        "    url: postgresql://wasp@127.0.0.1:5432/wasp\n"
        "    pool_size: 1024\n"            /* 10 */
        "    acquire_timeout_ms: 600000\n" /* 11 */
        "  cache: {}\n"                    /* 12 */
        "  plain.v2:\n"                    /* 13 */
        "  pg2: {backend: postgres, url: \"postgres://u:pw@db/x\"}\n"
        "  abs: {path: /var/lib/x.db, pool_size: 1, acquire_timeout_ms: 1}\n"
        "apps:\n"                             /* 16 */
        "  - name: notes\n"                   /* 17 */
        "    route: /notes/...\n"             /* 18 */
        "    module: notes.wasm\n"            /* 19 */
        "    sql: [app, main]\n"              /* 20 */
        "    http:\n"                         /* 21 */
        "      allow:\n"                      /* 22 */
        "        - https://api.example.com\n" /* 23 */
        "        - HTTP://127.0.0.1:9999\n"   /* 24 */
        "        - HTTPS://API.Example.COM:8443\n"
        "        - http://[::1]:8080\n" /* 26 */
        "        - https://[FE80::1]\n" /* 27 */
        "        - http://My-Host_1.internal:1\n"
        "      timeout_ms: 5000\n"   /* 29 */
        "      max_response: 1MiB\n" /* 30 */
        "  - route: /other\n"        /* 31 */
        "    module: other.wasm\n"   /* 32 */
        "    sql:\n"                 /* 33 */
        "      - cache\n"            /* 34 */
        "    http: {allow: [http://localhost:65535], max_response: 65536}\n"
        "  - {route: /bare, module: bare.wasm, sql: [],\n" /* 36 */
        "     http: {allow: [https://a.b], timeout_ms: 1, max_response: 1 GiB}}\n"
        "  - {route: /nulls, module: nulls.wasm, sql: }\n";
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    REQUIRE(m->ndatabases == 6);

    const srv_db_cfg *db = &m->databases[0];
    CHECK_STR(db->name, "app");
    CHECK_EQ_S64(db->backend, SRV_DB_SQLITE);
    CHECK_STR(db->path, in_dir(&t, "data/app.db"));
    CHECK_EQ_PTR(db->url, NULL);
    CHECK_EQ_U64(db->pool_size, 4);
    CHECK_EQ_U64(db->acquire_timeout_ms, 500);
    CHECK_EQ_S64(db->line, 2);

    db = &m->databases[1];
    CHECK_STR(db->name, "main");
    CHECK_EQ_S64(db->backend, SRV_DB_POSTGRES);
    CHECK_EQ_PTR(db->path, NULL);
    CHECK_STR(db->url, "postgresql://wasp@127.0.0.1:5432/wasp");
    CHECK_EQ_U64(db->pool_size, 1024);
    CHECK_EQ_U64(db->acquire_timeout_ms, 600000);
    CHECK_EQ_S64(db->line, 7);

    db = &m->databases[2]; /* every default: sqlite, "<name>.db" next to the manifest */
    CHECK_STR(db->name, "cache");
    CHECK_EQ_S64(db->backend, SRV_DB_SQLITE);
    CHECK_STR(db->path, in_dir(&t, "cache.db"));
    CHECK_EQ_U64(db->pool_size, 0);
    CHECK_EQ_U64(db->acquire_timeout_ms, 0);
    CHECK_EQ_S64(db->line, 12);

    db = &m->databases[3]; /* a name alone: the same defaults */
    CHECK_STR(db->name, "plain.v2");
    CHECK_EQ_S64(db->backend, SRV_DB_SQLITE);
    CHECK_STR(db->path, in_dir(&t, "plain.v2.db"));
    CHECK_EQ_U64(db->pool_size, 0);
    CHECK_EQ_U64(db->acquire_timeout_ms, 0);
    CHECK_EQ_S64(db->line, 13);

    db = &m->databases[4];
    CHECK_EQ_S64(db->backend, SRV_DB_POSTGRES);
    CHECK_STR(db->url, "postgres://u:pw@db/x");
    CHECK_EQ_U64(db->pool_size, 0);
    CHECK_EQ_U64(db->acquire_timeout_ms, 0);

    db = &m->databases[5];
    CHECK_STR(db->path, "/var/lib/x.db");
    CHECK_EQ_U64(db->pool_size, 1);
    CHECK_EQ_U64(db->acquire_timeout_ms, 1);

    REQUIRE(m->napps == 4);
    const srv_app_cfg *a = &m->apps[0];
    REQUIRE(a->nsql == 2);
    CHECK_STR(a->sql[0], "app");
    CHECK_STR(a->sql[1], "main");
    REQUIRE(a->nhttp_allow == 6);
    /* the scheme and host lower-cased, the rest as written */
    CHECK_STR(a->http_allow[0], "https://api.example.com");
    CHECK_STR(a->http_allow[1], "http://127.0.0.1:9999");
    CHECK_STR(a->http_allow[2], "https://api.example.com:8443");
    CHECK_STR(a->http_allow[3], "http://[::1]:8080");
    CHECK_STR(a->http_allow[4], "https://[fe80::1]");
    CHECK_STR(a->http_allow[5], "http://my-host_1.internal:1");
    CHECK_EQ_U64(a->http_timeout_ms, 5000);
    CHECK_EQ_U64(a->http_max_response, 1048576);

    a = &m->apps[1];
    REQUIRE(a->nsql == 1);
    CHECK_STR(a->sql[0], "cache");
    REQUIRE(a->nhttp_allow == 1);
    CHECK_STR(a->http_allow[0], "http://localhost:65535");
    CHECK_EQ_U64(a->http_timeout_ms, 0); /* the capability's default */
    CHECK_EQ_U64(a->http_max_response, 65536);

    a = &m->apps[2]; /* an empty sql: grants nothing */
    CHECK_EQ_S64(a->nsql, 0);
    CHECK_EQ_PTR(a->sql, NULL);
    REQUIRE(a->nhttp_allow == 1);
    CHECK_STR(a->http_allow[0], "https://a.b");
    CHECK_EQ_U64(a->http_timeout_ms, 1);
    CHECK_EQ_U64(a->http_max_response, (uint64_t)1 << 30);

    a = &m->apps[3]; /* a null sql: and no http: */
    CHECK_EQ_S64(a->nsql, 0);
    CHECK_EQ_PTR(a->sql, NULL);
    CHECK_EQ_S64(a->nhttp_allow, 0);
    CHECK_EQ_PTR(a->http_allow, NULL);
    CHECK_EQ_U64(a->http_timeout_ms, 0);
    CHECK_EQ_U64(a->http_max_response, 0);
    srv_manifest_free(m);
}

TEST(manifest_databases_read_before_apps_and_empty) {
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t,
                                "apps:\n  - {route: /x, module: x.wasm, sql: [late]}\n"
                                "databases:\n  late:\n",
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    REQUIRE(m->ndatabases == 1);
    CHECK_STR(m->databases[0].path, in_dir(&t, "late.db"));
    REQUIRE(m->apps[0].nsql == 1);
    CHECK_STR(m->apps[0].sql[0], "late");
    srv_manifest_free(m);

    m = load_text(&t, "databases:\n" APP_LINES, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_EQ_S64(m->ndatabases, 0); /* an empty databases: declares none */
    CHECK_EQ_PTR(m->databases, NULL);
    srv_manifest_free(m);
}

/* One app with `http: {allow: [https://a.b], max_response: SIZE}`: its
 * bytes, or 0 when it fails. */
static uint64_t max_response(const char *size, char *err, size_t errlen) {
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "apps:\n  - route: /x\n    module: x.wasm\n    http:\n      allow: [https://a.b]\n"
             "      max_response: %s\n",
             size);
    tmp_manifest t = {0};
    srv_manifest *m = load_text(&t, yaml, err, errlen);
    uint64_t bytes = m ? m->apps[0].http_max_response : 0;
    srv_manifest_free(m);
    return bytes;
}

TEST(manifest_http_max_response_in_every_unit) {
    static const struct {
        const char *size;
        uint64_t bytes;
    } ok[] = {
        {"1", 1},
        {"1B", 1},
        {"65537", 65537}, /* no rounding to pages */
        {"1KiB", 1024},
        {"3K", 3072},
        {"1 MiB", 1048576},
        {"16M", 16777216},
        {"1GiB", 1073741824},
        {"1G", 1073741824},
        {"1073741824", 1073741824},
        {"1048576KiB", 1073741824},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[512] = "";
        uint64_t bytes = max_response(ok[i].size, err, sizeof err);
        if (bytes != ok[i].bytes)
            unit_fail(__FILE__, __LINE__, "max_response: %s: expected %llu bytes, got %llu (%s)",
                      ok[i].size, (unsigned long long)ok[i].bytes, (unsigned long long)bytes, err);
    }
    static const struct {
        const char *size, *phrase;
    } bad[] = {
        {"lots", "\"lots\" is not a size (use e.g. 1MiB; units B, KiB, MiB, GiB)"},
        {"1mb", "is not a size"},
        {"1.5MiB", "is not a size"},
        {"-1", "is not a size"},
        {"2GiB", "\"2GiB\" is too large (at most 1GiB)"},
        {"1073741825", "is too large"},
        {"1025M", "is too large"},
        {"99999999999999999999999GiB", "is too large"},
        {"0", "\"0\" is too small (at least 1B)"},
        {"0KiB", "is too small"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        uint64_t bytes = max_response(bad[i].size, err, sizeof err);
        if (bytes || !strstr(err, bad[i].phrase) ||
            !strstr(err, "wasp.yaml:6: apps[0].http.max_response: "))
            unit_fail(__FILE__, __LINE__,
                      "max_response: %s: expected an error at line 6 saying \"%s\", got "
                      "%llu bytes, \"%s\"",
                      bad[i].size, bad[i].phrase, (unsigned long long)bytes, err);
    }
}

/* ---- errors --------------------------------------------------------------- */

#define APP APP_LINES /* lines 1-3 */

TEST(manifest_error_unknown_keys) {
    EXPECT_ERROR(APP "    limts:\n      memory: 1MiB\n", 4,
                 "apps[0]: unknown key \"limts\" (expected name, route, module, interface, env, "
                 "dirs, limits, init, kv, vars, sql, http, tier)");
    EXPECT_ERROR("lisen: 127.0.0.1:8080\n" APP, 1,
                 "unknown key \"lisen\" (expected listen, admin, workers, stores, databases, "
                 "secrets, apps, pipelines)");
    EXPECT_ERROR(APP "    limits:\n      memroy: 1MiB\n", 5,
                 "apps[0].limits: unknown key \"memroy\" (expected memory, deadline_ms, cpu_ms, "
                 "fuel, max_concurrency, queue)");
    EXPECT_ERROR(APP "    dirs:\n      - {host: a, ro: true}\n", 5,
                 "apps[0].dirs[0]: unknown key \"ro\" (expected host, guest, readonly)");
    EXPECT_ERROR(APP "    route: /y\n", 4,
                 "apps[0]: key \"route\" appears twice (first on line 2)");
}

TEST(manifest_error_wrong_types) {
    EXPECT_ERROR("apps:\n  - route: [/a, /b]\n    module: x.wasm\n", 2,
                 "apps[0].route: expected a route such as /hello or /api/..., got a sequence");
    EXPECT_ERROR("apps:\n  route: /x\n", 2, "apps: expected a sequence of apps");
    EXPECT_ERROR("- route: /x\n", 1,
                 "expected a mapping of listen, admin, workers, stores, databases, secrets, apps, "
                 "pipelines, got a sequence");
    EXPECT_ERROR("apps:\n  - /x\n", 2,
                 "apps[0]: expected a mapping with route and module, got a "
                 "scalar");
    EXPECT_ERROR(APP "    env:\n      - A=1\n", 5, "apps[0].env: expected a mapping of KEY: value");
    EXPECT_ERROR(APP "    env:\n      A: {b: 1}\n", 5,
                 "apps[0].env.A: expected a scalar value, "
                 "got a mapping");
    EXPECT_ERROR(APP "    dirs: data\n", 4, "apps[0].dirs: expected a sequence of directories");
    EXPECT_ERROR(APP "    dirs:\n      - [a, b]\n", 5,
                 "apps[0].dirs[0]: expected \"HOST[::GUEST][:ro]\" or a mapping");
    EXPECT_ERROR(APP "    limits: 64MiB\n", 4, "apps[0].limits: expected a mapping of memory");
    EXPECT_ERROR(APP "    init:\n", 4, "apps[0].init: has no value");
    EXPECT_ERROR(APP "    dirs:\n      - {host: a, readonly: yes}\n", 5,
                 "apps[0].dirs[0].readonly: \"yes\" is not true or false");
}

/* Issue 11: how many requests of an app a worker takes on at once, and
 * how many it keeps waiting beyond those. */
TEST(manifest_concurrency_limits) {
    static const char yaml[] = APP_LINES "    limits:\n      max_concurrency: 7\n      queue: 0\n"
                                         "      cpu_ms: 25\n"
                                         "  - route: /y\n    module: y.wasm\n";
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    REQUIRE(m->napps == 2);
    CHECK_EQ_U64(m->apps[0].max_concurrency, 7);
    CHECK_EQ_U64(m->apps[0].queue, 0);
    CHECK_EQ_U64(m->apps[1].max_concurrency, SRV_DEFAULT_MAX_CONCURRENCY);
    CHECK_EQ_U64(m->apps[1].queue, SRV_DEFAULT_QUEUE);
    CHECK_EQ_U64(m->apps[0].cpu_ms, 25);
    CHECK_EQ_U64(m->apps[1].cpu_ms, 0); /* none unless set */
    srv_manifest_free(m);
    EXPECT_ERROR(APP "    limits:\n      cpu_ms: 3600001\n", 5,
                 "apps[0].limits.cpu_ms: 3600001 is out of range (milliseconds of running time, 0 "
                 "for none, use 0..3600000)");
    EXPECT_ERROR(APP "    limits:\n      cpu_ms: 10ms\n", 5,
                 "apps[0].limits.cpu_ms: \"10ms\" is not a whole number");
    EXPECT_ERROR(APP "    limits:\n      max_concurrency: 0\n", 5,
                 "apps[0].limits.max_concurrency: 0 is out of range (requests in flight per "
                 "worker, use 1..100000)");
    EXPECT_ERROR(APP "    limits:\n      queue: -1\n", 5,
                 "apps[0].limits.queue: \"-1\" is not a whole number");
}

TEST(manifest_error_bad_numbers) {
    EXPECT_ERROR(APP "    limits:\n      deadline_ms: 0\n", 5,
                 "apps[0].limits.deadline_ms: 0 is out of range (milliseconds, use 1..3600000)");
    EXPECT_ERROR(APP "    limits:\n      deadline_ms: 1s\n", 5,
                 "apps[0].limits.deadline_ms: \"1s\" is not a whole number");
    EXPECT_ERROR(APP "    limits:\n      deadline_ms: 3600001\n", 5, "is out of range");
    EXPECT_ERROR(APP "    limits:\n      fuel: -1\n", 5,
                 "apps[0].limits.fuel: \"-1\" is not a whole number");
    EXPECT_ERROR(APP "    limits:\n      fuel: 18446744073709551616\n", 5, "is out of range");
    EXPECT_ERROR("workers: 0\n" APP, 1, "workers: 0 is out of range (use 1..1024)");
    EXPECT_ERROR("workers: 2000\n" APP, 1, "workers: 2000 is out of range");
    EXPECT_ERROR("workers: two\n" APP, 1, "workers: \"two\" is not a whole number");
    EXPECT_ERROR("workers: \"\"\n" APP, 1, "workers: \"\" is not a whole number");
}

TEST(manifest_error_duplicates) {
    EXPECT_ERROR("apps:\n"
                 "  - {name: a, route: /x, module: a.wasm}\n"
                 "  - {name: b, route: /x, module: b.wasm}\n",
                 3, "apps[1]: route \"/x\" is already served by app \"a\" (line 2)");
    EXPECT_ERROR("apps:\n"
                 "  - {route: /x/..., module: a.wasm}\n"
                 "  - {route: /x/..., module: b.wasm}\n",
                 3, "is already served by app \"a\"");
    EXPECT_ERROR("apps:\n"
                 "  - name: a\n"
                 "    route: /x\n"
                 "    module: a.wasm\n"
                 "  - route: /y\n"
                 "    name: a\n"
                 "    module: b.wasm\n",
                 6,
                 "apps[1]: name \"a\" is already used by apps[0] (line 2); names must be unique");
    /* the same file name in two folders: the default names clash */
    EXPECT_ERROR("apps:\n"
                 "  - {route: /x, module: one/app.wasm}\n"
                 "  - {route: /y, module: two/app.wasm}\n",
                 3,
                 "apps[1]: name \"app\" is already used by apps[0] (line 2); it comes from the "
                 "module's file name: set name:");
}

TEST(manifest_error_missing_and_empty) {
    /* without a route, an app is a filter (pipelines:); an HTTP one needs one */
    EXPECT_ERROR("apps:\n  - name: a\n    module: a.wasm\n    interface: wasp\n", 2,
                 "apps[0]: missing \"route\" (the path it serves, e.g. /hello)");
    EXPECT_ERROR("apps:\n  - name: a\n    route: /a\n", 2, "apps[0]: missing \"module\"");
    EXPECT_ERROR("apps: []\n", 1, "apps: is empty (list at least one app");
    EXPECT_ERROR("listen: 127.0.0.1:80\napps:\n", 2, "apps: is empty");
    EXPECT_ERROR("listen: 127.0.0.1:80\n", 1, "missing \"apps\"");
    EXPECT_ERROR("", 1, "the manifest is empty");
    EXPECT_ERROR("# only a comment\n", 1, "the manifest is empty");
    EXPECT_ERROR(APP "    module: \"\"\n", 4, "key \"module\" appears twice");
    EXPECT_ERROR("apps:\n  - {route: /x, module: \"\"}\n", 2, "apps[0].module: is empty");
    EXPECT_ERROR(APP "    dirs:\n      - {guest: /g}\n", 5, "apps[0].dirs[0]: missing \"host\"");
    EXPECT_ERROR(APP "    env:\n      A:\n", 5, "apps[0].env.A: has no value (write A: \"\"");
}

TEST(manifest_error_bad_values) {
    EXPECT_ERROR(APP "    interface: http\n", 4,
                 "apps[0].interface: \"http\" is not an interface (use wasp, wagi or filter");
    EXPECT_ERROR(APP "    env:\n      OK: 1\n      1BAD: x\n", 6,
                 "apps[0].env: \"1BAD\" is not a variable name");
    EXPECT_ERROR(APP "    env:\n      MY-VAR: x\n", 5, "\"MY-VAR\" is not a variable name");
    EXPECT_ERROR("apps:\n  - {route: hello, module: a.wasm}\n", 2,
                 "apps[0].route: \"hello\" does not start with \"/\"");
    EXPECT_ERROR("apps:\n  - {route: /x..., module: a.wasm}\n", 2,
                 "\"...\" may only end a route, after a \"/\"");
    EXPECT_ERROR("apps:\n  - {route: \"/a b\", module: a.wasm}\n", 2, "is not a plain path");
    EXPECT_ERROR("apps:\n  - {route: /x?y=1, module: a.wasm}\n", 2, "is not a plain path");
    EXPECT_ERROR("apps:\n  - {name: my app, route: /x, module: a.wasm}\n", 2,
                 "apps[0].name: \"my app\" is not a name");
    EXPECT_ERROR("apps:\n  - {route: /x, module: my app.wasm}\n", 2,
                 "apps[0].module: the file name gives the app name \"my app\"");
    EXPECT_ERROR(APP "    dirs:\n      - ::/data\n", 5,
                 "apps[0].dirs[0]: \"::/data\" is not HOST[::GUEST][:ro]");
    EXPECT_ERROR(APP "    dirs:\n      - data:::ro\n", 5, "is not HOST[::GUEST][:ro]");
    EXPECT_ERROR("listen: 8080\n" APP, 1,
                 "listen: \"8080\" is not ADDR:PORT (e.g. 127.0.0.1:8080)");
    EXPECT_ERROR("listen: 127.0.0.1:99999\n" APP, 1, "is not ADDR:PORT");
    EXPECT_ERROR("admin: false\n" APP, 1, "admin: \"false\" is not ADDR:PORT or off");
    EXPECT_ERROR(APP "    init: \"\"\n", 4, "apps[0].init: is empty");
}

TEST(manifest_error_yaml_syntax) {
    EXPECT_ERROR("listen: 127.0.0.1:8080\n"
                 "apps:\n"
                 "  - route: /x: y\n"
                 "    module: x.wasm\n",
                 3, "YAML syntax error: mapping values are not allowed");
    EXPECT_ERROR(APP "    env: {A: 1\n\n", 6, "YAML syntax error");
    EXPECT_ERROR(APP "\tinit: x\n", 4, "YAML syntax error");
    EXPECT_ERROR(APP "    init: *nowhere\n", 4, "YAML syntax error");
    EXPECT_ERROR(APP "---\n" APP, 4, "a second YAML document");
    EXPECT_ERROR(APP "    init: \"caf\xe9\"\n", 4, "(a manifest is UTF-8 text)");
    EXPECT_ERROR(APP "    init: \"a\\0b\"\n", 4, "apps[0].init: contains a NUL character");
}

#define STORES "stores:\n  notes: {}\n  shared: {backend: redis, url: redis://h}\n" /* 1-3 */
#define SECRETS "secrets:\n  file: s.enc\n"                                         /* 1-2 */

TEST(manifest_error_stores) {
    EXPECT_ERROR("stores:\n  notes:\n    backend: sqlite\n    pth: x.db\n" APP, 4,
                 "stores.notes: unknown key \"pth\" (expected backend, path, durable, url, "
                 "prefix)");
    EXPECT_ERROR("stores:\n  notes:\n    url: redis://h\n" APP, 3,
                 "stores.notes: key \"url\" is only for backend: redis (this store's backend is "
                 "sqlite)");
    EXPECT_ERROR("stores:\n  notes: {backend: sqlite, prefix: a}\n" APP, 2,
                 "stores.notes: key \"prefix\" is only for backend: redis");
    EXPECT_ERROR("stores:\n  kv:\n    backend: redis\n    url: redis://h\n    path: x.db\n" APP, 5,
                 "stores.kv: key \"path\" is only for backend: sqlite (this store's backend is "
                 "redis)");
    EXPECT_ERROR("stores:\n  kv: {backend: redis, url: redis://h, durable: full}\n" APP, 2,
                 "stores.kv: key \"durable\" is only for backend: sqlite");
    EXPECT_ERROR("stores:\n  kv:\n    backend: redis\n    prefix: a\n" APP, 2,
                 "stores.kv: missing \"url\" (a redis store needs one, e.g. "
                 "redis://127.0.0.1:6379/0)");
    EXPECT_ERROR("stores:\n  kv:\n    backend: redis\n    url: http://h:6379\n" APP, 4,
                 "stores.kv.url: is not a redis:// URL (use redis://[:password@]host[:port][/db])");
    EXPECT_ERROR("stores:\n  kv: {backend: redis, url: \"redis://\"}\n" APP, 2,
                 "stores.kv.url: is not a redis:// URL");
    EXPECT_ERROR("stores:\n  kv: {backend: redis, url: }\n" APP, 2, "stores.kv.url: has no value");
    EXPECT_ERROR("stores:\n  kv:\n    backend: postgres\n" APP, 3,
                 "stores.kv.backend: \"postgres\" is not a backend (use sqlite or redis)");
    EXPECT_ERROR("stores:\n  kv:\n    durable: always\n" APP, 3,
                 "stores.kv.durable: \"always\" is not normal or full");
    EXPECT_ERROR("stores:\n  kv: {path: \"\"}\n" APP, 2, "stores.kv.path: is empty");
    EXPECT_ERROR("stores:\n  my kv: {}\n" APP, 2,
                 "stores: \"my kv\" is not a store name (use letters, digits, _, . and -)");
    EXPECT_ERROR("stores:\n  a: {}\n  a: {}\n" APP, 3,
                 "stores: key \"a\" appears twice (first on line 2)");
    EXPECT_ERROR("stores: [notes]\n" APP, 1, "stores: expected a mapping of store names");
    EXPECT_ERROR("stores:\n  notes: sqlite\n" APP, 2,
                 "stores.notes: expected a mapping of backend, path, durable, url, prefix, got a "
                 "scalar");
}

TEST(manifest_error_secrets) {
    EXPECT_ERROR("secrets:\n  key_file: k\n" APP, 1,
                 "secrets: missing \"file\" (the encrypted secrets file");
    EXPECT_ERROR("secrets:\n" APP, 1, "secrets: missing \"file\"");
    EXPECT_ERROR("secrets:\n  file: s.enc\n  key: k\n" APP, 3,
                 "secrets: unknown key \"key\" (expected file, key_file, key_env)");
    EXPECT_ERROR("secrets: s.enc\n" APP, 1,
                 "secrets: expected a mapping of file, key_file, key_env, got a scalar");
    EXPECT_ERROR("secrets: {file: \"\"}\n" APP, 1, "secrets.file: is empty");
    EXPECT_ERROR("secrets: {file: s.enc, key_env: MY-KEY}\n" APP, 1,
                 "secrets.key_env: \"MY-KEY\" is not a variable name");
}

TEST(manifest_error_kv) {
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    kv: [notes, sharde]\n", 7,
                 "apps[0].kv[1]: no store \"sharde\" (declared: notes, shared)");
    EXPECT_ERROR(APP "    kv: [notes]\n", 4,
                 "apps[0].kv[0]: no store \"notes\" (no stores are declared: add it under "
                 "stores:)");
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    kv: notes\n", 7,
                 "apps[0].kv: expected a sequence of store names (e.g. [notes, shared]), got a "
                 "scalar");
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    kv: {notes: 1}\n", 7,
                 "apps[0].kv: expected a sequence of store names");
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    kv:\n      - notes\n"
                        "      - notes\n",
                 9, "apps[0].kv[1]: store \"notes\" is listed twice (also at apps[0].kv[0])");
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    kv: [[notes]]\n", 7,
                 "apps[0].kv[0]: expected the name of a store declared under stores:, got a "
                 "sequence");
    /* stores: is read first even when written after apps: */
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, "apps:\n  - {route: /x, module: x.wasm, kv: [notes]}\n" STORES,
                                err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    srv_manifest_free(m);
}

TEST(manifest_error_kv_lists_many_stores_within_bounds) {
    char yaml[4096] = "stores:\n";
    for (int i = 0; i < 40; i++) {
        size_t used = strlen(yaml);
        snprintf(yaml + used, sizeof yaml - used, "  store_number_%02d: {}\n", i);
    }
    size_t used = strlen(yaml);
    snprintf(yaml + used, sizeof yaml - used, APP "    kv: [nope]\n");
    EXPECT_ERROR(yaml, 45,
                 "apps[0].kv[0]: no store \"nope\" (declared: store_number_00, store_number_01, ");
    EXPECT_ERROR(yaml, 45, ", ...)");
}

TEST(manifest_error_databases) {
    EXPECT_ERROR("databases:\n  app:\n    backend: sqlite\n    pth: x.db\n" APP, 4,
                 "databases.app: unknown key \"pth\" (expected backend, path, url, pool_size, "
                 "acquire_timeout_ms)");
    EXPECT_ERROR("databases:\n  app:\n    url: postgresql://h/db\n" APP, 3,
                 "databases.app: key \"url\" is only for backend: postgres (this database's "
                 "backend is sqlite)");
    EXPECT_ERROR("databases:\n  main:\n    backend: postgres\n    url: postgresql://h/db\n"
                 "    path: x.db\n" APP,
                 5,
                 "databases.main: key \"path\" is only for backend: sqlite (this database's "
                 "backend is postgres)");
    EXPECT_ERROR("databases:\n  main:\n    backend: postgres\n    pool_size: 2\n" APP, 2,
                 "databases.main: missing \"url\" (a postgres database needs one, e.g. "
                 "postgresql://");
    EXPECT_ERROR("databases:\n  main:\n    backend: postgres\n    url: mysql://h/db\n" APP, 4,
                 "databases.main.url: is not a postgresql:// or postgres:// URL (use "
                 "postgresql://[user[:password]@]host[:port]/dbname)");
    EXPECT_ERROR("databases:\n  main: {backend: postgres, url: \"postgresql://\"}\n" APP, 2,
                 "databases.main.url: is not a postgresql:// or postgres:// URL");
    EXPECT_ERROR("databases:\n  main: {backend: postgres, url: \"host=h dbname=d\"}\n" APP, 2,
                 "is not a postgresql:// or postgres:// URL");
    EXPECT_ERROR("databases:\n  main: {backend: postgres, url: }\n" APP, 2,
                 "databases.main.url: has no value");
    EXPECT_ERROR("databases:\n  main:\n    backend: mysql\n" APP, 3,
                 "databases.main.backend: \"mysql\" is not a backend (use sqlite or postgres)");
    EXPECT_ERROR("databases:\n  main:\n    backend: redis\n" APP, 3,
                 "\"redis\" is not a backend (use sqlite or postgres)");
    EXPECT_ERROR("databases:\n  app:\n    pool_size: 0\n" APP, 3,
                 "databases.app.pool_size: 0 is out of range (connections, use 1..1024)");
    EXPECT_ERROR("databases:\n  app:\n    pool_size: 5000\n" APP, 3,
                 "databases.app.pool_size: 5000 is out of range (connections, use 1..1024)");
    EXPECT_ERROR("databases:\n  main:\n    backend: postgres\n    url: postgres://h/d\n"
                 "    pool_size: eight\n" APP,
                 5, "databases.main.pool_size: \"eight\" is not a whole number");
    EXPECT_ERROR("databases:\n  app: {acquire_timeout_ms: 0}\n" APP, 2,
                 "databases.app.acquire_timeout_ms: 0 is out of range (milliseconds, use "
                 "1..600000)");
    EXPECT_ERROR("databases:\n  app: {acquire_timeout_ms: 600001}\n" APP, 2, "is out of range");
    EXPECT_ERROR("databases:\n  app: {path: \"\"}\n" APP, 2, "databases.app.path: is empty");
    EXPECT_ERROR("databases:\n  my db: {}\n" APP, 2,
                 "databases: \"my db\" is not a database name (use letters, digits, _, . and -)");
    EXPECT_ERROR("databases:\n  a: {}\n  a: {}\n" APP, 3,
                 "databases: key \"a\" appears twice (first on line 2)");
    EXPECT_ERROR("databases: [app]\n" APP, 1, "databases: expected a mapping of database names");
    EXPECT_ERROR("databases:\n  app: sqlite\n" APP, 2,
                 "databases.app: expected a mapping of backend, path, url, pool_size, "
                 "acquire_timeout_ms, got a scalar");
}

TEST(manifest_error_database_url_is_not_quoted_back) {
    tmp_manifest t = {0};
    char err[512] = "";
    CHECK_EQ_PTR(load_text(&t,
                           "databases:\n  main: {backend: postgres, url: "
                           "\"mysql://u:hunter2@h/db\"}\n" APP,
                           err, sizeof err),
                 NULL);
    CHECK(strstr(err, "is not a postgresql://") != NULL);
    CHECK(strstr(err, "hunter2") == NULL);
}

#define DATABASES                                                                                  \
    "databases:\n  app: {}\n  main: {backend: postgres, url: postgresql://h/db}\n" /* 1-3 */

TEST(manifest_error_sql) {
    EXPECT_ERROR(DATABASES "apps:\n  - route: /x\n    module: x.wasm\n    sql: [app, mian]\n", 7,
                 "apps[0].sql[1]: no database \"mian\" (declared: app, main)");
    EXPECT_ERROR(APP "    sql: [app]\n", 4,
                 "apps[0].sql[0]: no database \"app\" (no databases are declared: add it under "
                 "databases:)");
    /* stores and databases are separate: a store is not a database */
    EXPECT_ERROR(STORES "apps:\n  - route: /x\n    module: x.wasm\n    sql: [notes]\n", 7,
                 "apps[0].sql[0]: no database \"notes\" (no databases are declared");
    EXPECT_ERROR(DATABASES "apps:\n  - route: /x\n    module: x.wasm\n    sql: app\n", 7,
                 "apps[0].sql: expected a sequence of database names (e.g. [app, main]), got a "
                 "scalar");
    EXPECT_ERROR(DATABASES "apps:\n  - route: /x\n    module: x.wasm\n    sql: {app: 1}\n", 7,
                 "apps[0].sql: expected a sequence of database names");
    EXPECT_ERROR(DATABASES "apps:\n  - route: /x\n    module: x.wasm\n    sql:\n      - main\n"
                           "      - main\n",
                 9, "apps[0].sql[1]: database \"main\" is listed twice (also at apps[0].sql[0])");
    EXPECT_ERROR(DATABASES "apps:\n  - route: /x\n    module: x.wasm\n    sql: [[app]]\n", 7,
                 "apps[0].sql[0]: expected the name of a database declared under databases:, got "
                 "a sequence");
}

/* An app whose http.allow is the one origin `o`, at line 6. */
#define ALLOW(o) APP "    http:\n      allow:\n        - " o "\n"

TEST(manifest_error_http) {
    EXPECT_ERROR(APP "    http:\n      timeout_ms: 5000\n", 4,
                 "apps[0].http: missing \"allow\" (the origins the app may call, e.g. allow: "
                 "[https://api.example.com])");
    EXPECT_ERROR(APP "    http:\n", 4, "apps[0].http: missing \"allow\"");
    EXPECT_ERROR(APP "    http: {}\n", 4, "apps[0].http: missing \"allow\"");
    EXPECT_ERROR(APP "    http: https://a.b\n", 4,
                 "apps[0].http: expected a mapping of allow, timeout_ms, max_response, got a "
                 "scalar");
    EXPECT_ERROR(APP "    http:\n      allow: [https://a.b]\n      timeout: 5\n", 6,
                 "apps[0].http: unknown key \"timeout\" (expected allow, timeout_ms, "
                 "max_response)");
    EXPECT_ERROR(APP "    http:\n      allow: []\n", 5,
                 "apps[0].http.allow: is empty (list the origins the app may call");
    EXPECT_ERROR(APP "    http:\n      allow:\n", 5, "apps[0].http.allow: is empty");
    EXPECT_ERROR(APP "    http:\n      allow: https://a.b\n", 5,
                 "apps[0].http.allow: expected a sequence of origins (e.g. "
                 "[https://api.example.com]), got a scalar");
    EXPECT_ERROR(ALLOW("https://api.example.com/v1"), 6,
                 "apps[0].http.allow[0]: \"https://api.example.com/v1\" has a path (an origin is "
                 "http(s)://host[:port], e.g. https://api.example.com, nothing after it)");
    EXPECT_ERROR(ALLOW("https://a.b?x=1"), 6, "\"https://a.b?x=1\" has a query");
    EXPECT_ERROR(ALLOW("https://a.b:8080/#top"), 6, "has a path");
    EXPECT_ERROR(ALLOW("\"https://a.b#top\""), 6, "has a fragment");
    EXPECT_ERROR(ALLOW("https://api.example.com/"), 6,
                 "apps[0].http.allow[0]: \"https://api.example.com/\" ends with \"/\" (write it "
                 "without: https://api.example.com)");
    EXPECT_ERROR(ALLOW("https://user:pw@api.example.com"), 6,
                 "apps[0].http.allow[0]: has userinfo (user@ or user:password@)");
    EXPECT_ERROR(ALLOW("https://user@api.example.com/x"), 6, "has userinfo");
    EXPECT_ERROR(ALLOW("ftp://files.example.com"), 6,
                 "apps[0].http.allow[0]: \"ftp://files.example.com\": scheme \"ftp\" is not "
                 "http or https");
    EXPECT_ERROR(ALLOW("ws://a.b"), 6, "scheme \"ws\" is not http or https");
    EXPECT_ERROR(ALLOW("api.example.com"), 6,
                 "apps[0].http.allow[0]: \"api.example.com\" is not an origin (an origin is "
                 "http(s)://host[:port]");
    EXPECT_ERROR(ALLOW("\"://a.b\""), 6, "is not an origin");
    EXPECT_ERROR(ALLOW("https://a.b:0"), 6,
                 "apps[0].http.allow[0]: \"https://a.b:0\": port \"0\" is not a number in "
                 "1..65535");
    EXPECT_ERROR(ALLOW("https://a.b:65536"), 6, "port \"65536\" is not a number in 1..65535");
    EXPECT_ERROR(ALLOW("https://a.b:https"), 6, "port \"https\" is not a number");
    EXPECT_ERROR(ALLOW("\"https://a.b:\""), 6, "port \"\" is not a number");
    EXPECT_ERROR(ALLOW("https://a.b:+80"), 6, "port \"+80\" is not a number");
    EXPECT_ERROR(ALLOW("https://a.b:1:2"), 6, "port \"1:2\" is not a number");
    EXPECT_ERROR(ALLOW("https://"), 6,
                 "apps[0].http.allow[0]: \"https://\" has an empty host (an origin is "
                 "http(s)://host[:port]");
    EXPECT_ERROR(ALLOW("https://:8080"), 6, "has an empty host");
    EXPECT_ERROR(ALLOW("http://[]:80"), 6, "has an empty host");
    EXPECT_ERROR(ALLOW("\"https://a b\""), 6,
                 "apps[0].http.allow[0]: \"https://a b\": the host is not a name or an address");
    EXPECT_ERROR(ALLOW("http://[::1"), 6, "the host is not a name or an address");
    EXPECT_ERROR(ALLOW("http://[::1]x"), 6, "the host is not a name or an address");
    EXPECT_ERROR(ALLOW("http://[g::1]"), 6, "the host is not a name or an address");
    EXPECT_ERROR(ALLOW("[https://a.b]"), 6,
                 "apps[0].http.allow[0]: expected an origin such as https://api.example.com, got "
                 "a sequence");
    EXPECT_ERROR(APP "    http:\n      allow:\n        - https://a.b\n        - HTTPS://A.B\n", 7,
                 "apps[0].http.allow[1]: origin \"https://a.b\" is listed twice (also at "
                 "apps[0].http.allow[0])");
    EXPECT_ERROR(APP "    http:\n      allow: [https://a.b]\n      timeout_ms: 0\n", 6,
                 "apps[0].http.timeout_ms: 0 is out of range (milliseconds, use 1..600000)");
    EXPECT_ERROR(APP "    http:\n      allow: [https://a.b]\n      timeout_ms: 600001\n", 6,
                 "is out of range");
    EXPECT_ERROR(APP "    http:\n      allow: [https://a.b]\n      max_response: big\n", 6,
                 "apps[0].http.max_response: \"big\" is not a size");
}

TEST(manifest_error_http_userinfo_is_not_quoted_back) {
    tmp_manifest t = {0};
    char err[512] = "";
    CHECK_EQ_PTR(load_text(&t, ALLOW("https://me:hunter2@api.example.com"), err, sizeof err), NULL);
    CHECK(strstr(err, "has userinfo") != NULL);
    CHECK(strstr(err, "hunter2") == NULL);
}

TEST(manifest_error_vars) {
    EXPECT_ERROR(APP "    vars:\n      home: {env: HOME, secret: home}\n", 5,
                 "apps[0].vars.home: has both env and secret (a variable comes from one: "
                 "{env: NAME} or {secret: NAME})");
    EXPECT_ERROR(APP "    vars:\n      home:\n        env: HOME\n        secret: h\n", 5,
                 "apps[0].vars.home: has both env and secret");
    EXPECT_ERROR(APP "    vars:\n      home:\n        env: HOME\n        file: h\n", 7,
                 "apps[0].vars.home: unknown key \"file\" (expected env, secret)");
    EXPECT_ERROR(APP "    vars:\n      token: {secret: api_token}\n", 5,
                 "apps[0].vars.token: {secret: api_token} needs a secrets: section");
    EXPECT_ERROR(APP "    vars:\n      a: 1\n      b: 2\n      a: 3\n", 7,
                 "apps[0].vars: key \"a\" appears twice (first on line 5)");
    EXPECT_ERROR(APP "    vars:\n      home: {}\n", 5,
                 "apps[0].vars.home: is an empty mapping (expected {env: NAME} or {secret: "
                 "NAME})");
    EXPECT_ERROR(APP "    vars:\n      home: {env: \"\"}\n", 5, "apps[0].vars.home.env: is empty");
    EXPECT_ERROR(SECRETS APP "    vars:\n      t: {secret: }\n", 7,
                 "apps[0].vars.t.secret: has no value");
    EXPECT_ERROR(APP "    vars:\n      home: [a, b]\n", 5,
                 "apps[0].vars.home: expected a value, {env: NAME} or {secret: NAME}, got a "
                 "sequence");
    EXPECT_ERROR(APP "    vars:\n      greeting:\n", 5,
                 "apps[0].vars.greeting: has no value (write greeting: \"\" for an empty one)");
    EXPECT_ERROR(APP "    vars:\n      1st: x\n", 5,
                 "apps[0].vars: \"1st\" is not a variable name (letters, digits, _, . and -, "
                 "starting with a letter or _)");
    EXPECT_ERROR(APP "    vars:\n      -x: y\n", 5, "\"-x\" is not a variable name");
    EXPECT_ERROR(APP "    vars:\n      a b: y\n", 5, "\"a b\" is not a variable name");
    EXPECT_ERROR(APP "    vars: [a]\n", 4,
                 "apps[0].vars: expected a mapping of name: value (e.g. greeting: hello), got a "
                 "sequence");
}

TEST(manifest_error_missing_file_and_directory) {
    char dir[64] = "/tmp/wasp_manifest_XXXXXX", path[128], want[192], err[512] = "";
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/nope.yaml", dir);
    CHECK_EQ_PTR(srv_manifest_load(path, err, sizeof err), NULL);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    CHECK_STR(err, want);
    CHECK_EQ_PTR(srv_manifest_load(dir, err, sizeof err), NULL);
    snprintf(want, sizeof want, "%s: Is a directory", dir);
    CHECK_STR(err, want);
    rmdir(dir);
}

TEST(manifest_error_fits_a_small_buffer) {
    /* a message longer than the buffer is cut, still NUL-terminated */
    tmp_manifest t = {0};
    char err[16];
    memset(err, 'x', sizeof err);
    CHECK_EQ_PTR(load_text(&t, "apps: []\n", err, sizeof err), NULL);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    CHECK_EQ_PTR(load_text(&t, "apps: []\n", NULL, 0), NULL);
}

/* ---- one module ----------------------------------------------------------- */

TEST(manifest_single_module) {
    char err[256] = "";
    srv_manifest *m = srv_manifest_single("examples/serve/hello.wasm", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK_EQ_PTR(m->path, NULL);
    CHECK_EQ_PTR(m->listen, NULL);
    CHECK_EQ_PTR(m->admin, NULL);
    CHECK_EQ_S64(m->workers, 0);
    REQUIRE(m->napps == 1);
    const srv_app_cfg *a = &m->apps[0];
    CHECK_STR(a->name, "hello");
    CHECK_STR(a->route, "/...");
    CHECK_STR(a->route_base, "");
    CHECK(a->route_prefix);
    CHECK_STR(a->module, "examples/serve/hello.wasm");
    CHECK_EQ_S64(a->iface, SRV_IFACE_AUTO);
    CHECK_EQ_S64(a->nenv, 0);
    CHECK_EQ_S64(a->ndirs, 0);
    CHECK_EQ_U64(a->max_memory_pages, SRV_DEFAULT_MEMORY_PAGES);
    CHECK_EQ_U64(a->deadline_ms, SRV_DEFAULT_DEADLINE_MS);
    CHECK_EQ_U64(a->fuel, 0);
    CHECK_EQ_PTR(a->init, NULL);
    CHECK_EQ_S64(a->nkv, 0);
    CHECK_EQ_PTR(a->kv, NULL);
    CHECK_EQ_S64(a->nvars, 0);
    CHECK_EQ_PTR(a->vars, NULL);
    CHECK_EQ_S64(m->nstores, 0);
    CHECK_EQ_PTR(m->stores, NULL);
    CHECK_EQ_PTR(m->secrets_file, NULL);
    CHECK_EQ_PTR(m->secrets_key_file, NULL);
    CHECK_EQ_PTR(m->secrets_key_env, NULL);
    CHECK_EQ_S64(m->ndatabases, 0);
    CHECK_EQ_PTR(m->databases, NULL);
    CHECK_EQ_S64(a->nsql, 0);
    CHECK_EQ_PTR(a->sql, NULL);
    CHECK_EQ_S64(a->nhttp_allow, 0);
    CHECK_EQ_PTR(a->http_allow, NULL);
    CHECK_EQ_U64(a->http_timeout_ms, 0);
    CHECK_EQ_U64(a->http_max_response, 0);
    srv_manifest_free(m);

    m = srv_manifest_single("plain", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK_STR(m->apps[0].name, "plain");
    srv_manifest_free(m);

    CHECK_EQ_PTR(srv_manifest_single("", err, sizeof err), NULL);
    CHECK(strstr(err, "no module given") != NULL);
    srv_manifest_free(NULL);
}

/* ---- pipelines ------------------------------------------------------------ */

#define FILTER_APPS                                                                                \
    "apps:\n"                                      /* 1 */                                         \
    "  - {name: f1, module: f1.wasm}\n"            /* 2 */                                         \
    "  - name: f2\n"                               /* 3 */                                         \
    "    module: f2.wasm\n"                        /* 4 */                                         \
    "    interface: filter\n"                      /* 5 */                                         \
    "  - {name: web, route: /w, module: w.wasm}\n" /* 6 */

TEST(manifest_pipelines) {
    static const char yaml[] = "stores:\n  counts: {path: c.db}\n"                    /* 1-2 */
                               "apps:\n"                                              /* 3 */
                               "  - {name: f1, module: f1.wasm}\n"                    /* 4 */
                               "  - {name: f2, module: f2.wasm, interface: filter}\n" /* 5 */
                               "  - {name: web, route: /w, module: w.wasm}\n"         /* 6 */
                               "pipelines:\n"                                         /* 7 */
                               "  - name: logs\n"                                     /* 8 */
                               "    from: logs/*.log\n"
                               "    follow: true\n"
                               "    to: out.ndjson\n"
                               "    dead_letter: kv:counts\n"
                               "    format: ndjson\n"
                               "    filters: [f1, f2]\n"
                               "    workers: 3\n"
                               "    batch: 50\n"
                               "    flush_ms: 0\n"
                               "  - name: in\n"
                               "    from: http\n"
                               "    to: \"redis://127.0.0.1:6379/out\"\n"
                               "    filters: [f2]\n"
                               "  - {name: in2, from: http, route: /ingest/two, filters: [f1]}\n";
    tmp_manifest t = {0};
    char err[512] = "";
    srv_manifest *m = load_text(&t, yaml, err, sizeof err);
    if (!m) unit_fail(__FILE__, __LINE__, "load failed: %s", err);
    REQUIRE(m != NULL);
    CHECK_EQ_S64(m->npipelines, 3);
    CHECK_EQ_S64(m->apps[0].iface, SRV_IFACE_FILTER); /* no route: a filter */
    CHECK_EQ_S64(m->apps[1].iface, SRV_IFACE_FILTER);
    CHECK_STR(m->apps[0].route, "");
    const srv_pipeline_cfg *p = &m->pipelines[0];
    CHECK_STR(p->name, "logs");
    CHECK_STR(p->from, in_dir(&t, "logs/*.log"));
    CHECK(p->follow);
    CHECK_STR(p->to, in_dir(&t, "out.ndjson"));
    CHECK_STR(p->dead_letter, "kv:counts");
    CHECK_STR(p->format, "ndjson");
    CHECK_EQ_S64(p->nfilters, 2);
    CHECK_STR(p->filters[0], "f1");
    CHECK_STR(p->filters[1], "f2");
    CHECK_EQ_S64(p->workers, 3);
    CHECK_EQ_U64(p->batch_records, 50);
    CHECK_EQ_S64(p->flush_ms, 0);
    CHECK_EQ_PTR(p->route, NULL);
    CHECK_EQ_S64(p->line, 8);
    p = &m->pipelines[1];
    CHECK_STR(p->from, "http");
    CHECK_STR(p->route, "/pipelines/in"); /* the default */
    CHECK_STR(p->to, "redis://127.0.0.1:6379/out");
    CHECK_STR(p->dead_letter, "-");
    CHECK_STR(p->format, "lines");
    CHECK_EQ_S64(p->flush_ms, -1);
    CHECK_STR(m->pipelines[2].route, "/ingest/two");
    CHECK_STR(m->pipelines[2].to, "-");
    /* each ingest route is an app without a module after the others */
    REQUIRE(m->napps == 5);
    CHECK_STR(m->apps[3].name, "pipeline:in");
    CHECK_EQ_S64(m->apps[3].iface, SRV_IFACE_INGEST);
    CHECK_STR(m->apps[3].route, "/pipelines/in");
    CHECK_STR(m->apps[4].name, "pipeline:in2");
    CHECK_STR(m->apps[4].route_base, "/ingest/two");
    CHECK(!m->apps[4].route_prefix);
    srv_manifest_free(m);
}

TEST(manifest_error_pipelines) {
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, filters: [web]}\n", 8,
                 "pipelines[0].filters[0]: app \"web\" (line 6) is not a filter");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, filters: [nope]}\n", 8,
                 "pipelines[0].filters[0]: no app \"nope\"");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, filters: []}\n", 8,
                 "pipelines[0].filters: is empty");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http}\n", 8,
                 "pipelines[0]: missing \"filters\"");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, filters: [f1]}\n", 8,
                 "pipelines[0]: missing \"from\"");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {from: http, filters: [f1]}\n", 8,
                 "pipelines[0]: missing \"name\"");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, filters: [f1]}\n"
                             "  - {name: p, from: http, route: /x, filters: [f1]}\n",
                 9, "pipelines[1].name: name \"p\" is already used by pipelines[0]");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: a.log, format: csv, filters: [f1]}\n",
                 8, "pipelines[0].format: csv is read by wasp pipe only");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: a.log, route: /x, filters: [f1]}\n",
                 8, "pipelines[0].route: a route is where batches are POSTed: from: http");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, route: /w, filters: [f1]}\n", 8,
                 "pipeline p's route /w is already served by web (line 6)");
    EXPECT_ERROR(FILTER_APPS
                 "pipelines:\n  - {name: p, from: http, route: /x/..., filters: [f1]}\n",
                 8, "an ingest route is one path, not a prefix");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, follow: true, filters: [f1]}\n",
                 8, "pipelines[0].follow: follow reads a growing file");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, to: kv:x, filters: [f1]}\n", 8,
                 "pipelines[0].to: no store \"x\"");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: \"-\", filters: [f1]}\n", 8,
                 "stdin is not a source under wasp serve");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, workers: 0, filters: [f1]}\n",
                 8, "pipelines[0].workers");
    EXPECT_ERROR(FILTER_APPS "pipelines:\n  - {name: p, from: http, filter: [f1]}\n", 8,
                 "pipelines[0]: unknown key \"filter\"");
    EXPECT_ERROR(FILTER_APPS "pipelines: {p: 1}\n", 7, "pipelines: expected a sequence");
    EXPECT_ERROR("apps:\n  - {name: f, module: f.wasm, route: /f, interface: filter}\n", 2,
                 "apps[0].route: a filter has no route");
}
