//! Sentence checks against a [`LabelSet`]: unknown tag, tokens/tags length mismatch and empty sentence are
//! errors; an orphan `I-X` (not after `B-X` or `I-X`) is a warning, or is rewritten to `B-X` when repairing.
//! Every problem is collected (none dropped) with its origin and word index.
use std::fmt;

use serde::Serialize;

use super::Sentence;
use crate::labels::LabelSet;

/// How many problems [`ValidationReport`]'s `Display` lists before summarising the rest as a count.
pub const SHOWN_PROBLEMS: usize = 20;

/// What is wrong with a sentence (or one of its words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProblemKind {
    UnknownTag {
        tag: String,
        allowed: Vec<String>,
    },
    LengthMismatch {
        words: usize,
        tags: usize,
    },
    Empty,
    /// `I-X` that does not follow `B-X`/`I-X`; `repaired` when it was rewritten to `B-X`.
    OrphanInside {
        tag: String,
        repaired: bool,
    },
    /// A tag sequence the file's tagging scheme cannot produce (see [`super::scheme`]).
    ImpossibleSequence {
        scheme: &'static str,
        message: String,
    },
}

/// One problem, located by sentence origin (`file:line`, `file#row N`) and word index where it applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub origin: String,
    pub word: Option<usize>,
    pub kind: ProblemKind,
}

/// All problems found: `errors` make a source unusable, `warnings` (orphan `I-`) do not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Orphan `I-X` tags rewritten to `B-X` (only with `repair`).
    pub repaired: usize,
    /// The scheme the source was tagged in (converted to IOB2 on read).
    pub scheme: super::Scheme,
}

/// Checks every sentence; with `repair`, orphan `I-X` tags are rewritten to `B-X` in place.
pub fn validate(sentences: &mut [Sentence], labels: &LabelSet, repair: bool) -> ValidationReport {
    let mut report = ValidationReport::default();
    for s in sentences.iter_mut() {
        let problem = |word, kind| Problem { origin: s.origin.clone(), word, kind };
        if s.words.is_empty() && s.tags.is_empty() {
            report.errors.push(problem(None, ProblemKind::Empty));
            continue;
        }
        if s.words.len() != s.tags.len() {
            report.errors.push(problem(None, ProblemKind::LengthMismatch { words: s.words.len(), tags: s.tags.len() }));
        }
        let mut unknown = Vec::new();
        for (i, tag) in s.tags.iter().enumerate() {
            if labels.id(tag).is_none() {
                let kind = ProblemKind::UnknownTag { tag: tag.clone(), allowed: labels.labels().to_vec() };
                unknown.push(problem(Some(i), kind));
            }
        }
        let has_unknown = !unknown.is_empty();
        report.errors.extend(unknown);
        if has_unknown {
            continue;
        }
        for i in orphan_insides(&s.tags) {
            let kind = ProblemKind::OrphanInside { tag: s.tags[i].clone(), repaired: repair };
            report.warnings.push(Problem { origin: s.origin.clone(), word: Some(i), kind });
            if repair {
                s.tags[i] = format!("B-{}", &s.tags[i][2..]);
                report.repaired += 1;
            }
        }
    }
    report
}

/// Indices of `I-X` tags not preceded by `B-X` or `I-X`.
pub fn orphan_insides(tags: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev: Option<&str> = None;
    for (i, tag) in tags.iter().enumerate() {
        if let Some(ty) = tag.strip_prefix("I-") {
            let continues = prev.and_then(|p| p.strip_prefix("B-").or_else(|| p.strip_prefix("I-"))) == Some(ty);
            if !continues {
                out.push(i);
            }
        }
        prev = Some(tag);
    }
    out
}

impl ValidationReport {
    /// Logs warnings (first [`SHOWN_PROBLEMS`] and the count) and repairs for dataset `name`.
    pub fn log_warnings(&self, name: &str) {
        for p in self.warnings.iter().take(SHOWN_PROBLEMS) {
            tracing::warn!("{name}: {p}");
        }
        if self.warnings.len() > SHOWN_PROBLEMS {
            tracing::warn!("{name}: ... and {} more warning(s)", self.warnings.len() - SHOWN_PROBLEMS);
        }
        if self.repaired > 0 {
            tracing::info!("{name}: repaired {} orphan I- tag(s) to B-", self.repaired);
        }
        if self.scheme != super::Scheme::Iob2 {
            tracing::info!("{name}: {} tags converted to IOB2", self.scheme);
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::UnknownTag { tag, allowed } => {
                write!(f, "unknown tag `{tag}` (allowed: {})", allowed.join(", "))
            }
            ProblemKind::LengthMismatch { words, tags } => write!(f, "{words} tokens but {tags} tags"),
            ProblemKind::Empty => write!(f, "empty sentence"),
            ProblemKind::OrphanInside { tag, repaired: false } => {
                write!(f, "`{tag}` does not follow B-{0} or I-{0}", &tag[2..])
            }
            ProblemKind::OrphanInside { tag, repaired: true } => {
                write!(f, "orphan `{tag}` repaired to B-{}", &tag[2..])
            }
            ProblemKind::ImpossibleSequence { scheme, message } => write!(f, "{scheme}: {message}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.word {
            Some(w) => write!(f, "{} word {w}: {}", self.origin, self.kind),
            None => write!(f, "{}: {}", self.origin, self.kind),
        }
    }
}

/// Lists the first [`SHOWN_PROBLEMS`] errors, one per line, then the number left out.
impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<String> = self.errors.iter().take(SHOWN_PROBLEMS).map(|p| format!("  {p}")).collect();
        if self.errors.len() > SHOWN_PROBLEMS {
            lines.push(format!("  ... and {} more", self.errors.len() - SHOWN_PROBLEMS));
        }
        if !self.warnings.is_empty() {
            lines.push(format!("  (and {} orphan I- warning(s))", self.warnings.len()));
        }
        write!(f, "{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(origin: &str, words: &[&str], tags: &[&str]) -> Sentence {
        Sentence {
            origin: origin.into(),
            words: words.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn clean_sentences_have_no_problems() {
        let mut s = vec![sent("f:1", &["heart", "rate", "(", "HR", ")"], &["B-LF", "I-LF", "O", "B-AC", "O"])];
        assert_eq!(validate(&mut s, &LabelSet::plod(), false), ValidationReport::default());
    }

    #[test]
    fn collects_every_error_with_origin_and_word() {
        let mut s = vec![
            sent("f:1", &["a", "b"], &["O", "B-XX"]),
            sent("f:2", &["a", "b"], &["O"]),
            sent("f:3", &[], &[]),
            sent("f:4", &["a"], &["I-AC"]),
        ];
        let r = validate(&mut s, &LabelSet::plod(), false);
        assert_eq!(r.errors.len(), 4);
        assert_eq!(r.errors[0].to_string(), "f:1 word 1: unknown tag `B-XX` (allowed: O, B-AC, B-LF, I-LF)");
        assert_eq!(r.errors[1].to_string(), "f:2: 2 tokens but 1 tags");
        assert_eq!(r.errors[2].to_string(), "f:3: empty sentence");
        assert!(r.errors[3].to_string().starts_with("f:4 word 0: unknown tag `I-AC`"));
    }

    #[test]
    fn report_lists_twenty_and_counts_the_rest() {
        let mut s: Vec<_> = (0..25).map(|i| sent(&format!("f:{i}"), &[], &[])).collect();
        let r = validate(&mut s, &LabelSet::plod(), false);
        assert_eq!(r.errors.len(), 25);
        let text = r.to_string();
        assert_eq!(text.lines().count(), SHOWN_PROBLEMS + 1);
        assert!(text.ends_with("... and 5 more"));
    }

    #[test]
    fn orphan_inside_warns_or_repairs() {
        let labels = LabelSet::new(["O", "B-AC", "B-LF", "I-LF", "I-AC"].map(String::from).to_vec()).unwrap();
        let tags = ["I-LF", "I-LF", "O", "B-AC", "I-LF", "B-LF", "I-LF"];
        let words = ["w"; 7];
        let mut s = vec![sent("f:1", &words, &tags)];
        let r = validate(&mut s, &labels, false);
        assert!(r.errors.is_empty());
        assert_eq!(r.warnings.iter().map(|p| p.word.unwrap()).collect::<Vec<_>>(), [0, 4]);
        assert_eq!(r.warnings[0].to_string(), "f:1 word 0: `I-LF` does not follow B-LF or I-LF");
        assert_eq!(s[0].tags, tags, "warning only: tags untouched");

        let r = validate(&mut s, &labels, true);
        assert_eq!(r.repaired, 2);
        assert_eq!(s[0].tags, ["B-LF", "I-LF", "O", "B-AC", "B-LF", "B-LF", "I-LF"]);
        assert!(validate(&mut s, &labels, false).warnings.is_empty());
    }
}
