//! The one error type of the SAML module. `Display` carries the precise reason for the log
//! line; `code()` is a stable identifier for metrics, tests and the error page; the person
//! at the browser only ever sees `user_message()`, so an attacker probing the ACS learns
//! nothing about which check failed.

/// Everything that can go wrong while building requests, reading metadata or validating a
/// SAML Response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// The message exceeds the size limit (before or after base64 decoding).
    #[error("message too large: {0} bytes")]
    TooLarge(usize),
    /// Not base64, not UTF-8, not well-formed XML, or not the expected SAML element.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `<!DOCTYPE` was present; DTDs are refused before parsing (XXE, billion laughs).
    #[error("document type declarations are forbidden")]
    DtdForbidden,
    /// The document is not plain UTF-8 (another declared encoding, a BOM other than UTF-8's,
    /// NUL bytes): a second decoding is how a DOCTYPE hides from the byte scan.
    #[error("encoding refused: {0}")]
    Encoding(String),
    /// More attributes, elements or depth than any real IdP sends: libxml2 spends quadratic
    /// time on some of these, so they are refused before parsing.
    #[error("document too complex: {0}")]
    TooComplex(String),
    /// The response carries no assertion at all.
    #[error("the response carries no assertion")]
    NoAssertion,
    /// More than one Assertion/EncryptedAssertion anywhere in the document (wrapping).
    #[error("expected exactly one assertion, found {0}")]
    MultipleAssertions(usize),
    /// Two elements share an `ID` value, so a reference could point at either (XSW).
    #[error("duplicate ID attribute value {0:?}")]
    DuplicateId(String),
    /// A `ds:Signature` has a shape we refuse before running any crypto.
    #[error("signature shape refused: {0}")]
    SignatureShape(String),
    /// A signature or digest algorithm outside the allow-list (SHA-1, HMAC, ...).
    #[error("signature algorithm refused: {0}")]
    SignatureAlgorithm(String),
    /// No signature covers the assertion that would be used.
    #[error("no signature covers the assertion")]
    SignatureMissing,
    /// The cryptographic verification with the IdP's configured certificates failed.
    #[error("signature verification failed: {0}")]
    SignatureInvalid(String),
    /// The IdP configuration has no signing certificate (samael would fail open).
    #[error("the identity provider has no signing certificate")]
    NoCertificate,
    /// An encryption algorithm we refuse (CBC, RSA-1.5) or an encrypted element we do not read.
    #[error("encryption algorithm or element not supported: {0}")]
    EncryptionUnsupported(String),
    /// Decrypting an EncryptedAssertion failed (wrong key, bad tag, no SP key).
    #[error("decryption failed: {0}")]
    DecryptionFailed(String),
    /// The IdP answered with a non-success status (e.g. the user cancelled).
    #[error("identity provider status {code}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    StatusNotSuccess {
        /// Top-level status code URI, then the nested one when present, joined by ` / `.
        code: String,
        /// `StatusMessage`, when the IdP sent one.
        message: Option<String>,
    },
    /// Response or Assertion Issuer is not the tenant's IdP.
    #[error("issuer mismatch: expected {expected:?}, found {found:?}")]
    IssuerMismatch {
        /// The IdP entity ID from metadata.
        expected: String,
        /// What the message said (empty when absent).
        found: String,
    },
    /// Response `Destination` is not one of our ACS URLs.
    #[error("destination mismatch: {0:?}")]
    DestinationMismatch(String),
    /// `SubjectConfirmationData/@Recipient` is not one of our ACS URLs.
    #[error("recipient mismatch: {0:?}")]
    RecipientMismatch(String),
    /// `InResponseTo` does not name the request this browser started.
    #[error("InResponseTo mismatch: expected {expected:?}, found {found:?}")]
    InResponseToMismatch {
        /// The request ID we stored, if any.
        expected: Option<String>,
        /// The value in the message, if any.
        found: Option<String>,
    },
    /// An IdP-initiated response for a tenant that does not allow them.
    #[error("unsolicited response refused")]
    Unsolicited,
    /// No bearer SubjectConfirmation.
    #[error("no bearer subject confirmation")]
    SubjectConfirmationMissing,
    /// A bearer `SubjectConfirmationData` carries `NotBefore`, which the Web SSO profile
    /// (4.1.4.2) forbids: an IdP sending it is not following the profile we check against.
    #[error("bearer SubjectConfirmationData carries NotBefore")]
    BearerNotBefore,
    /// The assertion has no `AuthnStatement`: it says who someone is, not that they just
    /// signed in (Web SSO profile 4.1.4.2 requires one).
    #[error("the assertion has no AuthnStatement")]
    AuthnStatementMissing,
    /// A validity window ended.
    #[error("expired: {0}")]
    Expired(String),
    /// A validity window has not started.
    #[error("not yet valid: {0}")]
    NotYetValid(String),
    /// No AudienceRestriction (samael would skip the audience check).
    #[error("the assertion has no audience restriction")]
    AudienceMissing,
    /// Our entity ID is not among the audiences.
    #[error("audience mismatch: {0:?}")]
    AudienceMismatch(Vec<String>),
    /// A NameID or attribute value holds a space other than XML whitespace (NBSP, U+3000,
    /// zero-width): readers that trim Unicode spaces would see another identity than we do.
    #[error("non-XML space in {0}")]
    UnicodeSpace(String),
    /// Neither the configured email attribute nor a NameID gave an email.
    #[error("no email in the assertion: {0}")]
    EmailMissing(String),
    /// IdP metadata is unusable.
    #[error("invalid metadata: {0}")]
    Metadata(String),
    /// Fetching metadata over HTTPS failed.
    #[error("metadata fetch failed: {0}")]
    MetadataFetch(String),
    /// Loading, generating or using the SP key failed.
    #[error("SP key error: {0}")]
    Key(String),
}

impl SamlError {
    /// Stable snake_case identifier for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::TooLarge(_) => "too_large",
            SamlError::Malformed(_) => "malformed",
            SamlError::DtdForbidden => "dtd_forbidden",
            SamlError::Encoding(_) => "encoding_refused",
            SamlError::TooComplex(_) => "too_complex",
            SamlError::NoAssertion => "no_assertion",
            SamlError::MultipleAssertions(_) => "multiple_assertions",
            SamlError::DuplicateId(_) => "duplicate_id",
            SamlError::SignatureShape(_) => "signature_shape",
            SamlError::SignatureAlgorithm(_) => "signature_algorithm",
            SamlError::SignatureMissing => "signature_missing",
            SamlError::SignatureInvalid(_) => "signature_invalid",
            SamlError::NoCertificate => "no_certificate",
            SamlError::EncryptionUnsupported(_) => "encryption_unsupported",
            SamlError::DecryptionFailed(_) => "decryption_failed",
            SamlError::StatusNotSuccess { .. } => "status_not_success",
            SamlError::IssuerMismatch { .. } => "issuer_mismatch",
            SamlError::DestinationMismatch(_) => "destination_mismatch",
            SamlError::RecipientMismatch(_) => "recipient_mismatch",
            SamlError::InResponseToMismatch { .. } => "in_response_to_mismatch",
            SamlError::Unsolicited => "unsolicited",
            SamlError::SubjectConfirmationMissing => "subject_confirmation_missing",
            SamlError::BearerNotBefore => "bearer_not_before",
            SamlError::AuthnStatementMissing => "authn_statement_missing",
            SamlError::Expired(_) => "expired",
            SamlError::NotYetValid(_) => "not_yet_valid",
            SamlError::AudienceMissing => "audience_missing",
            SamlError::AudienceMismatch(_) => "audience_mismatch",
            SamlError::UnicodeSpace(_) => "unicode_space",
            SamlError::EmailMissing(_) => "email_missing",
            SamlError::Metadata(_) => "metadata_invalid",
            SamlError::MetadataFetch(_) => "metadata_fetch",
            SamlError::Key(_) => "key_error",
        }
    }

    /// The text a person at the browser may see: generic on purpose, so the ACS is no
    /// oracle telling an attacker which check a forged response tripped.
    pub fn user_message(&self) -> &'static str {
        match self {
            SamlError::StatusNotSuccess { .. } => {
                "Your identity provider did not complete the sign-in. Please try again."
            }
            SamlError::Expired(_) | SamlError::NotYetValid(_) => {
                "The sign-in took too long or the clocks disagree. Please try again."
            }
            _ => "Authentication failed.",
        }
    }
}

/// A `Malformed` refusal: the validation files build dozens of them, each one short line.
pub(super) fn malformed(msg: impl Into<String>) -> SamlError {
    SamlError::Malformed(msg.into())
}

/// An `EncryptionUnsupported` refusal, shared by decryption and the profile rules (which
/// refuse an EncryptedID).
pub(super) fn unsupported(msg: impl Into<String>) -> SamlError {
    SamlError::EncryptionUnsupported(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_display_is_precise() {
        let e = SamlError::StatusNotSuccess {
            code: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            message: Some("user cancelled".into()),
        };
        assert_eq!(e.code(), "status_not_success");
        assert!(e.to_string().contains("user cancelled"));
        assert_eq!(SamlError::DtdForbidden.code(), "dtd_forbidden");
        assert_eq!(
            SamlError::DtdForbidden.user_message(),
            "Authentication failed."
        );
    }
}
