//! The management API's records: the audit log (who changed what, before and after) and a
//! tenant's login traces (its last SSO attempts, for the customer's IdP administrator).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::{MgmtError, MgmtErrorBody, query};
use super::bearer::Caller;
use super::state::SharedState;
use crate::admin::AdminError;
use crate::audit::AuditEvent;
use crate::login::traces::{MAX_TRACES, Trace};

/// Most audit events one answer holds.
const MAX_AUDIT: u32 = 1000;

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
