/*
 * fuzz_request.c — libFuzzer target for what `cairn serve` decides from a
 * request's bytes before it touches the journal (server/request.h): the
 * route of a method and path, the body's JSON, and the start and fork
 * requests decoded from it. The contract: any input routes to a status
 * (0, 404 or 405) or decodes or fails with 400 and a message; no crash,
 * no out-of-bounds access, no leak (ASan), no undefined behaviour.
 *
 * Input layout: byte 0 picks the method; up to the first NUL is the path;
 * the rest is the body.
 */
#include "request.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "DELETE", "PUT"};
  if (size == 0)
    return 0;
  const char *method = methods[data[0] % 4];
  data++, size--;
  const uint8_t *nul = memchr(data, 0, size);
  size_t plen = nul ? (size_t)(nul - data) : size;
  char *path = malloc(plen + 1);
  if (path == NULL)
    return 0;
  memcpy(path, data, plen);
  path[plen] = '\0';
  route r;
  int st = request_route(method, path, &r);
  if (st != 0 && st != 404 && st != 405)
    abort();
  if (st == 0 && (r.id <= R_NONE || r.id >= R__COUNT))
    abort();
  free(path);

  const char *body = nul ? (const char *)nul + 1 : "";
  size_t blen = nul ? size - plen - 1 : 0;
  cJSON *doc = NULL;
  char err[600] = "";
  if (request_body(body, blen, &doc, err, sizeof err) != 0) {
    if (doc != NULL || err[0] == '\0')
      abort(); /* a refusal always says why, and keeps nothing */
    return 0;
  }

  cairn_start_request start;
  uint32_t version;
  char *input = NULL;
  if (request_start(doc, &start, &version, &input, err, sizeof err) == 0 &&
      (start.name == NULL || start.name[0] == '\0'))
    abort(); /* an accepted start names its workflow */
  free(input);

  for (int kind = CAIRN_FORK_RESET; kind <= CAIRN_FORK_REPLAY; kind++) {
    cairn_fork_request fr = {0};
    request_strs maps = {0}, ov = {0}, owned = {0};
    uint32_t defv;
    fr.kind = kind;
    if (request_fork(doc, &fr, &maps, &ov, &owned, &defv, err,
                     sizeof err) == 0 &&
        (fr.n_maps != maps.n || fr.n_overrides != ov.n))
      abort();
    request_strs_free(&maps);
    request_strs_free(&ov);
    request_strs_free(&owned);
  }
  static const char *const keys[] = {"name", "data", NULL};
  request_known(doc, keys, err, sizeof err);
  cJSON_Delete(doc);
  return 0;
}
