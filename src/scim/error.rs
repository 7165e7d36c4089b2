//! The one error type of the SCIM core. Each variant is one RFC 7644 §3.12 answer: the HTTP
//! status and `scimType` a client such as Entra reads to decide whether to retry, skip or
//! report the object, so the glue maps nothing itself and only serialises [`ScimError::body`].

use serde::Serialize;

/// The `schemas` URN of every SCIM error body (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Everything a SCIM request can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// The filter does not parse, is over the length or depth bound, or uses an operator on
    /// a value it does not apply to.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// The body is not JSON of the expected shape (kept: serde's line and column).
    #[error("invalid syntax: {0}")]
    InvalidSyntax(#[source] serde_json::Error),
    /// The body is JSON but not a SCIM message of this kind (schemas, Operations, op).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A required value is missing or a value has the wrong type.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A PATCH path that does not parse or names no attribute of the resource.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A PATCH path whose filter matched no value to operate on.
    #[error("no target: {0}")]
    NoTarget(String),
    /// An attempt to change a read-only attribute (`id`, `meta`), or to remove a required
    /// one (`userName`, `active`, a group's `displayName`).
    #[error("attribute is read-only: {0}")]
    Mutability(String),
    /// Another resource already holds this unique value (`userName`, `externalId`).
    #[error("not unique: {0}")]
    Uniqueness(String),
    /// More operations than the server accepts in one request.
    #[error("too many: {0}")]
    TooMany(String),
    /// No resource with this id in the tenant.
    #[error("not found: {0}")]
    NotFound(String),
}

/// The RFC 7644 §3.12 error body, as clients parse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Always [`ERROR_SCHEMA`].
    pub schemas: [&'static str; 1],
    /// The HTTP status as a string: the RFC's type, which some clients insist on.
    pub status: String,
    /// The RFC's keyword, absent where the RFC defines none (404).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    /// The precise reason, for the provisioning log of the client's administrator.
    pub detail: String,
}

impl ScimError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::Uniqueness(_) => 409,
            Self::NotFound(_) => 404,
            _ => 400,
        }
    }

    /// The RFC 7644 §3.12 `scimType` keyword; also the stable code for logs and metrics.
    pub fn scim_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidFilter(_) => "invalidFilter",
            Self::InvalidSyntax(_) | Self::InvalidRequest(_) => "invalidSyntax",
            Self::InvalidValue(_) => "invalidValue",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::Mutability(_) => "mutability",
            Self::Uniqueness(_) => "uniqueness",
            Self::TooMany(_) => "tooMany",
            Self::NotFound(_) => return None,
        })
    }

    /// The body to send with [`ScimError::status`].
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            schemas: [ERROR_SCHEMA],
            status: self.status().to_string(),
            scim_type: self.scim_type(),
            detail: self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc_shape() {
        let body = serde_json::to_value(ScimError::Uniqueness("userName".into()).body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [ERROR_SCHEMA],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "not unique: userName",
            })
        );
        let body = serde_json::to_value(ScimError::NotFound("Users/7".into()).body()).unwrap();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }
}
