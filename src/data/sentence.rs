use serde::{Deserialize, Serialize};

/// One labelled sentence: pre-split words and one BIO tag per word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    /// Where the sentence came from, for error messages: `train.jsonl:17`, `PLOD-CW-25-Val.parquet#row 3`.
    pub origin: String,
    pub words: Vec<String>,
    pub tags: Vec<String>,
}

/// A named split (train, validation, test) of sentences.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub name: String,
    pub sentences: Vec<Sentence>,
}

impl Dataset {
    pub fn num_tokens(&self) -> usize {
        self.sentences.iter().map(|s| s.words.len()).sum()
    }
}
