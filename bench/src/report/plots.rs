//! The SVG plots of report.md, drawn with plotters: throughput against concurrency for every system and workload,
//! and the latency CDFs at the headline concurrency. A system that produced no runs is left out of a plot; a plot
//! with no line at all still has its axes.

use std::error::Error;

use dancu_client::bench::BenchResult;
use plotters::prelude::*;

use crate::results::{Results, HEADLINE_CONCURRENCY};

const WIDTH_PX: u32 = 1000;
const HEIGHT_PX: u32 = 560;
const LINE_WIDTH_PX: u32 = 2;
const MARKER_RADIUS_PX: i32 = 3;
/// Axis ranges when there is nothing to draw: 1 to 256 clients, 1 to 10⁶ ops/s, 0.01 to 1000 ms.
const EMPTY_CONCURRENCY: (f64, f64) = (1.0, 256.0);
const EMPTY_OPS_PER_S: (f64, f64) = (1.0, 1e6);
const EMPTY_MS: (f64, f64) = (0.01, 1_000.0);
/// Latencies are recorded in whole microseconds; a log axis needs a positive floor.
const MS_MIN: f64 = 0.001;

/// A workload has one color whatever the system; the system is told by the stroke (etcd's lines are dashed).
const LINEARIZABLE_GET_RGB: RGBColor = RGBColor(0x15, 0x65, 0xc0);
const NEAREST_GET_RGB: RGBColor = RGBColor(0x00, 0x89, 0x7b);
const OTHER_GET_RGB: RGBColor = RGBColor(0x5e, 0x35, 0xb1);
const PUT_RGB: RGBColor = RGBColor(0xef, 0x6c, 0x00);
const ECHO_RGB: RGBColor = RGBColor(0x42, 0x42, 0x42);
const OTHER_RGB: RGBColor = RGBColor(0x6d, 0x4c, 0x41);
const DASH_PX: i32 = 8;
const DASH_GAP_PX: i32 = 5;
const LEGEND_SAMPLE_PX: i32 = 24;

/// The plots of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plot {
    ThroughputVsConcurrency,
    LatencyCdf,
}

impl Plot {
    pub const ALL: [Plot; 2] = [Plot::ThroughputVsConcurrency, Plot::LatencyCdf];

    pub fn file_name(self) -> &'static str {
        match self {
            Plot::ThroughputVsConcurrency => "throughput_vs_concurrency.svg",
            Plot::LatencyCdf => "latency_cdf.svg",
        }
    }

    pub fn title(self) -> String {
        match self {
            Plot::ThroughputVsConcurrency => "Throughput against concurrent clients".to_string(),
            Plot::LatencyCdf => format!("Latency CDF at {HEADLINE_CONCURRENCY} concurrent clients"),
        }
    }

    /// The plot as an SVG document.
    pub fn svg(self, results: &Results) -> Result<String, String> {
        let mut svg = String::new();
        let drawn = match self {
            Plot::ThroughputVsConcurrency => draw_throughput(&mut svg, &self.title(), &throughput_lines(results)),
            Plot::LatencyCdf => draw_cdf(&mut svg, &self.title(), &cdf_lines(results)),
        };
        drawn.map_err(|error| error.to_string())?;
        Ok(svg)
    }
}

/// One series of a plot.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Line {
    pub label: String,
    pub rgb: RGBColor,
    pub stroke: Stroke,
    pub points: Vec<(f64, f64)>,
}

/// Who measured a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Dancu,
    Etcd,
    Echo,
}

impl Side {
    fn label(self, run: &BenchResult) -> String {
        let consistency = run.consistency.as_deref().map(|level| format!(" {level}")).unwrap_or_default();
        match self {
            Side::Dancu => format!("dancu {}{consistency}", run.workload),
            Side::Etcd => format!("etcd {}{consistency}", run.workload),
            Side::Echo => "echo ceiling".to_string(),
        }
    }

    fn stroke(self) -> Stroke {
        match self {
            Side::Dancu | Side::Echo => Stroke::Solid,
            Side::Etcd => Stroke::Dashed,
        }
    }
}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stroke {
    Solid,
    Dashed,
}

/// The color of a run's workload: a linearizable get is the same blue for dancu and etcd.
fn workload_rgb(run: &BenchResult) -> RGBColor {
    match (run.workload.as_str(), run.consistency.as_deref()) {
        ("get", Some("linearizable")) => LINEARIZABLE_GET_RGB,
        ("get", Some("stale" | "serializable")) => NEAREST_GET_RGB,
        ("get", _) => OTHER_GET_RGB,
        ("put", _) => PUT_RGB,
        ("echo", _) => ECHO_RGB,
        _ => OTHER_RGB,
    }
}

fn sides(results: &Results) -> [(Side, &[BenchResult]); 3] {
    [(Side::Dancu, &results.dancu.runs), (Side::Etcd, &results.etcd.runs), (Side::Echo, &results.ceilings.runs)]
}

/// One line per system and single-key workload (and consistency): ops/s at each concurrency. Batch gets are left
/// out: their requests carry many keys, so their ops/s is not comparable.
pub(super) fn throughput_lines(results: &Results) -> Vec<Line> {
    let mut lines = Vec::new();
    for (side, runs) in sides(results) {
        let mut side_lines: Vec<Line> = Vec::new();
        for run in runs.iter().filter(|run| run.batch_size <= 1 && run.concurrency > 0 && run.ops_per_s > 0.0) {
            let label = side.label(run);
            let point = (run.concurrency as f64, run.ops_per_s);
            match side_lines.iter_mut().find(|line| line.label == label) {
                Some(line) => line.points.push(point),
                None => {
                    side_lines.push(Line { label, rgb: workload_rgb(run), stroke: side.stroke(), points: vec![point] })
                }
            }
        }
        for line in &mut side_lines {
            line.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        lines.extend(side_lines);
    }
    lines
}

/// The latency CDF of each system's linearizable get and put at the headline concurrency, and of the echo ceiling.
pub(super) fn cdf_lines(results: &Results) -> Vec<Line> {
    let plotted = |run: &&BenchResult| {
        run.concurrency == HEADLINE_CONCURRENCY
            && run.batch_size <= 1
            && !run.latency_cdf.is_empty()
            && match run.workload.as_str() {
                "get" => run.consistency.as_deref() == Some("linearizable"),
                "put" | "echo" => true,
                _ => false,
            }
    };
    let mut lines = Vec::new();
    for (side, runs) in sides(results) {
        for run in runs.iter().filter(plotted) {
            let points = run.latency_cdf.iter().map(|point| (point.ms.max(MS_MIN), point.quantile)).collect();
            lines.push(Line { label: side.label(run), rgb: workload_rgb(run), stroke: side.stroke(), points });
        }
    }
    lines
}

/// The smallest and largest of `values`, or `empty` when there are none.
fn extent(values: impl Iterator<Item = f64>, empty: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), value| (lo.min(value), hi.max(value)));
    if lo > hi {
        empty
    } else {
        (lo, hi)
    }
}

/// Whole powers of `base` around `[lo, hi]` (so a log axis has labels), at least one step apart.
fn log_bounds((lo, hi): (f64, f64), base: f64) -> (f64, f64) {
    // The slack keeps an exact power (256 in base 2) from landing one step out through rounding in `log`.
    const LOG_SLACK: f64 = 1e-9;
    let lo = base.powi((lo.log(base) + LOG_SLACK).floor() as i32);
    let hi = base.powi((hi.log(base) - LOG_SLACK).ceil() as i32).max(lo * base);
    (lo, hi)
}

fn draw_throughput(svg: &mut String, title: &str, lines: &[Line]) -> Result<(), Box<dyn Error>> {
    let points = || lines.iter().flat_map(|line| line.points.iter().copied());
    let (x_lo, x_hi) = log_bounds(extent(points().map(|(x, _)| x), EMPTY_CONCURRENCY), 2.0);
    let (y_lo, y_hi) = log_bounds(extent(points().map(|(_, y)| y), EMPTY_OPS_PER_S), 10.0);
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x_lo..x_hi).log_scale().base(2.0), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients (log2)")
        .y_desc("ops/s (log)")
        .x_label_formatter(&|clients| format!("{clients:.0}"))
        .y_label_formatter(&|ops_per_s| format!("{ops_per_s:.0}"))
        .draw()?;
    draw_lines(&mut chart, lines, true)?;
    root.present()?;
    Ok(())
}

fn draw_cdf(svg: &mut String, title: &str, lines: &[Line]) -> Result<(), Box<dyn Error>> {
    let ms = lines.iter().flat_map(|line| line.points.iter().map(|&(ms, _)| ms));
    let (x_lo, x_hi) = log_bounds(extent(ms, EMPTY_MS), 10.0);
    let root = SVGBackend::with_string(svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("latency (ms, log)")
        .y_desc("quantile")
        .x_label_formatter(&|ms| format!("{ms}"))
        .y_label_formatter(&|quantile| format!("{quantile:.1}"))
        .draw()?;
    draw_lines(&mut chart, lines, false)?;
    root.present()?;
    Ok(())
}

/// Draws each line in its color and stroke (with a marker on each point if `markers`), and the legend.
fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[Line],
    markers: bool,
) -> Result<(), Box<dyn Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for line in lines {
        let style = line.rgb.stroke_width(LINE_WIDTH_PX);
        let points = line.points.iter().copied();
        let drawn = match line.stroke {
            Stroke::Solid => chart.draw_series(LineSeries::new(points, style))?,
            Stroke::Dashed => chart.draw_series(DashedLineSeries::new(points, DASH_PX, DASH_GAP_PX, style))?,
        };
        // The legend sample is two segments: touching for a solid line, apart for a dashed one.
        let gap_px = if line.stroke == Stroke::Dashed { DASH_GAP_PX } else { 0 };
        let half_px = (LEGEND_SAMPLE_PX - gap_px) / 2;
        drawn.label(line.label.as_str()).legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (half_px, 0)], style)
                + PathElement::new(vec![(half_px + gap_px, 0), (LEGEND_SAMPLE_PX, 0)], style)
        });
        if markers {
            chart.draw_series(
                line.points.iter().map(|&point| Circle::new(point, MARKER_RADIUS_PX, line.rgb.filled())),
            )?;
        }
    }
    if !lines.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .legend_area_size(LEGEND_SAMPLE_PX + 6)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bounds_are_whole_powers_around_the_values() {
        let check = |values: (f64, f64), base: f64, expected: (f64, f64)| {
            assert_eq!(log_bounds(values, base), expected, "{values:?} base {base}");
        };
        check((1.0, 256.0), 2.0, (1.0, 256.0));
        check((3.0, 100.0), 2.0, (2.0, 128.0));
        check((64.0, 64.0), 2.0, (64.0, 128.0));
        check((1_234.0, 98_765.0), 10.0, (1_000.0, 100_000.0));
    }

    #[test]
    fn nothing_measured_still_draws_both_plots() {
        let results = Results::default();
        for plot in Plot::ALL {
            let svg = plot.svg(&results).expect("drawn");
            assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        }
    }
}
