/*
 * main.c — the `cairn` command: global options and dispatch to the
 * command groups (one file each: cli_journal.c, cli_history.c, ...).
 *
 * Global options come before or after the command word:
 *   --home DIR       the journal directory (else $CAIRN_HOME, else ./.cairn)
 *   --format json    machine-readable output with a stable schema
 *   --namespace NS   the namespace of workflow ids (default "default")
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cairn [--home DIR] [--journal LOCATION] [--format text|json]\n"
    "             [--namespace NS] COMMAND [ARGS]\n"
    "\n"
    "commands (ID: a run id, or a workflow id meaning its current run):\n"
    "  run FILE|NAME [--input JSON|@FILE] [--id WORKFLOW_ID] [--detach]\n"
    "                [--partition KEY]\n"
    "                          start a run and execute it here\n"
    "  start FILE|NAME [...]   record a run for a worker (run --detach)\n"
    "  worker [--drain] [--concurrency N]\n"
    "                          execute runs: new ones and interrupted ones\n"
    "  status ID | result ID | show ID\n"
    "                          a run's status, output, or full trace\n"
    "  runs [--workflow W] [--status S] [--limit N]\n"
    "  cancel ID | terminate ID [--reason TEXT]\n"
    "  signal ID NAME [--data JSON|@FILE] [--reason TEXT]\n"
    "  workflow register FILE | list | show NAME [--version N]\n"
    "           | delete NAME --version N | pause NAME | unpause NAME\n"
    "  reset ID --step NAME [--no-reapply-signals]\n"
    "  rerun RUN --from-step NAME | --step NAME [overrides]\n"
    "  replay RUN [--definition original|current|FILE] [--map OLD=NEW]...\n"
    "             [--save-mapping] [--reuse] [overrides]\n"
    "      overrides: --set-input PATH=JSON --param STEP.FIELD=JSON\n"
    "                 --prompt STEP=TEXT|@FILE --model STEP=PROVIDER:MODEL\n"
    "                 --prompt-artifact ID --prompt-hash sha256:HEX\n"
    "                 [--prompt-step STEP]\n"
    "                 [--allow-mutations] [--allow-stale-assets]\n"
    "      each takes [--reason TEXT] [--request-id KEY] [--detach]\n"
    "  lineage ID              the tree of a workflow's runs and origins\n"
    "  audit [--workflow ID] [--since TIME] [--limit N]\n"
    "  history ID [--from SEQ] the events of a run, in order\n"
    "  diff RUN_A RUN_B        what differs between two runs\n"
    "  backtest (--runs R1,R2,... | --workflow NAME [--last N]) [overrides]\n"
    "           [--definition current|FILE] [--concurrency N]\n"
    "           [--pass-score X]  replay finished runs, compare scores\n"
    "  export ID [--format json|md]  a run as a document to share\n"
    "  prompt add NAME (FILE | --text TEXT) | list | show ID [--hash H]\n"
    "                          prompt artifacts a replay can name\n"
    "  assets list [--prefix P] [--stale] | show KEY | history KEY\n"
    "             [--partition P]  what runs produced, and how fresh\n"
    "  serve [--listen ADDR:PORT] [--no-worker] [--quiet]\n"
    "                          the HTTP API (docs/api.md); executes runs too\n"
    "  journal verify          check every history, index and view\n"
    "  journal stats           counts and sizes of the journal\n"
    "  journal rebuild-views   recompute every view from events\n"
    "  journal migrate         bring an older journal to this schema\n"
    "  journal copy --from LOCATION --to LOCATION\n"
    "                          copy a journal into an empty one, verified\n"
    "\n"
    "The journal lives in --home DIR, else $CAIRN_HOME, else ./.cairn;\n"
    "--journal postgresql://... (or $CAIRN_JOURNAL) puts it in PostgreSQL\n"
    "(docs/postgresql.md), config.json staying in the home directory.\n"
    "Exit status: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict,\n"
    "5 forbidden, 6 rate limited, 7 the awaited run failed.\n"
    "Docs: docs/cli.md, docs/api.md, docs/storage.md, docs/events.md.\n";

/* Removes the global options from argv, wherever they are. */
static int parse_globals(cli_ctx *ctx, int *argc, char **argv) {
  int out = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    const char *opt = NULL;
    static const char *const opts[] = {"--home", "--format", "--namespace",
                                       "--journal"};
    for (size_t k = 0; k < 4; k++) {
      size_t n = strlen(opts[k]);
      if (strncmp(a, opts[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
        opt = opts[k];
        if (a[n] == '=')
          val = a + n + 1;
        else if (i + 1 < *argc)
          val = argv[++i];
        else
          return cli_usage_error("%s needs a value", opt);
      }
    }
    if (opt == NULL) {
      argv[out++] = argv[i];
      continue;
    }
    if (strcmp(opt, "--home") == 0) {
      ctx->home = val;
      ctx->home_given = true;
    }
    else if (strcmp(opt, "--journal") == 0)
      ctx->journal = val;
    else if (strcmp(opt, "--namespace") == 0)
      ctx->ns = val;
    else if (strcmp(val, "json") == 0 || strcmp(val, "text") == 0 ||
             strcmp(val, "md") == 0) /* md: export's text form */
      ctx->json = strcmp(val, "json") == 0;
    else
      return cli_usage_error("--format takes text, json or md, not '%s'",
                             val);
  }
  *argc = out;
  return 0;
}

int main(int argc, char **argv) {
  cli_ctx ctx = {0};
  const char *env = getenv("CAIRN_HOME");
  ctx.home = env && *env ? env : "./.cairn";
  ctx.ns = "default";
  argc--;
  argv++;
  int rc = parse_globals(&ctx, &argc, argv);
  if (rc)
    return rc;
  /* --journal, else --home's LMDB journal when given, else $CAIRN_JOURNAL,
   * else the home's: the command line wins over the environment. */
  env = getenv("CAIRN_JOURNAL");
  if (ctx.journal == NULL && !ctx.home_given && env && *env)
    ctx.journal = env;
  if (ctx.journal == NULL || *ctx.journal == '\0')
    ctx.journal = ctx.home;
  if (argc == 0 || strcmp(argv[0], "help") == 0 ||
      strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
    fputs(usage, argc == 0 ? stderr : stdout);
    return argc == 0 ? EXIT_USAGE : EXIT_OK;
  }
  if (strcmp(argv[0], "--version") == 0 || strcmp(argv[0], "version") == 0) {
    printf("cairn %s (journal schema %d)\n", CAIRN_VERSION_STRING,
           CAIRN_JOURNAL_SCHEMA);
    return EXIT_OK;
  }
  static const struct {
    const char *name;
    int (*fn)(cli_ctx *, int, char **);
  } cmds[] = {{"journal", cli_journal},   {"history", cli_history},
              {"run", cli_run},           {"start", cli_run},
              {"worker", cli_worker},     {"status", cli_status},
              {"result", cli_result},     {"show", cli_show},
              {"runs", cli_runs},         {"cancel", cli_cancel},
              {"terminate", cli_cancel},  {"signal", cli_signal},
              {"workflow", cli_workflow}, {"diff", cli_diff},
              {"reset", cli_fork},        {"rerun", cli_fork},
              {"replay", cli_fork},       {"lineage", cli_lineage},
              {"audit", cli_audit},       {"backtest", cli_backtest},
              {"export", cli_export},     {"serve", cli_serve},
              {"prompt", cli_prompt},     {"assets", cli_assets}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp(argv[0], cmds[i].name) == 0)
      return cmds[i].fn(&ctx, argc, argv);
  return cli_usage_error("unknown command '%s'; run `cairn help` for the "
                         "list", argv[0]);
}
