/*
 * test_jit_llvm.c - the native tier's pipeline end to end on a small
 * function: libLLVM-19 loaded with dlopen (jit_llvm.c), IR built through
 * the table, optimised with the new pass manager (default<O2>), emitted as
 * position-independent code for the small code model as the tier emits
 * it, loaded by wasp's own loader (jit_load.c) with a host function bound
 * by name (called through the loader's stub), and called. When
 * libLLVM-19 is missing the test fails, saying what to install.
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wasm/jit_llvm.h"

static int64_t host_add(int64_t a, int64_t b) {
    return a + b + 1000;
}

/* i64 wasp_test(i64 a, i64 b) = host_add(a * b, a) + b */
static LLVMModuleRef build(const wasm_llvm *L, LLVMContextRef C) {
    LLVMModuleRef M = L->LLVMModuleCreateWithNameInContext("test", C);
    LLVMTypeRef i64 = L->LLVMInt64TypeInContext(C);
    LLVMTypeRef ft = L->LLVMFunctionType(i64, (LLVMTypeRef[]){i64, i64}, 2, 0);
    LLVMValueRef f = L->LLVMAddFunction(M, "wasp_test", ft);
    LLVMValueRef host = L->LLVMAddFunction(M, "host_add", ft);
    LLVMBuilderRef B = L->LLVMCreateBuilderInContext(C);
    L->LLVMPositionBuilderAtEnd(B, L->LLVMAppendBasicBlockInContext(C, f, "entry"));
    LLVMValueRef a = L->LLVMGetParam(f, 0), b = L->LLVMGetParam(f, 1);
    LLVMValueRef p = L->LLVMBuildMul(B, a, b, "p");
    LLVMValueRef r = L->LLVMBuildCall2(B, ft, host, (LLVMValueRef[]){p, a}, 2, "r");
    L->LLVMBuildRet(B, L->LLVMBuildAdd(B, r, b, "s"));
    L->LLVMDisposeBuilder(B);
    return M;
}

TEST(jit_llvm_compiles_loads_and_runs) {
    wasm_error err;
    const wasm_llvm *L = wasm_llvm_get(&err);
    if (!L) {
        unit_fail(__FILE__, __LINE__, "%s (bash scripts/setup.sh installs llvm-19-dev)", err.msg);
        return;
    }
    CHECK(wasm_llvm_get(&err) == L); /* loaded once */
    LLVMContextRef C = L->LLVMContextCreate();
    LLVMModuleRef M = build(L, C);
    char *msg = NULL;
    CHECK(!L->LLVMVerifyModule(M, LLVMReturnStatusAction, &msg));
    L->LLVMDisposeMessage(msg);
    char *triple = L->LLVMGetDefaultTargetTriple();
    LLVMTargetRef T;
    msg = NULL;
    REQUIRE(!L->LLVMGetTargetFromTriple(triple, &T, &msg));
    char *cpu = L->LLVMGetHostCPUName(), *features = L->LLVMGetHostCPUFeatures();
    LLVMTargetMachineRef TM = L->LLVMCreateTargetMachine(
        T, triple, cpu, features, LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelSmall);
    L->LLVMSetTarget(M, triple);
    LLVMTargetDataRef DL = L->LLVMCreateTargetDataLayout(TM);
    L->LLVMSetModuleDataLayout(M, DL);
    LLVMPassBuilderOptionsRef po = L->LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = L->LLVMRunPasses(M, "default<O2>", TM, po);
    if (e) {
        char *m = L->LLVMGetErrorMessage(e);
        unit_fail(__FILE__, __LINE__, "passes: %s", m);
        L->LLVMDisposeErrorMessage(m);
    }
    LLVMMemoryBufferRef obj = NULL;
    msg = NULL;
    CHECK(!L->LLVMTargetMachineEmitToMemoryBuffer(TM, M, LLVMObjectFile, &msg, &obj));
    L->LLVMDisposeMessage(msg);
    if (obj) {
        size_t len = L->LLVMGetBufferSize(obj);
        uint8_t *copy = aligned_alloc(8, (len + 7) & ~(size_t)7);
        memcpy(copy, L->LLVMGetBufferStart(obj), len);
        wasm_jit_symbol imports[] = {{"host_add", (void *)host_add}};
        wasm_jit_image *img = wasm_jit_load(copy, len, imports, 1, &err);
        if (!img) unit_fail(__FILE__, __LINE__, "load: %s", err.msg);
        int64_t (*fn)(int64_t, int64_t) =
            img ? (int64_t(*)(int64_t, int64_t))wasm_jit_find(img, "wasp_test") : NULL;
        if (fn) {
            CHECK_EQ_S64(fn(6, 7), 6 * 7 + 6 + 1000 + 7);
            CHECK_EQ_S64(fn(-3, 5), -15 - 3 + 1000 + 5);
        } else {
            unit_fail(__FILE__, __LINE__, "wasp_test not found in the loaded object");
        }
        wasm_jit_unload(img);
        free(copy);
        L->LLVMDisposeMemoryBuffer(obj);
    }
    L->LLVMDisposePassBuilderOptions(po);
    L->LLVMDisposeTargetData(DL);
    L->LLVMDisposeTargetMachine(TM);
    L->LLVMDisposeMessage(cpu);
    L->LLVMDisposeMessage(features);
    L->LLVMDisposeMessage(triple);
    L->LLVMDisposeModule(M);
    L->LLVMContextDispose(C);
}
