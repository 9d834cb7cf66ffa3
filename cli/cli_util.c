/* cli_util.c — journal opening, error reporting and JSON output shared by
 * the command files. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("cairn: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n", stderr);
  return EXIT_USAGE;
}

int cli_fail(int rc, cairn_journal *j, const char *what) {
  const char *detail = j ? cairn_journal_errmsg(j) : "";
  fprintf(stderr, "cairn: %s: %s\n", what,
          *detail ? detail : cairn_strerror(rc));
  return cairn_err_exit_code(rc);
}

int cli_open(const cli_ctx *ctx, bool read_only, cairn_journal **j) {
  char err[512] = "";
  cairn_journal_options o = {.read_only = read_only, .must_exist = true};
  int rc = cairn_journal_open(ctx->home, &o, j, err, sizeof err);
  if (rc == CAIRN_ENOTFOUND)
    fprintf(stderr, "cairn: no journal in %s; pass --home DIR or set "
                    "CAIRN_HOME to the directory that holds it\n",
            ctx->home);
  else if (rc)
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
  return rc;
}

int cli_find_run(const cli_ctx *ctx, cairn_journal *j, cairn_reader *r,
                 const char *id, cairn_run_info *out) {
  int rc = cairn_reader_run_by_id(r, id, out);
  if (rc != CAIRN_ENOTFOUND)
    return rc;
  cairn_workflow_info wf;
  rc = cairn_reader_workflow(r, ctx->ns, id, &wf);
  if (rc == 0)
    return cairn_reader_run_by_key(r, wf.current, out);
  if (rc == CAIRN_ENOTFOUND)
    fprintf(stderr, "cairn: no run or workflow has id %s in namespace %s; "
                    "check the id, the namespace (--namespace) and the "
                    "journal (--home, now %s)\n",
            id, ctx->ns, ctx->home);
  else
    cli_fail(rc, j, "finding the run");
  return rc;
}

void cli_time(int64_t us, char *buf, size_t len) {
  time_t s = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03dZ", (int)(us % 1000000 / 1000));
}

void cli_add_int(cJSON *obj, const char *key, int64_t v) {
  char num[24];
  snprintf(num, sizeof num, "%lld", (long long)v);
  cJSON_AddRawToObject(obj, key, num);
}

void cli_add_json_text(cJSON *obj, const char *key, cairn_str s) {
  if (s.ptr == NULL)
    return;
  cJSON *v = cJSON_ParseWithLength(s.ptr, s.len);
  if (v == NULL) {
    char *copy = strndup(s.ptr, s.len);
    v = cJSON_CreateString(copy ? copy : "");
    free(copy);
  }
  cJSON_AddItemToObject(obj, key, v);
}

void cli_add_str(cJSON *obj, const char *key, cairn_str s) {
  if (s.ptr == NULL)
    return;
  char *copy = strndup(s.ptr, s.len);
  cJSON_AddStringToObject(obj, key, copy ? copy : "");
  free(copy);
}

/* run.started's meta is the origin's detail: {overrides: [...],
 * dry_run: {...}, map: {...}}; its fields join the origin object. */
static void add_origin_meta(cJSON *origin, cairn_str meta) {
  cJSON *m = meta.ptr ? cJSON_ParseWithLength(meta.ptr, meta.len) : NULL;
  cJSON *it, *next;
  for (it = cJSON_IsObject(m) ? m->child : NULL; it; it = next) {
    next = it->next;
    cJSON_AddItemToObject(origin, it->string,
                          cJSON_DetachItemViaPointer(m, it));
  }
  cJSON_Delete(m);
}

cJSON *cli_event_json(const cairn_event *ev) {
  char t[40];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "seq", ev->seq);
  cJSON_AddStringToObject(o, "type", cairn_event_type_name(ev->type));
  cli_time(ev->time_us, t, sizeof t);
  cJSON_AddStringToObject(o, "time", t);
  cli_add_int(o, "time_us", ev->time_us);
  cli_add_str(o, "step", ev->step);
  if (ev->attempt)
    cJSON_AddNumberToObject(o, "attempt", ev->attempt);
  cli_add_str(o, "run_id", ev->run_id);
  cli_add_str(o, "workflow_id", ev->workflow_id);
  cli_add_str(o, "namespace", ev->ns);
  cli_add_str(o, "definition_hash", ev->def_hash);
  if (ev->type == CAIRN_EV_RUN_STARTED) {
    cJSON *origin = cJSON_AddObjectToObject(o, "origin");
    cJSON_AddStringToObject(origin, "kind",
                            cairn_origin_kind_name(ev->origin_kind));
    cli_add_str(origin, "parent_run_id", ev->parent_run_id);
    cli_add_str(origin, "point", ev->origin_point);
    cli_add_str(origin, "reason", ev->reason);
    add_origin_meta(origin, ev->meta);
    cli_add_str(origin, "actor", ev->actor);
  }
  else {
    cli_add_str(o, "reason", ev->reason);
    cli_add_str(o, "actor", ev->actor);
    cli_add_json_text(o, "meta", ev->meta);
  }
  cli_add_json_text(o, "input", ev->input);
  cli_add_json_text(o, "output", ev->output);
  if (ev->error_code.ptr || ev->error_message.ptr) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cli_add_str(e, "code", ev->error_code);
    cli_add_str(e, "message", ev->error_message);
    cli_add_json_text(e, "details", ev->details);
  }
  else {
    cli_add_json_text(o, "details", ev->details);
  }
  if (ev->type == CAIRN_EV_STEP_FAILED || ev->type == CAIRN_EV_STEP_EVALUATED)
    cJSON_AddBoolToObject(o, "retryable", ev->retryable);
  if (ev->dry_run)
    cJSON_AddBoolToObject(o, "dry_run", true);
  if (ev->duration_us)
    cJSON_AddNumberToObject(o, "duration_ms", (double)ev->duration_us / 1e3);
  if (ev->delay_ms)
    cJSON_AddNumberToObject(o, "delay_ms", (double)ev->delay_ms);
  if (ev->fire_at_us) {
    cli_time(ev->fire_at_us, t, sizeof t);
    cJSON_AddStringToObject(o, "fire_at", t);
  }
  /* `name` is the signal's name, or the evaluator step that scored */
  cli_add_str(o, ev->type == CAIRN_EV_STEP_EVALUATED ? "evaluator" : "signal",
              ev->name);
  if (ev->ref_run.ptr && ev->type == CAIRN_EV_STEP_REUSED) {
    cJSON *src = cJSON_AddObjectToObject(o, "source");
    cli_add_str(src, "run_id", ev->ref_run);
    cJSON_AddNumberToObject(src, "seq", ev->ref_seq);
  }
  else if (ev->ref_run.ptr) {
    cli_add_str(o, "replaced_by", ev->ref_run);
  }
  return o;
}

void cli_print_json(cJSON *doc) {
  char *s = cJSON_Print(doc);
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    cJSON_free(s);
  }
  cJSON_Delete(doc);
}

/* ------------------------------------------- files and engines */

/* Reads a whole file; NULL with a message on failure. */
char *cli_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cairn: cannot read %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *b = realloc(buf, cap *= 2);
      if (b == NULL) {
        free(buf);
        buf = NULL;
      }
      else {
        buf = b;
      }
    }
  }
  fclose(f);
  if (buf)
    buf[n] = '\0';
  return buf;
}

int cli_engine_open(const cli_ctx *ctx, size_t max_runs, cairn_engine **e) {
  return cli_engine_open_existing(ctx, max_runs, false, e);
}

int cli_engine_open_existing(const cli_ctx *ctx, size_t max_runs,
                             bool must_exist, cairn_engine **e) {
  char err[512] = "";
  cairn_engine_options o = {.home = ctx->home, .ns = ctx->ns,
                            .max_runs = max_runs, .must_exist = must_exist};
  int rc = cairn_engine_open(&o, e, err, sizeof err);
  if (rc == CAIRN_ENOTFOUND && must_exist)
    fprintf(stderr, "cairn: no journal in %s; pass --home DIR or set "
                    "CAIRN_HOME to the directory that holds it\n",
            ctx->home);
  else if (rc)
    fprintf(stderr, "cairn: %s\n", *err ? err : cairn_strerror(rc));
  return rc;
}
