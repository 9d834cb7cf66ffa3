/*
 * test_definition.c — what a workflow definition may say, and exactly
 * what the author is told when it says something wrong: each validation
 * rule has a test with the full message, "PATH: problem; fix". Also the
 * graph (default needs, roots, cycles, upstream), template references,
 * retry policies and their delays, and RFC 3339 times.
 *
 * Test documents are written with ' for " (see J) to stay readable.
 */
#include "test.h"

#include "helpers/defs.h"
#include "kind.h"

#define parse_ok test_def_ok
#define expect_error test_def_error

/* A one-step definition around `step` (an object's inside). */
#define ONE(step) "{'name': 'w', 'steps': [{" step "}]}"
/* A one-step definition of `kind` with `with` (an object's inside). */
#define WITH(kind, with)                                                     \
  ONE("'name': 's', 'kind': '" kind "', 'with': {" with "}")
#define EXEC "'name': 'a', 'kind': 'exec', 'with': {'command': 'true'}"

/* ---- the document ---- */

TEST(a_minimal_definition_parses_with_defaults) {
  cairn__def *d = parse_ok(ONE(EXEC));
  CHECK_STR(d->name, "w", "the workflow's name");
  CHECK_EQ(d->n_steps, 1, "one step");
  const cairn__step_def *s = &d->steps[0];
  CHECK_STR(s->name, "a", "the step's name");
  CHECK_STR(s->kind, "exec", "the kind as written");
  CHECK_EQ(s->kind_id, CAIRN__KIND_EXEC, "the kind's id");
  CHECK_EQ(s->n_needs, 0, "the first step is a root");
  CHECK(!s->has_retry && !s->mutates, "no retry of its own, no mutation");
  CHECK_EQ(s->timeout_ms, 0, "no timeout");
  CHECK_EQ(s->retry.max_attempts, 1, "one attempt by default");
  CHECK(s->with_tmpl && !cairn__tmpl_has_templates(s->with_tmpl),
        "with is compiled and holds no template");
  CHECK(d->output_tmpl == NULL, "no output template");
  CHECK(cJSON_IsObject(d->doc), "the parsed document is kept");
  cairn__def_free(d);
}

TEST(free_accepts_null) { cairn__def_free(NULL); }

TEST(invalid_json_names_line_and_column) {
  expect_error("{'name': 'w',\n 'steps': [}",
               "definition: not valid JSON at line 2, column 12; fix the "
               "JSON syntax");
}

TEST(an_empty_document_is_not_json) {
  cairn__def *d = NULL;
  char err[256];
  CHECK_ERR(cairn__def_parse("", 0, NULL, NULL, &d, err, sizeof err),
            CAIRN_EINVAL, "nothing to parse");
  CHECK_STR(err,
            "definition: not valid JSON at line 1, column 1; fix the JSON "
            "syntax",
            "the message");
}

TEST(text_after_the_document_is_refused) {
  expect_error(ONE(EXEC) " \n x",
               "definition: unexpected text after the JSON document at line "
               "2, column 2; remove it");
}

TEST(the_document_is_read_only_up_to_its_length) {
  const char *json = J(ONE(EXEC) "garbage");
  size_t len = strlen(json) - strlen("garbage");
  cairn__def *d = NULL;
  char err[256] = "";
  CHECK_OK(cairn__def_parse(json, len, NULL, NULL, &d, err, sizeof err),
           NULL);
  cairn__def_free(d);
}

TEST(the_document_must_be_an_object) {
  expect_error("['w']", "definition: [\"w\"] is not an object; write "
                        "{\"name\": ..., \"steps\": [...]}");
}

TEST(an_unknown_top_level_field_is_refused) {
  expect_error("{'name': 'w', 'version': 2, 'steps': [{" EXEC "}]}",
               "version: unknown field; a definition's fields are name, "
               "description, defaults, steps, output");
}

TEST(a_field_given_twice_is_refused) {
  expect_error("{'name': 'w', 'name': 'v', 'steps': [{" EXEC "}]}",
               "name: given twice; keep one");
}

TEST(the_workflow_name_is_required) {
  expect_error("{'steps': [{" EXEC "}]}",
               "name: missing; name the workflow (use 1 to 128 of the "
               "characters A-Z a-z 0-9 _ . -)");
}

TEST(the_workflow_name_must_be_a_valid_name) {
  expect_error("{'name': 'my flow', 'steps': [{" EXEC "}]}",
               "name: \"my flow\" is not a valid workflow name; use 1 to 128 "
               "of the characters A-Z a-z 0-9 _ . -");
}

TEST(the_description_must_be_a_string) {
  expect_error("{'name': 'w', 'description': 1, 'steps': [{" EXEC "}]}",
               "description: 1 is not a string; give a sentence about the "
               "workflow");
}

TEST(steps_are_required) {
  expect_error("{'name': 'w'}",
               "steps: missing; list the workflow's steps in an array");
}

TEST(steps_must_be_a_non_empty_array) {
  expect_error("{'name': 'w', 'steps': []}",
               "steps: [] is not a non-empty array; give at least one step");
}

/* ---- steps ---- */

TEST(a_step_must_be_an_object) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "}, 'b']}",
               "steps[1]: \"b\" is not an object; give each step as "
               "{\"name\": ..., \"kind\": ..., \"with\": {...}}");
}

TEST(an_unknown_step_field_is_refused) {
  expect_error(ONE(EXEC ", 'need': ['x']"),
               "steps[0].need: unknown field; a step's fields are name, "
               "kind, with, needs, retry, timeout_ms, mutates, description, "
               "replay, check, auto_rerun, evaluator, produces, consumes");
}

TEST(a_step_name_is_required) {
  expect_error(ONE("'kind': 'exec', 'with': {'command': 'true'}"),
               "steps[0].name: missing; name the step (use 1 to 128 of the "
               "characters A-Z a-z 0-9 _ . -)");
}

TEST(a_step_name_must_use_the_allowed_characters) {
  expect_error(ONE("'name': 'fetch page', 'kind': 'exec', "
                   "'with': {'command': 'true'}"),
               "steps[0].name: \"fetch page\" is not a valid step name; use 1 "
               "to 128 of the characters A-Z a-z 0-9 _ . -");
}

TEST(a_step_name_may_use_dots_and_dashes) {
  cairn__def *d = parse_ok(ONE("'name': 'v1.fetch-page_2', 'kind': 'exec', "
                               "'with': {'command': 'true'}"));
  CHECK_STR(d->steps[0].name, "v1.fetch-page_2", "the name");
  cairn__def_free(d);
}

TEST(a_step_name_over_the_limit_is_refused) {
  char doc[512];
  char name[CAIRN_STEP_NAME_MAX + 2];
  memset(name, 'x', sizeof name - 1);
  name[CAIRN_STEP_NAME_MAX] = '\0';
  snprintf(doc, sizeof doc, ONE("'name': '%s', 'kind': 'exec', "
                                "'with': {'command': 'true'}"), name);
  cairn__def_free(parse_ok(doc));
  name[CAIRN_STEP_NAME_MAX] = 'x';
  name[CAIRN_STEP_NAME_MAX + 1] = '\0';
  snprintf(doc, sizeof doc, ONE("'name': '%s', 'kind': 'exec', "
                                "'with': {'command': 'true'}"), name);
  cairn__def *d = NULL;
  char err[512];
  const char *json = J(doc);
  CHECK_ERR(cairn__def_parse(json, strlen(json), NULL, NULL, &d, err,
                             sizeof err),
            CAIRN_EINVAL, "129 bytes is one too many");
  CHECK(strstr(err, "steps[0].name: \"xxx") == err, "names the path");
  CHECK(strstr(err, "\"... is not a valid step name") == NULL,
        "the long name is shortened, not the message");
}

TEST(step_names_must_be_unique) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "}, {" EXEC "}]}",
               "steps[1].name: \"a\" is also the name of steps[0]; give each "
               "step a unique name");
}

TEST(a_step_kind_is_required) {
  expect_error(ONE("'name': 'a'"),
               "steps[0].kind: missing; use exec, http, llm, sleep, wait or "
               "a registered native kind");
}

TEST(an_unknown_kind_is_refused) {
  expect_error(ONE("'name': 'a', 'kind': 'htp'"),
               "steps[0].kind: unknown kind \"htp\"; use exec, http, llm, "
               "sleep, wait or a registered native kind");
}

TEST(a_kind_must_be_a_string) {
  expect_error(ONE("'name': 'a', 'kind': 3"),
               "steps[0].kind: 3 is not a kind; use exec, http, llm, sleep, "
               "wait or a registered native kind");
}

TEST(a_registered_native_kind_takes_any_with) {
  cairn__def *d = parse_ok(WITH("ocr", "'model': 'm', 'anything': [1]"));
  CHECK_EQ(d->steps[0].kind_id, CAIRN__KIND_NATIVE, "a native kind");
  CHECK_STR(d->steps[0].kind, "ocr", "the kind as written");
  cairn__def_free(d);
}

TEST(native_kinds_are_unknown_without_a_callback) {
  const char *json = J(WITH("ocr", ""));
  cairn__def *d = NULL;
  char err[512];
  CHECK_ERR(cairn__def_parse(json, strlen(json), NULL, NULL, &d, err,
                             sizeof err),
            CAIRN_EINVAL, "no native kinds are registered");
  CHECK_STR(err,
            "steps[0].kind: unknown kind \"ocr\"; use exec, http, llm, "
            "sleep, wait or a registered native kind",
            "the message");
}

TEST(with_must_be_an_object) {
  expect_error(ONE("'name': 'a', 'kind': 'exec', 'with': ['true']"),
               "steps[0].with: [\"true\"] is not an object; give the step's "
               "inputs as an object");
}

TEST(a_missing_with_is_an_empty_object) {
  cairn__def *d = parse_ok(ONE("'name': 'a', 'kind': 'ocr'"));
  CHECK(cJSON_IsObject(d->steps[0].with) && d->steps[0].with->child == NULL,
        "with is {}");
  cairn__def_free(d);
}

/* ---- exec ---- */

TEST(exec_needs_a_command) {
  expect_error(WITH("exec", "'stdin': 'x'"),
               "steps[0].with.command: missing; give the program and its "
               "arguments, e.g. [\"python3\", \"score.py\"]");
}

TEST(exec_takes_a_command_array_stdin_env_and_cwd) {
  cairn__def *d = parse_ok(WITH("exec", "'command': ['python3', 'x.py'], "
                                        "'stdin': {'any': [1]}, "
                                        "'env': {'A': 'b'}, 'cwd': '/tmp'"));
  cairn__def_free(d);
}

TEST(exec_command_must_not_be_empty) {
  expect_error(WITH("exec", "'command': []"),
               "steps[0].with.command: [] is not a non-empty array of "
               "strings or a non-empty string; give e.g. "
               "[\"python3\", \"score.py\"]");
  expect_error(WITH("exec", "'command': ''"),
               "steps[0].with.command: \"\" is not a non-empty array of "
               "strings or a non-empty string; give e.g. "
               "[\"python3\", \"score.py\"]");
}

TEST(exec_command_items_must_be_strings) {
  expect_error(WITH("exec", "'command': ['sleep', 5]"),
               "steps[0].with.command[1]: 5 is not a string; quote it");
}

TEST(exec_command_program_must_not_be_empty) {
  expect_error(WITH("exec", "'command': ['', 'x']"),
               "steps[0].with.command[0]: the program is empty; name the "
               "program to run");
}

TEST(exec_env_values_must_be_strings) {
  expect_error(WITH("exec", "'command': 'x', 'env': {'PORT': 8080}"),
               "steps[0].with.env.PORT: 8080 is not a string; quote it");
}

TEST(exec_env_must_be_an_object) {
  expect_error(WITH("exec", "'command': 'x', 'env': ['A=b']"),
               "steps[0].with.env: [\"A=b\"] is not an object; give an "
               "object of strings, e.g. {\"NAME\": \"value\"}");
}

TEST(exec_cwd_must_be_a_non_empty_string) {
  expect_error(WITH("exec", "'command': 'x', 'cwd': ''"),
               "steps[0].with.cwd: \"\" is not a non-empty string; give a "
               "directory");
}

TEST(exec_refuses_unknown_with_fields) {
  expect_error(WITH("exec", "'command': 'x', 'args': []"),
               "steps[0].with.args: unknown field; an exec step takes "
               "command, stdin, env, cwd");
}

/* ---- http ---- */

TEST(http_needs_a_url) {
  expect_error(WITH("http", "'method': 'GET'"),
               "steps[0].with.url: missing; give the URL to call, e.g. "
               "\"https://api.example.com/items\"");
}

TEST(http_takes_url_method_headers_body_and_expect_status) {
  cairn__def *d = parse_ok(WITH("http", "'url': 'https://x.test/a', "
                                        "'method': 'POST', "
                                        "'headers': {'X-Key': 'v'}, "
                                        "'body': {'a': [1]}, "
                                        "'expect_status': [200, 201]"));
  CHECK_EQ(d->steps[0].kind_id, CAIRN__KIND_HTTP, "an http step");
  cairn__def_free(d);
}

TEST(http_url_must_be_http_or_https) {
  expect_error(WITH("http", "'url': 'x.test/a'"),
               "steps[0].with.url: \"x.test/a\" is not an http(s) URL; start "
               "it with https:// or http://");
}

TEST(http_url_must_be_a_string) {
  expect_error(WITH("http", "'url': 7"),
               "steps[0].with.url: 7 is not a non-empty string; give a URL");
}

TEST(http_method_must_be_known) {
  expect_error(WITH("http", "'url': 'http://x', 'method': 'get'"),
               "steps[0].with.method: \"get\" is not a method; use GET, POST, "
               "PUT, PATCH, DELETE or HEAD");
}

TEST(http_headers_must_be_strings) {
  expect_error(WITH("http", "'url': 'http://x', 'headers': {'X-N': 1}"),
               "steps[0].with.headers.X-N: 1 is not a string; quote it");
}

TEST(http_expect_status_takes_an_integer) {
  cairn__def_free(parse_ok(WITH("http", "'url': 'http://x', "
                                        "'expect_status': 204")));
}

TEST(http_expect_status_must_be_statuses) {
  expect_error(WITH("http", "'url': 'http://x', 'expect_status': [200, 99]"),
               "steps[0].with.expect_status: [200,99] is not an HTTP status "
               "or a non-empty array of them; give integers from 100 to 599, "
               "e.g. [200, 201]");
  expect_error(WITH("http", "'url': 'http://x', 'expect_status': []"),
               "steps[0].with.expect_status: [] is not an HTTP status or a "
               "non-empty array of them; give integers from 100 to 599, e.g. "
               "[200, 201]");
}

TEST(http_refuses_unknown_with_fields) {
  expect_error(WITH("http", "'url': 'http://x', 'timeout_ms': 5"),
               "steps[0].with.timeout_ms: unknown field; an http step takes "
               "url, method, headers, body, expect_status");
}

/* ---- sleep ---- */

TEST(sleep_takes_duration_ms_or_until) {
  cairn__def_free(parse_ok(WITH("sleep", "'duration_ms': 0")));
  cairn__def_free(parse_ok(WITH("sleep", "'until': '2030-01-02T03:04:05Z'")));
  cairn__def_free(parse_ok(WITH("sleep", "'until': 1893553445000")));
}

TEST(sleep_needs_duration_ms_or_until) {
  expect_error(WITH("sleep", ""),
               "steps[0].with: missing duration_ms or until; give how long "
               "to sleep, e.g. {\"duration_ms\": 60000}");
}

TEST(sleep_refuses_both_duration_ms_and_until) {
  expect_error(WITH("sleep", "'duration_ms': 5, 'until': 5"),
               "steps[0].with: has both duration_ms and until; keep one");
}

TEST(sleep_duration_must_be_a_non_negative_integer) {
  expect_error(WITH("sleep", "'duration_ms': -1"),
               "steps[0].with.duration_ms: -1 is not an integer >= 0; give "
               "milliseconds, e.g. 60000");
  expect_error(WITH("sleep", "'duration_ms': 1.5"),
               "steps[0].with.duration_ms: 1.5 is not an integer >= 0; give "
               "milliseconds, e.g. 60000");
}

TEST(sleep_until_must_be_an_rfc3339_time) {
  expect_error(WITH("sleep", "'until': '2030-02-30T00:00:00Z'"),
               "steps[0].with.until: \"2030-02-30T00:00:00Z\" is not an RFC "
               "3339 time or milliseconds since the epoch; write e.g. "
               "\"2030-01-02T15:04:05Z\"");
}

TEST(sleep_refuses_unknown_with_fields) {
  expect_error(WITH("sleep", "'seconds': 5"),
               "steps[0].with.seconds: unknown field; a sleep step takes "
               "duration_ms or until");
}

/* ---- wait ---- */

TEST(wait_takes_a_signal_and_a_timeout) {
  cairn__def *d =
      parse_ok(WITH("wait", "'signal': 'approved', 'timeout_ms': 1000"));
  CHECK_EQ(d->steps[0].kind_id, CAIRN__KIND_WAIT, "a wait step");
  cairn__def_free(d);
}

TEST(wait_needs_a_signal) {
  expect_error(WITH("wait", "'timeout_ms': 1"),
               "steps[0].with.signal: missing; name the signal the step "
               "waits for, e.g. \"approved\"");
}

TEST(wait_signal_must_be_a_non_empty_string) {
  expect_error(WITH("wait", "'signal': ''"),
               "steps[0].with.signal: \"\" is not a non-empty string; give "
               "the signal's name");
}

TEST(wait_timeout_must_be_a_non_negative_integer) {
  expect_error(WITH("wait", "'signal': 's', 'timeout_ms': '1h'"),
               "steps[0].with.timeout_ms: \"1h\" is not an integer >= 0; "
               "give milliseconds, e.g. 3600000");
}

TEST(wait_refuses_unknown_with_fields) {
  expect_error(WITH("wait", "'signal': 's', 'name': 'x'"),
               "steps[0].with.name: unknown field; a wait step takes signal, "
               "timeout_ms");
}

/* ---- templates ---- */

TEST(a_template_is_accepted_for_any_typed_field) {
  cairn__def_free(parse_ok(WITH("sleep", "'duration_ms': '{{ .input.d }}'")));
  cairn__def_free(parse_ok(WITH("sleep", "'until': '{{ .input.t }}'")));
  cairn__def_free(parse_ok(WITH("wait", "'signal': 's', "
                                        "'timeout_ms': '{{ .input.t }}'")));
  cairn__def_free(parse_ok(WITH("exec", "'command': '{{ .input.cmd }}', "
                                        "'env': '{{ .input.env }}'")));
  cairn__def_free(parse_ok(WITH("http", "'url': '{{ .input.url }}', "
                                        "'method': '{{ .input.m }}', "
                                        "'headers': '{{ .input.h }}', "
                                        "'expect_status': "
                                        "[200, '{{ .input.s }}']")));
}

TEST(a_template_that_does_not_compile_is_refused_with_its_path) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "}, {'name': 'b', "
               "'kind': 'http', 'with': {'url': '{{ .input.url | }}'}}]}",
               "steps[1].with.url: template '{{ .input.url | }}' does not "
               "compile: syntax error, unexpected $end; fix the jq "
               "expression");
}

TEST(a_template_may_read_an_upstream_step) {
  cairn__def *d = parse_ok(
      "{'name': 'w', 'steps': [{" EXEC "},"
      " {'name': 'b', 'kind': 'exec', 'with': {'command': 'x'}},"
      " {'name': 'c', 'kind': 'http', 'with': {'url': 'http://x',"
      "  'body': '{{ [.steps.a.output, .steps[\\'b\\'].output] }}'}}]}");
  CHECK(cairn__tmpl_has_templates(d->steps[2].with_tmpl), "compiled");
  cairn__def_free(d);
}

TEST(a_template_reading_a_step_that_is_not_upstream_is_refused) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "},"
               " {'name': 'b', 'kind': 'exec', 'needs': [],"
               "  'with': {'command': 'x',"
               "           'stdin': '{{ .steps.a.output }}'}}]}",
               "steps[1].with.stdin: step \"a\" is not upstream of step \"b\"; "
               "add \"a\" to the needs of \"b\" (or of a step it needs)");
}

TEST(a_template_reading_a_later_step_is_refused) {
  expect_error("{'name': 'w', 'steps': ["
               " {'name': 'a', 'kind': 'exec',"
               "  'with': {'command': ['x', '{{ .steps.b.output }}']}},"
               " {'name': 'b', 'kind': 'exec', 'with': {'command': 'x'}}]}",
               "steps[0].with.command[1]: step \"b\" is not upstream of step "
               "\"a\"; add \"b\" to the needs of \"a\" (or of a step it "
               "needs)");
}

TEST(a_template_reading_an_unknown_step_is_refused) {
  expect_error(WITH("exec", "'command': 'x', 'stdin': 'x{{ .steps.fech }}'"),
               "steps[0].with.stdin: unknown step \"fech\" in a template; "
               "name a step defined in steps");
}

TEST(a_template_reading_its_own_step_is_refused) {
  expect_error(WITH("exec", "'command': 'x', 'stdin': '{{ .steps.s }}'"),
               "steps[0].with.stdin: a template of step \"s\" reads its own "
               "output; a step can read only the steps upstream of it");
}

TEST(output_may_read_any_step) {
  cairn__def *d = parse_ok(
      "{'name': 'w', 'steps': [{" EXEC "},"
      " {'name': 'b', 'kind': 'exec', 'needs': [], 'with': {'command': 'x'}}],"
      " 'output': {'a': '{{ .steps.a.output }}', 'b': '{{ .steps.b.output }}'}"
      "}");
  CHECK(d->output_tmpl && cairn__tmpl_has_templates(d->output_tmpl),
        "the output template is compiled");
  cairn__def_free(d);
}

TEST(output_reading_an_unknown_step_is_refused) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "}],"
               " 'output': ['{{ .steps.z.output }}']}",
               "output[0]: unknown step \"z\" in a template; name a step "
               "defined in steps");
}

TEST(an_output_template_that_does_not_compile_is_refused) {
  expect_error("{'name': 'w', 'steps': [{" EXEC "}], 'output': '{{ .a. }}'}",
               "output: template '{{ .a. }}' does not compile: syntax error, "
               "unexpected $end, expecting FORMAT or QQSTRING_START; fix the "
               "jq expression");
}

/* ---- needs, cycles, upstream ---- */

#define THREE(na, nb, nc)                                                   \
  "{'name': 'w', 'steps': ["                                                \
  " {'name': 'a', 'kind': 'exec', 'with': {'command': 'x'}" na "},"         \
  " {'name': 'b', 'kind': 'exec', 'with': {'command': 'x'}" nb "},"         \
  " {'name': 'c', 'kind': 'exec', 'with': {'command': 'x'}" nc "}]}"

TEST(a_step_without_needs_needs_the_one_before) {
  cairn__def *d = parse_ok(THREE("", "", ""));
  CHECK_EQ(d->steps[0].n_needs, 0, "the first step is a root");
  CHECK(d->steps[1].n_needs == 1 && d->steps[1].needs[0] == 0, "b needs a");
  CHECK(d->steps[2].n_needs == 1 && d->steps[2].needs[0] == 1, "c needs b");
  cairn__def_free(d);
}

TEST(empty_needs_makes_a_root) {
  cairn__def *d = parse_ok(THREE("", ", 'needs': []", ""));
  CHECK_EQ(d->steps[1].n_needs, 0, "b is a root");
  cairn__def_free(d);
}

TEST(needs_may_name_several_steps_and_later_ones) {
  cairn__def *d = parse_ok(THREE(", 'needs': ['c']", ", 'needs': ['c', 'a']",
                                 ", 'needs': []"));
  CHECK(d->steps[0].n_needs == 1 && d->steps[0].needs[0] == 2, "a needs c");
  CHECK(d->steps[1].n_needs == 2 && d->steps[1].needs[0] == 2 &&
            d->steps[1].needs[1] == 0,
        "b needs c and a, in order");
  cairn__def_free(d);
}

TEST(needs_must_be_an_array) {
  expect_error(THREE("", ", 'needs': 'a'", ""),
               "steps[1].needs: \"a\" is not an array; list step names, e.g. "
               "[\"fetch\"], or [] for a step that needs none");
}

TEST(a_need_must_be_a_string) {
  expect_error(THREE("", ", 'needs': [0]", ""),
               "steps[1].needs[0]: 0 is not a step name; give the name as a "
               "string");
}

TEST(a_need_must_name_an_existing_step) {
  expect_error(THREE("", ", 'needs': ['a', 'x']", ""),
               "steps[1].needs[1]: unknown step \"x\"; name a step defined "
               "in steps");
}

TEST(a_step_cannot_need_itself) {
  expect_error(THREE("", ", 'needs': ['b']", ""),
               "steps[1].needs[0]: \"b\" is the step itself; a step cannot "
               "need itself");
}

TEST(a_need_listed_twice_is_refused) {
  expect_error(THREE("", "", ", 'needs': ['a', 'a']"),
               "steps[2].needs[1]: \"a\" is listed twice; list each step "
               "once");
}

TEST(a_cycle_is_named_in_the_error) {
  expect_error(THREE(", 'needs': ['b']", ", 'needs': ['a']", ", 'needs': []"),
               "steps[0].needs: cycle a -> b -> a; remove one of these "
               "needs");
}

TEST(a_longer_cycle_is_named_from_its_first_step) {
  expect_error(THREE(", 'needs': ['c']", ", 'needs': ['a']",
                     ", 'needs': ['b']"),
               "steps[0].needs: cycle a -> c -> b -> a; remove one of these "
               "needs");
}

TEST(a_cycle_downstream_of_a_root_is_found) {
  expect_error(THREE(", 'needs': []", ", 'needs': ['a', 'c']",
                     ", 'needs': ['b']"),
               "steps[1].needs: cycle b -> c -> b; remove one of these "
               "needs");
}

TEST(a_cycle_through_a_default_need_says_why) {
  expect_error(THREE(", 'needs': ['b']", "", ", 'needs': []"),
               "steps[0].needs: cycle a -> b -> a; remove one of these needs "
               "(a step without \"needs\" needs the step listed before it)");
}

TEST(upstream_follows_needs_transitively) {
  cairn__def *d = parse_ok(THREE("", "", ""));
  CHECK(cairn__def_upstream(d, 0, 2), "a is upstream of c through b");
  CHECK(cairn__def_upstream(d, 1, 2), "b is upstream of c");
  CHECK(!cairn__def_upstream(d, 2, 0), "c is downstream of a");
  CHECK(!cairn__def_upstream(d, 1, 1), "a step is not its own upstream");
  CHECK(!cairn__def_upstream(d, 0, 7), "out of range is false");
  cairn__def_free(d);
}

TEST(upstream_is_false_across_independent_branches) {
  cairn__def *d = parse_ok(THREE("", ", 'needs': []", ", 'needs': ['a']"));
  CHECK(!cairn__def_upstream(d, 1, 2), "b and c are on separate branches");
  CHECK(cairn__def_upstream(d, 0, 2), "a is upstream of c");
  cairn__def_free(d);
}

TEST(steps_are_found_by_name) {
  cairn__def *d = parse_ok(THREE("", "", ""));
  CHECK_EQ(cairn__def_step_index(d, "c"), 2, "c is the third step");
  CHECK_EQ(cairn__def_step_index(d, "z"), -1, "no step z");
  CHECK(cairn__def_step(d, "b") == &d->steps[1], "b by name");
  CHECK(cairn__def_step(d, "z") == NULL, "z by name");
  cairn__def_free(d);
}

/* ---- retry, timeouts, mutates, description, replay ---- */

TEST(the_default_retry_policy_applies_when_none_is_given) {
  cairn__def *d = parse_ok(ONE(EXEC));
  const cairn__retry_policy *r = &d->steps[0].retry;
  CHECK(!d->has_default_retry && !d->steps[0].has_retry, "none given");
  CHECK_EQ(r->max_attempts, 1, "max_attempts");
  CHECK_EQ(r->initial_delay_ms, 200, "initial_delay_ms");
  CHECK(r->backoff == 2.0, "backoff");
  CHECK_EQ(r->max_delay_ms, 10000, "max_delay_ms");
  cairn__def_free(d);
}

TEST(a_step_retry_refines_defaults_retry) {
  cairn__def *d = parse_ok(
      "{'name': 'w', 'defaults': {'retry': {'max_attempts': 5,"
      " 'backoff': 3}, 'timeout_ms': 1000}, 'steps': [{" EXEC ","
      " 'retry': {'initial_delay_ms': 50}}, {'name': 'b', 'kind': 'exec',"
      " 'with': {'command': 'x'}}]}");
  CHECK(d->has_default_retry, "defaults.retry is given");
  CHECK(d->default_retry.max_attempts == 5 && d->default_retry.backoff == 3.0,
        "defaults over the built-in policy");
  const cairn__retry_policy *a = &d->steps[0].retry;
  CHECK(d->steps[0].has_retry, "a has its own retry");
  CHECK(a->max_attempts == 5 && a->backoff == 3.0 &&
            a->initial_delay_ms == 50 && a->max_delay_ms == 10000,
        "the step's fields over the defaults over the built-in policy");
  CHECK(!d->steps[1].has_retry && d->steps[1].retry.max_attempts == 5 &&
            d->steps[1].retry.initial_delay_ms == 200,
        "b takes the defaults");
  cairn__def_free(d);
}

TEST(defaults_timeout_applies_to_steps_without_their_own) {
  cairn__def *d = parse_ok("{'name': 'w', 'defaults': {'timeout_ms': 1000},"
                           " 'steps': [{" EXEC ", 'timeout_ms': 5},"
                           " {'name': 'b', 'kind': 'exec',"
                           "  'with': {'command': 'x'}}]}");
  CHECK_EQ(d->default_timeout_ms, 1000, "the default");
  CHECK_EQ(d->steps[0].timeout_ms, 5, "a's own");
  CHECK_EQ(d->steps[1].timeout_ms, 1000, "b's from defaults");
  cairn__def_free(d);
}

TEST(retry_must_be_an_object) {
  expect_error(ONE(EXEC ", 'retry': 3"),
               "steps[0].retry: 3 is not an object; give e.g. "
               "{\"max_attempts\": 3}");
}

TEST(retry_refuses_unknown_fields) {
  expect_error(ONE(EXEC ", 'retry': {'attempts': 3}"),
               "steps[0].retry.attempts: unknown field; retry takes "
               "max_attempts, initial_delay_ms, backoff, max_delay_ms");
}

TEST(retry_max_attempts_must_be_at_least_one) {
  expect_error(ONE(EXEC ", 'retry': {'max_attempts': 0}"),
               "steps[0].retry.max_attempts: 0 is not an integer >= 1; give "
               "the number of attempts in all, e.g. 3");
}

TEST(retry_delays_must_be_non_negative_integers) {
  expect_error(ONE(EXEC ", 'retry': {'initial_delay_ms': -5}"),
               "steps[0].retry.initial_delay_ms: -5 is not an integer >= 0; "
               "give milliseconds, e.g. 200");
  expect_error(ONE(EXEC ", 'retry': {'max_delay_ms': '10s'}"),
               "steps[0].retry.max_delay_ms: \"10s\" is not an integer >= 0; "
               "give milliseconds (0 = no cap), e.g. 10000");
}

TEST(retry_backoff_must_be_at_least_one) {
  expect_error(ONE(EXEC ", 'retry': {'backoff': 0.5}"),
               "steps[0].retry.backoff: 0.5 is not a number >= 1; give the "
               "factor between delays, e.g. 2");
}

TEST(defaults_retry_is_checked_too) {
  expect_error("{'name': 'w', 'defaults': {'retry': {'max_attempts': 1.5}},"
               " 'steps': [{" EXEC "}]}",
               "defaults.retry.max_attempts: 1.5 is not an integer >= 1; "
               "give the number of attempts in all, e.g. 3");
}

TEST(defaults_must_be_an_object) {
  expect_error("{'name': 'w', 'defaults': [], 'steps': [{" EXEC "}]}",
               "defaults: [] is not an object; give e.g. "
               "{\"timeout_ms\": 30000}");
}

TEST(defaults_refuses_unknown_fields) {
  expect_error("{'name': 'w', 'defaults': {'mutates': true},"
               " 'steps': [{" EXEC "}]}",
               "defaults.mutates: unknown field; defaults takes retry, "
               "timeout_ms");
}

TEST(timeout_ms_must_be_a_non_negative_integer) {
  expect_error(ONE(EXEC ", 'timeout_ms': -1"),
               "steps[0].timeout_ms: -1 is not an integer >= 0; give "
               "milliseconds per attempt (0 = none), e.g. 30000");
}

TEST(mutates_is_read) {
  cairn__def *d = parse_ok(ONE(EXEC ", 'mutates': true"));
  CHECK(d->steps[0].mutates, "the step mutates");
  cairn__def_free(d);
}

TEST(mutates_must_be_a_boolean) {
  expect_error(ONE(EXEC ", 'mutates': 'yes'"),
               "steps[0].mutates: \"yes\" is not a boolean; give true or "
               "false");
}

TEST(a_step_description_must_be_a_string) {
  expect_error(ONE(EXEC ", 'description': ['x']"),
               "steps[0].description: [\"x\"] is not a string; give a "
               "sentence about the step");
}

TEST(replay_is_accepted_as_an_object) {
  cairn__def *d = parse_ok(ONE(EXEC ", 'replay': {'anything': 1}"));
  cairn__def_free(d);
}

TEST(replay_must_be_an_object) {
  expect_error(ONE(EXEC ", 'replay': true"),
               "steps[0].replay: true is not an object");
}

/* ---- retry delays ---- */

TEST(retry_delay_is_zero_before_the_second_attempt) {
  cairn__retry_policy p = cairn__default_retry;
  CHECK_EQ(cairn__retry_delay_ms(&p, 0), 0, "no attempt 0");
  CHECK_EQ(cairn__retry_delay_ms(&p, 1), 0, "the first attempt starts now");
}

TEST(retry_delay_grows_by_backoff) {
  cairn__retry_policy p = {.max_attempts = 9, .initial_delay_ms = 100,
                           .backoff = 1.5, .max_delay_ms = 0};
  CHECK_EQ(cairn__retry_delay_ms(&p, 2), 100, "initial delay");
  CHECK_EQ(cairn__retry_delay_ms(&p, 3), 150, "× 1.5");
  CHECK_EQ(cairn__retry_delay_ms(&p, 4), 225, "× 1.5 again");
}

TEST(retry_delay_is_capped_by_max_delay) {
  cairn__retry_policy p = cairn__default_retry;
  CHECK_EQ(cairn__retry_delay_ms(&p, 7), 6400, "200 × 2^5");
  CHECK_EQ(cairn__retry_delay_ms(&p, 8), 10000, "12800 capped at 10000");
  CHECK_EQ(cairn__retry_delay_ms(&p, 4000000000u), 10000, "still capped");
}

TEST(retry_delay_without_a_cap_saturates) {
  cairn__retry_policy p = {.initial_delay_ms = 1000, .backoff = 10.0};
  CHECK_EQ(cairn__retry_delay_ms(&p, 500), INT64_C(4611686018427387904),
           "huge delays saturate at 2^62 ms instead of overflowing");
}

TEST(retry_delay_with_backoff_one_is_constant) {
  cairn__retry_policy p = {.initial_delay_ms = 300, .backoff = 1.0};
  CHECK_EQ(cairn__retry_delay_ms(&p, 9), 300, "no growth");
}

/* ---- RFC 3339 ---- */

TEST(rfc3339_times_parse_to_milliseconds) {
  int64_t ms = 0;
  CHECK_OK(cairn__rfc3339_ms("1970-01-01T00:00:00Z", &ms), NULL);
  CHECK_EQ(ms, 0, "the epoch");
  CHECK_OK(cairn__rfc3339_ms("2030-01-02T03:04:05Z", &ms), NULL);
  CHECK_EQ(ms, INT64_C(1893553445000), "a UTC time");
  CHECK_OK(cairn__rfc3339_ms("2030-01-02T04:04:05.25+01:00", &ms), NULL);
  CHECK_EQ(ms, INT64_C(1893553445250), "an offset and a fraction");
  CHECK_OK(cairn__rfc3339_ms("2030-01-01 22:04:05.123456-05:00", &ms), NULL);
  CHECK_EQ(ms, INT64_C(1893553445123), "a space, a negative offset, µs");
  CHECK_OK(cairn__rfc3339_ms("2024-02-29t12:00:00z", &ms), NULL);
  CHECK_EQ(ms, INT64_C(1709208000000), "lower case t and z; a leap day");
}

TEST(rfc3339_refuses_what_is_not_a_time) {
  int64_t ms;
  const char *bad[] = {"2023-02-29T00:00:00Z", "2030-13-01T00:00:00Z",
                       "2030-01-01T24:00:00Z", "2030-01-01T00:00:00",
                       "2030-01-01",           "2030-01-01T00:00:00.Z",
                       "2030-01-01T00:00:00Z ", "tomorrow",
                       "2030-01-01T00:00:00+0100"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    if (cairn__rfc3339_ms(bad[i], &ms) != CAIRN_EINVAL)
      FAIL("\"%s\" must be refused", bad[i]);
  }
}

/* ---- a complete example ---- */

TEST(the_reference_example_parses) {
  FILE *f = fopen(CAIRN_SOURCE_DIR "/docs/definitions.md", "r");
  CHECK(f != NULL, "docs/definitions.md exists");
  static char md[1 << 16];
  size_t n = fread(md, 1, sizeof md - 1, f);
  fclose(f);
  md[n] = '\0';
  const char *start = strstr(md, "<!-- example:complete -->\n```json\n");
  CHECK(start != NULL, "the complete example is marked in the docs");
  start = strchr(strchr(start, '\n') + 1, '\n') + 1;
  const char *end = strstr(start, "```");
  CHECK(end != NULL, "the example's code block ends");
  cairn__def *d = NULL;
  char err[512] = "";
  int rc = cairn__def_parse(start, (size_t)(end - start), test_ocr_is_native,
                            NULL, &d, err, sizeof err);
  if (rc)
    FAIL("the documented example is refused: %s", err);
  CHECK(d->n_steps >= 4, "it shows several steps");
  cairn__def_free(d);
}

#define expect_error_start test_def_error_start

TEST(a_check_must_compile_and_auto_rerun_needs_one) {
  expect_error_start(ONE(EXEC ", 'check': '.output |'"),
                     "steps[0].check: template '{{ .output | }}'");
  expect_error_start(ONE(EXEC ", 'auto_rerun': {'below': 0.5, 'max': 1}"),
                     "steps[0].auto_rerun: needs a check (or an evaluator");
  expect_error_start(ONE(EXEC ", 'check': '.output', "
                              "'auto_rerun': {'below': 2, 'max': 1}"),
                     "steps[0].auto_rerun.below: give the passing score");
}
