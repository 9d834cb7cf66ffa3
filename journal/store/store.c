/*
 * store/store.c — opening a journal on the driver its location names, the
 * schema check, the write transaction loop, and the key builders.
 *
 * A location is a --home directory (LMDB, the default) or a
 * postgresql:// URL (journal/pg/); each driver says which are its own.
 * The schema version lives in the meta database under "schema", whatever
 * the driver: opening reads it, refuses a newer one, and a read-write open
 * of an older one migrates it (every change so far only added databases,
 * which the driver's open creates) and records the current version.
 *
 * The write loop runs a transaction function, commits, and runs it again
 * when the driver asks: after LMDB grew its full map, or after PostgreSQL
 * refused the transaction because another writer got in its way (a
 * deadlock, a serialization failure, a key another writer inserted
 * first). The function is repeatable by contract, so a redo is exact.
 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cairn__db_names[DB_COUNT] = {
    [DB_EVENTS] = "events",          [DB_RUNS] = "runs",
    [DB_RUN_IDS] = "run_ids",        [DB_WORKFLOWS] = "workflows",
    [DB_DEFS] = "definitions",       [DB_NAMES] = "names",
    [DB_BY_STATUS] = "by_status",    [DB_VIEWS] = "views",
    [DB_AUDIT] = "audit",            [DB_REQUESTS] = "requests",
    [DB_DEF_STATE] = "def_state",    [DB_DEF_NAMES] = "def_names",
    [DB_MAPPINGS] = "mappings",      [DB_AUDIT_BY_ACTION] = "audit_by_action",
    [DB_PROMPTS] = "prompts",        [DB_META] = "meta",
    [DB_ASSETS] = "assets",          [DB_ASSET_VERSIONS] = "asset_versions",
    [DB_RUN_ASSETS] = "run_assets",  [DB_ASSET_USES] = "asset_uses"};

/* Redoes of one transaction before the write loop gives up. */
#define MAX_RETRIES 100

static const cairn__kv_ops *const drivers[] = {&cairn__pg_kv, &cairn__lmdb_kv};

int cairn__kv_err(cairn_journal *j, int rc, const char *what) {
  switch (rc) {
  case 0:
    return 0;
  case KV_NOTFOUND:
    return CAIRN_ENOTFOUND;
  case KV_KEYEXIST:
    cairn__journal_set_err(j, "%s: the record exists already", what);
    return CAIRN_ECONFLICT;
  case KV_BUSY:
    cairn__journal_set_err(j, "%s: another writer holds the record", what);
    return CAIRN_EBUSY;
  default:
    cairn__journal_set_err(j, "%s: %s", what, ((cairn__store *)j)->detail);
    return rc;
  }
}

int cairn__kv_fault(cairn__txn *t) {
  if (!cairn__fault_hit(CAIRN__FAULT_WRITE))
    return 0;
  snprintf(((cairn__store *)t->j)->detail, sizeof ((cairn__store *)t->j)->detail,
           "%s", strerror(EIO));
  return 1;
}

int cairn__cursor_del(cairn__cursor *c) {
  if (cairn__fault_hit(CAIRN__FAULT_WRITE))
    return CAIRN_EIO;
  return c->kv->cursor_del(c);
}

/* --------------------------------------------------------------- keys */

size_t cairn__event_key(unsigned char k[12], uint64_t run, uint32_t seq) {
  cairn__put_be64(k, run);
  cairn__put_be32(k + 8, seq);
  return 12;
}

size_t cairn__view_key(unsigned char *k, uint64_t run, int tag,
                       cairn_str step, uint32_t attempt) {
  size_t n = 8;
  cairn__put_be64(k, run);
  k[n++] = (unsigned char)tag;
  if (tag == VIEW_RUN)
    return n;
  memcpy(k + n, step.ptr, step.len);
  n += step.len;
  if (tag == VIEW_STEP)
    return n;
  k[n++] = 0;
  cairn__put_be32(k + n, attempt);
  return n + 4;
}

size_t cairn__action_key(unsigned char *k, cairn_str ns, cairn_str action,
                         int64_t time_us, uint64_t seq) {
  if (ns.ptr == NULL || ns.len == 0)
    ns = (cairn_str){"default", 7};
  if (ns.len > CAIRN_NAMESPACE_MAX || action.len > 64)
    return 0;
  size_t n = 0;
  memcpy(k, ns.ptr, ns.len);
  n += ns.len;
  k[n++] = 0;
  memcpy(k + n, action.ptr, action.len);
  n += action.len;
  k[n++] = 0;
  cairn__put_be64(k + n, (uint64_t)time_us);
  cairn__put_be64(k + n + 8, seq);
  return n + 16;
}

size_t cairn__name_key(unsigned char *k, const char *ns, const char *id) {
  size_t a = strlen(ns), b = strlen(id);
  memcpy(k, ns, a);
  k[a] = 0;
  memcpy(k + a + 1, id, b);
  return a + 1 + b;
}

size_t cairn__request_key(unsigned char k[CAIRN__REQUEST_KEY_MAX],
                          cairn_str ns, cairn_str id) {
  if (ns.ptr == NULL || ns.len == 0)
    ns = (cairn_str){"default", 7};
  memcpy(k, ns.ptr, ns.len);
  k[ns.len] = 0;
  memcpy(k + ns.len + 1, id.ptr, id.len);
  return ns.len + 1 + id.len;
}

/* ------------------------------------------------------------ opening */

/* Reads the schema version (0 when the journal is new). */
static int read_schema(cairn_journal *j, cairn__txn *txn, uint32_t *schema) {
  cairn__val k = {6, "schema"}, v;
  int rc = cairn__kv_get(txn, DB_META, &k, &v);
  *schema = 0;
  if (rc == KV_NOTFOUND)
    return 0;
  if (rc)
    return cairn__kv_err(j, rc, "reading the schema version");
  if (v.size != 4) {
    cairn__journal_set_err(j, "the schema version record is damaged");
    return CAIRN_ECORRUPT;
  }
  *schema = cairn__get_be32(v.data);
  return 0;
}

static int write_schema(cairn_journal *j, cairn__txn *txn, void *ctx) {
  (void)ctx;
  unsigned char be[4];
  cairn__put_be32(be, CAIRN_JOURNAL_SCHEMA);
  cairn__val k = {6, "schema"}, v = {4, be};
  return cairn__kv_err(j, cairn__kv_put(txn, DB_META, &k, &v, 0),
                       "writing the schema version");
}

int cairn__store_schema_refusal(const cairn__kv_ops *kv, const char *home,
                                uint32_t schema, bool read_only, char *errbuf,
                                size_t errlen) {
  if (schema > CAIRN_JOURNAL_SCHEMA) {
    cairn__fmt(errbuf, errlen,
               "the journal in %s has schema version %u, newer than this "
               "cairn's (%d): a later release of cairn wrote it; use that "
               "release or a later one, or point --home (or --journal) at "
               "another journal",
               home, schema, CAIRN_JOURNAL_SCHEMA);
    return CAIRN_ESCHEMA;
  }
  if (read_only && schema < CAIRN_JOURNAL_SCHEMA) {
    cairn__fmt(errbuf, errlen,
               "the journal in %s has schema version %u, older than this "
               "cairn's (%d); run `cairn journal migrate %s %s` (any "
               "command that writes migrates it too), then this command "
               "again",
               home, schema, CAIRN_JOURNAL_SCHEMA, kv->flag, home);
    return CAIRN_ESCHEMA;
  }
  return 0;
}

static int check_schema(cairn_journal *j, char *errbuf, size_t errlen) {
  cairn__txn *txn;
  uint32_t schema = 0;
  int rc = KV(j)->begin(j, KV_READ, &txn);
  if (rc)
    return cairn__kv_err(j, rc, "starting the first transaction");
  rc = read_schema(j, txn, &schema);
  cairn__kv_abort(txn);
  if (rc)
    return rc;
  j->opened_schema = schema;
  if (schema == CAIRN_JOURNAL_SCHEMA || (schema == 0 && j->read_only))
    return 0; /* current, or empty: the driver created nothing */
  if ((rc = cairn__store_schema_refusal(KV(j), j->home, schema, j->read_only, errbuf,
                                        errlen)) != 0)
    return rc;
  /* Migrating (schema 1 .. current - 1) or creating: every change so far
   * only adds databases (2: `prompts`; 3: the asset catalogue's four,
   * empty, as a journal of an older schema has no asset events), which
   * the driver's open created; what is left is the version. */
  return cairn__write_txn(j, write_schema, NULL);
}

int cairn__store_journal_open(const char *home,
                              const cairn_journal_options *opts,
                              cairn_journal **out, char *errbuf,
                              size_t errlen) {
  cairn_journal_options o = {0};
  *out = NULL;
  if (opts)
    o = *opts;
  if (home == NULL || *home == '\0') {
    cairn__fmt(errbuf, errlen, "no journal directory given");
    return CAIRN_EINVAL;
  }
  const cairn__kv_ops *kv = &cairn__lmdb_kv;
  for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
    if (drivers[i]->owns(home)) {
      kv = drivers[i];
      break;
    }
  cairn_journal *j;
  int rc = kv->open(home, &o, &j, errbuf, errlen);
  if (rc)
    return rc;
  j->ops = &cairn__store_ops;
  KV(j) = kv;
  if ((rc = check_schema(j, errbuf, errlen)) != 0) {
    if (errbuf && errlen && errbuf[0] == '\0')
      cairn__fmt(errbuf, errlen, "%s", j->errmsg);
    kv->close(j);
    return rc;
  }
  *out = j;
  return 0;
}

void cairn__store_journal_close(cairn_journal *j) {
  if (j)
    KV(j)->close(j);
}

/* ------------------------------------------------------- the write loop */

static int write_loop(cairn_journal *j, int mode, cairn__txn_fn fn,
                      void *ctx) {
  if (j->read_only) {
    cairn__journal_set_err(j, "the journal was opened read-only");
    return CAIRN_EINVAL;
  }
  for (int attempt = 0;; attempt++) {
    cairn__txn *txn;
    int rc = KV(j)->begin(j, mode, &txn);
    if (rc)
      return cairn__kv_err(j, rc, "starting a write transaction");
    rc = fn(j, txn, ctx);
    if (rc == 0)
      rc = KV(j)->commit(txn);
    else
      cairn__kv_abort(txn);
    if (rc == CAIRN__ERETRY && attempt < MAX_RETRIES)
      continue;
    if (rc == CAIRN__ERETRY) {
      cairn__journal_set_err(j, "the journal stayed too busy to commit (%d "
                                "tries: other writers kept getting in the "
                                "way); run the command again",
                             MAX_RETRIES);
      return CAIRN_EBUSY;
    }
    if (rc != CAIRN_EFULL || KV(j)->grow == NULL)
      return rc;
    if ((rc = KV(j)->grow(j)) != 0)
      return rc;
  }
}

int cairn__write_txn(cairn_journal *j, cairn__txn_fn fn, void *ctx) {
  return write_loop(j, KV_WRITE, fn, ctx);
}

int cairn__write_txn_alone(cairn_journal *j, cairn__txn_fn fn, void *ctx) {
  return write_loop(j, KV_WRITE_ALONE, fn, ctx);
}

/* ------------------------------------------------------------ watching */

int cairn__store_watch(cairn_journal *j) { return KV(j)->watch(j); }

bool cairn__store_watch_reset(cairn_journal *j) {
  return KV(j)->watch_reset(j);
}

const cairn__journal_ops cairn__store_ops = {
    .name = "store",
    .open = cairn__store_journal_open,
    .close = cairn__store_journal_close,
    .reader_begin = cairn__store_reader_begin,
    .reader_end = cairn__store_reader_end,
    .run_by_key = cairn__store_reader_run_by_key,
    .run_by_id = cairn__store_reader_run_by_id,
    .event = cairn__store_reader_event,
    .resolve = cairn__store_reader_resolve,
    .history = cairn__store_reader_history,
    .history_next = cairn__store_history_next,
    .history_close = cairn__store_history_close,
    .workflow = cairn__store_reader_workflow,
    .runs = cairn__store_reader_runs,
    .definition = cairn__store_reader_definition,
    .definition_version = cairn__store_reader_definition_version,
    .definition_names = cairn__store_reader_definition_names,
    .definition_state = cairn__store_reader_definition_state,
    .definition_of_hash = cairn__store_reader_definition_of_hash,
    .mapping = cairn__store_reader_mapping,
    .prompt = cairn__store_reader_prompt,
    .prompt_text = cairn__store_reader_prompt_text,
    .prompts = cairn__store_reader_prompts,
    .asset = cairn__store_reader_asset,
    .asset_head = cairn__store_reader_asset_head,
    .assets = cairn__store_reader_assets,
    .asset_history = cairn__store_reader_asset_history,
    .run_assets = cairn__store_reader_run_assets,
    .asset_users = cairn__store_reader_asset_users,
    .audit_count = cairn__store_reader_audit_count,
    .audit = cairn__store_reader_audit,
    .audit_backwards = cairn__store_reader_audit_backwards,
    .request = cairn__store_reader_request,
    .run_view = cairn__store_reader_run_view,
    .step_view = cairn__store_reader_step_view,
    .steps = cairn__store_reader_steps,
    .attempts = cairn__store_reader_attempts,
    .claim_runs = cairn__store_journal_claim_runs,
    .renew_leases = cairn__store_journal_renew_leases,
    .release_leases = cairn__store_journal_release_leases,
    .verify = cairn__store_journal_verify,
    .rebuild_views = cairn__store_journal_rebuild_views,
    .copy = cairn__store_journal_copy,
    .stats_get = cairn__store_journal_stats_get,
    .commit = cairn__store_commit,
    .watch = cairn__store_watch,
    .watch_reset = cairn__store_watch_reset,
};
