//! The token signer (access, ID and logout tokens) and verifier of its own tokens: ECDSA
//! P-256 keys (ES256, RFC 7518 §3.4) in `data_dir` (PKCS#8, owner-only), so every restart
//! and every instance sharing `data_dir` signs with the same key and resource servers
//! keep trusting the JWKS. Signing is done by `jsonwebtoken` on aws-lc-rs: no
//! hand-written crypto.
//!
//! Rotation (`realmgate keys rotate`, see [`rotate`]) is three files: the signing key
//! ([`KEY_FILE`]), the next one ([`NEXT_FILE`]: published in the JWKS, not yet signing)
//! and the retired one ([`PREVIOUS_FILE`]: still published for [`RETIRE_AFTER`], the
//! longest lifetime of a token it signed). Every instance re-reads them
//! ([`TokenKeys::reload`]), so a key is in every JWKS before any instance signs with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::OAuthError;
use super::subject::Subject;

/// File name of the signing key under `data_dir`.
pub const KEY_FILE: &str = "oauth-signing-key.pem";

/// The next key: published, signing after the next rotation.
pub const NEXT_FILE: &str = "oauth-signing-key.next.pem";

/// The retired key: published until [`RETIRE_AFTER`] after its retirement.
pub const PREVIOUS_FILE: &str = "oauth-signing-key.previous.pem";

/// How long a retired key stays in the JWKS: the longest lifetime of a token it signed
/// (access and ID tokens, ten minutes) plus a minute of clock skew.
pub const RETIRE_AFTER: Duration = Duration::from_secs(ACCESS_TTL_SECS as u64 + 60);

/// How often every instance re-reads the key files.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// How long the next key must have been published before it may sign: every instance
/// has re-read the files twice, so each serves it in its JWKS.
pub const PUBLISH_LEAD: Duration = Duration::from_secs(2 * RELOAD_EVERY.as_secs());

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

/// One key pair.
struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// RFC 7638 thumbprint of the public key: the `kid`.
    kid: String,
    x: String,
    y: String,
}

/// The signing key and the others published beside it (next, retired).
struct KeySet {
    signing: Key,
    others: Vec<Key>,
}

/// The signing keys, re-read from `data_dir` as rotations happen.
pub struct TokenKeys {
    dir: Option<PathBuf>,
    set: ArcSwap<KeySet>,
}

/// What a rotation step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A next key was generated and is now published (not yet signing).
    Published {
        /// Its `kid`.
        kid: String,
    },
    /// The next key now signs; the old one is retired (published for [`RETIRE_AFTER`]).
    Promoted {
        /// The new signing key's `kid`.
        kid: String,
    },
}

/// Why a rotation step must wait.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The next key was published too recently: some instance may not serve it yet.
    #[error(
        "the next key was published {0} s ago; run again in {1} s, once every instance publishes it"
    )]
    TooEarly(u64, u64),
    /// A retired key may still verify live tokens: replacing it would break them.
    #[error(
        "the previous key was retired {0} s ago and may still verify live tokens; run again in {1} s"
    )]
    PreviousLive(u64, u64),
    /// A file could not be read or written.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// Seconds since `path` was last written, when it exists.
fn age(path: &Path, now: SystemTime) -> Result<Option<Duration>, OAuthError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(
            m.modified()
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(OAuthError::Server(format!("{}: {e}", path.display()))),
    }
}

/// One rotation step in `data_dir` at `now`: without a next key, generate and publish one;
/// with one published for at least [`PUBLISH_LEAD`], make it the signing key and retire
/// the current one. Refuses, rather than break live tokens, while a retired key is younger
/// than [`RETIRE_AFTER`].
pub fn rotate(data_dir: &Path, now: SystemTime) -> Result<Rotation, RotateError> {
    let io = |p: &Path, e: std::io::Error| OAuthError::Server(format!("{}: {e}", p.display()));
    let (current, next, previous) = (
        data_dir.join(KEY_FILE),
        data_dir.join(NEXT_FILE),
        data_dir.join(PREVIOUS_FILE),
    );
    TokenKeys::load_or_generate(data_dir)?;
    let Some(published) = age(&next, now)? else {
        let pem = generate()?;
        crate::secrets::create_private(&next, pem.as_bytes()).map_err(|e| io(&next, e))?;
        // The publication time is the step's `now`, as the retirement's is below: the
        // file system's clock may stand a moment after it, which would make the promotion
        // `PUBLISH_LEAD` later seem early.
        std::fs::File::options()
            .append(true)
            .open(&next)
            .and_then(|f| f.set_modified(now))
            .map_err(|e| io(&next, e))?;
        let kid = Key::from_pem(&pem).map_err(OAuthError::Server)?.kid;
        return Ok(Rotation::Published { kid });
    };
    if published < PUBLISH_LEAD {
        let (a, b) = (
            published.as_secs(),
            (PUBLISH_LEAD - published).as_secs() + 1,
        );
        return Err(RotateError::TooEarly(a, b));
    }
    if let Some(retired) = age(&previous, now)?
        && retired < RETIRE_AFTER
    {
        let (a, b) = (retired.as_secs(), (RETIRE_AFTER - retired).as_secs() + 1);
        return Err(RotateError::PreviousLive(a, b));
    }
    std::fs::rename(&current, &previous).map_err(|e| io(&current, e))?;
    // The retirement time is the file's: a rename keeps the old one.
    std::fs::File::options()
        .append(true)
        .open(&previous)
        .and_then(|f| f.set_modified(now))
        .map_err(|e| io(&previous, e))?;
    std::fs::rename(&next, &current).map_err(|e| io(&next, e))?;
    let pem = std::fs::read_to_string(&current).map_err(|e| io(&current, e))?;
    let kid = Key::from_pem(&pem).map_err(OAuthError::Server)?.kid;
    Ok(Rotation::Promoted { kid })
}

fn generate() -> Result<String, OAuthError> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map(|k| k.serialize_pem())
        .map_err(|e| OAuthError::Server(e.to_string()))
}

impl Key {
    /// A key from a PKCS#8 PEM P-256 private key.
    fn from_pem(pem: &str) -> Result<Self, String> {
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
}

impl KeySet {
    /// The keys in `data_dir` at `now`: the signing key, the next one, and the retired one
    /// while it is younger than [`RETIRE_AFTER`].
    fn read(data_dir: &Path, now: SystemTime) -> Result<Self, OAuthError> {
        let read = |name: &str| -> Result<Option<Key>, OAuthError> {
            let path = data_dir.join(name);
            let bad = |e: String| OAuthError::Server(format!("{}: {e}", path.display()));
            match std::fs::read_to_string(&path) {
                Ok(pem) => Key::from_pem(&pem).map(Some).map_err(bad),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(bad(e.to_string())),
            }
        };
        let signing =
            read(KEY_FILE)?.ok_or_else(|| OAuthError::Server(format!("{KEY_FILE} is missing")))?;
        let mut others: Vec<Key> = read(NEXT_FILE)?.into_iter().collect();
        if age(&data_dir.join(PREVIOUS_FILE), now)?.is_some_and(|a| a < RETIRE_AFTER) {
            others.extend(read(PREVIOUS_FILE)?);
        }
        Ok(Self { signing, others })
    }

    fn all(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.signing).chain(&self.others)
    }
}

impl TokenKeys {
    /// Loads the keys of `data_dir`, generating the signing key on first start.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, OAuthError> {
        let path = data_dir.join(KEY_FILE);
        let io = |e: std::io::Error| OAuthError::Server(format!("{}: {e}", path.display()));
        if !path.exists() {
            std::fs::create_dir_all(data_dir).map_err(io)?;
            crate::secrets::create_private(&path, generate()?.as_bytes()).map_err(io)?;
        }
        Ok(Self {
            set: ArcSwap::from_pointee(KeySet::read(data_dir, SystemTime::now())?),
            dir: Some(data_dir.to_path_buf()),
        })
    }

    /// Keys from a PKCS#8 PEM P-256 private key, never rotated.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        Ok(Self {
            set: ArcSwap::from_pointee(KeySet {
                signing: Key::from_pem(pem)?,
                others: Vec::new(),
            }),
            dir: None,
        })
    }

    /// Re-reads the key files (a rotation by the CLI or another instance); on an error the
    /// keys in use stay, and the error is answered for the log.
    pub fn reload(&self) -> Result<(), OAuthError> {
        if let Some(dir) = &self.dir {
            self.set
                .store(Arc::new(KeySet::read(dir, SystemTime::now())?));
        }
        Ok(())
    }

    /// The key id of the signing key.
    pub fn kid(&self) -> String {
        self.set.load().signing.kid.clone()
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
        let set = self.set.load();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(set.signing.kid.clone());
        header.typ = Some(typ.into());
        jsonwebtoken::encode(&header, claims, &set.signing.encoding)
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
        let set = self.set.load();
        let key = set
            .all()
            .find(|k| header.kid.as_deref() == Some(k.kid.as_str()))
            .ok_or("signed by no published key")?;
        let mut v = Validation::new(Algorithm::ES256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = check_exp;
        v.leeway = 0;
        v.set_required_spec_claims(&["iss", "sub", "exp"]);
        jsonwebtoken::decode::<T>(token, &key.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| "bad signature, issuer or expiry")
    }

    /// The JWK Set (RFC 7517) resource servers verify tokens with: the signing key first,
    /// then the next and the retired one.
    pub fn jwks(&self) -> Value {
        json!(Jwks {
            keys: self
                .set
                .load()
                .all()
                .map(|k| Jwk {
                    kty: "EC",
                    crv: "P-256",
                    x: k.x.clone(),
                    y: k.y.clone(),
                    kid: k.kid.clone(),
                    use_: "sig",
                    alg: "ES256",
                })
                .collect(),
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

    fn kids(keys: &TokenKeys) -> Vec<String> {
        keys.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn rotation_publishes_before_signing_and_retires_after_the_longest_token() {
        let dir = tempfile::tempdir().unwrap();
        let keys = TokenKeys::load_or_generate(dir.path()).unwrap();
        let old = keys.kid();
        let now = SystemTime::now();
        let Rotation::Published { kid: next } = rotate(dir.path(), now).unwrap() else {
            panic!("first step publishes");
        };
        keys.reload().unwrap();
        // Published, not signing.
        assert_eq!(kids(&keys), vec![old.clone(), next.clone()]);
        assert_eq!(keys.kid(), old);
        // Too early to promote: an instance may not publish it yet.
        assert!(matches!(
            rotate(dir.path(), now + Duration::from_secs(10)),
            Err(RotateError::TooEarly(..))
        ));
        let token = keys
            .sign(
                "at+jwt",
                &json!({"iss": "i", "sub": "s", "exp": 4_000_000_000i64}),
            )
            .unwrap();
        let later = now + PUBLISH_LEAD;
        assert_eq!(
            rotate(dir.path(), later).unwrap(),
            Rotation::Promoted { kid: next.clone() }
        );
        keys.reload().unwrap();
        assert_eq!(keys.kid(), next);
        // The old key still verifies the tokens it signed, and is published.
        assert!(kids(&keys).contains(&old));
        assert!(keys.verify::<Value>(&token, "at+jwt", "i", true).is_ok());
        // The next rotation publishes a new key, but cannot promote while the old is live.
        let step = later + Duration::from_secs(1);
        assert!(matches!(
            rotate(dir.path(), step).unwrap(),
            Rotation::Published { .. }
        ));
        assert!(matches!(
            rotate(dir.path(), step + PUBLISH_LEAD),
            Err(RotateError::PreviousLive(..))
        ));
        // After RETIRE_AFTER the retired key leaves the JWKS (read at that time).
        let set = KeySet::read(dir.path(), later + RETIRE_AFTER).unwrap();
        assert!(set.all().all(|k| k.kid != old));
    }
}
