/*
 * request.c — routes and request bodies (request.h).
 *
 * A path is split on '/' into at most six segments; each route is a
 * pattern of literal segments and holes ({id}, {name}, {v}). The table
 * is small and read in order, which is all a few dozen routes need.
 */
#include "request.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pattern {
  const char *method;
  const char *path;   /* "*" is a hole: a, then b */
  int id;
  int role;
} pattern;

static const pattern routes[] = {
    {"GET", "/v1/workflows", R_WORKFLOWS, ROLE_READ},
    {"POST", "/v1/workflows", R_REGISTER, ROLE_ADMIN},
    {"GET", "/v1/workflows/*", R_WORKFLOW, ROLE_READ},
    {"GET", "/v1/workflows/*/versions/*", R_VERSION, ROLE_READ},
    {"DELETE", "/v1/workflows/*/versions/*", R_DELETE_VERSION, ROLE_ADMIN},
    {"POST", "/v1/workflows/*/pause", R_PAUSE, ROLE_ADMIN},
    {"POST", "/v1/workflows/*/unpause", R_UNPAUSE, ROLE_ADMIN},
    {"GET", "/v1/mappings", R_MAPPING, ROLE_READ},
    {"GET", "/v1/runs", R_RUNS, ROLE_READ},
    {"POST", "/v1/runs", R_START, ROLE_OPERATE},
    {"GET", "/v1/runs/*", R_RUN, ROLE_READ},
    {"GET", "/v1/runs/*/history", R_HISTORY, ROLE_READ},
    {"GET", "/v1/runs/*/steps/*", R_STEP, ROLE_READ},
    {"GET", "/v1/runs/*/result", R_RESULT, ROLE_READ},
    {"GET", "/v1/runs/*/lineage", R_LINEAGE, ROLE_READ},
    {"GET", "/v1/runs/*/export", R_EXPORT, ROLE_READ},
    {"GET", "/v1/runs/*/events", R_EVENTS, ROLE_READ},
    {"GET", "/v1/runs/*/diff", R_DIFF, ROLE_READ},
    {"POST", "/v1/runs/*/signal", R_SIGNAL, ROLE_OPERATE},
    {"POST", "/v1/runs/*/cancel", R_CANCEL, ROLE_OPERATE},
    {"POST", "/v1/runs/*/terminate", R_TERMINATE, ROLE_OPERATE},
    {"POST", "/v1/runs/*/reset", R_RESET, ROLE_OPERATE},
    {"POST", "/v1/runs/*/rerun", R_RERUN, ROLE_OPERATE},
    {"POST", "/v1/runs/*/replay", R_REPLAY, ROLE_OPERATE},
    {"GET", "/v1/audit", R_AUDIT, ROLE_READ},
    {"GET", "/v1/prompts", R_PROMPTS, ROLE_READ},
    {"POST", "/v1/prompts", R_ADD_PROMPT, ROLE_OPERATE},
    {"GET", "/v1/prompts/*", R_PROMPT, ROLE_READ},
    {"GET", "/v1/assets", R_ASSETS, ROLE_READ},
    /* the seed material's two endpoints, exactly as written there */
    {"GET", "/workflow-runs/*/diff", R_DIFF, ROLE_READ},
    {"POST", "/workflow-runs/*/replay", R_REPLAY, ROLE_OPERATE},
};

#define MAX_SEGS 6
#define SEG_MAX 352 /* a prompt artifact id (340 bytes) fits */

/* Splits `path` into segments (no empty ones but a trailing slash is
 * refused); returns their number, -1 when too many or too long. */
static int split(const char *path, char segs[MAX_SEGS][SEG_MAX]) {
  int n = 0;
  if (*path != '/')
    return -1;
  const char *p = path + 1;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len >= SEG_MAX || n == MAX_SEGS)
      return -1;
    memcpy(segs[n], p, len);
    segs[n][len] = '\0';
    n++;
    p += len;
    if (*p == '/')
      p++;
    if (*p == '\0' && end && end[1] == '\0')
      return -1; /* a trailing slash */
  }
  return n;
}

static bool matches(const char *pat, char segs[MAX_SEGS][SEG_MAX], int n,
                    route *out) {
  char psegs[MAX_SEGS][SEG_MAX];
  int pn = split(pat, psegs), hole = 0;
  if (pn != n)
    return false;
  for (int i = 0; i < n; i++)
    if (strcmp(psegs[i], "*") != 0 && strcmp(psegs[i], segs[i]) != 0)
      return false;
  for (int i = 0; i < n; i++) {
    if (strcmp(psegs[i], "*") != 0)
      continue;
    if (hole++ == 0)
      snprintf(out->a, sizeof out->a, "%s", segs[i]);
    else if (strlen(segs[i]) < sizeof out->b)
      snprintf(out->b, sizeof out->b, "%s", segs[i]);
    else
      return false;
  }
  return true;
}

int request_route(const char *method, const char *path, route *out) {
  char segs[MAX_SEGS][SEG_MAX];
  static const char assets[] = "/v1/assets/";
  memset(out, 0, sizeof *out);
  if (strncmp(path, assets, sizeof assets - 1) == 0) {
    /* an asset key is the rest of the path, slashes and all */
    const char *key = path + sizeof assets - 1;
    size_t n = strlen(key);
    if (n == 0 || n > CAIRN_ASSET_KEY_MAX)
      return 404;
    memcpy(out->a, key, n + 1);
    out->id = R_ASSET;
    out->role = ROLE_READ;
    return strcmp(method, "GET") == 0 ? 0 : 405;
  }
  int n = split(path, segs);
  if (n < 0)
    return 404;
  int status = 404;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    route r = {0};
    if (!matches(routes[i].path, segs, n, &r))
      continue;
    r.id = routes[i].id;
    r.role = routes[i].role;
    r.writes = strcmp(routes[i].method, "POST") == 0;
    if (strcmp(routes[i].method, method) == 0) {
      *out = r;
      return 0;
    }
    if (status == 404) {
      *out = r;
      status = 405;
    }
  }
  return status;
}

int request_body(const char *body, size_t len, cJSON **out, char *err,
                 size_t errlen) {
  const char *end = NULL;
  *out = NULL;
  if (len == 0)
    return 0;
  cJSON *v = cJSON_ParseWithLengthOpts(body, len, &end, false);
  if (v == NULL) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    snprintf(err, errlen, "the body is not valid JSON (stopped at byte %zu "
             "of %zu); send one JSON object", at, len);
    return 400;
  }
  while (end && (size_t)(end - body) < len &&
         (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
    end++;
  if (end && (size_t)(end - body) < len) {
    snprintf(err, errlen, "the body has more after its JSON value (at byte "
             "%zu of %zu); send one JSON object", (size_t)(end - body), len);
    cJSON_Delete(v);
    return 400;
  }
  if (!cJSON_IsObject(v)) {
    snprintf(err, errlen, "the body must be a JSON object");
    cJSON_Delete(v);
    return 400;
  }
  *out = v;
  return 0;
}

const char *request_str(const cJSON *body, const char *key, bool *bad) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  if (v == NULL || cJSON_IsNull(v))
    return NULL;
  if (!cJSON_IsString(v)) {
    *bad = true;
    return NULL;
  }
  return v->valuestring;
}

int request_known(const cJSON *body, const char *const *keys, char *err,
                  size_t errlen) {
  const cJSON *it;
  cJSON_ArrayForEach(it, body) {
    size_t i = 0;
    while (keys[i] && strcmp(keys[i], it->string) != 0)
      i++;
    if (keys[i] == NULL) {
      int n = snprintf(err, errlen, "the body has no field \"%.64s\"; it "
                       "takes", it->string);
      for (i = 0; keys[i] && n > 0 && (size_t)n < errlen; i++)
        n += snprintf(err + n, errlen - (size_t)n, "%s %s",
                      i ? "," : "", keys[i]);
      return 400;
    }
  }
  return 0;
}

static int bad_field(char *err, size_t errlen, const char *key,
                     const char *want) {
  snprintf(err, errlen, "field \"%s\" must be %s", key, want);
  return 400;
}

int request_start(const cJSON *body, cairn_start_request *req,
                  uint32_t *version, char **input_json, char *err,
                  size_t errlen) {
  bool bad = false;
  memset(req, 0, sizeof *req);
  *version = 0;
  *input_json = NULL;
  if (body == NULL) {
    snprintf(err, errlen, "a start needs a body: {\"workflow\": NAME, "
             "\"input\": {...}}");
    return 400;
  }
  static const char *const known[] = {"workflow", "version", "input",
                                      "workflow_id", "partition", NULL};
  int rc = request_known(body, known, err, errlen);
  if (rc)
    return rc;
  req->name = request_str(body, "workflow", &bad);
  if (bad || req->name == NULL || *req->name == '\0')
    return bad_field(err, errlen, "workflow",
                     "the name of a registered workflow");
  req->workflow_id = request_str(body, "workflow_id", &bad);
  if (bad || (req->workflow_id && *req->workflow_id == '\0'))
    return bad_field(err, errlen, "workflow_id", "a non-empty string");
  req->partition = request_str(body, "partition", &bad);
  if (bad || (req->partition && (*req->partition == '\0' ||
                                 strlen(req->partition) >
                                     CAIRN_PARTITION_MAX)))
    return bad_field(err, errlen, "partition",
                     "the run's partition key, 1..128 bytes");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "version");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
        v->valuedouble > 4294967295.0 ||
        v->valuedouble != (double)(uint32_t)v->valuedouble)
      return bad_field(err, errlen, "version", "a version number (1, 2, ...)");
    *version = (uint32_t)v->valuedouble;
  }
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input");
  if (in) {
    *input_json = cJSON_PrintUnformatted(in);
    if (*input_json == NULL) {
      snprintf(err, errlen, "out of memory");
      return 500;
    }
  }
  req->input = *input_json;
  return 0;
}

int request_strs_add(request_strs *s, char *v) {
  if (v == NULL)
    return -1;
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    char **p = realloc(s->v, cap * sizeof *p);
    if (p == NULL) {
      free(v);
      return -1;
    }
    s->v = p;
    s->cap = cap;
  }
  s->v[s->n++] = v;
  return 0;
}

void request_strs_free(request_strs *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof *s);
}

static char *join(const char *kind, const char *key, const cJSON *value,
                  bool raw_text) {
  char *json = raw_text ? NULL : cJSON_PrintUnformatted(value);
  const char *v = raw_text ? value->valuestring : json;
  if (v == NULL)
    return NULL;
  size_t n = strlen(kind) + strlen(key) + strlen(v) + 3;
  char *out = malloc(n);
  if (out)
    snprintf(out, n, "%s:%s=%s", kind, key, v);
  free(json);
  return out;
}

/* overrides {input: {PATH: v}, params: {"STEP.FIELD": v}, prompts:
 * {STEP: text}, models: {STEP: "P:M"}} as the engine's strings. */
static int overrides_of(const cJSON *o, request_strs *out, char *err,
                        size_t errlen) {
  static const struct {
    const char *key, *kind;
    bool text;
  } groups[] = {{"input", "input", false},
                {"params", "param", false},
                {"prompts", "prompt", true},
                {"models", "model", true}};
  if (o == NULL || cJSON_IsNull(o))
    return 0;
  if (!cJSON_IsObject(o))
    return bad_field(err, errlen, "overrides",
                     "an object {input, params, prompts, models}");
  const cJSON *g;
  cJSON_ArrayForEach(g, o) {
    size_t k = 0;
    while (k < 4 && strcmp(groups[k].key, g->string) != 0)
      k++;
    if (k == 4) {
      snprintf(err, errlen, "overrides has no group \"%s\"; use input, "
               "params, prompts or models", g->string);
      return 400;
    }
    if (!cJSON_IsObject(g)) {
      snprintf(err, errlen, "overrides.%s must be an object", g->string);
      return 400;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, g) {
      if (groups[k].text && !cJSON_IsString(it)) {
        snprintf(err, errlen, "overrides.%s.%s must be a string",
                 g->string, it->string);
        return 400;
      }
      if (request_strs_add(out, join(groups[k].kind, it->string, it,
                             groups[k].text)) != 0) {
        snprintf(err, errlen, "out of memory");
        return 500;
      }
    }
  }
  return 0;
}

static int flag(const cJSON *body, const char *key, bool *out, char *err,
                size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  if (v == NULL || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsBool(v))
    return bad_field(err, errlen, key, "true or false");
  *out = cJSON_IsTrue(v);
  return 0;
}

/* The strings `keys` of object `o` (named `what` in errors) into `out`;
 * those before `n_required` must be there. */
static int str_fields(const cJSON *o, const char *what,
                      const char *const *keys, size_t n_keys,
                      size_t n_required, const char **out, char *err,
                      size_t errlen) {
  const char *known[5] = {0};
  for (size_t i = 0; i < n_keys; i++)
    known[i] = keys[i];
  int rc = request_known(o, known, err, errlen);
  if (rc) {
    size_t n = strlen(err);
    snprintf(err + n, errlen - n, " (in \"%s\")", what);
    return rc;
  }
  for (size_t i = 0; i < n_keys; i++) {
    bool bad = false;
    out[i] = request_str(o, keys[i], &bad);
    if (bad || (i < n_required && (out[i] == NULL || *out[i] == '\0'))) {
      snprintf(err, errlen, "%s.%s must be a non-empty string", what,
               keys[i]);
      return 400;
    }
  }
  return 0;
}

/* The optional object `what` of body (absent or null: *present false,
 * 0) with the strings `keys`, as str_fields; `shape` says what it must be. */
static int object_strs(const cJSON *body, const char *what, const char *shape,
                       const char *const *keys, size_t n_keys,
                       size_t n_required, const char **out, bool *present,
                       char *err, size_t errlen) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, what);
  *present = o != NULL && !cJSON_IsNull(o);
  if (!*present)
    return 0;
  if (!cJSON_IsObject(o))
    return bad_field(err, errlen, what, shape);
  return str_fields(o, what, keys, n_keys, n_required, out, err, errlen);
}

/* "prompt": {artifact, hash, step?}: a new prompt by artifact. */
static int new_prompt(const cJSON *body, cairn_fork_request *req, char *err,
                      size_t errlen) {
  static const char *const keys[] = {"artifact", "hash", "step"};
  const char *v[3];
  bool present;
  int rc = object_strs(body, "prompt",
                       "an object {artifact: \"prompt_...\", hash: "
                       "\"sha256:...\", step?}",
                       keys, 3, 2, v, &present, err, errlen);
  if (rc || !present)
    return rc;
  req->prompt_artifact = v[0];
  req->prompt_hash = v[1];
  req->prompt_step = v[2];
  return 0;
}

/* "model": {id, provider, step?}: a new model by id and provider. */
static int new_model(const cJSON *body, cairn_fork_request *req,
                     request_strs *owned, char *err, size_t errlen) {
  static const char *const keys[] = {"id", "provider", "step"};
  const char *v[3];
  bool present;
  int rc = object_strs(body, "model",
                       "an object {id: \"gpt-4o-mini\", provider: "
                       "\"openai\", step?}",
                       keys, 3, 2, v, &present, err, errlen);
  if (rc || !present)
    return rc;
  size_t n = strlen(v[0]) + strlen(v[1]) + 2;
  char *m = malloc(n);
  if (m)
    snprintf(m, n, "%s:%s", v[1], v[0]);
  if (request_strs_add(owned, m) != 0) {
    snprintf(err, errlen, "out of memory");
    return 500;
  }
  req->model = m;
  req->model_step = v[2];
  return 0;
}

int request_fork(const cJSON *body, cairn_fork_request *req,
                 request_strs *maps, request_strs *overrides,
                 request_strs *owned, uint32_t *def_version, char *err,
                 size_t errlen) {
  static const struct {
    const char *key;
    size_t off;
  } strs[] = {{"step", offsetof(cairn_fork_request, step)},
              {"reason", offsetof(cairn_fork_request, reason)},
              {"request_id", offsetof(cairn_fork_request, request_id)}};
  bool bad = false;
  int rc;
  *def_version = 0;
  for (size_t i = 0; body && i < sizeof strs / sizeof strs[0]; i++) {
    const char *v = request_str(body, strs[i].key, &bad);
    if (bad)
      return bad_field(err, errlen, strs[i].key, "a string");
    *(const char **)((char *)req + strs[i].off) = v;
  }
  if (body == NULL)
    return 0;
  static const char *const known[] = {
      "step", "from_step", "reason", "request_id", "definition", "map",
      "save_mapping", "reuse", "allow_mutations", "no_reapply_signals",
      "allowStaleAssets", "overrides", "prompt", "model", NULL};
  if ((rc = request_known(body, known, err, errlen)) != 0)
    return rc;
  /* rerun: {from_step} reruns from there, {step} reruns that step */
  const char *from = request_str(body, "from_step", &bad);
  if (bad)
    return bad_field(err, errlen, "from_step", "a step name");
  if (from)
    req->step = from;
  if (req->kind == CAIRN_FORK_RERUN_FROM && from == NULL && req->step)
    req->kind = CAIRN_FORK_RERUN_STEP;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "definition");
  if (cJSON_IsString(d)) {
    if (strcmp(d->valuestring, "original") != 0 &&
        strcmp(d->valuestring, "current") != 0)
      return bad_field(err, errlen, "definition",
                       "\"original\", \"current\", a version number or a "
                       "definition object");
    req->definition = d->valuestring;
  }
  else if (cJSON_IsNumber(d) && d->valuedouble >= 1 &&
           d->valuedouble <= 4294967295.0) {
    *def_version = (uint32_t)d->valuedouble;
  }
  else if (cJSON_IsObject(d)) {
    char *json = cJSON_PrintUnformatted(d);
    if (request_strs_add(owned, json) != 0) {
      snprintf(err, errlen, "out of memory");
      return 500;
    }
    req->definition = json;
  }
  else if (d && !cJSON_IsNull(d)) {
    return bad_field(err, errlen, "definition",
                     "\"original\", \"current\", a version number or a "
                     "definition object");
  }
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "map");
  if (m && !cJSON_IsNull(m)) {
    if (!cJSON_IsObject(m))
      return bad_field(err, errlen, "map", "an object {\"OLD\": \"NEW\"}");
    const cJSON *it;
    cJSON_ArrayForEach(it, m) {
      if (!cJSON_IsString(it))
        return bad_field(err, errlen, "map", "an object of step names");
      size_t n = strlen(it->string) + strlen(it->valuestring) + 2;
      char *s = malloc(n);
      if (s)
        snprintf(s, n, "%s=%s", it->string, it->valuestring);
      if (request_strs_add(maps, s) != 0) {
        snprintf(err, errlen, "out of memory");
        return 500;
      }
    }
  }
  if ((rc = flag(body, "save_mapping", &req->save_mapping, err, errlen)) ||
      (rc = flag(body, "reuse", &req->reuse, err, errlen)) ||
      (rc = flag(body, "allow_mutations", &req->allow_mutations, err,
                 errlen)) ||
      (rc = flag(body, "no_reapply_signals", &req->no_reapply_signals, err,
                 errlen)))
    return rc;
  if ((rc = flag(body, "allowStaleAssets", &req->allow_stale_assets, err,
                 errlen)) != 0)
    return rc;
  if ((rc = new_prompt(body, req, err, errlen)) != 0 ||
      (rc = new_model(body, req, owned, err, errlen)) != 0)
    return rc;
  rc = overrides_of(cJSON_GetObjectItemCaseSensitive(body, "overrides"),
                    overrides, err, errlen);
  if (rc)
    return rc;
  req->maps = (const char *const *)maps->v;
  req->n_maps = maps->n;
  req->overrides = (const char *const *)overrides->v;
  req->n_overrides = overrides->n;
  return 0;
}

unsigned request_status_of(int rc) {
  switch (rc) {
  case 0: return 200;
  case CAIRN_EINVAL: return 400;
  case CAIRN_ENOTFOUND: return 404;
  case CAIRN_ECONFLICT: return 409;
  case CAIRN_ESTALE: return 409;
  case CAIRN_EFORBIDDEN: return 403;
  case CAIRN_ERATELIMIT: return 429;
  case CAIRN_ETOOBIG: return 413;
  default: return 500;
  }
}
