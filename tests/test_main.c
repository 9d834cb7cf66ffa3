/* test_main.c — runs one named test (as CTest does) or, with no argument,
 * every test of the binary in turn. `--list` prints the names. */
#define _XOPEN_SOURCE 700
#include "test.h"

#include <ftw.h>
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
