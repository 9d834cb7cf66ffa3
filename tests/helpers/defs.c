/*
 * defs.c — definitions parsed as the engine parses them (defs.h).
 */
#include "defs.h"

#include "../test.h"
#include "kind.h"

bool test_ocr_is_native(void *ctx, const char *kind) {
  (void)ctx;
  return strcmp(kind, "ocr") == 0;
}

cairn__def *test_def_ok(const char *doc) {
  const char *json = J(doc);
  cairn__def *d = NULL;
  char err[512] = "";
  int rc = cairn__def_parse(json, strlen(json), test_ocr_is_native, NULL, &d, err,
                            sizeof err);
  if (rc)
    FAIL("parse %s: %s %s", json, cairn_err_name(rc), err);
  return d;
}

/* Parses `doc`, which must be refused; its message in err. */
static void refused(const char *doc, char *err, size_t errlen) {
  const char *json = J(doc);
  cairn__def *d = NULL;
  CHECK_ERR(cairn__def_parse(json, strlen(json), test_ocr_is_native, NULL, &d,
                             err, errlen),
            CAIRN_EINVAL, "the definition must be refused");
  CHECK(d == NULL, "no definition is returned on error");
}

void test_def_error(const char *doc, const char *want) {
  char err[512] = "";
  refused(doc, err, sizeof err);
  CHECK_STR(err, want, "the validation message");
}

void test_def_error_start(const char *doc, const char *want) {
  char err[512] = "";
  refused(doc, err, sizeof err);
  if (strncmp(err, want, strlen(want)) != 0)
    FAIL("the message \"%s\" does not start with \"%s\"", err, want);
}
