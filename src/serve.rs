//! `nerkit serve`: the raw-text tagger ([`crate::infer::TextTagger`]) behind the HTTP server's
//! [`nerkit_server::Engine`] trait, whose results are the wire types
//! already (`nerkit-api`).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nerkit_server::api;
use nerkit_server::{Engine, EngineError, TokenCounter};

use crate::infer::tagger::TagError;
use crate::infer::{EngineChoice, TaggedText, TextTagger};

/// A model served over HTTP.
pub struct ServeEngine {
    tagger: TextTagger,
    model_id: String,
}

impl ServeEngine {
    /// Opens `model_dir` on `choice` as `lanes` engines sharing `threads` (see [`TextTagger::open_lanes`]:
    /// exported on first use when needed).
    pub fn open(
        model_dir: &Path,
        choice: EngineChoice,
        threads: Option<usize>,
        lanes: usize,
    ) -> Result<ServeEngine, TagError> {
        Self::open_lanes(model_dir, choice, threads, Some(lanes))
    }

    /// [`Self::open`] with the device's default lane count when `lanes` is `None` (as `nerkit predict` does).
    pub fn open_lanes(
        model_dir: &Path,
        choice: EngineChoice,
        threads: Option<usize>,
        lanes: Option<usize>,
    ) -> Result<ServeEngine, TagError> {
        let tagger = TextTagger::open_lanes(model_dir, choice, threads, lanes)?;
        Ok(ServeEngine { tagger, model_id: model_dir.display().to_string() })
    }
}

/// One tagged text as the wire answer (the same JSON as a `nerkit predict --format jsonl` record): the same
/// types, without the words kept for CoNLL output.
pub fn to_wire(t: TaggedText) -> api::TagResult {
    api::TagResult { entities: t.entities, pairs: t.pairs, glossary: t.glossary }
}

impl Engine for ServeEngine {
    fn info(&self) -> api::ModelInfo {
        api::ModelInfo {
            model_id: self.model_id.clone(),
            labels: self.tagger.labels().labels().to_vec(),
            entity_types: self.tagger.labels().entity_types(),
            pairs: self.tagger.pair_types().cloned(),
            backend: self.tagger.engine().to_string(),
            backend_reasons: self.tagger.backend_reasons().to_vec(),
            max_len: self.tagger.max_len(),
        }
    }

    fn token_counter(&self) -> TokenCounter {
        let tokenizer = self.tagger.encoder().tokenizer().clone();
        Arc::new(move |text: &str| match tokenizer.encode_fast(text, false) {
            Ok(enc) => enc.len(),
            Err(_) => text.len() / 4 + 1,
        })
    }

    fn tag(&mut self, texts: &[&str], opts: &api::TagOptions) -> Result<Vec<api::TagResult>, EngineError> {
        opts.decoding().map_err(EngineError::Invalid)?;
        let tagged = self.tagger.tag(texts, opts).map_err(|e| EngineError::Failed(e.to_string()))?;
        Ok(tagged.into_iter().map(to_wire).collect())
    }
}

/// What `--model embedded` means: the bundled sentence encoder, which has no trained token-classification head.
pub fn refuse_untrained(model: &Path) -> Result<PathBuf, String> {
    if model.as_os_str() == "embedded" {
        return Err(format!(
            "`--model embedded` is the bundled all-MiniLM-L6-v2 encoder ({}), which has no trained \
             token-classification head: train one (`nerkit train --data ../shared/data/plod/plod-cw-2024-lowercased/train.jsonl \
             --out runs/quick`) and serve it with `--model runs/quick/best`",
            crate::paths::embedded_model_dir().display()
        ));
    }
    if !model.is_dir() {
        return Err(format!("model directory {} does not exist", model.display()));
    }
    Ok(model.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abbrev::{Evidence, PairRule};
    use crate::infer::glossary::{GlossaryEntry, OtherDefinition, Pair};
    use crate::infer::Entity;

    #[test]
    fn the_wire_keeps_every_field_of_pairs_and_glossary() {
        let e = |label: &str, text: &str, start| Entity {
            label: label.into(),
            text: text.into(),
            start,
            end: start + text.len(),
            score: 0.5,
            word: None,
        };
        let entities =
            vec![e("LF", "echo planar imaging", 0), e("AC", "EPI", 21), e("LF", "epithelium", 27), e("AC", "EPI", 40)];
        let pair = |ac, lf, evidence| Pair { ac, lf, rule: PairRule::Parenthesised, evidence, score: 0.25 };
        let other = OtherDefinition { long_form: "epithelium".into(), ac: 3, lf: 2 };
        let entry = GlossaryEntry {
            long_form: "echo planar imaging".into(),
            ac: 1,
            lf: 0,
            mentions: vec![1, 3],
            other_definitions: vec![other],
        };
        let tagged = TaggedText {
            entities,
            pairs: Some(vec![pair(1, 0, Evidence::Both), pair(3, 2, Evidence::Model)]),
            glossary: Some([("EPI".to_string(), entry)].into()),
            sentences: Vec::new(),
        };
        // the wire answer serialises to the same JSON as the tagger's own record (what `nerkit predict` writes)
        let own = serde_json::to_value(&tagged).unwrap();
        let wire = serde_json::to_value(to_wire(tagged)).unwrap();
        assert_eq!(wire, own);
        assert_eq!(wire["pairs"][1]["evidence"], "model");
        assert_eq!(wire["glossary"]["EPI"]["other_definitions"][0]["long_form"], "epithelium");
    }
}
