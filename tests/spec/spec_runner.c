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
 * Today the engine decodes and validates, so `module`, `assert_malformed`
 * and `assert_invalid` are checked in full, and `assert_unlinkable` /
 * `assert_uninstantiable` are checked as far as loading goes. Commands that
 * need an instance (register, action, assert_return, assert_trap,
 * assert_exhaustion) have no function in the table yet and are counted as
 * skipped; execution (issue 3) fills them in. Assertions about the text
 * format (.wat modules) are not applicable to a binary-only engine and are
 * counted apart, never as passed.
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

/* ---- tallies and failure reports -------------------------------------- */

typedef enum { PASSED, FAILED, SKIPPED, NOT_APPLICABLE } outcome;

typedef struct tally {
    unsigned passed, failed, skipped, na;
} tally;

static void tally_count(tally *t, outcome o) {
    switch (o) {
    case PASSED: t->passed++; break;
    case FAILED: t->failed++; break;
    case SKIPPED: t->skipped++; break;
    case NOT_APPLICABLE: t->na++; break;
    }
}

static void tally_add(tally *to, const tally *from) {
    to->passed += from->passed;
    to->failed += from->failed;
    to->skipped += from->skipped;
    to->na += from->na;
}

/* Options and totals of the whole run. */
typedef struct runner {
    const char *suite; /* the testsuite folder */
    bool verbose;
    tally total;
    unsigned files; /* scripts attempted */
} runner;

/* One .wast script being run. */
typedef struct script {
    runner *run;
    const char *wast; /* its path */
    const char *name; /* its name in messages: relative to the testsuite */
    const char *dir;  /* the temporary folder with its JSON and modules */
    tally n;
    unsigned reported; /* failure lines printed */
    unsigned unshown;  /* failure lines held back by MAX_FAILURE_LINES */
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

/* ---- commands --------------------------------------------------------- */

static const char *cmd_string(const command *c, const char *key) {
    return json_string_value(json_object_get(c->json, key));
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

/* A module in the text format tests a text parser, which wasp has not. */
static bool is_text_module(const command *c) {
    const char *type = cmd_string(c, "module_type");
    const char *file = cmd_string(c, "filename");
    return (type && strcmp(type, "text") == 0) || (file && ends_with(file, ".wat"));
}

/* Formats an engine error as "invalid at byte 12: type mismatch". */
static void describe_error(const wasm_error *err, char *buf, size_t size) {
    snprintf(buf, size, "%s at byte %zu: %s", wasm_errkind_name(err->kind), err->offset, err->msg);
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

static outcome run_module(script *s, const command *c) {
    if (is_text_module(c)) return NOT_APPLICABLE;
    wasm_module *m;
    wasm_error err;
    if (!load_module(s, c, &m, &err)) return FAILED;
    if (!m) {
        char desc[400];
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "module failed to load: %s", desc);
        return FAILED;
    }
    wasm_module_free(m);
    return PASSED;
}

/* assert_malformed and assert_invalid: loading must fail, with `want`. */
static outcome expect_load_failure(script *s, const command *c, wasm_errkind want) {
    if (is_text_module(c)) return NOT_APPLICABLE;
    const char *text = cmd_string(c, "text");
    if (!text) text = "";
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

/* assert_unlinkable and assert_uninstantiable: the module must decode and
 * validate; whether linking or instantiation then fails needs an instance
 * (issue 3), so a module that loads counts as skipped. */
static outcome run_assert_loads(script *s, const command *c) {
    if (is_text_module(c)) return NOT_APPLICABLE;
    wasm_module *m;
    wasm_error err;
    if (!load_module(s, c, &m, &err)) return FAILED;
    if (!m) {
        char desc[400];
        describe_error(&err, desc, sizeof desc);
        report_cmd(s, c, "module must load before it can fail to %s, but: %s",
                   strcmp(c->type, "assert_unlinkable") == 0 ? "link" : "instantiate", desc);
        return FAILED;
    }
    wasm_module_free(m);
    return SKIPPED;
}

/* What each command type does. Types without a function need an instance
 * (execution, issue 3); they and any type not listed count as skipped. */
static const struct {
    const char *type;
    outcome (*run)(script *s, const command *c);
} command_table[] = {
    {"module", run_module},
    {"assert_malformed", run_assert_malformed},
    {"assert_invalid", run_assert_invalid},
    {"assert_unlinkable", run_assert_loads},
    {"assert_uninstantiable", run_assert_loads},
    {"register", NULL},
    {"action", NULL},
    {"assert_return", NULL},
    {"assert_trap", NULL},
    {"assert_exhaustion", NULL},
};

static outcome run_command(script *s, const command *c) {
    for (size_t i = 0; i < sizeof command_table / sizeof command_table[0]; i++)
        if (strcmp(command_table[i].type, c->type) == 0)
            return command_table[i].run ? command_table[i].run(s, c) : SKIPPED;
    if (s->run->verbose)
        printf("    %s:%ld: unknown command type '%s', skipped\n", s->name, c->line, c->type);
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

/* Runs every command of a converted script. Returns false (reported) when
 * the JSON is unusable. */
static bool run_commands(script *s, const char *jsonpath) {
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
        tally_count(&s->n, run_command(s, &c));
    }
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

static void run_script(runner *run, const char *wast, const char *name) {
    script s = {.run = run, .wast = wast, .name = name};
    const char *tmp = getenv("TMPDIR");
    char *dir = path_join(tmp && *tmp ? tmp : "/tmp", "wasp-spec-XXXXXX");
    run->files++;
    if (!mkdtemp(dir)) {
        report(&s, 0, "setup", "cannot make a temporary folder %s: %s", dir, strerror(errno));
        tally_count(&s.n, FAILED);
    } else {
        s.dir = dir;
        char *stem = script_stem(wast);
        char *jsonname = xmalloc(strlen(stem) + sizeof ".json");
        sprintf(jsonname, "%s.json", stem);
        char *jsonpath = path_join(dir, jsonname);
        if (!convert(&s, jsonpath) || !run_commands(&s, jsonpath)) tally_count(&s.n, FAILED);
        free(jsonpath);
        free(jsonname);
        free(stem);
        remove_tmpdir(dir);
    }
    free(dir);
    if (s.unshown > 0)
        printf("  %s: ... and %u more failure lines (-v shows all)\n", name, s.unshown);
    printf("%s: %u passed, %u failed, %u skipped, %u n/a\n", name, s.n.passed, s.n.failed,
           s.n.skipped, s.n.na);
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
            "usage: spec_runner [--testsuite DIR] [--filter SUBSTR] [-v] [DIR-or-FILE.wast ...]\n"
            "  Converts each .wast with wast2json and checks the engine against it.\n"
            "  --testsuite DIR  the spec testsuite (default: $WASM_TESTSUITE, else\n"
            "                   ../shared/wasm-testsuite)\n"
            "  --filter SUBSTR  run only the scripts whose name contains SUBSTR\n"
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
    printf("spec: %u passed, %u failed, %u skipped\n", run.total.passed, run.total.failed,
           run.total.skipped);
    return run.total.failed == 0 && run.files > 0 ? 0 : 1;
}
