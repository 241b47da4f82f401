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
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

bool wasm_memory_map_image(wasm_memory *mem, int fd, uint64_t pages, wasm_error *err) {
    if (pages > mem->max_pages) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg,
                 "the snapshot's memory of %llu pages exceeds the cap of %llu pages",
                 (unsigned long long)pages, (unsigned long long)mem->max_pages);
        return false;
    }
    if (pages > mem->pages && wasm_memory_grow(mem, (uint32_t)(pages - mem->pages)) < 0) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "cannot commit %llu pages of linear memory: %s",
                 (unsigned long long)pages, strerror(errno));
        return false;
    }
    if (pages == 0) return true;
    void *p = mmap(mem->base, pages * WASM_PAGE_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "cannot map a memory image of %llu pages: %s",
                 (unsigned long long)pages, strerror(errno));
        return false;
    }
    return true;
}

/* Which pages of the image were written is read from /proc/self/pagemap:
 * a written page of a private file mapping is an anonymous copy (present,
 * not "file-page or shared-anon", bit 61), an untouched one is the file's
 * page or not mapped at all. Copying the image back over the few written
 * pages keeps them mapped and writable, so the next request neither
 * faults nor makes the kernel flush other CPUs' TLBs, which is what
 * MADV_DONTNEED costs in a process whose threads run on several cores:
 * with two workers it halved throughput. Large images, many written
 * pages, or no /proc fall back to MADV_DONTNEED, which drops the copies
 * and lets the next access fault the image back in. */
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_FILE (1ull << 61)
#define SCAN_MAX_PAGES 2048u /* 8 MiB of image: 16 KiB of pagemap to read */
#define COPY_MAX_PAGES 64u   /* beyond this, dropping beats copying */

static int pagemap_fd = -2;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void pagemap_open(void) {
    pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* The pagemap entries of the 4 KiB pages from `base`, up to
 * SCAN_MAX_PAGES of them; false when they cannot be read. */
static bool read_pagemap(const uint8_t *base, size_t npages, uint64_t *entries) {
    if (npages > SCAN_MAX_PAGES) return false;
    pthread_once(&pagemap_once, pagemap_open);
    if (pagemap_fd < 0) return false;
    off_t off = (off_t)((uintptr_t)base / 4096 * 8);
    size_t want = npages * 8;
    return pread(pagemap_fd, entries, want, off) == (ssize_t)want;
}

/* Copies the image over its written pages; false when that is not
 * possible or not worth it (the caller then drops them instead). Adds the
 * pages written since the last reset to *count (all of them when that
 * cannot be known). */
static bool restore_written(uint8_t *base, const uint8_t *image, size_t len, uint64_t *count) {
    size_t npages = len / 4096;
    uint64_t entries[SCAN_MAX_PAGES];
    if (!image || !read_pagemap(base, npages, entries)) {
        *count += npages;
        return false;
    }
    uint32_t written[COPY_MAX_PAGES], n = 0;
    for (size_t i = 0; i < npages; i++) {
        if ((entries[i] & (PAGEMAP_PRESENT | PAGEMAP_FILE)) != PAGEMAP_PRESENT) continue;
        if (n < COPY_MAX_PAGES) written[n] = (uint32_t)i;
        n++;
    }
    *count += n;
    if (n > COPY_MAX_PAGES) return false;
    for (uint32_t k = 0; k < n; k++)
        memcpy(base + (size_t)written[k] * 4096, image + (size_t)written[k] * 4096, 4096);
    return true;
}

/* The pages of [base, base + len) that are in memory (all when that
 * cannot be known): what a grown memory's requests touched. */
static uint64_t present_pages(const uint8_t *base, size_t len) {
    size_t npages = len / 4096;
    uint64_t entries[SCAN_MAX_PAGES], n = 0;
    if (!read_pagemap(base, npages, entries)) return npages;
    for (size_t i = 0; i < npages; i++)
        n += (entries[i] & PAGEMAP_PRESENT) != 0;
    return n;
}

bool wasm_memory_reset_image(wasm_memory *mem, uint64_t pages, const uint8_t *image,
                             uint64_t *reset) {
    bool ok = true;
    uint64_t count = 0;
    if (mem->pages > pages) {
        /* Grown since: those pages are anonymous; drop them and close them
         * again so an access faults as it would have before the growth. */
        uint8_t *start = mem->base + pages * WASM_PAGE_SIZE;
        size_t len = (size_t)(mem->pages - pages) * WASM_PAGE_SIZE;
        count += present_pages(start, len);
        ok = !madvise(start, len, MADV_DONTNEED) && !mprotect(start, len, PROT_NONE);
        mem->pages = pages;
    }
    size_t len = (size_t)pages * WASM_PAGE_SIZE;
    if (len && !restore_written(mem->base, image, len, &count) &&
        madvise(mem->base, len, MADV_DONTNEED))
        ok = false;
    if (reset) *reset = count;
    return ok;
}

void wasm_memory_release(wasm_memory *mem) {
    if (mem->base) munmap(mem->base, WASM_MEMORY_RESERVE);
    memset(mem, 0, sizeof *mem);
}
