/*
 * fork.c — derived runs: reset, rerun from a step, replay, and the
 * single-step rerun inside a finished run (DESIGN.md, "Derived runs: one
 * mechanism").
 *
 * A derived run is `run.started` (with its origin) followed by one
 * `step.reused` per kept step, each referencing the original
 * `step.completed`. Everything the fork needs about its parent comes from
 * the parent's views (one record per step, each naming where the step's
 * visible output lives, already resolved to the original event), so a fork
 * reads O(steps) records and writes O(steps reused) events, whatever the
 * length of the parent's history. The only history it reads is, for a
 * reset, the events after the reset point, to re-deliver signals.
 *
 * Which steps are kept:
 *   reset X        every step whose completion precedes X's in the
 *                  parent's history, and X itself (X must have completed)
 *   rerun from X   every completed step that is not X and not downstream
 *                  of X, and whose definition no override changed
 *   replay         none, unless --reuse: then every completed step whose
 *                  definition is unchanged, whose upstream steps are all
 *                  kept, when the input is unchanged
 *
 * Steps marked "mutates" are dry-run in reruns and replays (not resets,
 * which are the workflow carrying on): the derived run records the
 * parent's output for them without performing them. The list is in the
 * origin (run.started meta "dry_run"), where the engine reads it.
 *
 * Every fork is one transaction: the new run, its reused steps, the
 * parent's termination (a reset of a running run), re-delivered signals,
 * the effective definition snapshot, a saved rename mapping and the audit
 * record land together or not at all.
 */
#include "engine_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cairn_str S(const char *s) { return (cairn_str){s, s ? strlen(s) : 0}; }

/* A step of the parent, from its view. */
typedef struct pstep {
  char name[CAIRN_STEP_NAME_MAX + 1];
  int status;
  uint32_t done_seq;    /* its visible completion in the parent, 0: none */
  uint64_t out_run;     /* where the original step.completed lives */
  uint32_t out_seq;
  uint32_t attempts;    /* attempts started */
  uint32_t ok_attempt;  /* the visible one, 0: none */
  bool reused;
} pstep;

typedef struct fork_ctx {
  cairn_engine *e;
  const cairn_fork_request *req;
  cairn_fork_result *out;
  cairn_reader *r;
  cairn_run_info parent;
  cJSON *input;            /* the parent's input (owned) */
  bool input_changed;
  pstep *steps;            /* the parent's steps with events */
  size_t n_steps, cap_steps;
  char *base_json;         /* the definition the new run starts from */
  char base_hash[CAIRN_HASH_HEX_LEN + 1];
  cJSON *parent_def;       /* the parent's definition document */
  cJSON *def;              /* the effective definition document */
  cairn__def *pdef;        /* parsed parent definition */
  cairn__def *edef;        /* parsed effective definition */
  cJSON *maps;             /* OLD -> NEW renames (object) */
  cJSON *origin;           /* origin meta: overrides, dry_run, maps */
  bool *keep;              /* per effective step: reused */
  const pstep **src;       /* per effective step: its parent step */
  char *rerun_with;        /* RERUN_STEP: the step's overridden `with` */
  char *partition;         /* the parent's partition key, kept (owned) */
  char *stale;             /* replay: the parent's stale assets, JSON */
  bool mismatch;           /* the request id belongs to another action */
} fork_ctx;

static int fail(fork_ctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(fork_ctx *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->e->errmsg, sizeof c->e->errmsg, fmt, ap);
  va_end(ap);
  return rc;
}

static const char *kind_word(int kind) {
  return kind == CAIRN_FORK_RESET    ? "reset"
         : kind == CAIRN_FORK_REPLAY ? "replay"
                                     : "rerun";
}

/* ------------------------------------------------------------ parent */

static int on_step(void *p, const cairn_step_view *v) {
  fork_ctx *c = p;
  if (c->n_steps == c->cap_steps) {
    size_t cap = c->cap_steps ? 2 * c->cap_steps : 16;
    pstep *s = realloc(c->steps, cap * sizeof *s);
    if (s == NULL)
      return 1;
    c->steps = s;
    c->cap_steps = cap;
  }
  pstep *s = &c->steps[c->n_steps++];
  snprintf(s->name, sizeof s->name, "%.*s", (int)v->name.len, v->name.ptr);
  s->status = v->status;
  s->out_run = v->out_run;
  s->out_seq = v->out_seq;
  s->attempts = v->attempts;
  s->ok_attempt = v->ok_attempt;
  s->reused = v->reused;
  /* Where the parent's history shows the step done: its own completion,
   * or the step.reused event (its first). */
  s->done_seq = v->out_seq == 0          ? 0
                : v->out_run == c->parent.key ? v->out_seq
                                              : v->first_seq;
  return 0;
}

static const pstep *pstep_of(const fork_ctx *c, const char *name) {
  for (size_t i = 0; i < c->n_steps; i++)
    if (strcmp(c->steps[i].name, name) == 0)
      return &c->steps[i];
  return NULL;
}

/* "a, b, c": the step names of a definition, for messages. */
static void step_list(const cairn__def *d, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; d && i < d->n_steps && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
                          d->steps[i].name);
}

static int find_parent(fork_ctx *c) {
  cairn_workflow_info w;
  const char *id = c->req->id;
  int rc = cairn_reader_run_by_id(c->r, id, &c->parent);
  if (rc == CAIRN_ENOTFOUND) {
    rc = cairn_reader_workflow(c->r, c->e->ns, id, &w);
    if (rc == 0)
      rc = cairn_reader_run_by_key(c->r, w.current, &c->parent);
  }
  if (rc == CAIRN_ENOTFOUND)
    return fail(c, rc, "no run or workflow has id %s in namespace %s", id,
                c->e->ns);
  if (rc)
    return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  if (strcmp(c->parent.ns, c->e->ns) != 0)
    return fail(c, CAIRN_EFORBIDDEN, "run %s belongs to namespace %s; act "
                "on it with --namespace %s", c->parent.run_id,
                c->parent.ns, c->parent.ns);
  return 0;
}

static int load_parent(fork_ctx *c) {
  cairn_event ev;
  cairn_str json;
  char err[512] = "";
  int rc = find_parent(c);
  if (rc)
    return rc;
  if ((rc = cairn_reader_event(c->r, c->parent.key, 1, &ev)) != 0)
    return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  c->input = cJSON_ParseWithLength(ev.input.ptr ? ev.input.ptr : "null",
                                   ev.input.ptr ? ev.input.len : 4);
  if (ev.partition.ptr)
    c->partition = strndup(ev.partition.ptr, ev.partition.len);
  if ((rc = cairn_reader_steps(c->r, c->parent.key, on_step, c)) != 0)
    return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  rc = cairn_reader_definition(c->r, c->parent.def_hash, &json);
  if (rc == 0)
    c->parent_def = cJSON_ParseWithLength(json.ptr, json.len);
  if (rc == 0)
    rc = cairn__def_parse(json.ptr, json.len, cairn__engine_is_native, c->e,
                          &c->pdef, err, sizeof err);
  if (rc)
    return fail(c, rc, "the definition of run %s: %s", c->parent.run_id,
                *err ? err : cairn_journal_errmsg(c->e->j));
  return 0;
}

/* ----------------------------------------------------------- policies */

static int check_state(fork_ctx *c) {
  int kind = c->req->kind;
  bool final = cairn_run_status_is_final(c->parent.status);
  if (kind != CAIRN_FORK_RESET && !final)
    return fail(c, CAIRN_ECONFLICT, "run %s is still %s; a %s needs a "
                "finished run (wait for it, or cancel it first)",
                c->parent.run_id, cairn_run_status_name(c->parent.status),
                kind == CAIRN_FORK_REPLAY ? "replay" : "rerun");
  if (kind == CAIRN_FORK_RERUN_STEP &&
      c->parent.status != CAIRN_RUN_COMPLETED &&
      c->parent.status != CAIRN_RUN_FAILED)
    return fail(c, CAIRN_ECONFLICT, "run %s was %s; a single-step rerun "
                "needs a run that completed or failed; use replay",
                c->parent.run_id, cairn_run_status_name(c->parent.status));
  return 0;
}

/* The number of derived runs between `key`'s run and its original. */
static int depth_of(fork_ctx *c, const cairn_run_info *run) {
  cairn_run_info cur = *run;
  int depth = 0;
  while (cur.parent_run_id[0] && depth < 1000) {
    if (cairn_reader_run_by_id(c->r, cur.parent_run_id, &cur) != 0)
      break;
    depth++;
  }
  return depth;
}

static int check_limits(fork_ctx *c) {
  const cairn_limits *l = &c->e->limits;
  if (c->req->kind == CAIRN_FORK_RERUN_STEP)
    return 0; /* no new run */
  int depth = depth_of(c, &c->parent);
  if (depth + 1 > l->max_fork_depth) {
    cairn_run_info root = c->parent;
    while (root.parent_run_id[0] &&
           cairn_reader_run_by_id(c->r, root.parent_run_id, &root) == 0)
      ;
    return fail(c, CAIRN_ERATELIMIT, "run %s is %d derivation(s) from its "
                "original; the limit is %d (limits.max_fork_depth in "
                "config.json); derive from the original run %s instead",
                c->parent.run_id, depth, l->max_fork_depth, root.run_id);
  }
  int64_t now = cairn__now_us(), since = now - 60 * 1000000LL;
  static const char *const derived[] = {"reset", "rerun", "replay"};
  uint64_t total = 0;
  int64_t oldest = now;
  for (size_t i = 0; i < 3; i++) {
    uint64_t n = 0;
    int64_t first = 0;
    cairn_reader_audit_count(c->r, c->e->ns, derived[i], since,
                             (uint64_t)l->max_forks_per_minute, &n, &first);
    total += n;
    if (n && first < oldest)
      oldest = first;
  }
  if (total >= (uint64_t)l->max_forks_per_minute) {
    int64_t wait_s = (oldest + 60 * 1000000LL - now) / 1000000 + 1;
    return fail(c, CAIRN_ERATELIMIT, "%llu derived runs in the last minute "
                "in namespace %s (limit %d, limits.max_forks_per_minute); "
                "try again in %lld s", (unsigned long long)total, c->e->ns,
                l->max_forks_per_minute, (long long)wait_s);
  }
  return 0;
}

/* The definition the new run starts from, and the checks on its name. */
static int load_base(fork_ctx *c) {
  const char *which = c->req->definition;
  char ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version = 0;
  cairn_str json;
  memcpy(c->base_hash, c->parent.def_hash, sizeof c->base_hash);
  bool named = cairn_reader_definition_of_hash(c->r, c->parent.def_hash, ns,
                                               name, &version) == 0;
  if (!named)
    snprintf(name, sizeof name, "%s", c->pdef->name);
  if (which && strcmp(which, "current") == 0) {
    if (cairn_reader_definition_version(c->r, c->e->ns, name, 0,
                                        c->base_hash, &version) != 0)
      return fail(c, CAIRN_ENOTFOUND, "workflow %s has no registered "
                  "version; use --definition FILE", name);
    named = true;
  }
  cairn_definition_state st = {0};
  cairn_reader_definition_state(c->r, c->e->ns, name, &st);
  if (st.paused && c->req->kind != CAIRN_FORK_RESET)
    return fail(c, CAIRN_ECONFLICT, "workflow %s is paused; no replay or "
                "rerun until `cairn workflow unpause %s`", name, name);
  /* An explicit "original" is the default: refused alike if deleted. */
  bool original = which == NULL || strcmp(which, "original") == 0;
  for (uint32_t i = 0; named && original && i < st.n_deleted; i++)
    if (st.deleted[i] == version)
      return fail(c, CAIRN_ECONFLICT, "version %u of workflow %s was "
                  "deleted; %s the run with --definition current or a "
                  "FILE", version, name,
                  c->req->kind == CAIRN_FORK_REPLAY
                      ? "replay"
                      : "a reset or rerun needs it: replay");
  if (which && strcmp(which, "current") != 0 &&
      strcmp(which, "original") != 0) {
    /* A file is known by its snapshot hash, which keys saved rename
     * mappings: a file with a registered version's text maps like it. The
     * batch only computes the hash; it is never committed. */
    cairn_batch *hb;
    if (cairn_batch_new(c->e->j, &hb) == 0) {
      char h[CAIRN_HASH_HEX_LEN + 1];
      if (cairn_batch_put_definition(hb, c->e->ns, NULL, which,
                                     strlen(which), h) >= 0)
        memcpy(c->base_hash, h, sizeof c->base_hash);
      cairn_batch_free(hb);
    }
    c->base_json = strdup(which);
    return c->base_json ? 0 : CAIRN_ENOMEM;
  }
  int rc = cairn_reader_definition(c->r, c->base_hash, &json);
  if (rc)
    return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  c->base_json = strndup(json.ptr, json.len);
  return c->base_json ? 0 : CAIRN_ENOMEM;
}

/* ---------------------------------------------------------- overrides */

static cJSON *step_obj(cJSON *def, const char *name) {
  cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(def, "steps")) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
      return it;
  }
  return NULL;
}

/* Sets `value` (consumed) at dotted path `path` inside `obj`, creating
 * objects on the way. */
static bool set_path(cJSON *obj, const char *path, cJSON *value) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", path[0] == '.' ? path + 1 : path);
  char *save = NULL, *key = strtok_r(buf, ".", &save);
  while (key) {
    char *next = strtok_r(NULL, ".", &save);
    if (!cJSON_IsObject(obj)) {
      cJSON_Delete(value);
      return false;
    }
    if (next == NULL) {
      cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
      cJSON_AddItemToObject(obj, key, value);
      return true;
    }
    cJSON *child = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (child == NULL)
      child = cJSON_AddObjectToObject(obj, key);
    obj = child;
    key = next;
  }
  cJSON_Delete(value);
  return false;
}

/* Applies one "kind:target=value" override to the definition or input. */
static int apply_override(fork_ctx *c, const char *o) {
  char target[300];
  const char *colon = strchr(o, ':'), *eq = colon ? strchr(colon, '=') : 0;
  if (colon == NULL || eq == NULL || (size_t)(eq - colon - 1) >= sizeof target)
    return fail(c, CAIRN_EINVAL, "override '%s' is not KIND:TARGET=VALUE",
                o);
  snprintf(target, sizeof target, "%.*s", (int)(eq - colon - 1), colon + 1);
  const char *value = eq + 1;
  size_t kl = (size_t)(colon - o);
  bool json = (kl == 5 && strncmp(o, "input", 5) == 0) ||
              (kl == 5 && strncmp(o, "param", 5) == 0);
  cJSON *v = json ? cJSON_Parse(value) : cJSON_CreateString(value);
  if (v == NULL)
    return fail(c, CAIRN_EINVAL, "override %s: '%s' is not JSON (quote "
                "strings: '\"text\"')", target, value);
  if (kl == 5 && strncmp(o, "input", 5) == 0) {
    c->input_changed = true;
    if (!set_path(c->input, target, v))
      return fail(c, CAIRN_EINVAL, "--set-input %s: the input is not an "
                  "object along that path", target);
    return 0;
  }
  char step[CAIRN_STEP_NAME_MAX + 1];
  const char *field = kl == 6 && strncmp(o, "prompt", 6) == 0 ? "prompt"
                      : kl == 5 && strncmp(o, "model", 5) == 0 ? "model"
                                                               : NULL;
  const char *dot = field ? NULL : strchr(target, '.');
  snprintf(step, sizeof step, "%.*s",
           (int)(dot ? (size_t)(dot - target) : strlen(target)), target);
  if (!field && dot == NULL) {
    cJSON_Delete(v);
    return fail(c, CAIRN_EINVAL, "--param %s: name STEP.FIELD", target);
  }
  cJSON *s = step_obj(c->def, step);
  if (s == NULL) {
    char list[600];
    step_list(c->pdef, list, sizeof list);
    cJSON_Delete(v);
    return fail(c, CAIRN_ENOTFOUND, "override of step %s: no such step; "
                "the steps are: %s", step, list);
  }
  cJSON *with = cJSON_GetObjectItemCaseSensitive(s, "with");
  if (with == NULL)
    with = cJSON_AddObjectToObject(s, "with");
  if (!set_path(with, field ? field : dot + 1, v))
    return fail(c, CAIRN_EINVAL, "override of step %s: `with` is not an "
                "object along %s", step, field ? field : dot + 1);
  return 0;
}

/* The llm step a new prompt or model goes to: `want`, else `own` (the
 * artifact's step, when the artifact is this definition's), else the
 * definition's only llm step. */
static int llm_step(fork_ctx *c, const char *want, const char *own,
                    const char *what, cJSON **out) {
  const char *name = want && *want ? want : own && *own ? own : NULL;
  char list[600];
  if (name) {
    cJSON *s = step_obj(c->def, name);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "kind");
    if (s == NULL) {
      step_list(c->pdef, list, sizeof list);
      return fail(c, CAIRN_ENOTFOUND, "%s for step %s: no such step; the "
                  "steps are: %s", what, name, list);
    }
    if (!cJSON_IsString(k) || strcmp(k->valuestring, "llm") != 0)
      return fail(c, CAIRN_EINVAL, "%s for step %s: it is a%s %s step; "
                  "prompts and models belong to llm steps", what, name,
                  cJSON_IsString(k) && strchr("aeiou", *k->valuestring)
                      ? "n" : "",
                  cJSON_IsString(k) ? k->valuestring : "kindless");
    *out = s;
    return 0;
  }
  cJSON *it, *found = NULL;
  int n = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(c->def, "steps")) {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");
    if (cJSON_IsString(k) && strcmp(k->valuestring, "llm") == 0) {
      found = it;
      n++;
    }
  }
  if (n == 1) {
    *out = found;
    return 0;
  }
  if (n == 0)
    return fail(c, CAIRN_EINVAL, "%s: the workflow has no llm step", what);
  return fail(c, CAIRN_EINVAL, "%s: the workflow has %d llm steps; name "
              "the one it is for", what, n);
}

/* Sets the string `field` of step s's `with` to `text`. */
static int set_with(fork_ctx *c, cJSON *s, const char *field,
                    const char *text, size_t len) {
  cJSON *with = cJSON_GetObjectItemCaseSensitive(s, "with");
  if (!cJSON_IsObject(with)) {
    cJSON_DeleteItemFromObjectCaseSensitive(s, "with");
    with = cJSON_AddObjectToObject(s, "with");
  }
  char *copy = strndup(text, len);
  cJSON *v = copy ? cJSON_CreateString(copy) : NULL;
  free(copy);
  if (with == NULL || v == NULL) {
    cJSON_Delete(v);
    return fail(c, CAIRN_ENOMEM, "out of memory");
  }
  cJSON_DeleteItemFromObjectCaseSensitive(with, field);
  cJSON_AddItemToObject(with, field, v);
  return 0;
}

static const char *step_name(const cJSON *s) {
  return cJSON_GetObjectItemCaseSensitive(s, "name")->valuestring;
}

/* A new prompt by artifact id and content hash, a new model: set on their
 * llm steps and recorded in the origin as "prompt": {artifact, hash,
 * step} and "model": {model, step}. */
static int apply_artifacts(fork_ctx *c) {
  const cairn_fork_request *q = c->req;
  cJSON *s;
  int rc;
  if ((q->prompt_artifact == NULL) != (q->prompt_hash == NULL))
    return fail(c, CAIRN_EINVAL, "a new prompt names both its artifact id "
                "(prompt_...) and the content hash of the revision "
                "(sha256:...)");
  if (q->prompt_artifact) {
    cairn_prompt art;
    cairn_str text;
    rc = cairn__prompt_find(c->e, c->r, q->prompt_artifact, q->prompt_hash,
                            &art, &text);
    if (rc)
      return rc;
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(c->def, "name");
    bool own = cJSON_IsString(dn) && strcmp(dn->valuestring,
                                            art.workflow) == 0;
    rc = llm_step(c, q->prompt_step, own ? art.step : NULL, "the new prompt",
                  &s);
    cairn_prompt_free(&art);
    if (rc == 0)
      rc = set_with(c, s, "prompt", text.ptr, text.len);
    if (rc)
      return rc;
    cJSON *o = cJSON_AddObjectToObject(c->origin, "prompt");
    cJSON_AddStringToObject(o, "artifact", q->prompt_artifact);
    cJSON_AddStringToObject(o, "hash", q->prompt_hash);
    cJSON_AddStringToObject(o, "step", step_name(s));
  }
  if (q->model) {
    if (strchr(q->model, ':') == NULL)
      return fail(c, CAIRN_EINVAL, "model '%s' is not PROVIDER:MODEL (for "
                  "instance openai:gpt-4o-mini)", q->model);
    if ((rc = llm_step(c, q->model_step, NULL, "the new model", &s)) != 0 ||
        (rc = set_with(c, s, "model", q->model, strlen(q->model))) != 0)
      return rc;
    cJSON *o = cJSON_AddObjectToObject(c->origin, "model");
    cJSON_AddStringToObject(o, "model", q->model);
    cJSON_AddStringToObject(o, "step", step_name(s));
  }
  return 0;
}

static int apply_overrides(fork_ctx *c) {
  cJSON *list = cJSON_AddArrayToObject(c->origin, "overrides");
  for (size_t i = 0; i < c->req->n_overrides; i++) {
    int rc = apply_override(c, c->req->overrides[i]);
    if (rc)
      return rc;
    cJSON_AddItemToArray(list, cJSON_CreateString(c->req->overrides[i]));
  }
  return 0;
}

/* ------------------------------------------- single-step reruns carried */

/* A replay of the parent as it is (its own snapshot) keeps what a
 * single-step rerun changed: a step whose visible output came from an
 * attempt of `rerun --step X --prompt ...` (or --param, --model) replays
 * with that rerun's `with`, since that is what made the output the parent
 * shows. Found by reading the parent's step.rerun_requested events, only
 * when some step's visible attempt is not its first; the `with` active
 * when the visible attempt started wins. Recorded in the origin as
 * "carried": {STEP: RERUN_SEQ}. Explicit overrides apply on top. */
typedef struct carried {
  const char *step;   /* a parent step's name */
  uint32_t ok_attempt;
  cJSON *pending;     /* the latest rerun's `with` (owned) */
  uint32_t pending_seq;
  cJSON *chosen;      /* active when the visible attempt started (owned) */
  uint32_t chosen_seq;
} carried;

static void carry_event(carried *cs, size_t n, const cairn_event *ev) {
  for (size_t i = 0; i < n; i++) {
    carried *k = &cs[i];
    if (ev->step.len != strlen(k->step) ||
        memcmp(ev->step.ptr, k->step, ev->step.len) != 0)
      continue;
    if (ev->type == CAIRN_EV_STEP_RERUN_REQUESTED) {
      cJSON *meta = cJSON_ParseWithLength(ev->meta.ptr, ev->meta.len);
      cJSON_Delete(k->pending);
      k->pending = cJSON_DetachItemFromObjectCaseSensitive(meta, "with");
      k->pending_seq = ev->seq;
      cJSON_Delete(meta);
    }
    else if (ev->type == CAIRN_EV_STEP_STARTED &&
             ev->attempt == k->ok_attempt) {
      cJSON_Delete(k->chosen);
      k->chosen = k->pending ? cJSON_Duplicate(k->pending, 1) : NULL;
      k->chosen_seq = k->pending_seq;
    }
  }
}

static int carry_apply(fork_ctx *c, carried *cs, size_t n) {
  cJSON *list = NULL;
  for (size_t i = 0; i < n; i++) {
    cJSON *s = step_obj(c->def, cs[i].step);
    if (cs[i].chosen == NULL || s == NULL)
      continue;
    cJSON_DeleteItemFromObjectCaseSensitive(s, "with");
    cJSON_AddItemToObject(s, "with", cs[i].chosen);
    cs[i].chosen = NULL;
    if (list == NULL)
      list = cJSON_AddObjectToObject(c->origin, "carried");
    cJSON_AddNumberToObject(list, cs[i].step, cs[i].chosen_seq);
  }
  return 0;
}

static int carry_reruns(fork_ctx *c) {
  carried *cs = calloc(c->n_steps ? c->n_steps : 1, sizeof *cs);
  size_t n = 0;
  if (cs == NULL)
    return CAIRN_ENOMEM;
  for (size_t i = 0; i < c->n_steps; i++)
    if (c->steps[i].ok_attempt > 1 && !c->steps[i].reused)
      cs[n++] = (carried){.step = c->steps[i].name,
                          .ok_attempt = c->steps[i].ok_attempt};
  int rc = 0;
  cairn_history *it = NULL;
  if (n > 0)
    rc = cairn_reader_history(c->r, c->parent.key, 1, &it);
  cairn_event ev;
  while (it && rc == 0 && (rc = cairn_history_next(it, &ev)) == 1) {
    rc = 0;
    if (ev.type == CAIRN_EV_STEP_RERUN_REQUESTED ||
        ev.type == CAIRN_EV_STEP_STARTED)
      carry_event(cs, n, &ev);
  }
  cairn_history_close(it);
  if (rc < 0)
    rc = fail(c, rc, "reading the history of run %s: %s", c->parent.run_id,
              cairn_journal_errmsg(c->e->j));
  else if (n > 0)
    rc = carry_apply(c, cs, n);
  for (size_t i = 0; i < n; i++) {
    cJSON_Delete(cs[i].pending);
    cJSON_Delete(cs[i].chosen);
  }
  free(cs);
  return rc;
}

/* ----------------------------------------------------------- renames */

/* Explicit --map OLD=NEW, then a mapping saved for this pair. */
static int load_maps(fork_ctx *c, const char *to_hash) {
  cairn_str saved;
  c->maps = cJSON_CreateObject();
  if (cairn_reader_mapping(c->r, c->parent.def_hash, to_hash, &saved) == 0) {
    cJSON *m = cJSON_ParseWithLength(saved.ptr, saved.len);
    cJSON *it;
    cJSON_ArrayForEach(it, m) {
      if (cJSON_IsString(it))
        cJSON_AddStringToObject(c->maps, it->string, it->valuestring);
    }
    cJSON_Delete(m);
  }
  for (size_t i = 0; i < c->req->n_maps; i++) {
    const char *m = c->req->maps[i], *eq = strchr(m, '=');
    char old[CAIRN_STEP_NAME_MAX + 1];
    if (eq == NULL || eq == m || eq[1] == '\0' ||
        (size_t)(eq - m) > CAIRN_STEP_NAME_MAX)
      return fail(c, CAIRN_EINVAL, "--map '%s' is not OLD=NEW", m);
    snprintf(old, sizeof old, "%.*s", (int)(eq - m), m);
    cJSON_DeleteItemFromObjectCaseSensitive(c->maps, old);
    cJSON_AddStringToObject(c->maps, old, eq + 1);
  }
  return 0;
}

/* The new name of parent step `name` (itself when not renamed). */
static const char *mapped(const fork_ctx *c, const char *name) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(c->maps, name);
  return cJSON_IsString(m) ? m->valuestring : name;
}

/* Refuses a replay whose definition both lost and gained steps that no
 * mapping explains: those are probably renames. */
static int check_renames(fork_ctx *c) {
  char gone[600] = "", added[600] = "";
  size_t ng = 0, na = 0;
  for (size_t i = 0; i < c->pdef->n_steps; i++) {
    const char *to = mapped(c, c->pdef->steps[i].name);
    if (cairn__def_step_index(c->edef, to) < 0)
      ng += (size_t)snprintf(gone + ng, ng < sizeof gone ? sizeof gone - ng
                                                         : 0,
                             "%s%s", ng ? ", " : "", to);
  }
  for (size_t i = 0; i < c->edef->n_steps; i++) {
    bool known = false;
    for (size_t k = 0; k < c->pdef->n_steps && !known; k++)
      known = strcmp(mapped(c, c->pdef->steps[k].name),
                     c->edef->steps[i].name) == 0;
    if (!known)
      na += (size_t)snprintf(added + na, na < sizeof added ? sizeof added - na
                                                           : 0,
                             "%s%s", na ? ", " : "", c->edef->steps[i].name);
  }
  if (ng && na)
    return fail(c, CAIRN_ECONFLICT, "the definition lost steps (%s) and "
                "gained steps (%s); if a step was renamed, map it with "
                "--map OLD=NEW (one per renamed step)", gone, added);
  return 0;
}

/* ------------------------------------------------------------- reuse */

static bool same_step(const fork_ctx *c, size_t ei, const pstep *p) {
  cJSON *a = step_obj(c->parent_def, p->name);
  cJSON *b = step_obj(c->def, c->edef->steps[ei].name);
  if (a == NULL || b == NULL)
    return false;
  cJSON *ac = cJSON_Duplicate(a, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(ac, "name");
  cJSON *bc = cJSON_Duplicate(b, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(bc, "name");
  bool same = cJSON_Compare(ac, bc, 1);
  cJSON_Delete(ac);
  cJSON_Delete(bc);
  return same;
}

static int choose_kept(fork_ctx *c) {
  size_t n = c->edef->n_steps;
  int kind = c->req->kind;
  const pstep *point = NULL;
  c->keep = calloc(n, sizeof *c->keep);
  c->src = calloc(n, sizeof *c->src);
  if (c->keep == NULL || c->src == NULL)
    return CAIRN_ENOMEM;
  for (size_t i = 0; i < c->pdef->n_steps; i++) {
    int k = cairn__def_step_index(c->edef, mapped(c, c->pdef->steps[i].name));
    if (k >= 0)
      c->src[k] = pstep_of(c, c->pdef->steps[i].name);
  }
  int x = c->req->step ? cairn__def_step_index(c->edef, c->req->step) : -1;
  if (kind == CAIRN_FORK_RESET)
    point = pstep_of(c, c->req->step);
  for (size_t i = 0; i < n; i++) {
    const pstep *p = c->src[i];
    if (p == NULL || p->done_seq == 0)
      continue;
    if (kind == CAIRN_FORK_RESET)
      c->keep[i] = p->done_seq <= point->done_seq;
    else if (kind == CAIRN_FORK_RERUN_FROM)
      c->keep[i] = (int)i != x && !cairn__def_upstream(c->edef, (size_t)x, i) &&
                   same_step(c, i, p);
    else if (kind == CAIRN_FORK_REPLAY)
      c->keep[i] = c->req->reuse && !c->input_changed && same_step(c, i, p);
  }
  /* A step whose upstream runs again runs again (its input may change). */
  for (size_t i = 0; kind != CAIRN_FORK_RESET && i < n; i++)
    for (size_t k = 0; c->keep[i] && k < c->edef->steps[i].n_needs; k++)
      if (!c->keep[c->edef->steps[i].needs[k]])
        c->keep[i] = false;
  return 0;
}

/* The step must exist (else the steps are listed) and, for a reset, have
 * completed. */
static int check_point(fork_ctx *c) {
  const char *step = c->req->step;
  char list[600];
  if (c->req->kind == CAIRN_FORK_REPLAY)
    return 0;
  if (step == NULL)
    return fail(c, CAIRN_EINVAL, "a %s needs --step NAME",
                kind_word(c->req->kind));
  step_list(c->pdef, list, sizeof list);
  if (cairn__def_step_index(c->pdef, step) < 0)
    return fail(c, CAIRN_ENOTFOUND, "run %s has no step %s; its steps are: "
                "%s", c->parent.run_id, step, list);
  const pstep *p = pstep_of(c, step);
  if (c->req->kind == CAIRN_FORK_RESET &&
      (p == NULL || p->done_seq == 0 || p->status != CAIRN_STEP_COMPLETED))
    return fail(c, CAIRN_ECONFLICT, "step %s of run %s has not completed "
                "(it is %s); reset after a completed step", step,
                c->parent.run_id,
                cairn_step_status_name(p ? p->status : CAIRN_STEP_PENDING));
  if (c->req->kind == CAIRN_FORK_RERUN_STEP &&
      (p == NULL || (p->status != CAIRN_STEP_COMPLETED &&
                     p->status != CAIRN_STEP_FAILED)))
    return fail(c, CAIRN_ECONFLICT, "step %s of run %s is %s; only a "
                "completed or failed step is rerun", step, c->parent.run_id,
                cairn_step_status_name(p ? p->status : CAIRN_STEP_PENDING));
  return 0;
}

/* -------------------------------------------------------- mutations */

static bool mutation_allowed(const fork_ctx *c, size_t i) {
  cJSON *s = step_obj(c->def, c->edef->steps[i].name);
  const cJSON *rp = cJSON_GetObjectItemCaseSensitive(s, "replay");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(rp, "allow_mutations");
  return c->req->allow_mutations || cJSON_IsTrue(am);
}

static void list_add(char **list, const char *name) {
  size_t n = *list ? strlen(*list) : 0;
  char *l = realloc(*list, n + strlen(name) + 3);
  if (l == NULL)
    return;
  snprintf(l + n, strlen(name) + 3, "%s%s", n ? ", " : "", name);
  *list = l;
}

/* Decides dry-runs: recorded in the origin as {STEP: {run, seq} | null}
 * (the parent's output to record, or null when it had none). */
static void plan_mutations(fork_ctx *c) {
  cJSON *dry = cJSON_AddObjectToObject(c->origin, "dry_run");
  for (size_t i = 0; i < c->edef->n_steps; i++) {
    const cairn__step_def *sd = &c->edef->steps[i];
    bool only = c->req->kind == CAIRN_FORK_RERUN_STEP;
    if (!sd->mutates || c->keep[i] ||
        (only && strcmp(sd->name, c->req->step) != 0))
      continue;
    if (c->req->kind == CAIRN_FORK_RESET || mutation_allowed(c, i)) {
      list_add(&c->out->for_real, sd->name);
      continue;
    }
    list_add(&c->out->dry_run, sd->name);
    const pstep *p = c->src[i];
    cairn_run_info src;
    if (p && p->out_seq &&
        cairn_reader_run_by_key(c->r, p->out_run, &src) == 0) {
      cJSON *ref = cJSON_AddObjectToObject(dry, sd->name);
      cJSON_AddStringToObject(ref, "run", src.run_id);
      cJSON_AddNumberToObject(ref, "seq", p->out_seq);
    }
    else {
      cJSON_AddNullToObject(dry, sd->name);
    }
  }
}

/* ---------------------------------------------------------- writing */

static int add_reused(fork_ctx *c, cairn_batch *b) {
  /* In the parent's completion order, so the new history reads like it. */
  for (uint32_t emitted = 0;;) {
    int best = -1;
    for (size_t i = 0; i < c->edef->n_steps; i++)
      if (c->keep[i] && c->src[i]->done_seq > emitted &&
          (best < 0 || c->src[i]->done_seq < c->src[best]->done_seq))
        best = (int)i;
    if (best < 0)
      return 0;
    const pstep *p = c->src[best];
    cairn_run_info src;
    int rc = cairn_reader_run_by_key(c->r, p->out_run, &src);
    if (rc)
      return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
    cairn_event ev = {.type = CAIRN_EV_STEP_REUSED,
                      .step = S(c->edef->steps[best].name),
                      .ref_run = S(src.run_id), .ref_seq = p->out_seq};
    if ((rc = cairn_batch_append(b, c->out->run_id, &ev, 1)) < 0)
      return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
    emitted = p->done_seq;
  }
}

/* A reset re-delivers the signals the parent received after the point. */
static int add_signals(fork_ctx *c, cairn_batch *b) {
  cairn_run_view v;
  cairn_history *it;
  cairn_event ev;
  if (c->req->kind != CAIRN_FORK_RESET || c->req->no_reapply_signals ||
      cairn_reader_run_view(c->r, c->parent.key, &v) != 0 ||
      v.n_signals == 0)
    return 0;
  /* Only a reset has a point (a replay has no step at all). */
  const pstep *point = pstep_of(c, c->req->step);
  int rc = cairn_reader_history(c->r, c->parent.key, point->done_seq + 1,
                                &it);
  if (rc)
    return fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  while ((rc = cairn_history_next(it, &ev)) == 1) {
    if (ev.type != CAIRN_EV_SIGNAL_RECEIVED)
      continue;
    char why[120];
    snprintf(why, sizeof why, "re-delivered from run %s (seq %u)",
             c->parent.run_id, ev.seq);
    cairn_event s = {.type = CAIRN_EV_SIGNAL_RECEIVED, .name = ev.name,
                     .output = ev.output, .reason = S(why)};
    if (cairn_batch_append(b, c->out->run_id, &s, 1) < 0) {
      rc = CAIRN_EINVAL;
      break;
    }
  }
  cairn_history_close(it);
  return rc < 0 ? fail(c, rc, "%s", cairn_journal_errmsg(c->e->j)) : 0;
}

static int add_audit(fork_ctx *c, cairn_batch *b, const char *new_run) {
  const char *actor = cairn__engine_actor(c->e);
  cairn_audit_record a = {
      .ns = S(c->e->ns), .actor = S(actor),
      .action = S(kind_word(c->req->kind)),
      .workflow_id = S(c->parent.workflow_id),
      .run_id = S(c->parent.run_id), .new_run_id = S(new_run),
      .reason = S(c->req->reason), .request_id = S(c->req->request_id)};
  char *detail = NULL;
  if (c->stale) { /* allowed onto stale assets: say which */
    size_t n = strlen(c->stale) + 64;
    if ((detail = malloc(n)) != NULL)
      snprintf(detail, n, "{\"allow_stale_assets\":true,"
               "\"stale_assets\":%s}", c->stale);
    a.detail = S(detail);
  }
  int rc = cairn_batch_audit(b, &a);
  free(detail);
  return rc;
}

/* A fork refused for stale assets is audited too, as action
 * "<kind>_refused" (replay_refused, rerun_refused, reset_refused): it
 * neither takes the request id nor counts as a derived run. */
static void audit_refusal(fork_ctx *c) {
  cairn_batch *b;
  size_t n = strlen(c->stale) + 64;
  char *detail = malloc(n);
  if (detail == NULL || cairn_batch_new(c->e->j, &b) != 0) {
    free(detail);
    return;
  }
  snprintf(detail, n, "{\"refused\":\"stale_assets\",\"stale_assets\":%s}",
           c->stale);
  char action[32];
  snprintf(action, sizeof action, "%s_refused", kind_word(c->req->kind));
  cairn_audit_record a = {
      .ns = S(c->e->ns), .actor = S(cairn__engine_actor(c->e)),
      .action = S(action),
      .workflow_id = S(c->parent.workflow_id),
      .run_id = S(c->parent.run_id), .reason = S(c->req->reason),
      .detail = S(detail)};
  if (cairn_batch_audit(b, &a) == 0 && cairn_batch_commit(b) == 0)
    cairn__engine_news(c->e);
  else { /* the refusal stands; say it is not in the audit index */
    size_t at = strlen(c->e->errmsg);
    snprintf(c->e->errmsg + at, sizeof c->e->errmsg - at,
             " (the refusal could not be audited: %s)",
             cairn_journal_errmsg(c->e->j));
  }
  cairn_batch_free(b);
  free(detail);
}

/* Whether the parent's step `name` runs again in the derived run (its
 * assets would be made again). */
static bool runs_again(const fork_ctx *c, const char *name) {
  if (c->req->kind == CAIRN_FORK_RERUN_STEP)
    return strcmp(name, c->req->step) == 0;
  for (size_t i = 0; i < c->edef->n_steps; i++)
    if (c->src[i] && strcmp(c->src[i]->name, name) == 0)
      return !c->keep[i];
  return false; /* not in the effective definition: it does not run */
}

/* A fork that runs steps of old inputs again onto assets that are no
 * longer current would bring older outputs back: refused unless allowed
 * (docs/assets.md). One catalogue lookup per asset of the parent and per
 * upstream; then only the stale assets of steps that run again count: for
 * a replay, stale by any rule; for a reset or a rerun, which carry a run
 * on, superseded ones (an expired asset or a changed upstream is what a
 * rerun refreshes). */
static int check_assets(fork_ctx *c) {
  size_t n = 0;
  int rc = cairn_run_stale_assets(c->r, c->parent.key, 0, &c->stale, &n);
  if (rc)
    return fail(c, rc, "reading run %s's assets: %s", c->parent.run_id,
                cairn_journal_errmsg(c->e->j));
  if (n == 0)
    return 0;
  cJSON *all = cJSON_Parse(c->stale), *keep = cJSON_CreateArray(), *a;
  cJSON_ArrayForEach(a, all) {
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(a, "step"), *w;
    bool superseded = false;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(a, "why")) {
      superseded |= cJSON_IsString(w) &&
                    strcmp(w->valuestring, "superseded") == 0;
    }
    if (cJSON_IsString(step) && runs_again(c, step->valuestring) &&
        (c->req->kind == CAIRN_FORK_REPLAY || superseded))
      cJSON_AddItemToArray(keep, cJSON_Duplicate(a, 1));
  }
  cJSON_Delete(all);
  free(c->stale);
  n = (size_t)cJSON_GetArraySize(keep);
  c->stale = n ? cJSON_PrintUnformatted(keep) : NULL;
  cJSON_Delete(keep);
  if (n && c->stale == NULL)
    return CAIRN_ENOMEM;
  if (n == 0 || c->req->allow_stale_assets)
    return 0;
  /* the message names the first few; the result has them all */
  char names[200] = "";
  cJSON *list = cJSON_Parse(c->stale);
  size_t told = 0;
  cJSON_ArrayForEach(a, list) {
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(a, "key");
    const cJSON *why = cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(a, "why"), 0);
    size_t at = strlen(names);
    if (!cJSON_IsString(key) || !cJSON_IsString(why) ||
        at + strlen(key->valuestring) + 24 >= sizeof names)
      break;
    snprintf(names + at, sizeof names - at, "%s%s (%s)", told ? ", " : "",
             key->valuestring, why->valuestring);
    told++;
  }
  cJSON_Delete(list);
  return fail(c, CAIRN_ESTALE, "run %s produced %zu asset%s that %s stale "
              "now: %s%s; this %s would make %s again from older inputs. "
              "Use the run that made the current ones, or give "
              "--allow-stale-assets (API: \"allowStaleAssets\": true) to "
              "go on anyway",
              c->parent.run_id, n, n == 1 ? "" : "s",
              n == 1 ? "is" : "are", names, told < n ? ", ..." : "",
              kind_word(c->req->kind), n == 1 ? "it" : "them");
}

/* A new run: reset, rerun from a step, replay. */
static int write_new_run(fork_ctx *c, cairn_batch *b, const char *def_json) {
  char hash[CAIRN_HASH_HEX_LEN + 1];
  /* What the caller gave (input, overrides) is recorded scrubbed of the
   * kinds' secrets, like a step's outcome. */
  cairn__kinds_scrub(c->e, c->input);
  cairn__kinds_scrub(c->e, c->origin);
  char *input = cJSON_PrintUnformatted(c->input);
  char *origin = cJSON_PrintUnformatted(c->origin);
  int kind = c->req->kind;
  int rc = cairn_batch_put_definition(b, c->e->ns, NULL, def_json,
                                      strlen(def_json), hash);
  cairn_run_spec spec = {
      .ns = c->e->ns, .workflow_id = c->parent.workflow_id, .def_hash = hash,
      .input = S(input),
      .origin_kind = kind == CAIRN_FORK_RESET    ? CAIRN_ORIGIN_RESET
                     : kind == CAIRN_FORK_REPLAY ? CAIRN_ORIGIN_REPLAY
                                                 : CAIRN_ORIGIN_RERUN,
      .parent_run_id = c->parent.run_id, .origin_point = c->req->step,
      .reason = S(c->req->reason), .overrides = S(origin),
      .actor = cairn__engine_actor(c->e), .partition = c->partition,
      .make_current = kind != CAIRN_FORK_REPLAY};
  if (rc >= 0)
    rc = cairn_batch_create_run(b, &spec, c->out->run_id);
  if (rc >= 0 && kind == CAIRN_FORK_RESET &&
      !cairn_run_status_is_final(c->parent.status)) {
    cairn_event t = {.type = CAIRN_EV_RUN_TERMINATED,
                     .reason = S(c->req->reason ? c->req->reason : "reset"),
                     .ref_run = S(c->out->run_id), .actor = S(spec.actor)};
    rc = cairn_batch_append(b, c->parent.run_id, &t, 1);
  }
  if (rc >= 0)
    rc = add_reused(c, b);
  if (rc >= 0)
    rc = add_signals(c, b);
  if (rc >= 0 && c->req->save_mapping && cJSON_GetArraySize(c->maps) > 0) {
    char *m = cJSON_PrintUnformatted(c->maps);
    /* Keyed by the pair of definitions, before overrides, as later
     * replays look it up (load_maps). */
    rc = cairn_batch_put_mapping(b, c->parent.def_hash, c->base_hash, m);
    free(m);
  }
  if (rc >= 0)
    rc = add_audit(c, b, c->out->run_id);
  free(input);
  free(origin);
  return rc < 0 ? rc : 0;
}

/* A single-step rerun: step.rerun_requested in the same run. */
static int write_rerun_step(fork_ctx *c, cairn_batch *b) {
  cJSON *stale = cJSON_CreateArray();
  int x = cairn__def_step_index(c->edef, c->req->step);
  for (size_t i = 0; i < c->edef->n_steps; i++)
    if (cairn__def_upstream(c->edef, (size_t)x, i) && pstep_of(c,
        c->edef->steps[i].name))
      cJSON_AddItemToArray(stale, cJSON_CreateString(c->edef->steps[i].name));
  cJSON *s = step_obj(c->def, c->req->step);
  cJSON *with = cJSON_GetObjectItemCaseSensitive(s, "with");
  cJSON_AddItemToObject(c->origin, "with",
                        with ? cJSON_Duplicate(with, 1) : cJSON_CreateObject());
  char *details = cJSON_PrintUnformatted(stale);
  cairn__kinds_scrub(c->e, c->origin); /* as write_new_run */
  char *meta = cJSON_PrintUnformatted(c->origin);
  cairn_event ev = {.type = CAIRN_EV_STEP_RERUN_REQUESTED,
                    .step = S(c->req->step), .reason = S(c->req->reason),
                    .details = S(details), .meta = S(meta),
                    .actor = S(cairn__engine_actor(c->e))};
  int rc = cairn_batch_append(b, c->parent.run_id, &ev, 1);
  if (rc >= 0)
    rc = add_audit(c, b, c->parent.run_id);
  memcpy(c->out->run_id, c->parent.run_id, sizeof c->out->run_id);
  cJSON_Delete(stale);
  free(details);
  free(meta);
  return rc < 0 ? rc : 0;
}

static int build(fork_ctx *c) {
  char err[512] = "";
  int rc = load_parent(c);
  if (rc == 0)
    rc = check_state(c);
  if (rc == 0)
    rc = check_point(c);
  if (rc == 0)
    rc = check_limits(c);
  if (rc == 0 && c->req->kind == CAIRN_FORK_RESET &&
      (c->req->n_overrides || c->req->prompt_artifact || c->req->model))
    rc = fail(c, CAIRN_EINVAL, "a reset carries the workflow on unchanged; "
              "to change a step, use rerun --from-step with overrides");
  if (rc == 0)
    rc = load_base(c);
  if (rc)
    return rc;
  if ((c->def = cJSON_Parse(c->base_json)) == NULL)
    return fail(c, CAIRN_EINVAL, "the replay definition is not valid JSON");
  c->origin = cJSON_CreateObject();
  bool as_recorded = c->req->definition == NULL ||
                     strcmp(c->req->definition, "original") == 0;
  if (c->req->kind == CAIRN_FORK_REPLAY && as_recorded &&
      (rc = carry_reruns(c)) != 0)
    return rc;
  if ((rc = apply_artifacts(c)) != 0 || (rc = apply_overrides(c)) != 0)
    return rc;
  char *json = cJSON_PrintUnformatted(c->def);
  rc = cairn__def_parse(json, strlen(json), cairn__engine_is_native, c->e,
                        &c->edef, err, sizeof err);
  free(json);
  if (rc)
    return fail(c, rc, "the %s's definition: %s", kind_word(c->req->kind),
                err);
  if ((rc = load_maps(c, c->base_hash)) != 0)
    return rc;
  if (c->req->kind == CAIRN_FORK_REPLAY && (rc = check_renames(c)) != 0)
    return rc;
  if (cJSON_GetArraySize(c->maps) > 0)
    cJSON_AddItemToObject(c->origin, "map", cJSON_Duplicate(c->maps, 1));
  if ((rc = choose_kept(c)) != 0)
    return rc;
  plan_mutations(c);
  if ((rc = check_assets(c)) != 0)
    return rc;
  /* The steps that will run must pass their kinds' policies (llm steps:
   * models the policy allows). */
  return cairn__kinds_admit(c->e, c->edef, c->keep,
                            c->req->kind == CAIRN_FORK_RERUN_STEP
                                ? c->req->step
                                : NULL);
}

static void fill_repeated(fork_ctx *c) {
  cairn_audit_record a;
  if (cairn_reader_request(c->r, c->e->ns, c->req->request_id, &a) != 0)
    return;
  const char *want = kind_word(c->req->kind);
  if (a.action.len != strlen(want) ||
      memcmp(a.action.ptr, want, a.action.len) != 0) {
    fail(c, CAIRN_ECONFLICT, "request id %s was used for %.*s; give this "
         "%s its own request id", c->req->request_id, (int)a.action.len,
         a.action.ptr, want);
    c->out->repeated = false;
    c->mismatch = true;
    return;
  }
  c->out->repeated = true;
  snprintf(c->out->workflow_id, sizeof c->out->workflow_id, "%.*s",
           (int)a.workflow_id.len, a.workflow_id.ptr);
  snprintf(c->out->run_id, sizeof c->out->run_id, "%.*s",
           (int)a.new_run_id.len, a.new_run_id.ptr);
  snprintf(c->out->parent_run_id, sizeof c->out->parent_run_id, "%.*s",
           (int)a.run_id.len, a.run_id.ptr);
}

/* Whether the parent's lease is a leftover: the engine that finished the
 * run keeps its lease until it expires (or forever, if it was killed), yet
 * a finished run with no single-step rerun pending is executed by nobody.
 * A single-step rerun may then take the run over at once instead of
 * waiting for the expiry; a pending rerun keeps its executor's lease (and
 * the journal refuses a second request anyway). */
static bool leftover_lease(fork_ctx *c) {
  cairn_run_view v;
  return c->parent.lease_owner[0] &&
         strcmp(c->parent.lease_owner, c->e->owner) != 0 &&
         cairn_run_status_is_final(c->parent.status) &&
         cairn_reader_run_view(c->r, c->parent.key, &v) == 0 &&
         v.rerun_seq == 0;
}

static int commit(fork_ctx *c) {
  cairn_batch *b;
  char *def_json = cJSON_PrintUnformatted(c->def);
  int rc = def_json ? cairn_batch_new(c->e->j, &b) : CAIRN_ENOMEM;
  if (rc) {
    free(def_json);
    return rc;
  }
  bool leftover = false;
  if (c->req->kind == CAIRN_FORK_RERUN_STEP) {
    if (c->req->execute) { /* this engine runs the new attempt */
      leftover = leftover_lease(c);
      cairn_batch_set_owner(b, c->e->owner, c->e->lease_ms);
    }
    rc = write_rerun_step(c, b);
  }
  else {
    rc = write_new_run(c, b, def_json);
  }
  /* End the snapshot before committing: the journal cannot grow its map
   * while this process holds a reader (everything the batch needs is
   * copied into it). */
  cairn_reader_end(c->r);
  c->r = NULL;
  if (rc == 0 && leftover) {
    uint64_t key = c->parent.key;
    cairn_journal_release_leases(c->e->j, c->parent.lease_owner, &key, 1);
  }
  if (rc == 0)
    rc = cairn_batch_commit(b);
  if (rc == 0)
    cairn__engine_news(c->e);
  /* Keep the message a step already gave (never format errmsg into
   * itself). */
  if (rc && *c->e->errmsg == '\0')
    fail(c, rc, "%s", cairn_journal_errmsg(c->e->j));
  cairn_batch_free(b);
  free(def_json);
  return rc;
}

static void ctx_free(fork_ctx *c) {
  cJSON_Delete(c->input);
  cJSON_Delete(c->parent_def);
  cJSON_Delete(c->def);
  cJSON_Delete(c->maps);
  cJSON_Delete(c->origin);
  cairn__def_free(c->pdef);
  cairn__def_free(c->edef);
  free(c->steps);
  free(c->base_json);
  free(c->keep);
  free(c->src);
  free(c->rerun_with);
  free(c->partition);
  free(c->stale);
}

int cairn_engine_fork(cairn_engine *e, const cairn_fork_request *req,
                      cairn_fork_result *out) {
  fork_ctx c = {.e = e, .req = req, .out = out};
  memset(out, 0, sizeof *out);
  e->errmsg[0] = '\0';
  int rc = cairn_reader_begin(e->j, &c.r);
  if (rc)
    return rc;
  if (req->request_id)
    fill_repeated(&c);
  if (c.mismatch)
    rc = CAIRN_ECONFLICT;
  else if (!out->repeated) {
    rc = build(&c);
    if (rc == CAIRN_ESTALE) {
      cairn_reader_end(c.r); /* the refusal commits: no reader held */
      c.r = NULL;
      audit_refusal(&c);
      out->stale_assets = c.stale;
      c.stale = NULL;
    }
    if (rc == 0)
      rc = commit(&c);
    if (rc == CAIRN_ECONFLICT && req->request_id) {
      /* The same request raced us and won: report its result. */
      cairn_reader_end(c.r);
      c.r = NULL;
      if (cairn_reader_begin(e->j, &c.r) == 0) {
        fill_repeated(&c);
        if (out->repeated)
          rc = 0;
      }
    }
  }
  if (rc == 0 && c.stale) {
    out->stale_assets = c.stale;
    c.stale = NULL;
  }
  if (rc == 0 && !out->repeated) {
    memcpy(out->workflow_id, c.parent.workflow_id, sizeof out->workflow_id);
    memcpy(out->parent_run_id, c.parent.run_id, sizeof out->parent_run_id);
    snprintf(out->step, sizeof out->step, "%s", req->step ? req->step : "");
  }
  cairn_reader_end(c.r);
  ctx_free(&c);
  return rc;
}

void cairn_fork_result_free(cairn_fork_result *r) {
  if (r == NULL)
    return;
  free(r->dry_run);
  free(r->for_real);
  free(r->stale_assets);
  r->dry_run = r->for_real = NULL;
  r->stale_assets = NULL;
}
