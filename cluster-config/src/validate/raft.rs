//! Rules on `[raft]`: timings that let a leader keep its followers from starting elections.

use super::Report;
use crate::limits::{CLOCK_DRIFT_PPM_MAX, HEARTBEAT_INTERVAL_MS_MIN};
use crate::RaftConfig;

pub(super) fn check(raft: &RaftConfig, report: &mut Report) {
    if raft.heartbeat_interval_ms < HEARTBEAT_INTERVAL_MS_MIN {
        report.add(
            "raft.heartbeat_interval_ms",
            format!("must be at least {HEARTBEAT_INTERVAL_MS_MIN}, found {}", raft.heartbeat_interval_ms),
        );
    }
    if raft.election_timeout_ms_min <= raft.heartbeat_interval_ms {
        report.add(
            "raft.election_timeout_ms_min",
            format!(
                "must be greater than raft.heartbeat_interval_ms ({}), found {}",
                raft.heartbeat_interval_ms, raft.election_timeout_ms_min
            ),
        );
    }
    if raft.election_timeout_ms_max <= raft.election_timeout_ms_min {
        report.add(
            "raft.election_timeout_ms_max",
            format!(
                "must be greater than raft.election_timeout_ms_min ({}), found {}",
                raft.election_timeout_ms_min, raft.election_timeout_ms_max
            ),
        );
    }
    if raft.max_clock_drift_ppm > CLOCK_DRIFT_PPM_MAX {
        report.add(
            "raft.max_clock_drift_ppm",
            format!(
                "must be at most {CLOCK_DRIFT_PPM_MAX} (clocks that far apart leave no lease), found {}",
                raft.max_clock_drift_ppm
            ),
        );
    }
}
