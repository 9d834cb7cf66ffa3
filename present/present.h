/*
 * present.h — the JSON objects of cairn: what `cairn ... --format json`
 * prints and what `cairn serve` answers, built by one encoder so that
 * the two never disagree (docs/api.md and docs/cli.md list the schemas;
 * fields are added, never renamed).
 *
 * The room sits between the two front ends (cli/, server/) and libcairn:
 * it reads through <cairn/cairn.h> only, prints nothing, and reports a
 * problem as a cairn error code with a message naming it in `err`.
 *
 *   json.c       times, whole integers, JSON text as values; events
 *   runs.c       runs: status, result, show, list entries, lineage;
 *                audit records; workflows; what start, fork, control
 *                and definition changes answer
 *   llm.c        what is said of an llm attempt (model, prompt, tokens,
 *                cost)
 *   export.c     one run as a document to share; step and run scores
 *   prompts.c    prompt artifacts and their revisions
 *   diff.c       what differs between two runs
 *   json_diff.c  the structural diff of two JSON values (json_diff.h)
 */
#ifndef CAIRN_PRESENT_H
#define CAIRN_PRESENT_H

#include "json_diff.h"

#include <cairn/cairn.h>
#include <cjson/cJSON.h>
#include <stdbool.h>

/* ------------------------------------------------------------ json.c */

/* Formats µs since the epoch as "2026-11-21T05:42:40.123Z". */
void present_time(int64_t us, char *buf, size_t len);
/* Parses a time: RFC 3339 UTC ("2026-11-21T06:00:00Z", with or without
 * fractions) or an age before now ("90s", "15m", "2h", "7d"); µs since
 * the epoch, 0 when it is neither. */
int64_t present_parse_time(const char *s);
/* Adds an integer field printed in full (cJSON would print doubles such
 * as µs timestamps in exponent form). */
void present_add_int(cJSON *obj, const char *key, int64_t v);
/* Adds a JSON text field as a parsed value (a string if it does not
 * parse); nothing when absent. */
void present_add_json_text(cJSON *obj, const char *key, cairn_str s);
/* Adds a string field from a cairn_str (nothing when absent). */
void present_add_str(cJSON *obj, const char *key, cairn_str s);
/* The event as a JSON object (JSON fields embedded as values). */
cJSON *present_event(const cairn_event *ev);

/* ------------------------------------------------------------ runs.c */

/* Finds a run by run id, or by workflow id in namespace `ns` (its
 * current run). CAIRN_ENOTFOUND with a message naming the id and the
 * namespace. */
int present_find_run(cairn_reader *r, const char *ns, const char *id,
                     cairn_run_info *out, char *err, size_t errlen);
/* {workflow_id, run_id, status, steps_started, steps_completed,
 * attempts, events, origin} (`cairn status`). */
cJSON *present_status(const cairn_run_info *info, const cairn_run_view *v);
/* {workflow_id, run_id, status, output, error} (`cairn result`): output
 * for a completed run, error {code, message} for one that failed or was
 * stopped, both null while it runs. */
int present_result(cairn_reader *r, const cairn_run_info *info,
                   cJSON **out);
typedef struct present_show_opts {
  /* Attempts without their input, output, error and llm fields (what a
   * timeline draws: number, status, times, dry run, score): the events
   * are not read, and a run of 10,000 steps answers in 0.34 s instead of
   * 0.55 s and 8.8 MB instead of 14.4 MB (docs/bench.md). */
  bool summary;
  /* Only this step, in full: {"step": {...}} (CAIRN_ENOTFOUND when the
   * definition has no such step). */
  const char *step;
} present_show_opts;
/* The trace (`cairn show`): the run's header, origin, and its steps in
 * definition order with every attempt (input, output, error, duration,
 * dry run, score, and for llm steps what llm.c says). `home` is for the
 * prices of llm models. `opts` may be NULL: every step, in full. */
int present_show(cairn_reader *r, const char *home,
                 const cairn_run_info *info, const present_show_opts *opts,
                 cJSON **out);
/* A run in a list: {run_id, workflow_id, workflow, version, status,
 * started, updated, stale, dry_run, origin, events, parent_run_id};
 * stale and dry_run: some step is marked so. */
cJSON *present_run_entry(cairn_reader *r, const cairn_run_info *info);
/* The tree of a workflow's runs (`cairn lineage`). */
int present_lineage(cairn_reader *r, const cairn_run_info *run,
                    cJSON **out);
/* An audit record (`cairn audit`). */
cJSON *present_audit_record(const cairn_audit_record *a);
/* A definition name in `workflow list`: {name, versions, latest_hash}. */
cJSON *present_workflow_name(cairn_str name, uint32_t versions,
                             const char *hash);
/* A stored version (`workflow show`): {name, version, versions, hash,
 * definition}. `version` 0 means the latest, of n. */
int present_workflow_version(cairn_reader *r, const char *ns,
                             const char *name, uint32_t version,
                             cJSON **out, char *err, size_t errlen);
/* What a start answers: {workflow_id, run_id, existed}. */
cJSON *present_started(const cairn_start_result *s);
/* What a fork answers: {workflow_id, run_id, parent_run_id, kind, step,
 * reason, repeated, dry_run: [...], for_real: [...]}; `kind` is the verb
 * (reset, rerun, replay). */
cJSON *present_forked(const cairn_fork_result *r, const char *kind,
                      const char *reason);
/* What a control action answers: {id, action, ok, repeated}. */
cJSON *present_acted(const char *id, const char *action, bool repeated);
/* What registering answers: {name, version, hash}. */
cJSON *present_registered(const char *name, uint32_t version,
                          const char *hash);
/* What a definition change answers: {name, action, version?, ok}. */
cJSON *present_definition_changed(const char *name, const char *action,
                                  uint32_t version);

/* ------------------------------------------------------------- llm.c */

/* Whether a definition's step is an llm step. */
bool present_llm_step(const cJSON *def_step);
/* An llm attempt's facts, from its step.started and ending event (type 0
 * while running): {model, prompt, system, input_tokens, output_tokens,
 * cost_usd (null without a price in home's config.json), finish_reason,
 * request_id}; the caller frees it. */
cJSON *present_llm_attempt(const char *home, const cairn_event *start,
                           const cairn_event *end);

/* ---------------------------------------------------------- export.c */

/* The export document of a run (`cairn export`); NULL with *rc set on a
 * read error. */
cJSON *present_export(const char *home, cairn_reader *r,
                      const cairn_run_info *info, int *rc);
/* The attempt whose output is step `s`'s visible output, in run *src_key
 * (for a reused step, the run that did the work); CAIRN_ENOTFOUND when it
 * has none. */
int present_visible_attempt(cairn_reader *r, const cairn_step_view *s,
                            uint64_t *src_key, cairn_attempt_view *out);
/* A step's score: its visible attempt's, else its latest attempt's;
 * false when neither was scored. */
bool present_step_score(cairn_reader *r, const cairn_step_view *s,
                        double *score);
/* A run's score (docs/backtest.md): the mean of its scored steps' scores;
 * with none (*n_scored = 0), 1 when `status` is completed, else 0. */
int present_run_score(cairn_reader *r, uint64_t key, int status,
                      double *score, size_t *n_scored);

/* ------------------------------------------------------------ diff.c */

/* The comparison of runs `id_a` and `id_b` (run or workflow ids in `ns`),
 * read in reader r's snapshot (docs/diff.md). */
/* assets.c (docs/assets.md). An asset with its freshness at now_us (0:
 * now; r NULL: without); the catalogue of `ns` ({"assets", "next"}: key
 * prefix, the cursor "KEY[\tPARTITION]" of the previous page's next,
 * limit (0: 100), only stale ones); one asset with the runs that used
 * it; its history, newest first; what a run materialized (an array).
 * Return a cairn error of the reader (CAIRN_ENOTFOUND: no such asset). */
cJSON *present_asset(cairn_reader *r, const cairn_asset *a, int64_t now_us);
int present_assets(cairn_reader *r, const char *ns, const char *prefix,
                   const char *after, size_t limit, bool stale_only,
                   cJSON **out);
int present_asset_show(cairn_reader *r, const char *ns, const char *key,
                       const char *partition, cJSON **out);
int present_asset_history(cairn_reader *r, const char *ns, const char *key,
                          const char *partition, cJSON **out);
int present_run_assets(cairn_reader *r, uint64_t run_key, cJSON **out);

int present_diff(cairn_reader *r, const char *ns, const char *id_a,
                 const char *id_b, cJSON **doc, char *err, size_t errlen);

/* --------------------------------------------------------- prompts.c */

/* {id, workflow, step, revisions, latest, history: [{revision, hash,
 * time, definition: {hash, version} | null, text?}]}: artifact `p` with
 * each revision's text when `texts`. */
cJSON *present_prompt(cairn_reader *r, const cairn_prompt *p, bool texts);
/* {prompts: [{id, workflow, step, revisions, latest}], next_after}: up to
 * `limit` artifacts of `ns` after id `after` (NULL: from the first). */
int present_prompts(cairn_reader *r, const char *ns, const char *after,
                    size_t limit, cJSON **out);
/* {id, hash, revisions, added}: what registering a prompt answers. */
cJSON *present_prompt_added(const cairn_prompt_added *a);

#endif
