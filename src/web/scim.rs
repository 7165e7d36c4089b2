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

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::api::MgmtError;
use super::bearer::{self, Caller};
use super::state::SharedState;
use crate::accounts::{NewUser, Origin, Status, User, UserQuery};
use crate::admin::{self, AdminError, ErrorKind, Group, GroupPatch, Scope, UserPatch};
use crate::discovery::{Email, Tenant};
use crate::scim::documents::{self, MAX_RESULTS};
use crate::scim::error::{ERROR_SCHEMA, ErrorBody};
use crate::scim::resource::{self, GROUP_SCHEMA};
use crate::scim::{Filter, Lookup, Page, Patch, ScimError, ScimGroup, ScimUser, UserFacts};
use crate::session::rate_limit::RateLimitError;

/// The media type of every SCIM answer (RFC 7644 §3.1).
const SCIM_JSON: &str = "application/scim+json";

/// Most users or groups a filter the store cannot answer by an index may scan: such a
/// filter is evaluated over every resource of the account, so it is bounded like the
/// filter itself.
const MAX_SCAN: u64 = 10_000;

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

/// The query of a list or a read (RFC 7644 §3.4.2); a read takes only the attribute
/// selection.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListQuery {
    /// `resource` with only the attributes asked for (RFC 7644 §3.4.2.5): `attributes`
    /// keeps the named ones, `excludedAttributes` drops them; `id` and `schemas` are
    /// always returned. Names are case-insensitive; `name.givenName` selects within
    /// `name`.
    fn project<T: Serialize>(&self, resource: &T) -> Value {
        let mut v = serde_json::to_value(resource).unwrap_or(Value::Null);
        let Value::Object(map) = &mut v else {
            return v;
        };
        let names = |list: &Option<String>| -> Vec<(String, Option<String>)> {
            list.iter()
                .flat_map(|l| l.split(','))
                .map(|n| {
                    let n = n.trim().to_ascii_lowercase();
                    let n = n
                        .rsplit_once(':')
                        .map_or(n.as_str(), |(_, a)| a)
                        .to_string();
                    match n.split_once('.') {
                        Some((a, sub)) => (a.to_string(), Some(sub.to_string())),
                        None => (n, None),
                    }
                })
                .filter(|(a, _)| !a.is_empty())
                .collect()
        };
        let always = |k: &str| k == "id" || k == "schemas";
        let wanted = names(&self.attributes);
        if !wanted.is_empty() {
            map.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                always(&k) || wanted.iter().any(|(a, _)| *a == k)
            });
        }
        for (attr, sub) in names(&self.excluded_attributes) {
            let key = map.keys().find(|k| k.eq_ignore_ascii_case(&attr)).cloned();
            let Some(key) = key.filter(|k| !always(k)) else {
                continue;
            };
            match (sub, map.get_mut(&key)) {
                (None, _) => {
                    map.remove(&key);
                }
                (Some(sub), Some(Value::Object(inner))) => {
                    inner.retain(|k, _| !k.eq_ignore_ascii_case(&sub));
                }
                _ => {}
            }
        }
        v
    }

    /// The envelope of `page` with each resource projected.
    fn listed<T: Serialize>(&self, list: resource::ListResponse<T>) -> Response {
        let resources: Vec<Value> = list.resources.iter().map(|r| self.project(r)).collect();
        answer(
            StatusCode::OK,
            &resource::ListResponse {
                schemas: list.schemas,
                total_results: list.total_results,
                start_index: list.start_index,
                items_per_page: list.items_per_page,
                resources,
            },
        )
    }
}

fn list_query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, ScimFailure> {
    q.map(|Query(q)| q)
        .map_err(|e| ScimError::InvalidValue(e.body_text()).into())
}

/// The SCIM view of a stored user. A Waiting Room user is not `active`: Entra shows them
/// as not yet enabled. realmgate keeps no change time of a user, so `meta.lastModified`
/// is the creation time.
fn user_view(u: &User, base: &str) -> ScimUser {
    ScimUser::from_facts(
        &UserFacts {
            id: u.id.to_string(),
            email: u.email.as_str().to_string(),
            name: u.name.clone(),
            active: u.status == Status::Active,
            external_id: u.external_id.clone(),
            created: u.created_at,
            last_modified: u.created_at,
        },
        base,
    )
}

fn user_id(id: &str) -> Result<i64, ScimError> {
    id.parse()
        .map_err(|_| ScimError::NotFound(format!("Users/{id}")))
}

/// `userName` as a login address: the tenant's domain rule is the user operations'.
fn user_name(text: &str) -> Result<Email, ScimError> {
    Email::parse(text).map_err(|e| {
        ScimError::InvalidValue(format!("userName {text:?} is not an email address: {e}"))
    })
}

/// `GET /Users`: `userName eq` and `externalId eq` are answered by the store's indexes,
/// other filters by a scan of at most [`MAX_SCAN`] users.
pub async fn list_users(
    State(state): State<SharedState>,
    who: Provisioner,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let page = Page::new(q.start_index, q.count, MAX_RESULTS);
    let filter = q.filter.as_deref().map(Filter::parse).transpose()?;
    let users = &state.admin.users;
    let account = &who.tenant.account;
    let mut query = UserQuery {
        limit: page.count.try_into().unwrap_or(u32::MAX),
        offset: (page.start_index - 1).try_into().unwrap_or(u64::MAX),
        ..UserQuery::default()
    };
    match filter.as_ref().map(|f| (f, f.lookup())) {
        Some((_, Some(Lookup::UserName(name)))) => match Email::parse(name) {
            Ok(email) => query.email = Some(email),
            Err(_) => return Ok(q.listed(page.envelope(0, Vec::<ScimUser>::new()))),
        },
        Some((_, Some(Lookup::ExternalId(id)))) => query.external_id = Some(id.to_string()),
        Some((f, None)) => {
            let mut matches = Vec::new();
            let mut scan = UserQuery {
                limit: admin::users::MAX_PAGE,
                ..UserQuery::default()
            };
            loop {
                let found = users.list(account, &scan).await?;
                if found.total > MAX_SCAN {
                    return Err(ScimError::TooMany(format!(
                        "this filter is evaluated over every user and the account has more \
                         than {MAX_SCAN}: filter by userName eq or externalId eq"
                    ))
                    .into());
                }
                let n = found.users.len() as u64;
                matches.extend(
                    found
                        .users
                        .iter()
                        .map(|u| user_view(u, &who.base))
                        .filter(|v| serde_json::to_value(v).is_ok_and(|j| f.matches(&j))),
                );
                scan.offset += n;
                if n == 0 || scan.offset >= found.total {
                    break;
                }
            }
            return Ok(q.listed(page.list(&matches)));
        }
        None => {}
    }
    let found = users.list(account, &query).await?;
    let views = found
        .users
        .iter()
        .map(|u| user_view(u, &who.base))
        .collect();
    Ok(q.listed(page.envelope(found.total.try_into().unwrap_or(usize::MAX), views)))
}

/// `POST /Users`: a pre-provisioned user, who is bound to the IdP subject at their first
/// SSO login as any user made by hand.
pub async fn create_user(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let change = ScimUser::parse_new(&body)?.facts_change();
    let users = &state.admin.users;
    let actor = who.caller.actor();
    let account = &who.tenant.account;
    if let Some(external_id) = &change.external_id {
        external_id_free(&state, account, external_id, None).await?;
    }
    let mut new = NewUser::new(account, user_name(&change.email)?, Origin::Cli, Utc::now());
    new.name = change.name;
    if !change.active {
        new.status = Status::Disabled;
    }
    let mut user = users.create(&actor, &who.tenant, new, None).await?;
    if change.external_id.is_some() {
        let patch = UserPatch {
            external_id: Some(change.external_id),
            ..UserPatch::default()
        };
        user = match users.patch(&actor, account, user.id, &patch).await {
            Ok(user) => user,
            Err(e) => {
                // Another request took the externalId since the check: undo the create
                // so a retry of this one can succeed.
                users.delete(&actor, account, user.id).await?;
                return Err(e.into());
            }
        };
    }
    let view = user_view(&user, &who.base);
    let location = view.meta.as_ref().and_then(|m| m.location.clone());
    Ok(created(&view, location.as_deref()))
}

/// 409 `uniqueness` when a user of `account` other than `except` has `external_id`.
async fn external_id_free(
    state: &SharedState,
    account: &str,
    external_id: &str,
    except: Option<i64>,
) -> Result<(), ScimFailure> {
    let query = UserQuery {
        external_id: Some(external_id.to_string()),
        limit: 2,
        ..UserQuery::default()
    };
    let found = state.admin.users.list(account, &query).await?;
    if found.users.iter().any(|u| Some(u.id) != except) {
        return Err(ScimError::Uniqueness(format!("externalId {external_id:?}")).into());
    }
    Ok(())
}

/// `GET /Users/{id}`.
pub async fn get_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let user = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    Ok(answer(
        StatusCode::OK,
        &q.project(&user_view(&user, &who.base)),
    ))
}

/// `PUT /Users/{id}`: the whole user as sent.
pub async fn put_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let target = ScimUser::parse_new(&body)?;
    let before = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    write_user(&state, &who, before, target).await
}

/// `PATCH /Users/{id}`, in Entra's shapes as the core accepts them.
pub async fn patch_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let patch = Patch::parse(&body)?;
    let before = state
        .admin
        .users
        .get(&who.tenant.account, user_id(&id)?)
        .await?;
    let target = patch.apply_user(user_view(&before, &who.base))?.checked()?;
    write_user(&state, &who, before, target).await
}

/// Makes `before` what `target` says, through the user operations. `active: true` on a
/// Waiting Room user approves them: Entra provisions a person because the customer's
/// administrator assigned them to the app, which is the approval the Waiting Room waits
/// for. `active: false` disables a waiting or active user.
async fn write_user(
    state: &SharedState,
    who: &Provisioner,
    before: User,
    target: ScimUser,
) -> Result<Response, ScimFailure> {
    let change = target.facts_change();
    if !change.email.eq_ignore_ascii_case(before.email.as_str()) {
        return Err(ScimError::Mutability(
            "userName is the login address and cannot change: delete the user and create one"
                .into(),
        )
        .into());
    }
    let users = &state.admin.users;
    let actor = who.caller.actor();
    let account = &who.tenant.account;
    let mut patch = UserPatch::default();
    if change.name != before.name {
        patch.name = Some(change.name);
    }
    if change.external_id != before.external_id {
        if let Some(external_id) = &change.external_id {
            external_id_free(state, account, external_id, Some(before.id)).await?;
        }
        patch.external_id = Some(change.external_id);
    }
    let approve = change.active && before.status == Status::Waiting;
    match (change.active, before.status) {
        (true, Status::Disabled) => patch.status = Some(Status::Active),
        (false, Status::Active | Status::Waiting) => patch.status = Some(Status::Disabled),
        _ => {}
    }
    let mut after = before;
    if patch.name.is_some() || patch.external_id.is_some() || patch.status.is_some() {
        after = users.patch(&actor, account, after.id, &patch).await?;
    }
    if approve {
        after = users.approve(&actor, account, after.id).await?;
    }
    state.forget_user_status(after.id).await;
    Ok(answer(StatusCode::OK, &user_view(&after, &who.base)))
}

/// `DELETE /Users/{id}`.
pub async fn delete_user(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimFailure> {
    let id = user_id(&id)?;
    state
        .admin
        .users
        .delete(&who.caller.actor(), &who.tenant.account, id)
        .await?;
    state.forget_user_status(id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The SCIM view of a stored group.
fn group_view(g: &Group, base: &str) -> ScimGroup {
    ScimGroup {
        schemas: vec![GROUP_SCHEMA.into()],
        id: None,
        external_id: g.external_id.clone(),
        display_name: g.display_name.clone(),
        members: g
            .members
            .iter()
            .map(|m| resource::Member {
                value: m.value.clone(),
                display: m.display.clone(),
            })
            .collect(),
        meta: None,
    }
    .stored(&g.id, base, g.created_at, g.updated_at)
}

fn members(group: &ScimGroup) -> Vec<admin::Member> {
    group
        .members
        .iter()
        .map(|m| admin::Member {
            value: m.value.clone(),
            display: m.display.clone(),
        })
        .collect()
}

/// `GET /Groups`: without a filter paged by the store; with one, a scan of at most
/// [`MAX_SCAN`] groups (Entra asks `displayName eq` before creating a group).
pub async fn list_groups(
    State(state): State<SharedState>,
    who: Provisioner,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let page = Page::new(q.start_index, q.count, MAX_RESULTS);
    let groups = &state.admin.groups;
    let account = &who.tenant.account;
    let Some(filter) = q.filter.as_deref().map(Filter::parse).transpose()? else {
        let (found, total) = groups
            .list(
                account,
                None,
                page.count.try_into().unwrap_or(u32::MAX),
                (page.start_index - 1).try_into().unwrap_or(u64::MAX),
            )
            .await?;
        let views = found.iter().map(|g| group_view(g, &who.base)).collect();
        return Ok(q.listed(page.envelope(total.try_into().unwrap_or(usize::MAX), views)));
    };
    let mut matches = Vec::new();
    let mut offset = 0;
    loop {
        let (found, total) = groups
            .list(account, None, admin::groups::MAX_PAGE, offset)
            .await?;
        if total > MAX_SCAN {
            return Err(ScimError::TooMany(format!(
                "the account has more than {MAX_SCAN} groups to filter"
            ))
            .into());
        }
        let n = found.len() as u64;
        matches.extend(
            found
                .iter()
                .map(|g| group_view(g, &who.base))
                .filter(|v| serde_json::to_value(v).is_ok_and(|j| filter.matches(&j))),
        );
        offset += n;
        if n == 0 || offset >= total {
            break;
        }
    }
    Ok(q.listed(page.list(&matches)))
}

/// `POST /Groups`.
pub async fn create_group(
    State(state): State<SharedState>,
    who: Provisioner,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let group = ScimGroup::parse_new(&body)?;
    let stored = state
        .admin
        .groups
        .create(
            &who.caller.actor(),
            &who.tenant.account,
            &group.display_name,
            group.external_id.as_deref(),
            members(&group),
        )
        .await?;
    let view = group_view(&stored, &who.base);
    let location = view.meta.as_ref().and_then(|m| m.location.clone());
    Ok(created(&view, location.as_deref()))
}

/// `GET /Groups/{id}`.
pub async fn get_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ScimFailure> {
    let q = list_query(q)?;
    let group = state.admin.groups.get(&who.tenant.account, &id).await?;
    Ok(answer(
        StatusCode::OK,
        &q.project(&group_view(&group, &who.base)),
    ))
}

/// `PUT /Groups/{id}`: the whole group as sent.
pub async fn put_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let target = ScimGroup::parse_new(&body)?;
    write_group(&state, &who, &id, target).await
}

/// `PATCH /Groups/{id}`: Entra's member additions and removals.
pub async fn patch_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ScimFailure> {
    let patch = Patch::parse(&body)?;
    let before = state.admin.groups.get(&who.tenant.account, &id).await?;
    let target = patch
        .apply_group(group_view(&before, &who.base))?
        .checked()?;
    write_group(&state, &who, &id, target).await
}

async fn write_group(
    state: &SharedState,
    who: &Provisioner,
    id: &str,
    target: ScimGroup,
) -> Result<Response, ScimFailure> {
    let patch = GroupPatch {
        display_name: Some(target.display_name.clone()),
        external_id: Some(target.external_id.clone()),
        members: Some(members(&target)),
        ..GroupPatch::default()
    };
    let after = state
        .admin
        .groups
        .patch(&who.caller.actor(), &who.tenant.account, id, &patch)
        .await?;
    Ok(answer(StatusCode::OK, &group_view(&after, &who.base)))
}

/// `DELETE /Groups/{id}`.
pub async fn delete_group(
    State(state): State<SharedState>,
    who: Provisioner,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode, ScimFailure> {
    state
        .admin
        .groups
        .delete(&who.caller.actor(), &who.tenant.account, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

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

/// Any other path under a tenant's SCIM root (`/.search`, `/Bulk`, `/Me`): a SCIM 404
/// after the same token check, so a client reads why in its log.
pub async fn unknown(_: Provisioner, Path((_, rest)): Path<(String, String)>) -> ScimFailure {
    ScimError::NotFound(format!("{rest} is not served")).into()
}
