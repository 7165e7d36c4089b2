//! The checks a request must pass before the server acts on it: the authorization request
//! (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3, and RFC 8252) and the token request's grant
//! (RFC 6749 §4.1.3, §6; RFC 8628 §3.4). `web` hands over the raw parameters and renders
//! what these answer; the order of the checks is part of the policy (see
//! [`AuthorizeError`]).

use std::collections::HashMap;

use crate::discovery::Email;

use super::{AuthRequest, Clients, Grant, OAuthError, grants, sha256_base64url};

/// The device authorization grant type (RFC 8628 §3.4).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Why an authorization request was refused, and so where the refusal may be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The query is malformed, or the client or its redirect URI is not known good: the
    /// refusal is shown to the person and never redirected, so a forged link cannot bounce
    /// anyone to an arbitrary URI (RFC 6749 §4.1.2.1).
    #[error("authorization request refused before its redirect URI was trusted")]
    OnPage(#[source] OAuthError),
    /// Client and redirect URI are good: the refusal goes back to the app, with its
    /// `state` (RFC 6749 §4.1.2.1).
    #[error("authorization request refused, answered at the client's redirect URI")]
    ToClient {
        /// The registered redirect URI the request named.
        redirect_uri: String,
        /// The client's `state`, echoed back.
        state: Option<String>,
        /// What was wrong.
        #[source]
        error: OAuthError,
    },
}

impl AuthorizeError {
    /// The OAuth error itself, for its RFC 6749 code and the log.
    pub fn oauth(&self) -> &OAuthError {
        match self {
            AuthorizeError::OnPage(e) | AuthorizeError::ToClient { error: e, .. } => e,
        }
    }
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// A registered client.
    pub client_id: String,
    /// One of that client's redirect URIs.
    pub redirect_uri: String,
    /// A well-formed PKCE S256 challenge.
    pub code_challenge: String,
    /// Echoed back to the client.
    pub state: Option<String>,
    /// The email the app passed, when it is an address (anything else is ignored, as a
    /// hint is only a convenience).
    pub login_hint: Option<Email>,
}

impl AuthorizeRequest {
    /// Checks the query of `/oauth2/authorize`. Client and redirect URI first: until both
    /// are known good every refusal is [`AuthorizeError::OnPage`].
    pub fn parse(clients: &Clients, raw_query: Option<&str>) -> Result<Self, AuthorizeError> {
        let p = single_params(raw_query).map_err(AuthorizeError::OnPage)?;
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let client = clients
            .get(get("client_id").unwrap_or_default())
            .map_err(AuthorizeError::OnPage)?;
        let redirect_uri = match get("redirect_uri") {
            Some(r) if super::redirect_uri_allowed(client, r) => r,
            _ => return Err(AuthorizeError::OnPage(OAuthError::BadRedirectUri)),
        };
        let state = get("state");
        let refuse = |error| AuthorizeError::ToClient {
            redirect_uri: redirect_uri.into(),
            state: state.map(Into::into),
            error,
        };
        match get("response_type") {
            Some("code") => {}
            other => {
                return Err(refuse(OAuthError::UnsupportedResponseType(
                    other.unwrap_or_default().into(),
                )));
            }
        }
        let challenge = get("code_challenge").unwrap_or_default();
        super::check_challenge(challenge, get("code_challenge_method")).map_err(refuse)?;
        if let Some(scope) = get("scope")
            && let Some(bad) = scope
                .split(' ')
                .find(|s| !s.is_empty() && !grants::SCOPES.contains(s))
        {
            return Err(refuse(OAuthError::InvalidScope(bad.into())));
        }
        Ok(Self {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.into(),
            code_challenge: challenge.into(),
            state: state.map(Into::into),
            login_hint: get("login_hint").and_then(|h| Email::parse(h).ok()),
        })
    }

    /// The request as it waits for the person to sign in, bound to the browser whose
    /// binding cookie is `binding` (only its SHA-256 is stored).
    pub fn pending(&self, binding: &str) -> AuthRequest {
        AuthRequest {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.code_challenge.clone(),
            state: self.state.clone(),
            login_hint: self.login_hint.as_ref().map(Email::to_string),
            binding: sha256_base64url(binding),
        }
    }
}

/// Query parameters, refusing any given twice (RFC 6749 §3.1: "parameters MUST NOT be
/// included more than once"), so two layers cannot read two different values.
fn single_params(raw: Option<&str>) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::InvalidRequest(format!("{k} given twice")));
        }
    }
    Ok(map)
}

/// What a token request asks for.
#[derive(Debug, Clone)]
pub enum TokenGrant {
    /// A code or refresh-token grant, for [`OAuth::token`](super::OAuth::token).
    Grant(Grant),
    /// A device's poll (RFC 8628 §3.4), which also needs the tenant's device allow-list.
    DeviceCode(String),
}

/// A token request that passed the checks made before any store is read.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The public client's id (not yet known to be registered).
    pub client_id: String,
    /// The grant.
    pub grant: TokenGrant,
}

impl TokenRequest {
    /// Checks the form of `POST /oauth2/token`: a client id, then a grant type this server
    /// implements, and a PKCE verifier with every authorization code (a code without one
    /// would be redeemable by whoever intercepted it).
    pub fn parse(p: &HashMap<String, String>) -> Result<Self, OAuthError> {
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let Some(client_id) = p.get("client_id").filter(|c| !c.is_empty()) else {
            return Err(OAuthError::InvalidClient);
        };
        let grant = match get("grant_type").as_str() {
            "authorization_code" => {
                if p.get("code_verifier").is_none_or(String::is_empty) {
                    return Err(OAuthError::InvalidRequest(
                        "code_verifier is required (PKCE)".into(),
                    ));
                }
                TokenGrant::Grant(Grant::AuthorizationCode {
                    code: get("code"),
                    redirect_uri: get("redirect_uri"),
                    code_verifier: get("code_verifier"),
                })
            }
            "refresh_token" => TokenGrant::Grant(Grant::RefreshToken {
                refresh_token: get("refresh_token"),
            }),
            DEVICE_GRANT => TokenGrant::DeviceCode(get("device_code")),
            other => return Err(OAuthError::UnsupportedGrantType(other.into())),
        };
        Ok(Self {
            client_id: client_id.clone(),
            grant,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OAuthClient;

    /// RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "com.example.app:/cb";

    fn clients() -> Clients {
        Clients::new(vec![OAuthClient {
            client_id: "app".into(),
            redirect_uris: vec![REDIRECT.into()],
        }])
    }

    fn query(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    /// A good request with `pairs` replacing (or, with an empty value, blanking) its
    /// parameters.
    fn authorize(pairs: &[(&str, &str)]) -> Result<AuthorizeRequest, AuthorizeError> {
        let mut all = vec![
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ];
        for (k, v) in pairs {
            match all.iter_mut().find(|(name, _)| name == k) {
                Some(slot) => slot.1 = v,
                None => all.push((k, v)),
            }
        }
        AuthorizeRequest::parse(&clients(), Some(&query(&all)))
    }

    fn on_page(r: Result<AuthorizeRequest, AuthorizeError>) -> &'static str {
        match r {
            Err(AuthorizeError::OnPage(e)) => e.code(),
            other => panic!("expected a refusal on the page, got {other:?}"),
        }
    }

    fn to_client(r: Result<AuthorizeRequest, AuthorizeError>) -> &'static str {
        match r {
            Err(AuthorizeError::ToClient {
                redirect_uri,
                state,
                error,
            }) => {
                assert_eq!(redirect_uri, REDIRECT);
                assert_eq!(state.as_deref(), Some("xyz"));
                error.code()
            }
            other => panic!("expected a refusal to the client, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_passes_with_its_values() {
        let r = authorize(&[
            ("login_hint", "Ann@Fabrikam.com"),
            ("scope", "email offline_access"),
        ])
        .unwrap();
        assert_eq!(r.client_id, "app");
        assert_eq!(r.redirect_uri, REDIRECT);
        assert_eq!(r.code_challenge, CHALLENGE);
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert_eq!(r.login_hint.unwrap().domain(), "fabrikam.com");
        // A hint that is not an address is dropped, not refused.
        assert!(
            authorize(&[("login_hint", "ann")])
                .unwrap()
                .login_hint
                .is_none()
        );
    }

    #[test]
    fn until_client_and_redirect_uri_are_good_refusals_stay_on_the_page() {
        assert_eq!(
            on_page(authorize(&[("client_id", "evil")])),
            "invalid_client"
        );
        assert_eq!(on_page(authorize(&[("client_id", "")])), "invalid_client");
        assert_eq!(
            on_page(authorize(&[("redirect_uri", "https://evil.example/cb")])),
            "invalid_request"
        );
        assert_eq!(
            on_page(authorize(&[("redirect_uri", "")])),
            "invalid_request"
        );
        // Even a bad response type is not redirected to an unregistered URI.
        assert_eq!(
            on_page(authorize(&[
                ("redirect_uri", "https://evil.example/cb"),
                ("response_type", "token"),
            ])),
            "invalid_request"
        );
        let twice = format!("{}&client_id=app", query(&[("client_id", "app")]));
        assert_eq!(
            on_page(AuthorizeRequest::parse(&clients(), Some(&twice))),
            "invalid_request"
        );
    }

    #[test]
    fn later_refusals_go_back_to_the_client_with_its_state() {
        assert_eq!(
            to_client(authorize(&[("response_type", "token")])),
            "unsupported_response_type"
        );
        assert_eq!(
            to_client(authorize(&[("response_type", "")])),
            "unsupported_response_type"
        );
        assert_eq!(
            to_client(authorize(&[("code_challenge_method", "plain")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("code_challenge_method", "")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("code_challenge", "short")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("scope", "email admin")])),
            "invalid_scope"
        );
    }

    #[test]
    fn the_pending_request_stores_the_binding_digest_only() {
        let pending = authorize(&[]).unwrap().pending("cookie-value");
        assert_eq!(pending.binding, sha256_base64url("cookie-value"));
        assert_ne!(pending.binding, "cookie-value");
    }

    fn token(pairs: &[(&str, &str)]) -> Result<TokenRequest, OAuthError> {
        let p = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TokenRequest::parse(&p)
    }

    #[test]
    fn token_requests_need_a_client_a_known_grant_and_pkce_with_a_code() {
        let code = [
            ("client_id", "app"),
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", REDIRECT),
        ];
        assert_eq!(token(&code).unwrap_err().code(), "invalid_request");
        let with_verifier = [&code[..], &[("code_verifier", "v")]].concat();
        assert!(matches!(
            token(&with_verifier).unwrap().grant,
            TokenGrant::Grant(Grant::AuthorizationCode { .. })
        ));
        assert_eq!(
            token(&with_verifier[1..]).unwrap_err().code(),
            "invalid_client"
        );
        assert_eq!(
            token(&[("client_id", "app"), ("grant_type", "password")])
                .unwrap_err()
                .code(),
            "unsupported_grant_type"
        );
        assert!(matches!(
            token(&[("client_id", "app"), ("grant_type", "refresh_token")])
                .unwrap()
                .grant,
            TokenGrant::Grant(Grant::RefreshToken { .. })
        ));
        let device = token(&[
            ("client_id", "app"),
            ("grant_type", DEVICE_GRANT),
            ("device_code", "d"),
        ])
        .unwrap();
        assert_eq!(device.client_id, "app");
        assert!(matches!(device.grant, TokenGrant::DeviceCode(d) if d == "d"));
    }
}
