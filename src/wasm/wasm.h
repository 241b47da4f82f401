/*
 * wasm.h - the one public face of wasp's WebAssembly engine.
 *
 * The engine turns the bytes of a binary module into a wasm_module:
 *
 *     bytes --decode--> wasm_module --validate--> (valid) wasm_module
 *
 * wasm_module_load() does both. A module is immutable once loaded and may be
 * shared by any number of threads. Its description (types, imports, exports,
 * functions, tables, memories, globals, segments, custom sections) is
 * exposed below as read-only structs so that tools such as `wasp inspect`
 * need no private header. Nothing in this layer knows about WASI, HTTP or
 * files: callers hand in bytes.
 *
 * Errors are values: every function that can fail fills a wasm_error with
 * its kind, the byte offset in the module where it was found, and a message
 * a person can act on. Nothing here prints, aborts or exits.
 */
#ifndef WASP_WASM_H
#define WASP_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ----------------------------------------------------------- */

typedef enum {
    WASM_OK = 0,
    WASM_ERR_MALFORMED, /* the bytes are not a module (decoding failed) */
    WASM_ERR_INVALID,   /* a well-formed module that fails validation */
    WASM_ERR_NOMEM,     /* the engine ran out of memory */
    WASM_ERR_LIMIT,     /* beyond an implementation limit of wasp */
    WASM_ERR_LINK,      /* instantiation: an import is missing or has the wrong type */
    WASM_ERR_TRAP,      /* instantiation: a segment or the start function trapped */
} wasm_errkind;

typedef struct wasm_error {
    wasm_errkind kind;
    size_t offset; /* byte offset in the module where the error was found */
    char msg[256]; /* e.g. "unexpected end of section or function" */
    int trap;      /* a wasm_trap_code when kind is WASM_ERR_TRAP */
} wasm_error;

/* "malformed", "invalid", ... for messages. */
const char *wasm_errkind_name(wasm_errkind k);

/* ---- traps ------------------------------------------------------------ */

/* Why a call into WebAssembly stopped early. A trap is an expected outcome
 * of running untrusted code, reported as a value; it never crashes wasp. */
typedef enum {
    WASM_TRAP_NONE = 0,
    WASM_TRAP_UNREACHABLE,        /* `unreachable` executed */
    WASM_TRAP_OOB_MEMORY,         /* load/store/bulk op outside linear memory */
    WASM_TRAP_OOB_TABLE,          /* table access outside the table */
    WASM_TRAP_DIV_ZERO,           /* integer division or remainder by zero */
    WASM_TRAP_INT_OVERFLOW,       /* signed division overflow */
    WASM_TRAP_BAD_CONVERSION,     /* float-to-int of NaN or out of range */
    WASM_TRAP_UNDEFINED_ELEMENT,  /* call_indirect past the end of the table */
    WASM_TRAP_NULL_CALL,          /* call_indirect through a null entry */
    WASM_TRAP_SIGNATURE_MISMATCH, /* call_indirect with the wrong type */
    WASM_TRAP_NULL_REFERENCE,     /* use of a null reference */
    WASM_TRAP_STACK_EXHAUSTED,    /* call depth or value stack exhausted */
    WASM_TRAP_INTERRUPTED,        /* deadline passed or wasm_interrupt() */
    WASM_TRAP_FUEL_EXHAUSTED,     /* the fuel budget ran out */
    WASM_TRAP_HOST,               /* a host function reported an error */
    WASM_TRAP_EXIT,               /* the guest asked to exit (WASI proc_exit) */
} wasm_trap_code;

/* The spec's wording for a trap, e.g. "out of bounds memory access". */
const char *wasm_trap_message(wasm_trap_code code);

/* Where a call trapped: the function (its index in the module's function
 * index space, imports first) and the trapping instruction's byte offset
 * in the module's binary, as `wasm-objdump -d` shows it, or
 * WASM_OFFSET_UNKNOWN where only the function is known. */
#define WASM_OFFSET_UNKNOWN UINT32_MAX
typedef struct wasm_trap_site {
    const struct wasm_module *module;
    uint32_t func;
    uint32_t offset;
} wasm_trap_site;

/* The place of the trap that ended the last outermost call on this thread
 * (wasm_call, wasm_call_ex): in the innermost Wasm function that was
 * running, in either tier. False when that call did not trap or the place
 * is not known (a trap outside Wasm code: a host function's, a stack
 * exhausted before the first instruction). Read it right after the call. */
bool wasm_last_trap_site(wasm_trap_site *site);

/* `site` as text in buf: "$name at offset 0x3e" (the name from the
 * module's name section, else "func[N]"; without the offset when it is
 * not known). Returns buf. */
const char *wasm_trap_site_text(const wasm_trap_site *site, char *buf, size_t len);

/* ---- backtraces and samples of the Wasm stack ----------------------------- */

/* The most frames a backtrace or a sample keeps (the innermost ones). */
#define WASM_BACKTRACE_MAX 64

/* The Wasm stack of the trap that ended the last outermost call on this
 * thread, innermost frame first, in either tier: up to `max` frames into
 * `frames`, their number returned (0: no trap, or none known). The first
 * is the trap's site (wasm_last_trap_site); its callers carry their
 * function, and their offset where the tier knows it. A trap that went on
 * through a host function into an outer call lists the inner call's frames
 * first. Read it right after the call. */
size_t wasm_last_trap_backtrace(wasm_trap_site *frames, size_t max);
/* `frames` as one line in buf, each as wasm_trap_site_text writes it,
 * separated by `sep` (e.g. " <- "); cut short with "..." when buf is too
 * small. Returns buf. */
const char *wasm_backtrace_text(const wasm_trap_site *frames, size_t n, const char *sep, char *buf,
                                size_t len);

/* A sample of a thread's Wasm stack, innermost frame first (at most
 * WASM_BACKTRACE_MAX). Called on the thread that runs the guest, at one
 * of the engine's check points (loop back-edges and function entries): it
 * must be quick, must not call into Wasm, and may run on many threads at
 * once. */
typedef void (*wasm_sample_fn)(void *arg, const wasm_trap_site *frames, size_t n);

/* Starts sampling every thread's Wasm execution: each running call hands
 * `fn` its stack about every `period_ms` milliseconds (at least 1) of its
 * running time; calls already running start at their next call or time
 * slice. One sampler at a time: false when another is running. */
bool wasm_profile_start(uint32_t period_ms, wasm_sample_fn fn, void *arg);
/* Stops sampling; when it returns, `fn` runs nowhere and its `arg` may be
 * freed. */
void wasm_profile_stop(void);

/* ---- types ------------------------------------------------------------ */

/* Value types, numbered by their binary encoding. */
typedef uint8_t wasm_valtype;
enum {
    WASM_I32 = 0x7f,
    WASM_I64 = 0x7e,
    WASM_F32 = 0x7d,
    WASM_F64 = 0x7c,
    WASM_V128 = 0x7b,
    WASM_FUNCREF = 0x70,
    WASM_EXTERNREF = 0x6f,
};
/* "i32", "funcref", ...; "?" for anything else. */
const char *wasm_valtype_name(wasm_valtype t);

typedef struct wasm_functype {
    uint32_t nparams, nresults;
    const wasm_valtype *params;  /* nparams entries */
    const wasm_valtype *results; /* nresults entries */
} wasm_functype;

typedef struct wasm_limits {
    uint64_t min, max; /* max is meaningful only when has_max */
    bool has_max;
} wasm_limits;

typedef struct wasm_tabletype {
    wasm_valtype elem; /* WASM_FUNCREF or WASM_EXTERNREF */
    wasm_limits limits;
} wasm_tabletype;

typedef struct wasm_memtype {
    wasm_limits limits; /* in 64 KiB pages */
} wasm_memtype;

typedef struct wasm_globaltype {
    wasm_valtype type;
    bool mut;
} wasm_globaltype;

typedef enum {
    WASM_EXTERN_FUNC = 0,
    WASM_EXTERN_TABLE = 1,
    WASM_EXTERN_MEMORY = 2,
    WASM_EXTERN_GLOBAL = 3,
} wasm_externkind;
/* "func", "table", "memory", "global". */
const char *wasm_externkind_name(wasm_externkind k);

/* A name from the module: UTF-8, not necessarily free of NUL bytes, so the
 * length is authoritative. `str` is NUL-terminated for convenience. */
typedef struct wasm_name {
    const char *str;
    uint32_t len;
} wasm_name;

/* A constant expression (global initialisers, segment offsets, element
 * items): the raw, validated instruction bytes up to and including `end`. */
typedef struct wasm_constexpr {
    const uint8_t *code;
    uint32_t len;
    uint32_t offset; /* where it starts in the module */
} wasm_constexpr;

/* ---- module description ----------------------------------------------- */

typedef struct wasm_import {
    wasm_name module, name;
    wasm_externkind kind;
    union {
        uint32_t func_type; /* type index, for WASM_EXTERN_FUNC */
        wasm_tabletype table;
        wasm_memtype memory;
        wasm_globaltype global;
    } desc;
} wasm_import;

typedef struct wasm_export {
    uint32_t offset; /* of this entry in the module, for messages */
    wasm_name name;
    wasm_externkind kind;
    uint32_t index; /* into the index space of its kind (imports first) */
} wasm_export;

/* Every function of the module's index space, imports first. */
typedef struct wasm_func {
    uint32_t type;        /* index into wasm_module.types */
    bool imported;        /* then body_* are zero */
    uint32_t body_offset; /* start of the body (its local declarations) */
    uint32_t body_size;   /* bytes, from body_offset, ending with `end` */
    wasm_name debug_name; /* from the `name` custom section, if any */
} wasm_func;

typedef struct wasm_global {
    wasm_globaltype type;
    bool imported;
    wasm_constexpr init; /* empty for imported globals */
} wasm_global;

typedef enum {
    WASM_SEG_ACTIVE = 0,
    WASM_SEG_PASSIVE = 1,
    WASM_SEG_DECLARATIVE = 2, /* elements only */
} wasm_segmode;

typedef struct wasm_elem {
    wasm_segmode mode;
    wasm_valtype type;     /* WASM_FUNCREF or WASM_EXTERNREF */
    uint32_t table;        /* active only */
    wasm_constexpr offset; /* active only */
    uint32_t count;
    /* Exactly one of these is set: function indices (the compact encoding)
     * or one constant expression per item. */
    const uint32_t *funcs;
    const wasm_constexpr *exprs;
} wasm_elem;

typedef struct wasm_data {
    wasm_segmode mode;
    uint32_t memory;       /* active only */
    wasm_constexpr offset; /* active only */
    const uint8_t *bytes;
    uint32_t len;
} wasm_data;

typedef struct wasm_custom {
    wasm_name name;
    uint32_t offset; /* of the section's payload, after the name */
    uint32_t size;   /* of that payload */
} wasm_custom;

/* A decoded module. All fields are read-only for callers and live until
 * wasm_module_free(). Index spaces put imports first, so funcs[0..
 * nfunc_imports) are the imported functions, and likewise for tables,
 * memories and globals. */
typedef struct wasm_module {
    const uint8_t *bytes; /* the module's own copy of its binary */
    size_t size;

    uint32_t ntypes;
    const wasm_functype *types;
    uint32_t nimports;
    const wasm_import *imports;
    uint32_t nfuncs, nfunc_imports;
    const wasm_func *funcs;
    uint32_t ntables, ntable_imports;
    const wasm_tabletype *tables;
    uint32_t nmemories, nmemory_imports;
    const wasm_memtype *memories;
    uint32_t nglobals, nglobal_imports;
    const wasm_global *globals;
    uint32_t nexports;
    const wasm_export *exports;
    bool has_start;
    uint32_t start;
    uint32_t nelems;
    const wasm_elem *elems;
    bool has_data_count;
    uint32_t data_count;
    uint32_t ndatas;
    const wasm_data *datas;
    uint32_t ncustoms;
    const wasm_custom *customs;
    wasm_name module_name; /* from the `name` section; len 0 if none */
    /* Where each section starts (its id byte), indexed by section id
     * (0 custom: the first one; 12 data count); 0 when absent. For
     * messages about a whole section's contents. */
    uint32_t section_offset[13];

    bool validated; /* set by wasm_module_validate() on success */
} wasm_module;

/* ---- loading ---------------------------------------------------------- */

/* Decodes `len` bytes into a module. The bytes are copied; the caller keeps
 * ownership of its buffer. Returns the module (free it with
 * wasm_module_free) or NULL with *err filled: WASM_ERR_MALFORMED for bytes
 * that are not a well-formed binary module, WASM_ERR_NOMEM, WASM_ERR_LIMIT.
 * The module is not yet validated. */
wasm_module *wasm_module_decode(const uint8_t *bytes, size_t len, wasm_error *err);

/* Validates a decoded module with the spec's algorithm (every function
 * body, constant expressions, limits, exports, start, data count, element
 * references). Returns true when valid; otherwise false with *err filled
 * (WASM_ERR_INVALID, or WASM_ERR_MALFORMED for a body whose instruction
 * bytes cannot be decoded, or WASM_ERR_NOMEM). */
bool wasm_module_validate(wasm_module *m, wasm_error *err);

/* Decode then validate: NULL with *err filled on any failure. */
wasm_module *wasm_module_load(const uint8_t *bytes, size_t len, wasm_error *err);

/* The native tier: compiles the defined functions of loaded module `m` to
 * machine code with LLVM (loaded the first time it is needed); instances
 * created afterwards run that code, the ones before keep the interpreter
 * (wasm_instance_adopt_native switches them). False with *err when the
 * module stays interpreted: WASM_ERR_LIMIT when the tier does not take the
 * module yet (naming the first instruction it does not compile) or LLVM
 * cannot be loaded, WASM_ERR_NOMEM. Other threads may instantiate and run
 * the module meanwhile; only one thread may compile or load its code.
 *
 * `flags` of the _ex form: WASM_NATIVE_FUEL compiles the fuel count of
 * wasm_call_opts.fuel into every check point, as the interpreter counts
 * it. Without it the code is faster (a call-heavy function runs about a
 * third faster here) and a call made with a fuel budget runs this
 * module's functions in the interpreter instead, so that the budget holds
 * either way. wasm_module_compile_native is the _ex form with
 * WASM_NATIVE_FUEL. */
enum { WASM_NATIVE_FUEL = 1u << 0 };
bool wasm_module_compile_native_ex(wasm_module *m, uint32_t flags, wasm_error *err);
bool wasm_module_compile_native(wasm_module *m, wasm_error *err);
/* Whether `m` has native code (compiled or loaded). Safe to ask while
 * another thread binds it. */
bool wasm_module_is_native(const wasm_module *m);
/* The WASM_NATIVE_* flags its native code was compiled with. */
uint32_t wasm_module_native_flags(const wasm_module *m);

/* The native code as a cache entry (jit_cache.c): the object with a header
 * that binds it to this build of wasp, this CPU, these module bytes and
 * the WASM_NATIVE_* flags, and a digest. wasm_module_native_save fills
 * *entry (malloc'd, the caller frees it) for a module compiled in this
 * process. wasm_module_native_load gives `m` the code of an entry instead
 * of compiling it; an entry from another build, CPU or module, compiled
 * with other flags than `flags`, or a damaged one, is refused (false,
 * WASM_ERR_LIMIT, the message says which) and nothing of it is loaded.
 * Call it where wasm_module_compile_native could be called. */
bool wasm_module_native_save(const wasm_module *m, uint8_t **entry, size_t *len, wasm_error *err);
bool wasm_module_native_load(wasm_module *m, const uint8_t *entry, size_t len, uint32_t flags,
                             wasm_error *err);
/* SHA-256 of the module's bytes: what names its cache entry. */
void wasm_module_hash(const wasm_module *m, uint8_t out[32]);

/* Frees the module and everything it points to. NULL is allowed. */
void wasm_module_free(wasm_module *m);

/* Looks up an export by name; NULL when there is none. */
const wasm_export *wasm_module_find_export(const wasm_module *m, const char *name);

/* ---- execution ---------------------------------------------------------- */

/* A value crossing the host boundary. Floats travel as raw bits so NaN
 * payloads survive. A funcref is an opaque handle (NULL = null); an
 * externref is whatever pointer the host chose (NULL = null). */
typedef struct wasm_value {
    wasm_valtype type;
    union {
        uint32_t i32;
        uint64_t i64;
        uint32_t f32;
        uint64_t f64;
        uint8_t v128[16];
        void *ref;
    } of;
} wasm_value;

typedef struct wasm_instance wasm_instance;
typedef struct wasm_linker wasm_linker;

/* A function, table, memory or global that can be imported or exported.
 * `obj` is opaque and belongs to the instance or linker that made it. */
typedef struct wasm_extern {
    wasm_externkind kind;
    void *obj;
} wasm_extern;

/* A host function. `args` holds the parameters, `results` must be filled
 * with the results (types as declared). `caller` is the instance whose code
 * made the call (NULL when called from the host), for memory access.
 * Returns WASM_TRAP_NONE, or a trap code that ends the guest's call. */
typedef wasm_trap_code (*wasm_host_fn)(void *env, wasm_instance *caller, const wasm_value *args,
                                       wasm_value *results);

/* A linker maps (module, name) pairs to externs for instantiation. It owns
 * the host functions, memories, tables and globals defined in it, so it
 * must outlive every instance created with it. Definitions with the same
 * (module, name) replace earlier ones. All wasm_linker_* return false only
 * when out of memory (or, for memories, when the reservation fails), with
 * *err filled. */
wasm_linker *wasm_linker_new(void);
void wasm_linker_free(wasm_linker *l);
bool wasm_linker_func(wasm_linker *l, const char *module, const char *name, uint32_t nparams,
                      const wasm_valtype *params, uint32_t nresults, const wasm_valtype *results,
                      wasm_host_fn fn, void *env, wasm_error *err);
/* One host function of a table given to wasm_linker_funcs, in the manner
 * of Lua's luaL_Reg: its import name, its signature as "params>results"
 * ('i' i32, 'I' i64, 'f' f32, 'F' f64; "iI>i" takes an i32 and an i64 and
 * returns an i32), its code. Every guest import of wasp (WASI, the handler
 * ABI, each capability) is registered through such a table. */
typedef struct wasm_host_func {
    const char *name;
    const char *sig;
    wasm_host_fn fn;
} wasm_host_func;
/* Defines the n functions of `fs` under `module`, each called with `env`.
 * False with *err when out of memory, or (WASM_ERR_LINK) for a signature
 * that does not parse, naming the function: a mistake in the table. */
bool wasm_linker_funcs(wasm_linker *l, const char *module, const wasm_host_func *fs, size_t n,
                       void *env, wasm_error *err);
bool wasm_linker_memory(wasm_linker *l, const char *module, const char *name, uint32_t min,
                        uint32_t max, bool has_max, wasm_error *err);
bool wasm_linker_table(wasm_linker *l, const char *module, const char *name, wasm_valtype elem,
                       uint32_t min, uint32_t max, bool has_max, wasm_error *err);
bool wasm_linker_global(wasm_linker *l, const char *module, const char *name, wasm_value init,
                        bool mut, wasm_error *err);
/* Caps the memory of every instance created with this linker at
 * `max_pages` 64 KiB pages: memory.grow fails beyond it, and a module
 * whose memory starts larger fails to instantiate (WASM_ERR_LIMIT).
 * 0 (the default) means the module's own maximum, or 4 GiB. */
void wasm_linker_limit_memory(wasm_linker *l, uint32_t max_pages);
/* Whether import `i` of module `m` would resolve against `l` at
 * instantiation (a definition of that name, kind and type); if not, *why
 * is "unknown import" or "incompatible import type". */
bool wasm_linker_resolves(const wasm_linker *l, const wasm_module *m, uint32_t i, const char **why);

/* Defines every export of `inst` under `module` (the spec's `register`).
 * `inst` must outlive the instances that import from it. */
bool wasm_linker_instance(wasm_linker *l, const char *module, wasm_instance *inst, wasm_error *err);

/* Instantiates a validated module: resolves imports through `l` (may be
 * NULL when there are none), allocates memories, tables and globals,
 * applies the segments and runs the start function. Returns the instance,
 * or NULL with *err: WASM_ERR_LINK naming the import that is missing or
 * does not match, WASM_ERR_TRAP (err->trap set) when a segment was out of
 * bounds or the start function trapped - segments applied before that
 * stay applied, as the spec says, and the half-made instance then lives
 * on in the linker, since imported tables may refer to its functions - or
 * WASM_ERR_NOMEM. */
wasm_instance *wasm_instance_new(const wasm_module *m, wasm_linker *l, wasm_error *err);
void wasm_instance_free(wasm_instance *inst);
/* Gives an instance made before its module had native code that code:
 * from the next call on its functions run it (its exports and tables
 * included). True when it switched; false when it already ran native code
 * or the module has none yet. Call it between calls, on the thread that
 * runs the instance; the module's code may have been bound by another
 * thread meanwhile (a server compiling in the background). */
bool wasm_instance_adopt_native(wasm_instance *inst);

/* ---- snapshots: instances in microseconds --------------------------------
 *
 * A snapshot is the state of an instance at one moment - memory 0 (kept in
 * a sealed memfd), its own globals and tables, which segments are dropped
 * - from which identical instances are made and to which they are put
 * back. wasp serve takes one after instantiation and pre-initialisation,
 * then serves every request from an instance reset to it:
 *
 *   inst = wasm_snapshot_instantiate(snap, linker, &err);   once per slot
 *   ... wasm_call(...) ...                                   one request
 *   wasm_snapshot_reset(snap, inst);                         back to clean
 *
 * Memory is a private copy-on-write mapping of the image, so making or
 * resetting an instance costs only the pages a request touched, never a
 * copy of the whole memory. Neither the start function nor the segments
 * run again. A module that imports a memory or a table cannot be
 * snapshotted (that state is not its own); imported globals are left
 * as they are. */
typedef struct wasm_snapshot wasm_snapshot;

/* Captures `inst`, which must not be running. NULL with *err
 * (WASM_ERR_LINK when the module imports a memory or table or a table
 * holds a function of another instance, WASM_ERR_NOMEM) otherwise. The
 * snapshot refers to inst's module, which must outlive it; `inst` itself
 * may be freed. */
wasm_snapshot *wasm_snapshot_take(wasm_instance *inst, wasm_error *err);
void wasm_snapshot_free(wasm_snapshot *s);
/* Bytes of memory the snapshot holds (its memory size). */
uint64_t wasm_snapshot_memory_size(const wasm_snapshot *s);
/* A new instance in the snapshot's state, its imports resolved through
 * `l` (so host functions may be bound to other contexts than the
 * original's). NULL with *err as for wasm_instance_new (no trap can
 * happen: nothing runs). The linker's memory cap applies: a snapshot
 * larger than it fails with WASM_ERR_LIMIT. */
wasm_instance *wasm_snapshot_instantiate(const wasm_snapshot *s, wasm_linker *l, wasm_error *err);
/* Puts an instance made by wasm_snapshot_instantiate(s, ...) back into
 * the snapshot's state, whatever its calls did (including trapping).
 * False only if the kernel refuses to discard pages; the instance must
 * then be freed, not reused. */
bool wasm_snapshot_reset(const wasm_snapshot *s, wasm_instance *inst);
/* The same, with the 4 KiB pages of memory the calls since the last
 * reset wrote (and the reset restored or dropped) in *pages. */
bool wasm_snapshot_reset_counted(const wasm_snapshot *s, wasm_instance *inst, uint64_t *pages);

/* Looks up an export of the instance; false when there is none. The _n
 * form takes a length, for names that hold NUL bytes. */
bool wasm_instance_export(wasm_instance *inst, const char *name, wasm_extern *out);
bool wasm_instance_export_n(wasm_instance *inst, const char *name, size_t len, wasm_extern *out);

/* The type of a function extern. */
const wasm_functype *wasm_func_type(wasm_extern fn);

/* Calls a function extern with `args` (as many as its parameters, of its
 * types) and stores its results in `results`. Returns WASM_TRAP_NONE or
 * the trap that stopped it; nothing the guest does can crash the caller.
 * Only one call may run on an instance at a time. */
wasm_trap_code wasm_call(wasm_extern fn, const wasm_value *args, wasm_value *results);

/* Limits for one call. A deadline is measured on an engine-wide epoch
 * clock that ticks every millisecond (a thread started on first use) and
 * checked at function entries and loop headers, so even a tight infinite
 * loop stops within about a millisecond of it with WASM_TRAP_INTERRUPTED.
 * Fuel counts function entries and loop iterations; running out gives
 * WASM_TRAP_FUEL_EXHAUSTED. Zero means no limit for either. Calls that
 * the guest makes back into Wasm through host functions share them. */
typedef struct wasm_call_opts {
    uint32_t deadline_ms;
    uint64_t fuel;
} wasm_call_opts;
wasm_trap_code wasm_call_ex(wasm_extern fn, const wasm_value *args, wasm_value *results,
                            const wasm_call_opts *opts);

/* The fuel the last outermost call on this thread used when it ran with a
 * budget (wasm_call_opts.fuel): function entries and loop iterations. */
uint64_t wasm_last_call_fuel(void);

/* One host call, as an observer sees it: its import's module and name
 * (the calling module's), when it started (CLOCK_MONOTONIC, ns) and how
 * long it took, waits included; its first result as an i64 (0 when it
 * returns nothing) and the trap it returned. */
typedef struct wasm_host_call {
    const wasm_name *module, *name;
    uint64_t start_ns, ns;
    int64_t result;
    wasm_trap_code trap;
} wasm_host_call;
typedef void (*wasm_host_observer)(void *arg, const wasm_host_call *call);
/* Watches the host functions that Wasm calls on this thread's current
 * stack (a fiber keeps its own observer: wasm_fiber.h's switches carry
 * it): after each, fn gets the call. NULL stops it. For tools and request
 * timelines: it costs two clock reads and a lookup a call. */
void wasm_observe_host_calls(wasm_host_observer fn, void *arg);

/* Asks the call running on `inst` (from any thread) to stop: it traps
 * with WASM_TRAP_INTERRUPTED at its next function entry or loop header.
 * The request is consumed by that trap, or by the next call's start. */
void wasm_interrupt(wasm_instance *inst);

/* For host functions that wait (a sleep, a database, a remote server):
 * the milliseconds left before the deadline of the call running on this
 * thread, 0 once it has passed, or -1 when the call has no deadline. A
 * host call must not wait past it; when it has passed, returning
 * WASM_TRAP_INTERRUPTED ends the guest's call as the deadline would have.
 * Called outside any call, it returns -1. */
int64_t wasm_call_time_left_ms(void);

/* True when the call running on `inst` should stop now: its deadline has
 * passed or wasm_interrupt() asked for it. The request is not consumed
 * (the trap that follows consumes it). For host functions that poll.
 * `inst` NULL means the instance of the innermost call running on this
 * thread (false when none runs), for host code that is not handed one. */
bool wasm_call_should_stop(const wasm_instance *inst);

/* Ends every call running in the process, and every call started later,
 * at its next check with WASM_TRAP_INTERRUPTED, as if each one's deadline
 * had passed (host calls that wait see it too: wasm_call_time_left_ms()
 * returns 0). For a process that is shutting down and must not wait for
 * its guests any longer; it cannot be undone. Costs the running calls
 * nothing until it is used: it moves the epoch they compare with. */
void wasm_interrupt_all(void);
/* True once wasm_interrupt_all() was called. */
bool wasm_epoch_ended(void);

/* ---- fibers: calls that can wait ----------------------------------------
 *
 * A fiber is a stack of its own (a machine stack and the interpreter's,
 * each behind a guard page, committed only where touched) on which a
 * function runs until it returns or suspends. A host function called by a
 * guest running on a fiber may call wasm_fiber_suspend(): the whole call -
 * guest frames, host frames - stops there, the wasm_fiber_start or
 * wasm_fiber_resume that ran the fiber returns false, and the thread goes on
 * with other work until it resumes the fiber, on the same thread. Deadlines,
 * interruption, traps and stack limits hold on every fiber as on a
 * thread's own stack. Fibers are reusable: once finished, a fiber can be
 * started again with another function (keep a pool: making one maps its
 * stacks). A fiber is used by one thread at a time and never moves between
 * threads while suspended. */
typedef struct wasm_fiber wasm_fiber;
typedef void (*wasm_fiber_fn)(void *arg);
/* Machine stack of a fiber when none is asked for: deep enough for the
 * host's libraries (libcurl, libpq, SQLite) under a guest's host calls. */
#define WASM_FIBER_STACK (1u << 20)
/* A new fiber with a machine stack of `stack_size` bytes (0: the default),
 * or NULL with *err (WASM_ERR_NOMEM) when the stacks cannot be mapped. */
wasm_fiber *wasm_fiber_new(size_t stack_size, wasm_error *err);
/* Unmaps a fiber that is not suspended (finished, or never started). */
void wasm_fiber_free(wasm_fiber *f);
/* Runs fn(arg) on `f` from a thread's own stack (never from inside a
 * fiber); `f` must not be suspended. True when fn returned, false when it
 * suspended. */
bool wasm_fiber_start(wasm_fiber *f, wasm_fiber_fn fn, void *arg);
/* Continues a suspended fiber where it suspended, from a thread's own
 * stack; true when its function has now returned. */
bool wasm_fiber_resume(wasm_fiber *f);
/* Suspends the fiber the caller runs on; returns when it is resumed. Only
 * for code running on a fiber (it aborts otherwise: a bug, not a state). */
void wasm_fiber_suspend(void);
/* The fiber the caller runs on, or NULL on a thread's own stack. */
wasm_fiber *wasm_fiber_current(void);
/* True when the fiber's function has returned (or it never started). */
bool wasm_fiber_done(const wasm_fiber *f);
/* Gives guest calls that run on `f` (from its next start on) a time slice
 * of `ms` milliseconds (0: none, the default): a call that has run that
 * long without suspending yields at its next check point (a loop header or
 * a function entry), as if it had suspended, so that one busy guest cannot
 * keep its thread from the others; resumed, it gets a new slice. The
 * deadline still counts all the time, yields included. */
void wasm_fiber_set_slice(wasm_fiber *f, uint32_t ms);
/* True when the fiber's last suspension was the end of its time slice
 * (resume it when the others had their turn) rather than a wait. */
bool wasm_fiber_yielded(const wasm_fiber *f);

/* Reads or writes a global extern (set ignores mutability: host only). */
wasm_value wasm_global_get(wasm_extern g);
void wasm_global_set(wasm_extern g, wasm_value v);

/* The bytes of a memory extern and their number. */
uint8_t *wasm_memory_data(wasm_extern mem, uint64_t *size);

/* Memory 0 of an instance, for host functions; NULL and *size 0 when it
 * has none. */
uint8_t *wasm_instance_memory(wasm_instance *inst, uint64_t *size);

/* The bytes [ptr, ptr+len) of `caller`'s memory 0, for host functions; NULL
 * when the caller is NULL, has no memory, or any byte is out of bounds (the
 * host function then traps with WASM_TRAP_OOB_MEMORY or answers EFAULT).
 * The pointer is good until the guest runs again (memory.grow may move
 * nothing, but a later call may trap and reset the instance). */
uint8_t *wasm_guest_bytes(wasm_instance *caller, uint32_t ptr, uint32_t len);

#endif
