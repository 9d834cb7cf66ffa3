/*
 * codec.c — events to and from msgpack.
 *
 * An event is a msgpack map from small integer field tags to values. Integer
 * keys keep events compact (a no-op step's two events are about 60 bytes)
 * and decoding cheap; the tag table below is append-only, like the event
 * types: a tag, once given, keeps its meaning, and decoders ignore tags
 * they do not know so a newer field never breaks an older reader of the
 * same schema. Field 0 is the encoding version.
 *
 * JSON payloads (inputs, outputs, details, meta) are stored as msgpack
 * strings holding compact JSON text: they are produced and consumed as
 * JSON by steps and users, and converting them to msgpack trees would cost
 * a parse and a print on every append and read for no gain.
 *
 * The seq is always the first field and always a 5-byte uint32, so a batch
 * can encode events when they are added and number them at commit time by
 * patching four bytes (cairn__event_patch_seq).
 *
 * Decoding treats its input as untrusted: cairn__mp_check bounds it first,
 * then msgpack-c builds the object, then every field's type is checked.
 */
#include "internal.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

enum {
  F_VERSION = 0, F_TYPE = 1, F_SEQ = 2, F_TIME = 3, F_STEP = 4,
  F_ATTEMPT = 5, F_INPUT = 6, F_OUTPUT = 7, F_ERR_CODE = 8, F_ERR_MSG = 9,
  F_DETAILS = 10, F_RETRYABLE = 11, F_DRY_RUN = 12, F_DURATION = 13,
  F_DELAY = 14, F_FIRE_AT = 15, F_REASON = 16, F_REF_RUN = 17,
  F_REF_SEQ = 18, F_NAME = 19, F_META = 20, F_RUN_ID = 21,
  F_WORKFLOW_ID = 22, F_NS = 23, F_DEF_HASH = 24, F_ORIGIN_KIND = 25,
  F_PARENT = 26, F_POINT = 27, F_ACTOR = 28, F_ASSET_KEY = 29,
  F_PARTITION = 30, F_CONTENT_HASH = 31, F_SIZE = 32, F_URI = 33,
  F_MAX_AGE = 34
};

static const char *const type_names[] = {
#define CAIRN__EV_NAME(name, num, str) [num] = str,
    CAIRN_EVENT_TYPE_MAP(CAIRN__EV_NAME)
#undef CAIRN__EV_NAME
};

const char *cairn_event_type_name(int type) {
  if (type <= CAIRN_EV_NONE || type >= CAIRN_EV_MAX_)
    return NULL;
  return type_names[type];
}

int cairn_event_type_from_name(const char *name) {
  for (int t = 1; t < CAIRN_EV_MAX_; t++)
    if (name && strcmp(type_names[t], name) == 0)
      return t;
  return CAIRN_EV_NONE;
}

const char *cairn_origin_kind_name(int kind) {
  static const char *const names[] = {"none", "reset", "rerun", "replay"};
  if (kind < 0 || kind > CAIRN_ORIGIN_REPLAY)
    return NULL;
  return names[kind];
}

/* ---------------------------------------------------------------- encode */

typedef struct field_str {
  int tag;
  cairn_str s;
} field_str;

static void pack_i64(msgpack_packer *pk, int tag, int64_t v) {
  msgpack_pack_int(pk, tag);
  msgpack_pack_int64(pk, v);
}

static cairn_str *str_field(cairn_event *ev, uint64_t tag);

int cairn__event_encode(const cairn_event *ev, char **out, size_t *len,
                        size_t *seq_off, cairn_event *view) {
  if (cairn_event_type_name(ev->type) == NULL)
    return CAIRN_EINVAL;
  const field_str strs[] = {
      {F_STEP, ev->step},         {F_INPUT, ev->input},
      {F_OUTPUT, ev->output},     {F_ERR_CODE, ev->error_code},
      {F_ERR_MSG, ev->error_message}, {F_DETAILS, ev->details},
      {F_REASON, ev->reason},     {F_REF_RUN, ev->ref_run},
      {F_NAME, ev->name},         {F_META, ev->meta},
      {F_RUN_ID, ev->run_id},     {F_WORKFLOW_ID, ev->workflow_id},
      {F_NS, ev->ns},             {F_DEF_HASH, ev->def_hash},
      {F_PARENT, ev->parent_run_id}, {F_POINT, ev->origin_point},
      {F_ACTOR, ev->actor},       {F_ASSET_KEY, ev->asset_key},
      {F_PARTITION, ev->partition}, {F_CONTENT_HASH, ev->content_hash},
      {F_URI, ev->uri},
  };
  const size_t n_strs = sizeof strs / sizeof strs[0];
  size_t body_off[sizeof strs / sizeof strs[0]];
  uint32_t fields = 4; /* seq, version, type, time */
  for (size_t i = 0; i < n_strs; i++)
    fields += strs[i].s.ptr != NULL;
  fields += ev->attempt != 0;
  fields += ev->retryable;
  fields += ev->dry_run;
  fields += ev->duration_us != 0;
  fields += ev->delay_ms != 0;
  fields += ev->fire_at_us != 0;
  fields += ev->ref_seq != 0;
  fields += ev->origin_kind != 0;
  fields += ev->size_bytes != 0;
  fields += ev->max_age_us != 0;

  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, fields);
  msgpack_pack_int(&pk, F_SEQ);
  *seq_off = sb.size + 1; /* after the 0xce marker */
  msgpack_pack_fix_uint32(&pk, ev->seq);
  msgpack_pack_int(&pk, F_VERSION);
  msgpack_pack_int(&pk, CAIRN_EVENT_VERSION);
  msgpack_pack_int(&pk, F_TYPE);
  msgpack_pack_int(&pk, ev->type);
  pack_i64(&pk, F_TIME, ev->time_us);
  if (ev->attempt)
    pack_i64(&pk, F_ATTEMPT, ev->attempt);
  if (ev->retryable) {
    msgpack_pack_int(&pk, F_RETRYABLE);
    msgpack_pack_true(&pk);
  }
  if (ev->dry_run) {
    msgpack_pack_int(&pk, F_DRY_RUN);
    msgpack_pack_true(&pk);
  }
  if (ev->duration_us)
    pack_i64(&pk, F_DURATION, ev->duration_us);
  if (ev->delay_ms)
    pack_i64(&pk, F_DELAY, ev->delay_ms);
  if (ev->fire_at_us)
    pack_i64(&pk, F_FIRE_AT, ev->fire_at_us);
  if (ev->ref_seq)
    pack_i64(&pk, F_REF_SEQ, ev->ref_seq);
  if (ev->origin_kind)
    pack_i64(&pk, F_ORIGIN_KIND, ev->origin_kind);
  if (ev->size_bytes)
    pack_i64(&pk, F_SIZE, ev->size_bytes);
  if (ev->max_age_us)
    pack_i64(&pk, F_MAX_AGE, ev->max_age_us);
  for (size_t i = 0; i < n_strs; i++) {
    if (strs[i].s.ptr == NULL)
      continue;
    msgpack_pack_int(&pk, strs[i].tag);
    msgpack_pack_str(&pk, strs[i].s.len);
    body_off[i] = sb.size;
    msgpack_pack_str_body(&pk, strs[i].s.ptr, strs[i].s.len);
  }
  if (sb.data == NULL) {
    msgpack_sbuffer_destroy(&sb);
    return CAIRN_ENOMEM;
  }
  *len = sb.size; /* release() resets size */
  *out = msgpack_sbuffer_release(&sb);
  msgpack_sbuffer_destroy(&sb);
  /* sbuffer grows in 8 KiB steps; a pending event keeps its buffer until
   * commit, so give back what it does not use. */
  char *fit = cairn__realloc(*out, *len);
  if (fit)
    *out = fit;
  if (view) {
    *view = *ev;
    for (size_t i = 0; i < n_strs; i++)
      if (strs[i].s.ptr)
        str_field(view, strs[i].tag)->ptr = *out + body_off[i];
  }
  return 0;
}

int cairn_event_encode(const cairn_event *ev, char **out, size_t *out_len) {
  size_t seq_off;
  return cairn__event_encode(ev, out, out_len, &seq_off, NULL);
}

/* ---------------------------------------------------------------- decode */

static int fail(cairn_decode_err *err, size_t off, const char *field,
                const char *msg) {
  if (err) {
    err->offset = off;
    err->field = field;
    err->message = msg;
  }
  return CAIRN_EDECODE;
}

static const char *tag_name(uint64_t tag) {
  static const char *const names[] = {
      "version", "type", "seq", "time_us", "step", "attempt", "input",
      "output", "error_code", "error_message", "details", "retryable",
      "dry_run", "duration_us", "delay_ms", "fire_at_us", "reason",
      "ref_run", "ref_seq", "name", "meta", "run_id", "workflow_id", "ns",
      "def_hash", "origin_kind", "parent_run_id", "origin_point", "actor",
      "asset_key", "partition", "content_hash", "size_bytes", "uri",
      "max_age_us"};
  return tag < sizeof names / sizeof names[0] ? names[tag] : "unknown";
}

static bool get_i64(const msgpack_object *o, int64_t *v) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
    if (o->via.u64 > INT64_MAX)
      return false;
    *v = (int64_t)o->via.u64;
    return true;
  }
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *v = o->via.i64;
    return true;
  }
  return false;
}

static bool get_u32(const msgpack_object *o, uint32_t *v) {
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
    return false;
  *v = (uint32_t)o->via.u64;
  return true;
}

static cairn_str *str_field(cairn_event *ev, uint64_t tag) {
  switch (tag) {
  case F_STEP: return &ev->step;
  case F_INPUT: return &ev->input;
  case F_OUTPUT: return &ev->output;
  case F_ERR_CODE: return &ev->error_code;
  case F_ERR_MSG: return &ev->error_message;
  case F_DETAILS: return &ev->details;
  case F_REASON: return &ev->reason;
  case F_REF_RUN: return &ev->ref_run;
  case F_NAME: return &ev->name;
  case F_META: return &ev->meta;
  case F_RUN_ID: return &ev->run_id;
  case F_WORKFLOW_ID: return &ev->workflow_id;
  case F_NS: return &ev->ns;
  case F_DEF_HASH: return &ev->def_hash;
  case F_PARENT: return &ev->parent_run_id;
  case F_POINT: return &ev->origin_point;
  case F_ACTOR: return &ev->actor;
  case F_ASSET_KEY: return &ev->asset_key;
  case F_PARTITION: return &ev->partition;
  case F_CONTENT_HASH: return &ev->content_hash;
  case F_URI: return &ev->uri;
  default: return NULL;
  }
}

/* Stores one field's value; false when its type is wrong. */
static bool set_field(cairn_event *ev, uint64_t tag, const msgpack_object *v,
                      int64_t *version, bool *have) {
  int64_t i;
  cairn_str *s = str_field(ev, tag);
  if (s) {
    if (v->type != MSGPACK_OBJECT_STR)
      return false;
    s->ptr = v->via.str.size ? v->via.str.ptr : "";
    s->len = v->via.str.size;
    return true;
  }
  switch (tag) {
  case F_VERSION:
    have[0] = true;
    return get_i64(v, version);
  case F_TYPE:
    have[1] = true;
    return get_i64(v, &i) && (ev->type = (int)i, i == ev->type);
  case F_SEQ:
    have[2] = true;
    return get_u32(v, &ev->seq);
  case F_TIME:
    return get_i64(v, &ev->time_us);
  case F_ATTEMPT:
    return get_u32(v, &ev->attempt);
  case F_RETRYABLE:
    return v->type == MSGPACK_OBJECT_BOOLEAN &&
           (ev->retryable = v->via.boolean, true);
  case F_DRY_RUN:
    return v->type == MSGPACK_OBJECT_BOOLEAN &&
           (ev->dry_run = v->via.boolean, true);
  case F_DURATION:
    return get_i64(v, &ev->duration_us);
  case F_DELAY:
    return get_i64(v, &ev->delay_ms);
  case F_FIRE_AT:
    return get_i64(v, &ev->fire_at_us);
  case F_REF_SEQ:
    return get_u32(v, &ev->ref_seq);
  case F_ORIGIN_KIND:
    return get_i64(v, &i) && i >= 0 && i <= CAIRN_ORIGIN_REPLAY &&
           (ev->origin_kind = (int)i, true);
  case F_SIZE:
    return get_i64(v, &ev->size_bytes) && ev->size_bytes >= 0;
  case F_MAX_AGE:
    return get_i64(v, &ev->max_age_us) && ev->max_age_us >= 0;
  default:
    return true; /* a newer field: ignored */
  }
}

static int decode_map(const msgpack_object *root, cairn_event *ev,
                      cairn_decode_err *err) {
  int64_t version = 0;
  bool have[3] = {false, false, false};
  if (root->type != MSGPACK_OBJECT_MAP)
    return fail(err, 0, NULL, "an event must be a map");
  for (uint32_t i = 0; i < root->via.map.size; i++) {
    const msgpack_object_kv *kv = &root->via.map.ptr[i];
    if (kv->key.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
      return fail(err, 0, NULL, "field keys must be unsigned integers");
    if (!set_field(ev, kv->key.via.u64, &kv->val, &version, have))
      return fail(err, 0, tag_name(kv->key.via.u64),
                  "field has the wrong type or range");
  }
  if (!have[0] || version < 1 || version > CAIRN_EVENT_VERSION)
    return fail(err, 0, "version", "missing or unsupported event version");
  if (!have[1] || cairn_event_type_name(ev->type) == NULL)
    return fail(err, 0, "type", "missing or unknown event type");
  if (!have[2] || ev->seq == 0)
    return fail(err, 0, "seq", "missing or zero seq");
  return 0;
}

int cairn_event_decode(const void *buf, size_t len, cairn_event *ev,
                       cairn_decode_err *err) {
  size_t bad = 0, off = 0;
  memset(ev, 0, sizeof *ev);
  if (len > CAIRN_EVENT_MAX_BYTES)
    return fail(err, 0, NULL, "event larger than the limit");
  if (cairn__mp_check(buf, len, &bad) != 0)
    return fail(err, bad, NULL, "not one well-formed msgpack value");
  /* Small events fit the first chunk: one malloc per decode. */
  msgpack_zone zone;
  if (!msgpack_zone_init(&zone, 1024))
    return CAIRN_ENOMEM;
  msgpack_object root;
  int rc;
  if (msgpack_unpack(buf, len, &off, &zone, &root) != MSGPACK_UNPACK_SUCCESS)
    rc = fail(err, off, NULL, "msgpack could not be unpacked");
  else
    rc = decode_map(&root, ev, err);
  msgpack_zone_destroy(&zone);
  if (rc != 0)
    memset(ev, 0, sizeof *ev);
  return rc;
}

/* ---------------------------------------------------------------- check */

/* An asset key or partition: a name without control characters (a tab
 * separates the two in a listing's page cursor). */
static bool label_ok(cairn_str s, size_t max);

static bool name_ok(cairn_str s, size_t max) {
  if (s.ptr == NULL)
    return true;
  if (s.len == 0 || s.len > max || memchr(s.ptr, '\0', s.len))
    return false;
  return true;
}

static bool label_ok(cairn_str s, size_t max) {
  if (!name_ok(s, max))
    return false;
  for (size_t i = 0; s.ptr && i < s.len; i++)
    if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
      return false;
  return true;
}

int cairn__event_check(const cairn_event *ev, char *msg, size_t msglen) {
  if (cairn_event_type_name(ev->type) == NULL) {
    cairn__fmt(msg, msglen, "unknown event type %d", ev->type);
    return CAIRN_EINVAL;
  }
  if (!name_ok(ev->step, CAIRN_STEP_NAME_MAX)) {
    cairn__fmt(msg, msglen,
               "step name must be 1..%d bytes without NUL bytes",
               CAIRN_STEP_NAME_MAX);
    return CAIRN_EINVAL;
  }
  if (!label_ok(ev->partition, CAIRN_PARTITION_MAX)) {
    cairn__fmt(msg, msglen, "a partition key must be 1..%d bytes without "
               "control characters", CAIRN_PARTITION_MAX);
    return CAIRN_EINVAL;
  }
  if (ev->type == CAIRN_EV_ASSET_MATERIALIZED) {
    if (ev->asset_key.ptr == NULL ||
        !label_ok(ev->asset_key, CAIRN_ASSET_KEY_MAX)) {
      cairn__fmt(msg, msglen, "asset.materialized needs an asset_key of "
                 "1..%d bytes without control characters",
                 CAIRN_ASSET_KEY_MAX);
      return CAIRN_EINVAL;
    }
    char hex[CAIRN_HASH_HEX_LEN + 1];
    cairn__fmt(hex, sizeof hex, "%.*s", (int)ev->content_hash.len,
               ev->content_hash.ptr ? ev->content_hash.ptr : "");
    if (ev->content_hash.len != CAIRN_HASH_HEX_LEN ||
        !cairn__is_hash_hex(hex)) {
      cairn__fmt(msg, msglen, "asset.materialized needs a content_hash: "
                 "the SHA-256 of the content as 64 lowercase hex digits");
      return CAIRN_EINVAL;
    }
    if (ev->size_bytes < 0 || ev->max_age_us < 0) {
      cairn__fmt(msg, msglen, "asset.materialized: size_bytes and "
                 "max_age_us are never negative");
      return CAIRN_EINVAL;
    }
  }
  const struct { const char *what; cairn_str s; } json[] = {
      {"input", ev->input}, {"output", ev->output},
      {"details", ev->details}, {"meta", ev->meta}};
  for (size_t i = 0; i < sizeof json / sizeof json[0]; i++) {
    if (json[i].s.ptr && !cairn__json_valid(json[i].s.ptr, json[i].s.len)) {
      cairn__fmt(msg, msglen, "%s event: field '%s' is not valid JSON",
                 cairn_event_type_name(ev->type), json[i].what);
      return CAIRN_EINVAL;
    }
  }
  return 0;
}
