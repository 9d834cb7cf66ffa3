/*
 * llm.c — the llm step kind: one model call per attempt, made
 * through the engine's HTTP client (http_client.c), in the wire format
 * of the model's provider.
 *
 *   with.model        "PROVIDER:MODEL": openai (the chat-completions API,
 *                     also spoken by llama.cpp, vLLM, Ollama) or
 *                     anthropic (the messages API)
 *   with.prompt       the user message (a template)
 *   with.system       the system prompt (optional)
 *   with.temperature  0..2 (Anthropic: 0..1)
 *   with.max_tokens   > 0 (Anthropic requires one: 1024 when absent)
 *   with.json         true: the answer must parse as JSON (OpenAI is
 *                     asked for a JSON object; a ``` fence around the
 *                     answer is allowed)
 *
 * Requests:
 *   openai     POST {base}/chat/completions, Authorization: Bearer KEY,
 *              {model, messages: [{system}, {user}], temperature,
 *               max_tokens, response_format: {type: json_object}}
 *   anthropic  POST {base}/messages, x-api-key: KEY, anthropic-version:
 *              2023-06-01, {model, max_tokens, system, messages: [{user}],
 *              temperature}
 * Base URLs and keys come from the engine's settings (llm_config.c:
 * config.json over the environment); without a key none is sent (local
 * servers need none).
 *
 * The output is {"text", "json" (with json: true), "model" (as written,
 * PROVIDER:MODEL), "finish_reason", "usage": {"input_tokens",
 * "output_tokens"}, "request_id"} (null where the provider gave none);
 * step.completed's meta repeats {provider, model, usage, finish_reason,
 * request_id, response_model}. The rendered prompt and system text are
 * step.started's input, and the runtime is the attempt's duration.
 *
 * Failures (code, retryable, why):
 *   http_status    429, 408 and 5xx: yes, after at least the Retry-After
 *                  (or retry-after-ms) the provider asked for; other
 *                  statuses: no. Details {status, body (first
 *                  DETAIL_BODY bytes), truncated, retry_after,
 *                  request_id}; the message quotes the provider's error
 *   http_error     no answer (refused, reset, DNS): yes, unless another
 *                  attempt cannot fix it (a bad URL, a certificate)
 *   timeout        no complete answer within timeout_ms (default
 *                  DEFAULT_TIMEOUT_MS): yes
 *   bad_response   a 2xx that is not JSON or lacks the answer's text: no
 *                  (a server that speaks another format, or a proxy's
 *                  page, does not heal by asking again, and asking costs)
 *   bad_json       json: true and the text is not JSON: no (the model was
 *                  paid; a retry policy cannot tell a fix from a repeat;
 *                  details keep the text, usage and request id)
 *   forbidden      the rendered model is outside the llm policy: no
 *   input_error    the rendered `with` is unusable: no
 *   output_too_large, cancelled
 *
 * Keys: a key is sent only in its request header. Nothing this file
 * records (output, meta, message, details) may hold it: every string is
 * scrubbed of the provider's key before it is reported, because a server
 * may echo what it got (an error page quoting the Authorization header).
 */
#include "http_client.h"
#include "kind.h"
#include "llm.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Response bytes kept: an answer is text, far below this; the bound only
 * protects the process from a runaway server. */
#define MAX_BODY ((size_t)16 << 20)
/* Body bytes kept in a failure's details: enough for an error message. */
#define DETAIL_BODY 2048
/* Text kept in bad_json's details: enough to see what went wrong. */
#define DETAIL_TEXT 8192
/* Models take long; a limit must exist all the same. */
#define DEFAULT_TIMEOUT_MS 120000
#define ANTHROPIC_VERSION "2023-06-01"
#define ANTHROPIC_MAX_TOKENS 1024
/* Keys shorter than this are not secrets worth scrubbing text for. */
#define MIN_KEY 4

static const char *const env_key[CAIRN__LLM_PROVIDERS] = {
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY"};

/* One attempt's call. */
typedef struct llm_step {
  cairn__attempt *a;
  cairn__http_xfer *call;
  int provider;            /* cairn__llm_provider_id */
  const char *model_full;  /* with.model (borrowed from a->input) */
  const char *model;       /* after the colon */
  bool json;
  const char *key;         /* the engine's (borrowed); NULL: none */
  char *shown;             /* the URL for messages */
  char *body;              /* the request */
  char *auth;              /* the key header's value (wiped when freed) */
  const char *fail_code;   /* nothing sent: why */
  char err[800];
} llm_step;

/* What an answer says. */
typedef struct answer {
  char *text;              /* owned */
  const cJSON *finish;     /* borrowed from the parsed body, or NULL */
  const cJSON *in_tokens, *out_tokens;
  const cJSON *id, *model;
} answer;

static const cJSON *field(const cJSON *o, const char *name) {
  return cJSON_GetObjectItemCaseSensitive(o, name);
}


/* ------------------------------------------------------------- keys */

/* Scrubs the key from everything the outcome records. */
static void scrub_outcome(cairn__outcome *o, const char *key) {
  char *s;
  if (key == NULL || strlen(key) < MIN_KEY)
    return;
  if (o->message && (s = cairn__scrub(o->message, key)) != NULL) {
    free(o->message);
    o->message = s;
  }
  cairn__scrub_json(o->output, key);
  cairn__scrub_json(o->details, key);
}

/* ---------------------------------------------------------- answers */

static double num_or(const cJSON *v, double dflt) {
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* OpenAI chat completions. Returns NULL, or what is missing. */
static const char *parse_openai(const cJSON *doc, answer *an) {
  const cJSON *c0 = cJSON_GetArrayItem(field(doc, "choices"), 0);
  const cJSON *content = field(field(c0, "message"), "content");
  const cJSON *usage = field(doc, "usage");
  if (c0 == NULL)
    return "no choices[0]";
  if (!cJSON_IsString(content))
    return "no text in choices[0].message.content";
  if ((an->text = strdup(content->valuestring)) == NULL)
    return "out of memory";
  an->finish = field(c0, "finish_reason");
  an->in_tokens = field(usage, "prompt_tokens");
  an->out_tokens = field(usage, "completion_tokens");
  an->id = field(doc, "id");
  an->model = field(doc, "model");
  return NULL;
}

/* Anthropic messages: the text blocks of `content`, joined. */
static const char *parse_anthropic(const cJSON *doc, answer *an) {
  const cJSON *b, *usage = field(doc, "usage");
  size_t n = 0;
  cJSON_ArrayForEach(b, field(doc, "content")) {
    const cJSON *t = field(b, "text");
    if (cJSON_IsString(t))
      n += strlen(t->valuestring);
  }
  if ((an->text = calloc(1, n + 1)) == NULL)
    return "out of memory";
  bool any = false;
  cJSON_ArrayForEach(b, field(doc, "content")) {
    const cJSON *t = field(b, "text"), *type = field(b, "type");
    if (cJSON_IsString(t) && cJSON_IsString(type) &&
        strcmp(type->valuestring, "text") == 0) {
      strcat(an->text, t->valuestring);
      any = true;
    }
  }
  if (!any)
    return "no text block in content";
  an->finish = field(doc, "stop_reason");
  an->in_tokens = field(usage, "input_tokens");
  an->out_tokens = field(usage, "output_tokens");
  an->id = field(doc, "id");
  an->model = field(doc, "model");
  return NULL;
}

/* The text as JSON: the whole of it, or inside one ``` fence. */
static cJSON *text_json(const char *t) {
  const char *end = NULL, *stop;
  while (isspace((unsigned char)*t))
    t++;
  stop = t + strlen(t);
  if (strncmp(t, "```", 3) == 0) {
    const char *nl = strchr(t, '\n');
    const char *close = nl ? strstr(nl, "```") : NULL;
    if (close == NULL)
      return NULL;
    t = nl + 1;
    stop = close;
  }
  cJSON *v = cJSON_ParseWithLengthOpts(t, (size_t)(stop - t), &end, 0);
  for (const char *c = end; v && c < stop; c++)
    if (!isspace((unsigned char)*c)) {
      cJSON_Delete(v);
      return NULL;
    }
  return v;
}

static cJSON *dup_or_null(const cJSON *v) {
  return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

static cJSON *usage_json(const answer *an) {
  cJSON *u = cJSON_CreateObject();
  cJSON_AddItemToObject(u, "input_tokens",
                        cJSON_IsNumber(an->in_tokens)
                            ? cJSON_CreateNumber(an->in_tokens->valuedouble)
                            : cJSON_CreateNull());
  cJSON_AddItemToObject(u, "output_tokens",
                        cJSON_IsNumber(an->out_tokens)
                            ? cJSON_CreateNumber(an->out_tokens->valuedouble)
                            : cJSON_CreateNull());
  return u;
}

/* The provider's request id: its response header, else the body's id. */
static const cJSON *request_id(const cairn__http_result *r,
                               const answer *an) {
  const cJSON *h = field(r->headers, "x-request-id");
  if (!cJSON_IsString(h))
    h = field(r->headers, "request-id");
  if (cJSON_IsString(h))
    return h;
  return an && cJSON_IsString(an->id) ? an->id : NULL;
}

static char *meta_json(const llm_step *s, const answer *an,
                       const cJSON *rid) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "provider",
                          cairn__llm_provider_name(s->provider));
  cJSON_AddStringToObject(m, "model", s->model);
  cJSON_AddItemToObject(m, "usage", usage_json(an));
  cJSON_AddItemToObject(m, "finish_reason", dup_or_null(an->finish));
  cJSON_AddItemToObject(m, "request_id", dup_or_null(rid));
  if (cJSON_IsString(an->model))
    cJSON_AddStringToObject(m, "response_model", an->model->valuestring);
  char *out = cJSON_PrintUnformatted(m);
  cJSON_Delete(m);
  return out;
}

static void bad_response(llm_step *s, const cairn__http_result *r,
                         const char *what, cairn__outcome *o) {
  bool cut = false;
  char *body = cairn__text_dup(r->body, r->body_len, DETAIL_BODY, &cut);
  o->details = cJSON_CreateObject();
  cJSON_AddNumberToObject(o->details, "status", (double)r->status);
  cJSON_AddStringToObject(o->details, "body", body ? body : "");
  cJSON_AddBoolToObject(o->details, "truncated", cut);
  cJSON_AddItemToObject(o->details, "request_id",
                        dup_or_null(request_id(r, NULL)));
  free(body);
  cairn__outcome_fail(o, "bad_response", false, "%s: POST %s answered %ld with %s; "
           "check that the base URL speaks the %s API", s->model_full,
           s->shown, r->status, what,
           s->provider == CAIRN__LLM_OPENAI ? "OpenAI chat-completions"
                                            : "Anthropic messages");
}

static void bad_json(llm_step *s, const answer *an, const cJSON *rid,
                     cairn__outcome *o) {
  bool cut = false;
  char *text = cairn__text_dup(an->text, strlen(an->text), DETAIL_TEXT,
                               &cut);
  bool length = cJSON_IsString(an->finish) &&
                (strcmp(an->finish->valuestring, "length") == 0 ||
                 strcmp(an->finish->valuestring, "max_tokens") == 0);
  o->details = cJSON_CreateObject();
  cJSON_AddStringToObject(o->details, "text", text ? text : "");
  cJSON_AddBoolToObject(o->details, "truncated", cut);
  cJSON_AddStringToObject(o->details, "model", s->model_full);
  cJSON_AddItemToObject(o->details, "finish_reason", dup_or_null(an->finish));
  cJSON_AddItemToObject(o->details, "usage", usage_json(an));
  cJSON_AddItemToObject(o->details, "request_id", dup_or_null(rid));
  cairn__outcome_fail(o, "bad_json", false, "%s answered text that is not JSON, and "
           "the step has json: true (\"%.120s%s\"); %s", s->model_full,
           text ? text : "", text && strlen(text) > 120 ? "..." : "",
           length ? "the answer was cut at max_tokens: raise max_tokens"
                  : "ask for JSON only in the prompt, or drop json");
  free(text);
}

/* A 2xx: the answer, or why it is not one. */
static void answered(llm_step *s, const cairn__http_result *r,
                     cairn__outcome *o, char **meta) {
  answer an = {0};
  const char *end = NULL, *missing;
  cJSON *doc = cJSON_ParseWithLengthOpts(r->body, r->body_len, &end, 0);
  if (!cJSON_IsObject(doc)) {
    bad_response(s, r, "a body that is not a JSON object", o);
    cJSON_Delete(doc);
    return;
  }
  missing = s->provider == CAIRN__LLM_OPENAI ? parse_openai(doc, &an)
                                             : parse_anthropic(doc, &an);
  const cJSON *rid = request_id(r, &an);
  cJSON *parsed = missing || !s->json ? NULL : text_json(an.text);
  if (missing) {
    char what[120];
    snprintf(what, sizeof what, "JSON that has %s", missing);
    bad_response(s, r, what, o);
  }
  else if (s->json && parsed == NULL) {
    bad_json(s, &an, rid, o);
  }
  else {
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "text", an.text);
    if (parsed)
      cJSON_AddItemToObject(out, "json", parsed);
    cJSON_AddStringToObject(out, "model", s->model_full);
    cJSON_AddItemToObject(out, "finish_reason", dup_or_null(an.finish));
    cJSON_AddItemToObject(out, "usage", usage_json(&an));
    cJSON_AddItemToObject(out, "request_id", dup_or_null(rid));
    o->ok = true;
    o->output = out;
    *meta = meta_json(s, &an, rid);
  }
  free(an.text);
  cJSON_Delete(doc);
}

/* The provider's own words in an error body, shortened into buf. */
static const char *error_words(const cairn__http_result *r, char *buf,
                               size_t n) {
  cJSON *doc = cJSON_ParseWithLength(r->body, r->body_len);
  const cJSON *e = field(doc, "error");
  const cJSON *m = cJSON_IsString(e) ? e : field(e, "message");
  if (!cJSON_IsString(m))
    m = field(doc, "message");
  char *text = cJSON_IsString(m)
                   ? cairn__text_dup(m->valuestring, strlen(m->valuestring),
                                     300, NULL)
                   : cairn__text_dup(r->body, r->body_len, 300, NULL);
  snprintf(buf, n, "%s", text ? text : "");
  for (char *c = buf; *c; c++)
    if (*c == '\n' || *c == '\r')
      *c = ' ';
  free(text);
  cJSON_Delete(doc);
  return buf;
}

/* Retry-After in ms: retry-after-ms (OpenAI), else retry-after seconds
 * (the HTTP-date form is left to the policy's delay); 0 when none. */
static int64_t retry_after(const cairn__http_result *r) {
  const cJSON *ms = field(r->headers, "retry-after-ms");
  const cJSON *secs = field(r->headers, "retry-after");
  const cJSON *v = cJSON_IsString(ms) ? ms : secs;
  char *end;
  if (!cJSON_IsString(v))
    return 0;
  double x = strtod(v->valuestring, &end);
  if (end == v->valuestring || *end != '\0' || x <= 0 || x >= 86400e3)
    return 0;
  return v == ms ? (int64_t)(x + 0.999) : (int64_t)(x * 1000 + 0.5);
}

static const char *status_hint(const llm_step *s, long status, char *buf,
                               size_t n) {
  const char *p = cairn__llm_provider_name(s->provider);
  if (status == 401 || status == 403)
    snprintf(buf, n, "check the API key (%s, or llm.providers.%s.api_key "
             "in config.json)", env_key[s->provider], p);
  else if (status == 404)
    snprintf(buf, n, "check the model name and the base URL "
             "(llm.providers.%s.base_url in config.json, or the "
             "environment)", p);
  else if (status == 429)
    snprintf(buf, n, "the provider is limiting the rate; retried after "
             "its Retry-After as the step's retry policy allows");
  else if (status == 408 || status >= 500)
    snprintf(buf, n, "the provider is failing; retried as the step's "
             "retry policy allows");
  else
    snprintf(buf, n, "check the step's prompt and parameters");
  return buf;
}

static void fail_status(llm_step *s, const cairn__http_result *r,
                        cairn__outcome *o) {
  long status = r->status;
  bool again = status == 429 || status == 408 || status >= 500;
  bool cut = false;
  char words[320], hint[200];
  char *body = cairn__text_dup(r->body, r->body_len, DETAIL_BODY, &cut);
  const cJSON *ra = field(r->headers, "retry-after");
  o->details = cJSON_CreateObject();
  cJSON_AddNumberToObject(o->details, "status", (double)status);
  cJSON_AddStringToObject(o->details, "body", body ? body : "");
  cJSON_AddBoolToObject(o->details, "truncated", cut);
  if (cJSON_IsString(ra))
    cJSON_AddStringToObject(o->details, "retry_after", ra->valuestring);
  cJSON_AddItemToObject(o->details, "request_id",
                        dup_or_null(request_id(r, NULL)));
  free(body);
  o->retry_after_ms = again ? retry_after(r) : 0;
  cairn__outcome_fail(o, "http_status", again, "%s: POST %s answered %ld (%s); %s",
           s->model_full, s->shown, status, error_words(r, words,
                                                        sizeof words),
           status_hint(s, status, hint, sizeof hint));
}

static void free_step(llm_step *s) {
  if (s->auth)
    memset(s->auth, 0, strlen(s->auth));
  free(s->auth);
  free(s->shown);
  free(s->body);
  free(s);
}

/* The client's callback: the attempt's outcome, scrubbed, reported. */
static void on_done(void *ctx, const cairn__http_result *r) {
  llm_step *s = ctx;
  cairn__attempt *a = s->a;
  cairn__outcome o = {0};
  char *meta = NULL;
  int64_t ms = a->timeout_ms > 0 ? a->timeout_ms : DEFAULT_TIMEOUT_MS;
  switch (r->end) {
  case CAIRN__HTTP_RESPONSE:
    if (r->status >= 200 && r->status < 300)
      answered(s, r, &o, &meta);
    else
      fail_status(s, r, &o);
    break;
  case CAIRN__HTTP_TIMEOUT:
    cairn__outcome_fail(&o, "timeout", true, "%s: POST %s: no complete answer within "
             "%lld ms (%s); raise the step's timeout_ms, or ask for less "
             "(max_tokens)", s->model_full, s->shown, (long long)ms,
             r->error);
    break;
  case CAIRN__HTTP_FAILED:
    cairn__outcome_fail(&o, "http_error", !r->permanent, "%s: POST %s failed: %s "
             "(curl error %d); %s", s->model_full, s->shown, r->error,
             r->curl_code, r->hint);
    break;
  case CAIRN__HTTP_TOO_LARGE:
    cairn__outcome_fail(&o, "output_too_large", false, "%s: POST %s: the answer "
             "passed %zu bytes", s->model_full, s->shown, MAX_BODY);
    break;
  case CAIRN__HTTP_CANCELLED:
    cairn__outcome_fail(&o, "cancelled", false, "%s: cancelled", s->model_full);
    break;
  default:
    cairn__outcome_fail(&o, s->fail_code, false, "%s", s->err);
    break;
  }
  if (meta && s->key && strlen(s->key) >= MIN_KEY) {
    char *clean = cairn__scrub(meta, s->key);
    if (clean) {
      free(meta);
      meta = clean;
    }
  }
  scrub_outcome(&o, s->key);
  o.meta = meta;
  free_step(s);
  cairn__attempt_done(a, &o);
  free(meta);
}

static void cancel(cairn__attempt *a) {
  llm_step *s = a->kind_data;
  cairn__http_cancel(s->call);
}

/* ------------------------------------------------------ the request */

static int input_error(llm_step *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int input_error(llm_step *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  s->fail_code = "input_error";
  return CAIRN_EINVAL;
}

static bool absent(const cJSON *v) { return v == NULL || cJSON_IsNull(v); }

/* Checks the rendered `with` (templates may have made any type). */
static int read_input(llm_step *s) {
  const cJSON *in = s->a->input, *m = field(in, "model");
  const cJSON *p = field(in, "prompt"), *sys = field(in, "system");
  const cJSON *t = field(in, "temperature"), *mt = field(in, "max_tokens");
  const cJSON *j = field(in, "json");
  double top;
  if (!cJSON_IsString(m) ||
      !cairn__llm_model_split(m->valuestring, &s->provider, &s->model))
    return input_error(s, "with.model is not PROVIDER:MODEL (providers: "
                       "openai, anthropic); fix the model or the template "
                       "that makes it");
  s->model_full = m->valuestring;
  top = s->provider == CAIRN__LLM_ANTHROPIC ? 1 : 2;
  if (!cJSON_IsString(p) || p->valuestring[0] == '\0')
    return input_error(s, "with.prompt is not a non-empty string; fix the "
                       "prompt or the template that makes it");
  if (!absent(sys) && !cJSON_IsString(sys))
    return input_error(s, "with.system is not a string");
  if (!absent(t) && (!cJSON_IsNumber(t) || t->valuedouble < 0 ||
                     t->valuedouble > top))
    return input_error(s, "with.temperature is not a number from 0 to %g "
                       "(%s)", top, cairn__llm_provider_name(s->provider));
  if (!absent(mt) && (!cJSON_IsNumber(mt) || mt->valuedouble < 1 ||
                      mt->valuedouble != (double)(int64_t)mt->valuedouble))
    return input_error(s, "with.max_tokens is not an integer > 0");
  if (!absent(j) && !cJSON_IsBool(j))
    return input_error(s, "with.json is not true or false");
  s->json = cJSON_IsTrue(j);
  return 0;
}

/* The request body in the provider's format. */
static char *request_body(const llm_step *s) {
  const cJSON *in = s->a->input;
  const cJSON *sys = field(in, "system"), *t = field(in, "temperature");
  const cJSON *mt = field(in, "max_tokens");
  bool anthropic = s->provider == CAIRN__LLM_ANTHROPIC;
  bool has_sys = cJSON_IsString(sys) && sys->valuestring[0];
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "model", s->model);
  if (anthropic)
    cJSON_AddNumberToObject(b, "max_tokens",
                            num_or(mt, ANTHROPIC_MAX_TOKENS));
  if (anthropic && has_sys)
    cJSON_AddStringToObject(b, "system", sys->valuestring);
  cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
  if (!anthropic && has_sys) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "system");
    cJSON_AddStringToObject(m, "content", sys->valuestring);
    cJSON_AddItemToArray(msgs, m);
  }
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "role", "user");
  cJSON_AddStringToObject(u, "content",
                          field(in, "prompt")->valuestring);
  cJSON_AddItemToArray(msgs, u);
  if (cJSON_IsNumber(t))
    cJSON_AddNumberToObject(b, "temperature", t->valuedouble);
  if (!anthropic && cJSON_IsNumber(mt))
    cJSON_AddNumberToObject(b, "max_tokens", mt->valuedouble);
  if (!anthropic && s->json)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "response_format"),
                            "type", "json_object");
  char *out = cJSON_PrintUnformatted(b);
  cJSON_Delete(b);
  return out;
}

/* The request of the attempt. Returns 0, CAIRN_EINVAL (s->fail_code and
 * s->err say why nothing is sent) or CAIRN_ENOMEM. */
static int setup(llm_step *s, cairn__http_request *q, char *url,
                 size_t url_len, cairn__http_header *hs) {
  const cairn__llm_config *cfg = cairn__llm_config_of(s->a->e);
  char why[400];
  int rc = read_input(s);
  if (rc)
    return rc;
  if (!cairn__llm_allowed(cfg, s->model_full, s->err, sizeof s->err)) {
    s->fail_code = "forbidden";
    return CAIRN_EINVAL;
  }
  const cairn__llm_provider *pv = &cfg->providers[s->provider];
  bool anthropic = s->provider == CAIRN__LLM_ANTHROPIC;
  snprintf(url, url_len, "%s/%s", pv->base_url,
           anthropic ? "messages" : "chat/completions");
  rc = cairn__http_url_check(url, &s->shown, why, sizeof why);
  if (rc == CAIRN_EINVAL)
    return input_error(s, "%s: the %s base URL %s; fix "
                       "llm.providers.%s.base_url in config.json or the "
                       "environment", s->model_full,
                       cairn__llm_provider_name(s->provider), why,
                       cairn__llm_provider_name(s->provider));
  s->key = pv->api_key;
  if (rc == 0 && (s->body = request_body(s)) == NULL)
    rc = CAIRN_ENOMEM;
  if (rc == 0 && s->key) {
    size_t n = strlen(s->key) + 8;
    if ((s->auth = malloc(n)) == NULL)
      return CAIRN_ENOMEM;
    snprintf(s->auth, n, "%s%s", anthropic ? "" : "Bearer ", s->key);
  }
  if (rc)
    return rc;
  size_t k = 0;
  hs[k++] = (cairn__http_header){"Content-Type", "application/json"};
  hs[k++] = (cairn__http_header){"Accept", "application/json"};
  if (s->auth)
    hs[k++] = (cairn__http_header){anthropic ? "x-api-key" : "Authorization",
                                   s->auth};
  if (anthropic)
    hs[k++] = (cairn__http_header){"anthropic-version", ANTHROPIC_VERSION};
  *q = (cairn__http_request){
      .method = "POST", .url = url, .headers = hs, .n_headers = k,
      .body = s->body, .body_len = strlen(s->body),
      .timeout_ms = s->a->timeout_ms > 0 ? s->a->timeout_ms
                                         : DEFAULT_TIMEOUT_MS,
      .max_body = MAX_BODY};
  return 0;
}

/* ------------------------------------------------- the step's `with` */

/* An llm step's model: "PROVIDER:MODEL" with a known provider. */
static int check_model(cairn__check *c, const cJSON *v, const char *path) {
  char got[48];
  const char *colon;
  if (v == NULL)
    return cairn__check_fail(c, "%s: missing; name the model as PROVIDER:MODEL, e.g. "
                   "\"openai:gpt-4o-mini\"", path);
  int rc = cairn__check_string(c, v, path, true, "PROVIDER:MODEL");
  if (rc || cairn__check_is_template(v))
    return rc;
  colon = strchr(v->valuestring, ':');
  if (colon == NULL || colon[1] == '\0' ||
      !((colon - v->valuestring == 6 &&
         strncmp(v->valuestring, "openai", 6) == 0) ||
        (colon - v->valuestring == 9 &&
         strncmp(v->valuestring, "anthropic", 9) == 0)))
    return cairn__check_fail(c, "%s: %s is not PROVIDER:MODEL; the providers are openai "
                   "(also for OpenAI-compatible servers) and anthropic, "
                   "e.g. \"openai:gpt-4o-mini\"",
                path, cairn__check_describe(v, got, sizeof got));
  return 0;
}

static int check_with(cairn__check *c, const cJSON *w, const char *path) {
  static const char *const known[] = {"model", "prompt", "system",
                                      "temperature", "max_tokens", "json",
                                      NULL};
  const cJSON *t = cairn__check_field(w, "temperature"), *j = cairn__check_field(w, "json");
  const cJSON *mt = cairn__check_field(w, "max_tokens"), *sys = cairn__check_field(w, "system");
  char fp[160], got[48];
  int64_t n;
  int rc = cairn__check_fields(c, w, path, known,
                        "an llm step takes model, prompt, system, "
                        "temperature, max_tokens, json");
  if (rc)
    return rc;
  snprintf(fp, sizeof fp, "%s.model", path);
  if ((rc = check_model(c, cairn__check_field(w, "model"), fp)) != 0)
    return rc;
  snprintf(fp, sizeof fp, "%s.prompt", path);
  if (cairn__check_field(w, "prompt") == NULL)
    return cairn__check_fail(c, "%s: missing; give the prompt (a template)", fp);
  if ((rc = cairn__check_string(c, cairn__check_field(w, "prompt"), fp, true, "the prompt")))
    return rc;
  snprintf(fp, sizeof fp, "%s.system", path);
  if (sys && !cJSON_IsNull(sys) &&
      (rc = cairn__check_string(c, sys, fp, false, "the system prompt")))
    return rc;
  snprintf(fp, sizeof fp, "%s.temperature", path);
  if (t && !cairn__check_is_template(t) &&
      (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble > 2))
    return cairn__check_fail(c, "%s: %s is not a number from 0 to 2; give e.g. 0.2",
                fp, cairn__check_describe(t, got, sizeof got));
  snprintf(fp, sizeof fp, "%s.max_tokens", path);
  if (mt && !cairn__check_is_template(mt) &&
      (rc = cairn__check_int(c, mt, fp, 1, "the most tokens to generate", &n)))
    return rc;
  snprintf(fp, sizeof fp, "%s.json", path);
  if (j && !cairn__check_is_template(j) && !cJSON_IsBool(j))
    return cairn__check_fail(c, "%s: %s is not true or false", fp,
                cairn__check_describe(j, got, sizeof got));
  return 0;
}

/* ---------------------------------------------------------- attempts */

static int start(cairn__attempt *a) {
  cairn__http_request q;
  cairn__http_header hs[4];
  char url[2200];
  llm_step *s = calloc(1, sizeof *s);
  if (s == NULL) {
    cairn__engine_err(a->e, "out of memory starting an llm call");
    return CAIRN_ENOMEM;
  }
  s->a = a;
  s->model_full = "llm";
  int rc = setup(s, &q, url, sizeof url, hs);
  if (rc == 0 || rc == CAIRN_EINVAL)
    rc = cairn__http_call(a->e, rc == 0 ? &q : NULL, on_done, s, &s->call);
  else
    cairn__engine_err(a->e, "out of memory starting an llm call");
  if (rc) {
    free_step(s);
    return rc;
  }
  a->kind_data = s;
  a->cancel = cancel;
  return 0;
}

/* Every provider key this engine knows, out of v. */
static void scrub_keys(cairn_engine *e, cJSON *v) {
  const cairn__llm_config *c = cairn__llm_config_of(e);
  for (int i = 0; c && i < CAIRN__LLM_PROVIDERS; i++) {
    const char *key = c->providers[i].api_key;
    if (key && strlen(key) >= MIN_KEY)
      cairn__scrub_json(v, key);
  }
}

static bool holds_key(cairn_engine *e, const char *text) {
  const cairn__llm_config *c = cairn__llm_config_of(e);
  for (int i = 0; c && i < CAIRN__LLM_PROVIDERS; i++) {
    const char *key = c->providers[i].api_key;
    if (key && strlen(key) >= MIN_KEY && strstr(text, key))
      return true;
  }
  return false;
}

const cairn__kind cairn__kind_llm = {
    .name = "llm",
    .id = CAIRN__KIND_LLM,
    .transient_retries = true,
    .check_with = check_with,
    .start = start,
    .config_key = "llm",
    .configure = cairn__llm_configure,
    .admit = cairn__llm_policy_check,
    .close = cairn__llm_close,
    .scrub = scrub_keys,
    .holds_secret = holds_key,
};
