/*
 * cli_serve.c — `cairn serve`: the options of the HTTP API server, which
 * is server/'s (server.h; docs/api.md).
 *
 *   cairn serve [--listen ADDR:PORT] [--no-worker] [--quiet]
 *               [--concurrency N]
 *   cairn serve hash-token     reads a secret on stdin, prints the
 *                              "sha256:..." to put in config.json
 */
#include "cli.h"

#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hash_token(void) {
  char secret[1024], out[72];
  if (fgets(secret, sizeof secret, stdin) == NULL)
    return cli_usage_error("serve hash-token reads the token on stdin: "
                           "echo -n SECRET | cairn serve hash-token");
  secret[strcspn(secret, "\r\n")] = '\0';
  if (strlen(secret) < 16)
    return cli_usage_error("a token is at least 16 characters; make one "
                           "with `openssl rand -hex 24`");
  server_hash_token(secret, out);
  printf("%s\n", out);
  return EXIT_OK;
}

int cli_serve(cli_ctx *ctx, int argc, char **argv) {
  static const char usage[] = "usage: cairn serve [--listen ADDR:PORT] "
                              "[--no-worker] [--quiet] [--concurrency N] "
                              "| cairn serve hash-token";
  char host[64] = "127.0.0.1";
  server_options o = {.home = ctx->home, .journal = ctx->journal,
                      .ns = ctx->ns, .host = host,
                      .port = 7070};
  if (argc == 2 && strcmp(argv[1], "hash-token") == 0)
    return hash_token();
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--listen") == 0 && v) {
      const char *colon = strrchr(v, ':');
      char *end;
      long port = colon ? strtol(colon + 1, &end, 10) : -1;
      if (colon == NULL || colon == v || *end || port < 0 || port > 65535 ||
          (size_t)(colon - v) >= sizeof host)
        return cli_usage_error("--listen takes ADDR:PORT (127.0.0.1:7070; "
                               "port 0 picks a free one), not '%s'", v);
      snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
      o.port = (int)port;
      i++;
    }
    else if (strcmp(argv[i], "--no-worker") == 0)
      o.no_worker = true;
    else if (strcmp(argv[i], "--quiet") == 0)
      o.quiet = true;
    else if (strcmp(argv[i], "--concurrency") == 0 && v && atoi(v) > 0)
      o.max_runs = (size_t)atoi(argv[++i]);
    else
      return cli_usage_error("%s", usage);
  }
  return server_run(&o);
}
