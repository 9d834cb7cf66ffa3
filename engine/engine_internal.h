/*
 * engine_internal.h — the engine's state, shared by the files of engine/.
 *
 *   engine.c    the loop, group commit, leases, claiming and polling
 *   run.c       a run in memory: loading it from history, the scheduler,
 *               and what happens when a step ends
 *   kind_exec.c the exec step kind (uv_spawn)
 *   kind_http.c the http step kind
 *   kind_llm.c  the llm step kind (llm.h)
 *   http_client.c the HTTP client both use (libcurl multi on the loop)
 *   kind_native.c native step kinds on the thread pool
 *   control.c   signal, cancel, terminate: appends from any process
 *   start.c     registering definitions and starting runs
 */
#ifndef CAIRN_ENGINE_INTERNAL_H
#define CAIRN_ENGINE_INTERNAL_H

#include "definition.h"

#include <cairn/cairn.h>
#include <uthash.h>
#include <uv.h>

typedef struct cairn__run cairn__run;
typedef struct cairn__attempt cairn__attempt;

/* How an attempt ended, as a step kind reports it. */
typedef struct cairn__outcome {
  bool ok;
  cJSON *output;         /* ok: the output (owned; NULL = null) */
  const char *code;      /* failure: a short code ("exit_status") */
  char *message;         /* failure: human text (owned) */
  cJSON *details;        /* failure: structured details (owned; may be
                            NULL) */
  bool retryable;        /* failure: worth another attempt */
  const char *meta;       /* ok: JSON for step.completed's meta (provider,
                            model, usage), or NULL; borrowed until done */
  int64_t retry_after_ms; /* failure: the service asked to wait this long
                            (HTTP Retry-After); the retry waits at least
                            that */
} cairn__outcome;

/* One attempt in flight: a request (STYLE.md §3), created by the engine
 * after step.started is durable, finished by the kind through
 * cairn__attempt_done, freed by the engine. */
struct cairn__attempt {
  cairn_engine *e;
  cairn__run *run;          /* NULL once the run let go of it */
  size_t step;              /* index in the definition */
  uint32_t attempt;
  cJSON *input;             /* rendered `with` (owned) */
  int64_t started_us;
  int64_t timeout_ms;       /* 0 = none */
  char idem_key[96];        /* stable for (run, step) */
  void *kind_data;          /* the kind's own state */
  void (*cancel)(cairn__attempt *a); /* stop now; still calls done */
  bool done;
};

/* Makes `o` a failure with `code` and a formatted message (replacing any
 * message it had). */
void cairn__outcome_fail(cairn__outcome *o, const char *code, bool retryable,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reports the end of an attempt (on the loop thread, never from inside
 * the kind's start function). Consumes the outcome's owned fields. */
void cairn__attempt_done(cairn__attempt *a, cairn__outcome *o);

/* Step kinds. start returns 0 (done will be called) or an error (done
 * will not be called). */
int cairn__exec_start(cairn__attempt *a);
int cairn__http_start(cairn__attempt *a);
int cairn__llm_start(cairn__attempt *a);
/* Ends the engine's HTTP client (made by the first http step): what is
 * still in flight is cancelled and reported, curl is cleaned up and its
 * handles closed; the loop must run once more before uv_loop_close.
 * Call after every run has let go of its attempts. NULL client: no-op. */
void cairn__http_close(cairn_engine *e);
int cairn__native_start(cairn__attempt *a, cairn_native_fn fn, void *ctx);

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
  UT_hash_handle hh;
} cairn__native_kind;

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
  cairn__native_kind *kinds;
  cairn__def_entry *defs;
  struct cairn__http *http;  /* the HTTP client (kind_http.c), made by the
                                first http step; NULL until then */
  uv_check_t commit_check;   /* commits what the turn produced */
  uv_idle_t pending;         /* active while a batch waits: the loop must
                                not block in poll before committing it
                                (close callbacks run after the check) */
  uv_timer_t tick;           /* leases, claims, polling */
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
  struct cairn__llm_config *llm; /* config.json's "llm" and the
                                environment (llm.h; owned) */
  char errmsg[512];
};

/* config.c: reads $CAIRN_HOME/config.json (defaults when absent). *llm
 * (may be NULL: not read) receives its "llm" section over the
 * environment; free it with cairn__llm_config_free. */
int cairn__config_load(const char *home, cairn_limits *limits,
                       struct cairn__llm_config **llm, char *err,
                       size_t errlen);

void cairn__engine_err(cairn_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

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

/* Whether a NUL-terminated string is one JSON value. */
bool cairn__json_valid_text(const char *s);
/* From journal/ids.c: wall-clock µs since the epoch. */
int64_t cairn__now_us(void);

#endif /* CAIRN_ENGINE_INTERNAL_H */
