#!/usr/bin/env bash
# cli_journal.sh — end-to-end: the real `cairn` binary against a real
# journal recorded by the embedding example.
#   usage: cli_journal.sh CAIRN EXAMPLE
set -uo pipefail
CAIRN=$(realpath "$1")
EXAMPLE=$(realpath "$2")
. "$(dirname "$0")/lib.sh"

home=$tmp/journal
printf 'one two\nthree\n' >"$tmp/input.txt"
out=$("$EXAMPLE" --home "$home" "$tmp/input.txt")
run=$(echo "$out" | awk '/^run /{print $2}')
wf=$(echo "$out" | awk '/^workflow /{print $2}')
check "the example prints a run id" test ${#run} -eq 36

expect_exit 0 "history by run id works" "$CAIRN" --home "$home" history "$run"
check "history shows each step's completion" \
  grep -q "step.completed .*count#1" "$tmp/out"
check "history shows 8 events" grep -q "8 events" "$tmp/out"

expect_exit 0 "history by workflow id works" \
  "$CAIRN" history "$wf" --home "$home" --format json
check "json history names the run" \
  test "$(jq -r .run_id "$tmp/out")" = "$run"
check "json history has 8 events in order" \
  test "$(jq -c '[.events[].seq]' "$tmp/out")" = "[1,2,3,4,5,6,7,8]"
check "json history embeds outputs as JSON" \
  test "$(jq -r '.events[4].output.words' "$tmp/out")" = "3"
check "json times are plain integers" \
  test "$(jq '.events[0].time_us | floor == .' "$tmp/out")" = "true"
check "json times are not in exponent form" \
  bash -c "! grep -q '\"time_us\":.*e+' '$tmp/out'"
check "json history carries the input" \
  test "$(jq -r '.events[0].input.file' "$tmp/out")" = "$tmp/input.txt"

expect_exit 0 "history --from starts at that seq" \
  "$CAIRN" --home "$home" --format json history "$run" --from 7
check "from 7 gives two events" \
  test "$(jq '.events | length' "$tmp/out")" = "2"

expect_exit 0 "verify passes on a sound journal" \
  "$CAIRN" --home "$home" journal verify
check "verify says ok" grep -q ": ok (1 runs, 8 events" "$tmp/out"

expect_exit 0 "stats work" "$CAIRN" --home "$home" --format json journal stats
check "stats count the events" test "$(jq .events "$tmp/out")" = "8"
check "stats count completed runs" \
  test "$(jq .runs_by_status.completed "$tmp/out")" = "1"

expect_exit 0 "rebuild-views works" \
  "$CAIRN" --home "$home" journal rebuild-views
check "rebuild reports one run" grep -q "1 run" "$tmp/out"
expect_exit 0 "verify still passes after a rebuild" \
  "$CAIRN" --home "$home" journal verify

# migrate on a current journal changes nothing and says so (an older one:
# test_journal.an_older_journal_is_migrated_by_a_writer_and_a_reader_says_how)
expect_exit 0 "migrate on a current journal" \
  "$CAIRN" --home "$home" --format json journal migrate
check "it reports nothing migrated" \
  test "$(jq -c '[.migrated, .schema == .from_schema]' "$tmp/out")" = "[false,true]"
expect_exit 0 "migrate (text)" "$CAIRN" --home "$home" journal migrate
check "says nothing to migrate" grep -q "nothing to migrate" "$tmp/out"
expect_exit 3 "migrate never creates a journal" \
  "$CAIRN" --home "$tmp/no-journal-here" journal migrate
check "and leaves nothing behind" test ! -e "$tmp/no-journal-here/data.mdb"

# CAIRN_HOME, then ./.cairn, are the defaults.
expect_exit 0 "CAIRN_HOME selects the journal" \
  env CAIRN_HOME="$home" "$CAIRN" history "$run"
mkdir -p "$tmp/cwd/.cairn"
cp "$home"/*.mdb "$tmp/cwd/.cairn/"
expect_exit 0 "./.cairn is the default journal" \
  bash -c "cd '$tmp/cwd' && env -u CAIRN_HOME '$CAIRN' history '$run'"

# Errors: exit codes and messages that say what to do.
expect_exit 3 "an unknown id is not found" \
  "$CAIRN" --home "$home" history no-such-workflow
check "the message says what to check" grep -q "check the id" "$tmp/err"
expect_exit 3 "a missing journal is not found" \
  "$CAIRN" --home "$tmp/nothing" journal verify
check "the message says how to choose a journal" grep -q "CAIRN_HOME" \
  "$tmp/err"
check "a read command does not create a journal" test ! -e "$tmp/nothing"
expect_exit 3 "rebuild-views on a missing journal is not found" \
  "$CAIRN" --home "$tmp/nothing2" journal rebuild-views
check "rebuild-views does not create a journal" test ! -e "$tmp/nothing2"
expect_exit 2 "history --from needs a number" \
  "$CAIRN" --home "$home" history "$run" --from abc
expect_exit 2 "an unknown command is a usage error" "$CAIRN" frobnicate
expect_exit 2 "history without an id is a usage error" \
  "$CAIRN" --home "$home" history
expect_exit 2 "a bad --format is a usage error" \
  "$CAIRN" --format yaml journal stats
expect_exit 2 "an unknown journal command is a usage error" \
  "$CAIRN" --home "$home" journal compact

finish
