/*
 * audit.c - `wasp audit`: turns the command line into srv_audit_module
 * (server/audit.c) and prints what it found, as text for a person or as
 * one JSON object (--json) for tools.
 *
 * Exit status: 0 nothing blocks the module; 1 it imports a capability the
 * manifest's app is not granted (kv, sql, http, vars), an import no host
 * provides, or it cannot be instantiated as it is (a data segment past its
 * memory...); 2 the command line is wrong, or the module or the manifest
 * cannot be read or is not valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"
#include "util/util.h"

static const char audit_usage[] =
    "usage: wasp audit [--manifest FILE [--app NAME]] [--json] MODULE.wasm\n"
    "\n"
    "What a module can reach and what in it is risky, without running it:\n"
    "its imports grouped by capability (kv, sql, outbound http, vars, files,\n"
    "environment, ...), with what the manifest's app grants or denies; memory\n"
    "and table limits (no maximum, a large start); a start function; exported\n"
    "memories and tables; data and element segments that fall outside their\n"
    "memory or table; whether it has a name section.\n"
    "\n"
    "options:\n"
    "  --manifest FILE   check the imports against the app of FILE that runs\n"
    "                    MODULE (its `module:` is the same file)\n"
    "  --app NAME        the manifest's app to check against, by name\n"
    "  --json            one JSON object on stdout instead of text\n"
    "\n"
    "exit status: 0 nothing blocks it; 1 it imports a capability the app is\n"
    "not granted (kv, sql, http, vars), an import no host provides, or it\n"
    "cannot be instantiated as it is; 2 a wrong command line, or a module or\n"
    "manifest that cannot be read or is not valid.\n";

static const char *status_word(srv_cap_status s) {
    switch (s) {
    case SRV_CAP_ALWAYS: return "always";
    case SRV_CAP_GRANTED: return "granted";
    case SRV_CAP_DENIED: return "DENIED";
    case SRV_CAP_UNCHECKED: return "needs a grant";
    case SRV_CAP_NEVER: return "NEVER";
    default: return "unused";
    }
}

static const char *level_word(srv_audit_level l) {
    return l == SRV_AUDIT_RISK ? "risk" : l == SRV_AUDIT_WARN ? "warn" : "info";
}

static void print_text(const char *path, const wasm_module *m, const char *manifest,
                       const srv_audit *a) {
    printf("audit of %s: %zu bytes, %u functions (%u imported), name section: %s\n", path, m->size,
           m->nfuncs, m->nfunc_imports, a->has_names ? "yes" : "no");
    printf("kind: %s\n", a->kind);
    if (a->app)
        printf("checked against: app %s of %s\n", a->app, manifest);
    else
        printf("checked against: no manifest (give --manifest to check the grants)\n");
    printf("\ncapabilities\n");
    for (int i = 0; i < a->ncaps; i++) {
        const srv_audit_cap *c = &a->caps[i];
        if (c->status == SRV_CAP_UNUSED) continue;
        printf("  %-21s %-13s %s\n", c->name, status_word(c->status), c->imports);
        if (c->status == SRV_CAP_GRANTED)
            printf("  %-21s %-13s %s: %s\n", "", "", c->grant, c->granted);
        else if (c->status == SRV_CAP_DENIED || c->status == SRV_CAP_UNCHECKED)
            printf("  %-21s %-13s %s (grant it with %s:)\n", "", "", c->note, c->grant);
        else if (c->status == SRV_CAP_NEVER)
            printf("  %-21s %-13s %s\n", "", "", c->note);
    }
    printf("\nfindings\n");
    if (!a->nfindings) printf("  none\n");
    for (int i = 0; i < a->nfindings; i++)
        printf("  %-5s %s\n", level_word(a->findings[i].level), a->findings[i].what);
    printf("\nresult: %s\n", a->denied  ? "a capability it imports cannot be had (exit 1)"
                             : a->risky ? "it cannot be instantiated as it is (exit 1)"
                                        : "nothing blocks it");
}

static void json_str(const char *s) {
    cli_json_string(stdout, s, strlen(s));
}

static void print_json(const char *path, const wasm_module *m, const char *manifest,
                       const srv_audit *a) {
    fputs("{\"module\":", stdout);
    json_str(path);
    printf(",\"size\":%zu,\"functions\":%u,\"imported_functions\":%u,\"name_section\":%s,"
           "\"kind\":",
           m->size, m->nfuncs, m->nfunc_imports, a->has_names ? "true" : "false");
    json_str(a->kind);
    fputs(",\"manifest\":", stdout);
    if (manifest)
        json_str(manifest);
    else
        fputs("null", stdout);
    fputs(",\"app\":", stdout);
    if (a->app)
        json_str(a->app);
    else
        fputs("null", stdout);
    fputs(",\"capabilities\":[", stdout);
    bool first = true;
    for (int i = 0; i < a->ncaps; i++) {
        const srv_audit_cap *c = &a->caps[i];
        if (c->status == SRV_CAP_UNUSED) continue;
        printf("%s{\"name\":", first ? "" : ",");
        first = false;
        json_str(c->name);
        fputs(",\"status\":", stdout);
        json_str(status_word(c->status));
        printf(",\"count\":%d,\"imports\":", c->nimports);
        json_str(c->imports);
        fputs(",\"grant\":", stdout);
        if (c->grant)
            json_str(c->grant);
        else
            fputs("null", stdout);
        fputs(",\"granted\":", stdout);
        json_str(c->granted);
        fputs("}", stdout);
    }
    fputs("],\"findings\":[", stdout);
    for (int i = 0; i < a->nfindings; i++) {
        printf("%s{\"level\":", i ? "," : "");
        json_str(level_word(a->findings[i].level));
        fputs(",\"what\":", stdout);
        json_str(a->findings[i].what);
        fputs("}", stdout);
    }
    printf("],\"denied\":%s,\"risky\":%s}\n", a->denied ? "true" : "false",
           a->risky ? "true" : "false");
}

static int audit_usage_error(const char *fmt, const char *arg) {
    fputs("wasp audit: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see wasp audit --help)\n", stderr);
    return 2;
}

int cli_audit(int argc, char **argv) {
    const char *path = NULL, *manifest = NULL, *app = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(audit_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--manifest") || !strcmp(a, "--app")) {
            if (i + 1 >= argc) return audit_usage_error("option %s needs a value", a);
            *(!strcmp(a, "--app") ? &app : &manifest) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return audit_usage_error("unknown option '%s'", a);
        } else if (path) {
            return audit_usage_error("one module at a time (%s is a second one)", a);
        } else {
            path = a;
        }
    }
    if (!path) return audit_usage_error("no module given%s", "");
    if (app && !manifest) return audit_usage_error("--app %s needs --manifest", app);
    uint8_t *bytes;
    size_t len;
    int rc = cli_read_file(path, &bytes, &len);
    if (rc) {
        fprintf(stderr, "wasp audit: %s: %s\n", path, strerror(rc));
        return 2;
    }
    wasm_error werr;
    wasm_module *m = wasm_module_load(bytes, len, &werr);
    free(bytes);
    if (!m) {
        cli_print_error(stderr, path, &werr);
        return 2;
    }
    char err[600];
    srv_manifest *man = NULL;
    if (manifest && (!util_dynlib_load(UTIL_LIB_YAML, err, sizeof err) ||
                     !(man = srv_manifest_load(manifest, err, sizeof err)))) {
        fprintf(stderr, "wasp audit: %s\n", err);
        wasm_module_free(m);
        return 2;
    }
    srv_audit a;
    if (!srv_audit_module(m, path, man, app, &a, err, sizeof err)) {
        fprintf(stderr, "wasp audit: %s\n", err);
        srv_manifest_free(man);
        wasm_module_free(m);
        return 2;
    }
    if (json)
        print_json(path, m, manifest, &a);
    else
        print_text(path, m, manifest, &a);
    rc = a.denied || a.risky ? 1 : 0;
    srv_audit_free(&a);
    srv_manifest_free(man);
    wasm_module_free(m);
    return rc;
}
