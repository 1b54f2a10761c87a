//! How a text is tagged: the options of `nerkit predict`, `POST /tag` and `nerkit.Tagger.tag`.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How sub-word predictions become entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// nerkit's own: PLOD-style words (each word's first sub-word), sentence by sentence, decoded with
    /// `decode` (BIO-constrained Viterbi by default). What the model was trained and evaluated on.
    #[default]
    Native,
    /// Hugging Face `aggregation_strategy="none"`: one entity per sub-word token.
    None,
    /// Hugging Face `"simple"`: adjacent tokens of one type grouped (B- starts a new group).
    Simple,
    /// Hugging Face `"first"`: each tokenizer word takes its first sub-word's label, then grouped.
    First,
    /// Hugging Face `"average"`: each word takes the label of its sub-words' mean probabilities.
    Average,
    /// Hugging Face `"max"`: each word takes the label of its most confident sub-word.
    Max,
}

impl Aggregation {
    /// The Hugging Face pipeline's strategies (as opposed to [`Aggregation::Native`]).
    pub fn is_hf(self) -> bool {
        self != Aggregation::Native
    }

    /// The name on the wire and the command line.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Native => "native",
            Aggregation::None => "none",
            Aggregation::Simple => "simple",
            Aggregation::First => "first",
            Aggregation::Average => "average",
            Aggregation::Max => "max",
        }
    }
}

/// Word decoding of the native aggregation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Decoding {
    /// Most probable label per word.
    Argmax,
    /// Most probable BIO-valid label sequence per sentence.
    #[default]
    Viterbi,
}

/// Unit of entity offsets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Offsets {
    /// Unicode code points (Python `str` indices).
    #[default]
    Chars,
    /// UTF-8 bytes (Rust `str` indices).
    Bytes,
}

/// Where abbreviation definitions come from (models with pair types): `--pairs`, the `pairs` request option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum PairMode {
    /// The model's entities, paired by layout (parenthesised, then re-mention, then nearest long form) — the
    /// pairing before hybrid decoding.
    Model,
    /// Schwartz–Hearst alone: its definitions and the later mentions of their short forms are the entities.
    Rules,
    /// The model's scores and the short forms' letters together; pairs are definitions by layout.
    #[default]
    Hybrid,
}

impl PairMode {
    pub fn name(self) -> &'static str {
        match self {
            PairMode::Model => "model",
            PairMode::Rules => "rules",
            PairMode::Hybrid => "hybrid",
        }
    }
}

/// The request's `pairs`: `true` / `false` (include pairs and glossary or not; `true` = `hybrid`), or the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PairsOption {
    Include(bool),
    Mode(PairMode),
}

impl PairsOption {
    /// Reads `pairs` with an error that names what it accepts (serde's untagged enums say only "did not
    /// match any variant").
    pub fn deserialize_named<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let expected = "`pairs` must be true, false, \"hybrid\", \"model\" or \"rules\"";
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(b) => Ok(PairsOption::Include(b)),
            serde_json::Value::String(s) => match s.as_str() {
                "hybrid" => Ok(PairsOption::Mode(PairMode::Hybrid)),
                "model" => Ok(PairsOption::Mode(PairMode::Model)),
                "rules" => Ok(PairsOption::Mode(PairMode::Rules)),
                other => Err(D::Error::custom(format!("unknown variant `{other}` of `pairs`: {expected}"))),
            },
            other => Err(D::Error::custom(format!("{expected}, not {other}"))),
        }
    }

    /// The mode to tag with, and whether pairs and glossary are returned.
    pub fn resolve(self) -> (PairMode, bool) {
        match self {
            PairsOption::Include(keep) => (PairMode::default(), keep),
            PairsOption::Mode(m) => (m, true),
        }
    }
}

impl Default for PairsOption {
    fn default() -> Self {
        PairsOption::Include(true)
    }
}

/// Options of one tagging call; requests with equal options share engine batches in the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TagOptions {
    pub aggregation: Aggregation,
    /// Word decoding for the native aggregation (`None` = Viterbi). The Hugging Face strategies decode by
    /// argmax, as the pipeline does; asking them for Viterbi is an error.
    pub decode: Option<Decoding>,
    pub offsets: Offsets,
    /// Sub-word overlap between consecutive token windows of a long text under a Hugging Face strategy (the
    /// pipeline's `stride`); `None` = the tagger's default (32). The native path windows sentences with the
    /// tagger's own stride.
    pub stride: Option<usize>,
    /// How abbreviation definitions are decided (models with pair types).
    #[serde(default)]
    pub pairs: PairMode,
}

impl TagOptions {
    /// The decoding the native path uses; an error for a Hugging Face strategy with Viterbi.
    pub fn decoding(&self) -> Result<Decoding, String> {
        match (self.aggregation.is_hf(), self.decode) {
            (true, Some(Decoding::Viterbi)) => Err(format!(
                "decode = viterbi applies to the native aggregation only; the Hugging Face strategy `{}` decodes by argmax",
                self.aggregation.name()
            )),
            (true, _) => Ok(Decoding::Argmax),
            (false, d) => Ok(d.unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugging_face_strategies_decode_by_argmax_only() {
        let hf = TagOptions { aggregation: Aggregation::First, ..Default::default() };
        assert_eq!(hf.decoding(), Ok(Decoding::Argmax));
        let err = TagOptions { decode: Some(Decoding::Viterbi), ..hf }.decoding().unwrap_err();
        assert!(err.contains("`first` decodes by argmax"), "{err}");
        assert_eq!(TagOptions::default().decoding(), Ok(Decoding::Viterbi));
    }

    #[test]
    fn pairs_option_names_what_it_accepts() {
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "PairsOption::deserialize_named")]
            pairs: PairsOption,
        }
        let read = |j: &str| serde_json::from_str::<R>(j).map(|r| r.pairs.resolve());
        assert_eq!(read(r#"{"pairs": false}"#).unwrap(), (PairMode::Hybrid, false));
        assert_eq!(read(r#"{"pairs": "rules"}"#).unwrap(), (PairMode::Rules, true));
        let err = read(r#"{"pairs": "nope"}"#).unwrap_err().to_string();
        assert!(err.contains("`pairs` must be true, false"), "{err}");
    }
}
