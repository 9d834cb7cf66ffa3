/*
 * engine_internal.h — the engine's state, shared by the files of engine/.
 *
 *   engine.c    the loop, group commit, leases, claiming and polling
 *   run.c       a run in memory: loading it from history, the scheduler,
 *               and what happens when a step ends
 *   control.c   signal, cancel, terminate: appends from any process
 *   start.c     registering definitions and starting runs
 *   fork.c      reset, rerun, replay
 *   config.c    $CAIRN_HOME/config.json
 *   error.c     error names and messages
 *
 * The core reaches the workflow language through lang/definition.h and
 * lang/template.h, and the step kinds only through kinds/kind.h (their
 * table); docs/architecture.md draws the rooms.
 */
#ifndef CAIRN_ENGINE_INTERNAL_H
#define CAIRN_ENGINE_INTERNAL_H

#include "lang/definition.h"
#include "kinds/kind.h"

#include <cairn/cairn.h>
#include <uthash.h>
#include <uv.h>

typedef struct cairn__run cairn__run;

/* A step of a run in memory. */
typedef struct cairn__step_state {
  int status;               /* cairn_step_status */
  uint32_t attempt;         /* latest attempt number */
  cJSON *output;            /* COMPLETED: its output (owned) */
  int64_t retry_at_us;      /* RETRYING: earliest next start */
  int64_t fire_at_us;       /* WAITING: deadline (sleep, wait timeout) */
  int64_t started_us;       /* latest attempt's start */
  bool restart;             /* RUNNING in history, nothing in flight: a
                               crash interrupted it; start a new attempt */
  cairn__attempt *inflight;
  cJSON *pending_input;     /* rendered input waiting for launch */
  char *error;              /* FAILED: the last failure's message */
  uint32_t reruns;          /* automatic reruns so far (auto_rerun) */
  uint32_t attempt_base;    /* attempts before this series: a single-step
                               rerun gets the step's whole retry policy and
                               auto_rerun budget again */
  char *wait_signal;        /* wait steps: the signal awaited */
  cJSON *assets;            /* [{key, partition?, hash}] its visible
                               completion materialized (assets.c) */
  cJSON *consumed;          /* the same, of what it consumes, read when
                               the running attempt started */
  cJSON *made;              /* assets an attempt that just succeeded
                               makes, until emitted */
} cairn__step_state;

/* A signal received by a run, waiting to be consumed by a wait step. */
typedef struct cairn__signal {
  uint32_t seq;
  char *name;
  char *data;               /* JSON text */
  bool consumed;
} cairn__signal;

struct cairn__run {
  cairn_engine *e;
  uint64_t key;
  char run_id[CAIRN_RUN_ID_LEN + 1];
  char workflow_id[CAIRN_WORKFLOW_ID_MAX + 1];
  cairn__def *def;          /* shared from the engine's cache */
  char def_hash[CAIRN_HASH_HEX_LEN + 1];
  cJSON *input;
  char *partition;          /* run.started's partition key, or NULL */
  int status;               /* cairn_run_status */
  uint32_t seen_seq;        /* history read up to here */
  cairn__step_state *steps; /* def->n_steps */
  cairn__signal *signals;
  size_t n_signals, cap_signals;
  uv_timer_t *timer;        /* the earliest deadline of its steps; freed
                               in its close callback (it may outlive the
                               run) */
  bool scheduled;           /* queued for the scheduler this turn */
  bool finished;            /* a final event was emitted or seen, and no
                               single-step rerun is pending */
  cJSON *dry_run;           /* origin's {STEP: {run, seq} | null}: steps
                               recorded, not performed (owned) */
  int rerun_step;           /* a pending single-step rerun's step, or -1 */
  uint32_t rerun_seq;       /* its step.rerun_requested */
  bool rerun_started;       /* its new attempt has started */
  cJSON *rerun_with;        /* its overridden `with` (owned), or NULL */
  UT_hash_handle hh;        /* engine->runs, by key */
};

/* A step whose side effect starts after the commit. */
typedef struct cairn__launch {
  uint64_t run;
  size_t step;
  uint32_t attempt;
} cairn__launch;

typedef struct cairn__native_kind {
  char *name;
  cairn_native_fn fn;
  void *ctx;
  bool on_loop;              /* cairn_engine_register_kind_inline */
  UT_hash_handle hh;
} cairn__native_kind;

/* A call deferred to the loop's next iteration (cairn__engine_defer). */
typedef struct cairn__deferred {
  void (*fn)(void *arg);
  void *arg;
} cairn__deferred;

typedef struct cairn__def_entry {
  char hash[CAIRN_HASH_HEX_LEN + 1];
  cairn__def *def;
  UT_hash_handle hh;
} cairn__def_entry;

struct cairn_engine {
  uv_loop_t loop;
  cairn_journal *j;
  char ns[CAIRN_NAMESPACE_MAX + 1];
  char owner[CAIRN_OWNER_MAX + 1];
  int64_t lease_ms;
  size_t max_runs;
  cairn__run *runs;          /* by key */
  size_t n_runs;
  cairn_batch *batch;        /* this turn's events, NULL when none */
  cairn__launch *launches;   /* side effects to start after the commit */
  size_t n_launches, cap_launches;
  char (*started)[CAIRN_RUN_ID_LEN + 1]; /* runs this engine started to
                                execute itself, adopted when work begins */
  size_t n_started, cap_started;
  cairn__native_kind *natives; /* registered C functions, by name */
  cairn__def_entry *defs;
  void *kind_slots[CAIRN__KIND_SLOTS]; /* each kind's shared state
                                (kind.h: cairn__engine_slot), by kind id */
  uv_check_t commit_check;   /* commits what the turn produced */
  uv_idle_t pending;         /* active while a batch waits: the loop must
                                not block in poll before committing it
                                (close callbacks run after the check);
                                runs the deferred calls */
  cairn__deferred *deferred; /* calls for the next iteration: inline
                                native steps */
  size_t n_deferred, cap_deferred;
  uv_timer_t tick;           /* leases, claims, polling */
  uv_poll_t watch;           /* the journal's change notification
                                (cairn_journal_watch), while working */
  bool watch_open;           /* watch was initialized */
  bool news;                 /* a commit of this process outside the
                                turn's batches (a signal, a cancel, a
                                fork): the next turn looks around */
  uv_async_t stop_async;
  int mode;                  /* cairn_work_mode while working */
  uint64_t target;           /* CAIRN_WORK_RUN: the run awaited */
  uint64_t *targets;         /* cairn_engine_work_runs: the runs awaited
                                (0: given up, it could not be loaded) */
  size_t n_targets;
  bool stopping;
  bool fatal;                /* a commit failed: work returns an error */
  int64_t last_renew_us;
  cairn_step_observer observer;
  void *observer_ctx;
  /* pending observer notes, delivered after the commit */
  cairn_step_note *notes;
  char **note_strs;
  size_t n_notes, cap_notes;
  cairn_limits limits;       /* from config.json */
  char ns_open[CAIRN_NAMESPACE_MAX + 1]; /* the namespace it was opened
                                with (cairn_engine_act_as(NULL) restores) */
  char actor[129];           /* cairn_engine_act_as; "" = cairn_actor() */
  cairn_change_fn on_change; /* cairn_engine_on_change */
  void *on_change_ctx;
  cairn_batch *free_batch;   /* this turn's starts of runs no one holds
                                (start_async without execute): no owner */
  struct cairn__pstart *pstarts; /* this turn's asynchronous starts */
  size_t n_pstarts, cap_pstarts;
  char errmsg[512];
};

/* An asynchronous start waiting for its turn's commit (start.c). */
typedef struct cairn__pstart {
  cairn_start_cb cb;
  void *ctx;
  cairn_start_result res;
  bool created;              /* its create op is in a batch */
  bool owned;                /* in e->batch (executed here), else
                                e->free_batch */
  bool raced;                /* another process created the workflow id
                                first: report its current run */
  char ns[CAIRN_NAMESPACE_MAX + 1];
} cairn__pstart;

/* The actor of audit records and origins: cairn_engine_act_as's, else
 * cairn_actor(). */
const char *cairn__engine_actor(const cairn_engine *e);
/* This turn's batch: the owned one (fenced by the engine's leases) or
 * the free one; created on first use, committed by the check. */
int cairn__engine_turn_batch(cairn_engine *e, bool owned, cairn_batch **out);
/* Keeps the loop from blocking until this turn's check has run. */
void cairn__engine_wake(cairn_engine *e);
/* This process committed outside the engine's turn (control.c, fork.c):
 * the journal's watch does not count its own commits as news, so the
 * next turn reads the owned runs' new events (a signal to a waiting step,
 * a cancel) and tells the change callback, as a watch would. */
void cairn__engine_news(cairn_engine *e);
/* start.c: after the turn's commits (rc of the commit the start was in),
 * reports every asynchronous start and forgets them. */
void cairn__starts_done(cairn_engine *e, int rc_owned, int rc_free);
/* start.c: the failed create of a commit was an asynchronous start's:
 * mark it raced; false when `run_id` is not one. */
bool cairn__start_raced(cairn_engine *e, const char *run_id);
/* engine.c: adopts the runs started with execute = true (while working). */
void cairn__engine_adopt_started(cairn_engine *e);

/* config.c: cairn__config_load is declared in kind.h (kinds read their
 * sections too). */

/* run.c: renders `t` (`raw` when it has no templates) with the run's
 * context plus `.output` (NULL: none), as a step's `with` is. */
int cairn__run_render_with_output(cairn__run *run, cairn__tmpl *t,
                                  const cJSON *raw, const cJSON *output,
                                  cJSON **out, char *err, size_t errlen);

/* assets.c (docs/assets.md). collect: the assets step i's successful
 * attempt makes (its rendered `input` gives the working directory),
 * hashed into st->made; CAIRN_E* with err when one cannot be: the attempt
 * then fails instead. emit: their asset.materialized events, after the
 * step.completed. fold / fold_reused: st->assets from history. consume:
 * st->consumed, the latest version of each key the step consumes. */
int cairn__assets_collect(cairn__run *run, size_t i, const cJSON *input,
                          const cJSON *output, char *err, size_t errlen);
void cairn__assets_emit(cairn__run *run, size_t i);
void cairn__assets_fold(cairn__run *run, size_t i, const cairn_event *ev);
void cairn__assets_fold_reused(cairn__run *run, size_t i, cairn_reader *r,
                               const cairn_event *reused);
void cairn__assets_consume(cairn__run *run, size_t i);

/* Adds one event for `run` to this turn's batch. */
int cairn__emit(cairn__run *run, const cairn_event *ev);
/* Queues a side effect to start after this turn's commit. */
int cairn__launch_after_commit(cairn__run *run, size_t step,
                               uint32_t attempt);
/* Queues an observer note. */
void cairn__note(cairn__run *run, size_t step, int status,
                 int64_t duration_us, const char *error);

/* The definition with this hash, parsed once (cached). */
int cairn__engine_def(cairn_engine *e, const char *hash, cairn__def **out);
bool cairn__engine_is_native(void *ctx, const char *kind);
/* Adds an already parsed definition to the cache (takes *def, sets it to
 * NULL, unless that hash is cached already). */
void cairn__engine_def_keep(cairn_engine *e, const char *hash,
                            cairn__def **def);

/* run.c */
int cairn__run_load(cairn_engine *e, uint64_t key, cairn__run **out);
void cairn__run_free(cairn__run *run);
/* Decides and emits what the run does next. */
void cairn__run_schedule(cairn__run *run);
/* Starts queued side effects of the run after the commit. */
void cairn__run_launch(cairn__run *run, size_t step, uint32_t attempt);
/* Reads events appended by others (signals, cancel) since seen_seq. */
int cairn__run_poll(cairn__run *run, cairn_reader *r);
/* Stops everything in flight (cancel, terminate, lease lost, close). */
void cairn__run_abandon(cairn__run *run);
/* The JSON of the run's final output, rendered now (caller frees). */
char *cairn__run_output(cairn__run *run, char *err, size_t errlen);

/* Owner identity: "host:pid:starttime" and its liveness test. */
void cairn__owner_self(char out[CAIRN_OWNER_MAX + 1]);
bool cairn__owner_dead(void *ctx, const char *owner);


/* control.c: 0 when request id `rid` (may be NULL) is new in the
 * engine's namespace, 1 when it was used for `action` already (do nothing
 * again), CAIRN_ECONFLICT (with errmsg) when it was used for another
 * action. */
int cairn__request_check(cairn_engine *e, const char *rid,
                         const char *action);

/* prompt.c: adds to `b` the prompt of each llm step of `def` (stored as
 * `def_hash` under its name) as a revision of artifact
 * prompt_<name>.<step>. */
int cairn__prompts_of_def(cairn_engine *e, cairn_batch *b,
                          const cairn__def *def, const char *def_hash);
/* The text of revision `hash` ("sha256:<hex>") of artifact `id` in the
 * engine's namespace, and the artifact (free with cairn_prompt_free).
 * CAIRN_EINVAL (not a hash), CAIRN_ENOTFOUND (no such artifact, or no such
 * revision anywhere), CAIRN_ECONFLICT (the hash is another artifact's),
 * with errmsg set. */
int cairn__prompt_find(cairn_engine *e, cairn_reader *r, const char *id,
                       const char *hash, cairn_prompt *art, cairn_str *text);

/* Whether a NUL-terminated string is one JSON value. */
bool cairn__json_valid_text(const char *s);
/* From journal/ids.c: wall-clock µs since the epoch. */
int64_t cairn__now_us(void);

#endif /* CAIRN_ENGINE_INTERNAL_H */
