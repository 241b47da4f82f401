/*
 * jit_llvm.h - the LLVM C API as the native tier uses it: a table of the
 * functions it calls, filled from libLLVM-19 when first needed
 * (jit_llvm.c says why it is not linked). Only the native tier's files
 * include this; they call `L->LLVMBuildAdd(...)` where a linked program
 * would call `LLVMBuildAdd(...)`.
 */
#ifndef WASP_WASM_JIT_LLVM_H
#define WASP_WASM_JIT_LLVM_H

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "wasm/internal.h"

/* Every LLVM C API function the tier calls. A new one is added here. */
#define WASM_LLVM_FUNCS(X)                                                                         \
    X(LLVMInitializeX86TargetInfo)                                                                 \
    X(LLVMInitializeX86Target)                                                                     \
    X(LLVMInitializeX86TargetMC)                                                                   \
    X(LLVMInitializeX86AsmPrinter)                                                                 \
    X(LLVMContextCreate)                                                                           \
    X(LLVMContextDispose)                                                                          \
    X(LLVMModuleCreateWithNameInContext)                                                           \
    X(LLVMDisposeModule)                                                                           \
    X(LLVMSetTarget)                                                                               \
    X(LLVMSetModuleDataLayout)                                                                     \
    X(LLVMVerifyModule)                                                                            \
    X(LLVMDisposeMessage)                                                                          \
    X(LLVMInt1TypeInContext)                                                                       \
    X(LLVMInt8TypeInContext)                                                                       \
    X(LLVMIntTypeInContext)                                                                        \
    X(LLVMInt32TypeInContext)                                                                      \
    X(LLVMInt64TypeInContext)                                                                      \
    X(LLVMPointerTypeInContext)                                                                    \
    X(LLVMVoidTypeInContext)                                                                       \
    X(LLVMFunctionType)                                                                            \
    X(LLVMAddFunction)                                                                             \
    X(LLVMGetParam)                                                                                \
    X(LLVMAppendBasicBlockInContext)                                                               \
    X(LLVMCreateBuilderInContext)                                                                  \
    X(LLVMDisposeBuilder)                                                                          \
    X(LLVMPositionBuilderAtEnd)                                                                    \
    X(LLVMBuildAdd)                                                                                \
    X(LLVMBuildSub)                                                                                \
    X(LLVMBuildMul)                                                                                \
    X(LLVMBuildAnd)                                                                                \
    X(LLVMBuildOr)                                                                                 \
    X(LLVMBuildXor)                                                                                \
    X(LLVMBuildShl)                                                                                \
    X(LLVMBuildAShr)                                                                               \
    X(LLVMBuildLShr)                                                                               \
    X(LLVMBuildICmp)                                                                               \
    X(LLVMBuildZExt)                                                                               \
    X(LLVMBuildSExt)                                                                               \
    X(LLVMBuildTrunc)                                                                              \
    X(LLVMBuildSelect)                                                                             \
    X(LLVMBuildAlloca)                                                                             \
    X(LLVMBuildLoad2)                                                                              \
    X(LLVMBuildInBoundsGEP2)                                                                       \
    X(LLVMBuildStore)                                                                              \
    X(LLVMBuildPhi)                                                                                \
    X(LLVMAddIncoming)                                                                             \
    X(LLVMBuildBr)                                                                                 \
    X(LLVMBuildCondBr)                                                                             \
    X(LLVMBuildUnreachable)                                                                        \
    X(LLVMBuildCall2)                                                                              \
    X(LLVMBuildRet)                                                                                \
    X(LLVMBuildRetVoid)                                                                            \
    X(LLVMGetInsertBlock)                                                                          \
    X(LLVMBasicBlockAsValue)                                                                       \
    X(LLVMGetFirstUse)                                                                             \
    X(LLVMConstInt)                                                                                \
    X(LLVMTypeOf)                                                                                  \
    X(LLVMLookupIntrinsicID)                                                                       \
    X(LLVMGetIntrinsicDeclaration)                                                                 \
    X(LLVMIntrinsicGetType)                                                                        \
    X(LLVMGetDefaultTargetTriple)                                                                  \
    X(LLVMGetTargetFromTriple)                                                                     \
    X(LLVMGetHostCPUName)                                                                          \
    X(LLVMGetHostCPUFeatures)                                                                      \
    X(LLVMCreateTargetMachine)                                                                     \
    X(LLVMDisposeTargetMachine)                                                                    \
    X(LLVMCreateTargetDataLayout)                                                                  \
    X(LLVMDisposeTargetData)                                                                       \
    X(LLVMCreatePassBuilderOptions)                                                                \
    X(LLVMDisposePassBuilderOptions)                                                               \
    X(LLVMRunPasses)                                                                               \
    X(LLVMGetErrorMessage)                                                                         \
    X(LLVMDisposeErrorMessage)                                                                     \
    X(LLVMTargetMachineEmitToMemoryBuffer)                                                         \
    X(LLVMGetBufferStart)                                                                          \
    X(LLVMGetBufferSize)                                                                           \
    X(LLVMFloatTypeInContext)                                                                      \
    X(LLVMDoubleTypeInContext)                                                                     \
    X(LLVMBuildFAdd)                                                                               \
    X(LLVMBuildFSub)                                                                               \
    X(LLVMBuildFMul)                                                                               \
    X(LLVMBuildFDiv)                                                                               \
    X(LLVMBuildFNeg)                                                                               \
    X(LLVMBuildFCmp)                                                                               \
    X(LLVMBuildSDiv)                                                                               \
    X(LLVMBuildUDiv)                                                                               \
    X(LLVMBuildSRem)                                                                               \
    X(LLVMBuildURem)                                                                               \
    X(LLVMBuildSIToFP)                                                                             \
    X(LLVMBuildUIToFP)                                                                             \
    X(LLVMBuildFPToSI)                                                                             \
    X(LLVMBuildFPToUI)                                                                             \
    X(LLVMBuildFPExt)                                                                              \
    X(LLVMBuildFPTrunc)                                                                            \
    X(LLVMBuildBitCast)                                                                            \
    X(LLVMBuildGEP2)                                                                               \
    X(LLVMBuildSwitch)                                                                             \
    X(LLVMAddCase)                                                                                 \
    X(LLVMSetVolatile)                                                                             \
    X(LLVMSetAlignment)                                                                            \
    X(LLVMIsALoadInst)                                                                             \
    X(LLVMMDStringInContext2)                                                                      \
    X(LLVMMDNodeInContext2)                                                                        \
    X(LLVMMetadataAsValue)                                                                         \
    X(LLVMGetEnumAttributeKindForName)                                                             \
    X(LLVMCreateEnumAttribute)                                                                     \
    X(LLVMCreateStringAttribute)                                                                   \
    X(LLVMAddAttributeAtIndex)                                                                     \
    X(LLVMAddGlobal)                                                                               \
    X(LLVMBuildIntToPtr)                                                                           \
    X(LLVMBuildPtrToInt)                                                                           \
    X(LLVMBuildNot)                                                                                \
    X(LLVMConstReal)                                                                               \
    X(LLVMGetEntryBasicBlock)                                                                      \
    X(LLVMPositionBuilderBefore)                                                                   \
    X(LLVMGetFirstInstruction)                                                                     \
    X(LLVMBuildArrayAlloca)                                                                        \
    X(LLVMDumpModule)                                                                              \
    X(LLVMConstNull)                                                                               \
    X(LLVMGetInlineAsm)                                                                            \
    X(LLVMIsConstant)                                                                              \
    X(LLVMIsAFPExtInst)                                                                            \
    X(LLVMIsAFPTruncInst)                                                                          \
    X(LLVMSetTailCallKind)                                                                         \
    X(LLVMGetOperand)                                                                              \
    X(LLVMDisposeMemoryBuffer)                                                                     \
    X(LLVMVectorType)                                                                              \
    X(LLVMIsACastInst)                                                                             \
    X(LLVMIsAShuffleVectorInst)                                                                    \
    X(LLVMIsAInsertElementInst)                                                                    \
    X(LLVMIsAAllocaInst)                                                                           \
    X(LLVMGetNumOperands)                                                                          \
    X(LLVMBuildShuffleVector)                                                                      \
    X(LLVMBuildExtractElement)                                                                     \
    X(LLVMBuildInsertElement)                                                                      \
    X(LLVMConstVector)                                                                             \
    X(LLVMGetPoison)                                                                               \
    X(LLVMConstAllOnes)                                                                            \
    X(LLVMBuildBinOp)                                                                              \
    X(LLVMGetTypeKind)                                                                             \
    X(LLVMIsACallInst)                                                                             \
    X(LLVMIsAInlineAsm)                                                                            \
    X(LLVMGetCalledValue)                                                                          \
    X(LLVMSetFunctionCallConv)                                                                     \
    X(LLVMSetVisibility)                                                                           \
    X(LLVMSetInstructionCallConv)                                                                  \
    X(LLVMAddCallSiteAttribute)                                                                    \
    X(LLVMGetFirstFunction)                                                                        \
    X(LLVMGetNextFunction)                                                                         \
    X(LLVMGetFirstBasicBlock)                                                                      \
    X(LLVMGetNextBasicBlock)                                                                       \
    X(LLVMGetNextInstruction)                                                                      \
    X(LLVMReplaceAllUsesWith)                                                                      \
    X(LLVMInstructionEraseFromParent)                                                              \
    X(LLVMDeleteFunction)                                                                          \
    X(LLVMGetNamedFunction)                                                                        \
    X(LLVMParseCommandLineOptions)                                                                 \
    X(LLVMGetMDKindIDInContext)                                                                    \
    X(LLVMSetMetadata)

typedef struct wasm_llvm {
#define X(name) __typeof__(&name) name;
    WASM_LLVM_FUNCS(X)
#undef X
    bool loaded;
} wasm_llvm;

/* The table, libLLVM-19 loaded and its x86 target initialised on the
 * first call (thread-safe); NULL with *err (WASM_ERR_LIMIT, saying what
 * to install) when the library cannot be loaded or lacks a function. */
const wasm_llvm *wasm_llvm_get(wasm_error *err);

#endif
