/*
 * test_codec.c — events and records survive encoding, and decoding hostile
 * bytes fails cleanly: never a crash, never an out-of-bounds read, never a
 * huge allocation (these run under ASan+UBSan in the sanitizer build).
 */
#include "test.h"

#include "internal.h"

#include <time.h>

static cairn_str S(const char *s) { return (cairn_str){s, strlen(s)}; }

static cairn_event full_event(void) {
  cairn_event e = {
      .type = CAIRN_EV_STEP_COMPLETED, .seq = 42, .time_us = 1700000000123456,
      .step = S("score"), .attempt = 3, .input = S("{\"a\":1}"),
      .output = S("[1,2,3]"), .error_code = S("exit_status"),
      .error_message = S("exit 2"), .details = S("{\"tail\":\"x\"}"),
      .retryable = true, .dry_run = true, .duration_us = 1234,
      .delay_ms = 200, .fire_at_us = -5, .reason = S("because"),
      .ref_run = S("01a1fcac-d28c-7e80-b22b-5b2ada5dcfb3"), .ref_seq = 7,
      .name = S("approve"), .meta = S("{\"model\":\"m\"}"),
      .run_id = S("01a1fcac-d28c-7e80-b22b-5b2ada5dcfb4"),
      .workflow_id = S("wf"), .ns = S("default"), .def_hash = S("ab"),
      .origin_kind = CAIRN_ORIGIN_REPLAY, .parent_run_id = S("p"),
      .origin_point = S("fetch"), .actor = S("alice")};
  return e;
}

static void check_same_str(cairn_str a, cairn_str b, const char *field) {
  if (a.len != b.len || (a.len && memcmp(a.ptr, b.ptr, a.len) != 0) ||
      (a.ptr == NULL) != (b.ptr == NULL))
    FAIL("field %s did not survive the round trip", field);
}

TEST(event_round_trips_every_field) {
  cairn_event e = full_event(), d;
  char *buf;
  size_t n;
  CHECK_OK(cairn_event_encode(&e, &buf, &n), NULL);
  CHECK_OK(cairn_event_decode(buf, n, &d, NULL), NULL);
  CHECK_EQ(d.type, e.type, "type survives");
  CHECK_EQ(d.seq, 42, "seq survives");
  CHECK_EQ(d.time_us, e.time_us, "time survives");
  CHECK_EQ(d.attempt, 3, "attempt survives");
  CHECK(d.retryable && d.dry_run, "flags survive");
  CHECK_EQ(d.duration_us, 1234, "duration survives");
  CHECK_EQ(d.delay_ms, 200, "delay survives");
  CHECK_EQ(d.fire_at_us, -5, "negative numbers survive");
  CHECK_EQ(d.ref_seq, 7, "ref seq survives");
  CHECK_EQ(d.origin_kind, CAIRN_ORIGIN_REPLAY, "origin kind survives");
  check_same_str(d.step, e.step, "step");
  check_same_str(d.input, e.input, "input");
  check_same_str(d.output, e.output, "output");
  check_same_str(d.error_code, e.error_code, "error_code");
  check_same_str(d.error_message, e.error_message, "error_message");
  check_same_str(d.details, e.details, "details");
  check_same_str(d.reason, e.reason, "reason");
  check_same_str(d.ref_run, e.ref_run, "ref_run");
  check_same_str(d.name, e.name, "name");
  check_same_str(d.meta, e.meta, "meta");
  check_same_str(d.run_id, e.run_id, "run_id");
  check_same_str(d.workflow_id, e.workflow_id, "workflow_id");
  check_same_str(d.ns, e.ns, "ns");
  check_same_str(d.def_hash, e.def_hash, "def_hash");
  check_same_str(d.parent_run_id, e.parent_run_id, "parent_run_id");
  check_same_str(d.origin_point, e.origin_point, "origin_point");
  check_same_str(d.actor, e.actor, "actor");
  free(buf);
}

TEST(absent_and_empty_strings_stay_distinct) {
  cairn_event e = {.type = CAIRN_EV_STEP_STARTED, .seq = 1, .step = S("a"),
                   .attempt = 1, .reason = {"", 0}}, d;
  char *buf;
  size_t n;
  CHECK_OK(cairn_event_encode(&e, &buf, &n), NULL);
  CHECK_OK(cairn_event_decode(buf, n, &d, NULL), NULL);
  CHECK(d.reason.ptr != NULL && d.reason.len == 0, "empty stays present");
  CHECK(d.output.ptr == NULL, "absent stays absent");
  free(buf);
}

TEST(seq_is_patched_in_place) {
  cairn_event e = {.type = CAIRN_EV_RUN_COMPLETED, .seq = 0}, d;
  char *buf;
  size_t n, off;
  CHECK_OK(cairn__event_encode(&e, &buf, &n, &off, NULL), NULL);
  cairn__event_patch_seq(buf, off, 123456789);
  CHECK_OK(cairn_event_decode(buf, n, &d, NULL), NULL);
  CHECK_EQ(d.seq, 123456789, "the patched seq is what decodes");
  free(buf);
}

TEST(every_truncation_of_an_event_is_rejected) {
  cairn_event e = full_event(), d;
  char *buf;
  size_t n;
  CHECK_OK(cairn_event_encode(&e, &buf, &n), NULL);
  for (size_t len = 0; len < n; len++) {
    char *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    memcpy(copy, buf, len);
    cairn_decode_err err = {0};
    CHECK_ERR(cairn_event_decode(copy, len, &d, &err), CAIRN_EDECODE,
              "a truncated event must not decode");
    CHECK(err.message != NULL, "a decode error says what is wrong");
    free(copy);
  }
  free(buf);
}

TEST(container_claiming_more_items_than_bytes_is_rejected) {
  /* map32 claiming 2^32-1 pairs; array32 claiming 2^24 items; map16 */
  const unsigned char bombs[][6] = {
      {0xdf, 0xff, 0xff, 0xff, 0xff, 0x00},
      {0xdd, 0x01, 0x00, 0x00, 0x00, 0x00},
      {0xde, 0xff, 0xff, 0x01, 0x02, 0x00}};
  cairn_event d;
  for (size_t i = 0; i < 3; i++)
    CHECK_ERR(cairn_event_decode(bombs[i], 6, &d, NULL), CAIRN_EDECODE,
              "a lying container header is refused before allocation");
}

TEST(deep_nesting_is_rejected) {
  unsigned char buf[64];
  size_t bad;
  memset(buf, 0x91, sizeof buf); /* [[[[...]]]] */
  buf[63] = 0x01;
  CHECK_ERR(cairn__mp_check(buf, sizeof buf, &bad), CAIRN_EDECODE,
            "63 levels of nesting are refused");
}

TEST(wrong_field_types_are_rejected_with_the_field_named) {
  /* {1: "x"} : type must be an integer */
  const unsigned char b[] = {0x81, 0x01, 0xa1, 'x'};
  cairn_event d;
  cairn_decode_err err = {0};
  CHECK_ERR(cairn_event_decode(b, sizeof b, &d, &err), CAIRN_EDECODE,
            "a string type is refused");
  CHECK_STR(err.field, "type", "the error names the field");
}

TEST(unknown_fields_are_ignored_and_unknown_types_refused) {
  cairn_event e = {.type = CAIRN_EV_RUN_COMPLETED, .seq = 5}, d;
  char *buf;
  size_t n;
  CHECK_OK(cairn_event_encode(&e, &buf, &n), NULL);
  /* Append the pair {99: 1} and bump the fixmap count by one. */
  char *more = malloc(n + 2);
  memcpy(more, buf, n);
  more[0] = (char)(more[0] + 1);
  more[n] = 99;
  more[n + 1] = 1;
  CHECK_OK(cairn_event_decode(more, n + 2, &d, NULL), NULL);
  CHECK_EQ(d.seq, 5, "known fields still decode next to a newer one");
  /* type 0x7f does not exist */
  const unsigned char bad[] = {0x83, 0x00, 0x01, 0x01, 0x7f, 0x02, 0x01};
  CHECK_ERR(cairn_event_decode(bad, sizeof bad, &d, NULL), CAIRN_EDECODE,
            "an unknown event type is refused");
  free(more);
  free(buf);
}

TEST(random_mutations_never_crash_the_decoder) {
  cairn_event e = full_event(), d;
  char *buf;
  size_t n;
  unsigned seed = 12345;
  CHECK_OK(cairn_event_encode(&e, &buf, &n), NULL);
  char *m = malloc(n);
  int decoded = 0;
  for (int round = 0; round < 20000; round++) {
    memcpy(m, buf, n);
    for (int k = 0; k < 1 + round % 4; k++)
      m[rand_r(&seed) % n] = (char)rand_r(&seed);
    decoded += cairn_event_decode(m, n, &d, NULL) == 0;
  }
  CHECK(decoded < 20000, "some mutations must be refused");
  free(m);
  free(buf);
}

TEST(view_records_round_trip) {
  cairn_step_view s = {.status = CAIRN_STEP_COMPLETED, .attempts = 4,
                       .ok_attempt = 3, .out_run = 1ull << 40,
                       .out_seq = 99, .first_seq = 2, .last_seq = 100,
                       .started_us = 5, .ended_us = 6, .reused = true,
                       .stale = true,
                       .latest = {.attempt = 4, .status = 3,
                                  .start_seq = 98, .end_seq = 100,
                                  .duration_us = 7}}, s2 = {0};
  char *buf;
  size_t n;
  CHECK_OK(cairn__step_view_encode(&s, &buf, &n), NULL);
  CHECK_OK(cairn__step_view_decode(buf, n, &s2), NULL);
  CHECK(s2.out_run == s.out_run && s2.out_seq == 99 && s2.reused &&
            s2.stale && !s2.dry_run && s2.ok_attempt == 3 &&
            s2.latest.attempt == 4 && s2.latest.end_seq == 100 &&
            s2.latest.status == CAIRN_ATTEMPT_FAILED,
        "a step view survives the round trip, with its latest attempt");
  free(buf);
  s.latest.attempt = 0;
  CHECK_OK(cairn__step_view_encode(&s, &buf, &n), NULL);
  CHECK_ERR(cairn__step_view_decode(buf, n, &s2), CAIRN_EDECODE,
            "a step with attempts but no latest attempt is damaged");
  free(buf);
  cairn_run_view v = {.status = CAIRN_RUN_FAILED, .last_seq = 9,
                      .rerun_step = S("b")}, v2 = {0};
  CHECK_OK(cairn__run_view_encode(&v, &buf, &n), NULL);
  CHECK_OK(cairn__run_view_decode(buf, n, &v2), NULL);
  CHECK(v2.status == CAIRN_RUN_FAILED && test_str_is(v2.rerun_step, "b"),
        "a run view survives the round trip");
  /* A view whose status is out of range is damaged, not trusted. */
  buf[1] = 0x7f;
  CHECK_ERR(cairn__run_view_decode(buf, n, &v2), CAIRN_EDECODE,
            "an unknown run status is refused");
  free(buf);
}

TEST(canonical_json_sorts_keys_and_refuses_duplicates) {
  char *a, *b;
  size_t na, nb, off;
  const char *x = "{ \"b\": [1, {\"z\":1,\"y\":2}], \"a\": \"s\" }";
  const char *y = "{\"a\":\"s\",\"b\":[1,{\"y\":2,\"z\":1}]}";
  CHECK_OK(cairn__json_canonical(x, strlen(x), &a, &na, &off), NULL);
  CHECK_OK(cairn__json_canonical(y, strlen(y), &b, &nb, &off), NULL);
  CHECK_STR(a, "{\"a\":\"s\",\"b\":[1,{\"y\":2,\"z\":1}]}",
            "keys are sorted at every level, whitespace dropped");
  CHECK_STR(a, b, "key order does not change the canonical form");
  free(a);
  free(b);
  const char *dup = "{\"a\":1,\"a\":2}";
  CHECK_ERR(cairn__json_canonical(dup, strlen(dup), &a, &na, &off),
            CAIRN_EINVAL, "a repeated key is refused");
  const char *bad = "{\"a\":}";
  CHECK_ERR(cairn__json_canonical(bad, strlen(bad), &a, &na, &off),
            CAIRN_EINVAL, "invalid JSON is refused");
  CHECK_EQ(off, 5, "the error position points at the bad byte");
}

TEST(uuid7_ids_are_well_formed_and_time_ordered) {
  char a[37], b[37];
  CHECK_OK(cairn__uuid7(a), NULL);
  CHECK(cairn__is_uuid(a), "a generated id is a UUID");
  CHECK_EQ(a[14], '7', "the version nibble is 7");
  CHECK(strchr("89ab", a[19]) != NULL, "the variant is RFC 9562");
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, NULL);
  CHECK_OK(cairn__uuid7(b), NULL);
  CHECK(strcmp(a, b) < 0, "a later id sorts after an earlier one");
}

TEST(error_table_names_codes_and_exit_statuses) {
  CHECK_STR(cairn_err_name(CAIRN_ENOTFOUND), "CAIRN_ENOTFOUND", "name");
  CHECK_EQ(cairn_err_exit_code(CAIRN_ENOTFOUND), 3, "not found exits 3");
  CHECK_EQ(cairn_err_exit_code(CAIRN_ECONFLICT), 4, "conflict exits 4");
  CHECK_EQ(cairn_err_exit_code(CAIRN_EINVAL), 2, "usage exits 2");
  CHECK_EQ(cairn_err_exit_code(0), 0, "success exits 0");
  CHECK_EQ(cairn_err_exit_code(-9999), 1, "unknown codes exit 1");
  CHECK_STR(cairn_strerror(-9999), "unknown error", "never NULL");
  CHECK_STR(cairn_err_name(-9999), "CAIRN_EUNKNOWN", "never NULL");
}

TEST(docs_error_table_matches_the_code) {
  FILE *f = fopen(CAIRN_SOURCE_DIR "/docs/errors.md", "r");
  CHECK(f != NULL, "docs/errors.md exists");
  char line[512];
  int rows = 0;
  while (fgets(line, sizeof line, f))
    rows += strncmp(line, "| CAIRN_", 8) == 0;
  fclose(f);
  char want[512];
  int expected = 0;
#define ROW(name, num, exit, msg)                                          \
  snprintf(want, sizeof want, "| CAIRN_%s | %d | %d | %s |", #name, num,    \
           exit, msg);                                                     \
  expected++;                                                              \
  {                                                                        \
    FILE *g = fopen(CAIRN_SOURCE_DIR "/docs/errors.md", "r");              \
    bool found = false;                                                    \
    while (g && fgets(line, sizeof line, g))                               \
      found |= strncmp(line, want, strlen(want)) == 0;                     \
    if (g)                                                                 \
      fclose(g);                                                           \
    if (!found)                                                            \
      FAIL("docs/errors.md lacks the row: %s", want);                      \
  }
  CAIRN_ERR_MAP(ROW)
#undef ROW
  CHECK_EQ(rows, expected, "docs/errors.md has one row per error code");
}
