//! The device authorization grant (RFC 8628): the device gets a `device_code` to poll with
//! and a short `user_code` the person types (or scans) on their phone, where they sign in
//! (SSO or password) and approve; the device's poll then gets tokens.
//!
//! Three records per flow, so that no write can undo another: the immutable request, the
//! decision (written once, with `put_if_absent`), and the poll throttle.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{OAuth, OAuthError, Subject, hashed};

/// How long the person has to approve (RFC 8628 §3.2 `expires_in`).
pub const DEVICE_TTL: Duration = Duration::from_secs(10 * 60);

/// How long an expired request is still recognised, to answer `expired_token` rather than
/// `invalid_grant` to a device that polls on.
const GRACE: Duration = Duration::from_secs(10 * 60);

/// Minimum seconds between polls, and the step `slow_down` adds (RFC 8628 §3.5).
pub const INTERVAL_SECS: u64 = 5;

/// Characters of a user code: upper-case consonants only (RFC 8628 §6.1): no vowels, so no
/// words; no 0/O or 1/I/L look-alikes; typeable on any keyboard. 20 symbols, 8 of them:
/// 34.5 bits, for a code that lives ten minutes behind a rate-limited form.
pub const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKMNPQRSTVWXZ2";

/// What `/oauth2/device_authorization` answers.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceAuthorization {
    /// Secret the device polls with (256 bits).
    pub device_code: String,
    /// What the person types, `XXXX-XXXX`.
    pub user_code: String,
    /// Where they type it.
    pub verification_uri: String,
    /// The same with the code filled in (for a QR code).
    pub verification_uri_complete: String,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// The immutable part of a flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceRequest {
    /// The client polling.
    pub client_id: String,
    /// The user code, formatted.
    pub user_code: String,
    /// The email typed on the device, if any: only that user may approve.
    pub login_hint: Option<String>,
    /// Expiry (Unix seconds).
    pub expires_at: i64,
    /// Store key of the request (derived from the device code).
    key: String,
}

/// The person's decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Decision {
    Approved(Subject),
    Denied,
}

/// Poll throttle state.
#[derive(Debug, Serialize, Deserialize)]
struct Throttle {
    last_ms: i64,
    interval: u64,
}

/// A fresh user code, `XXXX-XXXX`.
fn new_user_code() -> String {
    let mut rng = rand::rng();
    let c: String = (0..8)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &c[..4], &c[4..])
}

/// A typed user code in canonical form: case, spaces and dashes forgiven; `None` when it
/// cannot be one of ours (so junk costs no store round trip).
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let c: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (c.len() == 8 && c.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &c[..4], &c[4..]))
}

/// `verification_uri` with the user code filled in (RFC 8628 §3.3.1): one function for the
/// device authorization answer and the QR code on `/device`, so the two cannot differ.
pub fn verification_uri_complete(verification_uri: &str, user_code: &str) -> String {
    format!(
        "{verification_uri}?user_code={}",
        form_urlencoded::byte_serialize(user_code.as_bytes()).collect::<String>()
    )
}

impl OAuth {
    /// Starts a flow for `client_id` (RFC 8628 §3.1–3.2).
    pub async fn device_authorize(
        &self,
        client_id: &str,
        login_hint: Option<String>,
        verification_uri: String,
        now: DateTime<Utc>,
    ) -> Result<DeviceAuthorization, OAuthError> {
        self.clients.get(client_id).await?;
        let device_code = crate::secrets::random_token();
        let key = hashed("device", &device_code);
        // A fresh user code not in use (collisions are rare: retry a few times).
        let mut user_code = new_user_code();
        let mut placed = false;
        for _ in 0..5 {
            if self
                .store
                .put_if_absent(
                    &format!("oauth:user-code:{user_code}"),
                    key.clone().into_bytes(),
                    DEVICE_TTL,
                )
                .await?
            {
                placed = true;
                break;
            }
            user_code = new_user_code();
        }
        if !placed {
            return Err(OAuthError::Server("no free user code".into()));
        }
        let request = DeviceRequest {
            client_id: client_id.into(),
            user_code: user_code.clone(),
            login_hint,
            expires_at: now.timestamp() + DEVICE_TTL.as_secs() as i64,
            key: key.clone(),
        };
        let bytes = serde_json::to_vec(&request).map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store.put(&key, bytes, DEVICE_TTL + GRACE).await?;
        let complete = verification_uri_complete(&verification_uri, &user_code);
        Ok(DeviceAuthorization {
            device_code,
            user_code,
            verification_uri,
            verification_uri_complete: complete,
            expires_in: DEVICE_TTL.as_secs(),
            interval: INTERVAL_SECS,
        })
    }

    /// The pending flow of a typed user code, if it is live and undecided. The code is
    /// guessable: callers go through [`Devices::lookup`](super::device::Devices::lookup), which counts
    /// the misses.
    pub(crate) async fn device_lookup(
        &self,
        user_code: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRequest>, OAuthError> {
        let Some(code) = normalize_user_code(user_code) else {
            return Ok(None);
        };
        let Some(key) = self.store.get(&format!("oauth:user-code:{code}")).await? else {
            return Ok(None);
        };
        let key = String::from_utf8_lossy(&key).into_owned();
        let Some(bytes) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let request: DeviceRequest =
            serde_json::from_slice(&bytes).map_err(|e| OAuthError::Server(e.to_string()))?;
        if request.expires_at <= now.timestamp()
            || self.store.get(&format!("{key}:decision")).await?.is_some()
        {
            return Ok(None);
        }
        Ok(Some(request))
    }

    /// Records the signed-in person's decision on a flow found by
    /// [`Devices::lookup`](super::device::Devices::lookup), once. Approving and denying need the
    /// same: when the device named an email, only that user may decide. Someone else's
    /// approval would hand their account to a device the named user is standing at; their
    /// denial would let anyone signed in cancel any waiting device.
    pub async fn device_decide(
        &self,
        request: &DeviceRequest,
        approve: bool,
        subject: Subject,
        now: DateTime<Utc>,
    ) -> Result<(), OAuthError> {
        if request
            .login_hint
            .as_deref()
            .is_some_and(|h| !h.eq_ignore_ascii_case(&subject.email))
        {
            return Err(OAuthError::AccessDenied(
                "signed in as another user than the device named",
            ));
        }
        let decision = if approve {
            Decision::Approved(subject)
        } else {
            Decision::Denied
        };
        let bytes = serde_json::to_vec(&decision).map_err(|e| OAuthError::Server(e.to_string()))?;
        let remaining =
            Duration::from_secs(u64::try_from(request.expires_at - now.timestamp()).unwrap_or(0))
                + GRACE;
        if !self
            .store
            .put_if_absent(&format!("{}:decision", request.key), bytes, remaining)
            .await?
        {
            return Err(OAuthError::InvalidGrant("already decided"));
        }
        self.store
            .delete(&format!("oauth:user-code:{}", request.user_code))
            .await?;
        Ok(())
    }

    /// One poll of the device (RFC 8628 §3.4–3.5). Answers the approving user once; the
    /// tokens are issued by the caller, after the allow-list of that user's tenant.
    pub async fn device_poll(
        &self,
        client_id: &str,
        device_code: &str,
        now: DateTime<Utc>,
    ) -> Result<Subject, OAuthError> {
        self.clients.get(client_id).await?;
        let key = hashed("device", device_code);
        let Some(bytes) = self.store.get(&key).await? else {
            return Err(OAuthError::InvalidGrant("unknown device_code"));
        };
        let request: DeviceRequest =
            serde_json::from_slice(&bytes).map_err(|e| OAuthError::Server(e.to_string()))?;
        if request.client_id != client_id {
            return Err(OAuthError::InvalidGrant("device_code of another client"));
        }
        if request.expires_at <= now.timestamp() {
            return Err(OAuthError::ExpiredToken);
        }
        // Throttle: a poll sooner than the interval is answered `slow_down`, and the
        // interval grows by 5 s for the rest of the flow.
        let throttle_key = format!("{key}:poll");
        let mut interval = INTERVAL_SECS;
        if let Some(b) = self.store.get(&throttle_key).await?
            && let Ok(t) = serde_json::from_slice::<Throttle>(&b)
        {
            interval = t.interval;
            if now.timestamp_millis() - t.last_ms < (t.interval as i64) * 1000 {
                interval += INTERVAL_SECS;
                self.save_throttle(&throttle_key, now, interval).await?;
                return Err(OAuthError::SlowDown);
            }
        }
        self.save_throttle(&throttle_key, now, interval).await?;
        let decision = match self.store.get(&format!("{key}:decision")).await? {
            None => return Err(OAuthError::AuthorizationPending),
            Some(b) => serde_json::from_slice::<Decision>(&b)
                .map_err(|e| OAuthError::Server(e.to_string()))?,
        };
        match decision {
            Decision::Denied => Err(OAuthError::AccessDenied("the person denied the device")),
            Decision::Approved(subject) => {
                // One device code, one set of tokens: taken atomically.
                if self.store.take(&key).await?.is_none() {
                    return Err(OAuthError::InvalidGrant("device_code already used"));
                }
                Ok(subject)
            }
        }
    }

    async fn save_throttle(
        &self,
        key: &str,
        now: DateTime<Utc>,
        interval: u64,
    ) -> Result<(), OAuthError> {
        let bytes = serde_json::to_vec(&Throttle {
            last_ms: now.timestamp_millis(),
            interval,
        })
        .map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store.put(key, bytes, DEVICE_TTL + GRACE).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_unambiguous_and_forgiving() {
        for _ in 0..100 {
            let c = new_user_code();
            assert_eq!(c.len(), 9);
            assert_eq!(normalize_user_code(&c).as_deref(), Some(c.as_str()));
            assert!(!c.contains(['A', 'E', 'I', 'O', 'U', '0', '1', 'L']));
        }
        assert_eq!(
            normalize_user_code("bcdf ghjk").as_deref(),
            Some("BCDF-GHJK")
        );
        assert!(normalize_user_code("BCDF-GHJ").is_none());
        assert!(normalize_user_code("BCDF-GHJO").is_none());
    }
}
