//! Prometheus metrics (`GET /metrics`, text exposition format), on a registry of the server's own.
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Answers by route and status code.
    pub requests: IntCounterVec,
    /// Error answers by route and kind (`invalid_json`, `queue_full`, ...).
    pub errors: IntCounterVec,
    /// Request latency by route, seconds.
    pub latency: HistogramVec,
    /// Requests per engine batch.
    pub batch_requests: prometheus::Histogram,
    /// Sub-word tokens per engine batch.
    pub batch_tokens: prometheus::Histogram,
    /// Requests waiting when a batch starts.
    pub queue_depth: prometheus::Histogram,
    /// Requests queued or running now.
    pub in_flight: IntGauge,
    /// Engine time per batch, seconds.
    pub inference: prometheus::Histogram,
    pub tokens: IntCounter,
    pub texts: IntCounter,
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> prometheus::Histogram {
    let h = prometheus::Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("histogram");
    registry.register(Box::new(h.clone())).expect("register");
    h
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("nerkit_http_requests_total", "HTTP answers by route and status code"),
            &["route", "status"],
        )
        .expect("counter");
        let errors = IntCounterVec::new(
            Opts::new("nerkit_http_errors_total", "HTTP error answers by route and error kind"),
            &["route", "kind"],
        )
        .expect("counter");
        let latency = HistogramVec::new(
            HistogramOpts::new("nerkit_http_request_duration_seconds", "Request latency by route")
                .buckets(exponential_buckets(0.0005, 2.0, 16).expect("buckets")),
            &["route"],
        )
        .expect("histogram");
        let in_flight = IntGauge::new("nerkit_requests_in_flight", "Tag requests queued or running").expect("gauge");
        let tokens = IntCounter::new("nerkit_tokens_total", "Sub-word tokens tagged").expect("counter");
        let texts = IntCounter::new("nerkit_texts_total", "Texts tagged").expect("counter");
        for c in [Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>, Box::new(errors.clone())] {
            registry.register(c).expect("register");
        }
        registry.register(Box::new(latency.clone())).expect("register");
        registry.register(Box::new(in_flight.clone())).expect("register");
        registry.register(Box::new(tokens.clone())).expect("register");
        registry.register(Box::new(texts.clone())).expect("register");
        let batch_requests = histogram(
            &registry,
            "nerkit_batch_requests",
            "Requests per engine batch",
            exponential_buckets(1.0, 2.0, 9).expect("buckets"),
        );
        let batch_tokens = histogram(
            &registry,
            "nerkit_batch_tokens",
            "Sub-word tokens per engine batch",
            exponential_buckets(16.0, 2.0, 12).expect("buckets"),
        );
        let queue_depth = histogram(
            &registry,
            "nerkit_queue_depth",
            "Requests waiting when an engine batch starts",
            vec![0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        );
        let inference = histogram(
            &registry,
            "nerkit_inference_duration_seconds",
            "Engine time per batch",
            exponential_buckets(0.0005, 2.0, 16).expect("buckets"),
        );
        Metrics {
            registry,
            requests,
            errors,
            latency,
            batch_requests,
            batch_tokens,
            queue_depth,
            in_flight,
            inference,
            tokens,
            texts,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding");
        String::from_utf8(buf).expect("utf-8 metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
