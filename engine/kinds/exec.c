/*
 * exec.c — the exec step kind: run a program (uv_spawn).
 *
 *   with.command   ["prog", "arg", ...] (no shell) or "a shell command"
 *                  (run by /bin/sh -c)
 *   with.stdin     written to the program's stdin: a string as is, any
 *                  other value as compact JSON; absent: empty stdin
 *   with.env       {"NAME": "value"} added to the inherited environment
 *   with.cwd       working directory
 *
 * The child also gets CAIRN_RUN_ID, CAIRN_WORKFLOW_ID, CAIRN_STEP,
 * CAIRN_ATTEMPT and CAIRN_IDEMPOTENCY_KEY (stable for a run and step across
 * attempts, so a program can make its own side effects idempotent).
 *
 * stdout is the output: parsed as JSON when it is JSON, else kept as a
 * string (one trailing newline removed). A non-zero exit or a signal fails
 * the attempt with the status and the tail of stderr; so does passing the
 * step's timeout (the process group is killed) or writing more than
 * MAX_STDOUT bytes.
 *
 * The child runs in its own process group (UV_PROCESS_DETACHED) so that a
 * timeout or a cancel kills what it started too. The attempt ends only
 * when every handle is closed: the state is freed there and the engine is
 * told then, never from inside cairn__exec_start.
 */
#include "kind.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STDOUT ((size_t)16 << 20)
#define STDERR_TAIL 2048

extern char **environ;

typedef struct exec_state {
  cairn__attempt *a;
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  uv_write_t wreq;
  int open;                /* handles not yet closed */
  char *stdin_buf;
  char *out_buf;
  size_t out_len, out_cap;
  char err_buf[STDERR_TAIL];
  size_t err_len;          /* bytes in err_buf (the last ones written) */
  int64_t exit_status;
  int term_signal;
  int spawn_error;         /* uv error of uv_spawn, 0 when it ran */
  bool timed_out, overflow, exited;
  char **args, **env;
} exec_state;

static void free_strv(char **v) {
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static char *trim_dup(const char *p, size_t n) {
  while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
    n--;
  return strndup(p, n);
}

/* The outcome of a finished process. */
static void outcome_of(exec_state *s, cairn__outcome *o) {
  char tail[STDERR_TAIL + 1];
  snprintf(tail, sizeof tail, "%.*s", (int)s->err_len, s->err_buf);
  char *t = trim_dup(tail, strlen(tail));
  char msg[STDERR_TAIL + 200];
  if (s->spawn_error) {
    o->code = "spawn_failed";
    snprintf(msg, sizeof msg, "cannot run '%s': %s; check the command and "
             "PATH", s->args && s->args[0] ? s->args[0] : "",
             uv_strerror(s->spawn_error));
  }
  else if (s->timed_out) {
    o->code = "timeout";
    o->retryable = true;
    snprintf(msg, sizeof msg, "killed after the step's timeout of %lld ms",
             (long long)s->a->timeout_ms);
  }
  else if (s->overflow) {
    o->code = "output_too_large";
    snprintf(msg, sizeof msg, "stdout passed %zu bytes; write large data "
             "to a file and output its path", MAX_STDOUT);
  }
  else if (s->exit_status != 0 || s->term_signal != 0) {
    o->code = "exit_status";
    o->retryable = true;
    if (s->term_signal)
      snprintf(msg, sizeof msg, "killed by signal %d%s%s", s->term_signal,
               *t ? ": " : "", t);
    else
      snprintf(msg, sizeof msg, "exit status %lld%s%s",
               (long long)s->exit_status, *t ? ": " : "", t);
    o->details = cJSON_CreateObject();
    cJSON_AddNumberToObject(o->details, "exit_status",
                            (double)s->exit_status);
    cJSON_AddNumberToObject(o->details, "signal", s->term_signal);
    cJSON_AddStringToObject(o->details, "stderr_tail", t);
  }
  else {
    const char *end = NULL;
    size_t n = s->out_len;
    o->ok = true;
    o->output = cJSON_ParseWithLengthOpts(s->out_buf ? s->out_buf : "", n,
                                          &end, 0);
    bool rest_blank = true;
    for (const char *p = end; o->output && p < s->out_buf + n; p++)
      rest_blank &= *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t';
    if (o->output == NULL || !rest_blank) {
      cJSON_Delete(o->output);
      char *text = trim_dup(s->out_buf ? s->out_buf : "", n);
      o->output = cJSON_CreateString(text ? text : "");
      free(text);
    }
  }
  free(t);
  if (!o->ok)
    o->message = strdup(msg);
}

static void on_close(uv_handle_t *h) {
  exec_state *s = h->data;
  if (--s->open > 0)
    return;
  cairn__outcome o = {0};
  outcome_of(s, &o);
  cairn__attempt *a = s->a;
  free(s->stdin_buf);
  free(s->out_buf);
  free_strv(s->args);
  free_strv(s->env);
  free(s);
  cairn__attempt_done(a, &o);
}

static void close_one(exec_state *s, uv_handle_t *h) {
  (void)s;
  if (!uv_is_closing(h))
    uv_close(h, on_close);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char scratch[65536]; /* the loop is single-threaded */
  (void)h;
  (void)hint;
  *buf = uv_buf_init(scratch, sizeof scratch);
}

static void on_stdout(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  exec_state *s = st->data;
  if (n < 0) {
    close_one(s, (uv_handle_t *)st);
    return;
  }
  if (s->out_len + (size_t)n > MAX_STDOUT) {
    s->overflow = true;
    uv_kill(-s->proc.pid, SIGKILL);
    return;
  }
  if (s->out_len + (size_t)n + 1 > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : 4096;
    while (cap < s->out_len + (size_t)n + 1)
      cap *= 2;
    char *b = realloc(s->out_buf, cap);
    if (b == NULL) {
      s->overflow = true;
      return;
    }
    s->out_buf = b;
    s->out_cap = cap;
  }
  memcpy(s->out_buf + s->out_len, buf->base, (size_t)n);
  s->out_len += (size_t)n;
  s->out_buf[s->out_len] = '\0';
}

static void on_stderr(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  exec_state *s = st->data;
  if (n < 0) {
    close_one(s, (uv_handle_t *)st);
    return;
  }
  /* Keep the last STDERR_TAIL bytes. */
  size_t k = (size_t)n;
  if (k >= STDERR_TAIL) {
    memcpy(s->err_buf, buf->base + k - STDERR_TAIL, STDERR_TAIL);
    s->err_len = STDERR_TAIL;
    return;
  }
  if (s->err_len + k > STDERR_TAIL) {
    size_t drop = s->err_len + k - STDERR_TAIL;
    memmove(s->err_buf, s->err_buf + drop, s->err_len - drop);
    s->err_len -= drop;
  }
  memcpy(s->err_buf + s->err_len, buf->base, k);
  s->err_len += k;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  exec_state *s = p->data;
  s->exit_status = status;
  s->term_signal = sig;
  s->exited = true;
  uv_timer_stop(&s->timer);
  close_one(s, (uv_handle_t *)&s->timer);
  close_one(s, (uv_handle_t *)p);
}

static void on_written(uv_write_t *w, int status) {
  exec_state *s = w->data;
  (void)status; /* a child that closed its stdin early is its business */
  close_one(s, (uv_handle_t *)&s->in);
}

static void on_timeout(uv_timer_t *t) {
  exec_state *s = t->data;
  s->timed_out = true;
  uv_kill(-s->proc.pid, SIGKILL);
}

static void cancel(cairn__attempt *a) {
  exec_state *s = a->kind_data;
  if (s && !s->exited && !s->spawn_error)
    uv_kill(-s->proc.pid, SIGKILL);
}

/* argv from `command`: an array of strings, or a shell command string. */
static char **make_args(const cJSON *cmd) {
  size_t n = cJSON_IsArray(cmd) ? (size_t)cJSON_GetArraySize(cmd) : 3;
  char **v = calloc(n + 1, sizeof *v);
  if (v == NULL)
    return NULL;
  if (cJSON_IsString(cmd)) {
    v[0] = strdup("/bin/sh");
    v[1] = strdup("-c");
    v[2] = strdup(cmd->valuestring);
    return v;
  }
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, cmd) {
    v[i++] = cJSON_IsString(it) ? strdup(it->valuestring)
                                : cJSON_PrintUnformatted(it);
  }
  if (n == 0) {
    free(v);
    return NULL;
  }
  return v;
}

static char *env_entry(const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 2;
  char *e = malloc(n);
  if (e)
    snprintf(e, n, "%s=%s", name, value);
  return e;
}

/* The inherited environment, the CAIRN_* variables and with.env. */
static char **make_env(const cairn__attempt *a, const cJSON *extra) {
  size_t n = 0, k = 0;
  while (environ[n])
    n++;
  char **v = calloc(n + 6 + (size_t)cJSON_GetArraySize(extra) + 1,
                    sizeof *v);
  if (v == NULL)
    return NULL;
  static const char *const ours[] = {"CAIRN_RUN_ID=", "CAIRN_WORKFLOW_ID=",
                                     "CAIRN_STEP=", "CAIRN_ATTEMPT=",
                                     "CAIRN_IDEMPOTENCY_KEY="};
  for (size_t i = 0; i < n; i++) {
    bool mine = false; /* set below; an inherited one would be stale */
    for (size_t o = 0; o < sizeof ours / sizeof ours[0]; o++)
      mine |= strncmp(environ[i], ours[o], strlen(ours[o])) == 0;
    if (!mine)
      v[k++] = strdup(environ[i]);
  }
  char num[16];
  snprintf(num, sizeof num, "%u", a->attempt);
  v[k++] = env_entry("CAIRN_RUN_ID", a->run_id);
  v[k++] = env_entry("CAIRN_WORKFLOW_ID", a->workflow_id);
  v[k++] = env_entry("CAIRN_STEP", a->sd->name);
  v[k++] = env_entry("CAIRN_ATTEMPT", num);
  v[k++] = env_entry("CAIRN_IDEMPOTENCY_KEY", a->idem_key);
  const cJSON *it;
  cJSON_ArrayForEach(it, extra) {
    if (cJSON_IsString(it))
      v[k++] = env_entry(it->string, it->valuestring);
  }
  return v;
}

static char *stdin_text(const cJSON *in) {
  if (in == NULL || cJSON_IsNull(in))
    return NULL;
  if (cJSON_IsString(in))
    return strdup(in->valuestring);
  return cJSON_PrintUnformatted(in);
}

/* ------------------------------------------------- the step's `with` */

static int check_command(cairn__check *c, const cJSON *v, const char *path) {
  char got[48];
  char ep[192];
  if (v == NULL)
    return cairn__check_fail(c, "%s: missing; give the program and its arguments, e.g. "
                   "[\"python3\", \"score.py\"]",
                path);
  if (cJSON_IsString(v) && v->valuestring[0])
    return 0;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
    return cairn__check_fail(c, "%s: %s is not a non-empty array of strings or a "
                   "non-empty string; give e.g. [\"python3\", \"score.py\"]",
                path, cairn__check_describe(v, got, sizeof got));
  int i = 0;
  const cJSON *arg;
  cJSON_ArrayForEach(arg, v) {
    snprintf(ep, sizeof ep, "%s[%d]", path, i);
    if (!cJSON_IsString(arg))
      return cairn__check_fail(c, "%s: %s is not a string; quote it", ep,
                  cairn__check_describe(arg, got, sizeof got));
    if (i++ == 0 && arg->valuestring[0] == '\0')
      return cairn__check_fail(c, "%s: the program is empty; name the program to run",
                  ep);
  }
  return 0;
}

static int check_with(cairn__check *c, const cJSON *w, const char *path) {
  static const char *const known[] = {"command", "stdin", "env", "cwd",
                                      NULL};
  char fp[160];
  int rc = cairn__check_fields(c, w, path, known,
                        "an exec step takes command, stdin, env, cwd");
  if (rc)
    return rc;
  snprintf(fp, sizeof fp, "%s.command", path);
  rc = check_command(c, cairn__check_field(w, "command"), fp);
  if (rc == 0 && cairn__check_field(w, "env")) {
    snprintf(fp, sizeof fp, "%s.env", path);
    rc = cairn__check_string_map(c, cairn__check_field(w, "env"), fp);
  }
  if (rc == 0 && cairn__check_field(w, "cwd")) {
    snprintf(fp, sizeof fp, "%s.cwd", path);
    rc = cairn__check_string(c, cairn__check_field(w, "cwd"), fp, true, "a directory");
  }
  return rc;
}

/* ---------------------------------------------------------- attempts */

static int start(cairn__attempt *a) {
  uv_loop_t *loop = cairn__engine_loop(a->e);
  exec_state *s = calloc(1, sizeof *s);
  if (s == NULL)
    return CAIRN_ENOMEM;
  const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(a->input, "cwd");
  s->a = a;
  s->args = make_args(cJSON_GetObjectItemCaseSensitive(a->input, "command"));
  s->env = make_env(a, cJSON_GetObjectItemCaseSensitive(a->input, "env"));
  s->stdin_buf = stdin_text(cJSON_GetObjectItemCaseSensitive(a->input,
                                                             "stdin"));
  uv_handle_t *hs[] = {(uv_handle_t *)&s->proc, (uv_handle_t *)&s->in,
                       (uv_handle_t *)&s->out, (uv_handle_t *)&s->err,
                       (uv_handle_t *)&s->timer};
  uv_pipe_init(loop, &s->in, 0);
  uv_pipe_init(loop, &s->out, 0);
  uv_pipe_init(loop, &s->err, 0);
  uv_timer_init(loop, &s->timer);
  for (size_t i = 0; i < 5; i++)
    hs[i]->data = s;
  s->wreq.data = s;
  s->open = 5;
  a->kind_data = s;
  a->cancel = cancel;
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE,
       .data.stream = (uv_stream_t *)&s->in},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
       .data.stream = (uv_stream_t *)&s->out},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
       .data.stream = (uv_stream_t *)&s->err}};
  uv_process_options_t opt = {
      .exit_cb = on_exit_cb, .file = s->args ? s->args[0] : NULL,
      .args = s->args, .env = s->env,
      .cwd = cJSON_IsString(cwd) ? cwd->valuestring : NULL,
      .flags = UV_PROCESS_DETACHED, .stdio_count = 3, .stdio = stdio};
  int rc = s->args && s->env ? uv_spawn(loop, &s->proc, &opt) : UV_ENOMEM;
  if (rc) {
    /* Every handle closes; on_close reports the failure. */
    s->spawn_error = rc;
    for (size_t i = 0; i < 5; i++)
      close_one(s, hs[i]);
    return 0;
  }
  uv_read_start((uv_stream_t *)&s->out, on_alloc, on_stdout);
  uv_read_start((uv_stream_t *)&s->err, on_alloc, on_stderr);
  if (s->stdin_buf) {
    uv_buf_t b = uv_buf_init(s->stdin_buf, (unsigned)strlen(s->stdin_buf));
    if (uv_write(&s->wreq, (uv_stream_t *)&s->in, &b, 1, on_written) != 0)
      close_one(s, (uv_handle_t *)&s->in);
  }
  else {
    close_one(s, (uv_handle_t *)&s->in);
  }
  if (a->timeout_ms > 0)
    uv_timer_start(&s->timer, on_timeout, (uint64_t)a->timeout_ms, 0);
  return 0;
}

const cairn__kind cairn__kind_exec = {
    .name = "exec",
    .id = CAIRN__KIND_EXEC,
    .check_with = check_with,
    .start = start,
};
