//! The management API's tenant (read-only), user and audit routes: thin glue over
//! [`crate::admin`], which decides and records every change. The caller is a [`Caller`]
//! (`super::bearer`); a route of an account the token does not reach answers 404.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::bearer::Caller;
use super::state::SharedState;
use crate::accounts::{AccountsError, NewUser, Origin, Status, User, UserQuery};
use crate::admin::{AdminError, ErrorKind, UserPatch};
use crate::audit::AuditEvent;
use crate::discovery::tenant::{JitPolicy, LoginHint, Protocol, TenantOrigin};
use crate::discovery::{DirectoryError, Email, Tenant};
use crate::login::traces::{MAX_TRACES, Trace};
use crate::session::StoreError;
use crate::session::rate_limit::RateLimitError;

/// Most audit events one answer holds.
const MAX_AUDIT: u32 = 1000;

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

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, MgmtError> {
    q.map(|Query(q)| q)
        .map_err(|e| MgmtError::BadRequest(e.body_text()))
}

/// A tenant as the API shows it: the fields of a tenant file plus where it lives.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBody {
    /// URL slug.
    pub account: String,
    /// Display name.
    pub name: String,
    /// Email domains.
    pub domains: Vec<String>,
    /// Whether subdomains of `domains` belong to the tenant.
    pub include_subdomains: bool,
    /// Region, when not this gateway's.
    pub region: Option<String>,
    /// Single sign-on; absent for password login.
    pub sso: Option<SsoBody>,
    /// `file` (operator-managed, read-only here) or `database`.
    pub source: &'static str,
}

/// A tenant's `[sso]` table.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoBody {
    /// `saml2`, `wsfed` or `oidc`.
    pub protocol: &'static str,
    /// The sign-in button's text.
    pub button: String,
    /// The IdP's entity ID, when given by hand.
    pub issuer: Option<String>,
    /// The IdP's sign-in URL, when given by hand.
    pub sso_url: Option<String>,
    /// Signing certificates (PEM or base64), when given by hand.
    pub certificate: Vec<String>,
    /// The WS-Federation sign-in URL, when given by hand (`wsfed`).
    pub wsfed_url: Option<String>,
    /// The AD FS WS-Trust endpoint devices sign in through (`wsfed`).
    pub wstrust_url: Option<String>,
    /// Where the metadata is fetched from.
    pub idp_metadata_url: Option<String>,
    /// Whether AuthnRequests are signed.
    pub sign_requests: bool,
    /// Whether IdP-initiated logins are accepted.
    pub allow_idp_initiated: bool,
    /// `deny`, `waiting_room` or `create`.
    pub jit: &'static str,
    /// The attribute carrying the email.
    pub email_claim: Option<String>,
    /// `query`, `subject` or `none`.
    pub login_hint: &'static str,
    /// Whether the account page goes straight to the IdP.
    pub auto_redirect: bool,
    /// OpenID Connect: where the provider's configuration is, when not beside `issuer`.
    pub discovery_url: Option<String>,
    /// OpenID Connect: our client ID at the provider.
    pub client_id: Option<String>,
    /// OpenID Connect: `client_secret_basic` or `private_key_jwt` (the secret or key
    /// itself is never shown).
    pub client_auth: Option<&'static str>,
    /// OpenID Connect: scopes requested besides `openid`.
    pub scopes: Option<Vec<String>>,
    /// OpenID Connect: Entra's `domain_hint`.
    pub domain_hint: Option<String>,
}

pub(super) fn tenant_body(t: &Tenant) -> TenantBody {
    TenantBody {
        account: t.account.clone(),
        name: t.name.clone(),
        domains: t.domains.clone(),
        include_subdomains: t.include_subdomains,
        region: t.region.clone(),
        sso: t.sso.as_ref().map(|s| SsoBody {
            protocol: s.protocol.as_str(),
            button: s.button.clone(),
            issuer: s.issuer.clone(),
            sso_url: s.sso_url.as_ref().map(ToString::to_string),
            certificate: s.certificate.clone(),
            wsfed_url: s.wsfed_url.as_ref().map(ToString::to_string),
            wstrust_url: s.wstrust_url.as_ref().map(ToString::to_string),
            idp_metadata_url: s.idp_metadata_url.as_ref().map(ToString::to_string),
            sign_requests: s.sign_requests,
            allow_idp_initiated: s.allow_idp_initiated,
            jit: match s.jit {
                JitPolicy::Deny => "deny",
                JitPolicy::WaitingRoom => "waiting_room",
                JitPolicy::Create => "create",
            },
            email_claim: s.email_claim.clone(),
            login_hint: match s.login_hint {
                LoginHint::Query => "query",
                LoginHint::Subject => "subject",
                LoginHint::None => "none",
            },
            auto_redirect: s.auto_redirect,
            discovery_url: s.discovery_url.as_ref().map(ToString::to_string),
            client_id: s.client_id.clone(),
            client_auth: match (&s.client_secret, &s.client_key) {
                (Some(_), _) => Some("client_secret_basic"),
                (None, Some(_)) => Some("private_key_jwt"),
                (None, None) => None,
            },
            scopes: (s.protocol == Protocol::Oidc).then(|| s.scopes.clone()),
            domain_hint: s.domain_hint.clone(),
        }),
        source: match t.origin {
            TenantOrigin::File => "file",
            TenantOrigin::Import | TenantOrigin::Api => "database",
        },
    }
}

/// The tenants the caller may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    /// By account.
    pub tenants: Vec<TenantBody>,
}

/// `GET /api/v1/tenants`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "management",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenants this token reaches", body = TenantList),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 403, description = "Not an admin token", body = MgmtErrorBody),
        (status = 429, description = "Too many failed token lookups", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn list_tenants(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<TenantList>, MgmtError> {
    let tenants = state
        .tenant_admin
        .list()
        .await?
        .iter()
        .filter(|t| caller.reaches(&t.account))
        .map(|t| tenant_body(t))
        .collect();
    Ok(Json(TenantList { tenants }))
}

/// `GET /api/v1/tenants/{account}`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account")),
    responses(
        (status = 200, description = "The tenant", body = TenantBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn get_tenant(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
) -> Result<Json<TenantBody>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    Ok(Json(tenant_body(&tenant)))
}

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

fn status(text: &str) -> Result<Status, MgmtError> {
    text.parse::<Status>().map_err(|_| {
        MgmtError::BadRequest(format!("status {text:?}: use waiting, active or disabled"))
    })
}

fn email(text: &str) -> Result<Email, MgmtError> {
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
type UserPath = Path<(String, i64)>;

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

/// The filters of an audit listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this account's events (an account token: its own, whether given or not).
    pub account: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
    /// At most this many (default and maximum 1000).
    #[param(minimum = 0)]
    pub limit: Option<u32>,
}

/// An audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditBody {
    /// Order of recording.
    pub id: i64,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Who: a token's name, `cli`, or `user:EMAIL`.
    pub actor: String,
    /// The tenant, if any.
    pub account: Option<String>,
    /// What, e.g. `user_added`.
    pub action: String,
    /// On what.
    pub target: String,
    /// The state before a change.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The state after a change.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<AuditEvent> for AuditBody {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            at: e.at,
            actor: e.actor,
            account: e.account,
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
        }
    }
}

/// Audit events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// The events.
    pub events: Vec<AuditBody>,
}

/// `GET /api/v1/audit`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "management",
    security(("bearer" = [])),
    params(AuditFilter),
    responses(
        (status = 200, description = "Audit events, oldest first", body = AuditList),
        (status = 400, description = "A bad filter", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "An account this token does not reach", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn audit(
    State(state): State<SharedState>,
    caller: Caller,
    filter: Result<Query<AuditFilter>, QueryRejection>,
) -> Result<Json<AuditList>, MgmtError> {
    let filter = query(filter)?;
    let account = match (&caller.0.account, filter.account) {
        (Some(own), None) => Some(own.clone()),
        // The operator's token reads the events of any account, deleted ones included.
        (None, Some(asked)) => Some(asked),
        (Some(_), Some(asked)) => Some(caller.tenant(&state, &asked).await?.account.clone()),
        (None, None) => None,
    };
    let since = filter
        .since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| MgmtError::BadRequest(format!("since {s:?}: {e}")))
        })
        .transpose()?;
    let limit = filter.limit.unwrap_or(MAX_AUDIT).min(MAX_AUDIT);
    let events = state
        .admin
        .audit
        .list(account.as_deref(), since, limit)
        .await
        .map_err(AdminError::from)?;
    Ok(Json(AuditList {
        events: events.into_iter().map(AuditBody::from).collect(),
    }))
}

/// How many login traces to show.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceFilter {
    /// At most this many, newest first (default and maximum 200).
    #[param(minimum = 0)]
    pub limit: Option<u32>,
}

/// A tenant's last SSO attempts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceList {
    /// The attempts of the last 7 days, newest first.
    pub traces: Vec<Trace>,
}

/// `GET /api/v1/tenants/{account}/login-traces`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{account}/login-traces",
    tag = "management",
    security(("bearer" = [])),
    params(("account" = String, Path, description = "The tenant's account"), TraceFilter),
    responses(
        (status = 200, description = "The tenant's last SSO attempts", body = TraceList),
        (status = 400, description = "A bad limit", body = MgmtErrorBody),
        (status = 401, description = "No valid token", body = MgmtErrorBody),
        (status = 404, description = "No such account, or not this token's", body = MgmtErrorBody),
        (status = 503, description = "A backend is down", body = MgmtErrorBody),
    )
)]
pub async fn login_traces(
    State(state): State<SharedState>,
    caller: Caller,
    Path(account): Path<String>,
    filter: Result<Query<TraceFilter>, QueryRejection>,
) -> Result<Json<TraceList>, MgmtError> {
    let tenant = caller.tenant(&state, &account).await?;
    let filter = query(filter)?;
    let limit = filter
        .limit
        .map_or(MAX_TRACES, |l| (l as usize).min(MAX_TRACES));
    let traces = state
        .login
        .traces
        .list(&tenant.account, limit, Utc::now())
        .await?;
    Ok(Json(TraceList { traces }))
}
