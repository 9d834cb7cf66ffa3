/*
 * fault.h — fault points of journal/ (SQLite's faultsim, curl's torture
 * mode): in builds with CAIRN_FAULTS (on by default in Debug builds, off
 * otherwise, where every point compiles to the real call), every write
 * (mdb_put, mdb_del and their cursor forms), every commit (whose fsync
 * makes it durable) and every allocation of journal/ first asks
 * cairn__fault_hit(KIND). A point armed with cairn__fault_arm(KIND, n)
 * lets n - 1 calls of that kind through and fails the nth as the real
 * call fails: a write or a commit with EIO (the commit's transaction is
 * aborted, as LMDB aborts one whose fsync failed, before its meta page),
 * an allocation with NULL. `persistent` fails every call after it as
 * well (a disk that stays broken). tests/test_faults.c fails each point
 * of a sequence of journal operations in turn and checks that each
 * fails cleanly, that nothing partial is recorded and that the journal
 * reopens, verifies and works.
 *
 * The same from outside, for a binary of such a build:
 *   CAIRN_FAULT=write:N | sync:N | alloc:N  (":p" after N: persistent)
 * arms one point for the whole process at its first fault point.
 */
#ifndef CAIRN_JOURNAL_FAULT_H
#define CAIRN_JOURNAL_FAULT_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum cairn__fault_kind {
  CAIRN__FAULT_WRITE = 0, /* a put or delete of a write transaction */
  CAIRN__FAULT_SYNC = 1,  /* a commit: its write-out and fsync */
  CAIRN__FAULT_ALLOC = 2, /* malloc, calloc, realloc, strdup, strndup */
  CAIRN__FAULT_KINDS = 3
} cairn__fault_kind;

#ifdef CAIRN_FAULTS
/* True when this call of kind k is to fail. Counts every call. */
bool cairn__fault_hit(cairn__fault_kind k);
/* Fails the nth call of kind k from now (n >= 1), and every later one
 * when persistent; n = 0 disarms. Resets the count of calls of k. */
void cairn__fault_arm(cairn__fault_kind k, uint64_t n, bool persistent);
/* The calls of kind k since it was last armed (or since start). */
uint64_t cairn__fault_calls(cairn__fault_kind k);
/* The faults of kind k injected since it was last armed. */
uint64_t cairn__fault_fired(cairn__fault_kind k);
#else
#define cairn__fault_hit(k) ((void)(k), false)
#endif

static inline void *cairn__malloc(size_t n) {
  return cairn__fault_hit(CAIRN__FAULT_ALLOC) ? NULL : malloc(n);
}
static inline void *cairn__calloc(size_t n, size_t size) {
  return cairn__fault_hit(CAIRN__FAULT_ALLOC) ? NULL : calloc(n, size);
}
static inline void *cairn__realloc(void *p, size_t n) {
  return cairn__fault_hit(CAIRN__FAULT_ALLOC) ? NULL : realloc(p, n);
}
static inline char *cairn__strdup(const char *s) {
  return cairn__fault_hit(CAIRN__FAULT_ALLOC) ? NULL : strdup(s);
}
static inline char *cairn__strndup(const char *s, size_t n) {
  return cairn__fault_hit(CAIRN__FAULT_ALLOC) ? NULL : strndup(s, n);
}

#endif /* CAIRN_JOURNAL_FAULT_H */
