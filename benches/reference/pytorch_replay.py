"""Replays a `nerkit train` run in PyTorch: same initial weights, same batches in the same order, same
optimizer and schedule — an independent implementation of the whole run, step by step (not run in CI).

Inputs: the initial checkpoint of the run (`nerkit train ... --max-steps 0 --out INIT` writes it; the classifier
initialisation comes from the run's seed), the batches it feeds (`cargo run --release --example batch_order`),
and the model directory (its config's dropout rates: use a copy with both set to 0, since dropout masks come
from different generators on the two sides). Prints PyTorch's loss and gradient norm per step; with the run's
metrics.csv, nerkit's beside them. With --validation, the validation micro F1 of the final weights (first
sub-word, argmax, seqeval default mode; sentences up to 512 sub-words).

Usage: python benches/reference/pytorch_replay.py INIT/checkpoint.safetensors BATCHES.jsonl MODEL_DIR
           [--metrics RUN/metrics.csv] [--validation RUN/validation.jsonl] [--lr 5e-5] [--warmup-ratio 0.1]
           [--threads 1]
"""
import argparse
import csv
import json
import math

import numpy as np
import torch
from safetensors import safe_open
from seqeval.metrics import f1_score
from transformers import AutoTokenizer, BertForTokenClassification, get_linear_schedule_with_warmup

LABELS = ["O", "B-AC", "B-LF", "I-LF"]
p = argparse.ArgumentParser()
p.add_argument("init")
p.add_argument("batches")
p.add_argument("model")
p.add_argument("--metrics")
p.add_argument("--validation")
p.add_argument("--lr", type=float, default=5e-5)
p.add_argument("--warmup-ratio", type=float, default=0.1)
p.add_argument("--weight-decay", type=float, default=0.01)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
torch.set_num_threads(a.threads)

model = BertForTokenClassification.from_pretrained(a.model, num_labels=len(LABELS))
f = safe_open(a.init, "pt")
state = {k: f.get_tensor(k) for k in f.keys() if not k.endswith((".adam_m", ".adam_v", ".ema"))}
missing, unexpected = model.load_state_dict(state, strict=False)
assert not [k for k in missing if "position_ids" not in k] and not unexpected, (missing, unexpected)

batches = [json.loads(line) for line in open(a.batches)]
theirs = []
if a.metrics:
    theirs = [(float(r["loss"]), float(r["grad_norm"])) for r in csv.DictReader(open(a.metrics)) if r["kind"] == "train"]
no_decay = lambda n: n.endswith(".bias") or "LayerNorm" in n  # noqa: E731
named = list(model.named_parameters())
opt = torch.optim.AdamW(
    [{"params": [q for n, q in named if not no_decay(n)], "weight_decay": a.weight_decay},
     {"params": [q for n, q in named if no_decay(n)], "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
sched = get_linear_schedule_with_warmup(opt, math.ceil(a.warmup_ratio * len(batches)), len(batches))
model.train()
worst = 0.0
for step, b in enumerate(batches):
    t = {k: torch.tensor(b[k]) for k in ("input_ids", "attention_mask", "token_type_ids", "labels")}
    opt.zero_grad()
    loss = model(**t).loss
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
    opt.step()
    sched.step()
    line = f"step {step + 1} epoch {b['epoch']}: torch loss {loss.item():.6f} grad norm {norm:.5f}"
    if step < len(theirs):
        rel = abs(loss.item() - theirs[step][0]) / theirs[step][0]
        worst = max(worst, rel)
        line += f" | nerkit loss {theirs[step][0]:.6f} grad norm {theirs[step][1]:.5f} | loss rel diff {rel:.2e}"
    print(line, flush=True)
if theirs:
    print(f"largest relative loss difference over {min(len(theirs), len(batches))} steps: {worst:.2e}")

if a.validation:
    tok = AutoTokenizer.from_pretrained(a.model)
    rows = [json.loads(line) for line in open(a.validation) if line.strip()]
    model.eval()
    gold, guess = [], []
    for r in rows:
        enc = tok(r["tokens"], is_split_into_words=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc).logits[0].numpy()
        tags, prev = ["O"] * len(r["tokens"]), None
        for pos, w in enumerate(enc.word_ids(0)):
            if w is not None and w != prev:
                tags[w] = LABELS[int(np.argmax(logits[pos]))]
            prev = w
        gold.append(r["ner_tags"])
        guess.append(tags)
    print(f"validation micro F1 of the final weights: {f1_score(gold, guess):.4f}")
