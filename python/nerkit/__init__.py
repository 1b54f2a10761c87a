"""nerkit for Python: biomedical named-entity and abbreviation tagging on nerkit's Rust core.

>>> from nerkit import Tagger
>>> tagger = Tagger("runs/plod/best")                 # a trained `best/` or an exported directory
>>> tagger.tag("Echo planar imaging (EPI) was used.")  # what `POST /tag` returns, as dicts
{'entities': [{'label': 'LF', 'text': 'Echo planar imaging', 'start': 0, 'end': 19, 'score': ...}, ...],
 'pairs': [...], 'glossary': {...}}

Offsets are code points: ``text[e["start"]:e["end"]] == e["text"]``. The ONNX Runtime library comes from the
``onnxruntime`` wheel this package depends on (``ORT_DYLIB_PATH`` overrides it); without it the pure-Rust
tract engine tags.
"""
from __future__ import annotations

import glob
import json
import os
from itertools import islice
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

__all__ = ["Tagger", "__version__"]


def _find_onnxruntime() -> Optional[str]:
    """The ``libonnxruntime`` shipped in the ``onnxruntime`` wheel, if installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(root, "capi", "libonnxruntime.so*")))
        if found:
            return found[-1]
    return None


if "ORT_DYLIB_PATH" not in os.environ:
    _lib = _find_onnxruntime()
    if _lib:
        os.environ["ORT_DYLIB_PATH"] = _lib

from ._native import NativeTagger as _NativeTagger  # noqa: E402
from ._native import __version__  # noqa: E402

_AGGREGATIONS = ("native", "none", "simple", "first", "average", "max")
_DECODINGS = ("viterbi", "argmax")
_OFFSETS = ("chars", "bytes")
_PAIRS = ("hybrid", "model", "rules")


def _choice(name: str, value: Optional[str], allowed: tuple) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _texts(texts: Iterable[Any]) -> List[str]:
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts[{i}] is {type(t).__name__}, not str")
        out.append(t)
    return out


class Tagger:
    """A model directory (a trained ``best/`` or an export) opened for tagging.

    ``backend``: ``auto`` (CUDA, else ONNX Runtime int8, else fp32, else tract), ``ort``, ``ort-int8``,
    ``ort-cuda``, ``ort-cuda-fp16`` or ``tract``. ``lanes``: engines tagging parts of each call at once;
    ``threads``: intra-op threads they share. Thread-safe: calls from several threads take turns on the
    engine, and the interpreter lock is released while it works.
    """

    def __init__(self, model: Union[str, os.PathLike], backend: str = "auto", lanes: Optional[int] = None,
                 threads: Optional[int] = None):
        if not isinstance(backend, str):
            raise ValueError(f"backend={backend!r}: expected a string")
        path = os.fspath(model)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"model directory {path} not found (a trained `best/` or an exported directory)")
        self._native = _NativeTagger(path, backend, lanes, threads)
        self.info: Dict[str, Any] = json.loads(self._native.info_json)
        self.labels: List[str] = list(self.info["labels"])

    def __repr__(self) -> str:
        return f"Tagger({self.info['model_id']!r}, backend={self.info['backend']!r})"

    def tag(self, text_or_texts: Union[str, Iterable[str]], aggregation: Optional[str] = None,
            decoding: str = "viterbi", offsets: str = "chars", pairs: Optional[str] = None):
        """Tags one text (→ one dict) or a list of texts (→ a list of dicts), as ``POST /tag`` answers.

        ``aggregation``: ``None``/``"native"`` (PLOD words, Viterbi) or a Hugging Face strategy (``"simple"``,
        ``"first"``, ``"average"``, ``"max"``, ``"none"``; argmax). ``pairs`` (abbreviation models):
        ``"hybrid"`` (default), ``"model"`` or ``"rules"``.
        """
        one = isinstance(text_or_texts, str)
        texts = [text_or_texts] if one else _texts(text_or_texts)
        out = self._tag(texts, aggregation, decoding, offsets, pairs)
        return out[0] if one else out

    def _tag(self, texts: List[str], aggregation, decoding, offsets, pairs) -> List[dict]:
        aggregation = _choice("aggregation", aggregation, _AGGREGATIONS)
        decoding = _choice("decoding", decoding, _DECODINGS)
        if aggregation not in (None, "native") and decoding == "viterbi":
            decoding = None  # the Hugging Face strategies decode by argmax
        offsets = _choice("offsets", offsets, _OFFSETS)
        pairs = _choice("pairs", pairs, _PAIRS)
        if not texts:
            return []
        return json.loads(self._native.tag_json(texts, aggregation, decoding, offsets, pairs))

    def pipe(self, texts: Iterable[str], batch_size: int = 256, aggregation: Optional[str] = None,
             decoding: str = "viterbi", offsets: str = "chars", pairs: Optional[str] = None) -> Iterator[dict]:
        """Tags a stream of texts ``batch_size`` at a time (bounded memory; a larger batch sorts more windows by
        length and pads less), yielding one dict per text in order; options as :meth:`tag`."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r}: expected a positive int")
        if isinstance(texts, str):
            raise ValueError("pipe() takes an iterable of texts; use tag() for one text")
        it = iter(texts)
        start = 0
        while True:
            batch = list(islice(it, batch_size))
            if not batch:
                return
            for i, t in enumerate(batch):
                if not isinstance(t, str):
                    raise ValueError(f"texts[{start + i}] is {type(t).__name__}, not str")
            start += len(batch)
            yield from self._tag(batch, aggregation, decoding, offsets, pairs)
