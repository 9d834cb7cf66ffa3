/*
 * native.c — native step kinds: C functions registered by an
 * embedder, run on libuv's thread pool so they may block, or, when
 * registered with cairn_engine_register_kind_inline, on the loop thread
 * in the loop's next iteration (cairn__engine_defer): no thread hand-off
 * each way, and what the step emits commits in that iteration's turn.
 *
 * The call's strings are copied into the request, because the run (and
 * the attempt's link to it) may go away while the function runs: a
 * cancelled run cannot stop a thread, so the function finishes and its
 * result is dropped. The same holds for the step's timeout: when it
 * passes, the attempt fails with code "timeout" at once, and whatever the
 * function returns later is dropped.
 */
#include "kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct native_req {
  uv_work_t work;
  uv_timer_t *timer;  /* the step's timeout, or NULL; freed on close */
  cairn__attempt *a;  /* NULL once the attempt ended by timeout */
  cairn_native_fn fn;
  void *ctx;
  char *run_id, *workflow_id, *step, *input;
  char idem[96];
  uint32_t attempt;
  bool on_loop;       /* inline: deferred, not queued on the pool */
  bool cancelled;     /* inline and cancelled before it ran */
  cairn_native_result res;
} native_req;

static void work_cb(uv_work_t *w) {
  native_req *q = w->data;
  cairn_native_call call = {q->run_id, q->workflow_id, q->step, q->attempt,
                            q->idem, q->input};
  q->fn(q->ctx, &call, &q->res);
}

static void free_req(native_req *q) {
  free(q->run_id);
  free(q->workflow_id);
  free(q->step);
  free(q->input);
  free(q->res.output);
  free(q->res.error);
  free(q);
}

static void on_timer_close(uv_handle_t *h) { free(h); }

static void stop_timer(native_req *q) {
  if (q->timer) {
    uv_close((uv_handle_t *)q->timer, on_timer_close);
    q->timer = NULL;
  }
}

static void on_timeout(uv_timer_t *t) {
  native_req *q = t->data;
  cairn__outcome o = {.code = "timeout", .retryable = true};
  char msg[128];
  snprintf(msg, sizeof msg, "the native step ran past its timeout of %lld "
           "ms; its late result will be ignored",
           (long long)q->a->timeout_ms);
  o.message = strdup(msg);
  stop_timer(q);
  cairn__attempt *a = q->a;
  q->a = NULL; /* after_cb frees the request */
  cairn__attempt_done(a, &o);
}

static void after_cb(uv_work_t *w, int status) {
  native_req *q = w->data;
  cairn__outcome o = {0};
  stop_timer(q);
  if (q->a == NULL) { /* timed out already */
    free_req(q);
    return;
  }
  if (status == UV_ECANCELED) {
    o.code = "cancelled";
    o.message = strdup("the step was cancelled before it ran");
  }
  else if (q->res.error) {
    o.code = "native_error";
    o.message = q->res.error;
    o.retryable = q->res.retryable;
    q->res.error = NULL;
  }
  else {
    o.output = q->res.output ? cJSON_Parse(q->res.output)
                             : cJSON_CreateNull();
    o.ok = o.output != NULL;
    if (!o.ok) {
      o.code = "bad_output";
      o.message = strdup("the native step returned output that is not "
                         "JSON; return JSON text (or NULL for null)");
    }
  }
  cairn__attempt_done(q->a, &o);
  free_req(q);
}

/* An inline step, in the loop's next iteration: the work and its end,
 * as the pool would have done them. */
static void run_on_loop(void *arg) {
  native_req *q = arg;
  if (!q->cancelled)
    work_cb(&q->work);
  after_cb(&q->work, q->cancelled ? UV_ECANCELED : 0);
}

static void cancel(cairn__attempt *a) {
  native_req *q = a->kind_data;
  if (q->on_loop)
    q->cancelled = true; /* it has not run: it runs only in the next
                            iteration, and after that nothing cancels */
  else
    uv_cancel((uv_req_t *)&q->work); /* only if not started yet */
}

static int start(cairn__attempt *a) {
  cairn_native_fn fn;
  void *ctx;
  bool on_loop;
  if (!cairn__engine_native(a->e, a->sd->kind, &fn, &ctx, &on_loop)) {
    cairn__engine_err(a->e, "no native kind '%s' is registered in this "
                            "process", a->sd->kind);
    return CAIRN_ENOTFOUND;
  }
  native_req *q = calloc(1, sizeof *q);
  if (q == NULL)
    return CAIRN_ENOMEM;
  q->a = a;
  q->fn = fn;
  q->ctx = ctx;
  q->attempt = a->attempt;
  q->run_id = strdup(a->run_id);
  q->workflow_id = strdup(a->workflow_id);
  q->step = strdup(a->sd->name);
  q->input = cJSON_PrintUnformatted(a->input);
  snprintf(q->idem, sizeof q->idem, "%s", a->idem_key);
  if (!q->run_id || !q->workflow_id || !q->step || !q->input) {
    free_req(q);
    return CAIRN_ENOMEM;
  }
  q->work.data = q;
  q->on_loop = on_loop;
  a->kind_data = q;
  a->cancel = cancel;
  if (on_loop) { /* no timeout timer: nothing preempts the loop thread */
    int rc = cairn__engine_defer(a->e, run_on_loop, q);
    if (rc)
      free_req(q);
    return rc;
  }
  int rc = uv_queue_work(cairn__engine_loop(a->e), &q->work, work_cb, after_cb);
  if (rc) {
    free_req(q);
    return CAIRN_EIO;
  }
  if (a->timeout_ms > 0 && (q->timer = malloc(sizeof *q->timer)) != NULL) {
    uv_timer_init(cairn__engine_loop(a->e), q->timer);
    q->timer->data = q;
    uv_timer_start(q->timer, on_timeout, (uint64_t)a->timeout_ms, 0);
  }
  return 0;
}

/* Every C function registered with cairn_engine_register_kind: its `with`
 * is the function's own business (not checked), and it needs nothing of
 * config.json. */
const cairn__kind cairn__kind_native = {
    .name = NULL,
    .id = CAIRN__KIND_NATIVE,
    .start = start,
};
