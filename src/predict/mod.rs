//! `nerkit predict`: documents in (arguments, plain text, JSONL), entities out (JSONL, CoNLL, brat), streamed
//! in chunks so memory stays flat on any input size.
//!
//! - Plain text: one document per line (or the whole file with `whole_file`); ids are 1-based line numbers.
//!   JSONL: `{"id", "text", ...}`, extra fields passed through; a missing id is the line number.
//! - Sharding: document `k` (0-based, in input order) belongs to shard `k mod N`.
//! - Resume (JSONL output): ids already in the output are skipped and new records appended; a partial last
//!   line (a killed run) is dropped first and redone. Each record is written with one `write` and flushed.
//! - Bad lines (not UTF-8, no `text`, empty document) stop with `file:line`; with `on_error = skip` they go to
//!   `<output>.errors.jsonl` instead. Nothing is dropped silently.
pub mod input;
mod sink;

pub use crate::data::documents::{parse_line, BadLine, Document, DEFAULT_CHUNK, DEFAULT_CHUNK_BYTES};

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::data::Scheme;
use crate::infer::{TagOptions, TaggedText, TextTagger};
use sink::Sink;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON record per document: id, entities, pairs and glossary (models with pair types only) + the
    /// input's extra fields.
    #[default]
    Jsonl,
    /// `word<TAB>tag`, a blank line between sentences, `# id = ...` before each document.
    Conll,
    /// brat standoff: `<id>.txt` + `<id>.ann` per document in the output directory (entities as T lines,
    /// pairs as `Abbreviation` relations).
    Brat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    #[default]
    Stop,
    Skip,
}

/// Shard `index` of `count` (0-based index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// `I/N`, 0 ≤ I < N.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("shard `{s}`: expected I/N, e.g. 0/4"))?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| format!("shard `{s}`: I is not a number"))?,
            n.trim().parse().map_err(|_| format!("shard `{s}`: N is not a number"))?,
        );
        if count == 0 || index >= count {
            return Err(format!("shard `{s}`: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

/// Id key used by `resume` (a JSON id's compact text).
fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Ids of the complete records in a JSONL output; truncates a partial last line away.
pub fn completed_ids(path: &Path) -> std::io::Result<HashSet<String>> {
    let Ok(bytes) = std::fs::read(path) else { return Ok(HashSet::new()) };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    if complete < bytes.len() {
        let f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.set_len(complete as u64)?;
    }
    let mut ids = HashSet::new();
    for line in bytes[..complete].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Ok(v) = serde_json::from_slice::<Value>(line) {
            if let Some(id) = v.get("id") {
                ids.insert(id_key(id));
            }
        }
    }
    Ok(ids)
}

/// The JSONL record of one document.
pub fn record(doc: &Document, tagged: &TaggedText) -> Value {
    let mut obj = Map::new();
    obj.insert("id".into(), doc.id.clone());
    for (k, v) in &doc.extra {
        obj.insert(k.clone(), v.clone());
    }
    obj.insert("entities".into(), serde_json::to_value(&tagged.entities).expect("entities serialise"));
    if let (Some(pairs), Some(glossary)) = (&tagged.pairs, &tagged.glossary) {
        obj.insert("pairs".into(), serde_json::to_value(pairs).expect("pairs serialise"));
        obj.insert("glossary".into(), serde_json::to_value(glossary).expect("glossary serialises"));
    }
    Value::Object(obj)
}

/// CoNLL lines of one document, tags written in `scheme` (IOB2 unless the user asks for the scheme of their
/// own files).
pub fn conll(doc: &Document, tagged: &TaggedText, scheme: Scheme) -> String {
    let mut out = format!("# id = {}\n", id_key(&doc.id));
    for s in &tagged.sentences {
        let tags = crate::data::scheme::from_iob2(&s.tags, scheme);
        for (w, t) in s.words.iter().zip(&tags) {
            out.push_str(&format!("{}\t{}\n", w.text(&doc.text), t));
        }
        out.push('\n');
    }
    out
}

/// brat `.ann` of one document (entity offsets must be code points, as brat counts them).
pub fn brat_ann(tagged: &TaggedText) -> String {
    let mut out = String::new();
    for (i, e) in tagged.entities.iter().enumerate() {
        out.push_str(&format!("T{}\t{} {} {}\t{}\n", i + 1, e.label, e.start, e.end, e.text.replace('\n', " ")));
    }
    for (i, p) in tagged.pairs.iter().flatten().enumerate() {
        out.push_str(&format!("R{}\tAbbreviation Arg1:T{} Arg2:T{}\n", i + 1, p.ac + 1, p.lf + 1));
    }
    out
}

/// A file name for brat output from an id (path separators and odd characters replaced).
fn brat_name(id: &Value) -> String {
    id_key(id).chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// What `predict` reads and writes.
pub struct PredictJob {
    /// `None` = the `texts` given on the command line.
    pub input: Option<PathBuf>,
    pub texts: Vec<String>,
    pub jsonl: bool,
    pub whole_file: bool,
    /// `None` = stdout (JSONL / CoNLL only).
    pub output: Option<PathBuf>,
    pub format: Format,
    /// Tagging scheme of CoNLL output.
    pub scheme: Scheme,
    pub shard: Option<Shard>,
    pub resume: bool,
    pub on_error: OnError,
    pub options: TagOptions,
    /// Documents tagged per engine round (their windows sorted by length, then batched).
    pub chunk: usize,
    /// A round also ends once its documents hold this many bytes of text (memory stays flat on huge documents).
    pub chunk_bytes: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PredictSummary {
    pub documents: usize,
    pub sentences: usize,
    pub entities: usize,
    pub skipped_resume: usize,
    pub bad_lines: usize,
}

/// Runs `job` with `tagger`: documents in input order ([`input`]) pass the shard, resume and bad-line checks
/// ([`Gate`]), are tagged in rounds of `chunk` documents (or `chunk_bytes` of text) and written by the [`Sink`];
/// `progress` is told the number of documents done after each round.
pub fn run(tagger: &mut TextTagger, job: &PredictJob, progress: &dyn Fn(usize)) -> anyhow::Result<PredictSummary> {
    let mut summary = PredictSummary::default();
    let mut gate = Gate::new(job)?;
    let mut sink = Sink::open(job)?;
    let mut pending: Vec<Document> = Vec::new();
    // bytes of text in `pending`, kept as documents arrive (summing it per document made a round quadratic)
    let mut pending_bytes = 0;
    for item in input::open(job)? {
        let (k, item) = item?;
        let Some(doc) = gate.admit(k, item, &mut summary)? else { continue };
        pending_bytes += doc.text.len();
        pending.push(doc);
        if pending.len() >= job.chunk.max(1) || pending_bytes >= job.chunk_bytes {
            tag_round(tagger, job, &mut pending, &mut sink, &mut summary)?;
            progress(summary.documents);
            pending_bytes = 0;
        }
    }
    if !pending.is_empty() {
        tag_round(tagger, job, &mut pending, &mut sink, &mut summary)?;
        progress(summary.documents);
    }
    Ok(summary)
}

/// Tags the documents of one round together and writes them; empties `pending`.
fn tag_round(
    tagger: &mut TextTagger,
    job: &PredictJob,
    pending: &mut Vec<Document>,
    sink: &mut Sink,
    summary: &mut PredictSummary,
) -> anyhow::Result<()> {
    let texts: Vec<&str> = pending.iter().map(|d| d.text.as_str()).collect();
    let tagged = tagger.tag(&texts, &job.options)?;
    for (doc, t) in pending.iter().zip(&tagged) {
        summary.documents += 1;
        summary.sentences += t.sentences.len();
        summary.entities += t.entities.len();
        sink.write(doc, t)?;
    }
    sink.flush()?;
    pending.clear();
    Ok(())
}

/// Which documents of the input this run tags: its shard, not already done (`--resume`), well-formed — a bad
/// line stops the run, or with `--on-error skip` goes to `<output>.errors.jsonl`.
struct Gate {
    shard: Option<Shard>,
    /// Ids (and brat file names) already in the output.
    done: HashSet<String>,
    brat: bool,
    on_error: OnError,
    errors_path: PathBuf,
    errors: Option<std::fs::File>,
}

impl Gate {
    fn new(job: &PredictJob) -> anyhow::Result<Self> {
        use anyhow::Context;
        let done = match (&job.output, job.resume, job.format) {
            (Some(p), true, Format::Jsonl) => completed_ids(p).with_context(|| format!("reading {}", p.display()))?,
            (Some(p), true, Format::Brat) => std::fs::read_dir(p)
                .map(|d| {
                    d.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".ann").map(String::from)).collect()
                })
                .unwrap_or_default(),
            (_, true, _) => anyhow::bail!("--resume needs --output FILE with --format jsonl or brat"),
            _ => HashSet::new(),
        };
        let errors_path = job.output.as_ref().map_or_else(
            || PathBuf::from("predict.errors.jsonl"),
            |p| PathBuf::from(format!("{}.errors.jsonl", p.display())),
        );
        Ok(Gate {
            shard: job.shard,
            done,
            brat: job.format == Format::Brat,
            on_error: job.on_error,
            errors_path,
            errors: None,
        })
    }

    /// The document at input position `k` if this run tags it.
    fn admit(
        &mut self,
        k: usize,
        item: Result<Document, BadLine>,
        summary: &mut PredictSummary,
    ) -> anyhow::Result<Option<Document>> {
        if self.shard.is_some_and(|s| k % s.count != s.index) {
            return Ok(None);
        }
        match item {
            Ok(doc)
                if self.done.contains(&id_key(&doc.id)) || (self.brat && self.done.contains(&brat_name(&doc.id))) =>
            {
                summary.skipped_resume += 1;
                Ok(None)
            }
            Ok(doc) => Ok(Some(doc)),
            Err(bad) if self.on_error == OnError::Skip => {
                summary.bad_lines += 1;
                tracing::warn!("{bad} (written to {})", self.errors_path.display());
                if self.errors.is_none() {
                    self.errors = Some(std::fs::OpenOptions::new().create(true).append(true).open(&self.errors_path)?);
                }
                let rec = json!({"origin": bad.origin, "line": bad.line, "error": bad.message, "raw": bad.raw});
                writeln!(self.errors.as_mut().expect("opened"), "{rec}")?;
                Ok(None)
            }
            Err(bad) => {
                anyhow::bail!("{bad} (--on-error skip writes such lines to {} and goes on)", self.errors_path.display())
            }
        }
    }
}
