/*
 * test_sqlparams.c - the decoder of sql_exec's parameter list (bytes a
 * guest wrote): well-formed lists decode to the values they hold, and every
 * kind of malformed list is refused rather than read past its end.
 */
#include <string.h>

#include "host/host.h"
#include "server/internal.h"
#include "unit.h"

TEST(sqlparams_decodes_every_type) {
    /* 5 values: NULL, INT 42, FLOAT 1.5, TEXT "hi", BLOB {0, 1} */
    const uint8_t p[] = {5, 0,  0, 0, 0,                       /* NULL */
                         1, 42, 0, 0, 0, 0,   0,   0,    0,    /* INT */
                         2, 0,  0, 0, 0, 0,   0,   0xf8, 0x3f, /* FLOAT 1.5 */
                         3, 2,  0, 0, 0, 'h', 'i',             /* TEXT */
                         4, 2,  0, 0, 0, 0,   1};              /* BLOB */
    host_sql_value v[8];
    size_t n = 0;
    REQUIRE(srv_sql_params_decode(p, sizeof p, v, 8, &n));
    CHECK_EQ_U64(n, 5);
    CHECK_EQ_U64(v[0].type, HOST_SQL_NULL);
    CHECK_EQ_S64(v[1].i, 42);
    CHECK(v[2].f == 1.5);
    CHECK_EQ_U64(v[3].len, 2);
    CHECK_MEM(v[3].p, "hi", 2);
    CHECK_EQ_U64(v[4].type, HOST_SQL_BLOB);
    CHECK_MEM(v[4].p, "\0\1", 2);
    /* no parameters at all: an empty list */
    CHECK(srv_sql_params_decode(p, 0, v, 8, &n));
    CHECK_EQ_U64(n, 0);
}

TEST(sqlparams_refuses_malformed_lists) {
    host_sql_value v[4];
    size_t n;
    /* shorter than the count */
    CHECK(!srv_sql_params_decode(BYTES(1, 0), v, 4, &n));
    /* a count with no values behind it */
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0), v, 4, &n));
    /* more values than allowed */
    CHECK(!srv_sql_params_decode(BYTES(5, 0, 0, 0, 0, 0, 0, 0, 0), v, 4, &n));
    /* an unknown type */
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0, 9), v, 4, &n));
    /* an INT cut short */
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0, 1, 1, 2, 3), v, 4, &n));
    /* a TEXT whose length runs past the end, even by a huge length */
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0, 3, 5, 0, 0, 0, 'a'), v, 4, &n));
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff, 'a'), v, 4, &n));
    /* bytes left over after the last value */
    CHECK(!srv_sql_params_decode(BYTES(1, 0, 0, 0, 0, 7), v, 4, &n));
}
