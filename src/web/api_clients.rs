//! The management API's OAuth / OpenID Connect clients: list, create, read, change,
//! delete, rotate the secret. Thin glue over [`crate::admin::clients`], which checks,
//! applies, records and decides what a token reaches (another account's client answers
//! 404, like an absent one).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::api::{MgmtError, MgmtErrorBody, json_body};
use super::bearer::Caller;
use super::state::SharedState;
use crate::admin::clients::{ClientFields, ManagedClient};

/// The clients a token reaches.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    /// By `client_id`.
    pub clients: Vec<ManagedClient>,
}

/// A client with the secret just generated for it: shown this once, stored only as its
/// hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecret {
    /// The client.
    #[serde(flatten)]
    pub client: ManagedClient,
    /// The new secret, for `client_secret_basic` or `client_secret_post`; absent when none
    /// was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl Caller {
    /// The account this token is bound to; `None`: the operator's, every client.
    fn scope(&self) -> Option<&str> {
        self.0.account.as_deref()
    }
}

/// `GET /api/v1/clients`.
#[utoipa::path(
    get,
    path = "/api/v1/clients",
    tag = "management",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The clients this token reaches (configuration and database)", body = ClientList),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn list_clients(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<ClientList>, MgmtError> {
    let clients = state.client_admin.list(caller.scope()).await?;
    Ok(Json(ClientList { clients }))
}

/// `POST /api/v1/clients`.
#[utoipa::path(
    post,
    path = "/api/v1/clients",
    tag = "management",
    security(("bearer" = [])),
    request_body = ClientFields,
    responses(
        (status = 201, description = "Created; `client_secret` (when asked for) is shown this once", body = ClientWithSecret),
        (status = 400, description = "The client has problems, each listed; nothing was written", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 404, description = "The account is not this token's", body = MgmtErrorBody),
        (status = 409, description = "The client_id is taken (conflict) or the configuration's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn create_client(
    State(state): State<SharedState>,
    caller: Caller,
    body: Result<Json<ClientFields>, JsonRejection>,
) -> Result<(StatusCode, Json<ClientWithSecret>), MgmtError> {
    let fields = json_body(body)?;
    let (client, client_secret) = state
        .client_admin
        .create(&caller.actor(), caller.scope(), fields)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientWithSecret {
            client,
            client_secret,
        }),
    ))
}

/// `GET /api/v1/clients/{client_id}`.
#[utoipa::path(
    get,
    path = "/api/v1/clients/{client_id}",
    tag = "management",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ManagedClient),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 404, description = "No such client, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn get_client(
    State(state): State<SharedState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<ManagedClient>, MgmtError> {
    Ok(Json(
        state.client_admin.get(caller.scope(), &client_id).await?,
    ))
}

/// `PATCH /api/v1/clients/{client_id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/clients/{client_id}",
    tag = "management",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id")),
    request_body(content = Object, description = "A JSON Merge Patch (RFC 7396) of the client's fields (as ClientFields, without secret): null removes a key"),
    responses(
        (status = 200, description = "The changed client", body = ManagedClient),
        (status = 400, description = "The result has problems, each listed; nothing was written", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 404, description = "No such client, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The client is the configuration's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn patch_client(
    State(state): State<SharedState>,
    caller: Caller,
    Path(client_id): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<ManagedClient>, MgmtError> {
    let merge = json_body(body)?;
    Ok(Json(
        state
            .client_admin
            .patch(&caller.actor(), caller.scope(), &client_id, merge)
            .await?,
    ))
}

/// `DELETE /api/v1/clients/{client_id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/clients/{client_id}",
    tag = "management",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Deleted; its token requests are refused from now on"),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 404, description = "No such client, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The client is the configuration's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn delete_client(
    State(state): State<SharedState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<StatusCode, MgmtError> {
    state
        .client_admin
        .delete(&caller.actor(), caller.scope(), &client_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/clients/{client_id}/secret`: rotation.
#[utoipa::path(
    post,
    path = "/api/v1/clients/{client_id}/secret",
    tag = "management",
    security(("bearer" = [])),
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The new secret, shown this once; the old one is refused from now on", body = ClientWithSecret),
        (status = 400, description = "The client cannot hold a secret (it has jwks)", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 404, description = "No such client, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The client is the configuration's (managed_in_file)", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn rotate_secret(
    State(state): State<SharedState>,
    caller: Caller,
    Path(client_id): Path<String>,
) -> Result<Json<ClientWithSecret>, MgmtError> {
    let (client, secret) = state
        .client_admin
        .rotate_secret(&caller.actor(), caller.scope(), &client_id)
        .await?;
    Ok(Json(ClientWithSecret {
        client,
        client_secret: Some(secret),
    }))
}
