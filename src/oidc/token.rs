//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7), as one function that runs every
//! check in the spec's order with `now` passed in, so each refusal is a test. The JOSE
//! work (parsing, key selection by `kid` and type, signature) is `openidconnect`'s; this
//! file chooses what it must refuse.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IdTokenVerifier, IssuerUrl,
    Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};

use super::OidcError;
use super::provider::TENANT_PLACEHOLDER;

/// Largest ID token read: real ones are 1-3 KiB; parsing is bounded before any work.
pub const MAX_ID_TOKEN: usize = 16 * 1024;

/// The signature algorithms accepted: public-key ones only. `none` is unsigned, and an
/// HS* token is "signed" with a shared secret: checked against a provider's public key
/// bytes (the classic confusion) anyone could forge it, and we never share a MAC key with
/// an IdP. The key's own type and `alg` must match too (the crate's key selection).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Claims beyond the standard ones: the tenant's `email_claim` when it is not `email`,
/// and Entra's `tid`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type Token = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What a valid ID token must match.
pub struct Expected<'a> {
    /// The provider's issuer as published (`{tenantid}` form included).
    pub issuer: &'a str,
    /// The provider's current keys.
    pub keys: &'a CoreJsonWebKeySet,
    /// Our client ID: the audience.
    pub client_id: &'a str,
    /// The nonce this browser's request sent.
    pub nonce: &'a str,
    /// Allowed clock difference with the IdP.
    pub skew: Duration,
    /// The claim holding the email; `email` when `None`.
    pub email_claim: Option<&'a str>,
}

/// The identity a valid ID token vouches for.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `iss`, the tenant-specific one for Entra's multi-tenant form.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// The email claim.
    pub email: String,
    /// `name`, when sent.
    pub name: Option<String>,
    /// `exp`.
    pub expires: DateTime<Utc>,
}

impl Identity {
    /// The subject an account binds to: `iss` + `sub`, since `sub` is unique only per
    /// issuer (two Entra tenants may both have a `sub` of the same value).
    pub fn bound_subject(&self) -> String {
        format!("{}#{}", self.issuer, self.subject)
    }
}

/// Validates `id_token` against `expected` at `now`: shape, algorithm, issuer, audience,
/// signature by a key of the provider, `exp`/`iat` with skew, nonce, then the email rules.
pub fn validate(
    id_token: &str,
    expected: &Expected<'_>,
    now: DateTime<Utc>,
) -> Result<Identity, OidcError> {
    if id_token.len() > MAX_ID_TOKEN {
        return Err(OidcError::Malformed(format!(
            "{} bytes, more than {MAX_ID_TOKEN}",
            id_token.len()
        )));
    }
    let token: Token = id_token
        .parse()
        .map_err(|e: serde_json::Error| OidcError::Malformed(e.to_string()))?;
    let templated = expected.issuer.contains(TENANT_PLACEHOLDER);
    let issuer = IssuerUrl::new(expected.issuer.replace(TENANT_PLACEHOLDER, "tenantid"))
        .map_err(|e| OidcError::Issuer(format!("the provider's issuer is not a URL: {e}")))?;
    let skew = chrono::Duration::from_std(expected.skew).unwrap_or_default();
    let verifier: IdTokenVerifier<'_, _> = IdTokenVerifier::new_public_client(
        ClientId::new(expected.client_id.to_string()),
        issuer,
        expected.keys.clone(),
    )
    // §3.1.3.7 step 2; the templated form is matched below, once `tid` is known.
    .require_issuer_match(!templated)
    .set_allowed_algs(ALLOWED_ALGS)
    // `exp` may be up to `skew` behind our clock.
    .set_time_fn(move || now - skew);
    let nonce = Nonce::new(expected.nonce.to_string());
    let claims = token.claims(&verifier, &nonce).map_err(refusal)?;
    let iss = claims.issuer().as_str();
    if templated {
        // Entra multi-tenant: the token's issuer is the template with its own tenant.
        let tid = claims
            .additional_claims()
            .claims
            .get("tid")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
            .ok_or_else(|| {
                OidcError::Issuer("no tenant id (tid) for the {tenantid} issuer".into())
            })?;
        let want = expected.issuer.replace(TENANT_PLACEHOLDER, tid);
        if iss != want {
            return Err(OidcError::Issuer(format!(
                "expected {want:?} (found {iss:?})"
            )));
        }
    }
    // §3.1.3.7 step 10: a token from the future is a clock problem or a forgery.
    if claims.issue_time() > now + skew {
        return Err(OidcError::NotYetValid(format!(
            "iat {} is after {now} (skew {}s)",
            claims.issue_time(),
            skew.num_seconds()
        )));
    }
    let claim = expected.email_claim.unwrap_or("email");
    let email = if claim == "email" {
        claims.email().map(|e| e.as_str().to_string())
    } else {
        claims
            .additional_claims()
            .claims
            .get(claim)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    }
    .filter(|e| !e.trim().is_empty())
    .ok_or_else(|| OidcError::NoEmail(claim.to_string()))?;
    // An IdP that says it has not verified the address cannot vouch for it. Entra sends no
    // `email_verified`; the address must still be one of the tenant's domains (login).
    if claims.email_verified() == Some(false) {
        return Err(OidcError::EmailUnverified(email));
    }
    Ok(Identity {
        issuer: iss.to_string(),
        subject: claims.subject().as_str().to_string(),
        email,
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
        expires: claims.expiration(),
    })
}

/// The crate's verdict as our refusal.
fn refusal(e: ClaimsVerificationError) -> OidcError {
    use SignatureVerificationError as S;
    match e {
        ClaimsVerificationError::SignatureVerification(s) => match s {
            S::NoMatchingKey => OidcError::UnknownKey,
            S::DisallowedAlg(m) | S::UnsupportedAlg(m) => OidcError::Algorithm(m),
            S::NoSignature => OidcError::Algorithm("unsigned (alg: none)".into()),
            other => OidcError::Signature(other.to_string()),
        },
        ClaimsVerificationError::InvalidIssuer(m) => OidcError::Issuer(m),
        ClaimsVerificationError::InvalidAudience(m) => OidcError::Audience(m),
        ClaimsVerificationError::Expired(m) => OidcError::Expired(m),
        ClaimsVerificationError::InvalidNonce(m) => OidcError::Nonce(m),
        other => OidcError::Malformed(other.to_string()),
    }
}
