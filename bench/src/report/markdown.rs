//! report.md: the run's context, the ratio table (with the mutual-TLS rows below their plaintext ones), the goals,
//! how each system was set up (the mutual-TLS cluster's runs listed there), the plots and every run of the sweep
//! side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use dancu_client::bench::BenchResult;

use super::rows::{self, Unit};
use super::Plot;
use crate::results::{Results, SystemResults, TlsResults};

/// The whole report.md.
pub(super) fn report(results: &Results) -> String {
    let mut md = String::new();
    push_context(&mut md, results);
    push_ratio_table(&mut md, results);
    push_goals(&mut md, results);
    push_systems(&mut md, results);
    push_plots(&mut md);
    push_sweep(&mut md, results);
    md
}

fn push_context(md: &mut String, results: &Results) {
    let machine = &results.machine;
    md.push_str("# dancu vs etcd 3.4 and the ceilings\n\n");
    md.push_str("| | |\n|---|---|\n");
    let _ = writeln!(
        md,
        "| machine | {}, {} CPUs, {:.1} GiB, {} (`{}`) |",
        cell(&machine.cpu_model),
        machine.cpus,
        machine.memory_gib,
        cell(&machine.kernel),
        cell(&machine.hostname)
    );
    let _ = writeln!(md, "| mode | {} |", cell(&results.mode));
    let _ = writeln!(md, "| records | {} |", results.records);
    let _ = writeln!(md, "| git rev | `{}` |", cell(&results.git_rev));
    let _ = writeln!(md, "| date | {} |", cell(&results.started_at));
    let _ = writeln!(md, "| concurrency levels | {:?} |", results.concurrency_levels);
    let _ = writeln!(md, "| measured per run | {:.1} s |", results.duration_s);
    md.push('\n');
}

fn push_ratio_table(md: &mut String, results: &Results) {
    let _ = writeln!(md, "## dancu vs etcd vs the ceilings, {} concurrent clients\n", results.concurrency);
    md.push_str(
        "A ceiling is what one layer alone reaches on this machine: `echo` a tonic server that answers without \
         doing anything, `rocksdb` raw reads of the same records. The put row's echo ceiling is the echo rate ÷ 3 (an \
         unbatched replicated write is three round trips: client to leader, leader to each follower); the load \
         row's rocksdb ceiling is raw RocksDB writing what three replicas store for the same import. For ms and \
         MiB, a ratio below 1 favours dancu.\n\n",
    );
    let tls = &results.dancu_tls;
    let _ = write!(
        md,
        "dancu's figures are of a cluster with insecure plaintext, except the rows that name mutual TLS: \
         \"mTLS\" is a second cluster, every connection mutual TLS, read by a caller whose role sees every field \
         (`{}`); \"mTLS masked\" is the same cluster read by a caller whose role hides {} (`{}`). Each sits below \
         the plaintext row of the same figure; `dancu/plaintext` is the cost of TLS (and of the mask). etcd runs \
         plaintext. New connections: each a TCP connect (over mTLS a full handshake, no session resumption) and \
         HTTP/2 setup up to its first answered `WhoAmI`, then closed.\n\n",
        cell(&tls.full_caller),
        cell(&tls.hidden_fields.join(" and ")),
        cell(&tls.masked_caller),
    );
    md.push_str("| figure | dancu | etcd | dancu/etcd | dancu/plaintext | echo ceiling | rocksdb ceiling |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for row in rows::headline_rows(results) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            rows::figure(row.dancu, row.unit),
            rows::figure(row.etcd, row.unit),
            rows::ratio_text(row.dancu_vs_etcd()),
            rows::ratio_text(row.dancu_vs_plaintext()),
            rows::figure(row.echo, row.unit),
            rows::figure(row.rocksdb, row.unit),
        );
    }
    md.push('\n');
}

fn push_goals(md: &mut String, results: &Results) {
    md.push_str("## Goals\n\n");
    if results.goals.is_empty() {
        md.push_str("No goal was checked.\n\n");
        return;
    }
    md.push_str("| goal | target | measured | met |\n|---|---|---:|---|\n");
    for goal in &results.goals {
        let met = if goal.met { "yes" } else { "**no**" };
        let _ = writeln!(md, "| {} | {} | {:.2} | {met} |", cell(&goal.name), cell(&goal.target), goal.measured);
    }
    md.push('\n');
}

fn push_systems(md: &mut String, results: &Results) {
    md.push_str("## Systems\n\n");
    for (name, system) in [("dancu (insecure plaintext)", &results.dancu), ("etcd", &results.etcd)] {
        push_system(md, name, system);
    }
    push_tls_system(md, &results.dancu_tls);
    let ceilings = &results.ceilings;
    md.push_str("### Ceilings\n\n");
    let _ = writeln!(
        md,
        "- echo: a tonic unary server in its own process, replies of {} bytes, the node's server settings.",
        ceilings.echo_reply_bytes
    );
    let _ = writeln!(
        md,
        "- rocksdb: {} records, the node's table settings (256 MiB block cache, bloom 10 bits, LZ4), flushed and \
         compacted; `get` and batched `MultiGet` of 100 keys from as many threads as CPUs.",
        ceilings.rocksdb_records
    );
    let _ = writeln!(
        md,
        "- rocksdb import writes: {} records as three replicas store them (per batch of 1,000 records of one \
         partition: the log entry, then records, index entries and apply metadata; WAL fsync'd every 8 batches), \
         three RocksDBs written at once and flushed: {:.0} records/s.\n",
        ceilings.rocksdb_import_records, ceilings.rocksdb_import_records_per_s
    );
}

fn push_system(md: &mut String, name: &str, system: &SystemResults) {
    let _ = writeln!(md, "### {name}\n");
    let _ = writeln!(md, "- version: {}", or_unknown(&system.version));
    let _ = writeln!(md, "- settings: {}", or_unknown(&system.settings));
    let _ = writeln!(
        md,
        "- loaded {} records in {:.1} s, {:.0} bytes each on average",
        system.load.records, system.load.seconds, system.load.mean_record_bytes
    );
    let per_node: Vec<String> = system.rss_mib_per_node.iter().map(|mib| format!("{mib:.1}")).collect();
    let _ = writeln!(md, "- RSS per node after loading, MiB: {}", or_unknown(&per_node.join(", ")));
    let recoveries: Vec<String> = system.failover.recoveries_ms.iter().map(|ms| format!("{ms:.0}")).collect();
    let _ = writeln!(md, "- failover recoveries, ms: {}", or_unknown(&recoveries.join(", ")));
    if let Some(incomplete) = &system.failover.incomplete {
        let _ = writeln!(md, "- failover measurement **stopped early**: {incomplete}");
    }
    md.push('\n');
}

/// The mutual-TLS cluster: how it was set up, its load, its handshakes and every run behind its rows.
fn push_tls_system(md: &mut String, tls: &TlsResults) {
    md.push_str("### dancu over mutual TLS\n\n");
    let _ = writeln!(md, "- settings: {}", or_unknown(&tls.settings));
    let _ = writeln!(
        md,
        "- loaded {} records in {:.1} s ({:.0} records/s) as `{}`",
        tls.load.records,
        tls.load.seconds,
        tls.load.records_per_s,
        cell(&tls.full_caller)
    );
    let _ = writeln!(
        md,
        "- after the load the runs waited {:.1} s for idle nodes: {:.2} cores together then, {:.2} before the load",
        tls.idle_wait_s, tls.idle_node_cores, tls.baseline_node_cores
    );
    let _ = writeln!(
        md,
        "- handshakes: {} full, {} resumed (resumption off: a freshly started process has no session)",
        tls.handshakes_full, tls.handshakes_resumed
    );
    if tls.runs.is_empty() {
        md.push_str("- no run was measured\n\n");
        return;
    }
    md.push_str("\n| caller | workload | batch | clients | ops/s | keys/s | p50 ms | p99 ms | errors |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for run in &tls.runs {
        let result = &run.result;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&run.caller),
            cell(&result.workload),
            result.batch_size,
            result.concurrency,
            rows::figure(Some(result.ops_per_s), Unit::PerSecond),
            rows::figure(Some(result.keys_per_s), Unit::PerSecond),
            rows::figure(Some(result.latency_ms.p50), Unit::Ms),
            rows::figure(Some(result.latency_ms.p99), Unit::Ms),
            result.errors,
        );
    }
    md.push('\n');
}

fn push_plots(md: &mut String) {
    md.push_str("## Plots\n\n");
    for plot in Plot::ALL {
        let _ = writeln!(md, "![{}]({})\n", plot.title(), plot.file_name());
    }
}

/// Where a run sits in the side-by-side table: stale and serializable reads share a row, as in the ratio table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SweepKey {
    workload: String,
    consistency: String,
    batch_size: usize,
    concurrency: usize,
}

impl SweepKey {
    fn of(run: &BenchResult) -> SweepKey {
        let consistency = match run.consistency.as_deref() {
            Some("stale" | "serializable") => "stale / serializable".to_string(),
            other => other.unwrap_or("").to_string(),
        };
        SweepKey {
            workload: run.workload.clone(),
            consistency,
            batch_size: run.batch_size,
            concurrency: run.concurrency,
        }
    }
}

/// Every run of both systems, one row per workload and concurrency, with the echo ceiling at that concurrency.
fn push_sweep(md: &mut String, results: &Results) {
    md.push_str("## Every run\n\n");
    let mut table: BTreeMap<SweepKey, [Option<&BenchResult>; 2]> = BTreeMap::new();
    for (side, runs) in [&results.dancu.runs, &results.etcd.runs].into_iter().enumerate() {
        for run in runs {
            table.entry(SweepKey::of(run)).or_default()[side].get_or_insert(run);
        }
    }
    if table.is_empty() && results.ceilings.runs.is_empty() {
        md.push_str("No run was measured.\n");
        return;
    }
    md.push_str(
        "ops/s counts requests (a batch get of 100 keys is one). The echo ceiling is at the same concurrency.\n\n",
    );
    md.push_str("| workload | consistency | batch | clients | dancu ops/s | dancu p99 ms | etcd ops/s | etcd p99 ms ");
    md.push_str("| echo ops/s | echo p99 ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (key, [dancu, etcd]) in &table {
        let echo = results.ceilings.runs.iter().find(|run| run.concurrency == key.concurrency);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            key.workload,
            key.consistency,
            key.batch_size,
            key.concurrency,
            ops_and_p99(*dancu),
            ops_and_p99(*etcd),
            ops_and_p99(echo),
        );
    }
    // Echo levels no system ran at still belong to the picture.
    for echo in &results.ceilings.runs {
        if !table.keys().any(|key| key.concurrency == echo.concurrency) {
            let _ = writeln!(md, "| echo | | 1 | {} | – | – | – | – | {} |", echo.concurrency, ops_and_p99(Some(echo)));
        }
    }
    md.push('\n');
}

/// `41234 | 3.40`, or dashes for a run that is not there.
fn ops_and_p99(run: Option<&BenchResult>) -> String {
    let figure = |value: Option<f64>, unit| rows::figure(value, unit);
    format!(
        "{} | {}",
        figure(run.map(|run| run.ops_per_s), Unit::PerSecond),
        figure(run.map(|run| run.latency_ms.p99), Unit::Ms)
    )
}

fn or_unknown(text: &str) -> &str {
    if text.trim().is_empty() {
        "unknown"
    } else {
        text
    }
}

/// Text fit for a table cell: a `|` would end the cell, a newline the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
