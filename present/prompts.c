/*
 * prompts.c — prompt artifacts as JSON (docs/prompts.md): one artifact
 * with its revisions, a page of the list, what registering answers.
 * Hashes are written "sha256:<hex>", the form replays name them by.
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_hash(cJSON *obj, const char *key, const char *hex) {
  char buf[8 + CAIRN_HASH_HEX_LEN];
  snprintf(buf, sizeof buf, "sha256:%s", hex);
  cJSON_AddStringToObject(obj, key, buf);
}

static void add_opt(cJSON *obj, const char *key, const char *s) {
  if (s && *s)
    cJSON_AddStringToObject(obj, key, s);
  else
    cJSON_AddNullToObject(obj, key);
}

/* The fields an artifact has in a list and in full. */
static cJSON *head(const cairn_prompt *p) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "id", p->id);
  add_opt(doc, "workflow", p->workflow);
  add_opt(doc, "step", p->step);
  cJSON_AddNumberToObject(doc, "revisions", (double)p->n_revisions);
  add_hash(doc, "latest", p->revisions[p->n_revisions - 1].hash);
  return doc;
}

cJSON *present_prompt(cairn_reader *r, const cairn_prompt *p, bool texts) {
  cJSON *doc = head(p);
  cJSON *arr = cJSON_AddArrayToObject(doc, "history");
  for (size_t i = 0; i < p->n_revisions; i++) {
    const cairn_prompt_revision *v = &p->revisions[i];
    cJSON *o = cJSON_CreateObject();
    char t[40], ns[CAIRN_NAMESPACE_MAX + 1], name[CAIRN_WORKFLOW_ID_MAX + 1];
    uint32_t version = 0;
    cJSON_AddNumberToObject(o, "revision", (double)(i + 1));
    add_hash(o, "hash", v->hash);
    present_time(v->time_us, t, sizeof t);
    cJSON_AddStringToObject(o, "time", t);
    if (v->def_hash[0]) {
      cJSON *d = cJSON_AddObjectToObject(o, "definition");
      cJSON_AddStringToObject(d, "hash", v->def_hash);
      if (cairn_reader_definition_of_hash(r, v->def_hash, ns, name,
                                          &version) == 0)
        cJSON_AddNumberToObject(d, "version", version);
    }
    else {
      cJSON_AddNullToObject(o, "definition");
    }
    cairn_str text;
    if (texts && cairn_reader_prompt_text(r, v->hash, &text) == 0) {
      char *s = strndup(text.ptr, text.len);
      cJSON_AddStringToObject(o, "text", s ? s : "");
      free(s);
    }
    cJSON_AddItemToArray(arr, o);
  }
  return doc;
}

typedef struct page {
  cJSON *arr;
  size_t limit, n;
  char last[CAIRN_PROMPT_ID_MAX + 1];
  bool more;
} page;

static int on_prompt(void *ctx, const cairn_prompt *p) {
  page *pg = ctx;
  if (pg->n == pg->limit) {
    pg->more = true;
    return 1;
  }
  cJSON_AddItemToArray(pg->arr, head(p));
  snprintf(pg->last, sizeof pg->last, "%s", p->id);
  pg->n++;
  return 0;
}

int present_prompts(cairn_reader *r, const char *ns, const char *after,
                    size_t limit, cJSON **out) {
  cJSON *doc = cJSON_CreateObject();
  page pg = {.arr = cJSON_AddArrayToObject(doc, "prompts"), .limit = limit};
  int rc = cairn_reader_prompts(r, ns, after, on_prompt, &pg);
  if (rc) {
    cJSON_Delete(doc);
    return rc;
  }
  if (pg.more)
    cJSON_AddStringToObject(doc, "next_after", pg.last);
  else
    cJSON_AddNullToObject(doc, "next_after");
  *out = doc;
  return 0;
}

cJSON *present_prompt_added(const cairn_prompt_added *a) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "id", a->id);
  add_hash(doc, "hash", a->hash);
  cJSON_AddNumberToObject(doc, "revisions", (double)a->revisions);
  cJSON_AddBoolToObject(doc, "added", a->added);
  return doc;
}
