//! The one "sessions ended" hook: whatever ends sign-ins (logout, a disabled or deleted
//! user, SCIM deprovisioning, SAML Single Logout) says so through [`Sessions`], which
//! tells the listener the application registered (OpenID Connect back-channel logout, so
//! the apps that got ID tokens end their own sessions too). Callers never call a listener
//! directly: [`Sessions::destroy`] and [`Sessions::end_user`] are the two doors.
//!
//! [`Sessions`]: super::Sessions
//! [`Sessions::destroy`]: super::Sessions::destroy
//! [`Sessions::end_user`]: super::Sessions::end_user

use async_trait::async_trait;

/// What ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// One session (logout, SLO, expiry noticed): its public id and its user.
    Session {
        /// [`Session::sid`](super::Session::sid).
        sid: String,
        /// The user's id.
        user_id: i64,
    },
    /// Every session of a user (disabled, deleted, deprovisioned).
    User {
        /// The user's id.
        user_id: i64,
    },
}

/// Told when sessions end. Must not block its caller on the network: a logout answers
/// the browser at once, whatever the apps do.
#[async_trait]
pub trait SessionsEnded: Send + Sync + 'static {
    /// `what` has ended.
    async fn ended(&self, what: Ended);
}
