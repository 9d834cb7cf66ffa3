/*
 * mpcheck.c — a structural check of untrusted msgpack before msgpack-c
 * sees it.
 *
 * Why this exists: msgpack-c 4.0 allocates `count × 24` bytes for an array
 * or map header before reading a single element (src/unpack.c), so a
 * five-byte value claiming 2^24 items makes it allocate 384 MiB, and it
 * has no limits to set (shared/notes/deps.md). Every value the journal
 * decodes (events, records, views) may be corrupted on disk or fed by a
 * fuzzer, so we walk the bytes first and refuse:
 *   - anything that does not end exactly at `len`;
 *   - a container claiming more elements than bytes remain (each element
 *     takes at least one byte), which bounds msgpack-c's allocation to a
 *     small multiple of the input size;
 *   - nesting deeper than CAIRN__MP_MAX_DEPTH (our values nest 2 deep);
 *   - the reserved byte 0xc1.
 * The walk does no allocation and reads no byte outside [p, p+len).
 * It is a checker, not a decoder: values are still decoded by msgpack-c.
 */
#include "internal.h"

/* Our encoders nest at most 2 levels; 16 leaves room for growth while
 * keeping recursion shallow. */
#define CAIRN__MP_MAX_DEPTH 16

typedef struct mp_walk {
  const unsigned char *p;
  size_t len;
  size_t off;
} mp_walk;

static bool need(const mp_walk *w, size_t n) {
  return n <= w->len - w->off;
}

static uint64_t read_be(const unsigned char *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Reads an n-byte big-endian length at the cursor, advancing it. */
static bool take_len(mp_walk *w, size_t n, uint64_t *v) {
  if (!need(w, n))
    return false;
  *v = read_be(w->p + w->off, n);
  w->off += n;
  return true;
}

static bool skip(mp_walk *w, uint64_t n) {
  if (n > w->len - w->off)
    return false;
  w->off += (size_t)n;
  return true;
}

static bool walk_one(mp_walk *w, int depth);

static bool walk_items(mp_walk *w, uint64_t items, int depth) {
  if (depth > CAIRN__MP_MAX_DEPTH)
    return false;
  if (items > w->len - w->off) /* each item takes at least one byte */
    return false;
  for (uint64_t i = 0; i < items; i++)
    if (!walk_one(w, depth))
      return false;
  return true;
}

static bool walk_one(mp_walk *w, int depth) {
  uint64_t n;
  if (!need(w, 1))
    return false;
  unsigned char b = w->p[w->off++];
  if (b <= 0x7f || b >= 0xe0)
    return true; /* fixint */
  if (b >= 0x80 && b <= 0x8f)
    return walk_items(w, 2u * (b & 0x0f), depth + 1);
  if (b >= 0x90 && b <= 0x9f)
    return walk_items(w, b & 0x0f, depth + 1);
  if (b >= 0xa0 && b <= 0xbf)
    return skip(w, b & 0x1f);
  switch (b) {
  case 0xc0: case 0xc2: case 0xc3:
    return true;
  case 0xc4: case 0xd9:
    return take_len(w, 1, &n) && skip(w, n);
  case 0xc5: case 0xda:
    return take_len(w, 2, &n) && skip(w, n);
  case 0xc6: case 0xdb:
    return take_len(w, 4, &n) && skip(w, n);
  case 0xc7:
    return take_len(w, 1, &n) && skip(w, 1 + n);
  case 0xc8:
    return take_len(w, 2, &n) && skip(w, 1 + n);
  case 0xc9:
    return take_len(w, 4, &n) && skip(w, 1 + n);
  case 0xca: return skip(w, 4);
  case 0xcb: return skip(w, 8);
  case 0xcc: case 0xd0: return skip(w, 1);
  case 0xcd: case 0xd1: return skip(w, 2);
  case 0xce: case 0xd2: return skip(w, 4);
  case 0xcf: case 0xd3: return skip(w, 8);
  case 0xd4: return skip(w, 2);
  case 0xd5: return skip(w, 3);
  case 0xd6: return skip(w, 5);
  case 0xd7: return skip(w, 9);
  case 0xd8: return skip(w, 17);
  case 0xdc:
    return take_len(w, 2, &n) && walk_items(w, n, depth + 1);
  case 0xdd:
    return take_len(w, 4, &n) && walk_items(w, n, depth + 1);
  case 0xde:
    return take_len(w, 2, &n) && n <= UINT64_MAX / 2 &&
           walk_items(w, 2 * n, depth + 1);
  case 0xdf:
    return take_len(w, 4, &n) && walk_items(w, 2 * n, depth + 1);
  default: /* 0xc1: never used */
    return false;
  }
}

int cairn__mp_check(const unsigned char *p, size_t len, size_t *bad_off) {
  mp_walk w = {p, len, 0};
  if (p == NULL || len == 0 || !walk_one(&w, 0) || w.off != len) {
    if (bad_off)
      *bad_off = w.off;
    return CAIRN_EDECODE;
  }
  return 0;
}
