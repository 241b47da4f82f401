/*
 * memory.c - linear memories as address-space reservations.
 *
 * Each memory reserves WASM_MEMORY_RESERVE bytes of address space with no
 * access and opens the first `pages` pages for reading and writing. Growing
 * opens more pages in place, so the base never moves and compiled code may
 * keep it in a register. Everything beyond the current size faults; trap.c
 * turns that fault into WASM_TRAP_OOB_MEMORY. The reservation costs address
 * space only: MAP_NORESERVE keeps it out of the commit charge, and pages
 * cost memory only once touched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "wasm/internal.h"

bool wasm_memory_init(wasm_memory *mem, uint32_t min_pages, uint32_t max_pages, wasm_error *err) {
    memset(mem, 0, sizeof *mem);
    if (max_pages > 65536) max_pages = 65536;
    if (min_pages > max_pages) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "memory of %u pages exceeds its cap of %u pages",
                 min_pages, max_pages);
        return false;
    }
    void *p = mmap(NULL, WASM_MEMORY_RESERVE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg,
                 "cannot reserve %llu GiB of address space for a linear memory: %s",
                 WASM_MEMORY_RESERVE >> 30, strerror(errno));
        return false;
    }
    mem->base = p;
    mem->max_pages = max_pages;
    if (min_pages && mprotect(p, (size_t)min_pages * WASM_PAGE_SIZE, PROT_READ | PROT_WRITE)) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "cannot commit %u pages of linear memory: %s",
                 min_pages, strerror(errno));
        wasm_memory_release(mem);
        return false;
    }
    mem->pages = min_pages;
    return true;
}

int64_t wasm_memory_grow(wasm_memory *mem, uint32_t delta) {
    uint64_t old = mem->pages;
    if (delta == 0) return (int64_t)old;
    if (!mem->base || delta > mem->max_pages - old) return -1;
    uint8_t *start = mem->base + old * WASM_PAGE_SIZE;
    if (mprotect(start, (size_t)delta * WASM_PAGE_SIZE, PROT_READ | PROT_WRITE)) return -1;
    mem->pages = old + delta;
    return (int64_t)old;
}

void wasm_memory_release(wasm_memory *mem) {
    if (mem->base) munmap(mem->base, WASM_MEMORY_RESERVE);
    memset(mem, 0, sizeof *mem);
}
