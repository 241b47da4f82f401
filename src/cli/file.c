/*
 * file.c - reads a module's bytes from a path for the `wasp` command.
 *
 * The engine takes bytes, never paths (wasm/ knows nothing of files), so
 * the command line reads the whole file first. Regular files are read in
 * one allocation sized by fstat; pipes and devices grow a buffer as they
 * go. Failures come back as errno values for main.c to print with the
 * path; nothing here prints or exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

/* Buffer size for inputs whose length fstat cannot tell (pipes, ttys). */
#define CLI_READ_CHUNK ((size_t)64 * 1024)

/* Reads fd to its end into a buffer of `cap` bytes to start with, growing
 * it by doubling. Returns 0 or an errno value. */
static int read_all(int fd, size_t cap, uint8_t **bytes, size_t *len) {
    uint8_t *buf = malloc(cap);
    size_t used = 0;
    if (!buf) return ENOMEM;
    for (;;) {
        if (used == cap) {
            if (cap > SIZE_MAX / 2) {
                free(buf);
                return ENOMEM;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            return e;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    *bytes = buf;
    *len = used;
    return 0;
}

int cli_read_file(const char *path, uint8_t **bytes, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return EISDIR;
    }
    /* One byte beyond the size seen by fstat lets the read loop meet end of
     * file without growing the buffer; a file that grows meanwhile is still
     * read whole. */
    size_t cap = CLI_READ_CHUNK;
    if (S_ISREG(st.st_mode)) {
        if (st.st_size < 0 || (uintmax_t)st.st_size >= SIZE_MAX) {
            close(fd);
            return ENOMEM;
        }
        cap = (size_t)st.st_size + 1;
    }
    int e = read_all(fd, cap, bytes, len);
    close(fd);
    return e;
}
