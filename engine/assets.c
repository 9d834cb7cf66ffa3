/*
 * assets.c — what steps produce (docs/assets.md): a completed attempt's
 * `produces` made into asset.materialized events, the upstream versions a
 * step builds from, and the staleness check a replay must pass.
 *
 * When a step's attempt succeeds, its `produces` is rendered with the
 * step's output as `.output`; each asset is then hashed (a file it wrote,
 * a value of its output, or a URI it reports) before anything is
 * recorded. A file outside the step's working directory, a missing file
 * or one over assets.max_bytes fails the attempt (code asset_error) instead
 * of completing it, so a completion is never recorded without its
 * assets. The asset.materialized events are emitted right after the
 * step.completed, in the same turn: one batch, one commit.
 *
 * Upstream: the assets the step's `needs` materialized in this run, and
 * the latest version of each key in `consumes`, read when the step
 * starts. Their hashes are recorded with every asset the step makes, so
 * a later change upstream makes it stale (journal/assets.c has the rules).
 */
#include "engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cairn_str S(const char *s) { return (cairn_str){s, s ? strlen(s) : 0}; }

static void hex(const unsigned char *d, unsigned n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static void sha256_of(const void *p, size_t n,
                      char out[CAIRN_HASH_HEX_LEN + 1]) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(p, n, d, &len, EVP_sha256(), NULL);
  hex(d, len, out);
}

/* The step's working directory: its `cwd` input (relative to the
 * engine's), else the engine's. */
static int workdir(const cJSON *input, char *out, size_t outlen, char *err,
                   size_t errlen) {
  char here[PATH_MAX], joined[PATH_MAX * 2];
  const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(input, "cwd");
  if (getcwd(here, sizeof here) == NULL) {
    snprintf(err, errlen, "the engine's working directory is unreadable: "
             "%s", strerror(errno));
    return CAIRN_EIO;
  }
  const char *dir = here;
  if (cJSON_IsString(cwd) && cwd->valuestring[0]) {
    if (cwd->valuestring[0] == '/')
      dir = cwd->valuestring;
    else {
      snprintf(joined, sizeof joined, "%s/%s", here, cwd->valuestring);
      dir = joined;
    }
  }
  if (realpath(dir, out) == NULL || strlen(out) >= outlen) {
    snprintf(err, errlen, "the step's working directory %s is unreadable: "
             "%s", dir, strerror(errno));
    return CAIRN_EIO;
  }
  return 0;
}

/* Hashes the file at `rel` (relative to `dir`, or absolute inside it). */
static int hash_file(const char *key, const char *dir, const char *rel,
                     int64_t max_bytes, char hash[CAIRN_HASH_HEX_LEN + 1],
                     int64_t *size, char *err, size_t errlen) {
  char joined[PATH_MAX * 2], real[PATH_MAX];
  if (rel[0] == '/')
    snprintf(joined, sizeof joined, "%s", rel);
  else
    snprintf(joined, sizeof joined, "%s/%s", dir, rel);
  if (realpath(joined, real) == NULL) {
    snprintf(err, errlen, "asset %s: %s does not exist in the step's "
             "working directory %s (%s); the step must write it before it "
             "completes", key, rel, dir, strerror(errno));
    return CAIRN_ENOTFOUND;
  }
  size_t dn = strlen(dir);
  if (strncmp(real, dir, dn) != 0 ||
      (real[dn] != '/' && !(dn == 1 && dir[0] == '/'))) {
    snprintf(err, errlen, "asset %s: path %s is outside the step's working "
             "directory %s; an asset's path must name a file under it",
             key, rel, dir);
    return CAIRN_EFORBIDDEN;
  }
  /* O_NONBLOCK: a FIFO at the path must not block the loop at open (a
   * regular file reads as usual) */
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "asset %s: %s is not a readable file%s%s", key,
             rel, fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
    if (fd >= 0)
      close(fd);
    return CAIRN_EIO;
  }
  if (st.st_size > max_bytes) {
    snprintf(err, errlen, "asset %s: %s is %lld bytes, over the limit of "
             "%lld (assets.max_bytes in config.json)", key, rel,
             (long long)st.st_size, (long long)max_bytes);
    close(fd);
    return CAIRN_ETOOBIG;
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char buf[65536], d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  int64_t total = 0;
  ssize_t n;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    EVP_DigestUpdate(md, buf, (size_t)n);
    total += n;
  }
  EVP_DigestFinal_ex(md, d, &len);
  EVP_MD_CTX_free(md);
  close(fd);
  if (n < 0) {
    snprintf(err, errlen, "asset %s: reading %s: %s", key, rel,
             strerror(errno));
    return CAIRN_EIO;
  }
  if (total > max_bytes) { /* it grew while read */
    snprintf(err, errlen, "asset %s: %s grew past the limit of %lld bytes "
             "(assets.max_bytes) while it was hashed", key, rel,
             (long long)max_bytes);
    return CAIRN_ETOOBIG;
  }
  hex(d, len, hash);
  *size = total;
  return 0;
}

/* Keys and partitions hold no control characters (journal/codec.c). */
static bool has_control(const char *s) {
  for (; s && *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

static const char *str_of(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *upstream_entry(const char *key, const char *part,
                             const char *hash) {
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "key", key);
  if (part && *part)
    cJSON_AddStringToObject(u, "partition", part);
  cJSON_AddStringToObject(u, "hash", hash);
  return u;
}

/* The upstream list of step i: its needs' assets, then what it consumes. */
static cJSON *upstream_of(cairn__run *run, size_t i) {
  const cairn__step_def *sd = &run->def->steps[i];
  cJSON *ups = cJSON_CreateArray();
  for (size_t k = 0; k < sd->n_needs; k++) {
    const cJSON *made = run->steps[sd->needs[k]].assets, *a;
    cJSON_ArrayForEach(a, made) {
      cJSON_AddItemToArray(ups, cJSON_Duplicate(a, 1));
    }
  }
  const cJSON *a;
  cJSON_ArrayForEach(a, run->steps[i].consumed) {
    cJSON_AddItemToArray(ups, cJSON_Duplicate(a, 1));
  }
  return ups;
}

int cairn__assets_collect(cairn__run *run, size_t i, const cJSON *input,
                          const cJSON *output, char *err, size_t errlen) {
  const cairn__step_def *sd = &run->def->steps[i];
  cairn__step_state *st = &run->steps[i];
  cJSON *list = NULL;
  char dir[PATH_MAX];
  cJSON_Delete(st->made);
  st->made = NULL;
  if (sd->produces_tmpl == NULL)
    return 0;
  int rc = cairn__run_render_with_output(run, sd->produces_tmpl,
                                         sd->produces, output, &list, err,
                                         errlen);
  if (rc == 0)
    rc = workdir(input, dir, sizeof dir, err, errlen);
  cJSON *made = cJSON_CreateArray();
  cJSON *ups = upstream_of(run, i);
  const cJSON *a, *each = rc == 0 ? list : NULL;
  cJSON_ArrayForEach(a, each) {
    const char *key = str_of(a, "key"), *part = str_of(a, "partition");
    const char *path = str_of(a, "path"), *uri = str_of(a, "uri");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(a, "value");
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(a, "max_age");
    char hash[CAIRN_HASH_HEX_LEN + 1];
    int64_t size = 0, max_age = 0;
    if (part == NULL)
      part = run->partition;
    if (key == NULL || *key == '\0' || strlen(key) > CAIRN_ASSET_KEY_MAX ||
        has_control(key)) {
      snprintf(err, errlen, "an asset's key rendered to %s; it must be a "
               "string of 1..%d bytes without control characters",
               key == NULL ? "something that is not a string"
               : *key ? "an over-long string or one with control characters"
                      : "an empty string",
               CAIRN_ASSET_KEY_MAX);
      rc = CAIRN_EINVAL;
      break;
    }
    if (part && (*part == '\0' || strlen(part) > CAIRN_PARTITION_MAX ||
                 has_control(part))) {
      snprintf(err, errlen, "asset %s: its partition must be 1..%d bytes "
               "without control characters", key, CAIRN_PARTITION_MAX);
      rc = CAIRN_EINVAL;
      break;
    }
    if (age && cairn__duration_us(age, &max_age) != 0) {
      snprintf(err, errlen, "asset %s: max_age rendered to something that "
               "is not a duration (seconds, or \"36h\")", key);
      rc = CAIRN_EINVAL;
      break;
    }
    const char *source;
    if (path) {
      source = "path";
      if ((rc = hash_file(key, dir, path, run->e->limits.max_asset_bytes,
                          hash, &size, err, errlen)) != 0)
        break;
    }
    else if (value) {
      source = "value";
      char *text = cJSON_PrintUnformatted(value);
      size = text ? (int64_t)strlen(text) : 0;
      if (size > run->e->limits.max_asset_bytes) {
        snprintf(err, errlen, "asset %s: its value is %lld bytes, over the "
                 "limit of %lld (assets.max_bytes)", key, (long long)size,
                 (long long)run->e->limits.max_asset_bytes);
        free(text);
        rc = CAIRN_ETOOBIG;
        break;
      }
      sha256_of(text ? text : "", (size_t)size, hash);
      free(text);
    }
    else if (uri) {
      source = "uri";
      sha256_of(uri, strlen(uri), hash);
    }
    else {
      snprintf(err, errlen, "asset %s: its path, value or uri rendered to "
               "nothing; check the template", key);
      rc = CAIRN_EINVAL;
      break;
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "key", key);
    if (part)
      cJSON_AddStringToObject(m, "partition", part);
    cJSON_AddStringToObject(m, "hash", hash);
    cJSON_AddNumberToObject(m, "size", (double)size);
    if (path || uri)
      cJSON_AddStringToObject(m, "uri", path ? path : uri);
    cJSON_AddNumberToObject(m, "max_age_us", (double)max_age);
    cJSON *meta = cJSON_AddObjectToObject(m, "meta");
    cJSON_AddStringToObject(meta, "source", source);
    cJSON_AddItemToObject(meta, "upstream", cJSON_Duplicate(ups, 1));
    cJSON_AddItemToArray(made, m);
  }
  cJSON_Delete(list);
  cJSON_Delete(ups);
  if (rc) {
    cJSON_Delete(made);
    return rc;
  }
  st->made = made;
  return 0;
}

void cairn__assets_emit(cairn__run *run, size_t i) {
  cairn__step_state *st = &run->steps[i];
  cJSON_Delete(st->assets);
  st->assets = cJSON_CreateArray();
  const cJSON *m;
  cJSON_ArrayForEach(m, st->made) {
    const char *key = str_of(m, "key"), *part = str_of(m, "partition");
    const char *hash = str_of(m, "hash");
    char *meta = cJSON_PrintUnformatted(
        cJSON_GetObjectItemCaseSensitive(m, "meta"));
    cairn_event ev = {
        .type = CAIRN_EV_ASSET_MATERIALIZED,
        .step = S(run->def->steps[i].name), .attempt = st->attempt,
        .asset_key = S(key), .partition = S(part),
        .content_hash = S(hash),
        .size_bytes = (int64_t)cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(m, "size")),
        .uri = S(str_of(m, "uri")),
        .max_age_us = (int64_t)cJSON_GetNumberValue(
            cJSON_GetObjectItemCaseSensitive(m, "max_age_us")),
        .meta = S(meta)};
    cairn__emit(run, &ev);
    free(meta);
    cJSON_AddItemToArray(st->assets, upstream_entry(key, part, hash));
  }
  cJSON_Delete(st->made);
  st->made = NULL;
}

void cairn__assets_fold(cairn__run *run, size_t i, const cairn_event *ev) {
  cairn__step_state *st = &run->steps[i];
  char key[CAIRN_ASSET_KEY_MAX + 1], part[CAIRN_PARTITION_MAX + 1],
      hash[CAIRN_HASH_HEX_LEN + 1];
  if (st->assets == NULL)
    st->assets = cJSON_CreateArray();
  snprintf(key, sizeof key, "%.*s", (int)ev->asset_key.len,
           ev->asset_key.ptr);
  snprintf(part, sizeof part, "%.*s", (int)ev->partition.len,
           ev->partition.ptr ? ev->partition.ptr : "");
  snprintf(hash, sizeof hash, "%.*s", (int)ev->content_hash.len,
           ev->content_hash.ptr);
  cJSON_AddItemToArray(st->assets, upstream_entry(key, part, hash));
}

void cairn__assets_fold_reused(cairn__run *run, size_t i, cairn_reader *r,
                               const cairn_event *reused) {
  cairn_run_info src;
  cairn_event ev;
  char id[CAIRN_RUN_ID_LEN + 1];
  cJSON_Delete(run->steps[i].assets);
  run->steps[i].assets = NULL;
  /* ref_run borrows from the event: not NUL-terminated */
  snprintf(id, sizeof id, "%.*s", (int)reused->ref_run.len,
           reused->ref_run.ptr ? reused->ref_run.ptr : "");
  if (cairn_reader_run_by_id(r, id, &src) != 0)
    return;
  /* a completion's assets follow it directly (journal/fold.c) */
  for (uint32_t seq = reused->ref_seq + 1;
       cairn_reader_event(r, src.key, seq, &ev) == 0 &&
       ev.type == CAIRN_EV_ASSET_MATERIALIZED;
       seq++)
    cairn__assets_fold(run, i, &ev);
}

void cairn__assets_consume(cairn__run *run, size_t i) {
  const cairn__step_def *sd = &run->def->steps[i];
  cairn__step_state *st = &run->steps[i];
  cJSON *list = NULL;
  char err[256];
  cairn_reader *r;
  cJSON_Delete(st->consumed);
  st->consumed = NULL;
  if (sd->consumes_tmpl == NULL ||
      cairn__run_render_with_output(run, sd->consumes_tmpl, sd->consumes,
                                    NULL, &list, err, sizeof err) != 0)
    return; /* a consume that does not render names nothing */
  st->consumed = cJSON_CreateArray();
  if (cairn_reader_begin(run->e->j, &r) != 0) {
    cJSON_Delete(list);
    return;
  }
  const cJSON *c;
  cJSON_ArrayForEach(c, list) {
    const char *key = cJSON_IsString(c) ? c->valuestring : str_of(c, "key");
    const char *part = cJSON_IsObject(c) ? str_of(c, "partition") : NULL;
    if (part == NULL) /* as produces: the run's partition by default */
      part = run->partition;
    cairn_asset a;
    if (key && cairn_reader_asset(r, run->e->ns, key, part, &a) == 0)
      cJSON_AddItemToArray(st->consumed, upstream_entry(key, part, a.hash));
  }
  cairn_reader_end(r);
  cJSON_Delete(list);
}
