/*
 * cli_llm.c — what `cairn show` says about an llm attempt (prompt files
 * in definition files are cli_definition.c's).
 *
 * Show. The facts of an attempt come from its events: the rendered
 * model, prompt and system from step.started's input; tokens, finish
 * reason and request id from step.completed's meta (or, for a failure
 * that cost tokens, from step.failed's details); the cost from the
 * prices of $CAIRN_HOME/config.json (cairn_config_llm_price), when the
 * model has one.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Characters of a prompt shown in the text trace. */
#define SHOWN_PROMPT 300

/* ------------------------------------------------------------- show */

/* A text on one line, shortened to `max` bytes. */
static void print_line(const char *label, const cJSON *v, size_t max) {
  if (!cJSON_IsString(v))
    return;
  const char *s = v->valuestring;
  size_t n = strlen(s);
  printf("      %-6s ", label);
  for (size_t i = 0; i < n && i < max; i++)
    putchar(s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i]);
  printf("%s\n", n > max ? "..." : "");
}

void cli_llm_print(const char *home, const cairn_event *start,
                   const cairn_event *end) {
  cJSON *o = present_llm_attempt(home, start, end);
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "input_tokens");
  const cJSON *out = cJSON_GetObjectItemCaseSensitive(o, "output_tokens");
  const cJSON *cost = cJSON_GetObjectItemCaseSensitive(o, "cost_usd");
  const cJSON *fin = cJSON_GetObjectItemCaseSensitive(o, "finish_reason");
  printf("      model  %s", cJSON_IsString(model) ? model->valuestring : "?");
  if (cJSON_IsNumber(in) && cJSON_IsNumber(out))
    printf("  tokens %.0f in / %.0f out", in->valuedouble,
           out->valuedouble);
  if (cJSON_IsNumber(cost))
    printf("  cost $%.6f", cost->valuedouble);
  if (cJSON_IsString(fin))
    printf("  finish %s", fin->valuestring);
  putchar('\n');
  print_line("system", cJSON_GetObjectItemCaseSensitive(o, "system"),
             SHOWN_PROMPT);
  print_line("prompt", cJSON_GetObjectItemCaseSensitive(o, "prompt"),
             SHOWN_PROMPT);
  cJSON_Delete(o);
}
