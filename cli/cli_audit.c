/*
 * cli_audit.c — where runs came from and who did what:
 *
 *   cairn lineage ID   the tree of a workflow's runs, each with its origin
 *                      (kind, point, reason, actor, time); * marks current
 *   cairn audit [--workflow ID] [--since TIME] [--limit N]
 *                      control actions, oldest first; TIME is RFC 3339
 *                      ("2026-11-21T06:00:00Z") or an age ("90s", "15m",
 *                      "2h", "7d")
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- lineage */

typedef struct node {
  cairn_run_info info;
  char kind[16], point[CAIRN_STEP_NAME_MAX + 1], actor[128];
  char reason[512];
  int64_t time_us;
} node;

static void load_node(cairn_reader *r, uint64_t key, node *n) {
  cairn_event ev = {0};
  memset(n, 0, sizeof *n);
  cairn_reader_run_by_key(r, key, &n->info);
  cairn_reader_event(r, key, 1, &ev);
  snprintf(n->kind, sizeof n->kind, "%s",
           cairn_origin_kind_name(ev.origin_kind));
  snprintf(n->point, sizeof n->point, "%.*s", (int)ev.origin_point.len,
           ev.origin_point.ptr ? ev.origin_point.ptr : "");
  snprintf(n->actor, sizeof n->actor, "%.*s", (int)ev.actor.len,
           ev.actor.ptr ? ev.actor.ptr : "");
  snprintf(n->reason, sizeof n->reason, "%.*s", (int)ev.reason.len,
           ev.reason.ptr ? ev.reason.ptr : "");
  n->time_us = ev.time_us;
}

static void print_tree(const node *ns, size_t n, const char *parent,
                       uint64_t current, const char *indent) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(ns[i].info.parent_run_id, parent) != 0)
      continue;
    char t[40], deeper[256];
    bool last = true;
    for (size_t k = i + 1; k < n; k++)
      last &= strcmp(ns[k].info.parent_run_id, parent) != 0;
    present_time(ns[i].time_us, t, sizeof t);
    printf("%s%s %s%s  %-10s %s", indent, last ? "└─" : "├─",
           ns[i].info.run_id, ns[i].info.key == current ? " *" : "  ",
           cairn_run_status_name(ns[i].info.status), t);
    if (ns[i].info.origin_kind)
      printf("  %s%s%s", ns[i].kind, ns[i].point[0] ? " at " : "",
             ns[i].point);
    if (ns[i].actor[0])
      printf(" by %s", ns[i].actor);
    if (ns[i].reason[0])
      printf(": \"%s\"", ns[i].reason);
    putchar('\n');
    snprintf(deeper, sizeof deeper, "%s%s", indent, last ? "   " : "│  ");
    print_tree(ns, n, ns[i].info.run_id, current, deeper);
  }
}

int cli_lineage(cli_ctx *ctx, int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-')
    return cli_usage_error("usage: cairn lineage ID [--format json]");
  cairn_journal *j;
  cairn_reader *r;
  cairn_run_info run;
  cairn_workflow_info w;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  if ((rc = cairn_reader_begin(j, &r)) == 0 &&
      (rc = cli_find_run(ctx, j, r, argv[1], &run)) == 0)
    rc = cairn_reader_workflow(r, run.ns, run.workflow_id, &w);
  if (rc) {
    cairn_reader_end(r);
    cairn_journal_close(j);
    return cairn_err_exit_code(rc);
  }
  node *ns = calloc(w.n_runs ? w.n_runs : 1, sizeof *ns);
  size_t n = w.n_runs;
  uint64_t current = w.current;
  for (size_t i = 0; ns && i < n; i++)
    load_node(r, w.runs[i], &ns[i]);
  cJSON *doc;
  if (ctx->json && present_lineage(r, &run, &doc) == 0)
    cli_print_json(doc);
  else if (ns) {
    printf("workflow %s  (* current run)\n", run.workflow_id);
    print_tree(ns, n, "", current, "");
  }
  free(ns);
  cairn_reader_end(r);
  cairn_journal_close(j);
  return EXIT_OK;
}

/* ------------------------------------------------------------------ audit */

typedef struct audit_ctx {
  const char *ns;
  const char *workflow;
  int64_t since_us;
  size_t limit, n;
  cJSON *arr;
} audit_ctx;

static int on_record(void *p, const cairn_audit_record *a) {
  audit_ctx *c = p;
  if (a->time_us < c->since_us ||
      (c->ns && (a->ns.len != strlen(c->ns) ||
                 memcmp(a->ns.ptr, c->ns, a->ns.len) != 0)) ||
      (c->workflow && (a->workflow_id.len != strlen(c->workflow) ||
                       memcmp(a->workflow_id.ptr, c->workflow,
                              a->workflow_id.len) != 0)))
    return 0;
  char t[40];
  present_time(a->time_us, t, sizeof t);
  if (c->arr) {
    cJSON_AddItemToArray(c->arr, present_audit_record(a));
  }
  else {
    printf("%s  %-10.*s %-9.*s %.*s", t, (int)a->actor.len,
           a->actor.ptr ? a->actor.ptr : "", (int)a->action.len,
           a->action.ptr, (int)a->workflow_id.len,
           a->workflow_id.ptr ? a->workflow_id.ptr : "");
    if (a->run_id.ptr)
      printf(" run %.*s", (int)a->run_id.len, a->run_id.ptr);
    if (a->new_run_id.ptr && a->new_run_id.len)
      printf(" -> %.*s", (int)a->new_run_id.len, a->new_run_id.ptr);
    if (a->reason.ptr && a->reason.len)
      printf("  \"%.*s\"", (int)a->reason.len, a->reason.ptr);
    putchar('\n');
  }
  return ++c->n >= c->limit;
}

int cli_audit(cli_ctx *ctx, int argc, char **argv) {
  audit_ctx c = {.ns = ctx->ns, .limit = (size_t)-1};
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--workflow") == 0 && v)
      c.workflow = argv[++i];
    else if (strcmp(argv[i], "--since") == 0 && v) {
      if ((c.since_us = present_parse_time(argv[++i])) == 0)
        return cli_usage_error("--since takes an RFC 3339 time "
                               "(2026-11-21T06:00:00Z) or an age (90s, "
                               "15m, 2h, 7d), not '%s'", v);
    }
    else if (strcmp(argv[i], "--limit") == 0 && v && atoi(v) > 0)
      c.limit = (size_t)atoi(argv[++i]);
    else
      return cli_usage_error("usage: cairn audit [--workflow ID] [--since "
                             "TIME] [--limit N]");
  }
  cairn_journal *j;
  cairn_reader *r;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  c.arr = ctx->json ? cJSON_CreateArray() : NULL;
  if ((rc = cairn_reader_begin(j, &r)) == 0) {
    rc = cairn_reader_audit(r, 0, on_record, &c);
    cairn_reader_end(r);
  }
  if (c.arr) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "records", c.arr);
    cli_print_json(doc);
  }
  int status = rc ? cli_fail(rc, j, "reading the audit index") : EXIT_OK;
  cairn_journal_close(j);
  return status;
}
