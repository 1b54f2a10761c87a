//! Letter alignment of a short form with a long form — the matching step of Schwartz & Hearst (2003), "A
//! simple algorithm for identifying abbreviation definitions in biomedical text" (PSB 2003, pp. 451–462).
//!
//! The short form's letters and digits are matched right to left against the candidate long form, each one to
//! an earlier character than the last; the short form's first character must start a word (no letter or digit
//! before it). The shortest long form that matches wins. Everything here works on words (the PLOD words of a
//! sentence), so a match is a word index, not a character offset.

/// The paper's short-form candidate test: 2–10 characters, at most two words, the first character a letter or
/// digit, at least one letter.
pub fn is_short_form(sf: &str) -> bool {
    let chars = sf.chars().count();
    (2..=10).contains(&chars)
        && sf.split_whitespace().count() <= 2
        && sf.chars().next().is_some_and(char::is_alphanumeric)
        && sf.chars().any(char::is_alphabetic)
}

/// The paper's long-form window in words: `min(|SF| + 5, 2·|SF|)`, |SF| in characters.
pub fn window(sf: &str) -> usize {
    let n = sf.chars().count();
    (n + 5).min(2 * n)
}

/// The first word of the shortest long form ending at the end of `words` that `sf` aligns with (the paper's
/// `findBestLongForm`), or `None` when the letters do not align.
pub fn best_start(sf: &str, words: &[&str]) -> Option<usize> {
    let joined = words.join(" ");
    let lf: Vec<char> = joined.to_lowercase().chars().collect();
    let sf: Vec<char> = sf.to_lowercase().chars().collect();
    let mut l = lf.len() as isize - 1;
    let mut s = sf.len() as isize - 1;
    while s >= 0 {
        let c = sf[s as usize];
        if !c.is_alphanumeric() {
            s -= 1;
            continue;
        }
        // the first short-form character must start a word of the long form
        while l >= 0 && (lf[l as usize] != c || (s == 0 && l > 0 && lf[l as usize - 1].is_alphanumeric())) {
            l -= 1;
        }
        if l < 0 {
            return None;
        }
        l -= 1;
        s -= 1;
    }
    // the word holding the first matched character (`l + 1`)
    let first = (l + 1) as usize;
    let spaces_before = lf[..first].iter().filter(|&&c| c == ' ').count();
    Some(spaces_before)
}

/// Every start `s` whose long form `words[s..]` aligns with `sf` *from its first word*: that word begins with
/// the short form's first letter or digit, and the short form's other letters and digits appear in order in the
/// rest. Nearest first. The paper keeps only the shortest; the hybrid decoder lets the model choose among them.
pub fn aligned_starts(sf: &str, words: &[&str]) -> Vec<usize> {
    (0..words.len()).rev().filter(|&s| aligns(sf, &words[s..])).collect()
}

/// Whether `sf` aligns with the whole of `long`: `long`'s first word begins with the short form's first letter
/// or digit, and its remaining letters and digits occur in order after it.
pub fn aligns(sf: &str, long: &[&str]) -> bool {
    let sf: Vec<char> = sf.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
    let lf: Vec<char> = long.join(" ").to_lowercase().chars().collect();
    let (Some(first), Some(lf_first)) = (sf.first(), lf.first()) else { return false };
    if first != lf_first {
        return false;
    }
    let mut rest = lf[1..].iter();
    sf[1..].iter().all(|c| rest.any(|x| x == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn the_papers_examples() {
        // Schwartz & Hearst 2003, section 2: "Heat shock transcription factor (HSF)" → the shortest match
        let words = w("of the Heat shock transcription factor");
        assert_eq!(best_start("HSF", &words), Some(2));
        // "...kinase ... (PKA)": letters need not start words except the first one
        assert_eq!(best_start("PKA", &w("activation of protein kinase A")), Some(2));
        // "Gcn5-related N-acetyltransferase (GNAT)"-style: letters inside hyphenated words
        assert_eq!(best_start("GNAT", &w("the Gcn5-related N-acetyltransferase")), Some(1));
        // digits count as characters to match; "copper (cu)" has no alignment
        assert_eq!(best_start("cu", &w("levels of copper")), None);
        // the first letter must start a word: "ht" does not align inside "that"
        assert_eq!(best_start("HT", &w("that")), None);
        assert_eq!(best_start("TH", &w("that")), Some(0));
    }

    #[test]
    fn all_aligned_starts_nearest_first() {
        let words = w("and minimally invasive vitreoretinal surgery");
        // "mivs": shortest is "minimally invasive vitreoretinal surgery" (start 1)
        assert_eq!(best_start("mivs", &words), Some(1));
        assert_eq!(aligned_starts("mivs", &words), vec![1]);
        // "vs" aligns with "vitreoretinal surgery" and with "very ... vitreoretinal surgery"
        let words = w("very good vitreoretinal surgery");
        assert_eq!(aligned_starts("vs", &words), vec![2, 0]);
        assert!(aligns("epi", &w("echo planar imaging")));
        assert!(!aligns("epi", &w("planar imaging")));
    }

    #[test]
    fn short_form_candidates() {
        assert!(is_short_form("EPI") && is_short_form("IL-6") && is_short_form("5-HT"));
        assert!(!is_short_form("1995") && !is_short_form("a") && !is_short_form("see figure one"));
        assert_eq!((window("EPI"), window("HSF1a")), (6, 10));
    }
}
