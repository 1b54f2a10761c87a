//! What `nerkit bench` shows: the terminal table, and `--report DIR`'s self-contained `report.html` (inline CSS
//! and SVG charts drawn with plotters: throughput per backend and shape, latency distribution per shape, speed
//! against F1).
use std::fmt::Write;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{percentile, BenchReport, BenchRow};
use crate::evaluate::charts::{legend, FONT, GRID, INK};
use crate::evaluate::report_html::esc;
/// One colour per backend (Paul Tol's bright scheme, colour-blind-safe).
const COLOURS: [RGBColor; 7] = [
    RGBColor(68, 119, 170),
    RGBColor(238, 102, 119),
    RGBColor(34, 136, 51),
    RGBColor(204, 187, 68),
    RGBColor(102, 204, 238),
    RGBColor(170, 51, 119),
    RGBColor(120, 120, 120),
];

/// The terminal table.
pub fn table(report: &BenchReport, baseline: &str) -> String {
    let mut out = format!(
        "nerkit bench: {} · {} · {} interleaved rounds\n{:<15} {:>5} {:>5} {:>9} {:>9} {:>9} {:>11} {:>11} {:>8} {:>7}\n",
        report.model, report.machine, report.rounds, "backend", "batch", "seq", "p50 ms", "p95 ms", "p99 ms",
        "sent/s", "tokens/s", format!("vs {baseline}"), "RSS MB"
    );
    for r in &report.rows {
        let ratio = r.ratio.map_or("-".to_string(), |x| format!("{x:.2}x"));
        out += &format!(
            "{:<15} {:>5} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>11.1} {:>11.0} {:>8} {:>7.0}\n",
            r.backend, r.batch, r.seq, r.p50_ms, r.p95_ms, r.p99_ms, r.sentences_per_s, r.tokens_per_s, ratio, r.rss_mb
        );
    }
    if let Some(first) = report.accuracy.first() {
        out += &format!(
            "accuracy on {} sentences (entity micro F1, Viterbi; definition pairs with hybrid decoding; difference to {baseline} paired on the same sentences, 95 % bootstrap interval):\n",
            first.sentences
        );
        for a in &report.accuracy {
            let types: Vec<String> = a.per_type.iter().map(|(k, f)| format!("{k} {f:.4}")).collect();
            let delta = a.vs_baseline.as_ref().map_or(String::new(), |d| {
                let lf = d.per_type.get("LF").map_or(String::new(), |x| format!(", LF {:+.2}", x.0));
                format!("  {:+.2} points [{:+.2}, {:+.2}]{lf}", d.micro, d.micro_low, d.micro_high)
            });
            let pairs = a.pairs_f1.map_or(String::new(), |f| format!(", definition pairs F1 {f:.4}"));
            out += &format!("  {:<15} F1 {:.4} ({}{pairs}){delta}\n", a.backend, a.f1, types.join(", "));
        }
    }
    if let Some(first) = report.end_to_end.first() {
        out += &format!(
            "end to end (raw text → entities, as nerkit predict) on {} documents, {} sentences:\n",
            first.documents, first.sentences
        );
        for e in &report.end_to_end {
            let ratio = e.ratio.map_or("-".to_string(), |x| format!("{x:.2}x"));
            out += &format!(
                "  {:<15} {:>8.2} s/pass {:>9.1} docs/s {:>9.1} sent/s {:>8} vs {baseline}  ({} entities, batch {})\n",
                e.label(),
                e.p50_s,
                e.documents_per_s,
                e.sentences_per_s,
                ratio,
                e.entities,
                e.batch
            );
        }
        if let Some((hf, vs)) = vs_pipeline(report) {
            let vs: Vec<String> = vs.iter().map(|(name, x)| format!("{name} {x:.2}x")).collect();
            out += &format!("  vs the Hugging Face pipeline at its fastest ({hf}): {}\n", vs.join(", "));
        }
    }
    if !report.server.is_empty() {
        out += "server load (POST /tag, one text per request):\n";
        for r in &report.server {
            out += &format!(
                "  {} ({}, batching {}) concurrency {:>3}: {:>5} requests {:>8.1} req/s  p50 {:>8.2} ms  p95 {:>8.2} ms  p99 {:>8.2} ms  errors {}\n",
                r.url, r.backend, on_off(r.batching), r.concurrency, r.requests, r.requests_per_s, r.p50_ms, r.p95_ms, r.p99_ms, errors(r)
            );
        }
    }
    for s in &report.skipped {
        out += &format!("skipped {}: {}\n", s.backend, s.reason);
    }
    out
}

/// With `--compare-python`: the pipeline's fastest row, and every nerkit engine's end-to-end speed over it.
fn vs_pipeline(report: &BenchReport) -> Option<(String, Vec<(String, f64)>)> {
    let hf = report.end_to_end.iter().filter(|e| e.is_reference()).min_by(|a, b| a.p50_s.total_cmp(&b.p50_s))?;
    let vs = report.end_to_end.iter().filter(|e| !e.is_reference()).map(|e| (e.label(), hf.p50_s / e.p50_s));
    Some((hf.backend.clone(), vs.collect()))
}

fn on_off(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "on",
        Some(false) => "off",
        None => "?",
    }
}

fn errors(r: &super::server_load::ServerRow) -> String {
    if r.errors.is_empty() {
        return "0".into();
    }
    r.errors.iter().map(|(k, v)| format!("{v}×{k}")).collect::<Vec<_>>().join(", ")
}

type DrawResult = Result<(), String>;

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

/// The backends in report order, each with its colour.
fn backends(report: &BenchReport) -> Vec<(String, RGBColor)> {
    let mut names: Vec<String> = Vec::new();
    for n in report.rows.iter().map(|r| &r.backend).chain(report.end_to_end.iter().map(|r| &r.backend)) {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names.into_iter().enumerate().map(|(i, n)| (n, COLOURS[i % COLOURS.len()])).collect()
}

/// [`backends`] that have graph timings (the end-to-end-only ones, e.g. the Hugging Face pipeline, have none),
/// with the same colours.
fn graph_backends(report: &BenchReport) -> Vec<(String, RGBColor)> {
    backends(report).into_iter().filter(|(n, _)| report.rows.iter().any(|r| &r.backend == n)).collect()
}

fn shapes(report: &BenchReport) -> Vec<(usize, usize)> {
    let mut s: Vec<(usize, usize)> = Vec::new();
    for r in &report.rows {
        if !s.contains(&(r.batch, r.seq)) {
            s.push((r.batch, r.seq));
        }
    }
    s
}

/// The x-axis label of group `x` (a shape index) of the per-shape charts.
fn shape_label(shapes: &[(usize, usize)], x: &f64) -> String {
    let i = x.round();
    match shapes.get(i as usize).filter(|_| (x - i).abs() < 1e-6 && i >= 0.0) {
        Some((b, s)) => format!("batch {b} × {s} tokens"),
        None => String::new(),
    }
}

fn row<'a>(report: &'a BenchReport, backend: &str, shape: (usize, usize)) -> Option<&'a BenchRow> {
    report.rows.iter().find(|r| r.backend == backend && (r.batch, r.seq) == shape)
}

fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult) -> Result<String, String> {
    crate::charts::register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        draw(&root)?;
        root.present().map_err(e)?;
    }
    Ok(out)
}

/// Grouped bars: sentences/s per shape (groups) and backend (bars).
fn throughput_chart(report: &BenchReport) -> Result<String, String> {
    let (names, shapes) = (graph_backends(report), shapes(report));
    let top = report.rows.iter().map(|r| r.sentences_per_s).fold(0.0f64, f64::max) * 1.15;
    svg((960, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Throughput (sentences/s, median batch latency)", (FONT, 22).into_font().color(&INK))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(shapes.len() as f64 - 0.5), 0f64..top.max(1.0))
            .map_err(e)?;
        let fmt_x = |x: &f64| shape_label(&shapes, x);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(shapes.len())
            .x_label_formatter(&fmt_x)
            .y_desc("sentences / s")
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(e)?;
        let w = 0.8 / names.len().max(1) as f64;
        let label = TextStyle::from((FONT, 11).into_font()).color(&INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (k, (name, colour)) in names.iter().enumerate() {
            let bars: Vec<(f64, f64)> = shapes
                .iter()
                .enumerate()
                .filter_map(|(i, &sh)| {
                    row(report, name, sh).map(|r| (i as f64 - 0.4 + k as f64 * w, r.sentences_per_s))
                })
                .collect();
            let c = *colour;
            chart
                .draw_series(
                    bars.iter().map(|&(x, v)| Rectangle::new([(x + 0.06 * w, 0.0), (x + 0.94 * w, v)], c.filled())),
                )
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            chart
                .draw_series(bars.iter().map(|&(x, v)| Text::new(format!("{v:.0}"), (x + 0.5 * w, v), label.clone())))
                .map_err(e)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Latency distribution per shape and backend on a log axis: whiskers p5–p95, box p25–p75, median line.
fn latency_chart(report: &BenchReport) -> Result<String, String> {
    let (names, shapes) = (graph_backends(report), shapes(report));
    let all: Vec<f64> = report.rows.iter().flat_map(|r| r.samples_ms.iter().copied()).filter(|x| *x > 0.0).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min).min(1e6) * 0.7;
    let hi = all.iter().copied().fold(0.0f64, f64::max).max(lo * 10.0) * 1.25;
    svg((960, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency per batch (ms, log scale; box p25–p75, whiskers p5–p95)",
                (FONT, 22).into_font().color(&INK),
            )
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..(shapes.len() as f64 - 0.5), (lo..hi).log_scale())
            .map_err(e)?;
        let fmt_x = |x: &f64| shape_label(&shapes, x);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(shapes.len())
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&|y| format!("{y:.1}"))
            .y_desc("ms per batch")
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(e)?;
        let w = 0.8 / names.len().max(1) as f64;
        for (k, (name, colour)) in names.iter().enumerate() {
            let c = *colour;
            let mut elements: Vec<PathElement<(f64, f64)>> = Vec::new();
            let mut boxes: Vec<Rectangle<(f64, f64)>> = Vec::new();
            for (i, &sh) in shapes.iter().enumerate() {
                let Some(r) = row(report, name, sh) else { continue };
                let mut t = r.samples_ms.clone();
                if t.is_empty() {
                    continue;
                }
                t.sort_by(f64::total_cmp);
                let x = i as f64 - 0.4 + (k as f64 + 0.5) * w;
                let q = |p| percentile(&t, p);
                elements.push(PathElement::new([(x, q(0.05)), (x, q(0.95))], c.stroke_width(2)));
                boxes.push(Rectangle::new([(x - 0.35 * w, q(0.25)), (x + 0.35 * w, q(0.75))], c.mix(0.6).filled()));
                elements.push(PathElement::new([(x - 0.4 * w, q(0.5)), (x + 0.4 * w, q(0.5))], INK.stroke_width(2)));
            }
            chart
                .draw_series(boxes)
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.mix(0.6).filled()));
            chart.draw_series(elements).map_err(e)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// The speed each backend's F1 comes with: end-to-end sentences/s when measured, else graph sentences/s at the
/// largest batch of the shape nearest 128 tokens.
fn speed_of(report: &BenchReport, backend: &str) -> Option<(f64, String)> {
    // the engine's fastest lane count
    if let Some(r) = report
        .end_to_end
        .iter()
        .filter(|r| r.backend == backend)
        .max_by(|a, b| a.sentences_per_s.total_cmp(&b.sentences_per_s))
    {
        return Some((r.sentences_per_s, "end-to-end sentences / s".into()));
    }
    let rows: Vec<&BenchRow> = report.rows.iter().filter(|r| r.backend == backend).collect();
    let best = rows.iter().min_by_key(|r| (r.seq.abs_diff(128), std::cmp::Reverse(r.batch)))?;
    Some((best.sentences_per_s, format!("sentences / s (graph, batch {} × {} tokens)", best.batch, best.seq)))
}

fn scatter_chart(report: &BenchReport) -> Result<String, String> {
    let names = backends(report);
    let points: Vec<(String, RGBColor, f64, f64)> = names
        .iter()
        .filter_map(|(n, c)| {
            let f1 = report.accuracy.iter().find(|a| &a.backend == n)?.f1 * 100.0;
            Some((n.clone(), *c, speed_of(report, n)?.0, f1))
        })
        .collect();
    if points.is_empty() {
        return Ok(String::new());
    }
    let x_desc = points.first().and_then(|p| speed_of(report, &p.0)).map(|s| s.1).unwrap_or_default();
    let x_hi = points.iter().map(|p| p.2).fold(0.0f64, f64::max) * 1.2;
    let (y_lo, y_hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.3), b.max(p.3)));
    let pad = ((y_hi - y_lo) * 0.5).max(1.0);
    svg((960, 520), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Speed against accuracy", (FONT, 22).into_font().color(&INK))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_hi.max(1.0), (y_lo - pad)..(y_hi + pad))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(x_desc.as_str())
            .y_desc("entity micro F1 (%)")
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(e)?;
        let style = TextStyle::from((FONT, 14).into_font()).color(&INK).pos(Pos::new(HPos::Left, VPos::Bottom));
        for (name, c, x, y) in &points {
            chart.draw_series([Circle::new((*x, *y), 7, c.filled())]).map_err(e)?;
            chart.draw_series([Text::new(format!("{name} ({y:.2})"), (*x, *y), style.clone())]).map_err(e)?;
        }
        Ok(())
    })
}

const CSS: &str = "body{font-family:system-ui,sans-serif;color:#263238;max-width:1000px;margin:2em auto;padding:0 1em}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #dce0e4;text-align:right}\
th:first-child,td:first-child{text-align:left}h1{font-size:24px}h2{font-size:19px;margin-top:2em}.muted{color:#607d8b}\
figure{margin:1em 0}svg{max-width:100%;height:auto}";

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or("–".into(), f)
}

/// The HTML page.
pub fn html(report: &BenchReport, baseline: &str) -> Result<String, String> {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>nerkit bench</title><style>{CSS}</style></head><body>\
         <h1>nerkit bench</h1><p class=muted>model <code>{}</code> · {} · {} interleaved timed rounds · ratios are \
         {} p50 over each row's p50, measured in the same run</p>",
        esc(&report.model),
        esc(&report.machine),
        report.rounds,
        esc(baseline)
    );
    if !report.rows.is_empty() {
        h.push_str("<h2>Inference graph</h2><figure>");
        h.push_str(&throughput_chart(report)?);
        h.push_str("</figure><figure>");
        h.push_str(&latency_chart(report)?);
        h.push_str("</figure><table><tr><th>backend</th><th>batch</th><th>seq</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>sentences/s</th><th>tokens/s</th><th>vs baseline</th><th>RSS MB</th><th>F1</th></tr>");
        for r in &report.rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.1}</td><td>{:.0}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
                esc(&r.backend),
                r.batch,
                r.seq,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                r.sentences_per_s,
                r.tokens_per_s,
                opt(r.ratio, |x| format!("{x:.2}×")),
                r.rss_mb,
                opt(r.f1, |x| format!("{x:.4}"))
            );
        }
        h.push_str("</table>");
    }
    if !report.accuracy.is_empty() {
        let _ = write!(
            h,
            "<h2>Accuracy</h2><figure>{}</figure><p class=muted>Entity micro F1 on {} labelled sentences (Viterbi \
             decoding, seqeval default mode); the difference to {} is paired on the same sentences, with its 95 % \
             bootstrap interval, in points.</p><table><tr><th>backend</th><th>F1</th><th>per type</th><th>Δ micro</th><th>95 % interval</th><th>Δ LF</th></tr>",
            scatter_chart(report)?,
            report.accuracy[0].sentences,
            esc(baseline)
        );
        for a in &report.accuracy {
            let mut types: Vec<String> = a.per_type.iter().map(|(k, f)| format!("{} {f:.4}", esc(k))).collect();
            types.extend(a.pairs_f1.map(|f| format!("definition pairs {f:.4}")));
            let (d, i, lf) = match &a.vs_baseline {
                Some(d) => (
                    format!("{:+.2}", d.micro),
                    format!("[{:+.2}, {:+.2}]", d.micro_low, d.micro_high),
                    d.per_type.get("LF").map_or("–".into(), |x| format!("{:+.2}", x.0)),
                ),
                None => ("–".into(), "–".into(), "–".into()),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.4}</td><td>{}</td><td>{d}</td><td>{i}</td><td>{lf}</td></tr>",
                esc(&a.backend),
                a.f1,
                types.join(", ")
            );
        }
        h.push_str("</table>");
    }
    if let Some(first) = report.end_to_end.first() {
        let _ = write!(
            h,
            "<h2>End to end</h2><p class=muted>Raw text → entities as <code>nerkit predict</code> runs it \
             (segmentation, tokenisation, windows, inference, Viterbi, pairs) on {} documents ({} sentences), \
             median of the timed passes.</p><table><tr><th>backend</th><th>s / pass</th><th>documents/s</th><th>sentences/s</th><th>vs baseline</th><th>entities</th><th>batch</th></tr>",
            first.documents, first.sentences
        );
        for r in &report.end_to_end {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.label()),
                r.p50_s,
                r.documents_per_s,
                r.sentences_per_s,
                opt(r.ratio, |x| format!("{x:.2}×")),
                r.entities,
                r.batch
            );
        }
        h.push_str("</table>");
        if let Some((hf, vs)) = vs_pipeline(report) {
            let vs: Vec<String> = vs.iter().map(|(name, x)| format!("{} <b>{x:.2}×</b>", esc(name))).collect();
            let _ = write!(
                h,
                "<p>Against the Hugging Face pipeline at its fastest ({}): {}.</p><p class=muted><code>hf-pipeline-b&lt;batch&gt;</code>: \
                 the Hugging Face token-classification pipeline (PyTorch, aggregation simple) on the same documents \
                 and trained model, its turns in the same interleaved rounds (<code>--compare-python</code>); its \
                 entities are word-level groups, not nerkit's.</p>",
                esc(&hf),
                vs.join(", ")
            );
        }
    }
    if !report.server.is_empty() {
        h.push_str("<h2>Server load</h2><p class=muted><code>POST /tag</code>, one text per request, bounded in count and time, loopback only.</p><table><tr><th>server</th><th>engine</th><th>batching</th><th>concurrency</th><th>requests</th><th>requests/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th></tr>");
        for r in &report.server {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>",
                esc(&r.url),
                esc(&r.backend),
                on_off(r.batching),
                r.concurrency,
                r.requests,
                r.requests_per_s,
                r.p50_ms,
                r.p95_ms,
                r.p99_ms,
                esc(&errors(r))
            );
        }
        h.push_str("</table>");
    }
    if !report.skipped.is_empty() {
        h.push_str("<h2>Skipped</h2><ul>");
        for s in &report.skipped {
            let _ = write!(h, "<li><b>{}</b>: {}</li>", esc(&s.backend), esc(&s.reason));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

/// Writes `report.html` and `bench.json` into `dir` (created if missing); returns the page's path.
pub fn write(report: &BenchReport, baseline: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let page = dir.join("report.html");
    let body = html(report, baseline).map_err(|m| anyhow::anyhow!("drawing the bench charts: {m}"))?;
    std::fs::write(&page, body).map_err(|e| anyhow::anyhow!("{}: {e}", page.display()))?;
    let json = dir.join("bench.json");
    std::fs::write(&json, serde_json::to_string_pretty(report)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", json.display()))?;
    Ok(page)
}
