/*
 * pg/pg.c — the PostgreSQL driver of the ordered store (store/store.h):
 * the journal in a PostgreSQL database named by a postgresql:// URL, so
 * that workers on many machines share it.
 *
 * Tables. Each store database is a table cairn_NAME (k bytea primary key,
 * v bytea); bytea compares byte by byte, as LMDB's keys do, so ranges and
 * orders are the same. Events are cairn_events (run bigint, seq integer,
 * event bytea, primary key (run, seq)): the key's two big-endian numbers
 * are passed and read as binary int8 and int4, which are the same bytes.
 * cairn_schema_version holds the layout version of these tables; opening
 * creates or migrates them (under an advisory lock, so two processes
 * opening a new database do not race).
 *
 * Transactions. A reader is a REPEATABLE READ READ ONLY transaction: one
 * snapshot, as an LMDB read transaction. A writer is READ COMMITTED and
 * locks what it reads (SELECT ... FOR UPDATE), so read-modify-write is
 * safe and two writers of different runs commit side by side (a run's
 * record is the lock its batches and its lease take). A key a writer
 * found absent is inserted with a plain INSERT: if another writer
 * inserted it meanwhile, unique_violation ends the transaction, and so
 * do deadlocks and serialization failures; the store's write loop runs
 * the transaction again (CAIRN__ERETRY). Every writer holds the
 * journal's advisory lock shared; rebuild-views (KV_WRITE_ALONE) holds it
 * exclusively. Claims read run records with SKIP LOCKED: a worker never
 * waits for a run another worker is committing to.
 *
 * Durability. A commit returns when PostgreSQL says it is durable
 * (synchronous_commit = on, set for every connection). A lost connection
 * fails the transaction (nothing of it recorded); the next transaction
 * reconnects (PQreset), so a worker that waits and retries resumes.
 *
 * Wake-ups. Every commit sends NOTIFY cairn_journal with this handle's id.
 * watch() starts a thread that LISTENs on a connection of its own and
 * signals an eventfd when another handle committed; that eventfd is the
 * watch, stable for the handle's life however often the connection is
 * lost (the thread reconnects, with backoff, and then signals once, for
 * what it may have missed).
 *
 * Memory: the results a transaction read stay until its end (the store
 * lends values until then, as LMDB's pages are), so a transaction that
 * scans much (verify, rebuild-views) holds what it scanned.
 */
#include "../store/store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The tables' layout version (cairn_schema_version). */
#define LAYOUT_VERSION 1
/* Advisory lock keys: writers (shared; exclusive for rebuild-views), and
 * creating the tables. */
#define WRITERS_LOCK 0x636169726e01LL
#define SETUP_LOCK 0x636169726e02LL
/* Cursor pages: rows fetched at first, and at most. */
#define PAGE_FIRST 8
#define PAGE_MAX 1024

enum {
  S_GET, S_GET_LOCK, S_GET_SKIP, S_PUT, S_INSERT, S_PUT_NEW, S_DEL, S_CLEAR,
  S_COUNT, S_FROM, S_AFTER, S_BEFORE, S_LAST, S_MANY, S_MANY_LOCK, N_STMT
};
#define OID_BYTEA 17
#define OID_BYTEA_ARRAY 1001
#define OID_INT8 20
#define OID_INT4 23

typedef struct pg_conn {
  PGconn *c;
  unsigned char prepared[DB_COUNT][N_STMT];
  struct pg_conn *next; /* the pool's free list */
} pg_conn;

typedef struct pg_journal {
  cairn__store s;
  char *url;
  pthread_mutex_t mu;
  pg_conn *pool;          /* idle connections */
  /* The watch: a thread LISTENs on a connection of its own (and
   * reconnects it), and signals `news_fd` for other handles' commits. */
  pthread_t listener;
  bool listening;
  int news_fd, stop_fd;   /* eventfds: a commit; stop the thread */
  PGconn *first_listen;   /* the thread's first connection */
  _Atomic bool foreign;   /* another handle committed since the reset */
  char id[48];            /* this handle's NOTIFY payload */
  char where[300];        /* the URL without its password, for messages */
} pg_journal;

typedef struct absent_key {
  cairn__db db;
  size_t n;
  unsigned char *k;
} absent_key;

/* A record a writer prefetched: its value (a row of a kept result), or
 * its absence. Keyed by the database's number and the key. */
typedef struct cached {
  UT_hash_handle hh;
  PGresult *res;
  int row; /* -1: absent */
  size_t n;
  unsigned char key[];
} cached;

typedef struct pg_txn {
  cairn__txn t;
  cached *cache;
  pg_conn *pc;
  int mode;
  PGresult **res; /* everything read, freed at the end */
  size_t n_res, cap_res;
  absent_key *absent; /* keys read absent (writers) */
  size_t n_absent, cap_absent;
  void **bufs; /* events' keys of cursor pages, freed at the end */
  size_t n_bufs, cap_bufs;
  /* Writers pipeline (libpq's pipeline mode): a write whose answer is
   * not needed is sent and not waited for; its answer is read, and its
   * failure reported, before the next read's or at the commit. */
  bool pipe;
  int pending;  /* sent, not read yet */
  int pipe_err; /* the first failure among them */
} pg_txn;

typedef struct pg_cursor {
  cairn__cursor c;
  pg_txn *t;
  cairn__db db;
  PGresult *page;
  unsigned char *keys; /* events: the page's keys, 12 bytes a row */
  int row, rows, limit, page_limit;
  bool back;           /* the page runs backwards */
  bool positioned;
  cairn__val cur;      /* the key the cursor is on */
} pg_cursor;

#define PJ(j) ((pg_journal *)(j))
#define PT(t) ((pg_txn *)(t))

static bool owns(const char *where) {
  return strncmp(where, "postgresql://", 13) == 0 ||
         strncmp(where, "postgres://", 11) == 0;
}

/* The URL with any password masked, for messages. */
static void mask_url(const char *url, char *out, size_t len) {
  const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
  const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
  if (at && colon && colon < at)
    snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
  else
    snprintf(out, len, "%s", url);
}

static void detail(cairn_journal *j, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(PJ(j)->s.detail, sizeof PJ(j)->s.detail, fmt, ap);
  va_end(ap);
}

/* A failed statement (or connection) as the store's answer. */
static int failed(cairn_journal *j, PGconn *c, PGresult *r) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  char m[300];
  snprintf(m, sizeof m, "%s", msg && *msg ? msg : "no answer");
  m[strcspn(m, "\n")] = '\0';
  const char *constraint =
      r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
  if (state && strcmp(state, "23505") == 0 && constraint &&
      strcmp(constraint, "cairn_events_pkey") == 0) {
    detail(j, "an event exists past the end its run's record knows; run "
              "`cairn journal verify` (%s)", m);
    return CAIRN_ECORRUPT;
  }
  if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                strcmp(state, "23505") == 0))
    return CAIRN__ERETRY;
  if (PQstatus(c) != CONNECTION_OK || (state && strncmp(state, "08", 2) == 0) ||
      (state && strncmp(state, "57P", 3) == 0)) {
    detail(j, "lost the connection to PostgreSQL at %s (%s); nothing of this "
              "transaction was recorded, the next one reconnects",
           PJ(j)->where, m);
    return CAIRN_EIO;
  }
  if (state && strncmp(state, "53", 2) == 0) {
    detail(j, "PostgreSQL at %s is out of resources (%s): nothing of this "
              "transaction was recorded; free disk space or memory there",
           PJ(j)->where, m);
    return CAIRN_EIO;
  }
  detail(j, "PostgreSQL at %s: %s", PJ(j)->where, m);
  return CAIRN_EIO;
}

/* ------------------------------------------------------------ the pool */

/* The server's notices ("terminating connection due to ...") are not for
 * cairn's users: the failure they announce reaches them as an error. */
static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* A connection set up for cairn, or NULL with the connection (to read
 * its error) in *bad; touches nothing of the handle (the listener thread
 * calls it too). */
static PGconn *open_conn(const char *url, const char *setup, PGconn **bad) {
  const char *keys[] = {"dbname", "application_name", "connect_timeout",
                        NULL};
  const char *vals[] = {url, "cairn", "10", NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  *bad = NULL;
  if (c)
    PQsetNoticeProcessor(c, quiet, NULL);
  if (c && PQstatus(c) == CONNECTION_OK) {
    PGresult *r = PQexec(c, setup);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok)
      return c;
  }
  *bad = c;
  return NULL;
}

static PGconn *connect_to(cairn_journal *j) {
  PGconn *c;
  PGconn *ok = open_conn(PJ(j)->url, "SET synchronous_commit TO on; "
                                     "SET client_min_messages TO warning",
                         &c);
  if (ok)
    return ok;
  char m[300];
  snprintf(m, sizeof m, "%s", c ? PQerrorMessage(c) : "out of memory");
  m[strcspn(m, "\n")] = '\0';
  detail(j, "cannot connect to PostgreSQL at %s: %s", PJ(j)->where, m);
  PQfinish(c);
  return NULL;
}

static int conn_get(cairn_journal *j, pg_conn **out) {
  pg_journal *pj = PJ(j);
  pthread_mutex_lock(&pj->mu);
  pg_conn *pc = pj->pool;
  if (pc)
    pj->pool = pc->next;
  pthread_mutex_unlock(&pj->mu);
  if (pc && PQstatus(pc->c) != CONNECTION_OK) {
    PQreset(pc->c); /* the server went away: try once more */
    memset(pc->prepared, 0, sizeof pc->prepared);
    if (PQstatus(pc->c) != CONNECTION_OK) {
      PQfinish(pc->c);
      free(pc);
      pc = NULL;
    }
  }
  if (pc == NULL) {
    if ((pc = calloc(1, sizeof *pc)) == NULL)
      return CAIRN_ENOMEM;
    if ((pc->c = connect_to(j)) == NULL) {
      free(pc);
      return CAIRN_EIO;
    }
  }
  *out = pc;
  return 0;
}

static void conn_put(cairn_journal *j, pg_conn *pc) {
  pg_journal *pj = PJ(j);
  if (PQpipelineStatus(pc->c) != PQ_PIPELINE_OFF) {
    PQfinish(pc->c); /* left mid-pipeline (the server went away) */
    free(pc);
    return;
  }
  if (PQtransactionStatus(pc->c) != PQTRANS_IDLE) {
    PGresult *r = PQexec(pc->c, "ROLLBACK");
    PQclear(r);
  }
  pthread_mutex_lock(&pj->mu);
  pc->next = pj->pool;
  pj->pool = pc;
  pthread_mutex_unlock(&pj->mu);
}

/* --------------------------------------------------------- statements */

static void sql_of(cairn__db db, int s, char *b, size_t n) {
  char t[64];
  snprintf(t, sizeof t, "cairn_%s", cairn__db_names[db]);
  if (db == DB_EVENTS) {
    static const char *const f[N_STMT] = {
        [S_GET] = "SELECT event FROM %s WHERE run = $1 AND seq = $2",
        [S_GET_LOCK] = "SELECT event FROM %s WHERE run = $1 AND seq = $2",
        [S_GET_SKIP] = "SELECT event FROM %s WHERE run = $1 AND seq = $2",
        [S_PUT] = "INSERT INTO %s (run, seq, event) VALUES ($1, $2, $3) ON "
                  "CONFLICT (run, seq) DO UPDATE SET event = EXCLUDED.event",
        [S_INSERT] = "INSERT INTO %s (run, seq, event) VALUES ($1, $2, $3)",
        [S_PUT_NEW] = "INSERT INTO %s (run, seq, event) VALUES ($1, $2, $3) "
                      "ON CONFLICT (run, seq) DO NOTHING",
        [S_DEL] = "DELETE FROM %s WHERE run = $1 AND seq = $2",
        [S_CLEAR] = "DELETE FROM %s",
        [S_COUNT] = "SELECT count(*) FROM %s",
        [S_FROM] = "SELECT run, seq, event FROM %s WHERE (run, seq) >= ($1, "
                   "$2) ORDER BY run, seq LIMIT $3",
        [S_AFTER] = "SELECT run, seq, event FROM %s WHERE (run, seq) > ($1, "
                    "$2) ORDER BY run, seq LIMIT $3",
        [S_BEFORE] = "SELECT run, seq, event FROM %s WHERE (run, seq) < ($1, "
                     "$2) ORDER BY run DESC, seq DESC LIMIT $3",
        [S_LAST] = "SELECT run, seq, event FROM %s ORDER BY run DESC, seq "
                   "DESC LIMIT $1"};
    snprintf(b, n, f[s], t); /* events never change: reads lock nothing */
    return;
  }
  static const char *const f[N_STMT] = {
      [S_GET] = "SELECT v FROM %s WHERE k = $1",
      [S_GET_LOCK] = "SELECT v FROM %s WHERE k = $1 FOR UPDATE",
      [S_GET_SKIP] = "SELECT v FROM %s WHERE k = $1 FOR UPDATE SKIP LOCKED",
      [S_PUT] = "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO "
                "UPDATE SET v = EXCLUDED.v",
      [S_INSERT] = "INSERT INTO %s (k, v) VALUES ($1, $2)",
      [S_PUT_NEW] = "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) "
                    "DO NOTHING",
      [S_DEL] = "DELETE FROM %s WHERE k = $1",
      [S_CLEAR] = "DELETE FROM %s",
      [S_COUNT] = "SELECT count(*) FROM %s",
      [S_FROM] = "SELECT k, v FROM %s WHERE k >= $1 ORDER BY k LIMIT $2",
      [S_AFTER] = "SELECT k, v FROM %s WHERE k > $1 ORDER BY k LIMIT $2",
      [S_BEFORE] = "SELECT k, v FROM %s WHERE k < $1 ORDER BY k DESC LIMIT $2",
      [S_LAST] = "SELECT k, v FROM %s ORDER BY k DESC LIMIT $1",
      [S_MANY] = "SELECT k, v FROM %s WHERE k = ANY($1)",
      [S_MANY_LOCK] = "SELECT k, v FROM %s WHERE k = ANY($1) FOR UPDATE"};
  snprintf(b, n, f[s], t);
}

/* The parameters of statement s: the key (one bytea, or events' int8 and
 * int4), then the value or the page size. */
typedef struct params {
  const char *v[4];
  int len[4], fmt[4];
  Oid type[4];
  int n;
  unsigned char ev[12], lim[8];
} params;

static void add(params *p, const void *v, int len, Oid type) {
  p->v[p->n] = v;
  p->len[p->n] = len;
  p->fmt[p->n] = 1;
  p->type[p->n] = type;
  p->n++;
}

static void add_key(params *p, cairn__db db, const cairn__val *k) {
  if (db != DB_EVENTS) {
    add(p, k->size ? k->data : "", (int)k->size, OID_BYTEA);
    return;
  }
  /* (run, seq) from up to 12 key bytes; a shorter key is padded with
   * zeros, which is where its range starts. */
  memset(p->ev, 0, sizeof p->ev);
  memcpy(p->ev, k->data, k->size < 12 ? k->size : 12);
  add(p, p->ev, 8, OID_INT8);
  add(p, p->ev + 8, 4, OID_INT4);
}

static void add_limit(params *p, int n) {
  cairn__put_be64(p->lim, (uint64_t)n);
  add(p, p->lim, 8, OID_INT8);
}

static PGresult *keep(pg_txn *t, PGresult *r, int *rc);

/* Pipeline mode: the next query's result (NULL: the connection failed),
 * past the NULL that ends it. */
static PGresult *next_result(PGconn *c) {
  PGresult *r = PQgetResult(c);
  if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
    PGresult *end = PQgetResult(c);
    PQclear(end);
  }
  return r;
}

/* Reads the answers of the writes sent and not read, and `extra` more;
 * the first failure among them (0: none). */
static int drain_sent(pg_txn *t, int extra) {
  PGconn *c = t->pc->c;
  for (int n = t->pending + extra; n > 0; n--) {
    PGresult *r = next_result(c);
    ExecStatusType st = PQresultStatus(r);
    if (r == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
                      st != PGRES_PIPELINE_ABORTED)) {
      if (t->pipe_err == 0)
        t->pipe_err = failed(t->t.j, c, r);
      if (r == NULL)
        break;
    }
    PQclear(r);
  }
  t->pending = 0;
  return t->pipe_err;
}

/* The same, asking the server first to send what it has. */
static int drain(pg_txn *t) {
  PGconn *c = t->pc->c;
  if (t->pending == 0)
    return t->pipe_err;
  if (PQsendFlushRequest(c) != 1 || PQflush(c) != 0) {
    t->pending = 0;
    return t->pipe_err ? t->pipe_err : (t->pipe_err = failed(t->t.j, c, NULL));
  }
  return drain_sent(t, 0);
}

/* Prepares statement s of db on this connection once. */
static int prepare(pg_txn *t, cairn__db db, int s, params *p,
                   const char *name) {
  PGconn *c = t->pc->c;
  if (t->pc->prepared[db][s])
    return 0;
  char sql[300];
  sql_of(db, s, sql, sizeof sql);
  if (t->pipe) {
    if (PQsendPrepare(c, name, sql, p->n, p->type) != 1)
      return failed(t->t.j, c, NULL);
    t->pending++;
    t->pc->prepared[db][s] = 1;
    return 0;
  }
  PGresult *r = PQprepare(c, name, sql, p->n, p->type);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : failed(t->t.j, c, r);
  PQclear(r);
  if (rc == 0)
    t->pc->prepared[db][s] = 1;
  return rc;
}

/* Sends a write and does not wait for its answer (in a writer; a reader
 * runs it at once). */
static int exec_async(pg_txn *t, cairn__db db, int s, params *p) {
  char name[32];
  snprintf(name, sizeof name, "c%d_%d", (int)db, s);
  int rc = t->pipe_err ? t->pipe_err : prepare(t, db, s, p, name);
  if (rc)
    return rc;
  if (!t->pipe) {
    PGresult *r = PQexecPrepared(t->pc->c, name, p->n, p->v, p->len, p->fmt, 1);
    ExecStatusType st = PQresultStatus(r);
    rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
             ? 0
             : failed(t->t.j, t->pc->c, r);
    PQclear(r);
    return rc;
  }
  if (PQsendQueryPrepared(t->pc->c, name, p->n, p->v, p->len, p->fmt, 1) != 1)
    return t->pipe_err = failed(t->t.j, t->pc->c, NULL);
  t->pending++;
  return 0;
}

/* Runs statement s on db with p; a result the transaction keeps, or NULL
 * with *rc set. */
static PGresult *exec_stmt(pg_txn *t, cairn__db db, int s, params *p,
                           int *rc) {
  PGconn *c = t->pc->c;
  char name[32];
  snprintf(name, sizeof name, "c%d_%d", (int)db, s);
  if (t->pipe) {
    if ((*rc = prepare(t, db, s, p, name)) != 0)
      return NULL;
    if (PQsendQueryPrepared(c, name, p->n, p->v, p->len, p->fmt, 1) != 1) {
      *rc = failed(t->t.j, c, NULL);
      return NULL;
    }
    if (PQsendFlushRequest(c) != 1 || PQflush(c) != 0) {
      *rc = t->pipe_err = failed(t->t.j, c, NULL);
      t->pending++;
      return NULL;
    }
    /* Everything sent before it, then its own answer. */
    if ((*rc = drain(t)) != 0) {
      t->pending++; /* its answer is still to be read: abort drains it */
      return NULL;
    }
    PGresult *r = next_result(c);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      *rc = t->pipe_err = failed(t->t.j, c, r);
      PQclear(r);
      return NULL;
    }
    return keep(t, r, rc);
  }
  if ((*rc = prepare(t, db, s, p, name)) != 0)
    return NULL;
  PGresult *r = PQexecPrepared(c, name, p->n, p->v, p->len, p->fmt, 1);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    *rc = failed(t->t.j, c, r);
    PQclear(r);
    return NULL;
  }
  return keep(t, r, rc);
}

/* Keeps result r until the transaction ends. */
static PGresult *keep(pg_txn *t, PGresult *r, int *rc) {
  if (t->n_res == t->cap_res) {
    size_t cap = t->cap_res ? t->cap_res * 2 : 16;
    PGresult **res = realloc(t->res, cap * sizeof *res);
    if (res == NULL) {
      PQclear(r);
      *rc = CAIRN_ENOMEM;
      return NULL;
    }
    t->res = res;
    t->cap_res = cap;
  }
  t->res[t->n_res++] = r;
  *rc = 0;
  return r;
}

/* Runs a statement whose result nobody reads. */
static int exec_done(pg_txn *t, cairn__db db, int s, params *p,
                     int *affected) {
  int rc;
  PGresult *r = exec_stmt(t, db, s, p, &rc);
  if (r && affected)
    *affected = atoi(PQcmdTuples(r));
  if (r) {
    t->n_res--; /* the last kept: free it now */
    PQclear(r);
  }
  return rc;
}

static int simple(cairn_journal *j, PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0
                                                            : failed(j, c, r);
  PQclear(r);
  return rc;
}

/* ------------------------------------------------------------ opening */

static int setup(cairn_journal *j, PGconn *c, bool must_exist, char *errbuf,
                 size_t errlen) {
  char sql[8192];
  size_t n = 0;
  int rc;
  /* A read-only open creates nothing: the tables are there or not. */
  PGresult *r = PQexec(c, "SELECT version FROM cairn_schema_version");
  bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
  int layout = have ? atoi(PQgetvalue(r, 0, 0)) : 0;
  PQclear(r);
  if (layout > LAYOUT_VERSION) {
    cairn__fmt(errbuf, errlen, "the PostgreSQL journal at %s has table "
                               "layout %d, newer than this cairn's (%d): a "
                               "later release of cairn made it; use that "
                               "release or a later one", PJ(j)->where, layout,
               LAYOUT_VERSION);
    return CAIRN_ESCHEMA;
  }
  if (layout == LAYOUT_VERSION)
    return 0;
  if (j->read_only || must_exist) {
    cairn__fmt(errbuf, errlen, "the PostgreSQL database at %s holds no "
                               "cairn journal yet; run a command that "
                               "writes (or `cairn journal migrate --journal "
                               "URL`) to create it", PJ(j)->where);
    return CAIRN_ENOTFOUND;
  }
  n += (size_t)snprintf(sql + n, sizeof sql - n,
                        "BEGIN; SELECT pg_advisory_xact_lock(%lld); "
                        "CREATE TABLE IF NOT EXISTS cairn_schema_version "
                        "(version integer NOT NULL); "
                        "CREATE TABLE IF NOT EXISTS cairn_events (run bigint "
                        "NOT NULL, seq integer NOT NULL, event bytea NOT "
                        "NULL, PRIMARY KEY (run, seq)); ",
                        SETUP_LOCK);
  for (int d = 0; d < DB_COUNT; d++)
    if (d != DB_EVENTS)
      n += (size_t)snprintf(sql + n, sizeof sql - n,
                            "CREATE TABLE IF NOT EXISTS cairn_%s (k bytea "
                            "PRIMARY KEY, v bytea NOT NULL); ",
                            cairn__db_names[d]);
  snprintf(sql + n, sizeof sql - n,
           "DELETE FROM cairn_schema_version; INSERT INTO "
           "cairn_schema_version VALUES (%d); COMMIT",
           LAYOUT_VERSION);
  if ((rc = simple(j, c, sql)) != 0) {
    cairn__fmt(errbuf, errlen, "cannot create the journal's tables: %s",
               PJ(j)->s.detail);
    simple(j, c, "ROLLBACK");
  }
  return rc;
}

static void signal_fd(int fd) {
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof one);
  (void)n;
}

static void pg_close(cairn_journal *j) {
  if (j == NULL)
    return;
  pg_journal *pj = PJ(j);
  while (pj->pool) {
    pg_conn *pc = pj->pool;
    pj->pool = pc->next;
    PQfinish(pc->c);
    free(pc);
  }
  if (pj->listening) {
    signal_fd(pj->stop_fd);
    pthread_join(pj->listener, NULL);
    close(pj->news_fd);
    close(pj->stop_fd);
  }
  pthread_mutex_destroy(&pj->mu);
  free(pj->url);
  free(j->home);
  free(j);
}

static int pg_open(const char *url, const cairn_journal_options *o,
                   cairn_journal **out, char *errbuf, size_t errlen) {
  cairn_journal *j = cairn__calloc(1, sizeof(pg_journal));
  pg_journal *pj = PJ(j);
  if (j)
    mask_url(url, pj->where, sizeof pj->where);
  /* The home shown in messages is the URL without its password. */
  if (j == NULL || (j->home = cairn__strdup(pj->where)) == NULL ||
      (pj->url = cairn__strdup(url)) == NULL) {
    if (j)
      free(j->home);
    free(j);
    return CAIRN_ENOMEM;
  }
  pj->s.kv = &cairn__pg_kv;
  pthread_mutex_init(&pj->mu, NULL);
  snprintf(pj->id, sizeof pj->id, "%ld.%p", (long)getpid(), (void *)pj);
  j->read_only = o->read_only;
  pg_conn *pc;
  int rc = conn_get(j, &pc);
  if (rc) {
    cairn__fmt(errbuf, errlen, "%s", pj->s.detail);
    pg_close(j);
    return rc == CAIRN_ENOMEM ? rc : CAIRN_EIO;
  }
  rc = setup(j, pc->c, o->must_exist, errbuf, errlen);
  conn_put(j, pc);
  if (rc) {
    pg_close(j);
    return rc;
  }
  *out = j;
  return 0;
}

/* ------------------------------------------------------- transactions */

static int pg_begin(cairn_journal *j, int mode, cairn__txn **out) {
  pg_txn *t = cairn__calloc(1, sizeof *t);
  if (t == NULL)
    return CAIRN_ENOMEM;
  int rc = conn_get(j, &t->pc);
  if (rc) {
    free(t);
    return rc;
  }
  char sql[160];
  if (mode == KV_READ)
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  else
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock%s(%lld)",
             mode == KV_WRITE_ALONE ? "" : "_shared", WRITERS_LOCK);
  if ((rc = simple(j, t->pc->c, sql)) != 0) {
    conn_put(j, t->pc);
    free(t);
    return rc;
  }
  t->mode = mode;
  t->pipe = mode != KV_READ && PQenterPipelineMode(t->pc->c) == 1;
  t->t = (cairn__txn){&cairn__pg_kv, j, mode != KV_READ};
  *out = &t->t;
  return 0;
}

static void cache_drop(pg_txn *t, cached *e) {
  HASH_DEL(t->cache, e);
  free(e);
}

static void txn_free(pg_txn *t) {
  cached *e, *tmp;
  HASH_ITER(hh, t->cache, e, tmp)
  cache_drop(t, e);
  for (size_t i = 0; i < t->n_res; i++)
    PQclear(t->res[i]);
  free(t->res);
  for (size_t i = 0; i < t->n_absent; i++)
    free(t->absent[i].k);
  free(t->absent);
  for (size_t i = 0; i < t->n_bufs; i++)
    free(t->bufs[i]);
  free(t->bufs);
  free(t);
}

/* Ends a writer's pipeline after its sync was sent: every answer read,
 * pipeline mode left. */
static void pipe_end_synced(pg_txn *t) {
  PGconn *c = t->pc->c;
  t->pipe = false;
  for (;;) {
    PGresult *r = PQgetResult(c);
    if (r == NULL) {
      if (PQstatus(c) != CONNECTION_OK)
        break;
      continue;
    }
    bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync)
      break;
  }
  PQexitPipelineMode(c);
}

static void pipe_end(pg_txn *t) {
  if (t->pipe && PQpipelineSync(t->pc->c) == 1)
    pipe_end_synced(t);
  else if (t->pipe)
    PQexitPipelineMode(t->pc->c);
  t->pipe = false;
}

static void pg_abort(cairn__txn *tt) {
  pg_txn *t = PT(tt);
  pipe_end(t);
  conn_put(tt->j, t->pc); /* rolls back */
  txn_free(t);
}

static int pg_commit(cairn__txn *tt) {
  pg_txn *t = PT(tt);
  cairn_journal *j = tt->j;
  PGconn *c = t->pc->c;
  int rc = 0;
  PGresult *r = NULL;
  if (t->pipe) {
    /* The writes not read yet, the notification and COMMIT go in one
     * round trip; the answers come back in order. */
    const char *id = PJ(j)->id;
    if (PQsendQueryParams(c, "SELECT pg_notify('cairn_journal', $1)", 1,
                          NULL, &id, NULL, NULL, 0) != 1 ||
        PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
        PQpipelineSync(c) != 1)
      rc = failed(j, c, NULL);
    if (rc == 0)
      rc = drain_sent(t, 1); /* the writes and pg_notify */
    if (rc == 0 && (r = next_result(c)) == NULL)
      rc = failed(j, c, NULL);
    t->pending = 0;
    pipe_end_synced(t);
  } else {
    char sql[128];
    snprintf(sql, sizeof sql, "NOTIFY cairn_journal, '%s'; COMMIT",
             PJ(j)->id);
    r = PQexec(c, sql);
  }
  if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
    rc = failed(j, c, r);
  else if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0)
    rc = CAIRN__ERETRY; /* it rolled back: a write failed */
  PQclear(r);
  if (rc && rc != CAIRN__ERETRY)
    cairn__journal_set_err(j, "committing: %s", PJ(j)->s.detail);
  conn_put(j, t->pc);
  txn_free(t);
  return rc;
}

/* ------------------------------------------------------------ records */

static bool was_absent(pg_txn *t, cairn__db db, const cairn__val *k,
                       bool forget) {
  for (size_t i = 0; i < t->n_absent; i++) {
    absent_key *a = &t->absent[i];
    if (a->db == db && a->n == k->size && memcmp(a->k, k->data, a->n) == 0) {
      if (forget) {
        free(a->k);
        *a = t->absent[--t->n_absent];
      }
      return true;
    }
  }
  return false;
}

static void note_absent(pg_txn *t, cairn__db db, const cairn__val *k) {
  if (was_absent(t, db, k, false))
    return;
  if (t->n_absent == t->cap_absent) {
    size_t cap = t->cap_absent ? t->cap_absent * 2 : 8;
    absent_key *a = realloc(t->absent, cap * sizeof *a);
    if (a == NULL)
      return; /* then the put upserts: only the race guard is lost */
    t->absent = a;
    t->cap_absent = cap;
  }
  unsigned char *copy = malloc(k->size ? k->size : 1);
  if (copy == NULL)
    return;
  memcpy(copy, k->data, k->size);
  t->absent[t->n_absent++] = (absent_key){db, k->size, copy};
}

/* The cache entry of (db, k), or NULL. */
static cached *cache_find(pg_txn *t, cairn__db db, const cairn__val *k) {
  unsigned char buf[1 + 1024];
  cached *e = NULL;
  if (t->cache == NULL || k->size >= sizeof buf)
    return NULL;
  buf[0] = (unsigned char)db;
  memcpy(buf + 1, k->data, k->size);
  HASH_FIND(hh, t->cache, buf, k->size + 1, e);
  return e;
}

static void cache_add(pg_txn *t, cairn__db db, const void *k, size_t n,
                      PGresult *res, int row) {
  cairn__val kv = {n, (void *)k};
  cached *e = cache_find(t, db, &kv);
  if (e || n >= 1024 || (e = malloc(sizeof *e + n + 1)) == NULL)
    return;
  e->res = res;
  e->row = row;
  e->n = n + 1;
  e->key[0] = (unsigned char)db;
  memcpy(e->key + 1, k, n);
  HASH_ADD(hh, t->cache, key, e->n, e);
}

/* A write makes what was prefetched of that key stale. */
static void cache_forget(pg_txn *t, cairn__db db, const cairn__val *k) {
  cached *e = cache_find(t, db, k);
  if (e)
    cache_drop(t, e);
}

/* Reads the records of db at keys (locking them, in a writer) in one
 * query; the gets that follow find them in the cache. */
static int pg_prefetch(cairn__txn *tt, cairn__db db, const cairn__val *keys,
                       size_t n) {
  pg_txn *t = PT(tt);
  if (!tt->write || n == 0 || db == DB_EVENTS)
    return 0;
  /* A binary bytea[]: ndim, has-null, element type, length, lower bound,
   * then each element's length and bytes. */
  size_t len = 20;
  for (size_t i = 0; i < n; i++)
    len += 4 + keys[i].size;
  unsigned char *a = malloc(len), *q = a + 20;
  if (a == NULL)
    return CAIRN_ENOMEM;
  cairn__put_be32(a, 1);
  cairn__put_be32(a + 4, 0);
  cairn__put_be32(a + 8, OID_BYTEA);
  cairn__put_be32(a + 12, (uint32_t)n);
  cairn__put_be32(a + 16, 1);
  for (size_t i = 0; i < n; i++) {
    cairn__put_be32(q, (uint32_t)keys[i].size);
    memcpy(q + 4, keys[i].data, keys[i].size);
    q += 4 + keys[i].size;
  }
  params p = {0};
  int rc;
  add(&p, a, (int)len, OID_BYTEA_ARRAY);
  int s = db == DB_DEFS || db == DB_RUN_IDS ? S_MANY : S_MANY_LOCK;
  PGresult *r = exec_stmt(t, db, s, &p, &rc);
  free(a);
  if (r == NULL)
    return rc;
  for (int i = 0; i < PQntuples(r); i++)
    cache_add(t, db, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), r, i);
  for (size_t i = 0; i < n; i++) /* the rest is absent */
    if (cache_find(t, db, &keys[i]) == NULL)
      cache_add(t, db, keys[i].data, keys[i].size, NULL, -1);
  return 0;
}

static int pg_get(cairn__txn *tt, cairn__db db, const cairn__val *k,
                  cairn__val *v, unsigned flags) {
  pg_txn *t = PT(tt);
  cached *e = tt->write && !(flags & KV_SKIP_LOCKED) ? cache_find(t, db, k)
                                                     : NULL;
  if (e && e->row < 0) {
    note_absent(t, db, k);
    return KV_NOTFOUND;
  }
  if (e) {
    *v = (cairn__val){(size_t)PQgetlength(e->res, e->row, 1),
                      PQgetvalue(e->res, e->row, 1)};
    return 0;
  }
  params p = {0};
  int rc, s = !tt->write || db == DB_EVENTS || db == DB_DEFS ? S_GET
              : flags & KV_SKIP_LOCKED                       ? S_GET_SKIP
                                                             : S_GET_LOCK;
  add_key(&p, db, k);
  PGresult *r = exec_stmt(t, db, s, &p, &rc);
  if (r == NULL)
    return rc;
  if (PQntuples(r) == 0) {
    if (s == S_GET_SKIP) { /* held by another writer, or absent? */
      PGresult *any = exec_stmt(t, db, S_GET, &p, &rc);
      if (any == NULL)
        return rc;
      if (PQntuples(any) > 0)
        return KV_BUSY;
    }
    if (tt->write)
      note_absent(t, db, k);
    return KV_NOTFOUND;
  }
  *v = (cairn__val){(size_t)PQgetlength(r, 0, 0), PQgetvalue(r, 0, 0)};
  return 0;
}

static int pg_put(cairn__txn *tt, cairn__db db, const cairn__val *k,
                  cairn__val *v, unsigned flags) {
  pg_txn *t = PT(tt);
  cache_forget(t, db, k);
  params p = {0};
  int affected = 0;
  add_key(&p, db, k);
  add(&p, v->size ? v->data : "", (int)v->size, OID_BYTEA);
  if ((flags & KV_NOOVERWRITE) && db == DB_EVENTS && t->pipe) {
    /* An event is never overwritten, and under its run's lock never
     * there before: a plain INSERT, not waited for. If one is there (a
     * damaged journal), the unique violation fails the commit as
     * corrupt (failed()). */
    was_absent(t, db, k, true);
    return exec_async(t, db, S_INSERT, &p);
  }
  if (flags & KV_NOOVERWRITE) {
    int rc = exec_done(t, db, S_PUT_NEW, &p, &affected);
    if (rc || affected == 1) {
      was_absent(t, db, k, true);
      return rc;
    }
    rc = pg_get(tt, db, k, v, 0); /* the stored value, as LMDB lends it */
    return rc ? rc : KV_KEYEXIST;
  }
  /* A key this writer found absent must still be absent: a plain INSERT
   * fails (unique_violation, then a retry) if another writer added it. */
  int s = was_absent(t, db, k, true) ? S_INSERT : S_PUT;
  return exec_async(t, db, s, &p);
}

static int pg_del(cairn__txn *tt, cairn__db db, const cairn__val *k) {
  params p = {0};
  int affected = 0;
  add_key(&p, db, k);
  cache_forget(PT(tt), db, k);
  if (PT(tt)->pipe) /* not waited for: a missing key is no error */
    return exec_async(PT(tt), db, S_DEL, &p);
  int rc = exec_done(PT(tt), db, S_DEL, &p, &affected);
  return rc ? rc : affected ? 0 : KV_NOTFOUND;
}

static int pg_clear(cairn__txn *tt, cairn__db db) {
  params p = {0};
  cached *e, *tmp;
  HASH_ITER(hh, PT(tt)->cache, e, tmp)
  if (e->key[0] == (unsigned char)db)
    cache_drop(PT(tt), e);
  return exec_async(PT(tt), db, S_CLEAR, &p);
}

static int pg_count(cairn__txn *tt, cairn__db db, uint64_t *n) {
  params p = {0};
  int rc;
  PGresult *r = exec_stmt(PT(tt), db, S_COUNT, &p, &rc);
  *n = 0;
  if (r == NULL)
    return rc;
  if (PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 8)
    *n = cairn__get_be64((const unsigned char *)PQgetvalue(r, 0, 0));
  return 0;
}

/* ------------------------------------------------------------ cursors */

static int pg_cursor_open(cairn__txn *tt, cairn__db db, cairn__cursor **out) {
  pg_cursor *c = cairn__calloc(1, sizeof *c);
  if (c == NULL)
    return CAIRN_ENOMEM;
  c->c.kv = &cairn__pg_kv;
  c->t = PT(tt);
  c->db = db;
  c->limit = PAGE_FIRST;
  *out = &c->c;
  return 0;
}

/* Fetches the page statement s gives from key k (NULL: none). */
static int fetch(pg_cursor *c, int s, const cairn__val *k, bool back) {
  params p = {0};
  int rc;
  if (k)
    add_key(&p, c->db, k);
  add_limit(&p, c->limit);
  PGresult *r = exec_stmt(c->t, c->db, s, &p, &rc);
  if (r == NULL)
    return rc;
  c->page_limit = c->limit;
  if (c->limit < PAGE_MAX)
    c->limit *= 2;
  int rows = PQntuples(r);
  if (c->db == DB_EVENTS && rows > 0) {
    /* The keys live as long as the transaction's results do: kept in a
     * result-sized buffer freed with the cursor's transaction. */
    pg_txn *t = c->t;
    unsigned char *keys = malloc((size_t)rows * 12);
    if (keys && t->n_bufs == t->cap_bufs) {
      size_t cap = t->cap_bufs ? t->cap_bufs * 2 : 8;
      void **b = realloc(t->bufs, cap * sizeof *b);
      if (b == NULL) {
        free(keys);
        keys = NULL;
      } else {
        t->bufs = b;
        t->cap_bufs = cap;
      }
    }
    if (keys == NULL)
      return CAIRN_ENOMEM;
    t->bufs[t->n_bufs++] = keys;
    for (int i = 0; i < rows; i++) {
      memcpy(keys + i * 12, PQgetvalue(r, i, 0), 8);
      memcpy(keys + i * 12 + 8, PQgetvalue(r, i, 1), 4);
    }
    c->keys = keys;
  }
  if (rows == 0)
    return KV_NOTFOUND;
  c->page = r;
  c->rows = rows;
  c->row = 0;
  c->back = back;
  c->positioned = true;
  return 0;
}

static void current(pg_cursor *c, cairn__val *k, cairn__val *v) {
  int vcol = c->db == DB_EVENTS ? 2 : 1;
  if (c->db == DB_EVENTS)
    *k = (cairn__val){12, c->keys + c->row * 12};
  else
    *k = (cairn__val){(size_t)PQgetlength(c->page, c->row, 0),
                      PQgetvalue(c->page, c->row, 0)};
  *v = (cairn__val){(size_t)PQgetlength(c->page, c->row, vcol),
                    PQgetvalue(c->page, c->row, vcol)};
  c->cur = *k;
}

static int pg_cursor_get(cairn__cursor *cc, cairn__val *k, cairn__val *v,
                         int op) {
  pg_cursor *c = (pg_cursor *)cc;
  int rc;
  cairn__val none = {0, ""};
  if ((op == KV_NEXT || op == KV_PREV) && !c->positioned)
    op = op == KV_NEXT ? KV_FIRST : KV_LAST;
  switch (op) {
  case KV_FIRST:
    c->limit = PAGE_FIRST;
    rc = fetch(c, S_FROM, &none, false);
    break;
  case KV_LAST:
    c->limit = PAGE_FIRST;
    rc = fetch(c, S_LAST, NULL, true);
    break;
  case KV_SET_RANGE:
    c->limit = PAGE_FIRST;
    rc = fetch(c, S_FROM, k, false);
    break;
  case KV_NEXT:
  case KV_PREV: {
    bool back = op == KV_PREV;
    if (c->page && c->back == back && c->row + 1 < c->rows) {
      c->row++;
      rc = 0;
    } else if (c->page && c->back == back && c->rows < c->page_limit) {
      rc = KV_NOTFOUND; /* that page was the last one */
    } else {
      cairn__val from = c->cur; /* lives as long as the transaction */
      rc = fetch(c, back ? S_BEFORE : S_AFTER, &from, back);
    }
    break;
  }
  default:
    return KV_NOTFOUND;
  }
  if (rc == 0)
    current(c, k, v);
  return rc;
}

static int pg_cursor_del(cairn__cursor *cc) {
  pg_cursor *c = (pg_cursor *)cc;
  params p = {0};
  add_key(&p, c->db, &c->cur);
  cache_forget(c->t, c->db, &c->cur);
  return exec_async(c->t, c->db, S_DEL, &p);
}

static void pg_cursor_close(cairn__cursor *cc) { free(cc); }

static void pg_space(cairn__txn *tt, cairn_journal_stats *out) {
  pg_txn *t = PT(tt);
  PGresult *r = PQexec(t->pc->c, "SELECT pg_database_size(current_database())"
                                 ", (SELECT coalesce(sum(pg_total_relation_"
                                 "size(c.oid)), 0) FROM pg_class c WHERE "
                                 "c.relname LIKE 'cairn\\_%' AND c.relkind = "
                                 "'r')");
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
    out->file_bytes = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    out->used_bytes = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    out->map_bytes = 0; /* no map: PostgreSQL grows its files itself */
  }
  PQclear(r);
}

/* ------------------------------------------------------------ watching */

/* The listener: LISTEN, wait for notifications or the stop, reconnect
 * when the server goes away. */
static void *listen_thread(void *arg) {
  pg_journal *pj = arg;
  int backoff_ms = 100;
  PGconn *c = pj->first_listen;
  for (;;) {
    if (c == NULL) {
      PGconn *bad;
      c = open_conn(pj->url, "LISTEN cairn_journal", &bad);
      PQfinish(bad);
      if (c) { /* what happened while not listening is news */
        pj->foreign = true;
        signal_fd(pj->news_fd);
      }
    }
    if (c) {
      backoff_ms = 100;
      for (;;) {
        struct pollfd fds[2] = {{PQsocket(c), POLLIN, 0},
                                {pj->stop_fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0)
          continue;
        if (fds[1].revents) {
          PQfinish(c);
          return NULL;
        }
        if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK)
          break; /* lost: reconnect */
        bool any = false;
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
          if (strcmp(n->extra, pj->id) != 0)
            pj->foreign = true;
          any = true;
          PQfreemem(n);
        }
        if (any) /* every commit wakes; only others' are news */
          signal_fd(pj->news_fd);
      }
    }
    PQfinish(c);
    c = NULL;
    struct pollfd stop = {pj->stop_fd, POLLIN, 0};
    if (poll(&stop, 1, backoff_ms) > 0)
      return NULL;
    backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 5000;
  }
}

static int pg_watch(cairn_journal *j) {
  pg_journal *pj = PJ(j);
  if (pj->listening)
    return pj->news_fd;
  /* Listening before this returns: a commit right after is heard. */
  PGconn *bad;
  pj->first_listen = open_conn(pj->url, "LISTEN cairn_journal", &bad);
  if (pj->first_listen == NULL) {
    cairn__journal_set_err(j, "cannot listen for commits: %s; polling "
                              "instead", bad ? PQerrorMessage(bad) : "");
    PQfinish(bad);
    return -1;
  }
  pj->news_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pj->stop_fd = eventfd(0, EFD_CLOEXEC);
  if (pj->news_fd < 0 || pj->stop_fd < 0 ||
      pthread_create(&pj->listener, NULL, listen_thread, pj) != 0) {
    cairn__journal_set_err(j, "cannot listen for commits; polling instead");
    if (pj->news_fd >= 0)
      close(pj->news_fd);
    if (pj->stop_fd >= 0)
      close(pj->stop_fd);
    PQfinish(pj->first_listen);
    return -1;
  }
  pj->listening = true;
  return pj->news_fd;
}

static bool pg_watch_reset(cairn_journal *j) {
  pg_journal *pj = PJ(j);
  uint64_t n = 0;
  if (!pj->listening)
    return true;
  ssize_t got = read(pj->news_fd, &n, sizeof n); /* drained: count reset */
  (void)got;
  return atomic_exchange(&pj->foreign, false);
}

const cairn__kv_ops cairn__pg_kv = {
    .name = "postgresql",
    .flag = "--journal",
    .owns = owns,
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .abort = pg_abort,
    .get = pg_get,
    .put = pg_put,
    .del = pg_del,
    .clear = pg_clear,
    .count = pg_count,
    .cursor_open = pg_cursor_open,
    .cursor_get = pg_cursor_get,
    .cursor_del = pg_cursor_del,
    .cursor_close = pg_cursor_close,
    .prefetch = pg_prefetch,
    .grow = NULL,
    .space = pg_space,
    .watch = pg_watch,
    .watch_reset = pg_watch_reset,
};
