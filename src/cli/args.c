/*
 * args.c - parsing command-line values that several commands share.
 */
#include <errno.h>
#include <stdlib.h>

#include "cli/cli.h"

bool cli_parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return false;
    *out = v;
    return true;
}
