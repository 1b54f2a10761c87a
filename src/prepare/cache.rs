//! The prepared cache written by `nerkit prepare`: `<out>/prepared-<split>.jsonl` (one [`Example`] per line) and
//! `<out>/manifest.json` (what it was built from, counts, class weights).
//!
//! The cache is reused when the manifest's [`ManifestKey`] equals the one for the current request (same
//! tokenizer bytes, data, options, label set, split) and every split file has the recorded number of lines.
//! Fingerprints are 64-bit FNV-1a hashes (fast, deterministic; not cryptographic): of the tokenizer file's bytes
//! and of the sentences' words and tags (so the same data read from JSONL or parquet gives the same key).
use super::encode::{EncodeOptions, EncodeStats, Encoder, Example};
use super::weights::{class_weights, label_counts, ClassWeighting};
use super::PrepareError;
use crate::data::Sentence;
use crate::labels::LabelSet;
use crate::model::ModelDir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bumped whenever the example layout or the windowing rules change.
pub const FORMAT_VERSION: u32 = 2;
pub const MANIFEST_FILE: &str = "manifest.json";

/// Everything that determines the cache contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestKey {
    pub format_version: u32,
    pub tokenizer_size: u64,
    pub tokenizer_fnv64: String,
    pub data_fnv64: String,
    pub sentences: usize,
    pub options: EncodeOptions,
    pub labels: Vec<String>,
    pub val_fraction: f64,
    pub seed: u64,
}

/// One split of the cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    pub file: String,
    pub stats: EncodeStats,
    /// Labelled first sub-words per label id, over all windows (what the loss sees).
    pub label_counts: Vec<u64>,
    /// Index of each of the split's sentences in the input sentence list.
    pub source_indices: Vec<usize>,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(flatten)]
    pub key: ManifestKey,
    pub model: String,
    pub tokenizer_path: PathBuf,
    pub data: String,
    pub pad_id: u32,
    pub splits: BTreeMap<String, SplitSummary>,
    /// Class weights from the `train` split, per weighting scheme (`none`, `inverse`, `sqrt-inverse`).
    pub class_weights: BTreeMap<String, Vec<f32>>,
}

/// What to prepare and where.
pub struct PrepareRequest<'a> {
    pub sentences: &'a [Sentence],
    pub labels: &'a LabelSet,
    pub model: &'a ModelDir,
    /// The model reference as given (`embedded`, a path, a hub id), recorded in the manifest.
    pub model_ref: String,
    /// Where the sentences came from, recorded in the manifest.
    pub data: String,
    pub options: EncodeOptions,
    /// Share of sentences held out as the `validation` split (0 = none).
    pub val_fraction: f64,
    pub seed: u64,
    pub out: PathBuf,
    /// Rebuild even when the manifest matches.
    pub force: bool,
}

/// The manifest and whether an existing cache was reused.
#[derive(Clone, Debug)]
pub struct PrepareOutcome {
    pub manifest: Manifest,
    pub reused: bool,
}

/// Builds (or reuses) the prepared cache in `req.out`.
pub fn prepare_to_dir(req: &PrepareRequest) -> Result<PrepareOutcome, PrepareError> {
    if !(0.0..1.0).contains(&req.val_fraction) {
        return Err(PrepareError::BadValFraction { value: req.val_fraction });
    }
    let tok_path = req.model.tokenizer_path();
    let tok_bytes = std::fs::read(&tok_path).map_err(|e| io(&tok_path, e))?;
    let key = ManifestKey {
        format_version: FORMAT_VERSION,
        tokenizer_size: tok_bytes.len() as u64,
        tokenizer_fnv64: format!("{:016x}", fnv64(&tok_bytes)),
        data_fnv64: format!("{:016x}", sentences_fingerprint(req.sentences)),
        sentences: req.sentences.len(),
        options: req.options.clone(),
        labels: req.labels.labels().to_vec(),
        val_fraction: req.val_fraction,
        seed: req.seed,
    };
    if !req.force {
        if let Some(manifest) = reusable(&req.out, &key) {
            return Ok(PrepareOutcome { manifest, reused: true });
        }
    }
    let encoder = Encoder::new(req.model.tokenizer()?, req.options.clone())?;
    let (train_idx, val_idx) = crate::data::split::split_indices(req.sentences.len(), req.val_fraction, req.seed);
    let mut splits = BTreeMap::new();
    let mut train_counts = vec![0; req.labels.len()];
    std::fs::create_dir_all(&req.out).map_err(|e| io(&req.out, e))?;
    for (name, idx) in [("train", train_idx), ("validation", val_idx)] {
        if idx.is_empty() && name != "train" {
            continue;
        }
        let sentences: Vec<Sentence> = idx.iter().map(|&i| req.sentences[i].clone()).collect();
        let (examples, stats) = encoder.encode_sentences(&sentences, req.labels)?;
        let counts = label_counts(&examples, req.labels.len());
        if name == "train" {
            train_counts = counts.clone();
        }
        let file = format!("prepared-{name}.jsonl");
        write_examples(&req.out.join(&file), &examples)?;
        splits.insert(name.to_string(), SplitSummary { file, stats, label_counts: counts, source_indices: idx });
    }
    let class_weights = [ClassWeighting::None, ClassWeighting::Inverse, ClassWeighting::SqrtInverse]
        .into_iter()
        .map(|w| (w.to_string(), class_weights(&train_counts, w)))
        .collect();
    let manifest = Manifest {
        key,
        model: req.model_ref.clone(),
        tokenizer_path: tok_path,
        data: req.data.clone(),
        pad_id: encoder.pad_id(),
        splits,
        class_weights,
    };
    let path = req.out.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| PrepareError::Json {
        path: path.clone(),
        line: 0,
        source: e,
    })?;
    write_atomic(&path, json.as_bytes())?;
    Ok(PrepareOutcome { manifest, reused: false })
}

/// Reads `manifest.json` of a prepared cache.
pub fn read_manifest(dir: &Path) -> Result<Manifest, PrepareError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| PrepareError::Json { line: e.line(), path, source: e })
}

/// Loads the examples of `split` (`train`, `validation`) from a prepared cache.
pub fn load_prepared(dir: &Path, split: &str) -> Result<Vec<Example>, PrepareError> {
    let manifest = read_manifest(dir)?;
    let summary = manifest.splits.get(split).ok_or_else(|| PrepareError::MissingSplit {
        dir: dir.to_path_buf(),
        split: split.to_string(),
        available: manifest.splits.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    read_examples(&dir.join(&summary.file))
}

/// Reads a `prepared-<split>.jsonl` file; errors name the file and line.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, PrepareError> {
    let file = std::fs::File::open(path).map_err(|e| io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let ex = serde_json::from_str(&line).map_err(|e| PrepareError::Json {
            path: path.to_path_buf(),
            line: i + 1,
            source: e,
        })?;
        out.push(ex);
    }
    Ok(out)
}

fn reusable(dir: &Path, key: &ManifestKey) -> Option<Manifest> {
    let manifest = read_manifest(dir).ok()?;
    if &manifest.key != key {
        return None;
    }
    for s in manifest.splits.values() {
        let file = std::fs::File::open(dir.join(&s.file)).ok()?;
        let lines = std::io::BufReader::new(file).lines().map_while(Result::ok).filter(|l| !l.trim().is_empty());
        if lines.count() != s.stats.examples {
            return None;
        }
    }
    Some(manifest)
}

fn write_examples(path: &Path, examples: &[Example]) -> Result<(), PrepareError> {
    let tmp = path.with_extension("jsonl.part");
    let file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let mut w = BufWriter::new(file);
    for (i, ex) in examples.iter().enumerate() {
        serde_json::to_writer(&mut w, ex).map_err(|e| PrepareError::Json {
            path: tmp.clone(),
            line: i + 1,
            source: e,
        })?;
        w.write_all(b"\n").map_err(|e| io(&tmp, e))?;
    }
    w.flush().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrepareError> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

fn io(path: &Path, source: std::io::Error) -> PrepareError {
    PrepareError::Io { path: path.to_path_buf(), source }
}

/// 64-bit FNV-1a.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// FNV-1a over every sentence's words and tags, with separators so boundaries matter.
pub fn sentences_fingerprint(sentences: &[Sentence]) -> u64 {
    let mut buf = Vec::new();
    for s in sentences {
        for (w, t) in s.words.iter().zip(&s.tags) {
            buf.extend_from_slice(w.as_bytes());
            buf.push(0x1f);
            buf.extend_from_slice(t.as_bytes());
            buf.push(0x1e);
        }
        buf.extend_from_slice(&(s.words.len() as u64).to_le_bytes());
        buf.push(0x1d);
    }
    fnv64(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_see_boundaries() {
        assert_eq!(fnv64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv64(b"a"), 0xaf63dc4c8601ec8c);
        let s = |w: &[&str]| Sentence {
            origin: String::new(),
            words: w.iter().map(|x| x.to_string()).collect(),
            tags: w.iter().map(|_| "O".to_string()).collect(),
        };
        assert_ne!(sentences_fingerprint(&[s(&["ab"])]), sentences_fingerprint(&[s(&["a", "b"])]));
        assert_ne!(sentences_fingerprint(&[s(&["a", "b"])]), sentences_fingerprint(&[s(&["a"]), s(&["b"])]));
        assert_eq!(sentences_fingerprint(&[s(&["a", "b"])]), sentences_fingerprint(&[s(&["a", "b"])]));
    }
}
