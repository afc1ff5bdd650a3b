//! Clock-rate faults against the real libfaketime: a probe process started under
//! [`ClockControl::command_prefix`] prints its faked monotonic and wall clocks next to the real ones (read with a
//! raw `syscall`, which libfaketime does not intercept), every few milliseconds. The tests check that a rate
//! change shows at the rate set, on both clocks, without a jump at either switch; that rates far from 1 show; that
//! a restarted process continues the clock line; that a deliberate jump moves the clocks by its amount; and that
//! the prefix execs the program.
//!
//! libfaketime is required: `make deps` installs it (Debian package `faketime`). These tests fail without it
//! rather than skip, since a skipped test proves nothing.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dancu_jepsen::clock::{faketime_available, ClockChange, ClockControl, ClockModel};

/// Prints `real_mono_us fake_mono_us fake_wall_us real_wall_us` every 5 ms (of its own, faked, time).
const PROBE: &str = r#"
import ctypes, os, time
SYS_CLOCK_GETTIME = {"x86_64": 228, "aarch64": 113}[os.uname().machine]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
class Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
def real_us(clock):
    ts = Timespec()
    if libc.syscall(ctypes.c_long(SYS_CLOCK_GETTIME), ctypes.c_long(clock), ctypes.byref(ts)) != 0:
        raise OSError(ctypes.get_errno(), "clock_gettime")
    return ts.sec * 1000000 + ts.nsec // 1000
while True:
    print(real_us(1), time.monotonic_ns() // 1000, time.time_ns() // 1000, real_us(0), flush=True)
    time.sleep(0.005)
"#;

/// Time for the probe to start and print, or to print past a point in time, on a loaded machine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a rate is held for measuring it.
const HOLD: Duration = Duration::from_millis(1200);

/// A measured rate this close to the one set confirms it. Both clocks are read back to back inside the probe, so
/// load only thins the samples; the error is libfaketime's and well under this.
const RATE_TOLERANCE: f64 = 0.01;

/// Shortest stretch of samples a rate is measured over. The clocks are read together, so the rate comes out
/// exact from any two samples; the stretch guards against measuring nothing.
const WINDOW_US_MIN: i64 = 100_000;

/// How far the probe's clocks may be off the harness's model beyond the pause it is owed: the time from a switch
/// to the probe's first clock call after it, at most the largest gap between two samples (times the rate).
const DEVIATION_US_MAX: i64 = 20_000;

/// One line of the probe: its clocks, read back to back, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Sample {
    real_mono_us: i64,
    fake_mono_us: i64,
    fake_wall_us: i64,
    real_wall_us: i64,
}

/// A probe process, killed and reaped on drop.
struct Probe {
    child: Child,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Probe {
    /// Starts the probe under the control's prefix and waits for its first sample.
    fn start(control: &ClockControl) -> Probe {
        let prefix = control.command_prefix();
        let mut child = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(["python3", "-c", PROBE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawning the probe");
        let stdout = child.stdout.take().expect("the probe's stdout is piped");
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&samples);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().extend(parse(&line));
            }
        });
        let probe = Probe { child, samples };
        probe.wait_past(0);
        probe
    }

    fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Waits (polling, with a deadline) until the probe has printed a sample taken at or after `real_wall_us`.
    fn wait_past(&self, real_wall_us: i64) -> Vec<Sample> {
        let deadline = Instant::now() + PROBE_TIMEOUT;
        loop {
            let samples = self.samples();
            if samples.last().is_some_and(|last| last.real_wall_us >= real_wall_us) {
                return samples;
            }
            assert!(Instant::now() < deadline, "the probe printed nothing after {real_wall_us}: {samples:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sample from a line of four integers; `None` for anything else (the probe may be killed mid-line).
fn parse(line: &str) -> Option<Sample> {
    let fields: Vec<i64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    let [real_mono_us, fake_mono_us, fake_wall_us, real_wall_us] = fields[..] else {
        return None;
    };
    Some(Sample { real_mono_us, fake_mono_us, fake_wall_us, real_wall_us })
}

/// Fails with the remedy when libfaketime is missing.
fn control() -> (tempfile::TempDir, ClockControl) {
    if let Err(why) = faketime_available() {
        panic!("{why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let control = ClockControl::new(dir.path().join("clock")).unwrap();
    (dir, control)
}

fn unix_us_now() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_micros()).unwrap()
}

/// The clock line in effect at each real time: the initial model, then each change's from its boundary on.
struct Timeline {
    initial: ClockModel,
    changes: Vec<ClockChange>,
}

impl Timeline {
    fn at(&self, real_wall_us: i64) -> ClockModel {
        let later = self.changes.iter().rev().find(|change| change.effective_unix_us <= real_wall_us);
        later.map_or(self.initial, |change| change.after)
    }

    fn rate_max(&self) -> f64 {
        self.changes.iter().map(|change| change.after.rate()).fold(self.initial.rate(), f64::max)
    }
}

/// Rates of the monotonic and the wall clock between the first and the last sample in `[from_us, to_us)` of
/// real time.
fn rates_between(samples: &[Sample], from_us: i64, to_us: i64) -> (f64, f64) {
    let inside: Vec<&Sample> = samples.iter().filter(|s| (from_us..to_us).contains(&s.real_wall_us)).collect();
    let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
        panic!("no samples between {from_us} and {to_us}");
    };
    let span_us = last.real_wall_us - first.real_wall_us;
    assert!(span_us >= WINDOW_US_MIN, "samples between {from_us} and {to_us} span only {span_us} µs");
    let mono = (last.fake_mono_us - first.fake_mono_us) as f64 / (last.real_mono_us - first.real_mono_us) as f64;
    let wall = (last.fake_wall_us - first.fake_wall_us) as f64 / (last.real_wall_us - first.real_wall_us) as f64;
    (mono, wall)
}

fn check_rates(samples: &[Sample], from_us: i64, to_us: i64, expected: f64) {
    let (mono, wall) = rates_between(samples, from_us, to_us);
    eprintln!("rate {expected}: monotonic measured {mono:.4}, wall {wall:.4}");
    assert!((mono - expected).abs() < RATE_TOLERANCE, "monotonic clock ran at {mono}, not {expected}");
    assert!((wall - expected).abs() < RATE_TOLERANCE, "wall clock ran at {wall}, not {expected}");
}

/// No clock ever runs backwards, and both stay on the model: never ahead of it by more than
/// [`DEVIATION_US_MAX`], never behind by more than that plus the pauses owed: to the gaps between samples (a
/// change applies at the probe's first clock call after its boundary), and to a fresh start
/// (`start_delay_us` × (rate − 1): the line counts from the library's load, which follows the wrapper's reading).
fn check_continuous(samples: &[Sample], timeline: &Timeline, start_delay_us: i64) {
    for pair in samples.windows(2) {
        assert!(pair[1].fake_mono_us >= pair[0].fake_mono_us, "monotonic clock went backwards: {pair:?}");
        assert!(pair[1].fake_wall_us >= pair[0].fake_wall_us, "wall clock went backwards: {pair:?}");
    }
    let gap_us_max = samples.windows(2).map(|pair| pair[1].real_wall_us - pair[0].real_wall_us).max().unwrap();
    let pause_us_max = (gap_us_max as f64 * timeline.rate_max()) as i64
        + (start_delay_us as f64 * (timeline.rate_max() - 1.0).max(0.0)) as i64;
    let (mut behind_us_max, mut ahead_us_max) = (0, 0);
    for sample in samples {
        let expected = timeline.at(sample.real_wall_us).fake_unix_us_at(sample.real_wall_us);
        for deviation in [sample.fake_wall_us - expected, sample.fake_mono_us - expected] {
            behind_us_max = behind_us_max.max(-deviation);
            ahead_us_max = ahead_us_max.max(deviation);
        }
    }
    eprintln!(
        "clocks vs model: at most {ahead_us_max} µs ahead, {behind_us_max} µs behind (pause owed {pause_us_max})"
    );
    assert!(ahead_us_max <= DEVIATION_US_MAX, "a clock jumped ahead of the model by {ahead_us_max} µs");
    assert!(behind_us_max <= DEVIATION_US_MAX + pause_us_max, "a clock fell behind the model by {behind_us_max} µs");
}

#[test]
fn a_rate_change_shows_on_both_clocks_without_a_jump() {
    let (_dir, mut control) = control();
    let initial = control.model();
    let probe = Probe::start(&control);
    let fast = control.set_rate(2.0).unwrap();
    std::thread::sleep(HOLD);
    let back = control.set_rate(1.0).unwrap();
    let samples = probe.wait_past(back.effective_unix_us + 500_000);
    check_rates(&samples, 0, fast.effective_unix_us, 1.0);
    check_rates(&samples, fast.effective_unix_us, back.effective_unix_us, 2.0);
    check_rates(&samples, back.effective_unix_us, i64::MAX, 1.0);
    let gained_us = back.effective_unix_us - fast.effective_unix_us;
    assert_eq!(back.after.offset_us_at(back.effective_unix_us), gained_us, "the model gains the fast time once");
    check_continuous(&samples, &Timeline { initial, changes: vec![fast, back] }, 0);
}

#[test]
fn rates_far_from_one_show() {
    let (_dir, mut control) = control();
    let initial = control.model();
    let probe = Probe::start(&control);
    let fast = control.set_rate(3.0).unwrap();
    std::thread::sleep(HOLD);
    let slow = control.set_rate(0.5).unwrap();
    std::thread::sleep(HOLD);
    let samples = probe.wait_past(unix_us_now());
    check_rates(&samples, fast.effective_unix_us, slow.effective_unix_us, 3.0);
    check_rates(&samples, slow.effective_unix_us, i64::MAX, 0.5);
    check_continuous(&samples, &Timeline { initial, changes: vec![fast, slow] }, 0);
}

#[test]
fn a_restarted_process_continues_the_clock_line_at_its_rate() {
    let (_dir, mut control) = control();
    let first = Probe::start(&control);
    let fast = control.set_rate(2.0).unwrap();
    std::thread::sleep(HOLD);
    first.wait_past(unix_us_now());
    drop(first);
    let restarted_at_us = unix_us_now();
    let second = Probe::start(&control);
    std::thread::sleep(HOLD);
    let samples: Vec<Sample> = second.wait_past(unix_us_now());
    let offset_us = samples[0].fake_wall_us - samples[0].real_wall_us;
    assert!(offset_us > 1_000_000, "the restarted process lost the offset gathered at rate 2: {offset_us} µs");
    check_rates(&samples, restarted_at_us, i64::MAX, 2.0);
    let start_delay_us = samples[0].real_wall_us - restarted_at_us;
    check_continuous(&samples, &Timeline { initial: fast.after, changes: Vec::new() }, start_delay_us);
    control.reset().unwrap();
    assert_eq!(control.model().rate_ppm, 1_000_000);
}

#[test]
fn a_jump_moves_both_clocks_by_its_amount() {
    let (_dir, mut control) = control();
    let initial = control.model();
    let probe = Probe::start(&control);
    let jump = control.jump(500).unwrap();
    let samples = probe.wait_past(jump.effective_unix_us + 300_000);
    assert_eq!(jump.after.offset_us_at(jump.effective_unix_us), 500_000);
    check_rates(&samples, jump.effective_unix_us, i64::MAX, 1.0);
    let across = samples.windows(2).find(|pair| pair[1].real_wall_us >= jump.effective_unix_us).unwrap();
    // The step is the jump less the pause between the boundary and the probe's first clock call after it.
    let real_us = across[1].real_mono_us - across[0].real_mono_us;
    let stepped_us = across[1].fake_mono_us - across[0].fake_mono_us - real_us;
    let expected_us = 500_000 - real_us - DEVIATION_US_MAX..=500_000 + DEVIATION_US_MAX;
    assert!(expected_us.contains(&stepped_us), "the monotonic clock stepped {stepped_us} µs, not 500 ms");
    let after: Vec<Sample> = samples.into_iter().filter(|s| s.real_wall_us >= jump.effective_unix_us).collect();
    check_continuous(&after, &Timeline { initial, changes: vec![jump] }, 0);
}

#[test]
fn the_prefix_execs_the_program_under_the_library_after_another_exec_prefix() {
    let (_dir, control) = control();
    // `env` stands in for `ip netns exec NS`: both exec the rest of the command line with the environment intact.
    let mut prefix = vec!["env".to_string(), "DANCU_OUTER_PREFIX=yes".to_string()];
    prefix.extend(control.command_prefix());
    let report =
        "import os; print(os.getpid(), os.environ['LD_PRELOAD'], os.environ['DANCU_OUTER_PREFIX'], flush=True)";
    let mut child = Command::new(&prefix[0])
        .args(&prefix[1..])
        .args(["python3", "-c", report])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], child.id().to_string(), "the program runs as the spawned pid, so signals reach it");
    assert!(words[1].ends_with("libfaketimeMT.so.1"), "{line}");
    assert_eq!(words[2], "yes");
    let pid_file = std::fs::read_to_string(control.dir().join("pid")).unwrap();
    assert_eq!(pid_file.trim(), words[0], "the wrapper records the node's pid for cleaning up after it");
}
