/*
 * store.h — the journal's ordered store: how the journal's records live in
 * named databases of sorted byte keys, whatever holds them.
 *
 * As SQLite's pager sees files only through its VFS, the files of
 * journal/store/ see their storage only through cairn__kv_ops, a handful
 * of ordered key-value operations (get, put, delete, ranged cursors) in
 * transactions. Two drivers implement them:
 *   journal/lmdb/  LMDB: each database is an LMDB named database; one
 *                  writer at a time (LMDB's lock), readers on snapshots.
 *   journal/pg/    PostgreSQL: each database is a table of (key bytea
 *                  primary key, value bytea) (events as (run, seq));
 *                  writers lock the records they read, so writers of
 *                  different runs commit side by side.
 * Everything above the drivers is written once: a batch's commit and its
 * fold (write.c), readers (read.c), leases (lease.c), verify, rebuild and
 * stats (maint.c), the asset catalogue (assets.c), opening and the write
 * loop (store.c).
 *   store.c  opening (the driver chosen by the journal's location), the
 *            schema check, the write transaction loop, key builders, and
 *            the ops table (cairn__store_ops, backend.h)
 *   read.c   readers: runs, histories, views, definitions, audit
 *   write.c  a batch's commit: events, records, indexes, the fold's views
 *   lease.c  claims, renewals, releases
 *   maint.c  verify, rebuild-views, stats
 *   assets.c the asset catalogue: its writes, reads and rebuild
 *
 * Databases (keys big-endian so byte order is numeric order; layout in
 * docs/storage.md):
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
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include "../backend.h"

/* The databases, in the order of cairn__db_names. */
typedef enum cairn__db {
  DB_EVENTS, DB_RUNS, DB_RUN_IDS, DB_WORKFLOWS, DB_DEFS, DB_NAMES,
  DB_BY_STATUS, DB_VIEWS, DB_AUDIT, DB_REQUESTS, DB_DEF_STATE, DB_DEF_NAMES,
  DB_MAPPINGS, DB_AUDIT_BY_ACTION, DB_PROMPTS, DB_META, DB_ASSETS,
  DB_ASSET_VERSIONS, DB_RUN_ASSETS, DB_ASSET_USES,
  DB_COUNT
} cairn__db;
/* "events", "runs", ...: the databases' names on disk (LMDB) and in the
 * table names (PostgreSQL: cairn_events, cairn_runs, ...). */
extern const char *const cairn__db_names[DB_COUNT];

/* A key or a value: bytes the driver lends until the transaction's next
 * write or its end. */
typedef struct cairn__val {
  size_t size;
  void *data;
} cairn__val;

/* What the store's calls answer besides 0 and a cairn error (for which the
 * driver has written a detail into cairn__store.detail). */
enum {
  KV_NOTFOUND = -30798, /* no such key; a cursor ran past the end */
  KV_KEYEXIST = -30799, /* put with KV_NOOVERWRITE found the key */
  KV_BUSY = -30800,     /* get with KV_SKIP_LOCKED: another transaction
                           holds the record now */
};
/* put flags */
enum { KV_NOOVERWRITE = 1 };
/* get flags: in a write transaction, do not wait for a record another
 * writer holds (KV_BUSY instead; PostgreSQL's SKIP LOCKED). */
enum { KV_SKIP_LOCKED = 1 };
/* Transaction modes. */
enum { KV_READ, KV_WRITE, KV_WRITE_ALONE };
/* Cursor moves. */
enum { KV_FIRST, KV_LAST, KV_NEXT, KV_PREV, KV_SET_RANGE };

typedef struct cairn__kv_ops cairn__kv_ops;

/* A transaction; a driver's own starts with this. */
typedef struct cairn__txn {
  const cairn__kv_ops *kv;
  cairn_journal *j;
  bool write;
} cairn__txn;

/* A cursor over one database in one transaction; a driver's own starts
 * with this. */
typedef struct cairn__cursor {
  const cairn__kv_ops *kv;
} cairn__cursor;

struct cairn__kv_ops {
  const char *name; /* "lmdb", "postgresql" */
  const char *flag; /* the command line's option naming it: "--home" */
  /* Whether `where` (a --home directory or a journal URL) is this
   * driver's. */
  bool (*owns)(const char *where);
  /* Opens (creating, unless read-only or must_exist) every database and
   * allocates the handle: a cairn__store first, ops and kv set. */
  int (*open)(const char *where, const cairn_journal_options *o,
              cairn_journal **out, char *errbuf, size_t errlen);
  void (*close)(cairn_journal *j);
  /* A read snapshot (KV_READ) or a write transaction: KV_WRITE beside
   * other writers (each locks what it reads), KV_WRITE_ALONE while no
   * other writer writes (rebuild-views, which rewrites every view). */
  int (*begin)(cairn_journal *j, int mode, cairn__txn **out);
  /* Commits a write transaction (freeing it, also when it fails: nothing
   * of it was recorded then, and j's message says why and what to do). */
  int (*commit)(cairn__txn *t);
  void (*abort)(cairn__txn *t);
  int (*get)(cairn__txn *t, cairn__db db, const cairn__val *k, cairn__val *v,
             unsigned flags);
  /* KV_NOOVERWRITE: KV_KEYEXIST when the key is there, *v then lending
   * the stored value. */
  int (*put)(cairn__txn *t, cairn__db db, const cairn__val *k, cairn__val *v,
             unsigned flags);
  int (*del)(cairn__txn *t, cairn__db db, const cairn__val *k);
  int (*clear)(cairn__txn *t, cairn__db db);
  int (*count)(cairn__txn *t, cairn__db db, uint64_t *n);
  int (*cursor_open)(cairn__txn *t, cairn__db db, cairn__cursor **out);
  /* KV_SET_RANGE: the first key >= *k. */
  int (*cursor_get)(cairn__cursor *c, cairn__val *k, cairn__val *v, int op);
  /* Deletes the record the cursor is on (write transactions). */
  int (*cursor_del)(cairn__cursor *c);
  void (*cursor_close)(cairn__cursor *c);
  /* Reads the records of db at keys[0..n) ahead, so that the gets that
   * follow cost no round trip (PostgreSQL); NULL: nothing to gain. */
  int (*prefetch)(cairn__txn *t, cairn__db db, const cairn__val *keys,
                  size_t n);
  /* CAIRN_EFULL from a write: make room (LMDB grows its map), so the
   * write loop can run the transaction again; NULL: no remedy. */
  int (*grow)(cairn_journal *j);
  /* The storage figures of journal stats: used, map and file bytes. */
  void (*space)(cairn__txn *t, cairn_journal_stats *out);
  /* cairn_journal_watch and _watch_reset. */
  int (*watch)(cairn_journal *j);
  bool (*watch_reset)(cairn_journal *j);
};

/* The drivers. */
extern const cairn__kv_ops cairn__lmdb_kv; /* journal/lmdb/ */
extern const cairn__kv_ops cairn__pg_kv;   /* journal/pg/ */

/* A transaction the driver could not finish because of another writer
 * (PostgreSQL: a serialization failure, a deadlock, a key inserted
 * meanwhile): nothing was recorded, and the write loop runs it again. */
#define CAIRN__ERETRY (-30801)

/* The journal handle of every driver: the neutral handle first
 * (backend.h), the driver's own state after this. */
typedef struct cairn__store {
  cairn_journal base;
  const cairn__kv_ops *kv;
  char detail[400]; /* the driver's words for its last failure */
} cairn__store;
#define KV(j) (((cairn__store *)(j))->kv)

/* Translates a store call's answer, recording `what` failed in errmsg:
 * KV_NOTFOUND -> CAIRN_ENOTFOUND, KV_KEYEXIST -> CAIRN_ECONFLICT,
 * KV_BUSY -> CAIRN_EBUSY, cairn errors as they are. */
int cairn__kv_err(cairn_journal *j, int rc, const char *what);

/* A journal of schema `schema` (not the current one) refused, or 0 when it
 * may be opened so (read-write: it is migrated); the message in errbuf. */
int cairn__store_schema_refusal(const cairn__kv_ops *kv, const char *home,
                                uint32_t schema, bool read_only, char *errbuf,
                                size_t errlen);

/* Every write and commit goes through a fault point (../fault.h): EIO
 * instead of the call when it fires. */
int cairn__kv_fault(cairn__txn *t);
static inline int cairn__kv_get(cairn__txn *t, cairn__db db, cairn__val *k,
                                cairn__val *v) {
  return t->kv->get(t, db, k, v, 0);
}
static inline int cairn__kv_put(cairn__txn *t, cairn__db db, cairn__val *k,
                                cairn__val *v, unsigned flags) {
  return cairn__kv_fault(t) ? CAIRN_EIO : t->kv->put(t, db, k, v, flags);
}
static inline int cairn__kv_del(cairn__txn *t, cairn__db db, cairn__val *k,
                                cairn__val *unused) {
  (void)unused;
  return cairn__kv_fault(t) ? CAIRN_EIO : t->kv->del(t, db, k);
}
static inline int cairn__kv_clear(cairn__txn *t, cairn__db db) {
  return cairn__kv_fault(t) ? CAIRN_EIO : t->kv->clear(t, db);
}
static inline int cairn__kv_count(cairn__txn *t, cairn__db db, uint64_t *n) {
  return t->kv->count(t, db, n);
}
static inline void cairn__kv_abort(cairn__txn *t) { t->kv->abort(t); }
static inline int cairn__kv_prefetch(cairn__txn *t, cairn__db db,
                                     const cairn__val *keys, size_t n) {
  return t->kv->prefetch ? t->kv->prefetch(t, db, keys, n) : 0;
}
static inline int cairn__cursor_open(cairn__txn *t, cairn__db db,
                                     cairn__cursor **c) {
  return t->kv->cursor_open(t, db, c);
}
static inline int cairn__cursor_get(cairn__cursor *c, cairn__val *k,
                                    cairn__val *v, int op) {
  return c->kv->cursor_get(c, k, v, op);
}
int cairn__cursor_del(cairn__cursor *c);
static inline void cairn__cursor_close(cairn__cursor *c) {
  if (c)
    c->kv->cursor_close(c);
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

typedef struct cairn__store_reader {
  cairn_reader base;
  cairn__txn *txn;
  uint64_t *wf_runs; /* buffer behind cairn_workflow_info.runs */
  size_t wf_cap;
} cairn__store_reader;

typedef struct cairn__store_history {
  cairn_history base;
  cairn__cursor *cur;
  uint64_t key;
  uint32_t next; /* expected seq */
  bool started, done;
} cairn__store_history;

/* From the neutral handles to the store's own (they are the same
 * objects: the neutral struct is the first member). */
#define LR(r) ((cairn__store_reader *)(r))
#define LH(it) ((cairn__store_history *)(it))

/* Runs fn inside a write transaction and commits, redoing the whole
 * transaction after the driver made room (LMDB's map was full) or when
 * another writer got in its way (CAIRN__ERETRY). fn must be repeatable:
 * everything it decides comes from the transaction. */
typedef int (*cairn__txn_fn)(cairn_journal *j, cairn__txn *txn, void *ctx);
int cairn__write_txn(cairn_journal *j, cairn__txn_fn fn, void *ctx);
/* The same, while no other writer writes (KV_WRITE_ALONE). */
int cairn__write_txn_alone(cairn_journal *j, cairn__txn_fn fn, void *ctx);

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
int cairn__get_run(cairn_journal *j, cairn__txn *txn, uint64_t run,
                   cairn__run_rec *out);
/* The same with get flags: KV_SKIP_LOCKED answers CAIRN_EBUSY (no
 * message) for a record another writer holds. */
int cairn__get_run_flags(cairn_journal *j, cairn__txn *txn, uint64_t run,
                         cairn__run_rec *out, unsigned flags);
/* Looks up a run key by run id (36 chars). */
int cairn__get_run_key(cairn_journal *j, cairn__txn *txn, cairn_str run_id,
                       uint64_t *key);

/* A fold loader reading views and events through `txn`. */
typedef struct cairn__store_loader {
  cairn_journal *j;
  cairn__txn *txn;
  bool from_views; /* false: a full fold, nothing stored is loaded */
} cairn__store_loader;
void cairn__store_loader_init(cairn__store_loader *l, cairn__fold_loader *fl);

/* assets.c: catalogues the asset.materialized `ev` of `run` (committed
 * in `txn`); a version catalogued already is left as it is. */
int cairn__store_put_asset(cairn_journal *j, cairn__txn *txn,
                          const cairn_run_info *run, const cairn_event *ev);
/* assets.c: `run` reused a step whose completion `reused` references:
 * it lists that completion's assets (in the source run) as its own. */
int cairn__store_put_reused_assets(cairn_journal *j, cairn__txn *txn,
                                  const cairn_run_info *run,
                                  const cairn_event *reused);
/* Whether the `assets` entry (k, v) points at an asset.materialized of
 * that key whose hash it holds. */
bool cairn__store_asset_entry_ok(cairn_journal *j, cairn__txn *txn,
                                const cairn__val *k, const cairn__val *v);
/* Empties the catalogue's four databases (rebuild-views refills them). */
int cairn__store_drop_assets(cairn_journal *j, cairn__txn *txn);

/* Empties the catalogue and catalogues every asset event again (one
 * transaction). */
int cairn__store_rebuild_assets(cairn_journal *j, cairn__txn *txn);
/* Whether the asset.materialized `ev` of run `run` (namespace `ns`) is in
 * the catalogue's versions and in the run's assets. */
bool cairn__store_asset_catalogued(cairn__txn *txn,
                                  const char *ns, uint64_t run,
                                  const cairn_event *ev);

/* Writes every dirty view record of `f`. */
int cairn__fold_flush(cairn_journal *j, cairn__txn *txn, cairn__fold *f);

/* The operations of cairn__store_ops (backend.h), each with the contract
 * of the public function of the same name (include/cairn/journal.h). */
int cairn__store_journal_open(const char *home, const cairn_journal_options *opts, cairn_journal **out, char *errbuf, size_t errlen);
void cairn__store_journal_close(cairn_journal *j);
int cairn__store_reader_begin(cairn_journal *j, cairn_reader **out);
void cairn__store_reader_end(cairn_reader *r);
int cairn__store_reader_run_by_key(cairn_reader *r, uint64_t key, cairn_run_info *out);
int cairn__store_reader_run_by_id(cairn_reader *r, const char *run_id, cairn_run_info *out);
int cairn__store_reader_event(cairn_reader *r, uint64_t key, uint32_t seq, cairn_event *out);
int cairn__store_reader_resolve(cairn_reader *r, const cairn_event *ev, cairn_event *out);
int cairn__store_reader_history(cairn_reader *r, uint64_t key, uint32_t from_seq, cairn_history **out);
int cairn__store_history_next(cairn_history *it, cairn_event *ev);
void cairn__store_history_close(cairn_history *it);
int cairn__store_reader_workflow(cairn_reader *r, const char *ns, const char *workflow_id, cairn_workflow_info *out);
int cairn__store_reader_runs(cairn_reader *r, const cairn_run_filter *f, cairn_run_info *out, size_t cap, size_t *n);
int cairn__store_reader_definition(cairn_reader *r, const char *hash, cairn_str *json);
int cairn__store_reader_definition_version(cairn_reader *r, const char *ns, const char *name, uint32_t version, char hash_out[CAIRN_HASH_HEX_LEN + 1], uint32_t *n_versions);
int cairn__store_reader_definition_names(cairn_reader *r, const char *ns, cairn_def_name_cb cb, void *ctx);
int cairn__store_reader_definition_state(cairn_reader *r, const char *ns, const char *name, cairn_definition_state *out);
int cairn__store_reader_definition_of_hash(cairn_reader *r, const char *hash, char *ns_out, char *name, uint32_t *version);
int cairn__store_reader_mapping(cairn_reader *r, const char *from_hash, const char *to_hash, cairn_str *json);
int cairn__store_reader_prompt(cairn_reader *r, const char *ns, const char *id, cairn_prompt *out);
int cairn__store_reader_prompt_text(cairn_reader *r, const char *hash, cairn_str *text);
int cairn__store_reader_prompts(cairn_reader *r, const char *ns, const char *after, cairn_prompt_cb cb, void *ctx);
int cairn__store_reader_audit_count(cairn_reader *r, const char *ns, const char *action, int64_t since_us, uint64_t max, uint64_t *count, int64_t *oldest_us);
int cairn__store_reader_audit(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb, void *ctx);
int cairn__store_reader_audit_backwards(cairn_reader *r, uint64_t down_to, cairn_audit_cb cb, void *ctx);
int cairn__store_reader_request(cairn_reader *r, const char *ns, const char *request_id, cairn_audit_record *out);
int cairn__store_reader_asset(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset *out);
int cairn__store_reader_asset_head(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn__asset_latest *out);
int cairn__store_reader_assets(cairn_reader *r, const char *ns, const char *prefix, const char *after_key, const char *after_partition, cairn_asset_cb cb, void *ctx);
int cairn__store_reader_asset_history(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset_cb cb, void *ctx);
int cairn__store_reader_run_assets(cairn_reader *r, uint64_t run_key, cairn_asset_cb cb, void *ctx);
int cairn__store_reader_asset_users(cairn_reader *r, const char *ns, const char *key, const char *partition, const char *hash, cairn_run_key_cb cb, void *ctx);
int cairn__store_reader_run_view(cairn_reader *r, uint64_t key, cairn_run_view *out);
int cairn__store_reader_step_view(cairn_reader *r, uint64_t key, const char *step, cairn_step_view *out);
int cairn__store_reader_steps(cairn_reader *r, uint64_t key, cairn_step_cb cb, void *ctx);
int cairn__store_reader_attempts(cairn_reader *r, uint64_t key, const char *step, cairn_attempt_cb cb, void *ctx);
int cairn__store_journal_claim_runs(cairn_journal *j, const char *owner, int64_t lease_ms, cairn_owner_dead_cb dead, void *ctx, uint64_t only, uint64_t *out, size_t max, size_t *n);
int cairn__store_journal_renew_leases(cairn_journal *j, const char *owner, int64_t lease_ms, const uint64_t *keys, size_t n, uint64_t *lost, size_t *n_lost);
int cairn__store_journal_release_leases(cairn_journal *j, const char *owner, const uint64_t *keys, size_t n);
int cairn__store_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx, cairn_verify_stats *stats);
int cairn__store_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs);
int cairn__store_journal_copy(cairn_journal *from, cairn_journal *to, uint64_t *n_records);
int cairn__store_journal_stats_get(cairn_journal *j, cairn_journal_stats *out);
int cairn__store_commit(cairn_batch *b);
int cairn__store_watch(cairn_journal *j);
bool cairn__store_watch_reset(cairn_journal *j);

#endif /* CAIRN_STORE_H */
