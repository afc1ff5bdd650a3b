//! `summary.md`: the verdict, counts, faults and anomalies in Markdown.

use std::fmt::Write;

use super::stats::{self, OutcomeCounts};
use super::{final_reads_disagree, run_verdict, RunReport};
use crate::checker::Verdict;
use crate::history::Op;

pub(super) fn render(report: &RunReport) -> String {
    let mut md = String::new();
    let verdict = run_verdict(report);
    let _ = writeln!(md, "# dancu consistency run: {}\n", verdict.to_string().to_uppercase());
    let _ = writeln!(md, "- seed: `{}` (replay with the same seed and config)", report.seed);
    let _ = writeln!(md, "- git rev: `{}`", report.git_rev);
    let _ = writeln!(md, "- transport: **{}** ({})", report.transport.security, cell(&report.transport.evidence));
    let _ = writeln!(
        md,
        "- checker: {} over {} ops on {} keys in {} ms",
        report.check.verdict, report.check.n_ops, report.check.n_keys, report.check.elapsed_ms
    );
    if final_reads_disagree(report) {
        let _ = writeln!(md, "- **the nodes' final reads disagree after the heal** (see results.json)");
    }
    let _ = writeln!(md, "- acknowledged writes lost: {}", report.acked_writes_lost);
    for unconfirmed in &report.nemesis.unconfirmed {
        let _ = writeln!(md, "- **fault not confirmed**: {}", cell(unconfirmed));
    }
    for note in &report.notes {
        let _ = writeln!(md, "- note: {note}");
    }
    let _ = writeln!(md, "- config: `{}`", report.config);
    render_counts(&mut md, report.ops);
    render_faults(&mut md, report);
    render_unfinished_keys(&mut md, report);
    render_anomalies(&mut md, report);
    md
}

fn render_counts(md: &mut String, ops: &[Op]) {
    let total = OutcomeCounts::of(ops.iter());
    let _ = writeln!(md, "\n## Counts\n\n| ops | ok | fail | info | total |\n|---|---:|---:|---:|---:|");
    for (label, counts) in stats::counts_by_kind(ops).into_iter().chain([("all".to_string(), total)]) {
        let _ = writeln!(md, "| {label} | {} | {} | {} | {} |", counts.ok, counts.fail, counts.info, counts.total());
    }
}

fn render_faults(md: &mut String, report: &RunReport) {
    let _ = writeln!(md, "\n## Faults ({})\n", report.faults.len());
    if !report.nemesis.injected.is_empty() {
        let _ = writeln!(md, "| nemesis | injected | confirmed |\n|---|---:|---:|");
        for (kind, injected) in &report.nemesis.injected {
            let confirmed = report.nemesis.confirmed.get(kind).copied().unwrap_or(0);
            let _ = writeln!(md, "| {kind} | {injected} | {confirmed} |");
        }
        md.push('\n');
    }
    if report.faults.is_empty() {
        let _ = writeln!(md, "None.");
        return;
    }
    let end_us = stats::end_us(report.ops, report.faults);
    let _ = writeln!(md, "| # | nemesis | what | start s | end s |\n|---:|---|---|---:|---:|");
    for (fault_idx, fault) in report.faults.iter().enumerate() {
        let end = match fault.end_us {
            Some(_) => stats::seconds(stats::fault_end_us(fault, end_us)),
            None => format!("{} (healed at the end)", stats::seconds(end_us)),
        };
        let _ = writeln!(
            md,
            "| {fault_idx} | {} | {} | {} | {end} |",
            cell(&fault.nemesis),
            cell(&fault.description),
            stats::seconds(fault.start_us)
        );
    }
}

fn render_unfinished_keys(md: &mut String, report: &RunReport) {
    let unknown: Vec<&str> =
        report.check.keys.iter().filter(|key| key.verdict == Verdict::Unknown).map(|key| key.key.as_str()).collect();
    if !unknown.is_empty() {
        let _ = writeln!(md, "\n## Keys the checker could not decide in its budget\n\n{}", unknown.join(", "));
    }
}

fn render_anomalies(md: &mut String, report: &RunReport) {
    let _ = writeln!(md, "\n## Anomalies ({})\n", report.check.anomalies.len());
    if report.check.anomalies.is_empty() {
        let _ = writeln!(md, "None.");
        return;
    }
    for anomaly in &report.check.anomalies {
        let _ = writeln!(md, "### {}: {}\n\n{}\n", cell(&anomaly.key), anomaly.kind, anomaly.message);
        let _ = writeln!(
            md,
            "| op | process | kind | value | revision | expected | invoke s | complete s | outcome | node | error |\n\
             |---:|---:|---|---:|---:|---:|---:|---:|---|---:|---|"
        );
        for op in &anomaly.window {
            let _ = writeln!(md, "{}", op_row(op));
        }
        md.push('\n');
    }
}

fn op_row(op: &Op) -> String {
    let show = |value: Option<u64>| value.map_or(String::new(), |value| value.to_string());
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        op.index,
        op.process,
        stats::kind_label(op),
        show(op.value),
        show(op.revision),
        show(op.expected_revision),
        stats::seconds(op.invoke_us),
        stats::seconds(op.complete_us),
        stats::outcome_name(op.outcome),
        show(op.node),
        cell(op.error.as_deref().unwrap_or(""))
    )
}

/// Text that cannot break a Markdown table row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
