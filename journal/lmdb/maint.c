/*
 * lmdb/maint.c — verify, rebuild-views and stats.
 *
 * verify reads one snapshot and, for every run record, re-derives what
 * the journal claims: the history decodes, seqs run 1..last_seq without
 * gaps, every event obeys the lifecycle (a full fold, which also checks
 * that each step.reused references a step.completed), the indexes point
 * back at the run, and every stored view record equals, byte for byte,
 * the record the full fold produces — no more records, no fewer. Finally
 * it checks that no event belongs to a run that has no record.
 *
 * rebuild-views recomputes views from events, one run per write
 * transaction so that writers elsewhere are never blocked for long.
 */
#include "lmdb_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Beyond this many problems in one run, the rest are counted, not told. */
#define MAX_TOLD_PER_RUN 20

typedef struct vctx {
  cairn_journal *j;
  MDB_txn *txn;
  cairn_verify_cb cb;
  void *cb_ctx;
  cairn_verify_stats st;
  uint64_t run_key;
  const char *run_id;
  const char *run_ns;
  uint64_t asset_events; /* asset.materialized events seen */
  int told;
  char first[600]; /* the first problem, for callers without a callback */
} vctx;

__attribute__((format(printf, 3, 4))) static void
problem(vctx *v, uint32_t seq, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (v->st.problems++ == 0)
    snprintf(v->first, sizeof v->first, "seq %u: %s", seq, msg);
  if (v->cb == NULL || v->told++ >= MAX_TOLD_PER_RUN)
    return;
  cairn_verify_problem p = {v->run_key, v->run_id ? v->run_id : "", seq,
                            msg};
  v->cb(v->cb_ctx, &p);
}

/* Folds run `key`'s whole history into `f`; false when it could not. */
static bool fold_history(vctx *v, uint64_t key, cairn__fold *f,
                         uint32_t *last) {
  MDB_cursor *cur;
  unsigned char kb[12];
  MDB_val k = {cairn__event_key(kb, key, 0), kb}, val;
  bool ok = true;
  *last = 0;
  if (mdb_cursor_open(v->txn, LJ(v->j)->events, &cur) != 0)
    return false;
  for (int rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
    if (k.mv_size != 12 || cairn__get_be64(k.mv_data) != key)
      break;
    uint32_t seq = cairn__get_be32((unsigned char *)k.mv_data + 8);
    cairn_event ev;
    cairn_decode_err err = {0};
    v->st.events++;
    if (seq != *last + 1) {
      problem(v, seq, "history has a gap: seq %u follows seq %u", seq,
              *last);
      ok = false;
    }
    *last = seq;
    if (!ok)
      continue;
    if (cairn_event_decode(val.mv_data, val.mv_size, &ev, &err) != 0) {
      problem(v, seq, "event does not decode: %s%s%s at byte %zu",
              err.message, err.field ? ", field " : "",
              err.field ? err.field : "", err.offset);
      ok = false;
    }
    else if (ev.seq != seq) {
      problem(v, seq, "event stored at seq %u says it is seq %u", seq,
              ev.seq);
      ok = false;
    }
    else if (cairn__fold_apply(f, &ev) != 0) {
      problem(v, seq, "%s", f->err);
      ok = false;
    }
    else if (ev.type == CAIRN_EV_ASSET_MATERIALIZED && v->run_ns) {
      v->asset_events++;
      if (!cairn__lmdb_asset_catalogued(v->j, v->txn, v->run_ns, key, &ev))
        problem(v, seq, "asset %.*s is missing from the asset catalogue; "
                "run `cairn journal rebuild-views`",
                (int)ev.asset_key.len, ev.asset_key.ptr);
    }
  }
  mdb_cursor_close(cur);
  return ok;
}

static bool same_bytes(const MDB_val *stored, char *buf, size_t n, int rc) {
  bool same = rc == 0 && stored->mv_size == n &&
              memcmp(stored->mv_data, buf, n) == 0;
  free(buf);
  return same;
}

static cairn__fold_step *find_step(cairn__fold *f, const void *p, size_t n) {
  cairn__fold_step *s = NULL;
  HASH_FIND(hh, f->steps, p, n, s);
  return s && s->known ? s : NULL;
}

/* Compares one stored view record with the fold; marks it seen. */
static void check_view_record(vctx *v, cairn__fold *f, const MDB_val *k,
                              const MDB_val *val) {
  const unsigned char *kp = k->mv_data;
  char *buf = NULL;
  size_t n = 0;
  int tag = kp[8];
  if (tag == VIEW_RUN && k->mv_size == 9) {
    int rc = cairn__run_view_encode(&f->v, &buf, &n);
    if (!same_bytes(val, buf, n, rc))
      problem(v, 0, "the run view differs from the fold of its events; "
              "run `cairn journal rebuild-views`");
    f->v_dirty = false;
    return;
  }
  if (tag == VIEW_STEP) {
    cairn__fold_step *s = find_step(f, kp + 9, k->mv_size - 9);
    int rc = s ? cairn__step_view_encode(&s->v, &buf, &n) : 0;
    if (s == NULL || !same_bytes(val, buf, n, rc))
      problem(v, 0, "the view of step %.*s %s the fold of its events",
              (int)(k->mv_size - 9), kp + 9,
              s ? "differs from" : "exists but has no event in");
    if (s)
      s->dirty = false;
    return;
  }
  const unsigned char *nul = tag == VIEW_ATTEMPT && k->mv_size > 14
                                 ? memchr(kp + 9, 0, k->mv_size - 9)
                                 : NULL;
  if (nul == NULL || (size_t)(nul - kp) + 5 != k->mv_size) {
    problem(v, 0, "a view record has a malformed key");
    return;
  }
  uint32_t attempt = cairn__get_be32(nul + 1);
  cairn__fold_step *s = find_step(f, kp + 9, (size_t)(nul - kp) - 9);
  for (size_t i = 0; s && i < s->n_att; i++) {
    if (s->att[i].v.attempt != attempt)
      continue;
    int rc = cairn__attempt_view_encode(&s->att[i].v, &buf, &n);
    if (!same_bytes(val, buf, n, rc))
      problem(v, 0, "the view of attempt %u of step %.*s differs from the "
              "fold of its events", attempt, (int)(nul - kp) - 9, kp + 9);
    s->att[i].dirty = false;
    return;
  }
  problem(v, 0, "a view of attempt %u of step %.*s has no events", attempt,
          (int)(nul - kp) - 9, kp + 9);
}

/* Every stored view record of the run against the fold, both ways. */
static void check_views(vctx *v, uint64_t key, cairn__fold *f) {
  MDB_cursor *cur;
  unsigned char kb[8];
  cairn__put_be64(kb, key);
  MDB_val k = {8, kb}, val;
  if (mdb_cursor_open(v->txn, LJ(v->j)->views, &cur) != 0)
    return;
  for (int rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
    if (k.mv_size < 9 || memcmp(k.mv_data, kb, 8) != 0)
      break;
    check_view_record(v, f, &k, &val);
  }
  mdb_cursor_close(cur);
  if (f->v_dirty)
    problem(v, 0, "the run view is missing; run `cairn journal "
            "rebuild-views`");
  cairn__fold_step *s, *tmp;
  HASH_ITER(hh, f->steps, s, tmp) {
    if (s->known && s->dirty)
      problem(v, 0, "the view of step %s is missing; run `cairn journal "
              "rebuild-views`", s->name);
    for (size_t i = 0; i < s->n_att; i++)
      if (s->att[i].dirty)
        problem(v, 0, "the view of attempt %u of step %s is missing",
                s->att[i].v.attempt, s->name);
  }
}

static void check_indexes(vctx *v, const cairn__run_rec *r) {
  uint64_t key = 0;
  cairn_str id = {r->info.run_id, strlen(r->info.run_id)};
  if (cairn__get_run_key(v->j, v->txn, id, &key) != 0 || key != r->info.key)
    problem(v, 0, "the run id index does not point at this run");
  unsigned char kb[CAIRN__NAME_KEY_MAX];
  MDB_val k = {cairn__name_key(kb, r->info.ns, r->info.workflow_id), kb};
  MDB_val val;
  uint64_t current, *runs = NULL;
  size_t n = 0, cap = 0;
  bool listed = false;
  if (mdb_get(v->txn, LJ(v->j)->workflows, &k, &val) == 0 &&
      cairn__wf_rec_decode(val.mv_data, val.mv_size, &current, &runs, &n,
                           &cap) == 0)
    for (size_t i = 0; i < n; i++)
      listed |= runs[i] == r->info.key;
  free(runs);
  if (!listed)
    problem(v, 0, "workflow %s does not list this run",
            r->info.workflow_id);
  unsigned char sk[9];
  sk[0] = (unsigned char)r->info.status;
  cairn__put_be64(sk + 1, r->info.key);
  MDB_val s = {9, sk};
  if (mdb_get(v->txn, LJ(v->j)->by_status, &s, &val) != 0)
    problem(v, 0, "the status index does not list this run as %s",
            cairn_run_status_name(r->info.status));
}

static void verify_run(vctx *v, const cairn__run_rec *r) {
  cairn__lmdb_loader l = {v->j, v->txn, false};
  cairn__fold_loader fl;
  cairn__fold f;
  uint32_t last = 0;
  cairn__lmdb_loader_init(&l, &fl);
  cairn__fold_init(&f, r->info.key, &fl);
  v->run_key = r->info.key;
  v->run_id = r->info.run_id;
  v->run_ns = r->info.ns;
  v->told = 0;
  v->st.runs++;
  check_indexes(v, r);
  bool ok = fold_history(v, r->info.key, &f, &last);
  if (last != r->info.last_seq)
    problem(v, last, "the run record says the history ends at seq %u, "
            "but it ends at seq %u", r->info.last_seq, last);
  if (ok && f.v.status != r->info.status)
    problem(v, 0, "the run record says %s, the events say %s",
            cairn_run_status_name(r->info.status),
            cairn_run_status_name(f.v.status));
  if (ok)
    check_views(v, r->info.key, &f);
  cairn__fold_free(&f);
}

/* ------------------------------------------- the indexes beside runs */

/* Whether the audit database holds record `seq`. */
static bool audit_has(vctx *v, uint64_t seq) {
  unsigned char kb[8];
  cairn__put_be64(kb, seq);
  MDB_val k = {8, kb}, val;
  return mdb_get(v->txn, LJ(v->j)->audit, &k, &val) == 0;
}

/* Whether the definitions database holds snapshot `hash` (64 bytes). */
static bool definition_has(vctx *v, const void *hash) {
  MDB_val k = {CAIRN_HASH_HEX_LEN, (void *)hash}, val;
  return mdb_get(v->txn, LJ(v->j)->defs, &k, &val) == 0;
}

/* Calls fn on every record of `dbi`. */
static void each_record(vctx *v, MDB_dbi dbi,
                        void (*fn)(vctx *v, const MDB_val *k,
                                   const MDB_val *val)) {
  MDB_cursor *cur;
  MDB_val k, val;
  if (mdb_cursor_open(v->txn, dbi, &cur) != 0) {
    problem(v, 0, "an index cannot be read");
    return;
  }
  for (int rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT))
    fn(v, &k, &val);
  mdb_cursor_close(cur);
}

/* definitions: content-addressed, so each snapshot hashes to its key. */
static void check_definition(vctx *v, const MDB_val *k, const MDB_val *val) {
  char h[CAIRN_HASH_HEX_LEN + 1];
  cairn__sha256_hex(val->mv_data, val->mv_size, h);
  if (k->mv_size != CAIRN_HASH_HEX_LEN ||
      memcmp(k->mv_data, h, CAIRN_HASH_HEX_LEN) != 0)
    problem(v, 0, "definition %.*s does not hash to its key (its text "
            "was changed); restore the journal from a backup",
            (int)(k->mv_size < 64 ? k->mv_size : 64),
            (const char *)k->mv_data);
  else if (!cairn__json_valid(val->mv_data, val->mv_size))
    problem(v, 0, "definition %.64s is not JSON", (const char *)k->mv_data);
}

/* names: every version of a name is a stored snapshot. */
static void check_name(vctx *v, const MDB_val *k, const MDB_val *val) {
  uint32_t n = 0;
  char h[CAIRN_HASH_HEX_LEN + 1];
  const char *name = memchr(k->mv_data, 0, k->mv_size);
  int len = name ? (int)(k->mv_size - (size_t)(name + 1 -
                                               (const char *)k->mv_data))
                 : 0;
  name = name ? name + 1 : "";
  if (cairn__names_rec_count(val->mv_data, val->mv_size, &n) != 0) {
    problem(v, 0, "the versions of workflow %.*s do not decode", len, name);
    return;
  }
  for (uint32_t i = 1; i <= n; i++)
    if (cairn__names_rec_get(val->mv_data, val->mv_size, i, h) != 0 ||
        !definition_has(v, h))
      problem(v, 0, "version %u of workflow %.*s names a definition that "
              "is not stored", i, len, name);
}

/* def_names: registrations of stored snapshots only. */
static void check_def_names(vctx *v, const MDB_val *k, const MDB_val *val) {
  (void)val;
  if (k->mv_size != CAIRN_HASH_HEX_LEN || !definition_has(v, k->mv_data))
    problem(v, 0, "the registrations of definition %.*s name a definition "
            "that is not stored", (int)(k->mv_size < 64 ? k->mv_size : 64),
            (const char *)k->mv_data);
}

static void check_audit(vctx *v, const MDB_val *k, const MDB_val *val) {
  cairn_audit_record a;
  if (k->mv_size != 8 ||
      cairn__audit_decode(val->mv_data, val->mv_size, &a) != 0 ||
      a.seq != cairn__get_be64(k->mv_data))
    problem(v, 0, "audit record %llu does not decode",
            k->mv_size == 8 ? (unsigned long long)cairn__get_be64(k->mv_data)
                            : 0ULL);
}

/* requests: each request id points at an audit record. */
static void check_request(vctx *v, const MDB_val *k, const MDB_val *val) {
  const char *id = memchr(k->mv_data, 0, k->mv_size);
  int len = id ? (int)(k->mv_size - (size_t)(id + 1 -
                                             (const char *)k->mv_data))
               : 0;
  if (val->mv_size != 8 || !audit_has(v, cairn__get_be64(val->mv_data)))
    problem(v, 0, "request id %.*s points at no audit record", len,
            id ? id + 1 : "");
}

/* audit_by_action: each entry ends with the seq of an audit record. */
static void check_action(vctx *v, const MDB_val *k, const MDB_val *val) {
  (void)val;
  if (k->mv_size < 16 ||
      !audit_has(v, cairn__get_be64((const unsigned char *)k->mv_data +
                                    k->mv_size - 8)))
    problem(v, 0, "the audit index by action lists a record that is not "
            "stored");
}

/* mappings: (from hash, to hash) -> a JSON object of step names. */
static void check_mapping(vctx *v, const MDB_val *k, const MDB_val *val) {
  if (k->mv_size != 2 * CAIRN_HASH_HEX_LEN ||
      !cairn__json_valid(val->mv_data, val->mv_size))
    problem(v, 0, "a saved rename mapping does not decode");
}

/* prompts: a text is stored under the SHA-256 of its bytes; an
 * artifact's record decodes and each of its revisions has its text. */
static void check_prompt(vctx *v, const MDB_val *k, const MDB_val *val) {
  const unsigned char *kp = k->mv_data;
  if (k->mv_size > 0 && kp[0] == 0) {
    char h[CAIRN_HASH_HEX_LEN + 1];
    cairn__sha256_hex(val->mv_data, val->mv_size, h);
    if (k->mv_size != 1 + CAIRN_HASH_HEX_LEN ||
        memcmp(kp + 1, h, CAIRN_HASH_HEX_LEN) != 0)
      problem(v, 0, "a prompt text is not stored under its own hash");
    return;
  }
  cairn_prompt p;
  if (cairn__prompt_rec_decode(val->mv_data, val->mv_size, &p) != 0) {
    problem(v, 0, "a prompt artifact's record does not decode");
    return;
  }
  for (size_t i = 0; i < p.n_revisions; i++) {
    unsigned char tk[1 + CAIRN_HASH_HEX_LEN] = {0};
    memcpy(tk + 1, p.revisions[i].hash, CAIRN_HASH_HEX_LEN);
    MDB_val tkey = {sizeof tk, tk}, tval;
    if (mdb_get(v->txn, LJ(v->j)->prompts, &tkey, &tval) != 0) {
      problem(v, 0, "a prompt artifact names a revision whose text is not "
              "stored");
      break;
    }
  }
  cairn_prompt_free(&p);
}

/* assets: each latest entry names an asset.materialized of its own key
 * and holds its hash. */
static void check_asset(vctx *v, const MDB_val *k, const MDB_val *val) {
  if (!cairn__lmdb_asset_entry_ok(v->j, v->txn, k, val))
    problem(v, 0, "an entry of the asset catalogue (%.*s) does not match "
            "the event it points at; run `cairn journal rebuild-views`",
            (int)(k->mv_size < 200 ? k->mv_size : 200),
            (const char *)k->mv_data);
}

/* Every index that is not one run's: definitions and their names, the
 * audit records and their two indexes, saved mappings, prompt artifacts. */
static void check_catalogue(vctx *v) {
  cairn__lmdb *l = LJ(v->j);
  v->run_key = 0;
  v->run_id = NULL;
  v->told = 0;
  each_record(v, l->defs, check_definition);
  each_record(v, l->names, check_name);
  each_record(v, l->def_names, check_def_names);
  each_record(v, l->audit, check_audit);
  each_record(v, l->requests, check_request);
  each_record(v, l->audit_by_action, check_action);
  each_record(v, l->mappings, check_mapping);
  each_record(v, l->prompts, check_prompt);
  each_record(v, l->assets, check_asset);
  MDB_stat st;
  if (mdb_stat(v->txn, l->asset_versions, &st) == 0 &&
      st.ms_entries != v->asset_events)
    problem(v, 0, "the asset catalogue holds %zu versions but the histories "
            "hold %llu asset.materialized events; run `cairn journal "
            "rebuild-views`", st.ms_entries,
            (unsigned long long)v->asset_events);
}

int cairn__lmdb_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx,
                         cairn_verify_stats *stats) {
  vctx v = {.j = j, .cb = cb, .cb_ctx = ctx};
  MDB_cursor *cur;
  MDB_val k, val;
  MDB_stat es;
  uint64_t sum_last = 0;
  cairn_reader *r;
  int rc = cairn__lmdb_reader_begin(j, &r);
  if (rc)
    return rc;
  v.txn = LR(r)->txn;
  if ((rc = mdb_cursor_open(v.txn, LJ(j)->runs, &cur)) != 0) {
    cairn__lmdb_reader_end(r);
    return cairn__mdb_err(j, rc, "listing runs");
  }
  for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
    cairn__run_rec rec;
    if (k.mv_size != 8 ||
        cairn__run_rec_decode(val.mv_data, val.mv_size, &rec) != 0 ||
        rec.info.key != cairn__get_be64(k.mv_data)) {
      v.run_key = k.mv_size == 8 ? cairn__get_be64(k.mv_data) : 0;
      v.run_id = NULL;
      problem(&v, 0, "the run record does not decode");
      continue;
    }
    sum_last += rec.info.last_seq;
    verify_run(&v, &rec);
  }
  mdb_cursor_close(cur);
  v.run_key = 0;
  v.run_id = NULL;
  v.told = 0;
  if (mdb_stat(v.txn, LJ(j)->events, &es) == 0 && es.ms_entries != sum_last)
    problem(&v, 0, "the journal holds %zu events but its runs account for "
            "%llu: %s", es.ms_entries, (unsigned long long)sum_last,
            es.ms_entries > sum_last ? "some events belong to no run"
                                     : "some events are missing");
  check_catalogue(&v);
  cairn__lmdb_reader_end(r);
  if (stats)
    *stats = v.st;
  return v.st.problems ? CAIRN_ECORRUPT : 0;
}

/* ------------------------------------------------------------ rebuild */

typedef struct rebuild_ctx {
  uint64_t key;
} rebuild_ctx;

static int rebuild_fn(cairn_journal *j, MDB_txn *txn, void *ctx) {
  rebuild_ctx *c = ctx;
  MDB_cursor *cur;
  unsigned char kb[8];
  MDB_val k = {8, kb}, val;
  int rc = mdb_cursor_open(txn, LJ(j)->views, &cur);
  if (rc)
    return cairn__mdb_err(j, rc, "clearing views");
  cairn__put_be64(kb, c->key);
  for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE);
       rc == 0 && k.mv_size >= 8 && memcmp(k.mv_data, kb, 8) == 0;
       rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE)) {
    /* Re-seek after each delete: simpler than LMDB's cursor-after-delete
     * rules, and views are few per run. */
    if ((rc = cairn__cursor_del(cur, 0)) != 0)
      break;
    k.mv_size = 8;
    k.mv_data = kb;
  }
  mdb_cursor_close(cur);
  if (rc && rc != MDB_NOTFOUND)
    return cairn__mdb_err(j, rc, "clearing views");
  vctx v = {.j = j, .txn = txn, .run_key = c->key};
  cairn__lmdb_loader l = {j, txn, false};
  cairn__fold_loader fl;
  cairn__fold f;
  uint32_t last;
  cairn__lmdb_loader_init(&l, &fl);
  cairn__fold_init(&f, c->key, &fl);
  if (!fold_history(&v, c->key, &f, &last)) {
    cairn__journal_set_err(j, "run key %llu: its history is broken (%s); "
                              "views cannot be rebuilt from it",
                           (unsigned long long)c->key, v.first);
    cairn__fold_free(&f);
    return CAIRN_ECORRUPT;
  }
  rc = cairn__fold_flush(j, txn, &f);
  cairn__fold_free(&f);
  return rc;
}

static int rebuild_assets_fn(cairn_journal *j, MDB_txn *txn, void *ctx) {
  (void)ctx;
  return cairn__lmdb_rebuild_assets(j, txn);
}

int cairn__lmdb_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs) {
  uint64_t *keys = NULL;
  size_t n = 0, cap = 0;
  cairn_reader *r;
  MDB_cursor *cur;
  MDB_val k, val;
  int rc = cairn__lmdb_reader_begin(j, &r);
  if (rc)
    return rc;
  if ((rc = mdb_cursor_open(LR(r)->txn, LJ(j)->runs, &cur)) == 0) {
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
      if (k.mv_size != 8)
        continue;
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        uint64_t *g = cairn__realloc(keys, cap * sizeof *g);
        if (g == NULL) {
          mdb_cursor_close(cur);
          cairn__lmdb_reader_end(r);
          free(keys);
          return CAIRN_ENOMEM;
        }
        keys = g;
      }
      keys[n++] = cairn__get_be64(k.mv_data);
    }
    mdb_cursor_close(cur);
  }
  cairn__lmdb_reader_end(r);
  rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rebuild_ctx c = {keys[i]};
    rc = cairn__write_txn(j, rebuild_fn, &c);
  }
  free(keys);
  if (rc == 0)
    rc = cairn__write_txn(j, rebuild_assets_fn, NULL);
  if (n_runs)
    *n_runs = n;
  return rc;
}

/* -------------------------------------------------------------- stats */

int cairn__lmdb_journal_stats_get(cairn_journal *j, cairn_journal_stats *out) {
  cairn_reader *r;
  MDB_stat st;
  MDB_envinfo info;
  MDB_cursor *cur;
  MDB_val k, val;
  memset(out, 0, sizeof *out);
  int rc = cairn__lmdb_reader_begin(j, &r);
  if (rc)
    return rc;
  struct {
    MDB_dbi dbi;
    uint64_t *count;
  } dbs[] = {{LJ(j)->runs, &out->runs},       {LJ(j)->workflows, &out->workflows},
             {LJ(j)->events, &out->events},   {LJ(j)->defs, &out->definitions},
             {LJ(j)->audit, &out->audit_records}, {LJ(j)->views, &out->view_records},
             {LJ(j)->assets, &out->assets},
             {LJ(j)->asset_versions, &out->asset_versions}};
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
    if (mdb_stat(LR(r)->txn, dbs[i].dbi, &st) == 0)
      *dbs[i].count = st.ms_entries;
  out->schema = CAIRN_JOURNAL_SCHEMA;
  out->opened_schema = j->opened_schema;
  if (mdb_cursor_open(LR(r)->txn, LJ(j)->by_status, &cur) == 0) {
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
      unsigned s = *(unsigned char *)k.mv_data;
      if (k.mv_size == 9 && s < 6)
        out->runs_by_status[s]++;
    }
    mdb_cursor_close(cur);
  }
  if (mdb_cursor_open(LR(r)->txn, LJ(j)->events, &cur) == 0) {
    for (rc = mdb_cursor_get(cur, &k, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT))
      out->event_bytes += val.mv_size;
    mdb_cursor_close(cur);
  }
  mdb_env_stat(LJ(j)->env, &st);
  mdb_env_info(LJ(j)->env, &info);
  out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
  out->map_bytes = info.me_mapsize;
  cairn__lmdb_reader_end(r);
  char path[4096];
  struct stat fs;
  snprintf(path, sizeof path, "%s/data.mdb", j->home);
  if (stat(path, &fs) == 0)
    out->file_bytes = (uint64_t)fs.st_size;
  return 0;
}
