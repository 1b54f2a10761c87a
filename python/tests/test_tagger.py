"""nerkit.Tagger: the same answers as `nerkit predict` and `POST /tag`, from Python."""
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import nerkit
from nerkit import Tagger

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_is_the_installed_wheel():
    # not the source tree: the native module is inside site-packages
    assert "site-packages" in nerkit.__file__, nerkit.__file__
    assert nerkit.__version__


def same_floats(record):
    """The record with scores at float32 precision (`predict` writes them widened to f64 digits)."""
    import struct

    def f32(x):
        return struct.unpack("f", struct.pack("f", x))[0]

    out = {k: record.get(k) for k in ("entities", "pairs", "glossary")}
    for key in ("entities", "pairs"):
        if out[key] is not None:
            out[key] = [{**e, "score": f32(e["score"])} for e in out[key]]
    return out


def predict_records(nerkit_bin, model, texts, tmp_path, *extra):
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    subprocess.run([str(nerkit_bin), "predict", "--model", str(model), "--input", str(src), "--output", str(out),
                    "--backend", "ort", *extra], check=True, capture_output=True)
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.parametrize("aggregation", [None, "simple", "first"])
def test_tag_equals_nerkit_predict_on_200_texts(trained, plod_texts, nerkit_bin, tmp_path, aggregation):
    tagger = Tagger(trained, backend="ort")
    extra = ["--aggregation", aggregation] if aggregation else []
    records = predict_records(nerkit_bin, trained, plod_texts, tmp_path, *extra)
    got = tagger.tag(plod_texts, aggregation=aggregation)
    assert len(got) == len(records) == 200
    for text, mine, theirs in zip(plod_texts, got, records):
        assert same_floats(mine) == same_floats(theirs), text
        for e in mine["entities"]:
            assert text[e["start"]:e["end"]] == e["text"]
    assert any(r["entities"] for r in got), "the trained model tags something"
    assert "pairs" in got[0] and "glossary" in got[0]


def test_tag_equals_nerkit_predict_on_the_demo_model(plod_texts, nerkit_bin, tmp_path):
    demo = ROOT / "runs" / "demo" / "export"
    if not (demo / "model.onnx").is_file():
        pytest.skip("no demo model: run `make demo` first")
    tagger = Tagger(demo, backend="ort")
    records = predict_records(nerkit_bin, demo, plod_texts, tmp_path)
    got = tagger.tag(plod_texts)
    for mine, theirs in zip(got, records):
        assert same_floats(mine) == same_floats(theirs)


def test_one_text_pipe_info_and_modes(trained, plod_texts):
    tagger = Tagger(trained)
    one = tagger.tag("We used echo planar imaging (EPI) here.", pairs="rules")
    assert isinstance(one, dict)
    assert [(e["label"], e["text"]) for e in one["entities"]] == [("LF", "echo planar imaging"), ("AC", "EPI")]
    assert one["pairs"] == [{"ac": 1, "lf": 0, "rule": "parenthesised", "evidence": "letters", "score": 1.0}]
    assert one["glossary"]["EPI"]["long_form"] == "echo planar imaging"
    assert tagger.labels == ["O", "B-AC", "B-LF", "I-LF"]
    assert tagger.info["pairs"] == {"short": "AC", "long": "LF"}
    assert tagger.info["backend"] and isinstance(tagger.info["backend_reasons"], list)
    # pipe streams in order, in bounded batches, equal to tag()
    streamed = list(tagger.pipe(iter(plod_texts[:50]), batch_size=7))
    assert streamed == tagger.tag(plod_texts[:50])
    assert tagger.tag([]) == []
    byte = tagger.tag("Größe (G) of échos planaires (EP)", offsets="bytes")
    raw = "Größe (G) of échos planaires (EP)".encode()
    for e in byte["entities"]:
        assert raw[e["start"]:e["end"]].decode() == e["text"]


def test_two_threads_on_one_tagger_give_the_sequential_answers(trained, plod_texts):
    tagger = Tagger(trained)
    alone = tagger.tag(plod_texts[:80])
    got = [None, None]

    def work(k):
        got[k] = [tagger.tag(t) for t in plod_texts[:80]]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got[0] == alone and got[1] == alone


def test_bad_input_raises_and_the_interpreter_lives_on(trained, tmp_path):
    tagger = Tagger(trained)
    with pytest.raises(ValueError, match=r"texts\[1\] is int"):
        tagger.tag(["ok", 3])
    with pytest.raises(ValueError, match="aggregation"):
        tagger.tag("x", aggregation="mean")
    with pytest.raises(ValueError, match="pairs"):
        tagger.tag("x", pairs="letters")
    with pytest.raises(ValueError, match="batch_size"):
        list(tagger.pipe(["x"], batch_size=0))
    with pytest.raises(FileNotFoundError, match="not found"):
        Tagger(tmp_path / "missing")
    with pytest.raises(ValueError, match="backend"):
        Tagger(trained, backend="gpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError):
        Tagger(empty)
    assert tagger.tag("still alive (SA)")["entities"] is not None


def test_the_cli_comes_with_the_wheel():
    script = Path(sys.executable).parent / "nerkit"
    out = subprocess.run([str(script), "--version"], check=True, capture_output=True, text=True)
    assert out.stdout.startswith("nerkit ")
    bad = subprocess.run([str(script), "predict", "--model", "/nonexistent", "x"], capture_output=True, text=True)
    assert bad.returncode != 0 and "/nonexistent" in bad.stderr


def test_the_wheel_installs_into_a_fresh_venv_and_tags(trained, tmp_path):
    import os

    wheel = os.environ.get("NERKIT_WHEEL")
    if not wheel:
        pytest.skip("NERKIT_WHEEL not set (scripts/python-tests.sh sets it)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # --no-deps: without onnxruntime the wheel still tags, on the pure-Rust tract engine
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", wheel],
                   check=True)
    code = ("import json, nerkit; t = nerkit.Tagger(%r); "
            "print(json.dumps([t.info['backend'], t.tag('We used echo planar imaging (EPI).', pairs='rules')]))"
            % str(trained))
    # nothing of the project's setup either: no ORT_DYLIB_PATH, no NERKIT_HOME (its .nerkit/ort library)
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DYLIB_PATH", "NERKIT_HOME")}
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, env=env)
    backend, result = json.loads(out.stdout)
    assert backend == "tract"
    assert [e["text"] for e in result["entities"]] == ["echo planar imaging", "EPI"]


def test_the_onnxruntime_wheel_provides_the_library(trained):
    import os

    # in the test venv onnxruntime (the wheel's dependency) is installed: its libonnxruntime is found and used
    code = "import nerkit, os; t = nerkit.Tagger(%r, backend='ort'); print(os.environ['ORT_DYLIB_PATH'], t.info['backend'])"
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    out = subprocess.run([sys.executable, "-c", code % str(trained)], check=True, capture_output=True, text=True,
                         env=env, cwd="/")
    lib, backend = out.stdout.split()
    assert "site-packages/onnxruntime/capi/libonnxruntime.so" in lib
    assert backend == "ort"
