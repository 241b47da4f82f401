/*
 * jit_load.c - loading the native tier's compiled code without LLVM: an
 * ELF64 x86-64 relocatable object (what LLVM emits for the small code
 * model and position-independent code, docs/design/native.md section 8)
 * mapped, relocated and made executable by wasp itself.
 *
 * Why not ORC, LLVM's own loader: linking libLLVM costs every process
 * 49 MB and 17 ms at start, which a cached module must not pay. The code
 * sits wherever mmap puts it, usually more than 2 GiB from the helpers in
 * wasp's binary that it calls, so the loader does a static linker's work
 * for what leaves the object: a call to an undefined symbol
 * (R_X86_64_PLT32) goes to a stub placed after the code, `jmp *slot(%rip)`,
 * and a load of its address (R_X86_64_GOTPCREL and its relaxable forms) to
 * a slot in a table after the read-only data; both slots hold the absolute
 * address. Calls inside the object stay direct 32-bit ones, which is why
 * compiled code uses this model: under the large one every call was an
 * absolute address in a register and an indirect call. Objects for the
 * large code model (R_X86_64_64 outwards) load too. The object's sections
 * are placed together, so PC-relative references inside it reach.
 *
 * The bytes may come from a cache file, so nothing in them is trusted:
 * every offset, size, index and name is checked against the buffer, and
 * a bad one is an error naming it, never a crash. What is not supported
 * (a relocation type other than those listed in apply(), a common symbol,
 * a section group) is refused with its name.
 *
 * Layout: the allocated sections are copied into one mapping in three
 * page-aligned groups - code then the stubs (read+execute), read-only data
 * then the slots (read), writable data (read+write) - in their order in
 * the object, each at its own alignment.
 */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wasm/internal.h"

/* No section of compiled code comes near this; a larger one (a bss of
 * 2^63 bytes, say) is a corrupt object, not a reason to map memory. */
#define JIT_MAX_SECTION (1ull << 30)

struct wasm_jit_image {
    uint8_t *base;
    size_t size;
    /* the object's defined global symbols, for wasm_jit_find */
    struct jit_sym {
        char *name;
        void *addr;
        size_t size;
    } * syms; /* sorted by name */
    size_t nsyms;
    /* guest memory accesses: the address just past each, its function's
     * start and its site, sorted by address (from LLVM's stack maps) */
    struct jit_site {
        uintptr_t func, pc;
        uint64_t site;
    } * sites;
    size_t nsites;
};

/* What one load works with: the object's bytes and tables, checked. */
typedef struct loader {
    const uint8_t *obj;
    size_t len;
    const Elf64_Shdr *sh;
    uint16_t nsh;
    const Elf64_Sym *syms;
    size_t nsyms;
    const char *strtab;
    size_t strtab_len;
    uint8_t **addr; /* per section: where it was placed (NULL: not allocated) */
    /* per symbol: its slot's and its stub's number + 1 (0: none) */
    uint32_t *slot_of, *stub_of;
    uint32_t nslots, nstubs;
    uint8_t *slots, *stubs; /* where they were placed */
    wasm_error *err;
} loader;

/* A stub: `jmp *disp32(%rip)` (6 bytes) and two int3 to fill 8. */
#define JIT_STUB_SIZE 8

static void set_error(wasm_error *err, wasm_errkind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(wasm_error *err, wasm_errkind kind, const char *fmt, ...) {
    memset(err, 0, sizeof *err);
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

/* An object wasp cannot load, as "compiled code: ..." with `detail` in
 * fmt's one %s. */
static bool fail(loader *ld, const char *fmt, const char *detail) {
    char msg[200];
    snprintf(msg, sizeof msg, fmt, detail);
    set_error(ld->err, WASM_ERR_MALFORMED, "compiled code: %s", msg);
    return false;
}

/* True when [off, off + n) lies inside the object. */
static bool inside(const loader *ld, uint64_t off, uint64_t n) {
    return off <= ld->len && n <= ld->len - off;
}

static const char *sym_name(const loader *ld, const Elf64_Sym *s) {
    if (s->st_name >= ld->strtab_len) return NULL;
    const char *n = ld->strtab + s->st_name;
    /* the name must end inside the table */
    return memchr(n, 0, ld->strtab_len - s->st_name) ? n : NULL;
}

static bool check_header(loader *ld) {
    if (ld->len < sizeof(Elf64_Ehdr)) return fail(ld, "%s", "shorter than an ELF header");
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)ld->obj;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_type != ET_REL || eh->e_machine != EM_X86_64)
        return fail(ld, "%s", "not an x86-64 ELF64 relocatable object");
    if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
        !inside(ld, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) ||
        eh->e_shoff % _Alignof(Elf64_Shdr) != 0)
        return fail(ld, "%s", "section headers out of bounds");
    ld->sh = (const Elf64_Shdr *)(ld->obj + eh->e_shoff);
    ld->nsh = eh->e_shnum;
    for (uint16_t i = 0; i < ld->nsh; i++) {
        const Elf64_Shdr *s = &ld->sh[i];
        if (s->sh_type != SHT_NOBITS && !inside(ld, s->sh_offset, s->sh_size))
            return fail(ld, "%s", "a section out of bounds");
        if (s->sh_size > JIT_MAX_SECTION) return fail(ld, "%s", "a section larger than 1 GiB");
        if (s->sh_addralign & (s->sh_addralign - 1))
            return fail(ld, "%s", "a section alignment that is not a power of two");
        if (s->sh_addralign > 4096) return fail(ld, "%s", "a section aligned past a page");
        if (s->sh_type == SHT_GROUP) return fail(ld, "%s", "section groups are not supported");
        if (s->sh_type == SHT_SYMTAB) {
            if (ld->syms) return fail(ld, "%s", "more than one symbol table");
            if (s->sh_entsize != sizeof(Elf64_Sym) || s->sh_offset % _Alignof(Elf64_Sym) != 0 ||
                s->sh_link >= ld->nsh || ld->sh[s->sh_link].sh_type != SHT_STRTAB)
                return fail(ld, "%s", "a malformed symbol table");
            ld->syms = (const Elf64_Sym *)(ld->obj + s->sh_offset);
            ld->nsyms = s->sh_size / sizeof(Elf64_Sym);
            const Elf64_Shdr *st = &ld->sh[s->sh_link];
            ld->strtab = (const char *)ld->obj + st->sh_offset;
            ld->strtab_len = st->sh_size;
        }
    }
    if (!ld->syms) return fail(ld, "%s", "no symbol table");
    return true;
}

/* 0: code, 1: read-only data, 2: writable data, -1: not loaded. */
static int group_of(const Elf64_Shdr *s) {
    if (!(s->sh_flags & SHF_ALLOC) || s->sh_size == 0) return -1;
    if (s->sh_flags & SHF_EXECINSTR) return 0;
    return s->sh_flags & SHF_WRITE ? 2 : 1;
}

static size_t align_up(size_t v, size_t a) {
    return a > 1 ? (v + a - 1) & ~(a - 1) : v;
}

/* Places every allocated section, the stubs after the code and the slots
 * after the read-only data; returns the mapping's size, with each
 * section's offset in off[], the stubs' and slots' offsets, and each
 * group's start and end. */
static size_t lay_out(loader *ld, size_t *off, size_t *stubs_off, size_t *slots_off,
                      size_t group_start[3], size_t group_end[3]) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), at = 0;
    for (int g = 0; g < 3; g++) {
        at = align_up(at, page);
        group_start[g] = at;
        for (uint16_t i = 0; i < ld->nsh; i++) {
            const Elf64_Shdr *s = &ld->sh[i];
            if (group_of(s) != g) continue;
            at = align_up(at, s->sh_addralign ? (size_t)s->sh_addralign : 1);
            off[i] = at;
            at += (size_t)s->sh_size;
        }
        if (g == 0) {
            at = align_up(at, 16);
            *stubs_off = at;
            at += (size_t)ld->nstubs * JIT_STUB_SIZE;
        } else if (g == 1) {
            at = align_up(at, 8);
            *slots_off = at;
            at += (size_t)ld->nslots * 8;
        }
        group_end[g] = at;
    }
    return align_up(at, page);
}

/* The address symbol `k` stands for: in a loaded section, absolute, or
 * an import; false with the error when there is none. */
static bool sym_addr(loader *ld, size_t k, const wasm_jit_symbol *imports, size_t nimports,
                     uint64_t *out) {
    if (k >= ld->nsyms) return fail(ld, "%s", "a relocation names no symbol");
    const Elf64_Sym *s = &ld->syms[k];
    if (s->st_shndx == SHN_ABS) {
        *out = s->st_value;
        return true;
    }
    if (s->st_shndx == SHN_COMMON) return fail(ld, "%s", "common symbols are not supported");
    if (s->st_shndx == SHN_UNDEF) {
        const char *name = sym_name(ld, s);
        if (!name) return fail(ld, "%s", "a symbol's name out of bounds");
        for (size_t i = 0; i < nimports; i++) {
            if (!strcmp(imports[i].name, name)) {
                *out = (uint64_t)(uintptr_t)imports[i].addr;
                return true;
            }
        }
        return fail(ld, "needs `%s`, which the runtime does not provide", name);
    }
    if (s->st_shndx >= ld->nsh || !ld->addr[s->st_shndx])
        return fail(ld, "%s", "a symbol in a section that is not loaded");
    if (s->st_value > ld->sh[s->st_shndx].sh_size)
        return fail(ld, "%s", "a symbol past the end of its section");
    *out = (uint64_t)(uintptr_t)(ld->addr[s->st_shndx] + s->st_value);
    return true;
}

/* Applies one relocation at `p` (inside its loaded section, `room` bytes
 * left there). */
static bool apply(loader *ld, const Elf64_Rela *r, uint8_t *p, size_t room, uint64_t S) {
    int64_t A = r->r_addend;
    uint64_t P = (uint64_t)(uintptr_t)p;
    switch (ELF64_R_TYPE(r->r_info)) {
    case R_X86_64_NONE: return true;
    case R_X86_64_64: {
        if (room < 8) break;
        uint64_t v = S + (uint64_t)A;
        memcpy(p, &v, 8);
        return true;
    }
    case R_X86_64_PC64: {
        if (room < 8) break;
        uint64_t v = S + (uint64_t)A - P;
        memcpy(p, &v, 8);
        return true;
    }
    case R_X86_64_PC32:
    case R_X86_64_PLT32:
    case R_X86_64_GOTPCREL: /* S is the slot (relocate) */
    case R_X86_64_GOTPCRELX:
    case R_X86_64_REX_GOTPCRELX: {
        if (room < 4) break;
        int64_t v = (int64_t)(S + (uint64_t)A - P);
        if (v < INT32_MIN || v > INT32_MAX)
            return fail(ld, "%s", "a PC-relative reference out of 32-bit range");
        int32_t v32 = (int32_t)v;
        memcpy(p, &v32, 4);
        return true;
    }
    default: {
        char t[32];
        snprintf(t, sizeof t, "%u", (unsigned)ELF64_R_TYPE(r->r_info));
        return fail(ld, "relocation type %s is not supported", t);
    }
    }
    return fail(ld, "%s", "a relocation past the end of its section");
}

/* Relocation section i, when it applies to a loaded section: 1 with its
 * entries and the section they patch; 0 when it is none; -1 with the
 * error when it is malformed. Before the sections are placed too. */
static int rela_section(loader *ld, uint16_t i, const Elf64_Rela **r, size_t *n, uint16_t *target) {
    const Elf64_Shdr *rs = &ld->sh[i];
    if (rs->sh_type == SHT_REL) {
        fail(ld, "%s", "REL relocations are not supported");
        return -1;
    }
    if (rs->sh_type != SHT_RELA) return 0;
    if (rs->sh_info >= ld->nsh || rs->sh_entsize != sizeof(Elf64_Rela) ||
        rs->sh_offset % _Alignof(Elf64_Rela) != 0) {
        fail(ld, "%s", "a malformed relocation section");
        return -1;
    }
    const Elf64_Shdr *ts = &ld->sh[rs->sh_info];
    if (group_of(ts) < 0) return 0; /* for a section not loaded (debug information) */
    if (ts->sh_type == SHT_NOBITS) {
        fail(ld, "%s", "a relocation in a bss section");
        return -1;
    }
    *r = (const Elf64_Rela *)(ld->obj + rs->sh_offset);
    *n = rs->sh_size / sizeof(Elf64_Rela);
    *target = (uint16_t)rs->sh_info;
    return 1;
}

/* A load of a symbol's address from its slot, `mov sym@GOTPCREL(%rip)`. */
static bool is_slot_load(uint32_t type) {
    return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX ||
           type == R_X86_64_REX_GOTPCRELX;
}

/* Counts the slots and stubs the object needs: a slot per symbol whose
 * address is loaded, or which is called from outside the object; a stub
 * per such call target. */
static bool plan_slots(loader *ld) {
    ld->slot_of = calloc(ld->nsyms + 1, sizeof *ld->slot_of);
    ld->stub_of = calloc(ld->nsyms + 1, sizeof *ld->stub_of);
    if (!ld->slot_of || !ld->stub_of) return fail(ld, "%s", "out of memory");
    for (uint16_t i = 0; i < ld->nsh; i++) {
        const Elf64_Rela *r;
        size_t n;
        uint16_t target;
        int got = rela_section(ld, i, &r, &n, &target);
        if (got < 0) return false;
        if (!got) continue;
        for (size_t k = 0; k < n; k++) {
            uint32_t type = ELF64_R_TYPE(r[k].r_info);
            size_t sym = ELF64_R_SYM(r[k].r_info);
            bool call = type == R_X86_64_PLT32;
            if (!call && !is_slot_load(type)) continue;
            if (sym >= ld->nsyms) return fail(ld, "%s", "a relocation names no symbol");
            if (call && ld->syms[sym].st_shndx != SHN_UNDEF) continue; /* stays direct */
            if (!ld->slot_of[sym]) ld->slot_of[sym] = ++ld->nslots;
            if (call && !ld->stub_of[sym]) ld->stub_of[sym] = ++ld->nstubs;
        }
    }
    return true;
}

/* Writes each slot's address and each stub's jump (the sections and
 * both tables placed). */
static bool fill_slots(loader *ld, const wasm_jit_symbol *imports, size_t nimports) {
    for (size_t k = 0; k < ld->nsyms; k++) {
        if (!ld->slot_of[k]) continue;
        uint64_t S;
        if (!sym_addr(ld, k, imports, nimports, &S)) return false;
        uint8_t *slot = ld->slots + (size_t)(ld->slot_of[k] - 1) * 8;
        memcpy(slot, &S, 8);
        if (!ld->stub_of[k]) continue;
        uint8_t *stub = ld->stubs + (size_t)(ld->stub_of[k] - 1) * JIT_STUB_SIZE;
        int64_t d = (int64_t)((uintptr_t)slot - (uintptr_t)(stub + 6));
        if (d < INT32_MIN || d > INT32_MAX)
            return fail(ld, "%s", "a stub out of 32-bit range of its slot");
        int32_t d32 = (int32_t)d;
        stub[0] = 0xff; /* jmp *d32(%rip) */
        stub[1] = 0x25;
        memcpy(stub + 2, &d32, 4);
        stub[6] = stub[7] = 0xcc; /* int3 */
    }
    return true;
}

static bool relocate(loader *ld, const wasm_jit_symbol *imports, size_t nimports) {
    for (uint16_t i = 0; i < ld->nsh; i++) {
        const Elf64_Rela *r;
        size_t n;
        uint16_t t;
        int got = rela_section(ld, i, &r, &n, &t);
        if (got < 0) return false;
        if (!got) continue; /* t is set only for a section that applies */
        const Elf64_Shdr *ts = &ld->sh[t];
        for (size_t k = 0; k < n; k++) {
            if (r[k].r_offset >= ts->sh_size)
                return fail(ld, "%s", "a relocation past the end of its section");
            uint32_t type = ELF64_R_TYPE(r[k].r_info);
            size_t sym = ELF64_R_SYM(r[k].r_info);
            uint64_t S;
            /* plan_slots gave these their slot and stub */
            if (is_slot_load(type) && sym < ld->nsyms && ld->slot_of[sym])
                S = (uint64_t)(uintptr_t)(ld->slots + (size_t)(ld->slot_of[sym] - 1) * 8);
            else if (type == R_X86_64_PLT32 && sym < ld->nsyms && ld->stub_of[sym])
                S = (uint64_t)(uintptr_t)(ld->stubs +
                                          (size_t)(ld->stub_of[sym] - 1) * JIT_STUB_SIZE);
            else if (!sym_addr(ld, sym, imports, nimports, &S))
                return false;
            if (!apply(ld, &r[k], ld->addr[t] + r[k].r_offset,
                       (size_t)(ts->sh_size - r[k].r_offset), S))
                return false;
        }
    }
    return true;
}

static bool collect_syms(loader *ld, wasm_jit_image *img) {
    img->syms = calloc(ld->nsyms ? ld->nsyms : 1, sizeof *img->syms);
    if (!img->syms) return fail(ld, "%s", "out of memory");
    for (size_t k = 1; k < ld->nsyms; k++) {
        const Elf64_Sym *s = &ld->syms[k];
        if (ELF64_ST_BIND(s->st_info) != STB_GLOBAL || s->st_shndx == SHN_UNDEF ||
            s->st_shndx >= ld->nsh || !ld->addr[s->st_shndx])
            continue;
        const char *name = sym_name(ld, s);
        if (!name || s->st_value > ld->sh[s->st_shndx].sh_size)
            return fail(ld, "%s", "a malformed symbol");
        struct jit_sym *js = &img->syms[img->nsyms];
        js->name = strdup(name);
        if (!js->name) return fail(ld, "%s", "out of memory");
        js->addr = ld->addr[s->st_shndx] + s->st_value;
        /* a size past the section is the object's lie, not ours to map */
        uint64_t room = ld->sh[s->st_shndx].sh_size - s->st_value;
        js->size = (size_t)(s->st_size < room ? s->st_size : room);
        img->nsyms++;
    }
    return true;
}

static int sym_cmp(const void *a, const void *b) {
    return strcmp(((const struct jit_sym *)a)->name, ((const struct jit_sym *)b)->name);
}

static int site_cmp(const void *a, const void *b) {
    uintptr_t x = ((const struct jit_site *)a)->pc, y = ((const struct jit_site *)b)->pc;
    return x < y ? -1 : x > y;
}

/* The section called `name`, or -1. */
static int section_named(const loader *ld, const char *name) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)ld->obj;
    if (eh->e_shstrndx >= ld->nsh) return -1;
    const Elf64_Shdr *st = &ld->sh[eh->e_shstrndx];
    if (st->sh_type != SHT_STRTAB) return -1;
    size_t n = strlen(name) + 1;
    for (uint16_t i = 0; i < ld->nsh; i++)
        if (ld->sh[i].sh_name < st->sh_size && n <= st->sh_size - ld->sh[i].sh_name &&
            !memcmp(ld->obj + st->sh_offset + ld->sh[i].sh_name, name, n))
            return i;
    return -1;
}

/* The sites of guest memory accesses, from the stack map section LLVM
 * emits for jit_compile.c's llvm.experimental.stackmap calls (format 3,
 * llvm.org/docs/StackMaps.html), relocated: per function its address and
 * record count; per record the id (the site) and the offset from the
 * function's start of the point just after the access. No section: no
 * sites (an object without guest memory accesses). */
static bool collect_sites(loader *ld, wasm_jit_image *img) {
    int k = section_named(ld, ".llvm_stackmaps");
    if (k < 0 || !ld->addr[k]) return true;
    const uint8_t *p = ld->addr[k], *end = p + ld->sh[k].sh_size;
#define NEED(n)                                                                                    \
    if ((size_t)(end - p) < (size_t)(n)) return fail(ld, "%s", "a truncated stack map")
    NEED(16);
    if (p[0] != 3) return fail(ld, "%s", "a stack map of another version");
    uint32_t nfunc, nconst, nrec;
    memcpy(&nfunc, p + 4, 4);
    memcpy(&nconst, p + 8, 4);
    memcpy(&nrec, p + 12, 4);
    p += 16;
    NEED((uint64_t)nfunc * 24 + (uint64_t)nconst * 8);
    const uint8_t *funcs = p;
    p += (size_t)nfunc * 24 + (size_t)nconst * 8;
    NEED((uint64_t)nrec * 16);
    img->sites = calloc(nrec ? nrec : 1, sizeof *img->sites);
    if (!img->sites) return fail(ld, "%s", "out of memory");
    for (uint32_t f = 0; f < nfunc; f++) {
        uint64_t addr, count;
        memcpy(&addr, funcs + (size_t)f * 24, 8);
        memcpy(&count, funcs + (size_t)f * 24 + 16, 8);
        if (addr < (uintptr_t)img->base || addr >= (uintptr_t)img->base + img->size)
            return fail(ld, "%s", "a stack map of a function outside the code");
        for (uint64_t r = 0; r < count; r++) {
            if (img->nsites == nrec) return fail(ld, "%s", "a stack map with too many records");
            NEED(16);
            struct jit_site *s = &img->sites[img->nsites++];
            uint32_t off;
            uint16_t nloc, nlive;
            memcpy(&s->site, p, 8);
            memcpy(&off, p + 8, 4);
            memcpy(&nloc, p + 14, 2);
            s->func = (uintptr_t)addr;
            s->pc = (uintptr_t)addr + off;
            p += 16;
            NEED((size_t)nloc * 12);
            p += (size_t)nloc * 12;
            size_t pad = (size_t)(-(uintptr_t)(p - ld->addr[k]) & 7u); /* to 8 bytes */
            NEED(pad + 4);
            p += pad;
            memcpy(&nlive, p + 2, 2);
            p += 4;
            NEED((size_t)nlive * 4);
            p += (size_t)nlive * 4;
            pad = (size_t)(-(uintptr_t)(p - ld->addr[k]) & 7u);
            NEED(pad);
            p += pad;
        }
    }
#undef NEED
    qsort(img->sites, img->nsites, sizeof *img->sites, site_cmp);
    return true;
}

wasm_jit_image *wasm_jit_load(const uint8_t *obj, size_t len, const wasm_jit_symbol *imports,
                              size_t nimports, wasm_error *err) {
    loader ld = {.obj = obj, .len = len, .err = err};
    wasm_jit_image *img = calloc(1, sizeof *img);
    if (!img) {
        set_error(err, WASM_ERR_NOMEM, "compiled code: out of memory");
        return NULL;
    }
    if (((uintptr_t)obj % 8) != 0) {
        fail(&ld, "%s", "the object's buffer is not 8-byte aligned");
        goto bad;
    }
    if (!check_header(&ld)) goto bad;
    size_t *off = calloc(ld.nsh, sizeof *off);
    ld.addr = calloc(ld.nsh, sizeof *ld.addr);
    if (!off || !ld.addr) {
        free(off);
        fail(&ld, "%s", "out of memory");
        goto bad;
    }
    size_t gs[3], ge[3], stubs_off = 0, slots_off = 0, page = (size_t)sysconf(_SC_PAGESIZE);
    if (!plan_slots(&ld)) {
        free(off);
        goto bad;
    }
    img->size = lay_out(&ld, off, &stubs_off, &slots_off, gs, ge);
    if (img->size > 4 * JIT_MAX_SECTION) {
        free(off);
        fail(&ld, "%s", "sections adding up to more than 4 GiB");
        goto bad;
    }
    void *m = mmap(NULL, img->size ? img->size : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        free(off);
        set_error(err, WASM_ERR_NOMEM, "compiled code: cannot map %zu bytes", img->size);
        goto bad;
    }
    img->base = m;
    for (uint16_t i = 0; i < ld.nsh; i++) {
        const Elf64_Shdr *s = &ld.sh[i];
        if (group_of(s) < 0) continue;
        ld.addr[i] = img->base + off[i];
        if (s->sh_type != SHT_NOBITS) memcpy(ld.addr[i], obj + s->sh_offset, (size_t)s->sh_size);
    }
    free(off);
    ld.stubs = img->base + stubs_off;
    ld.slots = img->base + slots_off;
    if (!fill_slots(&ld, imports, nimports) || !relocate(&ld, imports, nimports) ||
        !collect_syms(&ld, img) || !collect_sites(&ld, img))
        goto bad;
    qsort(img->syms, img->nsyms, sizeof *img->syms, sym_cmp);
    /* code read+execute, read-only data read-only; writable data stays */
    if ((ge[0] > gs[0] &&
         mprotect(img->base + gs[0], align_up(ge[0], page) - gs[0], PROT_READ | PROT_EXEC) != 0) ||
        (ge[1] > gs[1] &&
         mprotect(img->base + gs[1], align_up(ge[1], page) - gs[1], PROT_READ) != 0)) {
        set_error(err, WASM_ERR_NOMEM, "compiled code: cannot protect its pages");
        goto bad;
    }
    free(ld.addr);
    free(ld.slot_of);
    free(ld.stub_of);
    return img;
bad:
    free(ld.addr);
    free(ld.slot_of);
    free(ld.stub_of);
    wasm_jit_unload(img);
    return NULL;
}

void *wasm_jit_find(const wasm_jit_image *img, const char *name) {
    return wasm_jit_find_sized(img, name, NULL);
}

void *wasm_jit_find_sized(const wasm_jit_image *img, const char *name, size_t *size) {
    struct jit_sym key = {.name = (char *)name};
    struct jit_sym *s = bsearch(&key, img->syms, img->nsyms, sizeof key, sym_cmp);
    if (size) *size = s ? s->size : 0;
    return s ? s->addr : NULL;
}

uint64_t wasm_jit_site_at(const wasm_jit_image *img, const void *pc) {
    /* the first record past pc: the access faulted before its stack map
     * point, and after the one before (both ordered with the accesses) */
    uintptr_t at = (uintptr_t)pc;
    size_t lo = 0, hi = img->nsites;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->sites[mid].pc <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == img->nsites || img->sites[lo].func > at) return WASM_SITE_NONE;
    return img->sites[lo].site;
}

void wasm_jit_unload(wasm_jit_image *img) {
    if (!img) return;
    if (img->base) munmap(img->base, img->size ? img->size : 1);
    for (size_t i = 0; i < img->nsyms; i++)
        free(img->syms[i].name);
    free(img->syms);
    free(img->sites);
    free(img);
}
