/*
 * http_client.h — the engine's HTTP client: one request at a time per
 * call, many calls at once, made with libcurl's multi interface on the
 * engine's libuv loop. The http and llm step kinds are built on it; it
 * knows nothing about steps, only requests and their ends.
 *
 * A call is a request (STYLE.md §3), its handle a cairn__http_xfer: made
 * by cairn__http_call, it ends exactly once, by its callback, on a later loop turn than the one that
 * made it (never from inside cairn__http_call, cairn__http_cancel, or
 * another call's callback). The client frees the call after its callback
 * returns. The engine has one client, made on the first call and ended
 * by cairn__http_close.
 */
#ifndef CAIRN_ENGINE_HTTP_CLIENT_H
#define CAIRN_ENGINE_HTTP_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cairn_engine cairn_engine;
typedef struct cairn__http_xfer cairn__http_xfer;

/* One request header. */
typedef struct cairn__http_header {
  const char *name;        /* an RFC 9110 token (the caller checks) */
  const char *value;       /* one line; NULL: not sent, not even when
                              curl would add it itself; "": sent empty */
} cairn__http_header;

/* What to send. Everything is copied by cairn__http_call. */
typedef struct cairn__http_request {
  const char *method;      /* GET POST PUT PATCH DELETE HEAD */
  const char *url;         /* http:// or https:// (cairn__http_url_check) */
  const cairn__http_header *headers;
  size_t n_headers;
  const char *body;        /* NULL: no body */
  size_t body_len;
  int64_t timeout_ms;      /* the whole exchange; must be > 0 */
  bool follow_redirects;   /* up to 5, to http(s) URLs only */
  size_t max_body;         /* response bytes kept; more ends TOO_LARGE */
} cairn__http_request;

/* How a call ended. */
typedef enum cairn__http_end {
  CAIRN__HTTP_RESPONSE = 1, /* a complete response, whatever its status */
  CAIRN__HTTP_FAILED = 2,   /* no response: refused, reset, DNS, TLS... */
  CAIRN__HTTP_TIMEOUT = 3,  /* no complete response within timeout_ms */
  CAIRN__HTTP_TOO_LARGE = 4, /* the body passed max_body */
  CAIRN__HTTP_CANCELLED = 5, /* cairn__http_cancel, or the engine closed */
  CAIRN__HTTP_NOT_SENT = 6  /* made without a request (see below) */
} cairn__http_end;

/* The end of a call, as its callback sees it. Borrowed: valid during the
 * callback only. */
typedef struct cairn__http_result {
  int end;                 /* cairn__http_end */
  long status;             /* RESPONSE: the HTTP status */
  const cJSON *headers;    /* RESPONSE: {"lowercased-name": "value"};
                              repeated headers joined with ", " */
  const char *body;        /* RESPONSE: the body, NUL-terminated ("" when
                              empty; it may hold other NULs) */
  size_t body_len;
  const char *error;       /* FAILED, TIMEOUT: what curl said */
  const char *hint;        /* FAILED: what to check, for a message */
  int curl_code;           /* FAILED: curl's error number */
  bool permanent;          /* FAILED: another attempt cannot fix it (a bad
                              URL, too many redirects, a certificate) */
} cairn__http_result;

typedef void (*cairn__http_done_cb)(void *ctx, const cairn__http_result *r);

/*
 * Sends `req` (copied) and calls cb(ctx, result) once when it ends. With
 * req NULL nothing is sent and cb gets CAIRN__HTTP_NOT_SENT on a later
 * turn: a step kind that fails before sending (a bad input) reports
 * through the same path, never from inside its start function.
 * *out (may be NULL) receives the call, for cairn__http_cancel; it is
 * valid until cb returns. Returns 0 (cb will be called) or CAIRN_ENOMEM
 * (cb will not be called; the engine's errmsg says why).
 */
/* Ends the engine's client (the http kind's close hook): what is still
 * in flight is cancelled and reported, curl is cleaned up and its handles
 * closed; the loop must run once more before uv_loop_close. No client:
 * no-op. */
void cairn__http_close(cairn_engine *e);

int cairn__http_call(cairn_engine *e, const cairn__http_request *req,
                     cairn__http_done_cb cb, void *ctx,
                     cairn__http_xfer **out);

/* Stops a call: its callback gets CAIRN__HTTP_CANCELLED on a later turn.
 * A call that ended already (its callback pending) is left as it is. */
void cairn__http_cancel(cairn__http_xfer *c);

/* Checks that `url` is an http(s) URL. Returns 0 and *shown (malloc'ed):
 * the URL for messages, without credentials, query ("?..." instead) and
 * fragment, which often hold secrets; CAIRN_EINVAL with what is wrong in
 * err; or CAIRN_ENOMEM. */
int cairn__http_url_check(const char *url, char **shown, char *err,
                          size_t errlen);

/* Text helpers for what servers send. */
/* Whether s[0..n) is UTF-8 without NUL bytes. */
bool cairn__utf8_valid(const char *s, size_t n);
/* A copy of at most `max` bytes of s[0..n), cut on a character boundary,
 * with what is not UTF-8 (and NUL) replaced by '?'; *cut (may be NULL)
 * tells whether bytes were left. NULL when out of memory; free(). */
char *cairn__text_dup(const char *s, size_t n, size_t max, bool *cut);

#endif /* CAIRN_ENGINE_HTTP_CLIENT_H */
