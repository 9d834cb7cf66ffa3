#!/usr/bin/env bash
# request_seeds.sh DIR — seeds for fuzz_request: method byte, path, NUL,
# body (the layout fuzz_request.c reads).
set -euo pipefail
d=$1
mkdir -p "$d"
seed() { printf '%b%s\0%s' "$1" "$2" "$3" >"$d/$4"; }
seed '\001' /v1/runs '{"workflow": "a", "version": 2, "input": {"x": [1]}, "workflow_id": "w"}' start
seed '\001' /v1/runs/r1/replay '{"definition": "original", "map": {"a": "b"}, "save_mapping": true, "overrides": {"prompts": {"s": "hi"}, "models": {"s": "p:m"}, "input": {"x": 1}, "params": {"s.f": 2}}, "allowStaleAssets": true}' replay
seed '\001' /v1/runs/r1/rerun '{"from_step": "b", "reason": "why", "request_id": "k"}' rerun
seed '\001' /v1/runs/r1/reset '{"step": "a", "definition": 3, "no_reapply_signals": true}' reset
seed '\000' /workflow-runs/r1/diff '' diff
seed '\002' /v1/workflows/w/versions/2 '' delete
seed '\001' /v1/runs/r1/signal '{"name": "go", "data": {"by": "x"}}' signal
seed '\000' /v1/runs/ '{"a":' trailing
seed '\001' /workflow-runs/r1/replay '{"prompt": {"artifact": "prompt_w.s", "hash": "sha256:00", "step": "s"}, "model": {"id": "m", "provider": "p"}}' prompt_replay
seed '\000' /v1/prompts/prompt_w.s '' prompt
