/*
 * journal.h — the backend-neutral journal interface.
 *
 * The journal is the append-only store of every run's history plus the
 * indexes and views derived from it (docs/storage.md). It speaks only
 * cairn's own types: no storage-engine type appears here, so the embedded
 * LMDB backend (journal/lmdb/, behind journal/backend.h) and a later
 * PostgreSQL backend implement the same contract.
 *
 * Model
 *   - A run is identified by its run id (UUIDv7 text, 36 chars) and, inside
 *     one journal, by a dense run key (1, 2, 3, ...). Keys are cheaper; ids
 *     are what users see.
 *   - A run's history is events numbered 1..n with no gaps. Event 1 is
 *     always `run.started`, written by cairn_batch_create_run.
 *   - Writes go through a cairn_batch: a list of operations (create a run,
 *     append events, store a definition, record an audit entry) applied in
 *     one atomic transaction by cairn_batch_commit. This is the group-commit
 *     primitive: either every operation of the batch is durable, or none.
 *   - Reads go through a cairn_reader: a consistent snapshot. Every pointer
 *     a reader hands out (event fields, definition JSON, view names) stays
 *     valid until cairn_reader_end and must not be freed; copy what you
 *     keep.
 *   - Views (run view, step views, attempt views) are folded from events in
 *     the same transaction that appends them, so they never lag history.
 */
#ifndef CAIRN_JOURNAL_H
#define CAIRN_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The schema version this library reads and writes, bumped whenever what
 * a journal holds changes shape (docs/storage.md, "Schema version"):
 *   1  the first;
 *   2  adds the `prompts` database (prompt artifacts);
 *   3  adds the asset catalogue (`assets`, `asset_versions`,
 *      `run_assets`, `asset_uses`).
 * Opening a journal of a newer version fails with CAIRN_ESCHEMA. An older
 * one is migrated in place by a read-write open, in its first
 * transaction (all of the migration or none); a read-only open refuses it
 * with CAIRN_ESCHEMA and names `cairn journal migrate`. */
#define CAIRN_JOURNAL_SCHEMA 3
/* The encoding version written into every event. */
#define CAIRN_EVENT_VERSION 1

/* Limits, checked at the API boundary (CAIRN_EINVAL or CAIRN_ETOOBIG). */
#define CAIRN_RUN_ID_LEN 36        /* UUID text, without NUL */
#define CAIRN_NAMESPACE_MAX 64     /* bytes */
#define CAIRN_WORKFLOW_ID_MAX 200  /* bytes */
#define CAIRN_STEP_NAME_MAX 128    /* bytes */
#define CAIRN_HASH_HEX_LEN 64      /* SHA-256 as lowercase hex */
#define CAIRN_EVENT_MAX_BYTES (64u << 20) /* one encoded event */
#define CAIRN_OWNER_MAX 96         /* lease owner id, bytes */
#define CAIRN_ASSET_KEY_MAX 256    /* asset key, bytes, no NUL */
#define CAIRN_PARTITION_MAX 128    /* partition key, bytes, no NUL */

/* A borrowed byte string; not NUL-terminated unless said otherwise.
 * ptr == NULL means "absent" (different from present and empty). */
typedef struct cairn_str {
  const char *ptr;
  size_t len;
} cairn_str;

/* --------------------------------------------------------------------- */
/* Events                                                                 */
/* --------------------------------------------------------------------- */

/* Event types. Numbers are stored in the journal: append only. */
#define CAIRN_EVENT_TYPE_MAP(X)                       \
  X(RUN_STARTED, 1, "run.started")                    \
  X(RUN_COMPLETED, 2, "run.completed")                \
  X(RUN_FAILED, 3, "run.failed")                      \
  X(RUN_CANCELLED, 4, "run.cancelled")                \
  X(RUN_TERMINATED, 5, "run.terminated")              \
  X(RUN_OUTPUT_RECOMPUTED, 6, "run.output_recomputed") \
  X(STEP_STARTED, 7, "step.started")                  \
  X(STEP_COMPLETED, 8, "step.completed")              \
  X(STEP_FAILED, 9, "step.failed")                    \
  X(STEP_RETRY_SCHEDULED, 10, "step.retry_scheduled") \
  X(STEP_REUSED, 11, "step.reused")                   \
  X(STEP_RERUN_REQUESTED, 12, "step.rerun_requested") \
  X(TIMER_STARTED, 13, "timer.started")               \
  X(TIMER_FIRED, 14, "timer.fired")                   \
  X(SIGNAL_RECEIVED, 15, "signal.received")          \
  X(STEP_EVALUATED, 16, "step.evaluated")            \
  X(ASSET_MATERIALIZED, 17, "asset.materialized")

typedef enum cairn_event_type {
  CAIRN_EV_NONE = 0,
#define CAIRN__EV_ENUM(name, num, str) CAIRN_EV_##name = (num),
  CAIRN_EVENT_TYPE_MAP(CAIRN__EV_ENUM)
#undef CAIRN__EV_ENUM
  CAIRN_EV_MAX_
} cairn_event_type;

/* "step.completed" for CAIRN_EV_STEP_COMPLETED; NULL for unknown types. */
const char *cairn_event_type_name(int type);
/* The type for a name, or CAIRN_EV_NONE. */
int cairn_event_type_from_name(const char *name);

/* Origin kinds of a run (run.started). Stored: append only. */
typedef enum cairn_origin_kind {
  CAIRN_ORIGIN_NONE = 0,
  CAIRN_ORIGIN_RESET = 1,
  CAIRN_ORIGIN_RERUN = 2,
  CAIRN_ORIGIN_REPLAY = 3
} cairn_origin_kind;

/* "none", "reset", "rerun", "replay"; NULL for unknown kinds. */
const char *cairn_origin_kind_name(int kind);

/*
 * One event. Which fields a type uses is listed in docs/events.md; unused
 * fields are zero / absent. JSON fields hold compact JSON text.
 * When decoded by a reader, every cairn_str borrows from the reader's
 * snapshot (valid until cairn_reader_end).
 */
typedef struct cairn_event {
  int type;                /* cairn_event_type */
  uint32_t seq;            /* 1.. in its run; assigned by the journal */
  int64_t time_us;         /* wall clock, µs since the epoch; 0 = now */
  cairn_str step;          /* step name (step.*, timer.*) */
  uint32_t attempt;        /* attempt number, from 1 (step.*) */
  cairn_str input;         /* JSON: run input or a step's rendered input */
  cairn_str output;        /* JSON: a step's or the run's output;
                              signal data */
  cairn_str error_code;    /* short machine code ("exit_status") */
  cairn_str error_message; /* human text */
  cairn_str details;       /* JSON: error details */
  bool retryable;          /* step.failed: may be retried */
  bool dry_run;            /* step.completed: recorded, not performed */
  int64_t duration_us;     /* step.completed / step.failed */
  int64_t delay_ms;        /* step.retry_scheduled: delay before attempt */
  int64_t fire_at_us;      /* timer.started: deadline, µs since epoch */
  cairn_str reason;        /* why (control actions) */
  cairn_str ref_run;       /* step.reused: source run id;
                              run.terminated: the run that replaced it */
  uint32_t ref_seq;        /* step.reused: source event seq */
  cairn_str name;          /* signal.received: the signal's name */
  cairn_str meta;          /* JSON: provider/model/usage on step.completed;
                              overrides on run.started and
                              step.rerun_requested */
  /* run.started only (copied from the run spec by the journal): */
  cairn_str run_id;
  cairn_str workflow_id;
  cairn_str ns;
  cairn_str def_hash;      /* 64 hex chars */
  int origin_kind;         /* cairn_origin_kind */
  cairn_str parent_run_id; /* origin: the run this one derives from */
  cairn_str origin_point;  /* origin: the step of the reset / rerun */
  cairn_str actor;         /* who asked (control actions) */
  /* asset.materialized (docs/assets.md); partition also on run.started: */
  cairn_str asset_key;     /* the asset's key, 1..CAIRN_ASSET_KEY_MAX */
  cairn_str partition;     /* its partition key; absent: none */
  cairn_str content_hash;  /* SHA-256 (64 lowercase hex) of its content */
  int64_t size_bytes;      /* the content's size */
  cairn_str uri;           /* where it is: the path as declared, or a URI */
  int64_t max_age_us;      /* fresh for this long after time_us; 0: ever */
} cairn_event;

/* Detail of a decode failure: where and what. `message` is constant. */
typedef struct cairn_decode_err {
  size_t offset;       /* byte offset in the encoded value */
  const char *field;   /* field being decoded, or NULL */
  const char *message; /* what is wrong */
} cairn_decode_err;

/*
 * Decodes one encoded event (as stored by the journal) from untrusted
 * bytes. On success the cairn_str fields of `ev` point into `buf`.
 * Never reads outside [buf, buf+len), never crashes, never allocates more
 * than a small multiple of `len`.
 * Returns 0, or CAIRN_EDECODE with `err` (if non-NULL) filled in.
 */
int cairn_event_decode(const void *buf, size_t len, cairn_event *ev,
                       cairn_decode_err *err);

/*
 * Encodes `ev` (with its seq) into a malloc'ed buffer *out of *out_len
 * bytes; free it with free(). Returns 0, CAIRN_EINVAL (unknown type, a
 * name over its limit), or CAIRN_ENOMEM.
 */
int cairn_event_encode(const cairn_event *ev, char **out, size_t *out_len);

/* --------------------------------------------------------------------- */
/* Opening                                                                */
/* --------------------------------------------------------------------- */

typedef struct cairn_journal cairn_journal;

typedef struct cairn_journal_options {
  size_t initial_map_bytes; /* first map size; 0 = 64 MiB. It doubles by
                               itself when full. */
  bool no_sync;             /* skip fsync at commit: a system crash may
                               lose recent commits (never a process crash).
                               For benchmarks and tests only. */
  bool read_only;           /* open for reading; appends fail EINVAL */
  bool must_exist;          /* fail with CAIRN_ENOTFOUND instead of
                               creating a journal that is not there */
} cairn_journal_options;

/*
 * Opens the journal in directory `home`, creating the directory and an
 * empty journal when missing (unless read_only). `opts` may be NULL.
 * Returns 0 and *out, to be closed with cairn_journal_close, or:
 *   CAIRN_ESCHEMA  the journal has another schema version (*out is NULL);
 *   CAIRN_EIO      the directory cannot be created or opened;
 *   CAIRN_ECORRUPT the files are not a journal.
 * On failure, when `errbuf` is non-NULL, a message of at most `errlen`
 * bytes naming the problem and the fix is written there.
 * Opening one home twice in one process is not supported.
 */
int cairn_journal_open(const char *home, const cairn_journal_options *opts,
                       cairn_journal **out, char *errbuf, size_t errlen);

/* Closes `j`. Every reader and batch of `j` must be ended first.
 * NULL is a no-op. */
void cairn_journal_close(cairn_journal *j);

/* The detail of the last failure of a call on `j` in this thread's use of
 * the handle: names the run, seq or field involved and what to do. Never
 * NULL; "" when there was no failure. Valid until the next call on `j`. */
const char *cairn_journal_errmsg(const cairn_journal *j);

/* The home directory `j` was opened on. */
const char *cairn_journal_home(const cairn_journal *j);

/*
 * Change notification, so a worker can wake when another process commits
 * instead of polling. cairn_journal_watch returns a descriptor that
 * becomes readable after the journal's storage changed (some process,
 * this one included, committed); it belongs to `j` (closed by
 * cairn_journal_close; never close it yourself) and the same one is
 * returned on every call. -1 when the backend or the system offers none
 * (the caller keeps polling; errmsg says why).
 *
 * cairn_journal_watch_reset consumes what made the descriptor readable
 * and returns true when a transaction committed since the previous call
 * that this handle did not make: only then may there be news. A false
 * answer is exact for the commits counted so far; a commit racing with
 * the call makes the descriptor readable again. Loop thread only (not
 * thread-safe for one handle).
 */
int cairn_journal_watch(cairn_journal *j);
bool cairn_journal_watch_reset(cairn_journal *j);

/* --------------------------------------------------------------------- */
/* Writing: batches                                                       */
/* --------------------------------------------------------------------- */

typedef struct cairn_batch cairn_batch;

/* What a new run is. Strings are copied by cairn_batch_create_run. */
typedef struct cairn_run_spec {
  const char *ns;            /* namespace; NULL = "default" */
  const char *workflow_id;   /* required */
  const char *run_id;        /* NULL = a new UUIDv7 */
  const char *def_hash;      /* 64 hex chars, required */
  cairn_str input;           /* JSON; absent = null */
  int origin_kind;           /* cairn_origin_kind */
  const char *parent_run_id; /* required unless origin_kind is NONE */
  const char *origin_point;  /* step name, optional */
  cairn_str reason;          /* optional */
  cairn_str overrides;       /* JSON, optional */
  const char *actor;         /* optional */
  const char *partition;     /* the run's partition key, optional
                                (1..CAIRN_PARTITION_MAX bytes) */
  bool make_current;         /* a derived run becomes the workflow's
                                current run (reset does, replay does not);
                                a run of a new workflow always does */
  int64_t time_us;           /* 0 = now */
} cairn_run_spec;

/* One audit record: a control action. */
typedef struct cairn_audit_record {
  uint64_t seq;       /* assigned at commit (reads only) */
  int64_t time_us;    /* 0 = now */
  cairn_str ns;       /* namespace */
  cairn_str actor;    /* who */
  cairn_str action;   /* "start", "cancel", "reset", ... */
  cairn_str workflow_id;
  cairn_str run_id;   /* the run acted on */
  cairn_str new_run_id; /* the run the action created, if any */
  cairn_str reason;
  cairn_str request_id; /* caller's idempotency key, if any: the journal
                           refuses a second record with the same id in
                           the namespace (CAIRN_ECONFLICT at commit) */
  cairn_str detail;   /* JSON object, optional: what else the action
                         decided (a replay's stale assets, refused or
                         allowed) */
} cairn_audit_record;

/* Starts an empty batch on `j`. Free it with cairn_batch_free (after a
 * commit or instead of one). Returns 0, CAIRN_ENOMEM. */
int cairn_batch_new(cairn_journal *j, cairn_batch **out);

/* Frees `b` without applying what was not committed. NULL is a no-op. */
void cairn_batch_free(cairn_batch *b);

/*
 * Adds "create this run": its run record, its indexes, and its event 1,
 * `run.started`, carrying the spec. The run id (generated when spec->run_id
 * is NULL) is written to `run_id_out` (37 bytes, NUL-terminated) at once,
 * so later operations of the same batch can append to it.
 * At commit: CAIRN_ECONFLICT if the run id exists, or if the workflow id
 * exists and the spec has no origin (a new run under an existing workflow
 * takes a reset, rerun or replay); CAIRN_ENOTFOUND if a derived run's
 * parent does not exist.
 * Returns 0 or CAIRN_EINVAL (a field missing or over its limit; the
 * journal's errmsg says which).
 */
int cairn_batch_create_run(cairn_batch *b, const cairn_run_spec *spec,
                           char run_id_out[CAIRN_RUN_ID_LEN + 1]);

/*
 * Adds "append these events to run `run_id`". The events are encoded (and
 * their strings copied) now; their seq is assigned at commit: the run's
 * next numbers, without gaps. Returns an operation index >= 0 for
 * cairn_batch_first_seq, or CAIRN_EINVAL / CAIRN_ENOMEM.
 * At commit the events are folded into the run's view; an event that
 * breaks the run's lifecycle (docs/events.md, "Lifecycle rules") fails the
 * whole batch with CAIRN_ECONFLICT, e.g. a step event on a finished run, or
 * a `step.reused` whose source is not a `step.completed`.
 */
int cairn_batch_append(cairn_batch *b, const char *run_id,
                       const cairn_event *events, size_t n);

/* Adds "store this definition": `json` is canonicalized (keys sorted, no
 * whitespace) and stored under the SHA-256 of the canonical bytes. With a
 * `name`, the snapshot becomes the next version of (ns, name) unless it
 * equals the latest version already. The hash (65 bytes with NUL) is
 * written to `hash_out` at once. Returns an operation index for
 * cairn_batch_def_version, or CAIRN_EINVAL (not JSON, with the position
 * in errmsg). */
int cairn_batch_put_definition(cairn_batch *b, const char *ns,
                               const char *name, const char *json,
                               size_t len,
                               char hash_out[CAIRN_HASH_HEX_LEN + 1]);

/* Adds an audit record. Returns 0, CAIRN_EINVAL, CAIRN_ENOMEM. */
int cairn_batch_audit(cairn_batch *b, const cairn_audit_record *rec);

/*
 * Applies every operation of `b` in one durable transaction. On success
 * every operation is durable; on failure none is, `b` is unchanged and may
 * be committed again. Grows the journal's map when it is full.
 * Returns 0 or the first operation's error (errmsg names the operation,
 * run and seq). A batch may be committed once successfully.
 */
int cairn_batch_commit(cairn_batch *b);

/*
 * Fences the batch by lease: every run the batch appends to must be
 * leased to `owner` (or unleased, or leased with an expired lease: then it
 * becomes leased to `owner`), and every run it creates is leased to
 * `owner`. The commit extends those leases to now + lease_ms. A run leased
 * to another owner whose lease has not expired fails the commit with
 * CAIRN_ECONFLICT ("run R is leased to O"). This is what keeps two
 * workers from executing one run: a worker that lost its lease can no
 * longer write to the run. Without an owner (the default), appends ignore
 * leases: control actions (signals, cancel) append that way.
 * Returns 0 or CAIRN_EINVAL (owner empty or over CAIRN_OWNER_MAX bytes,
 * lease_ms <= 0).
 */
int cairn_batch_set_owner(cairn_batch *b, const char *owner, int64_t lease_ms);

/* After a successful commit: the seq given to the first event of append
 * operation `op`, 0 if `op` is not an append. */
uint32_t cairn_batch_first_seq(const cairn_batch *b, int op);

/* After a successful commit: the version number given to definition
 * operation `op` (0 when it had no name or is not a definition). */
uint32_t cairn_batch_def_version(const cairn_batch *b, int op);

/* The number of operations in `b`. */
size_t cairn_batch_size(const cairn_batch *b);

/* After a failed commit: the run id of the operation that failed (its
 * append broke the run's lifecycle, or hit another owner's lease), or NULL
 * when the failure was not about one run. Valid until `b` changes. */
const char *cairn_batch_failed_run(const cairn_batch *b);

/* Removes every operation of run `run_id` from an uncommitted batch (the
 * engine drops a run that was cancelled under it and commits the rest).
 * Returns the number of operations removed. */
size_t cairn_batch_remove_run(cairn_batch *b, const char *run_id);

/* --------------------------------------------------------------------- */
/* Reading                                                                */
/* --------------------------------------------------------------------- */

typedef struct cairn_reader cairn_reader;

/* Run status. Stored: append only. */
typedef enum cairn_run_status {
  CAIRN_RUN_RUNNING = 1,
  CAIRN_RUN_COMPLETED = 2,
  CAIRN_RUN_FAILED = 3,
  CAIRN_RUN_CANCELLED = 4,
  CAIRN_RUN_TERMINATED = 5
} cairn_run_status;

/* "running", "completed", ...; NULL for unknown values. */
const char *cairn_run_status_name(int status);
/* The status for a name, or 0. */
int cairn_run_status_from_name(const char *name);
/* Whether a run in `status` has finished. */
bool cairn_run_status_is_final(int status);

/* A run record. Strings are NUL-terminated copies. */
typedef struct cairn_run_info {
  uint64_t key;                               /* dense run key */
  char run_id[CAIRN_RUN_ID_LEN + 1];
  char ns[CAIRN_NAMESPACE_MAX + 1];
  char workflow_id[CAIRN_WORKFLOW_ID_MAX + 1];
  char def_hash[CAIRN_HASH_HEX_LEN + 1];
  int status;                                 /* cairn_run_status */
  uint32_t last_seq;                          /* events 1..last_seq */
  int64_t created_us;                         /* run.started's time */
  int64_t updated_us;                         /* last event's time */
  int origin_kind;                            /* cairn_origin_kind */
  char parent_run_id[CAIRN_RUN_ID_LEN + 1];   /* "" without origin */
  char lease_owner[CAIRN_OWNER_MAX + 1];      /* "" when unleased */
  int64_t lease_expiry_us;                    /* lease valid before this */
} cairn_run_info;

/* Opens a read snapshot of `j`. End it with cairn_reader_end.
 * Returns 0, CAIRN_EIO, CAIRN_ENOMEM. */
int cairn_reader_begin(cairn_journal *j, cairn_reader **out);

/* Ends the snapshot; every pointer it handed out dies. NULL is a no-op. */
void cairn_reader_end(cairn_reader *r);

/* The run with run id `run_id` / run key `key`. CAIRN_ENOTFOUND if none. */
int cairn_reader_run_by_id(cairn_reader *r, const char *run_id,
                           cairn_run_info *out);
int cairn_reader_run_by_key(cairn_reader *r, uint64_t key,
                            cairn_run_info *out);

/* Event `seq` of run `key`. Strings borrow from the snapshot.
 * CAIRN_ENOTFOUND if there is no such event, CAIRN_EDECODE if it cannot
 * be decoded (errmsg names run and seq). */
int cairn_reader_event(cairn_reader *r, uint64_t key, uint32_t seq,
                       cairn_event *out);

/*
 * Resolves a `step.reused` event to the original `step.completed` it
 * references (one read: the reference is always the original). For any
 * other event type, *out is a copy of `ev`. CAIRN_ENOTFOUND when the
 * source is gone, CAIRN_ECORRUPT when it is not a step.completed.
 */
int cairn_reader_resolve(cairn_reader *r, const cairn_event *ev,
                         cairn_event *out);

/* History iteration: events of one run in seq order from `from_seq`
 * (0 or 1 = from the start). */
typedef struct cairn_history cairn_history;
int cairn_reader_history(cairn_reader *r, uint64_t key, uint32_t from_seq,
                         cairn_history **out);
/* Next event: 1 and *ev filled, 0 at the end, or a negative error
 * (CAIRN_EDECODE with errmsg). `ev` borrows from the snapshot. */
int cairn_history_next(cairn_history *it, cairn_event *ev);
/* Frees the iterator (not the snapshot). NULL is a no-op. */
void cairn_history_close(cairn_history *it);

/* A workflow: its current run and all its runs, oldest first. */
typedef struct cairn_workflow_info {
  uint64_t current;   /* run key of the current run */
  size_t n_runs;
  const uint64_t *runs; /* n_runs keys; borrows from a buffer owned by the
                           reader, valid until the next workflow read */
} cairn_workflow_info;
int cairn_reader_workflow(cairn_reader *r, const char *ns,
                          const char *workflow_id, cairn_workflow_info *out);

/* Runs, newest first. Filters: status 0 = any; workflow_id NULL = any;
 * ns NULL = any. Writes at most `cap` records to `out`, sets *n. */
typedef struct cairn_run_filter {
  const char *ns;
  const char *workflow_id;
  int status;
} cairn_run_filter;
int cairn_reader_runs(cairn_reader *r, const cairn_run_filter *f,
                      cairn_run_info *out, size_t cap, size_t *n);

/* The snapshot stored under `hash` (64 hex). CAIRN_ENOTFOUND if none. */
int cairn_reader_definition(cairn_reader *r, const char *hash,
                            cairn_str *json);
/* The hash of version `version` of (ns, name); version 0 = the latest.
 * Also gives the number of versions. CAIRN_ENOTFOUND if none. */
int cairn_reader_definition_version(cairn_reader *r, const char *ns,
                                    const char *name, uint32_t version,
                                    char hash_out[CAIRN_HASH_HEX_LEN + 1],
                                    uint32_t *n_versions);

/* Every definition name of namespace `ns` (NULL = "default") in name
 * order, with its number of versions and latest hash, through `cb`
 * (non-zero stops). `name` borrows from the snapshot. */
typedef int (*cairn_def_name_cb)(void *ctx, cairn_str name,
                                 uint32_t versions, const char *latest_hash);
int cairn_reader_definition_names(cairn_reader *r, const char *ns,
                                  cairn_def_name_cb cb, void *ctx);

/* Audit records with seq >= from_seq, oldest first, through `cb` (return
 * non-zero from cb to stop). Strings borrow from the snapshot. */
typedef int (*cairn_audit_cb)(void *ctx, const cairn_audit_record *rec);
int cairn_reader_audit(cairn_reader *r, uint64_t from_seq, cairn_audit_cb cb,
                       void *ctx);

/* Audit records newest first, from the end back to (and including) seq
 * `down_to` (0 = all), through `cb` (non-zero stops): rate limits count
 * recent actions without reading the whole index. */
int cairn_reader_audit_backwards(cairn_reader *r, uint64_t down_to,
                                 cairn_audit_cb cb, void *ctx);

/* Counts audit records of `action` in namespace `ns` (NULL = "default")
 * written at or after `since_us`, stopping at `max`; *oldest_us (may be
 * NULL) gets the earliest one's time. Reads only those records: rate
 * limits stay cheap however many other actions (signals) were recorded. */
int cairn_reader_audit_count(cairn_reader *r, const char *ns,
                             const char *action, int64_t since_us,
                             uint64_t max, uint64_t *count,
                             int64_t *oldest_us);

/* The audit record written with request id `request_id` in namespace `ns`
 * (NULL = "default"): control commands given the same request id twice
 * return the first result. Strings borrow from the snapshot.
 * CAIRN_ENOTFOUND when no action used that id. */
int cairn_reader_request(cairn_reader *r, const char *ns,
                         const char *request_id, cairn_audit_record *out);

/* ------------------------------------------------ definition lifecycle */

/* What an operator did to a definition name. */
typedef struct cairn_definition_state {
  bool paused;             /* replays and reruns are refused */
  uint32_t n_deleted;      /* versions deleted (runs refuse to use them) */
  uint32_t deleted[64];    /* the first 64 of them, ascending */
} cairn_definition_state;

/* The state of (ns, name); all false/zero when never changed. */
int cairn_reader_definition_state(cairn_reader *r, const char *ns,
                                  const char *name,
                                  cairn_definition_state *out);

/* The (ns, name, version) a snapshot hash was registered as, latest
 * registration first; CAIRN_ENOTFOUND for a snapshot with no name (an
 * effective definition of a derived run). `name` is CAIRN_WORKFLOW_ID_MAX
 * + 1 bytes. */
int cairn_reader_definition_of_hash(cairn_reader *r, const char *hash,
                                    char *ns_out, char *name,
                                    uint32_t *version);

/* Adds "pause (paused = true) or unpause (ns, name)". CAIRN_ENOTFOUND at
 * commit when the name has no version. */
int cairn_batch_pause_definition(cairn_batch *b, const char *ns,
                                 const char *name, bool paused);
/* Adds "delete version `version` of (ns, name)": the snapshot stays (past
 * runs keep it) but no new run may use it. CAIRN_ENOTFOUND at commit when
 * there is no such version. */
int cairn_batch_delete_definition(cairn_batch *b, const char *ns,
                                  const char *name, uint32_t version);

/* Step renames saved between two definition snapshots (replay
 * --save-mapping): `json` is an object {"OLD": "NEW", ...}. */
int cairn_batch_put_mapping(cairn_batch *b, const char *from_hash,
                            const char *to_hash, const char *json);
/* The saved mapping from one snapshot to another, or CAIRN_ENOTFOUND.
 * Borrows from the snapshot. */
int cairn_reader_mapping(cairn_reader *r, const char *from_hash,
                         const char *to_hash, cairn_str *json);

/* --------------------------------------------------------------------- */
/* Prompt artifacts                                                       */
/* --------------------------------------------------------------------- */

/*
 * A prompt artifact is a named prompt text with its revisions, addressable
 * as `prompt_<id>` and, per revision, by the SHA-256 of its bytes
 * (`sha256:<64 hex>`). Two kinds exist, in one store: the prompt of an llm
 * step of a named definition (`prompt_<definition>.<step>`, a revision per
 * registered version whose prompt text changed), and prompts registered by
 * hand (`cairn prompt add`, POST /v1/prompts). Registering the latest text
 * again adds nothing; registering an older text again appends it as a new
 * revision, as definition versions do. Nothing is ever removed.
 */
#define CAIRN_PROMPT_ID_MAX 340     /* bytes: "prompt_" + name + "." + step */
#define CAIRN_PROMPT_TEXT_MAX (1u << 20)

typedef struct cairn_prompt_revision {
  char hash[CAIRN_HASH_HEX_LEN + 1];     /* SHA-256 of the text, hex */
  int64_t time_us;                       /* when it was registered */
  char def_hash[CAIRN_HASH_HEX_LEN + 1]; /* the definition it came from;
                                            "" when registered by hand */
} cairn_prompt_revision;

typedef struct cairn_prompt {
  char id[CAIRN_PROMPT_ID_MAX + 1];
  char workflow[CAIRN_WORKFLOW_ID_MAX + 1]; /* "" when registered by hand */
  char step[CAIRN_STEP_NAME_MAX + 1];       /* the llm step it belongs to */
  cairn_prompt_revision *revisions;         /* oldest first (malloc'ed) */
  size_t n_revisions;
} cairn_prompt;

void cairn_prompt_free(cairn_prompt *p);

/* Adds "append `text` as a revision of artifact `id` in `ns`" (a no-op
 * at commit when it is the latest revision already). `workflow` and `step`
 * (NULL for a prompt registered by hand) are kept when the artifact is
 * created; `def_hash` (NULL: none) names the definition it came from.
 * `hash_out` (65 bytes) receives the text's SHA-256. CAIRN_EINVAL for an
 * id that is not 8..340 bytes of [A-Za-z0-9._-] after "prompt_" (a
 * definition's prompt may carry its names' other bytes, never NUL or
 * '/'), or a text over CAIRN_PROMPT_TEXT_MAX. */
int cairn_batch_put_prompt(cairn_batch *b, const char *ns, const char *id,
                           const char *workflow, const char *step,
                           const char *def_hash, const char *text,
                           char hash_out[CAIRN_HASH_HEX_LEN + 1]);

/* The artifact `id` of `ns` with its revisions (free with
 * cairn_prompt_free), or CAIRN_ENOTFOUND. */
int cairn_reader_prompt(cairn_reader *r, const char *ns, const char *id,
                        cairn_prompt *out);
/* The text whose SHA-256 is `hash` (64 hex), of any artifact of any
 * namespace, or CAIRN_ENOTFOUND. Borrows from the snapshot. */
int cairn_reader_prompt_text(cairn_reader *r, const char *hash,
                             cairn_str *text);
/* Calls cb for each artifact of `ns` in id order, from the first id after
 * `after` (NULL: from the start), until cb returns nonzero. The artifact
 * lent to cb lasts for the call. */
typedef int (*cairn_prompt_cb)(void *ctx, const cairn_prompt *p);
int cairn_reader_prompts(cairn_reader *r, const char *ns, const char *after,
                         cairn_prompt_cb cb, void *ctx);

/* --------------------------------------------------------------------- */
/* Assets (docs/assets.md)                                               */
/* --------------------------------------------------------------------- */

/*
 * The asset catalogue is folded from `asset.materialized` events in the
 * transaction that appends them, like the views: per namespace, every
 * (key, partition) has its materializations (versions), newest last by
 * (time, run key, seq); the latest one; the assets each run materialized;
 * and the runs that built something from each version (its users, from
 * the upstream lists of their materializations).
 */
typedef struct cairn_asset {
  char ns[CAIRN_NAMESPACE_MAX + 1];
  cairn_str key;
  cairn_str partition;        /* absent: none */
  char run_id[CAIRN_RUN_ID_LEN + 1]; /* the run that materialized it */
  uint64_t run_key;
  uint32_t seq;               /* its asset.materialized event */
  cairn_str step;
  uint32_t attempt;
  int64_t time_us;
  char hash[CAIRN_HASH_HEX_LEN + 1];
  int64_t size_bytes;
  cairn_str uri;              /* absent: an inline value */
  int64_t max_age_us;         /* 0: no age limit */
  cairn_str meta;             /* JSON {"source", "upstream": [{"key",
                                 "partition", "hash"}]} or absent */
  uint32_t versions;          /* cairn_reader_asset(s): materializations of
                                 the key (and partition) so far; else 0 */
} cairn_asset;

/* Lent to a callback for the call; strings borrow from the snapshot. */
typedef int (*cairn_asset_cb)(void *ctx, const cairn_asset *a);

/* The latest materialization of (ns, key, partition) (partition NULL:
 * none), or CAIRN_ENOTFOUND. */
int cairn_reader_asset(cairn_reader *r, const char *ns, const char *key,
                       const char *partition, cairn_asset *out);
/* Calls cb with the latest materialization of each (key, partition) of
 * `ns` whose key starts with `prefix` (NULL: all), in key then partition
 * order, from the first entry after (after_key, after_partition)
 * (after_key NULL: the start), until cb returns nonzero. */
int cairn_reader_assets(cairn_reader *r, const char *ns, const char *prefix,
                        const char *after_key, const char *after_partition,
                        cairn_asset_cb cb, void *ctx);
/* Calls cb with every materialization of (ns, key, partition), newest
 * first; CAIRN_ENOTFOUND when it has none. */
int cairn_reader_asset_history(cairn_reader *r, const char *ns,
                               const char *key, const char *partition,
                               cairn_asset_cb cb, void *ctx);
/* Calls cb with what run `key` materialized: per (key, partition) its
 * latest materialization in that run, in key order. */
int cairn_reader_run_assets(cairn_reader *r, uint64_t run_key,
                            cairn_asset_cb cb, void *ctx);
/* Calls cb with the run key of each run that built an asset from the
 * version of (ns, key, partition) whose content hash is `hash`, in run
 * key order. */
typedef int (*cairn_run_key_cb)(void *ctx, uint64_t run_key);
int cairn_reader_asset_users(cairn_reader *r, const char *ns,
                             const char *key, const char *partition,
                             const char *hash, cairn_run_key_cb cb,
                             void *ctx);

/* Why a materialization is stale (docs/assets.md, "Staleness"). */
enum {
  CAIRN_ASSET_SUPERSEDED = 1,     /* a newer one of its key exists */
  CAIRN_ASSET_EXPIRED = 2,        /* older than its max_age */
  CAIRN_ASSET_UPSTREAM_CHANGED = 4 /* an asset it was built from has a
                                      newer version of other content */
};
typedef struct cairn_asset_staleness {
  unsigned why;                   /* CAIRN_ASSET_* bits; 0: fresh */
  /* SUPERSEDED: the latest materialization of the key */
  char newer_run_id[CAIRN_RUN_ID_LEN + 1];
  int64_t newer_time_us;
  char newer_hash[CAIRN_HASH_HEX_LEN + 1];
  /* EXPIRED: when it did */
  int64_t expired_at_us;
  /* UPSTREAM_CHANGED: how many upstreams changed, and the first */
  unsigned n_upstream_changed;
  char upstream_key[CAIRN_ASSET_KEY_MAX + 1];
  char upstream_partition[CAIRN_PARTITION_MAX + 1];
  char upstream_hash[CAIRN_HASH_HEX_LEN + 1]; /* its latest content */
} cairn_asset_staleness;

/* Applies the three staleness rules to `a` at time now_us (0: now):
 * one lookup for the key's latest, one per upstream. Returns 0 and *out
 * (out->why 0 when fresh), or an error of the reader. */
int cairn_asset_staleness_of(cairn_reader *r, const cairn_asset *a,
                             int64_t now_us, cairn_asset_staleness *out);
/* `a` and its staleness as a JSON object (malloc'ed; NULL when out of
 * memory): {"key", "partition"?, "hash", "run_id", "materialized_us",
 * "why": ["superseded" | "expired" | "upstream_changed", ...],
 * "newer"?: {"run_id", "hash", "materialized_us"}, "expired_us"?,
 * "upstream"?: {"key", "partition"?, "hash", "changed"}}. */
char *cairn_asset_stale_json(const cairn_asset *a,
                             const cairn_asset_staleness *s);
/* The stale assets among those run `run_key` materialized, at now_us (0:
 * now): *json a malloc'ed JSON array of cairn_asset_stale_json objects
 * and *n their number, or NULL and 0 when none is stale. One catalogue
 * lookup per asset and upstream: O(assets of the run). */
int cairn_run_stale_assets(cairn_reader *r, uint64_t run_key,
                           int64_t now_us, char **json, size_t *n);

/* --------------------------------------------------------------------- */
/* Views                                                                  */
/* --------------------------------------------------------------------- */

/* Step status in a view. Stored: append only. */
typedef enum cairn_step_status {
  CAIRN_STEP_PENDING = 0,   /* no event yet */
  CAIRN_STEP_RUNNING = 1,   /* an attempt started, not finished */
  CAIRN_STEP_COMPLETED = 2, /* latest attempt succeeded, or reused */
  CAIRN_STEP_FAILED = 3,    /* latest attempt failed, no retry pending */
  CAIRN_STEP_RETRYING = 4,  /* a retry is scheduled */
  CAIRN_STEP_WAITING = 5    /* a timer runs for it */
} cairn_step_status;
const char *cairn_step_status_name(int status);

/* Attempt status. Stored: append only. */
typedef enum cairn_attempt_status {
  CAIRN_ATTEMPT_RUNNING = 1,
  CAIRN_ATTEMPT_COMPLETED = 2,
  CAIRN_ATTEMPT_FAILED = 3,
  CAIRN_ATTEMPT_ABANDONED = 4 /* a newer attempt started without this one
                                 finishing: its worker died */
} cairn_attempt_status;
const char *cairn_attempt_status_name(int status);

/* The run view: one record per run, folded from its events. */
typedef struct cairn_run_view {
  int status;             /* cairn_run_status */
  uint32_t last_seq;      /* the last event folded */
  int64_t started_us;     /* run.started time */
  int64_t ended_us;       /* time of the final event, 0 while running */
  int64_t updated_us;     /* time of the last event */
  uint32_t output_seq;    /* event holding the run output
                             (run.completed / run.output_recomputed), 0 */
  uint32_t error_seq;     /* run.failed / cancelled / terminated event, 0 */
  uint32_t n_steps;       /* steps with at least one event */
  uint32_t n_completed;   /* steps whose status is completed */
  uint32_t n_attempts;    /* attempts started, all steps */
  uint32_t n_signals;     /* signal.received events */
  uint32_t rerun_seq;     /* pending step.rerun_requested, 0 if none */
  cairn_str rerun_step;   /* the step of that rerun; borrows */
} cairn_run_view;

/* One attempt of one step. */
typedef struct cairn_attempt_view {
  uint32_t attempt;
  int status;             /* cairn_attempt_status */
  uint32_t start_seq;     /* step.started */
  uint32_t end_seq;       /* step.completed / step.failed, 0 */
  int64_t started_us;
  int64_t ended_us;
  int64_t duration_us;    /* as reported by the completion event */
  bool dry_run;
  bool scored;            /* a step.evaluated gave it a score */
  double score;           /* 0..1, when scored (kept to 1e-6) */
} cairn_attempt_view;

/* A step's view: one record per step of a run. */
typedef struct cairn_step_view {
  cairn_str name;         /* borrows from the snapshot */
  int status;             /* cairn_step_status */
  uint32_t attempts;      /* attempts started (the latest number) */
  uint32_t ok_attempt;    /* attempt whose output is visible, 0 if none */
  uint64_t out_run;       /* run key holding the visible output event */
  uint32_t out_seq;       /* ... and its seq (step.completed); 0 if none */
  uint32_t first_seq;     /* the step's first event: orders steps */
  uint32_t last_seq;      /* the step's latest event */
  int64_t started_us;     /* latest attempt's start */
  int64_t ended_us;       /* latest attempt's end, 0 while running */
  bool reused;            /* output reused from another run */
  bool dry_run;           /* visible output was recorded, not performed */
  bool stale;             /* an upstream step was rerun after this one */
  cairn_attempt_view latest; /* the latest attempt (attempt 0: none, as
                                for a reused step); older attempts are
                                records of their own */
} cairn_step_view;


int cairn_reader_run_view(cairn_reader *r, uint64_t key,
                          cairn_run_view *out);
/* A step's view by name; CAIRN_ENOTFOUND if the step has no event. */
int cairn_reader_step_view(cairn_reader *r, uint64_t key, const char *step,
                           cairn_step_view *out);
/* Every step view of a run, through `cb` in the order steps first
 * appeared; non-zero from cb stops. */
typedef int (*cairn_step_cb)(void *ctx, const cairn_step_view *s);
int cairn_reader_steps(cairn_reader *r, uint64_t key, cairn_step_cb cb,
                       void *ctx);
/* Every attempt of one step, in attempt order. */
typedef int (*cairn_attempt_cb)(void *ctx, const cairn_attempt_view *a);
int cairn_reader_attempts(cairn_reader *r, uint64_t key, const char *step,
                          cairn_attempt_cb cb, void *ctx);

/* --------------------------------------------------------------------- */
/* Leases                                                                 */
/* --------------------------------------------------------------------- */

/* Answers whether the process that owns leases as `owner` is known to be
 * dead (the engine checks pids on its own host). Called inside a write
 * transaction: keep it fast and never call the journal from it. */
typedef bool (*cairn_owner_dead_cb)(void *ctx, const char *owner);

/*
 * Claims running runs for `owner`: each whose lease is free, expired, or
 * held by an owner `dead` (may be NULL) declares dead, up to `max` runs,
 * oldest first, in one transaction. Runs `owner` holds already are not
 * claimed again, except the one asked for with `only`. Claimed runs
 * are leased to `owner` for lease_ms. Their keys go to `out`, their number
 * to *n. With `only` non-zero, only that run is considered (and *n is 0
 * when someone else holds it).
 */
int cairn_journal_claim_runs(cairn_journal *j, const char *owner,
                             int64_t lease_ms, cairn_owner_dead_cb dead,
                             void *ctx, uint64_t only, uint64_t *out,
                             size_t max, size_t *n);

/* Extends to now + lease_ms the leases `owner` holds on runs `keys`; runs
 * leased to someone else (the lease was lost) are listed in `lost` (may
 * be NULL, else room for n keys) and counted in *n_lost. */
int cairn_journal_renew_leases(cairn_journal *j, const char *owner,
                               int64_t lease_ms, const uint64_t *keys,
                               size_t n, uint64_t *lost, size_t *n_lost);

/* Gives up `owner`'s leases on runs `keys`, so others may claim them at
 * once. Runs leased to others are left alone. */
int cairn_journal_release_leases(cairn_journal *j, const char *owner,
                                 const uint64_t *keys, size_t n);

/* --------------------------------------------------------------------- */
/* Maintenance                                                            */
/* --------------------------------------------------------------------- */

/* One problem found by cairn_journal_verify. */
typedef struct cairn_verify_problem {
  uint64_t run_key;       /* 0 when not about a run */
  const char *run_id;     /* "" when unknown */
  uint32_t seq;           /* 0 when not about one event */
  const char *message;    /* what is wrong */
} cairn_verify_problem;
typedef void (*cairn_verify_cb)(void *ctx, const cairn_verify_problem *p);

typedef struct cairn_verify_stats {
  uint64_t runs;          /* runs checked */
  uint64_t events;        /* events decoded */
  uint64_t problems;      /* problems reported */
} cairn_verify_stats;

/*
 * Checks every run: its history decodes, seqs are 1..last_seq without
 * gaps, `step.reused` references resolve to a `step.completed`, the
 * events obey the lifecycle rules, the indexes agree with the run record,
 * and each stored view equals the fold of its events; then the indexes
 * beside runs: definitions hash to their keys, versions and registrations
 * name stored definitions, audit records decode and the request and
 * action indexes point at them, mappings decode (docs/storage.md lists
 * each check and its message). Each problem goes to
 * `cb` (may be NULL). Returns 0 when the journal is sound, CAIRN_ECORRUPT
 * when problems were found, or another error if it could not check.
 */
int cairn_journal_verify(cairn_journal *j, cairn_verify_cb cb, void *ctx,
                         cairn_verify_stats *stats);

/* Recomputes every view from events, one run per transaction. *n_runs
 * (may be NULL) receives the number of runs rebuilt. */
int cairn_journal_rebuild_views(cairn_journal *j, uint64_t *n_runs);

/* Copies every record of journal `from` (events, run records, views,
 * indexes, definitions, audit, the asset catalogue, counters) into
 * journal `to`, which must hold no run yet: an LMDB home into PostgreSQL
 * or back, byte for byte, from one snapshot of `from`, in write
 * transactions of a few thousand records taken while no other writer
 * writes `to`. *n_records (may be NULL) receives how many. CAIRN_ECONFLICT
 * when `to` holds runs; an interrupted copy leaves `to` partial (empty
 * it, or copy into a new one). Run cairn_journal_verify on `to` after. */
int cairn_journal_copy(cairn_journal *from, cairn_journal *to,
                       uint64_t *n_records);

typedef struct cairn_journal_stats {
  uint32_t schema;          /* schema version */
  uint32_t opened_schema;   /* the version this handle found at open: an
                               older one was migrated; 0 when the open
                               created the journal */
  uint64_t runs;            /* run records */
  uint64_t runs_by_status[6]; /* index by cairn_run_status (0 unused) */
  uint64_t workflows;
  uint64_t events;
  uint64_t definitions;     /* snapshots */
  uint64_t audit_records;
  uint64_t view_records;
  uint64_t assets;          /* catalogue entries: (key, partition) pairs */
  uint64_t asset_versions;  /* materializations catalogued */
  uint64_t event_bytes;     /* encoded event bytes (values only) */
  uint64_t used_bytes;      /* pages in use × page size */
  uint64_t map_bytes;       /* current map size */
  uint64_t file_bytes;      /* size of the data file on disk */
} cairn_journal_stats;
int cairn_journal_stats_get(cairn_journal *j, cairn_journal_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_JOURNAL_H */
