/*
 * config.c — $CAIRN_HOME/config.json: the operator's settings.
 *
 *   { "limits": { "max_fork_depth": 5, "max_forks_per_minute": 20 },
 *     "llm": { "providers": {...}, "policy": {...}, "prices": {...} } }
 *
 * A missing file means the defaults. A file that is not valid JSON, or a
 * known setting of the wrong type or range, stops the engine from opening
 * with a message naming the file and the setting: a typo must not silently
 * lift a limit. Step kinds read their own sections (the llm kind's
 * "llm", through its configure hook: kinds.c hands each kind its
 * section, also when the file is absent, since the llm kind reads the
 * environment too). Sections other engine versions add are left alone.
 */
#include "engine_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_int(const cJSON *obj, const char *key, int min, int *out,
                    const char *path, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v == NULL)
    return 0;
  if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble ||
      (int)v->valuedouble < min) {
    snprintf(err, errlen, "%s: limits.%s must be an integer >= %d", path,
             key, min);
    return CAIRN_ECONFIG;
  }
  *out = (int)v->valuedouble;
  return 0;
}

int cairn__config_load(const char *home, cairn_limits *limits, cJSON **doc,
                       char *path, size_t pathlen, char *err,
                       size_t errlen) {
  cairn_limits ignored;
  if (limits == NULL)
    limits = &ignored;
  limits->max_fork_depth = 5;
  limits->max_forks_per_minute = 20;
  limits->max_asset_bytes = 256ll << 20;
  *doc = NULL;
  snprintf(path, pathlen, "%s/config.json", home);
  FILE *f = fopen(path, "rb");
  if (f == NULL && errno == ENOENT)
    return 0;
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CAIRN_EIO;
  }
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *end = NULL;
  cJSON *d = cJSON_ParseWithOpts(buf, &end, 0);
  if (!cJSON_IsObject(d)) {
    snprintf(err, errlen, "%s is not a JSON object (near byte %ld); fix it "
             "or remove it to use the defaults", path,
             end ? (long)(end - buf) : 0L);
    cJSON_Delete(d);
    return CAIRN_ECONFIG;
  }
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "limits");
  int rc = 0;
  if (l && !cJSON_IsObject(l)) {
    snprintf(err, errlen, "%s: limits must be an object", path);
    rc = CAIRN_ECONFIG;
  }
  if (rc == 0)
    rc = read_int(l, "max_fork_depth", 1, &limits->max_fork_depth, path,
                  err, errlen);
  if (rc == 0)
    rc = read_int(l, "max_forks_per_minute", 1,
                  &limits->max_forks_per_minute, path, err, errlen);
  const cJSON *as = cJSON_GetObjectItemCaseSensitive(d, "assets");
  const cJSON *mb = cJSON_GetObjectItemCaseSensitive(as, "max_bytes");
  if (rc == 0 && as && !cJSON_IsObject(as)) {
    snprintf(err, errlen, "%s: assets must be an object", path);
    rc = CAIRN_ECONFIG;
  }
  if (rc == 0 && mb) {
    if (!cJSON_IsNumber(mb) || mb->valuedouble < 1 ||
        mb->valuedouble > 9e15 ||
        mb->valuedouble != (double)(int64_t)mb->valuedouble) {
      snprintf(err, errlen, "%s: assets.max_bytes must be a whole number "
               "of bytes >= 1", path);
      rc = CAIRN_ECONFIG;
    }
    else
      limits->max_asset_bytes = (int64_t)mb->valuedouble;
  }
  if (rc)
    cJSON_Delete(d);
  else
    *doc = d;
  return rc;
}
