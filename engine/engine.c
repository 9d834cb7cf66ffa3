/*
 * engine.c — the loop: group commit, leases, claiming and polling.
 *
 * Group commit. Everything that happens in one loop turn (a process
 * exits, a timer fires, a native step returns) emits events into one
 * batch; a uv_check handle, which runs after the turn's I/O callbacks,
 * commits the batch in one transaction and only then starts the side
 * effects the turn decided on and schedules the runs it touched. So:
 *
 *   1. No side effect starts before its step.started is committed
 *      (launches wait in e->launches until after the commit).
 *   2. No successor starts before its predecessor's step.completed is
 *      committed (both are in the batch; the successor launches after it).
 *   3. One commit serves every run the turn touched: a completion and the
 *      start of the next step share a commit, and with many runs in
 *      flight, many steps share one.
 *
 * A commit that fails because of one run (it was cancelled under us, or
 * its lease was lost) drops that run and commits the rest. Any other
 * commit failure stops the engine: nothing was started, and the runs'
 * histories stay as they were, to be resumed.
 *
 * Leases. The engine owns the runs it executes: runs it starts with
 * execute = true, and runs it claims (free, expired, or held by a dead
 * process on this host). Every append it makes is fenced by its lease.
 * The tick renews leases every lease_ms / 3 and gives up runs whose lease
 * was lost. Polling (every tick) reads events other processes appended
 * to owned runs: signals, cancel, terminate.
 */
#include "engine_internal.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often the tick polls for signals and cancellations, and claims. */
#define TICK_MS 50
/* The same for a worker (CAIRN_WORK_FOREVER) whose journal tells it of
 * other processes' commits (cairn_journal_watch): those wake it at once,
 * so the tick is left with leases, expiries and dead owners. */
#define WATCHED_TICK_MS 250
#define DEFAULT_LEASE_MS 15000
#define DEFAULT_MAX_RUNS 1024
/* The mode of cairn_engine_work_runs (after the public cairn_work_mode). */
#define WORK_RUNS 4

void cairn__engine_err(cairn_engine *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
  va_end(ap);
}

const char *cairn_engine_errmsg(const cairn_engine *e) {
  return e ? e->errmsg : "";
}

cairn_journal *cairn_engine_journal(cairn_engine *e) { return e->j; }

const cairn_limits *cairn_engine_limits(const cairn_engine *e) {
  return &e->limits;
}

void cairn_engine_observe(cairn_engine *e, cairn_step_observer cb,
                          void *ctx) {
  e->observer = cb;
  e->observer_ctx = ctx;
}

void cairn_engine_on_change(cairn_engine *e, cairn_change_fn cb, void *ctx) {
  e->on_change = cb;
  e->on_change_ctx = ctx;
}

struct uv_loop_s *cairn_engine_loop(cairn_engine *e) { return &e->loop; }

int cairn_engine_act_as(cairn_engine *e, const char *ns, const char *actor) {
  if ((ns && (*ns == '\0' || strlen(ns) > CAIRN_NAMESPACE_MAX)) ||
      (actor && (*actor == '\0' || strlen(actor) >= sizeof e->actor))) {
    cairn__engine_err(e, "a namespace is 1..%d bytes and an actor 1..%zu",
                      CAIRN_NAMESPACE_MAX, sizeof e->actor - 1);
    return CAIRN_EINVAL;
  }
  snprintf(e->ns, sizeof e->ns, "%s", ns ? ns : e->ns_open);
  snprintf(e->actor, sizeof e->actor, "%s", actor ? actor : "");
  return 0;
}

const char *cairn__engine_actor(const cairn_engine *e) {
  return e->actor[0] ? e->actor : cairn_actor();
}

/* ------------------------------------------------------------ owners */

/* The start time of process `pid` in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 when unknown: with the pid it names one process
 * even after the pid is reused. */
static unsigned long long proc_start(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long long start = 0;
  if (p == NULL)
    return 0;
  /* After ")": field 3 (state) ... field 22 (starttime). */
  for (int field = 2; p && field < 22; field++)
    p = strchr(p + 1, ' ');
  if (p)
    start = strtoull(p + 1, NULL, 10);
  return start;
}

static void host_name(char *buf, size_t len) {
  if (gethostname(buf, len) != 0)
    snprintf(buf, len, "localhost");
  buf[len - 1] = '\0';
  for (char *c = buf; *c; c++)
    if (*c == ':')
      *c = '_';
}

void cairn__owner_self(char out[CAIRN_OWNER_MAX + 1]) {
  char host[64];
  host_name(host, sizeof host);
  snprintf(out, CAIRN_OWNER_MAX + 1, "%s:%ld:%llu", host, (long)getpid(),
           proc_start((long)getpid()));
}

bool cairn__owner_dead(void *ctx, const char *owner) {
  char host[64], theirs[64];
  long pid;
  unsigned long long start;
  (void)ctx;
  if (sscanf(owner, "%63[^:]:%ld:%llu", theirs, &pid, &start) != 3)
    return false; /* not ours to judge: wait for the lease to expire */
  host_name(host, sizeof host);
  if (strcmp(host, theirs) != 0 || pid <= 0)
    return false;
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return true;
  return proc_start(pid) != start; /* the pid now names another process */
}

bool cairn__json_valid_text(const char *s) {
  const char *end = NULL;
  cJSON *v = cJSON_ParseWithOpts(s, &end, 0);
  if (v == NULL)
    return false;
  cJSON_Delete(v);
  while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
    end++;
  return *end == '\0';
}

const char *cairn_actor(void) {
  static char user[64]; /* the OS user's name, looked up once */
  const char *a = getenv("CAIRN_ACTOR");
  if (a && *a)
    return a;
  a = getenv("USER");
  if (a && *a)
    return a;
  if (user[0] == '\0') {
    struct passwd *pw = getpwuid(geteuid());
    snprintf(user, sizeof user, "%s", pw && pw->pw_name ? pw->pw_name
                                                        : "unknown");
  }
  return user;
}

/* ---------------------------------------------------- definitions cache */

bool cairn__engine_is_native(void *ctx, const char *kind) {
  cairn_engine *e = ctx;
  cairn__native_kind *k = NULL;
  HASH_FIND_STR(e->natives, kind, k);
  return k != NULL;
}

/* ------------------------------------------- what kinds get (kind.h) */

uv_loop_t *cairn__engine_loop(cairn_engine *e) { return &e->loop; }

void **cairn__engine_slot(cairn_engine *e, int kind_id) {
  return &e->kind_slots[(unsigned)kind_id % CAIRN__KIND_SLOTS];
}

bool cairn__engine_native(cairn_engine *e, const char *name,
                          cairn_native_fn *fn, void **ctx, bool *on_loop) {
  cairn__native_kind *k = NULL;
  HASH_FIND_STR(e->natives, name, k);
  if (k == NULL)
    return false;
  *fn = k->fn;
  *ctx = k->ctx;
  *on_loop = k->on_loop;
  return true;
}

void cairn__engine_def_keep(cairn_engine *e, const char *hash,
                            cairn__def **def) {
  cairn__def_entry *d = NULL;
  HASH_FIND_STR(e->defs, hash, d);
  if (d || (d = calloc(1, sizeof *d)) == NULL)
    return;
  memcpy(d->hash, hash, sizeof d->hash);
  d->def = *def;
  *def = NULL;
  HASH_ADD_STR(e->defs, hash, d);
}

int cairn__engine_def(cairn_engine *e, const char *hash, cairn__def **out) {
  cairn__def_entry *d = NULL;
  HASH_FIND_STR(e->defs, hash, d);
  if (d) {
    *out = d->def;
    return 0;
  }
  cairn_reader *r;
  cairn_str json;
  char err[512] = "";
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_definition(r, hash, &json);
  cairn__def *def = NULL;
  if (rc == 0)
    rc = cairn__def_parse(json.ptr, json.len, cairn__engine_is_native, e,
                          &def, err, sizeof err);
  cairn_reader_end(r);
  if (rc) {
    cairn__engine_err(e, "definition %.12s: %s", hash,
                      *err ? err : cairn_journal_errmsg(e->j));
    return rc;
  }
  if ((d = calloc(1, sizeof *d)) == NULL) {
    cairn__def_free(def);
    return CAIRN_ENOMEM;
  }
  memcpy(d->hash, hash, sizeof d->hash);
  d->def = def;
  HASH_ADD_STR(e->defs, hash, d);
  *out = def;
  return 0;
}

/* ------------------------------------------------------- turn's batch */

/* Runs the calls deferred so far; calls they defer wait for the next
 * iteration, so a chain of inline steps cannot starve the loop's I/O. */
static void run_deferred(cairn_engine *e) {
  cairn__deferred *calls = e->deferred;
  size_t n = e->n_deferred;
  e->deferred = NULL;
  e->n_deferred = e->cap_deferred = 0;
  for (size_t i = 0; i < n; i++)
    calls[i].fn(calls[i].arg);
  free(calls);
}

static void on_pending(uv_idle_t *h) { run_deferred(h->data); }

void cairn__engine_wake(cairn_engine *e) {
  uv_idle_start(&e->pending, on_pending);
}

void cairn__engine_news(cairn_engine *e) {
  e->news = true;
  uv_idle_start(&e->pending, on_pending);
}

int cairn__engine_turn_batch(cairn_engine *e, bool owned, cairn_batch **out) {
  cairn_batch **b = owned ? &e->batch : &e->free_batch;
  if (*b == NULL) {
    int rc = cairn_batch_new(e->j, b);
    if (rc)
      return rc;
    if (owned)
      cairn_batch_set_owner(*b, e->owner, e->lease_ms);
    uv_idle_start(&e->pending, on_pending);
  }
  *out = *b;
  return 0;
}

int cairn__emit(cairn__run *run, const cairn_event *ev) {
  cairn_engine *e = run->e;
  cairn_batch *b;
  int rc = cairn__engine_turn_batch(e, true, &b);
  if (rc)
    return rc;
  rc = cairn_batch_append(b, run->run_id, ev, 1);
  if (rc < 0) {
    cairn__engine_err(e, "run %s: %s", run->run_id,
                      cairn_journal_errmsg(e->j));
    return rc;
  }
  return 0;
}

static void *grow(void *p, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return p;
  size_t c = *cap ? 2 * *cap : 16;
  void *q = realloc(p, c * size);
  if (q)
    *cap = c;
  return q;
}

int cairn__engine_defer(cairn_engine *e, void (*fn)(void *arg), void *arg) {
  cairn__deferred *d = grow(e->deferred, &e->cap_deferred, e->n_deferred,
                            sizeof *d);
  if (d == NULL)
    return CAIRN_ENOMEM;
  e->deferred = d;
  e->deferred[e->n_deferred++] = (cairn__deferred){fn, arg};
  uv_idle_start(&e->pending, on_pending);
  return 0;
}

int cairn__launch_after_commit(cairn__run *run, size_t step,
                               uint32_t attempt) {
  cairn_engine *e = run->e;
  cairn__launch *l = grow(e->launches, &e->cap_launches, e->n_launches,
                          sizeof *l);
  if (l == NULL)
    return CAIRN_ENOMEM;
  e->launches = l;
  l[e->n_launches++] = (cairn__launch){run->key, step, attempt};
  return 0;
}

void cairn__note(cairn__run *run, size_t step, int status,
                 int64_t duration_us, const char *error) {
  cairn_engine *e = run->e;
  if (e->observer == NULL)
    return;
  size_t cap = e->cap_notes;
  cairn_step_note *n = grow(e->notes, &cap, e->n_notes, sizeof *n);
  if (n == NULL)
    return;
  e->notes = n;
  char **s = realloc(e->note_strs, cap * sizeof *s);
  if (s == NULL)
    return;
  e->note_strs = s;
  e->cap_notes = cap;
  size_t i = e->n_notes++;
  s[i] = error ? strdup(error) : NULL;
  n[i] = (cairn_step_note){run->run_id, run->def->steps[step].name, status,
                           run->steps[step].attempt, duration_us, s[i]};
}

static cairn__run *find_run(cairn_engine *e, uint64_t key) {
  cairn__run *run = NULL;
  HASH_FIND(hh, e->runs, &key, sizeof key, run);
  return run;
}

static cairn__run *find_run_id(cairn_engine *e, const char *id) {
  cairn__run *run, *tmp;
  HASH_ITER(hh, e->runs, run, tmp)
  if (strcmp(run->run_id, id) == 0)
    return run;
  return NULL;
}

/* Lets go of a run: stops its side effects and frees it. */
static void drop_run(cairn_engine *e, cairn__run *run) {
  if (run->key == e->target && e->mode == CAIRN_WORK_RUN)
    uv_stop(&e->loop);
  HASH_DEL(e->runs, run);
  e->n_runs--;
  cairn__run_abandon(run);
  cairn__run_free(run);
}

/* Commits batch `b`, dropping runs that made it fail, until it commits
 * or fails for a reason that is not one run's. */
static int commit_one(cairn_engine *e, cairn_batch *b) {
  for (;;) {
    int rc = cairn_batch_commit(b);
    if (rc == 0)
      return 0;
    const char *id = cairn_batch_failed_run(b);
    if (id && rc == CAIRN_ECONFLICT && cairn__start_raced(e, id)) {
      /* another process created that workflow id first */
      char rid[CAIRN_RUN_ID_LEN + 1];
      snprintf(rid, sizeof rid, "%s", id);
      cairn_batch_remove_run(b, rid);
      continue;
    }
    cairn__run *run = id && rc == CAIRN_ECONFLICT ? find_run_id(e, id) : NULL;
    if (run == NULL) {
      cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
      return rc;
    }
    /* Cancelled, terminated or taken over: its events are moot. */
    char rid[CAIRN_RUN_ID_LEN + 1];
    memcpy(rid, id, sizeof rid);
    cairn_batch_remove_run(b, rid);
    drop_run(e, run);
  }
}

static int commit_batch(cairn_engine *e) { return commit_one(e, e->batch); }

/* Commits the turn's free batch (starts no one executes yet). */
static int commit_free(cairn_engine *e) {
  if (e->free_batch == NULL)
    return 0;
  int rc = commit_one(e, e->free_batch);
  cairn_batch_free(e->free_batch);
  e->free_batch = NULL;
  return rc;
}

static void changed(cairn_engine *e) {
  if (e->on_change)
    e->on_change(e->on_change_ctx);
}

static void deliver_notes(cairn_engine *e) {
  for (size_t i = 0; i < e->n_notes; i++) {
    if (e->observer)
      e->observer(e->observer_ctx, &e->notes[i]);
    free(e->note_strs[i]);
  }
  e->n_notes = 0;
}

/* After the commit: start side effects, then free finished runs. */
static void after_commit(cairn_engine *e) {
  size_t n = e->n_launches;
  e->n_launches = 0;
  for (size_t i = 0; i < n; i++) {
    cairn__launch *l = &e->launches[i];
    cairn__run *run = find_run(e, l->run);
    if (run)
      cairn__run_launch(run, l->step, l->attempt);
  }
  deliver_notes(e);
  cairn__run *run, *tmp;
  HASH_ITER(hh, e->runs, run, tmp) {
    bool busy = false;
    for (size_t s = 0; s < run->def->n_steps; s++)
      busy |= run->steps[s].inflight != NULL;
    if (run->finished && !busy)
      drop_run(e, run);
  }
}

static void look_around(cairn_engine *e);

static void on_check(uv_check_t *h) {
  cairn_engine *e = h->data;
  uv_idle_stop(&e->pending);
  if (e->news) { /* this process committed outside the turn's batches */
    e->news = false;
    look_around(e);
    changed(e);
  }
  bool wrote = e->batch || e->free_batch;
  int rc_free = commit_free(e);
  if (e->batch == NULL) {
    deliver_notes(e);
    cairn__starts_done(e, 0, rc_free);
    if (wrote)
      changed(e);
    return;
  }
  int rc = commit_batch(e);
  cairn_batch_free(e->batch);
  e->batch = NULL;
  cairn__starts_done(e, rc, rc_free);
  if (rc) {
    e->n_launches = 0; /* nothing starts without its durable start */
    e->stopping = true;
    e->fatal = true;
    uv_stop(&e->loop);
    return;
  }
  after_commit(e);
  if (e->n_started && (e->mode == CAIRN_WORK_FOREVER ||
                       e->mode == CAIRN_WORK_DRAIN))
    cairn__engine_adopt_started(e);
  changed(e);
}

/* ----------------------------------------------------------- claiming */

static int adopt(cairn_engine *e, uint64_t key) {
  cairn__run *run;
  if (find_run(e, key))
    return 0;
  int rc = cairn__run_load(e, key, &run);
  if (rc) {
    /* Keep the lease: claims skip it until it expires, so a run this
     * process cannot execute (a native kind it lacks) is retried once a
     * lease, not every tick; another worker takes it after expiry. */
    return rc;
  }
  HASH_ADD(hh, e->runs, key, sizeof run->key, run);
  e->n_runs++;
  cairn__run_schedule(run);
  return 0;
}

/* Claims what this engine may take on now. Returns the number claimed. */
static size_t claim(cairn_engine *e) {
  size_t room = e->max_runs > e->n_runs ? e->max_runs - e->n_runs : 0;
  size_t n = 0;
  if (room == 0)
    return 0;
  uint64_t *keys = malloc(room * sizeof *keys);
  if (keys == NULL)
    return 0;
  if (cairn_journal_claim_runs(e->j, e->owner, e->lease_ms,
                               cairn__owner_dead, e, 0, keys, room,
                               &n) == 0)
    for (size_t i = 0; i < n; i++)
      if (adopt(e, keys[i]) != 0)
        fprintf(stderr, "cairn: cannot resume run key %llu: %s\n",
                (unsigned long long)keys[i], e->errmsg);
  free(keys);
  return n;
}

static void renew(cairn_engine *e) {
  size_t n = 0, n_lost = 0;
  uint64_t *keys = malloc((e->n_runs + 1) * sizeof *keys);
  uint64_t *lost = malloc((e->n_runs + 1) * sizeof *lost);
  cairn__run *run, *tmp;
  if (keys && lost) {
    HASH_ITER(hh, e->runs, run, tmp)
    keys[n++] = run->key;
    if (cairn_journal_renew_leases(e->j, e->owner, e->lease_ms, keys, n,
                                   lost, &n_lost) == 0)
      for (size_t i = 0; i < n_lost; i++)
        if ((run = find_run(e, lost[i])) != NULL)
          drop_run(e, run); /* another worker has it now */
  }
  free(keys);
  free(lost);
}

static void poll_runs(cairn_engine *e) {
  cairn_reader *r;
  cairn__run *run, *tmp;
  if (e->n_runs == 0 || cairn_reader_begin(e->j, &r) != 0)
    return;
  HASH_ITER(hh, e->runs, run, tmp)
  cairn__run_poll(run, r);
  cairn_reader_end(r);
  HASH_ITER(hh, e->runs, run, tmp)
  if (run->finished && cairn_run_status_is_final(run->status)) {
    bool busy = false;
    for (size_t s = 0; s < run->def->n_steps; s++)
      busy |= run->steps[s].inflight != NULL;
    if (!busy && e->batch == NULL)
      drop_run(e, run);
  }
}

/* A run that cannot move without help from outside (a signal): nothing in
 * flight, no timer armed. */
static bool run_blocked(const cairn__run *run) {
  for (size_t s = 0; s < run->def->n_steps; s++) {
    const cairn__step_state *st = &run->steps[s];
    if (st->inflight || st->fire_at_us || st->status == CAIRN_STEP_RETRYING)
      return false;
  }
  return true;
}

/* WORK_RUNS: claims the awaited runs while there is room, and stops the
 * loop once none of them is left in flight: each has finished (here or
 * under another worker), is blocked waiting for a signal, or was given up
 * because it could not be loaded. */
static void work_targets(cairn_engine *e) {
  cairn_reader *r;
  size_t open = 0, n_free = 0;
  uint64_t *free_keys = malloc((e->n_targets + 1) * sizeof *free_keys);
  if (free_keys == NULL || cairn_reader_begin(e->j, &r) != 0) {
    free(free_keys);
    return;
  }
  for (size_t i = 0; i < e->n_targets; i++) {
    cairn__run *run = e->targets[i] ? find_run(e, e->targets[i]) : NULL;
    cairn_run_info info;
    if (run)
      open += !run_blocked(run);
    else if (e->targets[i] &&
             cairn_reader_run_by_key(r, e->targets[i], &info) == 0 &&
             !cairn_run_status_is_final(info.status)) {
      open++; /* not ours yet, or another worker's */
      free_keys[n_free++] = e->targets[i];
    }
  }
  cairn_reader_end(r);
  for (size_t i = 0; i < n_free && e->n_runs < e->max_runs; i++) {
    uint64_t key;
    size_t n = 0;
    if (cairn_journal_claim_runs(e->j, e->owner, e->lease_ms,
                                 cairn__owner_dead, e, free_keys[i], &key, 1,
                                 &n) != 0 || n == 0)
      continue; /* held by a live worker: awaited */
    if (adopt(e, key) != 0) {
      fprintf(stderr, "cairn: cannot run run key %llu: %s\n",
              (unsigned long long)key, e->errmsg);
      for (size_t k = 0; k < e->n_targets; k++)
        if (e->targets[k] == key)
          e->targets[k] = 0;
    }
  }
  free(free_keys);
  if (open == 0 && e->batch == NULL)
    uv_stop(&e->loop);
}

/* What the tick does, and what news from the journal's watch does at
 * once: read others' events to owned runs, claim, and stop when done. */
static void look_around(cairn_engine *e) {
  poll_runs(e);
  size_t claimed = 0;
  if (e->mode == CAIRN_WORK_DRAIN || e->mode == CAIRN_WORK_FOREVER)
    claimed = claim(e);
  if (e->mode == WORK_RUNS)
    work_targets(e);
  if (e->mode == CAIRN_WORK_DRAIN && claimed == 0 && e->batch == NULL) {
    bool all_blocked = true;
    cairn__run *run, *tmp;
    HASH_ITER(hh, e->runs, run, tmp)
    all_blocked &= run_blocked(run);
    if (all_blocked)
      uv_stop(&e->loop);
  }
}

static void on_tick(uv_timer_t *t) {
  cairn_engine *e = t->data;
  int64_t now = cairn__now_us();
  if (e->stopping) {
    uv_stop(&e->loop);
    return;
  }
  if (now - e->last_renew_us >= e->lease_ms * 1000 / 3) {
    e->last_renew_us = now;
    renew(e);
  }
  look_around(e);
  if (!e->watch_open) /* no news from a watch: say so every tick */
    changed(e);
}

/* The journal changed: another process committed (a run started, a
 * signal, a cancel), or this one did; only the former is news. */
static void on_watch(uv_poll_t *h, int status, int events) {
  cairn_engine *e = h->data;
  (void)events;
  if (status < 0 || e->stopping)
    return;
  if (cairn_journal_watch_reset(e->j)) {
    look_around(e);
    changed(e);
  }
}

/* Starts watching the journal once per engine; false when it offers no
 * watch (the tick polls at TICK_MS then). */
static bool watch_start(cairn_engine *e) {
  if (!e->watch_open) {
    int fd = cairn_journal_watch(e->j);
    if (fd < 0 || uv_poll_init(&e->loop, &e->watch, fd) != 0)
      return false;
    e->watch.data = e;
    e->watch_open = true;
  }
  cairn_journal_watch_reset(e->j);
  uv_poll_start(&e->watch, UV_READABLE, on_watch);
  return true;
}

static void on_stop_async(uv_async_t *a) {
  cairn_engine *e = a->data;
  e->stopping = true;
  uv_stop(&e->loop);
}

void cairn_engine_stop(cairn_engine *e) { uv_async_send(&e->stop_async); }

/* ------------------------------------------------------------ working */

/* Lets go of every run (leases released, so another worker resumes them
 * at once) after committing what this turn produced. */
static void let_go_all(cairn_engine *e) {
  int rc_free = commit_free(e), rc = 0;
  if (e->batch) {
    if ((rc = commit_batch(e)) == 0)
      after_commit(e);
    cairn_batch_free(e->batch);
    e->batch = NULL;
    e->n_launches = 0;
  }
  cairn__starts_done(e, rc, rc_free);
  size_t n = 0;
  uint64_t *keys = malloc((e->n_runs + 1) * sizeof *keys);
  cairn__run *run, *tmp;
  HASH_ITER(hh, e->runs, run, tmp) {
    if (keys)
      keys[n++] = run->key;
    HASH_DEL(e->runs, run);
    cairn__run_abandon(run);
    cairn__run_free(run);
  }
  e->n_runs = 0;
  if (keys && n)
    cairn_journal_release_leases(e->j, e->owner, keys, n);
  free(keys);
  /* Let abandoned attempts deliver their ends (processes reaped). */
  uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* A finished run with a pending single-step rerun this engine asked for
 * (its lease is ours): execute the rerun. Otherwise nothing to do. */
static int rerun_pending(cairn_engine *e, const cairn_run_info *info) {
  cairn_reader *r;
  cairn_run_view v;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_run_view(r, info->key, &v);
  cairn_reader_end(r);
  if (rc || v.rerun_seq == 0)
    return rc;
  if (strcmp(info->lease_owner, e->owner) != 0 &&
      info->lease_expiry_us > cairn__now_us() &&
      !cairn__owner_dead(e, info->lease_owner)) {
    cairn__engine_err(e, "the rerun of run %s is executed by %s",
                      info->run_id, info->lease_owner);
    return CAIRN_ECONFLICT;
  }
  e->target = info->key;
  return adopt(e, info->key);
}

static int work_on_run(cairn_engine *e, const char *run_id) {
  cairn_reader *r;
  cairn_run_info info;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_run_by_id(r, run_id, &info);
  cairn_reader_end(r);
  if (rc) {
    cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
    return rc;
  }
  if (cairn_run_status_is_final(info.status))
    return rerun_pending(e, &info);
  uint64_t key;
  size_t n = 0;
  rc = cairn_journal_claim_runs(e->j, e->owner, e->lease_ms,
                                cairn__owner_dead, e, info.key, &key, 1, &n);
  if (rc != 0) {
    cairn__engine_err(e, "claiming run %s: %s", run_id,
                      cairn_journal_errmsg(e->j));
    return rc;
  }
  if (n == 0) {
    cairn__engine_err(e, "run %s is executed by %s", run_id,
                      info.lease_owner);
    return CAIRN_ECONFLICT;
  }
  e->target = info.key;
  return adopt(e, info.key);
}

/* Adopts the runs this engine started with execute = true: they are
 * leased to it already, so claims (which skip runs held) never bring
 * them in. */
void cairn__engine_adopt_started(cairn_engine *e) {
  cairn_reader *r;
  size_t n = e->n_started;
  e->n_started = 0;
  if (n == 0 || cairn_reader_begin(e->j, &r) != 0)
    return;
  uint64_t *keys = malloc(n * sizeof *keys);
  size_t k = 0;
  for (size_t i = 0; keys && i < n; i++) {
    cairn_run_info info;
    if (cairn_reader_run_by_id(r, e->started[i], &info) == 0 &&
        info.status == CAIRN_RUN_RUNNING &&
        strcmp(info.lease_owner, e->owner) == 0)
      keys[k++] = info.key;
  }
  cairn_reader_end(r);
  for (size_t i = 0; i < k; i++)
    if (adopt(e, keys[i]) != 0)
      fprintf(stderr, "cairn: cannot run run key %llu: %s\n",
              (unsigned long long)keys[i], e->errmsg);
  free(keys);
}

int cairn_engine_adopt(cairn_engine *e, const char *run_id) {
  cairn_reader *r;
  cairn_run_info info;
  int rc = cairn_reader_begin(e->j, &r);
  if (rc)
    return rc;
  rc = cairn_reader_run_by_id(r, run_id, &info);
  cairn_reader_end(r);
  if (rc) {
    cairn__engine_err(e, "no run has id %s", run_id);
    return rc;
  }
  if (strcmp(info.lease_owner, e->owner) != 0) {
    cairn__engine_err(e, "run %s is leased to %s, not to this engine",
                      run_id, info.lease_owner);
    return CAIRN_ECONFLICT;
  }
  if (e->mode != CAIRN_WORK_FOREVER && e->mode != CAIRN_WORK_DRAIN)
    return 0; /* its lease expires; a worker claims it then */
  rc = adopt(e, info.key);
  if (rc) {
    char why[sizeof e->errmsg];
    memcpy(why, e->errmsg, sizeof why);
    cairn__engine_err(e, "cannot run run %s: %.400s", run_id, why);
  }
  return rc;
}

int cairn_engine_work(cairn_engine *e, int mode, const char *run_id) {
  int rc = 0;
  e->mode = mode;
  e->stopping = false;
  e->fatal = false;
  e->target = 0;
  if (mode == CAIRN_WORK_DRAIN || mode == CAIRN_WORK_FOREVER)
    cairn__engine_adopt_started(e);
  if (mode == CAIRN_WORK_RUN) {
    rc = work_on_run(e, run_id);
    if (rc || e->n_runs == 0) {
      e->mode = 0;
      return rc;
    }
  }
  e->last_renew_us = cairn__now_us();
  bool watched = watch_start(e);
  bool idle_ok = mode == CAIRN_WORK_FOREVER || mode == CAIRN_WORK_IDLE;
  uint64_t every = watched && idle_ok ? WATCHED_TICK_MS : TICK_MS;
  uv_timer_start(&e->tick, on_tick, mode == CAIRN_WORK_RUN ? every : 0,
                 every);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  uv_timer_stop(&e->tick);
  if (watched)
    uv_poll_stop(&e->watch);
  if (e->fatal)
    rc = CAIRN_EIO;
  let_go_all(e);
  e->mode = 0;
  return rc;
}

int cairn_engine_work_runs(cairn_engine *e, const char *const *run_ids,
                           size_t n) {
  cairn_reader *r;
  uint64_t *keys = malloc((n + 1) * sizeof *keys);
  int rc = keys ? cairn_reader_begin(e->j, &r) : CAIRN_ENOMEM;
  if (rc) {
    free(keys);
    return rc;
  }
  for (size_t i = 0; rc == 0 && i < n; i++) {
    cairn_run_info info;
    rc = cairn_reader_run_by_id(r, run_ids[i], &info);
    if (rc == CAIRN_ENOTFOUND)
      cairn__engine_err(e, "no run has id %s", run_ids[i]);
    else if (rc)
      cairn__engine_err(e, "%s", cairn_journal_errmsg(e->j));
    keys[i] = info.key;
  }
  cairn_reader_end(r);
  if (rc == 0) {
    e->targets = keys;
    e->n_targets = n;
    rc = cairn_engine_work(e, WORK_RUNS, NULL);
    e->targets = NULL;
    e->n_targets = 0;
  }
  free(keys);
  return rc;
}

/* ------------------------------------------------------- open / close */

int cairn_engine_open(const cairn_engine_options *o, cairn_engine **out,
                      char *errbuf, size_t errlen) {
  cairn_journal_options jo = {.no_sync = o->no_sync,
                              .must_exist = o->must_exist};
  cairn_engine *e = calloc(1, sizeof *e);
  *out = NULL;
  if (e == NULL)
    return CAIRN_ENOMEM;
  char path[4200];
  cJSON *conf = NULL;
  int rc = cairn__config_load(o->home, &e->limits, &conf, path, sizeof path,
                              errbuf, errlen);
  if (rc == 0)
    rc = cairn__kinds_configure(e, conf, path, errbuf, errlen);
  cJSON_Delete(conf);
  if (rc == 0)
    rc = cairn_journal_open(o->journal ? o->journal : o->home, &jo, &e->j,
                            errbuf, errlen);
  if (rc) {
    cairn__kinds_close(e);
    free(e);
    return rc;
  }
  snprintf(e->ns, sizeof e->ns, "%s", o->ns ? o->ns : "default");
  memcpy(e->ns_open, e->ns, sizeof e->ns);
  e->lease_ms = o->lease_ms > 0 ? o->lease_ms : DEFAULT_LEASE_MS;
  e->max_runs = o->max_runs ? o->max_runs : DEFAULT_MAX_RUNS;
  cairn__owner_self(e->owner);
  signal(SIGPIPE, SIG_IGN); /* a child closing its stdin early */
  uv_loop_init(&e->loop);
  uv_check_init(&e->loop, &e->commit_check);
  e->commit_check.data = e;
  uv_check_start(&e->commit_check, on_check);
  uv_unref((uv_handle_t *)&e->commit_check);
  uv_idle_init(&e->loop, &e->pending);
  e->pending.data = e;
  uv_timer_init(&e->loop, &e->tick);
  e->tick.data = e;
  uv_async_init(&e->loop, &e->stop_async, on_stop_async);
  e->stop_async.data = e;
  uv_unref((uv_handle_t *)&e->stop_async);
  *out = e;
  return 0;
}

void cairn_engine_close(cairn_engine *e) {
  if (e == NULL)
    return;
  let_go_all(e);
  while (e->n_deferred) /* inline steps queued: they see their run gone */
    run_deferred(e);
  cairn__kinds_close(e); /* their handles close in the run below */
  uv_close((uv_handle_t *)&e->commit_check, NULL);
  uv_close((uv_handle_t *)&e->pending, NULL);
  uv_close((uv_handle_t *)&e->tick, NULL);
  if (e->watch_open)
    uv_close((uv_handle_t *)&e->watch, NULL);
  uv_close((uv_handle_t *)&e->stop_async, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT); /* closes finish, late threads return */
  uv_loop_close(&e->loop);
  cairn__native_kind *k, *kt;
  HASH_ITER(hh, e->natives, k, kt) {
    HASH_DEL(e->natives, k);
    free(k->name);
    free(k);
  }
  cairn__def_entry *d, *dt;
  HASH_ITER(hh, e->defs, d, dt) {
    HASH_DEL(e->defs, d);
    cairn__def_free(d->def);
    free(d);
  }
  free(e->deferred);
  free(e->launches);
  free(e->pstarts);
  free(e->started);
  free(e->notes);
  free(e->note_strs);
  cairn_journal_close(e->j);
  free(e);
}

static int register_native(cairn_engine *e, const char *name,
                           cairn_native_fn fn, void *ctx, bool on_loop) {
  static const char *const builtin[] = {"sleep", "wait"};
  cairn__native_kind *k = NULL;
  if (name == NULL || *name == '\0' || strlen(name) > 64 || fn == NULL) {
    cairn__engine_err(e, "a native kind needs a name of 1..64 bytes and a "
                         "function");
    return CAIRN_EINVAL;
  }
  bool taken = cairn__kind_by_name(name) != NULL;
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
    taken = taken || strcmp(name, builtin[i]) == 0;
  if (taken) {
    cairn__engine_err(e, "'%s' is a built-in kind; pick another name", name);
    return CAIRN_ECONFLICT;
  }
  HASH_FIND_STR(e->natives, name, k);
  if (k) {
    cairn__engine_err(e, "kind '%s' is registered already", name);
    return CAIRN_ECONFLICT;
  }
  if ((k = calloc(1, sizeof *k)) == NULL || !(k->name = strdup(name))) {
    free(k);
    return CAIRN_ENOMEM;
  }
  k->fn = fn;
  k->ctx = ctx;
  k->on_loop = on_loop;
  HASH_ADD_KEYPTR(hh, e->natives, k->name, strlen(k->name), k);
  return 0;
}

int cairn_engine_register_kind(cairn_engine *e, const char *name,
                               cairn_native_fn fn, void *ctx) {
  return register_native(e, name, fn, ctx, false);
}

int cairn_engine_register_kind_inline(cairn_engine *e, const char *name,
                                      cairn_native_fn fn, void *ctx) {
  return register_native(e, name, fn, ctx, true);
}
