/*
 * llm.h — the llm step kind's own header, shared by its two files: the
 * kind (llm.c: the wire formats, attempts) and its settings
 * (llm_config.c: config.json's "llm" section over the environment, the
 * model policy, and prices). The core never includes it: it reaches the
 * kind through its table entry (kind.h).
 *
 * A model is named "PROVIDER:MODEL" ("openai:gpt-4o-mini",
 * "anthropic:claude-sonnet-4-5"); the provider picks the wire format
 * (OpenAI chat completions or Anthropic messages), its base URL and its
 * API key; MODEL is sent as is.
 */
#ifndef CAIRN_ENGINE_LLM_H
#define CAIRN_ENGINE_LLM_H

#include "kind.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cairn_engine cairn_engine;

typedef enum cairn__llm_provider_id {
  CAIRN__LLM_OPENAI = 0,
  CAIRN__LLM_ANTHROPIC = 1,
  CAIRN__LLM_PROVIDERS = 2 /* how many */
} cairn__llm_provider_id;

/* One provider's endpoint. */
typedef struct cairn__llm_provider {
  char *base_url;          /* without a trailing '/' (owned) */
  char *api_key;           /* NULL: no key is sent (local servers); never
                              written anywhere (owned) */
} cairn__llm_provider;

/* A model's price, in US dollars per million tokens. */
typedef struct cairn__llm_price {
  char *model;             /* "PROVIDER:MODEL" (owned) */
  double input_per_mtok;
  double output_per_mtok;
} cairn__llm_price;

typedef struct cairn__llm_config {
  cairn__llm_provider providers[CAIRN__LLM_PROVIDERS];
  bool has_allowed;        /* policy.allowed_models was given */
  char **allowed;          /* its patterns: "P:M", "P:*" or "*" */
  size_t n_allowed;
  bool blocked[CAIRN__LLM_PROVIDERS]; /* policy.blocked_providers */
  cairn__llm_price *prices;
  size_t n_prices;
  char *path;              /* the config file, for messages */
} cairn__llm_config;

/* "openai" or "anthropic" (n bytes) → its id; -1 when unknown. */
int cairn__llm_provider_of(const char *name, size_t n);
const char *cairn__llm_provider_name(int id);

/* Splits "PROVIDER:MODEL": true with *provider and *model (pointing into
 * `full`, after the colon) when the provider is known and the model is
 * not empty. */
bool cairn__llm_model_split(const char *full, int *provider,
                            const char **model);

/*
 * Reads `section` (config.json's "llm" object; NULL when absent) found in
 * file `path`, then the environment: OPENAI_BASE_URL, OPENAI_API_KEY,
 * ANTHROPIC_BASE_URL, ANTHROPIC_API_KEY override the file when set and
 * not empty. Unknown fields, providers and wrong types are refused (a
 * typo must not silently lift a policy). Returns 0 and *out (free with
 * cairn__llm_config_free), CAIRN_ECONFIG with "PATH.FIELD: problem" in
 * err, or CAIRN_ENOMEM.
 */
int cairn__llm_config_parse(const cJSON *section, const char *path,
                            cairn__llm_config **out, char *err,
                            size_t errlen);
/* NULL is a no-op. */
void cairn__llm_config_free(cairn__llm_config *c);

/* The engine's settings (NULL before its kind hooks ran), and the hooks
 * of the kind's table entry: configure (config.json's "llm" section),
 * close (frees them). */
const cairn__llm_config *cairn__llm_config_of(cairn_engine *e);
int cairn__llm_configure(cairn_engine *e, const cJSON *section,
                         const char *path, char *err, size_t errlen);
void cairn__llm_close(cairn_engine *e);

/* Whether the policy allows `model` ("PROVIDER:MODEL"). When it does
 * not, msg says so, naming the model, the rule and the config file. */
bool cairn__llm_allowed(const cairn__llm_config *c, const char *model,
                        char *msg, size_t n);

/*
 * The policy over a definition about to run: every llm step whose `with`
 * names a literal model (templated models are checked when the step
 * starts) must be allowed. Steps with skip[i] set (skip may be NULL) do
 * not run and are not checked; when `only` is not NULL only that step
 * runs. Returns 0, or CAIRN_EFORBIDDEN with the engine's errmsg naming
 * the step, the model and the policy.
 */
int cairn__llm_policy_check(cairn_engine *e, const cairn__def *d,
                            const bool *skip, const char *only);

/* The price of `model`, or NULL when the config gives none. */
const cairn__llm_price *cairn__llm_price_of(const cairn__llm_config *c,
                                            const char *model);

#endif /* CAIRN_ENGINE_LLM_H */
