/*
 * assets.c — the asset catalogue's backend-neutral part: reading the
 * upstream list an asset.materialized carries, and the staleness rules
 * (docs/assets.md, "Staleness").
 *
 * A backend stores the catalogue (latest per key, versions, the assets of
 * each run, the users of each version) in the transaction that appends
 * the events; this file knows nothing of how. The rules read the
 * catalogue only through the public reader functions, so they are the
 * same on every backend and cost one lookup per rule and upstream:
 * O(assets of the run) for a replay's check, whatever the catalogue's
 * size (each lookup is a B-tree search).
 */
#include "backend.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str_item(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int cairn__asset_upstreams(cairn_str meta, cairn__upstream_cb cb,
                           void *ctx) {
  if (meta.ptr == NULL || meta.len == 0)
    return 0;
  cJSON *m = cJSON_ParseWithLength(meta.ptr, meta.len);
  if (m == NULL)
    return 0; /* checked as JSON when appended: out of memory, at worst */
  const cJSON *ups = cJSON_GetObjectItemCaseSensitive(m, "upstream");
  const cJSON *u;
  int rc = 0;
  if (!cJSON_IsArray(ups))
    ups = NULL;
  cJSON_ArrayForEach(u, ups) {
    const char *key = str_item(u, "key"), *hash = str_item(u, "hash");
    const char *part = str_item(u, "partition");
    if (key == NULL || *key == '\0' || strlen(key) > CAIRN_ASSET_KEY_MAX ||
        hash == NULL || !cairn__is_hash_hex(hash) ||
        (part && strlen(part) > CAIRN_PARTITION_MAX))
      continue;
    if ((rc = cb(ctx, key, part && *part ? part : NULL, hash)) != 0)
      break;
  }
  cJSON_Delete(m);
  return rc;
}

void cairn__asset_from_event(const cairn_event *ev, cairn_asset *out) {
  out->key = ev->asset_key;
  out->partition = ev->partition;
  out->seq = ev->seq;
  out->step = ev->step;
  out->attempt = ev->attempt;
  out->time_us = ev->time_us;
  cairn__fmt(out->hash, sizeof out->hash, "%.*s", (int)ev->content_hash.len,
             ev->content_hash.ptr ? ev->content_hash.ptr : "");
  out->size_bytes = ev->size_bytes;
  out->uri = ev->uri;
  out->max_age_us = ev->max_age_us;
  out->meta = ev->meta;
}

/* ---------------------------------------------------------- staleness */

typedef struct up_ctx {
  cairn_reader *r;
  const char *ns;
  cairn_asset_staleness *out;
  int err;
} up_ctx;

static int check_upstream(void *ctx, const char *key, const char *partition,
                          const char *hash) {
  up_ctx *c = ctx;
  cairn__asset_latest now;
  int rc = c->r->j->ops->asset_head(c->r, c->ns, key, partition, &now);
  if (rc == CAIRN_ENOTFOUND)
    return 0; /* never catalogued here (another journal's): nothing newer */
  if (rc) {
    c->err = rc;
    return 1;
  }
  if (strcmp(now.hash, hash) == 0)
    return 0;
  cairn_asset_staleness *o = c->out;
  if (o->n_upstream_changed++ == 0) {
    cairn__fmt(o->upstream_key, sizeof o->upstream_key, "%s", key);
    cairn__fmt(o->upstream_partition, sizeof o->upstream_partition, "%s",
               partition ? partition : "");
    memcpy(o->upstream_hash, now.hash, sizeof o->upstream_hash);
  }
  o->why |= CAIRN_ASSET_UPSTREAM_CHANGED;
  return 0;
}

int cairn_asset_staleness_of(cairn_reader *r, const cairn_asset *a,
                             int64_t now_us, cairn_asset_staleness *out) {
  char key[CAIRN_ASSET_KEY_MAX + 1], part[CAIRN_PARTITION_MAX + 1];
  memset(out, 0, sizeof *out);
  if (now_us == 0)
    now_us = cairn__now_us();
  cairn__fmt(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
  cairn__fmt(part, sizeof part, "%.*s", (int)a->partition.len,
             a->partition.ptr ? a->partition.ptr : "");
  /* 1. superseded: the latest of its key is another materialization
   * (the catalogue's record says where it is; its run id is read only
   * then) */
  cairn__asset_latest latest;
  int rc = r->j->ops->asset_head(r, a->ns, key, part[0] ? part : NULL,
                                 &latest);
  if (rc && rc != CAIRN_ENOTFOUND)
    return rc;
  if (rc == 0 && (latest.run != a->run_key || latest.seq != a->seq)) {
    cairn_run_info newer;
    out->why |= CAIRN_ASSET_SUPERSEDED;
    if ((rc = cairn_reader_run_by_key(r, latest.run, &newer)) != 0)
      return rc;
    memcpy(out->newer_run_id, newer.run_id, sizeof out->newer_run_id);
    out->newer_time_us = latest.time_us;
    memcpy(out->newer_hash, latest.hash, sizeof out->newer_hash);
  }
  /* 2. expired: older than its max_age */
  if (a->max_age_us > 0 && now_us - a->time_us > a->max_age_us) {
    out->why |= CAIRN_ASSET_EXPIRED;
    out->expired_at_us = a->time_us + a->max_age_us;
  }
  /* 3. an upstream it was built from has other content now */
  up_ctx c = {r, a->ns, out, 0};
  rc = cairn__asset_upstreams(a->meta, check_upstream, &c);
  return c.err ? c.err : rc < 0 ? rc : 0;
}

/* ------------------------------------------------------ stale lists */

static void add_time(cJSON *o, const char *name, int64_t us) {
  cJSON_AddNumberToObject(o, name, (double)us);
}

static cJSON *stale_obj(const cairn_asset *a,
                        const cairn_asset_staleness *s) {
  cJSON *o = cJSON_CreateObject();
  char buf[CAIRN_ASSET_KEY_MAX + 1];
  cairn__fmt(buf, sizeof buf, "%.*s", (int)a->key.len, a->key.ptr);
  cJSON_AddStringToObject(o, "key", buf);
  if (a->partition.ptr) {
    cairn__fmt(buf, sizeof buf, "%.*s", (int)a->partition.len,
               a->partition.ptr);
    cJSON_AddStringToObject(o, "partition", buf);
  }
  cJSON_AddStringToObject(o, "hash", a->hash);
  cJSON_AddStringToObject(o, "run_id", a->run_id);
  cairn__fmt(buf, sizeof buf, "%.*s", (int)a->step.len,
             a->step.ptr ? a->step.ptr : "");
  cJSON_AddStringToObject(o, "step", buf);
  add_time(o, "materialized_us", a->time_us);
  cJSON *why = cJSON_AddArrayToObject(o, "why");
  if (s->why & CAIRN_ASSET_SUPERSEDED) {
    cJSON_AddItemToArray(why, cJSON_CreateString("superseded"));
    cJSON *n = cJSON_AddObjectToObject(o, "newer");
    cJSON_AddStringToObject(n, "run_id", s->newer_run_id);
    cJSON_AddStringToObject(n, "hash", s->newer_hash);
    add_time(n, "materialized_us", s->newer_time_us);
  }
  if (s->why & CAIRN_ASSET_EXPIRED) {
    cJSON_AddItemToArray(why, cJSON_CreateString("expired"));
    add_time(o, "expired_us", s->expired_at_us);
  }
  if (s->why & CAIRN_ASSET_UPSTREAM_CHANGED) {
    cJSON_AddItemToArray(why, cJSON_CreateString("upstream_changed"));
    cJSON *u = cJSON_AddObjectToObject(o, "upstream");
    cJSON_AddStringToObject(u, "key", s->upstream_key);
    if (s->upstream_partition[0])
      cJSON_AddStringToObject(u, "partition", s->upstream_partition);
    cJSON_AddStringToObject(u, "hash", s->upstream_hash);
    cJSON_AddNumberToObject(u, "changed", s->n_upstream_changed);
  }
  return o;
}

char *cairn_asset_stale_json(const cairn_asset *a,
                             const cairn_asset_staleness *s) {
  cJSON *o = stale_obj(a, s);
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return text;
}

typedef struct stale_ctx {
  cairn_reader *r;
  int64_t now;
  cJSON *list;
  int err;
} stale_ctx;

static int add_stale(void *ctx, const cairn_asset *a) {
  stale_ctx *c = ctx;
  cairn_asset_staleness s;
  if ((c->err = cairn_asset_staleness_of(c->r, a, c->now, &s)) != 0)
    return 1;
  if (s.why == 0)
    return 0;
  cJSON *item = stale_obj(a, &s);
  if (item == NULL) {
    c->err = CAIRN_ENOMEM;
    return 1;
  }
  cJSON_AddItemToArray(c->list, item);
  return 0;
}

int cairn_run_stale_assets(cairn_reader *r, uint64_t run_key,
                           int64_t now_us, char **json, size_t *n) {
  stale_ctx c = {r, now_us ? now_us : cairn__now_us(), cJSON_CreateArray(),
                 0};
  *json = NULL;
  *n = 0;
  if (c.list == NULL)
    return CAIRN_ENOMEM;
  int rc = cairn_reader_run_assets(r, run_key, add_stale, &c);
  if (rc == 0)
    rc = c.err;
  size_t count = (size_t)cJSON_GetArraySize(c.list);
  if (rc == 0 && count) {
    if ((*json = cJSON_PrintUnformatted(c.list)) == NULL)
      rc = CAIRN_ENOMEM;
    else
      *n = count;
  }
  cJSON_Delete(c.list);
  return rc;
}
