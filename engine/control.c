/*
 * control.c — control actions from any process: signal, cancel,
 * terminate. Each is an append to the run's history (allowed whoever
 * holds the lease: control is not execution) plus an audit record, in one
 * transaction. The worker executing the run sees the event when it polls
 * and acts on it: a waiting step consumes the signal; a cancelled or
 * terminated run has its steps in flight killed.
 */
#include "engine_internal.h"

#include <stdio.h>
#include <string.h>

static cairn_str S(const char *s) { return (cairn_str){s, s ? strlen(s) : 0}; }

/* The run `id` names: a run id, or a workflow id (its current run). */
static int find(cairn_engine *e, const char *id, cairn_run_info *info) {
  cairn_reader *r;
  cairn_workflow_info w;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_run_by_id(r, id, info);
  if (rc == CAIRN_ENOTFOUND) {
    rc = cairn_reader_workflow(r, e->ns, id, &w);
    if (rc == 0)
      rc = cairn_reader_run_by_key(r, w.current, info);
  }
  cairn_reader_end(r);
  if (rc == 0 && strcmp(info->ns, e->ns) != 0) {
    cairn__engine_err(e, "run %s belongs to namespace %s; act on it with "
                      "--namespace %s", info->run_id, info->ns, info->ns);
    return CAIRN_EFORBIDDEN;
  }
  if (rc == CAIRN_ENOTFOUND)
    cairn__engine_err(e, "no run or workflow has id %s in namespace %s; "
                      "check the id, --namespace and --home", id, e->ns);
  else if (rc)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  else if (cairn_run_status_is_final(info->status)) {
    cairn__engine_err(e, "run %s of workflow %s has already ended (%s); "
                      "nothing to do", info->run_id, info->workflow_id,
                      cairn_run_status_name(info->status));
    rc = CAIRN_ECONFLICT;
  }
  return rc;
}

int cairn__request_check(cairn_engine *e, const char *rid,
                         const char *action) {
  cairn_reader *r;
  cairn_audit_record a;
  int rc = 0;
  if (rid == NULL || cairn_reader_begin(e->j, &r) != 0)
    return 0;
  if (cairn_reader_request(r, e->ns, rid, &a) == 0) {
    rc = 1;
    if (a.action.len != strlen(action) ||
        memcmp(a.action.ptr, action, a.action.len) != 0) {
      cairn__engine_err(e, "request id %s was used for %.*s on %.*s; give "
                        "this %s its own request id", rid, (int)a.action.len,
                        a.action.ptr, (int)a.workflow_id.len,
                        a.workflow_id.ptr ? a.workflow_id.ptr : "", action);
      rc = CAIRN_ECONFLICT;
    }
  }
  cairn_reader_end(r);
  return rc;
}

static int act(cairn_engine *e, const cairn_run_info *info,
               const cairn_event *ev, const char *action,
               const char *reason, const char *rid) {
  cairn_batch *b;
  const char *actor = cairn__engine_actor(e);
  cairn_audit_record a = {.ns = S(info->ns), .actor = S(actor),
                          .action = S(action),
                          .workflow_id = S(info->workflow_id),
                          .run_id = S(info->run_id), .reason = S(reason),
                          .request_id = S(rid)};
  int rc = cairn_batch_new(e->j, &b);
  if (rc)
    return rc;
  rc = cairn_batch_append(b, info->run_id, ev, 1);
  if (rc >= 0)
    rc = cairn_batch_audit(b, &a);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  if (rc == 0)
    cairn__engine_news(e);
  if (rc == CAIRN_ECONFLICT && cairn__request_check(e, rid, action) == 1)
    rc = 0; /* the same request raced us and won: done once */
  else if (rc)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  cairn_batch_free(b);
  return rc;
}

int cairn_engine_signal(cairn_engine *e, const char *id, const char *name,
                        const char *data, const char *reason,
                        const char *request_id) {
  cairn_run_info info;
  int seen = cairn__request_check(e, request_id, "signal");
  if (seen)
    return seen < 0 ? seen : 0;
  if (name == NULL || *name == '\0') {
    cairn__engine_err(e, "a signal needs a name");
    return CAIRN_EINVAL;
  }
  if (data && !cairn__json_valid_text(data)) {
    cairn__engine_err(e, "the signal's data is not valid JSON");
    return CAIRN_EINVAL;
  }
  int rc = find(e, id, &info);
  if (rc)
    return rc;
  cairn_event ev = {.type = CAIRN_EV_SIGNAL_RECEIVED, .name = S(name),
                    .output = S(data ? data : "null"), .reason = S(reason),
                    .actor = S(cairn__engine_actor(e))};
  return act(e, &info, &ev, "signal", reason, request_id);
}

int cairn_engine_cancel(cairn_engine *e, const char *id, bool terminate,
                        const char *reason, const char *request_id) {
  cairn_run_info info;
  int seen = cairn__request_check(e, request_id,
                                  terminate ? "terminate" : "cancel");
  if (seen)
    return seen < 0 ? seen : 0;
  int rc = find(e, id, &info);
  if (rc)
    return rc;
  cairn_event ev = {.type = terminate ? CAIRN_EV_RUN_TERMINATED
                                      : CAIRN_EV_RUN_CANCELLED,
                    .reason = S(reason),
                    .actor = S(cairn__engine_actor(e))};
  return act(e, &info, &ev, terminate ? "terminate" : "cancel", reason,
             request_id);
}
