/*
 * kinds.c — the table of step kinds, and what the core asks of all of
 * them at once: resolving a kind named in a definition, reading their
 * config.json sections, admitting a run, closing.
 *
 * A kind is one line here and one file beside this one (kind.h says what
 * the file defines). The order is fixed and only matters for which hook
 * runs first; ids, not positions, are what definitions and slots use.
 */
#include "kind.h"

#include <stdlib.h>
#include <string.h>

/* The kinds: X(NAME) stands for the entry `cairn__kind_NAME` that the
 * file NAME.c defines. A new kind is one more line. */
#define CAIRN__KINDS(X)                                                    \
  X(exec)                                                                  \
  X(http)                                                                  \
  X(llm)                                                                   \
  X(native)

#define DECLARE(name) extern const cairn__kind cairn__kind_##name;
CAIRN__KINDS(DECLARE)
#undef DECLARE

#define ENTRY(name) &cairn__kind_##name,
static const cairn__kind *const table[] = {CAIRN__KINDS(ENTRY)};
#undef ENTRY

#define N_KINDS (sizeof table / sizeof table[0])

/* What an unknown kind's message ends with. */
#define KIND_RULE                                                          \
  "use exec, http, llm, sleep, wait or a registered native kind"

const cairn__kind *cairn__kind_at(size_t i) {
  return i < N_KINDS ? table[i] : NULL;
}

const cairn__kind *cairn__kind_by_id(int id) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (table[i]->id == id)
      return table[i];
  return NULL;
}

const cairn__kind *cairn__kind_by_name(const char *name) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (table[i]->name && strcmp(table[i]->name, name) == 0)
      return table[i];
  return NULL;
}

int cairn__kinds_configure(cairn_engine *e, const cJSON *doc,
                           const char *path, char *err, size_t errlen) {
  for (size_t i = 0; i < N_KINDS; i++) {
    const cairn__kind *k = table[i];
    if (k->configure == NULL)
      continue;
    const cJSON *section =
        k->config_key ? cJSON_GetObjectItemCaseSensitive(doc, k->config_key)
                      : NULL;
    int rc = k->configure(e, section, path, err, errlen);
    if (rc)
      return rc;
  }
  return 0;
}

int cairn__kinds_admit(cairn_engine *e, const cairn__def *d,
                       const bool *skip, const char *only) {
  for (size_t i = 0; i < N_KINDS; i++) {
    int rc = table[i]->admit ? table[i]->admit(e, d, skip, only) : 0;
    if (rc)
      return rc;
  }
  return 0;
}

void cairn__kinds_close(cairn_engine *e) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (table[i]->close)
      table[i]->close(e);
}

void cairn__kinds_scrub(cairn_engine *e, cJSON *v) {
  for (size_t i = 0; i < N_KINDS; i++)
    if (table[i]->scrub)
      table[i]->scrub(e, v);
}

char *cairn__kinds_scrub_text(cairn_engine *e, const char *json) {
  bool held = false;
  for (size_t i = 0; i < N_KINDS && !held; i++)
    held = table[i]->holds_secret && table[i]->holds_secret(e, json);
  if (!held)
    return strdup(json);
  cJSON *v = cJSON_Parse(json);
  bool is_json = v != NULL;
  if (!is_json) /* not JSON: one string */
    v = cJSON_CreateString(json);
  if (v == NULL)
    return NULL;
  cairn__kinds_scrub(e, v);
  char *out = is_json ? cJSON_PrintUnformatted(v) : strdup(v->valuestring);
  cJSON_Delete(v);
  return out;
}

/* ------------------------------------------------------------ secrets */

char *cairn__scrub(const char *s, const char *secret) {
  static const char mark[] = "[redacted]";
  size_t kl = strlen(secret), n = 0;
  const char *p;
  if (kl < 4)
    return NULL;
  for (p = s; (p = strstr(p, secret)) != NULL; p += kl)
    n++;
  if (n == 0)
    return NULL;
  char *out = malloc(strlen(s) + n * sizeof mark + 1), *d = out;
  if (out == NULL)
    return NULL;
  for (p = s;;) {
    const char *hit = strstr(p, secret);
    size_t k = hit ? (size_t)(hit - p) : strlen(p);
    memcpy(d, p, k);
    d += k;
    if (hit == NULL)
      break;
    memcpy(d, mark, sizeof mark - 1);
    d += sizeof mark - 1;
    p = hit + kl;
  }
  *d = '\0';
  return out;
}

void cairn__scrub_json(cJSON *v, const char *secret) {
  for (; v; v = v->next) {
    char *s;
    if (cJSON_IsString(v) && (s = cairn__scrub(v->valuestring, secret))) {
      cJSON_SetValuestring(v, s);
      free(s);
    }
    if (v->string && !(v->type & cJSON_StringIsConst) &&
        (s = cairn__scrub(v->string, secret)) != NULL) {
      /* a key that holds the secret (cJSON owns v->string) */
      cJSON_free(v->string);
      v->string = s;
    }
    cairn__scrub_json(v->child, secret);
  }
}

/* ---------------------------------------------------------- definitions */

typedef struct resolve_ctx {
  cairn__native_kind_fn is_native;
  void *ctx;
} resolve_ctx;

static bool resolve(void *ctx, const char *kind, int *id,
                    cairn__with_check_fn *check) {
  const resolve_ctx *r = ctx;
  const cairn__kind *k = cairn__kind_by_name(kind);
  if (k) {
    *id = k->id;
    *check = k->check_with;
    return true;
  }
  if (r->is_native == NULL || !r->is_native(r->ctx, kind))
    return false;
  *id = CAIRN__KIND_NATIVE;
  *check = NULL; /* a native kind's `with` is its own business */
  return true;
}

int cairn__def_parse(const char *json, size_t len,
                     cairn__native_kind_fn is_native, void *ctx,
                     cairn__def **out, char *err, size_t errlen) {
  resolve_ctx r = {is_native, ctx};
  cairn__kind_resolver kinds = {&r, resolve, KIND_RULE};
  return cairn__def_parse_with(json, len, &kinds, out, err, errlen);
}
