//! Clock-rate faults for one node process through libfaketime (Debian package `faketime`, 0.9.10): the node's
//! wall clock and its monotonic clock (`SystemTime`, `Instant`, tokio timers) run at a rate the harness sets while
//! the node runs, and change rate without jumping.
//!
//! How libfaketime 0.9.10 behaves, as measured on Debian 12 (the design follows from it):
//! - A spec `+OFFSET xRATE` counts from the moment the library loaded into the process: switching a running
//!   process from x1 to x2 after 2 s jumps its clock 2 s ahead, and switching back jumps it back.
//!   `FAKETIME_XRESET` smooths the wall clock but re-bases the monotonic clock on the wall clock as of the last
//!   wall-clock call, so a process that reads mostly the monotonic clock (tokio) sees it go backwards at the
//!   switch (−160 ms measured with wall-clock reads 240 ms apart). Neither is used for changes.
//! - A spec `@TIME xRATE` (TIME in Unix seconds, with `FAKETIME_FMT=%s`) restarts the clock at TIME from the
//!   moment the library parses it, and the library parses the spec only when its text changed. The harness
//!   therefore writes `@<the clock's value at the next whole second of real time> x<new rate>` shortly before
//!   that second: with `FAKETIME_CACHE_DURATION=0` the library re-reads the file at the process's first clock
//!   call in each real second, so the new rate starts where the old line ended. The clock never runs backwards;
//!   it pauses for the time between the boundary and the process's first clock call after it (under a
//!   millisecond for a busy node, at most the probe's 5–10 ms sampling gap in the tests).
//! - Re-reading the file on every clock call (`FAKETIME_NO_CACHE=1`) costs 8 µs per call (20 µs with the
//!   thread-safe library) against 0.1 µs (0.9 µs) cached: too much for a node that reads its clocks constantly.
//! - Both clocks run at the rate, and the faked monotonic clock counts from the fake wall-clock time (about
//!   1.8e9 s), not from boot. Calls that libfaketime translates are fine (`nanosleep`, `epoll_wait`, `poll`,
//!   `pthread_cond_timedwait`: what tokio and RocksDB use; dancu-node kept all 63 partitions led at rates 3 and
//!   0.5), but an absolute monotonic deadline handed to the kernel directly is decades away: Rust's
//!   `std::thread::park_timeout`, `Condvar::wait_timeout` and `mpsc::Receiver::recv_timeout` never time out under
//!   libfaketime (measured, at any rate). Code that relies on those cannot run under this fault.
//! - The thread-safe library (`libfaketimeMT`) serializes clock calls. The plain one shares its re-read buffer
//!   and clock line between threads unguarded, and a spec it cannot parse makes it exit the process. An idle
//!   3-node cluster's nodes used 15 % of a core each under it instead of 11 %.
//! - Each process leaves `/dev/shm/faketime_shm_<pid>` and `sem.faketime_sem_<pid>` behind when killed; a new
//!   process whose pid matches a leftover shm without its semaphore exits at start (both measured). The launch
//!   wrapper removes both for its own pid (kept across `exec`) and for the node's previous pid.
//!
//! Restarts: the launch wrapper ([`ClockControl::command_prefix`]) writes the clock line's current offset from
//! real time as `±OFFSET xRATE`, which libfaketime counts from its load in the new process; a restarted process
//! thus starts on the line the process before it followed (its wall clock keeps the offset gathered so far, as a
//! machine's clock would) and runs at the current rate, off the line by (load delay) × (rate − 1): 5 ms measured
//! at rate 2, none at rate 1. One start in the 0.2 s before a change's boundary may begin up to 0.2 s × rate
//! ahead, since it may parse the change's spec early.
//!
//! Architecture Invariant: the harness changes a node's clock only through the files of its [`ClockControl`]
//! directory; it never signals or ptraces the node for it.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};

/// Millionths in one: rates are kept as integers so the harness and the shell wrapper compute the same clock.
const PPM: i64 = 1_000_000;

/// Slowest and fastest rate accepted, in millionths (0.1 and 10).
pub const RATE_PPM_MIN: u32 = 100_000;
/// See [`RATE_PPM_MIN`].
pub const RATE_PPM_MAX: u32 = 10_000_000;

/// Longest span between a clock line's anchor and a node start for which the wrapper's 64-bit shell arithmetic
/// (`elapsed_us * rate_ppm`) cannot overflow; suite runs last minutes to hours.
const ANCHOR_AGE_US_MAX: i64 = 7 * 24 * 3600 * PPM;
const _: () = assert!(ANCHOR_AGE_US_MAX.checked_mul(RATE_PPM_MAX as i64).is_some());

/// Largest deliberate jump, either way.
pub const JUMP_MS_MAX: i64 = 24 * 3600 * 1000;

/// The spec for a change is written this long before the real second boundary it takes effect at.
const WRITE_LEAD: Duration = Duration::from_millis(200);

/// A writer waking up with less time than this before the boundary aims at the next one instead.
const WRITE_LEAD_MIN: Duration = Duration::from_millis(50);

/// Time after the boundary before a change returns, so the node has re-read its spec.
const SETTLE: Duration = Duration::from_millis(20);

/// Tries before giving up on writing a change ahead of its boundary.
const ATTEMPTS_MAX: u32 = 3;

/// Where Debian (and a `make install` from source) put the library.
const LIBRARY_FILE: &str = "libfaketimeMT.so.1";
const LOCAL_LIBRARY_DIR: &str = "/usr/local/lib/faketime";

/// Files of a [`ClockControl`] directory.
const SPEC_FILE: &str = "spec";
const MODEL_FILE: &str = "model";
const LOCK_FILE: &str = "lock";
const PID_FILE: &str = "pid";

/// Runs the node under libfaketime: `sh -c WRAPPER dancu-clock DIR LIBRARY NODE ARGS...`. Under the lock the
/// harness writes with, it writes the spec `±OFFSET xRATE` for the clock line in `DIR/model`
/// (`anchor_real_us anchor_fake_us rate_ppm`, the same integer arithmetic as [`ClockModel::fake_unix_us_at`]) at
/// this moment, removes libfaketime's leftovers for its own pid and the previous node's, and execs the node (same
/// pid). Every other `FAKETIME*` variable is unset so an inherited one (e.g. `FAKETIME`, which overrides the file)
/// cannot change the semantics.
const WRAPPER: &str = r#"set -eu
dir=$1; lib=$2; shift 2
exec 9>>"$dir/lock"
flock 9
read -r real_us fake_us rate_ppm < "$dir/model"
now_us=$(date +%s%6N)
off=$((fake_us + (now_us - real_us) * rate_ppm / 1000000 - now_us))
sign=+
if [ "$off" -lt 0 ]; then sign=-; off=$((-off)); fi
printf '%s%d.%06d x%d.%06d\n' "$sign" $((off / 1000000)) $((off % 1000000)) $((rate_ppm / 1000000)) \
  $((rate_ppm % 1000000)) > "$dir/spec.tmp"
mv -f "$dir/spec.tmp" "$dir/spec"
if [ -r "$dir/pid" ]; then read -r old < "$dir/pid"; rm -f "/dev/shm/faketime_shm_$old" "/dev/shm/sem.faketime_sem_$old"; fi
rm -f "/dev/shm/faketime_shm_$$" "/dev/shm/sem.faketime_sem_$$"
echo $$ > "$dir/pid"
exec 9>&-
unset FAKETIME FAKETIME_NO_CACHE FAKETIME_XRESET FAKETIME_DONT_RESET FAKETIME_SHARED FAKETIME_FOLLOW_FILE \
  FAKETIME_START_AFTER_SECONDS FAKETIME_STOP_AFTER_SECONDS FAKETIME_START_AFTER_NUMCALLS \
  FAKETIME_STOP_AFTER_NUMCALLS FAKETIME_SPAWN_TARGET FAKETIME_LOAD_FILE FAKETIME_SAVE_FILE FAKETIME_ONLY_CMDS \
  FAKETIME_SKIP_CMDS FAKETIME_WAIT_MS DONT_FAKE_MONOTONIC
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME_TIMESTAMP_FILE="$dir/spec" FAKETIME_CACHE_DURATION=0 \
  FAKETIME_FMT=%s FAKETIME_DONT_FAKE_MONOTONIC=0 NO_FAKE_STAT=1
exec "$@"
"#;

/// Setting up or changing a node's clock failed.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// libfaketime or a tool the wrapper needs is missing.
    #[error("clock faults need libfaketime: {why}; run `make deps` (Debian package `faketime`)")]
    NotInstalled {
        /// What is missing.
        why: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The rate asked for is outside what the harness accepts.
    #[error("clock rate {rate} is outside {}..={}", RATE_PPM_MIN as f64 / PPM as f64, RATE_PPM_MAX as f64 / PPM as f64)]
    RateOutOfRange {
        /// The rate asked for.
        rate: f64,
    },
    /// The jump asked for is larger than [`JUMP_MS_MAX`].
    #[error("a clock jump of {by_ms} ms is larger than {JUMP_MS_MAX} ms")]
    JumpOutOfRange {
        /// The jump asked for.
        by_ms: i64,
    },
    /// The host's clock reads before 1970.
    #[error("the system clock reads before the Unix epoch")]
    BeforeEpoch,
    /// The harness was descheduled past the second boundary every time; the node may have seen a jump.
    #[error(
        "the clock spec was written after its second boundary {attempts} times in a row; the node's clock may jump"
    )]
    LateWrite {
        /// Tries made.
        attempts: u32,
    },
}

impl ClockError {
    fn io(context: impl Into<String>, source: std::io::Error) -> ClockError {
        ClockError::Io { context: context.into(), source }
    }
}

/// Whether clock faults can run here: the thread-safe libfaketime and the tools of the launch wrapper.
pub fn faketime_available() -> Result<(), ClockError> {
    faketime_library()?;
    for tool in ["sh", "flock", "date", "mv"] {
        if !on_path(tool) {
            return Err(ClockError::NotInstalled { why: format!("`{tool}` is not on PATH") });
        }
    }
    Ok(())
}

/// The path of `libfaketimeMT.so.1`, in Debian's multiarch directory or under `/usr/local`.
pub fn faketime_library() -> Result<PathBuf, ClockError> {
    let debian = PathBuf::from(format!("/usr/lib/{}-linux-gnu/faketime", std::env::consts::ARCH));
    let candidates = [debian, PathBuf::from(LOCAL_LIBRARY_DIR)].map(|dir| dir.join(LIBRARY_FILE));
    candidates.iter().find(|path| path.is_file()).cloned().ok_or_else(|| ClockError::NotInstalled {
        why: format!("none of {} exists", candidates.map(|path| path.display().to_string()).join(", ")),
    })
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// A node's clock as a line through one anchor point: at real time `anchor_real_unix_us` the node's wall clock
/// read `anchor_fake_unix_us`, and it advances `rate_ppm` millionths of a microsecond per real microsecond. The
/// node's monotonic clock advances at the same rate (its value counts from the fake wall-clock time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockModel {
    /// The anchor's real (host) time, microseconds since the Unix epoch.
    pub anchor_real_unix_us: i64,
    /// The node's wall clock at the anchor, microseconds since the Unix epoch.
    pub anchor_fake_unix_us: i64,
    /// Node microseconds per million real microseconds.
    pub rate_ppm: u32,
}

impl ClockModel {
    /// A clock that agrees with the host's: rate 1, no offset.
    pub fn real(now_unix_us: i64) -> ClockModel {
        ClockModel { anchor_real_unix_us: now_unix_us, anchor_fake_unix_us: now_unix_us, rate_ppm: PPM as u32 }
    }

    /// The node's wall clock (microseconds since the epoch) when the host's reads `real_unix_us`. Rounds toward
    /// zero like the wrapper's shell arithmetic.
    pub fn fake_unix_us_at(&self, real_unix_us: i64) -> i64 {
        let elapsed_us = i128::from(real_unix_us - self.anchor_real_unix_us);
        let advanced_us = elapsed_us * i128::from(self.rate_ppm) / i128::from(PPM);
        self.anchor_fake_unix_us + i64::try_from(advanced_us).expect("clock spans fit in i64 microseconds")
    }

    /// How far the node's wall clock is ahead of the host's (negative: behind) at `real_unix_us`.
    pub fn offset_us_at(&self, real_unix_us: i64) -> i64 {
        self.fake_unix_us_at(real_unix_us) - real_unix_us
    }

    /// The rate as a factor (1.0: real time).
    pub fn rate(&self) -> f64 {
        f64::from(self.rate_ppm) / PPM as f64
    }

    /// The libfaketime spec that starts this line at the anchor when parsed at the anchor's real time.
    fn spec(&self) -> String {
        let fake_us = self.anchor_fake_unix_us;
        assert!(fake_us > 0, "a node's clock stays after the epoch: {fake_us} µs");
        let rate_ppm = i64::from(self.rate_ppm);
        format!("@{}.{:06} x{}.{:06}\n", fake_us / PPM, fake_us % PPM, rate_ppm / PPM, rate_ppm % PPM)
    }

    fn model_line(&self) -> String {
        format!("{} {} {}\n", self.anchor_real_unix_us, self.anchor_fake_unix_us, self.rate_ppm)
    }
}

/// One change of a node's clock, for the fault log and for checking it from outside (sample the node's own
/// clock and compare with [`ClockModel::fake_unix_us_at`] of `after`, or its rate with `after.rate()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockChange {
    /// The real second boundary the change took effect at (the node's first clock call after it), µs since epoch.
    pub effective_unix_us: i64,
    /// The clock line before.
    pub before: ClockModel,
    /// The clock line from `effective_unix_us` on.
    pub after: ClockModel,
    /// The libfaketime spec written.
    pub spec: String,
}

impl fmt::Display for ClockChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset_ms = self.after.offset_us_at(self.effective_unix_us) as f64 / 1000.0;
        write!(
            f,
            "clock rate {:.3} -> {:.3} at unix_us {} (node clock {offset_ms:+.1} ms off real time)",
            self.before.rate(),
            self.after.rate(),
            self.effective_unix_us
        )
    }
}

/// The clock of one node: the directory holding its libfaketime spec, and the line the clock follows.
#[derive(Debug)]
pub struct ClockControl {
    dir: PathBuf,
    library: PathBuf,
    model: ClockModel,
}

impl ClockControl {
    /// A clock that agrees with the host's, kept in `dir` (created; files from an earlier run are replaced).
    pub fn new(dir: impl Into<PathBuf>) -> Result<ClockControl, ClockError> {
        let dir = dir.into();
        let library = faketime_library()?;
        std::fs::create_dir_all(&dir)
            .map_err(|source| ClockError::io(format!("creating {}", dir.display()), source))?;
        let control = ClockControl { dir, library, model: ClockModel::real(unix_us_now()?) };
        control.write(&control.model)?;
        Ok(control)
    }

    /// The words to put before the node's command line (after `ip netns exec NS`, which execs it with the
    /// environment intact; before it works too, `ip` then runs under libfaketime). The wrapper execs the node,
    /// so the spawned pid is the node's and the harness's signals reach it.
    pub fn command_prefix(&self) -> Vec<String> {
        let words = ["sh", "-c", WRAPPER, "dancu-clock"];
        let paths = [&self.dir, &self.library].map(|path| path.display().to_string());
        words.into_iter().map(str::to_string).chain(paths).collect()
    }

    /// Runs the node's clocks at `rate` (1.0: real speed) from the next real second boundary on, continuing from
    /// where they are (no jump). Blocks the thread until the node has re-read its spec, 0.2 to 1.2 s (from async
    /// code, call it through `spawn_blocking` or `block_in_place`).
    pub fn set_rate(&mut self, rate: f64) -> Result<ClockChange, ClockError> {
        let rate_ppm = rate_ppm(rate)?;
        self.change(|model, boundary_us| ClockModel {
            anchor_real_unix_us: boundary_us,
            anchor_fake_unix_us: model.fake_unix_us_at(boundary_us),
            rate_ppm,
        })
    }

    /// Back to real speed, keeping the offset gathered so far (removing it would be a jump). Does nothing at
    /// rate 1.
    pub fn reset(&mut self) -> Result<(), ClockError> {
        if self.model.rate_ppm == PPM as u32 {
            return Ok(());
        }
        self.set_rate(1.0).map(drop)
    }

    /// A deliberate jump, a different fault from a rate change: both clocks move by `by_ms` at the next second
    /// boundary, the monotonic clock too — backwards for a negative jump, which no kernel does to
    /// `CLOCK_MONOTONIC`. The rate stays.
    pub fn jump(&mut self, by_ms: i64) -> Result<ClockChange, ClockError> {
        if by_ms.abs() > JUMP_MS_MAX {
            return Err(ClockError::JumpOutOfRange { by_ms });
        }
        self.change(|model, boundary_us| ClockModel {
            anchor_real_unix_us: boundary_us,
            anchor_fake_unix_us: model.fake_unix_us_at(boundary_us) + by_ms * 1000,
            rate_ppm: model.rate_ppm,
        })
    }

    /// The line the node's clock follows now.
    pub fn model(&self) -> ClockModel {
        self.model
    }

    /// The directory of the spec, the model and the lock.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the line `next` computes for the coming second boundary ahead of it, retrying at a later boundary
    /// when the write lands late.
    fn change(&mut self, next: impl Fn(&ClockModel, i64) -> ClockModel) -> Result<ClockChange, ClockError> {
        for attempt in 1..=ATTEMPTS_MAX {
            let boundary_us = wait_for_write_point()?;
            let after = next(&self.model, boundary_us);
            self.write(&after)?;
            let written_us = unix_us_now()?;
            if written_us < boundary_us {
                let before = std::mem::replace(&mut self.model, after);
                sleep_until(boundary_us + duration_us(SETTLE))?;
                return Ok(ClockChange { effective_unix_us: boundary_us, before, after, spec: after.spec() });
            }
            // Late: a busy node re-read the old spec at the boundary and will read this one a second later. The
            // next attempt anchors on the old line again, which is what that node still follows.
            tracing::warn!(attempt, boundary_us, written_us, "clock spec written after its second boundary");
            if attempt == ATTEMPTS_MAX {
                self.model = after;
            }
        }
        Err(ClockError::LateWrite { attempts: ATTEMPTS_MAX })
    }

    /// Replaces the model and the spec together, under the lock the launch wrapper takes.
    fn write(&self, model: &ClockModel) -> Result<(), ClockError> {
        let _lock = self.lock()?;
        self.replace(MODEL_FILE, &model.model_line())?;
        self.replace(SPEC_FILE, &model.spec())
    }

    fn lock(&self) -> Result<Flock<File>, ClockError> {
        let path = self.dir.join(LOCK_FILE);
        let context = || format!("locking {}", path.display());
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| ClockError::io(context(), source))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| ClockError::io(context(), errno.into()))
    }

    /// Writes `contents` to a temporary file and renames it over `name`, so libfaketime never reads half a spec.
    fn replace(&self, name: &str, contents: &str) -> Result<(), ClockError> {
        let path = self.dir.join(name);
        let temporary = self.dir.join(format!("{name}.harness-tmp"));
        std::fs::write(&temporary, contents)
            .map_err(|source| ClockError::io(format!("writing {}", temporary.display()), source))?;
        std::fs::rename(&temporary, &path)
            .map_err(|source| ClockError::io(format!("replacing {}", path.display()), source))
    }
}

impl Drop for ClockControl {
    /// Removes libfaketime's shared-memory leftovers of the last node process (harmless if it still runs: the
    /// objects are only for sharing a start time with child processes).
    fn drop(&mut self) {
        let Ok(pid) = std::fs::read_to_string(self.dir.join(PID_FILE)) else {
            return;
        };
        let pid = pid.trim();
        for name in [format!("faketime_shm_{pid}"), format!("sem.faketime_sem_{pid}")] {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(name));
        }
    }
}

fn rate_ppm(rate: f64) -> Result<u32, ClockError> {
    let ppm = (rate * PPM as f64).round();
    if !(f64::from(RATE_PPM_MIN)..=f64::from(RATE_PPM_MAX)).contains(&ppm) {
        return Err(ClockError::RateOutOfRange { rate });
    }
    // In range, so the conversion is exact.
    Ok(ppm as u32)
}

/// Sleeps until [`WRITE_LEAD`] before the next real second boundary that leaves at least [`WRITE_LEAD_MIN`] to
/// write in, and returns that boundary.
fn wait_for_write_point() -> Result<i64, ClockError> {
    let now_us = unix_us_now()?;
    let mut boundary_us = (now_us / PPM + 1) * PPM;
    if boundary_us - now_us < duration_us(WRITE_LEAD) {
        boundary_us += PPM;
    }
    sleep_until(boundary_us - duration_us(WRITE_LEAD))?;
    if boundary_us - unix_us_now()? < duration_us(WRITE_LEAD_MIN) {
        boundary_us += PPM;
        sleep_until(boundary_us - duration_us(WRITE_LEAD))?;
    }
    Ok(boundary_us)
}

/// Sleeps until the host's wall clock reads `target_unix_us` (bounded: a clock stepped back far stops the wait
/// after a few rounds rather than hanging).
fn sleep_until(target_unix_us: i64) -> Result<(), ClockError> {
    for _ in 0..4 {
        let remaining_us = target_unix_us - unix_us_now()?;
        if remaining_us <= 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(remaining_us.unsigned_abs()).min(Duration::from_secs(2)));
    }
    Ok(())
}

fn unix_us_now() -> Result<i64, ClockError> {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| ClockError::BeforeEpoch)?;
    Ok(i64::try_from(since_epoch.as_micros()).expect("the Unix time in microseconds fits in i64"))
}

fn duration_us(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).expect("the module's durations fit in i64 microseconds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_advances_at_its_rate_from_its_anchor() {
        let model = ClockModel { anchor_real_unix_us: 1_000_000, anchor_fake_unix_us: 5_000_000, rate_ppm: 2_000_000 };
        assert_eq!(model.fake_unix_us_at(1_000_000), 5_000_000);
        assert_eq!(model.fake_unix_us_at(1_500_000), 6_000_000);
        assert_eq!(model.fake_unix_us_at(500_000), 4_000_000);
        assert_eq!(model.offset_us_at(1_500_000), 4_500_000);
        assert_eq!(model.rate(), 2.0);
    }

    #[test]
    fn the_spec_starts_the_line_at_its_anchor() {
        let model =
            ClockModel { anchor_real_unix_us: 0, anchor_fake_unix_us: 1_796_643_176_000_042, rate_ppm: 1_020_000 };
        assert_eq!(model.spec(), "@1796643176.000042 x1.020000\n");
        assert_eq!(model.model_line(), "0 1796643176000042 1020000\n");
    }

    #[test]
    fn rates_outside_the_bounds_are_refused() {
        assert_eq!(rate_ppm(1.02).unwrap(), 1_020_000);
        assert_eq!(rate_ppm(0.1).unwrap(), RATE_PPM_MIN);
        assert_eq!(rate_ppm(10.0).unwrap(), RATE_PPM_MAX);
        for rate in [0.0, -1.0, 0.05, 10.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(rate_ppm(rate), Err(ClockError::RateOutOfRange { .. })), "{rate}");
        }
    }

    #[test]
    fn the_prefix_ends_with_the_directory_and_the_library() {
        let control = ClockControl {
            dir: PathBuf::from("/tmp/clock dir"),
            library: PathBuf::from("/lib/libfaketimeMT.so.1"),
            model: ClockModel::real(1),
        };
        let prefix = control.command_prefix();
        assert_eq!(prefix[..2], ["sh", "-c"]);
        assert_eq!(prefix[3..], ["dancu-clock", "/tmp/clock dir", "/lib/libfaketimeMT.so.1"]);
    }
}
