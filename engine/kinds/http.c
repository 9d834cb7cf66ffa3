/*
 * http.c — the http step kind: one HTTP request per attempt, made
 * through the engine's HTTP client (http_client.c: libcurl's multi
 * interface on the engine's libuv loop).
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
 * Redirects (up to 5, http and https only) are followed for GET and HEAD
 * without a body. A request that changes something is never re-sent to
 * another URL behind the user's back: its 3xx is the answer, a failure
 * unless expect_status lists it.
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
 * An attempt is one call of the client; an input error is reported
 * through a call made without a request, so every end arrives on a later
 * turn than the start, through the same callback.
 */
#include "http_client.h"
#include "kind.h"

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
/* Headers of one request: with.headers plus the few added here. */
#define MAX_HEADERS 64

/* One attempt's request. */
typedef struct http_step {
  cairn__attempt *a;
  cairn__http_xfer *call;
  const char *method;
  char *shown;             /* the URL for messages */
  char *body;              /* what is sent, or NULL */
  cairn__http_header headers[MAX_HEADERS];
  size_t n_headers;
  char err[512];           /* the input error, when nothing is sent */
} http_step;

static const cJSON *field(const cJSON *o, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(o, name);
}


/* ---------------------------------------------------------- outcomes */

static void fail_status(http_step *s, const cairn__http_result *r,
                        cairn__outcome *o) {
  long status = r->status;
  bool again = status == 429 || status >= 500;
  bool cut = false;
  const cJSON *loc = field(r->headers, "location");
  const cJSON *retry_after = field(r->headers, "retry-after");
  char *body = cairn__text_dup(r->body, r->body_len, DETAIL_BODY, &cut);
  o->details = cJSON_CreateObject();
  cJSON_AddNumberToObject(o->details, "status", (double)status);
  cJSON_AddStringToObject(o->details, "body", body ? body : "");
  cJSON_AddBoolToObject(o->details, "truncated", cut);
  if (cJSON_IsString(retry_after)) {
    const char *ra = retry_after->valuestring;
    cJSON_AddStringToObject(o->details, "retry_after", ra);
    /* Seconds (the HTTP-date form is left to the policy's delay). */
    char *end;
    long secs = strtol(ra, &end, 10);
    if (end != ra && *end == '\0' && secs > 0 && secs < 86400)
      o->retry_after_ms = secs * 1000;
  }
  free(body);
  if (again)
    cairn__outcome_fail(o, "http_status", true, "%s %s answered %ld: the service is "
             "%s; retried as the step's retry policy allows; if it "
             "persists, check the service", s->method, s->shown, status,
             status == 429 ? "limiting the rate" : "failing");
  else if (status >= 300 && status < 400)
    cairn__outcome_fail(o, "http_status", false, "%s %s answered %ld (Location: "
             "%.300s); only GET and HEAD follow redirects; call the new "
             "URL, or list %ld in expect_status", s->method, s->shown,
             status, cJSON_IsString(loc) ? loc->valuestring : "none",
             status);
  else
    cairn__outcome_fail(o, "http_status", false, "%s %s answered %ld; check the "
             "URL, method, headers and body, or list %ld in "
             "expect_status if it means success", s->method, s->shown,
             status, status);
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

static void succeed(const cairn__http_result *r, cairn__outcome *o) {
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "status", (double)r->status);
  cJSON_AddItemToObject(out, "headers", cJSON_Duplicate(r->headers, 1));
  if (cairn__utf8_valid(r->body, r->body_len)) {
    cJSON_AddItemToObject(out, "body", body_json(r->body, r->body_len));
  }
  else {
    char *b64 = malloc(4 * ((r->body_len + 2) / 3) + 1);
    if (b64)
      EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)r->body,
                      (int)r->body_len);
    cJSON_AddNullToObject(out, "body");
    cJSON_AddStringToObject(out, "body_base64", b64 ? b64 : "");
    free(b64);
  }
  o->ok = true;
  o->output = out;
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

static void free_step(http_step *s) {
  free(s->shown);
  free(s->body);
  free(s);
}

/* The client's callback: the attempt's outcome, reported. */
static void on_done(void *ctx, const cairn__http_result *r) {
  http_step *s = ctx;
  cairn__attempt *a = s->a;
  cairn__outcome o = {0};
  int64_t ms = a->timeout_ms > 0 ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
  switch (r->end) {
  case CAIRN__HTTP_RESPONSE:
    if (status_listed(field(a->input, "expect_status"), r->status))
      succeed(r, &o);
    else
      fail_status(s, r, &o);
    break;
  case CAIRN__HTTP_TIMEOUT:
    cairn__outcome_fail(&o, "timeout", true, "%s %s: no complete response within "
             "%lld ms (%s); raise the step's timeout_ms, or find out why "
             "the service is slow", s->method, s->shown, (long long)ms,
             r->error);
    break;
  case CAIRN__HTTP_FAILED:
    cairn__outcome_fail(&o, "http_error", !r->permanent, "%s %s failed: %s (curl "
             "error %d); %s", s->method, s->shown, r->error, r->curl_code,
             r->hint);
    break;
  case CAIRN__HTTP_TOO_LARGE:
    cairn__outcome_fail(&o, "output_too_large", false, "%s %s: the response body "
             "passed %zu bytes; ask the service for less (a page, a "
             "filter), or fetch large data outside the workflow",
             s->method, s->shown, MAX_BODY);
    break;
  case CAIRN__HTTP_CANCELLED:
    cairn__outcome_fail(&o, "cancelled", false, "%s %s: cancelled", s->method,
             s->shown);
    break;
  default:
    cairn__outcome_fail(&o, "input_error", false, "%s", s->err);
    break;
  }
  free_step(s);
  cairn__attempt_done(a, &o);
}

static void cancel(cairn__attempt *a) {
  http_step *s = a->kind_data;
  cairn__http_cancel(s->call);
}

/* ----------------------------------------------------- the request */

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

static void add_header(http_step *s, const char *name, const char *value) {
  s->headers[s->n_headers].name = name;
  s->headers[s->n_headers].value = value;
  s->n_headers++;
}

/* Which headers with.headers sets itself. */
typedef struct given_headers {
  bool content_type, idem_key;
} given_headers;

static int user_headers(http_step *s, const cJSON *hs, given_headers *g) {
  const cJSON *h;
  size_t n = sizeof s->err;
  if (hs && !cJSON_IsNull(hs) && !cJSON_IsObject(hs)) {
    snprintf(s->err, n, "with.headers is not an object; write "
             "{\"Name\": \"value\"}");
    return CAIRN_EINVAL;
  }
  cJSON_ArrayForEach(h, hs) {
    if (!header_name_ok(h->string)) {
      snprintf(s->err, n, "with.headers: \"%.100s\" is not a header name; "
               "use letters, digits and -", h->string);
      return CAIRN_EINVAL;
    }
    if (!cJSON_IsString(h) || strpbrk(h->valuestring, "\r\n")) {
      snprintf(s->err, n, "with.headers.%.100s is not a one-line string; "
               "give the header's value as text", h->string);
      return CAIRN_EINVAL;
    }
    if (s->n_headers + 3 > MAX_HEADERS) {
      snprintf(s->err, n, "with.headers: more than %d headers; send fewer",
               MAX_HEADERS - 3);
      return CAIRN_EINVAL;
    }
    g->content_type |= strcasecmp(h->string, "Content-Type") == 0;
    g->idem_key |= strcasecmp(h->string, "Idempotency-Key") == 0;
    add_header(s, h->string, h->valuestring);
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
static int set_body(http_step *s, const cJSON *in, const given_headers *g) {
  const cJSON *body = field(in, "body");
  bool has_body = body && !cJSON_IsNull(body);
  if ((s->method = method_of(field(in, "method"), has_body)) == NULL) {
    s->method = "GET";
    snprintf(s->err, sizeof s->err, "with.method is not GET, POST, PUT, "
             "PATCH, DELETE or HEAD; fix the method or the template that "
             "makes it");
    return CAIRN_EINVAL;
  }
  if (has_body && strcmp(s->method, "HEAD") == 0) {
    snprintf(s->err, sizeof s->err, "with.body: a HEAD request has no "
             "body; remove the body or use another method");
    return CAIRN_EINVAL;
  }
  bool text = cJSON_IsString(body);
  /* POST, PUT and PATCH without a body send Content-Length: 0. */
  bool sends = has_body || (strcmp(s->method, "GET") &&
                            strcmp(s->method, "DELETE") &&
                            strcmp(s->method, "HEAD"));
  if (sends) {
    s->body = !has_body ? strdup("")
              : text    ? strdup(body->valuestring)
                        : cJSON_PrintUnformatted(body);
    if (s->body == NULL)
      return CAIRN_ENOMEM;
  }
  if (s->body && !g->content_type)
    add_header(s, "Content-Type",
               !has_body ? NULL /* not curl's form type */
               : text    ? "text/plain; charset=utf-8"
                         : "application/json");
  return 0;
}

/* The request of the attempt. Returns 0, CAIRN_EINVAL (s->err) or
 * CAIRN_ENOMEM. */
static int setup(http_step *s, cairn__http_request *q) {
  const cJSON *in = s->a->input;
  const cJSON *url = field(in, "url");
  given_headers g = {0};
  char why[400];
  int rc = 0;
  if (!cJSON_IsString(url)) {
    snprintf(s->err, sizeof s->err, "with.url is not a string; give the "
             "URL to call");
    return CAIRN_EINVAL;
  }
  rc = cairn__http_url_check(url->valuestring, &s->shown, why, sizeof why);
  if (rc == CAIRN_EINVAL)
    snprintf(s->err, sizeof s->err, "with.url %s; fix the URL or the "
             "template that makes it", why);
  if (rc == 0)
    rc = user_headers(s, field(in, "headers"), &g);
  if (rc == 0)
    rc = set_body(s, in, &g);
  if (rc == 0 && !statuses_ok(field(in, "expect_status"))) {
    snprintf(s->err, sizeof s->err, "with.expect_status is not a status "
             "or a non-empty array of statuses (100 to 599)");
    rc = CAIRN_EINVAL;
  }
  if (rc)
    return rc;
  if (!g.idem_key)
    add_header(s, "Idempotency-Key", s->a->idem_key);
  *q = (cairn__http_request){
      .method = s->method, .url = url->valuestring,
      .headers = s->headers, .n_headers = s->n_headers, .body = s->body,
      .body_len = s->body ? strlen(s->body) : 0,
      .timeout_ms = s->a->timeout_ms > 0 ? s->a->timeout_ms
                                         : DEFAULT_TIMEOUT_MS,
      .follow_redirects = strcmp(s->method, "HEAD") == 0 ||
                          (strcmp(s->method, "GET") == 0 && !s->body),
      .max_body = MAX_BODY};
  return 0;
}

/* ------------------------------------------------- the step's `with` */

static int check_url(cairn__check *c, const cJSON *v, const char *path) {
  char got[48];
  if (v == NULL)
    return cairn__check_fail(c, "%s: missing; give the URL to call, e.g. "
                   "\"https://api.example.com/items\"",
                path);
  int rc = cairn__check_string(c, v, path, true, "a URL");
  if (rc || cairn__check_is_template(v))
    return rc;
  if (strncmp(v->valuestring, "http://", 7) != 0 &&
      strncmp(v->valuestring, "https://", 8) != 0)
    return cairn__check_fail(c, "%s: %s is not an http(s) URL; start it with https:// "
                   "or http://",
                path, cairn__check_describe(v, got, sizeof got));
  return 0;
}

static int check_method(cairn__check *c, const cJSON *v, const char *path) {
  static const char *const methods[] = {"GET",    "POST", "PUT", "PATCH",
                                        "DELETE", "HEAD", NULL};
  char got[48];
  if (cairn__check_is_template(v))
    return 0;
  for (size_t i = 0; cJSON_IsString(v) && methods[i]; i++) {
    if (strcmp(v->valuestring, methods[i]) == 0)
      return 0;
  }
  return cairn__check_fail(c, "%s: %s is not a method; use GET, POST, PUT, PATCH, "
                 "DELETE or HEAD",
              path, cairn__check_describe(v, got, sizeof got));
}

static bool status_ok(const cJSON *v) {
  int64_t s;
  return cairn__check_is_template(v) || (cairn__check_get_int(v, &s) && s >= 100 && s <= 599);
}

static int check_statuses(cairn__check *c, const cJSON *v, const char *path) {
  char got[48];
  bool ok = status_ok(v);
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
    const cJSON *st;
    ok = true;
    cJSON_ArrayForEach(st, v) {
      ok = ok && status_ok(st);
    }
  }
  if (!ok)
    return cairn__check_fail(c, "%s: %s is not an HTTP status or a non-empty array of "
                   "them; give integers from 100 to 599, e.g. [200, 201]",
                path, cairn__check_describe(v, got, sizeof got));
  return 0;
}

static int check_with(cairn__check *c, const cJSON *w, const char *path) {
  static const char *const known[] = {"url",  "method",        "headers",
                                      "body", "expect_status", NULL};
  char fp[160];
  int rc = cairn__check_fields(c, w, path, known,
                        "an http step takes url, method, headers, body, "
                        "expect_status");
  if (rc)
    return rc;
  snprintf(fp, sizeof fp, "%s.url", path);
  rc = check_url(c, cairn__check_field(w, "url"), fp);
  if (rc == 0 && cairn__check_field(w, "method")) {
    snprintf(fp, sizeof fp, "%s.method", path);
    rc = check_method(c, cairn__check_field(w, "method"), fp);
  }
  if (rc == 0 && cairn__check_field(w, "headers")) {
    snprintf(fp, sizeof fp, "%s.headers", path);
    rc = cairn__check_string_map(c, cairn__check_field(w, "headers"), fp);
  }
  if (rc == 0 && cairn__check_field(w, "expect_status")) {
    snprintf(fp, sizeof fp, "%s.expect_status", path);
    rc = check_statuses(c, cairn__check_field(w, "expect_status"), fp);
  }
  return rc;
}

/* ---------------------------------------------------------- attempts */

static int start(cairn__attempt *a) {
  cairn__http_request q;
  http_step *s = calloc(1, sizeof *s);
  if (s == NULL) {
    cairn__engine_err(a->e, "out of memory starting an HTTP request");
    return CAIRN_ENOMEM;
  }
  s->a = a;
  s->method = "GET";
  int rc = setup(s, &q);
  if (rc == 0 || rc == CAIRN_EINVAL)
    rc = cairn__http_call(a->e, rc == 0 ? &q : NULL, on_done, s, &s->call);
  else
    cairn__engine_err(a->e, "out of memory starting an HTTP request");
  if (rc) {
    free_step(s);
    return rc;
  }
  a->kind_data = s;
  a->cancel = cancel;
  return 0;
}

const cairn__kind cairn__kind_http = {
    .name = "http",
    .id = CAIRN__KIND_HTTP,
    .transient_retries = true,
    .check_with = check_with,
    .start = start,
    .close = cairn__http_close, /* the client the http and llm kinds share */
};
