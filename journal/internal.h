/*
 * internal.h — declarations shared by the files of journal/ (and by tests
 * that exercise them). Nothing here is public: names are `cairn__`.
 *
 * Files of journal/:
 *   codec.c      events <-> msgpack (the only msgpack user besides records)
 *   mpcheck.c    bounds/structure check run on untrusted msgpack first
 *   records.c    run records, views, workflows, audit, definition state
 *                and registrations <-> msgpack
 *   fold.c       the run lifecycle: events folded into views
 *   ids.c        UUIDv7, SHA-256, canonical JSON, byte order helpers
 *   batch.c      building a batch (backend-neutral)
 *   journal.c    the public functions, dispatched to the backend
 *                (backend.h: the interface every backend implements)
 *   fault.c      fault points (fault.h): every allocation of journal/
 *                goes through cairn__malloc and its siblings
 *   store/       the backend: the journal as an ordered key-value store
 *                (store.h), over one of two drivers:
 *   lmdb/        the LMDB driver: the only files that include lmdb.h
 *   pg/          the PostgreSQL driver: the only files that include
 *                libpq-fe.h
 */
#ifndef CAIRN_JOURNAL_INTERNAL_H
#define CAIRN_JOURNAL_INTERNAL_H

#include <cairn/cairn.h>
#include <stdarg.h>
#include <uthash.h>

#include "fault.h"

/* --- byte order: keys are big-endian so byte order is numeric order --- */
static inline void cairn__put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}
static inline void cairn__put_be64(unsigned char *p, uint64_t v) {
  cairn__put_be32(p, (uint32_t)(v >> 32));
  cairn__put_be32(p + 4, (uint32_t)v);
}
static inline uint32_t cairn__get_be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t cairn__get_be64(const unsigned char *p) {
  return ((uint64_t)cairn__get_be32(p) << 32) | cairn__get_be32(p + 4);
}

/* --- ids.c --- */
int64_t cairn__now_us(void);
/* Writes a new UUIDv7 as 36 chars + NUL. Returns 0 or CAIRN_EIO. */
int cairn__uuid7(char out[CAIRN_RUN_ID_LEN + 1]);
/* Whether `s` looks like a UUID in text form (8-4-4-4-12 hex). */
bool cairn__is_uuid(const char *s);
/* SHA-256 of [p, p+n) as 64 lowercase hex chars + NUL. */
void cairn__sha256_hex(const void *p, size_t n,
                       char out[CAIRN_HASH_HEX_LEN + 1]);
bool cairn__is_hash_hex(const char *s);
/* Canonical JSON of [json, json+len): objects' keys sorted bytewise, no
 * whitespace. Returns 0 and a malloc'ed *out, or CAIRN_EINVAL with the
 * byte offset of the syntax error in *err_off. */
int cairn__json_canonical(const char *json, size_t len, char **out,
                          size_t *out_len, size_t *err_off);
/* Whether [p, p+n) is one complete JSON value. */
bool cairn__json_valid(const char *p, size_t n);
/* Canonical JSON (as cairn__json_canonical) of [json, json+len), which must
 * be an object whose every value is a string: a step rename mapping.
 * Returns 0 and a malloc'ed *out, CAIRN_EINVAL with the problem in `why`,
 * or CAIRN_ENOMEM. */
int cairn__json_string_map(const char *json, size_t len, char **out,
                           size_t *out_len, char *why, size_t whylen);

/* --- mpcheck.c --- */
/* Checks that [p, p+len) holds exactly one well-formed msgpack object whose
 * containers claim no more elements than bytes remain and which nests at
 * most 16 deep. Returns 0, or CAIRN_EDECODE with the offset in *bad_off. */
int cairn__mp_check(const unsigned char *p, size_t len, size_t *bad_off);

/* --- codec.c --- */
/* Encodes `ev` into a malloc'ed buffer; the seq field is always a 5-byte
 * uint32 at byte *seq_off, so the journal can number the event at commit
 * (cairn__event_patch_seq). When `view` is non-NULL it receives `ev` with
 * every string pointing into the encoded buffer: what decoding the buffer
 * would give, without decoding it. */
int cairn__event_encode(const cairn_event *ev, char **out, size_t *len,
                        size_t *seq_off, cairn_event *view);
static inline void cairn__event_patch_seq(char *buf, size_t seq_off,
                                          uint32_t seq) {
  cairn__put_be32((unsigned char *)buf + seq_off, seq);
}
/* Validates names and sizes of `ev` for appending; fills msg. */
int cairn__event_check(const cairn_event *ev, char *msg, size_t msglen);

/* --- records.c: the stored shapes of everything that is not an event ---
 * Each encoder returns a malloc'ed buffer; each decoder reads untrusted
 * bytes (returns CAIRN_EDECODE) and borrows strings from the input. */

/* The run record (`runs` database). */
typedef struct cairn__run_rec {
  cairn_run_info info;
} cairn__run_rec;
int cairn__run_rec_encode(const cairn__run_rec *r, char **out, size_t *len);
int cairn__run_rec_decode(const void *p, size_t n, cairn__run_rec *r);

/* The workflow record (`workflows`): current run and its runs. */
int cairn__wf_rec_encode(uint64_t current, const uint64_t *runs, size_t n,
                         char **out, size_t *len);
/* Decodes into *runs (realloc'ed; *cap its capacity). */
int cairn__wf_rec_decode(const void *p, size_t n, uint64_t *current,
                         uint64_t **runs, size_t *n_runs, size_t *cap);

/* Definition versions (`names`): hashes, version 1 first. */
int cairn__names_rec_encode(const char (*hashes)[CAIRN_HASH_HEX_LEN + 1],
                            size_t n, char **out, size_t *len);
/* Borrows: hash i is at p + off[i] (64 bytes, no NUL). */
int cairn__names_rec_count(const void *p, size_t n, uint32_t *count);
int cairn__names_rec_get(const void *p, size_t n, uint32_t version,
                         char out[CAIRN_HASH_HEX_LEN + 1]);

int cairn__audit_encode(const cairn_audit_record *a, char **out, size_t *len);
int cairn__audit_decode(const void *p, size_t n, cairn_audit_record *a);

/* A request id (cairn_audit_record.request_id) is 1..128 bytes without
 * NUL: it follows the namespace in a key of the `requests` database. */
#define CAIRN__REQUEST_ID_MAX 128

/* Definition state (`def_state`): [paused 0|1, [deleted versions,
 * ascending]]. Decodes the versions into *deleted (realloc'ed; *cap its
 * capacity). */
int cairn__def_state_encode(bool paused, const uint32_t *deleted, size_t n,
                            char **out, size_t *len);
int cairn__def_state_decode(const void *p, size_t n, bool *paused,
                            uint32_t **deleted, size_t *n_deleted,
                            size_t *cap);

/* Registrations of one snapshot (`def_names`): every (ns, name, version)
 * it became, oldest first, as [[ns, name, version], ...]. */
typedef struct cairn__def_reg {
  cairn_str ns;
  cairn_str name;
  uint32_t version;
} cairn__def_reg;
/* The list [p, p+n) (p NULL: an empty list) with `add` appended. */
int cairn__def_regs_append(const void *p, size_t n, const cairn__def_reg *add,
                           char **out, size_t *len);
/* The latest registration; strings borrow from [p, p+n). */
int cairn__def_regs_latest(const void *p, size_t n, cairn__def_reg *out);

/* Prompt artifacts (`prompts`): [workflow, step, [[hash, time_us,
 * def_hash], ...]], revisions oldest first, "" for absent strings.
 * Decodes into out (all but out->id; revisions malloc'ed). */
int cairn__prompt_rec_decode(const void *p, size_t n, cairn_prompt *out);
/* The record [p, p+n) (p NULL: a new artifact of `workflow` and `step`)
 * with `add` appended; *unchanged (and nothing in *out) when `add` is its
 * latest revision already. */
int cairn__prompt_rec_append(const void *p, size_t n, const char *workflow,
                             const char *step,
                             const cairn_prompt_revision *add,
                             bool *unchanged, char **out, size_t *len);
/* Checks a prompt id (see cairn_batch_put_prompt); 0 or CAIRN_EINVAL
 * with the reason in why. */
int cairn__prompt_id_check(const char *id, bool from_definition, char *why,
                           size_t whylen);

/* The latest materialization of an asset (`assets`): [time_us, run key,
 * seq, hash, versions]: where its asset.materialized event is, its
 * content hash (staleness checks compare it without reading the event)
 * and how many materializations the key has. */
typedef struct cairn__asset_latest {
  int64_t time_us;
  uint64_t run;
  uint32_t seq;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  uint32_t versions;
} cairn__asset_latest;
int cairn__asset_latest_encode(const cairn__asset_latest *a, char **out,
                               size_t *len);
int cairn__asset_latest_decode(const void *p, size_t n,
                               cairn__asset_latest *a);

int cairn__run_view_encode(const cairn_run_view *v, char **out, size_t *len);
int cairn__run_view_decode(const void *p, size_t n, cairn_run_view *v);
int cairn__step_view_encode(const cairn_step_view *v, char **out,
                            size_t *len);
int cairn__step_view_decode(const void *p, size_t n, cairn_step_view *v);
int cairn__attempt_view_encode(const cairn_attempt_view *v, char **out,
                               size_t *len);
int cairn__attempt_view_decode(const void *p, size_t n,
                               cairn_attempt_view *v);

/* --- fold.c: the run lifecycle ---
 *
 * A fold state holds the run view and the step and attempt views touched
 * so far. Views not yet in memory are fetched through the loader (the
 * LMDB backend loads from the `views` database; a full fold from history,
 * as verify and rebuild do, has a loader that finds nothing).
 */
typedef struct cairn__fold_loader {
  void *ctx;
  /* 0 and *out, CAIRN_ENOTFOUND, or another error. out->name is ignored. */
  int (*load_step)(void *ctx, uint64_t run, cairn_str name,
                   cairn_step_view *out);
  /* A step.reused event: 0 and the source run key when (ref_run, ref_seq)
   * is a step.completed; CAIRN_ENOTFOUND / CAIRN_ECONFLICT with `why`. */
  int (*check_ref)(void *ctx, const cairn_event *ev, uint64_t *src_key,
                   char *why, size_t whylen);
} cairn__fold_loader;

typedef struct cairn__fold_attempt {
  cairn_attempt_view v;
  bool dirty;
} cairn__fold_attempt;

typedef struct cairn__fold_step {
  char *name;                 /* owned, NUL-terminated */
  size_t name_len;
  cairn_step_view v;          /* v.name points at `name`; v.latest is the
                                 latest attempt, stored inside the step
                                 record so a one-attempt step writes one
                                 record, not two */
  bool dirty;
  bool known;                 /* exists (loaded or created) */
  cairn__fold_attempt *att;   /* older attempts that became records of
                                 their own in this fold, ascending */
  size_t n_att, cap_att;
  UT_hash_handle hh;
} cairn__fold_step;

typedef struct cairn__fold {
  uint64_t run;               /* run key */
  cairn_run_view v;
  char *rerun_step;           /* owned copy of v.rerun_step */
  bool v_dirty;
  bool v_known;               /* the run view exists */
  cairn__fold_step *steps;    /* uthash by name */
  cairn__fold_loader loader;
  char err[256];              /* why the last apply failed */
} cairn__fold;

void cairn__fold_init(cairn__fold *f, uint64_t run,
                      const cairn__fold_loader *loader);
void cairn__fold_free(cairn__fold *f);
/* Installs a stored run view (incremental mode). */
int cairn__fold_set_view(cairn__fold *f, const cairn_run_view *v);
/* Applies one event. 0, or CAIRN_ECONFLICT (lifecycle broken) /
 * CAIRN_ECORRUPT / CAIRN_ENOMEM with f->err set. */
int cairn__fold_apply(cairn__fold *f, const cairn_event *ev);

/* --- assets.c: the backend-neutral part of the asset catalogue --- */
/* Calls cb for each upstream {"key", "partition", "hash"} of an
 * asset.materialized event's meta (absent, or without upstreams: none);
 * entries that are not well formed are skipped. Strings are lent for
 * the call. Returns 0, cb's nonzero answer, or CAIRN_ENOMEM. */
typedef int (*cairn__upstream_cb)(void *ctx, const char *key,
                                  const char *partition, const char *hash);
int cairn__asset_upstreams(cairn_str meta, cairn__upstream_cb cb, void *ctx);
/* Fills the event's part of *out (key, partition, step, attempt, time,
 * hash, size, uri, max_age, meta, seq) from an asset.materialized. */
void cairn__asset_from_event(const cairn_event *ev, cairn_asset *out);

/* --- batch.c: a batch is built here and applied by the backend --- */
typedef enum cairn__op_kind {
  CAIRN__OP_REMOVED = 0,
  CAIRN__OP_CREATE_RUN = 1,
  CAIRN__OP_APPEND = 2,
  CAIRN__OP_DEFINITION = 3,
  CAIRN__OP_AUDIT = 4,
  CAIRN__OP_PAUSE_DEFINITION = 5,
  CAIRN__OP_DELETE_DEFINITION = 6,
  CAIRN__OP_MAPPING = 7,
  CAIRN__OP_PROMPT = 8
} cairn__op_kind;

/* One encoded event waiting for its seq. */
typedef struct cairn__pending_event {
  char *buf;
  size_t len;
  size_t seq_off;
  cairn_event ev; /* the event as decoded from buf (strings point into it) */
} cairn__pending_event;

typedef struct cairn__op {
  int kind;                       /* cairn__op_kind */
  char run_id[CAIRN_RUN_ID_LEN + 1];
  /* CREATE_RUN and APPEND: events [ev_first, ev_first + n_events) */
  size_t ev_first, n_events;
  /* CREATE_RUN: the run's identity (its run.started carries the rest) */
  char ns[CAIRN_NAMESPACE_MAX + 1];
  char workflow_id[CAIRN_WORKFLOW_ID_MAX + 1];
  char def_hash[CAIRN_HASH_HEX_LEN + 1];
  char parent_run_id[CAIRN_RUN_ID_LEN + 1];
  int origin_kind;
  bool make_current;
  int64_t time_us;
  /* DEFINITION: canonical JSON and optional name (and ns) */
  char *json;
  size_t json_len;
  char *name;
  /* PAUSE_DEFINITION / DELETE_DEFINITION: ns, name and */
  bool paused;
  uint32_t del_version;
  /* MAPPING: from def_hash to to_hash, the canonical mapping in json */
  char to_hash[CAIRN_HASH_HEX_LEN + 1];
  /* PROMPT: ns, name (the id), json (the text), to_hash (its SHA-256),
   * def_hash (the source definition, or ""), workflow_id and step (the
   * definition name and llm step, or "") */
  char step[CAIRN_STEP_NAME_MAX + 1];
  /* AUDIT: owned copies in `audit` */
  cairn_audit_record audit;
  char *audit_strs;
  /* results, set by a successful commit */
  uint64_t run_key;
  uint32_t first_seq;
  uint32_t version;
} cairn__op;

struct cairn_batch {
  cairn_journal *j;
  char owner[CAIRN_OWNER_MAX + 1]; /* "" = appends ignore leases */
  int64_t lease_ms;
  cairn__op *ops;
  size_t n_ops, cap_ops;
  cairn__pending_event *evs;
  size_t n_evs, cap_evs;
  bool committed;
  int failed_op;   /* the operation a failed commit stopped at, or -1 */
};

/* Backend entry points used by batch.c. */
int cairn__backend_commit(cairn_batch *b);
void cairn__journal_set_err(cairn_journal *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- error detail helper --- */
void cairn__fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* CAIRN_JOURNAL_INTERNAL_H */
