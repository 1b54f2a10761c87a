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

pub use definitions::{definitions, Definition};
pub use hybrid::HybridOptions;

/// The PLOD types: abbreviation (short form) and long form.
pub const AC: &str = "AC";
pub const LF: &str = "LF";

pub use nerkit_api::{Evidence, PairMode, PairRule};
