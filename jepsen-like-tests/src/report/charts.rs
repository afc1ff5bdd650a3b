//! Throughput and latency over time, drawn with plotters' SVG backend, with the fault windows shaded. Also the
//! colors every picture of the report uses.

use std::error::Error;

use plotters::prelude::*;

use super::stats::{self, Bucket, OutcomeCounts};
use crate::history::{FaultWindow, Outcome};

pub(super) const CHART_WIDTH_PX: u32 = 1100;
const CHART_HEIGHT_PX: u32 = 320;
/// Fault bands are this opaque, so the lines under them stay readable.
pub(super) const FAULT_OPACITY: f64 = 0.16;

pub(super) fn outcome_rgb(outcome: Outcome) -> RGBColor {
    match outcome {
        Outcome::Ok => RGBColor(0x2e, 0x7d, 0x32),
        Outcome::Fail => RGBColor(0xc6, 0x28, 0x28),
        Outcome::Info => RGBColor(0xef, 0x6c, 0x00),
    }
}

const FAULT_PALETTE: [RGBColor; 8] = [
    RGBColor(0x1e, 0x88, 0xe5),
    RGBColor(0x8e, 0x24, 0xaa),
    RGBColor(0x00, 0x89, 0x7b),
    RGBColor(0x6d, 0x4c, 0x41),
    RGBColor(0x39, 0x49, 0xab),
    RGBColor(0xd8, 0x1b, 0x60),
    RGBColor(0x9e, 0x9d, 0x24),
    RGBColor(0x54, 0x6e, 0x7a),
];

/// Each nemesis gets its own color, in the order the nemeses first appear.
pub(super) fn fault_rgb(faults: &[FaultWindow], nemesis: &str) -> RGBColor {
    let mut names: Vec<&str> = Vec::new();
    for fault in faults {
        if !names.contains(&fault.nemesis.as_str()) {
            names.push(&fault.nemesis);
        }
    }
    let name_idx = names.iter().position(|name| *name == nemesis).unwrap_or(0);
    FAULT_PALETTE[name_idx % FAULT_PALETTE.len()]
}

pub(super) fn hex(color: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2)
}

/// What both charts show.
pub(super) struct ChartInput<'a> {
    pub buckets: &'a [Bucket],
    pub bucket_us: u64,
    pub faults: &'a [FaultWindow],
    pub end_us: u64,
}

/// Ops per second completed in each bucket, by outcome; an `<svg>`, or a note saying why there is none.
pub(super) fn throughput_svg(input: &ChartInput) -> String {
    let mut svg = String::new();
    match draw_throughput(&mut svg, input) {
        Ok(()) => svg,
        Err(error) => format!("<p class=\"error\">The throughput chart failed: {error}</p>"),
    }
}

/// p50 and p99 latency of the ok ops completed in each bucket, log scale.
pub(super) fn latency_svg(input: &ChartInput) -> String {
    let mut svg = String::new();
    match draw_latency(&mut svg, input) {
        Ok(()) => svg,
        Err(error) => format!("<p class=\"error\">The latency chart failed: {error}</p>"),
    }
}

type Counter = fn(&OutcomeCounts) -> usize;

fn draw_throughput(svg: &mut String, input: &ChartInput) -> Result<(), Box<dyn Error>> {
    let bucket_s = input.bucket_us as f64 / 1e6;
    let series: [(Outcome, Counter); 3] = [
        (Outcome::Ok, |counts| counts.ok),
        (Outcome::Fail, |counts| counts.fail),
        (Outcome::Info, |counts| counts.info),
    ];
    let per_s_max = input.buckets.iter().map(|bucket| bucket.counts.total() as f64 / bucket_s).fold(1.0, f64::max);
    let y_max = per_s_max * 1.15;
    let end_s = input.end_us as f64 / 1e6;

    let root = SVGBackend::with_string(svg, (CHART_WIDTH_PX, CHART_HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end_s, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("ops/s")
        .y_label_formatter(&|ops_per_s| format!("{ops_per_s:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(fault_bands(input, 0.0, y_max))?;
    draw_fault_labels(&chart, input, y_max)?;
    for (outcome, count) in series {
        let color = outcome_rgb(outcome);
        let points = input.buckets.iter().enumerate().map(|(bucket_idx, bucket)| {
            ((bucket_idx as f64 + 0.5) * bucket_s, count(&bucket.counts) as f64 / bucket_s)
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(stats::outcome_name(outcome))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn draw_latency(svg: &mut String, input: &ChartInput) -> Result<(), Box<dyn Error>> {
    let bucket_s = input.bucket_us as f64 / 1e6;
    let series: [(usize, RGBColor); 2] = [(50, RGBColor(0x15, 0x65, 0xc0)), (99, RGBColor(0xb7, 0x1c, 0x1c))];
    let all_ms =
        series.iter().flat_map(|&(percent, _)| input.buckets.iter().filter_map(move |b| b.ok_latency_ms(percent)));
    let (lo_ms, hi_ms) = all_ms.fold((f64::MAX, f64::MIN), |(lo, hi), ms| (lo.min(ms), hi.max(ms)));
    // Log scale needs a positive range, here whole decades so that there are labels; with no ok op at all, show
    // 0.1 ms to 1 s.
    let decade_below = |ms: f64| 10f64.powf(ms.max(0.001).log10().floor());
    let (y_lo, y_hi) = if lo_ms > hi_ms { (0.1, 1_000.0) } else { (decade_below(lo_ms), 10.0 * decade_below(hi_ms)) };
    let end_s = input.end_us as f64 / 1e6;

    let root = SVGBackend::with_string(svg, (CHART_WIDTH_PX, CHART_HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end_s, (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("latency (ms, log)")
        .y_label_formatter(&|ms| format!("{ms}"))
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(fault_bands(input, y_lo, y_hi))?;
    draw_fault_labels(&chart, input, y_hi)?;
    for (percent, color) in series {
        let points = input.buckets.iter().enumerate().filter_map(|(bucket_idx, bucket)| {
            Some(((bucket_idx as f64 + 0.5) * bucket_s, bucket.ok_latency_ms(percent)?.max(y_lo)))
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(format!("p{percent}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn fault_bands(input: &ChartInput, y_lo: f64, y_hi: f64) -> Vec<Rectangle<(f64, f64)>> {
    let to_s = |us: u64| us as f64 / 1e6;
    input
        .faults
        .iter()
        .map(|fault| {
            let (start_s, end_s) = (to_s(fault.start_us), to_s(stats::fault_end_us(fault, input.end_us)));
            let color = fault_rgb(input.faults, &fault.nemesis).mix(FAULT_OPACITY);
            Rectangle::new([(start_s, y_lo), (end_s, y_hi)], color.filled())
        })
        .collect()
}

/// Each band's nemesis, at the top of the band, in three staggered rows so that close faults stay readable.
fn draw_fault_labels<CT>(
    chart: &ChartContext<'_, SVGBackend<'_>, CT>,
    input: &ChartInput,
    y_hi: f64,
) -> Result<(), Box<dyn Error>>
where
    CT: CoordTranslate<From = (f64, f64)>,
{
    for (fault_idx, fault) in input.faults.iter().enumerate() {
        let color = fault_rgb(input.faults, &fault.nemesis);
        let style = ("sans-serif", 11).into_font().color(&color);
        let row_px = 2 + 12 * (fault_idx % 3) as i32;
        let label = EmptyElement::at((fault.start_us as f64 / 1e6, y_hi))
            + Text::new(fault.nemesis.clone(), (2, row_px), style);
        chart.plotting_area().draw(&label)?;
    }
    Ok(())
}
