//! Logout for the apps: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0: the
//! `end_session_endpoint` checks `id_token_hint` and the registered
//! `post_logout_redirect_uris`) and back-channel logout (OpenID Connect Back-Channel
//! Logout 1.0): when a session ends, every client that got an ID token from it and
//! registered a `backchannel_logout_uri` receives a signed logout token.
//!
//! Which clients to tell is remembered in the shared store when an ID token is issued,
//! per session (`sid`) and per user, so any instance can deliver, whichever issued.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::session::ended::{Ended, SessionsEnded};

use super::grants::REFRESH_TTL;
use super::id_token::{ID_TYP, IdClaims, OpenIdLogin};
use super::{OAuth, OAuthError};

/// The event a logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The JOSE `typ` of a logout token (Back-Channel Logout §2.4, RFC 8725 §3.11).
pub const LOGOUT_TYP: &str = "logout+jwt";

/// How long a logout token is valid: it is delivered at once or not at all.
const LOGOUT_TTL_SECS: i64 = 120;

/// How long one delivery may take: a slow app must not hold a task forever.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The claims of a logout token (Back-Channel Logout §2.4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogoutClaims {
    /// This gateway.
    pub iss: String,
    /// The client told.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique id, for the app's replay check.
    pub jti: String,
    /// The user.
    pub sub: String,
    /// The session; absent when every session of the user ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `{BACKCHANNEL_EVENT: {}}`.
    pub events: serde_json::Value,
}

/// What the end-session endpoint decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSession {
    /// The user the hint named, whose session (if it is this browser's) ends.
    pub user_id: Option<i64>,
    /// Where to send the browser afterwards (registered for the hint's client), with the
    /// app's `state`; `None`: show the signed-out page.
    pub redirect: Option<String>,
}

impl OAuth {
    /// Remembers that `client_id` got an ID token from `login`'s session of `user`, when
    /// the client registered a back-channel logout URI.
    pub(super) async fn remember_rp(
        &self,
        login: &OpenIdLogin,
        user: &User,
        client_id: &str,
    ) -> Result<(), OAuthError> {
        if self
            .clients
            .get(client_id)
            .await?
            .backchannel_logout_uri
            .is_none()
        {
            return Ok(());
        }
        // No session outlives a refresh-token family: the longest an app can hold one.
        self.store
            .put(
                &sid_key(&login.sign_in.sid, client_id),
                user.id.to_string().into_bytes(),
                REFRESH_TTL,
            )
            .await?;
        self.store
            .put(&user_key(user.id, client_id), vec![1], REFRESH_TTL)
            .await?;
        Ok(())
    }

    /// RP-initiated logout: checks `id_token_hint` (an ID token we signed, expired or not)
    /// and `post_logout_redirect_uri` (registered, exactly, for the hint's client). A
    /// redirect URI without a valid hint is refused: otherwise the endpoint would be an
    /// open redirector. Without a hint the browser's session still ends only through the
    /// CSRF-protected sign-out form, which the caller shows.
    pub async fn end_session(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        client_id: Option<&str>,
        state: Option<&str>,
    ) -> Result<EndSession, OAuthError> {
        let Some(hint) = id_token_hint else {
            if post_logout_redirect_uri.is_some() {
                return Err(OAuthError::InvalidRequest(
                    "post_logout_redirect_uri needs an id_token_hint".into(),
                ));
            }
            return Ok(EndSession {
                user_id: None,
                redirect: None,
            });
        };
        let claims: IdClaims = self
            .keys
            .verify(hint, ID_TYP, &self.issuer, false)
            .map_err(|why| OAuthError::InvalidRequest(format!("id_token_hint: {why}")))?;
        if client_id.is_some_and(|c| c != claims.aud) {
            return Err(OAuthError::InvalidRequest(
                "client_id differs from the id_token_hint's audience".into(),
            ));
        }
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| OAuthError::InvalidRequest("id_token_hint: bad sub".into()))?;
        let redirect = match post_logout_redirect_uri {
            Some(uri) => {
                let client = self.clients.get(&claims.aud).await?;
                if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                    return Err(OAuthError::InvalidRequest(
                        "post_logout_redirect_uri not registered for this client".into(),
                    ));
                }
                let mut url = url::Url::parse(uri).map_err(|_| OAuthError::BadRedirectUri)?;
                if let Some(s) = state {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Some(url.to_string())
            }
            None => None,
        };
        Ok(EndSession {
            user_id: Some(user_id),
            redirect,
        })
    }

    /// The logout token telling `client_id` that `sub`'s session `sid` (or all of them)
    /// ended.
    fn logout_token(
        &self,
        client_id: &str,
        user_id: i64,
        sid: Option<&str>,
    ) -> Result<String, OAuthError> {
        let now = Utc::now().timestamp();
        let claims = LogoutClaims {
            iss: self.issuer.clone(),
            aud: client_id.to_string(),
            iat: now,
            exp: now + LOGOUT_TTL_SECS,
            jti: crate::secrets::random_token(),
            sub: user_id.to_string(),
            sid: sid.map(str::to_string),
            events: serde_json::json!({ BACKCHANNEL_EVENT: {} }),
        };
        self.keys.sign(LOGOUT_TYP, &claims)
    }
}

fn sid_key(sid: &str, client_id: &str) -> String {
    super::hashed("bcl-sid", &format!("{sid}\n{client_id}"))
}

fn user_key(user_id: i64, client_id: &str) -> String {
    super::hashed("bcl-user", &format!("{user_id}\n{client_id}"))
}

/// The back-channel logout sender: the listener of the "sessions ended" hook.
#[derive(Clone)]
pub struct BackChannel {
    oauth: Arc<OAuth>,
    http: reqwest::Client,
}

impl BackChannel {
    /// Delivers `oauth`'s logout tokens.
    pub fn new(oauth: Arc<OAuth>) -> Self {
        // No redirects: a logout URI that redirects must not turn the gateway into a
        // request forwarder (Back-Channel Logout §2.5 has the RP answer 200 itself).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { oauth, http }
    }

    /// The clients to tell about `what`, each with the `sid` its token names. Each entry is
    /// taken, so a session's end is delivered once even when several instances see it.
    async fn recipients(&self, what: &Ended) -> Vec<(String, String, i64, Option<String>)> {
        let mut out = Vec::new();
        let clients = match self.oauth.clients.with_backchannel().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "back-channel logout: the clients could not be read; no app is told");
                return out;
            }
        };
        for client in clients {
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let id = client.client_id.clone();
            let (key, user_id, sid) = match what {
                Ended::Session { sid, user_id } => (sid_key(sid, &id), *user_id, Some(sid.clone())),
                Ended::User { user_id } => (user_key(*user_id, &id), *user_id, None),
            };
            match self.oauth.store.take(&key).await {
                Ok(Some(_)) => out.push((id, uri, user_id, sid)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(client_id = %id, error = %e, "back-channel logout: store unavailable; the app is not told");
                }
            }
        }
        out
    }
}

impl BackChannel {
    /// Tells every app concerned that `what` ended, and waits for the answers (each bounded
    /// by [`DELIVERY_TIMEOUT`]): what the CLI calls, as it exits when it returns.
    pub async fn deliver(&self, what: Ended) {
        let mut sends = tokio::task::JoinSet::new();
        for (client_id, uri, user_id, sid) in self.recipients(&what).await {
            let token = match self.oauth.logout_token(&client_id, user_id, sid.as_deref()) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(client_id, error = %e, "back-channel logout: signing failed");
                    continue;
                }
            };
            let http = self.http.clone();
            sends.spawn(async move {
                let sent = http
                    .post(&uri)
                    .form(&[("logout_token", token.as_str())])
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        tracing::info!(target: "audit", event = "backchannel_logout", client_id, user_id, "the app was told the session ended");
                    }
                    Ok(r) => {
                        tracing::warn!(client_id, user_id, status = r.status().as_u16(), "back-channel logout refused by the app");
                    }
                    Err(e) => {
                        tracing::warn!(client_id, user_id, error = %e, "back-channel logout not delivered");
                    }
                }
            });
        }
        while sends.join_next().await.is_some() {}
    }
}

#[async_trait]
impl SessionsEnded for BackChannel {
    /// Delivered beside the request that ended the session: a slow or dead app never
    /// delays a logout (the answer to the browser does not wait for it).
    async fn ended(&self, what: Ended) {
        let me = self.clone();
        tokio::spawn(async move { me.deliver(what).await });
    }
}
