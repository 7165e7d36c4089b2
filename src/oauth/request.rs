//! The checks a request must pass before the server acts on it: the authorization request
//! (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3, and RFC 8252) and the token request's grant
//! (RFC 6749 §4.1.3, §6; RFC 8628 §3.4). `web` hands over the raw parameters and renders
//! what these answer; the order of the checks is part of the policy (see
//! [`AuthorizeError`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::OAuthClient;
use crate::discovery::Email;

use super::client_auth::ClientCredentials;
use super::{AuthRequest, ClientSource, Grant, OAuthError, grants, sha256_base64url};

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

/// What the app asked of the sign-in step (OpenID Connect Core §3.1.2.1 `prompt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    /// Use a live session, else sign in.
    #[default]
    Default,
    /// Never show a page: a live session, or `login_required` to the app.
    None,
    /// Sign in again even with a live session (`login`, and `select_account`: a new
    /// sign-in is how one picks another account here).
    Login,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// A registered client.
    pub client_id: String,
    /// One of that client's redirect URIs.
    pub redirect_uri: String,
    /// A well-formed PKCE S256 challenge; only a confidential client may go without.
    pub code_challenge: Option<String>,
    /// Echoed back to the client.
    pub state: Option<String>,
    /// The email the app passed, when it is an address (anything else is ignored, as a
    /// hint is only a convenience).
    pub login_hint: Option<Email>,
    /// `scope` has `openid`: an OpenID Connect request.
    pub openid: bool,
    /// The OpenID Connect `nonce`.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age`: the sign-in may be at most this many seconds old.
    pub max_age: Option<i64>,
}

/// The longest `nonce` kept (it is stored with the request and copied into the token).
const MAX_NONCE: usize = 512;

impl AuthorizeRequest {
    /// Checks the query of `/oauth2/authorize`. Client and redirect URI first: until both
    /// are known good every refusal is [`AuthorizeError::OnPage`].
    pub async fn parse(
        clients: &dyn ClientSource,
        raw_query: Option<&str>,
    ) -> Result<Self, AuthorizeError> {
        let p = single_params(raw_query).map_err(AuthorizeError::OnPage)?;
        let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let client = clients
            .get(get("client_id").unwrap_or_default())
            .await
            .map_err(AuthorizeError::OnPage)?;
        let redirect_uri = match get("redirect_uri") {
            Some(r) if super::redirect_uri_allowed(&client, r) => r,
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
        // PKCE: required of public clients (RFC 8252 §8.1); a confidential client may use
        // it, and if it sends a challenge the challenge must be good.
        let challenge = get("code_challenge");
        if challenge.is_some() || !client.is_confidential() {
            super::check_challenge(challenge.unwrap_or_default(), get("code_challenge_method"))
                .map_err(refuse)?;
        }
        let scopes: Vec<&str> = get("scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(bad) = scopes.iter().find(|s| !grants::SCOPES.contains(s)) {
            return Err(refuse(OAuthError::InvalidScope((*bad).into())));
        }
        let nonce = get("nonce");
        if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(refuse(OAuthError::InvalidRequest(format!(
                "nonce longer than {MAX_NONCE} characters"
            ))));
        }
        let prompt = parse_prompt(get("prompt")).map_err(refuse)?;
        let max_age = match get("max_age") {
            Some(m) => Some(
                m.parse::<u32>()
                    .map_err(|_| {
                        refuse(OAuthError::InvalidRequest(
                            "max_age must be a number of seconds".into(),
                        ))
                    })?
                    .into(),
            ),
            None => None,
        };
        Ok(Self {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.into(),
            code_challenge: challenge.map(Into::into),
            state: state.map(Into::into),
            login_hint: get("login_hint").and_then(|h| Email::parse(h).ok()),
            openid: scopes.contains(&"openid"),
            nonce: nonce.map(Into::into),
            prompt,
            max_age,
        })
    }

    /// The earliest sign-in this request accepts, asked at `now`: `prompt=login` wants one
    /// made after the request, `max_age` one at most that old.
    pub fn auth_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let login = (self.prompt == Prompt::Login).then_some(now);
        let aged = self.max_age.map(|m| now - chrono::Duration::seconds(m));
        login.max(aged)
    }

    /// The request as it waits for the person to sign in, bound to the browser whose
    /// binding cookie is `binding` (only its SHA-256 is stored).
    pub fn pending(&self, binding: &str, now: DateTime<Utc>) -> AuthRequest {
        AuthRequest {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.code_challenge.clone(),
            state: self.state.clone(),
            login_hint: self.login_hint.as_ref().map(Email::to_string),
            binding: sha256_base64url(binding),
            openid: self.openid,
            nonce: self.nonce.clone(),
            auth_after: self.auth_after(now),
        }
    }
}

/// `prompt`: a space-separated list (Core §3.1.2.1) in which `none` stands alone.
fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::Default;
    let values: Vec<&str> = value
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
        .collect();
    for v in &values {
        match *v {
            "none" if values.len() == 1 => prompt = Prompt::None,
            "none" => {
                return Err(OAuthError::InvalidRequest(
                    "prompt=none cannot be combined with other values".into(),
                ));
            }
            "login" | "select_account" => prompt = Prompt::Login,
            // No consent screen: the apps behind realmgate are the operator's own.
            "consent" => {}
            other => {
                return Err(OAuthError::InvalidRequest(format!(
                    "unknown prompt {other:?}"
                )));
            }
        }
    }
    Ok(prompt)
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
    /// `client_credentials` (RFC 6749 §4.4): a service client for itself, which also
    /// needs its tenant's device allow-list.
    ClientCredentials,
}

impl TokenGrant {
    /// The `grant_type` value, as `grant_types` lists it.
    pub fn name(&self) -> &'static str {
        match self {
            TokenGrant::Grant(Grant::AuthorizationCode { .. }) => "authorization_code",
            TokenGrant::Grant(Grant::RefreshToken { .. }) => "refresh_token",
            TokenGrant::DeviceCode(_) => DEVICE_GRANT,
            TokenGrant::ClientCredentials => "client_credentials",
        }
    }

    /// Refuses a grant the (authenticated) client is not registered for
    /// (`unauthorized_client`, RFC 6749 §5.2).
    pub fn check_allowed(&self, client: &OAuthClient) -> Result<(), OAuthError> {
        if client.allows_grant(self.name()) {
            Ok(())
        } else {
            Err(OAuthError::UnauthorizedClient(
                "the grant type is not among the client's grant_types",
            ))
        }
    }
}

/// A token request that passed the checks made before any store is read.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// How the client says who it is (not yet checked).
    pub credentials: ClientCredentials,
    /// The grant.
    pub grant: TokenGrant,
}

impl TokenRequest {
    /// Checks the form of `POST /oauth2/token` and its `Authorization` header: client
    /// credentials, then a grant type this server implements.
    pub fn parse(
        p: &HashMap<String, String>,
        authorization: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let credentials = ClientCredentials::parse(p, authorization)?;
        let grant = match get("grant_type").as_str() {
            "authorization_code" => TokenGrant::Grant(Grant::AuthorizationCode {
                code: get("code"),
                redirect_uri: get("redirect_uri"),
                code_verifier: p.get("code_verifier").filter(|v| !v.is_empty()).cloned(),
            }),
            "refresh_token" => TokenGrant::Grant(Grant::RefreshToken {
                refresh_token: get("refresh_token"),
            }),
            DEVICE_GRANT => TokenGrant::DeviceCode(get("device_code")),
            "client_credentials" => {
                // Service tokens carry no scope of their own; asking for a person's scopes
                // (an ID token, refresh tokens) is refused rather than ignored.
                if p.get("scope").is_some_and(|s| !s.trim().is_empty()) {
                    return Err(OAuthError::InvalidScope(get("scope")));
                }
                TokenGrant::ClientCredentials
            }
            other => return Err(OAuthError::UnsupportedGrantType(other.into())),
        };
        Ok(Self { credentials, grant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OAuthClient;

    /// RFC 7636 appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "com.example.app:/cb";

    fn clients() -> super::super::Clients {
        super::super::Clients::new(vec![OAuthClient {
            client_id: "app".into(),
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        }])
    }

    /// [`AuthorizeRequest::parse`] over [`clients`], whose lookups never wait.
    fn parse(raw: &str) -> Result<AuthorizeRequest, AuthorizeError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(AuthorizeRequest::parse(&clients(), Some(raw)))
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
        parse(&query(&all))
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
        assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
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
        assert_eq!(on_page(parse(&twice)), "invalid_request");
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
    fn openid_parameters_are_read_and_checked() {
        let r = authorize(&[
            ("scope", "openid email profile"),
            ("nonce", "n-1"),
            ("prompt", "login"),
            ("max_age", "60"),
        ])
        .unwrap();
        assert!(r.openid && r.nonce.as_deref() == Some("n-1"));
        assert_eq!(r.prompt, Prompt::Login);
        let now = Utc::now();
        // prompt=login is stricter than max_age here: a sign-in after the request.
        assert_eq!(r.auth_after(now), Some(now));
        let aged = authorize(&[("max_age", "60")]).unwrap();
        assert_eq!(
            aged.auth_after(now),
            Some(now - chrono::Duration::seconds(60))
        );
        assert_eq!(authorize(&[]).unwrap().auth_after(now), None);
        assert_eq!(
            authorize(&[("prompt", "none")]).unwrap().prompt,
            Prompt::None
        );
        assert_eq!(
            to_client(authorize(&[("prompt", "none login")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("prompt", "bogus")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("max_age", "-1")])),
            "invalid_request"
        );
        assert_eq!(
            to_client(authorize(&[("nonce", &"n".repeat(513))])),
            "invalid_request"
        );
    }

    #[test]
    fn the_pending_request_stores_the_binding_digest_only() {
        let pending = authorize(&[]).unwrap().pending("cookie-value", Utc::now());
        assert_eq!(pending.binding, sha256_base64url("cookie-value"));
        assert_ne!(pending.binding, "cookie-value");
    }

    fn token(pairs: &[(&str, &str)]) -> Result<TokenRequest, OAuthError> {
        let p = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TokenRequest::parse(&p, None)
    }

    #[test]
    fn token_requests_need_a_client_and_a_known_grant() {
        let code = [
            ("client_id", "app"),
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", REDIRECT),
        ];
        // Whether a verifier is needed depends on the code's request (PKCE is checked
        // against it at redemption), so its absence is not refused here.
        assert!(matches!(
            token(&code).unwrap().grant,
            TokenGrant::Grant(Grant::AuthorizationCode {
                code_verifier: None,
                ..
            })
        ));
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
        assert_eq!(device.credentials.client_id(), "app");
        assert!(matches!(
            token(&[("client_id", "app"), ("grant_type", "client_credentials")])
                .unwrap()
                .grant,
            TokenGrant::ClientCredentials
        ));
        assert_eq!(
            token(&[
                ("client_id", "app"),
                ("grant_type", "client_credentials"),
                ("scope", "openid")
            ])
            .unwrap_err()
            .code(),
            "invalid_scope"
        );
        assert!(matches!(device.grant, TokenGrant::DeviceCode(d) if d == "d"));
    }
}
