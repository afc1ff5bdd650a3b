//! `dancuctl gen`: synthetic citizens as JSON lines, from `dancu-synthetic`. No cluster involved.
//!
//! The lines are the `CitizenJson` format `import` and `put` read, so `dancuctl gen ... | dancuctl import`
//! loads a synthetic population. The summary goes to stderr so stdout carries only records.

use std::fs::File;
use std::io::ErrorKind;
use std::path::PathBuf;

use clap::Args;
use dancu_synthetic::{GenError, GenStats, Population};

use super::Failure;

#[derive(Debug, Args)]
pub(crate) struct GenArgs {
    /// Number of records to write (at most 256,000,000).
    #[arg(long, value_name = "N")]
    count: u64,
    /// Seed: the same seed and count always give byte-identical output, whatever the number of threads.
    #[arg(long, value_name = "S")]
    seed: u64,
    /// Write the records to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Generating threads (default: the available cores).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
}

pub(crate) fn run(args: GenArgs) -> Result<String, Failure> {
    let population = Population::new(args.seed, args.count).map_err(|error| Failure::usage(error.to_string()))?;
    let threads = match args.threads {
        Some(threads) => usize::try_from(threads).unwrap_or(1),
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let (target_name, result) = match &args.out {
        Some(path) => {
            let mut file = File::create(path)
                .map_err(|error| Failure::usage(format!("cannot create {}: {error}", path.display())))?;
            // Chunks arrive as multi-megabyte buffers: no BufWriter needed.
            (path.display().to_string(), population.write_json(threads, &mut file))
        }
        None => ("stdout".to_string(), population.write_json(threads, &mut std::io::stdout().lock())),
    };
    match result {
        Ok(stats) => {
            eprintln!("{}", summary(&stats, &population, threads, &target_name));
            Ok(String::new())
        }
        // A closed stdout (`dancuctl gen ... | head`) ends the output quietly.
        Err(GenError::Io(error)) if error.kind() == ErrorKind::BrokenPipe && args.out.is_none() => Ok(String::new()),
        Err(GenError::Io(error)) => Err(Failure::usage(format!("cannot write to {target_name}: {error}"))),
        Err(error) => Err(Failure::usage(error.to_string())),
    }
}

/// `generated 200000 records (seed 42, 2 threads) to out.jsonl: 231.4 MB in 0.41 s, 487804 records/s`.
fn summary(stats: &GenStats, population: &Population, threads: usize, target_name: &str) -> String {
    format!(
        "generated {} records (seed {}, {}) to {target_name}: {:.1} MB in {:.2} s, {:.0} records/s",
        stats.n_records,
        population.seed(),
        super::plural(threads.min(population.n_chunks().max(1) as usize), "thread"),
        stats.n_bytes as f64 / 1e6,
        stats.elapsed.as_secs_f64(),
        stats.records_per_s()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line() {
        let population = Population::new(42, 200_000).expect("within capacity");
        let stats =
            GenStats { n_records: 200_000, n_bytes: 231_400_000, elapsed: std::time::Duration::from_millis(400) };
        assert_eq!(
            summary(&stats, &population, 2, "out.jsonl"),
            "generated 200000 records (seed 42, 2 threads) to out.jsonl: 231.4 MB in 0.40 s, 500000 records/s"
        );
    }
}
