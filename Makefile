# nerkit — the two commands of the README:
#   make demo   provision everything (ONNX Runtime library, embedded model) and run the main job on the embedded default
#   make test   provision what the tests need and run the whole test suite
SHELL := /bin/bash
export NERKIT_HOME ?= $(CURDIR)/.nerkit
export ORT_DYLIB_PATH ?= $(NERKIT_HOME)/ort/libonnxruntime.so.1.31.1
PLOD ?= $(CURDIR)/../shared/data/plod
RUN ?= runs/demo
CARGO ?= cargo

.PHONY: setup build release wheel demo test lint bench serve clean-runs

setup:
	@bash scripts/setup.sh

# The demo and the tests share one dev build (dependencies optimised, see Cargo.toml); `make release`
# builds the optimised binary for benchmarks and deployment.
build:
	$(CARGO) build --bin nerkit

release:
	$(CARGO) build --release --bin nerkit

# The Python package (python/): an abi3 wheel for CPython >= 3.9 in dist/ (`pip install dist/nerkit-*.whl`).
wheel: setup
	$(NERKIT_HOME)/venv/bin/maturin build --release --strip -m python/Cargo.toml --out dist

demo: setup build
	@bash scripts/demo.sh "$(PLOD)" "$(RUN)"

# The second cargo run builds the optional `ort-training` feature and runs its tests (tests/ort_training.rs); the
# third step builds the Python wheel and runs its pytest suite (scripts/python-tests.sh).
test: setup
	{ $(CARGO) test --workspace --no-fail-fast; a=$$?; \
	  $(CARGO) test -p nerkit --features ort-training --test ort_training; b=$$?; \
	  bash scripts/python-tests.sh; c=$$?; exit $$((a | b | c)); } 2>&1 \
	  | tee .nerkit/test.log; status=$${PIPESTATUS[0]}; bash scripts/test-summary.sh .nerkit/test.log; exit $$status

# Serve a model over HTTP (web UI at http://127.0.0.1:8080/): make serve MODEL=runs/demo/export
MODEL ?= $(RUN)/export
serve: setup build
	target/debug/nerkit serve --model "$(MODEL)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p nerkit --features ort-training --all-targets -- -D warnings

bench: setup
	$(CARGO) bench --workspace

clean-runs:
	rm -rf runs
