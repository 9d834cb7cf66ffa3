/*
 * config.c — $CAIRN_HOME/config.json: the operator's settings.
 *
 *   { "limits": { "max_fork_depth": 5, "max_forks_per_minute": 20 },
 *     "llm": { "providers": {...}, "policy": {...}, "prices": {...} } }
 *
 * A missing file means the defaults. A file that is not valid JSON, or a
 * known setting of the wrong type or range, stops the engine from opening
 * with a message naming the file and the setting: a typo must not silently
 * lift a limit. The "llm" section is read by llm_config.c (it also reads
 * the environment, so it is read when the file is absent too). Sections
 * other engine versions add are left alone here.
 */
#include "engine_internal.h"
#include "llm.h"

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

int cairn__config_load(const char *home, cairn_limits *limits,
                       cairn__llm_config **llm, char *err, size_t errlen) {
  char path[4200];
  limits->max_fork_depth = 5;
  limits->max_forks_per_minute = 20;
  if (llm)
    *llm = NULL;
  snprintf(path, sizeof path, "%s/config.json", home);
  FILE *f = fopen(path, "rb");
  if (f == NULL && errno == ENOENT)
    return llm ? cairn__llm_config_parse(NULL, path, llm, err, errlen) : 0;
  if (f == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return CAIRN_EIO;
  }
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *end = NULL;
  cJSON *doc = cJSON_ParseWithOpts(buf, &end, 0);
  if (!cJSON_IsObject(doc)) {
    snprintf(err, errlen, "%s is not a JSON object (near byte %ld); fix it "
             "or remove it to use the defaults", path,
             end ? (long)(end - buf) : 0L);
    cJSON_Delete(doc);
    return CAIRN_ECONFIG;
  }
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "limits");
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
  if (rc == 0 && llm)
    rc = cairn__llm_config_parse(
        cJSON_GetObjectItemCaseSensitive(doc, "llm"), path, llm, err,
        errlen);
  cJSON_Delete(doc);
  return rc;
}
