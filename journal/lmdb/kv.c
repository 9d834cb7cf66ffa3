/*
 * lmdb/kv.c — the LMDB driver of the ordered store (store/store.h): one
 * LMDB environment in the --home directory, one named database per store
 * database, LMDB's transactions as the store's.
 *
 * Map growth: LMDB reports MDB_MAP_FULL from mdb_put or mdb_txn_commit,
 * after which the transaction is dead. The only recovery is to abort, set
 * a larger map (legal only while this process has no transaction open)
 * and redo the transaction (shared/notes/deps.md): the store's write loop
 * does that, calling grow(), which doubles the map. Other processes learn
 * of the new size through MDB_MAP_RESIZED at their next mdb_txn_begin and
 * adopt it with mdb_env_set_mapsize(env, 0).
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
#include "../store/store.h"

#include <lmdb.h>

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

typedef struct lmdb_journal {
  cairn__store s;
  MDB_env *env;
  MDB_dbi dbi[DB_COUNT];
  int watch_fd;          /* inotify on data.mdb, -1 until asked for */
  size_t seen_txnid;     /* the last transaction id at watch_reset */
  size_t own_commits;    /* transactions this handle committed since */
} lmdb_journal;

typedef struct lmdb_txn {
  cairn__txn t;
  MDB_txn *txn;
} lmdb_txn;

typedef struct lmdb_cursor {
  cairn__cursor c;
  MDB_cursor *cur;
  cairn_journal *j;
} lmdb_cursor;

#define LJ(j) ((lmdb_journal *)(j))
#define LT(t) (((lmdb_txn *)(t))->txn)

/* LMDB's answer as the store's: its two expected misses as KV_*, anything
 * else a cairn error with LMDB's words in the detail. */
static int kv_rc(cairn_journal *j, int rc) {
  switch (rc) {
  case MDB_SUCCESS:
    return 0;
  case MDB_NOTFOUND:
    return KV_NOTFOUND;
  case MDB_KEYEXIST:
    return KV_KEYEXIST;
  case MDB_MAP_FULL:
    snprintf(LJ(j)->s.detail, sizeof LJ(j)->s.detail, "%s", mdb_strerror(rc));
    return CAIRN_EFULL;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
    snprintf(LJ(j)->s.detail, sizeof LJ(j)->s.detail,
             "%s; run `cairn journal verify` and restore from a backup",
             mdb_strerror(rc));
    return CAIRN_ECORRUPT;
  default:
    snprintf(LJ(j)->s.detail, sizeof LJ(j)->s.detail, "%s", mdb_strerror(rc));
    return CAIRN_EIO;
  }
}

static bool owns(const char *where) {
  (void)where;
  return true; /* a directory: whatever no other driver claims */
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

/* Opens every database in one transaction (creating them when writable:
 * a journal of an older schema gains the databases it lacks). */
static int open_dbis(cairn_journal *j, char *errbuf, size_t errlen) {
  MDB_txn *txn;
  unsigned flags = j->read_only ? MDB_RDONLY : 0;
  int rc = mdb_txn_begin(LJ(j)->env, NULL, flags, &txn);
  while (rc == MDB_MAP_RESIZED) {
    /* Another process grew the map since our mdb_env_open read it. */
    if ((rc = mdb_env_set_mapsize(LJ(j)->env, 0)) == 0)
      rc = mdb_txn_begin(LJ(j)->env, NULL, flags, &txn);
  }
  if (rc)
    return cairn__kv_err(j, kv_rc(j, rc), "starting the first transaction");
  rc = mdb_dbi_open(txn, "meta", j->read_only ? 0 : MDB_CREATE,
                    &LJ(j)->dbi[DB_META]);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    cairn__fmt(errbuf, errlen, "%s holds no cairn journal yet; run a "
                               "command that writes to create it", j->home);
    return CAIRN_ENOTFOUND;
  }
  for (int d = 0; rc == 0 && d < DB_COUNT; d++) {
    if (d == DB_META)
      continue;
    rc = mdb_dbi_open(txn, cairn__db_names[d], j->read_only ? 0 : MDB_CREATE,
                      &LJ(j)->dbi[d]);
    if (rc == MDB_NOTFOUND) { /* read-only, and an older build wrote it */
      MDB_val k = {6, "schema"}, v;
      uint32_t schema = mdb_get(txn, LJ(j)->dbi[DB_META], &k, &v) == 0 &&
                                v.mv_size == 4
                            ? cairn__get_be32(v.mv_data)
                            : 0;
      mdb_txn_abort(txn);
      if (schema && schema != CAIRN_JOURNAL_SCHEMA &&
          cairn__store_schema_refusal(&cairn__lmdb_kv, j->home, schema,
                                      true, errbuf, errlen))
        return CAIRN_ESCHEMA;
      cairn__fmt(errbuf, errlen,
                 "the journal in %s lacks the '%s' database (an earlier "
                 "build of cairn wrote it); run `cairn journal migrate` (or "
                 "any command that writes) to add it",
                 j->home, cairn__db_names[d]);
      return CAIRN_ESCHEMA;
    }
  }
  if (rc) {
    mdb_txn_abort(txn);
    return cairn__kv_err(j, kv_rc(j, rc), "opening the journal's databases");
  }
  return cairn__kv_err(j, kv_rc(j, cairn__fault_hit(CAIRN__FAULT_SYNC)
                                       ? (mdb_txn_abort(txn), EIO)
                                       : mdb_txn_commit(txn)),
                       "opening the journal");
}

static void lmdb_close(cairn_journal *j) {
  if (j == NULL)
    return;
  if (LJ(j)->env)
    mdb_env_close(LJ(j)->env);
  if (LJ(j)->watch_fd >= 0)
    close(LJ(j)->watch_fd);
  free(j->home);
  free(j);
}

static int lmdb_open(const char *home, const cairn_journal_options *o,
                     cairn_journal **out, char *errbuf, size_t errlen) {
  char data[4200];
  struct stat st;
  int rc;
  snprintf(data, sizeof data, "%s/data.mdb", home);
  if ((o->read_only || o->must_exist) && stat(data, &st) != 0) {
    cairn__fmt(errbuf, errlen, "no journal in %s", home);
    return CAIRN_ENOTFOUND;
  }
  if (!o->read_only && mkdir_p(home) != 0) {
    cairn__fmt(errbuf, errlen, "cannot create journal directory %s: %s",
               home, strerror(errno));
    return CAIRN_EIO;
  }
  cairn_journal *j = cairn__calloc(1, sizeof(lmdb_journal));
  if (j == NULL || (j->home = cairn__strdup(home)) == NULL) {
    free(j);
    return CAIRN_ENOMEM;
  }
  LJ(j)->s.kv = &cairn__lmdb_kv;
  LJ(j)->watch_fd = -1;
  j->read_only = o->read_only;
  unsigned flags = MDB_NOTLS | (o->no_sync ? MDB_NOSYNC : 0) |
                   (o->read_only ? MDB_RDONLY : 0);
  if ((rc = mdb_env_create(&LJ(j)->env)) != 0 ||
      /* DB_COUNT named databases (store.h), room to grow. */
      (rc = mdb_env_set_maxdbs(LJ(j)->env, 32)) != 0 ||
      (rc = mdb_env_set_mapsize(LJ(j)->env, o->initial_map_bytes
                                            ? o->initial_map_bytes
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
    lmdb_close(j);
    return rc;
  }
  /* LMDB 0.9.24 leaves the data file's descriptor inheritable: a child
   * spawned by the engine must not hold the journal open. */
  int fd;
  if (mdb_env_get_fd(LJ(j)->env, &fd) == 0 && fd >= 0)
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  int dead = 0;
  mdb_reader_check(LJ(j)->env, &dead); /* free slots of killed readers */
  if ((rc = open_dbis(j, errbuf, errlen)) != 0) {
    if (errbuf && errlen && errbuf[0] == '\0')
      cairn__fmt(errbuf, errlen, "%s", j->errmsg);
    lmdb_close(j);
    return rc;
  }
  *out = j;
  return 0;
}

/* ------------------------------------------------------- transactions */

static int lmdb_begin(cairn_journal *j, int mode, cairn__txn **out) {
  bool write = mode != KV_READ; /* LMDB's writers are always alone */
  lmdb_txn *t = cairn__calloc(1, sizeof *t);
  if (t == NULL)
    return CAIRN_ENOMEM;
  for (;;) {
    int rc = mdb_txn_begin(LJ(j)->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc == MDB_MAP_RESIZED) {
      /* Another process grew the map: adopt its size and begin again. */
      if ((rc = mdb_env_set_mapsize(LJ(j)->env, 0)) == 0)
        continue;
    }
    if (rc) {
      free(t);
      return kv_rc(j, rc);
    }
    break;
  }
  t->t = (cairn__txn){&cairn__lmdb_kv, j, write};
  *out = &t->t;
  return 0;
}

static void lmdb_abort(cairn__txn *t) {
  mdb_txn_abort(LT(t));
  free(t);
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
  return cairn__kv_err(j, kv_rc(j, rc), "committing");
}

static int lmdb_commit(cairn__txn *t) {
  cairn_journal *j = t->j;
  int rc;
  if (cairn__fault_hit(CAIRN__FAULT_SYNC)) {
    mdb_txn_abort(LT(t));
    rc = EIO;
  } else {
    rc = mdb_txn_commit(LT(t));
  }
  free(t);
  if (rc)
    return commit_failed(j, rc); /* MDB_MAP_FULL: CAIRN_EFULL, then grow */
  LJ(j)->own_commits++;          /* not news for this handle's watch */
  return 0;
}

static int lmdb_grow(cairn_journal *j) {
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
  return rc ? cairn__kv_err(j, kv_rc(j, rc), "growing the journal's map") : 0;
}

/* ------------------------------------------------------------ records */

static int lmdb_get(cairn__txn *t, cairn__db db, const cairn__val *k,
                    cairn__val *v, unsigned flags) {
  (void)flags; /* one writer at a time: nothing is ever locked by another */
  MDB_val mk = {k->size, k->data}, mv;
  int rc = mdb_get(LT(t), LJ(t->j)->dbi[db], &mk, &mv);
  if (rc == 0)
    *v = (cairn__val){mv.mv_size, mv.mv_data};
  return kv_rc(t->j, rc);
}

static int lmdb_put(cairn__txn *t, cairn__db db, const cairn__val *k,
                    cairn__val *v, unsigned flags) {
  MDB_val mk = {k->size, k->data}, mv = {v->size, v->data};
  int rc = mdb_put(LT(t), LJ(t->j)->dbi[db], &mk, &mv,
                   flags & KV_NOOVERWRITE ? MDB_NOOVERWRITE : 0);
  if (rc == MDB_KEYEXIST) /* mv: the stored value */
    *v = (cairn__val){mv.mv_size, mv.mv_data};
  return kv_rc(t->j, rc);
}

static int lmdb_del(cairn__txn *t, cairn__db db, const cairn__val *k) {
  MDB_val mk = {k->size, k->data};
  return kv_rc(t->j, mdb_del(LT(t), LJ(t->j)->dbi[db], &mk, NULL));
}

static int lmdb_clear(cairn__txn *t, cairn__db db) {
  return kv_rc(t->j, mdb_drop(LT(t), LJ(t->j)->dbi[db], 0));
}

static int lmdb_count(cairn__txn *t, cairn__db db, uint64_t *n) {
  MDB_stat st;
  int rc = mdb_stat(LT(t), LJ(t->j)->dbi[db], &st);
  *n = rc == 0 ? st.ms_entries : 0;
  return kv_rc(t->j, rc);
}

static int lmdb_cursor_open(cairn__txn *t, cairn__db db, cairn__cursor **out) {
  lmdb_cursor *c = cairn__calloc(1, sizeof *c);
  if (c == NULL)
    return CAIRN_ENOMEM;
  int rc = mdb_cursor_open(LT(t), LJ(t->j)->dbi[db], &c->cur);
  if (rc) {
    free(c);
    return kv_rc(t->j, rc);
  }
  c->c.kv = &cairn__lmdb_kv;
  c->j = t->j;
  *out = &c->c;
  return 0;
}

static int lmdb_cursor_get(cairn__cursor *cc, cairn__val *k, cairn__val *v,
                           int op) {
  static const MDB_cursor_op ops[] = {[KV_FIRST] = MDB_FIRST,
                                      [KV_LAST] = MDB_LAST,
                                      [KV_NEXT] = MDB_NEXT,
                                      [KV_PREV] = MDB_PREV,
                                      [KV_SET_RANGE] = MDB_SET_RANGE};
  MDB_cursor *cur = ((lmdb_cursor *)cc)->cur;
  MDB_val mk = {k->size, k->data}, mv;
  int rc = mdb_cursor_get(cur, &mk, &mv, ops[op]);
  if (rc == 0) {
    *k = (cairn__val){mk.mv_size, mk.mv_data};
    *v = (cairn__val){mv.mv_size, mv.mv_data};
    return 0;
  }
  return kv_rc(((lmdb_cursor *)cc)->j, rc);
}

static int lmdb_cursor_del(cairn__cursor *cc) {
  return kv_rc(((lmdb_cursor *)cc)->j,
               mdb_cursor_del(((lmdb_cursor *)cc)->cur, 0));
}

static void lmdb_cursor_close(cairn__cursor *cc) {
  mdb_cursor_close(((lmdb_cursor *)cc)->cur);
  free(cc);
}

static void lmdb_space(cairn__txn *t, cairn_journal_stats *out) {
  MDB_stat st;
  MDB_envinfo info;
  char path[4200];
  struct stat fs;
  mdb_env_stat(LJ(t->j)->env, &st);
  mdb_env_info(LJ(t->j)->env, &info);
  out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
  out->map_bytes = info.me_mapsize;
  snprintf(path, sizeof path, "%s/data.mdb", t->j->home);
  if (stat(path, &fs) == 0)
    out->file_bytes = (uint64_t)fs.st_size;
}

/* ------------------------------------------------------------ watching */

/* LMDB writes data.mdb with pwrite (this driver never maps it writable),
 * so inotify's IN_MODIFY on it follows every commit of every process. The
 * environment's last transaction id, against the commits this handle
 * made, tells whether any commit was someone else's: a worker that
 * commits all the time is not woken by its own work. */
static int lmdb_watch(cairn_journal *j) {
  lmdb_journal *l = LJ(j);
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

static bool lmdb_watch_reset(cairn_journal *j) {
  lmdb_journal *l = LJ(j);
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

const cairn__kv_ops cairn__lmdb_kv = {
    .name = "lmdb",
    .flag = "--home",
    .owns = owns,
    .open = lmdb_open,
    .close = lmdb_close,
    .begin = lmdb_begin,
    .commit = lmdb_commit,
    .abort = lmdb_abort,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .clear = lmdb_clear,
    .count = lmdb_count,
    .cursor_open = lmdb_cursor_open,
    .cursor_get = lmdb_cursor_get,
    .cursor_del = lmdb_cursor_del,
    .cursor_close = lmdb_cursor_close,
    .grow = lmdb_grow,
    .space = lmdb_space,
    .watch = lmdb_watch,
    .watch_reset = lmdb_watch_reset,
};
