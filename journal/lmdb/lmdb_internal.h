/*
 * lmdb_internal.h — the LMDB backend's private state. Included only by
 * the files of journal/lmdb/, the only files that see lmdb.h:
 *   env.c    opening, map growth, the write transaction, key builders, and
 *            the ops table (cairn__lmdb_ops, backend.h)
 *   read.c   readers: runs, histories, views, definitions, audit
 *   write.c  a batch's commit: events, records, indexes, the fold's views
 *   lease.c  claims, renewals, releases
 *   maint.c  verify, rebuild-views, stats
 *   assets.c the asset catalogue: its writes, reads and rebuild
 *
 * Databases (one LMDB environment in $CAIRN_HOME; keys big-endian so byte
 * order is numeric order; layout in docs/storage.md):
 *   events     run key u64 · seq u32              -> encoded event
 *   runs       run key u64                        -> run record
 *   run_ids    run id (36 chars)                  -> run key u64
 *   workflows  namespace · 0 · workflow id        -> current run, runs
 *   definitions hash (64 hex)                     -> canonical JSON
 *   names      namespace · 0 · name               -> version hashes
 *   by_status  status u8 · run key u64            -> (empty)
 *   views      run key u64 · 0                    -> run view
 *              run key u64 · 1 · step             -> step view
 *              run key u64 · 2 · step · 0 · n u32 -> attempt view
 *   audit      seq u64                            -> audit record
 *   requests   namespace · 0 · request id         -> audit seq u64
 *   def_state  namespace · 0 · name               -> paused, deleted versions
 *   def_names  hash (64 hex)                      -> (ns, name, version)s
 *   mappings   from hash (64 hex) · to hash (64)  -> JSON {"OLD": "NEW"}
 *   audit_by_action  namespace · 0 · action · 0 · time u64 · seq u64
 *                                                 -> (empty)
 *   prompts    namespace · 0 · prompt id          -> workflow, step, revisions
 *              0 · hash (64 hex)                  -> the prompt text
 *   assets     namespace · 0 · key · 0 · partition -> latest record
 *   asset_versions  ... · 0 · time u64 · run u64 · seq u32 -> (empty)
 *   run_assets run key u64 · key · 0 · partition  -> run key u64 · seq u32
 *   asset_uses namespace · 0 · key · 0 · partition · 0 · hash · run u64
 *                                                 -> (empty)
 *   meta       "schema" -> u32, "next_run" -> u64, "next_audit" -> u64
 * That is 20 named databases; mdb_env_set_maxdbs allows 32. The asset
 * catalogue's four are written by assets.c.
 */
#ifndef CAIRN_LMDB_INTERNAL_H
#define CAIRN_LMDB_INTERNAL_H

#include "../backend.h"

#include <lmdb.h>

/* Every write and commit of this backend goes through a fault point
 * (../fault.h): EIO instead of the call when it fires. A failed commit
 * has aborted its transaction, as mdb_txn_commit's failure does. */
static inline int cairn__put(MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
                             MDB_val *v, unsigned flags) {
  return cairn__fault_hit(CAIRN__FAULT_WRITE) ? EIO
                                              : mdb_put(txn, dbi, k, v, flags);
}
static inline int cairn__del(MDB_txn *txn, MDB_dbi dbi, MDB_val *k,
                             MDB_val *v) {
  return cairn__fault_hit(CAIRN__FAULT_WRITE) ? EIO : mdb_del(txn, dbi, k, v);
}
static inline int cairn__cursor_del(MDB_cursor *cur, unsigned flags) {
  return cairn__fault_hit(CAIRN__FAULT_WRITE) ? EIO
                                              : mdb_cursor_del(cur, flags);
}
static inline int cairn__commit(MDB_txn *txn) {
  if (cairn__fault_hit(CAIRN__FAULT_SYNC)) {
    mdb_txn_abort(txn);
    return EIO;
  }
  return mdb_txn_commit(txn);
}

enum { VIEW_RUN = 0, VIEW_STEP = 1, VIEW_ATTEMPT = 2 };

/* The longest view key: run key, tag, step name, NUL, attempt. */
#define CAIRN__VIEW_KEY_MAX (8 + 1 + CAIRN_STEP_NAME_MAX + 1 + 4)
/* The longest workflows/names/def_state key: namespace, NUL, id. */
#define CAIRN__NAME_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN_WORKFLOW_ID_MAX)
/* The longest prompts key: namespace, NUL, prompt id. */
#define CAIRN__PROMPT_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN_PROMPT_ID_MAX)
/* The longest requests key: namespace, NUL, request id. */
#define CAIRN__REQUEST_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN__REQUEST_ID_MAX)

/* The LMDB journal: the neutral handle first (backend.h). */
typedef struct cairn__lmdb {
  cairn_journal base;
  MDB_env *env;
  MDB_dbi events, runs, run_ids, workflows, defs, names, by_status, views,
      audit, requests, def_state, def_names, mappings, audit_by_action,
      prompts, meta, assets, asset_versions, run_assets, asset_uses;
  int watch_fd;          /* inotify on data.mdb, -1 until asked for */
  size_t seen_txnid;     /* the last transaction id at watch_reset */
  size_t own_commits;    /* transactions this handle committed since */
} cairn__lmdb;

typedef struct cairn__lmdb_reader {
  cairn_reader base;
  MDB_txn *txn;
  uint64_t *wf_runs; /* buffer behind cairn_workflow_info.runs */
  size_t wf_cap;
} cairn__lmdb_reader;

typedef struct cairn__lmdb_history {
  cairn_history base;
  MDB_cursor *cur;
  uint64_t key;
  uint32_t next; /* expected seq */
  bool started, done;
} cairn__lmdb_history;

/* From the neutral handles to the backend's own (they are the same
 * objects: the neutral struct is the first member). */
#define LJ(j) ((cairn__lmdb *)(j))
#define LR(r) ((cairn__lmdb_reader *)(r))
#define LH(it) ((cairn__lmdb_history *)(it))

/* Translates an LMDB return code, recording `what` failed in errmsg:
 * MDB_NOTFOUND -> CAIRN_ENOTFOUND, MDB_MAP_FULL -> CAIRN_EFULL (the
 * commit loop grows the map and retries), MDB_CORRUPTED and
 * MDB_PAGE_NOTFOUND -> CAIRN_ECORRUPT, others -> CAIRN_EIO. */
int cairn__mdb_err(cairn_journal *j, int rc, const char *what);

/* Runs fn inside a write transaction and commits, redoing the whole
 * transaction after growing the map when it is full. fn must be
 * repeatable: everything it decides comes from the transaction. */
typedef int (*cairn__txn_fn)(cairn_journal *j, MDB_txn *txn, void *ctx);
int cairn__write_txn(cairn_journal *j, cairn__txn_fn fn, void *ctx);

/* The longest audit_by_action key. */
#define CAIRN__ACTION_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + 64 + 1 + 16)

/* Key builders; each returns the key length. */
/* audit_by_action: namespace (absent: "default"), action, time, seq;
 * 0 when the namespace or action is too long to index. */
size_t cairn__action_key(unsigned char *k, cairn_str ns, cairn_str action,
                         int64_t time_us, uint64_t seq);
size_t cairn__event_key(unsigned char k[12], uint64_t run, uint32_t seq);
size_t cairn__view_key(unsigned char *k, uint64_t run, int tag,
                       cairn_str step, uint32_t attempt);
size_t cairn__name_key(unsigned char *k, const char *ns, const char *id);
/* The requests key of `id` in namespace `ns` (absent or empty: "default");
 * both were checked by cairn_batch_audit. */
size_t cairn__request_key(unsigned char k[CAIRN__REQUEST_KEY_MAX],
                          cairn_str ns, cairn_str id);

/* Reads and decodes the run record of `run`. */
int cairn__get_run(cairn_journal *j, MDB_txn *txn, uint64_t run,
                   cairn__run_rec *out);
/* Looks up a run key by run id (36 chars). */
int cairn__get_run_key(cairn_journal *j, MDB_txn *txn, cairn_str run_id,
                       uint64_t *key);

/* A fold loader reading views and events through `txn`. */
typedef struct cairn__lmdb_loader {
  cairn_journal *j;
  MDB_txn *txn;
  bool from_views; /* false: a full fold, nothing stored is loaded */
} cairn__lmdb_loader;
void cairn__lmdb_loader_init(cairn__lmdb_loader *l, cairn__fold_loader *fl);

/* assets.c: catalogues the asset.materialized `ev` of `run` (committed
 * in `txn`); a version catalogued already is left as it is. */
int cairn__lmdb_put_asset(cairn_journal *j, MDB_txn *txn,
                          const cairn_run_info *run, const cairn_event *ev);
/* assets.c: `run` reused a step whose completion `reused` references:
 * it lists that completion's assets (in the source run) as its own. */
int cairn__lmdb_put_reused_assets(cairn_journal *j, MDB_txn *txn,
                                  const cairn_run_info *run,
                                  const cairn_event *reused);
/* Whether the `assets` entry (k, v) points at an asset.materialized of
 * that key whose hash it holds. */
bool cairn__lmdb_asset_entry_ok(cairn_journal *j, MDB_txn *txn,
                                const MDB_val *k, const MDB_val *v);
/* Empties the catalogue's four databases (rebuild-views refills them). */
int cairn__lmdb_drop_assets(cairn_journal *j, MDB_txn *txn);

/* Empties the catalogue and catalogues every asset event again (one
 * transaction). */
int cairn__lmdb_rebuild_assets(cairn_journal *j, MDB_txn *txn);
/* Whether the asset.materialized `ev` of run `run` (namespace `ns`) is in
 * the catalogue's versions and in the run's assets. */
bool cairn__lmdb_asset_catalogued(cairn_journal *j, MDB_txn *txn,
                                  const char *ns, uint64_t run,
                                  const cairn_event *ev);

/* Writes every dirty view record of `f`. */
int cairn__fold_flush(cairn_journal *j, MDB_txn *txn, cairn__fold *f);

/* The operations of cairn__lmdb_ops (backend.h), each with the contract
 * of the public function of the same name (include/cairn/journal.h). */
int cairn__lmdb_journal_open(const char *home, const cairn_journal_options *opts, cairn_journal **out, char *errbuf, size_t errlen);
void cairn__lmdb_journal_close(cairn_journal *j);
int cairn__lmdb_reader_begin(cairn_journal *j, cairn_reader **out);
void cairn__lmdb_reader_end(cairn_reader *r);
int cairn__lmdb_reader_run_by_key(cairn_reader *r, uint64_t key, cairn_run_info *out);
int cairn__lmdb_reader_run_by_id(cairn_reader *r, const char *run_id, cairn_run_info *out);
int cairn__lmdb_reader_event(cairn_reader *r, uint64_t key, uint32_t seq, cairn_event *out);
int cairn__lmdb_reader_resolve(cairn_reader *r, const cairn_event *ev, cairn_event *out);
int cairn__lmdb_reader_history(cairn_reader *r, uint64_t key, uint32_t from_seq, cairn_history **out);
int cairn__lmdb_history_next(cairn_history *it, cairn_event *ev);
void cairn__lmdb_history_close(cairn_history *it);
int cairn__lmdb_reader_workflow(cairn_reader *r, const char *ns, const char *workflow_id, cairn_workflow_info *out);
int cairn__lmdb_reader_runs(cairn_reader *r, const cairn_run_filter *f, cairn_run_info *out, size_t cap, size_t *n);
int cairn__lmdb_reader_definition(cairn_reader *r, const char *hash, cairn_str *json);
int cairn__lmdb_reader_definition_version(cairn_reader *r, const char *ns, const char *name, uint32_t version, char hash_out[CAIRN_HASH_HEX_LEN + 1], uint32_t *n_versions);
int cairn__lmdb_reader_definition_names(cairn_reader *r, const char *ns, cairn_def_name_cb cb, void *ctx);
int cairn__lmdb_reader_definition_state(cairn_reader *r, const char *ns, const char *name, cairn_definition_state *out);
int cairn__lmdb_reader_definition_of_hash(cairn_reader *r, const char *hash, char *ns_out, char *name, uint32_t *version);
int cairn__lmdb_reader_mapping(cairn_reader *r, const char *from_hash, const char *to_hash, cairn_str *json);
int cairn__lmdb_reader_prompt(cairn_reader *r, const char *ns, const char *id, cairn_prompt *out);
int cairn__lmdb_reader_prompt_text(cairn_reader *r, const char *hash, cairn_str *text);
int cairn__lmdb_reader_prompts(cairn_reader *r, const char *ns, const char *after, cairn_prompt_cb cb, void *ctx);
int cairn__lmdb_reader_audit_count(cairn_reader *r, const char *ns, const char *action, int64_t since_us, uint64_t max, uint64_t *count, int64_t *oldest_us);
int cairn__lmdb_reader_audit(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb, void *ctx);
int cairn__lmdb_reader_audit_backwards(cairn_reader *r, uint64_t down_to, cairn_audit_cb cb, void *ctx);
int cairn__lmdb_reader_request(cairn_reader *r, const char *ns, const char *request_id, cairn_audit_record *out);
int cairn__lmdb_reader_asset(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset *out);
int cairn__lmdb_reader_asset_head(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn__asset_latest *out);
int cairn__lmdb_reader_assets(cairn_reader *r, const char *ns, const char *prefix, const char *after_key, const char *after_partition, cairn_asset_cb cb, void *ctx);
int cairn__lmdb_reader_asset_history(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset_cb cb, void *ctx);
int cairn__lmdb_reader_run_assets(cairn_reader *r, uint64_t run_key, cairn_asset_cb cb, void *ctx);
int cairn__lmdb_reader_asset_users(cairn_reader *r, const char *ns, const char *key, const char *partition, const char *hash, cairn_run_key_cb cb, void *ctx);
int cairn__lmdb_reader_run_view(cairn_reader *r, uint64_t key, cairn_run_view *out);
int cairn__lmdb_reader_step_view(cairn_reader *r, uint64_t key, const char *step, cairn_step_view *out);
int cairn__lmdb_reader_steps(cairn_reader *r, uint64_t key, cairn_step_cb cb, void *ctx);
int cairn__lmdb_reader_attempts(cairn_reader *r, uint64_t key, const char *step, cairn_attempt_cb cb, void *ctx);
int cairn__lmdb_journal_claim_runs(cairn_journal *j, const char *owner, int64_t lease_ms, cairn_owner_dead_cb dead, void *ctx, uint64_t only, uint64_t *out, size_t max, size_t *n);
int cairn__lmdb_journal_renew_leases(cairn_journal *j, const char *owner, int64_t lease_ms, const uint64_t *keys, size_t n, uint64_t *lost, size_t *n_lost);
int cairn__lmdb_journal_release_leases(cairn_journal *j, const char *owner, const uint64_t *keys, size_t n);
int cairn__lmdb_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx, cairn_verify_stats *stats);
int cairn__lmdb_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs);
int cairn__lmdb_journal_stats_get(cairn_journal *j, cairn_journal_stats *out);
int cairn__lmdb_commit(cairn_batch *b);
int cairn__lmdb_watch(cairn_journal *j);
bool cairn__lmdb_watch_reset(cairn_journal *j);

#endif /* CAIRN_LMDB_INTERNAL_H */
