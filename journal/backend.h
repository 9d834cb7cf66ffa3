/*
 * backend.h — the journal's backend interface: what a storage engine
 * implements so that the public journal functions (include/cairn/journal.h,
 * defined once in journal.c) work on it.
 *
 * As SQLite reaches the OS only through its VFS (sqlite3_io_methods) and
 * Redis's ae.c calls one aeApi* set chosen at build time, journal.c calls
 * one cairn__journal_ops table per open journal. A backend's handles embed
 * the neutral structs below as their first member, so journal.c can read
 * the common fields and the backend can cast back to its own.
 *
 * Backends: journal/store/ (cairn__store_ops), the ordered store, which
 * keeps its records through a driver (store/store.h): journal/lmdb/ (the
 * embedded default) or journal/pg/ (PostgreSQL, chosen by a
 * postgresql:// location). A backend that is no ordered store (an SQL
 * schema of its own, say) would implement this table directly.
 *
 * What stays neutral, whatever the backend: batches are built, checked
 * and encoded by batch.c and codec.c; events become views only through
 * fold.c; records are encoded by records.c. A backend stores bytes,
 * orders them, and keeps its transactions.
 */
#ifndef CAIRN_JOURNAL_BACKEND_H
#define CAIRN_JOURNAL_BACKEND_H

#include "internal.h"

typedef struct cairn__journal_ops cairn__journal_ops;

/* The fields every journal handle starts with. */
struct cairn_journal {
  const cairn__journal_ops *ops;
  char *home;          /* as given to open (owned) */
  bool read_only;
  uint32_t opened_schema; /* the schema version found at open (0: new) */
  int open_readers;    /* readers of this handle not yet ended */
  char errmsg[512];    /* the last error's message */
};

/* The fields every reader starts with. */
struct cairn_reader {
  cairn_journal *j;
};

/* The fields every history iterator starts with. */
struct cairn_history {
  cairn_reader *r;
};

/* One member per public operation, with the public function's contract
 * (include/cairn/journal.h); journal.c checks nothing the backend must
 * not see twice, and adds nothing but the dispatch. */
struct cairn__journal_ops {
  const char *name;    /* "store" */
  /* The handle: open allocates the backend's handle (its first member a
   * cairn_journal with ops set) and fills *out; close frees it. */
  int (*open)(const char *home, const cairn_journal_options *opts, cairn_journal **out, char *errbuf, size_t errlen);
  void (*close)(cairn_journal *j);
  /* Reading: a reader is one consistent snapshot (its first member a
   * cairn_reader); everything it lends lasts until reader_end. */
  int (*reader_begin)(cairn_journal *j, cairn_reader **out);
  void (*reader_end)(cairn_reader *r);
  int (*run_by_key)(cairn_reader *r, uint64_t key, cairn_run_info *out);
  int (*run_by_id)(cairn_reader *r, const char *run_id, cairn_run_info *out);
  int (*event)(cairn_reader *r, uint64_t key, uint32_t seq, cairn_event *out);
  int (*resolve)(cairn_reader *r, const cairn_event *ev, cairn_event *out);
  int (*history)(cairn_reader *r, uint64_t key, uint32_t from_seq, cairn_history **out);
  int (*history_next)(cairn_history *it, cairn_event *ev);
  void (*history_close)(cairn_history *it);
  int (*workflow)(cairn_reader *r, const char *ns, const char *workflow_id, cairn_workflow_info *out);
  int (*runs)(cairn_reader *r, const cairn_run_filter *f, cairn_run_info *out, size_t cap, size_t *n);
  int (*definition)(cairn_reader *r, const char *hash, cairn_str *json);
  int (*definition_version)(cairn_reader *r, const char *ns, const char *name, uint32_t version, char hash_out[CAIRN_HASH_HEX_LEN + 1], uint32_t *n_versions);
  int (*definition_names)(cairn_reader *r, const char *ns, cairn_def_name_cb cb, void *ctx);
  int (*definition_state)(cairn_reader *r, const char *ns, const char *name, cairn_definition_state *out);
  int (*definition_of_hash)(cairn_reader *r, const char *hash, char *ns_out, char *name, uint32_t *version);
  int (*mapping)(cairn_reader *r, const char *from_hash, const char *to_hash, cairn_str *json);
  int (*prompt)(cairn_reader *r, const char *ns, const char *id, cairn_prompt *out);
  int (*prompt_text)(cairn_reader *r, const char *hash, cairn_str *text);
  int (*prompts)(cairn_reader *r, const char *ns, const char *after, cairn_prompt_cb cb, void *ctx);
  int (*audit_count)(cairn_reader *r, const char *ns, const char *action, int64_t since_us, uint64_t max, uint64_t *count, int64_t *oldest_us);
  int (*audit)(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb, void *ctx);
  int (*audit_backwards)(cairn_reader *r, uint64_t down_to, cairn_audit_cb cb, void *ctx);
  int (*request)(cairn_reader *r, const char *ns, const char *request_id, cairn_audit_record *out);
  int (*asset)(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset *out);
  /* The catalogue's latest record alone (where and what, not the event):
   * what the staleness rules compare. CAIRN_ENOTFOUND when none. */
  int (*asset_head)(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn__asset_latest *out);
  int (*assets)(cairn_reader *r, const char *ns, const char *prefix, const char *after_key, const char *after_partition, cairn_asset_cb cb, void *ctx);
  int (*asset_history)(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset_cb cb, void *ctx);
  int (*run_assets)(cairn_reader *r, uint64_t run_key, cairn_asset_cb cb, void *ctx);
  int (*asset_users)(cairn_reader *r, const char *ns, const char *key, const char *partition, const char *hash, cairn_run_key_cb cb, void *ctx);
  int (*run_view)(cairn_reader *r, uint64_t key, cairn_run_view *out);
  int (*step_view)(cairn_reader *r, uint64_t key, const char *step, cairn_step_view *out);
  int (*steps)(cairn_reader *r, uint64_t key, cairn_step_cb cb, void *ctx);
  int (*attempts)(cairn_reader *r, uint64_t key, const char *step, cairn_attempt_cb cb, void *ctx);
  /* Leases and claims. */
  int (*claim_runs)(cairn_journal *j, const char *owner, int64_t lease_ms, cairn_owner_dead_cb dead, void *ctx, uint64_t only, uint64_t *out, size_t max, size_t *n);
  int (*renew_leases)(cairn_journal *j, const char *owner, int64_t lease_ms, const uint64_t *keys, size_t n, uint64_t *lost, size_t *n_lost);
  int (*release_leases)(cairn_journal *j, const char *owner, const uint64_t *keys, size_t n);
  /* Maintenance. */
  int (*verify)(cairn_journal *j, cairn_verify_cb cb, void *ctx, cairn_verify_stats *stats);
  int (*rebuild_views)(cairn_journal *j, uint64_t *n_runs);
  int (*copy)(cairn_journal *from, cairn_journal *to, uint64_t *n_records);
  int (*stats_get)(cairn_journal *j, cairn_journal_stats *out);
  /* Change notification (cairn_journal_watch and _watch_reset). */
  int (*watch)(cairn_journal *j);
  bool (*watch_reset)(cairn_journal *j);
  /* Commits a batch built by batch.c in one transaction, folding its
   * events into views with fold.c (every backend folds the same way). */
  int (*commit)(cairn_batch *b);
};

/* The ordered store (journal/store/store.c). */
extern const cairn__journal_ops cairn__store_ops;

#endif /* CAIRN_JOURNAL_BACKEND_H */
