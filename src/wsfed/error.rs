//! The one error type of the WS-Federation core. As with `SamlError`, `Display` is the
//! precise reason for the log line and `code()` the stable identifier; a person only ever
//! sees `user_message()`.

use crate::saml::SamlError;

/// Why a WS-Federation answer or a WS-Trust exchange did not give a login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsFedError {
    /// A rule shared with SAML (parsing, wrapping, signature, assertion profile).
    #[error(transparent)]
    Saml(#[from] SamlError),
    /// The envelope is not a `RequestSecurityTokenResponse` we read.
    #[error("malformed WS-Federation message: {0}")]
    Malformed(String),
    /// The RSTR's `AppliesTo` names another relying party than our realm.
    #[error("AppliesTo {0:?} is not our realm")]
    AppliesToMismatch(String),
    /// A token type we do not accept (JWT, encrypted, SAML of another version).
    #[error("token type not supported: {0}")]
    TokenType(String),
    /// A `wa` action this endpoint does not serve.
    #[error("WS-Federation action {0:?} not supported here")]
    Action(String),
    /// The STS answered the WS-Trust request with a SOAP fault (wrong password, unknown
    /// user, locked account: AD FS does not say which).
    #[error("the STS refused the request: {0}")]
    Fault(String),
    /// The STS's token is for another person than the one who typed the email.
    #[error("the STS vouched for {0:?}, not for the email typed")]
    OtherUser(String),
    /// The STS could not be reached in time, or answered with neither a token nor a fault.
    #[error("the STS is unavailable: {0}")]
    Unavailable(String),
}

impl WsFedError {
    /// Stable snake_case identifier for logs, metrics and tests (SAML's for shared rules).
    pub fn code(&self) -> &'static str {
        match self {
            WsFedError::Saml(e) => e.code(),
            WsFedError::Malformed(_) => "malformed",
            WsFedError::AppliesToMismatch(_) => "applies_to_mismatch",
            WsFedError::TokenType(_) => "token_type_unsupported",
            WsFedError::Action(_) => "wa_unsupported",
            WsFedError::Fault(_) => "sts_fault",
            WsFedError::OtherUser(_) => "sts_other_user",
            WsFedError::Unavailable(_) => "sts_unavailable",
        }
    }

    /// True when the STS could not be asked (not a refusal of the person): retryable.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, WsFedError::Unavailable(_))
    }

    /// What a person may see: as generic as SAML's, so the ACS is no oracle.
    pub fn user_message(&self) -> &'static str {
        match self {
            WsFedError::Saml(e) => e.user_message(),
            _ => "Authentication failed.",
        }
    }
}

/// A `Malformed` refusal.
pub(super) fn malformed(msg: impl Into<String>) -> WsFedError {
    WsFedError::Malformed(msg.into())
}
