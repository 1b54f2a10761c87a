#!/usr/bin/env bash
# Load test of `nerkit serve` with oha (a real HTTP load generator), traffic to 127.0.0.1 only, bounded in count:
#   benches/serve_load.sh MODEL_DIR [NERKIT_BINARY]
# Runs, side by side on one machine: one 40-word sentence at concurrency 1 (latency), 32 concurrent clients with
# batching on and off (throughput), and 10,000 requests at 32 concurrency (errors, server RSS before/after).
# oha: `cargo install oha --locked --root .nerkit/tools` (OHA=path overrides).
set -euo pipefail
model="${1:?usage: benches/serve_load.sh MODEL_DIR [NERKIT_BINARY]}"
bin="${2:-target/release/nerkit}"
oha="${OHA:-$(command -v oha || echo .nerkit/tools/bin/oha)}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.nerkit/ort/libonnxruntime.so.1.31.1}"
text='Functional magnetic resonance imaging (fMRI) and diffusion tensor imaging (DTI) were acquired in all 42 patients with mild cognitive impairment (MCI) and in healthy controls to measure cortical thickness, white matter integrity and resting state connectivity in the default mode network.'
body="{\"text\": \"$text\"}"
port=18471

start() {  # start ARGS...: serve on $port, wait for /health
  "$bin" serve --model "$model" --port "$port" "$@" > /tmp/nerkit-serve-bench.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    kill -0 "$pid" 2> /dev/null || { cat /tmp/nerkit-serve-bench.log >&2; exit 1; }
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && return
    sleep 0.2
  done
  echo "server did not become healthy" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null' EXIT
rss() { awk '/VmRSS/ {print $2 / 1024 " MB"}' "/proc/$pid/status"; }
load() {  # load REQUESTS CONCURRENCY
  local out; out="$(mktemp)"
  "$oha" --no-tui -n "$1" -c "$2" -m POST -H 'Content-Type: application/json' -d "$body" --output-format json \
    "http://127.0.0.1:$port/tag" > "$out"
  python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
print("  %8.1f req/s  p50 %6.2f ms  p99 %6.2f ms  status %s"
      % (s["requestsPerSec"], p["p50"] * 1e3, p["p99"] * 1e3, r.get("statusCodeDistribution", {})))
PY
  rm -f "$out"
}

echo "words in the sentence: $(echo "$text" | wc -w)"
start
echo "batching on, RSS after the model loaded: $(rss)"
load 50 1 > /dev/null
echo "concurrency 1 (batching on):"; load 1000 1
echo "concurrency 32, batching on:"; load 3000 32
echo "10,000 requests at 32, batching on:"; echo "  RSS before $(rss)"; load 10000 32; echo "  RSS after $(rss)"
stop
start --no-batching
load 50 1 > /dev/null
echo "concurrency 1, batching off:"; load 1000 1
echo "concurrency 32, batching off:"; load 3000 32
stop
