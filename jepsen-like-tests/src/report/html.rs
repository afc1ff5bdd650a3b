//! `report.html`: one self-contained page (inline CSS and SVG; no scripts, no links, no fonts to fetch).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::charts::{self, ChartInput};
use super::stats::{self, OutcomeCounts};
use super::{final_reads_disagree, run_verdict, RunReport};
use crate::checker::{Anomaly, Verdict};
use crate::history::{FaultWindow, Op, OpKind, Outcome};

/// The timeline shows at most this many ops, so that the page stays small for long runs.
pub(super) const TIMELINE_BARS_MAX: usize = 20_000;
/// The key table lists at most this many keys (the ones that are not valid first).
const KEY_ROWS_MAX: usize = 500;
const TIMELINE_ROWS_PX_MAX: f64 = 520.0;
const MARGIN_LEFT_PX: f64 = 70.0;
/// Room for "op 123456 p12" labels.
const WINDOW_MARGIN_LEFT_PX: f64 = 110.0;
const MARGIN_RIGHT_PX: f64 = 20.0;
/// Room for three staggered rows of fault labels.
const MARGIN_TOP_PX: f64 = 44.0;
const MARGIN_BOTTOM_PX: f64 = 34.0;

const STYLE: &str = "
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1200px; }
.banner { padding: 0.8em 1.2em; font-size: 1.6em; font-weight: bold; color: white; border-radius: 6px; }
.valid { background: #2e7d32; } .invalid { background: #c62828; } .unknown { background: #757575; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f5f5f5; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.note { color: #555; font-size: 0.9em; } .error { color: #c62828; }
.anomaly { border-left: 4px solid #c62828; padding-left: 1em; margin: 1.5em 0; }
svg { display: block; margin: 0.5em 0; }
";

pub(super) fn render(report: &RunReport) -> String {
    let verdict = run_verdict(report);
    let mut page = String::with_capacity(1 << 20);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>dancu consistency run: {verdict}</title><style>{STYLE}</style></head><body>\n"
    );
    render_banner(&mut page, report, verdict);
    render_facts(&mut page, report);
    render_counts(&mut page, report.ops);
    render_timeline(&mut page, report);
    render_charts(&mut page, report);
    render_faults(&mut page, report);
    render_anomalies(&mut page, report);
    render_keys(&mut page, report);
    let final_reads = serde_json::to_string_pretty(&report.final_reads).unwrap_or_default();
    let _ = write!(page, "<h2>Final reads after the heal</h2><pre>{}</pre>\n</body></html>\n", escape(&final_reads));
    page
}

fn render_banner(page: &mut String, report: &RunReport, verdict: Verdict) {
    let counts = OutcomeCounts::of(report.ops.iter());
    let _ = writeln!(
        page,
        "<div class=\"banner {verdict}\">{} &mdash; {} ops ({} ok, {} fail, {} info), {} faults, {} anomalies, over \
         {}</div>",
        verdict.to_string().to_uppercase(),
        report.ops.len(),
        counts.ok,
        counts.fail,
        counts.info,
        report.faults.len(),
        report.check.anomalies.len(),
        report.transport.security
    );
}

fn render_facts(page: &mut String, report: &RunReport) {
    let _ = write!(page, "<h2>Run</h2><table>");
    let _ = write!(page, "<tr><th>seed</th><td>{}</td></tr>", report.seed);
    let _ = write!(page, "<tr><th>git rev</th><td>{}</td></tr>", escape(&report.git_rev));
    let _ = write!(
        page,
        "<tr><th>transport</th><td><b>{}</b> ({})</td></tr>",
        report.transport.security,
        escape(&report.transport.evidence)
    );
    let _ = write!(
        page,
        "<tr><th>checker</th><td>{} over {} ops on {} keys in {} ms</td></tr>",
        report.check.verdict, report.check.n_ops, report.check.n_keys, report.check.elapsed_ms
    );
    if final_reads_disagree(report) {
        let _ = write!(page, "<tr><th>final reads</th><td class=\"error\">the nodes disagree after the heal</td></tr>");
    }
    let lost_class = if report.acked_writes_lost > 0 { " class=\"error\"" } else { "" };
    let _ = write!(page, "<tr><th>acked writes lost</th><td{lost_class}>{}</td></tr>", report.acked_writes_lost);
    for (kind, injected) in &report.nemesis.injected {
        let confirmed = report.nemesis.confirmed.get(kind).copied().unwrap_or(0);
        let _ = write!(
            page,
            "<tr><th>nemesis {}</th><td>{injected} injected, {confirmed} confirmed</td></tr>",
            escape(kind)
        );
    }
    for unconfirmed in &report.nemesis.unconfirmed {
        let _ = write!(page, "<tr><th>fault not confirmed</th><td class=\"error\">{}</td></tr>", escape(unconfirmed));
    }
    for note in &report.notes {
        let _ = write!(page, "<tr><th>note</th><td>{}</td></tr>", escape(note));
    }
    let config = serde_json::to_string_pretty(&report.config).unwrap_or_default();
    let _ = writeln!(page, "<tr><th>config</th><td><pre>{}</pre></td></tr></table>", escape(&config));
}

fn render_counts(page: &mut String, ops: &[Op]) {
    let _ =
        write!(page, "<h2>Counts</h2><table><tr><th>ops</th><th>ok</th><th>fail</th><th>info</th><th>total</th></tr>");
    let total = OutcomeCounts::of(ops.iter());
    for (label, counts) in stats::counts_by_kind(ops).into_iter().chain([("all".to_string(), total)]) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&label),
            counts.ok,
            counts.fail,
            counts.info,
            counts.total()
        );
    }
    page.push_str("</table>\n");
}

fn render_timeline(page: &mut String, report: &RunReport) {
    let shown = sample_for_timeline(report.ops, TIMELINE_BARS_MAX);
    let _ = write!(
        page,
        "<h2>Timeline</h2><p class=\"note\">One bar per op from invocation to completion, one row per process; "
    );
    legend(page);
    page.push_str(". Shaded bands are fault windows.");
    if shown.len() < report.ops.len() {
        let _ = write!(
            page,
            " Showing {} of {} ops: every fail and info op (or an even sample of them if there are more than half \
             the cap) and an even sample of the ok ops. Counts, charts and anomaly windows use every op.",
            shown.len(),
            report.ops.len()
        );
    }
    page.push_str("</p>\n");
    let axis = TimeAxis { start_us: 0, end_us: stats::end_us(report.ops, report.faults), left_px: MARGIN_LEFT_PX };
    page.push_str(&process_timeline_svg(&shown, report.faults, &axis));
}

fn legend(page: &mut String) {
    for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
        let color = charts::hex(charts::outcome_rgb(outcome));
        let _ = write!(page, "<span style=\"color:{color}\">&#9632; {}</span> ", stats::outcome_name(outcome));
    }
}

fn render_charts(page: &mut String, report: &RunReport) {
    let end_us = stats::end_us(report.ops, report.faults);
    let bucket_us = stats::bucket_us_for(end_us, 2_000);
    let buckets = stats::buckets(report.ops, bucket_us, end_us);
    let input = ChartInput { buckets: &buckets, bucket_us, faults: report.faults, end_us };
    let bucket_s = bucket_us / 1_000_000;
    let _ = writeln!(
        page,
        "<h2>Throughput</h2><p class=\"note\">Ops completed per second, by outcome, in {bucket_s} s buckets.</p>"
    );
    page.push_str(&charts::throughput_svg(&input));
    let _ = writeln!(
        page,
        "<h2>Latency</h2><p class=\"note\">p50 and p99 latency of the ok ops completed in each {bucket_s} s bucket, \
         milliseconds, log scale.</p>"
    );
    page.push_str(&charts::latency_svg(&input));
}

fn render_faults(page: &mut String, report: &RunReport) {
    let _ = write!(page, "<h2>Faults ({})</h2>", report.faults.len());
    if report.faults.is_empty() {
        page.push_str("<p>None.</p>\n");
        return;
    }
    let end_us = stats::end_us(report.ops, report.faults);
    page.push_str("<table><tr><th>#</th><th>nemesis</th><th>what</th><th>start s</th><th>end s</th></tr>");
    for (fault_idx, fault) in report.faults.iter().enumerate() {
        let color = charts::hex(charts::fault_rgb(report.faults, &fault.nemesis));
        let healed_at_end = if fault.end_us.is_none() { " (healed at the end)" } else { "" };
        let _ = write!(
            page,
            "<tr><td class=\"n\">{fault_idx}</td><td style=\"color:{color}\">{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}{healed_at_end}</td></tr>",
            escape(&fault.nemesis),
            escape(&fault.description),
            stats::seconds(fault.start_us),
            stats::seconds(stats::fault_end_us(fault, end_us))
        );
    }
    page.push_str("</table>\n");
}

fn render_anomalies(page: &mut String, report: &RunReport) {
    let _ = write!(page, "<h2>Anomalies ({})</h2>", report.check.anomalies.len());
    if report.check.anomalies.is_empty() {
        page.push_str("<p>None.</p>\n");
        return;
    }
    for anomaly in &report.check.anomalies {
        render_anomaly(page, report, anomaly);
    }
}

fn render_anomaly(page: &mut String, report: &RunReport, anomaly: &Anomaly) {
    let _ = write!(
        page,
        "<div class=\"anomaly\"><h3>{}: {}</h3><p>{}</p>",
        escape(&anomaly.key),
        escape(&anomaly.kind),
        escape(&anomaly.message)
    );
    page.push_str(&window_timeline_svg(&anomaly.window, report.faults));
    page.push_str(
        "<table><tr><th>op</th><th>process</th><th>kind</th><th>value</th><th>revision</th><th>expected</th>\
         <th>invoke s</th><th>complete s</th><th>outcome</th><th>node</th><th>error</th></tr>",
    );
    let show = |value: Option<u64>| value.map_or(String::new(), |value| value.to_string());
    for op in &anomaly.window {
        let color = charts::hex(charts::outcome_rgb(op.outcome));
        let _ = write!(
            page,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td style=\"color:{color}\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>",
            op.index,
            op.process,
            escape(&stats::kind_label(op)),
            show(op.value),
            show(op.revision),
            show(op.expected_revision),
            stats::seconds(op.invoke_us),
            stats::seconds(op.complete_us),
            stats::outcome_name(op.outcome),
            show(op.node),
            escape(op.error.as_deref().unwrap_or(""))
        );
    }
    page.push_str("</table></div>\n");
}

fn render_keys(page: &mut String, report: &RunReport) {
    let mut keys: Vec<_> = report.check.keys.iter().collect();
    keys.sort_by_key(|key| (key.verdict == Verdict::Valid, key.key.clone()));
    let _ = write!(page, "<h2>Keys ({})</h2>", keys.len());
    if keys.len() > KEY_ROWS_MAX {
        let _ = write!(page, "<p class=\"note\">The first {KEY_ROWS_MAX}, the ones that are not valid first.</p>");
    }
    page.push_str("<table><tr><th>key</th><th>verdict</th><th>ops</th><th>check ms</th></tr>");
    for key in keys.into_iter().take(KEY_ROWS_MAX) {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&key.key),
            key.verdict,
            key.n_ops,
            key.elapsed_ms
        );
    }
    page.push_str("</table>\n");
}

/// At most `bars_max` ops: the fail and info ops first (evenly sampled down to half the cap if there are more),
/// then an even sample of the ok ops; in history order.
pub(super) fn sample_for_timeline(ops: &[Op], bars_max: usize) -> Vec<&Op> {
    if ops.len() <= bars_max {
        return ops.iter().collect();
    }
    let (ok, not_ok): (Vec<&Op>, Vec<&Op>) = ops.iter().partition(|op| op.outcome == Outcome::Ok);
    let mut shown = evenly(&not_ok, bars_max / 2);
    shown.extend(evenly(&ok, bars_max - shown.len()));
    shown.sort_by_key(|op| op.index);
    shown
}

fn evenly<'o>(ops: &[&'o Op], n_max: usize) -> Vec<&'o Op> {
    if ops.len() <= n_max {
        return ops.to_vec();
    }
    (0..n_max).map(|idx| ops[idx * ops.len() / n_max]).collect()
}

/// Maps time to x pixels.
struct TimeAxis {
    start_us: u64,
    end_us: u64,
    /// Room for the row labels.
    left_px: f64,
}

impl TimeAxis {
    fn width_px(&self) -> f64 {
        f64::from(charts::CHART_WIDTH_PX) - self.left_px - MARGIN_RIGHT_PX
    }

    fn x(&self, us: u64) -> f64 {
        let span_us = self.end_us.saturating_sub(self.start_us).max(1) as f64;
        let fraction = (us.clamp(self.start_us, self.end_us) - self.start_us) as f64 / span_us;
        self.left_px + fraction * self.width_px()
    }

    /// Ticks at round numbers of seconds, about ten of them, and a title.
    fn draw(&self, svg: &mut String, y_px: f64) {
        let span_s = self.end_us.saturating_sub(self.start_us).max(1) as f64 / 1e6;
        let step_s = nice_step(span_s / 10.0);
        let decimals = (-step_s.log10().floor()).max(0.0) as usize;
        let first_idx = (self.start_us as f64 / 1e6 / step_s).ceil() as u64;
        for tick_idx in first_idx.. {
            let t_s = tick_idx as f64 * step_s;
            let us = (t_s * 1e6).round() as u64;
            if us > self.end_us {
                break;
            }
            let x = self.x(us);
            let _ = write!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{y_px:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{t_s:.decimals$}</text>",
                y_px + 4.0,
                y_px + 15.0
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">time (s)</text>",
            self.left_px + self.width_px() / 2.0,
            y_px + 29.0
        );
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1e-6).log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|step| *step >= raw).unwrap_or(10.0 * magnitude)
}

/// The whole run: x = time, y = process, one bar per op; paths per outcome keep the page small.
fn process_timeline_svg(ops: &[&Op], faults: &[FaultWindow], axis: &TimeAxis) -> String {
    let mut processes: Vec<u32> = ops.iter().map(|op| op.process).collect();
    processes.sort_unstable();
    processes.dedup();
    let row_of: BTreeMap<u32, usize> = processes.iter().enumerate().map(|(row, &process)| (process, row)).collect();
    let row_px = (TIMELINE_ROWS_PX_MAX / processes.len().max(1) as f64).clamp(2.0, 12.0);
    let rows_px = row_px * processes.len().max(1) as f64;
    let height_px = MARGIN_TOP_PX + rows_px + MARGIN_BOTTOM_PX;

    let mut svg = svg_open(height_px);
    draw_fault_bands(&mut svg, faults, axis, MARGIN_TOP_PX + rows_px);
    for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
        let mut path = String::new();
        for op in ops.iter().filter(|op| op.outcome == outcome) {
            let y = MARGIN_TOP_PX + (row_of[&op.process] as f64 + 0.5) * row_px;
            let x = axis.x(op.invoke_us);
            let _ = write!(path, "M{x:.1} {y:.1}h{:.1}", (axis.x(op.complete_us) - x).max(1.0));
        }
        let color = charts::hex(charts::outcome_rgb(outcome));
        let _ = write!(
            svg,
            "<path d=\"{path}\" stroke=\"{color}\" stroke-width=\"{:.1}\" fill=\"none\"/>",
            (row_px * 0.7).max(1.0)
        );
    }
    // Label every row if there is room, else about twenty of them.
    let label_every = processes.len().div_ceil((rows_px / 12.0).max(1.0) as usize).max(1);
    for (row, process) in processes.iter().enumerate().step_by(label_every) {
        let y = MARGIN_TOP_PX + (row as f64 + 0.5) * row_px + 3.0;
        let name = if *process == u32::MAX { "final".to_string() } else { format!("p{process}") };
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{y:.1}\" font-size=\"9\" text-anchor=\"end\">{name}</text>",
            MARGIN_LEFT_PX - 4.0
        );
    }
    axis.draw(&mut svg, MARGIN_TOP_PX + rows_px);
    svg.push_str("</svg>\n");
    svg
}

/// One anomaly's window: one row per op, its bar labeled with what it did; an info op's bar goes on, dashed, to
/// the right edge (it may have taken effect later).
fn window_timeline_svg(window: &[Op], faults: &[FaultWindow]) -> String {
    const ROW_PX: f64 = 18.0;
    let start_us = window.iter().map(|op| op.invoke_us).min().unwrap_or(0);
    let end_us = window.iter().map(|op| op.complete_us).max().unwrap_or(0);
    // A little room on both sides, and room for the labels on the right.
    let pad_us = (end_us - start_us).max(10) / 10;
    let axis = TimeAxis {
        start_us: start_us.saturating_sub(pad_us),
        end_us: end_us + 4 * pad_us,
        left_px: WINDOW_MARGIN_LEFT_PX,
    };
    let rows_px = ROW_PX * window.len().max(1) as f64;
    let mut svg = svg_open(MARGIN_TOP_PX + rows_px + MARGIN_BOTTOM_PX);
    draw_fault_bands(&mut svg, faults, &axis, MARGIN_TOP_PX + rows_px);
    for (row, op) in window.iter().enumerate() {
        let y = MARGIN_TOP_PX + (row as f64 + 0.5) * ROW_PX;
        let (x0, x1) = (axis.x(op.invoke_us), axis.x(op.complete_us).max(axis.x(op.invoke_us) + 2.0));
        let color = charts::hex(charts::outcome_rgb(op.outcome));
        if op.outcome == Outcome::Info && op.kind != OpKind::Read {
            let _ = write!(
                svg,
                "<line x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"3 3\"/>",
                axis.x(axis.end_us)
            );
        }
        let brief = escape(&op_brief(op));
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{brief}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{brief}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">op {} p{}</text>",
            y - ROW_PX * 0.35,
            x1 - x0,
            ROW_PX * 0.7,
            x1 + 4.0,
            y + 3.5,
            axis.left_px - 4.0,
            y + 3.5,
            op.index,
            op.process
        );
    }
    axis.draw(&mut svg, MARGIN_TOP_PX + rows_px);
    svg.push_str("</svg>\n");
    svg
}

fn svg_open(height_px: f64) -> String {
    let width_px = charts::CHART_WIDTH_PX;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width_px}\" height=\"{height_px:.0}\" \
         viewBox=\"0 0 {width_px} {height_px:.0}\" font-family=\"sans-serif\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    )
}

/// Translucent bands over the fault windows, labeled by nemesis in three staggered rows above the plot.
fn draw_fault_bands(svg: &mut String, faults: &[FaultWindow], axis: &TimeAxis, bottom_px: f64) {
    let visible = faults
        .iter()
        .filter(|fault| fault.start_us <= axis.end_us && stats::fault_end_us(fault, axis.end_us) >= axis.start_us);
    for (fault_idx, fault) in visible.enumerate() {
        let color = charts::hex(charts::fault_rgb(faults, &fault.nemesis));
        let x0 = axis.x(fault.start_us);
        let x1 = axis.x(stats::fault_end_us(fault, axis.end_us)).max(x0 + 1.0);
        let label_y = 11.0 + 12.0 * (fault_idx % 3) as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{label_y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"{}\">\
             <title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{color}\">{}</text>",
            x1 - x0,
            bottom_px - label_y,
            charts::FAULT_OPACITY,
            escape(&format!("{}: {}", fault.nemesis, fault.description)),
            x0 + 2.0,
            label_y - 2.0 + 9.0,
            escape(&fault.nemesis)
        );
    }
}

/// What an op did, in a few words: "read 5@3", "write 7 → r4", "cas r3→9 aborted".
fn op_brief(op: &Op) -> String {
    let value = op.value.map_or("nil".to_string(), |value| value.to_string());
    let produced = match (op.outcome, op.revision) {
        (Outcome::Ok, Some(revision)) => format!(" → r{revision}"),
        (Outcome::Fail, _) if op.kind == OpKind::Cas => " aborted".to_string(),
        (Outcome::Fail, _) => " failed".to_string(),
        (Outcome::Info, _) => " ?".to_string(),
        (Outcome::Ok, None) => String::new(),
    };
    match op.kind {
        OpKind::Read if op.outcome == Outcome::Ok => {
            format!("{} {value}@{}", stats::kind_label(op), op.revision.map_or("?".to_string(), |r| r.to_string()))
        }
        OpKind::Read => format!("{}{produced}", stats::kind_label(op)),
        OpKind::Write => format!("write {value}{produced}"),
        OpKind::Cas => {
            let expected = op.expected_revision.map_or("?".to_string(), |r| r.to_string());
            format!("cas r{expected}→{value}{produced}")
        }
    }
}

/// Text safe inside HTML elements and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}
