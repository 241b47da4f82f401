/*
 * common.h - what the C guests of tests/wasi share: WASI errno names, the
 * lookup of a preopened directory by its guest name, and one-line reports.
 *
 * Every guest prints deterministic lines that run.sh compares exactly with
 * its expected output (and with Node's, where Node behaves the same), so
 * nothing printed here may depend on time, addresses or host paths. In
 * wasi-libc, errno values are the WASI errno numbers themselves.
 */
#ifndef WASP_TESTS_WASI_COMMON_H
#define WASP_TESTS_WASI_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

static const char *const errno_names[] = {
    "ESUCCESS",     "E2BIG",           "EACCES",       "EADDRINUSE",   "EADDRNOTAVAIL",
    "EAFNOSUPPORT", "EAGAIN",          "EALREADY",     "EBADF",        "EBADMSG",
    "EBUSY",        "ECANCELED",       "ECHILD",       "ECONNABORTED", "ECONNREFUSED",
    "ECONNRESET",   "EDEADLK",         "EDESTADDRREQ", "EDOM",         "EDQUOT",
    "EEXIST",       "EFAULT",          "EFBIG",        "EHOSTUNREACH", "EIDRM",
    "EILSEQ",       "EINPROGRESS",     "EINTR",        "EINVAL",       "EIO",
    "EISCONN",      "EISDIR",          "ELOOP",        "EMFILE",       "EMLINK",
    "EMSGSIZE",     "EMULTIHOP",       "ENAMETOOLONG", "ENETDOWN",     "ENETRESET",
    "ENETUNREACH",  "ENFILE",          "ENOBUFS",      "ENODEV",       "ENOENT",
    "ENOEXEC",      "ENOLCK",          "ENOLINK",      "ENOMEM",       "ENOMSG",
    "ENOPROTOOPT",  "ENOSPC",          "ENOSYS",       "ENOTCONN",     "ENOTDIR",
    "ENOTEMPTY",    "ENOTRECOVERABLE", "ENOTSOCK",     "ENOTSUP",      "ENOTTY",
    "ENXIO",        "EOVERFLOW",       "EOWNERDEAD",   "EPERM",        "EPIPE",
    "EPROTO",       "EPROTONOSUPPORT", "EPROTOTYPE",   "ERANGE",       "EROFS",
    "ESPIPE",       "ESRCH",           "ESTALE",       "ETIMEDOUT",    "ETXTBSY",
    "EXDEV",        "ENOTCAPABLE",
};

static inline const char *errno_name(int e) {
    if (e >= 0 && e < (int)(sizeof errno_names / sizeof errno_names[0])) return errno_names[e];
    return "E?";
}

/* "ok" or "errno=N (NAME)" for a WASI or libc result. */
static inline const char *outcome(int e) {
    static char buf[64];
    if (e == 0) return "ok";
    snprintf(buf, sizeof buf, "errno=%d (%s)", e, errno_name(e));
    return buf;
}

/* The guest fd of the preopened directory named `name`, or -1. */
static inline int preopen_fd(const char *name) {
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0) continue;
        if (ps.tag != __WASI_PREOPENTYPE_DIR) continue;
        size_t n = ps.u.dir.pr_name_len;
        char buf[256];
        if (n >= sizeof buf) continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, n) != 0) continue;
        buf[n] = 0;
        if (strcmp(buf, name) == 0) return (int)fd;
    }
    return -1;
}

/* Stops the test: something it needs did not work. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAILED: %s (line %d, errno=%d %s)\n", #cond, __LINE__, errno,                  \
                   errno_name(errno));                                                             \
            fflush(stdout);                                                                        \
            exit(99);                                                                              \
        }                                                                                          \
    } while (0)

#endif
