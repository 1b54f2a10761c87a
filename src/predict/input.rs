//! The documents of a `predict` job in input order: command-line texts, a whole file as one document, or one
//! document per line of a text or JSONL file (stdin with `-`), read line by line so memory stays flat.
use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use super::{parse_line, BadLine, Document, PredictJob};

/// One input position: its 0-based index (what sharding counts) and the document or why its line is bad.
pub type Item = (usize, Result<Document, BadLine>);

/// The job's documents; a read error ends the iteration with that error.
pub struct Input {
    source: Source,
    next: usize,
}

enum Source {
    /// Documents already parsed (command-line texts, a whole file).
    Parsed(std::vec::IntoIter<Result<Document, BadLine>>),
    Lines {
        reader: Box<dyn BufRead>,
        origin: String,
        jsonl: bool,
        buf: Vec<u8>,
    },
}

/// Opens the job's input.
pub fn open(job: &PredictJob) -> anyhow::Result<Input> {
    let source = match &job.input {
        None => Source::Parsed(
            job.texts
                .iter()
                .enumerate()
                .map(|(k, t)| parse_line(t.as_bytes(), k + 1, "argument", false))
                .collect::<Vec<_>>()
                .into_iter(),
        ),
        Some(path) => {
            let origin = path.display().to_string();
            let mut reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(path).with_context(|| format!("opening {origin}"))?;
                Box::new(std::io::BufReader::with_capacity(1 << 20, f))
            };
            if job.whole_file {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes).with_context(|| format!("reading {origin}"))?;
                let item = parse_line(&bytes, 1, &origin, false).map(|mut d| {
                    d.id = json!(Path::new(&origin)
                        .file_stem()
                        .map_or(origin.clone(), |s| s.to_string_lossy().into_owned()));
                    d
                });
                Source::Parsed(vec![item].into_iter())
            } else {
                Source::Lines { reader, origin, jsonl: job.jsonl, buf: Vec::new() }
            }
        }
    };
    Ok(Input { source, next: 0 })
}

impl Iterator for Input {
    type Item = anyhow::Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        let k = self.next;
        let item = match &mut self.source {
            Source::Parsed(items) => items.next()?,
            Source::Lines { reader, origin, jsonl, buf } => {
                buf.clear();
                match reader.read_until(b'\n', buf).with_context(|| format!("reading {origin}")) {
                    Err(e) => return Some(Err(e)),
                    Ok(0) => return None,
                    Ok(_) => {}
                }
                let line = buf.strip_suffix(b"\n").unwrap_or(buf);
                parse_line(line, k + 1, origin, *jsonl)
            }
        };
        self.next += 1;
        Some(Ok((k, item)))
    }
}
