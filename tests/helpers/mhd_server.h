/*
 * mhd_server.h — the skeleton both fake servers of the tests share
 * (http_server.c: scripted HTTP endpoints; llm_server.c: the OpenAI and
 * Anthropic wire formats): a libmicrohttpd daemon on 127.0.0.1, a free
 * port printed on stdout, each request's body gathered before the
 * server's own route sees it, and a clean stop on SIGTERM or SIGINT.
 */
#ifndef CAIRN_TEST_MHD_SERVER_H
#define CAIRN_TEST_MHD_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* A request's body, gathered as it arrives (at most max_body bytes). */
typedef struct upload {
  char *buf;     /* NUL-terminated; NULL when empty */
  size_t len;
  bool too_big;
} upload;

/* Answers a request whose whole body has arrived. */
typedef enum MHD_Result (*mhd_route_fn)(struct MHD_Connection *c,
                                        const char *url, const char *method,
                                        const upload *u);
/* Answers a request whose body was over max_body (413). */
typedef enum MHD_Result (*mhd_too_big_fn)(struct MHD_Connection *c);

/* How many requests named each name (a path, a key, a prompt): a table
 * of `cap` entries, counted under the skeleton's one mutex, so handlers
 * on different connection threads may share it. */
typedef struct counter {
  char *name;    /* owned; NULL: a free entry */
  unsigned n;
} counter;
/* Adds one to `name` in table t (cap entries); returns its new count (0
 * when the table is full). */
unsigned mhd_count(counter *t, size_t cap, const char *name);
/* Frees the names of table t. */
void mhd_count_free(counter *t, size_t cap);

/* Set once a stop signal arrived: long handlers should return early. */
extern atomic_bool mhd_stopping;

/* Serves until SIGTERM or SIGINT (one thread per connection), then stops
 * the daemon and returns 0; 1 when it cannot start (`name` in the
 * message). Call from main before starting threads of its own. */
int mhd_serve(const char *name, size_t max_body, mhd_route_fn route,
              mhd_too_big_fn too_big);

#endif
