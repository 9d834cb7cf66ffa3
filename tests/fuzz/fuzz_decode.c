/*
 * fuzz_decode.c — libFuzzer target for every decoder that reads bytes from
 * disk: events, run records, views, workflow, version and audit records.
 * The contract under test: any input decodes or fails with an error; no
 * crash, no out-of-bounds access (ASan), no undefined behaviour (UBSan),
 * no allocation out of proportion to the input (-rss_limit_mb).
 */
#include "internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cairn_event ev;
  cairn_decode_err err;
  cairn__run_rec rec;
  cairn_run_view rv;
  cairn_step_view sv;
  cairn_attempt_view av;
  cairn_audit_record ar;
  uint64_t current, *runs = NULL;
  size_t n = 0, cap = 0;
  uint32_t count;
  char hash[CAIRN_HASH_HEX_LEN + 1];

  if (cairn_event_decode(data, size, &ev, &err) == 0) {
    /* A decoded event re-encodes and decodes to the same type and seq. */
    char *buf;
    size_t len;
    cairn_event again;
    if (cairn_event_encode(&ev, &buf, &len) == 0) {
      if (cairn_event_decode(buf, len, &again, NULL) != 0 ||
          again.type != ev.type || again.seq != ev.seq)
        abort();
      free(buf);
    }
  }
  cairn__run_rec_decode(data, size, &rec);
  cairn__run_view_decode(data, size, &rv);
  cairn__step_view_decode(data, size, &sv);
  cairn__attempt_view_decode(data, size, &av);
  cairn__audit_decode(data, size, &ar);
  cairn__wf_rec_decode(data, size, &current, &runs, &n, &cap);
  free(runs);
  if (cairn__names_rec_count(data, size, &count) == 0 && count > 0)
    cairn__names_rec_get(data, size, count, hash);
  return 0;
}
