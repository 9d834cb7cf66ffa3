/*
 * mhd_server.c — the fake servers' shared skeleton (mhd_server.h).
 */
#include "mhd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_bool mhd_stopping;

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned mhd_count(counter *t, size_t cap, const char *name) {
  unsigned n = 0;
  pthread_mutex_lock(&count_lock);
  for (size_t i = 0; i < cap; i++) {
    if (t[i].name == NULL)
      t[i].name = strdup(name);
    if (t[i].name && strcmp(t[i].name, name) == 0) {
      n = ++t[i].n;
      break;
    }
  }
  pthread_mutex_unlock(&count_lock);
  return n;
}

void mhd_count_free(counter *t, size_t cap) {
  for (size_t i = 0; i < cap; i++) {
    free(t[i].name);
    t[i].name = NULL;
  }
}

typedef struct server {
  size_t max_body;
  mhd_route_fn route;
  mhd_too_big_fn too_big;
} server;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **state) {
  const server *s = cls;
  upload *u = *state;
  (void)version;
  if (u == NULL) { /* headers only: the body follows */
    if ((u = calloc(1, sizeof *u)) == NULL)
      return MHD_NO;
    *state = u;
    return MHD_YES;
  }
  if (*data_size == 0)
    return u->too_big ? s->too_big(c) : s->route(c, url, method, u);
  if (u->len + *data_size > s->max_body) {
    u->too_big = true;
  }
  else {
    char *b = realloc(u->buf, u->len + *data_size + 1);
    if (b == NULL)
      return MHD_NO;
    memcpy(b + u->len, data, *data_size);
    u->buf = b;
    u->len += *data_size;
    u->buf[u->len] = '\0';
  }
  *data_size = 0;
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why) {
  upload *u = *state;
  (void)cls;
  (void)c;
  (void)why;
  if (u) {
    free(u->buf);
    free(u);
  }
  *state = NULL;
}

int mhd_serve(const char *name, size_t max_body, mhd_route_fn route,
              mhd_too_big_fn too_big) {
  static server s;
  sigset_t set;
  int sig;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s = (server){max_body, route, too_big};
  /* Blocked before the daemon's threads start, so they inherit it and
   * sigwait below receives the signals. */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_ITC | MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
      NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
      MHD_OPTION_END);
  if (d == NULL) {
    fprintf(stderr, "%s: cannot start on 127.0.0.1\n", name);
    return 1;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("%u\n", info ? (unsigned)info->port : 0u);
  fflush(stdout);
  sigwait(&set, &sig);
  mhd_stopping = true;
  MHD_stop_daemon(d);
  return 0;
}
