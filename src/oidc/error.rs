//! Why an OpenID Connect step failed: one variant per check, each with a stable code; the
//! person sees a generic page, the log the precise reason.

use crate::discovery::reach::NOT_PUBLIC;

/// An OpenID Connect failure.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The tenant does not sign in with OpenID Connect.
    #[error("account {0:?} does not use OpenID Connect")]
    NotOidc(String),
    /// A provider URL (configuration, keys, token endpoint) is not https.
    #[error("{0} is not an https URL")]
    NotHttps(String),
    /// A management-API tenant's provider URL names a non-public address
    /// ([`crate::discovery::reach`]).
    #[error("{0}: {NOT_PUBLIC}")]
    NotPublic(String),
    /// The provider's configuration or key set could not be fetched.
    #[error("{url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Transport, status or size, as an operator can act on it.
        reason: String,
    },
    /// The provider's configuration or key set is not what the specs say.
    #[error("{url}: not a valid document: {reason}")]
    Document {
        /// What was fetched.
        url: String,
        /// The parser's reason.
        reason: String,
    },
    /// The configuration names another issuer than the tenant's `issuer` (a mix-up).
    #[error("the provider configuration names issuer {found:?}, the tenant expects {expected:?}")]
    IssuerMismatch {
        /// The tenant's `issuer`.
        expected: String,
        /// The document's.
        found: String,
    },
    /// The tenant's `client_key` cannot be read or is not an RSA or P-256 PEM key.
    #[error("client_key {path}: {reason}")]
    ClientKey {
        /// The configured file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Our redirect URI (`public_url` + the callback path) is not a URL.
    #[error("redirect URI {0}")]
    RedirectUri(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTPS client: {0}")]
    Client(#[source] reqwest::Error),
    /// The IdP came back with an OAuth error instead of a code (cancelled, consent refused).
    #[error("the IdP answered {error:?}: {description}")]
    IdpError {
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter.
        description: String,
    },
    /// The callback carried no authorization code.
    #[error("the callback carried no authorization code")]
    NoCode,
    /// The token endpoint refused the code or our client authentication.
    #[error("token endpoint refused: {0}")]
    TokenRefused(String),
    /// The token endpoint could not be reached or gave no token response.
    #[error("token endpoint: {0}")]
    TokenEndpoint(String),
    /// The token response carried no ID token (the `openid` scope was dropped?).
    #[error("the token response carried no ID token")]
    NoIdToken,
    /// The ID token is not a well-formed signed JWT with the required claims.
    #[error("malformed ID token: {0}")]
    Malformed(String),
    /// Unsigned (`alg: none`), a MAC (HS*, whose key anyone holding our public view could
    /// forge with), or an algorithm the key does not allow.
    #[error("ID token algorithm refused: {0}")]
    Algorithm(String),
    /// No key of the provider's set has the token's `kid` (even after a refresh).
    #[error("ID token signed by a key the provider does not publish")]
    UnknownKey,
    /// The signature does not verify with the provider's key.
    #[error("ID token signature invalid: {0}")]
    Signature(String),
    /// `iss` is not the provider's issuer.
    #[error("ID token issuer refused: {0}")]
    Issuer(String),
    /// `aud` does not name our client, or names others we do not trust.
    #[error("ID token audience refused: {0}")]
    Audience(String),
    /// `exp` has passed (beyond the allowed skew).
    #[error("ID token expired: {0}")]
    Expired(String),
    /// `iat` lies in the future (beyond the allowed skew).
    #[error("ID token issued in the future: {0}")]
    NotYetValid(String),
    /// `nonce` is not the one this browser's request sent (a token injected from another
    /// login).
    #[error("ID token nonce refused: {0}")]
    Nonce(String),
    /// The token has no usable email claim.
    #[error("ID token has no {0:?} claim")]
    NoEmail(String),
    /// The IdP says it has not verified the email.
    #[error("ID token email {0:?} is not verified (email_verified = false)")]
    EmailUnverified(String),
}

impl OidcError {
    /// Whether the provider could not be reached or read (worth retrying: a 503), rather
    /// than the login being refused.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            OidcError::Fetch { .. } | OidcError::Client(_) | OidcError::TokenEndpoint(_)
        )
    }

    /// Stable code for pages, JSON and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::NotOidc(_) => "not_sso",
            OidcError::NotHttps(_)
            | OidcError::NotPublic(_)
            | OidcError::Fetch { .. }
            | OidcError::Document { .. }
            | OidcError::IssuerMismatch { .. }
            | OidcError::ClientKey { .. }
            | OidcError::RedirectUri(_)
            | OidcError::Client(_) => "idp_metadata_unavailable",
            OidcError::IdpError { .. } => "idp_error",
            OidcError::NoCode => "no_code",
            OidcError::TokenRefused(_) => "token_exchange_failed",
            OidcError::TokenEndpoint(_) => "token_endpoint_unavailable",
            OidcError::NoIdToken => "no_id_token",
            OidcError::Malformed(_) => "malformed",
            OidcError::Algorithm(_) => "signature_algorithm",
            OidcError::UnknownKey => "unknown_key",
            OidcError::Signature(_) => "signature_invalid",
            OidcError::Issuer(_) => "issuer_mismatch",
            OidcError::Audience(_) => "audience_mismatch",
            OidcError::Expired(_) => "expired",
            OidcError::NotYetValid(_) => "not_yet_valid",
            OidcError::Nonce(_) => "nonce_mismatch",
            OidcError::NoEmail(_) => "email_missing",
            OidcError::EmailUnverified(_) => "email_unverified",
        }
    }
}
