//! What tagging returns: entities with offsets into the input text, and the options that shape them.

use super::text::CharIndex;

pub use nerkit_api::{Aggregation, Entity, Offsets, TagOptions};

/// Converts byte offsets of `entities` into code points of `text` (in place).
pub fn to_char_offsets(text: &str, entities: &mut [Entity]) {
    let index = CharIndex::new(text);
    for e in entities {
        e.start = index.char_offset(e.start);
        e.end = index.char_offset(e.end);
    }
}

/// The entity type of a label: `B-AC` → `AC`, `LF` → `LF`.
pub fn entity_type(label: &str) -> &str {
    label.strip_prefix("B-").or_else(|| label.strip_prefix("I-")).unwrap_or(label)
}
