//! OAuth 2.0 for native apps (RFC 6749, RFC 8252) with PKCE (RFC 7636): registered public
//! clients, pending authorization requests bound to a browser, one-time authorization
//! codes, ES256 access tokens and rotating refresh tokens with reuse detection; and the
//! OpenID Connect provider on top of it for web apps: ID tokens, userinfo, confidential
//! and service clients, RP-initiated and back-channel logout.
//!
//! The protocol decisions live here; `web::{authorize, token, device}` parse requests and
//! render answers.
//! Every short-lived record (pending request, code, refresh token) sits in the shared
//! [`Store`](crate::session::Store), so any instance behind a load balancer can finish a
//! flow another one started.
//!
//! # Layout
//! - this file: errors with their RFC 6749 codes, redirect URI rules, PKCE.
//! - [`clients`]: where clients are looked up: the configuration's, then the management
//!   API's in the users' database.
//! - [`request`]: the checks of an authorization request and of a token request's grant.
//! - [`keys`]: the ES256 signing key (generated once into `data_dir`), JWT access tokens,
//!   the JWKS.
//! - [`grants`]: pending authorization requests, codes, refresh-token families.
//! - [`device_flow`]: the device authorization grant (RFC 8628).
//! - [`device`]: the MFP email + password API and the per-tenant device IP allow-list.
//! - [`service`]: `client_credentials` for service clients bound to one account.
//! - [`client_auth`]: client authentication (secrets, `private_key_jwt`).
//! - [`id_token`]: OpenID Connect ID tokens and userinfo claims.
//! - [`discovery_doc`]: the OpenID Provider metadata.
//! - [`logout`]: RP-initiated logout and back-channel logout tokens.

pub mod client_auth;
pub mod clients;
pub mod device;
pub mod device_flow;
pub mod discovery_doc;
pub mod grants;
pub mod id_token;
pub mod keys;
pub mod logout;
pub mod request;
pub mod service;
pub mod subject;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::OAuthClient;
use crate::session::StoreError;

pub use clients::{ClientSource, Clients, Layered};
pub use grants::{AuthRequest, Grant, OAuth, TokenResponse};
pub use keys::{AccessClaims, TokenKeys};
pub use subject::Subject;

/// Why an OAuth request was refused. Each variant maps to one RFC 6749 error code; the
/// message is for the log and for `error_description` (it never names a user).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated, malformed or unsupported (RFC 6749 §4.1.2.1, §5.2).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Unknown `client_id` (RFC 6749 §5.2).
    #[error("unknown client")]
    InvalidClient,
    /// The code or refresh token is invalid, expired, used, revoked, issued to another
    /// client or redirect URI, or the PKCE verifier does not match (RFC 6749 §5.2).
    #[error("invalid grant: {0}")]
    InvalidGrant(&'static str),
    /// A grant type this server does not implement.
    #[error("unsupported grant type {0:?}")]
    UnsupportedGrantType(String),
    /// A `response_type` other than `code` (RFC 6749 §4.1.2.1).
    #[error("unsupported response type {0:?}")]
    UnsupportedResponseType(String),
    /// A scope this server does not grant.
    #[error("invalid scope {0:?}")]
    InvalidScope(String),
    /// The client may not use this grant or endpoint.
    #[error("unauthorized client: {0}")]
    UnauthorizedClient(&'static str),
    /// The person (or the policy) refused.
    #[error("access denied: {0}")]
    AccessDenied(&'static str),
    /// The redirect URI is not one registered for the client. Never redirected to: this is
    /// what stops the authorize endpoint from being an open redirector (RFC 6749 §4.1.2.1).
    #[error("redirect_uri not registered for this client")]
    BadRedirectUri,
    /// Device grant: the person has not decided yet (RFC 8628 §3.5).
    #[error("authorization pending")]
    AuthorizationPending,
    /// Device grant: polling faster than the interval (RFC 8628 §3.5).
    #[error("polling too fast")]
    SlowDown,
    /// Device grant: the device code expired (RFC 8628 §3.5).
    #[error("device code expired")]
    ExpiredToken,
    /// `prompt=none` and no (fresh enough) session (OpenID Connect Core §3.1.2.6).
    #[error("login required")]
    LoginRequired,
    /// A bearer token that is not a live access token of ours (RFC 6750 §3.1).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// A backend (store, database, signer) failed.
    #[error("server error: {0}")]
    Server(String),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl From<crate::accounts::AccountsError> for OAuthError {
    fn from(e: crate::accounts::AccountsError) -> Self {
        OAuthError::Server(e.to_string())
    }
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::BadRedirectUri => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType(_) => "unsupported_response_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::AuthorizationPending => "authorization_pending",
            OAuthError::SlowDown => "slow_down",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::LoginRequired => "login_required",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::Server(_) => "server_error",
        }
    }

    /// HTTP status at the token endpoint: 401 for client authentication failures, 500 for
    /// our own, 400 for the rest (RFC 6749 §5.2).
    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient | OAuthError::InvalidToken(_) => 401,
            OAuthError::Server(_) => 500,
            _ => 400,
        }
    }
}

/// Whether `requested` is one of `client`'s redirect URIs.
///
/// Exact string comparison (RFC 6749 §3.1.2.2, RFC 8252 §8.10: no prefix or pattern
/// matching, which is how authorization codes leak to attacker-controlled paths), with one
/// exception: a registered loopback IP URI (`http://127.0.0.1/…` or `http://[::1]/…`)
/// matches any port, because a native app binds whatever port is free (RFC 8252 §7.3).
/// `localhost` gets no such latitude: the name may resolve elsewhere (RFC 8252 §8.3).
pub fn redirect_uri_allowed(client: &OAuthClient, requested: &str) -> bool {
    client.redirect_uris.iter().any(|registered| {
        if registered == requested {
            return true;
        }
        let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
            return false;
        };
        let loopback = |u: &Url| {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]"))
                && u.username().is_empty()
                && u.password().is_none()
                && u.fragment().is_none()
        };
        loopback(&reg)
            && loopback(&req)
            && reg.host_str() == req.host_str()
            && reg.path() == req.path()
            && reg.query() == req.query()
            && req.port().is_some()
    })
}

/// A PKCE challenge as the client sends it: BASE64URL(SHA256(verifier)), 43 characters.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), OAuthError> {
    // `plain` would hand the secret itself through the browser, where a malicious app on
    // the same device can read it; RFC 8252 §8.1 and OAuth 2.1 require S256.
    match method {
        Some("S256") => {}
        Some(m) => {
            return Err(OAuthError::InvalidRequest(format!(
                "code_challenge_method {m:?} refused: only S256"
            )));
        }
        None => {
            return Err(OAuthError::InvalidRequest(
                "code_challenge_method is required (S256)".into(),
            ));
        }
    }
    if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
        return Err(OAuthError::InvalidRequest(
            "code_challenge must be BASE64URL(SHA256(verifier))".into(),
        ));
    }
    Ok(())
}

/// Whether `verifier` hashes to `challenge` (RFC 7636 §4.6), compared in constant time so
/// the comparison leaks nothing about how much of a guess was right.
pub fn verify_pkce(verifier: &str, challenge: &str) -> Result<(), OAuthError> {
    // RFC 7636 §4.1: 43 to 128 unreserved characters.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(OAuthError::InvalidGrant("malformed code_verifier"));
    }
    let computed = sha256_base64url(verifier);
    if subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into() {
        Ok(())
    } else {
        Err(OAuthError::InvalidGrant("code_verifier does not match"))
    }
}

/// BASE64URL(SHA-256(`value`)) without padding: the PKCE S256 transform (RFC 7636 §4.2),
/// and how every secret of the flows is kept in the store (a dump of it then hands out no
/// live code, token or binding cookie).
pub fn sha256_base64url(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// A store key for a secret: its [`sha256_base64url`].
pub(crate) fn hashed(prefix: &str, secret: &str) -> String {
    format!("oauth:{prefix}:{}", sha256_base64url(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> OAuthClient {
        OAuthClient {
            client_id: "app".into(),
            redirect_uris: vec![
                "com.example.app:/cb".into(),
                "http://127.0.0.1/callback".into(),
                "https://app.example.com/cb".into(),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        let c = client();
        assert!(redirect_uri_allowed(&c, "com.example.app:/cb"));
        assert!(redirect_uri_allowed(&c, "https://app.example.com/cb"));
        assert!(redirect_uri_allowed(&c, "http://127.0.0.1:51234/callback"));
        assert!(!redirect_uri_allowed(&c, "com.example.app:/cb/x"));
        assert!(!redirect_uri_allowed(&c, "https://app.example.com/cb?x=1"));
        assert!(!redirect_uri_allowed(&c, "https://app.example.com:8443/cb"));
        assert!(!redirect_uri_allowed(&c, "http://127.0.0.1:5000/other"));
        assert!(!redirect_uri_allowed(&c, "http://localhost:5000/callback"));
        assert!(!redirect_uri_allowed(
            &c,
            "http://evil@127.0.0.1:5000/callback"
        ));
        assert!(!redirect_uri_allowed(&c, "https://127.0.0.1:5000/callback"));
    }

    #[test]
    fn pkce_s256_only_and_verified() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_challenge(challenge, Some("S256")).is_ok());
        assert!(check_challenge(challenge, Some("plain")).is_err());
        assert!(check_challenge(challenge, None).is_err());
        assert!(verify_pkce(verifier, challenge).is_ok());
        let mut tampered = verifier.to_string();
        tampered.replace_range(0..1, "e");
        assert!(verify_pkce(&tampered, challenge).is_err());
        assert!(verify_pkce("short", challenge).is_err());
    }
}
