#!/usr/bin/env bash
# The Python package's tests, as `make test` runs them: builds the wheel (debug profile: it reuses the test build's
# compiled dependencies; stripped) into dist/, installs it into the test-tools venv (setup.sh: pytest, spaCy,
# scispaCy, onnxruntime) — the installed wheel, not the source tree — and runs pytest on python/tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${NERKIT_HOME:-$repo/.nerkit}"
venv="$home/venv"
cd "$repo"
rm -f dist/nerkit-*.whl
"$venv/bin/maturin" build --quiet -m python/Cargo.toml --strip --out dist
wheel="$(ls dist/nerkit-*.whl)"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"
export NERKIT_WHEEL="$repo/$wheel" NERKIT_BIN="${NERKIT_BIN:-$repo/target/debug/nerkit}"
cd "$repo/python/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider -r s .
