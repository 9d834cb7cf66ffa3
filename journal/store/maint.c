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
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Beyond this many problems in one run, the rest are counted, not told. */
#define MAX_TOLD_PER_RUN 20

typedef struct vctx {
  cairn_journal *j;
  cairn__txn *txn;
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
  cairn__cursor *cur;
  unsigned char kb[12];
  cairn__val k = {cairn__event_key(kb, key, 0), kb}, val;
  bool ok = true;
  *last = 0;
  if (cairn__cursor_open(v->txn, DB_EVENTS, &cur) != 0)
    return false;
  for (int rc = cairn__cursor_get(cur, &k, &val, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &val, KV_NEXT)) {
    if (k.size != 12 || cairn__get_be64(k.data) != key)
      break;
    uint32_t seq = cairn__get_be32((unsigned char *)k.data + 8);
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
    if (cairn_event_decode(val.data, val.size, &ev, &err) != 0) {
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
      if (!cairn__store_asset_catalogued(v->txn, v->run_ns, key, &ev))
        problem(v, seq, "asset %.*s is missing from the asset catalogue; "
                "run `cairn journal rebuild-views`",
                (int)ev.asset_key.len, ev.asset_key.ptr);
    }
  }
  cairn__cursor_close(cur);
  return ok;
}

static bool same_bytes(const cairn__val *stored, char *buf, size_t n, int rc) {
  bool same = rc == 0 && stored->size == n &&
              memcmp(stored->data, buf, n) == 0;
  free(buf);
  return same;
}

static cairn__fold_step *find_step(cairn__fold *f, const void *p, size_t n) {
  cairn__fold_step *s = NULL;
  HASH_FIND(hh, f->steps, p, n, s);
  return s && s->known ? s : NULL;
}

/* Compares one stored view record with the fold; marks it seen. */
static void check_view_record(vctx *v, cairn__fold *f, const cairn__val *k,
                              const cairn__val *val) {
  const unsigned char *kp = k->data;
  char *buf = NULL;
  size_t n = 0;
  int tag = kp[8];
  if (tag == VIEW_RUN && k->size == 9) {
    int rc = cairn__run_view_encode(&f->v, &buf, &n);
    if (!same_bytes(val, buf, n, rc))
      problem(v, 0, "the run view differs from the fold of its events; "
              "run `cairn journal rebuild-views`");
    f->v_dirty = false;
    return;
  }
  if (tag == VIEW_STEP) {
    cairn__fold_step *s = find_step(f, kp + 9, k->size - 9);
    int rc = s ? cairn__step_view_encode(&s->v, &buf, &n) : 0;
    if (s == NULL || !same_bytes(val, buf, n, rc))
      problem(v, 0, "the view of step %.*s %s the fold of its events",
              (int)(k->size - 9), kp + 9,
              s ? "differs from" : "exists but has no event in");
    if (s)
      s->dirty = false;
    return;
  }
  const unsigned char *nul = tag == VIEW_ATTEMPT && k->size > 14
                                 ? memchr(kp + 9, 0, k->size - 9)
                                 : NULL;
  if (nul == NULL || (size_t)(nul - kp) + 5 != k->size) {
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
  cairn__cursor *cur;
  unsigned char kb[8];
  cairn__put_be64(kb, key);
  cairn__val k = {8, kb}, val;
  if (cairn__cursor_open(v->txn, DB_VIEWS, &cur) != 0)
    return;
  for (int rc = cairn__cursor_get(cur, &k, &val, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &val, KV_NEXT)) {
    if (k.size < 9 || memcmp(k.data, kb, 8) != 0)
      break;
    check_view_record(v, f, &k, &val);
  }
  cairn__cursor_close(cur);
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
  cairn__val k = {cairn__name_key(kb, r->info.ns, r->info.workflow_id), kb};
  cairn__val val;
  uint64_t current, *runs = NULL;
  size_t n = 0, cap = 0;
  bool listed = false;
  if (cairn__kv_get(v->txn, DB_WORKFLOWS, &k, &val) == 0 &&
      cairn__wf_rec_decode(val.data, val.size, &current, &runs, &n,
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
  cairn__val s = {9, sk};
  if (cairn__kv_get(v->txn, DB_BY_STATUS, &s, &val) != 0)
    problem(v, 0, "the status index does not list this run as %s",
            cairn_run_status_name(r->info.status));
}

static void verify_run(vctx *v, const cairn__run_rec *r) {
  cairn__store_loader l = {v->j, v->txn, false};
  cairn__fold_loader fl;
  cairn__fold f;
  uint32_t last = 0;
  cairn__store_loader_init(&l, &fl);
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
  cairn__val k = {8, kb}, val;
  return cairn__kv_get(v->txn, DB_AUDIT, &k, &val) == 0;
}

/* Whether the definitions database holds snapshot `hash` (64 bytes). */
static bool definition_has(vctx *v, const void *hash) {
  cairn__val k = {CAIRN_HASH_HEX_LEN, (void *)hash}, val;
  return cairn__kv_get(v->txn, DB_DEFS, &k, &val) == 0;
}

/* Calls fn on every record of `dbi`. */
static void each_record(vctx *v, cairn__db dbi,
                        void (*fn)(vctx *v, const cairn__val *k,
                                   const cairn__val *val)) {
  cairn__cursor *cur;
  cairn__val k, val;
  if (cairn__cursor_open(v->txn, dbi, &cur) != 0) {
    problem(v, 0, "an index cannot be read");
    return;
  }
  for (int rc = cairn__cursor_get(cur, &k, &val, KV_FIRST); rc == 0;
       rc = cairn__cursor_get(cur, &k, &val, KV_NEXT))
    fn(v, &k, &val);
  cairn__cursor_close(cur);
}

/* definitions: content-addressed, so each snapshot hashes to its key. */
static void check_definition(vctx *v, const cairn__val *k, const cairn__val *val) {
  char h[CAIRN_HASH_HEX_LEN + 1];
  cairn__sha256_hex(val->data, val->size, h);
  if (k->size != CAIRN_HASH_HEX_LEN ||
      memcmp(k->data, h, CAIRN_HASH_HEX_LEN) != 0)
    problem(v, 0, "definition %.*s does not hash to its key (its text "
            "was changed); restore the journal from a backup",
            (int)(k->size < 64 ? k->size : 64),
            (const char *)k->data);
  else if (!cairn__json_valid(val->data, val->size))
    problem(v, 0, "definition %.64s is not JSON", (const char *)k->data);
}

/* names: every version of a name is a stored snapshot. */
static void check_name(vctx *v, const cairn__val *k, const cairn__val *val) {
  uint32_t n = 0;
  char h[CAIRN_HASH_HEX_LEN + 1];
  const char *name = memchr(k->data, 0, k->size);
  int len = name ? (int)(k->size - (size_t)(name + 1 -
                                               (const char *)k->data))
                 : 0;
  name = name ? name + 1 : "";
  if (cairn__names_rec_count(val->data, val->size, &n) != 0) {
    problem(v, 0, "the versions of workflow %.*s do not decode", len, name);
    return;
  }
  for (uint32_t i = 1; i <= n; i++)
    if (cairn__names_rec_get(val->data, val->size, i, h) != 0 ||
        !definition_has(v, h))
      problem(v, 0, "version %u of workflow %.*s names a definition that "
              "is not stored", i, len, name);
}

/* def_names: registrations of stored snapshots only. */
static void check_def_names(vctx *v, const cairn__val *k, const cairn__val *val) {
  (void)val;
  if (k->size != CAIRN_HASH_HEX_LEN || !definition_has(v, k->data))
    problem(v, 0, "the registrations of definition %.*s name a definition "
            "that is not stored", (int)(k->size < 64 ? k->size : 64),
            (const char *)k->data);
}

static void check_audit(vctx *v, const cairn__val *k, const cairn__val *val) {
  cairn_audit_record a;
  if (k->size != 8 ||
      cairn__audit_decode(val->data, val->size, &a) != 0 ||
      a.seq != cairn__get_be64(k->data))
    problem(v, 0, "audit record %llu does not decode",
            k->size == 8 ? (unsigned long long)cairn__get_be64(k->data)
                            : 0ULL);
}

/* requests: each request id points at an audit record. */
static void check_request(vctx *v, const cairn__val *k, const cairn__val *val) {
  const char *id = memchr(k->data, 0, k->size);
  int len = id ? (int)(k->size - (size_t)(id + 1 -
                                             (const char *)k->data))
               : 0;
  if (val->size != 8 || !audit_has(v, cairn__get_be64(val->data)))
    problem(v, 0, "request id %.*s points at no audit record", len,
            id ? id + 1 : "");
}

/* audit_by_action: each entry ends with the seq of an audit record. */
static void check_action(vctx *v, const cairn__val *k, const cairn__val *val) {
  (void)val;
  if (k->size < 16 ||
      !audit_has(v, cairn__get_be64((const unsigned char *)k->data +
                                    k->size - 8)))
    problem(v, 0, "the audit index by action lists a record that is not "
            "stored");
}

/* mappings: (from hash, to hash) -> a JSON object of step names. */
static void check_mapping(vctx *v, const cairn__val *k, const cairn__val *val) {
  if (k->size != 2 * CAIRN_HASH_HEX_LEN ||
      !cairn__json_valid(val->data, val->size))
    problem(v, 0, "a saved rename mapping does not decode");
}

/* prompts: a text is stored under the SHA-256 of its bytes; an
 * artifact's record decodes and each of its revisions has its text. */
static void check_prompt(vctx *v, const cairn__val *k, const cairn__val *val) {
  const unsigned char *kp = k->data;
  if (k->size > 0 && kp[0] == 0) {
    char h[CAIRN_HASH_HEX_LEN + 1];
    cairn__sha256_hex(val->data, val->size, h);
    if (k->size != 1 + CAIRN_HASH_HEX_LEN ||
        memcmp(kp + 1, h, CAIRN_HASH_HEX_LEN) != 0)
      problem(v, 0, "a prompt text is not stored under its own hash");
    return;
  }
  cairn_prompt p;
  if (cairn__prompt_rec_decode(val->data, val->size, &p) != 0) {
    problem(v, 0, "a prompt artifact's record does not decode");
    return;
  }
  for (size_t i = 0; i < p.n_revisions; i++) {
    unsigned char tk[1 + CAIRN_HASH_HEX_LEN] = {0};
    memcpy(tk + 1, p.revisions[i].hash, CAIRN_HASH_HEX_LEN);
    cairn__val tkey = {sizeof tk, tk}, tval;
    if (cairn__kv_get(v->txn, DB_PROMPTS, &tkey, &tval) != 0) {
      problem(v, 0, "a prompt artifact names a revision whose text is not "
              "stored");
      break;
    }
  }
  cairn_prompt_free(&p);
}

/* assets: each latest entry names an asset.materialized of its own key
 * and holds its hash. */
static void check_asset(vctx *v, const cairn__val *k, const cairn__val *val) {
  if (!cairn__store_asset_entry_ok(v->j, v->txn, k, val))
    problem(v, 0, "an entry of the asset catalogue (%.*s) does not match "
            "the event it points at; run `cairn journal rebuild-views`",
            (int)(k->size < 200 ? k->size : 200),
            (const char *)k->data);
}

/* Every index that is not one run's: definitions and their names, the
 * audit records and their two indexes, saved mappings, prompt artifacts. */
static void check_catalogue(vctx *v) {
  v->run_key = 0;
  v->run_id = NULL;
  v->told = 0;
  each_record(v, DB_DEFS, check_definition);
  each_record(v, DB_NAMES, check_name);
  each_record(v, DB_DEF_NAMES, check_def_names);
  each_record(v, DB_AUDIT, check_audit);
  each_record(v, DB_REQUESTS, check_request);
  each_record(v, DB_AUDIT_BY_ACTION, check_action);
  each_record(v, DB_MAPPINGS, check_mapping);
  each_record(v, DB_PROMPTS, check_prompt);
  each_record(v, DB_ASSETS, check_asset);
  uint64_t versions;
  if (cairn__kv_count(v->txn, DB_ASSET_VERSIONS, &versions) == 0 &&
      versions != v->asset_events)
    problem(v, 0, "the asset catalogue holds %llu versions but the histories "
            "hold %llu asset.materialized events; run `cairn journal "
            "rebuild-views`", (unsigned long long)versions,
            (unsigned long long)v->asset_events);
}

int cairn__store_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx,
                         cairn_verify_stats *stats) {
  vctx v = {.j = j, .cb = cb, .cb_ctx = ctx};
  cairn__cursor *cur;
  cairn__val k, val;
  uint64_t n_events, sum_last = 0;
  cairn_reader *r;
  int rc = cairn__store_reader_begin(j, &r);
  if (rc)
    return rc;
  v.txn = LR(r)->txn;
  if ((rc = cairn__cursor_open(v.txn, DB_RUNS, &cur)) != 0) {
    cairn__store_reader_end(r);
    return cairn__kv_err(j, rc, "listing runs");
  }
  for (rc = cairn__cursor_get(cur, &k, &val, KV_FIRST); rc == 0;
       rc = cairn__cursor_get(cur, &k, &val, KV_NEXT)) {
    cairn__run_rec rec;
    if (k.size != 8 ||
        cairn__run_rec_decode(val.data, val.size, &rec) != 0 ||
        rec.info.key != cairn__get_be64(k.data)) {
      v.run_key = k.size == 8 ? cairn__get_be64(k.data) : 0;
      v.run_id = NULL;
      problem(&v, 0, "the run record does not decode");
      continue;
    }
    sum_last += rec.info.last_seq;
    verify_run(&v, &rec);
  }
  cairn__cursor_close(cur);
  v.run_key = 0;
  v.run_id = NULL;
  v.told = 0;
  if (cairn__kv_count(v.txn, DB_EVENTS, &n_events) == 0 &&
      n_events != sum_last)
    problem(&v, 0, "the journal holds %llu events but its runs account for "
            "%llu: %s", (unsigned long long)n_events, (unsigned long long)sum_last,
            n_events > sum_last ? "some events belong to no run"
                                     : "some events are missing");
  check_catalogue(&v);
  cairn__store_reader_end(r);
  if (stats)
    *stats = v.st;
  return v.st.problems ? CAIRN_ECORRUPT : 0;
}

/* ------------------------------------------------------------ rebuild */

typedef struct rebuild_ctx {
  uint64_t key;
} rebuild_ctx;

static int rebuild_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  rebuild_ctx *c = ctx;
  cairn__cursor *cur;
  unsigned char kb[8];
  cairn__val k = {8, kb}, val;
  int rc = cairn__cursor_open(txn, DB_VIEWS, &cur);
  if (rc)
    return cairn__kv_err(j, rc, "clearing views");
  cairn__put_be64(kb, c->key);
  for (rc = cairn__cursor_get(cur, &k, &val, KV_SET_RANGE);
       rc == 0 && k.size >= 8 && memcmp(k.data, kb, 8) == 0;
       rc = cairn__cursor_get(cur, &k, &val, KV_SET_RANGE)) {
    /* Re-seek after each delete: simpler than LMDB's cursor-after-delete
     * rules, and views are few per run. */
    if ((rc = cairn__cursor_del(cur)) != 0)
      break;
    k.size = 8;
    k.data = kb;
  }
  cairn__cursor_close(cur);
  if (rc && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "clearing views");
  vctx v = {.j = j, .txn = txn, .run_key = c->key};
  cairn__store_loader l = {j, txn, false};
  cairn__fold_loader fl;
  cairn__fold f;
  uint32_t last;
  cairn__store_loader_init(&l, &fl);
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

static int rebuild_assets_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  (void)ctx;
  return cairn__store_rebuild_assets(j, txn);
}

int cairn__store_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs) {
  uint64_t *keys = NULL;
  size_t n = 0, cap = 0;
  cairn_reader *r;
  cairn__cursor *cur;
  cairn__val k, val;
  int rc = cairn__store_reader_begin(j, &r);
  if (rc)
    return rc;
  if ((rc = cairn__cursor_open(LR(r)->txn, DB_RUNS, &cur)) == 0) {
    for (rc = cairn__cursor_get(cur, &k, &val, KV_FIRST); rc == 0;
         rc = cairn__cursor_get(cur, &k, &val, KV_NEXT)) {
      if (k.size != 8)
        continue;
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        uint64_t *g = cairn__realloc(keys, cap * sizeof *g);
        if (g == NULL) {
          cairn__cursor_close(cur);
          cairn__store_reader_end(r);
          free(keys);
          return CAIRN_ENOMEM;
        }
        keys = g;
      }
      keys[n++] = cairn__get_be64(k.data);
    }
    cairn__cursor_close(cur);
  }
  cairn__store_reader_end(r);
  rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    rebuild_ctx c = {keys[i]};
    rc = cairn__write_txn_alone(j, rebuild_fn, &c);
  }
  free(keys);
  if (rc == 0)
    rc = cairn__write_txn_alone(j, rebuild_assets_fn, NULL);
  if (n_runs)
    *n_runs = n;
  return rc;
}

/* -------------------------------------------------------------- stats */

int cairn__store_journal_stats_get(cairn_journal *j, cairn_journal_stats *out) {
  cairn_reader *r;
  cairn__cursor *cur;
  cairn__val k, val;
  memset(out, 0, sizeof *out);
  int rc = cairn__store_reader_begin(j, &r);
  if (rc)
    return rc;
  struct {
    cairn__db dbi;
    uint64_t *count;
  } dbs[] = {{DB_RUNS, &out->runs},       {DB_WORKFLOWS, &out->workflows},
             {DB_EVENTS, &out->events},   {DB_DEFS, &out->definitions},
             {DB_AUDIT, &out->audit_records}, {DB_VIEWS, &out->view_records},
             {DB_ASSETS, &out->assets},
             {DB_ASSET_VERSIONS, &out->asset_versions}};
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
    cairn__kv_count(LR(r)->txn, dbs[i].dbi, dbs[i].count);
  out->schema = CAIRN_JOURNAL_SCHEMA;
  out->opened_schema = j->opened_schema;
  if (cairn__cursor_open(LR(r)->txn, DB_BY_STATUS, &cur) == 0) {
    for (rc = cairn__cursor_get(cur, &k, &val, KV_FIRST); rc == 0;
         rc = cairn__cursor_get(cur, &k, &val, KV_NEXT)) {
      unsigned s = *(unsigned char *)k.data;
      if (k.size == 9 && s < 6)
        out->runs_by_status[s]++;
    }
    cairn__cursor_close(cur);
  }
  if (cairn__cursor_open(LR(r)->txn, DB_EVENTS, &cur) == 0) {
    for (rc = cairn__cursor_get(cur, &k, &val, KV_FIRST); rc == 0;
         rc = cairn__cursor_get(cur, &k, &val, KV_NEXT))
      out->event_bytes += val.size;
    cairn__cursor_close(cur);
  }
  KV(j)->space(LR(r)->txn, out);
  cairn__store_reader_end(r);
  return 0;
}

/* --------------------------------------------------------------- copy */

/* Records are copied in batches held in memory (so a redone transaction
 * writes the same), each one write transaction on the destination. */
#define COPY_BATCH 2000

typedef struct copy_batch {
  cairn__db db;
  size_t n;
  cairn__val k[COPY_BATCH], v[COPY_BATCH];
} copy_batch;

static void batch_clear(copy_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    free(b->k[i].data);
    free(b->v[i].data);
  }
  b->n = 0;
}

static int copy_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  copy_batch *b = ctx;
  for (size_t i = 0; i < b->n; i++) {
    cairn__val v = b->v[i];
    int rc = cairn__kv_put(txn, b->db, &b->k[i], &v, 0);
    if (rc)
      return cairn__kv_err(j, rc, "copying a record");
  }
  return 0;
}

static int flush_copy(cairn_journal *to, copy_batch *b) {
  int rc = b->n ? cairn__write_txn_alone(to, copy_fn, b) : 0;
  batch_clear(b);
  return rc;
}

static void *dup_bytes(const cairn__val *v) {
  void *p = malloc(v->size ? v->size : 1);
  if (p)
    memcpy(p, v->data, v->size);
  return p;
}

int cairn__store_journal_copy(cairn_journal *from, cairn_journal *to,
                              uint64_t *n_records) {
  cairn_reader *src, *dst;
  uint64_t runs = 0, total = 0;
  if (n_records)
    *n_records = 0;
  int rc = cairn__store_reader_begin(to, &dst);
  if (rc)
    return rc;
  rc = cairn__kv_count(LR(dst)->txn, DB_RUNS, &runs);
  cairn__store_reader_end(dst);
  if (rc)
    return cairn__kv_err(to, rc, "counting the destination's runs");
  if (runs) {
    cairn__journal_set_err(to, "the destination %s holds %llu run(s) "
                               "already; copy into a journal that holds "
                               "none (a new directory, an empty database)",
                           to->home, (unsigned long long)runs);
    return CAIRN_ECONFLICT;
  }
  copy_batch *b = calloc(1, sizeof *b);
  if (b == NULL)
    return CAIRN_ENOMEM;
  if ((rc = cairn__store_reader_begin(from, &src)) != 0) {
    free(b);
    return rc;
  }
  for (int d = 0; rc == 0 && d < DB_COUNT; d++) {
    cairn__cursor *cur;
    cairn__val k, v;
    b->db = (cairn__db)d;
    if ((rc = cairn__cursor_open(LR(src)->txn, b->db, &cur)) != 0) {
      rc = cairn__kv_err(from, rc, "reading the source");
      break;
    }
    int crc;
    for (crc = cairn__cursor_get(cur, &k, &v, KV_FIRST); crc == 0;
         crc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
      b->k[b->n] = (cairn__val){k.size, dup_bytes(&k)};
      b->v[b->n] = (cairn__val){v.size, dup_bytes(&v)};
      if (b->k[b->n].data == NULL || b->v[b->n].data == NULL) {
        b->n++;
        rc = CAIRN_ENOMEM;
        break;
      }
      b->n++;
      total++;
      if (b->n == COPY_BATCH && (rc = flush_copy(to, b)) != 0)
        break;
    }
    cairn__cursor_close(cur);
    if (rc == 0 && crc != KV_NOTFOUND)
      rc = cairn__kv_err(from, crc, "reading the source");
    if (rc == 0)
      rc = flush_copy(to, b);
  }
  batch_clear(b);
  free(b);
  cairn__store_reader_end(src);
  if (rc == 0 && n_records)
    *n_records = total;
  return rc;
}
