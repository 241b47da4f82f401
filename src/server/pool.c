/*
 * pool.c - a worker's instances of each app, as many as its requests in
 * flight need.
 *
 * A request that waits keeps its slot (linker, WASI context, instance)
 * until it finishes, so a worker needs one slot per request in flight per
 * app. A srv_wgen is a worker's share of one generation: for each app, the
 * idle slots (each instance reset to the snapshot, ready) and the count of
 * busy ones. A slot is taken per request, made when none is idle (a new
 * instance from the snapshot: about 10 µs, plus the WASI context and the
 * linker), and given back, reset, when its response has gone. Slots that
 * stayed idle through a whole trim period (srv_wgen_trim, every second) are
 * freed, down to one per app, so a burst's instances do not outlive it.
 *
 * After a reload the worker moves to the new generation's srv_wgen and
 * retires the old one, which is freed - its generation reference dropped -
 * once its last busy slot comes back: requests in flight finish on the
 * generation they started on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

typedef struct app_pool {
    srv_slot **idle;
    int nidle, cap;
    int busy;
    int low;                    /* fewest idle slots since the last trim */
    srv_queued *qhead, **qtail; /* requests waiting for a slot, oldest first */
    int nqueued;
    bool serving; /* srv_wgen_serve_begin .. _end */
} app_pool;

struct srv_wgen {
    srv_gen *gen;
    app_pool *pools; /* one per app of gen */
    bool retired;
};

srv_wgen *srv_wgen_new(srv_gen *g) {
    srv_wgen *wg = calloc(1, sizeof *wg);
    if (!wg) return NULL;
    wg->pools = calloc((size_t)g->napps + 1, sizeof *wg->pools);
    if (!wg->pools) {
        free(wg);
        return NULL;
    }
    for (int i = 0; i < g->napps; i++)
        wg->pools[i].qtail = &wg->pools[i].qhead;
    srv_gen_ref(g);
    wg->gen = g;
    return wg;
}

srv_gen *srv_wgen_gen(const srv_wgen *wg) {
    return wg->gen;
}

static void wgen_free(srv_wgen *wg) {
    for (int i = 0; i < wg->gen->napps; i++) {
        app_pool *p = &wg->pools[i];
        for (int k = 0; k < p->nidle; k++)
            srv_slot_free(p->idle[k]);
        free(p->idle);
    }
    free(wg->pools);
    srv_gen_unref(wg->gen);
    free(wg);
}

void srv_wgen_retire(srv_wgen *wg) {
    if (!wg) return;
    wg->retired = true;
    for (int i = 0; i < wg->gen->napps; i++)
        if (wg->pools[i].busy || wg->pools[i].nqueued || wg->pools[i].serving) return;
    wgen_free(wg);
}

int srv_wgen_idle(const srv_wgen *wg, int ai) {
    return wg->pools[ai].nidle;
}

int srv_wgen_busy(const srv_wgen *wg, int ai) {
    return wg->pools[ai].busy;
}

srv_slot *srv_wgen_take(srv_wgen *wg, int ai, bool *made, char *err, size_t errlen) {
    app_pool *p = &wg->pools[ai];
    srv_slot *s;
    *made = p->nidle == 0;
    if (p->nidle) {
        s = p->idle[--p->nidle];
        if (p->nidle < p->low) p->low = p->nidle;
    } else {
        s = srv_slot_new(&wg->gen->apps[ai], err, errlen);
        if (!s) return NULL;
    }
    /* keep room to give it back without failing */
    if (p->cap < p->nidle + p->busy + 1) {
        int cap = p->cap ? p->cap * 2 : 4;
        while (cap < p->nidle + p->busy + 1)
            cap *= 2;
        srv_slot **n = realloc(p->idle, (size_t)cap * sizeof *n);
        if (!n) {
            snprintf(err, errlen, "out of memory");
            if (*made)
                srv_slot_free(s);
            else
                p->idle[p->nidle++] = s;
            return NULL;
        }
        p->idle = n;
        p->cap = cap;
    }
    p->busy++;
    return s;
}

void srv_wgen_give(srv_wgen *wg, int ai, srv_slot *s) {
    app_pool *p = &wg->pools[ai];
    p->busy--;
    if (wg->retired) {
        srv_slot_free(s); /* the caller retires wg again, which frees it when this was the last */
        return;
    }
    p->idle[p->nidle++] = s; /* room kept by srv_wgen_take */
}

bool srv_wgen_warm(srv_wgen *wg, int ai, char *err, size_t errlen) {
    app_pool *p = &wg->pools[ai];
    if (p->nidle || p->busy) return true;
    bool made;
    srv_slot *s = srv_wgen_take(wg, ai, &made, err, errlen);
    if (!s) return false;
    bool ok = srv_slot_warm(s, err, errlen);
    if (ok) {
        srv_wgen_give(wg, ai, s);
        p->low = p->nidle;
    } else {
        p->busy--;
        srv_slot_free(s);
    }
    return ok;
}

bool srv_wgen_retired(const srv_wgen *wg) {
    return wg->retired;
}

void srv_wgen_enqueue(srv_wgen *wg, int ai, srv_queued *q) {
    app_pool *p = &wg->pools[ai];
    q->next = NULL;
    *p->qtail = q;
    p->qtail = &q->next;
    p->nqueued++;
}

srv_queued *srv_wgen_dequeue(srv_wgen *wg, int ai) {
    app_pool *p = &wg->pools[ai];
    srv_queued *q = p->qhead;
    if (!q) return NULL;
    p->qhead = q->next;
    if (!p->qhead) p->qtail = &p->qhead;
    p->nqueued--;
    return q;
}

void srv_wgen_unqueue(srv_wgen *wg, int ai, srv_queued *q) {
    app_pool *p = &wg->pools[ai];
    for (srv_queued **pp = &p->qhead; *pp; pp = &(*pp)->next) {
        if (*pp != q) continue;
        *pp = q->next;
        if (!*pp) p->qtail = pp;
        p->nqueued--;
        return;
    }
}

int srv_wgen_queued(const srv_wgen *wg, int ai) {
    return wg->pools[ai].nqueued;
}

bool srv_wgen_serve_begin(srv_wgen *wg, int ai) {
    if (wg->pools[ai].serving) return false;
    wg->pools[ai].serving = true;
    return true;
}

void srv_wgen_serve_end(srv_wgen *wg, int ai) {
    wg->pools[ai].serving = false;
}

int srv_wgen_trim(srv_wgen *wg, int ai) {
    app_pool *p = &wg->pools[ai];
    int freed = 0;
    /* the `low` slots at the bottom of the stack were idle all period */
    int drop = p->low - (p->busy ? 0 : 1);
    for (int k = 0; k < drop && p->nidle > 0; k++) {
        srv_slot_free(p->idle[0]);
        memmove(p->idle, p->idle + 1, (size_t)(p->nidle - 1) * sizeof *p->idle);
        p->nidle--;
        freed++;
    }
    p->low = p->nidle;
    return freed;
}
