//! The management API's shared edge: [`MgmtError`], the one refusal every management
//! route answers with (mapped once to a status and stable code), and the extractors' error
//! handling. The routes are by resource: `api_tenants`, `api_users`, `api_onboarding`
//! (Waiting Room decisions, invitations, CSV import) and `api_audit` (audit log, login
//! traces); the caller is a [`super::bearer::Caller`].

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::{AdminError, ErrorKind};
use crate::discovery::DirectoryError;
use crate::session::StoreError;
use crate::session::rate_limit::RateLimitError;

/// Failures of a management request, each mapped once to a status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum MgmtError {
    /// No token, or one that is unknown or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// A valid token of another scope than `admin` (its name).
    #[error("token {0} is not of scope admin")]
    Forbidden(String),
    /// The request could not be read.
    #[error("{0}")]
    BadRequest(String),
    /// The operation refused or failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// Too many failed token lookups from this address, or the counters are down.
    #[error(transparent)]
    Limited(#[from] RateLimitError),
    /// The tenant source is down.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The tenant database holds tenants that do not validate.
    #[error("stored tenants have {0} problems")]
    Tenants(usize),
    /// The session store (login traces) is down.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The JSON body of every management API refusal.
#[derive(Debug, Serialize, ToSchema)]
pub struct MgmtErrorBody {
    /// Stable code: `invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `rate_limited`, `temporarily_unavailable`.
    pub error: &'static str,
    /// What went wrong, in English.
    pub message: String,
    /// Each problem of an `invalid` request.
    pub problems: Vec<String>,
}

impl MgmtError {
    fn status_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid"),
            Self::Admin(e) => match e.kind() {
                ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid"),
                ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
                ErrorKind::ManagedInFile => (StatusCode::CONFLICT, "managed_in_file"),
                ErrorKind::Unavailable => UNAVAILABLE,
            },
            Self::Limited(RateLimitError::Limited(_)) => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            }
            Self::Limited(RateLimitError::Store(_))
            | Self::Directory(_)
            | Self::Tenants(_)
            | Self::Store(_) => UNAVAILABLE,
        }
    }
}

const UNAVAILABLE: (StatusCode, &str) =
    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");

impl IntoResponse for MgmtError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_code();
        let (message, problems) = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code, reason = %self, "management request failed");
            (
                "A backend is unavailable; try again in a minute.".to_string(),
                vec![],
            )
        } else {
            tracing::info!(code, reason = %self, "management request refused");
            let message = self.to_string();
            let problems = match &self {
                Self::Admin(e) if matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Conflict) => {
                    e.problems()
                }
                _ if status == StatusCode::BAD_REQUEST => vec![message.clone()],
                _ => vec![],
            };
            (message, problems)
        };
        let mut res = (
            status,
            Json(MgmtErrorBody {
                error: code,
                message,
                problems,
            }),
        )
            .into_response();
        match &self {
            Self::Unauthorized(_) => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Limited(RateLimitError::Limited(r)) => {
                if let Ok(v) = HeaderValue::from_str(&r.seconds().to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        res
    }
}

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, MgmtError> {
    body.map(|Json(b)| b)
        .map_err(|e| MgmtError::BadRequest(e.body_text()))
}

pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, MgmtError> {
    q.map(|Query(q)| q)
        .map_err(|e| MgmtError::BadRequest(e.body_text()))
}
