//! Hub access against a loopback mirror: no external network. A tiny HTTP/1.1 server on 127.0.0.1 answers the
//! two requests `hf-hub` 1.0 makes per file — `HEAD` then `GET` on `/{prefix}{org}/{name}/resolve/main/{file}`
//! (`prefix` = `datasets/` for datasets) — with `ETag`, `X-Repo-Commit` and `Content-Length` headers, exactly
//! what `hf-hub`'s cache layer requires. `HF_ENDPOINT` points at it and `HF_HOME` at a temporary directory.
//!
//! Environment variables are process-global, so all cases run sequentially in one `#[test]` in this binary.
#![cfg(feature = "hub")]

use nerkit::hub::{fetch_dataset_file, fetch_model_files, HubError};
use nerkit::model::ModelError;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// Upper bound on connections served, so a misbehaving client cannot keep the test alive.
const MAX_CONNECTIONS: usize = 64;

/// Files served, by URL path after the endpoint (`/org/name/resolve/main/file`).
type Files = HashMap<String, Vec<u8>>;

struct Mirror {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Mirror {
    fn start(files: Files) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for stream in listener.incoming().take(MAX_CONNECTIONS) {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &files, &log2);
                }
            }
        });
        Mirror { url, log, stop, handle: Some(handle) }
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://")); // wake the accept loop
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Answers one request and closes the connection.
fn serve(stream: TcpStream, files: &Files, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    log.lock().unwrap().push(format!("{method} {path}"));
    let mut out = stream;
    let response = match files.get(&path) {
        Some(body) => {
            let etag = format!("{:016x}", nerkit::prepare::cache::fnv64(body));
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
                 ETag: \"{etag}\"\r\nX-Repo-Commit: {COMMIT}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let mut bytes = head.into_bytes();
            if method == "GET" {
                bytes.extend_from_slice(body);
            }
            bytes
        }
        None => format!(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-Repo-Commit: {COMMIT}\r\nX-Error-Code: EntryNotFound\r\n\
             Connection: close\r\n\r\n"
        )
        .into_bytes(),
    };
    let _ = out.write_all(&response);
    let _ = out.flush();
}

/// A valid safetensors file with one 2×3 f32 tensor.
fn tiny_safetensors() -> Vec<u8> {
    let data: Vec<u8> = [0.5f32, -1.0, 2.0, 0.0, 1.5, -0.25].iter().flat_map(|x| x.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &data).unwrap();
    safetensors::tensor::serialize([("classifier.weight", view)], None).unwrap()
}

fn set_env(endpoint: &str, home: &Path) {
    std::env::set_var("HF_ENDPOINT", endpoint);
    std::env::set_var("HF_HOME", home);
    std::env::set_var("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1");
    for k in ["HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HF_TOKEN_PATH"] {
        std::env::remove_var(k);
    }
}

#[test]
fn fetches_through_a_loopback_mirror_then_from_cache_offline() {
    let model_repo = "test-org/tiny-bert";
    let dataset_repo = "surrey-nlp/PLOD-CW-25";
    let config = br#"{"model_type": "bert", "hidden_size": 3}"#.to_vec();
    // A real (tiny) WordPiece tokenizer.json with BERT special tokens.
    let tokenizer = include_bytes!("fixtures/tiny_tokenizer.json").to_vec();
    let weights = tiny_safetensors();
    let parquet: Vec<u8> = b"PAR1".iter().copied().chain((0u8..=255).cycle().take(5000)).collect();
    let mut files = Files::new();
    for (f, b) in [("config.json", &config), ("tokenizer.json", &tokenizer), ("model.safetensors", &weights)] {
        files.insert(format!("/{model_repo}/resolve/main/{f}"), b.clone());
    }
    files.insert("/test-org/no-tokenizer/resolve/main/config.json".into(), config.clone());
    files.insert(format!("/datasets/{dataset_repo}/resolve/main/PLOD-CW-25-Val.parquet"), parquet.clone());
    let mirror = Mirror::start(files);
    let home = tempfile::tempdir().unwrap();
    set_env(&mirror.url, home.path());

    // (a) model repo: three files into one snapshot directory under HF_HOME.
    let wanted = ["config.json", "tokenizer.json", "model.safetensors"];
    let dir = fetch_model_files(model_repo, None, &wanted).unwrap();
    assert!(dir.starts_with(home.path().join("hub").join("models--test-org--tiny-bert")), "{}", dir.display());
    assert!(dir.ends_with(Path::new("snapshots").join(COMMIT)));
    for (f, b) in wanted.iter().zip([&config, &tokenizer, &weights]) {
        assert_eq!(&std::fs::read(dir.join(f)).unwrap(), b, "{f}");
    }
    // ... and it is a usable model directory: the tokenizer loads and tokenizes.
    let model = nerkit::model::resolve(model_repo).unwrap();
    assert_eq!(model.path, dir);
    let enc = model.tokenizer().unwrap().encode("Epithelial cells", true).unwrap();
    assert_eq!(enc.get_tokens(), ["[CLS]", "epi", "##thelial", "cells", "[SEP]"]);

    // (b) dataset file.
    let pq = fetch_dataset_file(dataset_repo, "PLOD-CW-25-Val.parquet").unwrap();
    assert!(pq.starts_with(home.path().join("hub").join("datasets--surrey-nlp--PLOD-CW-25")), "{}", pq.display());
    assert_eq!(std::fs::read(&pq).unwrap(), parquet);

    let online = mirror.requests();
    for f in wanted {
        for m in ["HEAD", "GET"] {
            assert!(online.contains(&format!("{m} /{model_repo}/resolve/main/{f}")), "{m} {f}: {online:?}");
        }
    }
    assert!(online.contains(&format!("GET /datasets/{dataset_repo}/resolve/main/PLOD-CW-25-Val.parquet")));

    // Offline: same paths and bytes from the cache, and not a single request.
    std::env::set_var("HF_HUB_OFFLINE", "1");
    assert_eq!(fetch_model_files(model_repo, None, &wanted).unwrap(), dir);
    let pq2 = fetch_dataset_file(dataset_repo, "PLOD-CW-25-Val.parquet").unwrap();
    assert_eq!(pq2, pq);
    assert_eq!(std::fs::read(&pq2).unwrap(), parquet);
    match fetch_dataset_file(dataset_repo, "PLOD-CW-25-Test.parquet") {
        Err(e @ HubError::NotCached { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(dataset_repo) && msg.contains("PLOD-CW-25-Test.parquet"), "{msg}");
        }
        other => panic!("expected NotCached, got {other:?}"),
    }
    assert_eq!(mirror.requests(), online, "offline fetches must not touch the network");

    // Online again: a repo without tokenizer.json is a clear model error; a missing dataset file names itself.
    std::env::remove_var("HF_HUB_OFFLINE");
    match nerkit::model::resolve("test-org/no-tokenizer") {
        Err(e @ ModelError::MissingTokenizer { .. }) => assert!(e.to_string().contains("tokenizer.json"), "{e}"),
        other => panic!("expected MissingTokenizer, got {other:?}"),
    }
    match fetch_dataset_file(dataset_repo, "nope.parquet") {
        Err(e @ HubError::NotFound { .. }) => {
            assert!(e.to_string().contains("nope.parquet") && e.to_string().contains(dataset_repo), "{e}")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}
