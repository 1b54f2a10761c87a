//! `nerkit bench --server URL`: a bounded load against a running `nerkit serve` (loopback addresses only): at
//! each concurrency, `requests` `POST /tag` calls of one text each (texts taken in turn), at most `concurrency`
//! in flight, stopped early at `max_seconds`; p50/p95/p99 latency, requests/s, error answers counted by status.
//! Run it against one server started with batching and one with `--no-batching` to read the two side by side
//! (`/info` says which is which).
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::percentile;

/// One server × concurrency.
#[derive(Clone, Debug, Serialize)]
pub struct ServerRow {
    pub url: String,
    /// From the server's `/info` (`None` when it does not say).
    pub batching: Option<bool>,
    pub backend: String,
    pub concurrency: usize,
    /// Requests sent (fewer than asked when `max_seconds` ran out).
    pub requests: usize,
    /// Answers that were not 200, by status (`"connect"` for transport failures).
    pub errors: BTreeMap<String, usize>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub requests_per_s: f64,
}

/// The load of one run.
#[derive(Clone, Debug)]
pub struct Load {
    pub concurrency: Vec<usize>,
    pub requests: usize,
    pub max_seconds: f64,
    /// Texts sent, in turn.
    pub texts: Vec<String>,
    /// Bearer token (`NERKIT_API_KEY`), when the server asks for one.
    pub api_key: Option<String>,
}

/// The base URL of a server on a loopback address; anything else is refused (load tests stay on this machine).
pub fn loopback_base(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--server {url}: not a URL ({e})"))?;
    anyhow::ensure!(parsed.scheme() == "http", "--server {url}: only http:// (a local nerkit serve)");
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
    anyhow::ensure!(loopback, "--server {url}: load is only sent to loopback addresses (127.0.0.1, ::1, localhost)");
    Ok(url.trim_end_matches('/').trim_end_matches("/tag").to_string())
}

/// Runs `load` against every server in `urls`, servers and concurrencies in turn.
pub fn measure(urls: &[String], load: &Load, progress: &dyn Fn(usize, usize)) -> anyhow::Result<Vec<ServerRow>> {
    anyhow::ensure!(!load.texts.is_empty(), "no texts to send");
    let bases: Vec<String> = urls.iter().map(|u| loopback_base(u)).collect::<anyhow::Result<_>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let mut rows = Vec::new();
    let total = bases.len() * load.concurrency.len();
    for base in &bases {
        let info: serde_json::Value = runtime
            .block_on(async {
                let mut req = client.get(format!("{base}/info"));
                if let Some(k) = &load.api_key {
                    req = req.bearer_auth(k);
                }
                let resp = req.send().await?.error_for_status()?;
                resp.bytes().await
            })
            .map_err(|e| anyhow::anyhow!("{base}/info: {e} (is `nerkit serve` running there?)"))
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| anyhow::anyhow!("{base}/info: not JSON: {e}")))?;
        for &concurrency in &load.concurrency {
            let row = runtime.block_on(one_level(&client, base, &info, load, concurrency))?;
            rows.push(row);
            progress(rows.len(), total);
        }
    }
    Ok(rows)
}

async fn one_level(
    client: &reqwest::Client,
    base: &str,
    info: &serde_json::Value,
    load: &Load,
    concurrency: usize,
) -> anyhow::Result<ServerRow> {
    let bodies: Arc<Vec<String>> =
        Arc::new(load.texts.iter().map(|t| serde_json::json!({ "text": t }).to_string()).collect());
    let url = format!("{base}/tag");
    let deadline = Instant::now() + Duration::from_secs_f64(load.max_seconds);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, bodies, next, key) =
            (client.clone(), url.clone(), bodies.clone(), next.clone(), load.api_key.clone());
        let requests = load.requests;
        workers.push(tokio::spawn(async move {
            let mut out: Vec<(f64, Option<String>)> = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let mut req =
                    client.post(&url).header("content-type", "application/json").body(bodies[i % bodies.len()].clone());
                if let Some(k) = &key {
                    req = req.bearer_auth(k);
                }
                let t = Instant::now();
                let status = match req.send().await {
                    Ok(resp) => {
                        let code = resp.status();
                        let _ = resp.bytes().await;
                        (!code.is_success()).then(|| code.as_u16().to_string())
                    }
                    Err(_) => Some("connect".to_string()),
                };
                out.push((t.elapsed().as_secs_f64() * 1e3, status));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for w in workers {
        results.extend(w.await.map_err(|e| anyhow::anyhow!("load worker: {e}"))?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut errors = BTreeMap::new();
    let mut ok: Vec<f64> = Vec::new();
    for (ms, err) in &results {
        match err {
            Some(code) => *errors.entry(code.clone()).or_insert(0) += 1,
            None => ok.push(*ms),
        }
    }
    ok.sort_by(f64::total_cmp);
    Ok(ServerRow {
        url: base.to_string(),
        batching: info["limits"]["batching"].as_bool(),
        backend: info["backend"].as_str().unwrap_or("?").to_string(),
        concurrency,
        requests: results.len(),
        errors,
        p50_ms: percentile(&ok, 0.5),
        p95_ms: percentile(&ok, 0.95),
        p99_ms: percentile(&ok, 0.99),
        requests_per_s: ok.len() as f64 / seconds.max(1e-9),
    })
}
