//! The Hugging Face pipeline as a turn in `nerkit bench --end-to-end FILE --compare-python PYTHON`: the
//! reference script `benches/reference/hf_pipeline_predict.py` (built into the binary) runs under the user's
//! Python as a child process that loads the same trained model directory once, then tags all documents at
//! batch size B whenever asked. Its turns sit in the same interleaved rounds as nerkit's engines, so the ratio
//! to the pipeline is measured on one machine in one run, not assumed from another day's numbers.
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{bail, Context};

/// The reference script, as committed.
pub const SCRIPT: &str = include_str!("../../benches/reference/hf_pipeline_predict.py");

/// A running reference process.
pub struct HfPipeline {
    child: Child,
    /// Closed on drop: the script stops at the end of its input (no write to a process that may be gone: nerkit
    /// dies of SIGPIPE like other command-line tools).
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The script, the texts and the child's stderr.
    dir: tempfile::TempDir,
    python: PathBuf,
}

impl HfPipeline {
    /// Starts `python` on the reference script for the trained `model_dir` (config.json, model.safetensors,
    /// tokenizer files: what `transformers` loads) and `docs`, with `threads` PyTorch threads; returns once the
    /// model is loaded and warmed up.
    pub fn start(python: &Path, model_dir: &Path, docs: &[String], threads: usize) -> anyhow::Result<HfPipeline> {
        for file in ["config.json", "model.safetensors", "tokenizer.json"] {
            if !model_dir.join(file).is_file() {
                bail!(
                    "--compare-python runs the Hugging Face pipeline on the trained model directory, but {} has no \
                     {file} (give the training run's best/ directory as --model, or as --compare-model)",
                    model_dir.display()
                );
            }
        }
        let dir = tempfile::tempdir().context("creating a directory for the reference script")?;
        let (script, texts) = (dir.path().join("hf_pipeline_predict.py"), dir.path().join("texts.json"));
        std::fs::write(&script, SCRIPT)?;
        std::fs::write(&texts, serde_json::to_vec(docs)?)?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let mut child = Command::new(python)
            .arg(&script)
            .arg(model_dir)
            .arg(&texts)
            .arg(threads.to_string())
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut hf = HfPipeline { child, stdin, stdout, dir, python: python.to_path_buf() };
        let line = hf.read_line()?;
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["ready", n] if n.parse() == Ok(docs.len()) => Ok(hf),
            _ => bail!("{}: expected `ready {}` from the reference script, got {line:?}", python.display(), docs.len()),
        }
    }

    /// One pass over all documents at `batch`: (seconds, entities).
    pub fn run(&mut self, batch: usize) -> anyhow::Result<(f64, usize)> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.failed(anyhow::anyhow!("it exited ({status})")));
        }
        let stdin = self.stdin.as_mut().expect("open until drop");
        writeln!(stdin, "run {batch}").and_then(|()| stdin.flush()).map_err(|e| self.failed(e.into()))?;
        let line = self.read_line()?;
        let parsed = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [secs, n] => secs.parse::<f64>().ok().zip(n.parse::<usize>().ok()),
            _ => None,
        };
        parsed.filter(|(s, _)| s.is_finite() && *s > 0.0).with_context(|| {
            format!("{}: expected `SECONDS ENTITIES` from the reference script, got {line:?}", self.python.display())
        })
    }

    /// The next stdout line; the end of output is an error carrying the tail of the child's stderr.
    fn read_line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(self.failed(anyhow::anyhow!("it exited"))),
            Ok(_) => Ok(line.trim().to_string()),
            Err(e) => Err(self.failed(e.into())),
        }
    }

    fn failed(&mut self, e: anyhow::Error) -> anyhow::Error {
        let _ = self.child.wait();
        let log = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
        anyhow::anyhow!(
            "the Hugging Face pipeline reference under {} failed ({e}); it needs torch and transformers; its stderr \
             ends with:\n{}",
            self.python.display(),
            tail.join("\n")
        )
    }
}

impl Drop for HfPipeline {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
