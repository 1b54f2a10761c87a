//! `nerkit serve`: the HTTP server (`nerkit-server`) over a model directory. Settings come from flags, else
//! `--config serve.toml` (the same names, with `_`), else the defaults.
use std::path::PathBuf;

use nerkit_server::ServerConfig;
use serde::Deserialize;

use crate::infer::EngineChoice;
use crate::serve::{refuse_untrained, ServeEngine};

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Model directory: trained (`nerkit train`'s best/, exported on first use) or exported (model.onnx).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// serve.toml: `model`, `backend`, `threads`, `lanes` and every server setting below (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Engine: auto = CUDA, else ORT int8, else ORT fp32, else tract.
    #[arg(long, value_enum)]
    pub backend: Option<EngineChoice>,
    /// Engine intra-op threads in all (default: every core), shared by the lanes.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Engines tagging parts of each batch at once, each with threads/lanes threads [default: 1: one request
    /// alone gets every thread; 2 lanes trade that latency for throughput under load, as `nerkit predict` does].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub lanes: Option<u64>,
    /// Address to bind [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port (0 = any free port) [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Require `Authorization: Bearer KEY` (all routes but /health and the UI page).
    #[arg(long, env = "NERKIT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// HTTP worker threads [default: one per core].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Largest request body in bytes [default: 4194304].
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Most texts per request [default: 256].
    #[arg(long)]
    pub max_texts: Option<usize>,
    /// Longest text in characters [default: 200000].
    #[arg(long)]
    pub max_chars: Option<usize>,
    /// Run every request as its own engine call (no dynamic batching).
    #[arg(long)]
    pub no_batching: bool,
    /// Token budget of one engine batch [default: 8192].
    #[arg(long)]
    pub max_batch_tokens: Option<usize>,
    /// How long a batch that is not full waits for more requests, ms [default: 0].
    #[arg(long)]
    pub max_wait_ms: Option<u64>,
    /// Most requests queued or running; more get 503 + Retry-After [default: 1024].
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Seconds in-flight requests get after SIGTERM [default: 30].
    #[arg(long)]
    pub shutdown_timeout: Option<u64>,
}

/// serve.toml: the engine's keys here, the server's in [`ServerConfig`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineFile {
    model: Option<PathBuf>,
    backend: Option<EngineChoice>,
    threads: Option<usize>,
    lanes: Option<usize>,
}

fn read_config(path: &std::path::Path) -> anyhow::Result<(EngineFile, ServerConfig)> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut engine = toml::Table::new();
    for key in ["model", "backend", "threads", "lanes"] {
        if let Some(v) = table.remove(key) {
            engine.insert(key.into(), v);
        }
    }
    let engine: EngineFile = engine.try_into().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let server: ServerConfig = table.try_into().map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((engine, server))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (file, mut cfg) = match &args.config {
        Some(p) => read_config(p)?,
        None => (EngineFile::default(), ServerConfig::default()),
    };
    let model = args.model.clone().or(file.model).ok_or_else(|| anyhow::anyhow!("no model: give --model DIR"))?;
    let model = refuse_untrained(&model).map_err(anyhow::Error::msg)?;
    let backend = args.backend.or(file.backend).unwrap_or_default();
    let threads = args.threads.or(file.threads);
    let lanes = args.lanes.map(|n| n as usize).or(file.lanes).unwrap_or(1);
    anyhow::ensure!((1..=64).contains(&lanes), "lanes must be 1 to 64, got {lanes}");
    macro_rules! set {
        ($($field:ident <- $flag:ident),*) => { $( if let Some(v) = args.$flag.clone() { cfg.$field = v; } )* };
    }
    set!(host <- host, port <- port, max_body_bytes <- max_body_bytes, max_texts <- max_texts,
         max_chars <- max_chars, max_batch_tokens <- max_batch_tokens, max_wait_ms <- max_wait_ms,
         max_concurrent <- max_concurrent, shutdown_timeout_s <- shutdown_timeout);
    if args.api_key.is_some() {
        cfg.api_key = args.api_key.clone();
    }
    if args.workers.is_some() {
        cfg.workers = args.workers;
    }
    if args.no_batching {
        cfg.batching = false;
    }
    tracing::info!(model = %model.display(), %backend, "loading");
    let load = move || -> Result<Box<dyn nerkit_server::Engine>, String> {
        let engine = ServeEngine::open(&model, backend, threads, lanes).map_err(|e| e.to_string())?;
        Ok(Box::new(engine))
    };
    nerkit_server::run(cfg, load, |addrs| {
        for a in addrs {
            // one machine-readable line on stdout (scripts and tests read the port from it)
            println!("nerkit serve: listening on http://{a}");
        }
        use std::io::Write;
        std::io::stdout().flush().ok();
    })?;
    eprintln!("nerkit serve: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_serve_toml_reads_and_unknown_keys_are_named() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/serve.toml");
        let (engine, server) = read_config(&shipped).unwrap();
        assert_eq!(engine.backend, Some(EngineChoice::Auto));
        assert_eq!(server, ServerConfig::default(), "the shipped file spells out the defaults");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("serve.toml");
        std::fs::write(&bad, "model = \"m\"\nmax_text = 3\n").unwrap();
        let e = read_config(&bad).unwrap_err().to_string();
        assert!(e.contains("max_text") && e.contains("serve.toml"), "{e}");
    }
}
