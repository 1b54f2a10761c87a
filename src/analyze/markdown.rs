//! `analysis.md`: the [`Analysis`] as Markdown tables, linking the charts written next to it.
use std::fmt::Write;
use std::path::PathBuf;

use super::charts::thousands;
use super::histogram::Summary;
use super::Analysis;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn ratio(x: Option<f64>) -> String {
    x.map_or("n/a (a class is absent)".to_string(), |r| format!("{r:.2}"))
}

fn summary(s: &Option<Summary>) -> String {
    s.as_ref().map_or("–".into(), |s| format!("{} / {:.1} / {:.1} / {} / {}", s.min, s.mean, s.median, s.p95, s.max))
}

/// Renders the report; `charts` are the written chart files (PNG ones are embedded by file name).
pub fn render(a: &Analysis, charts: &[PathBuf]) -> String {
    let mut md = String::new();
    let names: Vec<&str> = a.splits.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(md, "# Dataset analysis\n");
    let _ = writeln!(md, "- Sources: {}", a.sources.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "));
    let _ = writeln!(md, "- Labels: {}", a.labels.join(", "));
    if let Some((fraction, seed)) = a.carved_validation {
        let _ = writeln!(md, "- Validation carved from the single source: fraction {fraction}, seed {seed}");
    }
    match &a.tokenizer {
        Some(t) => {
            let _ = writeln!(md, "- Tokenizer: `{t}` (max_len {})", a.max_len);
        }
        None => {
            let _ = writeln!(md, "- Tokenizer: none (sub-word statistics skipped)");
        }
    }

    let _ = writeln!(md, "\n## Splits\n\n| | {} |\n|---|{}", names.join(" | "), "---:|".repeat(names.len()));
    let row = |md: &mut String, label: &str, cells: Vec<String>| {
        let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
    };
    row(&mut md, "sentences", a.splits.iter().map(|s| thousands(s.sentences)).collect());
    row(&mut md, "tokens (words)", a.splits.iter().map(|s| thousands(s.tokens)).collect());
    for (i, label) in a.labels.iter().enumerate() {
        let cells = a.splits.iter().map(|s| format!("{} ({})", thousands(s.tags[i].count), pct(s.tags[i].share)));
        row(&mut md, &format!("`{label}`"), cells.collect());
    }
    row(&mut md, "imbalance (max / min class)", a.splits.iter().map(|s| ratio(s.imbalance_ratio)).collect());
    row(&mut md, "O : entity tokens", a.splits.iter().map(|s| ratio(s.outside_to_entity_ratio)).collect());
    row(&mut md, "length in words (min / mean / median / p95 / max)", {
        a.splits.iter().map(|s| summary(&s.words.summary)).collect()
    });
    if a.splits.iter().any(|s| s.subwords.is_some()) {
        row(&mut md, "length in sub-words (min / mean / median / p95 / max)", {
            a.splits.iter().map(|s| s.subwords.as_ref().map_or("–".into(), |w| summary(&w.lengths.summary))).collect()
        });
        row(&mut md, "sub-words in total", {
            a.splits.iter().map(|s| s.subwords.as_ref().map_or("–".into(), |w| thousands(w.total))).collect()
        });
        row(&mut md, &format!("sentences over max_len {}", a.max_len), {
            a.splits
                .iter()
                .map(|s| {
                    s.subwords
                        .as_ref()
                        .map_or("–".into(), |w| format!("{} ({})", w.over_max_len, pct(w.over_max_len_share)))
                })
                .collect()
        });
    }
    row(&mut md, "duplicate sentences (groups / redundant)", {
        a.splits.iter().map(|s| format!("{} / {}", s.duplicates.groups, s.duplicates.redundant)).collect()
    });

    let _ = writeln!(md, "\n## Entity spans\n");
    let _ = writeln!(md, "| split | type | spans | distinct | length in words (min / mean / median / p95 / max) |");
    let _ = writeln!(md, "|---|---|---:|---:|---|");
    for s in &a.splits {
        for sp in &s.spans {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                s.name,
                sp.entity_type,
                thousands(sp.count),
                thousands(sp.distinct),
                summary(&sp.length_words)
            );
        }
    }

    if let Some(first) = a.splits.first() {
        for sp in &first.spans {
            let _ = writeln!(md, "\n### Most frequent {} spans in {} (lowercased)\n", sp.entity_type, first.name);
            let _ = writeln!(md, "| # | text | count |\n|---:|---|---:|");
            for (i, t) in sp.top.iter().enumerate() {
                let _ = writeln!(md, "| {} | {} | {} |", i + 1, t.text.replace('|', "\\|"), t.count);
            }
        }
    }

    if !a.overlaps.is_empty() {
        let _ = writeln!(md, "\n## Overlap with {}\n", a.overlaps[0].reference);
        let _ = writeln!(
            md,
            "| split | word types seen | entity strings seen | sentences also in {} |",
            a.overlaps[0].reference
        );
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for o in &a.overlaps {
            let _ = writeln!(
                md,
                "| {} | {} / {} ({}) | {} / {} ({}) | {} |",
                o.split,
                thousands(o.word_types_seen),
                thousands(o.word_types),
                pct(o.word_type_share),
                thousands(o.entity_strings_seen),
                thousands(o.entity_strings),
                pct(o.entity_share),
                o.shared_sentences
            );
        }
    }

    let dups: Vec<String> = a
        .splits
        .iter()
        .flat_map(|s| s.duplicates.examples.iter().map(move |g| format!("- {}: {}", s.name, g.join(", "))))
        .collect();
    if !dups.is_empty() {
        let _ = writeln!(md, "\n## Duplicate sentences (up to 5 groups per split)\n\n{}", dups.join("\n"));
    }

    let pngs: Vec<&PathBuf> = charts.iter().filter(|p| p.extension().is_some_and(|e| e == "png")).collect();
    if !pngs.is_empty() {
        let _ = writeln!(md, "\n## Charts\n");
        for p in pngs {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let _ = writeln!(md, "![{}]({name})\n", name.trim_end_matches(".png").replace('_', " "));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::compute;
    use crate::data::{load, DataSource, LoadOptions};
    use crate::labels::LabelSet;

    #[test]
    fn renders_tables_from_the_sample() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample.jsonl");
        let labels = LabelSet::plod();
        let ds = load(&DataSource::from_path(path).unwrap(), &labels, &LoadOptions::default()).unwrap();
        let a = compute(&[ds], &labels, None, 128).unwrap();
        let md = render(&a, &[PathBuf::from("/x/label_distribution.png"), PathBuf::from("/x/a.svg")]);
        let s = &a.splits[0];
        assert!(md.contains(&format!("| sentences | {} |", s.sentences)), "{md}");
        assert!(md.contains("- Tokenizer: none (sub-word statistics skipped)"));
        assert!(!md.contains("sub-words in total"));
        assert!(md.contains("| 1 | hr | 2 |"), "HR occurs twice as AC in the sample:\n{md}");
        assert!(md.contains("![label distribution](label_distribution.png)"));
        assert!(!md.contains("a.svg"));
    }
}
