/*
 * test_concurrency.c — processes appending to one journal at once lose
 * and reorder nothing, and the map grows under them when it fills.
 *
 * Design. Two journal_writer processes (tests/helpers/journal_writer.c)
 * start with --wait-go and are released together, so their commits
 * overlap in time. Each appends to runs of its own and to one run the
 * test created beforehand, with step names of its own so the shared
 * history obeys the lifecycle. LMDB's writer lock serializes their
 * transactions and the journal numbers events inside it; jw_check then
 * compares the journal with both writers' reports: every reported event
 * once, at the seq reported, each writer's appends in its order.
 *
 * Map growth. With a 64 KiB first map both writers hit a full map again
 * and again: one grows its map and redoes its transaction, the other
 * learns the new size at its next transaction (MDB_MAP_RESIZED). Both
 * must finish every batch. The in-process variant starts at 32 KiB.
 * A process that opens the journal while another grows it past the map
 * it asked for meets MDB_MAP_RESIZED at its very first transaction, and
 * must adopt the new size there too.
 *
 * Processes, not threads and not fork() after opening: an LMDB
 * environment must not cross fork, and a process opens a journal once.
 */
#define JW_TEST_SIDE 1
#include "test.h"

#include "helpers/journal_writer.c"

#define MIB ((uint64_t)1 << 20)

/* Creates, in the journal at `home`, the run both writers append to; it
 * is reported as batch 1 of writer `s` so the check accounts for it. */
static void create_shared_run(const char *home, jw_writer *s,
                              char id[CAIRN_RUN_ID_LEN + 1]) {
  jw_opdesc d = {.batch = 1, .op = 0, .n_ops = 1, .kind = 'c', .n = 1};
  char ids[1][CAIRN_RUN_ID_LEN + 1] = {""};
  cairn_journal *j = NULL;
  snprintf(d.tag, sizeof d.tag, "%s", s->tag);
  CHECK_OK(cairn_journal_open(home, NULL, &j, NULL, 0), NULL);
  CHECK_OK(jw_commit(j, &d, 1, ids, jw_report_to, s), j);
  cairn_journal_close(j);
  memcpy(id, ids[0], CAIRN_RUN_ID_LEN + 1);
}

/* Starts writers a and b with the options `more`, releases them at once
 * and waits until both have finished with status 0. */
static void run_pair(const char *home, jw_writer *a, jw_writer *b,
                     const char *const *more) {
  jw_writer *both[2] = {a, b};
  char seed[2][16];
  unsigned s = jw_seed();
  for (int k = 0; k < 2; k++) {
    const char *args[16] = {"--wait-go", "--seed", seed[k]};
    size_t n = 3;
    snprintf(seed[k], sizeof seed[k], "%u", s + (unsigned)k);
    for (size_t i = 0; more[i]; i++) {
      CHECK(n + 1 < sizeof args / sizeof args[0], "The options fit.");
      args[n++] = more[i];
    }
    args[n] = NULL;
    jw_spawn(both[k], home, args);
  }
  jw_wait_ready(a);
  jw_wait_ready(b);
  CHECK(write(a->in, "g", 1) == 1 && write(b->in, "g", 1) == 1,
        "Both writers can be released.");
  jw_pump(both, 2, jw_now_ms() + 120000);
  jw_finish(a);
  jw_finish(b);
}

/* How often the owner of consecutive operations in run `id` changes
 * between writers a and b. */
static unsigned count_switches(const jw_writer *a, const jw_writer *b,
                               const char *id) {
  static char owner[1u << 20];
  const jw_writer *w[2] = {a, b};
  uint32_t max = 0;
  unsigned switches = 0;
  char last = 0;
  memset(owner, 0, sizeof owner);
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < w[k]->n_rep; i++)
      for (int o = 0; o < w[k]->rep[i].n_ops; o++) {
        const jw_op_report *r = &w[k]->rep[i].ops[o];
        if (strcmp(r->run_id, id) != 0 || r->first_seq >= sizeof owner)
          continue;
        owner[r->first_seq] = (char)('a' + k);
        max = r->first_seq > max ? r->first_seq : max;
      }
  for (uint32_t seq = 1; seq <= max; seq++) {
    if (owner[seq] == 0)
      continue;
    switches += last && owner[seq] != last;
    last = owner[seq];
  }
  return switches;
}

TEST(two_processes_appending_lose_and_reorder_nothing) {
  jw_writer s, a, b, *all[3] = {&s, &a, &b};
  jw_check_stats st;
  char shared[CAIRN_RUN_ID_LEN + 1];
  char *home = test_tmpdir();
  jw_writer_init(&s, "S", 0);
  jw_writer_init(&a, "A", 100);
  jw_writer_init(&b, "B", 100);
  create_shared_run(home, &s, shared);
  const char *more[] = {"--batches", "300", "--append-to", shared, NULL};
  run_pair(home, &a, &b, more);
  CHECK_EQ(a.n_rep, 300, "Writer A reported every batch.");
  CHECK_EQ(b.n_rep, 300, "Writer B reported every batch.");
  jw_check(home, 0, all, 3, &st);
  unsigned switches = count_switches(&a, &b, shared);
  printf("%llu runs, %llu events; the shared run changed hands %u "
         "times\n", (unsigned long long)st.runs,
         (unsigned long long)st.events, switches);
  CHECK(switches >= 2, "The two writers' appends to the shared run "
                       "interleave (else the test proved little).");
  jw_writer_free(&s);
  jw_writer_free(&a);
  jw_writer_free(&b);
  test_rmdir_free(home);
}

TEST(map_grows_when_full_with_two_processes) {
  jw_writer a, b, *all[2] = {&a, &b};
  jw_check_stats st;
  cairn_journal_options o = {.initial_map_bytes = 64 << 10};
  cairn_journal *j = NULL;
  cairn_journal_stats js;
  char *home = test_tmpdir();
  jw_writer_init(&a, "A", 3000);
  jw_writer_init(&b, "B", 3000);
  /* The journal is made with the tiny map; the writers ask for it too. */
  CHECK_OK(cairn_journal_open(home, &o, &j, NULL, 0), NULL);
  cairn_journal_close(j);
  const char *more[] = {"--batches", "120", "--map", "65536", NULL};
  run_pair(home, &a, &b, more);
  CHECK(a.map_bytes > 64 << 10 && b.map_bytes > 64 << 10,
        "Each writer's map grew past 64 KiB.");
  jw_check(home, 64 << 10, all, 2, &st);
  CHECK_OK(cairn_journal_open(home, &o, &j, NULL, 0), NULL);
  CHECK_OK(cairn_journal_stats_get(j, &js), j);
  cairn_journal_close(j);
  printf("map %llu bytes, %llu in use, %llu events\n",
         (unsigned long long)js.map_bytes, (unsigned long long)js.used_bytes,
         (unsigned long long)st.events);
  CHECK(js.used_bytes >= 4 * MIB, "The writers filled several MiB.");
  CHECK(js.map_bytes >= js.used_bytes, "The map holds the data.");
  jw_writer_free(&a);
  jw_writer_free(&b);
  test_rmdir_free(home);
}

TEST(map_grows_when_full_in_one_process) {
  jw_writer w, *all[1] = {&w};
  jw_check_stats st;
  cairn_journal_options o = {.initial_map_bytes = 32 << 10};
  cairn_journal *j = NULL;
  cairn_journal_stats js;
  char *home = test_tmpdir();
  jw_config c = {.tag = "P", .seed = jw_seed(), .batches = 150,
                 .pad = 3000};
  jw_writer_init(&w, "P", 3000);
  CHECK_OK(cairn_journal_open(home, &o, &j, NULL, 0), NULL);
  CHECK_OK(jw_write(j, &c, jw_report_to, &w), j);
  CHECK_OK(cairn_journal_stats_get(j, &js), j);
  cairn_journal_close(j);
  printf("map %llu bytes, %llu in use\n", (unsigned long long)js.map_bytes,
         (unsigned long long)js.used_bytes);
  CHECK_EQ(w.n_rep, 150, "Every batch was committed.");
  CHECK(js.map_bytes > 32 << 10, "The map grew past 32 KiB.");
  CHECK(js.used_bytes >= 4 * MIB, "The writer filled several MiB.");
  jw_check(home, 32 << 10, all, 1, &st);
  jw_writer_free(&w);
  test_rmdir_free(home);
}

TEST(opening_while_another_process_grows_the_journal_succeeds) {
  jw_writer a, *all[1] = {&a};
  jw_check_stats st;
  cairn_journal_options o = {.initial_map_bytes = 64 << 10};
  char err[512] = "", first[600] = "";
  unsigned opens = 0, failed = 0;
  char *home = test_tmpdir();
  const char *more[] = {"--batches", "400", "--map", "65536", NULL};
  jw_writer_init(&a, "A", 3000);
  jw_spawn(&a, home, more);
  jw_wait_ready(&a);
  /* Open and close again and again while the writer grows the journal
   * past the map this process asks for, as a worker starting next to a
   * busy one does. */
  while (jw_pump(all, 1, jw_now_ms()) && opens < 2000) {
    cairn_journal *j = NULL;
    int rc = cairn_journal_open(home, &o, &j, err, sizeof err);
    opens++;
    if (rc != 0 && failed == 0)
      snprintf(first, sizeof first, "%s: %s", cairn_err_name(rc), err);
    failed += rc != 0;
    cairn_journal_close(j);
  }
  jw_finish(&a);
  printf("%u opens while the writer appended, %u failed\n", opens, failed);
  if (failed)
    FAIL("%u of %u opens failed while another process grew the journal; "
         "the first with %s", failed, opens, first);
  jw_check(home, 64 << 10, all, 1, &st);
  jw_writer_free(&a);
  test_rmdir_free(home);
}
