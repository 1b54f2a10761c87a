//! `report.md`: the evaluation as Markdown. Entities are marked up inline as `[echo planar imaging]{LF}`.
use std::fmt::Write;

use super::charts::ChartFile;
use super::compare::Change;
use super::errors::{Category, ErrorCase};
use super::render::{delta_pp, hull, pct, pieces, plural, window};
use super::samples::SampleReason;
use super::EvalReport;
use crate::metrics::Span;

/// Words `from..to` with entities marked up, `…` where the sentence was cut.
pub fn markup(tokens: &[String], spans: &[Span], from: usize, to: usize) -> String {
    let mut parts: Vec<String> = pieces(tokens, spans, from, to)
        .into_iter()
        .map(|p| match p.span {
            Some(s) => format!("[{}]{{{}}}", p.words.join(" "), s.kind),
            None => p.words.join(" "),
        })
        .collect();
    if from > 0 {
        parts.insert(0, "…".into());
    }
    if to < tokens.len() {
        parts.push("…".into());
    }
    parts.join(" ")
}

fn chart_link(charts: &[ChartFile], name: &str) -> String {
    charts
        .iter()
        .find(|c| c.name == name)
        .map(|c| format!("\n![{}](charts/{}.png)\n", c.title, c.name))
        .unwrap_or_default()
}

fn example(r: &EvalReport, e: &ErrorCase) -> String {
    let rec = &r.records[e.sentence];
    let (a, b) = hull(e.gold.as_ref(), e.pred.as_ref());
    let (from, to) = window(rec.len(), a, b, r.options.context_words);
    let (g, p) = &r.entities[e.sentence];
    let conf = e.confidence.map(|c| format!(", confidence {c:.2}")).unwrap_or_default();
    format!(
        "- sentence {} ({} wrong{conf})\n  - gold: {}\n  - pred: {}\n",
        e.sentence + 1,
        plural(e.words_wrong, "word"),
        markup(&rec.tokens, g, from, to),
        markup(&rec.tokens, p, from, to)
    )
}

/// Renders the whole report.
pub fn render(r: &EvalReport, charts: &[ChartFile]) -> String {
    let mut s = String::new();
    let ent = r.entity();
    let _ = writeln!(s, "# {}\n", r.options.title);
    if !r.options.source.is_empty() {
        let _ = writeln!(s, "Predictions: `{}`  ", r.options.source);
    }
    let _ = writeln!(
        s,
        "{} sentences, {} words. Entity matching: seqeval **{}** mode (exact type and span).\n",
        r.records.len(),
        r.metrics.token.tokens,
        r.options.mode.as_str()
    );
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "| micro F1 | macro F1 | micro precision | micro recall | strict micro F1 | token accuracy |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| **{}** | {} | {} | {} | {} | {} |\n",
        pct(ent.micro.f1),
        pct(ent.macro_.f1),
        pct(ent.micro.precision),
        pct(ent.micro.recall),
        pct(r.metrics.entity_strict.micro.f1),
        pct(r.metrics.token.accuracy)
    );
    if let Some(ci) = &r.micro_f1_interval {
        let _ = writeln!(
            s,
            "Micro F1 {:.0} % bootstrap interval over sentences ({} resamples): **{} – {}** (std {}): differences \
             smaller than that are not evidence on a set this size.\n",
            100.0 * ci.confidence,
            ci.resamples,
            pct(ci.low),
            pct(ci.high),
            pct(ci.std)
        );
    }
    let _ = writeln!(s, "All scores are percentages.\n\n## Entity-level scores\n");
    let _ = writeln!(s, "| type | precision | recall | F1 | support | TP | FP | FN |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (k, p) in &ent.per_type {
        let _ = writeln!(
            s,
            "| {k} | {} | {} | {} | {} | {} | {} | {} |",
            pct(p.precision),
            pct(p.recall),
            pct(p.f1),
            p.support,
            p.tp,
            p.fp,
            p.fn_
        );
    }
    for (name, a) in [("micro avg", &ent.micro), ("macro avg", &ent.macro_), ("weighted avg", &ent.weighted)] {
        let _ = writeln!(
            s,
            "| *{name}* | {} | {} | {} | {} | | | |",
            pct(a.precision),
            pct(a.recall),
            pct(a.f1),
            a.support
        );
    }
    s.push_str(&chart_link(charts, "per_class"));
    let _ = writeln!(
        s,
        "\n## Token-level scores\n\nAccuracy {} over {} words.\n",
        pct(r.metrics.token.accuracy),
        r.metrics.token.tokens
    );
    let _ = writeln!(s, "| label | precision | recall | F1 | support | predicted |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for l in &r.metrics.token.per_label {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            l.label,
            pct(l.precision),
            pct(l.recall),
            pct(l.f1),
            l.support,
            l.predicted
        );
    }
    let cm = &r.metrics.token.confusion;
    let share = cm.row_normalised();
    let _ = writeln!(s, "\nConfusion matrix (rows gold, columns predicted; count and share of the row):\n");
    let _ = writeln!(s, "| gold \\ pred | {} |", cm.labels.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(cm.labels.len()));
    for (i, l) in cm.labels.iter().enumerate() {
        let cells: Vec<String> =
            (0..cm.labels.len()).map(|j| format!("{} ({:.1}%)", cm.counts[i][j], 100.0 * share[i][j])).collect();
        let _ = writeln!(s, "| **{l}** | {} |", cells.join(" | "));
    }
    s.push_str(&chart_link(charts, "confusion"));
    if !r.length.is_empty() {
        let _ = writeln!(s, "\n## Errors by sentence length\n");
        let _ = writeln!(s, "| words | sentences | with an entity error | token error rate | entity F1 |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for b in &r.length {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                b.label,
                b.sentences,
                pct(b.sentence_error_rate()),
                pct(b.token_error_rate()),
                pct(b.entity_f1)
            );
        }
        s.push_str(&chart_link(charts, "length_errors"));
    }
    if let Some(c) = &r.calibration {
        let _ = writeln!(
            s,
            "\n## Calibration\n\n{} words with a confidence; expected calibration error (ECE) **{:.3}**.\n",
            c.words, c.ece
        );
        let _ = writeln!(s, "| confidence | words | mean confidence | accuracy |\n|---|---:|---:|---:|");
        for b in c.bins.iter().filter(|b| b.count > 0) {
            let _ =
                writeln!(s, "| {:.1}–{:.1} | {} | {:.3} | {:.3} |", b.lo, b.hi, b.count, b.mean_confidence, b.accuracy);
        }
        s.push_str(&chart_link(charts, "calibration"));
    }
    errors_section(&mut s, r);
    samples_section(&mut s, r);
    if let Some(c) = &r.comparison {
        compare_section(&mut s, r, c);
    }
    let _ = writeln!(s, "\n## Method\n\n{}", super::report_html::method_notes(r).join("\n\n"));
    s
}

fn errors_section(s: &mut String, r: &EvalReport) {
    let _ = writeln!(s, "\n## Error analysis\n");
    let types: Vec<String> = r.labels.entity_types();
    let _ = writeln!(s, "| category | total | {} |", types.join(" | "));
    let _ = writeln!(s, "|---|---:|{}", "---:|".repeat(types.len()));
    for c in Category::ALL {
        let by = &r.errors.counts_by_type[&c];
        let cells: Vec<String> = types.iter().map(|t| by.get(t).copied().unwrap_or(0).to_string()).collect();
        let _ = writeln!(s, "| {} | {} | {} |", c.title(), r.errors.counts[&c], cells.join(" | "));
    }
    for c in Category::ALL {
        let _ = writeln!(s, "\n### {} ({})\n\n{}\n", c.title(), r.errors.counts[&c], c.explanation());
        for e in &r.errors.worst[&c] {
            s.push_str(&example(r, e));
        }
    }
    let _ =
        writeln!(s, "\n### Most frequently missed forms\n\nGold forms not predicted exactly (missed / occurrences).\n");
    for (kind, forms) in &r.missed {
        let list: Vec<String> = forms.iter().map(|f| format!("`{}` {}/{}", f.text, f.missed, f.occurrences)).collect();
        let _ = writeln!(s, "- **{kind}**: {}", list.join(", "));
    }
    if !r.has_pairs() {
        return;
    }
    definitions_section(s, r);
    let pc = &r.pair_counts;
    let _ = writeln!(
        s,
        "\n### Abbreviation ↔ long-form pairs\n\n{} gold pairs ({} parenthesised definitions): both found {}, \
         **abbreviation found but long form not {}**, long form only {}, neither {}.\n",
        pc.pairs, pc.parenthesised, pc.both_found, pc.ac_only, pc.lf_only, pc.neither
    );
    for o in r.pairs.iter().filter(|o| o.ac_found && !o.lf_found).take(r.options.worst_examples * 2) {
        let rec = &r.records[o.sentence];
        let (a, b) = hull(Some(&o.ac), Some(&o.lf));
        let (from, to) = window(rec.len(), a, b, 3);
        let (g, p) = &r.entities[o.sentence];
        let _ = writeln!(
            s,
            "- sentence {}: `{}` ↔ `{}` ({})\n  - gold: {}\n  - pred: {}",
            o.sentence + 1,
            rec.tokens[o.ac.start..o.ac.end].join(" "),
            rec.tokens[o.lf.start..o.lf.end].join(" "),
            match o.rule {
                super::pairs::PairRule::Parenthesised => "parenthesised definition",
                super::pairs::PairRule::Remention => "re-mention of a bracketed definition",
                super::pairs::PairRule::Nearest => "nearest long form",
                super::pairs::PairRule::Listed => "abbreviation-list entry",
            },
            markup(&rec.tokens, g, from, to),
            markup(&rec.tokens, p, from, to)
        );
    }
}

/// A Markdown table.
fn md_table(s: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(s, "| {} |\n|{}", header.join(" | "), "---|".repeat(header.len()));
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
}

/// Pair errors listed per kind (missed, wrong) in the reports.
pub const PAIR_ERRORS_SHOWN: usize = 50;

/// Definition pairs against the gold definitions, the pair errors, and the rules / model / hybrid table.
fn definitions_section(s: &mut String, r: &EvalReport) {
    let Some(d) = &r.definitions else { return };
    let pct = |x: f64| format!("{:.2}", 100.0 * x);
    let p = &d.pairs;
    let _ = writeln!(
        s,
        "\n### Definition pairs (`{}`)\n\n{} gold definitions, {} predicted pairs, {} right: **P {} · R {} · F1 {}**; \
         glossary per sentence (short form → long form texts): P {} · R {} · F1 {}.\n",
        d.mode.name(),
        p.gold,
        p.predicted,
        p.correct,
        pct(p.precision),
        pct(p.recall),
        pct(p.f1),
        pct(d.glossary.precision),
        pct(d.glossary.recall),
        pct(d.glossary.f1)
    );
    let (header, rows) = d.rule_table();
    md_table(s, &header, &rows);
    if !r.pair_modes.is_empty() {
        let _ = writeln!(s, "\nThe same sentences under each pair mode (`--pairs`):\n");
        let (header, rows) = super::definitions::modes_table(&r.pair_modes);
        md_table(s, &header, &rows);
    }
    for (spurious, title) in [(false, "Missed definitions"), (true, "Wrong pairs")] {
        let shown: Vec<_> = d.errors.iter().filter(|e| e.spurious == spurious).take(PAIR_ERRORS_SHOWN).collect();
        if shown.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n#### {title}\n");
        for e in shown {
            let rec = &r.records[e.sentence];
            let (a, b) = hull(Some(&e.short), Some(&e.long));
            let (from, to) = window(rec.len(), a, b, 3);
            let (g, p) = &r.entities[e.sentence];
            let _ = writeln!(
                s,
                "- sentence {}: `{}` ↔ `{}` ({})\n  - gold: {}\n  - pred: {}",
                e.sentence + 1,
                rec.tokens[e.short.start..e.short.end].join(" "),
                rec.tokens[e.long.start..e.long.end].join(" "),
                e.rule.name(),
                markup(&rec.tokens, g, from, to),
                markup(&rec.tokens, p, from, to)
            );
        }
    }
}

fn samples_section(s: &mut String, r: &EvalReport) {
    if r.samples.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Sample predictions\n");
    for sm in &r.samples {
        let rec = &r.records[sm.sentence];
        let (g, p) = &r.entities[sm.sentence];
        let why = match sm.reason {
            SampleReason::Worst => format!("among the worst, {}", plural(sm.errors, "entity error")),
            SampleReason::Random => format!("random, {}", plural(sm.errors, "entity error")),
        };
        let _ = writeln!(
            s,
            "**Sentence {}** ({why})\n\n| | |\n|---|---|\n| gold | {} |\n| pred | {} |\n",
            sm.sentence + 1,
            markup(&rec.tokens, g, 0, rec.len()).replace('|', "\\|"),
            markup(&rec.tokens, p, 0, rec.len()).replace('|', "\\|")
        );
    }
}

fn compare_section(s: &mut String, r: &EvalReport, c: &super::Comparison) {
    let _ = writeln!(s, "\n## Comparison with `{}`\n\nDelta = this run − other run, in percentage points.\n", c.other);
    let _ = writeln!(s, "| row | P this | P other | ΔP | R this | R other | ΔR | F1 this | F1 other | ΔF1 |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &c.rows {
        let d = row.delta();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | **{}** |",
            row.name,
            pct(row.this[0]),
            pct(row.other[0]),
            delta_pp(d[0]),
            pct(row.this[1]),
            pct(row.other[1]),
            delta_pp(d[1]),
            pct(row.this[2]),
            pct(row.other[2]),
            delta_pp(d[2])
        );
    }
    if let Some(diff) = &c.differing {
        let _ = writeln!(
            s,
            "\n{} sentences have different predictions: {} fixed, {} broken, {} changed.\n",
            diff.len(),
            c.count(Change::Fixed),
            c.count(Change::Broken),
            c.count(Change::Changed)
        );
        for d in diff.iter().take(20) {
            let rec = &r.records[d.sentence];
            let (g, p) = &r.entities[d.sentence];
            let other = crate::metrics::extract(&d.other_pred, r.options.mode).unwrap_or_default();
            let _ = writeln!(
                s,
                "- sentence {} ({:?}: {} → {} entity errors)\n  - gold: {}\n  - this: {}\n  - other: {}",
                d.sentence + 1,
                d.change,
                d.other_errors,
                d.this_errors,
                markup(&rec.tokens, g, 0, rec.len()),
                markup(&rec.tokens, p, 0, rec.len()),
                markup(&rec.tokens, &other, 0, rec.len())
            );
        }
    }
}
