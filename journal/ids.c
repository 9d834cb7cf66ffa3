/*
 * ids.c — identifiers and content addresses.
 *
 *   - Run ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then
 *     random bits, so ids sort by creation time. Randomness comes from
 *     getrandom(2); a monotonic counter is not needed because run keys,
 *     not run ids, order runs inside a journal.
 *   - Definitions are addressed by the SHA-256 (OpenSSL libcrypto) of
 *     their canonical JSON: cJSON's compact print after sorting every
 *     object's keys bytewise. Duplicate keys are refused rather than
 *     guessed at, since two readers could pick different values. Step
 *     rename mappings (an object of strings) are stored canonical too.
 */
#include "internal.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void cairn__fmt(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  if (buf == NULL || len == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

int64_t cairn__now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char hexdig[] = "0123456789abcdef";

int cairn__uuid7(char out[CAIRN_RUN_ID_LEN + 1]) {
  unsigned char b[16];
  uint64_t ms = (uint64_t)(cairn__now_us() / 1000);
  if (getrandom(b + 6, 10, 0) != 10)
    return CAIRN_EIO;
  for (int i = 0; i < 6; i++)
    b[i] = (unsigned char)(ms >> (40 - 8 * i));
  b[6] = (unsigned char)(0x70 | (b[6] & 0x0f)); /* version 7 */
  b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */
  char *p = out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    *p++ = hexdig[b[i] >> 4];
    *p++ = hexdig[b[i] & 15];
  }
  *p = '\0';
  return 0;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

bool cairn__is_uuid(const char *s) {
  if (s == NULL || strlen(s) != CAIRN_RUN_ID_LEN)
    return false;
  for (int i = 0; i < CAIRN_RUN_ID_LEN; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_hex(s[i]))
      return false;
  }
  return true;
}

void cairn__sha256_hex(const void *p, size_t n,
                       char out[CAIRN_HASH_HEX_LEN + 1]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hexdig[md[i] >> 4];
    out[2 * i + 1] = hexdig[md[i] & 15];
  }
  out[CAIRN_HASH_HEX_LEN] = '\0';
}

bool cairn__is_hash_hex(const char *s) {
  if (s == NULL || strlen(s) != CAIRN_HASH_HEX_LEN)
    return false;
  for (int i = 0; i < CAIRN_HASH_HEX_LEN; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

bool cairn__json_valid(const char *p, size_t n) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(p, n, &end, 0);
  if (j == NULL)
    return false;
  cJSON_Delete(j);
  /* Only whitespace may follow the value. */
  for (; end < p + n; end++)
    if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t')
      return false;
  return true;
}

static int key_cmp(const void *a, const void *b) {
  const cJSON *x = *(const cJSON *const *)a;
  const cJSON *y = *(const cJSON *const *)b;
  return strcmp(x->string, y->string);
}

/* Sorts every object's members bytewise by key; CAIRN_EINVAL on a
 * duplicate key. */
static int sort_keys(cJSON *node) {
  for (cJSON *c = node->child; c; c = c->next) {
    int rc = sort_keys(c);
    if (rc)
      return rc;
  }
  if (!cJSON_IsObject(node) || node->child == NULL)
    return 0;
  size_t n = 0;
  for (cJSON *c = node->child; c; c = c->next)
    n++;
  cJSON **v = cairn__malloc(n * sizeof *v);
  if (v == NULL)
    return CAIRN_ENOMEM;
  n = 0;
  for (cJSON *c = node->child; c; c = c->next)
    v[n++] = c;
  qsort(v, n, sizeof *v, key_cmp);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && strcmp(v[i]->string, v[i + 1]->string) == 0)
      rc = CAIRN_EINVAL;
    v[i]->prev = i ? v[i - 1] : v[n - 1]; /* cJSON: head->prev = tail */
    v[i]->next = i + 1 < n ? v[i + 1] : NULL;
  }
  node->child = v[0];
  free(v);
  return rc;
}

/* Sorts `root`'s keys and prints it compactly into a malloc'ed *out. */
static int print_canonical(cJSON *root, char **out, size_t *out_len) {
  int rc = sort_keys(root);
  if (rc)
    return rc;
  char *s = cJSON_PrintUnformatted(root);
  if (s == NULL)
    return CAIRN_ENOMEM;
  *out_len = strlen(s);
  *out = cairn__malloc(*out_len + 1);
  if (*out)
    memcpy(*out, s, *out_len + 1);
  else
    rc = CAIRN_ENOMEM;
  cJSON_free(s);
  return rc;
}

int cairn__json_canonical(const char *json, size_t len, char **out,
                          size_t *out_len, size_t *err_off) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
  if (root == NULL) {
    *err_off = end ? (size_t)(end - json) : 0;
    return CAIRN_EINVAL;
  }
  int rc = print_canonical(root, out, out_len);
  if (rc == CAIRN_EINVAL)
    *err_off = 0;
  cJSON_Delete(root);
  return rc;
}

int cairn__json_string_map(const char *json, size_t len, char **out,
                           size_t *out_len, char *why, size_t whylen) {
  if (!cairn__json_valid(json, len)) {
    cairn__fmt(why, whylen, "the mapping is not valid JSON");
    return CAIRN_EINVAL;
  }
  cJSON *root = cJSON_ParseWithLengthOpts(json, len, NULL, 0);
  if (root == NULL)
    return CAIRN_ENOMEM; /* it parsed a moment ago */
  int rc = 0;
  if (!cJSON_IsObject(root)) {
    cairn__fmt(why, whylen, "the mapping must be a JSON object "
                            "{\"OLD\": \"NEW\", ...}");
    rc = CAIRN_EINVAL;
  }
  for (cJSON *c = root->child; rc == 0 && c; c = c->next) {
    if (!cJSON_IsString(c)) {
      cairn__fmt(why, whylen, "the mapping of \"%s\" is not a string; "
                              "every value names a step", c->string);
      rc = CAIRN_EINVAL;
    }
  }
  if (rc == 0) {
    rc = print_canonical(root, out, out_len);
    if (rc == CAIRN_EINVAL)
      cairn__fmt(why, whylen, "the mapping repeats a key");
  }
  cJSON_Delete(root);
  return rc;
}
