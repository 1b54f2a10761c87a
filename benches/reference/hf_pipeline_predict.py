"""Reference for the `nerkit predict` throughput target (not run in CI): the Hugging Face token-classification
pipeline (PyTorch fp32 eager, CPU, 2 threads, aggregation "simple") on the same sentences and model directory.
Prints sentences/s at batch sizes 1 and 8. Run it right before or after `nerkit predict` on the same input.

Usage: /path/to/venv/bin/python benches/reference/hf_pipeline_predict.py MODEL_DIR SENTENCES.txt [THREADS]
"""
import sys
import time

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

model_dir, path = sys.argv[1], sys.argv[2]
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
texts = [l.rstrip("\n") for l in open(path, encoding="utf-8") if l.strip()]
model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
tokenizer = AutoTokenizer.from_pretrained(model_dir, model_max_length=512)
tc = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple", device=-1)
tc(texts[:8])  # warm-up
for batch in (1, 8):
    start = time.perf_counter()
    n = sum(len(r) for r in tc(texts, batch_size=batch))
    secs = time.perf_counter() - start
    print(f"hf pipeline batch {batch}: {len(texts)} sentences in {secs:.2f} s = {len(texts) / secs:.1f} sentences/s ({n} entities)")
