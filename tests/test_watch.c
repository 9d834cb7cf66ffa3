/*
 * test_watch.c — the journal's change notification (cairn_journal_watch):
 * the descriptor wakes after a commit, and watch_reset tells another
 * process's commit (news: a worker should look) from this handle's own
 * (no news: a busy worker is not woken by its own work).
 */
#include "test.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

static const char def[] = "{\"name\":\"w\",\"steps\":[{\"name\":\"a\","
                          "\"kind\":\"sleep\",\"with\":{\"duration_ms\":1}}]}";

/* One committed transaction: a definition registered as `name`. */
static void commit_one(cairn_journal *j, const char *name) {
  cairn_batch *b;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK(cairn_batch_put_definition(b, NULL, name, def, strlen(def), hash) >=
            0,
        cairn_journal_errmsg(j));
  CHECK(cairn_batch_commit(b) >= 0, cairn_journal_errmsg(j));
  cairn_batch_free(b);
}

static bool readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 2000) == 1 && (p.revents & POLLIN);
}

TEST(a_watch_tells_another_processs_commit_from_its_own) {
  char *home = test_tmpdir();
  cairn_journal *j;
  char err[512] = "";
  CHECK_OK(cairn_journal_open(test_journal_at(home), NULL, &j, err, sizeof err), NULL);
  int fd = cairn_journal_watch(j);
  CHECK(fd >= 0, cairn_journal_errmsg(j));
  CHECK_EQ(cairn_journal_watch(j), fd, "the same descriptor every time");
  CHECK(!cairn_journal_watch_reset(j), "nothing committed yet: no news");

  commit_one(j, "mine");
  CHECK(readable(fd), "the descriptor wakes after this handle's commit");
  CHECK(!cairn_journal_watch_reset(j), "but its own commit is no news");
  commit_one(j, "mine2");
  commit_one(j, "mine3");
  CHECK(!cairn_journal_watch_reset(j), "nor are several of its own");

  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) { /* another process, with a journal handle of its own */
    cairn_journal *o;
    if (cairn_journal_open(test_journal_at(home), NULL, &o, err, sizeof err) != 0)
      _exit(2);
    commit_one(o, "theirs");
    cairn_journal_close(o);
    _exit(0);
  }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
            WEXITSTATUS(st) == 0,
        "the other process committed");
  CHECK(readable(fd), "the descriptor wakes after the other's commit");
  commit_one(j, "mine4"); /* an own commit after theirs hides nothing */
  CHECK(cairn_journal_watch_reset(j), "the other process's commit is news");
  CHECK(!cairn_journal_watch_reset(j), "and it is told once");
  cairn_journal_close(j);
  test_rmdir_free(home);
}
