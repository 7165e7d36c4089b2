//! One-time links mailed to people: password reset (30 minutes) and the invitation's
//! set-password link (7 days). The link carries a random 256-bit token; the store keeps
//! only its SHA-256, so a dump of the store (or of its keys) holds no usable link. A link
//! is read without being spent to show its form ([`Links::peek`]) and spent atomically
//! when the form is sent ([`Links::redeem`]): of two concurrent uses, one wins.
//!
//! Each link records when it was issued; one issued before the user's credentials last
//! changed ([`Sessions::end_all`]) is refused, so a reset kills every older link.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Sessions, Store, StoreError};

/// How long a password-reset link works.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);

/// How long an invitation's set-password link works.
pub const INVITE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why the link was sent; the set-password page says the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// "Forgot password?".
    Reset,
    /// An administrator's invitation to a password tenant.
    Invite,
}

/// What a link lets its holder do: set the password of this user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaim {
    /// The user's database id.
    pub user_id: i64,
    /// The user's account, re-checked against the user when the link is spent.
    pub account: String,
    /// Why it was sent.
    pub purpose: Purpose,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
}

/// Issues and spends one-time links.
#[derive(Clone)]
pub struct Links {
    store: Arc<dyn Store>,
    sessions: Sessions,
}

impl Links {
    /// Links in `store`, checked against the credential changes `sessions` records.
    pub fn new(store: Arc<dyn Store>, sessions: Sessions) -> Self {
        Self { store, sessions }
    }

    /// A new token for `claim`, live for `ttl` (by purpose: [`RESET_TTL`], [`INVITE_TTL`]).
    pub async fn issue(&self, claim: &LinkClaim, ttl: Duration) -> Result<String, StoreError> {
        let token = crate::secrets::random_token();
        let bytes = serde_json::to_vec(claim).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.put(&key(&token), bytes, ttl).await?;
        Ok(token)
    }

    /// The claim of a live link, without spending it (to show the form).
    pub async fn peek(&self, token: &str) -> Result<Option<LinkClaim>, StoreError> {
        if !well_formed(token) {
            return Ok(None);
        }
        let claim = self.store.get(&key(token)).await?;
        self.live(claim).await
    }

    /// Spends a link: its claim the first time, `None` ever after (or when expired, or
    /// issued before the user's credentials last changed).
    pub async fn redeem(&self, token: &str) -> Result<Option<LinkClaim>, StoreError> {
        if !well_formed(token) {
            return Ok(None);
        }
        let claim = self.store.take(&key(token)).await?;
        self.live(claim).await
    }

    async fn live(&self, bytes: Option<Vec<u8>>) -> Result<Option<LinkClaim>, StoreError> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let claim: LinkClaim =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match self.sessions.ended_at(claim.user_id).await? {
            Some(ended) if claim.issued_at <= ended => Ok(None),
            _ => Ok(Some(claim)),
        }
    }
}

/// Only tokens we could have minted reach the store.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn key(token: &str) -> String {
    format!(
        "link:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::MemoryStore;

    fn links() -> (Links, Sessions) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(1 << 20));
        let sessions = Sessions::new(
            store.clone(),
            Duration::from_secs(60),
            Duration::from_secs(600),
        );
        (Links::new(store, sessions.clone()), sessions)
    }

    fn claim(issued_at: DateTime<Utc>) -> LinkClaim {
        LinkClaim {
            user_id: 7,
            account: "fabrikam".into(),
            purpose: Purpose::Reset,
            issued_at,
        }
    }

    #[tokio::test]
    async fn a_link_is_spent_once_and_peeking_spends_nothing() {
        let (links, _) = links();
        let token = links.issue(&claim(Utc::now()), RESET_TTL).await.unwrap();
        assert!(links.peek(&token).await.unwrap().is_some());
        assert!(links.peek(&token).await.unwrap().is_some());
        assert_eq!(links.redeem(&token).await.unwrap().unwrap().user_id, 7);
        assert!(links.redeem(&token).await.unwrap().is_none());
        assert!(links.peek(&token).await.unwrap().is_none());
        assert!(links.redeem("not-a-token").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn links_issued_before_a_credential_change_are_dead() {
        let (links, sessions) = links();
        let before = Utc::now() - chrono::Duration::seconds(5);
        let old = links.issue(&claim(before), RESET_TTL).await.unwrap();
        sessions.end_all(7, Utc::now()).await.unwrap();
        let new = links
            .issue(&claim(Utc::now() + chrono::Duration::seconds(1)), RESET_TTL)
            .await
            .unwrap();
        assert!(links.redeem(&old).await.unwrap().is_none());
        assert!(links.redeem(&new).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_expired_link_is_refused() {
        let (links, _) = links();
        let token = links
            .issue(&claim(Utc::now()), Duration::from_millis(20))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(links.redeem(&token).await.unwrap().is_none());
    }
}
