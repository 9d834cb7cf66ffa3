/*
 * assets.c — the asset catalogue as JSON (docs/assets.md): an asset with
 * its freshness, the catalogue list, one key's history with the runs that
 * built from each version, and a run's assets. `cairn assets ...` prints
 * these and `cairn serve` answers them at /v1/assets.
 */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *present_asset(cairn_reader *r, const cairn_asset *a, int64_t now_us) {
  char t[40];
  cJSON *o = cJSON_CreateObject();
  present_add_str(o, "key", a->key);
  present_add_str(o, "partition", a->partition);
  cJSON_AddStringToObject(o, "hash", a->hash);
  cJSON_AddNumberToObject(o, "size_bytes", (double)a->size_bytes);
  present_add_str(o, "uri", a->uri);
  cJSON *meta = a->meta.ptr ? cJSON_ParseWithLength(a->meta.ptr, a->meta.len)
                            : NULL;
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(meta, "source");
  if (cJSON_IsString(src))
    cJSON_AddStringToObject(o, "source", src->valuestring);
  present_time(a->time_us, t, sizeof t);
  cJSON_AddStringToObject(o, "materialized", t);
  cJSON_AddNumberToObject(o, "materialized_us", (double)a->time_us);
  cJSON_AddStringToObject(o, "run_id", a->run_id);
  present_add_str(o, "step", a->step);
  cJSON_AddNumberToObject(o, "attempt", a->attempt);
  cJSON_AddNumberToObject(o, "seq", a->seq);
  if (a->max_age_us)
    cJSON_AddNumberToObject(o, "max_age_s", (double)a->max_age_us / 1e6);
  else
    cJSON_AddNullToObject(o, "max_age_s");
  cJSON *ups = cJSON_DetachItemFromObjectCaseSensitive(meta, "upstream");
  cJSON_AddItemToObject(o, "upstream", ups ? ups : cJSON_CreateArray());
  cJSON_Delete(meta);
  if (a->versions)
    cJSON_AddNumberToObject(o, "versions", a->versions);
  cairn_asset_staleness s;
  if (r && cairn_asset_staleness_of(r, a, now_us, &s) == 0) {
    cJSON_AddBoolToObject(o, "stale", s.why != 0);
    char *j = s.why ? cairn_asset_stale_json(a, &s) : NULL;
    cJSON *d = j ? cJSON_Parse(j) : NULL;
    free(j);
    /* why, newer, expired_us, upstream: the explanation */
    static const char *const keep[] = {"why", "newer", "expired_us",
                                       "upstream"};
    cJSON *why = cJSON_AddObjectToObject(o, "staleness");
    for (size_t i = 0; d && i < sizeof keep / sizeof keep[0]; i++) {
      cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(d, keep[i]);
      if (it)
        cJSON_AddItemToObject(why, keep[i], it);
    }
    if (!d)
      cJSON_AddItemToObject(why, "why", cJSON_CreateArray());
    cJSON_Delete(d);
  }
  return o;
}

/* ----------------------------------------------------------- listing */

typedef struct list_ctx {
  cairn_reader *r;
  int64_t now;
  bool stale_only;
  size_t limit;
  cJSON *arr;
  size_t n;
  bool more;
  char last_key[CAIRN_ASSET_KEY_MAX + 1];
  char last_part[CAIRN_PARTITION_MAX + 1];
} list_ctx;

static int list_one(void *ctx, const cairn_asset *a) {
  list_ctx *c = ctx;
  if (c->n == c->limit) {
    c->more = true;
    return 1;
  }
  cJSON *o = present_asset(c->r, a, c->now);
  snprintf(c->last_key, sizeof c->last_key, "%.*s", (int)a->key.len,
           a->key.ptr);
  snprintf(c->last_part, sizeof c->last_part, "%.*s", (int)a->partition.len,
           a->partition.ptr ? a->partition.ptr : "");
  if (c->stale_only && !cJSON_IsTrue(cJSON_GetObjectItem(o, "stale"))) {
    cJSON_Delete(o);
    return 0;
  }
  cJSON_AddItemToArray(c->arr, o);
  c->n++;
  return 0;
}

int present_assets(cairn_reader *r, const char *ns, const char *prefix,
                   const char *after, size_t limit, bool stale_only,
                   cJSON **out) {
  list_ctx c = {.r = r, .now = 0, .stale_only = stale_only,
                .limit = limit ? limit : 100, .arr = cJSON_CreateArray()};
  /* the cursor is "KEY" or "KEY\tPARTITION" */
  char akey[CAIRN_ASSET_KEY_MAX + 1 + CAIRN_PARTITION_MAX + 1] = "";
  char *apart = NULL;
  if (after && strlen(after) >= sizeof akey)
    return CAIRN_EINVAL; /* no cursor of ours is that long */
  if (after && *after) {
    snprintf(akey, sizeof akey, "%s", after);
    char *tab = strchr(akey, '\t');
    if (tab) {
      *tab = '\0';
      apart = tab + 1;
    }
  }
  int rc = cairn_reader_assets(r, ns, prefix, akey[0] ? akey : NULL,
                               apart && *apart ? apart : NULL, list_one, &c);
  if (rc) {
    cJSON_Delete(c.arr);
    return rc;
  }
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddItemToObject(doc, "assets", c.arr);
  if (c.more) {
    char next[CAIRN_ASSET_KEY_MAX + CAIRN_PARTITION_MAX + 2];
    snprintf(next, sizeof next, "%s%s%s", c.last_key,
             c.last_part[0] ? "\t" : "", c.last_part);
    cJSON_AddStringToObject(doc, "next", next);
  }
  else
    cJSON_AddNullToObject(doc, "next");
  *out = doc;
  return 0;
}

/* ---------------------------------------------------- show, history */

typedef struct users_ctx {
  cairn_reader *r;
  cJSON *arr;
} users_ctx;

static int add_user(void *ctx, uint64_t run_key) {
  users_ctx *c = ctx;
  cairn_run_info info;
  if (cairn_reader_run_by_key(c->r, run_key, &info) == 0)
    cJSON_AddItemToArray(c->arr, cJSON_CreateString(info.run_id));
  return 0;
}

/* "used_by": the runs that built an asset from this version. */
static void add_users(cairn_reader *r, cJSON *o, const cairn_asset *a) {
  char key[CAIRN_ASSET_KEY_MAX + 1], part[CAIRN_PARTITION_MAX + 1];
  snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
  snprintf(part, sizeof part, "%.*s", (int)a->partition.len,
           a->partition.ptr ? a->partition.ptr : "");
  users_ctx c = {r, cJSON_AddArrayToObject(o, "used_by")};
  cairn_reader_asset_users(r, a->ns, key, part[0] ? part : NULL, a->hash,
                           add_user, &c);
}

int present_asset_show(cairn_reader *r, const char *ns, const char *key,
                       const char *partition, cJSON **out) {
  cairn_asset a;
  int rc = cairn_reader_asset(r, ns, key, partition, &a);
  if (rc)
    return rc;
  *out = present_asset(r, &a, 0);
  add_users(r, *out, &a);
  return 0;
}

typedef struct hist_ctx {
  cairn_reader *r;
  cJSON *arr;
} hist_ctx;

static int hist_one(void *ctx, const cairn_asset *a) {
  hist_ctx *c = ctx;
  cJSON *o = present_asset(c->r, a, 0);
  add_users(c->r, o, a);
  cJSON_AddItemToArray(c->arr, o);
  return 0;
}

int present_asset_history(cairn_reader *r, const char *ns, const char *key,
                          const char *partition, cJSON **out) {
  hist_ctx c = {r, cJSON_CreateArray()};
  int rc = cairn_reader_asset_history(r, ns, key, partition, hist_one, &c);
  if (rc) {
    cJSON_Delete(c.arr);
    return rc;
  }
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "key", key);
  if (partition)
    cJSON_AddStringToObject(doc, "partition", partition);
  else
    cJSON_AddNullToObject(doc, "partition");
  cJSON_AddItemToObject(doc, "versions", c.arr);
  *out = doc;
  return 0;
}

/* ----------------------------------------------------- a run's assets */

static int run_one(void *ctx, const cairn_asset *a) {
  hist_ctx *c = ctx;
  cJSON_AddItemToArray(c->arr, present_asset(c->r, a, 0));
  return 0;
}

int present_run_assets(cairn_reader *r, uint64_t run_key, cJSON **out) {
  hist_ctx c = {r, cJSON_CreateArray()};
  int rc = cairn_reader_run_assets(r, run_key, run_one, &c);
  if (rc) {
    cJSON_Delete(c.arr);
    return rc;
  }
  *out = c.arr;
  return 0;
}
