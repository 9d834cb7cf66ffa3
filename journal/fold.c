/*
 * fold.c — the run lifecycle: how events fold into views, and which event
 * may follow which.
 *
 * The same function serves three callers: the append path (incremental:
 * the fold starts from the stored views and loads the step and attempt
 * views it touches, so the cost of an event does not depend on the run's
 * length), rebuild-views and verify (a full fold from event 1 with nothing
 * stored). Because appends go through the fold, a history that breaks the
 * rules below can never be written; verify re-checks them on disk.
 *
 * Run states and the events that move between them:
 *
 *                run.started (seq 1 only)
 *   (none) ───────────────────────────▶ RUNNING
 *   RUNNING ── run.completed ─────────▶ COMPLETED
 *           ── run.failed ────────────▶ FAILED
 *           ── run.cancelled ─────────▶ CANCELLED
 *           ── run.terminated ────────▶ TERMINATED
 *   final   ── step.rerun_requested ───▶ same state, rerun pending
 *           ── run.output_recomputed ─▶ same state, rerun cleared
 *
 * Step states (per step, in a view):
 *
 *   PENDING ── step.started ──▶ RUNNING ── step.completed ──▶ COMPLETED
 *   PENDING ── step.reused ───────────────────────────────────▶ COMPLETED
 *   RUNNING ── step.failed ───▶ FAILED ── step.retry_scheduled ▶ RETRYING
 *   RUNNING ── timer.started ─▶ WAITING ── timer.fired ───────▶ RUNNING
 *   FAILED, RETRYING, RUNNING, WAITING ── step.started ───────▶ RUNNING
 *
 * Rules (a violation of rule 1 is CAIRN_ECORRUPT, since the journal itself
 * numbers events; any other is CAIRN_ECONFLICT, its message saying which
 * rule in words):
 *   1. Seqs are contiguous: event n+1 follows event n.
 *   2. Event 1 is run.started; run.started is only event 1.
 *   3. A final run takes no event except step.rerun_requested (on a run
 *      that completed or failed, none pending), the rerun step's own step
 *      and timer events, and run.output_recomputed.
 *   4. Attempts count from 1 without gaps; completion and failure name the
 *      attempt that is running.
 *   5. A completed step never starts again, except as a requested rerun.
 *   6. step.reused comes before any other event of its step and references
 *      a step.completed (the original, never another step.reused).
 *   7. A step that starts while its previous attempt still runs marks that
 *      attempt ABANDONED (its worker died; at-least-once).
 *   8. step.evaluated scores the step's latest attempt, which must have
 *      completed; with `retryable` (an automatic rerun follows, the score
 *      being below the step's threshold) the step goes back to RETRYING,
 *      so its next attempt may start, and so does the evaluator step named
 *      in `name` (when another step gave the score), to score it again.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const run_status_names[] = {
    NULL, "running", "completed", "failed", "cancelled", "terminated"};

const char *cairn_run_status_name(int s) {
  if (s < CAIRN_RUN_RUNNING || s > CAIRN_RUN_TERMINATED)
    return NULL;
  return run_status_names[s];
}

int cairn_run_status_from_name(const char *name) {
  for (int s = CAIRN_RUN_RUNNING; s <= CAIRN_RUN_TERMINATED; s++)
    if (name && strcmp(name, run_status_names[s]) == 0)
      return s;
  return 0;
}

bool cairn_run_status_is_final(int s) {
  return s >= CAIRN_RUN_COMPLETED && s <= CAIRN_RUN_TERMINATED;
}

const char *cairn_step_status_name(int s) {
  static const char *const names[] = {"pending", "running", "completed",
                                      "failed", "retrying", "waiting"};
  if (s < CAIRN_STEP_PENDING || s > CAIRN_STEP_WAITING)
    return NULL;
  return names[s];
}

const char *cairn_attempt_status_name(int s) {
  static const char *const names[] = {NULL, "running", "completed",
                                      "failed", "abandoned"};
  if (s < CAIRN_ATTEMPT_RUNNING || s > CAIRN_ATTEMPT_ABANDONED)
    return NULL;
  return names[s];
}

void cairn__fold_init(cairn__fold *f, uint64_t run,
                      const cairn__fold_loader *loader) {
  memset(f, 0, sizeof *f);
  f->run = run;
  if (loader)
    f->loader = *loader;
}

void cairn__fold_free(cairn__fold *f) {
  cairn__fold_step *s, *tmp;
  HASH_ITER(hh, f->steps, s, tmp) {
    HASH_DEL(f->steps, s);
    free(s->name);
    free(s->att);
    free(s);
  }
  free(f->rerun_step);
  f->rerun_step = NULL;
}

static int set_rerun_step(cairn__fold *f, cairn_str name) {
  free(f->rerun_step);
  f->rerun_step = NULL;
  f->v.rerun_step.ptr = NULL;
  f->v.rerun_step.len = 0;
  if (name.ptr == NULL)
    return 0;
  f->rerun_step = cairn__strndup(name.ptr, name.len);
  if (f->rerun_step == NULL)
    return CAIRN_ENOMEM;
  f->v.rerun_step.ptr = f->rerun_step;
  f->v.rerun_step.len = name.len;
  return 0;
}

int cairn__fold_set_view(cairn__fold *f, const cairn_run_view *v) {
  cairn_str rerun = v->rerun_step;
  f->v = *v;
  f->v.rerun_step.ptr = NULL;
  f->v_known = true;
  return set_rerun_step(f, rerun);
}

static int conflict(cairn__fold *f, const cairn_event *ev, const char *fmt,
                    const char *a) {
  char what[160];
  cairn__fmt(what, sizeof what, fmt, a);
  cairn__fmt(f->err, sizeof f->err, "seq %u (%s%s%.*s): %s", ev->seq,
             cairn_event_type_name(ev->type), ev->step.ptr ? " of step " : "",
             (int)(ev->step.ptr ? ev->step.len : 0),
             ev->step.ptr ? ev->step.ptr : "", what);
  return CAIRN_ECONFLICT;
}

/* The step `name`, from memory or the loader; created empty when absent.
 * s->known says whether it had events before. */
static int get_step(cairn__fold *f, cairn_str name, cairn__fold_step **out) {
  cairn__fold_step *s = NULL;
  HASH_FIND(hh, f->steps, name.ptr, name.len, s);
  if (s) {
    *out = s;
    return 0;
  }
  s = cairn__calloc(1, sizeof *s);
  if (s == NULL || (s->name = cairn__strndup(name.ptr, name.len)) == NULL) {
    free(s);
    return CAIRN_ENOMEM;
  }
  s->name_len = name.len;
  if (f->loader.load_step) {
    int rc = f->loader.load_step(f->loader.ctx, f->run, name, &s->v);
    if (rc == 0)
      s->known = true;
    else if (rc != CAIRN_ENOTFOUND) {
      free(s->name);
      free(s);
      return rc;
    }
  }
  s->v.name.ptr = s->name;
  s->v.name.len = s->name_len;
  HASH_ADD_KEYPTR(hh, f->steps, s->name, s->name_len, s);
  *out = s;
  return 0;
}

static int add_attempt(cairn__fold_step *s, const cairn_attempt_view *v,
                       cairn__fold_attempt **out) {
  if (s->n_att == s->cap_att) {
    size_t cap = s->cap_att ? 2 * s->cap_att : 4;
    cairn__fold_attempt *a = cairn__realloc(s->att, cap * sizeof *a);
    if (a == NULL)
      return CAIRN_ENOMEM;
    s->att = a;
    s->cap_att = cap;
  }
  *out = &s->att[s->n_att++];
  (*out)->v = *v;
  (*out)->dirty = false;
  return 0;
}

static void touch(cairn__fold_step *s, const cairn_event *ev) {
  if (!s->known) {
    s->known = true;
    s->v.first_seq = ev->seq;
  }
  s->v.last_seq = ev->seq;
  s->dirty = true;
}

static int step_started(cairn__fold *f, cairn__fold_step *s,
                        const cairn_event *ev) {
  cairn__fold_attempt *a = NULL;
  char num[16];
  if (s->v.status == CAIRN_STEP_COMPLETED && f->v.rerun_seq == 0)
    return conflict(f, ev,
                    "the step already completed; a completed step never "
                    "runs again%s",
                    "");
  if (ev->attempt != s->v.attempts + 1) {
    cairn__fmt(num, sizeof num, "%u", s->v.attempts + 1);
    return conflict(f, ev, "the next attempt must be number %s", num);
  }
  if (s->v.attempts > 0) {
    /* The previous attempt leaves the step record for one of its own. */
    cairn_attempt_view prev = s->v.latest;
    if (prev.status == CAIRN_ATTEMPT_RUNNING)
      prev.status = CAIRN_ATTEMPT_ABANDONED;
    int rc = add_attempt(s, &prev, &a);
    if (rc)
      return rc;
    a->dirty = true;
  }
  if (s->v.status == CAIRN_STEP_COMPLETED)
    f->v.n_completed--;
  if (!s->known)
    f->v.n_steps++;
  s->v.latest = (cairn_attempt_view){.attempt = ev->attempt,
                                     .status = CAIRN_ATTEMPT_RUNNING,
                                     .start_seq = ev->seq,
                                     .started_us = ev->time_us};
  s->v.status = CAIRN_STEP_RUNNING;
  s->v.attempts = ev->attempt;
  s->v.started_us = ev->time_us;
  s->v.ended_us = 0;
  f->v.n_attempts++;
  touch(s, ev);
  return 0;
}

/* step.completed and step.failed: end the running attempt. */
static int step_ended(cairn__fold *f, cairn__fold_step *s,
                      const cairn_event *ev) {
  cairn_attempt_view *a = &s->v.latest;
  bool ok = ev->type == CAIRN_EV_STEP_COMPLETED;
  if (!s->known || (s->v.status != CAIRN_STEP_RUNNING &&
                    s->v.status != CAIRN_STEP_WAITING))
    return conflict(f, ev, "the step has no running attempt (it is %s)",
                    cairn_step_status_name(s->v.status));
  if (ev->attempt != a->attempt || a->status != CAIRN_ATTEMPT_RUNNING)
    return conflict(f, ev, "the attempt number is not the running one%s",
                    "");
  a->status = ok ? CAIRN_ATTEMPT_COMPLETED : CAIRN_ATTEMPT_FAILED;
  a->end_seq = ev->seq;
  a->ended_us = ev->time_us;
  a->duration_us = ev->duration_us;
  a->dry_run = ev->dry_run;
  s->v.ended_us = ev->time_us;
  if (ok) {
    f->v.n_completed++;
    s->v.status = CAIRN_STEP_COMPLETED;
    s->v.ok_attempt = ev->attempt;
    s->v.out_run = f->run;
    s->v.out_seq = ev->seq;
    s->v.reused = false;
    s->v.dry_run = ev->dry_run;
    s->v.stale = false;
  }
  else {
    s->v.status = CAIRN_STEP_FAILED;
  }
  touch(s, ev);
  return 0;
}

static int step_reused(cairn__fold *f, cairn__fold_step *s,
                       const cairn_event *ev) {
  uint64_t src = 0;
  char why[200] = "";
  if (s->known)
    return conflict(f, ev, "step.reused must be the step's first event%s",
                    "");
  if (ev->ref_run.ptr == NULL || ev->ref_seq == 0)
    return conflict(f, ev, "step.reused needs ref_run and ref_seq%s", "");
  if (f->loader.check_ref) {
    int rc = f->loader.check_ref(f->loader.ctx, ev, &src, why, sizeof why);
    if (rc == CAIRN_ENOTFOUND || rc == CAIRN_ECONFLICT)
      return conflict(f, ev, "%s", why);
    if (rc)
      return rc;
  }
  f->v.n_steps++;
  f->v.n_completed++;
  s->v.status = CAIRN_STEP_COMPLETED;
  s->v.reused = true;
  s->v.out_run = src;
  s->v.out_seq = ev->ref_seq;
  s->v.started_us = ev->time_us;
  s->v.ended_us = ev->time_us;
  touch(s, ev);
  return 0;
}

/* Marks the steps named in a JSON array (step.rerun_requested details) as
 * stale: their inputs came from the attempt being replaced. */
static int mark_stale(cairn__fold *f, const cairn_event *ev) {
  if (ev->details.ptr == NULL)
    return 0;
  cJSON *arr = cJSON_ParseWithLength(ev->details.ptr, ev->details.len);
  cJSON *list = cJSON_IsArray(arr) ? arr : NULL;
  int rc = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    cairn__fold_step *s;
    if (!cJSON_IsString(it))
      continue;
    cairn_str name = {it->valuestring, strlen(it->valuestring)};
    rc = get_step(f, name, &s);
    if (rc)
      break;
    if (s->known) {
      s->v.stale = true;
      s->dirty = true;
    }
  }
  cJSON_Delete(arr);
  return rc;
}

static int rerun_requested(cairn__fold *f, cairn__fold_step *s,
                           const cairn_event *ev) {
  if (f->v.status != CAIRN_RUN_COMPLETED && f->v.status != CAIRN_RUN_FAILED)
    return conflict(f, ev,
                    "a single-step rerun needs a completed or failed run "
                    "(this one is %s)",
                    cairn_run_status_name(f->v.status));
  if (f->v.rerun_seq)
    return conflict(f, ev, "a rerun of step %s is already pending",
                    f->rerun_step);
  if (!s->known || (s->v.status != CAIRN_STEP_COMPLETED &&
                    s->v.status != CAIRN_STEP_FAILED))
    return conflict(f, ev, "only a completed or failed step is rerun (this "
                    "one is %s)", cairn_step_status_name(s->v.status));
  int rc = set_rerun_step(f, ev->step);
  if (rc)
    return rc;
  f->v.rerun_seq = ev->seq;
  touch(s, ev);
  return mark_stale(f, ev);
}

static int step_evaluated(cairn__fold *f, cairn__fold_step *s,
                          const cairn_event *ev) {
  cairn_attempt_view *a = &s->v.latest;
  char *end = NULL;
  double score = ev->output.ptr ? strtod(ev->output.ptr, &end) : -1;
  if (!s->known || s->v.status != CAIRN_STEP_COMPLETED ||
      ev->attempt != a->attempt || a->status != CAIRN_ATTEMPT_COMPLETED)
    return conflict(f, ev, "a score is given to the step's latest attempt, "
                    "once it completed%s", "");
  if (end == ev->output.ptr || end != ev->output.ptr + ev->output.len ||
      score < 0 || score > 1)
    return conflict(f, ev, "a score is a number from 0 to 1%s", "");
  a->scored = true;
  a->score = (double)(int64_t)(score * 1e6 + 0.5) / 1e6;
  if (ev->retryable) { /* below the threshold: it runs again */
    s->v.status = CAIRN_STEP_RETRYING;
    f->v.n_completed--;
  }
  touch(s, ev);
  if (ev->retryable && ev->name.ptr) { /* and so does its evaluator */
    cairn__fold_step *judge = NULL;
    int rc = get_step(f, ev->name, &judge);
    if (rc)
      return rc;
    if (!judge->known || judge->v.status != CAIRN_STEP_COMPLETED)
      return conflict(f, ev, "the evaluator step must have completed%s",
                      "");
    judge->v.status = CAIRN_STEP_RETRYING;
    f->v.n_completed--;
    touch(judge, ev);
  }
  return 0;
}

static int timer_event(cairn__fold *f, cairn__fold_step *s,
                       const cairn_event *ev) {
  bool start = ev->type == CAIRN_EV_TIMER_STARTED;
  int from = start ? CAIRN_STEP_RUNNING : CAIRN_STEP_WAITING;
  if (!s->known || s->v.status != from)
    return conflict(f, ev, "the step must be %s",
                    cairn_step_status_name(from));
  s->v.status = start ? CAIRN_STEP_WAITING : CAIRN_STEP_RUNNING;
  touch(s, ev);
  return 0;
}

/* asset.materialized: what the attempt that just completed produced. It
 * follows that attempt's step.completed (or another asset.materialized
 * of it) directly, so it is always in the completion's batch: an asset
 * is never recorded without the step that made it, nor the reverse. */
static int asset_materialized(cairn__fold *f, cairn__fold_step *s,
                              const cairn_event *ev) {
  if (!s->known || s->v.status != CAIRN_STEP_COMPLETED || s->v.reused ||
      s->v.ok_attempt != ev->attempt || ev->attempt == 0)
    return conflict(f, ev, "an asset is materialized by the attempt that "
                    "completed the step, right after its step.completed%s",
                    "");
  if (s->v.dry_run)
    return conflict(f, ev, "a dry-run attempt performed nothing and "
                    "materializes no asset%s", "");
  if (s->v.last_seq + 1 != ev->seq)
    return conflict(f, ev, "asset.materialized must directly follow its "
                    "step's step.completed (in the same batch)%s", "");
  touch(s, ev);
  return 0;
}

static int step_event(cairn__fold *f, const cairn_event *ev) {
  cairn__fold_step *s = NULL;
  if (ev->step.ptr == NULL || ev->step.len == 0)
    return conflict(f, ev, "the event names no step%s", "");
  bool final = cairn_run_status_is_final(f->v.status);
  if (final && ev->type != CAIRN_EV_STEP_RERUN_REQUESTED &&
      (f->v.rerun_seq == 0 || f->v.rerun_step.len != ev->step.len ||
       memcmp(f->v.rerun_step.ptr, ev->step.ptr, ev->step.len) != 0))
    return conflict(f, ev,
                    "the run is %s; a finished run takes step events only "
                    "for a requested single-step rerun",
                    cairn_run_status_name(f->v.status));
  int rc = get_step(f, ev->step, &s);
  if (rc)
    return rc;
  switch (ev->type) {
  case CAIRN_EV_STEP_STARTED:
    return step_started(f, s, ev);
  case CAIRN_EV_STEP_COMPLETED:
  case CAIRN_EV_STEP_FAILED:
    return step_ended(f, s, ev);
  case CAIRN_EV_STEP_RETRY_SCHEDULED:
    if (s->v.status != CAIRN_STEP_FAILED || ev->attempt != s->v.attempts + 1)
      return conflict(f, ev,
                      "a retry follows a failed attempt and names the next "
                      "attempt%s", "");
    s->v.status = CAIRN_STEP_RETRYING;
    touch(s, ev);
    return 0;
  case CAIRN_EV_STEP_REUSED:
    if (final)
      return conflict(f, ev, "steps are reused only while a run runs%s", "");
    return step_reused(f, s, ev);
  case CAIRN_EV_STEP_RERUN_REQUESTED:
    return rerun_requested(f, s, ev);
  case CAIRN_EV_STEP_EVALUATED:
    return step_evaluated(f, s, ev);
  case CAIRN_EV_ASSET_MATERIALIZED:
    return asset_materialized(f, s, ev);
  default:
    return timer_event(f, s, ev);
  }
}

static int run_event(cairn__fold *f, const cairn_event *ev) {
  bool final = cairn_run_status_is_final(f->v.status);
  switch (ev->type) {
  case CAIRN_EV_RUN_OUTPUT_RECOMPUTED:
    if (!final || f->v.rerun_seq == 0)
      return conflict(f, ev, "a run's output is recomputed only to end a "
                      "single-step rerun of a finished run%s", "");
    f->v.output_seq = ev->seq;
    f->v.rerun_seq = 0;
    return set_rerun_step(f, (cairn_str){NULL, 0});
  case CAIRN_EV_SIGNAL_RECEIVED:
    if (final)
      return conflict(f, ev, "the run is %s and takes no signal",
                      cairn_run_status_name(f->v.status));
    if (ev->name.ptr == NULL || ev->name.len == 0)
      return conflict(f, ev, "a signal needs a name%s", "");
    f->v.n_signals++;
    return 0;
  default: /* run.completed, failed, cancelled, terminated */
    if (final)
      return conflict(f, ev, "the run already ended (%s)",
                      cairn_run_status_name(f->v.status));
    f->v.status = ev->type == CAIRN_EV_RUN_COMPLETED   ? CAIRN_RUN_COMPLETED
                  : ev->type == CAIRN_EV_RUN_FAILED    ? CAIRN_RUN_FAILED
                  : ev->type == CAIRN_EV_RUN_CANCELLED ? CAIRN_RUN_CANCELLED
                                                       : CAIRN_RUN_TERMINATED;
    f->v.ended_us = ev->time_us;
    if (ev->type == CAIRN_EV_RUN_COMPLETED)
      f->v.output_seq = ev->seq;
    else
      f->v.error_seq = ev->seq;
    return 0;
  }
}

int cairn__fold_apply(cairn__fold *f, const cairn_event *ev) {
  int rc;
  f->err[0] = '\0';
  if (ev->seq != f->v.last_seq + 1) {
    cairn__fmt(f->err, sizeof f->err, "seq %u follows seq %u: history has "
               "a gap or a repeat", ev->seq, f->v.last_seq);
    return CAIRN_ECORRUPT;
  }
  if ((ev->type == CAIRN_EV_RUN_STARTED) != (ev->seq == 1))
    return conflict(f, ev, "a history begins with run.started, and only "
                    "there%s", "");
  switch (ev->type) {
  case CAIRN_EV_RUN_STARTED:
    f->v.status = CAIRN_RUN_RUNNING;
    f->v.started_us = ev->time_us;
    f->v_known = true;
    rc = 0;
    break;
  case CAIRN_EV_RUN_COMPLETED:
  case CAIRN_EV_RUN_FAILED:
  case CAIRN_EV_RUN_CANCELLED:
  case CAIRN_EV_RUN_TERMINATED:
  case CAIRN_EV_RUN_OUTPUT_RECOMPUTED:
  case CAIRN_EV_SIGNAL_RECEIVED:
    rc = run_event(f, ev);
    break;
  default:
    rc = step_event(f, ev);
    break;
  }
  if (rc)
    return rc;
  f->v.last_seq = ev->seq;
  f->v.updated_us = ev->time_us;
  f->v_dirty = true;
  return 0;
}
