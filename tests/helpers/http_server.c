/*
 * http_server.c — a scripted HTTP server for the http step tests.
 *
 *   usage: http_server        listens on 127.0.0.1, on a port the kernel
 *                             picks, and prints that port as stdout's
 *                             first line; stops on SIGTERM or SIGINT
 *
 * Endpoints (any method):
 *   /json           200 JSON echoing the request: {method, body (text),
 *                   idempotency_key, content_type, headers (lowercased)}
 *   /text           200 text/plain
 *   /binary         200 application/octet-stream, bytes that are not
 *                   UTF-8
 *   /status/NNN     status NNN, text body "status NNN"; a 429 carries
 *                   Retry-After: 1
 *   /flaky          503 for the first two requests carrying each
 *                   Idempotency-Key, then 200 {attempt, idempotency_key}
 *   /slow?ms=N      waits N ms, then 200 {slept_ms}
 *   /redirect?to=P  302 to P
 *   /big?bytes=N    200 with N bytes of 'a'; &chunked=1 sends them
 *                   without a Content-Length
 *   /count          200 {path: requests seen} (itself not counted)
 * Every response carries X-Test-Server: cairn.
 *
 * libmicrohttpd with a thread per connection, so a slow answer holds up
 * no other request; the counters are shared under one mutex. The test
 * scripts start it, read the port, and kill it on exit.
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

#define MAX_KEYS 256
#define MAX_BODY ((size_t)1 << 20)

/* Requests seen per path (paths_*) and per Idempotency-Key on /flaky. */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static counter paths[MAX_KEYS], keys[MAX_KEYS];


static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
                                 const char *type, const char *text,
                                 size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)text, MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "X-Test-Server", "cairn");
  if (status == 429)
    MHD_add_response_header(r, "Retry-After", "1");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* Sends `doc` as JSON and frees it. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 cJSON *doc) {
  char *s = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (s == NULL)
    return MHD_NO;
  enum MHD_Result ok = send_text(c, status, "application/json", s,
                                 strlen(s));
  cJSON_free(s);
  return ok;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value) {
  char name[128];
  (void)kind;
  snprintf(name, sizeof name, "%s", key);
  for (char *p = name; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  cJSON_AddStringToObject(cls, name, value ? value : "");
  return MHD_YES;
}

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *arg(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result echo(struct MHD_Connection *c, const char *method,
                            const upload *u) {
  cJSON *doc = cJSON_CreateObject();
  const char *key = header(c, "Idempotency-Key");
  const char *type = header(c, "Content-Type");
  cJSON_AddStringToObject(doc, "method", method);
  cJSON_AddStringToObject(doc, "body", u->buf ? u->buf : "");
  if (key)
    cJSON_AddStringToObject(doc, "idempotency_key", key);
  else
    cJSON_AddNullToObject(doc, "idempotency_key");
  if (type)
    cJSON_AddStringToObject(doc, "content_type", type);
  else
    cJSON_AddNullToObject(doc, "content_type");
  MHD_get_connection_values(c, MHD_HEADER_KIND, add_header,
                            cJSON_AddObjectToObject(doc, "headers"));
  return send_json(c, 200, doc);
}

static enum MHD_Result flaky(struct MHD_Connection *c) {
  const char *key = header(c, "Idempotency-Key");
  unsigned n = mhd_count(keys, MAX_KEYS, key ? key : "");
  if (n <= 2)
    return send_text(c, 503, "text/plain", "busy, try again", 15);
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddNumberToObject(doc, "attempt", n);
  cJSON_AddStringToObject(doc, "idempotency_key", key ? key : "");
  return send_json(c, 200, doc);
}

static enum MHD_Result slow(struct MHD_Connection *c) {
  const char *ms_arg = arg(c, "ms");
  long ms = ms_arg ? atol(ms_arg) : 1000;
  struct timespec tick = {0, 10 * 1000 * 1000};
  /* In steps, so that a mhd_stopping server does not wait for sleepers. */
  for (long slept = 0; slept < ms && !mhd_stopping; slept += 10)
    nanosleep(&tick, NULL);
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddNumberToObject(doc, "slept_ms", (double)ms);
  return send_json(c, 200, doc);
}

static ssize_t fill_a(void *cls, uint64_t pos, char *buf, size_t max) {
  uint64_t total = *(uint64_t *)cls;
  if (pos >= total)
    return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = total - pos < max ? (size_t)(total - pos) : max;
  memset(buf, 'a', n);
  return (ssize_t)n;
}

static enum MHD_Result big(struct MHD_Connection *c) {
  const char *b = arg(c, "bytes"), *chunked = arg(c, "chunked");
  uint64_t *total = malloc(sizeof *total);
  if (total == NULL)
    return MHD_NO;
  *total = b ? strtoull(b, NULL, 10) : 0;
  uint64_t size = chunked && *chunked == '1' ? MHD_SIZE_UNKNOWN : *total;
  struct MHD_Response *r = MHD_create_response_from_callback(
      size, 65536, fill_a, total, free);
  if (r == NULL) {
    free(total);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/plain");
  enum MHD_Result ok = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result redirect(struct MHD_Connection *c) {
  const char *to = arg(c, "to");
  struct MHD_Response *r = MHD_create_response_from_buffer(
      0, "", MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, "Location", to ? to : "/json");
  enum MHD_Result ok = MHD_queue_response(c, 302, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result count(struct MHD_Connection *c) {
  cJSON *doc = cJSON_CreateObject();
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < MAX_KEYS && paths[i].name; i++)
    cJSON_AddNumberToObject(doc, paths[i].name, paths[i].n);
  pthread_mutex_unlock(&lock);
  return send_json(c, 200, doc);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
                             const char *method, const upload *u) {
  if (strcmp(url, "/count") == 0)
    return count(c);
  mhd_count(paths, MAX_KEYS, url);
  if (strcmp(url, "/json") == 0)
    return echo(c, method, u);
  if (strcmp(url, "/text") == 0)
    return send_text(c, 200, "text/plain", "hello from the test server", 26);
  if (strcmp(url, "/binary") == 0)
    return send_text(c, 200, "application/octet-stream", "\x00\xff\x10\x80",
                     4);
  if (strncmp(url, "/status/", 8) == 0) {
    char text[32];
    int status = atoi(url + 8);
    if (status < 100 || status > 599)
      status = 400;
    snprintf(text, sizeof text, "status %d", status);
    return send_text(c, (unsigned)status, "text/plain", text, strlen(text));
  }
  if (strcmp(url, "/flaky") == 0)
    return flaky(c);
  if (strcmp(url, "/slow") == 0)
    return slow(c);
  if (strcmp(url, "/redirect") == 0)
    return redirect(c);
  if (strcmp(url, "/big") == 0)
    return big(c);
  return send_text(c, 404, "text/plain", "no such endpoint", 16);
}

static enum MHD_Result too_big(struct MHD_Connection *c) {
  return send_text(c, 413, "text/plain", "too big", 7);
}

int main(void) {
  int rc = mhd_serve("http_server", MAX_BODY, route, too_big);
  mhd_count_free(paths, MAX_KEYS);
  mhd_count_free(keys, MAX_KEYS);
  return rc;
}
