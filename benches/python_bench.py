"""The Python package's speed, side by side in one run (not run in CI): on the same texts, model and engine —

1. ``nerkit predict`` (the Rust binary; its own tagging time, model load excluded),
2. ``nerkit.Tagger.pipe`` (the wheel; tagging time, load excluded),
3. the spaCy component ``nerkit`` on ``spacy.blank("en")`` via ``nlp.pipe`` (tokenizer + tagging + doc.ents),
4. scispaCy's rules-only ``abbreviation_detector`` on ``spacy.blank("en")`` (what the rules cost),
5. the Hugging Face pipeline (PyTorch, aggregation "simple", batch 8) when ``--hf-python`` names a venv with
   transformers and torch (benches/reference/hf_pipeline_predict.py),

in interleaved rounds; prints texts/s per system and round, the medians and their ratios, the wheel's import time.

Usage: python benches/python_bench.py MODEL_DIR TEXTS.txt --nerkit-bin target/release/nerkit
       [--backend ort-int8] [--threads 2] [--rounds 3] [--hf-python /path/to/venv/bin/python]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("texts")
ap.add_argument("--nerkit-bin", required=True)
ap.add_argument("--backend", default="ort-int8")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--hf-python")
args = ap.parse_args()

t0 = time.perf_counter()
import nerkit  # noqa: E402

import_s = time.perf_counter() - t0
import spacy  # noqa: E402
import scispacy.abbreviation  # noqa: E402,F401

texts = [line.rstrip("\n") for line in open(args.texts, encoding="utf-8") if line.strip()]
n = len(texts)
tagger = nerkit.Tagger(args.model, backend=args.backend, threads=args.threads)
tagger.tag(texts[:8])  # warm-up
nlp = spacy.blank("en")
nlp.add_pipe("nerkit", config={"model": args.model, "backend": args.backend, "threads": args.threads})
sci = spacy.blank("en")
sci.add_pipe("abbreviation_detector")


def run_predict():
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("\n".join(texts) + "\n")
        f.flush()
        out = subprocess.run([args.nerkit_bin, "predict", "--model", args.model, "--input", f.name, "--output",
                              "/dev/null", "--backend", args.backend, "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True)
    m = re.search(r"in ([0-9.]+) s \(([0-9.]+) sentences/s", out.stderr + out.stdout)
    return n / float(m.group(1)) if m else float("nan")


def timed(fn):
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def run_hf():
    out = subprocess.run([args.hf_python, "benches/reference/hf_pipeline_predict.py", args.model, args.texts,
                          str(args.threads)], check=True, capture_output=True, text=True)
    # "hf pipeline batch 8: 1000 sentences in 9.1 s = 110.0 sentences/s (...)" — take the batch-8 figure
    rates = re.findall(r"batch (\d+): .*?= ([0-9.]+) sentences/s", out.stdout)
    return float(dict(rates).get("8", rates[-1][1] if rates else "nan"))


systems = {
    "nerkit predict (Rust binary)": run_predict,
    "nerkit.Tagger.pipe": lambda: timed(lambda: list(tagger.pipe(texts, batch_size=256))),
    "spaCy component nerkit (blank en)": lambda: timed(lambda: list(nlp.pipe(texts, batch_size=256))),
    "scispaCy abbreviation_detector (rules)": lambda: timed(lambda: list(sci.pipe(texts, batch_size=256))),
}
if args.hf_python:
    systems["HF pipeline (PyTorch, simple, batch 8)"] = run_hf
rates = {k: [] for k in systems}
for r in range(args.rounds):
    for name, fn in systems.items():
        rates[name].append(fn())
        print(f"round {r + 1}: {name}: {rates[name][-1]:.1f} texts/s", flush=True)
print(f"\n{n} texts, model {args.model}, backend {args.backend}, {args.threads} threads; wheel import {import_s:.3f} s")
base = statistics.median(rates["nerkit predict (Rust binary)"])
print(f"| system | texts/s (median of {args.rounds}) | vs nerkit predict |\n|---|---|---|")
for name, xs in rates.items():
    med = statistics.median(xs)
    print(f"| {name} | {med:.1f} | {med / base:.2f}× |")
