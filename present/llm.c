/*
 * llm.c — what is said of an llm attempt, from its events: the rendered
 * model, prompt and system from step.started's input; tokens, finish
 * reason and request id from step.completed's meta (or, for a failure
 * that cost tokens, from step.failed's details); the cost from the prices
 * of $CAIRN_HOME/config.json (cairn_config_llm_price), when the model has
 * one.
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool present_llm_step(const cJSON *def_step) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(def_step, "kind");
  return cJSON_IsString(kind) && strcmp(kind->valuestring, "llm") == 0;
}

static cJSON *parse_str(cairn_str s) {
  return s.ptr ? cJSON_ParseWithLength(s.ptr, s.len) : NULL;
}

static void copy(cJSON *o, const char *key, const cJSON *from,
                 const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);
  cJSON_AddItemToObject(o, key, v && !cJSON_IsObject(v) && !cJSON_IsArray(v)
                                    ? cJSON_Duplicate(v, 1)
                                    : cJSON_CreateNull());
}

/* The cost of the tokens at the model's price, or NULL. */
static cJSON *cost_of(const char *home, const cJSON *model,
                      const cJSON *in, const cJSON *out) {
  static bool warned;
  cairn_llm_price p;
  char err[600] = "";
  if (!cJSON_IsString(model) || !cJSON_IsNumber(in) || !cJSON_IsNumber(out))
    return cJSON_CreateNull();
  int rc = cairn_config_llm_price(home, model->valuestring, &p, err,
                                  sizeof err);
  if (rc && rc != CAIRN_ENOTFOUND && !warned) {
    fprintf(stderr, "cairn: %s; costs are not shown\n", err);
    warned = true;
  }
  if (rc)
    return cJSON_CreateNull();
  return cJSON_CreateNumber(in->valuedouble * p.input_per_mtok / 1e6 +
                            out->valuedouble * p.output_per_mtok / 1e6);
}

cJSON *present_llm_attempt(const char *home, const cairn_event *start,
                       const cairn_event *end) {
  cJSON *o = cJSON_CreateObject();
  cJSON *in = parse_str(start->input);
  cJSON *rec = end->type == CAIRN_EV_STEP_COMPLETED ? parse_str(end->meta)
               : end->type == CAIRN_EV_STEP_FAILED  ? parse_str(end->details)
                                                    : NULL;
  const cJSON *usage = cJSON_GetObjectItemCaseSensitive(rec, "usage");
  copy(o, "model", in, "model");
  copy(o, "prompt", in, "prompt");
  copy(o, "system", in, "system");
  copy(o, "input_tokens", usage, "input_tokens");
  copy(o, "output_tokens", usage, "output_tokens");
  cJSON_AddItemToObject(
      o, "cost_usd",
      cost_of(home, cJSON_GetObjectItemCaseSensitive(o, "model"),
              cJSON_GetObjectItemCaseSensitive(o, "input_tokens"),
              cJSON_GetObjectItemCaseSensitive(o, "output_tokens")));
  copy(o, "finish_reason", rec, "finish_reason");
  copy(o, "request_id", rec, "request_id");
  cJSON_Delete(in);
  cJSON_Delete(rec);
  return o;
}

