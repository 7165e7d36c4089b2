//! Login sessions on top of a [`Store`].
//!
//! The browser holds only a random id; everything else stays server-side. Records are
//! stored under a SHA-256 of the id, so a dump of Redis (or a debug listing of keys) does
//! not hand out live session cookies.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// Bytes of randomness in a session id: 256 bits, beyond any guessing.
const ID_BYTES: usize = 32;

/// Length of an id in base64url without padding.
const ID_LEN: usize = 43;

/// Who a session belongs to, as known at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user's database id.
    pub user_id: i64,
    /// Tenant slug.
    pub account: String,
    /// Email address as stored.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The cookie value. Not stored in the record: the record is found by its hash.
    #[serde(skip)]
    pub id: String,
    /// The user's database id.
    pub user_id: i64,
    /// Tenant slug.
    pub account: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Login time; the absolute timeout counts from here.
    pub created_at: DateTime<Utc>,
    /// Last request seen (to the refresh granularity); the idle timeout counts from here.
    pub last_seen: DateTime<Utc>,
}

/// Creates, loads and destroys sessions.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn Store>,
    idle: Duration,
    max: Duration,
}

impl Sessions {
    /// Sessions in `store` that end after `idle` without a request or `max` after login,
    /// whichever comes first.
    pub fn new(store: Arc<dyn Store>, idle: Duration, max: Duration) -> Self {
        Self {
            store,
            idle,
            max: max.max(idle),
        }
    }

    /// Opens a session for `user` with a fresh random id. Called at every login, never
    /// reusing an id the browser brought with it: that would allow session fixation.
    pub async fn create(
        &self,
        user: &SessionUser,
        now: DateTime<Utc>,
    ) -> Result<Session, StoreError> {
        let session = Session {
            id: URL_SAFE_NO_PAD.encode(crate::secrets::random_bytes::<ID_BYTES>()),
            user_id: user.user_id,
            account: user.account.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            created_at: now,
            last_seen: now,
        };
        self.save(&session, self.idle.min(self.max)).await?;
        Ok(session)
    }

    /// The session for cookie value `id`, if it is live at `now`. Enforces the absolute and
    /// idle timeouts (deleting an expired record) and slides the idle window.
    ///
    /// To spare the store a write on every forward-auth request, `last_seen` is rewritten
    /// only once it is older than a refresh granularity (a tenth of the idle timeout, at
    /// most a minute); the idle timeout is therefore exact to within that granularity.
    pub async fn load(&self, id: &str, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        if !well_formed(id) {
            return Ok(None);
        }
        let key = record_key(id);
        let Some(bytes) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let mut session: Session = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "dropping an unreadable session record");
                self.store.delete(&key).await?;
                return Ok(None);
            }
        };
        session.id = id.to_string();
        let age = elapsed(session.created_at, now);
        let idle = elapsed(session.last_seen, now);
        if age >= self.max || idle >= self.idle {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        let granularity = (self.idle / 10).min(Duration::from_secs(60));
        if idle >= granularity {
            session.last_seen = now;
            self.save(&session, self.idle.min(self.max - age)).await?;
        }
        Ok(Some(session))
    }

    /// Ends the session (logout). Unknown ids are not an error.
    pub async fn destroy(&self, id: &str) -> Result<(), StoreError> {
        if well_formed(id) {
            self.store.delete(&record_key(id)).await?;
        }
        Ok(())
    }

    /// Ends every session of `user_id` opened up to `now` (a password reset): records the
    /// moment, which [`Sessions::ended_at`] reports to whoever admits a session, a refresh
    /// token or a one-time link. Kept as long as a session can live, after which no
    /// session from before it can exist anyway.
    pub async fn end_all(&self, user_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.put(&ended_key(user_id), bytes, self.max).await
    }

    /// When the sessions of `user_id` were last ended by [`Sessions::end_all`], if within
    /// a session's lifetime.
    pub async fn ended_at(&self, user_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        ended_at(self.store.as_ref(), user_id).await
    }

    async fn save(&self, session: &Session, ttl: Duration) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(session).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.put(&record_key(&session.id), bytes, ttl).await
    }
}

/// Time from `from` to `to`; zero when the clock went backwards.
fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// Only ids we could have minted reach the store: junk cookies cost no round trip.
fn well_formed(id: &str) -> bool {
    id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// When the sessions of `user_id` were last ended ([`Sessions::end_all`]), for holders of
/// the store that are not sessions (refresh tokens).
pub async fn ended_at(
    store: &dyn Store,
    user_id: i64,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    match store.get(&ended_key(user_id)).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(None),
    }
}

fn ended_key(user_id: i64) -> String {
    format!("sessions-ended:{user_id}")
}

fn record_key(id: &str) -> String {
    format!(
        "session:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_lookup() {
        assert!(well_formed(&"a".repeat(ID_LEN)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}:", "a".repeat(ID_LEN - 1))));
    }
}
