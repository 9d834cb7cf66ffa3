/*
 * journal.c — the public journal functions (include/cairn/journal.h),
 * defined once for every backend: each calls the open journal's backend
 * through its ops table (backend.h), one indirect call and nothing else,
 * so the contracts in journal.h are the backends' to keep. What does not
 * depend on storage lives here: choosing the backend, the error message,
 * the home.
 */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>

int cairn_journal_open(const char *home, const cairn_journal_options *opts,
                       cairn_journal **out, char *errbuf, size_t errlen) {
  /* One backend, the ordered store; it picks its driver (LMDB for a
   * directory, PostgreSQL for a postgresql:// URL) from `home`. */
  return cairn__store_ops.open(home, opts, out, errbuf, errlen);
}

void cairn_journal_close(cairn_journal *j) {
  if (j)
    j->ops->close(j);
}

const char *cairn_journal_errmsg(const cairn_journal *j) {
  return j ? j->errmsg : "";
}

const char *cairn_journal_home(const cairn_journal *j) { return j->home; }

void cairn__journal_set_err(cairn_journal *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->errmsg, sizeof j->errmsg, fmt, ap);
  va_end(ap);
}

int cairn_journal_watch(cairn_journal *j) { return j->ops->watch(j); }

bool cairn_journal_watch_reset(cairn_journal *j) {
  return j->ops->watch_reset(j);
}

int cairn__backend_commit(cairn_batch *b) { return b->j->ops->commit(b); }

int cairn_reader_begin(cairn_journal *j, cairn_reader **out) {
  return j->ops->reader_begin(j, out);
}

void cairn_reader_end(cairn_reader *r) {
  if (r)
    r->j->ops->reader_end(r);
}

void cairn_history_close(cairn_history *it) {
  if (it)
    it->r->j->ops->history_close(it);
}

int cairn_reader_run_by_key(cairn_reader *r, uint64_t key, cairn_run_info *out) {
  return r->j->ops->run_by_key(r, key, out);
}

int cairn_reader_run_by_id(cairn_reader *r, const char *run_id, cairn_run_info *out) {
  return r->j->ops->run_by_id(r, run_id, out);
}

int cairn_reader_event(cairn_reader *r, uint64_t key, uint32_t seq, cairn_event *out) {
  return r->j->ops->event(r, key, seq, out);
}

int cairn_reader_resolve(cairn_reader *r, const cairn_event *ev, cairn_event *out) {
  return r->j->ops->resolve(r, ev, out);
}

int cairn_reader_history(cairn_reader *r, uint64_t key, uint32_t from_seq, cairn_history **out) {
  return r->j->ops->history(r, key, from_seq, out);
}

int cairn_history_next(cairn_history *it, cairn_event *ev) {
  return it->r->j->ops->history_next(it, ev);
}

int cairn_reader_workflow(cairn_reader *r, const char *ns, const char *workflow_id, cairn_workflow_info *out) {
  return r->j->ops->workflow(r, ns, workflow_id, out);
}

int cairn_reader_runs(cairn_reader *r, const cairn_run_filter *f, cairn_run_info *out, size_t cap, size_t *n) {
  return r->j->ops->runs(r, f, out, cap, n);
}

int cairn_reader_definition(cairn_reader *r, const char *hash, cairn_str *json) {
  return r->j->ops->definition(r, hash, json);
}

int cairn_reader_definition_version(cairn_reader *r, const char *ns, const char *name, uint32_t version, char hash_out[CAIRN_HASH_HEX_LEN + 1], uint32_t *n_versions) {
  return r->j->ops->definition_version(r, ns, name, version, hash_out, n_versions);
}

int cairn_reader_definition_names(cairn_reader *r, const char *ns, cairn_def_name_cb cb, void *ctx) {
  return r->j->ops->definition_names(r, ns, cb, ctx);
}

int cairn_reader_definition_state(cairn_reader *r, const char *ns, const char *name, cairn_definition_state *out) {
  return r->j->ops->definition_state(r, ns, name, out);
}

int cairn_reader_definition_of_hash(cairn_reader *r, const char *hash, char *ns_out, char *name, uint32_t *version) {
  return r->j->ops->definition_of_hash(r, hash, ns_out, name, version);
}

int cairn_reader_mapping(cairn_reader *r, const char *from_hash, const char *to_hash, cairn_str *json) {
  return r->j->ops->mapping(r, from_hash, to_hash, json);
}

int cairn_reader_prompt(cairn_reader *r, const char *ns, const char *id, cairn_prompt *out) {
  return r->j->ops->prompt(r, ns, id, out);
}

int cairn_reader_prompt_text(cairn_reader *r, const char *hash, cairn_str *text) {
  return r->j->ops->prompt_text(r, hash, text);
}

int cairn_reader_asset(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset *out) {
  return r->j->ops->asset(r, ns, key, partition, out);
}
int cairn_reader_assets(cairn_reader *r, const char *ns, const char *prefix, const char *after_key, const char *after_partition, cairn_asset_cb cb, void *ctx) {
  return r->j->ops->assets(r, ns, prefix, after_key, after_partition, cb, ctx);
}
int cairn_reader_asset_history(cairn_reader *r, const char *ns, const char *key, const char *partition, cairn_asset_cb cb, void *ctx) {
  return r->j->ops->asset_history(r, ns, key, partition, cb, ctx);
}
int cairn_reader_run_assets(cairn_reader *r, uint64_t run_key, cairn_asset_cb cb, void *ctx) {
  return r->j->ops->run_assets(r, run_key, cb, ctx);
}
int cairn_reader_asset_users(cairn_reader *r, const char *ns, const char *key, const char *partition, const char *hash, cairn_run_key_cb cb, void *ctx) {
  return r->j->ops->asset_users(r, ns, key, partition, hash, cb, ctx);
}
int cairn_reader_prompts(cairn_reader *r, const char *ns, const char *after, cairn_prompt_cb cb, void *ctx) {
  return r->j->ops->prompts(r, ns, after, cb, ctx);
}

void cairn_prompt_free(cairn_prompt *p) {
  if (p == NULL)
    return;
  free(p->revisions);
  p->revisions = NULL;
  p->n_revisions = 0;
}

int cairn_reader_audit_count(cairn_reader *r, const char *ns, const char *action, int64_t since_us, uint64_t max, uint64_t *count, int64_t *oldest_us) {
  return r->j->ops->audit_count(r, ns, action, since_us, max, count, oldest_us);
}

int cairn_reader_audit(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb, void *ctx) {
  return r->j->ops->audit(r, from_seq, cb, ctx);
}

int cairn_reader_audit_backwards(cairn_reader *r, uint64_t down_to, cairn_audit_cb cb, void *ctx) {
  return r->j->ops->audit_backwards(r, down_to, cb, ctx);
}

int cairn_reader_request(cairn_reader *r, const char *ns, const char *request_id, cairn_audit_record *out) {
  return r->j->ops->request(r, ns, request_id, out);
}

int cairn_reader_run_view(cairn_reader *r, uint64_t key, cairn_run_view *out) {
  return r->j->ops->run_view(r, key, out);
}

int cairn_reader_step_view(cairn_reader *r, uint64_t key, const char *step, cairn_step_view *out) {
  return r->j->ops->step_view(r, key, step, out);
}

int cairn_reader_steps(cairn_reader *r, uint64_t key, cairn_step_cb cb, void *ctx) {
  return r->j->ops->steps(r, key, cb, ctx);
}

int cairn_reader_attempts(cairn_reader *r, uint64_t key, const char *step, cairn_attempt_cb cb, void *ctx) {
  return r->j->ops->attempts(r, key, step, cb, ctx);
}

int cairn_journal_claim_runs(cairn_journal *j, const char *owner, int64_t lease_ms, cairn_owner_dead_cb dead, void *ctx, uint64_t only, uint64_t *out, size_t max, size_t *n) {
  return j->ops->claim_runs(j, owner, lease_ms, dead, ctx, only, out, max, n);
}

int cairn_journal_renew_leases(cairn_journal *j, const char *owner, int64_t lease_ms, const uint64_t *keys, size_t n, uint64_t *lost, size_t *n_lost) {
  return j->ops->renew_leases(j, owner, lease_ms, keys, n, lost, n_lost);
}

int cairn_journal_release_leases(cairn_journal *j, const char *owner, const uint64_t *keys, size_t n) {
  return j->ops->release_leases(j, owner, keys, n);
}

int cairn_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx, cairn_verify_stats *stats) {
  return j->ops->verify(j, cb, ctx, stats);
}

int cairn_journal_copy(cairn_journal *from, cairn_journal *to,
                       uint64_t *n_records) {
  if (from->ops != to->ops) {
    cairn__journal_set_err(to, "copy works between journals of one backend "
                               "(%s and %s differ)",
                           from->ops->name, to->ops->name);
    return CAIRN_EINVAL;
  }
  return to->ops->copy(from, to, n_records);
}

int cairn_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs) {
  return j->ops->rebuild_views(j, n_runs);
}

int cairn_journal_stats_get(cairn_journal *j, cairn_journal_stats *out) {
  return j->ops->stats_get(j, out);
}
