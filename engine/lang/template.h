/*
 * template.h — `{{ expr }}` templates: jq expressions (libjq) inside JSON
 * values.
 *
 * A definition's step inputs (`with`), its `output`, and later conditions
 * and checks are JSON values whose strings may hold templates:
 *
 *   "{{ .input.url }}"              exactly one template: the string is
 *                                   replaced by the expression's JSON value
 *                                   (a number stays a number, an object an
 *                                   object);
 *   "Hello {{ .input.name }}!"      text around templates: each result is
 *                                   interpolated as text (strings without
 *                                   quotes, other values as compact JSON).
 *
 * "Exactly one template" means the whole string is `{{ expr }}`; spaces
 * inside the braces are optional, but any character outside them (even a
 * space) makes the string text. Interpolated as text: a string as its
 * characters; null as nothing (""; jq's own "\(null)" writes "null");
 * an integer below 2^63 as plain digits (1e17 as 100000000000000000);
 * other numbers in jq's shortest form; true, false, arrays and objects
 * as compact JSON. Non-finite numbers (nan, infinite) render as null.
 * Object keys are never templates.
 *
 * Scanning: a template runs from `{{` to the first `}}` outside a jq
 * string literal that does not close a `{` opened inside the expression
 * (`{{ {a: {b: 1}} }}` is one template). A literal `{{` is written
 * `{{ "{{" }}`. An unclosed or empty template is a compile error.
 *
 * Expressions are evaluated over the context
 *   {input, steps: {NAME: {output, status, attempt}}, run: {id, workflow_id}}
 * An expression yields its first output; an expression with no output
 * renders as null. A runtime error ("Cannot index number with string")
 * fails the render with a message naming the template.
 *
 * Sandbox: `env` and `$ENV` are {} (keys live in the environment, and
 * rendered inputs are journaled); `import`/`include` do not compile;
 * `input`/`inputs` fail.
 *
 * A compiled template set belongs to one thread at a time (jq_state is not
 * thread-safe); the engine keeps one per definition on its loop thread.
 */
#ifndef CAIRN_ENGINE_TEMPLATE_H
#define CAIRN_ENGINE_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* A JSON value with its templates compiled. */
typedef struct cairn__tmpl cairn__tmpl;

/*
 * Compiles every template inside `value` (which is copied; the caller keeps
 * ownership of `value`). `path` names where the value sits in the
 * definition ("steps[1].with") and prefixes error messages.
 * Returns 0 and *out (free with cairn__tmpl_free), or CAIRN_EINVAL with a
 * message in err naming the JSON path (e.g. "steps[1].with.url"), the
 * template text, jq's complaint and the fix; CAIRN_ENOMEM.
 */
int cairn__tmpl_compile(const cJSON *value, const char *path,
                        cairn__tmpl **out, char *err, size_t errlen);
void cairn__tmpl_free(cairn__tmpl *t);

/*
 * A set of templates compiled together: libjq spends about 16 ms on its
 * builtins for every program, so a definition puts all its templates in
 * one set and pays that once. cairn__tmpl_compile_in checks a value's
 * templates and adds their expressions to `set` without compiling them;
 * cairn__tmpl_set_build compiles the set (again only after new
 * expressions), reporting the first expression that does not compile as
 * cairn__tmpl_compile would. A template renders only from a built set
 * (render builds it when needed). Each template holds a reference to its
 * set; cairn__tmpl_set_free drops the caller's (NULL: no-op), and the set
 * goes with the last reference.
 */
typedef struct cairn__tmpl_set cairn__tmpl_set;
int cairn__tmpl_set_new(cairn__tmpl_set **out);
void cairn__tmpl_set_free(cairn__tmpl_set *set);
int cairn__tmpl_compile_in(cairn__tmpl_set *set, const cJSON *value,
                           const char *path, cairn__tmpl **out, char *err,
                           size_t errlen);
int cairn__tmpl_set_build(cairn__tmpl_set *set, char *err, size_t errlen);

/* Whether the value holds at least one template. A value without
 * templates renders as a copy of itself. */
bool cairn__tmpl_has_templates(const cairn__tmpl *t);

/*
 * Calls `cb` once for each step name the templates reference as
 * `.steps.NAME`, `.steps."NAME"` or `.steps["NAME"]` (possibly more than
 * once per name), so the definition validator can check that each is
 * upstream. `path` is the JSON path of the string holding the template;
 * both strings are valid only during the call. Only a `.steps` that
 * starts a path counts (not `.input.steps.x` or `$v.steps.x`); names
 * computed at run time (`.steps[$n]`) are not reported. Returns the
 * first non-zero value returned by cb, else 0.
 */
typedef int (*cairn__tmpl_ref_cb)(void *ctx, const char *step,
                                  const char *path);
int cairn__tmpl_step_refs(const cairn__tmpl *t, cairn__tmpl_ref_cb cb,
                          void *ctx);

/*
 * Renders the value against `context` (not consumed; NULL renders against
 * null). The context is converted to jq once per call, however many
 * templates the value holds. Returns 0 and a new
 * cJSON tree in *out (free with cJSON_Delete), or CAIRN_EINVAL with a
 * message in err naming the path and the template when an expression
 * fails at run time; CAIRN_ENOMEM.
 */
int cairn__tmpl_render(cairn__tmpl *t, const cJSON *context, cJSON **out,
                       char *err, size_t errlen);

#endif /* CAIRN_ENGINE_TEMPLATE_H */
