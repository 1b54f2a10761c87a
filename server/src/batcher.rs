//! Dynamic micro-batching. Requests go to a queue; one thread owns the engine and, whenever it is free, takes
//! every request waiting (up to the token budget, optionally waiting `max_wait` for more), groups them by
//! options and runs each group as one engine call, so concurrent requests share batches without waiting when
//! the server is idle. Inference never runs on the async executor. A panic inside the engine is caught: the
//! batch's requests get a 500 and the thread goes on serving.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::api::{ModelInfo, TagOptions, TagResult};
use crate::engine::{Engine, EngineError, TokenCounter};
use crate::metrics::Metrics;

/// How the batcher groups requests.
#[derive(Clone, Copy, Debug)]
pub struct BatchPolicy {
    /// Off: every request is its own engine call.
    pub enabled: bool,
    /// Stop adding requests to a batch once it holds this many sub-word tokens.
    pub max_tokens: usize,
    /// How long a batch that is not full waits for more requests (0: take only what is already queued).
    pub max_wait: Duration,
}

/// One request's texts on their way to the engine.
struct Job {
    texts: Vec<String>,
    opts: TagOptions,
    tokens: usize,
    reply: oneshot::Sender<Result<Vec<TagResult>, EngineError>>,
}

/// Where the model is.
#[derive(Clone)]
pub enum Status {
    Loading,
    Ready(Arc<ModelInfo>, TokenCounter),
    Failed(String),
}

/// The handle the HTTP side holds.
pub struct Batcher {
    tx: Mutex<Option<Sender<Job>>>,
    status: Arc<Mutex<Status>>,
    queued: Arc<AtomicUsize>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A text to check that the model answers before `/health` says ok.
pub const PROBE_TEXT: &str = "Magnetic resonance imaging (MRI) was performed in all patients.";

impl Batcher {
    /// Starts the engine thread: it runs `load`, tags [`PROBE_TEXT`], then serves batches. `on_ready` is called
    /// with the outcome of loading (the server stops when it fails).
    pub fn start<L, R>(load: L, policy: BatchPolicy, metrics: Arc<Metrics>, on_ready: R) -> Batcher
    where
        L: FnOnce() -> Result<Box<dyn Engine>, String> + Send + 'static,
        R: FnOnce(Result<(), String>) + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Job>();
        let status = Arc::new(Mutex::new(Status::Loading));
        let queued = Arc::new(AtomicUsize::new(0));
        let (st, q) = (status.clone(), queued.clone());
        let thread = std::thread::Builder::new()
            .name("nerkit-engine".into())
            .spawn(move || {
                let engine = catch_unwind(AssertUnwindSafe(load))
                    .unwrap_or_else(|_| Err("the model loader panicked".into()))
                    .and_then(|mut e| {
                        e.tag(&[PROBE_TEXT], &TagOptions::default())
                            .map_err(|err| format!("probe inference failed: {err}"))?;
                        Ok(e)
                    });
                match engine {
                    Ok(engine) => {
                        *st.lock().expect("status") = Status::Ready(Arc::new(engine.info()), engine.token_counter());
                        on_ready(Ok(()));
                        serve(engine, rx, policy, &metrics, &q);
                    }
                    Err(e) => {
                        *st.lock().expect("status") = Status::Failed(e.clone());
                        on_ready(Err(e));
                    }
                }
            })
            .expect("spawn the engine thread");
        Batcher { tx: Mutex::new(Some(tx)), status, queued, thread: Mutex::new(Some(thread)) }
    }

    pub fn status(&self) -> Status {
        self.status.lock().expect("status").clone()
    }

    /// Requests waiting for the engine now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues `texts`; the receiver gets the results. `None` once the batcher has stopped.
    pub fn submit(
        &self,
        texts: Vec<String>,
        opts: TagOptions,
        tokens: usize,
    ) -> Option<oneshot::Receiver<Result<Vec<TagResult>, EngineError>>> {
        let (reply, rx) = oneshot::channel();
        let guard = self.tx.lock().expect("queue");
        let tx = guard.as_ref()?;
        self.queued.fetch_add(1, Ordering::Relaxed);
        if tx.send(Job { texts, opts, tokens, reply }).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(rx)
    }

    /// Closes the queue and waits for the engine thread to answer what was queued and exit.
    pub fn stop(&self) {
        self.tx.lock().expect("queue").take();
        if let Some(t) = self.thread.lock().expect("thread").take() {
            let _ = t.join();
        }
    }
}

fn serve(mut engine: Box<dyn Engine>, rx: Receiver<Job>, policy: BatchPolicy, metrics: &Metrics, queued: &AtomicUsize) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        if policy.enabled {
            let mut tokens = jobs[0].tokens;
            let deadline = Instant::now() + policy.max_wait;
            while tokens < policy.max_tokens {
                let next = match rx.try_recv() {
                    Ok(j) => j,
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        match rx.recv_timeout(left) {
                            Ok(j) => j,
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                        }
                    }
                };
                tokens += next.tokens;
                jobs.push(next);
            }
        }
        let waiting = queued.fetch_sub(jobs.len(), Ordering::Relaxed) - jobs.len();
        metrics.queue_depth.observe(waiting as f64);
        metrics.batch_requests.observe(jobs.len() as f64);
        metrics.batch_tokens.observe(jobs.iter().map(|j| j.tokens).sum::<usize>() as f64);
        run_batch(engine.as_mut(), jobs, metrics);
    }
}

/// Runs `jobs` as one engine call per distinct option set and answers each job.
fn run_batch(engine: &mut dyn Engine, jobs: Vec<Job>, metrics: &Metrics) {
    let mut groups: Vec<(TagOptions, Vec<Job>)> = Vec::new();
    for job in jobs {
        match groups.iter_mut().find(|(o, _)| *o == job.opts) {
            Some((_, g)) => g.push(job),
            None => groups.push((job.opts, vec![job])),
        }
    }
    for (opts, group) in groups {
        let texts: Vec<&str> = group.iter().flat_map(|j| j.texts.iter().map(String::as_str)).collect();
        let start = Instant::now();
        let outcome = match catch_unwind(AssertUnwindSafe(|| engine.tag(&texts, &opts))) {
            Ok(Ok(results)) if results.len() == texts.len() => Ok(results),
            Ok(Ok(results)) => Err(EngineError::Failed(format!(
                "the engine answered {} results for {} texts",
                results.len(),
                texts.len()
            ))),
            Ok(Err(e)) => Err(e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(texts = texts.len(), "engine panicked: {what}");
                Err(EngineError::Failed(format!("the engine panicked: {what}")))
            }
        };
        metrics.inference.observe(start.elapsed().as_secs_f64());
        match outcome {
            Ok(results) => {
                metrics.texts.inc_by(texts.len() as u64);
                metrics.tokens.inc_by(group.iter().map(|j| j.tokens as u64).sum());
                let mut results = results.into_iter();
                for job in group {
                    let mine: Vec<TagResult> = results.by_ref().take(job.texts.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                for job in group {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Aggregation, Entity};

    /// Answers each text with one entity holding the text; panics on "panic"; fails on "fail".
    struct Echo {
        calls: Arc<Mutex<Vec<usize>>>,
    }

    impl Engine for Echo {
        fn info(&self) -> ModelInfo {
            ModelInfo { model_id: "echo".into(), ..Default::default() }
        }
        fn token_counter(&self) -> TokenCounter {
            Arc::new(|t: &str| t.split_whitespace().count())
        }
        fn tag(&mut self, texts: &[&str], opts: &TagOptions) -> Result<Vec<TagResult>, EngineError> {
            self.calls.lock().unwrap().push(texts.len());
            if texts.contains(&"panic") {
                panic!("engine bug");
            }
            if texts.contains(&"fail") {
                return Err(EngineError::Failed("bad".into()));
            }
            Ok(texts
                .iter()
                .map(|t| TagResult {
                    entities: vec![Entity {
                        label: format!("{:?}", opts.aggregation),
                        text: t.to_string(),
                        start: 0,
                        end: t.chars().count(),
                        score: 1.0,
                        word: None,
                    }],
                    ..Default::default()
                })
                .collect())
        }
    }

    fn start(enabled: bool, max_wait_ms: u64) -> (Batcher, Arc<Mutex<Vec<usize>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        let policy = BatchPolicy { enabled, max_tokens: 1000, max_wait: Duration::from_millis(max_wait_ms) };
        let (tx, rx) = std::sync::mpsc::channel();
        let b = Batcher::start(
            move || Ok(Box::new(Echo { calls: c }) as Box<dyn Engine>),
            policy,
            Arc::new(Metrics::new()),
            move |r| tx.send(r).unwrap(),
        );
        rx.recv().unwrap().unwrap();
        (b, calls)
    }

    fn texts(r: Result<Vec<TagResult>, EngineError>) -> Vec<String> {
        r.unwrap().into_iter().map(|t| t.entities[0].text.clone()).collect()
    }

    #[test]
    fn batches_concurrent_requests_and_answers_each_its_own_texts_in_order() {
        let (b, calls) = start(true, 200);
        calls.lock().unwrap().clear(); // the probe
        let opts = TagOptions::default();
        let r1 = b.submit(vec!["a".into(), "b".into()], opts, 2).unwrap();
        let r2 = b.submit(vec!["c".into()], opts, 1).unwrap();
        let hf = TagOptions { aggregation: Aggregation::Simple, ..opts };
        let r3 = b.submit(vec!["d".into()], hf, 1).unwrap();
        assert_eq!(texts(r1.blocking_recv().unwrap()), ["a", "b"]);
        assert_eq!(texts(r2.blocking_recv().unwrap()), ["c"]);
        let r3 = r3.blocking_recv().unwrap().unwrap();
        assert_eq!(text_label(&r3[0]), ("d", "Simple"));
        // within the wait bound the three requests became one batch, run as one call per option set
        assert_eq!(*calls.lock().unwrap(), vec![3, 1]);
        b.stop();
    }

    fn text_label(r: &TagResult) -> (&str, &str) {
        (&r.entities[0].text, &r.entities[0].label)
    }

    #[test]
    fn without_batching_every_request_is_its_own_call() {
        let (b, calls) = start(false, 200);
        calls.lock().unwrap().clear();
        let rs: Vec<_> = (0..3).map(|i| b.submit(vec![i.to_string()], TagOptions::default(), 1).unwrap()).collect();
        for (i, r) in rs.into_iter().enumerate() {
            assert_eq!(texts(r.blocking_recv().unwrap()), [i.to_string()]);
        }
        assert_eq!(*calls.lock().unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn an_engine_panic_fails_its_batch_only_and_the_engine_goes_on() {
        let (b, _) = start(false, 0);
        let opts = TagOptions::default();
        let bad = b.submit(vec!["panic".into()], opts, 1).unwrap().blocking_recv().unwrap();
        assert!(matches!(&bad, Err(EngineError::Failed(m)) if m.contains("engine bug")), "{bad:?}");
        let failed = b.submit(vec!["fail".into()], opts, 1).unwrap().blocking_recv().unwrap();
        assert!(matches!(failed, Err(EngineError::Failed(_))));
        assert_eq!(texts(b.submit(vec!["ok".into()], opts, 1).unwrap().blocking_recv().unwrap()), ["ok"]);
        b.stop();
        assert!(b.submit(vec!["late".into()], opts, 1).is_none(), "a stopped batcher takes nothing");
    }

    #[test]
    fn a_failing_loader_reports_failed() {
        let (tx, rx) = std::sync::mpsc::channel();
        let b = Batcher::start(
            || Err("no such model".to_string()),
            BatchPolicy { enabled: true, max_tokens: 10, max_wait: Duration::ZERO },
            Arc::new(Metrics::new()),
            move |r| tx.send(r).unwrap(),
        );
        assert_eq!(rx.recv().unwrap(), Err("no such model".to_string()));
        assert!(matches!(b.status(), Status::Failed(e) if e == "no such model"));
    }
}
