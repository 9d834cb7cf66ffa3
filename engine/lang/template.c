/*
 * template.c — `{{ expr }}` templates compiled with libjq.
 *
 * Compiling walks the JSON value in pre-order and turns every string
 * that holds `{{` into a *slot*: the string split into *parts*, each
 * literal text or a template. Each distinct expression text is an
 * *expr* of a *set*, shared by every part that spells it the same way;
 * a definition keeps one set for all its templates, and the set is
 * compiled once, into one jq program:
 *
 *   def env: {}; {} as $ENV | .[0] as $__cairn_i | .[1] |
 *     if $__cairn_i == 0 then (EXPR0
 *     ) elif $__cairn_i == 1 then (EXPR1
 *     ) ... else empty end
 *
 * run with [index, context] as its input. (The newline before each `)`
 * ends a `#` comment an expression may close with.) When that program
 * does not compile, each expression is compiled alone, in order, to name
 * the first one at fault, exactly as if it had been compiled alone. Rendering walks the same value in the same
 * order, builds a new tree, and consumes one slot per templated string,
 * so the slots need no pointers into the tree.
 *
 * Scanning: a template runs from `{{` to the first `}}` that is not
 * inside a jq string literal and does not close an object literal opened
 * inside the expression, so `{{ {a: {b: .x}} }}` is one template. There
 * is no escape for a literal `{{`; write `{{ "{{" }}`.
 *
 * Values cross between cJSON and jq by walking both trees, not by
 * printing and parsing. Measured (-O2) on a 21 KiB context, an input and
 * ten step outputs: cJSON to jv took 260 us walking against 546 us for
 * cJSON_PrintUnformatted + jv_parse_sized, and jv back to cJSON 199 us
 * against 643 us for jv_dump_string + cJSON_Parse. The walk also keeps
 * every double exactly, where cJSON's printer rounds integers above 2^52
 * (shared/notes/deps.md).
 *
 * Cost: libjq 1.6 parses its builtin library on every jq_compile, about
 * 16 ms, whatever the program: hence one program per set, not one per
 * expression (a ten-step definition took 160 ms to load before, one
 * compile now); it keeps about 17 KiB (unused builtins are dropped); rendering one template over that
 * context about 260 us, nearly all of it the context conversion, which
 * is done once per render however many templates the value holds.
 *
 * Sandboxing: each expression is compiled as
 *   def env: {}; {} as $ENV | EXPR
 * so a template cannot read the process environment (where API keys
 * live; rendered inputs are journaled), and, because `import`/`include`
 * are only legal at the very start of a jq program, cannot load modules
 * or data files. The module search path is empty as well: libjq 1.6
 * aborts the process on `import` when it is unset.
 *
 * Alternatives rejected: one jq program that builds the whole value (the
 * value's shape would have to be rebuilt in jq, and a failing string
 * could not be named); one jq_state per expression (16 ms each to
 * compile, above); compiling per render (the same, per run).
 */
#include "template.h"

#include <cairn/cairn.h>
#include <jq.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest value that crosses between cJSON and jq. cJSON's parser refuses
 * deeper documents, so definitions, inputs and outputs never reach it;
 * a jq expression can build deeper values, and the bound keeps the
 * recursive walks off the end of the stack. */
#define TMPL_DEPTH_MAX CJSON_NESTING_LIMIT

/* What every expression is wrapped in (see the design comment). */
static const char SANDBOX[] = "def env: {}; {} as $ENV | ";

typedef struct tmpl_expr {
  char *src;    /* the expression, trimmed, as written */
  char *path;   /* where it was first seen, for messages */
  char *text;   /* its first template as written ("{{ .x }}") */
} tmpl_expr;

/* Expressions compiled together (see the design comment). */
struct cairn__tmpl_set {
  tmpl_expr *exprs; /* distinct expressions, by index */
  size_t n_exprs;
  size_t cap_exprs;
  jq_state *jq;     /* the program, once built; NULL before or when there
                       are no expressions */
  bool built;
  int refs;         /* the set's owner and every template using it */
};

typedef struct tmpl_part {
  size_t off;   /* byte offset into the slot's text */
  size_t len;   /* bytes: the literal, or the whole "{{ ... }}" */
  long expr;    /* index into the set's exprs; -1 for literal text */
} tmpl_part;

typedef struct tmpl_slot {
  char *path;       /* JSON path of the string ("steps[1].with.url") */
  char *text;       /* the string as written */
  tmpl_part *parts;
  size_t n_parts;
  bool whole;       /* exactly one template: renders as its JSON value */
} tmpl_slot;

struct cairn__tmpl {
  cJSON *value;     /* a copy of the compiled value */
  tmpl_slot *slots; /* templated strings, in pre-order */
  size_t n_slots;
  size_t cap_slots;
  cairn__tmpl_set *set; /* its expressions (a reference) */
};

/* A growable byte buffer, always NUL-terminated once used. */
typedef struct tbuf {
  char *p;
  size_t len;
  size_t cap;
} tbuf;

static int tbuf_add(tbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
      return CAIRN_ENOMEM;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

/* Grows `*arr` (of `size`-byte items) to hold one more than `n`. */
static int grow(void **arr, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return 0;
  size_t ncap = *cap ? 2 * *cap : 8;
  void *p = realloc(*arr, ncap * size);
  if (p == NULL)
    return CAIRN_ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* "PATH: " or nothing when the path is empty. */
static const char *sep(const char *path) { return path[0] ? ": " : ""; }

/* ---- paths ---- */

static bool is_ident(const char *s) {
  if (!(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
        (s[0] >= 'a' && s[0] <= 'z')))
    return false;
  for (; *s; s++) {
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9')))
      return false;
  }
  return true;
}

/* The path of member `key` (or of element `index` when key is NULL) of
 * the value at `path`; free it. NULL when out of memory. */
static char *child_path(const char *path, const char *key, size_t index) {
  char *out = NULL;
  int n;
  if (key == NULL)
    n = asprintf(&out, "%s[%zu]", path, index);
  else if (is_ident(key))
    n = asprintf(&out, "%s%s%s", path, path[0] ? "." : "", key);
  else
    n = asprintf(&out, "%s[\"%s\"]", path, key);
  return n < 0 ? NULL : out;
}

/* ---- conversions between cJSON and jv ---- */

static int json_to_jv(const cJSON *v, int depth, jv *out);

static int array_to_jv(const cJSON *v, int depth, jv *out) {
  jv arr = jv_array();
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    jv item;
    int rc = json_to_jv(c, depth + 1, &item);
    if (rc) {
      jv_free(arr);
      return rc;
    }
    arr = jv_array_append(arr, item);
  }
  *out = arr;
  return 0;
}

static int object_to_jv(const cJSON *v, int depth, jv *out) {
  jv obj = jv_object();
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    jv item;
    int rc = json_to_jv(c, depth + 1, &item);
    if (rc) {
      jv_free(obj);
      return rc;
    }
    obj = jv_object_set(obj, jv_string(c->string ? c->string : ""), item);
  }
  *out = obj;
  return 0;
}

/* CAIRN_EINVAL for what has no JSON meaning (cJSON_Invalid, raw text that
 * does not parse, nesting past TMPL_DEPTH_MAX). */
static int json_to_jv(const cJSON *v, int depth, jv *out) {
  if (v == NULL) {
    *out = jv_null();
    return 0;
  }
  if (depth > TMPL_DEPTH_MAX)
    return CAIRN_EINVAL;
  switch (v->type & 0xff) {
  case cJSON_NULL:
    *out = jv_null();
    return 0;
  case cJSON_False:
    *out = jv_false();
    return 0;
  case cJSON_True:
    *out = jv_true();
    return 0;
  case cJSON_Number:
    *out = jv_number(v->valuedouble);
    return 0;
  case cJSON_String:
    *out = jv_string(v->valuestring ? v->valuestring : "");
    return 0;
  case cJSON_Array:
    return array_to_jv(v, depth, out);
  case cJSON_Object:
    return object_to_jv(v, depth, out);
  case cJSON_Raw:
    *out = jv_parse(v->valuestring ? v->valuestring : "");
    if (jv_is_valid(*out))
      return 0;
    jv_free(*out);
    return CAIRN_EINVAL;
  default:
    return CAIRN_EINVAL;
  }
}

static int jv_to_json(jv v, int depth, cJSON **out);

static int jv_array_to_json(jv v, int depth, cJSON **out) {
  cJSON *arr = cJSON_CreateArray();
  int rc = arr ? 0 : CAIRN_ENOMEM;
  int n = jv_array_length(jv_copy(v));
  for (int i = 0; i < n && rc == 0; i++) {
    cJSON *item;
    rc = jv_to_json(jv_array_get(jv_copy(v), i), depth + 1, &item);
    if (rc == 0 && !cJSON_AddItemToArray(arr, item)) {
      cJSON_Delete(item);
      rc = CAIRN_ENOMEM;
    }
  }
  jv_free(v);
  if (rc)
    cJSON_Delete(arr);
  else
    *out = arr;
  return rc;
}

static int jv_object_to_json(jv v, int depth, cJSON **out) {
  cJSON *obj = cJSON_CreateObject();
  int rc = obj ? 0 : CAIRN_ENOMEM;
  for (int i = jv_object_iter(v); rc == 0 && jv_object_iter_valid(v, i);
       i = jv_object_iter_next(v, i)) {
    jv key = jv_object_iter_key(v, i);
    cJSON *item;
    rc = jv_to_json(jv_object_iter_value(v, i), depth + 1, &item);
    if (rc == 0 && !cJSON_AddItemToObject(obj, jv_string_value(key), item)) {
      cJSON_Delete(item);
      rc = CAIRN_ENOMEM;
    }
    jv_free(key);
  }
  jv_free(v);
  if (rc)
    cJSON_Delete(obj);
  else
    *out = obj;
  return rc;
}

/* Consumes `v`. Numbers that are not finite (nan, infinite) become null,
 * as JSON has no spelling for them. CAIRN_EINVAL: nested past
 * TMPL_DEPTH_MAX. */
static int jv_to_json(jv v, int depth, cJSON **out) {
  cJSON *r = NULL;
  if (depth > TMPL_DEPTH_MAX) {
    jv_free(v);
    return CAIRN_EINVAL;
  }
  switch (jv_get_kind(v)) {
  case JV_KIND_ARRAY:
    return jv_array_to_json(v, depth, out);
  case JV_KIND_OBJECT:
    return jv_object_to_json(v, depth, out);
  case JV_KIND_TRUE:
    r = cJSON_CreateTrue();
    break;
  case JV_KIND_FALSE:
    r = cJSON_CreateFalse();
    break;
  case JV_KIND_NUMBER:
    if (isfinite(jv_number_value(v)))
      r = cJSON_CreateNumber(jv_number_value(v));
    else
      r = cJSON_CreateNull();
    break;
  case JV_KIND_STRING:
    r = cJSON_CreateString(jv_string_value(v));
    break;
  default:
    r = cJSON_CreateNull();
    break;
  }
  jv_free(v);
  if (r == NULL)
    return CAIRN_ENOMEM;
  *out = r;
  return 0;
}

/* ---- scanning ---- */

static const char *skip_space(const char *s, const char *end) {
  while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
    s++;
  return s;
}

/* The `}}` that closes the template whose expression starts at `s`, or
 * NULL. Skips jq string literals and `}` that close braces opened inside
 * the expression. */
static const char *find_close(const char *s) {
  int depth = 0;
  for (; *s; s++) {
    if (*s == '"') {
      for (s++; *s && *s != '"'; s++) {
        if (*s == '\\' && s[1])
          s++;
      }
      if (*s == '\0')
        return NULL;
    }
    else if (*s == '{') {
      depth++;
    }
    else if (*s == '}') {
      if (depth == 0 && s[1] == '}')
        return s;
      if (depth > 0)
        depth--;
    }
  }
  return NULL;
}

/* ---- compiling ---- */

/* The first message jq reports while compiling, cut down to its
 * complaint: no "jq: error: " prefix, no "at <top-level>, line 1:" and
 * program echo (which would show the sandbox prefix), no shell hint. */
typedef struct compile_msg {
  char text[256];
  bool set;
} compile_msg;

static void keep_first_error(void *data, jv msg) {
  compile_msg *m = data;
  if (!m->set && jv_get_kind(msg) == JV_KIND_STRING) {
    const char *s = jv_string_value(msg);
    if (strncmp(s, "jq: error: ", 11) == 0)
      s += 11;
    size_t n = strcspn(s, "\n");
    const char *cut = strstr(s, " at <top-level>");
    if (cut && (size_t)(cut - s) < n)
      n = (size_t)(cut - s);
    cut = strstr(s, " (Unix shell quoting issues?)");
    if (cut && (size_t)(cut - s) < n)
      n = (size_t)(cut - s);
    snprintf(m->text, sizeof m->text, "%.*s", (int)n, s);
    m->set = true;
  }
  jv_free(msg);
}

static void ignore_error(void *data, jv msg) {
  (void)data;
  jv_free(msg);
}

/* No input beyond the context: `input` fails instead of reading stdin. */
static jv no_input(jq_state *jq, void *data) {
  (void)jq;
  (void)data;
  return jv_invalid_with_msg(jv_string("templates have no further input"));
}

/* Compiles a whole program into *out. CAIRN_EINVAL with jq's complaint
 * in `msg`. */
static int jq_compile_program(const char *program, jq_state **out,
                              compile_msg *msg) {
  jq_state *jq = jq_init();
  if (jq == NULL)
    return CAIRN_ENOMEM;
  jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
  jq_set_input_cb(jq, no_input, NULL);
  jq_set_error_cb(jq, keep_first_error, msg);
  int ok = jq_compile(jq, program);
  jq_set_error_cb(jq, ignore_error, NULL);
  if (!ok) {
    jq_teardown(&jq);
    if (!msg->set)
      snprintf(msg->text, sizeof msg->text, "jq refused it");
    return CAIRN_EINVAL;
  }
  *out = jq;
  return 0;
}

/* Compiles expression `src` alone, sandboxed, into *out. */
static int jq_compile_sandboxed(const char *src, jq_state **out,
                                compile_msg *msg) {
  char *program = NULL;
  if (asprintf(&program, "%s%s", SANDBOX, src) < 0)
    return CAIRN_ENOMEM;
  int rc = jq_compile_program(program, out, msg);
  free(program);
  return rc;
}

/* The index of expression `src` (len bytes) in the set, adding it the
 * first time it is seen; it compiles when the set is built.
 * `tmpl_text` is the template as written, for messages. */
static int expr_intern(cairn__tmpl *t, const char *src, size_t len,
                       const char *path, const char *tmpl_text,
                       size_t tmpl_len, long *idx, char *err, size_t errlen) {
  cairn__tmpl_set *set = t->set;
  (void)err;
  (void)errlen;
  for (size_t i = 0; i < set->n_exprs; i++) {
    if (strlen(set->exprs[i].src) == len &&
        memcmp(set->exprs[i].src, src, len) == 0) {
      *idx = (long)i;
      return 0;
    }
  }
  if (grow((void **)&set->exprs, &set->cap_exprs, set->n_exprs,
           sizeof *set->exprs))
    return CAIRN_ENOMEM;
  tmpl_expr *e = &set->exprs[set->n_exprs];
  *e = (tmpl_expr){.src = strndup(src, len), .path = strdup(path),
                   .text = strndup(tmpl_text, tmpl_len)};
  if (e->src == NULL || e->path == NULL || e->text == NULL) {
    free(e->src);
    free(e->path);
    free(e->text);
    return CAIRN_ENOMEM;
  }
  set->built = false;
  *idx = (long)set->n_exprs++;
  return 0;
}

/* ---- sets ---- */

int cairn__tmpl_set_new(cairn__tmpl_set **out) {
  cairn__tmpl_set *set = calloc(1, sizeof *set);
  if (set == NULL)
    return CAIRN_ENOMEM;
  set->refs = 1;
  *out = set;
  return 0;
}

void cairn__tmpl_set_free(cairn__tmpl_set *set) {
  if (set == NULL || --set->refs > 0)
    return;
  for (size_t i = 0; i < set->n_exprs; i++) {
    free(set->exprs[i].src);
    free(set->exprs[i].path);
    free(set->exprs[i].text);
  }
  if (set->jq)
    jq_teardown(&set->jq);
  free(set->exprs);
  free(set);
}

/* The whole program of the set (see the design comment). */
static char *set_program(const cairn__tmpl_set *set) {
  tbuf b = {0};
  int rc = tbuf_add(&b, SANDBOX, strlen(SANDBOX));
  static const char head[] = ".[0] as $__cairn_i | .[1] | ";
  if (rc == 0)
    rc = tbuf_add(&b, head, sizeof head - 1);
  for (size_t i = 0; rc == 0 && i < set->n_exprs; i++) {
    char branch[64];
    int n = snprintf(branch, sizeof branch, "%s $__cairn_i == %zu then (",
                     i ? "\n) elif" : "if", i);
    rc = tbuf_add(&b, branch, (size_t)n);
    if (rc == 0)
      rc = tbuf_add(&b, set->exprs[i].src, strlen(set->exprs[i].src));
  }
  static const char tail[] = "\n) else empty end";
  if (rc == 0)
    rc = tbuf_add(&b, tail, sizeof tail - 1);
  if (rc) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* Whether the brackets of expression `src` balance outside string
 * literals and comments, never closing one it did not open: then it
 * cannot close the `(` of its branch in the set's program, and compiles
 * there exactly when it compiles alone. A string's `\(...)` counts as
 * code, as in jq. */
static bool brackets_balance(const char *src) {
  char stack[64];          /* open brackets; in_str[d]: depth d is a
                              string's \( interpolation */
  bool in_str[64] = {false};
  size_t d = 0;
  bool str = false;
  for (const char *p = src; *p; p++) {
    if (str) {
      if (*p == '\\' && p[1] == '(') {
        if (d == sizeof stack)
          return false;
        in_str[d] = true;
        stack[d++] = '(';
        str = false;
        p++;
      }
      else if (*p == '\\' && p[1]) {
        p++;
      }
      else if (*p == '"') {
        str = false;
      }
      continue;
    }
    if (*p == '"') {
      str = true;
    }
    else if (*p == '#') {
      while (p[1] && p[1] != '\n')
        p++;
    }
    else if (*p == '(' || *p == '[' || *p == '{') {
      if (d == sizeof stack)
        return false;
      in_str[d] = false;
      stack[d++] = *p;
    }
    else if (*p == ')' || *p == ']' || *p == '}') {
      char want = *p == ')' ? '(' : *p == ']' ? '[' : '{';
      if (d == 0 || stack[d - 1] != want)
        return false;
      d--;
      str = in_str[d]; /* the end of an interpolation: back in its string */
    }
  }
  return d == 0 && !str;
}

int cairn__tmpl_set_build(cairn__tmpl_set *set, char *err, size_t errlen) {
  if (set->built)
    return 0;
  if (set->jq)
    jq_teardown(&set->jq);
  if (set->n_exprs == 0) {
    set->built = true;
    return 0;
  }
  bool balanced = true;
  for (size_t i = 0; i < set->n_exprs; i++)
    balanced = balanced && brackets_balance(set->exprs[i].src);
  compile_msg msg = {.set = false};
  int rc = CAIRN_EINVAL;
  if (balanced) {
    char *program = set_program(set);
    if (program == NULL)
      return CAIRN_ENOMEM;
    rc = jq_compile_program(program, &set->jq, &msg);
    free(program);
    if (rc != CAIRN_EINVAL) {
      set->built = rc == 0;
      return rc;
    }
  }
  /* Name the expression at fault: the first that does not compile alone. */
  for (size_t i = 0; i < set->n_exprs; i++) {
    jq_state *one = NULL;
    compile_msg m1 = {.set = false};
    rc = jq_compile_sandboxed(set->exprs[i].src, &one, &m1);
    if (rc == 0) {
      jq_teardown(&one);
      continue;
    }
    if (rc == CAIRN_EINVAL)
      set_err(err, errlen,
              "%s%stemplate '%s' does not compile: %s; fix the jq "
              "expression",
              set->exprs[i].path, sep(set->exprs[i].path),
              set->exprs[i].text, m1.text);
    return rc;
  }
  for (size_t i = 0; i < set->n_exprs; i++)
    if (!brackets_balance(set->exprs[i].src)) {
      set_err(err, errlen, "%s%stemplate '%s' does not compile: its "
              "brackets do not match; fix the jq expression",
              set->exprs[i].path, sep(set->exprs[i].path),
              set->exprs[i].text);
      return CAIRN_EINVAL;
    }
  set_err(err, errlen, "templates do not compile together: %s",
          msg.set ? msg.text : "jq refused them");
  return CAIRN_EINVAL;
}

static int slot_add_part(tmpl_slot *s, size_t *cap, size_t off, size_t len,
                         long expr) {
  if (grow((void **)&s->parts, cap, s->n_parts, sizeof *s->parts))
    return CAIRN_ENOMEM;
  s->parts[s->n_parts++] = (tmpl_part){.off = off, .len = len, .expr = expr};
  return 0;
}

/* Adds the template that opens at `open` (and the literal text between
 * `pos` and it) to the slot; *next is where scanning resumes. */
static int slot_scan_one(cairn__tmpl *t, tmpl_slot *s, size_t *cap,
                         const char *pos, const char *open,
                         const char **next, char *err, size_t errlen) {
  const char *text = s->text;
  const char *close = find_close(open + 2);
  if (close == NULL) {
    set_err(err, errlen, "%s%stemplate '%s' is not closed; end it with }}%s",
            s->path, sep(s->path), open,
            strstr(open + 2, "}}") ? " (the }} there is inside a jq string "
                                     "or closes a { opened in it)"
                                   : "");
    return CAIRN_EINVAL;
  }
  size_t tlen = (size_t)(close + 2 - open);
  const char *b = skip_space(open + 2, close);
  const char *e = close;
  while (e > b && strchr(" \t\n\r", e[-1]))
    e--;
  if (e == b) {
    set_err(err, errlen,
            "%s%stemplate '%.*s' is empty; write a jq expression between "
            "the braces, such as {{ .input }}",
            s->path, sep(s->path), (int)tlen, open);
    return CAIRN_EINVAL;
  }
  long idx;
  int rc = expr_intern(t, b, (size_t)(e - b), s->path, open, tlen, &idx, err,
                       errlen);
  if (rc == 0 && open > pos)
    rc = slot_add_part(s, cap, (size_t)(pos - text), (size_t)(open - pos),
                       -1);
  if (rc == 0)
    rc = slot_add_part(s, cap, (size_t)(open - text), tlen, idx);
  *next = close + 2;
  return rc;
}

/* Splits the slot's text into literal and template parts. */
static int slot_scan(cairn__tmpl *t, tmpl_slot *s, char *err,
                     size_t errlen) {
  const char *pos = s->text;
  const char *open = strstr(pos, "{{");
  size_t cap = 0;
  while (open != NULL) {
    int rc = slot_scan_one(t, s, &cap, pos, open, &pos, err, errlen);
    if (rc)
      return rc;
    open = strstr(pos, "{{");
  }
  if (*pos && slot_add_part(s, &cap, (size_t)(pos - s->text), strlen(pos),
                            -1))
    return CAIRN_ENOMEM;
  s->whole = s->n_parts == 1 && s->parts[0].expr >= 0;
  return 0;
}

static void slot_free(tmpl_slot *s) {
  free(s->path);
  free(s->text);
  free(s->parts);
}

static int compile_string(cairn__tmpl *t, const char *str, const char *path,
                          char *err, size_t errlen) {
  if (grow((void **)&t->slots, &t->cap_slots, t->n_slots, sizeof *t->slots))
    return CAIRN_ENOMEM;
  tmpl_slot *s = &t->slots[t->n_slots];
  *s = (tmpl_slot){.path = strdup(path), .text = strdup(str)};
  if (s->path == NULL || s->text == NULL) {
    slot_free(s);
    return CAIRN_ENOMEM;
  }
  int rc = slot_scan(t, s, err, errlen);
  if (rc) {
    slot_free(s);
    return rc;
  }
  t->n_slots++;
  return 0;
}

static int compile_node(cairn__tmpl *t, const cJSON *v, const char *path,
                        int depth, char *err, size_t errlen) {
  if (depth > TMPL_DEPTH_MAX) {
    set_err(err, errlen, "%s%snested deeper than %d levels; flatten it",
            path, sep(path), TMPL_DEPTH_MAX);
    return CAIRN_EINVAL;
  }
  if (cJSON_IsString(v) && v->valuestring && strstr(v->valuestring, "{{"))
    return compile_string(t, v->valuestring, path, err, errlen);
  if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
    return 0;
  size_t i = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    char *cp = child_path(path, cJSON_IsObject(v) ? c->string : NULL, i++);
    if (cp == NULL)
      return CAIRN_ENOMEM;
    int rc = compile_node(t, c, cp, depth + 1, err, errlen);
    free(cp);
    if (rc)
      return rc;
  }
  return 0;
}

int cairn__tmpl_compile_in(cairn__tmpl_set *set, const cJSON *value,
                           const char *path, cairn__tmpl **out, char *err,
                           size_t errlen) {
  cairn__tmpl *t = calloc(1, sizeof *t);
  if (t == NULL)
    return CAIRN_ENOMEM;
  int rc = CAIRN_ENOMEM;
  t->set = set;
  set->refs++;
  t->value = value ? cJSON_Duplicate(value, 1) : cJSON_CreateNull();
  if (t->value == NULL)
    goto out_free_tmpl;
  rc = compile_node(t, t->value, path ? path : "", 0, err, errlen);
  if (rc)
    goto out_free_tmpl;
  *out = t;
  return 0;

out_free_tmpl:
  if (rc == CAIRN_ENOMEM)
    set_err(err, errlen, "%s%sout of memory compiling templates",
            path ? path : "", sep(path ? path : ""));
  cairn__tmpl_free(t);
  return rc;
}

int cairn__tmpl_compile(const cJSON *value, const char *path,
                        cairn__tmpl **out, char *err, size_t errlen) {
  cairn__tmpl_set *set;
  int rc = cairn__tmpl_set_new(&set);
  if (rc)
    return rc;
  rc = cairn__tmpl_compile_in(set, value, path, out, err, errlen);
  if (rc == 0 && (rc = cairn__tmpl_set_build(set, err, errlen)) != 0) {
    cairn__tmpl_free(*out);
    *out = NULL;
  }
  cairn__tmpl_set_free(set); /* the template keeps its reference */
  return rc;
}

void cairn__tmpl_free(cairn__tmpl *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n_slots; i++)
    slot_free(&t->slots[i]);
  cairn__tmpl_set_free(t->set);
  free(t->slots);
  cJSON_Delete(t->value);
  free(t);
}

bool cairn__tmpl_has_templates(const cairn__tmpl *t) {
  return t != NULL && t->n_slots > 0;
}

/* ---- step references ---- */

static bool is_name_char(char c) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

/* Reads a jq string literal at `s` (at its opening quote) without
 * interpolation; *end is past the closing quote. NULL (and nothing
 * allocated) when it is not a plain literal: `.steps[$name]` and
 * `.steps["\(x)"]` are not checked. */
static char *read_literal(const char *s, const char **end) {
  tbuf b = {0};
  for (s++; *s && *s != '"'; s++) {
    if (*s == '\\') {
      s++;
      if (*s != '"' && *s != '\\' && *s != '/')
        goto out_free_buf;
    }
    if (tbuf_add(&b, s, 1))
      goto out_free_buf;
  }
  if (*s != '"' || b.p == NULL)
    goto out_free_buf;
  *end = s + 1;
  return b.p;

out_free_buf:
  free(b.p);
  return NULL;
}

/* The step named right after a `.steps` that ends at `s`: `.NAME`,
 * `."NAME"` or `["NAME"]`. NULL when none is named statically. */
static char *ref_name(const char *s) {
  const char *end;
  if (s[0] == '.' && is_name_char(s[1])) {
    const char *e = s + 1;
    while (is_name_char(*e))
      e++;
    return strndup(s + 1, (size_t)(e - s - 1));
  }
  if (s[0] == '.' && s[1] == '"')
    return read_literal(s + 1, &end);
  if (s[0] != '[')
    return NULL;
  s = skip_space(s + 1, s + strlen(s));
  if (*s != '"')
    return NULL;
  char *name = read_literal(s, &end);
  if (name == NULL)
    return NULL;
  end = skip_space(end, end + strlen(end));
  if (*end != ']') {
    free(name);
    return NULL;
  }
  return name;
}

/* Calls cb for each `.steps.NAME` in `src` that starts a path: the
 * `.steps` of `.input.steps` or `$x.steps` is some other value's field. */
static int expr_refs(const char *src, const char *path, cairn__tmpl_ref_cb cb,
                     void *ctx) {
  for (const char *p = strstr(src, ".steps"); p; p = strstr(p + 1, ".steps")) {
    char prev = p > src ? p[-1] : ' ';
    if (is_name_char(prev) || strchr("])\"?$.", prev) || is_name_char(p[6]))
      continue;
    char *name = ref_name(p + 6);
    if (name == NULL)
      continue;
    int rc = cb(ctx, name, path);
    free(name);
    if (rc)
      return rc;
  }
  return 0;
}

int cairn__tmpl_step_refs(const cairn__tmpl *t, cairn__tmpl_ref_cb cb,
                          void *ctx) {
  for (size_t i = 0; t && i < t->n_slots; i++) {
    const tmpl_slot *s = &t->slots[i];
    for (size_t k = 0; k < s->n_parts; k++) {
      if (s->parts[k].expr < 0)
        continue;
      int rc = expr_refs(t->set->exprs[s->parts[k].expr].src, s->path, cb,
                         ctx);
      if (rc)
        return rc;
    }
  }
  return 0;
}

/* ---- rendering ---- */

typedef struct render {
  cairn__tmpl *t;
  jv ctx;        /* the context, converted once per render */
  size_t slot;   /* the next slot to consume */
  char *err;
  size_t errlen;
} render;

/* Runs template part `p` of slot `s`; *out is its first output, or null
 * when it has none. */
static int eval_part(render *r, const tmpl_slot *s, const tmpl_part *p,
                     jv *out) {
  jq_state *jq = r->t->set->jq;
  jv in = jv_array_set(jv_array(), 0, jv_number((double)p->expr));
  jq_start(jq, jv_array_set(in, 1, jv_copy(r->ctx)), 0);
  jv v = jq_next(jq);
  if (jv_is_valid(v)) {
    *out = v;
    return 0;
  }
  jv msg = jv_invalid_get_msg(v);
  if (jv_get_kind(msg) == JV_KIND_NULL && !jq_halted(jq)) {
    jv_free(msg);
    *out = jv_null();
    return 0;
  }
  if (jv_get_kind(msg) == JV_KIND_NULL) {
    jv_free(msg);
    msg = jv_string("the expression called halt; templates must yield a "
                    "value");
  }
  if (jv_get_kind(msg) != JV_KIND_STRING)
    msg = jv_dump_string(msg, 0);
  set_err(r->err, r->errlen, "%s%stemplate '%.*s' failed: %s", s->path,
          sep(s->path), (int)p->len, s->text + p->off, jv_string_value(msg));
  jv_free(msg);
  return CAIRN_EINVAL;
}

/* Appends `v` (consumed) as text: a string as itself, null as nothing,
 * an integer below 2^63 in plain digits, anything else as compact JSON. */
static int append_text(tbuf *b, jv v) {
  int rc;
  jv_kind k = jv_get_kind(v);
  if (k == JV_KIND_STRING) {
    rc = tbuf_add(b, jv_string_value(v), (size_t)jv_string_length_bytes(
                                             jv_copy(v)));
  }
  else if (k == JV_KIND_NULL) {
    rc = tbuf_add(b, "", 0);
  }
  else if (k == JV_KIND_NUMBER && trunc(jv_number_value(v)) ==
                                      jv_number_value(v) &&
           fabs(jv_number_value(v)) < 9.2e18) {
    char num[32];
    int n = snprintf(num, sizeof num, "%.0f", jv_number_value(v));
    rc = tbuf_add(b, num, (size_t)n);
  }
  else {
    jv s = jv_dump_string(jv_copy(v), 0);
    rc = tbuf_add(b, jv_string_value(s), (size_t)jv_string_length_bytes(
                                             jv_copy(s)));
    jv_free(s);
  }
  jv_free(v);
  return rc;
}

static int render_text(render *r, const tmpl_slot *s, cJSON **out) {
  tbuf b = {0};
  int rc = tbuf_add(&b, "", 0);
  for (size_t k = 0; rc == 0 && k < s->n_parts; k++) {
    const tmpl_part *p = &s->parts[k];
    jv v;
    if (p->expr < 0) {
      rc = tbuf_add(&b, s->text + p->off, p->len);
      continue;
    }
    rc = eval_part(r, s, p, &v);
    if (rc == 0)
      rc = append_text(&b, v);
  }
  if (rc == 0) {
    *out = cJSON_CreateString(b.p);
    if (*out == NULL)
      rc = CAIRN_ENOMEM;
  }
  free(b.p);
  return rc;
}

static int render_slot(render *r, cJSON **out) {
  const tmpl_slot *s = &r->t->slots[r->slot++];
  if (!s->whole)
    return render_text(r, s, out);
  jv v;
  int rc = eval_part(r, s, &s->parts[0], &v);
  if (rc)
    return rc;
  rc = jv_to_json(v, 0, out);
  if (rc == CAIRN_EINVAL)
    set_err(r->err, r->errlen,
            "%s%stemplate '%s' failed: its value is nested deeper than %d "
            "levels",
            s->path, sep(s->path), s->text, TMPL_DEPTH_MAX);
  return rc;
}

static int render_node(render *r, const cJSON *v, cJSON **out);

static int render_children(render *r, const cJSON *v, cJSON **out) {
  bool obj = cJSON_IsObject(v);
  cJSON *n = obj ? cJSON_CreateObject() : cJSON_CreateArray();
  if (n == NULL)
    return CAIRN_ENOMEM;
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    cJSON *item;
    int rc = render_node(r, c, &item);
    if (rc == 0 && !(obj ? cJSON_AddItemToObject(n, c->string, item)
                         : cJSON_AddItemToArray(n, item))) {
      cJSON_Delete(item);
      rc = CAIRN_ENOMEM;
    }
    if (rc) {
      cJSON_Delete(n);
      return rc;
    }
  }
  *out = n;
  return 0;
}

static int render_node(render *r, const cJSON *v, cJSON **out) {
  if (cJSON_IsString(v) && v->valuestring && strstr(v->valuestring, "{{"))
    return render_slot(r, out);
  if (cJSON_IsArray(v) || cJSON_IsObject(v))
    return render_children(r, v, out);
  *out = cJSON_Duplicate(v, 0);
  return *out ? 0 : CAIRN_ENOMEM;
}

int cairn__tmpl_render(cairn__tmpl *t, const cJSON *context, cJSON **out,
                       char *err, size_t errlen) {
  int rc;
  if (t->n_slots == 0) {
    *out = cJSON_Duplicate(t->value, 1);
    rc = *out ? 0 : CAIRN_ENOMEM;
  }
  else if ((rc = cairn__tmpl_set_build(t->set, err, errlen)) == 0) {
    render r = {.t = t, .err = err, .errlen = errlen};
    rc = json_to_jv(context, 0, &r.ctx);
    if (rc) {
      set_err(err, errlen,
              "template context is not JSON (raw text that does not "
              "parse, or nested deeper than %d levels)",
              TMPL_DEPTH_MAX);
      return rc;
    }
    rc = render_node(&r, t->value, out);
    jv_free(r.ctx);
  }
  if (rc == CAIRN_ENOMEM)
    set_err(err, errlen, "out of memory rendering templates");
  return rc;
}
