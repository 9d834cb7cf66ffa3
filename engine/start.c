/*
 * start.c — registering definitions and starting runs.
 *
 * A run records the exact definition snapshot it runs: starting from a
 * file stores that file's canonical JSON (content-addressed) as a version
 * of its name, and the run points at that hash, so editing the file later
 * never changes a past run.
 *
 * Starting is idempotent by workflow id: if the id exists, nothing starts
 * and the caller is told the current run. Two processes racing to start
 * one id both create the run in a transaction; the journal refuses the
 * second (the workflow exists), which then reports the first's run.
 */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int validate(cairn_engine *e, const char *json, size_t len,
                    cairn__def **def) {
  char err[512] = "";
  int rc = cairn__def_parse(json, len, cairn__engine_is_native, e, def, err,
                            sizeof err);
  if (rc)
    cairn__engine_err(e, "invalid definition: %s", err);
  return rc;
}

int cairn_engine_register(cairn_engine *e, const char *json, size_t len,
                          char *hash, uint32_t *version, char *name) {
  cairn__def *def;
  cairn_batch *b;
  char h[CAIRN_HASH_HEX_LEN + 1];
  int rc = validate(e, json, len, &def);
  if (rc)
    return rc;
  if ((rc = cairn_batch_new(e->j, &b)) != 0) {
    cairn__def_free(def);
    return rc;
  }
  int op = cairn_batch_put_definition(b, e->ns, def->name, json, len, h);
  rc = op < 0 ? op : cairn_batch_commit(b);
  if (rc == 0) {
    if (hash)
      memcpy(hash, h, sizeof h);
    if (version)
      *version = cairn_batch_def_version(b, op);
    if (name)
      snprintf(name, CAIRN_WORKFLOW_ID_MAX + 1, "%s", def->name);
  }
  else {
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  }
  cairn_batch_free(b);
  cairn__def_free(def);
  return rc;
}

/* The latest version of definition `name`, copied into *json. */
static int by_name(cairn_engine *e, const char *name, char **json) {
  cairn_reader *r;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  cairn_str doc;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  uint32_t latest = 0;
  cairn_definition_state st = {0};
  rc = cairn_reader_definition_version(r, e->ns, name, 0, hash, &latest);
  if (rc == 0)
    cairn_reader_definition_state(r, e->ns, name, &st);
  for (uint32_t i = 0; rc == 0 && i < st.n_deleted; i++)
    if (st.deleted[i] == latest) {
      cairn__engine_err(e, "the latest version (%u) of workflow %s was "
                           "deleted; register a new version, or run a "
                           "definition file", latest, name);
      cairn_reader_end(r);
      return CAIRN_ECONFLICT;
    }
  if (rc == 0)
    rc = cairn_reader_definition(r, hash, &doc);
  if (rc == 0 && (*json = strndup(doc.ptr, doc.len)) == NULL)
    rc = CAIRN_ENOMEM;
  if (rc == CAIRN_ENOTFOUND)
    cairn__engine_err(e, "no workflow definition is named '%s'; register "
                         "it with `cairn workflow register FILE`, or pass "
                         "the file", name);
  else if (rc)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  cairn_reader_end(r);
  return rc;
}

/* Fills out->run_id with the workflow's current run; ENOTFOUND if none. */
static int current_run(cairn_engine *e, const char *wf,
                       cairn_start_result *out) {
  cairn_reader *r;
  cairn_workflow_info w;
  cairn_run_info info;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_workflow(r, e->ns, wf, &w);
  if (rc == 0)
    rc = cairn_reader_run_by_key(r, w.current, &info);
  if (rc == 0) {
    memcpy(out->run_id, info.run_id, sizeof out->run_id);
    out->existed = true;
  }
  cairn_reader_end(r);
  return rc;
}

static void new_workflow_id(const char *name, char *out, size_t len) {
  unsigned char b[6] = {0};
  if (getrandom(b, sizeof b, 0) != sizeof b) { /* unlikely: the clock */
    int64_t t = cairn__now_us();
    memcpy(b, &t, sizeof b);
  }
  snprintf(out, len, "%.180s-%02x%02x%02x%02x%02x%02x", name, b[0], b[1],
           b[2], b[3], b[4], b[5]);
}

/* Notes a run this engine will execute, for cairn_engine_work. */
static void remember_started(cairn_engine *e, const char *run_id) {
  if (e->n_started == e->cap_started) {
    size_t cap = e->cap_started ? 2 * e->cap_started : 16;
    char(*s)[CAIRN_RUN_ID_LEN + 1] = realloc(e->started, cap * sizeof *s);
    if (s == NULL)
      return; /* the lease expires and a claim brings it in */
    e->started = s;
    e->cap_started = cap;
  }
  memcpy(e->started[e->n_started++], run_id, CAIRN_RUN_ID_LEN + 1);
}

static int create(cairn_engine *e, const cairn_start_request *req,
                  cairn__def **defp, const char *json,
                  cairn_start_result *out) {
  const cairn__def *def = *defp;
  cairn_batch *b;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  const char *input = req->input ? req->input : "null";
  const char *actor = req->actor ? req->actor : cairn_actor();
  int rc = cairn_batch_new(e->j, &b);
  if (rc)
    return rc;
  if (req->execute)
    cairn_batch_set_owner(b, e->owner, e->lease_ms);
  int op = cairn_batch_put_definition(b, e->ns, def->name, json,
                                      strlen(json), hash);
  cairn_run_spec spec = {.ns = e->ns, .workflow_id = out->workflow_id,
                         .def_hash = hash,
                         .input = {input, strlen(input)}, .actor = actor};
  rc = op < 0 ? op : cairn_batch_create_run(b, &spec, out->run_id);
  cairn_audit_record a = {
      .ns = {e->ns, strlen(e->ns)}, .actor = {actor, strlen(actor)},
      .action = {"start", 5},
      .workflow_id = {out->workflow_id, strlen(out->workflow_id)},
      .run_id = {out->run_id, CAIRN_RUN_ID_LEN}};
  if (rc == 0)
    rc = cairn_batch_audit(b, &a);
  if (rc == 0)
    rc = cairn_batch_commit(b);
  if (rc == 0) /* the run will load it: parse once */
    cairn__engine_def_keep(e, hash, defp);
  if (rc == 0 && req->execute)
    remember_started(e, out->run_id);
  if (rc && rc != CAIRN_ECONFLICT)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  cairn_batch_free(b);
  return rc;
}

int cairn_engine_start(cairn_engine *e, const cairn_start_request *req,
                       cairn_start_result *out) {
  char *json = NULL;
  cairn__def *def = NULL;
  int rc = 0;
  memset(out, 0, sizeof *out);
  if (req->input && !cairn__json_valid_text(req->input)) {
    cairn__engine_err(e, "the input is not valid JSON; pass an object such "
                         "as '{\"url\": \"...\"}' or @file.json");
    return CAIRN_EINVAL;
  }
  if (req->definition)
    json = strdup(req->definition);
  else if (req->name)
    rc = by_name(e, req->name, &json);
  else
    rc = CAIRN_EINVAL;
  if (rc == 0 && json == NULL)
    rc = CAIRN_ENOMEM;
  if (rc == 0)
    rc = validate(e, json, strlen(json), &def);
  if (rc == 0) /* kinds' policies (models outside the llm policy) */
    rc = cairn__kinds_admit(e, def, NULL, NULL);
  if (rc == 0) {
    if (req->workflow_id)
      snprintf(out->workflow_id, sizeof out->workflow_id, "%s",
               req->workflow_id);
    else
      new_workflow_id(def->name, out->workflow_id, sizeof out->workflow_id);
    rc = current_run(e, out->workflow_id, out);
    if (rc == CAIRN_ENOTFOUND) {
      rc = create(e, req, &def, json, out);
      if (rc == CAIRN_ECONFLICT) /* someone started it first */
        rc = current_run(e, out->workflow_id, out);
    }
  }
  cairn__def_free(def);
  free(json);
  return rc;
}
