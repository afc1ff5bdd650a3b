//! How many bulk requests to keep in flight: TCP's congestion control, driven by the nodes' overload refusals. Slow
//! start (from a few requests, one more per answer, so doubling each round trip) until the first refusal, then
//! additive increase, multiplicative decrease. A bulk writer then sends as fast as the cluster durably takes its work
//! and no faster, instead of filling the nodes' queues until requests time out — and does not open with a burst of
//! its whole allowance onto a cluster that may already be busy.

use std::time::{Duration, Instant};

/// The window a writer starts with (or its allowance, when smaller).
const INITIAL: f64 = 4.0;
/// What a refusal leaves of the window (CUBIC's β): a node refuses bulk work for a moment (a saturated CPU window,
/// a full queue), so halving, as Reno does, gave up more throughput than the refusal asked for.
const DECREASE: f64 = 0.7;

#[derive(Debug)]
pub(crate) struct InFlightWindow {
    size: f64,
    max: f64,
    /// Below it the window doubles per round trip (slow start); above it, it grows by one per round trip. The
    /// allowance until the first refusal, then half the window at each refusal.
    threshold: f64,
    /// When the window last shrank: refusals within one round trip after it are the same congestion, already
    /// answered.
    shrunk_at: Option<Instant>,
}

impl InFlightWindow {
    pub(crate) fn new(max: usize) -> InFlightWindow {
        let max = max.max(1) as f64;
        InFlightWindow { size: INITIAL.min(max), max, threshold: max, shrunk_at: None }
    }

    /// Requests that may be in flight now (at least one).
    pub(crate) fn limit(&self) -> usize {
        self.size as usize
    }

    /// A request was answered without overload.
    pub(crate) fn on_answer(&mut self) {
        let step = if self.size < self.threshold { 1.0 } else { 1.0 / self.size };
        self.size = (self.size + step).min(self.max);
    }

    /// Nodes refused requests as overloaded; `round_trip` is how long a request takes now. Shrinks the window (by
    /// [`DECREASE`]) once per round trip.
    pub(crate) fn on_overload(&mut self, now: Instant, round_trip: Duration) {
        if self.shrunk_at.is_some_and(|at| now.duration_since(at) < round_trip) {
            return;
        }
        self.size = (self.size * DECREASE).max(1.0);
        self.threshold = self.size;
        self.shrunk_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_doubles_per_round_trip_up_to_the_allowance() {
        let mut window = InFlightWindow::new(64);
        assert_eq!(window.limit(), 4, "no opening burst");
        for _ in 0..4 {
            window.on_answer();
        }
        assert_eq!(window.limit(), 8, "one round trip of answers doubles it");
        for _ in 0..1_000 {
            window.on_answer();
        }
        assert_eq!(window.limit(), 64, "never above what the caller allows");
        assert_eq!(InFlightWindow::new(2).limit(), 2);
    }

    #[test]
    fn overload_shrinks_once_per_round_trip_and_answers_grow_it_back_slowly() {
        let mut window = InFlightWindow::new(100);
        for _ in 0..1_000 {
            window.on_answer();
        }
        let start = Instant::now();
        let round_trip = Duration::from_millis(100);
        window.on_overload(start, round_trip);
        assert_eq!(window.limit(), 70);
        window.on_overload(start + Duration::from_millis(50), round_trip);
        assert_eq!(window.limit(), 70, "the same congestion within one round trip");
        window.on_overload(start + Duration::from_millis(150), round_trip);
        assert_eq!(window.limit(), 49);
        // Additive increase now: about one more per window of answers.
        for _ in 0..25 {
            window.on_answer();
        }
        assert_eq!(window.limit(), 49, "half a window of answers");
        for _ in 0..35 {
            window.on_answer();
        }
        assert_eq!(window.limit(), 50, "a window and a bit");
    }

    #[test]
    fn the_window_never_closes() {
        let mut window = InFlightWindow::new(4);
        let start = Instant::now();
        for step in 0..20 {
            window.on_overload(start + Duration::from_secs(step), Duration::from_millis(1));
        }
        assert_eq!(window.limit(), 1);
        assert_eq!(InFlightWindow::new(0).limit(), 1);
    }
}
