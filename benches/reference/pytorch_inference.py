"""Reference for the inference bench (not run in CI): PyTorch CPU eager, the embedded MiniLM as
BertForTokenClassification(4 labels), eval mode, no grad, 2 threads, on the shapes of benches/inference.rs
(batch 1 x 48 and 8 x 128, the same deterministic token ids). Prints the median time per batch. Run it right
before or after `cargo bench --bench inference` on the same machine and compare the ratios.

Usage: /path/to/venv/bin/python benches/reference/pytorch_inference.py [MODEL_DIR] [THREADS]
"""
import statistics
import sys
import time

import torch
from transformers import BertForTokenClassification

model_dir = sys.argv[1] if len(sys.argv) > 1 else ".nerkit/models/all-minilm-l6-v2"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
model = BertForTokenClassification.from_pretrained(model_dir, num_labels=4).eval()


def batch(size, seq):
    rows = []
    for b in range(size):
        s = [1000 + (b * 7919 + i * 104_729) % 20_000 for i in range(seq)]
        s[0], s[-1] = 101, 102
        rows.append(s)
    return torch.tensor(rows)


for size, seq in [(1, 48), (8, 128)]:
    ids = batch(size, seq)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    times = []
    with torch.inference_mode():
        for i in range(5 + 30):
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask, token_type_ids=types)
            if i >= 5:
                times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"pytorch {torch.__version__} threads={threads} batch {size} x {seq}: median {med * 1e3:.2f} ms, "
          f"{size * seq / med:.0f} tokens/s")
