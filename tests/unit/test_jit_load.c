/*
 * test_jit_load.c - the native tier's object loader (src/wasm/jit_load.c)
 * on real objects: a C file compiled here by clang-14 as position-
 * independent code for the small code model, as LLVM emits the tier's
 * code (calls out through the loader's stubs, addresses through its
 * slots), and for the large code model (absolute addresses), loaded,
 * bound to host symbols and called (calls out and in, data read and
 * written, constants, a switch; its unwind tables give the PC-relative
 * relocations); then objects it must refuse, with the reason, and 3,000
 * one-byte corruptions of a good one in each model, none of which may
 * crash it; and the tier's own object with its trap sites' stack map
 * corrupted. clang-14 comes with scripts/setup.sh; when it is missing the
 * test fails saying so.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "wasm/internal.h"

static const char source[] =
    "extern long host_add(long, long);\n"
    "extern long counter;\n"
    "static const double table[] = {1.5, 2.25, 4.0, 8.125};\n"
    "long data_rw = 7;\n"
    "static long zeroed[64];\n"
    "__attribute__((noinline)) long twice(long x) { return x * 2; }\n"
    "long call_host(long a, long b) { return host_add(a, b) + twice(b); }\n"
    "long bump(long d) { counter += d; return counter; }\n"
    "double pick(int i) { return table[i & 3]; }\n"
    "int classify(int x) {\n"
    "    switch (x) {\n"
    "    case 0: return 10; case 1: return 21; case 2: return 32; case 3: return 43;\n"
    "    case 4: return 54; case 5: return 65; case 6: return 76; case 7: return 87;\n"
    "    default: return -1;\n"
    "    }\n"
    "}\n"
    "long get_rw(void) { return ++data_rw; }\n"
    "long sum_zeroed(long k) { zeroed[k & 63] += k; long s = 0;\n"
    "    for (int i = 0; i < 64; i++) s += zeroed[i]; return s; }\n";

static long host_add(long a, long b) {
    return a + b + 1000;
}
long jit_test_counter;

/* The code models and relocation modes the tests compile for. */
#define PIC "-mcmodel=small -fPIC"
#define LARGE "-mcmodel=large -fno-pic"
#define SMALL_STATIC "-mcmodel=small -fno-pic"

/* The object clang-14 makes of `source` with `flags`, in a malloc'd
 * buffer (8-byte aligned), or NULL after reporting why. */
static uint8_t *compile_object(const char *flags, size_t *len) {
    char dir[] = "/tmp/wasp-jit-load.XXXXXX";
    if (!mkdtemp(dir)) {
        unit_fail(__FILE__, __LINE__, "mkdtemp failed");
        return NULL;
    }
    char src[64], obj[64], cmd[512];
    snprintf(src, sizeof src, "%s/code.c", dir);
    snprintf(obj, sizeof obj, "%s/code.o", dir);
    FILE *f = fopen(src, "w");
    uint8_t *buf = NULL;
    if (f) {
        fputs(source, f);
        fclose(f);
    }
    if (access("/usr/bin/clang-14", X_OK) != 0) {
        unit_fail(__FILE__, __LINE__,
                  "clang-14 is not installed, so the loader cannot be tested on a real object: "
                  "bash scripts/setup.sh installs it");
        goto out;
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/clang-14 -c -O2 %s -fno-stack-protector -o %s %s", flags,
             obj, src);
    if (system(cmd) != 0) {
        unit_fail(__FILE__, __LINE__, "compiling the test object failed: %s", cmd);
        goto out;
    }
    struct stat st;
    f = fopen(obj, "rb");
    if (!f || fstat(fileno(f), &st) != 0 || st.st_size <= 0) {
        unit_fail(__FILE__, __LINE__, "cannot read %s", obj);
        if (f) fclose(f);
        goto out;
    }
    *len = (size_t)st.st_size;
    buf = aligned_alloc(8, (*len + 7) & ~(size_t)7);
    if (buf && fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
out:
    unlink(obj);
    unlink(src);
    rmdir(dir);
    return buf;
}

static const wasm_jit_symbol imports[] = {
    {"host_add", (void *)host_add},
    {"counter", &jit_test_counter},
};

/* True when obj has a relocation of `type`. */
static bool has_relocation(const uint8_t *obj, uint32_t type) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_RELA) continue;
        const Elf64_Rela *r = (const Elf64_Rela *)(obj + sh[i].sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof *r; k++)
            if (ELF64_R_TYPE(r[k].r_info) == type) return true;
    }
    return false;
}

static void run_object(const char *flags) {
    size_t len = 0;
    uint8_t *obj = compile_object(flags, &len);
    if (!obj) return;
    if (!strcmp(flags, PIC)) {
        /* what the stubs and slots are for is there to test */
        CHECK(has_relocation(obj, R_X86_64_PLT32));
        CHECK(has_relocation(obj, R_X86_64_REX_GOTPCRELX));
    }
    wasm_error err;
    wasm_jit_image *img = wasm_jit_load(obj, len, imports, 2, &err);
    if (!img) {
        unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
        free(obj);
        return;
    }
    long (*call_host)(long, long) = (long (*)(long, long))wasm_jit_find(img, "call_host");
    long (*bump)(long) = (long (*)(long))wasm_jit_find(img, "bump");
    double (*pick)(int) = (double (*)(int))wasm_jit_find(img, "pick");
    int (*classify)(int) = (int (*)(int))wasm_jit_find(img, "classify");
    long (*get_rw)(void) = (long (*)(void))wasm_jit_find(img, "get_rw");
    long (*sum_zeroed)(long) = (long (*)(long))wasm_jit_find(img, "sum_zeroed");
    REQUIRE(call_host && bump && pick && classify && get_rw && sum_zeroed);
    CHECK(wasm_jit_find(img, "table") == NULL); /* static: not exported */
    CHECK(wasm_jit_find(img, "nothing") == NULL);
    /* a call out to the host (an absolute address), and one inside the object */
    CHECK_EQ_S64(call_host(2, 3), 2 + 3 + 1000 + 6);
    /* the host's data, read and written */
    jit_test_counter = 40;
    CHECK_EQ_S64(bump(2), 42);
    CHECK_EQ_S64(jit_test_counter, 42);
    /* read-only constants and a jump table */
    CHECK(pick(2) == 4.0 && pick(7) == 8.125);
    CHECK_EQ_S64(classify(0), 10);
    CHECK_EQ_S64(classify(5), 65);
    CHECK_EQ_S64(classify(7), 87);
    CHECK_EQ_S64(classify(9), -1);
    /* the object's own data, initialised and zeroed (bss) */
    CHECK_EQ_S64(get_rw(), 8);
    CHECK_EQ_S64(get_rw(), 9);
    CHECK_EQ_S64(sum_zeroed(5), 5);
    CHECK_EQ_S64(sum_zeroed(70), 75);
    /* two loads of one object are independent */
    wasm_jit_image *again = wasm_jit_load(obj, len, imports, 2, &err);
    REQUIRE(again != NULL);
    long (*get_rw2)(void) = (long (*)(void))wasm_jit_find(again, "get_rw");
    CHECK_EQ_S64(get_rw2(), 8);
    wasm_jit_unload(again);
    wasm_jit_unload(img);
    free(obj);
}

TEST(jit_load_runs_a_real_object) {
    run_object(PIC);
    run_object(LARGE);
}

/* Loads a copy of obj[0, len) (aligned) and expects an error containing
 * `phrase`. */
static void expect_refused(const char *file, int line, const uint8_t *obj, size_t len,
                           const wasm_jit_symbol *im, size_t nim, const char *phrase) {
    uint8_t *copy = aligned_alloc(8, len ? (len + 7) & ~(size_t)7 : 8);
    memcpy(copy, obj, len);
    wasm_error err;
    wasm_jit_image *img = wasm_jit_load(copy, len, im, nim, &err);
    if (img) {
        unit_fail(file, line, "loaded, expected a refusal mentioning '%s'", phrase);
        wasm_jit_unload(img);
    } else if (!strstr(err.msg, phrase)) {
        unit_fail(file, line, "error '%s' does not mention '%s'", err.msg, phrase);
    }
    free(copy);
}
#define REFUSED(obj, len, im, nim, phrase)                                                         \
    expect_refused(__FILE__, __LINE__, obj, len, im, nim, phrase)

static void refuse_corrupted(const char *flags) {
    size_t len = 0;
    uint8_t *obj = compile_object(flags, &len);
    if (!obj) return;
    REFUSED(obj, len, imports, 1, "needs `counter`");
    REFUSED(obj, len, NULL, 0, "which the runtime does not provide");
    REFUSED(obj, 40, imports, 2, "shorter than an ELF header");
    REFUSED(obj, len / 2, imports, 2, "out of bounds");
    uint8_t *bad = aligned_alloc(8, (len + 7) & ~(size_t)7);
    memcpy(bad, obj, len);
    bad[18] = 0xb7; /* e_machine: AArch64 */
    REFUSED(bad, len, imports, 2, "not an x86-64");
    memcpy(bad, obj, len);
    bad[16] = ET_EXEC;
    REFUSED(bad, len, imports, 2, "not an x86-64");
    /* fuzz_jit_load's first finding: the null section (index 0) made
     * allocated, its size past the input, was copied unchecked */
    memcpy(bad, obj, len);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)bad;
    Elf64_Shdr *null_sh = (Elf64_Shdr *)(bad + eh->e_shoff);
    null_sh->sh_flags = SHF_ALLOC;
    null_sh->sh_size = len * 2;
    REFUSED(bad, len, imports, 2, "a section out of bounds");
    memcpy(bad, obj, len);
    null_sh->sh_flags = SHF_ALLOC;
    null_sh->sh_size = 16;
    null_sh->sh_addralign = 3;
    REFUSED(bad, len, imports, 2, "not a power of two");
    memcpy(bad, obj, len);
    null_sh->sh_type = SHT_NOBITS;
    null_sh->sh_flags = SHF_ALLOC | SHF_WRITE;
    null_sh->sh_size = 1ull << 62;
    REFUSED(bad, len, imports, 2, "larger than 1 GiB");
    /* one byte changed anywhere: loaded or refused, never a crash (the
     * code of a corrupted object is not run) */
    uint32_t seed = 12345;
    int loaded = 0, refused = 0;
    for (int k = 0; k < 3000; k++) {
        memcpy(bad, obj, len);
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % len;
        seed = seed * 1103515245u + 12345u;
        bad[at] ^= (uint8_t)(1u << ((seed >> 16) & 7));
        wasm_error err;
        wasm_jit_image *img = wasm_jit_load(bad, len, imports, 2, &err);
        if (img) {
            loaded++;
            wasm_jit_unload(img);
        } else {
            refused++;
            CHECK(strncmp(err.msg, "compiled code: ", 15) == 0);
        }
    }
    CHECK_EQ_S64(loaded + refused, 3000);
    CHECK(refused > 0);
    free(bad);
    free(obj);
}

TEST(jit_load_refuses_what_it_cannot_load) {
    refuse_corrupted(PIC);
    refuse_corrupted(LARGE);
    /* static code for the small model reads the host's data with 32-bit
     * displacements, which cannot span from the mapping to it: no slot
     * can stand in for the data itself */
    size_t small_len = 0;
    uint8_t *small = compile_object(SMALL_STATIC, &small_len);
    if (small) REFUSED(small, small_len, imports, 2, "out of 32-bit range");
    free(small);
}

/* The file offset of section `name` in ELF object obj, or 0. */
static size_t section_offset(const uint8_t *obj, const char *name) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
    const char *names = (const char *)obj + sh[eh->e_shstrndx].sh_offset;
    for (unsigned i = 0; i < eh->e_shnum; i++)
        if (!strcmp(names + sh[i].sh_name, name)) return (size_t)sh[i].sh_offset;
    return 0;
}

/* The trap sites' stack map (jit_load.c's collect_sites) comes from the
 * cache file like the rest: a stack map of another version, or records
 * running past the section, are refused with the reason; the object as
 * compiled binds. */
TEST(jit_load_refuses_a_malformed_stack_map) {
    wasm_module *m = unit_load_wat("(module (memory 1)\n"
                                   "  (func (export \"f\") (param i32) (result i32)\n"
                                   "    (i32.load (local.get 0))))\n");
    REQUIRE(m);
    uint8_t *obj;
    size_t len;
    wasm_error err;
    REQUIRE(wasm_jit_compile(m, 0, &obj, &len, &err));
    size_t at = section_offset(obj, ".llvm_stackmaps");
    REQUIRE(at != 0);
    static const struct {
        size_t byte; /* from the section's start */
        uint8_t value;
        const char *phrase;
    } cases[] = {{0, 2, "a stack map of another version"},
                 {12, 0xff, "a truncated stack map"}, /* the record count's low byte */
                 {15, 0x7f, "a truncated stack map"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *bad = aligned_alloc(8, (len + 7) & ~(size_t)7);
        memcpy(bad, obj, len);
        bad[at + cases[k].byte] = cases[k].value;
        if (wasm_jit_bind(m, bad, len, 0, &err)) /* takes `bad` */
            unit_fail(__FILE__, __LINE__, "case %zu bound, expected '%s'", k, cases[k].phrase);
        else if (!strstr(err.msg, cases[k].phrase))
            unit_fail(__FILE__, __LINE__, "case %zu: '%s' does not mention '%s'", k, err.msg,
                      cases[k].phrase);
    }
    CHECK(wasm_jit_bind(m, obj, len, 0, &err));
    wasm_module_free(m);
}
