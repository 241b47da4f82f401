/*
 * fault.c - host functions handed pointers outside the guest's memory must
 * answer EFAULT, never read or write host memory, and never crash. Tries
 * pointers past the end and ones whose end wraps around 2^32.
 */
#include <stdint.h>

#include "common.h"

#define FAR ((void *)(uintptr_t)0xFFFFFFF0u)
#define WRAP_LEN 0x20 /* FAR + WRAP_LEN wraps to 0x10 in 32 bits */

/* wasi-libc's __wasi_path_open takes a C string and runs strlen on it in
 * the guest; the import itself takes a pointer and a length. */
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t
raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags,
              int64_t rights, int64_t inheriting, int32_t fdflags, int32_t result);

int main(void) {
    __wasi_errno_t e;
    __wasi_size_t n;
    printf("random_get far: %s\n", outcome(__wasi_random_get(FAR, 8)));
    printf("random_get wrapping: %s\n", outcome(__wasi_random_get(FAR, WRAP_LEN)));
    printf("clock_time_get result far: %s\n",
           outcome(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, FAR)));
    printf("args_sizes_get result far: %s\n", outcome(__wasi_args_sizes_get(FAR, &n)));
    printf("args_get far: %s\n", outcome(__wasi_args_get(FAR, FAR)));
    printf("environ_get far: %s\n", outcome(__wasi_environ_get(FAR, FAR)));

    __wasi_ciovec_t bad_buf = {FAR, WRAP_LEN};
    printf("fd_write iovec buffer wrapping: %s\n", outcome(__wasi_fd_write(1, &bad_buf, 1, &n)));
    printf("fd_write iovec array far: %s\n", outcome(__wasi_fd_write(1, FAR, 1, &n)));
    /* 2^29 iovecs of 8 bytes: their size wraps 32 bits to 0. EFAULT (the
     * array leaves memory) and EINVAL (more than IOV_MAX) are both right. */
    e = __wasi_fd_write(1, &bad_buf, 0x20000000, &n);
    printf("fd_write 2^29 iovecs: %s\n",
           e == __WASI_ERRNO_FAULT || e == __WASI_ERRNO_INVAL ? "refused" : outcome(e));
    __wasi_ciovec_t ok = {(const uint8_t *)"", 0};
    printf("fd_write result pointer far: %s\n", outcome(__wasi_fd_write(1, &ok, 1, FAR)));
    printf("path_open path far: %s\n", outcome(raw_path_open(3, 0, (int32_t)(uintptr_t)FAR, 8, 0, 0,
                                                             0, 0, (int32_t)(uintptr_t)&n)));
    printf("path_open path wrapping: %s\n",
           outcome(raw_path_open(3, 0, (int32_t)(uintptr_t)FAR, WRAP_LEN, 0, 0, 0, 0,
                                 (int32_t)(uintptr_t)&n)));
    printf("prestat_dir_name far: %s\n", outcome(__wasi_fd_prestat_dir_name(3, FAR, 16)));
    __wasi_subscription_t sub = {0};
    sub.u.tag = __WASI_EVENTTYPE_CLOCK;
    sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    printf("poll_oneoff events far: %s\n", outcome(__wasi_poll_oneoff(&sub, FAR, 1, &n)));
    printf("still running\n");
    return 0;
}
