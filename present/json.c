/*
 * json.c — the pieces every object is made of: times, integers printed
 * whole, JSON text embedded as values, and the event object (`cairn
 * history --format json`, GET /v1/runs/{id}/history and the SSE stream).
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void present_time(int64_t us, char *buf, size_t len) {
  time_t s = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03dZ", (int)(us % 1000000 / 1000));
}

void present_add_int(cJSON *obj, const char *key, int64_t v) {
  char num[24];
  snprintf(num, sizeof num, "%lld", (long long)v);
  cJSON_AddRawToObject(obj, key, num);
}

void present_add_json_text(cJSON *obj, const char *key, cairn_str s) {
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

void present_add_str(cJSON *obj, const char *key, cairn_str s) {
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

cJSON *present_event(const cairn_event *ev) {
  char t[40];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "seq", ev->seq);
  cJSON_AddStringToObject(o, "type", cairn_event_type_name(ev->type));
  present_time(ev->time_us, t, sizeof t);
  cJSON_AddStringToObject(o, "time", t);
  present_add_int(o, "time_us", ev->time_us);
  present_add_str(o, "step", ev->step);
  if (ev->attempt)
    cJSON_AddNumberToObject(o, "attempt", ev->attempt);
  present_add_str(o, "run_id", ev->run_id);
  present_add_str(o, "workflow_id", ev->workflow_id);
  present_add_str(o, "namespace", ev->ns);
  present_add_str(o, "definition_hash", ev->def_hash);
  if (ev->type == CAIRN_EV_RUN_STARTED) {
    cJSON *origin = cJSON_AddObjectToObject(o, "origin");
    cJSON_AddStringToObject(origin, "kind",
                            cairn_origin_kind_name(ev->origin_kind));
    present_add_str(origin, "parent_run_id", ev->parent_run_id);
    present_add_str(origin, "point", ev->origin_point);
    present_add_str(origin, "reason", ev->reason);
    add_origin_meta(origin, ev->meta);
    present_add_str(origin, "actor", ev->actor);
  }
  else {
    present_add_str(o, "reason", ev->reason);
    present_add_str(o, "actor", ev->actor);
    present_add_json_text(o, "meta", ev->meta);
  }
  present_add_json_text(o, "input", ev->input);
  present_add_json_text(o, "output", ev->output);
  if (ev->error_code.ptr || ev->error_message.ptr) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    present_add_str(e, "code", ev->error_code);
    present_add_str(e, "message", ev->error_message);
    present_add_json_text(e, "details", ev->details);
  }
  else {
    present_add_json_text(o, "details", ev->details);
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
    present_time(ev->fire_at_us, t, sizeof t);
    cJSON_AddStringToObject(o, "fire_at", t);
  }
  /* `name` is the signal's name, or the evaluator step that scored */
  present_add_str(o, ev->type == CAIRN_EV_STEP_EVALUATED ? "evaluator" : "signal",
              ev->name);
  if (ev->ref_run.ptr && ev->type == CAIRN_EV_STEP_REUSED) {
    cJSON *src = cJSON_AddObjectToObject(o, "source");
    present_add_str(src, "run_id", ev->ref_run);
    cJSON_AddNumberToObject(src, "seq", ev->ref_seq);
  }
  else if (ev->ref_run.ptr) {
    present_add_str(o, "replaced_by", ev->ref_run);
  }
  present_add_str(o, "partition", ev->partition);
  if (ev->type == CAIRN_EV_ASSET_MATERIALIZED) {
    cJSON *a = cJSON_AddObjectToObject(o, "asset");
    present_add_str(a, "key", ev->asset_key);
    present_add_str(a, "hash", ev->content_hash);
    cJSON_AddNumberToObject(a, "size_bytes", (double)ev->size_bytes);
    present_add_str(a, "uri", ev->uri);
    if (ev->max_age_us)
      cJSON_AddNumberToObject(a, "max_age_s", (double)ev->max_age_us / 1e6);
  }
  return o;
}


int64_t present_parse_time(const char *s) {
  char *end;
  double v = strtod(s, &end);
  int64_t unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600
                 : *end == 'd' ? 86400 : 0;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (end != s && unit && end[1] == '\0' && v >= 0)
    return ((int64_t)now.tv_sec - (int64_t)(v * (double)unit)) * 1000000;
  struct tm tm = {0};
  const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  int64_t frac = 0, scale = 100000;
  /* Fractions of a second too: audit and lineage print milliseconds,
   * and a time copied from them must be accepted back. */
  if (rest && *rest == '.')
    for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
      frac += (*rest - '0') * scale;
  if (rest == NULL || (*rest != 'Z' && *rest != '\0') ||
      (*rest == 'Z' && rest[1] != '\0'))
    return 0;
  return (int64_t)timegm(&tm) * 1000000 + frac;
}

