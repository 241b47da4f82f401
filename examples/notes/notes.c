/*
 * notes.c - a small notes API on wasp's capabilities: a key-value store
 * (the notes and the id counter), a variable (the greeting header) and the
 * structured log. Served at /notes/... by examples/serve/wasp.yaml with the
 * store in an SQLite file next to the manifest.
 *
 *   POST   /notes/       body = the note's text   -> 201 {"id":N}
 *   GET    /notes/       -> 200 {"ids":[1,10,2,...]} (in key order)
 *   GET    /notes/N      -> 200 the text, or 404
 *   DELETE /notes/N      -> 204, or 404
 *
 * Every answer carries `X-Greeting: <the variable greeting>`. Store errors
 * (say, Redis down when the store is configured as Redis) become 503 with
 * the store's message, so a client can tell them from its own mistakes.
 */
#include "wasp.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NOTE_MAX (64 * 1024)

static char text[NOTE_MAX];
static char list[256 * 1024];

static int answer(int status, const char *body) {
    wasp_status(status);
    wasp_set_header("Content-Type", "application/json");
    wasp_write_str(body);
    return 0;
}

/* 503 with the store's own message (as JSON). */
static int store_failed(void) {
    char msg[400], out[512];
    int32_t n = wasp_err_message(msg, sizeof msg - 1);
    msg[n < 0 ? 0 : (size_t)n < sizeof msg - 1 ? (size_t)n : sizeof msg - 1] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < ' ') *p = '\'';
    snprintf(out, sizeof out, "{\"error\":\"%s\"}", msg);
    wasp_log_str(WASP_LOG_ERROR, msg);
    return answer(503, out);
}

/* The id after "/notes/" in the request target, or 0 when there is none
 * (or it is not a positive number). */
static long note_id(void) {
    char uri[256];
    int32_t n = wasp_uri(uri, sizeof uri - 1);
    if (n < 0 || (size_t)n >= sizeof uri - 1) return -1;
    uri[n] = '\0';
    char *q = strchr(uri, '?');
    if (q) *q = '\0';
    const char *p = strstr(uri, "/notes");
    if (!p) return -1;
    p += 6;
    if (*p == '/') p++;
    if (!*p) return 0;
    long id = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || id > 100000000) return -1;
        id = id * 10 + (*p - '0');
    }
    return id > 0 ? id : -1;
}

WASP_HANDLER int wasp_handle(void) {
    char greeting[128];
    if (wasp_var("greeting", greeting, sizeof greeting) >= 0)
        wasp_set_header("X-Greeting", greeting);
    int32_t kv = wasp_kv_open("notes", 5);
    if (kv < 0) return store_failed();
    long id = note_id();
    if (id < 0) return answer(404, "{\"error\":\"no such route: use /notes/ or /notes/N\"}");
    char key[32];
    int klen = snprintf(key, sizeof key, "note:%ld", id);

    if (id == 0 && wasp_method_is("POST")) {
        size_t len = wasp_body_read_all(text, sizeof text);
        if (len > sizeof text) return answer(413, "{\"error\":\"a note holds at most 64 KiB\"}");
        int64_t next;
        if (wasp_kv_incr(kv, "next_id", 7, 1, &next) != 0) return store_failed();
        klen = snprintf(key, sizeof key, "note:%lld", (long long)next);
        if (wasp_kv_set(kv, key, (size_t)klen, text, len, 0) != 0) return store_failed();
        char out[64], line[96];
        snprintf(out, sizeof out, "{\"id\":%lld}", (long long)next);
        snprintf(line, sizeof line, "created note %lld (%zu bytes)", (long long)next, len);
        wasp_log_str(WASP_LOG_INFO, line);
        return answer(201, out);
    }
    if (id == 0 && wasp_method_is("GET")) {
        int32_t n = wasp_kv_list(kv, "note:", 5, list, sizeof list);
        if (n < 0) return store_failed();
        size_t len = (size_t)n < sizeof list ? (size_t)n : sizeof list, pos = 0, klen2;
        const char *k;
        char out[sizeof list / 2 + 16];
        size_t o = (size_t)snprintf(out, sizeof out, "{\"ids\":[");
        int first = 1;
        while (wasp_kv_next(list, len, &pos, &k, &klen2) && o + 24 < sizeof out) {
            if (!first) out[o++] = ',';
            first = 0;
            memcpy(out + o, k + 5, klen2 - 5); /* the digits after "note:" */
            o += klen2 - 5;
        }
        snprintf(out + o, sizeof out - o, "]}");
        return answer(200, out);
    }
    if (id > 0 && wasp_method_is("GET")) {
        int32_t n = wasp_kv_get(kv, key, (size_t)klen, text, sizeof text);
        if (n == -1) return answer(404, "{\"error\":\"no such note\"}");
        if (n < 0) return store_failed();
        wasp_set_header("Content-Type", "text/plain; charset=utf-8");
        wasp_write(text, (size_t)n < sizeof text ? (size_t)n : sizeof text);
        return 0;
    }
    if (id > 0 && wasp_method_is("DELETE")) {
        int32_t n = wasp_kv_delete(kv, key, (size_t)klen);
        if (n < 0) return store_failed();
        if (n == 0) return answer(404, "{\"error\":\"no such note\"}");
        wasp_status(204);
        return 0;
    }
    wasp_set_header("Allow", id ? "GET, DELETE" : "GET, POST");
    return answer(405, "{\"error\":\"method not allowed\"}");
}
