/*
 * cli_control.c — control actions and definitions:
 *   cairn cancel ID [--reason TEXT]      steps in flight stop, run cancelled
 *   cairn terminate ID [--reason TEXT]   the run ends terminated at once
 *   cairn signal ID NAME [--data JSON|@FILE] [--reason TEXT]
 *   cairn workflow register FILE | list | show NAME [--version N]
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctl_args {
  const char *pos[2];
  int n_pos;
  const char *reason;
  const char *request_id;
  const char *data;
  uint32_t version;
} ctl_args;

static int parse(int argc, char **argv, ctl_args *a, int want,
                 const char *usage) {
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--reason") == 0 && v)
      a->reason = argv[++i];
    else if (strcmp(argv[i], "--request-id") == 0 && v)
      a->request_id = argv[++i];
    else if (strcmp(argv[i], "--data") == 0 && v)
      a->data = argv[++i];
    else if (strcmp(argv[i], "--version") == 0 && v && atoi(v) > 0)
      a->version = (uint32_t)atoi(argv[++i]);
    else if (argv[i][0] == '-' || a->n_pos == 2)
      return cli_usage_error("usage: %s", usage);
    else
      a->pos[a->n_pos++] = argv[i];
  }
  return a->n_pos == want ? 0 : cli_usage_error("usage: %s", usage);
}

/* Whether request id `rid` did `action` already: the engine then does
 * nothing, and the command says so rather than claim to have acted. */
static bool repeated(const cli_ctx *ctx, cairn_engine *e, const char *rid,
                     const char *action) {
  cairn_reader *r;
  cairn_audit_record a;
  bool seen = false;
  if (rid == NULL || cairn_reader_begin(cairn_engine_journal(e), &r) != 0)
    return false;
  seen = cairn_reader_request(r, ctx->ns, rid, &a) == 0 &&
         a.action.len == strlen(action) &&
         memcmp(a.action.ptr, action, a.action.len) == 0;
  cairn_reader_end(r);
  return seen;
}

static int done(cli_ctx *ctx, cairn_engine *e, int rc, const char *what,
                const char *id, const char *rid, bool again) {
  if (rc)
    fprintf(stderr, "cairn: %s\n", cairn_engine_errmsg(e));
  else if (ctx->json) {
    cli_print_json(present_acted(id, what, again));
  }
  else if (again)
    printf("%s: %s (request id %s was used before: nothing new was "
           "done)\n", what, id, rid);
  else
    printf("%s: %s\n", what, id);
  cairn_engine_close(e);
  return cairn_err_exit_code(rc);
}

int cli_cancel(cli_ctx *ctx, int argc, char **argv) {
  ctl_args a = {0};
  bool terminate = strcmp(argv[0], "terminate") == 0;
  int rc = parse(argc, argv, &a, 1,
                 terminate ? "cairn terminate ID [--reason TEXT] [--request-id KEY]"
                           : "cairn cancel ID [--reason TEXT] [--request-id KEY]");
  cairn_engine *e;
  if (rc || (rc = cli_engine_open_existing(ctx, 0, true, &e)) != 0)
    return rc > 0 ? rc : cairn_err_exit_code(rc);
  bool again = repeated(ctx, e, a.request_id,
                        terminate ? "terminate" : "cancel");
  rc = cairn_engine_cancel(e, a.pos[0], terminate, a.reason, a.request_id);
  return done(ctx, e, rc, terminate ? "terminated" : "cancelled", a.pos[0],
              a.request_id, again);
}

int cli_signal(cli_ctx *ctx, int argc, char **argv) {
  ctl_args a = {0};
  char *data = NULL;
  int rc = parse(argc, argv, &a, 2,
                 "cairn signal ID NAME [--data JSON|@FILE] [--reason TEXT] "
                 "[--request-id KEY]");
  cairn_engine *e;
  if (rc)
    return rc;
  if (a.data && a.data[0] == '@' && (data = cli_read_file(a.data + 1)) == 0)
    return 3;
  if ((rc = cli_engine_open_existing(ctx, 0, true, &e)) != 0) {
    free(data);
    return cairn_err_exit_code(rc);
  }
  bool again = repeated(ctx, e, a.request_id, "signal");
  rc = cairn_engine_signal(e, a.pos[0], a.pos[1], data ? data : a.data,
                           a.reason, a.request_id);
  free(data);
  return done(ctx, e, rc, "signalled", a.pos[0], a.request_id, again);
}

/* ------------------------------------------------------------ workflow */

static int on_name(void *p, cairn_str name, uint32_t versions,
                   const char *hash) {
  cJSON *arr = p;
  if (arr) {
    cJSON_AddItemToArray(arr, present_workflow_name(name, versions, hash));
  }
  else {
    printf("%-32.*s  v%-4u %.12s\n", (int)name.len, name.ptr, versions,
           hash);
  }
  return 0;
}

static int workflow_list(cli_ctx *ctx) {
  cairn_journal *j;
  cairn_reader *r;
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  cJSON *arr = ctx->json ? cJSON_CreateArray() : NULL;
  rc = cairn_reader_begin(j, &r);
  if (rc == 0) {
    rc = cairn_reader_definition_names(r, ctx->ns, on_name, arr);
    cairn_reader_end(r);
  }
  if (arr) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "workflows", arr);
    cli_print_json(doc);
  }
  int status = rc ? cli_fail(rc, j, "listing definitions") : EXIT_OK;
  cairn_journal_close(j);
  return status;
}

static int workflow_show(cli_ctx *ctx, const char *name, uint32_t version) {
  cairn_journal *j;
  cairn_reader *r = NULL;
  cJSON *doc = NULL;
  char err[600] = "";
  int rc = cli_open(ctx, true, &j);
  if (rc)
    return cairn_err_exit_code(rc);
  rc = cairn_reader_begin(j, &r);
  if (rc == 0) {
    rc = present_workflow_version(r, ctx->ns, name, version, &doc, err,
                                  sizeof err);
    cairn_reader_end(r);
  }
  if (rc)
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
  else if (ctx->json)
    cli_print_json(doc);
  else {
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(doc, "definition");
    char *s = cJSON_Print(def);
    printf("# %s version %d of %d, sha256 %s\n", name,
           cJSON_GetObjectItemCaseSensitive(doc, "version")->valueint,
           cJSON_GetObjectItemCaseSensitive(doc, "versions")->valueint,
           cJSON_GetObjectItemCaseSensitive(doc, "hash")->valuestring);
    printf("%s\n", s ? s : "");
    cJSON_free(s);
    cJSON_Delete(doc);
  }
  cairn_journal_close(j);
  return cairn_err_exit_code(rc);
}

static int workflow_register(cli_ctx *ctx, const char *file) {
  int status;
  char *json = cli_read_definition(file, &status);
  char hash[CAIRN_HASH_HEX_LEN + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
  uint32_t version = 0;
  cairn_engine *e;
  if (json == NULL)
    return status;
  int rc = cli_engine_open(ctx, 0, &e);
  if (rc == 0) {
    rc = cairn_engine_register(e, json, strlen(json), hash, &version, name);
    if (rc)
      fprintf(stderr, "cairn: %s: %s\n", file, cairn_engine_errmsg(e));
    else if (ctx->json)
      cli_print_json(present_registered(name, version, hash));
    else
      printf("registered %s version %u (sha256 %.12s)\n", name, version,
             hash);
    cairn_engine_close(e);
  }
  free(json);
  return cairn_err_exit_code(rc);
}

/* pause, unpause, delete --version N: one batch with an audit record. */
static int workflow_state(cli_ctx *ctx, const char *verb, const char *name,
                          uint32_t version, const char *reason) {
  cairn_engine *e;
  char what[32];
  int op = strcmp(verb, "delete") == 0  ? CAIRN_DEF_DELETE
           : strcmp(verb, "pause") == 0 ? CAIRN_DEF_PAUSE
                                        : CAIRN_DEF_UNPAUSE;
  int rc = cli_engine_open_existing(ctx, 0, true, &e);
  if (rc)
    return cairn_err_exit_code(rc);
  snprintf(what, sizeof what, "workflow.%s", verb);
  rc = cairn_engine_definition_state(e, name, op, version, reason);
  if (rc)
    fprintf(stderr, "cairn: %s: %s\n", verb, cairn_engine_errmsg(e));
  int status = cairn_err_exit_code(rc);
  if (rc == 0 && ctx->json) /* --format json always answers in JSON */
    cli_print_json(present_definition_changed(name, what, version));
  else if (rc == 0) {
    if (strcmp(verb, "delete") == 0)
      printf("deleted version %u of %s (past runs keep it)\n", version,
             name);
    else
      printf("%sd %s\n", verb, name);
  }
  cairn_engine_close(e);
  return status;
}

int cli_workflow(cli_ctx *ctx, int argc, char **argv) {
  static const char usage[] = "cairn workflow register FILE | list | "
                              "show NAME [--version N] | delete NAME "
                              "--version N | pause NAME | unpause NAME";
  ctl_args a = {0};
  if (argc < 2)
    return cli_usage_error("usage: %s", usage);
  if (strcmp(argv[1], "register") == 0 &&
      parse(argc - 1, argv + 1, &a, 1, usage) == 0)
    return workflow_register(ctx, a.pos[0]);
  if (strcmp(argv[1], "list") == 0 && argc == 2)
    return workflow_list(ctx);
  if (strcmp(argv[1], "show") == 0 &&
      parse(argc - 1, argv + 1, &a, 1, usage) == 0)
    return workflow_show(ctx, a.pos[0], a.version);
  if ((strcmp(argv[1], "pause") == 0 || strcmp(argv[1], "unpause") == 0) &&
      parse(argc - 1, argv + 1, &a, 1, usage) == 0)
    return workflow_state(ctx, argv[1], a.pos[0], 0, a.reason);
  if (strcmp(argv[1], "delete") == 0 &&
      parse(argc - 1, argv + 1, &a, 1, usage) == 0) {
    if (a.version == 0)
      return cli_usage_error("workflow delete needs --version N (a version "
                             "is deleted, never a whole name)");
    return workflow_state(ctx, "delete", a.pos[0], a.version, a.reason);
  }
  return cli_usage_error("usage: %s", usage);
}
