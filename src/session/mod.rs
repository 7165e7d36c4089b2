//! Short-lived shared state: sessions, pending SAML requests, OAuth codes, the SAML replay
//! cache and rate-limit counters.
//!
//! Everything sits behind one small key/value [`Store`] trait with TTLs and the few atomic
//! operations the protocols need (`take`, `put_if_absent`, `incr`), so a single process can
//! run on [`MemoryStore`] and a fleet behind a load balancer on [`RedisStore`] without the
//! callers knowing which. This module depends on nothing else of ours.
//!
//! # Layout
//! - [`memory`]: moka-backed store for one process.
//! - [`redis`]: Redis-backed store shared by every instance.
//! - [`sessions`]: login sessions (new random id at every login, idle and absolute timeouts).
//! - [`rate_limit`]: fixed-window counters plus growing lockouts after failures.
//! - [`links`]: one-time links mailed to people (password reset, invitation).
//! - [`ended`]: the one "sessions ended" hook (back-channel logout listens to it).

pub mod ended;
pub mod links;
pub mod memory;
pub mod rate_limit;
pub mod redis;
pub mod sessions;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use links::{LinkClaim, Links, Purpose};
pub use memory::MemoryStore;
pub use rate_limit::{RateLimitError, RateLimitPolicy, RateLimiter, RetryAfter};
pub use redis::RedisStore;
pub use sessions::{Session, SessionRef, SessionUser, Sessions};

/// Errors of the session store and of the helpers built on it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or did not answer in time. Callers fail the request
    /// (503) rather than hang: a login without a working store cannot be completed safely.
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] ::redis::RedisError),
    /// The backend at `url` (password removed) could not be reached at start-up.
    #[error("session store unavailable: {url}: {source}")]
    Unreachable {
        /// The store's URL, without its password.
        url: String,
        /// Why.
        source: ::redis::RedisError,
    },
    /// The backend answered with an error (e.g. a counter key that holds a non-number).
    #[error("session store error: {0}")]
    Backend(String),
    /// The configured URL names no supported store.
    #[error(
        "unsupported session_store {0:?}: use \"memory\" (one process) or redis://host:port/db (shared by instances)"
    )]
    BadUrl(String),
    /// A stored record could not be decoded (written by an incompatible version?).
    #[error("corrupt record in the session store: {0}")]
    Corrupt(String),
}

/// A key/value store with per-entry TTLs and the atomic operations the login flows need.
///
/// Object safe so the application holds an `Arc<dyn Store>` chosen at start-up. Keys are
/// plain strings chosen by callers (`session:…`, `pending:…`, `replay:…`); implementations
/// may add their own prefix.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl`, replacing any previous value and TTL.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;

    /// The value under `key`, unless absent or expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomically reads and deletes `key`: of many concurrent callers at most one gets the
    /// value. Makes pending SAML requests and OAuth codes strictly one-time.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Atomically stores `value` only when `key` is absent; true when this call stored it.
    /// The SAML replay cache: the first instance to see an assertion ID wins.
    async fn put_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Removes `key`; no error when it is absent.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Atomically increments the counter under `key` and returns the new value. The TTL is
    /// set by the first increment only, so a fixed window does not slide with each hit.
    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError>;

    /// Whether the backend answers; used by `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Atomically puts `value` at the head of the list under `key`, keeps only its `max`
    /// newest values and sets the list's TTL to `ttl`. A bounded log (the login traces)
    /// that many instances append to at once: no append is lost to a read-modify-write
    /// race, and no list grows past `max` however many are posted.
    async fn push_capped(
        &self,
        key: &str,
        value: Vec<u8>,
        max: usize,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// The list under `key`, newest first (empty when absent or expired).
    async fn list(&self, key: &str) -> Result<Vec<Vec<u8>>, StoreError>;
}

/// Opens the store named by the `session_store` setting: `memory` or `redis://…`
/// (`rediss://` for TLS). Redis keys get the prefix [`redis::DEFAULT_PREFIX`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url == "memory" {
        Ok(Arc::new(MemoryStore::new(memory::DEFAULT_CAPACITY_BYTES)))
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(Arc::new(
            RedisStore::connect(url, redis::DEFAULT_PREFIX).await?,
        ))
    } else {
        Err(StoreError::BadUrl(url.to_string()))
    }
}

/// Longest TTL honoured; longer ones are shortened to it. Redis refuses expiry times that
/// overflow its clock, and `Instant + Duration::MAX` would panic in memory.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A TTL in milliseconds as both stores use it: at least one millisecond (Redis refuses a
/// zero expiry, and a zero TTL would make an entry vanish at once in memory), at most
/// [`MAX_TTL`].
pub(crate) fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.min(MAX_TTL).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
