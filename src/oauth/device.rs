//! Device connectors (an MFP in user-prompt mode): the email + password API for password
//! tenants and for AD FS tenants with a WS-Trust endpoint, the device flow's entry points with their rate limits (user codes only through
//! the [`SecretGuard`]), and the per-tenant client IP allow-list every device endpoint
//! applies.
//!
//! The password check is `Login::password_login` itself (same Argon2id work, rate limits
//! and uniform failure), so a connector is no softer a target than the sign-on page; on an
//! AD FS tenant it is the STS's, through `Login::wstrust_login` (same limits and answer).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::discovery::{Email, Route, Tenant};
use crate::login::{Login, LoginError, PasswordAttempt, PasswordOutcome, SsoOutcome};
use crate::session::rate_limit::{Guesser, SecretGuard};
use crate::session::{RateLimitError, Session};

use super::device_flow::{DeviceAuthorization, DeviceRequest};
use super::{OAuth, OAuthError, Subject, TokenResponse};

/// Why a device login gave no tokens.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The client is unknown or the request malformed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The email's organisation signs in with SSO: the connector must use the device
    /// authorization grant, where the person signs in at their IdP on a phone.
    #[error("the domain of this email uses single sign-on ({account})")]
    SsoRequired {
        /// The tenant.
        account: String,
        /// Its button label, for the connector's screen.
        button: Option<String>,
    },
    /// The tenant allows device logins only from its listed networks.
    #[error("client address {0} is not in the tenant's device_allowlist")]
    IpNotAllowed(IpAddr),
    /// The password step refused (uniform for unknown user and wrong password).
    #[error(transparent)]
    Login(#[from] LoginError),
    /// Correct password, but the user awaits approval.
    #[error("user awaits approval")]
    Waiting,
}

/// A limited guess is refused like a limited password (`rate_limited`, 429).
impl From<RateLimitError> for DeviceError {
    fn from(e: RateLimitError) -> Self {
        DeviceError::Login(e.into())
    }
}

/// Refuses `ip` unless `tenant` lists no networks or one containing it.
pub fn check_allowlist(tenant: &Tenant, ip: IpAddr) -> Result<(), DeviceError> {
    if tenant.device_allowlist.is_empty() || tenant.device_allowlist.iter().any(|c| c.contains(ip))
    {
        Ok(())
    } else {
        tracing::info!(target: "audit", event = "device_ip_refused", account = %tenant.account, ip = %ip);
        Err(DeviceError::IpNotAllowed(ip))
    }
}

/// Guesses of user codes are counted in this scope of the rate limiter.
const USER_CODE_SCOPE: &str = "device-code";

/// What device connectors' logins read: the OAuth server that issues their tokens and
/// the login service whose password check they share.
pub struct Devices {
    /// Issues the tokens and keeps the device flows.
    pub oauth: Arc<OAuth>,
    /// The password check and the tenant routes.
    pub login: Arc<Login>,
    /// `/device` on the public URL, shown to the person with the user code.
    pub verification_uri: String,
}

impl Devices {
    /// `POST /api/v1/device/login`: email and password in, tokens out, for password tenants
    /// and for AD FS tenants that set `wstrust_url`. The password step is
    /// [`Login::password_login`] or [`Login::wstrust_login`]; this adds the connector's
    /// client, the allow-list and, for other SSO tenants, the redirection to the device
    /// flow, and trades the session for tokens.
    pub async fn password_tokens(
        &self,
        client_id: &str,
        email: &str,
        password: &str,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, DeviceError> {
        self.oauth.clients.get(client_id).await?;
        // Discovery first (domain only, like every other entry point): an SSO tenant's users
        // have no password here, and a tenant's allow-list applies before any password work.
        if let Ok(parsed) = Email::parse(email) {
            match self
                .login
                .discovery
                .route(&parsed)
                .await
                .map_err(|e| DeviceError::Login(e.into()))?
            {
                Route::Sso(t) => {
                    check_allowlist(&t, client_ip)?;
                    if let Some(endpoint) = t.sso.as_ref().and_then(|s| s.wstrust_url.as_ref()) {
                        let outcome = self
                            .login
                            .wstrust_login(&t, endpoint, &parsed, password, client_ip, now)
                            .await?;
                        return match outcome {
                            SsoOutcome::SignedIn { session, .. } => {
                                self.session_tokens(session, client_id, now).await
                            }
                            SsoOutcome::Waiting(_) => Err(DeviceError::Waiting),
                            // A device login carries no console test mark; were one ever
                            // to come back, it signs nobody in.
                            SsoOutcome::Tested(_) => Err(LoginError::NoPendingRequest.into()),
                        };
                    }
                    return Err(DeviceError::SsoRequired {
                        account: t.account.clone(),
                        button: t.sso.as_ref().map(|s| s.button.clone()),
                    });
                }
                Route::Password(Some(t)) => check_allowlist(&t, client_ip)?,
                Route::Password(None) | Route::OtherRegion { .. } => {}
            }
        }
        let attempt = PasswordAttempt {
            email,
            password,
            client_ip,
            no_sso: None,
        };
        match self.login.password_login(attempt, now).await? {
            PasswordOutcome::SignedIn { session, .. } => {
                self.session_tokens(session, client_id, now).await
            }
            PasswordOutcome::Waiting(_) => Err(DeviceError::Waiting),
        }
    }

    /// The connector's tokens for the login that opened `session`. The connector holds
    /// tokens, not a browser session: the session the login opened is closed rather than
    /// left live until its idle timeout.
    async fn session_tokens(
        &self,
        session: Session,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, DeviceError> {
        self.login
            .sessions
            .destroy(&session.id)
            .await
            .map_err(OAuthError::from)?;
        tracing::info!(target: "audit", event = "device_login", client_id, user_id = session.user_id, account = %session.account, amr = %session.amr);
        let subject = Subject {
            user_id: session.user_id,
            email: session.email,
            account: session.account,
        };
        Ok(self
            .oauth
            .tokens(subject, client_id, None, None, now)
            .await?)
    }

    /// `POST /oauth2/device_authorization`: starts a device flow. With a `login_hint`, the
    /// hinted tenant's allow-list applies at once.
    pub async fn authorize(
        &self,
        client_id: &str,
        login_hint: Option<&str>,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<DeviceAuthorization, DeviceError> {
        self.oauth.clients.get(client_id).await?;
        let hint = match login_hint.filter(|h| !h.is_empty()) {
            Some(h) => Some(
                Email::parse(h)
                    .map_err(|e| OAuthError::InvalidRequest(format!("login_hint: {e}")))?,
            ),
            None => None,
        };
        if let Some(email) = &hint {
            match self
                .login
                .discovery
                .route(email)
                .await
                .map_err(LoginError::from)?
            {
                Route::Sso(t) | Route::Password(Some(t)) => check_allowlist(&t, client_ip)?,
                _ => {}
            }
        }
        Ok(self
            .oauth
            .device_authorize(
                client_id,
                hint.map(|e| e.to_string()),
                self.verification_uri.clone(),
                now,
            )
            .await?)
    }

    /// A poll at the token endpoint: once approved, tokens, if the approving user's tenant
    /// allows the polling address.
    pub async fn poll(
        &self,
        client_id: &str,
        device_code: &str,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, DeviceError> {
        let subject = self.oauth.device_poll(client_id, device_code, now).await?;
        let tenant = self
            .login
            .discovery
            .directory
            .by_account(&subject.account)
            .await
            .map_err(LoginError::from)?;
        if let Some(t) = tenant {
            check_allowlist(&t, client_ip)?;
        }
        tracing::info!(target: "audit", event = "device_grant", client_id, user_id = subject.user_id, account = %subject.account);
        Ok(self
            .oauth
            .tokens(subject, client_id, None, None, now)
            .await?)
    }

    /// The flow of a user code typed on `/device` or posted to `/device/decide`. Every lookup
    /// goes through the [`SecretGuard`], per client address and per session, with growing
    /// lockouts after wrong codes: the code is short enough to type, so guessing must be slowed
    /// to a crawl wherever a code is accepted.
    pub async fn lookup(
        &self,
        user_code: &str,
        who: Guesser<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<DeviceRequest>, DeviceError> {
        SecretGuard::new(&self.login.limiter, USER_CODE_SCOPE)
            .lookup(who, now, async {
                Ok(self.oauth.device_lookup(user_code, now).await?)
            })
            .await
    }

    /// The signed-in person's decision on the flow of a typed user code: the code is found
    /// as [`lookup`](Self::lookup) finds it, then approving and denying need the same (see
    /// [`device_decide`](super::OAuth::device_decide)).
    pub async fn decide(
        &self,
        user_code: &str,
        approve: bool,
        subject: Subject,
        who: Guesser<'_>,
        now: DateTime<Utc>,
    ) -> Result<DeviceRequest, DeviceError> {
        let request = self
            .lookup(user_code, who, now)
            .await?
            .ok_or(OAuthError::InvalidGrant("unknown, expired or decided code"))?;
        self.oauth
            .device_decide(&request, approve, subject, now)
            .await?;
        Ok(request)
    }
}
