//! `dancu-lazyfs`: mounts a FUSE file system that keeps written data in memory until it is fsynced, and drops it on
//! a crash command: the consistency suite's power-loss fault. See `dancu_jepsen::lazyfs` for the semantics.
//!
//! ```text
//! dancu-lazyfs --backing DIR --mountpoint DIR [--control FILE] [--report FILE] [--threads N]
//! dancu-lazyfs crash --control FILE [--timeout-ms MS]
//! dancu-lazyfs unmount --mountpoint DIR
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dancu_jepsen::lazyfs::{default_report_path, request_crash, serve, unmount_detached, LazyFsError, MountConfig};

/// Mount a file system that loses unsynced writes on a crash (SIGUSR1 or `dancu-lazyfs crash`).
#[derive(Debug, Parser)]
#[command(name = "dancu-lazyfs", args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory holding the durable state (what survives a crash); created if missing.
    #[arg(long, required = true)]
    backing: Option<PathBuf>,
    /// Where to mount (e.g. a node's data directory); created if missing. Prints `mounted` on stdout once serving.
    #[arg(long, required = true)]
    mountpoint: Option<PathBuf>,
    /// Written once mounted (JSON: pid, mountpoint, backing, report), for `dancu-lazyfs crash --control`.
    #[arg(long)]
    control: Option<PathBuf>,
    /// File each crash appends one JSON line to [default: <MOUNTPOINT>.lazyfs.jsonl, beside the mountpoint].
    #[arg(long)]
    report: Option<PathBuf>,
    /// FUSE worker threads.
    #[arg(long, default_value_t = 4)]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Crash a running dancu-lazyfs (drop every unsynced byte), wait until its report records it, print the record.
    Crash {
        /// The control file the running dancu-lazyfs wrote.
        #[arg(long)]
        control: PathBuf,
        /// How long to wait for the crash record.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
    },
    /// Detach a leftover mount (umount2 with MNT_DETACH), e.g. after dancu-lazyfs was killed.
    Unmount {
        /// The mountpoint to detach.
        #[arg(long)]
        mountpoint: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Crash { control, timeout_ms }) => crash(&control, timeout_ms),
        Some(Command::Unmount { mountpoint }) => unmount(&mountpoint),
        None => mount(cli.backing, cli.mountpoint, cli.control, cli.report, cli.threads),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dancu-lazyfs: {error}");
            ExitCode::FAILURE
        }
    }
}

fn mount(
    backing: Option<PathBuf>,
    mountpoint: Option<PathBuf>,
    control: Option<PathBuf>,
    report: Option<PathBuf>,
    n_threads: usize,
) -> Result<(), LazyFsError> {
    // clap enforces both without a subcommand; this only guards against a change of the attributes above.
    let (Some(backing), Some(mountpoint)) = (backing, mountpoint) else {
        return Err(LazyFsError::Control("--backing and --mountpoint are required".to_string()));
    };
    let report = report.unwrap_or_else(|| default_report_path(&mountpoint));
    let config = MountConfig { backing, mountpoint, control, report, n_threads };
    serve(&config)
}

fn crash(control: &std::path::Path, timeout_ms: u64) -> Result<(), LazyFsError> {
    let record = request_crash(control, Duration::from_millis(timeout_ms))?;
    let line = serde_json::to_string(&record).map_err(|error| LazyFsError::Control(error.to_string()))?;
    println!("{line}");
    Ok(())
}

fn unmount(mountpoint: &std::path::Path) -> Result<(), LazyFsError> {
    if unmount_detached(mountpoint)? {
        println!("detached {}", mountpoint.display());
    } else {
        println!("nothing mounted at {}", mountpoint.display());
    }
    Ok(())
}
