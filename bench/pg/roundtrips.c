/*
 * roundtrips.c - what the PostgreSQL row of `make bench-http` could reach at
 * most on this machine: 8 client threads (the pool size of the row), each
 * with one libpq connection, run the row's query (a prepared
 * `SELECT v FROM bench WHERE id = $1`) in a loop for 4 seconds, alone or
 * followed by a second round trip: wasp's per-request reset (sql_pg.c: its
 * statements prepared once and piped), the simple-query reset it sent
 * before, parts of that, DISCARD ALL or a bare `SELECT 1`; or with the
 * reset (or `SELECT 1`) piped with the query in one round trip (libpq's
 * pipeline mode). Prints queries per second. No HTTP, no Wasm: the
 * server's and the round trips' own cost.
 *
 *   bash bench/pg/roundtrips.sh        (starts PostgreSQL, builds and runs this)
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define THREADS 8
#define SECONDS 4

/* The reset's statements one by one, for pipeline mode (which takes one
 * statement per query). */
static const char *const reset_parts[] = {
    "SET SESSION AUTHORIZATION DEFAULT",
    "RESET ROLE",
    "RESET ALL",
    "CLOSE ALL",
    "UNLISTEN *",
    "SELECT pg_advisory_unlock_all()",
    "DISCARD TEMP",
    "DISCARD SEQUENCES",
    "SELECT count(*) FROM pg_prepared_statements WHERE from_sql",
    NULL};
static const char *const select1_parts[] = {"SELECT 1", NULL};

static const struct {
    const char *label, *sql;  /* sql: the second round trip, NULL for none */
    const char *const *piped; /* statements sent before the query in the same round trip */
    int unprepared;           /* the query parsed each time (unnamed), as after DISCARD ALL */
    int prepared_reset;       /* the reset's statements prepared once, then piped as piped */
} modes[] = {
    {"query alone", NULL},
    /* the reset wasp sent as one simple query until it prepared it */
    {"query + the simple-query reset (wasp's before)",
     "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET ALL; CLOSE ALL; UNLISTEN *;"
     " SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;"
     " SELECT count(*) FROM pg_prepared_statements WHERE from_sql"},
    {"query + the reset without its prepared-statement count",
     "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET ALL; CLOSE ALL; UNLISTEN *;"
     " SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES"},
    {"query + SELECT 1", "SELECT 1"},
    {"reset piped before the query (one round trip)", NULL, reset_parts},
    {"SELECT 1 piped before the query (one round trip)", NULL, select1_parts},
    /* DISCARD ALL drops the prepared statements too: the query is parsed each time */
    {"query unprepared + DISCARD ALL", "DISCARD ALL", NULL, 1},
    {"query unprepared alone", NULL, NULL, 1},
    {"reset prepared once, piped after the query (one round trip)", NULL, reset_parts, 0, 1},
    /* what sql_pg.c does (its reset_stmts, schema-qualified there) */
    {"query + wasp's reset: prepared once, piped (second round trip)", NULL, reset_parts, 0, 2},
};

/* The statements of piped, then the query, in pipeline mode with one Sync:
 * one round trip. With `prepared`, the query first, then the statements
 * prepared as r0, r1, ... */
static void run_piped(PGconn *c, const char *const *piped, const char *param, int prepared) {
    PQenterPipelineMode(c);
    if (prepared == 2) { /* the query in a round trip of its own first */
        PQexitPipelineMode(c);
        PGresult *r = PQexecPrepared(c, "q", 1, &param, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "roundtrips: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
        PQenterPipelineMode(c);
    } else if (prepared) {
        PQsendQueryPrepared(c, "q", 1, &param, NULL, NULL, 0);
    }
    if (prepared) {
        char name[16];
        for (int i = 0; piped[i]; i++) {
            snprintf(name, sizeof name, "r%d", i);
            PQsendQueryPrepared(c, name, 0, NULL, NULL, NULL, 0);
        }
    } else {
        for (const char *const *q = piped; *q; q++)
            PQsendQueryParams(c, *q, 0, NULL, NULL, NULL, NULL, 0);
        PQsendQueryPrepared(c, "q", 1, &param, NULL, NULL, 0);
    }
    PQpipelineSync(c);
    for (;;) {
        PGresult *r = PQgetResult(c);
        if (!r) continue; /* the end of one statement's results */
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) break;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            fprintf(stderr, "roundtrips: %s", PQerrorMessage(c));
            exit(1);
        }
    }
    PQexitPipelineMode(c);
}

static const char *conninfo;
static int mode;
static volatile int stop;
static long counts[THREADS];

static void *run(void *arg) {
    long id = (long)arg;
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "roundtrips: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(PQprepare(c, "q", "SELECT v FROM bench WHERE id = $1", 1, NULL));
    if (modes[mode].prepared_reset) {
        char name[16];
        for (int i = 0; modes[mode].piped[i]; i++) {
            snprintf(name, sizeof name, "r%d", i);
            PGresult *r = PQprepare(c, name, modes[mode].piped[i], 0, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "roundtrips: prepare %s: %s", modes[mode].piped[i],
                        PQerrorMessage(c));
                exit(1);
            }
            PQclear(r);
        }
    }
    unsigned seed = (unsigned)id;
    char buf[16];
    while (!stop) {
        snprintf(buf, sizeof buf, "%d", (int)(rand_r(&seed) % 1000) + 1);
        const char *p = buf;
        if (modes[mode].piped) {
            run_piped(c, modes[mode].piped, p, modes[mode].prepared_reset);
            counts[id]++;
            continue;
        }
        PGresult *r = modes[mode].unprepared ? PQexecParams(c, "SELECT v FROM bench WHERE id = $1",
                                                            1, NULL, &p, NULL, NULL, 0)
                                             : PQexecPrepared(c, "q", 1, &p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "roundtrips: %s", PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
        if (modes[mode].sql) {
            PQsendQuery(c, modes[mode].sql);
            while ((r = PQgetResult(c)))
                PQclear(r);
        }
        counts[id]++;
    }
    PQfinish(c);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr,
                "usage: roundtrips CONNINFO (a table bench(id int, v text) of 1,000 rows)\n");
        return 2;
    }
    conninfo = argv[1];
    for (mode = 0; mode < (int)(sizeof modes / sizeof modes[0]); mode++) {
        pthread_t t[THREADS];
        stop = 0;
        for (long i = 0; i < THREADS; i++) {
            counts[i] = 0;
            pthread_create(&t[i], NULL, run, (void *)i);
        }
        sleep(SECONDS);
        stop = 1;
        long sum = 0;
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            sum += counts[i];
        }
        printf("%-56s %8ld /s\n", modes[mode].label, sum / SECONDS);
    }
    return 0;
}
