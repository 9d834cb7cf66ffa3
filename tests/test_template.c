/*
 * test_template.c — `{{ expr }}` templates as a definition author sees
 * them: which strings become values and which become text, how results
 * print inside text, what the compile and runtime errors say (path,
 * template, problem, fix), which step references the validator is told
 * about, and what a template cannot reach (the environment, modules);
 * and sets, the templates of one definition compiled together as one jq
 * program: each renders as if compiled alone, a comment at the end of an
 * expression does not swallow the rest of the program, and a bad
 * expression among good ones is named exactly as when compiled alone.
 */
#include "test.h"

#include "template.h"

#define CTX                                                                  \
  "{\"input\": {\"n\": 3, \"name\": \"Ada\", \"url\": \"https://x.test\","   \
  " \"o\": {\"a\": [1, 2]}, \"xs\": [10, 20], \"nothing\": null,"           \
  " \"big\": 100000000000000000, \"half\": 1.5},"                          \
  " \"steps\": {\"fetch\": {\"output\": {\"body\": \"hi\"},"                \
  " \"status\": \"completed\", \"attempt\": 1}},"                           \
  " \"run\": {\"id\": \"r1\", \"workflow_id\": \"w1\"}}"

static cJSON *parse(const char *json) {
  cJSON *v = cJSON_Parse(json);
  if (v == NULL)
    FAIL("test JSON does not parse: %s", json);
  return v;
}

static cairn__tmpl *compile_ok(const char *json, const char *path) {
  cJSON *v = parse(json);
  cairn__tmpl *t = NULL;
  char err[512] = "";
  int rc = cairn__tmpl_compile(v, path, &t, err, sizeof err);
  cJSON_Delete(v);
  if (rc)
    FAIL("compile %s: %s %s", json, cairn_err_name(rc), err);
  return t;
}

/* Renders `t` over `ctx` and returns the result printed compactly. */
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

static void expect_render(const char *json, const char *want) {
  cairn__tmpl *t = compile_ok(json, "with");
  char *got = render(t, CTX);
  CHECK_STR(got, want, "the rendered value");
  cJSON_free(got);
  cairn__tmpl_free(t);
}

static void expect_compile_error(const char *json, const char *path,
                                 const char *want) {
  cJSON *v = parse(json);
  cairn__tmpl *t = NULL;
  char err[512] = "";
  CHECK_ERR(cairn__tmpl_compile(v, path, &t, err, sizeof err), CAIRN_EINVAL,
            "the template must not compile");
  CHECK(t == NULL, "no template set is returned on error");
  CHECK_STR(err, want, "the compile error message");
  cJSON_Delete(v);
}

static void expect_render_error(const char *json, const char *path,
                                const char *want) {
  cairn__tmpl *t = compile_ok(json, path);
  cJSON *c = parse(CTX);
  cJSON *out = NULL;
  char err[512] = "";
  CHECK_ERR(cairn__tmpl_render(t, c, &out, err, sizeof err), CAIRN_EINVAL,
            "the render must fail");
  CHECK(out == NULL, "no value is returned on error");
  CHECK_STR(err, want, "the runtime error message");
  cJSON_Delete(c);
  cairn__tmpl_free(t);
}

TEST(exactly_one_template_takes_the_json_value) {
  expect_render("{\"n\": \"{{ .input.n }}\", \"o\": \"{{ .input.o }}\"}",
                "{\"n\":3,\"o\":{\"a\":[1,2]}}");
}

TEST(spaces_inside_the_braces_are_optional) {
  expect_render("[\"{{.input.n}}\", \"{{   .input.xs   }}\"]",
                "[3,[10,20]]");
}

TEST(a_whole_value_template_can_yield_null) {
  expect_render("{\"v\": \"{{ .input.nothing }}\"}", "{\"v\":null}");
}

TEST(text_around_a_template_makes_a_string) {
  expect_render("\"n={{ .input.n }}!\"", "\"n=3!\"");
}

TEST(whitespace_outside_the_braces_makes_a_string) {
  expect_render("\" {{ .input.n }}\"", "\" 3\"");
}

TEST(several_templates_in_one_string_are_interpolated_in_order) {
  expect_render("\"{{ .input.url }}/{{ .input.name }}/{{ .input.n }}\"",
                "\"https://x.test/Ada/3\"");
}

TEST(interpolated_strings_have_no_quotes) {
  expect_render("\"Hello {{ .input.name }}!\"", "\"Hello Ada!\"");
}

TEST(interpolated_null_is_empty_text) {
  expect_render("\"[{{ .input.nothing }}]\"", "\"[]\"");
}

TEST(interpolated_objects_arrays_and_booleans_are_compact_json) {
  expect_render("\"{{ .input.o }} {{ .input.xs }} {{ true }}\"",
                "\"{\\\"a\\\":[1,2]} [10,20] true\"");
}

TEST(interpolated_integers_have_no_exponent) {
  expect_render("\"id {{ .input.big }} and {{ .input.half }}\"",
                "\"id 100000000000000000 and 1.5\"");
}

TEST(templates_are_found_at_any_depth) {
  expect_render("{\"a\": [1, {\"b\": [\"{{ .input.n }}\", \"x\"]}],"
                " \"c\": \"c{{ .run.id }}\", \"d\": true}",
                "{\"a\":[1,{\"b\":[3,\"x\"]}],\"c\":\"cr1\",\"d\":true}");
}

TEST(keys_are_kept_in_order_and_never_templated) {
  expect_render("{\"{{ .input.n }}\": 1, \"z\": 2, \"a\": \"{{ 4 }}\"}",
                "{\"{{ .input.n }}\":1,\"z\":2,\"a\":4}");
}

TEST(a_value_without_templates_renders_as_a_copy) {
  const char *json = "{\"a\": [1, \"two\", {\"b\": null}], \"c\": \"{ {x} }\"}";
  cairn__tmpl *t = compile_ok(json, "with");
  CHECK(!cairn__tmpl_has_templates(t), "no string holds {{");
  char *got = render(t, CTX);
  CHECK_STR(got, "{\"a\":[1,\"two\",{\"b\":null}],\"c\":\"{ {x} }\"}",
            "the copy");
  cJSON_free(got);
  cairn__tmpl_free(t);
}

TEST(a_value_with_a_template_says_so) {
  cairn__tmpl *t = compile_ok("[1, [\"a {{ 1 }}\"]]", "with");
  CHECK(cairn__tmpl_has_templates(t), "a nested string holds a template");
  cairn__tmpl_free(t);
}

TEST(an_expression_with_no_output_renders_null) {
  expect_render("[\"{{ empty }}\", \"<{{ empty }}>\"]", "[null,\"<>\"]");
}

TEST(an_expression_yields_its_first_output) {
  expect_render("\"{{ .input.xs[] }}\"", "10");
}

TEST(steps_and_run_are_in_the_context) {
  expect_render("[\"{{ .steps.fetch.output.body }}\","
                " \"{{ .steps.fetch.status }}\", \"{{ .run.workflow_id }}\"]",
                "[\"hi\",\"completed\",\"w1\"]");
}

TEST(object_literals_inside_a_template_do_not_close_it) {
  expect_render("\"{{ {a: {b: .input.n}} }}\"", "{\"a\":{\"b\":3}}");
}

TEST(braces_inside_jq_strings_do_not_close_a_template) {
  expect_render("\"{{ \\\"}}\\\" }}\"", "\"}}\"");
}

TEST(a_literal_double_brace_is_written_as_a_jq_string) {
  expect_render("\"{{ \\\"{{\\\" }} x }}\"", "\"{{ x }}\"");
}

TEST(a_repeated_expression_renders_the_same_everywhere) {
  expect_render("[\"{{ .input.n }}\", \"n{{ .input.n }}\", \"{{ .input.n }}\"]",
                "[3,\"n3\",3]");
}

TEST(numbers_cross_into_jq_and_back_exactly) {
  cairn__tmpl *t = compile_ok("\"{{ .input.n }}\"", "with");
  cJSON *ctx = parse("{\"input\": {\"n\": 4503599627370497}}");
  cJSON *out = NULL;
  char err[256];
  CHECK_OK(cairn__tmpl_render(t, ctx, &out, err, sizeof err), NULL);
  CHECK(cJSON_IsNumber(out) && out->valuedouble == 4503599627370497.0,
        "2^52 + 1 survives the round trip");
  cJSON_Delete(out);
  cJSON_Delete(ctx);
  cairn__tmpl_free(t);
}

TEST(nan_and_infinite_become_null) {
  expect_render("[\"{{ nan }}\", \"{{ infinite }}\"]", "[null,null]");
}

TEST(the_context_is_not_consumed_and_renders_repeat) {
  cairn__tmpl *t = compile_ok("\"{{ .input.name }}\"", "with");
  cJSON *ctx = parse(CTX);
  for (int i = 0; i < 3; i++) {
    cJSON *out = NULL;
    char err[256];
    CHECK_OK(cairn__tmpl_render(t, ctx, &out, err, sizeof err), NULL);
    CHECK_STR(cJSON_GetStringValue(out), "Ada", "each render is the same");
    cJSON_Delete(out);
  }
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(ctx, "input"), "name")),
            "Ada", "the context is untouched");
  cJSON_Delete(ctx);
  cairn__tmpl_free(t);
}

TEST(a_null_context_renders_against_null) {
  cairn__tmpl *t = compile_ok("\"{{ .input }}\"", "with");
  cJSON *out = NULL;
  char err[256];
  CHECK_OK(cairn__tmpl_render(t, NULL, &out, err, sizeof err), NULL);
  CHECK(cJSON_IsNull(out), ".input of null is null");
  cJSON_Delete(out);
  cairn__tmpl_free(t);
}

TEST(the_compiled_value_is_a_copy) {
  cJSON *v = parse("{\"a\": \"{{ .input.n }}\"}");
  cairn__tmpl *t = NULL;
  char err[256];
  CHECK_OK(cairn__tmpl_compile(v, "with", &t, err, sizeof err), NULL);
  cJSON_Delete(v);
  char *got = render(t, CTX);
  CHECK_STR(got, "{\"a\":3}", "the value lives on after the caller's");
  cJSON_free(got);
  cairn__tmpl_free(t);
}

TEST(a_template_that_does_not_compile_names_path_template_and_fix) {
  expect_compile_error(
      "{\"url\": \"{{ .input.url | }}\"}", "steps[1].with",
      "steps[1].with.url: template '{{ .input.url | }}' does not compile: "
      "syntax error, unexpected $end; fix the jq expression");
}

TEST(an_unknown_function_is_a_compile_error) {
  expect_compile_error(
      "{\"a\": [\"x {{ nosuch(1) }}\"]}", "output",
      "output.a[0]: template '{{ nosuch(1) }}' does not compile: nosuch/1 "
      "is not defined; fix the jq expression");
}

TEST(an_unclosed_template_is_a_compile_error_naming_the_path) {
  expect_compile_error("{\"body\": \"a {{ .input.n } b\"}", "steps[0].with",
                       "steps[0].with.body: template '{{ .input.n } b' is "
                       "not closed; end it with }}");
}

TEST(closing_braces_inside_an_open_jq_string_do_not_close_a_template) {
  expect_compile_error("\"{{ \\\"abc }}\"", "output",
                       "output: template '{{ \"abc }}' is not closed; end "
                       "it with }} (the }} there is inside a jq string or "
                       "closes a { opened in it)");
}

TEST(an_empty_template_is_a_compile_error) {
  expect_compile_error("{\"x\": \"a{{  }}b\"}", "steps[2].with",
                       "steps[2].with.x: template '{{  }}' is empty; write "
                       "a jq expression between the braces, such as "
                       "{{ .input }}");
}

TEST(a_second_bad_template_in_a_string_is_named) {
  expect_compile_error("\"{{ .a }} and {{ .b[ }}\"", "output",
                       "output: template '{{ .b[ }}' does not compile: "
                       "syntax error, unexpected $end; fix the jq expression");
}

TEST(paths_quote_keys_that_are_not_identifiers) {
  expect_compile_error("{\"headers\": {\"X-Key\": \"{{ ( }}\"}}",
                       "steps[0].with",
                       "steps[0].with.headers[\"X-Key\"]: template '{{ ( }}' "
                       "does not compile: syntax error, unexpected $end; "
                       "fix the jq expression");
}

TEST(a_runtime_error_names_the_path_and_the_template) {
  expect_render_error("{\"url\": \"{{ .input.n.b }}\"}", "steps[1].with",
                      "steps[1].with.url: template '{{ .input.n.b }}' "
                      "failed: Cannot index number with string \"b\"");
}

TEST(a_runtime_error_inside_text_names_the_template) {
  expect_render_error("{\"cmd\": [\"echo\", \"x {{ .input.name + 1 }}\"]}",
                      "steps[0].with",
                      "steps[0].with.cmd[1]: template "
                      "'{{ .input.name + 1 }}' failed: string (\"Ada\") and "
                      "number (1) cannot be added");
}

TEST(an_error_with_a_non_string_message_prints_it_as_json) {
  expect_render_error("\"{{ error({code: 7}) }}\"", "output",
                      "output: template '{{ error({code: 7}) }}' failed: "
                      "{\"code\":7}");
}

TEST(a_template_that_halts_fails_the_render) {
  expect_render_error("\"{{ halt }}\"", "output",
                      "output: template '{{ halt }}' failed: the expression "
                      "called halt; templates must yield a value");
}

TEST(a_template_cannot_read_input_beyond_the_context) {
  cairn__tmpl *t = compile_ok("\"{{ input }}\"", "output");
  cJSON *ctx = parse(CTX);
  cJSON *out = NULL;
  char err[256];
  CHECK_ERR(cairn__tmpl_render(t, ctx, &out, err, sizeof err), CAIRN_EINVAL,
            "`input` has nothing to read");
  CHECK(strncmp(err, "output: template '{{ input }}' failed: ", 39) == 0,
        "the message names the template");
  cJSON_Delete(ctx);
  cairn__tmpl_free(t);
}

TEST(a_value_nested_too_deep_fails_the_render) {
  expect_render_error("\"{{ reduce range(1100) as $i (0; [.]) }}\"",
                      "output",
                      "output: template '{{ reduce range(1100) as $i (0; "
                      "[.]) }}' failed: its value is nested deeper than "
                      "1000 levels");
}

TEST(templates_cannot_read_the_environment) {
  setenv("CAIRN_TEST_SECRET", "s3cret", 1);
  expect_render("[\"{{ env.CAIRN_TEST_SECRET }}\","
                " \"{{ $ENV.CAIRN_TEST_SECRET }}\", \"{{ env }}\"]",
                "[null,null,{}]");
}

TEST(templates_cannot_import_modules) {
  expect_compile_error("\"{{ import \\\"x\\\" as $x; $x }}\"", "output",
                       "output: template '{{ import \"x\" as $x; $x }}' "
                       "does not compile: syntax error, unexpected import; "
                       "fix the jq expression");
}

/* Collects "NAME@PATH" for each reference, comma-separated. */
static int collect(void *ctx, const char *step, const char *path) {
  char *buf = ctx;
  size_t n = strlen(buf);
  snprintf(buf + n, 512 - n, "%s%s@%s", n ? "," : "", step, path);
  return 0;
}

static void expect_refs(const char *json, const char *want) {
  cairn__tmpl *t = compile_ok(json, "with");
  char got[512] = "";
  CHECK_OK(cairn__tmpl_step_refs(t, collect, got), NULL);
  CHECK_STR(got, want, "the step references, in order, with paths");
  cairn__tmpl_free(t);
}

TEST(step_refs_finds_the_dot_form) {
  expect_refs("{\"a\": \"{{ .steps.fetch.output.body }}\","
              " \"b\": [\"x{{ .steps.score_2 }}\"]}",
              "fetch@with.a,score_2@with.b[0]");
}

TEST(step_refs_finds_the_bracket_and_quoted_forms) {
  expect_refs("\"{{ .steps[\\\"my-step.v2\\\"].output }}"
              "{{ .steps[ \\\"b\\\" ] }}{{ .steps.\\\"c d\\\" }}\"",
              "my-step.v2@with,b@with,c d@with");
}

TEST(step_refs_reports_every_reference_in_an_expression) {
  expect_refs("\"{{ [.steps.a.output, .steps.b.output, .steps.a.status] }}\"",
              "a@with,b@with,a@with");
}

TEST(step_refs_ignores_fields_named_steps_of_other_values) {
  expect_refs("\"{{ [.input.steps.x, $__loc__.steps.y, .a[0].steps.z,"
              " .stepsx.q] }}\"",
              "");
}

TEST(step_refs_skips_names_chosen_at_run_time) {
  expect_refs("\"{{ .input.k as $k | [.steps[$k], .steps[\\\"\\\\(.x)\\\"]]"
              " }}\"",
              "");
}

TEST(step_refs_finds_references_in_interpolations_and_branches) {
  expect_refs("\"{{ \\\"\\\\(.steps.a.output)\\\" }}"
              " {{ if .input.x then .steps.b else 0 end }}\"",
              "a@with,b@with");
}

static int stop_at_b(void *ctx, const char *step, const char *path) {
  (void)path;
  int *calls = ctx;
  (*calls)++;
  return strcmp(step, "b") == 0 ? 42 : 0;
}

TEST(step_refs_stops_at_the_first_nonzero_callback_result) {
  cairn__tmpl *t =
      compile_ok("[\"{{ .steps.a }}\", \"{{ .steps.b }}\", \"{{ .steps.c }}\"]",
                 "with");
  int calls = 0;
  CHECK_EQ(cairn__tmpl_step_refs(t, stop_at_b, &calls), 42,
           "the callback's value is returned");
  CHECK_EQ(calls, 2, "no call after the one that stopped");
  cairn__tmpl_free(t);
}

/* ---- sets: the templates of one definition compiled as one program ---- */

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

#define SET_CTX "{\"input\": {\"n\": 3, \"name\": \"Ada\"}}"

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
  char *s = render(a, SET_CTX);
  CHECK_STR(s, "{\"x\":4}", "a's expression sees the context");
  cJSON_free(s);
  s = render(b, SET_CTX);
  CHECK_STR(s, "\"hi Ada 6\"", "b's two expressions each run their own");
  cJSON_free(s);
  s = render(c, SET_CTX);
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
  char *s = render(a, SET_CTX);
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
  char *s = render(b, SET_CTX); /* render builds what is new */
  CHECK_STR(s, "\"Ada\"", "the expression added later renders");
  cJSON_free(s);
  s = render(a, SET_CTX);
  CHECK_STR(s, "3", "and the first still does");
  cJSON_free(s);
  cairn__tmpl_free(a);
  cairn__tmpl_free(b);
  cairn__tmpl_set_free(set);
}
