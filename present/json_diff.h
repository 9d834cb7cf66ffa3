/*
 * json_diff.h — a structural diff of two JSON values (cJSON trees), for
 * `cairn diff` and anything else that must say what changed between two
 * documents field by field.
 *
 * The result is a list of changes, each naming where it is with a jq path
 * that reads the value (`.a.b[2]`, `.["a b"]`), so a script can feed a
 * path straight to jq. The rules are in json_diff.c's design comment.
 */
#ifndef CAIRN_PRESENT_JSON_DIFF_H
#define CAIRN_PRESENT_JSON_DIFF_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/*
 * Compares `a` (before) with `b` (after). Either may be NULL, meaning
 * "absent" (different from a JSON null): absent → value is one "added"
 * change at ".", value → absent one "removed" change.
 *
 * Returns a new cJSON array, empty when the two are equal, to be freed
 * with cJSON_Delete; NULL only when memory ran out. Each element is
 *   {"path": ".a[1]", "change": "changed", "before": 1, "after": 2}
 * where "change" is "added" (no "before"), "removed" (no "after") or
 * "changed" (both). Values are copies: the result does not borrow from
 * `a` or `b`. Order: depth first, object keys in byte order, array items
 * in index order. Thread-safe for distinct or read-only inputs.
 */
cJSON *present_json_diff(const cJSON *a, const cJSON *b);

/* Whether present_json_diff(a, b) would be empty, without building it (NULL
 * is absent, as above). Stops at the first difference; allocates only
 * scratch space to sort object keys, and answers false when that fails. */
bool present_json_equal(const cJSON *a, const cJSON *b);

#endif
