/*
 * run.c - `wasp run`: runs a WASI command (or calls into a reactor) with
 * exactly the capabilities the command line grants.
 *
 *   wasp run [--dir HOST[::GUEST][:ro]]... [--env K=V]... [--inherit-env]
 *            [--stdin FILE] [--invoke NAME] [--deadline-ms N] [--fuel N]
 *            [--tier auto|interp|native] [--cache DIR|off] [--] MODULE.wasm [ARGS...]
 *
 * With --tier native the module runs as machine code: from the cache
 * directory when it holds an entry for it, else compiled now and written
 * there (server/native.c). A module the tier does not compile yet runs in
 * the interpreter, with a note on stderr saying why. Tier auto, the
 * default, uses the cache's code when there is some and the interpreter
 * otherwise, without a word: a one-off run would wait longer for LLVM
 * than the code saves.
 *
 * Nothing is visible to the module unless granted: no directory without
 * --dir, no environment variable without --env or --inherit-env. The
 * exit status is the module's: its proc_exit code, 0 when _start returns,
 * 1 when wasp could not load, link or set up the module (the message says
 * why, naming the missing import or grant), and 134 when it trapped (the
 * trap is printed), as wasmtime does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/server.h"
#include "wasi/wasi.h"

extern char **environ;

enum { RUN_SETUP_FAILED = 1, RUN_USAGE = 2, RUN_TRAPPED = 134 };

typedef struct run_args {
    wasi_preopen *dirs;
    int ndirs;
    const char **env;
    int nenv;
    bool inherit_env;
    const char *stdin_path;
    const char *invoke;
    uint32_t deadline_ms;
    uint64_t fuel;
    srv_tier tier;
    const char *cache;   /* NULL: the default directory; "off": none */
    const char *profile; /* where the guest profile goes; NULL: none */
    unsigned profile_hz;
    bool stats;
    const char *module;
    int nargs;
    char **args; /* after the module */
} run_args;

static int run_usage(const char *fmt, const char *arg) {
    fputs("wasp run: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: wasp run [--dir HOST[::GUEST][:ro]]... [--env K=V]... [--inherit-env]\n"
          "                [--stdin FILE] [--invoke NAME] [--deadline-ms N] [--fuel N]\n"
          "                [--tier auto|interp|native] [--cache DIR|off]\n"
          "                [--profile FILE [--profile-hz N]] [--stats] [--] MODULE.wasm [ARGS...]\n"
          "  --tier      auto (the default): machine code when the cache holds it (wasp\n"
          "              compile, or an earlier --tier native run, puts it there), else\n"
          "              the interpreter; native: compiled with LLVM now if not cached;\n"
          "              interp: the interpreter only\n"
          "  --cache     where native code is kept between runs (default\n"
          "              $XDG_CACHE_HOME/wasp, else ~/.cache/wasp); off: compile every time\n"
          "  --profile   sample the guest's stack while it runs and write the profile to\n"
          "              FILE: folded stacks for flame graphs if it ends in .folded, a\n"
          "              Chrome DevTools profile if .cpuprofile, else Chrome trace JSON\n"
          "              (Perfetto, DevTools' Performance panel); both tiers\n"
          "  --profile-hz  samples per second of guest time (1 to 1000, default 1000)\n"
          "  --stats     at the end, on stderr: linear memory's peak, the fuel used\n"
          "              (function entries and loop iterations; counted even without\n"
          "              --fuel), and the host functions called: how often, how long\n",
          stderr);
    return RUN_USAGE;
}

/* "HOST", "HOST:ro", "HOST::GUEST", "HOST::GUEST:ro" -> a preopen. The
 * strings point into (a copy of) the argument. */
static bool parse_dir(const char *arg, wasi_preopen *out) {
    char *s = strdup(arg);
    if (!s || !*s) return false;
    size_t n = strlen(s);
    out->readonly = false;
    if (n > 3 && strcmp(s + n - 3, ":ro") == 0) {
        out->readonly = true;
        s[n - 3] = '\0';
    }
    char *sep = strstr(s, "::");
    if (sep) {
        *sep = '\0';
        out->host_path = s;
        out->guest_path = sep + 2;
    } else {
        out->host_path = s;
        out->guest_path = s;
    }
    return *out->host_path && *out->guest_path;
}

static int parse_run_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    a->dirs = calloc((size_t)argc + 1, sizeof *a->dirs);
    a->env = calloc((size_t)argc + 1, sizeof *a->env);
    if (!a->dirs || !a->env) return run_usage("%s", "out of memory");
    int i = 0;
    for (; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--") == 0) {
            i++;
            break;
        }
        if (o[0] != '-' || o[1] == '\0') break;
        if (strcmp(o, "--inherit-env") == 0) {
            a->inherit_env = true;
            continue;
        }
        if (strcmp(o, "--stats") == 0) {
            a->stats = true;
            continue;
        }
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            run_usage("%s", "runs a WASI module with the capabilities given");
            return -1;
        }
        if (!v) return run_usage("option %s needs a value", o);
        i++;
        if (strcmp(o, "--dir") == 0) {
            if (!parse_dir(v, &a->dirs[a->ndirs++]))
                return run_usage("bad --dir '%s' (want HOST[::GUEST][:ro])", v);
        } else if (strcmp(o, "--env") == 0) {
            if (!strchr(v, '=') || v[0] == '=') return run_usage("bad --env '%s' (want K=V)", v);
            a->env[a->nenv++] = v;
        } else if (strcmp(o, "--stdin") == 0) {
            a->stdin_path = v;
        } else if (strcmp(o, "--invoke") == 0) {
            a->invoke = v;
        } else if (strcmp(o, "--deadline-ms") == 0) {
            uint64_t ms;
            if (!cli_parse_u64(v, &ms) || ms == 0 || ms > UINT32_MAX)
                return run_usage("bad --deadline-ms '%s'", v);
            a->deadline_ms = (uint32_t)ms;
        } else if (strcmp(o, "--fuel") == 0) {
            if (!cli_parse_u64(v, &a->fuel) || a->fuel == 0) return run_usage("bad --fuel '%s'", v);
        } else if (strcmp(o, "--tier") == 0) {
            if (!srv_tier_parse(v, &a->tier))
                return run_usage("bad --tier '%s' (want auto, interp or native)", v);
        } else if (strcmp(o, "--profile") == 0) {
            if (!*v) return run_usage("bad --profile '%s' (want a file name)", v);
            a->profile = v;
        } else if (strcmp(o, "--profile-hz") == 0) {
            uint64_t hz;
            if (!cli_parse_u64(v, &hz) || hz < 1 || hz > 1000)
                return run_usage("bad --profile-hz '%s' (1 to 1000 samples per second)", v);
            a->profile_hz = (unsigned)hz;
        } else if (strcmp(o, "--cache") == 0) {
            if (!*v) return run_usage("bad --cache '%s' (want a directory or off)", v);
            a->cache = v;
        } else {
            return run_usage("unknown option '%s'", o);
        }
    }
    if (i >= argc) return run_usage("%s", "no module given");
    a->module = argv[i];
    a->args = argv + i + 1;
    a->nargs = argc - i - 1;
    return 0;
}

/* Adds "K=V" to envp[0..n), replacing an entry with the same K (the last
 * definition wins, as in a shell); returns the new count. */
static int env_put(const char **envp, int n, const char *kv) {
    size_t klen = strcspn(kv, "=");
    for (int i = 0; i < n; i++) {
        if (strncmp(envp[i], kv, klen) == 0 && envp[i][klen] == '=') {
            envp[i] = kv;
            return n;
        }
    }
    envp[n] = kv;
    return n + 1;
}

/* Parses a command-line argument as a value of type t (for --invoke). */
static bool parse_value(const char *s, wasm_valtype t, wasm_value *v) {
    char *end;
    errno = 0;
    v->type = t;
    switch (t) {
    case WASM_I32: {
        long long x = strtoll(s, &end, 0);
        if (errno || *end || x < INT32_MIN || x > UINT32_MAX) return false;
        v->of.i32 = (uint32_t)x;
        return true;
    }
    case WASM_I64: {
        long long x = strtoll(s, &end, 0);
        if (errno || *end) return false;
        v->of.i64 = (uint64_t)x;
        return true;
    }
    case WASM_F32: {
        float f = strtof(s, &end);
        if (*end) return false;
        memcpy(&v->of.f32, &f, 4);
        return true;
    }
    case WASM_F64: {
        double d = strtod(s, &end);
        if (*end) return false;
        memcpy(&v->of.f64, &d, 8);
        return true;
    }
    default: return false;
    }
}

static void print_value(const wasm_value *v) {
    switch (v->type) {
    case WASM_I32: printf("%" PRId32 "\n", (int32_t)v->of.i32); break;
    case WASM_I64: printf("%" PRId64 "\n", (int64_t)v->of.i64); break;
    case WASM_F32: {
        float f;
        memcpy(&f, &v->of.f32, 4);
        printf("%.9g\n", f);
        break;
    }
    case WASM_F64: {
        double d;
        memcpy(&d, &v->of.f64, 8);
        printf("%.17g\n", d);
        break;
    }
    default: printf("<%s>\n", wasm_valtype_name(v->type)); break;
    }
}

/* Calls `name` with arguments parsed from the command line and prints its
 * results, one per line. */
static int invoke(wasm_instance *inst, const char *name, int nargs, char **args,
                  const wasm_call_opts *opts, wasm_trap_code *trap) {
    wasm_extern fn;
    if (!wasm_instance_export(inst, name, &fn) || fn.kind != WASM_EXTERN_FUNC) {
        fprintf(stderr, "wasp run: the module exports no function '%s'\n", name);
        return RUN_SETUP_FAILED;
    }
    const wasm_functype *ft = wasm_func_type(fn);
    if ((uint32_t)nargs != ft->nparams) {
        fprintf(stderr, "wasp run: '%s' takes %u arguments, %d given\n", name, ft->nparams, nargs);
        return RUN_USAGE;
    }
    wasm_value *in = calloc(ft->nparams + 1, sizeof *in);
    wasm_value *out = calloc(ft->nresults + 1, sizeof *out);
    if (!in || !out) {
        free(in);
        free(out);
        return RUN_SETUP_FAILED;
    }
    for (uint32_t i = 0; i < ft->nparams; i++) {
        if (!parse_value(args[i], ft->params[i], &in[i])) {
            fprintf(stderr, "wasp run: argument %u of '%s' must be %s, got '%s'\n", i + 1, name,
                    wasm_valtype_name(ft->params[i]), args[i]);
            free(in);
            free(out);
            return RUN_USAGE;
        }
    }
    *trap = wasm_call_ex(fn, in, out, opts);
    if (*trap == WASM_TRAP_NONE)
        for (uint32_t i = 0; i < ft->nresults; i++)
            print_value(&out[i]);
    free(in);
    free(out);
    return 0;
}

/* --stats: the host functions called, by import. */
#define STATS_MAX 64
typedef struct run_stats {
    struct {
        const wasm_name *module, *name; /* the module's import names: they outlive the run */
        uint64_t calls, ns, traps;
    } f[STATS_MAX];
    int n;
    uint64_t calls, ns, other; /* other: calls of imports past STATS_MAX */
} run_stats;

static void count_host_call(void *arg, const wasm_host_call *c) {
    run_stats *st = arg;
    const wasm_name *module = c->module, *name = c->name;
    uint64_t ns = c->ns;
    wasm_trap_code trap = c->trap;
    st->calls++;
    st->ns += ns;
    int i = 0;
    while (i < st->n && (st->f[i].module != module || st->f[i].name != name))
        i++;
    if (i == st->n) {
        if (st->n == STATS_MAX) {
            st->other++;
            return;
        }
        st->f[st->n].module = module;
        st->f[st->n++].name = name;
    }
    st->f[i].calls++;
    st->f[i].ns += ns;
    st->f[i].traps += trap != WASM_TRAP_NONE;
}

static void print_stats(const run_stats *st, wasm_instance *inst) {
    uint64_t mem = 0;
    wasm_instance_memory(inst, &mem);
    fprintf(stderr, "wasp run: stats: linear memory peak %llu bytes (%llu pages of 64 KiB)\n",
            (unsigned long long)mem, (unsigned long long)(mem / 65536));
    fprintf(stderr, "wasp run: stats: fuel used %llu (function entries and loop iterations)\n",
            (unsigned long long)wasm_last_call_fuel());
    fprintf(stderr, "wasp run: stats: host calls %llu, %.3f ms in all\n",
            (unsigned long long)st->calls, (double)st->ns / 1e6);
    for (int i = 0; i < st->n; i++)
        fprintf(stderr, "  %.*s.%.*s: %llu calls, %.3f ms%s\n", (int)st->f[i].module->len,
                st->f[i].module->str, (int)st->f[i].name->len, st->f[i].name->str,
                (unsigned long long)st->f[i].calls, (double)st->f[i].ns / 1e6,
                st->f[i].traps ? " (trapped)" : "");
    if (st->other)
        fprintf(stderr, "  (and %llu calls of other imports)\n", (unsigned long long)st->other);
}

/* Stops the profile and writes it to `path` in the format its name asks
 * for; false, said on stderr, when it cannot be written. */
static bool write_profile(srv_profile *p, const char *path) {
    srv_profile_stop(p);
    size_t len;
    char *text = srv_profile_render(p, srv_profile_format_of(path), &len);
    if (!text) {
        fprintf(stderr, "wasp run: --profile %s: out of memory\n", path);
        return false;
    }
    FILE *f = fopen(path, "w");
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = false;
    if (!ok)
        fprintf(stderr, "wasp run: --profile %s: %s\n", path, strerror(errno));
    else
        fprintf(stderr, "wasp run: profile of %zu samples written to %s\n", srv_profile_samples(p),
                path);
    free(text);
    return ok;
}

/* The trap's Wasm stack on stderr, innermost frame first, numbered as
 * wasmtime numbers its backtraces. */
static void print_backtrace(void) {
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    size_t n = wasm_last_trap_backtrace(frames, WASM_BACKTRACE_MAX);
    if (n == 0) return;
    fputs("wasm backtrace:\n", stderr);
    for (size_t i = 0; i < n; i++) {
        char place[300];
        fprintf(stderr, "  %2zu: %s\n", i, wasm_trap_site_text(&frames[i], place, sizeof place));
    }
}

int cli_run(int argc, char **argv) {
    run_args a;
    int status = parse_run_args(argc, argv, &a);
    if (status) {
        for (int i = 0; i < a.ndirs; i++)
            free((void *)a.dirs[i].host_path);
        free(a.dirs);
        free(a.env);
        return status < 0 ? 0 : status;
    }
    status = RUN_SETUP_FAILED;
    uint8_t *bytes = NULL;
    size_t len = 0;
    wasm_error err;
    wasm_module *m = NULL;
    wasi_ctx *ctx = NULL;
    wasm_linker *l = NULL;
    wasm_instance *inst = NULL;
    const char **envp = NULL;
    const char **guest_argv = NULL;
    int stdin_fd = -1;
    srv_profile *prof = NULL;

    int e = cli_read_file(a.module, &bytes, &len);
    if (e) {
        fprintf(stderr, "wasp run: %s: %s\n", a.module, strerror(e));
        goto done;
    }
    m = wasm_module_load(bytes, len, &err);
    if (!m) {
        cli_print_error(stderr, a.module, &err);
        goto done;
    }
    if (a.tier != SRV_TIER_INTERP)
        cli_native(m, a.module, a.cache, a.fuel || a.stats ? WASM_NATIVE_FUEL : 0,
                   a.tier == SRV_TIER_NATIVE, "wasp run");

    /* the environment: only what was granted */
    int nenv = a.nenv, k = 0;
    if (a.inherit_env)
        for (char **p = environ; *p; p++)
            nenv++;
    envp = calloc((size_t)nenv + 1, sizeof *envp);
    guest_argv = calloc((size_t)a.nargs + 2, sizeof *guest_argv);
    if (!envp || !guest_argv) goto oom;
    if (a.inherit_env)
        for (char **p = environ; *p; p++)
            k = env_put(envp, k, *p);
    for (int i = 0; i < a.nenv; i++)
        k = env_put(envp, k, a.env[i]);
    guest_argv[0] = a.module;
    for (int i = 0; i < a.nargs; i++)
        guest_argv[i + 1] = a.args[i];

    wasi_config cfg = {.argc = a.nargs + 1,
                       .argv = guest_argv,
                       .envc = k,
                       .envp = envp,
                       .npreopens = a.ndirs,
                       .preopens = a.dirs};
    if (a.stdin_path) {
        stdin_fd = open(a.stdin_path, O_RDONLY | O_CLOEXEC);
        if (stdin_fd < 0) {
            fprintf(stderr, "wasp run: --stdin %s: %s\n", a.stdin_path, strerror(errno));
            goto done;
        }
        cfg.stdio[0] = (wasi_stdio){.kind = WASI_STDIO_FD, .fd = stdin_fd};
    }
    char msg[512];
    ctx = wasi_ctx_new(&cfg, msg, sizeof msg);
    if (!ctx) {
        fprintf(stderr, "wasp run: %s\n", msg);
        goto done;
    }
    l = wasm_linker_new();
    if (!l || !wasi_link(ctx, l, &err)) goto oom;
    inst = wasm_instance_new(m, l, &err);
    if (!inst) {
        if (err.kind == WASM_ERR_TRAP) {
            fprintf(stderr, "wasp run: %s: %s\n", a.module, err.msg);
            status = RUN_TRAPPED;
        } else {
            fprintf(stderr, "wasp run: %s: cannot instantiate: %s\n", a.module, err.msg);
        }
        goto done;
    }

    if (a.profile) {
        prof = srv_profile_start(a.profile_hz ? a.profile_hz : SRV_PROFILE_HZ, m, msg, sizeof msg);
        if (!prof) {
            fprintf(stderr, "wasp run: --profile: %s\n", msg);
            goto done;
        }
    }
    /* --stats counts the fuel: a budget no run reaches when none is given */
    wasm_call_opts opts = {.deadline_ms = a.deadline_ms,
                           .fuel = a.fuel    ? a.fuel
                                   : a.stats ? UINT64_MAX / 2
                                             : 0};
    run_stats st = {0};
    if (a.stats) wasm_observe_host_calls(count_host_call, &st);
    wasm_trap_code trap = WASM_TRAP_NONE;
    wasm_extern fn;
    if (a.invoke) {
        if (wasm_instance_export(inst, "_initialize", &fn))
            trap = wasm_call_ex(fn, NULL, NULL, &opts);
        if (trap == WASM_TRAP_NONE) {
            int s = invoke(inst, a.invoke, a.nargs, a.args, &opts, &trap);
            if (s) {
                status = s;
                goto done;
            }
        }
    } else if (wasm_instance_export(inst, "_start", &fn) && fn.kind == WASM_EXTERN_FUNC) {
        trap = wasm_call_ex(fn, NULL, NULL, &opts);
    } else {
        fprintf(stderr,
                "wasp run: %s exports no _start: it is not a WASI command (for a reactor, "
                "name the function to call with --invoke NAME)\n",
                a.module);
        goto done;
    }
    fflush(stdout);
    wasm_observe_host_calls(NULL, NULL);
    if (a.stats) print_stats(&st, inst);
    if (prof && !write_profile(prof, a.profile)) goto done;
    int code;
    if (trap == WASM_TRAP_NONE) {
        status = 0;
    } else if (trap == WASM_TRAP_EXIT && wasi_exit_code(ctx, &code)) {
        status = code;
        if (code < 0 || code > 255) {
            /* the host keeps only 8 bits: 256 would read as success */
            fprintf(stderr, "wasp run: %s exited with %d, out of 0..255; exiting with 1\n",
                    a.module, code);
            status = 1;
        }
    } else {
        wasm_trap_site site;
        char place[300] = "";
        if (wasm_last_trap_site(&site)) {
            strcpy(place, " in ");
            wasm_trap_site_text(&site, place + 4, sizeof place - 4);
        }
        fprintf(stderr, "wasp run: %s trapped: %s%s\n", a.module, wasm_trap_message(trap), place);
        print_backtrace();
        status = RUN_TRAPPED;
    }
    if (status != 0 && a.ndirs == 0 && a.nargs > 0)
        fprintf(stderr,
                "wasp run: note: no directory was granted to the module; if it needed a file, "
                "grant its folder with --dir HOST[::GUEST]\n");
    goto done;
oom:
    fprintf(stderr, "wasp run: out of memory\n");
done:
    srv_profile_free(prof); /* first: its samples name the module's functions */
    wasm_instance_free(inst);
    wasm_linker_free(l);
    wasi_ctx_free(ctx);
    wasm_module_free(m);
    free(bytes);
    free(envp);
    free(guest_argv);
    if (stdin_fd >= 0) close(stdin_fd);
    for (int i = 0; i < a.ndirs; i++)
        free((void *)a.dirs[i].host_path);
    free(a.dirs);
    free(a.env);
    return status;
}
