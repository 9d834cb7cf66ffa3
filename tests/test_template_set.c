/*
 * test_template_set.c — the templates of one definition compile together,
 * as one jq program (lang/template.h, "sets"): each renders as if it had
 * been compiled alone, the same expression is shared, a comment at the
 * end of an expression does not swallow the rest of the program, and a
 * bad expression among good ones is named exactly as when compiled alone.
 */
#include "test.h"

#include "template.h"

static cJSON *parse(const char *json) {
  cJSON *v = cJSON_Parse(json);
  if (v == NULL)
    FAIL("test JSON does not parse: %s", json);
  return v;
}

/* Adds `json` (at `path`) to the set; returns the template. */
static cairn__tmpl *add(cairn__tmpl_set *set, const char *json,
                        const char *path) {
  cJSON *v = parse(json);
  cairn__tmpl *t = NULL;
  char err[512] = "";
  int rc = cairn__tmpl_compile_in(set, v, path, &t, err, sizeof err);
  cJSON_Delete(v);
  if (rc)
    FAIL("compile_in %s: %s %s", json, cairn_err_name(rc), err);
  return t;
}

static char *render(cairn__tmpl *t, const char *ctx) {
  cJSON *c = parse(ctx);
  cJSON *out = NULL;
  char err[512] = "";
  int rc = cairn__tmpl_render(t, c, &out, err, sizeof err);
  cJSON_Delete(c);
  if (rc)
    FAIL("render: %s %s", cairn_err_name(rc), err);
  char *s = cJSON_PrintUnformatted(out);
  cJSON_Delete(out);
  return s;
}

#define CTX "{\"input\": {\"n\": 3, \"name\": \"Ada\"}}"

TEST(templates_of_one_set_render_as_if_compiled_alone) {
  cairn__tmpl_set *set;
  char err[512] = "";
  CHECK_EQ(cairn__tmpl_set_new(&set), 0, "a set is made");
  cairn__tmpl *a = add(set, "{\"x\": \"{{ .input.n + 1 }}\"}", "a");
  cairn__tmpl *b = add(set, "\"hi {{ .input.name }} {{ .input.n * 2 }}\"",
                       "b");
  cairn__tmpl *c = add(set, "[\"{{ .input.n + 1 }}\", \"{{ .input.name | "
                            "ascii_downcase # a comment\n}}\"]", "c");
  CHECK_EQ(cairn__tmpl_set_build(set, err, sizeof err), 0, err);
  cairn__tmpl_set_free(set); /* the templates keep it */
  char *s = render(a, CTX);
  CHECK_STR(s, "{\"x\":4}", "a's expression sees the context");
  cJSON_free(s);
  s = render(b, CTX);
  CHECK_STR(s, "\"hi Ada 6\"", "b's two expressions each run their own");
  cJSON_free(s);
  s = render(c, CTX);
  CHECK_STR(s, "[4,\"ada\"]", "a shared expression and one ending in a "
                              "comment both render");
  cJSON_free(s);
  cairn__tmpl_free(a);
  cairn__tmpl_free(b);
  cairn__tmpl_free(c);
}

TEST(a_bad_expression_among_good_ones_is_named_as_when_alone) {
  cairn__tmpl_set *set;
  char err[512] = "", alone[512] = "";
  CHECK_EQ(cairn__tmpl_set_new(&set), 0, "a set is made");
  cairn__tmpl *a = add(set, "\"{{ .input.n }}\"", "steps[0].with.a");
  cairn__tmpl *b = add(set, "\"{{ .input.n | nosuchfn }}\"",
                       "steps[1].with.b");
  CHECK_EQ(cairn__tmpl_set_build(set, err, sizeof err), CAIRN_EINVAL,
           "the set does not compile");
  cJSON *v = parse("\"{{ .input.n | nosuchfn }}\"");
  cairn__tmpl *t = NULL;
  CHECK_EQ(cairn__tmpl_compile(v, "steps[1].with.b", &t, alone, sizeof alone),
           CAIRN_EINVAL, "alone it does not compile either");
  cJSON_Delete(v);
  CHECK_STR(err, alone, "the set's message is the one of the expression "
                        "alone: its path, its text, jq's complaint");
  CHECK(strstr(err, "steps[1].with.b") && strstr(err, "nosuchfn"),
        "it names the path and the template");
  cairn__tmpl_free(a);
  cairn__tmpl_free(b);
  cairn__tmpl_set_free(set);
}

TEST(an_expression_cannot_break_out_of_its_branch) {
  /* Neither is valid jq alone; together, in one program, the first would
   * close its branch's parenthesis and the second reopen it, and the
   * program would compile. The set refuses them, naming the first. */
  cairn__tmpl_set *set;
  char err[512] = "";
  CHECK_EQ(cairn__tmpl_set_new(&set), 0, "a set is made");
  cairn__tmpl *a = add(set, "\"{{ 1) elif $__cairn_i == 9 then (2 }}\"",
                       "a");
  cairn__tmpl *b = add(set, "\"{{ 3 }}\"", "b");
  CHECK_EQ(cairn__tmpl_set_build(set, err, sizeof err), CAIRN_EINVAL,
           "refused");
  CHECK(strstr(err, "a: template '{{ 1) elif") != NULL, err);
  cairn__tmpl_free(a);
  cairn__tmpl_free(b);
  cairn__tmpl_set_free(set);
}

TEST(brackets_inside_strings_and_comments_do_not_count) {
  cairn__tmpl_set *set;
  char err[512] = "";
  CHECK_EQ(cairn__tmpl_set_new(&set), 0, "a set is made");
  cairn__tmpl *a = add(set, "\"{{ \\\")(]\\\" + \\\"\\\\(.input.n))\\\" "
                            "# ) ( ]\\n}}\"", "a");
  CHECK_EQ(cairn__tmpl_set_build(set, err, sizeof err), 0, err);
  char *s = render(a, CTX);
  CHECK_STR(s, "\")(]3)\"", "the string's brackets are text, its "
                            "interpolation code");
  cJSON_free(s);
  cairn__tmpl_free(a);
  cairn__tmpl_set_free(set);
}

TEST(a_set_gains_expressions_and_builds_again) {
  cairn__tmpl_set *set;
  char err[512] = "";
  CHECK_EQ(cairn__tmpl_set_new(&set), 0, "a set is made");
  cairn__tmpl *a = add(set, "\"{{ .input.n }}\"", "a");
  CHECK_EQ(cairn__tmpl_set_build(set, err, sizeof err), 0, err);
  cairn__tmpl *b = add(set, "\"{{ .input.name }}\"", "b");
  char *s = render(b, CTX); /* render builds what is new */
  CHECK_STR(s, "\"Ada\"", "the expression added later renders");
  cJSON_free(s);
  s = render(a, CTX);
  CHECK_STR(s, "3", "and the first still does");
  cJSON_free(s);
  cairn__tmpl_free(a);
  cairn__tmpl_free(b);
  cairn__tmpl_set_free(set);
}
