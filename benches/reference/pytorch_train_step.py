"""Reference for the training-step benchmark (not run in CI): PyTorch CPU eager, the embedded MiniLM as
BertForTokenClassification(4 labels), batch 16 x seq 128, AdamW (wd 0.01) + clip 1.0, dropout on, 2 threads.
Prints the median step time and tokens/s. Compare with
`cargo test -p nerkit-export --test train_perf -- --ignored --nocapture` run right after it on the same machine.

Usage: /path/to/venv/bin/python benches/reference/pytorch_train_step.py [MODEL_DIR] [THREADS]
"""
import statistics
import sys
import time

import torch
from transformers import BertForTokenClassification

model_dir = sys.argv[1] if len(sys.argv) > 1 else ".nerkit/models/all-minilm-l6-v2"
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
batch, seq, steps, warmup = 16, 128, 10, 2

model = BertForTokenClassification.from_pretrained(model_dir, num_labels=4)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
ids = torch.randint(1000, 30000, (batch, seq))
mask = torch.ones(batch, seq, dtype=torch.long)
types = torch.zeros(batch, seq, dtype=torch.long)
labels = torch.randint(0, 4, (batch, seq))
times = []
for i in range(warmup + steps):
    t0 = time.perf_counter()
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    if i >= warmup:
        times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(f"pytorch {torch.__version__} cpu threads={threads}: median step {med:.3f} s, {batch * seq / med:.0f} tokens/s")
