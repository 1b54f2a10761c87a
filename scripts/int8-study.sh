#!/usr/bin/env bash
# The int8 accuracy study behind the README's int8 rows (issue: calibrated quantization with an accuracy guard):
# trains the default recipe at several seeds (8 epochs, same validation split), runs `nerkit export --int8
# --data` (the guard: every int8 variant scored against fp32 on the same sentences, paired bootstrap) on each
# model's validation split and on SDU (out-of-domain), and prints one table of every variant's paired F1
# change, LF change and speed against fp32. Not run in CI (about 15 minutes per seed on 2 cores).
#   scripts/int8-study.sh [SEEDS...]      (default 42 7 11; runs/ is git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
export NERKIT_HOME="${NERKIT_HOME:-$PWD/.nerkit}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$NERKIT_HOME/ort/libonnxruntime.so.1.31.1}"
bin="${NERKIT:-target/debug/nerkit}"
plod="${PLOD:-../shared/data/plod}"
train="$plod/plod-cw-2024-lowercased/train.jsonl"
sdu_n="${SDU_SENTENCES:-1000}"
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(42 7 11)
mkdir -p runs/int8-study
sdu="runs/int8-study/sdu-first-$sdu_n.jsonl"
head -n "$sdu_n" "$plod/sdu-aaai22-sci-en-bio/all.jsonl" > "$sdu"
for s in "${seeds[@]}"; do
  run="runs/int8-study/seed-$s"
  if [ ! -f "$run/best/model.safetensors" ]; then
    "$bin" train --config configs/minilm-plod-cw.toml --epochs 8 --seed "$s" --split-seed 42 --out "$run"
  fi
  # calibration sentences: the training part of the split (train.jsonl less the validation sentences)
  python3 - "$train" "$run/validation.jsonl" "$run/calibration.jsonl" <<'PY'
import json, sys
held = {tuple(json.loads(l)["tokens"]) for l in open(sys.argv[2]) if l.strip()}
with open(sys.argv[3], "w") as out:
    out.writelines(l for l in open(sys.argv[1]) if l.strip() and tuple(json.loads(l)["tokens"]) not in held)
PY
  for split in validation sdu; do
    data="$run/validation.jsonl"; [ "$split" = sdu ] && data="$sdu"
    [ -f "$run/export-$split/export.json" ] && continue
    "$bin" export --model "$run/best" --out "$run/export-$split" --int8 --data "$data" \
      --calibration "$run/calibration.jsonl" --no-check
  done
done
python3 - runs/int8-study "${seeds[@]}" <<'PY'
import json, statistics, sys
root, seeds = sys.argv[1], sys.argv[2:]
rows = {}
order = ["static", "hybrid", "static-mixed", "per-row", "per-row-mixed"]  # the guard's order: fastest first
def within(v, micro=0.5, per_type=1.0):  # the guard's default bounds (src/quantize/guard.rs)
    d = v["delta"]
    return d["micro"] >= -micro and all(x[0] >= -per_type for x in d["per_type"].values())
chosen = []
for s in seeds:
    for split in ("validation", "sdu"):
        g = json.load(open(f"{root}/seed-{s}/export-{split}/export.json"))["int8"]["guard"]
        print(f"seed {s} {split:<10} fp32 F1 {g['fp32_f1']:.4f} ({g['sentences']} sentences), chose {g['chosen']}; "
              f"most sensitive: {', '.join(x['group'] for x in g['sensitivity'][:3])}")
        pick = next((n for n in order for v in g["variants"] if v["name"] == n and within(v)), None)
        chosen.append(next((v for v in g["variants"] if v["name"] == pick), None))
        print(f"    under the default bounds (micro -0.5, per type -1.0) the guard chooses: {pick}")
        for v in g["variants"]:
            d = v["delta"]
            lf = d["per_type"].get("LF", [0, 0, 0])
            print(f"    {v['name']:<14} {d['micro']:+6.2f} [{d['micro_low']:+.2f}, {d['micro_high']:+.2f}]  "
                  f"LF {lf[0]:+6.2f}  logit RMSE {v['logit_rmse']:.4f}  {v['speedup']:.2f}x fp32")
            rows.setdefault(v["name"], []).append((d["micro"], lf[0], v["speedup"], split))
print("\nvariant         mean ΔF1  (val / sdu)       mean ΔLF   speed vs fp32 (8x128)")
for name, r in rows.items():
    m = statistics.mean(x[0] for x in r)
    val = statistics.mean(x[0] for x in r if x[3] == "validation")
    sdu = statistics.mean(x[0] for x in r if x[3] == "sdu")
    print(f"{name:<14} {m:+8.2f}  ({val:+.2f} / {sdu:+.2f})  {statistics.mean(x[1] for x in r):+8.2f}   "
          f"{statistics.mean(x[2] for x in r):.2f}x")
c = [v for v in chosen if v]
if c:
    print(f"chosen graph over {len(chosen)} model x split cells ({len(c)} with an int8 graph): mean ΔF1 "
          f"{statistics.mean(v['delta']['micro'] for v in c):+.2f}, mean ΔLF "
          f"{statistics.mean(v['delta']['per_type'].get('LF', [0])[0] for v in c):+.2f}, "
          f"mean speed {statistics.mean(v['speedup'] for v in c):.2f}x fp32")
PY
