//! The SP's own key pair: signs AuthnRequests and decrypts EncryptedAssertions.
//!
//! With no configured key, an RSA-2048 key and a self-signed certificate are generated once
//! and kept under `data_dir`, so a fresh install works and IdP admins import a certificate
//! that does not change at every restart. RSA rather than ECDSA because Entra ID and AD FS
//! only accept RSA request-signing certificates.

use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::error::SamlError;
use crate::config::Config;

/// File name of the generated key under `data_dir`.
pub const GENERATED_KEY_FILE: &str = "sp-key.pem";
/// File name of the generated certificate under `data_dir`.
pub const GENERATED_CERT_FILE: &str = "sp-cert.pem";

/// The SP key, its certificate and the optional next certificate (rollover).
pub struct SpKeys {
    /// aws-lc-rs signer for the HTTP-Redirect binding (RSA-SHA256 over the query string).
    signer: RsaKeyPair,
    /// The same key for OpenSSL: RSA-OAEP key transport of EncryptedAssertions.
    decryption: PKey<Private>,
    /// PKCS#8 DER of the key, for xmlsec enveloped signatures (HTTP-POST binding).
    pkcs8_der: Vec<u8>,
    cert_der: Vec<u8>,
    next_cert_der: Option<Vec<u8>>,
}

impl std::fmt::Debug for SpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in debug logs.
        f.debug_struct("SpKeys")
            .field("cert_der_len", &self.cert_der.len())
            .field("has_next_cert", &self.next_cert_der.is_some())
            .finish_non_exhaustive()
    }
}

fn key_err(what: &str, e: impl std::fmt::Display) -> SamlError {
    SamlError::Key(format!("{what}: {e}"))
}

impl SpKeys {
    /// Loads `sp_key`/`sp_cert` when configured, else the key generated earlier under
    /// `data_dir`, else generates and stores one (key file mode 0600).
    pub fn load_or_generate(config: &Config) -> Result<Self, SamlError> {
        let next = match &config.sp_next_cert {
            Some(p) => Some(read(p)?),
            None => None,
        };
        match (&config.sp_key, &config.sp_cert) {
            (Some(k), Some(c)) => Self::from_pem(&read(k)?, &read(c)?, next.as_deref()),
            (Some(_), None) | (None, Some(_)) => Err(SamlError::Key(
                "sp_key and sp_cert must be configured together".into(),
            )),
            (None, None) => {
                let key_path = config.data_dir.join(GENERATED_KEY_FILE);
                let cert_path = config.data_dir.join(GENERATED_CERT_FILE);
                if key_path.exists() && cert_path.exists() {
                    return Self::from_pem(&read(&key_path)?, &read(&cert_path)?, next.as_deref());
                }
                std::fs::create_dir_all(&config.data_dir)
                    .map_err(|e| key_err(&format!("create {}", config.data_dir.display()), e))?;
                // The key first, then a certificate for whichever key won: instances starting
                // together all end up with the one pair on disk.
                let key_pem = if key_path.exists() {
                    read(&key_path)?
                } else {
                    create(&key_path, &generate_key_pem()?)?
                };
                let cert_pem = create(&cert_path, &self_signed_pem(&key_pem)?)?;
                tracing::info!(key = %key_path.display(), cert = %cert_path.display(), "generated SP signing key");
                Self::from_pem(&key_pem, &cert_pem, next.as_deref())
            }
        }
    }

    /// Builds the key set from PEM text (PKCS#1 or PKCS#8 key; X.509 certificates).
    /// Refuses a certificate that does not belong to the key: IdPs would then reject every
    /// signed request, and the cause is far from the symptom.
    pub fn from_pem(
        key_pem: &str,
        cert_pem: &str,
        next_cert_pem: Option<&str>,
    ) -> Result<Self, SamlError> {
        let decryption = PKey::private_key_from_pem(key_pem.as_bytes())
            .map_err(|e| key_err("SP key is not a PEM private key", e))?;
        if decryption.rsa().is_err() {
            return Err(SamlError::Key("SP key must be an RSA key".into()));
        }
        let pkcs8_der = decryption
            .private_key_to_pkcs8()
            .map_err(|e| key_err("SP key encoding", e))?;
        let signer = RsaKeyPair::from_pkcs8(&pkcs8_der).map_err(|e| key_err("SP key", e))?;
        let cert = X509::from_pem(cert_pem.as_bytes())
            .map_err(|e| key_err("SP certificate is not PEM", e))?;
        let cert_pub = cert
            .public_key()
            .and_then(|k| k.public_key_to_der())
            .map_err(|e| key_err("SP certificate public key", e))?;
        let key_pub = decryption
            .public_key_to_der()
            .map_err(|e| key_err("SP public key", e))?;
        if cert_pub != key_pub {
            return Err(SamlError::Key(
                "sp_cert does not match sp_key (different public key)".into(),
            ));
        }
        let cert_der = cert.to_der().map_err(|e| key_err("SP certificate", e))?;
        let next_cert_der = match next_cert_pem {
            Some(p) => Some(
                X509::from_pem(p.as_bytes())
                    .and_then(|c| c.to_der())
                    .map_err(|e| key_err("sp_next_cert is not a PEM certificate", e))?,
            ),
            None => None,
        };
        Ok(Self {
            signer,
            decryption,
            pkcs8_der,
            cert_der,
            next_cert_der,
        })
    }

    /// A fresh in-memory key set, for tests and `realmgate metadata` dry runs.
    pub fn generate() -> Result<Self, SamlError> {
        let k = generate_key_pem()?;
        Self::from_pem(&k, &self_signed_pem(&k)?, None)
    }

    /// DER of the current certificate.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// Base64 DER of the current certificate, as metadata `ds:X509Certificate` wants it.
    pub fn cert_base64(&self) -> String {
        STANDARD.encode(&self.cert_der)
    }

    /// DER of the next certificate, published before it signs so IdPs can trust it early.
    pub fn next_cert_der(&self) -> Option<&[u8]> {
        self.next_cert_der.as_deref()
    }

    /// PKCS#8 DER of the private key, for xmlsec signing (HTTP-POST AuthnRequests).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// The private key for RSA-OAEP decryption of EncryptedAssertions.
    pub fn decryption_key(&self) -> &PKey<Private> {
        &self.decryption
    }

    /// RSA-SHA256 (PKCS#1 v1.5) signature of `message`, as the HTTP-Redirect binding
    /// requires (SAML bindings section 3.4.4.1).
    pub fn sign_rsa_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SamlError> {
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|e| key_err("signing", e))?;
        Ok(sig)
    }
}

fn read(path: &Path) -> Result<String, SamlError> {
    std::fs::read_to_string(path).map_err(|e| key_err(&format!("read {}", path.display()), e))
}

/// Writes `pem` to `path` unless another instance did first, and returns what is there
/// (see [`crate::secrets::create_private`]).
fn create(path: &Path, pem: &str) -> Result<String, SamlError> {
    let bytes = crate::secrets::create_private(path, pem.as_bytes())
        .map_err(|e| key_err(&format!("create {}", path.display()), e))?;
    String::from_utf8(bytes).map_err(|e| key_err(&format!("read {}", path.display()), e))
}

/// A new RSA-2048 key (PKCS#8 PEM). RSA rather than ECDSA: see the module comment.
fn generate_key_pem() -> Result<String, SamlError> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .map(|k| k.serialize_pem())
        .map_err(|e| key_err("RSA key generation", e))
}

/// A ten-year self-signed certificate (PEM) for `key_pem`. IdPs pin SP certificates rather
/// than validate chains, so self-signed is what every SP ships.
fn self_signed_pem(key_pem: &str) -> Result<String, SamlError> {
    let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| key_err("SP key", e))?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|e| key_err("certificate parameters", e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "realmgate SAML SP");
    let year = chrono::Datelike::year(&chrono::Utc::now());
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let cert = params
        .self_signed(&key)
        .map_err(|e| key_err("self-signing", e))?;
    Ok(cert.pem())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    #[test]
    fn generates_once_with_private_mode_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let a = SpKeys::load_or_generate(&config).expect("generate");
        let b = SpKeys::load_or_generate(&config).expect("reload");
        assert_eq!(a.cert_der(), b.cert_der());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config.data_dir.join(GENERATED_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_left_without_its_certificate_is_kept_and_certified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let key = generate_key_pem().expect("key");
        std::fs::write(dir.path().join(GENERATED_KEY_FILE), &key).expect("write key");
        let keys = SpKeys::load_or_generate(&config).expect("load");
        let expected =
            SpKeys::from_pem(&key, &self_signed_pem(&key).expect("cert"), None).expect("pair");
        assert_eq!(
            keys.sign_rsa_sha256(b"x").expect("sign"),
            expected.sign_rsa_sha256(b"x").expect("sign")
        );
    }

    #[test]
    fn signature_verifies_with_the_certificate_key() {
        let keys = SpKeys::generate().expect("keys");
        let sig = keys.sign_rsa_sha256(b"SAMLRequest=abc").expect("sign");
        let cert = X509::from_der(keys.cert_der()).expect("cert");
        let rsa = cert.public_key().expect("pk").rsa().expect("rsa");
        let pkcs1 = rsa.public_key_to_der_pkcs1().expect("der");
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pkcs1)
            .verify(b"SAMLRequest=abc", &sig)
            .expect("valid signature");
    }

    #[test]
    fn mismatched_certificate_is_refused() {
        let k1 = generate_key_pem().expect("k1");
        let c2 = self_signed_pem(&generate_key_pem().expect("k2")).expect("c2");
        assert!(matches!(
            SpKeys::from_pem(&k1, &c2, None),
            Err(SamlError::Key(_))
        ));
    }

    #[test]
    fn half_configured_key_is_refused() {
        let config = Config {
            sp_key: Some("/nonexistent/key.pem".into()),
            ..Config::default()
        };
        assert!(matches!(
            SpKeys::load_or_generate(&config),
            Err(SamlError::Key(_))
        ));
    }
}
