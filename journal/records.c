/*
 * records.c — the stored shape of everything that is not an event: run
 * records, workflow records, definition version lists, definition state
 * and registrations, audit records and the three kinds of view records.
 *
 * Each record is a msgpack array read by position. Arrays (rather than
 * maps with tags, as events use) keep these small and fast to rewrite:
 * views are rewritten on every append. Records may grow by appending
 * positions; decoders accept arrays longer than they know (a newer
 * writer's extra fields) and reject shorter ones.
 *
 * Decoders read untrusted bytes: cairn__mp_check first, then msgpack-c,
 * then a type check of every position. Strings borrow from the input.
 */
#include "internal.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ plumbing */

typedef struct packer {
  msgpack_sbuffer sb;
  msgpack_packer pk;
} packer;

static void pk_init(packer *p, uint32_t items) {
  msgpack_sbuffer_init(&p->sb);
  msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
  msgpack_pack_array(&p->pk, items);
}

static void pk_u64(packer *p, uint64_t v) { msgpack_pack_uint64(&p->pk, v); }
static void pk_i64(packer *p, int64_t v) { msgpack_pack_int64(&p->pk, v); }

static void pk_cstr(packer *p, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(&p->pk, n);
  msgpack_pack_str_body(&p->pk, s, n);
}

static void pk_str(packer *p, cairn_str s) {
  if (s.ptr == NULL) {
    msgpack_pack_nil(&p->pk);
    return;
  }
  msgpack_pack_str(&p->pk, s.len);
  msgpack_pack_str_body(&p->pk, s.ptr, s.len);
}

static int pk_done(packer *p, char **out, size_t *len) {
  if (p->sb.data == NULL)
    return CAIRN_ENOMEM;
  *len = p->sb.size;
  *out = msgpack_sbuffer_release(&p->sb);
  msgpack_sbuffer_destroy(&p->sb);
  return 0;
}

/* A decoded array; items borrow from the zone and the input. */
typedef struct unpacked {
  msgpack_zone zone;
  msgpack_object root;
  const msgpack_object *it;
  uint32_t n;
  bool ok; /* false once any accessor met a wrong type */
} unpacked;

static int up_open(unpacked *u, const void *p, size_t n, uint32_t min_items) {
  size_t bad, off = 0;
  u->ok = false;
  if (cairn__mp_check(p, n, &bad) != 0)
    return CAIRN_EDECODE;
  if (!msgpack_zone_init(&u->zone, 512))
    return CAIRN_ENOMEM;
  if (msgpack_unpack(p, n, &off, &u->zone, &u->root) !=
          MSGPACK_UNPACK_SUCCESS ||
      u->root.type != MSGPACK_OBJECT_ARRAY ||
      u->root.via.array.size < min_items) {
    msgpack_zone_destroy(&u->zone);
    return CAIRN_EDECODE;
  }
  u->it = u->root.via.array.ptr;
  u->n = u->root.via.array.size;
  u->ok = true;
  return 0;
}

static int up_close(unpacked *u) {
  msgpack_zone_destroy(&u->zone);
  return u->ok ? 0 : CAIRN_EDECODE;
}

static uint64_t up_u64(unpacked *u, uint32_t i) {
  if (u->it[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
    u->ok = false;
    return 0;
  }
  return u->it[i].via.u64;
}

static uint32_t up_u32(unpacked *u, uint32_t i) {
  uint64_t v = up_u64(u, i);
  if (v > UINT32_MAX) {
    u->ok = false;
    return 0;
  }
  return (uint32_t)v;
}

static int64_t up_i64(unpacked *u, uint32_t i) {
  const msgpack_object *o = &u->it[i];
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return o->via.i64;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
    return (int64_t)o->via.u64;
  u->ok = false;
  return 0;
}

/* A string or nil (absent). */
static cairn_str up_str(unpacked *u, uint32_t i) {
  cairn_str s = {NULL, 0};
  const msgpack_object *o = &u->it[i];
  if (o->type == MSGPACK_OBJECT_NIL)
    return s;
  if (o->type != MSGPACK_OBJECT_STR) {
    u->ok = false;
    return s;
  }
  s.ptr = o->via.str.size ? o->via.str.ptr : "";
  s.len = o->via.str.size;
  return s;
}

/* Copies a string position into a fixed buffer of `cap` bytes (with NUL). */
static void up_cstr(unpacked *u, uint32_t i, char *dst, size_t cap) {
  cairn_str s = up_str(u, i);
  if (s.ptr == NULL || s.len >= cap) {
    u->ok = false;
    dst[0] = '\0';
    return;
  }
  memcpy(dst, s.ptr, s.len);
  dst[s.len] = '\0';
}

/* ---------------------------------------------------------- run record */

enum { RUN_REC_ITEMS = 13 };

int cairn__run_rec_encode(const cairn__run_rec *r, char **out, size_t *len) {
  packer p;
  const cairn_run_info *i = &r->info;
  pk_init(&p, RUN_REC_ITEMS);
  pk_u64(&p, i->key);
  pk_cstr(&p, i->run_id);
  pk_cstr(&p, i->ns);
  pk_cstr(&p, i->workflow_id);
  pk_cstr(&p, i->def_hash);
  pk_u64(&p, (uint64_t)i->status);
  pk_u64(&p, i->last_seq);
  pk_i64(&p, i->created_us);
  pk_i64(&p, i->updated_us);
  pk_u64(&p, (uint64_t)i->origin_kind);
  pk_cstr(&p, i->parent_run_id);
  pk_cstr(&p, i->lease_owner);
  pk_i64(&p, i->lease_expiry_us);
  return pk_done(&p, out, len);
}

int cairn__run_rec_decode(const void *buf, size_t n, cairn__run_rec *r) {
  unpacked u;
  cairn_run_info *i = &r->info;
  int rc = up_open(&u, buf, n, RUN_REC_ITEMS);
  if (rc)
    return rc;
  i->key = up_u64(&u, 0);
  up_cstr(&u, 1, i->run_id, sizeof i->run_id);
  up_cstr(&u, 2, i->ns, sizeof i->ns);
  up_cstr(&u, 3, i->workflow_id, sizeof i->workflow_id);
  up_cstr(&u, 4, i->def_hash, sizeof i->def_hash);
  i->status = (int)up_u32(&u, 5);
  i->last_seq = up_u32(&u, 6);
  i->created_us = up_i64(&u, 7);
  i->updated_us = up_i64(&u, 8);
  i->origin_kind = (int)up_u32(&u, 9);
  up_cstr(&u, 10, i->parent_run_id, sizeof i->parent_run_id);
  up_cstr(&u, 11, i->lease_owner, sizeof i->lease_owner);
  i->lease_expiry_us = up_i64(&u, 12);
  if (cairn_run_status_name(i->status) == NULL ||
      cairn_origin_kind_name(i->origin_kind) == NULL)
    u.ok = false;
  return up_close(&u);
}

/* ----------------------------------------------------- workflow record */

int cairn__wf_rec_encode(uint64_t current, const uint64_t *runs, size_t n,
                         char **out, size_t *len) {
  packer p;
  pk_init(&p, 2);
  pk_u64(&p, current);
  msgpack_pack_array(&p.pk, n);
  for (size_t i = 0; i < n; i++)
    pk_u64(&p, runs[i]);
  return pk_done(&p, out, len);
}

int cairn__wf_rec_decode(const void *buf, size_t n, uint64_t *current,
                         uint64_t **runs, size_t *n_runs, size_t *cap) {
  unpacked u;
  int rc = up_open(&u, buf, n, 2);
  if (rc)
    return rc;
  *current = up_u64(&u, 0);
  const msgpack_object *a = &u.it[1];
  if (a->type != MSGPACK_OBJECT_ARRAY) {
    u.ok = false;
    return up_close(&u);
  }
  if (a->via.array.size > *cap) {
    uint64_t *nr = cairn__realloc(*runs, a->via.array.size * sizeof *nr);
    if (nr == NULL) {
      msgpack_zone_destroy(&u.zone);
      return CAIRN_ENOMEM;
    }
    *runs = nr;
    *cap = a->via.array.size;
  }
  for (uint32_t k = 0; k < a->via.array.size; k++) {
    const msgpack_object *o = &a->via.array.ptr[k];
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
      u.ok = false;
    (*runs)[k] = o->via.u64;
  }
  *n_runs = a->via.array.size;
  return up_close(&u);
}

/* -------------------------------------------------- definition versions */

int cairn__names_rec_encode(const char (*hashes)[CAIRN_HASH_HEX_LEN + 1],
                            size_t n, char **out, size_t *len) {
  packer p;
  pk_init(&p, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    pk_cstr(&p, hashes[i]);
  return pk_done(&p, out, len);
}

int cairn__names_rec_count(const void *buf, size_t n, uint32_t *count) {
  unpacked u;
  int rc = up_open(&u, buf, n, 0);
  if (rc)
    return rc;
  *count = u.n;
  return up_close(&u);
}

int cairn__names_rec_get(const void *buf, size_t n, uint32_t version,
                         char out[CAIRN_HASH_HEX_LEN + 1]) {
  unpacked u;
  int rc = up_open(&u, buf, n, 0);
  if (rc)
    return rc;
  if (version == 0 || version > u.n) {
    msgpack_zone_destroy(&u.zone);
    return CAIRN_ENOTFOUND;
  }
  up_cstr(&u, version - 1, out, CAIRN_HASH_HEX_LEN + 1);
  return up_close(&u);
}

/* ------------------------------------------------------------- audit */

enum { AUDIT_ITEMS = 10 };

int cairn__audit_encode(const cairn_audit_record *a, char **out,
                        size_t *len) {
  packer p;
  pk_init(&p, AUDIT_ITEMS + 1); /* 10: detail, read when present */
  pk_u64(&p, a->seq);
  pk_i64(&p, a->time_us);
  pk_str(&p, a->ns);
  pk_str(&p, a->actor);
  pk_str(&p, a->action);
  pk_str(&p, a->workflow_id);
  pk_str(&p, a->run_id);
  pk_str(&p, a->new_run_id);
  pk_str(&p, a->reason);
  pk_str(&p, a->request_id);
  pk_str(&p, a->detail);
  return pk_done(&p, out, len);
}

int cairn__audit_decode(const void *buf, size_t n, cairn_audit_record *a) {
  unpacked u;
  int rc = up_open(&u, buf, n, AUDIT_ITEMS);
  if (rc)
    return rc;
  a->seq = up_u64(&u, 0);
  a->time_us = up_i64(&u, 1);
  a->ns = up_str(&u, 2);
  a->actor = up_str(&u, 3);
  a->action = up_str(&u, 4);
  a->workflow_id = up_str(&u, 5);
  a->run_id = up_str(&u, 6);
  a->new_run_id = up_str(&u, 7);
  a->reason = up_str(&u, 8);
  a->request_id = up_str(&u, 9);
  a->detail = u.n > 10 ? up_str(&u, 10) : (cairn_str){NULL, 0};
  return up_close(&u);
}

/* ------------------------------------------------------------ assets */

enum { ASSET_LATEST_ITEMS = 5 };

int cairn__asset_latest_encode(const cairn__asset_latest *a, char **out,
                               size_t *len) {
  packer p;
  pk_init(&p, ASSET_LATEST_ITEMS);
  pk_i64(&p, a->time_us);
  pk_u64(&p, a->run);
  pk_u64(&p, a->seq);
  pk_cstr(&p, a->hash);
  pk_u64(&p, a->versions);
  return pk_done(&p, out, len);
}

int cairn__asset_latest_decode(const void *buf, size_t n,
                               cairn__asset_latest *a) {
  unpacked u;
  int rc = up_open(&u, buf, n, ASSET_LATEST_ITEMS);
  if (rc)
    return rc;
  a->time_us = up_i64(&u, 0);
  a->run = up_u64(&u, 1);
  a->seq = up_u32(&u, 2);
  cairn_str h = up_str(&u, 3);
  a->versions = up_u32(&u, 4);
  if (h.len != CAIRN_HASH_HEX_LEN)
    u.ok = false;
  else {
    memcpy(a->hash, h.ptr, CAIRN_HASH_HEX_LEN);
    a->hash[CAIRN_HASH_HEX_LEN] = '\0';
  }
  return up_close(&u);
}

/* --------------------------------------------------- definition state */

enum { DEF_STATE_ITEMS = 2 };

int cairn__def_state_encode(bool paused, const uint32_t *deleted, size_t n,
                            char **out, size_t *len) {
  packer p;
  pk_init(&p, DEF_STATE_ITEMS);
  pk_u64(&p, paused ? 1 : 0);
  msgpack_pack_array(&p.pk, n);
  for (size_t i = 0; i < n; i++)
    pk_u64(&p, deleted[i]);
  return pk_done(&p, out, len);
}

int cairn__def_state_decode(const void *buf, size_t n, bool *paused,
                            uint32_t **deleted, size_t *n_deleted,
                            size_t *cap) {
  unpacked u;
  int rc = up_open(&u, buf, n, DEF_STATE_ITEMS);
  if (rc)
    return rc;
  uint64_t flag = up_u64(&u, 0);
  *paused = flag == 1;
  const msgpack_object *a = &u.it[1];
  if (flag > 1 || a->type != MSGPACK_OBJECT_ARRAY) {
    u.ok = false;
    return up_close(&u);
  }
  uint32_t count = a->via.array.size;
  if (count > *cap) {
    uint32_t *grown = cairn__realloc(*deleted, count * sizeof *grown);
    if (grown == NULL) {
      msgpack_zone_destroy(&u.zone);
      return CAIRN_ENOMEM;
    }
    *deleted = grown;
    *cap = count;
  }
  /* Versions are from 1 and strictly ascending. */
  u.it = a->via.array.ptr;
  for (uint32_t k = 0; k < count; k++) {
    (*deleted)[k] = up_u32(&u, k);
    if ((*deleted)[k] <= (k ? (*deleted)[k - 1] : 0))
      u.ok = false;
  }
  *n_deleted = count;
  return up_close(&u);
}

/* ------------------------------------------- definition registrations */

enum { DEF_REG_ITEMS = 3 };

/* Reads registration `i` of the list `u` holds. */
static void up_reg(unpacked *u, uint32_t i, cairn__def_reg *r) {
  const msgpack_object *o = &u->it[i];
  const msgpack_object *saved = u->it;
  memset(r, 0, sizeof *r);
  if (o->type != MSGPACK_OBJECT_ARRAY ||
      o->via.array.size < DEF_REG_ITEMS) {
    u->ok = false;
    return;
  }
  u->it = o->via.array.ptr;
  r->ns = up_str(u, 0);
  r->name = up_str(u, 1);
  r->version = up_u32(u, 2);
  u->it = saved;
  if (r->ns.ptr == NULL || r->name.ptr == NULL || r->version == 0)
    u->ok = false;
}

static void pk_reg(packer *p, const cairn__def_reg *r) {
  msgpack_pack_array(&p->pk, DEF_REG_ITEMS);
  pk_str(p, r->ns);
  pk_str(p, r->name);
  pk_u64(p, r->version);
}

int cairn__def_regs_append(const void *buf, size_t n,
                           const cairn__def_reg *add, char **out,
                           size_t *len) {
  unpacked u = {.n = 0, .ok = true};
  packer p;
  if (buf) {
    int rc = up_open(&u, buf, n, 1);
    if (rc)
      return rc;
  }
  pk_init(&p, u.n + 1);
  for (uint32_t i = 0; i < u.n && u.ok; i++) {
    cairn__def_reg r;
    up_reg(&u, i, &r);
    pk_reg(&p, &r);
  }
  pk_reg(&p, add);
  int rc = buf ? up_close(&u) : 0;
  if (rc) {
    msgpack_sbuffer_destroy(&p.sb);
    return rc;
  }
  return pk_done(&p, out, len);
}

int cairn__def_regs_latest(const void *buf, size_t n, cairn__def_reg *out) {
  unpacked u;
  int rc = up_open(&u, buf, n, 1);
  if (rc)
    return rc;
  up_reg(&u, u.n - 1, out);
  return up_close(&u);
}

/* ---------------------------------------------------- prompt artifacts */

enum { PROMPT_REC_ITEMS = 3, PROMPT_REV_ITEMS = 3 };

/* Reads revision `i` of the revision list `u` points into. */
static void up_rev(unpacked *u, const msgpack_object *o,
                   cairn_prompt_revision *r) {
  const msgpack_object *saved = u->it;
  memset(r, 0, sizeof *r);
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < PROMPT_REV_ITEMS) {
    u->ok = false;
    return;
  }
  u->it = o->via.array.ptr;
  up_cstr(u, 0, r->hash, sizeof r->hash);
  r->time_us = up_i64(u, 1);
  up_cstr(u, 2, r->def_hash, sizeof r->def_hash);
  u->it = saved;
  if (!cairn__is_hash_hex(r->hash) ||
      (r->def_hash[0] && !cairn__is_hash_hex(r->def_hash)))
    u->ok = false;
}

static void pk_rev(packer *p, const cairn_prompt_revision *r) {
  msgpack_pack_array(&p->pk, PROMPT_REV_ITEMS);
  pk_cstr(p, r->hash);
  pk_i64(p, r->time_us);
  pk_cstr(p, r->def_hash);
}

int cairn__prompt_rec_decode(const void *buf, size_t n, cairn_prompt *out) {
  unpacked u;
  out->revisions = NULL;
  out->n_revisions = 0;
  int rc = up_open(&u, buf, n, PROMPT_REC_ITEMS);
  if (rc)
    return rc;
  up_cstr(&u, 0, out->workflow, sizeof out->workflow);
  up_cstr(&u, 1, out->step, sizeof out->step);
  const msgpack_object *a = &u.it[2];
  if (!u.ok || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size == 0) {
    msgpack_zone_destroy(&u.zone);
    return CAIRN_EDECODE;
  }
  uint32_t count = a->via.array.size;
  out->revisions = cairn__calloc(count, sizeof *out->revisions);
  if (out->revisions == NULL) {
    msgpack_zone_destroy(&u.zone);
    return CAIRN_ENOMEM;
  }
  for (uint32_t i = 0; i < count && u.ok; i++)
    up_rev(&u, &a->via.array.ptr[i], &out->revisions[i]);
  out->n_revisions = count;
  rc = up_close(&u);
  if (rc) {
    free(out->revisions);
    out->revisions = NULL;
    out->n_revisions = 0;
  }
  return rc;
}

int cairn__prompt_rec_append(const void *buf, size_t n, const char *workflow,
                             const char *step,
                             const cairn_prompt_revision *add,
                             bool *unchanged, char **out, size_t *len) {
  cairn_prompt old = {0};
  packer p;
  *unchanged = false;
  if (buf) {
    int rc = cairn__prompt_rec_decode(buf, n, &old);
    if (rc)
      return rc;
    if (strcmp(old.revisions[old.n_revisions - 1].hash, add->hash) == 0) {
      *unchanged = true;
      cairn_prompt_free(&old);
      return 0;
    }
    workflow = old.workflow;
    step = old.step;
  }
  pk_init(&p, PROMPT_REC_ITEMS);
  pk_cstr(&p, workflow ? workflow : "");
  pk_cstr(&p, step ? step : "");
  msgpack_pack_array(&p.pk, (uint32_t)old.n_revisions + 1);
  for (size_t i = 0; i < old.n_revisions; i++)
    pk_rev(&p, &old.revisions[i]);
  pk_rev(&p, add);
  cairn_prompt_free(&old);
  return pk_done(&p, out, len);
}

int cairn__prompt_id_check(const char *id, bool from_definition, char *why,
                           size_t whylen) {
  size_t n = id ? strlen(id) : 0;
  if (n <= 7 || n > CAIRN_PROMPT_ID_MAX || strncmp(id, "prompt_", 7) != 0) {
    cairn__fmt(why, whylen, "a prompt artifact id is \"prompt_\" and 1..%d "
               "more bytes", CAIRN_PROMPT_ID_MAX - 7);
    return CAIRN_EINVAL;
  }
  for (size_t i = 7; i < n; i++) {
    unsigned char c = (unsigned char)id[i];
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!plain && (!from_definition || c == '/' || c < 0x20)) {
      cairn__fmt(why, whylen, "prompt artifact id \"%s\" has '%c' at byte "
                 "%zu; use letters, digits, '.', '_' and '-'", id,
                 c >= 0x20 ? c : '?', i + 1);
      return CAIRN_EINVAL;
    }
  }
  return 0;
}

/* -------------------------------------------------------------- views */

enum { RUN_VIEW_ITEMS = 13, STEP_VIEW_ITEMS = 11, ATTEMPT_VIEW_ITEMS = 9 };
enum { SV_REUSED = 1, SV_DRY_RUN = 2, SV_STALE = 4 };

/* An attempt is an array of its own, alone or inside a step view. */
static void pack_attempt(packer *p, const cairn_attempt_view *v) {
  msgpack_pack_array(&p->pk, ATTEMPT_VIEW_ITEMS);
  pk_u64(p, v->attempt);
  pk_u64(p, (uint64_t)v->status);
  pk_u64(p, v->start_seq);
  pk_u64(p, v->end_seq);
  pk_i64(p, v->started_us);
  pk_i64(p, v->ended_us);
  pk_i64(p, v->duration_us);
  pk_u64(p, v->dry_run);
  /* Scores in millionths (an integer: views compare byte for byte);
   * -1 when the attempt was not scored. */
  pk_i64(p, v->scored ? (int64_t)(v->score * 1e6 + 0.5) : -1);
}

/* Reads an attempt from `it` (ATTEMPT_VIEW_ITEMS objects). Attempt 0 is
 * "no attempt" and must be all zero. */
static void unpack_attempt(unpacked *u, const msgpack_object *it,
                           cairn_attempt_view *v) {
  const msgpack_object *saved = u->it;
  u->it = it;
  v->attempt = up_u32(u, 0);
  v->status = (int)up_u32(u, 1);
  v->start_seq = up_u32(u, 2);
  v->end_seq = up_u32(u, 3);
  v->started_us = up_i64(u, 4);
  v->ended_us = up_i64(u, 5);
  v->duration_us = up_i64(u, 6);
  v->dry_run = up_u64(u, 7) != 0;
  int64_t ppm = up_i64(u, 8);
  v->scored = ppm >= 0;
  v->score = v->scored ? (double)ppm / 1e6 : 0;
  u->it = saved;
  if (v->attempt ? cairn_attempt_status_name(v->status) == NULL
                 : v->status != 0)
    u->ok = false;
}

int cairn__run_view_encode(const cairn_run_view *v, char **out, size_t *len) {
  packer p;
  pk_init(&p, RUN_VIEW_ITEMS);
  pk_u64(&p, (uint64_t)v->status);
  pk_u64(&p, v->last_seq);
  pk_i64(&p, v->started_us);
  pk_i64(&p, v->ended_us);
  pk_i64(&p, v->updated_us);
  pk_u64(&p, v->output_seq);
  pk_u64(&p, v->error_seq);
  pk_u64(&p, v->n_steps);
  pk_u64(&p, v->n_completed);
  pk_u64(&p, v->n_attempts);
  pk_u64(&p, v->n_signals);
  pk_u64(&p, v->rerun_seq);
  pk_str(&p, v->rerun_step);
  return pk_done(&p, out, len);
}

int cairn__run_view_decode(const void *buf, size_t n, cairn_run_view *v) {
  unpacked u;
  int rc = up_open(&u, buf, n, RUN_VIEW_ITEMS);
  if (rc)
    return rc;
  v->status = (int)up_u32(&u, 0);
  v->last_seq = up_u32(&u, 1);
  v->started_us = up_i64(&u, 2);
  v->ended_us = up_i64(&u, 3);
  v->updated_us = up_i64(&u, 4);
  v->output_seq = up_u32(&u, 5);
  v->error_seq = up_u32(&u, 6);
  v->n_steps = up_u32(&u, 7);
  v->n_completed = up_u32(&u, 8);
  v->n_attempts = up_u32(&u, 9);
  v->n_signals = up_u32(&u, 10);
  v->rerun_seq = up_u32(&u, 11);
  v->rerun_step = up_str(&u, 12);
  if (cairn_run_status_name(v->status) == NULL)
    u.ok = false;
  return up_close(&u);
}

int cairn__step_view_encode(const cairn_step_view *v, char **out,
                            size_t *len) {
  packer p;
  pk_init(&p, STEP_VIEW_ITEMS);
  pk_u64(&p, (uint64_t)v->status);
  pk_u64(&p, v->attempts);
  pk_u64(&p, v->ok_attempt);
  pk_u64(&p, v->out_run);
  pk_u64(&p, v->out_seq);
  pk_u64(&p, v->first_seq);
  pk_u64(&p, v->last_seq);
  pk_i64(&p, v->started_us);
  pk_i64(&p, v->ended_us);
  pk_u64(&p, (v->reused ? SV_REUSED : 0) | (v->dry_run ? SV_DRY_RUN : 0) |
                 (v->stale ? SV_STALE : 0));
  pack_attempt(&p, &v->latest);
  return pk_done(&p, out, len);
}

int cairn__step_view_decode(const void *buf, size_t n, cairn_step_view *v) {
  unpacked u;
  int rc = up_open(&u, buf, n, STEP_VIEW_ITEMS);
  if (rc)
    return rc;
  v->status = (int)up_u32(&u, 0);
  v->attempts = up_u32(&u, 1);
  v->ok_attempt = up_u32(&u, 2);
  v->out_run = up_u64(&u, 3);
  v->out_seq = up_u32(&u, 4);
  v->first_seq = up_u32(&u, 5);
  v->last_seq = up_u32(&u, 6);
  v->started_us = up_i64(&u, 7);
  v->ended_us = up_i64(&u, 8);
  uint64_t flags = up_u64(&u, 9);
  v->reused = flags & SV_REUSED;
  v->dry_run = flags & SV_DRY_RUN;
  v->stale = flags & SV_STALE;
  const msgpack_object *a = &u.it[10];
  if (a->type != MSGPACK_OBJECT_ARRAY ||
      a->via.array.size < ATTEMPT_VIEW_ITEMS)
    u.ok = false;
  else
    unpack_attempt(&u, a->via.array.ptr, &v->latest);
  if (cairn_step_status_name(v->status) == NULL ||
      (v->latest.attempt != 0) != (v->attempts != 0))
    u.ok = false;
  return up_close(&u);
}

int cairn__attempt_view_encode(const cairn_attempt_view *v, char **out,
                               size_t *len) {
  packer p;
  msgpack_sbuffer_init(&p.sb);
  msgpack_packer_init(&p.pk, &p.sb, msgpack_sbuffer_write);
  pack_attempt(&p, v);
  return pk_done(&p, out, len);
}

int cairn__attempt_view_decode(const void *buf, size_t n,
                               cairn_attempt_view *v) {
  unpacked u;
  int rc = up_open(&u, buf, n, ATTEMPT_VIEW_ITEMS);
  if (rc)
    return rc;
  unpack_attempt(&u, u.it, v);
  if (v->attempt == 0)
    u.ok = false;
  return up_close(&u);
}
