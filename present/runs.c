/*
 * runs.c — the objects of runs, their lineage, audit records, workflows,
 * and what starting, forking and control actions answer (present.h).
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int present_find_run(cairn_reader *r, const char *ns, const char *id,
                     cairn_run_info *out, char *err, size_t errlen) {
  int rc = cairn_reader_run_by_id(r, id, out);
  if (rc != CAIRN_ENOTFOUND)
    goto done;
  cairn_workflow_info wf;
  rc = cairn_reader_workflow(r, ns, id, &wf);
  if (rc == 0)
    rc = cairn_reader_run_by_key(r, wf.current, out);
  if (rc == CAIRN_ENOTFOUND) {
    snprintf(err, errlen, "no run or workflow has id %s in namespace %s; "
             "check the id and the namespace", id, ns);
    return rc;
  }
done:
  if (rc)
    snprintf(err, errlen, "finding run %s: %s", id, cairn_strerror(rc));
  return rc;
}

cJSON *present_status(const cairn_run_info *info, const cairn_run_view *v) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", info->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", info->run_id);
  cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v->status));
  cJSON_AddNumberToObject(doc, "steps_started", v->n_steps);
  cJSON_AddNumberToObject(doc, "steps_completed", v->n_completed);
  cJSON_AddNumberToObject(doc, "attempts", v->n_attempts);
  cJSON_AddNumberToObject(doc, "events", v->last_seq);
  cJSON_AddStringToObject(doc, "origin",
                          cairn_origin_kind_name(info->origin_kind));
  return doc;
}

int present_result(cairn_reader *r, const cairn_run_info *info,
                   cJSON **out) {
  cairn_run_view v;
  cairn_event ev = {0};
  *out = NULL;
  int rc = cairn_reader_run_view(r, info->key, &v);
  /* A failed run may carry a recomputed output (a single-step rerun):
   * its result is still its failure. */
  bool ok = rc == 0 && v.status == CAIRN_RUN_COMPLETED;
  uint32_t seq = rc ? 0 : ok ? v.output_seq : v.error_seq;
  if (rc == 0 && seq && v.status != CAIRN_RUN_RUNNING)
    rc = cairn_reader_event(r, info->key, seq, &ev);
  if (rc)
    return rc;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", info->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", info->run_id);
  cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v.status));
  if (ok && ev.output.ptr)
    present_add_json_text(doc, "output", ev.output);
  else
    cJSON_AddNullToObject(doc, "output");
  if (!ok && v.status != CAIRN_RUN_RUNNING) {
    cJSON *e = cJSON_AddObjectToObject(doc, "error");
    present_add_str(e, "code", ev.error_code);
    present_add_str(e, "message",
                    ev.error_message.ptr ? ev.error_message : ev.reason);
  }
  else {
    cJSON_AddNullToObject(doc, "error");
  }
  *out = doc;
  return 0;
}

/* ----------------------------------------------------------------- show */

/* "workflow" and "version" of run `info`: the name and version its
 * snapshot was registered as. A derived run's effective definition (a
 * fork with overrides) was never registered: its version is null and its
 * name is its nearest registered ancestor's (a few index reads, however
 * big the definition), else the snapshot's own "name" (`def`, parsed
 * when NULL). */
static void add_definition_name(cairn_reader *r, const cairn_run_info *info,
                                const cJSON *def, cJSON *doc) {
  char ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version = 0;
  if (cairn_reader_definition_of_hash(r, info->def_hash, ns, name,
                                      &version) == 0) {
    cJSON_AddStringToObject(doc, "workflow", name);
    cJSON_AddNumberToObject(doc, "version", version);
    return;
  }
  cJSON_AddNullToObject(doc, "version");
  cairn_run_info up = *info;
  for (int depth = 0; depth < 16 && up.parent_run_id[0] &&
                      cairn_reader_run_by_id(r, up.parent_run_id, &up) == 0;
       depth++)
    if (cairn_reader_definition_of_hash(r, up.def_hash, ns, name,
                                        &version) == 0) {
      cJSON_AddStringToObject(doc, "workflow", name);
      return;
    }
  cairn_str text;
  cJSON *own = NULL;
  if (def == NULL && cairn_reader_definition(r, info->def_hash, &text) == 0)
    def = own = cJSON_ParseWithLength(text.ptr, text.len);
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(def, "name");
  if (cJSON_IsString(n))
    cJSON_AddStringToObject(doc, "workflow", n->valuestring);
  else
    cJSON_AddNullToObject(doc, "workflow");
  cJSON_Delete(own);
}

typedef struct show_ctx {
  cairn_reader *r;
  uint64_t key;
  cJSON *attempts;
  bool run_final;   /* a running attempt of a finished run was stopped */
  bool llm;         /* the step shown is an llm step */
  const char *home; /* for the prices of llm models */
  bool summary;     /* attempts without their events' fields */
} show_ctx;

/* "started_us" and "ended_us" (null while it runs), µs since the epoch. */
static void add_span(cJSON *o, int64_t started_us, int64_t ended_us) {
  cJSON_AddNumberToObject(o, "started_us", (double)started_us);
  if (ended_us)
    cJSON_AddNumberToObject(o, "ended_us", (double)ended_us);
  else
    cJSON_AddNullToObject(o, "ended_us");
}

static void attempt_times(cJSON *o, const cairn_attempt_view *a) {
  cJSON_AddNumberToObject(o, "duration_ms", (double)a->duration_us / 1e3);
  add_span(o, a->started_us, a->ended_us);
  cJSON_AddBoolToObject(o, "dry_run", a->dry_run);
}

static int on_attempt(void *p, const cairn_attempt_view *a) {
  show_ctx *c = p;
  cairn_event start = {0}, end = {0};
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "attempt", a->attempt);
  /* An attempt still "running" in a finished run was stopped with it
   * (its run was cancelled or terminated under it). */
  cJSON_AddStringToObject(o, "status",
                          c->run_final && a->status == CAIRN_ATTEMPT_RUNNING
                              ? "stopped"
                              : cairn_attempt_status_name(a->status));
  if (c->summary) {
    attempt_times(o, a);
    if (a->scored)
      cJSON_AddNumberToObject(o, "score", a->score);
    else
      cJSON_AddNullToObject(o, "score");
    cJSON_AddItemToArray(c->attempts, o);
    return 0;
  }
  cairn_reader_event(c->r, c->key, a->start_seq, &start);
  if (a->end_seq)
    cairn_reader_event(c->r, c->key, a->end_seq, &end);
  present_add_json_text(o, "input", start.input);
  if (end.type == CAIRN_EV_STEP_COMPLETED)
    present_add_json_text(o, "output", end.output);
  else
    cJSON_AddNullToObject(o, "output");
  if (end.type == CAIRN_EV_STEP_FAILED) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    present_add_str(e, "code", end.error_code);
    present_add_str(e, "message", end.error_message);
    present_add_json_text(e, "details", end.details);
    cJSON_AddBoolToObject(e, "retryable", end.retryable);
  }
  else {
    cJSON_AddNullToObject(o, "error");
  }
  attempt_times(o, a);
  if (c->llm)
    cJSON_AddItemToObject(o, "llm",
                          present_llm_attempt(c->home, &start, &end));
  if (a->scored)
    cJSON_AddNumberToObject(o, "score", a->score);
  else
    cJSON_AddNullToObject(o, "score");
  cJSON_AddItemToArray(c->attempts, o);
  return 0;
}

/* What the definition says of a step that the viewer draws: its kind,
 * the steps it needs (its branch), whether it mutates and whether its
 * replay policy lets it. */
static void step_shape(cJSON *o, const cJSON *def) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(def, "kind");
  const cJSON *needs = cJSON_GetObjectItemCaseSensitive(def, "needs");
  const cJSON *replay = cJSON_GetObjectItemCaseSensitive(def, "replay");
  cJSON_AddStringToObject(o, "kind",
                          cJSON_IsString(kind) ? kind->valuestring : "");
  cJSON *n = cJSON_AddArrayToObject(o, "needs");
  const cJSON *it;
  cJSON_ArrayForEach(it, needs)
    if (cJSON_IsString(it))
      cJSON_AddItemToArray(n, cJSON_CreateString(it->valuestring));
  cJSON_AddBoolToObject(
      o, "mutates",
      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(def, "mutates")));
  cJSON_AddBoolToObject(o, "replay_allows_mutations",
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
                            replay, "allow_mutations")));
}

static void show_step(show_ctx *c, cJSON *steps, const char *name,
                      const cJSON *def) {
  cairn_step_view s;
  int rc = cairn_reader_step_view(c->r, c->key, name, &s);
  const char *status = rc ? "pending" : cairn_step_status_name(s.status);
  if (rc == 0 && c->run_final && (s.status == CAIRN_STEP_RUNNING ||
                                  s.status == CAIRN_STEP_WAITING))
    status = "stopped";
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "status", status);
  step_shape(o, def);
  cJSON_AddBoolToObject(o, "reused", rc == 0 && s.reused);
  cJSON_AddBoolToObject(o, "stale", rc == 0 && s.stale);
  c->attempts = cJSON_AddArrayToObject(o, "attempts");
  cJSON_AddItemToArray(steps, o);
  if (rc == 0)
    cairn_reader_attempts(c->r, c->key, name, on_attempt, c);
}

static void show_header(cairn_reader *r, const cairn_run_info *info,
                        const cairn_run_view *v, const cairn_event *start,
                        const cairn_event *out, const cJSON *def,
                        cJSON *doc) {
  cJSON_AddStringToObject(doc, "workflow_id", info->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", info->run_id);
  cJSON_AddStringToObject(doc, "status", cairn_run_status_name(v->status));
  add_definition_name(r, info, def, doc);
  cJSON_AddStringToObject(doc, "definition_hash", info->def_hash);
  add_span(doc, v->started_us, v->ended_us);
  present_add_json_text(doc, "input", start->input);
  present_add_str(doc, "partition", start->partition);
  cJSON *assets = NULL;
  if (present_run_assets(r, info->key, &assets) == 0)
    cJSON_AddItemToObject(doc, "assets", assets);
  if (out->type && out->output.ptr)
    present_add_json_text(doc, "output", out->output);
  else
    cJSON_AddNullToObject(doc, "output");
  if (out->type && out->type != CAIRN_EV_RUN_COMPLETED &&
      out->type != CAIRN_EV_RUN_OUTPUT_RECOMPUTED) {
    cJSON *err = cJSON_AddObjectToObject(doc, "error");
    present_add_str(err, "code", out->error_code);
    present_add_str(err, "message", out->error_message.ptr
                                        ? out->error_message
                                        : out->reason);
  }
  else {
    cJSON_AddNullToObject(doc, "error");
  }
  cJSON *o = cJSON_AddObjectToObject(doc, "origin");
  cJSON_AddStringToObject(o, "kind",
                          cairn_origin_kind_name(start->origin_kind));
  present_add_str(o, "parent_run_id", start->parent_run_id);
  present_add_str(o, "point", start->origin_point);
  present_add_str(o, "reason", start->reason);
  present_add_str(o, "actor", start->actor);
  cJSON_AddNumberToObject(doc, "duration_ms",
                          (double)((v->ended_us ? v->ended_us
                                                : v->updated_us) -
                                   v->started_us) / 1e3);
}

int present_show(cairn_reader *r, const char *home,
                 const cairn_run_info *info, const present_show_opts *opts,
                 cJSON **out) {
  const present_show_opts none = {0};
  if (opts == NULL)
    opts = &none;
  cairn_run_view v;
  cairn_event start = {0}, last = {0};
  cairn_str def_text;
  *out = NULL;
  int rc = cairn_reader_run_view(r, info->key, &v);
  if (rc == 0)
    rc = cairn_reader_event(r, info->key, 1, &start);
  uint32_t end = rc ? 0 : v.output_seq ? v.output_seq : v.error_seq;
  if (rc == 0 && end)
    rc = cairn_reader_event(r, info->key, end, &last);
  if (rc)
    return rc;
  cJSON *def = cairn_reader_definition(r, info->def_hash, &def_text) == 0
                   ? cJSON_ParseWithLength(def_text.ptr, def_text.len)
                   : NULL;
  cJSON *doc = cJSON_CreateObject();
  cJSON *steps;
  if (opts->step) {
    cJSON_AddStringToObject(doc, "workflow_id", info->workflow_id);
    cJSON_AddStringToObject(doc, "run_id", info->run_id);
    steps = cJSON_CreateArray();
  }
  else {
    show_header(r, info, &v, &start, &last, def, doc);
    steps = cJSON_AddArrayToObject(doc, "steps");
  }
  show_ctx c = {r, info->key, NULL,
                cairn_run_status_is_final(v.status) && v.rerun_seq == 0,
                false, home, opts->summary && !opts->step};
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(def, "steps")) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    c.llm = present_llm_step(it);
    if (cJSON_IsString(name) &&
        (opts->step == NULL || strcmp(opts->step, name->valuestring) == 0))
      show_step(&c, steps, name->valuestring, it);
  }
  cJSON_Delete(def);
  if (opts->step) {
    cJSON *one = cJSON_DetachItemFromArray(steps, 0);
    cJSON_Delete(steps);
    if (one == NULL) {
      cJSON_Delete(doc);
      return CAIRN_ENOTFOUND;
    }
    cJSON_AddItemToObject(doc, "step", one);
  }
  *out = doc;
  return 0;
}

typedef struct marks {
  bool stale, dry_run;
} marks;

static int on_marks(void *p, const cairn_step_view *s) {
  marks *m = p;
  m->stale |= s->stale;
  m->dry_run |= s->dry_run;
  return m->stale && m->dry_run;
}

cJSON *present_run_entry(cairn_reader *r, const cairn_run_info *info) {
  char t[40];
  cJSON *o = cJSON_CreateObject();
  marks m = {false, false};
  cairn_reader_steps(r, info->key, on_marks, &m);
  present_time(info->created_us, t, sizeof t);
  cJSON_AddStringToObject(o, "run_id", info->run_id);
  cJSON_AddStringToObject(o, "workflow_id", info->workflow_id);
  add_definition_name(r, info, NULL, o);
  cJSON_AddStringToObject(o, "status", cairn_run_status_name(info->status));
  cJSON_AddStringToObject(o, "started", t);
  present_time(info->updated_us, t, sizeof t);
  cJSON_AddStringToObject(o, "updated", t);
  cJSON_AddBoolToObject(o, "stale", m.stale);
  cJSON_AddBoolToObject(o, "dry_run", m.dry_run);
  cJSON_AddStringToObject(o, "origin",
                          cairn_origin_kind_name(info->origin_kind));
  cJSON_AddNumberToObject(o, "events", info->last_seq);
  if (info->parent_run_id[0])
    cJSON_AddStringToObject(o, "parent_run_id", info->parent_run_id);
  else
    cJSON_AddNullToObject(o, "parent_run_id");
  return o;
}

/* -------------------------------------------------------------- lineage */

static cJSON *lineage_node(cairn_reader *r, uint64_t key, uint64_t current,
                           bool *is_current) {
  cairn_run_info info;
  cairn_event ev = {0};
  char t[40];
  if (cairn_reader_run_by_key(r, key, &info) != 0)
    return NULL;
  cairn_reader_event(r, key, 1, &ev);
  cJSON *o = cJSON_CreateObject(), *orig;
  cJSON_AddStringToObject(o, "run_id", info.run_id);
  if (info.parent_run_id[0])
    cJSON_AddStringToObject(o, "parent_run_id", info.parent_run_id);
  else
    cJSON_AddNullToObject(o, "parent_run_id");
  cJSON_AddStringToObject(o, "status", cairn_run_status_name(info.status));
  *is_current = key == current;
  cJSON_AddBoolToObject(o, "current", *is_current);
  orig = cJSON_AddObjectToObject(o, "origin");
  cJSON_AddStringToObject(orig, "kind",
                          cairn_origin_kind_name(ev.origin_kind));
  cairn_str empty = {"", 0};
  present_add_str(orig, "point", ev.origin_point.ptr ? ev.origin_point
                                                     : empty);
  present_add_str(orig, "reason", ev.reason.ptr ? ev.reason : empty);
  present_add_str(orig, "actor", ev.actor.ptr ? ev.actor : empty);
  present_time(ev.time_us, t, sizeof t);
  cJSON_AddStringToObject(orig, "time", t);
  return o;
}

int present_lineage(cairn_reader *r, const cairn_run_info *run,
                    cJSON **out) {
  cairn_workflow_info w;
  *out = NULL;
  int rc = cairn_reader_workflow(r, run->ns, run->workflow_id, &w);
  if (rc)
    return rc;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", run->workflow_id);
  cJSON *arr = cJSON_AddArrayToObject(doc, "runs");
  for (size_t i = 0; i < w.n_runs; i++) {
    bool current = false;
    cJSON *o = lineage_node(r, w.runs[i], w.current, &current);
    if (o == NULL)
      continue;
    cJSON_AddItemToArray(arr, o);
    if (current)
      cJSON_AddStringToObject(
          doc, "current_run_id",
          cJSON_GetObjectItemCaseSensitive(o, "run_id")->valuestring);
  }
  *out = doc;
  return 0;
}

/* ---------------------------------------------------------------- audit */

cJSON *present_audit_record(const cairn_audit_record *a) {
  char t[40];
  cJSON *o = cJSON_CreateObject();
  present_time(a->time_us, t, sizeof t);
  cJSON_AddNumberToObject(o, "seq", (double)a->seq);
  cJSON_AddStringToObject(o, "time", t);
  present_add_str(o, "actor", a->actor);
  present_add_str(o, "action", a->action);
  present_add_str(o, "workflow_id", a->workflow_id);
  present_add_str(o, "run_id", a->run_id);
  present_add_str(o, "new_run_id", a->new_run_id);
  present_add_str(o, "reason", a->reason);
  present_add_str(o, "request_id", a->request_id);
  cJSON *d = a->detail.ptr ? cJSON_ParseWithLength(a->detail.ptr,
                                                   a->detail.len)
                           : NULL;
  if (d)
    cJSON_AddItemToObject(o, "detail", d);
  return o;
}

/* ------------------------------------------------------------ workflows */

cJSON *present_workflow_name(cairn_str name, uint32_t versions,
                             const char *hash) {
  cJSON *o = cJSON_CreateObject();
  present_add_str(o, "name", name);
  cJSON_AddNumberToObject(o, "versions", versions);
  cJSON_AddStringToObject(o, "latest_hash", hash);
  return o;
}

int present_workflow_version(cairn_reader *r, const char *ns,
                             const char *name, uint32_t version,
                             cJSON **out, char *err, size_t errlen) {
  char hash[CAIRN_HASH_HEX_LEN + 1];
  uint32_t n = 0;
  cairn_str json;
  *out = NULL;
  int rc = cairn_reader_definition_version(r, ns, name, version, hash, &n);
  if (rc == 0)
    rc = cairn_reader_definition(r, hash, &json);
  if (rc == CAIRN_ENOTFOUND && version)
    snprintf(err, errlen, "workflow %s has no version %u in namespace %s",
             name, version, ns);
  else if (rc == CAIRN_ENOTFOUND)
    snprintf(err, errlen, "no workflow definition is named '%s' in "
             "namespace %s", name, ns);
  else if (rc)
    snprintf(err, errlen, "reading the definition: %s", cairn_strerror(rc));
  if (rc)
    return rc;
  cairn_definition_state st = {0};
  cairn_reader_definition_state(r, ns, name, &st);
  uint32_t shown = version ? version : n;
  bool deleted = false;
  for (uint32_t i = 0; i < st.n_deleted; i++)
    deleted |= st.deleted[i] == shown;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "name", name);
  cJSON_AddNumberToObject(doc, "version", shown);
  cJSON_AddNumberToObject(doc, "versions", n);
  cJSON_AddStringToObject(doc, "hash", hash);
  cJSON_AddBoolToObject(doc, "paused", st.paused);
  cJSON_AddBoolToObject(doc, "deleted", deleted);
  cJSON_AddItemToObject(doc, "definition",
                        cJSON_ParseWithLength(json.ptr, json.len));
  *out = doc;
  return 0;
}

/* ------------------------------------------------------------- answers */

cJSON *present_started(const cairn_start_result *s) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", s->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", s->run_id);
  cJSON_AddBoolToObject(doc, "existed", s->existed);
  return doc;
}

static void add_list(cJSON *doc, const char *key, const char *list) {
  cJSON *arr = cJSON_AddArrayToObject(doc, key);
  char *copy = list ? strdup(list) : NULL, *save = NULL;
  for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t;
       t = strtok_r(NULL, ", ", &save))
    cJSON_AddItemToArray(arr, cJSON_CreateString(t));
  free(copy);
}

cJSON *present_forked(const cairn_fork_result *r, const char *kind,
                      const char *reason) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "workflow_id", r->workflow_id);
  cJSON_AddStringToObject(doc, "run_id", r->run_id);
  cJSON_AddStringToObject(doc, "parent_run_id", r->parent_run_id);
  cJSON_AddStringToObject(doc, "kind", kind);
  if (r->step[0])
    cJSON_AddStringToObject(doc, "step", r->step);
  if (reason)
    cJSON_AddStringToObject(doc, "reason", reason);
  cJSON_AddBoolToObject(doc, "repeated", r->repeated);
  add_list(doc, "dry_run", r->dry_run);
  add_list(doc, "for_real", r->for_real);
  cJSON *stale = r->stale_assets ? cJSON_Parse(r->stale_assets) : NULL;
  if (stale) /* a replay allowed onto stale assets: which they were */
    cJSON_AddItemToObject(doc, "stale_assets", stale);
  return doc;
}

cJSON *present_acted(const char *id, const char *action, bool repeated) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "id", id);
  cJSON_AddStringToObject(doc, "action", action);
  cJSON_AddBoolToObject(doc, "ok", true);
  cJSON_AddBoolToObject(doc, "repeated", repeated);
  return doc;
}

cJSON *present_registered(const char *name, uint32_t version,
                          const char *hash) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "name", name);
  cJSON_AddNumberToObject(doc, "version", version);
  cJSON_AddStringToObject(doc, "hash", hash);
  return doc;
}

cJSON *present_definition_changed(const char *name, const char *action,
                                  uint32_t version) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "name", name);
  cJSON_AddStringToObject(doc, "action", action);
  if (version)
    cJSON_AddNumberToObject(doc, "version", version);
  cJSON_AddBoolToObject(doc, "ok", true);
  return doc;
}
