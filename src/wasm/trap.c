/*
 * trap.c - turning hardware faults in guest memory into traps.
 *
 * Loads and stores carry no bounds checks: an out-of-bounds access touches
 * the guard region of its memory reservation (memory.c) and the kernel
 * sends SIGSEGV (or SIGBUS). The handler looks at the faulting thread's
 * innermost wasm_trap_frame; if the address lies in that frame's region it
 * jumps back to the frame's sigsetjmp with WASM_TRAP_OOB_MEMORY, and the
 * call returns a trap. Any other fault is not ours: it goes to the handler
 * that was installed before us, or, if there was none, the default action
 * runs and the process dies as it would have without wasp.
 *
 * The handler is installed with SA_NODEFER so the signal stays unblocked
 * after we jump out of it; that lets frames use sigsetjmp(jb, 0) and skip
 * a sigprocmask system call on every call into Wasm.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#include "wasm/internal.h"

static _Thread_local wasm_trap_frame *current;
/* the site noted by whatever raises a trap, and the published one */
static _Thread_local uint64_t noted = WASM_SITE_NONE, published = WASM_SITE_NONE;
static _Thread_local const wasm_module *published_module;
static struct sigaction prev_segv, prev_bus;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_errno;

static void chain(int sig, siginfo_t *info, void *uctx) {
    struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    /* No handler before us: restore the default and return, so the faulting
     * instruction runs again and the process dies with the real signal. */
    signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *info, void *uctx) {
    wasm_trap_frame *f = current;
    const uint8_t *addr = info->si_addr;
    if (f && addr >= f->lo && addr < f->hi) {
        /* where it faulted: compiled code's trap site (wasm_jit_site_at) */
        f->pc = (const void *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
        f->fp = (const void *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RBP];
        siglongjmp(f->jb, WASM_TRAP_OOB_MEMORY);
    }
    chain(sig, info, uctx);
}

static void install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) || sigaction(SIGBUS, &sa, &prev_bus))
        init_errno = errno ? errno : EINVAL;
}

bool wasm_trap_init(wasm_error *err) {
    pthread_once(&init_once, install);
    if (init_errno) {
        err->kind = WASM_ERR_LIMIT;
        snprintf(err->msg, sizeof err->msg, "cannot install the fault handler: %s",
                 strerror(init_errno));
        return false;
    }
    return true;
}

void wasm_trap_enter(wasm_trap_frame *f, const void *lo, const void *hi) {
    f->lo = lo;
    f->hi = hi;
    f->prev = current;
    current = f;
}

void wasm_trap_leave(wasm_trap_frame *f) {
    current = f->prev;
}

wasm_trap_frame *wasm_trap_current(void) {
    return current;
}

void wasm_trap_raise(wasm_trap_code code) {
    siglongjmp(current->jb, (int)code);
}

wasm_trap_frame *wasm_trap_swap(wasm_trap_frame *f) {
    wasm_trap_frame *old = current;
    current = f;
    return old;
}

void wasm_trap_note_site(uint64_t site) {
    noted = site;
}

uint64_t wasm_trap_take_site(void) {
    uint64_t s = noted;
    noted = WASM_SITE_NONE;
    return s;
}

/* The defined function of `m` whose body holds byte `offset`, or 0. */
static uint32_t func_at(const wasm_module *m, uint32_t offset) {
    uint32_t lo = m->nfunc_imports, hi = m->nfuncs; /* bodies in order of index */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->funcs[mid].body_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->nfunc_imports) return 0;
    const wasm_func *f = &m->funcs[lo - 1];
    return offset - f->body_offset < f->body_size ? lo - 1 : 0;
}

void wasm_trap_forget_site(void) {
    noted = published = WASM_SITE_NONE;
    published_module = NULL;
    wasm_stack_forget();
}

wasm_trap_site wasm_site_of(const wasm_module *m, uint64_t site) {
    if (site >> 32 == 0 && m) site |= (uint64_t)func_at(m, (uint32_t)site) << 32;
    return (wasm_trap_site){m, (uint32_t)(site >> 32), (uint32_t)site};
}

void wasm_trap_publish_site(const wasm_module *m, uint64_t site) {
    wasm_stack_publish();
    if (site == WASM_SITE_NONE) return;
    /* compiled code's: the offset alone */
    if (site >> 32 == 0 && m) site |= (uint64_t)func_at(m, (uint32_t)site) << 32;
    published = site;
    published_module = m;
}

bool wasm_last_trap_site(wasm_trap_site *site) {
    if (published == WASM_SITE_NONE) return false;
    site->module = published_module;
    site->func = (uint32_t)(published >> 32);
    site->offset = (uint32_t)published;
    return true;
}

const char *wasm_trap_site_text(const wasm_trap_site *site, char *buf, size_t len) {
    const wasm_module *m = site->module;
    const wasm_name *n = m && site->func < m->nfuncs ? &m->funcs[site->func].debug_name : NULL;
    char name[220];
    if (n && n->len)
        snprintf(name, sizeof name, "$%.*s", (int)(n->len > 200 ? 200 : n->len), n->str);
    else
        snprintf(name, sizeof name, "func[%u]", site->func);
    if (site->offset == WASM_OFFSET_UNKNOWN)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s at offset 0x%x", name, site->offset);
    return buf;
}

const char *wasm_backtrace_text(const wasm_trap_site *frames, size_t n, const char *sep, char *buf,
                                size_t len) {
    size_t at = 0;
    if (len) buf[0] = 0;
    for (size_t i = 0; i < n && len; i++) {
        char one[300];
        wasm_trap_site_text(&frames[i], one, sizeof one);
        int k = snprintf(buf + at, len - at, "%s%s", i ? sep : "", one);
        if (k < 0 || (size_t)k >= len - at) {
            if (len >= 4) memcpy(buf + len - 4, "...", 4);
            break;
        }
        at += (size_t)k;
    }
    return buf;
}

const char *wasm_trap_message(wasm_trap_code code) {
    switch (code) {
    case WASM_TRAP_NONE: return "no trap";
    case WASM_TRAP_UNREACHABLE: return "unreachable";
    case WASM_TRAP_OOB_MEMORY: return "out of bounds memory access";
    case WASM_TRAP_OOB_TABLE: return "out of bounds table access";
    case WASM_TRAP_DIV_ZERO: return "integer divide by zero";
    case WASM_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_TRAP_BAD_CONVERSION: return "invalid conversion to integer";
    case WASM_TRAP_UNDEFINED_ELEMENT: return "undefined element";
    case WASM_TRAP_NULL_CALL: return "uninitialized element";
    case WASM_TRAP_SIGNATURE_MISMATCH: return "indirect call type mismatch";
    case WASM_TRAP_NULL_REFERENCE: return "null reference";
    case WASM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    case WASM_TRAP_INTERRUPTED: return "interrupted: deadline exceeded";
    case WASM_TRAP_FUEL_EXHAUSTED: return "fuel exhausted";
    case WASM_TRAP_HOST: return "host function error";
    case WASM_TRAP_EXIT: return "exit";
    }
    return "trap";
}
