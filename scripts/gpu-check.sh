#!/bin/bash
# The CUDA checks in one run (docs/gpu.md), for a GPU machine that has the GPU build of ONNX Runtime and a
# nerkit built with `--features cuda` (plus `--example device_check`):
#   1. CPU vs CUDA: first training step on 10 batches + 5 consecutive steps (examples/device_check.rs);
#   2. training speed on CUDA alone: the default recipe for 120 steps;
#   3. optional recipe sweep: SWEEP="name:--flag value,..." runs of the default recipe side by side on the GPU.
# Usage: BIN=dir-with-nerkit-and-device_check MODEL=model-dir DATA=train.jsonl OUT=results-dir \
#        ORT_DYLIB_PATH=.../libonnxruntime.so.1.31.1 [SWEEP_SECONDS=300] [SWEEP=...] bash scripts/gpu-check.sh
# CUDA libraries: LD_LIBRARY_PATH as set, else every directory of the pip `nvidia-*` wheels of this Python.
set -u
: "${BIN:?directory with nerkit and device_check}" "${MODEL:?model directory}" "${DATA:?training JSONL}"
: "${ORT_DYLIB_PATH:?GPU build of libonnxruntime}"
OUT=${OUT:-gpu-check}
SWEEP_SECONDS=${SWEEP_SECONDS:-300}
DEVICE=${DEVICE:-cuda}   # cpu: smoke-test the script without a GPU (step 1 then fails: it needs CUDA)
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-env.sh
source "$(dirname "$0")/gpu-env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$BIN/nerkit" doctor 2>&1 | grep -i -E "cuda|onnx runtime"

say "1. CPU vs CUDA: first step on 10 batches, then 5 steps"
timeout 300 "$BIN/device_check" "$MODEL" "$DATA" --batches 10 --steps 5 > "$OUT/device_check.txt" 2>&1
echo "rc=$?"
sed -n '1,/^parameters whose/p' "$OUT/device_check.txt" | grep -v '^ *$' | head -45

say "2. training speed on CUDA alone: default recipe, 120 steps"
timeout 300 "$BIN/nerkit" train --config configs/minilm-plod-cw.toml --model "$MODEL" --data "$DATA" --device "$DEVICE" \
  --max-steps 120 --quiet --out "$OUT/speed" > "$OUT/speed.log" 2>&1
echo "rc=$?"
grep -E "steps|best" "$OUT/speed.log"
awk -F, 'NR > 11 { t += $2; s += $3 } END { if (s > 0) printf "steps 11-%d: %.0f tokens/s\n", NR - 1, t / s }' \
  "$OUT/speed/throughput.csv"

if [ -n "${SWEEP:-}" ]; then
  say "3. sweep, ${SWEEP_SECONDS} s at most"
  IFS=',' read -ra runs <<< "$SWEEP"
  for r in "${runs[@]}"; do
    name=${r%%:*}
    flags=${r#*:}
    # shellcheck disable=SC2086
    timeout "$SWEEP_SECONDS" "$BIN/nerkit" train --config configs/minilm-plod-cw.toml --model "$MODEL" --data "$DATA" \
      --device "$DEVICE" --threads 2 --quiet --split-seed 42 --out "$OUT/sweep/$name" $flags > "$OUT/sweep-$name.log" 2>&1 &
  done
  wait
  for d in "$OUT"/sweep/*/; do
    echo "$(basename "$d"): $(grep '^eval' "$d/metrics.csv" | awk -F, '{ printf "%s ", substr($8, 1, 5) }')"
  done
fi
say "done"
