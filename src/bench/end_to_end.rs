//! `nerkit bench --end-to-end FILE`: the whole raw-text path of `nerkit predict` (sentence and word
//! segmentation, tokenisation, windows, inference, Viterbi, entities, pairs, glossary) on real documents, each
//! engine tagging the whole file once per round, rounds interleaved across engines; with `--compare-python`
//! the Hugging Face pipeline ([`super::reference`]) takes its turns in the same rounds.
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::percentile;
use super::reference::HfPipeline;
use crate::data::documents::parse_line;
use crate::infer::{Backend, TagOptions, TextTagger};
use crate::prepare::encode::EncodeOptions;

/// Documents per `TextTagger::tag` call, as `nerkit predict` chunks its input.
const CHUNK: usize = crate::data::documents::DEFAULT_CHUNK;

/// One engine's end-to-end throughput.
#[derive(Clone, Debug, Serialize)]
pub struct EndToEndRow {
    pub backend: String,
    /// Engines tagging at once (`nerkit predict --lanes`); 1 for the pipeline.
    pub lanes: usize,
    /// Windows per engine call (the pipeline: its `batch_size`).
    pub batch: usize,
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

/// Reads the documents of `path` as `nerkit predict` reads its input ([`parse_line`]: JSONL records with
/// `text`, else plain text with one document per line), blank lines skipped; a JSONL record without `text` but
/// with labelled `tokens` is that sentence rebuilt as raw text (tokens joined by single spaces, as the raw-text
/// evaluation does).
pub fn read_documents(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let jsonl = path.extension().is_some_and(|e| e == "jsonl" || e == "json");
    let origin = path.display().to_string();
    let mut docs = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line, i + 1, &origin, jsonl) {
            Ok(doc) => docs.push(doc.text),
            Err(bad) => match jsonl.then(|| tokens_text(line)).flatten() {
                Some(text) => docs.push(text),
                None => anyhow::bail!("{bad} (or labelled `tokens`)"),
            },
        }
    }
    anyhow::ensure!(!docs.is_empty(), "{}: no documents", path.display());
    Ok(docs)
}

/// The `tokens` of a labelled JSONL record joined by single spaces, when the record has no `text`.
fn tokens_text(line: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    if v.get("text").is_some() {
        return None;
    }
    let tokens: Vec<&str> = v.get("tokens")?.as_array()?.iter().map(|t| t.as_str()).collect::<Option<_>>()?;
    Some(tokens.join(" "))
}

/// The Hugging Face pipeline's turns in the rounds (`--compare-python`): one per batch size.
pub struct Reference<'a> {
    pub pipeline: &'a mut HfPipeline,
    pub batches: &'a [usize],
}

/// The row name of the pipeline's turn at `batch`.
pub fn reference_name(batch: usize) -> String {
    format!("hf-pipeline-b{batch}")
}

impl EndToEndRow {
    /// The row's name in tables: the backend, with ` ×N` for N lanes.
    pub fn label(&self) -> String {
        if self.lanes > 1 {
            format!("{} ×{}", self.backend, self.lanes)
        } else {
            self.backend.clone()
        }
    }

    /// A turn of the Hugging Face pipeline ([`reference_name`]) rather than one of nerkit's engines.
    pub fn is_reference(&self) -> bool {
        self.backend.starts_with("hf-pipeline-b")
    }
}

/// One engine's raw-text tagger with its lanes (see [`crate::infer::lanes`]).
pub struct LaneTagger {
    pub backend: String,
    pub lanes: usize,
    pub tagger: TextTagger,
}

impl LaneTagger {
    /// `engines` (one per lane, at least one) of the exported model directory `dir` as a raw-text tagger with
    /// `batch_size` windows per engine call.
    pub fn new(
        backend: &str,
        mut engines: Vec<Box<dyn Backend>>,
        dir: &Path,
        batch_size: usize,
    ) -> anyhow::Result<LaneTagger> {
        anyhow::ensure!(!engines.is_empty(), "{backend}: no engine");
        let model = crate::model::ModelDir::open(dir)?;
        let lanes = engines.len();
        let first = engines.remove(0);
        let mut tagger =
            TextTagger::new(first, model.tokenizer()?, EncodeOptions::default(), 512)?.with_lanes(engines)?;
        tagger.batch_size = batch_size;
        Ok(LaneTagger { backend: backend.to_string(), lanes, tagger })
    }
}

/// Tags `docs` with every tagger in `rounds` interleaved rounds (one untimed pass each first), and runs the
/// reference pipeline's turns in the same rounds. The baseline row is the first of the `baseline` backend.
pub fn measure(
    mut taggers: Vec<LaneTagger>,
    docs: &[String],
    rounds: usize,
    baseline: &str,
    mut reference: Option<Reference<'_>>,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<Vec<EndToEndRow>> {
    let opts = TagOptions::default();
    let mut times = vec![Vec::new(); taggers.len()];
    let mut counts = vec![(0, 0); taggers.len()];
    let ref_batches = reference.as_ref().map_or(&[][..], |r| r.batches);
    let (mut ref_times, mut ref_entities) = (vec![Vec::new(); ref_batches.len()], vec![0; ref_batches.len()]);
    let total = rounds + 1;
    let turns = taggers.len() + ref_batches.len();
    for round in 0..total {
        for (i, LaneTagger { backend: name, tagger, .. }) in taggers.iter_mut().enumerate() {
            super::pause_before_turn(turns);
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
        if let Some(r) = reference.as_mut() {
            for (j, &batch) in r.batches.iter().enumerate() {
                super::pause_before_turn(turns);
                let (secs, entities) = r.pipeline.run(batch)?;
                if round > 0 {
                    ref_times[j].push(secs);
                }
                ref_entities[j] = entities;
            }
        }
        progress(round + 1, total);
    }
    // The pipeline tags the same documents; its sentences are the ones nerkit counted in them.
    let sentences = counts.first().map_or(docs.len(), |c| c.0);
    let names = taggers
        .iter()
        .map(|t| (t.backend.clone(), (t.lanes, t.tagger.batch_size)))
        .chain(ref_batches.iter().map(|&b| (reference_name(b), (1, b))));
    let counts = counts.into_iter().chain(ref_entities.into_iter().map(|e| (sentences, e)));
    let mut rows: Vec<EndToEndRow> = names
        .zip(times.into_iter().chain(ref_times))
        .zip(counts)
        .map(|(((name, (lanes, batch)), mut t), (sentences, entities))| {
            t.sort_by(f64::total_cmp);
            let p50 = percentile(&t, 0.5);
            EndToEndRow {
                backend: name,
                lanes,
                batch,
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
