//! The authorization code flow's two legs towards the IdP: the authorization request
//! (PKCE S256, `state`, `nonce`, `login_hint`, Entra's `domain_hint`) and the code exchange
//! at the token endpoint, authenticated by `client_secret_basic` or `private_key_jwt`. Both
//! are the `openidconnect` client's; the ID token it returns is checked by
//! [`super::token::validate`], not here.

use std::path::Path;

use chrono::{DateTime, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, LoginHint, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
};
use url::Url;

use super::fetch::Bounded;
use super::{OidcError, Provider};
use crate::discovery::SsoSettings;

/// Lifetime of a `private_key_jwt` client assertion: one token request.
const ASSERTION_SECONDS: i64 = 60;

/// An authorization request ready to send the browser to, and the secrets the callback
/// needs (kept server-side in the pending login, never in the browser).
pub struct AuthRequest {
    /// The provider's authorization endpoint with every parameter.
    pub url: Url,
    /// The PKCE verifier the code exchange proves possession of.
    pub pkce_verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
}

/// Builds the authorization request of `sso` at `provider`, with `state` (our handle of
/// the pending login) and a fresh nonce and PKCE pair.
pub fn authorization_request(
    provider: &Provider,
    sso: &SsoSettings,
    redirect_uri: &Url,
    state: &str,
    login_hint: Option<&str>,
) -> Result<AuthRequest, OidcError> {
    let client = CoreClient::from_provider_metadata(
        provider.metadata.clone(),
        ClientId::new(sso.client_id.clone().unwrap_or_default()),
        None,
    )
    .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = crate::secrets::random_token();
    let (state, nonce) = (state.to_string(), nonce);
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        )
        .set_pkce_challenge(challenge)
        .add_scopes(
            sso.scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .map(|s| Scope::new(s.clone())),
        );
    if let Some(hint) = login_hint {
        request = request.set_login_hint(LoginHint::new(hint.to_string()));
    }
    if let Some(domain) = &sso.domain_hint {
        request = request.add_extra_param("domain_hint", domain.clone());
    }
    let (url, _, _) = request.url();
    Ok(AuthRequest {
        url,
        pkce_verifier: verifier.secret().clone(),
        nonce,
    })
}

/// Exchanges `code` at the provider's token endpoint (with the PKCE verifier and our
/// client authentication) and returns the ID token as received.
pub async fn exchange_code(
    http: &reqwest::Client,
    provider: &Provider,
    sso: &SsoSettings,
    redirect_uri: &Url,
    code: &str,
    pkce_verifier: &str,
    now: DateTime<Utc>,
) -> Result<String, OidcError> {
    let client_id = sso.client_id.clone().unwrap_or_default();
    let client = CoreClient::from_provider_metadata(
        provider.metadata.clone(),
        ClientId::new(client_id.clone()),
        sso.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()))
    .set_auth_type(if sso.client_secret.is_some() {
        AuthType::BasicAuth
    } else {
        AuthType::RequestBody
    });
    let token_url = provider
        .metadata
        .token_endpoint()
        .ok_or(OidcError::NoIdToken)?
        .url()
        .to_string();
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| OidcError::TokenEndpoint(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()));
    if let Some(path) = &sso.client_key {
        let assertion = ClientKey::load(path)?.assertion(&client_id, &token_url, now)?;
        request = request
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", assertion);
    }
    let response = request
        .request_async(&Bounded(http))
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => OidcError::TokenRefused(format!(
                "{}{}",
                r.error(),
                r.error_description()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )),
            other => OidcError::TokenEndpoint(error_chain(&other)),
        })?;
    response
        .extra_fields()
        .id_token()
        .map(ToString::to_string)
        .ok_or(OidcError::NoIdToken)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut reasons = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        reasons.push(s.to_string());
        source = s.source();
    }
    reasons.join(": ")
}

/// Our `private_key_jwt` key (RFC 7523): RSA signs RS256, EC P-256 ES256.
pub struct ClientKey {
    key: jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
}

impl ClientKey {
    /// Reads the PEM key at `path`; `realmgate check` calls this too.
    pub fn load(path: &Path) -> Result<Self, OidcError> {
        let bad = |reason: String| OidcError::ClientKey {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let parsed = openssl::pkey::PKey::private_key_from_pem(&pem)
            .map_err(|_| bad("not a PEM private key".into()))?;
        let (key, alg) = match parsed.id() {
            openssl::pkey::Id::RSA => (
                jsonwebtoken::EncodingKey::from_rsa_pem(&pem),
                jsonwebtoken::Algorithm::RS256,
            ),
            openssl::pkey::Id::EC => (
                jsonwebtoken::EncodingKey::from_ec_pem(&pem),
                jsonwebtoken::Algorithm::ES256,
            ),
            other => return Err(bad(format!("a {other:?} key; use RSA or EC P-256"))),
        };
        let key = key.map_err(|e| bad(e.to_string()))?;
        Ok(Self { key, alg })
    }

    /// A client assertion for one token request at `audience` (the token endpoint).
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<String, OidcError> {
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": crate::secrets::random_token(),
            "iat": now.timestamp(),
            "exp": now.timestamp() + ASSERTION_SECONDS,
        });
        jsonwebtoken::encode(&jsonwebtoken::Header::new(self.alg), &claims, &self.key).map_err(
            |e| OidcError::ClientKey {
                path: "(client_key)".into(),
                reason: e.to_string(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};

    fn provider() -> Provider {
        let metadata: CoreProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": "https://login.microsoftonline.com/tenantid/v2.0",
            "authorization_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize",
            "token_endpoint": "https://login.microsoftonline.com/organizations/oauth2/v2.0/token",
            "jwks_uri": "https://login.microsoftonline.com/organizations/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .unwrap();
        Provider::new(
            "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
            metadata,
            CoreJsonWebKeySet::new(Vec::new()),
        )
    }

    /// The request carries PKCE S256 (never the verifier), our state and a fresh nonce,
    /// the hints, and `openid` once whatever the tenant lists.
    #[test]
    fn the_authorization_request_carries_pkce_state_nonce_and_hints() {
        let sso: SsoSettings = toml::from_str(
            "protocol = \"oidc\"\nclient_id = \"c1\"\nclient_secret = \"s\"\nscopes = [\"openid\", \"email\"]\ndomain_hint = \"contoso.com\"\n",
        )
        .unwrap();
        let redirect = Url::parse("https://login.example.com/auth/oidc/callback").unwrap();
        let req = authorization_request(
            &provider(),
            &sso,
            &redirect,
            "st4te",
            Some("alice@contoso.com"),
        )
        .unwrap();
        let q: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "c1");
        assert_eq!(q["redirect_uri"], redirect.as_str());
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["nonce"], req.nonce);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_ne!(q["code_challenge"], req.pkce_verifier);
        assert!(!req.url.as_str().contains(&req.pkce_verifier));
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["login_hint"], "alice@contoso.com");
        assert_eq!(q["domain_hint"], "contoso.com");
        let again = authorization_request(&provider(), &sso, &redirect, "st4te", None).unwrap();
        assert_ne!(again.nonce, req.nonce);
        assert!(!again.url.as_str().contains("login_hint"));
    }

    /// A private_key_jwt assertion names us, the token endpoint, and expires within a minute.
    #[test]
    fn a_client_assertion_is_short_lived_and_aimed_at_the_token_endpoint() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.key");
        std::fs::write(&path, rsa.private_key_to_pem().unwrap()).unwrap();
        let key = ClientKey::load(&path).unwrap();
        let now = Utc::now();
        let jwt = key.assertion("c1", "https://idp/token", now).unwrap();
        let decoding =
            jsonwebtoken::DecodingKey::from_rsa_pem(&rsa.public_key_to_pem().unwrap()).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&["https://idp/token"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &decoding, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["iss"], "c1");
        assert_eq!(claims["sub"], "c1");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            ClientKey::load(&path),
            Err(OidcError::ClientKey { .. })
        ));
    }
}
