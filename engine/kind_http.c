/*
 * kind_http.c — the http step kind: one HTTP request per attempt, made
 * with libcurl's multi interface on the engine's libuv loop.
 *
 *   with.url            http:// or https:// (other schemes are refused,
 *                       also as redirect targets)
 *   with.method         GET POST PUT PATCH DELETE HEAD; default GET, or
 *                       POST when a body is given
 *   with.headers        {"Name": "value"} sent as given
 *   with.body           a string is sent as is (Content-Type text/plain;
 *                       charset=utf-8); any other value as compact JSON
 *                       (application/json); a Content-Type header wins;
 *                       null or absent: no body
 *   with.expect_status  a status or an array of them; default any 2xx
 *
 * Every request carries `Idempotency-Key: <run id>:<step>`, the same for
 * every attempt of the step, so a server can recognise a retry (a header
 * of that name in with.headers replaces it). An attempt may last the
 * step's timeout_ms, else DEFAULT_TIMEOUT_MS: without a limit a server
 * that never answers would hold the step forever.
 *
 * Redirects (up to MAX_REDIRECTS, http and https only) are followed for
 * GET and HEAD without a body. A request that changes something is never
 * re-sent to another URL behind the user's back: its 3xx is the answer,
 * a failure unless expect_status lists it.
 *
 * The output is {"status", "headers" (lowercased names; repeated headers
 * joined with ", "), "body"}: the body parsed as JSON when it is JSON,
 * else the text; a body that is not UTF-8 text is null, and the bytes
 * are in "body_base64". Failures:
 *   http_error        the request did not complete (refused, reset, DNS,
 *                     TLS): retryable, except what another attempt
 *                     cannot fix (a bad URL, too many redirects,
 *                     certificate problems)
 *   timeout           no complete answer within the limit: retryable
 *   http_status       an unexpected status: retryable for 429 and 5xx;
 *                     details {status, body (first DETAIL_BODY bytes),
 *                     truncated, retry_after when given}
 *   output_too_large  a body over MAX_BODY bytes
 *   input_error       the rendered `with` is unusable
 * Messages name the method and the URL without its query string and
 * credentials, which often hold secrets.
 *
 * The engine has one client (struct cairn__http, made on the first http
 * step, freed by cairn__http_close): one CURLM shares connections among
 * all attempts. The multi tells us, through its socket callback, which
 * sockets to watch (one uv_poll each, freed in its close callback) and,
 * through its timer callback, when to call it back (one uv_timer), as in
 * curl's docs/examples/multi-uv.c. A transfer that ends, is cancelled or
 * cannot start is detached from curl at once and queued; a uv_idle
 * reports the queue to the engine (cairn__attempt_done) on the next
 * turn. So an attempt never ends inside cairn__http_start, inside a curl
 * callback, or inside cancel; and the engine may cancel other attempts
 * while an end is reported.
 *
 * Rejected: one CURLM per attempt (no connection reuse, a timer each);
 * curl_easy_perform on the thread pool (a thread blocked per request,
 * and cancelling means waiting for it).
 */
#include "engine_internal.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Response bytes kept: the same bound as exec's stdout; a bigger body
 * belongs in a file or a store, not in the journal. */
#define MAX_BODY ((size_t)16 << 20)
/* Body bytes kept in a failure's details: enough for an error message. */
#define DETAIL_BODY 2048
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_REDIRECTS 5L

typedef struct cairn__http cairn__http;
typedef struct http_req http_req;
typedef struct http_sock http_sock;

/* The engine's HTTP client. */
struct cairn__http {
  cairn_engine *e;
  CURLM *multi;
  uv_timer_t timer;        /* when curl wants to be called back */
  uv_idle_t reap;          /* active while `ended` is not empty */
  http_req *active;        /* transfers on the multi */
  http_req *ended;         /* detached, to report (oldest first) */
  http_req *ended_tail;
  http_sock *socks;        /* sockets watched */
  int open;                /* timer and reap, until both are closed */
};

/* A socket curl asked us to watch. */
struct http_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  cairn__http *h;
  http_sock *prev, *next;
};

/* One attempt's request. */
struct http_req {
  cairn__attempt *a;
  cairn__http *h;
  CURL *easy;              /* NULL once detached */
  struct curl_slist *headers;
  char *req_body;          /* what CURLOPT_POSTFIELDS points to */
  const char *method;
  char *shown;             /* the URL for messages */
  char *buf;               /* response body, NUL-terminated */
  size_t len, cap;
  bool overflow;           /* the body passed MAX_BODY */
  char errbuf[CURL_ERROR_SIZE];
  cairn__outcome o;        /* set when it ends */
  http_req *prev, *next;   /* h->active, then h->ended */
};

static const cJSON *field(const cJSON *o, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void set_fail(cairn__outcome *o, const char *code, bool retryable,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_fail(cairn__outcome *o, const char *code, bool retryable,
                     const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  o->ok = false;
  o->code = code;
  o->retryable = retryable;
  free(o->message);
  o->message = strdup(msg);
}

/* ------------------------------------------------------------- text */

/* The length of the UTF-8 character at p (n bytes left); 0 when it is
 * not valid UTF-8 or is NUL (cJSON strings end at NUL). */
static size_t utf8_char(const unsigned char *p, size_t n) {
  unsigned c = p[0], min;
  size_t len;
  if (c == 0)
    return 0;
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2, min = 0x80, c &= 0x1F;
  }
  else if ((c & 0xF0) == 0xE0) {
    len = 3, min = 0x800, c &= 0x0F;
  }
  else if ((c & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, c &= 0x07;
  }
  else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80)
      return 0;
    c = c << 6 | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  return len;
}

static bool utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0, k; i < n; i += k)
    if ((k = utf8_char(p + i, n - i)) == 0)
      return false;
  return true;
}

/* A copy of at most `max` bytes of s, cut on a character boundary, with
 * what is not UTF-8 replaced by '?'. Sets *cut when bytes were left. */
static char *text_dup(const char *s, size_t n, size_t max, bool *cut) {
  const unsigned char *p = (const unsigned char *)s;
  char *d = malloc((n < max ? n : max) + 1);
  size_t i = 0, j = 0, k;
  if (d == NULL)
    return NULL;
  while (i < n) {
    k = utf8_char(p + i, n - i);
    if (j + (k ? k : 1) > max)
      break;
    if (k == 0) {
      d[j++] = '?';
      i++;
      continue;
    }
    memcpy(d + j, p + i, k);
    i += k;
    j += k;
  }
  d[j] = '\0';
  if (cut)
    *cut = i < n;
  return d;
}

/* ---------------------------------------------------------- the loop */

static void check_ended(cairn__http *h);

static void on_sock_closed(uv_handle_t *handle) { free(handle->data); }

static void sock_close(http_sock *s) {
  cairn__http *h = s->h;
  if (s->prev)
    s->prev->next = s->next;
  else
    h->socks = s->next;
  if (s->next)
    s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  http_sock *s = p->data;
  cairn__http *h = s->h; /* s may be closed by the call below */
  int flags = 0, running;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  else
    flags = (events & UV_READABLE ? CURL_CSELECT_IN : 0) |
            (events & UV_WRITABLE ? CURL_CSELECT_OUT : 0);
  curl_multi_socket_action(h->multi, s->fd, flags, &running);
  check_ended(h);
}

static void on_timer(uv_timer_t *t) {
  cairn__http *h = t->data;
  int running;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_ended(h);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl waits for. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud,
                     void *sp) {
  cairn__http *h = ud;
  http_sock *s = sp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s)
      sock_close(s);
    return 0;
  }
  if (s == NULL) {
    if ((s = calloc(1, sizeof *s)) == NULL)
      return -1;
    if (uv_poll_init_socket(&h->e->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    s->fd = fd;
    s->h = h;
    s->next = h->socks;
    if (h->socks)
      h->socks->prev = s;
    h->socks = s;
    curl_multi_assign(h->multi, fd, s);
  }
  int events = (what & CURL_POLL_IN ? UV_READABLE : 0) |
               (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: call curl back in `ms` (-1: never). Never
 * from inside this callback: the uv timer does it, a turn later at the
 * soonest. */
static int on_curl_timer(CURLM *multi, long ms, void *ud) {
  cairn__http *h = ud;
  (void)multi;
  if (ms < 0)
    uv_timer_stop(&h->timer);
  else
    uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
  return 0;
}

static uv_once_t curl_once = UV_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is process-wide; curl_global_cleanup is never called
 * (other engines, or the embedding program, may still use curl). */
static void curl_init(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static cairn__http *client_of(cairn_engine *e) {
  if (e->http)
    return e->http;
  uv_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) {
    cairn__engine_err(e, "cannot start libcurl: %s",
                      curl_easy_strerror(curl_init_rc));
    return NULL;
  }
  cairn__http *h = calloc(1, sizeof *h);
  if (h == NULL || (h->multi = curl_multi_init()) == NULL) {
    free(h);
    cairn__engine_err(e, "out of memory starting the HTTP client");
    return NULL;
  }
  h->e = e;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  uv_timer_init(&e->loop, &h->timer);
  uv_idle_init(&e->loop, &h->reap);
  h->timer.data = h;
  h->reap.data = h;
  h->open = 2;
  e->http = h;
  return h;
}

/* ------------------------------------------------------ ending a req */

static void report(http_req *r) {
  cairn__attempt *a = r->a;
  cairn__outcome o = r->o;
  free(r->shown);
  free(r);
  cairn__attempt_done(a, &o);
}

static void on_reap(uv_idle_t *idle) {
  cairn__http *h = idle->data;
  http_req *r;
  /* Reporting may cancel other attempts, which queue here too. */
  while ((r = h->ended) != NULL) {
    h->ended = r->next;
    if (h->ended == NULL)
      h->ended_tail = NULL;
    report(r);
  }
  uv_idle_stop(idle);
}

/* Takes r off curl (its outcome is set) and queues its report. */
static void detach(http_req *r) {
  cairn__http *h = r->h;
  if (r->easy) {
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    if (r->prev)
      r->prev->next = r->next;
    else
      h->active = r->next;
    if (r->next)
      r->next->prev = r->prev;
  }
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  free(r->req_body);
  r->req_body = NULL;
  free(r->buf);
  r->buf = NULL;
  r->prev = r->next = NULL;
  if (h->ended_tail)
    h->ended_tail->next = r;
  else
    h->ended = r;
  h->ended_tail = r;
  uv_idle_start(&h->reap, on_reap);
}

static void cancel(cairn__attempt *a) {
  http_req *r = a->kind_data;
  if (r == NULL || r->easy == NULL)
    return; /* ended already; its report is queued */
  set_fail(&r->o, "cancelled", false, "%s %s: cancelled", r->method,
           r->shown);
  detach(r);
}

/* ---------------------------------------------------------- outcomes */

/* Curl errors another attempt cannot fix. */
static bool curl_permanent(CURLcode c) {
  switch (c) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_BAD_CONTENT_ENCODING:
    return true;
  default:
    return false;
  }
}

static const char *curl_hint(CURLcode c) {
  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST:
    return "check the host name in the URL";
  case CURLE_COULDNT_CONNECT:
    return "check that the service is running and listening at that "
           "host and port";
  case CURLE_TOO_MANY_REDIRECTS:
    return "the URL redirects more than 5 times; call the final URL";
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CACERT_BADFILE:
    return "check the server's certificate and the URL's host";
  case CURLE_UNSUPPORTED_PROTOCOL:
    return "only http:// and https:// URLs (and redirects) are followed";
  default:
    return "check the URL and that the service is healthy";
  }
}

static void fail_curl(http_req *r, CURLcode c) {
  const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(c);
  if (c == CURLE_OPERATION_TIMEDOUT)
    set_fail(&r->o, "timeout", true, "%s %s: no complete response within "
             "%lld ms (%s); raise the step's timeout_ms, or find out why "
             "the service is slow", r->method, r->shown,
             (long long)(r->a->timeout_ms > 0 ? r->a->timeout_ms
                                              : DEFAULT_TIMEOUT_MS),
             why);
  else
    set_fail(&r->o, "http_error", !curl_permanent(c),
             "%s %s failed: %s (curl error %d); %s", r->method, r->shown,
             why, (int)c, curl_hint(c));
}

/* The first value of response header `name`, or NULL. */
static const char *header_of(CURL *easy, const char *name) {
  struct curl_header *hd;
  if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
    return NULL;
  return hd->value;
}

static void fail_status(http_req *r, long status) {
  bool again = status == 429 || status >= 500;
  bool cut = false;
  const char *loc = header_of(r->easy, "Location");
  const char *retry_after = header_of(r->easy, "Retry-After");
  char *body = text_dup(r->buf ? r->buf : "", r->len, DETAIL_BODY, &cut);
  r->o.details = cJSON_CreateObject();
  cJSON_AddNumberToObject(r->o.details, "status", (double)status);
  cJSON_AddStringToObject(r->o.details, "body", body ? body : "");
  cJSON_AddBoolToObject(r->o.details, "truncated", cut);
  if (retry_after) {
    cJSON_AddStringToObject(r->o.details, "retry_after", retry_after);
    /* Seconds (the HTTP-date form is left to the policy's delay). */
    char *end;
    long secs = strtol(retry_after, &end, 10);
    if (end != retry_after && *end == '\0' && secs > 0 && secs < 86400)
      r->o.retry_after_ms = secs * 1000;
  }
  free(body);
  if (again)
    set_fail(&r->o, "http_status", true, "%s %s answered %ld: the "
             "service is %s; retried as the step's retry policy allows; "
             "if it persists, check the service", r->method, r->shown,
             status, status == 429 ? "limiting the rate" : "failing");
  else if (status >= 300 && status < 400)
    set_fail(&r->o, "http_status", false, "%s %s answered %ld (Location: "
             "%.300s); only GET and HEAD follow redirects; call the new "
             "URL, or list %ld in expect_status", r->method, r->shown,
             status, loc ? loc : "none", status);
  else
    set_fail(&r->o, "http_status", false, "%s %s answered %ld; check the "
             "URL, method, headers and body, or list %ld in "
             "expect_status if it means success", r->method, r->shown,
             status, status);
}

/* {"lowercased name": "value", ...} of the last response. */
static cJSON *headers_json(CURL *easy) {
  cJSON *o = cJSON_CreateObject();
  struct curl_header *hd = NULL;
  while ((hd = curl_easy_nextheader(easy, CURLH_HEADER, -1, hd)) != NULL) {
    char name[128];
    snprintf(name, sizeof name, "%s", hd->name);
    for (char *c = name; *c; c++)
      *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    char *v = text_dup(hd->value, strlen(hd->value), 65536, NULL);
    cJSON *old = cJSON_GetObjectItemCaseSensitive(o, name);
    if (old && v) {
      size_t n = strlen(old->valuestring) + strlen(v) + 3;
      char *joined = malloc(n);
      if (joined) {
        snprintf(joined, n, "%s, %s", old->valuestring, v);
        cJSON_ReplaceItemInObjectCaseSensitive(o, name,
                                               cJSON_CreateString(joined));
      }
      free(joined);
    }
    else if (v) {
      cJSON_AddStringToObject(o, name, v);
    }
    free(v);
  }
  return o;
}

/* The body as JSON when it is JSON, else as text. */
static cJSON *body_json(const char *p, size_t n) {
  const char *end = NULL;
  cJSON *v = n ? cJSON_ParseWithLengthOpts(p, n, &end, 0) : NULL;
  bool rest_blank = true;
  for (const char *c = end; v && c < p + n; c++)
    rest_blank &= *c == ' ' || *c == '\n' || *c == '\r' || *c == '\t';
  if (v && rest_blank)
    return v;
  cJSON_Delete(v);
  return cJSON_CreateString(p);
}

static void succeed(http_req *r, long status) {
  const char *p = r->buf ? r->buf : "";
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "status", (double)status);
  cJSON_AddItemToObject(out, "headers", headers_json(r->easy));
  if (utf8_valid(p, r->len)) {
    cJSON_AddItemToObject(out, "body", body_json(p, r->len));
  }
  else {
    char *b64 = malloc(4 * ((r->len + 2) / 3) + 1);
    if (b64)
      EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)p,
                      (int)r->len);
    cJSON_AddNullToObject(out, "body");
    cJSON_AddStringToObject(out, "body_base64", b64 ? b64 : "");
    free(b64);
  }
  r->o.ok = true;
  r->o.output = out;
}

static bool status_listed(const cJSON *expect, long status) {
  const cJSON *s;
  if (expect == NULL)
    return status >= 200 && status < 300;
  if (cJSON_IsNumber(expect))
    return expect->valuedouble == (double)status;
  cJSON_ArrayForEach(s, expect) {
    if (cJSON_IsNumber(s) && s->valuedouble == (double)status)
      return true;
  }
  return false;
}

/* A transfer curl finished: its outcome, then its report. */
static void finish(http_req *r, CURLcode c) {
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (r->overflow || c == CURLE_FILESIZE_EXCEEDED)
    set_fail(&r->o, "output_too_large", false, "%s %s: the response body "
             "passed %zu bytes; ask the service for less (a page, a "
             "filter), or fetch large data outside the workflow",
             r->method, r->shown, MAX_BODY);
  else if (c != CURLE_OK)
    fail_curl(r, c);
  else if (status_listed(field(r->a->input, "expect_status"), status))
    succeed(r, status);
  else
    fail_status(r, status);
  detach(r);
}

static void check_ended(cairn__http *h) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    http_req *r = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r)
      finish(r, m->data.result);
  }
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  http_req *r = ud;
  size_t k = size * n;
  if (r->len + k > MAX_BODY) {
    r->overflow = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  if (r->len + k + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 16384;
    while (cap < r->len + k + 1)
      cap *= 2;
    char *b = realloc(r->buf, cap);
    if (b == NULL)
      return 0;
    r->buf = b;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, p, k);
  r->len += k;
  r->buf[r->len] = '\0';
  return k;
}

/* ----------------------------------------------------- the request */

/* Checks the URL; sets r->shown, the URL without query, fragment and
 * credentials. Returns 0, CAIRN_EINVAL (message in err), CAIRN_ENOMEM. */
static int check_url(http_req *r, const cJSON *url, char *err, size_t n) {
  CURLU *u = curl_url();
  char *scheme = NULL, *shown = NULL, *query = NULL;
  int rc = CAIRN_EINVAL;
  CURLUcode uc = CURLUE_BAD_HANDLE;
  if (u == NULL)
    return CAIRN_ENOMEM;
  if (cJSON_IsString(url))
    uc = curl_url_set(u, CURLUPART_URL, url->valuestring, 0);
  if (uc == CURLUE_OK)
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (!cJSON_IsString(url))
    snprintf(err, n, "with.url is not a string; give the URL to call");
  else if (uc != CURLUE_OK)
    snprintf(err, n, "with.url \"%.200s\" is not a URL (%s); fix the URL "
             "or the template that makes it", url->valuestring,
             curl_url_strerror(uc));
  else if (scheme == NULL || (strcmp(scheme, "http") != 0 &&
                              strcmp(scheme, "https") != 0))
    snprintf(err, n, "with.url \"%.200s\" is not an http(s) URL; start it "
             "with https:// or http://", url->valuestring);
  else
    rc = 0;
  if (rc == 0) {
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    curl_url_get(u, CURLUPART_URL, &shown, 0);
    size_t k = (shown ? strlen(shown) : 0) + 5;
    if ((r->shown = malloc(k)) != NULL)
      snprintf(r->shown, k, "%s%s", shown ? shown : "?",
               query ? "?..." : "");
    rc = r->shown ? 0 : CAIRN_ENOMEM;
  }
  curl_free(scheme);
  curl_free(shown);
  curl_free(query);
  curl_url_cleanup(u);
  return rc;
}

/* An RFC 9110 token: the characters a header name may hold. */
static bool header_name_ok(const char *s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || strchr(extra, *s)))
      return false;
  return true;
}

/* Adds "name: value"; a NULL value removes a header curl adds itself,
 * and "" sends the header empty. */
static int add_header(http_req *r, const char *name, const char *value) {
  size_t n = strlen(name) + (value ? strlen(value) : 0) + 3;
  char *line = malloc(n);
  if (line == NULL)
    return CAIRN_ENOMEM;
  /* curl's syntax: "Name:" removes, "Name;" sends an empty value. */
  if (value == NULL)
    snprintf(line, n, "%s:", name);
  else if (*value)
    snprintf(line, n, "%s: %s", name, value);
  else
    snprintf(line, n, "%s;", name);
  struct curl_slist *l = curl_slist_append(r->headers, line);
  free(line);
  if (l == NULL)
    return CAIRN_ENOMEM;
  r->headers = l;
  return 0;
}

/* Which headers with.headers sets itself. */
typedef struct given_headers {
  bool content_type, idem_key;
} given_headers;

static int user_headers(http_req *r, const cJSON *hs, given_headers *g,
                        char *err, size_t n) {
  const cJSON *h;
  if (hs && !cJSON_IsNull(hs) && !cJSON_IsObject(hs)) {
    snprintf(err, n, "with.headers is not an object; write "
             "{\"Name\": \"value\"}");
    return CAIRN_EINVAL;
  }
  cJSON_ArrayForEach(h, hs) {
    if (!header_name_ok(h->string)) {
      snprintf(err, n, "with.headers: \"%.100s\" is not a header name; "
               "use letters, digits and -", h->string);
      return CAIRN_EINVAL;
    }
    if (!cJSON_IsString(h) || strpbrk(h->valuestring, "\r\n")) {
      snprintf(err, n, "with.headers.%.100s is not a one-line string; "
               "give the header's value as text", h->string);
      return CAIRN_EINVAL;
    }
    g->content_type |= strcasecmp(h->string, "Content-Type") == 0;
    g->idem_key |= strcasecmp(h->string, "Idempotency-Key") == 0;
    int rc = add_header(r, h->string, h->valuestring);
    if (rc)
      return rc;
  }
  return 0;
}

static const char *method_of(const cJSON *m, bool has_body) {
  static const char *const methods[] = {"GET",    "POST", "PUT", "PATCH",
                                        "DELETE", "HEAD", NULL};
  if (m == NULL || cJSON_IsNull(m))
    return has_body ? "POST" : "GET";
  for (size_t i = 0; cJSON_IsString(m) && methods[i]; i++)
    if (strcmp(m->valuestring, methods[i]) == 0)
      return methods[i];
  return NULL;
}

static bool statuses_ok(const cJSON *v) {
  const cJSON *s;
  if (v == NULL)
    return true;
  if (cJSON_IsNumber(v))
    return v->valuedouble >= 100 && v->valuedouble <= 599 &&
           v->valuedouble == (double)(int)v->valuedouble;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
    return false;
  cJSON_ArrayForEach(s, v) {
    if (!cJSON_IsNumber(s) || !statuses_ok(s))
      return false;
  }
  return true;
}

/* Method and body: the method, the bytes sent, and their type. */
static int set_body(http_req *r, const cJSON *in, const given_headers *g,
                    char *err, size_t n) {
  const cJSON *body = field(in, "body");
  bool has_body = body && !cJSON_IsNull(body);
  CURL *c = r->easy;
  if ((r->method = method_of(field(in, "method"), has_body)) == NULL) {
    snprintf(err, n, "with.method is not GET, POST, PUT, PATCH, DELETE or "
             "HEAD; fix the method or the template that makes it");
    return CAIRN_EINVAL;
  }
  if (has_body && strcmp(r->method, "HEAD") == 0) {
    snprintf(err, n, "with.body: a HEAD request has no body; remove the "
             "body or use another method");
    return CAIRN_EINVAL;
  }
  bool text = cJSON_IsString(body);
  /* POST, PUT and PATCH without a body send Content-Length: 0. */
  bool sends = has_body || (strcmp(r->method, "GET") &&
                            strcmp(r->method, "DELETE") &&
                            strcmp(r->method, "HEAD"));
  if (sends) {
    r->req_body = !has_body ? strdup("")
                  : text    ? strdup(body->valuestring)
                            : cJSON_PrintUnformatted(body);
    if (r->req_body == NULL)
      return CAIRN_ENOMEM;
  }
  if (strcmp(r->method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (r->req_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)strlen(r->req_body));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->req_body);
  }
  if (strcmp(r->method, "GET") == 0 && !has_body)
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  else if (strcmp(r->method, "POST") && strcmp(r->method, "HEAD"))
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
  if (r->req_body && !g->content_type)
    return add_header(r, "Content-Type",
                      !has_body ? NULL /* not curl's form type */
                      : text    ? "text/plain; charset=utf-8"
                                : "application/json");
  return 0;
}

/* Every option of the transfer. Returns 0, CAIRN_EINVAL (err) or
 * CAIRN_ENOMEM. */
static int setup(http_req *r, char *err, size_t n) {
  const cJSON *in = r->a->input;
  given_headers g = {0};
  CURL *c = r->easy;
  int rc = check_url(r, field(in, "url"), err, n);
  if (rc == 0)
    rc = user_headers(r, field(in, "headers"), &g, err, n);
  if (rc == 0)
    rc = set_body(r, in, &g, err, n);
  if (rc == 0 && !statuses_ok(field(in, "expect_status"))) {
    snprintf(err, n, "with.expect_status is not a status or a non-empty "
             "array of statuses (100 to 599)");
    rc = CAIRN_EINVAL;
  }
  if (rc == 0 && !g.idem_key)
    rc = add_header(r, "Idempotency-Key", r->a->idem_key);
  if (rc == 0)
    rc = add_header(r, "Expect", NULL); /* no 100-continue wait */
  if (rc)
    return rc;
  bool follow = strcmp(r->method, "HEAD") == 0 ||
                (strcmp(r->method, "GET") == 0 && r->req_body == NULL);
  int64_t ms = r->a->timeout_ms > 0 ? r->a->timeout_ms : DEFAULT_TIMEOUT_MS;
  curl_easy_setopt(c, CURLOPT_URL, field(in, "url")->valuestring);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ms);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn/" CAIRN_VERSION_STRING);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  if (strcmp(r->method, "HEAD") != 0)
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MAX_BODY);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(c, CURLOPT_PRIVATE, r);
  return 0;
}

int cairn__http_start(cairn__attempt *a) {
  char err[512] = "";
  cairn__http *h = client_of(a->e);
  http_req *r = h ? calloc(1, sizeof *r) : NULL;
  if (r && (r->easy = curl_easy_init()) == NULL) {
    free(r);
    r = NULL;
  }
  if (r == NULL) {
    if (h)
      cairn__engine_err(a->e, "out of memory starting an HTTP request");
    return CAIRN_ENOMEM;
  }
  r->a = a;
  r->h = h;
  r->method = "GET";
  r->next = h->active;
  if (h->active)
    h->active->prev = r;
  h->active = r;
  a->kind_data = r;
  a->cancel = cancel;
  int rc = setup(r, err, sizeof err);
  if (rc == 0 && curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
    rc = CAIRN_ENOMEM;
  if (rc == CAIRN_EINVAL) {
    set_fail(&r->o, "input_error", false, "%s", err);
    detach(r); /* reported on the next turn, like every end */
    return 0;
  }
  if (rc) {
    set_fail(&r->o, "start_failed", true, "%s %s: out of memory starting "
             "the request", r->method, r->shown ? r->shown : "");
    detach(r);
  }
  return 0;
}

static void on_client_closed(uv_handle_t *handle) {
  cairn__http *h = handle->data;
  if (--h->open == 0)
    free(h);
}

void cairn__http_close(cairn_engine *e) {
  cairn__http *h = e->http;
  if (h == NULL)
    return;
  while (h->active) {
    set_fail(&h->active->o, "cancelled", false, "the engine closed");
    detach(h->active);
  }
  on_reap(&h->reap);
  for (http_sock *s = h->socks; s; s = s->next)
    uv_poll_stop(&s->poll); /* before curl closes their sockets */
  curl_multi_cleanup(h->multi);
  while (h->socks)
    sock_close(h->socks);
  uv_timer_stop(&h->timer);
  e->http = NULL;
  uv_close((uv_handle_t *)&h->timer, on_client_closed);
  uv_close((uv_handle_t *)&h->reap, on_client_closed);
}
