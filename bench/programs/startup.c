/*
 * startup.c - does nothing: the cost of starting a runner, not a benchmark.
 *
 * bench/run.sh times it to show how much of each median is process
 * start-up, module loading and compilation (large for node).
 */
#include "rt.h"

int main(void) {
    printf("started: 1\n");
    return 0;
}
