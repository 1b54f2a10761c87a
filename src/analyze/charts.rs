//! Charts (PNG + SVG, plotters with the embedded DejaVu font): tag distribution per split, sentence-length
//! histograms in words and sub-words (with the `max_len` marker), entity span lengths (AC vs LF).
use std::error::Error;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::histogram::{Bin, Histogram};
use super::stats::LengthStats;
use super::{Analysis, AnalyzeError};

type DrawResult = Result<(), Box<dyn Error>>;

const FONT: &str = "sans-serif";
/// Series colours (matplotlib's tab10): train, validation, test, then AC/LF reuse the palette.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
/// Span lengths above this are pooled into one `≥ N` bar.
const MAX_SPAN_BAR: usize = 10;

/// A chart that can be drawn on any plotters backend.
trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Draws every chart into `out_dir`; returns the PNG and SVG paths.
pub fn render_all(analysis: &Analysis, out_dir: &Path) -> Result<Vec<PathBuf>, AnalyzeError> {
    crate::charts::register_fonts();
    let mut files = Vec::new();
    files.extend(save(&TagChart(analysis), out_dir, "label_distribution")?);
    let words =
        analysis.splits.iter().map(|s| LengthPanel { name: &s.name, lengths: &s.words, over_max_len: None }).collect();
    let chart = LengthChart { panels: words, unit: "words", max_len: None };
    files.extend(save(&chart, out_dir, "sentence_length_words")?);
    let subs: Vec<LengthPanel> = analysis
        .splits
        .iter()
        .filter_map(|s| {
            let sw = s.subwords.as_ref()?;
            Some(LengthPanel { name: &s.name, lengths: &sw.lengths, over_max_len: Some(sw.over_max_len) })
        })
        .collect();
    if !subs.is_empty() {
        let unit = "sub-words, incl. [CLS]/[SEP]";
        let chart = LengthChart { panels: subs, unit, max_len: Some(analysis.max_len) };
        files.extend(save(&chart, out_dir, "sentence_length_subwords")?);
    }
    files.extend(save(&SpanChart(analysis), out_dir, "span_lengths")?);
    Ok(files)
}

fn save(chart: &impl Chart, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, AnalyzeError> {
    let (png, svg) = (dir.join(format!("{stem}.png")), dir.join(format!("{stem}.svg")));
    let err = |path: &Path, e: Box<dyn Error>| AnalyzeError::Write { path: path.to_path_buf(), message: e.to_string() };
    {
        let root = BitMapBackend::new(&png, chart.size()).into_drawing_area();
        chart.draw(&root).and_then(|_| Ok(root.present()?)).map_err(|e| err(&png, e))?;
    }
    {
        let root = SVGBackend::new(&svg, chart.size()).into_drawing_area();
        chart.draw(&root).and_then(|_| Ok(root.present()?)).map_err(|e| err(&svg, e))?;
    }
    Ok(vec![png, svg])
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Label for a category axis at integer positions 0..n (drawn on an f64 axis -0.5..n-0.5).
fn category_label(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// Grouped bars: `values[series][category]` heights, with `annotations` above each bar.
#[allow(clippy::too_many_arguments)]
fn grouped_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    categories: &[String],
    series: &[(String, Vec<f64>, Vec<String>)],
    x_desc: &str,
    y_desc: &str,
    legend: bool,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = categories.len();
    let y_max = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0, f64::max).max(1e-9) * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 20))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y_max)?;
    let label_fmt = |x: &f64| category_label(categories, *x);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label_fmt)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.1))
        .draw()?;
    let k = series.len() as f64;
    let group = 0.8;
    let width = group / k;
    for (j, (name, values, notes)) in series.iter().enumerate() {
        let c = color(j);
        let x0 = |i: usize| i as f64 - group / 2.0 + j as f64 * width;
        let bars = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Rectangle::new([(x0(i) + width * 0.06, 0.0), (x0(i) + width * 0.94, v)], c.filled()));
        let drawn = chart.draw_series(bars)?;
        if legend {
            drawn.label(name.as_str()).legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
        }
        let style = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(
            values
                .iter()
                .zip(notes)
                .enumerate()
                .map(|(i, (&v, note))| Text::new(note.clone(), (x0(i) + width / 2.0, v + y_max * 0.01), style.clone())),
        )?;
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    Ok(())
}

struct TagChart<'a>(&'a Analysis);

impl Chart for TagChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let a = self.0;
        let series: Vec<(String, Vec<f64>, Vec<String>)> = a
            .splits
            .iter()
            .map(|s| {
                let shares = s.tags.iter().map(|t| t.share * 100.0).collect();
                let counts = s.tags.iter().map(|t| thousands(t.count)).collect();
                (format!("{} ({} tokens)", s.name, thousands(s.tokens)), shares, counts)
            })
            .collect();
        grouped_bars(
            root,
            "Tag distribution per split (bar labels: token counts)",
            &a.labels,
            &series,
            "tag",
            "share of tokens (%)",
            true,
        )
    }
}

/// One panel of a length chart: split name, lengths, and (sub-words only) sentences over `max_len`.
struct LengthPanel<'a> {
    name: &'a str,
    lengths: &'a LengthStats,
    over_max_len: Option<usize>,
}

struct LengthChart<'a> {
    panels: Vec<LengthPanel<'a>>,
    unit: &'a str,
    max_len: Option<usize>,
}

/// Share of sentences the x-axis must show; longer ones are summarised in a note.
const SHOWN_SHARE: f64 = 0.995;

impl LengthChart<'_> {
    /// The x-axis end: the bin edge covering [`SHOWN_SHARE`] of every split (and `max_len` with room).
    fn x_limit(&self) -> usize {
        let covering = |h: &Histogram| {
            let total: usize = h.bins.iter().map(|b| b.count).sum();
            let mut seen = 0;
            for b in &h.bins {
                seen += b.count;
                if seen as f64 >= SHOWN_SHARE * total as f64 {
                    return b.hi;
                }
            }
            h.bins.last().map_or(1, |b| b.hi)
        };
        let data = self.panels.iter().map(|p| covering(&p.lengths.histogram)).max().unwrap_or(1);
        data.max(self.max_len.map_or(0, |m| m + m / 5))
    }
}

impl Chart for LengthChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 60 + 300 * self.panels.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled(&format!("Sentence length ({})", self.unit), (FONT, 22))?;
        let x_max = self.x_limit();
        let areas = root.split_evenly((self.panels.len(), 1));
        for (i, (p, area)) in self.panels.iter().zip(&areas).enumerate() {
            let hist = &p.lengths.histogram;
            let total: usize = hist.bins.iter().map(|b| b.count).sum();
            let shown: Vec<&Bin> = hist.bins.iter().filter(|b| b.hi <= x_max).collect();
            let hidden: usize = hist.bins.iter().filter(|b| b.hi > x_max).map(|b| b.count).sum();
            let y_max = shown.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64 * 1.15;
            let mut caption = match &p.lengths.summary {
                Some(s) => format!(
                    "{}: {} sentences · mean {:.1} · median {:.0} · p95 {} · bin width {}",
                    p.name,
                    thousands(total),
                    s.mean,
                    s.median,
                    s.p95,
                    hist.bin_width
                ),
                None => format!("{}: no sentences", p.name),
            };
            if hidden > 0 {
                let longest = p.lengths.summary.as_ref().map_or(0, |s| s.max);
                caption += &format!(" · {} beyond {x_max} not shown (max {longest})", thousands(hidden));
            }
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 16))
                .margin(10)
                .margin_right(25)
                .x_label_area_size(45)
                .y_label_area_size(65)
                .build_cartesian_2d(0.0..x_max as f64, 0.0..y_max)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_desc(format!("sentence length ({})", self.unit))
                .y_desc("sentences")
                .y_label_formatter(&|y| format!("{y:.0}"))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .light_line_style(WHITE.mix(0.0))
                .bold_line_style(BLACK.mix(0.1))
                .draw()?;
            let c = color(i);
            chart.draw_series(
                shown
                    .iter()
                    .map(|b| Rectangle::new([(b.lo as f64, 0.0), (b.hi as f64, b.count as f64)], c.mix(0.85).filled())),
            )?;
            chart.draw_series(
                shown.iter().filter(|b| b.count > 0).map(|b| {
                    Rectangle::new([(b.lo as f64, 0.0), (b.hi as f64, b.count as f64)], WHITE.stroke_width(1))
                }),
            )?;
            if let Some(m) = self.max_len {
                let line = [(m as f64, 0.0), (m as f64, y_max)];
                chart.draw_series(DashedLineSeries::new(line, 8, 5, MARKER.stroke_width(2)))?;
                let over = p.over_max_len.unwrap_or(0);
                let note = format!(
                    "max_len {m}: {} longer ({:.1}%)",
                    plural(over, "sentence"),
                    over as f64 * 100.0 / total.max(1) as f64
                );
                // Write the note on the side of the marker that has room.
                let (text, side) = if (m as f64) < x_max as f64 * 0.55 {
                    (format!(" {note}"), HPos::Left)
                } else {
                    (format!("{note} "), HPos::Right)
                };
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    (m as f64, y_max * 0.75),
                    note_style(&MARKER, side),
                )))?;
            }
        }
        Ok(())
    }
}

/// The colour of the `max_len` marker.
const MARKER: RGBColor = RGBColor(200, 30, 30);

fn note_style(color: &'static RGBColor, h: HPos) -> TextStyle<'static> {
    TextStyle::from((FONT, 14).into_font()).color(color).pos(Pos::new(h, VPos::Center))
}

/// `1 sentence`, `3 sentences`, with thousands separators.
fn plural(n: usize, word: &str) -> String {
    format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
}

struct SpanChart<'a>(&'a Analysis);

impl Chart for SpanChart<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 80 + 330 * self.0.splits.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let root = root.titled("Entity span length in words (share of spans of each type)", (FONT, 22))?;
        let longest = self
            .0
            .splits
            .iter()
            .flat_map(|s| s.spans.iter().flat_map(|sp| sp.length_counts.iter().map(|c| c.0)))
            .max()
            .unwrap_or(1);
        let cap = longest.min(MAX_SPAN_BAR);
        let categories: Vec<String> =
            (1..=cap).map(|l| if l == cap && longest > cap { format!("≥{l}") } else { l.to_string() }).collect();
        let panels = root.split_evenly((self.0.splits.len(), 1));
        for (split, panel) in self.0.splits.iter().zip(&panels) {
            let series: Vec<(String, Vec<f64>, Vec<String>)> = split
                .spans
                .iter()
                .map(|sp| {
                    let mut counts = vec![0usize; cap];
                    for &(len, n) in &sp.length_counts {
                        counts[len.clamp(1, cap) - 1] += n;
                    }
                    let total = sp.count.max(1) as f64;
                    let shares = counts.iter().map(|&c| c as f64 * 100.0 / total).collect();
                    let notes = counts.iter().map(|&c| if c > 0 { thousands(c) } else { String::new() }).collect();
                    let mean = sp.length_words.as_ref().map_or(0.0, |s| s.mean);
                    (format!("{} ({} spans, mean {mean:.2})", sp.entity_type, thousands(sp.count)), shares, notes)
                })
                .collect();
            grouped_bars(
                panel,
                &format!("{} (bar labels: span counts)", split.name),
                &categories,
                &series,
                "span length (words)",
                "share of spans (%)",
                true,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(32971), "32,971");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn category_labels_only_at_integers() {
        let labels = vec!["O".to_string(), "B-AC".to_string()];
        assert_eq!(category_label(&labels, 1.0), "B-AC");
        assert_eq!(category_label(&labels, 0.5), "");
        assert_eq!(category_label(&labels, 2.0), "");
        assert_eq!(category_label(&labels, -1.0), "");
    }
}
