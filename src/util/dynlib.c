/*
 * dynlib.c - opens the libraries only serving needs (util.h says why they
 * are not linked) and fills the slots their stubs jump through.
 *
 * Each function listed in dynlib.h has a slot here, a pointer named
 * util_dynlib_slot_FUNCTION. In build/wasp, dynlib_stubs.c defines
 * FUNCTION as a few instructions that jump to where the slot points, or
 * to util_dynlib_unbound while it is empty. In a program linked with the
 * libraries there are no stubs; the slots are filled and never read.
 *
 * Loading a library is all or nothing: every function of its list is
 * looked up first, and only when all are found are the slots written, so
 * a failed load leaves no half-bound library. A library, once loaded,
 * stays loaded: its slots are never emptied, so a stub never races with
 * an unload. The lock only orders loaders; a stub reads its slot with a
 * plain load, which on x86-64 sees the pointer either empty or complete.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/dynlib.h"

#define SLOT(name) void *util_dynlib_slot_##name;
#define LIB_SLOTS(bit, soname, package, use, FUNCS) FUNCS(SLOT)
UTIL_DYNLIB_LIBS(LIB_SLOTS)
#undef LIB_SLOTS
#undef SLOT

typedef struct dynlib_func {
    const char *name;
    void **slot;
} dynlib_func;

#define FUNC(name) {#name, &util_dynlib_slot_##name},
#define LIB_FUNCS(bit, soname, package, use, FUNCS)                                                \
    static const dynlib_func funcs_##bit[] = {FUNCS(FUNC)};
UTIL_DYNLIB_LIBS(LIB_FUNCS)
#undef LIB_FUNCS
#undef FUNC

typedef struct dynlib_lib {
    unsigned bit;
    const char *soname, *package, *use;
    const dynlib_func *funcs;
    size_t nfuncs;
} dynlib_lib;

static const dynlib_lib libs[] = {
#define LIB(bit, soname, package, use, FUNCS)                                                      \
    {bit, soname, package, use, funcs_##bit, sizeof funcs_##bit / sizeof funcs_##bit[0]},
    UTIL_DYNLIB_LIBS(LIB)
#undef LIB
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned loaded; /* UTIL_LIB_* bits; written under the lock */

/* Opens one library and binds its slots; false with err filled. */
static bool load_lib(const dynlib_lib *l, char *err, size_t errlen) {
    /* RTLD_NOW: a library that cannot resolve its own symbols fails here,
     * at start, not in the middle of a request. RTLD_LOCAL: its functions
     * are reached through this handle only. */
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s (%s) cannot be loaded: %s; install it: apt-get install %s",
                 l->soname, l->use, dlerror(), l->package);
        return false;
    }
    void **found = malloc(l->nfuncs * sizeof *found);
    if (!found) {
        snprintf(err, errlen, "out of memory loading %s", l->soname);
        dlclose(h);
        return false;
    }
    for (size_t i = 0; i < l->nfuncs; i++) {
        found[i] = dlsym(h, l->funcs[i].name);
        if (!found[i]) {
            snprintf(err, errlen,
                     "%s (%s) has no function %s: it is older than the version wasp was built "
                     "with; upgrade it: apt-get install %s",
                     l->soname, l->use, l->funcs[i].name, l->package);
            free(found);
            dlclose(h);
            return false;
        }
    }
    for (size_t i = 0; i < l->nfuncs; i++)
        __atomic_store_n(l->funcs[i].slot, found[i], __ATOMIC_RELEASE);
    free(found);
    return true;
}

bool util_dynlib_load(unsigned want, char *err, size_t errlen) {
    bool ok = true;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; ok && i < sizeof libs / sizeof libs[0]; i++) {
        if (!(want & libs[i].bit) || (loaded & libs[i].bit)) continue;
        ok = load_lib(&libs[i], err, errlen);
        if (ok) loaded |= libs[i].bit;
    }
    pthread_mutex_unlock(&lock);
    return ok;
}

void util_dynlib_unbound(void *const *slot) {
    const char *name = "an unknown function", *soname = "an unknown library";
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        for (size_t j = 0; j < libs[i].nfuncs; j++)
            if (libs[i].funcs[j].slot == slot) {
                name = libs[i].funcs[j].name;
                soname = libs[i].soname;
            }
    fprintf(stderr,
            "wasp: internal error: %s of %s was called before util_dynlib_load opened the "
            "library\n",
            name, soname);
    abort();
}
