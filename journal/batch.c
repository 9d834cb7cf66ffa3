/*
 * batch.c — building a batch: the backend-neutral half of a write.
 *
 * A batch is a list of operations kept in memory until commit. Keeping
 * them (instead of writing into an open transaction as they are added)
 * is what lets a commit be retried whole: LMDB's answer to a full map is
 * "abort, grow, redo the transaction" (shared/notes/deps.md), and a batch
 * can be redone because nothing about it is decided before commit except
 * what the caller chose. Events are encoded when added; their seq, the
 * only part the journal decides, is patched in at commit.
 *
 * Everything is validated here, at the API boundary, so a bad field is
 * reported when added, with the operation and field named.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cairn_batch_new(cairn_journal *j, cairn_batch **out) {
  cairn_batch *b = cairn__calloc(1, sizeof *b);
  if (b == NULL)
    return CAIRN_ENOMEM;
  b->j = j;
  b->failed_op = -1;
  *out = b;
  return 0;
}

void cairn_batch_free(cairn_batch *b) {
  if (b == NULL)
    return;
  for (size_t i = 0; i < b->n_evs; i++)
    free(b->evs[i].buf);
  for (size_t i = 0; i < b->n_ops; i++) {
    free(b->ops[i].json);
    free(b->ops[i].name);
    free(b->ops[i].audit_strs);
  }
  free(b->evs);
  free(b->ops);
  free(b);
}

size_t cairn_batch_size(const cairn_batch *b) { return b->n_ops; }

const char *cairn_batch_failed_run(const cairn_batch *b) {
  if (b->failed_op < 0 || (size_t)b->failed_op >= b->n_ops)
    return NULL;
  const cairn__op *op = &b->ops[b->failed_op];
  if (op->kind != CAIRN__OP_APPEND && op->kind != CAIRN__OP_CREATE_RUN)
    return NULL;
  return op->run_id;
}

size_t cairn_batch_remove_run(cairn_batch *b, const char *run_id) {
  size_t removed = 0;
  if (b->committed || run_id == NULL)
    return 0;
  for (size_t i = 0; i < b->n_ops; i++) {
    cairn__op *op = &b->ops[i];
    if ((op->kind != CAIRN__OP_APPEND && op->kind != CAIRN__OP_CREATE_RUN) ||
        strcmp(op->run_id, run_id) != 0)
      continue;
    for (size_t k = op->ev_first; k < op->ev_first + op->n_events; k++) {
      free(b->evs[k].buf);
      b->evs[k].buf = NULL;
    }
    op->kind = CAIRN__OP_REMOVED;
    op->n_events = 0;
    removed++;
  }
  return removed;
}

static cairn__op *new_op(cairn_batch *b, int kind) {
  if (b->committed) {
    cairn__journal_set_err(b->j, "this batch was committed already; start "
                                 "a new batch with cairn_batch_new");
    return NULL;
  }
  if (b->n_ops == b->cap_ops) {
    size_t cap = b->cap_ops ? 2 * b->cap_ops : 8;
    cairn__op *ops = cairn__realloc(b->ops, cap * sizeof *ops);
    if (ops == NULL)
      return NULL;
    b->ops = ops;
    b->cap_ops = cap;
  }
  cairn__op *op = &b->ops[b->n_ops];
  memset(op, 0, sizeof *op);
  op->kind = kind;
  op->ev_first = b->n_evs;
  return op;
}

/* Encodes and keeps one event for the op being built (b->ops[b->n_ops]). */
static int add_event(cairn_batch *b, const cairn_event *ev) {
  char msg[200];
  cairn_event e = *ev;
  int rc = cairn__event_check(&e, msg, sizeof msg);
  if (rc) {
    cairn__journal_set_err(b->j, "%s", msg);
    return rc;
  }
  if (e.time_us == 0)
    e.time_us = cairn__now_us();
  e.seq = 0;
  if (b->n_evs == b->cap_evs) {
    size_t cap = b->cap_evs ? 2 * b->cap_evs : 16;
    cairn__pending_event *evs = cairn__realloc(b->evs, cap * sizeof *evs);
    if (evs == NULL)
      return CAIRN_ENOMEM;
    b->evs = evs;
    b->cap_evs = cap;
  }
  cairn__pending_event *p = &b->evs[b->n_evs];
  rc = cairn__event_encode(&e, &p->buf, &p->len, &p->seq_off, &p->ev);
  if (rc)
    return rc;
  if (p->len > CAIRN_EVENT_MAX_BYTES) {
    free(p->buf);
    cairn__journal_set_err(b->j, "%s event is %zu bytes; the limit is %u",
                           cairn_event_type_name(e.type), p->len,
                           CAIRN_EVENT_MAX_BYTES);
    return CAIRN_ETOOBIG;
  }
  b->n_evs++;
  return 0;
}

static void drop_events(cairn_batch *b, size_t from) {
  while (b->n_evs > from)
    free(b->evs[--b->n_evs].buf);
}

static int copy_name(cairn_journal *j, const char *what, const char *s,
                     size_t max, char *dst, bool required) {
  if (s == NULL || *s == '\0') {
    if (!required) {
      dst[0] = '\0';
      return 0;
    }
    cairn__journal_set_err(j, "%s is required", what);
    return CAIRN_EINVAL;
  }
  size_t n = strlen(s);
  if (n > max) {
    cairn__journal_set_err(j, "%s is %zu bytes; the limit is %zu", what, n,
                           max);
    return CAIRN_EINVAL;
  }
  memcpy(dst, s, n + 1);
  return 0;
}

static int check_spec(cairn_journal *j, const cairn_run_spec *s,
                      cairn__op *op) {
  int rc;
  const char *ns = s->ns ? s->ns : "default";
  if ((rc = copy_name(j, "namespace", ns, CAIRN_NAMESPACE_MAX, op->ns,
                      true)) ||
      (rc = copy_name(j, "workflow id", s->workflow_id,
                      CAIRN_WORKFLOW_ID_MAX, op->workflow_id, true)))
    return rc;
  if (!cairn__is_hash_hex(s->def_hash)) {
    cairn__journal_set_err(j, "definition hash must be 64 lowercase hex "
                              "characters (a SHA-256)");
    return CAIRN_EINVAL;
  }
  memcpy(op->def_hash, s->def_hash, CAIRN_HASH_HEX_LEN + 1);
  if (cairn_origin_kind_name(s->origin_kind) == NULL) {
    cairn__journal_set_err(j, "unknown origin kind %d", s->origin_kind);
    return CAIRN_EINVAL;
  }
  if ((s->origin_kind != CAIRN_ORIGIN_NONE) != (s->parent_run_id != NULL) ||
      (s->parent_run_id && !cairn__is_uuid(s->parent_run_id))) {
    cairn__journal_set_err(j, "a derived run (reset, rerun, replay) needs "
                              "the parent's run id, and only it has one");
    return CAIRN_EINVAL;
  }
  if (s->run_id && !cairn__is_uuid(s->run_id)) {
    cairn__journal_set_err(j, "run id '%s' is not a UUID", s->run_id);
    return CAIRN_EINVAL;
  }
  return 0;
}

static cairn_str cstr(const char *s) {
  return (cairn_str){s, s ? strlen(s) : 0};
}

int cairn_batch_create_run(cairn_batch *b, const cairn_run_spec *spec,
                           char run_id_out[CAIRN_RUN_ID_LEN + 1]) {
  cairn__op *op = new_op(b, CAIRN__OP_CREATE_RUN);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  int rc = check_spec(b->j, spec, op);
  if (rc)
    return rc;
  if (spec->run_id)
    memcpy(op->run_id, spec->run_id, CAIRN_RUN_ID_LEN + 1);
  else if ((rc = cairn__uuid7(op->run_id)) != 0)
    return rc;
  if (spec->parent_run_id)
    memcpy(op->parent_run_id, spec->parent_run_id, CAIRN_RUN_ID_LEN + 1);
  op->origin_kind = spec->origin_kind;
  op->make_current = spec->make_current;
  op->time_us = spec->time_us ? spec->time_us : cairn__now_us();
  cairn_event ev = {
      .type = CAIRN_EV_RUN_STARTED,
      .time_us = op->time_us,
      .input = spec->input.ptr ? spec->input : cstr("null"),
      .reason = spec->reason,
      .meta = spec->overrides,
      .run_id = cstr(op->run_id),
      .workflow_id = cstr(op->workflow_id),
      .ns = cstr(op->ns),
      .def_hash = cstr(op->def_hash),
      .origin_kind = spec->origin_kind,
      .parent_run_id = cstr(spec->parent_run_id),
      .origin_point = cstr(spec->origin_point),
      .actor = cstr(spec->actor),
      .partition = cstr(spec->partition),
  };
  if (spec->origin_point &&
      strlen(spec->origin_point) > CAIRN_STEP_NAME_MAX) {
    cairn__journal_set_err(b->j, "origin step name is over %d bytes",
                           CAIRN_STEP_NAME_MAX);
    return CAIRN_EINVAL;
  }
  if ((rc = add_event(b, &ev)) != 0)
    return rc;
  op->n_events = 1;
  memcpy(run_id_out, op->run_id, CAIRN_RUN_ID_LEN + 1);
  b->n_ops++;
  return 0;
}

int cairn_batch_append(cairn_batch *b, const char *run_id,
                       const cairn_event *events, size_t n) {
  cairn__op *op = new_op(b, CAIRN__OP_APPEND);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  if (!cairn__is_uuid(run_id)) {
    cairn__journal_set_err(b->j, "run id '%s' is not a UUID",
                           run_id ? run_id : "(null)");
    return CAIRN_EINVAL;
  }
  if (n == 0) {
    cairn__journal_set_err(b->j, "an append needs at least one event");
    return CAIRN_EINVAL;
  }
  memcpy(op->run_id, run_id, CAIRN_RUN_ID_LEN + 1);
  for (size_t i = 0; i < n; i++) {
    int rc;
    if (events[i].type == CAIRN_EV_RUN_STARTED) {
      cairn__journal_set_err(b->j, "run.started is written by "
                                   "cairn_batch_create_run, not appended");
      rc = CAIRN_EINVAL;
    }
    else {
      rc = add_event(b, &events[i]);
    }
    if (rc) {
      drop_events(b, op->ev_first);
      return rc;
    }
  }
  op->n_events = n;
  return (int)b->n_ops++;
}

int cairn_batch_put_definition(cairn_batch *b, const char *ns,
                               const char *name, const char *json,
                               size_t len,
                               char hash_out[CAIRN_HASH_HEX_LEN + 1]) {
  size_t bad = 0;
  cairn__op *op = new_op(b, CAIRN__OP_DEFINITION);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  int rc = copy_name(b->j, "namespace", ns ? ns : "default",
                     CAIRN_NAMESPACE_MAX, op->ns, true);
  if (rc)
    return rc;
  if (name && (strlen(name) == 0 || strlen(name) > CAIRN_WORKFLOW_ID_MAX)) {
    cairn__journal_set_err(b->j, "definition name must be 1..%d bytes",
                           CAIRN_WORKFLOW_ID_MAX);
    return CAIRN_EINVAL;
  }
  rc = cairn__json_canonical(json, len, &op->json, &op->json_len, &bad);
  if (rc == CAIRN_EINVAL) {
    cairn__journal_set_err(b->j, "definition is not valid JSON (near byte "
                                 "%zu), or an object repeats a key", bad);
    return rc;
  }
  if (rc)
    return rc;
  if (name && (op->name = cairn__strdup(name)) == NULL) {
    free(op->json);
    return CAIRN_ENOMEM;
  }
  cairn__sha256_hex(op->json, op->json_len, op->def_hash);
  memcpy(hash_out, op->def_hash, CAIRN_HASH_HEX_LEN + 1);
  return (int)b->n_ops++;
}

/* A request id keys the `requests` database after the record's namespace:
 * both must be free of NUL bytes, and within their limits. */
static int check_request_id(cairn_journal *j, const cairn_audit_record *rec) {
  cairn_str id = rec->request_id, ns = rec->ns;
  if (id.ptr == NULL)
    return 0;
  if (id.len == 0 || id.len > CAIRN__REQUEST_ID_MAX ||
      memchr(id.ptr, 0, id.len) != NULL) {
    cairn__journal_set_err(j, "a request id is 1..%d bytes without NUL; "
                              "this one is %zu bytes",
                           CAIRN__REQUEST_ID_MAX, id.len);
    return CAIRN_EINVAL;
  }
  if (ns.ptr && (ns.len > CAIRN_NAMESPACE_MAX ||
                 memchr(ns.ptr, 0, ns.len) != NULL)) {
    cairn__journal_set_err(j, "the namespace of an audit record with a "
                              "request id is at most %d bytes, without NUL",
                           CAIRN_NAMESPACE_MAX);
    return CAIRN_EINVAL;
  }
  return 0;
}

int cairn_batch_audit(cairn_batch *b, const cairn_audit_record *rec) {
  cairn__op *op = new_op(b, CAIRN__OP_AUDIT);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  if (rec->action.ptr == NULL || rec->action.len == 0) {
    cairn__journal_set_err(b->j, "an audit record needs an action");
    return CAIRN_EINVAL;
  }
  int rc = check_request_id(b->j, rec);
  if (rc)
    return rc;
  const cairn_str *src[] = {&rec->ns, &rec->actor, &rec->action,
                            &rec->workflow_id, &rec->run_id,
                            &rec->new_run_id, &rec->reason,
                            &rec->request_id, &rec->detail};
  cairn_str *dst[] = {&op->audit.ns, &op->audit.actor, &op->audit.action,
                      &op->audit.workflow_id, &op->audit.run_id,
                      &op->audit.new_run_id, &op->audit.reason,
                      &op->audit.request_id, &op->audit.detail};
  enum { N_STRS = sizeof src / sizeof src[0] };
  if (rec->detail.ptr && !cairn__json_valid(rec->detail.ptr,
                                            rec->detail.len)) {
    cairn__journal_set_err(b->j, "an audit record's detail must be JSON");
    return CAIRN_EINVAL;
  }
  size_t total = 0;
  for (size_t i = 0; i < N_STRS; i++)
    total += src[i]->len;
  if ((op->audit_strs = cairn__malloc(total + 1)) == NULL)
    return CAIRN_ENOMEM;
  char *p = op->audit_strs;
  for (size_t i = 0; i < N_STRS; i++) {
    dst[i]->ptr = src[i]->ptr ? p : NULL;
    dst[i]->len = src[i]->len;
    if (src[i]->ptr)
      memcpy(p, src[i]->ptr, src[i]->len);
    p += src[i]->len;
  }
  op->audit.time_us = rec->time_us ? rec->time_us : cairn__now_us();
  b->n_ops++;
  return 0;
}

/* Fills op->ns and op->name (owned) for an operation on a definition
 * name. */
static int def_name_op(cairn_batch *b, cairn__op *op, const char *ns,
                       const char *name) {
  int rc = copy_name(b->j, "namespace", ns ? ns : "default",
                     CAIRN_NAMESPACE_MAX, op->ns, true);
  if (rc)
    return rc;
  if (name == NULL || *name == '\0' ||
      strlen(name) > CAIRN_WORKFLOW_ID_MAX) {
    cairn__journal_set_err(b->j, "definition name must be 1..%d bytes",
                           CAIRN_WORKFLOW_ID_MAX);
    return CAIRN_EINVAL;
  }
  if ((op->name = cairn__strdup(name)) == NULL)
    return CAIRN_ENOMEM;
  return 0;
}

int cairn_batch_pause_definition(cairn_batch *b, const char *ns,
                                 const char *name, bool paused) {
  cairn__op *op = new_op(b, CAIRN__OP_PAUSE_DEFINITION);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  int rc = def_name_op(b, op, ns, name);
  if (rc)
    return rc;
  op->paused = paused;
  b->n_ops++;
  return 0;
}

int cairn_batch_delete_definition(cairn_batch *b, const char *ns,
                                  const char *name, uint32_t version) {
  cairn__op *op = new_op(b, CAIRN__OP_DELETE_DEFINITION);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  if (version == 0) {
    cairn__journal_set_err(b->j, "definition versions are numbered from 1; "
                                 "name the version to delete");
    return CAIRN_EINVAL;
  }
  int rc = def_name_op(b, op, ns, name);
  if (rc)
    return rc;
  op->del_version = version;
  b->n_ops++;
  return 0;
}

int cairn_batch_put_mapping(cairn_batch *b, const char *from_hash,
                            const char *to_hash, const char *json) {
  char why[200];
  cairn__op *op = new_op(b, CAIRN__OP_MAPPING);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  if (!cairn__is_hash_hex(from_hash) || !cairn__is_hash_hex(to_hash)) {
    cairn__journal_set_err(b->j, "a mapping joins two definition hashes, "
                                 "each 64 lowercase hex characters");
    return CAIRN_EINVAL;
  }
  if (json == NULL) {
    cairn__journal_set_err(b->j, "a mapping needs its JSON object");
    return CAIRN_EINVAL;
  }
  int rc = cairn__json_string_map(json, strlen(json), &op->json,
                                  &op->json_len, why, sizeof why);
  if (rc == CAIRN_EINVAL)
    cairn__journal_set_err(b->j, "%s", why);
  if (rc)
    return rc;
  memcpy(op->def_hash, from_hash, CAIRN_HASH_HEX_LEN + 1);
  memcpy(op->to_hash, to_hash, CAIRN_HASH_HEX_LEN + 1);
  b->n_ops++;
  return 0;
}

int cairn_batch_put_prompt(cairn_batch *b, const char *ns, const char *id,
                           const char *workflow, const char *step,
                           const char *def_hash, const char *text,
                           char hash_out[CAIRN_HASH_HEX_LEN + 1]) {
  char why[300];
  cairn__op *op = new_op(b, CAIRN__OP_PROMPT);
  if (op == NULL)
    return b->committed ? CAIRN_EINVAL : CAIRN_ENOMEM;
  int rc = cairn__prompt_id_check(id, workflow && *workflow, why, sizeof why);
  if (rc) {
    cairn__journal_set_err(b->j, "%s", why);
    return rc;
  }
  if (text == NULL || strlen(text) > CAIRN_PROMPT_TEXT_MAX) {
    cairn__journal_set_err(b->j, "a prompt is a text of at most %u bytes",
                           CAIRN_PROMPT_TEXT_MAX);
    return CAIRN_EINVAL;
  }
  if (def_hash && *def_hash && !cairn__is_hash_hex(def_hash)) {
    cairn__journal_set_err(b->j, "a prompt's definition is a hash of 64 "
                                 "lowercase hex characters");
    return CAIRN_EINVAL;
  }
  if ((rc = copy_name(b->j, "namespace", ns ? ns : "default",
                      CAIRN_NAMESPACE_MAX, op->ns, true)) ||
      (rc = copy_name(b->j, "a prompt's workflow", workflow,
                      CAIRN_WORKFLOW_ID_MAX, op->workflow_id, false)) ||
      (rc = copy_name(b->j, "a prompt's step", step, CAIRN_STEP_NAME_MAX,
                      op->step, false)))
    return rc;
  op->json_len = strlen(text);
  if ((op->name = cairn__strdup(id)) == NULL ||
      (op->json = cairn__strdup(text)) == NULL) {
    free(op->name);
    op->name = NULL;
    return CAIRN_ENOMEM;
  }
  snprintf(op->def_hash, sizeof op->def_hash, "%s", def_hash ? def_hash : "");
  cairn__sha256_hex(text, op->json_len, op->to_hash);
  if (hash_out)
    memcpy(hash_out, op->to_hash, CAIRN_HASH_HEX_LEN + 1);
  op->time_us = cairn__now_us();
  b->n_ops++;
  return 0;
}

int cairn_batch_set_owner(cairn_batch *b, const char *owner,
                          int64_t lease_ms) {
  if (owner == NULL || *owner == '\0' || strlen(owner) > CAIRN_OWNER_MAX ||
      lease_ms <= 0) {
    cairn__journal_set_err(b->j, "a lease owner is 1..%d bytes and a lease "
                                 "lasts more than 0 ms", CAIRN_OWNER_MAX);
    return CAIRN_EINVAL;
  }
  memcpy(b->owner, owner, strlen(owner) + 1);
  b->lease_ms = lease_ms;
  return 0;
}

int cairn_batch_commit(cairn_batch *b) {
  if (b->committed) {
    cairn__journal_set_err(b->j, "this batch was committed already");
    return CAIRN_EINVAL;
  }
  int rc = cairn__backend_commit(b);
  if (rc == 0)
    b->committed = true;
  return rc;
}

uint32_t cairn_batch_first_seq(const cairn_batch *b, int op) {
  if (!b->committed || op < 0 || (size_t)op >= b->n_ops)
    return 0;
  return b->ops[op].first_seq;
}

uint32_t cairn_batch_def_version(const cairn_batch *b, int op) {
  if (!b->committed || op < 0 || (size_t)op >= b->n_ops ||
      b->ops[op].kind != CAIRN__OP_DEFINITION)
    return 0;
  return b->ops[op].version;
}
