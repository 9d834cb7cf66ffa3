/*
 * request.h — what a request asks for, decided without touching the
 * journal: the route of a method and path, and the bodies decoded into
 * the engine's requests. Pure functions (the fuzz target drives them).
 */
#ifndef CAIRN_SERVER_REQUEST_H
#define CAIRN_SERVER_REQUEST_H

#include <cairn/cairn.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Roles of a token, each allowing what the one before allows. */
enum { ROLE_READ = 1, ROLE_OPERATE = 2, ROLE_ADMIN = 3 };

typedef enum route_id {
  R_NONE = 0,
  R_WORKFLOWS,        /* GET    /v1/workflows */
  R_REGISTER,         /* POST   /v1/workflows */
  R_WORKFLOW,         /* GET    /v1/workflows/{name} (?version=N) */
  R_VERSION,          /* GET    /v1/workflows/{name}/versions/{v} */
  R_DELETE_VERSION,   /* DELETE /v1/workflows/{name}/versions/{v} */
  R_PAUSE,            /* POST   /v1/workflows/{name}/pause */
  R_UNPAUSE,          /* POST   /v1/workflows/{name}/unpause */
  R_MAPPING,          /* GET    /v1/mappings?from=HASH&to=HASH */
  R_RUNS,             /* GET    /v1/runs (?follow=1: SSE) */
  R_START,            /* POST   /v1/runs */
  R_RUN,              /* GET    /v1/runs/{id} (?view=summary) */
  R_STEP,             /* GET    /v1/runs/{id}/steps/{step} */
  R_HISTORY,          /* GET    /v1/runs/{id}/history */
  R_RESULT,           /* GET    /v1/runs/{id}/result */
  R_LINEAGE,          /* GET    /v1/runs/{id}/lineage */
  R_EXPORT,           /* GET    /v1/runs/{id}/export */
  R_EVENTS,           /* GET    /v1/runs/{id}/events (SSE) */
  R_DIFF,             /* GET    /v1/runs/{id}/diff, /workflow-runs/... */
  R_SIGNAL,           /* POST   /v1/runs/{id}/signal */
  R_CANCEL,           /* POST   /v1/runs/{id}/cancel */
  R_TERMINATE,        /* POST   /v1/runs/{id}/terminate */
  R_RESET,            /* POST   /v1/runs/{id}/reset */
  R_RERUN,            /* POST   /v1/runs/{id}/rerun */
  R_REPLAY,           /* POST   /v1/runs/{id}/replay, /workflow-runs/... */
  R_AUDIT,            /* GET    /v1/audit */
  R_PROMPTS,          /* GET    /v1/prompts */
  R_ADD_PROMPT,       /* POST   /v1/prompts */
  R_PROMPT,           /* GET    /v1/prompts/{id} */
  R_ASSETS,           /* GET    /v1/assets (?prefix, stale, after, limit) */
  R_ASSET,            /* GET    /v1/assets/{key...} (?partition,
                                 view=history); the key may hold '/' */
  R__COUNT
} route_id;

typedef struct route {
  int id;             /* route_id */
  int role;           /* the least role that may call it */
  bool writes;        /* a body is expected (POST) */
  char a[352];        /* {id} or {name} */
  char b[CAIRN_STEP_NAME_MAX + 1]; /* {v} or {step} */
} route;

/* Matches `method` and `path` (the URL's path, decoded). Returns 0 and
 * *out, 404 when no route has that path, 405 when the path is known but
 * not with that method (*out then names the route). */
int request_route(const char *method, const char *path, route *out);

/* Parses a request body: an object, or nothing (NULL *out) when `len` is
 * 0. Returns 0, or 400 with `err` naming the byte where parsing stopped. */
int request_body(const char *body, size_t len, cJSON **out, char *err,
                 size_t errlen);

/* A field of the body: the string (NULL when absent); *bad when present
 * but not a string. */
const char *request_str(const cJSON *body, const char *key, bool *bad);

/* 400 with err naming the first field of `body` not in `keys` (a NULL
 * ended list) and the fields it takes; 0 when all are known. */
int request_known(const cJSON *body, const char *const *keys, char *err,
                  size_t errlen);

/* A start: {workflow, version?, input?, workflow_id?}. The strings
 * borrow from `body` except *input_json (malloc'ed, or NULL). Returns 0
 * or 400 with err. */
int request_start(const cJSON *body, cairn_start_request *req,
                  uint32_t *version, char **input_json, char *err,
                  size_t errlen);

/* A fork's body into req (kind set by the caller): step, reason,
 * request_id, definition ("original", "current", a version number:
 * *def_version, or a definition object), map {OLD:
 * NEW}, save_mapping, reuse, allow_mutations, no_reapply_signals,
 * overrides {input: {PATH: v}, params: {"STEP.FIELD": v}, prompts: {STEP:
 * text}, models: {STEP: "PROVIDER:MODEL"}}. The lists are malloc'ed into
 * *strs (free with request_strs_free); the rest borrows from `body`.
 * Returns 0 or 400 with err. */
typedef struct request_strs {
  char **v;
  size_t n, cap;
} request_strs;
int request_fork(const cJSON *body, cairn_fork_request *req,
                 request_strs *maps, request_strs *overrides,
                 request_strs *owned, uint32_t *def_version, char *err,
                 size_t errlen);
/* Adds malloc'ed `v` (taken, freed on failure); -1 when out of memory. */
int request_strs_add(request_strs *s, char *v);
void request_strs_free(request_strs *s);

/* The HTTP status of a cairn error code. */
unsigned request_status_of(int rc);

#endif
