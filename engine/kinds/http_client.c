/*
 * http_client.c — the engine's HTTP client (http_client.h): libcurl's
 * multi interface on the engine's libuv loop. The only file of libcairn
 * that calls libcurl.
 *
 * The engine has one client (struct cairn__http, made on the first call,
 * freed by cairn__http_close): one CURLM shares connections among all
 * calls of every step kind. The multi tells us, through its socket
 * callback, which sockets to watch (one uv_poll each, freed in its close
 * callback) and, through its timer callback, when to call it back (one
 * uv_timer), as in curl's docs/examples/multi-uv.c.
 *
 * A call that ends, is cancelled or is made without a request is taken
 * off curl at once (what its callback will need — status, headers, body,
 * curl's message — is kept in the call) and queued; a uv_idle reports
 * what was queued before it ran, on the next turn. So a callback never
 * runs inside cairn__http_call, inside a curl callback, or inside
 * cancel, nor in the turn its call was made; and a callback may cancel
 * or make other calls.
 *
 * Rejected: one CURLM per call or per step kind (no connection reuse, a
 * timer each); curl_easy_perform on the thread pool (a thread blocked
 * per request, and cancelling means waiting for it).
 */
#include "http_client.h"

#include "kind.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REDIRECTS 5L

typedef struct cairn__http cairn__http;
typedef struct http_sock http_sock;

/* The engine's HTTP client. */
struct cairn__http {
  cairn_engine *e;
  CURLM *multi;
  uv_timer_t timer;        /* when curl wants to be called back */
  uv_idle_t reap;          /* active while `ended` is not empty */
  cairn__http_xfer *active; /* calls on the multi */
  cairn__http_xfer *ended; /* taken off curl, to report (oldest first) */
  cairn__http_xfer *ended_tail;
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

struct cairn__http_xfer {
  cairn__http *h;
  cairn__http_done_cb cb;
  void *ctx;
  CURL *easy;              /* NULL once taken off curl */
  struct curl_slist *headers;
  size_t max_body;
  char *buf;               /* response body, NUL-terminated */
  size_t len, cap;
  bool overflow;           /* the body passed max_body */
  char errbuf[CURL_ERROR_SIZE];
  cairn__http_result res;  /* set when it ends */
  cJSON *res_headers;      /* what res.headers points to (owned) */
  cairn__http_xfer *prev, *next; /* h->active, then h->ended */
};

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

bool cairn__utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0, k; i < n; i += k)
    if ((k = utf8_char(p + i, n - i)) == 0)
      return false;
  return true;
}

char *cairn__text_dup(const char *s, size_t n, size_t max, bool *cut) {
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
    if (uv_poll_init_socket(cairn__engine_loop(h->e), &s->poll, fd) != 0) {
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

/* The client lives in the http kind's slot of the engine, whichever kind
 * made the first call; the http kind's close hook ends it. */
static cairn__http *client_of(cairn_engine *e) {
  void **slot = cairn__engine_slot(e, CAIRN__KIND_HTTP);
  if (*slot)
    return *slot;
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
  uv_timer_init(cairn__engine_loop(e), &h->timer);
  uv_idle_init(cairn__engine_loop(e), &h->reap);
  h->timer.data = h;
  h->reap.data = h;
  h->open = 2;
  *slot = h;
  return h;
}

/* ------------------------------------------------------- ending a call */

static void report(cairn__http_xfer *c) {
  c->cb(c->ctx, &c->res);
  cJSON_Delete(c->res_headers);
  free(c->buf);
  free(c);
}

/* Reports the calls queued before it started; a callback may cancel or
 * make other calls, which queue for the next turn. */
static void on_reap(uv_idle_t *idle) {
  cairn__http *h = idle->data;
  cairn__http_xfer *c = h->ended;
  h->ended = h->ended_tail = NULL;
  uv_idle_stop(idle);
  while (c != NULL) {
    cairn__http_xfer *next = c->next;
    report(c);
    c = next;
  }
}

/* Takes c off curl (its result is set) and queues its report. */
static void detach(cairn__http_xfer *c) {
  cairn__http *h = c->h;
  if (c->easy) {
    curl_multi_remove_handle(h->multi, c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    if (c->prev)
      c->prev->next = c->next;
    else
      h->active = c->next;
    if (c->next)
      c->next->prev = c->prev;
  }
  curl_slist_free_all(c->headers);
  c->headers = NULL;
  c->prev = c->next = NULL;
  if (h->ended_tail)
    h->ended_tail->next = c;
  else
    h->ended = c;
  h->ended_tail = c;
  uv_idle_start(&h->reap, on_reap);
}

void cairn__http_cancel(cairn__http_xfer *c) {
  if (c == NULL || c->easy == NULL)
    return; /* ended already; its report is queued */
  c->res.end = CAIRN__HTTP_CANCELLED;
  detach(c);
}

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

/* {"lowercased name": "value", ...} of the last response. */
static cJSON *headers_json(CURL *easy) {
  cJSON *o = cJSON_CreateObject();
  struct curl_header *hd = NULL;
  while ((hd = curl_easy_nextheader(easy, CURLH_HEADER, -1, hd)) != NULL) {
    char name[128];
    snprintf(name, sizeof name, "%s", hd->name);
    for (char *c = name; *c; c++)
      *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    char *v = cairn__text_dup(hd->value, strlen(hd->value), 65536, NULL);
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

/* A transfer curl finished: its result, then its report. */
static void finish(cairn__http_xfer *c, CURLcode code) {
  cairn__http_result *r = &c->res;
  if (c->overflow || code == CURLE_FILESIZE_EXCEEDED) {
    r->end = CAIRN__HTTP_TOO_LARGE;
  }
  else if (code == CURLE_OPERATION_TIMEDOUT) {
    r->end = CAIRN__HTTP_TIMEOUT;
    r->error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);
  }
  else if (code != CURLE_OK) {
    r->end = CAIRN__HTTP_FAILED;
    r->error = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);
    r->hint = curl_hint(code);
    r->curl_code = (int)code;
    r->permanent = curl_permanent(code);
  }
  else {
    r->end = CAIRN__HTTP_RESPONSE;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r->status);
    c->res_headers = headers_json(c->easy);
    r->headers = c->res_headers;
    r->body = c->buf ? c->buf : "";
    r->body_len = c->len;
  }
  detach(c);
}

static void check_ended(cairn__http *h) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
    cairn__http_xfer *c = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    if (c)
      finish(c, m->data.result);
  }
}

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  cairn__http_xfer *c = ud;
  size_t k = size * n;
  if (c->len + k > c->max_body) {
    c->overflow = true;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
  }
  if (c->len + k + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 16384;
    while (cap < c->len + k + 1)
      cap *= 2;
    char *b = realloc(c->buf, cap);
    if (b == NULL)
      return 0;
    c->buf = b;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, p, k);
  c->len += k;
  c->buf[c->len] = '\0';
  return k;
}

/* ------------------------------------------------------- making calls */

int cairn__http_url_check(const char *url, char **shown, char *err,
                          size_t n) {
  CURLU *u = curl_url();
  char *scheme = NULL, *bare = NULL, *query = NULL;
  int rc = CAIRN_EINVAL;
  CURLUcode uc;
  *shown = NULL;
  if (u == NULL)
    return CAIRN_ENOMEM;
  uc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (uc == CURLUE_OK)
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
  if (uc != CURLUE_OK)
    snprintf(err, n, "\"%.200s\" is not a URL (%s)", url,
             curl_url_strerror(uc));
  else if (scheme == NULL || (strcmp(scheme, "http") != 0 &&
                              strcmp(scheme, "https") != 0))
    snprintf(err, n, "\"%.200s\" is not an http(s) URL; start it with "
             "https:// or http://", url);
  else
    rc = 0;
  if (rc == 0) {
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    curl_url_get(u, CURLUPART_URL, &bare, 0);
    size_t k = (bare ? strlen(bare) : 0) + 5;
    if ((*shown = malloc(k)) != NULL)
      snprintf(*shown, k, "%s%s", bare ? bare : "?", query ? "?..." : "");
    rc = *shown ? 0 : CAIRN_ENOMEM;
  }
  curl_free(scheme);
  curl_free(bare);
  curl_free(query);
  curl_url_cleanup(u);
  return rc;
}

/* Adds "name: value"; a NULL value removes a header curl adds itself,
 * and "" sends the header empty. */
static int add_header(cairn__http_xfer *c, const char *name,
                      const char *value) {
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
  struct curl_slist *l = curl_slist_append(c->headers, line);
  free(line);
  if (l == NULL)
    return CAIRN_ENOMEM;
  c->headers = l;
  return 0;
}

/* Every option of the transfer. Returns 0 or CAIRN_ENOMEM. */
static int setup(cairn__http_xfer *c, const cairn__http_request *q) {
  CURL *e = c->easy;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < q->n_headers; i++)
    rc = add_header(c, q->headers[i].name, q->headers[i].value);
  if (rc == 0)
    rc = add_header(c, "Expect", NULL); /* no 100-continue wait */
  if (rc)
    return rc;
  if (strcmp(q->method, "HEAD") == 0)
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  else
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)q->max_body);
  if (q->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)q->body_len);
    if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q->body) != CURLE_OK)
      return CAIRN_ENOMEM;
  }
  if (strcmp(q->method, "GET") == 0 && q->body == NULL)
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  else if (strcmp(q->method, "POST") && strcmp(q->method, "HEAD"))
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
  curl_easy_setopt(e, CURLOPT_URL, q->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, q->follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "cairn/" CAIRN_VERSION_STRING);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, c);
  return 0;
}

int cairn__http_call(cairn_engine *e, const cairn__http_request *req,
                     cairn__http_done_cb cb, void *ctx,
                     cairn__http_xfer **out) {
  cairn__http *h = client_of(e);
  cairn__http_xfer *c = h ? calloc(1, sizeof *c) : NULL;
  if (c == NULL) {
    if (h)
      cairn__engine_err(e, "out of memory starting an HTTP request");
    return CAIRN_ENOMEM;
  }
  c->h = h;
  c->cb = cb;
  c->ctx = ctx;
  if (req == NULL) {
    c->res.end = CAIRN__HTTP_NOT_SENT;
    detach(c);
  }
  else {
    c->max_body = req->max_body;
    int rc = (c->easy = curl_easy_init()) ? setup(c, req) : CAIRN_ENOMEM;
    if (rc == 0 && curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
      rc = CAIRN_ENOMEM;
    if (rc) {
      curl_easy_cleanup(c->easy);
      curl_slist_free_all(c->headers);
      free(c);
      cairn__engine_err(e, "out of memory starting an HTTP request");
      return rc;
    }
    c->next = h->active;
    if (h->active)
      h->active->prev = c;
    h->active = c;
  }
  if (out)
    *out = c;
  return 0;
}

static void on_client_closed(uv_handle_t *handle) {
  cairn__http *h = handle->data;
  if (--h->open == 0)
    free(h);
}

void cairn__http_close(cairn_engine *e) {
  void **slot = cairn__engine_slot(e, CAIRN__KIND_HTTP);
  cairn__http *h = *slot;
  if (h == NULL)
    return;
  while (h->active)
    cairn__http_cancel(h->active);
  while (h->ended)
    on_reap(&h->reap);
  for (http_sock *s = h->socks; s; s = s->next)
    uv_poll_stop(&s->poll); /* before curl closes their sockets */
  curl_multi_cleanup(h->multi);
  while (h->socks)
    sock_close(h->socks);
  uv_timer_stop(&h->timer);
  *slot = NULL;
  uv_close((uv_handle_t *)&h->timer, on_client_closed);
  uv_close((uv_handle_t *)&h->reap, on_client_closed);
}
