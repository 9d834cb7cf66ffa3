/*
 * diff.c — what differs between two runs (`cairn diff`, GET
 * /v1/runs/{id}/diff).
 *
 * RUN_A and RUN_B are run ids or workflow ids (their current runs), read
 * in one snapshot. The comparison is built once, as the JSON document
 * that `--format json` prints (docs/diff.md has its schema); the text
 * report is rendered from that document, so the two never disagree.
 *
 * Sections, each compared with the structural diff of json_diff.c:
 *   input        the inputs of run.started (absent = null).
 *   definition   the two snapshots' steps matched by name: added,
 *                removed, changed (with the diff of the step's object);
 *                "fields", the diff of everything else (output, defaults,
 *                name); "reordered" when the common steps changed order,
 *                which changes default dependencies.
 *   steps        the union of step names: B's definition order, then A's
 *                extra steps, then steps that have events but are in
 *                neither definition. For each run: status ("absent" when
 *                not in that run's definition), attempts, the latest
 *                attempt's duration, reused, error; and the diff of the
 *                visible outputs, read from the event the step view
 *                points at (the original step.completed for a reused
 *                step, possibly in another run).
 *   transitions  each run's history folded to status changes (below).
 *   output       the run outputs (absent while a run has none), with
 *                each run's status and, when it did not complete, error.
 *
 * A step is "same" when it ended the same way (status, output, error)
 * after the same number of attempts; a step reused in either run is
 * compared by its result only, because reuse makes no attempt. Durations
 * are reported, never compared: they always differ. The runs are
 * "identical" when input, definition, every step, status, error and
 * output are the same. Transitions are reported with their own "same"
 * but do not count: parallel steps finish in any order.
 *
 * Transitions: one string per change of the run's or a step's status,
 * in history order:
 *   "running"                   run.started
 *   "step NAME completed"       step.completed (" (dry run)" if so)
 *   "step NAME failed"          step.failed with no retry after it
 *   "step NAME retrying"        step.failed then step.retry_scheduled
 *   "step NAME reused"          step.reused
 *   "step NAME waiting"         timer.started (sleep, wait)
 *   "step NAME rerun requested" step.rerun_requested
 *   "signal NAME received"      signal.received
 *   "output recomputed"         run.output_recomputed
 *   "completed", "failed", "cancelled", "terminated"   the run's end
 * step.started and timer.fired are left out (every attempt starts; a
 * fired timer shows as the step's completion). Repeats in a row collapse
 * into one string with a count: "step fetch retrying x3". A list of raw
 * event types was rejected as `cairn history`'s job; this form reads as
 * a story and two runs' lists compare line by line.
 *
 * Exit status: 0 whether or not the runs differ (as `git diff` without
 * --exit-code), 2 for usage, 3 when a run is not found.
 */
#include "present.h"
#include "json_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One run of the comparison, as read from the snapshot. */
typedef struct side {
  cairn_run_info info;
  cairn_run_view view;
  cairn_event start;   /* run.started; borrows from the reader */
  cJSON *input;        /* the run's input; JSON null when absent */
  cJSON *def;          /* the definition snapshot, parsed */
  cJSON *output;       /* the run's output; NULL while it has none */
  cJSON *error;        /* {code, message} of a run that did not
                          complete; NULL otherwise */
  cJSON *transitions;  /* array of strings (see the top comment) */
} side;

static void side_free(side *s) {
  cJSON *owned[] = {s->input, s->def, s->output, s->error, s->transitions};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
    cJSON_Delete(owned[i]);
}

/* JSON text as a value (a string when it does not parse); NULL when
 * absent. */
static cJSON *json_of(cairn_str s) {
  if (s.ptr == NULL)
    return NULL;
  cJSON *v = cJSON_ParseWithLength(s.ptr, s.len);
  if (v == NULL) {
    char *copy = strndup(s.ptr, s.len);
    v = cJSON_CreateString(copy ? copy : "");
    free(copy);
  }
  return v;
}

/* ------------------------------------------------------------ reading */

/* The run's output and, when it did not complete, how it ended. */
static int load_end(cairn_reader *r, side *s) {
  cairn_event ev;
  int rc = 0;
  if (s->view.output_seq) {
    rc = cairn_reader_event(r, s->info.key, s->view.output_seq, &ev);
    if (rc == 0)
      s->output = ev.output.ptr ? json_of(ev.output) : cJSON_CreateNull();
  }
  if (rc == 0 && s->view.error_seq) {
    rc = cairn_reader_event(r, s->info.key, s->view.error_seq, &ev);
    if (rc == 0) {
      s->error = cJSON_CreateObject();
      present_add_str(s->error, "code", ev.error_code);
      present_add_str(s->error, "message",
                  ev.error_message.ptr ? ev.error_message : ev.reason);
    }
  }
  return rc;
}

static int load_definition(cairn_reader *r, side *s) {
  cairn_str json;
  int rc = cairn_reader_definition(r, s->info.def_hash, &json);
  if (rc == 0)
    s->def = cJSON_ParseWithLength(json.ptr, json.len);
  return rc;
}

/* The transition an event makes, into buf; "" when it makes none. */
static void transition_of(const cairn_event *ev, char *buf, size_t len) {
  int n = (int)(ev->step.len > CAIRN_STEP_NAME_MAX ? CAIRN_STEP_NAME_MAX
                                                   : ev->step.len);
  const char *step = ev->step.ptr ? ev->step.ptr : "";
  const char *what = NULL;
  buf[0] = '\0';
  switch (ev->type) {
  case CAIRN_EV_RUN_STARTED:
    snprintf(buf, len, "running");
    return;
  case CAIRN_EV_RUN_COMPLETED:
  case CAIRN_EV_RUN_FAILED:
  case CAIRN_EV_RUN_CANCELLED:
  case CAIRN_EV_RUN_TERMINATED:
    /* "run.completed" → "completed" */
    snprintf(buf, len, "%s", cairn_event_type_name(ev->type) + 4);
    return;
  case CAIRN_EV_RUN_OUTPUT_RECOMPUTED:
    snprintf(buf, len, "output recomputed");
    return;
  case CAIRN_EV_SIGNAL_RECEIVED:
    snprintf(buf, len, "signal %.*s received",
             (int)(ev->name.len > 128 ? 128 : ev->name.len),
             ev->name.ptr ? ev->name.ptr : "");
    return;
  case CAIRN_EV_STEP_COMPLETED:
    what = ev->dry_run ? "completed (dry run)" : "completed";
    break;
  case CAIRN_EV_STEP_FAILED:
    what = "failed";
    break;
  case CAIRN_EV_STEP_RETRY_SCHEDULED:
    what = "retrying";
    break;
  case CAIRN_EV_STEP_REUSED:
    what = "reused";
    break;
  case CAIRN_EV_TIMER_STARTED:
    what = "waiting";
    break;
  case CAIRN_EV_STEP_RERUN_REQUESTED:
    what = "rerun requested";
    break;
  default: /* step.started, timer.fired */
    return;
  }
  snprintf(buf, len, "step %.*s %s", n, step, what);
}

/* Transitions in the making: raw strings, before repeats collapse. */
typedef struct strlist {
  char **v;
  size_t n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    char **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return CAIRN_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if ((l->v[l->n] = strdup(s)) == NULL)
    return CAIRN_ENOMEM;
  l->n++;
  return 0;
}

/* Adds one transition; "step X retrying" replaces the "step X failed"
 * just before it, the attempt that is being retried. */
static int add_transition(strlist *l, const char *t) {
  static const char retrying[] = " retrying";
  size_t tl = strlen(t), rl = sizeof retrying - 1;
  if (l->n && tl > rl && strcmp(t + tl - rl, retrying) == 0) {
    char *last = l->v[l->n - 1];
    size_t base = tl - rl;
    if (strncmp(last, t, base) == 0 && strcmp(last + base, " failed") == 0)
      free(l->v[--l->n]);
  }
  return strlist_add(l, t);
}

/* Collapses repeats in a row ("x x x" → "x x3") into a JSON array. */
static cJSON *collapse(const strlist *l) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < l->n;) {
    size_t k = i + 1;
    while (k < l->n && strcmp(l->v[k], l->v[i]) == 0)
      k++;
    char *s = NULL;
    if (k - i > 1 && asprintf(&s, "%s x%zu", l->v[i], k - i) >= 0) {
      cJSON_AddItemToArray(arr, cJSON_CreateString(s));
      free(s);
    }
    else {
      cJSON_AddItemToArray(arr, cJSON_CreateString(l->v[i]));
    }
    i = k;
  }
  return arr;
}

static int load_transitions(cairn_reader *r, side *s) {
  cairn_history *it;
  cairn_event ev;
  strlist l = {0};
  char buf[CAIRN_STEP_NAME_MAX + 160];
  int rc = cairn_reader_history(r, s->info.key, 1, &it);
  if (rc)
    return rc;
  while ((rc = cairn_history_next(it, &ev)) == 1) {
    transition_of(&ev, buf, sizeof buf);
    if (buf[0] && (rc = add_transition(&l, buf)) != 0)
      break;
  }
  cairn_history_close(it);
  if (rc == 0)
    s->transitions = collapse(&l);
  for (size_t i = 0; i < l.n; i++)
    free(l.v[i]);
  free(l.v);
  return rc;
}

/* Finds run `id` and reads what the comparison needs; the problem in
 * err. */
static int load_side(cairn_reader *r, const char *ns, const char *id,
                     side *s, char *err, size_t errlen) {
  int rc = present_find_run(r, ns, id, &s->info, err, errlen);
  if (rc)
    return rc;
  rc = cairn_reader_run_view(r, s->info.key, &s->view);
  if (rc == 0)
    rc = cairn_reader_event(r, s->info.key, 1, &s->start);
  if (rc == 0)
    rc = load_end(r, s);
  if (rc == 0)
    rc = load_definition(r, s);
  if (rc == 0)
    rc = load_transitions(r, s);
  if (rc) {
    snprintf(err, errlen, "reading run %s: %s", s->info.run_id,
             cairn_strerror(rc));
    return rc;
  }
  s->input = json_of(s->start.input);
  if (s->input == NULL)
    s->input = cJSON_CreateNull();
  return 0;
}

/* ---------------------------------------------------------- comparing */

static cJSON *run_json(const side *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run_id", s->info.run_id);
  cJSON_AddStringToObject(o, "workflow_id", s->info.workflow_id);
  cJSON_AddStringToObject(o, "status",
                          cairn_run_status_name(s->view.status));
  cJSON_AddStringToObject(o, "definition_hash", s->info.def_hash);
  cJSON *origin = cJSON_AddObjectToObject(o, "origin");
  cJSON_AddStringToObject(origin, "kind",
                          cairn_origin_kind_name(s->start.origin_kind));
  present_add_str(origin, "parent_run_id", s->start.parent_run_id);
  present_add_str(origin, "point", s->start.origin_point);
  if (s->error)
    cJSON_AddItemToObject(o, "error", cJSON_Duplicate(s->error, true));
  else
    cJSON_AddNullToObject(o, "error");
  return o;
}

static const char *step_name(const cJSON *step) {
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(step, "name");
  return cJSON_IsString(n) ? n->valuestring : NULL;
}

/* The step called `name` in definition `def`, or NULL. */
static const cJSON *step_named(const cJSON *def, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(def, "steps")) {
    const char *n = step_name(it);
    if (n && strcmp(n, name) == 0)
      return it;
  }
  return NULL;
}

/* Names of `from`'s steps that are (want_in) or are not in `other`. */
static cJSON *names_by_presence(const cJSON *from, const cJSON *other,
                                bool want_in) {
  cJSON *arr = cJSON_CreateArray();
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(from, "steps")) {
    const char *n = step_name(it);
    if (n && (step_named(other, n) != NULL) == want_in)
      cJSON_AddItemToArray(arr, cJSON_CreateString(n));
  }
  return arr;
}

/* Steps in both definitions whose objects differ, with their diff. */
static cJSON *changed_steps(const cJSON *a, const cJSON *b) {
  cJSON *arr = cJSON_CreateArray();
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(b, "steps")) {
    const char *n = step_name(it);
    const cJSON *old = n ? step_named(a, n) : NULL;
    if (old == NULL || present_json_equal(old, it))
      continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "step", n);
    cJSON_AddItemToObject(o, "diff", present_json_diff(old, it));
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* The diff of two definitions without their steps. */
static cJSON *field_diff(const cJSON *a, const cJSON *b) {
  cJSON *x = cJSON_Duplicate(a, true), *y = cJSON_Duplicate(b, true);
  cJSON_DeleteItemFromObjectCaseSensitive(x, "steps");
  cJSON_DeleteItemFromObjectCaseSensitive(y, "steps");
  cJSON *d = present_json_diff(x, y);
  cJSON_Delete(x);
  cJSON_Delete(y);
  return d;
}

static cJSON *definition_json(const side *a, const side *b) {
  cJSON *o = cJSON_CreateObject();
  bool same_hash = strcmp(a->info.def_hash, b->info.def_hash) == 0;
  const cJSON *da = same_hash ? NULL : a->def;
  const cJSON *db = same_hash ? NULL : b->def;
  cJSON *added = names_by_presence(db, da, false);
  cJSON *removed = names_by_presence(da, db, false);
  cJSON *changed = changed_steps(da, db);
  cJSON *fields = same_hash ? cJSON_CreateArray() : field_diff(da, db);
  /* The common steps in each one's order: equal unless reordered. */
  cJSON *order_a = names_by_presence(da, db, true);
  cJSON *order_b = names_by_presence(db, da, true);
  bool reordered = !present_json_equal(order_a, order_b);
  cJSON_Delete(order_a);
  cJSON_Delete(order_b);
  cJSON_AddBoolToObject(o, "same", cJSON_GetArraySize(added) == 0 &&
                        cJSON_GetArraySize(removed) == 0 &&
                        cJSON_GetArraySize(changed) == 0 &&
                        cJSON_GetArraySize(fields) == 0 && !reordered);
  cJSON_AddItemToObject(o, "added", added);
  cJSON_AddItemToObject(o, "removed", removed);
  cJSON_AddItemToObject(o, "changed", changed);
  cJSON_AddItemToObject(o, "fields", fields);
  cJSON_AddBoolToObject(o, "reordered", reordered);
  return o;
}

/* Adds `name` to the array of names unless it is there. */
static void add_name(cJSON *names, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    if (strcmp(it->valuestring, name) == 0)
      return;
  }
  cJSON_AddItemToArray(names, cJSON_CreateString(name));
}

static int on_view_name(void *names, const cairn_step_view *v) {
  char *name = strndup(v->name.ptr, v->name.len);
  if (name == NULL)
    return CAIRN_ENOMEM;
  add_name(names, name);
  free(name);
  return 0;
}

/* The union of step names in comparison order (see the top comment).
 * Names are matched linearly: steps per run are bounded by the
 * definition, hundreds at most. */
static int step_names(cairn_reader *r, const side *a, const side *b,
                      cJSON **out) {
  cJSON *names = cJSON_CreateArray();
  const side *sides[2] = {b, a};
  for (int k = 0; k < 2; k++) {
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sides[k]->def,
                                                            "steps")) {
      if (step_name(it))
        add_name(names, step_name(it));
    }
  }
  int rc = cairn_reader_steps(r, b->info.key, on_view_name, names);
  if (rc == 0)
    rc = cairn_reader_steps(r, a->info.key, on_view_name, names);
  if (rc)
    cJSON_Delete(names);
  *out = rc ? NULL : names;
  return rc;
}

/* The error of the step's latest attempt, or JSON null. */
static cJSON *step_error(cairn_reader *r, const side *s,
                         const cairn_step_view *v) {
  cairn_event ev;
  if (v->latest.end_seq == 0 ||
      cairn_reader_event(r, s->info.key, v->latest.end_seq, &ev) != 0 ||
      ev.type != CAIRN_EV_STEP_FAILED)
    return cJSON_CreateNull();
  cJSON *e = cJSON_CreateObject();
  present_add_str(e, "code", ev.error_code);
  present_add_str(e, "message", ev.error_message);
  return e;
}

/* The step's visible output: the step.completed its view points at,
 * resolved in case it is a step.reused. NULL when it has none. */
static int step_output(cairn_reader *r, const cairn_step_view *v,
                       cJSON **out) {
  cairn_event ev, src;
  *out = NULL;
  if (v->out_seq == 0)
    return 0;
  int rc = cairn_reader_event(r, v->out_run, v->out_seq, &ev);
  if (rc == 0)
    rc = cairn_reader_resolve(r, &ev, &src);
  if (rc == 0)
    *out = src.output.ptr ? json_of(src.output) : cJSON_CreateNull();
  return rc;
}

/* Step `name` as run `s` has it: {status, attempts, duration_ms, reused,
 * error} into *out, its visible output into *output (NULL if none). */
static int step_side(cairn_reader *r, const side *s, const char *name,
                     cJSON **out, cJSON **output) {
  cairn_step_view v;
  *output = NULL;
  int rc = cairn_reader_step_view(r, s->info.key, name, &v);
  if (rc && rc != CAIRN_ENOTFOUND)
    return rc;
  cJSON *o = *out = cJSON_CreateObject();
  if (rc == CAIRN_ENOTFOUND) {
    cJSON_AddStringToObject(o, "status", step_named(s->def, name)
                                             ? "pending" : "absent");
    cJSON_AddNumberToObject(o, "attempts", 0);
    cJSON_AddNullToObject(o, "duration_ms");
    cJSON_AddBoolToObject(o, "reused", false);
    cJSON_AddNullToObject(o, "error");
    return 0;
  }
  cJSON_AddStringToObject(o, "status", cairn_step_status_name(v.status));
  cJSON_AddNumberToObject(o, "attempts", v.attempts);
  if (v.latest.attempt && v.latest.end_seq)
    cJSON_AddNumberToObject(o, "duration_ms",
                            (double)v.latest.duration_us / 1e3);
  else
    cJSON_AddNullToObject(o, "duration_ms");
  cJSON_AddBoolToObject(o, "reused", v.reused);
  cJSON_AddItemToObject(o, "error", step_error(r, s, &v));
  return step_output(r, &v, output);
}

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* The rule for "same" in the top comment. */
static bool step_same(const cJSON *a, const cJSON *b, const cJSON *diff) {
  bool reused = cJSON_IsTrue(get(a, "reused")) ||
                cJSON_IsTrue(get(b, "reused"));
  return cJSON_GetArraySize(diff) == 0 &&
         present_json_equal(get(a, "status"), get(b, "status")) &&
         present_json_equal(get(a, "error"), get(b, "error")) &&
         (reused || present_json_equal(get(a, "attempts"), get(b, "attempts")));
}

static int step_json(cairn_reader *r, const side *a, const side *b,
                     const char *name, cJSON *steps) {
  cJSON *sa = NULL, *sb = NULL, *oa = NULL, *ob = NULL;
  int rc = step_side(r, a, name, &sa, &oa);
  if (rc == 0)
    rc = step_side(r, b, name, &sb, &ob);
  if (rc == 0) {
    cJSON *o = cJSON_CreateObject();
    cJSON *diff = present_json_diff(oa, ob);
    bool same = step_same(sa, sb, diff);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddItemToObject(o, "a", sa);
    cJSON_AddItemToObject(o, "b", sb);
    cJSON_AddItemToObject(o, "output", diff);
    cJSON_AddBoolToObject(o, "same", same);
    cJSON_AddItemToArray(steps, o);
    sa = sb = NULL;
  }
  cJSON_Delete(sa);
  cJSON_Delete(sb);
  cJSON_Delete(oa);
  cJSON_Delete(ob);
  return rc;
}

static int steps_json(cairn_reader *r, const side *a, const side *b,
                      cJSON **out) {
  cJSON *names;
  int rc = step_names(r, a, b, &names);
  if (rc)
    return rc;
  cJSON *steps = cJSON_CreateArray();
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    if ((rc = step_json(r, a, b, it->valuestring, steps)) != 0)
      break;
  }
  cJSON_Delete(names);
  if (rc)
    cJSON_Delete(steps);
  *out = rc ? NULL : steps;
  return rc;
}

static bool all_steps_same(const cJSON *steps) {
  const cJSON *it;
  cJSON_ArrayForEach(it, steps) {
    if (!cJSON_IsTrue(get(it, "same")))
      return false;
  }
  return true;
}

/* ------------------------------------------------------------ assets */

/* What each run materialized, by "KEY" or "KEY [PARTITION]". */
static cJSON *assets_by_name(cairn_reader *r, const side *s) {
  cJSON *arr = NULL, *by = cJSON_CreateObject(), *a;
  if (present_run_assets(r, s->info.key, &arr) != 0)
    return by;
  cJSON_ArrayForEach(a, arr) {
    const cJSON *k = get(a, "key"), *p = get(a, "partition");
    char name[CAIRN_ASSET_KEY_MAX + CAIRN_PARTITION_MAX + 4];
    snprintf(name, sizeof name, "%s%s%s%s", k->valuestring,
             cJSON_IsString(p) ? " [" : "",
             cJSON_IsString(p) ? p->valuestring : "",
             cJSON_IsString(p) ? "]" : "");
    cJSON *brief = cJSON_CreateObject();
    static const char *const fields[] = {"hash", "size_bytes", "max_age_s",
                                         "materialized", "stale"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      const cJSON *v = get(a, fields[i]);
      if (v)
        cJSON_AddItemToObject(brief, fields[i], cJSON_Duplicate(v, 1));
    }
    cJSON_AddItemToObject(by, name, brief);
  }
  cJSON_Delete(arr);
  return by;
}

/* Asset deltas, in the shape of a JSON diff ({path, change, before,
 * after}, path the asset's name): added, removed, and changed in hash,
 * size or max_age (when each was made is not a change). */
static cJSON *assets_json(cairn_reader *r, const side *a, const side *b) {
  cJSON *in_a = assets_by_name(r, a), *in_b = assets_by_name(r, b);
  cJSON *out = cJSON_CreateArray(), *it;
  static const char *const compared[] = {"hash", "size_bytes", "max_age_s"};
  cJSON_ArrayForEach(it, in_a) {
    cJSON *other = cJSON_GetObjectItemCaseSensitive(in_b, it->string);
    bool same = other != NULL;
    for (size_t i = 0; same && i < sizeof compared / sizeof compared[0]; i++)
      same = present_json_equal(get(it, compared[i]),
                                get(other, compared[i]));
    if (same)
      continue;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "path", it->string);
    cJSON_AddStringToObject(d, "change", other ? "changed" : "removed");
    cJSON_AddItemToObject(d, "before", cJSON_Duplicate(it, 1));
    if (other)
      cJSON_AddItemToObject(d, "after", cJSON_Duplicate(other, 1));
    cJSON_AddItemToArray(out, d);
  }
  cJSON_ArrayForEach(it, in_b) {
    if (cJSON_GetObjectItemCaseSensitive(in_a, it->string))
      continue;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "path", it->string);
    cJSON_AddStringToObject(d, "change", "added");
    cJSON_AddItemToObject(d, "after", cJSON_Duplicate(it, 1));
    cJSON_AddItemToArray(out, d);
  }
  cJSON_Delete(in_a);
  cJSON_Delete(in_b);
  return out;
}

/* The warning: the base run (A) produced assets that are stale now. */
static cJSON *stale_warning(cairn_reader *r, const side *a) {
  char *json = NULL;
  size_t n = 0;
  if (cairn_run_stale_assets(r, a->info.key, 0, &json, &n) != 0 || n == 0)
    return cJSON_CreateNull();
  cJSON *w = cJSON_CreateObject();
  char msg[200];
  snprintf(msg, sizeof msg, "run %s produced %zu asset%s that %s stale now; "
           "replaying it needs --allow-stale-assets", a->info.run_id, n,
           n == 1 ? "" : "s", n == 1 ? "is" : "are");
  cJSON_AddStringToObject(w, "run_id", a->info.run_id);
  cJSON_AddStringToObject(w, "message", msg);
  cJSON *list = cJSON_Parse(json);
  cJSON_AddItemToObject(w, "assets", list ? list : cJSON_CreateArray());
  free(json);
  return w;
}

/* The whole comparison as the --format json document. */
static int compare(cairn_reader *r, const side *a, const side *b,
                   cJSON **out) {
  cJSON *steps;
  int rc = steps_json(r, a, b, &steps);
  if (rc)
    return rc;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddItemToObject(doc, "run_a", run_json(a));
  cJSON_AddItemToObject(doc, "run_b", run_json(b));
  cJSON *input = present_json_diff(a->input, b->input);
  cJSON_AddItemToObject(doc, "input", input);
  cJSON *def = definition_json(a, b);
  cJSON_AddItemToObject(doc, "definition", def);
  cJSON_AddItemToObject(doc, "steps", steps);
  cJSON *t = cJSON_AddObjectToObject(doc, "transitions");
  cJSON_AddItemToObject(t, "a", cJSON_Duplicate(a->transitions, true));
  cJSON_AddItemToObject(t, "b", cJSON_Duplicate(b->transitions, true));
  cJSON_AddBoolToObject(t, "same",
                        present_json_equal(a->transitions, b->transitions));
  cJSON *output = present_json_diff(a->output, b->output);
  cJSON_AddItemToObject(doc, "output", output);
  cJSON *assets = assets_json(r, a, b);
  cJSON_AddItemToObject(doc, "assets", assets);
  cJSON_AddItemToObject(doc, "stale_warning", stale_warning(r, a));
  cJSON_AddBoolToObject(
      doc, "identical",
      cJSON_GetArraySize(input) == 0 && cJSON_IsTrue(get(def, "same")) &&
          cJSON_GetArraySize(assets) == 0 &&
          all_steps_same(steps) && cJSON_GetArraySize(output) == 0 &&
          a->view.status == b->view.status &&
          present_json_equal(a->error, b->error));
  *out = doc;
  return 0;
}

int present_diff(cairn_reader *r, const char *ns, const char *id_a,
                 const char *id_b, cJSON **doc, char *err, size_t errlen) {
  side a = {0}, b = {0};
  *doc = NULL;
  int rc = load_side(r, ns, id_a, &a, err, errlen);
  if (rc == 0)
    rc = load_side(r, ns, id_b, &b, err, errlen);
  if (rc == 0 && (rc = compare(r, &a, &b, doc)) != 0)
    snprintf(err, errlen, "comparing the runs: %s", cairn_strerror(rc));
  side_free(&a);
  side_free(&b);
  return rc;
}

