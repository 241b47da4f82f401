/*
 * fuzz_diff.c - libFuzzer target: the native tier against the interpreter,
 * on the same module and the same calls.
 *
 * Each input becomes a valid module through gen_module.c (random bytes
 * rarely make one), which is loaded twice: one copy stays interpreted, the
 * other goes through wasm_module_compile_native_ex. A module the tier
 * refuses (WASM_ERR_LIMIT: something it does not compile yet) is skipped
 * and counted. Both copies are instantiated against one linker holding the
 * import "env" "h", a host function whose result depends on its argument
 * and on the caller's memory (so compiled code must hand over the right
 * instance). Then the rest of the input is a list of calls - which export,
 * its arguments (edge values mostly), a fuel budget - made on both
 * instances in turn. Half of the modules are compiled with
 * WASM_NATIVE_FUEL, whose code counts function entries and loop iterations
 * as the interpreter does, so both get the budget and must run out of it at
 * the same point. The others are compiled without, as wasp serves modules
 * that have no fuel limit: the interpreter runs each call under the budget
 * first, and only when it finishes within it is the compiled code called,
 * without fuel (a deadline of DEADLINE_MS as a safety net); when it runs out
 * the input stops there. After instantiation and after each call the tiers
 * must agree on:
 *   - the trap, or the results: bit for bit, except that two float NaNs
 *     are equal whatever their bits (the spec lets them differ; the module
 *     makes NaNs canonical wherever their bits would be seen otherwise);
 *   - the whole of linear memory, its size included;
 *   - every global (all of them are exported), NaNs as for results.
 * A call that exhausts the stack in either tier ends the input without a
 * verdict: how deep each tier can go is its own limit, not a semantic.
 *
 * A disagreement prints what differs, writes the module to
 * $FUZZ_DIFF_DIR/diff-<hash>.wasm (default build/fuzz-artifacts) for
 * wasm2wat, and aborts, so that libFuzzer saves the input. A generated
 * module that does not load is a finding too (of the generator or of the
 * validator). With FUZZ_DIFF_DUMP=DIR every module is written there; with
 * FUZZ_DIFF_VERBOSE set every call is printed with its outcome.
 * At exit a line of counts says what the run exercised.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_module.h"
#include "wasm/wasm.h"

#define MEMORY_CAP_PAGES 8
#define MAX_CALLS 8
#define DEADLINE_MS 5000 /* for calls without fuel: far more than any needs */

static struct {
    unsigned long inputs, refused, unfueled, calls, inconclusive, out_of_fuel, results;
    double compile_ms; /* in wasm_module_compile_native_ex */
    unsigned long traps[WASM_TRAP_EXIT + 1];
    char refusal[3][160];
} stats;

static const gen_opts opts = {.simd = true};
static bool verbose; /* FUZZ_DIFF_VERBOSE set: every call and its outcome */

/* "env" "h" (i64) -> i64: a mix of its argument and the caller's memory;
 * traps (WASM_TRAP_HOST) for arguments ending in 0xdead. */
static wasm_trap_code host_h(void *env, wasm_instance *caller, const wasm_value *args,
                             wasm_value *results) {
    (void)env;
    uint64_t x = args[0].of.i64, size = 0;
    const uint8_t *mem = caller ? wasm_instance_memory(caller, &size) : NULL;
    if (mem && size) x += mem[x % size];
    results[0].type = WASM_I64;
    results[0].of.i64 = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull + 1;
    return (args[0].of.i64 & 0xffff) == 0xdead ? WASM_TRAP_HOST : WASM_TRAP_NONE;
}

static void print_stats(void) {
    fprintf(stderr,
            "fuzz_diff: %lu modules (%lu compiled without fuel), %lu refused by the native tier, "
            "%lu calls: %lu returned, %lu stopped the input (stack), %lu ran out of fuel in the "
            "interpreter only (code without fuel), traps:",
            stats.inputs, stats.unfueled, stats.refused, stats.calls, stats.results,
            stats.inconclusive, stats.out_of_fuel);
    for (int t = 1; t <= WASM_TRAP_EXIT; t++)
        if (stats.traps[t]) fprintf(stderr, " %s %lu,", wasm_trap_message(t), stats.traps[t]);
    fprintf(stderr, " compiling %.1f ms a module\n",
            stats.inputs ? stats.compile_ms / (double)stats.inputs : 0.0);
    for (int i = 0; i < 3 && stats.refusal[i][0]; i++)
        fprintf(stderr, "fuzz_diff: refused: %s\n", stats.refusal[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    atexit(print_stats);
    verbose = getenv("FUZZ_DIFF_VERBOSE") != NULL;
    return 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void write_module(const char *dir, const char *prefix, const uint8_t *bytes, size_t len,
                         bool say) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s%016llx.wasm", dir, prefix,
             (unsigned long long)fnv1a(bytes, len));
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "fuzz_diff: cannot write %s\n", path);
        return;
    }
    if (say) fprintf(stderr, "fuzz_diff: module written to %s\n", path);
}

/* A finding: says what, keeps the module, aborts. */
__attribute__((noreturn, format(printf, 3, 4))) static void fail(const uint8_t *bytes, size_t len,
                                                                 const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_diff: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    const char *dir = getenv("FUZZ_DIFF_DIR");
    write_module(dir ? dir : "build/fuzz-artifacts", "diff-", bytes, len, true);
    abort();
}

static bool is_nan(wasm_valtype t, const wasm_value *v) {
    if (t == WASM_F32) return (v->of.f32 & 0x7fffffffu) > 0x7f800000u;
    if (t == WASM_F64) return (v->of.f64 & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
    return false;
}

static bool same(wasm_valtype t, const wasm_value *a, const wasm_value *b) {
    switch (t) {
    case WASM_I32: return a->of.i32 == b->of.i32;
    case WASM_F32: return a->of.f32 == b->of.f32 || (is_nan(t, a) && is_nan(t, b));
    case WASM_I64: return a->of.i64 == b->of.i64;
    case WASM_F64: return a->of.f64 == b->of.f64 || (is_nan(t, a) && is_nan(t, b));
    case WASM_V128: return !memcmp(a->of.v128, b->of.v128, 16);
    default: return a->of.ref == b->of.ref;
    }
}

static void format_value(char *out, size_t n, wasm_valtype t, const wasm_value *v) {
    switch (t) {
    case WASM_I32:
    case WASM_F32: snprintf(out, n, "%s:0x%08x", wasm_valtype_name(t), v->of.i32); break;
    case WASM_I64:
    case WASM_F64:
        snprintf(out, n, "%s:0x%016llx", wasm_valtype_name(t), (unsigned long long)v->of.i64);
        break;
    default: {
        size_t k = (size_t)snprintf(out, n, "v128:");
        for (int i = 0; i < 16 && k + 3 < n; i++)
            k += (size_t)snprintf(out + k, n - k, "%02x", v->of.v128[i]);
    }
    }
}

/* The state of one tier. */
typedef struct tier {
    const char *name;
    wasm_module *m;
    wasm_instance *inst;
    uint32_t flags; /* the native tier's WASM_NATIVE_* */
} tier;

/* Memory and globals of the two instances, after `what`. */
static void compare_state(tier *t, const uint8_t *bytes, size_t len, const char *what) {
    uint64_t si, sn;
    const uint8_t *mi = wasm_instance_memory(t[0].inst, &si);
    const uint8_t *mn = wasm_instance_memory(t[1].inst, &sn);
    if (si != sn)
        fail(bytes, len, "after %s: memory size %llu (interpreter), %llu (native)", what,
             (unsigned long long)si, (unsigned long long)sn);
    if (memcmp(mi, mn, si)) {
        uint64_t at = 0;
        while (mi[at] == mn[at])
            at++;
        fail(bytes, len,
             "after %s: memory differs first at %llu: %02x (interpreter), %02x (native)", what,
             (unsigned long long)at, mi[at], mn[at]);
    }
    for (uint32_t i = 0; i < t[0].m->nexports; i++) {
        const wasm_export *e = &t[0].m->exports[i];
        wasm_extern gi, gn;
        if (e->kind != WASM_EXTERN_GLOBAL) continue;
        if (!wasm_instance_export(t[0].inst, e->name.str, &gi) ||
            !wasm_instance_export(t[1].inst, e->name.str, &gn))
            fail(bytes, len, "global %s not exported", e->name.str);
        wasm_value vi = wasm_global_get(gi), vn = wasm_global_get(gn);
        if (!same(vi.type, &vi, &vn)) {
            char a[64], b[64];
            format_value(a, sizeof a, vi.type, &vi);
            format_value(b, sizeof b, vn.type, &vn);
            fail(bytes, len, "after %s: global %s is %s (interpreter), %s (native)", what,
                 e->name.str, a, b);
        }
    }
}

/* An argument of type t from the input. */
static wasm_value argument(gen_src *src, wasm_valtype t) {
    wasm_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    switch (t) {
    case WASM_I32: v.of.i32 = gen_i32(src); break;
    case WASM_I64: v.of.i64 = gen_i64(src); break;
    case WASM_F32: v.of.f32 = gen_f32(src); break;
    case WASM_F64: v.of.f64 = gen_f64(src); break;
    default:
        for (int i = 0; i < 16; i++)
            v.of.v128[i] = gen_byte(src);
    }
    return v;
}

/* Fuel: mostly enough for a few thousand loop iterations and calls, which
 * no tier's stack runs out on; sometimes a little, to stop calls early. */
static uint64_t fuel(gen_src *src) {
    switch (gen_below(src, 4)) {
    case 0: return 3000;
    case 1: return 1 + gen_below(src, 64);
    case 2: return 1 + gen_below(src, 1000);
    default: return 500;
    }
}

static void describe_call(char *out, size_t n, const char *name, const wasm_functype *ft,
                          const wasm_value *args, uint64_t fuel_given, bool native_fuel) {
    size_t k = (size_t)snprintf(out, n, "call %s(", name);
    for (uint32_t a = 0; a < ft->nparams && k + 64 < n; a++) {
        if (a) k += (size_t)snprintf(out + k, n - k, ", ");
        format_value(out + k, n - k, ft->params[a], &args[a]);
        k += strlen(out + k);
    }
    snprintf(out + k, n - k, ") with fuel %llu%s", (unsigned long long)fuel_given,
             native_fuel ? "" : " (the interpreter's; compiled without WASM_NATIVE_FUEL, none)");
}

/* One call of export `e` on both tiers; false when the input must stop. */
static bool call_both(tier *t, const wasm_export *e, gen_src *src, const uint8_t *bytes,
                      size_t len) {
    wasm_extern fi, fn;
    if (!wasm_instance_export(t[0].inst, e->name.str, &fi) ||
        !wasm_instance_export(t[1].inst, e->name.str, &fn))
        fail(bytes, len, "function %s not exported", e->name.str);
    const wasm_functype *ft = wasm_func_type(fi);
    wasm_value args[8], ri[8], rn[8];
    if (ft->nparams > 8 || ft->nresults > 8) return false;
    for (uint32_t k = 0; k < ft->nparams; k++)
        args[k] = argument(src, ft->params[k]);
    wasm_call_opts co = {.fuel = fuel(src)}, cn = co;
    bool native_fuel = t[1].flags & WASM_NATIVE_FUEL;
    memset(ri, 0, sizeof ri);
    memset(rn, 0, sizeof rn);
    wasm_trap_code ti = wasm_call_ex(fi, args, ri, &co);
    if (!native_fuel && ti == WASM_TRAP_FUEL_EXHAUSTED) {
        /* the call may never end without fuel */
        stats.out_of_fuel++;
        return false;
    }
    if (!native_fuel) cn = (wasm_call_opts){.deadline_ms = DEADLINE_MS};
    wasm_trap_code tn = wasm_call_ex(fn, args, rn, &cn);
    stats.calls++;
    char what[600];
    describe_call(what, sizeof what, e->name.str, ft, args, co.fuel, native_fuel);
    if (verbose)
        fprintf(stderr, "fuzz_diff: %s: interpreter: %s, native: %s\n", what,
                ti ? wasm_trap_message(ti) : "returned", tn ? wasm_trap_message(tn) : "returned");
    if (ti == WASM_TRAP_STACK_EXHAUSTED || tn == WASM_TRAP_STACK_EXHAUSTED) {
        stats.inconclusive++;
        return false;
    }
    if (ti != tn)
        fail(bytes, len, "%s: interpreter: %s, native: %s", what,
             ti ? wasm_trap_message(ti) : "returned", tn ? wasm_trap_message(tn) : "returned");
    if (ti) {
        stats.traps[ti]++;
    } else {
        stats.results++;
        for (uint32_t r = 0; r < ft->nresults; r++) {
            if (same(ft->results[r], &ri[r], &rn[r])) continue;
            char a[64], b[64];
            format_value(a, sizeof a, ft->results[r], &ri[r]);
            format_value(b, sizeof b, ft->results[r], &rn[r]);
            fail(bytes, len, "%s: result %u is %s (interpreter), %s (native)", what, r, a, b);
        }
    }
    compare_state(t, bytes, len, what);
    return true;
}

static void run(const uint8_t *bytes, size_t len, gen_src *src) {
    wasm_error err;
    tier t[2] = {{.name = "interpreter"}, {.name = "native"}};
    wasm_linker *l = wasm_linker_new();
    if (!l) abort();
    static const wasm_valtype i64 = WASM_I64;
    if (!wasm_linker_func(l, "env", "h", 1, &i64, 1, &i64, host_h, NULL, &err)) abort();
    wasm_linker_limit_memory(l, MEMORY_CAP_PAGES);
    for (int i = 0; i < 2; i++) {
        t[i].m = wasm_module_load(bytes, len, &err);
        if (!t[i].m)
            fail(bytes, len, "the generated module does not load: %s (%s at byte %zu)", err.msg,
                 wasm_errkind_name(err.kind), err.offset);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    t[1].flags = gen_byte(src) & 1 ? WASM_NATIVE_FUEL : 0;
    stats.unfueled += !t[1].flags;
    bool compiled = wasm_module_compile_native_ex(t[1].m, t[1].flags, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats.compile_ms +=
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (!compiled) {
        if (err.kind != WASM_ERR_LIMIT) fail(bytes, len, "compile: %s", err.msg);
        stats.refused++;
        for (int i = 0; i < 3; i++)
            if (!stats.refusal[i][0] || !strcmp(stats.refusal[i], err.msg)) {
                snprintf(stats.refusal[i], sizeof stats.refusal[i], "%s", err.msg);
                break;
            }
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        t[i].inst = wasm_instance_new(t[i].m, l, &err);
        if (!t[i].inst)
            fail(bytes, len, "%s: the generated module does not instantiate: %s", t[i].name,
                 err.msg);
    }
    compare_state(t, bytes, len, "instantiation");
    uint32_t funcs[8], nfuncs = 0;
    for (uint32_t i = 0; i < t[0].m->nexports && nfuncs < 8; i++)
        if (t[0].m->exports[i].kind == WASM_EXTERN_FUNC) funcs[nfuncs++] = i;
    uint32_t ncalls = 1 + gen_below(src, MAX_CALLS);
    for (uint32_t c = 0; c < ncalls && nfuncs; c++) {
        const wasm_export *e = &t[0].m->exports[funcs[gen_below(src, nfuncs)]];
        if (!call_both(t, e, src, bytes, len)) break;
    }
out:
    for (int i = 0; i < 2; i++) {
        wasm_instance_free(t[i].inst);
        wasm_module_free(t[i].m);
    }
    wasm_linker_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gen_src src = {.p = data, .n = size};
    size_t len = 0;
    uint8_t *bytes = gen_module(&src, &opts, &len);
    if (!bytes) return 0;
    stats.inputs++;
    const char *dump = getenv("FUZZ_DIFF_DUMP");
    if (dump) write_module(dump, "", bytes, len, false);
    run(bytes, len, &src);
    free(bytes);
    return 0;
}
