/*
 * compile.c - validated function bodies -> internal code for interp.c.
 *
 * The compiler rides the validator's single pass (wasm_validate_body hooks)
 * and turns the stack machine into a register machine over frame cells,
 * the way WAMR's fast interpreter and wasm3 do:
 *
 *   - every Wasm operand-stack position has a fixed "home" cell in the
 *     frame (locals first, then the stack's temporaries), so each internal
 *     instruction names its operands and result as cell indices;
 *   - local.get and constants cost nothing: they push a descriptor whose
 *     source is the local's cell or a constant-pool cell, and the consumer
 *     reads it directly. A descriptor is copied to its home ("materialized")
 *     only when it must be: before the local it names is overwritten, and at
 *     control-flow joins and calls;
 *   - local.set of a value computed by the previous instruction rewrites
 *     that instruction's destination instead of emitting a copy;
 *   - branch targets are resolved to code offsets (forward ones through a
 *     patch list threaded through the code itself).
 *
 * Frame layout: [params+locals | temporaries | constants | if-param saves].
 * The constant and save areas are placed after the body is compiled, when
 * the temporaries' high-water mark is known; their uses are relocated then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

#define NONE UINT32_MAX

enum { K_STACK, K_LOCAL, K_CONST };
enum { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE };
enum { RELOC_CONST = 0, RELOC_SAVE = 1u << 31 };

typedef struct centry {
    uint32_t home; /* the cell this stack position owns */
    uint32_t src;  /* where the value is now: home, a local cell, a constant */
    uint8_t kind;
    wasm_valtype type;
} centry;

typedef struct cctrl {
    uint8_t kind;
    bool live_entry; /* reachable when entered */
    bool dead;       /* the rest of this block is unreachable */
    uint32_t height; /* stack entries below the block's params */
    uint32_t base;   /* temporaries' cells below the block's params */
    uint32_t nparams, nresults;
    const wasm_valtype *params, *results;
    uint32_t start_pc;   /* loop: where branches go */
    uint32_t patches;    /* forward branches waiting for the end */
    uint32_t else_patch; /* if: the false branch's target word */
    uint32_t save;       /* if with params: their saved copy */
} cctrl;

typedef struct compiler {
    const wasm_module *m;
    wasm_error *err;
    const wasm_functype *ft;
    uint32_t *ops;
    uint32_t nops, cap;
    centry *stack;
    uint32_t nstack, scap;
    uint32_t cells, max_cells; /* temporaries in use, and their high water */
    cctrl *ctrls;
    uint32_t nctrls, ccap;
    uint32_t *local_cell;
    const wasm_valtype *local_type;
    uint32_t nlocals, nlocal_cells;
    wasm_cell *consts;
    uint32_t nconsts, const_cap;
    uint32_t nsave;
    uint32_t *relocs;
    uint32_t nrelocs, rcap;
    uint32_t last_dst; /* position of the previous instruction's result word */
    uint32_t last_op;  /* position of the previous numeric instruction's opcode */
} compiler;

static bool nomem(compiler *c) {
    if (c->err->kind == WASM_OK) {
        c->err->kind = WASM_ERR_NOMEM;
        snprintf(c->err->msg, sizeof c->err->msg, "out of memory compiling");
    }
    return false;
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap) return true;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, (size_t)ncap * size);
    if (!np) return false;
    *p = np;
    *cap = ncap;
    return true;
}

static bool emit(compiler *c, uint32_t w) {
    if (!grow((void **)&c->ops, &c->cap, c->nops + 1, sizeof *c->ops)) return nomem(c);
    c->ops[c->nops++] = w;
    return true;
}

static bool reloc(compiler *c, uint32_t kind) {
    if (!grow((void **)&c->relocs, &c->rcap, c->nrelocs + 1, sizeof *c->relocs)) return nomem(c);
    c->relocs[c->nrelocs++] = c->nops | kind;
    return true;
}

/* Emits an operand: the cell the value is read from. */
static bool emit_src(compiler *c, const centry *e) {
    if (e->kind == K_CONST && !reloc(c, RELOC_CONST)) return false;
    return emit(c, e->src);
}

static bool push(compiler *c, wasm_valtype t, uint8_t kind, uint32_t src) {
    if (!grow((void **)&c->stack, &c->scap, c->nstack + 1, sizeof *c->stack)) return nomem(c);
    uint32_t home = c->nlocal_cells + c->cells;
    c->stack[c->nstack++] = (centry){home, kind == K_STACK ? home : src, kind, t};
    c->cells += wasm_cells(t);
    if (c->cells > c->max_cells) c->max_cells = c->cells;
    return true;
}

/* Pushes the result of an instruction whose destination word is at `pos`. */
static bool push_result(compiler *c, wasm_valtype t) {
    return push(c, t, K_STACK, 0);
}

static centry pop(compiler *c) {
    centry e = c->stack[--c->nstack];
    c->cells -= wasm_cells(e.type);
    return e;
}

static uint32_t next_home(const compiler *c) {
    return c->nlocal_cells + c->cells;
}

static bool emit_move(compiler *c, uint32_t dst, const centry *from) {
    return emit(c, wasm_cells(from->type) == 2 ? WASM_IOP_MOV2 : WASM_IOP_MOV) && emit(c, dst) &&
           emit_src(c, from);
}

static bool materialize(compiler *c, uint32_t i) {
    centry *e = &c->stack[i];
    if (e->kind == K_STACK) return true;
    if (!emit_move(c, e->home, e)) return false;
    e->kind = K_STACK;
    e->src = e->home;
    return true;
}

static bool materialize_from(compiler *c, uint32_t first) {
    for (uint32_t i = first; i < c->nstack; i++)
        if (!materialize(c, i)) return false;
    return true;
}

static bool materialize_local(compiler *c, uint32_t cell) {
    for (uint32_t i = 0; i < c->nstack; i++)
        if (c->stack[i].kind == K_LOCAL && c->stack[i].src == cell && !materialize(c, i))
            return false;
    return true;
}

static bool add_const(compiler *c, wasm_valtype t, const void *bits) {
    uint32_t n = wasm_cells(t);
    wasm_cell v[2] = {0, 0};
    memcpy(v, bits, n == 2 ? 16 : 8);
    /* reuse a recent identical constant: loops repeat the same few */
    uint32_t lo = c->nconsts > 64 ? c->nconsts - 64 : 0;
    for (uint32_t i = lo; i + n <= c->nconsts; i++)
        if (c->consts[i] == v[0] && (n == 1 || c->consts[i + 1] == v[1]))
            return push(c, t, K_CONST, i);
    if (!grow((void **)&c->consts, &c->const_cap, c->nconsts + n, sizeof *c->consts))
        return nomem(c);
    memcpy(c->consts + c->nconsts, v, n * sizeof *v);
    c->nconsts += n;
    return push(c, t, K_CONST, c->nconsts - n);
}

/* ---- control ---------------------------------------------------------------- */

static bool push_ctrl(compiler *c, uint8_t kind, bool live, uint32_t np, const wasm_valtype *p,
                      uint32_t nr, const wasm_valtype *r) {
    if (!grow((void **)&c->ctrls, &c->ccap, c->nctrls + 1, sizeof *c->ctrls)) return nomem(c);
    uint32_t pcells = 0;
    for (uint32_t i = 0; i < np && live; i++)
        pcells += wasm_cells(p[i]);
    c->ctrls[c->nctrls++] = (cctrl){.kind = kind,
                                    .live_entry = live,
                                    .dead = !live,
                                    .height = live ? c->nstack - np : c->nstack,
                                    .base = live ? c->cells - pcells : c->cells,
                                    .nparams = np,
                                    .params = p,
                                    .nresults = nr,
                                    .results = r,
                                    .start_pc = NONE,
                                    .patches = NONE,
                                    .else_patch = NONE,
                                    .save = NONE};
    return true;
}

/* Emits a branch target word for ctrl `t`. */
static bool emit_target(compiler *c, cctrl *t) {
    if (t->kind == C_LOOP) return emit(c, t->start_pc);
    uint32_t pos = c->nops;
    if (!emit(c, t->patches)) return false;
    t->patches = pos;
    return true;
}

static void resolve(compiler *c, uint32_t list, uint32_t target) {
    while (list != NONE) {
        uint32_t next = c->ops[list];
        c->ops[list] = target;
        list = next;
    }
}

static void label_types(const cctrl *t, uint32_t *n, const wasm_valtype **types) {
    *n = t->kind == C_LOOP ? t->nparams : t->nresults;
    *types = t->kind == C_LOOP ? t->params : t->results;
}

/* Do the values a branch to `t` carries already sit in its homes? */
static bool branch_in_place(const compiler *c, const cctrl *t) {
    uint32_t n;
    const wasm_valtype *types;
    label_types(t, &n, &types);
    uint32_t dst = c->nlocal_cells + t->base;
    for (uint32_t i = c->nstack - n; i < c->nstack; i++) {
        const centry *e = &c->stack[i];
        if (e->kind != K_STACK || e->home != dst) return false;
        dst += wasm_cells(e->type);
    }
    return true;
}

/* Copies the branch values to the target's homes (ascending, so an
 * overlapping move down the stack is safe). */
static bool emit_branch_moves(compiler *c, const cctrl *t) {
    uint32_t n;
    const wasm_valtype *types;
    label_types(t, &n, &types);
    uint32_t dst = c->nlocal_cells + t->base;
    for (uint32_t i = c->nstack - n; i < c->nstack; i++) {
        const centry *e = &c->stack[i];
        if (!(e->kind == K_STACK && e->src == dst) && !emit_move(c, dst, e)) return false;
        dst += wasm_cells(e->type);
    }
    return true;
}

static bool emit_branch(compiler *c, cctrl *t) {
    return emit_branch_moves(c, t) && emit(c, WASM_IOP_JMP) && emit_target(c, t);
}

static void reset_stack(compiler *c, const cctrl *t, uint32_t n, const wasm_valtype *types) {
    c->nstack = t->height;
    c->cells = t->base;
    for (uint32_t i = 0; i < n; i++)
        push(c, types[i], K_STACK, 0);
}

static bool emit_return(compiler *c) {
    uint32_t n = c->ft->nresults, ncells = 0;
    if (!materialize_from(c, c->nstack - n)) return false;
    for (uint32_t i = 0; i < n; i++)
        ncells += wasm_cells(c->ft->results[i]);
    uint32_t src = n ? c->stack[c->nstack - n].home : 0;
    return emit(c, WASM_IOP_RET) && emit(c, src) && emit(c, ncells);
}

static bool do_end(compiler *c) {
    cctrl t = c->ctrls[--c->nctrls];
    if (!t.live_entry) return true;
    if (!t.dead && !materialize_from(c, c->nstack - t.nresults)) return false;
    if (t.kind == C_FUNC) { /* branches to the function's label return */
        resolve(c, t.patches, c->nops);
        reset_stack(c, &t, t.nresults, t.results);
        return emit_return(c);
    }
    resolve(c, t.else_patch, c->nops);
    resolve(c, t.patches, c->nops);
    reset_stack(c, &t, t.nresults, t.results);
    return true;
}

static bool do_else(compiler *c) {
    cctrl *t = &c->ctrls[c->nctrls - 1];
    if (!t->live_entry) {
        t->kind = C_ELSE;
        return true;
    }
    if (!t->dead) {
        if (!materialize_from(c, c->nstack - t->nresults)) return false;
        if (!emit(c, WASM_IOP_JMP) || !emit_target(c, t)) return false;
    }
    resolve(c, t->else_patch, c->nops);
    t->else_patch = NONE;
    reset_stack(c, t, t->nparams, t->params);
    /* the then-branch may have consumed the params: restore them */
    uint32_t save = t->save;
    for (uint32_t i = t->height; i < c->nstack; i++) {
        const centry *e = &c->stack[i];
        if (!emit(c, wasm_cells(e->type) == 2 ? WASM_IOP_MOV2 : WASM_IOP_MOV) ||
            !emit(c, e->home) || !reloc(c, RELOC_SAVE) || !emit(c, save))
            return false;
        save += wasm_cells(e->type);
    }
    t->kind = C_ELSE;
    t->dead = false;
    return true;
}

/* If `cond` is the result of the integer comparison just emitted (at
 * `prev_op`, writing `prev_dst`), turns that comparison into a
 * compare-and-branch taken when the comparison holds (or, with `negate`,
 * when it does not) and returns true; the caller then emits the target. */
static bool fuse_compare(compiler *c, const centry *cond, uint32_t prev_dst, uint32_t prev_op,
                         bool negate) {
    if (cond->kind != K_STACK || prev_dst == NONE || prev_op == NONE || prev_dst != prev_op + 1 ||
        c->ops[prev_dst] != cond->home)
        return false;
    static const struct {
        uint16_t op, br, negated;
    } fusable[] = {
#define X(id, field, cmp) {WASM_OP_##id, WASM_IOP_BR_##id, 0},
        WASM_FUSED_COMPARES(X)
#undef X
    };
    /* the negation of each comparison, by position in WASM_FUSED_COMPARES:
     * eq<->ne, lt<->ge, gt<->le (signedness kept) */
    static const uint8_t negation[] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
    uint32_t op = c->ops[prev_op];
    if (op == WASM_OP_I32_EQZ || op == WASM_OP_I64_EQZ) {
        bool is32 = op == WASM_OP_I32_EQZ;
        c->ops[prev_op] = negate ? (is32 ? WASM_IOP_BR_I32_NEZ : WASM_IOP_BR_I64_NEZ)
                                 : (is32 ? WASM_IOP_BR_I32_EQZ : WASM_IOP_BR_I64_EQZ);
        return true;
    }
    for (uint32_t i = 0; i < sizeof fusable / sizeof fusable[0]; i++) {
        if (fusable[i].op != op) continue;
        uint32_t k = negate ? (i / 10) * 10 + negation[i % 10] : i;
        c->ops[prev_op] = fusable[k].br;
        return true;
    }
    return false;
}

static bool do_block(compiler *c, const wasm_instr *ins, uint32_t prev_dst, uint32_t prev_op) {
    uint32_t np, nr;
    const wasm_valtype *p, *r;
    wasm_blocktype_types(c->m, &ins->imm.block, &np, &p, &nr, &r);
    if (c->ctrls[c->nctrls - 1].dead) return push_ctrl(c, C_BLOCK, false, np, p, nr, r);
    centry cond = {0};
    if (ins->op == WASM_OP_IF) cond = pop(c);
    uint32_t before = c->nops;
    if (!materialize_from(c, 0)) return false;
    uint8_t kind = ins->op == WASM_OP_BLOCK ? C_BLOCK : ins->op == WASM_OP_LOOP ? C_LOOP : C_IF;
    if (!push_ctrl(c, kind, true, np, p, nr, r)) return false;
    cctrl *t = &c->ctrls[c->nctrls - 1];
    if (kind == C_LOOP) {
        t->start_pc = c->nops;
        return emit(c, WASM_IOP_CHECK);
    }
    if (kind == C_IF) {
        if (np) { /* keep a copy of the params for the else branch */
            t->save = c->nsave;
            for (uint32_t i = t->height; i < c->nstack; i++) {
                const centry *e = &c->stack[i];
                if (!emit(c, wasm_cells(e->type) == 2 ? WASM_IOP_MOV2 : WASM_IOP_MOV) ||
                    !reloc(c, RELOC_SAVE) || !emit(c, c->nsave) || !emit(c, e->home))
                    return false;
                c->nsave += wasm_cells(e->type);
            }
        }
        /* a compare-and-branch may replace the compare only if nothing was
         * emitted between them: neither materialized values nor the
         * params' copy (its target word must follow the compare) */
        if (c->nops != before) prev_op = NONE;
        if (!fuse_compare(c, &cond, prev_dst, prev_op, true) &&
            (!emit(c, WASM_IOP_BR_UNLESS) || !emit_src(c, &cond)))
            return false;
        t->else_patch = c->nops;
        return emit(c, NONE);
    }
    return true;
}

static bool do_br_if(compiler *c, uint32_t depth, uint32_t prev_dst, uint32_t prev_op) {
    centry cond = pop(c);
    cctrl *t = &c->ctrls[c->nctrls - 1 - depth];
    if (branch_in_place(c, t)) {
        if (fuse_compare(c, &cond, prev_dst, prev_op, false)) return emit_target(c, t);
        return emit(c, WASM_IOP_BR_IF) && emit_src(c, &cond) && emit_target(c, t);
    }
    if (!fuse_compare(c, &cond, prev_dst, prev_op, true) &&
        (!emit(c, WASM_IOP_BR_UNLESS) || !emit_src(c, &cond)))
        return false;
    uint32_t skip = c->nops;
    if (!emit(c, NONE) || !emit_branch(c, t)) return false;
    c->ops[skip] = c->nops;
    return true;
}

static bool do_br_table(compiler *c, const wasm_instr *ins) {
    centry idx = pop(c);
    uint32_t n = ins->imm.br_table.ntargets;
    wasm_reader tr = {c->m->bytes, ins->imm.br_table.targets, c->m->bytes + c->m->size, c->err};
    if (!emit(c, WASM_IOP_BR_TABLE) || !emit_src(c, &idx) || !emit(c, n)) return false;
    uint32_t table = c->nops;
    uint32_t *depths = malloc(((size_t)n + 1) * sizeof *depths);
    if (!depths) return nomem(c);
    bool ok = true;
    for (uint32_t i = 0; i <= n && ok; i++) {
        wasm_read_u32(&tr, &depths[i]);
        ok = emit(c, NONE);
    }
    /* direct targets first, then a stub for each target needing moves */
    for (uint32_t i = 0; i <= n && ok; i++) {
        cctrl *t = &c->ctrls[c->nctrls - 1 - depths[i]];
        if (branch_in_place(c, t)) {
            if (t->kind == C_LOOP) {
                c->ops[table + i] = t->start_pc;
            } else {
                c->ops[table + i] = t->patches;
                t->patches = table + i;
            }
        } else {
            c->ops[table + i] = c->nops;
            ok = emit_branch(c, t);
        }
    }
    free(depths);
    return ok;
}

/* ---- calls ------------------------------------------------------------------- */

static bool do_call(compiler *c, const wasm_functype *ft, uint32_t op, uint32_t a, uint32_t b,
                    const centry *idx) {
    uint32_t first = c->nstack - ft->nparams;
    if (!materialize_from(c, first)) return false;
    uint32_t argslot = ft->nparams ? c->stack[first].home : next_home(c);
    uint32_t ncells = 0;
    for (uint32_t i = 0; i < ft->nparams; i++)
        ncells += wasm_cells(ft->params[i]);
    if (!emit(c, op) || !emit(c, a)) return false;
    if (idx && (!emit(c, b) || !emit_src(c, idx))) return false;
    if (!emit(c, argslot)) return false;
    if ((op == WASM_IOP_RETURN_CALL || op == WASM_IOP_RETURN_CALL_INDIRECT) && !emit(c, ncells))
        return false;
    for (uint32_t i = 0; i < ft->nparams; i++)
        pop(c);
    for (uint32_t i = 0; i < ft->nresults; i++)
        if (!push(c, ft->results[i], K_STACK, 0)) return false;
    return true;
}

/* ---- locals ------------------------------------------------------------------ */

static bool set_local(compiler *c, uint32_t x, const centry *v, uint32_t prev_dst,
                      bool keep_on_stack) {
    uint32_t cell = c->local_cell[x];
    if (v->kind == K_LOCAL && v->src == cell) return true;
    bool referenced = false;
    for (uint32_t i = 0; i < c->nstack; i++)
        if (c->stack[i].kind == K_LOCAL && c->stack[i].src == cell) referenced = true;
    if (!referenced && v->kind == K_STACK && prev_dst != NONE && c->ops[prev_dst] == v->home) {
        c->ops[prev_dst] = cell; /* the producer writes the local directly */
    } else {
        if (!materialize_local(c, cell)) return false;
        if (!emit(c, wasm_cells(v->type) == 2 ? WASM_IOP_MOV2 : WASM_IOP_MOV) || !emit(c, cell) ||
            !emit_src(c, v))
            return false;
    }
    if (keep_on_stack) {
        centry *top = &c->stack[c->nstack - 1];
        top->kind = K_LOCAL;
        top->src = cell;
    }
    return true;
}

/* ---- one instruction ---------------------------------------------------------- */

/* Emits `op dst operands...` for an instruction typed by its signature. */
static bool emit_sig_op(compiler *c, uint32_t op, const wasm_siginfo *s, uint32_t *dst_pos) {
    centry in[3];
    for (uint32_t i = s->nparams; i-- > 0;)
        in[i] = pop(c);
    c->last_op = c->nops;
    if (!emit(c, op)) return false;
    if (s->result) {
        *dst_pos = c->nops;
        if (!emit(c, next_home(c))) return false;
    }
    for (uint32_t i = 0; i < s->nparams; i++)
        if (!emit_src(c, &in[i])) return false;
    return !s->result || push_result(c, s->result);
}

/* The fused form of each scalar load and store, by Wasm opcode. */
static uint32_t fused_memory_op(wasm_op op) {
    switch (op) {
#define X(id)                                                                                      \
    case WASM_OP_##id: return WASM_IOP_X_##id;
        WASM_SCALAR_MEMORY_OPS(X)
#undef X
    default: return NONE;
    }
}

/* A scalar load or store. When its address is the i32.add just emitted,
 * the add is rewritten in place into the access (see
 * WASM_SCALAR_MEMORY_OPS): array indexing costs one dispatch less. */
static bool do_scalar_memory(compiler *c, const wasm_instr *ins, uint32_t prev_dst,
                             uint32_t prev_op) {
    const wasm_siginfo *s = &wasm_siginfo_table[wasm_opinfo_table[ins->op].sig];
    centry v = {0};
    if (!s->result) v = pop(c);
    centry a = pop(c);
    bool fuse = a.kind == K_STACK && prev_dst != NONE && prev_op != NONE &&
                prev_dst == prev_op + 1 && c->ops[prev_dst] == a.home &&
                c->ops[prev_op] == WASM_OP_I32_ADD;
    if (fuse) {
        /* [add dst x y] becomes [X_load dst x y offset] or [X_store x y v offset] */
        c->ops[prev_op] = fused_memory_op(ins->op);
        if (s->result) {
            c->ops[prev_dst] = next_home(c);
            c->last_dst = prev_dst;
            return emit(c, ins->imm.mem.offset) && push_result(c, s->result);
        }
        c->ops[prev_dst] = c->ops[prev_dst + 1];
        c->ops[prev_dst + 1] = c->ops[prev_dst + 2];
        /* the operands moved down one word: so do their relocations */
        for (uint32_t i = c->nrelocs; i-- > 0;) {
            uint32_t pos = c->relocs[i] & ~RELOC_SAVE;
            if (pos <= prev_dst) break; /* relocations are in code order */
            c->relocs[i]--;
        }
        c->nops--;
        return emit_src(c, &v) && emit(c, ins->imm.mem.offset);
    }
    if (!emit(c, ins->op)) return false;
    if (s->result) {
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit_src(c, &a) && emit(c, ins->imm.mem.offset) &&
               push_result(c, s->result);
    }
    return emit_src(c, &a) && emit_src(c, &v) && emit(c, ins->imm.mem.offset);
}

static bool on_instr(void *ud, const wasm_instr *ins) {
    compiler *c = ud;
    uint32_t prev_dst = c->last_dst, prev_op = c->last_op;
    c->last_dst = NONE;
    c->last_op = NONE;
    cctrl *top = &c->ctrls[c->nctrls - 1];
    const wasm_module *m = c->m;
    switch (ins->op) {
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP:
    case WASM_OP_IF: return do_block(c, ins, prev_dst, prev_op);
    case WASM_OP_ELSE: return do_else(c);
    case WASM_OP_END: return do_end(c);
    default: break;
    }
    if (top->dead) return true;

    const wasm_opinfo *info = &wasm_opinfo_table[ins->op];
    centry a, b, v, n;
    uint32_t dst = NONE;
    uint64_t bits;
    switch (ins->op) {
    case WASM_OP_NOP: return true;
    case WASM_OP_UNREACHABLE: top->dead = true; return emit(c, ins->op);
    case WASM_OP_BR:
        top->dead = true;
        return emit_branch(c, &c->ctrls[c->nctrls - 1 - ins->imm.index]);
    case WASM_OP_BR_IF: return do_br_if(c, ins->imm.index, prev_dst, prev_op);
    case WASM_OP_BR_TABLE: top->dead = true; return do_br_table(c, ins);
    case WASM_OP_RETURN: top->dead = true; return emit_return(c);
    case WASM_OP_CALL:
        return do_call(c, &m->types[m->funcs[ins->imm.index].type], WASM_IOP_CALL, ins->imm.index,
                       0, NULL);
    case WASM_OP_RETURN_CALL:
        top->dead = true;
        return do_call(c, &m->types[m->funcs[ins->imm.index].type], WASM_IOP_RETURN_CALL,
                       ins->imm.index, 0, NULL);
    case WASM_OP_CALL_INDIRECT:
    case WASM_OP_RETURN_CALL_INDIRECT: {
        bool tail = ins->op == WASM_OP_RETURN_CALL_INDIRECT;
        centry idx = pop(c);
        if (tail) top->dead = true;
        return do_call(c, &m->types[ins->imm.pair.a],
                       tail ? WASM_IOP_RETURN_CALL_INDIRECT : WASM_IOP_CALL_INDIRECT,
                       ins->imm.pair.a, ins->imm.pair.b, &idx);
    }
    case WASM_OP_DROP: pop(c); return true;
    case WASM_OP_SELECT:
    case WASM_OP_SELECT_T:
        n = pop(c);
        b = pop(c);
        a = pop(c);
        if (!emit(c, wasm_cells(a.type) == 2 ? WASM_IOP_SELECT2 : WASM_OP_SELECT)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit_src(c, &a) && emit_src(c, &b) && emit_src(c, &n) &&
               push_result(c, a.type);
    case WASM_OP_LOCAL_GET:
        return push(c, c->local_type[ins->imm.index], K_LOCAL, c->local_cell[ins->imm.index]);
    case WASM_OP_LOCAL_SET: v = pop(c); return set_local(c, ins->imm.index, &v, prev_dst, false);
    case WASM_OP_LOCAL_TEE:
        v = c->stack[c->nstack - 1];
        return set_local(c, ins->imm.index, &v, prev_dst, true);
    case WASM_OP_GLOBAL_GET: {
        wasm_valtype t = m->globals[ins->imm.index].type.type;
        if (!emit(c, wasm_cells(t) == 2 ? WASM_IOP_GLOBAL_GET2 : WASM_OP_GLOBAL_GET)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit(c, ins->imm.index) && push_result(c, t);
    }
    case WASM_OP_GLOBAL_SET:
        v = pop(c);
        return emit(c, wasm_cells(v.type) == 2 ? WASM_IOP_GLOBAL_SET2 : WASM_OP_GLOBAL_SET) &&
               emit(c, ins->imm.index) && emit_src(c, &v);
    case WASM_OP_I32_CONST: bits = (uint32_t)ins->imm.i32; return add_const(c, WASM_I32, &bits);
    case WASM_OP_I64_CONST: bits = (uint64_t)ins->imm.i64; return add_const(c, WASM_I64, &bits);
    case WASM_OP_F32_CONST: bits = ins->imm.f32; return add_const(c, WASM_F32, &bits);
    case WASM_OP_F64_CONST: bits = ins->imm.f64; return add_const(c, WASM_F64, &bits);
    case WASM_OP_V128_CONST: return add_const(c, WASM_V128, ins->imm.bytes);
    case WASM_OP_REF_NULL: bits = 0; return add_const(c, ins->imm.type, &bits);
    case WASM_OP_REF_FUNC:
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit(c, ins->imm.index) && push_result(c, WASM_FUNCREF);
    case WASM_OP_REF_IS_NULL:
        a = pop(c);
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit_src(c, &a) && push_result(c, WASM_I32);
    case WASM_OP_TABLE_GET:
        a = pop(c);
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit(c, ins->imm.index) && emit_src(c, &a) &&
               push_result(c, m->tables[ins->imm.index].elem);
    case WASM_OP_TABLE_SET:
        v = pop(c);
        a = pop(c);
        return emit(c, ins->op) && emit(c, ins->imm.index) && emit_src(c, &a) && emit_src(c, &v);
    case WASM_OP_TABLE_SIZE:
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit(c, ins->imm.index) && push_result(c, WASM_I32);
    case WASM_OP_TABLE_GROW:
        n = pop(c);
        v = pop(c);
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit(c, ins->imm.index) && emit_src(c, &v) &&
               emit_src(c, &n) && push_result(c, WASM_I32);
    case WASM_OP_TABLE_FILL:
        n = pop(c);
        v = pop(c);
        a = pop(c);
        return emit(c, ins->op) && emit(c, ins->imm.index) && emit_src(c, &a) && emit_src(c, &v) &&
               emit_src(c, &n);
    case WASM_OP_TABLE_COPY:
    case WASM_OP_TABLE_INIT:
    case WASM_OP_MEMORY_INIT:
    case WASM_OP_MEMORY_COPY:
    case WASM_OP_MEMORY_FILL: {
        n = pop(c);
        b = pop(c);
        a = pop(c);
        if (!emit(c, ins->op)) return false;
        if (ins->op == WASM_OP_TABLE_COPY || ins->op == WASM_OP_TABLE_INIT) {
            if (!emit(c, ins->imm.pair.a) || !emit(c, ins->imm.pair.b)) return false;
        } else if (ins->op == WASM_OP_MEMORY_INIT && !emit(c, ins->imm.index)) {
            return false;
        }
        return emit_src(c, &a) && emit_src(c, &b) && emit_src(c, &n);
    }
    case WASM_OP_ELEM_DROP:
    case WASM_OP_DATA_DROP: return emit(c, ins->op) && emit(c, ins->imm.index);
    case WASM_OP_MEMORY_SIZE:
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && push_result(c, WASM_I32);
    case WASM_OP_MEMORY_GROW:
        a = pop(c);
        if (!emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        return emit(c, next_home(c)) && emit_src(c, &a) && push_result(c, WASM_I32);
    default: break;
    }

    const wasm_siginfo *s = &wasm_siginfo_table[info->sig];
    if (info->imm == WASM_IMM_MEMARG && info->prefix == 0)
        return do_scalar_memory(c, ins, prev_dst, prev_op);
    if (info->imm == WASM_IMM_MEMARG || info->imm == WASM_IMM_MEMARG_LANE) {
        bool simd = info->prefix == 0xfd;
        if (s->result) { /* a load, possibly of a lane into a vector */
            if (info->imm == WASM_IMM_MEMARG_LANE) v = pop(c);
            a = pop(c);
            uint32_t op = !simd                               ? ins->op
                          : info->imm == WASM_IMM_MEMARG_LANE ? WASM_IOP_SIMD_LOAD_LANE
                                                              : WASM_IOP_SIMD_LOAD;
            if (!emit(c, op) || (simd && !emit(c, ins->op))) return false;
            c->last_dst = c->nops;
            if (!emit(c, next_home(c)) || !emit_src(c, &a) || !emit(c, ins->imm.mem.offset))
                return false;
            if (op == WASM_IOP_SIMD_LOAD_LANE && (!emit_src(c, &v) || !emit(c, ins->imm.mem.lane)))
                return false;
            return push_result(c, s->result);
        }
        v = pop(c);
        a = pop(c);
        if (simd)
            return emit(c, WASM_IOP_SIMD_STORE) && emit(c, ins->op) && emit_src(c, &a) &&
                   emit_src(c, &v) && emit(c, ins->imm.mem.offset) &&
                   emit(c, info->imm == WASM_IMM_MEMARG_LANE ? ins->imm.mem.lane : 0);
        return emit(c, ins->op) && emit_src(c, &a) && emit_src(c, &v) &&
               emit(c, ins->imm.mem.offset);
    }
    if (info->prefix == 0xfd) { /* every other SIMD instruction */
        centry in[3];
        for (uint32_t i = s->nparams; i-- > 0;)
            in[i] = pop(c);
        if (!emit(c, WASM_IOP_SIMD) || !emit(c, ins->op)) return false;
        c->last_dst = c->nops;
        if (!emit(c, next_home(c))) return false;
        for (uint32_t i = 0; i < 3; i++)
            if (i < s->nparams ? !emit_src(c, &in[i]) : !emit(c, NONE)) return false;
        uint8_t imm[16] = {0};
        if (info->imm == WASM_IMM_LANE)
            imm[0] = ins->imm.lane;
        else if (info->imm == WASM_IMM_SHUFFLE)
            memcpy(imm, ins->imm.bytes, 16);
        for (int i = 0; i < 4; i++) {
            uint32_t w;
            memcpy(&w, imm + 4 * i, 4);
            if (!emit(c, w)) return false;
        }
        return push_result(c, s->result);
    }
    /* a numeric instruction typed by its signature */
    if (!emit_sig_op(c, ins->op, s, &dst)) return false;
    if (s->result) c->last_dst = dst;
    return true;
}

static bool on_locals(void *ud, uint32_t nlocals, const wasm_valtype *types) {
    compiler *c = ud;
    c->local_cell = malloc(((size_t)nlocals + 1) * sizeof *c->local_cell);
    if (!c->local_cell) return nomem(c);
    uint32_t cell = 0;
    for (uint32_t i = 0; i < nlocals; i++) {
        c->local_cell[i] = cell;
        cell += wasm_cells(types[i]);
    }
    c->local_type = types;
    c->nlocals = nlocals;
    c->nlocal_cells = cell;
    return push_ctrl(c, C_FUNC, true, 0, NULL, c->ft->nresults, c->ft->results);
}

/* Places the constant and save areas and patches their uses. */
static bool finish(compiler *c, wasm_code *code) {
    uint32_t const_base = c->nlocal_cells + c->max_cells;
    uint32_t save_base = const_base + c->nconsts;
    for (uint32_t i = 0; i < c->nrelocs; i++) {
        uint32_t pos = c->relocs[i] & ~RELOC_SAVE;
        c->ops[pos] += (c->relocs[i] & RELOC_SAVE) ? save_base : const_base;
    }
    uint32_t nparam_cells = 0, nresult_cells = 0;
    for (uint32_t i = 0; i < c->ft->nparams; i++)
        nparam_cells += wasm_cells(c->ft->params[i]);
    for (uint32_t i = 0; i < c->ft->nresults; i++)
        nresult_cells += wasm_cells(c->ft->results[i]);
    *code = (wasm_code){.ops = c->ops,
                        .nops = c->nops,
                        .nparam_cells = nparam_cells,
                        .nresult_cells = nresult_cells,
                        .nlocal_cells = c->nlocal_cells,
                        .const_base = const_base,
                        .frame_cells = save_base + c->nsave,
                        .consts = c->consts,
                        .nconsts = c->nconsts};
    if (code->frame_cells < nresult_cells) code->frame_cells = nresult_cells;
    c->ops = NULL;
    c->consts = NULL;
    return true;
}

static void compiler_free(compiler *c) {
    free(c->ops);
    free(c->stack);
    free(c->ctrls);
    free(c->local_cell);
    free(c->consts);
    free(c->relocs);
}

void wasm_code_free(wasm_code *code) {
    free(code->ops);
    free(code->consts);
}

bool wasm_compile_module(wasm_module *m, wasm_error *err) {
    wasm_module_impl *mi = wasm_impl(m);
    uint32_t n = m->nfuncs - m->nfunc_imports;
    mi->codes = calloc((size_t)n + 1, sizeof *mi->codes);
    if (!mi->codes) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory compiling");
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fi = m->nfunc_imports + i;
        compiler c = {.m = m,
                      .err = err,
                      .ft = &m->types[m->funcs[fi].type],
                      .last_dst = NONE,
                      .last_op = NONE};
        wasm_body_hooks hooks = {.ud = &c, .on_locals = on_locals, .on_instr = on_instr};
        bool ok = wasm_validate_body(m, fi, &hooks, err) && finish(&c, &mi->codes[i]);
        compiler_free(&c);
        if (!ok) return false;
    }
    return true;
}
