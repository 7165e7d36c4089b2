//! The management API's ways into an account: the Waiting Room decisions (approve, deny
//! with a reason), invitations (the user is created without a password and mailed where
//! to sign in, or a set-password link), and the CLI's CSV import. The same operations of
//! [`crate::admin::Users`] the console's buttons call, each recorded in the audit log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::{MgmtError, MgmtErrorBody, json_body};
use super::api_users::{UserBody, UserPath, email};
use super::bearer::Caller;
use super::state::SharedState;
use crate::accounts::{AccountsError, NewUser, Origin};
use crate::discovery::Email;
use crate::i18n::Lang;

/// `POST /api/v1/tenants/{account}/users/{id}/approve`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/users/{id}/approve",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 200, description = "The user, now active", body = UserBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such user in this account", body = MgmtErrorBody),
        (status = 409, description = "The user is disabled, not waiting", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn approve_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, id)): UserPath,
) -> Result<Json<UserBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let user = state
        .admin
        .users
        .approve(&caller.actor(), &tenant.account, id)
        .await?;
    Ok(Json(user.into()))
}

/// Why a user of the Waiting Room is turned away; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    /// Kept in the audit log and mailed to the person (at most 500 characters).
    pub reason: Option<String>,
}

/// `POST /api/v1/tenants/{account}/users/{id}/deny`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/users/{id}/deny",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("id" = i64, Path, description = "The user's id"),
    ),
    request_body(content = Option<DenyBody>, description = "An optional reason; no body denies without one"),
    responses(
        (status = 200, description = "The user, now disabled (the next SSO login does not queue them again); they are mailed the decision", body = UserBody),
        (status = 400, description = "A bad body, or a reason that is too long", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such user in this account", body = MgmtErrorBody),
        (status = 409, description = "The user is not waiting", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn deny_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, id)): UserPath,
    body: Bytes,
) -> Result<Json<UserBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let body: DenyBody = if body.iter().all(u8::is_ascii_whitespace) {
        DenyBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| MgmtError::BadRequest(format!("the body: {e}")))?
    };
    let user = state
        .admin
        .users
        .deny(&caller.actor(), &tenant.account, id, body.reason.as_deref())
        .await?;
    state.forget_user_status(id).await;
    Ok(Json(user.into()))
}

/// Who to invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Address; of the tenant's domains.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Administrator of the account (a new user only).
    #[serde(default)]
    pub admin: bool,
}

/// `POST /api/v1/tenants/{account}/users/invite`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/users/invite",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("Accept-Language" = Option<String>, Header, description = "The language of the invitation (English by default)"),
    ),
    request_body = InviteBody,
    responses(
        (status = 200, description = "The user, created without a password if new (an existing user is sent a new invitation and left as is); the invitation is mailed: where to sign in for an SSO tenant, a set-password link valid 7 days otherwise", body = UserBody),
        (status = 400, description = "A bad body or an address outside the tenant's domains", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The user is disabled", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn invite_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Result<Json<InviteBody>, JsonRejection>,
) -> Result<Json<UserBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let body = json_body(body)?;
    let mut new = NewUser::new(
        &tenant.account,
        email(&body.email)?,
        Origin::Api,
        Utc::now(),
    );
    new.name = body.name;
    new.admin = body.admin;
    let lang = Lang::negotiate(
        None,
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        state.config.default_language,
    );
    let user = state
        .admin
        .users
        .invite(&caller.actor(), &tenant, new, lang)
        .await?;
    Ok(Json(user.into()))
}

/// What an import did, line by line for the rejected rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// Users created.
    pub created: usize,
    /// Users whose name or admin flag changed.
    pub updated: usize,
    /// Users already as in the file.
    pub unchanged: usize,
    /// One `line N: reason` per rejected row.
    pub errors: Vec<String>,
}

/// `POST /api/v1/tenants/{account}/users/import`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/users/import",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    request_body(content = String, content_type = "text/csv", description = "The CLI's CSV: columns email, name, admin (account, if present, must be this one)"),
    responses(
        (status = 200, description = "The per-line report", body = ImportReport),
        (status = 400, description = "Not a readable CSV", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn import_users(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    body: Bytes,
) -> Result<Json<ImportReport>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        MgmtError::Admin(AccountsError::Import("the CSV is not UTF-8".into()).into())
    })?;
    let owner = |e: &Email| {
        tenant
            .owns_domain(e.domain())
            .then(|| tenant.account.clone())
    };
    let summary = state
        .admin
        .users
        .import(&caller.actor(), "api", text, &owner, Some(&tenant.account))
        .await?;
    Ok(Json(ImportReport {
        created: summary.created,
        updated: summary.updated,
        unchanged: summary.unchanged,
        errors: summary.errors,
    }))
}
