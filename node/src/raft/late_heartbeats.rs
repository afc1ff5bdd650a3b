//! Late heartbeats are a measure, not an alarm.
//!
//! openraft waits one heartbeat interval for a follower's answer and warns when none came — in time or at all. A
//! follower answers a heartbeat only once its pending log writes are durable, so on a busy box an answer is now and
//! then later than the interval: the next heartbeat follows one interval later, and a follower starts an election
//! only after its election timeout (several intervals) without one. Logged as warnings, such heartbeats would bury
//! the failures an operator must see under thousands of lines during every import. This layer counts the late ones
//! (`Status.late_heartbeats`, and an info line per minute while they occur) and keeps them out of the log; a
//! heartbeat that failed for any other reason (connection refused, a peer of another cluster) is still a warning.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Where openraft reports a heartbeat that got no answer in time.
const HEARTBEAT_WORKER_TARGET: &str = "openraft::core::heartbeat::worker";
const FAILED_HEARTBEAT: &str = "failed to send a heartbeat";
/// How a missing answer reads: openraft's own timeout (`Elapsed`), or the RPC's (tonic: "Timeout expired"; a server:
/// deadline exceeded).
const LATE_MARKERS: [&str; 3] = ["Elapsed", "Timeout expired", "DeadlineExceeded"];
/// How often the count is summarized in the log while it grows.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Heartbeats this process's leaders sent that were not answered within the heartbeat interval.
static LATE_HEARTBEATS: AtomicU64 = AtomicU64::new(0);

pub fn count() -> u64 {
    LATE_HEARTBEATS.load(Ordering::Relaxed)
}

/// Counts late heartbeats and removes their warnings from every layer after it.
pub struct LateHeartbeats;

impl<S: Subscriber> Layer<S> for LateHeartbeats {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::WARN || metadata.target() != HEARTBEAT_WORKER_TARGET {
            return true;
        }
        let mut message = MessageText::default();
        event.record(&mut message);
        if !is_late_heartbeat(&message.0) {
            return true;
        }
        LATE_HEARTBEATS.fetch_add(1, Ordering::Relaxed);
        false
    }
}

fn is_late_heartbeat(message: &str) -> bool {
    message.contains(FAILED_HEARTBEAT) && LATE_MARKERS.iter().any(|marker| message.contains(marker))
}

#[derive(Default)]
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Logs, once per [`SUMMARY_INTERVAL`] in which some were late, how many heartbeats were.
pub fn summarize_in_log() {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(SUMMARY_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reported = count();
        loop {
            interval.tick().await;
            let now = count();
            if now > reported {
                tracing::info!(
                    late = now - reported,
                    since_start = now,
                    "heartbeats answered later than the heartbeat interval (a busy box; elections start only after \
                     the election timeout)"
                );
                reported = now;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Collects the messages that reach it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Seen {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut message = MessageText::default();
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }

    #[test]
    fn late_heartbeats_are_counted_and_kept_out_of_the_log_while_other_failures_stay_warnings() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(LateHeartbeats).with(seen.clone());
        let before = count();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "openraft::core::heartbeat::worker",
                "HeartbeatWorker(id=1, target=3) failed to send a heartbeat: {:?}",
                "Err(Elapsed(()))"
            );
            tracing::warn!(
                target: "openraft::core::heartbeat::worker",
                "HeartbeatWorker(id=1, target=2) failed to send a heartbeat: {}",
                "Unreachable: code: 'The operation was cancelled', message: \"Timeout expired\""
            );
            tracing::warn!(
                target: "openraft::core::heartbeat::worker",
                "HeartbeatWorker(id=3, target=2) failed to send a heartbeat: {}",
                "Unreachable: tcp connect error"
            );
            tracing::info!(target: "openraft::core::heartbeat::worker", "failed to send a heartbeat: Elapsed");
            tracing::warn!("an unrelated warning mentioning Elapsed");
        });
        // Other tests of this process may count their own late heartbeats meanwhile: at least ours are counted.
        assert!(count() >= before + 2, "both late heartbeats counted");
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].contains("tcp connect error"), "a refused connection stays a warning: {seen:?}");
        assert!(seen[1].contains("failed to send a heartbeat"), "another level passes: {seen:?}");
        assert!(seen[2].contains("unrelated"), "{seen:?}");
    }
}
