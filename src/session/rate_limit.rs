//! Rate limits for password login, the no-sso page and every lookup of a guessable secret,
//! shared by every instance because the counters live in the [`Store`].
//!
//! Two mechanisms, per `(scope, key)` (e.g. `("login-ip", "203.0.113.7")` or
//! `("login-account", "contoso/alice@contoso.com")`):
//! - a fixed-window counter of attempts: at most `limit` per `window`;
//! - a failure counter: from the `lockout_after`-th failure within `failure_window`, each
//!   failure locks the key out for `base_lockout`, doubling per further failure up to
//!   `max_lockout`. Success clears it. This slows online guessing to a crawl while a user
//!   who mistypes twice is not bothered.
//!
//! A secret short enough to guess (a device user code) is looked up only through
//! [`SecretGuard`], which applies the same mechanisms per client address and per session.
//!
//! Keys are hashed before they reach the store: no email addresses, IPs or session ids in
//! Redis.

use std::future::Future;
use std::net::IpAddr;
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
        self.check_lockout(scope, key, now).await?;
        let base = base_key(scope, key);
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

    /// Refuses while a lockout of `(scope, key)` runs; counts nothing.
    pub async fn check_lockout(
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

/// Who is guessing: the client address and, when signed in, the session. A guess counts
/// against both, so neither rotating addresses under one session nor opening sessions from
/// one address buys more guesses. No `Debug`: it holds a session id, which never goes to a
/// log.
#[derive(Clone, Copy)]
pub struct Guesser<'a> {
    /// The client address (after trusted proxies).
    pub ip: IpAddr,
    /// The login session's id, if the request has one.
    pub session: Option<&'a str>,
}

/// The one gate for looking up a secret someone could guess: device user codes today;
/// reset and invitation tokens, SCIM and API tokens when they come. Each lookup is counted
/// per client address and per session with the password policy: a window limit, then
/// lockouts growing from the `lockout_after`-th miss.
///
/// A hit does not clear the misses (unlike a correct password for its account): anyone
/// can mint a valid code of their own, and a hit that forgave misses would reset the
/// counter for free between guesses.
pub struct SecretGuard<'a> {
    limiter: &'a RateLimiter,
    scope: &'static str,
    /// Whether every lookup, not only a miss, counts against the window limit.
    count_hits: bool,
}

impl<'a> SecretGuard<'a> {
    /// A guard counting in `scope` (one per kind of secret) with `limiter`'s policy.
    pub fn new(limiter: &'a RateLimiter, scope: &'static str) -> Self {
        Self {
            limiter,
            scope,
            count_hits: true,
        }
    }

    /// A guard for a secret of full entropy (an API token) presented on every call of a
    /// legitimate client: only misses count, so a busy integration is never throttled,
    /// while a guesser is locked out after `lockout_after` misses as with [`Self::new`].
    pub fn misses_only(limiter: &'a RateLimiter, scope: &'static str) -> Self {
        Self {
            limiter,
            scope,
            count_hits: false,
        }
    }

    /// Runs `find` unless `who` is limited; a miss (`Ok(None)`) counts as a failure for
    /// the address and the session. Fails closed: without readable counters, no lookup.
    pub async fn lookup<T, E>(
        &self,
        who: Guesser<'_>,
        now: DateTime<Utc>,
        find: impl Future<Output = Result<Option<T>, E>>,
    ) -> Result<Option<T>, E>
    where
        E: From<RateLimitError>,
    {
        let ip = format!("ip:{}", who.ip);
        let session = who.session.map(|s| format!("session:{s}"));
        let keys: Vec<&str> = std::iter::once(ip.as_str())
            .chain(session.as_deref())
            .collect();
        for key in &keys {
            if self.count_hits {
                self.limiter.check(self.scope, key, now).await?;
            } else {
                self.limiter.check_lockout(self.scope, key, now).await?;
            }
        }
        let found = find.await?;
        if found.is_none() {
            for key in &keys {
                self.limiter
                    .failure(self.scope, key, now)
                    .await
                    .map_err(RateLimitError::from)?;
            }
        }
        Ok(found)
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

    /// One guess at `guard`: a hit or a miss, as `Ok(found)` or `Err(())` when limited.
    async fn guess(
        guard: &SecretGuard<'_>,
        ip: u8,
        session: Option<&str>,
        hit: bool,
    ) -> Result<bool, ()> {
        let who = Guesser {
            ip: IpAddr::from([198, 51, 100, ip]),
            session,
        };
        let found = guard
            .lookup(who, Utc::now(), async {
                Ok::<_, RateLimitError>(hit.then_some(()))
            })
            .await;
        match found {
            Ok(f) => Ok(f.is_some()),
            Err(RateLimitError::Limited(_)) => Err(()),
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn guesses_are_counted_per_session_and_per_address_and_hits_forgive_nothing() {
        let limiter = RateLimiter::new(
            Arc::new(crate::session::MemoryStore::default()),
            RateLimitPolicy {
                lockout_after: 3,
                ..RateLimitPolicy::default()
            },
        );
        let guard = SecretGuard::new(&limiter, "test");
        // One session, a new address each time: the session is locked out.
        for ip in 1..=3 {
            assert_eq!(guess(&guard, ip, Some("s1"), false).await, Ok(false));
        }
        assert_eq!(guess(&guard, 4, Some("s1"), true).await, Err(()));
        assert_eq!(guess(&guard, 4, None, true).await, Ok(true));
        // One address, a new session each time: the address is locked out.
        for s in ["a", "b", "c"] {
            assert_eq!(guess(&guard, 5, Some(s), false).await, Ok(false));
        }
        assert_eq!(guess(&guard, 5, Some("d"), true).await, Err(()));
        assert_eq!(guess(&guard, 5, None, true).await, Err(()));
        // A hit of one's own code between misses does not reset the count.
        assert_eq!(guess(&guard, 6, None, false).await, Ok(false));
        assert_eq!(guess(&guard, 6, None, false).await, Ok(false));
        assert_eq!(guess(&guard, 6, None, true).await, Ok(true));
        assert_eq!(guess(&guard, 6, None, false).await, Ok(false));
        assert_eq!(guess(&guard, 6, None, true).await, Err(()));
    }
}
