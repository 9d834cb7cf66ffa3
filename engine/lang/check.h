/*
 * check.h — the field checks every object cairn owns uses: the workflow
 * document, its steps and policies (definition.c), and the `with` of each
 * step kind (engine/kinds/, through its check_with). One set of checks,
 * so every message has the same shape: "PATH: what is wrong; what to do".
 *
 * A check returns 0, or CAIRN_EINVAL with the message written to c->err
 * (at most c->errlen bytes, always terminated; c->err may be NULL).
 */
#ifndef CAIRN_ENGINE_CHECK_H
#define CAIRN_ENGINE_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cairn__check {
  char *err;      /* where the first problem is written */
  size_t errlen;
} cairn__check;

/* Writes the message and returns CAIRN_EINVAL. */
int cairn__check_fail(cairn__check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `v` as compact JSON for a message, shortened to fit `buf`. */
const char *cairn__check_describe(const cJSON *v, char *buf, size_t n);
/* obj[key], case-sensitive, or NULL. */
const cJSON *cairn__check_field(const cJSON *obj, const char *key);
/* A string holding "{{": its type is known only once it renders. */
bool cairn__check_is_template(const cJSON *v);
/* An integer that a double holds exactly. */
bool cairn__check_get_int(const cJSON *v, int64_t *out);

/* Refuses fields not in `known` (a NULL-terminated list, also spelled out
 * in `list` for the message) and fields given twice. */
int cairn__check_fields(cairn__check *c, const cJSON *obj, const char *path,
                        const char *const *known, const char *list);
/* An integer >= min into *out; `what` says what to give. */
int cairn__check_int(cairn__check *c, const cJSON *v, const char *path,
                     int64_t min, const char *what, int64_t *out);
/* A string (non-empty when asked). */
int cairn__check_string(cairn__check *c, const cJSON *v, const char *path,
                        bool nonempty, const char *what);
/* An object whose values are all strings (headers, env), or a template. */
int cairn__check_string_map(cairn__check *c, const cJSON *v,
                            const char *path);

#endif /* CAIRN_ENGINE_CHECK_H */
