//! The JSON lines of `dancu-synthetic` (what `dancuctl gen` writes) are exactly the `CitizenJson` format: every
//! line parses into the generator's own `Citizen`, and is byte-for-byte what serde prints for that record.

use std::process::Command;

use dancu_client::CitizenJson;
use dancu_synthetic::Population;

const SEED: u64 = 20_260_124;
const COUNT: u64 = 20_000;

#[test]
fn every_generated_line_parses_into_the_generated_citizen() {
    let population = Population::new(SEED, COUNT).expect("within capacity");
    let mut json = Vec::new();
    population.write_json(2, &mut json).expect("writing to memory cannot fail");
    let text = String::from_utf8(json).expect("the output is UTF-8");
    let mut n_lines = 0;
    for (line_idx, (line, citizen)) in text.lines().zip(population.citizens()).enumerate() {
        let parsed = CitizenJson::parse_citizen(line)
            .unwrap_or_else(|error| panic!("seed {SEED}, line {}: {error}\n{line}", line_idx + 1));
        assert_eq!(parsed, citizen, "seed {SEED}, line {}", line_idx + 1);
        let printed = serde_json::to_string(&CitizenJson::from(&citizen)).expect("serializable");
        assert_eq!(line, printed, "seed {SEED}, line {}: not serde's bytes", line_idx + 1);
        n_lines += 1;
    }
    assert_eq!(n_lines, COUNT);
    assert_eq!(text.lines().count() as u64, COUNT);
}

fn dancuctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dancuctl")).args(args).output().expect("dancuctl runs")
}

#[test]
fn dancuctl_gen_writes_the_same_bytes_to_stdout_and_to_a_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("population.jsonl");
    let path_text = path.to_str().expect("UTF-8 path");
    let to_stdout = dancuctl(&["gen", "--count", "5000", "--seed", "42", "--threads", "1"]);
    assert!(to_stdout.status.success(), "{}", String::from_utf8_lossy(&to_stdout.stderr));
    let to_file = dancuctl(&["gen", "--count", "5000", "--seed", "42", "--threads", "3", "--out", path_text]);
    assert!(to_file.status.success(), "{}", String::from_utf8_lossy(&to_file.stderr));
    assert!(to_file.stdout.is_empty());
    let summary = String::from_utf8_lossy(&to_file.stderr);
    assert!(summary.starts_with("generated 5000 records (seed 42, 2 threads)"), "{summary}");
    assert!(summary.contains("records/s") && summary.lines().count() == 1, "{summary}");
    let file = std::fs::read(&path).expect("output file");
    assert_eq!(file, to_stdout.stdout);

    let mut expected = Vec::new();
    Population::new(42, 5000).expect("within capacity").write_json(1, &mut expected).expect("in memory");
    assert_eq!(file, expected);
}

#[test]
fn dancuctl_gen_refuses_more_records_than_ids_allow() {
    let output = dancuctl(&["gen", "--count", "300000000", "--seed", "1"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: 300000000 records requested, at most 256000000"), "{stderr}");
    assert!(output.stdout.is_empty());
}
