/*
 * lmdb/write.c — applying a batch in one LMDB write transaction.
 *
 * Group commit: a batch's operations (runs created, events appended,
 * definitions stored, paused or deleted, mappings saved, audit records)
 * land in one transaction, so they are durable together or not at all.
 * Within the transaction each run touched gets one fold state: its run
 * view and run record are read once, every event of the batch is folded
 * into it, and each dirty view record is written once at the end. The
 * cost of an event is therefore a few B-tree operations on that event's
 * own step and attempt, whatever the run's length: nothing is rewritten
 * in proportion to history.
 *
 * Request ids are claimed with KV_NOOVERWRITE in the same transaction as
 * their audit record, so of two batches using one id (from any process)
 * the second always fails, and a failed batch never holds an id.
 *
 * Seqs are assigned here from the run record's last_seq, inside the
 * writer lock LMDB holds across processes, so two processes appending to
 * one run interleave whole batches and never share or skip a number.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- the loader */

static int load_step(void *ctx, uint64_t run, cairn_str name,
                     cairn_step_view *out) {
  cairn__store_loader *l = ctx;
  unsigned char kb[CAIRN__VIEW_KEY_MAX];
  if (!l->from_views)
    return CAIRN_ENOTFOUND;
  cairn__val k = {cairn__view_key(kb, run, VIEW_STEP, name, 0), kb}, v;
  int rc = cairn__kv_get(l->txn, DB_VIEWS, &k, &v);
  if (rc)
    return cairn__kv_err(l->j, rc, "reading a step view");
  if (cairn__step_view_decode(v.data, v.size, out) != 0) {
    cairn__journal_set_err(l->j, "the view of step %.*s of run key %llu is "
                                 "damaged; run `cairn journal rebuild-views`",
                           (int)name.len, name.ptr,
                           (unsigned long long)run);
    return CAIRN_ECORRUPT;
  }
  return 0;
}

static int check_ref(void *ctx, const cairn_event *ev, uint64_t *src,
                     char *why, size_t whylen) {
  cairn__store_loader *l = ctx;
  unsigned char kb[12];
  cairn_event s;
  int rc = cairn__get_run_key(l->j, l->txn, ev->ref_run, src);
  if (rc == CAIRN_ENOTFOUND) {
    cairn__fmt(why, whylen, "the source run %.*s does not exist",
               (int)ev->ref_run.len, ev->ref_run.ptr);
    return rc;
  }
  if (rc)
    return rc;
  cairn__val k = {cairn__event_key(kb, *src, ev->ref_seq), kb}, v;
  rc = cairn__kv_get(l->txn, DB_EVENTS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__fmt(why, whylen, "the source event (run %.*s, seq %u) does not "
               "exist", (int)ev->ref_run.len, ev->ref_run.ptr, ev->ref_seq);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(l->j, rc, "reading a reused step's source");
  if (cairn_event_decode(v.data, v.size, &s, NULL) != 0 ||
      s.type != CAIRN_EV_STEP_COMPLETED) {
    cairn__fmt(why, whylen, "the source event (run %.*s, seq %u) is %s, "
               "not a step.completed; reference the original completion",
               (int)ev->ref_run.len, ev->ref_run.ptr, ev->ref_seq,
               s.type ? cairn_event_type_name(s.type) : "undecodable");
    return CAIRN_ECONFLICT;
  }
  return 0;
}

void cairn__store_loader_init(cairn__store_loader *l, cairn__fold_loader *fl) {
  fl->ctx = l;
  fl->load_step = load_step;
  fl->check_ref = check_ref;
}

/* ------------------------------------------------------ shared readers */

int cairn__get_run(cairn_journal *j, cairn__txn *txn, uint64_t run,
                   cairn__run_rec *out) {
  return cairn__get_run_flags(j, txn, run, out, 0);
}

int cairn__get_run_flags(cairn_journal *j, cairn__txn *txn, uint64_t run,
                         cairn__run_rec *out, unsigned flags) {
  unsigned char kb[8];
  cairn__put_be64(kb, run);
  cairn__val k = {8, kb}, v;
  int rc = txn->kv->get(txn, DB_RUNS, &k, &v, flags);
  if (rc == KV_BUSY)
    return CAIRN_EBUSY;
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(j, "no run has key %llu; an index points at a "
                              "run that is gone: run `cairn journal verify`",
                           (unsigned long long)run);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(j, rc, "reading a run record");
  if (cairn__run_rec_decode(v.data, v.size, out) != 0) {
    cairn__journal_set_err(j, "the record of run key %llu is damaged",
                           (unsigned long long)run);
    return CAIRN_ECORRUPT;
  }
  return 0;
}

int cairn__get_run_key(cairn_journal *j, cairn__txn *txn, cairn_str run_id,
                       uint64_t *key) {
  cairn__val k = {run_id.len, (void *)run_id.ptr}, v;
  int rc = cairn__kv_get(txn, DB_RUN_IDS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(j, "no run has id %.*s; check the id (run ids "
                              "are printed when a run starts)",
                           (int)run_id.len, run_id.ptr);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(j, rc, "looking up a run id");
  if (v.size != 8) {
    cairn__journal_set_err(j, "the index entry of run %.*s is damaged",
                           (int)run_id.len, run_id.ptr);
    return CAIRN_ECORRUPT;
  }
  *key = cairn__get_be64(v.data);
  return 0;
}

/* --------------------------------------------------------- view writes */

static int put_encoded(cairn_journal *j, cairn__txn *txn, cairn__db dbi,
                       const void *kp, size_t kn, char *buf, size_t n,
                       int enc_rc) {
  if (enc_rc)
    return enc_rc;
  cairn__val k = {kn, (void *)kp}, v = {n, buf};
  int rc = cairn__kv_put(txn, dbi, &k, &v, 0);
  free(buf);
  return cairn__kv_err(j, rc, "writing a record");
}

int cairn__fold_flush(cairn_journal *j, cairn__txn *txn, cairn__fold *f) {
  unsigned char kb[CAIRN__VIEW_KEY_MAX];
  char *buf = NULL;
  size_t n = 0;
  int rc;
  cairn__fold_step *s, *tmp;
  HASH_ITER(hh, f->steps, s, tmp) {
    for (size_t i = 0; i < s->n_att; i++) {
      if (!s->att[i].dirty)
        continue;
      size_t kn = cairn__view_key(kb, f->run, VIEW_ATTEMPT, s->v.name,
                                  s->att[i].v.attempt);
      rc = cairn__attempt_view_encode(&s->att[i].v, &buf, &n);
      if ((rc = put_encoded(j, txn, DB_VIEWS, kb, kn, buf, n, rc)) != 0)
        return rc;
      s->att[i].dirty = false;
    }
    if (!s->dirty)
      continue;
    size_t kn = cairn__view_key(kb, f->run, VIEW_STEP, s->v.name, 0);
    rc = cairn__step_view_encode(&s->v, &buf, &n);
    if ((rc = put_encoded(j, txn, DB_VIEWS, kb, kn, buf, n, rc)) != 0)
      return rc;
    s->dirty = false;
  }
  if (!f->v_dirty)
    return 0;
  size_t kn = cairn__view_key(kb, f->run, VIEW_RUN, (cairn_str){NULL, 0}, 0);
  rc = cairn__run_view_encode(&f->v, &buf, &n);
  if ((rc = put_encoded(j, txn, DB_VIEWS, kb, kn, buf, n, rc)) != 0)
    return rc;
  f->v_dirty = false;
  return 0;
}

/* ------------------------------------------------------- the commit */

/* The runs one commit touches: a fold state and the run record each. */
typedef struct touched {
  cairn__fold fold;
  cairn__run_rec rec;
  int status_before;  /* 0 for a run created by this commit */
  UT_hash_handle hh;  /* by fold.run */
} touched;

typedef struct commit_ctx {
  cairn_batch *b;
  touched *runs;
  cairn__store_loader loader;
  cairn__fold_loader fl;
} commit_ctx;

static void free_touched(commit_ctx *c) {
  touched *t, *tmp;
  HASH_ITER(hh, c->runs, t, tmp) {
    HASH_DEL(c->runs, t);
    cairn__fold_free(&t->fold);
    free(t);
  }
}

static int meta_counter(cairn_journal *j, cairn__txn *txn, const char *name,
                        uint64_t *value) {
  cairn__val k = {strlen(name), (void *)name}, v;
  unsigned char be[8];
  int rc = cairn__kv_get(txn, DB_META, &k, &v);
  *value = 1;
  if (rc == 0 && v.size == 8)
    *value = cairn__get_be64(v.data);
  else if (rc != KV_NOTFOUND)
    return rc ? cairn__kv_err(j, rc, "reading a counter") : CAIRN_ECORRUPT;
  cairn__put_be64(be, *value + 1);
  v.size = 8;
  v.data = be;
  return cairn__kv_err(j, cairn__kv_put(txn, DB_META, &k, &v, 0),
                        "writing a counter");
}

static int put_run_rec(cairn_journal *j, cairn__txn *txn,
                       const cairn__run_rec *r) {
  unsigned char kb[8];
  char *buf = NULL;
  size_t n = 0;
  cairn__put_be64(kb, r->info.key);
  int rc = cairn__run_rec_encode(r, &buf, &n);
  return put_encoded(j, txn, DB_RUNS, kb, 8, buf, n, rc);
}

static int status_index(cairn_journal *j, cairn__txn *txn, int status,
                        uint64_t run, bool add) {
  unsigned char kb[9];
  kb[0] = (unsigned char)status;
  cairn__put_be64(kb + 1, run);
  cairn__val k = {9, kb}, v = {0, ""};
  int rc = add ? cairn__kv_put(txn, DB_BY_STATUS, &k, &v, 0)
               : cairn__kv_del(txn, DB_BY_STATUS, &k, NULL);
  return cairn__kv_err(j, rc == KV_NOTFOUND ? 0 : rc,
                        "updating the status index");
}

/* The lease fence of an owned batch: the run must be ours, free, or its
 * lease expired; it becomes (stays) ours until now + lease_ms. */
static int fence(cairn_journal *j, const cairn_batch *b, cairn__run_rec *r) {
  int64_t now = cairn__now_us();
  cairn_run_info *i = &r->info;
  if (b->owner[0] == '\0')
    return 0;
  if (i->lease_owner[0] && strcmp(i->lease_owner, b->owner) != 0 &&
      i->lease_expiry_us > now) {
    cairn__journal_set_err(j, "run %s is leased to %s for %lld ms more; "
                              "only the lease holder executes a run",
                           i->run_id, i->lease_owner,
                           (long long)(i->lease_expiry_us - now) / 1000);
    return CAIRN_ECONFLICT;
  }
  memcpy(i->lease_owner, b->owner, sizeof i->lease_owner);
  i->lease_expiry_us = now + b->lease_ms * 1000;
  return 0;
}

/* The fold state of run `key`, loading its record and view on first use. */
static int touch_run(commit_ctx *c, cairn__txn *txn, uint64_t key,
                     touched **out) {
  cairn_journal *j = c->b->j;
  touched *t;
  HASH_FIND(hh, c->runs, &key, sizeof key, t);
  if (t) {
    *out = t;
    return 0;
  }
  if ((t = cairn__calloc(1, sizeof *t)) == NULL)
    return CAIRN_ENOMEM;
  cairn__fold_init(&t->fold, key, &c->fl);
  int rc = cairn__get_run(j, txn, key, &t->rec);
  if (rc == 0)
    rc = fence(j, c->b, &t->rec);
  unsigned char kb[9];
  cairn__val k = {cairn__view_key(kb, key, VIEW_RUN, (cairn_str){NULL, 0}, 0),
               kb}, v;
  int vrc = rc ? rc : cairn__kv_get(txn, DB_VIEWS, &k, &v);
  if (rc == 0 && vrc == 0) {
    cairn_run_view view;
    if (cairn__run_view_decode(v.data, v.size, &view) != 0) {
      cairn__journal_set_err(j, "the view of run %s is damaged; run `cairn "
                                "journal rebuild-views`", t->rec.info.run_id);
      rc = CAIRN_ECORRUPT;
    }
    else {
      rc = cairn__fold_set_view(&t->fold, &view);
    }
  }
  else if (rc == 0 && vrc != KV_NOTFOUND) {
    rc = cairn__kv_err(j, vrc, "reading a run view");
  }
  if (rc) {
    cairn__fold_free(&t->fold);
    free(t);
    return rc;
  }
  t->status_before = t->rec.info.last_seq ? t->rec.info.status : 0;
  HASH_ADD(hh, c->runs, fold.run, sizeof t->fold.run, t);
  *out = t;
  return 0;
}

static int append_events(commit_ctx *c, cairn__txn *txn, cairn__op *op,
                         uint64_t key) {
  cairn_journal *j = c->b->j;
  touched *t;
  int rc = touch_run(c, txn, key, &t);
  if (rc)
    return rc;
  op->first_seq = t->rec.info.last_seq + 1;
  for (size_t i = 0; i < op->n_events; i++) {
    cairn__pending_event *p = &c->b->evs[op->ev_first + i];
    uint32_t seq = t->rec.info.last_seq + 1;
    cairn_event *ev = &p->ev;
    cairn__event_patch_seq(p->buf, p->seq_off, seq);
    ev->seq = seq;
    if ((rc = cairn__fold_apply(&t->fold, ev)) != 0) {
      cairn__journal_set_err(j, "run %s: %s", t->rec.info.run_id,
                             t->fold.err);
      return rc;
    }
    unsigned char kb[12];
    cairn__val k = {cairn__event_key(kb, key, seq), kb}, v = {p->len, p->buf};
    rc = cairn__kv_put(txn, DB_EVENTS, &k, &v, KV_NOOVERWRITE);
    if (rc == KV_KEYEXIST) {
      cairn__journal_set_err(j, "run %s: event %u exists although the run "
                                "record ends at %u; run `cairn journal "
                                "verify`", t->rec.info.run_id, seq, seq - 1);
      return CAIRN_ECORRUPT;
    }
    if (rc)
      return cairn__kv_err(j, rc, "writing an event");
    t->rec.info.last_seq = seq;
    t->rec.info.updated_us = ev->time_us;
    if (seq == 1)
      t->rec.info.created_us = ev->time_us;
    if (ev->type == CAIRN_EV_ASSET_MATERIALIZED &&
        (rc = cairn__store_put_asset(j, txn, &t->rec.info, ev)) != 0)
      return rc;
    if (ev->type == CAIRN_EV_STEP_REUSED &&
        (rc = cairn__store_put_reused_assets(j, txn, &t->rec.info, ev)) != 0)
      return rc;
  }
  return 0;
}

static int add_to_workflow(cairn_journal *j, cairn__txn *txn, cairn__op *op,
                           uint64_t key) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  cairn__val k = {cairn__name_key(kb, op->ns, op->workflow_id), kb}, v;
  uint64_t current = 0, *runs = NULL;
  size_t n = 0, cap = 0;
  char *buf = NULL;
  int rc = cairn__kv_get(txn, DB_WORKFLOWS, &k, &v);
  if (rc == 0 && cairn__wf_rec_decode(v.data, v.size, &current, &runs,
                                      &n, &cap) != 0) {
    free(runs);
    cairn__journal_set_err(j, "the record of workflow %s is damaged",
                           op->workflow_id);
    return CAIRN_ECORRUPT;
  }
  if (rc != 0 && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "reading a workflow");
  if (rc == 0 && op->origin_kind == CAIRN_ORIGIN_NONE) {
    free(runs);
    cairn__journal_set_err(j, "workflow id %s already exists; a new run "
                              "under it takes a reset, rerun or replay",
                           op->workflow_id);
    return CAIRN_ECONFLICT;
  }
  uint64_t *grown = cairn__realloc(runs, (n + 1) * sizeof *runs);
  if (grown == NULL) {
    free(runs);
    return CAIRN_ENOMEM;
  }
  runs = grown;
  runs[n++] = key;
  if (current == 0 || op->make_current)
    current = key;
  size_t len = 0;
  rc = cairn__wf_rec_encode(current, runs, n, &buf, &len);
  free(runs);
  return put_encoded(j, txn, DB_WORKFLOWS, kb, k.size, buf, len, rc);
}

static int create_run(commit_ctx *c, cairn__txn *txn, cairn__op *op) {
  cairn_journal *j = c->b->j;
  cairn_str id = {op->run_id, CAIRN_RUN_ID_LEN};
  uint64_t key = 0, parent = 0;
  int rc = cairn__get_run_key(j, txn, id, &key);
  if (rc == 0) {
    cairn__journal_set_err(j, "run id %s exists already", op->run_id);
    return CAIRN_ECONFLICT;
  }
  if (rc != CAIRN_ENOTFOUND)
    return rc;
  j->errmsg[0] = '\0'; /* "not found" is what we wanted */
  if (op->origin_kind != CAIRN_ORIGIN_NONE) {
    cairn_str pid = {op->parent_run_id, CAIRN_RUN_ID_LEN};
    cairn__run_rec p;
    if ((rc = cairn__get_run_key(j, txn, pid, &parent)) != 0 ||
        (rc = cairn__get_run(j, txn, parent, &p)) != 0)
      return rc;
    if (strcmp(p.info.workflow_id, op->workflow_id) != 0 ||
        strcmp(p.info.ns, op->ns) != 0) {
      cairn__journal_set_err(j, "the parent run %s belongs to workflow %s; "
                                "a derived run keeps its parent's workflow",
                             op->parent_run_id, p.info.workflow_id);
      return CAIRN_EINVAL;
    }
  }
  if ((rc = meta_counter(j, txn, "next_run", &key)) != 0 ||
      (rc = add_to_workflow(j, txn, op, key)) != 0)
    return rc;
  unsigned char kb[8];
  cairn__put_be64(kb, key);
  cairn__val k = {CAIRN_RUN_ID_LEN, op->run_id}, v = {8, kb};
  if ((rc = cairn__kv_err(j, cairn__kv_put(txn, DB_RUN_IDS, &k, &v, 0),
                           "indexing a run id")) != 0)
    return rc;
  cairn__run_rec r = {0};
  r.info.key = key;
  memcpy(r.info.run_id, op->run_id, sizeof r.info.run_id);
  memcpy(r.info.ns, op->ns, sizeof r.info.ns);
  memcpy(r.info.workflow_id, op->workflow_id, sizeof r.info.workflow_id);
  memcpy(r.info.def_hash, op->def_hash, sizeof r.info.def_hash);
  memcpy(r.info.parent_run_id, op->parent_run_id,
         sizeof r.info.parent_run_id);
  r.info.status = CAIRN_RUN_RUNNING;
  r.info.origin_kind = op->origin_kind;
  r.info.created_us = op->time_us;
  if ((rc = put_run_rec(j, txn, &r)) != 0)
    return rc;
  op->run_key = key;
  return append_events(c, txn, op, key);
}

/* Notes in `def_names` that the snapshot became version op->version of
 * (op->ns, op->name): the way back from a hash to its name. */
static int add_registration(cairn_journal *j, cairn__txn *txn,
                            const cairn__op *op) {
  cairn__val k = {CAIRN_HASH_HEX_LEN, (void *)op->def_hash}, v = {0, NULL};
  cairn__def_reg reg = {{op->ns, strlen(op->ns)},
                        {op->name, strlen(op->name)}, op->version};
  char *buf = NULL;
  size_t n = 0;
  int rc = cairn__kv_get(txn, DB_DEF_NAMES, &k, &v);
  if (rc && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "reading a definition's names");
  rc = cairn__def_regs_append(rc ? NULL : v.data, v.size, &reg, &buf,
                              &n);
  if (rc == CAIRN_EDECODE) {
    cairn__journal_set_err(j, "the name list of definition %s is damaged",
                           op->def_hash);
    return CAIRN_ECORRUPT;
  }
  return put_encoded(j, txn, DB_DEF_NAMES, op->def_hash, CAIRN_HASH_HEX_LEN,
                     buf, n, rc);
}

static int put_definition(cairn_journal *j, cairn__txn *txn, cairn__op *op) {
  cairn__val k = {CAIRN_HASH_HEX_LEN, op->def_hash}, v = {op->json_len,
                                                      op->json};
  int rc = cairn__kv_put(txn, DB_DEFS, &k, &v, KV_NOOVERWRITE);
  if (rc && rc != KV_KEYEXIST)
    return cairn__kv_err(j, rc, "storing a definition");
  op->version = 0;
  if (op->name == NULL)
    return 0;
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  k.size = cairn__name_key(kb, op->ns, op->name);
  k.data = kb;
  uint32_t count = 0;
  rc = cairn__kv_get(txn, DB_NAMES, &k, &v);
  if (rc == 0 && cairn__names_rec_count(v.data, v.size, &count) != 0) {
    cairn__journal_set_err(j, "the version list of %s is damaged", op->name);
    return CAIRN_ECORRUPT;
  }
  if (rc && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "reading definition versions");
  char (*hashes)[CAIRN_HASH_HEX_LEN + 1] =
      cairn__malloc((count + 1) * sizeof *hashes);
  if (hashes == NULL)
    return CAIRN_ENOMEM;
  for (uint32_t i = 0; i < count; i++)
    cairn__names_rec_get(v.data, v.size, i + 1, hashes[i]);
  if (count && strcmp(hashes[count - 1], op->def_hash) == 0) {
    op->version = count; /* unchanged since the latest version */
    free(hashes);
    return 0;
  }
  memcpy(hashes[count], op->def_hash, CAIRN_HASH_HEX_LEN + 1);
  op->version = count + 1;
  char *buf = NULL;
  size_t n = 0;
  rc = cairn__names_rec_encode((const char(*)[CAIRN_HASH_HEX_LEN + 1])hashes,
                               count + 1, &buf, &n);
  free(hashes);
  rc = put_encoded(j, txn, DB_NAMES, kb, k.size, buf, n, rc);
  return rc ? rc : add_registration(j, txn, op);
}

/* The request id of `a` was given to audit record `seq` already: says
 * which action used it, on what. */
static int request_used(cairn_journal *j, cairn__txn *txn,
                        const cairn_audit_record *a, const cairn__val *seq) {
  unsigned char kb[8];
  cairn_audit_record first = {0};
  char on[300] = "";
  cairn__val k = {8, kb}, v;
  if (seq->size != 8) {
    cairn__journal_set_err(j, "the index entry of request id %.*s is "
                              "damaged", (int)a->request_id.len,
                           a->request_id.ptr);
    return CAIRN_ECORRUPT;
  }
  memcpy(kb, seq->data, 8);
  if (cairn__kv_get(txn, DB_AUDIT, &k, &v) != 0 ||
      cairn__audit_decode(v.data, v.size, &first) != 0)
    memset(&first, 0, sizeof first);
  if (first.action.ptr == NULL)
    first.action = (cairn_str){"?", 1};
  if (first.run_id.ptr)
    cairn__fmt(on, sizeof on, " on run %.*s", (int)first.run_id.len,
               first.run_id.ptr);
  else if (first.workflow_id.ptr)
    cairn__fmt(on, sizeof on, " on workflow %.*s",
               (int)first.workflow_id.len, first.workflow_id.ptr);
  cairn__journal_set_err(j, "request id %.*s was used already by action "
                            "%.*s%s (audit record %llu); the first action "
                            "stands: read its result, or give a new "
                            "request id to act again",
                         (int)a->request_id.len, a->request_id.ptr,
                         (int)first.action.len, first.action.ptr, on,
                         (unsigned long long)cairn__get_be64(kb));
  return CAIRN_ECONFLICT;
}

/* Indexes the request id of audit record `a` (numbered already), unless
 * another record of its namespace has it. */
static int put_request(cairn_journal *j, cairn__txn *txn,
                       const cairn_audit_record *a) {
  unsigned char kb[CAIRN__REQUEST_KEY_MAX], seq[8];
  if (a->request_id.ptr == NULL)
    return 0;
  cairn__put_be64(seq, a->seq);
  cairn__val k = {cairn__request_key(kb, a->ns, a->request_id), kb},
          v = {8, seq};
  int rc = cairn__kv_put(txn, DB_REQUESTS, &k, &v, KV_NOOVERWRITE);
  if (rc == KV_KEYEXIST)
    return request_used(j, txn, a, &v); /* v: the existing value */
  return cairn__kv_err(j, rc, "indexing a request id");
}

/* audit_by_action: (namespace, action, time, seq), so "how many resets in
 * this namespace in the last minute" reads only those records. */
static int index_action(cairn_journal *j, cairn__txn *txn,
                        const cairn_audit_record *a) {
  unsigned char kb[CAIRN__ACTION_KEY_MAX];
  size_t n = cairn__action_key(kb, a->ns, a->action, a->time_us, a->seq);
  if (n == 0)
    return 0; /* an action name too long to index: never counted */
  cairn__val k = {n, kb}, v = {0, ""};
  return cairn__kv_err(j, cairn__kv_put(txn, DB_AUDIT_BY_ACTION, &k, &v, 0),
                        "indexing an audit record");
}

static int put_audit(cairn_journal *j, cairn__txn *txn, cairn__op *op) {
  unsigned char kb[8];
  char *buf = NULL;
  size_t n = 0;
  int rc = meta_counter(j, txn, "next_audit", &op->audit.seq);
  if (rc == 0)
    rc = put_request(j, txn, &op->audit);
  if (rc)
    return rc;
  cairn__put_be64(kb, op->audit.seq);
  rc = cairn__audit_encode(&op->audit, &buf, &n);
  rc = put_encoded(j, txn, DB_AUDIT, kb, 8, buf, n, rc);
  return rc ? rc : index_action(j, txn, &op->audit);
}

/* ------------------------------------------- definition lifecycle */

/* The number of versions of (op->ns, op->name); CAIRN_ENOTFOUND, with a
 * message, when it has none. */
static int count_versions(cairn_journal *j, cairn__txn *txn,
                          const cairn__op *op, uint32_t *count) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  cairn__val k = {cairn__name_key(kb, op->ns, op->name), kb}, v;
  int rc = cairn__kv_get(txn, DB_NAMES, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(j, "no definition is named %s in namespace %s; "
                              "it has no version to %s",
                           op->name, op->ns,
                           op->kind == CAIRN__OP_PAUSE_DEFINITION
                               ? (op->paused ? "pause" : "unpause")
                               : "delete");
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(j, rc, "reading definition versions");
  if (cairn__names_rec_count(v.data, v.size, count) != 0) {
    cairn__journal_set_err(j, "the version list of %s is damaged", op->name);
    return CAIRN_ECORRUPT;
  }
  return 0;
}

/* Adds `version` to the ascending list deleted[0..*n) (room for one more)
 * unless it is there. */
static void add_deleted(uint32_t *deleted, size_t *n, uint32_t version) {
  size_t i = *n;
  while (i > 0 && deleted[i - 1] > version)
    i--;
  if (i > 0 && deleted[i - 1] == version)
    return;
  memmove(deleted + i + 1, deleted + i, (*n - i) * sizeof *deleted);
  deleted[i] = version;
  (*n)++;
}

/* Pauses, unpauses, or deletes a version of a definition name: a
 * read-modify-write of its `def_state` record. */
static int change_def_state(cairn_journal *j, cairn__txn *txn,
                            const cairn__op *op) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  uint32_t count = 0, *deleted = NULL;
  size_t n = 0, cap = 0;
  bool paused = false;
  int rc = count_versions(j, txn, op, &count);
  if (rc)
    return rc;
  if (op->kind == CAIRN__OP_DELETE_DEFINITION && op->del_version > count) {
    char have[40];
    if (count == 1)
      cairn__fmt(have, sizeof have, "only version 1");
    else
      cairn__fmt(have, sizeof have, "versions 1..%u", count);
    cairn__journal_set_err(j, "definition %s in namespace %s has %s, not "
                              "version %u",
                           op->name, op->ns, have, op->del_version);
    return CAIRN_ENOTFOUND;
  }
  cairn__val k = {cairn__name_key(kb, op->ns, op->name), kb}, v;
  rc = cairn__kv_get(txn, DB_DEF_STATE, &k, &v);
  if (rc == 0)
    rc = cairn__def_state_decode(v.data, v.size, &paused, &deleted,
                                 &n, &cap);
  else if (rc == KV_NOTFOUND)
    rc = 0;
  else
    rc = cairn__kv_err(j, rc, "reading a definition's state");
  if (rc == CAIRN_EDECODE) {
    cairn__journal_set_err(j, "the state record of definition %s is "
                              "damaged", op->name);
    rc = CAIRN_ECORRUPT;
  }
  uint32_t *grown = rc ? NULL : cairn__realloc(deleted, (n + 1) * sizeof *deleted);
  if (grown == NULL) {
    free(deleted);
    return rc ? rc : CAIRN_ENOMEM;
  }
  deleted = grown;
  if (op->kind == CAIRN__OP_PAUSE_DEFINITION)
    paused = op->paused;
  else
    add_deleted(deleted, &n, op->del_version);
  char *buf = NULL;
  size_t len = 0;
  rc = cairn__def_state_encode(paused, deleted, n, &buf, &len);
  free(deleted);
  return put_encoded(j, txn, DB_DEF_STATE, kb, k.size, buf, len, rc);
}

static int put_mapping(cairn_journal *j, cairn__txn *txn, const cairn__op *op) {
  unsigned char kb[2 * CAIRN_HASH_HEX_LEN];
  memcpy(kb, op->def_hash, CAIRN_HASH_HEX_LEN);
  memcpy(kb + CAIRN_HASH_HEX_LEN, op->to_hash, CAIRN_HASH_HEX_LEN);
  cairn__val k = {sizeof kb, kb}, v = {op->json_len, op->json};
  return cairn__kv_err(j, cairn__kv_put(txn, DB_MAPPINGS, &k, &v, 0),
                        "saving a mapping");
}

/* Stores the text by its hash (once) and appends the revision to the
 * artifact's record unless it is the latest one already. */
static int put_prompt(cairn_journal *j, cairn__txn *txn, const cairn__op *op) {
  unsigned char tk[1 + CAIRN_HASH_HEX_LEN], kb[CAIRN__PROMPT_KEY_MAX];
  tk[0] = 0;
  memcpy(tk + 1, op->to_hash, CAIRN_HASH_HEX_LEN);
  cairn__val k = {sizeof tk, tk}, v = {op->json_len, op->json};
  int rc = cairn__kv_put(txn, DB_PROMPTS, &k, &v, KV_NOOVERWRITE);
  if (rc && rc != KV_KEYEXIST)
    return cairn__kv_err(j, rc, "saving a prompt text");
  k = (cairn__val){cairn__name_key(kb, op->ns, op->name), kb};
  rc = cairn__kv_get(txn, DB_PROMPTS, &k, &v);
  if (rc && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "reading a prompt artifact");
  cairn_prompt_revision add = {.time_us = op->time_us};
  memcpy(add.hash, op->to_hash, sizeof add.hash);
  memcpy(add.def_hash, op->def_hash, sizeof add.def_hash);
  bool unchanged = false;
  char *buf = NULL;
  size_t n = 0;
  rc = cairn__prompt_rec_append(rc == 0 ? v.data : NULL,
                                rc == 0 ? v.size : 0, op->workflow_id,
                                op->step, &add, &unchanged, &buf, &n);
  if (rc == CAIRN_EDECODE) {
    cairn__journal_set_err(j, "the record of prompt artifact %s is damaged",
                           op->name);
    return CAIRN_ECORRUPT;
  }
  if (rc || unchanged)
    return rc;
  return put_encoded(j, txn, DB_PROMPTS, kb, k.size, buf, n, 0);
}

/* Writes each touched run's views and record, and moves it in the status
 * index when its status changed. */
static int finish_runs(commit_ctx *c, cairn__txn *txn) {
  cairn_journal *j = c->b->j;
  touched *t, *tmp;
  HASH_ITER(hh, c->runs, t, tmp) {
    int rc = cairn__fold_flush(j, txn, &t->fold);
    int status = t->fold.v.status;
    /* A run that ended (no single-step rerun pending) needs no executor:
     * its lease goes in the same commit, so a rerun may take it at once. */
    if (cairn_run_status_is_final(status) && t->fold.v.rerun_seq == 0)
      t->rec.info.lease_owner[0] = '\0';
    if (rc == 0 && status != t->status_before) {
      t->rec.info.status = status;
      if (t->status_before)
        rc = status_index(j, txn, t->status_before, t->fold.run, false);
      if (rc == 0)
        rc = status_index(j, txn, status, t->fold.run, true);
    }
    if (rc == 0)
      rc = put_run_rec(j, txn, &t->rec);
    if (rc)
      return rc;
  }
  return 0;
}

static int apply_op(commit_ctx *c, cairn__txn *txn, cairn__op *op) {
  uint64_t key;
  switch (op->kind) {
  case CAIRN__OP_CREATE_RUN:
    return create_run(c, txn, op);
  case CAIRN__OP_APPEND: {
    int rc = cairn__get_run_key(c->b->j, txn,
                                (cairn_str){op->run_id, CAIRN_RUN_ID_LEN},
                                &key);
    return rc ? rc : append_events(c, txn, op, key);
  }
  case CAIRN__OP_DEFINITION:
    return put_definition(c->b->j, txn, op);
  case CAIRN__OP_AUDIT:
    return put_audit(c->b->j, txn, op);
  case CAIRN__OP_PAUSE_DEFINITION:
  case CAIRN__OP_DELETE_DEFINITION:
    return change_def_state(c->b->j, txn, op);
  case CAIRN__OP_MAPPING:
    return put_mapping(c->b->j, txn, op);
  case CAIRN__OP_PROMPT:
    return put_prompt(c->b->j, txn, op);
  default: /* removed */
    return 0;
  }
}

/* Reads ahead what the appends of the batch will read — run keys, run
 * records and run views, the views of the steps their events name — in
 * a few queries instead of one round trip each (drivers that gain from
 * it: PostgreSQL). The reads themselves come after, as always. */
static int prefetch(commit_ctx *c, cairn__txn *txn) {
  cairn_batch *b = c->b;
  size_t n_app = 0, n_ev = 0;
  for (size_t i = 0; i < b->n_ops; i++)
    if (b->ops[i].kind == CAIRN__OP_APPEND) {
      n_app++;
      n_ev += b->ops[i].n_events;
    }
  if (n_app == 0 || txn->kv->prefetch == NULL)
    return 0;
  cairn__val *ids = calloc(n_app, sizeof *ids);
  cairn__val *runs = calloc(n_app, sizeof *runs);
  cairn__val *views = calloc(n_app + n_ev, sizeof *views);
  /* per append: a run key (8) and its run view's key (9); per event: a
   * step view's key */
  unsigned char *kb = malloc(n_app * 17 + n_ev * CAIRN__VIEW_KEY_MAX);
  size_t n = 0, nv = 0, used = 0;
  int rc = ids && runs && views && kb ? 0 : CAIRN_ENOMEM;
  for (size_t i = 0; rc == 0 && i < b->n_ops; i++)
    if (b->ops[i].kind == CAIRN__OP_APPEND)
      ids[n++] = (cairn__val){CAIRN_RUN_ID_LEN, b->ops[i].run_id};
  if (rc == 0)
    rc = cairn__kv_prefetch(txn, DB_RUN_IDS, ids, n);
  n = 0;
  for (size_t i = 0; rc == 0 && i < b->n_ops; i++) {
    cairn__op *op = &b->ops[i];
    uint64_t key;
    if (op->kind != CAIRN__OP_APPEND ||
        cairn__get_run_key(b->j, txn, (cairn_str){op->run_id,
                                                  CAIRN_RUN_ID_LEN},
                           &key) != 0)
      continue; /* the append itself will say what is wrong */
    unsigned char *k = kb + used;
    cairn__put_be64(k, key);
    runs[n++] = (cairn__val){8, k};
    used += 8;
    k = kb + used;
    used += cairn__view_key(k, key, VIEW_RUN, (cairn_str){NULL, 0}, 0);
    views[nv++] = (cairn__val){9, k};
    for (size_t e = 0; e < op->n_events; e++) {
      cairn_str step = b->evs[op->ev_first + e].ev.step;
      if (step.len == 0 || step.len > CAIRN_STEP_NAME_MAX)
        continue;
      k = kb + used;
      size_t len = cairn__view_key(k, key, VIEW_STEP, step, 0);
      used += len;
      views[nv++] = (cairn__val){len, k};
    }
  }
  if (rc == 0)
    rc = cairn__kv_prefetch(txn, DB_RUNS, runs, n);
  if (rc == 0)
    rc = cairn__kv_prefetch(txn, DB_VIEWS, views, nv);
  free(ids);
  free(runs);
  free(views);
  free(kb);
  return rc ? cairn__kv_err(b->j, rc, "reading ahead") : 0;
}

static int commit_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  commit_ctx *c = ctx;
  c->loader.j = j;
  c->loader.txn = txn;
  c->loader.from_views = true;
  c->b->failed_op = -1;
  int rc = prefetch(c, txn);
  for (size_t i = 0; i < c->b->n_ops && rc == 0; i++) {
    rc = apply_op(c, txn, &c->b->ops[i]);
    if (rc)
      c->b->failed_op = (int)i;
  }
  if (rc == 0)
    rc = finish_runs(c, txn);
  free_touched(c);
  return rc;
}

int cairn__store_commit(cairn_batch *b) {
  commit_ctx c = {.b = b};
  cairn__store_loader_init(&c.loader, &c.fl);
  b->j->errmsg[0] = '\0';
  return cairn__write_txn(b->j, commit_fn, &c);
}
