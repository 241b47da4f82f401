/*
 * secrets.c - `wasp secrets`: creates and edits the encrypted secrets file
 * that a manifest's variables can draw on (host/host.h, host/secrets.c).
 *
 *   wasp secrets [--key-file PATH | --key-env NAME] set FILE NAME [VALUE]
 *   wasp secrets [...] get FILE NAME | list FILE | rm FILE NAME
 *   wasp secrets keygen KEYFILE
 *
 * Key options may also come after the command, as long as they come before
 * FILE; everything after FILE is taken as it is, so a value may start with
 * '-'. A value given on the command line lands in the shell's history, so
 * `set` without VALUE reads it from stdin instead.
 *
 * This file must never print a secret's value except as the output of
 * `get`, nor a key: in particular an invalid NAME is not echoed back (it
 * may be a value typed in the wrong place).
 *
 * Exit status: 0 success, 1 failure (wrong key, no such secret, I/O), 2 a
 * wrong command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "host/host.h"

enum { SECRETS_OK = 0, SECRETS_FAILED = 1, SECRETS_USAGE = 2 };

/* The limits of host/secrets.c, for checks made before a file is opened. */
#define SECRETS_MAX_NAME 128
#define SECRETS_MAX_VALUE 65536

static const char secrets_usage[] =
    "usage: wasp secrets [KEY OPTION] COMMAND FILE [ARGUMENTS]\n"
    "\n"
    "Manages a secrets file: name -> value pairs encrypted as a whole with\n"
    "XChaCha20-Poly1305 under a 32-byte key. A manifest's variables can name\n"
    "a secret; the server decrypts the file with the same key.\n"
    "\n"
    "commands:\n"
    "  set FILE NAME [VALUE]  set a secret (FILE is created when missing);\n"
    "                         without VALUE the value is read from stdin, one\n"
    "                         trailing newline removed, so that it stays out\n"
    "                         of the shell's history\n"
    "  get FILE NAME          print the value and a newline (exit 1: no such\n"
    "                         secret)\n"
    "  list FILE              print the names, one per line, never the values\n"
    "  rm FILE NAME           remove a secret (exit 1: no such secret)\n"
    "  keygen KEYFILE         write a new random key to KEYFILE (64 hex digits,\n"
    "                         mode 0600); never overwrites a file\n"
    "\n"
    "key options (before FILE):\n"
    "  --key-file PATH        read the key from PATH: 32 raw bytes or 64 hex\n"
    "                         digits; it must not be accessible by group or\n"
    "                         others (chmod 600 PATH)\n"
    "  --key-env NAME         read the key, 64 hex digits, from the environment\n"
    "                         variable NAME (default: WASP_SECRETS_KEY)\n"
    "\n"
    "names are 1 to 128 characters from A-Z a-z 0-9 _ . -; values are up to\n"
    "64 KiB of any bytes but NUL.\n"
    "\n"
    "exit status: 0 success; 1 failure (wrong key, corrupted file, no such\n"
    "secret, ...); 2 the command line is wrong.\n";

static int secrets_usage_error(const char *fmt, const char *arg) {
    fputs("wasp secrets: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(see wasp secrets --help)\n", stderr);
    return SECRETS_USAGE;
}

static int secrets_fail(const char *msg) {
    fprintf(stderr, "wasp secrets: %s\n", msg);
    return SECRETS_FAILED;
}

/* A failed write to stdout (a full disk, a closed pipe) fails the command. */
static int secrets_finish(int status) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "wasp secrets: cannot write output: %s\n", strerror(errno));
        return SECRETS_FAILED;
    }
    return status;
}

typedef struct secrets_args {
    const char *cmd; /* set, get, list, rm, keygen */
    const char *file;
    const char *name;
    const char *value; /* set: NULL means read stdin */
    const char *key_file, *key_env;
    bool help;
} secrets_args;

/* The number of arguments after the command: at least `min`, at most `max`. */
static const struct {
    const char *cmd;
    int min, max;
    const char *want;
} secrets_cmds[] = {
    {"set", 2, 3, "FILE NAME [VALUE]"}, {"get", 2, 2, "FILE NAME"},  {"list", 1, 1, "FILE"},
    {"rm", 2, 2, "FILE NAME"},          {"keygen", 1, 1, "KEYFILE"},
};

static int parse_secrets_args(int argc, char **argv, secrets_args *a) {
    *a = (secrets_args){0};
    const char *pos[5];
    int npos = 0;
    bool options = true;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        /* Options end at `--` or at FILE (the second positional). */
        if (options && npos < 2 && o[0] == '-' && o[1] != '\0') {
            if (!strcmp(o, "--")) {
                options = false;
                continue;
            }
            if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
                a->help = true;
                return SECRETS_OK;
            }
            bool is_file = !strcmp(o, "--key-file");
            if (!is_file && strcmp(o, "--key-env"))
                return secrets_usage_error("unknown option '%s'", o);
            if (i + 1 >= argc) return secrets_usage_error("option %s needs a value", o);
            const char *v = argv[++i];
            if (!*v) return secrets_usage_error("option %s needs a non-empty value", o);
            if (is_file)
                a->key_file = v;
            else
                a->key_env = v;
            continue;
        }
        if (npos == (int)(sizeof pos / sizeof pos[0]))
            return secrets_usage_error("%s", "too many arguments");
        pos[npos++] = o;
    }
    if (npos == 0) return secrets_usage_error("%s", "no command given");
    a->cmd = pos[0];
    size_t c = 0, ncmds = sizeof secrets_cmds / sizeof secrets_cmds[0];
    while (c < ncmds && strcmp(secrets_cmds[c].cmd, a->cmd))
        c++;
    if (c == ncmds) return secrets_usage_error("unknown command '%s'", a->cmd);
    int nargs = npos - 1;
    if (nargs < secrets_cmds[c].min || nargs > secrets_cmds[c].max) {
        fprintf(stderr, "wasp secrets: %s needs %s\n(see wasp secrets --help)\n", a->cmd,
                secrets_cmds[c].want);
        return SECRETS_USAGE;
    }
    if (a->key_file && a->key_env)
        return secrets_usage_error("%s", "give --key-file or --key-env, not both");
    if (!strcmp(a->cmd, "keygen") && (a->key_file || a->key_env))
        return secrets_usage_error("%s", "keygen takes no key option: KEYFILE is the new key");
    a->file = pos[1];
    a->name = nargs >= 2 ? pos[2] : NULL;
    a->value = nargs >= 3 ? pos[3] : NULL;
    if (!a->key_env) a->key_env = "WASP_SECRETS_KEY";
    return SECRETS_OK;
}

/* The rule of host/secrets.c, so that a NAME is only echoed when it is
 * certainly a name and not a misplaced value. */
static bool secret_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > SECRETS_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static int invalid_name(void) {
    fprintf(stderr,
            "wasp secrets: invalid secret name: want 1 to %d characters from A-Z a-z 0-9 _ . -\n",
            SECRETS_MAX_NAME);
    return SECRETS_FAILED;
}

/* `name` has passed secret_name_valid. */
static int no_such_secret(const char *file, const char *name) {
    fprintf(stderr, "wasp secrets: %s: no secret named %s\n", file, name);
    return SECRETS_FAILED;
}

/* Reads the value for `set` from stdin into a sodium_malloc'd string
 * (the caller sodium_frees it); NULL after printing why. */
static char *read_value_stdin(const char *name) {
    /* Room for the longest value, its newline, and one byte to notice more. */
    enum { CAP = SECRETS_MAX_VALUE + 2 };
    char *buf = sodium_malloc(CAP + 1);
    if (!buf) {
        secrets_fail("out of memory");
        return NULL;
    }
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "wasp secrets: type the value of %s, then Enter and Ctrl-D\n", name);
    size_t n = 0;
    while (n < CAP) {
        ssize_t r = read(STDIN_FILENO, buf + n, CAP - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fprintf(stderr, "wasp secrets: cannot read the value from stdin: %s\n",
                    strerror(errno));
            sodium_free(buf);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    if (n > 0 && buf[n - 1] == '\n') n--;
    const char *why = NULL;
    if (n > SECRETS_MAX_VALUE)
        why = "the value read from stdin is too long (at most 65536 bytes)";
    else if (memchr(buf, 0, n))
        why = "the value read from stdin contains a NUL byte, which a secret cannot hold";
    if (why) {
        secrets_fail(why);
        sodium_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* fsyncs the directory holding `path`, so that a new file's name is on
 * disk too. */
static bool sync_parent(const char *path) {
    char *dir = strdup(path);
    if (!dir) return false;
    char *slash = strrchr(dir, '/');
    const char *d = dir;
    if (!slash)
        d = ".";
    else
        slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return false;
    bool ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

static int cmd_keygen(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            fprintf(stderr,
                    "wasp secrets: %s already exists; not overwriting it (a secrets file "
                    "encrypted with that key could not be read any more)\n",
                    path);
        else
            fprintf(stderr, "wasp secrets: cannot create %s: %s\n", path, strerror(errno));
        return SECRETS_FAILED;
    }
    uint8_t key[32];
    char hex[65];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    hex[64] = '\n';
    size_t n = 0;
    int e = 0;
    while (n < sizeof hex && !e) {
        ssize_t w = write(fd, hex + n, sizeof hex - n);
        if (w < 0 && errno != EINTR) e = errno;
        if (w > 0) n += (size_t)w;
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (e) {
        unlink(path);
        fprintf(stderr, "wasp secrets: cannot write %s: %s\n", path, strerror(e));
        return SECRETS_FAILED;
    }
    if (!sync_parent(path))
        fprintf(stderr, "wasp secrets: warning: %s written, but its directory not synced: %s\n",
                path, strerror(errno));
    return SECRETS_OK;
}

/* Prints every name, growing the array until it holds them all. */
static int cmd_list(const host_secrets *s) {
    size_t cap = 64, n;
    const char **names = NULL;
    for (;;) {
        const char **more = realloc(names, cap * sizeof *names);
        if (!more) {
            free(names);
            return secrets_fail("out of memory");
        }
        names = more;
        n = host_secrets_names(s, names, cap);
        if (n < cap) break;
        cap *= 2;
    }
    for (size_t i = 0; i < n; i++)
        puts(names[i]);
    free(names);
    return secrets_finish(SECRETS_OK);
}

static int run_command(const secrets_args *a, host_secrets *s) {
    char err[1024];
    const char *cmd = a->cmd;
    if (!strcmp(cmd, "list")) return cmd_list(s);
    if (!strcmp(cmd, "get")) {
        const char *v = host_secrets_get(s, a->name);
        if (!v) return no_such_secret(a->file, a->name);
        fputs(v, stdout);
        putchar('\n');
        return secrets_finish(SECRETS_OK);
    }
    if (!strcmp(cmd, "rm")) {
        if (!host_secrets_remove(s, a->name)) return no_such_secret(a->file, a->name);
    } else {
        char *in = NULL;
        if (!a->value && !(in = read_value_stdin(a->name))) return SECRETS_FAILED;
        bool ok = host_secrets_set(s, a->name, in ? in : a->value, err, sizeof err);
        if (in) sodium_free(in);
        if (!ok) return secrets_fail(err);
    }
    if (!host_secrets_save(s, err, sizeof err)) return secrets_fail(err);
    return SECRETS_OK;
}

int cli_secrets(int argc, char **argv) {
    secrets_args a;
    if (parse_secrets_args(argc, argv, &a) != SECRETS_OK) return SECRETS_USAGE;
    if (a.help) {
        fputs(secrets_usage, stdout);
        return secrets_finish(SECRETS_OK);
    }
    /* Thread-safe and idempotent; sodium_malloc needs it. */
    if (sodium_init() < 0) return secrets_fail("cannot initialize libsodium");
    if (!strcmp(a.cmd, "keygen")) return cmd_keygen(a.file);
    /* Checked before asking for a value on stdin, so that a typo does not
     * cost the user typing the secret. */
    if (a.name && !secret_name_valid(a.name)) return invalid_name();
    char err[1024];
    uint8_t key[32];
    if (!host_secrets_key(a.key_file, a.key_env, key, err, sizeof err)) return secrets_fail(err);
    host_secrets *s = host_secrets_open(a.file, key, !strcmp(a.cmd, "set"), err, sizeof err);
    sodium_memzero(key, sizeof key);
    if (!s) return secrets_fail(err);
    int rc = run_command(&a, s);
    host_secrets_free(s);
    return rc;
}
