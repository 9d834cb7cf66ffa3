#!/usr/bin/env bash
# secrets.sh — what a caller hands cairn to record (a run's input, a
# fork's overrides and reason-free override texts) is scrubbed of the
# secrets cairn holds, by the rule the llm kind's outcomes are: an llm
# provider's API key (from OPENAI_API_KEY / ANTHROPIC_API_KEY or
# config.json) pasted anywhere in them is recorded as "[redacted]", in
# run.started, in step.rerun_requested and in the fork's run.started;
# nothing else changes, and the runs still execute.
#   usage: secrets.sh CAIRN
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
export OPENAI_API_KEY=sk-cairn-test-4f9a2e71
export ANTHROPIC_API_KEY=ant-cairn-test-77c0
KEY=$OPENAI_API_KEY

cat >wf.json <<'EOF2'
{ "name": "notes",
  "steps": [
    { "name": "a", "kind": "exec",
      "with": { "command": ["sh", "-c", "cat"], "stdin": "{{ .input.note }}" } },
    { "name": "b", "kind": "exec", "needs": ["a"],
      "with": { "command": ["sh", "-c", "echo '\"b\"'"] } } ] }
EOF2
expect_exit 0 "a run whose input holds the key completes" \
  C --format json run wf.json --id sec-1 \
    --input "{\"note\": \"\\\"my key is $KEY\\\"\", \"$ANTHROPIC_API_KEY\": 1, \"n\": 7}"
C --format json history sec-1 >h1.json
check "the key is nowhere in the run's history" bash -c "! grep -q '$KEY' h1.json"
check "nor the other provider's key, even as a field name" \
  bash -c "! grep -q '$ANTHROPIC_API_KEY' h1.json"
eq "run.started records the input scrubbed, the rest as given" \
  "$(jq -c '.events[0].input' h1.json)" \
  '{"note":"\"my key is [redacted]\"","[redacted]":1,"n":7}'

expect_exit 0 "a single-step rerun with the key in an override" \
  C --format json rerun sec-1 --step a --reason again \
    --param "a.stdin=\"\\\"again $KEY\\\"\""
C --format json history sec-1 >h2.json
check "the key is not in step.rerun_requested" bash -c "! grep -q '$KEY' h2.json"
eq "the override is recorded scrubbed" \
  "$(jq -r '.events[] | select(.type == "step.rerun_requested") | .meta.overrides[0]' h2.json)" \
  "param:a.stdin=\"\\\"again [redacted]\\\"\""

expect_exit 0 "a replay that sets the input to hold the key" \
  C --format json replay sec-1 --reason check \
    --set-input "note=\"\\\"then $KEY\\\"\""
replay=$(jq -r .run_id "$tmp/out")
C --format json history "$replay" >h3.json
check "the key is not in the replay's history" bash -c "! grep -q '$KEY' h3.json"
eq "the replay's input is scrubbed" \
  "$(jq -r '.events[0].input.note' h3.json)" '"then [redacted]"'
expect_exit 0 "the journal verifies" C journal verify

# Without a configured key nothing is scrubbed: text that merely looks
# like a key is recorded as given.
unset OPENAI_API_KEY ANTHROPIC_API_KEY
expect_exit 0 "a run without configured keys" \
  C --format json run wf.json --id plain-1 --input "{\"note\": \"\\\"$KEY\\\"\"}"
eq "its input is recorded as given" \
  "$(C --format json history plain-1 | jq -r '.events[0].input.note')" "\"$KEY\""
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
