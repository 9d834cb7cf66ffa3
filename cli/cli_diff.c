/*
 * cli_diff.c — `cairn diff RUN_A RUN_B`: what differs between two runs.
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
#include "cli.h"
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
      cli_add_str(s->error, "code", ev.error_code);
      cli_add_str(s->error, "message",
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

/* Finds run `id` and reads what the comparison needs. Returns an exit
 * status (0 = go on); the problem is printed. */
static int load_side(const cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                     const char *id, side *s) {
  int rc = cli_find_run(ctx, j, r, id, &s->info);
  if (rc)
    return cairn_err_exit_code(rc);
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
    char what[80];
    snprintf(what, sizeof what, "reading run %s", s->info.run_id);
    return cli_fail(rc, j, what);
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
  cli_add_str(origin, "parent_run_id", s->start.parent_run_id);
  cli_add_str(origin, "point", s->start.origin_point);
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
    if (old == NULL || cli_json_equal(old, it))
      continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "step", n);
    cJSON_AddItemToObject(o, "diff", cli_json_diff(old, it));
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* The diff of two definitions without their steps. */
static cJSON *field_diff(const cJSON *a, const cJSON *b) {
  cJSON *x = cJSON_Duplicate(a, true), *y = cJSON_Duplicate(b, true);
  cJSON_DeleteItemFromObjectCaseSensitive(x, "steps");
  cJSON_DeleteItemFromObjectCaseSensitive(y, "steps");
  cJSON *d = cli_json_diff(x, y);
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
  bool reordered = !cli_json_equal(order_a, order_b);
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
  cli_add_str(e, "code", ev.error_code);
  cli_add_str(e, "message", ev.error_message);
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
         cli_json_equal(get(a, "status"), get(b, "status")) &&
         cli_json_equal(get(a, "error"), get(b, "error")) &&
         (reused || cli_json_equal(get(a, "attempts"), get(b, "attempts")));
}

static int step_json(cairn_reader *r, const side *a, const side *b,
                     const char *name, cJSON *steps) {
  cJSON *sa = NULL, *sb = NULL, *oa = NULL, *ob = NULL;
  int rc = step_side(r, a, name, &sa, &oa);
  if (rc == 0)
    rc = step_side(r, b, name, &sb, &ob);
  if (rc == 0) {
    cJSON *o = cJSON_CreateObject();
    cJSON *diff = cli_json_diff(oa, ob);
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
  cJSON *input = cli_json_diff(a->input, b->input);
  cJSON_AddItemToObject(doc, "input", input);
  cJSON *def = definition_json(a, b);
  cJSON_AddItemToObject(doc, "definition", def);
  cJSON_AddItemToObject(doc, "steps", steps);
  cJSON *t = cJSON_AddObjectToObject(doc, "transitions");
  cJSON_AddItemToObject(t, "a", cJSON_Duplicate(a->transitions, true));
  cJSON_AddItemToObject(t, "b", cJSON_Duplicate(b->transitions, true));
  cJSON_AddBoolToObject(t, "same",
                        cli_json_equal(a->transitions, b->transitions));
  cJSON *output = cli_json_diff(a->output, b->output);
  cJSON_AddItemToObject(doc, "output", output);
  cJSON_AddBoolToObject(
      doc, "identical",
      cJSON_GetArraySize(input) == 0 && cJSON_IsTrue(get(def, "same")) &&
          all_steps_same(steps) && cJSON_GetArraySize(output) == 0 &&
          a->view.status == b->view.status &&
          cli_json_equal(a->error, b->error));
  *out = doc;
  return 0;
}

/* ----------------------------------------------------------- printing */

/* Values and lists are cut so that one line stays readable; the JSON
 * form has everything. */
#define TEXT_VALUE_MAX 60
#define TEXT_DIFFS_MAX 6
#define TEXT_TRANSITIONS_MAX 12

static void print_value(const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  size_t n = s ? strlen(s) : 0;
  if (n > TEXT_VALUE_MAX) {
    n = TEXT_VALUE_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--; /* never cut a UTF-8 character */
    printf("%.*s...", (int)n, s);
  }
  else {
    fputs(s ? s : "?", stdout);
  }
  cJSON_free(s);
}

/* ".a: 1 -> 2, .b added 3, .c removed (was 4)" */
static void print_diffs(const cJSON *diffs) {
  int i = 0, n = cJSON_GetArraySize(diffs);
  const cJSON *d;
  cJSON_ArrayForEach(d, diffs) {
    if (i == TEXT_DIFFS_MAX) {
      printf(", and %d more", n - i);
      break;
    }
    const char *change = get(d, "change")->valuestring;
    printf("%s%s", i++ ? ", " : "", get(d, "path")->valuestring);
    if (strcmp(change, "added") == 0) {
      fputs(" added ", stdout);
      print_value(get(d, "after"));
    }
    else if (strcmp(change, "removed") == 0) {
      fputs(" removed (was ", stdout);
      print_value(get(d, "before"));
      putchar(')');
    }
    else {
      fputs(": ", stdout);
      print_value(get(d, "before"));
      fputs(" -> ", stdout);
      print_value(get(d, "after"));
    }
  }
}

static void print_section(const char *label, const cJSON *diffs) {
  printf("%s: ", label);
  if (cJSON_GetArraySize(diffs) == 0)
    fputs("identical", stdout);
  else
    print_diffs(diffs);
  putchar('\n');
}

static void print_names(const cJSON *names, const char *what,
                        const char **sep) {
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    printf("%sstep %s %s", *sep, it->valuestring, what);
    *sep = "; ";
  }
}

static void print_definition(const cJSON *def) {
  const char *sep = "";
  fputs("definition: ", stdout);
  if (cJSON_IsTrue(get(def, "same"))) {
    puts("identical");
    return;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, get(def, "changed")) {
    printf("%sstep %s changed (", sep, get(it, "step")->valuestring);
    print_diffs(get(it, "diff"));
    putchar(')');
    sep = "; ";
  }
  print_names(get(def, "added"), "added", &sep);
  print_names(get(def, "removed"), "removed", &sep);
  if (cJSON_GetArraySize(get(def, "fields"))) {
    printf("%s", sep);
    print_diffs(get(def, "fields"));
    sep = "; ";
  }
  if (cJSON_IsTrue(get(def, "reordered")))
    printf("%ssteps reordered", sep);
  putchar('\n');
}

/* "completed (2 attempts, 15 ms)", "completed (reused)", "pending" */
static void print_step_side(const cJSON *s) {
  const char *status = get(s, "status")->valuestring;
  int attempts = get(s, "attempts")->valueint;
  const cJSON *ms = get(s, "duration_ms");
  const cJSON *code = get(get(s, "error"), "code");
  fputs(status, stdout);
  if (cJSON_IsTrue(get(s, "reused"))) {
    fputs(" (reused)", stdout);
    return;
  }
  if (attempts == 0)
    return;
  printf(" (%d attempt%s", attempts, attempts == 1 ? "" : "s");
  if (cJSON_IsNumber(ms))
    printf(ms->valuedouble < 10 ? ", %.1f ms" : ", %.0f ms",
           ms->valuedouble);
  if (cJSON_IsString(code))
    printf(", %s", code->valuestring);
  putchar(')');
}

static void print_steps(const cJSON *steps) {
  const cJSON *it;
  int shown = 0;
  cJSON_ArrayForEach(it, steps) {
    if (cJSON_IsTrue(get(it, "same")))
      continue;
    printf("step %s: ", get(it, "name")->valuestring);
    print_step_side(get(it, "a"));
    fputs(" -> ", stdout);
    print_step_side(get(it, "b"));
    if (cJSON_GetArraySize(get(it, "output"))) {
      fputs("; output: ", stdout);
      print_diffs(get(it, "output"));
    }
    putchar('\n');
    shown++;
  }
  if (shown == 0)
    puts("steps: identical");
}

static void print_list(const cJSON *arr, int from) {
  int n = cJSON_GetArraySize(arr);
  for (int i = from; i < n; i++) {
    if (i - from == TEXT_TRANSITIONS_MAX) {
      printf(", and %d more", n - i);
      break;
    }
    printf("%s%s", i > from ? ", " : "",
           cJSON_GetArrayItem(arr, i)->valuestring);
  }
  if (from >= n)
    fputs("(nothing more)", stdout);
  putchar('\n');
}

/* The common start once, then where each run went. */
static void print_transitions(const cJSON *t) {
  const cJSON *a = get(t, "a"), *b = get(t, "b");
  if (cJSON_IsTrue(get(t, "same"))) {
    puts("transitions: identical");
    return;
  }
  int common = 0;
  const cJSON *x = a->child, *y = b->child;
  for (; x && y && strcmp(x->valuestring, y->valuestring) == 0;
       x = x->next, y = y->next)
    common++;
  printf("transitions: %d in common, then\n  a: ", common);
  print_list(a, common);
  fputs("  b: ", stdout);
  print_list(b, common);
}

static void print_run(const char *label, const cJSON *run) {
  const cJSON *origin = get(run, "origin");
  const cJSON *parent = get(origin, "parent_run_id");
  printf("%s: %s  workflow %s  %s", label, get(run, "run_id")->valuestring,
         get(run, "workflow_id")->valuestring,
         get(run, "status")->valuestring);
  if (cJSON_IsString(parent))
    printf("  (%s of %s)", get(origin, "kind")->valuestring,
           parent->valuestring);
  putchar('\n');
}

static const char *error_message(const cJSON *run) {
  const cJSON *m = get(get(run, "error"), "message");
  return cJSON_IsString(m) ? m->valuestring : "none";
}

static void print_end(const cJSON *doc) {
  const cJSON *a = get(doc, "run_a"), *b = get(doc, "run_b");
  const char *sa = get(a, "status")->valuestring;
  const char *sb = get(b, "status")->valuestring;
  if (strcmp(sa, sb) == 0)
    printf("status: identical (%s)\n", sa);
  else
    printf("status: %s -> %s\n", sa, sb);
  if (!cli_json_equal(get(a, "error"), get(b, "error")))
    printf("error: %s -> %s\n", error_message(a), error_message(b));
  print_section("output", get(doc, "output"));
}

static void print_text(const cJSON *doc) {
  print_run("a", get(doc, "run_a"));
  print_run("b", get(doc, "run_b"));
  print_section("input", get(doc, "input"));
  print_definition(get(doc, "definition"));
  print_steps(get(doc, "steps"));
  print_transitions(get(doc, "transitions"));
  print_end(doc);
}

/* ------------------------------------------------------------ command */

int cli_diff(cli_ctx *ctx, int argc, char **argv) {
  if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
    return cli_usage_error("usage: cairn diff RUN_A RUN_B [--format json]"
                           " (run ids or workflow ids)");
  cairn_journal *j;
  cairn_reader *r;
  side a = {0}, b = {0};
  cJSON *doc = NULL;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) != 0) {
    rc = cli_fail(rc, j, "reading the journal");
    goto out_close;
  }
  int status = load_side(ctx, j, r, argv[1], &a);
  if (status == 0)
    status = load_side(ctx, j, r, argv[2], &b);
  if (status == 0 && (rc = compare(r, &a, &b, &doc)) != 0)
    status = cli_fail(rc, j, "comparing the runs");
  if (status == 0 && !ctx->json)
    print_text(doc);
  if (status == 0 && ctx->json)
    cli_print_json(doc); /* frees doc */
  else
    cJSON_Delete(doc);
  side_free(&a);
  side_free(&b);
  cairn_reader_end(r);
  rc = status;
out_close:
  cairn_journal_close(j);
  return rc;
}
