//! Where `predict` writes: JSONL records or CoNLL lines to a file (appended with `--resume`) or stdout, or a
//! `.txt` + `.ann` pair per document in a brat directory.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::{brat_ann, brat_name, conll, record, Document, Format, PredictJob};
use crate::data::Scheme;
use crate::infer::TaggedText;

pub enum Sink {
    Jsonl(Box<dyn Write>),
    Conll(Box<dyn Write>, Scheme),
    Brat(PathBuf),
}

impl Sink {
    /// Opens the job's output (creates the brat directory; truncates the file unless resuming).
    pub fn open(job: &PredictJob) -> anyhow::Result<Sink> {
        if job.format == Format::Brat {
            let Some(dir) = &job.output else {
                anyhow::bail!("--format brat writes one .txt + .ann per document: give --output DIR");
            };
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            return Ok(Sink::Brat(dir.clone()));
        }
        let out: Box<dyn Write> = match &job.output {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(job.resume)
                    .truncate(!job.resume)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        Ok(if job.format == Format::Conll { Sink::Conll(out, job.scheme) } else { Sink::Jsonl(out) })
    }

    /// Writes one tagged document (a JSONL record in one `write`).
    pub fn write(&mut self, doc: &Document, tagged: &TaggedText) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(out) => {
                let mut line = serde_json::to_vec(&record(doc, tagged))?;
                line.push(b'\n');
                out.write_all(&line)?;
            }
            Sink::Conll(out, scheme) => out.write_all(conll(doc, tagged, *scheme).as_bytes())?,
            Sink::Brat(dir) => {
                let name = brat_name(&doc.id);
                std::fs::write(dir.join(format!("{name}.txt")), &doc.text)?;
                // .ann last: its presence marks the document done for --resume
                std::fs::write(dir.join(format!("{name}.ann")), brat_ann(tagged))?;
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(out) | Sink::Conll(out, _) => out.flush()?,
            Sink::Brat(_) => {}
        }
        Ok(())
    }
}
