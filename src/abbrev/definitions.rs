//! Definitions read off entity spans: where a sentence *defines* an abbreviation, by its layout alone. The same
//! rules derive the gold definitions from gold spans (what `nerkit evaluate` scores pairs against) and the
//! hybrid decoder's pairs from predicted spans:
//!
//! - **parenthesised**: `LF ( AC` (the long form ends right before the `(` that opens the abbreviation) or the
//!   reverse `AC ( LF` (the long form starts right after the `(` that follows the abbreviation);
//! - **listed**, as in abbreviation sections ("Abbreviations: BMI, body mass index; CI, confidence interval."):
//!   `AC SEP LF` with SEP one of `,` `:` `=`, the long form starting right after SEP; the entry starts the
//!   sentence or follows `;` `:` `.` and ends the sentence or comes before `;` `.`. With `:` or `=` as SEP
//!   (unambiguous separators) a `,` may also delimit entries ("cbd : common bile duct , ptcd : ...").
use crate::metrics::Span;

use super::PairRule;

/// One abbreviation definition in a sentence: the short form's span, the long form's span and the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub short: Span,
    pub long: Span,
    pub rule: PairRule,
}

/// The long form among `longs` that `sf` is defined with in parentheses: `LF ( SF` (the long form ends right
/// before the `(` that opens the short form) or `SF ( LF` (it starts right after the `(` that follows it); the
/// first such one in `longs`' order.
pub fn parenthesised<'a>(tokens: &[String], sf: &Span, longs: &[&'a Span]) -> Option<&'a Span> {
    let word = |i: usize| tokens.get(i).map(String::as_str);
    let before = sf.start.checked_sub(1).and_then(word);
    longs.iter().copied().find(|lf| {
        (before == Some("(") && lf.end + 1 == sf.start) || (word(sf.end) == Some("(") && lf.start == sf.end + 1)
    })
}

/// The definitions among `spans` (any order) of one sentence, `short`/`long` naming the two types; each short
/// form has at most one, a parenthesised layout winning over a listed one. Sorted by short-form start.
pub fn definitions(tokens: &[String], spans: &[Span], short: &str, long: &str) -> Vec<Definition> {
    let word = |i: usize| tokens.get(i).map(String::as_str);
    let longs: Vec<&Span> = spans.iter().filter(|s| s.kind == long).collect();
    let mut out = Vec::new();
    for sf in spans.iter().filter(|s| s.kind == short) {
        if let Some(lf) = parenthesised(tokens, sf, &longs) {
            out.push(Definition { short: sf.clone(), long: lf.clone(), rule: PairRule::Parenthesised });
            continue;
        }
        let before = sf.start.checked_sub(1).and_then(word);
        let Some(sep) = word(sf.end).filter(|w| matches!(*w, "," | ":" | "=")) else { continue };
        let Some(lf) = longs.iter().find(|lf| lf.start == sf.end + 1) else { continue };
        let strict = sep == ",";
        let opens = match before {
            None => true,
            Some(w) => matches!(w, ";" | ":" | ".") || (!strict && w == ","),
        };
        let closes = match word(lf.end) {
            None => true,
            Some(w) => matches!(w, ";" | ".") || (!strict && w == ","),
        };
        if opens && closes {
            out.push(Definition { short: sf.clone(), long: (*lf).clone(), rule: PairRule::Listed });
        }
    }
    out.sort_by_key(|d| d.short.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::default_entities;

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    fn defs(text: &str, tags: &str) -> Vec<(usize, usize, usize, PairRule)> {
        let tags: Vec<&str> = tags.split(' ').collect();
        definitions(&toks(text), &default_entities(&tags), "AC", "LF")
            .into_iter()
            .map(|d| (d.short.start, d.long.start, d.long.end, d.rule))
            .collect()
    }

    #[test]
    fn parenthesised_both_ways() {
        let t = "echo planar imaging ( epi ) and epi ( echo planar imaging )";
        let g = "B-LF I-LF I-LF O B-AC O O B-AC O B-LF I-LF I-LF O";
        assert_eq!(defs(t, g), vec![(4, 0, 3, PairRule::Parenthesised), (7, 9, 12, PairRule::Parenthesised)]);
        // the long form must touch the parenthesis
        assert!(defs("echo planar imaging x ( epi )", "B-LF I-LF I-LF O O B-AC O").is_empty());
    }

    #[test]
    fn abbreviation_sections() {
        let t = "abbreviations : bmi , body mass index ; ci , confidence interval .";
        let g = "O O B-AC O B-LF I-LF I-LF O B-AC O B-LF I-LF O";
        assert_eq!(defs(t, g), vec![(2, 4, 7, PairRule::Listed), (8, 10, 12, PairRule::Listed)]);
        let t = "cbd : common bile duct , ptcd : drainage";
        let g = "B-AC O B-LF I-LF I-LF O B-AC O B-LF";
        assert_eq!(defs(t, g), vec![(0, 2, 5, PairRule::Listed), (6, 8, 9, PairRule::Listed)]);
        // a comma-separated list of entities is not a definition (the parenthesis after it is)
        let t = "including osns , local interneurons ( lns )";
        let g = "O B-AC O B-LF I-LF O B-AC O";
        assert_eq!(defs(t, g), vec![(6, 3, 5, PairRule::Parenthesised)]);
        // an unterminated entry is not either
        assert!(defs("nd : not detected or below", "B-AC O B-LF I-LF O O").is_empty());
    }
}
