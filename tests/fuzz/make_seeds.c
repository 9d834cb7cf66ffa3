/* make_seeds.c — writes a few valid encoded events into DIR as the fuzz
 * corpus's starting points (run by the fuzz test before fuzzing). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put(const char *dir, int i, const char *buf, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/seed-%d", dir, i);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(buf, 1, n, f) != n)
    exit(1);
  fclose(f);
}

int main(int argc, char **argv) {
  if (argc != 2)
    return 2;
  cairn_event evs[] = {
      {.type = CAIRN_EV_RUN_STARTED, .seq = 1, .time_us = 1,
       .run_id = {"01a1fcac-d28c-7e80-b22b-5b2ada5dcfb3", 36},
       .workflow_id = {"wf", 2}, .input = {"{\"a\":1}", 7},
       .origin_kind = 1, .parent_run_id = {"p", 1}},
      {.type = CAIRN_EV_STEP_COMPLETED, .seq = 3, .time_us = 2,
       .step = {"fetch", 5}, .attempt = 1, .output = {"[1,2]", 5},
       .duration_us = 99},
      {.type = CAIRN_EV_STEP_FAILED, .seq = 4, .step = {"x", 1},
       .attempt = 2, .error_code = {"e", 1}, .retryable = true,
       .details = {"{}", 2}},
      {.type = CAIRN_EV_STEP_REUSED, .seq = 2, .step = {"y", 1},
       .ref_run = {"r", 1}, .ref_seq = 9}};
  int i = 0;
  for (; i < (int)(sizeof evs / sizeof evs[0]); i++) {
    char *buf;
    size_t n;
    if (cairn_event_encode(&evs[i], &buf, &n) != 0)
      return 1;
    put(argv[1], i, buf, n);
    free(buf);
  }
  cairn_step_view sv = {.status = 2, .attempts = 1, .out_seq = 3};
  cairn_run_view rv = {.status = 1, .last_seq = 3};
  char *buf;
  size_t n;
  if (cairn__step_view_encode(&sv, &buf, &n) == 0) {
    put(argv[1], i++, buf, n);
    free(buf);
  }
  if (cairn__run_view_encode(&rv, &buf, &n) == 0) {
    put(argv[1], i++, buf, n);
    free(buf);
  }
  return 0;
}
