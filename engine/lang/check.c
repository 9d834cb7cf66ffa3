/*
 * check.c — the field checks of check.h, shared by the workflow language
 * and the step kinds' `with` checks.
 */
#include "check.h"

#include <cairn/cairn.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cairn__check_fail(cairn__check *c, const char *fmt, ...) {
  if (c->err && c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
  }
  return CAIRN_EINVAL;
}

/* `v` as compact JSON for a message, shortened to fit `buf`. */
const char *cairn__check_describe(const cJSON *v, char *buf, size_t n) {
  char *s = cJSON_PrintUnformatted(v);
  if (s == NULL) {
    snprintf(buf, n, "the value");
    return buf;
  }
  if (strlen(s) < n)
    snprintf(buf, n, "%s", s);
  else
    snprintf(buf, n, "%.*s...", (int)(n - 4), s);
  cJSON_free(s);
  return buf;
}

const cJSON *cairn__check_field(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

bool cairn__check_is_template(const cJSON *v) {
  return cJSON_IsString(v) && v->valuestring &&
         strstr(v->valuestring, "{{") != NULL;
}

/* An integer that a double holds exactly. */
bool cairn__check_get_int(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v))
    return false;
  double x = v->valuedouble;
  if (x != floor(x) || fabs(x) > 9007199254740992.0)
    return false;
  *out = (int64_t)x;
  return true;
}

int cairn__check_fields(cairn__check *c, const cJSON *obj, const char *path,
                        const char *const *known, const char *list) {
  const char *dot = path[0] ? "." : "";
  const cJSON *f;
  cJSON_ArrayForEach(f, obj) {
    size_t k = 0;
    while (known[k] && strcmp(known[k], f->string) != 0)
      k++;
    if (known[k] == NULL)
      return cairn__check_fail(c, "%s%s%s: unknown field; %s", path, dot,
                               f->string, list);
    for (const cJSON *e = obj->child; e != f; e = e->next) {
      if (strcmp(e->string, f->string) == 0)
        return cairn__check_fail(c, "%s%s%s: given twice; keep one", path,
                                 dot, f->string);
    }
  }
  return 0;
}

int cairn__check_int(cairn__check *c, const cJSON *v, const char *path,
                     int64_t min, const char *what, int64_t *out) {
  char got[48];
  if (!cairn__check_get_int(v, out) || *out < min)
    return cairn__check_fail(c, "%s: %s is not an integer >= %lld; give %s",
                             path, cairn__check_describe(v, got, sizeof got),
                             (long long)min, what);
  return 0;
}

int cairn__check_string(cairn__check *c, const cJSON *v, const char *path,
                        bool nonempty, const char *what) {
  char got[48];
  if (!cJSON_IsString(v) || (nonempty && v->valuestring[0] == '\0'))
    return cairn__check_fail(c, "%s: %s is not %s; give %s", path,
                             cairn__check_describe(v, got, sizeof got),
                             nonempty ? "a non-empty string" : "a string",
                             what);
  return 0;
}

int cairn__check_string_map(cairn__check *c, const cJSON *v,
                            const char *path) {
  char got[48];
  if (cairn__check_is_template(v))
    return 0;
  if (!cJSON_IsObject(v))
    return cairn__check_fail(c, "%s: %s is not an object; give an object of "
                                "strings, e.g. {\"NAME\": \"value\"}",
                             path, cairn__check_describe(v, got, sizeof got));
  const cJSON *f;
  cJSON_ArrayForEach(f, v) {
    if (!cJSON_IsString(f))
      return cairn__check_fail(c, "%s.%s: %s is not a string; quote it", path,
                               f->string,
                               cairn__check_describe(f, got, sizeof got));
  }
  return 0;
}
