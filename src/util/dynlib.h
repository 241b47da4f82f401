/*
 * dynlib.h - private to util/: the libraries that util_dynlib_load opens,
 * and every function wasp takes from each, as X-macro lists. dynlib.c
 * makes a slot per function and fills it; dynlib_stubs.c makes a stub per
 * function that jumps through its slot.
 *
 * build/wasp is not linked with these libraries, so a function called in
 * src/ but missing here makes its link fail with "undefined reference to
 * FUNCTION": add the function to its library's list. Only functions can
 * be listed: a stub is code. A library's data cannot be reached this way;
 * an "undefined reference to h2o__tokens" comes from h2o's H2O_TOKEN_*
 * macros, which are addresses in it: http.c adds headers by name instead.
 */
#ifndef WASP_UTIL_DYNLIB_H
#define WASP_UTIL_DYNLIB_H

#include "util/util.h"

/* libh2o-evloop: the HTTP front end (src/server/http.c) */
#define UTIL_DYNLIB_H2O_FUNCS(F)                                                                   \
    F(h2o_accept)                                                                                  \
    F(h2o_add_header_by_str)                                                                       \
    F(h2o_buffer_consume)                                                                          \
    F(h2o_config_dispose)                                                                          \
    F(h2o_config_init)                                                                             \
    F(h2o_config_register_host)                                                                    \
    F(h2o_config_register_path)                                                                    \
    F(h2o_context_init)                                                                            \
    F(h2o_context_request_shutdown)                                                                \
    F(h2o_create_handler)                                                                          \
    F(h2o_evloop_create)                                                                           \
    F(h2o_evloop_run)                                                                              \
    F(h2o_evloop_socket_accept)                                                                    \
    F(h2o_evloop_socket_create)                                                                    \
    F(h2o_mem_alloc_pool)                                                                          \
    F(h2o_mem_alloc_shared)                                                                        \
    F(h2o_send)                                                                                    \
    F(h2o_send_inline)                                                                             \
    F(h2o_socket_close)                                                                            \
    F(h2o_socket_get_fd)                                                                           \
    F(h2o_socket_read_start)                                                                       \
    F(h2o_socket_read_stop)                                                                        \
    F(h2o_start_response)                                                                          \
    F(h2o_strdup)                                                                                  \
    F(h2o_timeout_init)                                                                            \
    F(h2o_timeout_dispose)                                                                         \
    F(h2o_find_header_by_str)                                                                      \
    F(h2o_timeout_link)                                                                            \
    F(h2o_timeout_unlink)

/* libcurl: outbound HTTP (src/host/http_out.c) */
#define UTIL_DYNLIB_CURL_FUNCS(F)                                                                  \
    F(curl_easy_cleanup)                                                                           \
    F(curl_easy_getinfo)                                                                           \
    F(curl_easy_init)                                                                              \
    F(curl_easy_reset)                                                                             \
    F(curl_easy_setopt)                                                                            \
    F(curl_easy_strerror)                                                                          \
    F(curl_free)                                                                                   \
    F(curl_global_init)                                                                            \
    F(curl_multi_add_handle)                                                                       \
    F(curl_multi_cleanup)                                                                          \
    F(curl_multi_info_read)                                                                        \
    F(curl_multi_init)                                                                             \
    F(curl_multi_remove_handle)                                                                    \
    F(curl_multi_setopt)                                                                           \
    F(curl_multi_socket_action)                                                                    \
    F(curl_share_cleanup)                                                                          \
    F(curl_share_init)                                                                             \
    F(curl_share_setopt)                                                                           \
    F(curl_slist_append)                                                                           \
    F(curl_slist_free_all)                                                                         \
    F(curl_url)                                                                                    \
    F(curl_url_cleanup)                                                                            \
    F(curl_url_get)                                                                                \
    F(curl_url_set)                                                                                \
    F(curl_url_strerror)

/* libpq: PostgreSQL databases (src/host/sql_pg.c) */
#define UTIL_DYNLIB_PQ_FUNCS(F)                                                                    \
    F(PQcancel)                                                                                    \
    F(PQclear)                                                                                     \
    F(PQcmdStatus)                                                                                 \
    F(PQcmdTuples)                                                                                 \
    F(PQconnectPoll)                                                                               \
    F(PQconnectStartParams)                                                                        \
    F(PQconsumeInput)                                                                              \
    F(PQenterPipelineMode)                                                                         \
    F(PQerrorMessage)                                                                              \
    F(PQexitPipelineMode)                                                                          \
    F(PQfinish)                                                                                    \
    F(PQfname)                                                                                     \
    F(PQfreeCancel)                                                                                \
    F(PQfreemem)                                                                                   \
    F(PQftype)                                                                                     \
    F(PQgetCancel)                                                                                 \
    F(PQgetResult)                                                                                 \
    F(PQgetisnull)                                                                                 \
    F(PQgetlength)                                                                                 \
    F(PQgetvalue)                                                                                  \
    F(PQisBusy)                                                                                    \
    F(PQnfields)                                                                                   \
    F(PQnotifies)                                                                                  \
    F(PQntuples)                                                                                   \
    F(PQparameterStatus)                                                                           \
    F(PQpipelineSync)                                                                              \
    F(PQresultErrorField)                                                                          \
    F(PQresultErrorMessage)                                                                        \
    F(PQresultStatus)                                                                              \
    F(PQsendPrepare)                                                                               \
    F(PQsendQuery)                                                                                 \
    F(PQsendQueryPrepared)                                                                         \
    F(PQsetNoticeProcessor)                                                                        \
    F(PQsetSingleRowMode)                                                                          \
    F(PQsocket)                                                                                    \
    F(PQstatus)                                                                                    \
    F(PQtransactionStatus)                                                                         \
    F(PQunescapeBytea)

/* libsqlite3: the embedded key-value and SQL backends (src/host/kv_sqlite.c, sql_sqlite.c) */
#define UTIL_DYNLIB_SQLITE_FUNCS(F)                                                                \
    F(sqlite3_bind_blob)                                                                           \
    F(sqlite3_bind_blob64)                                                                         \
    F(sqlite3_bind_double)                                                                         \
    F(sqlite3_bind_int64)                                                                          \
    F(sqlite3_bind_null)                                                                           \
    F(sqlite3_bind_parameter_count)                                                                \
    F(sqlite3_bind_text64)                                                                         \
    F(sqlite3_busy_handler)                                                                        \
    F(sqlite3_changes64)                                                                           \
    F(sqlite3_clear_bindings)                                                                      \
    F(sqlite3_close)                                                                               \
    F(sqlite3_close_v2)                                                                            \
    F(sqlite3_column_blob)                                                                         \
    F(sqlite3_column_bytes)                                                                        \
    F(sqlite3_column_count)                                                                        \
    F(sqlite3_column_double)                                                                       \
    F(sqlite3_column_int64)                                                                        \
    F(sqlite3_column_name)                                                                         \
    F(sqlite3_column_text)                                                                         \
    F(sqlite3_column_type)                                                                         \
    F(sqlite3_db_config)                                                                           \
    F(sqlite3_errmsg)                                                                              \
    F(sqlite3_errstr)                                                                              \
    F(sqlite3_exec)                                                                                \
    F(sqlite3_extended_result_codes)                                                               \
    F(sqlite3_finalize)                                                                            \
    F(sqlite3_free)                                                                                \
    F(sqlite3_get_autocommit)                                                                      \
    F(sqlite3_hard_heap_limit64)                                                                   \
    F(sqlite3_limit)                                                                               \
    F(sqlite3_open_v2)                                                                             \
    F(sqlite3_prepare_v2)                                                                          \
    F(sqlite3_prepare_v3)                                                                          \
    F(sqlite3_progress_handler)                                                                    \
    F(sqlite3_reset)                                                                               \
    F(sqlite3_set_authorizer)                                                                      \
    F(sqlite3_step)                                                                                \
    F(sqlite3_stricmp)                                                                             \
    F(sqlite3_threadsafe)                                                                          \
    F(sqlite3_total_changes64)

/* libyaml: manifests (src/server/manifest.c) */
#define UTIL_DYNLIB_YAML_FUNCS(F)                                                                  \
    F(yaml_document_delete)                                                                        \
    F(yaml_document_get_node)                                                                      \
    F(yaml_document_get_root_node)                                                                 \
    F(yaml_parser_delete)                                                                          \
    F(yaml_parser_initialize)                                                                      \
    F(yaml_parser_load)                                                                            \
    F(yaml_parser_set_input_file)

/* libhiredis: Redis stores (src/host/kv_redis.c), streams (src/pipe/redis.c) */
#define UTIL_DYNLIB_HIREDIS_FUNCS(F)                                                               \
    F(freeReplyObject)                                                                             \
    F(redisAppendCommandArgv)                                                                      \
    F(redisBufferRead)                                                                             \
    F(redisBufferWrite)                                                                            \
    F(redisConnectNonBlock)                                                                        \
    F(redisConnectWithTimeout)                                                                     \
    F(redisEnableKeepAlive)                                                                        \
    F(redisFree)                                                                                   \
    F(redisGetReply)                                                                               \
    F(redisSetTimeout)                                                                             \
    F(redisvAppendCommand)

/* L(bit, soname, Debian package, what wasp uses it for, function list).
 * The sonames are the ones Debian 12 installs; a library of another major
 * version is another ABI, so no other name is tried. */
#define UTIL_DYNLIB_LIBS(L)                                                                        \
    L(UTIL_LIB_H2O, "libh2o-evloop.so.0.13", "libh2o-evloop0.13", "the HTTP front end",            \
      UTIL_DYNLIB_H2O_FUNCS)                                                                       \
    L(UTIL_LIB_CURL, "libcurl.so.4", "libcurl4", "outbound HTTP", UTIL_DYNLIB_CURL_FUNCS)          \
    L(UTIL_LIB_PQ, "libpq.so.5", "libpq5", "PostgreSQL databases", UTIL_DYNLIB_PQ_FUNCS)           \
    L(UTIL_LIB_SQLITE, "libsqlite3.so.0", "libsqlite3-0", "SQLite stores and databases",           \
      UTIL_DYNLIB_SQLITE_FUNCS)                                                                    \
    L(UTIL_LIB_YAML, "libyaml-0.so.2", "libyaml-0-2", "manifests", UTIL_DYNLIB_YAML_FUNCS)         \
    L(UTIL_LIB_HIREDIS, "libhiredis.so.0.14", "libhiredis0.14", "Redis stores and streams",        \
      UTIL_DYNLIB_HIREDIS_FUNCS)

/* Where a stub goes when its slot is still empty: prints which function
 * was called before util_dynlib_load opened its library (a bug in wasp:
 * the code path that called it did not load what it uses) and aborts.
 * A stub cannot return an error in its function's own terms, so it stops. */
__attribute__((noreturn)) void util_dynlib_unbound(void *const *slot);

#endif
