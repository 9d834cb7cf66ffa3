/*
 * journal_writer.c — a process that appends to a journal and says exactly
 * what it committed, and the test-side code that checks a journal
 * against what such processes said.
 *
 *   journal_writer --home DIR --tag TAG [--seed N] [--batches N]
 *                  [--map BYTES] [--pad N] [--append-to RUN_ID]...
 *                  [--report-lag-us N] [--wait-go]
 *
 * The writer prints "R" once the journal is open (with --wait-go it then
 * waits for one byte on stdin) and commits batches 1, 2, 3, ... (forever,
 * or N of them) with durable commits. After each successful
 * cairn_batch_commit (and a pause of --report-lag-us) it writes one line
 * with one write(2), so a reader receives whole lines only (a pipe write
 * of at most PIPE_BUF bytes is atomic):
 *
 *   C <batch> <kind> <run_id> <first_seq> <n> [<kind> <run_id> ...]
 *
 * one group per operation of the batch, in order. Kinds: `c` created the
 * run (its event 1, run.started), `a` appended n events, `e` appended n
 * events of which the last is run.completed. Batches hold 1..4 operations
 * and about 1..50 events; some touch several runs, some create a run and
 * append to it at once. Runs given with --append-to (created by someone
 * else, e.g. a run two writers share) are appended to but never ended.
 * After the last of N batches it prints "S <map_bytes> <used_bytes>" from
 * its journal's stats.
 *
 * Self-describing events. Every event's `reason` field holds its place:
 *
 *   jw <tag> <batch> <op> <n_ops> <kind> <n> <pad> <i>
 *
 * and everything else about it (type, step name, attempt, JSON fields) is
 * a pure function of that place (jw_event). So a checker can attribute
 * each event in a journal to the batch and operation that wrote it, and
 * recompute what it must contain, even for a batch whose report line was
 * lost because the writer was killed between its commit and its print.
 * Step names embed the tag, batch and operation, so two writers never
 * share a step and every history obeys the lifecycle (journal/fold.c):
 * an operation is a sequence of units, each a step.started/step.completed
 * pair, a failed attempt retried (started, failed, retry_scheduled,
 * started attempt 2, completed) or a signal.received, then, for kind `e`,
 * run.completed.
 *
 * The test side: jw_spawn starts a writer, jw_pump collects its lines,
 * jw_kill and jw_finish end it, and jw_check reopens the journal and
 * holds it against every writer's lines (see jw_check). jw_write runs
 * the same writer inside a test process.
 *
 * Why one file for both sides: the writer and the checker must agree on
 * jw_event to the byte. The test files include this file with
 * JW_TEST_SIDE defined, which compiles the checker instead of main(), so
 * the two can never drift apart. A header with a separate object was
 * rejected: it would add files outside this helper for no gain.
 */
#include <cairn/cairn.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JW_MAX_OPS 4      /* operations in one batch */
#define JW_MAX_EVENTS 50  /* events in one batch, about */
#define JW_MAX_OPEN 6     /* runs of its own a writer keeps running */
#define JW_MAX_FOREIGN 8  /* --append-to runs */
#define JW_TAG_MAX 15     /* bytes of a writer's tag */
#define JW_PAD_MAX 4000   /* padding bytes in one event's JSON, at most */
/* Room for a JSON field: the fixed part plus the padding. */
#define JW_JSON_MAX (JW_PAD_MAX + 160)

/* What the tests call: a test file may leave some of it unused. */
#define JW_API static __attribute__((unused))

/* Every run's definition hash: the journal does not look it up. */
static const char jw_def_hash[] =
    "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/* One operation of a batch: the place every one of its events records. */
typedef struct jw_opdesc {
  char tag[JW_TAG_MAX + 1]; /* the writer */
  uint32_t batch;           /* the writer's batch number, from 1 */
  int op;                   /* index of the operation in the batch */
  int n_ops;                /* operations in the batch */
  char kind;                /* 'c', 'a' or 'e' (see the top) */
  uint32_t n;               /* events of the operation */
  uint32_t pad;             /* the writer's --pad */
} jw_opdesc;

/* Storage the strings of one generated event point into. */
typedef struct jw_evbuf {
  char step[64];
  char name[64];
  char reason[96];
  char json[JW_JSON_MAX];
  char json2[JW_JSON_MAX];
} jw_evbuf;

static cairn_str jw_str(const char *s) {
  return (cairn_str){s, strlen(s)};
}

/* A JSON object naming the event's place, padded by a length that varies
 * with the place from 0 to d->pad, so some events are big enough for
 * LMDB's overflow pages. */
static cairn_str jw_json(char *buf, const jw_opdesc *d, uint32_t i,
                         const char *what) {
  uint32_t len = d->pad ? (d->batch * 131u + i * 977u) % (d->pad + 1) : 0;
  int n = snprintf(buf, JW_JSON_MAX, "{\"%s\":\"%s\",\"b\":%" PRIu32
                   ",\"o\":%d,\"i\":%" PRIu32 ",\"pad\":\"",
                   what, d->tag, d->batch, d->op, i);
  for (uint32_t k = 0; k < len; k++)
    buf[n++] = (char)('a' + (d->batch + i + k) % 26);
  memcpy(buf + n, "\"}", 3);
  return (cairn_str){buf, (size_t)n + 2};
}

/* Unit shapes an operation's events are made of. */
enum { JW_PAIR = 2, JW_SIGNAL = 1, JW_RETRY = 5 };

/* Where event i of append operation `d` falls: the unit's number, its
 * shape and the position inside it. The last event of kind 'e' is
 * run.completed and belongs to no unit (*shape 0). */
static void jw_locate(const jw_opdesc *d, uint32_t i, uint32_t *unit,
                      int *shape, uint32_t *pos) {
  uint32_t m = d->kind == 'e' ? d->n - 1 : d->n;
  uint32_t at = 0;
  *unit = 0;
  *shape = 0;
  *pos = 0;
  if (i >= m)
    return;
  for (;; (*unit)++) {
    uint32_t left = m - at;
    int s = left >= JW_RETRY && *unit % 3 == 2 ? JW_RETRY
            : left >= JW_PAIR                  ? JW_PAIR
                                               : JW_SIGNAL;
    if (i < at + (uint32_t)s) {
      *shape = s;
      *pos = i - at;
      return;
    }
    at += (uint32_t)s;
  }
}

/* The step events of one unit, by shape and position. */
static void jw_unit_event(const jw_opdesc *d, uint32_t i, int shape,
                          uint32_t pos, cairn_event *ev, jw_evbuf *buf) {
  static const int retry[] = {CAIRN_EV_STEP_STARTED, CAIRN_EV_STEP_FAILED,
                              CAIRN_EV_STEP_RETRY_SCHEDULED,
                              CAIRN_EV_STEP_STARTED,
                              CAIRN_EV_STEP_COMPLETED};
  ev->step = jw_str(buf->step);
  if (shape == JW_PAIR)
    ev->type = pos == 0 ? CAIRN_EV_STEP_STARTED : CAIRN_EV_STEP_COMPLETED;
  else
    ev->type = retry[pos];
  ev->attempt = shape == JW_RETRY && pos >= 2 ? 2 : 1;
  switch (ev->type) {
  case CAIRN_EV_STEP_STARTED:
    ev->input = jw_json(buf->json, d, i, "in");
    break;
  case CAIRN_EV_STEP_COMPLETED:
    ev->output = jw_json(buf->json, d, i, "out");
    ev->duration_us = 1000 + i;
    break;
  case CAIRN_EV_STEP_FAILED:
    ev->error_code = jw_str("jw_flaky");
    ev->error_message = jw_str("the first attempt fails by design");
    ev->details = jw_json(buf->json, d, i, "err");
    ev->retryable = true;
    ev->duration_us = 500 + i;
    break;
  default: /* step.retry_scheduled */
    ev->delay_ms = 5;
    break;
  }
}

/*
 * Fills `ev` with event i of operation `d`, as the writer appends it
 * (seq and time_us 0: the journal assigns them). Its strings point into
 * `buf`. For kind 'c' it is the run.started that cairn_batch_create_run
 * writes from the run spec jw_commit builds out of it.
 */
static void jw_event(const jw_opdesc *d, uint32_t i, cairn_event *ev,
                     jw_evbuf *buf) {
  uint32_t unit, pos;
  int shape;
  memset(ev, 0, sizeof *ev);
  snprintf(buf->reason, sizeof buf->reason,
           "jw %s %" PRIu32 " %d %d %c %" PRIu32 " %" PRIu32 " %" PRIu32,
           d->tag, d->batch, d->op, d->n_ops, d->kind, d->n, d->pad, i);
  ev->reason = jw_str(buf->reason);
  if (d->kind == 'c') {
    snprintf(buf->step, sizeof buf->step, "jw-%s-%" PRIu32 "-%d", d->tag,
             d->batch, d->op);
    ev->type = CAIRN_EV_RUN_STARTED;
    ev->workflow_id = jw_str(buf->step);
    ev->input = jw_json(buf->json, d, i, "run");
    ev->ns = jw_str("default");
    ev->def_hash = jw_str(jw_def_hash);
    return;
  }
  jw_locate(d, i, &unit, &shape, &pos);
  if (shape == 0) {
    ev->type = CAIRN_EV_RUN_COMPLETED;
    ev->output = jw_json(buf->json, d, i, "result");
    return;
  }
  if (shape == JW_SIGNAL) {
    snprintf(buf->name, sizeof buf->name, "sig.%s.%" PRIu32 ".%d.%" PRIu32,
             d->tag, d->batch, d->op, unit);
    ev->type = CAIRN_EV_SIGNAL_RECEIVED;
    ev->name = jw_str(buf->name);
    ev->output = jw_json(buf->json2, d, i, "sig");
    return;
  }
  snprintf(buf->step, sizeof buf->step, "%s.%" PRIu32 ".%d.%" PRIu32,
           d->tag, d->batch, d->op, unit);
  jw_unit_event(d, i, shape, pos, ev, buf);
}

/* Receives one report line (with its newline). */
typedef void (*jw_report_cb)(void *ctx, const char *line);

/* Event buffers for one batch: static because a batch is built by one
 * thread at a time and they are too big for the stack. */
static jw_evbuf jw_bufs[JW_MAX_EVENTS + JW_MAX_OPS];
static cairn_event jw_evs[JW_MAX_EVENTS + JW_MAX_OPS];

/* Adds operation `d` to `b`, on run `id` (written for kind 'c').
 * Returns 0 or a cairn error (errmsg of j). */
static int jw_add_op(cairn_batch *b, const jw_opdesc *d,
                     char id[CAIRN_RUN_ID_LEN + 1]) {
  if (d->kind == 'c') {
    jw_event(d, 0, &jw_evs[0], &jw_bufs[0]);
    cairn_run_spec spec = {.workflow_id = jw_bufs[0].step,
                           .def_hash = jw_def_hash,
                           .input = jw_evs[0].input,
                           .reason = jw_evs[0].reason};
    return cairn_batch_create_run(b, &spec, id);
  }
  for (uint32_t i = 0; i < d->n; i++)
    jw_event(d, i, &jw_evs[i], &jw_bufs[i]);
  int rc = cairn_batch_append(b, id, jw_evs, d->n);
  return rc < 0 ? rc : 0;
}

/*
 * Builds and commits one batch of the operations d[0..n_ops), operation k
 * on run ids[k]. A 'c' operation writes the new run's id to ids[k]; an
 * operation whose ids[k] is "" acts on the run of operation k-1 (create
 * and append in one batch). After the commit, reports the line through
 * `cb`. Returns 0 or a cairn error, with the journal's errmsg on stderr.
 */
JW_API int jw_commit(cairn_journal *j, const jw_opdesc *d, int n_ops,
                     char ids[][CAIRN_RUN_ID_LEN + 1], jw_report_cb cb,
                     void *ctx) {
  char line[64 + JW_MAX_OPS * (CAIRN_RUN_ID_LEN + 32)];
  int op_index[JW_MAX_OPS];
  cairn_batch *b = NULL;
  int rc = cairn_batch_new(j, &b);
  for (int k = 0; rc == 0 && k < n_ops; k++) {
    if (d[k].kind != 'c' && ids[k][0] == '\0' && k > 0)
      memcpy(ids[k], ids[k - 1], CAIRN_RUN_ID_LEN + 1);
    op_index[k] = (int)cairn_batch_size(b);
    rc = jw_add_op(b, &d[k], ids[k]);
  }
  if (rc == 0)
    rc = cairn_batch_commit(b);
  if (rc != 0) {
    fprintf(stderr, "journal_writer %s: batch %" PRIu32 ": %s: %s\n",
            d[0].tag, d[0].batch, cairn_err_name(rc),
            cairn_journal_errmsg(j));
    cairn_batch_free(b);
    return rc;
  }
  int len = snprintf(line, sizeof line, "C %" PRIu32, d[0].batch);
  for (int k = 0; k < n_ops; k++) {
    uint32_t first = d[k].kind == 'c' ? 1
                                      : cairn_batch_first_seq(b, op_index[k]);
    len += snprintf(line + len, sizeof line - (size_t)len,
                    " %c %s %" PRIu32 " %" PRIu32, d[k].kind, ids[k], first,
                    d[k].n);
  }
  snprintf(line + len, sizeof line - (size_t)len, "\n");
  cairn_batch_free(b);
  cb(ctx, line);
  return 0;
}

/* What a writer does: jw_write's input. */
typedef struct jw_config {
  const char *tag;     /* names its runs, steps and events */
  uint64_t seed;       /* its choices; the same seed, the same batches */
  uint32_t batches;    /* how many; 0 = until killed */
  uint32_t pad;        /* padding bytes per event, at most JW_PAD_MAX */
  const char *append_to[JW_MAX_FOREIGN]; /* runs of others */
  size_t n_append_to;
} jw_config;

/* A run the writer appends to. */
typedef struct jw_run {
  char id[CAIRN_RUN_ID_LEN + 1];
  bool foreign; /* --append-to: never ended by this writer */
  bool ending;  /* the batch being built ends it */
} jw_run;

/* xorshift64*: the same choices on every platform for one seed. */
static uint32_t jw_rand(uint64_t *s, uint32_t below) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (uint32_t)((*s * 2685821657736338717ull) >> 33) % below;
}

/* Chooses the operations of one batch, their kinds and their runs:
 * target[k] is an index into `open`, or -1 for a run the batch creates.
 * Returns how many operations. */
static int jw_plan(uint64_t *rng, jw_run *open, size_t n_open,
                   jw_opdesc *d, int *target) {
  uint32_t r = jw_rand(rng, 100);
  int want = r < 55 ? 1 : r < 85 ? 2 : 3, k = 0;
  size_t own = 0;
  for (size_t i = 0; i < n_open; i++)
    own += !open[i].foreign;
  while (k < want && k < JW_MAX_OPS) {
    size_t idx = n_open ? jw_rand(rng, (uint32_t)n_open) : 0;
    bool can_create = own < JW_MAX_OPEN;
    if (can_create && (n_open == 0 || open[idx].ending ||
                       jw_rand(rng, 100) < 15)) {
      own++;
      d[k].kind = 'c';
      target[k++] = -1;
      if (k < JW_MAX_OPS && jw_rand(rng, 2)) {
        d[k].kind = 'a';
        target[k++] = -1;
      }
      continue;
    }
    if (n_open == 0 || open[idx].ending)
      break;
    bool end = !open[idx].foreign && jw_rand(rng, 100) < 8;
    open[idx].ending = end;
    d[k].kind = end ? 'e' : 'a';
    target[k++] = (int)idx;
  }
  return k;
}

/* Gives the batch's append operations their sizes: together about
 * 1..JW_MAX_EVENTS events, each at least 1. */
static void jw_size(uint64_t *rng, jw_opdesc *d, int n_ops) {
  uint32_t appends = 0;
  for (int k = 0; k < n_ops; k++)
    appends += d[k].kind != 'c';
  uint32_t total = 1 + jw_rand(rng, JW_MAX_EVENTS - (uint32_t)n_ops);
  for (int k = 0; k < n_ops; k++) {
    if (d[k].kind == 'c') {
      d[k].n = 1;
      continue;
    }
    d[k].n = total / appends ? total / appends : 1;
    if (total % appends && total > appends) {
      d[k].n += total % appends;
      total -= total % appends;
    }
  }
}

/* After a commit: runs created join `open`, runs ended leave it. */
static size_t jw_update_open(jw_run *open, size_t n_open, const jw_opdesc *d,
                             int n_ops, char ids[][CAIRN_RUN_ID_LEN + 1]) {
  for (int k = 0; k < n_ops; k++) {
    if (d[k].kind != 'c')
      continue;
    memcpy(open[n_open].id, ids[k], CAIRN_RUN_ID_LEN + 1);
    open[n_open].foreign = false;
    open[n_open++].ending = false;
  }
  size_t kept = 0;
  for (size_t i = 0; i < n_open; i++)
    if (!open[i].ending)
      open[kept++] = open[i];
  return kept;
}

/*
 * Commits c->batches batches (forever when 0) to `j` as described at the
 * top, reporting each through `cb`. Returns 0, or the first commit's error
 * (the run of batches stops there).
 */
JW_API int jw_write(cairn_journal *j, const jw_config *c, jw_report_cb cb,
                    void *ctx) {
  jw_run open[JW_MAX_OPEN + JW_MAX_FOREIGN];
  size_t n_open = 0;
  uint64_t rng = (c->seed * 0x9e3779b97f4a7c15ull) | 1; /* never 0 */
  for (size_t i = 0; i < c->n_append_to && i < JW_MAX_FOREIGN; i++) {
    snprintf(open[n_open].id, sizeof open[n_open].id, "%s",
             c->append_to[i]);
    open[n_open].foreign = true;
    open[n_open++].ending = false;
  }
  for (uint32_t batch = 1; c->batches == 0 || batch <= c->batches;
       batch++) {
    jw_opdesc d[JW_MAX_OPS];
    int target[JW_MAX_OPS];
    char ids[JW_MAX_OPS][CAIRN_RUN_ID_LEN + 1];
    memset(d, 0, sizeof d);
    int n_ops = jw_plan(&rng, open, n_open, d, target);
    jw_size(&rng, d, n_ops);
    for (int k = 0; k < n_ops; k++) {
      snprintf(d[k].tag, sizeof d[k].tag, "%s", c->tag);
      d[k].batch = batch;
      d[k].op = k;
      d[k].n_ops = n_ops;
      d[k].pad = c->pad;
      ids[k][0] = '\0';
      if (target[k] >= 0)
        memcpy(ids[k], open[target[k]].id, CAIRN_RUN_ID_LEN + 1);
    }
    int rc = jw_commit(j, d, n_ops, ids, cb, ctx);
    if (rc)
      return rc;
    n_open = jw_update_open(open, n_open, d, n_ops, ids);
  }
  return 0;
}

#ifndef JW_TEST_SIDE
/* ------------------------------------------------ the writer process */

#include <time.h>

/* The writer program's options. */
typedef struct jw_args {
  jw_config c;
  cairn_journal_options o;
  const char *home;
  bool wait_go;  /* wait for a byte on stdin before the first batch */
  long lag_us;   /* pause between a commit and its report */
} jw_args;

/* One line, in one write(2) so a pipe never splits it. */
static void jw_print(const char *line) {
  size_t len = strlen(line), done = 0;
  while (done < len) {
    ssize_t w = write(STDOUT_FILENO, line + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      exit(3); /* the test stopped listening */
    done += (size_t)w;
  }
}

/* Reports a commit, after --report-lag-us: the lag widens the moment in
 * which a kill finds a batch committed and not yet reported, as when a
 * worker dies after its commit but before it acts on it. */
static void jw_report_stdout(void *ctx, const char *line) {
  const jw_args *a = ctx;
  if (a->lag_us > 0) {
    struct timespec ts = {a->lag_us / 1000000, a->lag_us % 1000000 * 1000};
    nanosleep(&ts, NULL);
  }
  jw_print(line);
}

static int jw_usage(void) {
  fprintf(stderr, "usage: journal_writer --home DIR --tag TAG [--seed N] "
                  "[--batches N] [--map BYTES] [--pad N] "
                  "[--append-to RUN_ID]... [--report-lag-us N] "
                  "[--wait-go]\n");
  return 2;
}

/* Reads the options into *a; false when they are wrong. */
static bool jw_parse_args(int argc, char **argv, jw_args *a) {
  jw_config *c = &a->c;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(o, "--wait-go") == 0) {
      a->wait_go = true;
      continue;
    }
    if (v == NULL)
      return false;
    i++;
    if (strcmp(o, "--home") == 0)
      a->home = v;
    else if (strcmp(o, "--tag") == 0 && strlen(v) <= JW_TAG_MAX)
      c->tag = v;
    else if (strcmp(o, "--seed") == 0)
      c->seed = strtoull(v, NULL, 10);
    else if (strcmp(o, "--batches") == 0)
      c->batches = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(o, "--map") == 0)
      a->o.initial_map_bytes = strtoull(v, NULL, 10);
    else if (strcmp(o, "--pad") == 0 && atoi(v) <= JW_PAD_MAX)
      c->pad = (uint32_t)atoi(v);
    else if (strcmp(o, "--append-to") == 0 && c->n_append_to < JW_MAX_FOREIGN)
      c->append_to[c->n_append_to++] = v;
    else if (strcmp(o, "--report-lag-us") == 0)
      a->lag_us = atol(v);
    else
      return false;
  }
  return a->home != NULL && c->tag != NULL;
}

/* After the last batch: "S <map_bytes> <used_bytes>". */
static int jw_print_stats(cairn_journal *j) {
  cairn_journal_stats st;
  char line[64];
  int rc = cairn_journal_stats_get(j, &st);
  if (rc)
    return rc;
  snprintf(line, sizeof line, "S %" PRIu64 " %" PRIu64 "\n", st.map_bytes,
           st.used_bytes);
  jw_print(line);
  return 0;
}

int main(int argc, char **argv) {
  jw_args a = {.lag_us = 0};
  char err[512] = "", go;
  cairn_journal *j = NULL;
  if (!jw_parse_args(argc, argv, &a))
    return jw_usage();
  int rc = cairn_journal_open(a.home, &a.o, &j, err, sizeof err);
  if (rc) {
    fprintf(stderr, "journal_writer %s: %s: %s\n", a.c.tag,
            cairn_err_name(rc), err);
    return 1;
  }
  jw_print("R\n");
  if (a.wait_go && read(STDIN_FILENO, &go, 1) != 1) {
    cairn_journal_close(j);
    return 1;
  }
  rc = jw_write(j, &a.c, jw_report_stdout, &a);
  if (rc == 0)
    rc = jw_print_stats(j);
  cairn_journal_close(j);
  return rc ? 1 : 0;
}

#else
/* ------------------------------------------------- the test side */

#include "../test.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* One reported operation. */
typedef struct jw_op_report {
  char kind;
  char run_id[CAIRN_RUN_ID_LEN + 1];
  uint32_t first_seq;
  uint32_t n;
} jw_op_report;

/* One report line: batch rep[k] is batch k+1. */
typedef struct jw_batch_report {
  int n_ops;
  jw_op_report ops[JW_MAX_OPS];
} jw_batch_report;

/* What the check found of one operation in the journal. */
typedef struct jw_obs_op {
  uint32_t seen;      /* events found */
  uint32_t n;         /* events it should have */
  uint32_t first_seq; /* where its event 0 is */
  char kind;
  char run_id[CAIRN_RUN_ID_LEN + 1];
} jw_obs_op;

typedef struct jw_obs {
  int n_ops; /* 0: nothing of the batch was found */
  jw_obs_op ops[JW_MAX_OPS];
} jw_obs;

/* A writer as the test sees it: its process, its reports, and what the
 * last check found of it. */
typedef struct jw_writer {
  char tag[JW_TAG_MAX + 1];
  uint32_t pad;           /* its --pad */
  bool may_lose_last;     /* killed: the report of its last commit may
                             never have been written */
  jw_batch_report *rep;   /* its reports, batch 1 first */
  size_t n_rep, cap_rep;
  jw_obs *obs;            /* obs[b-1]: what the check found of batch b */
  size_t cap_obs;
  uint32_t lost;          /* found committed but unreported: 0 or 1 */
  uint64_t map_bytes;     /* its map size when it finished ("S") */
  uint64_t used_bytes;    /* and the bytes in use then */
  pid_t pid;              /* 0 when no process runs */
  int out, in;            /* its stdout (read) and stdin (write) */
  bool ready, eof;
  char buf[8192];         /* the unfinished line */
  size_t len;
} jw_writer;

JW_API void jw_writer_init(jw_writer *w, const char *tag, uint32_t pad) {
  memset(w, 0, sizeof *w);
  snprintf(w->tag, sizeof w->tag, "%s", tag);
  w->pad = pad;
  w->out = -1;
  w->in = -1;
}

JW_API void jw_writer_free(jw_writer *w) {
  free(w->rep);
  free(w->obs);
  w->rep = NULL;
  w->obs = NULL;
}

/* Takes one line from writer `w` ("R", or a commit report). */
static void jw_writer_line(jw_writer *w, const char *line) {
  jw_batch_report b = {0};
  uint32_t batch;
  int at = 0, used = 0;
  if (strcmp(line, "R\n") == 0) {
    w->ready = true;
    return;
  }
  if (sscanf(line, "S %" SCNu64 " %" SCNu64, &w->map_bytes,
             &w->used_bytes) == 2)
    return;
  if (sscanf(line, "C %" SCNu32 "%n", &batch, &at) != 1)
    FAIL("writer %s printed a line that is not a report: %s", w->tag, line);
  if (batch != w->n_rep + 1)
    FAIL("writer %s reported batch %" PRIu32 " after batch %zu: reports "
         "come in order, one per commit.", w->tag, batch, w->n_rep);
  while (b.n_ops < JW_MAX_OPS) {
    jw_op_report *o = &b.ops[b.n_ops];
    if (sscanf(line + at, " %c %36s %" SCNu32 " %" SCNu32 "%n", &o->kind,
               o->run_id, &o->first_seq, &o->n, &used) != 4)
      break;
    at += used;
    b.n_ops++;
  }
  if (b.n_ops == 0 || strspn(line + at, " \n") != strlen(line + at))
    FAIL("writer %s printed a malformed report: %s", w->tag, line);
  if (w->n_rep == w->cap_rep) {
    w->cap_rep = w->cap_rep ? 2 * w->cap_rep : 256;
    w->rep = realloc(w->rep, w->cap_rep * sizeof *w->rep);
    CHECK(w->rep != NULL, "The reports fit in memory.");
  }
  w->rep[w->n_rep++] = b;
}

/* jw_report_cb for a writer run in this process. */
JW_API void jw_report_to(void *ctx, const char *line) {
  jw_writer_line(ctx, line);
}

/* Starts the writer program for `w` on journal `home`; `args` are more
 * options (NULL-terminated, may be NULL). */
JW_API void jw_spawn(jw_writer *w, const char *home,
                     const char *const *args) {
  const char *argv[64] = {JOURNAL_WRITER, "--home", home, "--tag", w->tag,
                          "--pad"};
  char pad[16];
  size_t argc = 6;
  int out[2], in[2];
  snprintf(pad, sizeof pad, "%" PRIu32, w->pad);
  argv[argc++] = pad;
  for (size_t i = 0; args && args[i]; i++) {
    CHECK(argc + 1 < sizeof argv / sizeof argv[0],
          "The writer's options fit its argv.");
    argv[argc++] = args[i];
  }
  argv[argc] = NULL;
  signal(SIGPIPE, SIG_IGN);
  CHECK(pipe2(out, O_CLOEXEC) == 0 && pipe2(in, O_CLOEXEC) == 0,
        "Pipes to the writer can be made.");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  int rc = posix_spawn(&w->pid, JOURNAL_WRITER, &fa, NULL,
                       (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  CHECK(rc == 0, "The journal_writer helper can be started.");
  close(out[1]);
  close(in[0]);
  w->out = out[0];
  w->in = in[1];
  w->ready = false;
  w->eof = false;
  w->len = 0;
}

/* Reads what `w` has written; splits it into lines. */
static void jw_read(jw_writer *w) {
  CHECK(w->len + 1 < sizeof w->buf, "A writer's lines are short.");
  ssize_t got = read(w->out, w->buf + w->len, sizeof w->buf - 1 - w->len);
  if (got < 0 && errno == EINTR)
    return;
  if (got <= 0) {
    w->eof = true; /* a line without its newline was never reported */
    return;
  }
  w->len += (size_t)got;
  char *start = w->buf;
  for (;;) {
    char line[sizeof w->buf];
    char *nl = memchr(start, '\n', w->len - (size_t)(start - w->buf));
    if (nl == NULL)
      break;
    memcpy(line, start, (size_t)(nl - start) + 1);
    line[nl - start + 1] = '\0';
    jw_writer_line(w, line);
    start = nl + 1;
  }
  w->len -= (size_t)(start - w->buf);
  memmove(w->buf, start, w->len);
}

JW_API int64_t jw_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads from the writers until `until` (jw_now_ms; at least once, even
 * when it has passed) or until each has reached EOF. Returns whether any
 * is still open. */
JW_API bool jw_pump(jw_writer *const *ws, size_t n, int64_t until) {
  for (;;) {
    struct pollfd p[8];
    jw_writer *who[8];
    size_t np = 0;
    for (size_t i = 0; i < n && np < 8; i++)
      if (!ws[i]->eof && ws[i]->out >= 0) {
        p[np].fd = ws[i]->out;
        p[np].events = POLLIN;
        who[np++] = ws[i];
      }
    if (np == 0)
      return false;
    int64_t left = until - jw_now_ms();
    int rc = poll(p, np, left > 0 ? (int)left : 0);
    CHECK(rc >= 0 || errno == EINTR, "Polling the writers' pipes works.");
    for (size_t i = 0; rc > 0 && i < np; i++)
      if (p[i].revents)
        jw_read(who[i]);
    if (left <= 0)
      break;
  }
  for (size_t i = 0; i < n; i++)
    if (!ws[i]->eof && ws[i]->out >= 0)
      return true;
  return false;
}

/* Waits (at most 30 s) until writer `w` has opened the journal. */
JW_API void jw_wait_ready(jw_writer *w) {
  int64_t until = jw_now_ms() + 30000;
  while (!w->ready && !w->eof && jw_now_ms() < until)
    jw_pump(&w, 1, jw_now_ms() + 50);
  if (!w->ready)
    FAIL("writer %s never said it had opened the journal.", w->tag);
}

/* Reads `w` to its end (at most 60 s, else kills it and fails), closes
 * the pipes and reaps the process; returns its wait status. */
static int jw_reap(jw_writer *w) {
  int status = 0;
  if (jw_pump(&w, 1, jw_now_ms() + 60000)) {
    kill(w->pid, SIGKILL);
    FAIL("writer %s did not finish within 60 s.", w->tag);
  }
  CHECK(waitpid(w->pid, &status, 0) == w->pid, "The writer can be reaped.");
  close(w->out);
  close(w->in);
  w->out = w->in = -1;
  w->pid = 0;
  return status;
}

/* Kills `w` with SIGKILL, keeps every line it wrote before dying, and
 * checks that it was still running (it had not failed on its own). */
JW_API void jw_kill(jw_writer *w) {
  kill(w->pid, SIGKILL);
  w->may_lose_last = true;
  int status = jw_reap(w);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    FAIL("writer %s ended by itself (wait status %d) before it was killed; "
         "its stderr says why.", w->tag, status);
}

/* Waits for `w` to finish and checks it exited with status 0. */
JW_API void jw_finish(jw_writer *w) {
  int status = jw_reap(w);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("writer %s failed (wait status %d); its stderr says why.", w->tag,
         status);
}

/* ----------------------------------------------------------- the check */

/* What jw_check counted. */
typedef struct jw_check_stats {
  uint64_t runs;   /* runs in the journal */
  uint64_t events; /* events in the journal */
  uint32_t lost;   /* committed batches whose report was lost */
} jw_check_stats;

/* Reads an event's place from its reason; false if it has none. */
static bool jw_parse_place(cairn_str reason, jw_opdesc *d, uint32_t *i) {
  char text[96];
  int end = 0;
  if (reason.ptr == NULL || reason.len >= sizeof text)
    return false;
  memcpy(text, reason.ptr, reason.len);
  text[reason.len] = '\0';
  memset(d, 0, sizeof *d);
  if (sscanf(text, "jw %15s %" SCNu32 " %d %d %c %" SCNu32 " %" SCNu32
                   " %" SCNu32 "%n", d->tag, &d->batch, &d->op, &d->n_ops,
             &d->kind, &d->n, &d->pad, i, &end) != 8 ||
      (size_t)end != reason.len)
    return false;
  return d->batch > 0 && d->n_ops > 0 && d->n_ops <= JW_MAX_OPS &&
         d->op >= 0 && d->op < d->n_ops && d->n > 0 &&
         d->n <= JW_MAX_EVENTS && *i < d->n && d->pad <= JW_PAD_MAX &&
         (d->kind == 'a' || d->kind == 'e' || (d->kind == 'c' && d->n == 1));
}

static bool jw_str_eq(cairn_str a, cairn_str b) {
  if (a.ptr == NULL || b.ptr == NULL)
    return a.ptr == b.ptr;
  return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* The first field in which `got` differs from `want` (seq and time aside),
 * or NULL. */
static const char *jw_event_diff(const cairn_event *got,
                                 const cairn_event *want) {
  const struct { const char *name; cairn_str a, b; } s[] = {
      {"step", got->step, want->step},
      {"input", got->input, want->input},
      {"output", got->output, want->output},
      {"error_code", got->error_code, want->error_code},
      {"error_message", got->error_message, want->error_message},
      {"details", got->details, want->details},
      {"reason", got->reason, want->reason},
      {"ref_run", got->ref_run, want->ref_run},
      {"name", got->name, want->name},
      {"meta", got->meta, want->meta},
      {"run_id", got->run_id, want->run_id},
      {"workflow_id", got->workflow_id, want->workflow_id},
      {"ns", got->ns, want->ns},
      {"def_hash", got->def_hash, want->def_hash},
      {"parent_run_id", got->parent_run_id, want->parent_run_id},
      {"origin_point", got->origin_point, want->origin_point},
      {"actor", got->actor, want->actor}};
  if (got->type != want->type)
    return "type";
  if (got->attempt != want->attempt || got->retryable != want->retryable ||
      got->dry_run != want->dry_run || got->duration_us != want->duration_us ||
      got->delay_ms != want->delay_ms || got->fire_at_us != want->fire_at_us ||
      got->ref_seq != want->ref_seq || got->origin_kind != want->origin_kind)
    return "a number or flag";
  for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
    if (!jw_str_eq(s[k].a, s[k].b))
      return s[k].name;
  return NULL;
}

static jw_writer *jw_find(jw_writer *const *ws, size_t n, const char *tag) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(ws[i]->tag, tag) == 0)
      return ws[i];
  return NULL;
}

static jw_obs *jw_obs_at(jw_writer *w, uint32_t batch) {
  if (batch > w->cap_obs) {
    size_t cap = w->cap_obs ? w->cap_obs : 256;
    while (cap < batch)
      cap *= 2;
    w->obs = realloc(w->obs, cap * sizeof *w->obs);
    CHECK(w->obs != NULL, "The check's tables fit in memory.");
    memset(w->obs + w->cap_obs, 0, (cap - w->cap_obs) * sizeof *w->obs);
    w->cap_obs = cap;
  }
  return &w->obs[batch - 1];
}

/* Where the check of one run stands. */
typedef struct jw_scan {
  const cairn_run_info *info;
  uint32_t seq;     /* the event being checked */
  jw_opdesc prev;   /* the operation of the event before it */
  uint32_t prev_i;  /* and that event's index in it */
  struct {
    const jw_writer *w;
    uint32_t batch;
    int op;
  } last[64];       /* each writer's latest operation in the run */
  size_t n_last;
} jw_scan;

/* Records event i of operation `d`, found at s->seq. */
static void jw_observe(const jw_scan *s, jw_writer *w, const jw_opdesc *d,
                       uint32_t i) {
  const char *run = s->info->run_id;
  jw_obs *ob = jw_obs_at(w, d->batch);
  if (ob->n_ops == 0)
    ob->n_ops = d->n_ops;
  if (ob->n_ops != d->n_ops)
    FAIL("run %s seq %u: writer %s's batch %" PRIu32 " claims %d "
         "operations here and %d elsewhere.", run, s->seq, w->tag,
         d->batch, d->n_ops, ob->n_ops);
  jw_obs_op *o = &ob->ops[d->op];
  if (i == 0) {
    if (o->seen)
      FAIL("run %s seq %u: operation %d of writer %s's batch %" PRIu32
           " appears twice (first at run %s seq %u).", run, s->seq, d->op,
           w->tag, d->batch, o->run_id, o->first_seq);
    o->first_seq = s->seq;
    o->n = d->n;
    o->kind = d->kind;
    memcpy(o->run_id, run, sizeof o->run_id);
  }
  else if (o->seen != i || strcmp(o->run_id, run) != 0) {
    FAIL("run %s seq %u: event %" PRIu32 " of operation %d of writer %s's "
         "batch %" PRIu32 " is not where its event %" PRIu32 " left off.",
         run, s->seq, i, d->op, w->tag, d->batch, i - 1);
  }
  o->seen++;
}

/* Checks that one writer's operations appear in the run in the order the
 * writer appended them. */
static void jw_check_order(jw_scan *s, const jw_writer *w,
                           const jw_opdesc *d) {
  size_t k = 0;
  while (k < s->n_last && s->last[k].w != w)
    k++;
  if (k == s->n_last) {
    CHECK(s->n_last < 64, "A run is appended to by at most 64 writers.");
    s->n_last++;
  }
  else if (d->batch < s->last[k].batch ||
           (d->batch == s->last[k].batch && d->op <= s->last[k].op)) {
    FAIL("run %s seq %u: writer %s's batch %" PRIu32 " op %d comes after "
         "its batch %" PRIu32 " op %d: the journal reordered its appends.",
         s->info->run_id, s->seq, w->tag, d->batch, d->op,
         s->last[k].batch, s->last[k].op);
  }
  s->last[k].w = w;
  s->last[k].batch = d->batch;
  s->last[k].op = d->op;
}

/* Checks that event `ev`, event i of operation `d`, holds what the
 * writer wrote there. */
static void jw_check_content(const jw_scan *s, const cairn_event *ev,
                             const jw_opdesc *d, uint32_t i) {
  static jw_evbuf buf;
  cairn_event want;
  jw_event(d, i, &want, &buf);
  if (want.type == CAIRN_EV_RUN_STARTED)
    want.run_id = jw_str(s->info->run_id);
  const char *field = jw_event_diff(ev, &want);
  if (field)
    FAIL("run %s seq %u: its %s differs from what writer %s wrote as "
         "event %" PRIu32 " of op %d of batch %" PRIu32 ".",
         s->info->run_id, s->seq, field, d->tag, i, d->op, d->batch);
  if ((d->kind == 'c') != (s->seq == 1))
    FAIL("run %s seq %u: only event 1 is a run's creation.",
         s->info->run_id, s->seq);
}

/* Checks that event i of operation `d` continues the run's history:
 * an operation's events are contiguous, and one starts only where the
 * one before it is whole. */
static void jw_check_place(const jw_scan *s, const jw_opdesc *d,
                           uint32_t i) {
  const jw_opdesc *p = &s->prev;
  if (i > 0 && (strcmp(p->tag, d->tag) != 0 || p->batch != d->batch ||
                p->op != d->op || s->prev_i != i - 1))
    FAIL("run %s seq %u: an operation's events are contiguous, but event "
         "%" PRIu32 " of writer %s's batch %" PRIu32 " op %d does not "
         "follow its event %" PRIu32 ".", s->info->run_id, s->seq, i,
         d->tag, d->batch, d->op, i - 1);
  if (i == 0 && s->seq > 1 && s->prev_i != p->n - 1)
    FAIL("run %s seq %u: writer %s's batch %" PRIu32 " op %d stops after "
         "%" PRIu32 " of its %" PRIu32 " events: a partial batch.",
         s->info->run_id, s->seq, p->tag, p->batch, p->op, s->prev_i + 1,
         p->n);
}

/* Checks event `ev` of the run being scanned and records it. */
static void jw_check_event(jw_scan *s, jw_writer *const *ws, size_t n_ws,
                           const cairn_event *ev) {
  jw_opdesc d;
  uint32_t i;
  if (ev->seq != ++s->seq)
    FAIL("run %s: event %u follows event %u: a history has no gaps.",
         s->info->run_id, ev->seq, s->seq - 1);
  if (!jw_parse_place(ev->reason, &d, &i))
    FAIL("run %s seq %u (%s) was not written by a journal_writer.",
         s->info->run_id, s->seq, cairn_event_type_name(ev->type));
  jw_writer *w = jw_find(ws, n_ws, d.tag);
  if (w == NULL || d.pad != w->pad)
    FAIL("run %s seq %u belongs to writer %s, which this test did not "
         "start (or not with pad %" PRIu32 ").", s->info->run_id, s->seq,
         d.tag, d.pad);
  jw_check_content(s, ev, &d, i);
  jw_check_place(s, &d, i);
  if (i == 0)
    jw_check_order(s, w, &d);
  jw_observe(s, w, &d, i);
  s->prev = d;
  s->prev_i = i;
}

/* Checks one run event by event, then its end: no partial operation,
 * as many events as its record says, the status its history gives. */
static void jw_check_run(cairn_journal *j, cairn_reader *r,
                         const cairn_run_info *info, jw_writer *const *ws,
                         size_t n_ws) {
  static jw_scan s;
  cairn_history *h = NULL;
  cairn_event ev;
  int rc;
  memset(&s, 0, sizeof s);
  s.info = info;
  CHECK_OK(cairn_reader_history(r, info->key, 1, &h), j);
  for (;;) {
    rc = cairn_history_next(h, &ev);
    if (rc != 1)
      break;
    jw_check_event(&s, ws, n_ws, &ev);
  }
  cairn_history_close(h);
  if (rc != 0)
    FAIL("run %s: reading its history failed with %s: %s", info->run_id,
         cairn_err_name(rc), cairn_journal_errmsg(j));
  if (s.seq != info->last_seq || s.seq == 0)
    FAIL("run %s: its record says %u events and its history holds %u.",
         info->run_id, info->last_seq, s.seq);
  if (s.prev_i != s.prev.n - 1)
    FAIL("run %s ends with %" PRIu32 " of the %" PRIu32 " events of writer "
         "%s's batch %" PRIu32 " op %d: a partial batch.", info->run_id,
         s.prev_i + 1, s.prev.n, s.prev.tag, s.prev.batch, s.prev.op);
  int status = s.prev.kind == 'e' ? CAIRN_RUN_COMPLETED : CAIRN_RUN_RUNNING;
  if (info->status != status)
    FAIL("run %s is %s; its history says %s.", info->run_id,
         cairn_run_status_name(info->status), cairn_run_status_name(status));
}

/* Compares what the journal holds of writer `w` with its reports. */
static void jw_reconcile(jw_writer *w) {
  w->lost = 0;
  for (size_t b = 0; b < w->n_rep; b++) {
    const jw_batch_report *rb = &w->rep[b];
    const jw_obs *ob = jw_obs_at(w, (uint32_t)b + 1);
    if (ob->n_ops != rb->n_ops)
      FAIL("writer %s's committed batch %zu (%d operation(s)) is %s.",
           w->tag, b + 1, rb->n_ops, ob->n_ops ? "not whole" : "missing");
    for (int k = 0; k < rb->n_ops; k++) {
      const jw_op_report *o = &rb->ops[k];
      const jw_obs_op *f = &ob->ops[k];
      if (f->seen != o->n || f->n != o->n || f->kind != o->kind ||
          f->first_seq != o->first_seq ||
          strcmp(f->run_id, o->run_id) != 0)
        FAIL("writer %s's committed batch %zu op %d (%c, run %s, seq %u, "
             "%u events) is in the journal as (%c, run %s, seq %u, %u of "
             "%u events).", w->tag, b + 1, k, o->kind, o->run_id,
             o->first_seq, o->n, f->kind ? f->kind : '-', f->run_id,
             f->first_seq, f->seen, f->n);
    }
  }
  for (size_t b = w->n_rep; b < w->cap_obs; b++) {
    const jw_obs *ob = &w->obs[b];
    if (ob->n_ops == 0)
      continue;
    if (!w->may_lose_last)
      FAIL("writer %s's batch %zu is in the journal but was never "
           "reported, and the writer, not killed, reports every commit.",
           w->tag, b + 1);
    if (b != w->n_rep)
      FAIL("writer %s's batch %zu is in the journal but was never "
           "reported; only the batch after its last report (%zu) can be.",
           w->tag, b + 1, w->n_rep);
    for (int k = 0; k < ob->n_ops; k++) {
      if (ob->ops[k].seen == 0)
        FAIL("writer %s's unreported last batch %zu is partial: its op %d "
             "is missing.", w->tag, b + 1, k);
      if (ob->ops[k].seen != ob->ops[k].n)
        FAIL("writer %s's unreported last batch %zu is partial: op %d has "
             "%u of %u events.", w->tag, b + 1, k, ob->ops[k].seen,
             ob->ops[k].n);
    }
    w->lost = 1;
  }
}

static void jw_print_problem(void *ctx, const cairn_verify_problem *p) {
  unsigned *n = ctx;
  *n += 1;
  if (*n <= 20)
    fprintf(stderr, "verify: run %s (key %llu) seq %u: %s\n", p->run_id,
            (unsigned long long)p->run_key, p->seq, p->message);
}

/* Checks every run of a journal against the writers' reports. */
static void jw_check_runs(cairn_journal *j, jw_writer *const *ws, size_t n,
                          jw_check_stats *st) {
  cairn_journal_stats js;
  cairn_reader *r = NULL;
  size_t n_runs = 0;
  CHECK_OK(cairn_journal_stats_get(j, &js), j);
  cairn_run_info *runs = calloc(js.runs + 1, sizeof *runs);
  CHECK(runs != NULL, "The run list fits in memory.");
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_runs(r, NULL, runs, js.runs + 1, &n_runs), j);
  CHECK_EQ(n_runs, js.runs, "Listing runs finds every run the stats "
                            "count.");
  for (size_t k = 0; k < n; k++) {
    free(ws[k]->obs);
    ws[k]->obs = NULL;
    ws[k]->cap_obs = 0;
  }
  st->runs = n_runs;
  st->events = 0;
  for (size_t k = 0; k < n_runs; k++) {
    jw_check_run(j, r, &runs[k], ws, n);
    st->events += runs[k].last_seq;
  }
  cairn_reader_end(r);
  free(runs);
  CHECK_EQ(st->events, js.events, "The runs' histories hold every event "
                                  "the journal counts.");
}

/*
 * Opens the journal in `home` (with `map_bytes` as its first map size, 0
 * for the default), as a restarted worker would, and checks it against
 * the reports of writers ws[0..n): every reported batch is there whole,
 * with the run, seqs and content reported; every event in the journal
 * belongs to a reported batch, or to the one batch after a killed
 * writer's last report, which must then be whole; histories are
 * contiguous and keep each writer's order; cairn_journal_verify finds no
 * problem. Fails the test on the first difference.
 */
JW_API void jw_check(const char *home, size_t map_bytes,
                     jw_writer *const *ws, size_t n, jw_check_stats *st) {
  cairn_journal_options o = {.initial_map_bytes = map_bytes};
  cairn_journal *j = NULL;
  char err[512] = "";
  cairn_verify_stats vs = {0};
  unsigned problems = 0;
  int rc = cairn_journal_open(home, &o, &j, err, sizeof err);
  if (rc)
    FAIL("reopening the journal failed with %s: %s", cairn_err_name(rc),
         err);
  jw_check_runs(j, ws, n, st);
  st->lost = 0;
  for (size_t k = 0; k < n; k++) {
    jw_reconcile(ws[k]);
    st->lost += ws[k]->lost;
  }
  rc = cairn_journal_verify(j, jw_print_problem, &problems, &vs);
  if (rc != 0 || vs.problems != 0 || problems != 0)
    FAIL("cairn_journal_verify returned %s with %llu problem(s) (on stderr) "
         "where none are allowed.", cairn_err_name(rc),
         (unsigned long long)vs.problems);
  CHECK_EQ(vs.events, st->events, "Verify decodes every event.");
  cairn_journal_close(j);
}

/* The seed of a randomized test: $CAIRN_TEST_SEED, or the clock. Printed
 * so a failure can be replayed. */
JW_API unsigned jw_seed(void) {
  const char *env = getenv("CAIRN_TEST_SEED");
  unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
                      : (unsigned)time(NULL) ^ (unsigned)getpid();
  printf("seed %u (CAIRN_TEST_SEED=%u repeats its choices)\n", seed, seed);
  fflush(stdout);
  return seed;
}

#endif /* JW_TEST_SIDE */
