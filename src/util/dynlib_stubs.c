/*
 * dynlib_stubs.c - in build/wasp only: each function of the libraries
 * that wasp opens when serving (dynlib.h lists them; util.h says why they
 * are not linked), defined under its own name as a jump through the slot
 * that util_dynlib_load fills (dynlib.c). Code that calls
 * curl_easy_setopt or PQsendQuery reads and compiles as if libcurl and
 * libpq were linked.
 *
 * Why here, in util/: the callers are in host/ and server/, and a layer
 * may only lean on the layers below it. Why not in libwasp.a: the unit
 * tests, fuzz targets and benchmarks link libwasp.a together with the
 * libraries themselves, and a stub there would take the function's name
 * from the real one. The Makefile links this file into build/wasp and
 * build/asan/wasp alone.
 *
 * A stub is the whole function: no prologue, no frame, nothing touched but
 * r11, a scratch register in which the x86-64 System V ABI passes nothing
 * and which no caller expects kept. So every argument register, the stack
 * and %al of a variadic call (curl_easy_setopt, sqlite3_db_config) reach
 * the library exactly as the caller left them, and the library returns
 * straight to the caller. A slot still empty sends the stub to
 * util_dynlib_unbound, which says which function was called too early and
 * aborts, rather than jumping to address 0.
 */
#include "util/dynlib.h"

#if !defined(__x86_64__)
#error "dynlib_stubs.c is written for x86-64; elsewhere link the libraries instead"
#endif

#define STUB(name)                                                                                 \
    __attribute__((naked)) void name(void) {                                                       \
        __asm__("movq util_dynlib_slot_" #name "(%rip), %r11\n\t"                                  \
                "testq %r11, %r11\n\t"                                                             \
                "jz 1f\n\t"                                                                        \
                "jmp *%r11\n"                                                                      \
                "1:\n\t"                                                                           \
                "leaq util_dynlib_slot_" #name "(%rip), %rdi\n\t"                                  \
                "jmp util_dynlib_unbound");                                                        \
    }
#define LIB_STUBS(bit, soname, package, use, FUNCS) FUNCS(STUB)
UTIL_DYNLIB_LIBS(LIB_STUBS)
