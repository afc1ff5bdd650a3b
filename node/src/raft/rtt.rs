//! How long a peer takes to answer appends that carry entries, measured (RFC 6298's smoothed round-trip time and
//! its variation), and the timeout that follows from it.
//!
//! openraft gives every replication RPC the heartbeat interval as its time to live. An append of a few megabytes
//! that a loaded follower must write and fsync can take several intervals; abandoning it at the interval wastes the
//! work already done on both sides, resets a stream, and sends the same entries again into the same overload. A
//! follower that died is noticed by the heartbeats (their own connection, their own timeout), so a replication
//! timeout only has to bound how long a lost append stalls its stream.

use std::time::Duration;

/// Never shorter: on a saturated box a follower's group commit and scheduler delay reach a few hundred milliseconds
/// now and then, and an append abandoned then is sent again into the same overload (250 ms gave ~200 resent
/// appends per 1M-record import; each was written twice).
pub const APPEND_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Never longer (and the timeout before any sample): the bound of every internal Raft RPC.
pub const APPEND_TIMEOUT_MAX: Duration = crate::limits::RAFT_RPC_TIMEOUT;

/// Smoothed round-trip time and variation of one peer's appends, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct RttEstimate {
    srtt_us: f64,
    rttvar_us: f64,
    /// A timeout since the last answer: the next timeout doubles (RFC 6298's back-off), up to the maximum.
    backoff: u32,
    sampled: bool,
}

impl RttEstimate {
    pub fn observe(&mut self, rtt: Duration) {
        let rtt_us = rtt.as_secs_f64() * 1e6;
        if self.sampled {
            self.rttvar_us = 0.75 * self.rttvar_us + 0.25 * (self.srtt_us - rtt_us).abs();
            self.srtt_us = 0.875 * self.srtt_us + 0.125 * rtt_us;
        } else {
            (self.srtt_us, self.rttvar_us, self.sampled) = (rtt_us, rtt_us / 2.0, true);
        }
        self.backoff = 0;
    }

    pub fn observe_timeout(&mut self) {
        self.backoff = (self.backoff + 1).min(8);
    }

    /// Twice the retransmission timeout (srtt + 4 · rttvar), doubled per timeout in a row, within
    /// [`APPEND_TIMEOUT_MIN`] (or `floor`, when longer) and [`APPEND_TIMEOUT_MAX`].
    pub fn append_timeout(&self, floor: Duration) -> Duration {
        if !self.sampled {
            return APPEND_TIMEOUT_MAX;
        }
        let rto = Duration::from_secs_f64((self.srtt_us + 4.0 * self.rttvar_us) / 1e6);
        let timeout = rto.saturating_mul(2).saturating_mul(1 << self.backoff);
        timeout.clamp(APPEND_TIMEOUT_MIN.max(floor).min(APPEND_TIMEOUT_MAX), APPEND_TIMEOUT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_timeout_follows_measured_round_trips_within_its_bounds() {
        let mut rtt = RttEstimate::default();
        assert_eq!(rtt.append_timeout(100 * MS), APPEND_TIMEOUT_MAX, "no sample yet: the longest");
        for _ in 0..50 {
            rtt.observe(10 * MS);
        }
        assert_eq!(rtt.append_timeout(100 * MS), APPEND_TIMEOUT_MIN, "fast appends: the shortest");
        for _ in 0..50 {
            rtt.observe(700 * MS);
        }
        let slow = rtt.append_timeout(100 * MS);
        assert!(slow >= 1_380 * MS && slow < APPEND_TIMEOUT_MAX, "{slow:?}");
        for _ in 0..50 {
            rtt.observe(5_000 * MS);
        }
        assert_eq!(rtt.append_timeout(100 * MS), APPEND_TIMEOUT_MAX);
    }

    #[test]
    fn timeouts_back_off_until_an_answer() {
        let mut rtt = RttEstimate::default();
        for _ in 0..50 {
            rtt.observe(600 * MS);
        }
        let base = rtt.append_timeout(MS);
        assert!(base > APPEND_TIMEOUT_MIN, "{base:?}");
        rtt.observe_timeout();
        assert_eq!(rtt.append_timeout(MS), (base * 2).min(APPEND_TIMEOUT_MAX));
        rtt.observe(600 * MS);
        assert!(rtt.append_timeout(MS) <= base + MS);
        assert_eq!(rtt.append_timeout(10 * APPEND_TIMEOUT_MAX), APPEND_TIMEOUT_MAX, "a floor beyond the maximum");
    }
}
