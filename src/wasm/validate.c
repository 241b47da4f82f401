/*
 * validate.c - the spec's validation algorithm, in one pass per body.
 *
 * Module level: index spaces and limits, constant expressions, exports,
 * start, segments, data count and declared function references (C.refs).
 * Function level: the operand-stack and control-stack algorithm of the
 * spec's appendix ("Validation Algorithm"), including the polymorphic
 * stack of unreachable code, decoding each instruction as it goes.
 *
 * That body pass is the one the compiler shares (issue 3): it takes
 * wasm_body_hooks, and at each instruction hands them the decoded
 * instruction and the validator state (operand types and heights, control
 * depth, reachability) - everything a register-allocating compiler needs to
 * turn stack positions into frame slots - so no body is walked twice.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm/internal.h"

#define UNKNOWN 0 /* operand type in unreachable code: matches anything */
#define MAX_MEMORY_PAGES 65536u

typedef enum { CTRL_FUNC, CTRL_BLOCK, CTRL_LOOP, CTRL_IF, CTRL_ELSE } ctrl_kind;

typedef struct ctrl {
    ctrl_kind kind;
    bool unreachable;
    uint32_t height; /* operand stack height on entry */
    uint32_t nparams, nresults;
    const wasm_valtype *params, *results;
} ctrl;

typedef struct wasm_vstate {
    const wasm_module *m;
    wasm_reader r;
    wasm_valtype *vals;
    uint32_t nvals, vcap;
    ctrl *ctrls;
    uint32_t nctrls, ccap;
    wasm_valtype *locals;
    uint32_t nlocals;
    const wasm_functype *ft;
    const uint8_t *at; /* the instruction being validated, for errors */
} wasm_vstate;

#define INVALID(v, ...) wasm_fail_at(&(v)->r, (v)->at, WASM_ERR_INVALID, __VA_ARGS__)
#define MALFORMED(v, ...) wasm_fail_at(&(v)->r, (v)->at, WASM_ERR_MALFORMED, __VA_ARGS__)

static const char *tname(wasm_valtype t) {
    return t == UNKNOWN ? "unknown" : wasm_valtype_name(t);
}

static bool is_num_or_vec(wasm_valtype t) {
    return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64 || t == WASM_V128;
}

/* ---- operand and control stacks ---------------------------------------- */

static bool push(wasm_vstate *v, wasm_valtype t) {
    if (v->nvals == v->vcap) {
        uint32_t ncap = v->vcap ? v->vcap * 2 : 64;
        wasm_valtype *nv = realloc(v->vals, ncap);
        if (!nv) return wasm_fail_at(&v->r, v->at, WASM_ERR_NOMEM, "out of memory validating");
        v->vals = nv;
        v->vcap = ncap;
    }
    v->vals[v->nvals++] = t;
    return true;
}

/* Pops one operand into *out; in unreachable code an empty frame yields
 * UNKNOWN. */
static bool pop(wasm_vstate *v, wasm_valtype *out) {
    ctrl *c = &v->ctrls[v->nctrls - 1];
    if (v->nvals == c->height) {
        if (c->unreachable) {
            *out = UNKNOWN;
            return true;
        }
        return INVALID(v, "type mismatch: an operand is missing (the stack is empty)");
    }
    *out = v->vals[--v->nvals];
    return true;
}

static bool pop_expect(wasm_vstate *v, wasm_valtype want, wasm_valtype *got) {
    wasm_valtype t = UNKNOWN;
    if (!pop(v, &t)) return false;
    if (t != want && t != UNKNOWN && want != UNKNOWN)
        return INVALID(v, "type mismatch: expected %s, found %s", tname(want), tname(t));
    if (got) *got = t == UNKNOWN ? want : t;
    return true;
}

static bool pop_vals(wasm_vstate *v, uint32_t n, const wasm_valtype *types) {
    for (uint32_t i = n; i-- > 0;)
        if (!pop_expect(v, types[i], NULL)) return false;
    return true;
}

static bool push_vals(wasm_vstate *v, uint32_t n, const wasm_valtype *types) {
    for (uint32_t i = 0; i < n; i++)
        if (!push(v, types[i])) return false;
    return true;
}

static bool push_ctrl(wasm_vstate *v, ctrl_kind kind, uint32_t np, const wasm_valtype *params,
                      uint32_t nr, const wasm_valtype *results) {
    if (v->nctrls == v->ccap) {
        uint32_t ncap = v->ccap ? v->ccap * 2 : 16;
        ctrl *nc = realloc(v->ctrls, ncap * sizeof *nc);
        if (!nc) return wasm_fail_at(&v->r, v->at, WASM_ERR_NOMEM, "out of memory validating");
        v->ctrls = nc;
        v->ccap = ncap;
    }
    v->ctrls[v->nctrls++] = (ctrl){kind, false, v->nvals, np, nr, params, results};
    return push_vals(v, np, params);
}

/* Checks the frame's results are exactly on the stack and pops them. */
static bool pop_ctrl(wasm_vstate *v, ctrl *out) {
    ctrl *c = &v->ctrls[v->nctrls - 1];
    if (!pop_vals(v, c->nresults, c->results)) return false;
    if (v->nvals != c->height)
        return INVALID(v, "type mismatch: %u value(s) left on the stack at the end of a block",
                       v->nvals - c->height);
    *out = *c;
    v->nctrls--;
    return true;
}

static void set_unreachable(wasm_vstate *v) {
    ctrl *c = &v->ctrls[v->nctrls - 1];
    v->nvals = c->height;
    c->unreachable = true;
}

/* The types a branch to label `depth` carries. */
static void label_types(const ctrl *c, uint32_t *n, const wasm_valtype **types) {
    if (c->kind == CTRL_LOOP) {
        *n = c->nparams;
        *types = c->params;
    } else {
        *n = c->nresults;
        *types = c->results;
    }
}

static bool get_label(wasm_vstate *v, uint32_t depth, ctrl **out) {
    if (depth >= v->nctrls) return INVALID(v, "unknown label %u", depth);
    *out = &v->ctrls[v->nctrls - 1 - depth];
    return true;
}

/* ---- index checks ------------------------------------------------------- */

static bool check_func(wasm_vstate *v, uint32_t idx) {
    return idx < v->m->nfuncs || INVALID(v, "unknown function %u", idx);
}
static bool check_type(wasm_vstate *v, uint32_t idx) {
    return idx < v->m->ntypes || INVALID(v, "unknown type %u", idx);
}
static bool check_table(wasm_vstate *v, uint32_t idx) {
    return idx < v->m->ntables || INVALID(v, "unknown table %u", idx);
}
static bool check_memory(wasm_vstate *v, uint32_t idx) {
    return idx < v->m->nmemories || INVALID(v, "unknown memory %u", idx);
}
static bool check_elem(wasm_vstate *v, uint32_t idx) {
    return idx < v->m->nelems || INVALID(v, "unknown elem segment %u", idx);
}
/* Data indices in code need the data count section (a decoding rule).
 * Without one and with no data segments either, the index is simply
 * unknown: tools such as wabt omit the section when there is no data. */
static bool data_count_missing(const wasm_module *m, uint32_t idx) {
    return !m->has_data_count && idx < m->ndatas;
}

static bool check_data(wasm_vstate *v, uint32_t idx) {
    if (data_count_missing(v->m, idx))
        return MALFORMED(v, "data count section required for memory.init and data.drop");
    uint32_t n = v->m->has_data_count ? v->m->data_count : v->m->ndatas;
    return idx < n || INVALID(v, "unknown data segment %u", idx);
}

static bool read_blocktype_types(wasm_vstate *v, const wasm_blocktype *bt, uint32_t *np,
                                 const wasm_valtype **params, uint32_t *nr,
                                 const wasm_valtype **results) {
    if (bt->kind == WASM_BT_INDEX && !check_type(v, bt->index)) return false;
    wasm_blocktype_types(v->m, bt, np, params, nr, results);
    return true;
}

static bool same_types(uint32_t n1, const wasm_valtype *a, uint32_t n2, const wasm_valtype *b) {
    return n1 == n2 && (n1 == 0 || memcmp(a, b, n1) == 0);
}

/* ---- one instruction ---------------------------------------------------- */

static bool validate_call(wasm_vstate *v, const wasm_functype *ft, bool tail) {
    if (!pop_vals(v, ft->nparams, ft->params)) return false;
    if (tail) {
        if (!same_types(ft->nresults, ft->results, v->ft->nresults, v->ft->results))
            return INVALID(v, "type mismatch: tail call's results differ from the caller's");
        set_unreachable(v);
        return true;
    }
    return push_vals(v, ft->nresults, ft->results);
}

static bool validate_memarg(wasm_vstate *v, const wasm_instr *ins, const wasm_opinfo *info) {
    if (!check_memory(v, 0)) return false;
    if (ins->imm.mem.align > info->arg)
        return INVALID(v, "alignment must not be larger than natural (2^%u > %u bytes)",
                       ins->imm.mem.align, 1u << info->arg);
    return true;
}

static bool validate_instr(wasm_vstate *v, const wasm_instr *ins) {
    const wasm_module *m = v->m;
    const wasm_opinfo *info = &wasm_opinfo_table[ins->op];
    wasm_valtype t = UNKNOWN, t2 = UNKNOWN;
    uint32_t n;
    const wasm_valtype *types;
    ctrl *c = NULL;

    /* immediates first, then the fixed signatures */
    switch ((wasm_imm)info->imm) {
    case WASM_IMM_MEMARG:
        if (!validate_memarg(v, ins, info)) return false;
        break;
    case WASM_IMM_MEMARG_LANE:
        if (!validate_memarg(v, ins, info)) return false;
        if (ins->imm.mem.lane >= (16u >> info->arg))
            return INVALID(v, "invalid lane index %u", ins->imm.mem.lane);
        break;
    case WASM_IMM_LANE:
        if (ins->imm.lane >= info->arg) return INVALID(v, "invalid lane index %u", ins->imm.lane);
        break;
    case WASM_IMM_SHUFFLE:
        for (int i = 0; i < 16; i++)
            if (ins->imm.bytes[i] >= 32)
                return INVALID(v, "invalid lane index %u", ins->imm.bytes[i]);
        break;
    case WASM_IMM_MEM:
    case WASM_IMM_MEM_MEM:
        if (!check_memory(v, 0)) return false;
        break;
    case WASM_IMM_DATA_MEM:
        if (!check_memory(v, 0) || !check_data(v, ins->imm.index)) return false;
        break;
    case WASM_IMM_DATA:
        if (!check_data(v, ins->imm.index)) return false;
        break;
    case WASM_IMM_ELEM:
        if (!check_elem(v, ins->imm.index)) return false;
        break;
    case WASM_IMM_TABLE:
        if (!check_table(v, ins->imm.index)) return false;
        break;
    default: break;
    }
    if (info->sig != WASM_SIG_SPECIAL) {
        const wasm_siginfo *s = &wasm_siginfo_table[info->sig];
        if (!pop_vals(v, s->nparams, s->params)) return false;
        if (s->result && !push(v, s->result)) return false;
        switch (ins->op) { /* typed by signature, but with extra index rules */
        case WASM_OP_TABLE_INIT: {
            if (!check_elem(v, ins->imm.pair.a) || !check_table(v, ins->imm.pair.b)) return false;
            if (m->elems[ins->imm.pair.a].type != m->tables[ins->imm.pair.b].elem)
                return INVALID(v,
                               "type mismatch: element segment %u and table %u hold different "
                               "reference types",
                               ins->imm.pair.a, ins->imm.pair.b);
            break;
        }
        case WASM_OP_TABLE_COPY:
            if (!check_table(v, ins->imm.pair.a) || !check_table(v, ins->imm.pair.b)) return false;
            if (m->tables[ins->imm.pair.a].elem != m->tables[ins->imm.pair.b].elem)
                return INVALID(v, "type mismatch: tables %u and %u hold different reference types",
                               ins->imm.pair.a, ins->imm.pair.b);
            break;
        default: break;
        }
        return true;
    }

    switch (ins->op) {
    case WASM_OP_UNREACHABLE: set_unreachable(v); return true;
    case WASM_OP_BLOCK:
    case WASM_OP_LOOP:
    case WASM_OP_IF: {
        uint32_t np, nr;
        const wasm_valtype *params, *results;
        if (!read_blocktype_types(v, &ins->imm.block, &np, &params, &nr, &results)) return false;
        if (ins->op == WASM_OP_IF && !pop_expect(v, WASM_I32, NULL)) return false;
        if (!pop_vals(v, np, params)) return false;
        ctrl_kind k = ins->op == WASM_OP_BLOCK  ? CTRL_BLOCK
                      : ins->op == WASM_OP_LOOP ? CTRL_LOOP
                                                : CTRL_IF;
        return push_ctrl(v, k, np, params, nr, results);
    }
    case WASM_OP_ELSE: {
        ctrl done;
        if (v->ctrls[v->nctrls - 1].kind != CTRL_IF)
            return MALFORMED(v, "else without a matching if");
        if (!pop_ctrl(v, &done)) return false;
        return push_ctrl(v, CTRL_ELSE, done.nparams, done.params, done.nresults, done.results);
    }
    case WASM_OP_END: {
        ctrl done;
        if (!pop_ctrl(v, &done)) return false;
        if (done.kind == CTRL_IF &&
            !same_types(done.nparams, done.params, done.nresults, done.results))
            return INVALID(v, "type mismatch: if without else must leave its parameters as its "
                              "results");
        return push_vals(v, done.nresults, done.results);
    }
    case WASM_OP_BR:
        if (!get_label(v, ins->imm.index, &c)) return false;
        label_types(c, &n, &types);
        if (!pop_vals(v, n, types)) return false;
        set_unreachable(v);
        return true;
    case WASM_OP_BR_IF:
        if (!get_label(v, ins->imm.index, &c)) return false;
        if (!pop_expect(v, WASM_I32, NULL)) return false;
        label_types(c, &n, &types);
        return pop_vals(v, n, types) && push_vals(v, n, types);
    case WASM_OP_BR_TABLE: {
        if (!pop_expect(v, WASM_I32, NULL)) return false;
        wasm_reader tr = {v->r.base, ins->imm.br_table.targets, v->r.end, v->r.err};
        uint32_t nt = ins->imm.br_table.ntargets, def, depth;
        /* the default comes last in the encoding but fixes the arity */
        for (uint32_t i = 0; i <= nt; i++)
            wasm_read_u32(&tr, &def);
        if (!get_label(v, def, &c)) return false;
        uint32_t arity;
        const wasm_valtype *dtypes;
        label_types(c, &arity, &dtypes);
        tr.p = ins->imm.br_table.targets;
        for (uint32_t i = 0; i < nt; i++) {
            wasm_read_u32(&tr, &depth);
            if (!get_label(v, depth, &c)) return false;
            label_types(c, &n, &types);
            if (n != arity)
                return INVALID(v,
                               "type mismatch: br_table targets carry different numbers of "
                               "values (%u and %u)",
                               n, arity);
            /* check against this label without consuming: pop, then push
             * back what was popped (unknowns included), as the spec does */
            uint32_t base = v->nvals;
            wasm_valtype popped[16];
            wasm_valtype *buf = n <= 16 ? popped : malloc(n);
            if (!buf) return wasm_fail_at(&v->r, v->at, WASM_ERR_NOMEM, "out of memory");
            bool ok = true;
            for (uint32_t k = n; k-- > 0 && ok;) {
                wasm_valtype got;
                ok = pop(v, &got);
                if (ok && got != types[k] && got != UNKNOWN) {
                    ok = INVALID(v, "type mismatch: expected %s, found %s", tname(types[k]),
                                 tname(got));
                }
                if (ok) buf[k] = got;
            }
            if (ok) ok = push_vals(v, n, buf);
            if (buf != popped) free(buf);
            if (!ok) return false;
            (void)base;
        }
        if (!pop_vals(v, arity, dtypes)) return false;
        set_unreachable(v);
        return true;
    }
    case WASM_OP_RETURN:
        if (!pop_vals(v, v->ft->nresults, v->ft->results)) return false;
        set_unreachable(v);
        return true;
    case WASM_OP_CALL:
    case WASM_OP_RETURN_CALL:
        if (!check_func(v, ins->imm.index)) return false;
        return validate_call(v, &m->types[m->funcs[ins->imm.index].type],
                             ins->op == WASM_OP_RETURN_CALL);
    case WASM_OP_CALL_INDIRECT:
    case WASM_OP_RETURN_CALL_INDIRECT:
        if (!check_table(v, ins->imm.pair.b) || !check_type(v, ins->imm.pair.a)) return false;
        if (m->tables[ins->imm.pair.b].elem != WASM_FUNCREF)
            return INVALID(v,
                           "type mismatch: call_indirect needs a funcref table, table %u holds "
                           "%s",
                           ins->imm.pair.b, tname(m->tables[ins->imm.pair.b].elem));
        if (!pop_expect(v, WASM_I32, NULL)) return false;
        return validate_call(v, &m->types[ins->imm.pair.a],
                             ins->op == WASM_OP_RETURN_CALL_INDIRECT);
    case WASM_OP_DROP: return pop(v, &t);
    case WASM_OP_SELECT:
        if (!pop_expect(v, WASM_I32, NULL) || !pop(v, &t) || !pop(v, &t2)) return false;
        if ((t != UNKNOWN && !is_num_or_vec(t)) || (t2 != UNKNOWN && !is_num_or_vec(t2)))
            return INVALID(v, "type mismatch: select without a type needs numeric or vector "
                              "operands");
        if (t != t2 && t != UNKNOWN && t2 != UNKNOWN)
            return INVALID(v, "type mismatch: select operands are %s and %s", tname(t2), tname(t));
        return push(v, t == UNKNOWN ? t2 : t);
    case WASM_OP_SELECT_T:
        t = ins->imm.type;
        return pop_expect(v, WASM_I32, NULL) && pop_expect(v, t, NULL) && pop_expect(v, t, NULL) &&
               push(v, t);
    case WASM_OP_LOCAL_GET:
    case WASM_OP_LOCAL_SET:
    case WASM_OP_LOCAL_TEE:
        if (ins->imm.index >= v->nlocals) return INVALID(v, "unknown local %u", ins->imm.index);
        t = v->locals[ins->imm.index];
        if (ins->op == WASM_OP_LOCAL_GET) return push(v, t);
        if (!pop_expect(v, t, NULL)) return false;
        return ins->op == WASM_OP_LOCAL_SET || push(v, t);
    case WASM_OP_GLOBAL_GET:
    case WASM_OP_GLOBAL_SET:
        if (ins->imm.index >= m->nglobals) return INVALID(v, "unknown global %u", ins->imm.index);
        t = m->globals[ins->imm.index].type.type;
        if (ins->op == WASM_OP_GLOBAL_GET) return push(v, t);
        if (!m->globals[ins->imm.index].type.mut)
            return INVALID(v, "global is immutable: global.set on global %u", ins->imm.index);
        return pop_expect(v, t, NULL);
    case WASM_OP_TABLE_GET:
        return pop_expect(v, WASM_I32, NULL) && push(v, m->tables[ins->imm.index].elem);
    case WASM_OP_TABLE_SET:
        return pop_expect(v, m->tables[ins->imm.index].elem, NULL) && pop_expect(v, WASM_I32, NULL);
    case WASM_OP_TABLE_GROW:
        return pop_expect(v, WASM_I32, NULL) &&
               pop_expect(v, m->tables[ins->imm.index].elem, NULL) && push(v, WASM_I32);
    case WASM_OP_TABLE_FILL:
        return pop_expect(v, WASM_I32, NULL) &&
               pop_expect(v, m->tables[ins->imm.index].elem, NULL) && pop_expect(v, WASM_I32, NULL);
    case WASM_OP_REF_NULL: return push(v, ins->imm.type);
    case WASM_OP_REF_IS_NULL:
        if (!pop(v, &t)) return false;
        if (t != UNKNOWN && !wasm_is_reftype(t))
            return INVALID(v, "type mismatch: ref.is_null needs a reference, found %s", tname(t));
        return push(v, WASM_I32);
    case WASM_OP_REF_FUNC:
        if (!check_func(v, ins->imm.index)) return false;
        if (!(wasm_impl(m)->refs[ins->imm.index / 8] & (1u << (ins->imm.index % 8))))
            return INVALID(v,
                           "undeclared function reference: function %u must appear in an "
                           "element segment, export or global initializer before ref.func",
                           ins->imm.index);
        return push(v, WASM_FUNCREF);
    default: return MALFORMED(v, "illegal opcode %s", info->name);
    }
}

/* ---- function bodies ---------------------------------------------------- */

static void vstate_free(wasm_vstate *v) {
    free(v->vals);
    free(v->ctrls);
    free(v->locals);
}

static bool read_locals(wasm_vstate *v) {
    const wasm_functype *ft = v->ft;
    wasm_reader *r = &v->r;
    const uint8_t *start = r->p;
    uint32_t ngroups, total = ft->nparams;
    /* first pass: count (the decoder already bounded the total) */
    if (!wasm_read_u32(r, &ngroups)) return false;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt;
        wasm_valtype t;
        if (!wasm_read_u32(r, &cnt) || !wasm_read_valtype(r, &t)) return false;
        total += cnt;
    }
    v->locals = malloc(total ? total : 1);
    if (!v->locals) return wasm_fail_at(r, start, WASM_ERR_NOMEM, "out of memory for locals");
    if (ft->nparams) memcpy(v->locals, ft->params, ft->nparams);
    uint32_t k = ft->nparams;
    r->p = start;
    wasm_read_u32(r, &ngroups);
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt;
        wasm_valtype t;
        wasm_read_u32(r, &cnt);
        wasm_read_valtype(r, &t);
        memset(v->locals + k, t, cnt);
        k += cnt;
    }
    v->nlocals = total;
    return true;
}

bool wasm_validate_body(const wasm_module *m, uint32_t func_index, const wasm_body_hooks *hooks,
                        wasm_error *err) {
    const wasm_func *f = &m->funcs[func_index];
    wasm_vstate vs = {.m = m, .ft = &m->types[f->type]};
    wasm_vstate *v = &vs;
    const uint8_t *body = m->bytes + f->body_offset;
    v->r = (wasm_reader){m->bytes, body, body + f->body_size, err};
    v->at = body;
    bool ok = read_locals(v);
    if (ok && hooks && hooks->on_locals) ok = hooks->on_locals(hooks->ud, v->nlocals, v->locals);
    if (ok) ok = push_ctrl(v, CTRL_FUNC, 0, NULL, v->ft->nresults, v->ft->results);
    wasm_instr ins;
    while (ok && v->nctrls > 0) {
        if (v->r.p >= v->r.end) {
            ok = wasm_malformed(&v->r,
                                "unexpected end of section or function: function %u "
                                "body ends before its final `end`",
                                func_index);
            break;
        }
        v->at = v->r.p;
        if (!wasm_read_instr(&v->r, &ins)) {
            ok = false;
            break;
        }
        ok = validate_instr(v, &ins);
        if (ok && hooks && hooks->on_instr) ok = hooks->on_instr(hooks->ud, &ins);
    }
    if (ok && v->r.p != v->r.end)
        ok = wasm_malformed(&v->r,
                            "section size mismatch: function %u has %zu bytes after its "
                            "final `end`",
                            func_index, (size_t)(v->r.end - v->r.p));
    vstate_free(v);
    return ok;
}

/* Decodes body `func_index` without typing it: the structure of blocks,
 * the final `end`, and the decoding rules. Used only after a validation
 * error, because the spec decodes the whole module before validating it:
 * a module that is both malformed and invalid must be reported malformed. */
static bool scan_body(const wasm_module *m, uint32_t func_index, wasm_error *err) {
    const wasm_func *f = &m->funcs[func_index];
    const uint8_t *body = m->bytes + f->body_offset;
    wasm_reader r = {m->bytes, body, body + f->body_size, err};
    uint32_t ngroups, cnt;
    wasm_valtype t;
    if (!wasm_read_u32(&r, &ngroups)) return false;
    for (uint32_t g = 0; g < ngroups; g++)
        if (!wasm_read_u32(&r, &cnt) || !wasm_read_valtype(&r, &t)) return false;
    /* one bit per open block: set when it is an `if` (else allowed) */
    uint8_t *is_if = NULL;
    uint32_t depth = 1, cap = 0;
    bool ok = true;
    wasm_instr ins;
    while (ok && depth > 0) {
        if (r.p >= r.end) {
            ok = wasm_malformed(&r, "unexpected end of section or function");
            break;
        }
        if (!wasm_read_instr(&r, &ins)) {
            /* a malformed instruction settles it; an invalid immediate
             * (select's type count) leaves nothing more to learn */
            free(is_if);
            return err->kind != WASM_ERR_MALFORMED;
        }
        switch (ins.op) {
        case WASM_OP_BLOCK:
        case WASM_OP_LOOP:
        case WASM_OP_IF:
            if (depth / 8 + 1 > cap) {
                uint32_t ncap = cap ? cap * 2 : 16;
                uint8_t *n = realloc(is_if, ncap);
                if (!n) {
                    free(is_if);
                    return true; /* cannot tell; keep the validation error */
                }
                memset(n + cap, 0, ncap - cap);
                is_if = n;
                cap = ncap;
            }
            if (ins.op == WASM_OP_IF)
                is_if[depth / 8] |= (uint8_t)(1u << (depth % 8));
            else
                is_if[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
            depth++;
            break;
        case WASM_OP_ELSE:
            if (depth < 2 || !(is_if[(depth - 1) / 8] & (1u << ((depth - 1) % 8))))
                ok = wasm_fail_at(&r, ins.at, WASM_ERR_MALFORMED, "else without a matching if");
            else
                is_if[(depth - 1) / 8] &= (uint8_t) ~(1u << ((depth - 1) % 8));
            break;
        case WASM_OP_END: depth--; break;
        case WASM_OP_MEMORY_INIT:
        case WASM_OP_DATA_DROP:
            if (data_count_missing(m, ins.imm.index))
                ok = wasm_fail_at(&r, ins.at, WASM_ERR_MALFORMED,
                                  "data count section required for memory.init and data.drop");
            break;
        default: break;
        }
    }
    free(is_if);
    if (ok && depth == 0 && r.p != r.end)
        ok = wasm_malformed(&r, "section size mismatch: bytes after the function's final `end`");
    return ok;
}

/* After a validation error: if any body is malformed, that error wins. */
static bool prefer_malformed(const wasm_module *m, wasm_error *err) {
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
        wasm_error e = {0};
        if (!scan_body(m, i, &e) && e.kind == WASM_ERR_MALFORMED) {
            *err = e;
            break;
        }
    }
    return false;
}

/* ---- constant expressions ----------------------------------------------- */

/* Validates a constant expression producing `want`. `nglobals_visible`
 * limits global.get to the imported globals, as Wasm 2.0 requires. */
static bool validate_constexpr(const wasm_module *m, const wasm_constexpr *ce, wasm_valtype want,
                               wasm_error *err, const char *what) {
    wasm_reader r = {m->bytes, ce->code, ce->code + ce->len, err};
    wasm_valtype stack[64];
    uint32_t n = 0;
    wasm_instr ins;
    for (;;) {
        if (!wasm_read_instr(&r, &ins)) return false;
        wasm_valtype push_t = 0;
        switch (ins.op) {
        case WASM_OP_END:
            if (n != 1 || (stack[0] != want))
                return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID,
                                    "type mismatch: %s must produce one %s value", what,
                                    wasm_valtype_name(want));
            return true;
        case WASM_OP_I32_CONST: push_t = WASM_I32; break;
        case WASM_OP_I64_CONST: push_t = WASM_I64; break;
        case WASM_OP_F32_CONST: push_t = WASM_F32; break;
        case WASM_OP_F64_CONST: push_t = WASM_F64; break;
        case WASM_OP_V128_CONST: push_t = WASM_V128; break;
        case WASM_OP_REF_NULL: push_t = ins.imm.type; break;
        case WASM_OP_REF_FUNC:
            if (ins.imm.index >= m->nfuncs)
                return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID, "unknown function %u",
                                    ins.imm.index);
            push_t = WASM_FUNCREF;
            break;
        case WASM_OP_GLOBAL_GET:
            if (ins.imm.index >= m->nglobal_imports)
                return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID,
                                    "unknown global %u: constant expressions may only read "
                                    "imported globals",
                                    ins.imm.index);
            if (m->globals[ins.imm.index].type.mut)
                return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID,
                                    "constant expression required: global %u is mutable",
                                    ins.imm.index);
            push_t = m->globals[ins.imm.index].type.type;
            break;
        case WASM_OP_I32_ADD:
        case WASM_OP_I32_SUB:
        case WASM_OP_I32_MUL:
        case WASM_OP_I64_ADD:
        case WASM_OP_I64_SUB:
        case WASM_OP_I64_MUL: {
            wasm_valtype t = wasm_siginfo_table[wasm_opinfo_table[ins.op].sig].result;
            if (n < 2 || stack[n - 1] != t || stack[n - 2] != t)
                return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID,
                                    "type mismatch: %s needs two %s operands",
                                    wasm_opinfo_table[ins.op].name, wasm_valtype_name(t));
            n -= 2;
            push_t = t;
            break;
        }
        default:
            return wasm_fail_at(&r, ins.at, WASM_ERR_INVALID,
                                "constant expression required: %s is not allowed in %s",
                                wasm_opinfo_table[ins.op].name, what);
        }
        if (n == sizeof stack)
            return wasm_fail_at(&r, ins.at, WASM_ERR_LIMIT, "constant expression too deep");
        stack[n++] = push_t;
    }
}

/* Marks every ref.func in a constant expression as a declared reference. */
static void declare_refs_in(wasm_module_impl *mi, const wasm_constexpr *ce) {
    wasm_error scratch = {0};
    wasm_reader r = {mi->pub.bytes, ce->code, ce->code + ce->len, &scratch};
    wasm_instr ins;
    while (r.p < r.end && wasm_read_instr(&r, &ins))
        if (ins.op == WASM_OP_REF_FUNC && ins.imm.index < mi->pub.nfuncs)
            mi->refs[ins.imm.index / 8] |= (uint8_t)(1u << (ins.imm.index % 8));
}

static void declare_ref(wasm_module_impl *mi, uint32_t f) {
    if (f < mi->pub.nfuncs) mi->refs[f / 8] |= (uint8_t)(1u << (f % 8));
}

/* ---- module ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static bool fail(wasm_error *err, size_t offset,
                                                       const char *fmt, ...) {
    err->kind = WASM_ERR_INVALID;
    err->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return false;
}

static bool check_limits(const wasm_limits *l, uint64_t bound, const char *what, size_t offset,
                         wasm_error *err) {
    err->offset = offset;
    if (l->min > bound || (l->has_max && l->max > bound)) {
        err->kind = WASM_ERR_INVALID;
        snprintf(err->msg, sizeof err->msg,
                 bound == MAX_MEMORY_PAGES ? "memory size must be at most 65536 pages (4GiB)"
                                           : "%s size out of range",
                 what);
        return false;
    }
    if (l->has_max && l->min > l->max) {
        err->kind = WASM_ERR_INVALID;
        snprintf(err->msg, sizeof err->msg,
                 "size minimum must not be greater than maximum (%s: %llu > %llu)", what,
                 (unsigned long long)l->min, (unsigned long long)l->max);
        return false;
    }
    return true;
}

static int cmp_names(const void *a, const void *b) {
    const wasm_name *x = *(const wasm_name *const *)a, *y = *(const wasm_name *const *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->str, y->str, x->len);
}

static bool validate_module(wasm_module *m, wasm_error *err, bool bodies) {
    wasm_module_impl *mi = wasm_impl(m);

    for (uint32_t i = 0; i < m->nimports; i++)
        if (m->imports[i].kind == WASM_EXTERN_FUNC && m->imports[i].desc.func_type >= m->ntypes)
            return fail(err, m->section_offset[2], "unknown type %u in function import",
                        m->imports[i].desc.func_type);
    for (uint32_t i = 0; i < m->nfuncs; i++)
        if (m->funcs[i].type >= m->ntypes)
            return fail(err, m->funcs[i].body_offset, "unknown type %u", m->funcs[i].type);
    for (uint32_t i = 0; i < m->ntables; i++)
        if (!check_limits(&m->tables[i].limits, UINT32_MAX, "table",
                          m->section_offset[i < m->ntable_imports ? 2 : 4], err))
            return false;
    for (uint32_t i = 0; i < m->nmemories; i++)
        if (!check_limits(&m->memories[i].limits, MAX_MEMORY_PAGES, "memory",
                          m->section_offset[i < m->nmemory_imports ? 2 : 5], err))
            return false;
    if (m->nmemories > 1)
        return fail(err, m->section_offset[5] ? m->section_offset[5] : m->section_offset[2],
                    "multiple memories (%u) are not supported", m->nmemories);

    /* C.refs: function indices that ref.func may name */
    mi->refs = util_arena_calloc(&mi->arena, m->nfuncs / 8 + 1, 1);
    if (!mi->refs) {
        err->kind = WASM_ERR_NOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return false;
    }
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == WASM_EXTERN_FUNC) declare_ref(mi, m->exports[i].index);
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++)
        declare_refs_in(mi, &m->globals[i].init);
    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs)
                declare_ref(mi, e->funcs[k]);
            else
                declare_refs_in(mi, &e->exprs[k]);
        }
    }

    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++)
        if (!validate_constexpr(m, &m->globals[i].init, m->globals[i].type.type, err,
                                "a global initializer"))
            return false;

    for (uint32_t i = 0; i < m->nelems; i++) {
        const wasm_elem *e = &m->elems[i];
        if (e->mode == WASM_SEG_ACTIVE) {
            if (e->table >= m->ntables)
                return fail(err, e->offset.offset, "unknown table %u", e->table);
            if (m->tables[e->table].elem != e->type)
                return fail(err, e->offset.offset,
                            "type mismatch: element segment of %s does not fit table %u",
                            wasm_valtype_name(e->type), e->table);
            if (!validate_constexpr(m, &e->offset, WASM_I32, err, "an element segment offset"))
                return false;
        }
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->funcs) {
                if (e->funcs[k] >= m->nfuncs)
                    return fail(err, m->section_offset[9], "unknown function %u in element segment",
                                e->funcs[k]);
            } else if (!validate_constexpr(m, &e->exprs[k], e->type, err, "an element item")) {
                return false;
            }
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const wasm_data *ds = &m->datas[i];
        if (ds->mode != WASM_SEG_ACTIVE) continue;
        if (ds->memory >= m->nmemories)
            return fail(err, ds->offset.offset, "unknown memory %u", ds->memory);
        if (!validate_constexpr(m, &ds->offset, WASM_I32, err, "a data segment offset"))
            return false;
    }

    for (uint32_t i = 0; i < m->nexports; i++) {
        const wasm_export *e = &m->exports[i];
        uint32_t limit = e->kind == WASM_EXTERN_FUNC     ? m->nfuncs
                         : e->kind == WASM_EXTERN_TABLE  ? m->ntables
                         : e->kind == WASM_EXTERN_MEMORY ? m->nmemories
                                                         : m->nglobals;
        if (e->index >= limit)
            return fail(err, e->offset, "unknown %s %u in export", wasm_externkind_name(e->kind),
                        e->index);
    }
    if (m->nexports > 1) {
        const wasm_name **names = malloc(m->nexports * sizeof *names);
        if (!names) {
            err->kind = WASM_ERR_NOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return false;
        }
        for (uint32_t i = 0; i < m->nexports; i++)
            names[i] = &m->exports[i].name;
        qsort(names, m->nexports, sizeof *names, cmp_names);
        for (uint32_t i = 1; i < m->nexports; i++) {
            if (cmp_names(&names[i - 1], &names[i]) == 0) {
                const wasm_export *dup =
                    (const wasm_export *)((const char *)names[i] - offsetof(wasm_export, name));
                err->kind = WASM_ERR_INVALID;
                err->offset = dup->offset;
                snprintf(err->msg, sizeof err->msg, "duplicate export name \"%.*s\"",
                         (int)(names[i]->len > 100 ? 100 : names[i]->len), names[i]->str);
                free(names);
                return false;
            }
        }
        free(names);
    }
    if (m->has_start) {
        if (m->start >= m->nfuncs)
            return fail(err, m->section_offset[8], "unknown function %u as start", m->start);
        const wasm_functype *ft = &m->types[m->funcs[m->start].type];
        if (ft->nparams || ft->nresults)
            return fail(err, m->section_offset[8],
                        "start function %u must take no parameters and return nothing", m->start);
    }

    for (uint32_t i = m->nfunc_imports; bodies && i < m->nfuncs; i++)
        if (!wasm_validate_body(m, i, NULL, err)) return false;
    return true;
}

bool wasm_module_validate(wasm_module *m, wasm_error *err) {
    wasm_error local_err;
    if (!err) err = &local_err;
    memset(err, 0, sizeof *err);
    if (validate_module(m, err, true)) {
        m->validated = true;
        return true;
    }
    if (err->kind == WASM_ERR_INVALID) prefer_malformed(m, err);
    return false;
}

bool wasm_module_validate_and_compile(wasm_module *m, wasm_error *err) {
    memset(err, 0, sizeof *err);
    if (validate_module(m, err, false) && wasm_compile_module(m, err)) {
        m->validated = true;
        return true;
    }
    if (err->kind == WASM_ERR_INVALID) prefer_malformed(m, err);
    return false;
}
