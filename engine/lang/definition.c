/*
 * definition.c — parsing and validating a workflow definition.
 *
 * A definition is checked whole before anything runs, in passes, and the
 * first problem stops the parse with "PATH: what is wrong; what to do":
 *
 *   1. the document: JSON, one object, known fields, name, defaults;
 *   2. each step in order: known fields, name, kind, the kind's `with`
 *      fields, retry, timeout_ms, mutates; its templates are compiled;
 *   3. needs: resolved to indices (absent = the step before; [] = root);
 *   4. cycles: Kahn's algorithm orders the steps; if some are left over,
 *      following their unfinished needs from the first of them must come
 *      back to a step already seen, and that loop is the cycle reported;
 *   5. template references: each `.steps.NAME` in a step's `with` must be
 *      upstream of it, and in `output` must exist.
 * Passes 3-5 need every step's name, hence the order.
 *
 * Unknown fields are refused everywhere cairn owns the schema (the
 * document, steps, retry, defaults, and `with` of the built-in kinds) so a
 * typo is an error rather than a silently ignored setting; a native
 * kind's `with` belongs to its implementation and is not checked here.
 * Fields given twice in one object are refused too (cJSON keeps both and
 * would silently use the first).
 *
 * A value in `with` that is a template string is accepted for any type:
 * its type is known only when it renders, and the step kind checks it
 * then.
 *
 * Steps are found by name with a linear scan: definitions have tens of
 * steps, and a hash would cost more to build than it saves.
 */
#include "definition.h"

#include <cairn/cairn.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cairn__retry_policy cairn__default_retry = {
    .max_attempts = 1,
    .initial_delay_ms = 200,
    .backoff = 2.0,
    .max_delay_ms = 10000,
};

/* What cairn__def_parse allocates beside the public struct. */
typedef struct def_owner {
  cairn__def def;    /* first, so cairn__def_free can cast back */
  cJSON *empty_with; /* the `{}` that steps without `with` point at */
  cairn__tmpl_set *tmpls; /* every template of the definition, compiled
                             as one jq program after the last pass */
} def_owner;

/* One parse in progress. */
typedef struct parser {
  def_owner *o;
  cairn__def *d;
  const cJSON *steps;        /* the document's "steps" array */
  bool *implicit;            /* per step: needs came from its position */
  const cairn__kind_resolver *kinds;
  size_t cur;                /* step whose references are being checked;
                                SIZE_MAX for `output` */
  bool *upstream;            /* per step: upstream of `cur` */
  cairn__check c;            /* where the first problem is written */
} parser;

static int fail(parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(parser *p, const char *fmt, ...) {
  if (p->c.err && p->c.errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->c.err, p->c.errlen, fmt, ap);
    va_end(ap);
  }
  return CAIRN_EINVAL;
}

static int fail_nomem(parser *p) {
  fail(p, "definition: out of memory while parsing");
  return CAIRN_ENOMEM;
}

/* ---- names ---- */

static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CAIRN_STEP_NAME_MAX)
    return false;
  for (; *s; s++) {
    char c = *s;
    if (!(c == '_' || c == '.' || c == '-' || (c >= 'A' && c <= 'Z') ||
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      return false;
  }
  return true;
}

#define STR_(x) #x
#define STR(x) STR_(x)
#define NAME_RULE                                                          \
  "use 1 to " STR(CAIRN_STEP_NAME_MAX) " of the characters A-Z a-z 0-9 _ . -"

static int check_name(parser *p, const cJSON *v, const char *path,
                      const char *what) {
  char got[48];
  if (v == NULL)
    return fail(p, "%s: missing; name the %s (" NAME_RULE ")", path, what);
  if (!cJSON_IsString(v) || !name_ok(v->valuestring))
    return fail(p, "%s: %s is not a valid %s name; " NAME_RULE, path,
                cairn__check_describe(v, got, sizeof got), what);
  return 0;
}

/* ---- step kinds and their `with` ---- */

static int check_until(parser *p, const cJSON *v, const char *path) {
  char got[48];
  int64_t ms;
  if (cairn__check_is_template(v) || (cairn__check_get_int(v, &ms) && ms >= 0))
    return 0;
  if (cJSON_IsString(v) && cairn__rfc3339_ms(v->valuestring, &ms) == 0)
    return 0;
  return fail(p, "%s: %s is not an RFC 3339 time or milliseconds since the "
                 "epoch; write e.g. \"2030-01-02T15:04:05Z\"",
              path, cairn__check_describe(v, got, sizeof got));
}

static int with_sleep(parser *p, const cJSON *w, const char *path) {
  static const char *const known[] = {"duration_ms", "until", NULL};
  const cJSON *dur = cairn__check_field(w, "duration_ms");
  const cJSON *until = cairn__check_field(w, "until");
  char fp[160];
  int64_t ms;
  int rc = cairn__check_fields(&p->c, w, path, known,
                        "a sleep step takes duration_ms or until");
  if (rc)
    return rc;
  if (dur && until)
    return fail(p, "%s: has both duration_ms and until; keep one", path);
  if (!dur && !until)
    return fail(p, "%s: missing duration_ms or until; give how long to "
                   "sleep, e.g. {\"duration_ms\": 60000}",
                path);
  if (until) {
    snprintf(fp, sizeof fp, "%s.until", path);
    return check_until(p, until, fp);
  }
  snprintf(fp, sizeof fp, "%s.duration_ms", path);
  if (cairn__check_is_template(dur))
    return 0;
  return cairn__check_int(&p->c, dur, fp, 0, "milliseconds, e.g. 60000", &ms);
}

static int with_wait(parser *p, const cJSON *w, const char *path) {
  static const char *const known[] = {"signal", "timeout_ms", NULL};
  const cJSON *sig = cairn__check_field(w, "signal");
  const cJSON *tmo = cairn__check_field(w, "timeout_ms");
  char fp[160];
  int64_t ms;
  int rc = cairn__check_fields(&p->c, w, path, known,
                        "a wait step takes signal, timeout_ms");
  if (rc)
    return rc;
  snprintf(fp, sizeof fp, "%s.signal", path);
  if (sig == NULL)
    return fail(p, "%s: missing; name the signal the step waits for, e.g. "
                   "\"approved\"",
                fp);
  rc = cairn__check_string(&p->c, sig, fp, true, "the signal's name");
  if (rc || tmo == NULL || cairn__check_is_template(tmo))
    return rc;
  snprintf(fp, sizeof fp, "%s.timeout_ms", path);
  return cairn__check_int(&p->c, tmo, fp, 0, "milliseconds, e.g. 3600000", &ms);
}

typedef int (*with_check_fn)(parser *p, const cJSON *w, const char *path);

/* The kinds the language itself runs: durable timers and signal waits
 * are made of the journal's own events. Every other kind comes from the
 * caller's resolver (the engine's kind table and native kinds). */
static const struct builtin_kind {
  const char *name;
  cairn__kind_id id;
  with_check_fn check;
} builtin_kinds[] = {
    {"sleep", CAIRN__KIND_SLEEP, with_sleep},
    {"wait", CAIRN__KIND_WAIT, with_wait},
};

#define KIND_RULE_NONE "use sleep or wait"

static const char *kind_rule(const parser *p) {
  return p->kinds && p->kinds->rule ? p->kinds->rule : KIND_RULE_NONE;
}

/* Sets the step's kind and checks its `with` (already an object). */
static int parse_kind(parser *p, cairn__step_def *s, const cJSON *kind,
                      size_t i) {
  char path[64];
  char got[48];
  cairn__with_check_fn check = NULL;
  snprintf(path, sizeof path, "steps[%zu].kind", i);
  if (kind == NULL)
    return fail(p, "%s: missing; %s", path, kind_rule(p));
  if (!cJSON_IsString(kind) || kind->valuestring[0] == '\0')
    return fail(p, "%s: %s is not a kind; %s", path,
                cairn__check_describe(kind, got, sizeof got), kind_rule(p));
  s->kind = strdup(kind->valuestring);
  if (s->kind == NULL)
    return fail_nomem(p);
  snprintf(path, sizeof path, "steps[%zu].with", i);
  for (size_t k = 0; k < sizeof builtin_kinds / sizeof *builtin_kinds; k++) {
    if (strcmp(s->kind, builtin_kinds[k].name) == 0) {
      s->kind_id = builtin_kinds[k].id;
      return builtin_kinds[k].check(p, s->with, path);
    }
  }
  if (p->kinds == NULL ||
      !p->kinds->resolve(p->kinds->ctx, s->kind, &s->kind_id, &check))
    return fail(p, "steps[%zu].kind: unknown kind %s; %s", i,
                cairn__check_describe(kind, got, sizeof got), kind_rule(p));
  return check ? check(&p->c, s->with, path) : 0;
}

/* ---- policies ---- */

/* Fields of a `retry` object over `*r`, which holds the policy they
 * refine. */
static int parse_retry(parser *p, const cJSON *v, const char *path,
                       cairn__retry_policy *r) {
  static const char *const known[] = {"max_attempts", "initial_delay_ms",
                                      "backoff", "max_delay_ms", NULL};
  char fp[160];
  char got[48];
  int64_t n = 1;
  if (!cJSON_IsObject(v))
    return fail(p, "%s: %s is not an object; give e.g. "
                   "{\"max_attempts\": 3}",
                path, cairn__check_describe(v, got, sizeof got));
  int rc = cairn__check_fields(&p->c, v, path, known,
                        "retry takes max_attempts, initial_delay_ms, "
                        "backoff, max_delay_ms");
  const cJSON *f = cairn__check_field(v, "max_attempts");
  snprintf(fp, sizeof fp, "%s.max_attempts", path);
  if (rc == 0 && f) {
    rc = cairn__check_int(&p->c, f, fp, 1, "the number of attempts in all, e.g. 3", &n);
    if (rc == 0 && n > UINT32_MAX)
      rc = fail(p, "%s: %lld is too many; give at most %u", fp,
                (long long)n, UINT32_MAX);
    if (rc == 0)
      r->max_attempts = (uint32_t)n;
  }
  f = cairn__check_field(v, "initial_delay_ms");
  snprintf(fp, sizeof fp, "%s.initial_delay_ms", path);
  if (rc == 0 && f)
    rc = cairn__check_int(&p->c, f, fp, 0, "milliseconds, e.g. 200",
                   &r->initial_delay_ms);
  f = cairn__check_field(v, "max_delay_ms");
  snprintf(fp, sizeof fp, "%s.max_delay_ms", path);
  if (rc == 0 && f)
    rc = cairn__check_int(&p->c, f, fp, 0, "milliseconds (0 = no cap), e.g. 10000",
                   &r->max_delay_ms);
  f = cairn__check_field(v, "backoff");
  snprintf(fp, sizeof fp, "%s.backoff", path);
  if (rc == 0 && f && (!cJSON_IsNumber(f) || !(f->valuedouble >= 1.0)))
    rc = fail(p, "%s: %s is not a number >= 1; give the factor between "
                 "delays, e.g. 2",
              fp, cairn__check_describe(f, got, sizeof got));
  if (rc == 0 && f)
    r->backoff = f->valuedouble;
  return rc;
}

static int parse_defaults(parser *p, const cJSON *v) {
  static const char *const known[] = {"retry", "timeout_ms", NULL};
  char got[48];
  cairn__def *d = p->d;
  d->default_retry = cairn__default_retry;
  if (v == NULL)
    return 0;
  if (!cJSON_IsObject(v))
    return fail(p, "defaults: %s is not an object; give e.g. "
                   "{\"timeout_ms\": 30000}",
                cairn__check_describe(v, got, sizeof got));
  int rc = cairn__check_fields(&p->c, v, "defaults", known,
                        "defaults takes retry, timeout_ms");
  if (rc == 0 && cairn__check_field(v, "retry")) {
    d->has_default_retry = true;
    rc = parse_retry(p, cairn__check_field(v, "retry"), "defaults.retry",
                     &d->default_retry);
  }
  if (rc == 0 && cairn__check_field(v, "timeout_ms"))
    rc = cairn__check_int(&p->c, cairn__check_field(v, "timeout_ms"), "defaults.timeout_ms", 0,
                   "milliseconds per attempt (0 = none), e.g. 30000",
                   &d->default_timeout_ms);
  return rc;
}

/* ---- steps ---- */

static const char *const step_fields[] = {
    "name",    "kind",        "with",   "needs", "retry", "timeout_ms",
    "mutates", "description", "replay", "check", "auto_rerun", "evaluator",
    "produces", "consumes", NULL};

/* The step's name: valid, and not taken by an earlier step. */
static int parse_step_name(parser *p, cairn__step_def *s, const cJSON *v,
                           size_t i) {
  char path[64];
  snprintf(path, sizeof path, "steps[%zu].name", i);
  int rc = check_name(p, v, path, "step");
  if (rc)
    return rc;
  for (size_t k = 0; k < i; k++) {
    if (strcmp(p->d->steps[k].name, v->valuestring) == 0)
      return fail(p, "%s: \"%s\" is also the name of steps[%zu]; give each "
                     "step a unique name",
                  path, v->valuestring, k);
  }
  s->name = strdup(v->valuestring);
  return s->name ? 0 : fail_nomem(p);
}

static int parse_step_with(parser *p, cairn__step_def *s, const cJSON *v,
                           size_t i) {
  char got[48];
  if (v == NULL) {
    if (p->o->empty_with == NULL)
      p->o->empty_with = cJSON_CreateObject();
    if (p->o->empty_with == NULL)
      return fail_nomem(p);
    s->with = p->o->empty_with;
    return 0;
  }
  if (!cJSON_IsObject(v))
    return fail(p, "steps[%zu].with: %s is not an object; give the step's "
                   "inputs as an object",
                i, cairn__check_describe(v, got, sizeof got));
  s->with = (cJSON *)v;
  return 0;
}

/* check: a jq expression over {output, input, steps} giving true/false or
 * a score in 0..1; auto_rerun: {"below": 0.9, "max": 3}, which needs a
 * check. */
static int parse_check(parser *p, cairn__step_def *s, const cJSON *step,
                       size_t i) {
  char path[64], got[48];
  const cJSON *v = cairn__check_field(step, "check");
  const cJSON *ar = cairn__check_field(step, "auto_rerun");
  int rc = 0;
  if (v) {
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0')
      return fail(p, "steps[%zu].check: %s is not a jq expression; give "
                     "one as a string, e.g. \".output.score >= 0.8\"",
                  i, cairn__check_describe(v, got, sizeof got));
    size_t n = strlen(v->valuestring) + 8;
    char *t = malloc(n);
    if (t == NULL)
      return fail_nomem(p);
    snprintf(t, n, "{{ %s }}", v->valuestring);
    cJSON *wrapped = cJSON_CreateString(t);
    free(t);
    snprintf(path, sizeof path, "steps[%zu].check", i);
    rc = cairn__tmpl_compile_in(p->o->tmpls, wrapped, path, &s->check_tmpl,
                                p->c.err, p->c.errlen);
    cJSON_Delete(wrapped);
    if (rc)
      return rc;
  }
  if (ar == NULL)
    return 0;
  const cJSON *below = cairn__check_field(ar, "below"), *max = cairn__check_field(ar, "max");
  if (!cJSON_IsObject(ar))
    return fail(p, "steps[%zu].auto_rerun: %s is not an object; give "
                   "{\"below\": 0.9, \"max\": 3}",
                i, cairn__check_describe(ar, got, sizeof got));
  if (v == NULL && cairn__check_field(step, "evaluator") == NULL)
    return fail(p, "steps[%zu].auto_rerun: needs a check (or an evaluator "
                   "step) to score its attempts", i);
  if (!cJSON_IsNumber(below) || below->valuedouble <= 0 ||
      below->valuedouble > 1)
    return fail(p, "steps[%zu].auto_rerun.below: give the passing score, "
                   "a number above 0 and at most 1", i);
  int64_t m = 0;
  snprintf(path, sizeof path, "steps[%zu].auto_rerun.max", i);
  if (max == NULL)
    return fail(p, "%s: give how many times to run again, e.g. 3", path);
  if ((rc = cairn__check_int(&p->c, max, path, 1, "reruns, at least 1", &m)) != 0)
    return rc;
  s->rerun_below = below->valuedouble;
  s->rerun_max = (uint32_t)m;
  s->has_auto_rerun = true;
  return 0;
}

/* retry, timeout_ms, mutates, description, replay. */
static int parse_step_policy(parser *p, cairn__step_def *s,
                             const cJSON *step, size_t i) {
  char path[64];
  char got[48];
  const cJSON *v;
  int rc = 0;
  s->retry = p->d->default_retry;
  s->timeout_ms = p->d->default_timeout_ms;
  v = cairn__check_field(step, "retry");
  if (v) {
    snprintf(path, sizeof path, "steps[%zu].retry", i);
    s->has_retry = true;
    rc = parse_retry(p, v, path, &s->retry);
  }
  v = cairn__check_field(step, "timeout_ms");
  snprintf(path, sizeof path, "steps[%zu].timeout_ms", i);
  if (rc == 0 && v)
    rc = cairn__check_int(&p->c, v, path, 0,
                   "milliseconds per attempt (0 = none), e.g. 30000",
                   &s->timeout_ms);
  v = cairn__check_field(step, "mutates");
  if (rc == 0 && v && !cJSON_IsBool(v))
    rc = fail(p, "steps[%zu].mutates: %s is not a boolean; give true or "
                 "false",
              i, cairn__check_describe(v, got, sizeof got));
  s->mutates = cJSON_IsTrue(v);
  v = cairn__check_field(step, "description");
  snprintf(path, sizeof path, "steps[%zu].description", i);
  if (rc == 0 && v)
    rc = cairn__check_string(&p->c, v, path, false, "a sentence about the step");
  v = cairn__check_field(step, "replay");
  if (rc == 0 && v && !cJSON_IsObject(v))
    rc = fail(p, "steps[%zu].replay: %s is not an object", i,
              cairn__check_describe(v, got, sizeof got));
  if (rc == 0)
    rc = parse_check(p, s, step, i);
  return rc;
}

/* ---- assets: produces and consumes (docs/assets.md) ---- */

static bool is_template(const cJSON *v) {
  return cJSON_IsString(v) && strstr(v->valuestring, "{{") != NULL;
}

int cairn__duration_us(const cJSON *v, int64_t *us) {
  if (cJSON_IsNumber(v)) {
    if (!(v->valuedouble > 0) || v->valuedouble > 9e12)
      return CAIRN_EINVAL;
    *us = (int64_t)(v->valuedouble * 1e6);
    return *us > 0 ? 0 : CAIRN_EINVAL;
  }
  if (!cJSON_IsString(v))
    return CAIRN_EINVAL;
  char *end = NULL;
  const char *t = v->valuestring;
  if (*t < '0' || *t > '9')
    return CAIRN_EINVAL;
  long long n = strtoll(t, &end, 10);
  static const struct { char unit; int64_t us; } units[] = {
      {'s', 1000000ll}, {'m', 60000000ll}, {'h', 3600000000ll},
      {'d', 86400000000ll}};
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
    if (end[0] == units[k].unit && end[1] == '\0' && n > 0 &&
        n <= INT64_MAX / units[k].us) {
      *us = n * units[k].us;
      return 0;
    }
  }
  return CAIRN_EINVAL;
}

/* One entry of `produces`: {"key", "partition"?, one of "path" / "value" /
 * "uri" (a uri may come with a value: the value is what is hashed),
 * "max_age"?}. Templates are checked when rendered. */
static int parse_produced(parser *p, const cJSON *a, size_t i, size_t k) {
  static const char *const fields[] = {"key", "partition", "path", "value",
                                       "uri", "max_age", NULL};
  char path[96], got[48];
  snprintf(path, sizeof path, "steps[%zu].produces[%zu]", i, k);
  if (!cJSON_IsObject(a))
    return fail(p, "%s: %s is not an object; give {\"key\": \"reports/"
                   "{{ .input.day }}\", \"path\": \"out/report.csv\"}",
                path, cairn__check_describe(a, got, sizeof got));
  int rc = cairn__check_fields(&p->c, a, path, fields,
                               "an asset's fields are key, partition, path, "
                               "value, uri, max_age");
  if (rc)
    return rc;
  const cJSON *key = cairn__check_field(a, "key");
  if (!cJSON_IsString(key) || key->valuestring[0] == '\0' ||
      strlen(key->valuestring) > CAIRN_ASSET_KEY_MAX)
    return fail(p, "%s.key: give the asset's key, a string of 1..%d bytes "
                   "(a template may fill it: \"reports/{{ .input.day }}\")",
                path, CAIRN_ASSET_KEY_MAX);
  const cJSON *part = cairn__check_field(a, "partition");
  if (part && (!cJSON_IsString(part) || part->valuestring[0] == '\0' ||
               strlen(part->valuestring) > CAIRN_PARTITION_MAX))
    return fail(p, "%s.partition: give a string of 1..%d bytes, or leave it "
                   "out to use the run's --partition", path,
                CAIRN_PARTITION_MAX);
  const cJSON *file = cairn__check_field(a, "path");
  const cJSON *value = cairn__check_field(a, "value");
  const cJSON *uri = cairn__check_field(a, "uri");
  if ((file != NULL) + (value != NULL || uri != NULL) != 1)
    return fail(p, "%s: give one of path (a file the step writes, relative "
                   "to its working directory), value (content from its "
                   "output) or uri (where it put the asset)", path);
  if (file && (!cJSON_IsString(file) || file->valuestring[0] == '\0'))
    return fail(p, "%s.path: give the file's path as a non-empty string",
                path);
  if (uri && (!cJSON_IsString(uri) || uri->valuestring[0] == '\0'))
    return fail(p, "%s.uri: give the asset's URI as a non-empty string",
                path);
  const cJSON *age = cairn__check_field(a, "max_age");
  int64_t us;
  if (age && !is_template(age) && cairn__duration_us(age, &us) != 0)
    return fail(p, "%s.max_age: %s is not a duration; give seconds (86400) "
                   "or a whole number with s, m, h or d (\"36h\")",
                path, cairn__check_describe(age, got, sizeof got));
  return 0;
}

static int parse_assets(parser *p, cairn__step_def *s, const cJSON *step,
                        size_t i) {
  char path[64], got[48];
  const cJSON *prod = cairn__check_field(step, "produces");
  const cJSON *cons = cairn__check_field(step, "consumes");
  int rc = 0;
  if ((prod || cons) && (s->kind_id == CAIRN__KIND_SLEEP ||
                         s->kind_id == CAIRN__KIND_WAIT))
    return fail(p, "steps[%zu]: a %s step makes nothing; declare produces "
                   "and consumes on the steps that do the work",
                i, s->kind);
  if (prod) {
    if (!cJSON_IsArray(prod))
      return fail(p, "steps[%zu].produces: %s is not an array; give a list "
                     "of assets", i, cairn__check_describe(prod, got,
                                                           sizeof got));
    size_t k = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, prod) {
      if ((rc = parse_produced(p, a, i, k++)) != 0)
        return rc;
    }
    s->produces = prod;
    snprintf(path, sizeof path, "steps[%zu].produces", i);
    rc = cairn__tmpl_compile_in(p->o->tmpls, prod, path, &s->produces_tmpl,
                                p->c.err, p->c.errlen);
  }
  if (rc == 0 && cons) {
    size_t k = 0;
    const cJSON *a;
    if (!cJSON_IsArray(cons))
      return fail(p, "steps[%zu].consumes: %s is not an array; give the "
                     "keys of the assets the step builds from", i,
                  cairn__check_describe(cons, got, sizeof got));
    cJSON_ArrayForEach(a, cons) {
      const cJSON *key = cJSON_IsObject(a)
                             ? cJSON_GetObjectItemCaseSensitive(a, "key")
                             : a;
      if (!cJSON_IsString(key) || key->valuestring[0] == '\0')
        return fail(p, "steps[%zu].consumes[%zu]: give an asset key, or "
                       "{\"key\": ..., \"partition\": ...}", i, k);
      k++;
    }
    s->consumes = cons;
    snprintf(path, sizeof path, "steps[%zu].consumes", i);
    rc = cairn__tmpl_compile_in(p->o->tmpls, cons, path, &s->consumes_tmpl,
                                p->c.err, p->c.errlen);
  }
  return rc;
}

static int parse_step(parser *p, size_t i, const cJSON *step) {
  cairn__step_def *s = &p->d->steps[i];
  char path[64];
  char got[48];
  snprintf(path, sizeof path, "steps[%zu]", i);
  if (!cJSON_IsObject(step))
    return fail(p, "%s: %s is not an object; give each step as "
                   "{\"name\": ..., \"kind\": ..., \"with\": {...}}",
                path, cairn__check_describe(step, got, sizeof got));
  int rc = cairn__check_fields(&p->c, step, path, step_fields,
                        "a step's fields are name, kind, with, needs, retry, "
                        "timeout_ms, mutates, description, replay, check, "
                        "auto_rerun, evaluator, produces, consumes");
  if (rc == 0)
    rc = parse_step_name(p, s, cairn__check_field(step, "name"), i);
  if (rc == 0)
    rc = parse_step_with(p, s, cairn__check_field(step, "with"), i);
  if (rc == 0)
    rc = parse_kind(p, s, cairn__check_field(step, "kind"), i);
  if (rc == 0)
    rc = parse_step_policy(p, s, step, i);
  snprintf(path, sizeof path, "steps[%zu].with", i);
  if (rc == 0)
    rc = cairn__tmpl_compile_in(p->o->tmpls, s->with, path, &s->with_tmpl,
                                p->c.err, p->c.errlen);
  if (rc == 0)
    rc = parse_assets(p, s, step, i);
  return rc;
}

/* ---- needs ---- */

static int resolve_need(parser *p, size_t i, const cJSON *v, size_t k) {
  cairn__step_def *s = &p->d->steps[i];
  char path[64];
  char got[48];
  snprintf(path, sizeof path, "steps[%zu].needs[%zu]", i, k);
  if (!cJSON_IsString(v))
    return fail(p, "%s: %s is not a step name; give the name as a string",
                path, cairn__check_describe(v, got, sizeof got));
  int idx = cairn__def_step_index(p->d, v->valuestring);
  if (idx < 0)
    return fail(p, "%s: unknown step \"%s\"; name a step defined in steps",
                path, v->valuestring);
  if ((size_t)idx == i)
    return fail(p, "%s: \"%s\" is the step itself; a step cannot need "
                   "itself",
                path, v->valuestring);
  for (size_t e = 0; e < s->n_needs; e++) {
    if (s->needs[e] == (size_t)idx)
      return fail(p, "%s: \"%s\" is listed twice; list each step once",
                  path, v->valuestring);
  }
  s->needs[s->n_needs++] = (size_t)idx;
  return 0;
}

static int resolve_needs(parser *p, size_t i) {
  cairn__step_def *s = &p->d->steps[i];
  const cJSON *needs = cairn__check_field(cJSON_GetArrayItem(p->steps, (int)i), "needs");
  char got[48];
  if (needs == NULL) {
    p->implicit[i] = i > 0;
    if (i == 0)
      return 0;
    s->needs = malloc(sizeof *s->needs);
    if (s->needs == NULL)
      return fail_nomem(p);
    s->needs[s->n_needs++] = i - 1;
    return 0;
  }
  if (!cJSON_IsArray(needs))
    return fail(p, "steps[%zu].needs: %s is not an array; list step names, "
                   "e.g. [\"fetch\"], or [] for a step that needs none",
                i, cairn__check_describe(needs, got, sizeof got));
  size_t n = (size_t)cJSON_GetArraySize(needs);
  s->needs = malloc((n ? n : 1) * sizeof *s->needs);
  if (s->needs == NULL)
    return fail_nomem(p);
  size_t k = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, needs) {
    int rc = resolve_need(p, i, c, k++);
    if (rc)
      return rc;
  }
  return 0;
}

/* ---- cycles ---- */

/* Reports the cycle reached by following unfinished needs (left > 0)
 * from the first unfinished step. */
static int report_cycle(parser *p, const size_t *left) {
  const cairn__def *d = p->d;
  size_t n = d->n_steps;
  size_t *path = malloc(n * sizeof *path);
  size_t *pos = malloc(n * sizeof *pos);
  int rc = CAIRN_ENOMEM;
  if (path == NULL || pos == NULL)
    goto out_free_path;
  size_t len = 0;
  size_t x = 0;
  for (size_t i = 0; i < n; i++)
    pos[i] = SIZE_MAX;
  while (left[x] == 0)
    x++;
  while (pos[x] == SIZE_MAX) {
    pos[x] = len;
    path[len++] = x;
    size_t e = 0;
    while (left[d->steps[x].needs[e]] == 0)
      e++;
    x = d->steps[x].needs[e];
  }
  /* path[pos[x]..len) is the cycle; start it at its first step. */
  size_t first = pos[x];
  for (size_t k = pos[x]; k < len; k++)
    first = path[k] < path[first] ? k : first;
  char msg[512] = "";
  bool implicit = false;
  size_t cl = len - pos[x];
  for (size_t k = 0; k <= cl; k++) {
    size_t at = path[pos[x] + (first - pos[x] + k) % cl];
    size_t used = strlen(msg);
    snprintf(msg + used, sizeof msg - used, "%s%s", k ? " -> " : "",
             d->steps[at].name);
    implicit = implicit || (k < cl && p->implicit[at]);
  }
  rc = fail(p, "steps[%zu].needs: cycle %s; remove one of these needs%s",
            path[first], msg,
            implicit ? " (a step without \"needs\" needs the step listed "
                       "before it)"
                     : "");

out_free_path:
  free(path);
  free(pos);
  return rc == CAIRN_ENOMEM ? fail_nomem(p) : rc;
}

/* Kahn's algorithm over needs; `rev` lists each step's dependents,
 * rev[off[x]..off[x+1]). */
static int order_steps(parser *p, size_t *off, size_t *rev, size_t *left,
                       size_t *queue) {
  const cairn__def *d = p->d;
  size_t n = d->n_steps;
  size_t head = 0;
  size_t tail = 0;
  for (size_t i = 0; i < n; i++) {
    for (size_t e = 0; e < d->steps[i].n_needs; e++)
      off[d->steps[i].needs[e] + 1]++;
  }
  for (size_t i = 0; i < n; i++)
    off[i + 1] += off[i];
  for (size_t i = 0; i < n; i++) {
    left[i] = d->steps[i].n_needs;
    for (size_t e = 0; e < d->steps[i].n_needs; e++)
      rev[off[d->steps[i].needs[e]] + queue[d->steps[i].needs[e]]++] = i;
  }
  for (size_t i = 0; i < n; i++) {
    if (left[i] == 0)
      queue[tail++] = i;
  }
  while (head < tail) {
    size_t x = queue[head++];
    for (size_t k = off[x]; k < off[x + 1]; k++) {
      if (--left[rev[k]] == 0)
        queue[tail++] = rev[k];
    }
  }
  return tail == n ? 0 : report_cycle(p, left);
}

static int check_cycles(parser *p) {
  size_t n = p->d->n_steps;
  size_t edges = 0;
  for (size_t i = 0; i < n; i++)
    edges += p->d->steps[i].n_needs;
  size_t *off = calloc(n + 1, sizeof *off);
  size_t *rev = malloc((edges ? edges : 1) * sizeof *rev);
  size_t *left = calloc(n, sizeof *left);
  size_t *queue = calloc(n, sizeof *queue); /* first: fill counts */
  int rc = CAIRN_ENOMEM;
  if (off && rev && left && queue)
    rc = order_steps(p, off, rev, left, queue);
  free(off);
  free(rev);
  free(left);
  free(queue);
  return rc == CAIRN_ENOMEM ? fail_nomem(p) : rc;
}

/* ---- upstream and template references ---- */

/* Marks every step reachable from `b` through needs. `stack` holds
 * n_steps entries; each step is pushed at most once. */
static void mark_upstream(const cairn__def *d, size_t b, bool *mark,
                          size_t *stack) {
  size_t top = 0;
  memset(mark, 0, d->n_steps * sizeof *mark);
  stack[top++] = b;
  while (top > 0) {
    const cairn__step_def *s = &d->steps[stack[--top]];
    for (size_t e = 0; e < s->n_needs; e++) {
      if (!mark[s->needs[e]]) {
        mark[s->needs[e]] = true;
        stack[top++] = s->needs[e];
      }
    }
  }
}

static int check_ref(void *ctx, const char *step, const char *path) {
  parser *p = ctx;
  int idx = cairn__def_step_index(p->d, step);
  if (idx < 0)
    return fail(p, "%s: unknown step \"%s\" in a template; name a step "
                   "defined in steps",
                path, step);
  if (p->cur == SIZE_MAX)
    return 0;
  const char *me = p->d->steps[p->cur].name;
  if ((size_t)idx == p->cur)
    return fail(p, "%s: a template of step \"%s\" reads its own output; a "
                   "step can read only the steps upstream of it",
                path, me);
  if (!p->upstream[idx])
    return fail(p, "%s: step \"%s\" is not upstream of step \"%s\"; add "
                   "\"%s\" to the needs of \"%s\" (or of a step it needs)",
                path, step, me, step, me);
  return 0;
}

static int check_refs(parser *p) {
  size_t n = p->d->n_steps;
  size_t *stack = malloc(n * sizeof *stack);
  int rc = 0;
  p->upstream = calloc(n, sizeof *p->upstream);
  if (stack == NULL || p->upstream == NULL)
    rc = fail_nomem(p);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    mark_upstream(p->d, i, p->upstream, stack);
    p->cur = i;
    rc = cairn__tmpl_step_refs(p->d->steps[i].with_tmpl, check_ref, p);
  }
  p->cur = SIZE_MAX;
  if (rc == 0 && p->d->output_tmpl)
    rc = cairn__tmpl_step_refs(p->d->output_tmpl, check_ref, p);
  free(stack);
  free(p->upstream);
  p->upstream = NULL;
  return rc;
}

/* ---- the document ---- */

static int parse_json(parser *p, const char *json, size_t len) {
  const char *end = NULL;
  cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  size_t at = end && end >= json ? (size_t)(end - json) : 0;
  if (doc) {
    while (at < len && json[at] && strchr(" \t\r\n", json[at]))
      at++;
  }
  if (doc == NULL || at < len) {
    size_t line = 1;
    size_t col = 1;
    for (size_t k = 0; k < at && k < len; k++) {
      col = json[k] == '\n' ? 1 : col + 1;
      line += json[k] == '\n';
    }
    cJSON_Delete(doc);
    return fail(p, "definition: %s at line %zu, column %zu; %s",
                doc ? "unexpected text after the JSON document"
                    : "not valid JSON",
                line, col, doc ? "remove it" : "fix the JSON syntax");
  }
  p->d->doc = doc;
  return 0;
}

static int parse_top(parser *p) {
  static const char *const known[] = {"name",  "description", "defaults",
                                      "steps", "output",      NULL};
  const cJSON *doc = p->d->doc;
  char got[48];
  if (!cJSON_IsObject(doc))
    return fail(p, "definition: %s is not an object; write "
                   "{\"name\": ..., \"steps\": [...]}",
                cairn__check_describe(doc, got, sizeof got));
  int rc = cairn__check_fields(&p->c, doc, "", known,
                        "a definition's fields are name, description, "
                        "defaults, steps, output");
  if (rc == 0)
    rc = check_name(p, cairn__check_field(doc, "name"), "name", "workflow");
  if (rc == 0 && cairn__check_field(doc, "description"))
    rc = cairn__check_string(&p->c, cairn__check_field(doc, "description"), "description", false,
                      "a sentence about the workflow");
  if (rc == 0)
    rc = parse_defaults(p, cairn__check_field(doc, "defaults"));
  if (rc)
    return rc;
  p->d->name = strdup(cairn__check_field(doc, "name")->valuestring);
  return p->d->name ? 0 : fail_nomem(p);
}

static int parse_steps(parser *p) {
  const cJSON *steps = cairn__check_field(p->d->doc, "steps");
  char got[48];
  if (steps == NULL)
    return fail(p, "steps: missing; list the workflow's steps in an array");
  if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0)
    return fail(p, "steps: %s is not a non-empty array; give at least one "
                   "step",
                cairn__check_describe(steps, got, sizeof got));
  size_t n = (size_t)cJSON_GetArraySize(steps);
  p->steps = steps;
  p->d->steps = calloc(n, sizeof *p->d->steps);
  p->implicit = calloc(n, sizeof *p->implicit);
  if (p->d->steps == NULL || p->implicit == NULL)
    return fail_nomem(p);
  p->d->n_steps = n;
  size_t i = 0;
  const cJSON *step;
  cJSON_ArrayForEach(step, steps) {
    int rc = parse_step(p, i++, step);
    if (rc)
      return rc;
  }
  return 0;
}

static const cJSON *step_json(parser *p, size_t i) {
  return cJSON_GetArrayItem(cairn__check_field(p->d->doc, "steps"), (int)i);
}

/* An evaluator is a step that scores another: it must need that step (its
 * output must exist when the evaluator runs), and a step takes a check or
 * an evaluator, not both. */
static int check_evaluators(parser *p) {
  cairn__def *d = p->d;
  for (size_t i = 0; i < d->n_steps; i++) {
    cairn__step_def *s = &d->steps[i];
    const cJSON *ev = cairn__check_field(step_json(p, i), "evaluator");
    s->evaluator = -1;
    if (ev == NULL)
      continue;
    if (!cJSON_IsString(ev))
      return fail(p, "steps[%zu].evaluator: give the name of the step that "
                     "scores this one", i);
    int e = cairn__def_step_index(d, ev->valuestring);
    if (e < 0 || (size_t)e == i)
      return fail(p, "steps[%zu].evaluator: \"%s\" is not another step of "
                     "this workflow", i, ev->valuestring);
    if (s->check_tmpl)
      return fail(p, "steps[%zu]: give a check or an evaluator, not both",
                  i);
    if (!cairn__def_upstream(d, i, (size_t)e))
      return fail(p, "steps[%zu].evaluator: step \"%s\" must need \"%s\" "
                     "(add it to its needs) to score its output", i,
                  ev->valuestring, s->name);
    s->evaluator = e;
  }
  return 0;
}

static int parse_graph(parser *p) {
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < p->d->n_steps; i++)
    rc = resolve_needs(p, i);
  if (rc == 0)
    rc = check_cycles(p);
  const cJSON *output = cairn__check_field(p->d->doc, "output");
  if (rc == 0 && output)
    rc = cairn__tmpl_compile_in(p->o->tmpls, output, "output",
                                &p->d->output_tmpl, p->c.err, p->c.errlen);
  if (rc == 0)
    rc = check_refs(p);
  if (rc == 0)
    rc = check_evaluators(p);
  return rc;
}

int cairn__def_parse_with(const char *json, size_t len,
                          const cairn__kind_resolver *kinds, cairn__def **out,
                          char *err, size_t errlen) {
  def_owner *o = calloc(1, sizeof *o);
  if (o == NULL)
    return CAIRN_ENOMEM;
  parser p = {.o = o, .d = &o->def, .kinds = kinds, .cur = SIZE_MAX,
              .c = {.err = err, .errlen = errlen}};
  int rc = cairn__tmpl_set_new(&o->tmpls);
  if (rc) {
    free(o);
    return rc;
  }
  rc = parse_json(&p, json ? json : "", json ? len : 0);
  if (rc == 0)
    rc = parse_top(&p);
  if (rc == 0)
    rc = parse_steps(&p);
  if (rc == 0)
    rc = parse_graph(&p);
  if (rc == 0) /* every template, as one jq program */
    rc = cairn__tmpl_set_build(o->tmpls, err, errlen);
  free(p.implicit);
  if (rc) {
    cairn__def_free(&o->def);
    return rc;
  }
  *out = &o->def;
  return 0;
}

void cairn__def_free(cairn__def *d) {
  if (d == NULL)
    return;
  def_owner *o = (def_owner *)d;
  for (size_t i = 0; i < d->n_steps; i++) {
    free(d->steps[i].name);
    free(d->steps[i].kind);
    free(d->steps[i].needs);
    cairn__tmpl_free(d->steps[i].with_tmpl);
    cairn__tmpl_free(d->steps[i].check_tmpl);
    cairn__tmpl_free(d->steps[i].produces_tmpl);
    cairn__tmpl_free(d->steps[i].consumes_tmpl);
  }
  free(d->steps);
  cairn__tmpl_free(d->output_tmpl);
  free(d->name);
  cJSON_Delete(d->doc);
  cJSON_Delete(o->empty_with);
  cairn__tmpl_set_free(o->tmpls);
  free(o);
}

const cairn__step_def *cairn__def_step(const cairn__def *d, const char *name) {
  int i = cairn__def_step_index(d, name);
  return i < 0 ? NULL : &d->steps[i];
}

int cairn__def_step_index(const cairn__def *d, const char *name) {
  for (size_t i = 0; name && i < d->n_steps; i++) {
    if (d->steps[i].name && strcmp(d->steps[i].name, name) == 0)
      return (int)i;
  }
  return -1;
}

bool cairn__def_upstream(const cairn__def *d, size_t a, size_t b) {
  if (a >= d->n_steps || b >= d->n_steps || a == b)
    return false;
  bool *mark = malloc(d->n_steps * sizeof *mark);
  size_t *stack = malloc(d->n_steps * sizeof *stack);
  bool up = false;
  if (mark && stack) {
    mark_upstream(d, b, mark, stack);
    up = mark[a];
  }
  free(mark);
  free(stack);
  return up;
}

int64_t cairn__retry_delay_ms(const cairn__retry_policy *p, uint32_t next) {
  if (next <= 1 || p->initial_delay_ms <= 0)
    return 0;
  double delay = (double)p->initial_delay_ms * pow(p->backoff, next - 2.0);
  if (p->max_delay_ms > 0 && delay > (double)p->max_delay_ms)
    return p->max_delay_ms;
  /* Past 2^62 ms (146 million years) a delay is "forever"; the bound
   * also keeps the conversion defined. */
  if (!(delay < 4611686018427387904.0))
    return INT64_C(4611686018427387904);
  return (int64_t)delay;
}

/* ---- RFC 3339 ---- */

/* Reads exactly `n` digits. */
static bool digits(const char **s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*s)[i];
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  *s += n;
  *out = v;
  return true;
}

static bool expect(const char **s, const char *one_of) {
  if (**s == '\0' || strchr(one_of, **s) == NULL)
    return false;
  (*s)++;
  return true;
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* The offset east of UTC in minutes: "Z", "+hh:mm" or "-hh:mm". */
static bool parse_offset(const char **s, int *minutes) {
  int hh;
  int mm;
  char sign = **s;
  if (expect(s, "Zz")) {
    *minutes = 0;
    return true;
  }
  if (!expect(s, "+-") || !digits(s, 2, &hh) || !expect(s, ":") ||
      !digits(s, 2, &mm) || hh > 23 || mm > 59)
    return false;
  *minutes = (sign == '-' ? -1 : 1) * (hh * 60 + mm);
  return true;
}

int cairn__rfc3339_ms(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, off;
  int frac = 0;
  if (!digits(&s, 4, &y) || !expect(&s, "-") || !digits(&s, 2, &mo) ||
      !expect(&s, "-") || !digits(&s, 2, &d) || !expect(&s, "Tt ") ||
      !digits(&s, 2, &h) || !expect(&s, ":") || !digits(&s, 2, &mi) ||
      !expect(&s, ":") || !digits(&s, 2, &sec))
    return CAIRN_EINVAL;
  if (*s == '.') {
    int scale = 100;
    if (s[1] < '0' || s[1] > '9')
      return CAIRN_EINVAL;
    for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
      frac += (*s - '0') * scale;
  }
  if (!parse_offset(&s, &off) || *s != '\0')
    return CAIRN_EINVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
      mi > 59 || sec > 60)
    return CAIRN_EINVAL;
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                 sec - (int64_t)off * 60;
  *ms = secs * 1000 + frac;
  return 0;
}
