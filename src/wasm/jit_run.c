/*
 * jit_run.c - the native tier at run time: a module's compiled object
 * loaded and bound to its functions (wasm_module_compile_native), and the
 * runtime helpers compiled code calls by name.
 *
 * Compiled code runs on the caller's stack inside the trap frame of the
 * wasm_interp_call that entered it (interp.c): a fault in guest memory and
 * an explicit trap (wasm_jit_trap) both jump there, as the interpreter's
 * do. Nothing in compiled frames needs cleaning up on the way out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasm/internal.h"

/* This file is built with frame pointers (Makefile): the helpers below
 * that trap find the compiled caller's frame pointer where their own
 * frame saved it, for the backtrace. */
static const void *caller_fp(const void *own_frame) {
    return *(const void *const *)own_frame;
}

/* Notes the backtrace of a trap raised in compiled code of ctx's instance
 * at `site` in the function whose frame pointer is `fp`. */
static void note_stack(const wasm_jit_ctx *ctx, uint64_t site, const void *pc, const void *fp) {
    wasm_trap_site frames[WASM_BACKTRACE_MAX];
    size_t n = wasm_stack_native(ctx->inst->module, site, pc, fp, frames, WASM_BACKTRACE_MAX);
    wasm_stack_note(frames, n);
}

void wasm_jit_trap(wasm_jit_ctx *ctx, uint32_t code, uint64_t site, const void *fp) {
    wasm_trap_note_site(site);
    /* the call's instruction: a noreturn call may end its function */
    note_stack(ctx, site, (const uint8_t *)__builtin_return_address(0) - 1, fp);
    wasm_trap_raise((wasm_trap_code)code);
}

void wasm_jit_call(wasm_jit_ctx *ctx, wasm_instance *caller, const wasm_funcinst *f,
                   wasm_cell *cells) {
    wasm_trap_code t;
    if (wasm_jit_runs(f)) {
        /* compiled code of another instance: its memory's faults are traps */
        wasm_trap_frame *tf = wasm_trap_current();
        if (f->inst != caller) {
            wasm_trap_frame_range(tf, f->inst);
            wasm_jit_enter(ctx, f->inst);
        }
        f->entry(ctx, f->inst, f->native, cells);
        if (f->inst != caller) {
            wasm_trap_frame_range(tf, caller);
            /* the caller's interruption may have poked the callee's checks */
            wasm_jit_enter(ctx, caller);
        }
        return;
    }
    wasm_exec_set_fuel(ctx->fuel);
    if (f->host)
        t = wasm_interp_call_host(f, caller, cells);
    else
        t = wasm_interp_call(f, cells, NULL);
    /* a host function may have suspended this stack: the thread's check
     * point moved meanwhile; and the fuel the callee used is taken */
    wasm_jit_ctx_init(ctx);
    wasm_jit_enter(ctx, caller);
    if (t != WASM_TRAP_NONE) {
        /* from this frame: its return address is in the calling function,
         * whose site is not known here */
        note_stack(ctx, WASM_SITE_NONE, NULL, __builtin_frame_address(0));
        wasm_trap_raise(t);
    }
}

uint32_t wasm_jit_memory_grow(wasm_instance *inst, uint32_t delta) {
    /* the interpreter's rule: an owned memory grows only under the cap */
    if (inst->mem == &inst->own_mem && !wasm_instance_fits(inst, (uint64_t)delta * WASM_PAGE_SIZE))
        return UINT32_MAX;
    return (uint32_t)wasm_memory_grow(inst->mem, delta);
}

uint64_t wasm_jit_bulk(wasm_instance *inst, uint32_t op, uint32_t imm0, uint32_t imm1, uint64_t a,
                       uint64_t b, uint64_t c) {
    switch ((wasm_op)op) {
    case WASM_OP_MEMORY_FILL:
        return wasm_bulk_memory_fill(inst, (uint32_t)a, (uint32_t)b, (uint32_t)c);
    case WASM_OP_MEMORY_COPY:
        return wasm_bulk_memory_copy(inst, (uint32_t)a, (uint32_t)b, (uint32_t)c);
    case WASM_OP_MEMORY_INIT:
        return wasm_bulk_memory_init(inst, imm0, (uint32_t)a, (uint32_t)b, (uint32_t)c);
    case WASM_OP_DATA_DROP: inst->data_dropped[imm0] = 1; return WASM_TRAP_NONE;
    case WASM_OP_ELEM_DROP: inst->elem_dropped[imm0] = 1; return WASM_TRAP_NONE;
    case WASM_OP_TABLE_GROW:
        return wasm_bulk_table_grow(inst, imm0, (void *)(uintptr_t)a, (uint32_t)b);
    case WASM_OP_TABLE_FILL:
        return wasm_bulk_table_fill(inst, imm0, (uint32_t)a, (void *)(uintptr_t)b, (uint32_t)c);
    case WASM_OP_TABLE_COPY:
        return wasm_bulk_table_copy(inst, imm0, imm1, (uint32_t)a, (uint32_t)b, (uint32_t)c);
    case WASM_OP_TABLE_INIT:
        return wasm_bulk_table_init(inst, imm0, imm1, (uint32_t)a, (uint32_t)b, (uint32_t)c);
    default: return WASM_TRAP_UNREACHABLE; /* the compiler sends no other */
    }
}

void wasm_jit_call_indirect(wasm_jit_ctx *ctx, wasm_instance *inst, uint32_t table, uint32_t type,
                            uint32_t index, wasm_cell *cells, uint64_t site) {
    const wasm_table_obj *t = inst->tables[table];
    const wasm_funcinst *f = index < t->size ? t->elems[index] : NULL;
    wasm_trap_code bad = index >= t->size ? WASM_TRAP_UNDEFINED_ELEMENT
                         : !f             ? WASM_TRAP_NULL_CALL
                         : !wasm_functype_eq(f->type, &inst->module->types[type])
                             ? WASM_TRAP_SIGNATURE_MISMATCH
                             : WASM_TRAP_NONE;
    if (bad != WASM_TRAP_NONE) wasm_jit_trap(ctx, bad, site, caller_fp(__builtin_frame_address(0)));
    wasm_jit_call(ctx, inst, f, cells);
}

/* The slow path of compiled code's checks, which it calls in LLVM's
 * `preserve_most` convention (JIT_CHECK_CC): the thunk keeps every
 * general-purpose register the C convention would let wasm_jit_check
 * clobber (r11 is the convention's scratch; vector registers are the
 * caller's to save, as in C), so that a loop with a check in it keeps its
 * values in any register across the call that is almost never made,
 * instead of spilling them around it. It aligns the stack for the C call:
 * eight pushes on top of the return address. wasm_jit_check may also not
 * return (a trap) or return on this stack after a fiber switch; both are
 * fine here. GCC has no preserve_most attribute, hence assembly. The
 * return address into compiled code goes along as the fourth argument,
 * for the function that holds the check (stack.c). */
__asm__(".text\n"
        ".p2align 4\n"
        ".type wasm_jit_check_thunk, @function\n"
        "wasm_jit_check_thunk:\n"
        "  push %rax\n  push %rcx\n  push %rdx\n  push %rsi\n"
        "  push %rdi\n  push %r8\n  push %r9\n  push %r10\n"
        "  sub $8, %rsp\n"
        "  mov 72(%rsp), %rcx\n" /* the return address into compiled code */
        "  call wasm_jit_check\n"
        "  add $8, %rsp\n"
        "  pop %r10\n  pop %r9\n  pop %r8\n  pop %rdi\n"
        "  pop %rsi\n  pop %rdx\n  pop %rcx\n  pop %rax\n"
        "  ret\n"
        ".size wasm_jit_check_thunk, .-wasm_jit_check_thunk\n");
void wasm_jit_check_thunk(void);

/* What compiled code may refer to besides itself. LLVM may also call the
 * C library's memory and rounding functions where it has no instruction
 * for an operation on the target CPU. */
static const wasm_jit_symbol *symbols(size_t *n) {
    static const wasm_jit_symbol table[] = {
        {"wasm_jit_trap", (void *)wasm_jit_trap},
        {"wasm_jit_call", (void *)wasm_jit_call},
        {"wasm_jit_memory_grow", (void *)wasm_jit_memory_grow},
        {"wasm_jit_check", (void *)wasm_jit_check_thunk},
        {"wasm_jit_bulk", (void *)wasm_jit_bulk},
        {"wasm_jit_call_indirect", (void *)wasm_jit_call_indirect},
        {"memcpy", (void *)memcpy},
        {"memmove", (void *)memmove},
        {"memset", (void *)memset},
        {"ceilf", (void *)ceilf},
        {"floorf", (void *)floorf},
        {"truncf", (void *)truncf},
        {"rintf", (void *)rintf},
        {"nearbyintf", (void *)nearbyintf},
        {"roundevenf", (void *)roundevenf},
        {"sqrtf", (void *)sqrtf},
        {"ceil", (void *)ceil},
        {"floor", (void *)floor},
        {"trunc", (void *)trunc},
        {"rint", (void *)rint},
        {"nearbyint", (void *)nearbyint},
        {"roundeven", (void *)roundeven},
        {"sqrt", (void *)sqrt},
    };
    *n = sizeof table / sizeof table[0];
    return table;
}

/* With WASP_PERF_MAP=1 in the environment, the compiled functions'
 * addresses, sizes and names are appended to /tmp/perf-<pid>.map, where
 * `perf report` looks for the symbols of code generated at run time
 * (linux tools/perf/Documentation/jit-interface.txt): names from the name
 * section, else func[N]. */
static void write_perf_map(const wasm_module *m, const wasm_jit_image *img) {
    const char *on = getenv("WASP_PERF_MAP");
    if (!on || strcmp(on, "1") != 0) return;
    char path[64];
    snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
    FILE *f = fopen(path, "a");
    if (!f) return; /* a profiling aid: no map, no harm */
    char name[32];
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        size_t size;
        snprintf(name, sizeof name, "wasm_f%u", i);
        void *at = wasm_jit_find_sized(img, name, &size);
        const wasm_name *n = &m->funcs[i].debug_name;
        if (!at) continue;
        if (n->len)
            fprintf(f, "%lx %zx wasm:%.*s\n", (unsigned long)(uintptr_t)at, size,
                    (int)(n->len > 200 ? 200 : n->len), n->str);
        else
            fprintf(f, "%lx %zx wasm:func[%u]\n", (unsigned long)(uintptr_t)at, size, i);
    }
    fclose(f);
}

static int range_cmp(const void *a, const void *b) {
    uintptr_t x = ((const struct wasm_jit_range *)a)->lo,
              y = ((const struct wasm_jit_range *)b)->lo;
    return x < y ? -1 : x > y;
}

uint32_t wasm_jit_func_at(const wasm_module_impl *mi, const void *pc) {
    uintptr_t at = (uintptr_t)pc;
    size_t lo = 0, hi = mi->nranges;
    while (lo < hi) { /* the first range starting past pc */
        size_t mid = lo + (hi - lo) / 2;
        if (mi->ranges[mid].lo <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || at >= mi->ranges[lo - 1].hi) return UINT32_MAX;
    return mi->ranges[lo - 1].func;
}

/* Loads object `obj` and binds it to `m`'s defined functions; takes `obj`
 * (malloc'd), which the module keeps for wasm_module_native_save. */
bool wasm_jit_bind(wasm_module *m, uint8_t *obj, size_t len, uint32_t flags, wasm_error *err) {
    wasm_module_impl *mi = wasm_impl(m);
    size_t nsym;
    const wasm_jit_symbol *syms = symbols(&nsym);
    wasm_jit_image *img = wasm_jit_load(obj, len, syms, nsym, err);
    if (!img) {
        free(obj);
        return false;
    }
    uint32_t ndefined = m->nfuncs - m->nfunc_imports;
    void **natives = calloc(ndefined ? ndefined : 1, sizeof *natives);
    wasm_jit_entry *entries = calloc(ndefined ? ndefined : 1, sizeof *entries);
    struct wasm_jit_range *ranges = calloc(ndefined ? ndefined : 1, sizeof *ranges);
    bool ok = natives && entries && ranges;
    char name[32];
    for (uint32_t i = 0; ok && i < ndefined; i++) {
        uint32_t f = m->nfunc_imports + i;
        snprintf(name, sizeof name, "wasm_f%u", f);
        natives[i] = wasm_jit_find(img, name);
        snprintf(name, sizeof name, "wasm_e%u", m->funcs[f].type);
        *(void **)&entries[i] = wasm_jit_find(img, name);
        if (!natives[i] || !entries[i]) {
            err->kind = WASM_ERR_LIMIT;
            snprintf(err->msg, sizeof err->msg,
                     "the native tier's object lacks the code of function %u", f);
            ok = false;
        }
    }
    if (!ok) {
        if (!err->msg[0]) {
            err->kind = WASM_ERR_NOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        free(natives);
        free(entries);
        free(ranges);
        wasm_jit_unload(img);
        free(obj);
        return false;
    }
    for (uint32_t i = 0; i < ndefined; i++) {
        size_t size;
        snprintf(name, sizeof name, "wasm_f%u", m->nfunc_imports + i);
        wasm_jit_find_sized(img, name, &size);
        ranges[i] = (struct wasm_jit_range){(uintptr_t)natives[i], (uintptr_t)natives[i] + size,
                                            m->nfunc_imports + i};
    }
    qsort(ranges, ndefined, sizeof *ranges, range_cmp);
    write_perf_map(m, img);
    mi->ranges = ranges;
    mi->nranges = ndefined;
    mi->jit = img;
    mi->entries = entries;
    mi->jit_obj = obj;
    mi->jit_obj_len = len;
    mi->jit_flags = flags;
    __atomic_store_n(&mi->natives, natives, __ATOMIC_RELEASE); /* last: see internal.h */
    return true;
}

bool wasm_module_compile_native(wasm_module *m, wasm_error *err) {
    return wasm_module_compile_native_ex(m, WASM_NATIVE_FUEL, err);
}

bool wasm_module_compile_native_ex(wasm_module *m, uint32_t flags, wasm_error *err) {
    memset(err, 0, sizeof *err);
    wasm_module_impl *mi = wasm_impl(m);
    if (wasm_module_natives(mi)) {
        if (mi->jit_flags == flags) return true;
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "the module already has native code with other flags");
        return false;
    }
    if (flags & ~(uint32_t)WASM_NATIVE_FUEL) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "unknown native tier flags 0x%x", (unsigned)flags);
        return false;
    }
    if (!mi->codes) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg,
                 "the native tier compiles loaded modules only (wasm_module_load)");
        return false;
    }
    uint8_t *obj;
    size_t len;
    if (!wasm_jit_compile(m, flags, &obj, &len, err)) return false;
    return wasm_jit_bind(m, obj, len, flags, err);
}

bool wasm_module_is_native(const wasm_module *m) {
    return wasm_module_natives(wasm_impl(m)) != NULL;
}

uint32_t wasm_module_native_flags(const wasm_module *m) {
    return wasm_impl((wasm_module *)m)->jit_flags;
}

bool wasm_jit_runs(const wasm_funcinst *f) {
    return f->native &&
           (!wasm_exec_fuel_budget() || (wasm_impl(f->inst->module)->jit_flags & WASM_NATIVE_FUEL));
}
