"""The spaCy component ``nerkit``: ``nlp.add_pipe("nerkit", config={"model": DIR})``.

It sets ``doc.ents`` from nerkit's entities (character spans widened to whole spaCy tokens,
``alignment_mode="expand"``) and, for abbreviation models, ``doc._.abbreviations`` with scispaCy's contract
(``scispacy.abbreviation.AbbreviationDetector``): a list of short-form ``Span`` s — every mention of every
defined abbreviation — each with ``span._.long_form``, the long form's ``Span``. A scispaCy pipeline switches by
changing ``nlp.add_pipe("abbreviation_detector")`` to ``nlp.add_pipe("nerkit", config={"model": DIR})``.

Overlapping entities: nerkit's entities replace the entities already on the doc that overlap them (from an
earlier ``ner`` component); the others are kept. Two of nerkit's entities that widen onto the same tokens keep
the longer one (``spacy.util.filter_spans``).
"""

from typing import Iterable, Iterator, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from . import Tagger


@Language.factory(
    "nerkit",
    default_config={"model": None, "backend": "auto", "pairs": "hybrid", "batch_size": 256, "threads": None},
)
def make_nerkit(nlp: Language, name: str, model: Optional[str], backend: str, pairs: str, batch_size: int,
                threads: Optional[int]):
    if model is None:
        raise ValueError('the nerkit component needs config={"model": DIR} (a trained `best/` or an export)')
    return NerkitComponent(nlp, name, model, backend=backend, pairs=pairs, batch_size=batch_size, threads=threads)


class NerkitComponent:
    """Tags each doc's text with :class:`nerkit.Tagger` and writes entities and abbreviations onto the doc."""

    def __init__(self, nlp: Language, name: str, model: str, backend: str = "auto", pairs: str = "hybrid",
                 batch_size: int = 256, threads: Optional[int] = None):
        self.name = name
        self.tagger = Tagger(model, backend=backend, threads=threads)
        self.pairs = pairs
        self.batch_size = batch_size
        self.has_pairs = bool(self.tagger.info.get("pairs"))
        if self.has_pairs:
            # the same extensions as scispaCy's AbbreviationDetector (force: either may register them first)
            Doc.set_extension("abbreviations", default=[], force=True)
            Span.set_extension("long_form", default=None, force=True)

    def __call__(self, doc: Doc) -> Doc:
        return self._apply(doc, self.tagger.tag(doc.text, pairs=self._pairs()))

    def pipe(self, docs: Iterable[Doc], batch_size: Optional[int] = None) -> Iterator[Doc]:
        size = batch_size or self.batch_size
        batch = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _pairs(self):
        return self.pairs if self.has_pairs else None

    def _batch(self, docs):
        results = self.tagger.tag([d.text for d in docs], pairs=self._pairs())
        for doc, result in zip(docs, results):
            yield self._apply(doc, result)

    def _apply(self, doc: Doc, result: dict) -> Doc:
        spans = []
        for e in result["entities"]:
            span = doc.char_span(e["start"], e["end"], label=e["label"], alignment_mode="expand")
            spans.append(span)
        mine = filter_spans([s for s in spans if s is not None])
        kept = [s for s in doc.ents if not any(s.start < m.end and m.start < s.end for m in mine)]
        doc.ents = sorted(kept + mine, key=lambda s: s.start)
        if self.has_pairs:
            abbreviations = []
            for entry in (result.get("glossary") or {}).values():
                long_span = spans[entry["lf"]]
                if long_span is None:
                    continue
                for i in entry["mentions"]:
                    short = spans[i]
                    if short is not None:
                        short._.long_form = long_span
                        abbreviations.append(short)
            abbreviations.sort(key=lambda s: s.start)
            doc._.abbreviations = abbreviations
        return doc
