/*
 * server_internal.h — the state `cairn serve` shares between its files:
 *
 *   server.c    libmicrohttpd on the engine's libuv loop, connections,
 *               tokens, the access log, graceful stop
 *   api.c       the handlers: one per route, answering present/ objects
 *   events.c    Server-Sent Events: a run's events, and run changes
 *   request.c   routes and bodies (pure; fuzzed)
 *
 * Everything runs on the loop thread: libmicrohttpd is driven from a
 * uv_poll on its epoll fd (no thread of its own), so handlers read the
 * journal and call the engine without locks, and writes join the engine's
 * group commit (cairn_engine_start_async) or commit on the loop thread.
 */
#ifndef CAIRN_SERVER_INTERNAL_H
#define CAIRN_SERVER_INTERNAL_H

#include "present.h"
#include "request.h"
#include "server.h"

#include <cairn/cairn.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <uv.h>

typedef struct token {
  char name[129];             /* the actor in audit records */
  unsigned char hash[32];     /* SHA-256 of the secret */
  char ns[CAIRN_NAMESPACE_MAX + 1];
  int role;
} token;

typedef struct conn conn;

typedef struct srv {
  server_options o;
  cairn_engine *e;
  cairn_journal *j;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_timer_t beat;            /* SSE keep-alive comments */
  uv_signal_t sigterm, sigint;
  token *tokens;
  size_t n_tokens;
  size_t max_body;
  conn *sse;                  /* suspended SSE connections */
  size_t in_flight;           /* requests being answered */
  bool stopping;
} srv;

/* One request. */
struct conn {
  srv *s;
  struct MHD_Connection *c;
  char method[8];
  char path[512];
  char *body;
  size_t len, cap;
  bool too_big;
  int64_t t0_us;
  const token *tok;           /* NULL when no tokens are configured */
  char ns[CAIRN_NAMESPACE_MAX + 1];
  const char *actor;
  route r;
  /* an answer prepared outside the access handler (async start) */
  bool waiting;
  struct MHD_Response *ready;
  unsigned ready_status;
  /* SSE */
  bool streaming, suspended, done;
  uint64_t key;               /* the run of /events */
  uint32_t seq;               /* the last event sent */
  uint64_t sent;              /* run changes sent (follow) */
  char *pend;                 /* formatted, not yet sent */
  size_t pend_len, pend_off;
  struct seen *seen;          /* follow: runs and their states */
  size_t n_seen, cap_seen;
  bool beat;                  /* a keep-alive is due */
  conn *next_sse;
  unsigned status;            /* for the access log */
};

/* server.c */
void srv_drive(srv *s);
/* Queues `doc` (freed) as the answer with `status`. */
enum MHD_Result srv_json(conn *c, unsigned status, cJSON *doc);
/* Queues malloc'ed `text` (freed) with a content type. */
enum MHD_Result srv_text(conn *c, unsigned status, char *text,
                         const char *type);
/* The error object {"error": {code, message, hint}}; the code is the
 * status's (docs/api.md, "Errors"). */
enum MHD_Result srv_error(conn *c, unsigned status, const char *message,
                          const char *hint);
/* A cairn error code as the error object. */
enum MHD_Result srv_fail(conn *c, int rc, const char *message);
/* The error object of cairn error `rc` (message: cairn_strerror's when
 * NULL or empty), as srv_fail answers it. */
cJSON *srv_error_doc(int rc, const char *message);
/* A query argument, or NULL. */
const char *srv_arg(conn *c, const char *key);
/* Answers later: the connection is suspended until srv_answer. */
void srv_wait(conn *c);
void srv_answer(conn *c, unsigned status, cJSON *doc);

/* api.c: answers the routed request (body parsed, role checked). */
enum MHD_Result api_handle(conn *c, cJSON *body);

/* events.c */
enum MHD_Result events_run(conn *c, uint64_t key, uint32_t after);
enum MHD_Result events_follow(conn *c);
/* Something changed: wake the suspended streams. */
void events_changed(srv *s);
/* Every stream sends a keep-alive comment. */
void events_beat(srv *s);
void events_free(conn *c);

#endif
