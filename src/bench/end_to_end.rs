//! `nerkit bench --end-to-end FILE`: the whole raw-text path of `nerkit predict` (sentence and word
//! segmentation, tokenisation, windows, inference, Viterbi, entities, pairs, glossary) on real documents, each
//! engine tagging the whole file once per round, rounds interleaved across engines.
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::Engine;
use crate::infer::{TagOptions, TextTagger};
use crate::prepare::encode::EncodeOptions;

/// Documents per `TextTagger::tag` call, as `nerkit predict` chunks its input.
const CHUNK: usize = 64;

/// One engine's end-to-end throughput.
#[derive(Clone, Debug, Serialize)]
pub struct EndToEndRow {
    pub backend: String,
    pub documents: usize,
    pub sentences: usize,
    pub entities: usize,
    /// Median seconds of one pass over the file.
    pub p50_s: f64,
    pub documents_per_s: f64,
    pub sentences_per_s: f64,
    /// The baseline's p50 over this one's (> 1: faster).
    pub ratio: Option<f64>,
}

/// Reads the documents of `path`: JSONL records with `text` (or labelled `tokens`, joined by single spaces, as
/// the raw-text evaluation rebuilds them), else plain text with one document per non-empty line.
pub fn read_documents(path: &Path) -> anyhow::Result<Vec<String>> {
    let content = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let jsonl = path.extension().is_some_and(|e| e == "jsonl" || e == "json");
    let mut docs = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if !jsonl {
            docs.push(line.to_string());
            continue;
        }
        let where_ = || format!("{}:{}", path.display(), i + 1);
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", where_()))?;
        let text = match (v.get("text").and_then(|t| t.as_str()), v.get("tokens").and_then(|t| t.as_array())) {
            (Some(t), _) => t.to_string(),
            (None, Some(tokens)) => tokens.iter().filter_map(|t| t.as_str()).collect::<Vec<_>>().join(" "),
            _ => anyhow::bail!("{}: a record needs `text` (a string) or `tokens` (a list of strings)", where_()),
        };
        docs.push(text);
    }
    anyhow::ensure!(!docs.is_empty(), "{}: no documents", path.display());
    Ok(docs)
}

/// Tags `docs` with every engine in `rounds` interleaved rounds (one untimed pass each first). Consumes the
/// engines (a tagger owns its engine).
pub fn measure(
    engines: Vec<Engine>,
    model_dir: &Path,
    docs: &[String],
    rounds: usize,
    baseline: &str,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<Vec<EndToEndRow>> {
    let model = crate::model::ModelDir::open(model_dir)?;
    let mut taggers = Vec::new();
    for engine in engines {
        let tagger = TextTagger::new(engine.backend, model.tokenizer()?, EncodeOptions::default(), 512)?;
        taggers.push((engine.name, tagger));
    }
    let opts = TagOptions::default();
    let mut times = vec![Vec::new(); taggers.len()];
    let mut counts = vec![(0, 0); taggers.len()];
    let total = rounds + 1;
    for round in 0..total {
        for (i, (name, tagger)) in taggers.iter_mut().enumerate() {
            let start = Instant::now();
            let (mut sentences, mut entities) = (0, 0);
            for chunk in docs.chunks(CHUNK) {
                let texts: Vec<&str> = chunk.iter().map(String::as_str).collect();
                let tagged = tagger.tag(&texts, &opts).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
                sentences += tagged.iter().map(|t| t.sentences.len()).sum::<usize>();
                entities += tagged.iter().map(|t| t.entities.len()).sum::<usize>();
            }
            if round > 0 {
                times[i].push(start.elapsed().as_secs_f64());
            }
            counts[i] = (sentences, entities);
        }
        progress(round + 1, total);
    }
    let mut rows: Vec<EndToEndRow> = taggers
        .iter()
        .zip(times)
        .zip(counts)
        .map(|(((name, _), mut t), (sentences, entities))| {
            t.sort_by(f64::total_cmp);
            let p50 = t[t.len() / 2];
            EndToEndRow {
                backend: name.clone(),
                documents: docs.len(),
                sentences,
                entities,
                p50_s: p50,
                documents_per_s: docs.len() as f64 / p50,
                sentences_per_s: sentences as f64 / p50,
                ratio: None,
            }
        })
        .collect();
    let base = rows.iter().find(|r| r.backend == baseline).map(|r| r.p50_s);
    for r in &mut rows {
        r.ratio = base.map(|b| b / r.p50_s);
    }
    Ok(rows)
}
