/*
 * server.c — libmicrohttpd on the engine's loop (server_internal.h).
 *
 * Driving. The daemon runs with MHD_USE_EPOLL and no thread: a uv_poll
 * on its epoll fd and a one-shot uv_timer for MHD_get_timeout call
 * MHD_run, which calls the access handler on the loop thread. Answers
 * prepared later (a start waiting for its group commit) suspend the
 * connection and resume it with the answer ready.
 *
 * Tokens. config.json's "serve": {"tokens": [{"name", "sha256",
 * "namespace", "role"}], "max_body_bytes"}: a secret is stored as its
 * SHA-256 only (`cairn serve hash-token` prints it). With tokens, every
 * request needs "Authorization: Bearer SECRET"; without, the server
 * refuses any address but loopback.
 *
 * Stop. SIGTERM or SIGINT: stop accepting (MHD_quiesce_daemon), end the
 * event streams, let the answers in flight finish, then stop the engine,
 * which commits what its turn holds; exit 0.
 */
#include "server_internal.h"
#include "viewer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)
#define BEAT_MS 15000

static int64_t now_us(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void server_hash_token(const char *secret, char out[72]) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL);
  memcpy(out, "sha256:", 7);
  for (int i = 0; i < 32; i++)
    snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* ------------------------------------------------------------ answers */

/* A response over `text` (taken) with the headers every answer carries;
 * NULL when out of memory. */
static struct MHD_Response *response(unsigned status, char *text, size_t len,
                                     const char *type) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer_with_free_callback(len, text, free);
  if (r == NULL) {
    free(text);
    return NULL;
  }
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (status == 401)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
  if (status == 429)
    MHD_add_response_header(r, "Retry-After", "60");
  return r;
}

static enum MHD_Result queue(conn *c, unsigned status, char *text,
                             size_t len, const char *type) {
  struct MHD_Response *r = response(status, text, len, type);
  if (r == NULL)
    return MHD_NO;
  c->status = status;
  enum MHD_Result rc = MHD_queue_response(c->c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static char *print(cJSON *doc, size_t *len) {
  char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
  cJSON_Delete(doc);
  if (s == NULL)
    return NULL;
  size_t n = strlen(s);
  char *t = realloc(s, n + 2);
  if (t == NULL) {
    free(s);
    return NULL;
  }
  t[n] = '\n';
  t[n + 1] = '\0';
  *len = n + 1;
  return t;
}

enum MHD_Result srv_json(conn *c, unsigned status, cJSON *doc) {
  size_t len = 0;
  char *s = print(doc, &len);
  if (s == NULL)
    return MHD_NO;
  return queue(c, status, s, len, "application/json");
}

enum MHD_Result srv_text(conn *c, unsigned status, char *text,
                         const char *type) {
  return queue(c, status, text, strlen(text), type);
}

/* The code word of an error class, as docs/api.md lists them. */
static const char *code_of(unsigned status) {
  switch (status) {
  case 400: return "invalid";
  case 401: return "unauthenticated";
  case 403: return "forbidden";
  case 404: return "not_found";
  case 405: return "method_not_allowed";
  case 409: return "conflict";
  case 413: return "too_large";
  case 429: return "rate_limited";
  case 503: return "stopping";
  default: return "internal";
  }
}

static const char *hint_of(int rc) {
  switch (rc) {
  case CAIRN_ENOTFOUND:
    return "check the id and the namespace of your token";
  case CAIRN_ECONFLICT:
    return "read the run (GET /v1/runs/{id}) and retry when its state "
           "allows";
  case CAIRN_ESTALE:
    return "replay the run that made the current assets, or send "
           "\"allowStaleAssets\": true to replay onto them anyway";
  case CAIRN_ERATELIMIT:
    return "wait, or raise the limits in config.json (docs/config.md)";
  case CAIRN_EFORBIDDEN:
    return "use a token of the run's namespace, or a model the llm "
           "policy allows";
  default:
    return NULL;
  }
}

static cJSON *error_doc(unsigned status, const char *message,
                        const char *hint) {
  cJSON *doc = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(doc, "error");
  cJSON_AddStringToObject(e, "code", code_of(status));
  cJSON_AddStringToObject(e, "message", message);
  if (hint)
    cJSON_AddStringToObject(e, "hint", hint);
  else
    cJSON_AddNullToObject(e, "hint");
  return doc;
}

enum MHD_Result srv_error(conn *c, unsigned status, const char *message,
                          const char *hint) {
  return srv_json(c, status, error_doc(status, message, hint));
}

cJSON *srv_error_doc(int rc, const char *message) {
  cJSON *doc = error_doc(request_status_of(rc),
                         message && *message ? message : cairn_strerror(rc),
                         hint_of(rc));
  if (rc == CAIRN_ESTALE) /* a conflict a client tells apart */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "error"), "code",
                              cJSON_CreateString("stale_assets"));
  return doc;
}

enum MHD_Result srv_fail(conn *c, int rc, const char *message) {
  return srv_json(c, request_status_of(rc), srv_error_doc(rc, message));
}

const char *srv_arg(conn *c, const char *key) {
  return MHD_lookup_connection_value(c->c, MHD_GET_ARGUMENT_KIND, key);
}

void srv_wait(conn *c) {
  c->waiting = true;
  MHD_suspend_connection(c->c);
}

void srv_answer(conn *c, unsigned status, cJSON *doc) {
  size_t len = 0;
  char *s = print(doc, &len);
  c->ready = s ? response(status, s, len, "application/json") : NULL;
  c->ready_status = status;
  c->status = status;
  MHD_resume_connection(c->c);
  srv_drive(c->s);
}

/* ------------------------------------------------------------- tokens */

static const token *authenticate(srv *s, conn *c, unsigned *status,
                                 const char **why) {
  const char *h = MHD_lookup_connection_value(c->c, MHD_HEADER_KIND,
                                              "Authorization");
  if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
    *status = 401;
    *why = "this server needs a token: send \"Authorization: Bearer "
           "TOKEN\"";
    return NULL;
  }
  unsigned char md[32];
  unsigned int n = 0;
  const char *secret = h + 7;
  EVP_Digest(secret, strlen(secret), md, &n, EVP_sha256(), NULL);
  const token *found = NULL;
  for (size_t i = 0; i < s->n_tokens; i++)
    if (CRYPTO_memcmp(md, s->tokens[i].hash, 32) == 0)
      found = &s->tokens[i];
  if (found == NULL) {
    *status = 401;
    *why = "the token is not one of this server's (config.json serve."
           "tokens)";
  }
  return found;
}

static int role_of(const char *name) {
  return strcmp(name, "read") == 0      ? ROLE_READ
         : strcmp(name, "operate") == 0 ? ROLE_OPERATE
         : strcmp(name, "admin") == 0   ? ROLE_ADMIN
                                        : 0;
}

static const char *role_name(int role) {
  return role == ROLE_READ ? "read" : role == ROLE_OPERATE ? "operate"
                                                           : "admin";
}

static int hex_byte(const char *p) {
  unsigned v;
  return sscanf(p, "%2x", &v) == 1 ? (int)v : -1;
}

/* Reads "serve" of home's config.json. 0, or -1 with the problem
 * printed. */
static int load_config(srv *s) {
  char path[4200];
  snprintf(path, sizeof path, "%s/config.json", s->o.home);
  s->max_body = DEFAULT_MAX_BODY;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return 0;
  char *text = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 > cap) {
      char *t = realloc(text, cap = cap * 2 + 8192);
      if (t == NULL)
        break;
      text = t;
    }
    size_t got = fread(text + n, 1, cap - n, f);
    if (got == 0)
      break;
    n += got;
  }
  fclose(f);
  cJSON *doc = text ? cJSON_ParseWithLength(text, n) : NULL;
  free(text);
  if (doc == NULL) {
    fprintf(stderr, "cairn: %s is not valid JSON; fix it (docs/config.md)\n",
            path);
    return -1;
  }
  const cJSON *serve = cJSON_GetObjectItemCaseSensitive(doc, "serve");
  const cJSON *mb = cJSON_GetObjectItemCaseSensitive(serve, "max_body_bytes");
  if (cJSON_IsNumber(mb) && mb->valuedouble >= 1024)
    s->max_body = (size_t)mb->valuedouble;
  const cJSON *toks = cJSON_GetObjectItemCaseSensitive(serve, "tokens");
  int rc = 0;
  size_t i = 0;
  const cJSON *t;
  s->tokens = calloc((size_t)cJSON_GetArraySize(toks) + 1, sizeof *s->tokens);
  cJSON_ArrayForEach(t, toks) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    const cJSON *hash = cJSON_GetObjectItemCaseSensitive(t, "sha256");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(t, "namespace");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(t, "role");
    const char *h = cJSON_IsString(hash) ? hash->valuestring : "";
    if (strncmp(h, "sha256:", 7) == 0)
      h += 7;
    token *k = &s->tokens[i];
    bool ok = cJSON_IsString(name) && *name->valuestring &&
              strlen(name->valuestring) < sizeof k->name &&
              strlen(h) == 64 && cJSON_IsString(role) &&
              role_of(role->valuestring) &&
              (ns == NULL || (cJSON_IsString(ns) && *ns->valuestring &&
                              strlen(ns->valuestring) <= CAIRN_NAMESPACE_MAX));
    for (int b = 0; ok && b < 32; b++) {
      int v = hex_byte(h + 2 * b);
      ok = v >= 0;
      k->hash[b] = (unsigned char)v;
    }
    if (!ok) {
      fprintf(stderr, "cairn: %s: serve.tokens[%zu] needs \"name\", "
              "\"sha256\" (from `cairn serve hash-token`), \"role\" (read, "
              "operate or admin) and optionally \"namespace\"\n", path, i);
      rc = -1;
      break;
    }
    snprintf(k->name, sizeof k->name, "%s", name->valuestring);
    snprintf(k->ns, sizeof k->ns, "%s", ns ? ns->valuestring : "default");
    k->role = role_of(role->valuestring);
    i++;
  }
  s->n_tokens = rc ? 0 : i;
  cJSON_Delete(doc);
  return rc;
}

/* ---------------------------------------------------------- requests */

static enum MHD_Result viewer_answer(conn *c, const viewer_file *f,
                                     const char *type) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'self'; style-src 'self' "
                          "'unsafe-inline'; img-src 'self' data:");
  c->status = 200;
  enum MHD_Result rc = MHD_queue_response(c->c, 200, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result answer(srv *s, conn *c) {
  char err[600] = "";
  if (s->stopping)
    return srv_error(c, 503, "the server is stopping",
                     "retry against another server, or after restart");
  /* The run viewer's files hold no data: they are answered without a
   * token (the page asks for one and sends it with its API calls). */
  const char *type = NULL;
  const viewer_file *f = strcmp(c->method, "GET") == 0
                             ? viewer_lookup(c->path, &type)
                             : NULL;
  if (f)
    return viewer_answer(c, f, type);
  if (s->n_tokens) {
    unsigned st = 0;
    const char *why = NULL;
    if ((c->tok = authenticate(s, c, &st, &why)) == NULL)
      return srv_error(c, st, why,
                       "tokens are listed in config.json under serve.tokens");
    snprintf(c->ns, sizeof c->ns, "%s", c->tok->ns);
    c->actor = c->tok->name;
  }
  else {
    snprintf(c->ns, sizeof c->ns, "%s", s->o.ns ? s->o.ns : "default");
    c->actor = NULL;
  }
  int m = request_route(c->method, c->path, &c->r);
  if (m == 404) {
    snprintf(err, sizeof err, "no endpoint %s %.400s", c->method, c->path);
    return srv_error(c, 404, err, "docs/api.md lists them");
  }
  if (m == 405) {
    snprintf(err, sizeof err, "%s is not allowed on %.400s", c->method,
             c->path);
    return srv_error(c, 405, err,
                     "docs/api.md lists the methods of each endpoint");
  }
  if (c->tok && c->tok->role < c->r.role) {
    snprintf(err, sizeof err, "token %s has role %s; %s %.200s needs %s",
             c->tok->name, role_name(c->tok->role), c->method, c->path,
             role_name(c->r.role));
    return srv_error(c, 403, err,
                     "use a token with that role");
  }
  if (c->too_big) {
    snprintf(err, sizeof err, "the body is over %zu bytes", s->max_body);
    return srv_error(c, 413, err,
                     "raise serve.max_body_bytes in config.json");
  }
  cJSON *body = NULL;
  unsigned st = request_body(c->body, c->len, &body, err, sizeof err);
  if (st)
    return srv_error(c, st, err, NULL);
  cairn_engine_act_as(s->e, c->ns, c->actor);
  enum MHD_Result rc = api_handle(c, body);
  cairn_engine_act_as(s->e, NULL, NULL);
  cJSON_Delete(body);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  srv *s = cls;
  conn *c = *con_cls;
  (void)version;
  if (c == NULL) {
    if ((c = calloc(1, sizeof *c)) == NULL)
      return MHD_NO;
    c->s = s;
    c->c = mc;
    c->t0_us = now_us();
    snprintf(c->method, sizeof c->method, "%s", method);
    snprintf(c->path, sizeof c->path, "%s", url);
    s->in_flight++;
    *con_cls = c;
    return MHD_YES;
  }
  if (c->waiting) { /* resumed: the answer is ready */
    if (c->ready == NULL)
      return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(mc, c->ready_status, c->ready);
    MHD_destroy_response(c->ready);
    c->ready = NULL;
    c->waiting = false;
    return rc;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (c->too_big || c->len + n > s->max_body) {
      c->too_big = true;
      return MHD_YES;
    }
    if (c->len + n + 1 > c->cap) {
      size_t cap = (c->len + n + 1) * 2;
      char *b = realloc(c->body, cap);
      if (b == NULL)
        return MHD_NO;
      c->body = b;
      c->cap = cap;
    }
    memcpy(c->body + c->len, upload, n);
    c->len += n;
    c->body[c->len] = '\0';
    return MHD_YES;
  }
  return answer(s, c);
}

static void on_completed(void *cls, struct MHD_Connection *mc,
                         void **con_cls, enum MHD_RequestTerminationCode t) {
  srv *s = cls;
  conn *c = *con_cls;
  (void)mc;
  (void)t;
  if (c == NULL)
    return;
  if (!s->o.quiet)
    fprintf(stderr, "%s %s %u %.1fms %s\n", c->method, c->path,
            c->status ? c->status : 500,
            (double)(now_us() - c->t0_us) / 1e3,
            c->tok ? c->tok->name : "-");
  events_free(c);
  if (c->ready)
    MHD_destroy_response(c->ready);
  free(c->body);
  free(c);
  s->in_flight--;
  *con_cls = NULL;
}

/* ------------------------------------------------------------ driving */

static void on_timer(uv_timer_t *t) { srv_drive(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  srv_drive(p->data);
}

void srv_drive(srv *s) {
  if (s->d == NULL)
    return;
  MHD_run(s->d);
  MHD_UNSIGNED_LONG_LONG ms;
  if (MHD_get_timeout(s->d, &ms) == MHD_YES)
    uv_timer_start(&s->timer, on_timer, ms, 0);
  else
    uv_timer_stop(&s->timer);
  if (s->stopping && s->in_flight == 0)
    cairn_engine_stop(s->e);
}

static void on_change(void *ctx) {
  srv *s = ctx;
  events_changed(s);
  srv_drive(s);
}

static void on_beat(uv_timer_t *t) {
  srv *s = t->data;
  events_beat(s);
  srv_drive(s);
}

static void on_signal(uv_signal_t *h, int sig) {
  srv *s = h->data;
  (void)sig;
  if (s->stopping)
    return;
  s->stopping = true;
  if (!s->o.quiet)
    fprintf(stderr, "cairn: stopping: finishing %zu answer(s) in flight\n",
            s->in_flight);
  MHD_socket fd = MHD_quiesce_daemon(s->d);
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
  events_changed(s); /* streams end */
  srv_drive(s);
}

static bool loopback(const char *host) {
  return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
         strncmp(host, "127.", 4) == 0;
}

int server_run(const server_options *o) {
  srv s = {.o = *o};
  char err[512] = "";
  const char *host = o->host ? o->host : "127.0.0.1";
  if (strcmp(host, "localhost") == 0)
    host = "127.0.0.1";
  if (load_config(&s) != 0)
    return 2;
  if (!loopback(host) && s.n_tokens == 0) {
    fprintf(stderr, "cairn: refusing to listen on %s without tokens: anyone "
            "who reaches it could run and rewrite workflows; add "
            "serve.tokens to %s/config.json (docs/api.md, \"Tokens\"), or "
            "listen on 127.0.0.1\n", host, o->home);
    free(s.tokens);
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)o->port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "cairn: --listen takes an IPv4 address and a port "
            "(127.0.0.1:7070), not '%s'\n", host);
    free(s.tokens);
    return 2;
  }
  cairn_engine_options eo = {.home = o->home, .journal = o->journal,
                             .ns = o->ns,
                             .max_runs = o->max_runs};
  int rc = cairn_engine_open(&eo, &s.e, err, sizeof err);
  if (rc) {
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
    free(s.tokens);
    return cairn_err_exit_code(rc);
  }
  s.j = cairn_engine_journal(s.e);
  uv_loop_t *loop = cairn_engine_loop(s.e);
  s.d = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
          MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR, &addr,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
      MHD_OPTION_END);
  if (s.d == NULL) {
    fprintf(stderr, "cairn: cannot listen on %s:%d: %s; pick another "
            "--listen ADDR:PORT\n", host, o->port, strerror(errno));
    cairn_engine_close(s.e);
    free(s.tokens);
    return 1;
  }
  const union MHD_DaemonInfo *fd =
      MHD_get_daemon_info(s.d, MHD_DAEMON_INFO_EPOLL_FD);
  const union MHD_DaemonInfo *port =
      MHD_get_daemon_info(s.d, MHD_DAEMON_INFO_BIND_PORT);
  uv_poll_init(loop, &s.poll, fd->epoll_fd);
  s.poll.data = &s;
  uv_poll_start(&s.poll, UV_READABLE, on_poll);
  uv_timer_init(loop, &s.timer);
  s.timer.data = &s;
  uv_timer_init(loop, &s.beat);
  s.beat.data = &s;
  uv_timer_start(&s.beat, on_beat, BEAT_MS, BEAT_MS);
  uv_signal_init(loop, &s.sigterm);
  uv_signal_init(loop, &s.sigint);
  s.sigterm.data = s.sigint.data = &s;
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  cairn_engine_on_change(s.e, on_change, &s);
  printf("cairn serve: listening on http://%s:%u (%s%s)\n", host,
         (unsigned)port->port, o->no_worker ? "serving only" : "executing "
         "runs", s.n_tokens ? ", tokens required" : "");
  fflush(stdout);
  srv_drive(&s);
  rc = cairn_engine_work(s.e, o->no_worker ? CAIRN_WORK_IDLE
                                           : CAIRN_WORK_FOREVER, NULL);
  if (rc)
    fprintf(stderr, "cairn: %s\n", cairn_engine_errmsg(s.e));
  cairn_engine_on_change(s.e, NULL, NULL);
  uv_poll_stop(&s.poll);
  MHD_stop_daemon(s.d);
  s.d = NULL;
  uv_close((uv_handle_t *)&s.poll, NULL);
  uv_close((uv_handle_t *)&s.timer, NULL);
  uv_close((uv_handle_t *)&s.beat, NULL);
  uv_close((uv_handle_t *)&s.sigterm, NULL);
  uv_close((uv_handle_t *)&s.sigint, NULL);
  cairn_engine_close(s.e); /* runs the loop until the closes are done */
  free(s.tokens);
  if (!o->quiet && rc == 0)
    fprintf(stderr, "cairn: stopped\n");
  return rc ? cairn_err_exit_code(rc) : 0;
}
