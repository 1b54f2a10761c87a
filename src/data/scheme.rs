//! Tagging schemes: files may be tagged IOB2 (`B-` begins every entity, nerkit's own), IOB1 (`I-` begins an
//! entity, `B-` only where two entities of one type touch), IOBES/BIOES (`S-` single-word entity, `E-` last
//! word) or BILOU (`U-` unit, `L-` last). [`to_iob2`] converts a sentence on read; [`from_iob2`] writes tags back
//! in a file's scheme (CoNLL output).
//!
//! [`detect`] tells the scheme from the tags of a whole source: any `E-`/`S-` → IOBES, any `L-`/`U-` → BILOU;
//! with only `B-`/`I-`, IOB1 when some entity starts with `I-` and no `B-X` starts an entity anywhere (every
//! `B-X` directly follows another `X` word) — otherwise IOB2, whose stray `I-X` stay warnings (see
//! [`super::validate`]).
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::validate::{Problem, ProblemKind};
use super::Sentence;

/// How a file marks entity boundaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// `B-` begins every entity, `I-` continues it (nerkit's own scheme).
    #[default]
    #[value(alias = "bio")]
    Iob2,
    /// `I-` begins an entity; `B-` only begins one that directly follows another of the same type.
    #[value(alias = "iob")]
    Iob1,
    /// `B-` begin, `I-` inside, `E-` end, `S-` single word.
    #[value(alias = "bioes")]
    Iobes,
    /// `B-` begin, `I-` inside, `L-` last, `U-` unit (single word).
    Bilou,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Iob2 => "IOB2",
            Scheme::Iob1 => "IOB1",
            Scheme::Iobes => "IOBES",
            Scheme::Bilou => "BILOU",
        }
    }

    /// The prefixes of the last word and of a single-word entity (`E-`/`S-` or `L-`/`U-`).
    fn end_single(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scheme::Iobes => Some(("E-", "S-")),
            Scheme::Bilou => Some(("L-", "U-")),
            Scheme::Iob2 | Scheme::Iob1 => None,
        }
    }
}

impl FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Scheme as clap::ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown tagging scheme `{s}` (expected iob2/bio, iob1/iob, iobes/bioes or bilou)"))
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Splits `B-Disease` into (`B-`, `Disease`); `O` and anything without a one-letter prefix give `None`.
fn split(tag: &str) -> Option<(&str, &str)> {
    (tag.len() > 2 && tag.as_bytes()[1] == b'-').then(|| tag.split_at(2))
}

/// The scheme of a source from all its sentences' tags; an error when it mixes `E-`/`S-` with `L-`/`U-`.
pub fn detect(sentences: &[Sentence]) -> Result<Scheme, String> {
    let (mut iobes, mut bilou, mut i_starts, mut b_starts) = (None, None, false, false);
    for s in sentences {
        let mut prev: Option<&str> = None;
        for (w, tag) in s.tags.iter().enumerate() {
            let here = split(tag);
            match here.map(|(p, _)| p) {
                Some("E-" | "S-") => iobes = iobes.or(Some((s.origin.clone(), w, tag.clone()))),
                Some("L-" | "U-") => bilou = bilou.or(Some((s.origin.clone(), w, tag.clone()))),
                _ => {}
            }
            if let Some((p @ ("B-" | "I-"), ty)) = here {
                let continues = prev.and_then(split).is_some_and(|(_, t)| t == ty);
                match (p, continues) {
                    ("I-", false) => i_starts = true,
                    ("B-", false) => b_starts = true,
                    _ => {}
                }
            }
            prev = Some(tag);
        }
    }
    match (iobes, bilou) {
        (Some(a), Some(b)) => Err(format!(
            "mixed tagging schemes: `{}` ({} word {}) is IOBES but `{}` ({} word {}) is BILOU",
            a.2, a.0, a.1, b.2, b.0, b.1
        )),
        (Some(_), None) => Ok(Scheme::Iobes),
        (None, Some(_)) => Ok(Scheme::Bilou),
        (None, None) if i_starts && !b_starts => Ok(Scheme::Iob1),
        (None, None) => Ok(Scheme::Iob2),
    }
}

/// Rewrites `sentence`'s tags from `scheme` to IOB2 in place. Sequences the scheme cannot produce (IOBES/BILOU:
/// an `I-`/`E-` that continues nothing, a `B-`/`I-` that the next word does not continue, a prefix of another
/// scheme) are returned as problems naming the sentence's origin and word; the tags are then left as read.
pub fn to_iob2(sentence: &mut Sentence, scheme: Scheme) -> Vec<Problem> {
    match scheme {
        Scheme::Iob2 => Vec::new(),
        Scheme::Iob1 => {
            let mut prev_type: Option<String> = None;
            for tag in sentence.tags.iter_mut() {
                let here = split(tag).map(|(p, t)| (p.to_string(), t.to_string()));
                if let Some((p, ty)) = &here {
                    if p == "I-" && prev_type.as_deref() != Some(ty.as_str()) {
                        *tag = format!("B-{ty}");
                    }
                }
                prev_type = here.map(|(_, t)| t);
            }
            Vec::new()
        }
        Scheme::Iobes | Scheme::Bilou => strict_to_iob2(sentence, scheme),
    }
}

fn strict_to_iob2(sentence: &mut Sentence, scheme: Scheme) -> Vec<Problem> {
    let (end, single) = scheme.end_single().expect("strict scheme");
    let tags = &sentence.tags;
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(tags.len());
    let problem = |w: usize, message: String| Problem {
        origin: sentence.origin.clone(),
        word: Some(w),
        kind: ProblemKind::ImpossibleSequence { scheme: scheme.name(), message },
    };
    for (w, tag) in tags.iter().enumerate() {
        if tag == "O" {
            out.push(tag.clone());
            continue;
        }
        let Some((p, ty)) = split(tag) else {
            out.push(tag.clone()); // not a scheme tag at all: validation reports it as unknown
            continue;
        };
        let prev = w.checked_sub(1).and_then(|i| split(&tags[i]));
        let next = tags.get(w + 1).and_then(|t| split(t));
        let opened_before = prev.is_some_and(|(pp, pt)| (pp == "B-" || pp == "I-") && pt == ty);
        let closed_after = next.is_some_and(|(np, nt)| (np == "I-" || np == end) && nt == ty);
        let shown = |t: Option<(&str, &str)>, at: Option<usize>| match (t, at) {
            (Some((a, b)), _) => format!("`{a}{b}`"),
            (None, Some(i)) if i < tags.len() => format!("`{}`", tags[i]),
            _ => "the sentence boundary".to_string(),
        };
        let (iob2, ok, why) = match p {
            "B-" => ("B-", closed_after, format!("`{tag}` is not continued (next: {})", shown(next, Some(w + 1)))),
            "I-" => (
                "I-",
                opened_before && closed_after,
                if opened_before {
                    format!("`{tag}` is not continued (next: {})", shown(next, Some(w + 1)))
                } else {
                    format!("`{tag}` continues nothing (previous: {})", shown(prev, w.checked_sub(1)))
                },
            ),
            x if x == end => (
                "I-",
                opened_before,
                format!("`{tag}` ends an entity that was not begun (previous: {})", shown(prev, w.checked_sub(1))),
            ),
            x if x == single => ("B-", true, String::new()),
            _ => ("", false, format!("`{tag}` is not a {} tag", scheme.name())),
        };
        if !ok {
            problems.push(problem(w, why));
            out.push(tag.clone());
        } else {
            out.push(format!("{iob2}{ty}"));
        }
    }
    if problems.is_empty() {
        sentence.tags = out;
    }
    problems
}

/// IOB2 tags written in `scheme` (for output in the input file's scheme). Input must be valid IOB2 apart from
/// stray `I-X`, which count as beginning an entity.
pub fn from_iob2(tags: &[String], scheme: Scheme) -> Vec<String> {
    let types: Vec<Option<(bool, &str)>> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| {
            split(t).map(|(p, ty)| {
                let continues = p == "I-" && i > 0 && split(&tags[i - 1]).is_some_and(|(_, pt)| pt == ty);
                (!continues, ty) // (begins an entity, type)
            })
        })
        .collect();
    let continued = |i: usize| types.get(i + 1).copied().flatten().is_some_and(|(begins, _)| !begins);
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let Some((begins, ty)) = *t else { return tags[i].clone() };
            let prefix = match (scheme, begins, continued(i)) {
                (Scheme::Iob2, true, _) => "B-",
                (Scheme::Iob2, false, _) => "I-",
                (Scheme::Iob1, true, _) => {
                    let touches = i > 0 && types[i - 1].is_some_and(|(_, pt)| pt == ty);
                    if touches {
                        "B-"
                    } else {
                        "I-"
                    }
                }
                (Scheme::Iob1, false, _) => "I-",
                (s, true, false) => s.end_single().expect("strict").1,
                (_, true, true) => "B-",
                (s, false, false) => s.end_single().expect("strict").0,
                (_, false, true) => "I-",
            };
            format!("{prefix}{ty}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(tags: &[&str]) -> Sentence {
        Sentence {
            origin: "f.conll:7".into(),
            words: tags.iter().map(|_| "w".to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn tags(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn iobes_and_bilou_convert_to_iob2_and_back() {
        let iob2 = tags(&["B-G", "I-G", "I-G", "O", "B-S", "B-G", "O", "B-G", "I-G"]);
        let iobes = tags(&["B-G", "I-G", "E-G", "O", "S-S", "S-G", "O", "B-G", "E-G"]);
        let bilou = tags(&["B-G", "I-G", "L-G", "O", "U-S", "U-G", "O", "B-G", "L-G"]);
        let iob1 = tags(&["I-G", "I-G", "I-G", "O", "I-S", "I-G", "O", "I-G", "I-G"]);
        for (scheme, t) in [(Scheme::Iobes, &iobes), (Scheme::Bilou, &bilou), (Scheme::Iob1, &iob1)] {
            let mut s = sent(&t.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(detect(std::slice::from_ref(&s)), Ok(scheme));
            assert!(to_iob2(&mut s, scheme).is_empty());
            assert_eq!(s.tags, iob2, "{scheme}");
            assert_eq!(&from_iob2(&iob2, scheme), t, "{scheme}");
        }
        assert_eq!(from_iob2(&iob2, Scheme::Iob2), iob2);
        assert_eq!(detect(&[sent(&["O", "B-G", "I-G"])]), Ok(Scheme::Iob2));
    }

    #[test]
    fn iob1_keeps_b_between_touching_entities() {
        let mut s = sent(&["I-G", "I-G", "B-G", "O", "I-G"]);
        assert_eq!(detect(std::slice::from_ref(&s)), Ok(Scheme::Iob1));
        to_iob2(&mut s, Scheme::Iob1);
        assert_eq!(s.tags, tags(&["B-G", "I-G", "B-G", "O", "B-G"]));
        assert_eq!(from_iob2(&s.tags, Scheme::Iob1), tags(&["I-G", "I-G", "B-G", "O", "I-G"]));
    }

    #[test]
    fn an_iob2_file_with_a_stray_inside_tag_stays_iob2() {
        // PLOD has a few orphan I-LF; B- starting entities elsewhere keeps the file IOB2 (warnings, not a rewrite)
        let s = [sent(&["O", "B-LF", "I-LF"]), sent(&["O", "I-LF", "O"])];
        assert_eq!(detect(&s), Ok(Scheme::Iob2));
    }

    #[test]
    fn impossible_iobes_sequences_are_errors_with_word_and_origin() {
        let mut s = sent(&["O", "E-G", "B-G", "O", "I-G"]);
        let problems = to_iob2(&mut s, Scheme::Iobes);
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("f.conll:7 word 1: IOBES: `E-G` ends an entity that was not begun"), "{shown:?}");
        assert!(shown[1].contains("word 2") && shown[1].contains("`B-G` is not continued (next: `O`)"), "{shown:?}");
        assert!(shown[2].contains("word 4") && shown[2].contains("`I-G` continues nothing"), "{shown:?}");
        assert_eq!(s.tags, tags(&["O", "E-G", "B-G", "O", "I-G"]), "tags left as read");
        let mixed = [sent(&["S-G"]), sent(&["U-G"])];
        assert!(detect(&mixed).unwrap_err().contains("mixed tagging schemes"));
    }
}
