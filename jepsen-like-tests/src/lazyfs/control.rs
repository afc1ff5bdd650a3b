//! How the outside world drives a running `dancu-lazyfs`: its control file says where it runs, a crash is SIGUSR1,
//! and every crash leaves one JSON line in the report file as evidence that the fault took effect.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::LazyFsError;

/// The executable's name, as `/proc/PID/comm` shows it.
const PROCESS_NAME: &str = "dancu-lazyfs";

/// Pause between two reads of the report while waiting for a crash to be recorded.
const REPORT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// One crash, as a line of the report file:
/// `{"crash":N,"files_with_lost_data":F,"bytes_lost":B,"unix_ms":T}`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct CrashRecord {
    /// 1 for the first crash recorded in this report file, then 2, 3, …
    pub crash: u64,
    /// Files that had unsynced bytes when the crash hit.
    pub files_with_lost_data: u64,
    /// Unsynced bytes dropped.
    pub bytes_lost: u64,
    /// When the crash happened, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// What a running `dancu-lazyfs` writes to its `--control` file once it serves: enough to crash it.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ControlFile {
    /// Process to send SIGUSR1 to.
    pub pid: u32,
    /// Where the file system is mounted.
    pub mountpoint: PathBuf,
    /// The backing directory (the durable state).
    pub backing: PathBuf,
    /// The report file crashes are appended to.
    pub report: PathBuf,
}

impl ControlFile {
    /// Writes the control file atomically (a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<(), LazyFsError> {
        let partial = path.with_extension("partial");
        let json = serde_json::to_string(self).map_err(|error| LazyFsError::Control(error.to_string()))?;
        std::fs::write(&partial, json + "\n").map_err(LazyFsError::io(format!("writing {}", partial.display())))?;
        std::fs::rename(&partial, path).map_err(LazyFsError::io(format!("renaming to {}", path.display())))
    }

    /// Reads a control file.
    pub fn read(path: &Path) -> Result<ControlFile, LazyFsError> {
        let text = std::fs::read_to_string(path).map_err(LazyFsError::io(format!("reading {}", path.display())))?;
        serde_json::from_str(&text).map_err(|error| LazyFsError::Control(format!("{}: {error}", path.display())))
    }
}

/// The report file used when none is given: `<mountpoint>.lazyfs.jsonl`, beside the mountpoint (not inside it,
/// where a crash could touch it, and not in the backing directory, which belongs to the node).
pub fn default_report_path(mountpoint: &Path) -> PathBuf {
    let mut name = mountpoint.file_name().map(|name| name.to_os_string()).unwrap_or_else(|| "lazyfs".into());
    name.push(".lazyfs.jsonl");
    mountpoint.with_file_name(name)
}

/// The crash records in a report file, oldest first (none if the file does not exist yet).
pub fn read_records(report: &Path) -> Result<Vec<CrashRecord>, LazyFsError> {
    let file = match File::open(report) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(LazyFsError::io(format!("opening {}", report.display()))(error)),
    };
    let mut records = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(LazyFsError::io(format!("reading {}", report.display())))?;
        // A line still being written has no newline yet and does not parse: it is not a record yet.
        if let Ok(record) = serde_json::from_str(&line) {
            records.push(record);
        }
    }
    Ok(records)
}

/// Appends one record (one `write` of a whole line, then `fsync`: the evidence must outlive this process).
pub fn append_record(report: &Path, record: &CrashRecord) -> Result<(), LazyFsError> {
    let context = || format!("appending to {}", report.display());
    let mut line = serde_json::to_string(record).map_err(|error| LazyFsError::Control(error.to_string()))?;
    line.push('\n');
    let mut file = OpenOptions::new().create(true).append(true).open(report).map_err(LazyFsError::io(context()))?;
    file.write_all(line.as_bytes()).map_err(LazyFsError::io(context()))?;
    file.sync_data().map_err(LazyFsError::io(context()))
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// Crashes the `dancu-lazyfs` that wrote `control` and returns the record of that crash, once it is in the report.
pub fn request_crash(control: &Path, timeout: Duration) -> Result<CrashRecord, LazyFsError> {
    let control = ControlFile::read(control)?;
    let n_before = read_records(&control.report)?.len();
    let pid = i32::try_from(control.pid).map_err(|_| LazyFsError::Control(format!("bad pid {}", control.pid)))?;
    check_is_lazyfs(pid)?;
    kill(Pid::from_raw(pid), Signal::SIGUSR1)
        .map_err(|errno| LazyFsError::sys(format!("sending SIGUSR1 to dancu-lazyfs pid {pid}"), errno))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(record) = read_records(&control.report)?.into_iter().nth(n_before) {
            return Ok(record);
        }
        if Instant::now() >= deadline {
            return Err(LazyFsError::Control(format!(
                "no crash recorded in {} within {timeout:?} after SIGUSR1 to pid {pid}",
                control.report.display()
            )));
        }
        std::thread::sleep(REPORT_POLL_INTERVAL);
    }
}

/// A control file outlives its process, and its pid may have been reused since: SIGUSR1 would kill a stranger.
fn check_is_lazyfs(pid: i32) -> Result<(), LazyFsError> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim_end() != PROCESS_NAME {
        return Err(LazyFsError::Control(format!("pid {pid} is not a running {PROCESS_NAME} (it is {comm:?})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_beside_the_mountpoint() {
        assert_eq!(default_report_path(Path::new("/tmp/run/n1")), PathBuf::from("/tmp/run/n1.lazyfs.jsonl"));
        assert_eq!(default_report_path(Path::new("/tmp/run/n1/")), PathBuf::from("/tmp/run/n1.lazyfs.jsonl"));
    }

    #[test]
    fn only_a_lazyfs_process_is_signalled() {
        let error = check_is_lazyfs(std::process::id() as i32).unwrap_err();
        assert!(error.to_string().contains("is not a running dancu-lazyfs"), "{error}");
        assert!(request_crash(Path::new("/nonexistent/control.json"), Duration::ZERO).is_err());
    }

    #[test]
    fn records_round_trip_and_partial_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("r.jsonl");
        assert!(read_records(&report).unwrap().is_empty());
        let record = CrashRecord { crash: 1, files_with_lost_data: 2, bytes_lost: 300, unix_ms: 4 };
        append_record(&report, &record).unwrap();
        std::fs::OpenOptions::new().append(true).open(&report).unwrap().write_all(b"{\"crash\":2,").unwrap();
        assert_eq!(read_records(&report).unwrap(), vec![record]);
        let line = std::fs::read_to_string(&report).unwrap();
        assert!(line.starts_with(r#"{"crash":1,"files_with_lost_data":2,"bytes_lost":300,"unix_ms":4}"#), "{line}");
    }
}
