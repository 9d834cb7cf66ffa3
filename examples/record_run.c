/*
 * record_run.c — embedding the journal: a three-step pipeline whose every
 * step is recorded durably, the way the engine records steps.
 *
 *   example_record_run [--home DIR] [FILE]
 *
 * Steps: `read` (the file's size and first line), `count` (lines and
 * words), `report` (a one-line summary). Each step's step.started is
 * committed before the step does its work, and its step.completed (with
 * the output as JSON) after, so a crash leaves a history that says exactly
 * which steps finished. Then try `cairn history RUN_ID` and
 * `cairn journal verify`.
 */
#include <cairn/cairn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const char definition[] =
    "{\"name\":\"file_report\",\"steps\":["
    "{\"name\":\"read\",\"kind\":\"native\"},"
    "{\"name\":\"count\",\"kind\":\"native\"},"
    "{\"name\":\"report\",\"kind\":\"native\"}]}";

static int64_t now_us(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Commits one batch holding `n` events for `run`. */
static int record(cairn_journal *j, const char *run, const cairn_event *ev,
                  size_t n) {
  cairn_batch *b;
  int rc = cairn_batch_new(j, &b);
  if (rc == 0 && (rc = cairn_batch_append(b, run, ev, n)) >= 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  if (rc < 0)
    fprintf(stderr, "record: %s: %s\n", cairn_strerror(rc),
            cairn_journal_errmsg(j));
  return rc < 0 ? rc : 0;
}

/* Runs step `name`: records its start, calls work(), records the result. */
static int step(cairn_journal *j, const char *run, const char *name,
                const char *output) {
  cairn_event start = {.type = CAIRN_EV_STEP_STARTED,
                       .step = {name, strlen(name)},
                       .attempt = 1};
  int64_t t0 = now_us();
  if (record(j, run, &start, 1))
    return 1;
  cairn_event done = {.type = CAIRN_EV_STEP_COMPLETED,
                      .step = {name, strlen(name)},
                      .attempt = 1,
                      .output = {output, strlen(output)},
                      .duration_us = now_us() - t0};
  return record(j, run, &done, 1) ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *home = getenv("CAIRN_HOME");
  const char *file = "/etc/os-release";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
      home = argv[++i];
    else
      file = argv[i];
  }
  if (home == NULL)
    home = "./.cairn";

  char err[512] = "", hash[65], run[37], wf[64], input[600];
  cairn_journal *j;
  if (cairn_journal_open(home, NULL, &j, err, sizeof err) != 0) {
    fprintf(stderr, "example: %s\n", err);
    return 1;
  }
  snprintf(wf, sizeof wf, "file_report-%lld", (long long)(now_us() % 1000000000));
  snprintf(input, sizeof input, "{\"file\":\"%s\"}", file);

  /* Store the definition and start the run in one transaction. */
  cairn_batch *b;
  cairn_run_spec spec = {.workflow_id = wf, .def_hash = hash,
                         .input = {input, strlen(input)},
                         .actor = getenv("USER")};
  int rc = cairn_batch_new(j, &b);
  if (rc == 0)
    rc = cairn_batch_put_definition(b, NULL, "file_report", definition,
                                    strlen(definition), hash);
  if (rc >= 0)
    rc = cairn_batch_create_run(b, &spec, run);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  if (rc < 0) {
    fprintf(stderr, "example: %s\n", cairn_journal_errmsg(j));
    cairn_journal_close(j);
    return 1;
  }

  /* read */
  FILE *f = fopen(file, "r");
  char line[256] = "", out[1024];
  long lines = 0, words = 0, bytes = 0;
  bool in_word = false;
  if (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n\"\\")] = '\0';
    rewind(f);
  }
  for (int c; f && (c = fgetc(f)) != EOF; bytes++) {
    lines += c == '\n';
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    words += !space && !in_word;
    in_word = !space;
  }
  if (f)
    fclose(f);
  snprintf(out, sizeof out, "{\"bytes\":%ld,\"first_line\":\"%s\"}", bytes,
           line);
  rc = step(j, run, "read", out);
  /* count */
  snprintf(out, sizeof out, "{\"lines\":%ld,\"words\":%ld}", lines, words);
  rc = rc ? rc : step(j, run, "count", out);
  /* report */
  snprintf(out, sizeof out, "\"%s: %ld lines, %ld words, %ld bytes\"", file,
           lines, words, bytes);
  rc = rc ? rc : step(j, run, "report", out);
  cairn_event end = {.type = CAIRN_EV_RUN_COMPLETED,
                     .output = {out, strlen(out)}};
  rc = rc ? rc : record(j, run, &end, 1);
  cairn_journal_close(j);
  if (rc)
    return 1;
  printf("workflow %s\nrun %s\nresult %s\n", wf, run, out);
  printf("see it:   cairn --home %s history %s\n", home, run);
  printf("check it: cairn --home %s journal verify\n", home);
  return 0;
}
