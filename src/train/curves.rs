//! `curves.png` / `curves.svg`: training loss per step (raw and a moving average) and validation entity F1
//! per epoch, read back from the run's `metrics.csv`.
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::TrainError;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);

struct Curves {
    /// (step, loss)
    loss: Vec<(f64, f64)>,
    /// (epoch number from 1, series name, value)
    f1: Vec<(String, Vec<(f64, f64)>)>,
}

fn read(metrics_csv: &Path) -> Result<Curves, TrainError> {
    let bad = |message: String| TrainError::Io {
        path: metrics_csv.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    let mut rdr = csv::Reader::from_path(metrics_csv).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = rdr.headers().map_err(|e| bad(e.to_string()))?.iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let f1_cols: Vec<(String, usize)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| match h.as_str() {
            "val_micro_f1" => Some(("micro F1".to_string(), i)),
            _ => h.strip_prefix("val_f1_").map(|t| (format!("{t} F1"), i)),
        })
        .collect();
    let (kind, epoch, step, loss) = (col("kind"), col("epoch"), col("step"), col("loss"));
    let (Some(kind), Some(epoch), Some(step), Some(loss)) = (kind, epoch, step, loss) else {
        return Err(bad("missing kind/epoch/step/loss columns".into()));
    };
    let mut curves = Curves { loss: vec![], f1: f1_cols.iter().map(|(n, _)| (n.clone(), vec![])).collect() };
    for rec in rdr.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let num = |i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok());
        match rec.get(kind) {
            Some("train") => {
                if let (Some(s), Some(l)) = (num(step), num(loss)) {
                    curves.loss.push((s, l));
                }
            }
            Some("eval") => {
                for (k, (_, i)) in f1_cols.iter().enumerate() {
                    if let (Some(e), Some(v)) = (num(epoch), num(*i)) {
                        curves.f1[k].1.push((e + 1.0, v));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(curves)
}

fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    let mut sum = 0.0;
    for i in 0..points.len() {
        sum += points[i].1;
        if i >= window {
            sum -= points[i - window].1;
        }
        out.push((points[i].0, sum / (i + 1).min(window) as f64));
    }
    out
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Curves) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(root.dim_in_pixel().0 / 2);
    let max_step = c.loss.last().map_or(1.0, |p| p.0).max(1.0);
    let max_loss = c.loss.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-3) * 1.05;
    let mut chart = ChartBuilder::on(&left)
        .caption("Training loss", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_step, 0.0..max_loss)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(RGBColor(242, 242, 242))
        .label_style(("sans-serif", 14))
        .draw()?;
    chart
        .draw_series(LineSeries::new(c.loss.iter().copied(), BLUE.mix(0.25)))?
        .label("per step")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.mix(0.25)));
    let window = (c.loss.len() / 20).max(1);
    chart
        .draw_series(LineSeries::new(moving_average(&c.loss, window), BLUE.stroke_width(2)))?
        .label(format!("moving average ({window} steps)"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .label_font(("sans-serif", 14))
        .draw()?;

    let epochs = c.f1.iter().flat_map(|(_, s)| s.iter().map(|p| p.0)).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&right)
        .caption("Validation entity F1 (seqeval)", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..epochs + 0.5, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("F1")
        .x_labels(epochs as usize + 1)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(RGBColor(242, 242, 242))
        .label_style(("sans-serif", 14))
        .draw()?;
    for (k, (name, series)) in c.f1.iter().enumerate() {
        let color = [ORANGE, GREEN, RED, BLUE][k % 4];
        chart
            .draw_series(LineSeries::new(series.iter().copied(), color.stroke_width(2)).point_size(4))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Renders the run's curves next to its `metrics.csv`.
pub fn write(run_dir: &Path) -> Result<(), TrainError> {
    crate::charts::register_fonts();
    let curves = read(&run_dir.join("metrics.csv"))?;
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: Box<dyn std::error::Error>| TrainError::Io { path, source: std::io::Error::other(e.to_string()) }
    };
    let png = run_dir.join("curves.png");
    draw(&BitMapBackend::new(&png, (1400, 520)).into_drawing_area(), &curves).map_err(err(&png))?;
    let svg = run_dir.join("curves.svg");
    draw(&SVGBackend::new(&svg, (1400, 520)).into_drawing_area(), &curves).map_err(err(&svg))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_warms_up_then_slides() {
        let pts: Vec<(f64, f64)> = [1.0, 3.0, 5.0, 7.0].iter().enumerate().map(|(i, &v)| (i as f64, v)).collect();
        let ma: Vec<f64> = moving_average(&pts, 2).into_iter().map(|p| p.1).collect();
        assert_eq!(ma, vec![1.0, 2.0, 4.0, 6.0]);
    }
}
