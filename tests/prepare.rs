//! Tokenization, alignment and windows on the real PLOD-CW train file with the embedded MiniLM tokenizer.
//!
//! Needs `NERKIT_HOME` (or `./.nerkit`) provisioned by `make setup`, and the PLOD data (`tests/common::plod`).
mod common;

use nerkit::data::Sentence;
use nerkit::labels::LabelSet;
use nerkit::prepare::{
    load_prepared, merge_windows, prepare_to_dir, split_text, EncodeOptions, Encoder, Example, PrepareRequest,
    IGNORE_INDEX,
};

fn train_sentences() -> Vec<Sentence> {
    #[derive(serde::Deserialize)]
    struct Row {
        tokens: Vec<String>,
        ner_tags: Vec<String>,
    }
    let path = common::plod_train();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let r: Row = serde_json::from_str(l).unwrap();
            Sentence { origin: format!("train.jsonl:{}", i + 1), words: r.tokens, tags: r.ner_tags }
        })
        .collect()
}

fn encoder(options: EncodeOptions) -> Encoder {
    let model = nerkit::model::resolve("embedded").unwrap_or_else(|e| panic!("{e}"));
    Encoder::new(model.tokenizer().unwrap(), options).unwrap()
}

/// Per window, the label at each word's first sub-word (what a perfect model would predict).
fn first_subword_labels(examples: &[Example]) -> Vec<Vec<i64>> {
    examples.iter().map(|e| e.first_subword_positions().iter().map(|&p| e.labels[p]).collect()).collect()
}

/// Checks alignment of every example and returns label counts over owned words' first sub-words.
fn check_alignment(sentences: &[Sentence], examples: &[Example], labels: &LabelSet) -> Vec<usize> {
    let mut counts = vec![0usize; labels.len()];
    let mut owned_seen = vec![0usize; sentences.len()];
    for e in examples {
        let s = &sentences[e.window.sentence_index];
        let firsts = e.first_subword_positions();
        assert_eq!(firsts.len(), e.window.words.len(), "{}: every window word has a first sub-word", s.origin);
        let mut labelled = vec![0usize; s.words.len()];
        for (pos, (&label, w)) in e.labels.iter().zip(&e.word_ids).enumerate() {
            match w {
                None => assert_eq!(label, IGNORE_INDEX, "{}: special token labelled", s.origin),
                Some(w) if firsts.contains(&pos) => {
                    assert_eq!(label, labels.id(&s.tags[*w]).unwrap() as i64, "{} word {w}", s.origin);
                    labelled[*w] += 1;
                }
                Some(_) => assert_eq!(label, IGNORE_INDEX, "{}: continuation labelled", s.origin),
            }
        }
        for w in e.window.owned.clone() {
            assert_eq!(labelled[w], 1, "{} word {w}: exactly one labelled sub-word", s.origin);
            counts[labels.id(&s.tags[w]).unwrap()] += 1;
            owned_seen[e.window.sentence_index] += 1;
        }
        assert!(e.len() <= 128);
    }
    for (s, n) in sentences.iter().zip(&owned_seen) {
        assert_eq!(*n, s.words.len(), "{}: every word owned exactly once", s.origin);
    }
    counts
}

#[test]
fn plod_train_alignment_counts_and_lossless_windows() {
    let sentences = train_sentences();
    let labels = LabelSet::plod();
    assert_eq!(sentences.len(), 1072);
    let expected = [32_971usize, 2_336, 1_500, 3_193]; // O, B-AC, B-LF, I-LF (data README)
    let mut tag_counts = vec![0usize; 4];
    for s in &sentences {
        for t in &s.tags {
            tag_counts[labels.id(t).unwrap()] += 1;
        }
    }
    assert_eq!(tag_counts, expected);

    for (max_len, stride) in [(128, 32), (32, 8)] {
        let enc = encoder(EncodeOptions { max_len, stride, label_all_subwords: false });
        let (examples, stats) = enc.encode_sentences(&sentences, &labels).unwrap();
        let counts = check_alignment(&sentences, &examples, &labels);
        assert_eq!(counts, expected, "max_len {max_len}");
        let merged = merge_windows(&examples, &first_subword_labels(&examples)).unwrap();
        let gold: Vec<Vec<i64>> =
            sentences.iter().map(|s| s.tags.iter().map(|t| labels.id(t).unwrap() as i64).collect()).collect();
        assert_eq!(merged, gold, "max_len {max_len}: windows merge back losslessly");
        assert_eq!(stats.words, 40_000);
        assert_eq!(stats.examples, examples.len());
        eprintln!(
            "max_len {max_len} stride {stride}: {} examples, {} sentences split, {:.3} sub-words/word, \
             {} truncated words, {} [UNK]-only words",
            stats.examples,
            stats.split_sentences,
            stats.subwords as f64 / stats.words as f64,
            stats.truncated_words,
            stats.unk_words
        );
        if max_len == 32 {
            assert!(stats.split_sentences > 500, "max_len 32 must exercise windows: {stats:?}");
        }
    }
}

#[test]
fn raw_text_words_and_minilm_pieces() {
    let text = "Überhaupt 🙂 epithelial (EPI) cells";
    let spans = split_text(text);
    let words: Vec<String> = spans.iter().map(|w| w.text.clone()).collect();
    assert_eq!(words, ["Überhaupt", "🙂", "epithelial", "(", "EPI", ")", "cells"]);
    for w in &spans {
        assert_eq!(text.chars().skip(w.start).take(w.end - w.start).collect::<String>(), w.text);
    }
    // The shipped tokenizer.json pads and truncates to 128; nerkit must turn both off.
    let enc = encoder(EncodeOptions::default());
    assert!(enc.tokenizer().get_padding().is_none() && enc.tokenizer().get_truncation().is_none());
    let pieces = enc.word_pieces(&words, "raw").unwrap();
    let tokens = |p: &[u32]| -> Vec<String> { p.iter().map(|&id| enc.tokenizer().id_to_token(id).unwrap()).collect() };
    assert_eq!(tokens(&pieces[0]), ["uber", "##ha", "##upt"]);
    assert_eq!(tokens(&pieces[1]), ["[UNK]"]);
    assert_eq!(tokens(&pieces[4]), ["ep", "##i"]);
    // Inference encoding: no labels, one window, every word has a first sub-word.
    let ex = enc.encode_unlabelled(0, &words).unwrap();
    assert_eq!(ex.len(), 1);
    assert!(ex[0].labels.iter().all(|&l| l == IGNORE_INDEX));
    assert_eq!(ex[0].first_subword_positions().len(), words.len());
}

#[test]
fn label_all_subwords_on_real_tokenizer() {
    let labels = LabelSet::plod();
    let s = Sentence {
        origin: "t".into(),
        words: ["epithelial", "überhaupt"].map(String::from).to_vec(),
        tags: ["B-LF", "B-AC"].map(String::from).to_vec(),
    };
    let enc = encoder(EncodeOptions { label_all_subwords: true, ..Default::default() });
    let (ex, _) = enc.encode_sentences(&[s], &labels).unwrap();
    let e = &ex[0];
    for (w, want_first, want_rest) in [(0usize, 2i64, 3i64), (1, 1, 1)] {
        let labs: Vec<i64> =
            e.word_ids.iter().zip(&e.labels).filter(|(x, _)| **x == Some(w)).map(|(_, l)| *l).collect();
        assert!(labs.len() >= 2, "word {w} has several sub-words");
        assert_eq!(labs[0], want_first);
        assert!(labs[1..].iter().all(|&l| l == want_rest), "word {w}: {labs:?}");
    }
}

#[test]
fn prepare_cache_writes_reuses_and_reloads() {
    let sentences: Vec<Sentence> = train_sentences().into_iter().take(150).collect();
    let labels = LabelSet::plod();
    let model = nerkit::model::resolve("embedded").unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut req = PrepareRequest {
        sentences: &sentences,
        labels: &labels,
        model: &model,
        model_ref: "embedded".into(),
        data: "train.jsonl (first 150)".into(),
        options: EncodeOptions::default(),
        val_fraction: 0.1,
        seed: 42,
        out: out.path().to_path_buf(),
        force: false,
    };
    let first = prepare_to_dir(&req).unwrap();
    assert!(!first.reused);
    let m = &first.manifest;
    assert_eq!(m.splits["train"].stats.sentences + m.splits["validation"].stats.sentences, 150);
    assert_eq!(m.splits["validation"].source_indices.len(), 15);
    assert_eq!(m.class_weights["none"], vec![1.0; 4]);
    let train = load_prepared(out.path(), "train").unwrap();
    assert_eq!(train.len(), m.splits["train"].stats.examples);
    let counts = nerkit::prepare::label_counts(&train, 4);
    assert_eq!(counts, m.splits["train"].label_counts);
    let w = &m.class_weights["inverse"];
    let n: u64 = counts.iter().sum();
    let mean: f64 = counts.iter().zip(w).map(|(&c, &w)| c as f64 * w as f64).sum::<f64>() / n as f64;
    assert!((mean - 1.0).abs() < 1e-5, "weighted mean {mean}");

    let again = prepare_to_dir(&req).unwrap();
    assert!(again.reused);
    assert_eq!(again.manifest, first.manifest);

    req.options.max_len = 64;
    let changed = prepare_to_dir(&req).unwrap();
    assert!(!changed.reused);
    assert_eq!(changed.manifest.key.options.max_len, 64);
    assert!(load_prepared(out.path(), "test").unwrap_err().to_string().contains("validation"));
}
