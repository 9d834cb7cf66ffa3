#!/usr/bin/env bash
# pg_journal.sh — the PostgreSQL journal's own commands: `journal copy`
# moves an LMDB journal into PostgreSQL and back, record for record
# (histories, audit, assets the same; verified); a copy into a journal
# that holds runs is refused; `journal migrate` creates the tables of an
# empty database; a server that is not there, or a wrong password, is
# named without printing the password.
#   usage: pg_journal.sh CAIRN    (with $CAIRN_TEST_PG: tests/pg/pg.sh)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
if [ -z "${CAIRN_TEST_PG-}" ]; then
  echo "FAIL: pg_journal.sh needs \$CAIRN_TEST_PG (tests/pg/pg.sh's state)" >&2
  exit 1
fi
CAIRN=$(realpath "$1")
cd "$tmp" || exit 1
PGSH="$E2E/../pg/pg.sh"
newdb() { bash "$PGSH" createdb "$CAIRN_TEST_PG" "$(basename "$tmp" |
  tr -c 'a-zA-Z0-9\n' _ | tr 'A-Z' 'a-z')_$1"; }

# An LMDB journal with runs, a reset, a signal, assets and audit records.
export CAIRN_HOME=$tmp/lmdb
unset CAIRN_JOURNAL
cat >report.json <<'EOF'
{ "name": "report", "steps": [
  { "name": "count", "kind": "exec",
    "with": { "command": ["sh", "-c", "echo '{\"n\": 3}' | tee count.json"] },
    "produces": [{ "key": "counts/{{ .input.day }}", "path": "count.json" }] },
  { "name": "ok", "kind": "wait", "needs": ["count"],
    "with": { "signal": "approve" } },
  { "name": "publish", "kind": "exec", "needs": ["ok"],
    "with": { "command": ["echo", "{{ .steps.count.output.n }}"] } } ] }
EOF
for d in 1 2 3; do
  C start report.json --id "r-$d" --input "{\"day\": \"$d\"}" >/dev/null
  C signal "r-$d" approve --data '{"by": "ada"}' >/dev/null
done
C worker --drain >/dev/null 2>&1
expect_exit 0 "a reset on LMDB" C reset r-1 --step publish --reason "check the copy"
C worker --drain >/dev/null 2>&1

snapshot() { # snapshot FILE: what a user reads of the journal
  {
    C --format json runs --limit 1000 | jq -S '.runs | sort_by(.run_id)'
    for id in $(C --format json runs --limit 1000 | jq -r '.runs[].run_id' | sort); do
      C --format json history "$id" | jq -S .
    done
    C --format json audit | jq -S .
    C --format json assets list | jq -S .
  } >"$1"
}
snapshot lmdb.snap
check "the LMDB journal has its runs" test "$(jq -s 'length' lmdb.snap)" -gt 5

# LMDB -> PostgreSQL
pg=$(newdb a)
expect_exit 0 "copy into PostgreSQL" C journal copy --from "$tmp/lmdb" --to "$pg"
check "the copy says how much and that it verified" \
  grep -q "copied [0-9]* records .* verified: 4 runs" "$tmp/out"
CAIRN_JOURNAL=$pg snapshot pg.snap
check "runs, histories, audit and assets read the same from PostgreSQL" \
  cmp -s lmdb.snap pg.snap
expect_exit 0 "the copy verifies on its own" \
  env CAIRN_JOURNAL="$pg" "$CAIRN" journal verify
expect_exit 0 "journal stats on PostgreSQL" \
  env CAIRN_JOURNAL="$pg" "$CAIRN" journal stats
check "stats count the copied runs" grep -q "runs *4" "$tmp/out"
expect_exit 4 "a copy into a journal that holds runs is refused" \
  C journal copy --from "$tmp/lmdb" --to "$pg"
check "the refusal says why" grep -q "holds 4 run(s) already" "$tmp/err"

# The copy works on: a run started on PostgreSQL after the copy.
expect_exit 0 "a new run on the copy" env CAIRN_JOURNAL="$pg" "$CAIRN" \
  start report.json --id r-9 --input '{"day": "9"}'
env CAIRN_JOURNAL="$pg" "$CAIRN" signal r-9 approve >/dev/null
env CAIRN_JOURNAL="$pg" "$CAIRN" worker --drain >/dev/null 2>&1
expect_exit 0 "it completes" env CAIRN_JOURNAL="$pg" "$CAIRN" result r-9

# PostgreSQL -> LMDB
expect_exit 0 "copy back into a new LMDB home" \
  C journal copy --from "$pg" --to "$tmp/back"
check "all five runs came back" grep -q "verified: 5 runs" "$tmp/out"
expect_exit 0 "the run made on PostgreSQL reads on LMDB" \
  C --home "$tmp/back" result r-9
expect_exit 2 "copy needs --to" C journal copy --from "$pg"

# migrate makes the tables of an empty database; nothing there before.
empty=$(newdb b)
expect_exit 3 "an empty database holds no journal" \
  env CAIRN_JOURNAL="$empty" "$CAIRN" runs
check "and the message says how to make one" grep -q "journal migrate" "$tmp/err"
expect_exit 0 "journal migrate creates it" \
  env CAIRN_JOURNAL="$empty" "$CAIRN" journal migrate
expect_exit 0 "then it lists no runs" env CAIRN_JOURNAL="$empty" "$CAIRN" runs
port=$(cat "$CAIRN_TEST_PG/port")
tables=$(psql "$empty" -Atc "select count(*) from pg_tables where tablename like 'cairn\_%'")
eq "the schema version table and 21 journal tables" "$tables" 21
eq "the layout version is recorded" \
  "$(psql "$empty" -Atc 'select version from cairn_schema_version')" 1

# Bad locations: named, the password never printed.
expect_exit 1 "a wrong password is refused" \
  env CAIRN_JOURNAL="postgresql://nobody:s3cret@127.0.0.1:$port/nodb" "$CAIRN" runs
check "the message names the server" grep -q "127.0.0.1:$port" "$tmp/err"
check "but not the password" sh -c "! grep -q s3cret '$tmp/err'"
expect_exit 1 "a server that is not there is named" \
  env CAIRN_JOURNAL="postgresql://cairn@127.0.0.1:1/x" "$CAIRN" runs
check "the message says it cannot connect" grep -q "cannot connect to PostgreSQL" "$tmp/err"
finish
