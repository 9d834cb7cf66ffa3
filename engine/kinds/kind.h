/*
 * kind.h — the one header through which a step kind sees the engine,
 * and through which the engine sees the kinds.
 *
 * A step kind performs one attempt of a step: it is handed a
 * cairn__attempt after that attempt's step.started is durable, does its
 * side effect (a process, an HTTP call, a model call, a C function), and
 * reports the end exactly once through cairn__attempt_done (or the
 * cairn__attempt_ok / cairn__attempt_fail shorthands), on the loop thread,
 * never from inside its start function. The engine records the outcome,
 * applies the retry policy and schedules what comes next; a kind never
 * touches the journal, a run or the scheduler.
 *
 * Each kind is one file of engine/kinds/ that defines one cairn__kind
 * (the table entry: its name, how to check its `with`, how to start an
 * attempt, and optional hooks for config.json, a pre-run policy and
 * teardown), listed once in kinds.c's table. Adding a kind is that file
 * and that line; the core finds kinds only through the table
 * (cairn__kind_by_id / cairn__kind_by_name) and never includes a kind's
 * own header. docs/architecture.md walks through the `native` kind as the
 * example.
 *
 * `sleep` and `wait` are not here: durable timers and signal waits are
 * built from the journal's own events (timer.started/fired,
 * signal.received), so the scheduler (run.c) runs them and the workflow
 * language (lang/definition.c) checks them.
 */
#ifndef CAIRN_ENGINE_KIND_H
#define CAIRN_ENGINE_KIND_H

#include "lang/definition.h"

#include <cairn/cairn.h>
#include <cjson/cJSON.h>
#include <uv.h>

typedef struct cairn__attempt cairn__attempt;
struct cairn__run; /* the core's; opaque to kinds */

/* How an attempt ended, as a step kind reports it. */
typedef struct cairn__outcome {
  bool ok;
  cJSON *output;         /* ok: the output (owned; NULL = null) */
  const char *code;      /* failure: a short code ("exit_status") */
  char *message;         /* failure: human text (owned) */
  cJSON *details;        /* failure: structured details (owned; may be
                            NULL) */
  bool retryable;        /* failure: worth another attempt */
  const char *meta;      /* ok: JSON for step.completed's meta (provider,
                            model, usage), or NULL; borrowed until done */
  int64_t retry_after_ms; /* failure: the service asked to wait this long
                            (HTTP Retry-After); the retry waits at least
                            that */
} cairn__outcome;

/* One attempt in flight: a request (STYLE.md §3), created by the engine
 * after step.started is durable, finished by the kind through
 * cairn__attempt_done, freed by the engine after that call. Everything a
 * kind reads is copied or borrowed for the attempt's whole life, so the
 * run may go away (cancel, terminate, lease lost) while the kind works:
 * its end is then ignored. */
struct cairn__attempt {
  cairn_engine *e;
  const cairn__step_def *sd; /* the step (borrowed from the engine's
                                definition cache: outlives the attempt) */
  uint32_t attempt;          /* 1, 2, ... */
  cJSON *input;              /* rendered `with` (owned by the engine) */
  int64_t started_us;
  int64_t timeout_ms;        /* 0 = none */
  char run_id[CAIRN_RUN_ID_LEN + 1];
  char workflow_id[CAIRN_WORKFLOW_ID_MAX + 1];
  char idem_key[96];         /* stable for (run, step) across attempts */
  void *kind_data;           /* the kind's own state */
  void (*cancel)(cairn__attempt *a); /* stop now; still calls done */
  /* The core's, not for kinds: */
  struct cairn__run *run;    /* NULL once the run let go of it */
  size_t step;               /* index in the definition */
  bool done;
};

/* ---- what the engine offers kinds ---- */

/* Reports the end of an attempt (on the loop thread, never from inside
 * the kind's start function). Consumes the outcome's owned fields; `a`
 * is freed before it returns. */
void cairn__attempt_done(cairn__attempt *a, cairn__outcome *o);

/* Makes `o` a failure with `code` and a formatted message (replacing any
 * message it had). */
void cairn__outcome_fail(cairn__outcome *o, const char *code, bool retryable,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The engine's loop: every handle a kind opens lives on it. */
uv_loop_t *cairn__engine_loop(cairn_engine *e);

/* Sets the engine's last error message (what a failed start reports). */
void cairn__engine_err(cairn_engine *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A per-engine slot a kind keeps its shared state in (a connection pool,
 * its config.json section), NULL until the kind sets it; the kind frees
 * it in its `close` hook. One slot per kind id. */
void **cairn__engine_slot(cairn_engine *e, int kind_id);

/* The C function registered under `name` (cairn_engine_register_kind,
 * or _inline: then *on_loop is true): true with *fn and *ctx, false when
 * none is. */
bool cairn__engine_native(cairn_engine *e, const char *name,
                          cairn_native_fn *fn, void **ctx, bool *on_loop);

/* Calls fn(arg) on the loop thread in the loop's next iteration, before
 * that turn's commit (so what it emits commits in that turn), and once
 * more from cairn_engine_close for calls still queued, after every run
 * was let go. Returns 0 or CAIRN_ENOMEM. */
int cairn__engine_defer(cairn_engine *e, void (*fn)(void *arg), void *arg);

/* $CAIRN_HOME/config.json, parsed (config.c): 0 with *doc (NULL when the
 * file does not exist; free with cJSON_Delete) and its path; CAIRN_EIO or
 * CAIRN_ECONFIG with the problem in err. Also fills *limits (NULL: not
 * wanted) with the "limits" section over the defaults. */
int cairn__config_load(const char *home, cairn_limits *limits, cJSON **doc,
                       char *path, size_t pathlen, char *err, size_t errlen);

/* ---- the table ---- */

/* A step kind. Only name, id, check_with and start are required. */
typedef struct cairn__kind {
  const char *name;  /* as written in a definition; NULL: the native kind,
                        which stands for every registered C function */
  int id;            /* cairn__kind_id (lang/definition.h) */
  bool transient_retries; /* without a retry policy, transient failures
                             still get three retries (calls to other
                             services) */
  /* Checks the step's `with` (an object) when a definition is parsed;
   * 0, or CAIRN_EINVAL with "PATH.FIELD: problem; fix" through c. */
  int (*check_with)(cairn__check *c, const cJSON *with, const char *path);
  /* Starts an attempt: 0 (done will be called) or an error with the
   * engine's errmsg set (done will not be called; the attempt fails with
   * "start_failed", retryable unless the error is CAIRN_EINVAL). */
  int (*start)(cairn__attempt *a);
  /* config.json's section `config_key` (NULL when absent), read when an
   * engine opens: 0, or CAIRN_ECONFIG with "PATH: problem" in err. */
  const char *config_key;
  int (*configure)(cairn_engine *e, const cJSON *section, const char *path,
                   char *err, size_t errlen);
  /* Before a run (or a fork) starts: may it run definition d? Steps with
   * skip[i] (skip may be NULL) will not run; with `only`, only that step
   * will. 0, or an error (CAIRN_EFORBIDDEN) with the engine's errmsg. */
  int (*admit)(cairn_engine *e, const cairn__def *d, const bool *skip,
               const char *only);
  /* The engine closes: end what is in flight (reporting it), free the
   * slot. The loop runs once more afterwards, for close callbacks. */
  void (*close)(cairn_engine *e);
  /* Replaces every secret this kind holds (an llm provider's API key)
   * in every string of v with "[redacted]": what a caller hands the
   * engine to record (a run's input, a fork's overrides) is scrubbed by
   * the rule the kind's own outcomes are. */
  void (*scrub)(cairn_engine *e, cJSON *v);
  /* Whether text holds one of those secrets as written (so most texts
   * are never parsed to be scrubbed; a secret spelled with JSON \u
   * escapes is not seen: the rule guards against pasting, not against
   * a caller hiding a key on purpose). With `scrub`. */
  bool (*holds_secret)(cairn_engine *e, const char *text);
} cairn__kind;

/* Kind ids are small; a slot per id. */
#define CAIRN__KIND_SLOTS 8

/* kinds.c: the table, in a fixed order. */
const cairn__kind *cairn__kind_by_id(int id);
/* A built-in kind by the name definitions use ("exec"); NULL for others
 * (a native kind's name is looked up in the engine's registry). */
const cairn__kind *cairn__kind_by_name(const char *name);
/* The i-th kind of the table (0, 1, ...), NULL past the end. */
const cairn__kind *cairn__kind_at(size_t i);

/* Every kind's `configure` with its config.json section of doc (NULL: no
 * file), then 0 or the first error. */
int cairn__kinds_configure(cairn_engine *e, const cJSON *doc,
                           const char *path, char *err, size_t errlen);
/* Every kind's `admit`: 0 or the first refusal. */
int cairn__kinds_admit(cairn_engine *e, const cairn__def *d,
                       const bool *skip, const char *only);
/* Every kind's `close`. */
void cairn__kinds_close(cairn_engine *e);
/* Every kind's `scrub` over v. */
void cairn__kinds_scrub(cairn_engine *e, cJSON *v);
/* JSON text `json` scrubbed by every kind (malloc'ed: a copy when it
 * holds no secret, else the scrubbed value printed compact), or NULL when
 * out of memory. Text that is not JSON is scrubbed as one string. */
char *cairn__kinds_scrub_text(cairn_engine *e, const char *json);
/* Replaces every `secret` (at least 4 bytes) in every string of v with
 * "[redacted]"; for the kinds' `scrub`. */
void cairn__scrub_json(cJSON *v, const char *secret);
/* s with every `secret` replaced by "[redacted]" (malloc'ed), or NULL when
 * s holds none (or out of memory). */
char *cairn__scrub(const char *s, const char *secret);

/* Answers whether `kind` is a registered native kind. */
typedef bool (*cairn__native_kind_fn)(void *ctx, const char *kind);

/*
 * Parses and validates a definition with the kinds of this table (and,
 * through is_native (may be NULL), the native kinds registered in an
 * engine). Returns 0 and *out (free with cairn__def_free), or
 * CAIRN_EINVAL with "PATH: problem; fix" in err, or CAIRN_ENOMEM.
 */
int cairn__def_parse(const char *json, size_t len,
                     cairn__native_kind_fn is_native, void *ctx,
                     cairn__def **out, char *err, size_t errlen);

#endif /* CAIRN_ENGINE_KIND_H */
