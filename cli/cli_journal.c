/*
 * cli_journal.c — `cairn journal verify|stats|rebuild-views|migrate`.
 *
 *   verify          exit 0 when sound; 1 with one line per problem
 *                   ("run ID (key K) seq S: what") when not
 *   stats           counts and sizes
 *   rebuild-views   recompute every view from events
 *   migrate         bring a journal of an older schema version to this
 *                   cairn's (a read-write open does it; this says what
 *                   it found and did)
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct verify_out {
  bool json;
  cJSON *problems;
} verify_out;

static void on_problem(void *ctx, const cairn_verify_problem *p) {
  verify_out *o = ctx;
  if (o->json) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "run_id", p->run_id);
    present_add_int(e, "run_key", (int64_t)p->run_key);
    cJSON_AddNumberToObject(e, "seq", p->seq);
    cJSON_AddStringToObject(e, "message", p->message);
    cJSON_AddItemToArray(o->problems, e);
    return;
  }
  if (p->run_key)
    printf("run %s (key %llu)", *p->run_id ? p->run_id : "?",
           (unsigned long long)p->run_key);
  else
    printf("journal");
  if (p->seq)
    printf(" seq %u", p->seq);
  printf(": %s\n", p->message);
}

static int cmd_verify(cli_ctx *ctx, cairn_journal *j) {
  verify_out o = {ctx->json, NULL};
  cairn_verify_stats st = {0};
  cJSON *doc = NULL;
  if (ctx->json) {
    doc = cJSON_CreateObject();
    o.problems = cJSON_CreateArray();
  }
  int rc = cairn_journal_verify(j, on_problem, &o, &st);
  if (rc != 0 && rc != CAIRN_ECORRUPT) {
    cJSON_Delete(doc);
    cJSON_Delete(o.problems);
    return cli_fail(rc, j, "verifying the journal");
  }
  if (ctx->json) {
    cJSON_AddBoolToObject(doc, "ok", rc == 0);
    present_add_int(doc, "runs", (int64_t)st.runs);
    present_add_int(doc, "events", (int64_t)st.events);
    present_add_int(doc, "problem_count", (int64_t)st.problems);
    cJSON_AddItemToObject(doc, "problems", o.problems);
    cli_print_json(doc);
  }
  else if (rc == 0) {
    printf("journal %s: ok (%llu runs, %llu events checked)\n",
           cairn_journal_home(j), (unsigned long long)st.runs,
           (unsigned long long)st.events);
  }
  else {
    printf("journal %s: %llu problem(s) in %llu runs, %llu events; views "
           "can be recomputed with `cairn journal rebuild-views`, damaged "
           "events need a backup\n",
           cairn_journal_home(j), (unsigned long long)st.problems,
           (unsigned long long)st.runs, (unsigned long long)st.events);
  }
  return cairn_err_exit_code(rc);
}

static int cmd_stats(cli_ctx *ctx, cairn_journal *j) {
  cairn_journal_stats s;
  int rc = cairn_journal_stats_get(j, &s);
  if (rc)
    return cli_fail(rc, j, "reading journal stats");
  double per_event = s.events ? (double)s.used_bytes / (double)s.events : 0;
  if (ctx->json) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "home", cairn_journal_home(j));
    present_add_int(doc, "schema", s.schema);
    present_add_int(doc, "runs", (int64_t)s.runs);
    cJSON *by = cJSON_AddObjectToObject(doc, "runs_by_status");
    for (int st = CAIRN_RUN_RUNNING; st <= CAIRN_RUN_TERMINATED; st++)
      cJSON_AddNumberToObject(by, cairn_run_status_name(st),
                              (double)s.runs_by_status[st]);
    present_add_int(doc, "workflows", (int64_t)s.workflows);
    present_add_int(doc, "events", (int64_t)s.events);
    present_add_int(doc, "event_bytes", (int64_t)s.event_bytes);
    present_add_int(doc, "definitions", (int64_t)s.definitions);
    present_add_int(doc, "audit_records", (int64_t)s.audit_records);
    present_add_int(doc, "view_records", (int64_t)s.view_records);
    present_add_int(doc, "assets", (int64_t)s.assets);
    present_add_int(doc, "asset_versions", (int64_t)s.asset_versions);
    present_add_int(doc, "used_bytes", (int64_t)s.used_bytes);
    present_add_int(doc, "map_bytes", (int64_t)s.map_bytes);
    present_add_int(doc, "file_bytes", (int64_t)s.file_bytes);
    cJSON_AddNumberToObject(doc, "used_bytes_per_event", per_event);
    cli_print_json(doc);
    return EXIT_OK;
  }
  printf("journal        %s (schema %u)\n", cairn_journal_home(j), s.schema);
  printf("runs           %llu", (unsigned long long)s.runs);
  for (int st = CAIRN_RUN_RUNNING; st <= CAIRN_RUN_TERMINATED; st++)
    if (s.runs_by_status[st])
      printf("  %s %llu", cairn_run_status_name(st),
             (unsigned long long)s.runs_by_status[st]);
  printf("\nworkflows      %llu\n", (unsigned long long)s.workflows);
  printf("events         %llu (%llu bytes encoded)\n",
         (unsigned long long)s.events, (unsigned long long)s.event_bytes);
  printf("definitions    %llu\n", (unsigned long long)s.definitions);
  printf("audit records  %llu\n", (unsigned long long)s.audit_records);
  printf("view records   %llu\n", (unsigned long long)s.view_records);
  printf("assets         %llu (%llu versions)\n",
         (unsigned long long)s.assets, (unsigned long long)s.asset_versions);
  printf("space          %.1f MiB used of a %.1f MiB map; file %.1f MiB; "
         "%.0f bytes per event\n",
         (double)s.used_bytes / 1048576.0, (double)s.map_bytes / 1048576.0,
         (double)s.file_bytes / 1048576.0, per_event);
  return EXIT_OK;
}

static int cmd_rebuild(cli_ctx *ctx, cairn_journal *j) {
  uint64_t n = 0;
  int rc = cairn_journal_rebuild_views(j, &n);
  if (rc)
    return cli_fail(rc, j, "rebuilding views");
  if (ctx->json) {
    cJSON *doc = cJSON_CreateObject();
    present_add_int(doc, "runs", (int64_t)n);
    cli_print_json(doc);
  }
  else {
    printf("rebuilt the views of %llu run(s)\n", (unsigned long long)n);
  }
  return EXIT_OK;
}

/* The open migrated the journal (or found it current): say which. */
static int cmd_migrate(cli_ctx *ctx, cairn_journal *j) {
  cairn_journal_stats st;
  int rc = cairn_journal_stats_get(j, &st);
  if (rc)
    return cli_fail(rc, j, "reading the journal");
  bool migrated = st.opened_schema != st.schema;
  if (ctx->json) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema", st.schema);
    cJSON_AddNumberToObject(doc, "from_schema", st.opened_schema);
    cJSON_AddBoolToObject(doc, "migrated", migrated);
    cli_print_json(doc);
  }
  else if (migrated) {
    printf("migrated the journal in %s from schema version %u to %u\n",
           ctx->journal, st.opened_schema, st.schema);
  }
  else {
    printf("the journal in %s is at schema version %u, this cairn's: "
           "nothing to migrate\n", ctx->journal, st.schema);
  }
  return EXIT_OK;
}

int cli_journal(cli_ctx *ctx, int argc, char **argv) {
  if (argc != 2)
    return cli_usage_error(
        "usage: cairn journal verify|stats|rebuild-views|migrate");
  bool rebuild = strcmp(argv[1], "rebuild-views") == 0;
  bool migrate = strcmp(argv[1], "migrate") == 0;
  if (!rebuild && !migrate && strcmp(argv[1], "verify") != 0 &&
      strcmp(argv[1], "stats") != 0)
    return cli_usage_error("unknown journal command '%s'; use verify, "
                           "stats, rebuild-views or migrate", argv[1]);
  cairn_journal *j;
  int rc = cli_open(ctx, !rebuild && !migrate, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if (rebuild)
    rc = cmd_rebuild(ctx, j);
  else if (migrate)
    rc = cmd_migrate(ctx, j);
  else if (strcmp(argv[1], "verify") == 0)
    rc = cmd_verify(ctx, j);
  else
    rc = cmd_stats(ctx, j);
  cairn_journal_close(j);
  return rc;
}
