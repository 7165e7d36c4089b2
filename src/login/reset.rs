//! Password reset for password tenants, and the set-password page of a one-time link
//! (a reset's, 30 minutes, or an invitation's, 7 days: the same mechanism).
//!
//! Asking for a link answers the same whatever the address: the lookup and the mail
//! happen in a task of their own after the answer, so neither the page nor its timing
//! says whether the address has an account. Requests are limited per client address and
//! per typed address (`session::rate_limit`), known or not. Setting the password spends
//! the link, applies the policy of hand-added users (`accounts::MIN_PASSWORD_CHARS`), and
//! ends the user's other sessions, refresh tokens and older links (`Sessions::end_all`).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Login, LoginError};
use crate::accounts::{MIN_PASSWORD_CHARS, Status, User};
use crate::discovery::{Email, Route};
use crate::i18n::Lang;
use crate::session::links::RESET_TTL;
use crate::session::{LinkClaim, Purpose};

/// The path of the set-password page; the token follows as `?token=`.
pub const SET_PASSWORD_PATH: &str = "/password/set";

impl Login {
    /// Asks for a reset link for `email`, mailed in `lang` if the address is a user of a
    /// password tenant. `Ok` says nothing about the address; only a rate limit or a store
    /// failure (the same for every address) is an error.
    pub async fn request_reset(
        self: &Arc<Self>,
        email: &Email,
        lang: Lang,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), LoginError> {
        self.limiter
            .check("reset-ip", &client_ip.to_string(), now)
            .await?;
        self.reset_limiter
            .check("reset-address", &email.as_str().to_lowercase(), now)
            .await?;
        let login = Arc::clone(self);
        let email = email.clone();
        tokio::spawn(async move {
            if let Err(e) = login.send_reset(&email, lang, now).await {
                tracing::warn!(domain = email.domain(), reason = %e, "password reset not sent");
            }
        });
        Ok(())
    }

    /// The part of a reset request done after the answer.
    async fn send_reset(
        &self,
        email: &Email,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<(), LoginError> {
        let Route::Password(Some(tenant)) = self.discovery.route(email).await? else {
            tracing::info!(target: "audit", event = "password_reset_ignored", reason = "not a password tenant", domain = email.domain());
            return Ok(());
        };
        let user = self.users.by_email(&tenant.account, email).await?;
        let Some(user) = user.filter(|u| u.status != Status::Disabled) else {
            tracing::info!(target: "audit", event = "password_reset_ignored", reason = "no such user, or disabled", account = %tenant.account);
            return Ok(());
        };
        let claim = LinkClaim {
            user_id: user.id,
            account: user.account.clone(),
            purpose: Purpose::Reset,
            issued_at: now,
        };
        // The language asked in is the person's now, for their later mail too.
        self.users.set_lang(user.id, lang).await?;
        let token = self.links.issue(&claim, RESET_TTL).await?;
        let url = self
            .outreach
            .url(&format!("{SET_PASSWORD_PATH}?token={token}"));
        tracing::info!(target: "audit", event = "password_reset_requested", account = %user.account, email = %user.email, user_id = user.id);
        self.outreach.send_later(
            "password_reset",
            self.outreach
                .letters
                .password_reset(&user.email, lang, &url),
        );
        Ok(())
    }

    /// The user a live link lets set a password, without spending it (to show the form).
    pub async fn link_user(&self, token: &str) -> Result<User, LoginError> {
        let claim = self
            .links
            .peek(token)
            .await?
            .ok_or(LoginError::LinkInvalid)?;
        self.link_target(&claim).await
    }

    /// Sets the password of the link's user: checks the two typed passwords first (a typo
    /// does not spend the link), then spends the link, stores the new hash and ends every
    /// session, refresh token and link of the user from before now.
    pub async fn set_password(
        &self,
        token: &str,
        password: &str,
        confirm: &str,
        now: DateTime<Utc>,
    ) -> Result<User, LoginError> {
        if password != confirm {
            return Err(LoginError::PasswordMismatch);
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(LoginError::WeakPassword);
        }
        let claim = self
            .links
            .redeem(token)
            .await?
            .ok_or(LoginError::LinkInvalid)?;
        let user = self.link_target(&claim).await?;
        let hash = self.passwords.hash(password).await?;
        self.users.set_password_hash(user.id, Some(&hash)).await?;
        self.sessions.end_all(user.id, now).await?;
        // A lockout earned by whoever guessed at the old password does not lock out the
        // owner who just proved their mailbox.
        self.limiter
            .success("password", &user.email.as_str().to_ascii_lowercase())
            .await?;
        tracing::info!(target: "audit", event = "password_set", purpose = ?claim.purpose, account = %user.account, email = %user.email, user_id = user.id);
        Ok(user)
    }

    /// The user of a claim, as it is now: still of the claimed account and not disabled.
    async fn link_target(&self, claim: &LinkClaim) -> Result<User, LoginError> {
        self.users
            .by_id(claim.user_id)
            .await?
            .filter(|u| u.account == claim.account && u.status != Status::Disabled)
            .ok_or(LoginError::LinkInvalid)
    }
}
