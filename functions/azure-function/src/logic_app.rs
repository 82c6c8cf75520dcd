//! The Logic App [`AlertSink`]: POST the alert JSON to the trigger URL.
//!
//! Bounded retries on 408/429/5xx and transport failures, with exponential backoff (a
//! `Retry-After` is honoured up to a cap), then a transient error so the batch answers 5xx and
//! the host re-drives it. Other 4xx (a revoked signature, a deleted workflow) are permanent:
//! retrying cannot fix them. The URL carries a SAS `sig`; no error or log line contains it.

use crate::config::SecretUrl;
use std::time::Duration;
use t1578_core::alert::Alert;
use t1578_core::ports::{AlertSink, SinkError};

/// Retry and timeout knobs.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts per alert, first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles after each.
    pub backoff: Duration,
    /// Longest wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        // Worst case per alert: 3 x 10 s + 0.5 s + 1 s, far below the host's 100 s call timeout
        // even when a few alerts of one batch wait on a struggling Logic App.
        SinkOptions {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Sends alerts to a Logic App HTTP trigger.
#[derive(Debug)]
pub struct LogicAppSink {
    http: reqwest::Client,
    url: Option<SecretUrl>,
    opts: SinkOptions,
}

impl LogicAppSink {
    /// A sink to `url`. `None` (shadow mode only) refuses every send.
    pub fn new(http: reqwest::Client, url: Option<SecretUrl>, opts: SinkOptions) -> LogicAppSink {
        LogicAppSink { http, url, opts }
    }

    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.opts.backoff.saturating_mul(1u32 << (attempt - 1).min(16));
        retry_after.unwrap_or(exp).min(self.opts.max_backoff)
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl AlertSink for LogicAppSink {
    async fn send(&self, alert: &Alert) -> Result<(), SinkError> {
        let url = self.url.as_ref().ok_or_else(|| {
            SinkError::Permanent("no Logic App URL configured (T1578_LOGIC_APP_URL)".into())
        })?;
        let (body, cut) = t1578_core::guide::fit(alert, t1578_core::guide::LOGIC_APP_BODY_BUDGET)
            .map_err(|e| SinkError::Permanent(e.to_string()))?;
        if !cut.is_empty() {
            tracing::warn!(dedup_key = %alert.dedup_key(), ?cut, "alert cut to fit the Logic App body budget");
        }
        let attempts = self.opts.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let sent = self
                .http
                .post(url.expose().clone())
                .timeout(self.opts.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                // A trigger condition can take new findings only without parsing the body
                // (which carries the same as `activity_id`: 1 create, 2 update).
                .header("x-t1578-activity", alert.unmapped.finding.activity.as_str())
                .header("x-t1578-finding", alert.finding_info.uid.as_str())
                .body(body.clone())
                .send()
                .await;
            let pause = match sent {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let s = resp.status();
                    if !(s.as_u16() == 408 || s.as_u16() == 429 || s.is_server_error()) {
                        return Err(SinkError::Permanent(format!(
                            "Logic App refused the alert: HTTP {s}"
                        )));
                    }
                    last = format!("HTTP {s}");
                    retry_after(&resp)
                }
                Err(e) => {
                    last = crate::table::describe(&e);
                    None
                }
            };
            tracing::warn!(attempt, attempts, error = %last, dedup_key = %alert.dedup_key(), "alert delivery failed");
            if attempt < attempts {
                tokio::time::sleep(self.wait(attempt, pause)).await;
            }
        }
        Err(SinkError::Transient(format!(
            "Logic App unavailable after {attempts} attempts: {last}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = LogicAppSink::new(reqwest::Client::new(), None, SinkOptions::default());
        assert_eq!(s.wait(1, None), Duration::from_millis(500));
        assert_eq!(s.wait(2, None), Duration::from_secs(1));
        assert_eq!(s.wait(9, None), Duration::from_secs(5));
        assert_eq!(s.wait(1, Some(Duration::from_secs(60))), Duration::from_secs(5));
    }
}
