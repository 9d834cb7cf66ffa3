/*
 * json_diff.c — a structural diff of two cJSON trees (json_diff.h).
 *
 * Rules
 *   1. Values of different JSON types differ as a whole: one "changed"
 *      at their path, no descent (an object that became an array is one
 *      change, not one per key). true and false are one type, boolean.
 *   2. Numbers compare by value (1, 1.0 and 1e0 are equal), as doubles:
 *      cJSON keeps no other form. Strings compare byte by byte.
 *   3. Objects compare key by key over the union of their keys, in byte
 *      order of the keys, so the output does not depend on the order in
 *      which either side was written. When a key appears twice in one
 *      object, the first one counts, as cJSON's lookups do.
 *   4. Arrays compare index by index; extra items of the longer one are
 *      "added" or "removed". An insertion at the front therefore shows as
 *      a change at every index. A longest-common-subsequence alignment
 *      was rejected: its paths would not name positions in either array,
 *      it costs O(n·m), and step outputs and definitions are
 *      mostly records, not lists that grow in the middle.
 *   5. A path is jq syntax that reads the value: "." for the root,
 *      ".key" for a key that is an identifier and not a jq keyword,
 *      `["key"]` (`.["key"]` at the root) with JSON escapes otherwise,
 *      "[i]" (".[i]" at the root) for an index.
 *
 * The walk is depth first and recursive; its depth is the documents'
 * nesting, which cJSON's parser caps at CJSON_NESTING_LIMIT. In check
 * mode (present_json_equal) it builds no path and stops at the first
 * difference; it allocates only to sort object keys.
 */
#include "json_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct walk {
  cJSON *out;    /* the result array; NULL in check mode */
  char *path;    /* the current path, NUL-terminated; "" is the root */
  size_t len;    /* strlen(path) */
  size_t cap;    /* bytes allocated for path */
  bool differs;  /* check mode: a difference was found */
  bool oom;      /* an allocation failed: the result is unusable */
} walk;

static bool stop(const walk *w) {
  return w->oom || (w->out == NULL && w->differs);
}

/* ----------------------------------------------------------------- paths */

/* Room for `need` bytes in the path: doubling what is needed keeps the
 * appends of one walk amortized O(1). */
static bool path_room(walk *w, size_t need) {
  if (need <= w->cap)
    return true;
  char *p = realloc(w->path, need < 32 ? 64 : 2 * need);
  if (p == NULL) {
    w->oom = true;
    return false;
  }
  w->path = p;
  w->cap = need < 32 ? 64 : 2 * need;
  return true;
}

static void path_add(walk *w, const char *s, size_t n) {
  if (!path_room(w, w->len + n + 1))
    return;
  memcpy(w->path + w->len, s, n);
  w->len += n;
  w->path[w->len] = '\0';
}

static void path_truncate(walk *w, size_t len) {
  if (w->path && len <= w->len) {
    w->len = len;
    w->path[len] = '\0';
  }
}

/* jq's keywords: older jq releases refuse them after a dot (`.end`);
 * the quoted form reads the key in every release. */
static bool is_jq_keyword(const char *s) {
  static const char *const words[] = {
      "and", "as", "catch", "def", "elif", "else", "end", "foreach",
      "if", "import", "include", "label", "or", "reduce", "then", "try",
      "__loc__"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(s, words[i]) == 0)
      return true;
  return false;
}

static bool is_identifier(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
    return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

/* Appends `key` to the path; returns the length to truncate back to. */
static size_t path_push_key(walk *w, const char *key) {
  size_t mark = w->len;
  if (w->out == NULL)
    return mark;
  if (is_identifier(key) && !is_jq_keyword(key)) {
    path_add(w, ".", 1);
    path_add(w, key, strlen(key));
    return mark;
  }
  path_add(w, w->len ? "[\"" : ".[\"", w->len ? 2 : 3);
  for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      path_add(w, esc, 2);
    }
    else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      path_add(w, esc, 6);
    }
    else {
      path_add(w, (const char *)p, 1);
    }
  }
  path_add(w, "\"]", 2);
  return mark;
}

static size_t path_push_index(walk *w, size_t i) {
  size_t mark = w->len;
  if (w->out == NULL)
    return mark;
  char num[32];
  int n = snprintf(num, sizeof num, "%s[%zu]", w->len ? "" : ".", i);
  path_add(w, num, (size_t)n);
  return mark;
}

/* --------------------------------------------------------------- changes */

static void add_copy(walk *w, cJSON *entry, const char *name,
                     const cJSON *v) {
  cJSON *copy = cJSON_Duplicate(v, true);
  if (copy == NULL || !cJSON_AddItemToObject(entry, name, copy)) {
    cJSON_Delete(copy);
    w->oom = true;
  }
}

/* Records one change at the current path: a or b NULL for added/removed. */
static void record(walk *w, const char *change, const cJSON *a,
                   const cJSON *b) {
  w->differs = true;
  if (w->out == NULL)
    return;
  cJSON *e = cJSON_CreateObject();
  if (e == NULL || !cJSON_AddItemToArray(w->out, e)) {
    cJSON_Delete(e);
    w->oom = true;
    return;
  }
  if (!cJSON_AddStringToObject(e, "path", w->len ? w->path : ".") ||
      !cJSON_AddStringToObject(e, "change", change)) {
    w->oom = true;
    return;
  }
  if (a)
    add_copy(w, e, "before", a);
  if (b)
    add_copy(w, e, "after", b);
}

/* ------------------------------------------------------------------ walk */

static void diff_value(walk *w, const cJSON *a, const cJSON *b);

/* The type for rule 1: true and false are one. */
static int kind(const cJSON *v) {
  int t = v->type & 0xFF;
  return t == cJSON_True ? cJSON_False : t;
}

typedef struct member {
  const char *key;
  const cJSON *item;
  size_t index; /* position in the object: the first of equal keys wins */
} member;

static int member_cmp(const void *x, const void *y) {
  const member *a = x, *b = y;
  int c = strcmp(a->key, b->key);
  if (c)
    return c;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* The members of `obj` sorted by key (then position); NULL when empty or
 * out of memory (w->oom says which). */
static member *sorted_members(walk *w, const cJSON *obj, size_t *n) {
  size_t count = 0;
  for (const cJSON *c = obj->child; c; c = c->next)
    count++;
  *n = count;
  if (count == 0)
    return NULL;
  member *m = malloc(count * sizeof *m);
  if (m == NULL) {
    w->oom = true;
    *n = 0;
    return NULL;
  }
  size_t i = 0;
  for (const cJSON *c = obj->child; c; c = c->next, i++)
    m[i] = (member){c->string ? c->string : "", c, i};
  qsort(m, count, sizeof *m, member_cmp);
  return m;
}

/* The index after `i` and its duplicates of the same key. */
static size_t next_key(const member *m, size_t n, size_t i) {
  size_t j = i + 1;
  while (j < n && strcmp(m[j].key, m[i].key) == 0)
    j++;
  return j;
}

static void diff_objects(walk *w, const cJSON *a, const cJSON *b) {
  size_t na, nb;
  member *ma = sorted_members(w, a, &na);
  member *mb = sorted_members(w, b, &nb);
  size_t i = 0, j = 0;
  while ((i < na || j < nb) && !stop(w)) {
    int c = i == na ? 1 : j == nb ? -1 : strcmp(ma[i].key, mb[j].key);
    size_t mark = path_push_key(w, c <= 0 ? ma[i].key : mb[j].key);
    diff_value(w, c <= 0 ? ma[i].item : NULL, c >= 0 ? mb[j].item : NULL);
    path_truncate(w, mark);
    if (c <= 0)
      i = next_key(ma, na, i);
    if (c >= 0)
      j = next_key(mb, nb, j);
  }
  free(ma);
  free(mb);
}

static void diff_arrays(walk *w, const cJSON *a, const cJSON *b) {
  const cJSON *x = a->child, *y = b->child;
  for (size_t i = 0; (x || y) && !stop(w); i++) {
    size_t mark = path_push_index(w, i);
    diff_value(w, x, y);
    path_truncate(w, mark);
    x = x ? x->next : NULL;
    y = y ? y->next : NULL;
  }
}

static bool same_scalar(const cJSON *a, const cJSON *b) {
  switch (kind(a)) {
  case cJSON_False:
    return (a->type & 0xFF) == (b->type & 0xFF);
  case cJSON_Number:
    return a->valuedouble == b->valuedouble;
  case cJSON_String:
  case cJSON_Raw:
    return strcmp(a->valuestring ? a->valuestring : "",
                  b->valuestring ? b->valuestring : "") == 0;
  default: /* null, and invalid items, have no value to differ in */
    return true;
  }
}

static void diff_value(walk *w, const cJSON *a, const cJSON *b) {
  if (a == NULL && b == NULL)
    return;
  if (a == NULL)
    record(w, "added", NULL, b);
  else if (b == NULL)
    record(w, "removed", a, NULL);
  else if (kind(a) != kind(b))
    record(w, "changed", a, b);
  else if (kind(a) == cJSON_Object)
    diff_objects(w, a, b);
  else if (kind(a) == cJSON_Array)
    diff_arrays(w, a, b);
  else if (!same_scalar(a, b))
    record(w, "changed", a, b);
}

cJSON *present_json_diff(const cJSON *a, const cJSON *b) {
  walk w = {.out = cJSON_CreateArray()};
  if (w.out == NULL)
    return NULL;
  diff_value(&w, a, b);
  free(w.path);
  if (w.oom) {
    cJSON_Delete(w.out);
    return NULL;
  }
  return w.out;
}

bool present_json_equal(const cJSON *a, const cJSON *b) {
  walk w = {0};
  diff_value(&w, a, b);
  return !w.differs && !w.oom;
}
