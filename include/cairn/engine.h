/*
 * engine.h — running workflows durably.
 *
 * An engine owns one libuv loop (its own, not the default loop) and one
 * journal. It executes the runs it holds leases on: it folds each run's
 * history, decides the next steps (a pure function of definition and
 * history), and records every decision in the journal before acting on
 * it. Events produced in one loop turn are committed together (group
 * commit); a step's side effect starts only after its `step.started` is
 * durable, and a successor starts only after its predecessor's
 * `step.completed` is.
 *
 * Threads: every function here must be called from the thread that opened
 * the engine, except cairn_engine_stop, which any thread or a signal
 * handler may call. Native step functions run on libuv's thread pool.
 *
 * Callbacks never fire from inside the call that registered them, and a
 * call that fails never fires its callback.
 */
#ifndef CAIRN_ENGINE_H
#define CAIRN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cairn_engine cairn_engine;

typedef struct cairn_engine_options {
  const char *home;     /* the home directory (config.json; the LMDB
                           journal unless `journal`); required */
  const char *journal;  /* the journal's location when not home: a
                           postgresql:// URL (or another directory) */
  const char *ns;       /* namespace; NULL = "default" */
  bool no_sync;         /* see cairn_journal_options.no_sync */
  int64_t lease_ms;     /* lease length; 0 = 15000. Renewed every third */
  size_t max_runs;      /* runs executed at once; 0 = 1024 */
  bool must_exist;      /* fail with CAIRN_ENOTFOUND instead of creating
                           a journal that is not there */
} cairn_engine_options;

/* Opens an engine on the journal in opts->home (created when missing).
 * Returns 0 and *out (close with cairn_engine_close), or an error with a
 * message in errbuf. */
int cairn_engine_open(const cairn_engine_options *opts, cairn_engine **out,
                      char *errbuf, size_t errlen);

/* Stops every run in flight (their leases are released so another worker
 * resumes them), and frees the engine. NULL is a no-op. */
void cairn_engine_close(cairn_engine *e);

/* The journal the engine writes to (owned by the engine). */
cairn_journal *cairn_engine_journal(cairn_engine *e);

/* Detail of the engine's last failure: what and what to do. Never NULL. */
const char *cairn_engine_errmsg(const cairn_engine *e);

/* ---------------------------------------------------------- native kinds */

/* One call of a native step. Strings are valid during the call only. */
typedef struct cairn_native_call {
  const char *run_id;
  const char *workflow_id;
  const char *step;
  uint32_t attempt;
  const char *idempotency_key; /* stable for a run and step */
  const char *input;           /* the step's rendered `with`, JSON */
} cairn_native_call;

/* What a native step returns: set `output` (JSON text, malloc'ed; NULL
 * means null) on success, or `error` (malloc'ed text) on failure. The
 * engine frees both. */
typedef struct cairn_native_result {
  char *output;
  char *error;
  bool retryable;              /* the failure may succeed when retried */
} cairn_native_result;

typedef void (*cairn_native_fn)(void *ctx, const cairn_native_call *call,
                                cairn_native_result *result);

/* Registers step kind `name` (not a built-in one: exec, http, sleep,
 * wait). `fn` runs on libuv's thread pool, so it may block; `ctx` is passed
 * through. Returns 0, CAIRN_EINVAL (bad name), CAIRN_ECONFLICT (taken). */
int cairn_engine_register_kind(cairn_engine *e, const char *name,
                               cairn_native_fn fn, void *ctx);

/* The same for a function that never blocks (a quick computation, no
 * waiting on I/O, locks or sleep): it runs on the loop thread, in the
 * loop iteration after its step.started is durable, and its completion
 * commits in that iteration's turn, with no hand-off to the thread pool
 * and back. While it runs nothing else of the engine does, so a step
 * `timeout` cannot interrupt it. Same returns. */
int cairn_engine_register_kind_inline(cairn_engine *e, const char *name,
                                      cairn_native_fn fn, void *ctx);

/* ----------------------------------------------------------- definitions */

/* Validates a definition (errors name the JSON path and the fix) and
 * stores it as the next version of its name unless it equals the latest.
 * `hash` (may be NULL) receives its content hash, *version its version,
 * `name` (may be NULL, CAIRN_WORKFLOW_ID_MAX + 1 bytes) its name. */
int cairn_engine_register(cairn_engine *e, const char *json, size_t len,
                          char *hash, uint32_t *version, char *name);

/* ------------------------------------------------------------------ runs */

typedef struct cairn_start_request {
  const char *definition;  /* definition JSON, or NULL to use `name` */
  const char *name;        /* a registered definition's name (latest) */
  const char *input;       /* JSON; NULL = null */
  const char *workflow_id; /* NULL = "<name>-<12 hex>" */
  bool execute;            /* lease the run to this engine (it runs it in
                              cairn_engine_work); else a worker will */
  const char *actor;       /* for the audit index; NULL = $CAIRN_ACTOR or
                              the OS user */
  const char *partition;   /* the run's partition key (docs/assets.md);
                              NULL: none */
} cairn_start_request;

typedef struct cairn_start_result {
  char workflow_id[201];
  char run_id[37];
  bool existed;            /* the workflow id existed: nothing started;
                              run_id is its current run */
} cairn_start_result;

/* Starts a run (idempotent by workflow id: an existing id starts nothing
 * and reports its current run). Returns 0, CAIRN_EINVAL (invalid
 * definition or input, with the path in errmsg), CAIRN_ENOTFOUND (no
 * definition of that name), CAIRN_EFORBIDDEN (an llm step names a model
 * outside the llm policy of config.json; errmsg names the step, the
 * model and the policy). */
int cairn_engine_start(cairn_engine *e, const cairn_start_request *req,
                       cairn_start_result *out);

/* What cairn_engine_work does. */
typedef enum cairn_work_mode {
  CAIRN_WORK_RUN = 1,   /* execute until run `run_id` ends */
  CAIRN_WORK_DRAIN = 2, /* claim and execute runs until none can make
                           progress (all finished, or waiting for signals) */
  CAIRN_WORK_FOREVER = 3, /* a worker: claim runs as they come, until
                            cairn_engine_stop */
  CAIRN_WORK_IDLE = 5    /* execute nothing (runs it starts stay for
                            workers): serve the handles an embedder added
                            to cairn_engine_loop, until cairn_engine_stop */
} cairn_work_mode;

/* Runs the loop. Returns 0 when done (for CAIRN_WORK_RUN, whatever the
 * run's outcome: read it from the journal), or an error. */
int cairn_engine_work(cairn_engine *e, int mode, const char *run_id);

/* Executes exactly the runs `run_ids` (n of them; run ids), at most
 * max_runs at once (cairn_engine_options): each is claimed when there is
 * room and its lease is free; one another worker holds is left to it and
 * awaited. Returns 0 when none of them is left in flight: each has
 * finished, waits for a signal, or could not be loaded (a native kind
 * this process lacks; reported on stderr). CAIRN_ENOTFOUND (errmsg names
 * the run) when a run id is unknown: nothing ran. */
int cairn_engine_work_runs(cairn_engine *e, const char *const *run_ids,
                           size_t n);

/* ------------------------------------------------------------ embedding */

/* The engine's libuv loop, for an embedder's own handles (cairn serve
 * drives its HTTP server from it). They run inside cairn_engine_work;
 * close them before cairn_engine_close. */
struct uv_loop_s;
struct uv_loop_s *cairn_engine_loop(cairn_engine *e);

/* The namespace and actor the following calls act in and as (start,
 * register, fork, signal, cancel, definition state): a server sets them
 * per request from the caller's token. `ns` NULL keeps the namespace the
 * engine was opened with; `actor` NULL means cairn_actor(). Returns 0 or
 * CAIRN_EINVAL (an empty or over-long name). */
int cairn_engine_act_as(cairn_engine *e, const char *ns, const char *actor);

/* Called on the loop thread after each commit of this engine's turn, and
 * when the journal's watch reports another process's commit (or at the
 * tick, where the journal offers no watch): something may have changed.
 * One callback; NULL removes it. */
typedef void (*cairn_change_fn)(void *ctx);
void cairn_engine_on_change(cairn_engine *e, cairn_change_fn cb, void *ctx);

/* What an asynchronous start reports: rc 0 and the result (existed when
 * the workflow id was taken), or the error and its message. */
typedef void (*cairn_start_cb)(void *ctx, int rc,
                               const cairn_start_result *res,
                               const char *errmsg);

/* cairn_engine_start through the engine's group commit: the run is
 * created in this loop turn's batch, with everything else the turn
 * commits, and `cb` fires after that commit is durable (never from inside
 * this call). Starts in one turn share one transaction; two starts of one
 * workflow id in a turn create one run. Errors found before anything is
 * queued (invalid definition or input, unknown name, policy) are returned
 * at once, as by cairn_engine_start, and `cb` never fires. A run started
 * with req->execute is executed by this engine when it works in
 * CAIRN_WORK_FOREVER mode. Only while cairn_engine_work runs. */
int cairn_engine_start_async(cairn_engine *e, const cairn_start_request *req,
                             cairn_start_cb cb, void *ctx);

/* Executes run `run_id`, leased to this engine by a start or fork with
 * `execute`, while cairn_engine_work runs in CAIRN_WORK_FOREVER mode
 * (a fork's new run, a single-step rerun's new attempt). CAIRN_ENOTFOUND,
 * or CAIRN_ECONFLICT when the run is not leased to this engine. */
int cairn_engine_adopt(cairn_engine *e, const char *run_id);

/* Sets a definition's state, as `cairn workflow pause|unpause|delete`:
 * CAIRN_DEF_PAUSE stops new runs and derived runs of name `name` until
 * CAIRN_DEF_UNPAUSE; CAIRN_DEF_DELETE deletes `version` (past runs keep
 * their snapshot; version is ignored otherwise). One transaction with an audit record ("workflow.pause",
 * "workflow.unpause", "workflow.delete") and `reason`. CAIRN_ENOTFOUND
 * when no such definition or version. */
typedef enum cairn_definition_op {
  CAIRN_DEF_PAUSE = 1, CAIRN_DEF_UNPAUSE = 2, CAIRN_DEF_DELETE = 3
} cairn_definition_op;
int cairn_engine_definition_state(cairn_engine *e, const char *name, int op,
                                  uint32_t version, const char *reason);

/* Asks cairn_engine_work to return soon. Safe from any thread and from a
 * signal handler. */
void cairn_engine_stop(cairn_engine *e);

/* Observes step transitions after they are durable (for progress lines). */
typedef struct cairn_step_note {
  const char *run_id;
  const char *step;
  int status;         /* cairn_step_status */
  uint32_t attempt;
  int64_t duration_us; /* for completed / failed */
  const char *error;  /* for failed, else NULL */
} cairn_step_note;
typedef void (*cairn_step_observer)(void *ctx, const cairn_step_note *n);
void cairn_engine_observe(cairn_engine *e, cairn_step_observer cb,
                          void *ctx);

/* ----------------------------------------------------------------- forks */

/* How a derived run relates to its parent (docs/forks.md). */
typedef enum cairn_fork_kind {
  CAIRN_FORK_RESET = 1,      /* new current run: reuse what completed up to
                                and including `step`, run the rest */
  CAIRN_FORK_RERUN_FROM = 2, /* new current run: `step` and its downstream
                                run again, other completed steps reused */
  CAIRN_FORK_REPLAY = 3,     /* new run, not current, of a finished run */
  CAIRN_FORK_RERUN_STEP = 4  /* the same finished run: a new attempt of
                                `step`, then its output is recomputed */
} cairn_fork_kind;

typedef struct cairn_fork_request {
  int kind;                  /* cairn_fork_kind */
  const char *id;            /* run id, or workflow id (its current run) */
  const char *step;          /* the point (reset, rerun); NULL for replay */
  const char *reason;        /* recorded in origin, history and audit */
  const char *request_id;    /* the same id twice returns the first result */
  const char *definition;    /* replay: NULL or "original", "current" (the
                                latest version of its name), or JSON */
  const char *const *maps;   /* replay: "OLD=NEW" step renames */
  size_t n_maps;
  bool save_mapping;         /* remember the renames for this pair of
                                definitions */
  bool reuse;                /* replay: reuse steps whose name and
                                effective parameters are unchanged */
  bool allow_mutations;      /* perform steps marked "mutates" for real */
  bool allow_stale_assets;   /* replay: start although assets the run
                                produced are stale (docs/assets.md) */
  bool no_reapply_signals;   /* reset: do not re-deliver later signals */
  const char *const *overrides; /* "input:PATH=JSON", "param:STEP.FIELD=
                                   JSON", "prompt:STEP=TEXT",
                                   "model:STEP=PROVIDER:MODEL" */
  size_t n_overrides;
  /* A new prompt by artifact (docs/prompts.md): the text of revision
   * prompt_hash ("sha256:<hex>") of artifact prompt_artifact
   * ("prompt_<id>") becomes the prompt of llm step prompt_step (NULL: the
   * artifact's own step, else the definition's only llm step). Applied
   * before `overrides`. Not for resets. */
  const char *prompt_artifact;
  const char *prompt_hash;
  const char *prompt_step;
  /* A new model ("PROVIDER:MODEL") for llm step model_step (NULL: the
   * definition's only llm step). Applied before `overrides`. */
  const char *model;
  const char *model_step;
  bool execute;              /* lease the new run to this engine */
} cairn_fork_request;

typedef struct cairn_fork_result {
  char workflow_id[201];
  char run_id[37];           /* the new run (the same run for RERUN_STEP) */
  char parent_run_id[37];
  char step[129];
  bool repeated;             /* the request id was seen: nothing was done,
                                this is the first result */
  char *dry_run;             /* steps that will be dry-run, comma-separated
                                (malloc'ed, may be NULL) */
  char *for_real;            /* mutating steps that will really run */
  char *stale_assets;        /* replay: JSON array of the parent's stale
                                assets (malloc'ed, NULL when none); set
                                also when the replay was refused for them */
} cairn_fork_result;

/*
 * Derives a run. Errors (errmsg says what to do): CAIRN_ENOTFOUND (run or
 * step; the message lists the steps), CAIRN_ECONFLICT (the step has not
 * completed; the run is still in flight for replay and reruns; the
 * definition version was deleted or the workflow is paused; an unmapped
 * renamed step), CAIRN_EFORBIDDEN (the run is in another namespace),
 * CAIRN_ERATELIMIT (too deep a chain of derived runs, or too many derived
 * runs a minute in the namespace), CAIRN_EINVAL (bad override),
 * CAIRN_EFORBIDDEN also when an llm step that will run names a model
 * outside the llm policy; CAIRN_ESTALE: a replay of a run whose assets are
 * stale, without allow_stale_assets (out->stale_assets lists them; the
 * refusal is in the audit index as action "replay_refused").
 * Free the result's lists with cairn_fork_result_free.
 */
int cairn_engine_fork(cairn_engine *e, const cairn_fork_request *req,
                      cairn_fork_result *out);
void cairn_fork_result_free(cairn_fork_result *r);

/* ------------------------------------------------------ prompt artifacts */

typedef struct cairn_prompt_added {
  char id[CAIRN_PROMPT_ID_MAX + 1];   /* "prompt_<name>" */
  char hash[CAIRN_HASH_HEX_LEN + 1];  /* the text's SHA-256, hex */
  size_t revisions;                   /* the artifact's revisions now */
  bool added;                         /* false: it was the latest already */
} cairn_prompt_added;

/* Registers `text` as the latest revision of artifact `name` ("NAME" or
 * "prompt_NAME"; letters, digits, '.', '_', '-') in the engine's
 * namespace: the artifact is created, or the text appended unless it is
 * the latest revision already. A definition's llm step prompt is the
 * artifact prompt_<definition>.<step>: adding to that id gives the step a
 * revision that replays can name. CAIRN_EINVAL for a bad name or an empty
 * text. */
int cairn_engine_prompt_add(cairn_engine *e, const char *name,
                            const char *text, cairn_prompt_added *out);

/* --------------------------------------------------------------- control */

/* Appends signal.received (with `data` JSON, NULL = null) to run `id`
 * (run id or workflow id); a waiting step consumes it. Recorded in the
 * audit index with `reason` and `request_id` (may be NULL: the same id
 * twice does nothing the second time and returns 0). CAIRN_ECONFLICT when
 * the run has ended. */
int cairn_engine_signal(cairn_engine *e, const char *id, const char *name,
                        const char *data, const char *reason,
                        const char *request_id);

/* Ends run `id` as cancelled (terminate = false) or terminated, with
 * `reason`, in history and in the audit index; the worker executing it
 * stops its steps in flight. CAIRN_ECONFLICT when it has ended already.
 * `request_id` as for cairn_engine_signal. */
int cairn_engine_cancel(cairn_engine *e, const char *id, bool terminate,
                        const char *reason, const char *request_id);

/* Who acts, as recorded in audit records and origins: $CAIRN_ACTOR, else
 * $USER, else the OS user's name. Never NULL; a constant or environment
 * string, not to be freed. */
const char *cairn_actor(void);

/* The engine's limits, from $CAIRN_HOME/config.json (docs/config.md). */
typedef struct cairn_limits {
  int max_fork_depth;        /* derived runs in a chain; default 5 */
  int max_forks_per_minute;  /* per namespace; default 20 */
  int64_t max_asset_bytes;   /* assets.max_bytes: the largest file a step
                                may declare it produces; default 256 MiB */
} cairn_limits;
const cairn_limits *cairn_engine_limits(const cairn_engine *e);

/* A model's price, from "llm.prices" in config.json (docs/config.md). */
typedef struct cairn_llm_price {
  double input_per_mtok;     /* US dollars per million input tokens */
  double output_per_mtok;    /* US dollars per million output tokens */
} cairn_llm_price;

/* Reads the price of `model` ("PROVIDER:MODEL", e.g. "openai:gpt-4o-mini")
 * from `home`/config.json; needs no engine (the file is read on every
 * call). Returns 0 and *out, CAIRN_ENOTFOUND when the file (or its
 * llm.prices) has no entry for the model, or CAIRN_ECONFIG / CAIRN_EIO
 * when the file is unreadable or invalid; err says which. The cost of a
 * call is input_tokens * input_per_mtok / 1e6 + output_tokens *
 * output_per_mtok / 1e6. */
int cairn_config_llm_price(const char *home, const char *model,
                           cairn_llm_price *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_ENGINE_H */
