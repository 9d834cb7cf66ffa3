/*
 * lmdb/env.c — opening the LMDB environment, schema checks, and the write
 * transaction loop that grows the map.
 *
 * Map growth: LMDB reports MDB_MAP_FULL from mdb_put or mdb_txn_commit,
 * after which the transaction is dead. The only recovery is to abort, set
 * a larger map (legal only while this process has no transaction open)
 * and redo the transaction (shared/notes/deps.md). cairn__write_txn does
 * exactly that, doubling the map each time. Other processes learn of the
 * new size through MDB_MAP_RESIZED at their next mdb_txn_begin and adopt
 * it with mdb_env_set_mapsize(env, 0).
 *
 * Durability: commits are synced (no MDB_NOSYNC) unless the caller asked
 * for no_sync. LMDB needs no recovery step after a crash: a commit that
 * returned is on disk, one that did not never happened.
 *
 * A full disk: the commit's page writes fail (ENOSPC, or EIO for the
 * short write LMDB gets when the last blocks run out) and LMDB aborts the
 * transaction before its meta page is written, so the journal keeps its
 * last commit whole. commit_failed names that case, with the free space,
 * instead of LMDB's bare "Input/output error".
 */
#include "lmdb_internal.h"

#include <sys/inotify.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 64 MiB: costs only address space (lmdb.h), holds ~400k events. */
#define DEFAULT_MAP_BYTES ((size_t)64 << 20)
/* Growth stops at 1 TiB; past it the journal reports CAIRN_EFULL. */
#define MAX_MAP_BYTES ((size_t)1 << 40)

int cairn__mdb_err(cairn_journal *j, int rc, const char *what) {
  switch (rc) {
  case MDB_SUCCESS:
    return 0;
  case MDB_NOTFOUND:
    return CAIRN_ENOTFOUND;
  case MDB_MAP_FULL:
    return CAIRN_EFULL;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
    cairn__journal_set_err(j, "%s: %s; run `cairn journal verify` and "
                              "restore from a backup",
                           what, mdb_strerror(rc));
    return CAIRN_ECORRUPT;
  default:
    cairn__journal_set_err(j, "%s: %s", what, mdb_strerror(rc));
    return CAIRN_EIO;
  }
}

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

static int mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int open_dbis(cairn_journal *j, MDB_txn *txn, unsigned flags) {
  struct {
    const char *name;
    MDB_dbi *dbi;
  } dbs[] = {{"events", &LJ(j)->events},       {"runs", &LJ(j)->runs},
             {"run_ids", &LJ(j)->run_ids},     {"workflows", &LJ(j)->workflows},
             {"definitions", &LJ(j)->defs},    {"names", &LJ(j)->names},
             {"by_status", &LJ(j)->by_status}, {"views", &LJ(j)->views},
             {"audit", &LJ(j)->audit},         {"requests", &LJ(j)->requests},
             {"def_state", &LJ(j)->def_state}, {"def_names", &LJ(j)->def_names},
             {"mappings", &LJ(j)->mappings},
             {"audit_by_action", &LJ(j)->audit_by_action},
             {"prompts", &LJ(j)->prompts},
             {"assets", &LJ(j)->assets},
             {"asset_versions", &LJ(j)->asset_versions},
             {"run_assets", &LJ(j)->run_assets},
             {"asset_uses", &LJ(j)->asset_uses}};
  for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
    int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
    if (rc == MDB_NOTFOUND) { /* read-only, and an older build wrote it */
      cairn__journal_set_err(j, "the journal in %s lacks the '%s' database "
                                "(an earlier build of cairn wrote it); run "
                                "one command that writes, such as `cairn "
                                "journal rebuild-views`, to add it",
                             j->home, dbs[i].name);
      return CAIRN_ESCHEMA;
    }
    if (rc)
      return cairn__mdb_err(j, rc, "opening the journal's databases");
  }
  return 0;
}

/* Reads the schema version (0 when the journal is new). */
static int read_schema(cairn_journal *j, MDB_txn *txn, uint32_t *schema) {
  MDB_val k = {6, "schema"}, v;
  int rc = mdb_get(txn, LJ(j)->meta, &k, &v);
  *schema = 0;
  if (rc == MDB_NOTFOUND)
    return 0;
  if (rc)
    return cairn__mdb_err(j, rc, "reading the schema version");
  if (v.mv_size != 4) {
    cairn__journal_set_err(j, "the schema version record is damaged");
    return CAIRN_ECORRUPT;
  }
  *schema = cairn__get_be32(v.mv_data);
  return 0;
}

static int setup(cairn_journal *j, char *errbuf, size_t errlen) {
  MDB_txn *txn;
  uint32_t schema = 0;
  unsigned flags = j->read_only ? MDB_RDONLY : 0;
  int rc = mdb_txn_begin(LJ(j)->env, NULL, flags, &txn);
  while (rc == MDB_MAP_RESIZED) {
    /* Another process grew the map since our mdb_env_open read it. */
    if ((rc = mdb_env_set_mapsize(LJ(j)->env, 0)) == 0)
      rc = mdb_txn_begin(LJ(j)->env, NULL, flags, &txn);
  }
  if (rc)
    return cairn__mdb_err(j, rc, "starting the first transaction");
  rc = mdb_dbi_open(txn, "meta", j->read_only ? 0 : MDB_CREATE, &LJ(j)->meta);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    cairn__fmt(errbuf, errlen, "%s holds no cairn journal yet; run a "
                               "command that writes to create it", j->home);
    return CAIRN_ENOTFOUND;
  }
  if (rc == 0)
    rc = read_schema(j, txn, &schema);
  else
    rc = cairn__mdb_err(j, rc, "opening the meta database");
  if (rc == 0 && schema > CAIRN_JOURNAL_SCHEMA) {
    cairn__fmt(errbuf, errlen,
               "the journal in %s has schema version %u, newer than this "
               "cairn's (%d): a later release of cairn wrote it; use that "
               "release or a later one, or point --home at another "
               "directory",
               j->home, schema, CAIRN_JOURNAL_SCHEMA);
    rc = CAIRN_ESCHEMA;
  }
  if (rc == 0 && schema != 0 && schema < CAIRN_JOURNAL_SCHEMA &&
      j->read_only) {
    cairn__fmt(errbuf, errlen,
               "the journal in %s has schema version %u, older than this "
               "cairn's (%d); run `cairn journal migrate --home %s` (any "
               "command that writes migrates it too), then this command "
               "again",
               j->home, schema, CAIRN_JOURNAL_SCHEMA, j->home);
    rc = CAIRN_ESCHEMA;
  }
  /* Migrating (schema 1 .. current - 1, read-write): every change so far
   * only adds databases (2: `prompts`; 3: the asset catalogue's four,
   * empty, as a journal of an older schema has no asset events), which
   * open_dbis creates; then the
   * current version is written, in this same transaction. */
  if (rc == 0)
    rc = open_dbis(j, txn, j->read_only ? 0 : MDB_CREATE);
  j->opened_schema = schema;
  if (rc == 0 && schema != CAIRN_JOURNAL_SCHEMA && !j->read_only) {
    unsigned char be[4];
    cairn__put_be32(be, CAIRN_JOURNAL_SCHEMA);
    MDB_val k = {6, "schema"}, v = {4, be};
    rc = cairn__mdb_err(j, cairn__put(txn, LJ(j)->meta, &k, &v, 0),
                        "writing the schema version");
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return cairn__mdb_err(j, cairn__commit(txn),
                        schema == 0 ? "creating the journal"
                        : schema != CAIRN_JOURNAL_SCHEMA
                            ? "migrating the journal"
                            : "opening the journal");
}

int cairn__lmdb_journal_open(const char *home, const cairn_journal_options *opts,
                       cairn_journal **out, char *errbuf, size_t errlen) {
  cairn_journal_options o = {0};
  int rc;
  *out = NULL;
  if (opts)
    o = *opts;
  if (home == NULL || *home == '\0') {
    cairn__fmt(errbuf, errlen, "no journal directory given");
    return CAIRN_EINVAL;
  }
  char data[4200];
  struct stat st;
  snprintf(data, sizeof data, "%s/data.mdb", home);
  if ((o.read_only || o.must_exist) && stat(data, &st) != 0) {
    cairn__fmt(errbuf, errlen, "no journal in %s", home);
    return CAIRN_ENOTFOUND;
  }
  if (!o.read_only && mkdir_p(home) != 0) {
    cairn__fmt(errbuf, errlen, "cannot create journal directory %s: %s",
               home, strerror(errno));
    return CAIRN_EIO;
  }
  cairn_journal *j = cairn__calloc(1, sizeof(cairn__lmdb));
  if (j == NULL || (j->home = cairn__strdup(home)) == NULL) {
    free(j);
    return CAIRN_ENOMEM;
  }
  j->ops = &cairn__lmdb_ops;
  LJ(j)->watch_fd = -1;
  j->read_only = o.read_only;
  unsigned flags = MDB_NOTLS | (o.no_sync ? MDB_NOSYNC : 0) |
                   (o.read_only ? MDB_RDONLY : 0);
  if ((rc = mdb_env_create(&LJ(j)->env)) != 0 ||
      /* 15 named databases (lmdb_internal.h), room for 1 more. */
      (rc = mdb_env_set_maxdbs(LJ(j)->env, 32)) != 0 ||
      (rc = mdb_env_set_mapsize(LJ(j)->env, o.initial_map_bytes
                                            ? o.initial_map_bytes
                                            : DEFAULT_MAP_BYTES)) != 0 ||
      (rc = mdb_env_open(LJ(j)->env, home, flags, 0644)) != 0) {
    cairn__fmt(errbuf, errlen, "cannot open journal in %s: %s%s", home,
               mdb_strerror(rc),
               rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH
                   ? " (these files are not an LMDB journal cairn can read)"
                   : "");
    rc = rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ? CAIRN_ECORRUPT
         : rc == ENOENT                                  ? CAIRN_ENOTFOUND
                                                         : CAIRN_EIO;
    cairn__lmdb_journal_close(j);
    return rc;
  }
  /* LMDB 0.9.24 leaves the data file's descriptor inheritable: a child
   * spawned by the engine must not hold the journal open. */
  int fd;
  if (mdb_env_get_fd(LJ(j)->env, &fd) == 0 && fd >= 0)
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  int dead = 0;
  mdb_reader_check(LJ(j)->env, &dead); /* free slots of killed readers */
  rc = setup(j, errbuf, errlen);
  if (rc) {
    if (errbuf && errlen && errbuf[0] == '\0')
      cairn__fmt(errbuf, errlen, "%s", j->errmsg);
    cairn__lmdb_journal_close(j);
    return rc;
  }
  *out = j;
  return 0;
}

void cairn__lmdb_journal_close(cairn_journal *j) {
  if (j == NULL)
    return;
  if (LJ(j)->env)
    mdb_env_close(LJ(j)->env);
  if (LJ(j)->watch_fd >= 0)
    close(LJ(j)->watch_fd);
  free(j->home);
  free(j);
}

static int grow(cairn_journal *j) {
  MDB_envinfo info;
  mdb_env_info(LJ(j)->env, &info);
  if (j->open_readers > 0) {
    cairn__journal_set_err(j, "the journal's map (%zu bytes) is full and "
                              "cannot grow while this process has %d open "
                              "reader(s); end them and retry",
                           info.me_mapsize, j->open_readers);
    return CAIRN_EBUSY;
  }
  if (info.me_mapsize >= MAX_MAP_BYTES) {
    cairn__journal_set_err(j, "the journal reached its largest map size "
                              "(%zu bytes); move old workflows to another "
                              "journal (--home) or free disk space",
                           info.me_mapsize);
    return CAIRN_EFULL;
  }
  int rc = mdb_env_set_mapsize(LJ(j)->env, info.me_mapsize * 2);
  return rc ? cairn__mdb_err(j, rc, "growing the journal's map") : 0;
}

/* Below this much free space, an EIO from a commit is taken for a full
 * disk (the short write that ran out of blocks). */
#define FULL_DISK_BYTES ((uint64_t)1 << 20)

/* A failed mdb_txn_commit (which has freed the transaction) as a cairn
 * error with a message that says what to do. */
static int commit_failed(cairn_journal *j, int rc) {
  struct statvfs sv;
  if ((rc == ENOSPC || rc == EDQUOT || rc == EIO) &&
      statvfs(j->home, &sv) == 0) {
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    if (rc != EIO || avail < FULL_DISK_BYTES) {
      cairn__journal_set_err(
          j, "the disk holding the journal %s is full (%llu KiB free): "
             "nothing of this transaction was recorded, what was recorded "
             "before is intact; free space there and run the command again "
             "(`cairn worker --drain` finishes runs left in flight)",
          j->home, (unsigned long long)(avail >> 10));
      return CAIRN_EIO;
    }
  }
  if (rc == EIO) {
    cairn__journal_set_err(
        j, "committing: %s: nothing of this transaction was recorded, what "
           "was recorded before is intact; check the disk holding %s "
           "(dmesg) and run the command again",
        mdb_strerror(rc), j->home);
    return CAIRN_EIO;
  }
  return cairn__mdb_err(j, rc, "committing");
}

int cairn__write_txn(cairn_journal *j, cairn__txn_fn fn, void *ctx) {
  if (j->read_only) {
    cairn__journal_set_err(j, "the journal was opened read-only");
    return CAIRN_EINVAL;
  }
  for (;;) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(LJ(j)->env, NULL, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      /* Another process grew the map: adopt its size and begin again. */
      if ((rc = mdb_env_set_mapsize(LJ(j)->env, 0)) != 0)
        return cairn__mdb_err(j, rc, "adopting the journal's new size");
      continue;
    }
    if (rc)
      return cairn__mdb_err(j, rc, "starting a write transaction");
    rc = fn(j, txn, ctx);
    if (rc == 0 && (rc = cairn__commit(txn)) != 0)
      rc = commit_failed(j, rc); /* MDB_MAP_FULL: CAIRN_EFULL, grown below */
    else if (rc != 0)
      mdb_txn_abort(txn);
    if (rc == 0)
      LJ(j)->own_commits++; /* not news for this handle's watch */
    if (rc != CAIRN_EFULL)
      return rc;
    if ((rc = grow(j)) != 0)
      return rc;
  }
}

/* ------------------------------------------------------------ watching */

/* LMDB writes data.mdb with pwrite (this backend never maps it writable),
 * so inotify's IN_MODIFY on it follows every commit of every process. The
 * environment's last transaction id, against the commits this handle
 * made, tells whether any commit was someone else's: a worker that
 * commits all the time is not woken by its own work. */
int cairn__lmdb_watch(cairn_journal *j) {
  cairn__lmdb *l = LJ(j);
  char path[4200];
  if (l->watch_fd >= 0)
    return l->watch_fd;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  snprintf(path, sizeof path, "%s/data.mdb", j->home);
  if (fd < 0 || inotify_add_watch(fd, path, IN_MODIFY) < 0) {
    cairn__journal_set_err(j, "cannot watch %s: %s; polling instead", path,
                           strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  MDB_envinfo info;
  if (mdb_env_info(l->env, &info) == 0)
    l->seen_txnid = info.me_last_txnid;
  l->own_commits = 0;
  l->watch_fd = fd;
  return fd;
}

bool cairn__lmdb_watch_reset(cairn_journal *j) {
  cairn__lmdb *l = LJ(j);
  char buf[4096];
  MDB_envinfo info;
  if (l->watch_fd >= 0)
    while (read(l->watch_fd, buf, sizeof buf) > 0)
      ;
  if (mdb_env_info(l->env, &info) != 0)
    return true;
  /* Every committed write transaction, of any process, takes the next id:
   * news when more committed since the last reset than this handle did. */
  size_t last = info.me_last_txnid;
  bool news = last - l->seen_txnid > l->own_commits;
  l->seen_txnid = last;
  l->own_commits = 0;
  return news;
}

const cairn__journal_ops cairn__lmdb_ops = {
    .name = "lmdb",
    .open = cairn__lmdb_journal_open,
    .close = cairn__lmdb_journal_close,
    .reader_begin = cairn__lmdb_reader_begin,
    .reader_end = cairn__lmdb_reader_end,
    .run_by_key = cairn__lmdb_reader_run_by_key,
    .run_by_id = cairn__lmdb_reader_run_by_id,
    .event = cairn__lmdb_reader_event,
    .resolve = cairn__lmdb_reader_resolve,
    .history = cairn__lmdb_reader_history,
    .history_next = cairn__lmdb_history_next,
    .history_close = cairn__lmdb_history_close,
    .workflow = cairn__lmdb_reader_workflow,
    .runs = cairn__lmdb_reader_runs,
    .definition = cairn__lmdb_reader_definition,
    .definition_version = cairn__lmdb_reader_definition_version,
    .definition_names = cairn__lmdb_reader_definition_names,
    .definition_state = cairn__lmdb_reader_definition_state,
    .definition_of_hash = cairn__lmdb_reader_definition_of_hash,
    .mapping = cairn__lmdb_reader_mapping,
    .prompt = cairn__lmdb_reader_prompt,
    .prompt_text = cairn__lmdb_reader_prompt_text,
    .prompts = cairn__lmdb_reader_prompts,
    .asset = cairn__lmdb_reader_asset,
    .asset_head = cairn__lmdb_reader_asset_head,
    .assets = cairn__lmdb_reader_assets,
    .asset_history = cairn__lmdb_reader_asset_history,
    .run_assets = cairn__lmdb_reader_run_assets,
    .asset_users = cairn__lmdb_reader_asset_users,
    .audit_count = cairn__lmdb_reader_audit_count,
    .audit = cairn__lmdb_reader_audit,
    .audit_backwards = cairn__lmdb_reader_audit_backwards,
    .request = cairn__lmdb_reader_request,
    .run_view = cairn__lmdb_reader_run_view,
    .step_view = cairn__lmdb_reader_step_view,
    .steps = cairn__lmdb_reader_steps,
    .attempts = cairn__lmdb_reader_attempts,
    .claim_runs = cairn__lmdb_journal_claim_runs,
    .renew_leases = cairn__lmdb_journal_renew_leases,
    .release_leases = cairn__lmdb_journal_release_leases,
    .verify = cairn__lmdb_journal_verify,
    .rebuild_views = cairn__lmdb_journal_rebuild_views,
    .stats_get = cairn__lmdb_journal_stats_get,
    .commit = cairn__lmdb_commit,
    .watch = cairn__lmdb_watch,
    .watch_reset = cairn__lmdb_watch_reset,
};
