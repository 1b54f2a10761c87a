"""Fixtures of the Python package's tests (run by `make test` through scripts/python-tests.sh, in a venv where
the wheel from `make wheel` is installed — not the source tree).

- ``trained``: a model trained now by the wheel's own ``nerkit train`` (embedded MiniLM, 48 PLOD sentences,
  6 steps): labels O, B-AC, B-LF, I-LF, so pairs and glossary exist.
- ``plod_texts``: 200 PLOD sentences as raw text (tokens joined by spaces), from ../shared/data/plod.
- ``nerkit_bin``: the Rust binary (``NERKIT_BIN``, default target/debug/nerkit) to compare against.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLOD = Path(os.environ.get("PLOD", ROOT.parent / "shared" / "data" / "plod")) / "plod-cw-2024-lowercased" / "train.jsonl"


def plod_rows(n):
    if not PLOD.is_file():
        pytest.skip(f"PLOD data not found at {PLOD}")
    rows = []
    with open(PLOD) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


@pytest.fixture(scope="session")
def plod_texts():
    return [" ".join(r["tokens"]) for r in plod_rows(200)]


@pytest.fixture(scope="session")
def nerkit_bin():
    path = Path(os.environ.get("NERKIT_BIN", ROOT / "target" / "debug" / "nerkit"))
    if not path.is_file():
        pytest.skip(f"the Rust binary {path} is not built")
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trained")
    data = tmp / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in plod_rows(48)))
    out = tmp / "run"
    # the `nerkit` script installed with the wheel: the same command line as the Rust binary
    script = Path(sys.executable).parent / "nerkit"
    subprocess.run([str(script), "train", "--model", "embedded", "--data", str(data), "--epochs", "1",
                    "--batch-size", "8", "--max-steps", "6", "--lr", "5e-4", "--out", str(out), "--quiet"],
                   check=True, env={**os.environ, "RUST_LOG": "warn"})
    best = out / "best"
    assert (best / "config.json").is_file()
    return best
