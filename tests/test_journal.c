/*
 * test_journal.c — the journal's contract, as an embedder relies on it:
 * runs and their indexes, atomic batches, seqs without gaps, the run
 * lifecycle enforced at append, views folded in the same transaction,
 * definitions by content, audit records, and verify / rebuild-views
 * finding and repairing what is wrong on disk.
 *
 * Damage is made with raw LMDB calls on a closed journal, the way a bad
 * disk or a buggy tool would leave it.
 */
#include "test.h"

#include "internal.h"

#include <lmdb.h>
#include <time.h>

static cairn_str S(const char *s) { return (cairn_str){s, strlen(s)}; }
static const char HASH[] =
    "0000000000000000000000000000000000000000000000000000000000000001";

static cairn_journal *open_j(const char *home) {
  cairn_journal *j;
  char err[512] = "";
  cairn_journal_options o = {.no_sync = true};
  int rc = cairn_journal_open(test_journal_at(home), &o, &j, err, sizeof err);
  if (rc)
    FAIL("open %s: %s %s", home, cairn_err_name(rc), err);
  return j;
}

/* Creates run of workflow `wf`; run id into `id`. */
static void new_run(cairn_journal *j, const char *wf, char id[37]) {
  cairn_batch *b;
  cairn_run_spec s = {.workflow_id = wf, .def_hash = HASH,
                      .input = S("{\"x\":1}")};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id), j);
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
}

/* Appends events in one batch; returns the commit's result. */
static int append(cairn_journal *j, const char *run, const cairn_event *ev,
                  size_t n) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  int rc = cairn_batch_append(b, run, ev, n);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

static cairn_event ev_started(const char *step, uint32_t attempt) {
  return (cairn_event){.type = CAIRN_EV_STEP_STARTED, .step = S(step),
                       .attempt = attempt};
}
static cairn_event ev_done(const char *step, uint32_t attempt,
                           const char *out) {
  return (cairn_event){.type = CAIRN_EV_STEP_COMPLETED, .step = S(step),
                       .attempt = attempt, .output = S(out),
                       .duration_us = 10};
}
static cairn_event ev_failed(const char *step, uint32_t attempt) {
  return (cairn_event){.type = CAIRN_EV_STEP_FAILED, .step = S(step),
                       .attempt = attempt, .error_code = S("exit_status"),
                       .error_message = S("exit 1"), .retryable = true};
}

static uint64_t key_of(cairn_journal *j, const char *id) {
  cairn_reader *r;
  cairn_run_info info;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_run_by_id(r, id, &info), j);
  cairn_reader_end(r);
  return info.key;
}

static void expect_verify_ok(cairn_journal *j) {
  cairn_verify_stats st;
  CHECK_OK(cairn_journal_verify(j, NULL, NULL, &st), j);
  CHECK_EQ(st.problems, 0, "verify finds no problem");
}

TEST(open_creates_a_journal_and_reopens_it) {
  test_lmdb_only();
  char *home = test_tmpdir();
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/a/b", home);
  cairn_journal *j = open_j(sub);
  char id[37];
  new_run(j, "wf", id);
  cairn_journal_close(j);
  j = open_j(sub);
  CHECK(key_of(j, id) == 1, "the run is there after reopening");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

/* Writes meta "schema" = v with raw LMDB. */
static void set_schema(const char *home, uint32_t v) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  unsigned char be[4];
  cairn__put_be32(be, v);
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  CHECK_EQ(mdb_env_open(env, home, 0, 0644), 0, "raw open");
  mdb_txn_begin(env, NULL, 0, &txn);
  mdb_dbi_open(txn, "meta", 0, &dbi);
  MDB_val k = {6, "schema"}, val = {4, be};
  mdb_put(txn, dbi, &k, &val, 0);
  CHECK_EQ(mdb_txn_commit(txn), 0, "raw commit");
  mdb_env_close(env);
}

TEST(open_refuses_a_journal_of_another_schema_version) {
  test_lmdb_only();
  char *home = test_tmpdir();
  cairn_journal_close(open_j(home));
  set_schema(home, 99);
  cairn_journal *j = NULL;
  char err[512] = "";
  CHECK_ERR(cairn_journal_open(test_journal_at(home), NULL, &j, err, sizeof err),
            CAIRN_ESCHEMA, "another schema version is refused");
  CHECK(j == NULL, "no handle on failure");
  CHECK(strstr(err, "schema version 99") != NULL, "the message names it");
  CHECK(strstr(err, "newer") != NULL, "and says it is newer");
  test_rmdir_free(home);
}

/* Makes `home` a schema 1 journal, as cairn wrote before prompt
 * artifacts: version 1 in meta, no `prompts` database. */
static void downgrade_to_1(const char *home) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 32);
  CHECK_EQ(mdb_env_open(env, home, 0, 0644), 0, "raw open");
  mdb_txn_begin(env, NULL, 0, &txn);
  CHECK_EQ(mdb_dbi_open(txn, "prompts", 0, &dbi), 0, "prompts exists");
  CHECK_EQ(mdb_drop(txn, dbi, 1), 0, "dropped");
  CHECK_EQ(mdb_txn_commit(txn), 0, "raw commit");
  mdb_env_close(env);
  set_schema(home, 1);
}

TEST(an_older_journal_is_migrated_by_a_writer_and_a_reader_says_how) {
  test_lmdb_only();
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_journal_close(j);
  downgrade_to_1(home);

  char err[512] = "";
  cairn_journal_options ro = {.read_only = true};
  CHECK_ERR(cairn_journal_open(test_journal_at(home), &ro, &j, err, sizeof err),
            CAIRN_ESCHEMA, "a reader cannot migrate: refused");
  CHECK(strstr(err, "schema version 1, older") != NULL, "names the version");
  CHECK(strstr(err, "cairn journal migrate --home") != NULL,
        "and the command that migrates it");

  j = open_j(home); /* read-write: migrates */
  cairn_journal_stats st;
  CHECK_OK(cairn_journal_stats_get(j, &st), j);
  CHECK_EQ(st.opened_schema, 1, "it found version 1");
  CHECK_EQ(st.schema, CAIRN_JOURNAL_SCHEMA, "and left the current one");
  CHECK(key_of(j, id) == 1, "the run is still there");
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  char ph[CAIRN_HASH_HEX_LEN + 1];
  CHECK(cairn_batch_put_prompt(b, "default", "prompt_greeting", NULL, NULL,
                               NULL, "hello", ph) >= 0,
        "a prompt can be added");
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
  expect_verify_ok(j);
  cairn_journal_close(j);

  CHECK_OK(cairn_journal_open(test_journal_at(home), &ro, &j, err, sizeof err), NULL);
  CHECK_OK(cairn_journal_stats_get(j, &st), j);
  CHECK_EQ(st.opened_schema, CAIRN_JOURNAL_SCHEMA, "now current");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(open_refuses_files_that_are_not_a_journal) {
  test_lmdb_only();
  char *home = test_tmpdir();
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", home);
  FILE *f = fopen(path, "w");
  for (int i = 0; i < 20000; i++)
    fputc("garbage"[i % 7], f);
  fclose(f);
  cairn_journal *j = NULL;
  char err[512] = "";
  int rc = cairn_journal_open(test_journal_at(home), NULL, &j, err, sizeof err);
  CHECK(rc == CAIRN_ECORRUPT || rc == CAIRN_EIO, "garbage is refused");
  CHECK(strlen(err) > 0, "with a message");
  test_rmdir_free(home);
}

TEST(create_run_indexes_the_run_and_its_workflow) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "lead-1", id);
  cairn_reader *r;
  cairn_run_info info;
  cairn_workflow_info wf;
  cairn_event ev;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_run_by_id(r, id, &info), j);
  CHECK_STR(info.workflow_id, "lead-1", "workflow id recorded");
  CHECK_STR(info.ns, "default", "namespace defaults");
  CHECK_EQ(info.status, CAIRN_RUN_RUNNING, "a new run is running");
  CHECK_EQ(info.last_seq, 1, "its history is run.started");
  CHECK_OK(cairn_reader_workflow(r, NULL, "lead-1", &wf), j);
  CHECK(wf.current == info.key && wf.n_runs == 1, "workflow points at it");
  CHECK_OK(cairn_reader_event(r, info.key, 1, &ev), j);
  CHECK_EQ(ev.type, CAIRN_EV_RUN_STARTED, "event 1 is run.started");
  CHECK(test_str_is(ev.input, "{\"x\":1}"), "with the input");
  CHECK(test_str_is(ev.def_hash, HASH), "and the definition hash");
  CHECK_ERR(cairn_reader_run_by_id(r, "01a1fcac-d28c-7e80-b22b-000000000000",
                                   &info),
            CAIRN_ENOTFOUND, "an unknown run id is not found");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_new_run_under_an_existing_workflow_id_needs_an_origin) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37], id2[37], id3[37];
  new_run(j, "wf", id);
  cairn_batch *b;
  cairn_run_spec s = {.workflow_id = "wf", .def_hash = HASH};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id2), j);
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ECONFLICT,
            "starting an existing workflow id again is a conflict");
  CHECK(strstr(cairn_journal_errmsg(j), "already exists"), "says why");
  cairn_batch_free(b);
  /* A replay is a derived run that does not become current. */
  s.origin_kind = CAIRN_ORIGIN_REPLAY;
  s.parent_run_id = id;
  s.reason = S("try the new prompt");
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id2), j);
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
  /* A reset becomes current. */
  s.origin_kind = CAIRN_ORIGIN_RESET;
  s.make_current = true;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id3), j);
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
  cairn_reader *r;
  cairn_workflow_info wf;
  cairn_run_info info;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_workflow(r, NULL, "wf", &wf), j);
  CHECK_EQ(wf.n_runs, 3, "the workflow lists its three runs");
  CHECK_EQ(wf.current, 3, "the reset is current, not the replay");
  CHECK_OK(cairn_reader_run_by_id(r, id2, &info), j);
  CHECK_EQ(info.origin_kind, CAIRN_ORIGIN_REPLAY, "origin kept");
  CHECK_STR(info.parent_run_id, id, "parent kept");
  cairn_event ev;
  CHECK_OK(cairn_reader_event(r, info.key, 1, &ev), j);
  CHECK(test_str_is(ev.reason, "try the new prompt"), "reason in history");
  cairn_reader_end(r);
  /* A derived run of an unknown parent is not found. */
  s.parent_run_id = "01a1fcac-d28c-7e80-b22b-000000000000";
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id3), j);
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ENOTFOUND, "unknown parent");
  cairn_batch_free(b);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(appends_get_contiguous_seqs_across_batches) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event a[2] = {ev_started("a", 1), ev_done("a", 1, "1")};
  cairn_event b2[2] = {ev_started("b", 1), ev_done("b", 1, "2")};
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  int op1 = cairn_batch_append(b, id, a, 2);
  int op2 = cairn_batch_append(b, id, b2, 2);
  CHECK(op1 >= 0 && op2 >= 0, "appends are accepted");
  CHECK_OK(cairn_batch_commit(b), j);
  CHECK_EQ(cairn_batch_first_seq(b, op1), 2, "first append starts at 2");
  CHECK_EQ(cairn_batch_first_seq(b, op2), 4, "second follows it");
  CHECK_ERR(cairn_batch_commit(b), CAIRN_EINVAL, "a batch commits once");
  cairn_batch_free(b);
  cairn_reader *r;
  cairn_history *it;
  cairn_event ev;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_history(r, key_of(j, id), 3, &it), j);
  uint32_t want = 3;
  while (cairn_history_next(it, &ev) == 1)
    CHECK_EQ(ev.seq, want++, "history comes in order from the given seq");
  CHECK_EQ(want, 6, "and ends at the last event");
  cairn_history_close(it);
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_batch_is_atomic_when_one_operation_fails) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37], id2[37];
  new_run(j, "wf", id);
  cairn_event ok[1] = {ev_started("a", 1)};
  cairn_event bad[1] = {ev_done("never-started", 1, "1")};
  cairn_run_spec s = {.workflow_id = "other", .def_hash = HASH};
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id2), j);
  CHECK(cairn_batch_append(b, id, ok, 1) >= 0, "accepted");
  CHECK(cairn_batch_append(b, id, bad, 1) >= 0, "accepted until commit");
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ECONFLICT, "the batch fails");
  CHECK(strstr(cairn_journal_errmsg(j), "never-started") != NULL,
        "the message names the step");
  cairn_batch_free(b);
  cairn_reader *r;
  cairn_run_info info;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_run_by_id(r, id, &info), j);
  CHECK_EQ(info.last_seq, 1, "no event of the failed batch landed");
  CHECK_ERR(cairn_reader_run_by_id(r, id2, &info), CAIRN_ENOTFOUND,
            "no run of the failed batch exists");
  cairn_reader_end(r);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(bad_events_are_refused_when_added) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_batch *b;
  cairn_event e = ev_done("a", 1, "{not json");
  cairn_event st = {.type = CAIRN_EV_RUN_STARTED};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_ERR(cairn_batch_append(b, id, &e, 1), CAIRN_EINVAL,
            "an output that is not JSON is refused");
  CHECK(strstr(cairn_journal_errmsg(j), "output") != NULL, "names field");
  CHECK_ERR(cairn_batch_append(b, id, &st, 1), CAIRN_EINVAL,
            "run.started cannot be appended");
  CHECK_ERR(cairn_batch_append(b, "nope", &e, 1), CAIRN_EINVAL,
            "a malformed run id is refused");
  CHECK_EQ(cairn_batch_size(b), 0, "nothing was added");
  cairn_batch_free(b);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_finished_run_takes_no_more_step_events) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event done[3] = {ev_started("a", 1), ev_done("a", 1, "1"),
                         {.type = CAIRN_EV_RUN_COMPLETED, .output = S("1")}};
  CHECK_OK(append(j, id, done, 3), j);
  cairn_event late = ev_started("b", 1);
  CHECK_ERR(append(j, id, &late, 1), CAIRN_ECONFLICT,
            "a completed run refuses new steps");
  CHECK(strstr(cairn_journal_errmsg(j), "completed") != NULL,
        "the message names the run's state");
  cairn_event again = {.type = CAIRN_EV_RUN_FAILED};
  CHECK_ERR(append(j, id, &again, 1), CAIRN_ECONFLICT, "ends only once");
  cairn_event sig = {.type = CAIRN_EV_SIGNAL_RECEIVED, .name = S("go")};
  CHECK_ERR(append(j, id, &sig, 1), CAIRN_ECONFLICT, "no late signal");
  cairn_event recompute = {.type = CAIRN_EV_RUN_OUTPUT_RECOMPUTED,
                           .output = S("2")};
  CHECK_ERR(append(j, id, &recompute, 1), CAIRN_ECONFLICT,
            "the output is recomputed only after a single-step rerun");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_single_step_rerun_extends_a_finished_run) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event run[5] = {ev_started("a", 1), ev_done("a", 1, "\"old\""),
                        ev_started("b", 1), ev_done("b", 1, "2"),
                        {.type = CAIRN_EV_RUN_COMPLETED, .output = S("2")}};
  CHECK_OK(append(j, id, run, 5), j);
  cairn_event rr[4] = {
      {.type = CAIRN_EV_STEP_RERUN_REQUESTED, .step = S("a"),
       .reason = S("better prompt"), .details = S("[\"b\"]")},
      ev_started("a", 2), ev_done("a", 2, "\"new\""),
      {.type = CAIRN_EV_RUN_OUTPUT_RECOMPUTED, .output = S("3")}};
  cairn_event other = ev_started("b", 2);
  CHECK_OK(append(j, id, rr, 2), j);
  CHECK_ERR(append(j, id, &other, 1), CAIRN_ECONFLICT,
            "only the rerun step may run in a finished run");
  CHECK_OK(append(j, id, rr + 2, 2), j);
  cairn_reader *r;
  cairn_step_view a, b;
  cairn_run_view v;
  uint64_t key = key_of(j, id);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_step_view(r, key, "a", &a), j);
  CHECK_OK(cairn_reader_step_view(r, key, "b", &b), j);
  CHECK_OK(cairn_reader_run_view(r, key, &v), j);
  CHECK_EQ(a.attempts, 2, "the rerun is a second attempt");
  CHECK_EQ(a.ok_attempt, 2, "the newest success is visible");
  CHECK_EQ(a.out_seq, 9, "its output is the new completion");
  CHECK(b.stale, "the downstream step is stale");
  CHECK_EQ(v.output_seq, 10, "the run output was recomputed");
  CHECK_EQ(v.rerun_seq, 0, "no rerun is pending any more");
  CHECK_EQ(v.status, CAIRN_RUN_COMPLETED, "the run stays completed");
  cairn_reader_end(r);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_completed_step_never_starts_again) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event e[2] = {ev_started("a", 1), ev_done("a", 1, "1")};
  CHECK_OK(append(j, id, e, 2), j);
  cairn_event again = ev_started("a", 2);
  CHECK_ERR(append(j, id, &again, 1), CAIRN_ECONFLICT,
            "a durable completion is final");
  cairn_event skip = ev_started("b", 2);
  CHECK_ERR(append(j, id, &skip, 1), CAIRN_ECONFLICT,
            "attempts start at 1");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

static int collect_attempt(void *ctx, const cairn_attempt_view *a) {
  int *statuses = ctx;
  statuses[a->attempt] = a->status;
  return 0;
}

TEST(views_keep_every_attempt_and_the_latest_output) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event retry = {.type = CAIRN_EV_STEP_RETRY_SCHEDULED, .step = S("a"),
                       .attempt = 2, .delay_ms = 200};
  /* attempt 1 fails, retry, attempt 2 is abandoned (worker died),
   * attempt 3 succeeds */
  cairn_event e[5] = {ev_started("a", 1), ev_failed("a", 1), retry,
                      ev_started("a", 2), ev_started("a", 3)};
  CHECK_OK(append(j, id, e, 5), j);
  cairn_event done = ev_done("a", 3, "{\"v\":3}");
  CHECK_OK(append(j, id, &done, 1), j);
  cairn_reader *r;
  cairn_step_view s;
  cairn_run_view v;
  int st[5] = {0};
  uint64_t key = key_of(j, id);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_step_view(r, key, "a", &s), j);
  CHECK_EQ(s.status, CAIRN_STEP_COMPLETED, "the step completed");
  CHECK_EQ(s.attempts, 3, "after three attempts");
  CHECK_EQ(s.ok_attempt, 3, "the third is visible");
  CHECK_EQ(s.out_run, key, "its output lives in this run");
  CHECK_EQ(s.out_seq, 7, "at the completion's seq");
  CHECK_OK(cairn_reader_attempts(r, key, "a", collect_attempt, st), j);
  CHECK_EQ(st[1], CAIRN_ATTEMPT_FAILED, "attempt 1 failed");
  CHECK_EQ(st[2], CAIRN_ATTEMPT_ABANDONED, "attempt 2 was abandoned");
  CHECK_EQ(st[3], CAIRN_ATTEMPT_COMPLETED, "attempt 3 completed");
  CHECK_OK(cairn_reader_run_view(r, key, &v), j);
  CHECK_EQ(v.n_attempts, 3, "the run counts attempts");
  CHECK_EQ(v.n_completed, 1, "and completed steps");
  CHECK_EQ(v.last_seq, 7, "and folded every event");
  cairn_reader_end(r);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_reused_step_references_the_original_completion) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char p[37], c1[37], c2[37];
  new_run(j, "wf", p);
  cairn_event e[2] = {ev_started("a", 1), ev_done("a", 1, "\"orig\"")};
  CHECK_OK(append(j, p, e, 2), j);
  cairn_run_spec s = {.workflow_id = "wf", .def_hash = HASH,
                      .origin_kind = CAIRN_ORIGIN_RERUN, .parent_run_id = p};
  cairn_event reuse = {.type = CAIRN_EV_STEP_REUSED, .step = S("a"),
                       .ref_run = S(p), .ref_seq = 3};
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, c1), j);
  CHECK(cairn_batch_append(b, c1, &reuse, 1) >= 0, "accepted");
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
  /* Referencing the reuse (not the original) is refused. */
  s.parent_run_id = c1;
  cairn_event bad = {.type = CAIRN_EV_STEP_REUSED, .step = S("a"),
                     .ref_run = S(c1), .ref_seq = 2};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, c2), j);
  CHECK(cairn_batch_append(b, c2, &bad, 1) >= 0, "accepted");
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ECONFLICT,
            "a reuse must reference a step.completed");
  CHECK(strstr(cairn_journal_errmsg(j), "original") != NULL, "says so");
  cairn_batch_free(b);
  cairn_reader *r;
  cairn_event ev, src;
  cairn_step_view sv;
  uint64_t k1 = key_of(j, c1);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_event(r, k1, 2, &ev), j);
  CHECK_OK(cairn_reader_resolve(r, &ev, &src), j);
  CHECK_EQ(src.type, CAIRN_EV_STEP_COMPLETED, "resolves to the original");
  CHECK(test_str_is(src.output, "\"orig\""), "with its output");
  CHECK_OK(cairn_reader_step_view(r, k1, "a", &sv), j);
  CHECK(sv.reused && sv.status == CAIRN_STEP_COMPLETED, "view: reused");
  CHECK(sv.out_run == key_of(j, p) && sv.out_seq == 3,
        "the view points at the original event");
  cairn_reader_end(r);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(runs_are_listed_newest_first_by_status_and_workflow) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char ids[5][37];
  char wf[16];
  for (int i = 0; i < 5; i++) {
    snprintf(wf, sizeof wf, "wf%d", i % 2);
    if (i < 2) {
      new_run(j, wf, ids[i]);
      continue;
    }
    cairn_batch *b;
    cairn_run_spec s = {.workflow_id = wf, .def_hash = HASH,
                        .origin_kind = CAIRN_ORIGIN_REPLAY,
                        .parent_run_id = ids[i % 2]};
    CHECK_OK(cairn_batch_new(j, &b), j);
    CHECK_OK(cairn_batch_create_run(b, &s, ids[i]), j);
    CHECK_OK(cairn_batch_commit(b), j);
    cairn_batch_free(b);
  }
  cairn_event fail = {.type = CAIRN_EV_RUN_FAILED};
  CHECK_OK(append(j, ids[1], &fail, 1), j);
  CHECK_OK(append(j, ids[3], &fail, 1), j);
  cairn_reader *r;
  cairn_run_info out[8];
  size_t n;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_runs(r, NULL, out, 8, &n), j);
  CHECK_EQ(n, 5, "all runs");
  CHECK_STR(out[0].run_id, ids[4], "newest first");
  cairn_run_filter f = {.status = CAIRN_RUN_FAILED};
  CHECK_OK(cairn_reader_runs(r, &f, out, 8, &n), j);
  CHECK_EQ(n, 2, "two failed runs");
  CHECK_STR(out[0].run_id, ids[3], "newest failed first");
  CHECK_STR(out[1].run_id, ids[1], "then the older");
  f = (cairn_run_filter){.workflow_id = "wf0"};
  CHECK_OK(cairn_reader_runs(r, &f, out, 2, &n), j);
  CHECK_EQ(n, 2, "the limit holds");
  CHECK_STR(out[0].run_id, ids[4], "newest of wf0");
  CHECK_STR(out[1].run_id, ids[2], "then the next");
  f = (cairn_run_filter){.status = CAIRN_RUN_RUNNING};
  CHECK_OK(cairn_reader_runs(r, &f, out, 8, &n), j);
  CHECK_EQ(n, 3, "three still running");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(definitions_are_stored_by_content_with_versions) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  const char *v1 = "{\"name\":\"x\",\"steps\":[]}";
  const char *v1b = "{ \"steps\": [], \"name\": \"x\" }";
  const char *v2 = "{\"name\":\"x\",\"steps\":[{\"name\":\"a\"}]}";
  const char *docs[3] = {v1, v1b, v2};
  char h[3][65];
  uint32_t ver[3];
  for (int i = 0; i < 3; i++) {
    cairn_batch *b;
    CHECK_OK(cairn_batch_new(j, &b), j);
    int op = cairn_batch_put_definition(b, NULL, "x", docs[i],
                                        strlen(docs[i]), h[i]);
    CHECK(op >= 0, "a definition is accepted");
    CHECK_OK(cairn_batch_commit(b), j);
    ver[i] = cairn_batch_def_version(b, op);
    cairn_batch_free(b);
  }
  CHECK_STR(h[0], h[1], "formatting does not change the hash");
  CHECK_EQ(ver[1], 1, "the same content is the same version");
  CHECK_EQ(ver[2], 2, "new content is a new version");
  cairn_reader *r;
  cairn_str json;
  char latest[65], first[65];
  uint32_t n;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_definition_version(r, NULL, "x", 0, latest, &n), j);
  CHECK_EQ(n, 2, "two versions");
  CHECK_STR(latest, h[2], "latest is version 2");
  CHECK_OK(cairn_reader_definition_version(r, NULL, "x", 1, first, &n), j);
  CHECK_STR(first, h[0], "version 1 stays");
  CHECK_OK(cairn_reader_definition(r, h[0], &json), j);
  CHECK(json.len == strlen("{\"name\":\"x\",\"steps\":[]}"), "canonical");
  CHECK_ERR(cairn_reader_definition_version(r, NULL, "x", 3, latest, &n),
            CAIRN_ENOTFOUND, "no version 3");
  cairn_reader_end(r);
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_ERR(cairn_batch_put_definition(b, NULL, "x", "{oops", 5, latest),
            CAIRN_EINVAL, "invalid JSON is refused");
  CHECK(strstr(cairn_journal_errmsg(j), "byte") != NULL, "with position");
  cairn_batch_free(b);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

typedef struct audit_seen {
  int n;
  char actions[4][16];
  uint64_t last_seq;
} audit_seen;

static int on_audit(void *ctx, const cairn_audit_record *a) {
  audit_seen *s = ctx;
  snprintf(s->actions[s->n++], 16, "%.*s", (int)a->action.len,
           a->action.ptr);
  s->last_seq = a->seq;
  return 0;
}

TEST(audit_records_keep_actor_action_target_and_reason) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  const char *acts[3] = {"start", "reset", "cancel"};
  for (int i = 0; i < 3; i++) {
    cairn_batch *b;
    cairn_audit_record a = {.actor = S("alice"), .action = S(acts[i]),
                            .workflow_id = S("wf"), .reason = S("why")};
    CHECK_OK(cairn_batch_new(j, &b), j);
    CHECK_OK(cairn_batch_audit(b, &a), j);
    CHECK_OK(cairn_batch_commit(b), j);
    cairn_batch_free(b);
  }
  cairn_reader *r;
  audit_seen seen = {0};
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_audit(r, 2, on_audit, &seen), j);
  cairn_reader_end(r);
  CHECK_EQ(seen.n, 2, "records from seq 2 on");
  CHECK_STR(seen.actions[0], "reset", "in order");
  CHECK_EQ(seen.last_seq, 3, "numbered from 1");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(the_run_view_stays_small_however_long_the_run) {
  test_lmdb_only();
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "long", id);
  cairn_event e[200];
  char names[100][32];
  for (int batch = 0; batch < 50; batch++) {
    for (int i = 0; i < 100; i++) {
      snprintf(names[i], 32, "step-%d", batch * 100 + i);
      e[2 * i] = ev_started(names[i], 1);
      e[2 * i + 1] = ev_done(names[i], 1, "{}");
    }
    CHECK_OK(append(j, id, e, 200), j);
  }
  cairn_journal_stats st;
  CHECK_OK(cairn_journal_stats_get(j, &st), j);
  cairn_journal_close(j);
  /* Read the run view's stored size with raw LMDB. */
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  unsigned char kb[9];
  cairn__put_be64(kb, 1);
  kb[8] = 0;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  CHECK_EQ(mdb_env_open(env, home, MDB_RDONLY, 0644), 0, "raw open");
  mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
  mdb_dbi_open(txn, "views", 0, &dbi);
  MDB_val k = {9, kb}, v;
  CHECK_EQ(mdb_get(txn, dbi, &k, &v), 0, "the run view exists");
  CHECK(v.mv_size < 96, "a 5,000-step run's view is a small fixed record");
  mdb_txn_abort(txn);
  mdb_env_close(env);
  CHECK_EQ(st.view_records, 1 + 5000,
           "one run record and one per step (a single attempt lives in "
           "its step's record)");
  test_rmdir_free(home);
}

/* ----------------------------------------------------- damage on disk */

typedef struct problems {
  int n;
  char first[512];
  uint32_t seq;
} problems;

static void on_problem(void *ctx, const cairn_verify_problem *p) {
  problems *ps = ctx;
  if (ps->n++ == 0) {
    snprintf(ps->first, sizeof ps->first, "%s", p->message);
    ps->seq = p->seq;
  }
}

/* A journal with one run of two completed steps; returns its home. */
static char *damaged_setup(char id[37]) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  new_run(j, "wf", id);
  cairn_event e[4] = {ev_started("a", 1), ev_done("a", 1, "1"),
                      ev_started("b", 1), ev_done("b", 1, "2")};
  CHECK_OK(append(j, id, e, 4), j);
  expect_verify_ok(j);
  cairn_journal_close(j);
  return home;
}

TEST(verify_reports_a_tampered_view_and_rebuild_repairs_it) {
  char id[37];
  char *home = damaged_setup(id);
  cairn_step_view fake = {.status = CAIRN_STEP_FAILED, .attempts = 9};
  char *buf;
  size_t n;
  unsigned char kb[16];
  cairn__put_be64(kb, 1);
  kb[8] = 1;
  memcpy(kb + 9, "b", 1);
  CHECK_OK(cairn__step_view_encode(&fake, &buf, &n), NULL);
  test_raw_put(home, "views", kb, 10, buf, n);
  free(buf);
  cairn_journal *j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the tampered view");
  CHECK(strstr(ps.first, "step b") != NULL, "and names the step");
  uint64_t runs = 0;
  CHECK_OK(cairn_journal_rebuild_views(j, &runs), j);
  CHECK_EQ(runs, 1, "one run rebuilt");
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(verify_reports_an_undecodable_event_by_run_and_seq) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 1);
  cairn__put_be32(kb + 8, 3);
  test_raw_put(home, "events", kb, 12, "\xdf\xff\xff\xff\xff", 5);
  cairn_journal *j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the damaged event");
  CHECK_EQ(ps.seq, 3, "at seq 3");
  CHECK(strstr(ps.first, "decode") != NULL, "and says it does not decode");
  cairn_reader *r;
  cairn_event ev;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_ERR(cairn_reader_event(r, 1, 3, &ev), CAIRN_EDECODE,
            "reading it fails cleanly");
  CHECK(strstr(cairn_journal_errmsg(j), "seq 3") != NULL, "naming seq");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(verify_reports_a_gap_in_history) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 1);
  cairn__put_be32(kb + 8, 2);
  test_raw_put(home, "events", kb, 12, NULL, 0);
  cairn_journal *j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the gap");
  CHECK(strstr(ps.first, "gap") != NULL, "and calls it a gap");
  CHECK_EQ(ps.seq, 3, "where seq 3 follows seq 1");
  cairn_reader *r;
  cairn_history *it;
  cairn_event ev;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_history(r, 1, 1, &it), j);
  CHECK_EQ(cairn_history_next(it, &ev), 1, "event 1 reads");
  CHECK_ERR(cairn_history_next(it, &ev), CAIRN_ECORRUPT,
            "reading across the gap fails instead of skipping it");
  cairn_history_close(it);
  cairn_reader_end(r);
  CHECK_ERR(cairn_journal_rebuild_views(j, NULL), CAIRN_ECORRUPT,
            "views are not rebuilt from a broken history");
  CHECK(strstr(cairn_journal_errmsg(j), "gap") != NULL,
        "and the message says why");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(verify_reports_events_of_no_run) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 77);
  cairn__put_be32(kb + 8, 1);
  test_raw_put(home, "events", kb, 12, "\x80", 1);
  cairn_journal *j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the orphan event");
  CHECK(strstr(ps.first, "no run") != NULL, "and says so");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

/* verify over the indexes beside runs: a journal with a registered
 * definition, one damaged index record, and the problem verify names. */
static void expect_index_damage(const char *db, const void *key, size_t kn,
                                const void *val, size_t vn,
                                const char *want) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  cairn_batch *b;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  const char *def = "{\"name\":\"w\",\"steps\":[]}";
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK(cairn_batch_put_definition(b, NULL, "w", def, strlen(def), hash) >= 0,
        cairn_journal_errmsg(j));
  CHECK(cairn_batch_commit(b) >= 0, cairn_journal_errmsg(j));
  cairn_batch_free(b);
  expect_verify_ok(j);
  cairn_journal_close(j);
  if (key == NULL) /* the definition itself: its key is its hash */
    test_raw_put(home, db, hash, CAIRN_HASH_HEX_LEN, val, vn);
  else
    test_raw_put(home, db, key, kn, val, vn);
  j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the damaged index record");
  if (strstr(ps.first, want) == NULL)
    FAIL("the problem \"%s\" does not say \"%s\"", ps.first, want);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(verify_reports_a_definition_whose_text_was_changed) {
  const char *other = "{\"name\":\"w\",\"steps\":[1]}";
  expect_index_damage("definitions", NULL, 0, other, strlen(other),
                      "does not hash to its key");
}

TEST(verify_reports_a_version_naming_a_missing_definition) {
  char hashes[1][CAIRN_HASH_HEX_LEN + 1];
  memset(hashes[0], 'a', CAIRN_HASH_HEX_LEN);
  hashes[0][CAIRN_HASH_HEX_LEN] = '\0';
  char *buf;
  size_t n;
  CHECK_OK(cairn__names_rec_encode(hashes, 1, &buf, &n), NULL);
  expect_index_damage("names", "default\0gone", 12, buf, n,
                      "version 1 of workflow gone names a definition that "
                      "is not stored");
  free(buf);
}

TEST(verify_reports_a_request_id_without_its_audit_record) {
  unsigned char seq[8];
  cairn__put_be64(seq, 999);
  expect_index_damage("requests", "default\0req-1", 13, seq, 8,
                      "request id req-1 points at no audit record");
}

TEST(verify_reports_an_audit_record_that_does_not_decode) {
  unsigned char seq[8];
  cairn__put_be64(seq, 7);
  expect_index_damage("audit", seq, 8, "\xc1", 1,
                      "audit record 7 does not decode");
}

/* ------------------------------------------------------------- leases */

static int owned_append(cairn_journal *j, const char *owner, const char *run,
                        const cairn_event *ev, size_t n) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_set_owner(b, owner, 60000), j);
  int rc = cairn_batch_append(b, run, ev, n);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

TEST(an_owned_batch_cannot_write_to_a_run_leased_to_another) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event a = ev_started("a", 1);
  CHECK_OK(owned_append(j, "worker-1", id, &a, 1), j);
  cairn_event done = ev_done("a", 1, "1");
  CHECK_ERR(owned_append(j, "worker-2", id, &done, 1), CAIRN_ECONFLICT,
            "another worker is fenced off while the lease holds");
  CHECK(strstr(cairn_journal_errmsg(j), "leased to worker-1") != NULL,
        "the message names the holder");
  CHECK_OK(owned_append(j, "worker-1", id, &done, 1), j);
  cairn_event sig = {.type = CAIRN_EV_SIGNAL_RECEIVED, .name = S("go")};
  CHECK_OK(append(j, id, &sig, 1), j);
  cairn_reader *r;
  cairn_run_info info;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_run_by_id(r, id, &info), j);
  CHECK_STR(info.lease_owner, "worker-1", "the lease is recorded");
  CHECK(info.lease_expiry_us > cairn__now_us(), "and lasts");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

static bool dead_if_named_dead(void *ctx, const char *owner) {
  (void)ctx;
  return strncmp(owner, "dead", 4) == 0;
}

TEST(claims_take_free_expired_and_dead_owners_runs_only) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char free_run[37], live[37], dead[37], done[37];
  new_run(j, "free", free_run);
  new_run(j, "live", live);
  new_run(j, "dead", dead);
  new_run(j, "done", done);
  cairn_event a = ev_started("a", 1);
  CHECK_OK(owned_append(j, "alive-1", live, &a, 1), j);
  CHECK_OK(owned_append(j, "dead-1", dead, &a, 1), j);
  cairn_event end = {.type = CAIRN_EV_RUN_COMPLETED};
  CHECK_OK(append(j, done, &end, 1), j);
  uint64_t keys[8];
  size_t n;
  CHECK_OK(cairn_journal_claim_runs(j, "me", 1000, dead_if_named_dead, NULL,
                                    0, keys, 8, &n), j);
  CHECK_EQ(n, 2, "the free run and the dead owner's run are claimed");
  CHECK_EQ(keys[0], key_of(j, free_run), "oldest first");
  CHECK_EQ(keys[1], key_of(j, dead), "then the dead owner's");
  CHECK_OK(cairn_journal_claim_runs(j, "other", 1000, NULL, NULL,
                                    key_of(j, free_run), keys, 8, &n), j);
  CHECK_EQ(n, 0, "a run leased to a live owner is not claimed");
  uint64_t mine[2] = {key_of(j, free_run), key_of(j, live)}, lost[2];
  size_t n_lost;
  CHECK_OK(cairn_journal_renew_leases(j, "me", 1000, mine, 2, lost,
                                      &n_lost), j);
  CHECK_EQ(n_lost, 1, "a run leased to another is reported lost");
  CHECK_EQ(lost[0], key_of(j, live), "naming it");
  CHECK_OK(cairn_journal_release_leases(j, "me", mine, 1), j);
  CHECK_OK(cairn_journal_claim_runs(j, "other", 1000, NULL, NULL,
                                    key_of(j, free_run), keys, 8, &n), j);
  CHECK_EQ(n, 1, "a released run is claimed at once by another");
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(an_expired_lease_can_be_claimed_by_another_owner) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  uint64_t keys[2];
  size_t n;
  CHECK_OK(cairn_journal_claim_runs(j, "other-host:1:1", 1, NULL, NULL, 0,
                                    keys, 2, &n), j);
  CHECK_EQ(n, 1, "the first owner claims it for 1 ms");
  struct timespec ts = {0, 5 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK_OK(cairn_journal_claim_runs(j, "me", 1000, NULL, NULL, 0, keys, 2,
                                    &n), j);
  CHECK_EQ(n, 1, "after the lease expired, another owner claims it");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

/* Commits one audit record of `action` with request id `req` in `ns`. */
static int audit_with_request(cairn_journal *j, const char *ns,
                              const char *action, const char *req) {
  cairn_batch *b;
  cairn_audit_record a = {.ns = ns ? S(ns) : (cairn_str){NULL, 0},
                          .actor = S("alice"), .action = S(action),
                          .run_id = S("01a1fcac-d28c-7e80-b22b-000000000001"),
                          .request_id = S(req)};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_audit(b, &a), j);
  int rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

static int count_audit(void *ctx, const cairn_audit_record *a) {
  (void)a;
  (*(int *)ctx)++;
  return 0;
}

TEST(a_request_id_is_recorded_once_and_found_again) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  CHECK_OK(audit_with_request(j, NULL, "cancel", "req-1"), j);
  /* The same id again, in a batch that also creates a run. */
  char id[37];
  cairn_batch *b;
  cairn_run_spec s = {.workflow_id = "wf", .def_hash = HASH};
  cairn_audit_record again = {.ns = S("default"), .action = S("start"),
                              .workflow_id = S("wf"),
                              .request_id = S("req-1")};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id), j);
  CHECK_OK(cairn_batch_audit(b, &again), j);
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ECONFLICT,
            "a request id is used once per namespace");
  const char *msg = cairn_journal_errmsg(j);
  CHECK(strstr(msg, "request id req-1") && strstr(msg, "action cancel") &&
            strstr(msg, "01a1fcac-d28c-7e80-b22b-000000000001"),
        "the message names the id, the first action and its run");
  CHECK(cairn_batch_failed_run(b) == NULL, "the failure is not a run's");
  cairn_batch_free(b);
  /* Twice in one batch fails too. */
  cairn_audit_record twice = {.action = S("signal"),
                              .request_id = S("req-2")};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_audit(b, &twice), j);
  CHECK_OK(cairn_batch_audit(b, &twice), j);
  CHECK_ERR(cairn_batch_commit(b), CAIRN_ECONFLICT, "twice in one batch");
  cairn_batch_free(b);
  /* Another namespace has its own request ids. */
  CHECK_OK(audit_with_request(j, "team", "reset", "req-1"), j);
  cairn_reader *r;
  cairn_audit_record a;
  cairn_run_info info;
  int n = 0;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_ERR(cairn_reader_run_by_id(r, id, &info), CAIRN_ENOTFOUND,
            "nothing of the refused batch landed");
  CHECK_OK(cairn_reader_audit(r, 0, count_audit, &n), j);
  CHECK_EQ(n, 2, "the refused records were not written");
  CHECK_OK(cairn_reader_request(r, NULL, "req-1", &a), j);
  CHECK_EQ(a.seq, 1, "the first record is found");
  CHECK(test_str_is(a.action, "cancel"), "with its action");
  CHECK(test_str_is(a.request_id, "req-1"), "and its request id");
  CHECK_OK(cairn_reader_request(r, "team", "req-1", &a), j);
  CHECK_EQ(a.seq, 2, "the other namespace's record is its own");
  CHECK(test_str_is(a.action, "reset"), "with its action");
  CHECK_ERR(cairn_reader_request(r, NULL, "req-2", &a), CAIRN_ENOTFOUND,
            "an id of a refused batch is free");
  CHECK_ERR(cairn_reader_request(r, "other", "req-1", &a), CAIRN_ENOTFOUND,
            "an id is not found in a namespace that did not use it");
  cairn_reader_end(r);
  CHECK_OK(audit_with_request(j, NULL, "signal", "req-2"), j);
  /* Request ids are 1..128 bytes. */
  char longid[130];
  memset(longid, 'k', 129);
  longid[129] = '\0';
  CHECK_OK(cairn_batch_new(j, &b), j);
  again.request_id = S(longid);
  CHECK_ERR(cairn_batch_audit(b, &again), CAIRN_EINVAL, "129 bytes");
  again.request_id = S("");
  CHECK_ERR(cairn_batch_audit(b, &again), CAIRN_EINVAL, "empty");
  longid[128] = '\0';
  again.request_id = S(longid);
  CHECK_OK(cairn_batch_audit(b, &again), j);
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_request(r, NULL, longid, &a), j);
  CHECK(test_str_is(a.action, "start"), "a 128-byte id is found");
  cairn_reader_end(r);
  expect_verify_ok(j);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

typedef struct seqs_seen {
  int n;
  uint64_t seq[8];
  int stop_after; /* 0 = never */
} seqs_seen;

static int on_seq(void *ctx, const cairn_audit_record *a) {
  seqs_seen *s = ctx;
  s->seq[s->n++] = a->seq;
  return s->stop_after && s->n >= s->stop_after;
}

TEST(audit_can_be_read_newest_first_down_to_a_seq) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  cairn_reader *r;
  seqs_seen seen = {0};
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_audit_backwards(r, 0, on_seq, &seen), j);
  CHECK_EQ(seen.n, 0, "an empty audit index gives nothing");
  cairn_reader_end(r);
  for (int i = 0; i < 5; i++) {
    cairn_batch *b;
    cairn_audit_record a = {.actor = S("bob"), .action = S("signal")};
    CHECK_OK(cairn_batch_new(j, &b), j);
    CHECK_OK(cairn_batch_audit(b, &a), j);
    CHECK_OK(cairn_batch_commit(b), j);
    cairn_batch_free(b);
  }
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_audit_backwards(r, 3, on_seq, &seen), j);
  CHECK_EQ(seen.n, 3, "records 5, 4 and 3");
  CHECK_EQ(seen.seq[0], 5, "newest first");
  CHECK_EQ(seen.seq[2], 3, "down to and including seq 3");
  seen = (seqs_seen){0};
  CHECK_OK(cairn_reader_audit_backwards(r, 0, on_seq, &seen), j);
  CHECK_EQ(seen.n, 5, "down to 0 reads them all");
  CHECK_EQ(seen.seq[4], 1, "the oldest last");
  seen = (seqs_seen){.stop_after = 2};
  CHECK_OK(cairn_reader_audit_backwards(r, 0, on_seq, &seen), j);
  CHECK_EQ(seen.n, 2, "the callback stops the walk");
  seen = (seqs_seen){0};
  CHECK_OK(cairn_reader_audit_backwards(r, 9, on_seq, &seen), j);
  CHECK_EQ(seen.n, 0, "nothing is newer than seq 9");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

/* Stores `json` as the next version of (ns, name); hash into `h`. */
static uint32_t put_def(cairn_journal *j, const char *ns, const char *name,
                        const char *json, char h[65]) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  int op = cairn_batch_put_definition(b, ns, name, json, strlen(json), h);
  CHECK(op >= 0, "the definition is accepted");
  CHECK_OK(cairn_batch_commit(b), j);
  uint32_t v = cairn_batch_def_version(b, op);
  cairn_batch_free(b);
  return v;
}

static int pause_def(cairn_journal *j, const char *ns, const char *name,
                     bool paused) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_pause_definition(b, ns, name, paused), j);
  int rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

static int delete_def(cairn_journal *j, const char *name, uint32_t v) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_delete_definition(b, NULL, name, v), j);
  int rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

static cairn_definition_state def_state(cairn_journal *j, const char *ns,
                                        const char *name) {
  cairn_reader *r;
  cairn_definition_state st;
  memset(&st, 0xa5, sizeof st);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_definition_state(r, ns, name, &st), j);
  cairn_reader_end(r);
  return st;
}

TEST(a_paused_definition_reports_paused_until_unpaused) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char h[65];
  put_def(j, NULL, "x", "{\"steps\":[]}", h);
  put_def(j, "team", "x", "{\"steps\":[]}", h);
  cairn_definition_state st = def_state(j, NULL, "x");
  CHECK(!st.paused && st.n_deleted == 0, "a new name is neither paused "
                                         "nor has deleted versions");
  st = def_state(j, NULL, "never-registered");
  CHECK(!st.paused && st.n_deleted == 0, "an unknown name reads as zero");
  CHECK_OK(pause_def(j, NULL, "x", true), j);
  CHECK(def_state(j, NULL, "x").paused, "paused");
  CHECK(def_state(j, "default", "x").paused, "NULL is the default ns");
  CHECK(!def_state(j, "team", "x").paused, "another namespace is not");
  CHECK_OK(pause_def(j, NULL, "x", true), j);
  CHECK(def_state(j, NULL, "x").paused, "pausing twice keeps it paused");
  CHECK_OK(pause_def(j, NULL, "x", false), j);
  CHECK(!def_state(j, NULL, "x").paused, "unpaused");
  CHECK_ERR(pause_def(j, NULL, "nope", true), CAIRN_ENOTFOUND,
            "a name without versions cannot be paused");
  CHECK(strstr(cairn_journal_errmsg(j), "nope") != NULL, "names it");
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_ERR(cairn_batch_pause_definition(b, NULL, "", true), CAIRN_EINVAL,
            "a name is required");
  cairn_batch_free(b);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_deleted_version_is_reported_and_unknown_versions_are_not_found) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char h[3][65];
  put_def(j, NULL, "x", "{\"v\":1}", h[0]);
  put_def(j, NULL, "x", "{\"v\":2}", h[1]);
  put_def(j, NULL, "x", "{\"v\":3}", h[2]);
  CHECK_OK(pause_def(j, NULL, "x", true), j);
  CHECK_OK(delete_def(j, "x", 3), j);
  CHECK_OK(delete_def(j, "x", 1), j);
  CHECK_OK(delete_def(j, "x", 3), j);
  cairn_definition_state st = def_state(j, NULL, "x");
  CHECK_EQ(st.n_deleted, 2, "two versions deleted; deleting twice is once");
  CHECK_EQ(st.deleted[0], 1, "ascending");
  CHECK_EQ(st.deleted[1], 3, "ascending");
  CHECK(st.paused, "deleting keeps the pause");
  CHECK_ERR(delete_def(j, "x", 4), CAIRN_ENOTFOUND, "no version 4");
  const char *msg = cairn_journal_errmsg(j);
  CHECK(strstr(msg, "x") && strstr(msg, "1..3"),
        "the message names the definition and its versions");
  CHECK_ERR(delete_def(j, "y", 1), CAIRN_ENOTFOUND, "no such name");
  CHECK(strstr(cairn_journal_errmsg(j), "y") != NULL, "names it");
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_ERR(cairn_batch_delete_definition(b, NULL, "x", 0), CAIRN_EINVAL,
            "versions are numbered from 1");
  cairn_batch_free(b);
  cairn_reader *r;
  cairn_str json;
  char hash[65];
  uint32_t n;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_definition(r, h[0], &json), j);
  CHECK_OK(cairn_reader_definition_version(r, NULL, "x", 1, hash, &n), j);
  CHECK_STR(hash, h[0], "a deleted version keeps its snapshot");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_hash_tells_its_name_and_version) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char a[65], bh[65], c[65], ns[CAIRN_NAMESPACE_MAX + 1],
      name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t v = 0;
  CHECK_EQ(put_def(j, NULL, "x", "{\"v\":\"a\"}", a), 1, "x v1 is A");
  CHECK_EQ(put_def(j, NULL, "x", "{\"v\":\"b\"}", bh), 2, "x v2 is B");
  CHECK_EQ(put_def(j, "team", "y", "{\"v\":\"a\"}", a), 1, "team/y v1 is A");
  CHECK_EQ(put_def(j, NULL, "x", "{\"v\":\"a\"}", a), 3, "x v3 is A again");
  CHECK_EQ(put_def(j, "team", "y", "{\"v\":\"a\"}", a), 1,
           "registering y's latest again adds no version");
  CHECK_EQ(put_def(j, NULL, NULL, "{\"v\":\"c\"}", c), 0, "C has no name");
  cairn_reader *r;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_definition_of_hash(r, a, ns, name, &v), j);
  CHECK_STR(ns, "default", "the latest registration's namespace");
  CHECK_STR(name, "x", "its name");
  CHECK_EQ(v, 3, "and its version");
  CHECK_OK(cairn_reader_definition_of_hash(r, bh, ns, name, &v), j);
  CHECK_STR(name, "x", "B is x");
  CHECK_EQ(v, 2, "version 2");
  CHECK_ERR(cairn_reader_definition_of_hash(r, c, ns, name, &v),
            CAIRN_ENOTFOUND, "a snapshot stored without a name");
  CHECK_ERR(cairn_reader_definition_of_hash(r, HASH, ns, name, &v),
            CAIRN_ENOTFOUND, "a hash never stored");
  CHECK_ERR(cairn_reader_definition_of_hash(r, "abc", ns, name, &v),
            CAIRN_ENOTFOUND, "not a hash");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

static int put_map(cairn_journal *j, const char *from, const char *to,
                   const char *json) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  int rc = cairn_batch_put_mapping(b, from, to, json);
  if (rc == 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

TEST(mappings_round_trip_and_are_validated) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char a[65], bh[65];
  put_def(j, NULL, "x", "{\"v\":\"a\"}", a);
  put_def(j, NULL, "x", "{\"v\":\"b\"}", bh);
  CHECK_OK(put_map(j, a, bh, "{ \"fetch\": \"get\", \"score\": \"rank\" }"),
           j);
  cairn_reader *r;
  cairn_str json;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_mapping(r, a, bh, &json), j);
  CHECK(test_str_is(json, "{\"fetch\":\"get\",\"score\":\"rank\"}"),
        "the mapping reads back, canonical");
  CHECK_ERR(cairn_reader_mapping(r, bh, a, &json), CAIRN_ENOTFOUND,
            "a mapping has a direction");
  cairn_reader_end(r);
  CHECK_OK(put_map(j, a, bh, "{\"score\":\"rank\"}"), j);
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_mapping(r, a, bh, &json), j);
  CHECK(test_str_is(json, "{\"score\":\"rank\"}"), "a new mapping "
                                                    "replaces the old");
  cairn_reader_end(r);
  CHECK_OK(put_map(j, bh, a, "{}"), j);
  const char *bad[] = {"[\"a\"]", "{\"a\":1}", "{\"a\":{\"b\":\"c\"}}",
                       "\"a\"", "{oops", "{\"a\":\"b\",\"a\":\"c\"}",
                       "{\"a\":\"b\"} x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_ERR(put_map(j, a, bh, bad[i]), CAIRN_EINVAL,
              "only an object of strings is a mapping");
  CHECK(strstr(cairn_journal_errmsg(j), "JSON") != NULL, "says why");
  CHECK_ERR(put_map(j, a, "0123", "{}"), CAIRN_EINVAL, "a hash is 64 hex");
  CHECK_ERR(put_map(j, a, bh, NULL), CAIRN_EINVAL, "JSON is required");
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_mapping(r, a, bh, &json), j);
  CHECK(test_str_is(json, "{\"score\":\"rank\"}"), "refused mappings "
                                                    "changed nothing");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(audit_records_are_counted_by_action_and_time) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  const char *acts[5] = {"reset", "signal", "reset", "replay", "reset"};
  int64_t t0 = 1000000000;
  for (int i = 0; i < 5; i++) {
    cairn_batch *b;
    cairn_audit_record a = {.action = S(acts[i]), .time_us = t0 + i,
                            .ns = S(i == 4 ? "other" : "default")};
    CHECK_OK(cairn_batch_new(j, &b), j);
    CHECK_OK(cairn_batch_audit(b, &a), j);
    CHECK_OK(cairn_batch_commit(b), j);
    cairn_batch_free(b);
  }
  cairn_reader *r;
  uint64_t n;
  int64_t oldest;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_audit_count(r, NULL, "reset", t0, 10, &n, &oldest),
           j);
  CHECK_EQ(n, 2, "two resets in the default namespace");
  CHECK_EQ(oldest, t0, "the oldest is the first");
  CHECK_OK(cairn_reader_audit_count(r, NULL, "reset", t0 + 1, 10, &n,
                                    &oldest), j);
  CHECK_EQ(n, 1, "only records at or after the time count");
  CHECK_OK(cairn_reader_audit_count(r, NULL, "reset", t0, 1, &n, NULL), j);
  CHECK_EQ(n, 1, "counting stops at the maximum");
  CHECK_OK(cairn_reader_audit_count(r, "other", "reset", 0, 10, &n, NULL),
           j);
  CHECK_EQ(n, 1, "namespaces are counted apart");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}
