/*
 * server.h — `cairn serve`: the HTTP API over the engine (docs/api.md).
 * The command's options are parsed by cli/cli_serve.c; everything else is
 * here, in server/.
 */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct server_options {
  const char *home;       /* the home directory (config.json) */
  const char *journal;    /* the journal's location: NULL, home */
  const char *ns;         /* the namespace without tokens; "default" */
  const char *host;       /* listen address; "127.0.0.1" */
  int port;               /* 7070; 0 picks a free port (printed) */
  bool no_worker;         /* serve only: execute no runs */
  bool quiet;             /* no access log */
  size_t max_runs;        /* runs executed at once (0 = the engine's) */
} server_options;

/* Serves until SIGTERM or SIGINT; returns the exit status (0 after a
 * graceful stop). Problems are printed on stderr. */
int server_run(const server_options *o);

/* The stored form of a token's secret: "sha256:<64 hex>" into out. */
void server_hash_token(const char *secret, char out[72]);

#endif
