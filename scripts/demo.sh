#!/usr/bin/env bash
# The main job on the embedded default model, for `make demo`: every stage that exists, in life-cycle order.
# Usage: scripts/demo.sh PLOD_DIR RUN_DIR
set -euo pipefail
plod="${1:?PLOD data directory}"; run="${2:?run directory}"
bin="${NERKIT_BIN:-target/release/nerkit}"
train="$plod/plod-cw-2024-lowercased/train.jsonl"
[ -f "$train" ] || { echo "demo: PLOD data not found at $train (set PLOD=<dir> for make demo)" >&2; exit 1; }
mkdir -p "$run"
step() { echo; echo "== nerkit $1 =="; }

step analyze
"$bin" analyze --data "$train" --out "$run/analysis"

step prepare
"$bin" prepare --data "$train" --model embedded --out "$run/prepared"

step export
"$bin" export --model embedded --out "$run/export" --int8

echo
echo "demo: done. Outputs in $run/."
echo "demo: not built yet: train, serve, bench (see README, Life cycle)."
