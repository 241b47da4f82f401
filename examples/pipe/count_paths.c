/*
 * count_paths.c - a `wasp pipe` aggregate: counts requests per path per
 * minute from access2json's records, and emits one record per path and
 * minute when the minute's window closes:
 *
 *   {"minute":"07/Dec/2026:10:00","path":"/api/orders","count":42}
 *
 * The counts live in a key-value store granted as "counts" (wasp pipe
 * --kv counts=FILE.db, or a Redis store shared by many processes), not in
 * memory: every batch runs in a clean instance, and a restart or another
 * process goes on from the same counts. wasp_filter_flush closes the
 * windows that ended more than a minute before `now_ms` (late records
 * have that long), and every window at the end of the input (now_ms =
 * INT64_MAX).
 */
#include <stdio.h>
#include <string.h>

#include "wasp_filter.h"

#define GRACE_MS 60000

static int32_t store = -1;

/* Run once at load: the store must be granted. */
WASP_EXPORT(wasp_filter_init) int32_t init(void) {
    store = wasp_kv_open("counts", 6);
    if (store < 0)
        wasp_log_str(3, "count_paths needs a kv store named counts: --kv counts=FILE.db");
    return store < 0;
}

/* "n|" minute "|" path, the path as its JSON text (quotes included). */
static int count(const wasp_record *r) {
    const char *s = wasp_record_data(r), *time, *path;
    size_t n = wasp_record_len(r), tlen, plen;
    if (wasp_json_field(s, n, "time", &time, &tlen) < 0 || tlen < 19 ||
        wasp_json_field(s, n, "path", &path, &plen) < 0 || plen > 4000)
        return 1;
    char key[4100];
    size_t k = 0;
    memcpy(key, "n|", 2), k = 2;
    memcpy(key + k, time + 1, 17), k += 17; /* DD/Mon/YYYY:HH:MM */
    key[k++] = '|';
    memcpy(key + k, path, plen), k += plen;
    int64_t total;
    return wasp_kv_incr(store, key, k, 1, &total) != 0;
}

WASP_FLAT_MAP(count)

/* "DD/Mon/YYYY:HH:MM" (UTC) -> ms since 1970; -1 when malformed. */
static int64_t minute_ms(const char *m) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (!memcmp(m + 3, months + 3 * i, 3)) mon = i + 1;
    int d = (m[0] - '0') * 10 + (m[1] - '0'), y = 0;
    for (int i = 7; i < 11; i++)
        y = y * 10 + (m[i] - '0');
    int h = (m[12] - '0') * 10 + (m[13] - '0'), mi = (m[15] - '0') * 10 + (m[16] - '0');
    if (mon < 0) return -1;
    /* days from 1970-01-01 to the date (Howard Hinnant's days_from_civil) */
    y -= mon <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (unsigned)(mon + (mon > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return ((days * 24 + h) * 60 + mi) * 60000;
}

WASP_EXPORT(wasp_filter_flush) int32_t flush(int64_t now_ms) {
    static char list[1 << 20];
    int32_t len = wasp_kv_list(store, "n|", 2, list, sizeof list);
    if (len < 0) return 1;
    size_t pos = 0, klen;
    const char *key;
    while (wasp_kv_next(list, (size_t)len < sizeof list ? (size_t)len : sizeof list, &pos, &key,
                        &klen)) {
        if (klen < 21) continue;
        int64_t start = minute_ms(key + 2);
        if (now_ms != INT64_MAX && (start < 0 || start + 60000 + GRACE_MS > now_ms)) continue;
        char num[24], out[4200];
        int32_t nl = wasp_kv_get(store, key, klen, num, sizeof num - 1);
        if (nl < 0 || nl >= (int32_t)sizeof num) continue;
        num[nl] = 0;
        int o = snprintf(out, sizeof out, "{\"minute\":\"%.17s\",\"path\":%.*s,\"count\":%s}",
                         key + 2, (int)(klen - 20), key + 20, num);
        if (o < 0 || o >= (int)sizeof out || wasp_emit(out, (size_t)o) < 0) return 1;
        if (wasp_kv_delete(store, key, klen) < 0) return 1;
    }
    return 0;
}
