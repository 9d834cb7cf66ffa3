/*
 * lmdb/read.c — read snapshots: runs, histories, workflows, definitions
 * (their versions, state, names and mappings), audit records, request ids
 * and views.
 *
 * A cairn_reader is one LMDB read transaction. Values handed out point
 * straight into the memory map (no copies), which is why they live exactly
 * as long as the reader: LMDB keeps the pages a read transaction can see
 * until it ends.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

int cairn__store_reader_begin(cairn_journal *j, cairn_reader **out) {
  cairn_reader *r = cairn__calloc(1, sizeof(cairn__store_reader));
  if (r == NULL)
    return CAIRN_ENOMEM;
  r->j = j;
  int rc = KV(j)->begin(j, KV_READ, &LR(r)->txn);
  if (rc) {
    free(r);
    return cairn__kv_err(j, rc, "starting a read snapshot");
  }
  j->open_readers++;
  *out = r;
  return 0;
}

void cairn__store_reader_end(cairn_reader *r) {
  if (r == NULL)
    return;
  cairn__kv_abort(LR(r)->txn);
  r->j->open_readers--;
  free(LR(r)->wf_runs);
  free(r);
}

int cairn__store_reader_run_by_key(cairn_reader *r, uint64_t key,
                            cairn_run_info *out) {
  cairn__run_rec rec;
  int rc = cairn__get_run(r->j, LR(r)->txn, key, &rec);
  if (rc == 0)
    *out = rec.info;
  return rc;
}

int cairn__store_reader_run_by_id(cairn_reader *r, const char *run_id,
                           cairn_run_info *out) {
  uint64_t key;
  if (run_id == NULL || strlen(run_id) != CAIRN_RUN_ID_LEN) {
    cairn__journal_set_err(r->j, "'%s' is not a run id (a 36-character "
                                 "UUID)", run_id ? run_id : "");
    return CAIRN_ENOTFOUND;
  }
  int rc = cairn__get_run_key(r->j, LR(r)->txn,
                              (cairn_str){run_id, CAIRN_RUN_ID_LEN}, &key);
  return rc ? rc : cairn__store_reader_run_by_key(r, key, out);
}

static int decode_at(cairn_journal *j, uint64_t key, uint32_t seq,
                     const cairn__val *v, cairn_event *out) {
  cairn_decode_err err = {0};
  int rc = cairn_event_decode(v->data, v->size, out, &err);
  if (rc == CAIRN_EDECODE)
    cairn__journal_set_err(j, "run key %llu seq %u: %s%s%s at byte %zu",
                           (unsigned long long)key, seq, err.message,
                           err.field ? ", field " : "",
                           err.field ? err.field : "", err.offset);
  else if (rc == 0 && out->seq != seq) {
    cairn__journal_set_err(j, "run key %llu: the event stored at seq %u "
                              "says it is seq %u",
                           (unsigned long long)key, seq, out->seq);
    rc = CAIRN_ECORRUPT;
  }
  return rc;
}

int cairn__store_reader_event(cairn_reader *r, uint64_t key, uint32_t seq,
                       cairn_event *out) {
  unsigned char kb[12];
  cairn__val k = {cairn__event_key(kb, key, seq), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_EVENTS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "run key %llu has no event %u",
                           (unsigned long long)key, seq);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading an event");
  return decode_at(r->j, key, seq, &v, out);
}

int cairn__store_reader_resolve(cairn_reader *r, const cairn_event *ev,
                         cairn_event *out) {
  uint64_t key;
  if (ev->type != CAIRN_EV_STEP_REUSED) {
    *out = *ev;
    return 0;
  }
  int rc = cairn__get_run_key(r->j, LR(r)->txn, ev->ref_run, &key);
  if (rc == 0)
    rc = cairn__store_reader_event(r, key, ev->ref_seq, out);
  if (rc == 0 && out->type != CAIRN_EV_STEP_COMPLETED) {
    cairn__journal_set_err(r->j, "a step.reused references run %.*s seq "
                                 "%u, which is %s, not a step.completed",
                           (int)ev->ref_run.len, ev->ref_run.ptr,
                           ev->ref_seq, cairn_event_type_name(out->type));
    rc = CAIRN_ECORRUPT;
  }
  return rc;
}

/* ------------------------------------------------------------ history */



int cairn__store_reader_history(cairn_reader *r, uint64_t key, uint32_t from_seq,
                         cairn_history **out) {
  cairn_history *it = cairn__calloc(1, sizeof(cairn__store_history));
  if (it == NULL)
    return CAIRN_ENOMEM;
  int rc = cairn__cursor_open(LR(r)->txn, DB_EVENTS, &LH(it)->cur);
  if (rc) {
    free(it);
    return cairn__kv_err(r->j, rc, "opening a history");
  }
  it->r = r;
  LH(it)->key = key;
  LH(it)->next = from_seq ? from_seq : 1;
  *out = it;
  return 0;
}

int cairn__store_history_next(cairn_history *it, cairn_event *ev) {
  unsigned char kb[12];
  cairn__val k, v;
  int rc;
  if (LH(it)->done)
    return 0;
  if (!LH(it)->started) {
    k.size = cairn__event_key(kb, LH(it)->key, LH(it)->next);
    k.data = kb;
    rc = cairn__cursor_get(LH(it)->cur, &k, &v, KV_SET_RANGE);
    LH(it)->started = true;
  }
  else {
    rc = cairn__cursor_get(LH(it)->cur, &k, &v, KV_NEXT);
  }
  if (rc == KV_NOTFOUND || (rc == 0 && (k.size != 12 ||
                                         cairn__get_be64(k.data) !=
                                             LH(it)->key))) {
    LH(it)->done = true;
    return 0;
  }
  if (rc)
    return cairn__kv_err(it->r->j, rc, "reading a history");
  uint32_t seq = cairn__get_be32((unsigned char *)k.data + 8);
  if (seq != LH(it)->next) {
    cairn__journal_set_err(it->r->j, "run key %llu: history has a gap: seq "
                                     "%u follows seq %u; run `cairn journal "
                                     "verify`",
                           (unsigned long long)LH(it)->key, seq, LH(it)->next - 1);
    LH(it)->done = true;
    return CAIRN_ECORRUPT;
  }
  rc = decode_at(it->r->j, LH(it)->key, seq, &v, ev);
  LH(it)->next = seq + 1;
  return rc ? rc : 1;
}

void cairn__store_history_close(cairn_history *it) {
  if (it == NULL)
    return;
  cairn__cursor_close(LH(it)->cur);
  free(it);
}

/* ---------------------------------------------------------- workflows */

static bool name_fits(const char *ns, const char *id) {
  return ns && id && strlen(ns) <= CAIRN_NAMESPACE_MAX &&
         strlen(id) <= CAIRN_WORKFLOW_ID_MAX;
}

int cairn__store_reader_workflow(cairn_reader *r, const char *ns,
                          const char *workflow_id, cairn_workflow_info *out) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  ns = ns ? ns : "default";
  if (!name_fits(ns, workflow_id))
    return CAIRN_ENOTFOUND;
  cairn__val k = {cairn__name_key(kb, ns, workflow_id), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_WORKFLOWS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no workflow has id %s in namespace %s",
                           workflow_id, ns);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a workflow");
  size_t n = 0;
  if (cairn__wf_rec_decode(v.data, v.size, &out->current, &LR(r)->wf_runs,
                           &n, &LR(r)->wf_cap) != 0) {
    cairn__journal_set_err(r->j, "the record of workflow %s is damaged",
                           workflow_id);
    return CAIRN_ECORRUPT;
  }
  out->n_runs = n;
  out->runs = LR(r)->wf_runs;
  return 0;
}

static bool run_matches(const cairn_run_filter *f, const cairn_run_info *i) {
  if (f == NULL)
    return true;
  if (f->status && i->status != f->status)
    return false;
  if (f->ns && strcmp(f->ns, i->ns) != 0)
    return false;
  if (f->workflow_id && strcmp(f->workflow_id, i->workflow_id) != 0)
    return false;
  return true;
}

/* Walks `dbi` backwards from the end of the keys starting with `prefix`,
 * taking the run key at byte `key_off` of each key. */
static int runs_by_scan(cairn_reader *r, cairn__db dbi, const unsigned char *pre,
                        size_t pre_len, const cairn_run_filter *f,
                        cairn_run_info *out, size_t cap, size_t *n) {
  cairn__cursor *cur;
  cairn__val k, v;
  unsigned char kb[9];
  int rc = cairn__cursor_open(LR(r)->txn, dbi, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "listing runs");
  /* Position just past the prefix, then step back. */
  memset(kb, 0xff, sizeof kb);
  if (pre_len)
    memcpy(kb, pre, pre_len);
  k.size = pre_len ? 9 : 8;
  k.data = kb;
  rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE);
  rc = rc == KV_NOTFOUND ? cairn__cursor_get(cur, &k, &v, KV_LAST)
                          : cairn__cursor_get(cur, &k, &v, KV_PREV);
  while (rc == 0 && *n < cap) {
    if (k.size != pre_len + 8 ||
        (pre_len && memcmp(k.data, pre, pre_len) != 0))
      break;
    uint64_t key = cairn__get_be64((unsigned char *)k.data + pre_len);
    cairn_run_info info;
    int rrc = cairn__store_reader_run_by_key(r, key, &info);
    if (rrc) {
      cairn__cursor_close(cur);
      return rrc;
    }
    if (run_matches(f, &info))
      out[(*n)++] = info;
    rc = cairn__cursor_get(cur, &k, &v, KV_PREV);
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "listing");
}

int cairn__store_reader_runs(cairn_reader *r, const cairn_run_filter *f,
                      cairn_run_info *out, size_t cap, size_t *n) {
  *n = 0;
  if (f && f->workflow_id) {
    cairn_workflow_info wf;
    int rc = cairn__store_reader_workflow(r, f->ns, f->workflow_id, &wf);
    if (rc == CAIRN_ENOTFOUND)
      return 0;
    for (size_t i = wf.n_runs; rc == 0 && i-- > 0 && *n < cap;) {
      cairn_run_info info;
      rc = cairn__store_reader_run_by_key(r, wf.runs[i], &info);
      if (rc == 0 && run_matches(f, &info))
        out[(*n)++] = info;
    }
    return rc;
  }
  if (f && f->status) {
    unsigned char pre = (unsigned char)f->status;
    return runs_by_scan(r, DB_BY_STATUS, &pre, 1, f, out, cap, n);
  }
  return runs_by_scan(r, DB_RUNS, NULL, 0, f, out, cap, n);
}

/* -------------------------------------------------------- definitions */

int cairn__store_reader_definition(cairn_reader *r, const char *hash,
                            cairn_str *json) {
  if (!cairn__is_hash_hex(hash)) {
    cairn__journal_set_err(r->j, "'%s' is not a definition hash", hash);
    return CAIRN_ENOTFOUND;
  }
  cairn__val k = {CAIRN_HASH_HEX_LEN, (void *)hash}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_DEFS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no definition has hash %s", hash);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a definition");
  json->ptr = v.data;
  json->len = v.size;
  return 0;
}

int cairn__store_reader_definition_version(cairn_reader *r, const char *ns,
                                    const char *name, uint32_t version,
                                    char hash_out[CAIRN_HASH_HEX_LEN + 1],
                                    uint32_t *n_versions) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  uint32_t count = 0;
  ns = ns ? ns : "default";
  if (!name_fits(ns, name))
    return CAIRN_ENOTFOUND;
  cairn__val k = {cairn__name_key(kb, ns, name), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_NAMES, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no definition is named %s", name);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading definition versions");
  if (cairn__names_rec_count(v.data, v.size, &count) != 0)
    return CAIRN_ECORRUPT;
  if (n_versions)
    *n_versions = count;
  rc = cairn__names_rec_get(v.data, v.size, version ? version : count,
                            hash_out);
  if (rc == CAIRN_ENOTFOUND)
    cairn__journal_set_err(r->j, "%s has versions 1..%u, not %u", name,
                           count, version);
  return rc;
}

int cairn__store_reader_definition_names(cairn_reader *r, const char *ns,
                                  cairn_def_name_cb cb, void *ctx) {
  cairn__cursor *cur;
  unsigned char pre[CAIRN_NAMESPACE_MAX + 1];
  ns = ns ? ns : "default";
  size_t pn = strlen(ns) + 1;
  if (pn > sizeof pre)
    return 0;
  memcpy(pre, ns, pn); /* the NUL ends the namespace */
  int rc = cairn__cursor_open(LR(r)->txn, DB_NAMES, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "listing definitions");
  cairn__val k = {pn, pre}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size <= pn || memcmp(k.data, pre, pn) != 0)
      break;
    uint32_t count = 0;
    char hash[CAIRN_HASH_HEX_LEN + 1];
    if (cairn__names_rec_count(v.data, v.size, &count) != 0 ||
        cairn__names_rec_get(v.data, v.size, count, hash) != 0) {
      cairn__cursor_close(cur);
      return CAIRN_ECORRUPT;
    }
    cairn_str name = {(const char *)k.data + pn, k.size - pn};
    if (cb(ctx, name, count, hash))
      break;
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "listing");
}

/* ------------------------------------------- definition lifecycle */

int cairn__store_reader_definition_state(cairn_reader *r, const char *ns,
                                  const char *name,
                                  cairn_definition_state *out) {
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  uint32_t *deleted = NULL;
  size_t n = 0, cap = 0;
  memset(out, 0, sizeof *out);
  ns = ns ? ns : "default";
  if (!name_fits(ns, name))
    return 0;
  cairn__val k = {cairn__name_key(kb, ns, name), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_DEF_STATE, &k, &v);
  if (rc == KV_NOTFOUND)
    return 0;
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a definition's state");
  rc = cairn__def_state_decode(v.data, v.size, &out->paused, &deleted,
                               &n, &cap);
  if (rc == 0) {
    size_t room = sizeof out->deleted / sizeof out->deleted[0];
    out->n_deleted = (uint32_t)n;
    for (size_t i = 0; i < n && i < room; i++)
      out->deleted[i] = deleted[i];
  }
  free(deleted);
  if (rc == CAIRN_EDECODE) {
    memset(out, 0, sizeof *out);
    cairn__journal_set_err(r->j, "the state record of definition %s is "
                                 "damaged", name);
    return CAIRN_ECORRUPT;
  }
  return rc;
}

/* Copies `s` into `dst` (cap bytes with the NUL); false when it is
 * longer. */
static bool copy_out(char *dst, size_t cap, cairn_str s) {
  if (s.len >= cap)
    return false;
  if (dst) {
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
  }
  return true;
}

int cairn__store_reader_definition_of_hash(cairn_reader *r, const char *hash,
                                    char *ns_out, char *name,
                                    uint32_t *version) {
  cairn__def_reg reg;
  if (!cairn__is_hash_hex(hash)) {
    cairn__journal_set_err(r->j, "'%s' is not a definition hash",
                           hash ? hash : "");
    return CAIRN_ENOTFOUND;
  }
  cairn__val k = {CAIRN_HASH_HEX_LEN, (void *)hash}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_DEF_NAMES, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "definition %s was never registered under "
                                 "a name", hash);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a definition's names");
  if (cairn__def_regs_latest(v.data, v.size, &reg) != 0 ||
      !copy_out(ns_out, CAIRN_NAMESPACE_MAX + 1, reg.ns) ||
      !copy_out(name, CAIRN_WORKFLOW_ID_MAX + 1, reg.name)) {
    cairn__journal_set_err(r->j, "the name list of definition %s is "
                                 "damaged", hash);
    return CAIRN_ECORRUPT;
  }
  if (version)
    *version = reg.version;
  return 0;
}

int cairn__store_reader_mapping(cairn_reader *r, const char *from_hash,
                         const char *to_hash, cairn_str *json) {
  unsigned char kb[2 * CAIRN_HASH_HEX_LEN];
  if (!cairn__is_hash_hex(from_hash) || !cairn__is_hash_hex(to_hash)) {
    cairn__journal_set_err(r->j, "a mapping joins two definition hashes, "
                                 "each 64 lowercase hex characters");
    return CAIRN_ENOTFOUND;
  }
  memcpy(kb, from_hash, CAIRN_HASH_HEX_LEN);
  memcpy(kb + CAIRN_HASH_HEX_LEN, to_hash, CAIRN_HASH_HEX_LEN);
  cairn__val k = {sizeof kb, kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_MAPPINGS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no mapping is saved from definition %s "
                                 "to %s", from_hash, to_hash);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a mapping");
  json->ptr = v.data;
  json->len = v.size;
  return 0;
}

/* ---------------------------------------------------- prompt artifacts */

static int decode_prompt(cairn_reader *r, const cairn__val *k, size_t pn,
                         const cairn__val *v, cairn_prompt *out) {
  memset(out, 0, sizeof *out);
  size_t idn = k->size - pn;
  if (idn > CAIRN_PROMPT_ID_MAX ||
      cairn__prompt_rec_decode(v->data, v->size, out) != 0) {
    cairn__journal_set_err(r->j, "the record of prompt artifact %.*s is "
                           "damaged", (int)idn, (const char *)k->data + pn);
    return CAIRN_ECORRUPT;
  }
  memcpy(out->id, (const char *)k->data + pn, idn);
  out->id[idn] = '\0';
  return 0;
}

int cairn__store_reader_prompt(cairn_reader *r, const char *ns,
                              const char *id, cairn_prompt *out) {
  unsigned char kb[CAIRN__PROMPT_KEY_MAX];
  memset(out, 0, sizeof *out);
  ns = ns ? ns : "default";
  if (id == NULL || *id == '\0' || strlen(ns) > CAIRN_NAMESPACE_MAX ||
      strlen(id) > CAIRN_PROMPT_ID_MAX) {
    cairn__journal_set_err(r->j, "no prompt artifact is named %s",
                           id ? id : "(none)");
    return CAIRN_ENOTFOUND;
  }
  cairn__val k = {cairn__name_key(kb, ns, id), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_PROMPTS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no prompt artifact is named %s in "
                           "namespace %s", id, ns);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a prompt artifact");
  return decode_prompt(r, &k, strlen(ns) + 1, &v, out);
}

int cairn__store_reader_prompt_text(cairn_reader *r, const char *hash,
                                   cairn_str *text) {
  unsigned char kb[1 + CAIRN_HASH_HEX_LEN];
  if (hash == NULL || !cairn__is_hash_hex(hash)) {
    cairn__journal_set_err(r->j, "a prompt revision is named by 64 "
                                 "lowercase hex characters");
    return CAIRN_ENOTFOUND;
  }
  kb[0] = 0;
  memcpy(kb + 1, hash, CAIRN_HASH_HEX_LEN);
  cairn__val k = {sizeof kb, kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_PROMPTS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no prompt text has hash sha256:%s", hash);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a prompt text");
  text->ptr = v.size ? v.data : "";
  text->len = v.size;
  return 0;
}

int cairn__store_reader_prompts(cairn_reader *r, const char *ns,
                               const char *after, cairn_prompt_cb cb,
                               void *ctx) {
  cairn__cursor *cur;
  unsigned char kb[CAIRN__PROMPT_KEY_MAX];
  ns = ns ? ns : "default";
  size_t pn = strlen(ns) + 1;
  if (pn > CAIRN_NAMESPACE_MAX + 1)
    return 0;
  size_t kn = after && strlen(after) <= CAIRN_PROMPT_ID_MAX
                  ? cairn__name_key(kb, ns, after)
                  : cairn__name_key(kb, ns, "");
  int rc = cairn__cursor_open(LR(r)->txn, DB_PROMPTS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "listing prompt artifacts");
  cairn__val k = {kn, kb}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size <= pn || memcmp(k.data, kb, pn) != 0)
      break;
    if (after && k.size == kn && memcmp(k.data, kb, kn) == 0)
      continue; /* the cursor's own id: start after it */
    cairn_prompt p;
    if ((rc = decode_prompt(r, &k, pn, &v, &p)) != 0) {
      cairn__cursor_close(cur);
      return rc;
    }
    int stop = cb(ctx, &p);
    cairn_prompt_free(&p);
    if (stop)
      break;
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "listing");
}

/* -------------------------------------------------------------- audit */

int cairn__store_reader_audit_count(cairn_reader *r, const char *ns,
                             const char *action, int64_t since_us,
                             uint64_t max, uint64_t *count,
                             int64_t *oldest_us) {
  unsigned char kb[CAIRN__ACTION_KEY_MAX];
  cairn__cursor *cur;
  cairn_str nss = {ns ? ns : "default", strlen(ns ? ns : "default")};
  cairn_str act = {action, strlen(action)};
  size_t n = cairn__action_key(kb, nss, act, since_us, 0);
  *count = 0;
  if (oldest_us)
    *oldest_us = 0;
  if (n == 0)
    return 0;
  size_t pre = n - 16; /* namespace · 0 · action · 0 */
  int rc = cairn__cursor_open(LR(r)->txn, DB_AUDIT_BY_ACTION, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "counting audit records");
  cairn__val k = {n, kb}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE);
       rc == 0 && *count < max;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size != pre + 16 || memcmp(k.data, kb, pre) != 0)
      break;
    if (oldest_us && *count == 0)
      *oldest_us = (int64_t)cairn__get_be64((unsigned char *)k.data + pre);
    (*count)++;
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "count");
}

static int decode_audit(cairn_journal *j, const cairn__val *k, const cairn__val *v,
                        cairn_audit_record *a) {
  if (k->size == 8 && cairn__audit_decode(v->data, v->size, a) == 0)
    return 0;
  cairn__journal_set_err(j, "audit record %llu is damaged",
                         k->size == 8
                             ? (unsigned long long)cairn__get_be64(k->data)
                             : 0ull);
  return CAIRN_ECORRUPT;
}

int cairn__store_reader_audit(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb,
                       void *ctx) {
  cairn__cursor *cur;
  unsigned char kb[8];
  int rc = cairn__cursor_open(LR(r)->txn, DB_AUDIT, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading the audit index");
  cairn__put_be64(kb, from_seq);
  cairn__val k = {8, kb}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    cairn_audit_record a;
    if (decode_audit(r->j, &k, &v, &a) != 0) {
      cairn__cursor_close(cur);
      return CAIRN_ECORRUPT;
    }
    if (cb(ctx, &a))
      break;
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "audit");
}

int cairn__store_reader_audit_backwards(cairn_reader *r, uint64_t down_to,
                                 cairn_audit_cb cb, void *ctx) {
  cairn__cursor *cur;
  cairn__val k, v;
  int rc = cairn__cursor_open(LR(r)->txn, DB_AUDIT, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading the audit index");
  for (rc = cairn__cursor_get(cur, &k, &v, KV_LAST); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_PREV)) {
    cairn_audit_record a;
    if (k.size == 8 && cairn__get_be64(k.data) < down_to)
      break;
    if (decode_audit(r->j, &k, &v, &a) != 0) {
      cairn__cursor_close(cur);
      return CAIRN_ECORRUPT;
    }
    if (cb(ctx, &a))
      break;
  }
  cairn__cursor_close(cur);
  return rc == 0 || rc == KV_NOTFOUND ? 0
                                       : cairn__kv_err(r->j, rc, "audit");
}

int cairn__store_reader_request(cairn_reader *r, const char *ns,
                         const char *request_id, cairn_audit_record *out) {
  unsigned char kb[CAIRN__REQUEST_KEY_MAX];
  cairn_str id = {request_id, request_id ? strlen(request_id) : 0};
  cairn_str space = {ns, ns ? strlen(ns) : 0};
  if (id.len == 0 || id.len > CAIRN__REQUEST_ID_MAX ||
      space.len > CAIRN_NAMESPACE_MAX) {
    cairn__journal_set_err(r->j, "no action used request id '%s'",
                           request_id ? request_id : "");
    return CAIRN_ENOTFOUND;
  }
  cairn__val k = {cairn__request_key(kb, space, id), kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_REQUESTS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "no action used request id %s in "
                                 "namespace %s", request_id,
                           space.len ? ns : "default");
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "looking up a request id");
  if (v.size != 8) {
    cairn__journal_set_err(r->j, "the index entry of request id %s is "
                                 "damaged", request_id);
    return CAIRN_ECORRUPT;
  }
  cairn__val ak = {8, v.data}, av;
  rc = cairn__kv_get(LR(r)->txn, DB_AUDIT, &ak, &av);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "request id %s points at audit record "
                                 "%llu, which is gone", request_id,
                           (unsigned long long)cairn__get_be64(v.data));
    return CAIRN_ECORRUPT;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading an audit record");
  return decode_audit(r->j, &ak, &av, out);
}

/* -------------------------------------------------------------- views */

int cairn__store_reader_run_view(cairn_reader *r, uint64_t key,
                          cairn_run_view *out) {
  unsigned char kb[9];
  cairn__val k = {cairn__view_key(kb, key, VIEW_RUN, (cairn_str){NULL, 0}, 0),
               kb}, v;
  int rc = cairn__kv_get(LR(r)->txn, DB_VIEWS, &k, &v);
  if (rc == KV_NOTFOUND) {
    cairn__journal_set_err(r->j, "run key %llu has no view; run `cairn "
                                 "journal rebuild-views`",
                           (unsigned long long)key);
    return CAIRN_ENOTFOUND;
  }
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a run view");
  if (cairn__run_view_decode(v.data, v.size, out) != 0) {
    cairn__journal_set_err(r->j, "the view of run key %llu is damaged; run "
                                 "`cairn journal rebuild-views`",
                           (unsigned long long)key);
    return CAIRN_ECORRUPT;
  }
  return 0;
}

int cairn__store_reader_step_view(cairn_reader *r, uint64_t key, const char *step,
                           cairn_step_view *out) {
  cairn__store_loader l = {r->j, LR(r)->txn, true};
  cairn__fold_loader fl;
  cairn__store_loader_init(&l, &fl);
  size_t n = strlen(step);
  if (n == 0 || n > CAIRN_STEP_NAME_MAX)
    return CAIRN_ENOTFOUND;
  int rc = fl.load_step(&l, key, (cairn_str){step, n}, out);
  if (rc == 0) {
    out->name.ptr = step;
    out->name.len = n;
  }
  return rc;
}

static int by_first_seq(const void *a, const void *b) {
  const cairn_step_view *x = a, *y = b;
  return (x->first_seq > y->first_seq) - (x->first_seq < y->first_seq);
}

int cairn__store_reader_steps(cairn_reader *r, uint64_t key, cairn_step_cb cb,
                       void *ctx) {
  cairn__cursor *cur;
  unsigned char pre[9];
  cairn_step_view *all = NULL;
  size_t n = 0, cap = 0;
  int rc = cairn__cursor_open(LR(r)->txn, DB_VIEWS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading step views");
  cairn__put_be64(pre, key);
  pre[8] = VIEW_STEP;
  cairn__val k = {9, pre}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size <= 9 || memcmp(k.data, pre, 9) != 0)
      break;
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      cairn_step_view *g = cairn__realloc(all, cap * sizeof *g);
      if (g == NULL) {
        rc = CAIRN_ENOMEM;
        break;
      }
      all = g;
    }
    if (cairn__step_view_decode(v.data, v.size, &all[n]) != 0) {
      cairn__journal_set_err(r->j, "a step view of run key %llu is "
                                   "damaged; run `cairn journal "
                                   "rebuild-views`",
                             (unsigned long long)key);
      rc = CAIRN_ECORRUPT;
      break;
    }
    all[n].name.ptr = (const char *)k.data + 9;
    all[n].name.len = k.size - 9;
    n++;
  }
  cairn__cursor_close(cur);
  if (rc == KV_NOTFOUND || rc == 0) {
    rc = 0;
    if (n) /* qsort's array may not be NULL, even empty */
      qsort(all, n, sizeof *all, by_first_seq);
    for (size_t i = 0; i < n && cb(ctx, &all[i]) == 0; i++)
      ;
  }
  else if (rc != CAIRN_ENOMEM && rc != CAIRN_ECORRUPT) {
    rc = cairn__kv_err(r->j, rc, "reading step views");
  }
  free(all);
  return rc;
}

static int older_attempts(cairn_reader *r, uint64_t key, const char *step,
                          cairn_attempt_cb cb, void *ctx, bool *stop);

/* Older attempts are records of their own; the latest lives in the step
 * view. */
int cairn__store_reader_attempts(cairn_reader *r, uint64_t key, const char *step,
                          cairn_attempt_cb cb, void *ctx) {
  cairn_step_view sv;
  bool stop = false;
  int rc = cairn__store_reader_step_view(r, key, step, &sv);
  if (rc == CAIRN_ENOTFOUND)
    return 0;
  if (rc == 0)
    rc = older_attempts(r, key, step, cb, ctx, &stop);
  if (rc == 0 && !stop && sv.latest.attempt)
    cb(ctx, &sv.latest);
  return rc;
}

static int older_attempts(cairn_reader *r, uint64_t key, const char *step,
                          cairn_attempt_cb cb, void *ctx, bool *stop) {
  cairn__cursor *cur;
  unsigned char pre[CAIRN__VIEW_KEY_MAX];
  size_t sn = strlen(step);
  if (sn == 0 || sn > CAIRN_STEP_NAME_MAX)
    return CAIRN_ENOTFOUND;
  size_t pn = cairn__view_key(pre, key, VIEW_ATTEMPT, (cairn_str){step, sn},
                              0) - 4;
  int rc = cairn__cursor_open(LR(r)->txn, DB_VIEWS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading attempt views");
  cairn__val k = {pn, pre}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size != pn + 4 || memcmp(k.data, pre, pn) != 0)
      break;
    cairn_attempt_view a;
    if (cairn__attempt_view_decode(v.data, v.size, &a) != 0) {
      rc = CAIRN_ECORRUPT;
      cairn__journal_set_err(r->j, "an attempt view of step %s is damaged",
                             step);
      break;
    }
    if (cb(ctx, &a)) {
      *stop = true;
      break;
    }
  }
  cairn__cursor_close(cur);
  if (rc == KV_NOTFOUND || rc == 0 || rc == CAIRN_ECORRUPT)
    return rc == KV_NOTFOUND ? 0 : rc;
  return cairn__kv_err(r->j, rc, "reading attempt views");
}
