/*
 * viewer_fixture.c — writes the big run the viewer benchmark opens
 * (bench/viewer.sh): one completed run of STEPS steps in branches of four
 * (the steps of a branch run side by side), each step failing ATTEMPTS-1
 * times before it completes, so the run has 1 + 2 * STEPS * ATTEMPTS + 1
 * events (10,000 steps x 5 attempts = 100,002). Written with the journal's
 * public batch API, no_sync, in a few seconds.
 *
 *   bench_viewer_fixture HOME [STEPS] [ATTEMPTS]
 *
 * Prints the run id.
 */
#include <cairn/cairn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) ((cairn_str){lit, sizeof lit - 1})

static void die(const char *what, int rc, cairn_journal *j) {
  fprintf(stderr, "bench_viewer_fixture: %s: %s (%s)\n", what,
          cairn_strerror(rc), j ? cairn_journal_errmsg(j) : "");
  exit(1);
}

static cairn_str str(const char *s) { return (cairn_str){s, strlen(s)}; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_viewer_fixture HOME [STEPS] [ATTEMPTS]\n");
    return 2;
  }
  long steps = argc > 2 ? atol(argv[2]) : 10000;
  long attempts = argc > 3 ? atol(argv[3]) : 5;
  if (steps < 1 || steps > 99999 || attempts < 1 || attempts > 100) {
    fprintf(stderr, "bench_viewer_fixture: STEPS takes 1..99999 and ATTEMPTS 1..100\n");
    return 2;
  }
  cairn_journal_options o = {.initial_map_bytes = 512u << 20,
                             .no_sync = true};
  char err[512];
  cairn_journal *j;
  int rc = cairn_journal_open(argv[1], &o, &j, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_viewer_fixture: %s\n", err);
    return 1;
  }
  /* The definition: STEPS exec steps; step i needs the last of the
   * branch before its own (branches of four run side by side). */
  size_t cap = (size_t)steps * 120 + 64, len = 0;
  char *def = malloc(cap);
  len += (size_t)snprintf(def + len, cap - len, "{\"name\":\"big\",\"steps\":[");
  for (long i = 0; i < steps; i++) {
    char needs[40] = "";
    if (i >= 4)
      snprintf(needs, sizeof needs, ",\"needs\":[\"s%05ld\"]", (i / 4) * 4 - 1);
    len += (size_t)snprintf(def + len, cap - len,
                            "%s{\"name\":\"s%05ld\",\"kind\":\"exec\","
                            "\"with\":{\"command\":[\"true\"]}%s}",
                            i ? "," : "", i, needs);
  }
  len += (size_t)snprintf(def + len, cap - len, "]}");
  cairn_batch *b;
  char hash[CAIRN_HASH_HEX_LEN + 1], run_id[CAIRN_RUN_ID_LEN + 1];
  if ((rc = cairn_batch_new(j, &b)) ||
      (rc = cairn_batch_put_definition(b, NULL, "big", def, len, hash)) < 0)
    die("storing the definition", rc, j);
  int64_t t = 1796600000000000; /* a fixed start: 2026-12 */
  cairn_run_spec spec = {.workflow_id = "big-viewer", .def_hash = hash,
                         .input = S("{\"size\":\"big\"}"), .actor = "bench",
                         .time_us = t};
  if ((rc = cairn_batch_create_run(b, &spec, run_id)) ||
      (rc = cairn_batch_commit(b)))
    die("creating the run", rc, j);
  cairn_batch_free(b);
  /* Each branch of four: every step's attempts, 1 ms each. */
  cairn_event *ev = calloc((size_t)(2 * attempts * 4 + 1), sizeof *ev);
  char names[4][24];
  for (long g = 0; g < steps; g += 4) {
    if ((rc = cairn_batch_new(j, &b)))
      die("a batch", rc, j);
    size_t n = 0;
    int64_t t0 = t;
    for (long i = g; i < g + 4 && i < steps; i++) {
      char *name = names[i - g];
      snprintf(name, sizeof names[0], "s%05ld", i);
      for (long a = 1; a <= attempts; a++) {
        int64_t at = t0 + (a - 1) * 1000 + (i - g) * 50;
        ev[n++] = (cairn_event){.type = CAIRN_EV_STEP_STARTED, .time_us = at,
                                .step = str(name), .attempt = (uint32_t)a,
                                .input = S("{\"command\":[\"true\"]}")};
        if (a < attempts)
          ev[n++] = (cairn_event){
              .type = CAIRN_EV_STEP_FAILED, .time_us = at + 900,
              .step = str(name), .attempt = (uint32_t)a,
              .error_code = S("exit_status"),
              .error_message = S("exit status 1: flaky"),
              .retryable = true, .duration_us = 900};
        else
          ev[n++] = (cairn_event){
              .type = CAIRN_EV_STEP_COMPLETED, .time_us = at + 900,
              .step = str(name), .attempt = (uint32_t)a,
              .output = S("{\"ok\":true}"), .duration_us = 900};
      }
    }
    t = t0 + attempts * 1000 + 200;
    if ((rc = cairn_batch_append(b, run_id, ev, n)) < 0 ||
        (rc = cairn_batch_commit(b)))
      die("appending", rc, j);
    cairn_batch_free(b);
  }
  cairn_event done = {.type = CAIRN_EV_RUN_COMPLETED, .time_us = t,
                      .output = S("{\"steps\":\"all\"}")};
  if ((rc = cairn_batch_new(j, &b)) ||
      (rc = cairn_batch_append(b, run_id, &done, 1)) < 0 ||
      (rc = cairn_batch_commit(b)))
    die("completing the run", rc, j);
  cairn_batch_free(b);
  cairn_journal_close(j);
  free(ev);
  free(def);
  printf("%s\n", run_id);
  return 0;
}
