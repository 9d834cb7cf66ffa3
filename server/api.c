/*
 * api.c — one handler per route (docs/api.md). Reads open a snapshot of
 * the journal; writes go through the engine (starts through its group
 * commit). Every object answered is present/'s, the one the CLI prints
 * with --format json.
 *
 * Namespaces: a run or workflow id is looked up in the caller's
 * namespace (its token's); a run id of another namespace is 403.
 */
#include "server_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 50
#define LIST_MAX 1000
/* Runs read to filter and page a list: newest first, this many at most. */
#define LIST_WINDOW 5000

typedef struct reading {
  cairn_reader *r;
  cairn_run_info info;
  char err[600];
} reading;

/* Begins a snapshot and finds run c->r.a in the caller's namespace.
 * Returns 0, or answers the problem (*answered) and returns its code. */
static int find_run(conn *c, reading *rd, enum MHD_Result *answered) {
  int rc = cairn_reader_begin(c->s->j, &rd->r);
  if (rc) {
    *answered = srv_fail(c, rc, cairn_journal_errmsg(c->s->j));
    return rc;
  }
  rc = present_find_run(rd->r, c->ns, c->r.a, &rd->info, rd->err,
                        sizeof rd->err);
  if (rc == 0 && strcmp(rd->info.ns, c->ns) != 0) {
    snprintf(rd->err, sizeof rd->err, "run %s is in another namespace "
             "than this token's (%s)", c->r.a, c->ns);
    rc = CAIRN_EFORBIDDEN;
  }
  if (rc) {
    *answered = srv_fail(c, rc, rd->err);
    cairn_reader_end(rd->r);
    rd->r = NULL;
  }
  return rc;
}

static bool parse_u32(const char *s, uint32_t *out) {
  char *end;
  if (s == NULL || *s == '\0')
    return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || v > 0xffffffffull)
    return false;
  *out = (uint32_t)v;
  return true;
}

/* ------------------------------------------------------------- reading */

static enum MHD_Result run_read(conn *c) {
  reading rd = {0};
  enum MHD_Result a;
  if (find_run(c, &rd, &a))
    return a;
  cJSON *doc = NULL;
  int rc;
  const char *compare = srv_arg(c, "compareTo");
  switch (c->r.id) {
  case R_RUN: {
    const char *view = srv_arg(c, "view");
    if (view && strcmp(view, "summary") != 0 && strcmp(view, "full") != 0) {
      cairn_reader_end(rd.r);
      return srv_error(c, 400, "view takes full (the default) or summary",
                       "GET /v1/runs/{id}?view=summary");
    }
    present_show_opts so = {.summary = view && strcmp(view, "summary") == 0};
    rc = present_show(rd.r, c->s->o.home, &rd.info, &so, &doc);
    break;
  }
  case R_STEP: {
    present_show_opts so = {.step = c->r.b};
    rc = present_show(rd.r, c->s->o.home, &rd.info, &so, &doc);
    if (rc == CAIRN_ENOTFOUND)
      snprintf(rd.err, sizeof rd.err, "run %s has no step %s",
               rd.info.run_id, c->r.b);
    break;
  }
  case R_RESULT:
    rc = present_result(rd.r, &rd.info, &doc);
    break;
  case R_LINEAGE:
    rc = present_lineage(rd.r, &rd.info, &doc);
    break;
  case R_EXPORT:
    doc = present_export(c->s->o.home, rd.r, &rd.info, &rc);
    break;
  case R_DIFF:
    if (compare == NULL) {
      cairn_reader_end(rd.r);
      return srv_error(c, 400, "a diff needs ?compareTo=RUN_ID",
                       "GET /v1/runs/{id}/diff?compareTo={other}");
    }
    rc = present_diff(rd.r, c->ns, rd.info.run_id, compare, &doc, rd.err,
                      sizeof rd.err);
    break;
  default:
    rc = CAIRN_EINTERNAL;
  }
  cairn_reader_end(rd.r);
  if (rc)
    return srv_fail(c, rc, rd.err);
  return srv_json(c, 200, doc);
}

static enum MHD_Result history(conn *c) {
  reading rd = {0};
  enum MHD_Result a;
  uint32_t after = 0, limit = 1000;
  const char *sa = srv_arg(c, "after"), *sl = srv_arg(c, "limit");
  if ((sa && !parse_u32(sa, &after)) ||
      (sl && (!parse_u32(sl, &limit) || limit == 0 || limit > 10000)))
    return srv_error(c, 400, "after takes a seq and limit "
                     "1..10000", "GET /v1/runs/{id}/history?after=SEQ");
  if (find_run(c, &rd, &a))
    return a;
  cairn_history *it;
  cairn_event ev;
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "run_id", rd.info.run_id);
  cJSON *arr = cJSON_AddArrayToObject(doc, "events");
  uint32_t last = after, n = 0;
  bool more = false;
  int rc = cairn_reader_history(rd.r, rd.info.key, after + 1, &it);
  if (rc == 0) {
    while (cairn_history_next(it, &ev) == 1) {
      if (n == limit) {
        more = true;
        break;
      }
      cJSON_AddItemToArray(arr, present_event(&ev));
      last = ev.seq;
      n++;
    }
    cairn_history_close(it);
  }
  cairn_reader_end(rd.r);
  if (rc) {
    cJSON_Delete(doc);
    return srv_fail(c, rc, NULL);
  }
  if (more)
    cJSON_AddNumberToObject(doc, "next_after", last);
  else
    cJSON_AddNullToObject(doc, "next_after");
  return srv_json(c, 200, doc);
}

static enum MHD_Result events(conn *c) {
  reading rd = {0};
  enum MHD_Result a;
  uint32_t after = 0;
  const char *sa = srv_arg(c, "after");
  if (sa && !parse_u32(sa, &after))
    return srv_error(c, 400, "after takes a seq (0, 1, ...)",
                     NULL);
  if (find_run(c, &rd, &a))
    return a;
  uint64_t key = rd.info.key;
  cairn_reader_end(rd.r);
  return events_run(c, key, after);
}

static bool definition_name(cairn_reader *r, const char *hash,
                            const char *want) {
  char ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version;
  return cairn_reader_definition_of_hash(r, hash, ns, name, &version) == 0 &&
         strcmp(name, want) == 0;
}

static enum MHD_Result runs(conn *c) {
  const char *follow = srv_arg(c, "follow");
  if (follow && strcmp(follow, "1") == 0)
    return events_follow(c);
  cairn_run_filter f = {.ns = c->ns};
  const char *st = srv_arg(c, "status"), *wf = srv_arg(c, "workflow");
  const char *since = srv_arg(c, "since"), *until = srv_arg(c, "until");
  const char *origin = srv_arg(c, "origin"), *cursor = srv_arg(c, "cursor");
  const char *sl = srv_arg(c, "limit");
  uint32_t limit = LIST_DEFAULT;
  int64_t since_us = 0, until_us = 0;
  f.workflow_id = srv_arg(c, "workflow_id");
  if (st && (f.status = cairn_run_status_from_name(st)) == 0)
    return srv_error(c, 400, "status takes running, completed, "
                     "failed, cancelled or terminated", NULL);
  if (sl && (!parse_u32(sl, &limit) || limit == 0 || limit > LIST_MAX))
    return srv_error(c, 400, "limit takes 1..1000", NULL);
  if ((since && (since_us = present_parse_time(since)) == 0) ||
      (until && (until_us = present_parse_time(until)) == 0))
    return srv_error(c, 400, "since and until take an RFC 3339 "
                     "time (2026-11-21T06:00:00Z) or an age (15m, 2h, 7d)",
                     NULL);
  if (origin && strcmp(origin, "start") != 0 && strcmp(origin, "reset") != 0
      && strcmp(origin, "rerun") != 0 && strcmp(origin, "replay") != 0)
    return srv_error(c, 400, "origin takes start, reset, rerun "
                     "or replay", NULL);
  cairn_reader *r;
  cairn_run_info *all = calloc(LIST_WINDOW, sizeof *all);
  size_t n = 0;
  int rc = all ? cairn_reader_begin(c->s->j, &r) : CAIRN_ENOMEM;
  if (rc) {
    free(all);
    return srv_fail(c, rc, NULL);
  }
  rc = cairn_reader_runs(r, &f, all, LIST_WINDOW, &n);
  cJSON *doc = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(doc, "runs");
  size_t i = 0, shown = 0;
  if (cursor) { /* the page after the run named by the cursor */
    while (i < n && strcmp(all[i].run_id, cursor) != 0)
      i++;
    i = i < n ? i + 1 : n;
  }
  const char *next = NULL;
  for (; rc == 0 && i < n; i++) {
    const cairn_run_info *x = &all[i];
    if ((since_us && x->created_us < since_us) ||
        (until_us && x->created_us > until_us) ||
        (origin && strcmp(cairn_origin_kind_name(x->origin_kind), origin)) ||
        (wf && !definition_name(r, x->def_hash, wf)))
      continue;
    if (shown == limit) {
      next = all[i - 1].run_id;
      break;
    }
    cJSON_AddItemToArray(arr, present_run_entry(r, x));
    shown++;
    next = NULL;
  }
  if (next)
    cJSON_AddStringToObject(doc, "next_cursor", next);
  else
    cJSON_AddNullToObject(doc, "next_cursor");
  cairn_reader_end(r);
  free(all);
  if (rc) {
    cJSON_Delete(doc);
    return srv_fail(c, rc, NULL);
  }
  return srv_json(c, 200, doc);
}

static int on_name(void *p, cairn_str name, uint32_t versions,
                   const char *hash) {
  cJSON_AddItemToArray(p, present_workflow_name(name, versions, hash));
  return 0;
}

static enum MHD_Result workflows(conn *c) {
  cairn_reader *r;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc)
    return srv_fail(c, rc, NULL);
  cJSON *doc = cJSON_CreateObject();
  rc = cairn_reader_definition_names(r, c->ns, on_name,
                                     cJSON_AddArrayToObject(doc, "workflows"));
  cairn_reader_end(r);
  if (rc) {
    cJSON_Delete(doc);
    return srv_fail(c, rc, NULL);
  }
  return srv_json(c, 200, doc);
}

static enum MHD_Result workflow(conn *c) {
  uint32_t version = 0;
  const char *v = c->r.id == R_VERSION ? c->r.b : srv_arg(c, "version");
  if (v && (!parse_u32(v, &version) || version == 0))
    return srv_error(c, 400, "a version is 1, 2, ...", NULL);
  cairn_reader *r;
  char err[600] = "";
  cJSON *doc = NULL;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc)
    return srv_fail(c, rc, NULL);
  rc = present_workflow_version(r, c->ns, c->r.a, version, &doc, err,
                                sizeof err);
  cairn_reader_end(r);
  return rc ? srv_fail(c, rc, err) : srv_json(c, 200, doc);
}

static enum MHD_Result mapping(conn *c) {
  const char *from = srv_arg(c, "from"), *to = srv_arg(c, "to");
  if (from == NULL || to == NULL)
    return srv_error(c, 400, "a mapping is named by ?from=HASH"
                     "&to=HASH (definition hashes)", NULL);
  cairn_reader *r;
  cairn_str json;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc)
    return srv_fail(c, rc, NULL);
  rc = cairn_reader_mapping(r, from, to, &json);
  cJSON *doc = NULL;
  if (rc == 0) {
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "from", from);
    cJSON_AddStringToObject(doc, "to", to);
    present_add_json_text(doc, "map", json);
  }
  cairn_reader_end(r);
  return rc ? srv_fail(c, rc, rc == CAIRN_ENOTFOUND
                                  ? "no mapping is saved between these "
                                    "definitions"
                                  : NULL)
            : srv_json(c, 200, doc);
}

typedef struct audit_ctx {
  const char *workflow, *action;
  const char *ns;
  int64_t since_us;
  size_t limit, n;
  cJSON *arr;
} audit_ctx;

static bool str_is(cairn_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static int on_record(void *p, const cairn_audit_record *a) {
  audit_ctx *x = p;
  if (a->time_us < x->since_us || !str_is(a->ns, x->ns) ||
      (x->workflow && !str_is(a->workflow_id, x->workflow)) ||
      (x->action && !str_is(a->action, x->action)))
    return 0;
  cJSON_AddItemToArray(x->arr, present_audit_record(a));
  return ++x->n >= x->limit;
}

static enum MHD_Result audit(conn *c) {
  audit_ctx x = {.workflow = srv_arg(c, "workflow"),
                 .action = srv_arg(c, "action"), .ns = c->ns,
                 .limit = LIST_MAX};
  const char *since = srv_arg(c, "since"), *sl = srv_arg(c, "limit");
  uint32_t limit;
  if (since && (x.since_us = present_parse_time(since)) == 0)
    return srv_error(c, 400, "since takes an RFC 3339 time or "
                     "an age (15m, 2h, 7d)", NULL);
  if (sl && (!parse_u32(sl, &limit) || limit == 0 || limit > LIST_MAX))
    return srv_error(c, 400, "limit takes 1..1000", NULL);
  if (sl)
    x.limit = limit;
  cairn_reader *r;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc)
    return srv_fail(c, rc, NULL);
  cJSON *doc = cJSON_CreateObject();
  x.arr = cJSON_AddArrayToObject(doc, "records");
  rc = cairn_reader_audit(r, 0, on_record, &x);
  cairn_reader_end(r);
  if (rc) {
    cJSON_Delete(doc);
    return srv_fail(c, rc, NULL);
  }
  return srv_json(c, 200, doc);
}

/* ------------------------------------------------------------- prompts */

static enum MHD_Result prompts(conn *c) {
  uint32_t limit = LIST_DEFAULT;
  const char *sl = srv_arg(c, "limit");
  if (sl && (!parse_u32(sl, &limit) || limit == 0 || limit > LIST_MAX))
    return srv_error(c, 400, "limit takes 1..1000", "GET /v1/prompts?limit=N"
                     "&after=ID");
  cairn_reader *r;
  cJSON *doc = NULL;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc == 0) {
    rc = present_prompts(r, c->ns, srv_arg(c, "after"), limit, &doc);
    cairn_reader_end(r);
  }
  if (rc)
    return srv_fail(c, rc, cairn_journal_errmsg(c->s->j));
  return srv_json(c, 200, doc);
}

static enum MHD_Result prompt(conn *c) {
  cairn_reader *r;
  cairn_prompt p;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc)
    return srv_fail(c, rc, cairn_journal_errmsg(c->s->j));
  rc = cairn_reader_prompt(r, c->ns, c->r.a, &p);
  cJSON *doc = rc ? NULL : present_prompt(r, &p, true);
  if (rc == 0)
    cairn_prompt_free(&p);
  cairn_reader_end(r);
  if (rc)
    return srv_fail(c, rc, cairn_journal_errmsg(c->s->j));
  return srv_json(c, 200, doc);
}

/* GET /v1/assets: the catalogue, a page at a time. */
static enum MHD_Result assets(conn *c) {
  const char *limit = srv_arg(c, "limit"), *stale = srv_arg(c, "stale");
  char *end = NULL;
  long n = limit ? strtol(limit, &end, 10) : 100;
  if (limit && (*end || n < 1 || n > 1000))
    return srv_error(c, 400, "limit must be a count from 1 to 1000", NULL);
  cairn_reader *r;
  cJSON *doc = NULL;
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc == 0) {
    rc = present_assets(r, c->ns, srv_arg(c, "prefix"), srv_arg(c, "after"),
                        (size_t)n, stale && strcmp(stale, "0") != 0, &doc);
    cairn_reader_end(r);
  }
  if (rc == CAIRN_EINVAL)
    return srv_error(c, 400, "after is not a cursor of this listing (too "
                     "long); give the `next` of the previous page", NULL);
  if (rc)
    return srv_fail(c, rc, cairn_journal_errmsg(c->s->j));
  return srv_json(c, 200, doc);
}

/* GET /v1/assets/{key}: the latest, or with ?view=history every version. */
static enum MHD_Result asset(conn *c) {
  const char *view = srv_arg(c, "view"), *part = srv_arg(c, "partition");
  bool history = view && strcmp(view, "history") == 0;
  if (view && !history && strcmp(view, "latest") != 0)
    return srv_error(c, 400, "view is latest (the default) or history",
                     NULL);
  cairn_reader *r;
  cJSON *doc = NULL;
  char err[600];
  int rc = cairn_reader_begin(c->s->j, &r);
  if (rc == 0) {
    rc = history ? present_asset_history(r, c->ns, c->r.a, part, &doc)
                 : present_asset_show(r, c->ns, c->r.a, part, &doc);
    snprintf(err, sizeof err, "%s", cairn_journal_errmsg(c->s->j));
    cairn_reader_end(r);
  }
  if (rc)
    return srv_fail(c, rc, err);
  return srv_json(c, 200, doc);
}

static enum MHD_Result add_prompt(conn *c, const cJSON *body) {
  static const char *const known[] = {"id", "text", NULL};
  char err[300];
  bool bad_id = false, bad_text = false;
  if (body == NULL)
    return srv_error(c, 400, "a prompt needs a body: {\"id\": NAME, "
                     "\"text\": TEXT}", NULL);
  if (request_known(body, known, err, sizeof err))
    return srv_error(c, 400, err, NULL);
  const char *id = request_str(body, "id", &bad_id);
  const char *text = request_str(body, "text", &bad_text);
  if (bad_id || id == NULL || bad_text || text == NULL)
    return srv_error(c, 400, "a prompt is {\"id\": \"NAME\" or "
                     "\"prompt_NAME\", \"text\": \"...\"}, both strings",
                     NULL);
  cairn_prompt_added out;
  int rc = cairn_engine_prompt_add(c->s->e, id, text, &out);
  if (rc)
    return srv_fail(c, rc, cairn_engine_errmsg(c->s->e));
  return srv_json(c, out.added ? 201 : 200, present_prompt_added(&out));
}

/* ------------------------------------------------------------- writing */

static enum MHD_Result reg(conn *c, const cJSON *body) {
  char hash[CAIRN_HASH_HEX_LEN + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version = 0;
  if (body == NULL)
    return srv_error(c, 400, "POST the definition as the body",
                     "docs/definitions.md describes one");
  char *json = cJSON_PrintUnformatted(body);
  int rc = json ? cairn_engine_register(c->s->e, json, strlen(json), hash,
                                        &version, name)
                : CAIRN_ENOMEM;
  free(json);
  if (rc)
    return srv_fail(c, rc, cairn_engine_errmsg(c->s->e));
  return srv_json(c, 201, present_registered(name, version, hash));
}

static enum MHD_Result def_state(conn *c, const cJSON *body) {
  uint32_t version = 0;
  int op = c->r.id == R_PAUSE ? CAIRN_DEF_PAUSE : c->r.id == R_UNPAUSE
                                                      ? CAIRN_DEF_UNPAUSE
                                                      : CAIRN_DEF_DELETE;
  if (op == CAIRN_DEF_DELETE && (!parse_u32(c->r.b, &version) ||
                                 version == 0))
    return srv_error(c, 400, "a version is 1, 2, ...", NULL);
  static const char *const known[] = {"reason", NULL};
  char err[300];
  bool bad = false;
  if (request_known(body, known, err, sizeof err))
    return srv_error(c, 400, err, NULL);
  const char *reason = request_str(body, "reason", &bad);
  if (bad)
    return srv_error(c, 400, "reason is a string", NULL);
  if (reason == NULL)
    reason = srv_arg(c, "reason");
  int rc = cairn_engine_definition_state(c->s->e, c->r.a, op, version,
                                         reason);
  if (rc)
    return srv_fail(c, rc, cairn_engine_errmsg(c->s->e));
  static const char *const action[] = {"", "workflow.pause",
                                       "workflow.unpause", "workflow.delete"};
  return srv_json(c, 200,
                  present_definition_changed(c->r.a, action[op], version));
}

static void on_started(void *ctx, int rc, const cairn_start_result *res,
                       const char *errmsg) {
  conn *c = ctx;
  if (rc == 0) {
    if (!res->existed && !c->s->o.no_worker)
      cairn_engine_adopt(c->s->e, res->run_id);
    srv_answer(c, res->existed ? 200 : 201, present_started(res));
    return;
  }
  srv_answer(c, request_status_of(rc), srv_error_doc(rc, errmsg));
}

/* The workflow id an Idempotency-Key names: the same key in a namespace
 * always names the same workflow id, so a retried start attaches. */
static void keyed_id(const char *ns, const char *name, const char *key,
                     char *out, size_t len) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_MD_CTX *x = EVP_MD_CTX_new();
  EVP_DigestInit_ex(x, EVP_sha256(), NULL);
  EVP_DigestUpdate(x, ns, strlen(ns) + 1);
  EVP_DigestUpdate(x, key, strlen(key));
  EVP_DigestFinal_ex(x, md, &n);
  EVP_MD_CTX_free(x);
  int k = snprintf(out, len, "%.150s-", name);
  for (int i = 0; i < 8 && k > 0 && (size_t)k + 2 < len; i++, k += 2)
    snprintf(out + k, len - (size_t)k, "%02x", md[i]);
}

static enum MHD_Result start(conn *c, const cJSON *body) {
  cairn_start_request req;
  uint32_t version;
  char *input = NULL, err[600] = "", wid[CAIRN_WORKFLOW_ID_MAX + 1];
  char *def = NULL;
  unsigned st = request_start(body, &req, &version, &input, err, sizeof err);
  if (st) {
    free(input);
    return srv_error(c, st, err, "POST {\"workflow\": NAME, "
                     "\"input\": {...}}");
  }
  const char *key = MHD_lookup_connection_value(c->c, MHD_HEADER_KIND,
                                                "Idempotency-Key");
  if (key && req.workflow_id == NULL) {
    if (*key == '\0' || strlen(key) > 255) {
      free(input);
      return srv_error(c, 400, "an Idempotency-Key is 1..255 "
                       "bytes", NULL);
    }
    keyed_id(c->ns, req.name, key, wid, sizeof wid);
    req.workflow_id = wid;
  }
  if (version) { /* a stored version other than the latest */
    cairn_reader *r;
    cJSON *doc = NULL;
    int rc = cairn_reader_begin(c->s->j, &r);
    if (rc == 0) {
      rc = present_workflow_version(r, c->ns, req.name, version, &doc, err,
                                    sizeof err);
      cairn_reader_end(r);
    }
    if (rc == 0 && cJSON_IsTrue(cJSON_GetObjectItem(doc, "deleted"))) {
      snprintf(err, sizeof err, "version %u of workflow %s was deleted",
               version, req.name);
      rc = CAIRN_ECONFLICT;
    }
    if (rc == 0)
      def = cJSON_PrintUnformatted(cJSON_GetObjectItem(doc, "definition"));
    cJSON_Delete(doc);
    if (rc) {
      free(input);
      return srv_fail(c, rc, err);
    }
    req.definition = def;
  }
  req.execute = !c->s->o.no_worker;
  int rc = cairn_engine_start_async(c->s->e, &req, on_started, c);
  free(input);
  free(def);
  if (rc)
    return srv_fail(c, rc, cairn_engine_errmsg(c->s->e));
  srv_wait(c);
  return MHD_YES;
}

static enum MHD_Result control(conn *c, const cJSON *body) {
  static const char *const sig[] = {"name", "data", "reason", "request_id",
                                    NULL};
  static const char *const stop[] = {"reason", "request_id", NULL};
  char err[400];
  if (request_known(body, c->r.id == R_SIGNAL ? sig : stop, err, sizeof err))
    return srv_error(c, 400, err, NULL);
  bool bad = false;
  const char *reason = request_str(body, "reason", &bad);
  const char *rid = request_str(body, "request_id", &bad);
  const char *name = request_str(body, "name", &bad);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(body, "data");
  if (bad)
    return srv_error(c, 400, "reason, request_id and name are "
                     "strings", NULL);
  reading rd = {0};
  enum MHD_Result a;
  if (find_run(c, &rd, &a))
    return a;
  char run_id[CAIRN_RUN_ID_LEN + 1];
  memcpy(run_id, rd.info.run_id, sizeof run_id);
  bool repeated = false;
  cairn_audit_record rec;
  const char *action = c->r.id == R_SIGNAL   ? "signal"
                       : c->r.id == R_CANCEL ? "cancel"
                                             : "terminate";
  if (rid && cairn_reader_request(rd.r, c->ns, rid, &rec) == 0 &&
      str_is(rec.action, action))
    repeated = true;
  cairn_reader_end(rd.r);
  int rc;
  if (c->r.id == R_SIGNAL) {
    if (name == NULL)
      return srv_error(c, 400, "a signal needs a \"name\"",
                       "POST {\"name\": \"approve\", \"data\": {...}}");
    char *d = data ? cJSON_PrintUnformatted(data) : NULL;
    rc = cairn_engine_signal(c->s->e, run_id, name, d, reason, rid);
    free(d);
  }
  else {
    rc = cairn_engine_cancel(c->s->e, run_id, c->r.id == R_TERMINATE,
                             reason, rid);
  }
  if (rc)
    return srv_fail(c, rc, cairn_engine_errmsg(c->s->e));
  cJSON *doc = present_acted(run_id, action, repeated);
  cJSON_AddStringToObject(doc, "run_id", run_id);
  return srv_json(c, 200, doc);
}

static enum MHD_Result fork_run(conn *c, const cJSON *body) {
  cairn_fork_request req = {0};
  request_strs maps = {0}, ov = {0}, owned = {0};
  char err[600] = "";
  uint32_t def_version = 0;
  const char *verb = c->r.id == R_RESET ? "reset" : c->r.id == R_RERUN
                                                        ? "rerun"
                                                        : "replay";
  req.kind = c->r.id == R_RESET   ? CAIRN_FORK_RESET
             : c->r.id == R_RERUN ? CAIRN_FORK_RERUN_FROM
                                  : CAIRN_FORK_REPLAY;
  unsigned st = request_fork(body, &req, &maps, &ov, &owned, &def_version,
                             err, sizeof err);
  enum MHD_Result a;
  reading rd = {0};
  if (st) {
    a = srv_error(c, st, err, "docs/api.md, \"Control\"");
    goto out;
  }
  if (req.kind != CAIRN_FORK_REPLAY && req.step == NULL) {
    a = srv_error(c, 400, c->r.id == R_RESET
                      ? "a reset needs \"step\": the last step to keep"
                      : "a rerun needs \"from_step\" (rerun it and its "
                        "downstream) or \"step\" (one step, same run)",
                  NULL);
    goto out;
  }
  if (find_run(c, &rd, &a))
    goto out;
  req.id = rd.info.run_id;
  if (def_version) { /* replay on a stored version of its name */
    char ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
    uint32_t v;
    cJSON *doc = NULL;
    int rc = cairn_reader_definition_of_hash(rd.r, rd.info.def_hash, ns,
                                             name, &v);
    if (rc == 0)
      rc = present_workflow_version(rd.r, c->ns, name, def_version, &doc,
                                    err, sizeof err);
    if (rc) {
      cairn_reader_end(rd.r);
      a = srv_fail(c, rc, err);
      goto out;
    }
    char *json = cJSON_PrintUnformatted(cJSON_GetObjectItem(doc,
                                                            "definition"));
    cJSON_Delete(doc);
    if (json == NULL || request_strs_add(&owned, json) != 0) {
      cairn_reader_end(rd.r);
      a = srv_fail(c, CAIRN_ENOMEM, NULL);
      goto out;
    }
    req.definition = json;
  }
  /* copy the id before the snapshot ends */
  char run_id[CAIRN_RUN_ID_LEN + 1];
  memcpy(run_id, rd.info.run_id, sizeof run_id);
  req.id = run_id;
  cairn_reader_end(rd.r);
  req.execute = !c->s->o.no_worker;
  cairn_fork_result res = {0};
  int rc = cairn_engine_fork(c->s->e, &req, &res);
  if (rc) {
    cJSON *doc = srv_error_doc(rc, cairn_engine_errmsg(c->s->e));
    cJSON *list = res.stale_assets ? cJSON_Parse(res.stale_assets) : NULL;
    if (list) /* a refused replay: every stale asset, in the body */
      cJSON_AddItemToObject(cJSON_GetObjectItem(doc, "error"),
                            "stale_assets", list);
    cairn_fork_result_free(&res);
    a = srv_json(c, request_status_of(rc), doc);
    goto out;
  }
  if (req.execute && !res.repeated)
    cairn_engine_adopt(c->s->e, res.run_id);
  cJSON *doc = present_forked(&res, req.kind == CAIRN_FORK_RERUN_STEP
                                        ? "rerun" : verb, req.reason);
  bool repeated = res.repeated;
  cairn_fork_result_free(&res);
  a = srv_json(c, repeated ? 200 : 201, doc);
out:
  request_strs_free(&maps);
  request_strs_free(&ov);
  request_strs_free(&owned);
  return a;
}

enum MHD_Result api_handle(conn *c, cJSON *body) {
  switch (c->r.id) {
  case R_WORKFLOWS: return workflows(c);
  case R_REGISTER: return reg(c, body);
  case R_WORKFLOW:
  case R_VERSION: return workflow(c);
  case R_DELETE_VERSION:
  case R_PAUSE:
  case R_UNPAUSE: return def_state(c, body);
  case R_MAPPING: return mapping(c);
  case R_RUNS: return runs(c);
  case R_START: return start(c, body);
  case R_RUN:
  case R_STEP:
  case R_RESULT:
  case R_LINEAGE:
  case R_EXPORT:
  case R_DIFF: return run_read(c);
  case R_HISTORY: return history(c);
  case R_EVENTS: return events(c);
  case R_SIGNAL:
  case R_CANCEL:
  case R_TERMINATE: return control(c, body);
  case R_RESET:
  case R_RERUN:
  case R_REPLAY: return fork_run(c, body);
  case R_AUDIT: return audit(c);
  case R_PROMPTS: return prompts(c);
  case R_PROMPT: return prompt(c);
  case R_ASSETS: return assets(c);
  case R_ASSET: return asset(c);
  case R_ADD_PROMPT: return add_prompt(c, body);
  default:
    return srv_error(c, 500, "unrouted request", NULL);
  }
}
