"""The spaCy component `nerkit`: doc.ents, and doc._.abbreviations with scispaCy's contract."""
import pytest

spacy = pytest.importorskip("spacy")
from spacy.tokens import Span  # noqa: E402

TEXT = "We used echo planar imaging (EPI) in all patients. EPI was fast."


def test_component_on_a_blank_pipeline_sets_entities(trained):
    nlp = spacy.blank("en")
    nlp.add_pipe("nerkit", config={"model": str(trained)})
    doc = nlp("Magnetic resonance imaging (MRI) and computed tomography (CT) were performed.")
    from nerkit import Tagger

    expected = Tagger(trained).tag(doc.text)["entities"]
    # each entity widened to whole tokens; labels kept
    assert [e.label_ for e in doc.ents] == [e["label"] for e in expected][: len(doc.ents)]
    for span in doc.ents:
        assert any(span.start_char <= e["start"] and e["end"] <= span.end_char for e in expected)


def test_abbreviations_behave_like_scispacys(trained):
    pytest.importorskip("scispacy")
    import scispacy.abbreviation  # noqa: F401  (registers "abbreviation_detector")

    sci = spacy.blank("en")
    sci.add_pipe("abbreviation_detector")
    theirs = sci(TEXT)
    ours_nlp = spacy.blank("en")
    ours_nlp.add_pipe("nerkit", config={"model": str(trained), "pairs": "rules"})
    ours = ours_nlp(TEXT)
    # same attribute names and types as scispaCy's
    for doc in (theirs, ours):
        assert all(isinstance(a, Span) and isinstance(a._.long_form, Span) for a in doc._.abbreviations)
    view = lambda doc: sorted((a.text, a.start_char, a._.long_form.text) for a in doc._.abbreviations)  # noqa: E731
    assert view(ours) == view(theirs) == [("EPI", 29, "echo planar imaging"), ("EPI", 51, "echo planar imaging")]
    # the default (hybrid) mode answers in the same shape
    hybrid = spacy.blank("en")
    hybrid.add_pipe("nerkit", config={"model": str(trained)})
    assert all(isinstance(a._.long_form, Span) for a in hybrid(TEXT)._.abbreviations)


def test_nlp_pipe_equals_per_doc_calls_on_1000_texts(trained, plod_texts):
    nlp = spacy.blank("en")
    nlp.add_pipe("nerkit", config={"model": str(trained), "batch_size": 48})
    texts = (plod_texts * 5)[:1000]
    view = lambda doc: ([(e.start, e.end, e.label_) for e in doc.ents],  # noqa: E731
                        [(a.start, a.end, a._.long_form.start, a._.long_form.end) for a in doc._.abbreviations])
    piped = [view(d) for d in nlp.pipe(texts, batch_size=48)]
    single = [view(nlp(t)) for t in texts[:200]]
    assert piped[:200] == single
    assert piped[200:400] == single  # the same texts again


def test_overlapping_entities_of_an_earlier_component_give_way(trained):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "OTHER", "pattern": "EPI"}, {"label": "OTHER", "pattern": "patients"}])
    nlp.add_pipe("nerkit", config={"model": str(trained), "pairs": "rules"})
    doc = nlp(TEXT)
    labels = {(e.text, e.label_) for e in doc.ents}
    assert ("EPI", "AC") in labels and ("EPI", "OTHER") not in labels
    assert ("patients", "OTHER") in labels, "entities nerkit does not overlap are kept"


def test_missing_model_config_is_a_clear_error():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="model"):
        nlp.add_pipe("nerkit")


def test_a_pipeline_with_its_own_tokenizer(trained):
    # a tokenizer that splits on spaces only: "(EPI)" is one token, so nerkit's "EPI" widens onto it
    class Whitespace:
        def __init__(self, vocab):
            self.vocab = vocab

        def __call__(self, text):
            from spacy.tokens import Doc as D

            words = text.split(" ")
            return D(self.vocab, words=words, spaces=[True] * (len(words) - 1) + [False])

    nlp = spacy.blank("en")
    nlp.tokenizer = Whitespace(nlp.vocab)
    nlp.add_pipe("nerkit", config={"model": str(trained), "pairs": "rules"})
    doc = nlp("We used echo planar imaging (EPI) here.")
    assert [(e.text, e.label_) for e in doc.ents] == [("echo planar imaging", "LF"), ("(EPI)", "AC")]
    assert [(a.text, a._.long_form.text) for a in doc._.abbreviations] == [("(EPI)", "echo planar imaging")]
