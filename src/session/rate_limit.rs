//! Rate limits for password login and the no-sso page, shared by every instance because
//! the counters live in the [`Store`].
//!
//! Two mechanisms, per `(scope, key)` (e.g. `("login-ip", "203.0.113.7")` or
//! `("login-account", "contoso/alice@contoso.com")`):
//! - a fixed-window counter of attempts: at most `limit` per `window`;
//! - a failure counter: from the `lockout_after`-th failure within `failure_window`, each
//!   failure locks the key out for `base_lockout`, doubling per further failure up to
//!   `max_lockout`. Success clears it. This slows online guessing to a crawl while a user
//!   who mistypes twice is not bothered.
//!
//! Keys are hashed before they reach the store: no email addresses or IPs in Redis.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// Limits of one kind of attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    /// Attempts allowed per window.
    pub limit: u64,
    /// Length of the fixed window.
    pub window: Duration,
    /// Failures (within `failure_window`) from which lockouts start.
    pub lockout_after: u64,
    /// How long failures are remembered, counted from the first one.
    pub failure_window: Duration,
    /// First lockout.
    pub base_lockout: Duration,
    /// Longest lockout.
    pub max_lockout: Duration,
}

impl Default for RateLimitPolicy {
    /// 20 attempts a minute; from the 5th failure in an hour a lockout of 30 s, doubling
    /// up to 15 minutes.
    fn default() -> Self {
        Self {
            limit: 20,
            window: Duration::from_secs(60),
            lockout_after: 5,
            failure_window: Duration::from_secs(3600),
            base_lockout: Duration::from_secs(30),
            max_lockout: Duration::from_secs(15 * 60),
        }
    }
}

/// How long the client must wait; becomes the `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1.
    pub fn seconds(&self) -> u64 {
        let s = self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0);
        s.max(1)
    }
}

/// Why an attempt may not proceed.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// Too many attempts or failures: try again later.
    #[error("too many attempts; retry after {} s", .0.seconds())]
    Limited(RetryAfter),
    /// The counters cannot be read. Callers refuse the attempt (fail closed): a password
    /// check without its rate limit would be an open door for guessing.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts attempts and failures in a shared [`Store`].
#[derive(Clone)]
pub struct RateLimiter {
    store: Arc<dyn Store>,
    policy: RateLimitPolicy,
}

impl RateLimiter {
    /// A limiter applying `policy` with counters in `store`.
    pub fn new(store: Arc<dyn Store>, policy: RateLimitPolicy) -> Self {
        Self { store, policy }
    }

    /// Counts one attempt for `(scope, key)` at `now`: refused while a lockout runs or
    /// when the window's limit is spent.
    pub async fn check(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), RateLimitError> {
        let base = base_key(scope, key);
        if let Some(until) = self.locked_until(&base).await?
            && until > now
        {
            return Err(RateLimitError::Limited(RetryAfter(until_duration(
                now, until,
            ))));
        }
        let window = self.policy.window.as_secs().max(1);
        let now_s = u64::try_from(now.timestamp()).unwrap_or(0);
        let index = now_s / window;
        let count = self
            .store
            .incr(
                &format!("{base}:w{index}"),
                Duration::from_secs(window.saturating_mul(2)),
            )
            .await?;
        if count > self.policy.limit {
            let window_end = index.saturating_add(1).saturating_mul(window);
            return Err(RateLimitError::Limited(RetryAfter(Duration::from_secs(
                window_end.saturating_sub(now_s),
            ))));
        }
        Ok(())
    }

    /// Records a failed attempt; returns the lockout it started, if any.
    pub async fn failure(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<RetryAfter>, StoreError> {
        let base = base_key(scope, key);
        let failures = self
            .store
            .incr(&format!("{base}:fail"), self.policy.failure_window)
            .await?;
        if failures < self.policy.lockout_after.max(1) {
            return Ok(None);
        }
        let doublings =
            u32::try_from(failures - self.policy.lockout_after.max(1)).unwrap_or(u32::MAX);
        let lockout = self
            .policy
            .base_lockout
            .checked_mul(2u32.checked_pow(doublings).unwrap_or(u32::MAX))
            .unwrap_or(self.policy.max_lockout)
            .min(self.policy.max_lockout);
        let until = chrono::Duration::from_std(lockout)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.store
            .put(
                &format!("{base}:lock"),
                until.timestamp_millis().to_string().into_bytes(),
                lockout,
            )
            .await?;
        Ok(Some(RetryAfter(lockout)))
    }

    /// Records a successful attempt: forgets failures and any lockout.
    pub async fn success(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let base = base_key(scope, key);
        self.store.delete(&format!("{base}:fail")).await?;
        self.store.delete(&format!("{base}:lock")).await
    }

    async fn locked_until(&self, base: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(bytes) = self.store.get(&format!("{base}:lock")).await? else {
            return Ok(None);
        };
        let millis = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| StoreError::Corrupt("lockout record".into()))?;
        Ok(DateTime::from_timestamp_millis(millis))
    }
}

fn until_duration(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or(Duration::ZERO)
}

fn base_key(scope: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{scope}\0{key}").as_bytes());
    format!("rl:{scope}:{}", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(RetryAfter(Duration::from_millis(1500)).seconds(), 2);
        assert_eq!(RetryAfter(Duration::ZERO).seconds(), 1);
        assert_eq!(RetryAfter(Duration::from_secs(30)).seconds(), 30);
    }
}
