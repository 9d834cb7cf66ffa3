/*
 * test_durability.c — a writer killed with SIGKILL while it appends loses
 * no batch it committed and leaves no part of one.
 *
 * Design. The journal_writer helper (tests/helpers/journal_writer.c)
 * commits batches of 1..50 events, some touching several runs, some
 * creating a run and appending to it at once, and prints one line per
 * commit. The test starts it on a journal, reads its lines through a
 * pipe, kills it at a random moment (0..150 ms after it opened the
 * journal; the seed is printed and CAIRN_TEST_SEED replays it), then
 * reopens the journal and checks it against the lines (jw_check). All
 * rounds share one journal, so each writer starts on what the killed ones
 * left, their runs still running, and every check covers every earlier
 * round too.
 *
 * A killed writer beside a live one may die holding LMDB's writer lock
 * (a robust mutex on Linux); the live writer must take it over and
 * finish every batch.
 *
 * A commit can return and the writer die before it prints. The check
 * therefore accepts, after a killed writer's last report, exactly one
 * unreported batch, and only whole: the writer's events say which batch
 * and operation they belong to, so a part of a batch cannot pass.
 *
 * SIGKILL is the crash a process cannot soften: no handler, no atexit, no
 * flush. A machine crash (losing the page cache) cannot be staged here;
 * synced LMDB commits are what covers it.
 */
#define JW_TEST_SIDE 1
#include "test.h"

#include "helpers/journal_writer.c"

/* Kills per test: enough to land in many phases of a commit while the
 * whole test stays well under a minute. */
#define ROUNDS 40
#define MAX_DELAY_MS 150

/* Starts writer `w` on `home` with a seed drawn from *seed. */
static void start_writer(jw_writer *w, const char *home, unsigned *seed,
                         const char *const *more) {
  char s[16];
  const char *args[2 * JW_MAX_FOREIGN + 8] = {"--seed", s};
  size_t n = 2;
  snprintf(s, sizeof s, "%d", rand_r(seed));
  for (size_t i = 0; more && more[i]; i++) {
    CHECK(n + 1 < sizeof args / sizeof args[0], "The options fit.");
    args[n++] = more[i];
  }
  args[n] = NULL;
  jw_spawn(w, home, args);
  jw_wait_ready(w);
}

TEST(sigkill_during_appends_loses_no_committed_batch) {
  static jw_writer ws[ROUNDS];
  jw_writer *all[ROUNDS];
  jw_check_stats st = {0};
  unsigned seed = jw_seed(), lost = 0;
  size_t reported = 0;
  char *home = test_tmpdir();
  for (int i = 0; i < ROUNDS; i++) {
    char tag[16];
    const char *opts[5];
    size_t n = 0;
    snprintf(tag, sizeof tag, "k%d", i);
    /* Every other writer pauses between commit and report, so that some
     * kills find a batch committed and not yet reported. */
    if (i % 2) {
      opts[n++] = "--report-lag-us";
      opts[n++] = "2000";
    }
    /* Every fourth pads events past a page (overflow pages) and asks for
     * a tiny map, so that kills land while the map grows. */
    if (i % 4 == 3) {
      opts[n++] = "--map";
      opts[n++] = "65536";
    }
    opts[n] = NULL;
    jw_writer_init(&ws[i], tag, i % 4 == 3 ? 3000 : 100);
    all[i] = &ws[i];
    start_writer(&ws[i], home, &seed, opts);
    jw_pump(&all[i], 1, jw_now_ms() + rand_r(&seed) % (MAX_DELAY_MS + 1));
    jw_kill(&ws[i]);
    jw_check(home, 0, all, (size_t)i + 1, &st);
    lost += ws[i].lost;
    reported += ws[i].n_rep;
  }
  printf("%d kills: %zu batches reported, %u committed but unreported; "
         "%llu runs, %llu events\n", ROUNDS, reported, lost,
         (unsigned long long)st.runs, (unsigned long long)st.events);
  CHECK(reported >= ROUNDS, "The writers committed batches before they "
                            "were killed.");
  for (int i = 0; i < ROUNDS; i++)
    jw_writer_free(&ws[i]);
  test_rmdir_free(home);
}

TEST(sigkill_of_one_writer_leaves_another_appending) {
  static jw_writer ws[ROUNDS + 1];
  jw_writer *all[ROUNDS + 1], *pair[2];
  jw_writer *survivor = &ws[0];
  jw_check_stats st;
  const char *const more[] = {"--batches", "1500", NULL};
  unsigned seed = jw_seed();
  int kills = 0;
  char *home = test_tmpdir();
  jw_writer_init(survivor, "survivor", 100);
  all[0] = pair[0] = survivor;
  start_writer(survivor, home, &seed, more);
  /* Kill one writer after another beside the survivor, some while they
   * hold LMDB's writer lock, which the survivor must then take over. */
  while (!survivor->eof && kills < ROUNDS) {
    jw_writer *w = &ws[++kills];
    char tag[16];
    snprintf(tag, sizeof tag, "v%d", kills);
    jw_writer_init(w, tag, 100);
    all[kills] = pair[1] = w;
    start_writer(w, home, &seed, NULL);
    jw_pump(pair, 2, jw_now_ms() + rand_r(&seed) % (MAX_DELAY_MS / 3 + 1));
    jw_kill(w);
  }
  jw_finish(survivor);
  CHECK_EQ(survivor->n_rep, 1500, "The survivor committed all its "
                                  "batches.");
  CHECK(kills >= 5, "Writers were killed while the survivor appended.");
  jw_check(home, 0, all, (size_t)kills + 1, &st);
  printf("%d writers killed beside the survivor; %llu events\n", kills,
         (unsigned long long)st.events);
  for (int i = 0; i <= kills; i++)
    jw_writer_free(&ws[i]);
  test_rmdir_free(home);
}

/* Ids of up to `cap` runs still running in the journal at `home`. */
static size_t running_runs(const char *home,
                           char ids[][CAIRN_RUN_ID_LEN + 1], size_t cap) {
  cairn_journal *j = NULL;
  cairn_reader *r = NULL;
  cairn_run_info runs[JW_MAX_FOREIGN];
  cairn_run_filter f = {.status = CAIRN_RUN_RUNNING};
  size_t n = 0;
  CHECK_OK(cairn_journal_open(home, NULL, &j, NULL, 0), NULL);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_runs(r, &f, runs, cap, &n), j);
  for (size_t i = 0; i < n; i++)
    memcpy(ids[i], runs[i].run_id, CAIRN_RUN_ID_LEN + 1);
  cairn_reader_end(r);
  cairn_journal_close(j);
  return n;
}

TEST(reopen_after_kill_allows_appending_again) {
  jw_writer killed, next, *both[2] = {&killed, &next};
  jw_writer *kp = &killed;
  jw_check_stats st;
  char ids[JW_MAX_FOREIGN][CAIRN_RUN_ID_LEN + 1];
  const char *more[2 * JW_MAX_FOREIGN + 3] = {"--batches", "200"};
  unsigned seed = jw_seed();
  char *home = test_tmpdir();
  jw_writer_init(&killed, "killed", 100);
  jw_writer_init(&next, "next", 100);

  /* Kill the first writer in the middle of its stream of commits. */
  start_writer(&killed, home, &seed, NULL);
  int64_t until = jw_now_ms() + 20000;
  while (killed.n_rep < 20 && !killed.eof && jw_now_ms() < until)
    jw_pump(&kp, 1, jw_now_ms() + 5);
  jw_kill(&killed);
  CHECK(killed.n_rep >= 20, "The first writer committed 20 batches "
                            "before it was killed.");
  jw_check(home, 0, both, 1, &st);

  /* A new writer continues the runs the killed one left running. */
  size_t n = running_runs(home, ids, JW_MAX_FOREIGN), m = 2;
  CHECK(n > 0, "The killed writer left runs running.");
  for (size_t i = 0; i < n; i++) {
    more[m++] = "--append-to";
    more[m++] = ids[i];
  }
  start_writer(&next, home, &seed, more);
  jw_finish(&next);
  CHECK_EQ(next.n_rep, 200, "The new writer committed all its batches.");
  jw_check(home, 0, both, 2, &st);

  size_t adopted = 0;
  for (size_t b = 0; b < next.n_rep; b++)
    for (int k = 0; k < next.rep[b].n_ops; k++)
      for (size_t i = 0; i < n; i++) /* run ids: CAIRN_RUN_ID_LEN chars */
        adopted += memcmp(next.rep[b].ops[k].run_id, ids[i],
                          CAIRN_RUN_ID_LEN) == 0;
  CHECK(adopted > 0, "The new writer appended to runs the killed one "
                     "left running.");
  jw_writer_free(&killed);
  jw_writer_free(&next);
  test_rmdir_free(home);
}
