/*
 * snapshot.c - an instance's state, captured once, restored in microseconds.
 *
 * wasm_snapshot_take copies memory 0 into a sealed memfd (all-zero pages
 * are left as holes, so the file costs only what the module wrote) and
 * records the values of the instance's own globals, the contents of its
 * own tables and the dropped-segment flags. Function references are kept
 * as indices into the function index space, not as pointers, because each
 * instance made from the snapshot has its own function objects.
 *
 * An instance made from a snapshot maps the memfd privately over the
 * start of its memory reservation: until a request writes, every page is
 * shared with the page cache; a write copies that one page. Reset throws
 * the copies away (MADV_DONTNEED) and rewrites globals and tables, which
 * are small. Nothing here touches the dispatch loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm/internal.h"

typedef struct snap_table {
    uint32_t size;
    uintptr_t *elems; /* funcref: function index + 1 (0: null); externref: the host value */
} snap_table;

struct wasm_snapshot {
    const wasm_module *module;
    int memfd;            /* -1 without a memory of its own */
    uint64_t mem_pages;   /* memory 0's size when taken */
    const uint8_t *image; /* a read-only shared view of memfd, to copy pages back from */
    wasm_cell (*globals)[2];
    snap_table *tables;
    uint8_t *elem_dropped, *data_dropped;
};

static void *snap_fail(wasm_error *err, wasm_errkind kind, const char *msg) {
    err->kind = kind;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return NULL;
}

/* Function objects of `inst`, sorted by address, to turn references back
 * into indices. */
typedef struct func_slot {
    const void *fn;
    uint32_t index;
} func_slot;

static int slot_cmp(const void *a, const void *b) {
    const func_slot *x = a, *y = b;
    return x->fn < y->fn ? -1 : x->fn > y->fn;
}

/* A function reference as an index + 1 (0 for null); false when the
 * function is not in inst's index space. */
static bool ref_to_index(const func_slot *slots, uint32_t n, const void *fn, uintptr_t *out) {
    if (!fn) {
        *out = 0;
        return true;
    }
    func_slot key = {fn, 0};
    const func_slot *hit = bsearch(&key, slots, n, sizeof *slots, slot_cmp);
    if (!hit) return false;
    *out = (uintptr_t)hit->index + 1;
    return true;
}

static bool write_image(int fd, const uint8_t *mem, uint64_t len) {
    static const uint8_t zero[4096];
    if (ftruncate(fd, (off_t)len)) return false;
    for (uint64_t off = 0; off < len; off += 4096) {
        if (!memcmp(mem + off, zero, 4096)) continue; /* leave a hole */
        uint64_t done = 0;
        while (done < 4096) {
            ssize_t n = pwrite(fd, mem + off + done, 4096 - done, (off_t)(off + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            done += (uint64_t)n;
        }
    }
    return true;
}

wasm_snapshot *wasm_snapshot_take(wasm_instance *inst, wasm_error *err) {
    const wasm_module *m = inst->module;
    memset(err, 0, sizeof *err);
    if (m->nmemory_imports || m->ntable_imports)
        return snap_fail(err, WASM_ERR_LINK,
                         "a module that imports a memory or a table cannot be snapshotted: "
                         "that state is not its own");
    wasm_snapshot *s = calloc(1, sizeof *s);
    func_slot *slots = calloc(m->nfuncs + 1, sizeof *slots);
    if (!s || !slots) {
        free(s);
        free(slots);
        return snap_fail(err, WASM_ERR_NOMEM, "out of memory");
    }
    s->module = m;
    s->memfd = -1;
    for (uint32_t i = 0; i < m->nfuncs; i++)
        slots[i] = (func_slot){inst->funcs[i], i};
    qsort(slots, m->nfuncs, sizeof *slots, slot_cmp);

    s->globals = calloc(m->nglobals + 1, sizeof *s->globals);
    s->tables = calloc(m->ntables + 1, sizeof *s->tables);
    s->elem_dropped = malloc(m->nelems + 1);
    s->data_dropped = malloc(m->ndatas + 1);
    if (!s->globals || !s->tables || !s->elem_dropped || !s->data_dropped) goto nomem;
    memcpy(s->elem_dropped, inst->elem_dropped, m->nelems);
    memcpy(s->data_dropped, inst->data_dropped, m->ndatas);

    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        const wasm_global_obj *g = inst->globals[i];
        memcpy(s->globals[i], g->val, sizeof s->globals[i]);
        if (g->type == WASM_FUNCREF &&
            !ref_to_index(slots, m->nfuncs, (void *)(uintptr_t)g->val[0], &s->globals[i][0])) {
            snap_fail(err, WASM_ERR_LINK, "a global holds a function of another instance");
            goto fail;
        }
    }
    for (uint32_t i = 0; i < m->ntables; i++) {
        const wasm_table_obj *t = inst->tables[i];
        snap_table *st = &s->tables[i];
        st->size = t->size;
        st->elems = calloc(t->size + 1, sizeof *st->elems);
        if (!st->elems) goto nomem;
        for (uint32_t k = 0; k < t->size; k++) {
            if (t->elem != WASM_FUNCREF) {
                st->elems[k] = (uintptr_t)t->elems[k];
            } else if (!ref_to_index(slots, m->nfuncs, t->elems[k], &st->elems[k])) {
                snap_fail(err, WASM_ERR_LINK, "a table holds a function of another instance");
                goto fail;
            }
        }
    }
    if (inst->mem) {
        s->mem_pages = inst->mem->pages;
        s->memfd = memfd_create("wasp-memory-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (s->memfd < 0 ||
            !write_image(s->memfd, inst->mem->base, s->mem_pages * WASM_PAGE_SIZE) ||
            fcntl(s->memfd, F_ADD_SEALS,
                  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
            err->kind = WASM_ERR_NOMEM;
            snprintf(err->msg, sizeof err->msg, "cannot write a memory image of %llu pages: %s",
                     (unsigned long long)s->mem_pages, strerror(errno));
            goto fail;
        }
        if (s->mem_pages) {
            void *img =
                mmap(NULL, s->mem_pages * WASM_PAGE_SIZE, PROT_READ, MAP_SHARED, s->memfd, 0);
            if (img != MAP_FAILED) s->image = img; /* without it, reset drops pages instead */
        }
    }
    free(slots);
    return s;
nomem:
    snap_fail(err, WASM_ERR_NOMEM, "out of memory");
fail:
    free(slots);
    wasm_snapshot_free(s);
    return NULL;
}

void wasm_snapshot_free(wasm_snapshot *s) {
    if (!s) return;
    if (s->image) munmap((void *)s->image, s->mem_pages * WASM_PAGE_SIZE);
    if (s->memfd >= 0) close(s->memfd);
    if (s->tables)
        for (uint32_t i = 0; i < s->module->ntables; i++)
            free(s->tables[i].elems);
    free(s->tables);
    free(s->globals);
    free(s->elem_dropped);
    free(s->data_dropped);
    free(s);
}

uint64_t wasm_snapshot_memory_size(const wasm_snapshot *s) {
    return s->mem_pages * WASM_PAGE_SIZE;
}

/* Everything but memory: globals, tables, dropped flags. */
static bool restore_state(const wasm_snapshot *s, wasm_instance *inst) {
    const wasm_module *m = s->module;
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        wasm_global_obj *g = inst->globals[i];
        memcpy(g->val, s->globals[i], sizeof g->val);
        if (g->type == WASM_FUNCREF && s->globals[i][0])
            g->val[0] = (uintptr_t)inst->funcs[s->globals[i][0] - 1];
    }
    for (uint32_t i = 0; i < m->ntables; i++) {
        wasm_table_obj *t = inst->tables[i];
        const snap_table *st = &s->tables[i];
        if (t->size < st->size && wasm_table_grow(t, st->size - t->size, NULL) < 0) return false;
        t->size = st->size; /* a table grown since shrinks back; its buffer stays */
        for (uint32_t k = 0; k < st->size; k++) {
            uintptr_t v = st->elems[k];
            if (t->elem == WASM_FUNCREF) {
                t->elems[k] = v ? inst->funcs[v - 1] : NULL;
            } else {
                t->elems[k] = (void *)v;
            }
        }
    }
    memcpy(inst->elem_dropped, s->elem_dropped, m->nelems);
    memcpy(inst->data_dropped, s->data_dropped, m->ndatas);
    __atomic_store_n(&inst->interrupt, 0, __ATOMIC_RELAXED);
    return true;
}

wasm_instance *wasm_snapshot_instantiate(const wasm_snapshot *s, wasm_linker *l, wasm_error *err) {
    memset(err, 0, sizeof *err);
    wasm_error trap_msg = {0};
    if (!wasm_trap_init(&trap_msg)) {
        *err = trap_msg;
        return NULL;
    }
    wasm_instance *inst = wasm_instance_alloc(s->module, l, err);
    if (!inst) return NULL;
    if (inst->mem && !wasm_memory_map_image(inst->mem, s->memfd, s->mem_pages, err)) goto fail;
    inst->mem_base = inst->mem ? inst->mem->base : NULL;
    if (!restore_state(s, inst)) {
        snap_fail(err, WASM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    return inst;
fail:
    wasm_instance_free(inst);
    return NULL;
}

bool wasm_snapshot_reset(const wasm_snapshot *s, wasm_instance *inst) {
    return wasm_snapshot_reset_counted(s, inst, NULL);
}

bool wasm_snapshot_reset_counted(const wasm_snapshot *s, wasm_instance *inst, uint64_t *pages) {
    if (pages) *pages = 0;
    if (inst->mem && !wasm_memory_reset_image(inst->mem, s->mem_pages, s->image, pages))
        return false;
    return restore_state(s, inst);
}
