/*
 * test_llm.c — the llm step kind's pure parts: what an llm step's `with`
 * may say (with the exact messages), the "llm" section of config.json
 * over the environment, and the model policy. The calls themselves are
 * tested end to end against a local server (e2e/llm_steps.sh).
 *
 * Test documents are written with ' for " (see J) to stay readable.
 */
#include "test.h"

#include "helpers/defs.h"
#include "llm.h"

#include <stdlib.h>

/* A one-step definition (J-quoted) whose llm step has this `with` body. */
static const char *llm_def(const char *with) {
  static char buf[2048];
  snprintf(buf, sizeof buf, "{'name': 'w', 'steps': [{'name': 's', "
           "'kind': 'llm', 'with': {%s}}]}", with);
  return buf;
}

static void expect_def_error(const char *with, const char *want) {
  test_def_error(llm_def(with), want);
}

static cairn__def *def_ok(const char *with) {
  return test_def_ok(llm_def(with));
}

/* A config from the "llm" section `section` (JSON with '), with no LLM
 * variables in the environment. */
static int config(const char *section, cairn__llm_config **c, char *err,
                  size_t n) {
  const char *vars[] = {"OPENAI_BASE_URL", "OPENAI_API_KEY",
                        "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"};
  for (size_t i = 0; i < 4; i++)
    unsetenv(vars[i]);
  cJSON *s = section ? cJSON_Parse(J(section)) : NULL;
  if (section && s == NULL)
    FAIL("bad test section %s", section);
  int rc = cairn__llm_config_parse(s, "/h/config.json", c, err, n);
  cJSON_Delete(s);
  return rc;
}

static cairn__llm_config *config_ok(const char *section) {
  cairn__llm_config *c = NULL;
  char err[512] = "";
  if (config(section, &c, err, sizeof err) != 0)
    FAIL("config %s: %s", section ? section : "(none)", err);
  return c;
}

static void expect_config_error(const char *section, const char *want) {
  cairn__llm_config *c = NULL;
  char err[512] = "";
  CHECK_ERR(config(section, &c, err, sizeof err), CAIRN_ECONFIG,
            "the config must be refused");
  CHECK(c == NULL, "no config on error");
  CHECK_STR(err, want, "the config message");
}

/* ---- definitions ---- */

TEST(an_llm_step_is_a_builtin_kind) {
  cairn__def *d = def_ok("'model': 'openai:gpt-4o-mini', 'prompt': 'hi', "
                         "'system': 's', 'temperature': 0.2, "
                         "'max_tokens': 100, 'json': true");
  CHECK_EQ(d->steps[0].kind_id, CAIRN__KIND_LLM, "kind llm is built in");
  cairn__def_free(d);
}

TEST(an_llm_step_needs_a_model) {
  expect_def_error("'prompt': 'hi'",
                   "steps[0].with.model: missing; name the model as "
                   "PROVIDER:MODEL, e.g. \"openai:gpt-4o-mini\"");
}

TEST(a_model_names_a_known_provider) {
  expect_def_error("'model': 'gemini:pro', 'prompt': 'hi'",
                   "steps[0].with.model: \"gemini:pro\" is not "
                   "PROVIDER:MODEL; the providers are openai (also for "
                   "OpenAI-compatible servers) and anthropic, e.g. "
                   "\"openai:gpt-4o-mini\"");
  expect_def_error("'model': 'gpt-4o', 'prompt': 'hi'",
                   "steps[0].with.model: \"gpt-4o\" is not PROVIDER:MODEL; "
                   "the providers are openai (also for OpenAI-compatible "
                   "servers) and anthropic, e.g. \"openai:gpt-4o-mini\"");
}

TEST(a_templated_model_is_checked_when_the_step_runs) {
  cairn__def *d = def_ok("'model': '{{ .input.model }}', 'prompt': 'hi'");
  cairn__def_free(d);
}

TEST(an_llm_step_needs_a_prompt) {
  expect_def_error("'model': 'openai:m'",
                   "steps[0].with.prompt: missing; give the prompt (a "
                   "template)");
  expect_def_error("'model': 'openai:m', 'prompt': ''",
                   "steps[0].with.prompt: \"\" is not a non-empty string; "
                   "give the prompt");
}

TEST(temperature_is_a_number_from_0_to_2) {
  expect_def_error("'model': 'openai:m', 'prompt': 'p', 'temperature': 3",
                   "steps[0].with.temperature: 3 is not a number from 0 to "
                   "2; give e.g. 0.2");
}

TEST(max_tokens_is_a_positive_integer) {
  expect_def_error("'model': 'openai:m', 'prompt': 'p', 'max_tokens': 0",
                   "steps[0].with.max_tokens: 0 is not an integer >= 1; "
                   "give the most tokens to generate");
}

TEST(json_is_a_boolean) {
  expect_def_error("'model': 'openai:m', 'prompt': 'p', 'json': 'yes'",
                   "steps[0].with.json: \"yes\" is not true or false");
}

TEST(unknown_llm_fields_are_refused) {
  expect_def_error("'model': 'openai:m', 'prompt': 'p', 'temprature': 1",
                   "steps[0].with.temprature: unknown field; an llm step "
                   "takes model, prompt, system, temperature, max_tokens, "
                   "json");
}

/* ---- config ---- */

TEST(without_config_the_public_apis_are_used) {
  cairn__llm_config *c = config_ok(NULL);
  CHECK_STR(c->providers[CAIRN__LLM_OPENAI].base_url,
            "https://api.openai.com/v1", "OpenAI's API");
  CHECK_STR(c->providers[CAIRN__LLM_ANTHROPIC].base_url,
            "https://api.anthropic.com/v1", "Anthropic's API");
  CHECK(c->providers[CAIRN__LLM_OPENAI].api_key == NULL, "no key");
  cairn__llm_config_free(c);
}

TEST(the_environment_wins_over_the_file) {
  cairn__llm_config *c = NULL;
  char err[512] = "";
  cJSON *s = cJSON_Parse(J("{'providers': {'openai': {'base_url': "
                           "'http://file/v1', 'api_key': 'file-key'}}}"));
  setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/", 1);
  setenv("OPENAI_API_KEY", "env-key", 1);
  setenv("ANTHROPIC_API_KEY", "", 1); /* empty: not set */
  CHECK_OK(cairn__llm_config_parse(s, "/h/config.json", &c, err, sizeof err),
           NULL);
  CHECK_STR(c->providers[0].base_url, "http://127.0.0.1:9/v1",
            "the environment's URL, without its trailing /");
  CHECK_STR(c->providers[0].api_key, "env-key", "the environment's key");
  CHECK(c->providers[1].api_key == NULL, "an empty variable sets no key");
  cJSON_Delete(s);
  cairn__llm_config_free(c);
}

TEST(unknown_config_fields_are_refused) {
  expect_config_error("{'policy': {'alowed_models': []}}",
                      "/h/config.json: llm.policy.alowed_models: unknown "
                      "field; a policy takes allowed_models, "
                      "blocked_providers");
  expect_config_error("{'providers': {'gemini': {}}}",
                      "/h/config.json: llm.providers.gemini: unknown "
                      "provider; use openai (and OpenAI-compatible servers) "
                      "or anthropic");
}

TEST(allowed_models_are_provider_model_patterns) {
  expect_config_error("{'policy': {'allowed_models': ['gpt-4o']}}",
                      "/h/config.json: llm.policy.allowed_models[0] is not "
                      "\"PROVIDER:MODEL\", \"PROVIDER:*\" or \"*\" "
                      "(providers: openai, anthropic)");
}

TEST(prices_are_numbers_per_million_tokens) {
  cairn__llm_config *c = config_ok(
      "{'prices': {'openai:gpt-4o-mini': {'input_per_mtok': 0.15, "
      "'output_per_mtok': 0.6}}}");
  const cairn__llm_price *p = cairn__llm_price_of(c, "openai:gpt-4o-mini");
  CHECK(p && p->input_per_mtok == 0.15 && p->output_per_mtok == 0.6,
        "the price is read");
  CHECK(cairn__llm_price_of(c, "openai:gpt-4o") == NULL,
        "other models have none");
  cairn__llm_config_free(c);
  expect_config_error("{'prices': {'openai:m': {'input_per_mtok': -1, "
                      "'output_per_mtok': 1}}}",
                      "/h/config.json: llm.prices.openai:m.input_per_mtok "
                      "must be a number >= 0 (US dollars per million "
                      "tokens)");
}

/* ---- policy ---- */

TEST(without_a_policy_every_model_is_allowed) {
  cairn__llm_config *c = config_ok(NULL);
  char msg[600];
  CHECK(cairn__llm_allowed(c, "anthropic:claude-x", msg, sizeof msg),
        "allowed");
  cairn__llm_config_free(c);
}

TEST(allowed_models_match_exactly_or_by_provider) {
  cairn__llm_config *c = config_ok(
      "{'policy': {'allowed_models': ['openai:gpt-4o-mini', "
      "'anthropic:*']}}");
  char msg[600];
  CHECK(cairn__llm_allowed(c, "openai:gpt-4o-mini", msg, sizeof msg),
        "an exact match");
  CHECK(cairn__llm_allowed(c, "anthropic:claude-x", msg, sizeof msg),
        "a provider's wildcard");
  CHECK(!cairn__llm_allowed(c, "openai:gpt-4o", msg, sizeof msg),
        "a prefix is not a match");
  CHECK_STR(msg, "model openai:gpt-4o is forbidden: "
            "llm.policy.allowed_models of /h/config.json allows "
            "openai:gpt-4o-mini, anthropic:*; use one of those or change "
            "the policy", "the message names the model and the policy");
  cairn__llm_config_free(c);
}

TEST(a_blocked_provider_wins_over_allowed_models) {
  cairn__llm_config *c = config_ok(
      "{'policy': {'allowed_models': ['*'], "
      "'blocked_providers': ['openai']}}");
  char msg[600];
  CHECK(!cairn__llm_allowed(c, "openai:gpt-4o-mini", msg, sizeof msg),
        "blocked");
  CHECK_STR(msg, "model openai:gpt-4o-mini is forbidden: provider openai "
            "is in llm.policy.blocked_providers of /h/config.json; use "
            "another provider's model or change the policy", "the message");
  CHECK(cairn__llm_allowed(c, "anthropic:claude-x", msg, sizeof msg),
        "other providers are allowed");
  cairn__llm_config_free(c);
}

TEST(an_empty_allowed_list_allows_nothing) {
  cairn__llm_config *c = config_ok("{'policy': {'allowed_models': []}}");
  char msg[600];
  CHECK(!cairn__llm_allowed(c, "openai:m", msg, sizeof msg), "refused");
  cairn__llm_config_free(c);
}
