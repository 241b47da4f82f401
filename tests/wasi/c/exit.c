/*
 * exit.c - how a command ends, chosen by argv[1]:
 *   return0      main returns 0                  -> wasp exits 0
 *   return7      main returns 7                  -> 7 (wasi-libc calls proc_exit)
 *   exit5        exit(5), after buffered output  -> 5, the output flushed
 *   proc_exit3   proc_exit(3) directly           -> 3, nothing after it runs
 *   proc_exit255 proc_exit(255)                  -> 255
 *   atexit       exit(0) runs atexit handlers    -> 0
 *   trap         __builtin_trap (unreachable)    -> not 0, a message on stderr
 */
#include <unistd.h>

#include "common.h"

static void bye(void) {
    printf("atexit handler ran\n");
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    const char *m = argv[1];
    printf("mode %s\n", m);
    if (strcmp(m, "return0") == 0) return 0;
    if (strcmp(m, "return7") == 0) return 7;
    if (strcmp(m, "exit5") == 0) exit(5);
    if (strcmp(m, "atexit") == 0) {
        atexit(bye);
        exit(0);
    }
    fflush(stdout);
    if (strcmp(m, "proc_exit3") == 0) __wasi_proc_exit(3);
    if (strcmp(m, "proc_exit255") == 0) __wasi_proc_exit(255);
    if (strcmp(m, "trap") == 0) __builtin_trap();
    printf("unknown mode\n");
    return 1;
}
