/*
 * cli_journal.c — `cairn journal verify|stats|rebuild-views|migrate`.
 *
 *   verify          exit 0 when sound; 1 with one line per problem
 *                   ("run ID (key K) seq S: what") when not
 *   stats           counts and sizes
 *   rebuild-views   recompute every view from events
 *   migrate         bring a journal of an older schema version to this
 *                   cairn's (a read-write open does it; this says what
 *                   it found and did); creates a PostgreSQL journal's
 *                   tables in an empty database
 *   copy --from LOCATION --to LOCATION
 *                   every record of one journal into an empty one (an
 *                   LMDB home into PostgreSQL, or back), then verify it
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

static int open_at(const char *where, bool read_only, bool must_exist,
                   cairn_journal **j) {
  char err[512] = "";
  cairn_journal_options o = {.read_only = read_only, .must_exist = must_exist};
  int rc = cairn_journal_open(where, &o, j, err, sizeof err);
  if (rc)
    fprintf(stderr, "cairn: %s: %s\n", where, *err ? err : cairn_strerror(rc));
  return rc;
}

static void count_problem(void *ctx, const cairn_verify_problem *p) {
  if ((*(uint64_t *)ctx)++ < 10)
    fprintf(stderr, "cairn: the copy: %s\n", p->message);
}

/* journal copy --from A --to B: A read-only, B created when missing. */
static int cmd_copy(cli_ctx *ctx, int argc, char **argv) {
  const char *from = NULL, *to = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
      from = argv[++i];
    else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
      to = argv[++i];
    else
      return cli_usage_error("usage: cairn journal copy --from LOCATION "
                             "--to LOCATION (a directory or a "
                             "postgresql:// URL)");
  }
  if (from == NULL)
    from = ctx->journal;
  if (to == NULL)
    return cli_usage_error("journal copy needs --to LOCATION (a directory "
                           "or a postgresql:// URL)");
  if (strcmp(from, to) == 0)
    return cli_usage_error("--from and --to name the same journal");
  cairn_journal *src, *dst;
  int rc = open_at(from, true, true, &src);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = open_at(to, false, false, &dst)) != 0) {
    cairn_journal_close(src);
    return cairn_err_exit_code(rc);
  }
  uint64_t n = 0, problems = 0;
  cairn_verify_stats vs = {0};
  rc = cairn_journal_copy(src, dst, &n);
  if (rc)
    rc = cli_fail(rc, dst, "copying the journal");
  else if ((rc = cairn_journal_verify(dst, count_problem, &problems, &vs)) !=
           0) {
    fprintf(stderr, "cairn: the copy in %s does not verify (%llu "
                    "problem(s)); the source is untouched\n",
            cairn_journal_home(dst), (unsigned long long)problems);
    rc = cairn_err_exit_code(rc);
  } else if (ctx->json) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "from", cairn_journal_home(src));
    cJSON_AddStringToObject(doc, "to", cairn_journal_home(dst));
    present_add_int(doc, "records", (int64_t)n);
    present_add_int(doc, "runs", (int64_t)vs.runs);
    present_add_int(doc, "events", (int64_t)vs.events);
    cJSON_AddBoolToObject(doc, "verified", true);
    cli_print_json(doc);
  } else {
    printf("copied %llu records from %s to %s; verified: %llu runs, %llu "
           "events\n",
           (unsigned long long)n, cairn_journal_home(src),
           cairn_journal_home(dst), (unsigned long long)vs.runs,
           (unsigned long long)vs.events);
  }
  cairn_journal_close(src);
  cairn_journal_close(dst);
  return rc;
}

int cli_journal(cli_ctx *ctx, int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "copy") == 0)
    return cmd_copy(ctx, argc, argv);
  if (argc != 2)
    return cli_usage_error(
        "usage: cairn journal verify|stats|rebuild-views|migrate|copy");
  bool rebuild = strcmp(argv[1], "rebuild-views") == 0;
  bool migrate = strcmp(argv[1], "migrate") == 0;
  if (!rebuild && !migrate && strcmp(argv[1], "verify") != 0 &&
      strcmp(argv[1], "stats") != 0)
    return cli_usage_error("unknown journal command '%s'; use verify, "
                           "stats, rebuild-views, migrate or copy", argv[1]);
  cairn_journal *j;
  /* migrate creates a PostgreSQL journal's tables in an empty database;
   * a missing LMDB home stays an error (a typo is likelier there). */
  int rc = migrate && strstr(ctx->journal, "://")
               ? open_at(ctx->journal, false, false, &j)
               : cli_open(ctx, !rebuild && !migrate, &j);
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
