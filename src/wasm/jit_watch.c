/* Stopping compiled code: where the ticker and wasm_interrupt() store.
 *
 * Compiled code has one check at function entries and loop headers: the
 * stack pointer against ctx->stack_limit, a load and a compare (V8 folds
 * its interrupts into its stack check the same way). The check at an
 * entry is needed anyway to turn stack exhaustion into a trap; the one at
 * a loop header cannot fail on the stack and is there to be stopped. To
 * stop a call, a deadline or time slice that is over or an interruption
 * stores WASM_JIT_POKED into the running context's limit: every check then
 * takes its slow path (wasm_jit_check), which puts the limit back and
 * finds out why.
 *
 * So each thread publishes the context of the compiled call running on
 * it (its innermost, since a host function may call into Wasm again) and
 * the epoch at which its deadline or time slice ends. The ticker pokes, at
 * each tick, every context whose thread's check point has passed; it keeps
 * doing so while it stays passed, so a poke that the thread overwrote
 * (setting the limit afresh after a host call) is made again a tick later,
 * and the threads take no care of the ticker. wasm_interrupt() pokes every
 * running context at once: interruptions are rare, and the slow path of a
 * context that runs another instance finds nothing and goes on.
 *
 * A context lives in a frame on the stack it describes; the per-thread
 * lock makes sure that the ticker never stores into one whose frame is
 * gone: a thread changes its published context under it, and the ticker
 * stores under it. */
#include <pthread.h>

#include "wasm/internal.h"

typedef struct watch {
    pthread_mutex_t lock; /* guards ctx against the pokers */
    wasm_jit_ctx *ctx;    /* the running compiled call's, or NULL */
    uint64_t check_at;    /* the thread's check point (atomic) */
    bool listed;
    struct watch *prev, *next; /* under list_lock */
} watch;

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static watch *list;

/* In thread-local storage, which stays until the thread's key destructors
 * have run: the destructor takes it off the list first. */
static _Thread_local watch self = {PTHREAD_MUTEX_INITIALIZER, NULL, UINT64_MAX, false, NULL, NULL};
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void unlist(void *w_) {
    watch *w = w_;
    pthread_mutex_lock(&list_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        list = w->next;
    if (w->next) w->next->prev = w->prev;
    w->listed = false;
    pthread_mutex_unlock(&list_lock);
}

static void key_create(void) {
    pthread_key_create(&key, unlist);
}

/* Puts this thread on the list, once. */
static void enlist(void) {
    pthread_once(&key_once, key_create);
    pthread_mutex_lock(&list_lock);
    self.prev = NULL;
    self.next = list;
    if (list) list->prev = &self;
    list = &self;
    self.listed = true;
    pthread_mutex_unlock(&list_lock);
    pthread_setspecific(key, &self);
}

static void poke(wasm_jit_ctx *ctx) {
    __atomic_store_n(&ctx->stack_limit, (const void *)WASM_JIT_POKED, __ATOMIC_SEQ_CST);
}

wasm_jit_ctx *wasm_jit_watch(wasm_jit_ctx *ctx) {
    wasm_jit_ctx *was = self.ctx;
    if (ctx == was) return was;
    if (!self.listed) enlist();
    pthread_mutex_lock(&self.lock);
    self.ctx = ctx;
    pthread_mutex_unlock(&self.lock);
    return was;
}

wasm_jit_ctx *wasm_jit_watching(void) {
    return self.ctx;
}

/* The ticker pokes for as long as the point stays passed, so seeing a new
 * one a tick late costs nothing; wasm_jit_enter compares the thread's own
 * value itself. Sequentially consistent all the same, for the ticker's
 * sleep (interp.c): a thread stores its point, then looks whether the
 * ticker sleeps; the ticker says it sleeps, then looks at every point.
 * One of the two sees the other's store. Every thread that publishes a
 * point is listed, interpreted or not, so that the ticker sees it. */
void wasm_jit_watch_until(uint64_t check_at) {
    if (!self.listed) enlist();
    __atomic_store_n(&self.check_at, check_at, __ATOMIC_SEQ_CST);
}

/* Pokes the running context of every listed thread for which `due`
 * holds; under list_lock, so no thread leaves meanwhile. Whether any
 * thread has a check point at all. */
static bool poke_where(bool all, uint64_t epoch) {
    bool any = false;
    pthread_mutex_lock(&list_lock);
    for (watch *w = list; w; w = w->next) {
        uint64_t at = __atomic_load_n(&w->check_at, __ATOMIC_SEQ_CST);
        any |= at != UINT64_MAX;
        if (!all && at > epoch) continue;
        pthread_mutex_lock(&w->lock);
        if (w->ctx) poke(w->ctx);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_unlock(&list_lock);
    return any;
}

bool wasm_jit_poke_due(uint64_t epoch) {
    return poke_where(false, epoch);
}

void wasm_jit_poke_all(void) {
    (void)poke_where(true, 0);
}
