#!/usr/bin/env bash
# The main job on the embedded default model, for `make demo`: the whole life cycle on the PLOD data.
# Usage: scripts/demo.sh PLOD_DIR RUN_DIR   (EPOCHS=2 by default: a short run, under 10 minutes on 2 cores)
set -euo pipefail
plod="${1:?PLOD data directory}"; run="${2:?run directory}"
bin="${NERKIT_BIN:-target/debug/nerkit}"
epochs="${EPOCHS:-2}"
train="$plod/plod-cw-2024-lowercased/train.jsonl"
[ -f "$train" ] || { echo "demo: PLOD data not found at $train (set PLOD=<dir> for make demo)" >&2; exit 1; }
mkdir -p "$run"
step() { echo; echo "== nerkit $1 =="; }

step "analyze: dataset statistics and charts"
"$bin" analyze --data "$train" --out "$run/analysis"

step "prepare: sub-word windows and label alignment"
"$bin" prepare --data "$train" --model embedded --out "$run/prepared"

step "train: fine-tune the embedded MiniLM ($epochs epochs, lr 1e-4) on ONNX Runtime"
"$bin" train --model embedded --data "$train" --epochs "$epochs" --lr 1e-4 --out "$run/train"

step "evaluate: the best checkpoint on the validation split"
"$bin" evaluate --model "$run/train/best" --data "$run/train/validation.jsonl" --out "$run/evaluate-fp32" \
  --title "nerkit demo: MiniLM, $epochs epochs (fp32)"

step "export: frozen ONNX inference graph, int8, and the ONNX Runtime fused-op variant"
"$bin" export --model "$run/train/best" --out "$run/export" --int8 --fused --data "$run/train/validation.jsonl"

step "evaluate: the int8 graph, compared with fp32"
"$bin" evaluate --model "$run/export" --backend ort-int8 --data "$run/train/validation.jsonl" \
  --out "$run/evaluate-int8" --compare "$run/evaluate-fp32/metrics.json" --title "nerkit demo: int8 vs fp32"

step "predict: raw text → entities, AC↔LF pairs and glossary (JSONL), on the exported int8 graph"
printf '%s\n' \
  "Functional magnetic resonance imaging (fMRI) and positron emission tomography (PET) were compared. Later, fMRI was repeated." \
  "Patients with chronic obstructive pulmonary disease (COPD) had a lower forced expiratory volume (FEV1)." \
  > "$run/predict-input.txt"
"$bin" predict --model "$run/export" --input "$run/predict-input.txt" --output "$run/predictions.jsonl"
head -c 600 "$run/predictions.jsonl"; echo

step "serve: the exported model over HTTP on a free loopback port; one POST /tag, then SIGTERM"
"$bin" serve --model "$run/export" --port 0 > "$run/serve.log" 2>&1 &
serve_pid=$!
url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^nerkit serve: listening on //p' "$run/serve.log" | head -1)"
  [ -n "$url" ] && curl -sf "$url/health" > /dev/null && break
  sleep 0.2
done
curl -sf "$url/health" > /dev/null || { cat "$run/serve.log"; kill "$serve_pid"; echo "demo: the server did not come up" >&2; exit 1; }
curl -s "$url/tag" -H 'Content-Type: application/json' \
  -d '{"text": "Magnetic resonance imaging (MRI) was performed.", "pairs": false}'; echo
kill -TERM "$serve_pid"; wait "$serve_pid"
echo "demo: to keep it running: make serve MODEL=$run/export   (or: $bin serve --model $run/export), then open http://127.0.0.1:8080/"

echo
echo "demo: done. Outputs in $run/: analysis/, prepared/, train/ (metrics.csv, curves.png, best/),"
echo "      evaluate-fp32/report.html, export/ (model.onnx, model.int8.onnx, model.fused*.onnx), evaluate-int8/report.html,"
echo "      predictions.jsonl (nerkit predict), serve.log (nerkit serve)"
echo "demo: compare the engines on this model: $bin bench --model $run/export (see README, Life cycle)."
