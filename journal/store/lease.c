/*
 * lmdb/lease.c — run leases: who may execute a run.
 *
 * A lease is (owner, expiry) in the run record. Claiming, renewing and
 * releasing are write transactions that read the run record, so they
 * serialize with every append to that run (LMDB's writer lock; on
 * PostgreSQL the record's row lock): two workers can never both believe
 * they hold one run. Appends from an owned batch re-check the lease (the
 * fence in write.c), so a worker that lost its lease — it stalled past the
 * expiry and another claimed the run — cannot write to the run any more.
 *
 * Whether an owner is dead is the engine's knowledge (pids on this host),
 * passed in as a callback; the journal only stores and compares.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether `owner` may take run `i`. A run it holds already counts when
 * asked for by key (`mine_too`) or when its lease expired (the owner lost
 * track of it); otherwise a worker's periodic claim must not report, and
 * rewrite, the leases it holds: renewal does that. */
static bool claimable(const cairn_run_info *i, const char *owner,
                      int64_t now, cairn_owner_dead_cb dead, void *ctx,
                      bool mine_too) {
  if (i->status != CAIRN_RUN_RUNNING)
    return false;
  if (strcmp(i->lease_owner, owner) == 0)
    return mine_too || i->lease_expiry_us <= now;
  if (i->lease_owner[0] == '\0' || i->lease_expiry_us <= now)
    return true;
  return dead && dead(ctx, i->lease_owner);
}

static int put_rec(cairn_journal *j, cairn__txn *txn, const cairn__run_rec *r) {
  unsigned char kb[8];
  char *buf = NULL;
  size_t n = 0;
  int rc = cairn__run_rec_encode(r, &buf, &n);
  if (rc)
    return rc;
  cairn__put_be64(kb, r->info.key);
  cairn__val k = {8, kb}, v = {n, buf};
  rc = cairn__kv_put(txn, DB_RUNS, &k, &v, 0);
  free(buf);
  return cairn__kv_err(j, rc, "writing a lease");
}

typedef struct claim_ctx {
  const char *owner;
  int64_t lease_ms;
  cairn_owner_dead_cb dead;
  void *ctx;
  uint64_t only;
  uint64_t *out;
  size_t max, n;
} claim_ctx;

/* Takes run `key` when claimable; counts it in c->out. A run another
 * writer is committing to now is skipped, not waited for (SKIP LOCKED on
 * PostgreSQL): its owner is alive, or the next claim takes it. */
static int claim_one(cairn_journal *j, cairn__txn *txn, claim_ctx *c,
                     uint64_t key, int64_t now) {
  cairn__run_rec r;
  int rc = cairn__get_run_flags(j, txn, key, &r, KV_SKIP_LOCKED);
  if (rc == CAIRN_EBUSY)
    return 0;
  if (rc)
    return rc;
  if (!claimable(&r.info, c->owner, now, c->dead, c->ctx, c->only != 0))
    return 0;
  snprintf(r.info.lease_owner, sizeof r.info.lease_owner, "%s", c->owner);
  r.info.lease_expiry_us = now + c->lease_ms * 1000;
  if ((rc = put_rec(j, txn, &r)) == 0)
    c->out[c->n++] = key;
  return rc;
}

static int claim_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  claim_ctx *c = ctx;
  int64_t now = cairn__now_us();
  cairn__cursor *cur;
  unsigned char kb[9] = {CAIRN_RUN_RUNNING};
  c->n = 0;
  if (c->only)
    return c->max ? claim_one(j, txn, c, c->only, now) : 0;
  int rc = cairn__cursor_open(txn, DB_BY_STATUS, &cur);
  if (rc)
    return cairn__kv_err(j, rc, "listing running runs");
  cairn__val k = {1, kb}, v;
  int err = 0; /* a cairn error from claim_one; rc holds LMDB's */
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE);
       rc == 0 && c->n < c->max;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size != 9 || ((unsigned char *)k.data)[0] != kb[0])
      break;
    uint64_t key = cairn__get_be64((unsigned char *)k.data + 1);
    if ((err = claim_one(j, txn, c, key, now)) != 0)
      break;
  }
  cairn__cursor_close(cur);
  if (err)
    return err;
  return rc == KV_NOTFOUND ? 0 : cairn__kv_err(j, rc, "claiming runs");
}

static int check_owner(cairn_journal *j, const char *owner) {
  if (owner && *owner && strlen(owner) <= CAIRN_OWNER_MAX)
    return 0;
  cairn__journal_set_err(j, "a lease owner is 1..%d bytes", CAIRN_OWNER_MAX);
  return CAIRN_EINVAL;
}

int cairn__store_journal_claim_runs(cairn_journal *j, const char *owner,
                             int64_t lease_ms, cairn_owner_dead_cb dead,
                             void *ctx, uint64_t only, uint64_t *out,
                             size_t max, size_t *n) {
  claim_ctx c = {owner, lease_ms, dead, ctx, only, out, max, 0};
  int rc = check_owner(j, owner);
  *n = 0;
  if (rc == 0)
    rc = cairn__write_txn(j, claim_fn, &c);
  if (rc == 0)
    *n = c.n;
  return rc;
}

typedef struct renew_ctx {
  const char *owner;
  int64_t lease_ms; /* 0: release */
  const uint64_t *keys;
  size_t n;
  uint64_t *lost;
  size_t n_lost;
} renew_ctx;

static int renew_fn(cairn_journal *j, cairn__txn *txn, void *ctx) {
  renew_ctx *c = ctx;
  int64_t now = cairn__now_us();
  c->n_lost = 0;
  for (size_t i = 0; i < c->n; i++) {
    cairn__run_rec r;
    int rc = cairn__get_run(j, txn, c->keys[i], &r);
    if (rc == CAIRN_ENOTFOUND)
      continue;
    if (rc)
      return rc;
    if (strcmp(r.info.lease_owner, c->owner) != 0) {
      if (c->lost)
        c->lost[c->n_lost] = c->keys[i];
      c->n_lost++;
      continue;
    }
    if (c->lease_ms == 0)
      r.info.lease_owner[0] = '\0';
    r.info.lease_expiry_us = c->lease_ms ? now + c->lease_ms * 1000 : 0;
    if ((rc = put_rec(j, txn, &r)) != 0)
      return rc;
  }
  return 0;
}

int cairn__store_journal_renew_leases(cairn_journal *j, const char *owner,
                               int64_t lease_ms, const uint64_t *keys,
                               size_t n, uint64_t *lost, size_t *n_lost) {
  renew_ctx c = {owner, lease_ms, keys, n, lost, 0};
  int rc = check_owner(j, owner);
  if (rc == 0 && lease_ms <= 0) {
    cairn__journal_set_err(j, "a lease lasts more than 0 ms");
    rc = CAIRN_EINVAL;
  }
  if (rc == 0 && n)
    rc = cairn__write_txn(j, renew_fn, &c);
  if (n_lost)
    *n_lost = c.n_lost;
  return rc;
}

int cairn__store_journal_release_leases(cairn_journal *j, const char *owner,
                                 const uint64_t *keys, size_t n) {
  renew_ctx c = {owner, 0, keys, n, NULL, 0};
  int rc = check_owner(j, owner);
  return rc == 0 && n ? cairn__write_txn(j, renew_fn, &c) : rc;
}
