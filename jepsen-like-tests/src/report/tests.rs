use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::checker::random_history::{break_one_read, linearizable_history, test_seed, RandomHistoryConfig};
use crate::checker::{check, CheckConfig};
use crate::history::Outcome;
use crate::transport::{Transport, TransportSecurity};

fn faults() -> Vec<FaultWindow> {
    vec![
        FaultWindow {
            nemesis: "partition".into(),
            description: "n1 | n2 n3".into(),
            start_us: 2_000,
            end_us: Some(9_000),
        },
        FaultWindow {
            nemesis: "kill".into(),
            description: "kill -9 <leader> n2".into(),
            start_us: 5_000,
            end_us: None,
        },
    ]
}

static NO_NEMESIS: std::sync::LazyLock<NemesisTally> = std::sync::LazyLock::new(NemesisTally::default);

static MUTUAL_TLS: std::sync::LazyLock<Transport> = std::sync::LazyLock::new(|| Transport {
    security: TransportSecurity::MutualTls,
    evidence: "a plaintext Status call was refused by every node (node 1: <refused>)".into(),
});

fn run_report<'a>(ops: &'a [Op], faults: &'a [FaultWindow], check: &'a CheckReport) -> RunReport<'a> {
    RunReport {
        ops,
        faults,
        check,
        seed: 42,
        git_rev: "0123abc".into(),
        config: json!({"duration_s": 1.0, "nemeses": ["partition", "kill"], "nodes": 3, "rate": 100,
                       "broken_reads": false, "network": "loopback"}),
        notes: vec!["no clock-skew injection on this machine".into()],
        final_reads: json!({"keys": [], "all_agree": true}),
        acked_writes_lost: 0,
        nemesis: &NO_NEMESIS,
        transport: &MUTUAL_TLS,
    }
}

fn history(seed: u64, n_ops: usize) -> Vec<Op> {
    let config = RandomHistoryConfig { n_ops, latency_us_max: 500, ..RandomHistoryConfig::default() };
    linearizable_history(&mut StdRng::seed_from_u64(seed), &config)
}

fn read_results(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join(RESULTS_FILE)).unwrap()).unwrap()
}

#[test]
fn a_valid_run_writes_the_four_files() {
    let seed = test_seed();
    let ops = history(seed, 300);
    let faults = faults();
    let check_report = check(&ops, &CheckConfig::default());
    assert_eq!(check_report.verdict, Verdict::Valid);
    let dir = tempfile::tempdir().unwrap();
    write_run_report(dir.path(), &run_report(&ops, &faults, &check_report)).unwrap();

    let lines: Vec<Op> = fs::read_to_string(dir.path().join(HISTORY_FILE))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines, ops);

    let results = read_results(dir.path());
    assert_eq!(results["valid"], json!(true));
    assert_eq!(results["ops"], json!(ops.len()));
    assert_eq!(results["faults"].as_array().unwrap().len(), 2);
    assert_eq!(results["anomalies"], json!([]));
    assert_eq!(results["seed"], json!(42));
    assert_eq!(results["git_rev"], json!("0123abc"));
    assert_eq!(results["config"]["network"], json!("loopback"));
    assert!(results["checker"]["elapsed_ms"].is_u64());
    assert_eq!(results["checker"]["keys"].as_array().unwrap().len(), check_report.n_keys);
    let counts = &results["counts"];
    let n_counted = ["ok", "fail", "info"].iter().map(|name| counts[name].as_u64().unwrap()).sum::<u64>();
    assert_eq!(n_counted, ops.len() as u64);
    assert_eq!(results["final_reads"]["all_agree"], json!(true));
    assert_eq!(results["notes"][0], json!("no clock-skew injection on this machine"));
    assert_eq!(results["transport"], json!("mutual TLS"));
    assert_eq!(results["transport_evidence"], json!(MUTUAL_TLS.evidence));

    let summary = fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
    assert!(summary.starts_with("# dancu consistency run: VALID"), "{summary}");
    assert!(summary.contains("- transport: **mutual TLS** (a plaintext Status call was refused"), "{summary}");
    assert!(summary.contains("| partition | n1 \\| n2 n3 | 0.002 | 0.009 |"), "{summary}");

    let page = fs::read_to_string(dir.path().join(HTML_FILE)).unwrap();
    assert!(page.contains("<div class=\"banner valid\">VALID"));
    assert!(page.contains("over mutual TLS</div>"), "the banner names the transport");
    assert!(page.contains("<tr><th>transport</th><td><b>mutual TLS</b> (a plaintext Status call was refused"));
    assert!(page.contains("&lt;refused&gt;"), "the evidence is escaped");
    assert!(page.matches("<svg").count() >= 3, "timeline, throughput and latency");
    assert_self_contained(&page);
}

#[test]
fn an_invalid_run_shows_its_anomaly_window() {
    let seed = test_seed();
    let mut ops = history(seed, 200);
    break_one_read(&mut StdRng::seed_from_u64(seed), &mut ops).expect("a read to break");
    let check_report = check(&ops, &CheckConfig::default());
    assert_eq!(check_report.verdict, Verdict::Invalid);
    let dir = tempfile::tempdir().unwrap();
    write_run_report(dir.path(), &run_report(&ops, &[], &check_report)).unwrap();

    let results = read_results(dir.path());
    assert_eq!(results["valid"], json!(false));
    assert_eq!(results["anomalies"][0]["kind"], json!("nonlinearizable"));
    let page = fs::read_to_string(dir.path().join(HTML_FILE)).unwrap();
    assert!(page.contains("banner invalid\">INVALID"));
    assert!(page.contains("<div class=\"anomaly\">"));
    assert_self_contained(&page);
    let summary = fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
    assert!(summary.contains("## Anomalies (1)"), "{summary}");
}

#[test]
fn unknown_and_disagreeing_final_reads_are_reported_as_such() {
    let ops = history(1, 20);
    let mut check_report = check(&ops, &CheckConfig::default());
    check_report.verdict = Verdict::Unknown;
    let dir = tempfile::tempdir().unwrap();
    write_run_report(dir.path(), &run_report(&ops, &[], &check_report)).unwrap();
    assert_eq!(read_results(dir.path())["valid"], json!("unknown"));

    let mut report = run_report(&ops, &[], &check_report);
    report.final_reads = json!({"keys": [], "all_agree": false});
    write_run_report(dir.path(), &report).unwrap();
    assert_eq!(read_results(dir.path())["valid"], json!(false));
    assert!(fs::read_to_string(dir.path().join(HTML_FILE)).unwrap().contains("disagree"));
}

#[test]
fn a_lost_acknowledged_write_and_an_unconfirmed_fault_are_reported() {
    let ops = history(2, 20);
    let check_report = check(&ops, &CheckConfig::default());
    assert_eq!(check_report.verdict, Verdict::Valid);
    let tally = NemesisTally {
        injected: [("power-loss".to_string(), 2)].into(),
        confirmed: [("power-loss".to_string(), 1)].into(),
        unconfirmed: vec!["power-loss: power loss of nodes [1, 2, 3] (2 of 3 file systems recorded the crash)".into()],
    };
    let mut report = run_report(&ops, &[], &check_report);
    report.acked_writes_lost = 3;
    report.nemesis = &tally;
    let dir = tempfile::tempdir().unwrap();
    write_run_report(dir.path(), &report).unwrap();
    let results = read_results(dir.path());
    assert_eq!(results["valid"], json!(false), "a lost acknowledged write makes the run invalid");
    assert_eq!(results["acked_writes_lost"], json!(3));
    assert_eq!(results["nemesis_confirmed"], json!({"power-loss": 1}));
    assert_eq!(results["nemesis_injected"], json!({"power-loss": 2}));
    assert_eq!(results["nemesis_unconfirmed"].as_array().map(Vec::len), Some(1));
    let summary = fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
    assert!(summary.contains("acknowledged writes lost: 3") && summary.contains("fault not confirmed"), "{summary}");
}

#[test]
fn an_insecure_plaintext_run_says_so_everywhere() {
    let ops = history(4, 20);
    let check_report = check(&ops, &CheckConfig::default());
    let plaintext = Transport {
        security: TransportSecurity::InsecurePlaintext,
        evidence: "plaintext as asked (--insecure-plaintext)".into(),
    };
    let mut report = run_report(&ops, &[], &check_report);
    report.transport = &plaintext;
    let dir = tempfile::tempdir().unwrap();
    write_run_report(dir.path(), &report).unwrap();
    let results = read_results(dir.path());
    assert_eq!(results["transport"], json!("insecure plaintext"));
    assert_eq!(results["transport_evidence"], json!("plaintext as asked (--insecure-plaintext)"));
    let summary = fs::read_to_string(dir.path().join(SUMMARY_FILE)).unwrap();
    assert!(summary.contains("- transport: **insecure plaintext** (plaintext as asked"), "{summary}");
    let page = fs::read_to_string(dir.path().join(HTML_FILE)).unwrap();
    assert!(page.contains("over insecure plaintext</div>"));
}

#[test]
fn the_page_stays_small_for_a_long_run() {
    let config = RandomHistoryConfig { n_ops: 100_000, n_processes: 64, n_keys: 20, ..RandomHistoryConfig::default() };
    let ops = linearizable_history(&mut StdRng::seed_from_u64(7), &config);
    let check_report = CheckReport {
        verdict: Verdict::Valid,
        n_ops: ops.len(),
        n_keys: 20,
        keys: Vec::new(),
        anomalies: Vec::new(),
        elapsed_ms: 0,
    };
    let started = Instant::now();
    let page = html::render(&run_report(&ops, &faults(), &check_report));
    println!("report.html for {} ops: {} bytes in {:?}", ops.len(), page.len(), started.elapsed());
    assert!(page.len() < 3 << 20, "{} bytes", page.len());
    assert!(page.contains(&format!("Showing {} of {} ops", html::TIMELINE_BARS_MAX, ops.len())));
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn timeline_sampling_keeps_the_rare_outcomes() {
    let ops = history(3, 1_000);
    let shown = html::sample_for_timeline(&ops, 100);
    assert_eq!(shown.len(), 100);
    let n_not_ok = ops.iter().filter(|op| op.outcome != Outcome::Ok).count().min(50);
    assert_eq!(shown.iter().filter(|op| op.outcome != Outcome::Ok).count(), n_not_ok);
    assert!(shown.windows(2).all(|pair| pair[0].index < pair[1].index));
}

#[test]
fn html_escapes_what_it_did_not_write() {
    assert_eq!(html::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

/// No scripts, no links, nothing fetched: only the SVG namespace may name a URL.
fn assert_self_contained(page: &str) {
    let lowered = page.to_lowercase();
    for forbidden in ["<script", "<link", "href=", "src=", "@import", "url("] {
        assert!(!lowered.contains(forbidden), "report.html contains {forbidden}");
    }
    assert_eq!(lowered.matches("http").count(), lowered.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
}
