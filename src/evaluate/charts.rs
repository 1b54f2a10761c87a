//! Report charts (plotters), each written as PNG and SVG: per-class P/R/F1 bars, the token confusion
//! heatmap (counts and row-normalised shares), error rate by sentence length, and calibration.
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{EvalError, EvalReport};
use crate::metrics::ConfusionMatrix;

pub(crate) const FONT: &str = "sans-serif";
pub(crate) const INK: RGBColor = RGBColor(38, 50, 56);
pub(crate) const GRID: RGBColor = RGBColor(220, 224, 228);
/// Precision, recall, F1 (colour-blind-safe).
pub const PRF_COLOURS: [RGBColor; 3] = [RGBColor(68, 119, 170), RGBColor(238, 119, 51), RGBColor(34, 136, 51)];
const ERR_COLOURS: [RGBColor; 2] = [RGBColor(204, 51, 17), RGBColor(136, 34, 85)];

/// One chart as written to disk, plus its SVG text for inlining in HTML.
#[derive(Clone, Debug)]
pub struct ChartFile {
    pub name: String,
    pub title: String,
    pub png: PathBuf,
    pub svg_path: PathBuf,
    pub svg: String,
}

type DrawResult = Result<(), String>;

/// The house legend: ink-coloured labels on a translucent white box with a grid-coloured border.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 14).into_font().color(&INK))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .draw()
        .map_err(|err| err.to_string())
}

fn e<E: std::fmt::Display>(x: E) -> String {
    x.to_string()
}

trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

fn render(chart: &impl Chart, dir: &Path, name: &str, title: &str) -> Result<ChartFile, EvalError> {
    crate::charts::register_fonts();
    let png = dir.join(format!("{name}.png"));
    let svg_path = dir.join(format!("{name}.svg"));
    let fail = |path: &Path, message: String| EvalError::Chart { path: path.into(), message };
    {
        let root = BitMapBackend::new(&png, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(|m| fail(&png, m))?;
        root.present().map_err(|x| fail(&png, e(x)))?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size()).into_drawing_area();
        chart.draw(&root).map_err(|m| fail(&svg_path, m))?;
        root.present().map_err(|x| fail(&svg_path, e(x)))?;
    }
    std::fs::write(&svg_path, &svg).map_err(|source| EvalError::Write { path: svg_path.clone(), source })?;
    Ok(ChartFile { name: name.into(), title: title.into(), png, svg_path, svg })
}

/// Draws every chart the report has data for into `dir`.
pub fn render_all(report: &EvalReport, dir: &Path) -> Result<Vec<ChartFile>, EvalError> {
    let ent = report.entity();
    let mut cats: Vec<String> = ent.per_type.keys().cloned().collect();
    let mut vals: Vec<[f64; 3]> = ent.per_type.values().map(|p| [p.precision, p.recall, p.f1]).collect();
    for (name, a) in [("micro avg", &ent.micro), ("macro avg", &ent.macro_)] {
        cats.push(name.into());
        vals.push([a.precision, a.recall, a.f1]);
    }
    let per_class = Bars {
        title: format!("Entity-level scores ({} mode)", report.options.mode.as_str()),
        categories: cats,
        series: ["Precision", "Recall", "F1"]
            .iter()
            .enumerate()
            .map(|(k, n)| (n.to_string(), PRF_COLOURS[k], vals.iter().map(|v| v[k]).collect()))
            .collect(),
        notes: ent
            .per_type
            .values()
            .map(|p| format!("n={}", p.support))
            .chain([format!("n={}", ent.micro.support), String::new()])
            .collect(),
        y_desc: "score (%)".into(),
    };
    let mut out = vec![render(&per_class, dir, "per_class", "Entity-level precision, recall and F1")?];
    out.push(render(&Heatmap(&report.metrics.token.confusion), dir, "confusion", "Token confusion matrix")?);
    if !report.length.is_empty() {
        let b = &report.length;
        let lengths = Bars {
            title: "Errors by sentence length (words)".into(),
            categories: b.iter().map(|x| x.label.clone()).collect(),
            series: vec![
                (
                    "Sentences with an entity error".into(),
                    ERR_COLOURS[0],
                    b.iter().map(|x| x.sentence_error_rate()).collect(),
                ),
                ("Token error rate".into(), ERR_COLOURS[1], b.iter().map(|x| x.token_error_rate()).collect()),
            ],
            notes: b.iter().map(|x| format!("{} sent.", x.sentences)).collect(),
            y_desc: "share (%)".into(),
        };
        out.push(render(&lengths, dir, "length_errors", "Error rate by sentence length")?);
    }
    if let Some(c) = &report.calibration {
        out.push(render(&Reliability(c), dir, "calibration", "Calibration: confidence vs accuracy")?);
    }
    Ok(out)
}

/// Grouped bars over categories; values in [0, 1] drawn as percentages.
struct Bars {
    title: String,
    categories: Vec<String>,
    series: Vec<(String, RGBColor, Vec<f64>)>,
    /// A small note under each category (support, counts).
    notes: Vec<String>,
    y_desc: String,
}

impl Chart for Bars {
    fn size(&self) -> (u32, u32) {
        (960, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(e)?;
        let n = self.categories.len().max(1);
        let max = self.series.iter().flat_map(|s| s.2.iter()).filter(|v| v.is_finite()).fold(0.0f64, |a, &b| a.max(b));
        let y_top = if max > 0.6 { 112.0 } else { (max * 100.0 * 1.25).max(5.0) };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 22).into_font().color(&INK))
            .margin(16)
            .x_label_area_size(52)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..y_top)
            .map_err(e)?;
        let cats = &self.categories;
        let notes = &self.notes;
        let fmt_x = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
                let note = notes.get(i as usize).filter(|s| !s.is_empty());
                match note {
                    Some(note) => format!("{} ({note})", cats[i as usize]),
                    None => cats[i as usize].clone(),
                }
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&fmt_x)
            .y_labels(8)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc(self.y_desc.as_str())
            .label_style((FONT, 15).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK.mix(0.6))
            .draw()
            .map_err(e)?;
        let m = self.series.len().max(1) as f64;
        let w = 0.8 / m;
        let value_style = TextStyle::from((FONT, 12).into_font()).color(&INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (k, (name, colour, values)) in self.series.iter().enumerate() {
            let x0 = |i: usize| i as f64 - 0.4 + k as f64 * w;
            let bars = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| {
                Rectangle::new([(x0(i) + 0.06 * w, 0.0), (x0(i) + 0.94 * w, v * 100.0)], colour.filled())
            });
            let c = *colour;
            chart
                .draw_series(bars)
                .map_err(e)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
            let labels = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| {
                Text::new(format!("{:.1}", v * 100.0), (x0(i) + 0.5 * w, v * 100.0 + 0.4), value_style.clone())
            });
            chart.draw_series(labels).map_err(e)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Confusion matrix: colour = row-normalised share, text = count and share.
struct Heatmap<'a>(&'a ConfusionMatrix);

fn blend(t: f64) -> RGBColor {
    // white → deep blue
    let (a, b) = ((247.0, 251.0, 255.0), (8.0, 48.0, 107.0));
    let l = |x: f64, y: f64| (x + (y - x) * t.clamp(0.0, 1.0)).round() as u8;
    RGBColor(l(a.0, b.0), l(a.1, b.1), l(a.2, b.2))
}

impl Chart for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 660)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(e)?;
        let m = self.0;
        let n = m.labels.len() as i32;
        let share = m.row_normalised();
        let (left, top, size) = (130, 110, 520 / n.max(1));
        let title = TextStyle::from((FONT, 22).into_font()).color(&INK).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text("Token confusion matrix (rows: gold, columns: predicted)", &title, (360, 14)).map_err(e)?;
        let muted = INK.mix(0.7);
        let sub = TextStyle::from((FONT, 14).into_font()).color(&muted).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw_text("cell: count and share of the gold row", &sub, (360, 46)).map_err(e)?;
        let lab = TextStyle::from((FONT, 16).into_font()).color(&INK);
        for (i, name) in m.labels.iter().enumerate() {
            let i = i as i32;
            let col = lab.pos(Pos::new(HPos::Center, VPos::Bottom));
            root.draw_text(name, &col, (left + i * size + size / 2, top - 8)).map_err(e)?;
            let row = lab.pos(Pos::new(HPos::Right, VPos::Center));
            root.draw_text(name, &row, (left - 12, top + i * size + size / 2)).map_err(e)?;
        }
        for i in 0..n {
            for j in 0..n {
                let s = share[i as usize][j as usize];
                let (x, y) = (left + j * size, top + i * size);
                root.draw(&Rectangle::new([(x, y), (x + size, y + size)], blend(s).filled())).map_err(e)?;
                root.draw(&Rectangle::new([(x, y), (x + size, y + size)], WHITE.stroke_width(2))).map_err(e)?;
                let ink = if s > 0.5 { WHITE } else { INK };
                let big = TextStyle::from((FONT, 20).into_font()).color(&ink).pos(Pos::new(HPos::Center, VPos::Bottom));
                let small = TextStyle::from((FONT, 15).into_font()).color(&ink).pos(Pos::new(HPos::Center, VPos::Top));
                let count = m.counts[i as usize][j as usize];
                root.draw_text(&count.to_string(), &big, (x + size / 2, y + size / 2 + 2)).map_err(e)?;
                root.draw_text(&format!("{:.1}%", 100.0 * s), &small, (x + size / 2, y + size / 2 + 6)).map_err(e)?;
            }
        }
        Ok(())
    }
}

/// Reliability diagram: per-bin accuracy against the diagonal of perfect calibration.
struct Reliability<'a>(&'a super::stats::Calibration);

impl Chart for Reliability<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(e)?;
        let c = self.0;
        let title = format!("Calibration (ECE {:.3}, {} words)", c.ece, c.words);
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 22).into_font().color(&INK))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..1.05f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("predicted confidence")
            .y_desc("accuracy (pred tag = gold tag)")
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style((FONT, 14).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .draw()
            .map_err(e)?;
        let used: Vec<_> = c.bins.iter().filter(|b| b.count > 0).collect();
        chart
            .draw_series(used.iter().map(|b| {
                Rectangle::new([(b.lo + 0.005, 0.0), (b.hi - 0.005, b.accuracy)], PRF_COLOURS[0].mix(0.75).filled())
            }))
            .map_err(e)?
            .label("accuracy per confidence bin")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], PRF_COLOURS[0].mix(0.75).filled()));
        chart
            .draw_series(DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 8, 6, INK.mix(0.6).stroke_width(2)))
            .map_err(e)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], INK.mix(0.6).stroke_width(2)));
        chart
            .draw_series(used.iter().map(|b| Circle::new((b.mean_confidence, b.accuracy), 5, PRF_COLOURS[1].filled())))
            .map_err(e)?
            .label("mean confidence in bin")
            .legend(|(x, y)| Circle::new((x + 7, y), 5, PRF_COLOURS[1].filled()));
        let note = TextStyle::from((FONT, 11).into_font()).color(&INK).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart
            .draw_series(
                used.iter().map(|b| {
                    Text::new(format!("n={}", b.count), ((b.lo + b.hi) / 2.0, b.accuracy + 0.03), note.clone())
                }),
            )
            .map_err(e)?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
