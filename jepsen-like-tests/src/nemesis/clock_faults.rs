//! The clock fault: one node's clocks (wall and monotonic, through libfaketime) run at another rate while the
//! node leads a workload partition and is cut off from its peers — a skewed clock only matters while a deposed
//! leader still trusts its lease. Within the configured drift bound no read may be stale; far beyond it (the
//! `clock-beyond-bound` self-test) stale reads must follow.

use std::time::{Duration, Instant};

use rand::Rng;

use super::{Active, Injected, Nemesis};

/// A measured rate this close to the one set confirms it (plus a tenth of the deviation).
const RATE_TOLERANCE: f64 = 0.01;

/// One look at a node's monotonic clock, and when the harness took it.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClockSample {
    at: Instant,
    uptime_ms: u64,
}

impl Nemesis<'_> {
    async fn sample_clock(&self, node: u64) -> Result<ClockSample, String> {
        let status = self.cluster.status(node).await.map_err(|e| e.to_string())?;
        Ok(ClockSample { at: Instant::now(), uptime_ms: status.uptime_ms })
    }

    pub(super) async fn clock(&mut self) -> Result<Injected, String> {
        if self.clocks.is_empty() {
            return Err("the nodes do not run under libfaketime".into());
        }
        let (partition, leader) = self.random_leader().await?;
        let plan = self.config.clock;
        let rate = if plan.extreme {
            1.0 - plan.max_deviation
        } else {
            1.0 + self.rng.random_range(-plan.max_deviation..=plan.max_deviation)
        };
        let clock = self.clocks.get_mut(&leader).ok_or(format!("node {leader} has no clock control"))?;
        // A rate change waits for the next whole second of real time (see `clock`): off the async workers.
        tokio::task::block_in_place(|| clock.set_rate(rate)).map_err(|e| e.to_string())?;
        let sample = self.sample_clock(leader).await?;
        let (isolated, cut) = match self.net.as_deref_mut() {
            Some(net) => (true, format!(", {}", net.isolate(leader).map_err(|e| e.to_string())?)),
            None => (false, String::new()),
        };
        let description = format!("clock of node {leader} (leader of partition {partition}) at rate {rate:.3}{cut}");
        let proof = if isolated { self.cuts_proof() } else { Ok(String::new()) };
        Ok(Injected { description, active: Active::Clock { node: leader, isolated, rate, sample }, proof })
    }

    /// After the hold: the node's own monotonic clock advanced at the rate set.
    pub(super) async fn clock_rate_proof(&self, node: u64, rate: f64, before: ClockSample) -> Result<String, String> {
        let after = self.sample_clock(node).await?;
        let real = after.at.duration_since(before.at);
        if real < Duration::from_millis(500) {
            return Err(format!("the clock fault on node {node} lasted only {real:?}"));
        }
        let measured = after.uptime_ms.saturating_sub(before.uptime_ms) as f64 / real.as_millis() as f64;
        let tolerance = RATE_TOLERANCE + (rate - 1.0).abs() / 10.0;
        if (measured - rate).abs() > tolerance {
            return Err(format!("node {node}'s clock ran at {measured:.3}, not {rate:.3}"));
        }
        Ok(format!("node {node}'s clock measured at rate {measured:.3} over {real:.1?}"))
    }

    pub(super) fn heal_clock(&mut self, node: u64, isolated: bool) -> Result<(), String> {
        if isolated {
            self.heal_net()?;
        }
        let clock = self.clocks.get_mut(&node).ok_or(format!("node {node} has no clock control"))?;
        tokio::task::block_in_place(|| clock.reset()).map_err(|e| e.to_string())
    }
}
