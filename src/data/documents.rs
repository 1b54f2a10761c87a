//! Raw documents, as `nerkit predict` reads them and `nerkit bench --end-to-end` times them: one per line of
//! plain text, or JSONL records `{"id", "text", ...}`; a bad line is a [`BadLine`] naming `file:line`.
use serde_json::{json, Map, Value};

/// One input document.
#[derive(Clone, Debug)]
pub struct Document {
    pub id: Value,
    pub text: String,
    /// Extra JSONL fields, passed through.
    pub extra: Map<String, Value>,
}

/// A bad input line.
#[derive(Debug, Clone)]
pub struct BadLine {
    pub origin: String,
    pub line: usize,
    pub message: String,
    pub raw: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.origin, self.line, self.message)
    }
}

/// Parses one input line (1-based `line`) into a document.
pub fn parse_line(bytes: &[u8], line: usize, origin: &str, jsonl: bool) -> Result<Document, BadLine> {
    let bad = |message: String| BadLine {
        origin: origin.to_string(),
        line,
        message,
        raw: String::from_utf8_lossy(bytes).into_owned(),
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not valid UTF-8 ({e})")))?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    if !jsonl {
        if text.trim().is_empty() {
            return Err(bad("empty document".into()));
        }
        return Ok(Document { id: json!(line), text: text.to_string(), extra: Map::new() });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let Value::Object(mut obj) = value else { return Err(bad("expected a JSON object".into())) };
    let text = match obj.remove("text") {
        Some(Value::String(t)) => t,
        Some(other) => return Err(bad(format!("field `text` must be a string, got {other}"))),
        None => return Err(bad("missing field `text`".into())),
    };
    if text.trim().is_empty() {
        return Err(bad("empty document (field `text`)".into()));
    }
    let id = obj.remove("id").unwrap_or_else(|| json!(line));
    Ok(Document { id, text, extra: obj })
}

/// Documents per tagging round by default. A round's windows are sorted by length before batching, so the more
/// documents a round holds, the less padding each batch carries: on 1,000 PLOD sentences (51.6 sub-words on
/// average, 542 at most) rounds of 1,024 documents tagged 1.8-1.9x the sentences/s of rounds of 64 (MiniLM int8,
/// 2 cores, identical output — the int8 graphs are batch-invariant).
pub const DEFAULT_CHUNK: usize = 1024;
/// Bytes of text per tagging round at most by default.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;
