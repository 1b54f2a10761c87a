//! Engine lanes: several copies of one engine, each with its own share of the cores, tagging contiguous parts
//! of a round at the same time (one scoped thread per lane).
//!
//! Why: on a CPU, one session whose intra-op threads span every core leaves cores idle in its serial stretches
//! (small ops, the spin-down after each run) and while nerkit's own code — tokenisation, windows, decoding —
//! runs on one thread between engine calls; and a one-thread session is fastest with small batches, whose
//! activations stay in its core's cache ([`default_batch`]). On 2 cores, MiniLM int8, 1,000 PLOD sentences: one
//! 2-thread lane 247 sentences/s, two 1-thread lanes at batch 4 330 (`nerkit bench --end-to-end --lanes 1,2`,
//! docs/performance.md). Each lane holds its own session (peak RSS 139 → 185 MB there). A lane's part is a
//! contiguous run of sentences (or windows), so the output order is the input order whatever the number of
//! lanes; the int8 graphs are batch-invariant, so the entities are identical too.
use std::ops::Range;

use super::Backend;
use crate::runtime::Device;

/// How one engine runs as lanes: how many, the intra-op threads of each, the windows per engine call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanePlan {
    pub lanes: usize,
    /// Intra-op threads of each lane; `None` (one lane, no thread count given) = the engine's own default.
    pub threads: Option<usize>,
    /// Windows per engine call ([`default_batch`]).
    pub batch: usize,
}

impl LanePlan {
    /// `lanes` engines on `device` (`None` = [`default_lanes`]; tract always runs one: its matrix products share
    /// one process-wide thread pool) sharing `threads` intra-op threads (`None` = every core).
    pub fn new(device: Device, tract: bool, threads: Option<usize>, lanes: Option<usize>) -> LanePlan {
        let total = threads.unwrap_or_else(cores).max(1);
        let lanes = if tract { 1 } else { lanes.unwrap_or_else(|| default_lanes(device, total)).max(1) };
        let per_lane = threads_per_lane(total, lanes);
        let threads = if lanes > 1 { Some(per_lane) } else { threads };
        LanePlan { lanes, threads, batch: default_batch(device, per_lane) }
    }
}

/// Lanes when the user does not say: two on a CPU with two or more cores (each with half of the threads),
/// one on CUDA (one device).
pub fn default_lanes(device: Device, threads: usize) -> usize {
    if device == Device::Cuda {
        1
    } else {
        threads.clamp(1, 2)
    }
}

/// Windows per engine call by default: 4 per intra-op thread of a lane (4 to 32) on a CPU, 32 on CUDA. A
/// one-thread lane is fastest with small batches — on 2 cores, MiniLM int8, 1,000 PLOD sentences, 2 lanes: batches
/// of 1-4 windows tagged 270-330 sentences/s against 204-262 with 32 (a small batch's activations stay in the
/// core's cache, and a lane's length-sorted batches pad less) — while one 2-thread session was as fast with 8 as
/// with 32 and slower with 2-4 (docs/performance.md, session 19).
pub fn default_batch(device: Device, threads_per_lane: usize) -> usize {
    match device {
        Device::Cuda => 32,
        _ => (4 * threads_per_lane).clamp(4, 32),
    }
}

/// Intra-op threads of each of `lanes` lanes sharing `total` threads (at least 1 each).
pub fn threads_per_lane(total: usize, lanes: usize) -> usize {
    (total / lanes.max(1)).max(1)
}

/// Every core of the machine (the engines' default thread count).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Splits `0..weights.len()` into at most `n` contiguous, non-empty ranges whose weights are about equal (the
/// boundaries fall where the running sum crosses each `k/n` of the total).
pub fn balanced_ranges(weights: &[usize], n: usize) -> Vec<Range<usize>> {
    let n = n.clamp(1, weights.len().max(1));
    let total: usize = weights.iter().sum();
    let mut out = Vec::with_capacity(n);
    let (mut start, mut sum) = (0, 0);
    for (i, &w) in weights.iter().enumerate() {
        sum += w;
        let part = out.len() + 1;
        let left_after = weights.len() - (i + 1);
        let lanes_after = n - part;
        // close this part at its share of the weight, or when each later lane needs one of the items left
        if part < n && (sum * n >= total * part || left_after == lanes_after) && left_after >= lanes_after {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < weights.len() || out.is_empty() {
        out.push(start..weights.len());
    }
    out
}

/// Runs `work` on each lane's part of the items weighted by `weights` (see [`balanced_ranges`]) at once, one
/// scoped thread per lane, and concatenates the results in item order. One lane (or one item) runs on the
/// calling thread. The first error, in item order, is returned.
pub fn on_lanes<T, E, F>(lanes: &mut [Box<dyn Backend>], weights: &[usize], work: F) -> Result<Vec<T>, E>
where
    T: Send,
    E: Send,
    F: Fn(&mut dyn Backend, Range<usize>) -> Result<Vec<T>, E> + Sync,
{
    let parts = balanced_ranges(weights, lanes.len());
    if parts.len() <= 1 {
        return work(lanes[0].as_mut(), 0..weights.len());
    }
    let work = &work;
    let results: Vec<Result<Vec<T>, E>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            lanes.iter_mut().zip(parts).map(|(lane, part)| s.spawn(move || work(lane.as_mut(), part))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut out = Vec::with_capacity(weights.len());
    for part in results {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_item_in_order_and_balance_the_weight() {
        for (weights, n) in [
            (vec![1, 1, 1, 1], 2),
            (vec![10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2),
            (vec![5; 7], 3),
            (vec![1, 100, 1], 2),
            (vec![3], 4),
            (vec![], 2),
            (vec![0, 0, 0], 2),
            (vec![7, 2, 9, 4, 4, 1, 8], 5),
        ] {
            let parts = balanced_ranges(&weights, n);
            assert!(!parts.is_empty() && parts.len() <= n.max(1), "{weights:?} {n}: {parts:?}");
            assert_eq!(parts.first().unwrap().start, 0);
            assert_eq!(parts.last().unwrap().end, weights.len());
            for w in parts.windows(2) {
                assert_eq!(w[0].end, w[1].start, "{weights:?} {n}: {parts:?}");
            }
            if !weights.is_empty() {
                assert!(parts.iter().all(|p| !p.is_empty()), "{weights:?} {n}: {parts:?}");
                assert_eq!(parts.len(), n.min(weights.len()), "{weights:?} {n}: {parts:?}");
            }
        }
        assert_eq!(balanced_ranges(&[1, 1, 1, 1], 2), vec![0..2, 2..4]);
        assert_eq!(balanced_ranges(&[10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2), vec![0..1, 1..11]);
        assert_eq!(balanced_ranges(&[1, 1, 1, 1, 1, 1], 3), vec![0..2, 2..4, 4..6]);
    }

    /// Answers each batch with its first token id as every logit, and records the threads it ran on.
    struct Echo {
        labels: Vec<String>,
        threads: std::sync::Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>,
    }

    impl Backend for Echo {
        fn spec(&self) -> crate::infer::EngineSpec {
            crate::infer::EngineSpec::TRACT
        }
        fn labels(&self) -> &[String] {
            &self.labels
        }
        fn run(&mut self, batch: &crate::infer::PaddedBatch) -> Result<crate::infer::Logits, crate::infer::InferError> {
            self.threads.lock().unwrap().push(std::thread::current().id());
            let (b, s) = (batch.batch_size(), batch.seq_len());
            Ok(ndarray::Array3::from_shape_fn((b, s, 1), |(i, _, _)| batch.input_ids[[i, 0]] as f32))
        }
    }

    #[test]
    fn every_lane_takes_its_part_and_results_keep_the_item_order() {
        let seen: Vec<_> = (0..3).map(|_| std::sync::Arc::new(std::sync::Mutex::new(Vec::new()))).collect();
        let mut lanes: Vec<Box<dyn Backend>> = seen
            .iter()
            .map(|t| Box::new(Echo { labels: vec!["O".into()], threads: t.clone() }) as Box<dyn Backend>)
            .collect();
        let seqs: Vec<Vec<i64>> = (0..10).map(|i| vec![i; 1 + (i as usize % 3)]).collect();
        let weights: Vec<usize> = seqs.iter().map(Vec::len).collect();
        let out = on_lanes(&mut lanes, &weights, |backend, part| {
            crate::infer::tagger::run_batched(backend, &seqs[part], 2, 0)
        })
        .unwrap();
        let firsts: Vec<f32> = out.iter().map(|l| l[[0, 0]]).collect();
        assert_eq!(firsts, (0..10).map(|i| i as f32).collect::<Vec<_>>());
        assert!(out.iter().zip(&seqs).all(|(l, s)| l.nrows() == s.len()));
        // each lane ran, on a thread of its own
        let threads: std::collections::HashSet<_> = seen.iter().map(|t| t.lock().unwrap()[0]).collect();
        assert_eq!(threads.len(), 3);
        assert!(!threads.contains(&std::thread::current().id()));
        // the first error in item order wins
        let err = on_lanes(&mut lanes, &weights, |_, part| if part.start == 0 { Ok(vec![0]) } else { Err(part.start) });
        assert_eq!(err, Err(balanced_ranges(&weights, 3)[1].start));
    }

    #[test]
    fn lanes_split_threads_and_default_by_device() {
        assert_eq!(threads_per_lane(2, 2), 1);
        assert_eq!(threads_per_lane(16, 2), 8);
        assert_eq!(threads_per_lane(1, 2), 1);
        assert_eq!(default_lanes(Device::Cpu, 2), 2);
        assert_eq!(default_lanes(Device::Cpu, 1), 1);
        assert_eq!(default_lanes(Device::Cpu, 16), 2);
        assert_eq!(default_lanes(Device::Cuda, 16), 1);
        assert_eq!(default_batch(Device::Cpu, 1), 4);
        assert_eq!(default_batch(Device::Cpu, 2), 8);
        assert_eq!(default_batch(Device::Cpu, 16), 32);
        assert_eq!(default_batch(Device::Cuda, 1), 32);
        let plan = |device, tract, threads, lanes| LanePlan::new(device, tract, threads, lanes);
        assert_eq!(plan(Device::Cpu, false, Some(2), None), LanePlan { lanes: 2, threads: Some(1), batch: 4 });
        assert_eq!(plan(Device::Cpu, false, Some(2), Some(1)), LanePlan { lanes: 1, threads: Some(2), batch: 8 });
        assert_eq!(
            plan(Device::Cpu, false, None, Some(1)),
            LanePlan { lanes: 1, threads: None, batch: default_batch(Device::Cpu, cores()) }
        );
        assert_eq!(plan(Device::Cpu, true, Some(16), Some(4)), LanePlan { lanes: 1, threads: Some(16), batch: 32 });
        assert_eq!(plan(Device::Cuda, false, Some(16), None), LanePlan { lanes: 1, threads: Some(16), batch: 32 });
    }
}
