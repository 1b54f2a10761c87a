//! The web UI at `GET /`, driven in headless Chromium over WebDriver (Debian's `chromium` + `chromium-driver`,
//! installed by `make setup`): the highlighted spans and the pairs table equal what `POST /tag` returns, the
//! threshold slider filters, an oversized text shows the server's error, and the page requests nothing from any
//! other host. Screenshots (desktop and phone width, light and dark) go to `target/ui-screenshots/`.
mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{post_json, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const TEXT: &str = "Magnetic resonance imaging (MRI) and computed tomography (CT) were performed; MRI was repeated.";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn chromedriver() -> (Driver, u16) {
    let exe = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe}: {e} (run `make setup`: it installs chromium and chromium-driver)"));
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

async fn browser(port: u16) -> Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = json!({"goog:chromeOptions": {
        "binary": chromium,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
    }});
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session")
}

/// Types `text` into the page and presses Tag; waits for the result (or the error).
async fn tag(c: &Client, text: &str) {
    let area = c.find(Locator::Id("text")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(text).await.unwrap();
    c.execute(
        "document.getElementById('doc').innerHTML=''; document.getElementById('error').hidden=true; return 0",
        vec![],
    )
    .await
    .unwrap();
    c.find(Locator::Id("tag")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#doc mark.ent, #doc p.muted, #error:not([hidden])"))
        .await
        .unwrap();
}

async fn marks(c: &Client) -> Vec<(String, String)> {
    try_marks(c).await.expect("the highlighted spans")
}

/// The highlighted spans, or `None` when the page re-rendered while they were read (stale elements).
async fn try_marks(c: &Client) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for m in c.find_all(Locator::Css("#doc mark.ent")).await.ok()? {
        out.push((m.text().await.ok()?, m.attr("data-label").await.ok()??));
    }
    Some(out)
}

/// Waits (up to 30 s) until the highlighted spans equal `expected`.
async fn wait_for_marks(c: &Client, expected: &[(String, String)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while try_marks(c).await.as_deref() != Some(expected) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn model() -> PathBuf {
    let tmp = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    let dir = common::token_classifier_dir(tmp.path());
    nerkit::infer::select::exported_dir(&dir).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_shows_what_the_api_returns() {
    let server = Server::start(&model(), &["--max-chars", "400"], &[]);
    let addr: SocketAddr = server.addr;
    let origin = format!("http://{addr}");
    let (_driver, port) = chromedriver();
    let c = browser(port).await;
    c.goto(&format!("{origin}/")).await.unwrap();
    // the server's info line appears
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath("//span[@id='backend'][contains(., 'backend')]"))
        .await
        .unwrap();

    tag(&c, TEXT).await;
    let api = post_json(addr, "/tag", &json!({"text": TEXT})).json();
    let expected: Vec<(String, String)> = api["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["text"].as_str().unwrap().to_string(), e["label"].as_str().unwrap().to_string()))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(marks(&c).await, expected, "highlighted spans differ from POST /tag");
    // the pairs table, row by row
    let rows = c.find_all(Locator::Css("#pairs tbody tr[data-ents]")).await.unwrap();
    let pairs = api["pairs"].as_array().unwrap();
    assert_eq!(rows.len(), pairs.len());
    let ents = api["entities"].as_array().unwrap();
    for (row, p) in rows.iter().zip(pairs) {
        let cells = row.find_all(Locator::Css("td")).await.unwrap();
        let ac = &ents[p["ac"].as_u64().unwrap() as usize]["text"];
        let lf = &ents[p["lf"].as_u64().unwrap() as usize]["text"];
        assert_eq!(cells[0].text().await.unwrap(), ac.as_str().unwrap());
        assert_eq!(cells[1].text().await.unwrap(), lf.as_str().unwrap());
        let evidence = match p["evidence"].as_str().unwrap() {
            "both" => "model + letters",
            other => other,
        };
        assert_eq!(cells[3].text().await.unwrap(), evidence);
    }
    // the Definitions select re-tags the text in that mode: rules alone answer as POST /tag with "pairs": "rules"
    let rules = post_json(addr, "/tag", &json!({"text": TEXT, "pairs": "rules"})).json();
    let rule_marks: Vec<(String, String)> = rules["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["text"].as_str().unwrap().to_string(), e["label"].as_str().unwrap().to_string()))
        .collect();
    assert_ne!(rule_marks, expected, "pick a text where the rules and the model differ");
    let set_mode = "const s = document.getElementById('pairmode'); s.value = arguments[0]; s.dispatchEvent(new Event('change')); return 0";
    c.execute(set_mode, vec![json!("rules")]).await.unwrap();
    wait_for_marks(&c, &rule_marks).await;
    assert_eq!(marks(&c).await, rule_marks, "the rules' spans after picking `rules`");
    assert!(c.find(Locator::Id("curl")).await.unwrap().text().await.unwrap().contains(r#""pairs":"rules""#));
    c.execute(set_mode, vec![json!("hybrid")]).await.unwrap();
    wait_for_marks(&c, &expected).await;
    assert_eq!(marks(&c).await, expected);
    // the entity table has one row per entity; the curl box holds the text
    assert_eq!(c.find_all(Locator::Css("#entities tbody tr[data-ents]")).await.unwrap().len(), expected.len());
    assert!(c.find(Locator::Id("curl")).await.unwrap().text().await.unwrap().contains("computed tomography (CT)"));
    screenshot(&c, "desktop-light").await;

    // the threshold slider hides entities below it, live
    let max: f64 = ents.iter().map(|e| e["score"].as_f64().unwrap()).fold(0.0, f64::max);
    let cut = (max * 20.0).floor() / 20.0; // a slider step at or below the best score
    let above = ents.iter().filter(|e| e["score"].as_f64().unwrap() >= cut).count();
    c.execute(
        "const t = document.getElementById('threshold'); t.value = arguments[0]; t.dispatchEvent(new Event('input')); return 0",
        vec![json!(cut.to_string())],
    )
    .await
    .unwrap();
    assert_eq!(marks(&c).await.len(), above, "threshold {cut}");

    // Ctrl+Enter in the text box tags it (WebDriver keys: Control, Enter, then release with NULL)
    c.execute(
        "const t = document.getElementById('threshold'); t.value = 0; t.dispatchEvent(new Event('input')); return 0",
        vec![],
    )
    .await
    .unwrap();
    let area = c.find(Locator::Id("text")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys("The body mass index (BMI) was recorded.").await.unwrap();
    c.execute("document.getElementById('doc').innerHTML=''; return 0", vec![]).await.unwrap();
    area.send_keys("\u{E009}\u{E007}\u{E000}").await.unwrap();
    c.wait().at_most(Duration::from_secs(60)).for_element(Locator::Css("#doc mark.ent, #doc p.muted")).await.unwrap();
    let api = post_json(addr, "/tag", &json!({"text": "The body mass index (BMI) was recorded."})).json();
    assert_eq!(marks(&c).await.len(), api["entities"].as_array().unwrap().len(), "Ctrl+Enter did not tag");

    // uploading a .jsonl file tags every document and lets the user page through them
    let tmp = tempfile::tempdir().unwrap();
    let upload = tmp.path().join("docs.jsonl");
    std::fs::write(
        &upload,
        format!("{}\n{}\n", json!({"id": "a", "text": TEXT}), json!({"id": "b", "text": "Heart rate (HR) rose."})),
    )
    .unwrap();
    c.find(Locator::Id("file")).await.unwrap().send_keys(upload.to_str().unwrap()).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::XPath("//span[@id='doc-pos'][contains(., 'document 1 of 2')]"))
        .await
        .unwrap();
    assert_eq!(marks(&c).await, expected, "the first uploaded document is the TEXT above");
    c.find(Locator::Id("next")).await.unwrap().click().await.unwrap();
    let pos = c.find(Locator::Id("doc-pos")).await.unwrap().text().await.unwrap();
    assert!(pos.contains("document 2 of 2: b"), "{pos}");

    // an oversized text shows the server's message, not a blank page
    let long = "word ".repeat(100);
    tag(&c, &long).await;
    let err = c.find(Locator::Id("error")).await.unwrap();
    let msg = err.text().await.unwrap();
    assert!(msg.contains("max_chars") && msg.contains("422"), "error shown: {msg:?}");

    // every request the page made went to this server
    let urls: Value = c
        .execute("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])", vec![])
        .await
        .unwrap();
    let urls = urls.as_array().unwrap();
    assert!(urls.iter().any(|u| u.as_str().unwrap().ends_with("/ui.js")), "{urls:?}");
    for u in urls {
        assert!(u.as_str().unwrap().starts_with(&origin), "request to another host: {u}");
    }

    // screenshots: dark, and phone width
    c.goto(&format!("{origin}/?theme=dark")).await.unwrap();
    tag(&c, TEXT).await;
    screenshot(&c, "desktop-dark").await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(&c, "phone-dark").await;
    c.goto(&format!("{origin}/?theme=light")).await.unwrap();
    tag(&c, TEXT).await;
    screenshot(&c, "phone-light").await;
    let widths: Value =
        c.execute("const d = document.documentElement; return [d.scrollWidth, d.clientWidth]", vec![]).await.unwrap();
    let wide: Value = c
        .execute("const w = document.documentElement.clientWidth; return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > w + 1).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))", vec![])
        .await
        .unwrap();
    assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page scrolls sideways at phone width ({widths}): {wide}");
    c.close().await.unwrap();
}
