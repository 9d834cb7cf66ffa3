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
  rc = op < 0 ? op : cairn__prompts_of_def(e, b, def, h);
  if (rc == 0)
    rc = cairn_batch_commit(b);
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

/* Adds the run's operations to batch `b`: its definition snapshot, the
 * run (leased to this engine when req->execute and `b` is owned), and
 * the audit record. */
static int add_run(cairn_engine *e, cairn_batch *b,
                   const cairn_start_request *req, const cairn__def *def,
                   const char *json, cairn_start_result *out, char *hash) {
  /* The input as recorded: scrubbed of the secrets the kinds hold (an
   * llm provider's key pasted into an input never reaches the journal). */
  char *input = cairn__kinds_scrub_text(e, req->input ? req->input : "null");
  if (input == NULL)
    return CAIRN_ENOMEM;
  const char *actor = req->actor ? req->actor : cairn__engine_actor(e);
  int op = cairn_batch_put_definition(b, e->ns, def->name, json,
                                      strlen(json), hash);
  cairn_run_spec spec = {.ns = e->ns, .workflow_id = out->workflow_id,
                         .def_hash = hash,
                         .input = {input, strlen(input)}, .actor = actor,
                         .partition = req->partition};
  int rc = op < 0 ? op : cairn__prompts_of_def(e, b, def, hash);
  if (rc == 0)
    rc = cairn_batch_create_run(b, &spec, out->run_id);
  free(input);
  cairn_audit_record a = {
      .ns = {e->ns, strlen(e->ns)}, .actor = {actor, strlen(actor)},
      .action = {"start", 5},
      .workflow_id = {out->workflow_id, strlen(out->workflow_id)},
      .run_id = {out->run_id, CAIRN_RUN_ID_LEN}};
  if (rc == 0)
    rc = cairn_batch_audit(b, &a);
  return rc < 0 ? rc : 0;
}

static int create(cairn_engine *e, const cairn_start_request *req,
                  cairn__def **defp, const char *json,
                  cairn_start_result *out) {
  cairn_batch *b;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  int rc = cairn_batch_new(e->j, &b);
  if (rc)
    return rc;
  if (req->execute)
    cairn_batch_set_owner(b, e->owner, e->lease_ms);
  rc = add_run(e, b, req, *defp, json, out, hash);
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

/* What both kinds of start do first: the definition read, validated and
 * admitted, the workflow id chosen, and whether it exists (rc 0 with
 * out->existed). *defp and *jsonp are the caller's to free. */
static int prepare(cairn_engine *e, const cairn_start_request *req,
                   cairn__def **defp, char **jsonp,
                   cairn_start_result *out) {
  char *json = NULL;
  int rc = 0;
  memset(out, 0, sizeof *out);
  *defp = NULL;
  *jsonp = NULL;
  if (req->input && !cairn__json_valid_text(req->input)) {
    cairn__engine_err(e, "the input is not valid JSON; pass an object such "
                         "as '{\"url\": \"...\"}' or @file.json");
    return CAIRN_EINVAL;
  }
  if (req->definition)
    json = strdup(req->definition);
  else if (req->name)
    rc = by_name(e, req->name, &json);
  else {
    cairn__engine_err(e, "a start needs a definition or a workflow name");
    rc = CAIRN_EINVAL;
  }
  if (rc == 0 && json == NULL)
    rc = CAIRN_ENOMEM;
  *jsonp = json;
  if (rc == 0)
    rc = validate(e, json, strlen(json), defp);
  if (rc == 0) /* kinds' policies (models outside the llm policy) */
    rc = cairn__kinds_admit(e, *defp, NULL, NULL);
  if (rc)
    return rc;
  if (req->workflow_id && (*req->workflow_id == '\0' ||
                           strlen(req->workflow_id) > CAIRN_WORKFLOW_ID_MAX)) {
    cairn__engine_err(e, "a workflow id is 1..%d bytes",
                      CAIRN_WORKFLOW_ID_MAX);
    return CAIRN_EINVAL;
  }
  if (req->workflow_id)
    snprintf(out->workflow_id, sizeof out->workflow_id, "%s",
             req->workflow_id);
  else
    new_workflow_id((*defp)->name, out->workflow_id, sizeof out->workflow_id);
  rc = current_run(e, out->workflow_id, out);
  return rc == CAIRN_ENOTFOUND ? 0 : rc;
}

int cairn_engine_start(cairn_engine *e, const cairn_start_request *req,
                       cairn_start_result *out) {
  char *json;
  cairn__def *def;
  int rc = prepare(e, req, &def, &json, out);
  if (rc == 0 && !out->existed) {
    rc = create(e, req, &def, json, out);
    if (rc == CAIRN_ECONFLICT) /* someone started it first */
      rc = current_run(e, out->workflow_id, out);
  }
  cairn__def_free(def);
  free(json);
  return rc;
}

/* ------------------------------------------------- asynchronous starts */

static cairn__pstart *pstart_new(cairn_engine *e) {
  if (e->n_pstarts == e->cap_pstarts) {
    size_t cap = e->cap_pstarts ? 2 * e->cap_pstarts : 16;
    cairn__pstart *p = realloc(e->pstarts, cap * sizeof *p);
    if (p == NULL)
      return NULL;
    e->pstarts = p;
    e->cap_pstarts = cap;
  }
  cairn__pstart *p = &e->pstarts[e->n_pstarts++];
  memset(p, 0, sizeof *p);
  return p;
}

int cairn_engine_start_async(cairn_engine *e, const cairn_start_request *req,
                             cairn_start_cb cb, void *ctx) {
  char *json;
  cairn__def *def;
  cairn_start_result res;
  int rc = prepare(e, req, &def, &json, &res);
  /* A second start of a workflow id this turn creates: attach to it. */
  for (size_t i = 0; rc == 0 && !res.existed && i < e->n_pstarts; i++)
    if (e->pstarts[i].created &&
        strcmp(e->pstarts[i].ns, e->ns) == 0 &&
        strcmp(e->pstarts[i].res.workflow_id, res.workflow_id) == 0) {
      memcpy(res.run_id, e->pstarts[i].res.run_id, sizeof res.run_id);
      res.existed = true;
    }
  cairn__pstart *p = rc ? NULL : pstart_new(e);
  if (rc == 0 && p == NULL)
    rc = CAIRN_ENOMEM;
  if (rc == 0) {
    p->cb = cb;
    p->ctx = ctx;
    p->res = res;
    p->owned = req->execute;
    snprintf(p->ns, sizeof p->ns, "%s", e->ns);
  }
  if (rc == 0 && !res.existed) {
    cairn_batch *b;
    char hash[CAIRN_HASH_HEX_LEN + 1];
    rc = cairn__engine_turn_batch(e, req->execute, &b);
    if (rc == 0)
      rc = add_run(e, b, req, def, json, &p->res, hash);
    if (rc == 0) {
      p->created = true;
      cairn__engine_def_keep(e, hash, &def);
    }
    else {
      /* a half-added run (its create op queued, its audit not) must not
       * commit: the batch's failed op tells */
      if (p->res.run_id[0])
        cairn_batch_remove_run(b, p->res.run_id);
      cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
      e->n_pstarts--;
    }
  }
  else if (rc == 0) {
    /* nothing to write: report at the end of this turn */
    cairn__engine_wake(e);
  }
  cairn__def_free(def);
  free(json);
  return rc;
}

bool cairn__start_raced(cairn_engine *e, const char *run_id) {
  for (size_t i = 0; i < e->n_pstarts; i++)
    if (e->pstarts[i].created &&
        strcmp(e->pstarts[i].res.run_id, run_id) == 0) {
      e->pstarts[i].raced = true;
      return true;
    }
  return false;
}

void cairn__starts_done(cairn_engine *e, int rc_owned, int rc_free) {
  size_t n = e->n_pstarts;
  if (n == 0)
    return;
  /* Callbacks may start again: report from a copy. */
  cairn__pstart *ps = malloc(n * sizeof *ps);
  if (ps == NULL)
    return; /* cannot happen in practice; the callers' answers wait */
  memcpy(ps, e->pstarts, n * sizeof *ps);
  e->n_pstarts = 0;
  char ns_now[CAIRN_NAMESPACE_MAX + 1];
  memcpy(ns_now, e->ns, sizeof ns_now);
  for (size_t i = 0; i < n; i++) {
    cairn__pstart *p = &ps[i];
    int rc = !p->created ? 0 : p->owned ? rc_owned : rc_free;
    if (rc == 0 && p->raced) {
      snprintf(e->ns, sizeof e->ns, "%s", p->ns);
      rc = current_run(e, p->res.workflow_id, &p->res);
    }
    else if (rc == 0 && p->created && p->owned) {
      remember_started(e, p->res.run_id);
    }
    if (rc) {
      const char *m = cairn_journal_errmsg(e->j);
      cairn__engine_err(e, "%s", *m ? m : cairn_strerror(rc));
    }
    p->cb(p->ctx, rc, rc ? NULL : &p->res, rc ? e->errmsg : NULL);
  }
  memcpy(e->ns, ns_now, sizeof ns_now);
  free(ps);
}

/* ------------------------------------------------- definition states */

int cairn_engine_definition_state(cairn_engine *e, const char *name, int op,
                                  uint32_t version, const char *reason) {
  static const char *const action[] = {"", "workflow.pause",
                                       "workflow.unpause", "workflow.delete"};
  cairn_batch *b;
  if (op < CAIRN_DEF_PAUSE || op > CAIRN_DEF_DELETE || name == NULL ||
      (op == CAIRN_DEF_DELETE && version == 0)) {
    cairn__engine_err(e, "a definition is paused, unpaused, or deleted by "
                         "version (a version is deleted, never a name)");
    return CAIRN_EINVAL;
  }
  int rc = cairn_batch_new(e->j, &b);
  if (rc)
    return rc;
  if (op == CAIRN_DEF_DELETE)
    rc = cairn_batch_delete_definition(b, e->ns, name, version);
  else
    rc = cairn_batch_pause_definition(b, e->ns, name, op == CAIRN_DEF_PAUSE);
  const char *actor = cairn__engine_actor(e);
  cairn_audit_record a = {
      .ns = {e->ns, strlen(e->ns)}, .actor = {actor, strlen(actor)},
      .action = {action[op], strlen(action[op])},
      .workflow_id = {name, strlen(name)},
      .reason = {reason, reason ? strlen(reason) : 0}};
  if (rc >= 0)
    rc = cairn_batch_audit(b, &a);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  if (rc)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  cairn_batch_free(b);
  return rc < 0 ? rc : 0;
}
