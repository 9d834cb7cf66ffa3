/*
 * serve.c — the HTTP API benchmark: the real `cairn serve` on 127.0.0.1,
 * executing the runs it starts, driven by libcurl's multi interface over
 * keep-alive connections.
 *
 *   bench_serve [--quick] [--cairn PATH]
 *
 * A fresh journal under $TMPDIR (default /tmp), removed at exit, and one
 * `cairn serve --listen 127.0.0.1:0 --quiet` child process on it (PATH
 * defaults to the cairn built with this benchmark). Every commit is
 * durable. The client shares the machine's cores with the server, so the
 * figures are what one machine does with both, not the server alone.
 *
 * Phases, each for PHASE_S seconds (--quick: a third of that), at 1 and at
 * 64 concurrent connections, each connection sending its next request as
 * soon as the answer to the last one arrived:
 *  1. get: GET /v1/runs/{id} of one completed run (its view: steps,
 *     attempts, outputs), the read path of every client and of the viewer.
 *  2. start: POST /v1/runs {"workflow": "noop"} (one `sleep` step of 0 ms),
 *     answered 201 once the run is durable: concurrent starts share the
 *     engine's group commit, so one transaction holds many. The server
 *     executes every run it starts while the phase goes on; the phase after
 *     waits until none is left running.
 *  3. sse: 100 followers of one run on GET /v1/runs/{id}/events. The run
 *     waits for signal "go" first, so every follower is connected before
 *     the events of interest exist; then 20 sleep steps of 20 ms. The lag
 *     of an event at one follower is the wall time it arrived minus its
 *     time_us (when the engine made it, before its commit), for every
 *     event recorded after the signal, at every follower.
 *
 * Latency is per request, from handing it to libcurl to the last byte of
 * the answer. A request answered with another status than the phase's is
 * counted as an error and printed. Ends with
 *   RESULT bench=serve get_rps=.. get_p99_ms=.. start_rps=.. start_p99_ms=..
 *          sse_lag_p99_ms=..
 * (rps and p99 at 64 connections), after a table with p50 and the 1-
 * connection figures.
 */

#include "bench_util.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CAIRN_BIN
#define CAIRN_BIN "cairn"
#endif

#define PHASE_S 3.0
#define MAX_CONNS 64
#define FOLLOWERS 100
#define SSE_STEPS 20

static char api[64];
static double phase_s = PHASE_S;

/* ------------------------------------------------------------ samples */

/* The p-th percentile of s (nearest rank). */
static double pct(bench_samples *s, double p) {
  return bench_percentile(s->v, s->n, p);
}

/* --------------------------------------------------------------- HTTP */

typedef struct buf {
  char *p;
  size_t n;
} buf;

static size_t on_body(char *data, size_t size, size_t n, void *ctx) {
  buf *b = ctx;
  size_t len = size * n;
  char *p = realloc(b->p, b->n + len + 1);
  if (p == NULL)
    return 0;
  memcpy(p + b->n, data, len);
  b->n += len;
  p[b->n] = '\0';
  b->p = p;
  return len;
}

static struct curl_slist *json_headers;

/* A handle for METHOD path with `body` (NULL: a GET). */
static CURL *handle(const char *path, const char *body, buf *out) {
  char url[600];
  snprintf(url, sizeof url, "%s%s", api, path);
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  if (body) {
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, json_headers);
    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
  }
  return h;
}

/* One blocking request; the status, or 0 when it could not be sent. The
 * answer's body in *out (malloc'ed). */
static long request(const char *path, const char *body, char **out) {
  buf b = {0};
  long status = 0;
  CURL *h = handle(path, body, &b);
  if (curl_easy_perform(h) == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (out)
    *out = b.p;
  else
    free(b.p);
  return status;
}

/* -------------------------------------------------- a closed-loop phase */

typedef struct conn_state {
  CURL *h;
  buf b;
  double t0;
} conn_state;

typedef struct phase_result {
  double rps, p50_ms, p99_ms;
  size_t n, errors;
} phase_result;

/* `conns` connections send `path` (a POST of `body`, or a GET) for
 * phase_s seconds, each its next request once the last is answered. */
static phase_result closed_loop(const char *path, const char *body,
                                long want, int conns) {
  CURLM *m = curl_multi_init();
  conn_state cs[MAX_CONNS];
  bench_samples lat = {0};
  phase_result r = {0};
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(2 * MAX_CONNS));
  double start = bench_now_s(), end = start + phase_s;
  for (int i = 0; i < conns; i++) {
    memset(&cs[i], 0, sizeof cs[i]);
    cs[i].h = handle(path, body, &cs[i].b);
    curl_easy_setopt(cs[i].h, CURLOPT_PRIVATE, &cs[i]);
    cs[i].t0 = bench_now_s();
    curl_multi_add_handle(m, cs[i].h);
  }
  int running = conns;
  while (running > 0) {
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      conn_state *c;
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
      curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
      double now = bench_now_s();
      if (msg->data.result != CURLE_OK || status != want) {
        if (r.errors++ < 3)
          fprintf(stderr, "bench_serve: %s answered %ld (%s): %.200s\n",
                  path, status, curl_easy_strerror(msg->data.result),
                  c->b.p ? c->b.p : "");
      }
      else {
        bench_samples_add(&lat, (now - c->t0) * 1e3);
      }
      curl_multi_remove_handle(m, c->h);
      free(c->b.p);
      c->b.p = NULL;
      c->b.n = 0;
      if (now < end) {
        c->t0 = now;
        curl_multi_add_handle(m, c->h);
        running++;
      }
    }
    if (running > 0)
      curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  double took = bench_now_s() - start;
  for (int i = 0; i < conns; i++)
    curl_easy_cleanup(cs[i].h);
  curl_multi_cleanup(m);
  r.n = lat.n;
  r.rps = (double)lat.n / took;
  r.p50_ms = pct(&lat, 0.50);
  r.p99_ms = pct(&lat, 0.99);
  free(lat.v);
  return r;
}

/* ------------------------------------------------------------- SSE */

typedef struct follower {
  CURL *h;
  char *line;          /* the part of a line not yet ended */
  size_t n;
  bench_samples *lag;
  int64_t after_us;    /* only events made after this count */
  size_t events;
} follower;

/* Reads "data: EVENT" lines; each event's lag is now - its time_us. */
static size_t on_sse(char *data, size_t size, size_t n, void *ctx) {
  follower *f = ctx;
  size_t len = size * n;
  int64_t now = bench_wall_us();
  char *p = realloc(f->line, f->n + len + 1);
  if (p == NULL)
    return 0;
  memcpy(p + f->n, data, len);
  f->n += len;
  p[f->n] = '\0';
  f->line = p;
  char *start = p, *nl;
  while ((nl = strchr(start, '\n')) != NULL) {
    *nl = '\0';
    if (strncmp(start, "data: ", 6) == 0) {
      cJSON *ev = cJSON_Parse(start + 6);
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "time_us");
      if (cJSON_IsNumber(t) && (int64_t)t->valuedouble > f->after_us) {
        bench_samples_add(f->lag,
                          (double)(now - (int64_t)t->valuedouble) / 1e3);
        f->events++;
      }
      cJSON_Delete(ev);
    }
    start = nl + 1;
  }
  f->n = strlen(start);
  memmove(f->line, start, f->n + 1);
  return len;
}

static double sse_phase(size_t *n_events) {
  char *body = NULL, path[200];
  if (request("/v1/runs", "{\"workflow\": \"sse\"}", &body) != 201) {
    fprintf(stderr, "bench_serve: the SSE run did not start: %s\n",
            body ? body : "");
    free(body);
    return -1;
  }
  cJSON *doc = cJSON_Parse(body);
  free(body);
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "run_id");
  char run[64];
  snprintf(run, sizeof run, "%s", cJSON_IsString(id) ? id->valuestring : "");
  cJSON_Delete(doc);
  bench_samples lag = {0};
  follower fs[FOLLOWERS];
  CURLM *m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(2 * FOLLOWERS));
  snprintf(path, sizeof path, "/v1/runs/%s/events", run);
  for (int i = 0; i < FOLLOWERS; i++) {
    memset(&fs[i], 0, sizeof fs[i]);
    fs[i].lag = &lag;
    fs[i].after_us = INT64_MAX; /* set once all are connected */
    fs[i].h = handle(path, NULL, NULL);
    curl_easy_setopt(fs[i].h, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(fs[i].h, CURLOPT_WRITEDATA, &fs[i]);
    curl_multi_add_handle(m, fs[i].h);
  }
  /* Connect every follower and let each read the backlog. */
  int running = FOLLOWERS;
  double until = bench_now_s() + 1.0;
  while (bench_now_s() < until) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  int64_t go_us = bench_wall_us();
  for (int i = 0; i < FOLLOWERS; i++)
    fs[i].after_us = go_us;
  /* The signal is sent from this loop's thread, with the followers
   * read meanwhile: a blocking request would stall them. */
  char sig[200];
  buf sb = {0};
  snprintf(sig, sizeof sig, "/v1/runs/%s/signal", run);
  CURL *s = handle(sig, "{\"name\": \"go\"}", &sb);
  curl_multi_add_handle(m, s);
  running++;
  until = bench_now_s() + 30;
  while (running > 0 && bench_now_s() < until) {
    curl_multi_perform(m, &running);
    if (running > 0)
      curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  curl_multi_remove_handle(m, s);
  curl_easy_cleanup(s);
  free(sb.p);
  *n_events = 0;
  for (int i = 0; i < FOLLOWERS; i++) {
    *n_events += fs[i].events;
    curl_multi_remove_handle(m, fs[i].h);
    curl_easy_cleanup(fs[i].h);
    free(fs[i].line);
  }
  curl_multi_cleanup(m);
  double p99 = pct(&lag, 0.99);
  printf("sse    %d followers, %zu events received after the signal, lag "
         "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", FOLLOWERS,
         *n_events, pct(&lag, 0.5), pct(&lag, 0.9), p99, pct(&lag, 1.0));
  free(lag.v);
  return p99;
}

/* ------------------------------------------------------------ server */

static pid_t server;

static int start_server(const char *cairn, const char *home) {
  int fd[2];
  if (pipe(fd) != 0)
    return -1;
  server = fork();
  if (server == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    execl(cairn, cairn, "--home", home, "serve", "--listen", "127.0.0.1:0",
          "--quiet", (char *)NULL);
    perror(cairn);
    _exit(127);
  }
  close(fd[1]);
  FILE *f = fdopen(fd[0], "r");
  char line[300];
  while (f && fgets(line, sizeof line, f)) {
    char *u = strstr(line, "http://127.0.0.1:");
    if (u) {
      u[strcspn(u, " \n")] = '\0';
      snprintf(api, sizeof api, "%s", u);
      break;
    }
  }
  /* keep reading its stdout so that it never blocks on a full pipe */
  if (f && fork() == 0) {
    while (fgets(line, sizeof line, f))
      ;
    _exit(0);
  }
  if (f)
    fclose(f);
  return api[0] ? 0 : -1;
}

static void stop_server(void) {
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    server = 0;
  }
}

/* Waits until no run is running (the starts of the last phase are
 * executed), at most 60 s. */
static void drain(void) {
  double until = bench_now_s() + 60;
  while (bench_now_s() < until) {
    char *body = NULL;
    request("/v1/runs?status=running&limit=1", NULL, &body);
    bool idle = body && strstr(body, "\"runs\":[]") != NULL;
    free(body);
    if (idle)
      return;
    usleep(100 * 1000);
  }
}

static const char noop_def[] =
    "{\"name\": \"noop\", \"steps\": [{\"name\": \"s\", \"kind\": \"sleep\", "
    "\"with\": {\"duration_ms\": 0}}]}";

static char *sse_def(void) {
  static char d[4096];
  int n = snprintf(d, sizeof d, "{\"name\": \"sse\", \"steps\": [{\"name\": "
                   "\"w\", \"kind\": \"wait\", \"with\": {\"signal\": "
                   "\"go\"}}");
  for (int i = 1; i <= SSE_STEPS; i++)
    n += snprintf(d + n, sizeof d - (size_t)n, ", {\"name\": \"s%d\", "
                  "\"kind\": \"sleep\", \"with\": {\"duration_ms\": 20}}", i);
  snprintf(d + n, sizeof d - (size_t)n, "]}");
  return d;
}

int main(int argc, char **argv) {
  const char *cairn = CAIRN_BIN;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      phase_s = PHASE_S / 3;
    else if (strcmp(argv[i], "--cairn") == 0 && i + 1 < argc)
      cairn = argv[++i];
    else {
      fprintf(stderr, "usage: bench_serve [--quick] [--cairn PATH]\n");
      return 2;
    }
  }
  const char *tmpdir = getenv("TMPDIR");
  char dir[512], home[600];
  snprintf(dir, sizeof dir, "%s/cairn-bench-serve-XXXXXX",
           tmpdir && *tmpdir ? tmpdir : "/tmp");
  if (mkdtemp(dir) == NULL || bench_subdir(home, sizeof home, dir, "j"))
    return 1;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  json_headers = curl_slist_append(NULL, "Content-Type: application/json");
  int rc = 1;
  if (start_server(cairn, home) != 0) {
    fprintf(stderr, "bench_serve: %s serve did not start\n", cairn);
    goto out;
  }
  char *body = NULL;
  if (request("/v1/workflows", noop_def, NULL) != 201 ||
      request("/v1/workflows", sse_def(), NULL) != 201 ||
      request("/v1/runs", "{\"workflow\": \"noop\"}", &body) != 201) {
    fprintf(stderr, "bench_serve: setting up failed\n");
    free(body);
    goto out;
  }
  cJSON *doc = cJSON_Parse(body);
  free(body);
  char get[128];
  snprintf(get, sizeof get, "/v1/runs/%s",
           cJSON_GetObjectItemCaseSensitive(doc, "run_id")->valuestring);
  cJSON_Delete(doc);
  drain();
  printf("cairn serve at %s, %.1f s per phase, durable commits\n", api,
         phase_s);
  printf("%-6s %5s %10s %10s %10s %8s\n", "phase", "conns", "req/s",
         "p50 ms", "p99 ms", "errors");
  phase_result g[2], s[2];
  const int conns[2] = {1, MAX_CONNS};
  for (int i = 0; i < 2; i++) {
    g[i] = closed_loop(get, NULL, 200, conns[i]);
    printf("%-6s %5d %10.0f %10.3f %10.3f %8zu\n", "get", conns[i],
           g[i].rps, g[i].p50_ms, g[i].p99_ms, g[i].errors);
  }
  for (int i = 0; i < 2; i++) {
    s[i] = closed_loop("/v1/runs", "{\"workflow\": \"noop\"}", 201,
                       conns[i]);
    printf("%-6s %5d %10.0f %10.3f %10.3f %8zu\n", "start", conns[i],
           s[i].rps, s[i].p50_ms, s[i].p99_ms, s[i].errors);
    drain();
  }
  size_t n_events = 0;
  double lag = sse_phase(&n_events);
  bool ok = g[1].errors == 0 && s[1].errors == 0 && lag >= 0 &&
            n_events >= (size_t)FOLLOWERS * SSE_STEPS;
  if (!ok)
    fprintf(stderr, "bench_serve: errors, or followers missed events\n");
  printf("RESULT bench=serve get_rps=%.0f get_p99_ms=%.3f start_rps=%.0f "
         "start_p99_ms=%.3f sse_lag_p99_ms=%.3f\n", g[1].rps, g[1].p99_ms,
         s[1].rps, s[1].p99_ms, lag);
  rc = ok ? 0 : 1;
out:
  stop_server();
  curl_slist_free_all(json_headers);
  curl_global_cleanup();
  bench_remove_tree(dir);
  return rc;
}
