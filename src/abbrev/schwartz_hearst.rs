//! The Schwartz–Hearst algorithm (PSB 2003) on the words of one sentence: the rules-only baseline
//! (`--pairs rules`, `evaluate --baseline rules`) and the candidate generator of the hybrid decoder.
//!
//! For each parenthesis: when its content (up to the first `,` or `;`) is a short-form candidate
//! ([`letters::is_short_form`]), the long form is the shortest run of words right before the `(`, at most
//! [`letters::window`] words, that the short form's letters align with (`long form (SF)`). Otherwise, when the
//! word before the `(` is a short-form candidate and the content aligns with it, the content is the long
//! form (`SF (long form)`). A long form must be longer than its short form and must not contain it as a word.
use std::ops::Range;

use super::letters;

/// Where a parenthesised definition can be: the short form's words, and where its long form may lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub short: Range<usize>,
    /// The words the long form is searched in; it ends at `region.end` (before the `(`, or the `)`).
    pub region: Range<usize>,
    /// `SF (long form)` rather than `long form (SF)`.
    pub reversed: bool,
}

/// One definition the rules found: short-form words and long-form words (indices into the sentence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub short: Range<usize>,
    pub long: Range<usize>,
    pub reversed: bool,
}

/// The index of the `)` closing the `(` at `open`, when no other parenthesis opens in between.
fn closing(words: &[&str], open: usize) -> Option<usize> {
    let rel = words[open + 1..].iter().position(|w| *w == ")" || *w == "(")?;
    (words[open + 1 + rel] == ")").then_some(open + 1 + rel)
}

/// The parenthesised places where a definition may be, in sentence order.
pub fn candidates(words: &[&str]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for open in (0..words.len()).filter(|&i| words[i] == "(") {
        let Some(close) = closing(words, open) else { continue };
        // the content up to its first `,` or `;`
        let end = (open + 1..close).find(|&i| words[i] == "," || words[i] == ";").unwrap_or(close);
        if end == open + 1 {
            continue;
        }
        let content = words[open + 1..end].join(" ");
        if end - open - 1 <= 2 && letters::is_short_form(&content) {
            let window = letters::window(&content);
            let first = open.saturating_sub(window);
            out.push(Candidate { short: open + 1..end, region: first..open, reversed: false });
        } else if open >= 1 && letters::is_short_form(words[open - 1]) {
            let sf = words[open - 1];
            if end - open - 1 <= letters::window(sf) {
                out.push(Candidate { short: open - 1..open, region: open + 1..end, reversed: true });
            }
        }
    }
    out
}

/// Entries of abbreviation lists ("Abbreviations: BMI, body mass index; CI, confidence interval."), where the
/// hybrid decoder also looks for definitions (Schwartz–Hearst does not): a short-form candidate word that
/// starts the sentence or follows `;` `:` `.`, then `,` `:` or `=`, then the long form up to the next `;` or
/// `.` (or the sentence end; with `:` or `=`, also a `,`), at most [`letters::window`] words. The long form
/// is the whole region (`reversed`: it follows the short form).
pub fn list_candidates(words: &[&str]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for i in 0..words.len().saturating_sub(2) {
        let sep = words[i + 1];
        if !matches!(sep, "," | ":" | "=") || !letters::is_short_form(words[i]) {
            continue;
        }
        let comma_ok = sep != ",";
        let opens = i == 0 || matches!(words[i - 1], ";" | ":" | ".") || (comma_ok && words[i - 1] == ",");
        if !opens {
            continue;
        }
        let start = i + 2;
        let end = (start..words.len())
            .find(|&k| matches!(words[k], ";" | ".") || (comma_ok && words[k] == ","))
            .unwrap_or(words.len());
        if end > start && end - start <= letters::window(words[i]) {
            out.push(Candidate { short: i..i + 1, region: start..end, reversed: true });
        }
    }
    out
}

/// Whether `long` is an acceptable long form for `short` (longer than it, not containing it as a word).
pub fn plausible(words: &[&str], short: &Range<usize>, long: &Range<usize>) -> bool {
    let sf = words[short.clone()].join(" ").to_lowercase();
    let lf = words[long.clone()].join(" ");
    lf.chars().count() > sf.chars().count() && !words[long.clone()].iter().any(|w| w.to_lowercase() == sf)
}

/// The definitions Schwartz–Hearst finds in one sentence.
pub fn definitions(words: &[&str]) -> Vec<Found> {
    let mut out = Vec::new();
    for c in candidates(words) {
        let sf = words[c.short.clone()].join(" ");
        let region = &words[c.region.clone()];
        let long = if c.reversed {
            // the whole content must be the long form
            letters::aligns(&sf, region).then(|| c.region.clone())
        } else {
            letters::best_start(&sf, region).map(|s| c.region.start + s..c.region.end)
        };
        if let Some(long) = long.filter(|l| !l.is_empty() && plausible(words, &c.short, l)) {
            out.push(Found { short: c.short, long, reversed: c.reversed });
        }
    }
    out
}

/// The rules' entities for one sentence: each definition's short and long form, and every later mention of a
/// defined short form (same text, case-insensitive), as scispaCy links them. Ranges with `true` for short
/// forms; sorted by start.
pub fn entities(words: &[&str], found: &[Found]) -> Vec<(Range<usize>, bool)> {
    let mut out: Vec<(Range<usize>, bool)> = Vec::new();
    for f in found {
        out.push((f.short.clone(), true));
        out.push((f.long.clone(), false));
    }
    for f in found {
        let sf: Vec<String> = words[f.short.clone()].iter().map(|w| w.to_lowercase()).collect();
        let n = sf.len();
        for i in f.short.end..words.len().saturating_sub(n - 1) {
            let here = i..i + n;
            let same = words[here.clone()].iter().zip(&sf).all(|(w, s)| w.to_lowercase() == *s);
            if same && !out.iter().any(|(r, _)| r.start < here.end && here.start < r.end) {
                out.push((here, true));
            }
        }
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

/// The rules' BIO tags for one sentence (`B-<short>` on each short-form word — `I-<short>` after the first
/// when the label set has it; `B-<long> I-<long>…` on long forms), `O` elsewhere.
pub fn tags(words: &[&str], short: &str, long: &str, short_has_inside: bool) -> Vec<String> {
    let mut tags = vec![String::from("O"); words.len()];
    for (range, is_short) in entities(words, &definitions(words)) {
        for w in range.clone() {
            let inside = w > range.start && (!is_short || short_has_inside);
            let kind = if is_short { short } else { long };
            tags[w] = format!("{}-{kind}", if inside { "I" } else { "B" });
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn the_papers_forms() {
        let s = w("the heat shock transcription factor ( HSF ) binds ; HSF trimerizes");
        let f = definitions(&s);
        assert_eq!(f, vec![Found { short: 6..7, long: 1..5, reversed: false }]);
        let e = entities(&s, &f);
        assert_eq!(e, vec![(1..5, false), (6..7, true), (10..11, true)]);
        let t = tags(&s, "AC", "LF", false);
        assert_eq!(t.join(" "), "O B-LF I-LF I-LF I-LF O B-AC O O O B-AC O");
        // SF (long form)
        let s = w("we measured TNF ( tumor necrosis factor ) levels");
        assert_eq!(definitions(&s), vec![Found { short: 2..3, long: 4..7, reversed: true }]);
        // content after a comma is not part of the short form
        let s = w("echo planar imaging ( EPI , see methods )");
        assert_eq!(definitions(&s), vec![Found { short: 4..5, long: 0..3, reversed: false }]);
    }

    #[test]
    fn no_definition_without_alignment_or_a_candidate() {
        assert!(definitions(&w("levels of copper ( cu ) rose")).is_empty());
        assert!(definitions(&w("as shown before ( 1995 )")).is_empty());
        assert!(definitions(&w("see the results ( figure 2 shows the trend clearly here )")).is_empty());
        // a long form may not contain the short form
        assert!(definitions(&w("the EPI sequence ( EPI )")).is_empty());
    }

    #[test]
    fn abbreviation_list_entries() {
        let s = w("abbreviations : bmi , body mass index ; ci , confidence interval .");
        let c = list_candidates(&s);
        assert_eq!(
            c.iter().map(|c| (c.short.start, c.region.clone())).collect::<Vec<_>>(),
            vec![(2, 4..7), (8, 10..12)]
        );
        // not inside running text
        assert!(list_candidates(&w("we saw bmi , body mass index ; and more")).is_empty());
    }

    #[test]
    fn the_window_bounds_the_long_form() {
        // "ab": window min(2 + 5, 4) = 4 words
        let s = w("a one two three four bee ( ab )");
        assert!(definitions(&s).is_empty(), "a 6-word long form is outside the window");
        let s = w("x y alpha beta ( ab )");
        assert_eq!(definitions(&s)[0].long, 2..4);
    }
}
