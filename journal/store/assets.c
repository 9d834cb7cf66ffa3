/*
 * lmdb/assets.c — the asset catalogue in LMDB: written in the commit that
 * appends each asset.materialized, read by the cairn_reader_asset*
 * functions, and recomputed from events by rebuild-views.
 *
 * Four databases (docs/storage.md, "Assets"); A is namespace · 0 · key ·
 * 0 · partition (empty for none), which no two assets share since
 * neither part holds a NUL:
 *   assets          A                                -> latest record
 *   asset_versions  A · 0 · time_us u64 · run u64 · seq u32 -> (empty)
 *   run_assets      run u64 · key · 0 · partition    -> run u64 · seq u32
 *                   (where its asset.materialized is: this run's, or for
 *                   a step a derived run reused, the source run's)
 *   asset_uses      A · 0 · hash (32 raw bytes) · run u64 -> (empty)
 * The latest materialization of a key is the greatest (time, run, seq);
 * the event itself holds the rest, so nothing is stored twice.
 */
#include "store.h"

#include <stdlib.h>
#include <string.h>

/* A's longest: namespace, NUL, key, NUL, partition. */
#define A_MAX (CAIRN_NAMESPACE_MAX + 1 + CAIRN_ASSET_KEY_MAX + 1 + \
               CAIRN_PARTITION_MAX)
#define VERSION_KEY_MAX (A_MAX + 1 + 8 + 8 + 4)
#define USE_KEY_MAX (A_MAX + 1 + 32 + 8)
#define RUN_KEY_MAX (8 + CAIRN_ASSET_KEY_MAX + 1 + CAIRN_PARTITION_MAX)
/* The longest key of the ordered store (LMDB's, mdb_env_get_maxkeysize
 * with the default build; PostgreSQL's bytea keys allow more). */
_Static_assert(VERSION_KEY_MAX <= 511 && USE_KEY_MAX <= 511 &&
                   RUN_KEY_MAX <= 511,
               "an asset catalogue key must fit LMDB's 511 bytes");

/* 64 hex digits (checked by the caller) as 32 bytes. */
static void hash_bytes(const char *hex, unsigned char out[32]) {
  for (int i = 0; i < 32; i++) {
    unsigned hi = (unsigned)hex[2 * i], lo = (unsigned)hex[2 * i + 1];
    hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
    lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
}

static size_t put_bytes(unsigned char *k, size_t at, const void *p,
                        size_t n) {
  memcpy(k + at, p, n);
  return at + n;
}

/* A for (ns, key, partition); 0 when a part is over its limit. */
static size_t asset_key(unsigned char *k, const char *ns, cairn_str key,
                        cairn_str part) {
  size_t nl = strlen(ns);
  if (nl > CAIRN_NAMESPACE_MAX || key.len > CAIRN_ASSET_KEY_MAX ||
      part.len > CAIRN_PARTITION_MAX)
    return 0;
  size_t n = put_bytes(k, 0, ns, nl);
  k[n++] = 0;
  n = put_bytes(k, n, key.ptr, key.len);
  k[n++] = 0;
  return part.len ? put_bytes(k, n, part.ptr, part.len) : n;
}

static cairn_str S(const char *s) {
  return (cairn_str){s, s ? strlen(s) : 0};
}

/* ------------------------------------------------------------- writes */

/* run_assets: `run` lists the materialization at (src, seq) under its
 * key and partition (the later of two of one key wins). */
static int put_run_asset(cairn_journal *j, cairn__txn *txn, uint64_t run,
                         const cairn_event *ev, uint64_t src) {
  unsigned char rk[RUN_KEY_MAX], val[12];
  cairn__put_be64(rk, run);
  size_t rn = put_bytes(rk, 8, ev->asset_key.ptr, ev->asset_key.len);
  rk[rn++] = 0;
  if (ev->partition.len)
    rn = put_bytes(rk, rn, ev->partition.ptr, ev->partition.len);
  cairn__put_be64(val, src);
  cairn__put_be32(val + 8, ev->seq);
  cairn__val k = {rn, rk}, v = {12, val};
  return cairn__kv_err(j, cairn__kv_put(txn, DB_RUN_ASSETS, &k, &v, 0),
                        "indexing a run's assets");
}

typedef struct use_ctx {
  cairn_journal *j;
  cairn__txn *txn;
  const char *ns;
  uint64_t run;
  int rc;
} use_ctx;

static int put_use(void *ctx, const char *key, const char *partition,
                   const char *hash) {
  use_ctx *c = ctx;
  unsigned char kb[USE_KEY_MAX];
  size_t n = asset_key(kb, c->ns, S(key), S(partition));
  if (n == 0)
    return 0;
  kb[n++] = 0;
  hash_bytes(hash, kb + n);
  n += 32;
  cairn__put_be64(kb + n, c->run);
  cairn__val k = {n + 8, kb}, v = {0, ""};
  c->rc = cairn__kv_err(c->j, cairn__kv_put(c->txn, DB_ASSET_USES, &k,
                                          &v, 0),
                         "indexing an asset's users");
  return c->rc != 0;
}

int cairn__store_put_asset(cairn_journal *j, cairn__txn *txn,
                          const cairn_run_info *run, const cairn_event *ev) {
  unsigned char ak[VERSION_KEY_MAX];
  size_t an = asset_key(ak, run->ns, ev->asset_key, ev->partition);
  if (an == 0)
    return CAIRN_EINVAL; /* cairn__event_check keeps this from happening */
  /* the version: once, however often it is folded (a rebuild racing a
   * commit indexes it once) */
  size_t vn = an;
  ak[vn++] = 0;
  cairn__put_be64(ak + vn, (uint64_t)ev->time_us);
  cairn__put_be64(ak + vn + 8, run->key);
  cairn__put_be32(ak + vn + 16, ev->seq);
  cairn__val k = {vn + 20, ak}, v = {0, ""};
  int rc = cairn__kv_put(txn, DB_ASSET_VERSIONS, &k, &v, KV_NOOVERWRITE);
  if (rc == KV_KEYEXIST)
    return 0;
  if (rc)
    return cairn__kv_err(j, rc, "indexing an asset version");
  /* the latest */
  cairn__asset_latest cur = {0}, next = {.time_us = ev->time_us,
                                         .run = run->key, .seq = ev->seq};
  k = (cairn__val){an, ak};
  rc = cairn__kv_get(txn, DB_ASSETS, &k, &v);
  if (rc == 0 && cairn__asset_latest_decode(v.data, v.size, &cur)) {
    cairn__journal_set_err(j, "the catalogue entry of asset %.*s is "
                              "damaged; run `cairn journal rebuild-views`",
                           (int)ev->asset_key.len, ev->asset_key.ptr);
    return CAIRN_ECORRUPT;
  }
  if (rc && rc != KV_NOTFOUND)
    return cairn__kv_err(j, rc, "reading an asset's latest version");
  bool newer = rc == KV_NOTFOUND || cur.time_us < next.time_us ||
               (cur.time_us == next.time_us &&
                (cur.run < next.run ||
                 (cur.run == next.run && cur.seq < next.seq)));
  if (newer)
    cairn__fmt(next.hash, sizeof next.hash, "%.*s",
               (int)ev->content_hash.len, ev->content_hash.ptr);
  else
    next = cur;
  next.versions = cur.versions + 1;
  char *buf = NULL;
  size_t len = 0;
  if ((rc = cairn__asset_latest_encode(&next, &buf, &len)) != 0)
    return rc;
  v = (cairn__val){len, buf};
  rc = cairn__kv_put(txn, DB_ASSETS, &k, &v, 0);
  free(buf);
  if (rc)
    return cairn__kv_err(j, rc, "writing an asset's latest version");
  /* what the run materialized */
  if ((rc = put_run_asset(j, txn, run->key, ev, run->key)) != 0)
    return rc;
  /* the users of each upstream version */
  use_ctx c = {j, txn, run->ns, run->key, 0};
  rc = cairn__asset_upstreams(ev->meta, put_use, &c);
  return c.rc ? c.rc : rc;
}

int cairn__store_put_reused_assets(cairn_journal *j, cairn__txn *txn,
                                  const cairn_run_info *run,
                                  const cairn_event *reused) {
  uint64_t src;
  cairn_str id = reused->ref_run;
  int rc = id.len == CAIRN_RUN_ID_LEN ? cairn__get_run_key(j, txn, id, &src)
                                      : CAIRN_ENOTFOUND;
  if (rc) /* the fold checked the reference: nothing to list */
    return rc == CAIRN_ENOTFOUND ? 0 : rc;
  /* a completion's assets follow it directly (fold.c) */
  for (uint32_t seq = reused->ref_seq + 1;; seq++) {
    unsigned char kb[12];
    cairn_event ev;
    cairn__val k = {cairn__event_key(kb, src, seq), kb}, v;
    rc = cairn__kv_get(txn, DB_EVENTS, &k, &v);
    if (rc == KV_NOTFOUND)
      return 0;
    if (rc)
      return cairn__kv_err(j, rc, "reading a reused step's assets");
    if (cairn_event_decode(v.data, v.size, &ev, NULL) != 0 ||
        ev.type != CAIRN_EV_ASSET_MATERIALIZED)
      return 0;
    if ((rc = put_run_asset(j, txn, run->key, &ev, src)) != 0)
      return rc;
  }
}

int cairn__store_drop_assets(cairn_journal *j, cairn__txn *txn) {
  cairn__db dbs[] = {DB_ASSETS, DB_ASSET_VERSIONS, DB_RUN_ASSETS,
                   DB_ASSET_USES};
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    int rc = cairn__kv_clear(txn, dbs[i]);
    if (rc)
      return cairn__kv_err(j, rc, "clearing the asset catalogue");
  }
  return 0;
}

/* -------------------------------------------------------------- reads */

/* A listing's answer: the callee's error, else the cursor's. */
static int done(cairn_reader *r, cairn__cursor *cur, int kv_rc, int err,
                const char *what) {
  cairn__cursor_close(cur);
  if (err)
    return err;
  return kv_rc == KV_NOTFOUND ? 0 : cairn__kv_err(r->j, kv_rc, what);
}

/* The materialization at (run, seq), which must be an asset.materialized;
 * `known`, when not NULL, is the run's record already read. */
static int fill_in(cairn_reader *r, const cairn_run_info *known,
                   uint64_t run, uint32_t seq, cairn_asset *out) {
  cairn_run_info read;
  const cairn_run_info *info = known ? known : &read;
  cairn_event ev;
  int rc = known ? 0 : cairn__store_reader_run_by_key(r, run, &read);
  if (rc == 0)
    rc = cairn__store_reader_event(r, run, seq, &ev);
  if (rc == 0 && ev.type != CAIRN_EV_ASSET_MATERIALIZED) {
    cairn__journal_set_err(r->j, "the asset catalogue points at event %u of "
                                 "run %s, which is %s; run `cairn journal "
                                 "rebuild-views`", seq, info->run_id,
                           cairn_event_type_name(ev.type));
    rc = CAIRN_ECORRUPT;
  }
  if (rc)
    return rc;
  memset(out, 0, sizeof *out);
  cairn__asset_from_event(&ev, out);
  memcpy(out->ns, info->ns, sizeof out->ns);
  memcpy(out->run_id, info->run_id, sizeof out->run_id);
  out->run_key = run;
  return 0;
}

static int fill(cairn_reader *r, uint64_t run, uint32_t seq,
                cairn_asset *out) {
  return fill_in(r, NULL, run, seq, out);
}

/* The materialization a latest record names, with its version count. */
static int fill_latest(cairn_reader *r, const cairn__asset_latest *l,
                       cairn_asset *out) {
  int rc = fill(r, l->run, l->seq, out);
  if (rc == 0)
    out->versions = l->versions;
  return rc;
}

static int decode_latest(cairn_reader *r, const cairn__val *v,
                         cairn__asset_latest *out) {
  if (cairn__asset_latest_decode(v->data, v->size, out) == 0)
    return 0;
  cairn__journal_set_err(r->j, "an entry of the asset catalogue is "
                               "damaged; run `cairn journal rebuild-views`");
  return CAIRN_ECORRUPT;
}

int cairn__store_reader_asset_head(cairn_reader *r, const char *ns,
                                  const char *key, const char *partition,
                                  cairn__asset_latest *out) {
  unsigned char kb[A_MAX];
  size_t n = key && *key ? asset_key(kb, ns ? ns : "default", S(key),
                                     S(partition))
                         : 0;
  cairn__val k = {n, kb}, v;
  int rc = n ? cairn__kv_get(LR(r)->txn, DB_ASSETS, &k, &v) : KV_NOTFOUND;
  if (rc == KV_NOTFOUND)
    return CAIRN_ENOTFOUND;
  if (rc)
    return cairn__kv_err(r->j, rc, "reading an asset");
  return decode_latest(r, &v, out);
}

int cairn__store_reader_asset(cairn_reader *r, const char *ns,
                             const char *key, const char *partition,
                             cairn_asset *out) {
  cairn__asset_latest l;
  int rc = cairn__store_reader_asset_head(r, ns, key, partition, &l);
  if (rc == CAIRN_ENOTFOUND)
    cairn__journal_set_err(r->j, "no asset %s%s%s has been materialized in "
                                 "namespace %s; `cairn assets list` shows "
                                 "those that have", key ? key : "",
                           partition ? " partition " : "",
                           partition ? partition : "", ns ? ns : "default");
  return rc ? rc : fill_latest(r, &l, out);
}

int cairn__store_reader_assets(cairn_reader *r, const char *ns,
                              const char *prefix, const char *after_key,
                              const char *after_partition,
                              cairn_asset_cb cb, void *ctx) {
  unsigned char pk[A_MAX], ak[A_MAX];
  ns = ns ? ns : "default";
  size_t nl = strlen(ns);
  if (nl > CAIRN_NAMESPACE_MAX || (prefix && strlen(prefix) >
                                                 CAIRN_ASSET_KEY_MAX))
    return 0;
  /* the prefix: namespace, NUL, the key's first bytes */
  size_t pn = put_bytes(pk, 0, ns, nl);
  pk[pn++] = 0;
  if (prefix)
    pn = put_bytes(pk, pn, prefix, strlen(prefix));
  size_t an = after_key && *after_key
                  ? asset_key(ak, ns, S(after_key), S(after_partition))
                  : 0;
  if (an && (an < pn || memcmp(ak, pk, pn) != 0)) {
    /* `after` is outside the prefix: before it (start at the prefix) or
     * past it (nothing left) */
    int c = memcmp(ak, pk, an < pn ? an : pn);
    if (c > 0)
      return 0;
    an = 0;
  }
  cairn__cursor *cur;
  int rc = cairn__cursor_open(LR(r)->txn, DB_ASSETS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "listing assets");
  cairn__val k = an ? (cairn__val){an, ak} : (cairn__val){pn, pk}, v;
  int err = 0;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size < pn || memcmp(k.data, pk, pn) != 0)
      break;
    if (an && k.size == an && memcmp(k.data, ak, an) == 0)
      continue; /* the page's last entry: start after it */
    cairn__asset_latest l;
    cairn_asset a;
    if ((err = decode_latest(r, &v, &l)) != 0 ||
        (err = fill_latest(r, &l, &a)) != 0 || cb(ctx, &a))
      break;
  }
  return done(r, cur, rc, err, "listing assets");
}

int cairn__store_reader_asset_history(cairn_reader *r, const char *ns,
                                     const char *key, const char *partition,
                                     cairn_asset_cb cb, void *ctx) {
  unsigned char kb[VERSION_KEY_MAX];
  ns = ns ? ns : "default";
  size_t n = key && *key ? asset_key(kb, ns, S(key), S(partition)) : 0;
  if (n == 0)
    return cairn__store_reader_asset(r, ns, key, partition, &(cairn_asset){0});
  kb[n++] = 0;
  size_t pn = n;
  memset(kb + n, 0xff, 20); /* past the last version */
  cairn__cursor *cur;
  int rc = cairn__cursor_open(LR(r)->txn, DB_ASSET_VERSIONS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading an asset's history");
  cairn__val k = {pn + 20, kb}, v;
  size_t seen = 0;
  int err = 0;
  rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE);
  rc = rc == KV_NOTFOUND ? cairn__cursor_get(cur, &k, &v, KV_LAST)
                          : cairn__cursor_get(cur, &k, &v, KV_PREV);
  for (; rc == 0; rc = cairn__cursor_get(cur, &k, &v, KV_PREV)) {
    const unsigned char *p = k.data;
    if (k.size != pn + 20 || memcmp(p, kb, pn) != 0)
      break;
    cairn_asset a;
    if ((err = fill(r, cairn__get_be64(p + pn + 8),
                    cairn__get_be32(p + pn + 16), &a)) != 0)
      break;
    seen++;
    if (cb(ctx, &a))
      break;
  }
  if ((rc = done(r, cur, rc, err, "reading an asset's history")) != 0)
    return rc;
  if (seen == 0)
    return cairn__store_reader_asset(r, ns, key, partition, &(cairn_asset){0});
  return 0;
}

int cairn__store_reader_run_assets(cairn_reader *r, uint64_t run_key,
                                  cairn_asset_cb cb, void *ctx) {
  unsigned char kb[8];
  cairn__put_be64(kb, run_key);
  cairn__cursor *cur;
  int rc = cairn__cursor_open(LR(r)->txn, DB_RUN_ASSETS, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading a run's assets");
  cairn__val k = {8, kb}, v;
  cairn_run_info info;
  int err = cairn__store_reader_run_by_key(r, run_key, &info);
  if (err) {
    cairn__cursor_close(cur);
    return err;
  }
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size <= 8 || memcmp(k.data, kb, 8) != 0)
      break;
    if (v.size != 12) {
      cairn__journal_set_err(r->j, "an entry of run key %llu's assets is "
                                   "damaged; run `cairn journal "
                                   "rebuild-views`",
                             (unsigned long long)run_key);
      err = CAIRN_ECORRUPT;
      break;
    }
    cairn_asset a;
    uint64_t src = cairn__get_be64(v.data);
    uint32_t seq = cairn__get_be32((unsigned char *)v.data + 8);
    if ((err = fill_in(r, src == run_key ? &info : NULL, src, seq,
                       &a)) != 0 ||
        cb(ctx, &a))
      break;
  }
  return done(r, cur, rc, err, "reading a run's assets");
}

int cairn__store_reader_asset_users(cairn_reader *r, const char *ns,
                                   const char *key, const char *partition,
                                   const char *hash, cairn_run_key_cb cb,
                                   void *ctx) {
  unsigned char kb[USE_KEY_MAX];
  size_t n = key && *key ? asset_key(kb, ns ? ns : "default", S(key),
                                     S(partition))
                         : 0;
  if (n == 0 || hash == NULL || !cairn__is_hash_hex(hash))
    return 0;
  kb[n++] = 0;
  hash_bytes(hash, kb + n);
  n += 32;
  cairn__cursor *cur;
  int rc = cairn__cursor_open(LR(r)->txn, DB_ASSET_USES, &cur);
  if (rc)
    return cairn__kv_err(r->j, rc, "reading an asset's users");
  cairn__val k = {n, kb}, v;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_SET_RANGE); rc == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    if (k.size != n + 8 || memcmp(k.data, kb, n) != 0)
      break;
    if (cb(ctx, cairn__get_be64((unsigned char *)k.data + n)))
      break;
  }
  return done(r, cur, rc, 0, "reading an asset's users");
}

/* ------------------------------------------------- rebuild and verify */

/* Catalogues every asset.materialized of the journal again, in one
 * transaction: readers see the old catalogue or the new, never half. */
int cairn__store_rebuild_assets(cairn_journal *j, cairn__txn *txn) {
  int rc = cairn__store_drop_assets(j, txn);
  cairn__cursor *cur;
  if (rc == 0 && (rc = cairn__cursor_open(txn, DB_EVENTS, &cur)) != 0)
    return cairn__kv_err(j, rc, "reading events");
  if (rc)
    return rc;
  cairn__run_rec run = {0};
  cairn__val k, v;
  int err = 0;
  for (rc = cairn__cursor_get(cur, &k, &v, KV_FIRST); rc == 0 && err == 0;
       rc = cairn__cursor_get(cur, &k, &v, KV_NEXT)) {
    cairn_event ev;
    if (k.size != 12 ||
        cairn_event_decode(v.data, v.size, &ev, NULL) != 0 ||
        (ev.type != CAIRN_EV_ASSET_MATERIALIZED &&
         ev.type != CAIRN_EV_STEP_REUSED))
      continue; /* verify reports what does not decode */
    uint64_t key = cairn__get_be64(k.data);
    if (run.info.key != key && (err = cairn__get_run(j, txn, key, &run)))
      break;
    err = ev.type == CAIRN_EV_STEP_REUSED
              ? cairn__store_put_reused_assets(j, txn, &run.info, &ev)
              : cairn__store_put_asset(j, txn, &run.info, &ev);
  }
  cairn__cursor_close(cur);
  if (err)
    return err;
  return rc == KV_NOTFOUND ? 0 : cairn__kv_err(j, rc, "reading events");
}

bool cairn__store_asset_catalogued(cairn__txn *txn,
                                  const char *ns, uint64_t run,
                                  const cairn_event *ev) {
  unsigned char kb[VERSION_KEY_MAX], rk[RUN_KEY_MAX];
  size_t n = asset_key(kb, ns, ev->asset_key, ev->partition);
  if (n == 0)
    return false;
  kb[n++] = 0;
  cairn__put_be64(kb + n, (uint64_t)ev->time_us);
  cairn__put_be64(kb + n + 8, run);
  cairn__put_be32(kb + n + 16, ev->seq);
  cairn__val k = {n + 20, kb}, v;
  if (cairn__kv_get(txn, DB_ASSET_VERSIONS, &k, &v) != 0)
    return false;
  /* the key's latest is this one or a later one */
  cairn__asset_latest l;
  k = (cairn__val){n - 1, kb};
  if (cairn__kv_get(txn, DB_ASSETS, &k, &v) != 0 ||
      cairn__asset_latest_decode(v.data, v.size, &l) != 0 ||
      l.time_us < ev->time_us ||
      (l.time_us == ev->time_us &&
       (l.run < run || (l.run == run && l.seq < ev->seq))))
    return false;
  /* and the run lists it (the run's latest of the key: this or later) */
  cairn__put_be64(rk, run);
  size_t rn = put_bytes(rk, 8, ev->asset_key.ptr, ev->asset_key.len);
  rk[rn++] = 0;
  if (ev->partition.len)
    rn = put_bytes(rk, rn, ev->partition.ptr, ev->partition.len);
  k = (cairn__val){rn, rk};
  return cairn__kv_get(txn, DB_RUN_ASSETS, &k, &v) == 0 &&
         v.size == 12 && cairn__get_be64(v.data) == run &&
         cairn__get_be32((unsigned char *)v.data + 8) >= ev->seq;
}

bool cairn__store_asset_entry_ok(cairn_journal *j, cairn__txn *txn,
                                const cairn__val *k, const cairn__val *v) {
  cairn__asset_latest a;
  cairn__run_rec run;
  cairn_event ev;
  unsigned char kb[12], ak[A_MAX];
  if (cairn__asset_latest_decode(v->data, v->size, &a) != 0 ||
      cairn__get_run(j, txn, a.run, &run) != 0)
    return false;
  cairn__val ek = {cairn__event_key(kb, a.run, a.seq), kb}, e;
  if (cairn__kv_get(txn, DB_EVENTS, &ek, &e) != 0 ||
      cairn_event_decode(e.data, e.size, &ev, NULL) != 0 ||
      ev.type != CAIRN_EV_ASSET_MATERIALIZED)
    return false;
  /* it is an event of this very key, with the hash it says */
  size_t an = asset_key(ak, run.info.ns, ev.asset_key, ev.partition);
  return an == k->size && memcmp(ak, k->data, an) == 0 &&
         ev.content_hash.len == CAIRN_HASH_HEX_LEN &&
         memcmp(ev.content_hash.ptr, a.hash, CAIRN_HASH_HEX_LEN) == 0;
}
