//! The management API's user routes: list, create, read, change and remove the users of
//! one account. Thin glue over [`crate::admin::Users`], which decides and records every
//! change; a route of an account the token does not reach answers 404.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{MgmtError, MgmtErrorBody, json_body, query};
use super::bearer::Caller;
use super::state::SharedState;
use crate::accounts::{NewUser, Origin, Status, User, UserQuery};
use crate::admin::UserPatch;
use crate::discovery::Email;

/// A user as the API shows it: never a password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// Id, unique across accounts.
    pub id: i64,
    /// The tenant.
    pub account: String,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `waiting`, `active` or `disabled`.
    pub status: &'static str,
    /// Administrator of the account.
    pub admin: bool,
    /// How the user was made: `cli`, `import`, `jit` (at a first SSO login), `api` or
    /// `scim`.
    pub origin: &'static str,
    /// The provisioning id, if any.
    pub external_id: Option<String>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last login.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            account: u.account,
            email: u.email.as_str().to_string(),
            name: u.name,
            status: u.status.as_str(),
            admin: u.admin,
            origin: u.origin.as_str(),
            external_id: u.external_id,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// The page, by email.
    pub users: Vec<UserBody>,
    /// How many match in all.
    pub total: u64,
}

/// The filters of a user listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only users in this status.
    #[param(inline, value_type = Option<StatusParam>)]
    pub status: Option<String>,
    /// Only the user with this email.
    pub email: Option<String>,
    /// At most this many (default and maximum 500).
    #[param(minimum = 0)]
    pub limit: Option<u32>,
    /// Skipping this many.
    #[param(minimum = 0)]
    pub offset: Option<u64>,
}

/// A user status, as a query parameter takes it.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema: never constructed, only described
pub enum StatusParam {
    /// Waiting Room.
    Waiting,
    /// May log in.
    Active,
    /// Refused.
    Disabled,
}

pub(super) fn status(text: &str) -> Result<Status, MgmtError> {
    text.parse::<Status>().map_err(|_| {
        MgmtError::BadRequest(format!("status {text:?}: use waiting, active or disabled"))
    })
}

pub(super) fn email(text: &str) -> Result<Email, MgmtError> {
    Email::parse(text).map_err(|e| MgmtError::BadRequest(format!("email {text:?}: {e}")))
}

/// `GET /api/v1/tenants/{account}/users`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}/users",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account"), UserFilter),
    responses(
        (status = 200, description = "One page of users", body = UserList),
        (status = 400, description = "A bad filter", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn list_users(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    filter: Result<Query<UserFilter>, QueryRejection>,
) -> Result<Json<UserList>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let filter = query(filter)?;
    let q = UserQuery {
        status: filter.status.as_deref().map(status).transpose()?,
        email: filter.email.as_deref().map(email).transpose()?,
        limit: filter.limit.unwrap_or(crate::admin::users::MAX_PAGE),
        offset: filter.offset.unwrap_or(0),
        ..UserQuery::default()
    };
    let page = state.admin.users.list(&tenant.account, &q).await?;
    Ok(Json(UserList {
        users: page.users.into_iter().map(UserBody::from).collect(),
        total: page.total,
    }))
}

/// A new user: signs in by SSO or is invited; no password through the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Address; of the tenant's domains.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Administrator of the account.
    #[serde(default)]
    pub admin: bool,
}

/// `POST /api/v1/tenants/{account}/users`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{account}/users",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created, active", body = UserBody),
        (status = 400, description = "A bad body or an address outside the tenant's domains", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 409, description = "The email is taken", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    body: Result<Json<NewUserBody>, JsonRejection>,
) -> Result<(StatusCode, Json<UserBody>), MgmtError> {
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
    let user = state
        .admin
        .users
        .create(&caller.actor(), &tenant, new, None)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The path of one user.
pub(super) type UserPath = Path<(String, i64)>;

/// `GET /api/v1/tenants/{account}/users/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}/users/{id}",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such user in this account", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn get_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, id)): UserPath,
) -> Result<Json<UserBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    Ok(Json(
        state.admin.users.get(&tenant.account, id).await?.into(),
    ))
}

/// A change of one user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchBody {
    /// `active` or `disabled`; disabling ends the user's sessions and refresh tokens.
    #[schema(value_type = Option<StatusParam>)]
    pub status: Option<String>,
    /// Administrator of the account.
    pub admin: Option<bool>,
    /// Display name.
    pub name: Option<String>,
}

/// `PATCH /api/v1/tenants/{account}/users/{id}`.
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{account}/users/{id}",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("id" = i64, Path, description = "The user's id"),
    ),
    request_body = UserPatchBody,
    responses(
        (status = 200, description = "The changed user", body = UserBody),
        (status = 400, description = "A bad body", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such user in this account", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn patch_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, id)): UserPath,
    body: Result<Json<UserPatchBody>, JsonRejection>,
) -> Result<Json<UserBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let body = json_body(body)?;
    let patch = UserPatch {
        status: body.status.as_deref().map(status).transpose()?,
        admin: body.admin,
        name: body.name,
        ..UserPatch::default()
    };
    let user = state
        .admin
        .users
        .patch(&caller.actor(), &tenant.account, id, &patch)
        .await?;
    state.forget_user_status(id).await;
    Ok(Json(user.into()))
}

/// `DELETE /api/v1/tenants/{account}/users/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{account}/users/{id}",
    tag = "management",
    security(("bearer" = [])),
    params(
        ("account" = String, Path, description = "The tenant's account"),
        ("id" = i64, Path, description = "The user's id"),
    ),
    responses(
        (status = 204, description = "Removed; the user's sessions end"),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such user in this account", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn delete_user(
    State(state): State<SharedState>,
    caller: Caller,
    Path((account, id)): UserPath,
) -> Result<StatusCode, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    state
        .admin
        .users
        .delete(&caller.actor(), &tenant.account, id)
        .await?;
    state.forget_user_status(id).await;
    Ok(StatusCode::NO_CONTENT)
}
