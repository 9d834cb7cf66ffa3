/* test_main.c — runs one named test (as CTest does) or, with no argument,
 * every test of the binary in turn. `--list` prints the names. */
#define _XOPEN_SOURCE 700
#include "test.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <lmdb.h>
#include <unistd.h>

#define MAX_TESTS 256

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int n_tests;

void test__register(const char *name, test_fn fn) {
  if (n_tests == MAX_TESTS) {
    fprintf(stderr, "too many tests in one binary\n");
    exit(2);
  }
  tests[n_tests].name = name;
  tests[n_tests].fn = fn;
  n_tests++;
}

char *test_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char *path = malloc(4096);
  snprintf(path, 4096, "%s/cairn-test-XXXXXX", base ? base : "/tmp");
  if (path == NULL || mkdtemp(path) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  return path;
}

bool test_on_pg(void) {
  const char *s = getenv("CAIRN_TEST_PG");
  return s && *s;
}

void test_lmdb_only(void) {
  if (!test_on_pg())
    return;
  printf("skipped: this test reads LMDB's files itself\n");
  exit(77);
}

/* The server's URL (postgresql://...:PORT/postgres) from pg.sh's state. */
static void pg_server_url(char *url, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/url", getenv("CAIRN_TEST_PG"));
  FILE *f = fopen(path, "r");
  if (f == NULL || fgets(url, (int)len, f) == NULL)
    FAIL("no PostgreSQL server for the tests: %s (start it with "
         "tests/pg/pg.sh start)", path);
  fclose(f);
  url[strcspn(url, "\n")] = '\0';
}

const char *test_journal_at(const char *home) {
  static char urls[16][640];
  static char homes[16][4096];
  static int n;
  if (!test_on_pg())
    return home;
  for (int i = 0; i < n; i++)
    if (strcmp(homes[i], home) == 0)
      return urls[i];
  if (n == 16)
    FAIL("more than 16 journals in one test");
  /* The database is named after the home's unique folder name. */
  const char *base = strrchr(home, '/');
  char db[64], sql[200], server[512];
  snprintf(db, sizeof db, "t_%s", base ? base + 1 : home);
  for (char *p = db; *p; p++)
    *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32)
         : ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) ? *p
                                                                  : '_';
  pg_server_url(server, sizeof server);
  PGconn *c = PQconnectdb(server);
  if (PQstatus(c) != CONNECTION_OK)
    FAIL("cannot reach the tests' PostgreSQL at %s: %s", server,
         PQerrorMessage(c));
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    FAIL("cannot create database %s: %s", db, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  char *slash = strrchr(server, '/');
  if (slash)
    *slash = '\0';
  snprintf(homes[n], sizeof homes[n], "%s", home);
  snprintf(urls[n], sizeof urls[n], "%s/%s", server, db);
  return urls[n++];
}

/* Runs one statement on the journal database of `home`. */
static void pg_raw(const char *home, const char *sql, int n,
                   const char *const *vals, const int *lens) {
  int fmts[3] = {1, 1, 1};
  PGconn *c = PQconnectdb(test_journal_at(home));
  PGresult *r = PQexecParams(c, sql, n, NULL, vals, lens, fmts, 0);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    FAIL("raw %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
}

/* The LMDB journal of `home` opened raw, a write transaction begun, and
 * database `db` of it. */
static MDB_dbi raw_lmdb(const char *home, const char *db, MDB_env **env,
                        MDB_txn **txn) {
  MDB_dbi dbi;
  mdb_env_create(env);
  mdb_env_set_maxdbs(*env, 32);
  CHECK_EQ(mdb_env_open(*env, home, 0, 0644), 0, "raw open");
  mdb_txn_begin(*env, NULL, 0, txn);
  CHECK_EQ(mdb_dbi_open(*txn, db, 0, &dbi), 0, "the database exists");
  return dbi;
}

void test_raw_put(const char *home, const char *db, const void *key,
                  size_t kn, const void *val, size_t vn) {
  if (test_on_pg()) {
    char sql[300];
    const char *v[3];
    int len[3];
    bool ev = strcmp(db, "events") == 0;
    if (ev) { /* (run, seq): the key's two numbers, as binary int8, int4 */
      v[0] = key, len[0] = 8, v[1] = (const char *)key + 8, len[1] = 4;
      v[2] = val, len[2] = (int)vn;
    } else {
      v[0] = key, len[0] = (int)kn, v[1] = val, len[1] = (int)vn;
    }
    if (val && ev)
      snprintf(sql, sizeof sql, "INSERT INTO cairn_events VALUES ($1::int8, "
               "$2::int4, $3::bytea) ON CONFLICT (run, seq) DO UPDATE SET "
               "event = EXCLUDED.event");
    else if (val)
      snprintf(sql, sizeof sql, "INSERT INTO cairn_%s VALUES ($1::bytea, "
               "$2::bytea) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", db);
    else if (ev)
      snprintf(sql, sizeof sql, "DELETE FROM cairn_events WHERE run = "
               "$1::int8 AND seq = $2::int4");
    else
      snprintf(sql, sizeof sql, "DELETE FROM cairn_%s WHERE k = $1::bytea",
               db);
    pg_raw(home, sql, ev ? (val ? 3 : 2) : (val ? 2 : 1), v, len);
    return;
  }
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi = raw_lmdb(home, db, &env, &txn);
  MDB_val k = {kn, (void *)key}, v = {vn, (void *)val};
  int rc = val ? mdb_put(txn, dbi, &k, &v, 0) : mdb_del(txn, dbi, &k, NULL);
  CHECK_EQ(rc, 0, "raw write");
  CHECK_EQ(mdb_txn_commit(txn), 0, "raw commit");
  mdb_env_close(env);
}

void test_raw_clear(const char *home, const char *db) {
  if (test_on_pg()) {
    char sql[100];
    snprintf(sql, sizeof sql, "DELETE FROM cairn_%s", db);
    pg_raw(home, sql, 0, NULL, NULL);
    return;
  }
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi = raw_lmdb(home, db, &env, &txn);
  CHECK_EQ(mdb_drop(txn, dbi, 0), 0, "emptied");
  CHECK_EQ(mdb_txn_commit(txn), 0, "raw commit");
  mdb_env_close(env);
}

const char *J(const char *s) {
  static char buf[8192];
  size_t n = strlen(s);
  if (n >= sizeof buf)
    FAIL("test document too long");
  for (size_t i = 0; i <= n; i++)
    buf[i] = s[i] == '\'' ? '"' : s[i];
  return buf;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

void test_rmdir(const char *path) {
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--list") == 0) {
    for (int i = 0; i < n_tests; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  for (int i = 0; i < n_tests; i++) {
    if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
      continue;
    tests[i].fn();
    printf("ok %s\n", tests[i].name);
    if (argc > 1)
      return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
  }
  return 0;
}

void test_rmdir_free(char *path) {
  test_rmdir(path);
  free(path);
}
