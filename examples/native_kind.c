/*
 * native_kind.c — embedding the engine with a native C step kind.
 *
 *   example_native_kind [--home DIR] [TEXT]
 *
 * Registers the kind "reverse" (a C function, run on libuv's thread pool),
 * then runs a two-step workflow in this process: an exec step that
 * upper-cases TEXT, and a `reverse` step fed by it through a template.
 * The run is durable like any other: `cairn show ID` and `cairn history
 * ID` read it from the same journal.
 */
#include <cairn/cairn.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char definition[] =
    "{\"name\": \"shout_backwards\","
    " \"steps\": ["
    "  {\"name\": \"shout\", \"kind\": \"exec\","
    "   \"with\": {\"command\": [\"tr\", \"a-z\", \"A-Z\"],"
    "              \"stdin\": \"{{ .input.text }}\"}},"
    "  {\"name\": \"backwards\", \"kind\": \"reverse\","
    "   \"with\": {\"text\": \"{{ .steps.shout.output }}\"}}],"
    " \"output\": \"{{ .steps.backwards.output.text }}\"}";

/* The native step: {"text": S} -> {"text": reversed S}. Runs on a pool
 * thread: it may block, and must touch nothing but its arguments. */
static void reverse(void *ctx, const cairn_native_call *call,
                    cairn_native_result *res) {
  (void)ctx;
  cJSON *in = cJSON_Parse(call->input);
  const cJSON *text = cJSON_GetObjectItemCaseSensitive(in, "text");
  if (!cJSON_IsString(text)) {
    res->error = strdup("reverse needs {\"text\": \"...\"}");
    cJSON_Delete(in);
    return;
  }
  size_t n = strlen(text->valuestring);
  char *r = malloc(n + 1);
  for (size_t i = 0; r && i < n; i++)
    r[i] = text->valuestring[n - 1 - i];
  if (r)
    r[n] = '\0';
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "text", r ? r : "");
  res->output = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  cJSON_Delete(in);
  free(r);
}

int main(int argc, char **argv) {
  const char *home = getenv("CAIRN_HOME");
  const char *text = "hello, durable world";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
      home = argv[++i];
    else
      text = argv[i];
  }
  cairn_engine_options opts = {.home = home ? home : "./.cairn"};
  cairn_engine *e;
  char err[512] = "";
  if (cairn_engine_open(&opts, &e, err, sizeof err) != 0) {
    fprintf(stderr, "example: %s\n", err);
    return 1;
  }
  cairn_engine_register_kind(e, "reverse", reverse, NULL);

  cJSON *input = cJSON_CreateObject();
  cJSON_AddStringToObject(input, "text", text);
  char *input_json = cJSON_PrintUnformatted(input);
  cJSON_Delete(input);
  cairn_start_request req = {.definition = definition,
                             .input = input_json, .execute = true};
  cairn_start_result run;
  int rc = cairn_engine_start(e, &req, &run);
  if (rc == 0)
    rc = cairn_engine_work(e, CAIRN_WORK_RUN, run.run_id);
  if (rc != 0) {
    fprintf(stderr, "example: %s\n", cairn_engine_errmsg(e));
    cairn_engine_close(e);
    free(input_json);
    return 1;
  }

  /* Read the outcome back from the journal. */
  cairn_reader *r;
  cairn_run_info info;
  cairn_run_view v;
  cairn_event out = {0};
  cairn_reader_begin(cairn_engine_journal(e), &r);
  cairn_reader_run_by_id(r, run.run_id, &info);
  cairn_reader_run_view(r, info.key, &v);
  if (v.output_seq)
    cairn_reader_event(r, info.key, v.output_seq, &out);
  printf("workflow %s\nrun      %s\nstatus   %s\noutput   %.*s\n",
         run.workflow_id, run.run_id, cairn_run_status_name(v.status),
         (int)out.output.len, out.output.ptr ? out.output.ptr : "");
  cairn_reader_end(r);
  cairn_engine_close(e);
  free(input_json);
  return v.status == CAIRN_RUN_COMPLETED ? 0 : 7;
}
