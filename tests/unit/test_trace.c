/*
 * test_trace.c - W3C trace context as a request brings it (an untrusted
 * header): the traceparent values the spec accepts are kept, normalised to
 * their first four fields, and every malformed one is refused; a child
 * keeps the trace and flags under a new span id. And the timeline store:
 * the slowest are kept slowest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "unit.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool parses(const char *v) {
    char out[SRV_TRACEPARENT_LEN + 1];
    return srv_traceparent_parse(v, strlen(v), out);
}

TEST(traceparent_accepts_the_spec_examples) {
    char out[SRV_TRACEPARENT_LEN + 1];
    REQUIRE(srv_traceparent_parse(TP, strlen(TP), out));
    CHECK(!strcmp(out, TP));
    CHECK(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /* a later version may add fields: the first four are read */
    const char *v2 = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes";
    REQUIRE(srv_traceparent_parse(v2, strlen(v2), out));
    CHECK(!strcmp(out, "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(traceparent_refuses_malformed_values) {
    CHECK(!parses(""));
    CHECK(!parses("00"));
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));   /* short */
    CHECK(!parses(TP "-x"));                                                    /* v00 + more */
    CHECK(!parses("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  /* upper case */
    CHECK(!parses("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));  /* zero trace */
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));  /* zero parent */
    CHECK(!parses("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));  /* version ff */
    CHECK(!parses("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));  /* separator */
    CHECK(!parses("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));  /* not hex */
    CHECK(!parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x")); /* no '-' after */
}

TEST(traceparent_child_keeps_trace_and_flags) {
    char a[SRV_TRACEPARENT_LEN + 1], b[SRV_TRACEPARENT_LEN + 1], p[SRV_TRACEPARENT_LEN + 1];
    srv_traceparent_child(TP, a);
    srv_traceparent_child(TP, b);
    REQUIRE(srv_traceparent_parse(a, strlen(a), p)); /* well-formed itself */
    CHECK(!memcmp(a, TP, 36));                       /* version and trace id */
    CHECK(!strcmp(a + 53, "01"));                    /* flags */
    CHECK(memcmp(a + 36, TP + 36, 16) != 0);         /* a span id of its own */
    CHECK(memcmp(a + 36, b + 36, 16) != 0);          /* and a new one each time */
}

TEST(traces_keep_the_slowest_first_and_the_latest) {
    static srv_stats st;             /* zeroed: no app, no store yet */
    static const char app[] = "app"; /* apps are found by their name's address */
    static srv_timeline t;
    for (int i = 0; i < 40; i++) {
        memset(&t, 0, sizeof t);
        t.total_ns = (uint64_t)((i * 37) % 40) * 1000; /* 0..39 us, shuffled */
        t.t0_ns = (uint64_t)i + 1;
        snprintf(t.id, sizeof t.id, "0-%d", i);
        srv_timeline_span(&t, "request", "request", 7, t.t0_ns, t.total_ns, 200, 0);
        srv_traces_add(srv_stats_app(&st, app), &t);
    }
    srv_stats *ws[1] = {&st};
    size_t len;
    char *slow = srv_traces_render(ws, 1, app, true, 3, false, &len);
    REQUIRE(slow != NULL);
    const char *a = strstr(slow, "\"duration_us\":39.0"), *b = strstr(slow, "\"duration_us\":38.0"),
               *c = strstr(slow, "\"duration_us\":37.0");
    CHECK(a && b && c && a < b && b < c);         /* the three slowest, slowest first */
    CHECK(!strstr(slow, "\"duration_us\":36.0")); /* and no more */
    free(slow);
    char *latest = srv_traces_render(ws, 1, app, false, 2, false, &len);
    REQUIRE(latest != NULL);
    const char *l39 = strstr(latest, "\"id\":\"0-39\""), *l38 = strstr(latest, "\"id\":\"0-38\"");
    CHECK(l39 && l38 && l39 < l38); /* the last two requests, the latest first */
    CHECK(!strstr(latest, "\"id\":\"0-37\""));
    free(latest);
    char *trace = srv_traces_render(ws, 1, app, true, 1, true, &len);
    REQUIRE(trace != NULL);
    CHECK(strstr(trace, "\"ph\":\"X\"") != NULL && strstr(trace, "\"traceEvents\"") != NULL);
    free(trace);
    srv_traces_free(srv_stats_app(&st, app));
    CHECK(srv_stats_app(&st, app)->traces == NULL);
}

TEST(top_reads_malformed_metrics_without_harm) {
    /* what answers at an admin address may be anything: huge, negative,
     * NaN counts and broken labels make rows of zeros, not a crash */
    const char *text = "wasp_requests_total{app=\"a\",status=\"500\"} 1e300\n"
                       "wasp_requests_total{app=\"a\",status=\"200\"} -5\n"
                       "wasp_pool_instances{app=\"a\",state=\"busy\"} nan\n"
                       "wasp_app_memory_bytes{app=\"a\"} -1\n"
                       "wasp_request_duration_seconds_bucket{app=\"a\",le=\"0.1\"} 3\n"
                       "wasp_requests_total{app=\"b\n"
                       "{}{}} garbage\n";
    srv_top_sample *s = srv_top_parse(text);
    REQUIRE(s != NULL);
    srv_top_row rows[SRV_TOP_MAX_APPS];
    int n = srv_top_rows(NULL, s, rows, SRV_TOP_MAX_APPS);
    REQUIRE(n >= 1);
    CHECK(!strcmp(rows[0].app, "a"));
    CHECK_EQ_U64(rows[0].requests, 0); /* 1e300 - 5 is no count */
    CHECK(rows[0].in_flight == 0 && rows[0].memory_bytes == 0);
    srv_top_free(s);
}
