"""Reference for the recipe-parity check (not run in CI): Hugging Face transformers + PyTorch CPU fine-tuning of
the embedded MiniLM on exactly the training/validation split of a nerkit run, so that the two frameworks are
compared on the same 107 validation sentences with the same metric (entity-level seqeval, default mode).

The validation sentences are the run's `validation.jsonl`; the training sentences are the data file minus
those. Labels on the first sub-word of each word (-100 elsewhere), truncation at max_len, argmax decoding, the
best epoch's validation micro F1. Recipe 1 of the training issue by default: lr 5e-5, batch 16, 4 epochs, warmup
10 %, linear decay, weight decay 0.01, clip 1.0.

Needs torch, transformers, accelerate and seqeval. Usage (from the repository root):
  /path/to/venv/bin/python benches/reference/hf_recipe.py RUN_DIR [DATA] [MODEL_DIR] [--seed N] [--lr X]
       [--epochs N] [--threads N] [--save DIR]
"""
import argparse
import json
import time

import numpy as np
import torch
from seqeval.metrics import classification_report, f1_score
from transformers import (
    AutoTokenizer,
    BertForTokenClassification,
    DataCollatorForTokenClassification,
    Trainer,
    TrainingArguments,
)

LABELS = ["O", "B-AC", "B-LF", "I-LF"]

p = argparse.ArgumentParser()
p.add_argument("run_dir")
p.add_argument("data", nargs="?", default="../shared/data/plod/plod-cw-2024-lowercased/train.jsonl")
p.add_argument("model", nargs="?", default=".nerkit/models/all-minilm-l6-v2")
p.add_argument("--seed", type=int, default=42)
p.add_argument("--lr", type=float, default=5e-5)
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--max-len", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--save", help="write the final model here (an HF directory that `nerkit evaluate` reads)")
a = p.parse_args()
torch.set_num_threads(a.threads)


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


validation = read(f"{a.run_dir}/validation.jsonl")
held_out = {tuple(r["tokens"]) for r in validation}
train = [r for r in read(a.data) if tuple(r["tokens"]) not in held_out]
print(f"{len(train)} training sentences, {len(validation)} validation sentences (from {a.run_dir})")

tok = AutoTokenizer.from_pretrained(a.model)
label_id = {l: i for i, l in enumerate(LABELS)}


def encode(rows):
    enc = tok([r["tokens"] for r in rows], is_split_into_words=True, truncation=True, max_length=a.max_len)
    out = []
    for k, r in enumerate(rows):
        words = enc.word_ids(k)
        labels, prev = [], None
        for w in words:
            labels.append(-100 if w is None or w == prev else label_id[r["ner_tags"][w]])
            prev = w
        out.append({"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k],
                    "token_type_ids": enc["token_type_ids"][k], "labels": labels, "words": words})
    return out


train_enc, val_enc = encode(train), encode(validation)


class Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = [{k: v for k, v in r.items() if k != "words"} for r in rows]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def word_tags(logits_row, words, n_words):
    """Argmax on each word's first sub-word; words cut off by truncation are O."""
    tags, prev = ["O"] * n_words, None
    for pos, w in enumerate(words):
        if w is not None and w != prev:
            tags[w] = LABELS[int(np.argmax(logits_row[pos]))]
        prev = w
    return tags


def metrics(pred):
    logits = pred.predictions
    gold = [r["ner_tags"] for r in validation]
    guess = [word_tags(logits[k], val_enc[k]["words"], len(gold[k])) for k in range(len(gold))]
    return {"micro_f1": f1_score(gold, guess), "report": classification_report(gold, guess, digits=4)}


model = BertForTokenClassification.from_pretrained(
    a.model, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=label_id)
args = TrainingArguments(
    output_dir=f"/tmp/hf_recipe_{a.seed}", learning_rate=a.lr, per_device_train_batch_size=a.batch_size,
    per_device_eval_batch_size=32, num_train_epochs=a.epochs, warmup_steps=0.1, lr_scheduler_type="linear",
    weight_decay=0.01, max_grad_norm=1.0, seed=a.seed, eval_strategy="epoch", save_strategy="no",
    logging_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0)
scores = []


class Record(Trainer):
    def evaluate(self, *args, **kwargs):
        out = self.predict(Rows(val_enc))
        m = metrics(out)
        scores.append(m["micro_f1"])
        print(f"epoch {len(scores)}: validation micro F1 {m['micro_f1']:.4f}", flush=True)
        return {"eval_micro_f1": m["micro_f1"]}


t0 = time.time()
trainer = Record(model=model, args=args, train_dataset=Rows(train_enc), eval_dataset=Rows(val_enc),
                 data_collator=DataCollatorForTokenClassification(tok), compute_metrics=None)
trainer.train()
if a.save:
    trainer.save_model(a.save)
    tok.save_pretrained(a.save)
best = int(np.argmax(scores))
print(f"best epoch {best + 1}: validation micro F1 {scores[best]:.4f}; per epoch "
      + ", ".join(f"{s:.4f}" for s in scores) + f"; {time.time() - t0:.0f} s")
