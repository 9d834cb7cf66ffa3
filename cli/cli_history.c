/* cli_history.c — `cairn history ID [--from SEQ]`: a run's events in order,
 * as text lines or (--format json) {run_id, workflow_id, events: [...]}. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line: seq, time, type, step#attempt and what matters for the type. */
static void print_line(const cairn_event *ev) {
  char t[40];
  present_time(ev->time_us, t, sizeof t);
  printf("%5u  %s  %-22s", ev->seq, t, cairn_event_type_name(ev->type));
  if (ev->step.ptr)
    printf("  %.*s", (int)ev->step.len, ev->step.ptr);
  if (ev->attempt)
    printf("#%u", ev->attempt);
  if (ev->duration_us)
    printf("  %.1fms", (double)ev->duration_us / 1e3);
  if (ev->error_code.ptr || ev->error_message.ptr)
    printf("  error %.*s: %.*s", (int)ev->error_code.len,
           ev->error_code.ptr ? ev->error_code.ptr : "",
           (int)ev->error_message.len,
           ev->error_message.ptr ? ev->error_message.ptr : "");
  if (ev->type == CAIRN_EV_ASSET_MATERIALIZED)
    printf("  %.*s%s%.*s%s sha256:%.12s %lld B", (int)ev->asset_key.len,
           ev->asset_key.ptr, ev->partition.ptr ? " [" : "",
           (int)ev->partition.len, ev->partition.ptr ? ev->partition.ptr : "",
           ev->partition.ptr ? "]" : "", ev->content_hash.ptr,
           (long long)ev->size_bytes);
  if (ev->type == CAIRN_EV_RUN_STARTED && ev->partition.ptr)
    printf("  partition %.*s", (int)ev->partition.len, ev->partition.ptr);
  if (ev->type == CAIRN_EV_STEP_REUSED)
    printf("  from %.*s seq %u", (int)ev->ref_run.len, ev->ref_run.ptr,
           ev->ref_seq);
  if (ev->name.ptr)
    printf("  signal %.*s", (int)ev->name.len, ev->name.ptr);
  if (ev->type == CAIRN_EV_RUN_STARTED && ev->origin_kind)
    printf("  %s of %.*s", cairn_origin_kind_name(ev->origin_kind),
           (int)ev->parent_run_id.len, ev->parent_run_id.ptr);
  if (ev->reason.ptr)
    printf("  reason: %.*s", (int)ev->reason.len, ev->reason.ptr);
  if (ev->output.ptr && ev->output.len <= 60)
    printf("  -> %.*s", (int)ev->output.len, ev->output.ptr);
  putchar('\n');
}

int cli_history(cli_ctx *ctx, int argc, char **argv) {
  const char *id = NULL;
  uint32_t from = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--from") == 0 ||
        strncmp(argv[i], "--from=", 7) == 0) {
      const char *v = argv[i][6] == '=' ? argv[i] + 7
                      : i + 1 < argc    ? argv[++i]
                                        : "";
      char *end;
      unsigned long n = strtoul(v, &end, 10);
      if (*v == '\0' || *end != '\0' || n == 0 || n > UINT32_MAX)
        return cli_usage_error("--from takes a seq number (1, 2, ...), not "
                               "'%s'", v);
      from = (uint32_t)n;
    }
    else if (argv[i][0] == '-')
      return cli_usage_error("history: unknown option %s", argv[i]);
    else if (id == NULL)
      id = argv[i];
    else
      return cli_usage_error("history takes one run or workflow id");
  }
  if (id == NULL)
    return cli_usage_error("usage: cairn history ID [--from SEQ] "
                           "[--format json]");
  cairn_journal *j;
  cairn_reader *r;
  cairn_history *it;
  cairn_run_info run;
  cairn_event ev;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) != 0) {
    rc = cli_fail(rc, j, "reading the journal");
    cairn_journal_close(j);
    return rc;
  }
  rc = cli_find_run(ctx, j, r, id, &run);
  if (rc == 0)
    rc = cairn_reader_history(r, run.key, from, &it);
  if (rc) {
    cairn_reader_end(r);
    cairn_journal_close(j);
    return cairn_err_exit_code(rc);
  }
  cJSON *doc = NULL, *events = NULL;
  if (ctx->json) {
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "run_id", run.run_id);
    cJSON_AddStringToObject(doc, "workflow_id", run.workflow_id);
    cJSON_AddStringToObject(doc, "namespace", run.ns);
    cJSON_AddStringToObject(doc, "status", cairn_run_status_name(run.status));
    events = cJSON_AddArrayToObject(doc, "events");
  }
  else {
    printf("run %s  workflow %s  %s  %u events\n", run.run_id,
           run.workflow_id, cairn_run_status_name(run.status), run.last_seq);
  }
  while ((rc = cairn_history_next(it, &ev)) == 1) {
    if (ctx->json)
      cJSON_AddItemToArray(events, present_event(&ev));
    else
      print_line(&ev);
  }
  int status = rc < 0 ? cli_fail(rc, j, "reading the history") : EXIT_OK;
  if (doc && rc == 0)
    cli_print_json(doc);
  else
    cJSON_Delete(doc);
  cairn_history_close(it);
  cairn_reader_end(r);
  cairn_journal_close(j);
  return status;
}
