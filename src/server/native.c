/*
 * native.c - giving a module its native code: from the cache directory
 * when an entry there matches, else compiled with LLVM and written there
 * for the next start (docs/design/native.md, section 8). Used by
 * `wasp run`, `wasp compile` and `wasp serve`.
 *
 * The cache holds one file per module, named by the SHA-256 of its bytes
 * (srv_native_entry_name): an entry of another build of wasp or for
 * another CPU has the same name, is refused by the engine
 * (wasm_module_native_load says why), and is replaced by the code compiled
 * now. Files are written under a temporary name and renamed, so a reader
 * never sees half an entry and concurrent writers of one module leave one
 * whole entry. The directory is created 0700: an entry that matches runs as
 * the module's code, so only wasp's user may write there.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "wasm/wasm.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

bool srv_tier_parse(const char *s, srv_tier *out) {
    if (strcmp(s, "auto") == 0)
        *out = SRV_TIER_AUTO;
    else if (strcmp(s, "interp") == 0)
        *out = SRV_TIER_INTERP;
    else if (strcmp(s, "native") == 0)
        *out = SRV_TIER_NATIVE;
    else
        return false;
    return true;
}

const char *srv_tier_name(srv_tier t) {
    return t == SRV_TIER_NATIVE ? "native" : t == SRV_TIER_INTERP ? "interp" : "auto";
}

const char *srv_cache_default_dir(char *buf, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, n, "%s/wasp", xdg);
    else if (home && home[0] == '/')
        snprintf(buf, n, "%s/.cache/wasp", home);
    else
        return NULL;
    return buf;
}

void srv_native_entry_name(const wasm_module *m, uint32_t flags, char name[96]) {
    uint8_t h[32];
    wasm_module_hash(m, h);
    for (int i = 0; i < 32; i++)
        snprintf(name + 2 * i, 3, "%02x", h[i]);
    /* the two variants of a module live side by side */
    snprintf(name + 64, 32, "%s.wasp-native", (flags & WASM_NATIVE_FUEL) ? "-fuel" : "");
}

int srv_cache_make_dir(const char *dir) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return ENAMETOOLONG;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) return errno;
        *s = c;
        if (!c) return 0;
    }
}

static int read_all(const char *path, uint8_t **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return EINVAL;
    }
    uint8_t *b = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!b) return ENOMEM;
    *out = b;
    *len = got; /* a file that shrank meanwhile fails the entry's length check */
    return 0;
}

int srv_native_write(const char *path, const uint8_t *bytes, size_t len) {
    char tmp[4200];
    static unsigned seq;
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(),
             __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return errno;
    size_t done = 0;
    int e = 0;
    while (done < len) {
        ssize_t w = write(fd, bytes + done, len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            e = errno;
            break;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) unlink(tmp);
    return e;
}

bool srv_native_prepare(wasm_module *m, const char *cache_dir, uint32_t flags, bool compile,
                        srv_native_info *info, char *err, size_t errlen) {
    memset(info, 0, sizeof *info);
    double t0 = now_ms();
    char path[4200] = "", name[96];
    uint8_t *entry = NULL;
    size_t len = 0;
    wasm_error werr;
    if (cache_dir) {
        srv_native_entry_name(m, flags, name);
        snprintf(path, sizeof path, "%s/%s", cache_dir, name);
        int e = read_all(path, &entry, &len);
        if (e == 0) {
            bool ok = wasm_module_native_load(m, entry, len, flags, &werr);
            free(entry);
            if (ok) {
                info->from_cache = true;
                info->ms = now_ms() - t0;
                return true;
            }
            snprintf(info->note, sizeof info->note, "%s: %s%s", path, werr.msg,
                     compile ? "; recompiled" : "");
        } else if (e != ENOENT) {
            snprintf(info->note, sizeof info->note, "%s: %s%s", path, strerror(e),
                     compile ? "; recompiled" : "");
        }
    }
    if (!compile) {
        snprintf(err, errlen, "no native code for it in %s", cache_dir ? cache_dir : "(no cache)");
        return false;
    }
    if (!wasm_module_compile_native_ex(m, flags, &werr)) {
        snprintf(err, errlen, "%s", werr.msg);
        return false;
    }
    info->compiled = true;
    info->ms = now_ms() - t0;
    if (!cache_dir) return true;
    int e = srv_cache_make_dir(cache_dir);
    if (e == 0 && wasm_module_native_save(m, &entry, &len, &werr)) {
        e = srv_native_write(path, entry, len);
        free(entry);
    } else if (e == 0) {
        e = ENOMEM;
    }
    if (e) {
        size_t k = strlen(info->note);
        snprintf(info->note + k, sizeof info->note - k, "%scache not written: %s: %s",
                 k ? "; " : "", cache_dir, strerror(e));
    } else {
        info->saved = true;
        snprintf(info->path, sizeof info->path, "%s", path);
    }
    return true;
}
