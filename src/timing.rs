//! Timing engines side by side: interleaved rounds over synthetic batches, latency percentiles and ratios. Shared
//! by `nerkit bench` and the int8 guard's speed check (`quantize::guard`), so that neither imports the other.
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::infer::{Backend, PaddedBatch};

/// One backend × shape.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub backend: String,
    pub batch: usize,
    pub seq: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub sentences_per_s: f64,
    pub tokens_per_s: f64,
    /// The baseline's p50 over this one's (> 1: faster than the baseline); `None` when the baseline was skipped.
    pub ratio: Option<f64>,
    /// Resident memory added by loading this backend, MB.
    pub rss_mb: f64,
    /// The backend's entity micro F1 on the `--accuracy` data (the same on every shape); `None` without it.
    pub f1: Option<f64>,
    /// Every timed round's latency, ms (for the report's distribution chart; not in the JSON).
    #[serde(skip)]
    pub samples_ms: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub backend: String,
    pub reason: String,
}

/// Resident memory of this process, MB (0 where /proc is unavailable).
pub(crate) fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(0.0, |kb: f64| kb / 1024.0)
}

/// The token ids synthetic batches are drawn from: the model's `[CLS]` and `[SEP]` and the size of its vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenSpace {
    pub cls: i64,
    pub sep: i64,
    pub vocab: i64,
}

impl Default for TokenSpace {
    /// bert-base-uncased (the embedded MiniLM's vocabulary).
    fn default() -> Self {
        TokenSpace { cls: 101, sep: 102, vocab: 30_522 }
    }
}

impl TokenSpace {
    /// From a tokenizer: its `[CLS]`/`[SEP]` (BERT's ids when it has none) and vocabulary size.
    pub fn of(tokenizer: &tokenizers::Tokenizer) -> Self {
        let id = |t: &str, d: i64| tokenizer.token_to_id(t).map_or(d, i64::from);
        let d = TokenSpace::default();
        TokenSpace { cls: id("[CLS]", d.cls), sep: id("[SEP]", d.sep), vocab: tokenizer.get_vocab_size(true) as i64 }
    }

    /// The tokenizer of the exported model directory `dir`, or BERT's space when it has none.
    pub fn of_dir(dir: &Path) -> Self {
        crate::model::load_tokenizer(&dir.join("tokenizer.json"))
            .map_or_else(|_| TokenSpace::default(), |t| Self::of(&t))
    }
}

/// A batch of `batch` sequences of `seq` tokens (`[CLS] … [SEP]` with ids spread over up to 2,000 vocabulary rows
/// from row 1,000 on, or over the upper half of a smaller vocabulary), all attended.
pub fn synthetic_batch(batch: usize, seq: usize, space: &TokenSpace) -> PaddedBatch {
    let lo = 1000.min(space.vocab / 2);
    let span = 2000.min(space.vocab - lo).max(1);
    let seqs: Vec<Vec<i64>> = (0..batch)
        .map(|b| {
            (0..seq)
                .map(|t| match t {
                    0 => space.cls,
                    t if t + 1 == seq => space.sep,
                    t => lo + ((b * 7919 + t * 104_729) as i64 % span),
                })
                .collect()
        })
        .collect();
    PaddedBatch::from_sequences(&seqs, 0)
}

/// The `p` quantile (0..=1) of ascending `sorted` by nearest rank; 0 for no samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A loaded engine to time, and the resident memory its loading added (MB).
pub struct Engine {
    pub name: String,
    pub backend: Box<dyn Backend>,
    pub rss_mb: f64,
}

/// The pause before an engine's turn in interleaved rounds. An ONNX Runtime session's idle worker threads keep
/// spinning for tens of milliseconds after its run; on 2 cores that spinning took 25-45 % of the next session's
/// time (MiniLM 8 × 128: fp32 160 ms right after another session, 123 ms after a 100 ms pause; 20 ms was not
/// enough), and more from a fast int8 graph than from fp32, so ratios shrank. After the pause each engine runs as
/// it does alone in `serve` or `predict`.
pub const SWITCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits [`SWITCH_PAUSE`] before an engine's turn when `engines` take turns (nothing for a lone engine).
pub(crate) fn pause_before_turn(engines: usize) {
    if engines > 1 {
        std::thread::sleep(SWITCH_PAUSE);
    }
}

/// Times every engine on every (batch, seq) shape of [`synthetic_batch`]es drawn from `space` in interleaved
/// rounds (`warmup` untimed first; the timed ones stop after `rounds`, or once `max_seconds` have passed,
/// whichever comes first, after at least one), each engine's turn after [`pause_before_turn`]; ratios divide the
/// `baseline` engine's p50 by each row's. Engines that fail while running are returned as skipped.
#[allow(clippy::too_many_arguments)]
pub fn time_engines(
    engines: &mut [Engine],
    shapes: &[(usize, usize)],
    space: &TokenSpace,
    warmup: usize,
    rounds: usize,
    max_seconds: Option<f64>,
    baseline: &str,
    progress: &dyn Fn(usize, usize),
) -> (Vec<BenchRow>, Vec<Skipped>) {
    let batches: Vec<PaddedBatch> = shapes.iter().map(|&(b, s)| synthetic_batch(b, s, space)).collect();
    // times[engine][shape] in seconds
    let mut times = vec![vec![Vec::with_capacity(rounds); shapes.len()]; engines.len()];
    let mut failed: Vec<Option<String>> = vec![None; engines.len()];
    let total = warmup + rounds;
    let mut timed_since = None;
    let turns = engines.len();
    for round in 0..total {
        if round == warmup {
            timed_since = Some(Instant::now());
        }
        for (bi, engine) in engines.iter_mut().enumerate() {
            if failed[bi].is_some() {
                continue;
            }
            pause_before_turn(turns);
            for (si, batch) in batches.iter().enumerate() {
                let start = Instant::now();
                if let Err(e) = engine.backend.run(batch) {
                    failed[bi] = Some(e.to_string());
                    break;
                }
                if round >= warmup {
                    times[bi][si].push(start.elapsed().as_secs_f64());
                }
            }
        }
        progress(round + 1, total);
        if let (Some(since), Some(limit)) = (timed_since, max_seconds) {
            if since.elapsed().as_secs_f64() >= limit {
                break;
            }
        }
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (bi, engine) in engines.iter().enumerate() {
        if let Some(reason) = &failed[bi] {
            skipped.push(Skipped { backend: engine.name.clone(), reason: format!("failed while running: {reason}") });
            continue;
        }
        for (si, &(batch, seq)) in shapes.iter().enumerate() {
            let mut t = times[bi][si].clone();
            t.sort_by(f64::total_cmp);
            let p50 = percentile(&t, 0.5);
            rows.push(BenchRow {
                backend: engine.name.clone(),
                batch,
                seq,
                p50_ms: p50 * 1e3,
                p95_ms: percentile(&t, 0.95) * 1e3,
                p99_ms: percentile(&t, 0.99) * 1e3,
                sentences_per_s: batch as f64 / p50,
                tokens_per_s: (batch * seq) as f64 / p50,
                ratio: None,
                rss_mb: engine.rss_mb,
                f1: None,
                samples_ms: times[bi][si].iter().map(|t| t * 1e3).collect(),
            });
        }
    }
    let base: Vec<(usize, usize, f64)> =
        rows.iter().filter(|r| r.backend == baseline).map(|r| (r.batch, r.seq, r.p50_ms)).collect();
    for r in &mut rows {
        r.ratio = base.iter().find(|(b, s, _)| *b == r.batch && *s == r.seq).map(|(_, _, p)| p / r.p50_ms);
    }
    (rows, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_batches_stay_inside_the_models_vocabulary() {
        // the committed tiny fixture has 100 tokens: BERT's ids 1000-2999 would not exist there
        let tokenizer = crate::model::load_tokenizer(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("onnx/fixtures/tiny-bert/tokenizer.json"),
        )
        .unwrap();
        let space = TokenSpace::of(&tokenizer);
        assert_eq!(space.vocab, 100);
        let b = synthetic_batch(3, 16, &space);
        assert_eq!(b.input_ids.dim(), (3, 16));
        for row in b.input_ids.outer_iter() {
            assert_eq!((row[0], row[15]), (space.cls, space.sep));
            assert!(row.iter().all(|&id| (0..space.vocab).contains(&id)), "{row}");
            assert!(row.iter().skip(1).take(14).all(|&id| id >= space.vocab / 2), "ordinary tokens: {row}");
        }
        let bert = synthetic_batch(1, 8, &TokenSpace::default());
        assert!(bert.input_ids.iter().skip(1).take(6).all(|&id| (1000..3000).contains(&id)));
    }
}
