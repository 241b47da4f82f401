/*
 * jit_cache.c - the native tier's code as bytes that can be kept: a cache
 * entry (docs/design/native.md, section 8). The engine does no file I/O;
 * callers store the entry where they like (wasp keeps one file per module
 * in its cache directory, src/server/native.c).
 *
 * An entry is a fixed header, then the object that jit_load.c loads:
 *
 *   offset size
 *        0    8  magic "WASPJIT\0"
 *        8    4  format version (little-endian)
 *       12    4  option bits that change the code (none defined yet: 0)
 *       16   32  build: the GNU build ID of the running program, zero-padded
 *       48   32  cpu: SHA-256 of the CPU's identity and feature words (cpuid)
 *       80   32  module: SHA-256 of the module's bytes
 *      112    8  object length (little-endian)
 *      120   32  SHA-256 of the object
 *      152  ...  the object
 *
 * Every header field is checked on its own, so a mismatch says what
 * differs: the code was compiled by another build of wasp (its layout of
 * instances and helpers may differ), for another CPU (the code uses the
 * host's features), or from another module; the digest catches a damaged
 * object. The build ID rather than a version string because any rebuild
 * may move what compiled code depends on. LLVM's version is not part of
 * the key: which LLVM produced correct code does not matter to running it.
 *
 * The entry is trusted once it matches, since it runs as the module's code:
 * the cache directory must be writable by wasp's user only (the caller
 * creates it 0700). jit_load.c still checks every offset in the object.
 */
#include <cpuid.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

#define ENTRY_MAGIC "WASPJIT"
#define ENTRY_FORMAT 1u
#define ENTRY_HEADER 152u

enum {
    OFF_FORMAT = 8,
    OFF_OPTIONS = 12,
    OFF_BUILD = 16,
    OFF_CPU = 48,
    OFF_MODULE = 80,
    OFF_LEN = 112,
    OFF_DIGEST = 120
};

static uint8_t build_id[32], cpu_id[32];
static pthread_once_t ids_once = PTHREAD_ONCE_INIT;

/* Finds the main program's NT_GNU_BUILD_ID note (the first object that
 * dl_iterate_phdr reports is the program). */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const void *)p;
            const uint8_t *name = p + sizeof *n;
            const uint8_t *desc = name + ((n->n_namesz + 3u) & ~3u);
            if (desc + n->n_descsz > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                memcpy(data, desc, n->n_descsz < 32 ? n->n_descsz : 32);
                return 1;
            }
            p = desc + ((n->n_descsz + 3u) & ~3u);
        }
    }
    return 1; /* only the program itself counts */
}

static void cpuid_words(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
    memset(out, 0, 4 * sizeof *out);
    /* gcc's cpuid.h says unsigned, clang's int */
    if (leaf > (uint32_t)__get_cpuid_max(leaf & 0x80000000u, NULL)) return;
    __cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
}

static void ids_init(void) {
    if (sodium_init() < 0) abort(); /* cannot happen: no randomness is needed */
    dl_iterate_phdr(find_build_id, build_id);
    /* vendor, family/model/stepping and feature bits: what LLVM's host CPU
     * name and features are made of; the APIC ID byte of leaf 1 differs
     * per core and is masked out */
    uint32_t w[5][4];
    cpuid_words(0, 0, w[0]);
    cpuid_words(1, 0, w[1]);
    w[1][1] &= 0x00ffffffu;
    cpuid_words(7, 0, w[2]);
    cpuid_words(0x80000001u, 0, w[3]);
    cpuid_words(7, 1, w[4]);
    crypto_hash_sha256(cpu_id, (const uint8_t *)w, sizeof w);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void wasm_module_hash(const wasm_module *m, uint8_t out[32]) {
    pthread_once(&ids_once, ids_init);
    crypto_hash_sha256(out, m->bytes, m->size);
}

bool wasm_module_native_save(const wasm_module *m, uint8_t **entry, size_t *len, wasm_error *err) {
    memset(err, 0, sizeof *err);
    const wasm_module_impl *mi = wasm_impl((wasm_module *)m);
    if (!mi->jit_obj) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "the module has no native code to save");
        return false;
    }
    pthread_once(&ids_once, ids_init);
    uint8_t *e = malloc(ENTRY_HEADER + mi->jit_obj_len);
    if (!e) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return false;
    }
    memcpy(e, ENTRY_MAGIC, 8);
    put_u32(e + OFF_FORMAT, ENTRY_FORMAT);
    put_u32(e + OFF_OPTIONS, mi->jit_flags);
    memcpy(e + OFF_BUILD, build_id, 32);
    memcpy(e + OFF_CPU, cpu_id, 32);
    wasm_module_hash(m, e + OFF_MODULE);
    put_u32(e + OFF_LEN, (uint32_t)mi->jit_obj_len);
    put_u32(e + OFF_LEN + 4, (uint32_t)((uint64_t)mi->jit_obj_len >> 32));
    crypto_hash_sha256(e + OFF_DIGEST, mi->jit_obj, mi->jit_obj_len);
    memcpy(e + ENTRY_HEADER, mi->jit_obj, mi->jit_obj_len);
    *entry = e;
    *len = ENTRY_HEADER + mi->jit_obj_len;
    return true;
}

static bool reject(wasm_error *err, const char *why) {
    err->kind = WASM_ERR_LIMIT;
    snprintf(err->msg, sizeof err->msg, "native code entry rejected: %s", why);
    return false;
}

bool wasm_module_native_load(wasm_module *m, const uint8_t *entry, size_t len, uint32_t flags,
                             wasm_error *err) {
    memset(err, 0, sizeof *err);
    wasm_module_impl *mi = wasm_impl(m);
    if (wasm_module_natives(mi)) return true;
    if (!mi->codes) return reject(err, "the module was not loaded for execution");
    pthread_once(&ids_once, ids_init);
    uint8_t digest[32];
    if (len < ENTRY_HEADER || memcmp(entry, ENTRY_MAGIC, 8) != 0)
        return reject(err, "not a wasp native code entry");
    if (get_u32(entry + OFF_FORMAT) != ENTRY_FORMAT)
        return reject(err, "written in another format version");
    if (get_u32(entry + OFF_OPTIONS) != flags)
        return reject(
            err, (get_u32(entry + OFF_OPTIONS) ^ flags) == WASM_NATIVE_FUEL
                     ? (flags ? "compiled without fuel counting" : "compiled with fuel counting")
                     : "compiled with other options");
    if (memcmp(entry + OFF_BUILD, build_id, 32) != 0)
        return reject(err, "compiled by another build of wasp");
    if (memcmp(entry + OFF_CPU, cpu_id, 32) != 0) return reject(err, "compiled for another CPU");
    wasm_module_hash(m, digest);
    if (memcmp(entry + OFF_MODULE, digest, 32) != 0)
        return reject(err, "compiled from another module");
    uint64_t n = get_u64(entry + OFF_LEN);
    if (n != len - ENTRY_HEADER) return reject(err, "its length does not match (truncated?)");
    crypto_hash_sha256(digest, entry + ENTRY_HEADER, n);
    if (memcmp(entry + OFF_DIGEST, digest, 32) != 0)
        return reject(err, "its integrity check failed (damaged)");
    uint8_t *obj = malloc(n ? n : 1);
    if (!obj) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return false;
    }
    memcpy(obj, entry + ENTRY_HEADER, n);
    return wasm_jit_bind(m, obj, n, flags, err);
}
