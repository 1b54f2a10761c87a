"""Reference for the `nerkit predict` throughput target (not run in CI): the Hugging Face token-classification
pipeline (PyTorch fp32 eager, CPU, 2 threads, aggregation "simple") on the same sentences and model directory.
Prints sentences/s at batch sizes 1 and 8. Run it right before or after `nerkit predict` on the same input.

Usage: /path/to/venv/bin/python benches/reference/hf_pipeline_predict.py MODEL_DIR SENTENCES.txt [THREADS]

With --serve it is driven by `nerkit bench --end-to-end FILE --compare-python PYTHON`, in the same interleaved
rounds as nerkit's engines: TEXTS is then a JSON list of documents; the script prints `ready N` once loaded,
answers each `run B` line on stdin with `SECONDS ENTITIES` (one pass over all N texts at batch size B) and stops
at `quit` or end of input.
"""
import json
import sys
import time

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

args = [a for a in sys.argv[1:] if a != "--serve"]
serve = "--serve" in sys.argv[1:]
model_dir, path = args[0], args[1]
torch.set_num_threads(int(args[2]) if len(args) > 2 else 2)
if serve:
    texts = json.load(open(path, encoding="utf-8"))
else:
    texts = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]
model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
tokenizer = AutoTokenizer.from_pretrained(model_dir, model_max_length=512)
tc = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple", device=-1)
tc(texts[:8])  # warm-up


def one_pass(batch):
    start = time.perf_counter()
    n = sum(len(r) for r in tc(texts, batch_size=batch))
    return time.perf_counter() - start, n


if serve:
    print(f"ready {len(texts)}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        secs, n = one_pass(int(words[1]))
        print(f"{secs} {n}", flush=True)
else:
    for batch in (1, 8):
        secs, n = one_pass(batch)
        print(f"hf pipeline batch {batch}: {len(texts)} sentences in {secs:.2f} s = {len(texts) / secs:.1f} sentences/s ({n} entities)")
