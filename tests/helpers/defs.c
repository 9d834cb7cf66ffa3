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

void test_def_error(const char *doc, const char *want) {
  const char *json = J(doc);
  cairn__def *d = NULL;
  char err[512] = "";
  CHECK_ERR(cairn__def_parse(json, strlen(json), test_ocr_is_native, NULL, &d,
                             err, sizeof err),
            CAIRN_EINVAL, "the definition must be refused");
  CHECK(d == NULL, "no definition is returned on error");
  CHECK_STR(err, want, "the validation message");
}
