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

use super::ended::{Ended, SessionsEnded};
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
    /// How the person proved who they are (RFC 8176 `amr` values: `pwd`, or the IdP
    /// protocol such as `saml2`), for the ID tokens minted from this session.
    pub amr: String,
    /// The authentication context class the IdP reported, if any (an ID token's `acr`).
    pub acr: Option<String>,
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
    /// See [`SessionUser::amr`]; empty in records written before it existed.
    #[serde(default)]
    pub amr: String,
    /// See [`SessionUser::acr`].
    #[serde(default)]
    pub acr: Option<String>,
    /// Login time (an ID token's `auth_time`); the absolute timeout counts from here.
    pub created_at: DateTime<Utc>,
    /// Last request seen (to the refresh granularity); the idle timeout counts from here.
    pub last_seen: DateTime<Utc>,
    /// The synchronizer token of the forms that change something for this session (the
    /// account admin console): random per session, so a token seen in one session's page
    /// is worthless in any other, and a new login rotates it. Empty in records written
    /// before it existed; an empty token matches nothing.
    #[serde(default)]
    pub csrf: String,
}

impl Session {
    /// Whether `submitted` is this session's form token, compared in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(self.csrf.as_bytes(), submitted.as_bytes()).into();
        same && !self.csrf.is_empty()
    }
}

impl Session {
    /// The session's public identifier (OpenID Connect `sid`): derived from the secret id
    /// so that nothing more is stored, and one-way so that an app holding it (in an ID token
    /// or a logout token) cannot turn it into the cookie.
    pub fn sid(&self) -> String {
        sid_of(&self.id)
    }
}

/// A session named without its cookie: the key of its record and its public id, which is
/// all ending it needs. Kept by whoever must end a session later without the browser
/// (SAML Single Logout's index), so a dump of the store still holds no live cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRef {
    key: String,
    sid: String,
}

impl Session {
    /// This session as a [`SessionRef`].
    pub fn reference(&self) -> SessionRef {
        SessionRef {
            key: record_key(&self.id),
            sid: self.sid(),
        }
    }
}

impl SessionRef {
    /// A stable name of the session that is not its cookie (a hash of it), for keys of
    /// entries that belong to it.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Creates, loads and destroys sessions.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn Store>,
    idle: Duration,
    max: Duration,
    /// Told whenever sessions end (see [`ended`](super::ended)).
    listener: Option<Arc<dyn SessionsEnded>>,
}

impl Sessions {
    /// Sessions in `store` that end after `idle` without a request or `max` after login,
    /// whichever comes first.
    pub fn new(store: Arc<dyn Store>, idle: Duration, max: Duration) -> Self {
        Self {
            store,
            idle,
            max: max.max(idle),
            listener: None,
        }
    }

    /// The same sessions, telling `listener` when they end.
    pub fn notifying(mut self, listener: Arc<dyn SessionsEnded>) -> Self {
        self.listener = Some(listener);
        self
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
            amr: user.amr.clone(),
            acr: user.acr.clone(),
            created_at: now,
            last_seen: now,
            csrf: crate::secrets::random_token(),
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
        if !well_formed(id) {
            return Ok(());
        }
        self.destroy_ref(&SessionRef {
            key: record_key(id),
            sid: sid_of(id),
        })
        .await
        .map(drop)
    }

    /// Ends the session `r` names (SAML Single Logout, with no browser of it at hand);
    /// true when it was still live. The listener is told, as by [`Sessions::destroy`].
    pub async fn destroy_ref(&self, r: &SessionRef) -> Result<bool, StoreError> {
        let Some(bytes) = self.store.take(&r.key).await? else {
            return Ok(false);
        };
        if let (Some(listener), Ok(session)) =
            (&self.listener, serde_json::from_slice::<Session>(&bytes))
        {
            listener
                .ended(Ended::Session {
                    sid: r.sid.clone(),
                    user_id: session.user_id,
                })
                .await;
        }
        Ok(true)
    }

    /// The longest a session lives (the absolute timeout): what entries kept beside a
    /// session need as their TTL.
    pub fn lifetime(&self) -> Duration {
        self.max
    }

    /// Ends every session of `user_id` opened up to `now` (a password reset): records the
    /// moment, which [`Sessions::ended_at`] reports to whoever admits a session, a refresh
    /// token or a one-time link. Kept as long as a session can live, after which no
    /// session from before it can exist anyway.
    pub async fn end_all(&self, user_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(&now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.put(&ended_key(user_id), bytes, self.max).await?;
        // The apps the user signed in to end theirs too (back-channel logout).
        self.end_user(user_id).await;
        Ok(())
    }

    /// When the sessions of `user_id` were last ended by [`Sessions::end_all`], if within
    /// a session's lifetime.
    pub async fn ended_at(&self, user_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        ended_at(self.store.as_ref(), user_id).await
    }

    /// Every session of `user_id` ends (the user was disabled, deleted or deprovisioned).
    /// Sessions are not indexed by user: each is refused at its next request (the caller
    /// forgets the user's cached status), and the listener is told now.
    pub async fn end_user(&self, user_id: i64) {
        if let Some(listener) = &self.listener {
            listener.ended(Ended::User { user_id }).await;
        }
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

/// See [`Session::sid`].
fn sid_of(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("sid:{id}").as_bytes()))
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

    #[tokio::test]
    async fn each_session_has_its_own_form_token() {
        let store: Arc<dyn Store> = Arc::new(crate::session::MemoryStore::new(1 << 20));
        let sessions = Sessions::new(store, Duration::from_secs(60), Duration::from_secs(600));
        let user = SessionUser {
            user_id: 1,
            account: "contoso".into(),
            email: "ann@contoso.com".into(),
            name: String::new(),
            amr: "pwd".into(),
            acr: None,
        };
        let now = Utc::now();
        let a = sessions.create(&user, now).await.unwrap();
        let b = sessions.create(&user, now).await.unwrap();
        assert!(a.csrf_matches(&a.csrf));
        assert!(!a.csrf_matches(&b.csrf) && !a.csrf_matches(""));
        // Kept in the record: the page's token is the one a later request checks.
        let loaded = sessions.load(&a.id, now).await.unwrap().unwrap();
        assert!(loaded.csrf_matches(&a.csrf));
        let old = Session {
            csrf: String::new(),
            ..a
        };
        assert!(
            !old.csrf_matches(""),
            "a record without a token matches nothing"
        );
    }

    #[test]
    fn ids_are_checked_before_lookup() {
        assert!(well_formed(&"a".repeat(ID_LEN)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}:", "a".repeat(ID_LEN - 1))));
    }
}
