//! Waiting for a condition by polling it, with a deadline. Tests synchronize with the cluster through these, never
//! through fixed sleeps: a condition is checked every [`POLL_INTERVAL`] until it holds or the deadline passes.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::HarnessError;

/// Pause between two checks of a condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Checks `attempt` until it returns `Ok`, and returns that value. `Err(why)` means "not yet", and the last `why`
/// ends up in the timeout error. An attempt still running at the deadline is abandoned.
pub async fn poll_until<T, F, Fut>(timeout: Duration, what: &str, mut attempt: F) -> Result<T, HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = "never checked".to_string();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(why)) => last = why,
            Err(_) => last = format!("the last check was still running at the deadline (before it: {last})"),
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HarnessError::Timeout { what: what.to_string(), timeout, last });
        }
        tokio::time::sleep(POLL_INTERVAL.min(remaining)).await;
    }
}

/// Checks `condition` until it is true; see [`poll_until`].
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F) -> Result<(), HarnessError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until(timeout, what, || {
        let check = condition();
        async move {
            if check.await {
                Ok(())
            } else {
                Err("condition was false".to_string())
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn returns_the_value_of_the_first_success() {
        let n_checks = AtomicU32::new(0);
        let value = poll_until(Duration::from_secs(5), "third check", || async {
            let n = n_checks.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= 3 {
                Ok(n * 10)
            } else {
                Err(format!("check {n}"))
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 30);
    }

    #[tokio::test]
    async fn timeout_reports_what_and_the_last_reason() {
        let started = Instant::now();
        let error = poll_until(Duration::from_millis(250), "the impossible", || async {
            Err::<(), _>("still impossible".to_string())
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(250));
        let message = error.to_string();
        assert!(message.contains("the impossible") && message.contains("still impossible"), "{message}");
    }

    #[tokio::test]
    async fn a_hung_check_is_abandoned_at_the_deadline() {
        let error =
            wait_until(Duration::from_millis(200), "a hung check", std::future::pending::<bool>).await.unwrap_err();
        assert!(error.to_string().contains("still running at the deadline"), "{error}");
    }
}
