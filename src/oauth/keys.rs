//! The token signer (access, ID and logout tokens) and verifier of its own tokens: one ECDSA P-256 key (ES256, RFC 7518 §3.4), generated once into
//! `data_dir/oauth-signing-key.pem` (PKCS#8, owner-only) so every restart and every
//! instance sharing `data_dir` signs with the same key and resource servers keep trusting
//! the JWKS. Signing is done by `jsonwebtoken` on aws-lc-rs: no hand-written crypto.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::OAuthError;
use super::subject::Subject;

/// File name of the key under `data_dir`.
pub const KEY_FILE: &str = "oauth-signing-key.pem";

/// How long an access token is valid: short, because it cannot be revoked (RFC 9700 §2.2:
/// the refresh token is the revocable credential).
pub const ACCESS_TTL_SECS: i64 = 600;

/// The claims of an access token (RFC 9068 names).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// This gateway's public URL.
    pub iss: String,
    /// The user's id, or a service client's id.
    pub sub: String,
    /// The user's email; none in a service client's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's tenant, or the one a service client acts for.
    pub account: String,
    /// The client the token was issued to.
    pub aud: String,
    /// Also the client, as RFC 9068 §2.2 asks.
    pub client_id: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique id.
    pub jti: String,
}

/// The signing key and its public half.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// RFC 7638 thumbprint of the public key: the `kid`.
    kid: String,
    x: String,
    y: String,
}

impl TokenKeys {
    /// Loads `data_dir/oauth-signing-key.pem`, generating it on first start.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, OAuthError> {
        let path = data_dir.join(KEY_FILE);
        let io = |e: std::io::Error| OAuthError::Server(format!("{}: {e}", path.display()));
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| OAuthError::Server(e.to_string()))?;
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let pem = crate::secrets::create_private(&path, key.serialize_pem().as_bytes())
                    .map_err(io)?;
                String::from_utf8_lossy(&pem).into_owned()
            }
            Err(e) => return Err(io(e)),
        };
        Self::from_pem(&pem).map_err(|e| OAuthError::Server(format!("{}: {e}", path.display())))
    }

    /// Keys from a PKCS#8 PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
        if !pair.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256) {
            return Err("not an ECDSA P-256 key".into());
        }
        // Uncompressed SEC1 point: 0x04 || X (32 bytes) || Y (32 bytes).
        let point = pair.public_key_raw();
        if point.len() != 65 || point[0] != 4 {
            return Err("unexpected public key encoding".into());
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|e| e.to_string())?;
        Ok(Self {
            encoding,
            decoding,
            kid,
            x,
            y,
        })
    }

    /// The key id in every token header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs an access token for `user` and `client_id`, valid from `now` for
    /// [`ACCESS_TTL_SECS`].
    pub fn access_token(
        &self,
        issuer: &str,
        subject: &Subject,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, OAuthError> {
        self.sign_access(AccessClaims {
            iss: issuer.to_string(),
            sub: subject.user_id.to_string(),
            email: Some(subject.email.clone()),
            account: subject.account.clone(),
            aud: client_id.to_string(),
            client_id: client_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECS,
            jti: crate::secrets::random_token(),
        })
    }

    /// Signs a service client's access token: `sub` is the client itself (RFC 9068 §2.2
    /// for `client_credentials`), with the account it acts for and no person.
    pub fn service_token(
        &self,
        issuer: &str,
        client_id: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<String, OAuthError> {
        self.sign_access(AccessClaims {
            iss: issuer.to_string(),
            sub: client_id.to_string(),
            email: None,
            account: account.to_string(),
            aud: client_id.to_string(),
            client_id: client_id.to_string(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECS,
            jti: crate::secrets::random_token(),
        })
    }

    fn sign_access(&self, claims: AccessClaims) -> Result<String, OAuthError> {
        // RFC 9068 §2.1: a type that keeps an access token from being taken for an ID token.
        self.sign("at+jwt", &claims)
    }

    /// Signs `claims` with header `typ`: every token kind carries its own type so none can
    /// be replayed as another (RFC 8725 §3.11).
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, OAuthError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.into());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| OAuthError::Server(format!("signing: {e}")))
    }

    /// The claims of a token this server signed with type `typ` and issuer `issuer`.
    /// `check_exp` is false only for an `id_token_hint`, which may have expired (OpenID
    /// Connect RP-Initiated Logout §2): its signature still proves we issued it.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        check_exp: bool,
    ) -> Result<T, &'static str> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "not a JWT")?;
        if header.typ.as_deref() != Some(typ) {
            return Err("wrong token type");
        }
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = check_exp;
        v.leeway = 0;
        v.set_required_spec_claims(&["iss", "sub", "exp"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| "bad signature, issuer or expiry")
    }

    /// The JWK Set (RFC 7517) resource servers verify tokens with.
    pub fn jwks(&self) -> Value {
        json!(Jwks {
            keys: vec![Jwk {
                kty: "EC",
                crv: "P-256",
                x: self.x.clone(),
                y: self.y.clone(),
                kid: self.kid.clone(),
                use_: "sig",
                alg: "ES256",
            }],
        })
    }
}

/// A JWK Set (RFC 7517 §5): a named type so the OpenAPI document describes what
/// `/.well-known/jwks.json` sends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    /// The verification keys.
    pub keys: Vec<Jwk>,
}

/// One EC public key (RFC 7517 §4, RFC 7518 §6.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `EC`.
    #[schema(value_type = String, example = "EC")]
    pub kty: &'static str,
    /// `P-256`.
    #[schema(value_type = String, example = "P-256")]
    pub crv: &'static str,
    /// X coordinate, base64url.
    pub x: String,
    /// Y coordinate, base64url.
    pub y: String,
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    #[schema(value_type = String, example = "sig")]
    pub use_: &'static str,
    /// `ES256`.
    #[schema(value_type = String, example = "ES256")]
    pub alg: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKeys::load_or_generate(dir.path()).unwrap();
        let b = TokenKeys::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.kid(), b.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let pem = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
