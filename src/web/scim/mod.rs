//! SCIM 2.0 provisioning at `/scim/v2/{account}/` (RFC 7644): thin glue between HTTP, the
//! protocol core ([`crate::scim`]) and the management operations ([`crate::admin`]), which
//! decide and audit every change under the token's name.
//!
//! The caller is an account token of scope `scim` for the path's account (an Entra
//! provisioning job's Secret Token): another scope, or the operator's token, is 403;
//! another account's token is 404 like an absent account; every refusal carries the RFC
//! 7644 §3.12 error body, since that is what the client's provisioning log shows.
//!
//! Disabling (`active: false`) and DELETE end the user's sessions through the session
//! check's status cache: at once on this instance (its entry is dropped here), within the
//! cache's 30 s on the others.
//!
//! # Layout
//! - this file: the caller ([`Provisioner`]), [`ScimFailure`] and the answer's media type;
//! - [`query`]: the query of a list (`filter`, paging, attribute selection), `/.search`;
//! - [`users`]: the `/Users` resources;
//! - [`groups`]: the `/Groups` resources;
//! - [`discovery`]: `ServiceProviderConfig`, `ResourceTypes`, `Schemas`, and the 404 of
//!   any other path.

mod discovery;
mod groups;
mod query;
mod users;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::api::MgmtError;
use super::bearer::{self, Caller};
use super::state::SharedState;
use crate::admin::{AdminError, ErrorKind, Scope};
use crate::discovery::Tenant;
use crate::scim::ScimError;
use crate::scim::error::{ERROR_SCHEMA, ErrorBody};
use crate::session::rate_limit::RateLimitError;

pub use discovery::{
    resource_type, resource_types, schema, schemas, service_provider_config, unknown,
};
pub use groups::{
    create_group, delete_group, get_group, list_groups, patch_group, put_group, search_groups,
};
pub use query::search_all;
pub use users::{
    create_user, delete_user, get_user, list_users, patch_user, put_user, search_users,
};

/// The media type of every SCIM answer (RFC 7644 §3.1).
const SCIM_JSON: &str = "application/scim+json";

/// Failures of a SCIM request, each answered once with the SCIM error body.
#[derive(Debug, thiserror::Error)]
pub enum ScimFailure {
    /// The request breaks the protocol (the core's own status and `scimType`).
    #[error(transparent)]
    Protocol(#[from] ScimError),
    /// Authentication, the tenant lookup, or a management operation refused or failed.
    #[error(transparent)]
    Mgmt(#[from] MgmtError),
    /// A valid token that is not an account token of scope `scim` (its name).
    #[error("token {0} is not an account token of scope scim")]
    NotScim(String),
}

impl From<AdminError> for ScimFailure {
    fn from(e: AdminError) -> Self {
        Self::Mgmt(MgmtError::Admin(e))
    }
}

impl ScimFailure {
    /// The status and RFC 7644 `scimType` of the answer.
    fn status(&self) -> (StatusCode, Option<&'static str>) {
        let unavailable = (StatusCode::SERVICE_UNAVAILABLE, None);
        match self {
            Self::Protocol(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.scim_type(),
            ),
            Self::NotScim(_) | Self::Mgmt(MgmtError::Forbidden(_)) => (StatusCode::FORBIDDEN, None),
            Self::Mgmt(MgmtError::Unauthorized(_)) => (StatusCode::UNAUTHORIZED, None),
            Self::Mgmt(MgmtError::BadRequest(_)) => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            Self::Mgmt(MgmtError::Admin(e)) => match e.kind() {
                ErrorKind::Invalid => (StatusCode::BAD_REQUEST, Some("invalidValue")),
                ErrorKind::Forbidden => (StatusCode::FORBIDDEN, None),
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, None),
                ErrorKind::Conflict => (StatusCode::CONFLICT, Some("uniqueness")),
                ErrorKind::ManagedInFile => (StatusCode::CONFLICT, None),
                ErrorKind::Unavailable => unavailable,
            },
            Self::Mgmt(MgmtError::Limited(RateLimitError::Limited(_))) => {
                (StatusCode::TOO_MANY_REQUESTS, None)
            }
            Self::Mgmt(
                MgmtError::Limited(RateLimitError::Store(_))
                | MgmtError::Directory(_)
                | MgmtError::Tenants(_)
                | MgmtError::Store(_),
            ) => unavailable,
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let (status, scim_type) = self.status();
        let code = scim_type.unwrap_or(status.as_str());
        let detail = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(code, reason = %self, "SCIM request failed");
            "A backend is unavailable; try again in a minute.".to_string()
        } else {
            tracing::info!(code, reason = %self, "SCIM request refused");
            self.to_string()
        };
        let body = ErrorBody {
            schemas: [ERROR_SCHEMA],
            status: status.as_str().to_string(),
            scim_type,
            detail,
        };
        let mut res = answer(status, &body);
        match &self {
            Self::Mgmt(MgmtError::Unauthorized(_)) => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Mgmt(MgmtError::Limited(RateLimitError::Limited(r))) => {
                if let Ok(v) = HeaderValue::from_str(&r.seconds().to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            _ => {}
        }
        res
    }
}

/// `body` as `application/scim+json`.
fn answer<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut res = (status, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    res
}

/// A created resource: 201 with its `Location` (RFC 7644 §3.3).
fn created<T: Serialize>(body: &T, location: Option<&str>) -> Response {
    let mut res = answer(StatusCode::CREATED, body);
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// The verified provisioning client of one tenant.
pub struct Provisioner {
    caller: Caller,
    tenant: Arc<Tenant>,
    /// The tenant's SCIM root, for `meta.location`.
    base: String,
}

impl FromRequestParts<SharedState> for Provisioner {
    type Rejection = ScimFailure;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer::authenticate(parts, state).await?;
        if token.scope != Scope::Scim || token.account.is_none() {
            return Err(ScimFailure::NotScim(token.name));
        }
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ScimError::InvalidValue(e.body_text()))?;
        let account = params.get("account").map_or("", String::as_str);
        let caller = Caller(token);
        let tenant = caller.tenant(state, account).await?;
        let base = format!(
            "{}/scim/v2/{}",
            state.config.public_url.as_str().trim_end_matches('/'),
            tenant.account
        );
        Ok(Self {
            caller,
            tenant,
            base,
        })
    }
}
