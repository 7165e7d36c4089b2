//! The flows' state in the shared store: pending authorization requests (bound to the
//! browser that started them), one-time authorization codes, and refresh-token families
//! with rotation and reuse detection (RFC 9700 §4.14.2).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::{Status, UserStore};
use crate::session::Store;

use super::id_token::{self, OpenIdLogin, SignIn};
use super::subject::Subject;
use super::{ClientSource, OAuthError, TokenKeys, hashed, keys::ACCESS_TTL_SECS, sha256_base64url};
use crate::config::OAuthClient;

/// How long a person may take to sign in between `/oauth2/authorize` and the code.
pub const REQUEST_TTL: Duration = Duration::from_secs(15 * 60);

/// Lifetime of an authorization code: RFC 6749 §4.1.2 recommends at most ten minutes; the
/// app redeems it within a second, so a minute leaves nothing for a thief.
pub const CODE_TTL: Duration = Duration::from_secs(60);

/// Lifetime of a refresh token (and of its family without use).
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Scopes a client may ask for (none is needed), and what the server metadata advertises:
/// `openid` for an ID token (with `profile` and `email`, whose claims every ID token and
/// userinfo answer carry), and refresh tokens. Anything else is refused (`invalid_scope`)
/// rather than granted and silently not honoured.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// A validated authorization request waiting for the person to sign in (see
/// [`AuthorizeRequest::pending`](super::request::AuthorizeRequest::pending)).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// The redirect URI, already checked against the registration.
    pub redirect_uri: String,
    /// PKCE S256 challenge; optional for confidential clients only.
    pub code_challenge: Option<String>,
    /// Echoed back to the client.
    pub state: Option<String>,
    /// The email the app passed, if any.
    pub login_hint: Option<String>,
    /// `scope=openid` was asked: the code also yields an ID token.
    #[serde(default)]
    pub openid: bool,
    /// The OpenID Connect `nonce`, put in the ID token.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The sign-in must have happened at or after this (from `prompt=login` or `max_age`).
    #[serde(default)]
    pub auth_after: Option<DateTime<Utc>>,
    /// SHA-256 of the browser-binding cookie: only the browser that started the request
    /// can turn it into a code, so a link to `/oauth2/resume` sent to a signed-in victim
    /// mints nothing.
    pub binding: String,
}

impl AuthRequest {
    /// Whether a session signed in at `auth_time` satisfies the request's `prompt=login`
    /// or `max_age`.
    pub fn accepts_sign_in(&self, auth_time: DateTime<Utc>) -> bool {
        self.auth_after.is_none_or(|after| auth_time >= after)
    }
}

/// A one-time authorization code's record.
#[derive(Debug, Serialize, Deserialize)]
struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    subject: Subject,
    /// Present when the request asked for `openid`.
    #[serde(default)]
    openid: Option<OpenIdLogin>,
}

/// A refresh token's record.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshRecord {
    family: String,
    client_id: String,
    subject: Subject,
}

/// What a token request is granted (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The JWT access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The next refresh token of the family; none for `client_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The OpenID Connect ID token, for a code granted with `scope=openid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// A token request at `/oauth2/token`.
#[derive(Debug, Clone)]
pub enum Grant {
    /// `authorization_code` (RFC 6749 §4.1.3 + RFC 7636 §4.5).
    AuthorizationCode {
        /// The code.
        code: String,
        /// Must equal the one of the authorization request.
        redirect_uri: String,
        /// PKCE verifier; a confidential client may go without when it sent no challenge.
        code_verifier: Option<String>,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: String,
    },
}

/// The OAuth authorization server.
pub struct OAuth {
    /// Registered clients, from the source chosen at start-up.
    pub clients: Arc<dyn ClientSource>,
    /// The access-token signer.
    pub keys: TokenKeys,
    /// `iss` of every token: the public URL.
    pub issuer: String,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) users: Arc<dyn UserStore>,
}

impl OAuth {
    /// The server over the shared store and user store.
    pub fn new(
        clients: Arc<dyn ClientSource>,
        keys: TokenKeys,
        issuer: String,
        store: Arc<dyn Store>,
        users: Arc<dyn UserStore>,
    ) -> Self {
        Self {
            clients,
            keys,
            issuer,
            store,
            users,
        }
    }

    /// Stores a validated authorization request; answers its id.
    pub async fn begin(&self, request: &AuthRequest) -> Result<String, OAuthError> {
        let id = crate::secrets::random_token();
        let bytes = serde_json::to_vec(request).map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store
            .put(&format!("oauth:req:{id}"), bytes, REQUEST_TTL)
            .await?;
        Ok(id)
    }

    /// The pending request `id`, if it is still waiting.
    pub async fn pending(&self, id: &str) -> Result<Option<AuthRequest>, OAuthError> {
        if id.len() != 43 {
            return Ok(None);
        }
        match self.store.get(&format!("oauth:req:{id}")).await? {
            Some(b) => Ok(serde_json::from_slice(&b).ok()),
            None => Ok(None),
        }
    }

    /// Consumes pending request `id` for the signed-in `subject` and mints a one-time code
    /// (256 random bits, [`CODE_TTL`]) bound to the client, redirect URI, challenge and
    /// user. Refused unless `binding` is the cookie of the browser that started it.
    pub async fn issue_code(
        &self,
        id: &str,
        binding: Option<&str>,
        subject: Subject,
        sign_in: SignIn,
    ) -> Result<(AuthRequest, String), OAuthError> {
        let pending = self
            .pending(id)
            .await?
            .ok_or(OAuthError::InvalidRequest("no such pending request".into()))?;
        let same = binding.is_some_and(|b| {
            subtle::ConstantTimeEq::ct_eq(
                sha256_base64url(b).as_bytes(),
                pending.binding.as_bytes(),
            )
            .into()
        });
        if !same {
            return Err(OAuthError::AccessDenied(
                "request started in another browser",
            ));
        }
        // Taken, not read: two concurrent resumes yield one code.
        if self.store.take(&format!("oauth:req:{id}")).await?.is_none() {
            return Err(OAuthError::InvalidRequest("request already used".into()));
        }
        let code = crate::secrets::random_token();
        let record = CodeRecord {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            code_challenge: pending.code_challenge.clone(),
            subject,
            openid: pending.openid.then(|| OpenIdLogin {
                sign_in,
                nonce: pending.nonce.clone(),
            }),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store
            .put(&hashed("code", &code), bytes, CODE_TTL)
            .await?;
        Ok((pending, code))
    }

    /// The token endpoint for `client`, already authenticated
    /// ([`authenticate`](Self::authenticate)).
    pub async fn token(
        &self,
        client: &OAuthClient,
        grant: Grant,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let client_id = client.client_id.as_str();
        match grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                // Consumed before any check: a code is good for one attempt, so a stolen
                // code cannot be tried against several verifiers (RFC 6749 §4.1.2).
                let bytes = self
                    .store
                    .take(&hashed("code", &code))
                    .await?
                    .ok_or(OAuthError::InvalidGrant("unknown, expired or used code"))?;
                let record: CodeRecord = serde_json::from_slice(&bytes)
                    .map_err(|e| OAuthError::Server(e.to_string()))?;
                if record.client_id != client_id {
                    return Err(OAuthError::InvalidGrant("code issued to another client"));
                }
                if record.redirect_uri != redirect_uri {
                    return Err(OAuthError::InvalidGrant("redirect_uri differs"));
                }
                match (&record.code_challenge, code_verifier) {
                    (Some(challenge), Some(verifier)) => super::verify_pkce(&verifier, challenge)?,
                    (Some(_), None) => {
                        return Err(OAuthError::InvalidRequest(
                            "code_verifier is required (PKCE)".into(),
                        ));
                    }
                    // RFC 9700 §2.1.1: a verifier for a request that had no challenge is a
                    // downgrade attempt, refused.
                    (None, Some(_)) => {
                        return Err(OAuthError::InvalidGrant(
                            "code_verifier for a request without code_challenge",
                        ));
                    }
                    (None, None) => {}
                }
                self.tokens(record.subject, client_id, None, record.openid, now)
                    .await
            }
            Grant::RefreshToken { refresh_token } => {
                self.refresh(client_id, &refresh_token, now).await
            }
        }
    }

    /// Tokens for `subject` (a new refresh-token family unless `family` continues one).
    /// Re-reads the user: a disabled user's family gets nothing more.
    /// With `openid`, the answer also carries the ID token of that sign-in.
    pub async fn tokens(
        &self,
        subject: Subject,
        client_id: &str,
        family: Option<String>,
        openid: Option<OpenIdLogin>,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let user = self.users.by_id(subject.user_id).await?;
        let Some(user) = user.filter(|u| u.status == Status::Active) else {
            return Err(OAuthError::InvalidGrant("user no longer active"));
        };
        let family = match family {
            Some(f) => f,
            None => {
                let f = crate::secrets::random_token();
                let begun =
                    serde_json::to_vec(&now).map_err(|e| OAuthError::Server(e.to_string()))?;
                self.store
                    .put(&format!("oauth:family:{f}"), begun, REFRESH_TTL)
                    .await?;
                f
            }
        };
        let refresh_token = crate::secrets::random_token();
        let record = RefreshRecord {
            family,
            client_id: client_id.to_string(),
            subject: subject.clone(),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store
            .put(&hashed("rt", &refresh_token), bytes, REFRESH_TTL)
            .await?;
        let access_token = self
            .keys
            .access_token(&self.issuer, &subject, client_id, now)?;
        let id_token = match &openid {
            Some(login) => {
                self.remember_rp(login, &user, client_id).await?;
                Some(id_token::mint(
                    &self.keys,
                    &self.issuer,
                    client_id,
                    &user,
                    login,
                    &access_token,
                    now,
                )?)
            }
            None => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ACCESS_TTL_SECS,
            refresh_token: Some(refresh_token),
            id_token,
        })
    }

    /// Rotation: each refresh token is good once and answers the next one of its family.
    /// A token presented a second time means two parties hold it (the app and a thief, and
    /// we cannot tell which is which), so the whole family is revoked.
    async fn refresh(
        &self,
        client_id: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let key = hashed("rt", token);
        let Some(bytes) = self.store.take(&key).await? else {
            if let Some(family) = self.store.get(&hashed("rt-used", token)).await? {
                let family = String::from_utf8_lossy(&family).into_owned();
                self.revoke_family(&family).await?;
                tracing::warn!(target: "audit", event = "refresh_token_reuse", client_id, "a used refresh token came back; its family is revoked");
                return Err(OAuthError::InvalidGrant("refresh token reused"));
            }
            return Err(OAuthError::InvalidGrant("unknown or expired refresh token"));
        };
        let record: RefreshRecord =
            serde_json::from_slice(&bytes).map_err(|e| OAuthError::Server(e.to_string()))?;
        self.store
            .put(
                &hashed("rt-used", token),
                record.family.clone().into_bytes(),
                REFRESH_TTL,
            )
            .await?;
        if record.client_id != client_id {
            self.revoke_family(&record.family).await?;
            return Err(OAuthError::InvalidGrant(
                "refresh token issued to another client",
            ));
        }
        let Some(started) = self
            .store
            .get(&format!("oauth:family:{}", record.family))
            .await?
        else {
            return Err(OAuthError::InvalidGrant("refresh token family revoked"));
        };
        // A family begun before the user's sessions were ended (a password reset) ends
        // with them. Families recorded before their start was kept hold `[1]`, no time.
        let begun: Option<DateTime<Utc>> = serde_json::from_slice(&started).ok();
        if let Some(ended) =
            crate::session::sessions::ended_at(self.store.as_ref(), record.subject.user_id).await?
            && begun.is_some_and(|b| b <= ended)
        {
            self.revoke_family(&record.family).await?;
            return Err(OAuthError::InvalidGrant("the user's sessions were ended"));
        }
        // Refresh the family's lifetime with each use.
        self.store
            .put(
                &format!("oauth:family:{}", record.family),
                started,
                REFRESH_TTL,
            )
            .await?;
        self.tokens(record.subject, client_id, Some(record.family), None, now)
            .await
    }

    async fn revoke_family(&self, family: &str) -> Result<(), OAuthError> {
        self.store.delete(&format!("oauth:family:{family}")).await?;
        Ok(())
    }

    /// RFC 7009: revokes a refresh token (and so its whole family) presented by the client
    /// it was issued to. Unknown tokens and access tokens (self-contained, they expire in
    /// ten minutes) are not an error: the answer must not tell a prober which tokens exist.
    pub async fn revoke(&self, client_id: &str, token: &str) -> Result<(), OAuthError> {
        self.clients.get(client_id).await?;
        let Some(bytes) = self.store.get(&hashed("rt", token)).await? else {
            return Ok(());
        };
        let record: RefreshRecord =
            serde_json::from_slice(&bytes).map_err(|e| OAuthError::Server(e.to_string()))?;
        if record.client_id != client_id {
            // RFC 7009 §2.1: a token of another client is left alone.
            return Ok(());
        }
        self.store.delete(&hashed("rt", token)).await?;
        self.revoke_family(&record.family).await?;
        tracing::info!(target: "audit", event = "token_revoked", client_id, user_id = record.subject.user_id);
        Ok(())
    }
}
