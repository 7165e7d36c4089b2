//! Helpers shared by the SAML test binaries.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use realmgate::saml::metadata::IdpMetadata;
use realmgate::saml::response::Expected;

/// python3-saml's and crewjam/saml's test data: `../shared/testvectors` beside the
/// repository. Not ours to commit, so a fresh clone has none; tests call
/// [`require_vectors`] before reading it.
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testvectors")
}

/// Whether [`vectors`] is there. When it is not, the calling test is skipped, or fails
/// under CI, as for the other external components (`super::require_program`).
///
/// The skip is said once per test binary and straight to stderr: libtest captures the
/// output of passing tests, and a skip nobody sees would read as a pass.
pub fn require_vectors() -> bool {
    let dir = vectors();
    if dir.is_dir() {
        return true;
    }
    assert!(
        !super::under_ci(),
        "the SAML test vectors are required under CI: {} is missing",
        dir.display()
    );
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the tests of python3-saml's and crewjam/saml's vectors: {} is absent (put the test vectors there to run them)",
            dir.display()
        );
    });
    false
}

/// `tests/testdata/saml`, written by `generate.py`.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/saml")
}

/// A vector file as the base64 a browser would POST (files hold XML or base64).
pub fn response_b64(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let trimmed = String::from_utf8_lossy(&bytes).trim().to_string();
    if trimmed.starts_with('<') {
        STANDARD.encode(trimmed.as_bytes())
    } else {
        trimmed
    }
}

/// Decoded XML of a vector file.
pub fn response_xml(path: &std::path::Path) -> String {
    let b64: String = response_b64(path).split_whitespace().collect();
    String::from_utf8(STANDARD.decode(b64).expect("base64")).expect("utf8")
}

/// RFC 3339 instant.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// IdP metadata from a file.
pub fn idp_from_file(path: &std::path::Path) -> IdpMetadata {
    IdpMetadata::parse(&std::fs::read(path).expect("metadata file")).expect("metadata parses")
}

/// The SP side a vector was made for.
pub struct Sp {
    pub entity_id: String,
    pub acs_urls: Vec<String>,
    pub request_id: Option<String>,
    pub allow_unsolicited: bool,
    pub email_claim: Option<String>,
}

impl Sp {
    pub fn expected<'a>(
        &'a self,
        idp: &'a IdpMetadata,
        key: Option<&'a openssl::pkey::PKey<openssl::pkey::Private>>,
    ) -> Expected<'a> {
        Expected {
            idp,
            entity_id: &self.entity_id,
            acs_urls: &self.acs_urls,
            request_id: self.request_id.as_deref(),
            allow_unsolicited: self.allow_unsolicited,
            skew: Duration::from_secs(120),
            email_claim: self.email_claim.as_deref(),
            decryption_key: key,
        }
    }
}
