/*
 * spec_runner.c - runs the official WebAssembly spec testsuite against wasp.
 *
 * Each .wast script is converted by wabt's wast2json into a JSON list of
 * commands plus one .wasm file per binary module, in a fresh temporary
 * folder that is removed afterwards. The commands are then run one by one
 * through a small table that maps each command type to a function:
 *
 *     .wast --wast2json--> NAME.json + NAME.N.wasm --commands[]--> tally
 *
 * Every command is executed: modules are loaded and instantiated with a
 * linker that holds the `spectest` host module and every registered
 * instance; actions invoke exported functions or read exported globals, and
 * assertions compare what came back (results, traps, link and instantiation
 * errors) with what the script expects. The instances of a script live until
 * its last command, then are freed, instances before the linker. Each
 * script runs in a forked process, so an engine crash costs that script
 * one reported failure (at the command under way) and the run goes on.
 * Assertions about the text format (.wat modules) are not applicable to a
 * binary-only engine and are counted apart, never as passed. "Skipped" is
 * kept for a command type the runner does not know, printed with why.
 *
 * Values cross the JSON as decimal strings of their bits (wast2json's
 * encoding), NaN patterns ("nan:canonical", "nan:arithmetic") are matched
 * as the spec interpreter matches them, and an externref N travels as the
 * host pointer N + 1, so null stays NULL.
 *
 * `make spec` and `make asan-test` run it; the last line of its output is
 * the total, and the exit status is 0 only when nothing failed. The
 * testsuite is read where it lies (../shared/wasm-testsuite beside the
 * checkout, described by its README.md); this program must never copy or
 * modify it, and it treats the converted JSON and module files as
 * untrusted input: anything missing or unexpected is a reported failure,
 * never a crash. tests/spec/README.md says how to run it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wasm/wasm.h"

extern char **environ;

/* Without -v, at most this many failure lines are printed per file. */
#define MAX_FAILURE_LINES 20
/* How much of wast2json's stderr is kept for a message. */
#define MAX_STDERR_BYTES 4096

/* The folders run when no file or folder is named, relative to the
 * testsuite (the Wasm 2.0 target; see the testsuite's README). */
static const char *const default_dirs[] = {
    "core",
    "proposals/tail-call",
    "proposals/extended-const",
};

/* ---- small helpers ---------------------------------------------------- */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "spec_runner: out of memory\n");
        exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "spec_runner: out of memory\n");
        exit(2);
    }
    return p;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

/* Returns "dir/name" in a new string. */
static char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + 1 + b + 1);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A growing string for messages whose length is not known in advance
 * (arguments, v128 lanes). Starts zeroed; sb.s is NULL until written. */
typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

__attribute__((format(printf, 2, 3))) static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = 2 * (b->len + (size_t)n + 1);
        b->s = xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char *sb_str(const strbuf *b) {
    return b->s ? b->s : "";
}

/* Appends a name from the script in double quotes, with control bytes,
 * quotes and backslashes escaped (names.wast has all of them); other
 * bytes, UTF-8 included, go through as they are. */
static void sb_quote(strbuf *b, const char *s, size_t len) {
    sb_printf(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            sb_printf(b, "\\%02x", ch);
        else
            sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

/* Reads a whole file into a new buffer (freed by the caller). On failure
 * returns NULL with a reason in `why`. */
static uint8_t *read_file(const char *path, size_t *len, char *why, size_t whysize) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whysize, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        uint8_t *bigger = realloc(buf, cap);
        if (!bigger) {
            free(buf);
            fclose(f);
            snprintf(why, whysize, "out of memory reading %s", path);
            return NULL;
        }
        buf = bigger;
    }
    bool bad = ferror(f) != 0;
    int saved = errno;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(why, whysize, "cannot read %s: %s", path, strerror(saved));
        return NULL;
    }
    *len = n;
    return buf;
}

/* Removes the temporary folder of one script and the files in it. It only
 * ever holds what wast2json and we wrote there, so it has no subfolders. */
static void remove_tmpdir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *p = path_join(dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    if (rmdir(dir) != 0)
        fprintf(stderr, "spec_runner: warning: cannot remove %s: %s\n", dir, strerror(errno));
}

/* Seconds a script may take (the slowest takes a few under ASan). */
#define SCRIPT_TIMEOUT_S 600

/* ---- tallies and failure reports -------------------------------------- */

/* NOT_RUN: in the native tier, a command on a module the tier does not
 * compile yet (it ran in the interpreter, which the interpreter's line
 * counts); never counted as passed. */
typedef enum { PASSED, FAILED, SKIPPED, NOT_APPLICABLE, NOT_RUN } outcome;

typedef struct tally {
    unsigned passed, failed, skipped, na, notrun;
} tally;

static void tally_count(tally *t, outcome o) {
    switch (o) {
    case PASSED: t->passed++; break;
    case FAILED: t->failed++; break;
    case SKIPPED: t->skipped++; break;
    case NOT_APPLICABLE: t->na++; break;
    case NOT_RUN: t->notrun++; break;
    }
}

static void tally_add(tally *to, const tally *from) {
    to->passed += from->passed;
    to->failed += from->failed;
    to->skipped += from->skipped;
    to->na += from->na;
    to->notrun += from->notrun;
}

/* Options and totals of the whole run. */
typedef struct runner {
    const char *suite; /* the testsuite folder */
    bool verbose;
    bool native; /* --tier native: modules compiled to machine code */
    tally total;
    unsigned files; /* scripts attempted */
} runner;

/* A module a command of the script defined or tried to. Every one is kept
 * until the script ends: an instance may be named, registered or current,
 * and one that failed to instantiate may have left functions in tables it
 * imported (linking.wast calls them). */
typedef struct loaded {
    char *name;          /* "$M" from the JSON, or NULL */
    long line;           /* of the command that made it */
    bool text;           /* a text-format module: never loaded */
    wasm_module *module; /* NULL when it did not load */
    wasm_instance *inst; /* NULL when it did not instantiate */
    bool interp;         /* --tier native, and the tier does not take it yet */
} loaded;

/* What the process running a script shares with the runner, so that an
 * engine crash is reported with the command under way and the counts so
 * far, and the other scripts still run (see run_script). */
typedef struct progress {
    tally n;       /* the script's counts so far */
    long line;     /* of the command under way; 0 outside commands */
    char what[32]; /* its type, or the phase ("setup", "cleanup") */
    bool finished; /* the script ran to its end */
} progress;

/* One .wast script being run. */
typedef struct script {
    runner *run;
    const char *wast; /* its path */
    const char *name; /* its name in messages: relative to the testsuite */
    const char *dir;  /* the temporary folder with its JSON and modules */
    tally n;
    unsigned reported; /* failure lines printed */
    unsigned unshown;  /* failure lines held back by MAX_FAILURE_LINES */
    progress *shared;  /* in memory shared with the runner */

    wasm_linker *linker; /* spectest plus every `register` */
    loaded *mods;        /* in command order */
    size_t nmods, capmods;
    long current;   /* index into mods of the last `module`; -1 before it */
    bool on_interp; /* the command under way acts on an interpreted module */
} script;

/* One command of the JSON list. */
typedef struct command {
    const char *type;
    long line; /* in the .wast; 0 when unknown */
    json_t *json;
} command;

/* Prints one failure line ("name:line: what: reason"), unless the file
 * has already printed its share. Counting the failure is the caller's.
 * Returns whether the line was printed. */
__attribute__((format(printf, 4, 0))) static bool vreport(script *s, long line, const char *what,
                                                          const char *fmt, va_list ap) {
    if (!s->run->verbose && s->reported >= MAX_FAILURE_LINES) {
        s->unshown++;
        return false;
    }
    s->reported++;
    if (line > 0)
        printf("  %s:%ld: %s: ", s->name, line, what);
    else
        printf("  %s: %s: ", s->name, what);
    vprintf(fmt, ap);
    putchar('\n');
    return true;
}

__attribute__((format(printf, 4, 5))) static void report(script *s, long line, const char *what,
                                                         const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(s, line, what, fmt, ap);
    va_end(ap);
}

/* ---- values ----------------------------------------------------------- */

/* The shape of one lane: a whole i32/i64/f32/f64, or one lane of a v128
 * (wast2json's "lane_type"). */
typedef struct lane_shape {
    const char *name;
    unsigned bytes;
    bool is_float;
} lane_shape;

enum { SHAPE_I8, SHAPE_I16, SHAPE_I32, SHAPE_I64, SHAPE_F32, SHAPE_F64, NSHAPES };

static const lane_shape lane_shapes[NSHAPES] = {
    [SHAPE_I8] = {"i8", 1, false},   [SHAPE_I16] = {"i16", 2, false},
    [SHAPE_I32] = {"i32", 4, false}, [SHAPE_I64] = {"i64", 8, false},
    [SHAPE_F32] = {"f32", 4, true},  [SHAPE_F64] = {"f64", 8, true},
};

static const lane_shape *find_shape(const char *name) {
    for (size_t i = 0; i < NSHAPES; i++)
        if (name && strcmp(lane_shapes[i].name, name) == 0) return &lane_shapes[i];
    return NULL;
}

/* The shape of a scalar number type; NULL for v128 and references. */
static const lane_shape *scalar_shape(wasm_valtype t) {
    switch (t) {
    case WASM_I32: return &lane_shapes[SHAPE_I32];
    case WASM_I64: return &lane_shapes[SHAPE_I64];
    case WASM_F32: return &lane_shapes[SHAPE_F32];
    case WASM_F64: return &lane_shapes[SHAPE_F64];
    default: return NULL;
    }
}

/* How one lane (or a whole scalar or reference) of a result is matched. */
typedef enum {
    MATCH_BITS,           /* exactly these bits, or this reference */
    MATCH_NAN_CANONICAL,  /* exponent all ones, only the top mantissa bit set, either sign */
    MATCH_NAN_ARITHMETIC, /* exponent all ones and the top mantissa bit set */
    MATCH_NONNULL,        /* any non-null reference */
} match;

static const char *match_name(match m) {
    switch (m) {
    case MATCH_BITS: break;
    case MATCH_NAN_CANONICAL: return "nan:canonical";
    case MATCH_NAN_ARITHMETIC: return "nan:arithmetic";
    case MATCH_NONNULL: return "non-null";
    }
    return "bits";
}

/* An argument or an expected result. Scalars and references are one lane;
 * a v128 is 16 / shape->bytes lanes. Arguments are always MATCH_BITS. */
typedef struct spec_value {
    wasm_value v;
    const lane_shape *shape; /* NULL for references */
    unsigned nlanes;
    match how[16];
} spec_value;

static uint64_t lane_get(const wasm_value *v, const lane_shape *sh, unsigned k) {
    if (v->type != WASM_V128) return sh->bytes == 8 ? v->of.i64 : v->of.i32;
    uint64_t x = 0;
    for (unsigned b = 0; b < sh->bytes; b++)
        x |= (uint64_t)v->of.v128[k * sh->bytes + b] << (8 * b);
    return x;
}

static void lane_set(wasm_value *v, const lane_shape *sh, unsigned k, uint64_t x) {
    if (v->type != WASM_V128) {
        if (sh->bytes == 8)
            v->of.i64 = x;
        else
            v->of.i32 = (uint32_t)x;
        return;
    }
    for (unsigned b = 0; b < sh->bytes; b++)
        v->of.v128[k * sh->bytes + b] = (uint8_t)(x >> (8 * b));
}

/* Parses an unsigned decimal no greater than `max`, as wast2json writes
 * every number (the bits, for floats). */
static bool parse_bits(const char *s, uint64_t max, uint64_t *out) {
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || x > max) return false;
    *out = x;
    return true;
}

/* Parses lane k of `out`: its bits, or a NaN pattern when `patterns`. */
static bool parse_lane(const char *str, const lane_shape *sh, bool patterns, spec_value *out,
                       unsigned k, char *why, size_t whysize) {
    if (!str) {
        snprintf(why, whysize, "a %s value is not a string", sh->name);
        return false;
    }
    if (sh->is_float && strncmp(str, "nan:", 4) == 0) {
        if (strcmp(str, "nan:canonical") == 0)
            out->how[k] = MATCH_NAN_CANONICAL;
        else if (strcmp(str, "nan:arithmetic") == 0)
            out->how[k] = MATCH_NAN_ARITHMETIC;
        if (out->how[k] == MATCH_BITS || !patterns) {
            snprintf(why, whysize, "'%s' is not a %s %s", str, sh->name,
                     patterns ? "value or NaN pattern" : "value");
            return false;
        }
        return true;
    }
    uint64_t x;
    uint64_t max = sh->bytes == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * sh->bytes)) - 1;
    if (!parse_bits(str, max, &x)) {
        snprintf(why, whysize, "'%s' is not the bits of a %s", str, sh->name);
        return false;
    }
    lane_set(&out->v, sh, k, x);
    return true;
}

/* Parses a JSON value ({"type": ..., "value": ...}) into *out. With
 * `patterns` (expected results) NaN patterns and non-null reference
 * patterns are allowed. Returns false with a reason in `why`. */
static bool parse_value(const json_t *j, bool patterns, spec_value *out, char *why,
                        size_t whysize) {
    memset(out, 0, sizeof *out);
    out->nlanes = 1;
    const char *type = json_string_value(json_object_get(j, "type"));
    const json_t *value = json_object_get(j, "value");
    if (!type) {
        snprintf(why, whysize, "a value has no type");
        return false;
    }
    if (strcmp(type, "funcref") == 0 || strcmp(type, "externref") == 0) {
        bool func = type[0] == 'f';
        out->v.type = func ? WASM_FUNCREF : WASM_EXTERNREF;
        const char *str = json_string_value(value);
        uint64_t n = 0;
        if (str && strcmp(str, "null") == 0) return true;
        if (!value && patterns) { /* (ref.func) or (ref.extern): any non-null */
            out->how[0] = MATCH_NONNULL;
            return true;
        }
        if (!parse_bits(str, UINTPTR_MAX - 1, &n)) {
            snprintf(why, whysize, "'%s' is not a %s", str ? str : "(no value)", type);
            return false;
        }
        if (func) {
            /* Only the engine makes function references; an expected one
             * asks for any non-null result. */
            if (!patterns) {
                snprintf(why, whysize, "a non-null funcref (%s) cannot be made by the host", str);
                return false;
            }
            out->how[0] = MATCH_NONNULL;
            return true;
        }
        out->v.of.ref = (void *)(uintptr_t)(n + 1);
        return true;
    }
    if (strcmp(type, "v128") == 0) {
        out->v.type = WASM_V128;
        const char *lane = json_string_value(json_object_get(j, "lane_type"));
        out->shape = find_shape(lane);
        if (!out->shape) {
            snprintf(why, whysize, "v128 with lane type '%s'", lane ? lane : "(none)");
            return false;
        }
        out->nlanes = 16 / out->shape->bytes;
        if (json_array_size(value) != out->nlanes) {
            snprintf(why, whysize, "v128 of %s lanes needs %u values", lane, out->nlanes);
            return false;
        }
        for (unsigned k = 0; k < out->nlanes; k++)
            if (!parse_lane(json_string_value(json_array_get(value, k)), out->shape, patterns, out,
                            k, why, whysize))
                return false;
        return true;
    }
    out->shape = find_shape(type);
    switch (out->shape ? out->shape - lane_shapes : -1) {
    case SHAPE_I32: out->v.type = WASM_I32; break;
    case SHAPE_I64: out->v.type = WASM_I64; break;
    case SHAPE_F32: out->v.type = WASM_F32; break;
    case SHAPE_F64: out->v.type = WASM_F64; break;
    default: snprintf(why, whysize, "unknown value type '%s'", type); return false;
    }
    return parse_lane(json_string_value(value), out->shape, patterns, out, 0, why, whysize);
}

static bool lane_matches(const lane_shape *sh, match how, uint64_t want, uint64_t got) {
    uint64_t sign = sh->bytes == 8 ? UINT64_C(1) << 63 : UINT64_C(1) << 31;
    uint64_t quiet = sh->bytes == 8 ? UINT64_C(0x7ff8000000000000) : UINT64_C(0x7fc00000);
    switch (how) {
    case MATCH_NAN_CANONICAL: return (got & ~sign) == quiet;
    case MATCH_NAN_ARITHMETIC: return (got & quiet) == quiet;
    default: return got == want;
    }
}

static bool value_matches(const spec_value *want, const wasm_value *got) {
    if (got->type != want->v.type) return false;
    if (!want->shape)
        return want->how[0] == MATCH_NONNULL ? got->of.ref != NULL : got->of.ref == want->v.of.ref;
    for (unsigned k = 0; k < want->nlanes; k++)
        if (!lane_matches(want->shape, want->how[k], lane_get(&want->v, want->shape, k),
                          lane_get(got, want->shape, k)))
            return false;
    return true;
}

/* Appends one lane's bits, and for a float or a scalar integer also its
 * number. */
static void sb_lane(strbuf *b, const lane_shape *sh, uint64_t x, bool scalar) {
    sb_printf(b, "0x%0*llx", (int)(2 * sh->bytes), (unsigned long long)x);
    if (sh->is_float && sh->bytes == 4) {
        uint32_t u = (uint32_t)x;
        float f;
        memcpy(&f, &u, sizeof f);
        sb_printf(b, " (%.9g)", (double)f);
    } else if (sh->is_float) {
        double d;
        memcpy(&d, &x, sizeof d);
        sb_printf(b, " (%.17g)", d);
    } else if (scalar) {
        long long sv = sh->bytes == 4 ? (long long)(int32_t)(uint32_t)x : (long long)(int64_t)x;
        sb_printf(b, " (%lld)", sv);
    }
}

/* Appends a value as "type:bits (number)". For a v128, `sh` is the lane
 * shape to show it in (i32 when NULL). With `how` (an expected value),
 * lanes that are patterns show as such. */
static void sb_value(strbuf *b, const wasm_value *v, const lane_shape *sh, const match *how) {
    if (v->type == WASM_FUNCREF || v->type == WASM_EXTERNREF) {
        const char *tn = wasm_valtype_name(v->type);
        if (how && how[0] == MATCH_NONNULL)
            sb_printf(b, "%s:non-null", tn);
        else if (!v->of.ref)
            sb_printf(b, "%s:null", tn);
        else if (v->type == WASM_FUNCREF)
            sb_printf(b, "funcref:non-null");
        else /* the host's pointer N + 1 for externref N */
            sb_printf(b, "externref:%llu", (unsigned long long)((uintptr_t)v->of.ref - 1));
        return;
    }
    if (v->type == WASM_V128) {
        if (!sh) sh = &lane_shapes[SHAPE_I32];
        unsigned n = 16 / sh->bytes;
        sb_printf(b, "v128:%sx%u[", sh->name, n);
        for (unsigned k = 0; k < n; k++) {
            if (k) sb_printf(b, ", ");
            if (how && how[k] != MATCH_BITS)
                sb_printf(b, "%s", match_name(how[k]));
            else
                sb_lane(b, sh, lane_get(v, sh, k), false);
        }
        sb_printf(b, "]");
        return;
    }
    sh = scalar_shape(v->type);
    if (!sh) {
        sb_printf(b, "type-0x%02x:?", v->type);
        return;
    }
    sb_printf(b, "%s:", sh->name);
    if (how && how[0] != MATCH_BITS)
        sb_printf(b, "%s", match_name(how[0]));
    else
        sb_lane(b, sh, lane_get(v, sh, 0), true);
}

/* Appends a list of values, "nothing" when empty. `want` (may be NULL)
 * gives the v128 lane shapes to show `got` in. */
static void sb_results(strbuf *b, const wasm_value *got, size_t n, const spec_value *want,
                       size_t nwant) {
    if (n == 0) sb_printf(b, "nothing");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_printf(b, ", ");
        sb_value(b, &got[i], want && i < nwant ? want[i].shape : NULL, NULL);
    }
}

static void sb_expected(strbuf *b, const spec_value *want, size_t n) {
    if (n == 0) sb_printf(b, "nothing");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_printf(b, ", ");
        sb_value(b, &want[i].v, want[i].shape, want[i].how);
    }
}

/* ---- the spectest host module ----------------------------------------- */

/* The print functions of the spec interpreter's `spectest`. They print
 * nothing here: the scripts call them only to have something to import. */
static wasm_trap_code spectest_print(void *env, wasm_instance *caller, const wasm_value *args,
                                     wasm_value *results) {
    return WASM_TRAP_NONE;
}

static const struct {
    const char *name;
    uint32_t nparams;
    wasm_valtype params[2];
} spectest_funcs[] = {
    {"print", 0, {0}},
    {"print_i32", 1, {WASM_I32}},
    {"print_i64", 1, {WASM_I64}},
    {"print_f32", 1, {WASM_F32}},
    {"print_f64", 1, {WASM_F64}},
    {"print_i32_f32", 2, {WASM_I32, WASM_F32}},
    {"print_f64_f64", 2, {WASM_F64, WASM_F64}},
};

/* Defines `spectest` in `l` as the spec interpreter does: the print
 * functions (no results), immutable globals holding 666 (666.6 for the
 * floats), a funcref table of 10..20 elements and a memory of 1..2 pages.
 * Returns false with *err filled when the linker fails. */
static bool spectest_define(wasm_linker *l, wasm_error *err) {
    static const wasm_valtype no_results[1] = {0};
    for (size_t i = 0; i < sizeof spectest_funcs / sizeof spectest_funcs[0]; i++)
        if (!wasm_linker_func(l, "spectest", spectest_funcs[i].name, spectest_funcs[i].nparams,
                              spectest_funcs[i].params, 0, no_results, spectest_print, NULL, err))
            return false;
    static const char *const names[4] = {"global_i32", "global_i64", "global_f32", "global_f64"};
    wasm_value g[4] = {
        {.type = WASM_I32, .of.i32 = 666},
        {.type = WASM_I64, .of.i64 = 666},
        {.type = WASM_F32},
        {.type = WASM_F64},
    };
    float f32 = 666.6f;
    double f64 = 666.6;
    memcpy(&g[2].of.f32, &f32, sizeof f32);
    memcpy(&g[3].of.f64, &f64, sizeof f64);
    for (size_t i = 0; i < 4; i++)
        if (!wasm_linker_global(l, "spectest", names[i], g[i], false, err)) return false;
    return wasm_linker_table(l, "spectest", "table", WASM_FUNCREF, 10, 20, true, err) &&
           wasm_linker_memory(l, "spectest", "memory", 1, 2, true, err);
}

/* ---- modules and instances of a script -------------------------------- */

/* Appends an entry to the script's modules; valid until the next one. */
static loaded *add_loaded(script *s, const char *name, long line) {
    if (s->nmods == s->capmods) {
        s->capmods = s->capmods ? 2 * s->capmods : 16;
        s->mods = xrealloc(s->mods, s->capmods * sizeof *s->mods);
    }
    loaded *e = &s->mods[s->nmods++];
    *e = (loaded){.name = name ? xstrdup(name) : NULL, .line = line};
    return e;
}

/* Frees everything the script's commands made: the instances (newest
 * first), then the linker they were linked with, then their modules. */
static void free_loaded(script *s) {
    for (size_t i = s->nmods; i-- > 0;)
        wasm_instance_free(s->mods[i].inst);
    wasm_linker_free(s->linker);
    s->linker = NULL;
    for (size_t i = 0; i < s->nmods; i++) {
        wasm_module_free(s->mods[i].module);
        free(s->mods[i].name);
    }
    free(s->mods);
    s->mods = NULL;
    s->nmods = s->capmods = 0;
    s->current = -1;
}

/* ---- commands --------------------------------------------------------- */

static const char *cmd_string(const command *c, const char *key) {
    return json_string_value(json_object_get(c->json, key));
}

/* The script's explanation of an assertion ("text"), or "". */
static const char *cmd_text(const command *c) {
    const char *text = cmd_string(c, "text");
    return text ? text : "";
}

/* Reports a failed command; with -v also names the module file it used,
 * which a person can regenerate with wast2json to look at. */
__attribute__((format(printf, 3, 4))) static void report_cmd(script *s, const command *c,
                                                             const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    bool shown = vreport(s, c->line, c->type, fmt, ap);
    va_end(ap);
    const char *file = cmd_string(c, "filename");
    if (shown && s->run->verbose && file) printf("      (module %s)\n", file);
}

/* With -v, notes a trap whose message is not the script's: the spec
 * interpreter wants the script's text to begin its message, while wasp
 * counts any trap as the trap asked for. */
static void note_trap_text(script *s, const command *c, wasm_trap_code code) {
    const char *text = cmd_text(c), *msg = wasm_trap_message(code);
    if (s->run->verbose && strncmp(msg, text, strlen(text)) != 0)
        printf("    %s:%ld: %s: note: trapped with '%s', the script says '%s'\n", s->name, c->line,
               c->type, msg, text);
}

/* A module in the text format tests a text parser, which wasp has not. */
static bool is_text_module(const command *c) {
    const char *type = cmd_string(c, "module_type");
    const char *file = cmd_string(c, "filename");
    return (type && strcmp(type, "text") == 0) || (file && ends_with(file, ".wat"));
}

/* Formats an engine error as "invalid at byte 12: type mismatch". Link
 * and instantiation errors name no byte unless the engine gave one. */
static void describe_error(const wasm_error *err, char *buf, size_t size) {
    if ((err->kind == WASM_ERR_LINK || err->kind == WASM_ERR_TRAP) && err->offset == 0)
        snprintf(buf, size, "%s: %s", wasm_errkind_name(err->kind), err->msg);
    else
        snprintf(buf, size, "%s at byte %zu: %s", wasm_errkind_name(err->kind), err->offset,
                 err->msg);
}

/* Reads and loads the binary module a command names. Returns false, with
 * the failure reported, when the file cannot be read; otherwise true with
 * *m the module (the caller frees it) or NULL and *err filled. */
static bool load_module(script *s, const command *c, wasm_module **m, wasm_error *err) {
    const char *file = cmd_string(c, "filename");
    if (!file || !*file || strchr(file, '/')) {
        report_cmd(s, c, "the JSON names no usable module file");
        return false;
    }
    char *path = path_join(s->dir, file);
    char why[512];
    size_t len = 0;
    uint8_t *bytes = read_file(path, &len, why, sizeof why);
    free(path);
    if (!bytes) {
        report_cmd(s, c, "%s", why);
        return false;
    }
    memset(err, 0, sizeof *err);
    *m = wasm_module_load(bytes, len, err);
    err->msg[sizeof err->msg - 1] = '\0';
    free(bytes);
    return true;
}

/* Instantiates a loaded module with the script's linker, keeping the
 * instance (or NULL, with *err filled) in `e`. */
static void instantiate(script *s, loaded *e, wasm_error *err) {
    memset(err, 0, sizeof *err);
    e->inst = wasm_instance_new(e->module, s->linker, err);
    err->msg[sizeof err->msg - 1] = '\0';
}

/* With --tier native, compiles a loaded module to machine code before it
 * is instantiated. A module the tier does not take yet stays interpreted:
 * NOT_RUN, and the commands acting on it will say so; any other failure to
 * compile is FAILED (reported). PASSED otherwise, and without --tier. */
static outcome to_native(script *s, const command *c, loaded *e) {
    if (!s->run->native) return PASSED;
    wasm_error err;
    if (wasm_module_compile_native(e->module, &err)) return PASSED;
    err.msg[sizeof err.msg - 1] = '\0';
    if (err.kind == WASM_ERR_LIMIT && strstr(err.msg, "the native tier does not compile")) {
        e->interp = true;
        if (s->run->verbose) printf("  %s:%ld: not run: %s\n", s->name, c->line, err.msg);
        return NOT_RUN;
    }
    report_cmd(s, c, "the native tier cannot compile the module: %s", err.msg);
    return FAILED;
}

/* `module`: load and instantiate; it becomes the current module, and is
 * known by its "name" too when it has one. */
static outcome run_module(script *s, const command *c) {
    s->current = (long)s->nmods;
    loaded *e = add_loaded(s, cmd_string(c, "name"), c->line);
    if (is_text_module(c)) {
        e->text = true;
        return NOT_APPLICABLE;
    }
    wasm_error err;
    char desc[400];
    if (!load_module(s, c, &e->module, &err)) return FAILED;
    if (!e->module) {
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "module failed to load: %s", desc);
        return FAILED;
    }
    outcome tier = to_native(s, c, e);
    if (tier == FAILED) return FAILED;
    instantiate(s, e, &err);
    if (!e->inst) {
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "module loaded but failed to instantiate: %s", desc);
        return FAILED;
    }
    return tier;
}

/* assert_malformed and assert_invalid: loading must fail, with `want`. */
static outcome expect_load_failure(script *s, const command *c, wasm_errkind want) {
    if (is_text_module(c)) return NOT_APPLICABLE;
    const char *text = cmd_text(c);
    wasm_module *m;
    wasm_error err;
    if (!load_module(s, c, &m, &err)) return FAILED;
    if (m) {
        wasm_module_free(m);
        report_cmd(s, c, "expected failure '%s' but module loaded", text);
        return FAILED;
    }
    if (err.kind != want) {
        report_cmd(s, c, "(wrong kind: expected %s, got %s: %s at byte %zu; spec says '%s')",
                   wasm_errkind_name(want), wasm_errkind_name(err.kind), err.msg, err.offset, text);
        return FAILED;
    }
    return PASSED;
}

static outcome run_assert_malformed(script *s, const command *c) {
    return expect_load_failure(s, c, WASM_ERR_MALFORMED);
}

static outcome run_assert_invalid(script *s, const command *c) {
    return expect_load_failure(s, c, WASM_ERR_INVALID);
}

/* assert_unlinkable, assert_uninstantiable, and assert_trap on a module:
 * the module must load, then instantiating it must fail with `want`. The
 * module is kept to the end of the script either way. */
static outcome expect_instantiation_failure(script *s, const command *c, wasm_errkind want) {
    if (is_text_module(c)) return NOT_APPLICABLE;
    const char *text = cmd_text(c);
    wasm_module *m;
    wasm_error err;
    char desc[400];
    if (!load_module(s, c, &m, &err)) return FAILED;
    if (!m) {
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "module must load before it can fail to %s, but: %s",
                   want == WASM_ERR_LINK ? "link" : "instantiate", desc);
        return FAILED;
    }
    loaded *e = add_loaded(s, NULL, c->line);
    e->module = m;
    outcome tier = to_native(s, c, e);
    if (tier == FAILED) return FAILED;
    instantiate(s, e, &err);
    if (e->inst) {
        report_cmd(s, c, "expected %s ('%s') but the module instantiated", wasm_errkind_name(want),
                   text);
        return FAILED;
    }
    if (err.kind != want) {
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "(wrong kind: expected %s, got %s; spec says '%s')",
                   wasm_errkind_name(want), desc, text);
        return FAILED;
    }
    if (want == WASM_ERR_TRAP) note_trap_text(s, c, (wasm_trap_code)err.trap);
    return tier;
}

static outcome run_assert_unlinkable(script *s, const command *c) {
    return expect_instantiation_failure(s, c, WASM_ERR_LINK);
}

static outcome run_assert_uninstantiable(script *s, const command *c) {
    return expect_instantiation_failure(s, c, WASM_ERR_TRAP);
}

/* Finds the instance a command refers to: the module called `name`, or
 * the current one. NOT_APPLICABLE for a text-format module. */
static outcome find_instance(script *s, const command *c, const char *name, wasm_instance **out) {
    const loaded *e = NULL;
    if (name) {
        for (size_t i = s->nmods; i-- > 0 && !e;)
            if (s->mods[i].name && strcmp(s->mods[i].name, name) == 0) e = &s->mods[i];
        if (!e) {
            report_cmd(s, c, "no module is called %s", name);
            return FAILED;
        }
    } else if (s->current < 0) {
        report_cmd(s, c, "no module has been defined yet");
        return FAILED;
    } else {
        e = &s->mods[s->current];
    }
    if (e->text) return NOT_APPLICABLE;
    if (e->interp) s->on_interp = true;
    if (!e->inst) {
        report_cmd(s, c, "the module of line %ld did not %s", e->line,
                   e->module ? "instantiate" : "load");
        return FAILED;
    }
    *out = e->inst;
    return PASSED;
}

/* `register`: the named (or current) instance's exports become importable
 * under "as". */
static outcome run_register(script *s, const command *c) {
    const char *as = cmd_string(c, "as");
    if (!as) {
        report_cmd(s, c, "the JSON has no \"as\"");
        return FAILED;
    }
    wasm_instance *inst;
    outcome o = find_instance(s, c, cmd_string(c, "name"), &inst);
    if (o != PASSED) return o;
    wasm_error err = {0};
    if (!wasm_linker_instance(s->linker, as, inst, &err)) {
        err.msg[sizeof err.msg - 1] = '\0';
        report_cmd(s, c, "cannot register it as \"%s\": %s", as, err.msg);
        return FAILED;
    }
    return PASSED;
}

/* What an action did: a trap, or its results. */
typedef struct action_result {
    wasm_trap_code trap;
    uint32_t n;
    wasm_value *vals; /* n results, typed as declared */
    strbuf what;      /* the action in words, for messages */
} action_result;

static void action_result_free(action_result *r) {
    free(r->vals);
    free(r->what.s);
}

/* Calls `fn` with the JSON's arguments, which must match its parameters. */
static outcome invoke(script *s, const command *c, wasm_extern fn, const json_t *argv,
                      action_result *r) {
    const wasm_functype *ft = wasm_func_type(fn);
    size_t nargs = json_array_size(argv);
    if (!json_is_array(argv) || nargs != ft->nparams) {
        report_cmd(s, c, "%s: %zu arguments for a function of %u parameters", sb_str(&r->what),
                   nargs, ft->nparams);
        return FAILED;
    }
    wasm_value *args = xmalloc(nargs * sizeof *args);
    strbuf list = {0};
    outcome o = PASSED;
    for (size_t i = 0; i < nargs && o == PASSED; i++) {
        spec_value a;
        char why[160];
        if (!parse_value(json_array_get(argv, i), false, &a, why, sizeof why)) {
            report_cmd(s, c, "%s: argument %zu: %s", sb_str(&r->what), i + 1, why);
            o = FAILED;
        } else if (a.v.type != ft->params[i]) {
            report_cmd(s, c, "%s: argument %zu is %s, but the function takes %s", sb_str(&r->what),
                       i + 1, wasm_valtype_name(a.v.type), wasm_valtype_name(ft->params[i]));
            o = FAILED;
        } else {
            sb_printf(&list, "%s", i ? ", " : "");
            sb_value(&list, &a.v, a.shape, NULL);
            args[i] = a.v;
        }
    }
    sb_printf(&r->what, "(%s)", sb_str(&list));
    free(list.s);
    if (o == PASSED) {
        r->n = ft->nresults;
        r->vals = xmalloc(r->n * sizeof *r->vals);
        memset(r->vals, 0, r->n * sizeof *r->vals);
        r->trap = wasm_call(fn, args, r->vals);
        for (uint32_t i = 0; i < r->n; i++)
            r->vals[i].type = ft->results[i];
    }
    free(args);
    return o;
}

/* Runs the command's "action": invokes a function or reads a global.
 * Returns PASSED when it ran (r->trap says whether it trapped), FAILED
 * (reported) when it could not be run as written, NOT_APPLICABLE when it
 * refers to a text-format module. Free *r with action_result_free in every
 * case. */
static outcome perform(script *s, const command *c, action_result *r) {
    memset(r, 0, sizeof *r);
    const json_t *a = json_object_get(c->json, "action");
    const char *type = json_string_value(json_object_get(a, "type"));
    const json_t *fieldj = json_object_get(a, "field");
    const char *field = json_string_value(fieldj);
    const char *modname = json_string_value(json_object_get(a, "module"));
    bool is_invoke = type && strcmp(type, "invoke") == 0;
    if (!field || (!is_invoke && (!type || strcmp(type, "get") != 0))) {
        report_cmd(s, c, "the JSON has no usable action");
        return FAILED;
    }
    size_t flen = json_string_length(fieldj);
    sb_printf(&r->what, "%s %s%s", type, modname ? modname : "", modname ? "." : "");
    sb_quote(&r->what, field, flen);
    wasm_instance *inst;
    outcome o = find_instance(s, c, modname, &inst);
    if (o != PASSED) return o;
    wasm_extern ext;
    if (!wasm_instance_export_n(inst, field, flen, &ext)) {
        report_cmd(s, c, "%s: no such export", sb_str(&r->what));
        return FAILED;
    }
    wasm_externkind want = is_invoke ? WASM_EXTERN_FUNC : WASM_EXTERN_GLOBAL;
    if (ext.kind != want) {
        report_cmd(s, c, "%s: the export is a %s, not a %s", sb_str(&r->what),
                   wasm_externkind_name(ext.kind), wasm_externkind_name(want));
        return FAILED;
    }
    if (is_invoke) return invoke(s, c, ext, json_object_get(a, "args"), r);
    r->n = 1;
    r->vals = xmalloc(sizeof *r->vals);
    r->vals[0] = wasm_global_get(ext);
    return PASSED;
}

/* `action`: a bare invoke or get must run without trapping, as in the
 * spec interpreter. */
static outcome run_action(script *s, const command *c) {
    action_result r;
    outcome o = perform(s, c, &r);
    if (o == PASSED && r.trap != WASM_TRAP_NONE) {
        report_cmd(s, c, "%s trapped: %s", sb_str(&r.what), wasm_trap_message(r.trap));
        o = FAILED;
    }
    action_result_free(&r);
    return o;
}

/* `assert_return`: the action must return the "expected" values. */
static outcome run_assert_return(script *s, const command *c) {
    action_result r;
    outcome o = perform(s, c, &r);
    if (o != PASSED) {
        action_result_free(&r);
        return o;
    }
    const json_t *exp = json_object_get(c->json, "expected");
    size_t n = json_array_size(exp);
    spec_value *want = xmalloc(n * sizeof *want);
    for (size_t i = 0; i < n && o == PASSED; i++) {
        char why[160];
        if (!parse_value(json_array_get(exp, i), true, &want[i], why, sizeof why)) {
            report_cmd(s, c, "%s: expected value %zu: %s", sb_str(&r.what), i + 1, why);
            o = FAILED;
        }
    }
    bool same = r.trap == WASM_TRAP_NONE && r.n == n;
    for (size_t i = 0; i < n && same; i++)
        same = value_matches(&want[i], &r.vals[i]);
    if (o == PASSED && !same) {
        strbuf w = {0}, g = {0};
        sb_expected(&w, want, n);
        if (r.trap != WASM_TRAP_NONE)
            sb_printf(&g, "trap '%s'", wasm_trap_message(r.trap));
        else
            sb_results(&g, r.vals, r.n, want, n);
        report_cmd(s, c, "%s: expected %s, got %s", sb_str(&r.what), sb_str(&w), sb_str(&g));
        free(w.s);
        free(g.s);
        o = FAILED;
    }
    free(want);
    action_result_free(&r);
    return o;
}

/* The action must trap: with `code`, or with any trap for WASM_TRAP_NONE. */
static outcome expect_trap(script *s, const command *c, wasm_trap_code code) {
    action_result r;
    outcome o = perform(s, c, &r);
    if (o == PASSED && r.trap == WASM_TRAP_NONE) {
        strbuf g = {0};
        sb_results(&g, r.vals, r.n, NULL, 0);
        report_cmd(s, c, "%s: expected a trap ('%s'), but it returned %s", sb_str(&r.what),
                   cmd_text(c), sb_str(&g));
        free(g.s);
        o = FAILED;
    } else if (o == PASSED && code != WASM_TRAP_NONE && r.trap != code) {
        report_cmd(s, c, "%s: expected the trap '%s', but it trapped with '%s'", sb_str(&r.what),
                   wasm_trap_message(code), wasm_trap_message(r.trap));
        o = FAILED;
    } else if (o == PASSED) {
        note_trap_text(s, c, r.trap);
    }
    action_result_free(&r);
    return o;
}

/* `assert_trap`: an action that must trap, or a module whose
 * instantiation must. */
static outcome run_assert_trap(script *s, const command *c) {
    if (json_object_get(c->json, "filename"))
        return expect_instantiation_failure(s, c, WASM_ERR_TRAP);
    return expect_trap(s, c, WASM_TRAP_NONE);
}

static outcome run_assert_exhaustion(script *s, const command *c) {
    return expect_trap(s, c, WASM_TRAP_STACK_EXHAUSTED);
}

/* What each command type does. A type not listed is counted as skipped,
 * with a line saying so. */
static const struct {
    const char *type;
    outcome (*run)(script *s, const command *c);
} command_table[] = {
    {"module", run_module},
    {"register", run_register},
    {"action", run_action},
    {"assert_return", run_assert_return},
    {"assert_trap", run_assert_trap},
    {"assert_exhaustion", run_assert_exhaustion},
    {"assert_malformed", run_assert_malformed},
    {"assert_invalid", run_assert_invalid},
    {"assert_unlinkable", run_assert_unlinkable},
    {"assert_uninstantiable", run_assert_uninstantiable},
};

static outcome run_command(script *s, const command *c) {
    s->on_interp = false;
    for (size_t i = 0; i < sizeof command_table / sizeof command_table[0]; i++)
        if (strcmp(command_table[i].type, c->type) == 0) {
            outcome o = command_table[i].run(s, c);
            /* it ran, but in the interpreter: not a pass of the native tier */
            return o == PASSED && s->on_interp ? NOT_RUN : o;
        }
    printf("  %s:%ld: %s: skipped: the runner does not know this command type\n", s->name, c->line,
           c->type);
    return SKIPPED;
}

/* ---- one script ------------------------------------------------------- */

/* Reports a wast2json that failed: the exit status and its stderr (the
 * first line, or all of it with -v). */
static void report_conversion(script *s, const char *status, const char *errpath) {
    char why[256];
    size_t len = 0;
    uint8_t *text = read_file(errpath, &len, why, sizeof why);
    if (!text) {
        report(s, 0, "wast2json", "%s (and its stderr is unreadable: %s)", status, why);
        return;
    }
    if (len > MAX_STDERR_BYTES) len = MAX_STDERR_BYTES;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    size_t first = 0;
    while (first < len && text[first] != '\n')
        first++;
    if (len == 0) {
        report(s, 0, "wast2json", "%s", status);
    } else if (!s->run->verbose || first == len) {
        report(s, 0, "wast2json", "%s; it said: %.*s", status, (int)first, (const char *)text);
    } else {
        report(s, 0, "wast2json", "%s; it said:", status);
        for (size_t at = 0; at < len;) {
            size_t end = at;
            while (end < len && text[end] != '\n')
                end++;
            printf("      | %.*s\n", (int)(end - at), (const char *)text + at);
            at = end + 1;
        }
    }
    free(text);
}

/* Runs wast2json on the script, writing the JSON to `json` (inside s->dir)
 * and its modules beside it. Returns true when it exited with status 0 and
 * wrote nothing to stderr (some validation errors only show there);
 * otherwise reports why and returns false. */
static bool convert(script *s, const char *json) {
    char *errpath = path_join(s->dir, "wast2json.stderr");
    char *argv[] = {"wast2json",
                    "--enable-tail-call",
                    "--enable-extended-const",
                    (char *)s->wast,
                    "-o",
                    (char *)json,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawnp(&pid, "wast2json", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        report(s, 0, "wast2json", "cannot run wast2json: %s (is wabt installed? `make setup`)",
               strerror(rc));
        free(errpath);
        return false;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            report(s, 0, "wast2json", "cannot wait for wast2json: %s", strerror(errno));
            free(errpath);
            return false;
        }
    }
    char desc[64];
    struct stat st;
    bool ok = false;
    if (WIFSIGNALED(status))
        snprintf(desc, sizeof desc, "killed by signal %d", WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(desc, sizeof desc, "exit status %d", WEXITSTATUS(status));
    else if (stat(errpath, &st) != 0 || st.st_size > 0)
        snprintf(desc, sizeof desc, "exit status 0 but output on stderr");
    else
        ok = true;
    if (!ok) report_conversion(s, desc, errpath);
    free(errpath);
    return ok;
}

/* Runs every command of a converted script, with a fresh linker holding
 * `spectest`. Returns false (reported) when the JSON is unusable or the
 * linker cannot be set up. What the commands made is freed by the caller
 * (free_loaded). */
static bool run_commands(script *s, const char *jsonpath) {
    s->linker = wasm_linker_new();
    wasm_error err = {0};
    if (!s->linker || !spectest_define(s->linker, &err)) {
        err.msg[sizeof err.msg - 1] = '\0';
        report(s, 0, "spectest", "cannot set up the spectest module: %s",
               s->linker ? err.msg : "out of memory");
        return false;
    }
    json_error_t jerr;
    /* Names in the scripts may contain NUL (names.wast), escaped as \u0000. */
    json_t *root = json_load_file(jsonpath, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        report(s, 0, "json", "cannot parse %s: line %d: %s", jsonpath, jerr.line, jerr.text);
        return false;
    }
    json_t *cmds = json_object_get(root, "commands");
    if (!json_is_array(cmds)) {
        report(s, 0, "json", "%s has no \"commands\" list", jsonpath);
        json_decref(root);
        return false;
    }
    size_t i;
    json_t *item;
    json_array_foreach(cmds, i, item) {
        command c = {
            .type = json_string_value(json_object_get(item, "type")),
            .line = (long)json_integer_value(json_object_get(item, "line")),
            .json = item,
        };
        if (!c.type) {
            report(s, c.line, "json", "command %zu has no type", i);
            tally_count(&s->n, FAILED);
            continue;
        }
        s->shared->line = c.line;
        snprintf(s->shared->what, sizeof s->shared->what, "%s", c.type);
        tally_count(&s->n, run_command(s, &c));
        s->shared->n = s->n;
    }
    s->shared->line = 0;
    json_decref(root);
    return true;
}

/* Returns the script's file name without folder and ".wast". */
static char *script_stem(const char *wast) {
    const char *base = strrchr(wast, '/');
    base = base ? base + 1 : wast;
    char *stem = xstrdup(base);
    if (ends_with(stem, ".wast")) stem[strlen(stem) - strlen(".wast")] = '\0';
    return stem;
}

/* Converts and runs a script in the process forked for it, prints its
 * failures, leaves its counts in s->shared and exits. */
static _Noreturn void run_in_child(script *s) {
    /* a script that runs away (compiled code that loops where it should
     * trap) is ended and counted as a failure, not left to hang the run */
    alarm(SCRIPT_TIMEOUT_S);
    snprintf(s->shared->what, sizeof s->shared->what, "setup");
    char *stem = script_stem(s->wast);
    char *jsonname = xmalloc(strlen(stem) + sizeof ".json");
    sprintf(jsonname, "%s.json", stem);
    char *jsonpath = path_join(s->dir, jsonname);
    if (!convert(s, jsonpath) || !run_commands(s, jsonpath)) tally_count(&s->n, FAILED);
    snprintf(s->shared->what, sizeof s->shared->what, "cleanup");
    free_loaded(s);
    free(jsonpath);
    free(jsonname);
    free(stem);
    if (s->unshown > 0)
        printf("  %s: ... and %u more failure lines (-v shows all)\n", s->name, s->unshown);
    s->shared->n = s->n;
    s->shared->finished = true;
    fflush(stdout);
    exit(0); /* exit, not _exit: under ASan, LeakSanitizer checks the script */
}

/* Waits for the process running a script and takes its counts. A process
 * that died (a crash in the engine, a sanitizer report) is one more
 * failure, reported with the command it was running. */
static void wait_child(script *s, pid_t pid) {
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    const progress *p = s->shared;
    s->n = p->n;
    char how[96];
    if (got < 0)
        snprintf(how, sizeof how, "cannot wait for it: %s", strerror(errno));
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0 || !p->finished)
        snprintf(how, sizeof how, "exited with status %d%s", WEXITSTATUS(status),
                 p->finished ? " after its last command (a sanitizer report?)" : "");
    else
        return;
    if (p->line > 0)
        report(s, p->line, p->what, "the process running the script died here: %s", how);
    else
        report(s, 0, p->what, "the process running the script died: %s", how);
    tally_count(&s->n, FAILED);
}

/* Runs one script in a process of its own, so that a crash of the engine
 * costs that script alone, then prints its line and adds its counts. The
 * temporary folder is made and removed here, whatever became of the
 * process. */
static void run_script(runner *run, const char *wast, const char *name) {
    script s = {.run = run, .wast = wast, .name = name, .current = -1};
    const char *tmp = getenv("TMPDIR");
    char *dir = path_join(tmp && *tmp ? tmp : "/tmp", "wasp-spec-XXXXXX");
    run->files++;
    s.shared =
        mmap(NULL, sizeof *s.shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s.shared == MAP_FAILED) {
        s.shared = NULL;
        report(&s, 0, "setup", "cannot map shared memory: %s", strerror(errno));
        tally_count(&s.n, FAILED);
    } else if (!mkdtemp(dir)) {
        report(&s, 0, "setup", "cannot make a temporary folder %s: %s", dir, strerror(errno));
        tally_count(&s.n, FAILED);
    } else {
        s.dir = dir;
        memset(s.shared, 0, sizeof *s.shared);
        fflush(stdout); /* or the child would print it again */
        pid_t pid = fork();
        if (pid == 0) run_in_child(&s);
        if (pid < 0) {
            report(&s, 0, "setup", "cannot fork: %s", strerror(errno));
            tally_count(&s.n, FAILED);
        } else {
            wait_child(&s, pid);
        }
        remove_tmpdir(dir);
    }
    if (s.shared) munmap(s.shared, sizeof *s.shared);
    free(dir);
    printf("%s: %u passed, %u failed, %u skipped, %u n/a", name, s.n.passed, s.n.failed,
           s.n.skipped, s.n.na);
    if (run->native) printf(", %u not run", s.n.notrun);
    printf("\n");
    fflush(stdout);
    tally_add(&run->total, &s.n);
}

/* ---- choosing the scripts --------------------------------------------- */

typedef struct wast_file {
    char *path; /* to open */
    char *name; /* to show: relative to the testsuite when inside it */
} wast_file;

typedef struct file_list {
    wast_file *v;
    size_t n, cap;
} file_list;

static void list_add(file_list *l, char *path, char *name) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (wast_file){path, name};
}

static void list_free(file_list *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].name);
    }
    free(l->v);
}

static int is_wast_entry(const struct dirent *e) {
    return e->d_name[0] != '.' && ends_with(e->d_name, ".wast");
}

/* Byte order, whatever the locale. */
static int by_name(const struct dirent **a, const struct dirent **b) {
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Adds the .wast files directly in `dir`, sorted by name, shown as
 * `prefix` + file name. Returns false with a message when `dir` cannot be
 * read. */
static bool list_dir(file_list *l, const char *dir, const char *prefix) {
    struct dirent **ents;
    int n = scandir(dir, &ents, is_wast_entry, by_name);
    if (n < 0) {
        fprintf(stderr, "spec_runner: cannot read folder %s: %s\n", dir, strerror(errno));
        return false;
    }
    for (int i = 0; i < n; i++) {
        char *path = path_join(dir, ents[i]->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            char *name = xmalloc(strlen(prefix) + strlen(ents[i]->d_name) + 1);
            sprintf(name, "%s%s", prefix, ents[i]->d_name);
            list_add(l, path, name);
        } else {
            free(path);
        }
        free(ents[i]);
    }
    free(ents);
    return true;
}

/* Returns how to show `path`: relative to the testsuite when it lies
 * inside it ("" for the testsuite itself), else as given. */
static char *display_name(const char *suite_real, const char *path) {
    char *real = realpath(path, NULL);
    char *name = NULL;
    if (real && suite_real) {
        size_t n = strlen(suite_real);
        if (strcmp(real, suite_real) == 0)
            name = xstrdup("");
        else if (strncmp(real, suite_real, n) == 0 && real[n] == '/')
            name = xstrdup(real + n + 1);
    }
    free(real);
    return name ? name : xstrdup(path);
}

/* Adds a script or folder named on the command line: as given, or else
 * relative to the testsuite. Returns false with a message when neither
 * exists. */
static bool list_arg(file_list *l, const char *suite, const char *suite_real, const char *arg) {
    char *path = xstrdup(arg);
    struct stat st;
    if (stat(path, &st) != 0) {
        free(path);
        path = path_join(suite, arg);
        if (stat(path, &st) != 0) {
            fprintf(stderr, "spec_runner: no such file or folder: %s (nor %s)\n", arg, path);
            free(path);
            return false;
        }
    }
    char *name = display_name(suite_real, path);
    if (!S_ISDIR(st.st_mode)) {
        list_add(l, path, name);
        return true;
    }
    char *prefix = xmalloc(strlen(name) + 2);
    sprintf(prefix, "%s%s", name, *name && !ends_with(name, "/") ? "/" : "");
    bool ok = list_dir(l, path, prefix);
    free(prefix);
    free(name);
    free(path);
    return ok;
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: spec_runner [--testsuite DIR] [--filter SUBSTR] [--tier interp|native] [-v]\n"
            "                   [DIR-or-FILE.wast ...]\n"
            "  Converts each .wast with wast2json and checks the engine against it.\n"
            "  --testsuite DIR  the spec testsuite (default: $WASM_TESTSUITE, else\n"
            "                   ../shared/wasm-testsuite)\n"
            "  --filter SUBSTR  run only the scripts whose name contains SUBSTR\n"
            "  --tier T         interp (default) runs modules in the interpreter; native\n"
            "                   compiles each to machine code first (LLVM 19), and counts\n"
            "                   the commands on modules it does not compile yet as not run\n"
            "  -v               print every failure in detail\n"
            "  With no files or folders named, runs every .wast directly in core/,\n"
            "  proposals/tail-call/ and proposals/extended-const/. Exit status: 0 when\n"
            "  nothing failed, 1 when something did, 2 on a usage or setup error.\n");
}

int main(int argc, char **argv) {
    runner run = {0};
    const char *filter = NULL;
    const char **args = xmalloc((size_t)argc * sizeof *args); /* files and folders named */
    int nargs = 0;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        if (!options || argv[i][0] != '-') {
            args[nargs++] = argv[i];
        } else if (strcmp(argv[i], "--testsuite") == 0 && i + 1 < argc) {
            run.suite = argv[++i];
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc &&
                   (!strcmp(argv[i + 1], "interp") || !strcmp(argv[i + 1], "native"))) {
            run.native = strcmp(argv[++i], "native") == 0;
        } else if (strcmp(argv[i], "-v") == 0) {
            run.verbose = true;
        } else if (strcmp(argv[i], "--") == 0) {
            options = false;
        } else {
            bool help = strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0;
            usage(help ? stdout : stderr);
            free(args);
            return help ? 0 : 2;
        }
    }
    const char *how = "given by --testsuite";
    if (!run.suite) {
        run.suite = getenv("WASM_TESTSUITE");
        how = "from $WASM_TESTSUITE";
    }
    if (!run.suite || !*run.suite) {
        run.suite = "../shared/wasm-testsuite";
        how = "the default";
    }
    char *core = path_join(run.suite, "core");
    bool found = is_dir(core);
    free(core);
    if (!found) {
        free(args);
        char *cwd = getcwd(NULL, 0);
        fprintf(stderr,
                "\n*** spec_runner: the WebAssembly spec testsuite was NOT FOUND ***\n"
                "    looked for %s/core (%s%s%s)\n"
                "    set it with --testsuite DIR or WASM_TESTSUITE=DIR\n"
                "    (make spec WASM_TESTSUITE=DIR), where DIR holds core/ and proposals/.\n\n",
                run.suite, how, run.suite[0] != '/' && cwd ? ", relative to " : "",
                run.suite[0] != '/' && cwd ? cwd : "");
        free(cwd);
        return 2;
    }

    file_list all = {0};
    bool listed = true;
    char *suite_real = realpath(run.suite, NULL);
    if (nargs > 0) {
        for (int i = 0; i < nargs && listed; i++)
            listed = list_arg(&all, run.suite, suite_real, args[i]);
    } else {
        for (size_t i = 0; i < sizeof default_dirs / sizeof default_dirs[0]; i++) {
            char *dir = path_join(run.suite, default_dirs[i]);
            char *prefix = path_join(default_dirs[i], "");
            /* A missing folder counts as a failure: a smaller suite must
             * not pass for the whole one. */
            if (!list_dir(&all, dir, prefix)) {
                fprintf(stderr, "spec_runner: %s is part of the default set: 1 failure\n", dir);
                run.total.failed++;
            }
            free(prefix);
            free(dir);
        }
    }
    free(suite_real);
    free(args);
    if (!listed) {
        list_free(&all);
        return 2;
    }

    for (size_t i = 0; i < all.n; i++) {
        const wast_file *f = &all.v[i];
        if (!filter || strstr(f->name, filter)) run_script(&run, f->path, f->name);
    }
    list_free(&all);

    if (run.files == 0)
        printf("spec: no .wast file to run%s%s\n", filter ? " matches --filter " : "",
               filter ? filter : "");
    printf("spec: %u not applicable (text-format assertions)\n", run.total.na);
    if (run.native)
        printf("spec: native tier: %u passed, %u failed, %u skipped, %u not run (modules the "
               "tier does not compile yet)\n",
               run.total.passed, run.total.failed, run.total.skipped, run.total.notrun);
    else
        printf("spec: %u passed, %u failed, %u skipped\n", run.total.passed, run.total.failed,
               run.total.skipped);
    return run.total.failed == 0 && run.files > 0 ? 0 : 1;
}
