/*
 * definition.h — a workflow definition, parsed and validated.
 *
 * The JSON document (docs/definitions.md):
 *
 *   { "name": "lead_enrichment",
 *     "defaults": { "retry": {...}, "timeout_ms": 30000 },   optional
 *     "steps": [
 *       { "name": "fetch", "kind": "http",
 *         "with": { "url": "{{ .input.url }}" } },
 *       { "name": "score", "kind": "exec",
 *         "with": { "command": ["python3", "score.py"],
 *                   "stdin": "{{ .steps.fetch.output.body }}" },
 *         "retry": { "max_attempts": 3, "initial_delay_ms": 200,
 *                    "backoff": 2.0, "max_delay_ms": 10000 },
 *         "timeout_ms": 30000 },
 *       { "name": "notify", "kind": "http", "mutates": true,
 *         "needs": ["score"], "with": { ... } } ],
 *     "output": "{{ .steps.score.output }}" }
 *
 * Dependencies: a step without `needs` depends on the step listed before
 * it (a chain by default); `"needs": []` makes it a root.
 *
 * Validation happens before anything runs and stops at the first problem,
 * reported as "PATH: what is wrong; what to do", with PATH a JSON path
 * such as `steps[2].needs[0]`:
 *   - the document is an object with a "name" (1..CAIRN_STEP_NAME_MAX
 *     bytes of [A-Za-z0-9_.-], like step names) and a non-empty "steps"
 *     array; unknown fields of the document, a step, `defaults`, `retry`
 *     or the `with` of a built-in kind are refused (typos must not be
 *     silently ignored), and so are fields given twice;
 *   - step names are unique, 1..CAIRN_STEP_NAME_MAX bytes of
 *     [A-Za-z0-9_.-];
 *   - every need names an existing step other than itself; there are no
 *     cycles (the message names the cycle: "a -> b -> a");
 *   - kinds are known: exec, http, llm, sleep, wait, or a native kind
 *     the caller registered;
 *   - required fields per kind are present with the right type (a value
 *     that is a template is accepted for any type);
 *   - retry policies are sane (max_attempts >= 1, delays >= 0, backoff
 *     >= 1);
 *   - every template compiles, and every `.steps.NAME` it references is
 *     upstream of the step (reachable through needs); in `output`, any
 *     step may be referenced.
 */
#ifndef CAIRN_ENGINE_DEFINITION_H
#define CAIRN_ENGINE_DEFINITION_H

#include "check.h"
#include "template.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum cairn__kind_id {
  CAIRN__KIND_EXEC = 1,
  CAIRN__KIND_HTTP = 2,
  CAIRN__KIND_SLEEP = 3,
  CAIRN__KIND_WAIT = 4,
  CAIRN__KIND_NATIVE = 5,
  CAIRN__KIND_LLM = 6
} cairn__kind_id;

/*
 * Retry policies. A step's effective policy is its own `retry` fields over
 * `defaults.retry` over the built-in default, cairn__default_retry:
 *   max_attempts 1 (no retry), initial_delay_ms 200, backoff 2.0,
 *   max_delay_ms 10000;
 * so `"retry": {"max_attempts": 3}` alone waits 200 ms, then 400 ms.
 */
typedef struct cairn__retry_policy {
  uint32_t max_attempts;    /* attempts in all; 1 = no retry */
  int64_t initial_delay_ms; /* delay before attempt 2 */
  double backoff;           /* each later delay is the previous × backoff */
  int64_t max_delay_ms;     /* cap on one delay; 0 = no cap */
} cairn__retry_policy;

typedef struct cairn__step_def {
  char *name;
  char *kind;               /* as written: "exec", ..., or a native name */
  int kind_id;              /* cairn__kind_id */
  cJSON *with;              /* the step's `with` object (borrowed from
                               the definition: its doc, or a shared {}
                               when absent) */
  cairn__tmpl *with_tmpl;   /* `with`, compiled */
  size_t *needs;            /* indices into cairn__def.steps */
  size_t n_needs;
  bool has_retry;           /* the step has its own `retry` */
  cairn__retry_policy retry; /* effective: own fields over defaults over
                                cairn__default_retry */
  int64_t timeout_ms;       /* per attempt; 0 = none; defaults.timeout_ms
                               when the step gives none */
  bool mutates;             /* has side effects outside cairn */
  cairn__tmpl *check_tmpl;  /* `check`, as "{{ EXPR }}"; NULL: none */
  int evaluator;            /* `evaluator`: the step whose output's score
                               scores this one, or -1 */
  const cJSON *produces;    /* `produces`: the assets the step makes
                               (docs/assets.md), borrowed; NULL: none */
  cairn__tmpl *produces_tmpl; /* `produces`, compiled (rendered with the
                               step's `.output` at completion) */
  const cJSON *consumes;    /* `consumes`: assets it builds from */
  cairn__tmpl *consumes_tmpl;
  bool has_auto_rerun;      /* `auto_rerun` */
  double rerun_below;       /* ... an attempt scoring below this ... */
  uint32_t rerun_max;       /* ... runs again, at most this many times */
} cairn__step_def;

typedef struct cairn__def {
  char *name;
  cairn__step_def *steps;   /* in document order */
  size_t n_steps;
  cairn__tmpl *output_tmpl; /* NULL: the run's output is the output of
                               the last step in document order */
  bool has_default_retry;   /* `defaults.retry` */
  cairn__retry_policy default_retry; /* defaults.retry over
                                        cairn__default_retry */
  int64_t default_timeout_ms;
  cJSON *doc;               /* the whole parsed document (owned) */
} cairn__def;

/* The policy of a step when neither it nor `defaults` gives one. */
extern const cairn__retry_policy cairn__default_retry;

/* Checks the `with` of a step of some kind; 0, or CAIRN_EINVAL with the
 * problem written through c. */
typedef int (*cairn__with_check_fn)(cairn__check *c, const cJSON *with,
                                    const char *path);

/* The kinds a definition may use besides sleep and wait, which the
 * language knows itself. The engine's resolver reads its kind table and
 * its registered native kinds (engine/kinds/kind.h). */
typedef struct cairn__kind_resolver {
  void *ctx;
  /* true when `kind` exists: *id and *check (NULL: its `with` is the
   * implementation's own and is not checked). */
  bool (*resolve)(void *ctx, const char *kind, int *id,
                  cairn__with_check_fn *check);
  /* The rule an unknown kind's message ends with ("use exec, http, ..."). */
  const char *rule;
} cairn__kind_resolver;

/*
 * Parses and validates a definition whose kinds `kinds` (may be NULL:
 * only sleep and wait) resolves. Returns 0 and *out (free with
 * cairn__def_free), or CAIRN_EINVAL with "PATH: problem; fix" in err, or
 * CAIRN_ENOMEM. The engine's cairn__def_parse (kinds/kind.h) calls this
 * with its kind table.
 */
int cairn__def_parse_with(const char *json, size_t len,
                          const cairn__kind_resolver *kinds, cairn__def **out,
                          char *err, size_t errlen);
void cairn__def_free(cairn__def *d);

/* The step named `name`, or NULL. */
const cairn__step_def *cairn__def_step(const cairn__def *d, const char *name);
/* Its index, or -1. */
int cairn__def_step_index(const cairn__def *d, const char *name);

/* Whether step `a` is upstream of step `b` (a path of needs from b to a).
 * A step is not upstream of itself; indices out of range give false, and
 * so does running out of memory (it allocates 2 words per step). */
bool cairn__def_upstream(const cairn__def *d, size_t a, size_t b);

/* The delay before attempt `next` (2, 3, ...) under policy `p`, in ms:
 * initial_delay_ms × backoff^(next−2), capped by max_delay_ms when it is
 * > 0 (and, without a cap, at 2^62). 0 for next <= 1. Whether attempt
 * `next` happens at all (next <= max_attempts) is the caller's check. */
int64_t cairn__retry_delay_ms(const cairn__retry_policy *p, uint32_t next);

/* Parses a duration: a number of seconds, or a string of a whole number
 * and a unit s, m, h or d ("90s", "36h", "7d"), into µs in *us (> 0).
 * Returns 0 or CAIRN_EINVAL. An asset's `max_age`. */
int cairn__duration_us(const cJSON *v, int64_t *us);

/* Parses an RFC 3339 time ("2030-01-02T15:04:05.250+01:00"; T, t or a
 * space between date and time; Z, z or ±hh:mm) into milliseconds since
 * the Unix epoch in *ms; digits past milliseconds are dropped. Returns 0
 * or CAIRN_EINVAL. Used for a sleep step's `until`. */
int cairn__rfc3339_ms(const char *s, int64_t *ms);

#endif /* CAIRN_ENGINE_DEFINITION_H */
