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
  int rc = cairn_journal_open(home, &o, &j, err, sizeof err);
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
  test_rmdir(home);
  free(home);
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
  char *home = test_tmpdir();
  cairn_journal_close(open_j(home));
  set_schema(home, 99);
  cairn_journal *j = NULL;
  char err[512] = "";
  CHECK_ERR(cairn_journal_open(home, NULL, &j, err, sizeof err),
            CAIRN_ESCHEMA, "another schema version is refused");
  CHECK(j == NULL, "no handle on failure");
  CHECK(strstr(err, "schema version 99") != NULL, "the message names it");
  test_rmdir(home);
  free(home);
}

TEST(open_refuses_files_that_are_not_a_journal) {
  char *home = test_tmpdir();
  char path[4200];
  snprintf(path, sizeof path, "%s/data.mdb", home);
  FILE *f = fopen(path, "w");
  for (int i = 0; i < 20000; i++)
    fputc("garbage"[i % 7], f);
  fclose(f);
  cairn_journal *j = NULL;
  char err[512] = "";
  int rc = cairn_journal_open(home, NULL, &j, err, sizeof err);
  CHECK(rc == CAIRN_ECORRUPT || rc == CAIRN_EIO, "garbage is refused");
  CHECK(strlen(err) > 0, "with a message");
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
}

TEST(the_run_view_stays_small_however_long_the_run) {
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
  test_rmdir(home);
  free(home);
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

/* Puts (or deletes, when val is NULL) one raw record. */
static void raw_put(const char *home, const char *db, const void *key,
                    size_t kn, const void *val, size_t vn) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  CHECK_EQ(mdb_env_open(env, home, 0, 0644), 0, "raw open");
  mdb_txn_begin(env, NULL, 0, &txn);
  mdb_dbi_open(txn, db, 0, &dbi);
  MDB_val k = {kn, (void *)key}, v = {vn, (void *)val};
  int rc = val ? mdb_put(txn, dbi, &k, &v, 0) : mdb_del(txn, dbi, &k, NULL);
  CHECK_EQ(rc, 0, "raw write");
  CHECK_EQ(mdb_txn_commit(txn), 0, "raw commit");
  mdb_env_close(env);
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
  raw_put(home, "views", kb, 10, buf, n);
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
  test_rmdir(home);
  free(home);
}

TEST(verify_reports_an_undecodable_event_by_run_and_seq) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 1);
  cairn__put_be32(kb + 8, 3);
  raw_put(home, "events", kb, 12, "\xdf\xff\xff\xff\xff", 5);
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
  test_rmdir(home);
  free(home);
}

TEST(verify_reports_a_gap_in_history) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 1);
  cairn__put_be32(kb + 8, 2);
  raw_put(home, "events", kb, 12, NULL, 0);
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
  test_rmdir(home);
  free(home);
}

TEST(verify_reports_events_of_no_run) {
  char id[37];
  char *home = damaged_setup(id);
  unsigned char kb[12];
  cairn__put_be64(kb, 77);
  cairn__put_be32(kb + 8, 1);
  raw_put(home, "events", kb, 12, "\x80", 1);
  cairn_journal *j = open_j(home);
  problems ps = {0};
  CHECK_ERR(cairn_journal_verify(j, on_problem, &ps, NULL), CAIRN_ECORRUPT,
            "verify finds the orphan event");
  CHECK(strstr(ps.first, "no run") != NULL, "and says so");
  cairn_journal_close(j);
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
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
  test_rmdir(home);
  free(home);
}
