//! `nerkit serve` as its users call it: a real process on a loopback port, requests over TCP. The model is
//! the embedded MiniLM with the fixtures' formula head (labels O, B-AC, B-LF, I-LF), exported once.
mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::server::{get, post_json, request, Server};
use serde_json::{json, Value};

/// The exported model shared by every test here.
fn model() -> &'static PathBuf {
    static MODEL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &MODEL
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let dir = common::token_classifier_dir(tmp.path());
            let exported = nerkit::infer::select::exported_dir(&dir).unwrap();
            (tmp, exported)
        })
        .1
}

const TEXTS: &[&str] = &[
    "Magnetic resonance imaging (MRI) and computed tomography (CT) were performed in all patients.",
    "The body mass index (BMI) was higher in the intervention group.",
    "Tumor necrosis factor alpha (TNF-α) levels rose after 24 h.",
    "We measured the estimated glomerular filtration rate (eGFR) at baseline.",
    "Echo planar imaging (EPI) sequences were acquired at 3 T.",
    "No abbreviation here at all.",
    "Patients with chronic obstructive pulmonary disease (COPD) or asthma were excluded.",
    "The reverse transcription polymerase chain reaction (RT-PCR) confirmed infection.",
];

/// Offsets are code points: `text == chars[start..end]` for every entity.
fn check_offsets(input: &str, entities: &Value) {
    let chars: Vec<char> = input.chars().collect();
    for e in entities.as_array().expect("entities") {
        let (s, t) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
        assert!(s < t && t <= chars.len(), "{e} out of range for {input:?}");
        let text = e.get("text").or_else(|| e.get("word")).and_then(Value::as_str).unwrap();
        if e.get("text").is_some() {
            assert_eq!(chars[s..t].iter().collect::<String>(), text, "{e}");
        }
    }
}

#[test]
fn single_batch_and_hugging_face_shapes() {
    let s = Server::start(model(), &[], &[]);
    let one = post_json(s.addr, "/tag", &json!({"text": TEXTS[0]}));
    assert_eq!(one.status, 200, "{}", one.text());
    let v = one.json();
    assert!(v["entities"].as_array().is_some_and(|a| !a.is_empty()), "{v}");
    assert!(v["pairs"].is_array() && v["glossary"].is_object(), "{v}");
    check_offsets(TEXTS[0], &v["entities"]);
    assert!(one.header("x-request-id").is_some());

    // a list answers a list, each equal to the text sent alone
    let many = post_json(s.addr, "/tag", &json!({"texts": TEXTS})).json();
    let many = many.as_array().expect("list");
    assert_eq!(many.len(), TEXTS.len());
    for (t, got) in TEXTS.iter().zip(many) {
        let alone = post_json(s.addr, "/tag", &json!({"text": t})).json();
        assert_eq!(entity_keys(&alone["entities"]), entity_keys(&got["entities"]), "{t}");
        check_offsets(t, &got["entities"]);
    }

    // pairs off; byte offsets; every strategy
    let no_pairs = post_json(s.addr, "/tag", &json!({"text": TEXTS[0], "pairs": false})).json();
    assert!(no_pairs.get("pairs").is_none() && no_pairs.get("glossary").is_none(), "{no_pairs}");
    // the pair mode as a request option: Schwartz–Hearst alone answers without the model
    let rules = post_json(s.addr, "/tag", &json!({"text": TEXTS[4], "pairs": "rules"})).json();
    let texts: Vec<(&str, &str)> = rules["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["label"].as_str().unwrap(), e["text"].as_str().unwrap()))
        .collect();
    assert_eq!(texts, [("LF", "Echo planar imaging"), ("AC", "EPI")], "{rules}");
    assert_eq!(
        rules["pairs"],
        json!([{"ac": 1, "lf": 0, "rule": "parenthesised", "evidence": "letters", "score": 1.0}])
    );
    for mode in ["model", "hybrid"] {
        let v = post_json(s.addr, "/tag", &json!({"text": TEXTS[4], "pairs": mode})).json();
        assert!(
            v["pairs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| ["both", "model", "letters"].contains(&p["evidence"].as_str().unwrap())),
            "{v}"
        );
    }
    for aggregation in ["native", "none", "simple", "first", "average", "max"] {
        let r = post_json(s.addr, "/tag", &json!({"text": TEXTS[2], "aggregation": aggregation}));
        assert_eq!(r.status, 200, "{aggregation}: {}", r.text());
        check_offsets(TEXTS[2], &r.json()["entities"]);
    }
    let bytes = post_json(s.addr, "/tag", &json!({"text": TEXTS[2], "offsets": "bytes"})).json();
    for e in bytes["entities"].as_array().unwrap() {
        let (a, b) = (e["start"].as_u64().unwrap() as usize, e["end"].as_u64().unwrap() as usize);
        assert_eq!(&TEXTS[2][a..b], e["text"].as_str().unwrap());
    }

    // the Hugging Face Inference API shape, on /tag and on /
    for path in ["/tag", "/"] {
        let hf =
            post_json(s.addr, path, &json!({"inputs": TEXTS[0], "parameters": {"aggregation_strategy": "simple"}}));
        assert_eq!(hf.status, 200, "{}", hf.text());
        let list = hf.json();
        let list = list.as_array().expect("HF answer is a list");
        assert!(!list.is_empty());
        for e in list {
            assert!(["AC", "LF"].contains(&e["entity_group"].as_str().unwrap()), "{e}");
            assert!(e["word"].is_string() && e["score"].is_number() && e["start"].is_number() && e["end"].is_number());
        }
    }
    let hf_many = post_json(s.addr, "/", &json!({"inputs": [TEXTS[0], TEXTS[1]]})).json();
    assert_eq!(hf_many.as_array().map(Vec::len), Some(2), "{hf_many}");
    let ignored =
        post_json(s.addr, "/tag", &json!({"inputs": TEXTS[0], "parameters": {"ignore_labels": ["AC", "LF"]}}));
    assert_eq!(ignored.json(), json!([]));
    let none = post_json(s.addr, "/tag", &json!({"inputs": TEXTS[0], "parameters": {"aggregation_strategy": "none"}}));
    assert!(none.json().as_array().unwrap().iter().all(|e| e["entity"].is_string() && e.get("entity_group").is_none()));
}

/// (label, start, end, text) of each entity: what must not change with batching.
fn entity_keys(entities: &Value) -> Vec<(String, u64, u64, String)> {
    entities
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| {
            (
                e["label"].as_str().unwrap().to_string(),
                e["start"].as_u64().unwrap(),
                e["end"].as_u64().unwrap(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn unicode_offsets_and_a_5000_word_text() {
    let s = Server::start(model(), &[], &[]);
    let texts = [
        "🧬🧬 Magnetic resonance imaging (MRI) was used 😀 in 患者 (CT) and cafe\u{301} (ICU) units.",
        "Ｆｕｌｌ-width （ＭＲＩ） and 磁気共鳴画像 (MRI) and naïve T cells (NTC).",
        "Ünïcödé words: the glomerular filtration rate (GFR) 🧪 then (BMI).",
    ];
    for t in texts {
        for aggregation in ["native", "simple", "first", "none"] {
            let r = post_json(s.addr, "/tag", &json!({"text": t, "aggregation": aggregation}));
            assert_eq!(r.status, 200, "{}", r.text());
            check_offsets(t, &r.json()["entities"]);
        }
    }
    let doc: String =
        (0..5000 / 8).map(|i| format!("Sentence {i} uses magnetic resonance imaging (MRI) here. ")).collect();
    assert!(doc.split_whitespace().count() >= 5000);
    let r = post_json(s.addr, "/tag", &json!({"text": doc}));
    assert_eq!(r.status, 200);
    let v = r.json();
    check_offsets(&doc, &v["entities"]);
    let last_start = v["entities"].as_array().unwrap().iter().map(|e| e["start"].as_u64().unwrap()).max().unwrap();
    assert!(last_start as usize > doc.chars().count() * 9 / 10, "the end of a long text is tagged too");
}

/// Each malformed request: (what, method, path, headers, body, expected status, expected kind).
type Case = (&'static str, &'static str, &'static str, Vec<(&'static str, &'static str)>, Vec<u8>, u16, &'static str);

fn malformed_cases() -> Vec<Case> {
    let json_ct = || vec![("Content-Type", "application/json")];
    let j = |v: Value| v.to_string().into_bytes();
    let huge_text = "a ".repeat(200_001);
    let big_body = vec![b' '; 5 << 20];
    vec![
        ("invalid JSON", "POST", "/tag", json_ct(), b"{\"text\": ".to_vec(), 400, "invalid_json"),
        ("trailing garbage", "POST", "/tag", json_ct(), b"{\"text\": \"a\"} x".to_vec(), 400, "invalid_json"),
        ("not an object", "POST", "/tag", json_ct(), j(json!(["a"])), 400, "invalid_request"),
        ("a bare string", "POST", "/tag", json_ct(), j(json!("text")), 400, "invalid_request"),
        ("empty body", "POST", "/tag", json_ct(), vec![], 400, "invalid_json"),
        ("no text field", "POST", "/tag", json_ct(), j(json!({"txt": "a"})), 400, "invalid_request"),
        ("text is a number", "POST", "/tag", json_ct(), j(json!({"text": 5})), 400, "invalid_request"),
        ("texts is a string", "POST", "/tag", json_ct(), j(json!({"texts": "a"})), 400, "invalid_request"),
        ("texts holds a number", "POST", "/tag", json_ct(), j(json!({"texts": ["a", 1]})), 400, "invalid_request"),
        ("text and texts", "POST", "/tag", json_ct(), j(json!({"text": "a", "texts": ["b"]})), 400, "invalid_request"),
        ("text null", "POST", "/tag", json_ct(), j(json!({"text": null})), 400, "invalid_request"),
        ("pairs a number", "POST", "/tag", json_ct(), j(json!({"text": "a", "pairs": 3})), 400, "invalid_request"),
        (
            "unknown pair mode",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"text": "a", "pairs": "yes"})),
            422,
            "invalid_option",
        ),
        ("invalid UTF-8", "POST", "/tag", json_ct(), b"{\"text\": \"caf\xe9\"}".to_vec(), 400, "invalid_utf8"),
        ("lone surrogate", "POST", "/tag", json_ct(), b"{\"text\": \"\\ud800\"}".to_vec(), 400, "invalid_json"),
        (
            "form content type",
            "POST",
            "/tag",
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            b"text=a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "text/plain",
            "POST",
            "/tag",
            vec![("Content-Type", "text/plain")],
            j(json!({"text": "a"})),
            415,
            "unsupported_media_type",
        ),
        ("body over the limit", "POST", "/tag", json_ct(), big_body, 413, "payload_too_large"),
        ("empty texts", "POST", "/tag", json_ct(), j(json!({"texts": []})), 422, "no_texts"),
        ("too many texts", "POST", "/tag", json_ct(), j(json!({"texts": vec!["a"; 257]})), 422, "too_many_texts"),
        ("text over max_chars", "POST", "/tag", json_ct(), j(json!({"text": huge_text})), 422, "text_too_long"),
        (
            "unknown aggregation",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"text": "a", "aggregation": "mean"})),
            422,
            "invalid_option",
        ),
        ("unknown decode", "POST", "/tag", json_ct(), j(json!({"text": "a", "decode": "beam"})), 422, "invalid_option"),
        (
            "unknown offsets",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"text": "a", "offsets": "utf16"})),
            422,
            "invalid_option",
        ),
        ("unknown field", "POST", "/tag", json_ct(), j(json!({"text": "a", "lang": "en"})), 422, "invalid_option"),
        (
            "viterbi with an HF strategy",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"text": "a", "aggregation": "simple", "decode": "viterbi"})),
            422,
            "invalid_option",
        ),
        ("HF inputs a number", "POST", "/tag", json_ct(), j(json!({"inputs": 3})), 400, "invalid_request"),
        (
            "HF unknown strategy",
            "POST",
            "/",
            json_ct(),
            j(json!({"inputs": "a", "parameters": {"aggregation_strategy": "sum"}})),
            422,
            "invalid_option",
        ),
        (
            "HF unknown parameter",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"inputs": "a", "parameters": {"top_k": 3}})),
            422,
            "invalid_option",
        ),
        (
            "HF stride negative",
            "POST",
            "/tag",
            json_ct(),
            j(json!({"inputs": "a", "parameters": {"stride": -1}})),
            400,
            "invalid_request",
        ),
        ("HF empty list", "POST", "/tag", json_ct(), j(json!({"inputs": []})), 422, "no_texts"),
        ("GET /tag", "GET", "/tag", vec![], vec![], 405, "method_not_allowed"),
        ("PUT /tag", "PUT", "/tag", json_ct(), j(json!({"text": "a"})), 405, "method_not_allowed"),
        ("unknown route", "GET", "/nope", vec![], vec![], 404, "not_found"),
        ("POST /health", "POST", "/health", json_ct(), vec![], 404, "not_found"),
    ]
}

#[test]
fn malformed_and_oversized_inputs_get_json_4xx_and_the_server_stays_up() {
    let s = Server::start(model(), &[], &[]);
    let cases = malformed_cases();
    assert!(cases.len() >= 30);
    for (what, method, path, headers, body, status, kind) in cases {
        let r = request(s.addr, method, path, &headers, &body);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        let v = r.json();
        assert_eq!(v["kind"], kind, "{what}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {v}");
        assert!(s.healthy(), "unhealthy after {what}");
    }
    let v = post_json(s.addr, "/tag", &json!({"text": "a", "pairs": "yes"})).json();
    assert!(v["error"].as_str().unwrap().contains(r#"true, false, "hybrid", "model" or "rules""#), "{v}");
    // errors are counted by kind
    let metrics = get(s.addr, "/metrics").text();
    assert!(metrics.contains("nerkit_http_errors_total{kind=\"invalid_json\",route=\"/tag\"}"), "{metrics}");
    let ok = post_json(s.addr, "/tag", &json!({"text": TEXTS[0]}));
    assert_eq!(ok.status, 200);
}

/// Answers of `texts` sent one at a time.
fn answers_alone(addr: SocketAddr, texts: &[String]) -> Vec<Value> {
    texts.iter().map(|t| post_json(addr, "/tag", &json!({"text": t})).json()).collect()
}

fn pool() -> Vec<String> {
    let data = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample.jsonl")).unwrap();
    let mut texts: Vec<String> = data
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect::<Vec<_>>().join(" ")
        })
        .collect();
    texts.extend(TEXTS.iter().map(|t| t.to_string()));
    texts
}

#[test]
fn concurrent_load_gives_each_text_the_answer_it_gets_alone() {
    let s = Server::start(model(), &[], &[]);
    let texts = pool();
    let alone = answers_alone(s.addr, &texts);
    let (total, clients) = (2000, 32);
    let addr = s.addr;
    let mismatches: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (texts, alone) = (&texts, &alone);
                scope.spawn(move || {
                    let mut bad = Vec::new();
                    for k in (c..total).step_by(clients) {
                        let i = k % texts.len();
                        let r = post_json(addr, "/tag", &json!({"text": texts[i]}));
                        if r.status != 200 {
                            bad.push(format!("request {k}: status {} {}", r.status, r.text()));
                            continue;
                        }
                        let got = r.json();
                        if entity_keys(&got["entities"]) != entity_keys(&alone[i]["entities"])
                            || got["pairs"] != alone[i]["pairs"]
                        {
                            bad.push(format!("text {i}: batched {got} != alone {}", alone[i]));
                        }
                        let scores = |v: &Value| -> Vec<f64> {
                            v["entities"].as_array().unwrap().iter().map(|e| e["score"].as_f64().unwrap()).collect()
                        };
                        if scores(&got).iter().zip(scores(&alone[i])).any(|(a, b)| (a - b).abs() > 1e-5) {
                            bad.push(format!("text {i}: scores {:?} != {:?}", scores(&got), scores(&alone[i])));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        mismatches.is_empty(),
        "{} of {total} differ, e.g. {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(3)]
    );
    // the load really was batched: some engine batches held more than one request
    let metrics = get(s.addr, "/metrics").text();
    let value = |name: &str| -> f64 {
        metrics.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.trim().parse().ok())).unwrap_or(0.0)
    };
    let (sum, count) = (value("nerkit_batch_requests_sum"), value("nerkit_batch_requests_count"));
    assert!(sum >= (total + texts.len()) as f64, "{sum} requests in batches");
    assert!(count < sum, "no batch held two requests ({count} batches for {sum} requests)");
}

#[test]
fn bearer_token_when_configured() {
    let s = Server::start(model(), &["--api-key", "s3cret"], &[]);
    let body = json!({"text": TEXTS[0]}).to_string();
    let ct = ("Content-Type", "application/json");
    let none = request(s.addr, "POST", "/tag", &[ct], body.as_bytes());
    assert_eq!((none.status, none.json()["kind"].clone()), (401, json!("unauthorized")));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let wrong = request(s.addr, "POST", "/tag", &[ct, ("Authorization", "Bearer nope")], body.as_bytes());
    assert_eq!(wrong.status, 401);
    let right = request(s.addr, "POST", "/tag", &[ct, ("Authorization", "Bearer s3cret")], body.as_bytes());
    assert_eq!(right.status, 200, "{}", right.text());
    assert_eq!(get(s.addr, "/health").status, 200, "health stays open");
    assert_eq!(get(s.addr, "/info").status, 401);
    assert_eq!(request(s.addr, "GET", "/info", &[("Authorization", "Bearer s3cret")], b"").json()["auth"], true);
    drop(s);
    // from the environment; and off by default
    let env = Server::start(model(), &[], &[("NERKIT_API_KEY", "k2")]);
    assert_eq!(request(env.addr, "POST", "/tag", &[ct], body.as_bytes()).status, 401);
    assert_eq!(request(env.addr, "POST", "/tag", &[ct, ("Authorization", "Bearer k2")], body.as_bytes()).status, 200);
    drop(env);
    let open = Server::start(model(), &[], &[]);
    assert_eq!(request(open.addr, "POST", "/tag", &[ct], body.as_bytes()).status, 200);
    assert_eq!(get(open.addr, "/info").json()["auth"], false);
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits_zero() {
    let mut s = Server::start(model(), &[], &[]);
    let doc: String = (0..60).map(|i| format!("In run {i} magnetic resonance imaging (MRI) was repeated. ")).collect();
    let addr = s.addr;
    let started = Instant::now();
    let results: Vec<(u16, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|_| {
                let doc = &doc;
                scope.spawn(move || {
                    let r = post_json(addr, "/tag", &json!({"text": doc}));
                    (r.status, started.elapsed())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
        let signalled = started.elapsed();
        let out: Vec<(u16, Duration)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(out.iter().any(|(_, t)| *t > signalled), "no request was still in flight at SIGTERM: make them longer");
        out
    });
    assert!(results.iter().all(|(status, _)| *status == 200), "{results:?}");
    let status = s.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(std::net::TcpStream::connect(addr).is_err(), "still accepting after shutdown");
}

#[test]
fn health_is_503_while_loading_and_info_names_the_backend() {
    // a trained directory without exported graphs: the server exports on first use, answering 503 meanwhile
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::token_classifier_dir(tmp.path());
    let s = Server::start_no_wait(&dir, &[], &[]);
    let first = get(s.addr, "/health");
    assert_eq!(first.status, 503, "{}", first.text());
    assert_eq!(first.json()["status"], "loading");
    assert_eq!(post_json(s.addr, "/tag", &json!({"text": "a"})).json()["kind"], "loading");
    s.wait_ready();
    let info = get(s.addr, "/info").json();
    assert_eq!(info["labels"], json!(["O", "B-AC", "B-LF", "I-LF"]));
    assert_eq!(info["entity_types"], json!(["AC", "LF"]));
    assert_eq!(info["pairs"], json!({"short": "AC", "long": "LF"}), "an AC/LF model pairs");
    assert!(info["backend"].as_str().unwrap().starts_with("ort"), "{info}");
    assert!(info["backend_reasons"].as_array().is_some_and(|r| !r.is_empty()), "{info}");
    assert_eq!(info["limits"]["max_texts"], 256);
    assert!(info["version"].is_string() && info["max_len"].as_u64() == Some(128));
    // the other documents
    let openapi = get(s.addr, "/openapi.json").json();
    for path in ["/tag", "/health", "/info", "/metrics"] {
        assert!(openapi["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(openapi["components"]["schemas"]["HfEntity"].is_object());
    assert!(get(s.addr, "/docs").text().contains("openapi.json"));
    post_json(s.addr, "/tag", &json!({"text": TEXTS[0]}));
    let metrics = get(s.addr, "/metrics").text();
    for name in [
        "nerkit_http_requests_total",
        "nerkit_http_request_duration_seconds_bucket",
        "nerkit_batch_requests_bucket",
        "nerkit_queue_depth_bucket",
        "nerkit_tokens_total",
        "nerkit_inference_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[test]
fn tract_serves_when_onnx_runtime_cannot_load_with_the_same_entities() {
    let ort = Server::start(model(), &["--backend", "ort"], &[]);
    let tract = Server::start(model(), &[], &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")]);
    let info = get(tract.addr, "/info").json();
    assert_eq!(info["backend"], "tract", "{info}");
    assert!(info["backend_reasons"].to_string().contains("unavailable"), "{info}");
    let texts = pool();
    let mut compared = BTreeSet::new();
    for t in &texts {
        let a = post_json(ort.addr, "/tag", &json!({"text": t})).json();
        let b = post_json(tract.addr, "/tag", &json!({"text": t})).json();
        assert_eq!(entity_keys(&a["entities"]), entity_keys(&b["entities"]), "{t}");
        compared.extend(entity_keys(&a["entities"]));
    }
    assert!(compared.len() > 10, "too few entities to compare ({})", compared.len());
}

#[test]
fn embedded_model_is_refused_with_a_clear_message() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nerkit"))
        .args(["serve", "--model", "embedded", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no trained") && err.contains("nerkit train"), "{err}");
}

/// The real `huggingface_hub.InferenceClient` (installed into $NERKIT_HOME/venv by `make setup`) talks to the
/// server unchanged and gets what the route answers.
#[test]
fn hugging_face_inference_client_works_unchanged() {
    let python = nerkit::paths::nerkit_home().join("venv/bin/python");
    assert!(python.is_file(), "{} missing: run `make setup` (it installs huggingface_hub)", python.display());
    let s = Server::start(model(), &[], &[]);
    let url = format!("http://{}/tag", s.addr);
    for strategy in ["simple", "first", "max", "average"] {
        let out = std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hf_client.py"))
            .args([&url, TEXTS[0], strategy])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let client: Value = serde_json::from_slice(&out.stdout).unwrap();
        let direct =
            post_json(s.addr, "/tag", &json!({"inputs": TEXTS[0], "parameters": {"aggregation_strategy": strategy}}))
                .json();
        assert!(!direct.as_array().unwrap().is_empty());
        assert_eq!(client.as_array().unwrap().len(), direct.as_array().unwrap().len(), "{client} vs {direct}");
        for (c, d) in client.as_array().unwrap().iter().zip(direct.as_array().unwrap()) {
            for k in ["entity_group", "word", "start", "end"] {
                assert_eq!(c[k], d[k], "{k}: {c} vs {d}");
            }
            assert!((c["score"].as_f64().unwrap() - d["score"].as_f64().unwrap()).abs() < 1e-6);
        }
    }
}

/// The committed tiny fixture (`onnx/fixtures/tiny-bert`, random weights) serves on ONNX Runtime int8 and on tract,
/// and the two give the same entity spans for fp32 ORT and tract.
#[test]
fn the_tiny_onnx_fixture_serves_on_ort_and_tract() {
    let fixture = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/onnx/fixtures/tiny-bert"));
    let int8 = Server::start(&fixture, &[], &[]);
    let info = get(int8.addr, "/info").json();
    assert_eq!(info["labels"], json!(["O", "B-AC", "B-LF", "I-LF"]));
    assert_eq!(info["entity_types"], json!(["AC", "LF"]));
    assert_eq!(info["pairs"], json!({"short": "AC", "long": "LF"}), "an AC/LF model pairs");
    assert!(info["backend"].as_str().unwrap().contains("int8"), "{info}");
    let ort = Server::start(&fixture, &["--backend", "ort"], &[]);
    let tract = Server::start(&fixture, &["--backend", "tract"], &[]);
    let mut spans = 0;
    for t in TEXTS {
        let r = post_json(int8.addr, "/tag", &json!({"text": t}));
        assert_eq!(r.status, 200, "{}", r.text());
        check_offsets(t, &r.json()["entities"]);
        let (a, b) = (
            post_json(ort.addr, "/tag", &json!({"text": t})).json(),
            post_json(tract.addr, "/tag", &json!({"text": t})).json(),
        );
        assert_eq!(entity_keys(&a["entities"]), entity_keys(&b["entities"]), "{t}");
        spans += entity_keys(&a["entities"]).len();
    }
    assert!(spans > 0, "the fixture found no entity at all: nothing was compared");
}
