"""Reference for the training-step benchmark (not run in CI): PyTorch CPU eager, the embedded MiniLM as
BertForTokenClassification(4 labels), batch 16 x seq 128, AdamW (wd 0.01) + clip 1.0, dropout on, 2 threads.
Prints the median step time and tokens/s. Compare with
`cargo test -p nerkit-export --test train_perf -- --ignored --nocapture` run right after it on the same machine.

Usage: /path/to/venv/bin/python benches/reference/pytorch_train_step.py [MODEL_DIR] [THREADS] [--profile|--serve]
With --profile, two more steps run under torch.profiler and the time per op is printed (where PyTorch's step
goes: matrix products vs dropout vs elementwise work), to set beside nerkit's ORT profile from train_perf.
With --serve, it prints "ready" after the warm-up steps and then runs one step per line read from stdin,
printing that step's seconds: `tests/train_perf.rs` (NERKIT_PYTORCH=python) drives it step by step,
alternating with nerkit's steps, so that both are timed under the same load of this shared machine.
"""
import statistics
import sys
import time

import torch
from transformers import BertForTokenClassification

args = [a for a in sys.argv[1:] if a not in ("--profile", "--serve")]
profile = "--profile" in sys.argv[1:]
serve = "--serve" in sys.argv[1:]
model_dir = args[0] if len(args) > 0 else ".nerkit/models/all-minilm-l6-v2"
threads = int(args[1]) if len(args) > 1 else 2
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

def train_step():
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()


if serve:
    for _ in range(warmup):
        train_step()
    print("ready", flush=True)
    for line in sys.stdin:
        t0 = time.perf_counter()
        train_step()
        print(f"{time.perf_counter() - t0:.6f}", flush=True)
    sys.exit(0)

times = []
for i in range(warmup + steps):
    t0 = time.perf_counter()
    train_step()
    if i >= warmup:
        times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(f"pytorch {torch.__version__} cpu threads={threads}: median step {med:.3f} s, {batch * seq / med:.0f} tokens/s")
if profile:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train_step()
        train_step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    mm = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    drop = sum(e.self_cpu_time_total for e in events if e.key == "aten::bernoulli_")
    print(f"profiled 2 steps: {total / 2e6:.3f} s/step; matrix products (mm, addmm, bmm) {mm / 2e6:.3f} s "
          f"({100 * mm / total:.0f} %), dropout masks (bernoulli_) {drop / 2e6:.3f} s ({100 * drop / total:.0f} %)")
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
