/*
 * prompt.c — prompt artifacts (docs/prompts.md).
 *
 * A prompt text is addressable as `prompt_<id>`, each revision by the
 * SHA-256 of its bytes, so a replay can name the exact text it wants. Two
 * paths lead into the one store (journal: cairn_batch_put_prompt):
 *
 *   - storing a definition under its name records the prompt of each of
 *     its llm steps as artifact `prompt_<definition>.<step>`, in the same
 *     batch as the definition (a new revision when the text changed);
 *   - cairn_engine_prompt_add registers a text by hand (`cairn prompt add`,
 *     POST /v1/prompts), under any id, also one of a definition's.
 *
 * cairn__prompt_find turns (artifact id, "sha256:<hex>") back into its
 * text for fork.c: an id not stored or a hash no artifact has is
 * CAIRN_ENOTFOUND, a hash that belongs to another artifact CAIRN_ECONFLICT.
 */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_PREFIX "sha256:"
#define HASH_PREFIX_LEN 7

int cairn__prompts_of_def(cairn_engine *e, cairn_batch *b,
                          const cairn__def *def, const char *def_hash) {
  char id[CAIRN_PROMPT_ID_MAX + 2];
  for (size_t i = 0; def->name && i < def->n_steps; i++) {
    const cairn__step_def *s = &def->steps[i];
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s->with, "prompt");
    if (s->kind_id != CAIRN__KIND_LLM || !cJSON_IsString(p))
      continue;
    int n = snprintf(id, sizeof id, "prompt_%s.%s", def->name, s->name);
    if (n < 0 || (size_t)n >= sizeof id)
      continue;
    int rc = cairn_batch_put_prompt(b, e->ns, id, def->name, s->name,
                                    def_hash, p->valuestring, NULL);
    /* A name with '/' or control bytes cannot be addressed in a URL path
     * (CAIRN_EINVAL, nothing added): such a step keeps its prompt in the
     * definition only. */
    if (rc && rc != CAIRN_EINVAL)
      return rc;
  }
  return 0;
}

/* "NAME" or "prompt_NAME" as the artifact id. */
static int id_of(cairn_engine *e, const char *name, char *id, size_t len) {
  if (name == NULL || *name == '\0') {
    cairn__engine_err(e, "a prompt needs a name: cairn prompt add NAME FILE");
    return CAIRN_EINVAL;
  }
  bool prefixed = strncmp(name, "prompt_", 7) == 0;
  int n = snprintf(id, len, "%s%s", prefixed ? "" : "prompt_", name);
  if (n < 0 || (size_t)n >= len) {
    cairn__engine_err(e, "a prompt name is at most %d bytes",
                      CAIRN_PROMPT_ID_MAX - 7);
    return CAIRN_EINVAL;
  }
  return 0; /* the journal checks its bytes */
}

/* The number of revisions of `id` (0 when it is not stored) and the hash
 * of its latest ("" when none). */
static int latest_revision(cairn_engine *e, const char *id, size_t *n,
                           char latest[CAIRN_HASH_HEX_LEN + 1]) {
  cairn_reader *r;
  cairn_prompt p;
  *n = 0;
  latest[0] = '\0';
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_prompt(r, e->ns, id, &p);
  if (rc == 0 && (*n = p.n_revisions) > 0)
    memcpy(latest, p.revisions[*n - 1].hash, CAIRN_HASH_HEX_LEN + 1);
  cairn_prompt_free(&p);
  cairn_reader_end(r);
  return rc == CAIRN_ENOTFOUND ? 0 : rc;
}

int cairn_engine_prompt_add(cairn_engine *e, const char *name,
                            const char *text, cairn_prompt_added *out) {
  cairn_batch *b;
  char latest[CAIRN_HASH_HEX_LEN + 1];
  size_t before = 0;
  memset(out, 0, sizeof *out);
  e->errmsg[0] = '\0';
  int rc = id_of(e, name, out->id, sizeof out->id);
  if (rc)
    return rc;
  if (text == NULL || *text == '\0') {
    cairn__engine_err(e, "prompt %s: the text is empty", out->id);
    return CAIRN_EINVAL;
  }
  if ((rc = latest_revision(e, out->id, &before, latest)) != 0 ||
      (rc = cairn_batch_new(e->j, &b)) != 0) {
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
    return rc;
  }
  rc = cairn_batch_put_prompt(b, e->ns, out->id, NULL, NULL, NULL, text,
                              out->hash);
  if (rc == 0)
    rc = cairn_batch_commit(b);
  if (rc)
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  cairn_batch_free(b);
  /* The commit adds a revision unless the text is the latest one. */
  out->added = rc == 0 && strcmp(latest, out->hash) != 0;
  out->revisions = before + out->added;
  return rc;
}

/* "sha256:<64 hex>" into hex; false when it is not one. */
static bool hash_of(const char *s, char hex[CAIRN_HASH_HEX_LEN + 1]) {
  if (s == NULL || strncmp(s, HASH_PREFIX, HASH_PREFIX_LEN) != 0 ||
      strlen(s) != HASH_PREFIX_LEN + CAIRN_HASH_HEX_LEN)
    return false;
  for (size_t i = 0; i < CAIRN_HASH_HEX_LEN; i++) {
    char c = s[HASH_PREFIX_LEN + i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  }
  memcpy(hex, s + HASH_PREFIX_LEN, CAIRN_HASH_HEX_LEN + 1);
  return true;
}

/* Appends "sha256:<first 12>…" of each revision to buf. */
static void revision_list(const cairn_prompt *p, char *buf, size_t len) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < p->n_revisions && off < len; i++) {
    int n = snprintf(buf + off, len - off, "%ssha256:%.12s...",
                     i ? ", " : "", p->revisions[i].hash);
    if (n < 0)
      break;
    off += (size_t)n;
  }
}

int cairn__prompt_find(cairn_engine *e, cairn_reader *r, const char *id,
                       const char *hash, cairn_prompt *art,
                       cairn_str *text) {
  char hex[CAIRN_HASH_HEX_LEN + 1], list[400];
  memset(art, 0, sizeof *art);
  if (!hash_of(hash, hex)) {
    cairn__engine_err(e, "prompt hash '%s' is not sha256:<64 lowercase hex> "
                      "(cairn prompt show %s lists its revisions)",
                      hash ? hash : "", id);
    return CAIRN_EINVAL;
  }
  int rc = cairn_reader_prompt(r, e->ns, id, art);
  if (rc == CAIRN_ENOTFOUND) {
    cairn__engine_err(e, "no prompt artifact is named %s in namespace %s; "
                      "`cairn prompt list` (GET /v1/prompts) lists them",
                      id, e->ns);
    return rc;
  }
  if (rc) {
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
    return rc;
  }
  bool mine = false;
  for (size_t i = 0; i < art->n_revisions && !mine; i++)
    mine = strcmp(art->revisions[i].hash, hex) == 0;
  rc = cairn_reader_prompt_text(r, hex, text);
  if (mine && rc == 0)
    return 0;
  revision_list(art, list, sizeof list);
  if (!mine && rc == 0) {
    cairn__engine_err(e, "%s is a revision of another prompt artifact, not "
                      "of %s (its revisions: %s)", hash, id, list);
    rc = CAIRN_ECONFLICT;
  }
  else if (rc == CAIRN_ENOTFOUND && mine) {
    cairn__engine_err(e, "prompt artifact %s lists revision %s but its text "
                      "is not stored; run `cairn journal verify`", id, hash);
    rc = CAIRN_ECORRUPT;
  }
  else if (rc == CAIRN_ENOTFOUND) {
    cairn__engine_err(e, "prompt artifact %s has no revision %s; its "
                      "revisions are: %s", id, hash, list);
  }
  else {
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
  }
  cairn_prompt_free(art);
  return rc;
}
