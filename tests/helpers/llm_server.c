/*
 * llm_server.c — a scripted model server for the llm step tests: it
 * speaks the OpenAI chat-completions and the Anthropic messages wire
 * formats, with behaviours chosen by markers in the prompt.
 *
 *   usage: llm_server      listens on 127.0.0.1, on a port the kernel
 *                          picks, and prints that port as stdout's first
 *                          line; stops on SIGTERM or SIGINT
 *   LLM_SERVER_KEY=K       requests must carry K (OpenAI: Authorization:
 *                          Bearer K; Anthropic: x-api-key: K), else 401
 *
 * Endpoints:
 *   POST /v1/chat/completions   OpenAI format
 *   POST /v1/messages           Anthropic format (needs anthropic-version)
 *   GET  /requests              every model request seen: [{path,
 *                               authorization, x_api_key,
 *                               anthropic_version, body}]
 *
 * Behaviours, by a marker in the prompt (the last user message); counts
 * are per prompt text:
 *   #429        429 with Retry-After: 1 the first time, then the answer
 *   #500        500 the first two times, then the answer
 *   #malformed  200 with a body that is not JSON
 *   #missing    200 with JSON that has no answer text
 *   #slow       waits 3 s, then the answer
 *   #json       the text is a JSON object {"model", "words"}
 *   #fenced     the same inside a ```json fence
 *   #401        401 whose error message quotes the key it got
 *   #echo-key   the answer's text quotes the key it got
 *   otherwise   "MODEL says: PROMPT"
 * A request's max_tokens is honoured with words for tokens: a text longer
 * than that many words is cut after the last word that fits, and the
 * answer's finish reason is "length" (OpenAI) or its stop reason
 * "max_tokens" (Anthropic) instead of "stop" / "end_turn". A longer
 * prompt makes a longer answer, so a prompt change can push one input's
 * answer past max_tokens (e2e/llm_stories.sh's backtest).
 * Usage: input tokens = words of system + prompt, output tokens = words
 * of the text (after the cut). Responses carry x-request-id (OpenAI) or
 * request-id (Anthropic): "req-N", N counting requests.
 *
 * libmicrohttpd with a thread per connection, like http_server.c, so a
 * slow answer holds up no other request; shared state is under one
 * mutex.
 */
#include <cjson/cJSON.h>
#include "mhd_server.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROMPTS 512
#define MAX_BODY ((size_t)1 << 20)
#define SLOW_MS 3000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static counter seen[MAX_PROMPTS];
static cJSON *requests;   /* GET /requests */
static unsigned n_requests;


/* One model request, parsed. */
typedef struct req {
  bool anthropic;
  const char *model;
  const char *prompt;
  const char *system;
  const char *key;         /* the key it carried, or "" */
  long max_tokens;         /* 0: none asked for */
  unsigned id;
} req;

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status,
                                 const char *type, const char *text,
                                 const req *q, const char *retry_after) {
  char rid[32];
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  if (q) {
    snprintf(rid, sizeof rid, "req-%u", q->id);
    MHD_add_response_header(r, q->anthropic ? "request-id" : "x-request-id",
                            rid);
  }
  if (retry_after)
    MHD_add_response_header(r, "Retry-After", retry_after);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 cJSON *doc, const req *q,
                                 const char *retry_after) {
  char *s = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (s == NULL)
    return MHD_NO;
  enum MHD_Result ok = send_body(c, status, "application/json", s, q,
                                 retry_after);
  cJSON_free(s);
  return ok;
}

/* An error in the request's format. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const req *q, const char *type,
                                  const char *msg, const char *retry_after) {
  cJSON *doc = cJSON_CreateObject();
  if (q && q->anthropic)
    cJSON_AddStringToObject(doc, "type", "error");
  cJSON *e = cJSON_AddObjectToObject(doc, "error");
  cJSON_AddStringToObject(e, "type", type);
  cJSON_AddStringToObject(e, "message", msg);
  return send_json(c, status, doc, q, retry_after);
}

static unsigned words(const char *s) {
  unsigned n = 0;
  bool in = false;
  for (; s && *s; s++) {
    bool sp = isspace((unsigned char)*s);
    n += !sp && !in;
    in = !sp;
  }
  return n;
}

/* Where `s` ends after its first `n` words (n > 0), or NULL when it has
 * no more than `n` words. */
static const char *cut_after(const char *s, long n) {
  long count = 0;
  bool in = false;
  for (; *s; s++) {
    bool sp = isspace((unsigned char)*s);
    if (!sp && !in && ++count > n) {
      /* s starts word n + 1: step back over the spaces before it */
      while (isspace((unsigned char)s[-1]))
        s--;
      return s;
    }
    in = !sp;
  }
  return NULL;
}

static enum MHD_Result answer(struct MHD_Connection *c, const req *q,
                              const char *full) {
  char id[32], text[4096];
  const char *cut = q->max_tokens > 0 ? cut_after(full, q->max_tokens)
                                      : NULL;
  snprintf(text, sizeof text, "%.*s",
           (int)(cut ? (size_t)(cut - full) : strlen(full)), full);
  unsigned in = words(q->system) + words(q->prompt), out = words(text);
  cJSON *doc = cJSON_CreateObject();
  cJSON *usage;
  snprintf(id, sizeof id, "%s%u", q->anthropic ? "msg_" : "chatcmpl-",
           q->id);
  cJSON_AddStringToObject(doc, "id", id);
  cJSON_AddStringToObject(doc, "model", q->model);
  if (q->anthropic) {
    cJSON_AddStringToObject(doc, "type", "message");
    cJSON_AddStringToObject(doc, "role", "assistant");
    cJSON *block = cJSON_CreateObject();
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", text);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "content"), block);
    cJSON_AddStringToObject(doc, "stop_reason",
                            cut ? "max_tokens" : "end_turn");
    usage = cJSON_AddObjectToObject(doc, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", in);
    cJSON_AddNumberToObject(usage, "output_tokens", out);
  }
  else {
    cJSON_AddStringToObject(doc, "object", "chat.completion");
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(choice, "index", 0);
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    cJSON_AddStringToObject(msg, "content", text);
    cJSON_AddStringToObject(choice, "finish_reason",
                            cut ? "length" : "stop");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(doc, "choices"), choice);
    usage = cJSON_AddObjectToObject(doc, "usage");
    cJSON_AddNumberToObject(usage, "prompt_tokens", in);
    cJSON_AddNumberToObject(usage, "completion_tokens", out);
    cJSON_AddNumberToObject(usage, "total_tokens", in + out);
  }
  return send_json(c, 200, doc, q, NULL);
}

static void sleep_ms(long ms) {
  struct timespec tick = {0, 10 * 1000 * 1000};
  /* In steps, so that a mhd_stopping server does not wait for sleepers. */
  for (long slept = 0; slept < ms && !mhd_stopping; slept += 10)
    nanosleep(&tick, NULL);
}

/* The scripted behaviours; `n` counts requests with this prompt. */
static enum MHD_Result behave(struct MHD_Connection *c, const req *q,
                              unsigned n) {
  char text[4096];
  const char *p = q->prompt;
  if (strstr(p, "#429") && n == 1)
    return send_error(c, 429, q, "rate_limit_error", "slow down", "1");
  if (strstr(p, "#500") && n <= 2)
    return send_error(c, 500, q, "server_error", "the model fell over",
                      NULL);
  if (strstr(p, "#malformed"))
    return send_body(c, 200, "text/html", "<html>not json</html>", q, NULL);
  if (strstr(p, "#missing"))
    return send_json(c, 200, cJSON_Parse("{\"id\": \"x\"}"), q, NULL);
  if (strstr(p, "#401")) {
    snprintf(text, sizeof text, "Incorrect API key provided: %s", q->key);
    return send_error(c, 401, q, "authentication_error", text, NULL);
  }
  if (strstr(p, "#slow"))
    sleep_ms(SLOW_MS);
  if (strstr(p, "#json") || strstr(p, "#fenced"))
    snprintf(text, sizeof text, "%s{\"model\": \"%s\", \"words\": %u}%s",
             strstr(p, "#fenced") ? "```json\n" : "", q->model, words(p),
             strstr(p, "#fenced") ? "\n```" : "");
  else if (strstr(p, "#echo-key"))
    snprintf(text, sizeof text, "I was given the key %s", q->key);
  else
    snprintf(text, sizeof text, "%s says: %.3000s", q->model, p);
  return answer(c, q, text);
}

static const char *header(struct MHD_Connection *c, const char *name) {
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  return v ? v : "";
}

/* Remembers the request for GET /requests. */
static void record(struct MHD_Connection *c, const char *url,
                   const cJSON *body) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "path", url);
  cJSON_AddStringToObject(r, "authorization", header(c, "Authorization"));
  cJSON_AddStringToObject(r, "x_api_key", header(c, "x-api-key"));
  cJSON_AddStringToObject(r, "anthropic_version",
                          header(c, "anthropic-version"));
  cJSON_AddItemToObject(r, "body", body ? cJSON_Duplicate(body, 1)
                                        : cJSON_CreateNull());
  pthread_mutex_lock(&lock);
  cJSON_AddItemToArray(requests, r);
  pthread_mutex_unlock(&lock);
}

/* The last user message's text, and the system text. */
static void read_messages(const cJSON *body, req *q) {
  const cJSON *m;
  const cJSON *sys = cJSON_GetObjectItemCaseSensitive(body, "system");
  q->prompt = NULL;
  q->system = cJSON_IsString(sys) ? sys->valuestring : NULL;
  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(body, "messages")) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!cJSON_IsString(role) || !cJSON_IsString(text))
      continue;
    if (strcmp(role->valuestring, "user") == 0)
      q->prompt = text->valuestring;
    else if (strcmp(role->valuestring, "system") == 0)
      q->system = text->valuestring;
  }
}

static enum MHD_Result model_call(struct MHD_Connection *c, const char *url,
                                  const upload *u, bool anthropic) {
  cJSON *body = u->buf ? cJSON_Parse(u->buf) : NULL;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
  const char *want = getenv("LLM_SERVER_KEY");
  req q = {.anthropic = anthropic};
  record(c, url, body);
  pthread_mutex_lock(&lock);
  q.id = ++n_requests;
  pthread_mutex_unlock(&lock);
  q.key = anthropic ? header(c, "x-api-key") : header(c, "Authorization");
  if (!anthropic && strncmp(q.key, "Bearer ", 7) == 0)
    q.key += 7;
  read_messages(body, &q);
  q.model = cJSON_IsString(model) ? model->valuestring : "?";
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
  q.max_tokens = cJSON_IsNumber(mt) && mt->valuedouble >= 1 &&
                         mt->valuedouble < 1e9
                     ? (long)mt->valuedouble
                     : 0;
  enum MHD_Result ok;
  if (!cJSON_IsObject(body) || q.prompt == NULL)
    ok = send_error(c, 400, &q, "invalid_request_error",
                    "need a JSON body with a user message", NULL);
  else if (anthropic && *header(c, "anthropic-version") == '\0')
    ok = send_error(c, 400, &q, "invalid_request_error",
                    "anthropic-version header is required", NULL);
  else if (anthropic && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(
                            body, "max_tokens")))
    ok = send_error(c, 400, &q, "invalid_request_error",
                    "max_tokens: field required", NULL);
  else if (want && strcmp(want, q.key) != 0 && !strstr(q.prompt, "#401"))
    ok = send_error(c, 401, &q, "authentication_error", "invalid key",
                    NULL);
  else
    ok = behave(c, &q, mhd_count(seen, MAX_PROMPTS, q.prompt));
  cJSON_Delete(body);
  return ok;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
                             const char *method, const upload *u) {
  if (strcmp(url, "/requests") == 0) {
    pthread_mutex_lock(&lock);
    cJSON *copy = cJSON_Duplicate(requests, 1);
    pthread_mutex_unlock(&lock);
    return send_json(c, 200, copy, NULL, NULL);
  }
  if (strcmp(method, "POST") == 0 &&
      strcmp(url, "/v1/chat/completions") == 0)
    return model_call(c, url, u, false);
  if (strcmp(method, "POST") == 0 && strcmp(url, "/v1/messages") == 0)
    return model_call(c, url, u, true);
  return send_body(c, 404, "text/plain", "no such endpoint", NULL, NULL);
}

static enum MHD_Result too_big(struct MHD_Connection *c) {
  return send_body(c, 413, "text/plain", "too big", NULL, NULL);
}

int main(void) {
  requests = cJSON_CreateArray();
  int rc = mhd_serve("llm_server", MAX_BODY, route, too_big);
  mhd_count_free(seen, MAX_PROMPTS);
  cJSON_Delete(requests);
  return rc;
}
