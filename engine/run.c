/*
 * run.c — a run in memory: loaded by folding its history, moved forward
 * by the scheduler, and updated when its steps end.
 *
 * The scheduler is a function of (definition, folded history): loading a
 * run after a crash is "fold, then schedule", exactly what happens after
 * every step in a running engine. A step's lifecycle:
 *
 *   PENDING ──needs completed──▶ RUNNING ──ok──▶ COMPLETED
 *                                   │ └──failed, retryable, attempts left──▶
 *                                   │        RETRYING ──delay over──▶ RUNNING
 *                                   └──failed otherwise──▶ FAILED ──▶ run fails
 *   sleep:  RUNNING ─timer.started─▶ WAITING ─deadline─▶ COMPLETED
 *   wait:   WAITING ─signal─▶ COMPLETED;  WAITING ─timeout─▶ FAILED
 *
 * Invariants:
 *   1. A step's side effect starts only from cairn__run_launch, which the
 *      engine calls after the commit holding its step.started.
 *   2. A RUNNING step with nothing in flight after loading was interrupted
 *      by a crash: it runs again as attempt n+1 (at-least-once); a step
 *      whose step.completed is in history never runs again.
 *   3. A sleep or wait deadline is recorded (timer.started) when the step
 *      starts; after a crash the step waits for that same deadline.
 *   4. A signal is consumed by at most one wait step; the consuming
 *      step.completed records its seq (meta.signal_seq).
 */
#include "engine_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cairn_str S(const char *s) { return (cairn_str){s, s ? strlen(s) : 0}; }

/* ------------------------------------------------------------ loading */

static int add_signal(cairn__run *run, const cairn_event *ev) {
  /* Signals arrive in seq order (history, then polls): one seen already
   * has a seq no greater than the last one kept. */
  if (run->n_signals && run->signals[run->n_signals - 1].seq >= ev->seq)
    return 0;
  if (run->n_signals == run->cap_signals) {
    size_t cap = run->cap_signals ? 2 * run->cap_signals : 4;
    cairn__signal *s = realloc(run->signals, cap * sizeof *s);
    if (s == NULL)
      return CAIRN_ENOMEM;
    run->signals = s;
    run->cap_signals = cap;
  }
  cairn__signal *s = &run->signals[run->n_signals++];
  s->seq = ev->seq;
  s->name = strndup(ev->name.ptr, ev->name.len);
  s->data = ev->output.ptr ? strndup(ev->output.ptr, ev->output.len)
                           : strdup("null");
  s->consumed = false;
  return s->name && s->data ? 0 : CAIRN_ENOMEM;
}

static void consume_signal(cairn__run *run, uint32_t seq) {
  for (size_t i = 0; i < run->n_signals; i++)
    if (run->signals[i].seq == seq)
      run->signals[i].consumed = true;
}

static cJSON *parse_str(cairn_str s) {
  cJSON *v = s.ptr ? cJSON_ParseWithLength(s.ptr, s.len) : NULL;
  return v ? v : cJSON_CreateNull();
}

/* The signal a wait step awaits, from its rendered input. */
static char *wait_signal_of(const cJSON *input) {
  const cJSON *sig = cJSON_GetObjectItemCaseSensitive(input, "signal");
  return cJSON_IsString(sig) ? strdup(sig->valuestring) : NULL;
}

static int step_index_of(const cairn__run *run, cairn_str name) {
  char n[CAIRN_STEP_NAME_MAX + 1];
  snprintf(n, sizeof n, "%.*s", (int)name.len, name.ptr);
  return cairn__def_step_index(run->def, n);
}

static void fold_step(cairn__run *run, cairn_reader *r,
                      const cairn_event *ev) {
  char name[CAIRN_STEP_NAME_MAX + 1];
  snprintf(name, sizeof name, "%.*s", (int)ev->step.len, ev->step.ptr);
  int i = cairn__def_step_index(run->def, name);
  if (i < 0)
    return; /* a step of another definition (a replay's map) */
  cairn__step_state *st = &run->steps[i];
  const cairn__step_def *sd = &run->def->steps[i];
  cairn_event src;
  switch (ev->type) {
  case CAIRN_EV_ASSET_MATERIALIZED:
    cairn__assets_fold(run, (size_t)i, ev);
    break;
  case CAIRN_EV_STEP_STARTED:
    cJSON_Delete(st->assets);
    st->assets = NULL;
    st->status = sd->kind_id == CAIRN__KIND_WAIT ? CAIRN_STEP_WAITING
                                                 : CAIRN_STEP_RUNNING;
    st->attempt = ev->attempt;
    st->started_us = ev->time_us;
    st->fire_at_us = 0;
    if (sd->kind_id == CAIRN__KIND_WAIT) {
      cJSON *in = parse_str(ev->input);
      free(st->wait_signal);
      st->wait_signal = wait_signal_of(in);
      cJSON_Delete(in);
    }
    break;
  case CAIRN_EV_STEP_REUSED:
  case CAIRN_EV_STEP_COMPLETED:
    if (ev->type == CAIRN_EV_STEP_REUSED &&
        cairn_reader_resolve(r, ev, &src) != 0)
      break;
    if (ev->type == CAIRN_EV_STEP_REUSED)
      cairn__assets_fold_reused(run, (size_t)i, r, ev);
    st->status = CAIRN_STEP_COMPLETED;
    st->fire_at_us = 0;
    cJSON_Delete(st->output);
    st->output = parse_str(ev->type == CAIRN_EV_STEP_REUSED ? src.output
                                                           : ev->output);
    if (ev->meta.ptr) {
      cJSON *m = parse_str(ev->meta);
      const cJSON *seq = cJSON_GetObjectItemCaseSensitive(m, "signal_seq");
      if (cJSON_IsNumber(seq))
        consume_signal(run, (uint32_t)seq->valuedouble);
      cJSON_Delete(m);
    }
    break;
  case CAIRN_EV_STEP_FAILED:
    st->status = CAIRN_STEP_FAILED;
    st->fire_at_us = 0;
    free(st->error);
    st->error = ev->error_message.ptr
                    ? strndup(ev->error_message.ptr, ev->error_message.len)
                    : strdup("failed");
    break;
  case CAIRN_EV_STEP_RETRY_SCHEDULED:
    st->status = CAIRN_STEP_RETRYING;
    st->retry_at_us = ev->time_us + ev->delay_ms * 1000;
    break;
  case CAIRN_EV_STEP_EVALUATED:
    if (ev->retryable) { /* scored below the threshold: runs again */
      st->status = CAIRN_STEP_RETRYING;
      st->retry_at_us = ev->time_us;
      st->reruns++;
      int j = ev->name.ptr ? step_index_of(run, ev->name) : -1;
      if (j >= 0) { /* and its evaluator scores the next attempt */
        run->steps[j].status = CAIRN_STEP_RETRYING;
        run->steps[j].retry_at_us = ev->time_us;
      }
    }
    break;
  case CAIRN_EV_TIMER_STARTED:
    st->status = CAIRN_STEP_WAITING;
    st->fire_at_us = ev->fire_at_us;
    break;
  case CAIRN_EV_TIMER_FIRED:
    st->fire_at_us = 0;
    break;
  case CAIRN_EV_STEP_RERUN_REQUESTED: {
    cJSON *meta = ev->meta.ptr ? parse_str(ev->meta) : NULL;
    run->rerun_step = i;
    run->rerun_seq = ev->seq;
    run->rerun_started = false;
    st->attempt_base = st->attempt;
    st->reruns = 0;
    run->finished = false; /* the finished run has work again */
    cJSON_Delete(run->rerun_with);
    run->rerun_with = cJSON_DetachItemFromObjectCaseSensitive(meta, "with");
    cJSON_Delete(run->dry_run);
    run->dry_run = cJSON_DetachItemFromObjectCaseSensitive(meta, "dry_run");
    cJSON_Delete(meta);
    break;
  }
  default:
    break;
  }
  if (ev->type == CAIRN_EV_STEP_STARTED && i == run->rerun_step &&
      ev->seq > run->rerun_seq)
    run->rerun_started = true;
}

static int fold_event(cairn__run *run, cairn_reader *r,
                      const cairn_event *ev) {
  run->seen_seq = ev->seq;
  switch (ev->type) {
  case CAIRN_EV_RUN_STARTED: {
    cJSON_Delete(run->input);
    run->input = parse_str(ev->input);
    free(run->partition);
    run->partition = ev->partition.ptr
                         ? strndup(ev->partition.ptr, ev->partition.len)
                         : NULL;
    cJSON *origin = ev->meta.ptr ? parse_str(ev->meta) : NULL;
    cJSON_Delete(run->dry_run);
    run->dry_run = cJSON_DetachItemFromObjectCaseSensitive(origin, "dry_run");
    cJSON_Delete(origin);
    return 0;
  }
  case CAIRN_EV_SIGNAL_RECEIVED:
    return add_signal(run, ev);
  case CAIRN_EV_RUN_COMPLETED:
  case CAIRN_EV_RUN_FAILED:
  case CAIRN_EV_RUN_CANCELLED:
  case CAIRN_EV_RUN_TERMINATED:
    run->status = ev->type == CAIRN_EV_RUN_COMPLETED ? CAIRN_RUN_COMPLETED
                  : ev->type == CAIRN_EV_RUN_FAILED  ? CAIRN_RUN_FAILED
                  : ev->type == CAIRN_EV_RUN_CANCELLED
                      ? CAIRN_RUN_CANCELLED
                      : CAIRN_RUN_TERMINATED;
    run->finished = true;
    return 0;
  case CAIRN_EV_RUN_OUTPUT_RECOMPUTED:
    run->rerun_step = -1; /* the rerun is over */
    run->finished = true;
    return 0;
  default:
    fold_step(run, r, ev);
    return 0;
  }
}

static int fold_history(cairn__run *run, cairn_reader *r) {
  cairn_history *it;
  cairn_event ev;
  int rc = cairn_reader_history(r, run->key, 1, &it);
  if (rc)
    return rc;
  while ((rc = cairn_history_next(it, &ev)) == 1)
    if ((rc = fold_event(run, r, &ev)) != 0)
      break;
  cairn_history_close(it);
  if (rc < 0)
    return rc;
  /* Invariant 2: interrupted side effects run again. */
  for (size_t i = 0; i < run->def->n_steps; i++)
    if (run->steps[i].status == CAIRN_STEP_RUNNING)
      run->steps[i].restart = true;
  return 0;
}

static void on_timer_close(uv_handle_t *h) { free(h); }
static void on_timer(uv_timer_t *t);

int cairn__run_load(cairn_engine *e, uint64_t key, cairn__run **out) {
  cairn_reader *r;
  cairn_run_info info;
  cairn__run *run = calloc(1, sizeof *run);
  int rc = run ? cairn_reader_begin(e->j, &r) : CAIRN_ENOMEM;
  if (rc) {
    free(run);
    return rc;
  }
  rc = cairn_reader_run_by_key(r, key, &info);
  if (rc == 0)
    rc = cairn__engine_def(e, info.def_hash, &run->def);
  if (rc == 0) {
    run->e = e;
    run->key = key;
    run->status = CAIRN_RUN_RUNNING;
    run->rerun_step = -1;
    memcpy(run->run_id, info.run_id, sizeof run->run_id);
    memcpy(run->workflow_id, info.workflow_id, sizeof run->workflow_id);
    memcpy(run->def_hash, info.def_hash, sizeof run->def_hash);
    run->steps = calloc(run->def->n_steps, sizeof *run->steps);
    rc = run->steps ? fold_history(run, r) : CAIRN_ENOMEM;
  }
  cairn_reader_end(r);
  if (rc == 0 && (run->timer = malloc(sizeof *run->timer)) == NULL)
    rc = CAIRN_ENOMEM;
  if (rc) {
    cairn__run_free(run);
    return rc;
  }
  uv_timer_init(&e->loop, run->timer);
  run->timer->data = run;
  *out = run;
  return 0;
}

void cairn__run_free(cairn__run *run) {
  if (run == NULL)
    return;
  for (size_t i = 0; run->steps && i < run->def->n_steps; i++) {
    cairn__step_state *st = &run->steps[i];
    cJSON_Delete(st->output);
    cJSON_Delete(st->pending_input);
    free(st->error);
    free(st->wait_signal);
    cJSON_Delete(st->assets);
    cJSON_Delete(st->consumed);
    cJSON_Delete(st->made);
  }
  for (size_t i = 0; i < run->n_signals; i++) {
    free(run->signals[i].name);
    free(run->signals[i].data);
  }
  if (run->timer) {
    run->timer->data = NULL;
    uv_close((uv_handle_t *)run->timer, on_timer_close);
  }
  free(run->signals);
  free(run->steps);
  cJSON_Delete(run->input);
  free(run->partition);
  cJSON_Delete(run->dry_run);
  cJSON_Delete(run->rerun_with);
  free(run);
}

/* ---------------------------------------------------------- templates */

/* {input, steps: {NAME: {output, status, attempt}}, run: {id, workflow_id}}
 * with references (not copies) to the input and outputs. */
static cJSON *context(cairn__run *run) {
  cJSON *ctx = cJSON_CreateObject();
  cJSON *steps = cJSON_AddObjectToObject(ctx, "steps");
  cJSON *r = cJSON_AddObjectToObject(ctx, "run");
  cJSON_AddItemReferenceToObject(ctx, "input", run->input);
  for (size_t i = 0; i < run->def->n_steps; i++) {
    const cairn__step_state *st = &run->steps[i];
    if (st->status == CAIRN_STEP_PENDING)
      continue;
    cJSON *s = cJSON_AddObjectToObject(steps, run->def->steps[i].name);
    if (st->output)
      cJSON_AddItemReferenceToObject(s, "output", st->output);
    else
      cJSON_AddNullToObject(s, "output");
    cJSON_AddStringToObject(s, "status", cairn_step_status_name(st->status));
    cJSON_AddNumberToObject(s, "attempt", st->attempt);
  }
  cJSON_AddStringToObject(r, "id", run->run_id);
  cJSON_AddStringToObject(r, "workflow_id", run->workflow_id);
  if (run->partition)
    cJSON_AddStringToObject(r, "partition", run->partition);
  else
    cJSON_AddNullToObject(r, "partition");
  return ctx;
}

static int render(cairn__run *run, cairn__tmpl *t, const cJSON *raw,
                  cJSON **out, char *err, size_t errlen) {
  if (t == NULL) {
    *out = raw ? cJSON_Duplicate(raw, 1) : cJSON_CreateObject();
    return *out ? 0 : CAIRN_ENOMEM;
  }
  if (!cairn__tmpl_has_templates(t)) /* a copy: no context needed */
    return cairn__tmpl_render(t, NULL, out, err, errlen);
  cJSON *ctx = context(run);
  int rc = cairn__tmpl_render(t, ctx, out, err, errlen);
  cJSON_Delete(ctx);
  return rc;
}

int cairn__run_render_with_output(cairn__run *run, cairn__tmpl *t,
                                  const cJSON *raw, const cJSON *output,
                                  cJSON **out, char *err, size_t errlen) {
  if (!cairn__tmpl_has_templates(t))
    return cairn__tmpl_render(t, NULL, out, err, errlen);
  cJSON *ctx = context(run);
  if (output)
    cJSON_AddItemReferenceToObject(ctx, "output", (cJSON *)output);
  else
    cJSON_AddNullToObject(ctx, "output");
  int rc = cairn__tmpl_render(t, ctx, out, err, errlen);
  cJSON_Delete(ctx);
  (void)raw;
  return rc;
}

char *cairn__run_output(cairn__run *run, char *err, size_t errlen) {
  cJSON *out = NULL;
  const cairn__def *d = run->def;
  if (d->output_tmpl) {
    if (render(run, d->output_tmpl, NULL, &out, err, errlen) != 0)
      return NULL;
  }
  else {
    const cJSON *last = run->steps[d->n_steps - 1].output;
    out = last ? cJSON_Duplicate(last, 1) : cJSON_CreateNull();
  }
  char *s = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  return s;
}

/* ------------------------------------------------------------- timers */

static bool needs_met(const cairn__run *run, size_t i);

static void arm_timer(cairn__run *run) {
  int64_t next = 0;
  for (size_t i = 0; i < run->def->n_steps; i++) {
    const cairn__step_state *st = &run->steps[i];
    /* A retry waiting for its needs (an evaluator whose step runs again)
     * is started by the step's completion, not by a timer. */
    bool due = st->status == CAIRN_STEP_RETRYING && needs_met(run, i);
    int64_t t = due                                ? st->retry_at_us
                : st->status == CAIRN_STEP_WAITING ? st->fire_at_us
                                                   : 0;
    if (t && (next == 0 || t < next))
      next = t;
  }
  if (next == 0) {
    uv_timer_stop(run->timer);
    return;
  }
  int64_t ms = (next - cairn__now_us() + 999) / 1000;
  /* At least 1 ms: a 0 ms timer re-armed from its own callback would run
   * again in the same loop phase, and the turn's commit would never come. */
  uv_timer_start(run->timer, on_timer, ms > 0 ? (uint64_t)ms : 1, 0);
}

/* ----------------------------------------------------------- stepping */

static cairn_event step_event(cairn__run *run, size_t i, int type) {
  return (cairn_event){.type = type,
                       .step = S(run->def->steps[i].name),
                       .attempt = run->steps[i].attempt};
}

/* Records a failure of step i; the scheduler then fails the run. */
static void fail_step(cairn__run *run, size_t i, const char *code,
                      const char *msg) {
  cairn__step_state *st = &run->steps[i];
  cairn_event ev = step_event(run, i, CAIRN_EV_STEP_FAILED);
  ev.error_code = S(code);
  ev.error_message = S(msg);
  cairn__emit(run, &ev);
  st->status = CAIRN_STEP_FAILED;
  free(st->error);
  st->error = strdup(msg);
  cairn__note(run, i, CAIRN_STEP_FAILED, 0, msg);
}

static void complete_step(cairn__run *run, size_t i, cJSON *output,
                          const char *meta, int64_t duration_us) {
  cairn__step_state *st = &run->steps[i];
  char *json = cJSON_PrintUnformatted(output);
  cairn_event ev = step_event(run, i, CAIRN_EV_STEP_COMPLETED);
  ev.output = S(json ? json : "null");
  ev.meta = S(meta);
  ev.duration_us = duration_us;
  cairn__emit(run, &ev);
  free(json);
  cJSON_Delete(st->output);
  st->output = output;
  st->status = CAIRN_STEP_COMPLETED;
  st->fire_at_us = 0;
  cairn__note(run, i, CAIRN_STEP_COMPLETED, duration_us, NULL);
}

/* A wait step takes the oldest unconsumed signal of its name. */
static bool try_signal(cairn__run *run, size_t i) {
  cairn__step_state *st = &run->steps[i];
  if (st->wait_signal == NULL)
    return false;
  for (size_t k = 0; k < run->n_signals; k++) {
    cairn__signal *s = &run->signals[k];
    if (s->consumed || strcmp(s->name, st->wait_signal) != 0)
      continue;
    char meta[48];
    snprintf(meta, sizeof meta, "{\"signal_seq\":%u}", s->seq);
    s->consumed = true;
    complete_step(run, i, cJSON_Parse(s->data),
                  meta, cairn__now_us() - st->started_us);
    return true;
  }
  return false;
}

/* Parses sleep's `until`: ms since the epoch, or an RFC 3339 time.
 * Returns µs, or 0 when unreadable. */
static int64_t parse_until(const cJSON *v) {
  int64_t ms = 0;
  if (cJSON_IsNumber(v))
    return (int64_t)v->valuedouble * 1000;
  if (cJSON_IsString(v) && cairn__rfc3339_ms(v->valuestring, &ms) == 0)
    return ms * 1000;
  return 0;
}

static void start_timer_step(cairn__run *run, size_t i, const cJSON *in) {
  cairn__step_state *st = &run->steps[i];
  const cairn__step_def *sd = &run->def->steps[i];
  int64_t now = cairn__now_us(), at = 0;
  if (sd->kind_id == CAIRN__KIND_SLEEP) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(in, "duration_ms");
    at = cJSON_IsNumber(d) ? now + (int64_t)d->valuedouble * 1000
                           : parse_until(cJSON_GetObjectItemCaseSensitive(
                                 in, "until"));
    if (at == 0) {
      fail_step(run, i, "input_error", "sleep needs duration_ms (ms) or "
                "until (ms since the epoch or an RFC 3339 time)");
      return;
    }
    if (at < now)
      at = now;
  }
  else {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "timeout_ms");
    free(st->wait_signal);
    st->wait_signal = wait_signal_of(in);
    if (cJSON_IsNumber(t))
      at = now + (int64_t)t->valuedouble * 1000;
  }
  st->status = CAIRN_STEP_WAITING;
  st->fire_at_us = at;
  if (at) {
    cairn_event ev = step_event(run, i, CAIRN_EV_TIMER_STARTED);
    ev.fire_at_us = at;
    cairn__emit(run, &ev);
  }
  if (sd->kind_id == CAIRN__KIND_WAIT)
    try_signal(run, i);
}

/* Whether a field named `key` holds a credential: its value is recorded
 * as "[redacted]" in step.started (the step itself gets the real value;
 * after a crash the input is rendered again from the templates). */
static bool secret_key(const char *key) {
  static const char *const exact[] = {
      "authorization", "proxy-authorization", "cookie", "set-cookie",
      "password", "passwd", "secret", "client_secret", "api_key", "apikey",
      "x-api-key", "access_token", "refresh_token", "token"};
  static const char *const suffix[] = {"_key", "-key", "_token", "-token",
                                       "_secret", "_password"};
  char low[64];
  size_t n = strlen(key);
  if (n >= sizeof low)
    return false;
  for (size_t i = 0; i <= n; i++)
    low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (strcmp(low, exact[i]) == 0)
      return true;
  for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
    size_t k = strlen(suffix[i]);
    if (n > k && strcmp(low + n - k, suffix[i]) == 0)
      return true;
  }
  return false;
}

/* Turns a leaf (string, number, boolean, null) into "[redacted]". */
static void set_redacted(cJSON *c) {
  if (cJSON_IsString(c)) {
    cJSON_SetValuestring(c, "[redacted]");
    return;
  }
  c->type = cJSON_String; /* a leaf owns no other memory */
  c->valuestring = strdup("[redacted]");
}

static void redact(cJSON *v) {
  for (cJSON *c = v ? v->child : NULL; c; c = c->next) {
    if (c->string && secret_key(c->string) && !cJSON_IsObject(c) &&
        !cJSON_IsArray(c))
      set_redacted(c);
    else
      redact(c);
  }
}

/* The input as recorded: a copy with credentials redacted. */
static char *recorded_input(const cJSON *input) {
  cJSON *copy = cJSON_Duplicate(input, 1);
  redact(copy);
  char *s = cJSON_PrintUnformatted(copy);
  cJSON_Delete(copy);
  return s;
}

/* Starts attempt `attempt` of step i: step.started now, the side effect
 * after the commit. */
/* Renders step i's input: its `with`, or a rerun's overridden `with`. */
static int render_input(cairn__run *run, size_t i, cJSON **input,
                        char *err, size_t errlen) {
  cairn__step_def *sd = &run->def->steps[i];
  if ((int)i != run->rerun_step || run->rerun_with == NULL)
    return render(run, sd->with_tmpl, sd->with, input, err, errlen);
  cairn__tmpl *t = NULL;
  int rc = cairn__tmpl_compile(run->rerun_with, "rerun.with", &t, err,
                               errlen);
  if (rc == 0)
    rc = render(run, t, run->rerun_with, input, err, errlen);
  cairn__tmpl_free(t);
  return rc;
}

/* A dry-run: the step is recorded with the output it had in the run this
 * one derives from (or its own previous output, in a single-step rerun),
 * and not performed. */
static bool dry_run(cairn__run *run, size_t i) {
  const char *name = run->def->steps[i].name;
  const cJSON *ref = cJSON_GetObjectItemCaseSensitive(run->dry_run, name);
  if (ref == NULL)
    return false;
  cJSON *out = NULL;
  const cJSON *rid = cJSON_GetObjectItemCaseSensitive(ref, "run");
  const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ref, "seq");
  cairn_reader *r;
  if ((int)i == run->rerun_step && run->steps[i].output)
    out = cJSON_Duplicate(run->steps[i].output, 1);
  else if (cJSON_IsString(rid) && cJSON_IsNumber(seq) &&
           cairn_reader_begin(run->e->j, &r) == 0) {
    cairn_run_info info;
    cairn_event ev;
    if (cairn_reader_run_by_id(r, rid->valuestring, &info) == 0 &&
        cairn_reader_event(r, info.key, (uint32_t)seq->valuedouble,
                           &ev) == 0)
      out = parse_str(ev.output);
    cairn_reader_end(r);
  }
  cairn__step_state *st = &run->steps[i];
  char *json = out ? cJSON_PrintUnformatted(out) : NULL; /* NULL: null */
  cairn_event ev = step_event(run, i, CAIRN_EV_STEP_COMPLETED);
  ev.output = S(json ? json : "null");
  ev.dry_run = true;
  cairn__emit(run, &ev);
  free(json);
  cJSON_Delete(st->output);
  st->output = out ? out : cJSON_CreateNull();
  st->status = CAIRN_STEP_COMPLETED;
  cairn__note(run, i, CAIRN_STEP_COMPLETED, 0, NULL);
  return true;
}

static void start_step(cairn__run *run, size_t i, uint32_t attempt) {
  cairn__step_state *st = &run->steps[i];
  cairn__step_def *sd = &run->def->steps[i];
  char err[512] = "";
  cJSON *input = NULL;
  int rc = render_input(run, i, &input, err, sizeof err);
  char *json = rc == 0 ? recorded_input(input) : NULL;
  st->attempt = attempt;
  st->started_us = cairn__now_us();
  st->restart = false;
  cairn_event ev = step_event(run, i, CAIRN_EV_STEP_STARTED);
  ev.input = S(json);
  cairn__emit(run, &ev);
  free(json);
  cJSON_Delete(st->assets);
  st->assets = NULL;
  if (sd->consumes_tmpl)
    cairn__assets_consume(run, i);
  st->status = CAIRN_STEP_RUNNING;
  cairn__note(run, i, CAIRN_STEP_RUNNING, 0, NULL);
  if (rc) {
    fail_step(run, i, "input_error", err);
    return;
  }
  if (dry_run(run, i)) {
    cJSON_Delete(input);
    return;
  }
  if (sd->kind_id == CAIRN__KIND_SLEEP || sd->kind_id == CAIRN__KIND_WAIT) {
    start_timer_step(run, i, input);
    cJSON_Delete(input);
    return;
  }
  cJSON_Delete(st->pending_input);
  st->pending_input = input;
  cairn__launch_after_commit(run, i, attempt);
}

static bool needs_met(const cairn__run *run, size_t i) {
  const cairn__step_def *sd = &run->def->steps[i];
  for (size_t k = 0; k < sd->n_needs; k++)
    if (run->steps[sd->needs[k]].status != CAIRN_STEP_COMPLETED)
      return false;
  return true;
}

/* One pass over the steps; true when something changed. */
static bool advance(cairn__run *run, int64_t now) {
  bool changed = false;
  for (size_t i = 0; i < run->def->n_steps; i++) {
    cairn__step_state *st = &run->steps[i];
    switch (st->status) {
    case CAIRN_STEP_PENDING:
      if (needs_met(run, i)) {
        start_step(run, i, st->attempt + 1);
        changed = true;
      }
      break;
    case CAIRN_STEP_RETRYING: /* an evaluator also waits for its step */
      if (now >= st->retry_at_us && needs_met(run, i)) {
        start_step(run, i, st->attempt + 1);
        changed = true;
      }
      break;
    case CAIRN_STEP_RUNNING:
      if (st->restart && st->inflight == NULL) {
        start_step(run, i, st->attempt + 1);
        changed = true;
      }
      break;
    case CAIRN_STEP_WAITING:
      if (run->def->steps[i].kind_id == CAIRN__KIND_WAIT)
        changed |= try_signal(run, i);
      break;
    default:
      break;
    }
  }
  return changed;
}

/* The run fails because step `failed` did: steps still in flight are
 * recorded as stopped (their history must not show them running for
 * ever), then abandoned. */
static void stop_others(cairn__run *run, size_t failed) {
  char msg[200];
  snprintf(msg, sizeof msg, "stopped: step %s failed the run",
           run->def->steps[failed].name);
  for (size_t i = 0; i < run->def->n_steps; i++) {
    cairn__step_state *st = &run->steps[i];
    if (i == failed || (st->status != CAIRN_STEP_RUNNING &&
                        st->status != CAIRN_STEP_WAITING))
      continue;
    fail_step(run, i, "cancelled", msg);
  }
}

static void end_run(cairn__run *run, int type, const char *code,
                    const char *msg, const char *output) {
  cairn_event ev = {.type = type, .error_code = S(code),
                    .error_message = S(msg), .output = S(output)};
  run->status = type == CAIRN_EV_RUN_COMPLETED ? CAIRN_RUN_COMPLETED
                                               : CAIRN_RUN_FAILED;
  cairn__emit(run, &ev);
  run->finished = true;
  uv_timer_stop(run->timer);
}

/* A single-step rerun in a finished run: one new attempt of the step
 * (retried by its policy), then the run's output is recomputed from the
 * latest successful outputs. */
static void schedule_rerun(cairn__run *run) {
  size_t i = (size_t)run->rerun_step;
  cairn__step_state *st = &run->steps[i];
  if (!run->rerun_started || (st->status == CAIRN_STEP_RUNNING &&
                              st->restart && st->inflight == NULL)) {
    run->rerun_started = true;
    start_step(run, i, st->attempt + 1);
  }
  else if (st->status == CAIRN_STEP_RETRYING &&
           cairn__now_us() >= st->retry_at_us) {
    start_step(run, i, st->attempt + 1);
  }
  if (st->status == CAIRN_STEP_COMPLETED || st->status == CAIRN_STEP_FAILED) {
    char err[512] = "";
    char *out = cairn__run_output(run, err, sizeof err);
    cairn_event ev = {.type = CAIRN_EV_RUN_OUTPUT_RECOMPUTED,
                      .output = S(out ? out : "null")};
    cairn__emit(run, &ev);
    free(out);
    run->rerun_step = -1;
    run->finished = true;
    uv_timer_stop(run->timer);
    return;
  }
  arm_timer(run);
}

void cairn__run_schedule(cairn__run *run) {
  if (run->finished)
    return;
  if (run->rerun_step >= 0) {
    schedule_rerun(run);
    return;
  }
  int64_t now = cairn__now_us();
  for (size_t pass = 0; pass <= run->def->n_steps && advance(run, now);
       pass++)
    ;
  bool all_done = true;
  for (size_t i = 0; i < run->def->n_steps; i++) {
    cairn__step_state *st = &run->steps[i];
    if (st->status == CAIRN_STEP_FAILED) {
      char msg[700];
      snprintf(msg, sizeof msg, "step %s failed: %s",
               run->def->steps[i].name, st->error ? st->error : "");
      stop_others(run, i);
      end_run(run, CAIRN_EV_RUN_FAILED, "step_failed", msg, NULL);
      cairn__run_abandon(run); /* other branches stop */
      return;
    }
    all_done &= st->status == CAIRN_STEP_COMPLETED;
  }
  if (all_done) {
    char err[512] = "";
    char *out = cairn__run_output(run, err, sizeof err);
    if (out)
      end_run(run, CAIRN_EV_RUN_COMPLETED, NULL, NULL, out);
    else
      end_run(run, CAIRN_EV_RUN_FAILED, "output_error", err, NULL);
    free(out);
    return;
  }
  arm_timer(run);
}

static void on_timer(uv_timer_t *t) {
  cairn__run *run = t->data;
  int64_t now = cairn__now_us();
  if (run == NULL || run->finished)
    return;
  for (size_t i = 0; i < run->def->n_steps; i++) {
    cairn__step_state *st = &run->steps[i];
    if (st->status != CAIRN_STEP_WAITING || st->fire_at_us == 0 ||
        st->fire_at_us > now)
      continue;
    cairn_event ev = step_event(run, i, CAIRN_EV_TIMER_FIRED);
    cairn__emit(run, &ev);
    st->fire_at_us = 0;
    if (run->def->steps[i].kind_id == CAIRN__KIND_SLEEP) {
      complete_step(run, i, cJSON_CreateNull(), NULL,
                    now - st->started_us);
    }
    else {
      char msg[200];
      snprintf(msg, sizeof msg, "no signal '%s' arrived before the "
               "timeout", st->wait_signal ? st->wait_signal : "");
      fail_step(run, i, "timeout", msg);
    }
  }
  cairn__run_schedule(run);
}

/* ------------------------------------------------------ side effects */

static const cairn__retry_policy *policy_of(const cairn__run *run,
                                            size_t i) {
  static const cairn__retry_policy transient = {4, 200, 2.0, 10000};
  const cairn__step_def *sd = &run->def->steps[i];
  if (sd->has_retry)
    return &sd->retry;
  if (run->def->has_default_retry)
    return &run->def->default_retry;
  /* Without a policy: one attempt, except transient failures of calls to
   * other services, which get three retries. */
  const cairn__kind *k = cairn__kind_by_id(sd->kind_id);
  return k && k->transient_retries ? &transient : &cairn__default_retry;
}

/* Scores step i's new output with its `check` (a jq expression over
 * {output, input, steps} giving true/false or a number in 0..1), records
 * the score (step.evaluated), and with auto_rerun sends an attempt that
 * scored below the threshold back to run again, up to `max` times. The
 * last attempt's output is the step's output: either it passed, or no
 * rerun is left. */
/* The score a check or an evaluator's output gives: true/false as 1/0, a
 * number in 0..1 as itself, anything else 0 with a message in err. */
static double score_of(const cJSON *v, const char *what, char *err,
                       size_t errlen) {
  if (cJSON_IsBool(v))
    return cJSON_IsTrue(v) ? 1 : 0;
  if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1)
    return v->valuedouble;
  if (*err == '\0')
    snprintf(err, errlen, "%s gave neither true/false nor a number from 0 "
             "to 1", what);
  return 0;
}

static void record_score(cairn__run *run, size_t i, double score,
                         const char *err, int judge);

static void evaluate(cairn__run *run, size_t i) {
  cairn__step_state *st = &run->steps[i];
  const cairn__step_def *sd = &run->def->steps[i];
  char err[512] = "";
  cJSON *ctx = context(run), *v = NULL;
  cJSON_AddItemReferenceToObject(ctx, "output", st->output);
  cairn__tmpl_render(sd->check_tmpl, ctx, &v, err, sizeof err);
  cJSON_Delete(ctx);
  double score = score_of(v, "the check", err, sizeof err);
  cJSON_Delete(v);
  record_score(run, i, score, err, -1);
}

/* Evaluator step `judge` completed: its output's "score" (or, for an llm
 * judge answering JSON, output.json.score) scores each step it evaluates. */
static void judge_done(cairn__run *run, size_t judge) {
  const cJSON *out = run->steps[judge].output;
  if (!cJSON_GetObjectItemCaseSensitive(out, "score"))
    out = cJSON_GetObjectItemCaseSensitive(out, "json");
  for (size_t i = 0; i < run->def->n_steps; i++) {
    if (run->def->steps[i].evaluator != (int)judge)
      continue;
    char err[512] = "";
    double score = score_of(cJSON_GetObjectItemCaseSensitive(out, "score"),
                            "the evaluator's output.score", err,
                            sizeof err);
    record_score(run, i, score, err, (int)judge);
  }
}

/* step.evaluated for step i; with auto_rerun, a score below the threshold
 * sends step i (and its evaluator, when one judged) to run again. */
static void record_score(cairn__run *run, size_t i, double score,
                         const char *err, int judge) {
  cairn__step_state *st = &run->steps[i];
  const cairn__step_def *sd = &run->def->steps[i];
  char num[32], meta[640];
  bool passed = sd->has_auto_rerun ? score >= sd->rerun_below : score > 0;
  bool again = sd->has_auto_rerun && !passed && st->reruns < sd->rerun_max;
  cJSON *m = cJSON_CreateObject();
  cJSON_AddBoolToObject(m, "passed", passed);
  if (sd->has_auto_rerun)
    cJSON_AddNumberToObject(m, "below", sd->rerun_below);
  if (*err) /* a check that cannot score counts as 0 */
    cJSON_AddStringToObject(m, "error", err);
  char *ms = cJSON_PrintUnformatted(m);
  snprintf(meta, sizeof meta, "%s", ms ? ms : "{}");
  free(ms);
  cJSON_Delete(m);
  snprintf(num, sizeof num, "%.6f", score);
  cairn_event ev = step_event(run, i, CAIRN_EV_STEP_EVALUATED);
  ev.output = S(num);
  ev.retryable = again;
  ev.meta = S(meta);
  if (judge >= 0)
    ev.name = S(run->def->steps[judge].name);
  cairn__emit(run, &ev);
  if (again && judge >= 0) { /* the judge waits for the next attempt */
    run->steps[judge].status = CAIRN_STEP_RETRYING;
    run->steps[judge].retry_at_us = cairn__now_us();
  }
  if (again) {
    st->reruns++;
    st->status = CAIRN_STEP_RETRYING;
    st->retry_at_us = cairn__now_us();
    cairn__note(run, i, CAIRN_STEP_RETRYING, 0, "scored below the "
                "threshold");
  }
}

void cairn__outcome_fail(cairn__outcome *o, const char *code, bool retryable,
                         const char *fmt, ...) {
  char msg[1500];
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

void cairn__attempt_done(cairn__attempt *a, cairn__outcome *o) {
  cairn__run *run = a->run;
  int64_t dur = cairn__now_us() - a->started_us;
  if (run && !run->finished) {
    cairn__step_state *st = &run->steps[a->step];
    st->inflight = NULL;
    char aerr[1200];
    if (o->ok && run->def->steps[a->step].produces_tmpl &&
        cairn__assets_collect(run, a->step, a->input, o->output, aerr,
                              sizeof aerr) != 0)
      cairn__outcome_fail(o, "asset_error", false, "%s", aerr);
    if (o->ok) {
      complete_step(run, a->step, o->output ? o->output
                                            : cJSON_CreateNull(),
                    o->meta, dur);
      o->output = NULL;
      if (run->def->steps[a->step].produces_tmpl)
        cairn__assets_emit(run, a->step);
      if (run->def->steps[a->step].check_tmpl)
        evaluate(run, a->step);
      judge_done(run, a->step);
    }
    else {
      char *details = o->details ? cJSON_PrintUnformatted(o->details) : NULL;
      const cairn__retry_policy *p = policy_of(run, a->step);
      bool again = o->retryable &&
                   a->attempt - st->attempt_base < p->max_attempts;
      cairn_event ev = step_event(run, a->step, CAIRN_EV_STEP_FAILED);
      ev.error_code = S(o->code);
      ev.error_message = S(o->message ? o->message : "failed");
      ev.details = S(details);
      ev.retryable = o->retryable;
      ev.duration_us = dur;
      cairn__emit(run, &ev);
      free(details);
      free(st->error);
      st->error = strdup(o->message ? o->message : "failed");
      st->status = CAIRN_STEP_FAILED;
      cairn__note(run, a->step, CAIRN_STEP_FAILED, dur, st->error);
      if (again) {
        int64_t delay = cairn__retry_delay_ms(p, a->attempt + 1);
        if (o->retry_after_ms > delay)
          delay = o->retry_after_ms;
        cairn_event r = step_event(run, a->step,
                                   CAIRN_EV_STEP_RETRY_SCHEDULED);
        r.attempt = a->attempt + 1;
        r.delay_ms = delay > 0 ? delay : 1;
        cairn__emit(run, &r);
        st->status = CAIRN_STEP_RETRYING;
        st->retry_at_us = cairn__now_us() + r.delay_ms * 1000;
        cairn__note(run, a->step, CAIRN_STEP_RETRYING, 0, st->error);
      }
    }
    cairn__run_schedule(run);
  }
  else if (run) {
    run->steps[a->step].inflight = NULL;
  }
  cJSON_Delete(o->output);
  cJSON_Delete(o->details);
  free(o->message);
  cJSON_Delete(a->input);
  free(a);
}

void cairn__run_launch(cairn__run *run, size_t i, uint32_t attempt) {
  cairn__step_state *st = &run->steps[i];
  const cairn__step_def *sd = &run->def->steps[i];
  if (run->finished || st->status != CAIRN_STEP_RUNNING ||
      st->attempt != attempt || st->inflight)
    return;
  cairn__attempt *a = calloc(1, sizeof *a);
  if (a == NULL)
    return;
  a->e = run->e;
  a->run = run;
  a->step = i;
  a->attempt = attempt;
  a->input = st->pending_input;
  st->pending_input = NULL;
  a->started_us = cairn__now_us();
  a->timeout_ms = sd->timeout_ms; /* defaults.timeout_ms filled in */
  /* Stable across a step's attempts; a single-step rerun is new work. */
  if ((int)i == run->rerun_step)
    snprintf(a->idem_key, sizeof a->idem_key, "%s:%s:rerun-%u",
             run->run_id, sd->name, run->rerun_seq);
  else
    snprintf(a->idem_key, sizeof a->idem_key, "%s:%s", run->run_id,
             sd->name);
  snprintf(a->run_id, sizeof a->run_id, "%s", run->run_id);
  snprintf(a->workflow_id, sizeof a->workflow_id, "%s", run->workflow_id);
  a->sd = sd;
  st->inflight = a;
  const cairn__kind *k = cairn__kind_by_id(sd->kind_id);
  int rc;
  if (k && k->start) {
    rc = k->start(a);
  }
  else {
    cairn__engine_err(run->e, "step kind '%s' is not available in this "
                              "build", sd->kind);
    rc = CAIRN_EINVAL;
  }
  if (rc) {
    cairn__outcome o = {.code = "start_failed",
                        .message = strdup(run->e->errmsg),
                        .retryable = rc != CAIRN_EINVAL};
    cairn__attempt_done(a, &o);
  }
}

/* ---------------------------------------------------- others' events */

int cairn__run_poll(cairn__run *run, cairn_reader *r) {
  cairn_run_info info;
  cairn_history *it;
  cairn_event ev;
  bool news = false;
  int rc = cairn_reader_run_by_key(r, run->key, &info);
  if (rc || info.last_seq <= run->seen_seq)
    return rc;
  if ((rc = cairn_reader_history(r, run->key, run->seen_seq + 1, &it)) != 0)
    return rc;
  while ((rc = cairn_history_next(it, &ev)) == 1) {
    run->seen_seq = ev.seq;
    if (ev.type == CAIRN_EV_SIGNAL_RECEIVED) {
      add_signal(run, &ev);
      news = true;
    }
    else if (ev.type == CAIRN_EV_RUN_CANCELLED ||
             ev.type == CAIRN_EV_RUN_TERMINATED) {
      fold_event(run, r, &ev);
      cairn__run_abandon(run);
    }
  }
  cairn_history_close(it);
  if (news)
    cairn__run_schedule(run);
  return rc < 0 ? rc : 0;
}

void cairn__run_abandon(cairn__run *run) {
  for (size_t i = 0; i < run->def->n_steps; i++) {
    cairn__attempt *a = run->steps[i].inflight;
    if (a == NULL)
      continue;
    run->steps[i].inflight = NULL;
    a->run = NULL; /* its end will be ignored */
    if (a->cancel)
      a->cancel(a);
  }
  if (run->timer)
    uv_timer_stop(run->timer);
}
