/*
 * limits.c - what a guest cannot do to the host that runs it (issue 10).
 * The first argument picks the section:
 *   sleep N   sleep(N) (poll_oneoff on a clock): under --deadline-ms the
 *             call must end at the deadline (F03), so "woke up" is never
 *             printed
 *   read      one read from stdin (run.sh gives it a pipe that stays
 *             empty): the same, for fd_read on a pipe
 *   fds       open /sandbox/f.txt until open fails: the guest gets EMFILE
 *             from its own cap (256 descriptors, 4 of them stdio and the
 *             preopen), not from the host running out (F13); after
 *             closing them, opening works again
 */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    REQUIRE(argc >= 2);
    if (!strcmp(argv[1], "sleep") && argc == 3) {
        printf("sleeping %s s\n", argv[2]);
        fflush(stdout);
        sleep((unsigned)atoi(argv[2]));
        printf("woke up\n");
    } else if (!strcmp(argv[1], "read")) {
        printf("reading stdin\n");
        fflush(stdout);
        char buf[16];
        ssize_t n = read(0, buf, sizeof buf);
        printf("read returned %d\n", (int)n);
    } else if (!strcmp(argv[1], "fds")) {
        static int fds[100000];
        int n = 0;
        while (n < 100000) {
            int fd = open("/sandbox/f.txt", O_RDONLY);
            if (fd < 0) break;
            fds[n++] = fd;
        }
        printf("opened %d files, then %s\n", n, outcome(errno));
        for (int i = 0; i < n; i++)
            REQUIRE(close(fds[i]) == 0);
        int fd = open("/sandbox/f.txt", O_RDONLY);
        printf("after closing them: %s\n", outcome(fd < 0 ? errno : 0));
    } else {
        printf("unknown section %s\n", argv[1]);
        return 2;
    }
    return 0;
}
