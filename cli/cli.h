/*
 * cli.h — what the command files of the `cairn` tool share: the parsed
 * global options, journal opening, error reporting and JSON output.
 * The tool uses libcairn only through <cairn/cairn.h> (like curl's tool
 * uses libcurl), so everything here is something an embedder could write.
 *
 * Command files (cli_run.c, cli_fork.c, ...) use each other only through
 * the command functions at the end; what several of them need lives in
 * the shared files, each named at its declarations below:
 *   cli_util.c        options, errors, journal and engine opening, files,
 *                     JSON output
 *   cli_definition.c  definition files with their @prompt files
 *   cli_llm.c         the text show prints of an llm attempt
 * The JSON objects --format json prints are built by present/ (present.h),
 * the encoder `cairn serve` answers with too.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include "present.h"

#include <cairn/cairn.h>
#include <cjson/cJSON.h>
#include <stdbool.h>

/* Exit statuses (DESIGN.md, Interfaces). */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

typedef struct cli_ctx {
  const char *home;    /* --home, else $CAIRN_HOME, else ./.cairn */
  const char *journal; /* --journal, else --home, else $CAIRN_JOURNAL,
                          else home */
  bool home_given;     /* --home was on the command line */
  bool json;           /* --format json */
  const char *ns;      /* --namespace, else "default" */
} cli_ctx;

/* cli_util.c. Prints "cairn: <msg>" to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "cairn: <what>: <detail>" for a cairn error code and returns
 * its exit status. `j` may be NULL. */
int cli_fail(int rc, cairn_journal *j, const char *what);

/* Opens the journal of ctx->home; never creates one: a missing journal is
 * reported as not found with a hint. */
int cli_open(const cli_ctx *ctx, bool read_only, cairn_journal **j);

/* Finds a run by run id or by workflow id (its current run). */
int cli_find_run(const cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                 const char *id, cairn_run_info *out);

/* cli_util.c, continued. Reads a whole file (malloc'ed, NUL-terminated);
 * NULL with a message. */
char *cli_read_file(const char *path);
/* Opens an engine on ctx->home; prints the problem on failure. */
int cli_engine_open(const cli_ctx *ctx, size_t max_runs, cairn_engine **e);
/* The same; with must_exist, a missing journal is not found (exit 3),
 * never created: for commands that act on existing runs. */
int cli_engine_open_existing(const cli_ctx *ctx, size_t max_runs,
                             bool must_exist, cairn_engine **e);
/* Why an asset is stale, as text ("superseded by run R; older than its
 * max_age; upstream K changed"), from an object holding `why` and, as
 * they apply, `newer` and `upstream` (cairn_asset_stale_json's, or a
 * present_asset's "staleness"). "" when fresh. */
void cli_stale_why(const cJSON *st, char *buf, size_t len);
/* Prints `doc`, indented, and frees it. */
void cli_print_json(cJSON *doc);

/* cli_definition.c. Reads a definition FILE, with every llm step's "prompt": "@path" and
 * "system": "@path" replaced by that file's text (path relative to the
 * definition's directory). NULL with a message and *status 3 (unreadable
 * definition) or 2 (a prompt file that cannot be read: names the step and
 * the path); a file that is not JSON is returned as read. */
char *cli_read_definition(const char *file, int *status);
/* cli_llm.c: an llm attempt (present_llm_attempt) as lines of the text
 * trace. */
void cli_llm_print(const char *home, const cairn_event *start,
                   const cairn_event *end);

/* Command groups. argv[0] is the group's word. */
int cli_journal(cli_ctx *ctx, int argc, char **argv);
int cli_history(cli_ctx *ctx, int argc, char **argv);
int cli_run(cli_ctx *ctx, int argc, char **argv);    /* run, start */
int cli_worker(cli_ctx *ctx, int argc, char **argv);
int cli_status(cli_ctx *ctx, int argc, char **argv);
int cli_result(cli_ctx *ctx, int argc, char **argv);
int cli_show(cli_ctx *ctx, int argc, char **argv);
int cli_runs(cli_ctx *ctx, int argc, char **argv);
int cli_assets(cli_ctx *ctx, int argc, char **argv);
int cli_cancel(cli_ctx *ctx, int argc, char **argv); /* cancel, terminate */
int cli_signal(cli_ctx *ctx, int argc, char **argv);
int cli_workflow(cli_ctx *ctx, int argc, char **argv);
int cli_fork(cli_ctx *ctx, int argc, char **argv); /* reset, rerun, replay */
int cli_lineage(cli_ctx *ctx, int argc, char **argv);
int cli_audit(cli_ctx *ctx, int argc, char **argv);
int cli_diff(cli_ctx *ctx, int argc, char **argv);
int cli_backtest(cli_ctx *ctx, int argc, char **argv);
int cli_export(cli_ctx *ctx, int argc, char **argv);
int cli_serve(cli_ctx *ctx, int argc, char **argv); /* cli_serve.c */
int cli_prompt(cli_ctx *ctx, int argc, char **argv); /* cli_prompt.c */

#endif
