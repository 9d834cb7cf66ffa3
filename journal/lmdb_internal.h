/*
 * lmdb_internal.h — the LMDB backend's private state. Included only by
 * journal/lmdb_*.c: these are the only files that see lmdb.h.
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
 *   meta       "schema" -> u32, "next_run" -> u64, "next_audit" -> u64
 * That is 15 named databases; mdb_env_set_maxdbs allows 16.
 */
#ifndef CAIRN_LMDB_INTERNAL_H
#define CAIRN_LMDB_INTERNAL_H

#include "internal.h"

#include <lmdb.h>

enum { VIEW_RUN = 0, VIEW_STEP = 1, VIEW_ATTEMPT = 2 };

/* The longest view key: run key, tag, step name, NUL, attempt. */
#define CAIRN__VIEW_KEY_MAX (8 + 1 + CAIRN_STEP_NAME_MAX + 1 + 4)
/* The longest workflows/names/def_state key: namespace, NUL, id. */
#define CAIRN__NAME_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN_WORKFLOW_ID_MAX)
/* The longest requests key: namespace, NUL, request id. */
#define CAIRN__REQUEST_KEY_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN__REQUEST_ID_MAX)

struct cairn_journal {
  MDB_env *env;
  MDB_dbi events, runs, run_ids, workflows, defs, names, by_status, views,
      audit, requests, def_state, def_names, mappings, audit_by_action, meta;
  char *home;
  bool read_only;
  int open_readers;  /* readers of this handle not yet ended */
  char errmsg[512];
};

struct cairn_reader {
  cairn_journal *j;
  MDB_txn *txn;
  uint64_t *wf_runs; /* buffer behind cairn_workflow_info.runs */
  size_t wf_cap;
};

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

/* Writes every dirty view record of `f`. */
int cairn__fold_flush(cairn_journal *j, MDB_txn *txn, cairn__fold *f);

#endif /* CAIRN_LMDB_INTERNAL_H */
