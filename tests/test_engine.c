/*
 * test_engine.c — the engine through its public API, with native step
 * kinds whose behaviour each test scripts: chains, retries by policy,
 * timeouts, idempotent starts, resuming a run another engine let go of,
 * and observers that only hear of durable transitions.
 */
#include "test.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <unistd.h>

static cairn_engine *open_engine(const char *home) {
  cairn_engine *e;
  char err[512] = "";
  cairn_engine_options o = {.home = home, .journal = test_journal_at(home), .no_sync = true};
  int rc = cairn_engine_open(&o, &e, err, sizeof err);
  if (rc)
    FAIL("engine open: %s %s", cairn_err_name(rc), err);
  return e;
}

/* A native kind that counts its calls, and fails the first `fail_first`
 * of them (retryable), echoing its input otherwise. */
typedef struct script {
  pthread_mutex_t mu;
  int calls;
  int fail_first;
  int sleep_ms;
} script;

static void scripted(void *ctx, const cairn_native_call *call,
                     cairn_native_result *res) {
  script *s = ctx;
  pthread_mutex_lock(&s->mu);
  int n = ++s->calls;
  pthread_mutex_unlock(&s->mu);
  if (s->sleep_ms)
    usleep((useconds_t)s->sleep_ms * 1000);
  if (n <= s->fail_first) {
    res->error = strdup("transient trouble");
    res->retryable = true;
    return;
  }
  res->output = strdup(call->input);
}

/* Reads run `id`'s final status and output. */
static int outcome(cairn_engine *e, const char *id, char *out, size_t len) {
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  cairn_event ev = {0};
  CHECK_OK(cairn_reader_begin(cairn_engine_journal(e), &r), NULL);
  CHECK_OK(cairn_reader_run_by_id(r, id, &info), NULL);
  CHECK_OK(cairn_reader_run_view(r, info.key, &v), NULL);
  if (v.output_seq)
    CHECK_OK(cairn_reader_event(r, info.key, v.output_seq, &ev), NULL);
  snprintf(out, len, "%.*s", (int)ev.output.len,
           ev.output.ptr ? ev.output.ptr : "");
  cairn_reader_end(r);
  return v.status;
}

static void start(cairn_engine *e, const char *def, const char *input,
                  bool execute, cairn_start_result *s) {
  cairn_start_request req = {.definition = def, .input = input,
                             .execute = execute};
  int rc = cairn_engine_start(e, &req, s);
  if (rc)
    FAIL("start: %s: %s", cairn_err_name(rc), cairn_engine_errmsg(e));
}

static const char chain[] =
    "{\"name\":\"chain\",\"steps\":["
    "{\"name\":\"a\",\"kind\":\"echo\",\"with\":{\"v\":\"{{ .input.x }}\"}},"
    "{\"name\":\"b\",\"kind\":\"echo\","
    "\"with\":{\"v\":\"{{ .steps.a.output.v + 1 }}\"}}],"
    "\"output\":\"{{ .steps.b.output.v }}\"}";

TEST(a_chain_of_native_steps_runs_to_completion) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  cairn_start_result r;
  char out[256];
  start(e, chain, "{\"x\": 41}", true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_COMPLETED,
           "the run completes");
  CHECK_STR(out, "42", "the output flows through templates");
  CHECK_EQ(s.calls, 2, "each step ran once");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

/* An inline kind's calls, and the thread each ran on. */
typedef struct on_loop_calls {
  int calls;
  bool off_thread;      /* a call ran on another thread than the loop's */
  pthread_t loop;
  int fail_first;
} on_loop_calls;

static void on_loop_fn(void *ctx, const cairn_native_call *call,
                       cairn_native_result *res) {
  on_loop_calls *c = ctx;
  if (!pthread_equal(pthread_self(), c->loop))
    c->off_thread = true;
  if (++c->calls <= c->fail_first) {
    res->error = strdup("transient trouble");
    res->retryable = true;
    return;
  }
  res->output = strdup(call->input);
}

TEST(an_inline_kind_runs_on_the_loop_thread_and_completes_the_chain) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  on_loop_calls c = {.loop = pthread_self(), .fail_first = 1};
  CHECK_OK(cairn_engine_register_kind_inline(e, "echo", on_loop_fn, &c),
           NULL);
  CHECK_ERR(cairn_engine_register_kind(e, "echo", scripted, NULL),
            CAIRN_ECONFLICT, "one name, one kind, inline or not");
  const char *def =
      "{\"name\":\"chain\",\"steps\":["
      "{\"name\":\"a\",\"kind\":\"echo\",\"with\":{\"v\":\"{{ .input.x }}\"},"
      "\"retry\":{\"max_attempts\":2,\"initial_delay_ms\":1}},"
      "{\"name\":\"b\",\"kind\":\"echo\","
      "\"with\":{\"v\":\"{{ .steps.a.output.v + 1 }}\"}}],"
      "\"output\":\"{{ .steps.b.output.v }}\"}";
  cairn_start_result r;
  char out[256];
  start(e, def, "{\"x\": 41}", true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_COMPLETED,
           "the run completes");
  CHECK_STR(out, "42", "the output flows through templates");
  CHECK_EQ(c.calls, 3, "a failed once and was retried, then b ran");
  CHECK(!c.off_thread, "every call ran on the thread working the loop");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

/* Stops the engine when step a's start is durable: its inline call was
 * queued for the loop's next iteration in that same turn. */
static void stop_at_a_running(void *ctx, const cairn_step_note *n) {
  if (n->status == CAIRN_STEP_RUNNING && strcmp(n->step, "a") == 0)
    cairn_engine_stop(ctx);
}

TEST(an_engine_stopped_as_an_inline_step_starts_loses_nothing) {
  /* The engine is stopped in the turn that queued step a's inline call
   * and closed: the call ends (run, or cancelled if still queued at the
   * close) without a leak (ASan), and the next engine completes the run,
   * running a again only if its completion was never recorded. */
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  on_loop_calls c = {.loop = pthread_self()};
  CHECK_OK(cairn_engine_register_kind_inline(e, "echo", on_loop_fn, &c),
           NULL);
  cairn_engine_observe(e, stop_at_a_running, e);
  cairn_start_result r;
  start(e, chain, "{\"x\": 1}", true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  cairn_engine_close(e);
  int first = c.calls;
  CHECK(first <= 1, "b never started: the engine stopped during a");
  e = open_engine(home);
  CHECK_OK(cairn_engine_register_kind_inline(e, "echo", on_loop_fn, &c),
           NULL);
  char out[256];
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_COMPLETED,
           "the next engine completes the run");
  CHECK_STR(out, "2", "with the chain's output");
  /* a ran in the first engine only if its call was not still queued at
   * the stop; if its completion then missed the last commit, it ran
   * again (at least once): b ran exactly once. */
  CHECK(c.calls == 2 || (first == 1 && c.calls == 3),
        "a ran once, or again only after a completion never recorded; "
        "b once");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

TEST(a_retryable_failure_is_retried_by_the_steps_policy) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 2, 0};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  const char *def =
      "{\"name\":\"r\",\"steps\":[{\"name\":\"a\",\"kind\":\"echo\","
      "\"retry\":{\"max_attempts\":3,\"initial_delay_ms\":5},"
      "\"with\":{\"v\":1}}]}";
  cairn_start_result r;
  char out[256];
  start(e, def, NULL, true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_COMPLETED,
           "the third attempt succeeds");
  CHECK_EQ(s.calls, 3, "after two failures");
  /* Without a policy, one attempt only. */
  script once = {PTHREAD_MUTEX_INITIALIZER, 0, 1, 0};
  cairn_engine_close(e);
  e = open_engine(home);
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &once), NULL);
  start(e, chain, "{\"x\": 1}", true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_FAILED,
           "without a retry policy the first failure fails the run");
  CHECK_EQ(once.calls, 1, "and nothing else ran");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

TEST(a_native_step_past_its_timeout_fails_with_timeout) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 300};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  const char *def = "{\"name\":\"t\",\"steps\":[{\"name\":\"a\","
                    "\"kind\":\"echo\",\"timeout_ms\":20,\"with\":{}}]}";
  cairn_start_result r;
  char out[256];
  start(e, def, NULL, true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_FAILED,
           "the run fails");
  cairn_reader *rd;
  cairn_run_info info;
  cairn_step_view sv;
  CHECK_OK(cairn_reader_begin(cairn_engine_journal(e), &rd), NULL);
  CHECK_OK(cairn_reader_run_by_id(rd, r.run_id, &info), NULL);
  CHECK_OK(cairn_reader_step_view(rd, info.key, "a", &sv), NULL);
  cairn_event ev;
  CHECK_OK(cairn_reader_event(rd, info.key, sv.latest.end_seq, &ev), NULL);
  CHECK(test_str_is(ev.error_code, "timeout"), "the failure says timeout");
  cairn_reader_end(rd);
  cairn_engine_close(e); /* waits for the late thread: no leak, no crash */
  test_rmdir_free(home);
}

TEST(starting_an_existing_workflow_id_starts_nothing) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  cairn_start_request req = {.definition = chain, .input = "{\"x\":1}",
                             .workflow_id = "once", .execute = true};
  cairn_start_result a, b;
  CHECK_OK(cairn_engine_start(e, &req, &a), NULL);
  CHECK(!a.existed, "the first start creates the run");
  CHECK_OK(cairn_engine_start(e, &req, &b), NULL);
  CHECK(b.existed, "the second reports the existing workflow");
  CHECK_STR(b.run_id, a.run_id, "and its current run");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

TEST(a_run_let_go_by_one_engine_is_resumed_by_another) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  cairn_start_result r;
  char out[256];
  start(e, chain, "{\"x\": 9}", false, &r); /* left for a worker */
  cairn_engine_close(e);
  e = open_engine(home);
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_DRAIN, NULL), NULL);
  CHECK_EQ(outcome(e, r.run_id, out, sizeof out), CAIRN_RUN_COMPLETED,
           "a draining engine completes the waiting run");
  CHECK_STR(out, "10", "with the right output");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

typedef struct notes {
  cairn_engine *e;
  int completed;
  bool durable;
} notes;

static void on_note(void *ctx, const cairn_step_note *n) {
  notes *ns = ctx;
  if (n->status != CAIRN_STEP_COMPLETED)
    return;
  ns->completed++;
  /* The completion must already be readable from the journal. */
  cairn_reader *r;
  cairn_run_info info;
  cairn_step_view sv;
  cairn_reader_begin(cairn_engine_journal(ns->e), &r);
  ns->durable &= cairn_reader_run_by_id(r, n->run_id, &info) == 0 &&
                 cairn_reader_step_view(r, info.key, n->step, &sv) == 0 &&
                 sv.status == CAIRN_STEP_COMPLETED;
  cairn_reader_end(r);
}

TEST(observers_hear_of_a_completion_only_once_it_is_durable) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  notes ns = {e, 0, true};
  CHECK_OK(cairn_engine_register_kind(e, "echo", scripted, &s), NULL);
  cairn_engine_observe(e, on_note, &ns);
  cairn_start_result r;
  start(e, chain, "{\"x\": 1}", true, &r);
  CHECK_OK(cairn_engine_work(e, CAIRN_WORK_RUN, r.run_id), NULL);
  CHECK_EQ(ns.completed, 2, "both completions are told");
  CHECK(ns.durable, "each was in the journal when told");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

TEST(kind_names_are_checked_when_registered) {
  char *home = test_tmpdir();
  cairn_engine *e = open_engine(home);
  script s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  CHECK_ERR(cairn_engine_register_kind(e, "exec", scripted, &s),
            CAIRN_ECONFLICT, "a built-in kind cannot be replaced");
  CHECK_OK(cairn_engine_register_kind(e, "mine", scripted, &s), NULL);
  CHECK_ERR(cairn_engine_register_kind(e, "mine", scripted, &s),
            CAIRN_ECONFLICT, "a kind is registered once");
  cairn_start_request req = {
      .definition = "{\"name\":\"x\",\"steps\":[{\"name\":\"a\","
                    "\"kind\":\"unknown\",\"with\":{}}]}"};
  cairn_start_result r;
  CHECK_ERR(cairn_engine_start(e, &req, &r), CAIRN_EINVAL,
            "a definition with an unknown kind is refused");
  CHECK(strstr(cairn_engine_errmsg(e), "unknown") != NULL,
        "the message names the kind");
  cairn_engine_close(e);
  test_rmdir_free(home);
}

/* A native kind that sleeps and records how many of its calls overlap. */
typedef struct overlap {
  pthread_mutex_t mu;
  int now, most, calls;
} overlap;

static void overlapping(void *ctx, const cairn_native_call *call,
                        cairn_native_result *res) {
  overlap *o = ctx;
  pthread_mutex_lock(&o->mu);
  o->calls++;
  if (++o->now > o->most)
    o->most = o->now;
  pthread_mutex_unlock(&o->mu);
  usleep(100 * 1000);
  pthread_mutex_lock(&o->mu);
  o->now--;
  pthread_mutex_unlock(&o->mu);
  res->output = strdup(call->input);
}

TEST(work_runs_executes_exactly_the_runs_given_within_the_limit) {
  char *home = test_tmpdir();
  cairn_engine *e;
  char err[512] = "", out[64];
  cairn_engine_options o = {.home = home, .journal = test_journal_at(home), .no_sync = true, .max_runs = 2};
  if (cairn_engine_open(&o, &e, err, sizeof err) != 0)
    FAIL("engine open: %s", err);
  overlap ov = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
  CHECK_OK(cairn_engine_register_kind(e, "slow", overlapping, &ov), NULL);
  const char *def = "{\"name\":\"w\",\"steps\":[{\"name\":\"a\","
                    "\"kind\":\"slow\",\"with\":{\"v\":1}}]}";
  cairn_start_result r[5];
  const char *ids[5];
  for (int i = 0; i < 5; i++) {
    start(e, def, NULL, false, &r[i]);
    ids[i] = r[i].run_id;
  }
  const char *bad[] = {ids[0], "no-such-run"};
  CHECK_ERR(cairn_engine_work_runs(e, bad, 2), CAIRN_ENOTFOUND,
            "an unknown run id is refused");
  CHECK_EQ(ov.calls, 0, "and nothing ran");
  CHECK_OK(cairn_engine_work_runs(e, ids, 0), NULL); /* none: done */
  CHECK_OK(cairn_engine_work_runs(e, ids, 4), NULL);
  for (int i = 0; i < 4; i++)
    CHECK_EQ(outcome(e, ids[i], out, sizeof out), CAIRN_RUN_COMPLETED,
             "every run given has finished when it returns");
  CHECK_EQ(outcome(e, ids[4], out, sizeof out), CAIRN_RUN_RUNNING,
           "a run not given is left alone");
  CHECK_EQ(ov.calls, 4, "each step ran once");
  CHECK_EQ(ov.most, 2, "two at once: max_runs");
  cairn_engine_close(e);
  test_rmdir_free(home);
}
