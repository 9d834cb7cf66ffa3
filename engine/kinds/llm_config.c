/*
 * llm_config.c — the llm settings (config.json's "llm" section over the
 * environment), the model policy, and prices (llm.h).
 *
 *   "llm": {
 *     "providers": {
 *       "openai":    {"base_url": "http://127.0.0.1:8080/v1",
 *                     "api_key": "..."},
 *       "anthropic": {"base_url": "...", "api_key": "..."} },
 *     "policy": {
 *       "allowed_models": ["openai:gpt-4o-mini", "anthropic:*"],
 *       "blocked_providers": ["anthropic"] },
 *     "prices": {
 *       "openai:gpt-4o-mini": {"input_per_mtok": 0.15,
 *                              "output_per_mtok": 0.6} } }
 *
 * Base URLs default to the providers' public APIs; the environment
 * (OPENAI_BASE_URL, OPENAI_API_KEY, ANTHROPIC_BASE_URL,
 * ANTHROPIC_API_KEY) wins over the file, so a key can stay out of it.
 * Keys live only in this struct: they are sent in request headers and
 * never recorded (llm.c redacts them from what a server echoes).
 *
 * The policy is deny-by-rule: without allowed_models every model of a
 * provider that is not blocked is allowed; with it, a model must match
 * one pattern ("openai:gpt-4o-mini" exactly, "anthropic:*" any model of a
 * provider, "*" any). A blocked provider wins over any pattern. The
 * policy is checked where a run is asked for (start, fork) for literal
 * models, and again by the kind for every attempt, with the rendered
 * model and the settings of the engine that executes it.
 *
 * Everything is refused loudly: an unknown field ("alowed_models"), an
 * unknown provider, a pattern that is not PROVIDER:MODEL. A typo that
 * silently lifted a policy would be worse than a refusal to start.
 */
#include "kind.h"
#include "llm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const provider_names[CAIRN__LLM_PROVIDERS] = {
    "openai", "anthropic"};
static const char *const default_base[CAIRN__LLM_PROVIDERS] = {
    "https://api.openai.com/v1", "https://api.anthropic.com/v1"};
static const char *const env_base[CAIRN__LLM_PROVIDERS] = {
    "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"};
static const char *const env_key[CAIRN__LLM_PROVIDERS] = {
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY"};

int cairn__llm_provider_of(const char *name, size_t n) {
  for (int i = 0; i < CAIRN__LLM_PROVIDERS; i++)
    if (strlen(provider_names[i]) == n && memcmp(name, provider_names[i],
                                                 n) == 0)
      return i;
  return -1;
}

const char *cairn__llm_provider_name(int id) {
  return id >= 0 && id < CAIRN__LLM_PROVIDERS ? provider_names[id] : "?";
}

bool cairn__llm_model_split(const char *full, int *provider,
                            const char **model) {
  const char *colon = strchr(full, ':');
  if (colon == NULL || colon[1] == '\0')
    return false;
  int p = cairn__llm_provider_of(full, (size_t)(colon - full));
  if (p < 0)
    return false;
  *provider = p;
  *model = colon + 1;
  return true;
}

/* ----------------------------------------------------------- parsing */

typedef struct parse_ctx {
  cairn__llm_config *c;
  const char *path;
  char *err;
  size_t errlen;
} parse_ctx;

static int bad(parse_ctx *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(parse_ctx *p, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(p->err, p->errlen, "%s: %s", p->path, msg);
  return CAIRN_ECONFIG;
}

/* Refuses fields of `o` not in `known` (NULL-terminated). */
static int only_fields(parse_ctx *p, const cJSON *o, const char *where,
                       const char *const *known, const char *list) {
  const cJSON *f;
  if (!cJSON_IsObject(o))
    return bad(p, "%s must be an object", where);
  cJSON_ArrayForEach(f, o) {
    size_t k = 0;
    while (known[k] && strcmp(known[k], f->string) != 0)
      k++;
    if (known[k] == NULL)
      return bad(p, "%s.%s: unknown field; %s", where, f->string, list);
  }
  return 0;
}

static int set_str(parse_ctx *p, char **dst, const char *v) {
  free(*dst);
  if ((*dst = strdup(v)) == NULL) {
    snprintf(p->err, p->errlen, "out of memory reading %s", p->path);
    return CAIRN_ENOMEM;
  }
  return 0;
}

static bool http_url(const char *s) {
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int parse_provider(parse_ctx *p, const cJSON *o, int id) {
  static const char *const known[] = {"base_url", "api_key", NULL};
  char where[64];
  snprintf(where, sizeof where, "llm.providers.%s", provider_names[id]);
  int rc = only_fields(p, o, where, known, "a provider takes base_url, "
                       "api_key");
  const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "base_url");
  const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "api_key");
  if (rc == 0 && url && (!cJSON_IsString(url) || !http_url(url->valuestring)))
    return bad(p, "%s.base_url must be an http(s) URL, e.g. "
               "\"http://127.0.0.1:8080/v1\"", where);
  if (rc == 0 && key && !cJSON_IsString(key))
    return bad(p, "%s.api_key must be a string", where); /* no value */
  if (rc == 0 && url)
    rc = set_str(p, &p->c->providers[id].base_url, url->valuestring);
  if (rc == 0 && key && key->valuestring[0])
    rc = set_str(p, &p->c->providers[id].api_key, key->valuestring);
  return rc;
}

static int parse_providers(parse_ctx *p, const cJSON *o) {
  const cJSON *f;
  if (!cJSON_IsObject(o))
    return bad(p, "llm.providers must be an object");
  cJSON_ArrayForEach(f, o) {
    int id = cairn__llm_provider_of(f->string, strlen(f->string));
    if (id < 0)
      return bad(p, "llm.providers.%s: unknown provider; use openai (and "
                 "OpenAI-compatible servers) or anthropic", f->string);
    int rc = parse_provider(p, f, id);
    if (rc)
      return rc;
  }
  return 0;
}

/* A pattern of allowed_models: "*", "PROVIDER:*" or "PROVIDER:MODEL". */
static bool pattern_ok(const char *s) {
  int id;
  const char *m;
  return strcmp(s, "*") == 0 || cairn__llm_model_split(s, &id, &m);
}

static int parse_policy(parse_ctx *p, const cJSON *o) {
  static const char *const known[] = {"allowed_models", "blocked_providers",
                                      NULL};
  const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(o, "allowed_models");
  const cJSON *blocked =
      cJSON_GetObjectItemCaseSensitive(o, "blocked_providers");
  const cJSON *v;
  int rc = only_fields(p, o, "llm.policy", known, "a policy takes "
                       "allowed_models, blocked_providers");
  if (rc)
    return rc;
  if (allowed && !cJSON_IsArray(allowed))
    return bad(p, "llm.policy.allowed_models must be an array of "
               "\"PROVIDER:MODEL\" or \"PROVIDER:*\"");
  if (allowed) {
    size_t n = (size_t)cJSON_GetArraySize(allowed);
    p->c->has_allowed = true;
    if ((p->c->allowed = calloc(n ? n : 1, sizeof *p->c->allowed)) == NULL)
      return CAIRN_ENOMEM;
  }
  cJSON_ArrayForEach(v, allowed) {
    if (!cJSON_IsString(v) || !pattern_ok(v->valuestring))
      return bad(p, "llm.policy.allowed_models[%zu] is not "
                 "\"PROVIDER:MODEL\", \"PROVIDER:*\" or \"*\" (providers: "
                 "openai, anthropic)", p->c->n_allowed);
    if ((rc = set_str(p, &p->c->allowed[p->c->n_allowed], v->valuestring)))
      return rc;
    p->c->n_allowed++;
  }
  if (blocked && !cJSON_IsArray(blocked))
    return bad(p, "llm.policy.blocked_providers must be an array of "
               "provider names");
  cJSON_ArrayForEach(v, blocked) {
    int id = cJSON_IsString(v) ? cairn__llm_provider_of(
                                     v->valuestring, strlen(v->valuestring))
                               : -1;
    if (id < 0)
      return bad(p, "llm.policy.blocked_providers: %s is not a provider; "
                 "use openai or anthropic",
                 cJSON_IsString(v) ? v->valuestring : "a non-string");
    p->c->blocked[id] = true;
  }
  return 0;
}

static int parse_price(parse_ctx *p, const cJSON *o, cairn__llm_price *pr) {
  static const char *const known[] = {"input_per_mtok", "output_per_mtok",
                                      NULL};
  const char *names[2] = {"input_per_mtok", "output_per_mtok"};
  double *dst[2] = {&pr->input_per_mtok, &pr->output_per_mtok};
  char where[300];
  int id;
  const char *m;
  snprintf(where, sizeof where, "llm.prices.%.200s", o->string);
  if (!cairn__llm_model_split(o->string, &id, &m))
    return bad(p, "%s: the key is not \"PROVIDER:MODEL\"", where);
  int rc = only_fields(p, o, where, known, "a price takes input_per_mtok, "
                       "output_per_mtok (US dollars per million tokens)");
  for (int i = 0; rc == 0 && i < 2; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
      return bad(p, "%s.%s must be a number >= 0 (US dollars per million "
                 "tokens)", where, names[i]);
    *dst[i] = v->valuedouble;
  }
  return rc ? rc : set_str(p, &pr->model, o->string);
}

static int parse_prices(parse_ctx *p, const cJSON *o) {
  const cJSON *f;
  if (!cJSON_IsObject(o))
    return bad(p, "llm.prices must be an object of \"PROVIDER:MODEL\": "
               "{input_per_mtok, output_per_mtok}");
  size_t n = (size_t)cJSON_GetArraySize(o);
  if ((p->c->prices = calloc(n ? n : 1, sizeof *p->c->prices)) == NULL)
    return CAIRN_ENOMEM;
  cJSON_ArrayForEach(f, o) {
    int rc = parse_price(p, f, &p->c->prices[p->c->n_prices]);
    if (rc)
      return rc;
    p->c->n_prices++;
  }
  return 0;
}

static int parse_section(parse_ctx *p, const cJSON *s) {
  static const char *const known[] = {"providers", "policy", "prices", NULL};
  const cJSON *v;
  int rc = only_fields(p, s, "llm", known, "the llm section takes "
                       "providers, policy, prices");
  if (rc == 0 && (v = cJSON_GetObjectItemCaseSensitive(s, "providers")))
    rc = parse_providers(p, v);
  if (rc == 0 && (v = cJSON_GetObjectItemCaseSensitive(s, "policy")))
    rc = parse_policy(p, v);
  if (rc == 0 && (v = cJSON_GetObjectItemCaseSensitive(s, "prices")))
    rc = parse_prices(p, v);
  return rc;
}

/* The environment over the file, then the defaults. */
static int apply_env(parse_ctx *p) {
  int rc = 0;
  for (int i = 0; rc == 0 && i < CAIRN__LLM_PROVIDERS; i++) {
    cairn__llm_provider *pv = &p->c->providers[i];
    const char *url = getenv(env_base[i]), *key = getenv(env_key[i]);
    /* Not checked here: a bad URL fails the llm steps that use it (an
     * attempt's input_error), not every command of the engine. */
    if (url && *url)
      rc = set_str(p, &pv->base_url, url);
    else if (pv->base_url == NULL)
      rc = set_str(p, &pv->base_url, default_base[i]);
    if (rc == 0 && key && *key)
      rc = set_str(p, &pv->api_key, key);
    size_t n = pv->base_url ? strlen(pv->base_url) : 0;
    while (n > 0 && pv->base_url[n - 1] == '/')
      pv->base_url[--n] = '\0';
  }
  return rc;
}

int cairn__llm_config_parse(const cJSON *section, const char *path,
                            cairn__llm_config **out, char *err,
                            size_t errlen) {
  parse_ctx p = {.path = path, .err = err, .errlen = errlen};
  *out = NULL;
  if ((p.c = calloc(1, sizeof *p.c)) == NULL)
    return CAIRN_ENOMEM;
  int rc = set_str(&p, &p.c->path, path);
  if (rc == 0 && section)
    rc = parse_section(&p, section);
  if (rc == 0)
    rc = apply_env(&p);
  if (rc) {
    cairn__llm_config_free(p.c);
    return rc;
  }
  *out = p.c;
  return 0;
}

void cairn__llm_config_free(cairn__llm_config *c) {
  if (c == NULL)
    return;
  for (int i = 0; i < CAIRN__LLM_PROVIDERS; i++) {
    free(c->providers[i].base_url);
    if (c->providers[i].api_key) /* leave no copy in freed memory */
      memset(c->providers[i].api_key, 0, strlen(c->providers[i].api_key));
    free(c->providers[i].api_key);
  }
  for (size_t i = 0; i < c->n_allowed; i++)
    free(c->allowed[i]);
  free(c->allowed);
  for (size_t i = 0; i < c->n_prices; i++)
    free(c->prices[i].model);
  free(c->prices);
  free(c->path);
  free(c);
}

/* ------------------------------------------------------------ policy */

static bool matches(const char *pattern, const char *model) {
  size_t n = strlen(pattern);
  if (strcmp(pattern, "*") == 0)
    return true;
  if (n >= 2 && strcmp(pattern + n - 2, ":*") == 0)
    return strncmp(pattern, model, n - 1) == 0;
  return strcmp(pattern, model) == 0;
}

/* The allowed patterns as one line, for messages. */
static void allowed_list(const cairn__llm_config *c, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < c->n_allowed && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
                             c->allowed[i]);
  if (c->n_allowed == 0)
    snprintf(buf, n, "no model");
}

bool cairn__llm_allowed(const cairn__llm_config *c, const char *model,
                        char *msg, size_t n) {
  int id;
  const char *m;
  char list[300];
  if (!cairn__llm_model_split(model, &id, &m)) {
    snprintf(msg, n, "model %.200s is not PROVIDER:MODEL (providers: "
             "openai, anthropic)", model);
    return false;
  }
  if (c->blocked[id]) {
    snprintf(msg, n, "model %.200s is forbidden: provider %s is in "
             "llm.policy.blocked_providers of %s; use another provider's "
             "model or change the policy", model, provider_names[id],
             c->path);
    return false;
  }
  for (size_t i = 0; c->has_allowed && i < c->n_allowed; i++)
    if (matches(c->allowed[i], model))
      return true;
  if (!c->has_allowed)
    return true;
  allowed_list(c, list, sizeof list);
  snprintf(msg, n, "model %.200s is forbidden: llm.policy.allowed_models "
           "of %s allows %s; use one of those or change the policy", model,
           c->path, list);
  return false;
}

int cairn__llm_policy_check(cairn_engine *e, const cairn__def *d,
                            const bool *skip, const char *only) {
  char msg[700];
  const cairn__llm_config *c = cairn__llm_config_of(e);
  for (size_t i = 0; c && i < d->n_steps; i++) {
    const cairn__step_def *sd = &d->steps[i];
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(sd->with, "model");
    if (sd->kind_id != CAIRN__KIND_LLM || (skip && skip[i]) ||
        (only && strcmp(only, sd->name) != 0) || !cJSON_IsString(m) ||
        strstr(m->valuestring, "{{"))
      continue;
    if (!cairn__llm_allowed(c, m->valuestring, msg, sizeof msg)) {
      cairn__engine_err(e, "step %s: %s", sd->name, msg);
      return CAIRN_EFORBIDDEN;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ prices */

const cairn__llm_price *cairn__llm_price_of(const cairn__llm_config *c,
                                            const char *model) {
  for (size_t i = 0; c && i < c->n_prices; i++)
    if (strcmp(c->prices[i].model, model) == 0)
      return &c->prices[i];
  return NULL;
}

/* ------------------------------------------------ the engine's settings */

const cairn__llm_config *cairn__llm_config_of(cairn_engine *e) {
  return *cairn__engine_slot(e, CAIRN__KIND_LLM);
}

int cairn__llm_configure(cairn_engine *e, const cJSON *section,
                         const char *path, char *err, size_t errlen) {
  cairn__llm_config *c = NULL;
  int rc = cairn__llm_config_parse(section, path, &c, err, errlen);
  if (rc == 0) {
    void **slot = cairn__engine_slot(e, CAIRN__KIND_LLM);
    cairn__llm_config_free(*slot);
    *slot = c;
  }
  return rc;
}

void cairn__llm_close(cairn_engine *e) {
  void **slot = cairn__engine_slot(e, CAIRN__KIND_LLM);
  cairn__llm_config_free(*slot);
  *slot = NULL;
}

int cairn_config_llm_price(const char *home, const char *model,
                           cairn_llm_price *out, char *err, size_t errlen) {
  char path[4200];
  cJSON *doc = NULL;
  cairn__llm_config *c = NULL;
  int rc = cairn__config_load(home, NULL, &doc, path, sizeof path, err,
                              errlen);
  if (rc == 0)
    rc = cairn__llm_config_parse(
        cJSON_GetObjectItemCaseSensitive(doc, "llm"), path, &c, err, errlen);
  cJSON_Delete(doc);
  if (rc)
    return rc;
  const cairn__llm_price *p = cairn__llm_price_of(c, model);
  if (p) {
    out->input_per_mtok = p->input_per_mtok;
    out->output_per_mtok = p->output_per_mtok;
  }
  else {
    snprintf(err, errlen, "%s/config.json has no llm.prices entry for %s",
             home, model);
  }
  cairn__llm_config_free(c);
  return p ? 0 : CAIRN_ENOTFOUND;
}
