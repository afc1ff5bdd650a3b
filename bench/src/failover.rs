//! Failover under write load, the same way for every system: writers keep writing; the leader of what they
//! write is killed; recovery is the time from the kill until the first write *started after the kill* succeeds.
//! The killed member is restarted and the system left to settle before the next kill.
//!
//! Counting only writes started after the kill keeps a reply that was already on its way from the old leader
//! from passing for a recovery.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dancu_client::bench::Operation;
use rand::SeedableRng;
use tokio::task::JoinSet;

use crate::results::Failover;
use crate::CompareError;

/// Concurrent writers during a failover measurement.
pub const WRITERS: usize = 8;
/// Longest a system may take to accept writes again before the measurement gives up.
pub const RECOVERY_MAX: Duration = Duration::from_secs(30);
/// Longest a restarted member may take to rejoin, with almost no data.
const SETTLE_BASE: Duration = Duration::from_secs(60);
/// Added per million loaded records: a member restarted on a big data set replays or receives more.
const SETTLE_PER_MILLION: Duration = Duration::from_secs(120);

/// How long a restarted member of a system holding `records` may take to rejoin.
pub fn settle_max(records: u64) -> Duration {
    SETTLE_BASE + SETTLE_PER_MILLION.mul_f64(records as f64 / 1_000_000.0)
}
const POLL: Duration = Duration::from_millis(2);

/// A system whose leader can be found, killed and brought back.
pub trait FailoverTarget {
    /// The member (an index the target understands) that leads what the writers write to.
    fn leader(&mut self) -> impl Future<Output = Result<usize, CompareError>>;
    /// SIGKILLs the member.
    fn kill(&mut self, member: usize) -> Result<(), CompareError>;
    /// Starts the killed member again on its data.
    fn restart(&mut self, member: usize) -> Result<(), CompareError>;
    /// Returns once every member is up and the system has a leader for what the writers write to, or times out
    /// after `time_max`.
    fn wait_settled(&mut self, time_max: Duration) -> impl Future<Output = Result<(), CompareError>>;
}

/// One write's start, end and outcome.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    started: Instant,
    ended: Instant,
    ok: bool,
}

/// Kills `target`'s leader `kills` times while [`WRITERS`] loops send `write` (each request should give up
/// within a few hundred milliseconds so a writer stuck on the dead member moves on).
///
/// A system that does not recover within [`RECOVERY_MAX`], or whose restarted member does not rejoin within
/// `settle_max`, is a failover result, not a broken run: the kills measured so far are kept (a recovery that
/// timed out counts as [`RECOVERY_MAX`]) and `incomplete` says what did not happen.
pub async fn measure<T: FailoverTarget, W: Operation>(
    target: &mut T,
    write: Arc<W>,
    kills: usize,
    settle_max: Duration,
) -> Result<Failover, CompareError> {
    let attempts: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = JoinSet::new();
    for loop_idx in 0..WRITERS {
        let (write, attempts, stop) = (write.clone(), attempts.clone(), stop.clone());
        writers.spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(loop_idx as u64);
            let mut op_idx = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let ok = write.execute(&mut rng, loop_idx, op_idx).await.is_ok();
                let attempt = Attempt { started, ended: Instant::now(), ok };
                attempts.lock().expect("no writer panics holding the lock").push(attempt);
                op_idx += 1;
                if !ok {
                    // A refused connection fails at once: don't spin on it.
                    tokio::time::sleep(POLL).await;
                }
            }
        });
    }
    let mut recoveries_ms = Vec::with_capacity(kills);
    let outcome = kill_repeatedly(target, &attempts, kills, settle_max, &mut recoveries_ms).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let incomplete = match outcome {
        Ok(()) => None,
        Err(error @ CompareError::Timeout { .. }) => {
            tracing::warn!("failover measurement incomplete after {} kills: {error}", recoveries_ms.len());
            Some(error.to_string())
        }
        Err(error) => return Err(error),
    };
    Ok(Failover { incomplete, ..summarize(recoveries_ms) })
}

async fn kill_repeatedly<T: FailoverTarget>(
    target: &mut T,
    attempts: &Mutex<Vec<Attempt>>,
    kills: usize,
    settle_max: Duration,
    recoveries_ms: &mut Vec<f64>,
) -> Result<(), CompareError> {
    for _ in 0..kills {
        target.wait_settled(settle_max).await?;
        wait_for_success_after(attempts, Instant::now()).await?;
        let leader = target.leader().await?;
        let killed_at = Instant::now();
        target.kill(leader)?;
        let recovered = wait_for_success_after(attempts, killed_at).await;
        let recovered_ms = match &recovered {
            Ok(recovered_at) => (*recovered_at - killed_at).as_secs_f64() * 1_000.0,
            Err(_) => RECOVERY_MAX.as_secs_f64() * 1_000.0,
        };
        recoveries_ms.push(recovered_ms);
        target.restart(leader)?;
        recovered?;
    }
    target.wait_settled(settle_max).await
}

/// When the first write started at or after `since` succeeded.
async fn wait_for_success_after(attempts: &Mutex<Vec<Attempt>>, since: Instant) -> Result<Instant, CompareError> {
    let give_up = since + RECOVERY_MAX;
    loop {
        let found = {
            let attempts = attempts.lock().expect("no writer panics holding the lock");
            attempts.iter().filter(|attempt| attempt.ok && attempt.started >= since).map(|attempt| attempt.ended).min()
        };
        if let Some(ended) = found {
            return Ok(ended);
        }
        if Instant::now() >= give_up {
            return Err(CompareError::Timeout {
                what: "a successful write after the leader was killed".to_string(),
                seconds: RECOVERY_MAX.as_secs_f64(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Percentiles by nearest rank over the recoveries.
pub fn summarize(recoveries_ms: Vec<f64>) -> Failover {
    let mut sorted = recoveries_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let rank = |quantile: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let idx = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[idx]
    };
    Failover { p50_ms: rank(0.50), p99_ms: rank(0.99), max_ms: rank(1.0), recoveries_ms, incomplete: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let failover = summarize(vec![500.0, 100.0, 300.0, 200.0, 400.0, 600.0, 700.0, 800.0, 900.0, 1_000.0]);
        assert_eq!(failover.p50_ms, 500.0);
        assert_eq!(failover.p99_ms, 1_000.0);
        assert_eq!(failover.max_ms, 1_000.0);
        assert_eq!(summarize(Vec::new()).p99_ms, 0.0);
    }

    /// A fake system: writes fail from the kill until `down_for` later.
    struct Fake {
        down_until: Arc<Mutex<Option<Instant>>>,
        down_for: Duration,
        kills: usize,
        /// After this many kills the restarted member never rejoins.
        never_settles_after: Option<usize>,
    }

    struct FakeWrite(Arc<Mutex<Option<Instant>>>);

    /// A fake down for `down_for` after each kill, and the writes that see it.
    fn fake(down_for: Duration, never_settles_after: Option<usize>) -> (Fake, Arc<FakeWrite>) {
        let down_until = Arc::new(Mutex::new(None));
        let write = Arc::new(FakeWrite(down_until.clone()));
        (Fake { down_until, down_for, kills: 0, never_settles_after }, write)
    }

    impl Operation for FakeWrite {
        async fn execute(&self, _: &mut rand::rngs::StdRng, _: usize, _: u64) -> Result<(), String> {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let down = self.0.lock().unwrap().is_some_and(|until| Instant::now() < until);
            if down {
                Err("leader down".to_string())
            } else {
                Ok(())
            }
        }
    }

    impl FailoverTarget for Fake {
        async fn leader(&mut self) -> Result<usize, CompareError> {
            Ok(0)
        }
        fn kill(&mut self, _: usize) -> Result<(), CompareError> {
            self.kills += 1;
            *self.down_until.lock().unwrap() = Some(Instant::now() + self.down_for);
            Ok(())
        }
        fn restart(&mut self, _: usize) -> Result<(), CompareError> {
            Ok(())
        }
        async fn wait_settled(&mut self, time_max: Duration) -> Result<(), CompareError> {
            match self.never_settles_after {
                Some(n) if self.kills >= n => {
                    Err(CompareError::Timeout { what: "the fake settling".into(), seconds: time_max.as_secs_f64() })
                }
                _ => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn recovery_is_at_least_the_outage_and_counts_every_kill() {
        let (mut fake, write) = fake(Duration::from_millis(150), None);
        let failover = measure(&mut fake, write, 3, settle_max(0)).await.unwrap();
        assert_eq!(fake.kills, 3);
        assert_eq!(failover.recoveries_ms.len(), 3);
        assert!(failover.recoveries_ms.iter().all(|&ms| (150.0..1_000.0).contains(&ms)), "{failover:?}");
        assert_eq!(failover.incomplete, None);
    }

    #[tokio::test]
    async fn a_member_that_never_rejoins_keeps_the_kills_measured_and_says_so() {
        let (mut fake, write) = fake(Duration::from_millis(50), Some(2));
        let failover = measure(&mut fake, write, 10, settle_max(0)).await.unwrap();
        assert_eq!(fake.kills, 2, "no kill after the member failed to rejoin");
        assert_eq!(failover.recoveries_ms.len(), 2);
        let incomplete = failover.incomplete.expect("the run says the measurement stopped early");
        assert!(incomplete.contains("the fake settling"), "{incomplete}");
    }

    #[test]
    fn the_settle_bound_grows_with_the_data() {
        assert_eq!(settle_max(0), Duration::from_secs(60));
        assert_eq!(settle_max(1_000_000), Duration::from_secs(180));
    }
}
