#!/usr/bin/env bash
# assets.sh — end-to-end: assets (docs/assets.md) with the real binary on
# a real journal. A daily report workflow materializes raw/DAY and
# reports/DAY; a second run of the day supersedes them; replaying the
# first run is refused (exit 4, the stale list) until
# --allow-stale-assets, and both land in the audit index; the diff shows
# the report's hash change; a downstream workflow that consumes the report
# goes stale when the report changes. Bad input: a path outside the
# working directory, a missing file, a file over assets.max_bytes, bad
# `produces` in a definition. The same through `cairn serve`: /v1/assets,
# a 409 with the stale list, and allowStaleAssets.
#   usage: assets.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
use_cairn "$1"

cat >report.json <<'EOF'
{ "name": "daily_report",
  "steps": [
    { "name": "extract", "kind": "exec",
      "with": { "command": ["sh", "-c",
                            "mkdir -p data && echo 'rows {{ .input.v }}' > data/raw.csv"] },
      "produces": [ { "key": "raw/{{ .input.day }}", "path": "data/raw.csv" } ] },
    { "name": "report", "kind": "exec", "needs": ["extract"],
      "with": { "command": ["sh", "-c",
                            "(echo report; cat data/raw.csv) > data/report.txt; wc -c < data/report.txt"] },
      "produces": [
        { "key": "reports/{{ .input.day }}", "path": "data/report.txt", "max_age": "1d" },
        { "key": "report_size", "value": "{{ .output }}" } ] } ] }
EOF
cat >downstream.json <<'EOF'
{ "name": "weekly_digest",
  "steps": [
    { "name": "digest", "kind": "exec",
      "with": { "command": ["sh", "-c", "cat data/report.txt > data/digest.txt"] },
      "consumes": [ { "key": "reports/{{ .input.day }}", "partition": "{{ .input.day }}" } ],
      "produces": [ { "key": "digest/{{ .input.day }}", "path": "data/digest.txt" } ] } ] }
EOF

day=2026-12-01
expect_exit 0 "the first run of the day completes" \
  C run report.json --input "{\"day\": \"$day\", \"v\": 1}" --id day-1 \
  --partition "$day"
C status day-1 --format json >s1.json
r1=$(jq -r .run_id s1.json)
C assets show "reports/$day" --partition "$day" --format json >a1.json
is "the report is catalogued" a1.json .run_id "$r1"
is "with its step" a1.json .step report
is "its content hash is the file's SHA-256" a1.json .hash \
  "$(sha256sum data/report.txt | cut -d' ' -f1)"
is "its size" a1.json .size_bytes "$(stat -c %s data/report.txt)"
is "its max_age" a1.json .max_age_s 86400
is "it was built from raw/DAY" a1.json '.upstream[0].key' "raw/$day"
is "the run's partition is the asset's" a1.json .partition "$day"
is "it is fresh" a1.json .stale false
C history day-1 --format json >h1.json
is "each asset.materialized directly follows its step.completed" h1.json \
  '.events as $e | [range(1; $e | length) as $i
    | select($e[$i].type == "asset.materialized") | $e[$i - 1]
    | select(.type == "step.completed" or .type == "asset.materialized")]
    | length' 3
is "the run records its partition" h1.json '.events[0].partition' "$day"

expect_exit 0 "the day's second run (new data) completes" \
  C run report.json --input "{\"day\": \"$day\", \"v\": 2}" --id day-2 \
  --partition "$day"
r2=$(C status day-2 --format json | jq -r .run_id)
C assets history "reports/$day" --partition "$day" --format json >hist.json
is "the history has both versions" hist.json '.versions | length' 2
is "newest first" hist.json '.versions[0].run_id' "$r2"
is "the older one is stale: superseded (and its raw changed)" hist.json \
  '.versions[1].staleness.why | join(",")' superseded,upstream_changed
is "by the second run" hist.json '.versions[1].staleness.newer.run_id' "$r2"
C assets list --stale --format json >stale.json
is "assets list --stale: the latest of each key are all fresh" stale.json \
  '.assets | length' 0
expect_exit 0 "assets list prints a line per asset" C assets list
check "the text list marks the fresh ones" grep -q "fresh" "$tmp/out"

# replaying the first run: refused, then allowed
expect_exit 4 "replaying the first run is refused: its assets are stale" \
  C replay "$r1" --reason "rebuild the 1st" --detach
check "the error names the stale assets" \
  grep -q "reports/$day (superseded)" "$tmp/err"
check "and lists each one, with who superseded it" \
  grep -q "stale reports/$day \[$day\] sha256:.*superseded by run $r2" "$tmp/err"
check "and says how to go on" grep -q -- "--allow-stale-assets" "$tmp/err"
eq "nothing was started" "$(C runs --format json |
  jq '[.runs[] | select(.workflow_id == "day-1")] | length')" 1
C audit --format json >audit.json
is "the refusal is in the audit index" audit.json \
  '[.records[] | select(.action == "replay_refused")] | length' 1
is "with the stale list" audit.json \
  '[.records[] | select(.action == "replay_refused")][0].detail.stale_assets | length' 3
is "and the reason given" audit.json \
  '[.records[] | select(.action == "replay_refused")][0].reason' \
  "rebuild the 1st"
expect_exit 0 "with --allow-stale-assets the replay runs" \
  C replay "$r1" --reason "on purpose" --allow-stale-assets
check "it says it replays onto stale assets" \
  grep -q "allowed reports/$day" "$tmp/err"
C audit --format json >audit.json
is "the allowed replay is audited with what was stale" audit.json \
  '[.records[] | select(.action == "replay")][0].detail.allow_stale_assets' \
  true
r3=$(jq -r '[.records[] | select(.action == "replay")][0].new_run_id' \
  audit.json)
C history "$r3" --format json >h3.json
is "the replay keeps the original run's partition" h3.json \
  '.events[0].partition' "$day"
is "and its input" h3.json '.events[0].input.v' 1

# diff: the report's hash changed between the day's two runs
C diff day-1 day-2 --format json >diff.json
is "the diff lists the changed report" diff.json \
  "[.assets[] | select(.path == \"reports/$day [$day]\")][0].change" changed
is "its hash before" diff.json \
  "[.assets[] | select(.path == \"reports/$day [$day]\")][0].before.hash" \
  "$(jq -r '.versions[1].hash' hist.json)"
is "and after" diff.json \
  "[.assets[] | select(.path == \"reports/$day [$day]\")][0].after.hash" \
  "$(jq -r '.versions[0].hash' hist.json)"
is "the warning: the base run's assets are stale" diff.json \
  '.stale_warning.run_id' "$r1"
is "the diff is not identical" diff.json .identical false
expect_exit 0 "diff prints as text too" C diff day-1 day-2
check "the text diff has an assets section" grep -qi "asset" "$tmp/out"

# an upstream change makes the downstream asset stale
expect_exit 0 "the digest consumes the current report" \
  C run downstream.json --input "{\"day\": \"$day\"}" --id digest-1
C assets show "digest/$day" --format json >d1.json
is "the digest is fresh" d1.json .stale false
is "built from the report it read" d1.json '.upstream[0].hash' \
  "$(C assets show "reports/$day" --partition "$day" --format json | jq -r .hash)"
C assets show "reports/$day" --partition "$day" --format json >used.json
is "the report's version lists the digest run as a user" used.json \
  '.used_by | length' 1
expect_exit 0 "the report is made again from new data" \
  C run report.json --input "{\"day\": \"$day\", \"v\": 3}" --id day-3 \
  --partition "$day"
C assets show "digest/$day" --format json >d2.json
is "the digest is stale now: its upstream changed" d2.json \
  '.staleness.why | join(",")' upstream_changed
is "naming the upstream" d2.json '.staleness.upstream.key' "reports/$day"
digest_run=$(jq -r .run_id d1.json)
expect_exit 4 "replaying the digest is refused" C replay "$digest_run" --detach
check "for its changed upstream" grep -q "upstream_changed\|upstream reports/$day changed" "$tmp/err"
C assets list --stale --format json >stale.json
is "assets list --stale shows the digest" stale.json '.assets[0].key' \
  "digest/$day"

# bad input: the step fails with a clear error, nothing is catalogued
cat >bad.json <<'EOF'
{ "name": "bad_assets",
  "steps": [
    { "name": "make", "kind": "exec",
      "with": { "command": ["sh", "-c", "echo secret > ../outside.txt; echo big > big.txt"],
                "cwd": "work" },
      "produces": [ { "key": "{{ .input.key }}", "path": "{{ .input.path }}" } ] } ] }
EOF
mkdir -p work
expect_exit 7 "a path outside the step's working directory fails the step" \
  C run bad.json --input '{"key": "x", "path": "../outside.txt"}' --id bad-1
check "the error names the path and the directory" \
  grep -q "path ../outside.txt is outside the step's working directory $(realpath "$tmp")/work" "$tmp/out"
C history bad-1 --format json >hb.json
is "the step failed with asset_error" hb.json \
  '[.events[] | select(.type == "step.failed")][0].error.code' asset_error
is "and completed nothing" hb.json \
  '[.events[] | select(.type == "step.completed" or
                      .type == "asset.materialized")] | length' 0
expect_exit 7 "a missing file fails the step" \
  C run bad.json --input '{"key": "x", "path": "nope.csv"}' --id bad-2
check "the error says it does not exist" \
  grep -q "nope.csv does not exist in the step's working directory" "$tmp/out"
echo '{"assets": {"max_bytes": 3}}' >"$CAIRN_HOME/config.json"
expect_exit 7 "a file over assets.max_bytes fails the step" \
  C run bad.json --input '{"key": "x", "path": "big.txt"}' --id bad-3
check "the error gives the size and the limit" \
  grep -q "big.txt is 4 bytes, over the limit of 3 (assets.max_bytes" "$tmp/out"
echo '{"assets": {"max_bytes": "big"}}' >"$CAIRN_HOME/config.json"
expect_exit 1 "a bad assets.max_bytes stops the engine" \
  C run bad.json --input '{"key": "x", "path": "big.txt"}' --id bad-4
check "naming the setting" grep -q "assets.max_bytes must be" "$tmp/err"
rm "$CAIRN_HOME/config.json"
expect_exit 3 "an asset never made is not found" C assets show x
check "with a hint" grep -q "cairn assets list" "$tmp/err"
cat >bad_def.json <<'EOF'
{ "name": "bad_def", "steps": [ { "name": "s", "kind": "exec",
  "with": { "command": ["true"] },
  "produces": [ { "key": "k", "path": "a", "value": 1 } ] } ] }
EOF
expect_exit 2 "produces with both a path and a value is refused" \
  C run bad_def.json --id bad-5
check "naming the field" grep -q "steps\[0\].produces\[0\]: give one of path" "$tmp/err"
sed 's/"path": "a", "value": 1/"path": "a", "max_age": "soon"/' bad_def.json >bad_age.json
expect_exit 2 "a max_age that is not a duration is refused" \
  C run bad_age.json --id bad-6
check "saying what a duration is" grep -q 'max_age: "soon" is not a duration' "$tmp/err"
cat >bad_sleep.json <<'EOF'
{ "name": "bad_sleep", "steps": [ { "name": "nap", "kind": "sleep",
  "with": { "duration_ms": 1 }, "produces": [ { "key": "k", "value": 1 } ] } ] }
EOF
expect_exit 2 "a sleep step cannot produce" C run bad_sleep.json --id bad-7

# a derived run lists the assets of the steps it reused, and builds on them
d9=2026-12-09
expect_exit 0 "a run of another day" \
  C run report.json --input "{\"day\": \"$d9\", \"v\": 7}" --id day9 \
  --partition "$d9"
p9=$(C status day9 --format json | jq -r .run_id)
expect_exit 0 "a reset after extract reuses it and makes the report again" \
  C reset day9 --step extract --reason "report again"
c9=$(C status day9 --format json | jq -r .run_id)
C show "$c9" --format json >c9.json
is "the derived run lists the reused step's asset" c9.json \
  "[.assets[] | select(.key == \"raw/$d9\")][0].run_id" "$p9"
is "and its own report" c9.json \
  "[.assets[] | select(.key == \"reports/$d9\")][0].run_id" "$c9"
is "whose upstream is the reused raw asset" c9.json \
  "[.assets[] | select(.key == \"reports/$d9\")][0].upstream[0].hash" \
  "$(jq -r "[.assets[] | select(.key == \"raw/$d9\")][0].hash" c9.json)"
C diff "$p9" "$c9" --format json >d9.json
is "parent and reset run made the same assets" d9.json '.assets | length' 0
expect_exit 0 "another run of the day supersedes both" \
  C run report.json --input "{\"day\": \"$d9\", \"v\": 8}" --id day9-b \
  --partition "$d9"
expect_exit 4 "replaying the derived run is refused: its reused asset too" \
  C replay "$c9" --detach
check "naming the reused step's asset" grep -q "stale raw/$d9" "$tmp/err"
expect_exit 4 "a single-step rerun of a superseded report is refused" \
  C rerun "$p9" --step report --reason "old inputs"
check "it says the rerun would make it again" \
  grep -q "this rerun would make them again" "$tmp/err"
C audit --format json >audit.json
is "the refused rerun is audited" audit.json \
  '[.records[] | select(.action == "rerun_refused")][0].reason' "old inputs"
expect_exit 0 "with --allow-stale-assets the rerun goes on" \
  C rerun "$p9" --step report --allow-stale-assets
expect_exit 0 "backtest replays old runs with --allow-stale-assets" \
  C backtest --runs "$p9" --allow-stale-assets
expect_exit 4 "and says so when it is missing" C backtest --runs "$p9"
check "naming the option" grep -q "backtest --allow-stale-assets" "$tmp/err"


expect_exit 0 "the journal verifies, catalogue included" C journal verify
C assets list --format json >before.json
C journal stats --format json >stats.json
is "journal stats counts the catalogue's entries" stats.json .assets \
  "$(jq '.assets | length' before.json)"
is "and every materialization" stats.json .asset_versions \
  "$(C runs --format json | jq -r '.runs[].run_id' | while read -r id; do
       C history "$id" --format json |
         jq '[.events[] | select(.type == "asset.materialized")] | length'
     done | awk '{ s += $1 } END { print s }')"
expect_exit 0 "rebuild-views recomputes the catalogue" C journal rebuild-views
C assets list --format json >after.json
check "to the same catalogue" cmp -s before.json after.json

# the longest names: a 64-byte namespace, a key near 256 bytes, a 128-byte
# partition, the key an upstream of another step's asset
ns=$(printf 'n%.0s' $(seq 64))
key=$(printf 'k%.0s' $(seq 254))
part=$(printf 'p%.0s' $(seq 128))
cat >long.json <<'EOF'
{ "name": "long_names", "steps": [
  { "name": "a", "kind": "exec", "with": { "command": ["echo", "1"] },
    "produces": [ { "key": "{{ .input.key }}", "value": "{{ .output }}" } ] },
  { "name": "b", "kind": "exec", "needs": ["a"], "with": { "command": ["echo", "2"] },
    "produces": [ { "key": "{{ .input.key }}-b", "value": "{{ .output }}" } ] } ] }
EOF
expect_exit 0 "the longest namespace, key and partition are catalogued" \
  C --namespace "$ns" run long.json --input "{\"key\": \"$key\"}" \
  --partition "$part" --id long-1
C --namespace "$ns" assets show "$key-b" --partition "$part" \
  --format json >long_b.json
is "with its upstream" long_b.json '.upstream[0].key' "$key"
C --namespace "$ns" assets show "$key" --partition "$part" \
  --format json >long_a.json
is "and the upstream version lists its user" long_a.json '.used_by | length' 1
expect_exit 7 "a key over 256 bytes fails the step" \
  C --namespace "$ns" run long.json --input "{\"key\": \"${key}xxx\"}" \
  --id long-2
check "saying how long a key may be" grep -q "1..256 bytes" "$tmp/out"
expect_exit 0 "the journal verifies with the longest keys" C journal verify

# the API
expect_exit 0 "a long key in two long partitions (default namespace)" \
  C run long.json --input "{\"key\": \"$key\"}" --partition "$part" --id long-3
expect_exit 0 "and the second" \
  C run long.json --input "{\"key\": \"$key\"}" --partition "${part:0:127}q" \
  --id long-4
serve
seen=""
after=""
for page in 1 2 3 4 5; do
  req GET "/v1/assets?prefix=kkk&limit=1" "" --get --data-urlencode "after=$after"
  [ "$(body '.assets | length')" = 1 ] || break
  seen="$seen $(body '.assets[0] | "\(.key | length)/\(.partition[-1:])"')"
  after=$(body .next)
  [ "$after" = null ] && break
done
eq "pages of one walk the four long entries, each once" "$seen" \
  " 254/p 254/q 256/p 256/q"
req GET /v1/assets
answers "GET /v1/assets lists the catalogue" 200
eq "every asset (and the four long ones)" "$(body '.assets | length')" \
  "$(($(jq '.assets | length' after.json) + 4))"
req GET "/v1/assets?prefix=reports/&limit=1"
answers "a page of one" 200
eq "under the prefix" "$(body '.assets[0].key')" "reports/$day"
req GET "/v1/assets/reports/$day?partition=$day"
answers "GET /v1/assets/KEY (slashes in the key) shows one" 200
eq "the latest" "$(body .run_id)" "$(C status day-3 --format json | jq -r .run_id)"
req GET "/v1/assets/reports/$day?partition=$day&view=history"
answers "view=history lists the versions" 200
eq "all four" "$(body '.versions | length')" 4
req GET "/v1/assets/nothing/here"
answers "an unknown asset is 404" 404
req POST "/v1/runs/$r2/replay" '{"reason": "via api"}'
answers "replaying a stale run is 409" 409
eq "with its code" "$(body .error.code)" stale_assets
eq "and the stale list in the body" "$(body '.error.stale_assets | length')" 3
eq "naming the newer run" \
  "$(body "[.error.stale_assets[] | select(.key == \"reports/$day\")][0].newer.run_id")" \
  "$(C status day-3 --format json | jq -r .run_id)"
req POST "/v1/runs/$r2/replay" '{"reason": "via api", "allowStaleAssets": true}'
answers "allowStaleAssets starts it" 201
eq "and the answer lists what was stale" "$(body '.stale_assets | length')" 3
req POST "/v1/runs/$r2/replay" '{"allowStaleAssets": "yes"}'
answers "allowStaleAssets must be a boolean" 400
req GET "/v1/audit?limit=50"
eq "both API replays are audited" \
  "$(body '[.records[] | select(.reason == "via api")] | length')" 2
unserve
finish
