//! Helpers shared by the Markdown and HTML reports: number formatting and span segmentation.
use crate::metrics::Span;

/// `0.8188` → `81.88`; NaN → `—`.
pub fn pct(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else {
        format!("{:.2}", 100.0 * x)
    }
}

/// Signed percentage points, e.g. `+1.25`.
pub fn delta_pp(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else {
        format!("{:+.2}", 100.0 * x)
    }
}

/// `1 word`, `2 words`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A run of words, either plain or one (part of an) entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub words: Vec<String>,
    pub span: Option<Span>,
}

/// Words `from..to` cut into plain runs and entity runs (entities clipped to the window).
pub fn pieces(tokens: &[String], spans: &[Span], from: usize, to: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut i = from;
    let mut plain: Vec<String> = Vec::new();
    while i < to {
        if let Some(s) = spans.iter().find(|s| s.start <= i && i < s.end) {
            if !plain.is_empty() {
                out.push(Piece { words: std::mem::take(&mut plain), span: None });
            }
            let end = s.end.min(to);
            out.push(Piece { words: tokens[i..end].to_vec(), span: Some(s.clone()) });
            i = end;
        } else {
            plain.push(tokens[i].clone());
            i += 1;
        }
    }
    if !plain.is_empty() {
        out.push(Piece { words: plain, span: None });
    }
    out
}

/// The word window around `[a, b)` with `ctx` words either side, clamped to the sentence.
pub fn window(len: usize, a: usize, b: usize, ctx: usize) -> (usize, usize) {
    (a.saturating_sub(ctx), (b + ctx).min(len))
}

/// Start and end of the words touched by either span.
pub fn hull(a: Option<&Span>, b: Option<&Span>) -> (usize, usize) {
    let spans: Vec<&Span> = a.into_iter().chain(b).collect();
    (spans.iter().map(|s| s.start).min().unwrap_or(0), spans.iter().map(|s| s.end).max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_and_clip() {
        let t: Vec<String> = "a b c d e".split(' ').map(String::from).collect();
        let p = pieces(&t, &[Span::new("LF", 1, 3), Span::new("AC", 4, 5)], 0, 4);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].words, vec!["b", "c"]);
        assert_eq!(p[2].words, vec!["d"]);
        assert_eq!(window(5, 1, 3, 8), (0, 5));
        assert_eq!(pct(0.81875), "81.88");
        assert_eq!(delta_pp(-0.0125), "-1.25");
    }
}
