//! Exponential backoff with jitter, bounded by the caller's deadline.

use std::time::{Duration, Instant};

/// The first backoff step.
pub(crate) const BACKOFF_INITIAL: Duration = Duration::from_millis(20);
/// The largest backoff step. Small, because the usual cause of a retry is a leader change, over within a
/// second: a longer step would add its own wait to the failover the caller sees.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_millis(160);
/// An attempt given less time than this cannot succeed, so the loop stops instead of sleeping into the deadline.
pub(crate) const ATTEMPT_DURATION_MIN: Duration = Duration::from_millis(10);
/// Doublings after which the step stays at `BACKOFF_MAX` (20 ms × 2^3 = 160 ms); keeps the shift bounded.
const BACKOFF_DOUBLINGS_MAX: u32 = 3;

const _: () = assert!(BACKOFF_INITIAL.as_millis() < BACKOFF_MAX.as_millis());
const _: () = assert!(BACKOFF_INITIAL.as_millis() << BACKOFF_DOUBLINGS_MAX >= BACKOFF_MAX.as_millis());

/// The delay before retry number `attempt_idx` (0-based): "equal jitter", half fixed and half random, so
/// retries spread out but never collapse to zero. `jitter_unit` is a random number in `[0, 1)`.
pub(crate) fn backoff_delay(attempt_idx: u32, jitter_unit: f64) -> Duration {
    assert!((0.0..1.0).contains(&jitter_unit), "jitter must be in [0, 1)");
    let step = BACKOFF_INITIAL.saturating_mul(1 << attempt_idx.min(BACKOFF_DOUBLINGS_MAX)).min(BACKOFF_MAX);
    let half = step / 2;
    half + half.mul_f64(jitter_unit)
}

/// Backoff state of one call.
#[derive(Debug)]
pub(crate) struct Backoff {
    deadline: Instant,
    attempt_idx: u32,
}

impl Backoff {
    pub(crate) fn new(deadline: Instant) -> Backoff {
        Backoff { deadline, attempt_idx: 0 }
    }

    /// How long to sleep before the next attempt, or `None` when the deadline leaves no room for one. The delay
    /// is cut short rather than skipped when the deadline is near, so the last attempt still happens.
    /// No shorter than `floor` (a server's retry hint; zero without one) plus up to half of it again, so callers
    /// refused together do not come back together.
    pub(crate) fn next_delay(&mut self, now: Instant, jitter_unit: f64, floor: Duration) -> Option<Duration> {
        let remaining = self.deadline.saturating_duration_since(now);
        if remaining <= ATTEMPT_DURATION_MIN {
            return None;
        }
        let hinted = floor + (floor / 2).mul_f64(jitter_unit);
        let delay = backoff_delay(self.attempt_idx, jitter_unit).max(hinted).min(remaining - ATTEMPT_DURATION_MIN);
        self.attempt_idx = self.attempt_idx.saturating_add(1);
        assert!(now + delay + ATTEMPT_DURATION_MIN <= self.deadline);
        Some(delay)
    }

    /// Time left until the deadline.
    pub(crate) fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        assert_eq!(backoff_delay(0, 0.0), Duration::from_millis(10));
        assert_eq!(backoff_delay(1, 0.0), Duration::from_millis(20));
        assert_eq!(backoff_delay(30, 0.0), BACKOFF_MAX / 2);
        assert!(backoff_delay(30, 0.999) < BACKOFF_MAX);
        for attempt_idx in 0..100 {
            assert!(backoff_delay(attempt_idx, 0.5) <= BACKOFF_MAX);
        }
    }

    /// Simulated time: sleeping every delay the backoff hands out, plus each attempt's own cost, never passes the
    /// deadline, and the loop ends.
    #[test]
    fn backoff_stays_within_deadline() {
        let seed: u64 = std::env::var("DANCU_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
        println!("seed {seed}");
        let mut rng_state = seed;
        for deadline_ms in [0u64, 5, 10, 11, 50, 100, 999, 1000, 3000, 10_000] {
            let start = Instant::now();
            let deadline = start + Duration::from_millis(deadline_ms);
            let mut backoff = Backoff::new(deadline);
            let mut now = start;
            let mut n_attempts = 0u32;
            while let Some(delay) = backoff.next_delay(now, next_unit(&mut rng_state), Duration::ZERO) {
                now += delay;
                assert!(now <= deadline, "slept past the deadline ({deadline_ms} ms)");
                // Each attempt costs a little time; it never costs more than what is left.
                now += backoff.remaining(now).min(Duration::from_millis(3));
                n_attempts += 1;
                assert!(n_attempts < 10_000, "backoff never gave up");
            }
            assert!(now <= deadline);
            if deadline_ms >= 1000 {
                assert!(n_attempts >= 5, "too few retries in {deadline_ms} ms: {n_attempts}");
            }
        }
    }

    #[test]
    fn a_retry_hint_sets_the_least_delay_within_the_deadline() {
        let start = Instant::now();
        let mut backoff = Backoff::new(start + Duration::from_secs(10));
        let floor = Duration::from_millis(200);
        for jitter in [0.0, 0.5, 0.999] {
            let delay = backoff.next_delay(start, jitter, floor).expect("room for a retry");
            assert!(delay >= floor && delay < floor * 3 / 2, "{delay:?}");
        }
        let mut short = Backoff::new(start + Duration::from_millis(100));
        let delay = short.next_delay(start, 0.5, floor).expect("room for one more attempt");
        assert!(delay + ATTEMPT_DURATION_MIN <= Duration::from_millis(100), "the deadline still bounds it: {delay:?}");
    }

    /// A small deterministic generator (SplitMix64) so the test replays from its seed.
    fn next_unit(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}
