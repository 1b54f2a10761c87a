//! Abbreviation definitions: which long form a short form stands for, found by the model, by the letters
//! (Schwartz–Hearst), or by both.
//!
//! - [`letters`]: the letter alignment of a short form with a long form;
//! - [`schwartz_hearst`]: the 2003 rules on the words of a sentence (the `rules` mode and the baseline);
//! - [`definitions`]: definitions read off entity spans by layout (gold definitions, and the hybrid's pairs);
//! - [`hybrid`]: the default decoding, where the model's scores and the letters choose a long form together;
//! - [`model_pairing`]: `--pairs model`, the pairing by layout, re-mention and distance of the model's entities.
pub mod definitions;
pub mod hybrid;
pub mod letters;
pub mod model_pairing;
pub mod schwartz_hearst;

use serde::{Deserialize, Serialize};

pub use definitions::{definitions, Definition};
pub use hybrid::HybridOptions;

/// The PLOD types: abbreviation (short form) and long form.
pub const AC: &str = "AC";
pub const LF: &str = "LF";

/// How a pair was formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairRule {
    /// `long form ( SF )` or `SF ( long form )`.
    Parenthesised,
    /// An entry of an abbreviation list: `SF , long form ;`, `SF : long form .`, `SF = long form ;`.
    Listed,
    /// `--pairs model` only: the same abbreviation (case-insensitive) is defined in brackets elsewhere in the
    /// sentence.
    Remention,
    /// `--pairs model` only: the nearest long form in the sentence.
    Nearest,
}

impl PairRule {
    pub fn name(self) -> &'static str {
        match self {
            PairRule::Parenthesised => "parenthesised",
            PairRule::Listed => "listed",
            PairRule::Remention => "remention",
            PairRule::Nearest => "nearest",
        }
    }
}

/// What a pair rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The model tagged both sides and the short form's letters align with the long form.
    Both,
    /// The model's tags alone (the letters do not align, e.g. "copper (Cu)").
    Model,
    /// The letters set the long form (Schwartz–Hearst, or the hybrid decoder moved or added it).
    Letters,
}

impl Evidence {
    pub fn name(self) -> &'static str {
        match self {
            Evidence::Both => "both",
            Evidence::Model => "model",
            Evidence::Letters => "letters",
        }
    }
}

/// Where abbreviation definitions come from (`--pairs`, the `pairs` request option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PairMode {
    /// The model's entities, paired by layout (parenthesised, then re-mention, then nearest long form) — the
    /// pairing before hybrid decoding.
    Model,
    /// Schwartz–Hearst alone: its definitions and the later mentions of their short forms are the entities.
    Rules,
    /// The model's scores and the letters together ([`hybrid`]); pairs are definitions by layout.
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
