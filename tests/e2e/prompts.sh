#!/usr/bin/env bash
# prompts.sh — end-to-end: prompt artifacts. A definition's llm step
# prompt becomes artifact prompt_<workflow>.<step> with a revision per
# registered version whose prompt changed; revisions are added by hand
# (`cairn prompt add`, POST /v1/prompts); a replay names an artifact id
# and a content hash (the API's "prompt" field, the CLI's
# --prompt-artifact/--prompt-hash) and runs with that exact text, as the
# scripted model server (helpers/llm_server.c: "MODEL says: PROMPT")
# shows; an unknown hash is 404, another artifact's hash 409. A new model
# by id and provider goes to the other provider's endpoint.
#   usage: prompts.sh CAIRN LLM_SERVER
set -uo pipefail
. "$(dirname "$0")/lib.sh"
use_cairn "$1"
. "$(dirname "$0")/serve_lib.sh"

start_server "$2" "the model server"
export OPENAI_BASE_URL=$base/v1 ANTHROPIC_BASE_URL=$base/v1
export OPENAI_API_KEY=sk-fake ANTHROPIC_API_KEY=sk-ant-fake
mkdir -p "$CAIRN_HOME"
cat >"$CAIRN_HOME/config.json" <<'EOF'
{ "llm": { "policy": { "allowed_models": ["openai:gpt-4o-mini",
                                          "anthropic:*"] } } }
EOF

out() { C --format json result "$1" | jq -r .output; }
sha() { printf 'sha256:%s' "$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"; }
# triage VERSION_PROMPT: the definition with that summarize prompt.
triage() {
  cat >"$tmp/triage.json" <<EOF
{ "name": "triage",
  "steps": [
    { "name": "summarize", "kind": "llm",
      "with": { "model": "openai:gpt-4o-mini", "prompt": "$1" } },
    { "name": "file", "kind": "exec",
      "with": { "command": ["echo", "filed"] } } ],
  "output": "{{ .steps.summarize.output.text }}" }
EOF
}
P1='Summarize: {{ .input.ticket }}'
P2='Summarize in one line: {{ .input.ticket }}'
P3='Summarize briefly: {{ .input.ticket }}'
ticket='export is broken'
art=prompt_triage.summarize

# ------------------------------------ a definition's prompts are artifacts
triage "$P1"
expect_exit 0 "version 1 registers" C workflow register "$tmp/triage.json"
C --format json prompt list >"$tmp/list"
is "the llm step's prompt is an artifact" "$tmp/list" \
  '[.prompts[] | "\(.id) \(.workflow) \(.step) \(.revisions)"] | join(",")' \
  "$art triage summarize 1"
is "its hash is the SHA-256 of the prompt text" "$tmp/list" \
  '.prompts[0].latest' "$(sha "$P1")"
triage "$P2"
expect_exit 0 "version 2 registers" C workflow register "$tmp/triage.json"
expect_exit 0 "registering version 2 again" C workflow register \
  "$tmp/triage.json"
C --format json prompt show $art >"$tmp/show"
is "a changed prompt is a new revision, the same one is not" "$tmp/show" \
  '[.history[] | "\(.revision):\(.definition.version)"] | join(",")' \
  "1:1,2:2"
is "each revision keeps its text" "$tmp/show" '.history[1].text' "$P2"

# --------------------------------------------------- revisions by hand
C --format json prompt add triage.summarize --text "$P3" >"$tmp/add"
is "a revision added by hand to the step's artifact" "$tmp/add" \
  '"\(.id) \(.hash) \(.revisions) \(.added)"' "$art $(sha "$P3") 3 true"
C --format json prompt add triage.summarize --text "$P3" >"$tmp/add"
is "adding the latest text again adds nothing" "$tmp/add" \
  '"\(.revisions) \(.added)"' "3 false"
printf 'Other prompt: {{ .input.ticket }}\n' >"$tmp/other.txt"
expect_exit 0 "a prompt of its own from a file" C prompt add other \
  "$tmp/other.txt"
eq "a file's final newline is dropped, as for @file prompts" \
  "$(C prompt show prompt_other --hash "$(sha 'Other prompt: {{ .input.ticket }}')")" \
  'Other prompt: {{ .input.ticket }}'
expect_exit 2 "a name with a slash is refused" C prompt add bad/name \
  --text x
expect_exit 2 "add needs a text" C prompt add lonely
expect_exit 3 "an unknown artifact is not found" C prompt show prompt_nope

# ------------------------------------------------------- runs and replays
C run triage --id t-1 --input "{\"ticket\": \"$ticket\"}" >/dev/null
run1=$(C --format json status t-1 | jq -r .run_id)
eq "the run used the current version's prompt" "$(out t-1)" \
  "gpt-4o-mini says: Summarize in one line: $ticket"

serve
req GET /v1/prompts
is "GET /v1/prompts lists the namespace's artifacts in id order" \
  "$tmp/body" '[.prompts[].id] | join(",")' "prompt_other,$art"
req GET "/v1/prompts?limit=1"
is "a page of one says where the next begins" "$tmp/body" \
  '"\(.prompts | length) \(.next_after)"' "1 prompt_other"
req GET "/v1/prompts?limit=1&after=prompt_other"
is "the next page" "$tmp/body" '[.prompts[].id] | join(",")' "$art"
req GET /v1/prompts/$art
answers "GET /v1/prompts/{id}" 200
C --format json prompt show $art >"$tmp/cli"
eq "the API and the CLI print the same object" \
  "$(jq -S . "$tmp/body")" "$(jq -S . "$tmp/cli")"
req GET /v1/prompts/prompt_nope
answers "an unknown artifact" 404
is "... with the error object" "$tmp/body" .error.code not_found

replay() { req POST "/workflow-runs/$run1/replay" "$1"; }
replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"$(sha "$P3")\"},
  \"reason\": \"try the brief prompt\"}"
answers "a replay naming an artifact and a content hash" 201
new=$(body .run_id)
wait_until "the replay completes" 20 \
  bash -c "'$CAIRN' status $new | grep -q '^completed'"
eq "it ran that revision's text" "$(out "$new")" \
  "gpt-4o-mini says: Summarize briefly: $ticket"
C --format json history "$new" >"$tmp/h"
is "its origin records the artifact, hash and step" "$tmp/h" \
  '.events[0].origin.prompt | "\(.artifact) \(.hash) \(.step)"' \
  "$art $(sha "$P3") summarize"
eq "the source run is untouched" "$(out "$run1")" \
  "gpt-4o-mini says: Summarize in one line: $ticket"

replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"sha256:$(printf '%064d' 7)\"}}"
answers "a hash no artifact has" 404
is "... says so and lists the revisions" "$tmp/body" \
  '.error.message | test("has no revision sha256:0+7; its revisions are: sha256:")' true
replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"$(sha 'Other prompt: {{ .input.ticket }}')\"}}"
answers "a hash of another artifact" 409
is "... is a conflict named as such" "$tmp/body" \
  '"\(.error.code) \(.error.message | test("revision of another prompt artifact"))"' \
  "conflict true"
replay "{\"prompt\": {\"artifact\": \"prompt_nope\", \"hash\": \"$(sha "$P3")\"}}"
answers "an unknown artifact" 404
replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"md5:abc\"}}"
answers "a hash that is not sha256:HEX" 400
replay "{\"prompt\": {\"artifact\": \"$art\"}}"
answers "an artifact without its hash" 400
replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"$(sha "$P3")\",
  \"step\": \"file\"}}"
answers "a prompt for a step that is not an llm step" 400
is "... names the step's kind" "$tmp/body" \
  '.error.message | test("file: it is an exec step")' true
replay "{\"prompt\": {\"artifact\": \"$art\", \"hash\": \"$(sha "$P3")\",
  \"colour\": \"red\"}}"
answers "an unknown field inside prompt" 400
req POST "/v1/runs/$run1/reset" "{\"step\": \"summarize\",
  \"prompt\": {\"artifact\": \"$art\", \"hash\": \"$(sha "$P3")\"}}"
answers "a reset carries no new prompt" 400

n0=$(curl -s "$base/requests" | jq length)
replay '{"model": {"id": "claude-haiku-4-5", "provider": "anthropic"}}'
answers "a replay with a new model by id and provider" 201
new=$(body .run_id)
wait_until "the model replay completes" 20 \
  bash -c "'$CAIRN' status $new | grep -q '^completed'"
eq "the only llm step asked the other provider" \
  "$(curl -s "$base/requests" | jq -r ".[$n0:] | map(.path) | join(\",\")")" \
  "/v1/messages"
eq "with that model" "$(out "$new")" \
  "claude-haiku-4-5 says: Summarize in one line: $ticket"
replay '{"model": {"id": "gpt-4o", "provider": "openai"}}'
answers "a model the llm policy does not allow" 403

req POST /v1/prompts '{"id": "api-made", "text": "From the API: {{ .input.ticket }}"}'
answers "POST /v1/prompts registers a prompt" 201
is "... answering its id and hash" "$tmp/body" '"\(.id) \(.hash)"' \
  "prompt_api-made $(sha 'From the API: {{ .input.ticket }}')"
req POST /v1/prompts '{"id": "prompt_api-made", "text": "From the API: {{ .input.ticket }}"}'
answers "the same text again" 200
is "... adds nothing" "$tmp/body" '"\(.revisions) \(.added)"' "1 false"
req POST /v1/prompts '{"id": "a/b", "text": "x"}'
answers "an id with a slash" 400
req POST /v1/prompts '{"id": "x", "text": "x", "tags": []}'
answers "an unknown field" 400
replay "{\"prompt\": {\"artifact\": \"prompt_api-made\",
  \"hash\": \"$(sha 'From the API: {{ .input.ticket }}')\"}}"
answers "a prompt registered by hand goes to the only llm step" 201
new=$(body .run_id)
wait_until "that replay completes" 20 \
  bash -c "'$CAIRN' status $new | grep -q '^completed'"
eq "... and runs" "$(out "$new")" \
  "gpt-4o-mini says: From the API: $ticket"
unserve

# ------------------------------------------------------------ the CLI
C --format json replay "$run1" --prompt-artifact $art \
  --prompt-hash "$(sha "$P1")" >"$tmp/r"
expect_exit 0 "the CLI replays with version 1's prompt by hash" \
  test "$(jq -r .status "$tmp/r")" = completed
eq "... and that text ran" "$(out "$(jq -r .run_id "$tmp/r")")" \
  "gpt-4o-mini says: Summarize: $ticket"
expect_exit 3 "the CLI: a hash no artifact has" C replay "$run1" \
  --prompt-artifact $art --prompt-hash "sha256:$(printf '%064d' 7)"
expect_exit 4 "the CLI: another artifact's hash" C replay "$run1" \
  --prompt-artifact $art --prompt-hash \
  "$(sha 'Other prompt: {{ .input.ticket }}')"
expect_exit 0 "the journal verifies" C journal verify
finish
