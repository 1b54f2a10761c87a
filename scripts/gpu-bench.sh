#!/bin/bash
# Inference on the GPU against int8 on the same machine's CPU cores, in one run (issue 17, docs/gpu.md):
#   1. export fp32 + fp16 + int8 graphs of MODEL (the int8 variant chosen by the accuracy guard when DATA is given);
#   2. `nerkit bench`: ort-cuda (fp32), ort-cuda-fp16, ort-int8 (CPU) at seq 128, batch 1 ... 256, interleaved,
#      ratio to the CPU int8 graph, each backend's F1 on DATA when given;
#   3. with SENTENCES: the whole raw-text path (`--end-to-end`) per backend on those documents.
# Results: $OUT/bench.json, $OUT/bench.txt, $OUT/report/report.html, $OUT/summary.txt.
# Usage: BIN=dir-with-nerkit MODEL=model-dir ORT_DYLIB_PATH=.../libonnxruntime.so.1.31.1 (GPU build)
#        [DATA=labelled.jsonl] [SENTENCES=docs.txt] [BATCHES=1,8,32,64,128,256] [SEQ=128] [SECONDS=240]
#        [OUT=gpu-bench] bash scripts/gpu-bench.sh
# CUDA libraries: LD_LIBRARY_PATH as set, else every directory of the pip `nvidia-*` wheels of this Python.
# DEVICE=cpu smoke-tests the script without a GPU (CPU backends only: ort, ort-int8).
set -u
: "${BIN:?directory with nerkit (built with --features cuda)}" "${MODEL:?model directory}"
: "${ORT_DYLIB_PATH:?GPU build of libonnxruntime}"
OUT=${OUT:-gpu-bench}
BATCHES=${BATCHES:-1,8,32,64,128,256}
SEQ=${SEQ:-128}
SECONDS_MAX=${SECONDS:-240}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
# shellcheck source=scripts/gpu-env.sh
source "$(dirname "$0")/gpu-env.sh"
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  BACKENDS=ort-cuda,ort-cuda-fp16,ort-int8
else
  BACKENDS=ort,ort-int8
fi
"$BIN/nerkit" doctor 2>&1 | grep -i -E "cuda|onnx runtime"

say "1. export: fp32, fp16, int8"
guard=()
[ -n "${DATA:-}" ] && guard=(--data "$DATA")
timeout 900 "$BIN/nerkit" export --model "$MODEL" --out "$OUT/export" --int8 --fp16 "${guard[@]}" \
  > "$OUT/export.log" 2>&1
echo "rc=$?"
grep -E "onnx:|chose|F1" "$OUT/export.log"

say "2. bench: $BACKENDS, batch $BATCHES x seq $SEQ, ratio to ort-int8 (CPU), at most $SECONDS_MAX s"
extra=()
[ -n "${DATA:-}" ] && extra+=(--accuracy "$DATA" --accuracy-limit 500)
[ -n "${SENTENCES:-}" ] && extra+=(--end-to-end "$SENTENCES")
timeout $((SECONDS_MAX + 600)) "$BIN/nerkit" bench --model "$OUT/export" --backends "$BACKENDS" \
  --batch "$BATCHES" --seq "$SEQ" --baseline ort-int8 --rounds 20 --duration "$SECONDS_MAX" \
  --json "$OUT/bench.json" --report "$OUT/report" "${extra[@]}" > "$OUT/bench.txt" 2>&1
echo "rc=$?"
cat "$OUT/bench.txt"

{
  echo "machine: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(nproc) CPU cores"
  echo "command: BATCHES=$BATCHES SEQ=$SEQ DEVICE=$DEVICE bash scripts/gpu-bench.sh"
  python3 - "$OUT/bench.json" <<'PY' 2>/dev/null || echo "(bench.json unreadable)"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{'backend':16} {'batch':>5} {'seq':>4} {'p50 ms':>9} {'sent/s':>9} {'x int8 CPU':>10} {'F1':>7}")
for row in r["rows"]:
    f1 = "" if row.get("f1") is None else f"{row['f1']:.4f}"
    ratio = "" if row.get("ratio") is None else f"{row['ratio']:.2f}"
    print(f"{row['backend']:16} {row['batch']:>5} {row['seq']:>4} {row['p50_ms']:>9.2f} {row['sentences_per_s']:>9.1f} {ratio:>10} {f1:>7}")
for s in r.get("skipped", []):
    print(f"skipped {s['backend']}: {s['reason']}")
PY
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
say "done"
