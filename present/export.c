/*
 * export.c — one run as a document to share (`cairn export`, GET
 * /v1/runs/{id}/export; docs/cli.md, "export").
 *
 * The document holds the run's input, every step of its definition in
 * definition order with its visible output, the final output, and for
 * each step what produced the output: the rendered input of the attempt
 * that produced it, its score when the step has a `check`, and for llm
 * steps what `cairn show` says of that attempt (model, prompt, system
 * text, tokens, cost, finish reason, request id).
 *
 * A step's visible output is resolved through its view's out_run/out_seq:
 * a reused step shows the output of the run that did the work, and the
 * attempt that produced it is looked up in that run (its input, prompt
 * and score live there). The same lookup scores runs for `cairn
 * backtest`.
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------- shared helpers */

typedef struct find_attempt {
  uint32_t end_seq;
  cairn_attempt_view *out;
  bool found;
} find_attempt;

static int on_find(void *p, const cairn_attempt_view *a) {
  find_attempt *f = p;
  if (a->end_seq != f->end_seq || f->found)
    return 0;
  *f->out = *a;
  f->found = true;
  return 1;
}

int present_visible_attempt(cairn_reader *r, const cairn_step_view *s,
                        uint64_t *src_key, cairn_attempt_view *out) {
  cairn_event ev;
  char name[CAIRN_STEP_NAME_MAX + 1];
  if (s->out_seq == 0)
    return CAIRN_ENOTFOUND;
  *src_key = s->out_run;
  if (!s->reused && s->latest.end_seq == s->out_seq) {
    *out = s->latest;
    return 0;
  }
  /* The completion names the step as that run knew it (a replay may
   * have renamed it). */
  int rc = cairn_reader_event(r, s->out_run, s->out_seq, &ev);
  if (rc)
    return rc;
  if (ev.step.ptr == NULL || ev.step.len > CAIRN_STEP_NAME_MAX)
    return CAIRN_ENOTFOUND;
  memcpy(name, ev.step.ptr, ev.step.len);
  name[ev.step.len] = '\0';
  find_attempt f = {s->out_seq, out, false};
  rc = cairn_reader_attempts(r, s->out_run, name, on_find, &f);
  return rc ? rc : f.found ? 0 : CAIRN_ENOTFOUND;
}

bool present_step_score(cairn_reader *r, const cairn_step_view *s,
                    double *score) {
  uint64_t src;
  cairn_attempt_view a;
  if (present_visible_attempt(r, s, &src, &a) == 0 && a.scored) {
    *score = a.score;
    return true;
  }
  if (s->latest.attempt && s->latest.scored) {
    *score = s->latest.score;
    return true;
  }
  return false;
}

typedef struct step_names {
  char (*names)[CAIRN_STEP_NAME_MAX + 1];
  size_t n, cap;
} step_names;

static int on_step_name(void *p, const cairn_step_view *s) {
  step_names *l = p;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    void *q = realloc(l->names, cap * sizeof *l->names);
    if (q == NULL)
      return CAIRN_ENOMEM;
    l->names = q;
    l->cap = cap;
  }
  size_t len = s->name.len > CAIRN_STEP_NAME_MAX ? CAIRN_STEP_NAME_MAX
                                                 : s->name.len;
  memcpy(l->names[l->n], s->name.ptr, len);
  l->names[l->n++][len] = '\0';
  return 0;
}

int present_run_score(cairn_reader *r, uint64_t key, int status, double *score,
                  size_t *n_scored) {
  step_names l = {0};
  double sum = 0;
  size_t n = 0;
  /* Names first: the views are read again outside the iteration. */
  int rc = cairn_reader_steps(r, key, on_step_name, &l);
  for (size_t i = 0; rc == 0 && i < l.n; i++) {
    cairn_step_view s;
    double v;
    if (cairn_reader_step_view(r, key, l.names[i], &s) == 0 &&
        present_step_score(r, &s, &v)) {
      sum += v;
      n++;
    }
  }
  free(l.names);
  if (rc)
    return rc;
  *n_scored = n;
  *score = n ? sum / (double)n : status == CAIRN_RUN_COMPLETED ? 1 : 0;
  return 0;
}

/* --------------------------------------------------------- the JSON */

static cJSON *parse_str(cairn_str s) {
  if (s.ptr == NULL)
    return NULL;
  return cJSON_ParseWithLength(s.ptr, s.len);
}

static cJSON *step_json(const char *home, cairn_reader *r,
                        const cairn_run_info *info, bool run_final,
                        const cJSON *def_step) {
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(def_step, "name");
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(def_step, "kind");
  const char *name = nm->valuestring;
  cairn_step_view s;
  cairn_attempt_view a = {0};
  cairn_event out = {0}, start = {0}, end = {0};
  uint64_t src = info->key;
  bool known = cairn_reader_step_view(r, info->key, name, &s) == 0;
  bool visible = known && present_visible_attempt(r, &s, &src, &a) == 0;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "kind", cJSON_IsString(kind)
                                         ? kind->valuestring : "");
  const char *status = known ? cairn_step_status_name(s.status) : "pending";
  if (known && run_final && (s.status == CAIRN_STEP_RUNNING ||
                             s.status == CAIRN_STEP_WAITING))
    status = "stopped";
  cJSON_AddStringToObject(o, "status", status);
  cJSON_AddNumberToObject(o, "attempts", known ? s.attempts : 0);
  cJSON_AddBoolToObject(o, "reused", known && s.reused);
  cJSON_AddBoolToObject(o, "dry_run", known && s.dry_run);
  if (known && s.out_seq)
    cairn_reader_event(r, s.out_run, s.out_seq, &out);
  if (known && s.reused && out.type) {
    cairn_run_info si;
    cJSON *so = cJSON_AddObjectToObject(o, "source");
    if (cairn_reader_run_by_key(r, s.out_run, &si) == 0)
      cJSON_AddStringToObject(so, "run_id", si.run_id);
    cJSON_AddNumberToObject(so, "seq", s.out_seq);
  }
  /* The attempt that made the output, else the latest one. */
  if (visible) {
    cairn_reader_event(r, src, a.start_seq, &start);
    end = out;
  }
  else if (known && s.latest.attempt) {
    cairn_reader_event(r, info->key, s.latest.start_seq, &start);
    if (s.latest.end_seq)
      cairn_reader_event(r, info->key, s.latest.end_seq, &end);
  }
  cJSON_AddNumberToObject(o, "attempt", visible ? a.attempt
                                        : known ? s.latest.attempt : 0);
  cJSON *input = parse_str(start.input);
  cJSON_AddItemToObject(o, "input", input ? input : cJSON_CreateNull());
  cJSON *output = out.type ? parse_str(out.output) : NULL;
  cJSON_AddItemToObject(o, "output", output ? output : cJSON_CreateNull());
  double score;
  if (known && present_step_score(r, &s, &score))
    cJSON_AddNumberToObject(o, "score", score);
  else
    cJSON_AddNullToObject(o, "score");
  if (!visible && end.type == CAIRN_EV_STEP_FAILED) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    present_add_str(e, "code", end.error_code);
    present_add_str(e, "message", end.error_message);
  }
  else {
    cJSON_AddNullToObject(o, "error");
  }
  /* What `cairn show` says of the attempt: model, prompt, system,
   * tokens, cost, finish reason, request id. */
  if (present_llm_step(def_step) && start.type)
    cJSON_AddItemToObject(o, "llm", present_llm_attempt(home, &start,
                                                    &end));
  else
    cJSON_AddNullToObject(o, "llm");
  return o;
}

cJSON *present_export(const char *home, cairn_reader *r,
                          const cairn_run_info *info, int *rc) {
  cairn_run_view v;
  cairn_event start = {0}, end = {0};
  cairn_str def_text;
  char ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version = 0;
  if ((*rc = cairn_reader_run_view(r, info->key, &v)) != 0 ||
      (*rc = cairn_reader_event(r, info->key, 1, &start)) != 0 ||
      (*rc = cairn_reader_definition(r, info->def_hash, &def_text)) != 0)
    return NULL;
  uint32_t last = v.output_seq ? v.output_seq : v.error_seq;
  if (last && (*rc = cairn_reader_event(r, info->key, last, &end)) != 0)
    return NULL;
  cJSON *def = cJSON_ParseWithLength(def_text.ptr, def_text.len);
  bool named = cairn_reader_definition_of_hash(r, info->def_hash, ns, name,
                                               &version) == 0;
  bool final = cairn_run_status_is_final(v.status) && v.rerun_seq == 0;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", info->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", info->run_id);
  cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v.status));
  cJSON *d = cJSON_AddObjectToObject(doc, "definition");
  const cJSON *dn = cJSON_GetObjectItemCaseSensitive(def, "name");
  cJSON_AddStringToObject(d, "name", named ? name : cJSON_IsString(dn)
                                                  ? dn->valuestring : "");
  if (named)
    cJSON_AddNumberToObject(d, "version", version);
  else
    cJSON_AddNullToObject(d, "version");
  cJSON_AddStringToObject(d, "hash", info->def_hash);
  cJSON *origin = cJSON_AddObjectToObject(doc, "origin");
  cJSON_AddStringToObject(origin, "kind",
                          cairn_origin_kind_name(start.origin_kind));
  present_add_str(origin, "parent_run_id", start.parent_run_id);
  present_add_str(origin, "reason", start.reason);
  char t[40];
  present_time(v.started_us, t, sizeof t);
  cJSON_AddStringToObject(doc, "started", t);
  cJSON *in = parse_str(start.input);
  cJSON_AddItemToObject(doc, "input", in ? in : cJSON_CreateNull());
  cJSON *steps = cJSON_AddArrayToObject(doc, "steps");
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(def, "steps")) {
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "name")))
      cJSON_AddItemToArray(steps, step_json(home, r, info, final, it));
  }
  cJSON_Delete(def);
  double score;
  size_t n_scored = 0;
  if (present_run_score(r, info->key, v.status, &score, &n_scored) == 0 &&
      n_scored)
    cJSON_AddNumberToObject(doc, "score", score);
  else
    cJSON_AddNullToObject(doc, "score");
  cJSON *out = v.output_seq ? parse_str(end.output) : NULL;
  cJSON_AddItemToObject(doc, "output", out ? out : cJSON_CreateNull());
  if (v.error_seq && !v.output_seq) {
    cJSON *e = cJSON_AddObjectToObject(doc, "error");
    present_add_str(e, "code", end.error_code);
    present_add_str(e, "message", end.error_message.ptr ? end.error_message
                                                    : end.reason);
  }
  else {
    cJSON_AddNullToObject(doc, "error");
  }
  return doc;
}

