/*
 * test_manifest.c - srv_manifest_load and srv_manifest_single: every key of
 * wasp.yaml with its value, default and path resolution; routes, dir
 * strings and mappings, sizes in every unit; and each kind of mistake a
 * user can make, checking the line the message points at and the words
 * that tell them what to fix. Each test writes its YAML into a fresh
 * mkdtemp directory; the loader never looks at the module files, so none
 * are created. Under ASan (build/asan/unit_tests) these also show that
 * every error path frees what it had built.
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

/* ---- errors --------------------------------------------------------------- */

#define APP "apps:\n  - route: /x\n    module: x.wasm\n" /* lines 1-3 */

TEST(manifest_error_unknown_keys) {
    EXPECT_ERROR(APP "    limts:\n      memory: 1MiB\n", 4,
                 "apps[0]: unknown key \"limts\" (expected name, route, module, interface, env, "
                 "dirs, limits, init)");
    EXPECT_ERROR("lisen: 127.0.0.1:8080\n" APP, 1,
                 "unknown key \"lisen\" (expected listen, admin, workers, apps)");
    EXPECT_ERROR(APP "    limits:\n      memroy: 1MiB\n", 5,
                 "apps[0].limits: unknown key \"memroy\" (expected memory, deadline_ms, fuel)");
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
                 "expected a mapping of listen, admin, workers, apps, got a "
                 "sequence");
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
    EXPECT_ERROR("apps:\n  - name: a\n    module: a.wasm\n", 2,
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
                 "apps[0].interface: \"http\" is not an interface (use wasp or wagi");
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
    srv_manifest_free(m);

    m = srv_manifest_single("plain", err, sizeof err);
    REQUIRE(m != NULL);
    CHECK_STR(m->apps[0].name, "plain");
    srv_manifest_free(m);

    CHECK_EQ_PTR(srv_manifest_single("", err, sizeof err), NULL);
    CHECK(strstr(err, "no module given") != NULL);
    srv_manifest_free(NULL);
}
