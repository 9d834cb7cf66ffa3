/*
 * test.h — the test harness: one behaviour per test, named after it.
 *
 *   TEST(append_assigns_contiguous_seqs) { ... CHECK(...); }
 *
 * Each test binary links tests/test_main.c. CMake reads the TEST(...)
 * lines of each source and registers every test with CTest as its own
 * process (`binary NAME`), so a crash or hang fails one test only.
 * Checks print the expression, the values and a sentence, then abort the
 * test with exit status 1.
 */
#ifndef CAIRN_TEST_H
#define CAIRN_TEST_H

#include <cairn/cairn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test__register(const char *name, test_fn fn);

#define TEST(name)                                                       \
  static void test_##name(void);                                         \
  __attribute__((constructor)) static void test__reg_##name(void) {      \
    test__register(#name, test_##name);                                  \
  }                                                                      \
  static void test_##name(void)

#define FAIL(...)                                                        \
  do {                                                                   \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                      \
    fprintf(stderr, __VA_ARGS__);                                        \
    fputc('\n', stderr);                                                 \
    exit(1);                                                             \
  } while (0)

#define CHECK(cond, why)                                                 \
  do {                                                                   \
    if (!(cond))                                                         \
      FAIL("CHECK(%s) failed: %s", #cond, why);                           \
  } while (0)

#define CHECK_EQ(a, b, why)                                              \
  do {                                                                   \
    long long _a = (long long)(a), _b = (long long)(b);                  \
    if (_a != _b)                                                        \
      FAIL("%s == %s failed: %lld != %lld: %s", #a, #b, _a, _b, why);     \
  } while (0)

#define CHECK_STR(a, b, why)                                             \
  do {                                                                   \
    const char *_a = (a), *_b = (b);                                     \
    if (!_a || !_b || strcmp(_a, _b) != 0)                               \
      FAIL("%s == %s failed: \"%s\" != \"%s\": %s", #a, #b,              \
           _a ? _a : "(null)", _b ? _b : "(null)", why);                 \
  } while (0)

/* A cairn call that must succeed; prints the code's name and, when a
 * journal is at hand, its errmsg. */
#define CHECK_OK(call, j)                                                \
  do {                                                                   \
    int _rc = (call);                                                    \
    if (_rc != 0)                                                        \
      FAIL("%s returned %s: %s", #call, cairn_err_name(_rc),             \
           (j) ? cairn_journal_errmsg(j) : "");                          \
  } while (0)

#define CHECK_ERR(call, want, why)                                       \
  do {                                                                   \
    int _rc = (call);                                                    \
    if (_rc != (want))                                                   \
      FAIL("%s returned %s, want %s: %s", #call, cairn_err_name(_rc),    \
           cairn_err_name(want), why);                                   \
  } while (0)

/* A fresh temporary directory (removed by test_rmdir). */
char *test_tmpdir(void);
void test_rmdir(const char *path);
/* test_rmdir, then free(path): the end of a test's temporary home. */
void test_rmdir_free(char *path);

/* Where a test keeps the journal of its temporary home `home`: the
 * directory itself (LMDB), or, when $CAIRN_TEST_PG names the state folder
 * of tests/pg/pg.sh's server, a PostgreSQL database of that home's own
 * (created empty at the first call; the same one after). The contract
 * tests run both ways (ctest labels unit and pg). */
const char *test_journal_at(const char *home);
/* Whether the journals of this run are in PostgreSQL. */
bool test_on_pg(void);
/* Ends a test that reads or damages LMDB's files itself as skipped (exit
 * 77, ctest's SKIP_RETURN_CODE) when the journals are in PostgreSQL. */
void test_lmdb_only(void);

/* Damage for verify's tests, under the journal's feet: puts (or, with
 * val NULL, deletes) one raw record of database `db` ("events", "views",
 * ...), or empties `db`, in the journal of `home` (LMDB or PostgreSQL). */
void test_raw_put(const char *home, const char *db, const void *key,
                  size_t kn, const void *val, size_t vn);
void test_raw_clear(const char *home, const char *db);

/* `s` with every ' turned into ", in a static buffer: JSON written in C
 * strings without escapes ("{'name': 'w'}"). Valid until the next call. */
const char *J(const char *s);

/* Compares a cairn_str with a C string. */
static inline int test_str_is(cairn_str s, const char *c) {
  return s.ptr && strlen(c) == s.len && memcmp(s.ptr, c, s.len) == 0;
}

#endif
