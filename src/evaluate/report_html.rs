//! `report.html`: one self-contained page (inline CSS and SVG charts, no scripts, no external URLs).
use std::fmt::Write;

use super::charts::ChartFile;
use super::compare::Change;
use super::errors::{Category, ErrorCase};
use super::render::{delta_pp, hull, pct, pieces, plural, window};
use super::samples::SampleReason;
use super::EvalReport;
use crate::metrics::Span;

/// The notes that apply to `r`: the pairing note only when its label set pairs abbreviations.
pub fn method_notes(r: &EvalReport) -> Vec<&'static str> {
    METHOD_NOTES.iter().copied().filter(|n| r.has_pairs() || !n.starts_with("Abbreviation ↔")).collect()
}

/// How the numbers were computed; shown at the end of both reports (backticks mark code).
pub const METHOD_NOTES: [&str; 6] = [
    "Entity scores: an entity counts as correct only when its type, first word and last word all match. \
     `default` mode reproduces seqeval's default chunking exactly (tested against seqeval 1.2.2): a stray `I-LF` \
     after `O` starts a new entity, and a type change inside a run splits it. `strict` mode is seqeval \
     `mode='strict', scheme=IOB2`: only `B-X I-X*` runs are entities and stray `I-` tags are ignored.",
    "Averages: micro pools all entities; macro is the unweighted mean over the types present in gold or \
     predictions; weighted weights each type by its gold support. 0/0 counts as 0.",
    "Token scores are per word (the first sub-word of each word carries the prediction); the confusion \
     matrix rows are gold tags and its columns predicted tags.",
    "Error categories, per sentence: boundary = same type, overlapping but different span; type confusion = \
     overlapping span of the other type only; missed = no prediction touches the gold entity; spurious = the \
     prediction touches no gold entity. Worst examples have the most words wrong, then the highest confidence.",
    "Abbreviation ↔ long-form pairs. Definition pairs: the gold definitions are read off the gold entities of \
     each sentence by layout — `LF ( AC`, `AC ( LF`, and abbreviation-list entries `AC , LF ;`, `AC : LF .`, \
     `AC = LF ;` (the entry starts the sentence or follows `;` `:` `.`, and ends it or precedes `;` `.`; with `:` \
     or `=` a `,` also delimits entries); a predicted pair is right when both of its spans equal a gold \
     definition's. The predicted pairs are read off the predicted entities the same way (`hybrid`, `rules`), or \
     with `model`'s pairing, which also pairs re-mentions and the nearest long form. The glossary score compares \
     each sentence's set of (short form, long form) texts. Gold pairs found: each gold AC is paired with an LF \
     of its sentence (parenthesised, else the LF of its bracketed definition, else the nearest LF that is not \
     another AC's bracketed definition; ties go to the LF before it) and the table counts which sides the \
     tagger found exactly.",
    "Sample predictions: half are the sentences with the most entity errors, half a seeded random draw.",
];

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn code_spans(s: &str) -> String {
    s.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { format!("<code>{}</code>", esc(part)) } else { esc(part) })
        .collect()
}

/// Words `from..to` as HTML with entity chips. `other` = the entities of the other side: a chip that is
/// not among them is marked as an error (`bad` on the predicted side, `miss` on the gold side).
fn chips(tokens: &[String], spans: &[Span], other: &[Span], from: usize, to: usize, gold_side: bool) -> String {
    let mut out = String::new();
    if from > 0 {
        out.push_str("<span class=cut>…</span> ");
    }
    for p in pieces(tokens, spans, from, to) {
        let text = esc(&p.words.join(" "));
        match p.span {
            Some(s) => {
                let state = match (other.contains(&s), gold_side) {
                    (true, _) => "ok",
                    (false, true) => "miss",
                    (false, false) => "bad",
                };
                let kind = esc(&s.kind);
                let _ = write!(out, "<span class=\"ent t-{kind} {state}\">{text}<sub>{kind}</sub></span> ");
            }
            None => {
                let _ = write!(out, "{text} ");
            }
        }
    }
    if to < tokens.len() {
        out.push_str("<span class=cut>…</span>");
    }
    out
}

fn pair_rows(r: &EvalReport, sentence: usize, from: usize, to: usize) -> String {
    let rec = &r.records[sentence];
    let (g, p) = &r.entities[sentence];
    format!(
        "<div class=pair><div><span class=side>gold</span>{}</div><div><span class=side>predicted</span>{}</div></div>",
        chips(&rec.tokens, g, p, from, to, true),
        chips(&rec.tokens, p, g, from, to, false)
    )
}

fn example(r: &EvalReport, e: &ErrorCase) -> String {
    let (a, b) = hull(e.gold.as_ref(), e.pred.as_ref());
    let (from, to) = window(r.records[e.sentence].len(), a, b, r.options.context_words);
    let conf = e.confidence.map(|c| format!(" · confidence {c:.2}")).unwrap_or_default();
    format!(
        "<div class=example><div class=meta>sentence {} · {} wrong{conf}</div>{}</div>",
        e.sentence + 1,
        plural(e.words_wrong, "word"),
        pair_rows(r, e.sentence, from, to)
    )
}

fn svg(charts: &[ChartFile], name: &str) -> String {
    charts
        .iter()
        .find(|c| c.name == name)
        .map(|c| {
            // inline SVG needs no namespace URL; drop fixed sizes so it scales with the page
            let body = c.svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1);
            let body = match (body.find("<svg"), body.find("viewBox")) {
                (Some(a), Some(v)) if v > a => format!("<svg {}", &body[v..]),
                _ => body,
            };
            format!("<figure>{body}<figcaption>{}</figcaption></figure>", esc(&c.title))
        })
        .unwrap_or_default()
}

const CSS: &str = r#"
:root{--ink:#263238;--muted:#607d8b;--line:#e3e7ea;--bg:#f6f8f9;--ac:#4477aa;--lf:#228833;--bad:#cc3311}
*{box-sizing:border-box}body{margin:0;font:15px/1.55 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#1f3a4d;color:#fff;padding:28px 40px 22px}header h1{margin:0 0 4px;font-size:26px;font-weight:600}
header p{margin:2px 0;color:#cfe0ea;font-size:14px}nav{background:#fff;border-bottom:1px solid var(--line);padding:8px 40px;position:sticky;top:0;z-index:2}
nav a{color:var(--muted);text-decoration:none;margin-right:18px;font-size:14px}nav a:hover{color:var(--ink)}
main{max-width:1180px;margin:0 auto;padding:10px 40px 60px}section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:8px 26px 22px;margin:22px 0}
h2{font-size:20px;margin:18px 0 10px;font-weight:600}h3{font-size:16px;margin:22px 0 6px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:14px;margin:18px 0}
.kpi{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}.kpi .v{font-size:28px;font-weight:600}
.kpi .l{color:var(--muted);font-size:13px}.kpi.main{border-top:4px solid var(--lf)}
table{border-collapse:collapse;margin:10px 0 14px;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:6px 12px;border-bottom:1px solid var(--line);text-align:right}th{background:#f1f4f6;font-weight:600}
th:first-child,td:first-child{text-align:left}tr.avg td{color:var(--muted);font-style:italic}
figure{margin:12px 0}figure svg{width:100%;height:auto;max-width:960px;display:block}figcaption{color:var(--muted);font-size:13px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:24px;align-items:start}@media(max-width:900px){.grid2,.pair{grid-template-columns:1fr!important}}
.note{color:var(--muted);font-size:14px}.cat{border-left:4px solid var(--line);padding-left:14px;margin:18px 0}
.cat.boundary{border-color:#ee7733}.cat.type_confusion{border-color:#aa3377}.cat.missed{border-color:#4477aa}.cat.spurious{border-color:var(--bad)}
.example{margin:10px 0;padding:8px 12px;background:#fafbfc;border:1px solid var(--line);border-radius:8px}
.meta{color:var(--muted);font-size:12px;margin-bottom:4px}.pair{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.side{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.ent{padding:1px 4px;border-radius:4px;border:1.5px solid transparent;white-space:normal}.ent sub{font-size:9px;font-weight:700;margin-left:3px;vertical-align:baseline;opacity:.8}
.t-AC{background:#dde8f4;border-color:var(--ac)}.t-AC sub{color:var(--ac)}.t-LF{background:#dcefe0;border-color:var(--lf)}.t-LF sub{color:var(--lf)}
.ent.bad{border:2px dashed var(--bad);background:#fbe3dc}.ent.miss{border:2px dotted var(--bad)}.cut{color:var(--muted)}
.legend span{margin-right:14px}.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#eef2f4;color:var(--muted)}
.up{color:var(--lf);font-weight:600}.down{color:var(--bad);font-weight:600}code{background:#eef2f4;padding:0 4px;border-radius:3px;font-size:13px}
"#;

fn kpi(label: &str, value: String, main: bool) -> String {
    format!(
        "<div class=\"kpi{}\"><div class=v>{value}</div><div class=l>{label}</div></div>",
        if main { " main" } else { "" }
    )
}

/// Renders the whole page.
pub fn render(r: &EvalReport, charts: &[ChartFile]) -> String {
    let ent = r.entity();
    let mut h = String::new();
    let _ = write!(h, "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body>", esc(&r.options.title));
    let _ = write!(
        h,
        "<header><h1>{}</h1><p>{}{} sentences · {} words · seqeval <b>{}</b> mode · nerkit {}</p></header>",
        esc(&r.options.title),
        if r.options.source.is_empty() { String::new() } else { format!("{} · ", esc(&r.options.source)) },
        r.records.len(),
        r.metrics.token.tokens,
        r.options.mode.as_str(),
        env!("CARGO_PKG_VERSION")
    );
    let mut nav = vec![
        ("scores", "Scores"),
        ("tokens", "Tokens"),
        ("length", "Length"),
        ("errors", "Errors"),
        ("pairs", "AC↔LF"),
        ("samples", "Samples"),
    ];
    if r.calibration.is_some() {
        nav.insert(3, ("calibration", "Calibration"));
    }
    if r.comparison.is_some() {
        nav.push(("compare", "Comparison"));
    }
    nav.push(("method", "Method"));
    h.push_str("<nav>");
    for (id, t) in nav {
        let _ = write!(h, "<a href=\"#{id}\">{t}</a>");
    }
    h.push_str("</nav><main>");
    h.push_str("<div class=kpis>");
    let main_label = match &r.micro_f1_interval {
        Some(ci) => format!(
            "micro F1 (entities); {:.0}\u{a0}% bootstrap interval {}–{}",
            100.0 * ci.confidence,
            pct(ci.low),
            pct(ci.high)
        ),
        None => "micro F1 (entities)".to_string(),
    };
    h.push_str(&kpi(&main_label, pct(ent.micro.f1), true));
    h.push_str(&kpi("macro F1", pct(ent.macro_.f1), false));
    h.push_str(&kpi("micro precision", pct(ent.micro.precision), false));
    h.push_str(&kpi("micro recall", pct(ent.micro.recall), false));
    h.push_str(&kpi(
        &format!(
            "micro F1, {} mode",
            if r.options.mode == crate::metrics::Mode::Strict { "default" } else { "strict" }
        ),
        pct(if r.options.mode == crate::metrics::Mode::Strict {
            r.metrics.entity.micro.f1
        } else {
            r.metrics.entity_strict.micro.f1
        }),
        false,
    ));
    h.push_str(&kpi("token accuracy", pct(r.metrics.token.accuracy), false));
    h.push_str("</div>");

    // entity scores
    let _ = write!(h, "<section id=scores><h2>Entity-level scores</h2><p class=note>Percentages; an entity is correct when type and both boundaries match.</p><table><tr><th>type</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>TP</th><th>FP</th><th>FN</th></tr>");
    for (k, p) in &ent.per_type {
        let _ = write!(h, "<tr><td><span class=\"ent t-{0}\">{0}</span></td><td>{1}</td><td>{2}</td><td><b>{3}</b></td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td></tr>", esc(k), pct(p.precision), pct(p.recall), pct(p.f1), p.support, p.tp, p.fp, p.fn_);
    }
    for (name, a) in [("micro avg", &ent.micro), ("macro avg", &ent.macro_), ("weighted avg", &ent.weighted)] {
        let _ = write!(
            h,
            "<tr class=avg><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td><td></td><td></td></tr>",
            pct(a.precision),
            pct(a.recall),
            pct(a.f1),
            a.support
        );
    }
    h.push_str("</table>");
    h.push_str(&svg(charts, "per_class"));
    h.push_str("</section>");

    // tokens
    let _ = write!(h, "<section id=tokens><h2>Token-level scores</h2><div class=grid2><div><p class=note>Accuracy {} over {} words.</p><table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>predicted</th></tr>", pct(r.metrics.token.accuracy), r.metrics.token.tokens);
    for l in &r.metrics.token.per_label {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.label),
            pct(l.precision),
            pct(l.recall),
            pct(l.f1),
            l.support,
            l.predicted
        );
    }
    let _ = write!(h, "<tr class=avg><td>macro (entity labels)</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td></tr></table></div><div>{}</div></div></section>",
        pct(r.metrics.token.macro_entity_labels.precision), pct(r.metrics.token.macro_entity_labels.recall), pct(r.metrics.token.macro_entity_labels.f1), r.metrics.token.macro_entity_labels.support, svg(charts, "confusion"));

    // length
    h.push_str("<section id=length><h2>Errors by sentence length</h2><div class=grid2><div><table><tr><th>words</th><th>sentences</th><th>with error</th><th>token errors</th><th>entity F1</th></tr>");
    for b in &r.length {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&b.label),
            b.sentences,
            pct(b.sentence_error_rate()),
            pct(b.token_error_rate()),
            pct(b.entity_f1)
        );
    }
    let _ = write!(h, "</table></div><p class=note>“With error”: share of sentences with at least one entity that is not an exact match. Token errors: share of words whose predicted tag differs from the gold tag. Long sentences hold more entities, so they are more likely to contain at least one error even at a flat token error rate.</p></div>{}</section>", svg(charts, "length_errors"));

    if let Some(c) = &r.calibration {
        let _ = write!(h, "<section id=calibration><h2>Calibration</h2><div class=grid2><div><p>{} words carry a confidence. Expected calibration error <b>{:.3}</b>: on average the confidence is off from the observed accuracy by that much.</p><table><tr><th>confidence</th><th>words</th><th>mean conf.</th><th>accuracy</th></tr>", c.words, c.ece);
        for b in c.bins.iter().filter(|b| b.count > 0) {
            let _ = write!(
                h,
                "<tr><td>{:.1}–{:.1}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td></tr>",
                b.lo, b.hi, b.count, b.mean_confidence, b.accuracy
            );
        }
        let _ = write!(h, "</table></div><div>{}</div></div></section>", svg(charts, "calibration"));
    }

    errors_section(&mut h, r);
    if r.has_pairs() {
        pairs_section(&mut h, r);
    }
    samples_section(&mut h, r);
    if let Some(c) = &r.comparison {
        compare_section(&mut h, r, c);
    }
    h.push_str("<section id=method><h2>Method</h2>");
    for n in method_notes(r) {
        let _ = write!(h, "<p class=note>{}</p>", code_spans(n));
    }
    h.push_str("</section></main></body></html>\n");
    h
}

const LEGEND: &str = "<p class=\"legend note\"><span><span class=\"ent t-AC\">abbreviation<sub>AC</sub></span></span><span><span class=\"ent t-LF\">long form<sub>LF</sub></span></span><span><span class=\"ent t-AC bad\">wrong prediction</span></span><span><span class=\"ent t-LF miss\">gold entity not found</span></span></p>";

fn errors_section(h: &mut String, r: &EvalReport) {
    let types = r.labels.entity_types();
    h.push_str("<section id=errors><h2>Error analysis</h2><table><tr><th>category</th><th>total</th>");
    for t in &types {
        let _ = write!(h, "<th>{}</th>", esc(t));
    }
    h.push_str("</tr>");
    for c in Category::ALL {
        let _ = write!(h, "<tr><td>{}</td><td><b>{}</b></td>", c.title(), r.errors.counts[&c]);
        for t in &types {
            let _ = write!(h, "<td>{}</td>", r.errors.counts_by_type[&c].get(t).copied().unwrap_or(0));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h.push_str(LEGEND);
    for c in Category::ALL {
        let id = serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let _ = write!(
            h,
            "<div class=\"cat {id}\"><h3>{} <span class=pill>{}</span></h3><p class=note>{}</p>",
            c.title(),
            r.errors.counts[&c],
            c.explanation()
        );
        for e in &r.errors.worst[&c] {
            h.push_str(&example(r, e));
        }
        h.push_str("</div>");
    }
    h.push_str("<h3>Most frequently missed forms</h3><p class=note>Gold forms not predicted exactly: missed / occurrences.</p><div class=grid2>");
    for (kind, forms) in &r.missed {
        let _ = write!(
            h,
            "<div><table><tr><th><span class=\"ent t-{0}\">{0}</span></th><th>missed</th><th>of</th></tr>",
            esc(kind)
        );
        for f in forms {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&f.text), f.missed, f.occurrences);
        }
        h.push_str("</table></div>");
    }
    h.push_str("</div></section>");
}

/// An HTML table (cells escaped).
fn html_table(h: &mut String, header: &[&str], rows: &[Vec<String>]) {
    h.push_str("<table><tr>");
    for c in header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>");
    for row in rows {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// Definition pairs against gold, the modes table and the pair errors (inside the pairs section).
fn definitions_block(h: &mut String, r: &EvalReport) {
    let Some(d) = &r.definitions else { return };
    let pct = |x: f64| format!("{:.2}", 100.0 * x);
    let p = &d.pairs;
    let _ = write!(
        h,
        "<h3>Definition pairs <code>{}</code></h3><p>{} gold definitions, {} predicted pairs, {} right: <b>P {} · R {} · F1 {}</b>; glossary per sentence: P {} · R {} · F1 {}.</p>",
        d.mode.name(), p.gold, p.predicted, p.correct, pct(p.precision), pct(p.recall), pct(p.f1),
        pct(d.glossary.precision), pct(d.glossary.recall), pct(d.glossary.f1)
    );
    let (header, rows) = d.rule_table();
    html_table(h, &header, &rows);
    if !r.pair_modes.is_empty() {
        h.push_str("<h3>Rules, model and hybrid on these sentences</h3>");
        let (header, rows) = super::definitions::modes_table(&r.pair_modes);
        html_table(h, &header, &rows);
    }
    for (spurious, title) in [(false, "Missed definitions"), (true, "Wrong pairs")] {
        let shown: Vec<_> =
            d.errors.iter().filter(|e| e.spurious == spurious).take(super::report_md::PAIR_ERRORS_SHOWN).collect();
        if shown.is_empty() {
            continue;
        }
        let _ = write!(h, "<h3>{title}</h3>");
        for e in shown {
            let rec = &r.records[e.sentence];
            let (a, b) = hull(Some(&e.short), Some(&e.long));
            let (from, to) = window(rec.len(), a, b, 3);
            let _ = write!(
                h,
                "<div class=example><div class=meta>sentence {} · <b>{}</b> ↔ <b>{}</b> · {}</div>{}</div>",
                e.sentence + 1,
                esc(&rec.tokens[e.short.start..e.short.end].join(" ")),
                esc(&rec.tokens[e.long.start..e.long.end].join(" ")),
                e.rule.name(),
                pair_rows(r, e.sentence, from, to)
            );
        }
    }
}

fn pairs_section(h: &mut String, r: &EvalReport) {
    let pc = &r.pair_counts;
    h.push_str("<section id=pairs><h2>Abbreviation ↔ long-form pairs</h2>");
    definitions_block(h, r);
    let _ = write!(h, "<h3>Gold pairs found</h3><p>{} gold pairs, {} of them parenthesised definitions.</p><table><tr><th>outcome</th><th>pairs</th></tr><tr><td>both found</td><td>{}</td></tr><tr><td><b>abbreviation found, long form not</b></td><td><b>{}</b></td></tr><tr><td>long form found, abbreviation not</td><td>{}</td></tr><tr><td>neither found</td><td>{}</td></tr></table>",
        pc.pairs, pc.parenthesised, pc.both_found, pc.ac_only, pc.lf_only, pc.neither);
    let shown: Vec<_> =
        r.pairs.iter().filter(|o| o.ac_found && !o.lf_found).take(r.options.worst_examples * 2).collect();
    if !shown.is_empty() {
        h.push_str("<h3>Abbreviation found, long form not</h3>");
    }
    for o in shown {
        let (a, b) = hull(Some(&o.ac), Some(&o.lf));
        let (from, to) = window(r.records[o.sentence].len(), a, b, 3);
        let rec = &r.records[o.sentence];
        let rule = match o.rule {
            super::pairs::PairRule::Parenthesised => "parenthesised definition",
            super::pairs::PairRule::Remention => "re-mention of a bracketed definition",
            super::pairs::PairRule::Nearest => "nearest long form",
            super::pairs::PairRule::Listed => "abbreviation-list entry",
        };
        let _ = write!(
            h,
            "<div class=example><div class=meta>sentence {} · <b>{}</b> ↔ <b>{}</b> · {rule}</div>{}</div>",
            o.sentence + 1,
            esc(&rec.tokens[o.ac.start..o.ac.end].join(" ")),
            esc(&rec.tokens[o.lf.start..o.lf.end].join(" ")),
            pair_rows(r, o.sentence, from, to)
        );
    }
    h.push_str("</section>");
}

fn samples_section(h: &mut String, r: &EvalReport) {
    h.push_str("<section id=samples><h2>Sample predictions</h2>");
    h.push_str(LEGEND);
    for s in &r.samples {
        let why = match s.reason {
            SampleReason::Worst => "among the worst",
            SampleReason::Random => "random",
        };
        let _ = write!(
            h,
            "<div class=example><div class=meta>sentence {} · {why} · {}</div>{}</div>",
            s.sentence + 1,
            plural(s.errors, "entity error"),
            pair_rows(r, s.sentence, 0, r.records[s.sentence].len())
        );
    }
    h.push_str("</section>");
}

fn compare_section(h: &mut String, r: &EvalReport, c: &super::Comparison) {
    let _ = write!(h, "<section id=compare><h2>Comparison with {}</h2><p class=note>Δ = this run − other run, in percentage points.</p><table><tr><th>row</th><th>P this</th><th>P other</th><th>ΔP</th><th>R this</th><th>R other</th><th>ΔR</th><th>F1 this</th><th>F1 other</th><th>ΔF1</th></tr>", esc(&c.other));
    for row in &c.rows {
        let d = row.delta();
        let cls = |x: f64| {
            if x > 1e-12 {
                "up"
            } else if x < -1e-12 {
                "down"
            } else {
                ""
            }
        };
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td><td>{}</td><td>{}</td><td class={}>{}</td><td>{}</td><td>{}</td><td class={}>{}</td></tr>",
            esc(&row.name), pct(row.this[0]), pct(row.other[0]), cls(d[0]), delta_pp(d[0]), pct(row.this[1]), pct(row.other[1]), cls(d[1]), delta_pp(d[1]), pct(row.this[2]), pct(row.other[2]), cls(d[2]), delta_pp(d[2]));
    }
    h.push_str("</table>");
    if let Some(diff) = &c.differing {
        let _ = write!(h, "<p>{} sentences have different predictions: <span class=up>{} fixed</span>, <span class=down>{} broken</span>, {} changed.</p>", diff.len(), c.count(Change::Fixed), c.count(Change::Broken), c.count(Change::Changed));
        for d in diff.iter().take(20) {
            let rec = &r.records[d.sentence];
            let (g, p) = &r.entities[d.sentence];
            let other = crate::metrics::extract(&d.other_pred, r.options.mode).unwrap_or_default();
            let _ = write!(h, "<div class=example><div class=meta>sentence {} · {:?} · entity errors {} → {}</div><div class=pair><div><span class=side>this run</span>{}</div><div><span class=side>other run</span>{}</div></div></div>",
                d.sentence + 1, d.change, d.other_errors, d.this_errors, chips(&rec.tokens, p, g, 0, rec.len(), false), chips(&rec.tokens, &other, g, 0, rec.len(), false));
        }
    }
    h.push_str("</section>");
}
