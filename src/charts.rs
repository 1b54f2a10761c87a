//! What every chart shares: its font (plotters + ab_glyph with an embedded DejaVu font). The charts themselves
//! live with what they show: `analyze/charts.rs`, `train/curves.rs`, `evaluate/charts.rs`, `bench/report.rs`.
use std::sync::Once;

static FONT: Once = Once::new();

/// Registers the embedded DejaVu Sans as plotters' `sans-serif`; call before drawing any text.
pub fn register_fonts() {
    FONT.call_once(|| {
        let _ =
            plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Bold, dejavu::sans::bold());
    });
}
