/*
 * events.c — Server-Sent Events.
 *
 *   GET /v1/runs/{id}/events?after=SEQ   the run's events after SEQ, each
 *       once, in seq order: "id: SEQ", "event: TYPE", "data: EVENT" (the
 *       object of `cairn history --format json`). A reconnecting client's
 *       Last-Event-ID header wins over `after`. The stream ends after the
 *       run's final event.
 *   GET /v1/runs?follow=1   run changes in the token's namespace:
 *       "event: run", "data: RUN" (a runs-list entry), whenever a run
 *       appears or its status or event count changes.
 *
 * A stream is a libmicrohttpd response read through a callback. When it
 * has nothing to send it suspends its connection; the engine's change
 * notice (its own commits, and other processes' through the journal's
 * watch) resumes every suspended stream, which then reads the journal
 * from where it stopped. A comment line every 15 s keeps proxies from
 * closing an idle stream.
 */
#include "server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_WINDOW 200   /* newest runs a follower watches */

typedef struct seen {
  char run_id[CAIRN_RUN_ID_LEN + 1];
  int status;
  uint32_t last_seq;
} seen;

static int append(conn *c, const char *s, size_t n) {
  if (c->pend_off == c->pend_len) {
    c->pend_off = c->pend_len = 0;
  }
  char *p = realloc(c->pend, c->pend_len + n + 1);
  if (p == NULL)
    return -1;
  memcpy(p + c->pend_len, s, n);
  c->pend = p;
  c->pend_len += n;
  return 0;
}

static int append_event(conn *c, const char *id, const char *type,
                        cJSON *doc) {
  char *data = cJSON_PrintUnformatted(doc);
  cJSON_Delete(doc);
  if (data == NULL)
    return -1;
  char head[160];
  int n = snprintf(head, sizeof head, "id: %s\nevent: %s\ndata: ", id, type);
  int rc = append(c, head, (size_t)n);
  if (rc == 0)
    rc = append(c, data, strlen(data));
  if (rc == 0)
    rc = append(c, "\n\n", 2);
  free(data);
  return rc;
}

/* Reads the run's events after c->seq into the pending text; marks the
 * stream done after a final event. */
static void read_run(conn *c) {
  cairn_reader *r;
  cairn_history *it;
  cairn_event ev;
  if (cairn_reader_begin(c->s->j, &r) != 0)
    return;
  if (cairn_reader_history(r, c->key, c->seq + 1, &it) == 0) {
    int n = 0;
    while (n < 256 && cairn_history_next(it, &ev) == 1) {
      char id[16];
      snprintf(id, sizeof id, "%u", ev.seq);
      if (append_event(c, id, cairn_event_type_name(ev.type),
                       present_event(&ev)) != 0)
        break;
      c->seq = ev.seq;
      n++;
    }
    cairn_history_close(it);
  }
  cairn_run_info info;
  cairn_run_view v;
  if (cairn_reader_run_by_key(r, c->key, &info) == 0 &&
      cairn_reader_run_view(r, c->key, &v) == 0 &&
      cairn_run_status_is_final(v.status) && v.rerun_seq == 0 &&
      c->seq >= v.last_seq)
    c->done = true;
  cairn_reader_end(r);
}

static seen *find_seen(conn *c, const char *run_id) {
  for (size_t i = 0; i < c->n_seen; i++)
    if (strcmp(c->seen[i].run_id, run_id) == 0)
      return &c->seen[i];
  return NULL;
}

/* Lists the newest runs and queues those that changed. */
static void read_follow(conn *c) {
  cairn_reader *r;
  cairn_run_info *runs = calloc(FOLLOW_WINDOW, sizeof *runs);
  size_t n = 0;
  if (runs == NULL || cairn_reader_begin(c->s->j, &r) != 0) {
    free(runs);
    return;
  }
  cairn_run_filter f = {.ns = c->ns};
  cairn_reader_runs(r, &f, runs, FOLLOW_WINDOW, &n);
  for (size_t i = n; i-- > 0;) { /* oldest first */
    seen *s = find_seen(c, runs[i].run_id);
    if (s && s->status == runs[i].status && s->last_seq == runs[i].last_seq)
      continue;
    if (s == NULL) {
      if (c->n_seen == c->cap_seen) {
        size_t cap = c->cap_seen ? 2 * c->cap_seen : 64;
        seen *p = realloc(c->seen, cap * sizeof *p);
        if (p == NULL)
          break;
        c->seen = p;
        c->cap_seen = cap;
      }
      s = &c->seen[c->n_seen++];
      snprintf(s->run_id, sizeof s->run_id, "%s", runs[i].run_id);
    }
    s->status = runs[i].status;
    s->last_seq = runs[i].last_seq;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)++c->sent);
    append_event(c, id, "run", present_run_entry(r, &runs[i]));
  }
  cairn_reader_end(r);
  free(runs);
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max) {
  conn *c = cls;
  (void)pos;
  if (c->pend_off == c->pend_len && !c->done && !c->s->stopping) {
    if (c->key)
      read_run(c);
    else
      read_follow(c);
  }
  if (c->pend_off == c->pend_len && c->beat) {
    append(c, ": keep-alive\n\n", 14);
    c->beat = false;
  }
  if (c->pend_off < c->pend_len) {
    size_t n = c->pend_len - c->pend_off;
    if (n > max)
      n = max;
    memcpy(buf, c->pend + c->pend_off, n);
    c->pend_off += n;
    return (ssize_t)n;
  }
  if (c->done || c->s->stopping)
    return MHD_CONTENT_READER_END_OF_STREAM;
  /* nothing now: wait for a change notice */
  if (!c->suspended) {
    c->suspended = true;
    c->next_sse = c->s->sse;
    c->s->sse = c;
    MHD_suspend_connection(c->c);
  }
  return 0;
}

static enum MHD_Result stream(conn *c) {
  struct MHD_Response *r = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 16 * 1024, on_read, c, NULL);
  if (r == NULL)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  c->streaming = true;
  c->status = 200;
  enum MHD_Result rc = MHD_queue_response(c->c, 200, r);
  MHD_destroy_response(r);
  return rc;
}

enum MHD_Result events_run(conn *c, uint64_t key, uint32_t after) {
  const char *last = MHD_lookup_connection_value(c->c, MHD_HEADER_KIND,
                                                 "Last-Event-ID");
  if (last && *last) {
    char *end;
    unsigned long v = strtoul(last, &end, 10);
    if (*end == '\0')
      after = (uint32_t)v;
  }
  c->key = key;
  c->seq = after;
  return stream(c);
}

enum MHD_Result events_follow(conn *c) {
  /* The first read sends every run of the window once: a follower starts
   * from the present state, then sees changes. */
  c->key = 0;
  return stream(c);
}

void events_changed(srv *s) {
  conn *c = s->sse;
  s->sse = NULL;
  while (c) {
    conn *next = c->next_sse;
    c->suspended = false;
    c->next_sse = NULL;
    MHD_resume_connection(c->c);
    c = next;
  }
}

void events_beat(srv *s) {
  for (conn *c = s->sse; c; c = c->next_sse)
    c->beat = true;
  events_changed(s);
}

void events_free(conn *c) {
  if (c->suspended) { /* unlink */
    conn **p = &c->s->sse;
    while (*p && *p != c)
      p = &(*p)->next_sse;
    if (*p)
      *p = c->next_sse;
  }
  free(c->pend);
  free(c->seen);
}
