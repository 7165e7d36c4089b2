//! The discovery documents (RFC 7644 §4) of a tenant's SCIM root, behind the same token
//! check as the resources, and the SCIM 404 of any path that is not served.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;

use super::{Provisioner, ScimFailure, answer};
use crate::scim::ScimError;
use crate::scim::documents;

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(who: Provisioner) -> Response {
    answer(
        StatusCode::OK,
        &documents::service_provider_config(&who.base),
    )
}

/// `GET /ResourceTypes`.
pub async fn resource_types(who: Provisioner) -> Response {
    answer(StatusCode::OK, &documents::resource_types(&who.base))
}

/// `GET /ResourceTypes/{name}`.
pub async fn resource_type(
    who: Provisioner,
    Path((_, name)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    let doc = documents::resource_type(&who.base, &name)
        .ok_or_else(|| ScimError::NotFound(format!("ResourceTypes/{name}")))?;
    Ok(answer(StatusCode::OK, &doc))
}

/// `GET /Schemas`.
pub async fn schemas(who: Provisioner) -> Response {
    answer(StatusCode::OK, &documents::schemas(&who.base))
}

/// `GET /Schemas/{id}`.
pub async fn schema(
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimFailure> {
    let doc = documents::schema(&who.base, &id)
        .ok_or_else(|| ScimError::NotFound(format!("Schemas/{id}")))?;
    Ok(answer(StatusCode::OK, &doc))
}

/// Any other path under a tenant's SCIM root (`/Bulk`, `/Me`): a SCIM 404
/// after the same token check, so a client reads why in its log.
pub async fn unknown(_: Provisioner, Path((_, rest)): Path<(String, String)>) -> ScimFailure {
    ScimError::NotFound(format!("{rest} is not served")).into()
}
