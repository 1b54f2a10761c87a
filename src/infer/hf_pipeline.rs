//! The Hugging Face `TokenClassificationPipeline`'s post-processing, step for step, so that nerkit's entities
//! in a Hugging Face strategy equal the pipeline's (`transformers/pipelines/token_classification.py`):
//! `gather_pre_entities` (a token is a sub-word when its vocabulary string and its text slice differ in
//! length — the `##` prefix of WordPiece; unknown tokens are words of their own, named by their text),
//! `aggregate` / `aggregate_word(s)` for `none | simple | first | average | max`, `group_entities` (an entity
//! continues while the type stays and the tag is not `B-`), then the `ignore_labels` filter (`O`).
use super::decode::argmax;
use super::entity::{entity_type, Aggregation, Entity};

/// One sub-word token of the text, as the pipeline sees it.
#[derive(Clone, Debug)]
pub struct Token {
    pub id: u32,
    /// The vocabulary string (`convert_ids_to_tokens`), e.g. `##ing`.
    pub piece: String,
    /// Byte offsets of the token in the text.
    pub start: usize,
    pub end: usize,
    /// Softmax probabilities over the labels.
    pub scores: Vec<f32>,
}

struct PreEntity<'a> {
    word: String,
    scores: &'a [f32],
    start: usize,
    end: usize,
    is_subword: bool,
}

/// An entity before the ignore filter: `entity` is the label (`B-AC`) or, once grouped, the type (`AC`).
struct Candidate {
    entity: String,
    score: f32,
    word: String,
    start: usize,
    end: usize,
}

/// Entities of `text` from its `tokens` (special tokens already left out), in byte offsets.
/// `decode` joins vocabulary strings the way the tokenizer's decoder does (`convert_tokens_to_string`).
pub fn entities(
    text: &str,
    tokens: &[Token],
    labels: &[String],
    unk_id: u32,
    strategy: Aggregation,
    ignore_labels: &[String],
    decode: &dyn Fn(Vec<String>) -> String,
) -> Vec<Entity> {
    let pre: Vec<PreEntity> = tokens
        .iter()
        .map(|t| {
            let slice = &text[t.start..t.end];
            let (word, is_subword) = if t.id == unk_id {
                (slice.to_string(), false)
            } else {
                (t.piece.clone(), t.piece.chars().count() != slice.chars().count())
            };
            PreEntity { word, scores: &t.scores, start: t.start, end: t.end, is_subword }
        })
        .collect();
    let per_token = |p: &PreEntity| {
        let i = argmax(p.scores);
        Candidate { entity: labels[i].clone(), score: p.scores[i], word: p.word.clone(), start: p.start, end: p.end }
    };
    let candidates: Vec<Candidate> = match strategy {
        Aggregation::None => pre.iter().map(per_token).collect(),
        Aggregation::Simple => group(pre.iter().map(per_token).collect(), decode),
        Aggregation::First | Aggregation::Average | Aggregation::Max => {
            let mut words: Vec<Vec<&PreEntity>> = Vec::new();
            for p in &pre {
                match words.last_mut() {
                    Some(w) if p.is_subword => w.push(p),
                    _ => words.push(vec![p]),
                }
            }
            let words = words.into_iter().map(|w| aggregate_word(&w, strategy, labels, decode)).collect();
            group(words, decode)
        }
        Aggregation::Native => unreachable!("the native aggregation does not go through the pipeline emulation"),
    };
    candidates
        .into_iter()
        .filter(|c| !ignore_labels.contains(&c.entity))
        .map(|c| Entity {
            label: c.entity,
            text: text[c.start..c.end].to_string(),
            start: c.start,
            end: c.end,
            score: c.score,
            word: Some(c.word),
        })
        .collect()
}

fn aggregate_word(
    word: &[&PreEntity],
    strategy: Aggregation,
    labels: &[String],
    decode: &dyn Fn(Vec<String>) -> String,
) -> Candidate {
    let text = decode(word.iter().map(|p| p.word.clone()).collect());
    let (idx, score) = match strategy {
        Aggregation::First => {
            let i = argmax(word[0].scores);
            (i, word[0].scores[i])
        }
        Aggregation::Max => {
            // Python's max(): the first token with the greatest top score
            let best = word.iter().fold(word[0], |b, p| {
                let top = |p: &PreEntity| p.scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                if top(p) > top(b) {
                    p
                } else {
                    b
                }
            });
            let i = argmax(best.scores);
            (i, best.scores[i])
        }
        _ => {
            let n = word.len() as f32;
            let mean: Vec<f32> = (0..labels.len()).map(|k| word.iter().map(|p| p.scores[k]).sum::<f32>() / n).collect();
            let i = argmax(&mean);
            (i, mean[i])
        }
    };
    Candidate { entity: labels[idx].clone(), score, word: text, start: word[0].start, end: word[word.len() - 1].end }
}

/// `get_tag`: (`B` | `I`, type); a label without a B-/I- prefix counts as `I`.
fn tag(label: &str) -> (bool, &str) {
    (label.starts_with("B-"), entity_type(label))
}

fn group(items: Vec<Candidate>, decode: &dyn Fn(Vec<String>) -> String) -> Vec<Candidate> {
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    for c in items {
        match groups.last_mut() {
            Some(g)
                if {
                    let (b, t) = tag(&c.entity);
                    !b && t == tag(&g[g.len() - 1].entity).1
                } =>
            {
                g.push(c)
            }
            _ => groups.push(vec![c]),
        }
    }
    groups
        .into_iter()
        .map(|g| Candidate {
            entity: entity_type(&g[0].entity).to_string(),
            score: g.iter().map(|c| c.score).sum::<f32>() / g.len() as f32,
            start: g[0].start,
            end: g[g.len() - 1].end,
            word: decode(g.into_iter().map(|c| c.word).collect()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["O", "B-AC", "B-LF", "I-LF"].map(String::from).to_vec()
    }

    fn wordpiece(tokens: Vec<String>) -> String {
        tokens.join(" ").replace(" ##", "")
    }

    fn tok(id: u32, piece: &str, start: usize, end: usize, best: usize) -> Token {
        let mut scores = vec![0.1f32; 4];
        scores[best] = 0.7;
        Token { id, piece: piece.into(), start, end, scores }
    }

    #[test]
    fn strategies_group_like_the_pipeline() {
        // "magnetic resonance (MRI)": mag ##netic → B-LF I-LF, resonance → I-LF, ( → O, mri → B-AC, ) → O
        let text = "magnetic resonance (MRI)";
        let toks = vec![
            tok(5, "mag", 0, 3, 2),
            tok(6, "##netic", 3, 8, 3),
            tok(7, "resonance", 9, 18, 3),
            tok(8, "(", 19, 20, 0),
            tok(9, "mri", 20, 23, 1),
            tok(10, ")", 23, 24, 0),
        ];
        let o = vec!["O".to_string()];
        let simple = entities(text, &toks, &labels(), 100, Aggregation::Simple, &o, &wordpiece);
        assert_eq!(
            simple.iter().map(|e| (e.label.as_str(), e.start, e.end)).collect::<Vec<_>>(),
            [("LF", 0, 18), ("AC", 20, 23)]
        );
        assert_eq!(simple[0].word.as_deref(), Some("magnetic resonance"));
        assert_eq!(simple[1].text, "MRI");
        let none = entities(text, &toks, &labels(), 100, Aggregation::None, &o, &wordpiece);
        assert_eq!(none.len(), 4);
        assert_eq!(none[1].label, "I-LF");
        assert_eq!(none[1].word.as_deref(), Some("##netic"));
        // first: "magnetic" takes mag's B-LF; the sub-word's I-LF is overruled
        let first = entities(text, &toks, &labels(), 100, Aggregation::First, &o, &wordpiece);
        assert_eq!(first[0].word.as_deref(), Some("magnetic resonance"));
        assert_eq!((first[0].start, first[0].end), (0, 18));
    }
}
