/*
 * defs.h — parsing definitions in the C tests of the workflow language and
 * the step kinds (test_definition.c, test_llm.c): the engine's parser with
 * its kind table, and "ocr" standing for a registered native kind. The
 * documents are written with ' for " (J in test.h).
 */
#ifndef CAIRN_TEST_DEFS_H
#define CAIRN_TEST_DEFS_H

#include "definition.h"

/* Answers true for "ocr", the native kind the tests pretend is
 * registered (a cairn__native_kind_fn). */
bool test_ocr_is_native(void *ctx, const char *kind);

/* The definition of `doc` (J-quoted); the test fails when it is refused. */
cairn__def *test_def_ok(const char *doc);
/* The definition of `doc` must be refused with exactly message `want`
 * (and no definition returned). */
void test_def_error(const char *doc, const char *want);
/* The same, for messages whose tail (jq's words) may vary: the message
 * starts with `want`. */
void test_def_error_start(const char *doc, const char *want);

#endif
