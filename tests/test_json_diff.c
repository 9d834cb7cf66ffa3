/*
 * test_json_diff.c — the structural JSON diff behind `cairn diff`
 * (present/json_diff.c): what counts as a change, where each change is
 * reported (jq paths), in which order, and that every reported path is
 * jq that really reads the value (checked with libjq itself).
 */
#include "test.h"

#include "../present/json_diff.h"

#include <jq.h>

/* Parses `text`; NULL text is an absent value. */
static cJSON *JP(const char *text) {
  if (text == NULL)
    return NULL;
  cJSON *v = cJSON_Parse(text);
  if (v == NULL)
    FAIL("test JSON does not parse: %s", text);
  return v;
}

/* The diff of two JSON texts, as compact JSON text (malloc'ed). Also
 * checks that present_json_equal agrees with the diff being empty, and that
 * the result owns its values (the inputs are freed first). */
static char *diff_text(const char *a, const char *b) {
  cJSON *x = JP(a), *y = JP(b);
  cJSON *d = present_json_diff(x, y);
  CHECK(d != NULL, "the diff is built");
  CHECK_EQ(present_json_equal(x, y), cJSON_GetArraySize(d) == 0,
           "present_json_equal agrees with an empty diff");
  cJSON_Delete(x);
  cJSON_Delete(y);
  char *s = cJSON_PrintUnformatted(d);
  cJSON_Delete(d);
  return s;
}

#define CHECK_DIFF(a, b, want, why)                                      \
  do {                                                                   \
    char *_got = diff_text(a, b);                                        \
    if (strcmp(_got, want) != 0)                                         \
      FAIL("diff(%s, %s):\n  got  %s\n  want %s\n  %s", #a, #b, _got,   \
           want, why);                                                   \
    free(_got);                                                          \
  } while (0)

TEST(identical_documents_have_no_differences) {
  CHECK_DIFF("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}",
             "{\"c\":\"x\",\"a\":[1,{\"b\":null}]}", "[]",
             "key order and whitespace are not differences");
  CHECK_DIFF("null", "null", "[]", "null equals null");
  CHECK_DIFF(NULL, NULL, "[]", "two absent values are equal");
}

TEST(equal_numbers_compare_equal_whatever_their_spelling) {
  CHECK_DIFF("[1, 2.50, 300]", "[1.0, 2.5, 3e2]", "[]",
             "1 == 1.0, 2.50 == 2.5, 300 == 3e2");
  CHECK_DIFF("{\"n\":1}", "{\"n\":1.5}",
             "[{\"path\":\".n\",\"change\":\"changed\",\"before\":1,"
             "\"after\":1.5}]",
             "different numbers differ");
}

TEST(an_added_key_is_reported_with_its_value_after) {
  CHECK_DIFF("{\"a\":1}", "{\"a\":1,\"score\":0.93}",
             "[{\"path\":\".score\",\"change\":\"added\",\"after\":0.93}]",
             "added: path and after, no before");
}

TEST(a_removed_key_is_reported_with_its_value_before) {
  CHECK_DIFF("{\"a\":1,\"old\":{\"x\":[1]}}", "{\"a\":1}",
             "[{\"path\":\".old\",\"change\":\"removed\","
             "\"before\":{\"x\":[1]}}]",
             "removed: the whole value that went away, once");
}

TEST(a_changed_scalar_reports_before_and_after) {
  CHECK_DIFF("{\"s\":\"score.py\",\"t\":true,\"n\":null}",
             "{\"s\":\"score_v2.py\",\"t\":false,\"n\":null}",
             "[{\"path\":\".s\",\"change\":\"changed\","
             "\"before\":\"score.py\",\"after\":\"score_v2.py\"},"
             "{\"path\":\".t\",\"change\":\"changed\",\"before\":true,"
             "\"after\":false}]",
             "strings and booleans differ by value");
}

TEST(a_type_change_is_one_change_at_that_path) {
  CHECK_DIFF("{\"v\":{\"a\":1,\"b\":2}}", "{\"v\":[1,2]}",
             "[{\"path\":\".v\",\"change\":\"changed\","
             "\"before\":{\"a\":1,\"b\":2},\"after\":[1,2]}]",
             "an object that became an array is not diffed inside");
  CHECK_DIFF("{\"v\":1}", "{\"v\":\"1\"}",
             "[{\"path\":\".v\",\"change\":\"changed\",\"before\":1,"
             "\"after\":\"1\"}]",
             "a number and a string never compare equal");
  CHECK_DIFF("{\"v\":null}", "{\"v\":false}",
             "[{\"path\":\".v\",\"change\":\"changed\",\"before\":null,"
             "\"after\":false}]",
             "null and false differ");
}

TEST(arrays_are_compared_index_by_index) {
  CHECK_DIFF("[\"a\",\"b\"]", "[\"x\",\"a\",\"b\"]",
             "[{\"path\":\".[0]\",\"change\":\"changed\",\"before\":\"a\","
             "\"after\":\"x\"},"
             "{\"path\":\".[1]\",\"change\":\"changed\",\"before\":\"b\","
             "\"after\":\"a\"},"
             "{\"path\":\".[2]\",\"change\":\"added\",\"after\":\"b\"}]",
             "an insertion at the front changes every index");
  CHECK_DIFF("{\"c\":[1,2,3]}", "{\"c\":[1]}",
             "[{\"path\":\".c[1]\",\"change\":\"removed\",\"before\":2},"
             "{\"path\":\".c[2]\",\"change\":\"removed\",\"before\":3}]",
             "the extra items of a shorter array are removed");
}

TEST(object_keys_are_reported_in_sorted_order) {
  CHECK_DIFF("{\"z\":1,\"b\":1,\"a\":1}", "{\"a\":2,\"z\":2,\"m\":2}",
             "[{\"path\":\".a\",\"change\":\"changed\",\"before\":1,"
             "\"after\":2},"
             "{\"path\":\".b\",\"change\":\"removed\",\"before\":1},"
             "{\"path\":\".m\",\"change\":\"added\",\"after\":2},"
             "{\"path\":\".z\",\"change\":\"changed\",\"before\":1,"
             "\"after\":2}]",
             "keys of both sides merge in byte order");
}

TEST(nested_paths_join_keys_and_indexes) {
  CHECK_DIFF("{\"with\":{\"command\":[\"python3\",\"score.py\"]}}",
             "{\"with\":{\"command\":[\"python3\",\"score_v2.py\"]}}",
             "[{\"path\":\".with.command[1]\",\"change\":\"changed\","
             "\"before\":\"score.py\",\"after\":\"score_v2.py\"}]",
             "keys then an index");
  CHECK_DIFF("[[0,{\"k\":1}]]", "[[0,{\"k\":2}]]",
             "[{\"path\":\".[0][1].k\",\"change\":\"changed\","
             "\"before\":1,\"after\":2}]",
             "indexes of nested arrays");
}

TEST(keys_that_are_not_identifiers_are_quoted) {
  CHECK_DIFF("{}", "{\"a b\":1}",
             "[{\"path\":\".[\\\"a b\\\"]\",\"change\":\"added\","
             "\"after\":1}]",
             "a key with a space, at the root: .[\"a b\"]");
  CHECK_DIFF("{\"x\":{}}", "{\"x\":{\"a.b\":1}}",
             "[{\"path\":\".x[\\\"a.b\\\"]\",\"change\":\"added\","
             "\"after\":1}]",
             "a key with a dot, nested: .x[\"a.b\"]");
  CHECK_DIFF("{}", "{\"if\":1,\"1x\":1,\"\":1,\"say \\\"hi\\\"\":1}",
             "[{\"path\":\".[\\\"\\\"]\",\"change\":\"added\","
             "\"after\":1},"
             "{\"path\":\".[\\\"1x\\\"]\",\"change\":\"added\","
             "\"after\":1},"
             "{\"path\":\".[\\\"if\\\"]\",\"change\":\"added\","
             "\"after\":1},"
             "{\"path\":\".[\\\"say \\\\\\\"hi\\\\\\\"\\\"]\","
             "\"change\":\"added\",\"after\":1}]",
             "empty, digit-first, keyword and quoted keys");
  CHECK_DIFF("{}", "{\"_ok9\":1}",
             "[{\"path\":\"._ok9\",\"change\":\"added\",\"after\":1}]",
             "an identifier is written plainly");
}

TEST(the_root_itself_is_the_path_dot) {
  CHECK_DIFF("1", "2",
             "[{\"path\":\".\",\"change\":\"changed\",\"before\":1,"
             "\"after\":2}]",
             "two different scalars");
  CHECK_DIFF(NULL, "{\"score\":0.93}",
             "[{\"path\":\".\",\"change\":\"added\","
             "\"after\":{\"score\":0.93}}]",
             "an absent value that appeared is one addition at the root");
  CHECK_DIFF("[1]", NULL,
             "[{\"path\":\".\",\"change\":\"removed\",\"before\":[1]}]",
             "a value that went absent is one removal at the root");
  CHECK_DIFF("null", NULL,
             "[{\"path\":\".\",\"change\":\"removed\",\"before\":null}]",
             "absent differs from null");
}

TEST(the_first_of_duplicate_keys_counts) {
  CHECK_DIFF("{\"a\":1,\"a\":2}", "{\"a\":1}", "[]",
             "as cJSON lookups do, the first of two equal keys counts");
  CHECK_DIFF("{\"a\":1}", "{\"a\":2,\"a\":1}",
             "[{\"path\":\".a\",\"change\":\"changed\",\"before\":1,"
             "\"after\":2}]",
             "a later duplicate does not hide a change");
}

/* Runs jq program `prog` on JSON `input`; the first result as cJSON. */
static cJSON *jq_eval(const char *prog, const char *input) {
  jq_state *jq = jq_init();
  CHECK(jq != NULL, "libjq starts");
  if (!jq_compile(jq, prog))
    FAIL("the path %s is not valid jq", prog);
  jq_start(jq, jv_parse(input), 0);
  jv out = jq_next(jq);
  CHECK(jv_is_valid(out), "the path reads a value");
  jv text = jv_dump_string(out, 0);
  cJSON *v = cJSON_Parse(jv_string_value(text));
  jv_free(text);
  jq_teardown(&jq);
  return v;
}

TEST(every_path_is_jq_that_reads_the_value) {
  static const char a[] =
      "{\"a b\":{\"x\":[1,2,{\"if\":true}]},\"list\":[[1],[2]],"
      "\"q\\\"\\\\\\n\":1,\"gone\":0,\"k\":{\"end\":\"e\"}}";
  static const char b[] =
      "{\"a b\":{\"x\":[1,3,{\"if\":false}],\"new\":null},\"list\":[[1],"
      "[2,5]],\"q\\\"\\\\\\n\":2,\"k\":{\"end\":\"f\",\"é\":1}}";
  cJSON *x = JP(a), *y = JP(b);
  cJSON *d = present_json_diff(x, y);
  CHECK(d != NULL, "the diff is built");
  CHECK_EQ(cJSON_GetArraySize(d), 8, "every difference is reported");
  const cJSON *e;
  cJSON_ArrayForEach(e, d) {
    const char *path = cJSON_GetObjectItem(e, "path")->valuestring;
    const cJSON *before = cJSON_GetObjectItem(e, "before");
    const cJSON *after = cJSON_GetObjectItem(e, "after");
    if (before) {
      cJSON *got = jq_eval(path, a);
      if (!present_json_equal(got, before))
        FAIL("jq %s on the first document does not give \"before\"", path);
      cJSON_Delete(got);
    }
    if (after) {
      cJSON *got = jq_eval(path, b);
      if (!present_json_equal(got, after))
        FAIL("jq %s on the second document does not give \"after\"", path);
      cJSON_Delete(got);
    }
  }
  cJSON_Delete(d);
  cJSON_Delete(x);
  cJSON_Delete(y);
}

TEST(large_objects_and_arrays_diff_in_one_pass) {
  cJSON *x = cJSON_CreateObject(), *y = cJSON_CreateObject();
  cJSON *xs = cJSON_AddArrayToObject(x, "items");
  cJSON *ys = cJSON_AddArrayToObject(y, "items");
  for (int i = 0; i < 20000; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%05d", 19999 - i);
    cJSON_AddNumberToObject(x, key, i);
    cJSON_AddNumberToObject(y, key, i == 123 ? -1 : i);
    cJSON_AddItemToArray(xs, cJSON_CreateNumber(i));
    cJSON_AddItemToArray(ys, cJSON_CreateNumber(i));
  }
  cJSON *d = present_json_diff(x, y);
  CHECK_EQ(cJSON_GetArraySize(d), 1, "one value changed among 40000");
  CHECK_STR(cJSON_GetArrayItem(d, 0)->child->valuestring, ".k19876",
            "the path names the changed key");
  CHECK(!present_json_equal(x, y), "present_json_equal sees the change");
  cJSON_Delete(d);
  cJSON_Delete(x);
  cJSON_Delete(y);
}
