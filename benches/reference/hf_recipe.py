"""Reference for the recipe-parity check (not run in CI): Hugging Face transformers + PyTorch CPU fine-tuning of
the embedded MiniLM (or any BERT directory) on any BIO-tagged data, scored with the same metric as nerkit
(entity-level seqeval, default mode), so that the two frameworks can be compared on the same split.

Two ways to choose the split:
- a nerkit run directory: the validation sentences are the run's `validation.jsonl`, the training sentences are
  the data file minus those (all of it when the run's `config.toml` names a `validation` file; by default the
  data file is the config's `data` when that is a local file, else PLOD-CW). This is how the PLOD parity
  numbers of docs/recipes.md were made (107 validation sentences);
- explicit files: `--train FILE --validation FILE` (e.g. the `train.tsv` / `devel.tsv` of
  ../shared/data/ner/ncbi-disease and ../shared/data/ner/bc5cdr).

Data files are JSONL (`{"tokens": [...], "ner_tags": [...]}`, tags as strings, or as integer ids together with
`--labels`) or CoNLL (one `word<TAB>tag` per line, a blank line between sentences; with no tab, the first and
last whitespace-separated fields; `-DOCSTART-` lines are sentence breaks), told apart by the extension
(`.jsonl`/`.json` vs `.tsv`/`.conll`/`.txt`/`.bio`/`.iob`) or, for any other name, by the first non-blank line.

Labels come from the training data: `O` first, then the entity types sorted by name, `B-` before `I-` within a
type (e.g. O, B-Chemical, I-Chemical, B-Disease, I-Disease; PLOD gives O, B-AC, B-LF, I-LF as before), only the
tags that occur. `--labels O,B-X,I-X,...` overrides the set and order. A validation tag outside the set is an error.

Recipe 1 of the training issue by default: lr 5e-5, batch 16, 4 epochs, warmup 10 %, linear decay, weight decay
0.01, clip 1.0. Labels on the first sub-word of each word (-100 elsewhere), truncation at --max-len (words cut
off are predicted O). Decoding is argmax on each word's first sub-word, as in the parity runs (nerkit's
`--decode argmax`); `--bio-constrained` selects the best epoch with BIO-constrained Viterbi decoding instead
(nerkit's default `--decode viterbi`: `I-X` only after `B-X`/`I-X`, never first). Both decodings are computed
and reported every epoch; the selected one is printed first and picks the best epoch. `--seed` seeds everything,
the classifier initialisation included (before the generalisation the model was created before seeding).

Per epoch: validation entity micro F1 (precision, recall), macro F1 and F1 per type. At the end: the best epoch,
wall time, training tokens/s (non-padding sub-word tokens, [CLS]/[SEP] included, over the seconds spent in
training steps: forward, backward, optimizer, as nerkit's `train tokens/s`). `--json FILE` writes all of it
(rewritten after every epoch, `"complete": true` at the end).

Needs torch, transformers, accelerate, seqeval and numpy (e.g. a venv at /tmp/hfref-venv). Usage (from the
repository root):
  PY=/path/to/venv/bin/python
  $PY benches/reference/hf_recipe.py RUN_DIR [DATA] [MODEL_DIR] [options]
  $PY benches/reference/hf_recipe.py --train FILE --validation FILE [--model DIR] [options]
options: [--labels O,B-X,I-X,...] [--seed N] [--lr X] [--epochs N] [--batch-size N] [--max-len N] [--threads N]
         [--bio-constrained] [--limit-train N] [--limit-validation N] [--json FILE] [--save DIR]
e.g. $PY benches/reference/hf_recipe.py --train ../shared/data/ner/ncbi-disease/train.tsv \\
       --validation ../shared/data/ner/ncbi-disease/devel.tsv --threads 2 --json /tmp/hf-ncbi.json
"""
import argparse
import json
import os
import platform
import sys
import time
from collections import Counter

import numpy as np
import torch
import transformers
from seqeval.metrics import classification_report
from transformers import (
    AutoTokenizer,
    BertForTokenClassification,
    DataCollatorForTokenClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

PLOD = "../shared/data/plod/plod-cw-2024-lowercased/train.jsonl"
EMBEDDED = ".nerkit/models/all-minilm-l6-v2"
JSONL_EXT = (".jsonl", ".json", ".ndjson")
CONLL_EXT = (".tsv", ".conll", ".txt", ".bio", ".iob", ".iob2")

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("run_dir", nargs="?", help="nerkit run directory (its validation.jsonl is the validation split)")
p.add_argument("data", nargs="?", help="with RUN_DIR: the data file the run split (default: the run's config "
               f"`data` when a local file, else {PLOD})")
p.add_argument("model_pos", nargs="?", metavar="MODEL_DIR", help="with RUN_DIR: same as --model")
p.add_argument("--train", help="training file (JSONL or CoNLL); with --validation, instead of RUN_DIR")
p.add_argument("--validation", help="validation file (JSONL or CoNLL)")
p.add_argument("--model", help=f"HF model directory (default {EMBEDDED})")
p.add_argument("--labels", help="comma-separated label list, in id order (default: from the training data)")
p.add_argument("--seed", type=int, default=42)
p.add_argument("--lr", type=float, default=5e-5)
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--batch-size", type=int, default=16)
p.add_argument("--max-len", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--bio-constrained", action="store_true",
               help="pick the best epoch by BIO-constrained Viterbi decoding (default: argmax)")
p.add_argument("--limit-train", type=int, help="use only the first N training sentences (smoke tests)")
p.add_argument("--limit-validation", type=int, help="use only the first N validation sentences (smoke tests)")
p.add_argument("--json", help="write the results here as JSON")
p.add_argument("--save", help="write the final model here (an HF directory that `nerkit evaluate` reads)")
a = p.parse_args()

if a.train or a.validation:
    if not (a.train and a.validation):
        p.error("--train and --validation go together")
    if a.run_dir or a.data or a.model_pos:
        p.error("give either RUN_DIR [DATA] [MODEL_DIR] or --train/--validation [--model], not both")
elif not a.run_dir:
    p.error("give RUN_DIR, or --train FILE --validation FILE")
if a.model and a.model_pos:
    p.error("MODEL_DIR given twice (positional and --model)")
model_dir = a.model or a.model_pos or EMBEDDED
torch.set_num_threads(a.threads)


class DataError(Exception):
    pass


def data_format(path):
    low = path.lower()
    if low.endswith(JSONL_EXT):
        return "jsonl"
    if low.endswith(CONLL_EXT):
        return "conll"
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return "jsonl" if line.lstrip().startswith("{") else "conll"
    return "conll"


def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                tokens, tags = r["tokens"], r["ner_tags"]
            except (ValueError, KeyError, TypeError) as e:
                raise DataError(f"{path}:{n}: expected {{\"tokens\": [...], \"ner_tags\": [...]}} ({e})")
            if len(tokens) != len(tags):
                raise DataError(f"{path}:{n}: {len(tokens)} tokens but {len(tags)} tags")
            rows.append({"tokens": [str(t) for t in tokens], "ner_tags": list(tags)})
    return rows


def read_conll(path):
    rows, tokens, tags = [], [], []

    def flush():
        if tokens:
            rows.append({"tokens": tokens[:], "ner_tags": tags[:]})
            tokens.clear()
            tags.clear()

    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                flush()
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 2:
                raise DataError(f"{path}:{n}: expected `word<TAB>tag`, got {line!r}")
            tokens.append(fields[0])
            tags.append(fields[-1].strip())
    flush()
    return rows


def read(path):
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    fmt = data_format(path)
    rows = read_jsonl(path) if fmt == "jsonl" else read_conll(path)
    if not rows:
        raise DataError(f"{path}: no sentences")
    return rows, fmt


def is_bio(tag):
    return tag == "O" or (len(tag) > 2 and tag[:2] in ("B-", "I-"))


def labels_from(rows, where):
    tags = Counter(t for r in rows for t in r["ner_tags"])
    bad = sorted((t for t in tags if not isinstance(t, str) or not is_bio(t)), key=str)
    if bad:
        raise DataError(f"{where}: tags that are not BIO (O, B-<type>, I-<type>): {', '.join(map(str, bad[:20]))}"
                        + (" (integer tags need --labels)" if any(isinstance(t, int) for t in bad) else ""))
    types = sorted({t[2:] for t in tags if t != "O"})
    return ["O"] + [f"{bi}-{ty}" for ty in types for bi in ("B", "I") if f"{bi}-{ty}" in tags]


def ids_to_tags(rows, labels, where):
    """JSONL with integer tags (HF datasets' ClassLabel): map through --labels."""
    for r in rows:
        if any(isinstance(t, int) for t in r["ner_tags"]):
            try:
                r["ner_tags"] = [labels[t] if isinstance(t, int) else t for t in r["ner_tags"]]
            except IndexError:
                raise DataError(f"{where}: tag id outside --labels ({len(labels)} labels)")


def check_tags(rows, labels, where):
    unknown = Counter(t for r in rows for t in r["ner_tags"] if t not in set(labels))
    if unknown:
        raise DataError(f"{where}: tags not in the label set [{', '.join(labels)}]: "
                        + ", ".join(f"{t} ({c}x)" for t, c in unknown.most_common())
                        + " (pass --labels to set the labels explicitly)")


def run_config(run_dir):
    path = os.path.join(run_dir, "config.toml")
    if not os.path.isfile(path):
        return {}
    import tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


try:
    if a.run_dir:
        mode = "run_dir"
        cfg = run_config(a.run_dir)
        data = a.data or (cfg.get("data") if os.path.isfile(str(cfg.get("data", ""))) else None) or PLOD
        if cfg.get("extra_data"):
            print(f"note: the run also trained on extra_data {cfg['extra_data']}; they are not used here",
                  file=sys.stderr)
        validation, val_fmt = read(os.path.join(a.run_dir, "validation.jsonl"))
        all_rows, train_fmt = read(data)
        if cfg.get("validation"):  # the run validated on its own file and trained on all of `data`
            train, how = all_rows, "all of it: the run's config names a validation file"
        else:
            held_out = {tuple(r["tokens"]) for r in validation}
            train, how = [r for r in all_rows if tuple(r["tokens"]) not in held_out], "minus the run's validation"
        train_path, val_path = data, os.path.join(a.run_dir, "validation.jsonl")
        print(f"{len(train)} training sentences ({data}, {how}), {len(validation)} validation "
              f"sentences (from {a.run_dir})")
    else:
        mode = "files"
        train, train_fmt = read(a.train)
        validation, val_fmt = read(a.validation)
        train_path, val_path = a.train, a.validation
        print(f"{len(train)} training sentences ({a.train}, {train_fmt}), {len(validation)} validation "
              f"sentences ({a.validation}, {val_fmt})")
    if a.limit_train is not None:
        train = train[:a.limit_train]
    if a.limit_validation is not None:
        validation = validation[:a.limit_validation]
    if a.limit_train is not None or a.limit_validation is not None:
        print(f"limited to the first {len(train)} training / {len(validation)} validation sentences")

    if a.labels:
        LABELS = [l.strip() for l in a.labels.split(",") if l.strip()]
        bad = [l for l in LABELS if not is_bio(l)]
        if bad or len(set(LABELS)) != len(LABELS) or "O" not in LABELS:
            p.error(f"--labels: need distinct BIO labels including O (bad: {', '.join(bad) or 'duplicates/no O'})")
        ids_to_tags(train, LABELS, train_path)
        ids_to_tags(validation, LABELS, val_path)
        check_tags(train, LABELS, f"training data {train_path}")
    else:
        LABELS = labels_from(train, f"training data {train_path}")
    check_tags(validation, LABELS, f"validation data {val_path}")
except DataError as e:
    sys.exit(f"hf_recipe.py: {e}")
print("labels: " + ", ".join(LABELS))

tok = AutoTokenizer.from_pretrained(model_dir)
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
        item = {"input_ids": enc["input_ids"][k], "attention_mask": enc["attention_mask"][k], "labels": labels,
                "words": words}
        if "token_type_ids" in enc:
            item["token_type_ids"] = enc["token_type_ids"][k]
        out.append(item)
    return out


train_enc, val_enc = encode(train), encode(validation)
truncated = sum(1 for r, e in zip(validation, val_enc)
                if len({w for w in e["words"] if w is not None}) < len(r["tokens"]))
if truncated:
    print(f"{truncated} validation sentence(s) longer than {a.max_len} sub-words: words cut off are predicted O")


class Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = [{k: v for k, v in r.items() if k != "words"} for r in rows]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


# BIO transitions (as nerkit's src/infer/decode.rs): I-X only after B-X or I-X, never first.
def _type(l):
    return l[2:] if l[:2] in ("B-", "I-") else None


ALLOWED = np.array([[not n.startswith("I-") or _type(prev) == _type(n) for n in LABELS] for prev in LABELS])
START = np.array([not l.startswith("I-") for l in LABELS])


def viterbi(log_probs):
    """Most probable BIO-valid label sequence; log_probs[word][label]."""
    score = np.where(START, log_probs[0], -np.inf)
    back = []
    for row in log_probs[1:]:
        cand = np.where(ALLOWED, score[:, None], -np.inf)  # [prev, next]
        best_prev = np.argmax(cand, axis=0)
        back.append(best_prev)
        score = cand[best_prev, np.arange(len(LABELS))] + row
    path = [int(np.argmax(score))]
    for bp in reversed(back):
        path.append(int(bp[path[-1]]))
    return path[::-1]


def word_tags(logits_row, words, n_words, constrained):
    """Each word's first sub-word; words cut off by truncation are O."""
    tags, firsts, prev = ["O"] * n_words, [], None
    for pos, w in enumerate(words):
        if w is not None and w != prev:
            firsts.append((w, pos))
        prev = w
    if not firsts:
        return tags
    rows = logits_row[[pos for _, pos in firsts]].astype(np.float64)
    if constrained:
        rows = rows - rows.max(axis=1, keepdims=True)
        rows = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
        ids = viterbi(rows)
    else:
        ids = [int(np.argmax(r)) for r in rows]
    for (w, _), i in zip(firsts, ids):
        tags[w] = LABELS[i]
    return tags


def scores(gold, guess):
    rep = classification_report(gold, guess, digits=4, output_dict=True, zero_division=0)
    types = sorted(k for k in rep if not k.endswith(" avg"))
    micro, macro = rep["micro avg"], rep["macro avg"]
    return {
        "micro_f1": float(micro["f1-score"]), "micro_precision": float(micro["precision"]),
        "micro_recall": float(micro["recall"]), "macro_f1": float(macro["f1-score"]),
        "per_type": {t: {"f1": float(rep[t]["f1-score"]), "precision": float(rep[t]["precision"]),
                         "recall": float(rep[t]["recall"]), "support": int(rep[t]["support"])} for t in types},
    }


PRIMARY = "bio_constrained" if a.bio_constrained else "argmax"
OTHER = "argmax" if a.bio_constrained else "bio_constrained"


def metrics(logits):
    gold = [r["ner_tags"] for r in validation]
    out = {}
    for name, constrained in (("argmax", False), ("bio_constrained", True)):
        guess = [word_tags(logits[k], val_enc[k]["words"], len(gold[k]), constrained) for k in range(len(gold))]
        out[name] = scores(gold, guess)
    return out


set_seed(a.seed)  # before the model, so that --seed also fixes the classifier initialisation
model = BertForTokenClassification.from_pretrained(
    model_dir, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=label_id)
args = TrainingArguments(
    output_dir=f"/tmp/hf_recipe_{a.seed}", learning_rate=a.lr, per_device_train_batch_size=a.batch_size,
    per_device_eval_batch_size=32, num_train_epochs=a.epochs, warmup_steps=0.1, lr_scheduler_type="linear",
    weight_decay=0.01, max_grad_norm=1.0, seed=a.seed, eval_strategy="epoch", save_strategy="no",
    logging_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0)
epochs = []
clock = {"train_seconds": 0.0, "train_tokens": 0, "step_start": None}
result = {}


class StepClock(TrainerCallback):
    """Seconds inside training steps (forward, backward, clip, optimizer, scheduler), as nerkit times them."""

    def on_step_begin(self, args, state, control, **kwargs):
        clock["step_start"] = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        clock["train_seconds"] += time.perf_counter() - clock["step_start"]


def fmt_types(m):
    return ", ".join(f"{t} {v['f1']:.4f}" for t, v in m["per_type"].items())


def write_json(complete):
    if not a.json:
        return
    result.update({"complete": complete, "epochs": epochs})
    tmp = a.json + ".part"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.json)


class Record(Trainer):
    def training_step(self, model, inputs, *args, **kwargs):
        clock["train_tokens"] += int(inputs["attention_mask"].sum())
        return super().training_step(model, inputs, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        t = time.perf_counter()
        out = self.predict(Rows(val_enc))
        m = metrics(out.predictions)
        loss = out.metrics.get("test_loss")
        e = {"epoch": len(epochs) + 1, "validation_loss": None if loss is None else float(loss), **m,
             "eval_seconds": time.perf_counter() - t}
        epochs.append(e)
        pm, om = m[PRIMARY], m[OTHER]
        print(f"epoch {e['epoch']}: validation micro F1 {pm['micro_f1']:.4f} (P {pm['micro_precision']:.4f}, "
              f"R {pm['micro_recall']:.4f}), macro F1 {pm['macro_f1']:.4f}, per type: {fmt_types(pm)} [{PRIMARY}]; "
              f"{OTHER} micro F1 {om['micro_f1']:.4f}"
              + ("" if loss is None else f"; loss {loss:.4f}"), flush=True)
        write_json(False)
        return {"eval_micro_f1": pm["micro_f1"]}


result.update({
    "script": "benches/reference/hf_recipe.py",
    "argv": sys.argv[1:],
    "mode": mode,
    "train_path": train_path, "validation_path": val_path, "train_format": train_fmt, "validation_format": val_fmt,
    "run_dir": a.run_dir, "model": model_dir,
    "train_sentences": len(train), "validation_sentences": len(validation),
    "train_words": sum(len(r["tokens"]) for r in train),
    "validation_words": sum(len(r["tokens"]) for r in validation),
    "validation_truncated_sentences": truncated,
    "limit_train": a.limit_train, "limit_validation": a.limit_validation,
    "labels": LABELS,
    "recipe": {"lr": a.lr, "batch_size": a.batch_size, "epochs": a.epochs, "warmup": 0.1, "schedule": "linear",
               "weight_decay": 0.01, "max_grad_norm": 1.0, "max_len": a.max_len, "seed": a.seed,
               "label_on": "first sub-word"},
    "decode": PRIMARY,
    "metric": "seqeval entity-level, default (non-strict) mode",
    "threads": a.threads,
    "versions": {"python": platform.python_version(), "torch": torch.__version__,
                 "transformers": transformers.__version__},
})

t0 = time.perf_counter()
trainer = Record(model=model, args=args, train_dataset=Rows(train_enc), eval_dataset=Rows(val_enc),
                 data_collator=DataCollatorForTokenClassification(tok), compute_metrics=None,
                 callbacks=[StepClock()])
trainer.train()
wall = time.perf_counter() - t0
if a.save:
    trainer.save_model(a.save)
    tok.save_pretrained(a.save)
best = int(np.argmax([e[PRIMARY]["micro_f1"] for e in epochs]))
bm = epochs[best][PRIMARY]
tps = clock["train_tokens"] / max(clock["train_seconds"], 1e-9)
result.update({
    "best": {"epoch": best + 1, "decode": PRIMARY, "micro_f1": bm["micro_f1"], "micro_precision": bm["micro_precision"],
             "micro_recall": bm["micro_recall"], "macro_f1": bm["macro_f1"],
             "per_type_f1": {t: v["f1"] for t, v in bm["per_type"].items()},
             "other_decode_micro_f1": epochs[best][OTHER]["micro_f1"]},
    "steps": trainer.state.global_step,
    "wall_seconds": wall,
    "eval_seconds": sum(e["eval_seconds"] for e in epochs),
    "train_seconds": clock["train_seconds"],
    "train_tokens": clock["train_tokens"],
    "train_tokens_per_s": tps,
})
write_json(True)
print(f"best epoch {best + 1} [{PRIMARY}]: validation micro F1 {bm['micro_f1']:.4f}, per type: {fmt_types(bm)}; "
      f"per epoch " + ", ".join(f"{e[PRIMARY]['micro_f1']:.4f}" for e in epochs)
      + f"; {wall:.0f} s wall ({clock['train_seconds']:.0f} s in training steps), {tps:.0f} train tokens/s")
