/*
 * cairn.h — the public C API of cairn, an event-sourced durable execution
 * engine.
 *
 * This header is everything an embedder or the `cairn` command may use.
 * Today it holds the error model and, through <cairn/journal.h>, the
 * journal: the append-only store of run histories with its indexes and
 * views. The engine API (running workflows) is added by later work.
 *
 * Error contract (shared by every function in libcairn):
 *   - 0 means success; failures are negative `cairn_err` codes.
 *   - Codes are append-only: a number, once given, keeps its meaning
 *     forever, because codes are recorded in journals and read by scripts.
 *   - Every code maps to a CLI exit status (DESIGN.md, Interfaces):
 *     0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 forbidden,
 *     6 rate limited, 7 the awaited run failed.
 *   - Functions that fail on a handle leave a human-readable detail on that
 *     handle (cairn_journal_errmsg) naming what was wrong and what to do.
 *
 * Caveats (read these before embedding):
 *   - fork(): never use a cairn_journal (or anything opened from it) in a
 *     child after fork(); open a new one. fork()+exec() is safe: the
 *     journal's descriptors are close-on-exec (cairn sets the flag on the
 *     data file, which LMDB 0.9.24 leaves inheritable).
 *   - Long read snapshots: a cairn_reader pins the pages it can see. Keep
 *     readers short; a reader left open while others append makes the
 *     journal file grow.
 *   - Map growth: the journal's memory map grows by itself when full, but
 *     only while this process holds no open reader; an append that needs
 *     to grow while a reader is open fails with CAIRN_EBUSY.
 *   - Clocks: event times are wall-clock microseconds (CLOCK_REALTIME) as
 *     given by the caller or taken at append; order in a history is the
 *     sequence number, never the time.
 *   - Network filesystems: the journal relies on LMDB's shared-memory lock
 *     file; never put $CAIRN_HOME on NFS, SMB or similar.
 *   - Threads: one handle may be shared by threads, but a cairn_reader or a
 *     cairn_batch belongs to the thread that created it.
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CAIRN_EXTERN __attribute__((visibility("default")))
#else
#define CAIRN_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_VERSION_STRING "0.1.0"

/*
 * The error table: X(NAME, number, cli exit status, message).
 * Append new codes at the end with the next number; never renumber, never
 * remove. The CLI's exit codes and docs/errors.md are generated from here.
 */
#define CAIRN_ERR_MAP(X)                                                     \
  X(EINTERNAL, -1, 1, "internal error")                                      \
  X(EINVAL, -2, 2, "invalid argument")                                       \
  X(ENOTFOUND, -3, 3, "not found")                                           \
  X(ECONFLICT, -4, 4, "conflict with the current state")                     \
  X(EFORBIDDEN, -5, 5, "forbidden")                                          \
  X(ERATELIMIT, -6, 6, "rate limited")                                       \
  X(ERUNFAILED, -7, 7, "the run failed")                                     \
  X(ENOMEM, -8, 1, "out of memory")                                          \
  X(EIO, -9, 1, "input/output error")                                        \
  X(ECORRUPT, -10, 1, "journal data is corrupted")                           \
  X(ESCHEMA, -11, 1, "journal schema version not supported")                 \
  X(EDECODE, -12, 1, "malformed encoded data")                               \
  X(ETOOBIG, -13, 1, "value too large")                                      \
  X(EBUSY, -14, 1, "resource busy")                                          \
  X(EFULL, -15, 1, "journal is full and cannot grow")                       \
  X(ECONFIG, -16, 1, "invalid configuration")                               \
  X(ESTALE, -17, 4, "assets the run produced are stale")

typedef enum cairn_err {
  CAIRN_OK = 0,
#define CAIRN__ERR_ENUM(name, num, exit, msg) CAIRN_##name = (num),
  CAIRN_ERR_MAP(CAIRN__ERR_ENUM)
#undef CAIRN__ERR_ENUM
} cairn_err;

/* A constant description of `err`; never NULL, never freed. Unknown codes
 * give "unknown error". */
CAIRN_EXTERN const char *cairn_strerror(int err);

/* The constant name of `err` ("CAIRN_ENOTFOUND"), "CAIRN_OK" for 0,
 * "CAIRN_EUNKNOWN" for an unknown code. */
CAIRN_EXTERN const char *cairn_err_name(int err);

/* The CLI exit status for `err`: 0 for CAIRN_OK, 1 for unknown codes. */
CAIRN_EXTERN int cairn_err_exit_code(int err);

#ifdef __cplusplus
}
#endif

#include <cairn/journal.h>
#include <cairn/engine.h>

#endif /* CAIRN_CAIRN_H */
