//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3, OpenID
//! Connect Core §9): public clients name themselves, confidential ones prove it with
//! `client_secret_basic`, `client_secret_post` or `private_key_jwt` (RFC 7523). A client
//! registered with a secret or keys is never accepted without them, and a public client
//! sending credentials it does not have is refused rather than ignored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::OAuthClient;

use super::{OAuth, OAuthError};

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may be valid: a short one keeps the store of seen `jti`s
/// small and a stolen assertion nearly worthless.
const MAX_ASSERTION_SECS: i64 = 300;

/// Tolerated clock difference with the client.
const LEEWAY_SECS: i64 = 30;

/// The methods `token_endpoint_auth_methods_supported` advertises.
pub const METHODS: &[&str] = &[
    "none",
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

/// How a request says which client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// `client_id` only: a public client.
    Public(String),
    /// A secret, from the `Authorization: Basic` header or the form.
    Secret {
        /// The client.
        client_id: String,
        /// The secret as sent.
        secret: String,
    },
    /// A signed JWT assertion (`private_key_jwt`).
    Assertion {
        /// The client (from `client_id`, or the assertion's `sub` when absent).
        client_id: String,
        /// The JWT.
        assertion: String,
    },
}

impl ClientCredentials {
    /// Reads the credentials of a token or revocation request: the form `p` and the
    /// `Authorization` header. Two methods at once are refused (RFC 6749 §2.3: "MUST NOT use
    /// more than one authentication method in each request").
    pub fn parse(
        p: &HashMap<String, String>,
        authorization: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let form = |k: &str| p.get(k).filter(|v| !v.is_empty()).cloned();
        let basic = authorization.and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        });
        let methods = usize::from(basic.is_some())
            + usize::from(form("client_secret").is_some())
            + usize::from(form("client_assertion").is_some());
        if methods > 1 {
            return Err(OAuthError::InvalidRequest(
                "more than one client authentication method".into(),
            ));
        }
        if let Some(b64) = basic {
            let (id, secret) = decode_basic(b64.trim()).ok_or(OAuthError::InvalidClient)?;
            if form("client_id").is_some_and(|f| f != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id differs from the Authorization header's".into(),
                ));
            }
            return Ok(Self::Secret {
                client_id: id,
                secret,
            });
        }
        if let Some(assertion) = form("client_assertion") {
            if form("client_assertion_type").as_deref() != Some(JWT_BEARER) {
                return Err(OAuthError::InvalidRequest(format!(
                    "client_assertion_type must be {JWT_BEARER}"
                )));
            }
            let client_id = match form("client_id") {
                Some(id) => id,
                None => unverified_sub(&assertion).ok_or(OAuthError::InvalidClient)?,
            };
            return Ok(Self::Assertion {
                client_id,
                assertion,
            });
        }
        let client_id = form("client_id").ok_or(OAuthError::InvalidClient)?;
        Ok(match form("client_secret") {
            Some(secret) => Self::Secret { client_id, secret },
            None => Self::Public(client_id),
        })
    }

    /// The client these credentials name (not yet proven).
    pub fn client_id(&self) -> &str {
        match self {
            Self::Public(id) => id,
            Self::Secret { client_id, .. } | Self::Assertion { client_id, .. } => client_id,
        }
    }
}

/// RFC 6749 §2.3.1: `base64(urlencode(id) ":" urlencode(secret))`.
fn decode_basic(b64: &str) -> Option<(String, String)> {
    let raw = String::from_utf8(STANDARD.decode(b64).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The `sub` of an assertion, read before its signature is checked only to find whose
/// keys check it.
fn unverified_sub(assertion: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Sub {
        sub: String,
    }
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Sub>(&bytes).ok().map(|s| s.sub)
}

pub use crate::secrets::secret_hash;

/// The claims of a client assertion (RFC 7523 §3).
#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

impl OAuth {
    /// The registered client these credentials prove, or `invalid_client`. Every failure
    /// is the same error for the client; the log gets the reason.
    pub async fn authenticate(
        &self,
        credentials: &ClientCredentials,
        now: DateTime<Utc>,
    ) -> Result<Arc<OAuthClient>, OAuthError> {
        let client = self.clients.get(credentials.client_id()).await?;
        let refused = |why: &str| {
            tracing::info!(target: "audit", event = "client_auth_failure", client_id = %client.client_id, reason = why);
            OAuthError::InvalidClient
        };
        match (credentials, &client.client_secret_hash, &client.jwks) {
            (ClientCredentials::Public(_), None, None) => Ok(client.clone()),
            (ClientCredentials::Public(_), _, _) => {
                Err(refused("confidential client sent no credentials"))
            }
            (ClientCredentials::Secret { secret, .. }, Some(hash), _) => {
                let presented = secret_hash(secret);
                if subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), hash.as_bytes()).into() {
                    Ok(client.clone())
                } else {
                    Err(refused("wrong client secret"))
                }
            }
            (ClientCredentials::Assertion { assertion, .. }, _, Some(jwks)) => {
                self.check_assertion(&client, jwks, assertion, now)
                    .await
                    .map_err(&refused)?;
                Ok(client.clone())
            }
            _ => Err(refused(
                "authentication method not registered for the client",
            )),
        }
    }

    /// RFC 7523 §3 with OpenID Connect Core §9: signed by one of the client's keys, `iss`
    /// and `sub` the client, `aud` the token endpoint, `exp` in the future and at most
    /// [`MAX_ASSERTION_SECS`] away, and a `jti` never seen before (a captured assertion
    /// cannot be replayed, on any instance sharing the store).
    async fn check_assertion(
        &self,
        client: &OAuthClient,
        jwks: &jsonwebtoken::jwk::JwkSet,
        assertion: &str,
        now: DateTime<Utc>,
    ) -> Result<(), &'static str> {
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| "assertion is not a JWT")?;
        let candidates: Vec<_> = jwks
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
            .collect();
        let mut claims = None;
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            // The algorithm comes from the registered key, never from the header alone
            // (RFC 8725 §3.1): a header naming another family fails here.
            let Some(alg) = algorithm_of(jwk) else {
                continue;
            };
            if header.alg != alg {
                continue;
            }
            let mut v = Validation::new(alg);
            v.set_audience(&[self.token_endpoint()]);
            v.set_issuer(&[&client.client_id]);
            v.sub = Some(client.client_id.clone());
            v.leeway = LEEWAY_SECS as u64;
            v.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
            if let Ok(d) = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v) {
                claims = Some(d.claims);
                break;
            }
        }
        let claims = claims
            .ok_or("assertion not signed by a registered key, or wrong iss, sub, aud or exp")?;
        if claims.iss != claims.sub {
            return Err("assertion iss differs from sub");
        }
        let issued = claims.iat.unwrap_or(now.timestamp());
        if claims.exp - issued.min(now.timestamp()) > MAX_ASSERTION_SECS + LEEWAY_SECS {
            return Err("assertion valid for too long");
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err("assertion jti missing or too long");
        }
        let ttl = Duration::from_secs((claims.exp - now.timestamp() + LEEWAY_SECS).max(1) as u64);
        let fresh = self
            .store
            .put_if_absent(
                &super::hashed("jti", &format!("{}\n{}", client.client_id, claims.jti)),
                vec![1],
                ttl,
            )
            .await
            .map_err(|_| "store unavailable for the jti check")?;
        if !fresh {
            return Err("assertion jti reused");
        }
        Ok(())
    }

    /// The token endpoint's URL: the `aud` a client assertion must name.
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth2/token", self.issuer)
    }
}

/// The JWS algorithm a registered key verifies: its `alg`, or the family's default.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::PS384 => Some(Algorithm::PS384),
            KeyAlgorithm::PS512 => Some(Algorithm::PS512),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        // A symmetric key would make the JWKS a shared secret: not a private_key_jwt.
        AlgorithmParameters::OctetKey(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_come_from_one_method() {
        let basic = format!("Basic {}", STANDARD.encode("web%20app:s%3Acret"));
        assert_eq!(
            ClientCredentials::parse(&form(&[]), Some(&basic)).unwrap(),
            ClientCredentials::Secret {
                client_id: "web app".into(),
                secret: "s:cret".into()
            }
        );
        assert_eq!(
            ClientCredentials::parse(&form(&[("client_id", "a"), ("client_secret", "s")]), None)
                .unwrap(),
            ClientCredentials::Secret {
                client_id: "a".into(),
                secret: "s".into()
            }
        );
        assert_eq!(
            ClientCredentials::parse(&form(&[("client_id", "a")]), None).unwrap(),
            ClientCredentials::Public("a".into())
        );
        // Two methods at once, or a form client_id contradicting the header: refused.
        assert!(ClientCredentials::parse(&form(&[("client_secret", "s")]), Some(&basic)).is_err());
        assert!(ClientCredentials::parse(&form(&[("client_id", "b")]), Some(&basic)).is_err());
        assert!(ClientCredentials::parse(&form(&[]), Some("Basic !!!")).is_err());
        assert!(ClientCredentials::parse(&form(&[]), None).is_err());
        // An assertion needs the RFC 7523 type.
        assert!(
            ClientCredentials::parse(
                &form(&[("client_id", "a"), ("client_assertion", "x.y.z")]),
                None
            )
            .is_err()
        );
    }
}
