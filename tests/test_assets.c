/*
 * test_assets.c — the asset catalogue's contract (docs/assets.md), on a
 * real journal: asset.materialized only right after its step's
 * completion, the catalogue folded in the same commit (latest, history,
 * a run's assets, the users of a version), the three staleness rules,
 * listing pages, and verify / rebuild-views on the catalogue.
 */
#include "test.h"

#include "internal.h"

#include <lmdb.h>
#include <stdlib.h>

static cairn_str S(const char *s) { return (cairn_str){s, s ? strlen(s) : 0}; }
static const char DEF[] =
    "0000000000000000000000000000000000000000000000000000000000000001";
/* three content hashes */
static const char H1[] =
    "1111111111111111111111111111111111111111111111111111111111111111";
static const char H2[] =
    "2222222222222222222222222222222222222222222222222222222222222222";
static const char H3[] =
    "3333333333333333333333333333333333333333333333333333333333333333";

static cairn_journal *open_j(const char *home) {
  cairn_journal *j;
  char err[512] = "";
  cairn_journal_options o = {.no_sync = true};
  int rc = cairn_journal_open(test_journal_at(home), &o, &j, err, sizeof err);
  if (rc)
    FAIL("open %s: %s %s", home, cairn_err_name(rc), err);
  return j;
}

static void new_run(cairn_journal *j, const char *wf, char id[37]) {
  cairn_batch *b;
  cairn_run_spec s = {.workflow_id = wf, .def_hash = DEF};
  CHECK_OK(cairn_batch_new(j, &b), j);
  CHECK_OK(cairn_batch_create_run(b, &s, id), j);
  CHECK_OK(cairn_batch_commit(b), j);
  cairn_batch_free(b);
}

static int append(cairn_journal *j, const char *run, const cairn_event *ev,
                  size_t n) {
  cairn_batch *b;
  CHECK_OK(cairn_batch_new(j, &b), j);
  int rc = cairn_batch_append(b, run, ev, n);
  if (rc >= 0)
    rc = cairn_batch_commit(b);
  cairn_batch_free(b);
  return rc;
}

static cairn_event started(const char *step) {
  return (cairn_event){.type = CAIRN_EV_STEP_STARTED, .step = S(step),
                       .attempt = 1};
}
static cairn_event done(const char *step) {
  return (cairn_event){.type = CAIRN_EV_STEP_COMPLETED, .step = S(step),
                       .attempt = 1, .output = S("1")};
}
static cairn_event asset(const char *step, const char *key, const char *hash,
                         const char *meta) {
  return (cairn_event){.type = CAIRN_EV_ASSET_MATERIALIZED,
                       .step = S(step), .attempt = 1, .asset_key = S(key),
                       .content_hash = S(hash), .size_bytes = 42,
                       .uri = S("out/x"), .meta = S(meta)};
}

/* A run of step `step` that materializes `key` with `hash` (and `meta`),
 * at time t_us; its id in `id`. */
static void made(cairn_journal *j, const char *wf, const char *step,
                 const char *key, const char *hash, const char *meta,
                 int64_t t_us, int64_t max_age_us, char id[37]) {
  new_run(j, wf, id);
  cairn_event e[3] = {started(step), done(step),
                      asset(step, key, hash, meta)};
  e[2].time_us = t_us;
  e[2].max_age_us = max_age_us;
  CHECK_OK(append(j, id, e, 3), j);
}

static void latest(cairn_journal *j, const char *key, cairn_asset *out,
                   cairn_reader **r) {
  CHECK_OK(cairn_reader_begin(j, r), j);
  CHECK_OK(cairn_reader_asset(*r, NULL, key, NULL, out), j);
}

TEST(an_asset_is_materialized_only_right_after_its_steps_completion) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event e[3] = {started("a"), asset("a", "k", H1, NULL), done("a")};
  CHECK_ERR(append(j, id, e, 2), CAIRN_ECONFLICT,
            "an asset of a running attempt is refused");
  CHECK(strstr(cairn_journal_errmsg(j), "right after its step.completed"),
        "the message says where an asset belongs");
  e[1] = done("a");
  e[2] = asset("a", "k", H1, NULL);
  CHECK_OK(append(j, id, e, 3), j);
  cairn_event more[2] = {started("b"), asset("a", "k2", H2, NULL)};
  CHECK_ERR(append(j, id, more, 2), CAIRN_ECONFLICT,
            "an asset after another step's event is refused");
  CHECK(strstr(cairn_journal_errmsg(j), "directly follow"),
        "it must follow the completion directly");
  cairn_event bad = asset("a", "k", "not-a-hash", NULL);
  CHECK_ERR(append(j, id, &bad, 1), CAIRN_EINVAL, "a bad hash is refused");
  bad = asset("a", "", H1, NULL);
  CHECK_ERR(append(j, id, &bad, 1), CAIRN_EINVAL, "an empty key is refused");
  /* nothing of the refused batches is in the catalogue */
  cairn_reader *r;
  cairn_asset a;
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_ERR(cairn_reader_asset(r, NULL, "k2", NULL, &a), CAIRN_ENOTFOUND,
            "a refused asset is not catalogued");
  CHECK_OK(cairn_reader_asset(r, NULL, "k", NULL, &a), j);
  CHECK_STR(a.hash, H1, "the accepted one is");
  CHECK_EQ(a.seq, 4, "at its event");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(a_dry_run_completion_materializes_nothing) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event e[3] = {started("a"), done("a"), asset("a", "k", H1, NULL)};
  e[1].dry_run = true;
  CHECK_ERR(append(j, id, e, 3), CAIRN_ECONFLICT, "refused");
  CHECK(strstr(cairn_journal_errmsg(j), "dry-run"), "the message says why");
  cairn_journal_close(j);
  test_rmdir_free(home);
}

typedef struct seen {
  char hashes[8][CAIRN_HASH_HEX_LEN + 1];
  int n;
} seen;

static int note_hash(void *ctx, const cairn_asset *a) {
  seen *s = ctx;
  if (s->n < 8)
    memcpy(s->hashes[s->n++], a->hash, sizeof a->hash);
  return 0;
}

TEST(a_newer_materialization_supersedes_and_history_keeps_both) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char r1[37], r2[37];
  int64_t now = cairn__now_us();
  made(j, "day-1", "report", "reports/day", H1, NULL, now - 2000, 0, r1);
  made(j, "day-2", "report", "reports/day", H2, NULL, now - 1000, 0, r2);
  cairn_reader *r;
  cairn_asset a;
  latest(j, "reports/day", &a, &r);
  CHECK_STR(a.hash, H2, "the latest is the newer one");
  CHECK_STR(a.run_id, r2, "made by the second run");
  CHECK_EQ(a.versions, 2, "two versions");
  CHECK(a.key.len == 11 && a.step.len == 6, "key and step are read back");
  seen s = {0};
  CHECK_OK(cairn_reader_asset_history(r, NULL, "reports/day", NULL,
                                      note_hash, &s), j);
  CHECK_EQ(s.n, 2, "history has both");
  CHECK_STR(s.hashes[0], H2, "newest first");
  CHECK_STR(s.hashes[1], H1, "then the older");
  /* the first run's asset is stale: superseded by the second */
  cairn_run_info i1;
  CHECK_OK(cairn_reader_run_by_id(r, r1, &i1), j);
  s.n = 0;
  CHECK_OK(cairn_reader_run_assets(r, i1.key, note_hash, &s), j);
  CHECK_EQ(s.n, 1, "run 1 made one asset");
  CHECK_STR(s.hashes[0], H1, "its own version");
  cairn_asset_staleness st;
  char *json = NULL;
  size_t n_stale = 0;
  CHECK_OK(cairn_run_stale_assets(r, i1.key, 0, &json, &n_stale), j);
  CHECK_EQ(n_stale, 1, "run 1 has one stale asset");
  CHECK(json && strstr(json, "\"superseded\"") && strstr(json, r2),
        "superseded, by run 2");
  free(json);
  cairn_run_info i2;
  CHECK_OK(cairn_reader_run_by_id(r, r2, &i2), j);
  CHECK_OK(cairn_run_stale_assets(r, i2.key, 0, &json, &n_stale), j);
  CHECK(n_stale == 0 && json == NULL, "run 2's asset is fresh");
  CHECK_OK(cairn_reader_asset(r, NULL, "reports/day", NULL, &a), j);
  CHECK_OK(cairn_asset_staleness_of(r, &a, 0, &st), j);
  CHECK_EQ(st.why, 0, "the latest is fresh");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

TEST(an_asset_older_than_its_max_age_is_stale) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  int64_t now = cairn__now_us();
  made(j, "wf", "a", "k", H1, NULL, now, 60 * 1000000ll, id);
  cairn_reader *r;
  cairn_asset a;
  cairn_asset_staleness st;
  latest(j, "k", &a, &r);
  CHECK_EQ(a.max_age_us, 60 * 1000000ll, "max_age is kept");
  CHECK_OK(cairn_asset_staleness_of(r, &a, now + 59 * 1000000ll, &st), j);
  CHECK_EQ(st.why, 0, "fresh within its max_age");
  CHECK_OK(cairn_asset_staleness_of(r, &a, now + 61 * 1000000ll, &st), j);
  CHECK_EQ(st.why, CAIRN_ASSET_EXPIRED, "stale after it");
  CHECK(st.expired_at_us == now + 60 * 1000000ll, "says when it expired");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

typedef struct keys {
  uint64_t k[8];
  int n;
} keys;

static int add_key(void *ctx, uint64_t key) {
  keys *u = ctx;
  if (u->n < 8)
    u->k[u->n++] = key;
  return 0;
}

TEST(a_changed_upstream_makes_a_downstream_asset_stale) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char up1[37], down[37], up2[37], up3[37];
  int64_t now = cairn__now_us();
  char meta[300];
  snprintf(meta, sizeof meta, "{\"source\":\"path\",\"upstream\":"
           "[{\"key\":\"raw\",\"hash\":\"%s\"}]}", H1);
  made(j, "u1", "extract", "raw", H1, NULL, now - 3000, 0, up1);
  made(j, "d", "report", "report", H3, meta, now - 2000, 0, down);
  cairn_reader *r;
  cairn_asset a;
  cairn_asset_staleness st;
  latest(j, "report", &a, &r);
  CHECK_OK(cairn_asset_staleness_of(r, &a, 0, &st), j);
  CHECK_EQ(st.why, 0, "fresh while raw is what it was built from");
  /* the users of raw's version H1: the downstream run */
  cairn_run_info di;
  CHECK_OK(cairn_reader_run_by_id(r, down, &di), j);
  keys u = {0};
  CHECK_OK(cairn_reader_asset_users(r, NULL, "raw", NULL, H1, add_key, &u),
           j);
  CHECK(u.n == 1 && u.k[0] == di.key, "the report run used raw's version");
  u.n = 0;
  CHECK_OK(cairn_reader_asset_users(r, NULL, "raw", NULL, H2, add_key, &u),
           j);
  CHECK_EQ(u.n, 0, "nobody used a version that does not exist");
  cairn_reader_end(r);
  made(j, "u2", "extract", "raw", H2, NULL, now - 1000, 0, up2);
  latest(j, "report", &a, &r);
  CHECK_OK(cairn_asset_staleness_of(r, &a, 0, &st), j);
  CHECK_EQ(st.why, CAIRN_ASSET_UPSTREAM_CHANGED, "raw changed: stale");
  CHECK_STR(st.upstream_key, "raw", "names the upstream");
  CHECK_STR(st.upstream_hash, H2, "and its content now");
  cairn_reader_end(r);
  /* raw made again with the bytes the report was built from: fresh */
  made(j, "u3", "extract", "raw", H1, NULL, now - 500, 0, up3);
  latest(j, "report", &a, &r);
  CHECK_OK(cairn_asset_staleness_of(r, &a, 0, &st), j);
  CHECK_EQ(st.why, 0, "the same content upstream is not a change");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

typedef struct names {
  char v[16][64];
  int n;
} names;

static int add_name(void *ctx, const cairn_asset *a) {
  names *s = ctx;
  if (s->n < 16)
    snprintf(s->v[s->n++], 64, "%.*s|%.*s", (int)a->key.len, a->key.ptr,
             (int)a->partition.len, a->partition.ptr ? a->partition.ptr : "");
  return 0;
}

TEST(the_catalogue_lists_by_prefix_in_key_order_and_pages_after_an_entry) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char id[37];
  new_run(j, "wf", id);
  cairn_event e[6] = {started("a"), done("a"), asset("a", "reports/b", H1, NULL),
                      asset("a", "reports/a", H1, NULL),
                      asset("a", "raw/x", H2, NULL),
                      asset("a", "reports/a", H3, NULL)};
  e[5].partition = S("2026-12-01");
  CHECK_OK(append(j, id, e, 6), j);
  cairn_reader *r;
  names s = {0};
  CHECK_OK(cairn_reader_begin(j, &r), j);
  CHECK_OK(cairn_reader_assets(r, NULL, "reports/", NULL, NULL, add_name, &s),
           j);
  CHECK_EQ(s.n, 3, "three entries under reports/");
  CHECK_STR(s.v[0], "reports/a|", "key order, unpartitioned first");
  CHECK_STR(s.v[1], "reports/a|2026-12-01", "then its partition");
  CHECK_STR(s.v[2], "reports/b|", "then the next key");
  s.n = 0;
  CHECK_OK(cairn_reader_assets(r, NULL, "reports/", "reports/a", "2026-12-01",
                               add_name, &s), j);
  CHECK(s.n == 1 && strcmp(s.v[0], "reports/b|") == 0,
        "a page starts after the cursor");
  s.n = 0;
  CHECK_OK(cairn_reader_assets(r, NULL, NULL, "raw/x", NULL, add_name, &s), j);
  CHECK_EQ(s.n, 3, "after raw/x: the three reports");
  s.n = 0;
  CHECK_OK(cairn_reader_assets(r, "other", NULL, NULL, NULL, add_name, &s), j);
  CHECK_EQ(s.n, 0, "another namespace has none");
  cairn_asset a;
  CHECK_ERR(cairn_reader_asset(r, NULL, "reports/a", "2026-12-02", &a),
            CAIRN_ENOTFOUND, "a partition never made is not found");
  CHECK(strstr(cairn_journal_errmsg(j), "cairn assets list"),
        "the message says where to look");
  cairn_reader_end(r);
  cairn_journal_close(j);
  test_rmdir_free(home);
}

static void on_problem(void *ctx, const cairn_verify_problem *p) {
  char *first = ctx;
  if (first[0] == '\0')
    snprintf(first, 512, "%s", p->message);
}

TEST(verify_finds_a_damaged_catalogue_and_rebuild_views_restores_it) {
  char *home = test_tmpdir();
  cairn_journal *j = open_j(home);
  char r1[37], r2[37];
  int64_t now = cairn__now_us();
  made(j, "a", "s", "k", H1, NULL, now - 10, 0, r1);
  made(j, "b", "s", "k", H2, NULL, now, 0, r2);
  cairn_verify_stats st;
  CHECK_OK(cairn_journal_verify(j, NULL, NULL, &st), j);
  CHECK_EQ(st.problems, 0, "a sound catalogue verifies");
  cairn_journal_close(j);
  test_raw_clear(home, "asset_versions");
  j = open_j(home);
  char first[512] = "";
  CHECK_ERR(cairn_journal_verify(j, on_problem, first, &st), CAIRN_ECORRUPT,
            "verify finds the missing versions");
  CHECK(strstr(first, "missing from the asset catalogue"), "and says so");
  uint64_t n = 0;
  CHECK_OK(cairn_journal_rebuild_views(j, &n), j);
  CHECK_OK(cairn_journal_verify(j, NULL, NULL, &st), j);
  CHECK_EQ(st.problems, 0, "rebuild-views repaired it");
  cairn_reader *r;
  cairn_asset a;
  latest(j, "k", &a, &r);
  CHECK_STR(a.hash, H2, "the latest is the same");
  CHECK_EQ(a.versions, 2, "and so is the count");
  cairn_reader_end(r);
  /* without the latest records, every event is missing its key's */
  cairn_journal_close(j);
  test_raw_clear(home, "assets");
  j = open_j(home);
  first[0] = '\0';
  CHECK_ERR(cairn_journal_verify(j, on_problem, first, &st), CAIRN_ECORRUPT,
            "verify finds the missing latest records");
  CHECK(strstr(first, "missing from the asset catalogue"), "and says so");
  CHECK_OK(cairn_journal_rebuild_views(j, &n), j);
  CHECK_OK(cairn_journal_verify(j, NULL, NULL, &st), j);
  CHECK_EQ(st.problems, 0, "rebuild-views repaired them");
  cairn_journal_close(j);
  test_rmdir_free(home);
}
