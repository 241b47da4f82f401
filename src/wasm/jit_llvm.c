/*
 * jit_llvm.c - LLVM for the native tier, loaded only when something must
 * be compiled (docs/design/native.md section 8).
 *
 * Why dlopen rather than linking: a process linked with libLLVM-19 starts
 * 17 ms later and 49 MB larger before main runs, whether or not it ever
 * compiles; wasp serving cached or interpreted code must not pay that. So
 * wasp is built against LLVM's C headers alone, and the first compile
 * opens libLLVM-19 (Debian's libllvm19) and takes the C API functions the
 * tier uses from it into one table, `wasm_llvm`. Each entry has the type
 * of the header's declaration, so every call is checked by the compiler
 * as a direct call would be.
 *
 * The table is filled once per process (pthread_once) and never freed:
 * libLLVM stays loaded once opened. A machine without it gets an error
 * that says what to install; the interpreter and cached code still run.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "wasm/jit_llvm.h"

/* Debian 12's libllvm19 provides the first; the others are what other
 * layouts call the same library. */
static const char *const llvm_names[] = {"libLLVM.so.19.1", "libLLVM-19.so", "libLLVM.so.19",
                                         "/usr/lib/llvm-19/lib/libLLVM.so.1"};

static wasm_llvm table;
static char load_error[200];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *lib = NULL;
    for (size_t i = 0; i < sizeof llvm_names / sizeof llvm_names[0] && !lib; i++)
        lib = dlopen(llvm_names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(load_error, sizeof load_error,
                 "the native tier needs LLVM 19 to compile, and libLLVM-19 cannot be loaded (%s): "
                 "apt-get install libllvm19",
                 dlerror());
        return;
    }
    /* dlsym's void * to a function pointer: POSIX guarantees it works */
#define X(name)                                                                                    \
    *(void **)&table.name = dlsym(lib, #name);                                                     \
    if (!table.name) {                                                                             \
        snprintf(load_error, sizeof load_error, "libLLVM-19 has no %s: not the LLVM 19 C API",     \
                 #name);                                                                           \
        return;                                                                                    \
    }
    WASM_LLVM_FUNCS(X)
#undef X
    table.LLVMInitializeX86TargetInfo();
    table.LLVMInitializeX86Target();
    table.LLVMInitializeX86TargetMC();
    table.LLVMInitializeX86AsmPrinter();
    /* x86's cmov converter turns a select of a loaded value into a branch
     * and moves the load into the branch that uses it: a guest load that
     * may trap must run on both (jit_compile.c, jit_load). The option is
     * LLVM's own, process-wide: nothing else in wasp uses LLVM. */
    static const char *const args[] = {"wasp", "-x86-cmov-converter=false"};
    table.LLVMParseCommandLineOptions(2, args, NULL);
    table.loaded = true;
}

const wasm_llvm *wasm_llvm_get(wasm_error *err) {
    pthread_once(&load_once, load);
    if (table.loaded) return &table;
    memset(err, 0, sizeof *err);
    err->kind = WASM_ERR_LIMIT;
    snprintf(err->msg, sizeof err->msg, "%s", load_error);
    return NULL;
}
